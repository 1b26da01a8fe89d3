// tf.losses (TF1's losses_impl.py and losses/util.py): weighted, reduced losses built from math ops,
// each added to a collection (GraphKeys.LOSSES by default), so their gradients follow from the ops'.
import { convertToTensor, isVariableLike, type TensorLike, graphOf } from '../convert.js';
import { NDArray } from '../core/ndarray.js';
import { formatShape, shapesCompatible, type Shape } from '../core/shape.js';
import { getDefaultGraph, GraphKeys, Tensor } from '../graph.js';
import { ValueError } from '../variable_scope.js';
import { onesLike, range, rank as rankOf, shape as shapeOf, size, squeeze, stridedSlice, zerosLike } from './array.js';
import { constant, stopGradient } from './core.js';
import {
  abs,
  add,
  addN,
  cast,
  divide,
  equal,
  greater,
  log,
  minimum,
  multiply,
  negative,
  reduceSum,
  squaredDifference,
  square,
  subtract,
  where,
} from './math.js';
import { relu, sigmoidCrossEntropyWithLogits, softmaxCrossEntropyWithLogitsV2, sparseSoftmaxCrossEntropyWithLogits } from './nn.js';

/** How a weighted loss is reduced (TF's tf.losses.Reduction, with TF's string values). */
export const Reduction = {
  /** Un-reduced weighted losses, shaped like the losses. */
  NONE: 'none',
  /** Sum of the weighted losses. */
  SUM: 'weighted_sum',
  /** Sum of the weighted losses over the number of elements of the losses. */
  SUM_OVER_BATCH_SIZE: 'weighted_sum_over_batch_size',
  /** Sum of the weighted losses over the sum of the weights (broadcast to the losses). */
  MEAN: 'weighted_mean',
  /** Sum of the weighted losses over the number of non-zero weights (broadcast to the losses). */
  SUM_BY_NONZERO_WEIGHTS: 'weighted_sum_by_nonzero_weights',
  /** Same as SUM_BY_NONZERO_WEIGHTS (TF's alias, with the same value). */
  SUM_OVER_NONZERO_WEIGHTS: 'weighted_sum_by_nonzero_weights',
  /** Every reduction key. */
  all(): ReductionKey[] {
    return ['none', 'weighted_sum', 'weighted_mean', 'weighted_sum_over_batch_size', 'weighted_sum_by_nonzero_weights'];
  },
  /** Throws a ValueError for a key that is not a reduction. */
  validate(key: string): void {
    if (!(Reduction.all() as string[]).includes(key)) throw new ValueError(`Invalid Reduction Key ${key}.`);
  },
} as const;

export type ReductionKey =
  | 'none'
  | 'weighted_sum'
  | 'weighted_sum_over_batch_size'
  | 'weighted_mean'
  | 'weighted_sum_by_nonzero_weights';

/** The keyword arguments every tf.losses function takes. */
export interface LossOptions {
  /** Coefficients: a scalar, or a tensor broadcastable to the losses (TF's rule: same rank, each dim 1 or equal). Default 1. */
  weights?: TensorLike;
  /** Name scope of the ops (default: the function's name). */
  scope?: string;
  /** Collection the loss is added to (default GraphKeys.LOSSES); null or '' adds it to none. */
  lossCollection?: string | null;
  /** Default Reduction.SUM_BY_NONZERO_WEIGHTS. */
  reduction?: ReductionKey;
}

const ASSERT_BROADCASTABLE_ERROR_PREFIX = 'weights can not be broadcast to values.';

/** TF's name_scope(scope, defaultName, values): a scope of undefined/null takes the default. */
function scoped<T>(values: readonly unknown[], scope: string | null | undefined, defaultName: string, fn: (scope: string) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(scope ?? defaultName, fn));
}

function toFloat(x: TensorLike, what: string): Tensor {
  return cast(convertToTensor(x, undefined, what, what), 'float32');
}

function checkCompatible(fn: string, a: Tensor, b: Tensor): void {
  if (!shapesCompatible(a.shape, b.shape)) {
    throw new ValueError(`${fn}: Shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} are incompatible`);
  }
}

