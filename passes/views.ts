import { numElements } from '../src/core/ndarray.js';
import { getOpDef, VIEW } from '../ops/registry.js';
import { isFullyStatic, removeDeadNodes, type PlanGraph } from './ir.js';

/**
 * Reshape, Squeeze and ExpandDims with a static output shape become _View: a view of the input's
 * memory with the new shape, instead of a copy (the memory planner then treats the result as an
 * alias of the input).
 */
export function lowerViews(input: PlanGraph): PlanGraph {
  const g = input.clone();
  for (const n of g.nodes) {
    if (!getOpDef(n.type)?.reshapes || n.stateful || n.shapeError) continue;
    const out = n.outputs[0]!;
    const x = n.inputs[0];
    if (!x || !isFullyStatic(out) || !isFullyStatic(x) || numElements(x.shape) !== numElements(out.shape)) continue;
    n.type = VIEW;
    n.attrs = { T: out.dtype, shape: [...out.shape] };
    n.inputs = [x];
    n.refVars = [undefined];
    n.refTensors = [undefined];
  }
  removeDeadNodes(g);
  return g;
}
