/**
 * Softmax rows in WebAssembly SIMD on the CPU backend's heap memory (heap.ts), split over
 * parallel.ts's workers by blocks of rows: Softmax, LogSoftmax and the softmax of the two
 * cross-entropy kernels (kernels/nn.ts), whose TypeScript loops call Math.exp per element (a
 * language model's logits, rows of a 10,000-word vocabulary, spent most of their time there).
 * Each row: its max m, s = the float64 sum of exp(x - m) (even elements in one lane, odd ones in
 * the other, then the two lanes), and out = exp(x - m) / s, x - m - log s, or exp(x - m - log s),
 * in float64 lanes (wasm.ts's exp and log) rounded once to float32: the TypeScript loops' values
 * within an ulp (their exp and summation order differ), the same bits whatever the threads.
 */
import { heapAddress, heapAlloc, heapBuffer, heapFree, heapMemory } from './heap.js';
import { CallList, sharedModule, type SharedModule } from './parallel.js';
import {
  BR_IF,
  emitExp64,
  emitLog64,
  END,
  F32,
  F32_LOAD,
  F32_MAX,
  F32_STORE,
  F32X4_DEMOTE_F64X2_ZERO,
  F32X4_EXTRACT_LANE,
  F64_ADD,
  F64X2_ADD,
  F64X2_EXTRACT_LANE,
  F64X2_MUL,
  F64X2_PROMOTE_LOW_F32X4,
  F64X2_SPLAT,
  F64X2_SUB,
  f32Const,
  FunctionBuilder,
  get,
  I32,
  I32_ADD,
  I32_LT_U,
  i32Const,
  IF,
  LOOP,
  set,
  simd,
  simdMem,
  tee,
  V128,
  V128_AND,
  V128_CONST,
  VOID,
  wasmModule,
  type WasmFunction,
} from './wasm.js';

/** What a row's outputs are: exp(x - m) / s, x - m - log s, or exp(x - m - log s). */
export type SoftmaxMode = 'softmax' | 'log' | 'exp-log';
const MODES: Record<SoftmaxMode, number> = { softmax: 0, log: 1, 'exp-log': 2 };

const F64 = 0x7c;
const F64_PROMOTE_F32 = 0xbb;
const F64_DIV = 0xa3;
const F64_STORE = 0x39;
const F64_CONST = 0x44;
const I32_SUB = 0x6b;
const V128_LOAD64_ZERO = 0x5d;

const f64Const = (v: number): number[] => [F64_CONST, ...new Uint8Array(Float64Array.of(v).buffer)];
/** Lane 0 kept, lane 1 zeroed. */
const LOW_LANE = simd(V128_CONST, ...new Uint8Array(BigUint64Array.of(0xffffffffffffffffn, 0n).buffer));

/**
 * `rows(x, out, stats, rows, c, mode)`: `rows` rows of c >= 1 floats from byte address x into out
 * (rows c floats apart), and each row's m and log s as two float64s at stats + 16 * row.
 */
