/**
 * tf.nn functions composed from other ops, with TensorFlow's formulas and op names: dropout,
 * moments, batch_normalization, l2_normalize, embedding_lookup.
 */
import { gather, shape as shapeOf, squeeze, stack, stridedSlice } from './array.js';
import { clipByNorm } from './clip.js';
import { identity } from './core.js';
import { add, divide, floor, maximum, multiply, negative, reduceMean, reduceSum, rsqrt, square, squaredDifference, subtract } from './math.js';
import { randomUniform } from './random.js';
import { getDefaultGraph, Tensor } from '../graph.js';
import { convertToTensor, isVariableLike, type TensorLike } from '../convert.js';
import { isFloat } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { normAxis, type Dim } from '../core/shape.js';

function floatTensor(x: TensorLike, what: string, fn: string, name = 'x'): Tensor {
  const t = convertToTensor(x, undefined, name);
  if (!isFloat(t.dtype)) throw new InvalidArgumentError(`${fn}: ${what} has to be a floating point tensor, got ${t.dtype} (${t.name})`);
  return t;
}

export interface DropoutOptions {
  /** Fraction of elements dropped (TF2 style); give this or keepProb. */
  rate?: TensorLike;
  /** Probability that an element is kept (TF1 style). */
  keepProb?: TensorLike;
  /** Shape of the keep/drop mask, broadcast against x (null dims take x's). */
  noiseShape?: readonly Dim[] | Tensor;
  seed?: number;
  name?: string;
}

/**
 * tf.nn.dropout: keeps each element with probability keep = 1 - rate, scaling kept ones by 1 / keep:
 * x / keep * floor(keep + uniform[0, 1)), TF1's formula.
 */
export function dropout(x: TensorLike, opts: DropoutOptions): Tensor {
  if (opts.rate !== undefined && opts.keepProb !== undefined) {
    throw new InvalidArgumentError("tf.nn.dropout: cannot specify both 'rate' and 'keepProb'");
  }
  if (opts.rate === undefined && opts.keepProb === undefined) {
    throw new InvalidArgumentError("tf.nn.dropout: one of 'rate' and 'keepProb' is required");
  }
  const g = getDefaultGraph();
  return g.nameScope(opts.name ?? 'dropout', () => {
    const xt = floatTensor(x, 'x', 'tf.nn.dropout');
    let keep: Tensor;
    if (opts.keepProb !== undefined) {
      if (typeof opts.keepProb === 'number' && !(opts.keepProb > 0 && opts.keepProb <= 1)) {
        throw new InvalidArgumentError(`keep_prob must be a scalar tensor or a float in the range (0, 1], got ${opts.keepProb}`);
      }
      keep = convertToTensor(opts.keepProb, xt.dtype, 'keep_prob');
    } else {
      if (typeof opts.rate === 'number' && !(opts.rate >= 0 && opts.rate < 1)) {
        throw new InvalidArgumentError(`rate must be a scalar tensor or a float in the range [0, 1), got ${opts.rate}`);
      }
      keep = typeof opts.rate === 'number' ? convertToTensor(1 - opts.rate, xt.dtype, 'keep_prob') : subtract(1, opts.rate!, 'keep_prob');
    }
    if (keep.shape !== null && keep.shape.length !== 0) {
      throw new InvalidArgumentError(`tf.nn.dropout: keep_prob/rate must be a scalar, got shape [${keep.shape.join(',')}]`);
    }
    const k = keep.knownValue;
    if (k !== undefined && Number(k.scalar()) === 1) return xt;
    const noise = noiseShape(xt, opts.noiseShape);
    // Uniform in [keep, 1 + keep): floor is 1 with probability keep, else 0.
    const randomTensor = add(keep, randomUniform(noise, { dtype: xt.dtype, seed: opts.seed }), 'add');
    const binary = floor(randomTensor, 'Floor');
    const ret = multiply(divide(xt, keep, 'div'), binary, 'mul');
    ret.setShape(xt.shape);
    return ret;
  });
}

function noiseShape(x: Tensor, ns: readonly Dim[] | Tensor | undefined): number[] | Tensor {
  if (ns instanceof Tensor) return ns;
  const xs = x.shape;
  if (ns === undefined) {
    if (xs !== null && xs.every((d) => d !== null)) return xs as number[];
    return shapeOf(x);
  }
  const dims = ns.map((d, i) => (d === null && xs !== null && xs.length === ns.length ? xs[i]! : d));
  if (dims.every((d) => d !== null)) return dims as number[];
  if (xs === null || xs.length !== ns.length) {
    throw new InvalidArgumentError(`tf.nn.dropout: noise_shape [${ns.map((d) => d ?? '?').join(',')}] has unknown dims that x's shape cannot fill`);
  }
  const dyn = shapeOf(x);
  return stack(dims.map((d, i) => (d === null ? stridedSlice(dyn, [i], [i + 1], [1], { shrinkAxisMask: 1 }) : convertToTensor(d, 'int32'))));
}

export interface MomentsOptions {
  keepdims?: boolean;
  name?: string;
}

/**
 * tf.nn.moments: [mean, variance] of x over `axes` (population variance): mean = reduce_mean(x),
 * variance = reduce_mean(squared_difference(x, mean)). TF wraps the mean in stop_gradient there,
 * which leaves first derivatives unchanged (the variance's derivative along the mean is zero) but
 * drops a term from second derivatives; without it both orders are exact.
 */
