/** tf.layers.batch_normalization (TF's non-fused formulas). */
import { reshape } from '../api/array.js';
import { batchNormalization as nnBatchNorm, moments } from '../api/nn_extra.js';
import { type TensorLike } from '../convert.js';
import { GraphKeys, type Operation, type Tensor } from '../graph.js';
import { onesInitializer, zerosInitializer, type Initializer } from '../initializers.js';
import type { Shape } from '../core/shape.js';
import type { Variable } from '../variables.js';
import { assignMovingAverage } from '../train/moving_averages.js';
import { ValueError, type Regularizer } from '../variable_scope.js';
import { Layer, type LayerOptions } from './base.js';
import { smartSelect, staticFlag, type TrainingFlag } from './core.js';

export interface BatchNormalizationOptions extends LayerOptions {
  /** The feature axis (or axes) normalized separately; default -1. */
  axis?: number | readonly number[];
  /** Decay of the moving averages (default 0.99). */
  momentum?: number;
  /** Added to the variance (default 1e-3). */
  epsilon?: number;
  /** Add the learned offset beta (default true). */
  center?: boolean;
  /** Multiply by the learned scale gamma (default true). */
  scale?: boolean;
  betaInitializer?: Initializer;
  gammaInitializer?: Initializer;
  movingMeanInitializer?: Initializer;
  movingVarianceInitializer?: Initializer;
  betaRegularizer?: Regularizer;
  gammaRegularizer?: Regularizer;
}

/**
 * Batch normalization. In training it normalizes with the batch's mean and variance and adds
 * update ops moving_x -= (moving_x - batch_x) * (1 - momentum) to UPDATE_OPS (run them with the train
 * op); in inference it uses the moving statistics. `training` may be a bool tensor, deciding per run.
 */
export class BatchNormalization extends Layer {
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  gamma: Variable | undefined;
  beta: Variable | undefined;
  movingMean: Variable | undefined;
  movingVariance: Variable | undefined;
  private axes: number[] = [];

  constructor(private readonly opts: BatchNormalizationOptions = {}) {
    super('batch_normalization', opts);
    this.momentum = opts.momentum ?? 0.99;
    this.epsilon = opts.epsilon ?? 1e-3;
    this.center = opts.center ?? true;
    this.scale = opts.scale ?? true;
  }

  protected build(inputShape: Shape): void {
    if (inputShape === null) throw new ValueError('Input has undefined rank: <unknown>');
    const ndims = inputShape.length;
    const raw = typeof this.opts.axis === 'number' || this.opts.axis === undefined ? [this.opts.axis ?? -1] : [...this.opts.axis];
    const axes = raw.map((a) => (a < 0 ? a + ndims : a));
    for (const a of axes) if (!Number.isInteger(a) || a < 0 || a >= ndims) throw new ValueError(`Invalid axis: ${a}`);
    if (new Set(axes).size !== axes.length) throw new ValueError(`Duplicate axis: [${axes.join(', ')}]`);
    for (const a of axes) {
      if (inputShape[a] === null) {
        throw new ValueError(`Input has undefined \`axis\` dimension. Input shape: [${inputShape.map((d) => d ?? 'None').join(', ')}]`);
      }
    }
    this.axes = axes;
    const paramShape =
      axes.length === 1 ? [inputShape[axes[0]!] as number] : inputShape.map((d, i) => (axes.includes(i) ? (d as number) : 1));
    if (this.scale) {
      this.gamma = this.addWeight('gamma', {
        shape: paramShape,
        initializer: this.opts.gammaInitializer ?? onesInitializer(),
        regularizer: this.opts.gammaRegularizer,
      });
    }
    if (this.center) {
      this.beta = this.addWeight('beta', {
        shape: paramShape,
        initializer: this.opts.betaInitializer ?? zerosInitializer(),
        regularizer: this.opts.betaRegularizer,
      });
    }
    this.movingMean = this.addWeight('moving_mean', {
      shape: paramShape,
      initializer: this.opts.movingMeanInitializer ?? zerosInitializer(),
      trainable: false,
    });
    this.movingVariance = this.addWeight('moving_variance', {
      shape: paramShape,
      initializer: this.opts.movingVarianceInitializer ?? onesInitializer(),
      trainable: false,
    });
  }

  protected call(inputs: Tensor, opts: { training?: TrainingFlag }): Tensor {
    const training = opts.training ?? false;
    const inShape = inputs.shape;
    if (inShape === null) throw new ValueError('Input has undefined rank: <unknown>');
    const ndims = inShape.length;
    const reductionAxes = Array.from({ length: ndims }, (_, i) => i).filter((i) => !this.axes.includes(i));
    const broadcastShape = inShape.map((d, i) => (i === this.axes[0] ? (d as number) : 1));
    const isLastAxisOnly = reductionAxes.length === ndims - 1 && reductionAxes.every((a, i) => a === i);
    const bcast = (v: Tensor | undefined): Tensor | undefined => {
      if (v === undefined) return undefined;
      if (v.rank !== ndims && !isLastAxisOnly) return reshape(v, broadcastShape);
      return v;
    };
    const movingMean = this.movingMean!;
    const movingVariance = this.movingVariance!;
    let mean: Tensor;
    let variance: Tensor;
    const updates: Tensor[] = [];
    if (staticFlag(training) === false) {
      mean = movingMean.value();
      variance = movingVariance.value();
    } else {
      const [batchMean, batchVariance] = moments(inputs, reductionAxes, { keepdims: this.axes.length > 1 });
      mean = smartSelect(training, () => batchMean, () => movingMean.value());
      variance = smartSelect(training, () => batchVariance, () => movingVariance.value());
      // When training is false at run time the selected statistics are the moving ones, so the update is zero.
      updates.push(
        assignMovingAverage(movingMean, mean, this.momentum, { zeroDebias: false }),
        assignMovingAverage(movingVariance, variance, this.momentum, { zeroDebias: false }),
      );
      for (const u of updates) this.addUpdate(u);
    }
    const out = nnBatchNorm(inputs, bcast(mean)!, bcast(variance)!, bcast(this.beta?.value()), bcast(this.gamma?.value()), this.epsilon);
    out.setShape(inShape);
    if (updates.length > 0) recordTrainingUse(this, out, updates);
    return out;
  }
}

