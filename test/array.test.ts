import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';
import { expectClose, fromTfjs, randomArray, rng, run, tfjs } from './helpers.js';

type TFJS = Awaited<ReturnType<typeof tfjs>>;
type OT = ReturnType<TFJS['tensor']>;
let T: TFJS;
beforeAll(async () => {
  T = await tfjs();
});

/** Builds in a fresh graph. */
function build<R>(fn: () => R): R {
  return new tf.Graph().asDefault(fn);
}

/** The oracle's copy of an NDArray (int64 becomes int32: tfjs has no int64). */
function o(a: tf.NDArray): OT {
  const values = Array.from(a.data as ArrayLike<number | bigint>, Number);
  const dtype = a.dtype === 'float32' ? 'float32' : a.dtype === 'bool' ? 'bool' : 'int32';
  return T.tensor(values, a.shape, dtype);
}

async function same(actual: tf.NDArray, expected: OT, opts: { atol?: number; dtype?: DType } = {}): Promise<void> {
  const exp = await fromTfjs(expected as never);
  expect(actual.shape).toEqual(exp.shape);
  if (opts.dtype) expect(actual.dtype).toBe(opts.dtype);
  expectClose(actual, exp, { atol: opts.atol ?? 0, rtol: 0 });
}

const int32 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(Int32Array.from(values), shape);
const ph = (dtype: DType, shape: (number | null)[] | null, name = 'p'): tf.Tensor => tf.placeholder(dtype, shape, name);
const DTYPES: DType[] = ['float32', 'int32', 'bool'];
const arr = (shape: number[], dtype: DType = 'float32', seed = 1): tf.NDArray =>
  randomArray(shape, { dtype, seed, min: dtype === 'int32' ? -50 : -1, max: dtype === 'int32' ? 50 : 1 });

describe('creation ops', () => {
  it('fill matches the oracle for float32, int32 and bool', async () => {
    for (const [value, dtype] of [[2.5, 'float32'], [7, 'int32'], [true, 'bool']] as const) {
      const t = build(() => tf.fill([2, 3], tf.constant(value as never, dtype)));
      expect(t.op.type).toBe('Fill');
      expect(t.shape).toEqual([2, 3]);
      await same(await run(t), T.fill([2, 3], value as never, dtype === 'bool' ? 'bool' : dtype), { dtype });
    }
  });

  it('fill takes a partially known shape tensor; negative dims are errors', async () => {
    const [t, x] = build(() => {
      const x = ph('float32', [null, 4], 'x');
      return [tf.fill([tf.stridedSlice(tf.shape(x), [0], [1], [1], { shrinkAxisMask: 1 }), 2], 1), x];
    });
    expect(t.shape).toEqual([null, 2]);
    const r = await run(t, [[x, randomArray([3, 4])]]);
    await same(r, T.ones([3, 2]));
    expect(() => build(() => tf.fill([2, -1], 0))).toThrow(/non-negative/);
  });

  it('zeros and ones: small static shapes are constants, large or dynamic shapes use Fill', async () => {
    const [small, large, dyn, b, x] = build(() => {
      const x = ph('int32', [2], 'shape');
      return [tf.zeros([2, 3]), tf.ones([40, 30], 'int32'), tf.zeros(x, 'float32'), tf.ones([2], 'bool'), x];
    });
    expect(small.op.type).toBe('Const');
    expect(small.op.name).toBe('zeros');
    expect(large.op.type).toBe('Fill');
    expect(large.op.name).toBe('ones');
    expect(dyn.op.type).toBe('Fill');
    expect(dyn.shape).toEqual([null, null]);
    await same(await run(small), T.zeros([2, 3]));
    await same(await run(large), T.ones([40, 30], 'int32'), { dtype: 'int32' });
    await same(await run(dyn, [[x, int32([3, 1])]]), T.zeros([3, 1]));
    await same(await run(b), T.ones([2], 'bool'), { dtype: 'bool' });
  });

  it('zerosLike and onesLike: constants/Fill for known shapes, ZerosLike/OnesLike ops otherwise', async () => {
    for (const dtype of DTYPES) {
      const v = arr([2, 3], dtype);
      const [zk, ok, zu, ou, zc, oc, x] = build(() => {
        const x = ph(dtype, [null, 3], 'x');
        const k = tf.constant(v);
        const other: DType = dtype === 'float32' ? 'int32' : 'float32';
        return [tf.zerosLike(k), tf.onesLike(k), tf.zerosLike(x), tf.onesLike(x), tf.zerosLike(x, other), tf.onesLike(x, other), x];
      });
      expect(zu.op.type).toBe('ZerosLike');
      expect(ou.op.type).toBe('OnesLike');
      expect(zc.op.type).toBe('Fill');
      expect(zu.shape).toEqual([null, 3]);
      expect(zc.shape).toEqual([null, 3]);
      const r = await run([zk, ok, zu, ou, zc, oc], [[x, v]]);
      const odt = dtype as 'float32' | 'int32' | 'bool';
      await same(r[0]!, T.zerosLike(o(v)), { dtype });
      await same(r[1]!, T.onesLike(o(v)), { dtype });
      await same(r[2]!, T.zeros([2, 3], odt), { dtype });
      await same(r[3]!, T.ones([2, 3], odt), { dtype });
      const other = dtype === 'float32' ? 'int32' : 'float32';
      await same(r[4]!, T.zeros([2, 3], other), { dtype: other });
      await same(r[5]!, T.ones([2, 3], other), { dtype: other });
    }
  });

  it('range matches the oracle, infers its dtype and size, and checks its arguments', async () => {
    const cases: [number, number, number][] = [
      [0, 5, 1],
      [2, 11, 3],
      [10, 2, -3],
      [3, 3, 1],
      [-4, 4, 2],
    ];
    for (const [s, l, d] of cases) {
      const t = build(() => tf.range(s, l, d));
      expect(t.dtype).toBe('int32');
      await same(await run(t), T.range(s, l, d, 'int32'), { dtype: 'int32' });
    }
    const f = build(() => tf.range(0, 1, 0.1));
    expect(f.dtype).toBe('float32');
    expect(f.shape).toEqual([10]);
    await same(await run(f), T.range(0, 1, 0.1), { atol: 1e-6 });
    const one = build(() => tf.range(4));
    expect((await run(one)).toArray()).toEqual([0, 1, 2, 3]);
    const i64 = build(() => tf.range(1, 7, 2, 'int64'));
    expect(i64.dtype).toBe('int64');
    expect((await run(i64)).toArray()).toEqual([1n, 3n, 5n]);
    expect(() => build(() => tf.range(0, 5, 0))).toThrow(/delta != 0/);
    expect(() => build(() => tf.range(5, 0, 1))).toThrow(/start <= limit/);
    // A fed limit: size unknown while building, checked at run time.
    const [dyn, lim] = build(() => {
      const lim = ph('int32', [], 'lim');
      return [tf.range(0, lim, -1), lim];
    });
    expect(dyn.shape).toEqual([null]);
    await expect(run(dyn, [[lim, 3]])).rejects.toThrow(tf.errors.InvalidArgumentError);
    // A float tensor argument widens the dtype.
    const w = build(() => tf.range(0, tf.constant(2.5), 1));
    expect(w.dtype).toBe('float32');
    expect((await run(w)).toArray()).toEqual([0, 1, 2]);
  });
});

