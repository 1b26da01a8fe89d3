import * as tf from '../../src/index.js';
import * as S from '../../src/api/sparse.js';
import * as R from '../../src/api/ragged.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

const int32 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(Int32Array.from(values), shape);
const int64 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(BigInt64Array.from(values.map(BigInt)), shape);
/** Data with distinct values: min/max selections have no ties that finite differences would straddle. */
const spread = (shape: number[], seed: number): tf.NDArray => {
  const x = randomArray(shape, { seed, min: -0.3, max: 0.3 });
  (x.data as Float32Array).forEach((v, i, d) => (d[i] = v + i * 0.5 - shape[0]!));
  return x;
};

export const sparseCases: GradCase[] = [
  {
    ops: ['SegmentSum', 'GatherV2'],
    name: 'segmentSum over sorted ids with an empty segment',
    inputs: [randomArray([5, 2], { seed: 1 })],
    build: (d) => S.segmentSum(d, [0, 0, 2, 2, 3]),
  },
  {
    ops: ['SegmentMean'],
    name: 'segmentMean of a rank-3 tensor',
    inputs: [randomArray([4, 2, 2], { seed: 2 })],
    build: (d) => S.segmentMean(d, [0, 1, 1, 1]),
  },
  {
    ops: ['SegmentMax', 'SegmentMin'],
    name: 'segmentMax and segmentMin (distinct values)',
    inputs: [spread([5, 2], 3)],
    build: (d) => [S.segmentMax(d, [0, 0, 1, 1, 1]), S.segmentMin(d, [0, 0, 1, 1, 1])],
  },
  {
    ops: ['SegmentProd'],
    name: 'segmentProd with a single zero in a segment',
    inputs: [new tf.NDArray(Float32Array.from([0.5, -1.2, 0, 0.8, 1.5, -0.7]), [6])],
    build: (d) => S.segmentProd(d, [0, 0, 1, 1, 1, 2]),
  },
  {
    ops: ['UnsortedSegmentMax', 'UnsortedSegmentMin'],
    name: 'unsortedSegmentMax / Min with a dropped id and an empty (sliced off) segment',
    inputs: [spread([5, 2], 4), int32([2, -1, 0, 2, 1])],
    build: (d, ids) => [S.unsortedSegmentMax(d, ids, 4), S.unsortedSegmentMin(d, ids, 4)].map((t) => tf.slice(t, [0, 0], [3, 2])),
  },
  {
    ops: ['UnsortedSegmentProd'],
    name: 'unsortedSegmentProd with a dropped id',
    inputs: [randomArray([5, 2], { seed: 5, min: 0.5, max: 1.5 }), int32([1, -1, 0, 1, 1])],
    build: (d, ids) => S.unsortedSegmentProd(d, ids, 3),
  },
  {
    ops: ['SparseSegmentSum', 'SparseSegmentSumWithNumSegments'],
    name: 'sparseSegmentSum with repeated indices, with and without num_segments',
    inputs: [randomArray([4, 3], { seed: 6 })],
    build: (d, i = tf.constant(int32([0, 2, 2, 3])), ids = tf.constant(int32([0, 0, 1, 3]))) => [S.sparseSegmentSum(d, i, ids), S.sparseSegmentSum(d, i, ids, { numSegments: 5 })],
  },
  {
    ops: ['SparseSegmentMean', 'SparseSegmentMeanWithNumSegments'],
    name: 'sparseSegmentMean (int64 indices), with and without num_segments',
    inputs: [randomArray([4, 2], { seed: 7 })],
    build: (d, i = tf.constant(int64([3, 1, 1, 0])), ids = tf.constant(int32([0, 0, 2, 2]))) => [S.sparseSegmentMean(d, i, ids), S.sparseSegmentMean(d, i, ids, { numSegments: 4 })],
  },
  {
    ops: ['SparseSegmentSqrtN', 'SparseSegmentSqrtNWithNumSegments'],
    name: 'sparseSegmentSqrtN, with and without num_segments',
    inputs: [randomArray([3, 2], { seed: 8 })],
    build: (d, i = tf.constant(int32([0, 2, 1, 2, 0])), ids = tf.constant(int32([0, 0, 0, 1, 1]))) => [S.sparseSegmentSqrtN(d, i, ids), S.sparseSegmentSqrtN(d, i, ids, { numSegments: 3 })],
  },
  {
    ops: ['SparseFillEmptyRows'],
    name: 'sparseFillEmptyRows: gradients of the values and of the default value',
    inputs: [randomArray([3], { seed: 9 }), randomArray([], { seed: 10 })],
    build: (v, dflt) => {
      const [sp] = S.sparseFillEmptyRows(new S.SparseTensor([[3, 1], [0, 0], [3, 0]], v, [5, 2]), dflt);
      return tf.reshape(sp.values, [6]);
    },
  },
  {
    ops: ['RaggedGather', 'RaggedRange'],
    name: 'raggedGather of two ragged levels with a repeated row (values gradient)',
    inputs: [randomArray([6, 2], { seed: 11 })],
    build: (v) => tf.reshape(R.raggedGather([tf.constant([0, 1, 3], 'int64'), tf.constant([0, 2, 3, 6], 'int64')], v, [1, 0, 1]).values, [10, 2]),
  },
  {
    ops: ['RaggedTensorToTensor'],
    name: 'raggedTensorToTensor with padding and truncation (values and a broadcast default)',
    inputs: [randomArray([7, 2], { seed: 12 }), randomArray([2], { seed: 13 })],
    build: (v, dflt) => R.raggedTensorToTensor([3, 3, 2], v, dflt, [tf.constant([0, 4, 4, 6, 7], 'int64')], ['ROW_SPLITS']),
  },
];
