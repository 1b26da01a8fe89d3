/**
 * WebAssembly SIMD loops for the CPU kernels, assembled with wasm.ts: float32 elementwise binary
 * ops (same shape, scalar, repeated row or repeated column) and row reductions. Pooling, its
 * gradients, column sums and direct convolutions are in parallel.ts (re-exported here).
 *
 * The loops run on the CPU backend's heap memory (heap.ts). Same-shape binary ops and row
 * reductions whose operands lie there (arenas and variables) read and write them in place; other
 * operands are copied through a staging area from heapAlloc a chunk at a time (sized to stay in
 * cache) and the results copied back. Elementwise results are bit-identical to the TypeScript
 * loops (f32x4 add/sub/mul/div/min/max round exactly as float64 arithmetic rounded to float32
 * does, and min/max propagate NaN and order -0 < +0 like Math.min/Math.max).
 *
 * WEIR_CPU_FAST=0 (read once, at load) disables all of it.
 */

import {
  F32,
  F32_MAX,
  F32_MIN,
  F32X4_ADD,
  F32X4_DIV,
  F32X4_EXTRACT_LANE,
  F32X4_MAX,
  F32X4_MIN,
  F32X4_MUL,
  F32X4_SUB,
  F64,
  F64_ADD,
  F64X2_ADD,
  F64X2_EXTRACT_LANE,
  F64X2_PROMOTE_LOW_F32X4,
  get,
  I32,
  I32_ADD,
  I32_CONST,
  I32_LT_U,
  I32_SUB,
  I8X16_SHUFFLE,
  set,
  simd,
  sleb,
  tee,
  V128,
  V128_LOAD,
  V128_LOAD32_SPLAT,
  V128_STORE,
  wasmModule,
  type WasmFunction,
} from './wasm.js';
import { ResourceExhaustedError } from '../../src/core/errors.js';
import { heapAddress, heapAlloc, heapBuffer, heapFree, heapMemory } from './heap.js';
import { parallelAvailable } from './parallel.js';

// ---- The elementwise / reduction module ----

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';
const BINARY_OPCODES: Record<BinaryOp, number> = { add: F32X4_ADD, sub: F32X4_SUB, mul: F32X4_MUL, div: F32X4_DIV, max: F32X4_MAX, min: F32X4_MIN };
/** How each operand is read: a vector of n floats, or one float splatted to every lane. */
type Mode = 'vv' | 'vs' | 'sv';
const MODES: readonly Mode[] = ['vv', 'vs', 'sv'];

type BinaryFn = (a: number, b: number, o: number, bytes: number) => void;
type ReduceFn = (a: number, bytes: number) => number;
type ColumnFn = (a: number, s: number, o: number, rows: number, rowBytes: number) => void;

/**
 * `<op>_<mode>(a, b, o, bytes)`: o[i] = a[i] op b[i] over `bytes` (a positive multiple of 16) at
 * byte addresses a, b, o (any alignment); a splatted operand is the float at its address.
 */
function binaryFunction(op: BinaryOp, mode: Mode): WasmFunction {
  const [A, B, O, N] = [0, 1, 2, 3];
  const load = (p: number, splat: boolean): number[] => [...get(p), ...(splat ? simd(V128_LOAD32_SPLAT, 2, 0) : simd(V128_LOAD, 0, 0))];
  const bump = (p: number): number[] => [...get(p), I32_CONST, 16, I32_ADD, ...set(p)];
  const code: number[] = [0x03, 0x40]; // loop
  code.push(...get(O), ...load(A, mode === 'sv'), ...load(B, mode === 'vs'), ...simd(BINARY_OPCODES[op]), ...simd(V128_STORE, 0, 0));
  if (mode !== 'sv') code.push(...bump(A));
  if (mode !== 'vs') code.push(...bump(B));
  code.push(...bump(O));
  code.push(...get(N), I32_CONST, 16, I32_SUB, ...tee(N), 0x0d, 0, 0x0b); // n -= 16; br_if loop; end
  return { exportName: `${op}_${mode}`, params: [I32, I32, I32, I32], results: [], locals: [], code };
}

