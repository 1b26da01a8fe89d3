import * as tf from '../../src/index.js';
import * as nn3 from '../../src/api/conv3d.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray, rng } from '../helpers.js';

/** Values pairwise at least 1.6/n apart (so maxima stay away from ties under finite differences). */
function distinct(shape: number[], seed: number): tf.NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * (1.6 / n));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  return new tf.NDArray(Float32Array.from(vals), shape);
}

const r = (shape: number[], seed: number) => randomArray(shape, { seed });

/** A dilation filter small next to the spacing of distinct() inputs: the input alone decides each maximum. */
function smallFilter(shape: number[], seed: number): tf.NDArray {
  return new tf.NDArray(Float32Array.from(distinct(shape, seed).data as Float32Array, (v) => v * 0.01), shape);
}

export const conv3dCases: GradCase[] = [
  {
    ops: ['Conv3D'],
    name: 'conv3d NDHWC SAME stride 1',
    inputs: [r([1, 3, 3, 2, 2], 1), r([2, 2, 1, 2, 2], 2)],
    build: (x, f) => nn3.conv3d(x!, f!, 1, 'SAME'),
  },
  {
    ops: ['Conv3D'],
    name: 'conv3d NCDHW VALID stride 2, dilation in depth',
    inputs: [r([1, 2, 4, 3, 3], 3), r([2, 2, 1, 2, 1], 4)],
    build: (x, f) => nn3.conv3d(x!, f!, [1, 2, 1], 'VALID', { dataFormat: 'NCDHW', dilations: [2, 1, 1] }),
  },
  {
    ops: ['Conv3DBackpropInputV2'],
    name: 'conv3d_transpose SAME stride 2',
    inputs: [r([1, 2, 1, 2, 2], 5), r([2, 2, 2, 3, 2], 6)],
    build: (v, f) => nn3.conv3dTranspose(v!, f!, [1, 3, 2, 3, 3], 2, 'SAME'),
  },
  {
    ops: ['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2'],
    name: 'second order: d/d(x, f) of the input and filter gradients of y = conv3d(x, f)',
    inputs: [r([1, 3, 2, 3, 2], 7), r([2, 2, 2, 2, 2], 8)],
    build: (x, f) => {
      const y = nn3.conv3d(x!, f!, 1, 'SAME');
      return tf.gradients(y, [x!, f!], y) as tf.Tensor[];
    },
  },
  {
    ops: ['Conv3DBackpropFilterV2'],
    name: 'conv3d filter gradient (NCDHW, stride 2) differentiated',
    inputs: [r([1, 1, 3, 3, 4], 9), r([2, 1, 2, 1, 2], 10)],
    build: (x, f) => {
      const y = nn3.conv3d(x!, f!, 2, 'VALID', { dataFormat: 'NCDHW' });
      return tf.gradients(y, f!, y)[0]!;
    },
  },
  {
    ops: ['MaxPool3D'],
    name: 'max_pool3d SAME 2x2x2 stride 2',
    inputs: [distinct([1, 3, 3, 2, 2], 11)],
    build: (x) => nn3.maxPool3d(x!, 2, 2, 'SAME'),
  },
  {
    ops: ['MaxPool3D'],
    name: 'max_pool3d NCDHW VALID',
    inputs: [distinct([1, 2, 3, 2, 3], 12)],
    build: (x) => nn3.maxPool3d(x!, [2, 1, 2], 1, 'VALID', { dataFormat: 'NCDHW' }),
  },
  {
    ops: ['MaxPool3DGrad'],
    name: 'max_pool3d_grad (zero wrt orig_input; scatter to the max wrt grad)',
    inputs: [distinct([1, 3, 2, 3, 1], 13), r([1, 2, 1, 2, 1], 14)],
    build: (x, g) => tf.gradients(nn3.maxPool3d(x!, 2, 2, 'SAME'), x!, g!)[0]!,
  },
  {
    ops: ['MaxPool3DGradGrad'],
    name: 'max_pool3d_grad_grad (gather at the max) and its gradient',
    inputs: [distinct([1, 2, 3, 2, 2], 15), r([1, 1, 2, 1, 2], 16), r([1, 2, 3, 2, 2], 17)],
    build: (x, g, h) => {
      const dx = tf.gradients(nn3.maxPool3d(x!, 2, 2, 'SAME'), x!, g!)[0]!;
      return tf.gradients(dx, g!, h!)[0]!;
    },
    wrt: [0, 2],
  },
  {
    ops: ['AvgPool3D'],
    name: 'avg_pool3d SAME 3x2x2 stride 2 (edge windows average fewer)',
    inputs: [r([1, 3, 3, 3, 2], 18)],
    build: (x) => nn3.avgPool3d(x!, [3, 2, 2], 2, 'SAME'),
  },
  {
    ops: ['AvgPool3DGrad'],
    name: 'avg_pool3d_grad NCDHW',
    inputs: [r([1, 2, 3, 2, 3], 19), r([1, 2, 2, 1, 2], 20)],
    build: (x, g) => tf.gradients(nn3.avgPool3d(x!, 2, 1, 'VALID', { dataFormat: 'NCDHW' }), x!, g!)[0]!,
    wrt: [1],
  },
  {
    ops: ['Dilation2D'],
    name: 'dilation2d SAME stride 1 rate 2',
    inputs: [distinct([1, 4, 4, 2], 21), smallFilter([2, 2, 2], 22)],
    build: (x, f) => nn3.dilation2d(x!, f!, 1, 2, 'SAME'),
  },
  {
    ops: ['Dilation2D'],
    name: 'dilation2d VALID stride 2, batch 2',
    inputs: [distinct([2, 5, 4, 1], 23), smallFilter([2, 3, 1], 24)],
    build: (x, f) => nn3.dilation2d(x!, f!, 2, 1, 'VALID'),
  },
  {
    ops: ['MaxPoolWithArgmax'],
    name: 'max_pool_with_argmax SAME 3x3 stride 2 (gradient through the argmax)',
    inputs: [distinct([2, 4, 5, 2], 25)],
    build: (x) => nn3.maxPoolWithArgmax(x!, 3, 2, 'SAME')[0],
  },
  {
    ops: ['MaxPoolGradWithArgmax'],
    name: 'max_pool_grad_with_argmax (include_batch_in_index) and its gradient',
    inputs: [distinct([2, 4, 4, 1], 26), r([2, 2, 2, 1], 27)],
    build: (x, g) => tf.gradients(nn3.maxPoolWithArgmax(x!, 2, 2, 'VALID', { includeBatchInIndex: true })[0], x!, g!)[0]!,
  },
];
