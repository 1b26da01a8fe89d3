// Ragged op definitions (issue 18): RaggedRange, RaggedGather, RaggedTensorToTensor. A ragged
// tensor is its row partitions (row_splits / value_rowids / first_dim_size) and its flat values;
// the kernels run on the host on every backend (runtime/cpu/kernels/ragged.ts).
import type { DType } from '../src/core/dtypes.js';
import { formatShape, type Dim, type Shape } from '../src/core/shape.js';
import type { Tensor } from '../src/graph.js';
import { convertToTensor } from '../src/convert.js';
import * as A from '../src/api/array.js';
import { cast, equal, multiply, reduceSum } from '../src/api/math.js';
import * as R from '../src/api/ragged.js';
import { registerOp, type ShapeContext } from './registry.js';
import { INDEX, rankOf } from './sparse.js';
import { optAttr } from './util.js';
import { checkDType } from './util.js';

const NUMBERS: readonly DType[] = ['float32', 'int32', 'int64'];

registerOp({
  type: 'RaggedRange',
  inputs: ['starts', 'limits', 'deltas'],
  attrs: { T: 'type', Tsplits: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, NUMBERS, 'starts');
    let rows: Dim = 1;
    ['starts', 'limits', 'deltas'].forEach((what, i) => {
      const t = ctx.inputs[i]!;
      if (t.dtype !== dt) ctx.fail(`${what} is ${t.dtype}, expected ${dt} like starts`);
      if (t.rank !== null && t.rank > 1) ctx.fail(`${what} (${t.name}) must be a scalar or vector, got shape ${formatShape(t.shape)}`);
      const n = t.rank === 0 ? undefined : (t.shape?.[0] ?? null);
      if (n === undefined) return;
      if (n !== null && rows !== null && rows !== 1 && n !== rows) ctx.fail(`starts, limits, and deltas must have the same shape: ${what} has ${n} elements, others ${rows}`);
      rows = n === null ? null : n;
    });
    const splitsType = optAttr<DType>(ctx, 'Tsplits', 'int64');
    return [
      { dtype: splitsType, shape: [rows === null ? null : rows + 1] },
      { dtype: dt, shape: [null] },
    ];
  },
  grad: null,
});

registerOp({
  type: 'RaggedGather',
  inputs: ['params_nested_splits*', 'params_dense_values', 'indices'],
  attrs: { Tvalues: 'type', Tindices: 'type', Tsplits: 'type', PARAMS_RAGGED_RANK: 'int', OUTPUT_RAGGED_RANK: 'int' },
  shape: (ctx) => {
    const n = ctx.inputs.length;
    const paramsRank = n - 2;
    const values = ctx.inputs[n - 2]!;
    const indices = ctx.inputs[n - 1]!;
    checkDType(ctx, n - 1, INDEX, 'indices');
    const splitsType = ctx.inputs[0]!.dtype;
    for (let i = 0; i < paramsRank; i++) {
      checkDType(ctx, i, INDEX, `params_nested_splits[${i}]`);
      if (ctx.inputs[i]!.dtype !== splitsType) ctx.fail(`params_nested_splits must share one dtype, got ${splitsType} and ${ctx.inputs[i]!.dtype}`);
      rankOf(ctx, i, 1, `params_nested_splits[${i}]`);
    }
    const declared = optAttr<number>(ctx, 'PARAMS_RAGGED_RANK', paramsRank);
    if (declared !== paramsRank) ctx.fail(`PARAMS_RAGGED_RANK is ${declared} but there are ${paramsRank} params_nested_splits`);
    if (values.rank === 0) ctx.fail(`params_dense_values (${values.name}) must be at least rank 1`);
    const outRank = indices.rank === null ? null : indices.rank - 1 + paramsRank;
    const declaredOut = optAttr<number | null>(ctx, 'OUTPUT_RAGGED_RANK', outRank);
    if (outRank !== null && declaredOut !== outRank) ctx.fail(`OUTPUT_RAGGED_RANK must be ${outRank} (indices' rank - 1 + PARAMS_RAGGED_RANK), got ${declaredOut}`);
    const rr = declaredOut ?? outRank ?? ctx.fail('RaggedGather needs indices of known rank or OUTPUT_RAGGED_RANK');
    return [
      ...Array.from({ length: rr }, () => ({ dtype: splitsType, shape: [null] as Shape })),
      { dtype: values.dtype, shape: values.shape === null ? null : [null, ...values.shape.slice(1)] },
    ];
  },
  // TF's _ragged_gather_grad: the gathered values' rows flow back to the params' value rows they came from.
  grad: (op, grads) => {
    const n = op.inputs.length;
    const splits = op.inputs.slice(0, n - 2);
    const values = op.inputs[n - 2]!;
    const indices = op.inputs[n - 1]!;
    const g = grads[grads.length - 1];
    const none = splits.map(() => null);
    if (!g) return [...none, null, null];
    // Row splits of params' outermost rows in terms of value rows.
    let combined = splits[0]!;
    for (const s of splits.slice(1)) combined = A.gather(s, combined);
    const flat = A.reshape(indices, [-1]);
    const starts = A.gather(combined, flat);
    const limits = A.gather(A.slice(combined, [1], [-1]), flat);
    const gradIndices = R.raggedRange(starts, limits, convertToTensor(1, combined.dtype, 'delta')).values;
    const rows = A.gather(A.shape(values), 0);
    return [...none, A.unsortedSegmentSum(g, gradIndices, rows), null];
  },
});

