// Winograd F(2x2,3x3) convolution (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2015) for 3x3, stride-1, undilated convolutions in NHWC: each 2x2 block of outputs is
// A^T [(G g G^T) . (B^T d B)] A over the 4x4 input tile d under it, so the 36 multiplications per
// block and channel pair of im2col become 16. The filter transform U = G g G^T (16 planes of
// C x OC) is made per call (the filter changes every training step); the input transform
// V = B^T d B (16 planes of tiles x C) and the output transform are memory-bound passes over the
// channel axis, in WebAssembly SIMD on the heap (TypeScript loops that round the same way without
// it); the 16 products M = V U are gemm.ts's sgemm. The input gradient at stride 1 is such a
// convolution of dy with the filter turned (conv.ts, `flipped`); the filter gradient is
// G^T [sum over tiles of (B^T d B) . (A dy A^T)] G, 16 GEMMs accumulated over the tiles.
//
// Tiles go in chunks whose planes take about 1 MiB, so the transforms' output is still in cache
// when the GEMMs read it. At 64 channels that makes each GEMM too small for sgemm to thread: the
// whole convolution then runs on the calling thread, which measured faster on this 2-core machine
// than chunks large enough to thread (see PLANE_CHUNK).
//
// The transforms' constants (0, +-1, +-1/2) are exact in float32, so the error over im2col's comes
// from the sums: B^T d B adds up to 4 inputs per value, A^T m A up to 9 products per output
// (test/winograd.test.ts bounds it).
import type { Geom } from '../../window_geometry.js';
import { sgemm } from '../gemm.js';
import { heapAddress, heapAlloc, heapBuffer, heapFree, heapMemory } from '../heap.js';
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

// ---- the WebAssembly transforms ----

/** How one transform's code loads, stores and adds: four channels at a time (f32x4) or one (the tail of C % 4). */
interface Lanes {
  type: number;
  load: number[];
  store: number[];
  add: number[];
  sub: number[];
  /** Multiplies the top of the stack by 1/2. */
  half: number[];
  neg: number[];
  bytes: number;
}

const VECTOR: Lanes = { type: V128, load: simdMem(V128_LOAD, 0, 0), store: simdMem(V128_STORE, 0, 0), add: simd(F32X4_ADD), sub: simd(F32X4_SUB), half: [...f32x4Const(0.5), ...simd(F32X4_MUL)], neg: simd(F32X4_NEG), bytes: 16 };
const SCALAR: Lanes = { type: F32, load: [F32_LOAD, 2, 0], store: [F32_STORE, 2, 0], add: [F32_ADD_OP], sub: [F32_SUB_OP], half: [...f32Const(0.5), F32_MUL_OP], neg: [F32_NEG_OP], bytes: 4 };

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

/**
 * The four values of B^T v for a column v = (v0, v1, v2, v3), as code pushing each from locals:
 * (v0 - v2, v1 + v2, v2 - v1, v1 - v3).
 */
function bt(l: Lanes, v: readonly number[]): number[][] {
  const [a, b, c, d] = v as [number, number, number, number];
  return [
    [...get(a), ...get(c), ...l.sub],
    [...get(b), ...get(c), ...l.add],
    [...get(c), ...get(b), ...l.sub],
    [...get(b), ...get(d), ...l.sub],
  ];
}

/**
 * `wino_in(src, rowBytes, pixBytes, dst, planeBytes, tiles, vecs, tail)`: the input transform of
 * `tiles` tiles along one row of tiles. Tile k's 4x4 input starts at src + k * 2 * pixBytes (rows
 * rowBytes apart, pixels pixBytes apart); its 16 values of B^T d B go to dst + k * pixBytes + p *
 * planeBytes for p = 4i + j. Channels go four at a time (`vecs` vectors) and then one at a time
 * (`tail`).
 */