function rowsFunction(): WasmFunction {
  const f = new FunctionBuilder('rows', [I32, I32, I32, I32, I32, I32]);
  const [X, OUT, STATS, ROWS, C, MODE] = [0, 1, 2, 3, 4, 5];
  const [j, px, po] = [f.local(I32), f.local(I32), f.local(I32)];
  const m = f.local(F32);
  const [mv, acc, t, e, ls] = [f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const sum = f.local(F64);
  /** t = the f64x2 of two floats at px (or one, splatted, when `one`) minus m. */
  const load = (one: boolean): number[] =>
    one
      ? [...get(px), F32_LOAD, 2, 0, F64_PROMOTE_F32, ...simd(F64X2_SPLAT), ...get(mv), ...simd(F64X2_SUB), ...set(t)]
      : [...get(px), ...simdMem(V128_LOAD64_ZERO, 3, 0), ...simd(F64X2_PROMOTE_LOW_F32X4), ...get(mv), ...simd(F64X2_SUB), ...set(t)];
  /** The two (or one) outputs of t, stored at po. */
  const store = (one: boolean): void => {
    f.emit(get(MODE), i32Const(1), [0x46, IF, VOID]); // mode == 1: t - log s
    f.emit(get(t), get(ls), simd(F64X2_SUB), set(e));
    f.emit([0x05]); // else
    f.emit(get(MODE), [IF, VOID]); // mode 2: exp(t - log s)
    f.emit(get(t), get(ls), simd(F64X2_SUB), set(e));
    emitExp64(f, e);
    f.emit(set(e), [0x05]); // mode 0: exp(t) / s
    emitExp64(f, t);
    f.emit(get(acc), simd(F64X2_MUL), set(e), [END, END]);
    f.emit(get(e), simd(F32X4_DEMOTE_F64X2_ZERO), set(e));
    f.emit(get(po), get(e), simd(F32X4_EXTRACT_LANE, 0), [F32_STORE, 2, 0]);
    if (!one) f.emit(get(po), get(e), simd(F32X4_EXTRACT_LANE, 1), [F32_STORE, 2, 4]);
  };
  // One row per iteration.
  f.emit([LOOP, VOID]);
  // m: the max (NaN propagates: the row's outputs are NaN either way).
  f.emit(f32Const(-Infinity), set(m), get(X), set(px), get(C), set(j));
  f.emit([LOOP, VOID], get(m), get(px), [F32_LOAD, 2, 0], [F32_MAX], set(m), get(px), i32Const(4), [I32_ADD], set(px));
  f.emit(get(j), i32Const(1), [I32_SUB], tee(j), [BR_IF, 0, END]);
  f.emit(get(m), [F64_PROMOTE_F32], simd(F64X2_SPLAT), set(mv));
  // s: pairs, then the last element alone.
  f.emit(f64Const(0), simd(F64X2_SPLAT), set(acc), get(X), set(px), i32Const(0), set(j));
  f.emit([0x02, VOID, LOOP, VOID], get(j), i32Const(2), [I32_ADD], get(C), [0x4b], [BR_IF, 1]); // while j + 2 <= c
  f.emit(load(false));
  emitExp64(f, t);
  f.emit(get(acc), simd(F64X2_ADD), set(acc), get(px), i32Const(8), [I32_ADD], set(px), get(j), i32Const(2), [I32_ADD], set(j), [0x0c, 0, END, END]);
  f.emit(get(j), get(C), [I32_LT_U, IF, VOID], load(true));
  emitExp64(f, t);
  f.emit(LOW_LANE, simd(V128_AND), get(acc), simd(F64X2_ADD), set(acc), [END]);
  f.emit(get(acc), simd(F64X2_EXTRACT_LANE, 0), get(acc), simd(F64X2_EXTRACT_LANE, 1), [F64_ADD], set(sum));
  f.emit(get(sum), simd(F64X2_SPLAT), set(e));
  emitLog64(f, e);
  f.emit(set(ls));
  // acc = 1 / s (mode 0's factor).
  f.emit(f64Const(1), get(sum), [F64_DIV], simd(F64X2_SPLAT), set(acc));
  f.emit(get(STATS), get(m), [F64_PROMOTE_F32], [F64_STORE, 3, 0], get(STATS), get(ls), simd(F64X2_EXTRACT_LANE, 0), [F64_STORE, 3, 8]);
  // The outputs: pairs, then the last element alone.
  f.emit(get(X), set(px), get(OUT), set(po), i32Const(0), set(j));
  f.emit([0x02, VOID, LOOP, VOID], get(j), i32Const(2), [I32_ADD], get(C), [0x4b], [BR_IF, 1]);
  f.emit(load(false));
  store(false);
  f.emit(get(px), i32Const(8), [I32_ADD], set(px), get(po), i32Const(8), [I32_ADD], set(po), get(j), i32Const(2), [I32_ADD], set(j), [0x0c, 0, END, END]);
  f.emit(get(j), get(C), [I32_LT_U, IF, VOID], load(true));
  store(true);
  f.emit([END]);
  // Next row.
  f.emit(get(X), get(C), i32Const(2), [0x74], [I32_ADD], set(X), get(OUT), get(C), i32Const(2), [0x74], [I32_ADD], set(OUT));
  f.emit(get(STATS), i32Const(16), [I32_ADD], set(STATS), get(ROWS), i32Const(1), [I32_SUB], tee(ROWS), [BR_IF, 0, END]);
  return f.build();
}

/** The module (its one function, `rows`), shared with parallel.ts's workers. */
function createModule(): SharedModule | null {
  const heap = heapMemory();
  if (heap === null) return null;
  try {
    const bytes = wasmModule({ pages: 1, maxPages: heap.maxPages, shared: heap.shared }, [rowsFunction()]);
    const mod = new WebAssembly.Module(bytes);
    return sharedModule(bytes, mod, new WebAssembly.Instance(mod, { env: { mem: heap.memory } }));
  } catch {
    return null;
  }
}

const module = createModule();

/** Elements from which a softmax is split over the threads (about 0.1 ms of one thread's work). */
const THREAD_MIN = 1 << 15;
/** Blocks of rows per split (several per thread). */
const BLOCKS = 16;
const CALL_WORDS = 7;

/**
 * Computes `rows` softmax rows of c floats from x into out (see the top of the file) and, when
 * `stats` is given, each row's m and log s into stats[2 r], stats[2 r + 1]. Operands outside the
 * heap (a fed tensor) are copied through it. False (nothing done) where the kernel cannot run here
 * (no WebAssembly SIMD, the memory full): the caller's loop runs instead.
 */
export function softmaxRowsSimd(mode: SoftmaxMode, x: Float32Array, out: Float32Array, rows: number, c: number, stats?: Float64Array): boolean {
  if (module === null || rows <= 0 || c <= 0) return false;
  const n = rows * c;
  let xAt = heapAddress(x);
  let oAt = heapAddress(out);
  const staged = oAt < 0;
  const scratch = heapAlloc(rows * 16 + (xAt < 0 ? n * 4 : 0) + (staged ? n * 4 : 0));
  if (scratch < 0) return false;
  const calls = new CallList(module, CALL_WORDS);
  try {
    let free = scratch + rows * 16;
    if (xAt < 0) {
      xAt = free;
      free += n * 4;
      new Float32Array(heapBuffer(), xAt, n).set(x);
    }
    if (staged) oAt = free;
    const per = Math.max(1, Math.ceil(rows / BLOCKS));
    for (let r0 = 0; r0 < rows; r0 += per) calls.add(0, xAt + r0 * c * 4, oAt + r0 * c * 4, scratch + r0 * 16, Math.min(per, rows - r0), c, MODES[mode]);
    calls.run(BLOCKS, n >= THREAD_MIN);
    if (staged) out.set(new Float32Array(heapBuffer(), oAt, n));
    stats?.set(new Float64Array(heapBuffer(), scratch, rows * 2));
    return true;
  } finally {
    calls.free();
    heapFree(scratch);
  }
}
