// TF1 functions building the sort family's ops: scans (tf.cumsum, tf.cumprod), top-k and sorting
// (tf.nn.topK, tf.nn.inTopK, tf.sort, tf.argsort), searching (tf.searchsorted), sets (tf.unique,
// tf.uniqueWithCounts, tf.setdiff1d), tf.where with one argument and tf.math.bincount.
import { convertToTensor, graphOf, isVariableLike, type TensorLike } from '../convert.js';
import { allocData, type DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import { type AttrValue, type Graph, Tensor } from '../graph.js';
import { reshape, shape as shapeOf, stridedSlice, transpose } from './array.js';
import { add, cast, greater, maximum, minimum, multiply, negative, reduceMax, reduceProd, subtract, where as select } from './math.js';

/** Runs fn in TF's name_scope(name) on the inputs' graph; fn gets the scope, the exact name of the op it makes. */
function scoped<T>(name: string, values: readonly unknown[], fn: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => fn(scope, g)));
}

function createOp(g: Graph, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, name: string): Tensor[] {
  return g.createOp(type, inputs, attrs, { name }).outputs as Tensor[];
}

/** A tensor argument whose JS literals take `dtype`; tensors, variables and arrays keep their own. */
function intArg(v: TensorLike, name: string, dtype: DType = 'int32'): Tensor {
  const own = v instanceof Tensor || isVariableLike(v) || v instanceof NDArray || ArrayBuffer.isView(v);
  return convertToTensor(v, own ? undefined : dtype, name);
}

/** Python's namedtuple: the outputs in order (for destructuring) that also answer to TF's field names. */
function namedTuple<const K extends readonly string[]>(names: K, values: readonly Tensor[]): Tensor[] & { readonly [P in K[number]]: Tensor } {
  const out = [...values] as Tensor[] & Record<string, Tensor>;
  names.forEach((n, i) => Object.defineProperty(out, n, { value: values[i], enumerable: false }));
  return out as Tensor[] & { readonly [P in K[number]]: Tensor };
}

// ---- scans ----

export interface ScanOptions {
  /** Each output excludes its own element (the first output is the identity: 0 for a sum, 1 for a product). */
  exclusive?: boolean;
  /** Scans from the end of the axis. */
  reverse?: boolean;
  name?: string;
}

function scan(type: 'Cumsum' | 'Cumprod', x: TensorLike, axis: TensorLike, opts: ScanOptions): Tensor {
  return scoped(opts.name ?? type, [x, axis], (scope, g) => {
    const t = convertToTensor(x, undefined, 'x');
    const a = intArg(axis, 'axis');
    return createOp(g, type, [t, a], { T: t.dtype, Tidx: a.dtype, exclusive: !!opts.exclusive, reverse: !!opts.reverse }, scope)[0]!;
  });
}

/** tf.cumsum: running sums along axis (default 0). */
export function cumsum(x: TensorLike, axis: TensorLike = 0, opts: ScanOptions = {}): Tensor {
  return scan('Cumsum', x, axis, opts);
}

/** tf.cumprod: running products along axis (default 0). */
export function cumprod(x: TensorLike, axis: TensorLike = 0, opts: ScanOptions = {}): Tensor {
  return scan('Cumprod', x, axis, opts);
}

// ---- top-k and sorting ----

export type TopKResult = Tensor[] & { readonly values: Tensor; readonly indices: Tensor };

/**
 * tf.nn.top_k: the k largest entries of each row (the last axis) and their int32 indices, largest
 * first; equal values come in index order.
 */
export function topK(input: TensorLike, k: TensorLike = 1, sorted = true, name = 'TopKV2'): TopKResult {
  return scoped(name, [input, k], (scope, g) => {
    const t = convertToTensor(input, undefined, 'input');
    const kt = convertToTensor(k, 'int32', 'k');
    return namedTuple(['values', 'indices'] as const, createOp(g, 'TopKV2', [t, kt], { T: t.dtype, sorted }, scope));
  });
}

/** tf.nn.in_top_k: whether each row's target class is among its k largest predictions (a tie with the k-th counts as in). */
export function inTopK(predictions: TensorLike, targets: TensorLike, k: TensorLike, name = 'in_top_k'): Tensor {
  return scoped(name, [predictions, targets, k], (scope, g) => {
    const p = convertToTensor(predictions, 'float32', 'predictions');
    const t = intArg(targets, 'targets');
    const kt = convertToTensor(k, typeof k === 'number' ? t.dtype : undefined, 'k');
    return createOp(g, 'InTopKV2', [p, t, kt], { T: t.dtype }, scope)[0]!;
  });
}

export type SortDirection = 'ASCENDING' | 'DESCENDING';

export interface SortOptions {
  /** A constant axis (default -1). */
  axis?: number;
  direction?: SortDirection;
  name?: string;
}