/**
 * TF's weights_broadcast_ops.assert_broadcastable, static part: scalar weights always broadcast;
 * otherwise weights and values must have one rank and each weights dim must be 1 or the values
 * dim. Checked where the static shapes tell (TF checks the rest at run time; weir leaves those to
 * the Mul that applies the weights).
 */
function assertBroadcastable(weights: Tensor, values: Tensor): void {
  const ws = weights.shape;
  const vs = values.shape;
  if (ws === null || vs === null) return;
  if (ws.length === 0) return;
  if (ws.length !== vs.length) {
    throw new ValueError(
      `${ASSERT_BROADCASTABLE_ERROR_PREFIX} values.rank=${vs.length}. weights.rank=${ws.length}. values.shape=${formatShape(vs)}. weights.shape=${formatShape(ws)}.`,
    );
  }
  for (let i = 0; i < vs.length; i++) {
    const w = ws[i];
    const v = vs[i];
    if (w === null || w === undefined || v === null || v === undefined) continue;
    if (w !== 1 && w !== v) {
      throw new ValueError(
        `${ASSERT_BROADCASTABLE_ERROR_PREFIX} Mismatch at dim ${i}. values.shape=${formatShape(vs)} weights.shape=${formatShape(ws)}.`,
      );
    }
  }
}

function fullyDefined(s: Shape): s is number[] {
  return s !== null && s.every((d) => d !== null);
}

/** TF's broadcast_weights: weights times ones_like(values), unless their static shapes already match. */
function broadcastWeights(weights: Tensor, values: Tensor): Tensor {
  return weights.graph.nameScope('broadcast_weights', (scope) => {
    const ws = weights.shape;
    const vs = values.shape;
    if (fullyDefined(ws) && fullyDefined(vs) && shapesCompatible(ws, vs)) return weights;
    assertBroadcastable(weights, values);
    return multiply(weights, onesLike(values), scope);
  });
}

/** TF's math_ops.div_no_nan: x / y, and 0 where y is 0 (with finite gradients there). */
function divNoNan(x: Tensor, y: Tensor, name = 'div_no_nan'): Tensor {
  return x.graph.nameScope(name, (scope) => {
    const isZero = equal(y, 0);
    const q = divide(x, where(isZero, onesLike(y), y));
    return where(isZero, zerosLike(q), q, scope);
  });
}

/** TF's _safe_mean: sum(losses) / numPresent, 0 when numPresent is 0. */
function safeMean(losses: Tensor, numPresent: Tensor): Tensor {
  return divNoNan(reduceSum(losses), numPresent, 'value');
}

/** The number of elements of losses, in losses' dtype (TF's _num_elements). */
function numElements(losses: Tensor): Tensor {
  return losses.graph.nameScope('num_elements', (scope) => cast(size(losses, 'int32', scope), losses.dtype));
}

/**
 * TF's _num_present: the number of non-zero weights once broadcast to the losses' shape; with
 * perBatch, per example (summed over every dim but the first, keeping dims).
 */
function numPresent(losses: Tensor, weights: Tensor, perBatch = false): Tensor {
  return losses.graph.nameScope('num_present', (scope) => {
    const w = cast(weights, 'float32');
    let present = where(equal(w, 0), zerosLike(w), onesLike(w));
    present = broadcastWeights(present, losses);
    if (perBatch) {
      const r = present.rank;
      const axes = r !== null ? Array.from({ length: r - 1 }, (_, i) => i + 1) : range(1, rankOf(present));
      return reduceSum(present, axes, true, scope);
    }
    return reduceSum(present, undefined, false, scope);
  });
}

/** TF's tf.losses.add_loss: adds loss to the collection (LOSSES by default; none when the key is null or ''). */
export function addLoss(loss: Tensor, lossCollection: string | null = GraphKeys.LOSSES): void {
  if (lossCollection) loss.graph.addToCollection(lossCollection, loss);
}

/**
 * tf.losses.compute_weighted_loss: losses * weights, reduced as `reduction` says (default
 * SUM_BY_NONZERO_WEIGHTS), in the losses' dtype, and added to `lossCollection`.
 */
