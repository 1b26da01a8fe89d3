// Optimizer update ops (TF's training_ops): each updates a variable and its slot variables in place.
import { formatShape, mergeShapes, type Shape } from '../src/core/shape.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, FLOAT } from './util.js';
import { APPLY_OPS, type ApplyOpSpec } from './semantics/training.js';

function applyShape(spec: ApplyOpSpec) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dtype = checkDType(ctx, 0, FLOAT, spec.inputs[0]);
    if (ctx.attr('T') !== dtype) ctx.fail(`attr T is ${String(ctx.attr('T'))} but ${spec.inputs[0]} is ${dtype}`);
    ctx.inputs.forEach((t, i) => {
      if (t.dtype !== dtype) ctx.fail(`${spec.inputs[i]} (${t.name}) has dtype ${t.dtype}, expected ${dtype} like ${spec.inputs[0]}`);
    });
    for (const i of spec.scalars) {
      const s = ctx.inputs[i]!.shape;
      if (s !== null && s.length !== 0) ctx.fail(`${spec.inputs[i]} is not a scalar: ${formatShape(s)} (${ctx.inputs[i]!.name})`);
    }
    let shape: Shape = ctx.inputs[0]!.shape;
    for (const i of [...spec.refs.slice(1), spec.grad]) {
      const t = ctx.inputs[i]!;
      try {
        shape = mergeShapes(shape, t.shape);
      } catch {
        ctx.fail(
          `${spec.inputs[0]} and ${spec.inputs[i]} do not have the same shape: ${formatShape(ctx.inputs[0]!.shape)} (${ctx.inputs[0]!.name}) vs ${formatShape(t.shape)} (${t.name})`,
        );
      }
    }
    return [{ dtype, shape }];
  };
}

for (const spec of APPLY_OPS) {
  registerOp({
    type: spec.type,
    inputs: spec.inputs,
    attrs: spec.attrs,
    refInputs: spec.refs,
    stateful: true,
    shape: applyShape(spec),
    grad: null,
  });
}