describe('Reshape', () => {
  it('matches the oracle for all dtypes, with -1 and size-0 dims', async () => {
    const cases: [number[], number[]][] = [
      [[2, 3, 4], [4, -1]],
      [[2, 3, 4], [24]],
      [[6], [1, 2, 1, 3]],
      [[0, 3], [-1, 3]],
      [[0, 3], [3, 0, 5]],
      [[1], []],
    ];
    for (const dtype of DTYPES) {
      for (const [from, to] of cases) {
        const v = arr(from, dtype);
        const t = build(() => tf.reshape(tf.constant(v), to));
        await same(await run(t), T.reshape(o(v), to), { dtype });
      }
    }
  });

  it('infers static shapes from constant and partially known shape tensors', () => {
    build(() => {
      expect(tf.reshape(tf.zeros([2, 3]), [-1, 2]).shape).toEqual([3, 2]);
      const x = ph('float32', [null, 6], 'x');
      expect(tf.reshape(x, [-1]).shape).toEqual([null]);
      expect(tf.reshape(x, [-1, 2, 3]).shape).toEqual([null, 2, 3]);
      const n = tf.stridedSlice(tf.shape(x), [0], [1], [1], { shrinkAxisMask: 1 });
      expect(tf.reshape(x, [n, 3, 2]).shape).toEqual([null, 3, 2]);
      expect(tf.reshape(x, tf.concat([tf.shape(x), [1]], 0)).shape).toEqual([null, 6, 1]);
      const fedShape = ph('int32', [3], 's');
      expect(tf.reshape(x, fedShape).shape).toEqual([null, null, null]);
      expect(tf.reshape(x, ph('int32', null, 's2')).shape).toBeNull();
      // One unknown element in the target with a known input size is inferred.
      const y = tf.zeros([4, 6]);
      const m = tf.placeholder('int32', [], 'm');
      expect(tf.reshape(y, tf.stack([m, 12])).shape).toEqual([2, 12]);
    });
  });

  it('rejects impossible shapes while building and at run time', async () => {
    expect(() => build(() => tf.reshape(tf.zeros([2, 3]), [4]))).toThrow(tf.errors.InvalidArgumentError);
    expect(() => build(() => tf.reshape(tf.zeros([2, 3]), [4]))).toThrow(/Reshape op 'Reshape'.*6 elements.*\[4\]/);
    expect(() => build(() => tf.reshape(tf.zeros([2, 3]), [-1, 4]))).toThrow(/not a multiple of 4/);
    expect(() => build(() => tf.reshape(tf.zeros([2, 3]), [-1, -1]))).toThrow(/one unknown dimension/);
    const [t, x] = build(() => {
      const x = ph('float32', [null], 'x');
      return [tf.reshape(x, [2, 2]), x];
    });
    await expect(run(t, [[x, [1, 2, 3]]])).rejects.toThrow(/3 values, but the requested shape has 4/);
  });
});

describe('Transpose', () => {
  it('matches the oracle on random permutations and dtypes, including size-0 dims', async () => {
    const r = rng(7);
    for (const dtype of DTYPES) {
      for (const shape of [[2, 3], [2, 3, 4], [3, 1, 2, 2], [2, 0, 3], [4]]) {
        const perm = shape.map((_, i) => i).sort(() => r() - 0.5);
        const v = arr(shape, dtype, 3);
        const [a, b] = build(() => [tf.transpose(tf.constant(v), perm), tf.transpose(tf.constant(v))]);
        const rr = await run([a, b]);
        await same(rr[0]!, T.transpose(o(v), perm), { dtype });
        await same(rr[1]!, T.transpose(o(v)), { dtype });
      }
    }
  });

  it('infers shapes, reverses dims of unknown rank at run time, and checks perm', async () => {
    const [t, dflt, x] = build(() => {
      const x = ph('float32', null, 'x');
      return [tf.transpose(ph('float32', [null, 3, 4], 'y'), [2, 0, 1]), tf.transpose(x), x];
    });
    expect(t.shape).toEqual([4, null, 3]);
    expect(dflt.shape).toBeNull();
    expect(build(() => tf.transpose(tf.zeros([2, 3]), ph('int32', [2], 'perm'))).shape).toEqual([null, null]);
    const v = arr([2, 3, 4]);
    await same(await run(dflt, [[x, v]]), T.transpose(o(v)));
    expect(() => build(() => tf.transpose(tf.zeros([2, 3]), [0, 0]))).toThrow(/duplicated/);
    expect(() => build(() => tf.transpose(tf.zeros([2, 3]), [0, 1, 2]))).toThrow(/rank 2/);
    const inv = build(() => tf.invertPermutation([2, 0, 3, 1]));
    expect((await run(inv)).toArray()).toEqual([1, 3, 0, 2]);
  });
});

