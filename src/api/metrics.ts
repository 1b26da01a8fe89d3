// tf.metrics (TF 1.15's metrics_impl.py): streaming metrics. Each returns [value, updateOp]: the
// value reads the running totals held in local metric variables, the update op adds this batch to
// them (assign_add) and evaluates to the metric over everything seen so far. The variables are TF's
// metric_variable: zero-initialized, not trainable, in LOCAL_VARIABLES and METRIC_VARIABLES (not
// GLOBAL_VARIABLES), named after the metric's scope ('accuracy/total', 'auc/true_positives'), so
// tf.localVariablesInitializer() resets them.
import { convertToTensor, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { getDefaultGraph, GraphKeys, type Tensor } from '../graph.js';
import { Variable } from '../variables.js';
import { ValueError, variableScope } from '../variable_scope.js';
import { expandDims, gather, onesLike, reshape, slice, squeeze, unsortedSegmentSum, zeros } from './array.js';
import { constant } from './core.js';
import {
  add,
  cast,
  divide,
  equal,
  greater,
  log,
  logicalAnd,
  logicalNot,
  maximum,
  minimum,
  multiply,
  notEqual,
  reduceSum,
  subtract,
  where,
} from './math.js';

/** TF's GraphKeys.METRIC_VARIABLES: every metric variable (they are also in LOCAL_VARIABLES). */
export const METRIC_VARIABLES = GraphKeys.METRIC_VARIABLES;

/** Options every metric takes. */
export interface MetricOptions {
  /** Collections to add the value tensor to. */
  metricsCollections?: string[];
  /** Collections to add the update op to. */
  updatesCollections?: string[];
  /** The metric's variable scope (default: the metric's name, made unique). */
  name?: string;
}

export interface WeightedMetricOptions extends MetricOptions {
  /** Weights, of rank 0 or broadcastable to the values (TF's broadcast rules for metrics). */
  weights?: TensorLike;
}

/**
 * TF's metric_variable: a zero-initialized, non-trainable tf.Variable in LOCAL_VARIABLES and
 * METRIC_VARIABLES, named after the current name scope.
 */
export function metricVariable(shape: readonly number[], dtype: DType, name: string): Variable {
  return new Variable(() => zeros(shape, dtype), {
    name,
    dtype,
    trainable: false,
    collections: [GraphKeys.LOCAL_VARIABLES, METRIC_VARIABLES],
  });
}

function finish(value: Tensor, update: Tensor, opts: MetricOptions): [Tensor, Tensor] {
  const g = getDefaultGraph();
  for (const c of opts.metricsCollections ?? []) g.addToCollection(c, value);
  for (const c of opts.updatesCollections ?? []) g.addToCollection(c, update);
  return [value, update];
}

/** math_ops.div_no_nan: x / y, and 0 where y is 0. */
function divNoNan(x: Tensor, y: Tensor, name = 'div_no_nan'): Tensor {
  const zero = equal(y, 0);
  return where(zero, zerosLikeF(x), divide(x, where(zero, onesLike(y), y)), name);
}

function zerosLikeF(x: Tensor): Tensor {
  return multiply(x, 0);
}

function rankOf(t: Tensor): number | null {
  return t.shape === null ? null : t.shape.length;
}

function lastDimIs1(t: Tensor): boolean {
  const s = t.shape;
  if (s === null || s.length === 0) return false;
  const d = s[s.length - 1];
  return d === null || d === 1;
}

/** confusion_matrix.remove_squeezable_dimensions with static ranks (expected rank difference 0). */
function removeSqueezableLabels(labels: Tensor, predictions: Tensor): [Tensor, Tensor] {
  const lr = rankOf(labels);
  const pr = rankOf(predictions);
  if (lr === null || pr === null) return [labels, predictions];
  if (pr - lr === 1 && lastDimIs1(predictions)) predictions = squeeze(predictions, [-1]);
  else if (pr - lr === -1 && lastDimIs1(labels)) labels = squeeze(labels, [-1]);
  return [labels, predictions];
}

/** metrics_impl._remove_squeezable_dimensions (static ranks). */
function removeSqueezable(
  predictions: Tensor,
  labels: Tensor | null,
  weights: Tensor | null,
): [Tensor, Tensor | null, Tensor | null] {
  if (labels !== null) {
    [labels, predictions] = removeSqueezableLabels(labels, predictions);
    assertCompatible(predictions, labels);
  }
  if (weights === null) return [predictions, labels, null];
  const wr = rankOf(weights);
  const pr = rankOf(predictions);
  if (wr === 0 || wr === null || pr === null) return [predictions, labels, weights];
  if (wr - pr === 1) weights = squeeze(weights, [-1]);
  else if (pr - wr === 1) weights = expandDims(weights, -1);
  return [predictions, labels, weights];
}

function assertCompatible(a: Tensor, b: Tensor): void {
  const sa = a.shape;
  const sb = b.shape;
  if (sa === null || sb === null) return;
  const ok = sa.length === sb.length && sa.every((d, i) => d === null || sb[i] === null || d === sb[i]);
  if (!ok) throw new ValueError(`Shapes ${fmt(sa)} and ${fmt(sb)} are incompatible`);
}

function fmt(s: readonly (number | null)[]): string {
  return `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')}${s.length === 1 ? ',' : ''})`;
}

/** weights_broadcast_ops.broadcast_weights: weights times ones shaped like values (unless already equal). */
function broadcastWeights(weights: Tensor, values: Tensor): Tensor {
  const ws = weights.shape;
  const vs = values.shape;
  if (ws !== null && vs !== null && ws.length === vs.length && ws.every((d, i) => d !== null && d === vs[i])) return weights;
  return multiply(weights, onesLike(values));
}

function toTensor(x: TensorLike, name: string): Tensor {
  return convertToTensor(x, undefined, name);
}

// ---- mean / accuracy ----

/** tf.metrics.mean: the (weighted) mean of `values` over every batch; variables `total` and `count`. */
export function mean(values: TensorLike, opts: WeightedMetricOptions = {}): [Tensor, Tensor] {
  return variableScope(opts.name ?? null, { defaultName: 'mean' }, () => {
    let v = cast(toTensor(values, 'values'), 'float32');
    const total = metricVariable([], 'float32', 'total');
    const count = metricVariable([], 'float32', 'count');
    let numValues: Tensor;
    if (opts.weights === undefined) {
      numValues = cast(reduceSum(onesLike(v)), 'float32');
    } else {
      let w: Tensor | null;
      [v, , w] = removeSqueezable(v, null, toTensor(opts.weights, 'weights'));
      const bw = broadcastWeights(cast(w!, 'float32'), v);
      v = multiply(v, bw);
      numValues = reduceSum(bw);
    }
    const updateTotal = total.assignAdd(reduceSum(v));
    // TF adds the count under control_dependencies([values]); it orders nothing that matters (the
    // count does not read the values), and weir's pruning rejects a control input on a fed
    // placeholder (what `values` is when it needs no cast), so it is left out.
    const updateCount = count.assignAdd(numValues);
    const value = divNoNan(total.value(), maximum(count.value(), 0), 'value');
    const update = divNoNan(updateTotal, maximum(updateCount, 0), 'update_op');
    return finish(value, update, opts);
  });
}

/**
 * tf.metrics.accuracy: how often predictions equal labels (weighted), as mean() over the 0/1
 * correctness under the scope 'accuracy' (variables 'accuracy/total', 'accuracy/count').
 */
export function accuracy(labels: TensorLike, predictions: TensorLike, opts: WeightedMetricOptions = {}): [Tensor, Tensor] {
  let l: Tensor | null = toTensor(labels, 'labels');
  let p = toTensor(predictions, 'predictions');
  let w: Tensor | null = opts.weights === undefined ? null : toTensor(opts.weights, 'weights');
  [p, l, w] = removeSqueezable(p, l, w);
  if (l!.dtype !== p.dtype) p = cast(p, l!.dtype);
  const isCorrect = cast(equal(p, l!), 'float32');
  return mean(isCorrect, { ...opts, weights: w ?? undefined, name: opts.name ?? 'accuracy' });
}

// ---- counts, precision, recall ----

/** metrics_impl._count_condition: a 'count' variable summing the (weighted) true entries. */
function countCondition(values: Tensor, weights: Tensor | null, opts: MetricOptions): [Tensor, Tensor] {
  const count = metricVariable([], 'float32', 'count');
  let v = cast(values, 'float32');
  if (weights !== null) v = multiply(v, cast(weights, 'float32'));
  const value = count.value();
  const update = count.assignAdd(reduceSum(v));
  return finish(value, update, opts);
}

type Condition = (labels: Tensor, predictions: Tensor) => Tensor;

/** Labels and predictions as bool, with weights, after TF's squeeze of size-1 trailing dims. */
function boolInputs(labels: TensorLike, predictions: TensorLike, opts: WeightedMetricOptions): ReturnType<typeof removeSqueezable> {
  return removeSqueezable(
    cast(toTensor(predictions, 'predictions'), 'bool'),
    cast(toTensor(labels, 'labels'), 'bool'),
    opts.weights === undefined ? null : toTensor(opts.weights, 'weights'),
  );
}

function countMetric(
  defaultName: string,
  condition: Condition,
  labels: TensorLike,
  predictions: TensorLike,
  opts: WeightedMetricOptions,
): [Tensor, Tensor] {
  return variableScope(opts.name ?? null, { defaultName }, () => {
    const [p, l, w] = boolInputs(labels, predictions, opts);
    return countCondition(condition(l!, p), w, opts);
  });
}

const isTP: Condition = (l, p) => logicalAnd(equal(l, true), equal(p, true));
const isFP: Condition = (l, p) => logicalAnd(equal(l, false), equal(p, true));
const isFN: Condition = (l, p) => logicalAnd(equal(l, true), equal(p, false));

/** tf.metrics.true_positives: the (weighted) count of labels and predictions both true. */
export function truePositives(labels: TensorLike, predictions: TensorLike, opts: WeightedMetricOptions = {}): [Tensor, Tensor] {
  return countMetric('true_positives', isTP, labels, predictions, opts);
}
/** tf.metrics.false_positives: the (weighted) count of predictions true where labels are false. */
export function falsePositives(labels: TensorLike, predictions: TensorLike, opts: WeightedMetricOptions = {}): [Tensor, Tensor] {
  return countMetric('false_positives', isFP, labels, predictions, opts);
}
/** tf.metrics.false_negatives: the (weighted) count of predictions false where labels are true. */
export function falseNegatives(labels: TensorLike, predictions: TensorLike, opts: WeightedMetricOptions = {}): [Tensor, Tensor] {
  return countMetric('false_negatives', isFN, labels, predictions, opts);
}

/** tp / (tp + other), 0 where the sum is 0 (precision and recall in TF 1.15). */
function ratio(tp: Tensor, other: Tensor, name: string): Tensor {
  const sum = add(tp, other);
  return where(greater(sum, 0), divide(tp, sum), zerosLikeF(tp), name);
}

function ratioMetric(
  defaultName: string,
  otherName: 'false_positives' | 'false_negatives',
  labels: TensorLike,
  predictions: TensorLike,
  opts: WeightedMetricOptions,
): [Tensor, Tensor] {
  return variableScope(opts.name ?? null, { defaultName }, () => {
    const [p, l, w] = boolInputs(labels, predictions, opts);
    const inner = { weights: w ?? undefined };
    const [tp, tpUpdate] = truePositives(l!, p, inner);
    const [other, otherUpdate] =
      otherName === 'false_positives' ? falsePositives(l!, p, inner) : falseNegatives(l!, p, inner);
    return finish(ratio(tp, other, 'value'), ratio(tpUpdate, otherUpdate, 'update_op'), opts);
  });
}

/** tf.metrics.precision: tp / (tp + fp) over every batch (0 when nothing was predicted positive). */
export function precision(labels: TensorLike, predictions: TensorLike, opts: WeightedMetricOptions = {}): [Tensor, Tensor] {
  return ratioMetric('precision', 'false_positives', labels, predictions, opts);
}

/** tf.metrics.recall: tp / (tp + fn) over every batch (0 when no label was positive). */
export function recall(labels: TensorLike, predictions: TensorLike, opts: WeightedMetricOptions = {}): [Tensor, Tensor] {
  return ratioMetric('recall', 'false_negatives', labels, predictions, opts);
}

// ---- AUC ----

export interface AucOptions extends WeightedMetricOptions {
  /** Number of thresholds (default 200); ignored when `thresholds` is given. */
  numThresholds?: number;
  curve?: 'ROC' | 'PR';
  summationMethod?: 'trapezoidal' | 'careful_interpolation' | 'minoring' | 'majoring';
  /** Explicit thresholds in [0, 1]; 0 - 1e-7 and 1 + 1e-7 are added at the ends. */
  thresholds?: readonly number[];
}

/** TF's auc thresholds: 0 - kepsilon, (i + 1) / (n - 1) for i < n - 2, 1 + kepsilon (kepsilon 1e-7). */
export function aucThresholds(numThresholds = 200): number[] {
  const kepsilon = 1e-7;
  const inner = Array.from({ length: numThresholds - 2 }, (_, i) => ((i + 1) * 1.0) / (numThresholds - 1));
  return [0.0 - kepsilon, ...inner, 1.0 + kepsilon];
}

interface Confusion {
  tp: Tensor;
  fn: Tensor;
  tn: Tensor;
  fp: Tensor;
}

/**
 * metrics_impl._confusion_matrix_at_thresholds: per threshold t, the (weighted) counts of
 * prediction > t against the label, in variables true_positives, false_negatives, true_negatives,
 * false_positives of shape [numThresholds]. Returns the variables' values and their update ops.
 */
function confusionAtThresholds(
  labels: Tensor,
  predictions: Tensor,
  thresholds: readonly number[],
  weights: Tensor | null,
): [Confusion, Confusion] {
  let [p, l, w] = removeSqueezable(cast(predictions, 'float32'), cast(labels, 'bool'), weights);
  const n = thresholds.length;
  const preds = reshape(p, [1, -1]);
  const labs = reshape(l!, [1, -1]);
  const thresh = constant(Float32Array.from(thresholds), 'float32', [n, 1]);
  // [numThresholds, numPredictions] by broadcasting (TF tiles both to that shape; same values).
  const predIsPos = greater(preds, thresh);
  const predIsNeg = logicalNot(predIsPos);
  const labelIsPos = labs;
  const labelIsNeg = logicalNot(labelIsPos);
  const weightsRow = w === null ? null : reshape(broadcastWeights(cast(w, 'float32'), p), [1, -1]);
  const count = (varName: string, a: Tensor, b: Tensor): [Tensor, Tensor] => {
    const v = metricVariable([n], 'float32', varName);
    let is = cast(logicalAnd(a, b), 'float32');
    if (weightsRow !== null) is = multiply(is, weightsRow);
    return [v.value(), v.assignAdd(reduceSum(is, 1))];
  };
  const [tp, tpU] = count('true_positives', labelIsPos, predIsPos);
  const [fn, fnU] = count('false_negatives', labelIsPos, predIsNeg);
  const [tn, tnU] = count('true_negatives', labelIsNeg, predIsNeg);
  const [fp, fpU] = count('false_positives', labelIsNeg, predIsPos);
  return [
    { tp, fn, tn, fp },
    { tp: tpU, fn: fnU, tn: tnU, fp: fpU },
  ];
}

/**
 * tf.metrics.auc: the area under the ROC or PR curve, from confusion matrices at `numThresholds`
 * thresholds (variables true_positives, false_negatives, true_negatives, false_positives), summed
 * as TF sums it: recall = (tp + 1e-6) / (tp + fn + 1e-6), fp rate = fp / (fp + tn + 1e-6),
 * precision = (tp + 1e-6) / (tp + fp + 1e-6), and the Riemann sum over adjacent thresholds.
 * Predictions are expected in [0, 1] (TF asserts it; weir does not).
 */
export function auc(labels: TensorLike, predictions: TensorLike, opts: AucOptions = {}): [Tensor, Tensor] {
  const curve = opts.curve ?? 'ROC';
  const method = opts.summationMethod ?? 'trapezoidal';
  return variableScope(opts.name ?? null, { defaultName: 'auc' }, () => {
    if (curve !== 'ROC' && curve !== 'PR') throw new ValueError(`curve must be either ROC or PR, ${String(curve)} unknown`);
    if (!['trapezoidal', 'careful_interpolation', 'minoring', 'majoring'].includes(method)) {
      throw new ValueError(`Invalid summation_method: ${String(method)}`);
    }
    const kepsilon = 1e-7;
    let thresholds: number[];
    if (opts.thresholds !== undefined) {
      thresholds = [0.0 - kepsilon, ...opts.thresholds, 1.0 + kepsilon];
    } else {
      const n = opts.numThresholds ?? 200;
      if (!Number.isInteger(n) || n < 2) throw new ValueError(`num_thresholds must be an integer >= 2, got ${n}`);
      thresholds = aucThresholds(n);
    }
    const numThresholds = thresholds.length;
    const [values, updates] = confusionAtThresholds(
      toTensor(labels, 'labels'),
      toTensor(predictions, 'predictions'),
      thresholds,
      opts.weights === undefined ? null : toTensor(opts.weights, 'weights'),
    );
    const epsilon = 1.0e-6;
    const head = (x: Tensor) => slice(x, [0], [numThresholds - 1]);
    const tail = (x: Tensor) => slice(x, [1], [numThresholds - 1]);

    const interpolatePrAuc = (c: Confusion, name: string): Tensor => {
      const dtp = subtract(head(c.tp), tail(c.tp));
      const p = add(c.tp, c.fp);
      const precSlope = divNoNan(dtp, maximum(subtract(head(p), tail(p)), 0), 'prec_slope');
      const intercept = subtract(tail(c.tp), multiply(precSlope, tail(p)));
      const safePRatio = where(
        logicalAnd(greater(head(p), 0), greater(tail(p), 0)),
        divNoNan(head(p), maximum(tail(p), 0), 'recall_relative_ratio'),
        onesLike(tail(p)),
      );
      const increment = divNoNan(
        multiply(precSlope, add(dtp, multiply(intercept, log(safePRatio)))),
        maximum(add(tail(c.tp), tail(c.fn)), 0),
        'pr_auc_increment',
      );
      return reduceSum(increment, undefined, false, name);
    };

    const computeAuc = (c: Confusion, name: string): Tensor => {
      if (curve === 'PR' && method === 'careful_interpolation') return interpolatePrAuc(c, name);
      const rec = divide(add(c.tp, epsilon), add(add(c.tp, c.fn), epsilon));
      let x: Tensor;
      let y: Tensor;
      if (curve === 'ROC') {
        x = divide(c.fp, add(add(c.fp, c.tn), epsilon));
        y = rec;
      } else {
        x = rec;
        y = divide(add(c.tp, epsilon), add(add(c.tp, c.fp), epsilon));
      }
      const dx = subtract(head(x), tail(x));
      const height =
        method === 'minoring'
          ? minimum(head(y), tail(y))
          : method === 'majoring'
            ? maximum(head(y), tail(y))
            : divide(add(head(y), tail(y)), 2);
      return reduceSum(multiply(dx, height), undefined, false, name);
    };
    return finish(computeAuc(values, 'value'), computeAuc(updates, 'update_op'), opts);
  });
}

// ---- mean IoU ----

/**
 * tf.metrics.mean_iou: the mean over classes of intersection over union, from a streaming confusion
 * matrix `total_confusion_matrix` ([numClasses, numClasses], rows labels, columns predictions).
 * Classes never seen (union 0) are left out of the mean. As in TF, the update op is the updated
 * confusion matrix. (TF keeps the matrix in float64; weir has no float64 and keeps it in float32.)
 */
export function meanIou(
  labels: TensorLike,
  predictions: TensorLike,
  numClasses: number,
  opts: WeightedMetricOptions = {},
): [Tensor, Tensor] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new ValueError(`num_classes must be a positive integer, got ${numClasses}`);
  return variableScope(opts.name ?? null, { defaultName: 'mean_iou' }, () => {
    const p = toTensor(predictions, 'predictions');
    const l = toTensor(labels, 'labels');
    assertCompatible(p, l);
    const n = numClasses;
    const totalCm = metricVariable([n, n], 'float32', 'total_confusion_matrix');
    const pf = reshape(cast(p, 'int32'), [-1]);
    const lf = reshape(cast(l, 'int32'), [-1]);
    const values =
      opts.weights === undefined
        ? onesLike(pf, 'float32')
        : multiply(reshape(cast(toTensor(opts.weights, 'weights'), 'float32'), [-1]), onesLike(pf, 'float32'));
    const ids = add(multiply(lf, n), pf);
    const currentCm = reshape(unsortedSegmentSum(values, ids, n * n), [n, n]);
    const update = totalCm.assignAdd(currentCm);

    const cm = totalCm.value();
    const sumOverRow = reduceSum(cm, 0);
    const sumOverCol = reduceSum(cm, 1);
    const diag = gather(reshape(cm, [-1]), constant(Int32Array.from({ length: n }, (_, i) => i * (n + 1)), 'int32', [n]));
    let denominator = subtract(add(sumOverRow, sumOverCol), diag);
    const numValid = reduceSum(cast(notEqual(denominator, 0), 'float32'));
    denominator = where(greater(denominator, 0), denominator, onesLike(denominator));
    const iou = divide(diag, denominator);
    const value = where(greater(numValid, 0), divide(reduceSum(iou, undefined, false, 'mean_iou'), numValid), 0);
    return finish(value, update, opts);
  });
}
