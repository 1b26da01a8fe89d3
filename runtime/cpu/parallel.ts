/**
 * WebAssembly SIMD kernels for the memory-bound work around the GEMM, on the CPU backend's heap
 * memory (runtime/cpu/heap.ts), split over the worker threads (threads.ts's shared pool, whose
 * workers also run the GEMM's products): the dense optimizer updates,
 * pooling and its gradients, column sums (BiasAddGrad), the convolutions' patch rows (im2col and
 * its adjoint col2im, for kernels/conv.ts's GEMM paths), the direct convolution with its filter
 * gradient, and fused elementwise programs (runtime/cpu/fused.ts generates their modules; each
 * worker instantiates a module on the shared memory the first time a task names it).
 *
 * Operands that lie in the heap (`heapAddress >= 0`: arenas and variables allocated there) are
 * read and written in place, and large problems are cut into blocks that the calling thread and the
 * workers claim one at a time (a descheduled worker then holds up at most one block). Operands
 * elsewhere are copied through a staging area a chunk or an image at a time, on the calling thread.
 * Every element is computed by the same instructions whichever thread computes it, so results do not
 * depend on the thread count.
 *
 * The optimizer updates compute in float64 (f64x2), in the TypeScript formulas' order, rounding to
 * float32 only where the TypeScript loop stores, so their results are the TypeScript loop's bit for
 * bit (IEEE float64 operations and the float32 rounding of a store are exact in both).
 *
 * WEIR_CPU_FAST=0 (read once, at load) means none of it: every entry point reports itself unavailable.
 */
import { InternalError, ResourceExhaustedError } from '../../src/core/errors.js';
import type { Geom } from '../window_geometry.js';
import { heapAddress, heapAlloc, heapBuffer, heapFree, heapMemory } from './heap.js';
import { addTaskFamily, ARG, CTRL_INTS, pollMs, retireSharedPool, sharedPoolAvailable, sharedPoolReady, SplitPolicy, startSharedPool, stopSharedPool, threadCount } from './threads.js';
import {
  F32_CONST,
  BR_IF,
  ELSE,
  END,
  F32_LOAD,
  F32_STORE,
  F32X4_ADD,
  F32X4_DEMOTE_F64X2_ZERO,
  F32X4_EXTRACT_LANE,
  F32X4_GT,
  F32X4_MUL,
  F32X4_PMAX,
  F32X4_SPLAT,
  F64,
  F64X2_ADD,
  F64X2_DIV,
  F64X2_MUL,
  F64X2_PROMOTE_LOW_F32X4,
  F64X2_SPLAT,
  F64X2_SQRT,
  F64X2_SUB,
  F32,
  f32x4Const,
  FunctionBuilder,
  get,
  I32,
  I32_ADD,
  I32_CONST,
  I32_GT_S,
  I32_LT_U,
  I32_SUB,
  i32Const,
  IF,
  LOOP,
  I32X4_ADD,
  I32X4_LT_S,
  I32X4_SHR_U,
  I32X4_SPLAT,
  I8X16_SHUFFLE,
  i32x4Lanes,
  set,
  simd,
  simdMem,
  sleb,
  tee,
  V128,
  V128_BITSELECT,
  V128_LOAD,
  V128_LOAD32_SPLAT,
  V128_STORE,
  VOID,
  wasmModule,
  type WasmFunction,
} from './wasm.js';

