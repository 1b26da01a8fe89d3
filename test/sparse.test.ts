import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as S from '../src/api/sparse.js';
import type { DType } from '../src/core/dtypes.js';
import { getOpDef } from '../ops/registry.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import { expectClose, fromTfjs, randomArray, run, tfjs } from './helpers.js';

type TFJS = Awaited<ReturnType<typeof tfjs>>;
let T: TFJS;
beforeAll(async () => {
  T = await tfjs();
});

const build = <R>(fn: () => R): R => new tf.Graph().asDefault(fn);
const int32 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(Int32Array.from(values), shape);
const int64 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(BigInt64Array.from(values.map(BigInt)), shape);
const nums = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);

/** Naive segment reduction: rows of data (flattened to [rows, inner]) by ids into n segments; empty segments get `empty`. */
function reference(data: tf.NDArray, rows: number[], ids: number[], n: number, kind: string, empty: number): number[] {
  const inner = data.size / (data.shape[0] ?? 1);
  const d = nums(data);
  const out: number[] = [];
  for (let s = 0; s < n; s++) {
    const members = ids.map((id, k) => (id === s ? rows[k]! : -1)).filter((r) => r >= 0);
    for (let j = 0; j < inner; j++) {
      const vals = members.map((r) => d[r * inner + j]!);
      if (!vals.length) {
        out.push(empty);
        continue;
      }
      const sum = vals.reduce((a, b) => a + b, 0);
      const v = { sum, mean: sum / vals.length, sqrtn: sum / Math.sqrt(vals.length), max: Math.max(...vals), min: Math.min(...vals), prod: vals.reduce((a, b) => a * b, 1) }[kind]!;
      out.push(data.dtype === 'float32' ? v : Math.trunc(v));
    }
  }
  return out;
}

const ident = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('sorted segment reductions', () => {
  const ids = [0, 0, 2, 2, 2, 3];
  for (const [type, fn, kind] of [
    ['SegmentSum', S.segmentSum, 'sum'],
    ['SegmentMean', S.segmentMean, 'mean'],
    ['SegmentMax', S.segmentMax, 'max'],
    ['SegmentMin', S.segmentMin, 'min'],
    ['SegmentProd', S.segmentProd, 'prod'],
  ] as const) {
    it(`${type} matches a naive reference (float32, int32, int64), an empty segment included`, async () => {
      for (const dtype of ['float32', 'int32', 'int64'] as DType[]) {
        const data = randomArray([6, 2], { dtype, seed: 3, min: -5, max: 6 });
        const t = build(() => fn(data, ids));
        expect(t.op.type).toBe(type);
        expect(t.shape).toEqual([4, 2]);
        const r = await run(t);
        expect(r.dtype).toBe(dtype);
        expectClose(r, reference(data, ident(6), ids, 4, kind, kind === 'prod' ? 1 : 0), { atol: 1e-5 });
      }
    });
  }

  it('rejects unsorted or negative ids, and ids of the wrong length', async () => {
    await expect(run(build(() => S.segmentSum(tf.constant([1, 2, 3]), tf.placeholderWithDefault(int32([1, 0, 1]), [3]))))).rejects.toThrow(/not increasing/);
    await expect(run(build(() => S.segmentMax(tf.constant([1, 2]), tf.placeholderWithDefault(int32([-1, 0]), [2]))))).rejects.toThrow(/out of range/);
    expect(() => build(() => S.segmentSum(tf.zeros([3, 2]), [0, 1]))).toThrow(/same size as dimension 0/);
    expect(() => build(() => S.segmentSum(tf.zeros([3, 2]), [[0, 1, 1]]))).toThrow(/rank 1/);
  });
});

