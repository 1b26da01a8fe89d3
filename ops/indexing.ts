// Indexing op definitions (issue 18): N-d gather and scatter, reversals, mirror padding,
// space/batch/depth moves, band parts, LinSpace, BroadcastArgs, the first GraphDef versions of
// Gather, Concat and BatchMatMul, and Einsum. Registered on import by ops/index.ts.
import type { DType } from '../src/core/dtypes.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { broadcastStatic, formatShape, isFullyDefined, type Dim, type Shape } from '../src/core/shape.js';
import type { Operation, Tensor } from '../src/graph.js';
import * as A from '../src/api/array.js';
import * as I from '../src/api/indexing.js';
import { constant } from '../src/api/core.js';
import { negative, reduceSum, subtract } from '../src/api/math.js';
import { getOpDef, registerOp, type AbstractValue, type GradFn, type OutputSpec, type ShapeContext } from './registry.js';
import { partialScalar, partialVector } from './array.js';
import { checkDType, optAttr } from './util.js';
import { numbersOf } from './semantics/array.js';
import {
  batchToSpaceShape,
  checkScatterNdShapes,
  depthToSpaceShape,
  einsumAxes,
  gatherNdShape,
  mirrorPadGradShape,
  mirrorPadShape,
  parseEinsum,
  spaceToBatchShape,
  spaceToDepthShape,
} from './semantics/indexing.js';

const INDEX: readonly DType[] = ['int32', 'int64'];
const NUMERIC: readonly DType[] = ['float32', 'int32', 'int64'];


/** Runs a shared semantics check, turning its error into ctx.fail (naming the op). */
function checked<T>(ctx: ShapeContext, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InvalidArgumentError) return ctx.fail(e.message);
    throw e;
  }
}

function checkRank(ctx: ShapeContext, i: number, ranks: readonly number[], what: string): void {
  const t = ctx.inputs[i]!;
  if (t.rank !== null && !ranks.includes(t.rank)) {
    ctx.fail(`${what} (${t.name}) must be rank ${ranks.join(' or ')}, got shape ${formatShape(t.shape)}`);
  }
}

function sameDType(ctx: ShapeContext, i: number, j: number, what: [string, string]): void {
  const [a, b] = [ctx.inputs[i]!, ctx.inputs[j]!];
  if (a.dtype !== b.dtype) ctx.fail(`${what[1]} (${b.name}) is ${b.dtype}, expected ${a.dtype} like ${what[0]}`);
}

/** The known value of an int input as numbers. */
function constNumbers(ctx: ShapeContext, i: number): number[] | undefined {
  const v = ctx.constValue(i);
  return v ? numbersOf(v) : undefined;
}

const ints = (v: number[], shape = [v.length]): Tensor => constant(v, 'int32', shape);

const unknownOfRank = (rank: number | null): Shape => (rank === null ? null : new Array<Dim>(rank).fill(null));

// ---- N-d gather / scatter ----

registerOp({
  type: 'GatherNd',
  inputs: ['params', 'indices'],
  attrs: { Tparams: 'type', Tindices: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, INDEX, 'indices');
    const [p, i] = ctx.inputs as [AbstractValue, AbstractValue];
    if (i.rank === 0) ctx.fail(`indices (${i.name}) must be at least a vector, got a scalar`);
    const depth = i.shape?.[i.shape.length - 1] ?? null;
    if (p.shape === null || i.shape === null || depth === null) return [{ dtype: p.dtype, shape: null }];
    return [{ dtype: p.dtype, shape: checked(ctx, () => gatherNdShape(p.shape!, i.shape!, depth)) }];
  },
  // TF's _GatherNdGrad: the gradient scattered (summed) back into params' shape.
  grad: (op, [g]) => {
    const [params, indices] = op.inputs as [Tensor, Tensor];
    return [I.scatterNd(indices, g!, A.shape(params, indices.dtype)), null];
  },
});

