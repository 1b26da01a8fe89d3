import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray, rng } from '../helpers.js';

/** Values pairwise at least 1/n * 0.8 apart (so max pooling stays away from ties under finite differences). */
function distinct(shape: number[], seed: number): tf.NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * (0.8 / n) * 2);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  return new tf.NDArray(Float32Array.from(vals), shape);
}

const r = (shape: number[], seed: number) => randomArray(shape, { seed });

export const convCases: GradCase[] = [
  {
    ops: ['Conv2D'],
    name: 'conv2d NHWC SAME stride 1',
    inputs: [r([1, 3, 4, 2], 1), r([2, 2, 2, 2], 2)],
    build: (x, f) => tf.nn.conv2d(x!, f!, 1, 'SAME'),
  },
  {
    ops: ['Conv2D'],
    name: 'conv2d NCHW VALID stride 2, batch 2',
    inputs: [r([2, 1, 4, 3], 3), r([2, 2, 1, 2], 4)],
    build: (x, f) => tf.nn.conv2d(x!, f!, 2, 'VALID', { dataFormat: 'NCHW' }),
  },
  {
    ops: ['Conv2D'],
    name: 'conv2d dilation 2, explicit padding',
    inputs: [r([1, 4, 5, 1], 5), r([2, 2, 1, 2], 6)],
    build: (x, f) => tf.nn.conv2d(x!, f!, 1, [[0, 0], [1, 0], [0, 1], [0, 0]], { dilations: 2 }),
  },
  {
    ops: ['Conv2DBackpropInput'],
    name: 'conv2d_backprop_input SAME stride 2 (conv2dTranspose)',
    inputs: [r([2, 2, 2, 3], 7), r([1, 2, 2, 3], 8)],
    build: (f, dy) => tf.nn.conv2dBackpropInput([1, 4, 4, 2], f!, dy!, 2, 'SAME'),
  },
  {
    ops: ['Conv2DBackpropInput'],
    name: 'conv2dTranspose NCHW VALID',
    inputs: [r([1, 2, 2, 2], 9), r([2, 2, 2, 2], 10)],
    build: (v, f) => tf.nn.conv2dTranspose(v!, f!, [1, 2, 3, 3], 1, 'VALID', { dataFormat: 'NCHW' }),
  },
  {
    ops: ['Conv2DBackpropFilter'],
    name: 'conv2d_backprop_filter SAME',
    inputs: [r([1, 3, 3, 2], 11), r([1, 3, 3, 2], 12)],
    build: (x, dy) => tf.nn.conv2dBackpropFilter(x!, [2, 2, 2, 2], dy!, 1, 'SAME'),
  },
  {
    ops: ['Conv2DBackpropFilter'],
    name: 'conv2d_backprop_filter NCHW stride 2 VALID',
    inputs: [r([1, 2, 5, 3], 13), r([1, 2, 2, 1], 14)],
    build: (x, dy) => tf.nn.conv2dBackpropFilter(x!, [2, 2, 2, 2], dy!, 2, 'VALID', { dataFormat: 'NCHW' }),
  },
  {
    ops: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
    name: 'second order: d/d(x, f) of the input gradient J^T y of y = conv2d(x, f)',
    inputs: [r([1, 3, 3, 2], 15), r([2, 2, 2, 2], 16)],
    build: (x, f) => {
      const y = tf.nn.conv2d(x!, f!, 1, 'SAME');
      return tf.gradients(y, x!, y)[0]!;
    },
  },
  {
    ops: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
    name: 'second order: d/d(x, f) of the filter gradient of y = conv2d(x, f), NCHW stride 2',
    inputs: [r([1, 2, 4, 3], 17), r([2, 2, 2, 2], 18)],
    build: (x, f) => {
      const y = tf.nn.conv2d(x!, f!, 2, 'SAME', { dataFormat: 'NCHW' });
      return tf.gradients(y, f!, y)[0]!;
    },
  },
  {
    ops: ['DepthwiseConv2dNative'],
    name: 'depthwise_conv2d SAME, multiplier 2',
    inputs: [r([1, 3, 3, 2], 19), r([2, 2, 2, 2], 20)],
    build: (x, f) => tf.nn.depthwiseConv2d(x!, f!, 1, 'SAME'),
  },
  {
    ops: ['DepthwiseConv2dNative'],
    name: 'depthwise_conv2d NCHW VALID stride 2 rate 1',
    inputs: [r([1, 2, 5, 4], 21), r([2, 2, 2, 1], 22)],
    build: (x, f) => tf.nn.depthwiseConv2d(x!, f!, 2, 'VALID', { dataFormat: 'NCHW' }),
  },
  {
    ops: ['DepthwiseConv2dNativeBackpropInput'],
    name: 'depthwise_conv2d_native_backprop_input',
    inputs: [r([2, 2, 2, 2], 23), r([1, 2, 2, 4], 24)],
    build: (f, dy) => tf.nn.depthwiseConv2dNativeBackpropInput([1, 3, 3, 2], f!, dy!, 2, 'SAME'),
  },
  {
    ops: ['DepthwiseConv2dNativeBackpropFilter'],
    name: 'depthwise_conv2d_native_backprop_filter',
    inputs: [r([1, 3, 3, 2], 25), r([1, 3, 3, 4], 26)],
    build: (x, dy) => tf.nn.depthwiseConv2dNativeBackpropFilter(x!, [2, 2, 2, 2], dy!, 1, 'SAME'),
  },
  {
    ops: ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'],
    name: 'second order through depthwise_conv2d (input and filter gradients)',
    inputs: [r([1, 3, 3, 2], 27), r([2, 2, 2, 1], 28)],
    build: (x, f) => {
      const y = tf.nn.depthwiseConv2d(x!, f!, 1, 'SAME');
      return tf.gradients(y, [x!, f!], y) as tf.Tensor[];
    },
  },
  {
    ops: ['MaxPool'],
    name: 'max_pool SAME 3x3 stride 2',
    inputs: [distinct([1, 5, 4, 1], 29)],
    build: (x) => tf.nn.maxPool(x!, 3, 2, 'SAME'),
  },
  {
    ops: ['MaxPool'],
    name: 'max_pool NCHW VALID 2x2',
    inputs: [distinct([1, 2, 4, 3], 30)],
    build: (x) => tf.nn.maxPool(x!, [2, 2], [1, 1], 'VALID', { dataFormat: 'NCHW' }),
  },
  {
    ops: ['MaxPoolGrad'],
    name: 'max_pool_grad (wrt orig_input: zero; wrt grad: scatter to the argmax)',
    inputs: [distinct([1, 4, 4, 1], 31), r([1, 2, 2, 1], 32)],
    build: (x, g) => tf.gradients(tf.nn.maxPool(x!, 2, 2, 'SAME'), x!, g!)[0]!,
  },
  {
    ops: ['MaxPoolGradGrad'],
    name: 'max_pool_grad_grad (gather at the argmax) and its gradient',
    inputs: [distinct([1, 4, 3, 2], 33), r([1, 2, 2, 2], 34), r([1, 4, 3, 2], 35)],
    build: (x, g, h) => {
      const dx = tf.gradients(tf.nn.maxPool(x!, 2, 2, 'SAME'), x!, g!)[0]!;
      return tf.gradients(dx, g!, h!)[0]!;
    },
    wrt: [0, 2],
  },
  {
    ops: ['AvgPool'],
    name: 'avg_pool SAME 3x3 stride 2 (edge windows average fewer elements)',
    inputs: [r([1, 4, 5, 1], 36)],
    build: (x) => tf.nn.avgPool(x!, 3, 2, 'SAME'),
  },
  {
    ops: ['AvgPool'],
    name: 'avg_pool NCHW VALID',
    inputs: [r([2, 2, 3, 3], 37)],
    build: (x) => tf.nn.avgPool(x!, 2, 1, 'VALID', { dataFormat: 'NCHW' }),
  },
  {
    ops: ['AvgPoolGrad'],
    name: 'avg_pool_grad',
    inputs: [r([1, 4, 4, 2], 38), r([1, 2, 2, 2], 39)],
    build: (x, g) => tf.gradients(tf.nn.avgPool(x!, 3, 2, 'SAME'), x!, g!)[0]!,
    wrt: [1],
  },
];