const HIGH_TO_LOW = simd(I8X16_SHUFFLE, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
const JOIN_LOW = simd(I8X16_SHUFFLE, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
const I32X4_EXTRACT_LANE = 0x1b;
const countdown = (i: number): number[] => [...get(i), I32_CONST, 1, I32_SUB, ...tee(i), 0x0d, 0, 0x0b];

// ---- optimizer updates ----

/** The dense updates with a WebAssembly kernel; the variants of an op's attrs are kernels of their own. */
export const UPDATE_KINDS = [
  'sgd',
  'momentum',
  'momentum_nesterov',
  'adam',
  'adam_nesterov',
  'rmsprop',
  'centered_rmsprop',
  'adagrad',
  'adagrad_noslots',
] as const;
export type UpdateKind = (typeof UPDATE_KINDS)[number];

type Code = number[];
/** Emits one update's float64 formula for two elements: refs (variable, then slots), the gradient and the scalars, each a v128 local of f64x2; returns the code of each ref's new value (null: not stored). */
type Formula = (fb: FunctionBuilder, x: Code[], g: Code, s: Code[]) => (Code | null)[];

const op2 = (op: number) => (a: Code, b: Code): Code => [...a, ...b, ...simd(op)];
const add = op2(F64X2_ADD);
const sub = op2(F64X2_SUB);
const mul = op2(F64X2_MUL);
const div = op2(F64X2_DIV);
const sqrt = (a: Code): Code => [...a, ...simd(F64X2_SQRT)];
/** The value as a float32 store would keep it (read back). */
const asStored = (a: Code): Code => [...a, ...simd(F32X4_DEMOTE_F64X2_ZERO), ...simd(F64X2_PROMOTE_LOW_F32X4)];
/** Evaluates `a` once into a fresh local; returns the code reading it. */
function bind(fb: FunctionBuilder, a: Code): Code {
  const t = fb.local(V128);
  fb.emit(a, set(t));
  return get(t);
}

/**
 * The formulas of runtime/cpu/kernels/training.ts's UPDATES, operation for operation (a value
 * the TypeScript reads back from a Float32Array is `asStored`; one it keeps in a variable is not).
 * Scalars, in order, are the ones training.ts passes for each kind.
 */
const FORMULAS: Record<UpdateKind, { refs: number; scalars: number; formula: Formula }> = {
  // [alpha]
  sgd: { refs: 1, scalars: 1, formula: (_fb, [w], g, [alpha]) => [sub(w!, mul(alpha!, g))] },
  // [lr, momentum]
  momentum: {
    refs: 2,
    scalars: 2,
    formula: (fb, [w, accum], g, [lr, momentum]) => {
      const a = bind(fb, add(mul(accum!, momentum!), g));
      return [sub(w!, mul(lr!, a)), a];
    },
  },
  momentum_nesterov: {
    refs: 2,
    scalars: 2,
    formula: (fb, [w, accum], g, [lr, momentum]) => {
      const a = bind(fb, add(mul(accum!, momentum!), g));
      return [sub(w!, add(mul(g, lr!), mul(mul(a, momentum!), lr!))), a];
    },
  },
  // [alpha, 1 - beta1, 1 - beta2, epsilon, beta1]
  adam: { refs: 3, scalars: 5, formula: (fb, x, g, s) => adam(fb, x, g, s, false) },
  adam_nesterov: { refs: 3, scalars: 5, formula: (fb, x, g, s) => adam(fb, x, g, s, true) },
  // [lr, 1 - rho, momentum, epsilon]
  rmsprop: {
    refs: 3,
    scalars: 4,
    formula: (fb, [w, ms, mom], g, [lr, oneMinusRho, momentum, epsilon]) => {
      const sq = bind(fb, add(ms!, mul(sub(mul(g, g), ms!), oneMinusRho!)));
      const u = bind(fb, add(mul(mom!, momentum!), div(mul(g, lr!), sqrt(add(sq, epsilon!)))));
      return [sub(w!, u), sq, u];
    },
  },
  centered_rmsprop: {
    refs: 4,
    scalars: 4,
    formula: (fb, [w, mg, ms, mom], g, [lr, oneMinusRho, momentum, epsilon]) => {
      const sq = bind(fb, add(ms!, mul(sub(mul(g, g), ms!), oneMinusRho!)));
      const a = bind(fb, add(mg!, mul(sub(g, mg!), oneMinusRho!)));
      const u = bind(fb, add(mul(mom!, momentum!), div(mul(g, lr!), sqrt(add(sub(sq, mul(a, a)), epsilon!)))));
      return [sub(w!, u), a, sq, u];
    },
  },
  // [lr]
  adagrad: {
    refs: 2,
    scalars: 1,
    formula: (fb, [w, accum], g, [lr]) => {
      const a = bind(fb, add(accum!, mul(g, g)));
      return [sub(w!, div(mul(lr!, g), sqrt(asStored(a)))), a];
    },
  },
  adagrad_noslots: { refs: 2, scalars: 1, formula: (_fb, [w, accum], g, [lr]) => [sub(w!, div(mul(lr!, g), sqrt(accum!))), null] },
};

function adam(fb: FunctionBuilder, [w, m, v]: Code[], g: Code, [alpha, oneMinusBeta1, oneMinusBeta2, epsilon, beta1]: Code[], nesterov: boolean): (Code | null)[] {
  const mi = bind(fb, add(m!, mul(sub(g, m!), oneMinusBeta1!)));
  const vi = bind(fb, add(v!, mul(sub(mul(g, g), v!), oneMinusBeta2!)));
  const step = nesterov ? add(mul(g, oneMinusBeta1!), mul(beta1!, mi)) : mi;
  return [sub(w!, div(mul(step, alpha!), add(sqrt(vi), epsilon!))), mi, vi];
}

/** Every update kernel's parameters: bytes (a positive multiple of 16), the four ref addresses, the gradient's, six float64 scalars. */
const UPDATE_PARAMS = [I32, I32, I32, I32, I32, I32, F64, F64, F64, F64, F64, F64];

/** `<kind>(bytes, p0, p1, p2, p3, g, s0..s5)`: the update of bytes / 4 elements, four at a time, each half in f64x2. */
function updateFunction(kind: UpdateKind): WasmFunction {
  const { refs, scalars, formula } = FORMULAS[kind];
  const fb = new FunctionBuilder(kind, UPDATE_PARAMS);
  const N = 0;
  const ptr = (r: number): number => 1 + r;
  const G = 5;
  const S = Array.from({ length: scalars }, (_, k) => {
    const t = fb.local(V128);
    fb.emit(get(6 + k), simd(F64X2_SPLAT), set(t));
    return get(t);
  });
  const loaded = Array.from({ length: refs + 1 }, () => fb.local(V128));
  const halves = Array.from({ length: refs }, () => [fb.local(V128), fb.local(V128)] as const);
  const wide = Array.from({ length: refs + 1 }, () => fb.local(V128));
  fb.emit([0x03, 0x40]); // loop
  for (let r = 0; r <= refs; r++) fb.emit(get(r < refs ? ptr(r) : G), simd(V128_LOAD, 0, 0), set(loaded[r]!));
  const stored: boolean[] = [];
  for (let h = 0; h < 2; h++) {
    for (let r = 0; r <= refs; r++) fb.emit(get(loaded[r]!), h === 0 ? [] : [...get(loaded[r]!), ...HIGH_TO_LOW], simd(F64X2_PROMOTE_LOW_F32X4), set(wide[r]!));
    const out = formula(fb, wide.slice(0, refs).map(get), get(wide[refs]!), S);
    out.forEach((code, r) => {
      stored[r] = code !== null;
      if (code !== null) fb.emit(code, simd(F32X4_DEMOTE_F64X2_ZERO), set(halves[r]![h]));
    });
  }
  for (let r = 0; r < refs; r++) if (stored[r]) fb.emit(get(ptr(r)), get(halves[r]![0]), get(halves[r]![1]), JOIN_LOW, simd(V128_STORE, 0, 0));
  for (const p of [...Array.from({ length: refs }, (_, r) => ptr(r)), G]) fb.emit(get(p), [I32_CONST, 16, I32_ADD], set(p));
  fb.emit(get(N), [I32_CONST, 16, I32_SUB], tee(N), [0x0d, 0, 0x0b]);
  return fb.build();
}

// ---- pooling ----

/**
 * `maxpool` / `avgpool(x, y, cBytes, rowBytes, tapBytes, kh, kw, scale)`: for each group of four
 * channels below cBytes (a positive multiple of 16), y = the max (or the sum times `scale`) of the
 * kh x kw window taps starting at x, taps tapBytes apart along a row and rows rowBytes apart.
 * kh, kw >= 1. The max is TypeScript's `if (v > best) best = v` from -Infinity (f32x4.pmax), so NaN
 * inputs are skipped exactly as there.
 */
function poolFunction(kind: 'max' | 'avg'): WasmFunction {
  const [X, Y, CB, ROW, TAP, KH, KW, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [C, PROW, P, H, W, ACC] = [8, 9, 10, 11, 12, 13];
  const init = kind === 'max' ? [F32_CONST, 0x00, 0x00, 0x80, 0xff] : [F32_CONST, 0, 0, 0, 0];
  const code: number[] = [0x03, 0x40]; // loop over channel groups
  code.push(...init, ...simd(F32X4_SPLAT), ...set(ACC));
  code.push(...get(X), ...get(C), I32_ADD, ...set(PROW), ...get(KH), ...set(H));
  code.push(0x03, 0x40); // loop over window rows
  code.push(...get(PROW), ...set(P), ...get(KW), ...set(W));
  code.push(0x03, 0x40); // loop over taps in a row
  code.push(...get(ACC), ...get(P), ...simd(V128_LOAD, 0, 0), ...simd(kind === 'max' ? F32X4_PMAX : F32X4_ADD), ...set(ACC));
  code.push(...get(P), ...get(TAP), I32_ADD, ...set(P));
  code.push(...countdown(W));
  code.push(...get(PROW), ...get(ROW), I32_ADD, ...set(PROW));
  code.push(...countdown(H));
  code.push(...get(Y), ...get(C), I32_ADD, ...get(ACC));
  if (kind === 'avg') code.push(...get(SCALE), ...simd(F32X4_SPLAT), ...simd(F32X4_MUL));
  code.push(...simd(V128_STORE, 0, 0));
  code.push(...get(C), I32_CONST, 16, I32_ADD, ...tee(C), ...get(CB), I32_LT_U, 0x0d, 0, 0x0b);
  return { exportName: `${kind}pool`, params: [I32, I32, I32, I32, I32, I32, I32, F32], results: [], locals: [I32, I32, I32, I32, I32, V128], code };
}

/**
 * The window-maximum search of `argmaxpool` and `maxpoolgrad` for the channel group at byte C of
 * the window's first tap X: BEST the maxima, BI the byte address of each lane's group (add 4 * lane),
 * the first in row-major order on ties, found with TypeScript's `if (v > best)` from the first tap.
 */
function argmaxSearch(L: { X: number; C: number; ROW: number; TAP: number; KH: number; KW: number; PROW: number; P: number; H: number; W: number; A: number; BEST: number; BI: number; V: number; M: number }): number[] {
  const { X, C, ROW, TAP, KH, KW, PROW, P, H, W, A, BEST, BI, V, M } = L;
  const code: number[] = [];
  code.push(...get(X), ...get(C), I32_ADD, ...tee(A), ...simd(V128_LOAD, 0, 0), ...set(BEST), ...get(A), ...simd(I32X4_SPLAT), ...set(BI));
  code.push(...get(A), ...set(PROW), ...get(KH), ...set(H));
  code.push(0x03, 0x40); // loop over window rows
  code.push(...get(PROW), ...set(P), ...get(KW), ...set(W));
  code.push(0x03, 0x40); // loop over taps in a row
  code.push(...get(P), ...tee(A), ...simd(V128_LOAD, 0, 0), ...tee(V), ...get(BEST), ...simd(F32X4_GT), ...set(M));
  code.push(...get(V), ...get(BEST), ...get(M), ...simd(V128_BITSELECT), ...set(BEST));
  code.push(...get(A), ...simd(I32X4_SPLAT), ...get(BI), ...get(M), ...simd(V128_BITSELECT), ...set(BI));
  code.push(...get(P), ...get(TAP), I32_ADD, ...set(P));
  code.push(...countdown(W));
  code.push(...get(PROW), ...get(ROW), I32_ADD, ...set(PROW));
  code.push(...countdown(H));
  return code;
}

/**
 * `argmaxpool(x, y, cBytes, rowBytes, tapBytes, kh, kw)`: for each group of four channels below
 * cBytes (a positive multiple of 16), the int32 at y = the float index (byte address / 4) of the
 * window's maximum among the kh x kw taps from x (taps tapBytes apart along a row, rows rowBytes
 * apart): the first in row-major order on ties, NaNs passed over unless the first tap is one.
 */
function argmaxPoolFunction(): WasmFunction {
  const [X, Y, CB, ROW, TAP, KH, KW] = [0, 1, 2, 3, 4, 5, 6];
  const [C, PROW, P, H, W, A, BEST, BI, V, M] = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
  const code: number[] = [0x03, 0x40]; // loop over channel groups
  code.push(...argmaxSearch({ X, C, ROW, TAP, KH, KW, PROW, P, H, W, A, BEST, BI, V, M }));
  // Lane l's index: (its group's byte address >> 2) + l.
  code.push(...get(Y), ...get(C), I32_ADD, ...get(BI), I32_CONST, 2, ...simd(I32X4_SHR_U), ...i32x4Lanes(0, 1, 2, 3), ...simd(I32X4_ADD), ...simd(V128_STORE, 0, 0));
  code.push(...get(C), I32_CONST, 16, I32_ADD, ...tee(C), ...get(CB), I32_LT_U, 0x0d, 0, 0x0b);
  return { exportName: 'argmaxpool', params: [I32, I32, I32, I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, V128], code };
}

/**
 * `maxpoolgrad(x, dy, cBytes, rowBytes, tapBytes, kh, kw, delta, channelBytes)`: for each group of
 * four channels below cBytes, finds each lane's window maximum as `argmaxpool` does and adds the
 * lane's dy (float32 addition, as TypeScript's `dx[arg] += dy` rounds it) to the float at the
 * maximum's address + delta (dx - x); lanes at or past channelBytes are skipped.
 */
function maxPoolGradFunction(): WasmFunction {
  const [X, DY, CB, ROW, TAP, KH, KW, DELTA, CEX] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [C, PROW, P, H, W, A, ADDR, BEST, BI, V, M, G] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const code: number[] = [0x03, 0x40]; // loop over channel groups
  code.push(...argmaxSearch({ X, C, ROW, TAP, KH, KW, PROW, P, H, W, A, BEST, BI, V, M }));
  code.push(...get(BI), ...i32x4Lanes(0, 4, 8, 12), ...simd(I32X4_ADD), ...set(BI));
  code.push(...get(DY), ...get(C), I32_ADD, ...simd(V128_LOAD, 0, 0), ...set(G));
  for (let l = 0; l < 4; l++) {
    code.push(...get(C), I32_CONST, 4 * l, I32_ADD, ...get(CEX), I32_LT_U, 0x04, 0x40); // if
    code.push(...get(BI), ...simd(I32X4_EXTRACT_LANE, l), ...get(DELTA), I32_ADD, ...tee(ADDR));
    code.push(...get(ADDR), 0x2a, 2, 0, ...get(G), ...simd(F32X4_EXTRACT_LANE, l), 0x92, 0x38, 2, 0, 0x0b); // f32.load, f32.add, f32.store, end
  }
  code.push(...get(C), I32_CONST, 16, I32_ADD, ...tee(C), ...get(CB), I32_LT_U, 0x0d, 0, 0x0b);
  return {
    exportName: 'maxpoolgrad',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128],
    code,
  };
}

/**
 * `avgpoolgrad(dy, x, cBytes, rowBytes, tapBytes, kh, kw, inv, channels)`: for each group of four
 * channels below cBytes, every tap of the kh x kw window from x gets dy * inv added, in float64
 * rounded to float32 as TypeScript's `dx += dy * inv` does; lanes at or past `channels` keep their
 * value (they belong to the next tap).
 */
function avgPoolGradFunction(): WasmFunction {
  const [DY, X, CB, ROW, TAP, KH, KW, INV, NC] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [C, PROW, P, H, W, G, GLO, GHI, MASK, D] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const code: number[] = [0x03, 0x40]; // loop over channel groups
  code.push(...get(DY), ...get(C), I32_ADD, ...simd(V128_LOAD, 0, 0), ...set(G));
  code.push(...get(G), ...simd(F64X2_PROMOTE_LOW_F32X4), ...get(INV), ...simd(F64X2_SPLAT), ...simd(F64X2_MUL), ...set(GLO));
  code.push(...get(G), ...get(G), ...HIGH_TO_LOW, ...simd(F64X2_PROMOTE_LOW_F32X4), ...get(INV), ...simd(F64X2_SPLAT), ...simd(F64X2_MUL), ...set(GHI));
  code.push(...get(C), I32_CONST, 2, 0x76, ...simd(I32X4_SPLAT), ...i32x4Lanes(0, 1, 2, 3), ...simd(I32X4_ADD), ...get(NC), ...simd(I32X4_SPLAT), ...simd(I32X4_LT_S), ...set(MASK)); // 0x76: i32.shr_u
  code.push(...get(X), ...get(C), I32_ADD, ...set(PROW), ...get(KH), ...set(H));
  code.push(0x03, 0x40); // loop over window rows
  code.push(...get(PROW), ...set(P), ...get(KW), ...set(W));
  code.push(0x03, 0x40); // loop over taps in a row
  code.push(...get(P), ...get(P), ...simd(V128_LOAD, 0, 0), ...tee(D), ...simd(F64X2_PROMOTE_LOW_F32X4), ...get(GLO), ...simd(F64X2_ADD), ...simd(F32X4_DEMOTE_F64X2_ZERO));
  code.push(...get(D), ...get(D), ...HIGH_TO_LOW, ...simd(F64X2_PROMOTE_LOW_F32X4), ...get(GHI), ...simd(F64X2_ADD), ...simd(F32X4_DEMOTE_F64X2_ZERO), ...JOIN_LOW);
  code.push(...get(D), ...get(MASK), ...simd(V128_BITSELECT), ...simd(V128_STORE, 0, 0));
  code.push(...get(P), ...get(TAP), I32_ADD, ...set(P));
  code.push(...countdown(W));
  code.push(...get(PROW), ...get(ROW), I32_ADD, ...set(PROW));
  code.push(...countdown(H));
  code.push(...get(C), I32_CONST, 16, I32_ADD, ...tee(C), ...get(CB), I32_LT_U, 0x0d, 0, 0x0b);
  return {
    exportName: 'avgpoolgrad',
    params: [I32, I32, I32, I32, I32, I32, I32, F64, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, V128, V128, V128, V128, V128],
    code,
  };
}

/**
 * `colsum(x, acc, rows, rowBytes, vecBytes)`: for each of `rows` rows (rowBytes apart from x), the
 * float64 sums at acc (two per 16 bytes of row) += the row's floats, over vecBytes (a positive
 * multiple of 16: lanes past the row read the next one and land in acc's padding).
 */
function columnSumFunction(): WasmFunction {
  const [X, ACC, R, RB, VB] = [0, 1, 2, 3, 4];
  const [Q, V, P] = [5, 6, 7];
  const code: number[] = [0x03, 0x40]; // loop over rows
  code.push(I32_CONST, 0, ...set(Q));
  code.push(0x03, 0x40); // loop over the row's vectors
  code.push(...get(X), ...get(Q), I32_ADD, ...simd(V128_LOAD, 0, 0), ...set(V));
  // acc + 2q: the two float64 pairs of this vector's four columns.
  code.push(...get(ACC), ...get(Q), ...get(Q), I32_ADD, I32_ADD, ...set(P));
  code.push(...get(P), ...get(P), ...simd(V128_LOAD, 0, 0), ...get(V), ...simd(F64X2_PROMOTE_LOW_F32X4), ...simd(F64X2_ADD), ...simd(V128_STORE, 0, 0));
  code.push(...get(P), ...get(P), ...simd(V128_LOAD, 0, 16), ...get(V), ...get(V), ...HIGH_TO_LOW, ...simd(F64X2_PROMOTE_LOW_F32X4), ...simd(F64X2_ADD), ...simd(V128_STORE, 0, 16));
  code.push(...get(Q), I32_CONST, 16, I32_ADD, ...tee(Q), ...get(VB), I32_LT_U, 0x0d, 0, 0x0b);
  code.push(...get(X), ...get(RB), I32_ADD, ...set(X));
  code.push(...get(R), I32_CONST, 1, I32_SUB, ...tee(R), 0x0d, 0, 0x0b);
  return { exportName: 'colsum', params: [I32, I32, I32, I32, I32], results: [], locals: [I32, V128, I32], code };
}

// ---- convolutions ----

/**
 * `dconv(x, f, y, taps, T, oh, ow, rowBytes, pixBytes, blocks, tapBytes)`: a direct convolution of
 * one padded image. For each of oh x ow output pixels (windows pixBytes apart along a row, rowBytes
 * between rows, from x) and each block of 16 output channels, y (16 floats per block, pixels and
 * blocks in order) = the sum over the T taps of x[window + taps[t]] * f[t] (f: T rows of
 * tapBytes, the block's 16 floats at 64 * block), multiplied and added in float32 tap after tap.
 */
function directConvFunction(): WasmFunction {
  const [X, F, Y, TAPS, T, OH, OW, ROW, PIX, NB, FSTRIDE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [H, W, XR, XP, YP, B, TI, FP, TP, FT] = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const ACC = [21, 22, 23, 24];
  const XV = 25;
  const code: number[] = [...get(X), ...set(XR), ...get(Y), ...set(YP), ...get(OH), ...set(H)];
  code.push(0x03, 0x40); // loop over output rows
  code.push(...get(XR), ...set(XP), ...get(OW), ...set(W));
  code.push(0x03, 0x40); // loop over the row's pixels
  code.push(...get(F), ...set(FP), ...get(NB), ...set(B));
  code.push(0x03, 0x40); // loop over blocks of 16 channels
  for (const a of ACC) code.push(...f32x4Const(0), ...set(a));
  code.push(...get(TAPS), ...set(TP), ...get(FP), ...set(FT), ...get(T), ...set(TI));
  code.push(0x03, 0x40); // loop over taps
  code.push(...get(XP), ...get(TP), 0x28, 2, 0, I32_ADD, ...simd(V128_LOAD32_SPLAT, 2, 0), ...set(XV)); // 0x28: i32.load
  ACC.forEach((a, i) => code.push(...get(a), ...get(XV), ...get(FT), ...simd(V128_LOAD, 0, 16 * i), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(a)));
  code.push(...get(TP), I32_CONST, 4, I32_ADD, ...set(TP), ...get(FT), ...get(FSTRIDE), I32_ADD, ...set(FT));
  code.push(...countdown(TI));
  ACC.forEach((a, i) => code.push(...get(YP), ...get(a), ...simd(V128_STORE, 0, 16 * i)));
  code.push(...get(YP), I32_CONST, ...sleb(64), I32_ADD, ...set(YP), ...get(FP), I32_CONST, ...sleb(64), I32_ADD, ...set(FP));
  code.push(...countdown(B));
  code.push(...get(XP), ...get(PIX), I32_ADD, ...set(XP));
  code.push(...countdown(W));
  code.push(...get(XR), ...get(ROW), I32_ADD, ...set(XR));
  code.push(...countdown(H));
  return {
    exportName: 'dconv',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128],
    code,
  };
}

/**
 * `dconvdf(x, dy, df, taps, T, oh, ow, rowBytes, pixBytes, blocks, tapBytes)`: the filter gradient
 * of `dconv` for one padded image: for each tap t and block of 16 output channels, df (T rows of
 * tapBytes, the block at 64 * block) += the sum over the oh x ow output pixels, in order, of
 * x[window + taps[t]] * dy[pixel] (dy: 16 floats per block, pixels and blocks in order).
 */
function directConvFilterGradFunction(): WasmFunction {
  const [X, DY, DF, TAPS, T, OH, OW, ROW, PIX, NB, STRIDE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [TP, FP, TI, OFF, B, DB, XR, XP, DYP, RH, PW] = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  const ACC = [22, 23, 24, 25];
  const XV = 26;
  const code: number[] = [...get(TAPS), ...set(TP), ...get(DF), ...set(FP), ...get(T), ...set(TI)];
  code.push(0x03, 0x40); // loop over taps
  code.push(...get(TP), 0x28, 2, 0, ...set(OFF), ...get(NB), ...set(B), I32_CONST, 0, ...set(DB)); // 0x28: i32.load
  code.push(0x03, 0x40); // loop over blocks of 16 channels
  ACC.forEach((a, i) => code.push(...get(FP), ...get(DB), I32_ADD, ...simd(V128_LOAD, 0, 16 * i), ...set(a)));
  code.push(...get(X), ...get(OFF), I32_ADD, ...set(XR), ...get(DY), ...get(DB), I32_ADD, ...set(DYP), ...get(OH), ...set(RH));
  code.push(0x03, 0x40); // loop over output rows
  code.push(...get(XR), ...set(XP), ...get(OW), ...set(PW));
  code.push(0x03, 0x40); // loop over the row's pixels
  code.push(...get(XP), ...simd(V128_LOAD32_SPLAT, 2, 0), ...set(XV));
  ACC.forEach((a, i) => code.push(...get(a), ...get(XV), ...get(DYP), ...simd(V128_LOAD, 0, 16 * i), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(a)));
  code.push(...get(XP), ...get(PIX), I32_ADD, ...set(XP), ...get(DYP), ...get(STRIDE), I32_ADD, ...set(DYP));
  code.push(...countdown(PW));
  code.push(...get(XR), ...get(ROW), I32_ADD, ...set(XR));
  code.push(...countdown(RH));
  ACC.forEach((a, i) => code.push(...get(FP), ...get(DB), I32_ADD, ...get(a), ...simd(V128_STORE, 0, 16 * i)));
  code.push(...get(DB), I32_CONST, ...sleb(64), I32_ADD, ...set(DB));
  code.push(...countdown(B));
  code.push(...get(TP), I32_CONST, 4, I32_ADD, ...set(TP), ...get(FP), ...get(STRIDE), I32_ADD, ...set(FP));
  code.push(...countdown(TI));
  return {
    exportName: 'dconvdf',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128],
    code,
  };
}

/**
 * im2col in WebAssembly over the heap, for an input with every tap inside (no padding left): each
 * patch row is KH runs of KW * C consecutive floats (KH * KW runs of C when dilated along the
 * width), copied four floats at a time. One call per chunk, where the TypeScript loop pays a
 * builtin call and a view per run. Its adjoint, col2im, adds each patch row back onto the input
 * positions it was read from, the same walk with `x[...] += col[...]` for `col[...] = x[...]`.
 */
function patchKernelCode(name: string, adjoint: boolean): WasmFunction {
  const f = new FunctionBuilder(name, Array<number>(17).fill(I32));
  const [BASE, LINE, COL, ROWS, OW_, OH_, OWN, OHN, ROW_STEP, LINE_STEP, WRAP, KH_, KH_STEP, RUNS, RUN_ADV, VECS, TAIL] = Array.from({ length: 17 }, (_, i) => i);
  const [khBase, src, kh, run, i] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const add = (x: number, y: number): number[] => [...get(x), ...get(y), I32_ADD, ...set(x)];
  const addConst = (x: number, n: number): number[] => [...get(x), ...i32Const(n), I32_ADD, ...set(x)];
  /** x -= 1; continue the enclosing loop while x > 0. */
  const countDown = (x: number): number[] => [...get(x), ...i32Const(1), I32_SUB, ...tee(x), ...i32Const(0), I32_GT_S, BR_IF, 0];
  const positive = (x: number): number[] => [...get(x), ...i32Const(0), I32_GT_S];
  const vector = adjoint
    ? [...get(src), ...get(src), ...simdMem(V128_LOAD, 0, 0), ...get(COL), ...simdMem(V128_LOAD, 0, 0), ...simd(F32X4_ADD), ...simdMem(V128_STORE, 0, 0)]
    : [...get(COL), ...get(src), ...simdMem(V128_LOAD, 0, 0), ...simdMem(V128_STORE, 0, 0)];
  const scalar = adjoint
    ? [...get(src), ...get(src), ...simdMem(V128_LOAD32_SPLAT, 0, 0), ...get(COL), ...simdMem(V128_LOAD32_SPLAT, 0, 0), ...simd(F32X4_ADD), ...simd(F32X4_EXTRACT_LANE, 0), F32_STORE, 2, 0]
    : [...get(COL), ...get(src), F32_LOAD, 2, 0, F32_STORE, 2, 0];
  f.emit(positive(ROWS), [IF, VOID, LOOP, VOID]);
  // One patch row: KH filter rows of `runs` runs each, from the output pixel's first tap (BASE).
  f.emit(get(BASE), set(khBase), get(KH_), set(kh), [LOOP, VOID]);
  f.emit(get(khBase), set(src), get(RUNS), set(run), [LOOP, VOID]);
  f.emit(positive(VECS), [IF, VOID], get(VECS), set(i), [LOOP, VOID]);
  f.emit(vector, addConst(COL, 16), addConst(src, 16), countDown(i), [END, END]);
  f.emit(positive(TAIL), [IF, VOID], get(TAIL), set(i), [LOOP, VOID]);
  f.emit(scalar, addConst(COL, 4), addConst(src, 4), countDown(i), [END, END]);
  f.emit(add(src, RUN_ADV), countDown(run), [END]);
  f.emit(add(khBase, KH_STEP), countDown(kh), [END]);
  // The next output pixel: along the line, else the next line, else the next image's first.
  f.emit(add(BASE, ROW_STEP), addConst(OW_, 1), get(OW_), get(OWN), [I32_LT_U, IF, VOID, ELSE]);
  f.emit(i32Const(0), set(OW_), add(LINE, LINE_STEP), addConst(OH_, 1), get(OH_), get(OHN), [I32_LT_U, IF, VOID, ELSE]);
  f.emit(i32Const(0), set(OH_), add(LINE, WRAP), [END], get(LINE), set(BASE), [END]);
  f.emit(countDown(ROWS), [END, END]);
  return f.build();
}

// ---- the module, its drivers and the pool ----

type UpdateFn = (bytes: number, p0: number, p1: number, p2: number, p3: number, g: number, s0: number, s1: number, s2: number, s3: number, s4: number, s5: number) => void;
type PoolFn = (x: number, y: number, cBytes: number, rowBytes: number, tapBytes: number, kh: number, kw: number, scale: number) => void;
interface Exports {
  maxpool: PoolFn;
  avgpool: PoolFn;
  argmaxpool: (x: number, y: number, cBytes: number, rowBytes: number, tapBytes: number, kh: number, kw: number) => void;
  maxpoolgrad: (x: number, dy: number, cBytes: number, rowBytes: number, tapBytes: number, kh: number, kw: number, delta: number, channelBytes: number) => void;
  avgpoolgrad: (dy: number, x: number, cBytes: number, rowBytes: number, tapBytes: number, kh: number, kw: number, inv: number, channels: number) => void;
  colsum: (x: number, acc: number, rows: number, rowBytes: number, vecBytes: number) => void;
  im2col: PatchFn;
  col2im: PatchFn;
  dconv: DirectFn;
  dconvdf: DirectFn;
}
type PatchFn = (...args: [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number]) => void;
type DirectFn = (x: number, yOrDy: number, fOrDf: number, taps: number, T: number, oh: number, ow: number, rowBytes: number, pixBytes: number, blocks: number, tapBytes: number) => void;
/** A function of another module run by the drivers: a fused elementwise program's run (runtime/cpu/fused.ts's wasmProgramModule), a transform. */
export type ProgramRun = (...args: number[]) => void;
/**
 * The module's exports as the drivers see them: the update kernels by index in UPDATE_KINDS; and
 * other modules' functions (fused programs, call lists) by module id, in their export order (each
 * thread instantiates a module on the memory the first time it sees it), with a reusable argument
 * list.
 */
interface Kernels extends Exports {
  updates: UpdateFn[];
  memory: WebAssembly.Memory;
  modules: Map<number, ProgramRun[]>;
  args: number[];
}
/** Views of the memory, refreshed by their holder when it grows. */
interface Views {
  f32: Float32Array<ArrayBufferLike>;
  i32: Int32Array<ArrayBufferLike>;
}

// Task words (from ARG): the driver, the block count, a fault to inject (tests), then the driver's parameters.
const T_DRIVER = ARG;
const T_BLOCKS = ARG + 1;
const T_FAULT = ARG + 2;
const P = ARG + 3;
const MAX_BLOCKS = 4096;
const D_UPDATE = 0;
const D_POOL = 1;
const D_COLSUM = 2;
const D_PATCH = 3;
const D_DIRECT = 4;
const D_PROGRAM = 5;
const D_CALLS = 6;
/** Fused programs a thread keeps instantiated; past this many it starts over. */
const PROGRAM_CACHE = 64;
// Pool kinds (the pool driver's first parameter).
const K_MAX = 0;
const K_AVG = 1;
const K_MAXGRAD = 2;
const K_AVGGRAD = 3;

// The drivers run on the calling thread and, as source text, in the workers: they may use only
// their arguments and the constants above (defined in the workers' source too). Byte addresses in
// task words are int32 (those past 2 GiB negative): wasm reads them as unsigned, JS with >>> 2.

/** Update block b: t[P..] = kind index, block bytes, total bytes, p0..p3, g; f[0..5] the scalars. */
function updateBlock(k: Kernels, t: Int32Array, f: Float64Array, b: number): void {
  const lo = b * t[P + 1]!;
  const len = Math.min(t[P + 1]!, t[P + 2]! - lo);
  k.updates[t[P]!]!(len, t[P + 3]! + lo, t[P + 4]! + lo, t[P + 5]! + lo, t[P + 6]! + lo, t[P + 7]! + lo, f[0]!, f[1]!, f[2]!, f[3]!, f[4]!, f[5]!);
}

/**
 * Pooling block b (images b * per up to N): t[P..] = kind, a, b, c (byte addresses: x, y for the
 * forward kinds; x, dy, dx for MaxPoolGrad; -, dy, dx for AvgPoolGrad), N, H, W, C, KH, KW, OH,
 * OW, sH, sW, padT, padL, per. Gradients zero their images' dx first, so a block may be run again.
 */
function poolBlock(k: Kernels, t: Int32Array, _f: Float64Array, b: number, v: Views): void {
  const kind = t[P]!, N = t[P + 4]!, H = t[P + 5]!, W = t[P + 6]!, C = t[P + 7]!, KH = t[P + 8]!, KW = t[P + 9]!;
  const OH = t[P + 10]!, OW = t[P + 11]!, sH = t[P + 12]!, sW = t[P + 13]!, padT = t[P + 14]!, padL = t[P + 15]!, per = t[P + 16]!;
  const inBytes = H * W * C * 4;
  const outBytes = OH * OW * C * 4;
  const cBytes = ((C + 3) >> 2) << 4;
  const grad = kind >= K_MAXGRAD;
  for (let n = b * per; n < Math.min(N, (b + 1) * per); n++) {
    const x = t[P + 1]! + n * inBytes;
    const y = t[P + 2]! + n * outBytes;
    const dx = t[P + 3]! + n * inBytes;
    if (grad) v.f32.fill(0, dx >>> 2, (dx + inBytes) >>> 2);
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * sH - padT;
      const h0 = Math.max(hs, 0);
      const h1 = Math.min(hs + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * sW - padL;
        const w0 = Math.max(ws, 0);
        const w1 = Math.min(ws + KW, W);
        const yi = y + (oh * OW + ow) * C * 4;
        const first = (h0 * W + w0) * C * 4;
        if (h0 >= h1 || w0 >= w1) {
          if (!grad) v.f32.fill(kind === K_MAX ? -Infinity : 0, yi >>> 2, (yi >>> 2) + C);
        } else if (kind === K_MAX || kind === K_AVG) {
          (kind === K_MAX ? k.maxpool : k.avgpool)(x + first, yi, cBytes, W * C * 4, C * 4, h1 - h0, w1 - w0, 1 / ((h1 - h0) * (w1 - w0)));
        } else if (kind === K_MAXGRAD) {
          k.maxpoolgrad(x + first, yi, cBytes, W * C * 4, C * 4, h1 - h0, w1 - w0, dx - x, C * 4);
        } else {
          k.avgpoolgrad(yi, dx + first, cBytes, W * C * 4, C * 4, h1 - h0, w1 - w0, 1 / ((h1 - h0) * (w1 - w0)), C);
        }
      }
    }
  }
}

/** Column sums, block b of vectors (four columns each): t[P..] = x, acc, rows, rowBytes, vectors per block, vectors. */
function colsumBlock(k: Kernels, t: Int32Array, _f: Float64Array, b: number, v: Views): void {
  const v0 = b * t[P + 4]!;
  const v1 = Math.min(t[P + 5]!, v0 + t[P + 4]!);
  const acc = t[P + 1]! + v0 * 32;
  v.f32.fill(0, acc >>> 2, (acc >>> 2) + (v1 - v0) * 8);
  k.colsum(t[P]! + v0 * 16, acc, t[P + 2]!, t[P + 3]!, (v1 - v0) * 16);
}

/**
 * im2col (t[P] = 0) or col2im (1), block b of `per` patch rows from row r0 + b * per: t[P..] =
 * kind, input (every tap inside it), patch rows, r0, rows, per, OW, OH, rowStep, lineStep,
 * imageStep, KH, khStep, runs, runAdvance, vectors, tail (see patchWalk), bytes per patch row, and
 * whether the block first zeroes its input images (col2im by whole images, so a block may be run
 * again).
 */
function patchBlock(k: Kernels, t: Int32Array, _f: Float64Array, b: number, v: Views): void {
  const at = t[P + 1]!, r0 = t[P + 3]!, per = t[P + 5]!, OW = t[P + 6]!, OH = t[P + 7]!, rowStep = t[P + 8]!, lineStep = t[P + 9]!, imageStep = t[P + 10]!;
  const lo = b * per;
  const rows = Math.min(per, t[P + 4]! - lo);
  const r = r0 + lo;
  const pixels = OH * OW;
  const n = Math.floor(r / pixels);
  const oh = Math.floor((r % pixels) / OW);
  const ow = r % OW;
  if (t[P + 18]! !== 0) v.f32.fill(0, (at + n * imageStep) >>> 2, (at + (n + rows / pixels) * imageStep) >>> 2);
  const line = at + n * imageStep + oh * lineStep;
  (t[P]! === 0 ? k.im2col : k.col2im)(line + ow * rowStep, line, t[P + 2]! + lo * t[P + 17]!, rows, ow, oh, OW, OH, rowStep, lineStep, imageStep - OH * lineStep, t[P + 11]!, t[P + 12]!, t[P + 13]!, t[P + 14]!, t[P + 15]!, t[P + 16]!);
}

/**
 * A direct convolution (t[P] = 0: images b * per up to N, or where rowsPer < OH, output rows
 * rowsPer at a time, b counting them image after image) or its filter gradient (1: taps
 * (b / blocks) * per up to T, channel block b % blocks, over every image, zeroed first): t[P..] =
 * kind, x, y or dy, f or df, taps, T, OH, OW, rowBytes, pixBytes, blocks, tapBytes, image bytes of
 * x, of y, N, per, rowsPer.
 */
function directBlock(k: Kernels, t: Int32Array, _f: Float64Array, b: number, v: Views): void {
  const x = t[P + 1]!, y = t[P + 2]!, f = t[P + 3]!, taps = t[P + 4]!, T = t[P + 5]!, OH = t[P + 6]!, OW = t[P + 7]!, row = t[P + 8]!, pix = t[P + 9]!;
  const NB = t[P + 10]!, tapBytes = t[P + 11]!, xImage = t[P + 12]!, yImage = t[P + 13]!, N = t[P + 14]!, per = t[P + 15]!;
  if (t[P]! === 0) {
    const rowsPer = t[P + 16]!;
    if (rowsPer < OH) {
      const groups = Math.ceil(OH / rowsPer);
      const n = Math.floor(b / groups);
      const oh0 = (b % groups) * rowsPer;
      k.dconv(x + n * xImage + oh0 * row, f, y + n * yImage + oh0 * OW * tapBytes, taps, T, Math.min(rowsPer, OH - oh0), OW, row, pix, NB, tapBytes);
      return;
    }
    for (let n = b * per; n < Math.min(N, (b + 1) * per); n++) k.dconv(x + n * xImage, f, y + n * yImage, taps, T, OH, OW, row, pix, NB, tapBytes);
    return;
  }
  const cb = b % NB;
  const t0 = Math.floor(b / NB) * per;
  const tc = Math.min(per, T - t0);
  const df = f + t0 * tapBytes + cb * 64;
  for (let i = 0; i < tc; i++) v.f32.fill(0, (df + i * tapBytes) >>> 2, ((df + i * tapBytes) >>> 2) + 16);
  for (let n = 0; n < N; n++) k.dconvdf(x + n * xImage, y + n * yImage + cb * 64, df, taps + t0 * 4, tc, OH, OW, row, pix, 1, tapBytes);
}

/**
 * The exported functions (in export order) of the module t[P..P+2] names: its id, its bytes' byte
 * address and length. This thread instantiates it on the memory the first time it sees it.
 */
function moduleFns(k: Kernels, t: Int32Array, v: Views): ProgramRun[] {
  const id = t[P]!;
  let fns = k.modules.get(id);
  if (fns === undefined) {
    if (k.modules.size >= PROGRAM_CACHE) k.modules.clear();
    const mod = new WebAssembly.Module(new Uint8Array(v.f32.buffer, t[P + 1]! >>> 0, t[P + 2]!).slice());
    const inst = new WebAssembly.Instance(mod, { env: { mem: k.memory } });
    fns = WebAssembly.Module.exports(mod)
      .filter((e) => e.kind === 'function')
      .map((e) => inst.exports[e.name] as ProgramRun);
    k.modules.set(id, fns);
  }
  return fns;
}

/**
 * A fused elementwise program, block b: t[P..] = module id, the module's byte address and length,
 * rows, vecBytes, strideBytes, per (rows per block, or where rows is 1, bytes of the row per
 * block), operand kinds (two bits each: 0 full, 1 row, 2 column, 3 scalar), operand count, the
 * full operands read as bytes (a bit each: they move on by a quarter of the float operands' bytes),
 * then each operand's byte address (inputs, then outputs).
 */
function programBlock(k: Kernels, t: Int32Array, _f: Float64Array, b: number, v: Views): void {
  const run = moduleFns(k, t, v)[0]!;
  const rows = t[P + 3]!, vec = t[P + 4]!, stride = t[P + 5]!, per = t[P + 6]!, kinds = t[P + 7]!, n = t[P + 8]!, byteOps = t[P + 9]!;
  const a = k.args;
  a.length = 3 + n;
  let r0 = 0;
  let c0 = 0;
  if (rows > 1) {
    r0 = b * per;
    a[0] = Math.min(per, rows - r0);
    a[1] = vec;
  } else {
    c0 = b * per;
    a[0] = 1;
    a[1] = Math.min(per, vec - c0);
  }
  a[2] = stride;
  for (let i = 0; i < n; i++) {
    const kind = (kinds >>> (2 * i)) & 3;
    const full = ((byteOps >>> i) & 1) === 0 ? r0 * stride + c0 : (r0 * stride + c0) / 4;
    a[3 + i] = t[P + 10 + i]! + (kind === 0 ? full : kind === 1 ? c0 : kind === 2 ? r0 * 4 : 0);
  }
  run.apply(null, a);
}

/**
 * A list of calls of another module's functions, block b: t[P..] = module id, the module's byte
 * address and length, the list's byte address, words per call, calls per block, calls. A call is
 * the function's index among the module's exported functions, then its (int32) arguments.
 */
function callsBlock(k: Kernels, t: Int32Array, _f: Float64Array, b: number, v: Views): void {
  const fns = moduleFns(k, t, v);
  const words = t[P + 4]!, per = t[P + 5]!, n = t[P + 6]!;
  const a = k.args;
  a.length = words - 1;
  for (let c = b * per, end = Math.min(n, c + per); c < end; c++) {
    const at = (t[P + 3]! >>> 2) + c * words;
    for (let i = 1; i < words; i++) a[i - 1] = v.i32[at + i]!;
    fns[v.i32[at]!]!.apply(null, a);
  }
}

type Driver = (k: Kernels, t: Int32Array, f: Float64Array, b: number, v: Views) => void;
const DRIVERS: Driver[] = [updateBlock, poolBlock, colsumBlock, patchBlock, directBlock, programBlock, callsBlock];

/** Runs task blocks claimed from the job words until none is left, marking each done by `who` (job[1 + b]: 1 the calling thread, 2 + w worker w). */
function claimAndRun(k: Kernels, t: Int32Array, f: Float64Array, v: Views, job: Int32Array<ArrayBufferLike>, drivers: Driver[], who: number): void {
  const driver = drivers[t[T_DRIVER]!]!;
  const blocks = t[T_BLOCKS]!;
  for (;;) {
    const b = Atomics.add(job, 0, 1);
    if (b >= blocks) return;
    driver(k, t, f, b, v);
    Atomics.store(job, 1 + b, who);
  }
}

function moduleFunctions(): WasmFunction[] {
  return [
    ...UPDATE_KINDS.map(updateFunction),
    poolFunction('max'),
    poolFunction('avg'),
    argmaxPoolFunction(),
    maxPoolGradFunction(),
    avgPoolGradFunction(),
    columnSumFunction(),
    patchKernelCode('im2col', false),
    patchKernelCode('col2im', true),
    directConvFunction(),
    directConvFilterGradFunction(),
  ];
}

function kernelsOf(exports: Record<string, unknown>, memory: WebAssembly.Memory): Kernels {
  return { ...(exports as unknown as Exports), updates: UPDATE_KINDS.map((kind) => exports[kind] as UpdateFn), memory, modules: new Map(), args: [] };
}

interface Engine {
  memory: WebAssembly.Memory;
  shared: boolean;
  wasm: Uint8Array<ArrayBuffer>;
  k: Kernels;
}

function createEngine(): Engine | null {
  const heap = heapMemory();
  if (heap === null) return null;
  try {
    const wasm = wasmModule({ pages: 1, maxPages: heap.maxPages, shared: heap.shared }, moduleFunctions());
    const exports = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { mem: heap.memory } }).exports as Record<string, unknown>;
    return { memory: heap.memory, shared: heap.shared, wasm, k: kernelsOf(exports, heap.memory) };
  } catch {
    return null;
  }
}