function inputTransformCode(): FunctionBuilder {
  const f = new FunctionBuilder('wino_in', Array<number>(8).fill(I32));
  const [SRC, ROW, PIX, DST, PLANE, TILES, VECS, TAIL] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [p, q, row, out, i] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const pix2 = f.local(I32);
  const pix3 = f.local(I32);
  const body = (l: Lanes): void => {
    // u = d B, row by row (each row's 4 loads combined at once), then B^T u, column by column.
    const d = Array.from({ length: 4 }, () => f.local(l.type));
    const u = Array.from({ length: 16 }, () => f.local(l.type));
    f.emit(get(p), set(row));
    for (let r = 0; r < 4; r++) {
      f.emit(get(row), l.load, set(d[0]!));
      f.emit(get(row), get(PIX), [I32_ADD], l.load, set(d[1]!));
      f.emit(get(row), get(pix2), [I32_ADD], l.load, set(d[2]!));
      f.emit(get(row), get(pix3), [I32_ADD], l.load, set(d[3]!));
      // (d B)[r][j] = (B^T d[r]^T)[j].
      bt(l, d).forEach((code, j) => f.emit(code, set(u[4 * r + j]!)));
      if (r < 3) f.emit(addTo(row, ROW));
    }
    f.emit(get(q), set(out));
    const rows: number[][][] = [0, 1, 2, 3].map((j) => bt(l, [u[j]!, u[4 + j]!, u[8 + j]!, u[12 + j]!]));
    for (let r = 0; r < 4; r++) {
      for (let j = 0; j < 4; j++) {
        f.emit(get(out), rows[j]![r]!, l.store);
        if (r < 3 || j < 3) f.emit(addTo(out, PLANE));
      }
    }
  };
  f.emit(get(PIX), get(PIX), [I32_ADD], set(pix2), get(pix2), get(PIX), [I32_ADD], set(pix3));
  f.emit(positive(TILES), [IF, VOID, LOOP, VOID]);
  f.emit(get(SRC), set(p), get(DST), set(q));
  overChannels(f, VECS, TAIL, i, [p, q], body);
  f.emit(addTo(SRC, pix2), addTo(DST, PIX), countDown(TILES), [END, END]);
  return f;
}

/**
 * `wino_out(src, planeBytes, dst, rowBytes, pixBytes, tiles, vecs, tail, rows, cols)`: the output
 * transform A^T m A of `tiles` tiles along one row of tiles: tile k's 16 values are at src + k *
 * pixBytes + p * planeBytes, its 2x2 outputs go to dst + k * 2 * pixBytes (rows rowBytes apart),
 * of which only the first `rows` rows and `cols` columns (1 or 2: the bottom and right edges).
 */