/** The ragged dims a RaggedTensorToTensor fills: one per partition but FIRST_DIM_SIZE. */
export function raggedRankOf(types: readonly string[]): number {
  return types.filter((t) => t !== 'FIRST_DIM_SIZE').length;
}

const PARTITION_TYPES = ['ROW_SPLITS', 'VALUE_ROWIDS', 'FIRST_DIM_SIZE'];

function checkPartitionTypes(ctx: ShapeContext, types: readonly string[], count: number): void {
  if (types.length !== count) ctx.fail(`row_partition_types has ${types.length} entries but there are ${count} row_partition_tensors`);
  types.forEach((t, i) => {
    if (!PARTITION_TYPES.includes(t)) ctx.fail(`unknown row partition type ${t}`);
    if (t === 'FIRST_DIM_SIZE' && i !== 0) ctx.fail('FIRST_DIM_SIZE can only be the first row partition type');
  });
  if (types[0] === 'FIRST_DIM_SIZE' && types.length > 1 && types[1] !== 'VALUE_ROWIDS') ctx.fail('FIRST_DIM_SIZE must be followed by VALUE_ROWIDS');
  if (types[0] === 'VALUE_ROWIDS') ctx.fail('VALUE_ROWIDS needs FIRST_DIM_SIZE before it');
  if (types.some((t) => t === 'VALUE_ROWIDS') && types.some((t) => t === 'ROW_SPLITS')) ctx.fail('mixing ROW_SPLITS and VALUE_ROWIDS is not supported');
}

registerOp({
  type: 'RaggedTensorToTensor',
  inputs: ['shape', 'values', 'default_value', 'row_partition_tensors*'],
  attrs: { T: 'type', Tindex: 'type', Tshape: 'type', num_row_partition_tensors: 'int', row_partition_types: 'list(string)' },
  shape: (ctx) => {
    checkDType(ctx, 0, INDEX, 'shape');
    const [, values, dflt] = ctx.inputs as [unknown, ShapeContext['inputs'][0], ShapeContext['inputs'][0]];
    const parts = ctx.inputs.slice(3);
    parts.forEach((_, i) => checkDType(ctx, 3 + i, INDEX, `row_partition_tensors[${i}]`));
    const types = ctx.attr<string[]>('row_partition_types');
    checkPartitionTypes(ctx, types, parts.length);
    if (dflt.dtype !== values.dtype) ctx.fail(`default_value is ${dflt.dtype}, expected ${values.dtype} like values`);
    const rr = raggedRankOf(types);
    const inner = values.shape === null ? null : values.shape.slice(1);
    if (dflt.shape !== null && inner !== null && dflt.shape.length > inner.length) {
      ctx.fail(`default_value ${formatShape(dflt.shape)} must broadcast to the values' inner shape ${formatShape(inner)}`);
    }
    const outRank = inner === null ? null : rr + 1 + inner.length;
    const given = ctx.constValue(0);
    const dims: Dim[] | null = given && given.rank === 1 ? Array.from(given.data as ArrayLike<number | bigint>, (d) => (Number(d) < 0 ? null : Number(d))) : null;
    if (dims && outRank !== null && dims.length !== outRank) ctx.fail(`shape has ${dims.length} dims, expected ${outRank} (ragged rank ${rr} + 1 + the values' inner rank)`);
    if (outRank === null) return [{ dtype: values.dtype, shape: dims }];
    const out = Array.from({ length: outRank }, (_, i) => dims?.[i] ?? (i > rr ? inner![i - rr - 1]! : null));
    return [{ dtype: values.dtype, shape: out }];
  },
  // TF's _ragged_tensor_to_tensor_grad, with the IndexedSlices summed into place.
  grad: (op, [g]) => {
    const [shapeT, values, dflt, ...parts] = op.inputs as [Tensor, Tensor, Tensor, ...Tensor[]];
    const types = op.attrs.row_partition_types as string[];
    const rr = raggedRankOf(types);
    const nvals = A.gather(A.shape(values), 0);
    // Which value each output row came from (-1: the default).
    const outRows = A.slice(A.shape(g!, shapeT.dtype), [0], [1 + rr]);
    const source = R.raggedTensorToTensor(outRows, A.range(0, nvals), -1, parts, types);
    const flatSource = A.reshape(source, [-1]);
    const innerShape = A.slice(A.shape(values), [1], [-1]);
    const flatG = A.reshape(g!, A.concat([[-1], innerShape], 0));
    const valuesGrad = A.unsortedSegmentSum(flatG, flatSource, nvals);
    // The default's gradient: the rows that took it, summed, reduced to the default's shape.
    const fromDefault = cast(equal(flatSource, A.fill(A.shape(flatSource), convertToTensor(-1, flatSource.dtype, 'minus_one'))), g!.dtype);
    const weights = A.reshape(fromDefault, A.concat([[-1], A.onesLike(innerShape)], 0));
    let dd = reduceSum(multiply(flatG, weights), 0);
    const ds = dflt.shape;
    const is = values.shape?.slice(1);
    if (ds === null || is === undefined || is.some((d) => d === null)) {
      throw new Error(`Gradient of RaggedTensorToTensor '${op.name}' needs static inner and default shapes`);
    }
    const lead = is.length - ds.length;
    const axes = is.map((_, i) => i).filter((i) => i < lead || (ds[i - lead] === 1 && is[i] !== 1));
    if (axes.length) dd = reduceSum(dd, axes, true);
    return [null, valuesGrad, A.reshape(dd, ds as number[]), ...parts.map(() => null)];
  },
});
