import { InvalidArgumentError } from '../src/core/errors.js';
import type { AttrValue } from '../src/graph.js';
import { mergeShapes, type Shape } from '../src/core/shape.js';
import { getOpDef, knownOutput, type AbstractValue, type OutputSpec, type ShapeContext } from '../ops/registry.js';
import { ARG, type PlanGraph, type Value } from './ir.js';

/**
 * Shape specialization: re-runs every op's shape function with the shapes the fed values really
 * have (and with constants folded so far), so that, in a plan for concrete feeds, tensors get
 * concrete shapes. Shape functions see plain abstract values (their `known` rules give what is
 * known of each value: constants, shape vectors). A shape function that rejects the specialized
 * shapes leaves that op's shapes as they were: the kernel then reports the problem at run time, as
 * it would without this pass.
 */
export function specializeShapes(input: PlanGraph): PlanGraph {
  const g = input.clone();
  const abstract = new Map<Value, AbstractValue>();
  for (const n of g.nodes) {
    const def = n.type === ARG || n.program ? undefined : getOpDef(n.type);
    const inputs = n.inputs.map((v, i) => (v ? abstract.get(v)! : n.refTensors[i]!));
    let specs: OutputSpec[] = n.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape }));
    const ctx = def && inputs.every((t) => t !== undefined) ? shapeContext(n.type, n.name, inputs, n.attrs) : undefined;
    if (def && ctx) {
      try {
        const fresh = def.shape(ctx);
        if (fresh.length === specs.length && fresh.every((s, i) => s.dtype === specs[i]!.dtype)) {
          specs = specs.map((old, i) => ({ dtype: old.dtype, shape: mergeShapes(old.shape, fresh[i]!.shape) }));
        }
        n.shapeError = undefined;
      } catch {
        // Keep the graph's shapes for this op; passes leave it alone and its kernel reports the error.
        n.shapeError = true;
      }
    }
    n.outputs.forEach((o, i) => {
      const spec = specs[i]!;
      o.shape = cloneShape(spec.shape);
      const known = ctx && !n.shapeError ? knownOutput(ctx, i, spec) : undefined;
      abstract.set(o, {
        name: `${n.name}:${i}`,
        dtype: spec.dtype,
        shape: cloneShape(spec.shape),
        rank: spec.shape === null ? null : spec.shape.length,
        knownValue: known?.value,
        knownElements: known?.elements,
      });
    });
  }
  return g;
}

function cloneShape(s: Shape): Shape {
  return s === null ? null : [...s];
}

function shapeContext(type: string, name: string, inputs: readonly AbstractValue[], attrs: Readonly<Record<string, AttrValue>>): ShapeContext {
  return {
    opType: type,
    opName: name,
    inputs,
    attr<T>(a: string): T {
      if (!Object.hasOwn(attrs, a)) throw new InvalidArgumentError(`${type} op '${name}': missing attr '${a}'`, name);
      return attrs[a] as T;
    },
    constValue(i: number) {
      return inputs[i]?.knownValue;
    },
    fail(message: string): never {
      throw new InvalidArgumentError(`${type} op '${name}': ${message}`, name);
    },
  };
}
