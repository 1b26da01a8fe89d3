// TF1 functions building the sparse family's ops (issue 18): segment reductions (tf.segmentSum,
// tf.unsortedSegmentMax, tf.sparseSegmentSum / tf.sparse.segmentSum, ...), and SparseTensor with
// tf.sparse.reshape, tf.sparse.fillEmptyRows and tf.sparse.toDense.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { Shape } from '../core/shape.js';
import { type AttrValue, type Graph, type Operation, Tensor } from '../graph.js';
import { numbersOf } from '../../ops/semantics/array.js';
import { getOpDef } from '../../ops/registry.js';
import { cast, divide, maximum, sqrt, subtract } from './math.js';
import { concat, expandDims, ones, rank, reshape, shape as shapeOf, unsortedSegmentSum } from './array.js';

/** Runs build in TF's name_scope(name) on the inputs' graph; build gets the scope, the exact name of the op it makes. */
function scoped<T>(name: string, values: readonly unknown[], build: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => build(scope, g)));
}

function makeOp(g: Graph, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, scope: string): Operation {
  return g.createOp(type, inputs, attrs, { name: scope });
}

/** An int tensor argument: JS numbers become int32 (or `dtype`) constants. */
function intInput(v: TensorLike, what: string, dtype: DType = 'int32'): Tensor {
  const literal = typeof v === 'number' || (Array.isArray(v) && !v.some((e) => e instanceof Tensor));
  const t = convertToTensor(v, literal ? dtype : undefined, what, what);
  if (t.dtype !== 'int32' && t.dtype !== 'int64') throw new InvalidArgumentError(`${what} must be int32 or int64, got ${t.dtype}`);
  return t;
}

// ---- sorted segment reductions ----

function segmentOp(type: string, data: TensorLike, segmentIds: TensorLike, name: string): Tensor {
  return scoped(name, [data, segmentIds], (scope, g) => {
    const d = convertToTensor(data, undefined, 'data');
    const ids = intInput(segmentIds, 'segment_ids');
    return makeOp(g, type, [d, ids], { T: d.dtype, Tindices: ids.dtype }, scope).outputs[0]!;
  });
}

/** Sums the rows of data with the same (sorted, non-negative) segment id (op SegmentSum). */
export function segmentSum(data: TensorLike, segmentIds: TensorLike, name = 'SegmentSum'): Tensor {
  return segmentOp('SegmentSum', data, segmentIds, name);
}
/** Means of the rows of data by sorted segment id; empty segments are 0 (op SegmentMean). */
export function segmentMean(data: TensorLike, segmentIds: TensorLike, name = 'SegmentMean'): Tensor {
  return segmentOp('SegmentMean', data, segmentIds, name);
}
/** Elementwise maxima of the rows of data by sorted segment id; empty segments are 0 (op SegmentMax). */
export function segmentMax(data: TensorLike, segmentIds: TensorLike, name = 'SegmentMax'): Tensor {
  return segmentOp('SegmentMax', data, segmentIds, name);
}
/** Elementwise minima of the rows of data by sorted segment id; empty segments are 0 (op SegmentMin). */
export function segmentMin(data: TensorLike, segmentIds: TensorLike, name = 'SegmentMin'): Tensor {
  return segmentOp('SegmentMin', data, segmentIds, name);
}
/** Products of the rows of data by sorted segment id; empty segments are 1 (op SegmentProd). */
export function segmentProd(data: TensorLike, segmentIds: TensorLike, name = 'SegmentProd'): Tensor {
  return segmentOp('SegmentProd', data, segmentIds, name);
}

// ---- unsorted segment reductions ----

function unsortedOp(type: string, data: TensorLike, segmentIds: TensorLike, numSegments: TensorLike, name: string): Tensor {
  return scoped(name, [data, segmentIds, numSegments], (scope, g) => {
    const d = convertToTensor(data, undefined, 'data');
    const ids = intInput(segmentIds, 'segment_ids');
    const n = intInput(numSegments, 'num_segments');
    return makeOp(g, type, [d, ids, n], { T: d.dtype, Tindices: ids.dtype, Tnumsegments: n.dtype }, scope).outputs[0]!;
  });
}

