// Candidate sampler ops (TF's candidate_sampling_ops.cc): the negative classes of sampled losses
// (nce_loss, sampled_softmax_loss) and the accidental hits among them. Stateful random draws; not
// differentiable (TF registers NotDifferentiable for all of them).
import { formatShape } from '../src/core/shape.js';
import { registerOp, type ShapeContext } from './registry.js';
import { checkDType, withRank } from './util.js';

/** An int attr that must be at least `least` (TF's `int >= least`). */
function intAttr(ctx: ShapeContext, name: string, least: number): number {
  const v = Number(ctx.attr<number | bigint | undefined>(name));
  if (!Number.isInteger(v) || v < least) ctx.fail(`attr ${name} must be an integer >= ${least}, got ${ctx.attr(name)}`);
  return v;
}

/** TF's CandidateSamplerShapeFn: sampled [num_sampled], true_expected_count [batch, num_true], sampled_expected_count [num_sampled]. */
function candidateSamplerShape(ctx: ShapeContext) {
  const numTrue = intAttr(ctx, 'num_true', 1);
  const numSampled = intAttr(ctx, 'num_sampled', 1);
  const rangeMax = intAttr(ctx, 'range_max', 1);
  checkDType(ctx, 0, ['int64'], 'true_classes');
  const [batch, cols] = withRank(ctx, 0, 2, 'true_classes');
  if (cols !== null && cols !== undefined && cols !== numTrue) {
    ctx.fail(`true_classes must have num_true = ${numTrue} columns, got shape ${formatShape(ctx.inputs[0]!.shape)}`);
  }
  if (ctx.attr<boolean>('unique') && numSampled > rangeMax) {
    ctx.fail(`Sampler's range is too small: num_sampled ${numSampled} > range_max ${rangeMax} with unique=true`);
  }
  return [
    { dtype: 'int64' as const, shape: [numSampled] },
    { dtype: 'float32' as const, shape: [batch ?? null, numTrue] },
    { dtype: 'float32' as const, shape: [numSampled] },
  ];
}

for (const type of ['LogUniformCandidateSampler', 'UniformCandidateSampler']) {
  registerOp({
    type,
    inputs: ['true_classes'],
    attrs: { num_true: 'int', num_sampled: 'int', unique: 'bool', range_max: 'int', seed: 'int', seed2: 'int' },
    stateful: true,
    shape: candidateSamplerShape,
    grad: null,
  });
}

registerOp({
  type: 'ComputeAccidentalHits',
  inputs: ['true_classes', 'sampled_candidates'],
  attrs: { num_true: 'int', seed: 'int', seed2: 'int' },
  shape: (ctx) => {
    const numTrue = Number(ctx.attr<number | bigint>('num_true'));
    checkDType(ctx, 0, ['int64'], 'true_classes');
    checkDType(ctx, 1, ['int64'], 'sampled_candidates');
    const [, cols] = withRank(ctx, 0, 2, 'true_classes');
    withRank(ctx, 1, 1, 'sampled_candidates');
    if (cols !== null && cols !== undefined && cols !== numTrue) {
      ctx.fail(`true_classes must have num_true = ${numTrue} columns, got shape ${formatShape(ctx.inputs[0]!.shape)}`);
    }
    // One entry per hit: how many is known only from the values.
    return [
      { dtype: 'int32', shape: [null] },
      { dtype: 'int64', shape: [null] },
      { dtype: 'float32', shape: [null] },
    ];
  },
  grad: null,
});
