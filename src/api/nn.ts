// tf.nn: activations, softmax, bias add and the cross-entropy / L2 losses.
import { convertSameDType, convertToTensor, isVariableLike, type TensorLike, graphOf as graphOfValues } from '../convert.js';
import { isInteger } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { type Graph, Tensor } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import { formatShape, mergeShapes, shapesCompatible, type Shape } from '../core/shape.js';
import { concat, reshape, shape as shapeOf, stridedSlice, transpose, zerosLike } from './array.js';
import { stopGradient } from './core.js';
import { add, cast, exp, greaterEqual, log1p, multiply, negative, subtract, where } from './math.js';

export { sigmoid, tanh } from './math.js';

function graphOf(...values: unknown[]): Graph {
  return graphOfValues(values);
}

/** Runs fn inside `graph.asDefault` and TF's name_scope(name, defaultName); fn gets the scope ('x/'). */
function scoped<T>(values: unknown[], name: string | undefined, defaultName: string, fn: (scope: string) => T): T {
  const g = graphOf(...values);
  return g.asDefault(() => g.nameScope(name ?? defaultName, fn));
}

function unaryOp(type: string, features: TensorLike, name: string, attrs: Record<string, number> = {}): Tensor {
  const g = graphOf(features);
  return g.asDefault(() => {
    const t = convertToTensor(features, undefined, 'features', 'features');
    return g.createOp(type, [t], { T: t.dtype, ...attrs }, { name }).outputs[0]!;
  });
}

// ---- activations ----

/** max(features, 0). */
export function relu(features: TensorLike, name = 'Relu'): Tensor {
  return unaryOp('Relu', features, name);
}

/** min(max(features, 0), 6). */
export function relu6(features: TensorLike, name = 'Relu6'): Tensor {
  return unaryOp('Relu6', features, name);
}

/** exp(features) - 1 where features < 0, else features. */
export function elu(features: TensorLike, name = 'Elu'): Tensor {
  return unaryOp('Elu', features, name);
}

/** scale * elu-like(features) with SELU's fixed alpha and scale (Klambauer et al., 2017). */
export function selu(features: TensorLike, name = 'Selu'): Tensor {
  return unaryOp('Selu', features, name);
}

/** features where positive, else alpha * features. Integer features are cast to float32, as in TF. */
export function leakyRelu(features: TensorLike, alpha = 0.2, name = 'LeakyRelu'): Tensor {
  const g = graphOf(features);
  return g.asDefault(() =>
    g.nameScope(name, (scope) => {
      let t = convertToTensor(features, undefined, 'features', 'features');
      if (isInteger(t.dtype)) t = cast(t, 'float32');
      return g.createOp('LeakyRelu', [t], { T: t.dtype, alpha }, { name: scope }).outputs[0]!;
    }),
  );
}

/** log(exp(features) + 1). */
export function softplus(features: TensorLike, name = 'Softplus'): Tensor {
  return unaryOp('Softplus', features, name);
}

/** features / (abs(features) + 1). */
export function softsign(features: TensorLike, name = 'Softsign'): Tensor {
  return unaryOp('Softsign', features, name);
}

// ---- softmax ----

/**
 * TF's _softmax: the op works on the last axis; for another axis, that axis is swapped with the
 * last one, the op applied, and the result swapped back (the static rank must be known then).
 */