export function computeWeightedLoss(losses: TensorLike, opts: LossOptions = {}): Tensor {
  const reduction = opts.reduction ?? Reduction.SUM_BY_NONZERO_WEIGHTS;
  Reduction.validate(reduction);
  const weightsIn = opts.weights ?? 1.0;
  return scoped([losses, weightsIn], opts.scope, 'weighted_loss', () => {
    const lossesT = convertToTensor(losses, undefined, 'losses', 'losses');
    const weightsT = convertToTensor(weightsIn, undefined, 'weights', 'weights');
    assertBroadcastable(weightsT, lossesT);
    const inputDType = lossesT.dtype;
    const l = cast(lossesT, 'float32');
    const w = cast(weightsT, 'float32');
    const weighted = multiply(l, w);
    let loss: Tensor;
    if (reduction === Reduction.NONE) {
      loss = weighted;
    } else {
      loss = reduceSum(weighted);
      if (reduction === Reduction.MEAN) {
        loss = safeMean(loss, reduceSum(multiply(onesLike(l), w)));
      } else if (reduction === Reduction.SUM_BY_NONZERO_WEIGHTS) {
        loss = safeMean(loss, numPresent(l, w));
      } else if (reduction === Reduction.SUM_OVER_BATCH_SIZE) {
        loss = safeMean(loss, numElements(l));
      }
    }
    loss = cast(loss, inputDType);
    addLoss(loss, opts.lossCollection === undefined ? GraphKeys.LOSSES : opts.lossCollection);
    return loss;
  });
}

function requireDefined(fn: string, values: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(values)) if (v === undefined || v === null) throw new ValueError(`${fn}: ${k} must not be None.`);
}

/** The shared body of the elementwise regression losses: float32 labels and predictions of compatible shapes. */
function regressionLoss(
  fn: string,
  defaultName: string,
  labels: TensorLike,
  predictions: TensorLike,
  opts: LossOptions,
  body: (labels: Tensor, predictions: Tensor) => Tensor,
): Tensor {
  requireDefined(fn, { labels, predictions });
  const weights = opts.weights ?? 1.0;
  return scoped([predictions, labels, weights], opts.scope, defaultName, (scope) => {
    const p = toFloat(predictions, 'predictions');
    const l = toFloat(labels, 'labels');
    checkCompatible(fn, p, l);
    const losses = body(l, p);
    return computeWeightedLoss(losses, { ...opts, weights, scope });
  });
}

/** tf.losses.mean_squared_error: weighted (predictions - labels)^2. */
export function meanSquaredError(labels: TensorLike, predictions: TensorLike, opts: LossOptions = {}): Tensor {
  return regressionLoss('tf.losses.meanSquaredError', 'mean_squared_error', labels, predictions, opts, (l, p) => squaredDifference(p, l));
}

/** tf.losses.absolute_difference: weighted |predictions - labels|. */
export function absoluteDifference(labels: TensorLike, predictions: TensorLike, opts: LossOptions = {}): Tensor {
  return regressionLoss('tf.losses.absoluteDifference', 'absolute_difference', labels, predictions, opts, (l, p) => abs(subtract(p, l)));
}

export interface HuberLossOptions extends LossOptions {
  /** Where the loss turns from quadratic to linear (default 1). */
  delta?: number;
}

/** tf.losses.huber_loss: 0.5 * x^2 for |x| <= delta, else 0.5 * delta^2 + delta * (|x| - delta), x = predictions - labels. */
export function huberLoss(labels: TensorLike, predictions: TensorLike, opts: HuberLossOptions = {}): Tensor {
  const delta = opts.delta ?? 1.0;
  return regressionLoss('tf.losses.huberLoss', 'huber_loss', labels, predictions, opts, (l, p) => {
    const absError = abs(subtract(p, l));
    const quadratic = minimum(absError, delta);
    const linear = subtract(absError, quadratic);
    return add(multiply(convertToTensor(0.5, quadratic.dtype), multiply(quadratic, quadratic)), multiply(delta, linear));
  });
}

export interface LogLossOptions extends LossOptions {
  /** Added inside the logs (default 1e-7). */
  epsilon?: number;
}

