import { isFloat, type DType } from './core/dtypes.js';
import { convertToTensor, isIndexedSlicesLike, isVariableLike, type IndexedSlicesLike, type TensorLike, type VariableLike } from './convert.js';
import { InvalidArgumentError, NotFoundError } from './core/errors.js';
import { getDefaultGraph, topologicalOrder, type Graph, Operation, Tensor } from './graph.js';
import { formatShape, shapesCompatible } from './core/shape.js';
import type { IndexedSlices } from './api/indexed_slices.js';

/** Hooks to API functions the engine needs (set by api modules; avoids an import cycle). */
export const gradHooks: {
  addN?: (xs: Tensor[]) => Tensor;
  onesLike?: (x: Tensor) => Tensor;
  zerosLike?: (x: Tensor) => Tensor;
} = {};

export interface GradientsOptions {
  stopGradients?: readonly (Tensor | VariableLike)[];
  unconnectedGradients?: 'none' | 'zero';
  name?: string;
  /**
   * The graph the gradient ops go in, when it is not the ys' own: a loop's or cond's gradient body
   * (a FuncGraph) differentiating the forward body, whose tensors it captures.
   */
  buildIn?: Graph;
  /**
   * Return TF's IndexedSlices where the gradient touches only some rows (tf.gather's params, an
   * embedding), as TF1 does. Off by default: the results are then all Tensors (the slices summed
   * into place), which TypeScript callers can use without narrowing. Optimizers ask for slices.
   */
  sparse?: boolean;
}

export type Gradient = Tensor | IndexedSlices;

/**
 * Tensors gradients flow through: floats, and variants (tensor lists: a TensorArray's gradient is a
 * list of its elements' gradients).
 */
export const carriesGradient = (d: DType): boolean => isFloat(d) || d === 'complex64' || d === 'variant';

const dense = (g: Gradient): Tensor => (isIndexedSlicesLike(g) ? g.toDense() : g);

function asTensor(x: Tensor | VariableLike): Tensor {
  // A variable's gradient is the gradient of the value ops read (its `read` snapshot); TF1 uses the
  // ref tensor, which the snapshot is the only reader of, so both give the same result.
  return isVariableLike(x) ? x.value() : x;
}

/**
 * tf.gradients: symbolic partial derivatives of sum(ys) with respect to each x, built as graph ops
 * under the 'gradients' name scope. Returns null for an x that no y depends on (or zeros with
 * unconnectedGradients: 'zero').
 */