function outputTransformCode(): FunctionBuilder {
  const f = new FunctionBuilder('wino_out', Array<number>(10).fill(I32));
  const [SRC, PLANE, DST, ROW, PIX, TILES, VECS, TAIL, ROWS, COLS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [p, q, at, i, pix2] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const body = (l: Lanes): void => {
    // s = the first row of A^T m, r = its second: s_j = m0j + m1j + m2j, r_j = m1j - m2j - m3j.
    const m = Array.from({ length: 4 }, () => f.local(l.type));
    const s = Array.from({ length: 4 }, () => f.local(l.type));
    const r = Array.from({ length: 4 }, () => f.local(l.type));
    for (let j = 0; j < 4; j++) {
      // m_ij is plane 4i + j.
      f.emit(get(p), set(at));
      for (let k = 0; k < j; k++) f.emit(addTo(at, PLANE));
      for (let row = 0; row < 4; row++) {
        f.emit(get(at), l.load, set(m[row]!));
        if (row < 3) for (let k = 0; k < 4; k++) f.emit(addTo(at, PLANE));
      }
      f.emit(get(m[0]!), get(m[1]!), l.add, get(m[2]!), l.add, set(s[j]!));
      f.emit(get(m[1]!), get(m[2]!), l.sub, get(m[3]!), l.sub, set(r[j]!));
    }
    // Row v of the output block: (v0 + v1 + v2, v1 - v2 - v3) for v = s, then r.
    const first = (v: number[]): number[] => [...get(v[0]!), ...get(v[1]!), ...l.add, ...get(v[2]!), ...l.add];
    const second = (v: number[]): number[] => [...get(v[1]!), ...get(v[2]!), ...l.sub, ...get(v[3]!), ...l.sub];
    const twoCols = [...get(COLS), ...i32Const(1), I32_GT_S];
    f.emit(get(q), first(s), l.store, twoCols, [IF, VOID], get(q), get(PIX), [I32_ADD], second(s), l.store, [END]);
    f.emit(get(ROWS), i32Const(1), [I32_GT_S, IF, VOID], get(q), get(ROW), [I32_ADD], set(at));
    f.emit(get(at), first(r), l.store, twoCols, [IF, VOID], get(at), get(PIX), [I32_ADD], second(r), l.store, [END, END]);
  };
  f.emit(get(PIX), get(PIX), [I32_ADD], set(pix2));
  f.emit(positive(TILES), [IF, VOID, LOOP, VOID]);
  f.emit(get(SRC), set(p), get(DST), set(q));
  overChannels(f, VECS, TAIL, i, [p, q], body);
  f.emit(addTo(SRC, PIX), addTo(DST, pix2), countDown(TILES), [END, END]);
  return f;
}

/**
 * The four values of G v for v = (v0, v1, v2) in locals, as code pushing each: (v0, ((v0 + v1) +
 * v2) / 2, ((v0 - v1) + v2) / 2, v2).
 */
function gv(l: Lanes, v: readonly number[]): number[][] {
  const [a, b, c] = v as [number, number, number];
  return [get(a), [...get(a), ...get(b), ...l.add, ...get(c), ...l.add, ...l.half], [...get(a), ...get(b), ...l.sub, ...get(c), ...l.add, ...l.half], get(c)];
}

/**
 * `wino_filter(src, planeBytes, dst, vecs, tail)`: U = G g G^T for each filter element (one (c, oc)
 * pair) of the 3x3 filter whose 9 taps lie planeBytes apart from src, into the 16 planes planeBytes
 * apart from dst; `vecs` elements four at a time, then `tail` one at a time.
 */
function filterTransformCode(): FunctionBuilder {
  const f = new FunctionBuilder('wino_filter', Array<number>(5).fill(I32));
  const [SRC, PLANE, DST, VECS, TAIL] = [0, 1, 2, 3, 4];
  const [at, i] = [f.local(I32), f.local(I32)];
  const body = (l: Lanes): void => {
    const g = Array.from({ length: 9 }, () => f.local(l.type));
    const t = Array.from({ length: 12 }, () => f.local(l.type));
    f.emit(get(SRC), set(at));
    for (let k = 0; k < 9; k++) {
      f.emit(get(at), l.load, set(g[k]!));
      if (k < 8) f.emit(addTo(at, PLANE));
    }
    // t = G g: column kw of t is G applied to column kw of g.
    for (let kw = 0; kw < 3; kw++) gv(l, [g[kw]!, g[3 + kw]!, g[6 + kw]!]).forEach((code, r) => f.emit(code, set(t[3 * r + kw]!)));
    // U = t G^T: row r of U is G applied to row r of t.
    f.emit(get(DST), set(at));
    for (let r = 0; r < 4; r++) {
      gv(l, [t[3 * r]!, t[3 * r + 1]!, t[3 * r + 2]!]).forEach((code, j) => {
        f.emit(get(at), code, l.store);
        if (r < 3 || j < 3) f.emit(addTo(at, PLANE));
      });
    }
  };
  overChannels(f, VECS, TAIL, i, [SRC, DST], body);
  return f;
}

/**
 * `wino_dy(src, rowBytes, pixBytes, dst, planeBytes, tiles, vecs, tail)`: for the filter gradient,
 * A dy A^T of `tiles` 2x2 blocks of the output gradient along one row of tiles (block k at src + k *
 * 2 * pixBytes, rows rowBytes apart) into 16 planes planeBytes apart from dst + k * pixBytes. With
 * dy = ((a, b), (c, d)): A dy = rows (a, b), (a + c, b + d), (a - c, b - d), (-c, -d), and each
 * row (u, v) of it times A^T is (u, u + v, u - v, -v).
 */
function outputGradTransformCode(): FunctionBuilder {
  const f = new FunctionBuilder('wino_dy', Array<number>(8).fill(I32));
  const [SRC, ROW, PIX, DST, PLANE, TILES, VECS, TAIL] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [p, q, out, i, pix2] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const body = (l: Lanes): void => {
    const [a, b, c, d] = Array.from({ length: 4 }, () => f.local(l.type)) as [number, number, number, number];
    const t = Array.from({ length: 8 }, () => f.local(l.type));
    f.emit(get(p), l.load, set(a), get(p), get(PIX), [I32_ADD], l.load, set(b));
    f.emit(get(p), get(ROW), [I32_ADD], l.load, set(c), get(p), get(ROW), [I32_ADD], get(PIX), [I32_ADD], l.load, set(d));
    const rows: number[][][] = [
      [get(a), get(b)],
      [[...get(a), ...get(c), ...l.add], [...get(b), ...get(d), ...l.add]],
      [[...get(a), ...get(c), ...l.sub], [...get(b), ...get(d), ...l.sub]],
      [[...get(c), ...l.neg], [...get(d), ...l.neg]],
    ];
    rows.forEach(([u, v], r) => f.emit(u!, set(t[2 * r]!), v!, set(t[2 * r + 1]!)));
    f.emit(get(q), set(out));
    for (let r = 0; r < 4; r++) {
      const [u, v] = [t[2 * r]!, t[2 * r + 1]!];
      const values = [get(u), [...get(u), ...get(v), ...l.add], [...get(u), ...get(v), ...l.sub], [...get(v), ...l.neg]];
      values.forEach((code, j) => {
        f.emit(get(out), code, l.store);
        if (r < 3 || j < 3) f.emit(addTo(out, PLANE));
      });
    }
  };
  f.emit(get(PIX), get(PIX), [I32_ADD], set(pix2));
  f.emit(positive(TILES), [IF, VOID, LOOP, VOID]);
  f.emit(get(SRC), set(p), get(DST), set(q));
  overChannels(f, VECS, TAIL, i, [p, q], body);
  f.emit(addTo(SRC, pix2), addTo(DST, PIX), countDown(TILES), [END, END]);
  return f;
}

type FilterFn = (src: number, planeBytes: number, dst: number, vecs: number, tail: number) => void;
type InFn = (src: number, rowBytes: number, pixBytes: number, dst: number, planeBytes: number, tiles: number, vecs: number, tail: number) => void;
type OutFn = (src: number, planeBytes: number, dst: number, rowBytes: number, pixBytes: number, tiles: number, vecs: number, tail: number, rows: number, cols: number) => void;

interface Engine {
  filter: FilterFn;
  input: InFn;
  outputGrad: InFn;
  output: OutFn;
}

function createEngine(): Engine | null {
  const heap = heapMemory();
  if (heap === null) return null;
  try {
    const wasm = wasmModule({ pages: 1, maxPages: heap.maxPages, shared: heap.shared }, [filterTransformCode().build(), inputTransformCode().build(), outputTransformCode().build(), outputGradTransformCode().build()]);
    const e = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { mem: heap.memory } }).exports as unknown as { wino_filter: FilterFn; wino_in: InFn; wino_out: OutFn; wino_dy: InFn };
    return { filter: e.wino_filter, input: e.wino_in, output: e.wino_out, outputGrad: e.wino_dy };
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

// ---- the transforms in TypeScript (the same float32 sums in the same order as the WebAssembly) ----

/** The TypeScript twin of wino_filter: U[p][e] = (G g G^T)[p] for each of the E = C * OC filter elements e, g[kh][kw] = f[(3 kh + kw) * E + e]. */
function filterTransformTS(f: Float32Array, E: number, u: Float32Array): void {
  const fr = Math.fround;
  const t = new Float64Array(12);
  for (let e = 0; e < E; e++) {
    for (let kw = 0; kw < 3; kw++) {
      const a = f[kw * E + e]!;
      const b = f[(3 + kw) * E + e]!;
      const c = f[(6 + kw) * E + e]!;
      t[kw] = a;
      t[3 + kw] = fr(fr(fr(a + b) + c) * 0.5);
      t[6 + kw] = fr(fr(fr(a - b) + c) * 0.5);
      t[9 + kw] = c;
    }
    for (let r = 0; r < 4; r++) {
      const a = t[3 * r]!;
      const b = t[3 * r + 1]!;
      const c = t[3 * r + 2]!;
      const o = 4 * r * E + e;
      u[o] = a;
      u[o + E] = fr(fr(a + b) + c) * 0.5;
      u[o + 2 * E] = fr(fr(a - b) + c) * 0.5;
      u[o + 3 * E] = c;
    }
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

function tiling(g: Geom): Tiling {
  const TH = Math.ceil(g.OH / 2);
  const TW = Math.ceil(g.OW / 2);
  return { TH, TW, tiles: g.N * TH * TW, Hp: 2 * TH + 2, Wp: 2 * TW + 2 };
}

/** The TypeScript twin of wino_in, for tiles [t0, t0 + count) into planes `plane` floats apart. */
function inputTransformTS(t: Tiling, C: number, xin: TileInput, t0: number, count: number, v: Float32Array, plane: number): void {
  const x = xin.scratch === null ? xin.x : xin.scratch.view();
  const u = new Float64Array(16);
  const row = xin.W * C;
  for (let k = 0; k < count; k++) {
    const tile = t0 + k;
    const tw = tile % t.TW;
    const th = Math.floor(tile / t.TW) % t.TH;
    const n = Math.floor(tile / (t.TW * t.TH));
    const base = ((n * xin.H + 2 * th) * xin.W + 2 * tw) * C;
    for (let c = 0; c < C; c++) {
      for (let r = 0, s = base + c; r < 4; r++, s += row) {
        const d0 = x[s]!;
        const d1 = x[s + C]!;
        const d2 = x[s + 2 * C]!;
        const d3 = x[s + 3 * C]!;
        u[4 * r] = Math.fround(d0 - d2);
        u[4 * r + 1] = Math.fround(d1 + d2);
        u[4 * r + 2] = Math.fround(d2 - d1);
        u[4 * r + 3] = Math.fround(d1 - d3);
      }
      const o = k * C + c;
      for (let j = 0; j < 4; j++) {
        v[o + j * plane] = u[j]! - u[8 + j]!;
        v[o + (4 + j) * plane] = u[4 + j]! + u[8 + j]!;
        v[o + (8 + j) * plane] = u[8 + j]! - u[4 + j]!;
        v[o + (12 + j) * plane] = u[4 + j]! - u[12 + j]!;
      }
    }
  }
}

/** The TypeScript twin of wino_dy, for tiles [t0, t0 + count) of dy (laid out as `dyin`) into planes `plane` floats apart. */
function outputGradTransformTS(t: Tiling, OC: number, dyin: TileInput, t0: number, count: number, v: Float32Array, plane: number): void {
  const dy = dyin.scratch === null ? dyin.x : dyin.scratch.view();
  const fr = Math.fround;
  const row = dyin.W * OC;
  for (let k = 0; k < count; k++) {
    const tile = t0 + k;
    const tw = tile % t.TW;
    const th = Math.floor(tile / t.TW) % t.TH;
    const n = Math.floor(tile / (t.TW * t.TH));
    const base = ((n * dyin.H + 2 * th) * dyin.W + 2 * tw) * OC;
    for (let oc = 0; oc < OC; oc++) {
      const a = dy[base + oc]!;
      const b = dy[base + OC + oc]!;
      const c = dy[base + row + oc]!;
      const d = dy[base + row + OC + oc]!;
      const o = k * OC + oc;
      for (let r = 0; r < 4; r++) {
        const u = r === 0 ? a : r === 1 ? fr(a + c) : r === 2 ? fr(a - c) : -c;
        const w = r === 0 ? b : r === 1 ? fr(b + d) : r === 2 ? fr(b - d) : -d;
        v[o + 4 * r * plane] = u;
        v[o + (4 * r + 1) * plane] = u + w;
        v[o + (4 * r + 2) * plane] = u - w;
        v[o + (4 * r + 3) * plane] = -w;
      }
    }
  }
}

/** df[kh, kw, e] = (G^T m G)[kh, kw] for each of the E filter elements e, m[p] = m[p * E + e] (the filter gradient's last step). */
function filterGradTransform(m: Float32Array, E: number, df: Float32Array): void {
  const s = new Float64Array(12);
  for (let e = 0; e < E; e++) {
    // s = m G (4 rows of 3), then G^T s, column by column.
    for (let p = 0; p < 4; p++) {
      const m0 = m[4 * p * E + e]!;
      const m1 = m[(4 * p + 1) * E + e]!;
      const m2 = m[(4 * p + 2) * E + e]!;
      const m3 = m[(4 * p + 3) * E + e]!;
      s[3 * p] = m0 + 0.5 * (m1 + m2);
      s[3 * p + 1] = 0.5 * (m1 - m2);
      s[3 * p + 2] = 0.5 * (m1 + m2) + m3;
    }
    for (let l = 0; l < 3; l++) {
      const [s0, s1, s2, s3] = [s[l]!, s[3 + l]!, s[6 + l]!, s[9 + l]!];
      df[l * E + e] = s0 + 0.5 * (s1 + s2);
      df[(3 + l) * E + e] = 0.5 * (s1 - s2);
      df[(6 + l) * E + e] = 0.5 * (s1 + s2) + s3;
    }
  }
}

/** The TypeScript twin of wino_out, for tiles [t0, t0 + count) from planes `plane` floats apart. */
function outputTransformTS(g: Geom, t: Tiling, OC: number, m: Float32Array, plane: number, t0: number, count: number, y: Float32Array): void {
  const s = new Float64Array(4);
  const r = new Float64Array(4);
  for (let k = 0; k < count; k++) {
    const tile = t0 + k;
    const tw = tile % t.TW;
    const th = Math.floor(tile / t.TW) % t.TH;
    const n = Math.floor(tile / (t.TW * t.TH));
    const two = 2 * tw + 1 < g.OW;
    const below = 2 * th + 1 < g.OH;
    const base = ((n * g.OH + 2 * th) * g.OW + 2 * tw) * OC;
    for (let oc = 0; oc < OC; oc++) {
      const at = k * OC + oc;
      for (let j = 0; j < 4; j++) {
        const m0 = m[at + j * plane]!;
        const m1 = m[at + (4 + j) * plane]!;
        const m2 = m[at + (8 + j) * plane]!;
        const m3 = m[at + (12 + j) * plane]!;
        s[j] = Math.fround(Math.fround(m0 + m1) + m2);
        r[j] = Math.fround(Math.fround(m1 - m2) - m3);
      }
      y[base + oc] = Math.fround(s[0]! + s[1]!) + s[2]!;
      if (two) y[base + OC + oc] = Math.fround(s[1]! - s[2]!) - s[3]!;
      if (below) {
        const b = base + g.OW * OC;
        y[b + oc] = Math.fround(r[0]! + r[1]!) + r[2]!;
        if (two) y[b + OC + oc] = Math.fround(r[1]! - r[2]!) - r[3]!;
      }
    }
  }
}

// ---- the convolution ----

/**
 * Floats of the planes per chunk of tiles (16 planes per operand; 1 MiB). Measured alternately in
 * one process (scratch/w_chunk.mts, forward, median of 9; 2^16 / 2^17 / 2^18 / 2^19 / 2^20 / 2^22
 * floats, ms): 32x32x32x64 -> 64 31.7 / 30.0 / 30.4 / 30.8 / 40.6 / 35.2 (im2col 67.0);
 * 8x16x16x128 -> 128 8.0 / 7.7 / 7.6 / 9.9 / 8.7 / 8.3; 8x8x8x256 -> 256 11.4 / 11.2 / 14.0 /
 * 12.3 / 11.4 / 11.6 (noisy); 1x32x32x64 -> 64 1.27 / 1.27 / 1.23 / 1.25 / 1.30 / 1.26.
 */
const PLANE_CHUNK = 1 << 18;

export interface WinogradOptions {
  /** Who transforms inputs and outputs: WebAssembly SIMD in the heap (the default where there is one) or the TypeScript loops. */
  transforms?: 'wasm' | 'typescript';
  /** Floats of V and M per chunk of tiles (PLANE_CHUNK). */
  chunkFloats?: number;
  /**
   * The filter is given as the input gradient's flipped convolution reads it (conv.ts): f[kh, kw,
   * OC, C], to be turned by 180 degrees with its channel axes swapped. Turning g turns G g G^T the
   * same way but for rows and columns 0 and 3 swapped (G J = P G, P the swap), so the transform
   * of f as it is serves, its planes permuted and each GEMM reading its plane transposed.
   */
  flipped?: boolean;
}

/** The plane of G g G^T that holds plane p of the turned filter's: rows and columns 0 and 3 swapped. */
const FLIPPED_PLANE = Int32Array.from({ length: 16 }, (_, p) => {
  const swap = (i: number): number => (i === 0 ? 3 : i === 3 ? 0 : i);
  return 4 * swap(p >> 2) + swap(p & 3);
});

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
  const xp = scratch === null ? new Float32Array(N * Hp * Wp * C) : scratch.view().fill(0);
  const s0 = Math.max(0, padL);
  const s1 = Math.min(Wp, W + padL);
  for (let n = 0; n < N && s1 > s0; n++) {
    for (let r = Math.max(0, padT); r < Math.min(Hp, H + padT); r++) {
      const src = ((n * H + r - padT) * W + (s0 - padL)) * C;
      xp.set(x.subarray(src, src + (s1 - s0) * C), ((n * Hp + r) * Wp + s0) * C);
    }
  }
  return { x: xp, H: Hp, W: Wp, at: scratch === null ? -1 : scratch.address, scratch };
}

/** Tiles per chunk: equal chunks whose planes (16 per operand, `perTile` floats per tile in all) hold at most `floats` floats. */
function chunkTiles(tiles: number, perTile: number, floats: number): number {
  const chunks = Math.max(1, Math.ceil((tiles * 16 * perTile) / Math.max(1, floats)));
  return Math.ceil(tiles / chunks);
}

/** y[N, OH, OW, OC] (NHWC, overwritten) = the 3x3 stride-1 convolution of x with f[3, 3, C, OC] (see `flipped`) by Winograd F(2x2,3x3). */
export function conv2dWinograd(g: Geom, OC: number, x: Float32Array, f: Float32Array, y: Float32Array, o: WinogradOptions = {}): void {
  const { C } = g;
  const t = tiling(g);
  if (t.tiles === 0 || OC === 0) return;
  if (C === 0) {
    y.fill(0);
    return;
  }
  const e = o.transforms === 'typescript' ? null : engine;
  const T = chunkTiles(t.tiles, C + OC, o.chunkFloats ?? PLANE_CHUNK);
  const u = new Scratch(16 * C * OC);
  const v = new Scratch(16 * T * C);
  const m = new Scratch(16 * T * OC);
  const xin = tileInput(g.N, g.H, g.W, C, g.padT, g.padL, t.Hp, t.Wp, x, e !== null);
  // Filter elements per tap.
  const E = C * OC;
  const yAt = e === null ? -1 : heapAddress(y);
  // An output outside the heap is written to a copy there and copied out at the end.
  const yScratch = e !== null && yAt < 0 ? new Scratch(y.length) : null;
  try {
    if (e !== null && u.address >= 0) {
      // A filter outside the heap is copied in first (its own transform reads it there).
      const fAt = heapAddress(f);
      const staged = fAt < 0 ? new Scratch(f.length) : null;
      try {
        staged?.view().set(f);
        const at = staged === null ? fAt : staged.address;
        if (at >= 0) e.filter(at, E * 4, u.address, E >> 2, E & 3);
        else filterTransformTS(f, E, u.view());
      } finally {
        staged?.free();
      }
    } else {
      filterTransformTS(f, E, u.view());
    }
    const yBase = yAt >= 0 ? yAt : (yScratch?.address ?? -1);
    const wasm = e !== null && xin.at >= 0 && v.address >= 0 && m.address >= 0 && yBase >= 0;
    for (let t0 = 0; t0 < t.tiles; t0 += T) {
      const count = Math.min(T, t.tiles - t0);
      if (wasm) inputTransformWasm(e.input, C, t, xin, v.address, T, t0, count);
      else inputTransformTS(t, C, xin, t0, count, v.view(), T * C);
      if (o.flipped) {
        for (let p = 0; p < 16; p++) sgemm(false, true, count, OC, C, 1, v.view(), C, u.view(), C, 0, m.view(), OC, p * T * C, FLIPPED_PLANE[p]! * E, p * T * OC);
      } else {
        for (let p = 0; p < 16; p++) sgemm(false, false, count, OC, C, 1, v.view(), C, u.view(), OC, 0, m.view(), OC, p * T * C, p * E, p * T * OC);
      }
      if (wasm) outputTransformWasm(e, g, t, OC, m.address, T, yBase, t0, count);
      else outputTransformTS(g, t, OC, m.view(), T * OC, t0, count, yScratch === null ? y : yScratch.view());
    }
    if (yScratch !== null) y.set(yScratch.view());
  } finally {
    u.free();
    v.free();
    m.free();
    xin.scratch?.free();
    yScratch?.free();
  }
}

/**
 * df[3, 3, C, OC] (overwritten) = the filter gradient of the 3x3 stride-1 convolution of x, given
 * its output gradient dy: with V = B^T d B of each input tile and W = A dy A^T of the 2x2 block of
 * dy over it, df = G^T [sum over tiles of V^T W] G, the sums being 16 GEMMs [C x tiles] x [tiles x
 * OC] accumulated over the chunks of tiles. dy's rows and columns past the output (the bottom and
 * right edge tiles of odd sizes) are zeros, as the forward's cropped outputs have no gradient.
 */
export function conv2dWinogradFilterGrad(g: Geom, OC: number, x: Float32Array, dy: Float32Array, df: Float32Array, o: WinogradOptions = {}): void {
  const { C } = g;
  const t = tiling(g);
  const E = C * OC;
  if (t.tiles === 0 || E === 0) {
    df.fill(0);
    return;
  }
  const e = o.transforms === 'typescript' ? null : engine;
  const T = chunkTiles(t.tiles, C + OC, o.chunkFloats ?? PLANE_CHUNK);
  const v = new Scratch(16 * T * C);
  const w = new Scratch(16 * T * OC);
  const m = new Scratch(16 * E);
  const xin = tileInput(g.N, g.H, g.W, C, g.padT, g.padL, t.Hp, t.Wp, x, e !== null);
  const dyin = tileInput(g.N, g.OH, g.OW, OC, 0, 0, 2 * t.TH, 2 * t.TW, dy, e !== null);
  try {
    const wasm = e !== null && xin.at >= 0 && dyin.at >= 0 && v.address >= 0 && w.address >= 0;
    for (let t0 = 0; t0 < t.tiles; t0 += T) {
      const count = Math.min(T, t.tiles - t0);
      if (wasm) {
        inputTransformWasm(e.input, C, t, xin, v.address, T, t0, count);
        inputTransformWasm(e.outputGrad, OC, t, dyin, w.address, T, t0, count);
      } else {
        inputTransformTS(t, C, xin, t0, count, v.view(), T * C);
        outputGradTransformTS(t, OC, dyin, t0, count, w.view(), T * OC);
      }
      const beta = t0 === 0 ? 0 : 1;
      for (let p = 0; p < 16; p++) sgemm(true, false, C, OC, count, 1, v.view(), C, w.view(), OC, beta, m.view(), OC, p * T * C, p * T * OC, p * E);
    }
    filterGradTransform(m.view(), E, df);
  } finally {
    v.free();
    w.free();
    m.free();
    xin.scratch?.free();
    dyin.scratch?.free();
  }
}

/** An input transform (`fn`: wino_in, or wino_dy) of tiles [t0, t0 + count) into the chunk's planes at vAt, one call per run of tiles within a row of tiles. */
function inputTransformWasm(fn: InFn, C: number, t: Tiling, xin: TileInput, vAt: number, T: number, t0: number, count: number): void {
  const pix = C * 4;
  for (let k = 0; k < count; ) {
    const tile = t0 + k;
    const tw = tile % t.TW;
    const th = Math.floor(tile / t.TW) % t.TH;
    const img = Math.floor(tile / (t.TW * t.TH));
    const n = Math.min(t.TW - tw, count - k);
    const src = xin.at + ((img * xin.H + 2 * th) * xin.W + 2 * tw) * pix;
    fn(src, xin.W * pix, pix, vAt + k * pix, T * pix, n, C >> 2, C & 3);
    k += n;
  }
}

/** The output transform of tiles [t0, t0 + count) from the chunk's planes at mAt into y at yAt, cropped at the bottom and right edges. */
function outputTransformWasm(e: Engine, g: Geom, t: Tiling, OC: number, mAt: number, T: number, yAt: number, t0: number, count: number): void {
  const pix = OC * 4;
  const plane = T * pix;
  for (let k = 0; k < count; ) {
    const tile = t0 + k;
    const tw = tile % t.TW;
    const th = Math.floor(tile / t.TW) % t.TH;
    const img = Math.floor(tile / (t.TW * t.TH));
    const n = Math.min(t.TW - tw, count - k);
    const rows = Math.min(2, g.OH - 2 * th);
    const dst = yAt + ((img * g.OH + 2 * th) * g.OW + 2 * tw) * pix;
    const src = mAt + k * pix;
    // The last tile of an odd-width row has one column.
    const whole = 2 * (tw + n) <= g.OW ? n : n - 1;
    if (whole > 0) e.output(src, plane, dst, g.OW * pix, pix, whole, OC >> 2, OC & 3, rows, 2);
    if (whole < n) e.output(src + whole * pix, plane, dst + 2 * whole * pix, g.OW * pix, pix, 1, OC >> 2, OC & 3, rows, 1);
    k += n;
  }
}
