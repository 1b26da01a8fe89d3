import * as tf from '../../src/index.js';
import { argsort, cumprod, cumsum, sort, topK } from '../../src/api/sort.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray, rng } from '../helpers.js';

/** Values at least `gap` apart in random order, so that top-k and sorting are stable under the finite-difference step. */
function distinct(shape: number[], seed: number, gap = 0.1): tf.NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const perm = Array.from({ length: n }, (_, i) => i).sort(() => r() - 0.5);
  return new tf.NDArray(Float32Array.from(perm, (p) => (p - n / 2) * gap), shape);
}

export const sortCases: GradCase[] = [
  ...[
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ].map(([exclusive, reverse]): GradCase => ({
    ops: ['Cumsum'],
    name: `cumsum along axis 1, exclusive=${exclusive}, reverse=${reverse}`,
    inputs: [randomArray([3, 4], { seed: 801 })],
    build: (x) => cumsum(x!, 1, { exclusive, reverse }),
  })),
  {
    ops: ['Cumsum'],
    name: 'cumsum along axis 0 of a 3-D tensor, second order through its own gradient',
    inputs: [randomArray([3, 2, 2], { seed: 802 })],
    build: (x) => {
      const y = cumsum(x!, 0, { reverse: true });
      return tf.gradients(tf.reduceSum(tf.multiply(y, y)), x!)[0]!;
    },
  },
  ...[
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ].map(([exclusive, reverse]): GradCase => ({
    ops: ['Cumprod'],
    name: `cumprod along axis -1 (no zeros), exclusive=${exclusive}, reverse=${reverse}`,
    inputs: [randomArray([2, 5], { seed: 803, min: 0.5, max: 1.5 })],
    build: (x) => cumprod(x!, -1, { exclusive, reverse }),
  })),
  {
    ops: ['TopKV2'],
    name: 'top-3 values of each row of a matrix',
    inputs: [distinct([3, 6], 804)],
    build: (x) => topK(x!, 3).values,
  },
  {
    ops: ['TopKV2'],
    name: 'top-k of a 3-D tensor, k equal to the row length, unsorted',
    inputs: [distinct([2, 2, 4], 805)],
    build: (x) => topK(x!, 4, false).values,
  },
  {
    ops: ['TopK'],
    name: 'TopK (k as an attr), top-2 of each row',
    inputs: [distinct([2, 5], 806)],
    build: (x) => tf.getDefaultGraph().createOp('TopK', [x!], { k: 2, sorted: true, T: 'float32' }).outputs[0]!,
  },
  {
    ops: [],
    name: 'tf.sort ascending along axis 0 (negations, transposes and TopKV2)',
    inputs: [distinct([4, 3], 807)],
    build: (x) => sort(x!, { axis: 0 }),
  },
  {
    ops: [],
    name: 'x gathered in tf.argsort order (descending): the gradient flows through the gather',
    inputs: [distinct([6], 808)],
    build: (x) => tf.gather(x!, argsort(x!, { direction: 'DESCENDING' })),
  },
];
