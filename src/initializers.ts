/**
 * Variable initializers, TF1's init_ops: each is a function (shape, dtype) => Tensor that builds the
 * initial value's ops (getVariable calls it under the variable's 'Initializer' name scope).
 */
import { fill, zeros } from './api/array.js';
import { constant } from './api/core.js';
import { randomNormal, randomUniform, truncatedNormal } from './api/random.js';
import { isFloat, type DType } from './core/dtypes.js';
import { InvalidArgumentError } from './core/errors.js';
import type { Tensor } from './graph.js';
import { NDArray, numElements, type NestedArray } from './core/ndarray.js';
import { l1Regularizer, l2Regularizer } from './layers/regularizers.js';

export type Initializer = (shape: readonly number[], dtype?: DType) => Tensor;

/** TF's constant from scipy.stats.truncnorm.std(a=-2, b=2, loc=0., scale=1.): the std of a unit normal truncated at 2 sigma. */
const TRUNCATED_NORMAL_STD = 0.87962566103423978;

function requireFloat(what: string, dtype: DType): void {
  if (!isFloat(dtype)) throw new InvalidArgumentError(`${what}: expected floating point type, got ${dtype}`);
}

export function zerosInitializer(): Initializer {
  return (shape, dtype = 'float32') => zeros([...shape], dtype);
}

export function onesInitializer(): Initializer {
  return (shape, dtype = 'float32') => fill([...shape], oneOf(dtype));
}

function oneOf(dtype: DType): NDArray {
  return NDArray.from(dtype === 'bool' ? true : dtype === 'int64' ? 1n : 1, dtype, []);
}

/**
 * TF1's constant_initializer: a scalar fills the shape; a list (nested array or NDArray) with as many
 * elements as the shape takes its shape, one with fewer is padded with its last element, as TF1 does.
 */
export function constantInitializer(value: number | boolean | NestedArray | NDArray = 0): Initializer {
  return (shape, dtype = 'float32') => {
    const flat = (value instanceof NDArray ? value : NDArray.from(value as NestedArray, undefined)).toFlat();
    const n = numElements(shape);
    if (flat.length > n) {
      throw new InvalidArgumentError(
        `constant_initializer: too many elements provided. Needed at most ${n}, but received ${flat.length}`,
      );
    }
    if (flat.length === 0 && n > 0) throw new InvalidArgumentError('constant_initializer: empty value for a non-empty shape');
    const full = Array.from({ length: n }, (_, i) => {
      const v = flat[Math.min(i, flat.length - 1)]!;
      if (dtype === 'int64') return typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
      if (dtype === 'bool') return Boolean(v);
      return Number(v);
    });
    return constant(NDArray.from(full as NestedArray, dtype, [...shape]), dtype);
  };
}

export interface RandomNormalOptions {
  mean?: number;
  stddev?: number;
  seed?: number;
}

export function randomNormalInitializer(opts: RandomNormalOptions = {}): Initializer {
  return (shape, dtype = 'float32') => {
    requireFloat('random_normal_initializer', dtype);
    return randomNormal([...shape], { mean: opts.mean ?? 0, stddev: opts.stddev ?? 1, dtype, seed: opts.seed });
  };
}

export function truncatedNormalInitializer(opts: RandomNormalOptions = {}): Initializer {
  return (shape, dtype = 'float32') => {
    requireFloat('truncated_normal_initializer', dtype);
    return truncatedNormal([...shape], { mean: opts.mean ?? 0, stddev: opts.stddev ?? 1, dtype, seed: opts.seed });
  };
}

export interface RandomUniformOptions {
  minval?: number;
  maxval?: number;
  seed?: number;
}

export function randomUniformInitializer(opts: RandomUniformOptions = {}): Initializer {
  return (shape, dtype = 'float32') => {
    requireFloat('random_uniform_initializer', dtype);
    return randomUniform([...shape], { minval: opts.minval ?? 0, maxval: opts.maxval ?? 1, dtype, seed: opts.seed });
  };
}

