import * as tf from '../../src/index.js';
import * as linalg from '../../src/api/linalg.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

// Matrices are kept well conditioned (a multiple of the identity added) and eigenvalues / singular
// values well separated. Eigenvectors and singular vectors are defined up to sign, so cases read
// them through their squares, which the sign does not change (as TF's own tests use functions
// invariant to that ambiguity).

/** x with `shift` added on the diagonal of each matrix. */
function shifted(shape: number[], seed: number, shift: number): tf.NDArray {
  const x = randomArray(shape, { seed });
  const n = shape[shape.length - 1]!;
  const d = x.data as Float32Array;
  for (let b = 0; b < d.length / (n * n); b++) for (let i = 0; i < n; i++) d[b * n * n + i * n + i]! += shift;
  return x;
}

/** A symmetric positive definite matrix built from a free x: x x^T + n I. */
function spd(x: tf.Tensor): tf.Tensor {
  const n = x.shape![x.shape!.length - 1]!;
  return tf.add(tf.matmul(x, x, { transposeB: true }), linalg.eye(n));
}

/** The symmetric part of x. */
const symmetric = (x: tf.Tensor): tf.Tensor => tf.multiply(tf.add(x, linalg.transpose(x)), 0.5);

/** A symmetric matrix with eigenvalues near 1, 2.5, 4 (well separated), from a free perturbation x. */
function separatedSymmetric(x: tf.Tensor): tf.Tensor {
  return tf.add(tf.multiply(symmetric(x), 0.3), tf.constant(tf.NDArray.from([[1, 0, 0], [0, 2.5, 0], [0, 0, 4]], 'float32')));
}

/** A band op of version V2 (no align attr; no TF1 function builds it) or V3 (through tf.linalg). */
function bandV2(type: string, inputs: tf.Tensor[]): tf.Tensor {
  return inputs[0]!.graph.createOp(`${type}V2`, inputs, { T: 'float32' }).outputs[0]!;
}
const int32 = (v: number | number[]): tf.Tensor => tf.constant(tf.NDArray.from(v, 'int32'));