function softmaxOn(type: 'Softmax' | 'LogSoftmax', fnName: string, logits: TensorLike, axis: number, name: string | undefined): Tensor {
  const g = graphOf(logits);
  return g.asDefault(() => {
    const t = convertToTensor(logits, undefined, 'logits', 'logits');
    const rank = t.rank;
    if (axis === -1 || (rank !== null && axis === rank - 1)) {
      return g.createOp(type, [t], { T: t.dtype }, { name: name ?? type }).outputs[0]!;
    }
    if (rank === null) {
      throw new InvalidArgumentError(`tf.nn.${fnName}: axis ${axis} needs logits of known rank (${t.name} has unknown rank)`);
    }
    if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
      throw new InvalidArgumentError(
        `tf.nn.${fnName}: Dimension (${axis}) must be in the range [${-rank}, ${rank}) where ${rank} is the number of dimensions in the input.`,
      );
    }
    const d = axis < 0 ? axis + rank : axis;
    const perm = Array.from({ length: rank }, (_, i) => (i === d ? rank - 1 : i === rank - 1 ? d : i));
    const swapped = transpose(t, perm);
    const y = g.createOp(type, [swapped], { T: t.dtype }, { name: type }).outputs[0]!;
    const out = transpose(y, perm, name ?? 'transpose');
    out.setShape(t.shape);
    return out;
  });
}

/** exp(logits) / sum(exp(logits), axis), computed stably. */
export function softmax(logits: TensorLike, axis = -1, name?: string): Tensor {
  return softmaxOn('Softmax', 'softmax', logits, axis, name);
}

/** logits - log(sum(exp(logits), axis)), computed stably. */
export function logSoftmax(logits: TensorLike, axis = -1, name?: string): Tensor {
  return softmaxOn('LogSoftmax', 'logSoftmax', logits, axis, name);
}

// ---- bias ----

export interface BiasAddOptions {
  /** 'NHWC' (default; bias on the last dim) or 'NCHW' (bias on dim 1); 'N...C' / 'NC...' spellings are accepted as TF does. */
  dataFormat?: string;
  name?: string;
}

/** value + bias, with bias broadcast along the channel dimension of dataFormat. */
export function biasAdd(value: TensorLike, bias: TensorLike, opts: BiasAddOptions = {}): Tensor {
  let format = opts.dataFormat ?? 'NHWC';
  if (format.startsWith('NC')) format = 'NCHW';
  else if (format.startsWith('N') && format.endsWith('C')) format = 'NHWC';
  else throw new InvalidArgumentError(`tf.nn.biasAdd: unsupported dataFormat '${opts.dataFormat}' (expected 'NHWC' or 'NCHW')`);
  const g = graphOf(value, bias);
  return g.asDefault(() =>
    g.nameScope(opts.name ?? 'BiasAdd', (scope) => {
      const v = convertToTensor(value, undefined, 'input', 'value');
      const b = convertToTensor(bias, v.dtype, 'bias', 'bias');
      return g.createOp('BiasAdd', [v, b], { T: v.dtype, data_format: format }, { name: scope }).outputs[0]!;
    }),
  );
}

// ---- losses ----

/** sum(t ** 2) / 2, a scalar. */
export function l2Loss(t: TensorLike, name = 'L2Loss'): Tensor {
  const g = graphOf(t);
  return g.asDefault(() => {
    const x = convertToTensor(t, undefined, 't', 't');
    return g.createOp('L2Loss', [x], { T: x.dtype }, { name }).outputs[0]!;
  });
}

export interface SoftmaxCrossEntropyArgs {
  /** A probability distribution per example (same shape as logits). */
  labels: TensorLike;
  logits: TensorLike;
  /** The class dimension (default -1). */
  axis?: number;
  name?: string;
}

/**
 * TF1's tf.nn.softmax_cross_entropy_with_logits (the v1 function): the per-example loss
 * -sum(labels * log_softmax(logits), axis), shaped like logits without `axis`.
 *
 * As in TF1 (the function TF 1.5+ deprecates in favour of _v2), no gradient flows into `labels`:
 * they pass through a StopGradient named `labels_stop_gradient`. Use
 * softmaxCrossEntropyWithLogitsV2 for gradients with respect to the labels too.
 */
export function softmaxCrossEntropyWithLogits(args: SoftmaxCrossEntropyArgs): Tensor {
  return scoped([args.logits, args.labels], args.name, 'softmax_cross_entropy_with_logits_sg', (scope) => {
    const labels = stopGradient(convertToTensor(args.labels, undefined, 'labels', 'labels'), 'labels_stop_gradient');
    return softmaxXentV2({ ...args, labels, name: scope });
  });
}