export type FanMode = 'fan_in' | 'fan_out' | 'fan_avg';
export type Distribution = 'truncated_normal' | 'normal' | 'untruncated_normal' | 'uniform';

export interface VarianceScalingOptions {
  scale?: number;
  mode?: FanMode;
  distribution?: Distribution;
  seed?: number;
}

/**
 * TF's _compute_fans: [fan_in, fan_out]. Rank 0: 1 and 1; rank 1: n and n; rank 2: rows and
 * columns; a convolution kernel (..., in, out): in and out times the receptive field size.
 */
export function computeFans(shape: readonly number[]): [number, number] {
  if (shape.length < 1) return [1, 1];
  if (shape.length === 1) return [shape[0]!, shape[0]!];
  if (shape.length === 2) return [shape[0]!, shape[1]!];
  let receptive = 1;
  for (const d of shape.slice(0, -2)) receptive *= d;
  return [shape[shape.length - 2]! * receptive, shape[shape.length - 1]! * receptive];
}

/**
 * TF's VarianceScaling: samples with variance scale / n, n the fan-in, fan-out or their average;
 * truncated normal (stddev corrected for the truncation), untruncated normal, or uniform in
 * [-sqrt(3 scale / n), sqrt(3 scale / n)].
 */
export function varianceScalingInitializer(opts: VarianceScalingOptions = {}): Initializer {
  const scale0 = opts.scale ?? 1;
  const mode = opts.mode ?? 'fan_in';
  const distribution = opts.distribution ?? 'truncated_normal';
  if (!(scale0 > 0)) throw new InvalidArgumentError('variance_scaling_initializer: `scale` must be positive float.');
  if (!['fan_in', 'fan_out', 'fan_avg'].includes(mode)) throw new InvalidArgumentError(`Invalid \`mode\` argument: ${mode}`);
  if (!['truncated_normal', 'normal', 'untruncated_normal', 'uniform'].includes(distribution)) {
    throw new InvalidArgumentError(`Invalid \`distribution\` argument: ${distribution}`);
  }
  return (shape, dtype = 'float32') => {
    requireFloat('variance_scaling_initializer', dtype);
    const [fanIn, fanOut] = computeFans(shape);
    const n = mode === 'fan_in' ? fanIn : mode === 'fan_out' ? fanOut : (fanIn + fanOut) / 2;
    const scale = scale0 / Math.max(1, n);
    const s = [...shape];
    if (distribution === 'truncated_normal' || distribution === 'normal') {
      return truncatedNormal(s, { mean: 0, stddev: Math.sqrt(scale) / TRUNCATED_NORMAL_STD, dtype, seed: opts.seed });
    }
    if (distribution === 'untruncated_normal') {
      return randomNormal(s, { mean: 0, stddev: Math.sqrt(scale), dtype, seed: opts.seed });
    }
    const limit = Math.sqrt(3 * scale);
    return randomUniform(s, { minval: -limit, maxval: limit, dtype, seed: opts.seed });
  };
}

export interface SeedOptions {
  seed?: number;
}

/** Glorot (Xavier) uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)). The default of getVariable. */
export function glorotUniformInitializer(opts: SeedOptions = {}): Initializer {
  return varianceScalingInitializer({ scale: 1, mode: 'fan_avg', distribution: 'uniform', seed: opts.seed });
}

/** Glorot normal: truncated normal with stddev sqrt(2 / (fan_in + fan_out)) / 0.8796... */
export function glorotNormalInitializer(opts: SeedOptions = {}): Initializer {
  return varianceScalingInitializer({ scale: 1, mode: 'fan_avg', distribution: 'truncated_normal', seed: opts.seed });
}

export function heNormalInitializer(opts: SeedOptions = {}): Initializer {
  return varianceScalingInitializer({ scale: 2, mode: 'fan_in', distribution: 'truncated_normal', seed: opts.seed });
}

export function heUniformInitializer(opts: SeedOptions = {}): Initializer {
  return varianceScalingInitializer({ scale: 2, mode: 'fan_in', distribution: 'uniform', seed: opts.seed });
}

