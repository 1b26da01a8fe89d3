/**
 * TensorFlow's Philox4x32-10 as WebAssembly SIMD, four blocks at a time (one per i32x4 lane), on
 * the CPU backend's heap memory (heap.ts). The 32x32-bit products come from i64x2.extmul; every
 * operation is exact integer arithmetic, so the words are those of the TypeScript generator in
 * kernels/random.ts (`philox4x32`), which the tests compare bit for bit. Used where a kernel draws
 * many blocks in a row: RandomUniform's floats are written straight from the kernel, in place
 * when the output lives in the heap. WEIR_CPU_FAST=0 or no SIMD: unavailable (the TypeScript
 * generator runs).
 */
import { config } from '../../src/core/config.js';
import { heapAddress, heapAlloc, heapBuffer, heapFree, heapMemory } from './heap.js';
import {
  F32X4_CONVERT_I32X4_S,
  F32X4_MUL,
  f32x4Const,
  FunctionBuilder,
  get,
  I32,
  I32_ADD,
  I32_SUB,
  i32Const,
  i32x4Const,
  i32x4Lanes,
  I32X4_ADD,
  I32X4_SPLAT,
  I8X16_SHUFFLE,
  LOOP,
  BR_IF,
  END,
  set,
  simd,
  simdMem,
  tee,
  V128,
  V128_AND,
  V128_STORE,
  V128_XOR,
  VOID,
  wasmModule,
} from './wasm.js';

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;

const I64X2_EXTMUL_LOW_I32X4_U = 0xde;
const I64X2_EXTMUL_HIGH_I32X4_U = 0xdf;
/** Bytes of the low (and high) 32-bit halves of two i64x2 vectors, as one i32x4. */
const LOW_HALVES = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
const HIGH_HALVES = [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31];

/**
 * `words|floats(k0, k1, c0, c1, c2, c3, groups, out)`: for g < groups, the four blocks with
 * counters (c0 + 4g + lane, c1, c2, c3) under key (k0, k1) (the caller keeps c0 + 4 groups from
 * wrapping), block b's four words stored at out + 16b: as uint32s, or as TF's uniform floats (the
 * low 23 bits over 2^23, exact in float32).
 */
function philoxFunction(floats: boolean): ReturnType<FunctionBuilder['build']> {
  const b = new FunctionBuilder(floats ? 'floats' : 'words', [I32, I32, I32, I32, I32, I32, I32, I32]);
  const [K0, K1, C0, C1, C2, C3, GROUPS, OUT] = [0, 1, 2, 3, 4, 5, 6, 7];
  const ctr = b.local(V128);
  const [x0, x1, x2, x3] = [b.local(V128), b.local(V128), b.local(V128), b.local(V128)];
  const [k0, k1] = [b.local(V128), b.local(V128)];
  const [e0, e1, lo0, hi0, lo1, hi1] = [b.local(V128), b.local(V128), b.local(V128), b.local(V128), b.local(V128), b.local(V128)];
  const [t0, t1] = [b.local(V128), b.local(V128)];
  const m0 = i32x4Const(PHILOX_M0 | 0);
  const m1 = i32x4Const(PHILOX_M1 | 0);
  b.emit(get(C0), simd(I32X4_SPLAT), i32x4Lanes(0, 1, 2, 3), simd(I32X4_ADD), set(ctr));
  b.emit([LOOP, VOID]);
  b.emit(get(ctr), set(x0), get(C1), simd(I32X4_SPLAT), set(x1), get(C2), simd(I32X4_SPLAT), set(x2), get(C3), simd(I32X4_SPLAT), set(x3));
  b.emit(get(K0), simd(I32X4_SPLAT), set(k0), get(K1), simd(I32X4_SPLAT), set(k1));
  for (let r = 0; r < 10; r++) {
    const product = (x: number, m: number[], lo: number, hi: number): void => {
      b.emit(get(x), m, simd(I64X2_EXTMUL_LOW_I32X4_U), set(e0), get(x), m, simd(I64X2_EXTMUL_HIGH_I32X4_U), set(e1));
      b.emit(get(e0), get(e1), simd(I8X16_SHUFFLE, ...LOW_HALVES), set(lo), get(e0), get(e1), simd(I8X16_SHUFFLE, ...HIGH_HALVES), set(hi));
    };
    product(x0, m0, lo0, hi0);
    product(x2, m1, lo1, hi1);
    b.emit(get(hi1), get(x1), simd(V128_XOR), get(k0), simd(V128_XOR), set(x0), get(lo1), set(x1));
    b.emit(get(hi0), get(x3), simd(V128_XOR), get(k1), simd(V128_XOR), set(x2), get(lo0), set(x3));
    if (r < 9) b.emit(get(k0), i32x4Const(PHILOX_W0 | 0), simd(I32X4_ADD), set(k0), get(k1), i32x4Const(PHILOX_W1 | 0), simd(I32X4_ADD), set(k1));
  }
  // Lane l of x_j is word j of block l: transpose so each block's four words are adjacent.
  b.emit(get(x0), get(x1), simd(I8X16_SHUFFLE, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), set(t0)); // x0[0] x1[0] x0[1] x1[1]
  b.emit(get(x0), get(x1), simd(I8X16_SHUFFLE, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31), set(t1)); // x0[2] x1[2] x0[3] x1[3]
  b.emit(get(x2), get(x3), simd(I8X16_SHUFFLE, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), set(e0));
  b.emit(get(x2), get(x3), simd(I8X16_SHUFFLE, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31), set(e1));
  const blockVector = (a: number, c: number, high: boolean): number[][] => [
    get(a),
    get(c),
    simd(I8X16_SHUFFLE, ...(high ? [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31] : [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23])),
  ];
  const blocks = [blockVector(t0, e0, false), blockVector(t0, e0, true), blockVector(t1, e1, false), blockVector(t1, e1, true)];
  blocks.forEach((v, lane) => {
    b.emit(get(OUT), ...v);
    if (floats) b.emit(i32x4Const(0x7fffff), simd(V128_AND), simd(F32X4_CONVERT_I32X4_S), f32x4Const(2 ** -23), simd(F32X4_MUL));
    b.emit(simdMem(V128_STORE, 0, 16 * lane));
  });
  b.emit(get(OUT), i32Const(64), [I32_ADD], set(OUT));
  b.emit(get(ctr), i32x4Const(4), simd(I32X4_ADD), set(ctr));
  b.emit(get(GROUPS), i32Const(1), [I32_SUB], tee(GROUPS), [BR_IF, 0, END]);
  return b.build();
}