const engine = createEngine();
const THREADS = engine !== null && engine.shared ? threadCount() : 1;
/** The job words (the block counter, then a done flag per block), where threads can run. */
const JOB_AT = engine !== null && THREADS > 1 ? heapAlloc(4 * (1 + MAX_BLOCKS)) : -1;
let job: Int32Array<ArrayBufferLike> = new Int32Array(0);
/** The calling thread's copy of the task words (the workers get theirs in their control blocks). */
const task = new Int32Array(CTRL_INTS);
const scalars = new Float64Array(8);
const views: Views = { f32: new Float32Array(0), i32: new Int32Array(0) };
/** Whether tasks are split over the shared workers now (on where they can be; the back-off). */
const policy = new SplitPolicy(JOB_AT >= 0);
let simdEnabled = engine !== null;
const WAIT_MIN_MS = 2000;
let threadedTasks = 0;
let workerBlocks = 0;
/** A fault the first worker of the next split task injects (tests only). */
let pendingFault = 0;
/** The calling thread's staging area (operands not in the heap), grown as needed. */
let stageAt = -1;
let stageCap = 0;

/** Fresh views of the memory (any allocation may have grown it). */
function refreshViews(): void {
  const buffer = heapBuffer();
  if (views.f32.buffer !== buffer) {
    views.f32 = new Float32Array(buffer);
    views.i32 = new Int32Array(buffer);
  }
  if (JOB_AT >= 0 && job.buffer !== buffer) job = new Int32Array(buffer, JOB_AT, 1 + MAX_BLOCKS);
}

