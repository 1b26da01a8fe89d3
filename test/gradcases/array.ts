import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

const int32 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(Int32Array.from(values), shape);
/** Hides static dims (a PlaceholderWithDefault of a partial shape), forcing the dynamic gradient paths. */
const unknownDims = (x: tf.Tensor, shape: (number | null)[] | null): tf.Tensor => tf.placeholderWithDefault(x, shape);
const sq = (x: tf.Tensor): tf.Tensor => tf.multiply(x, x);

export const arrayCases: GradCase[] = [
  {
    ops: ['Fill'],
    name: 'fill a matrix with a scalar',
    inputs: [randomArray([], { seed: 1 })],
    build: (v) => tf.fill([2, 3], v),
  },
  {
    ops: ['Reshape'],
    name: 'reshape [2,3,2] -> [3,-1]',
    inputs: [randomArray([2, 3, 2], { seed: 2 })],
    build: (x) => tf.reshape(x, [3, -1]),
  },
  {
    ops: ['Reshape'],
    name: 'reshape of an input with unknown dims (dynamic shape)',
    inputs: [randomArray([2, 3], { seed: 3 })],
    build: (x) => {
      const y = tf.reshape(unknownDims(x, [null, 3]), [-1]);
      return tf.reshape(y, [6]);
    },
  },
  {
    ops: ['Transpose'],
    name: 'transpose with a constant perm',
    inputs: [randomArray([2, 3, 4], { seed: 4 })],
    build: (x) => tf.transpose(x, [2, 0, 1]),
  },
  {
    ops: ['Transpose'],
    name: 'transpose with a fed perm (InvertPermutation)',
    inputs: [randomArray([2, 3, 2], { seed: 5 }), int32([1, 2, 0])],
    build: (x, p) => tf.reshape(tf.transpose(x, p), [3, 2, 2]),
  },
  {
    ops: ['ExpandDims'],
    name: 'expandDims at -1',
    inputs: [randomArray([2, 3], { seed: 6 })],
    build: (x) => tf.expandDims(x, -1),
  },
  {
    ops: ['Squeeze'],
    name: 'squeeze listed dims',
    inputs: [randomArray([1, 3, 1, 2], { seed: 7 })],
    build: (x) => tf.squeeze(x, [0, 2]),
  },
  {
    ops: ['BroadcastTo'],
    name: 'broadcastTo adds leading dims and expands size-1 dims',
    inputs: [randomArray([3, 1], { seed: 8 })],
    build: (x) => tf.broadcastTo(x, [2, 3, 4]),
  },
  {
    ops: ['BroadcastTo'],
    name: 'broadcastTo of an input with unknown dims (BroadcastGradientArgs)',
    inputs: [randomArray([1, 3], { seed: 9 })],
    build: (x) => tf.reshape(tf.broadcastTo(unknownDims(x, [null, null]), [2, 3]), [2, 3]),
  },
  {
    ops: ['ConcatV2'],
    name: 'concat of three values on axis -1',
    inputs: [randomArray([2, 1], { seed: 10 }), randomArray([2, 3], { seed: 11 }), randomArray([2, 2], { seed: 12 })],
    build: (a, b, c) => tf.concat([a, b, c], -1),
  },
  {
    ops: ['ConcatV2'],
    name: 'concat of values with unknown dims (ConcatOffset + Slice)',
    inputs: [randomArray([2, 2], { seed: 13 }), randomArray([1, 2], { seed: 14 })],
    build: (a, b) => tf.reshape(tf.concat([unknownDims(a, [null, 2]), unknownDims(b, [null, 2])], 0), [3, 2]),
  },
  {
    ops: ['Split'],
    name: 'split in 3 along axis 1, two outputs used',
    inputs: [randomArray([2, 6], { seed: 15 })],
    build: (x) => {
      const [a, , c] = tf.split(x, 3, 1);
      return [a!, c!];
    },
  },
  {
    ops: ['SplitV'],
    name: 'split by sizes with a -1',
    inputs: [randomArray([5, 2], { seed: 16 })],
    build: (x) => tf.split(x, [1, -1, 2], 0),
  },
  {
    ops: ['Pack'],
    name: 'stack on axis 1',
    inputs: [randomArray([2, 3], { seed: 17 }), randomArray([2, 3], { seed: 18 })],
    build: (a, b) => tf.stack([a, b], 1),
  },
  {
    ops: ['Unpack'],
    name: 'unstack on axis -1',
    inputs: [randomArray([2, 3], { seed: 19 })],
    build: (x) => tf.unstack(x, { axis: -1 }),
  },
  {
    ops: ['Slice', 'Pad'],
    name: 'slice with size -1 (its gradient is a Pad)',
    inputs: [randomArray([3, 4], { seed: 20 })],
    build: (x) => tf.slice(x, [1, 1], [-1, 2]),
  },
  {
    ops: ['Slice'],
    name: 'slice with a fed begin (dynamic paddings)',
    inputs: [randomArray([3, 4], { seed: 21 }), int32([1, 0])],
    build: (x, b) => tf.reshape(tf.slice(x, b, [2, 3]), [2, 3]),
  },
  {
    ops: ['StridedSlice'],
    name: 'stridedSlice with negative strides, masks, shrink and new axis',
    inputs: [randomArray([3, 4, 2], { seed: 22 })],
    build: (x) => [
      tf.stridedSlice(x, [-1, 0, 1], [0, 4, 0], [-1, 2, 1], { beginMask: 0, endMask: 1, shrinkAxisMask: 4 }),
      tf.stridedSlice(x, [0, 1], [0, 3], [1, 1], { ellipsisMask: 1, newAxisMask: 0 }),
      tf.stridedSlice(x, [1, 0, 0], [2, 0, 0], [1, 1, 1], { newAxisMask: 2, endMask: 4, beginMask: 4, shrinkAxisMask: 1 }),
    ],
  },
  {
    ops: ['StridedSliceGrad'],
    name: 'gradient of StridedSliceGrad wrt dy is a strided slice (second order)',
    inputs: [randomArray([4, 3], { seed: 23 }), randomArray([2, 3], { seed: 24 })],
    wrt: [1],
    build: (x, dy) => tf.gradients(tf.stridedSlice(x, [3, 0], [0, 3], [-2, 1]), x, dy)[0]!,
  },
  {
    ops: ['GatherV2', 'UnsortedSegmentSum'],
    name: 'gather rows with repeated indices (dense gradient)',
    inputs: [randomArray([4, 3], { seed: 25 }), int32([2, 0, 2, 3, 2], [5])],
    build: (p, i) => tf.gather(p, i),
  },
  {
    ops: ['GatherV2'],
    name: 'gather on axis 1 with int64 matrix indices',
    inputs: [randomArray([2, 4, 2], { seed: 26 }), new tf.NDArray(BigInt64Array.from([3n, 0n, 3n, 1n]), [2, 2])],
    build: (p, i) => tf.gather(p, i, 1),
  },
  {
    ops: ['GatherV2'],
    name: 'gather on axis 0 of params with unknown dims',
    inputs: [randomArray([3, 2], { seed: 27 }), int32([1, 1, 0])],
    build: (p, i) => tf.reshape(tf.gather(unknownDims(p, [null, null]), i), [3, 2]),
  },
  {
    ops: ['UnsortedSegmentSum'],
    name: 'unsortedSegmentSum with a dropped (negative) id',
    inputs: [randomArray([4, 2], { seed: 28 }), int32([1, -1, 0, 1])],
    build: (d, ids) => tf.unsortedSegmentSum(d, ids, 3),
  },
  {
    ops: ['GatherV2', 'UnsortedSegmentSum'],
    name: 'second order through gather: d/dx of the gradient of sum(gather(x)^2)',
    inputs: [randomArray([3, 2], { seed: 29 })],
    build: (x) => tf.gradients(tf.reduceSum(sq(tf.gather(x, [0, 2, 0]))), x)[0]!,
  },
  {
    ops: ['Tile'],
    name: 'tile a matrix',
    inputs: [randomArray([2, 3], { seed: 30 })],
    build: (x) => tf.tile(x, [2, 2]),
  },
  {
    ops: ['Tile'],
    name: 'tile with fed multiples (dynamic gradient)',
    inputs: [randomArray([2, 2], { seed: 31 }), int32([1, 3])],
    build: (x, m) => tf.reshape(tf.tile(x, m), [2, 6]),
  },
  {
    ops: ['Tile'],
    name: 'second order through tile',
    inputs: [randomArray([2, 2], { seed: 32 })],
    build: (x) => tf.gradients(tf.reduceSum(sq(tf.tile(x, [1, 3]))), x)[0]!,
  },
  {
    ops: ['Pad', 'Slice'],
    name: 'pad with constant paddings (its gradient is a Slice)',
    inputs: [randomArray([2, 3], { seed: 33 })],
    build: (x) => tf.pad(x, [[1, 0], [2, 1]]),
  },
  {
    ops: ['PadV2'],
    name: 'pad with a constant value and fed paddings',
    inputs: [randomArray([2, 2], { seed: 34 }), int32([0, 1, 1, 1], [2, 2])],
    build: (x, p) => tf.reshape(tf.pad(x, p, 3), [3, 4]),
  },
  {
    ops: ['Pad', 'Slice'],
    name: 'second order through pad and slice',
    inputs: [randomArray([2, 2], { seed: 35 })],
    build: (x) => tf.gradients(tf.reduceSum(sq(tf.slice(tf.pad(x, [[1, 1], [0, 1]]), [1, 0], [2, 3]))), x)[0]!,
  },
];