/** tf.losses.log_loss: -labels * log(predictions + eps) - (1 - labels) * log(1 - predictions + eps). */
export function logLoss(labels: TensorLike, predictions: TensorLike, opts: LogLossOptions = {}): Tensor {
  const epsilon = opts.epsilon ?? 1e-7;
  return regressionLoss('tf.losses.logLoss', 'log_loss', labels, predictions, opts, (l, p) =>
    subtract(
      negative(multiply(l, log(add(p, epsilon)))),
      multiply(subtract(1, l), log(add(subtract(1, p), epsilon))),
    ),
  );
}

/** tf.losses.hinge_loss: labels in {0, 1} become -1/1; weighted relu(1 - labels * logits). */
export function hingeLoss(labels: TensorLike, logits: TensorLike, opts: LossOptions = {}): Tensor {
  requireDefined('tf.losses.hingeLoss', { labels, logits });
  const weights = opts.weights ?? 1.0;
  return scoped([logits, labels, weights], opts.scope, 'hinge_loss', (scope) => {
    const x = toFloat(logits, 'logits');
    let l = toFloat(labels, 'labels');
    checkCompatible('tf.losses.hingeLoss', x, l);
    const allOnes = onesLike(l);
    l = subtract(multiply(2, l), allOnes);
    const losses = relu(subtract(allOnes, multiply(l, x)));
    return computeWeightedLoss(losses, { ...opts, weights, scope });
  });
}

export interface CosineDistanceOptions extends LossOptions {
  /** The dimension along which the (unit-normalized) vectors lie. Required. */
  axis?: number;
  /** Deprecated name of axis. */
  dim?: number;
}

/**
 * tf.losses.cosine_distance: 1 - sum(labels * predictions, axis, keepdims), for labels and
 * predictions already unit-normalized along axis.
 */
export function cosineDistance(labels: TensorLike, predictions: TensorLike, opts: CosineDistanceOptions = {}): Tensor {
  if (opts.axis !== undefined && opts.dim !== undefined) throw new ValueError("Cannot specify both 'axis' and 'dim'");
  const axis = opts.axis ?? opts.dim;
  if (axis === undefined || axis === null) throw new ValueError("You must specify 'axis'.");
  requireDefined('tf.losses.cosineDistance', { labels, predictions });
  const weights = opts.weights ?? 1.0;
  return scoped([predictions, labels, weights], opts.scope, 'cosine_distance_loss', (scope) => {
    const p = toFloat(predictions, 'predictions');
    const l = toFloat(labels, 'labels');
    checkCompatible('tf.losses.cosineDistance', p, l);
    const losses = subtract(1, reduceSum(multiply(p, l), [axis], true));
    return computeWeightedLoss(losses, { ...opts, weights, scope });
  });
}

export interface LabelSmoothingOptions extends LossOptions {
  /** Default 0: no smoothing. */
  labelSmoothing?: number;
}

/**
 * tf.losses.sigmoid_cross_entropy: weighted tf.nn.sigmoid_cross_entropy_with_logits; with
 * labelSmoothing s, labels become labels * (1 - s) + 0.5 * s.
 */
export function sigmoidCrossEntropy(multiClassLabels: TensorLike, logits: TensorLike, opts: LabelSmoothingOptions = {}): Tensor {
  requireDefined('tf.losses.sigmoidCrossEntropy', { multiClassLabels, logits });
  const weights = opts.weights ?? 1.0;
  const smoothing = opts.labelSmoothing ?? 0;
  return scoped([logits, multiClassLabels, weights], opts.scope, 'sigmoid_cross_entropy_loss', (scope) => {
    const x = convertToTensor(logits, undefined, 'logits', 'logits');
    let labels = cast(convertToTensor(multiClassLabels, undefined, 'multi_class_labels', 'multiClassLabels'), x.dtype);
    checkCompatible('tf.losses.sigmoidCrossEntropy', x, labels);
    if (smoothing > 0) labels = add(multiply(labels, 1 - smoothing), 0.5 * smoothing);
    const losses = sigmoidCrossEntropyWithLogits({ labels, logits: x, name: 'xentropy' });
    return computeWeightedLoss(losses, { ...opts, weights, scope });
  });
}