/** Byte address of a staging area of at least `bytes` bytes, -1 when the memory cannot hold it. */
function stage(bytes: number): number {
  if (stageCap < bytes) {
    const cap = Math.ceil((bytes * 1.25) / 64) * 64;
    const at = heapAlloc(cap);
    if (at < 0) return -1;
    heapFree(stageAt);
    stageAt = at;
    stageCap = cap;
  }
  refreshViews();
  return stageAt;
}

/** This module's task family on the shared workers (threads.ts): the drivers and the module instantiated on the shared memory; its runTask runs a task's blocks. */
function workerSource(): string {
  return `const P = ${P}, PROGRAM_CACHE = ${PROGRAM_CACHE}, T_DRIVER = ${T_DRIVER}, T_BLOCKS = ${T_BLOCKS}, K_MAX = ${K_MAX}, K_AVG = ${K_AVG}, K_MAXGRAD = ${K_MAXGRAD};
${updateBlock.toString()}
${poolBlock.toString()}
${colsumBlock.toString()}
${patchBlock.toString()}
${directBlock.toString()}
${moduleFns.toString()}
${programBlock.toString()}
${callsBlock.toString()}
${claimAndRun.toString()}
const data = familyData;
const exports = new WebAssembly.Instance(new WebAssembly.Module(data.wasm), { env: { mem: data.memory } }).exports;
const kernels = { ...exports, updates: data.kinds.map((kind) => exports[kind]), memory: data.memory, modules: new Map(), args: [] };
const drivers = [updateBlock, poolBlock, colsumBlock, patchBlock, directBlock, programBlock, callsBlock];
const views = { f32: new Float32Array(data.memory.buffer), i32: new Int32Array(data.memory.buffer) };
let job = new Int32Array(data.memory.buffer, data.jobAt, ${1 + MAX_BLOCKS});
return function runTask(t, f) {
  if (t[${T_FAULT}] !== 0) {
    // Injected fault (tests): take a block, then exit without finishing it.
    Atomics.add(job, 0, 1);
    process.exit(3);
  }
  const buffer = data.memory.buffer;
  if (views.f32.buffer !== buffer) {
    views.f32 = new Float32Array(buffer);
    views.i32 = new Int32Array(buffer);
    job = new Int32Array(buffer, data.jobAt, ${1 + MAX_BLOCKS});
  }
  claimAndRun(kernels, t, f, views, job, drivers, data.index + 2);
};`;
}

