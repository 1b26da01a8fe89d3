import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

export const coreCases: GradCase[] = [
  {
    ops: ['Identity'],
    name: 'identity of a matrix',
    inputs: [randomArray([2, 3], { seed: 1 })],
    build: (x) => tf.identity(x),
  },
  {
    ops: ['PlaceholderWithDefault'],
    name: 'gradient flows to the default value',
    inputs: [randomArray([3], { seed: 2 })],
    build: (x) => tf.placeholderWithDefault(x, [3]),
  },
];