/**
 * tf.losses.softmax_cross_entropy: weighted tf.nn.softmax_cross_entropy_with_logits_v2 over the last
 * axis, with no gradient into the labels; with labelSmoothing s, labels become
 * labels * (1 - s) + s / numClasses. Weights apply per example ([batch]) or as a scalar.
 */
export function softmaxCrossEntropy(onehotLabels: TensorLike, logits: TensorLike, opts: LabelSmoothingOptions = {}): Tensor {
  requireDefined('tf.losses.softmaxCrossEntropy', { onehotLabels, logits });
  const weights = opts.weights ?? 1.0;
  const smoothing = opts.labelSmoothing ?? 0;
  return scoped([logits, onehotLabels, weights], opts.scope, 'softmax_cross_entropy_loss', (scope) => {
    const x = convertToTensor(logits, undefined, 'logits', 'logits');
    let labels = cast(convertToTensor(onehotLabels, undefined, 'onehot_labels', 'onehotLabels'), x.dtype);
    checkCompatible('tf.losses.softmaxCrossEntropy', x, labels);
    if (smoothing > 0) {
      const s = labels.shape;
      const last = s !== null && s.length > 0 ? s[s.length - 1] : null;
      const numClasses =
        last !== null && last !== undefined
          ? constant(last, x.dtype)
          : cast(stridedSlice(shapeOf(labels), [-1], [0], [1], { shrinkAxisMask: 1, endMask: 1 }), x.dtype);
      const smoothNegatives = divide(smoothing, numClasses);
      labels = add(multiply(labels, 1 - smoothing), smoothNegatives);
    }
    labels = stopGradient(labels, 'labels_stop_gradient');
    const losses = softmaxCrossEntropyWithLogitsV2({ labels, logits: x, name: 'xentropy' });
    return computeWeightedLoss(losses, { ...opts, weights, scope });
  });
}

function isPlainJs(v: TensorLike): boolean {
  return !(v instanceof Tensor) && !isVariableLike(v) && !ArrayBuffer.isView(v) && !(v instanceof NDArray);
}

/**
 * TF's _remove_squeezable_dimensions (static ranks, expected rank difference 1): labels of logits'
 * rank lose a trailing dim of 1 (logits two ranks above the labels lose theirs), and then weights
 * one rank above the labels lose their last dim.
 */
function removeSqueezableDimensions(labels: Tensor, logits: Tensor, weights: Tensor): [Tensor, Tensor, Tensor] {
  const ls = labels.shape;
  const xs = logits.shape;
  if (ls !== null && xs !== null) {
    const diff = xs.length - ls.length;
    const compatibleWith1 = (s: readonly (number | null)[]): boolean => s.length > 0 && (s[s.length - 1] === null || s[s.length - 1] === 1);
    if (diff === 2 && compatibleWith1(xs)) logits = squeeze(logits, [-1]);
    else if (diff === 0 && compatibleWith1(ls)) labels = squeeze(labels, [-1]);
  }
  const lr = labels.rank;
  const wr = weights.rank;
  if (lr !== null && wr !== null && wr - lr === 1) weights = squeeze(weights, [-1]);
  return [labels, logits, weights];
}

/**
 * tf.losses.sparse_softmax_cross_entropy: weighted tf.nn.sparse_softmax_cross_entropy_with_logits.
 * Labels of shape [batch, 1] and weights of shape [batch, 1] are squeezed to [batch] first, as TF.
 */
export function sparseSoftmaxCrossEntropy(labels: TensorLike, logits: TensorLike, opts: LossOptions = {}): Tensor {
  requireDefined('tf.losses.sparseSoftmaxCrossEntropy', { labels, logits });
  const weightsIn = opts.weights ?? 1.0;
  return scoped([logits, labels, weightsIn], opts.scope, 'sparse_softmax_cross_entropy_loss', (scope) => {
    const x = convertToTensor(logits, undefined, 'logits', 'logits');
    const l0 = convertToTensor(labels, isPlainJs(labels) ? 'int32' : undefined, 'labels', 'labels');
    const [l, xs, weights] = removeSqueezableDimensions(l0, x, convertToTensor(weightsIn, undefined, 'weights', 'weights'));
    const losses = sparseSoftmaxCrossEntropyWithLogits({ labels: l, logits: xs, name: 'xentropy' });
    return computeWeightedLoss(losses, { ...opts, weights, scope });
  });
}

