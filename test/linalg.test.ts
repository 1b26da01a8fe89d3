// Linear algebra ops (issue 18): each kernel checked by the identity that defines it (Q R = A,
// U diag(S) V^T = A, V diag(e) V^T = A, A inv(A) = I, L L^T = A, A X = B), against naive reference
// code written here, and against TensorFlow.js where it has the op (tf.diag, tf.linalg.qr).
// Inputs are fed through placeholders, so the kernels run (nothing is folded at compile time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as linalg from '../src/api/linalg.js';
import type { DType } from '../src/core/dtypes.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { graphToGraphDef } from '../src/io/graph_def.js';
import { encodeMessage } from '../src/io/proto.js';
import { getGpuKernel } from '../runtime/webgpu/registry.js';
import { expectClose, fromTfjs, randomArray, rng, tfjs } from './helpers.js';

const onWebGpu = process.env.WEIR_BACKEND === 'webgpu';

// On WebGPU, count the diagonal kernels' calls so that each case is known to have run on the GPU.
const DIAG_OPS = ['MatrixDiag', 'MatrixDiagPart', 'MatrixSetDiag', 'Diag', 'DiagPart', 'MatrixDiagV3', 'MatrixDiagPartV3', 'MatrixSetDiagV3'];
const gpuCalls = new Map<string, number>();
const originals = new Map<string, unknown>();
beforeAll(() => {
  for (const type of DIAG_OPS) {
    const def = getGpuKernel(type)!;
    originals.set(type, def.kernel);
    const k = def.kernel;
    def.kernel = (ctx, inputs) => {
      gpuCalls.set(type, (gpuCalls.get(type) ?? 0) + 1);
      return k(ctx, inputs);
    };
  }
});
afterAll(() => {
  for (const type of DIAG_OPS) getGpuKernel(type)!.kernel = originals.get(type) as never;
});

/** Builds fetches from placeholders fed with `inputs` and runs them on the session's backend. */
async function compute(inputs: tf.NDArray[], build: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<tf.NDArray[]> {
  const g = new tf.Graph();
  const { phs, outs } = g.asDefault(() => {
    const phs = inputs.map((v, i) => tf.placeholder(v.dtype, v.shape, `x${i}`));
    const out = build(...phs);
    return { phs, outs: Array.isArray(out) ? out : [out] };
  });
  const sess = new tf.Session({ graph: g });
  try {
    return (await sess.run(outs, phs.map((p, i) => [p, inputs[i]!] as [tf.Tensor, tf.NDArray]))) as tf.NDArray[];
  } finally {
    sess.close();
  }
}

async function expectGpuRuns(types: string[], f: () => Promise<void>): Promise<void> {
  const before = types.map((t) => gpuCalls.get(t) ?? 0);
  await f();
  if (onWebGpu) types.forEach((t, i) => expect(gpuCalls.get(t) ?? 0, `${t} ran on the GPU`).toBeGreaterThan(before[i]!));
}

// ---- plain-JS matrices -------------------------------------------------------------------------

type M = number[][];

/** Matrix b of a [..., r, c] array. */
function matrixOf(x: tf.NDArray, b = 0): M {
  const [r, c] = x.shape.slice(-2) as [number, number];
  const d = Array.from(x.data as ArrayLike<number>);
  return Array.from({ length: r }, (_, i) => d.slice(b * r * c + i * c, b * r * c + (i + 1) * c));
}

const mul = (a: M, b: M): M => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const tr = (a: M): M => (a.length === 0 ? [] : a[0]!.map((_, j) => a.map((row) => row[j]!)));
const eyeM = (n: number): M => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
const diagM = (v: number[]): M => v.map((x, i) => v.map((_, j) => (i === j ? x : 0)));

function expectMatrixClose(actual: M, expected: M, atol = 1e-4, what = ''): void {
  expect(actual.length, `${what} rows`).toBe(expected.length);
  actual.forEach((row, i) =>
    row.forEach((v, j) => {
      if (!(Math.abs(v - expected[i]![j]!) <= atol)) throw new Error(`${what}[${i}][${j}]: got ${v}, expected ${expected[i]![j]} (atol ${atol})`);
    }),
  );
}

/** Determinant by cofactor expansion (small n). */
function cofactorDet(a: M): number {
  if (a.length === 1) return a[0]![0]!;
  return a[0]!.reduce((s, v, j) => s + (j % 2 ? -1 : 1) * v * cofactorDet(a.slice(1).map((row) => row.filter((_, c) => c !== j))), 0);
}

/** x with `shift` added on each matrix's diagonal. */
function shifted(shape: number[], seed: number, shift: number): tf.NDArray {
  const x = randomArray(shape, { seed });
  const n = shape[shape.length - 1]!;
  const d = x.data as Float32Array;
  for (let b = 0; b < d.length / (n * n); b++) for (let i = 0; i < n; i++) d[b * n * n + i * n + i]! += shift;
  return x;
}

/** A batch of symmetric positive definite matrices B B^T + n I. */
function spdArray(batch: number, n: number, seed: number): tf.NDArray {
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const x = matrixOf(randomArray([n, n], { seed: seed + b }));
    const a = mul(x, tr(x));
    a.forEach((row, i) => row.forEach((v, j) => out.push(v + (i === j ? n : 0))));
  }
  return new tf.NDArray(Float32Array.from(out), batch === 1 ? [n, n] : [batch, n, n]);
}