describe('ConcatV2', () => {
  it('matches the oracle with negative axes, several inputs, size-0 parts and all dtypes', async () => {
    for (const dtype of DTYPES) {
      const cases: [number[][], number][] = [
        [[[2, 3], [2, 1], [2, 4]], 1],
        [[[2, 3], [2, 1], [2, 4]], -1],
        [[[1, 2, 2], [3, 2, 2]], 0],
        [[[2, 0], [2, 3]], -1],
        [[[0, 3], [2, 3]], 0],
        [[[2, 3, 1], [2, 3, 2]], 2],
      ];
      for (const [shapes, axis] of cases) {
        const vs = shapes.map((s, i) => arr(s, dtype, i + 1));
        const t = build(() => tf.concat(vs.map((v) => tf.constant(v)), axis));
        await same(await run(t), T.concat(vs.map(o), axis), { dtype });
      }
    }
  });

  it('infers partial shapes and rejects mismatched ranks and dims', () => {
    build(() => {
      const a = ph('float32', [null, 2], 'a');
      const b = ph('float32', [3, 2], 'b');
      expect(tf.concat([a, b], 0).shape).toEqual([null, 2]);
      expect(tf.concat([a, b], 1).shape).toEqual([3, 4]);
      expect(tf.concat([a, ph('float32', null, 'c')], -1).shape).toEqual([null, null]);
      expect(tf.concat([a, b], ph('int32', [], 'axis')).shape).toEqual([null, null]);
      expect(tf.concat([a, [[1, 2]]], 0).shape).toEqual([null, 2]);
      const single = tf.concat([a], 0);
      expect(single.op.type).toBe('Identity');
      expect(() => tf.concat([a, ph('float32', [3, 2, 1], 'd')], 0)).toThrow(/rank/);
      expect(() => tf.concat([b, ph('float32', [3, 5], 'e')], 0)).toThrow(/Dimension 1 in both shapes must be equal/);
      expect(() => tf.concat([b, b], 2)).toThrow(/out of range/);
      expect(() => tf.concat([b, ph('int32', [3, 2], 'f')], 0)).toThrow(tf.errors.InvalidArgumentError);
    });
  });

  it('checks dims at run time', async () => {
    const [t, a, b] = build(() => {
      const a = ph('float32', [null, null], 'a');
      const b = ph('float32', [null, null], 'b');
      return [tf.concat([a, b], 0), a, b];
    });
    await expect(run(t, [[a, arr([1, 2])], [b, arr([1, 3])]])).rejects.toThrow(/Dimensions of inputs should match/);
  });
});

describe('Split and SplitV', () => {
  it('match the oracle for even splits and sizes with -1, negative axes, size-0 parts', async () => {
    for (const dtype of DTYPES) {
      const v = arr([4, 6, 2], dtype);
      const cases: [number | number[], number][] = [
        [2, 0],
        [3, 1],
        [3, -2],
        [[1, -1, 2], 1],
        [[0, 4], 0],
        [[2, 0, 4], -2],
      ];
      for (const [n, axis] of cases) {
        const parts = build(() => tf.split(tf.constant(v), n, axis));
        expect(parts[0]!.op.type).toBe(typeof n === 'number' ? 'Split' : 'SplitV');
        const got = await run(parts);
        const exp = T.split(o(v), n, axis);
        expect(got.length).toBe(exp.length);
        for (let i = 0; i < got.length; i++) await same(got[i]!, exp[i]!, { dtype });
      }
    }
  });

  it('infers shapes and rejects uneven splits and inconsistent sizes', async () => {
    build(() => {
      const x = ph('float32', [null, 6], 'x');
      expect(tf.split(x, 3, 1).map((t) => t.shape)).toEqual([[null, 2], [null, 2], [null, 2]]);
      expect(tf.split(x, [1, -1], 1).map((t) => t.shape)).toEqual([[null, 1], [null, 5]]);
      expect(tf.split(x, [1, -1], 0).map((t) => t.shape)).toEqual([[1, 6], [null, 6]]);
      expect(() => tf.split(x, 4, 1)).toThrow(/evenly divide/);
      expect(() => tf.split(x, [1, 2], 1)).toThrow(/Got: 3 vs 6/);
      expect(() => tf.split(x, [-1, -1], 1)).toThrow(/at most one -1/);
    });
    const [parts, x] = build(() => {
      const x = ph('float32', [null], 'x');
      return [tf.split(x, 2, 0), x];
    });
    await expect(run(parts, [[x, [1, 2, 3]]])).rejects.toThrow(/evenly divide/);
  });
});