/** Elementwise maxima by segment id, any order; negative ids dropped, empty segments the lowest value (op UnsortedSegmentMax). */
export function unsortedSegmentMax(data: TensorLike, segmentIds: TensorLike, numSegments: TensorLike, name = 'UnsortedSegmentMax'): Tensor {
  return unsortedOp('UnsortedSegmentMax', data, segmentIds, numSegments, name);
}
/** Elementwise minima by segment id, any order; empty segments the highest value (op UnsortedSegmentMin). */
export function unsortedSegmentMin(data: TensorLike, segmentIds: TensorLike, numSegments: TensorLike, name = 'UnsortedSegmentMin'): Tensor {
  return unsortedOp('UnsortedSegmentMin', data, segmentIds, numSegments, name);
}
/** Products by segment id, any order; empty segments are 1 (op UnsortedSegmentProd). */
export function unsortedSegmentProd(data: TensorLike, segmentIds: TensorLike, numSegments: TensorLike, name = 'UnsortedSegmentProd'): Tensor {
  return unsortedOp('UnsortedSegmentProd', data, segmentIds, numSegments, name);
}

/** TF's _unsorted_segment_N: the size of each segment (at least 1), shaped to broadcast against the sums. */
function segmentSizes(data: Tensor, ids: Tensor, n: Tensor): Tensor {
  const counts = unsortedSegmentSum(ones(shapeOf(ids), data.dtype), ids, n);
  const innerOnes = ones(expandDims(subtract(rank(data), rank(ids)), 0), n.dtype);
  return maximum(reshape(counts, concat([reshape(n, [1]), innerOnes], 0)), 1);
}

/** Means by segment id, any order (TF's composite: UnsortedSegmentSum / segment sizes). */
export function unsortedSegmentMean(data: TensorLike, segmentIds: TensorLike, numSegments: TensorLike, name = 'UnsortedSegmentMean'): Tensor {
  return scoped(name, [data, segmentIds, numSegments], () => {
    const d = convertToTensor(data, undefined, 'data');
    const ids = intInput(segmentIds, 'segment_ids');
    const n = intInput(numSegments, 'num_segments');
    return divide(unsortedSegmentSum(d, ids, n), segmentSizes(d, ids, n));
  });
}

/** Sums by segment id divided by the square root of the segment sizes (TF's composite). */
export function unsortedSegmentSqrtN(data: TensorLike, segmentIds: TensorLike, numSegments: TensorLike, name = 'UnsortedSegmentSqrtN'): Tensor {
  return scoped(name, [data, segmentIds, numSegments], () => {
    const d = convertToTensor(data, undefined, 'data');
    const ids = intInput(segmentIds, 'segment_ids');
    const n = intInput(numSegments, 'num_segments');
    return divide(unsortedSegmentSum(d, ids, n), sqrt(segmentSizes(d, ids, n)));
  });
}

// ---- sparse segment reductions ----

export interface SparseSegmentOptions {
  /** The number of output rows (the *WithNumSegments op); default: the last segment id + 1. */
  numSegments?: TensorLike;
  name?: string;
}

function sparseSegmentOp(type: string, data: TensorLike, indices: TensorLike, segmentIds: TensorLike, opts: SparseSegmentOptions): Tensor {
  const withN = opts.numSegments !== undefined;
  const opType = withN ? `${type}WithNumSegments` : type;
  return scoped(opts.name ?? opType, [data, indices, segmentIds, opts.numSegments], (scope, g) => {
    const d = convertToTensor(data, undefined, 'data');
    const idx = intInput(indices, 'indices');
    const ids = intInput(segmentIds, 'segment_ids');
    const attrs: Record<string, AttrValue> = { T: d.dtype, Tidx: idx.dtype, Tsegmentids: ids.dtype };
    const inputs = [d, idx, ids];
    if (withN) {
      const n = intInput(opts.numSegments!, 'num_segments');
      inputs.push(n);
      attrs.Tnumsegments = n.dtype;
    }
    return makeOp(g, opType, inputs, attrs, scope).outputs[0]!;
  });
}