/** `sum(a, bytes)`: the float64 sum of the floats at a (bytes a positive multiple of 16), in two f64x2 accumulators. */
function sumFunction(): WasmFunction {
  const [A, N, V, LO, HI] = [0, 1, 2, 3, 4];
  const highToLow = simd(I8X16_SHUFFLE, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
  const code: number[] = [0x03, 0x40];
  code.push(...get(A), ...simd(V128_LOAD, 0, 0), ...set(V));
  code.push(...get(LO), ...get(V), ...simd(F64X2_PROMOTE_LOW_F32X4), ...simd(F64X2_ADD), ...set(LO));
  code.push(...get(HI), ...get(V), ...get(V), ...highToLow, ...simd(F64X2_PROMOTE_LOW_F32X4), ...simd(F64X2_ADD), ...set(HI));
  code.push(...get(A), I32_CONST, 16, I32_ADD, ...set(A));
  code.push(...get(N), I32_CONST, 16, I32_SUB, ...tee(N), 0x0d, 0, 0x0b);
  code.push(...get(LO), ...get(HI), ...simd(F64X2_ADD), ...tee(LO), ...simd(F64X2_EXTRACT_LANE, 0), ...get(LO), ...simd(F64X2_EXTRACT_LANE, 1), F64_ADD);
  return { exportName: 'sum', params: [I32, I32], results: [F64], locals: [V128, V128, V128], code };
}

/**
 * `max(a, bytes)` / `min(a, bytes)`: the extreme float at a (bytes a positive multiple of 64); NaN
 * if any is NaN. Four independent accumulators, since f32x4.max/min have a long latency.
 */
function extremeFunction(op: 'max' | 'min'): WasmFunction {
  const [A, N] = [0, 1];
  const acc = (k: number): number => 2 + k;
  const [vop, sop] = op === 'max' ? [F32X4_MAX, F32_MAX] : [F32X4_MIN, F32_MIN];
  const code: number[] = [];
  for (let k = 0; k < 4; k++) code.push(...get(A), ...simd(V128_LOAD, 0, 16 * k), ...set(acc(k)));
  code.push(0x03, 0x40);
  for (let k = 0; k < 4; k++) code.push(...get(acc(k)), ...get(A), ...simd(V128_LOAD, 0, 16 * k), ...simd(vop), ...set(acc(k)));
  code.push(...get(A), I32_CONST, ...sleb(64), I32_ADD, ...set(A));
  code.push(...get(N), I32_CONST, ...sleb(64), I32_SUB, ...tee(N), 0x0d, 0, 0x0b);
  code.push(...get(acc(0)), ...get(acc(1)), ...simd(vop), ...get(acc(2)), ...get(acc(3)), ...simd(vop), ...simd(vop), ...set(acc(0)));
  for (let lane = 0; lane < 4; lane++) {
    code.push(...get(acc(0)), ...simd(F32X4_EXTRACT_LANE, lane));
    if (lane > 0) code.push(sop);
  }
  return { exportName: op, params: [I32, I32], results: [F32], locals: [V128, V128, V128, V128], code };
}

/**
 * `<op>_col(a, s, o, rows, rowBytes)` / `<op>_colfirst(...)`: for each of `rows` rows of rowBytes
 * bytes (a positive multiple of 4) at a and o, o[j] = a[j] op s[r] (or s[r] op a[j]), s[r] the
 * row's float at s + 4r. A row's rounded-up tail spills into the next row, which then overwrites it.
 */
function columnFunction(op: BinaryOp, colFirst: boolean): WasmFunction {
  const [A, S, O, R, RB] = [0, 1, 2, 3, 4];
  const [Q, SV] = [5, 6];
  const code: number[] = [0x03, 0x40]; // loop over rows
  code.push(...get(S), ...simd(V128_LOAD32_SPLAT, 2, 0), ...set(SV), I32_CONST, 0, ...set(Q));
  code.push(0x03, 0x40); // loop over the row's vectors
  code.push(...get(O), ...get(Q), I32_ADD);
  const a = [...get(A), ...get(Q), I32_ADD, ...simd(V128_LOAD, 0, 0)];
  code.push(...(colFirst ? [...get(SV), ...a] : [...a, ...get(SV)]), ...simd(BINARY_OPCODES[op]), ...simd(V128_STORE, 0, 0));
  code.push(...get(Q), I32_CONST, 16, I32_ADD, ...tee(Q), ...get(RB), I32_LT_U, 0x0d, 0, 0x0b);
  code.push(...get(A), ...get(RB), I32_ADD, ...set(A), ...get(O), ...get(RB), I32_ADD, ...set(O));
  code.push(...get(S), I32_CONST, 4, I32_ADD, ...set(S));
  code.push(...get(R), I32_CONST, 1, I32_SUB, ...tee(R), 0x0d, 0, 0x0b);
  return { exportName: `${op}_${colFirst ? 'colfirst' : 'col'}`, params: [I32, I32, I32, I32, I32], results: [], locals: [I32, V128], code };
}

/** Floats per staging buffer: three of them (two operands, one result) stay within L2. */
const CHUNK = 16384;
/** Below this many output elements the copies cost more than the SIMD loop saves. */
export const SIMD_MIN_ELEMENTS = 4096;

interface Engine {
  binary: Record<`${BinaryOp}_${Mode}`, BinaryFn>;
  column: Record<`${BinaryOp}_${'col' | 'colfirst'}`, ColumnFn>;
  sum: ReduceFn;
  max: ReduceFn;
  min: ReduceFn;
}

/** The loops, instantiated on the CPU backend's heap memory (runtime/cpu/heap.ts); null without it. */
function createEngine(): Engine | null {
  const heapMem = heapMemory();
  if (heapMem === null) return null;
  try {
    const fns: WasmFunction[] = [];
    for (const op of Object.keys(BINARY_OPCODES) as BinaryOp[]) {
      for (const mode of MODES) fns.push(binaryFunction(op, mode));
      fns.push(columnFunction(op, false), columnFunction(op, true));
    }
    fns.push(sumFunction(), extremeFunction('max'), extremeFunction('min'));
    const wasm = wasmModule({ pages: 1, maxPages: heapMem.maxPages, shared: heapMem.shared }, fns);
    const exports = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { mem: heapMem.memory } }).exports as unknown as Engine['binary'] &
      Engine['column'] &
      Omit<Engine, 'binary' | 'column'>;
    const { sum, max, min } = exports;
    return { binary: exports, column: exports, sum, max, min };
  } catch {
    return null;
  }
}