const count = (shape: readonly number[]): number => shape.slice(0, -2).reduce((a, b) => a * b, 1);

// ---- diagonals ---------------------------------------------------------------------------------

function typed(shape: number[], dtype: DType, seed: number): tf.NDArray {
  if (dtype === 'float32') return randomArray(shape, { seed });
  return randomArray(shape, { seed, dtype, min: -50, max: 50 });
}

describe('matrix diagonals', () => {
  for (const dtype of ['float32', 'int32', 'int64', 'bool'] as DType[]) {
    it(`MatrixDiag / MatrixDiagPart / MatrixSetDiag on ${dtype}, against reference loops`, async () => {
      const d = typed([2, 3], dtype, 11);
      const x = typed([2, 3, 4], dtype, 12);
      const nd = typed([2, 3], dtype, 13);
      const num = (v: unknown): number => Number(v);
      await expectGpuRuns(['MatrixDiag', 'MatrixDiagPart', 'MatrixSetDiag'], async () => {
        const [m, part, set] = await compute([d, x, nd], (a, b, c) => [linalg.diag(a!), linalg.diagPart(b!), linalg.setDiag(b!, c!)]);
        expect(m!.dtype).toBe(dtype);
        expect(m!.shape).toEqual([2, 3, 3]);
        const dd = Array.from(d.data as ArrayLike<unknown>, num);
        const xd = Array.from(x.data as ArrayLike<unknown>, num);
        const nn = Array.from(nd.data as ArrayLike<unknown>, num);
        const md = Array.from(m!.data as ArrayLike<unknown>, num);
        for (let b = 0; b < 2; b++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(md[b * 9 + i * 3 + j]).toBe(i === j ? dd[b * 3 + i] : 0);
        expect(part!.shape).toEqual([2, 3]);
        expect(Array.from(part!.data as ArrayLike<unknown>, num)).toEqual([0, 1].flatMap((b) => [0, 1, 2].map((i) => xd[b * 12 + i * 4 + i])));
        expect(set!.shape).toEqual([2, 3, 4]);
        const sd = Array.from(set!.data as ArrayLike<unknown>, num);
        for (let b = 0; b < 2; b++) for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) {
          expect(sd[b * 12 + i * 4 + j]).toBe(i === j ? nn[b * 3 + i] : xd[b * 12 + i * 4 + j]);
        }
      });
    });
  }

  it('MatrixDiagPart of a tall batch takes min(rows, cols) entries', async () => {
    const x = randomArray([2, 1, 5, 2], { seed: 14 });
    await expectGpuRuns(['MatrixDiagPart'], async () => {
      const [p] = await compute([x], (a) => linalg.diagPart(a!));
      const xd = x.data as Float32Array;
      expectClose(p!, [0, 1].flatMap((b) => [xd[b * 10]!, xd[b * 10 + 3]!]), { shape: [2, 1, 2] });
    });
  });

  it('Diag and DiagPart against TensorFlow.js tf.diag, and DiagPart inverts Diag', async () => {
    const t = await tfjs();
    const x = randomArray([2, 3], { seed: 15 });
    await expectGpuRuns(['Diag', 'DiagPart'], async () => {
      const [dg, back] = await compute([x], (a) => {
        const d = linalg.tensorDiag(a!);
        return [d, linalg.tensorDiagPart(d)];
      });
      expectClose(dg!, await fromTfjs(t.diag(t.tensor(Array.from(x.data as Float32Array), [2, 3]))), { shape: [2, 3, 2, 3] });
      expectClose(back!, x);
    });
    const i = randomArray([4], { seed: 16, dtype: 'int32', min: -9, max: 9 });
    const [di] = await compute([i], (a) => linalg.tensorDiag(a!));
    expectClose(di!, await fromTfjs(t.diag(t.tensor(Array.from(i.data as Int32Array), [4], 'int32'))));
  });

  it('shape functions reject what TF rejects', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => linalg.diag(tf.placeholder('float32', [], 's'))).toThrow(/MatrixDiag.*at least rank 1/);
      expect(() => linalg.diagPart(tf.placeholder('float32', [3], 'v'))).toThrow(/MatrixDiagPart.*at least rank 2/);
      expect(() => linalg.setDiag(tf.placeholder('float32', [2, 3, 4], 'x'), tf.placeholder('float32', [2, 4], 'd'))).toThrow(/MatrixSetDiag.*min\(rows, cols\)/);
      expect(() => linalg.tensorDiagPart(tf.placeholder('float32', [2, 3, 2], 'odd'))).toThrow(/DiagPart.*even rank/);
      expect(() => linalg.tensorDiagPart(tf.placeholder('float32', [2, 3, 3, 2], 'mismatch'))).toThrow(/DiagPart.*D1, \.\.\., Dk/);
      expect(linalg.diag(tf.placeholder('float32', [null, 4], 'u')).shape).toEqual([null, 4, 4]);
      expect(linalg.diagPart(tf.placeholder('float32', [2, null, 3], 'u2')).shape).toEqual([2, null]);
    });
  });

  it('MatrixSetDiag with a diagonal of the wrong size fed at run time fails naming the op', async () => {
    await expect(compute([randomArray([3, 4], { seed: 17 }), randomArray([2], { seed: 18 })], (a, b) => {
      const g = a!.graph;
      const free = g.asDefault(() => tf.placeholderWithDefault(b!, [null]));
      return linalg.setDiag(a!, free);
    })).rejects.toThrow(/MatrixSetDiag/);
  });
});