describe('Pack and Unpack', () => {
  it('stack matches the oracle on every axis and dtype', async () => {
    for (const dtype of DTYPES) {
      const vs = [1, 2, 3].map((s) => arr([2, 3], dtype, s));
      for (const axis of [0, 1, 2, -1, -3]) {
        const t = build(() => tf.stack(vs.map((v) => tf.constant(v)), axis));
        await same(await run(t), T.stack(vs.map(o), axis), { dtype });
      }
      const scalars = build(() => tf.stack([tf.constant(1), tf.constant(2)]));
      expect((await run(scalars)).toArray()).toEqual([1, 2]);
    }
  });

  it('unstack matches the oracle and infers num', async () => {
    for (const dtype of DTYPES) {
      const v = arr([2, 3, 4], dtype);
      for (const axis of [0, 1, -1]) {
        const parts = build(() => tf.unstack(tf.constant(v), { axis }));
        const exp = T.unstack(o(v), axis);
        expect(parts.length).toBe(exp.length);
        const got = await run(parts);
        for (let i = 0; i < got.length; i++) await same(got[i]!, exp[i]!, { dtype });
      }
    }
  });

  it('check shapes while building', () => {
    build(() => {
      expect(tf.stack([ph('float32', [null, 3], 'a'), ph('float32', [2, null], 'b')], 1).shape).toEqual([2, 2, 3]);
      expect(() => tf.stack([tf.zeros([2]), tf.zeros([3])])).toThrow(/Shapes of all inputs must match/);
      expect(() => tf.stack([tf.zeros([2])], 2)).toThrow(/out of range/);
      expect(() => tf.unstack(ph('float32', [null, 2], 'c'))).toThrow(/cannot infer num/);
      expect(tf.unstack(ph('float32', [null, 2], 'd'), { num: 3 }).map((t) => t.shape)).toEqual([[2], [2], [2]]);
      expect(() => tf.unstack(tf.zeros([2, 3]), { num: 3 })).toThrow(/must be 3/);
    });
  });
});

describe('Slice', () => {
  it('matches the oracle, with size -1 and size-0 slices', async () => {
    for (const dtype of DTYPES) {
      const v = arr([4, 5, 3], dtype);
      const cases: [number[], number[]][] = [
        [[1, 2, 0], [2, 3, 3]],
        [[0, 0, 1], [-1, -1, -1]],
        [[3, 4, 2], [1, 1, 1]],
        [[2, 0, 0], [0, 5, 3]],
        [[4, 0, 0], [-1, 2, 2]],
      ];
      for (const [b, s] of cases) {
        const t = build(() => tf.slice(tf.constant(v), b, s));
        await same(await run(t), T.slice(o(v), b, s), { dtype });
      }
    }
  });

  it('infers shapes and rejects out-of-range slices while building and at run time', async () => {
    build(() => {
      const x = ph('float32', [null, 5], 'x');
      expect(tf.slice(x, [1, 1], [-1, -1]).shape).toEqual([null, 4]);
      expect(tf.slice(x, [1, 1], [2, 3]).shape).toEqual([2, 3]);
      expect(tf.slice(x, ph('int32', [2], 'b'), [2, -1]).shape).toEqual([2, null]);
      expect(() => tf.slice(x, [0, 3], [1, 3])).toThrow(/size\[1\]/);
      expect(() => tf.slice(x, [0, 6], [1, -1])).toThrow(/begin\[1\]/);
      expect(() => tf.slice(x, [0], [1])).toThrow(/rank/);
    });
    const [t, b] = build(() => {
      const b = ph('int32', [2], 'b');
      return [tf.slice(tf.zeros([3, 3]), b, [2, 2]), b];
    });
    await expect(run(t, [[b, int32([2, 0])]])).rejects.toThrow(tf.errors.InvalidArgumentError);
  });
});

/**
 * Python's basic slicing, written from the language's rules (slice.indices) independently of TF's
 * canonicalization: x[spec0, spec1, ...], trailing dims taken whole, integer specs drop the dim.
 */
