// Random tensors with TF1's seed semantics (graph seed + op seed -> the ops' seed/seed2 attrs).
import { convertToTensor, isVariableLike, type TensorLike, graphOf } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { getDefaultGraph, type Graph, Tensor } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import { stack, type IntArrayLike } from './array.js';
import { add, multiply, subtract } from './math.js';

/** The graph seed TF uses when only an op seed is given. */
export const DEFAULT_GRAPH_SEED = 87654321;
const MAXINT32 = 2 ** 31 - 1;

const truncateSeed = (s: number): number => ((s % MAXINT32) + MAXINT32) % MAXINT32;

/**
 * TF1's random_seed.get_seed: the (seed, seed2) attrs of a random op from the graph seed
 * (tf.setRandomSeed) and the op seed. Graph seed only: the op seed is the graph's op count so far;
 * op seed only: the graph seed is DEFAULT_GRAPH_SEED; neither: (0, 0), i.e. nondeterministic.
 */
export function getSeed(opSeed?: number | null, graph: Graph = getDefaultGraph()): [number, number] {
  const globalSeed = graph.seed;
  let seeds: [number, number];
  if (globalSeed !== undefined && globalSeed !== null) {
    seeds = [truncateSeed(globalSeed), truncateSeed(opSeed ?? graph.numOps)];
  } else if (opSeed !== undefined && opSeed !== null) {
    seeds = [DEFAULT_GRAPH_SEED, truncateSeed(opSeed)];
  } else {
    return [0, 0];
  }
  // (0, 0) would mean "nondeterministic" to the kernels.
  if (seeds[0] === 0 && seeds[1] === 0) return [0, MAXINT32];
  return seeds;
}

export interface RandomNormalOptions {
  mean?: TensorLike;
  stddev?: TensorLike;
  dtype?: DType;
  seed?: number;
  name?: string;
}

export interface RandomUniformOptions {
  minval?: TensorLike;
  maxval?: TensorLike;
  dtype?: DType;
  seed?: number;
  name?: string;
}

/** TF's shape_tensor: a shape argument as an int32 vector (JS arrays may hold scalar tensors). */
function shapeTensor(shape: IntArrayLike): Tensor {
  if (Array.isArray(shape) && shape.some((d) => d instanceof Tensor)) return stack(shape as (number | Tensor)[], 0, 'shape');
  if (shape instanceof Tensor || isVariableLike(shape)) return convertToTensor(shape as TensorLike, undefined, 'shape');
  if (shape instanceof NDArray) return convertToTensor(shape, undefined, 'shape');
  return convertToTensor(shape as TensorLike, 'int32', 'shape');
}

function normalLike(type: 'RandomStandardNormal' | 'TruncatedNormal', defaultName: string, shape: IntArrayLike, opts: RandomNormalOptions): Tensor {
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32') throw new InvalidArgumentError(`${defaultName}: dtype must be float32, got ${dtype}`);
  const g = graphOf([shape, opts.mean, opts.stddev]);
  return g.asDefault(() =>
    g.nameScope(opts.name ?? defaultName, (scope) => {
      const s = shapeTensor(shape);
      const mean = convertToTensor(opts.mean ?? 0, dtype, 'mean');
      const stddev = convertToTensor(opts.stddev ?? 1, dtype, 'stddev');
      const [seed, seed2] = getSeed(opts.seed, g);
      const rnd = g.createOp(type, [s], { seed, seed2, dtype, T: s.dtype }, { name: type }).outputs[0]!;
      return add(multiply(rnd, stddev, 'mul'), mean, scope);
    }),
  );
}

/** Normally distributed values: mean + stddev * N(0, 1). */
export function randomNormal(shape: IntArrayLike, opts: RandomNormalOptions = {}): Tensor {
  return normalLike('RandomStandardNormal', 'random_normal', shape, opts);
}

