import { InvalidArgumentError } from '../src/core/errors.js';
import { constantValue, Graph, Operation, type AttrValue, type Tensor } from '../src/graph.js';
import { mergeShapes, type Shape } from '../src/core/shape.js';
import { getOpDef, type OutputSpec, type ShapeContext } from '../ops/registry.js';
import { ARG, type PlanGraph, type Value } from './ir.js';

/** Shadow ops live in a graph of their own that nothing else sees. */
const shadowGraph = new Graph();

/**
 * Shape specialization: re-runs every op's shape function with the shapes the fed values really
 * have (and with constants folded so far), so that, in a plan for concrete feeds, tensors get
 * concrete shapes. A shape function that rejects the specialized shapes leaves that op's shapes as
 * they were: the kernel then reports the problem at run time, as it would without this pass.
 */
export function specializeShapes(input: PlanGraph): PlanGraph {
  const g = input.clone();
  const shadow = new Map<Value, Tensor>();
  for (const n of g.nodes) {
    const def = n.type === ARG || n.program ? undefined : getOpDef(n.type);
    const inputs = n.inputs.map((v, i) => (v ? shadow.get(v)! : n.refTensors[i]!));
    let specs: OutputSpec[] = n.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape }));
    if (def && inputs.every((t) => t !== undefined)) {
      try {
        const fresh = def.shape(shapeContext(n.type, n.name, inputs, n.attrs));
        if (fresh.length === specs.length && fresh.every((s, i) => s.dtype === specs[i]!.dtype)) {
          specs = specs.map((old, i) => ({ dtype: old.dtype, shape: mergeShapes(old.shape, fresh[i]!.shape) }));
        }
        n.shapeError = undefined;
      } catch {
        // Keep the graph's shapes for this op; passes leave it alone and its kernel reports the error.
        n.shapeError = true;
      }
    }
    const op = new Operation(shadowGraph, n.id, n.name, n.type, inputs, [], n.attrs, specs, n.origin?.traceback);
    n.outputs.forEach((o, i) => {
      o.shape = cloneShape(specs[i]!.shape);
      shadow.set(o, op.outputs[i]!);
    });
  }
  return g;
}

function cloneShape(s: Shape): Shape {
  return s === null ? null : [...s];
}

function shapeContext(type: string, name: string, inputs: readonly Tensor[], attrs: Readonly<Record<string, AttrValue>>): ShapeContext {
  return {
    opType: type,
    opName: name,
    inputs,
    attr<T>(a: string): T {
      if (!Object.hasOwn(attrs, a)) throw new InvalidArgumentError(`${type} op '${name}': missing attr '${a}'`, name);
      return attrs[a] as T;
    },
    constValue(i: number) {
      const t = inputs[i];
      return t ? constantValue(t) : undefined;
    },
    fail(message: string): never {
      throw new InvalidArgumentError(`${type} op '${name}': ${message}`, name);
    },
  };
}