describe('unsorted segment reductions', () => {
  const ids = [3, -1, 0, 3, 0, 3];
  const LOWEST = -3.4028234663852886e38;
  for (const [type, fn, kind, empty] of [
    ['UnsortedSegmentMax', S.unsortedSegmentMax, 'max', LOWEST],
    ['UnsortedSegmentMin', S.unsortedSegmentMin, 'min', -LOWEST],
    ['UnsortedSegmentProd', S.unsortedSegmentProd, 'prod', 1],
  ] as const) {
    it(`${type} matches a naive reference: negative ids dropped, empty segments at the identity`, async () => {
      const data = randomArray([6, 3], { seed: 4 });
      const t = build(() => fn(data, ids, 5));
      expect(t.op.type).toBe(type);
      expect(t.shape).toEqual([5, 3]);
      expectClose(await run(t), reference(data, ident(6), ids, 5, kind, empty));
      const ints = randomArray([6, 3], { dtype: 'int32', seed: 5, min: -9, max: 9 });
      const empty32 = kind === 'max' ? -2147483648 : kind === 'min' ? 2147483647 : 1;
      expectClose(await run(build(() => fn(ints, ids, 5))), reference(ints, ident(6), ids, 5, kind, empty32), { atol: 0, rtol: 0 });
    });
  }

  it('takes id matrices (a prefix of data), rejects ids >= num_segments', async () => {
    const data = randomArray([2, 3, 2], { seed: 6 });
    const ids = [[1, 0, 1], [0, 2, -1]];
    const t = build(() => S.unsortedSegmentMax(data, ids, 3));
    expect(t.shape).toEqual([3, 2]);
    const flat = new tf.NDArray(data.data, [6, 2]);
    expectClose(await run(t), reference(flat, ident(6), ids.flat(), 3, 'max', 0));
    await expect(run(build(() => S.unsortedSegmentProd(tf.constant([1, 2]), [0, 2], 2)))).rejects.toThrow(/not in \[0, 2\)/);
    expect(() => build(() => S.unsortedSegmentMin(tf.zeros([2, 3]), [[0, 1]], 2))).toThrow(/prefix/);
  });

  it('unsortedSegmentMean and unsortedSegmentSqrtN (composites) match a naive reference', async () => {
    const data = randomArray([5, 2], { seed: 7 });
    const ids = [1, 0, 1, -1, 1];
    const [m, q] = build(() => [S.unsortedSegmentMean(data, ids, 3), S.unsortedSegmentSqrtN(data, ids, 3)]);
    const [rm, rq] = await run([m!, q!]);
    expectClose(rm!, reference(data, ident(5), ids, 3, 'mean', 0));
    expectClose(rq!, reference(data, ident(5), ids, 3, 'sqrtn', 0));
  });
});

