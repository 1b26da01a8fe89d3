// Winograd convolution F(2x2,3x3) and F(4x4,3x3) (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015) for 3x3, stride-1, undilated convolutions in NHWC: each
// m x m block of outputs is A^T [(G g G^T) . (B^T d B)] A over the (m+2) x (m+2) input tile d
// under it, so the 9 m^2 multiplications per block and channel pair of im2col become (m+2)^2:
// 2.25x fewer for m = 2, 4x for m = 4. The filter transform U = G g G^T ((m+2)^2 planes of
// C x OC) is made per call (the filter changes every training step); the input transform
// V = B^T d B (planes of tiles x C) and the output transform are memory-bound passes over the
// channel axis, in WebAssembly SIMD on the heap, generated from the matrices (TypeScript loops
// that round the same way without it); the (m+2)^2 products M = V U are one sgemmBatched. The
// input gradient at stride 1 is such a convolution of dy with the filter turned (conv.ts,
// `flipped`); the filter gradient is G^T [sum over tiles of (B^T d B) . (A dy A^T)] G, the GEMMs
// accumulated over the tiles.
//
// Tiles go in chunks whose planes take about 1 MiB (but at least 128 tiles), so the transforms'
// output is still in cache when the GEMMs read it. At 64 channels that makes each plane's GEMM too
// small for sgemm to split over the threads, so sgemmBatched hands the planes out whole to the
// calling thread and the workers: conv3x3_train_step's convolutions (32x32x32x64 -> 64, F(4x4))
// went from 36-40 ms each with the planes one after another to 22-25. The planes lie a cache line
// more than a power of two apart (planeStride): the transforms write all alpha^2 of them at once,
// and at 32 KiB apart they evicted each other (the workload's step 133-139 ms, then 96-106). The
// tile and output transforms of a chunk are lists of calls (one per run of tiles in a row) that
// parallel.ts's CallList splits over its workers.
//
// F(2x2,3x3)'s constants (0, +-1, +-1/2) are exact in float32; F(4x4,3x3)'s are not (1/6, 1/12,
// 1/24) and reach 8, so its error is larger (test/winograd.test.ts bounds both).
import type { Geom } from '../../window_geometry.js';
import { sgemmBatched } from '../gemm.js';
import { heapAddress, heapAlloc, heapBuffer, heapFree, heapMemory } from '../heap.js';
import { CallList, sharedModule, type SharedModule } from '../parallel.js';
import {
  BR_IF,
  END,
  F32,
  F32_LOAD,
  F32_STORE,
  F32X4_ADD,
  F32X4_MUL,
  F32X4_NEG,
  f32Const,
  f32x4Const,
  F32X4_SUB,
  FunctionBuilder,
  get,
  I32,
  I32_ADD,
  I32_GT_S,
  I32_SUB,
  i32Const,
  IF,
  LOOP,
  set,
  simdMem,
  simd,
  tee,
  V128,
  V128_LOAD,
  V128_STORE,
  VOID,
  wasmModule,
} from '../wasm.js';

const F32_ADD_OP = 0x92;
const F32_SUB_OP = 0x93;
const F32_MUL_OP = 0x94;
const F32_NEG_OP = 0x8c;

/**
 * Scratch floats in the WebAssembly heap (runtime/cpu/heap.ts), where the GEMM reads its operands
 * without copying them, or an ordinary array when the heap cannot hold them (conv.ts's patch rows
 * use it too).
 */
export class Scratch {
  private readonly at: number;
  private readonly own: Float32Array | null;
  constructor(readonly floats: number) {
    this.at = heapAlloc(floats * 4);
    this.own = this.at < 0 ? new Float32Array(floats) : null;
  }

  /** Byte address in the heap, or -1 for an ordinary array. */
  get address(): number {
    return this.at;
  }

  /** The scratch as floats; re-read after a GEMM (any heap allocation may grow the memory, which detaches an unshared one's views). */
  view(): Float32Array {
    return this.own ?? new Float32Array(heapBuffer(), this.at, this.floats);
  }

  free(): void {
    if (this.at >= 0) heapFree(this.at);
  }
}

/** Whether Winograd F(2x2,3x3) computes this geometry: a 3x3 filter at stride 1, undilated (any padding). */
export function winogradApplies(g: Geom): boolean {
  return g.KH === 3 && g.KW === 3 && g.sH === 1 && g.sW === 1 && g.dH === 1 && g.dW === 1;
}

// ---- the variants ----

/**
 * Winograd F(m x m, 3 x 3): 2D tiles of alpha x alpha inputs (alpha = m + 2, rows of tiles m apart)
 * give m x m outputs through alpha^2 products per channel pair, Y = A^T [(G g G^T) . (B^T d B)] A.
 * F(2x2,3x3)'s constants are exact in float32; F(4x4,3x3) (interpolation points 0, +-1, +-2) needs
 * 4x fewer multiplications than im2col instead of 2.25x but has constants like 1/6 that are not,
 * and larger ones, so its error is larger (test/winograd.test.ts bounds both).
 */
export interface WinogradVariant {
  m: 2 | 4;
  alpha: number;
  BT: readonly (readonly number[])[];
  G: readonly (readonly number[])[];
  AT: readonly (readonly number[])[];
}

export const F2X2: WinogradVariant = {
  m: 2,
  alpha: 4,
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
};

