import * as tf from '../../src/index.js';
import * as I from '../../src/api/indexing.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

const int32 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(Int32Array.from(values), shape);
const int64 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(BigInt64Array.from(values.map(BigInt)), shape, 'int64');
const bools = (values: boolean[]): tf.NDArray => new tf.NDArray(Uint8Array.from(values.map(Number)), [values.length], 'bool');

export const indexingCases: GradCase[] = [
  {
    ops: ['GatherNd'],
    name: 'gatherNd with repeated indices (gradients add up)',
    inputs: [randomArray([3, 4, 2], { seed: 1 }), int32([1, 2, 0, 3, 1, 2], [3, 2])],
    build: (p, i) => I.gatherNd(p, i),
  },
  {
    ops: ['ScatterNd'],
    name: 'scatterNd of rows',
    inputs: [int32([2, 0, 2], [3, 1]), randomArray([3, 4], { seed: 2 })],
    build: (i, u) => I.scatterNd(i, u, [4, 4]),
  },
  {
    ops: ['TensorScatterUpdate'],
    name: 'tensorScatterUpdate: overwritten positions get no gradient from the tensor',
    inputs: [randomArray([4, 3], { seed: 3 }), int32([3, 1, 0, 2], [2, 2]), randomArray([2], { seed: 4 })],
    build: (t, i, u) => I.tensorScatterUpdate(t, i, u),
  },
  {
    ops: ['TensorScatterAdd'],
    name: 'tensorScatterAdd of rows',
    inputs: [randomArray([4, 3], { seed: 5 }), int32([1, 3], [2, 1]), randomArray([2, 3], { seed: 6 })],
    build: (t, i, u) => I.tensorScatterAdd(t, i, u),
  },
  {
    ops: ['TensorScatterSub'],
    name: 'tensorScatterSub of rows',
    inputs: [randomArray([4, 3], { seed: 7 }), int32([0, 2], [2, 1]), randomArray([2, 3], { seed: 8 })],
    build: (t, i, u) => I.tensorScatterSub(t, i, u),
  },
  {
    ops: ['SparseToDense'],
    name: 'sparseToDense: values and the default value',
    inputs: [int32([0, 1, 1, 3, 2, 0], [3, 2]), randomArray([3], { seed: 9 }), randomArray([], { seed: 10 })],
    build: (i, v, d) => I.sparseToDense(i, [3, 4], v, { defaultValue: d }),
  },
  {
    ops: ['ReverseV2'],
    name: 'reverse two axes',
    inputs: [randomArray([2, 3, 4], { seed: 11 })],
    build: (x) => I.reverse(x, [0, -1]),
  },
  {
    ops: ['Reverse'],
    name: 'Reverse with bool dims',
    inputs: [randomArray([3, 2, 2], { seed: 12 }), bools([true, false, true])],
    build: (x, d) => I.reverseV1(x, d),
  },
  {
    ops: ['ReverseSequence'],
    name: 'reverseSequence along axis 1, batch axis 0',
    inputs: [randomArray([3, 4, 2], { seed: 13 }), int64([2, 4, 0])],
    build: (x, l) => I.reverseSequence(x, l, { seqAxis: 1, batchAxis: 0 }),
  },
  {
    ops: ['MirrorPad', 'MirrorPadGrad'],
    name: 'REFLECT pad (its gradient is MirrorPadGrad)',
    inputs: [randomArray([3, 4], { seed: 14 })],
    build: (x) => I.pad(x, [[2, 1], [1, 3]], 'REFLECT'),
  },
  {
    ops: ['MirrorPad', 'MirrorPadGrad'],
    name: 'MirrorPadGrad in SYMMETRIC mode (its gradient is MirrorPad)',
    inputs: [randomArray([5, 6], { seed: 15 })],
    build: (x) => I.mirrorPadGrad(x, [[1, 1], [2, 1]], 'SYMMETRIC'),
  },
  {
    ops: ['SpaceToBatchND'],
    name: 'spaceToBatchNd with padding',
    inputs: [randomArray([1, 3, 4, 2], { seed: 16 })],
    build: (x) => I.spaceToBatchNd(x, [2, 2], [[1, 0], [0, 0]]),
  },
  {
    ops: ['BatchToSpaceND'],
    name: 'batchToSpaceNd with crops',
    inputs: [randomArray([4, 2, 2, 1], { seed: 17 })],
    build: (x) => I.batchToSpaceNd(x, [2, 2], [[0, 1], [1, 0]]),
  },
  {
    ops: ['SpaceToDepth'],
    name: 'spaceToDepth block 2',
    inputs: [randomArray([1, 4, 2, 2], { seed: 18 })],
    build: (x) => I.spaceToDepth(x, 2),
  },
  {
    ops: ['DepthToSpace'],
    name: 'depthToSpace block 2',
    inputs: [randomArray([1, 2, 1, 8], { seed: 19 })],
    build: (x) => I.depthToSpace(x, 2),
  },
  {
    ops: ['MatrixBandPart'],
    name: 'matrixBandPart of a batch of matrices',
    inputs: [randomArray([2, 3, 4], { seed: 20 })],
    build: (x) => I.matrixBandPart(x, 1, 0),
  },
  {
    ops: ['Gather'],
    name: 'Gather (v1) with a repeated index',
    inputs: [randomArray([4, 3], { seed: 21 }), int32([3, 0, 3], [3])],
    build: (p, i) => I.gatherV1(p, i),
  },
  {
    ops: ['Concat'],
    name: 'Concat (v1) along axis 1',
    inputs: [randomArray([2, 3], { seed: 22 }), randomArray([2, 1], { seed: 23 })],
    build: (a, b) => I.concatV1(1, [a, b]),
  },
  {
    ops: ['BatchMatMul'],
    name: 'BatchMatMul (v1) with adj_y',
    inputs: [randomArray([2, 3, 4], { seed: 24 }), randomArray([2, 2, 4], { seed: 25 })],
    build: (x, y) => I.batchMatMulV1(x, y, { adjY: true }),
  },
  {
    ops: ['BatchMatMul'],
    name: 'BatchMatMul (v1) with adj_x',
    inputs: [randomArray([2, 4, 3], { seed: 26 }), randomArray([2, 4, 2], { seed: 27 })],
    build: (x, y) => I.batchMatMulV1(x, y, { adjX: true }),
  },
  {
    ops: ['Einsum'],
    name: 'einsum matrix product',
    inputs: [randomArray([2, 3], { seed: 28 }), randomArray([3, 4], { seed: 29 })],
    build: (a, b) => I.einsum('ij,jk->ik', a, b),
  },
  {
    ops: ['Einsum'],
    name: 'einsum with a reduced label only one operand has (abc,cd->ad)',
    inputs: [randomArray([2, 3, 2], { seed: 30 }), randomArray([2, 3], { seed: 31 })],
    build: (a, b) => I.einsum('abc,cd->ad', a, b),
  },
  {
    ops: ['Einsum'],
    name: 'einsum unary: transpose, diagonal and trace with reductions',
    inputs: [randomArray([3, 3, 2], { seed: 32 })],
    build: (x) => [I.einsum('iij->ji', x), I.einsum('iij->', x), I.einsum('ijk->kj', x), I.einsum('ijk->i', x)],
  },
  {
    ops: ['Einsum'],
    name: 'einsum unary with a repeated output label (i->ii)',
    inputs: [randomArray([3], { seed: 33 })],
    build: (x) => I.einsum('i->ii', x),
  },
  {
    ops: ['Einsum'],
    name: 'einsum with broadcast batch dims (un-broadcast gradients)',
    inputs: [randomArray([2, 1, 2, 3], { seed: 34 }), randomArray([3, 3, 2], { seed: 35 })],
    build: (a, b) => I.einsum('...ij,...jk->...ik', a, b),
  },
];