export function moments(x: TensorLike, axes: number | readonly number[], opts: MomentsOptions = {}): [Tensor, Tensor] {
  const g = getDefaultGraph();
  const ax = typeof axes === 'number' ? [axes] : [...axes];
  return g.nameScope(opts.name ?? 'moments', () => {
    const y = floatTensor(x, 'x', 'tf.nn.moments');
    let mean = reduceMean(y, ax, true, 'mean');
    let variance = reduceMean(squaredDifference(y, mean), ax, true, 'variance');
    if (!opts.keepdims) {
      const rank = y.rank;
      const sq = rank === null ? ax : ax.map((a) => normAxis(a, rank, 'tf.nn.moments'));
      mean = squeeze(mean, sq);
      variance = squeeze(variance, sq);
    }
    return [mean, variance];
  });
}

/**
 * tf.nn.batch_normalization: scale * (x - mean) / sqrt(variance + epsilon) + offset, as TF computes
 * it: x * inv + (offset - mean * inv), inv = scale * rsqrt(variance + epsilon). offset and scale
 * may be null.
 */
export function batchNormalization(
  x: TensorLike,
  mean: TensorLike,
  variance: TensorLike,
  offset: TensorLike | null | undefined,
  scale: TensorLike | null | undefined,
  varianceEpsilon: number,
  name = 'batchnorm',
): Tensor {
  const g = getDefaultGraph();
  return g.nameScope(name, () => {
    const xt = floatTensor(x, 'x', 'tf.nn.batch_normalization');
    const dt = xt.dtype;
    const m = convertToTensor(mean, dt, 'mean');
    const v = convertToTensor(variance, dt, 'variance');
    let inv = rsqrt(add(v, convertToTensor(varianceEpsilon, dt, 'Const'), 'add'), 'Rsqrt');
    if (scale !== null && scale !== undefined) inv = multiply(inv, convertToTensor(scale, dt, 'scale'), 'mul');
    const shift =
      offset !== null && offset !== undefined
        ? subtract(convertToTensor(offset, dt, 'offset'), multiply(m, inv, 'mul'), 'sub')
        : multiply(negative(m, 'Neg'), inv, 'mul');
    return add(multiply(xt, inv, 'mul'), shift, 'add');
  });
}

/** tf.nn.l2_normalize: x / sqrt(max(sum(x^2, axis), epsilon)) along `axis` (all axes when undefined). */
export function l2Normalize(x: TensorLike, axis?: number | readonly number[], epsilon = 1e-12, name = 'l2_normalize'): Tensor {
  const g = getDefaultGraph();
  return g.nameScope(name, (scope) => {
    const xt = floatTensor(x, 'x', 'tf.nn.l2_normalize');
    const squareSum = reduceSum(square(xt), axis === undefined ? undefined : typeof axis === 'number' ? axis : [...axis], true);
    const xInvNorm = rsqrt(maximum(squareSum, convertToTensor(epsilon, xt.dtype)));
    return multiply(xt, xInvNorm, scope);
  });
}

export interface EmbeddingLookupOptions {
  /** Embeddings whose L2 norm exceeds this are scaled down to it (tf.clip_by_norm over the embedding axes). */
  maxNorm?: number;
  name?: string;
}

/**
 * tf.nn.embedding_lookup for one (unpartitioned) params tensor: the rows of `params` at `ids`
 * (a gather; its gradient is dense).
 */
export function embeddingLookup(
  params: TensorLike | readonly TensorLike[],
  ids: TensorLike,
  opts: EmbeddingLookupOptions = {},
): Tensor {
  let p: TensorLike;
  if (Array.isArray(params) && (params.length === 0 || params.every((e) => e instanceof Tensor || isVariableLike(e)))) {
    if (params.length !== 1) {
      throw new InvalidArgumentError(`tf.nn.embedding_lookup: partitioned params (${params.length} tensors) are not supported; pass one tensor`);
    }
    p = params[0] as TensorLike;
  } else {
    p = params as TensorLike;
  }
  const g = getDefaultGraph();
  return g.nameScope(opts.name ?? 'embedding_lookup', (scope) => {
    const pt = convertToTensor(p, undefined, 'params');
    // JS number literals are indices, so they become int32 (not float32) constants.
    const literal = typeof ids === 'number' || (Array.isArray(ids) && !(ids as unknown[]).some((e) => e instanceof Tensor || isVariableLike(e)));
    const it = convertToTensor(ids, literal ? 'int32' : undefined, 'ids');
    if (it.dtype !== 'int32' && it.dtype !== 'int64') {
      throw new InvalidArgumentError(`tf.nn.embedding_lookup: ids must be int32 or int64, got ${it.dtype} (${it.name})`);
    }
    let result = gather(pt, it, 0, scope);
    if (opts.maxNorm !== undefined) {
      const idsRank = it.rank;
      const paramsRank = result.rank;
      if (idsRank === null || paramsRank === null) {
        throw new InvalidArgumentError('tf.nn.embedding_lookup: maxNorm needs ids and params of known rank');
      }
      const axes = Array.from({ length: paramsRank - idsRank }, (_, i) => idsRank + i);
      result = clipByNorm(result, opts.maxNorm, axes);
    }
    return identity(result);
  });
}