export type PairwiseLossOptions = Omit<LossOptions, 'reduction'>;

/**
 * tf.losses.mean_pairwise_squared_error: per example, the mean over pairs of elements (i, j) of
 * ((p_i - p_j) - (l_i - l_j))^2, counting only elements with non-zero weights, times the weights
 * and summed (there is no reduction option). 0 when no weight is non-zero.
 */
export function meanPairwiseSquaredError(labels: TensorLike, predictions: TensorLike, opts: PairwiseLossOptions = {}): Tensor {
  requireDefined('tf.losses.meanPairwiseSquaredError', { labels, predictions });
  const weightsIn = opts.weights ?? 1.0;
  return scoped([predictions, labels, weightsIn], opts.scope, 'mean_pairwise_squared_error', () => {
    const weights = toFloat(weightsIn, 'weights');
    const l = toFloat(labels, 'labels');
    assertBroadcastable(weights, l);
    const p = toFloat(predictions, 'predictions');
    checkCompatible('tf.losses.meanPairwiseSquaredError', p, l);
    const diffs = subtract(p, l);
    const r = diffs.rank;
    const axis = r !== null ? Array.from({ length: r - 1 }, (_, i) => i + 1) : range(1, rankOf(diffs));
    const sumSquaresDiffPerBatch = reduceSum(square(diffs), axis, true);
    const numPresentPerBatch = numPresent(diffs, weights, true);
    const term1 = multiply(2, divNoNan(sumSquaresDiffPerBatch, subtract(numPresentPerBatch, 1), 'value'));
    const sumDiff = reduceSum(diffs, axis, true);
    const term2 = multiply(
      2,
      divNoNan(square(sumDiff), multiply(numPresentPerBatch, subtract(numPresentPerBatch, 1)), 'value'),
    );
    const weightedLosses = multiply(subtract(term1, term2), weights);
    const loss = reduceSum(weightedLosses);
    const meanLoss = where(greater(reduceSum(numPresentPerBatch), 0), loss, zerosLike(loss), 'value');
    addLoss(meanLoss, opts.lossCollection === undefined ? GraphKeys.LOSSES : opts.lossCollection);
    return meanLoss;
  });
}

// ---- the collections ----

/** tf.losses.get_losses: the losses in a collection (LOSSES by default), optionally under a name scope. */
export function getLosses(scope?: string, lossCollection: string = GraphKeys.LOSSES): Tensor[] {
  return getDefaultGraph().getCollection<Tensor>(lossCollection, scope);
}

/** tf.losses.get_regularization_losses: the REGULARIZATION_LOSSES collection, optionally under a scope. */
export function getRegularizationLosses(scope?: string): Tensor[] {
  return getDefaultGraph().getCollection<Tensor>(GraphKeys.REGULARIZATION_LOSSES, scope);
}

/** tf.losses.get_regularization_loss: the sum of the regularization losses (AddN), or a constant 0. */
export function getRegularizationLoss(scope?: string, name = 'total_regularization_loss'): Tensor {
  const losses = getRegularizationLosses(scope);
  if (losses.length > 0) return addN(losses, name);
  return constant(0.0);
}

export interface GetTotalLossOptions {
  /** Add the REGULARIZATION_LOSSES too (default true). */
  addRegularizationLosses?: boolean;
  /** Default 'total_loss'. */
  name?: string;
  scope?: string;
}

/** tf.losses.get_total_loss: the sum of the LOSSES collection and, by default, the regularization losses. */
export function getTotalLoss(opts: GetTotalLossOptions = {}): Tensor {
  const losses = [...getLosses(opts.scope)];
  if (opts.addRegularizationLosses ?? true) losses.push(...getRegularizationLosses(opts.scope));
  if (losses.length === 0) throw new ValueError('tf.losses.getTotalLoss: there are no losses (AddN needs a non-empty list of tensors)');
  return addN(losses, opts.name ?? 'total_loss');
}