describe('sparse segment reductions', () => {
  const data = randomArray([4, 3], { seed: 8 });
  const indices = [0, 2, 3, 3, 1];
  const ids = [0, 0, 1, 1, 3];

  it('SparseSegmentSum and SparseSegmentMean match the oracle; SqrtN a naive reference', async () => {
    const [sum, mean, sqrtn] = build(() => [S.sparseSegmentSum(data, indices, ids), S.sparseSegmentMean(data, indices, ids), S.sparseSegmentSqrtN(data, indices, ids)]);
    expect(sum!.shape).toEqual([4, 3]);
    const [rs, rm, rq] = await run([sum!, mean!, sqrtn!]);
    const od = T.tensor(nums(data), data.shape, 'float32');
    const oi = T.tensor1d(indices, 'int32');
    const os = T.tensor1d(ids, 'int32');
    expectClose(rs!, await fromTfjs(T.sparse.sparseSegmentSum(od, oi, os)), { atol: 1e-6 });
    expectClose(rm!, await fromTfjs(T.sparse.sparseSegmentMean(od, oi, os)), { atol: 1e-6 });
    expectClose(rq!, reference(data, indices, ids, 4, 'sqrtn', 0));
  });

  it('the *WithNumSegments ops pad to num_segments rows; int64 indices and int32 data work', async () => {
    const ints = randomArray([4, 3], { dtype: 'int32', seed: 9, min: -9, max: 9 });
    const [a, b, c] = build(() => [
      S.sparseSegmentSum(ints, int64(indices), int64(ids), { numSegments: 6 }),
      S.sparseSegmentMean(data, indices, ids, { numSegments: 5 }),
      S.sparseSegmentSqrtN(data, indices, ids, { numSegments: 4 }),
    ]);
    expect([a!.op.type, b!.op.type, c!.op.type]).toEqual(['SparseSegmentSumWithNumSegments', 'SparseSegmentMeanWithNumSegments', 'SparseSegmentSqrtNWithNumSegments']);
    expect(a!.shape).toEqual([6, 3]);
    const [ra, rb, rc] = await run([a!, b!, c!]);
    expectClose(ra!, reference(ints, indices, ids, 6, 'sum', 0), { atol: 0, rtol: 0 });
    expectClose(rb!, reference(data, indices, ids, 5, 'mean', 0));
    expectClose(rc!, reference(data, indices, ids, 4, 'sqrtn', 0));
  });

  it('rejects out-of-range indices, unsorted ids and ids >= num_segments', async () => {
    await expect(run(build(() => S.sparseSegmentSum(data, [0, 4], [0, 1])))).rejects.toThrow(/indices\[1\] = 4 is not in \[0, 4\)/);
    await expect(run(build(() => S.sparseSegmentMean(data, [0, 1], tf.placeholderWithDefault(int32([1, 0]), [2]))))).rejects.toThrow(/not increasing/);
    await expect(run(build(() => S.sparseSegmentSum(data, [0, 1], [0, 2], { numSegments: 2 })))).rejects.toThrow(/out of range/);
    expect(() => build(() => S.sparseSegmentSum(data, [0, 1, 2], [0, 1]))).toThrow(/same size/);
    expect(() => build(() => S.sparseSegmentMean(int32([1, 2]), [0], [0]))).toThrow(/dtype int32/);
  });

  it('SparseSegmentMeanGrad / SqrtNGrad scatter the weighted rows back', async () => {
    const g = randomArray([4, 3], { seed: 10 });
    const [m, q] = build(() =>
      (['SparseSegmentMeanGrad', 'SparseSegmentSqrtNGrad'] as const).map((type) =>
        S.sparseSegmentReductionGrad(type, tf.constant(g), tf.constant(int32(indices)), tf.constant(int32(ids)), tf.constant(5, 'int32')),
      ),
    );
    expect(m!.shape).toEqual([5, 3]);
    const [rm, rq] = await run([m!, q!]);
    const counts = ids.map((s) => ids.filter((x) => x === s).length);
    const gd = nums(g);
    for (const [r, w] of [[rm!, (n: number) => 1 / n], [rq!, (n: number) => 1 / Math.sqrt(n)]] as const) {
      const want = new Array<number>(15).fill(0);
      indices.forEach((row, k) => {
        for (let j = 0; j < 3; j++) want[row * 3 + j]! += gd[ids[k]! * 3 + j]! * w(counts[k]!);
      });
      expectClose(r, want);
    }
  });
});