/** TF's softmax_cross_entropy_with_logits_v2: like the v1 function, but gradients flow into labels. */
export function softmaxCrossEntropyWithLogitsV2(args: SoftmaxCrossEntropyArgs): Tensor {
  return softmaxXentV2(args);
}

function softmaxXentV2(args: SoftmaxCrossEntropyArgs): Tensor {
  const axis = args.axis ?? -1;
  return scoped([args.logits, args.labels], args.name, 'softmax_cross_entropy_with_logits', (scope) => {
    let logits = convertToTensor(args.logits, undefined, 'logits', 'logits');
    let labels = convertToTensor(args.labels, undefined, 'labels', 'labels');
    if (labels.dtype !== logits.dtype) labels = cast(labels, logits.dtype);
    if (!shapesCompatible(logits.shape, labels.shape)) {
      throw new InvalidArgumentError(
        `tf.nn.softmaxCrossEntropyWithLogits: logits (${logits.name}) and labels (${labels.name}) must have the same shape, got ${formatShape(logits.shape)} and ${formatShape(labels.shape)}`,
      );
    }
    const staticShape = mergeShapes(logits.shape, labels.shape);
    const rank = staticShape?.length ?? null;
    if (rank === 0) throw new InvalidArgumentError(`tf.nn.softmaxCrossEntropyWithLogits: logits (${logits.name}) cannot be a scalar`);
    let lossShape: Shape = null;
    if (rank === null) {
      if (axis !== -1) {
        throw new InvalidArgumentError(`tf.nn.softmaxCrossEntropyWithLogits: axis ${axis} needs logits of known rank (${logits.name} has unknown rank)`);
      }
    } else {
      if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
        throw new InvalidArgumentError(`tf.nn.softmaxCrossEntropyWithLogits: axis ${axis} is out of range for logits of rank ${rank}`);
      }
      const d = axis < 0 ? axis + rank : axis;
      lossShape = staticShape!.filter((_, i) => i !== d);
      if (d !== rank - 1) {
        // Move the class dim to the end.
        const perm = [...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== d), d];
        logits = transpose(logits, perm);
        labels = transpose(labels, perm);
      }
    }
    if (rank === 2) {
      return xentOp(logits, labels, scope);
    }
    // Flatten the outer dims into one batch dim, run the op, and restore them on the loss.
    const moved = logits.shape;
    const classes = moved?.[moved.length - 1] ?? null;
    const flatShape = classes !== null ? [-1, classes] : concat([[-1], stridedSlice(shapeOf(logits), [-1], [0], [1], { endMask: 1 })], 0);
    const loss = xentOp(reshape(logits, flatShape), reshape(labels, flatShape), scope);
    const outShape = lossShape !== null && lossShape.every((x) => x !== null) ? (lossShape as number[]) : stridedSlice(shapeOf(logits), [0], [-1]);
    const cost = reshape(loss, outShape);
    if (lossShape !== null) cost.setShape(lossShape);
    return cost;
  });
}

/** The fused two-output op on 2-D inputs; returns the loss. */
function xentOp(logits: Tensor, labels: Tensor, name: string): Tensor {
  return graphOf(logits).createOp('SoftmaxCrossEntropyWithLogits', [logits, labels], { T: logits.dtype }, { name }).outputs[0]!;
}

export interface SparseSoftmaxCrossEntropyArgs {
  /** Class indices (int32 or int64), shaped like logits without its last dimension. */
  labels: TensorLike;
  logits: TensorLike;
  name?: string;
}

/**
 * -log_softmax(logits)[label] per example. A label outside [0, numClasses) is an
 * InvalidArgumentError at run time. No gradient flows into labels.
 */