/** Checks indices, updates and the target shape of the scatters; returns the target's shape. */
function scatterShape(ctx: ShapeContext, indicesAt: number, updatesAt: number, target: Shape, what: string): Shape {
  checkDType(ctx, indicesAt, INDEX, 'indices');
  const [idx, upd] = [ctx.inputs[indicesAt]!, ctx.inputs[updatesAt]!];
  if (idx.rank === 0) ctx.fail(`indices (${idx.name}) must be at least a vector, got a scalar`);
  if (idx.shape !== null && upd.shape !== null && target !== null) {
    checked(ctx, () => checkScatterNdShapes(idx.shape!, upd.shape!, target, what));
  }
  return target;
}

registerOp({
  type: 'ScatterNd',
  inputs: ['indices', 'updates', 'shape'],
  attrs: { T: 'type', Tindices: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, NUMERIC, 'updates');
    sameDType(ctx, 0, 2, ['indices', 'shape']);
    checkRank(ctx, 2, [1], 'shape');
    const target = partialVector(ctx.inputs[2]!);
    if (target?.some((d) => d !== null && d < 0)) ctx.fail(`shape must be non-negative, got [${target.join(',')}]`);
    return [{ dtype: ctx.inputs[1]!.dtype, shape: scatterShape(ctx, 0, 1, target, 'shape') }];
  },
  grad: (op, [g]) => [null, I.gatherNd(g!, op.inputs[0]!), null],
});

function tensorScatterOp(type: string, grad: GradFn): void {
  registerOp({
    type,
    inputs: ['tensor', 'indices', 'updates'],
    attrs: { T: 'type', Tindices: 'type' },
    shape: (ctx) => {
      if (type !== 'TensorScatterUpdate') checkDType(ctx, 0, NUMERIC, 'tensor');
      sameDType(ctx, 0, 2, ['tensor', 'updates']);
      return [{ dtype: ctx.inputs[0]!.dtype, shape: scatterShape(ctx, 1, 2, ctx.inputs[0]!.shape, 'tensor') }];
    },
    grad,
  });
}

// TF's _TensorScatterUpdateGrad / AddGrad / SubGrad.
tensorScatterOp('TensorScatterUpdate', (op, [g]) => {
  const [, indices, updates] = op.inputs as [Tensor, Tensor, Tensor];
  return [I.tensorScatterUpdate(g!, indices, A.zerosLike(updates)), null, I.gatherNd(g!, indices)];
});
tensorScatterOp('TensorScatterAdd', (op, [g]) => [g!, null, I.gatherNd(g!, op.inputs[1]!)]);
tensorScatterOp('TensorScatterSub', (op, [g]) => [g!, null, negative(I.gatherNd(g!, op.inputs[1]!))]);

registerOp({
  type: 'SparseToDense',
  inputs: ['sparse_indices', 'output_shape', 'sparse_values', 'default_value'],
  attrs: { validate_indices: 'bool', T: 'type', Tindices: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, INDEX, 'sparse_indices');
    sameDType(ctx, 0, 1, ['sparse_indices', 'output_shape']);
    sameDType(ctx, 2, 3, ['sparse_values', 'default_value']);
    checkRank(ctx, 0, [0, 1, 2], 'sparse_indices');
    checkRank(ctx, 1, [0, 1], 'output_shape');
    checkRank(ctx, 2, [0, 1], 'sparse_values');
    checkRank(ctx, 3, [0], 'default_value');
    const [idx, shapeT, values] = ctx.inputs as [AbstractValue, AbstractValue, AbstractValue];
    const target = shapeT.rank === 0 ? [partialScalar(shapeT)] : partialVector(shapeT);
    if (target?.some((d) => d !== null && d < 0)) ctx.fail(`output_shape must be non-negative, got [${target.join(',')}]`);
    const s = idx.shape;
    const count = s === null ? null : s.length === 0 ? 1 : s[0]!;
    const depth = s === null ? null : s.length < 2 ? 1 : s[1]!;
    if (depth !== null && target !== null && depth !== target.length) {
      ctx.fail(`sparse_indices index length ${depth} does not match the rank ${target.length} of output_shape`);
    }
    const nv = values.shape?.[0] ?? null;
    if (values.rank === 1 && nv !== null && count !== null && nv !== count) {
      ctx.fail(`sparse_values has ${nv} values but sparse_indices has ${count} indices`);
    }
    return [{ dtype: values.dtype, shape: target }];
  },
  // TF's _SparseToDenseGrad; indices of a 1-d output are viewed as [N, 1] for the gather.
  grad: (op, [g]) => {
    const [idx, , values] = op.inputs as [Tensor, Tensor, Tensor];
    const asMatrix = idx.rank === 2 ? idx : A.reshape(idx, [-1, 1]);
    let valuesGrad = I.gatherNd(g!, asMatrix);
    if (values.rank === 0) valuesGrad = reduceSum(valuesGrad);
    return [null, null, valuesGrad, subtract(reduceSum(g!), reduceSum(valuesGrad))];
  },
});

