import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose, fromTfjs, randomArray, run, tfjs } from './helpers.js';

function build<T>(fn: () => T): T {
  return new tf.Graph().asDefault(fn);
}

function flat(x: tf.NDArray): number[] {
  return Array.from(x.data as Float32Array);
}

function norm(values: number[]): number {
  return Math.sqrt(values.reduce((s, v) => s + v * v, 0));
}

describe('clipByValue', () => {
  it('matches tfjs clipByValue (float32 and int32)', async () => {
    const t = await tfjs();
    const x = randomArray([3, 4], { seed: 1, min: -3, max: 3 });
    const got = await run(build(() => tf.clipByValue(tf.constant(x), -1.5, 0.5)));
    expectClose(got, await fromTfjs(t.clipByValue(t.tensor(x.data as Float32Array, [3, 4]), -1.5, 0.5)));
    const xi = randomArray([5], { seed: 2, min: -10, max: 10, dtype: 'int32' });
    const gotI = await run(build(() => tf.clipByValue(tf.constant(xi), -3, 4)));
    expect(gotI.dtype).toBe('int32');
    expectClose(gotI, await fromTfjs(t.clipByValue(t.tensor(xi.data as Int32Array, [5], 'int32'), -3, 4)));
    const empty = await run(build(() => tf.clipByValue(tf.constant(randomArray([0, 2])), -1, 1)));
    expect(empty.shape).toEqual([0, 2]);
  });

  it('takes tensor bounds that broadcast to t, elementwise', async () => {
    const x = randomArray([2, 3], { seed: 3, min: -3, max: 3 });
    const lo = tf.NDArray.from([-1, -0.5, 0]);
    const hi = tf.NDArray.from([[0.5], [2]]);
    const got = await run(build(() => tf.clipByValue(tf.constant(x), tf.constant(lo), tf.constant(hi))));
    const xd = flat(x);
    expectClose(
      got,
      xd.map((v, i) => Math.max(Math.min(v, [0.5, 2][Math.floor(i / 3)]!), [-1, -0.5, 0][i % 3]!)),
    );
  });

  it('refuses bounds that would broadcast t to a bigger shape', () => {
    build(() => {
      const x = tf.placeholder('float32', [3]);
      expect(() => tf.clipByValue(x, 0, [[1], [2]])).toThrow(/clipByValue: clipValueMax would broadcast t .*\[3\]\) to shape \[2,3\]/);
      expect(() => tf.clipByValue(x, [[0], [1]], 2)).toThrow(tf.errors.InvalidArgumentError);
    });
  });

  it('is minimum then maximum, named as in TF', () => {
    build(() => {
      const y = tf.clipByValue(tf.placeholder('float32', [2]), 0, 1);
      expect(y.op.type).toBe('Maximum');
      expect(y.op.name).toBe('clip_by_value');
      expect(y.op.inputs[0]!.op.type).toBe('Minimum');
      expect(y.op.inputs[0]!.op.name).toBe('clip_by_value/Minimum');
    });
  });

  it('passes the gradient inside the range and blocks it outside', async () => {
    const x = tf.NDArray.from([-2, -0.3, 0.2, 0.9, 3]);
    const g = build(() => {
      const p = tf.constant(x);
      return tf.gradients(tf.reduceSum(tf.clipByValue(p, -0.5, 0.5)), p)[0]!;
    });
    expectClose(await run(g), [0, 1, 1, 0, 0]);
  });
});

describe('clipByNorm', () => {
  it('rescales to clipNorm only when the norm is larger', async () => {
    const big = tf.NDArray.from([[3, 4], [0, 12]]);
    const got = await run(build(() => tf.clipByNorm(tf.constant(big), 6.5)));
    expectClose(got, [3 * 0.5, 4 * 0.5, 0, 12 * 0.5]);
    const small = await run(build(() => tf.clipByNorm(tf.constant(big), 100)));
    expectClose(small, flat(big));
  });

  it('clips each slice along axes', async () => {
    const x = randomArray([3, 4], { seed: 5, min: -2, max: 2 });
    const xd = flat(x);
    for (const [axes, groups] of [
      [[1], [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => r * 4 + c))],
      [0, [0, 1, 2, 3].map((c) => [0, 1, 2].map((r) => r * 4 + c))],
    ] as [number | number[], number[][]][]) {
      const got = await run(build(() => tf.clipByNorm(tf.constant(x), 1.2, axes)));
      const want = new Array<number>(xd.length);
      for (const idx of groups) {
        const n = norm(idx.map((i) => xd[i]!));
        for (const i of idx) want[i] = (xd[i]! * 1.2) / Math.max(n, 1.2);
      }
      expectClose(got, want);
    }
  });

  it('gives zeros and a finite gradient for a zero tensor', async () => {
    const { y, g } = build(() => {
      const p = tf.constant(tf.NDArray.zeros([2, 2]));
      const y = tf.clipByNorm(p, 1);
      return { y, g: tf.gradients(tf.reduceSum(y), p)[0]! };
    });
    const [yv, gv] = await run([y, g]);
    expectClose(yv!, [0, 0, 0, 0]);
    expect(flat(gv!).every(Number.isFinite)).toBe(true);
  });

  it('is named as in TF and refuses a clipNorm that would broadcast t', () => {
    build(() => {
      const y = tf.clipByNorm(tf.placeholder('float32', [2]), 1);
      expect(y.op.name).toBe('clip_by_norm');
      expect(y.op.type).toBe('Identity');
      expect(() => tf.clipByNorm(tf.placeholder('float32', [2]), [[1], [2]])).toThrow(/clipNorm would broadcast/);
    });
  });
});