// ---- diagonal bands (V3) -----------------------------------------------------------------------

// References written from the formulas of TF's MatrixDiagPartV3 / MatrixDiagV3 / MatrixSetDiagV3
// documentation, on plain arrays of one matrix.
const ALIGNS = ['LEFT_RIGHT', 'RIGHT_LEFT', 'LEFT_LEFT', 'RIGHT_RIGHT'] as const;
type Align = (typeof ALIGNS)[number];
const diagLen = (d: number, rows: number, cols: number): number => Math.min(cols - Math.max(d, 0), rows + Math.min(d, 0));
function docOffset(align: Align, d: number, maxLen: number, rows: number, cols: number): number {
  const right = ((align === 'RIGHT_LEFT' || align === 'RIGHT_RIGHT') && d >= 0) || ((align === 'LEFT_RIGHT' || align === 'RIGHT_RIGHT') && d <= 0);
  return right ? maxLen - diagLen(d, rows, cols) : 0;
}
function refDiagPart(x: M, [k0, k1]: [number, number], align: Align, pad: number): M {
  const [rows, cols] = [x.length, x[0]!.length];
  const maxLen = Math.min(rows + Math.min(k1, 0), cols + Math.min(-k0, 0));
  return Array.from({ length: k1 - k0 + 1 }, (_, m) => {
    const d = k1 - m;
    const off = docOffset(align, d, maxLen, rows, cols);
    return Array.from({ length: maxLen }, (_, n) => {
      const [y, xx] = [n + Math.max(-d, 0) - off, n + Math.max(d, 0) - off];
      return y >= 0 && y < rows && xx >= 0 && xx < cols ? x[y]![xx]! : pad;
    });
  });
}
function refBandInto(base: M, diags: M, [k0, k1]: [number, number], align: Align): M {
  const [rows, cols] = [base.length, base[0]!.length];
  const maxLen = diags[0]!.length;
  return base.map((row, m) =>
    row.map((v, n) => {
      const d = n - m;
      if (d < k0 || d > k1) return v;
      return diags[k1 - d]![n - Math.max(d, 0) + docOffset(align, d, maxLen, rows, cols)]!;
    }),
  );
}