/** This module's task family on the shared workers (-1 where there are none). */
const FAMILY = JOB_AT >= 0 ? addTaskFamily({ source: workerSource, data: () => ({ wasm: engine!.wasm, jobAt: JOB_AT, kinds: [...UPDATE_KINDS] }) }) : -1;

/**
 * Runs the task in `task`/`scalars` (its blocks) on the calling thread and, when the pool is up,
 * the workers. A block a failed worker left unfinished is run again here when `rerunnable`, else
 * the run fails naming `what` (an update applied in place cannot be applied twice).
 */
function runBlocks(driver: number, blocks: number, threaded: boolean, rerunnable: boolean, what: string): void {
  const k = engine!.k;
  task[T_DRIVER] = driver;
  task[T_BLOCKS] = blocks;
  const p = threaded && blocks > 1 && policy.enabled ? sharedPoolReady() : null;
  if (p === null || !policy.take()) {
    for (let b = 0; b < blocks; b++) DRIVERS[driver]!(k, task, scalars, b, views);
    return;
  }
  threadedTasks++;
  job[0] = 0;
  job.fill(0, 1, 1 + blocks);
  for (let w = 0; w < p.size; w++) {
    const { ints, f64 } = p.args(w);
    ints.set(task.subarray(ARG), ARG);
    ints[T_FAULT] = w === 0 ? pendingFault : 0;
    f64.set(scalars);
    p.start(w, FAMILY);
  }
  const fault = pendingFault;
  pendingFault = 0;
  const t0 = performance.now();
  claimAndRun(k, task, scalars, views, job, DRIVERS, 1);
  const t1 = performance.now();
  const patience = WAIT_MIN_MS + 20 * (t1 - t0);
  let mine = 0;
  for (let b = 0; b < blocks; b++) if (job[1 + b] === 1) mine++;
  const poll = pollMs(t1 - t0, mine);
  let failed = false;
  for (let w = 0; w < p.size; w++) {
    if ((w > 0 || fault === 0) && p.cancel(w)) continue;
    if (p.wait(w, patience, poll) !== 'done') failed = true;
  }
  if (!failed) {
    workerBlocks += blocks - mine;
    // The calling thread's time per block, times the blocks, is what it would have taken alone.
    policy.record((((t1 - t0) / Math.max(1, mine)) * blocks) / (performance.now() - t0));
    return;
  }
  retireSharedPool(p);
  for (let b = 0; b < blocks; b++) {
    if (Atomics.load(job, 1 + b) !== 0) continue;
    if (!rerunnable) throw new InternalError(`${what}: a worker thread of the CPU backend failed in a block that cannot be run again (it updates its operands in place)`);
    DRIVERS[driver]!(k, task, scalars, b, views);
  }
}

