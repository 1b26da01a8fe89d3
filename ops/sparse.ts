// Sparse and segment op definitions (issue 18): the segment reductions (Segment*, UnsortedSegment*
// but Sum, which lives in ops/array.ts, SparseSegment* and their gradient ops), SparseReshape and
// SparseFillEmptyRows. Their kernels run on the host on every backend (runtime/cpu/kernels/sparse.ts).
import type { DType } from '../src/core/dtypes.js';
import { formatShape, mergeShapes, type Dim, type Shape } from '../src/core/shape.js';
import type { Tensor } from '../src/graph.js';
import * as A from '../src/api/array.js';
import { cast, divide, equal, greater, greaterEqual, logicalAnd, maximum, multiply, subtract, where } from '../src/api/math.js';
import * as S from '../src/api/sparse.js';
import { partialScalar } from './array.js';
import { registerOp, type GradFn, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType } from './util.js';

export const INDEX: readonly DType[] = ['int32', 'int64'];
const REAL: readonly DType[] = ['float32', 'int32', 'int64'];
const FLOATS: readonly DType[] = ['float32'];

/** Checks input i has rank `rank` when its rank is known; returns its shape (unknown dims when unknown). */
export function rankOf(ctx: ShapeContext, i: number, rank: number, what: string): Dim[] {
  const t = ctx.inputs[i]!;
  if (t.shape === null) return new Array<Dim>(rank).fill(null);
  if (t.shape.length !== rank) ctx.fail(`${what} (${t.name}) must be rank ${rank}, got shape ${formatShape(t.shape)}`);
  return [...t.shape];
}

/** Merges two dims that must agree, failing with `what` when both are known and differ. */
export function mergeDim(ctx: ShapeContext, a: Dim, b: Dim, what: string): Dim {
  if (a !== null && b !== null && a !== b) ctx.fail(`${what}: ${a} vs ${b}`);
  return a ?? b;
}

function mergeOrFail(ctx: ShapeContext, a: Shape, b: Shape, what: string): Shape {
  try {
    return mergeShapes(a, b);
  } catch {
    return ctx.fail(`${what}: shapes ${formatShape(a)} and ${formatShape(b)} are incompatible`);
  }
}

/** Output rows of a sorted segment op: the last id + 1 when the ids are constant. */
function rowsFromSortedIds(ctx: ShapeContext, i: number): Dim {
  const ids = ctx.constValue(i);
  if (!ids) return null;
  const n = ids.size;
  return n === 0 ? 0 : Number((ids.data as ArrayLike<number | bigint>)[n - 1]) + 1;
}

function numSegmentsArg(ctx: ShapeContext, i: number): Dim {
  checkDType(ctx, i, INDEX, 'num_segments');
  rankOf(ctx, i, 0, 'num_segments');
  const n = partialScalar(ctx.inputs[i]!);
  if (n !== null && n < 0) ctx.fail(`num_segments must be >= 0, got ${n}`);
  return n;
}

/** data's shape with dim 0 replaced by `rows`; data must be at least rank 1. */
function rowsOfData(ctx: ShapeContext, rows: Dim): Shape {
  const data = ctx.inputs[0]!.shape;
  if (data === null) return null;
  if (data.length < 1) ctx.fail(`data (${ctx.inputs[0]!.name}) must be at least rank 1, got shape ${formatShape(data)}`);
  return [rows, ...data.slice(1)];
}

// ---- sorted segment reductions: SegmentSum, SegmentMean, SegmentMax, SegmentMin, SegmentProd ----

function segmentShape(allowed: readonly DType[]) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dt = checkDType(ctx, 0, allowed, 'data');
    checkDType(ctx, 1, INDEX, 'segment_ids');
    const ids = rankOf(ctx, 1, 1, 'segment_ids');
    const shape = rowsOfData(ctx, rowsFromSortedIds(ctx, 1));
    const data = ctx.inputs[0]!.shape;
    if (data !== null) mergeDim(ctx, ids[0]!, data[0]!, 'segment_ids should be the same size as dimension 0 of data');
    return [{ dtype: dt, shape }];
  };
}

/** TF's _SegmentMinOrMaxGrad: the gradient goes to the elements equal to their segment's result, split evenly. */
const segmentMinMaxGrad: GradFn = (op, [g]) => {
  const [data, ids] = op.inputs as [Tensor, Tensor];
  const isSelected = equal(data, A.gather(op.outputs[0]!, ids));
  const numSelected = S.segmentSum(cast(isSelected, g!.dtype), ids);
  const gathered = A.gather(divide(g!, numSelected), ids);
  return [where(isSelected, gathered, A.zerosLike(data)), null];
};