describe('diagonal bands (MatrixDiagPartV3, MatrixDiagV3, MatrixSetDiagV3)', () => {
  const bands: [number, number][] = [
    [-1, 2],
    [1, 3],
    [-2, -1],
    [0, 0],
    [2, 2],
  ];
  for (const align of ALIGNS) {
    it(`against the documented formulas, align ${align}, bands ${bands.map((b) => `[${b}]`).join(' ')}`, async () => {
      const x = randomArray([2, 3, 4], { seed: 91 });
      let outs: tf.NDArray[] = [];
      await expectGpuRuns(['MatrixDiagPartV3', 'MatrixDiagV3', 'MatrixSetDiagV3'], async () => {
        outs = await compute([x], (t) =>
        bands.flatMap((k) => {
          const part = linalg.diagPart(t!, { k, align, paddingValue: 9 });
          const zeros = tf.zerosLike(t!);
          return [part, linalg.diag(part, { k, align, numRows: 3, numCols: 4, paddingValue: -1 }), linalg.setDiag(zeros, part, { k, align })];
        }),
        );
      });
      bands.forEach((k, i) => {
        const [part, full, set] = outs.slice(3 * i, 3 * i + 3) as [tf.NDArray, tf.NDArray, tf.NDArray];
        const single = k[0] === k[1];
        for (let b = 0; b < 2; b++) {
          const want = refDiagPart(matrixOf(x, b), k, align, 9);
          const got = single ? [Array.from(part.data as Float32Array).slice(b * want[0]!.length, (b + 1) * want[0]!.length)] : matrixOf(part, b);
          expectMatrixClose(got, want, 0, `diag_part k=[${k}]`);
          const filler = (v: number): M => Array.from({ length: 3 }, () => new Array<number>(4).fill(v));
          expectMatrixClose(matrixOf(full, b), refBandInto(filler(-1), want, k, align), 0, `diag k=[${k}]`);
          expectMatrixClose(matrixOf(set, b), refBandInto(filler(0), want, k, align), 0, `set_diag k=[${k}]`);
        }
      });
    });
  }

  it('the documented RIGHT_LEFT example; V1 ops without band options; num_rows/num_cols inferred', async () => {
    const x = tf.NDArray.from([[[1, 2, 3, 4], [5, 6, 7, 8], [9, 8, 7, 6]], [[5, 4, 3, 2], [1, 2, 3, 4], [5, 6, 7, 8]]], 'int32');
    const [band, sq, wide] = await compute([x], (t) => [
      linalg.diagPart(t!, { k: [-1, 2] }),
      linalg.diag(tf.constant(tf.NDArray.from([[1, 2], [3, 4]], 'int32')), { k: 1 }),
      linalg.diag(tf.constant(tf.NDArray.from([1, 2], 'int32')), { k: -1, numCols: 3 }),
    ]);
    expect(Array.from(band!.data as Int32Array)).toEqual([0, 3, 8, 2, 7, 6, 1, 6, 7, 5, 8, 0, 0, 3, 4, 4, 3, 8, 5, 2, 7, 1, 6, 0]);
    expect(sq!.shape).toEqual([2, 3, 3]);
    expect(Array.from(sq!.data as Int32Array)).toEqual([0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
    expect(wide!.shape).toEqual([3, 3]);
    expect(Array.from(wide!.data as Int32Array)).toEqual([0, 0, 0, 1, 0, 0, 0, 2, 0]);
    const g = new tf.Graph();
    g.asDefault(() => {
      const p = tf.placeholder('float32', [2, 3, 4], 'p');
      expect(linalg.diagPart(p).op.type).toBe('MatrixDiagPart');
      expect(linalg.diagPart(p, { k: [-1, 2] }).op.type).toBe('MatrixDiagPartV3');
      expect(linalg.diagPart(p, { k: [-1, 2] }).shape).toEqual([2, 4, 3]);
      expect(linalg.diag(tf.placeholder('float32', [5, 2, 3], 'q'), { k: [0, 1] }).shape).toEqual([5, 3, 3]);
      expect(linalg.diagPart(p, { k: [1, 1] }).op.getAttr('align')).toBe('RIGHT_LEFT');
      expect(() => linalg.diagPart(p, { k: [2, 1] })).toThrow(/MatrixDiagPartV3.*must not be larger/);
      expect(() => linalg.diagPart(p, { k: [-3, 0] })).toThrow(/MatrixDiagPartV3.*must lie within/);
      expect(() => linalg.setDiag(p, tf.placeholder('float32', [2, 3], 'd'), { k: [0, 1] })).toThrow(/MatrixSetDiagV3.*band/);
      expect(() => linalg.diag(tf.placeholder('float32', [2, 3], 'e'), { k: [0, 2] })).toThrow(/MatrixDiagV3.*3 rows/);
    });
  });
});

// ---- inverse, determinants, solves -------------------------------------------------------------

describe('inverse and determinants', () => {
  it('MatrixInverse: A inv(A) = I for a batch; adjoint gives inv(A)^T', async () => {
    const a = shifted([2, 2, 4, 4], 21, 3);
    const [inv, invAdj] = await compute([a], (x) => [linalg.inv(x!), linalg.inv(x!, { adjoint: true })]);
    expect(inv!.shape).toEqual([2, 2, 4, 4]);
    for (let b = 0; b < 4; b++) {
      expectMatrixClose(mul(matrixOf(a, b), matrixOf(inv!, b)), eyeM(4), 1e-5, 'A inv(A)');
      expectMatrixClose(matrixOf(invAdj!, b), tr(matrixOf(inv!, b)), 1e-5, 'inv(A^T)');
    }
  });

  it('MatrixInverse needs pivoting: a matrix with a zero leading entry', async () => {
    const a = tf.NDArray.from([[0, 2, 1], [1, 1, 0], [3, 0, 1]], 'float32');
    const [inv] = await compute([a], (x) => linalg.inv(x!));
    expectMatrixClose(mul(matrixOf(a), matrixOf(inv!)), eyeM(3), 1e-5);
  });

  it('a singular matrix: inv and solve fail with InvalidArgumentError, det is 0, slogdet gives sign 0 and -inf', async () => {
    const s = tf.NDArray.from([[1, 2], [2, 4]], 'float32');
    await expect(compute([s], (x) => linalg.inv(x!))).rejects.toThrow(/MatrixInverse.*not invertible/);
    await expect(compute([s], (x) => linalg.inv(x!))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(compute([s, randomArray([2, 1], { seed: 22 })], (x, y) => linalg.solve(x!, y!))).rejects.toThrow(/MatrixSolve.*not invertible/);
    const [det, [sign, logAbs]] = await compute([s], (x) => [linalg.det(x!), ...linalg.slogdet(x!)]).then((r) => [r[0]!, [r[1]!, r[2]!]] as const);
    expect(det.data[0]).toBe(0);
    expect(sign.data[0]).toBe(0);
    expect(logAbs.data[0]).toBe(-Infinity);
  });

  it('MatrixDeterminant and LogMatrixDeterminant against cofactor expansion', async () => {
    const a = shifted([3, 4, 4], 23, 0.5);
    const [det, sign, logAbs] = await compute([a], (x) => [linalg.det(x!), ...linalg.slogdet(x!)]);
    expect(det!.shape).toEqual([3]);
    for (let b = 0; b < 3; b++) {
      const want = cofactorDet(matrixOf(a, b));
      expect(det!.data[b]).toBeCloseTo(want, 4);
      expect(sign!.data[b]).toBe(Math.sign(want));
      expect(logAbs!.data[b]).toBeCloseTo(Math.log(Math.abs(want)), 4);
    }
  });

  it('MatrixSolve: A X = B, and adjoint(A) X = B', async () => {
    const a = shifted([2, 3, 3], 24, 3);
    const b = randomArray([2, 3, 2], { seed: 25 });
    const [x, xa] = await compute([a, b], (p, q) => [linalg.solve(p!, q!), linalg.solve(p!, q!, { adjoint: true })]);
    for (let k = 0; k < 2; k++) {
      expectMatrixClose(mul(matrixOf(a, k), matrixOf(x!, k)), matrixOf(b, k), 1e-5, 'A X');
      expectMatrixClose(mul(tr(matrixOf(a, k)), matrixOf(xa!, k)), matrixOf(b, k), 1e-5, 'A^T X');
    }
  });

  it('shape functions: square matrices, matching batch dims and rows', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => linalg.inv(tf.placeholder('float32', [2, 3], 'r'))).toThrow(/MatrixInverse.*square/);
      expect(() => linalg.det(tf.placeholder('float32', [3], 'v'))).toThrow(/MatrixDeterminant.*at least rank 2/);
      expect(() => linalg.solve(tf.placeholder('float32', [3, 3], 'a'), tf.placeholder('float32', [4, 1], 'b'))).toThrow(/MatrixSolve.*rows/);
      expect(() => linalg.triangularSolve(tf.placeholder('float32', [2, 3, 3], 'a2'), tf.placeholder('float32', [3, 3, 1], 'b2'))).toThrow(/MatrixTriangularSolve.*batch/);
      expect(() => linalg.inv(tf.placeholder('int32', [2, 2], 'i'))).toThrow(/dtype int32/);
      expect(linalg.det(tf.placeholder('float32', [null, 5, 5], 'p')).shape).toEqual([null]);
      expect(linalg.solve(tf.placeholder('float32', [null, null], 'a3'), tf.placeholder('float32', [4, 2], 'b3')).shape).toEqual([4, 2]);
    });
  });
});

