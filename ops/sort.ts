// Sort family op definitions: scans (Cumsum, Cumprod), top-k (TopK, TopKV2, InTopK, InTopKV2),
// searching (LowerBound, UpperBound), sets (Unique, UniqueV2, UniqueWithCounts, UniqueWithCountsV2,
// ListDiff), Where
// and counting (Bincount, DenseBincount). Gradients as TF's math_grad.py / nn_grad.py.
import type { DType } from '../src/core/dtypes.js';
import { formatShape, mergeShapes, type Dim, type Shape } from '../src/core/shape.js';
import type { Operation, Tensor } from '../src/graph.js';
import * as A from '../src/api/array.js';
import { add, cast, divide, multiply, reduceProd } from '../src/api/math.js';
import { cumprod, cumsum } from '../src/api/sort.js';
import { partialScalar, partialVector } from './array.js';
import { registerOp, type GradFn, type OutputSpec, type ShapeContext } from './registry.js';
import { ALL, checkDType, checkScalar, NUMERIC, optAttr, withRank } from './util.js';

const INDEX: readonly DType[] = ['int32', 'int64'];
const WITH_STRINGS: readonly DType[] = [...ALL, 'string'];



function indexAttr(ctx: ShapeContext, name: string): DType {
  const dt = optAttr<DType>(ctx, name, 'int32');
  if (!INDEX.includes(dt)) ctx.fail(`attr ${name} must be int32 or int64, got ${dt}`);
  return dt;
}

function merged(ctx: ShapeContext, a: Shape, b: Shape, what: string): Shape {
  try {
    return mergeShapes(a, b);
  } catch {
    return ctx.fail(`${what}: shapes ${formatShape(a)} and ${formatShape(b)} are incompatible`);
  }
}

function mergeDim(ctx: ShapeContext, a: Dim, b: Dim, what: string): Dim {
  if (a !== null && b !== null && a !== b) ctx.fail(`${what}: ${a} != ${b}`);
  return a ?? b;
}

// ---- scans ----

function scanShape(ctx: ShapeContext): OutputSpec[] {
  const dt = checkDType(ctx, 0, NUMERIC, 'x');
  checkDType(ctx, 1, INDEX, 'axis');
  checkScalar(ctx, 1, 'axis');
  const x = ctx.inputs[0]!;
  const axis = partialScalar(ctx.inputs[1]!);
  if (axis !== null && x.rank !== null && (axis < -x.rank || axis >= x.rank)) {
    ctx.fail(`axis ${axis} is out of range for x (${x.name}) of shape ${formatShape(x.shape)} (expected [${-x.rank}, ${x.rank}))`);
  }
  return [{ dtype: dt, shape: x.shape }];
}

const SCAN_ATTRS = { exclusive: 'bool', reverse: 'bool', T: 'type', Tidx: 'type' } as const;

function scanFlags(op: Operation): { exclusive: boolean; reverse: boolean } {
  return { exclusive: !!op.attrs.exclusive, reverse: !!op.attrs.reverse };
}

registerOp({
  type: 'Cumsum',
  inputs: ['x', 'axis'],
  attrs: SCAN_ATTRS,
  shape: scanShape,
  grad: (op, [g]) => {
    const { exclusive, reverse } = scanFlags(op);
    return [cumsum(g!, op.inputs[1]!, { exclusive, reverse: !reverse }), null];
  },
});

registerOp({
  type: 'Cumprod',
  inputs: ['x', 'axis'],
  attrs: SCAN_ATTRS,
  shape: scanShape,
  // As TF 1.15's _CumprodGrad (wrong where x has zeros, as TF's).
  grad: (op, [g]) => {
    const [x, axis] = op.inputs as [Tensor, Tensor];
    const { exclusive, reverse } = scanFlags(op);
    const prod = cumprod(x, axis, { exclusive, reverse });
    const out = cumsum(multiply(prod, g!), axis, { exclusive, reverse: !reverse });
    return [divide(out, x), null];
  },
});

// ---- top-k ----

/**
 * TF's TopKShapeFn: input of rank >= 1 with at least k entries in its last dimension. Indices are
 * int32 unless the attr index_type (newer TensorFlow's) says int64.
 */
function topKShape(ctx: ShapeContext, k: Dim): OutputSpec[] {
  const x = ctx.inputs[0]!;
  const dt = checkDType(ctx, 0, NUMERIC, 'input');
  if (x.rank === 0) ctx.fail(`input (${x.name}) must be at least rank 1, got a scalar`);
  if (k !== null && k < 0) ctx.fail(`k must be non-negative, got ${k}`);
  const last = x.shape?.[x.shape.length - 1] ?? null;
  if (k !== null && last !== null && last < k) ctx.fail(`input must have last dimension >= k = ${k} but is ${last}`);
  const shape = x.shape === null ? null : [...x.shape.slice(0, -1), k];
  return [
    { dtype: dt, shape },
    { dtype: indexAttr(ctx, 'index_type'), shape },
  ];
}

