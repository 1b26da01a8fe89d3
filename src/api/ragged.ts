// TF1 functions building the ragged family's ops (issue 18). A ragged result is its parts: flat
// `values` and the row partition (`rowSplits`, or nested splits outermost first).
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import type { AttrValue, Graph, Operation, Tensor } from '../graph.js';

function scoped<T>(name: string, values: readonly unknown[], build: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => build(scope, g)));
}

function makeOp(g: Graph, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, scope: string): Operation {
  return g.createOp(type, inputs, attrs, { name: scope });
}

const isLiteral = (v: unknown): boolean => typeof v === 'number' || Array.isArray(v);

export interface RaggedRangeOptions {
  /** The dtype of the row splits (default int64). */
  rowSplitsDtype?: DType;
  /** The dtype of JS-number starts/limits/deltas (default int32, or float32 when any is fractional). */
  dtype?: DType;
  name?: string;
}

/** tf.ragged.range: row i is range(starts[i], limits[i], deltas[i]); scalars broadcast (op RaggedRange). */
export function raggedRange(starts: TensorLike, limits: TensorLike, deltas: TensorLike = 1, opts: RaggedRangeOptions = {}): { rowSplits: Tensor; values: Tensor } {
  return scoped(opts.name ?? 'RaggedRange', [starts, limits, deltas], (scope, g) => {
    const given = [starts, limits, deltas].find((v) => !isLiteral(v)) as Tensor | undefined;
    const fractional = [starts, limits, deltas].some((v) => isLiteral(v) && [v].flat(2).some((x) => !Number.isInteger(x)));
    const dtype = opts.dtype ?? (given ? convertToTensor(given).dtype : fractional ? 'float32' : 'int32');
    const [s, l, d] = ([['starts', starts], ['limits', limits], ['deltas', deltas]] as const).map(([what, v]) => convertToTensor(v, dtype, what, what)) as [Tensor, Tensor, Tensor];
    const op = makeOp(g, 'RaggedRange', [s, l, d], { T: dtype, Tsplits: opts.rowSplitsDtype ?? 'int64' }, scope);
    return { rowSplits: op.outputs[0]!, values: op.outputs[1]! };
  });
}

/**
 * The rows of a ragged `params` (nested splits, outermost first, and flat values) picked by indices
 * (op RaggedGather). Indices of rank k add k - 1 uniform splits in front.
 */
export function raggedGather(paramsNestedSplits: readonly TensorLike[], paramsDenseValues: TensorLike, indices: TensorLike, name = 'RaggedGather'): { nestedSplits: Tensor[]; values: Tensor } {
  return scoped(name, [...paramsNestedSplits, paramsDenseValues, indices], (scope, g) => {
    const splits = paramsNestedSplits.map((s, i) => convertToTensor(s, isLiteral(s) ? 'int64' : undefined, `params_nested_splits_${i}`, 'params_nested_splits'));
    const values = convertToTensor(paramsDenseValues, undefined, 'params_dense_values', 'params_dense_values');
    const idx = convertToTensor(indices, isLiteral(indices) ? 'int32' : undefined, 'indices', 'indices');
    const outRank = idx.rank === null ? splits.length : idx.rank - 1 + splits.length;
    const attrs = {
      Tvalues: values.dtype,
      Tindices: idx.dtype,
      Tsplits: splits[0]?.dtype ?? 'int64',
      PARAMS_RAGGED_RANK: splits.length,
      OUTPUT_RAGGED_RANK: outRank,
    };
    const op = makeOp(g, 'RaggedGather', [...splits, values, idx], attrs, scope);
    return { nestedSplits: op.outputs.slice(0, -1), values: op.outputs[op.outputs.length - 1]! };
  });
}

export type RowPartitionType = 'ROW_SPLITS' | 'VALUE_ROWIDS' | 'FIRST_DIM_SIZE';

/**
 * A dense tensor of `shape` (-1 dims: as long as the longest row) from a ragged tensor's partitions
 * and values, padded with defaultValue (op RaggedTensorToTensor). Partitions: ROW_SPLITS for every
 * ragged dim, or FIRST_DIM_SIZE then VALUE_ROWIDS.
 */
export function raggedTensorToTensor(
  shape: TensorLike,
  values: TensorLike,
  defaultValue: TensorLike,
  rowPartitionTensors: readonly TensorLike[],
  rowPartitionTypes: readonly RowPartitionType[] | readonly string[],
  name = 'RaggedTensorToTensor',
): Tensor {
  return scoped(name, [shape, values, defaultValue, ...rowPartitionTensors], (scope, g) => {
    const v = convertToTensor(values, undefined, 'values', 'values');
    const s = convertToTensor(shape, isLiteral(shape) ? 'int64' : undefined, 'shape', 'shape');
    const d = convertToTensor(defaultValue, v.dtype, 'default_value', 'default_value');
    const parts = rowPartitionTensors.map((p, i) => convertToTensor(p, isLiteral(p) ? 'int64' : undefined, `row_partition_tensors_${i}`, 'row_partition_tensors'));
    const attrs = {
      T: v.dtype,
      Tindex: parts[0]?.dtype ?? 'int64',
      Tshape: s.dtype,
      num_row_partition_tensors: parts.length,
      row_partition_types: [...rowPartitionTypes],
    };
    return makeOp(g, 'RaggedTensorToTensor', [s, v, d, ...parts], attrs, scope).outputs[0]!;
  });
}

/** tf.ragged.* */
export const ragged = { range: raggedRange, gather: raggedGather, toTensor: raggedTensorToTensor };