/** Normal values with those beyond 2 standard deviations redrawn: mean + stddev * N(0, 1) | |N| < 2. */
export function truncatedNormal(shape: IntArrayLike, opts: RandomNormalOptions = {}): Tensor {
  return normalLike('TruncatedNormal', 'truncated_normal', shape, opts);
}

/** Uniform values in [minval, maxval): floats by default; for int dtypes maxval is required. */
export function randomUniform(shape: IntArrayLike, opts: RandomUniformOptions = {}): Tensor {
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'int64') {
    throw new InvalidArgumentError(`random_uniform: dtype must be float32, int32 or int64, got ${dtype}`);
  }
  const integral = dtype !== 'float32';
  if (integral && (opts.maxval === undefined || opts.maxval === null)) {
    throw new InvalidArgumentError(`random_uniform: must specify maxval for integer dtype ${dtype}`);
  }
  const g = graphOf([shape, opts.minval, opts.maxval]);
  return g.asDefault(() =>
    g.nameScope(opts.name ?? 'random_uniform', (scope) => {
      const s = shapeTensor(shape);
      const min = convertToTensor(opts.minval ?? 0, dtype, 'min');
      const max = convertToTensor(opts.maxval ?? 1, dtype, 'max');
      const [seed, seed2] = getSeed(opts.seed, g);
      if (integral) {
        return g.createOp('RandomUniformInt', [s, min, max], { seed, seed2, Tout: dtype, T: s.dtype }, { name: scope }).outputs[0]!;
      }
      const rnd = g.createOp('RandomUniform', [s], { seed, seed2, dtype, T: s.dtype }, { name: 'RandomUniform' }).outputs[0]!;
      return add(multiply(rnd, subtract(max, min, 'sub'), 'mul'), min, scope);
    }),
  );
}

export interface CategoricalOptions {
  /** Output dtype, int64 (the default) or int32. */
  dtype?: DType;
  seed?: number;
  name?: string;
}

function multinomialImpl(logits: TensorLike, numSamples: TensorLike, dtype: DType, seed: number | undefined, defaultName: string, name?: string): Tensor {
  if (dtype !== 'int32' && dtype !== 'int64') throw new InvalidArgumentError(`${defaultName}: dtype must be int32 or int64, got ${dtype}`);
  const g = graphOf([logits, numSamples]);
  return g.asDefault(() =>
    g.nameScope(name ?? defaultName, () => {
      const l = convertToTensor(logits, undefined, 'logits');
      const n = convertToTensor(numSamples, 'int32', 'num_samples');
      const [seed1, seed2] = getSeed(seed, g);
      return g.createOp('Multinomial', [l, n], { seed: seed1, seed2, T: l.dtype, output_dtype: dtype }, { name: 'Multinomial' }).outputs[0]!;
    }),
  );
}

/**
 * tf.random.categorical: numSamples class indices per row of logits [batch, classes], drawn from
 * softmax(logits) (op Multinomial); the result is [batch, numSamples], int64 unless dtype says int32.
 */
export function categorical(logits: TensorLike, numSamples: TensorLike, opts: CategoricalOptions = {}): Tensor {
  return multinomialImpl(logits, numSamples, opts.dtype ?? 'int64', opts.seed, 'categorical', opts.name);
}

export interface MultinomialOptions {
  seed?: number;
  name?: string;
  /** int64 (the default) or int32. */
  outputDtype?: DType;
}

/** TF1's tf.multinomial (deprecated alias of tf.random.categorical, under the name scope 'multinomial'). */
export function multinomial(logits: TensorLike, numSamples: TensorLike, opts: MultinomialOptions = {}): Tensor {
  return multinomialImpl(logits, numSamples, opts.outputDtype ?? 'int64', opts.seed, 'multinomial', opts.name);
}

/** The tf.random namespace (TF 1.15's aliases of the functions above). */
export const random = {
  normal: randomNormal,
  uniform: randomUniform,
  truncatedNormal,
  categorical,
  multinomial,
};