type Run = (k0: number, k1: number, c0: number, c1: number, c2: number, c3: number, groups: number, out: number) => void;

function createKernels(): { words: Run; floats: Run } | null {
  if (!config.cpuFast()) return null;
  const heap = heapMemory();
  if (heap === null) return null;
  try {
    const wasm = wasmModule({ pages: 1, maxPages: heap.maxPages, shared: heap.shared }, [philoxFunction(false), philoxFunction(true)]);
    return new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { mem: heap.memory } }).exports as unknown as { words: Run; floats: Run };
  } catch {
    return null;
  }
}

const kernels = createKernels();
let enabled = kernels !== null;

/** Whether the SIMD generator can run here. */
export function philoxSimdAvailable(): boolean {
  return kernels !== null;
}

/** Turns the SIMD generator on or off (tests compare both); returns the previous setting. */
export function setPhiloxSimdEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on && kernels !== null;
  return prev;
}

/** Groups (of 4 blocks, 16 words) per staged chunk when the output is not in the heap. */
const STAGE_GROUPS = 1024;

/**
 * Writes the words of whole groups of four blocks from `counter` on into out[0, 16 * groups) (as
 * floats when `floats`), where c0 does not wrap within them, through a staged chunk when `out` is
 * not in the heap; false (nothing written) when the heap has no room for that chunk.
 */
function fill(key: Uint32Array, counter: Uint32Array, out: Float32Array | Uint32Array, groups: number, floats: boolean): boolean {
  const f = floats ? kernels!.floats : kernels!.words;
  const [k0, k1] = [key[0]! | 0, key[1]! | 0];
  const [c1, c2, c3] = [counter[1]! | 0, counter[2]! | 0, counter[3]! | 0];
  const at = heapAddress(out);
  if (at >= 0) {
    f(k0, k1, counter[0]! | 0, c1, c2, c3, groups, at);
    return true;
  }
  const chunk = Math.min(groups, STAGE_GROUPS);
  const scratch = heapAlloc(chunk * 64);
  if (scratch < 0) return false;
  for (let g = 0; g < groups; g += chunk) {
    const n = Math.min(chunk, groups - g);
    f(k0, k1, (counter[0]! + 4 * g) | 0, c1, c2, c3, n, scratch);
    out.set(floats ? new Float32Array(heapBuffer(), scratch, 16 * n) : new Uint32Array(heapBuffer(), scratch, 16 * n), 16 * g);
  }
  heapFree(scratch);
  return true;
}

/**
 * Fills out[0, 16 * groups) from the stream at `counter` (advanced past the 4 * groups blocks it
 * used) the way `groups * 4` calls of a scalar generator would, splitting where the counter's low
 * word wraps: `scalar(counter, out, at)` writes one block's 4 values at out[at] (the blocks next to
 * a wrap) and advances the counter by one. False when the SIMD generator is off.
 */
export function philoxFillSimd(
  key: Uint32Array,
  counter: Uint32Array,
  out: Float32Array | Uint32Array,
  groups: number,
  floats: boolean,
  scalar: (counter: Uint32Array, out: Float32Array | Uint32Array, at: number) => void,
  skip: (counter: Uint32Array, blocks: number) => void,
): boolean {
  if (!enabled) return false;
  let done = 0;
  while (done < groups) {
    const room = Math.floor((0x100000000 - counter[0]!) / 4);
    if (room === 0) {
      // Fewer than 4 blocks before the low word wraps: these 4 one at a time.
      for (let j = 0; j < 4; j++) scalar(counter, out, 16 * done + 4 * j);
      done++;
      continue;
    }
    const n = Math.min(room, groups - done);
    if (!fill(key, counter, out.subarray(16 * done, 16 * (done + n)), n, floats)) {
      for (let j = 0; j < 4 * n; j++) scalar(counter, out, 16 * done + 4 * j);
      done += n;
      continue;
    }
    skip(counter, 4 * n);
    done += n;
  }
  return true;
}