describe('Cholesky and triangular solves', () => {
  it('Cholesky: L L^T = A with L lower triangular; the upper triangle is never read', async () => {
    const a = spdArray(3, 4, 31);
    const garbled = a.clone();
    const gd = garbled.data as Float32Array;
    for (let b = 0; b < 3; b++) for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) gd[b * 16 + i * 4 + j] = 100 + j;
    const [l, lg] = await compute([a, garbled], (x, y) => [linalg.cholesky(x!), linalg.cholesky(y!)]);
    expectClose(lg!, l!);
    for (let b = 0; b < 3; b++) {
      const lm = matrixOf(l!, b);
      lm.forEach((row, i) => row.forEach((v, j) => (j > i ? expect(v).toBe(0) : i === j && expect(v).toBeGreaterThan(0))));
      expectMatrixClose(mul(lm, tr(lm)), matrixOf(a, b), 1e-4, 'L L^T');
    }
  });

  it('Cholesky of a matrix that is not positive definite fails with InvalidArgumentError', async () => {
    await expect(compute([tf.NDArray.from([[1, 2], [2, 1]], 'float32')], (x) => linalg.cholesky(x!))).rejects.toThrow(/Cholesky decomposition was not successful/);
  });

  for (const lower of [true, false]) {
    for (const adjoint of [false, true]) {
      it(`MatrixTriangularSolve lower=${lower} adjoint=${adjoint}: T X = B with the other triangle ignored`, async () => {
        const a = shifted([2, 4, 4], 32, 4);
        const b = randomArray([2, 4, 3], { seed: 33 });
        const [x] = await compute([a, b], (p, q) => linalg.triangularSolve(p!, q!, { lower, adjoint }));
        for (let k = 0; k < 2; k++) {
          const t = matrixOf(a, k).map((row, i) => row.map((v, j) => ((lower ? j <= i : j >= i) ? v : 0)));
          expectMatrixClose(mul(adjoint ? tr(t) : t, matrixOf(x!, k)), matrixOf(b, k), 1e-5, 'T X');
        }
      });
    }
  }

  it('a zero on the diagonal: MatrixTriangularSolve fails with InvalidArgumentError', async () => {
    const a = tf.NDArray.from([[1, 0], [5, 0]], 'float32');
    await expect(compute([a, randomArray([2, 1], { seed: 34 })], (p, q) => linalg.triangularSolve(p!, q!))).rejects.toThrow(/MatrixTriangularSolve.*not invertible/);
  });

  it('composites: choleskySolve solves A X = B, logdet = log det, eye and trace as TF builds them', async () => {
    const a = spdArray(2, 3, 35);
    const b = randomArray([2, 3, 2], { seed: 36 });
    const [x, ld, det, e, er, eb, trc] = await compute([a, b], (p, q) => [
      linalg.choleskySolve(linalg.cholesky(p!), q!),
      linalg.logdet(p!),
      linalg.det(p!),
      linalg.eye(3),
      linalg.eye(2, { numColumns: 4, batchShape: [2] }),
      linalg.eye(2, { batchShape: [3], dtype: 'int32' }),
      linalg.trace(q!),
    ]);
    for (let k = 0; k < 2; k++) {
      expectMatrixClose(mul(matrixOf(a, k), matrixOf(x!, k)), matrixOf(b, k), 1e-4, 'A X');
      expect(ld!.data[k]).toBeCloseTo(Math.log(det!.data[k] as number), 4);
      const bm = matrixOf(b, k);
      expect(trc!.data[k]).toBeCloseTo(bm[0]![0]! + bm[1]![1]!, 5);
    }
    expectClose(e!, eyeM(3).flat(), { shape: [3, 3] });
    expectClose(er!, [0, 1].flatMap(() => [1, 0, 0, 0, 0, 1, 0, 0]), { shape: [2, 2, 4] });
    expect(eb!.dtype).toBe('int32');
    expectClose(eb!, [0, 1, 2].flatMap(() => [1, 0, 0, 1]), { shape: [3, 2, 2] });
  });

  it('transpose / adjoint swap the last two dims; TF1 op names of the composites', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 3, 4], 'x');
      expect(linalg.transpose(x).shape).toEqual([2, 4, 3]);
      expect(linalg.adjoint(x).shape).toEqual([2, 4, 3]);
      expect(() => linalg.transpose(tf.placeholder('float32', [3], 'v'))).toThrow(/rank >= 2/);
      expect(linalg.trace(x).op.name).toBe('Trace');
      expect(linalg.trace(x).op.type).toBe('Sum');
      expect(linalg.logdet(tf.placeholder('float32', [3, 3], 'a')).op.name).toMatch(/^logdet\//);
      expect(linalg.eye(3).op.type).toBe('MatrixDiag');
      expect(linalg.eye(2, { numColumns: 3 }).op.type).toBe('MatrixSetDiag');
      expect(linalg.diag(x).op.name).toBe('diag');
      expect(linalg.svd(x)[0].op.name).toBe('Svd');
      // tf.linalg is this module: the functions of other families in TF's namespace are here too.
      expect(linalg.bandPart(x, -1, 0).op.type).toBe('MatrixBandPart');
      expect(linalg.matmul(x, linalg.adjoint(x)).shape).toEqual([2, 3, 3]);
      expect(linalg.norm(x, { axis: [-2, -1] }).shape).toEqual([2]);
    });
  });
});