/** TF's _SegmentProdGrad / _UnsortedSegmentProdGrad: prod / x, with zeros handled through the product of the non-zero elements. */
function prodGrad(op: { inputs: readonly Tensor[]; outputs: readonly Tensor[] }, g: Tensor, sorted: boolean): Tensor {
  const [data, ids, n] = op.inputs as [Tensor, Tensor, Tensor | undefined];
  const isZero = equal(data, A.zerosLike(data));
  const reduce = (x: Tensor, type: 'sum' | 'prod'): Tensor =>
    sorted ? (type === 'sum' ? S.segmentSum(x, ids) : S.segmentProd(x, ids)) : type === 'sum' ? A.unsortedSegmentSum(x, ids, n!) : S.unsortedSegmentProd(x, ids, n!);
  const numZeros = reduce(cast(isZero, 'int32'), 'sum');
  // More than one zero in a segment: the product's derivative is zero for all its elements.
  const grad = where(greater(numZeros, A.onesLike(numZeros)), A.zerosLike(g), g);
  const nonZeroData = where(isZero, A.onesLike(data), data);
  const nonZeroProd = reduce(nonZeroData, 'prod');
  const clipped = sorted ? ids : maximum(ids, A.zerosLike(ids));
  const gatheredProd = A.gather(op.outputs[0]!, clipped);
  const gatheredNonZeroProd = A.gather(nonZeroProd, clipped);
  const partial = where(isZero, gatheredNonZeroProd, divide(gatheredProd, nonZeroData));
  return multiply(sorted ? A.gather(grad, ids) : gatherDropNegatives(grad, ids, clipped, data), partial);
}

/** TF's _GatherDropNegatives: params[ids], with the rows of negative ids zero. */
function gatherDropNegatives(params: Tensor, ids: Tensor, clipped: Tensor, data: Tensor): Tensor {
  const gathered = A.gather(params, clipped);
  const positive = A.reshape(greaterEqualZero(ids), segmentColumnLike(ids, data));
  const mask = logicalAnd(positive, A.onesLike(gathered, 'bool'));
  return where(mask, gathered, A.zerosLike(gathered));
}

const greaterEqualZero = (ids: Tensor): Tensor => greaterEqual(ids, A.zerosLike(ids));

/** ids' shape followed by ones for data's remaining dims. */
function segmentColumnLike(ids: Tensor, data: Tensor): Tensor {
  const ones = A.ones(A.expandDims(subtract(A.rank(data), A.rank(ids)), 0), 'int32');
  return A.concat([A.shape(ids), ones], 0);
}

registerOp({
  type: 'SegmentSum',
  inputs: ['data', 'segment_ids'],
  attrs: { T: 'type', Tindices: 'type' },
  shape: segmentShape(REAL),
  grad: (op, [g]) => [A.gather(g!, op.inputs[1]!), null],
});

registerOp({
  type: 'SegmentMean',
  inputs: ['data', 'segment_ids'],
  attrs: { T: 'type', Tindices: 'type' },
  shape: segmentShape(REAL),
  grad: (op, [g]) => {
    const [data, ids] = op.inputs as [Tensor, Tensor];
    const ones = A.ones(segmentColumnLike(ids, data), g!.dtype);
    return [A.gather(divide(g!, S.segmentSum(ones, ids)), ids), null];
  },
});

for (const type of ['SegmentMax', 'SegmentMin']) {
  registerOp({ type, inputs: ['data', 'segment_ids'], attrs: { T: 'type', Tindices: 'type' }, shape: segmentShape(REAL), grad: segmentMinMaxGrad });
}

registerOp({
  type: 'SegmentProd',
  inputs: ['data', 'segment_ids'],
  attrs: { T: 'type', Tindices: 'type' },
  shape: segmentShape(REAL),
  grad: (op, [g]) => [prodGrad(op, g!, true), null],
});

// ---- unsorted segment reductions: UnsortedSegmentMax, UnsortedSegmentMin, UnsortedSegmentProd ----