// Pooling and column sums live in parallel.ts: the switch below covers them too.
const engine = parallelAvailable() ? createEngine() : null;
let enabled = engine !== null;
/**
 * The staging area: `base` its byte address in the heap memory (from heapAlloc, grown as needed),
 * `heap` a view of it (float index i is byte base + 4i), refreshed by growHeap.
 */
let base = -1;
let heap: Float32Array<ArrayBufferLike> = new Float32Array(0);
/** Floats of the three chunk buffers, with 16 bytes of slack after each so rounded-up loops stay in bounds. */
const STAGE_FLOATS = 3 * (CHUNK + 4);
const A_AT = 0;
const B_AT = CHUNK + 4;
const O_AT = 2 * (CHUNK + 4);
/** Byte address in the heap memory of the staging area's float i. */
const addr = (i: number): number => base + i * 4;

/** Whether the SIMD elementwise/reduction loops can run here. */
export function elementwiseSimdAvailable(): boolean {
  return engine !== null;
}

/** Turns the SIMD elementwise/reduction loops on or off (tests compare both); returns the previous setting. */
export function setElementwiseSimdEnabled(on: boolean): boolean {
  const previous = enabled;
  enabled = on && engine !== null;
  return previous;
}

/** Whether the SIMD loops should handle a float32 problem with `n` output elements. */
export function useSimd(n: number): boolean {
  return enabled && n >= SIMD_MIN_ELEMENTS;
}

const round16 = (floats: number): number => ((floats + 3) >> 2) << 4;

/** The scalar op of f32x4's, as the TypeScript loops compute it (rounded to float32 when stored). */
function scalarOp(op: BinaryOp, x: number, y: number): number {
  switch (op) {
    case 'add':
      return x + y;
    case 'sub':
      return x - y;
    case 'mul':
      return x * y;
    case 'div':
      return x / y;
    case 'max':
      return Math.max(x, y);
    case 'min':
      return Math.min(x, y);
  }
}