/** tf.sort: values sorted along axis, through TopKV2 as TF does (equal values keep their order). */
export function sort(values: TensorLike, opts: SortOptions = {}): Tensor {
  return scoped(opts.name ?? 'sort', [values], () => sortOrArgsort(values, opts, false));
}

/** tf.argsort: the int32 indices that sort values along axis (stable: equal values keep their order). */
export function argsort(values: TensorLike, opts: SortOptions & { stable?: boolean } = {}): Tensor {
  return scoped(opts.name ?? 'argsort', [values], () => sortOrArgsort(values, opts, true));
}

function sortOrArgsort(values: TensorLike, opts: SortOptions, indices: boolean): Tensor {
  const direction = opts.direction ?? 'ASCENDING';
  if (direction !== 'ASCENDING' && direction !== 'DESCENDING') {
    throw new InvalidArgumentError(`sort: direction should be one of ASCENDING, DESCENDING, got ${String(direction)}`);
  }
  const v = convertToTensor(values, undefined, 'values');
  let axis = opts.axis ?? -1;
  const rank = v.rank;
  if (!Number.isInteger(axis)) throw new InvalidArgumentError(`sort: axis must be a constant integer, got ${axis}`);
  if (rank !== null) {
    if (axis < -rank || axis >= rank) throw new InvalidArgumentError(`sort: axis ${axis} is out of range for a tensor of rank ${rank}`);
    if (axis < 0) axis += rank;
  }
  if (direction === 'DESCENDING') return descendingSort(v, axis, indices);
  // Ascending order is the descending order of an order-reversing map: -x for floats, and for
  // integers -x - 1 (= ~x), which cannot overflow at the most negative value.
  const flip = (t: Tensor): Tensor => (t.dtype === 'float32' ? negative(t) : subtract(negative(t), 1));
  const out = descendingSort(flip(v), axis, indices);
  return indices ? out : flip(out);
}

function descendingSort(v: Tensor, axis: number, indices: boolean): Tensor {
  const rank = v.rank;
  const last = axis === -1 || (rank !== null && axis === rank - 1);
  if (!last && rank === null) throw new InvalidArgumentError('sort: sorting along an axis other than the last needs a tensor of known rank');
  // Axis `axis` swapped with the last one (the permutation is its own inverse).
  const perm = last ? undefined : Array.from({ length: rank! }, (_, i) => (i === axis ? rank! - 1 : i === rank! - 1 ? axis : i));
  const input = perm ? transpose(v, perm) : v;
  const k = lastDim(input);
  const [vals, idx] = topK(input, k);
  const out = indices ? idx! : vals!;
  return perm ? transpose(out, perm) : out;
}

/** The size of t's last dimension: a number when static, else a scalar tensor. */
function lastDim(t: Tensor): number | Tensor {
  const d = t.shape?.[t.shape.length - 1];
  if (d !== undefined && d !== null) return d;
  return stridedSlice(shapeOf(t), [-1], [0], [1], { endMask: 1, shrinkAxisMask: 1 });
}

// ---- searching ----

export interface SearchsortedOptions {
  /** 'left': the first index where the value could go (LowerBound); 'right': the last (UpperBound). */
  side?: 'left' | 'right';
  outType?: 'int32' | 'int64';
  name?: string;
}

/**
 * tf.searchsorted: for each value, where it goes in the sorted innermost rows of sortedSequence
 * (leading dims of sortedSequence and values must match).
 */
export function searchsorted(sortedSequence: TensorLike, values: TensorLike, opts: SearchsortedOptions = {}): Tensor {
  const side = opts.side ?? 'left';
  if (side !== 'left' && side !== 'right') throw new InvalidArgumentError(`searchsorted: side must be 'left' or 'right', got ${String(side)}`);
  const g = graphOf([sortedSequence, values]);
  return g.asDefault(() => {
    const seq = convertToTensor(sortedSequence, undefined, 'sorted_sequence');
    const vals = convertToTensor(values, seq.dtype, 'values');
    const seq2d = reshape(seq, [-1, lastDim(seq)]);
    const vals2d = reshape(vals, [-1, lastDim(vals)]);
    const type = side === 'right' ? 'UpperBound' : 'LowerBound';
    const out = createOp(g, type, [seq2d, vals2d], { T: seq.dtype, out_type: opts.outType ?? 'int32' }, opts.name ?? type)[0]!;
    const s = vals.shape;
    return reshape(out, s !== null && s.every((d) => d !== null) ? (s as number[]) : shapeOf(vals));
  });
}

// ---- sets ----

export type UniqueResult = Tensor[] & { readonly y: Tensor; readonly idx: Tensor };
export type UniqueWithCountsResult = Tensor[] & { readonly y: Tensor; readonly idx: Tensor; readonly count: Tensor };
export type SetDiffResult = Tensor[] & { readonly out: Tensor; readonly idx: Tensor };

/** tf.unique: the distinct elements of a vector in order of first appearance, and each element's index among them. */
export function unique(x: TensorLike, outIdx: 'int32' | 'int64' = 'int32', name = 'Unique'): UniqueResult {
  return scoped(name, [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'x');
    return namedTuple(['y', 'idx'] as const, createOp(g, 'Unique', [t], { T: t.dtype, out_idx: outIdx }, scope));
  });
}

