// tf.nn.lrn (tf.nn.localResponseNormalization) and tf.nn.fusedBatchNorm, as TensorFlow 1.15 has them.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import { isFloat } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import type { Tensor } from '../graph.js';

function floatInput(fn: string, value: TensorLike, name: string): Tensor {
  const t = convertToTensor(value, undefined, name);
  if (!isFloat(t.dtype)) throw new InvalidArgumentError(`${fn}: ${name} must be a float tensor, got ${t.dtype} (${t.name})`);
  return t;
}

export interface LrnOptions {
  /** Half-width of the 1-D normalization window over channels (default 5). */
  depthRadius?: number;
  /** An offset, usually positive to avoid dividing by 0 (default 1). */
  bias?: number;
  /** A scale factor (default 1). */
  alpha?: number;
  /** An exponent (default 0.5). */
  beta?: number;
  name?: string;
}

/**
 * tf.nn.lrn: local response normalization of a 4-D NHWC input over its channels:
 * input / (bias + alpha * sum(input[..., d - r : d + r + 1] ** 2)) ** beta.
 */
export function lrn(input: TensorLike, opts: LrnOptions = {}): Tensor {
  const g = graphOf([input]);
  return g.asDefault(() => {
    const x = floatInput('tf.nn.lrn', input, 'input');
    const radius = opts.depthRadius ?? 5;
    if (!Number.isInteger(radius) || radius < 0) throw new InvalidArgumentError(`tf.nn.lrn: depthRadius must be a non-negative integer, got ${radius}`);
    const attrs = { T: x.dtype, depth_radius: radius, bias: opts.bias ?? 1, alpha: opts.alpha ?? 1, beta: opts.beta ?? 0.5 };
    return g.createOp('LRN', [x], attrs, { name: opts.name ?? 'LRN' }).outputs[0]!;
  });
}

/** tf.nn.local_response_normalization: another name of tf.nn.lrn. */
export const localResponseNormalization = lrn;

export interface FusedBatchNormOptions {
  /** Population mean, for inference (isTraining false). */
  mean?: TensorLike;
  /** Population variance, for inference (isTraining false). */
  variance?: TensorLike;
  /** Added to the variance (default 0.001; at least 1.001e-5, as TensorFlow raises it for cuDNN). */
  epsilon?: number;
  dataFormat?: 'NHWC' | 'NCHW';
  /** Normalize with the batch's statistics (default) or with mean and variance. */
  isTraining?: boolean;
  name?: string;
}

/**
 * tf.nn.fused_batch_norm (TensorFlow 1.15): one FusedBatchNormV3 op. Returns [y, batch_mean,
 * batch_variance]: in training the batch's mean and its unbiased (Bessel-corrected) variance, in
 * inference the mean and variance given.
 */
export function fusedBatchNorm(x: TensorLike, scale: TensorLike, offset: TensorLike, opts: FusedBatchNormOptions = {}): [Tensor, Tensor, Tensor] {
  const fn = 'tf.nn.fusedBatchNorm';
  const g = graphOf([x, scale, offset, opts.mean, opts.variance]);
  return g.asDefault(() => {
    const xt = floatInput(fn, x, 'input');
    const st = floatInput(fn, scale, 'scale');
    const ot = floatInput(fn, offset, 'offset');
    const empty = (name: string): Tensor => convertToTensor(new NDArray(new Float32Array(0), [0]), undefined, name);
    const mean = opts.mean === undefined ? empty('Const') : floatInput(fn, opts.mean, 'mean');
    const variance = opts.variance === undefined ? empty('Const') : floatInput(fn, opts.variance, 'variance');
    const format = opts.dataFormat ?? 'NHWC';
    if (format !== 'NHWC' && format !== 'NCHW') throw new InvalidArgumentError(`${fn}: dataFormat must be 'NHWC' or 'NCHW', got '${String(format)}'`);
    const minEpsilon = 1.001e-5;
    const epsilon = Math.max(opts.epsilon ?? 0.001, minEpsilon);
    const attrs = { T: xt.dtype, U: st.dtype, epsilon, exponential_avg_factor: 1, data_format: format, is_training: opts.isTraining ?? true };
    const op = g.createOp('FusedBatchNormV3', [xt, st, ot, mean, variance], attrs, { name: opts.name ?? 'FusedBatchNormV3' });
    return [op.outputs[0]!, op.outputs[1]!, op.outputs[2]!];
  });
}