/**
 * out = a op b, all n floats long; a or b of length 1 is broadcast. In place when the full-length
 * operands lie in the heap memory (the last n % 4 floats in TypeScript, which rounds as f32x4
 * does), else a chunk at a time through the staging area.
 */
export function binarySimd(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const e = engine!;
  const n = out.length;
  const mode: Mode = a.length === 1 ? 'sv' : b.length === 1 ? 'vs' : 'vv';
  const f = e.binary[`${op}_${mode}`];
  growHeap(STAGE_FLOATS);
  const oAt = heapAddress(out);
  const aAt = mode === 'sv' ? -2 : heapAddress(a);
  const bAt = mode === 'vs' ? -2 : heapAddress(b);
  if (oAt >= 0 && aAt !== -1 && bAt !== -1) {
    // A broadcast scalar is read from its own address where it has one, else from the staging area.
    if (aAt === -2) heap[A_AT] = a[0]!;
    if (bAt === -2) heap[B_AT] = b[0]!;
    const vec = n & ~3;
    if (vec > 0) f(aAt === -2 ? addr(A_AT) : aAt, bAt === -2 ? addr(B_AT) : bAt, oAt, vec * 4);
    for (let i = vec; i < n; i++) out[i] = scalarOp(op, a[mode === 'sv' ? 0 : i]!, b[mode === 'vs' ? 0 : i]!);
    return;
  }
  if (mode === 'sv') heap[A_AT] = a[0]!;
  if (mode === 'vs') heap[B_AT] = b[0]!;
  for (let start = 0; start < n; start += CHUNK) {
    const len = Math.min(CHUNK, n - start);
    if (mode !== 'sv') heap.set(a.subarray(start, start + len), A_AT);
    if (mode !== 'vs') heap.set(b.subarray(start, start + len), B_AT);
    f(addr(A_AT), addr(B_AT), addr(O_AT), round16(len));
    out.set(heap.subarray(O_AT, O_AT + len), start);
  }
}

/**
 * out = full op row (or row op full when `rowFirst`), where `row` (cols floats) repeats along
 * every row of `full` (out.length floats).
 */
export function rowBroadcastSimd(op: BinaryOp, full: Float32Array, row: Float32Array, rowFirst: boolean, out: Float32Array): boolean {
  const cols = row.length;
  if (cols + 4 > CHUNK) return false;
  const e = engine!;
  const f = e.binary[`${op}_vv`];
  const n = out.length;
  const [fullAt, rowAt] = rowFirst ? [B_AT, A_AT] : [A_AT, B_AT];
  growHeap(STAGE_FLOATS);
  heap.set(row, rowAt);
  const rowsPerChunk = Math.floor(CHUNK / cols);
  const bytes = round16(cols);
  for (let start = 0; start < n; start += rowsPerChunk * cols) {
    const len = Math.min(rowsPerChunk * cols, n - start);
    heap.set(full.subarray(start, start + len), fullAt);
    // A row's rounded-up tail spills into the next row's output slot, which that row then overwrites.
    for (let r = 0; r < len; r += cols) {
      const at = addr(fullAt + r);
      if (rowFirst) f(addr(rowAt), at, addr(O_AT + r), bytes);
      else f(at, addr(rowAt), addr(O_AT + r), bytes);
    }
    out.set(heap.subarray(O_AT, O_AT + len), start);
  }
  return true;
}

/**
 * Whether `small` (aligned to the right of `full`) is a column of `full`: equal to it on leading
 * dims and 1 on the trailing dims, at least one of which is not 1 in `full`.
 */
export function isLeadingColumn(small: readonly number[], full: readonly number[]): boolean {
  const off = full.length - small.length;
  if (off < 0) return false;
  let d = full.length;
  while (d > 0 && (d <= off || small[d - 1 - off] === 1)) d--;
  if (d === 0 || d === full.length || full.slice(d).every((x) => x === 1)) return false;
  for (let k = 0; k < d; k++) if ((k < off ? 1 : small[k - off]) !== full[k]) return false;
  return true;
}

/**
 * out = full op col (or col op full when `colFirst`), where col holds one float per row of `full`
 * (out.length / col.length floats per row), repeated along the row. False (nothing done) when a
 * row does not fit in a staging buffer.
 */
