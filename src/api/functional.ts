// tf.mapFn, tf.scan, tf.foldl, tf.foldr: TF1's higher-order functions, built as TF builds them, on
// whileLoop over TensorArrays, with the trip count as maximumIterations.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import type { Shape } from '../core/shape.js';
import type { Tensor } from '../graph.js';
import { ValueError } from '../variable_scope.js';
import { shape as shapeOf, stridedSlice } from './array.js';
import { whileLoop } from './control_flow.js';
import { add, less, subtract } from './math.js';
import { constant } from './core.js';
import { flatten, packSequenceAs } from './nest.js';
import { TensorArray } from './tensor_array.js';

export interface HigherOrderOptions {
  parallelIterations?: number;
  backProp?: boolean;
  swapMemory?: boolean;
  name?: string;
}

function elemsOf(elems: unknown, fname: string): Tensor[] {
  const flat = flatten(elems).map((e) => convertToTensor(e as TensorLike));
  if (flat.length === 0) throw new ValueError(`${fname}: elems must be a tensor or a structure of tensors`);
  for (const t of flat) {
    if (t.shape !== null && t.shape.length === 0) throw new ValueError(`${fname}: elements in elems must be at least rank 1, got ${t.name} of shape []`);
  }
  return flat;
}

/** The number of elements: the first dim of the first tensor (static when known). */
function lengthOf(t: Tensor): Tensor {
  const d = t.shape?.[0];
  if (typeof d === 'number') return constant(d, 'int32', undefined, 'n');
  return stridedSlice(shapeOf(t, 'int32'), [0], [1], [1], { shrinkAxisMask: 1 });
}

function unstackAll(flat: readonly Tensor[], n: Tensor): TensorArray[] {
  return flat.map((t) => new TensorArray(t.dtype, { size: n, elementShape: t.shape === null ? null : t.shape.slice(1) }).unstack(t));
}

function scoped<T>(values: readonly unknown[], name: string, fn: () => T): T {
  const g = graphOf(flatten(values));
  return g.asDefault(() => g.nameScope(name, () => fn()));
}

export interface MapFnOptions extends HigherOrderOptions {
  /** The structure of dtypes fn returns, when it differs from elems'. */
  dtype?: unknown;
  inferShape?: boolean;
}

/** tf.mapFn(fn, elems): fn applied to each element along axis 0, results stacked. */
export function mapFn<R = Tensor>(fn: (x: any) => R, elems: unknown, opts: MapFnOptions = {}): R {
  return scoped([elems], opts.name ?? 'map', () => {
    const flat = elemsOf(elems, 'tf.mapFn');
    const n = lengthOf(flat[0]!);
    const inputs = unstackAll(flat, n);
    const outStructure = opts.dtype ?? elems;
    const outDTypes = flatten(outStructure).map((d) => (typeof d === 'string' ? (d as DType) : (d as Tensor).dtype));
    const acc0 = outDTypes.map((dt) => new TensorArray(dt, { size: n, inferShape: opts.inferShape ?? true }));
    const [, acc] = whileLoop(
      (i: Tensor) => less(i, n),
      (i: Tensor, accs: TensorArray[]) => {
        const x = packSequenceAs(elems, inputs.map((ta) => ta.read(i)));
        const y = flatten(fn(x)).map((v) => convertToTensor(v as TensorLike));
        if (y.length !== accs.length) throw new ValueError(`tf.mapFn: fn returned ${y.length} tensors, but dtype says ${accs.length}`);
        return [add(i, 1), accs.map((ta, k) => ta.write(i, y[k]!))];
      },
      [constant(0, 'int32', undefined, 'i'), acc0],
      { maximumIterations: n, parallelIterations: opts.parallelIterations, backProp: opts.backProp, swapMemory: opts.swapMemory },
    ) as [Tensor, TensorArray[]];
    const stacked = acc.map((ta) => withLeading(ta.stack(), flat[0]!.shape));
    return packSequenceAs<R>(outStructure, stacked);
  });
}