describe('globalNorm and clipByGlobalNorm', () => {
  const a = randomArray([2, 3], { seed: 7, min: -2, max: 2 });
  const b = randomArray([4], { seed: 8, min: -2, max: 2 });
  const all = [...flat(a), ...flat(b)];

  it('globalNorm is the norm of all elements; null entries are skipped', async () => {
    const n = await run(build(() => tf.globalNorm([tf.constant(a), null, tf.constant(b)])));
    expect(n.shape).toEqual([]);
    expectClose(n, norm(all));
    build(() => {
      const n2 = tf.globalNorm([tf.constant(a)]);
      expect(n2.op.name).toBe('global_norm/global_norm');
      expect(n2.op.type).toBe('Sqrt');
      expect(() => tf.globalNorm([null])).toThrow(/no tensors/);
      expect(() => tf.globalNorm(tf.constant(a) as never)).toThrow(/array/);
    });
  });

  it('clipByGlobalNorm scales every tensor by clipNorm / max(norm, clipNorm)', async () => {
    const n = norm(all);
    for (const clip of [1, 100]) {
      const [clipped, gn] = build(() => tf.clipByGlobalNorm([tf.constant(a), tf.constant(b)], clip));
      const [ca, cb, nv] = await run([clipped[0]!, clipped[1]!, gn]);
      const scale = clip / Math.max(n, clip);
      expectClose(ca!, flat(a).map((v) => v * scale));
      expectClose(cb!, flat(b).map((v) => v * scale));
      expectClose(nv!, n);
    }
  });

  it('passes null entries through and names outputs as TF does', () => {
    build(() => {
      const [clipped, n] = tf.clipByGlobalNorm([tf.constant(a), null, tf.constant(b)], 1);
      expect(clipped[1]).toBeNull();
      expect(clipped[0]!.op.name).toBe('clip_by_global_norm/clip_by_global_norm/_0');
      expect(clipped[2]!.op.name).toBe('clip_by_global_norm/clip_by_global_norm/_2');
      expect(n.op.name).toBe('global_norm/global_norm');
    });
  });

  it('uses a given norm, and a non-finite norm makes everything NaN', async () => {
    const [c1] = build(() => tf.clipByGlobalNorm([tf.constant(a)], 1, 4));
    expectClose(await run(c1[0]!), flat(a).map((v) => v / 4));
    const [c2, n2] = build(() => tf.clipByGlobalNorm([tf.constant(tf.NDArray.from([1, Infinity]))], 1));
    const [v2, nv2] = await run([c2[0]!, n2]);
    expect(flat(v2!).every(Number.isNaN)).toBe(true);
    expect(flat(nv2!)[0]).toBe(Infinity);
  });

  it('differentiates: the norm is the clipped value of the returned tensors', async () => {
    // d/da sum(clip(a) * r) with the clip active equals (r - (r.a) a / n^2) * clip / n.
    const r = randomArray([2, 3], { seed: 9 });
    const g = build(() => {
      const pa = tf.constant(a);
      const [[ca]] = tf.clipByGlobalNorm([pa], 1);
      return tf.gradients(tf.reduceSum(tf.multiply(ca!, tf.constant(r))), pa)[0]!;
    });
    const ad = flat(a);
    const rd = flat(r);
    const n = norm(ad);
    const ra = ad.reduce((s, v, i) => s + v * rd[i]!, 0);
    expectClose(await run(g), ad.map((v, i) => (rd[i]! - (ra * v) / (n * n)) / n), { atol: 1e-5 });
  });
});