function pySlice(x: tf.NDArray, specs: ({ index: number } | { start?: number; stop?: number; step: number })[]): tf.NDArray {
  const lists: number[][] = [];
  const keep: boolean[] = [];
  x.shape.forEach((n, d) => {
    const sp = specs[d] ?? { step: 1 };
    if ('index' in sp) {
      lists.push([sp.index < 0 ? sp.index + n : sp.index]);
      keep.push(false);
      return;
    }
    const { step } = sp;
    const idx: number[] = [];
    if (step > 0) {
      const start = sp.start === undefined ? 0 : sp.start < 0 ? Math.max(sp.start + n, 0) : Math.min(sp.start, n);
      const stop = sp.stop === undefined ? n : sp.stop < 0 ? Math.max(sp.stop + n, 0) : Math.min(sp.stop, n);
      for (let i = start; i < stop; i += step) idx.push(i);
    } else {
      const start = sp.start === undefined ? n - 1 : sp.start < 0 ? Math.max(sp.start + n, -1) : Math.min(sp.start, n - 1);
      const stop = sp.stop === undefined ? -1 : sp.stop < 0 ? Math.max(sp.stop + n, -1) : Math.min(sp.stop, n - 1);
      for (let i = start; i > stop; i += step) idx.push(i);
    }
    lists.push(idx);
    keep.push(true);
  });
  const strides = x.shape.map((_, d) => x.shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const values: number[] = [];
  const walk = (d: number, off: number): void => {
    if (d === lists.length) {
      values.push(Number((x.data as ArrayLike<number>)[off]));
      return;
    }
    for (const i of lists[d]!) walk(d + 1, off + i * strides[d]!);
  };
  walk(0, 0);
  const shape = lists.filter((_, d) => keep[d]).map((l) => l.length);
  return new tf.NDArray(Float32Array.from(values), shape);
}

describe('StridedSlice', () => {
  interface Case {
    shape: number[];
    begin: number[];
    end: number[];
    strides: number[];
    masks?: tf.StridedSliceOptions;
    expect?: number[];
  }
  const cases: Case[] = [
    { shape: [4, 5], begin: [1], end: [3], strides: [1] },
    { shape: [4, 5], begin: [0, 3], end: [0, 0], strides: [-1, -2], masks: { beginMask: 1, endMask: 1 } },
    { shape: [4, 5], begin: [2, 0], end: [3, 0], strides: [1, 1], masks: { shrinkAxisMask: 1, endMask: 2 } },
    { shape: [4, 5], begin: [0, 0, 1], end: [0, 0, 5], strides: [1, 1, 1], masks: { beginMask: 1, endMask: 1, newAxisMask: 2 } },
    { shape: [2, 3, 4], begin: [0, 1], end: [0, 2], strides: [1, 1], masks: { ellipsisMask: 1, shrinkAxisMask: 2 } },
    { shape: [2, 3, 4], begin: [1, 0], end: [2, 2], strides: [1, 1], masks: { ellipsisMask: 2 } },
    { shape: [4, 5], begin: [-10, 1], end: [10, -1], strides: [1, 2] },
    { shape: [4, 5], begin: [-1], end: [0], strides: [1], masks: { shrinkAxisMask: 1 } },
    { shape: [4, 5], begin: [3, -1], end: [-5, -6], strides: [-1, -1] },
    { shape: [2, 3, 4], begin: [1, -1, 0], end: [0, 0, 4], strides: [1, -1, 3], masks: { beginMask: 0, endMask: 1 } },
    { shape: [0, 3], begin: [0, 1], end: [0, 3], strides: [1, 1], masks: { endMask: 1 } },
    { shape: [3], begin: [0], end: [0], strides: [1], masks: { beginMask: 1, endMask: 1 } },
  ];

  it('matches the oracle on masks, ellipsis, new axes, shrinking and negative strides', async () => {
    for (const dtype of DTYPES) {
      for (const c of cases) {
        const v = arr(c.shape, dtype, 5);
        const m = c.masks ?? {};
        const t = build(() => tf.stridedSlice(tf.constant(v), c.begin, c.end, c.strides, m));
        const exp = T.stridedSlice(o(v), c.begin, c.end, c.strides, m.beginMask, m.endMask, m.ellipsisMask, m.newAxisMask, m.shrinkAxisMask);
        expect(t.shape, JSON.stringify(c)).toEqual(exp.shape);
        await same(await run(t), exp, { dtype });
      }
    }
  });

  it('matches hand-computed results (x[::-1, 3:0:-2], x[..., tf.newaxis, 1], x[-1])', async () => {
    const x = tf.NDArray.from([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14]], 'int32');
    const [a, b, c] = build(() => {
      const t = tf.constant(x);
      return [
        tf.stridedSlice(t, [0, 3], [0, 0], [-1, -2], { beginMask: 1, endMask: 1 }),
        tf.stridedSlice(t, [0, 0, 1], [0, 0, 2], [1, 1, 1], { ellipsisMask: 1, newAxisMask: 2, shrinkAxisMask: 4 }),
        tf.stridedSlice(t, [-1], [0], [1], { shrinkAxisMask: 1 }),
      ];
    });
    const r = await run([a, b, c]);
    expect(r[0]!.toArray()).toEqual([[13, 11], [8, 6], [3, 1]]);
    expect(r[1]!.toArray()).toEqual([[1], [6], [11]]);
    expect(r[2]!.toArray()).toEqual([10, 11, 12, 13, 14]);
    // An empty range (the oracle rejects this one).
    const e = build(() => tf.stridedSlice(tf.constant(x), [3, 0], [1, 5], [1, 1]));
    expect(e.shape).toEqual([0, 5]);
    expect((await run(e)).shape).toEqual([0, 5]);
  });

  it('matches Python slicing rules on random slices', async () => {
    const r = rng(11);
    const v = arr([3, 4, 5], 'float32', 9);
    const pick = <X>(xs: X[]): X => xs[Math.floor(r() * xs.length)]!;
    const fetches: tf.Tensor[] = [];
    const expected: tf.NDArray[] = [];
    const g = new tf.Graph();
    for (let k = 0; k < 60; k++) {
      const begin: number[] = [];
      const end: number[] = [];
      const strides: number[] = [];
      let beginMask = 0;
      let endMask = 0;
      let shrinkAxisMask = 0;
      const specs: ({ index: number } | { start?: number; stop?: number; step: number })[] = [];
      const dims = 1 + Math.floor(r() * 3);
      for (let i = 0; i < dims; i++) {
        const n = v.shape[i]!;
        if (r() < 0.2) {
          const index = Math.floor(r() * 2 * n) - n;
          begin.push(index);
          end.push(0);
          strides.push(1);
          shrinkAxisMask |= 1 << i;
          specs.push({ index });
          continue;
        }
        const b = Math.floor(r() * (2 * n + 5)) - n - 2;
        const e = Math.floor(r() * (2 * n + 5)) - n - 2;
        const step = pick([-3, -2, -1, 1, 2, 3]);
        begin.push(b);
        end.push(e);
        strides.push(step);
        const bm = r() < 0.3;
        const em = r() < 0.3;
        if (bm) beginMask |= 1 << i;
        if (em) endMask |= 1 << i;
        specs.push({ start: bm ? undefined : b, stop: em ? undefined : e, step });
      }
      const m = { beginMask, endMask, shrinkAxisMask };
      fetches.push(g.asDefault(() => tf.stridedSlice(tf.constant(v), begin, end, strides, m)));
      expected.push(pySlice(v, specs));
    }
    const got = await run(fetches);
    for (let k = 0; k < got.length; k++) {
      expect(fetches[k]!.shape).toEqual(expected[k]!.shape);
      expectClose(got[k]!, expected[k]!, { atol: 0 });
    }
  });

  it('infers partial shapes and rejects invalid specs while building', () => {
    build(() => {
      const x = ph('float32', [null, 5, 4], 'x');
      expect(tf.stridedSlice(x, [0, 1], [0, 3], [1, 1], { beginMask: 1, endMask: 1 }).shape).toEqual([null, 2, 4]);
      expect(tf.stridedSlice(x, [0], [1], [1], { shrinkAxisMask: 1 }).shape).toEqual([5, 4]);
      expect(tf.stridedSlice(x, [0, 0], [0, 1], [1, 1], { ellipsisMask: 1, newAxisMask: 2 }).shape).toEqual([null, 5, 4, 1]);
      const b = ph('int32', [2], 'b');
      expect(tf.stridedSlice(x, b, [0, 0], [1, 1], { beginMask: 2, endMask: 2 }).shape).toEqual([null, 5, 4]);
      expect(tf.stridedSlice(x, b, [0, 0], ph('int32', [2], 's')).shape).toBeNull();
      expect(() => tf.stridedSlice(x, [0, 7], [0, 8], [1, 1], { shrinkAxisMask: 2 })).toThrow(/out of bounds/);
      expect(() => tf.stridedSlice(x, [0], [1], [0])).toThrow(/must be non-zero/);
      expect(() => tf.stridedSlice(x, [0, 0], [1, 1], [1, 1], { ellipsisMask: 3 })).toThrow(/Multiple ellipses/);
      expect(() => tf.stridedSlice(x, [0, 0], [1], [1, 1])).toThrow(/equal size/);
      expect(() => tf.stridedSlice(x, [0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1])).toThrow(/Index out of range/);
    });
  });

  it('StridedSliceGrad scatters dy into zeros at the sliced positions', async () => {
    // x holds each element's flat index, so the slice names the positions it read.
    const shape = [3, 4, 2];
    const idx = tf.NDArray.from(Array.from({ length: 24 }, (_, i) => i), 'float32', shape);
    for (const c of [
      { begin: [2, -1], end: [0, 0], strides: [-1, -2], masks: {} },
      { begin: [1, 0, 1], end: [3, 4, 0], strides: [1, 3, 1], masks: { shrinkAxisMask: 4, newAxisMask: 0 } },
      { begin: [0, 0], end: [0, 0], strides: [1, 1], masks: { ellipsisMask: 1, newAxisMask: 2 } },
    ]) {
      const [picked, dx] = build(() => {
        const x = tf.constant(idx);
        const y = tf.stridedSlice(x, c.begin, c.end, c.strides, c.masks);
        const dy = tf.add(y, 1000);
        const dxT = tf.getDefaultGraph()
          .createOp('StridedSliceGrad', [tf.constant(shape, 'int32'), tf.constant(c.begin, 'int32'), tf.constant(c.end, 'int32'), tf.constant(c.strides, 'int32'), dy], { ...y.op.attrs })
          .outputs[0]!;
        return [y, dxT];
      });
      const [p, d] = await run([picked, dx]);
      const expected = new Float32Array(24);
      for (const i of p!.data as Float32Array) expected[i] = i + 1000;
      expectClose(d!, expected, { atol: 0, shape });
    }
  });
});

