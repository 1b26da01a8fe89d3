// tf.train's learning-rate schedules (TF 1.15's learning_rate_decay.py): each builds, under a name
// scope of TF's name, a scalar tensor of the learning rate's dtype computed from the global step.
import { randomNormal } from '../api/random.js';
import {
  add,
  cast,
  ceil,
  cos,
  divide,
  equal,
  exp,
  floor,
  lessEqual,
  log,
  minimum,
  multiply,
  negative,
  pow,
  sqrt,
  subtract,
  where,
} from '../api/math.js';
import { convertToTensor } from '../convert.js';
import { isFloat, type DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { nameScope, Tensor } from '../graph.js';
import type { Variable } from '../variables.js';

/** A number, or a tensor of any numeric dtype (cast to the learning rate's dtype). */
type Scalar = number | Tensor | Variable;

interface ScheduleScope {
  /** The learning rate as a tensor (a number becomes float32). */
  lr: Tensor;
  /** The global step, cast to the learning rate's dtype. */
  step: Tensor;
  /** `x` in the learning rate's dtype: a number as a constant named `what`, a tensor cast. */
  asDType: (x: Scalar, what: string) => Tensor;
  /** The name scope, for the result op (TF names it after the schedule). */
  scope: string;
}

/** Opens the schedule's name scope and converts its learning rate and global step, as every schedule does first. */
function schedule(fn: string, name: string, learningRate: Scalar, globalStep: Variable | Tensor, build: (s: ScheduleScope) => Tensor): Tensor {
  if (globalStep === null || globalStep === undefined) throw new InvalidArgumentError(`global_step is required for ${fn}.`);
  return nameScope(name, (scope) => {
    const lr =
      typeof learningRate === 'number' ? convertToTensor(learningRate, 'float32', 'initial_learning_rate') : convertToTensor(learningRate);
    if (!isFloat(lr.dtype)) throw new InvalidArgumentError(`${fn}: learning_rate must be a float, got ${lr.dtype} (${lr.name})`);
    const asDType = (x: Scalar, what: string): Tensor => toDType(x, lr.dtype, what);
    return build({ lr, step: asDType(globalStep, 'global_step'), asDType, scope });
  });
}

function toDType(x: Scalar, dtype: DType, what: string): Tensor {
  if (typeof x === 'number') return convertToTensor(x, dtype, what);
  const t = convertToTensor(x);
  return t.dtype === dtype ? t : cast(t, dtype);
}

/**
 * tf.train.exponentialDecay: learningRate * decayRate ^ (globalStep / decaySteps), with the exponent
 * floored when `staircase` (the rate then drops every decaySteps steps). Ops are built under the
 * name scope `name` (default 'ExponentialDecay'), and the result is the op named after the scope.
 */
export function exponentialDecay(
  learningRate: Scalar,
  globalStep: Variable | Tensor,
  decaySteps: Scalar,
  decayRate: Scalar,
  staircase = false,
  name = 'ExponentialDecay',
): Tensor {
  return schedule('exponential_decay', name, learningRate, globalStep, ({ lr, step, asDType, scope }) => {
    let p = divide(step, asDType(decaySteps, 'decay_steps'));
    if (staircase) p = floor(p);
    return multiply(lr, pow(asDType(decayRate, 'decay_rate'), p), scope);
  });
}

/**
 * tf.train.naturalExpDecay: learningRate * exp(-decayRate * globalStep / decaySteps) (the quotient
 * floored when `staircase`). As TF, it is exponentialDecay with the rate exp(-decayRate), so its ops
 * go under 'ExponentialDecay' by default.
 */
export function naturalExpDecay(
  learningRate: Scalar,
  globalStep: Variable | Tensor,
  decaySteps: Scalar,
  decayRate: Scalar,
  staircase = false,
  name = 'ExponentialDecay',
): Tensor {
  if (globalStep === null || globalStep === undefined) throw new InvalidArgumentError('global_step is required for natural_exp_decay.');
  const rate = exp(negative(typeof decayRate === 'number' ? convertToTensor(decayRate, 'float32') : decayRate));
  return exponentialDecay(learningRate, globalStep, decaySteps, rate, staircase, name);
}

/**
 * tf.train.inverseTimeDecay: learningRate / (1 + decayRate * globalStep / decaySteps), the quotient
 * floored when `staircase`. Name scope 'InverseTimeDecay' by default.
 */
export function inverseTimeDecay(
  learningRate: Scalar,
  globalStep: Variable | Tensor,
  decaySteps: Scalar,
  decayRate: Scalar,
  staircase = false,
  name = 'InverseTimeDecay',
): Tensor {
  return schedule('inverse_time_decay', name, learningRate, globalStep, ({ lr, step, asDType, scope }) => {
    let p = divide(step, asDType(decaySteps, 'decay_steps'));
    if (staircase) p = floor(p);
    const denom = add(asDType(1, 'Const'), multiply(asDType(decayRate, 'decay_rate'), p));
    return divide(lr, denom, scope);
  });
}

export interface PolynomialDecayOptions {
  /** The rate reached after decaySteps (default 0.0001). */
  endLearningRate?: Scalar;
  /** The polynomial's power (default 1: linear). */
  power?: Scalar;
  /** Start over after decaySteps, decaying over the next multiple of decaySteps, instead of staying at the end rate. */
  cycle?: boolean;
  /** Name scope (default 'PolynomialDecay'). */
  name?: string;
}

/**
 * tf.train.polynomialDecay: (lr - end) * (1 - step / decaySteps) ^ power + end with step capped at
 * decaySteps; with `cycle`, decaySteps is the first multiple of it not below step (1x at step 0).
 */
export function polynomialDecay(learningRate: Scalar, globalStep: Variable | Tensor, decaySteps: Scalar, opts: PolynomialDecayOptions = {}): Tensor {
  return schedule('polynomial_decay', opts.name ?? 'PolynomialDecay', learningRate, globalStep, ({ lr, step, asDType, scope }) => {
    const end = asDType(opts.endLearningRate ?? 0.0001, 'end_learning_rate');
    const power = asDType(opts.power ?? 1, 'power');
    let steps = asDType(decaySteps, 'decay_steps');
    let s = step;
    if (opts.cycle) {
      const multiplier = where(equal(step, asDType(0, 'zero')), asDType(1, 'one'), ceil(divide(step, steps)));
      steps = multiply(steps, multiplier);
    } else {
      s = minimum(step, steps);
    }
    const p = divide(s, steps);
    return add(multiply(subtract(lr, end), pow(subtract(asDType(1, 'one'), p), power)), end, scope);
  });
}

/** 0.5 * (1 + cos(pi * x)), in the dtype of x. */
function halfCosine(x: Tensor): Tensor {
  return multiply(toDType(0.5, x.dtype, 'half'), add(toDType(1, x.dtype, 'one'), cos(multiply(toDType(Math.PI, x.dtype, 'pi'), x))));
}

export interface CosineDecayOptions {
  /** The floor of the decay, as a fraction of the learning rate (default 0). */
  alpha?: Scalar;
  /** Name scope (default 'CosineDecay'). */
  name?: string;
}

/**
 * tf.train.cosineDecay (SGDR without restarts): lr * ((1 - alpha) * 0.5 * (1 + cos(pi * t)) + alpha)
 * with t = min(step, decaySteps) / decaySteps.
 */
export function cosineDecay(learningRate: Scalar, globalStep: Variable | Tensor, decaySteps: Scalar, opts: CosineDecayOptions = {}): Tensor {
  return schedule('cosine_decay', opts.name ?? 'CosineDecay', learningRate, globalStep, ({ lr, step, asDType, scope }) => {
    const steps = asDType(decaySteps, 'decay_steps');
    const alpha = asDType(opts.alpha ?? 0, 'alpha');
    const decayed = add(multiply(subtract(asDType(1, 'one'), alpha), halfCosine(divide(minimum(step, steps), steps))), alpha);
    return multiply(lr, decayed, scope);
  });
}

export interface CosineDecayRestartsOptions {
  /** Each period is tMul times longer than the one before (default 2). */
  tMul?: Scalar;
  /** Each period starts at mMul times the previous period's starting rate (default 1). */
  mMul?: Scalar;
  /** The floor of the decay, as a fraction of the learning rate (default 0). */
  alpha?: Scalar;
  /** Name scope (default 'SGDRDecay'). */
  name?: string;
}

/**
 * tf.train.cosineDecayRestarts (SGDR, Loshchilov & Hutter): cosine decay over firstDecaySteps, then
 * warm restarts, period i lasting firstDecaySteps * tMul^i steps and starting at mMul^i times the rate.
 */
export function cosineDecayRestarts(
  learningRate: Scalar,
  globalStep: Variable | Tensor,
  firstDecaySteps: Scalar,
  opts: CosineDecayRestartsOptions = {},
): Tensor {
  return schedule('cosine_decay_restarts', opts.name ?? 'SGDRDecay', learningRate, globalStep, ({ lr, step, asDType, scope }) => {
    const alpha = asDType(opts.alpha ?? 0, 'alpha');
    const tMul = asDType(opts.tMul ?? 2, 't_mul');
    const mMul = asDType(opts.mMul ?? 1, 'm_mul');
    const one = asDType(1, 'one');
    const fraction = divide(step, asDType(firstDecaySteps, 'first_decay_steps'));
    // Periods of equal length (tMul = 1): the restart is the integer part of the fraction. Otherwise
    // period i starts at fraction (1 - tMul^i) / (1 - tMul): invert that geometric sum.
    const evenRestart = floor(fraction);
    const evenFraction = subtract(fraction, evenRestart);
    const geoRestart = floor(divide(log(subtract(one, multiply(fraction, subtract(one, tMul)))), log(tMul)));
    const sumR = divide(subtract(one, pow(tMul, geoRestart)), subtract(one, tMul));
    const geoFraction = divide(subtract(fraction, sumR), pow(tMul, geoRestart));
    const even = equal(tMul, one);
    const restart = where(even, evenRestart, geoRestart);
    const within = where(even, evenFraction, geoFraction);
    const cosineDecayed = multiply(pow(mMul, restart), halfCosine(within));
    return multiply(lr, add(multiply(subtract(one, alpha), cosineDecayed), alpha), scope);
  });
}

export interface LinearCosineDecayOptions {
  /** Periods of the cosine over decaySteps (default 0.5: half a period, one fall). */
  numPeriods?: Scalar;
  /** Added to the linear part (default 0). */
  alpha?: Scalar;
  /** Floor added to the product (default 0.001). */
  beta?: Scalar;
  /** Name scope (default 'LinearCosineDecay'). */
  name?: string;
}

export interface NoisyLinearCosineDecayOptions extends LinearCosineDecayOptions {
  /** Variance of the noise at step 0 (default 1). */
  initialVariance?: Scalar;
  /** The noise's variance is initialVariance / (1 + step)^varianceDecay (default 0.55). */
  varianceDecay?: Scalar;
}

/**
 * The linear cosine decay of Bello et al. 2017, with zero-mean normal noise of variance
 * initialVariance / (1 + step)^varianceDecay added to the linear part when `noisy`.
 */
function linearCosine(
  fn: string,
  learningRate: Scalar,
  globalStep: Variable | Tensor,
  decaySteps: Scalar,
  opts: NoisyLinearCosineDecayOptions,
  defaultName: string,
  noisy: boolean,
): Tensor {
  return schedule(fn, opts.name ?? defaultName, learningRate, globalStep, ({ lr, step, asDType, scope }) => {
    const steps = asDType(decaySteps, 'decay_steps');
    const numPeriods = asDType(opts.numPeriods ?? 0.5, 'num_periods');
    const alpha = asDType(opts.alpha ?? 0, 'alpha');
    const beta = asDType(opts.beta ?? 0.001, 'beta');
    const s = minimum(step, steps);
    let linear = divide(subtract(steps, s), steps);
    if (noisy) {
      const variance = divide(asDType(opts.initialVariance ?? 1, 'initial_variance'), pow(add(asDType(1, 'one'), s), asDType(opts.varianceDecay ?? 0.55, 'variance_decay')));
      const noise = cast(randomNormal([], { stddev: cast(sqrt(variance), 'float32') }), lr.dtype);
      linear = add(linear, noise);
    }
    const fraction = multiply(multiply(asDType(2, 'two'), numPeriods), divide(s, steps));
    return multiply(lr, add(multiply(add(alpha, linear), halfCosine(fraction)), beta), scope);
  });
}

/**
 * tf.train.linearCosineDecay: lr * ((alpha + linear) * cosine + beta), with t = min(step, decaySteps),
 * linear = (decaySteps - t) / decaySteps and cosine = 0.5 * (1 + cos(pi * 2 * numPeriods * t / decaySteps)).
 */
export function linearCosineDecay(learningRate: Scalar, globalStep: Variable | Tensor, decaySteps: Scalar, opts: LinearCosineDecayOptions = {}): Tensor {
  return linearCosine('linear_cosine_decay', learningRate, globalStep, decaySteps, opts, 'LinearCosineDecay', false);
}

/** tf.train.noisyLinearCosineDecay: linearCosineDecay with fresh normal noise added to its linear part on every run. */
export function noisyLinearCosineDecay(
  learningRate: Scalar,
  globalStep: Variable | Tensor,
  decaySteps: Scalar,
  opts: NoisyLinearCosineDecayOptions = {},
): Tensor {
  return linearCosine('noisy_linear_cosine_decay', learningRate, globalStep, decaySteps, opts, 'NoisyLinearCosineDecay', true);
}

/**
 * tf.train.piecewiseConstant: values[0] while x <= boundaries[0], values[i] while
 * boundaries[i-1] < x <= boundaries[i], and the last value once x > the last boundary. Boundaries
 * take x's dtype (int32 tensors are promoted to int64); the values share one dtype. Name scope
 * 'PiecewiseConstant' by default.
 */
export function piecewiseConstant(
  x: Variable | Tensor,
  boundaries: readonly (number | Tensor)[],
  values: readonly (number | Tensor)[],
  name = 'PiecewiseConstant',
): Tensor {
  if (boundaries.length !== values.length - 1) {
    throw new InvalidArgumentError(
      `The length of boundaries should be 1 less than the length of values: ${boundaries.length} boundaries and ${values.length} values`,
    );
  }
  return nameScope(name, (scope) => {
    const xt = convertToTensor(x);
    const bs = boundaries.map((b) => {
      if (typeof b === 'number') {
        if (!isFloat(xt.dtype) && !Number.isInteger(b)) {
          throw new InvalidArgumentError(`Boundaries (float32) must have the same dtype as x (${xt.dtype}): boundary ${b}`);
        }
        return convertToTensor(b, xt.dtype);
      }
      if (b.dtype === xt.dtype) return b;
      if (b.dtype === 'int32' && xt.dtype === 'int64') return cast(b, 'int64');
      throw new InvalidArgumentError(`Boundaries (${b.dtype}) must have the same dtype as x (${xt.dtype}).`);
    });
    const given = values.find((v): v is Tensor => typeof v !== 'number');
    const dtype = given?.dtype ?? 'float32';
    const vs = values.map((v) => {
      if (typeof v === 'number') return convertToTensor(v, dtype);
      if (v.dtype !== dtype) throw new InvalidArgumentError(`Values must have elements all with the same dtype (${dtype} vs ${v.dtype}).`);
      return v;
    });
    // From the last interval back: x <= boundaries[i] picks values[i] over everything after it.
    let out = vs[vs.length - 1]!;
    for (let i = bs.length - 1; i >= 0; i--) out = where(lessEqual(xt, bs[i]!), vs[i]!, out, i === 0 ? scope : undefined);
    return out;
  });
}

/** tf.train.piecewiseConstantDecay: TF1's other name for piecewiseConstant. */
export const piecewiseConstantDecay = piecewiseConstant;
