import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as R from '../src/api/ragged.js';
import { randomArray, run, tfjs } from './helpers.js';

type TFJS = Awaited<ReturnType<typeof tfjs>>;
let T: TFJS;
beforeAll(async () => {
  T = await tfjs();
});

const build = <R>(fn: () => R): R => new tf.Graph().asDefault(fn);
const nums = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);
const data = async (t: { data(): Promise<ArrayLike<number>> }): Promise<number[]> => Array.from(await t.data());

describe('RaggedRange', () => {
  it('matches the oracle: vectors, broadcast scalars, negative deltas, empty rows, floats', async () => {
    const cases: [number | number[], number | number[], number | number[]][] = [
      [[0, 5, 8, 3], [3, 3, 12, 3], [1, -1, 2, 1]],
      [2, [5, 2, 9], 3],
      [[0.5, 1], 3.2, [0.7, 0.5]],
    ];
    for (const [s, l, d] of cases) {
      const r = build(() => R.raggedRange(s, l, d));
      const [splits, values] = await run([r.rowSplits, r.values]);
      expect(splits!.dtype).toBe('int64');
      const float = [s, l, d].flat().some((x) => !Number.isInteger(x));
      const want = T.raggedRange(T.tensor(s, undefined, float ? 'float32' : 'int32'), T.tensor(l, undefined, float ? 'float32' : 'int32'), T.tensor(d, undefined, float ? 'float32' : 'int32'));
      expect(nums(splits!)).toEqual(await data(want.rtNestedSplits!));
      const got = nums(values!);
      const exp = await data(want.rtDenseValues!);
      expect(got.length).toBe(exp.length);
      got.forEach((g, i) => expect(g).toBeCloseTo(exp[i]!, 5));
    }
  });

  it('rejects delta 0 and mismatched lengths', async () => {
    await expect(run(build(() => R.raggedRange([0, 1], 4, tf.placeholderWithDefault(tf.constant([1, 0], 'int32'), [2])).values))).rejects.toThrow(/delta != 0/);
    expect(() => build(() => R.raggedRange([0, 1], [2, 3, 4]))).toThrow(/same shape/);
  });
});

describe('RaggedGather', () => {
  it('matches the oracle for one and two ragged levels and matrix indices', async () => {
    const cases = [
      { splits: [[0, 2, 2, 5, 6]], values: randomArray([6], { seed: 1 }), indices: [3, 0, 1, 3], rank: 1 },
      { splits: [[0, 1, 3], [0, 2, 3, 6]], values: randomArray([6, 2], { seed: 2 }), indices: [1, 0, 1], rank: 2 },
      { splits: [[0, 2, 3, 5]], values: randomArray([5], { seed: 3 }), indices: [[2, 0], [1, 1]], rank: 2 },
    ];
    for (const c of cases) {
      const r = build(() => R.raggedGather(c.splits.map((s) => tf.constant(s, 'int32')), c.values, c.indices));
      expect(r.nestedSplits.length).toBe(c.rank);
      const got = await run([...r.nestedSplits, r.values]);
      const want = T.raggedGather(c.splits.map((s) => T.tensor1d(s, 'int32')), T.tensor(nums(c.values), c.values.shape), T.tensor(c.indices, undefined, 'int32'), c.rank);
      for (let i = 0; i < c.rank; i++) expect(nums(got[i]!)).toEqual(await data(want.outputNestedSplits[i]!));
      const vals = got[c.rank]!;
      expect(vals.shape).toEqual(want.outputDenseValues.shape);
      expect(nums(vals)).toEqual(await data(want.outputDenseValues));
    }
  });

  it('rejects out-of-range indices', async () => {
    await expect(run(build(() => R.raggedGather([tf.constant([0, 1, 3], 'int64')], tf.constant([1, 2, 3]), [2]).values))).rejects.toThrow(/indices\[0\] = 2 is not in \[0, 2\)/);
  });
});

