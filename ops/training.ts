// Optimizer update ops (TF's training_ops): each updates a variable and its slot variables in place.
import { formatShape, mergeShapes, type Shape } from '../src/shape.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, FLOAT } from './util.js';

interface ApplyOpSpec {
  type: string;
  /** Input names in TF's order. */
  inputs: readonly string[];
  /** Indices of the variable and its slots (reference inputs). */
  refs: readonly number[];
  /** Indices of the scalar hyperparameter inputs. */
  scalars: readonly number[];
  /** Index of the gradient input. */
  grad: number;
  attrs: Record<string, 'type' | 'bool'>;
}

function applyShape(spec: ApplyOpSpec) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dtype = checkDType(ctx, 0, FLOAT, spec.inputs[0]);
    if (ctx.attr('T') !== dtype) ctx.fail(`attr T is ${String(ctx.attr('T'))} but ${spec.inputs[0]} is ${dtype}`);
    ctx.inputs.forEach((t, i) => {
      if (t.dtype !== dtype) ctx.fail(`${spec.inputs[i]} (${t.name}) has dtype ${t.dtype}, expected ${dtype} like ${spec.inputs[0]}`);
    });
    for (const i of spec.refs) {
      const t = ctx.inputs[i]!;
      if (t.op.type !== 'VariableV2') ctx.fail(`${spec.inputs[i]} must be a variable, got ${t.name} (${t.op.type})`);
    }
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

export const APPLY_OPS: readonly ApplyOpSpec[] = [
  {
    type: 'ApplyGradientDescent',
    inputs: ['var', 'alpha', 'delta'],
    refs: [0],
    scalars: [1],
    grad: 2,
    attrs: { T: 'type', use_locking: 'bool' },
  },
  {
    type: 'ApplyMomentum',
    inputs: ['var', 'accum', 'lr', 'grad', 'momentum'],
    refs: [0, 1],
    scalars: [2, 4],
    grad: 3,
    attrs: { T: 'type', use_locking: 'bool', use_nesterov: 'bool' },
  },
  {
    type: 'ApplyAdam',
    inputs: ['var', 'm', 'v', 'beta1_power', 'beta2_power', 'lr', 'beta1', 'beta2', 'epsilon', 'grad'],
    refs: [0, 1, 2],
    scalars: [3, 4, 5, 6, 7, 8],
    grad: 9,
    attrs: { T: 'type', use_locking: 'bool', use_nesterov: 'bool' },
  },
  {
    type: 'ApplyRMSProp',
    inputs: ['var', 'ms', 'mom', 'lr', 'rho', 'momentum', 'epsilon', 'grad'],
    refs: [0, 1, 2],
    scalars: [3, 4, 5, 6],
    grad: 7,
    attrs: { T: 'type', use_locking: 'bool' },
  },
  {
    type: 'ApplyCenteredRMSProp',
    inputs: ['var', 'mg', 'ms', 'mom', 'lr', 'rho', 'momentum', 'epsilon', 'grad'],
    refs: [0, 1, 2, 3],
    scalars: [4, 5, 6, 7],
    grad: 8,
    attrs: { T: 'type', use_locking: 'bool' },
  },
  {
    type: 'ApplyAdagrad',
    inputs: ['var', 'accum', 'lr', 'grad'],
    refs: [0, 1],
    scalars: [2],
    grad: 3,
    attrs: { T: 'type', use_locking: 'bool', update_slots: 'bool' },
  },
];

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
