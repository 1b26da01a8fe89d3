// CPU kernels: segment reductions (sorted, unsorted, sparse), SparseReshape, SparseFillEmptyRows.
// They are host kernels on every backend (WebGPU runs them through its host fallback).
// UnsortedSegmentSum's kernel is array.ts's; the reductions here share one accumulation loop.
import type { DType } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray, numElements } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import { numbersOf } from '../../../ops/semantics/array.js';
import { indexError, reshapeTarget, scalarNumber } from '../../array_args.js';
import { registerCpuKernel } from '../registry.js';
import type { Outputs } from './util.js';

type Reduction = 'sum' | 'mean' | 'sqrtn' | 'max' | 'min' | 'prod';

/** Arithmetic over a dtype's elements: numbers for float32/int32, bigints for int64. */
interface Arith<T> {
  identity(r: Reduction): T;
  combine(r: Reduction, a: T, b: T): T;
  /** a / count (mean) or a / sqrt(count) (sqrtn), as the dtype divides. */
  scale(r: Reduction, a: T, count: number): T;
  zero: T;
}

const FLOAT_LOWEST = -3.4028234663852886e38;
const LIMITS: Record<string, [number, number]> = { float32: [FLOAT_LOWEST, -FLOAT_LOWEST], int32: [-2147483648, 2147483647] };

function numberArith(dtype: DType): Arith<number> {
  const [lowest, highest] = LIMITS[dtype]!;
  const int = dtype === 'int32';
  return {
    zero: 0,
    identity: (r) => (r === 'max' ? lowest : r === 'min' ? highest : r === 'prod' ? 1 : 0),
    combine: (r, a, b) => (r === 'max' ? Math.max(a, b) : r === 'min' ? Math.min(a, b) : r === 'prod' ? (int ? Math.imul(a, b) : a * b) : a + b),
    scale: (r, a, n) => {
      const q = r === 'mean' ? a / n : a / Math.sqrt(n);
      return int ? Math.trunc(q) : q;
    },
  };
}

const BIGINT: Arith<bigint> = {
  zero: 0n,
  identity: (r) => (r === 'max' ? -(2n ** 63n) : r === 'min' ? 2n ** 63n - 1n : r === 'prod' ? 1n : 0n),
  combine: (r, a, b) => BigInt.asIntN(64, r === 'max' ? (a > b ? a : b) : r === 'min' ? (a < b ? a : b) : r === 'prod' ? a * b : a + b),
  scale: (r, a, n) => (r === 'mean' ? a / BigInt(n) : a / BigInt(Math.floor(Math.sqrt(n)))),
};

/**
 * out[seg[k]] (reduction) data[row[k]] for each pair k, rows of `inner` elements; out has
 * numSegments rows. Segments no pair reaches get `emptyValue` (the identity when undefined).
 */
function reduceSegments(
  outputs: Outputs,
  data: NDArray,
  rows: ArrayLike<number>,
  segs: ArrayLike<number>,
  numSegments: number,
  r: Reduction,
  emptyIsZero: boolean,
): NDArray {
  const inner = numElements(data.shape.slice(1));
  const out = outputs.alloc(data.dtype, [numSegments, ...data.shape.slice(1)]);
  const run = <T>(ar: Arith<T>, src: ArrayLike<T>, dst: { [i: number]: T; length: number }): void => {
    const counts = new Float64Array(numSegments);
    const id = ar.identity(r);
    for (let i = 0; i < dst.length; i++) dst[i] = id;
    for (let k = 0; k < segs.length; k++) {
      const s = segs[k]!;
      if (s < 0) continue;
      counts[s]!++;
      const so = rows[k]! * inner;
      const o = s * inner;
      for (let j = 0; j < inner; j++) dst[o + j] = ar.combine(r, dst[o + j]!, src[so + j]!);
    }
    for (let s = 0; s < numSegments; s++) {
      const c = counts[s]!;
      if (c === 0 && (emptyIsZero || r === 'mean' || r === 'sqrtn')) for (let j = 0; j < inner; j++) dst[s * inner + j] = ar.zero;
      else if (c > 0 && (r === 'mean' || r === 'sqrtn')) for (let j = 0; j < inner; j++) dst[s * inner + j] = ar.scale(r, dst[s * inner + j]!, c);
    }
  };
  if (data.dtype === 'int64') run(BIGINT, data.data as BigInt64Array, out.data as BigInt64Array);
  else run(numberArith(data.dtype), data.data as Float32Array, out.data as Float32Array);
  return out;
}