/** Whether these kernels can run here (WebAssembly SIMD on the heap memory). */
export function parallelAvailable(): boolean {
  return engine !== null;
}

/** Turns the optimizer-update kernels on or off (tests compare them with the TypeScript loops); returns the previous setting. */
export function setUpdateSimdEnabled(on: boolean): boolean {
  const prev = simdEnabled;
  simdEnabled = on && engine !== null;
  return prev;
}

/** Whether large problems can be split over worker threads here (shared memory, more than one thread). */
export function parallelThreadsAvailable(): boolean {
  return JOB_AT >= 0 && sharedPoolAvailable();
}

/** Turns the worker threads on or off (tests compare both); returns the previous setting. */
export function setParallelThreadsEnabled(on: boolean): boolean {
  return policy.setEnabled(on);
}

/** Turns off (tests, benchmarks) or on the backing off from threads after splits that did not pay; returns the previous setting. */
export function setParallelBackoff(on: boolean): boolean {
  return policy.setBackoff(on);
}

/** For tests: the first worker of the next split task takes a block and exits without finishing it, as a crashing thread would. */
export function injectParallelFault(): void {
  pendingFault = 1;
}

/** Starts the workers now rather than at the first large problem; resolves to whether they run. */
export async function startParallelThreads(): Promise<boolean> {
  return policy.enabled && (await startSharedPool());
}

/** Stops the worker threads, which every kernel family shares (they start again at the next large task). */
export async function stopParallelThreads(): Promise<void> {
  await stopSharedPool();
}

/** How many tasks have been split over the workers, and how many of their blocks the workers ran, since the process started. */
export function parallelThreadedTasks(): { tasks: number; workerBlocks: number } {
  return { tasks: threadedTasks, workerBlocks };
}

/**
 * Elements from which an update (all of its operands in the heap) is split over the threads: about
 * 0.1 ms of GradientDescent on one thread (waking a worker costs tens of microseconds).
 */
export const UPDATE_THREAD_MIN = 1 << 18;
/** Elements per block of a split update, and per chunk of one staged through the staging area. */
const UPDATE_BLOCK = 1 << 14;

/** Where `a` starts in the heap, or -1 when it is not in it (or a 16-byte read at its end could leave the memory). */
function addressOf(a: Float32Array | Int32Array, memEnd: number): number {
  const at = heapAddress(a);
  return at >= 0 && at + a.byteLength + 16 <= memEnd ? at : -1;
}

/**
 * Applies the `kind` update to the first n - n % 4 elements of refs (variable, then slots, in
 * place) with `grad` and the kind's scalars (see FORMULAS); returns how many elements it updated
 * (0 when the kernels are unavailable): the caller's TypeScript loop does the rest. In place and
 * split over the threads when every operand is in the heap, else through the staging area.
 */
export function applyUpdateSimd(kind: UpdateKind, refs: readonly Float32Array[], grad: Float32Array, s: readonly number[], what: string): number {
  if (!simdEnabled || !(grad instanceof Float32Array) || refs.some((r) => !(r instanceof Float32Array))) return 0;
  const n = grad.length & ~3;
  if (n === 0) return 0;
  const { refs: nRefs } = FORMULAS[kind];
  refreshViews();
  const memEnd = views.f32.buffer.byteLength;
  task[P] = UPDATE_KINDS.indexOf(kind);
  scalars.fill(0);
  for (let i = 0; i < s.length; i++) scalars[i] = s[i]!;
  const at = [...refs.slice(0, nRefs), grad].map((a) => addressOf(a, memEnd));
  if (at.every((a) => a >= 0)) {
    const blockFloats = Math.max(UPDATE_BLOCK, Math.ceil(n / MAX_BLOCKS / 4) * 4);
    task[P + 1] = blockFloats * 4;
    task[P + 2] = n * 4;
    for (let r = 0; r < 4; r++) task[P + 3 + r] = r < nRefs ? at[r]! : 0;
    task[P + 7] = at[nRefs]!;
    runBlocks(D_UPDATE, Math.ceil(n / blockFloats), n >= UPDATE_THREAD_MIN, false, what);
    return n;
  }
  // Staged: each operand not in the heap is copied in a chunk at a time, the refs copied back.
  const chunk = Math.min(n, UPDATE_BLOCK);
  const base = stage((nRefs + 1) * chunk * 4);
  if (base < 0) return 0;
  const operands = [...refs.slice(0, nRefs), grad];
  for (let lo = 0; lo < n; lo += chunk) {
    const len = Math.min(chunk, n - lo);
    for (let r = 0; r <= nRefs; r++) {
      const a = at[r]!;
      if (a >= 0) task[r < nRefs ? P + 3 + r : P + 7] = a + lo * 4;
      else {
        const s0 = base + r * chunk * 4;
        views.f32.set(operands[r]!.subarray(lo, lo + len), s0 >>> 2);
        task[r < nRefs ? P + 3 + r : P + 7] = s0;
      }
    }
    task[P + 1] = task[P + 2] = len * 4;
    runBlocks(D_UPDATE, 1, false, false, what);
    for (let r = 0; r < nRefs; r++) if (at[r]! < 0) refs[r]!.set(views.f32.subarray((base >>> 2) + r * chunk, (base >>> 2) + r * chunk + len), lo);
  }
  return n;
}

/** Pooling geometry in NHWC: input [N, H, W, C], output [N, OH, OW, C] (a window op's geometry without dilations). */
export type PoolGeometry = Omit<Geom, 'dH' | 'dW'>;

/** Input floats from which pooling (all operands in the heap) is split over the threads by images. */
export const POOL_THREAD_MIN = 1 << 17;

function setPoolTask(kind: number, g: PoolGeometry, a: number, b: number, c: number, N: number, per: number): void {
  task[P] = kind;
  task[P + 1] = a;
  task[P + 2] = b;
  task[P + 3] = c;
  task.set([N, g.H, g.W, g.C, g.KH, g.KW, g.OH, g.OW, g.sH, g.sW, g.padT, g.padL, per], P + 4);
}

/**
 * One pooling kernel over NHWC images: `inputs` are the per-image operands read (x and/or dy),
 * `output` the one written (y or dx), with their floats per image. In place and split over the
 * threads by images when every operand is in the heap and C is a multiple of 4 (the SIMD loops
 * then touch nothing past a pixel's channels), else an image at a time through the staging area.
 */
function poolRun(kind: number, g: PoolGeometry, x: Float32Array | null, dy: Float32Array | null, out: Float32Array): void {
  const inF = g.H * g.W * g.C;
  const outF = g.OH * g.OW * g.C;
  const grad = kind >= K_MAXGRAD;
  refreshViews();
  const memEnd = views.f32.buffer.byteLength;
  const ax = x === null ? 0 : addressOf(x, memEnd);
  const ady = dy === null ? 0 : addressOf(dy, memEnd);
  const aout = addressOf(out, memEnd);
  if (g.C % 4 === 0 && ax >= 0 && ady >= 0 && aout >= 0) {
    const [a, b, c] = grad ? [ax, ady, aout] : [ax, aout, 0];
    const threaded = g.N > 1 && g.N * inF >= POOL_THREAD_MIN;
    // A few blocks per thread, so that a descheduled worker holds up little.
    const per = threaded ? Math.max(1, Math.floor(g.N / (4 * THREADS))) : g.N;
    setPoolTask(kind, g, a, b, c, g.N, per);
    runBlocks(D_POOL, Math.ceil(g.N / per), threaded, true, 'pooling');
    return;
  }
  // Staged: x (or its slot), dy, then the output, each image's with 16 bytes of slack.
  const xF = inF + 4;
  const dyF = (grad ? outF : 0) + 4;
  const base = stage((xF + dyF + (grad ? inF : outF) + 4) * 4);
  if (base < 0) throw new InternalError('pooling: the WebAssembly memory cannot hold one image');
  const xAt = base;
  const dyAt = base + xF * 4;
  const oAt = dyAt + dyF * 4;
  const f32 = views.f32;
  if (grad) setPoolTask(kind, g, xAt, dyAt, oAt, 1, 1);
  else setPoolTask(kind, g, xAt, oAt, 0, 1, 1);
  for (let n = 0; n < g.N; n++) {
    if (x !== null) f32.set(x.subarray(n * inF, (n + 1) * inF), xAt >>> 2);
    if (dy !== null) f32.set(dy.subarray(n * outF, (n + 1) * outF), dyAt >>> 2);
    runBlocks(D_POOL, 1, false, true, 'pooling');
    const o = grad ? inF : outF;
    out.set(f32.subarray(oAt >>> 2, (oAt >>> 2) + o), n * o);
  }
}

/**
 * Max or average pooling of NHWC x into y over the channels, four at a time. The average counts
 * only the window taps inside the input, like TensorFlow; it sums the taps before scaling, so it
 * may differ from the TypeScript loop in the last bits. A window with no tap inside the input gives
 * -Infinity (max) or 0 (average).
 */
export function poolSimd(kind: 'max' | 'avg', g: PoolGeometry, x: Float32Array, y: Float32Array): void {
  poolRun(kind === 'max' ? K_MAX : K_AVG, g, x, null, y);
}

/**
 * dx (NHWC, overwritten) = MaxPool's gradient: each output gradient added, in output order, to
 * its window's maximum (the first in row-major window order on ties; NaNs passed over unless
 * first), float32 additions as TypeScript's `dx[arg[o]] += dy[o]`: bit for bit that loop's result.
 */
export function maxPoolGradSimd(g: PoolGeometry, x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  poolRun(K_MAXGRAD, g, x, dy, dx);
}

/**
 * The gradient of average pooling: dx (NHWC, overwritten) gets, for every output element in
 * order, dy / (the number of its window's taps inside the input) added at each of those taps,
 * rounded as TypeScript's `dx += dy * inv` rounds it, so the result is bit for bit the
 * TypeScript loop's.
 */
export function avgPoolGradSimd(g: PoolGeometry, dy: Float32Array, dx: Float32Array): void {
  poolRun(K_AVGGRAD, g, null, dy, dx);
}

/**
 * arg[o] = the NHWC index into x of output element o's window maximum (the first in row-major
 * window order on ties; NaNs passed over unless first), or -1 for a window with no tap inside the
 * input: the same indices as the TypeScript loop. One image at a time through the staging area.
 */