function unsortedShape(ctx: ShapeContext): OutputSpec[] {
  const dt = checkDType(ctx, 0, REAL, 'data');
  checkDType(ctx, 1, INDEX, 'segment_ids');
  const n = numSegmentsArg(ctx, 2);
  const [data, ids] = ctx.inputs as [ShapeContext['inputs'][0], ShapeContext['inputs'][0]];
  if (data.shape === null || ids.shape === null) return [{ dtype: dt, shape: null }];
  if (ids.shape.length > data.shape.length) {
    ctx.fail(`segment_ids ${formatShape(ids.shape)} must be a prefix of data's shape ${formatShape(data.shape)}`);
  }
  mergeOrFail(ctx, ids.shape, data.shape.slice(0, ids.shape.length), 'segment_ids must be a prefix of data.shape');
  return [{ dtype: dt, shape: [n, ...data.shape.slice(ids.shape.length)] }];
}

const UNSORTED_ATTRS = { T: 'type', Tindices: 'type', Tnumsegments: 'type' } as const;

/** TF's _UnsortedSegmentMinOrMaxGrad. */
const unsortedMinMaxGrad: GradFn = (op, [g]) => {
  const [data, ids, n] = op.inputs as [Tensor, Tensor, Tensor];
  const clipped = maximum(ids, A.zerosLike(ids));
  const positive = logicalAnd(A.reshape(greaterEqualZero(ids), segmentColumnLike(ids, data)), A.onesLike(data, 'bool'));
  const gatheredOutputs = where(positive, A.gather(op.outputs[0]!, clipped), A.zerosLike(data));
  const isSelected = logicalAnd(equal(data, gatheredOutputs), positive);
  const numSelected = A.unsortedSegmentSum(cast(isSelected, g!.dtype), ids, n);
  const gathered = where(positive, A.gather(divide(g!, numSelected), clipped), A.zerosLike(data));
  return [where(isSelected, gathered, A.zerosLike(data)), null, null];
};

for (const type of ['UnsortedSegmentMax', 'UnsortedSegmentMin']) {
  registerOp({ type, inputs: ['data', 'segment_ids', 'num_segments'], attrs: UNSORTED_ATTRS, shape: unsortedShape, grad: unsortedMinMaxGrad });
}

registerOp({
  type: 'UnsortedSegmentProd',
  inputs: ['data', 'segment_ids', 'num_segments'],
  attrs: UNSORTED_ATTRS,
  shape: unsortedShape,
  grad: (op, [g]) => [prodGrad(op, g!, false), null, null],
});

// ---- sparse segment reductions ----

function sparseSegmentShape(allowed: readonly DType[], withNumSegments: boolean) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dt = checkDType(ctx, 0, allowed, 'data');
    checkDType(ctx, 1, INDEX, 'indices');
    checkDType(ctx, 2, INDEX, 'segment_ids');
    const idx = rankOf(ctx, 1, 1, 'indices');
    const ids = rankOf(ctx, 2, 1, 'segment_ids');
    mergeDim(ctx, idx[0]!, ids[0]!, 'indices and segment_ids should have the same size');
    const rows = withNumSegments ? numSegmentsArg(ctx, 3) : rowsFromSortedIds(ctx, 2);
    return [{ dtype: dt, shape: rowsOfData(ctx, rows) }];
  };
}

const SPARSE_SEGMENT_ATTRS = { T: 'type', Tidx: 'type', Tsegmentids: 'type' } as const;

/** TF 1.15's _SparseSegmentSumGrad: the output rows gathered back to each index, summed per data row. */
const sparseSegmentSumGrad: GradFn = (op, [g]) => {
  const [data, indices, ids] = op.inputs as [Tensor, Tensor, Tensor];
  const rows = A.gather(A.shape(data), 0);
  return [A.unsortedSegmentSum(A.gather(g!, ids), indices, rows), ...op.inputs.slice(1).map(() => null)];
};

function sparseSegmentGradOf(type: 'SparseSegmentMeanGrad' | 'SparseSegmentSqrtNGrad'): GradFn {
  return (op, [g]) => {
    const [data, indices, ids] = op.inputs as [Tensor, Tensor, Tensor];
    const dim0 = A.gather(A.shape(data), 0);
    return [S.sparseSegmentReductionGrad(type, g!, indices, ids, dim0), ...op.inputs.slice(1).map(() => null)];
  };
}

for (const [base, allowed, grad] of [
  ['SparseSegmentSum', REAL, sparseSegmentSumGrad],
  ['SparseSegmentMean', FLOATS, sparseSegmentGradOf('SparseSegmentMeanGrad')],
  ['SparseSegmentSqrtN', FLOATS, sparseSegmentGradOf('SparseSegmentSqrtNGrad')],
] as const) {
  registerOp({ type: base, inputs: ['data', 'indices', 'segment_ids'], attrs: SPARSE_SEGMENT_ATTRS, shape: sparseSegmentShape(allowed, false), grad });
  registerOp({
    type: `${base}WithNumSegments`,
    inputs: ['data', 'indices', 'segment_ids', 'num_segments'],
    attrs: { ...SPARSE_SEGMENT_ATTRS, Tnumsegments: 'type' },
    shape: sparseSegmentShape(allowed, true),
    grad,
  });
}

