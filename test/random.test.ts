import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { getOpDef } from '../ops/index.js';
import { philox4x32 } from '../runtime/cpu/kernels/random.js';
import { run } from './helpers.js';

function build<R>(fn: () => R, seed?: number): [tf.Graph, R] {
  const g = new tf.Graph();
  if (seed !== undefined) g.seed = seed;
  return [g, g.asDefault(fn)];
}

const values = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);

function stats(xs: number[]): { mean: number; std: number; min: number; max: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, std: Math.sqrt(v), min: Math.min(...xs), max: Math.max(...xs) };
}

describe('Philox4x32-10', () => {
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    const kat: [number[], number[], number[]][] = [
      [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
      [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
      [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
    ];
    for (const [ctr, key, expected] of kat) {
      philox4x32(ctr, key, out);
      expect(Array.from(out)).toEqual(expected);
    }
  });

  it('RandomUniform reads the stream as TF does: key = seed, counter high words = seed2, 256 blocks per element per run', async () => {
    const [, u] = build(() => tf.getDefaultGraph().createOp('RandomUniform', [tf.constant([6], 'int32')], { seed: 5, seed2: 9, dtype: 'float32', T: 'int32' }).outputs[0]!);
    const expected = (counter0: number): number[] => {
      const out = new Uint32Array(4);
      const vals: number[] = [];
      for (let blk = 0; blk < 2; blk++) {
        philox4x32([counter0 + blk, 0, 9, 0], [5, 0], out);
        for (const w of out) vals.push((w & 0x7fffff) / 0x800000);
      }
      return vals.slice(0, 6);
    };
    const sess = new tf.Session({ graph: u.graph });
    expect(values(await sess.run(u))).toEqual(expected(0));
    expect(values(await sess.run(u))).toEqual(expected(6 * 256));
    sess.close();
  });
});

describe('getSeed (TF1 seed semantics)', () => {
  it('combines the graph seed and the op seed as random_seed.get_seed', () => {
    build(() => {
      expect(tf.getSeed()).toEqual([0, 0]);
      expect(tf.getSeed(5)).toEqual([tf.DEFAULT_GRAPH_SEED, 5]);
      expect(tf.DEFAULT_GRAPH_SEED).toBe(87654321);
    });
    build(() => {
      tf.setRandomSeed(42);
      tf.constant(1);
      tf.constant(2);
      expect(tf.getSeed()).toEqual([42, 2]);
      expect(tf.getSeed(7)).toEqual([42, 7]);
      expect(tf.getSeed(2 ** 31 + 5)).toEqual([42, 6]);
      expect(tf.getSeed(-1)).toEqual([42, 2 ** 31 - 2]);
    });
    build(() => expect(tf.getSeed(0)).toEqual([0, 2 ** 31 - 1]), 0);
  });

  it('sets the seed attrs of random ops; with a graph seed only, the op seed is the op count so far', () => {
    const [, r] = build(() => tf.randomNormal([2], { seed: 3 }));
    const rnd = r.op.inputs[0]!.op.inputs[0]!.op;
    expect(rnd.type).toBe('RandomStandardNormal');
    expect([rnd.attrs.seed, rnd.attrs.seed2]).toEqual([tf.DEFAULT_GRAPH_SEED, 3]);
    const [, u] = build(() => tf.randomUniform([2], { dtype: 'int32', maxval: 4 }), 11);
    expect(u.op.type).toBe('RandomUniformInt');
    expect([u.op.attrs.seed, u.op.attrs.seed2]).toEqual([11, u.op.id]);
    const [, n] = build(() => tf.truncatedNormal([2]));
    const tn = n.op.inputs[0]!.op.inputs[0]!.op;
    expect([tn.attrs.seed, tn.attrs.seed2]).toEqual([0, 0]);
  });
});

describe('random ops', () => {
  it('are named as TF1 names them and have no gradient', () => {
    const [, [n, u, t]] = build(() => [tf.randomNormal([2, 3]), tf.randomUniform([4]), tf.truncatedNormal([5], { name: 'init' })]);
    expect(n.op.name).toBe('random_normal');
    expect(n.op.inputs[0]!.op.inputs[0]!.op.name).toBe('random_normal/RandomStandardNormal');
    expect(u.op.name).toBe('random_uniform');
    expect(t.op.name).toBe('init');
    expect(n.shape).toEqual([2, 3]);
    for (const type of ['RandomStandardNormal', 'TruncatedNormal', 'RandomUniform', 'RandomUniformInt']) {
      expect(getOpDef(type)!.grad).toBeNull();
      expect(getOpDef(type)!.stateful).toBe(true);
    }
  });

  it('are deterministic given seeds, draw new numbers on each run, and restart in a fresh session', async () => {
    const make = (): [tf.Graph, tf.Tensor[]] =>
      build(() => [
        tf.randomNormal([50], { seed: 1 }),
        tf.truncatedNormal([50], { seed: 1 }),
        tf.randomUniform([50], { seed: 1 }),
        tf.randomUniform([50], { seed: 1, dtype: 'int32', maxval: 1000 }),
        tf.randomUniform([50], { seed: 2 }),
      ]);
    const [g1, ts1] = make();
    const [g2, ts2] = make();
    const s1 = new tf.Session({ graph: g1 });
    const s2 = new tf.Session({ graph: g2 });
    const a1 = (await s1.run(ts1)).map(values);
    const a2 = (await s1.run(ts1)).map(values);
    const b1 = (await s2.run(ts2)).map(values);
    s1.close();
    const s3 = new tf.Session({ graph: g1 });
    const c1 = (await s3.run(ts1)).map(values);
    s2.close();
    s3.close();
    expect(b1).toEqual(a1);
    expect(c1).toEqual(a1);
    for (let i = 0; i < a1.length; i++) expect(a2[i]).not.toEqual(a1[i]);
    // Another op seed gives other numbers.
    expect(a1[4]).not.toEqual(a1[2]);
  });

  it('follow the graph seed: the same graph built twice gives the same numbers', async () => {
    const make = (): tf.Tensor => build(() => tf.add(tf.randomNormal([20]), tf.randomUniform([20])), 1234)[1];
    const x = values(await run(make()));
    const y = values(await run(make()));
    expect(y).toEqual(x);
    const z = values(await run(build(() => tf.add(tf.randomNormal([20]), tf.randomUniform([20])), 4321)[1]));
    expect(z).not.toEqual(x);
  });

  it('without any seed, differ between sessions', async () => {
    const [g, t] = build(() => tf.randomUniform([20]));
    const x = values(await run(t, undefined, g));
    const y = values(await run(t, undefined, g));
    expect(y).not.toEqual(x);
  });

  it('normal: mean and standard deviation', async () => {
    const [, [a, b]] = build(() => [tf.randomNormal([20000], { seed: 7 }), tf.randomNormal([100, 100], { mean: 3, stddev: 2, seed: 8 })]);
    const [ra, rb] = await run([a, b]);
    const sa = stats(values(ra!));
    expect(Math.abs(sa.mean)).toBeLessThan(0.04);
    expect(Math.abs(sa.std - 1)).toBeLessThan(0.03);
    expect(sa.max).toBeGreaterThan(3);
    const sb = stats(values(rb!));
    expect(rb!.shape).toEqual([100, 100]);
    expect(Math.abs(sb.mean - 3)).toBeLessThan(0.08);
    expect(Math.abs(sb.std - 2)).toBeLessThan(0.06);
  });

  it('truncated normal: within 2 standard deviations, with the truncated distribution\'s spread', async () => {
    const [, [a, b]] = build(() => [tf.truncatedNormal([20001], { seed: 3 }), tf.truncatedNormal([5000], { mean: -1, stddev: 0.5, seed: 4 })]);
    const [ra, rb] = await run([a, b]);
    const sa = stats(values(ra!));
    expect(sa.max).toBeLessThan(2);
    expect(sa.min).toBeGreaterThan(-2);
    expect(Math.abs(sa.mean)).toBeLessThan(0.03);
    // The standard deviation of N(0, 1) truncated to (-2, 2) is 0.8796.
    expect(Math.abs(sa.std - 0.8796)).toBeLessThan(0.02);
    expect(sa.max).toBeGreaterThan(1.9);
    const sb = stats(values(rb!));
    expect(sb.max).toBeLessThan(0);
    expect(sb.min).toBeGreaterThan(-2);
    expect(Math.abs(sb.mean + 1)).toBeLessThan(0.03);
  });

  it('uniform floats: range, mean and variance', async () => {
    const [, [a, b]] = build(() => [tf.randomUniform([20000], { seed: 5 }), tf.randomUniform([10000], { minval: -3, maxval: 5, seed: 6 })]);
    const [ra, rb] = await run([a, b]);
    const sa = stats(values(ra!));
    expect(sa.min).toBeGreaterThanOrEqual(0);
    expect(sa.max).toBeLessThan(1);
    expect(Math.abs(sa.mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(sa.std - Math.sqrt(1 / 12))).toBeLessThan(0.01);
    const sb = stats(values(rb!));
    expect(sb.min).toBeGreaterThanOrEqual(-3);
    expect(sb.max).toBeLessThan(5);
    expect(Math.abs(sb.mean - 1)).toBeLessThan(0.1);
    expect(Math.abs(sb.std - 8 / Math.sqrt(12))).toBeLessThan(0.06);
  });

  it('uniform ints: every value in [minval, maxval) about equally often, int32 and int64', async () => {
    for (const dtype of ['int32', 'int64'] as const) {
      const [, t] = build(() => tf.randomUniform([6000], { minval: -2, maxval: 4, dtype, seed: 9 }));
      expect(t.dtype).toBe(dtype);
      const xs = values(await run(t));
      const counts = new Map<number, number>();
      for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
      expect([...counts.keys()].sort((p, q) => p - q)).toEqual([-2, -1, 0, 1, 2, 3]);
      for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(120);
    }
  });

  it('infer shapes from partial shape tensors and check their arguments', async () => {
    const [g, [t, x]] = build(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      return [tf.randomNormal(tf.shape(x)), x];
    });
    expect(t.shape).toEqual([null, 3]);
    const r = await run(t, [[x, [[1, 2, 3], [4, 5, 6]]]], g);
    expect(r.shape).toEqual([2, 3]);
    build(() => {
      const n = tf.placeholder('int32', [], 'n');
      expect(tf.randomUniform([n, 4]).shape).toEqual([null, 4]);
      expect(tf.randomUniform([0, 2]).shape).toEqual([0, 2]);
      expect(() => tf.randomNormal([2, -1])).toThrow(/non-negative/);
      expect(() => tf.randomUniform([2], { dtype: 'int32' })).toThrow(/maxval/);
      expect(() => tf.randomUniform([2], { dtype: 'int32', minval: 3, maxval: 3 })).toThrow(/minval < maxval/);
      expect(() => tf.randomNormal([2], { dtype: 'int32' })).toThrow(tf.errors.InvalidArgumentError);
    });
    const [g2, [u, lo]] = build(() => {
      const lo = tf.placeholder('int32', [], 'lo');
      return [tf.randomUniform([3], { minval: lo, maxval: 2, dtype: 'int32' }), lo];
    });
    await expect(run(u, [[lo, 5]], g2)).rejects.toThrow(/Need minval < maxval/);
    const [, empty] = build(() => tf.randomUniform([0], { seed: 1 }));
    expect((await run(empty)).shape).toEqual([0]);
  });
});