// ---- reversals ----

registerOp({
  type: 'ReverseV2',
  inputs: ['tensor', 'axis'],
  attrs: { Tidx: 'type', T: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, INDEX, 'axis');
    checkRank(ctx, 1, [1], 'axis');
    const x = ctx.inputs[0]!;
    const axes = constNumbers(ctx, 1);
    if (axes && x.rank !== null) {
      const seen = new Set<number>();
      for (const a of axes) {
        if (a < -x.rank || a >= x.rank) ctx.fail(`'axis'[${axes.indexOf(a)}] = ${a} is out of valid range [${-x.rank}, ${x.rank - 1}]`);
        const n = a < 0 ? a + x.rank : a;
        if (seen.has(n)) ctx.fail(`axis ${n} specified more than once`);
        seen.add(n);
      }
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  grad: (op, [g]) => [I.reverse(g!, op.inputs[1]!), null],
});

registerOp({
  type: 'Reverse',
  inputs: ['tensor', 'dims'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, ['bool'], 'dims');
    checkRank(ctx, 1, [1], 'dims');
    const [x, dims] = ctx.inputs as [AbstractValue, AbstractValue];
    const n = dims.shape?.[0] ?? null;
    if (x.rank !== null && n !== null && n !== x.rank) ctx.fail(`'dims' must have the same number of values as 'tensor' has dimensions: ${n} vs. ${x.rank}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  grad: (op, [g]) => [I.reverseV1(g!, op.inputs[1]!), null],
});

registerOp({
  type: 'ReverseSequence',
  inputs: ['input', 'seq_lengths'],
  attrs: { seq_dim: 'int', batch_dim: 'int', T: 'type', Tlen: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, INDEX, 'seq_lengths');
    checkRank(ctx, 1, [1], 'seq_lengths');
    const [x, lens] = ctx.inputs as [AbstractValue, AbstractValue];
    const seqDim = ctx.attr<number>('seq_dim');
    const batchDim = optAttr(ctx, 'batch_dim', 0);
    if (seqDim === batchDim) ctx.fail(`seq_dim and batch_dim must differ, both are ${seqDim}`);
    if (x.shape !== null) {
      const r = x.shape.length;
      if (batchDim < 0 || batchDim >= r) ctx.fail(`batch_dim must be < input rank: ${batchDim} vs. ${r}`);
      if (seqDim < 0 || seqDim >= r) ctx.fail(`seq_dim must be < input rank: ${seqDim} vs. ${r}`);
      const b = x.shape[batchDim]!;
      const n = lens.shape?.[0] ?? null;
      if (b !== null && n !== null && b !== n) ctx.fail(`Length of seq_lengths != input.dims(${batchDim}), (${n} vs. ${b})`);
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  grad: (op, [g]) => [
    I.reverseSequence(g!, op.inputs[1]!, { seqAxis: op.getAttr<number>('seq_dim'), batchAxis: op.hasAttr('batch_dim') ? op.getAttr<number>('batch_dim') : 0 }),
    null,
  ],
});

// ---- mirror padding ----

function mirrorShape(ctx: ShapeContext, of: typeof mirrorPadShape): OutputSpec[] {
  checkDType(ctx, 1, INDEX, 'paddings');
  const [x, p] = ctx.inputs as [AbstractValue, AbstractValue];
  if (p.shape !== null && (p.shape.length !== 2 || (p.shape[1] !== null && p.shape[1] !== 2))) {
    ctx.fail(`paddings must be a matrix with 2 columns, got shape ${formatShape(p.shape)}`);
  }
  const mode = ctx.attr<string>('mode');
  const rank = x.rank ?? p.shape?.[0] ?? null;
  if (x.rank !== null && p.shape?.[0] != null && p.shape[0] !== x.rank) {
    ctx.fail(`The first dimension of paddings must be the rank of inputs ${x.rank}, got paddings of shape ${formatShape(p.shape)}`);
  }
  const pads = constNumbers(ctx, 1);
  if (rank === null) return [{ dtype: x.dtype, shape: null }];
  const shape = x.shape ?? unknownOfRank(rank)!;
  if (!pads) {
    checked(ctx, () => of(shape, new Array<number>(2 * rank).fill(0), mode));
    return [{ dtype: x.dtype, shape: unknownOfRank(rank) }];
  }
  return [{ dtype: x.dtype, shape: checked(ctx, () => of(shape, pads, mode)) }];
}

registerOp({
  type: 'MirrorPad',
  inputs: ['input', 'paddings'],
  // Zero paddings: the same shape, and the input itself.
  identityWhenSameShape: true,
  attrs: { T: 'type', Tpaddings: 'type', mode: 'string' },
  shape: (ctx) => mirrorShape(ctx, mirrorPadShape),
  grad: (op, [g]) => [I.mirrorPadGrad(g!, op.inputs[1]!, op.getAttr('mode')), null],
});

registerOp({
  type: 'MirrorPadGrad',
  inputs: ['input', 'paddings'],
  identityWhenSameShape: true,
  attrs: { T: 'type', Tpaddings: 'type', mode: 'string' },
  shape: (ctx) => mirrorShape(ctx, mirrorPadGradShape),
  grad: (op, [g]) => [I.mirrorPad(g!, op.inputs[1]!, op.getAttr('mode')), null],
});

// ---- space / batch / depth ----

function spaceBatchShape(ctx: ShapeContext, what: 'paddings' | 'crops', of: typeof spaceToBatchShape): OutputSpec[] {
  checkDType(ctx, 1, INDEX, 'block_shape');
  checkDType(ctx, 2, INDEX, what);
  checkRank(ctx, 1, [1], 'block_shape');
  checkRank(ctx, 2, [2], what);
  const x = ctx.inputs[0]!;
  const block = constNumbers(ctx, 1);
  const pairs = constNumbers(ctx, 2);
  if (x.shape === null) return [{ dtype: x.dtype, shape: null }];
  if (!block) return [{ dtype: x.dtype, shape: unknownOfRank(x.rank) }];
  // Unknown pads or crops leave the spatial sizes unknown (and unchecked).
  const input = pairs ? x.shape : x.shape.map((d, i) => (i >= 1 && i <= block.length ? null : d));
  return [{ dtype: x.dtype, shape: checked(ctx, () => of(input, block, pairs ?? new Array<number>(2 * block.length).fill(0))) }];
}

registerOp({
  type: 'SpaceToBatchND',
  inputs: ['input', 'block_shape', 'paddings'],
  // The same shape takes blocks of 1 and no padding: the input itself.
  identityWhenSameShape: true,
  attrs: { T: 'type', Tblock_shape: 'type', Tpaddings: 'type' },
  shape: (ctx) => spaceBatchShape(ctx, 'paddings', spaceToBatchShape),
  grad: (op, [g]) => [I.batchToSpaceNd(g!, op.inputs[1]!, op.inputs[2]!), null, null],
});

registerOp({
  type: 'BatchToSpaceND',
  inputs: ['input', 'block_shape', 'crops'],
  identityWhenSameShape: true,
  attrs: { T: 'type', Tblock_shape: 'type', Tcrops: 'type' },
  shape: (ctx) => spaceBatchShape(ctx, 'crops', batchToSpaceShape),
  grad: (op, [g]) => [I.spaceToBatchNd(g!, op.inputs[1]!, op.inputs[2]!), null, null],
});

function depthOp(type: string, of: typeof spaceToDepthShape, inverse: typeof I.spaceToDepth): void {
  registerOp({
    type,
    inputs: ['input'],
    attrs: { T: 'type', block_size: 'int', data_format: 'string' },
    shape: (ctx) => {
      const x = ctx.inputs[0]!;
      const b = ctx.attr<number>('block_size');
      const format = optAttr(ctx, 'data_format', 'NHWC');
      return [{ dtype: x.dtype, shape: checked(ctx, () => of(x.shape ?? unknownOfRank(4)!, b, format)) }];
    },
    grad: (op, [g]) => [inverse(g!, op.getAttr<number>('block_size'), undefined, op.hasAttr('data_format') ? op.getAttr<string>('data_format') : 'NHWC')],
  });
}

depthOp('SpaceToDepth', spaceToDepthShape, I.depthToSpace);
depthOp('DepthToSpace', depthToSpaceShape, I.spaceToDepth);

// ---- matrices and sequences ----

registerOp({
  type: 'MatrixBandPart',
  inputs: ['input', 'num_lower', 'num_upper'],
  attrs: { T: 'type', Tindex: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, INDEX, 'num_lower');
    sameDType(ctx, 1, 2, ['num_lower', 'num_upper']);
    checkRank(ctx, 1, [0], 'num_lower');
    checkRank(ctx, 2, [0], 'num_upper');
    const x = ctx.inputs[0]!;
    if (x.rank !== null && x.rank < 2) ctx.fail(`input must be at least rank 2, got shape ${formatShape(x.shape)}`);
    if (x.shape !== null) {
      const [m, n] = x.shape.slice(-2) as [Dim, Dim];
      const [lo, up] = [partialScalar(ctx.inputs[1]!), partialScalar(ctx.inputs[2]!)];
      if (lo !== null && m !== null && lo > m) ctx.fail(`num_lower must be negative or less or equal to number of rows (${m}) got: ${lo}`);
      if (up !== null && n !== null && up > n) ctx.fail(`num_upper must be negative or less or equal to number of columns (${n}) got: ${up}`);
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  grad: (op, [g]) => [I.matrixBandPart(g!, op.inputs[1]!, op.inputs[2]!), null, null],
});

registerOp({
  type: 'LinSpace',
  inputs: ['start', 'stop', 'num'],
  attrs: { T: 'type', Tidx: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, ['float32'], 'start');
    sameDType(ctx, 0, 1, ['start', 'stop']);
    checkDType(ctx, 2, INDEX, 'num');
    for (const [i, what] of [[0, 'start'], [1, 'stop'], [2, 'num']] as const) checkRank(ctx, i, [0], what);
    const n = partialScalar(ctx.inputs[2]!);
    if (n !== null && n <= 0) ctx.fail(`Requires num > 0: ${n}`);
    return [{ dtype: ctx.inputs[0]!.dtype, shape: [n] }];
  },
  // TF: NotDifferentiable("LinSpace").
  grad: null,
});

registerOp({
  type: 'BroadcastArgs',
  inputs: ['s0', 's1'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, INDEX, 's0');
    sameDType(ctx, 0, 1, ['s0', 's1']);
    checkRank(ctx, 0, [1], 's0');
    checkRank(ctx, 1, [1], 's1');
    const [a, b] = [partialVector(ctx.inputs[0]!), partialVector(ctx.inputs[1]!)];
    if (a === null || b === null) return [{ dtype: ctx.inputs[0]!.dtype, shape: [null] }];
    return [{ dtype: ctx.inputs[0]!.dtype, shape: [Math.max(a.length, b.length)] }];
  },
  grad: null,
});

// ---- the first GraphDef versions of Gather, Concat and BatchMatMul ----

registerOp({
  type: 'Gather',
  inputs: ['params', 'indices'],
  attrs: { validate_indices: 'bool', Tparams: 'type', Tindices: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, INDEX, 'indices');
    const [p, i] = ctx.inputs as [AbstractValue, AbstractValue];
    if (p.rank === 0) ctx.fail(`params (${p.name}) must be at least 1 dimensional`);
    if (p.shape === null || i.shape === null) return [{ dtype: p.dtype, shape: null }];
    return [{ dtype: p.dtype, shape: [...i.shape, ...p.shape.slice(1)] }];
  },
  // TF's _GatherGrad (its IndexedSlices made dense): rows of g summed at the gathered indices.
  grad: (op, [g]) => {
    const [params, indices] = op.inputs as [Tensor, Tensor];
    const ps = params.shape;
    const rows = isFullyDefined(ps) ? [-1, ...ps.slice(1)] : A.concat([[-1], A.slice(A.shape(params), [1], [-1])], 0);
    const n = isFullyDefined(ps) ? ps[0]! : A.gather(A.shape(params), 0);
    return [A.unsortedSegmentSum(A.reshape(g!, rows), A.reshape(indices, [-1]), n), null];
  },
});

registerOp({
  type: 'Concat',
  inputs: ['concat_dim', 'values*'],
  attrs: { N: 'int', T: 'type' },
  shape: (ctx) => {
    const n = ctx.inputs.length - 1;
    if (n < 2) ctx.fail(`Concat needs at least 2 values, got ${n}`);
    if (ctx.attr<number>('N') !== n) ctx.fail(`attr N is ${ctx.attr('N')} but ${n} values were given`);
    checkDType(ctx, 0, ['int32'], 'concat_dim');
    // ConcatV2's shape function and gradient, on the inputs in its order (values, then the axis).
    const reordered: ShapeContext = { ...ctx, inputs: [...ctx.inputs.slice(1), ctx.inputs[0]!], constValue: (i) => ctx.constValue(i === n ? 0 : i + 1) };
    return getOpDef('ConcatV2')!.shape(reordered);
  },
  grad: (op, grads) => {
    const reordered = Object.create(op, { inputs: { value: [...op.inputs.slice(1), op.inputs[0]!] } }) as Operation;
    const dv = (getOpDef('ConcatV2')!.grad as GradFn)(reordered, grads);
    return [null, ...dv.slice(0, -1)];
  },
});

registerOp({
  type: 'BatchMatMul',
  inputs: ['x', 'y'],
  attrs: { T: 'type', adj_x: 'bool', adj_y: 'bool' },
  shape: (ctx) => {
    const [x, y] = ctx.inputs as [AbstractValue, AbstractValue];
    if (x.rank !== null && y.rank !== null && x.rank !== y.rank) {
      ctx.fail(`x (${x.name}) and y (${y.name}) must have the same rank, got shapes ${formatShape(x.shape)} and ${formatShape(y.shape)}`);
    }
    if (x.shape !== null && y.shape !== null) {
      x.shape.slice(0, -2).forEach((d, i) => {
        const e = y.shape![i]!;
        if (d !== null && e !== null && d !== e) ctx.fail(`batch dimensions of x ${formatShape(x.shape)} and y ${formatShape(y.shape)} must be equal`);
      });
    }
    const v2 = getOpDef('BatchMatMulV2')!;
    return v2.shape({ ...ctx, attr: <T>(name: string) => optAttr(ctx, name, false) as T });
  },
  // TF's _BatchMatMul: the adjoint products, no batch broadcasting to undo.
  grad: (op, [g]) => {
    const [x, y] = op.inputs as [Tensor, Tensor];
    const ax = op.hasAttr('adj_x') && op.getAttr<boolean>('adj_x');
    const ay = op.hasAttr('adj_y') && op.getAttr<boolean>('adj_y');
    const mm = (a: Tensor, b: Tensor, ta: boolean, tb: boolean): Tensor => I.batchMatMulV1(a, b, { adjX: ta, adjY: tb });
    if (!ax && !ay) return [mm(g!, y, false, true), mm(x, g!, true, false)];
    if (!ax && ay) return [mm(g!, y, false, false), mm(g!, x, true, false)];
    if (ax && !ay) return [mm(y, g!, false, true), mm(x, g!, false, false)];
    return [mm(y, g!, true, true), mm(g!, x, true, true)];
  },
});

// ---- einsum ----

registerOp({
  type: 'Einsum',
  inputs: ['inputs*'],
  attrs: { equation: 'string', N: 'int', T: 'type' },
  shape: (ctx) => {
    const n = ctx.inputs.length;
    if (optAttr(ctx, 'N', n) !== n) ctx.fail(`attr N is ${ctx.attr('N')} but ${n} inputs were given`);
    checkDType(ctx, 0, ['float32', 'int32'], 'inputs[0]');
    for (let k = 1; k < n; k++) sameDType(ctx, 0, k, ['inputs[0]', `inputs[${k}]`]);
    const eq = checked(ctx, () => parseEinsum(ctx.attr<string>('equation'), n));
    const shapes = ctx.inputs.map((t) => t.shape);
    if (shapes.some((s) => s === null)) {
      const rank = eq.output.ellipsisAt < 0 ? eq.output.labels.length : null;
      return [{ dtype: ctx.inputs[0]!.dtype, shape: unknownOfRank(rank) }];
    }
    const ax = checked(ctx, () => einsumAxes(eq, shapes as Dim[][]));
    return [{ dtype: ctx.inputs[0]!.dtype, shape: ax.output.map((l) => ax.dims.get(l) ?? null) }];
  },
  grad: (op, [g]) => einsumGrad(op, g!),
});

const ELLIPSIS = '...';

/** The axis of `label` in subscripts: from the start before '...', from the end (negative) after it. */
function axisOfLabel(subs: string, label: string): number | null {
  const [head, tail] = subs.split(ELLIPSIS) as [string, string | undefined];
  const i = head.indexOf(label);
  if (i >= 0) return i;
  if (tail === undefined) return null;
  const j = tail.indexOf(label);
  return j >= 0 ? j - tail.length : null;
}

/** TF's _GetGradReduced: the gradient of a unary einsum that sums out `reduced` labels. */
function gradReduced(outGrad: Tensor, outSubs: string, inSubs: string, input: Tensor, reduced: string[]): Tensor {
  const rank = input.rank;
  if (rank === null) throw new InvalidArgumentError(`Gradient of Einsum '${input.op.name}': the operand's rank must be known`, input.op.name);
  const axes = reduced.map((l) => {
    const a = axisOfLabel(inSubs, l)!;
    return a < 0 ? a + rank : a;
  });
  const inShape = A.shape(input);
  const staticShape = isFullyDefined(input.shape) ? input.shape : null;
  const reducedDims = staticShape ? ints(axes.map((a) => staticShape[a]!)) : A.stack(axes.map((a) => A.gather(inShape, a)));
  const repeated = new Set(inSubs).size + new Set(outSubs).size < inSubs.length + outSubs.length;
  const kept = [...inSubs].filter((c) => !reduced.includes(c)).join('');
  if (!repeated && kept === outSubs) {
    // Broadcasting is enough: g reshaped with 1s at the reduced axes, broadcast to the input.
    const keptShape = staticShape
      ? staticShape.map((d, a) => (axes.includes(a) ? 1 : d))
      : I.tensorScatterUpdate(inShape, ints(axes, [axes.length, 1]), ints(axes.map(() => 1)));
    return A.broadcastTo(A.reshape(outGrad, keptShape), inShape);
  }
  const withReduced = A.concat([reducedDims, A.shape(outGrad)], 0);
  const keptShape = A.concat([ints(reduced.map(() => 1)), A.shape(outGrad)], 0);
  const broadcast = A.broadcastTo(A.reshape(outGrad, keptShape), withReduced);
  return I.einsum(`${reduced.join('')}${outSubs}->${inSubs}`, broadcast);
}

/** TF's _GetGradWrt: the gradient wrt one operand of a binary einsum, before un-broadcasting. */
function gradWrt(outGrad: Tensor, other: Tensor, input: Tensor, inSubs: string, otherSubs: string, outSubs: string): Tensor {
  const reduced = [...new Set(inSubs)].filter((c) => c !== '.' && !outSubs.includes(c) && !otherSubs.includes(c));
  const left = [...inSubs].filter((c) => !reduced.includes(c)).join('');
  const g = I.einsum(`${outSubs},${otherSubs}->${left}`, outGrad, other);
  return reduced.length ? gradReduced(g, left, inSubs, input, reduced) : g;
}

/** TF's _EinsumGrad. */
function einsumGrad(op: Operation, g: Tensor): Tensor[] {
  const [inSubs, outSubs] = op.getAttr<string>('equation').split('->') as [string, string];
  if (op.inputs.length === 1) {
    const x = op.inputs[0]!;
    const reduced = [...new Set(inSubs)].filter((c) => c !== '.' && !outSubs.includes(c));
    if (!reduced.length) return [I.einsum(`${outSubs}->${inSubs}`, g)];
    return [gradReduced(g, outSubs, inSubs, x, reduced)];
  }
  let [xSubs, ySubs] = inSubs.split(',') as [string, string];
  if (outSubs.includes(ELLIPSIS)) {
    if (!xSubs.includes(ELLIPSIS)) xSubs += ELLIPSIS;
    if (!ySubs.includes(ELLIPSIS)) ySubs += ELLIPSIS;
  }
  const [x, y] = op.inputs as [Tensor, Tensor];
  const gx = gradWrt(g, y, x, xSubs, ySubs, outSubs);
  const gy = gradWrt(g, x, y, ySubs, xSubs, outSubs);
  if (!outSubs.includes(ELLIPSIS)) return [gx, gy];
  const span = (subs: string, t: Tensor): [number, number] | null => {
    if (t.rank === null) return null;
    const start = subs.indexOf(ELLIPSIS);
    return [start, t.rank - (subs.length - start - ELLIPSIS.length)];
  };
  const [bx, by] = [span(xSubs, x), span(ySubs, y)];
  if (bx && by && isFullyDefined(x.shape) && isFullyDefined(y.shape)) {
    const xb = x.shape.slice(bx[0], bx[1]);
    const yb = y.shape.slice(by[0], by[1]);
    if (xb.length === yb.length && xb.every((d, i) => d === yb[i])) return [gx, gy];
    // Static un-broadcasting: sum each gradient over the broadcast dims its operand lacks or has as 1.
    const out = broadcastStatic(xb, yb) as number[];
    const sumTo = (gr: Tensor, t: Tensor, b: [number, number], own: number[]): Tensor => {
      const lead = out.length - own.length;
      const axes = out.map((d, i) => (i < lead || (own[i - lead] === 1 && d !== 1) ? b[0] + i : -1)).filter((a) => a >= 0);
      return A.reshape(axes.length ? reduceSum(gr, axes) : gr, A.shape(t));
    };
    return [sumTo(gx, x, bx, xb), sumTo(gy, y, by, yb)];
  }
  throw new InvalidArgumentError(`Gradient of Einsum '${op.name}' with '...' needs operands of static shapes`, op.name);
}