describe('RaggedTensorToTensor', () => {
  it('matches the oracle for ROW_SPLITS (padding and truncation) and FIRST_DIM_SIZE + VALUE_ROWIDS', async () => {
    const values = randomArray([7, 2], { seed: 4 });
    const cases: { shape: number[]; parts: number[][]; types: R.RowPartitionType[]; dflt: number | number[] }[] = [
      { shape: [-1, -1, 2], parts: [[0, 3, 3, 7]], types: ['ROW_SPLITS'], dflt: 0.5 },
      { shape: [2, 2, 2], parts: [[0, 3, 3, 7]], types: ['ROW_SPLITS'], dflt: 3 },
      { shape: [4, -1, 2], parts: [[4], [0, 0, 2, 2, 2, 3, 3]], types: ['FIRST_DIM_SIZE', 'VALUE_ROWIDS'], dflt: 9 },
    ];
    for (const c of cases) {
      const t = build(() => R.raggedTensorToTensor(c.shape, values, c.dflt, c.parts.map((p) => tf.constant(p, 'int64')), c.types));
      const got = await run(t);
      const want = T.raggedTensorToTensor(T.tensor1d(c.shape, 'int32'), T.tensor(nums(values), values.shape), T.tensor(c.dflt), c.parts.map((p) => T.tensor(p, undefined, 'int32')), c.types);
      expect(got.shape).toEqual(want.shape);
      expect(nums(got)).toEqual(await data(want));
    }
  });

  it('fills two ragged levels (padding dim 1, inferring dim 2) as written out', async () => {
    const t = build(() => R.raggedTensorToTensor([-1, 3, -1], [1, 2, 3, 4, 5, 6, 7], -1, [[0, 2, 3], [0, 1, 4, 7]].map((p) => tf.constant(p, 'int64')), ['ROW_SPLITS', 'ROW_SPLITS']));
    expect(t.shape).toEqual([null, 3, null]);
    expect((await run(t)).toArray()).toEqual([
      [[1, -1, -1], [2, 3, 4], [-1, -1, -1]],
      [[5, 6, 7], [-1, -1, -1], [-1, -1, -1]],
    ]);
  });

  it('broadcasts a non-scalar default over the inner dims, as TensorFlow documents (tfjs leaves zeros there)', async () => {
    const t = build(() => R.raggedTensorToTensor([-1, -1, 2], tf.constant([[1, 2], [3, 4], [5, 6]], 'float32'), [8, 9], [[0, 2, 2, 3]], ['ROW_SPLITS']));
    expect((await run(t)).toArray()).toEqual([[[1, 2], [3, 4]], [[8, 9], [8, 9]], [[5, 6], [8, 9]]]);
  });

  it('static output shape from a constant shape; errors on a bad partition type order', () => {
    const t = build(() => R.raggedTensorToTensor([-1, 4], [1, 2, 3], 0, [[0, 1, 3]], ['ROW_SPLITS']));
    expect(t.shape).toEqual([null, 4]);
    expect(() => build(() => R.raggedTensorToTensor([-1, 4], [1, 2, 3], 0, [[0, 0, 1]], ['VALUE_ROWIDS']))).toThrow(/FIRST_DIM_SIZE/);
  });
});

describe('GraphDef round trip', () => {
  it('ragged ops with attrs export, import and run to the same values', async () => {
    const g1 = new tf.Graph();
    g1.asDefault(() => {
      const r = R.raggedRange([0, 2], [3, 9], [1, 3], { rowSplitsDtype: 'int32', name: 'rr' });
      const gathered = R.raggedGather([r.rowSplits], r.values, [[1, 0]], 'rg');
      R.raggedTensorToTensor([-1, -1, -1], gathered.values, 7, gathered.nestedSplits, ['ROW_SPLITS', 'ROW_SPLITS'], 'dense');
    });
    const want = await run(g1.getTensorByName('dense:0'), undefined, g1);
    const g2 = new tf.Graph();
    const [t] = g2.asDefault(() => tf.importGraphDef(g1.toGraphDef(), { returnElements: ['dense:0'] })) as tf.Tensor[];
    const got = await run(t!, undefined, g2);
    expect(got.toArray()).toEqual(want.toArray());
    expect(want.toArray()).toEqual([[[2, 5, 8], [0, 1, 2]]]);
  });
});