export interface BatchNormalizationCallOptions extends BatchNormalizationOptions {
  /** Use the batch statistics and update the moving ones (true), the moving ones (false, default), or decide at run time. */
  training?: TrainingFlag;
}

export function batchNormalization(inputs: TensorLike, opts: BatchNormalizationCallOptions = {}): Tensor {
  const { training, ...rest } = opts;
  return new BatchNormalization(rest).apply(inputs, { training: training ?? false });
}

/** A batch-norm layer applied in training mode (or with a training tensor): its output and its update ops. */
interface TrainingUse {
  layer: BatchNormalization;
  output: Tensor;
  updates: Tensor[];
}

const TRAINING_USES_KEY = 'weir.batch_norm_training_uses';
const WARNED_KEY = 'weir.batch_norm_update_warned';

function recordTrainingUse(layer: BatchNormalization, output: Tensor, updates: Tensor[]): void {
  const g = output.graph;
  let uses = g.extras.get(TRAINING_USES_KEY) as TrainingUse[] | undefined;
  if (!uses) g.extras.set(TRAINING_USES_KEY, (uses = []));
  uses.push({ layer, output, updates });
}

/** The ops `roots` depend on, through data inputs and control inputs (the roots included). */
function ancestors(roots: readonly Operation[]): Set<Operation> {
  const seen = new Set<Operation>();
  const stack = [...roots];
  while (stack.length > 0) {
    const op = stack.pop()!;
    if (seen.has(op)) continue;
    seen.add(op);
    for (const t of op.inputs) stack.push(t.op);
    for (const c of op.controlInputs) stack.push(c);
  }
  return seen;
}

/**
 * TF1's commonest silent bug: a train op trains through a batch-norm layer in training mode whose
 * moving-average updates sit in UPDATE_OPS, but does not depend on them, so the moving statistics
 * never move and inference uses the initial ones. Warns (console.warn) once per layer.
 *
 * A layer counts when its output is among what `roots` (the loss, or the gradients applied) depend
 * on, and a variable the train op updates feeds it: a GAN's discriminator step, say, uses the
 * generator's batch norm but leaves its updates to the generator's step. Called by
 * Optimizer.applyGradients (roots: the gradients) and Optimizer.minimize (roots: the loss).
 */
export function warnUnrunBatchNormUpdates(roots: readonly Tensor[], trainOp: Operation, trained: readonly Variable[]): void {
  const g = trainOp.graph;
  const uses = g.extras.get(TRAINING_USES_KEY) as TrainingUse[] | undefined;
  if (!uses || uses.length === 0) return;
  let warned = g.extras.get(WARNED_KEY) as Set<BatchNormalization> | undefined;
  const pending = uses.filter((u) => !warned?.has(u.layer));
  if (pending.length === 0) return;
  const inUpdateOps = new Set(g.getCollection<unknown>(GraphKeys.UPDATE_OPS));
  const candidates = pending.filter((u) => u.updates.some((t) => inUpdateOps.has(t)));
  if (candidates.length === 0) return;
  const rootDeps = ancestors(roots.filter((t) => t.graph === g).map((t) => t.op));
  const trainedOps = new Set(trained.map((v) => v.op));
  const used = candidates.filter((u) => rootDeps.has(u.output.op) && [...ancestors([u.output.op])].some((op) => trainedOps.has(op)));
  if (used.length === 0) return;
  const trainDeps = ancestors([trainOp]);
  for (const u of used) {
    if (warned?.has(u.layer)) continue;
    const missing = u.updates.filter((t) => inUpdateOps.has(t) && !trainDeps.has(t.op));
    if (missing.length === 0) continue;
    if (!warned) g.extras.set(WARNED_KEY, (warned = new Set()));
    warned.add(u.layer);
    console.warn(
      `weir: the train op ${trainOp.name} trains through batch normalization layer '${u.layer.name}' in training mode, but it ` +
        `does not run the layer's moving-average updates (${missing.map((t) => t.op.name).join(', ')}), which are in ` +
        `tf.GraphKeys.UPDATE_OPS: the moving mean and variance will keep their initial values and inference (training false) ` +
        `will use them. Create the train op under tf.controlDependencies(tf.getCollection(tf.GraphKeys.UPDATE_OPS), () => ` +
        `optimizer.minimize(loss)) (or run the update ops yourself with it).`,
    );
  }
}
