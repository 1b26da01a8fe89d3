import { bytesPerElement } from '../src/core/dtypes.js';
import { NDArray, numElements } from '../src/core/ndarray.js';
import { shapesCompatible } from '../src/core/shape.js';
import type { KernelNode } from '../runtime/backend.js';
import { getOpDef } from '../ops/registry.js';
import { constOf, isBarrier, isFullyStatic, removeDeadNodes, toKernelNode, type PlanGraph, type PNode, type Value } from './ir.js';

/** Evaluates one op on host values (the CPU backend's kernels); undefined when it has no kernel. */
export type HostEvaluator = (node: KernelNode, inputs: NDArray[]) => NDArray[] | undefined;

export interface FoldOptions {
  /** Largest constant (in bytes, all outputs together) folding may create. */
  maxBytes?: number;
  /** How ops on constants are evaluated; without it only Shape, Size and Rank of static shapes fold. */
  evaluate?: HostEvaluator;
}

export const DEFAULT_FOLD_MAX_BYTES = 1 << 20;

/**
 * Constant folding: an op whose data inputs are all constants is evaluated now, with the host
 * evaluator (the CPU kernels), and replaced by Const nodes (which keep its control inputs). Shape, Size and Rank of a
 * tensor whose shape is static become constants too. Never folds ops with effects or randomness,
 * nor results over the size cap; an op whose kernel rejects its constant inputs is left for the
 * run to report.
 */
export function foldConstants(input: PlanGraph, opts: FoldOptions = {}): PlanGraph {
  const g = input.clone();
  const maxBytes = opts.maxBytes ?? DEFAULT_FOLD_MAX_BYTES;
  const replaced = new Map<Value, Value>();
  const dead = new Set<PNode>();
  const nodes = [...g.nodes];
  for (const n of nodes) {
    for (let i = 0; i < n.inputs.length; i++) {
      const v = n.inputs[i];
      if (v && replaced.has(v)) n.inputs[i] = replaced.get(v)!;
    }
    // An op without inputs is a source: a constant already, or a value from outside.
    if (isBarrier(n) || n.inputs.length === 0 || n.program || n.outputs.length === 0) continue;
    const values = foldNode(n, maxBytes, opts.evaluate);
    if (!values) continue;
    n.outputs.forEach((o, i) => {
      const value = values[i]!;
      const c = g.add({
        name: n.outputs.length === 1 ? n.name : `${n.name}/output_${i}`,
        type: 'Const',
        attrs: { value, dtype: value.dtype },
        outputs: [{ dtype: value.dtype, shape: value.shape }],
        controlInputs: [...n.controlInputs],
        order: n.order,
        epoch: n.epoch,
        origin: n.origin,
      });
      replaced.set(o, c.outputs[0]!);
    });
    dead.add(n);
  }
  for (let i = 0; i < g.fetches.length; i++) {
    const r = replaced.get(g.fetches[i]!);
    if (r) g.fetches[i] = r;
  }
  for (const n of g.nodes) {
    for (let i = 0; i < n.inputs.length; i++) {
      const v = n.inputs[i];
      if (v && replaced.has(v)) n.inputs[i] = replaced.get(v)!;
    }
  }
  // Control edges on a folded op now wait for what it waited for.
  for (const d of dead) g.replaceControlUses(d, d.controlInputs);
  g.remove(dead);
  removeDeadNodes(g);
  g.schedule();
  return g;
}

function foldNode(n: PNode, maxBytes: number, evaluate: HostEvaluator | undefined): NDArray[] | undefined {
  const ofShape = getOpDef(n.type)?.valueOfShape;
  if (ofShape) {
    const x = n.inputs[0];
    if (!x || !isFullyStatic(x)) return undefined;
    const out = n.outputs[0]!;
    const { value, shape } = ofShape(x.shape);
    if (out.dtype !== 'int32' && out.dtype !== 'int64') return undefined;
    if (out.dtype === 'int32' && value.some((d) => d > 2147483647)) return undefined;
    return [NDArray.from(out.dtype === 'int64' ? value.map((d) => BigInt(d)) : value, out.dtype, shape)];
  }
  const consts = n.inputs.map((v) => constOf(v));
  if (consts.some((c) => c === undefined)) return undefined;
  // Skip when the static shapes already say the result is too big.
  let known = 0;
  for (const o of n.outputs) {
    // Strings and tensor lists are never folded into constants.
    if (o.dtype === 'string' || o.dtype === 'variant') return undefined;
    if (!isFullyStatic(o)) continue;
    known += numElements(o.shape) * bytesPerElement(o.dtype);
  }
  if (known > maxBytes) return undefined;
  if (!evaluate) return undefined;
  let outs: NDArray[] | undefined;
  try {
    outs = evaluate(toKernelNode(n), consts as NDArray[]);
  } catch {
    return undefined;
  }
  if (!outs) return undefined;
  if (outs.length !== n.outputs.length) return undefined;
  let bytes = 0;
  for (let i = 0; i < outs.length; i++) {
    const o = outs[i]!;
    const spec = n.outputs[i]!;
    if (!(o instanceof NDArray) || o.dtype !== spec.dtype || !shapesCompatible(spec.shape, o.shape) || o.dtype === 'string') return undefined;
    bytes += o.size * bytesPerElement(o.dtype);
  }
  if (bytes > maxBytes) return undefined;
  return outs;
}