describe('GatherV2', () => {
  it('matches the oracle on axes 0, 1, -1 with vector and matrix indices and all dtypes', async () => {
    for (const dtype of DTYPES) {
      const v = arr([3, 4, 2], dtype);
      const cases: [number[], number[], number][] = [
        [[2, 0, 2], [3], 0],
        [[3, 1, 0, 3], [2, 2], 1],
        [[1, 0], [2], -1],
        [[], [0], 1],
        [[1], [], 0],
      ];
      for (const [ind, ishape, axis] of cases) {
        const i = int32(ind, ishape);
        const t = build(() => tf.gather(tf.constant(v), tf.constant(i), axis));
        const exp = T.gather(o(v), T.tensor(ind, ishape, 'int32'), axis);
        expect(t.shape).toEqual(exp.shape);
        await same(await run(t), exp, { dtype });
      }
    }
  });

  it('takes int64 indices', async () => {
    const v = arr([4, 3]);
    const t = build(() => tf.gather(v, new tf.NDArray(BigInt64Array.from([3n, 1n]), [2]), 0));
    await same(await run(t), T.gather(o(v), [3, 1]));
  });

  it('reports out-of-range indices, naming the index', async () => {
    const [t, i] = build(() => {
      const i = ph('int32', [null, 2], 'i');
      return [tf.gather(tf.zeros([4, 3]), i), i];
    });
    expect(t.shape).toEqual([null, 2, 3]);
    await expect(run(t, [[i, int32([0, 1, 2, 7], [2, 2])]])).rejects.toThrow(/indices\[1,1\] = 7 is not in \[0, 4\)/);
    await expect(run(t, [[i, int32([0, -1], [1, 2])]])).rejects.toThrow(tf.errors.InvalidArgumentError);
    build(() => {
      expect(tf.gather(ph('float32', [null, 5], 'p'), [1, 2], 1).shape).toEqual([null, 2]);
      expect(tf.gather(ph('float32', [2, 5], 'q'), [1, 2], ph('int32', [], 'a')).shape).toEqual([null, null]);
      expect(() => tf.gather(tf.zeros([2, 3]), [0], 2)).toThrow(/out of range/);
    });
  });
});