/** Sums of the rows data[indices[i]] by sorted segment id (op SparseSegmentSum, or SparseSegmentSumWithNumSegments). */
export function sparseSegmentSum(data: TensorLike, indices: TensorLike, segmentIds: TensorLike, opts: SparseSegmentOptions = {}): Tensor {
  return sparseSegmentOp('SparseSegmentSum', data, indices, segmentIds, opts);
}
/** Means of the rows data[indices[i]] by sorted segment id (op SparseSegmentMean[WithNumSegments]). */
export function sparseSegmentMean(data: TensorLike, indices: TensorLike, segmentIds: TensorLike, opts: SparseSegmentOptions = {}): Tensor {
  return sparseSegmentOp('SparseSegmentMean', data, indices, segmentIds, opts);
}
/** Sums of the rows data[indices[i]] by segment, divided by sqrt(segment size) (op SparseSegmentSqrtN[WithNumSegments]). */
export function sparseSegmentSqrtN(data: TensorLike, indices: TensorLike, segmentIds: TensorLike, opts: SparseSegmentOptions = {}): Tensor {
  return sparseSegmentOp('SparseSegmentSqrtN', data, indices, segmentIds, opts);
}

/** The gradient ops of SparseSegmentMean / SparseSegmentSqrtN: grad rows scattered back to outputDim0 rows. */
export function sparseSegmentReductionGrad(
  type: 'SparseSegmentMeanGrad' | 'SparseSegmentSqrtNGrad',
  grad: Tensor,
  indices: Tensor,
  segmentIds: Tensor,
  outputDim0: Tensor,
): Tensor {
  return scoped(type, [grad, indices, segmentIds, outputDim0], (scope, g) =>
    makeOp(g, type, [grad, indices, segmentIds, outputDim0], { T: grad.dtype, Tidx: indices.dtype, Tsegmentids: segmentIds.dtype }, scope).outputs[0]!,
  );
}

/** The gradient op of SparseFillEmptyRows: [d_values, d_default_value] (op SparseFillEmptyRowsGrad). */
export function sparseFillEmptyRowsGrad(reverseIndexMap: Tensor, gradValues: Tensor): [Tensor, Tensor] {
  return scoped('SparseFillEmptyRowsGrad', [reverseIndexMap, gradValues], (scope, g) => {
    const op = makeOp(g, 'SparseFillEmptyRowsGrad', [reverseIndexMap, gradValues], { T: gradValues.dtype }, scope);
    return [op.outputs[0]!, op.outputs[1]!];
  });
}

// ---- SparseTensor ----

/** TF1's SparseTensor: int64 indices [N, rank], values [N] and an int64 dense_shape [rank]. */
export class SparseTensor {
  readonly indices: Tensor;
  readonly values: Tensor;
  readonly denseShape: Tensor;

  constructor(indices: TensorLike, values: TensorLike, denseShape: TensorLike) {
    const g = graphOf([indices, values, denseShape]);
    [this.indices, this.values, this.denseShape] = g.asDefault(() =>
      g.nameScope('SparseTensor', () => [
        convertToTensor(indices, literalInt(indices) ? 'int64' : undefined, 'indices', 'indices'),
        convertToTensor(values, undefined, 'values', 'values'),
        convertToTensor(denseShape, literalInt(denseShape) ? 'int64' : undefined, 'dense_shape', 'dense_shape'),
      ]),
    );
    if (this.indices.dtype !== 'int64') throw new InvalidArgumentError(`SparseTensor indices must be int64, got ${this.indices.dtype}`);
    if (this.denseShape.dtype !== 'int64') throw new InvalidArgumentError(`SparseTensor dense_shape must be int64, got ${this.denseShape.dtype}`);
  }

