// Value and norm clipping (TF's clip_ops), composed from math ops so gradients follow from theirs.
import { convertToTensor, isIndexedSlicesLike, type TensorLike, graphOf } from '../convert.js';
import { IndexedSlices } from './indexed_slices.js';
import { InvalidArgumentError } from '../core/errors.js';
import { Tensor } from '../graph.js';
import { formatShape, shapesCompatible } from '../core/shape.js';
import { identity } from './core.js';
import { onesLike, stack } from './array.js';
import { add, divide, greater, maximum, minimum, multiply, reduceSum, sqrt, subtract, where } from './math.js';
import { l2Loss } from './nn.js';

function scoped<T>(values: readonly unknown[], name: string | undefined, defaultName: string, fn: (scope: string) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name ?? defaultName, fn));
}

/** Clipping must not broadcast t to a bigger shape (TF checks values.shape.merge_with(result.shape)). */
function checkNotBroadcast(fn: string, values: Tensor, result: Tensor, what: string): void {
  if (!shapesCompatible(values.shape, result.shape)) {
    throw new InvalidArgumentError(
      `${fn}: ${what} would broadcast t (${values.name}, shape ${formatShape(values.shape)}) to shape ${formatShape(result.shape)}`,
    );
  }
}

/** Clips t to [clipValueMin, clipValueMax]: maximum(minimum(t, clipValueMax), clipValueMin). */
export function clipByValue(t: TensorLike, clipValueMin: TensorLike, clipValueMax: TensorLike, name?: string): Tensor {
  return scoped([t, clipValueMin, clipValueMax], name, 'clip_by_value', (scope) => {
    const values = convertToTensor(t, undefined, 't', 't');
    const tMin = minimum(values, clipValueMax);
    checkNotBroadcast('tf.clipByValue', values, tMin, 'clipValueMax');
    const tMax = maximum(tMin, clipValueMin, scope);
    checkNotBroadcast('tf.clipByValue', values, tMax, 'clipValueMin');
    return tMax;
  });
}

/**
 * Rescales t so that its L2 norm over `axes` (all axes by default) is at most clipNorm:
 * t * clipNorm / max(norm, clipNorm). A zero norm gives zeros and finite gradients (TF's
 * double-where trick).
 */
export function clipByNorm(t: TensorLike, clipNorm: TensorLike, axes?: number | number[] | Tensor, name?: string): Tensor {
  return scoped([t, clipNorm], name, 'clip_by_norm', (scope) => {
    const values = convertToTensor(t, undefined, 't', 't');
    const l2sum = reduceSum(multiply(values, values), axes, true);
    const pred = greater(l2sum, 0);
    const l2sumSafe = where(pred, l2sum, onesLike(l2sum));
    const l2norm = where(pred, sqrt(l2sumSafe), l2sum);
    const intermediate = multiply(values, clipNorm);
    checkNotBroadcast('tf.clipByNorm', values, intermediate, 'clipNorm');
    return identity(divide(intermediate, maximum(l2norm, clipNorm)), scope);
  });
}

function checkList(fn: string, ts: unknown): void {
  if (!Array.isArray(ts)) throw new InvalidArgumentError(`${fn}: tList should be an array of tensors`);
}

/** A list entry as a tensor; for IndexedSlices, their rows (TF's clip ops work on an IndexedSlices' values). */
function entryValues(t: TensorLike | null | undefined, i: number): Tensor | null {
  if (t == null) return null;
  return isIndexedSlicesLike(t) ? t.values : convertToTensor(t, undefined, `t_${i}`, `t[${i}]`);
}

/**
 * sqrt(sum of squares of every element of every tensor in ts); null entries are skipped, and an
 * IndexedSlices counts its rows (as TF: repeated indices count twice).
 */
export function globalNorm(ts: readonly (TensorLike | null | undefined)[], name?: string): Tensor {
  checkList('tf.globalNorm', ts);
  return scoped(ts, name, 'global_norm', () => {
    const values = ts.map(entryValues);
    const halfSquaredNorms = values.filter((v): v is Tensor => v !== null).map((v) => l2Loss(v));
    if (halfSquaredNorms.length === 0) throw new InvalidArgumentError('tf.globalNorm: tList has no tensors (all entries are null)');
    const halfSquaredNorm = reduceSum(stack(halfSquaredNorms));
    return sqrt(multiply(halfSquaredNorm, 2), 'global_norm');
  });
}

/**
 * Scales every tensor of ts by clipNorm / max(globalNorm, clipNorm), so that their global norm is
 * at most clipNorm. Returns [clipped tensors, the global norm used]. Null entries stay null, and
 * IndexedSlices stay IndexedSlices (their rows scaled). A non-finite norm makes every clipped value
 * NaN (TF's scale + (norm - norm)).
 */
export function clipByGlobalNorm(
  ts: readonly Tensor[],
  clipNorm: TensorLike,
  useNorm?: TensorLike,
  name?: string,
): [Tensor[], Tensor];
export function clipByGlobalNorm(
  ts: readonly (Tensor | null | undefined)[],
  clipNorm: TensorLike,
  useNorm?: TensorLike,
  name?: string,
): [(Tensor | null)[], Tensor];
export function clipByGlobalNorm(
  ts: readonly (TensorLike | null | undefined)[],
  clipNorm: TensorLike,
  useNorm?: TensorLike,
  name?: string,
): [(Tensor | IndexedSlices | null)[], Tensor];
export function clipByGlobalNorm(
  ts: readonly (TensorLike | null | undefined)[],
  clipNorm: TensorLike,
  useNorm?: TensorLike,
  name?: string,
): [(Tensor | null)[], Tensor];
export function clipByGlobalNorm(
  ts: readonly (TensorLike | null | undefined)[],
  clipNorm: TensorLike,
  useNorm?: TensorLike,
  name?: string,
): [(Tensor | IndexedSlices | null)[], Tensor] {
  checkList('tf.clipByGlobalNorm', ts);
  const norm =
    useNorm === undefined ? globalNorm(ts, name) : graphOf([useNorm, ...ts]).asDefault(() => convertToTensor(useNorm, undefined, 'use_norm'));
  return scoped([...ts, clipNorm], name, 'clip_by_global_norm', (scope) => {
    const one = convertToTensor(1, norm.dtype);
    const scaleForFinite = multiply(clipNorm, minimum(divide(1, norm), divide(one, clipNorm)));
    const scale = add(scaleForFinite, subtract(norm, norm));
    const clipped = ts.map((t, i) => {
      const v = entryValues(t, i);
      if (v === null) return null;
      const c = identity(multiply(v, scale), `${scope}_${i}`);
      return isIndexedSlicesLike(t) ? new IndexedSlices(c, t.indices, t.denseShape) : c;
    });
    return [clipped, norm];
  });
}