describe('UnsortedSegmentSum', () => {
  it('matches the oracle', async () => {
    for (const dtype of ['float32', 'int32'] as DType[]) {
      const v = arr([5, 3], dtype);
      const ids = [2, 0, 2, 1, 0];
      const t = build(() => tf.unsortedSegmentSum(v, ids, 4));
      expect(t.shape).toEqual([4, 3]);
      await same(await run(t), T.unsortedSegmentSum(o(v), T.tensor1d(ids, 'int32'), 4), { dtype, atol: 1e-6 });
    }
  });

  it('drops negative ids, takes id matrices and rejects ids >= numSegments', async () => {
    const t = build(() => tf.unsortedSegmentSum(tf.constant([[1, 2], [3, 4]]), tf.constant([[0, -1], [1, 0]], 'int32'), 2));
    expect((await run(t)).toArray()).toEqual([5, 3]);
    const bad = build(() => tf.unsortedSegmentSum(tf.constant([1, 2]), [0, 2], 2));
    await expect(run(bad)).rejects.toThrow(/segment_ids\[1\] = 2 is not in \[0, 2\)/);
    expect(() => build(() => tf.unsortedSegmentSum(tf.zeros([2, 3]), [[0, 1]], 2))).toThrow(/prefix/);
  });
});

describe('OneHot', () => {
  it('matches the oracle on the last axis, with out-of-range indices giving off values', async () => {
    const idx = int32([0, 3, 1, -1, 5, 2], [2, 3]);
    const t = build(() => tf.oneHot(idx, 4, { onValue: 2, offValue: -1 }));
    expect(t.shape).toEqual([2, 3, 4]);
    await same(await run(t), T.oneHot(T.tensor(Array.from(idx.data as Int32Array), [2, 3], 'int32'), 4, 2, -1));
  });

  it('puts the depth axis where asked, and takes int32/bool dtypes', async () => {
    const idx = int32([0, 2, 1], [3]);
    const [a, b, c] = build(() => [tf.oneHot(idx, 3, { axis: 0 }), tf.oneHot(idx, 3, { dtype: 'int32' }), tf.oneHot(idx, 3, { dtype: 'bool' })]);
    expect(a.shape).toEqual([3, 3]);
    const r = await run([a, b, c]);
    const oracle = T.oneHot(T.tensor1d([0, 2, 1], 'int32'), 3);
    await same(r[0]!, T.transpose(oracle));
    await same(r[1]!, T.cast(oracle, 'int32'), { dtype: 'int32' });
    await same(r[2]!, T.cast(oracle, 'bool'), { dtype: 'bool' });
    const m = build(() => tf.oneHot(int32([0, 1, 2, 0], [2, 2]), 3, { axis: 1 }));
    expect(m.shape).toEqual([2, 3, 2]);
    await same(await run(m), T.transpose(T.oneHot(T.tensor([0, 1, 2, 0], [2, 2], 'int32'), 3), [0, 2, 1]));
    expect(() => build(() => tf.oneHot(idx, 3, { axis: 3 }))).toThrow(/axis/);
    const i64 = build(() => tf.oneHot(new tf.NDArray(BigInt64Array.from([2n, 0n]), [2]), 3));
    expect((await run(i64)).toArray()).toEqual([[0, 0, 1], [1, 0, 0]]);
  });
});

describe('Tile', () => {
  it('matches the oracle for all dtypes, including zero multiples', async () => {
    for (const dtype of DTYPES) {
      const v = arr([2, 3], dtype);
      for (const m of [[1, 1], [2, 3], [3, 1], [0, 2]]) {
        const t = build(() => tf.tile(tf.constant(v), m));
        await same(await run(t), T.tile(o(v), m), { dtype });
      }
      const v3 = arr([2, 1, 2], dtype);
      const t3 = build(() => tf.tile(tf.constant(v3), [1, 4, 2]));
      await same(await run(t3), T.tile(o(v3), [1, 4, 2]), { dtype });
    }
  });

  it('infers partial shapes and checks multiples', () => {
    build(() => {
      expect(tf.tile(ph('float32', [null, 2], 'x'), [2, 3]).shape).toEqual([null, 6]);
      expect(tf.tile(ph('float32', [null, 2], 'y'), [0, 3]).shape).toEqual([0, 6]);
      expect(tf.tile(tf.zeros([2, 2]), ph('int32', [2], 'm')).shape).toEqual([null, null]);
      expect(() => tf.tile(tf.zeros([2, 2]), [2])).toThrow(/length 2/);
      expect(() => tf.tile(tf.zeros([2, 2]), [2, -1])).toThrow(/non-negative/);
    });
  });
});

describe('ExpandDims and Squeeze', () => {
  it('match the oracle', async () => {
    for (const dtype of DTYPES) {
      const v = arr([2, 1, 3], dtype);
      for (const axis of [0, 1, 3, -1, -4]) {
        const t = build(() => tf.expandDims(tf.constant(v), axis));
        await same(await run(t), T.expandDims(o(v), axis), { dtype });
      }
      const w = arr([1, 2, 1, 1], dtype);
      for (const axis of [undefined, [0], [2, -1], [-4, 2]]) {
        const t = build(() => tf.squeeze(tf.constant(w), axis));
        await same(await run(t), T.squeeze(o(w), axis), { dtype });
      }
    }
  });

  it('infer shapes and reject squeezing a dim that is not 1', async () => {
    build(() => {
      const x = ph('float32', [null, 1, 3], 'x');
      expect(tf.expandDims(x, 1).shape).toEqual([null, 1, 1, 3]);
      expect(tf.squeeze(x, [1]).shape).toEqual([null, 3]);
      expect(tf.squeeze(x).shape).toBeNull();
      expect(tf.squeeze(tf.zeros([1, 2, 1])).shape).toEqual([2]);
      expect(() => tf.squeeze(x, [2])).toThrow(/Can not squeeze dim\[2\]/);
      expect(() => tf.expandDims(x, 5)).toThrow(/out of range/);
    });
    const [t, x] = build(() => {
      const x = ph('float32', [null, 2], 'x');
      return [tf.squeeze(x, [0]), x];
    });
    await expect(run(t, [[x, arr([3, 2])]])).rejects.toThrow(/Can not squeeze dim\[0\]/);
  });
});