// ---- QR, eigen, SVD ----------------------------------------------------------------------------

function expectOrthonormalColumns(q: M, atol = 1e-5): void {
  expectMatrixClose(mul(tr(q), q), eyeM(q[0]!.length), atol, 'Q^T Q');
}

describe('QR', () => {
  for (const [shape, full] of [
    [[2, 5, 3], false],
    [[2, 5, 3], true],
    [[3, 3], false],
    [[3, 5], false],
    [[3, 5], true],
  ] as [number[], boolean][]) {
    it(`Q R = A, Q orthonormal, R upper triangular: ${shape.join('x')}, full_matrices ${full}`, async () => {
      const a = randomArray(shape, { seed: 41 });
      const [q, r] = await compute([a], (x) => linalg.qr(x!, { fullMatrices: full }));
      const [m, n] = shape.slice(-2) as [number, number];
      const k = full ? m : Math.min(m, n);
      expect(q!.shape).toEqual([...shape.slice(0, -2), m, k]);
      expect(r!.shape).toEqual([...shape.slice(0, -2), k, n]);
      for (let b = 0; b < count(shape); b++) {
        const qm = matrixOf(q!, b);
        const rm = matrixOf(r!, b);
        expectOrthonormalColumns(qm);
        rm.forEach((row, i) => row.forEach((v, j) => j < i && expect(v).toBe(0)));
        expectMatrixClose(mul(qm, rm), matrixOf(a, b), 1e-5, 'Q R');
      }
    });
  }

  it('against TensorFlow.js tf.linalg.qr, up to the signs of R rows (and Q columns)', async () => {
    const t = await tfjs();
    const a = randomArray([4, 3], { seed: 42 });
    const [q, r] = await compute([a], (x) => linalg.qr(x!));
    const [tq, trr] = t.linalg.qr(t.tensor(Array.from(a.data as Float32Array), [4, 3]));
    const oq = matrixOf(await fromTfjs(tq!));
    const or = matrixOf(await fromTfjs(trr!));
    const signs = matrixOf(r!).map((row, i) => Math.sign(row[i]!) * Math.sign(or[i]![i]!));
    expectMatrixClose(matrixOf(r!), or.map((row, i) => row.map((v) => v * signs[i]!)), 1e-5, 'R');
    expectMatrixClose(matrixOf(q!), oq.map((row) => row.map((v, j) => v * signs[j]!)), 1e-5, 'Q');
  });
});