for (const type of ['SparseSegmentMeanGrad', 'SparseSegmentSqrtNGrad']) {
  registerOp({
    type,
    inputs: ['grad', 'indices', 'segment_ids', 'output_dim0'],
    attrs: SPARSE_SEGMENT_ATTRS,
    shape: (ctx) => {
      const dt = checkDType(ctx, 0, FLOATS, 'grad');
      checkDType(ctx, 1, INDEX, 'indices');
      checkDType(ctx, 2, INDEX, 'segment_ids');
      checkDType(ctx, 3, ['int32'], 'output_dim0');
      const idx = rankOf(ctx, 1, 1, 'indices');
      const ids = rankOf(ctx, 2, 1, 'segment_ids');
      mergeDim(ctx, idx[0]!, ids[0]!, 'indices and segment_ids should have the same size');
      rankOf(ctx, 3, 0, 'output_dim0');
      return [{ dtype: dt, shape: rowsOfData(ctx, partialScalar(ctx.inputs[3]!)) }];
    },
    // TensorFlow registers no gradient for these.
    grad: null,
  });
}

// ---- SparseReshape, SparseFillEmptyRows ----

registerOp({
  type: 'SparseReshape',
  inputs: ['input_indices', 'input_shape', 'new_shape'],
  shape: (ctx) => {
    ['input_indices', 'input_shape', 'new_shape'].forEach((what, i) => checkDType(ctx, i, ['int64'], what));
    const [, r] = rankOf(ctx, 0, 2, 'input_indices');
    const [rIn] = rankOf(ctx, 1, 1, 'input_shape');
    const [rOut] = rankOf(ctx, 2, 1, 'new_shape');
    mergeDim(ctx, r!, rIn!, 'input_indices has as many columns as input_shape has elements');
    return [
      { dtype: 'int64', shape: [ctx.inputs[0]!.shape?.[0] ?? null, rOut!] },
      { dtype: 'int64', shape: [rOut!] },
    ];
  },
  // Indices and shapes only (TensorFlow registers none).
  grad: null,
});

registerOp({
  type: 'SparseFillEmptyRows',
  inputs: ['indices', 'values', 'dense_shape', 'default_value'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, ['int64'], 'indices');
    checkDType(ctx, 2, ['int64'], 'dense_shape');
    const [n, r] = rankOf(ctx, 0, 2, 'indices');
    const [nv] = rankOf(ctx, 1, 1, 'values');
    const [rs] = rankOf(ctx, 2, 1, 'dense_shape');
    rankOf(ctx, 3, 0, 'default_value');
    mergeDim(ctx, n!, nv!, 'indices and values have one row per element');
    mergeDim(ctx, r!, rs!, 'indices has as many columns as dense_shape has elements');
    const dt = ctx.inputs[1]!.dtype;
    if (ctx.inputs[3]!.dtype !== dt) ctx.fail(`default_value is ${ctx.inputs[3]!.dtype}, expected ${dt} like values`);
    const shape = ctx.constValue(2);
    const rows = shape && shape.size > 0 ? Number((shape.data as BigInt64Array)[0]) : null;
    return [
      { dtype: 'int64', shape: [null, r ?? rs!] },
      { dtype: dt, shape: [null] },
      { dtype: 'bool', shape: [rows] },
      { dtype: 'int64', shape: [n ?? nv!] },
    ];
  },
  grad: (op, grads) => {
    const gv = grads[1] ?? A.zerosLike(op.outputs[1]!);
    const gradOp = S.sparseFillEmptyRowsGrad(op.outputs[3]!, gv);
    return [null, gradOp[0], null, gradOp[1]];
  },
});

registerOp({
  type: 'SparseFillEmptyRowsGrad',
  inputs: ['reverse_index_map', 'grad_values'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, ['int64'], 'reverse_index_map');
    const [n] = rankOf(ctx, 0, 1, 'reverse_index_map');
    rankOf(ctx, 1, 1, 'grad_values');
    const dt = ctx.inputs[1]!.dtype;
    return [
      { dtype: dt, shape: [n!] },
      { dtype: dt, shape: [] },
    ];
  },
  // TensorFlow registers none.
  grad: null,
});