describe('Shape, Size and Rank', () => {
  it('are constants for static shapes and ops otherwise', async () => {
    const [s, n, r, s64, ru, x, y] = build(() => {
      const x = ph('float32', [null, 3], 'x');
      const y = ph('bool', null, 'y');
      expect(tf.shape(tf.zeros([2, 3])).op.type).toBe('Const');
      expect(tf.size(tf.zeros([2, 3])).op.type).toBe('Const');
      expect(tf.rank(x).op.type).toBe('Const');
      return [tf.shape(x), tf.size(x), tf.rank(y), tf.shape(y, 'int64'), tf.size(y, 'int64'), x, y];
    });
    expect(s.op.type).toBe('Shape');
    expect(s.shape).toEqual([2]);
    expect(s64.shape).toEqual([null]);
    expect(r.op.type).toBe('Rank');
    const v = arr([4, 3]);
    const yv = arr([2, 0, 5], 'bool');
    const out = await run([s, n, r, s64, ru], [[x, v], [y, yv]]);
    expect(out[0]!.toArray()).toEqual([4, 3]);
    expect(out[1]!.toArray()).toBe(12);
    expect(out[2]!.toArray()).toBe(3);
    expect(out[3]!.dtype).toBe('int64');
    expect(out[3]!.toArray()).toEqual([2n, 0n, 5n]);
    expect(out[4]!.toArray()).toBe(0n);
  });
});

describe('Pad and PadV2', () => {
  it('match the oracle, with zero and non-zero constants', async () => {
    for (const dtype of ['float32', 'int32'] as DType[]) {
      const v = arr([2, 3], dtype);
      for (const [p, c] of [
        [[[1, 0], [2, 1]], 0],
        [[[0, 0], [0, 0]], 0],
        [[[2, 2], [1, 0]], 5],
      ] as [[number, number][], number][]) {
        const t = build(() => tf.pad(tf.constant(v), p, c));
        expect(t.op.type).toBe(c === 0 ? 'Pad' : 'PadV2');
        await same(await run(t), T.pad(o(v), p, c), { dtype });
      }
    }
    const e = arr([0, 2]);
    const t = build(() => tf.pad(e, [[1, 1], [0, 1]], 2));
    await same(await run(t), T.pad(o(e), [[1, 1], [0, 1]], 2));
    const b = build(() => tf.pad(tf.constant([true]), [[1, 1]], true));
    expect((await run(b)).toArray()).toEqual([true, true, true]);
  });

  it('infer shapes and reject bad paddings', async () => {
    build(() => {
      expect(tf.pad(ph('float32', [null, 3], 'x'), [[1, 1], [2, 0]]).shape).toEqual([null, 5]);
      expect(tf.pad(tf.zeros([2, 3]), ph('int32', [2, 2], 'p')).shape).toEqual([null, null]);
      expect(() => tf.pad(tf.zeros([2, 3]), [[1, 1]])).toThrow(/rank/);
      expect(() => tf.pad(tf.zeros([2, 3]), [[1, -1], [0, 0]])).toThrow(/non-negative/);
    });
    const [t, p] = build(() => {
      const p = ph('int32', [2, 2], 'p');
      return [tf.pad(tf.zeros([2, 3]), p), p];
    });
    await expect(run(t, [[p, int32([0, -1, 0, 0], [2, 2])]])).rejects.toThrow(/non-negative/);
  });
});

describe('BroadcastTo', () => {
  it('matches the oracle for all dtypes', async () => {
    for (const dtype of DTYPES) {
      for (const [from, to] of [
        [[3], [2, 3]],
        [[2, 1], [2, 4]],
        [[1, 3, 1], [2, 3, 2]],
        [[], [2, 2]],
        [[1], [0, 3]],
      ] as [number[], number[]][]) {
        const v = arr(from, dtype);
        const t = build(() => tf.broadcastTo(tf.constant(v), to));
        await same(await run(t), T.broadcastTo(o(v), to), { dtype });
      }
    }
  });

  it('infers shapes and rejects incompatible ones', async () => {
    build(() => {
      expect(tf.broadcastTo(ph('float32', [null, 1], 'x'), [2, 5]).shape).toEqual([2, 5]);
      expect(tf.broadcastTo(ph('float32', [4], 'z'), tf.stack([2, ph('int32', [], 'm')])).shape).toEqual([2, 4]);
      expect(tf.broadcastTo(ph('float32', [3], 'y'), tf.stack([ph('int32', [], 'n'), 3])).shape).toEqual([null, 3]);
      expect(() => tf.broadcastTo(tf.zeros([2, 3]), [2, 4])).toThrow(/not broadcastable/);
      expect(() => tf.broadcastTo(tf.zeros([2, 3]), [3])).toThrow(/Rank of input/);
    });
    const [t, x] = build(() => {
      const x = ph('float32', [null], 'x');
      return [tf.broadcastTo(x, [2, 3]), x];
    });
    await expect(run(t, [[x, [1, 2]]])).rejects.toThrow(/Incompatible shapes/);
  });
});

describe('ConcatOffset', () => {
  it('gives where each value starts in a concatenation', async () => {
    const outs = build(() =>
      tf.getDefaultGraph().createOp('ConcatOffset', [tf.constant(1, 'int32'), tf.constant([2, 3, 4], 'int32'), tf.constant([2, 5, 4], 'int32'), tf.constant([2, 1, 4], 'int32')], { N: 3 }).outputs,
    );
    const r = await run(outs);
    expect(r.map((a) => a.toArray())).toEqual([[0, 0, 0], [0, 3, 0], [0, 8, 0]]);
  });
});