describe('SelfAdjointEigV2', () => {
  it('V diag(e) V^T = A, V orthonormal, e ascending; eigvalsh agrees; the upper triangle is never read', async () => {
    const a = spdArray(2, 5, 51);
    // A symmetric indefinite batch member too: subtract 6 I.
    const ad = a.data as Float32Array;
    for (let i = 0; i < 5; i++) ad[25 + i * 5 + i]! -= 6;
    const garbled = a.clone();
    const gd = garbled.data as Float32Array;
    for (let b = 0; b < 2; b++) for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) gd[b * 25 + i * 5 + j] = -7;
    const [e, v, ev, eg] = await compute([a, garbled], (x, y) => [...linalg.eigh(x!), linalg.eigvalsh(x!), linalg.eigvalsh(y!)]);
    expect(e!.shape).toEqual([2, 5]);
    expect(v!.shape).toEqual([2, 5, 5]);
    expectClose(ev!, e!, { atol: 1e-5 });
    expectClose(eg!, e!, { atol: 1e-5 });
    for (let b = 0; b < 2; b++) {
      const vals = Array.from(e!.data as Float32Array).slice(b * 5, b * 5 + 5);
      for (let i = 1; i < 5; i++) expect(vals[i]).toBeGreaterThanOrEqual(vals[i - 1]!);
      const vm = matrixOf(v!, b);
      expectOrthonormalColumns(vm);
      expectMatrixClose(mul(mul(vm, diagM(vals)), tr(vm)), matrixOf(a, b), 1e-4, 'V diag(e) V^T');
    }
  });

  it('a 16 x 16 matrix: reconstruction and orthonormality at a size that takes several sweeps', async () => {
    const a = spdArray(1, 16, 52);
    const [e, v] = await compute([a], (x) => linalg.eigh(x!));
    const vals = Array.from(e!.data as Float32Array);
    for (let i = 1; i < 16; i++) expect(vals[i]).toBeGreaterThanOrEqual(vals[i - 1]!);
    const vm = matrixOf(v!);
    expectOrthonormalColumns(vm);
    expectMatrixClose(mul(mul(vm, diagM(vals)), tr(vm)), matrixOf(a), 1e-3, 'V diag(e) V^T');
  });

  it('repeated eigenvalues: the identity plus a rank-one term', async () => {
    const a = tf.NDArray.from([[2, 1, 1], [1, 2, 1], [1, 1, 2]], 'float32');
    const [e, v] = await compute([a], (x) => linalg.eigh(x!));
    expectClose(e!, [1, 1, 4], { atol: 1e-5 });
    expectOrthonormalColumns(matrixOf(v!));
  });

  it('compute_v false: v is [0]', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 3, 3], 'x');
      const op = g.createOp('SelfAdjointEigV2', [x], { T: 'float32', compute_v: false });
      expect(op.outputs[1]!.shape).toEqual([0]);
      expect(() => linalg.eigh(tf.placeholder('float32', [3, 4], 'r'))).toThrow(/SelfAdjointEigV2.*square/);
    });
  });
});

describe('Svd', () => {
  for (const [shape, full] of [
    [[2, 5, 3], false],
    [[2, 5, 3], true],
    [[4, 4], false],
    [[3, 6], false],
    [[3, 6], true],
    [[1, 1], false],
    [[20, 12], false],
  ] as [number[], boolean][]) {
    it(`U diag(S) V^T = A, U and V orthonormal, S descending: ${shape.join('x')}, full_matrices ${full}`, async () => {
      const a = randomArray(shape, { seed: 61 });
      const [s, u, v, sOnly] = await compute([a], (x) => [...linalg.svd(x!, { fullMatrices: full }), linalg.svd(x!, { computeUv: false })]);
      const [m, n] = shape.slice(-2) as [number, number];
      const p = Math.min(m, n);
      const batch = shape.slice(0, -2);
      expect(s!.shape).toEqual([...batch, p]);
      expect(u!.shape).toEqual([...batch, m, full ? m : p]);
      expect(v!.shape).toEqual([...batch, n, full ? n : p]);
      expectClose(sOnly!, s!, { atol: 1e-5 });
      for (let b = 0; b < count(shape); b++) {
        const sv = Array.from(s!.data as Float32Array).slice(b * p, (b + 1) * p);
        sv.forEach((x, i) => {
          expect(x).toBeGreaterThanOrEqual(0);
          if (i > 0) expect(x).toBeLessThanOrEqual(sv[i - 1]!);
        });
        const um = matrixOf(u!, b);
        const vm = matrixOf(v!, b);
        expectOrthonormalColumns(um);
        expectOrthonormalColumns(vm);
        const sm = Array.from({ length: um[0]!.length }, (_, i) => Array.from({ length: vm[0]!.length }, (_, j) => (i === j && i < p ? sv[i]! : 0)));
        expectMatrixClose(mul(mul(um, sm), tr(vm)), matrixOf(a, b), 1e-5, 'U S V^T');
      }
    });
  }

  it('a rank-deficient matrix: zero singular values and still orthonormal U, V', async () => {
    const r = rng(62);
    const x = Array.from({ length: 4 }, () => r() - 0.5);
    const y = Array.from({ length: 3 }, () => r() - 0.5);
    const a = new tf.NDArray(Float32Array.from(x.flatMap((xi) => y.map((yj) => xi * yj))), [4, 3]);
    const [s, u, v] = await compute([a], (t) => linalg.svd(t!, { fullMatrices: true }));
    const sv = Array.from(s!.data as Float32Array);
    expect(sv[1]).toBeLessThan(1e-6);
    expect(sv[2]).toBeLessThan(1e-6);
    expectOrthonormalColumns(matrixOf(u!));
    expectOrthonormalColumns(matrixOf(v!));
    expect(sv[0]).toBeCloseTo(Math.hypot(...x) * Math.hypot(...y), 5);
  });

  it('compute_uv false: u and v are [0]', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const op = g.createOp('Svd', [tf.placeholder('float32', [2, 5, 3], 'x')], { T: 'float32', compute_uv: false, full_matrices: false });
      expect(op.outputs.map((t) => t.shape)).toEqual([[2, 3], [0], [0]]);
      expect(() => linalg.svd(tf.placeholder('float32', [3], 'v'))).toThrow(/Svd.*at least rank 2/);
    });
  });
});

// ---- gradients with unknown static shapes ----------------------------------------------------------