export function maxPoolArgmaxSimd(g: PoolGeometry, x: Float32Array, arg: Int32Array): void {
  const k = engine!.k;
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, padT, padL } = g;
  const inFloats = H * W * C;
  const outFloats = OH * OW * C;
  const base = stage((inFloats + outFloats + 8) * 4);
  if (base < 0) throw new InternalError('MaxPool: the WebAssembly memory cannot hold one image');
  const xAt = base >>> 2;
  const yAt = xAt + inFloats + 4;
  const f32 = views.f32;
  const i32 = new Int32Array(f32.buffer);
  const cBytes = ((C + 3) >> 2) << 4;
  for (let n = 0; n < N; n++) {
    f32.set(x.subarray(n * inFloats, (n + 1) * inFloats), xAt);
    // Pixels go in order: a pixel's rounded-up channel tail spills into the next pixel's slots,
    // which that pixel then overwrites.
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * sH - padT;
      const h0 = Math.max(hs, 0);
      const h1 = Math.min(hs + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * sW - padL;
        const w0 = Math.max(ws, 0);
        const w1 = Math.min(ws + KW, W);
        const yi = yAt + (oh * OW + ow) * C;
        if (h0 >= h1 || w0 >= w1) i32.fill(-1, yi, yi + C);
        else k.argmaxpool((xAt + (h0 * W + w0) * C) * 4, yi * 4, cBytes, W * C * 4, C * 4, h1 - h0, w1 - w0);
      }
    }
    const shift = n * inFloats - xAt;
    const o0 = n * outFloats;
    for (let i = 0; i < outFloats; i++) {
      const a = i32[yAt + i]!;
      arg[o0 + i] = a < 0 ? -1 : a + shift;
    }
  }
}

/** Floats from which column sums (x in the heap) are split over the threads by columns. */
export const COLSUM_THREAD_MIN = 1 << 18;

/**
 * out[j] = the float64 sum of x[i*cols + j] over rows i < rows, added row after row: the same
 * sums, bit for bit, as a TypeScript loop adding each row to float64 accumulators. In place and
 * split over the threads by columns when x is in the heap, else a chunk of rows at a time through
 * the staging area.
 */
export function sumColumnsSimd(x: Float32Array, rows: number, cols: number, out: Float64Array, what = 'BiasAddGrad'): void {
  const vecs = (cols + 3) >> 2;
  const accBytes = vecs * 32;
  refreshViews();
  const ax = addressOf(x, views.f32.buffer.byteLength);
  if (ax >= 0) {
    const acc = stage(accBytes);
    if (acc < 0) throw new InternalError(`${what}: the WebAssembly memory cannot hold its sums`);
    // Blocks of whole cache lines of a row (four vectors), so that no two threads read the same line.
    const threaded = rows * cols >= COLSUM_THREAD_MIN && vecs > 4;
    const per = threaded ? Math.ceil(vecs / (2 * THREADS) / 4) * 4 : vecs;
    task.set([ax, acc, rows, cols * 4, per, vecs], P);
    if (rows > 0) runBlocks(D_COLSUM, Math.ceil(vecs / per), threaded, true, what);
    else views.f32.fill(0, acc >>> 2, (acc + accBytes) >>> 2);
    out.set(new Float64Array(views.f32.buffer, acc, vecs * 4).subarray(0, cols));
    return;
  }
  const rowsPerChunk = Math.max(1, Math.floor(16384 / cols));
  const chunkRows = Math.min(rows, rowsPerChunk);
  const base = stage(accBytes + (chunkRows * cols + 4) * 4);
  if (base < 0) throw new InternalError(`${what}: the WebAssembly memory cannot hold its sums`);
  const xAt = base + accBytes;
  views.f32.fill(0, base >>> 2, xAt >>> 2);
  for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
    const rh = Math.min(rowsPerChunk, rows - r0);
    views.f32.set(x.subarray(r0 * cols, (r0 + rh) * cols), xAt >>> 2);
    engine!.k.colsum(xAt, base, rh, cols * 4, vecs * 16);
  }
  out.set(new Float64Array(views.f32.buffer, base, vecs * 4).subarray(0, cols));
}

/** Patch-row floats from which im2col and col2im (in the heap) are split over the threads: about 0.1 ms of copying on one thread. */
export const PATCH_THREAD_MIN = 1 << 18;

/**
 * Runs the im2col (`adjoint` false) or col2im (true) kernel over patch rows [r0, r0 + rows) of the
 * NHWC input at byte `at` (geometry g with every tap inside it: no padding left) and the patch rows
 * at byte `colAt`, both in the heap. im2col splits over the threads by rows. col2im adds into the
 * input, so it splits by whole images, and only when `zeroImages` says the rows are whole images
 * whose input the kernel is to zero first (each block zeroes its own images, so a block left
 * unfinished by a failed worker can run again); otherwise the caller zeroes the input and it runs
 * on the calling thread. Every element gets the same additions in the same order either way.
 */
export function patchRowsSimd(adjoint: boolean, g: Geom, at: number, r0: number, rows: number, colAt: number, zeroImages: boolean): void {
  if (rows <= 0) return;
  const { H, W, C, KH, KW, OH, OW, sH, sW, dH, dW } = g;
  const K = KH * KW * C;
  const pixels = OH * OW;
  let threaded = rows * K >= PATCH_THREAD_MIN;
  let per = rows;
  if (!adjoint) {
    if (threaded) per = Math.max(Math.ceil(rows / (4 * THREADS)), Math.ceil(rows / MAX_BLOCKS));
  } else if (zeroImages) {
    if (r0 % pixels !== 0 || rows % pixels !== 0) throw new InternalError(`col2im: rows [${r0}, ${r0 + rows}) are not whole images of ${pixels} rows`);
    const images = rows / pixels;
    threaded &&= images > 1;
    if (threaded) per = Math.max(1, Math.floor(images / (4 * THREADS))) * pixels;
  } else threaded = false;
  const lineStep = sH * W * C * 4;
  // Undilated along the width, a filter row's taps are one run of KW * C floats; else KW runs of C.
  const [runs, len] = dW === 1 ? [1, KW * C] : [KW, C];
  task.set([adjoint ? 1 : 0, at, colAt, r0, rows, per, OW, OH, sW * C * 4, lineStep, H * W * C * 4, KH, dH * W * C * 4, runs, (dW - 1) * C * 4, len >> 2, len & 3, K * 4, adjoint && zeroImages ? 1 : 0], P);
  refreshViews();
  runBlocks(D_PATCH, Math.ceil(rows / per), threaded, true, adjoint ? 'col2im' : 'im2col');
}

/** Multiply-adds from which a direct convolution or its filter gradient is split over the threads. */
export const DIRECT_THREAD_MIN = 1 << 20;

/**
 * The heap layout of a direct convolution: tap offsets (bytes from a window's first tap), the
 * filter (or its gradient) with rows of OCp floats (OC rounded up to 16; padding columns zero), the
 * input (in place where it is in the heap and no window overhangs, else a zero-padded copy of every
 * image), and the outputs (or output gradients) with OCp floats per pixel (in place where OCp = OC
 * and they are in the heap). `scratch` is the allocation to free.
 */
interface DirectLayout {
  scratch: number;
  taps: number;
  f: number;
  x: number;
  y: number;
  yInPlace: boolean;
  T: number;
  OCp: number;
  /** Width of the images as laid out at x, and bytes per image. */
  Wx: number;
  xImage: number;
}

function directLayout(g: Geom, OC: number, x: Float32Array, y: Float32Array): DirectLayout {
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, dH, dW, padT, padL } = g;
  const Hp = (OH - 1) * sH + (KH - 1) * dH + 1;
  const Wp = (OW - 1) * sW + (KW - 1) * dW + 1;
  const T = KH * KW * C;
  const OCp = ((OC + 15) >> 4) << 4;
  const pixels = OH * OW;
  refreshViews();
  let memEnd = views.f32.buffer.byteLength;
  const xIn = padT === 0 && padL === 0 && Hp <= H && Wp <= W && addressOf(x, memEnd) >= 0;
  const yIn = OCp === OC && addressOf(y, memEnd) >= 0;
  const up16 = (floats: number): number => ((floats + 3) >> 2) << 4;
  const fBytes = up16(T * OCp);
  const xBytes = xIn ? 0 : up16(N * Hp * Wp * C);
  const yBytes = yIn ? 0 : up16(N * pixels * OCp);
  const scratch = heapAlloc(up16(T) + fBytes + xBytes + yBytes + 16);
  if (scratch < 0) throw new ResourceExhaustedError(`the CPU backend's WebAssembly memory cannot hold a direct convolution's ${up16(T) + fBytes + xBytes + yBytes} bytes of staging`);
  refreshViews();
  memEnd = views.f32.buffer.byteLength;
  const taps = scratch;
  const f = taps + up16(T);
  const Wx = xIn ? W : Wp;
  const taps32 = new Int32Array(views.f32.buffer, taps, T);
  let t = 0;
  for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) for (let c = 0; c < C; c++) taps32[t++] = ((kh * dH * Wx + kw * dW) * C + c) * 4;
  let xAt = addressOf(x, memEnd);
  if (!xIn) {
    xAt = f + fBytes;
    const f32 = views.f32;
    const base = xAt >>> 2;
    f32.fill(0, base, base + N * Hp * Wp * C);
    // Padded row r, column s hold input row r - padT, column s - padL.
    const s0 = Math.max(0, padL);
    const s1 = Math.min(Wp, W + padL);
    for (let n = 0; n < N && s0 < s1; n++) {
      for (let r = Math.max(0, padT); r < Math.min(Hp, H + padT); r++) {
        const src = ((n * H + r - padT) * W + (s0 - padL)) * C;
        f32.set(x.subarray(src, src + (s1 - s0) * C), base + ((n * Hp + r) * Wp + s0) * C);
      }
    }
  }
  const yAt = yIn ? addressOf(y, memEnd) : f + fBytes + xBytes;
  return { scratch, taps, f, x: xAt, y: yAt, yInPlace: yIn, T, OCp, Wx, xImage: (xIn ? H * W : Hp * Wp) * C * 4 };
}

function setDirectTask(kind: number, g: Geom, L: DirectLayout, per: number, rowsPer: number): void {
  const { C, OH, OW, sH, sW } = g;
  task.set([kind, L.x, L.y, L.f, L.taps, L.T, OH, OW, sH * L.Wx * C * 4, sW * C * 4, L.OCp >> 4, L.OCp * 4, L.xImage, OH * OW * L.OCp * 4, g.N, per, rowsPer], P);
}

/**
 * y (NHWC, [N, OH, OW, OC], overwritten) = the convolution of NHWC x with filter f ([KH, KW, C,
 * OC]) computed directly: each output pixel's channels, 16 at a time, summed over the KH * KW * C
 * taps in order, in float32. For few input channels, where im2col's patch rows are short and the
 * GEMM's inner dimension small. Split over the threads by images, or by output rows where the
 * images are fewer than twice the threads (batch-1 inference on a large image).
 */