/**
 * TF's _TopKGrad: the gradient of each value goes to the position it came from (rows flattened,
 * then scattered; UnsortedSegmentSum does TF's scatter_nd of unique positions).
 */
const topKGrad: GradFn = (op, [g]) => {
  const x = op.inputs[0]!;
  const indices = op.outputs[1]!.dtype === 'int32' ? op.outputs[1]! : cast(op.outputs[1]!, 'int32');
  const inShape = A.shape(x);
  const lastOf = (s: Tensor): Tensor => A.stridedSlice(s, [-1], [0], [1], { endMask: 1, shrinkAxisMask: 1 });
  const inLast = lastOf(inShape);
  const ind2d = A.reshape(indices, A.stack([-1, lastOf(A.shape(indices))]));
  const rows = A.stridedSlice(A.shape(ind2d), [0], [1], [1], { shrinkAxisMask: 1 });
  const rowStarts = A.expandDims(A.range(0, multiply(rows, inLast), inLast), -1);
  const flat = A.reshape(add(ind2d, rowStarts), [-1]);
  const dx = A.unsortedSegmentSum(A.reshape(g!, [-1]), flat, reduceProd(inShape));
  return [A.reshape(dx, inShape), ...op.inputs.slice(1).map(() => null)];
};

registerOp({
  type: 'TopKV2',
  inputs: ['input', 'k'],
  attrs: { sorted: 'bool', T: 'type', Tk: 'type', index_type: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, INDEX, 'k');
    checkScalar(ctx, 1, 'k');
    return topKShape(ctx, partialScalar(ctx.inputs[1]!));
  },
  grad: topKGrad,
});

registerOp({
  type: 'TopK',
  inputs: ['input'],
  attrs: { k: 'int', sorted: 'bool', T: 'type' },
  shape: (ctx) => topKShape(ctx, Number(ctx.attr<number>('k'))),
  grad: topKGrad,
});

function inTopKShape(ctx: ShapeContext): OutputSpec[] {
  checkDType(ctx, 0, ['float32'], 'predictions');
  checkDType(ctx, 1, INDEX, 'targets');
  const [batch] = withRank(ctx, 0, 2, 'predictions');
  const [n] = withRank(ctx, 1, 1, 'targets');
  return [{ dtype: 'bool', shape: [mergeDim(ctx, batch!, n!, `predictions (${ctx.inputs[0]!.name}) and targets (${ctx.inputs[1]!.name}) must have one batch size`)] }];
}

registerOp({
  type: 'InTopKV2',
  inputs: ['predictions', 'targets', 'k'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const k = ctx.inputs[2]!;
    if (k.dtype !== ctx.inputs[1]!.dtype) ctx.fail(`k (${k.name}) is ${k.dtype}, expected ${ctx.inputs[1]!.dtype} like targets`);
    checkScalar(ctx, 2, 'k');
    return inTopKShape(ctx);
  },
  grad: null,
});

registerOp({
  type: 'InTopK',
  inputs: ['predictions', 'targets'],
  attrs: { k: 'int', T: 'type' },
  shape: inTopKShape,
  grad: null,
});

// ---- searching ----

function boundShape(ctx: ShapeContext): OutputSpec[] {
  const seq = ctx.inputs[0]!;
  const values = ctx.inputs[1]!;
  checkDType(ctx, 0, NUMERIC, 'sorted_inputs');
  if (values.dtype !== seq.dtype) ctx.fail(`values (${values.name}) is ${values.dtype}, expected ${seq.dtype} like sorted_inputs`);
  const [rows] = withRank(ctx, 0, 2, 'sorted_inputs');
  const [valueRows, perRow] = withRank(ctx, 1, 2, 'values');
  const batch = mergeDim(ctx, rows!, valueRows!, 'Leading dim_size of both tensors must match');
  return [{ dtype: indexAttr(ctx, 'out_type'), shape: [batch, perRow!] }];
}

for (const type of ['LowerBound', 'UpperBound']) {
  registerOp({ type, inputs: ['sorted_inputs', 'values'], attrs: { T: 'type', out_type: 'type' }, shape: boundShape, grad: null });
}

// ---- sets ----