/** tf.unique_with_counts: unique's outputs and how often each distinct element occurs. */
export function uniqueWithCounts(x: TensorLike, outIdx: 'int32' | 'int64' = 'int32', name = 'UniqueWithCounts'): UniqueWithCountsResult {
  return scoped(name, [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'x');
    return namedTuple(['y', 'idx', 'count'] as const, createOp(g, 'UniqueWithCounts', [t], { T: t.dtype, out_idx: outIdx }, scope));
  });
}

/** tf.setdiff1d: the elements of x not in y (in x's order, duplicates kept) and their positions in x. */
export function setdiff1d(x: TensorLike, y: TensorLike, indexDtype: 'int32' | 'int64' = 'int32', name = 'ListDiff'): SetDiffResult {
  return scoped(name, [x, y], (scope, g) => {
    const tx = convertToTensor(x, undefined, 'x');
    const ty = convertToTensor(y, tx.dtype, 'y');
    return namedTuple(['out', 'idx'] as const, createOp(g, 'ListDiff', [tx, ty], { T: tx.dtype, out_idx: indexDtype }, scope));
  });
}

// ---- where ----

/**
 * TF1's tf.where. With the condition alone: the coordinates of its true (non-zero) elements, an
 * int64 [n, rank] matrix in row-major order (op Where). With x and y: elements of x where the
 * condition holds, else of y.
 */
export function where(condition: TensorLike, x?: TensorLike | null, y?: TensorLike | null, name?: string): Tensor {
  const hasX = x !== undefined && x !== null;
  const hasY = y !== undefined && y !== null;
  if (hasX !== hasY) throw new InvalidArgumentError('where: x and y must both be given or both be omitted');
  if (hasX) return select(condition, x!, y!, name);
  return scoped(name ?? 'Where', [condition], (scope, g) => {
    // TF converts the condition preferring bool: JS booleans become a bool tensor, numbers keep their type.
    let leaf: unknown = condition;
    while (Array.isArray(leaf)) leaf = leaf[0];
    const c = convertToTensor(condition, typeof leaf === 'boolean' ? 'bool' : undefined, 'condition');
    return createOp(g, 'Where', [c], { T: c.dtype }, scope)[0]!;
  });
}

// ---- counting ----

export interface BincountOptions {
  /** Same shape as arr: each occurrence adds its weight instead of 1. */
  weights?: TensorLike | null;
  /** The output has at least this many bins. */
  minlength?: TensorLike | null;
  /** The output has at most this many bins (larger values are not counted). */
  maxlength?: TensorLike | null;
  /** Dtype of the counts when there are no weights. */
  dtype?: DType;
  name?: string;
}

/** tf.math.bincount: how often each value 0, 1, ..., max(arr) occurs in the non-negative int32 arr (op Bincount). */
export function bincount(arr: TensorLike, opts: BincountOptions = {}): Tensor {
  return scoped(opts.name ?? 'bincount', [arr, opts.weights, opts.minlength, opts.maxlength], (_scope, g) => {
    const a = convertToTensor(arr, 'int32', 'arr');
    // max(arr) + 1 bins, none when arr is empty.
    const nonEmpty = cast(greater(reduceProd(shapeOf(a)), 0), 'int32');
    let size = multiply(nonEmpty, add(reduceMax(a), 1));
    if (opts.minlength !== undefined && opts.minlength !== null) size = maximum(convertToTensor(opts.minlength, 'int32', 'minlength'), size);
    if (opts.maxlength !== undefined && opts.maxlength !== null) size = minimum(convertToTensor(opts.maxlength, 'int32', 'maxlength'), size);
    const weights =
      opts.weights !== undefined && opts.weights !== null
        ? convertToTensor(opts.weights, undefined, 'weights')
        : convertToTensor(new NDArray(allocData(opts.dtype ?? 'int32', 0), [0], opts.dtype ?? 'int32'), undefined, 'weights');
    return createOp(g, 'Bincount', [a, size, weights], { T: weights.dtype }, 'Bincount')[0]!;
  });
}

/** The DenseBincount op (tf.raw_ops.DenseBincount): bin counts of a vector, or per row of a matrix; binaryOutput marks presence only. */
export function denseBincount(input: TensorLike, size: TensorLike, weights: TensorLike, binaryOutput = false, name = 'DenseBincount'): Tensor {
  return scoped(name, [input, size, weights], (scope, g) => {
    const x = intArg(input, 'input');
    const s = convertToTensor(size, typeof size === 'number' ? x.dtype : undefined, 'size');
    const w = convertToTensor(weights, undefined, 'weights');
    return createOp(g, 'DenseBincount', [x, s, w], { Tidx: x.dtype, T: w.dtype, binary_output: binaryOutput }, scope)[0]!;
  });
}
