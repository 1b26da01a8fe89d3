import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

/** TF1's 'Add' (ops/compat.ts), as graphs written by older TensorFlow hold it. */
function add(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.getDefaultGraph().createOp('Add', [a, b], { T: a.dtype }).outputs[0]!;
}

export const compatCases: GradCase[] = [
  { ops: ['Add'], name: 'same shape', inputs: [randomArray([2, 3], { seed: 1 }), randomArray([2, 3], { seed: 2 })], build: add },
  { ops: ['Add'], name: 'broadcast', inputs: [randomArray([2, 3], { seed: 3 }), randomArray([3], { seed: 4 })], build: add },
];