export function sparseSoftmaxCrossEntropyWithLogits(args: SparseSoftmaxCrossEntropyArgs): Tensor {
  const opName = args.name ?? 'SparseSoftmaxCrossEntropyWithLogits';
  return scoped([args.logits, args.labels], args.name, 'SparseSoftmaxCrossEntropyWithLogits', () => {
    // JS numbers are class indices: they become int32, not float32.
    const labels = convertToTensor(args.labels, isPlainJs(args.labels) ? 'int32' : undefined, 'labels', 'labels');
    const logits = convertToTensor(args.logits, undefined, 'logits', 'logits');
    const fn = 'tf.nn.sparseSoftmaxCrossEntropyWithLogits';
    const ls = labels.shape;
    const xs = logits.shape;
    if (xs !== null && xs.length === 0) throw new InvalidArgumentError(`${fn}: Logits cannot be scalars - received shape ${formatShape(xs)}.`);
    if (xs !== null && ls !== null && ls.length !== xs.length - 1) {
      throw new InvalidArgumentError(
        `${fn}: Rank mismatch: Rank of labels (received ${ls.length}) should equal rank of logits minus 1 (received ${xs.length}).`,
      );
    }
    if (xs !== null && ls !== null && !shapesCompatible(ls, xs.slice(0, -1))) {
      throw new InvalidArgumentError(
        `${fn}: Shape mismatch: The shape of labels (received ${formatShape(ls)}) should equal the shape of logits except for the last dimension (received ${formatShape(xs)}).`,
      );
    }
    const op = (x: Tensor, y: Tensor): Tensor =>
      graphOf(x).createOp('SparseSoftmaxCrossEntropyWithLogits', [x, y], { T: x.dtype, Tlabels: y.dtype }, { name: opName }).outputs[0]!;
    if (xs !== null && xs.length === 2) return op(logits, labels);
    const classes = xs?.[xs.length - 1] ?? null;
    const flat = classes !== null ? [-1, classes] : concat([[-1], stridedSlice(shapeOf(logits), [-1], [0], [1], { endMask: 1 })], 0);
    const cost = op(reshape(logits, flat), reshape(labels, [-1]));
    const out = reshape(cost, ls !== null && ls.every((d) => d !== null) ? (ls as number[]) : shapeOf(labels));
    if (ls !== null) out.setShape(ls);
    return out;
  });
}

function isPlainJs(v: TensorLike): boolean {
  return !(v instanceof Tensor) && !isVariableLike(v) && !ArrayBuffer.isView(v) && !(v instanceof NDArray);
}

export interface SigmoidCrossEntropyArgs {
  /** Targets in [0, 1], shaped like logits. */
  labels: TensorLike;
  logits: TensorLike;
  name?: string;
}

/**
 * Elementwise logistic loss, as TF composes it:
 * where(x >= 0, x, 0) - x * z + log1p(exp(where(x >= 0, -x, x))), i.e.
 * max(x, 0) - x * z + log(1 + exp(-abs(x))), stable for large |x|.
 */
export function sigmoidCrossEntropyWithLogits(args: SigmoidCrossEntropyArgs): Tensor {
  return scoped([args.logits, args.labels], args.name, 'logistic_loss', (scope) => {
    const [logits, labels] = convertSameDType([args.logits, args.labels], ['logits', 'labels'], 'tf.nn.sigmoidCrossEntropyWithLogits');
    if (!shapesCompatible(logits.shape, labels.shape)) {
      throw new InvalidArgumentError(
        `tf.nn.sigmoidCrossEntropyWithLogits: logits and labels must have the same shape (${formatShape(logits.shape)} vs ${formatShape(labels.shape)})`,
      );
    }
    const zeros = zerosLike(logits, logits.dtype);
    const cond = greaterEqual(logits, zeros);
    const reluLogits = where(cond, logits, zeros);
    const negAbsLogits = where(cond, negative(logits), logits);
    return add(subtract(reluLogits, multiply(logits, labels)), log1p(exp(negAbsLogits)), scope);
  });
}