describe('SparseReshape and SparseFillEmptyRows', () => {
  it('SparseReshape matches the oracle, -1 inferred; bad sizes are errors', async () => {
    const ind = [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 2, 3]];
    const sp = build(() => S.sparseReshape(new S.SparseTensor(ind, [1, 2, 3, 4, 5], [2, 3, 6]), [9, -1]));
    expect(sp.indices.shape).toEqual([5, 2]);
    const [ri, rs] = await run([sp.indices, sp.denseShape]);
    const want = T.sparse.sparseReshape(T.tensor2d(ind, [5, 3], 'int32'), T.tensor1d([2, 3, 6], 'int32'), T.tensor1d([9, -1], 'int32'));
    expect(nums(ri!)).toEqual(Array.from(await want.outputIndices.data()));
    expect(nums(rs!)).toEqual(Array.from(await want.outputShape.data()));
    await expect(run(build(() => S.sparseReshape(new S.SparseTensor(ind, [1, 2, 3, 4, 5], [2, 3, 6]), [5, -1]).denseShape))).rejects.toThrow(/SparseReshape/);
  });

  it('SparseFillEmptyRows matches the oracle on unordered indices with empty rows', async () => {
    const ind = [[3, 1], [0, 0], [3, 0], [1, 2], [0, 3]];
    const values = [10, 20, 30, 40, 50];
    const [sp, empty, op] = build(() => {
      const [sp, empty] = S.sparseFillEmptyRows(new S.SparseTensor(ind, tf.constant(values, 'float32'), [6, 4]), -1);
      return [sp, empty, empty.op];
    });
    expect(empty.shape).toEqual([6]);
    const [ri, rv, re, rmap] = await run([sp.indices, sp.values, empty, op.outputs[3]!]);
    const want = T.sparse.sparseFillEmptyRows(T.tensor2d(ind, [5, 2], 'int32'), T.tensor1d(values, 'float32'), T.tensor1d([6, 4], 'int32'), -1);
    expect(nums(ri!)).toEqual(Array.from(await want.outputIndices.data()));
    expect(nums(rv!)).toEqual(Array.from(await want.outputValues.data()));
    expect(nums(re!)).toEqual(Array.from(await want.emptyRowIndicator.data()));
    expect(nums(rmap!)).toEqual(Array.from(await want.reverseIndexMap.data()));
    await expect(run(build(() => S.sparseFillEmptyRows(new S.SparseTensor([[7, 0]], [1], [6, 4]), 0)[1]))).rejects.toThrow(/indices\(0, 0\) is invalid/);
  });

  it('SparseFillEmptyRowsGrad: values take their slots, the default value the rest', async () => {
    const t = build(() => S.sparseFillEmptyRowsGrad(tf.constant(int64([3, 0, 4])), tf.constant([1, 2, 3, 4, 5, 6], 'float32')));
    const [dv, dd] = await run(t);
    expect(nums(dv!)).toEqual([4, 1, 5]);
    expect(nums(dd!)).toEqual([2 + 3 + 6]);
  });

  it('tf.sparse.toDense goes through SparseToDense when it is registered', async () => {
    const sp = (): S.SparseTensor => new S.SparseTensor([[0, 1], [2, 0]], [5, 7], [3, 2]);
    // Another family adds SparseToDense (op and kernel); until both are there toDense says so.
    if (getOpDef('SparseToDense') && getCpuKernel('SparseToDense')) {
      const d = build(() => S.sparseToDense(sp(), { defaultValue: -1 }));
      expect((await run(d)).toArray()).toEqual([[-1, 5], [-1, -1], [7, -1]]);
    } else {
      expect(() => build(() => S.sparseToDense(sp()))).toThrow(/not registered/);
    }
  });

  it('SparseTensor keeps TF1 fields and a static shape from a constant dense_shape', () => {
    const sp = build(() => new S.SparseTensor([[0, 1]], [2.5], [3, 4]));
    expect(sp.indices.dtype).toBe('int64');
    expect(sp.denseShape.dtype).toBe('int64');
    expect(sp.dtype).toBe('float32');
    expect(sp.shape).toEqual([3, 4]);
    expect(() => build(() => new S.SparseTensor(tf.constant([[0, 1]], 'int32'), [1], [3, 4]))).toThrow(/int64/);
  });
});

describe('GraphDef round trip', () => {
  it('segment and sparse ops export, import and run to the same values', async () => {
    const data = randomArray([4, 3], { seed: 11 });
    const g1 = new tf.Graph();
    const outs = g1.asDefault(() => {
      const [filled] = S.sparseFillEmptyRows(new S.SparseTensor([[2, 1]], [3.5], [4, 2]), 1.5);
      return [
        S.sparseSegmentMean(data, [0, 3, 1], [0, 0, 2], { numSegments: 4, name: 'ssm' }),
        S.segmentMax(data, [0, 1, 1, 1], 'smax'),
        S.unsortedSegmentProd(data, [1, 0, 1, -1], 2, 'uprod'),
        tf.identity(filled.values, 'filled'),
        tf.identity(S.sparseReshape(filled, [2, -1]).indices, 'reshaped'),
      ];
    });
    const want = await run(outs, undefined, g1);
    const g2 = new tf.Graph();
    const imported = g2.asDefault(() => tf.importGraphDef(g1.toGraphDef(), { returnElements: ['ssm:0', 'smax:0', 'uprod:0', 'filled:0', 'reshaped:0'] })) as tf.Tensor[];
    const got = await run(imported, undefined, g2);
    got.forEach((r, i) => expect(r.toArray()).toEqual(want[i]!.toArray()));
  });
});