export const linalgCases: GradCase[] = [
  { ops: ['MatrixDiag'], name: 'batch of vectors onto diagonals', inputs: [randomArray([2, 3], { seed: 1801 })], build: (x) => linalg.diag(x!) },
  { ops: ['MatrixDiagPart'], name: 'square batch', inputs: [randomArray([2, 3, 3], { seed: 1802 })], build: (x) => linalg.diagPart(x!) },
  { ops: ['MatrixDiagPart'], name: 'wide matrix', inputs: [randomArray([3, 4], { seed: 1803 })], build: (x) => linalg.diagPart(x!) },
  {
    ops: ['MatrixSetDiag'],
    name: 'input and diagonal, non-square batch',
    inputs: [randomArray([2, 3, 4], { seed: 1804 }), randomArray([2, 3], { seed: 1805 })],
    build: (x, d) => linalg.setDiag(x!, d!),
  },
  {
    ops: ['MatrixDiagPartV3'],
    name: 'band [-1, 2], LEFT_RIGHT, padded',
    inputs: [randomArray([2, 3, 4], { seed: 1840 })],
    build: (x) => linalg.diagPart(x!, { k: [-1, 2], align: 'LEFT_RIGHT', paddingValue: 5 }),
  },
  {
    ops: ['MatrixDiagV3'],
    name: 'band [-1, 1] into 3x4 matrices',
    inputs: [randomArray([2, 3, 3], { seed: 1841 })],
    build: (d) => linalg.diag(d!, { k: [-1, 1], numRows: 3, numCols: 4 }),
  },
  {
    ops: ['MatrixSetDiagV3'],
    name: 'band [0, 1], RIGHT_RIGHT, wrt input and diagonals',
    inputs: [randomArray([2, 3, 3], { seed: 1842 }), randomArray([2, 2, 3], { seed: 1843 })],
    build: (x, d) => linalg.setDiag(x!, d!, { k: [0, 1], align: 'RIGHT_RIGHT' }),
  },
  {
    ops: ['MatrixDiagPartV2', 'MatrixDiagV2', 'MatrixSetDiagV2'],
    name: 'V2 ops: band [-1, 1]',
    inputs: [randomArray([3, 4], { seed: 1844 }), randomArray([3, 3], { seed: 1845 })],
    build: (x, d) => [
      bandV2('MatrixDiagPart', [x!, int32([-1, 1]), tf.constant(0, 'float32')]),
      bandV2('MatrixDiag', [d!, int32([-1, 1]), int32(-1), int32(-1), tf.constant(0, 'float32')]),
      bandV2('MatrixSetDiag', [x!, d!, int32([-1, 1])]),
    ],
  },
  { ops: ['Diag'], name: 'rank 2 to rank 4', inputs: [randomArray([2, 3], { seed: 1806 })], build: (x) => linalg.tensorDiag(x!) },
  { ops: ['DiagPart'], name: 'rank 4 to rank 2', inputs: [randomArray([2, 3, 2, 3], { seed: 1807 })], build: (x) => linalg.tensorDiagPart(x!) },
  { ops: ['MatrixInverse'], name: 'batch of 3x3', inputs: [shifted([2, 3, 3], 1808, 3)], build: (x) => linalg.inv(x!) },
  { ops: ['MatrixInverse'], name: 'adjoint', inputs: [shifted([3, 3], 1809, 3)], build: (x) => linalg.inv(x!, { adjoint: true }) },
  { ops: ['MatrixDeterminant'], name: 'batch of 3x3', inputs: [shifted([2, 3, 3], 1810, 2)], build: (x) => linalg.det(x!) },
  {
    ops: ['LogMatrixDeterminant'],
    name: 'log |det| of a matrix with negative determinant',
    inputs: [shifted([3, 3], 1811, -2)],
    build: (x) => linalg.slogdet(x!)[1],
  },
  { ops: ['Cholesky'], name: 'of x x^T + I, batch', inputs: [randomArray([2, 3, 3], { seed: 1812 })], build: (x) => linalg.cholesky(spd(x!)) },
  ...[true, false].flatMap((lower) =>
    [false, true].map(
      (adjoint): GradCase => ({
        ops: ['MatrixTriangularSolve'],
        name: `lower ${lower}, adjoint ${adjoint}, wrt matrix and rhs`,
        inputs: [shifted([2, 3, 3], 1813, 3), randomArray([2, 3, 2], { seed: 1814 })],
        build: (a, b) => linalg.triangularSolve(a!, b!, { lower, adjoint }),
      }),
    ),
  ),
  ...[false, true].map(
    (adjoint): GradCase => ({
      ops: ['MatrixSolve'],
      name: `adjoint ${adjoint}, wrt matrix and rhs`,
      inputs: [shifted([2, 3, 3], 1815, 3), randomArray([2, 3, 2], { seed: 1816 })],
      build: (a, b) => linalg.solve(a!, b!, { adjoint }),
    }),
  ),
  { ops: ['Qr'], name: 'tall 4x3, reduced', inputs: [randomArray([4, 3], { seed: 1817 })], build: (x) => linalg.qr(x!) },
  { ops: ['Qr'], name: 'square batch', inputs: [shifted([2, 3, 3], 1818, 1)], build: (x) => linalg.qr(x!) },
  { ops: ['Qr'], name: 'wide 2x4', inputs: [randomArray([2, 4], { seed: 1819 })], build: (x) => linalg.qr(x!) },
  {
    ops: ['SelfAdjointEigV2'],
    name: 'eigenvalues and squared eigenvectors of a symmetric matrix',
    inputs: [randomArray([3, 3], { seed: 1820 })],
    build: (x) => {
      const [e, v] = linalg.eigh(separatedSymmetric(x!));
      return [e, tf.square(v)];
    },
  },
  {
    ops: ['SelfAdjointEigV2'],
    name: 'eigenvalues only (compute_v false); the upper triangle is never read',
    inputs: [randomArray([3, 3], { seed: 1821 })],
    build: (x) => linalg.eigvalsh(tf.add(tf.multiply(x!, 0.3), tf.constant(tf.NDArray.from([[1, 0, 0], [0, 2.5, 0], [0, 0, 4]], 'float32')))),
  },
  ...(
    [
      [[4, 3], false],
      [[3, 4], false],
      [[3, 3], false],
      [[4, 3], true],
      [[3, 4], true],
    ] as [number[], boolean][]
  ).map(
    ([shape, fullMatrices], k): GradCase => ({
      ops: ['Svd'],
      name: `${shape.join('x')}, full_matrices ${fullMatrices}: s and squared u, v`,
      inputs: [randomArray(shape, { seed: 1822 + k })],
      build: (x) => {
        const [s, u, v] = linalg.svd(x!, { fullMatrices });
        return [s, tf.square(u), tf.square(v)];
      },
    }),
  ),
  { ops: ['Svd'], name: 'singular values only (compute_uv false)', inputs: [randomArray([2, 3, 2], { seed: 1830 })], build: (x) => linalg.svd(x!, { computeUv: false }) },
  { ops: [], name: 'logdet of x x^T + I', inputs: [randomArray([3, 3], { seed: 1831 })], build: (x) => linalg.logdet(spd(x!)) },
  {
    ops: [],
    name: 'choleskySolve wrt the factor and rhs',
    inputs: [shifted([3, 3], 1832, 3), randomArray([3, 2], { seed: 1833 })],
    build: (l, b) => linalg.choleskySolve(l!, b!),
  },
  { ops: [], name: 'trace of a batch', inputs: [randomArray([2, 3, 4], { seed: 1834 })], build: (x) => linalg.trace(x!) },
];
