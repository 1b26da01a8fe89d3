// Random op definitions. Stateful: each run draws new numbers from a per-session, per-op generator.
import type { DType } from '../src/core/dtypes.js';
import { formatShape, type Dim } from '../src/core/shape.js';
import { partialScalar, partialVector } from './array.js';
import { registerOp, type ShapeContext } from './registry.js';
import { checkDType } from './util.js';

function randomShape(ctx: ShapeContext): Dim[] | null {
  const t = ctx.inputs[0]!;
  checkDType(ctx, 0, ['int32', 'int64'], 'shape');
  if (t.rank !== null && t.rank !== 1) ctx.fail(`shape (${t.name}) must be a vector, got shape ${formatShape(t.shape)}`);
  const dims = partialVector(t);
  if (dims && dims.some((d) => d !== null && (!Number.isInteger(d) || d < 0))) {
    ctx.fail(`shape must have non-negative dims, got [${dims.map((d) => d ?? '?').join(',')}]`);
  }
  return dims;
}

for (const type of ['RandomStandardNormal', 'TruncatedNormal', 'RandomUniform']) {
  registerOp({
    type,
    inputs: ['shape'],
    attrs: { seed: 'int', seed2: 'int', dtype: 'type', T: 'type' },
    stateful: true,
    shape: (ctx) => {
      const dtype = ctx.attr<DType>('dtype');
      if (dtype !== 'float32') ctx.fail(`dtype must be float32, got ${dtype}`);
      return [{ dtype, shape: randomShape(ctx) }];
    },
    grad: null,
  });
}

registerOp({
  type: 'RandomUniformInt',
  inputs: ['shape', 'minval', 'maxval'],
  attrs: { seed: 'int', seed2: 'int', Tout: 'type', T: 'type' },
  stateful: true,
  shape: (ctx) => {
    const dtype = ctx.attr<DType>('Tout');
    if (dtype !== 'int32' && dtype !== 'int64') ctx.fail(`Tout must be int32 or int64, got ${dtype}`);
    const shape = randomShape(ctx);
    for (const [i, what] of [[1, 'minval'], [2, 'maxval']] as const) {
      const t = ctx.inputs[i]!;
      if (t.dtype !== dtype) ctx.fail(`${what} (${t.name}) is ${t.dtype}, expected ${dtype}`);
      if (t.rank !== null && t.rank !== 0) ctx.fail(`${what} must be a scalar, got shape ${formatShape(t.shape)}`);
    }
    const lo = partialScalar(ctx.inputs[1]!);
    const hi = partialScalar(ctx.inputs[2]!);
    if (lo !== null && hi !== null && lo >= hi) ctx.fail(`Need minval < maxval: ${lo} >= ${hi}`);
    return [{ dtype, shape }];
  },
  grad: null,
});

registerOp({
  type: 'Multinomial',
  inputs: ['logits', 'num_samples'],
  attrs: { seed: 'int', seed2: 'int', T: 'type', output_dtype: 'type' },
  stateful: true,
  shape: (ctx) => {
    const logits = ctx.inputs[0]!;
    const n = ctx.inputs[1]!;
    if (logits.dtype !== 'float32') ctx.fail(`logits (${logits.name}) must be float32, got ${logits.dtype}`);
    if (logits.rank !== null && logits.rank !== 2) ctx.fail(`logits should be a matrix, got shape ${formatShape(logits.shape)}`);
    if (n.dtype !== 'int32') ctx.fail(`num_samples (${n.name}) must be int32, got ${n.dtype}`);
    if (n.rank !== null && n.rank !== 0) ctx.fail(`num_samples should be a scalar, got shape ${formatShape(n.shape)}`);
    const dtype = ctx.attr<DType | undefined>('output_dtype') ?? 'int64';
    if (dtype !== 'int32' && dtype !== 'int64') ctx.fail(`output_dtype must be int32 or int64, got ${dtype}`);
    const samples = partialScalar(n);
    if (samples !== null && samples < 0) ctx.fail(`num_samples should be nonnegative, got ${samples}`);
    const classes = logits.shape?.[1] ?? null;
    if (classes === 0) ctx.fail('num_classes should be positive, got 0');
    return [{ dtype, shape: [logits.shape?.[0] ?? null, samples] }];
  },
  grad: null,
});
