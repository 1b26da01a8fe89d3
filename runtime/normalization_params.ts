// What the CPU and WebGPU kernels of LRN and the fused batch norms both read: the ops' attrs with
// TensorFlow's defaults, and an input seen around its channel dimension.
import { InvalidArgumentError } from '../src/core/errors.js';
import { formatShape } from '../src/core/shape.js';

export interface LrnParams {
  radius: number;
  bias: number;
  alpha: number;
  beta: number;
}

/** LRN's attrs with TensorFlow's defaults (a GraphDef may leave them out). */
export function lrnParams(a: Readonly<Record<string, unknown>>): LrnParams {
  return {
    radius: (a.depth_radius as number | undefined) ?? 5,
    bias: (a.bias as number | undefined) ?? 1,
    alpha: (a.alpha as number | undefined) ?? 1,
    beta: (a.beta as number | undefined) ?? 0.5,
  };
}

export interface BatchNormParams {
  epsilon: number;
  factor: number;
  format: string;
  training: boolean;
}

/** The fused batch norms' attrs with TensorFlow's defaults. */
export function batchNormParams(a: Readonly<Record<string, unknown>>): BatchNormParams {
  return {
    epsilon: (a.epsilon as number | undefined) ?? 1e-4,
    factor: (a.exponential_avg_factor as number | undefined) ?? 1,
    format: (a.data_format as string | undefined) ?? 'NHWC',
    training: (a.is_training as boolean | undefined) ?? true,
  };
}

/** x seen as [outer, depth, inner] around its channel dim (inner is 1 for channels-last formats). */
export interface ChannelLayout {
  outer: number;
  depth: number;
  inner: number;
  /** Elements per channel. */
  count: number;
}

export function channelLayout(x: { readonly shape: readonly number[] }, format: string, what: string): ChannelLayout {
  const rank = format.length;
  if (x.shape.length !== rank) throw new InvalidArgumentError(`${what} must be ${rank}-dimensional for data_format ${format}, got shape ${formatShape(x.shape)}`);
  const c = format.startsWith('NC') ? 1 : rank - 1;
  let outer = 1;
  let inner = 1;
  for (let k = 0; k < c; k++) outer *= x.shape[k]!;
  for (let k = c + 1; k < rank; k++) inner *= x.shape[k]!;
  return { outer, depth: x.shape[c]!, inner, count: outer * inner };
}