/** y and idx of Unique (x a vector) or UniqueV2 (an axis vector: [] for none, [a] for axis a). */
function uniqueShape(ctx: ShapeContext, withAxis: boolean): [OutputSpec, OutputSpec] {
  const dt = checkDType(ctx, 0, WITH_STRINGS, 'x');
  const idx = indexAttr(ctx, 'out_idx');
  const x = ctx.inputs[0]!;
  const vectorCase = (): [OutputSpec, OutputSpec] => [
    { dtype: dt, shape: [null] },
    { dtype: idx, shape: withRank(ctx, 0, 1, 'x') },
  ];
  if (!withAxis) return vectorCase();
  checkDType(ctx, 1, INDEX, 'axis');
  const a = ctx.inputs[1]!;
  if (a.rank !== null && a.rank !== 1) ctx.fail(`axis (${a.name}) must be a vector, got shape ${formatShape(a.shape)}`);
  if (a.shape?.[0] !== undefined && a.shape[0] !== null && a.shape[0] > 1) ctx.fail(`axis does not support input tensors larger than 1 elements, got ${a.shape[0]}`);
  const axis = partialVector(a);
  if (axis === null || axis.some((d) => d === null) || x.shape === null) return [{ dtype: dt, shape: null }, { dtype: idx, shape: [null] }];
  if (axis.length === 0) return vectorCase();
  const r = x.shape.length;
  const v = axis[0]!;
  if (v < -r || v >= r) ctx.fail(`axis ${v} is out of range for x (${x.name}) of shape ${formatShape(x.shape)} (expected [${-r}, ${r}))`);
  const ax = v < 0 ? v + r : v;
  return [
    { dtype: dt, shape: x.shape.map((d, i) => (i === ax ? null : d)) },
    { dtype: idx, shape: [x.shape[ax]!] },
  ];
}

for (const [type, withAxis, withCounts] of [
  ['Unique', false, false],
  ['UniqueV2', true, false],
  ['UniqueWithCounts', false, true],
  ['UniqueWithCountsV2', true, true],
] as const) {
  registerOp({
    type,
    inputs: withAxis ? ['x', 'axis'] : ['x'],
    attrs: withAxis ? { T: 'type', Taxis: 'type', out_idx: 'type' } : { T: 'type', out_idx: 'type' },
    shape: (ctx) => {
      const [y, idx] = uniqueShape(ctx, withAxis);
      return withCounts ? [y, idx, { dtype: idx.dtype, shape: [null] }] : [y, idx];
    },
    grad: null,
  });
}

registerOp({
  type: 'ListDiff',
  inputs: ['x', 'y'],
  attrs: { T: 'type', out_idx: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, WITH_STRINGS, 'x');
    const y = ctx.inputs[1]!;
    if (y.dtype !== dt) ctx.fail(`y (${y.name}) is ${y.dtype}, expected ${dt} like x`);
    withRank(ctx, 0, 1, 'x');
    withRank(ctx, 1, 1, 'y');
    return [
      { dtype: dt, shape: [null] },
      { dtype: indexAttr(ctx, 'out_idx'), shape: [null] },
    ];
  },
  grad: null,
});

// ---- where ----

registerOp({
  type: 'Where',
  inputs: ['input'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, ALL, 'input');
    return [{ dtype: 'int64', shape: [null, ctx.inputs[0]!.rank] }];
  },
  grad: null,
});

// ---- counting ----

const BIN_TYPES: readonly DType[] = ['int32', 'int64', 'float32'];

/** The bin count from the size input: a number when known (checked non-negative), else null. */
function binCount(ctx: ShapeContext): Dim {
  checkScalar(ctx, 1, 'size');
  const n = partialScalar(ctx.inputs[1]!);
  if (n !== null && n < 0) ctx.fail(`size (${n}) must be non-negative`);
  return n;
}

/** weights: empty (count occurrences) or shaped like the values counted. */
function checkWeights(ctx: ShapeContext, what: string): DType {
  const dt = checkDType(ctx, 2, BIN_TYPES, 'weights');
  const w = ctx.inputs[2]!;
  const x = ctx.inputs[0]!;
  const empty = w.shape !== null && w.shape.some((d) => d === 0);
  if (!empty && w.shape !== null && x.shape !== null && w.shape.every((d) => d !== null)) merged(ctx, w.shape, x.shape, `weights must be empty or have the shape of ${what}`);
  return dt;
}

registerOp({
  type: 'Bincount',
  inputs: ['arr', 'size', 'weights'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, ['int32'], 'arr');
    checkDType(ctx, 1, ['int32'], 'size');
    const dt = checkWeights(ctx, 'arr');
    return [{ dtype: dt, shape: [binCount(ctx)] }];
  },
  grad: null,
});

registerOp({
  type: 'DenseBincount',
  inputs: ['input', 'size', 'weights'],
  attrs: { Tidx: 'type', T: 'type', binary_output: 'bool' },
  shape: (ctx) => {
    const it = checkDType(ctx, 0, INDEX, 'input');
    const s = ctx.inputs[1]!;
    if (s.dtype !== it) ctx.fail(`size (${s.name}) is ${s.dtype}, expected ${it} like input`);
    const x = ctx.inputs[0]!;
    if (x.rank !== null && (x.rank < 1 || x.rank > 2)) ctx.fail(`input (${x.name}) must be rank 1 or 2, got shape ${formatShape(x.shape)}`);
    const dt = checkWeights(ctx, 'input');
    const n = binCount(ctx);
    if (x.shape === null) return [{ dtype: dt, shape: null }];
    return [{ dtype: dt, shape: x.shape.length === 2 ? [x.shape[0]!, n] : [n] }];
  },
  grad: null,
});