export function directConvSimd(g: Geom, OC: number, x: Float32Array, f: Float32Array, y: Float32Array): void {
  if (g.KH * g.KW * g.C === 0) {
    y.fill(0);
    return;
  }
  const L = directLayout(g, OC, x, y);
  try {
    const { T, OCp } = L;
    const f32 = views.f32;
    const fBase = L.f >>> 2;
    if (OCp === OC) f32.set(f.subarray(0, T * OC), fBase);
    else {
      f32.fill(0, fBase, fBase + T * OCp);
      for (let k = 0; k < T; k++) f32.set(f.subarray(k * OC, (k + 1) * OC), fBase + k * OCp);
    }
    const pixels = g.OH * g.OW;
    const threaded = g.N * pixels * OCp * T >= DIRECT_THREAD_MIN;
    // A few blocks per thread: of images, or of output rows where the images are fewer.
    let per = g.N;
    let rowsPer = g.OH;
    if (threaded && g.N >= 2 * THREADS) per = Math.max(1, Math.floor(g.N / (4 * THREADS)));
    else if (threaded) rowsPer = Math.ceil(g.OH / Math.min(g.OH, Math.ceil((4 * THREADS) / g.N)));
    setDirectTask(0, g, L, per, rowsPer);
    runBlocks(D_DIRECT, rowsPer < g.OH ? g.N * Math.ceil(g.OH / rowsPer) : Math.ceil(g.N / per), threaded, true, 'Conv2D');
    if (!L.yInPlace) {
      refreshViews();
      const out = views.f32.subarray(L.y >>> 2, (L.y >>> 2) + g.N * pixels * OCp);
      if (OCp === OC) y.set(out);
      else for (let p = 0; p < g.N * pixels; p++) y.set(out.subarray(p * OCp, p * OCp + OC), p * OC);
    }
  } finally {
    heapFree(L.scratch);
  }
}

/**
 * df ([KH, KW, C, OC], overwritten) = the filter gradient of `directConvSimd` for output gradient
 * dy, directly: each filter value sums x * dy over the images and their output pixels in order, in
 * float32. Split over the threads by groups of taps and blocks of 16 output channels (each filter
 * value is summed by one thread, in the same order whatever the thread count).
 */
export function directConvFilterGradSimd(g: Geom, OC: number, x: Float32Array, dy: Float32Array, df: Float32Array): void {
  if (df.length === 0) return;
  if (g.N * g.OH * g.OW === 0) {
    df.fill(0);
    return;
  }
  const L = directLayout(g, OC, x, dy);
  try {
    const { T, OCp } = L;
    const pixels = g.OH * g.OW;
    if (!L.yInPlace) {
      const f32 = views.f32;
      const base = L.y >>> 2;
      if (OCp === OC) f32.set(dy.subarray(0, g.N * pixels * OC), base);
      else {
        f32.fill(0, base, base + g.N * pixels * OCp);
        for (let p = 0; p < g.N * pixels; p++) f32.set(dy.subarray(p * OC, (p + 1) * OC), base + p * OCp);
      }
    }
    const NB = OCp >> 4;
    const threaded = g.N * pixels * OCp * T >= DIRECT_THREAD_MIN;
    // About a block per thread: the channel blocks, cut into groups of taps only where they are
    // fewer than the threads (every group reads all of its channels' dy: two blocks per thread at
    // 64x28x28x1 -> 32 took 2.4 ms where one takes 2.1, one thread 3.2, median of 21 each).
    const groups = threaded && policy.enabled && THREADS > 1 ? Math.min(T, Math.max(1, Math.ceil(THREADS / NB))) : 1;
    const per = Math.ceil(T / groups);
    setDirectTask(1, g, L, per, g.OH);
    runBlocks(D_DIRECT, NB * Math.ceil(T / per), threaded, true, 'Conv2DBackpropFilter');
    refreshViews();
    const out = views.f32.subarray(L.f >>> 2, (L.f >>> 2) + T * OCp);
    if (OCp === OC) df.set(out);
    else for (let k = 0; k < T; k++) df.set(out.subarray(k * OCp, k * OCp + OC), k * OC);
  } finally {
    heapFree(L.scratch);
  }
}

// ---- fused elementwise programs ----

/**
 * A WebAssembly module of another kernel file whose functions run on the workers too (fused
 * programs, call lists): an id, its bytes' address in the heap (-1: none, the workers cannot run
 * it) and length, and its exported functions on this thread, in their export order.
 */
export interface SharedModule {
  readonly id: number;
  readonly at: number;
  readonly length: number;
  readonly fns: readonly ProgramRun[];
}

/**
 * Registers a module (its bytes, and its instance on the heap memory here) for the workers: its
 * bytes are copied once into the heap, where a worker reads them the first time it runs it.
 */
export function sharedModule(bytes: Uint8Array, module: WebAssembly.Module, instance: WebAssembly.Instance): SharedModule {
  const at = engine !== null && THREADS > 1 ? heapAlloc(bytes.length) : -1;
  if (at >= 0) new Uint8Array(heapBuffer(), at, bytes.length).set(bytes);
  const fns = WebAssembly.Module.exports(module)
    .filter((e) => e.kind === 'function')
    .map((e) => instance.exports[e.name] as ProgramRun);
  return { id: moduleIds++, at, length: bytes.length, fns };
}
let moduleIds = 0;

/** Puts m's functions in this thread's cache and m's id, address and length in the task words. */
function useModule(m: SharedModule): void {
  const k = engine!.k;
  if (!k.modules.has(m.id)) {
    if (k.modules.size >= PROGRAM_CACHE) k.modules.clear();
    k.modules.set(m.id, m.fns as ProgramRun[]);
  }
  task[P] = m.id;
  task[P + 1] = m.at;
  task[P + 2] = m.length;
}

/** Operand kinds of a program split over the threads (two bits each in its kind word). */
export const PROGRAM_FULL = 0;
export const PROGRAM_ROW = 1;
export const PROGRAM_COL = 2;
export const PROGRAM_SCALAR = 3;
/** Operands (inputs and outputs) a split program may have: the task words hold their addresses. */
const PROGRAM_MAX_OPERANDS = 16;
/**
 * Elements from which a fused program (its whole operands in the heap) is split over the threads:
 * about 0.2 ms of one thread's work (cache-resident operands), three times a worker's wake-up.
 * Elementwise kernels are bound by memory traffic, so a split pays less than the arithmetic alone
 * suggests; the backoff in runBlocks stops splitting where it measures no gain.
 */
export const PROGRAM_THREAD_MIN = 1 << 20;
/** Elements per block of a split program. */
const PROGRAM_BLOCK = 1 << 14;

/**
 * Runs a fused program's run(rows, vecBytes, strideBytes, addresses...) in blocks of rows (of the
 * row, where rows is 1) that the calling thread and the workers claim; false (nothing run) where it
 * cannot split: no threads, a module not in the heap, too many operands. `kinds` gives each
 * operand's kind, two bits each (PROGRAM_FULL, ...), and `byteOperands` a bit for each full operand
 * read as bytes (bool inputs). A block a failed worker left unfinished is run
 * again here when `rerunnable` (no output is an input), else the run fails naming `what`.
 */
export function runProgramSplit(
  m: SharedModule,
  rows: number,
  vecBytes: number,
  strideBytes: number,
  addrs: readonly number[],
  kinds: number,
  byteOperands: number,
  rerunnable: boolean,
  what: string,
): boolean {
  if (engine === null || !policy.enabled || m.at < 0 || addrs.length > PROGRAM_MAX_OPERANDS) return false;
  const floats = (rows * vecBytes) / 4;
  const blockFloats = Math.max(PROGRAM_BLOCK, Math.ceil(floats / MAX_BLOCKS));
  let per: number;
  let blocks: number;
  if (rows > 1) {
    per = Math.max(1, Math.round((blockFloats * 4) / vecBytes));
    blocks = Math.ceil(rows / per);
  } else {
    per = Math.ceil(blockFloats / 4) * 16;
    blocks = Math.ceil(vecBytes / per);
  }
  if (blocks > MAX_BLOCKS) return false;
  refreshViews();
  useModule(m);
  task[P + 3] = rows;
  task[P + 4] = vecBytes;
  task[P + 5] = strideBytes;
  task[P + 6] = per;
  task[P + 7] = kinds;
  task[P + 8] = addrs.length;
  task[P + 9] = byteOperands;
  for (let i = 0; i < addrs.length; i++) task[P + 10 + i] = addrs[i]!;
  runBlocks(D_PROGRAM, blocks, true, rerunnable, what);
  return true;
}

// ---- other modules' functions, called over the threads ----

/**
 * Calls of a shared module's functions, listed in the heap (`words` int32 each: the function's
 * index in m.fns, then its int32 arguments) to be run by the calling thread and the workers: the
 * calls must write disjoint memory and read nothing any of them writes (a block a failed worker
 * left unfinished runs again on the calling thread).
 */
export class CallList {
  private at = -1;
  private list: Int32Array = new Int32Array(0);
  private n = 0;

  constructor(
    private readonly m: SharedModule,
    private readonly words: number,
  ) {}

  add(fn: number, ...args: number[]): void {
    // An allocation since the last call may have grown (and, unshared, detached) the memory.
    if (this.at >= 0 && this.list.buffer !== heapBuffer()) this.list = new Int32Array(heapBuffer(), this.at, this.list.length);
    if ((this.n + 1) * this.words > this.list.length) {
      const old = this.list.slice(0, this.n * this.words);
      const length = Math.max(64, 2 * (this.n + 1)) * this.words;
      const at = heapAlloc(length * 4);
      this.list = at >= 0 ? new Int32Array(heapBuffer(), at, length) : new Int32Array(length);
      this.list.set(old);
      heapFree(this.at);
      this.at = at;
    }
    const c = this.n++ * this.words;
    this.list[c] = fn;
    for (let i = 0; i < args.length; i++) this.list[c + 1 + i] = args[i]!;
  }

  /**
   * Runs the listed calls in `blocks` blocks (of whole calls), split over the threads when
   * `threaded`, and empties the list. Where these kernels are not, or the list is not in the heap,
   * they run one after another here.
   */
  run(blocks: number, threaded: boolean): void {
    if (!(this.at >= 0 && runCalls(this.m, this.at, this.words, this.n, Math.max(1, Math.ceil(this.n / blocks)), threaded))) {
      for (let c = 0; c < this.n; c++) this.m.fns[this.list[c * this.words]!]!(...this.list.subarray(c * this.words + 1, (c + 1) * this.words));
    }
    this.n = 0;
  }

  free(): void {
    heapFree(this.at);
    this.at = -1;
  }
}

/**
 * Runs `count` calls listed at byte address `list` (see CallList) in blocks of `per` calls that the
 * calling thread and, when `threaded`, the workers claim. False (nothing run) where these kernels
 * are not.
 */
function runCalls(m: SharedModule, list: number, words: number, count: number, per: number, threaded: boolean): boolean {
  if (engine === null || count <= 0) return engine !== null;
  const blocks = Math.ceil(count / per);
  if (blocks > MAX_BLOCKS) return false;
  refreshViews();
  useModule(m);
  task[P + 3] = list;
  task[P + 4] = words;
  task[P + 5] = per;
  task[P + 6] = count;
  runBlocks(D_CALLS, blocks, threaded && m.at >= 0, true, 'a call list');
  return true;
}