/** Checks sorted segment ids (non-decreasing, >= 0, < limit when given); returns the output rows. */
function sortedRows(op: string, ids: NDArray, limit?: number): number {
  const v = numbersOf(ids);
  for (let k = 0; k < v.length; k++) {
    if (v[k]! < 0 || (limit !== undefined && v[k]! >= limit)) {
      throw new InvalidArgumentError(`${op}: segment_ids[${k}] = ${v[k]} is out of range [0, ${limit ?? 'inf'})`);
    }
    if (k > 0 && v[k]! < v[k - 1]!) throw new InvalidArgumentError(`${op}: segment ids are not increasing: segment_ids[${k}] = ${v[k]} after ${v[k - 1]}`);
  }
  return limit ?? (v.length ? v[v.length - 1]! + 1 : 0);
}

function identityRows(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

// ---- sorted: SegmentSum, SegmentMean, SegmentMax, SegmentMin, SegmentProd ----

for (const [type, r] of [
  ['SegmentSum', 'sum'],
  ['SegmentMean', 'mean'],
  ['SegmentMax', 'max'],
  ['SegmentMin', 'min'],
  ['SegmentProd', 'prod'],
] as const) {
  registerCpuKernel(type, ([data, ids], _node, _state, outputs) => {
    const d = data!;
    if (ids!.rank !== 1 || d.rank < 1 || ids!.shape[0] !== d.shape[0]) {
      throw new InvalidArgumentError(`${type}: segment_ids should be the same size as dimension 0 of data, got ${formatShape(ids!.shape)} and ${formatShape(d.shape)}`);
    }
    const rows = sortedRows(type, ids!);
    // TensorFlow writes 0 to the empty segments of the sorted ops, 1 for SegmentProd.
    return [reduceSegments(outputs, d, identityRows(d.shape[0]!), numbersOf(ids!), rows, r, r !== 'prod')];
  });
}

// ---- unsorted: UnsortedSegmentMax, UnsortedSegmentMin, UnsortedSegmentProd ----

for (const [type, r] of [
  ['UnsortedSegmentMax', 'max'],
  ['UnsortedSegmentMin', 'min'],
  ['UnsortedSegmentProd', 'prod'],
] as const) {
  registerCpuKernel(type, ([data, ids, numA], _node, _state, outputs) => {
    const d = data!;
    const num = scalarNumber(numA!, 'num_segments');
    if (num < 0) throw new InvalidArgumentError(`${type}: num_segments must be >= 0, got ${num}`);
    const idShape = ids!.shape;
    if (idShape.length > d.rank || idShape.some((s, i) => s !== d.shape[i])) {
      throw new InvalidArgumentError(`${type}: data.shape = ${formatShape(d.shape)} does not start with segment_ids.shape = ${formatShape(idShape)}`);
    }
    const segs = numbersOf(ids!);
    segs.forEach((s, i) => {
      if (s >= num) throw indexError(`${type}: segment_ids`, ids!, i, s, num);
    });
    // Rows are data's leading segment_ids dims, flattened.
    const flat = new NDArray(d.data, [segs.length, ...d.shape.slice(idShape.length)], d.dtype);
    // TensorFlow leaves empty segments at the reduction's identity (lowest / highest / 1).
    return [reduceSegments(outputs, flat, identityRows(segs.length), segs, num, r, false)];
  });
}

// ---- sparse: SparseSegment{Sum,Mean,SqrtN}[WithNumSegments] and the gradient ops ----

/** indices and segment_ids of a sparse segment op, checked: indices in [0, rows), ids sorted. */
function sparsePairs(op: string, indices: NDArray, ids: NDArray, rows: number, numSegments?: number): { idx: number[]; segs: number[]; outRows: number } {
  if (indices.rank !== 1 || ids.rank !== 1 || indices.size !== ids.size) {
    throw new InvalidArgumentError(`${op}: indices and segment_ids should be vectors of one size, got ${formatShape(indices.shape)} and ${formatShape(ids.shape)}`);
  }
  const idx = numbersOf(indices);
  idx.forEach((v, k) => {
    if (v < 0 || v >= rows) throw indexError(`${op}: indices`, indices, k, v, rows);
  });
  return { idx, segs: numbersOf(ids), outRows: sortedRows(op, ids, numSegments) };
}

for (const [base, r] of [
  ['SparseSegmentSum', 'sum'],
  ['SparseSegmentMean', 'mean'],
  ['SparseSegmentSqrtN', 'sqrtn'],
] as const) {
  for (const type of [base, `${base}WithNumSegments`]) {
    registerCpuKernel(type, ([data, indices, ids, numA], _node, _state, outputs) => {
      const d = data!;
      if (d.rank < 1) throw new InvalidArgumentError(`${type}: data must be at least rank 1, got shape ${formatShape(d.shape)}`);
      const num = numA ? scalarNumber(numA, 'num_segments') : undefined;
      if (num !== undefined && num < 0) throw new InvalidArgumentError(`${type}: num_segments must be >= 0, got ${num}`);
      const { idx, segs, outRows } = sparsePairs(type, indices!, ids!, d.shape[0]!, num);
      return [reduceSegments(outputs, d, idx, segs, outRows, r, true)];
    });
  }
}

for (const [type, weight] of [
  ['SparseSegmentMeanGrad', (n: number) => 1 / n],
  ['SparseSegmentSqrtNGrad', (n: number) => 1 / Math.sqrt(n)],
] as const) {
  registerCpuKernel(type, ([grad, indices, ids, dim0A], _node, _state, outputs) => {
    const g = grad!;
    const dim0 = scalarNumber(dim0A!, 'output_dim0');
    if (dim0 < 0) throw new InvalidArgumentError(`${type}: output_dim0 must be >= 0, got ${dim0}`);
    const { idx, segs } = sparsePairs(type, indices!, ids!, dim0);
    const inner = numElements(g.shape.slice(1));
    const counts = new Map<number, number>();
    for (const s of segs) {
      if (s >= g.shape[0]!) throw new InvalidArgumentError(`${type}: segment id ${s} out of range [0, ${g.shape[0]})`);
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    const out = outputs.alloc(g.dtype, [dim0, ...g.shape.slice(1)]);
    const src = g.data as Float32Array;
    const dst = out.data as Float32Array;
    for (let k = 0; k < idx.length; k++) {
      const w = weight(counts.get(segs[k]!)!);
      const so = segs[k]! * inner;
      const o = idx[k]! * inner;
      for (let j = 0; j < inner; j++) dst[o + j]! += src[so + j]! * w;
    }
    return [out];
  });
}

// ---- SparseReshape, SparseFillEmptyRows ----

registerCpuKernel('SparseReshape', ([indices, inShape, newShape], _node, _state, outputs) => {
  const ind = indices!;
  const from = numbersOf(inShape!);
  if (ind.rank !== 2 || ind.shape[1] !== from.length) {
    throw new InvalidArgumentError(`SparseReshape: input_indices should be a matrix with ${from.length} columns (the rank of input_shape), got ${formatShape(ind.shape)}`);
  }
  const size = numElements(from);
  let to: number[];
  try {
    to = reshapeTarget(size, numbersOf(newShape!));
  } catch (e) {
    throw new InvalidArgumentError(`SparseReshape: ${(e as Error).message} (input_shape [${from.join(',')}], new_shape [${numbersOf(newShape!).join(',')}])`);
  }
  const n = ind.shape[0]!;
  const src = ind.data as BigInt64Array;
  const out = outputs.alloc('int64', [n, to.length]);
  const dst = out.data as BigInt64Array;
  // Linear position under the old shape, then coordinates under the new one (BigInt: dense sizes may pass 2^53).
  const fromB = from.map(BigInt);
  const toB = to.map(BigInt);
  for (let i = 0; i < n; i++) {
    let lin = 0n;
    for (let j = 0; j < from.length; j++) lin = lin * fromB[j]! + src[i * from.length + j]!;
    for (let j = to.length - 1; j >= 0; j--) {
      dst[i * to.length + j] = toB[j]! === 0n ? 0n : lin % toB[j]!;
      lin = toB[j]! === 0n ? 0n : lin / toB[j]!;
    }
  }
  return [out, shapeArray(outputs, to)];
});

function shapeArray(outputs: Outputs, dims: readonly number[]): NDArray {
  const out = outputs.alloc('int64', [dims.length]);
  dims.forEach((d, i) => ((out.data as BigInt64Array)[i] = BigInt(d)));
  return out;
}

registerCpuKernel('SparseFillEmptyRows', ([indices, values, denseShape, dflt], _node, _state, outputs) => {
  const ind = indices!;
  const vals = values!;
  const shape = numbersOf(denseShape!);
  const rank = shape.length;
  const n = vals.size;
  if (ind.rank !== 2 || ind.shape[0] !== n || ind.shape[1] !== rank) {
    throw new InvalidArgumentError(`SparseFillEmptyRows: indices must be [${n}, ${rank}] (values' size by dense_shape's), got ${formatShape(ind.shape)}`);
  }
  if (dflt!.size !== 1) throw new InvalidArgumentError(`SparseFillEmptyRows: default_value must be a scalar, got shape ${formatShape(dflt!.shape)}`);
  if (rank === 0) throw new InvalidArgumentError('SparseFillEmptyRows: dense_shape must not be empty');
  const rows = shape[0]!;
  const src = ind.data as BigInt64Array;
  const counts = new Array<number>(rows).fill(0);
  for (let i = 0; i < n; i++) {
    const row = Number(src[i * rank]!);
    if (row < 0 || row >= rows) throw new InvalidArgumentError(`SparseFillEmptyRows: indices(${i}, 0) is invalid: ${row} is not in [0, ${rows})`);
    counts[row]!++;
  }
  // Row r's entries start at start[r]; an empty row takes one slot for its default entry.
  const start = new Array<number>(rows + 1).fill(0);
  for (let r = 0; r < rows; r++) start[r + 1] = start[r]! + Math.max(1, counts[r]!);
  const total = start[rows]!;
  const outInd = outputs.alloc('int64', [total, rank]);
  const outVals = outputs.alloc(vals.dtype, [total]);
  const empty = outputs.alloc('bool', [rows]);
  const reverse = outputs.alloc('int64', [n]);
  const oi = outInd.data as BigInt64Array;
  const ov = outVals.data as unknown as unknown[];
  const iv = vals.data as unknown as unknown[];
  const filled = new Array<number>(rows).fill(0);
  for (let i = 0; i < n; i++) {
    const row = Number(src[i * rank]!);
    const o = start[row]! + filled[row]!++;
    for (let j = 0; j < rank; j++) oi[o * rank + j] = src[i * rank + j]!;
    ov[o] = iv[i];
    (reverse.data as BigInt64Array)[i] = BigInt(o);
  }
  const dv = (dflt!.data as unknown as unknown[])[0];
  for (let r = 0; r < rows; r++) {
    if (counts[r]! > 0) continue;
    (empty.data as Uint8Array)[r] = 1;
    oi[start[r]! * rank] = BigInt(r);
    ov[start[r]!] = dv;
  }
  return [outInd, outVals, empty, reverse];
});

registerCpuKernel('SparseFillEmptyRowsGrad', ([reverseMap, gradValues], _node, _state, outputs) => {
  const map = numbersOf(reverseMap!);
  const g = gradValues!;
  const n = g.size;
  const dValues = outputs.alloc(g.dtype, [map.length]);
  const dDefault = outputs.alloc(g.dtype, []);
  const src = g.data as Float32Array;
  const visited = new Uint8Array(n);
  map.forEach((j, i) => {
    if (j < 0 || j >= n) throw indexError('SparseFillEmptyRowsGrad: reverse_index_map', reverseMap!, i, j, n);
    (dValues.data as Float32Array)[i] = src[j]!;
    visited[j] = 1;
  });
  let rest = 0;
  for (let j = 0; j < n; j++) if (!visited[j]) rest += src[j]!;
  (dDefault.data as Float32Array)[0] = rest;
  return [dValues, dDefault];
});