export function lecunNormalInitializer(opts: SeedOptions = {}): Initializer {
  return varianceScalingInitializer({ scale: 1, mode: 'fan_in', distribution: 'truncated_normal', seed: opts.seed });
}

export function lecunUniformInitializer(opts: SeedOptions = {}): Initializer {
  return varianceScalingInitializer({ scale: 1, mode: 'fan_in', distribution: 'uniform', seed: opts.seed });
}

/**
 * tf.contrib.layers.variance_scaling_initializer (default: He's initializer): n is the fan-in, fan-out
 * or their average (contrib's fan estimate); uniform in [-sqrt(3 factor / n), sqrt(3 factor / n)] or a
 * truncated normal with stddev sqrt(1.3 factor / n).
 */
export function contribVarianceScalingInitializer(
  opts: { factor?: number; mode?: 'FAN_IN' | 'FAN_OUT' | 'FAN_AVG'; uniform?: boolean; seed?: number } = {},
): Initializer {
  const factor = opts.factor ?? 2;
  const mode = opts.mode ?? 'FAN_IN';
  if (!['FAN_IN', 'FAN_OUT', 'FAN_AVG'].includes(mode)) throw new InvalidArgumentError(`Unknown mode ${mode} [FAN_IN, FAN_OUT, FAN_AVG]`);
  return (shape, dtype = 'float32') => {
    requireFloat('variance_scaling_initializer', dtype);
    const [fanIn, fanOut] = contribFans(shape);
    const n = mode === 'FAN_IN' ? fanIn : mode === 'FAN_OUT' ? fanOut : (fanIn + fanOut) / 2;
    if (opts.uniform) {
      const limit = Math.sqrt((3 * factor) / n);
      return randomUniform([...shape], { minval: -limit, maxval: limit, dtype, seed: opts.seed });
    }
    return truncatedNormal([...shape], { mean: 0, stddev: Math.sqrt((1.3 * factor) / n), dtype, seed: opts.seed });
  };
}

/**
 * tf.contrib.layers.xavier_initializer: uniform (the same as glorot uniform) or, with uniform false,
 * a truncated normal with stddev sqrt(1.3 / n), n = (fan_in + fan_out) / 2.
 */
export function xavierInitializer(opts: { uniform?: boolean; seed?: number } = {}): Initializer {
  return contribVarianceScalingInitializer({ factor: 1, mode: 'FAN_AVG', uniform: opts.uniform ?? true, seed: opts.seed });
}

/** contrib.layers' fan estimate: fan_in = shape[-2] (shape[-1] for rank 1), both times the leading dims. */
function contribFans(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  let fanIn = shape.length > 1 ? shape[shape.length - 2]! : shape[shape.length - 1]!;
  let fanOut = shape[shape.length - 1]!;
  for (const d of shape.slice(0, -2)) {
    fanIn *= d;
    fanOut *= d;
  }
  return [fanIn, fanOut];
}

/** tf.initializers (tf.keras.initializers-style short names). */
export const initializers = {
  zeros: zerosInitializer,
  ones: onesInitializer,
  constant: constantInitializer,
  randomNormal: randomNormalInitializer,
  truncatedNormal: truncatedNormalInitializer,
  randomUniform: randomUniformInitializer,
  varianceScaling: varianceScalingInitializer,
  glorotUniform: glorotUniformInitializer,
  glorotNormal: glorotNormalInitializer,
  heNormal: heNormalInitializer,
  heUniform: heUniformInitializer,
  lecunNormal: lecunNormalInitializer,
  lecunUniform: lecunUniformInitializer,
  xavierInitializer,
};

/** tf.contrib.layers: the initializers and regularizers TF1 code still commonly takes from contrib. */
export const contrib = {
  layers: {
    xavierInitializer,
    xavierInitializerConv2d: xavierInitializer,
    varianceScalingInitializer: contribVarianceScalingInitializer,
    l1Regularizer,
    l2Regularizer,
  },
};