/** A stacked result gets the elements' static first dim. */
function withLeading(t: Tensor, like: Shape): Tensor {
  const d = like?.[0];
  if (typeof d === 'number' && t.shape !== null && t.shape[0] === null) t.setShape([d, ...t.shape.slice(1)]);
  return t;
}

export interface ScanOptions extends HigherOrderOptions {
  /** Go from the last element to the first. */
  reverse?: boolean;
  inferShape?: boolean;
}

/**
 * The loop scan and the folds share: a = fn(a, x) over the elements (from the last when
 * `reverse`), starting from `initializer` or else the first element; with `keepAll`, every a is
 * written to a TensorArray and the stacks are returned, else the final a.
 */
function accumulate<A>(fname: string, reverse: boolean, keepAll: boolean, fn: (acc: any, x: any) => A, elems: unknown, initializer: unknown, opts: ScanOptions): A {
  return scoped([elems, initializer], opts.name ?? fname.slice(3), () => {
    const flat = elemsOf(elems, fname);
    const n = lengthOf(flat[0]!);
    const inputs = unstackAll(flat, n);
    const at = (i: Tensor | number): Tensor | number => (reverse ? subtract(subtract(n, i), 1) : i);
    const seeded = initializer === undefined;
    const a0 = seeded ? packSequenceAs(elems, inputs.map((ta) => ta.read(at(0)))) : initializer;
    const aFlat = flatten(a0).map((v) => convertToTensor(v as TensorLike));
    let acc0 = keepAll ? aFlat.map((t) => new TensorArray(t.dtype, { size: n, elementShape: t.shape, inferShape: opts.inferShape ?? true })) : [];
    if (seeded) acc0 = acc0.map((ta, k) => ta.write(at(0), aFlat[k]!));
    const [, a, accs] = whileLoop(
      (i: Tensor) => less(i, n),
      (i: Tensor, acc: Tensor[], tas: TensorArray[]) => {
        const x = packSequenceAs(elems, inputs.map((ta) => ta.read(at(i))));
        const next = flatten(fn(packSequenceAs(a0, acc), x)).map((v) => convertToTensor(v as TensorLike));
        if (next.length !== acc.length) throw new ValueError(`${fname}: fn returned ${next.length} tensors, but the accumulator has ${acc.length}`);
        return [add(i, 1), next, tas.map((ta, k) => ta.write(at(i), next[k]!))];
      },
      [constant(seeded ? 1 : 0, 'int32', undefined, 'i'), aFlat, acc0],
      { maximumIterations: n, parallelIterations: opts.parallelIterations, backProp: opts.backProp, swapMemory: opts.swapMemory },
    ) as [Tensor, Tensor[], TensorArray[]];
    if (!keepAll) return packSequenceAs<A>(a0, a);
    return packSequenceAs<A>(a0, accs.map((ta) => withLeading(ta.stack(), flat[0]!.shape)));
  });
}

/**
 * tf.scan(fn, elems, initializer): a = fn(a, x) over the elements, every a stacked. Without an
 * initializer, the first element starts the accumulation (and is the first result).
 */
export function scan<A = Tensor>(fn: (acc: any, x: any) => A, elems: unknown, initializer?: unknown, opts: ScanOptions = {}): A {
  return accumulate('tf.scan', opts.reverse ?? false, true, fn, elems, initializer, opts);
}

/** tf.foldl(fn, elems, initializer): a = fn(a, x) from the first element to the last; the final a. */
export function foldl<A = Tensor>(fn: (acc: any, x: any) => A, elems: unknown, initializer?: unknown, opts: HigherOrderOptions = {}): A {
  return accumulate('tf.foldl', false, false, fn, elems, initializer, opts);
}

/** tf.foldr(fn, elems, initializer): a = fn(a, x) from the last element to the first; the final a. */
export function foldr<A = Tensor>(fn: (acc: any, x: any) => A, elems: unknown, initializer?: unknown, opts: HigherOrderOptions = {}): A {
  return accumulate('tf.foldr', true, false, fn, elems, initializer, opts);
}