describe('gradients built with unknown static shapes', () => {
  it('Cholesky, MatrixDiagPart and MatrixSetDiagV3 gradients take their run-time shape paths and match the static ones', async () => {
    const a = spdArray(2, 3, 81);
    const x = randomArray([2, 3, 4], { seed: 82 });
    const w = randomArray([2, 3, 3], { seed: 83 });
    const grads = (shapeA: (number | null)[] | null, shapeX: (number | null)[] | null): Promise<tf.NDArray[]> => {
      const g = new tf.Graph();
      const { pa, px, outs } = g.asDefault(() => {
        const pa = tf.placeholder('float32', shapeA, 'a');
        const px = tf.placeholder('float32', shapeX, 'x');
        const loss = tf.add(
          tf.reduceSum(tf.multiply(linalg.cholesky(pa), tf.constant(w))),
          tf.add(
            tf.reduceSum(tf.square(linalg.setDiag(px, tf.multiply(linalg.diagPart(px, { k: [0, 1] }), 3), { k: [0, 1] }))),
            tf.reduceSum(tf.square(linalg.diagPart(px))),
          ),
        );
        return { pa, px, outs: tf.gradients(loss, [pa, px]) as tf.Tensor[] };
      });
      const sess = new tf.Session({ graph: g });
      return sess.run(outs, [[pa, a], [px, x]]).finally(() => sess.close()) as Promise<tf.NDArray[]>;
    };
    const [staticA, staticX] = await grads([2, 3, 3], [2, 3, 4]);
    const [dynA, dynX] = await grads([null, null, null], null);
    expectClose(dynA!, staticA!, { atol: 1e-5 });
    expectClose(dynX!, staticX!, { atol: 1e-5 });
  });
});

// ---- GraphDef ----------------------------------------------------------------------------------

describe('GraphDef round trip', () => {
  it('ops with attrs keep them through export and import, and the imported graph computes the same', async () => {
    const g = new tf.Graph();
    const a = shifted([3, 3], 71, 3);
    const b = randomArray([3, 2], { seed: 72 });
    const names = g.asDefault(() => {
      const x = tf.placeholder('float32', [3, 3], 'a');
      const y = tf.placeholder('float32', [3, 2], 'b');
      const outs = [
        linalg.triangularSolve(x, y, { lower: false, adjoint: true, name: 'tri' }),
        linalg.solve(x, y, { adjoint: true, name: 'sol' }),
        linalg.inv(x, { adjoint: true, name: 'inv' }),
        linalg.qr(x, { fullMatrices: true, name: 'qr' })[1],
        linalg.eigvalsh(x, { name: 'eig' }),
        linalg.svd(x, { computeUv: false, name: 'svd' }),
        linalg.setDiag(x, tf.reduceSum(y, 1), { name: 'set' }),
        linalg.tensorDiag(y, { name: 'tdiag' }),
      ];
      return outs.map((t) => t.name);
    });
    const gd = graphToGraphDef(g);
    const tri = gd.node!.find((n) => n.name === 'tri')!;
    expect(tri.op).toBe('MatrixTriangularSolve');
    expect(tri.attr!.lower!.b).toBe(false);
    expect(tri.attr!.adjoint!.b).toBe(true);
    expect(gd.node!.find((n) => n.name === 'svd')!.attr!.compute_uv!.b).toBe(false);
    // A GraphDef may omit attrs at their defaults: a triangular solve with neither lower nor adjoint.
    gd.node!.push({ ...tri, name: 'tri_defaults', attr: { T: tri.attr!.T! } });
    for (const name of ['svd', 'eig']) {
      const n = gd.node!.find((x) => x.name === name)!;
      gd.node!.push({ ...n, name: `${name}_defaults`, attr: { T: n.attr!.T! } });
    }
    const g2 = new tf.Graph();
    const outs = g2.asDefault(() =>
      tf.importGraphDef(encodeMessage('GraphDef', gd), { returnElements: ['a:0', 'b:0', ...names, 'tri_defaults:0', 'svd_defaults:0', 'svd_defaults:2', 'eig_defaults:0', 'eig_defaults:1'] }),
    ) as tf.Tensor[];
    const [a2, b2, ...fetched] = outs;
    const run = async (gr: tf.Graph, fetches: tf.Tensor[], pa: tf.Tensor, pb: tf.Tensor): Promise<tf.NDArray[]> => {
      const sess = new tf.Session({ graph: gr });
      try {
        return (await sess.run(fetches, [[pa, a], [pb, b]])) as tf.NDArray[];
      } finally {
        sess.close();
      }
    };
    const before = await run(g, names.map((n) => g.getTensorByName(n)), g.getTensorByName('a:0'), g.getTensorByName('b:0'));
    const after = await run(g2, fetched, a2!, b2!);
    before.forEach((x, i) => expectClose(after[i]!, x));
    // Left out, lower is true, compute_uv and compute_v are true.
    const [triD, sD, vD, eD, evD] = after.slice(names.length);
    const [lowerSolve, s, , v, e, ev] = await compute([a, b], (p, q) => [linalg.triangularSolve(p!, q!), ...linalg.svd(p!), ...linalg.eigh(p!)]);
    expectClose(triD!, lowerSolve!);
    expectClose(sD!, s!);
    expect(vD!.shape).toEqual(v!.shape);
    expectClose(eD!, e!);
    expect(evD!.shape).toEqual(ev!.shape);
    expect(g2.getOperationByName('import/qr').getAttr('full_matrices')).toBe(true);
  });
});