  get dtype(): DType {
    return this.values.dtype;
  }
  get graph(): Graph {
    return this.values.graph;
  }
  /** The static dense shape, where the dense_shape tensor's elements are known. */
  get shape(): Shape {
    const known = this.denseShape.knownValue;
    if (known) return numbersOf(known);
    const n = this.denseShape.shape?.[0] ?? null;
    return n === null ? null : new Array<null>(n).fill(null);
  }
}

/** A JS number or array: index literals of a SparseTensor become int64, as TF's do. */
const literalInt = (v: unknown): boolean => typeof v === 'number' || Array.isArray(v);

/** A SparseTensor of the same values under another dense shape (-1 allowed once) (op SparseReshape). */
export function sparseReshape(spInput: SparseTensor, shape: TensorLike, name = 'SparseReshape'): SparseTensor {
  return scoped(name, [spInput.indices, spInput.values, spInput.denseShape, shape], (scope, g) => {
    const s = intInput(shape, 'shape', 'int64');
    const op = makeOp(g, 'SparseReshape', [spInput.indices, spInput.denseShape, s.dtype === 'int64' ? s : cast(s, 'int64')], {}, scope);
    return new SparseTensor(op.outputs[0]!, spInput.values, op.outputs[1]!);
  });
}

/**
 * Fills the empty rows of a 2-D (or higher) SparseTensor with defaultValue at column 0 (op
 * SparseFillEmptyRows). Returns the filled SparseTensor and a bool vector: which rows were empty.
 */
export function sparseFillEmptyRows(spInput: SparseTensor, defaultValue: TensorLike, name = 'SparseFillEmptyRows'): [SparseTensor, Tensor] {
  return scoped(name, [spInput.indices, spInput.values, spInput.denseShape, defaultValue], (scope, g) => {
    const dv = convertToTensor(defaultValue, spInput.dtype, 'default_value', 'default_value');
    const op = makeOp(g, 'SparseFillEmptyRows', [spInput.indices, spInput.values, spInput.denseShape, dv], { T: spInput.dtype }, scope);
    return [new SparseTensor(op.outputs[0]!, op.outputs[1]!, spInput.denseShape), op.outputs[2]!];
  });
}

export interface SparseToDenseOptions {
  defaultValue?: TensorLike;
  validateIndices?: boolean;
  name?: string;
}

/** The dense tensor of a SparseTensor (op SparseToDense, registered by ops/indexing.ts). */
export function sparseToDense(spInput: SparseTensor, opts: SparseToDenseOptions = {}): Tensor {
  if (!getOpDef('SparseToDense')) throw new InvalidArgumentError('tf.sparse.toDense needs the SparseToDense op, which is not registered');
  return scoped(opts.name ?? 'SparseToDense', [spInput.indices, spInput.values, spInput.denseShape], (scope, g) => {
    const dv = convertToTensor(opts.defaultValue ?? (spInput.dtype === 'string' ? '' : 0), spInput.dtype, 'default_value', 'default_value');
    const attrs = { T: spInput.dtype, Tindices: 'int64', validate_indices: opts.validateIndices ?? true } as Record<string, AttrValue>;
    return makeOp(g, 'SparseToDense', [spInput.indices, spInput.denseShape, spInput.values, dv], attrs, scope).outputs[0]!;
  });
}

/** tf.sparse.* (TF2-style names under the sparse namespace; TF1 exposes them there too). */
export const sparse = {
  SparseTensor,
  segmentSum: sparseSegmentSum,
  segmentMean: sparseSegmentMean,
  segmentSqrtN: sparseSegmentSqrtN,
  reshape: sparseReshape,
  fillEmptyRows: sparseFillEmptyRows,
  toDense: sparseToDense,
};