export function gradients(
  ys: Tensor | readonly Tensor[],
  xs: Tensor | VariableLike | readonly (Tensor | VariableLike)[],
  gradYs: TensorLike | null | readonly (TensorLike | null)[] | undefined,
  opts: GradientsOptions & { sparse: true },
): (Gradient | null)[];
export function gradients(
  ys: Tensor | readonly Tensor[],
  xs: Tensor | VariableLike | readonly (Tensor | VariableLike)[],
  gradYs?: TensorLike | null | readonly (TensorLike | null)[],
  opts?: GradientsOptions,
): (Tensor | null)[];
export function gradients(
  ys: Tensor | readonly Tensor[],
  xs: Tensor | VariableLike | readonly (Tensor | VariableLike)[],
  gradYs?: TensorLike | null | readonly (TensorLike | null)[],
  opts: GradientsOptions = {},
): (Gradient | null)[] {
  const yList = Array.isArray(ys) ? [...(ys as Tensor[])] : [ys as Tensor];
  const xList = (Array.isArray(xs) ? [...(xs as (Tensor | VariableLike)[])] : [xs as Tensor | VariableLike]).map(asTensor);
  const gyList: (TensorLike | null)[] =
    gradYs === undefined || gradYs === null ? yList.map(() => null) : Array.isArray(gradYs) ? [...gradYs] : [gradYs as TensorLike];
  if (gyList.length !== yList.length) {
    throw new InvalidArgumentError(`tf.gradients: ${yList.length} ys but ${gyList.length} gradYs`);
  }
  const g = opts.buildIn ?? yList[0]?.graph ?? getDefaultGraph();
  const stopOps = new Set((opts.stopGradients ?? []).map((t) => asTensor(t).op));

  return g.asDefault(() =>
    g.nameScope(opts.name ?? 'gradients', () => {
      // Ops on a path from some x to some y.
      const xOps = new Set(xList.map((x) => x.op));
      const reached = new Set<Operation>();
      const queue = [...xOps];
      while (queue.length) {
        const op = queue.pop()!;
        if (reached.has(op)) continue;
        reached.add(op);
        for (const out of op.outputs) for (const c of out.consumers()) queue.push(c);
      }
      const between = new Set<Operation>();
      const back = yList.map((y) => y.op).filter((op) => reached.has(op));
      while (back.length) {
        const op = back.pop()!;
        if (between.has(op)) continue;
        between.add(op);
        for (const t of op.inputs) if (reached.has(t.op)) back.push(t.op);
      }

      const pending = new Map<Tensor, Gradient[]>();
      const addGrad = (t: Tensor, grad: Gradient): void => {
        const l = pending.get(t);
        if (l) l.push(grad);
        else pending.set(t, [grad]);
      };
      yList.forEach((y, i) => {
        const gy = gyList[i];
        if (gy === null || gy === undefined) {
          if (!isFloat(y.dtype)) throw new InvalidArgumentError(`tf.gradients: y ${y.name} has dtype ${y.dtype}; gradients need a float y`);
          addGrad(y, gradHooks.onesLike!(y));
        } else {
          const t = convertToTensor(gy, y.dtype, 'grad_ys');
          if (!shapesCompatible(t.shape, y.shape)) {
            throw new InvalidArgumentError(`tf.gradients: gradYs[${i}] has shape ${formatShape(t.shape)}, incompatible with y ${y.name} ${formatShape(y.shape)}`);
          }
          addGrad(y, t);
        }
      });

      // Several gradients of one tensor: slices stay slices (rows concatenated), anything else is summed densely.
      const aggregated = new Map<Tensor, Gradient>();
      const aggregate = (t: Tensor): Gradient | null => {
        const done = aggregated.get(t);
        if (done) return done;
        const l = pending.get(t);
        if (!l || l.length === 0) return null;
        const sum =
          l.length === 1
            ? l[0]!
            : l.every(isIndexedSlicesLike)
              ? (l[0] as IndexedSlices).concat(l.slice(1) as IndexedSlicesLike[])
              : gradHooks.addN!(l.map(dense));
        aggregated.set(t, sum);
        return sum;
      };

      const order = topologicalOrder(between).reverse();
      for (const op of order) {
        if (stopOps.has(op)) continue;
        const hasGrad = op.outputs.some((t) => pending.has(t));
        if (!hasGrad) continue;
        const aggregatedGrads = op.outputs.map((t) => (carriesGradient(t.dtype) ? aggregate(t) : null));
        if (aggregatedGrads.every((x) => x === null)) continue;
        const def = op.def;
        if (def?.grad === null) continue;
        if (!def || def.grad === undefined) {
          throw new NotFoundError(`No gradient defined for operation '${op.name}' (op type: ${op.type})`, op.name);
        }
        // An x's own producer (a variable's read) passes nothing further back: no input of it is on a path.
        if (!op.inputs.some((t) => reached.has(t.op))) continue;
        // Slices pass through ops that forward their input; other ops get them summed into place.
        if (def.forwardsInput && isIndexedSlicesLike(aggregatedGrads[0]) && reached.has(op.inputs[0]!.op)) {
          addGrad(op.inputs[0]!, aggregatedGrads[0]);
          continue;
        }
        const outGrads = aggregatedGrads.map((x) => (x === null ? null : dense(x)));
        // As in TF, a float output without a gradient gets zeros, so grad functions of
        // multi-output ops (Split, Unpack) see a tensor for each float output.
        const inGrads = g.nameScope(`${op.name}_grad`, () =>
          def.grad!(
            op,
            op.outputs.map((t, i) => outGrads[i] ?? (isFloat(t.dtype) ? gradHooks.zerosLike!(t) : null)),
          ),
        );
        if (inGrads.length !== op.inputs.length) {
          throw new InvalidArgumentError(`Gradient of ${op.type} '${op.name}' returned ${inGrads.length} gradients for ${op.inputs.length} inputs`);
        }
        op.inputs.forEach((t, i) => {
          const gi = inGrads[i];
          if (!gi || !carriesGradient(t.dtype) || !reached.has(t.op)) return;
          if (!shapesCompatible(gi.shape, t.shape)) {
            throw new InvalidArgumentError(
              `Gradient of ${op.type} '${op.name}' for input ${i} (${t.name}) has shape ${formatShape(gi.shape)}, expected ${formatShape(t.shape)}`,
            );
          }
          addGrad(t, gi);
        });
      }

      return xList.map((x) => {
        const gx = carriesGradient(x.dtype) ? aggregate(x) : null;
        if (gx) return opts.sparse ? gx : dense(gx);
        return opts.unconnectedGradients === 'zero' ? gradHooks.zerosLike!(x) : null;
      });
    }),
  );
}