export function columnBroadcastSimd(op: BinaryOp, full: Float32Array, col: Float32Array, colFirst: boolean, out: Float32Array): boolean {
  const rows = col.length;
  const cols = out.length / rows;
  if (cols + 4 > CHUNK) return false;
  const f = engine!.column[`${op}_${colFirst ? 'colfirst' : 'col'}`];
  const rowsPerChunk = Math.floor(CHUNK / cols);
  growHeap(STAGE_FLOATS);
  for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
    const rh = Math.min(rowsPerChunk, rows - r0);
    heap.set(full.subarray(r0 * cols, (r0 + rh) * cols), A_AT);
    heap.set(col.subarray(r0, r0 + rh), B_AT);
    f(addr(A_AT), addr(B_AT), addr(O_AT), rh, cols * 4);
    out.set(heap.subarray(O_AT, O_AT + rh * cols), r0 * cols);
  }
  return true;
}

export type RowReduction = 'sum' | 'max' | 'min';

/**
 * out[i] = the sum (in float64), max or min of x[i*r .. i*r + r) for i < outer, r >= 1.
 * NaN propagates through max/min; a max/min of equal-valued +0 and -0 may return either. In place
 * when x lies in the heap memory, else a chunk of rows at a time through the staging area.
 */
export function reduceRowsSimd(kind: RowReduction, x: Float32Array, xOff: number, outer: number, r: number, out: Float64Array): void {
  const e = engine!;
  const f = kind === 'sum' ? e.sum : kind === 'max' ? e.max : e.min;
  const vecLen = kind === 'sum' ? r & ~3 : r & ~15;
  const xAt = heapAddress(x);
  if (xAt >= 0) {
    for (let i = 0; i < outer; i++) out[i] = reduceRow(kind, f, x, xOff + i * r, r, vecLen, xAt + (xOff + i * r) * 4);
    return;
  }
  const rowsPerChunk = Math.max(1, Math.floor((3 * CHUNK) / r));
  growHeap(Math.min(outer, rowsPerChunk) * r);
  for (let first = 0; first < outer; first += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, outer - first);
    const src = xOff + first * r;
    heap.set(x.subarray(src, src + rows * r), 0);
    for (let i = 0; i < rows; i++) out[first + i] = reduceRow(kind, f, heap, i * r, r, vecLen, addr(i * r));
  }
}

/** The reduction of the row of r floats at data[at] (byte address `address` in the memory): the loop over its first vecLen, the rest here. */
function reduceRow(kind: RowReduction, f: ReduceFn, data: Float32Array<ArrayBufferLike>, at: number, r: number, vecLen: number, address: number): number {
  let acc = vecLen > 0 ? f(address, vecLen * 4) : kind === 'sum' ? 0 : data[at]!;
  for (let j = vecLen; j < r; j++) {
    const v = data[at + j]!;
    if (kind === 'sum') acc += v;
    else if (v !== v || (kind === 'max' ? v > acc : v < acc)) acc = v;
  }
  return acc;
}

/**
 * Makes the staging area hold at least `floats` floats (plus 16 bytes of slack) and refreshes its
 * views (any allocation may have grown the memory). A staging area that grows loses its contents.
 */
function growHeap(floats: number): void {
  const bytes = (Math.max(floats, STAGE_FLOATS) + 4) * 4;
  if (heap.length * 4 < bytes) {
    const cap = Math.ceil((bytes * 1.25) / 64) * 64;
    const at = heapAlloc(cap);
    if (at < 0) throw new ResourceExhaustedError(`the CPU backend's WebAssembly memory cannot hold ${cap} more bytes of staging`);
    heapFree(base);
    base = at;
    heap = new Float32Array(heapBuffer(), base, cap / 4);
  } else if (heap.buffer !== heapBuffer()) {
    heap = new Float32Array(heapBuffer(), base, heap.length);
  }
}

export { avgPoolGradSimd, directConvFilterGradSimd, directConvSimd, maxPoolArgmaxSimd, maxPoolGradSimd, poolSimd, sumColumnsSimd, type PoolGeometry } from './parallel.js';
