import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

// tf.nn functions composed from other ops (moments, batch_normalization, l2_normalize,
// embedding_lookup): they add no op types, so `ops` is empty; each case checks the composition.

/** d/dx sum(c * f(x)^2) for a fixed random c: a gradient whose own gradient is checked (second order). */
function gradOfWeightedSquare(f: (x: tf.Tensor) => tf.Tensor, c: tf.NDArray): (x: tf.Tensor) => tf.Tensor {
  return (x) => {
    const y = f(x);
    return tf.gradients(tf.reduceSum(tf.multiply(tf.constant(c), tf.multiply(y, y))), x)[0]!;
  };
}

/** Normalizes x with its own batch statistics over axis 0 (what batch norm does in training). */
function selfNormalize(x: tf.Tensor, offset?: tf.Tensor, scale?: tf.Tensor): tf.Tensor {
  const [m, v] = tf.nn.moments(x, [0]);
  return tf.nn.batchNormalization(x, m, v, offset ?? null, scale ?? null, 1e-3);
}

export const nnExtraCases: GradCase[] = [
  {
    ops: [],
    name: 'moments over axis 0: mean and variance',
    inputs: [randomArray([4, 3], { seed: 501, min: -2, max: 2 })],
    build: (x) => tf.nn.moments(x!, [0]),
  },
  {
    ops: [],
    name: 'moments over N, H, W of an NHWC tensor, keepdims',
    inputs: [randomArray([2, 2, 2, 3], { seed: 502 })],
    build: (x) => tf.nn.moments(x!, [0, 1, 2], { keepdims: true }),
  },
  {
    ops: [],
    name: 'batchNormalization wrt x, mean, variance, offset and scale',
    inputs: [
      randomArray([4, 3], { seed: 503 }),
      randomArray([3], { seed: 504 }),
      randomArray([3], { seed: 505, min: 0.5, max: 1.5 }),
      randomArray([3], { seed: 506 }),
      randomArray([3], { seed: 507, min: 0.5, max: 2 }),
    ],
    build: (x, mean, variance, offset, scale) => tf.nn.batchNormalization(x!, mean!, variance!, offset!, scale!, 1e-3),
  },
  {
    ops: [],
    name: 'batch statistics normalization (moments into batchNormalization) with offset and scale',
    inputs: [randomArray([5, 2], { seed: 508, min: -1, max: 2 }), randomArray([2], { seed: 509 }), randomArray([2], { seed: 510, min: 0.5, max: 2 })],
    build: (x, offset, scale) => selfNormalize(x!, offset, scale),
  },
  {
    ops: [],
    name: 'second order: gradient of a weighted square of a self-normalized batch',
    inputs: [randomArray([4, 2], { seed: 511, min: -1, max: 2 })],
    build: gradOfWeightedSquare((x) => selfNormalize(x), randomArray([4, 2], { seed: 512, min: 0.5, max: 1.5 })),
  },
  {
    ops: [],
    name: 'l2Normalize along axis 1',
    inputs: [randomArray([3, 4], { seed: 513, min: 0.2, max: 1.5 })],
    build: (x) => tf.nn.l2Normalize(x!, 1),
  },
  {
    ops: [],
    name: 'l2Normalize over all axes, second order',
    inputs: [randomArray([2, 3], { seed: 514, min: 0.2, max: 1.5 })],
    build: gradOfWeightedSquare((x) => tf.nn.l2Normalize(x), randomArray([2, 3], { seed: 515, min: 0.5, max: 1.5 })),
  },
  {
    ops: [],
    name: 'embeddingLookup wrt params (repeated ids accumulate)',
    inputs: [randomArray([5, 2], { seed: 516 }), new tf.NDArray(Int32Array.of(0, 3, 3, 4), [2, 2])],
    build: (params, ids) => tf.nn.embeddingLookup(params!, ids!),
  },
];