export const F4X4: WinogradVariant = {
  m: 4,
  alpha: 6,
  BT: [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
  G: [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
  AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
};

/** The variant of output tile m. */
export function winogradVariant(m: 2 | 4): WinogradVariant {
  return m === 4 ? F4X4 : F2X2;
}

const transpose = (a: readonly (readonly number[])[]): number[][] => a[0]!.map((_, j) => a.map((row) => row[j]!));

/**
 * The terms of sum_k c[k] v[k] in the order both the WebAssembly and the TypeScript transforms add
 * them: a +1 term first where there is one (so no negation starts the sum), then the others in index
 * order; each as [k, c[k] rounded to float32].
 */
function terms(c: readonly number[]): [number, number][] {
  const nz = c.flatMap((v, k) => (v === 0 ? [] : [k]));
  const first = nz.find((k) => c[k] === 1) ?? nz[0]!;
  return [first, ...nz.filter((k) => k !== first)].map((k) => [k, Math.fround(c[k]!)]);
}

// ---- the WebAssembly transforms ----

/** How one transform's code loads, stores and computes: four channels at a time (f32x4) or one (the tail of C % 4). */
interface Lanes {
  type: number;
  load: number[];
  store: number[];
  add: number[];
  sub: number[];
  mul: number[];
  neg: number[];
  constant: (v: number) => number[];
  bytes: number;
}

const VECTOR: Lanes = { type: V128, load: simdMem(V128_LOAD, 0, 0), store: simdMem(V128_STORE, 0, 0), add: simd(F32X4_ADD), sub: simd(F32X4_SUB), mul: simd(F32X4_MUL), neg: simd(F32X4_NEG), constant: f32x4Const, bytes: 16 };
const SCALAR: Lanes = { type: F32, load: [F32_LOAD, 2, 0], store: [F32_STORE, 2, 0], add: [F32_ADD_OP], sub: [F32_SUB_OP], mul: [F32_MUL_OP], neg: [F32_NEG_OP], constant: f32Const, bytes: 4 };

/** x -= 1; continue the enclosing loop while x > 0. */
const countDown = (x: number): number[] => [...get(x), ...i32Const(1), I32_SUB, ...tee(x), ...i32Const(0), I32_GT_S, BR_IF, 0];
const positive = (x: number): number[] => [...get(x), ...i32Const(0), I32_GT_S];
const addTo = (x: number, y: number): number[] => [...get(x), ...get(y), I32_ADD, ...set(x)];
const addConst = (x: number, n: number): number[] => [...get(x), ...i32Const(n), I32_ADD, ...set(x)];

/**
 * The loops over the channel axis of one tile (or filter element): `body` four channels at a time
 * (`vecs` times), then one at a time (`tail` times), advancing the pointers in locals `ptrs` by the
 * lanes' bytes after each; `i` is a scratch i32 local.
 */
function overChannels(f: FunctionBuilder, vecs: number, tail: number, i: number, ptrs: readonly number[], body: (l: Lanes) => void): void {
  for (const [l, count] of [[VECTOR, vecs], [SCALAR, tail]] as const) {
    f.emit(positive(count), [IF, VOID], get(count), set(i), [LOOP, VOID]);
    body(l);
    for (const ptr of ptrs) f.emit(addConst(ptr, l.bytes));
    f.emit(countDown(i), [END, END]);
  }
}

/** Code pushing sum_k c[k] * v[k] for values in locals v, in `terms` order. */
function combine(l: Lanes, c: readonly number[], v: readonly number[]): number[] {
  const code: number[] = [];
  terms(c).forEach(([k, ck], n) => {
    code.push(...get(v[k]!));
    if (Math.abs(ck) !== 1) code.push(...l.constant(Math.abs(ck)), ...l.mul);
    if (n === 0) {
      if (ck < 0) code.push(...l.neg);
    } else {
      code.push(...(ck > 0 ? l.add : l.sub));
    }
  });
  return code;
}

/**
 * Code computing L X R^T for the rows x cols values X in locals x (row-major) into fresh locals
 * (L: a x rows, R: b x cols; returns the a x b result's locals, row-major): first X R^T row by
 * row, then L times that column by column.
 */
function sandwich(f: FunctionBuilder, l: Lanes, L: readonly (readonly number[])[], x: readonly number[], cols: number, R: readonly (readonly number[])[]): number[] {
  const rows = x.length / cols;
  const xr = Array.from({ length: rows * R.length }, () => f.local(l.type));
  for (let r = 0; r < rows; r++) {
    const row = x.slice(r * cols, (r + 1) * cols);
    R.forEach((c, j) => f.emit(combine(l, c, row), set(xr[r * R.length + j]!)));
  }
  const out = Array.from({ length: L.length * R.length }, () => f.local(l.type));
  for (let j = 0; j < R.length; j++) {
    const col = Array.from({ length: rows }, (_, r) => xr[r * R.length + j]!);
    L.forEach((c, i) => f.emit(combine(l, c, col), set(out[i * R.length + j]!)));
  }
  return out;
}

/**
 * Loads `rows` x `cols` values into fresh locals (row-major): value (r, c) from the address in local
 * `base` plus locals rowAt[r] and colAt[c] (byte offsets, from `multiples`); `at` is a scratch i32 local.
 */
function loadBlock(f: FunctionBuilder, l: Lanes, base: number, rows: number, cols: number, rowAt: readonly number[], colAt: readonly number[], at: number): number[] {
  const x = Array.from({ length: rows * cols }, () => f.local(l.type));
  for (let r = 0; r < rows; r++) {
    f.emit(get(base), r > 0 ? [...get(rowAt[r]!), I32_ADD] : [], set(at));
    for (let c = 0; c < cols; c++) f.emit(get(at), c > 0 ? [...get(colAt[c]!), I32_ADD] : [], l.load, set(x[r * cols + c]!));
  }
  return x;
}

/** Fresh i32 locals holding k * (local step) for k < n (the code adds nothing for k = 0). */
function multiples(f: FunctionBuilder, step: number, n: number): number[] {
  const out = Array.from({ length: n }, () => f.local(I32));
  f.emit(i32Const(0), set(out[0]!));
  for (let k = 1; k < n; k++) f.emit(get(out[k - 1]!), get(step), [I32_ADD], set(out[k]!));
  return out;
}

/**
 * `wino_in<m>(src, rowBytes, pixBytes, dst, planeBytes, tiles, vecs, tail)` (B^T d B) and
 * `wino_dy<m>(...)` (A dy A^T, the filter gradient's transform of dy): `tiles` tiles along one row
 * of tiles, tile k's block (alpha x alpha inputs, or m x m output gradients) from src + k * m *
 * pixBytes (rows rowBytes apart, pixels pixBytes apart), its alpha^2 values to dst + k * pixBytes +
 * p * planeBytes for p = alpha i + j. Channels go four at a time (`vecs` vectors), then one at a time.
 */
function tileTransformCode(v: WinogradVariant, ofDy: boolean): FunctionBuilder {
  const f = new FunctionBuilder(`wino_${ofDy ? 'dy' : 'in'}${v.m}`, Array<number>(8).fill(I32));
  const [SRC, ROW, PIX, DST, PLANE, TILES, VECS, TAIL] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [p, q, at, i, step] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const block = ofDy ? v.m : v.alpha;
  const L = ofDy ? transpose(v.AT) : v.BT;
  const rowAt = multiples(f, ROW, block);
  const colAt = multiples(f, PIX, block);
  const planeAt = multiples(f, PLANE, v.alpha * v.alpha);
  f.emit(i32Const(0), set(step));
  for (let k = 0; k < v.m; k++) f.emit(addTo(step, PIX));
  const body = (l: Lanes): void => {
    const x = loadBlock(f, l, p, block, block, rowAt, colAt, at);
    const out = sandwich(f, l, L, x, block, L);
    out.forEach((o, k) => f.emit(get(q), k > 0 ? [...get(planeAt[k]!), I32_ADD] : [], get(o), l.store));
  };
  f.emit(positive(TILES), [IF, VOID, LOOP, VOID]);
  f.emit(get(SRC), set(p), get(DST), set(q));
  overChannels(f, VECS, TAIL, i, [p, q], body);
  f.emit(addTo(SRC, step), addTo(DST, PIX), countDown(TILES), [END, END]);
  return f;
}

/**
 * `wino_out<m>(src, planeBytes, dst, rowBytes, pixBytes, tiles, vecs, tail, rows, cols)`: A^T m A
 * of `tiles` tiles along one row of tiles: tile k's alpha^2 values at src + k * pixBytes + p *
 * planeBytes, its m x m outputs to dst + k * m * pixBytes (rows rowBytes apart), of which only the
 * first `rows` rows and `cols` columns (the bottom and right edges).
 */
function outputTransformCode(v: WinogradVariant): FunctionBuilder {
  const f = new FunctionBuilder(`wino_out${v.m}`, Array<number>(10).fill(I32));
  const [SRC, PLANE, DST, ROW, PIX, TILES, VECS, TAIL, ROWS, COLS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [p, q, at, i, step] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const planeAt = multiples(f, PLANE, v.alpha);
  const rowAt = multiples(f, ROW, v.m);
  const colAt = multiples(f, PIX, v.m);
  const planeRow = f.local(I32);
  f.emit(i32Const(0), set(planeRow));
  for (let k = 0; k < v.alpha; k++) f.emit(addTo(planeRow, PLANE));
  f.emit(i32Const(0), set(step));
  for (let k = 0; k < v.m; k++) f.emit(addTo(step, PIX));
  const rowStarts = multiples(f, planeRow, v.alpha);
  const body = (l: Lanes): void => {
    const x = loadBlock(f, l, p, v.alpha, v.alpha, rowStarts, planeAt, at);
    const y = sandwich(f, l, v.AT, x, v.alpha, v.AT);
    for (let r = 0; r < v.m; r++) {
      if (r > 0) f.emit(get(ROWS), i32Const(r), [I32_GT_S, IF, VOID]);
      f.emit(get(q), r > 0 ? [...get(rowAt[r]!), I32_ADD] : [], set(at));
      for (let c = 0; c < v.m; c++) {
        if (c > 0) f.emit(get(COLS), i32Const(c), [I32_GT_S, IF, VOID]);
        f.emit(get(at), c > 0 ? [...get(colAt[c]!), I32_ADD] : [], get(y[r * v.m + c]!), l.store);
        if (c > 0) f.emit([END]);
      }
      if (r > 0) f.emit([END]);
    }
  };
  f.emit(positive(TILES), [IF, VOID, LOOP, VOID]);
  f.emit(get(SRC), set(p), get(DST), set(q));
  overChannels(f, VECS, TAIL, i, [p, q], body);
  f.emit(addTo(SRC, PIX), addTo(DST, step), countDown(TILES), [END, END]);
  return f;
}

/**
 * `wino_filter<m>(src, tapBytes, dst, planeBytes, vecs, tail)`: U = G g G^T for each filter element
 * (one (c, oc) pair) of the 3x3 filter whose taps (kh, kw) lie at src + (3 kh + kw) * tapBytes (a
 * negative tapBytes from the last tap reads the filter turned by 180 degrees), into the alpha^2
 * planes planeBytes apart from dst; `vecs` elements four at a time, then `tail` one at a time.
 */
function filterTransformCode(v: WinogradVariant): FunctionBuilder {
  const f = new FunctionBuilder(`wino_filter${v.m}`, Array<number>(6).fill(I32));
  const [SRC, TAP, DST, PLANE, VECS, TAIL] = [0, 1, 2, 3, 4, 5];
  const i = f.local(I32);
  const tapAt = multiples(f, TAP, 9);
  const planeAt = multiples(f, PLANE, v.alpha * v.alpha);
  const body = (l: Lanes): void => {
    const g = Array.from({ length: 9 }, () => f.local(l.type));
    for (let k = 0; k < 9; k++) f.emit(get(SRC), k > 0 ? [...get(tapAt[k]!), I32_ADD] : [], l.load, set(g[k]!));
    const u = sandwich(f, l, v.G, g, 3, v.G);
    u.forEach((o, k) => f.emit(get(DST), k > 0 ? [...get(planeAt[k]!), I32_ADD] : [], get(o), l.store));
  };
  overChannels(f, VECS, TAIL, i, [SRC, DST], body);
  return f;
}

/**
 * `wino_fgrad<m>(src, planeBytes, dst, tapBytes, vecs, tail)`: the filter gradient's last step,
 * df = G^T M G for each filter element, its alpha^2 sums M in planes planeBytes apart from src, its
 * 9 taps tapBytes apart from dst.
 */
function filterGradTransformCode(v: WinogradVariant): FunctionBuilder {
  const f = new FunctionBuilder(`wino_fgrad${v.m}`, Array<number>(6).fill(I32));
  const [SRC, PLANE, DST, TAP, VECS, TAIL] = [0, 1, 2, 3, 4, 5];
  const [at, i] = [f.local(I32), f.local(I32)];
  const GT = transpose(v.G);
  const planeAt = multiples(f, PLANE, v.alpha);
  const planeRow = f.local(I32);
  f.emit(i32Const(0), set(planeRow));
  for (let k = 0; k < v.alpha; k++) f.emit(addTo(planeRow, PLANE));
  const rowStarts = multiples(f, planeRow, v.alpha);
  const tapAt = multiples(f, TAP, 9);
  const body = (l: Lanes): void => {
    const x = loadBlock(f, l, SRC, v.alpha, v.alpha, rowStarts, planeAt, at);
    const df = sandwich(f, l, GT, x, v.alpha, GT);
    df.forEach((o, k) => f.emit(get(DST), k > 0 ? [...get(tapAt[k]!), I32_ADD] : [], get(o), l.store));
  };
  overChannels(f, VECS, TAIL, i, [SRC, DST], body);
  return f;
}

type FilterFn = (src: number, tapBytes: number, dst: number, planeBytes: number, vecs: number, tail: number) => void;
type FilterGradFn = (src: number, planeBytes: number, dst: number, tapBytes: number, vecs: number, tail: number) => void;
type TileFn = (src: number, rowBytes: number, pixBytes: number, dst: number, planeBytes: number, tiles: number, vecs: number, tail: number) => void;
type OutFn = (src: number, planeBytes: number, dst: number, rowBytes: number, pixBytes: number, tiles: number, vecs: number, tail: number, rows: number, cols: number) => void;

/** One variant's transforms, and the tile and output transforms' indices among the module's functions (for call lists). */
interface Kernels {
  filter: FilterFn;
  filterGrad: FilterGradFn;
  input: TileFn;
  outputGrad: TileFn;
  output: OutFn;
  inputIndex: number;
  outputGradIndex: number;
  outputIndex: number;
  module: SharedModule;
}

function createEngine(): Record<2 | 4, Kernels> | null {
  const heap = heapMemory();
  if (heap === null) return null;
  try {
    const fns = [F2X2, F4X4].flatMap((v) => [filterTransformCode(v), tileTransformCode(v, false), tileTransformCode(v, true), outputTransformCode(v), filterGradTransformCode(v)].map((b) => b.build()));
    const wasm = wasmModule({ pages: 1, maxPages: heap.maxPages, shared: heap.shared }, fns);
    const mod = new WebAssembly.Module(wasm);
    const instance = new WebAssembly.Instance(mod, { env: { mem: heap.memory } });
    const e = instance.exports as Record<string, unknown>;
    const module = sharedModule(wasm, mod, instance);
    const index = (name: string): number => fns.findIndex((f) => f.exportName === name);
    const kernels = (m: 2 | 4): Kernels => ({
      filter: e[`wino_filter${m}`] as FilterFn,
      filterGrad: e[`wino_fgrad${m}`] as FilterGradFn,
      input: e[`wino_in${m}`] as TileFn,
      outputGrad: e[`wino_dy${m}`] as TileFn,
      output: e[`wino_out${m}`] as OutFn,
      inputIndex: index(`wino_in${m}`),
      outputGradIndex: index(`wino_dy${m}`),
      outputIndex: index(`wino_out${m}`),
      module,
    });
    return { 2: kernels(2), 4: kernels(4) };
  } catch {
    return null;
  }
}

const engine = createEngine();

/** Whether the transforms run in WebAssembly SIMD here (else the TypeScript loops; none with WEIR_CPU_FAST=0). */
export function winogradSimdAvailable(): boolean {
  return engine !== null;
}

/** Whether conv.ts may choose Winograd (where the WebAssembly transforms are): on unless a benchmark turned it off. */
let chosen = engine !== null;

export function winogradChosen(): boolean {
  return chosen;
}

/** Lets conv.ts choose Winograd or not (benchmarks compare the paths in one process); returns the previous setting. */
export function setWinogradChosen(on: boolean): boolean {
  const previous = chosen;
  chosen = on && engine !== null;
  return previous;
}

// ---- the transforms in TypeScript (the same float32 operations in the same order as the WebAssembly) ----

/** The terms of each row of a matrix (see `terms`), for the TypeScript transforms. */
interface RowTerms {
  k: Int32Array;
  c: Float64Array;
}

function rowTerms(M: readonly (readonly number[])[]): RowTerms[] {
  return M.map((row) => {
    const t = terms(row);
    return { k: Int32Array.from(t, ([k]) => k), c: Float64Array.from(t, ([, c]) => c) };
  });
}

/** sum_k c[k] x[at + k * stride] in float32 operations, in `terms` order. */
function combineTS(t: RowTerms, x: ArrayLike<number>, at: number, stride: number): number {
  const fr = Math.fround;
  let acc = 0;
  for (let n = 0; n < t.k.length; n++) {
    const c = t.c[n]!;
    const xv = x[at + t.k[n]! * stride]!;
    const term = c === 1 || c === -1 ? xv : fr(xv * Math.abs(c));
    acc = n === 0 ? (c < 0 ? -term : term) : fr(c > 0 ? acc + term : acc - term);
  }
  return acc;
}

/** The TypeScript twin of `sandwich`: out (a x b) = L x R^T for x (rows x cols at x[at + r * rowStride + c * colStride]), with tmp (rows x b) scratch. */
function sandwichTS(L: readonly RowTerms[], R: readonly RowTerms[], x: ArrayLike<number>, at: number, rows: number, rowStride: number, colStride: number, tmp: Float64Array, out: Float64Array): void {
  const b = R.length;
  for (let r = 0; r < rows; r++) for (let j = 0; j < b; j++) tmp[r * b + j] = combineTS(R[j]!, x, at + r * rowStride, colStride);
  for (let j = 0; j < b; j++) for (let i = 0; i < L.length; i++) out[i * b + j] = combineTS(L[i]!, tmp, j, b);
}

/** A variant's rows' terms, for the TypeScript transforms (built once per variant). */
interface VariantTerms {
  BT: RowTerms[];
  G: RowTerms[];
  GT: RowTerms[];
  AT: RowTerms[];
  A: RowTerms[];
}

const TERMS = new Map<WinogradVariant, VariantTerms>([F2X2, F4X4].map((v) => [v, { BT: rowTerms(v.BT), G: rowTerms(v.G), GT: rowTerms(transpose(v.G)), AT: rowTerms(v.AT), A: rowTerms(transpose(v.AT)) }]));

/** The TypeScript twin of wino_filter: U[p][e] for the E = C * OC filter elements e, tap k of element e at f[tap0 + k * tapStep + e]. */
function filterTransformTS(v: WinogradVariant, f: Float32Array, E: number, flipped: boolean, u: Float32Array): void {
  const t = TERMS.get(v)!;
  const P = v.alpha * v.alpha;
  const tmp = new Float64Array(3 * v.alpha);
  const out = new Float64Array(P);
  const [tap0, tapStep] = flipped ? [8 * E, -E] : [0, E];
  for (let e = 0; e < E; e++) {
    sandwichTS(t.G, t.G, f, tap0 + e, 3, 3 * tapStep, tapStep, tmp, out);
    for (let p = 0; p < P; p++) u[p * E + e] = out[p]!;
  }
}

/** The 4x4 tile layout of a geometry: tiles per column and row, and the zero-padded input extent they read. */
interface Tiling {
  TH: number;
  TW: number;
  tiles: number;
  Hp: number;
  Wp: number;
}

function tiling(g: Geom, m: number): Tiling {
  const TH = Math.ceil(g.OH / m);
  const TW = Math.ceil(g.OW / m);
  return { TH, TW, tiles: g.N * TH * TW, Hp: m * TH + 2, Wp: m * TW + 2 };
}

/** The TypeScript twin of wino_in / wino_dy, for tiles [t0, t0 + count) of `src` (C channels) into planes `plane` floats apart. */
function tileTransformTS(v: WinogradVariant, ofDy: boolean, t: Tiling, C: number, src: TileInput, t0: number, count: number, out: Float32Array, plane: number): void {
  const x = src.scratch === null ? src.x : src.scratch.view();
  const vt = TERMS.get(v)!;
  const L = ofDy ? vt.A : vt.BT;
  const block = ofDy ? v.m : v.alpha;
  const P = v.alpha * v.alpha;
  const tmp = new Float64Array(block * v.alpha);
  const vals = new Float64Array(P);
  const row = src.W * C;
  for (let k = 0; k < count; k++) {
    const tile = t0 + k;
    const tw = tile % t.TW;
    const th = Math.floor(tile / t.TW) % t.TH;
    const n = Math.floor(tile / (t.TW * t.TH));
    const base = ((n * src.H + v.m * th) * src.W + v.m * tw) * C;
    for (let c = 0; c < C; c++) {
      sandwichTS(L, L, x, base + c, block, row, C, tmp, vals);
      for (let p = 0; p < P; p++) out[k * C + c + p * plane] = vals[p]!;
    }
  }
}

/** The TypeScript twin of wino_out, for tiles [t0, t0 + count) from planes `plane` floats apart. */
function outputTransformTS(v: WinogradVariant, g: Geom, t: Tiling, OC: number, m: Float32Array, plane: number, t0: number, count: number, y: Float32Array): void {
  const vt = TERMS.get(v)!;
  const tmp = new Float64Array(v.alpha * v.m);
  const vals = new Float64Array(v.m * v.m);
  for (let k = 0; k < count; k++) {
    const tile = t0 + k;
    const tw = tile % t.TW;
    const th = Math.floor(tile / t.TW) % t.TH;
    const n = Math.floor(tile / (t.TW * t.TH));
    const rows = Math.min(v.m, g.OH - v.m * th);
    const cols = Math.min(v.m, g.OW - v.m * tw);
    const base = ((n * g.OH + v.m * th) * g.OW + v.m * tw) * OC;
    for (let oc = 0; oc < OC; oc++) {
      sandwichTS(vt.AT, vt.AT, m, k * OC + oc, v.alpha, v.alpha * plane, plane, tmp, vals);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[base + (r * g.OW + c) * OC + oc] = vals[r * v.m + c]!;
    }
  }
}

/** The TypeScript twin of wino_fgrad: df[kh, kw, e] = (G^T m G)[kh, kw] for each of the E filter elements e, m[p] = m[p * E + e]. */
function filterGradTransformTS(v: WinogradVariant, m: Float32Array, E: number, df: Float32Array): void {
  const t = TERMS.get(v)!;
  const tmp = new Float64Array(v.alpha * 3);
  const out = new Float64Array(9);
  for (let e = 0; e < E; e++) {
    sandwichTS(t.GT, t.GT, m, e, v.alpha, v.alpha * E, E, tmp, out);
    for (let k = 0; k < 9; k++) df[k * E + e] = out[k]!;
  }
}

// ---- the convolution ----

/**
 * Floats of the planes per chunk of tiles (1 MiB). Measured alternately in one process
 * (scratch/w_chunk.mts, forward, median of 9; 2^16 / 2^17 / 2^18 / 2^19 / 2^20 / 2^22 floats,
 * ms). F(4x4,3x3): 32x32x32x64 -> 64 22.4 / 20.2 / 19.1 / 19.0 / 18.7 / 20.8; 8x16x16x128 -> 128
 * 6.0 / 5.3 / 5.3 / 5.2 / 5.6 / 5.5. F(2x2,3x3): 32x32x32x64 -> 64 31.7 / 30.0 / 30.4 / 30.8 / 40.6 / 35.2 (im2col 67.0);
 * 8x16x16x128 -> 128 8.0 / 7.7 / 7.6 / 9.9 / 8.7 / 8.3; 8x8x8x256 -> 256 11.4 / 11.2 / 14.0 /
 * 12.3 / 11.4 / 11.6 (noisy); 1x32x32x64 -> 64 1.27 / 1.27 / 1.23 / 1.25 / 1.30 / 1.26.
 */
const PLANE_CHUNK = 1 << 18;
/**
 * Tiles per chunk at least, whatever the planes take: with many channels, fewer tiles make GEMMs of
 * few rows that read all of their C x OC plane of U for each (alternately in one process, forward,
 * 2^18 / 2^20 / 2^22 floats, ms: 8x14x14x512 -> 512 F(4x4) 77.3 / 66.8 / 59.3, F(2x2) 65.3 / 58.7 /
 * 54.2, im2col 82; 4x28x28x256 -> 256 F(4x4) 31.0 / 25.0 / 21.2, im2col 43.7).
 */
const MIN_CHUNK_TILES = 128;

export interface WinogradOptions {
  /** The output tile: F(2x2,3x3) (the default) or F(4x4,3x3). */
  tile?: 2 | 4;
  /** Who transforms inputs and outputs: WebAssembly SIMD in the heap (the default where there is one) or the TypeScript loops. */
  transforms?: 'wasm' | 'typescript';
  /** Floats of the planes per chunk of tiles (PLANE_CHUNK). */
  chunkFloats?: number;
  /**
   * The filter is given as the input gradient's flipped convolution reads it (conv.ts): f[kh, kw,
   * OC, C], to be turned by 180 degrees with its channel axes swapped. The filter transform reads
   * its taps in reverse order, and each GEMM reads its plane transposed.
   */
  flipped?: boolean;
}

/** The input as the input transform reads it: an array holding rows of W pixels (H of them per image), in the heap at byte `at` (-1 where not). */
interface TileInput {
  x: Float32Array;
  H: number;
  W: number;
  at: number;
  scratch: Scratch | null;
}

/**
 * An NHWC array (N images of H x W x C) zero-padded to Hp x Wp (row h at padded row h + padT,
 * column w at w + padL; negative padding crops), or the array itself where it already spans that
 * extent from its corner and is where the reader needs it (in the heap for the WebAssembly transforms).
 */
function tileInput(N: number, H: number, W: number, C: number, padT: number, padL: number, Hp: number, Wp: number, x: Float32Array, inHeap: boolean): TileInput {
  if (padT === 0 && padL === 0 && Hp <= H && Wp <= W) {
    const at = heapAddress(x);
    if (!inHeap || at >= 0) return { x, H, W, at, scratch: null };
  }
  const scratch = inHeap ? new Scratch(N * Hp * Wp * C) : null;
  const xp = scratch === null ? new Float32Array(N * Hp * Wp * C) : scratch.view();
  // Padded columns [s0, s1) of rows [r0, r1) come from x; the rest is zeros (the heap's scratch is not zeroed).
  const s0 = Math.min(Wp, Math.max(0, padL));
  const s1 = Math.max(s0, Math.min(Wp, W + padL));
  const r0 = Math.min(Hp, Math.max(0, padT));
  const r1 = Math.max(r0, Math.min(Hp, H + padT));
  const rowLen = Wp * C;
  for (let n = 0; n < N; n++) {
    const image = n * Hp * rowLen;
    if (scratch !== null) {
      xp.fill(0, image, image + r0 * rowLen);
      xp.fill(0, image + r1 * rowLen, image + Hp * rowLen);
    }
    for (let r = r0; r < r1; r++) {
      const row = image + r * rowLen;
      if (scratch !== null) {
        xp.fill(0, row, row + s0 * C);
        xp.fill(0, row + s1 * C, row + rowLen);
      }
      const src = ((n * H + r - padT) * W + (s0 - padL)) * C;
      xp.set(x.subarray(src, src + (s1 - s0) * C), row + s0 * C);
    }
  }
  return { x: xp, H: Hp, W: Wp, at: scratch === null ? -1 : scratch.address, scratch };
}

/**
 * Floats from one plane of a chunk to the next: its T * C floats, and a cache line more where that
 * is an even number of lines. The transforms write (and read) a value in every plane for each tile,
 * alpha^2 streams at once; planes a power of two bytes apart all fall in the same few sets of the
 * cache and evict each other (128 tiles of 64 channels: 32 KiB apart).
 */
function planeStride(floats: number): number {
  return floats % 32 === 0 ? floats + 16 : floats;
}

/**
 * Tiles per chunk: equal chunks whose P planes (`perTile` floats per tile in all) hold at most
 * `floats` floats (the option), or by default PLANE_CHUNK floats but at least MIN_CHUNK_TILES tiles.
 */
function chunkTiles(tiles: number, P: number, perTile: number, floats: number | undefined): number {
  const fit = Math.floor((floats ?? PLANE_CHUNK) / Math.max(1, P * perTile));
  const most = Math.max(1, floats === undefined ? Math.max(fit, MIN_CHUNK_TILES) : fit);
  return Math.ceil(tiles / Math.ceil(tiles / most));
}

/** U (P planes of E = C * OC) = G f G^T, by the WebAssembly transform where there is one (staging a filter outside the heap), else TypeScript's. */
function transformFilter(v: WinogradVariant, k: Kernels | null, f: Float32Array, E: number, flipped: boolean, u: Scratch): void {
  if (k === null || u.address < 0) {
    filterTransformTS(v, f, E, flipped, u.view());
    return;
  }
  const fAt = heapAddress(f);
  const staged = fAt < 0 ? new Scratch(f.length) : null;
  try {
    staged?.view().set(f);
    const at = staged === null ? fAt : staged.address;
    if (at < 0) filterTransformTS(v, f, E, flipped, u.view());
    else if (flipped) k.filter(at + 8 * E * 4, -E * 4, u.address, E * 4, E >> 2, E & 3);
    else k.filter(at, E * 4, u.address, E * 4, E >> 2, E & 3);
  } finally {
    staged?.free();
  }
}

/** y[N, OH, OW, OC] (NHWC, overwritten) = the 3x3 stride-1 convolution of x with f[3, 3, C, OC] (see `flipped`) by Winograd F(m x m, 3x3). */
export function conv2dWinograd(g: Geom, OC: number, x: Float32Array, f: Float32Array, y: Float32Array, o: WinogradOptions = {}): void {
  const { C } = g;
  const v = winogradVariant(o.tile ?? 2);
  const P = v.alpha * v.alpha;
  const t = tiling(g, v.m);
  if (t.tiles === 0 || OC === 0) return;
  if (C === 0) {
    y.fill(0);
    return;
  }
  const k = o.transforms === 'typescript' || engine === null ? null : engine[v.m];
  const T = chunkTiles(t.tiles, P, C + OC, o.chunkFloats);
  // Filter elements per tap.
  const E = C * OC;
  const u = new Scratch(P * E);
  const [pv, pm] = [planeStride(T * C), planeStride(T * OC)];
  const vp = new Scratch(P * pv);
  const mp = new Scratch(P * pm);
  const xin = tileInput(g.N, g.H, g.W, C, g.padT, g.padL, t.Hp, t.Wp, x, k !== null);
  const yAt = k === null ? -1 : heapAddress(y);
  // An output outside the heap is written to a copy there and copied out at the end.
  const yScratch = k !== null && yAt < 0 ? new Scratch(y.length) : null;
  const calls = k === null ? null : new CallList(k.module, CALL_WORDS);
  try {
    transformFilter(v, k, f, E, o.flipped === true, u);
    const yBase = yAt >= 0 ? yAt : (yScratch?.address ?? -1);
    const wasm = k !== null && xin.at >= 0 && vp.address >= 0 && mp.address >= 0 && yBase >= 0;
    for (let t0 = 0; t0 < t.tiles; t0 += T) {
      const count = Math.min(T, t.tiles - t0);
      if (wasm) {
        runListed(calls!, tileTransformWasm(calls!, k.inputIndex, v.m, v.alpha, C, t, xin, vp.address, pv, t0, count));
      } else tileTransformTS(v, false, t, C, xin, t0, count, vp.view(), pv);
      if (o.flipped) {
        sgemmBatched(false, true, count, OC, C, 1, vp.view(), C, pv, u.view(), C, E, 0, mp.view(), OC, pm, P);
      } else {
        sgemmBatched(false, false, count, OC, C, 1, vp.view(), C, pv, u.view(), OC, E, 0, mp.view(), OC, pm, P);
      }
      if (wasm) {
        runListed(calls!, outputTransformWasm(calls!, k, v.m, v.alpha, g, t, OC, mp.address, pm, yBase, t0, count));
      } else outputTransformTS(v, g, t, OC, mp.view(), pm, t0, count, yScratch === null ? y : yScratch.view());
    }
    if (yScratch !== null) y.set(yScratch.view());
  } finally {
    calls?.free();
    u.free();
    vp.free();
    mp.free();
    xin.scratch?.free();
    yScratch?.free();
  }
}

/**
 * df[3, 3, C, OC] (overwritten) = the filter gradient of the 3x3 stride-1 convolution of x, given
 * its output gradient dy: with V = B^T d B of each input tile and W = A dy A^T of the m x m block of
 * dy over it, df = G^T [sum over tiles of V^T W] G, the sums being alpha^2 GEMMs [C x tiles] x
 * [tiles x OC] accumulated over the chunks of tiles. dy's rows and columns past the output (the
 * bottom and right edge tiles) are zeros, as the forward's cropped outputs have no gradient.
 */
export function conv2dWinogradFilterGrad(g: Geom, OC: number, x: Float32Array, dy: Float32Array, df: Float32Array, o: WinogradOptions = {}): void {
  const { C } = g;
  const v = winogradVariant(o.tile ?? 2);
  const P = v.alpha * v.alpha;
  const t = tiling(g, v.m);
  const E = C * OC;
  if (t.tiles === 0 || E === 0) {
    df.fill(0);
    return;
  }
  const k = o.transforms === 'typescript' || engine === null ? null : engine[v.m];
  const T = chunkTiles(t.tiles, P, C + OC, o.chunkFloats);
  const [pv, pw] = [planeStride(T * C), planeStride(T * OC)];
  const vp = new Scratch(P * pv);
  const wp = new Scratch(P * pw);
  const mp = new Scratch(P * E);
  const xin = tileInput(g.N, g.H, g.W, C, g.padT, g.padL, t.Hp, t.Wp, x, k !== null);
  const dyin = tileInput(g.N, g.OH, g.OW, OC, 0, 0, v.m * t.TH, v.m * t.TW, dy, k !== null);
  const calls = k === null ? null : new CallList(k.module, CALL_WORDS);
  try {
    const wasm = k !== null && xin.at >= 0 && dyin.at >= 0 && vp.address >= 0 && wp.address >= 0;
    for (let t0 = 0; t0 < t.tiles; t0 += T) {
      const count = Math.min(T, t.tiles - t0);
      if (wasm) {
        const floats = tileTransformWasm(calls!, k.inputIndex, v.m, v.alpha, C, t, xin, vp.address, pv, t0, count);
        runListed(calls!, floats + tileTransformWasm(calls!, k.outputGradIndex, v.m, v.alpha, OC, t, dyin, wp.address, pw, t0, count));
      } else {
        tileTransformTS(v, false, t, C, xin, t0, count, vp.view(), pv);
        tileTransformTS(v, true, t, OC, dyin, t0, count, wp.view(), pw);
      }
      const beta = t0 === 0 ? 0 : 1;
      sgemmBatched(true, false, C, OC, count, 1, vp.view(), C, pv, wp.view(), OC, pw, beta, mp.view(), OC, E, P);
    }
    const dfAt = k === null || mp.address < 0 ? -1 : heapAddress(df);
    // A filter gradient outside the heap is written to a copy there first.
    const staged = k !== null && mp.address >= 0 && dfAt < 0 ? new Scratch(df.length) : null;
    try {
      const at = staged === null ? dfAt : staged.address;
      if (at >= 0) k!.filterGrad(mp.address, E * 4, at, E * 4, E >> 2, E & 3);
      else filterGradTransformTS(v, mp.view(), E, df);
      if (staged !== null && at >= 0) df.set(staged.view());
    } finally {
      staged?.free();
    }
  } finally {
    calls?.free();
    vp.free();
    wp.free();
    mp.free();
    xin.scratch?.free();
    dyin.scratch?.free();
  }
}

/** Words per listed call: the function, then at most ten arguments. */
const CALL_WORDS = 11;
/** Blocks a list of calls is cut into (several per thread, so a thread slow to wake holds up little). */
const CALL_BLOCKS = 8;
/**
 * Floats moved from which a list of transform calls is split over the threads. Measured in one
 * process (scratch/c3_split.mts, the conv3x3_train_step workload, median of 7, split / not, ms): from
 * 2^17 floats 110.7 / 133.0 and 96.4 / 105.5, from 2^19 100.1 / 105.6 and 90.6 / 100.1; but one
 * 32x32 image into 64 channels took 1.63 ms split at 2^17 against 1.11 on one thread (2^17 is 128
 * tiles of 32 channels: the workers' wake-ups, and the GEMM's workers polling for their next
 * product on the same cores, cost more than half of it).
 */
const CALLS_THREAD_MIN = 1 << 19;

/** Runs the listed transforms, which move `floats` floats: split over the threads from CALLS_THREAD_MIN. */
function runListed(calls: CallList, floats: number): void {
  calls.run(CALL_BLOCKS, floats >= CALLS_THREAD_MIN);
}

/**
 * Lists the tile transform (`fn`: input or outputGrad's index) of tiles [t0, t0 + count) into the
 * chunk's planes at vAt (`plane` floats apart), one call per run of tiles within a row of tiles;
 * returns the floats they move.
 */
function tileTransformWasm(calls: CallList, fn: number, m: number, alpha: number, C: number, t: Tiling, src: TileInput, vAt: number, plane: number, t0: number, count: number): number {
  const pix = C * 4;
  for (let k = 0; k < count; ) {
    const tile = t0 + k;
    const tw = tile % t.TW;
    const th = Math.floor(tile / t.TW) % t.TH;
    const img = Math.floor(tile / (t.TW * t.TH));
    const n = Math.min(t.TW - tw, count - k);
    const at = src.at + ((img * src.H + m * th) * src.W + m * tw) * pix;
    calls.add(fn, at, src.W * pix, pix, vAt + k * pix, plane * 4, n, C >> 2, C & 3);
    k += n;
  }
  return 2 * count * alpha * alpha * C;
}

/**
 * Lists the output transform of tiles [t0, t0 + count) from the chunk's planes at mAt
 * (`planeFloats` apart) into y at yAt, cropped at the bottom and right edges; returns the floats
 * they move.
 */
function outputTransformWasm(calls: CallList, k: Kernels, m: number, alpha: number, g: Geom, t: Tiling, OC: number, mAt: number, planeFloats: number, yAt: number, t0: number, count: number): number {
  const pix = OC * 4;
  const plane = planeFloats * 4;
  for (let j = 0; j < count; ) {
    const tile = t0 + j;
    const tw = tile % t.TW;
    const th = Math.floor(tile / t.TW) % t.TH;
    const img = Math.floor(tile / (t.TW * t.TH));
    const n = Math.min(t.TW - tw, count - j);
    const rows = Math.min(m, g.OH - m * th);
    const dst = yAt + ((img * g.OH + m * th) * g.OW + m * tw) * pix;
    const src = mAt + j * pix;
    // The last tile of a row whose width is not a multiple of m has fewer columns.
    const whole = m * (tw + n) <= g.OW ? n : n - 1;
    if (whole > 0) calls.add(k.outputIndex, src, plane, dst, g.OW * pix, pix, whole, OC >> 2, OC & 3, rows, m);
    if (whole < n) calls.add(k.outputIndex, src + whole * pix, plane, dst + m * whole * pix, g.OW * pix, pix, 1, OC >> 2, OC & 3, rows, g.OW - m * (tw + whole));
    j += n;
  }
  return count * (alpha * alpha + m * m) * OC;
}
