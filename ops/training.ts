// Optimizer update ops (TF's training_ops): each updates a variable and its slot variables in place.
import { formatShape, mergeShapes, type Shape } from '../src/core/shape.js';
import { registerOp, type AbstractValue, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, FLOAT } from './util.js';
import { APPLY_OPS, SCATTER_OPS, SPARSE_APPLY_OPS, type ApplyOpSpec, type SparseApplyOpSpec } from './semantics/training.js';

const INDEX = ['int32', 'int64'] as const;

function applyShape(spec: ApplyOpSpec | SparseApplyOpSpec) {
  const indices = 'indices' in spec ? spec.indices : -1;
  return (ctx: ShapeContext): OutputSpec[] => {
    const dtype = checkDType(ctx, 0, FLOAT, spec.inputs[0]);
    if (ctx.attr('T') !== dtype) ctx.fail(`attr T is ${String(ctx.attr('T'))} but ${spec.inputs[0]} is ${dtype}`);
    ctx.inputs.forEach((t, i) => {
      if (i !== indices && t.dtype !== dtype) ctx.fail(`${spec.inputs[i]} (${t.name}) has dtype ${t.dtype}, expected ${dtype} like ${spec.inputs[0]}`);
    });
    if (indices >= 0) {
      checkDType(ctx, indices, INDEX, 'indices');
      return [{ dtype, shape: sparseRowsShape(ctx, spec.refs, indices, spec.grad, 'grad') }];
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

/**
 * The variable's shape for an op that updates rows of it (and of same-shaped slots): `rows` holds
 * one row per index (indices a vector, rows [n, ...variable.shape[1:]]).
 */
function sparseRowsShape(ctx: ShapeContext, refs: readonly number[], indicesAt: number, rowsAt: number, what: string): Shape {
  let shape: Shape = ctx.inputs[refs[0]!]!.shape;
  for (const i of refs.slice(1)) {
    try {
      shape = mergeShapes(shape, ctx.inputs[i]!.shape);
    } catch {
      ctx.fail(`the variable and ${ctx.inputs[i]!.name} do not have the same shape: ${formatShape(shape)} vs ${formatShape(ctx.inputs[i]!.shape)}`);
    }
  }
  const idx = ctx.inputs[indicesAt]!;
  const rows = ctx.inputs[rowsAt]!;
  if (idx.rank !== null && idx.rank !== 1) ctx.fail(`indices (${idx.name}) must be a vector, got ${formatShape(idx.shape)}`);
  if (shape !== null && shape.length === 0) ctx.fail('the variable must be at least 1-dimensional');
  if (rows.shape !== null && shape !== null) {
    const want = [idx.shape?.[0] ?? null, ...shape.slice(1)];
    try {
      mergeShapes(want, rows.shape);
    } catch {
      ctx.fail(`${what} (${rows.name}) must have shape ${formatShape(want)} (one row per index), got ${formatShape(rows.shape)}`);
    }
  }
  return shape;
}

for (const spec of SPARSE_APPLY_OPS) {
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

// TF's scatter ops on a variable (state_ops.scatter_update / scatter_add / ...): indices of any
// shape, updates of shape indices.shape + ref.shape[1:] (or a scalar for every row).
for (const type of Object.keys(SCATTER_OPS)) {
  registerOp({
    type,
    inputs: ['ref', 'indices', 'updates'],
    attrs: { T: 'type', Tindices: 'type', use_locking: 'bool' },
    refInputs: [0],
    stateful: true,
    shape: (ctx) => {
      const [ref, idx, upd] = ctx.inputs as [AbstractValue, AbstractValue, AbstractValue];
      checkDType(ctx, 1, INDEX, 'indices');
      if (upd.dtype !== ref.dtype) ctx.fail(`updates (${upd.name}) is ${upd.dtype} but the variable ${ref.name} is ${ref.dtype}`);
      if (ref.rank === 0) ctx.fail('the variable must be at least 1-dimensional');
      if (upd.rank !== 0 && ref.shape !== null && idx.shape !== null && upd.shape !== null) {
        const want = [...idx.shape, ...ref.shape.slice(1)];
        try {
          mergeShapes(want, upd.shape);
        } catch {
          ctx.fail(`updates (${upd.name}) must have shape indices.shape + ref.shape[1:] = ${formatShape(want)}, got ${formatShape(upd.shape)}`);
        }
      }
      return [{ dtype: ref.dtype, shape: ref.shape }];
    },
    grad: null,
  });
}
