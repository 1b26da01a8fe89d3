import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose, fromTfjs, randomArray, run, tfjs } from './helpers.js';

function inGraph<T>(fn: (g: tf.Graph) => T): T {
  const g = new tf.Graph();
  return g.asDefault(() => fn(g));
}

describe('tf.nn.moments', () => {
  const cases: { shape: number[]; axes: number[]; keepdims?: boolean }[] = [
    { shape: [6, 4], axes: [0] },
    { shape: [6, 4], axes: [1], keepdims: true },
    { shape: [2, 5, 5, 3], axes: [0, 1, 2] },
    { shape: [2, 5, 5, 3], axes: [0, -3, -2], keepdims: true },
    { shape: [3, 4, 2], axes: [0, 1, 2] },
    { shape: [1, 7], axes: [0] },
  ];
  for (const c of cases) {
    it(`shape [${c.shape}] axes [${c.axes}]${c.keepdims ? ' keepdims' : ''} matches tfjs`, async () => {
      const tj = await tfjs();
      const x = randomArray(c.shape, { seed: c.shape.length + c.axes.length, min: -2, max: 3 });
      const g = new tf.Graph();
      const [m, v] = g.asDefault(() => tf.nn.moments(tf.constant(x), c.axes, { keepdims: c.keepdims }));
      const [mv, vv] = await run([m!, v!]);
      const ref = tj.moments(tj.tensor(x.data as Float32Array, c.shape), c.axes.map((a) => (a < 0 ? a + c.shape.length : a)), c.keepdims ?? false);
      expectClose(mv!, await fromTfjs(ref.mean), { atol: 1e-5 });
      expectClose(vv!, await fromTfjs(ref.variance), { atol: 1e-5 });
      expect(m!.shape).toEqual(mv!.shape);
      expect(v!.shape).toEqual(vv!.shape);
    });
  }

  it('names its ops as TF (moments/mean, moments/variance) and accepts a scalar axis', () => {
    const g = new tf.Graph();
    const [m, v] = g.asDefault(() => tf.nn.moments(tf.placeholder('float32', [null, 3]), 0));
    expect(m.shape).toEqual([3]);
    expect(v.shape).toEqual([3]);
    expect(g.hasOperation('moments/mean')).toBe(true);
    expect(g.hasOperation('moments/variance')).toBe(true);
    expect(g.hasOperation('moments/SquaredDifference')).toBe(true);
  });

  it('rejects integer inputs', () => {
    expect(() => inGraph(() => tf.nn.moments(tf.constant([1, 2], 'int32'), [0]))).toThrow('floating point');
  });
});

describe('tf.nn.batchNormalization', () => {
  it('matches tfjs batchNorm with offset and scale, and without', async () => {
    const tj = await tfjs();
    const x = randomArray([4, 3, 5], { seed: 3 });
    const mean = randomArray([5], { seed: 4 });
    const variance = randomArray([5], { seed: 5, min: 0.1, max: 2 });
    const offset = randomArray([5], { seed: 6 });
    const scale = randomArray([5], { seed: 7, min: 0.5, max: 2 });
    const g = new tf.Graph();
    const [full, bare] = g.asDefault(() => [
      tf.nn.batchNormalization(x, mean, variance, offset, scale, 1e-3),
      tf.nn.batchNormalization(x, mean, variance, null, null, 0.01),
    ]);
    const [fv, bv] = await run([full!, bare!]);
    const t = (a: tf.NDArray) => tj.tensor(a.data as Float32Array, a.shape);
    expectClose(fv!, await fromTfjs(tj.batchNorm(t(x), t(mean), t(variance), t(offset), t(scale), 1e-3)), { atol: 1e-5 });
    expectClose(bv!, await fromTfjs(tj.batchNorm(t(x), t(mean), t(variance), undefined, undefined, 0.01)), { atol: 1e-5 });
    expect(g.hasOperation('batchnorm/Rsqrt')).toBe(true);
    expect(full!.shape).toEqual([4, 3, 5]);
  });

  it('broadcasts keepdims statistics (NCHW-style per-channel)', async () => {
    const tj = await tfjs();
    const x = randomArray([2, 3, 4, 4], { seed: 8 });
    const g = new tf.Graph();
    const y = g.asDefault(() => {
      const [m, v] = tf.nn.moments(tf.constant(x), [0, 2, 3], { keepdims: true });
      return tf.nn.batchNormalization(x, m, v, null, null, 1e-5);
    });
    const xt = tj.tensor(x.data as Float32Array, x.shape);
    const { mean, variance } = tj.moments(xt, [0, 2, 3], true);
    // (tfjs' batchNorm broadcasts statistics along the last axis only, so the oracle is spelled out.)
    const ref = tj.mul(tj.sub(xt, mean), tj.rsqrt(tj.add(variance, 1e-5)));
    expectClose(await run(y), await fromTfjs(ref), { atol: 1e-4 });
  });
});

describe('tf.nn.l2Normalize', () => {
  for (const axis of [undefined, 0, 1, -1, [0, 1]] as (number | number[] | undefined)[]) {
    it(`axis ${JSON.stringify(axis)} matches x / sqrt(max(sum x^2, eps)) computed by tfjs`, async () => {
      const tj = await tfjs();
      const x = randomArray([3, 4], { seed: 9 });
      const y = new tf.Graph().asDefault(() => tf.nn.l2Normalize(x, axis));
      const xt = tj.tensor(x.data as Float32Array, x.shape);
      const ref = tj.div(xt, tj.sqrt(tj.maximum(tj.sum(tj.square(xt), axis, true), 1e-12)));
      expectClose(await run(y), await fromTfjs(ref), { atol: 1e-6 });
    });
  }

  it('is safe at zero (epsilon) and names its output op l2_normalize', async () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => tf.nn.l2Normalize(tf.constant([[0, 0], [3, 4]]), 1));
    expect(y.op.name).toBe('l2_normalize');
    expectClose(await run(y), [0, 0, 0.6, 0.8]);
  });
});

describe('tf.nn.embeddingLookup', () => {
  it('gathers rows like tfjs gather, for vector and matrix ids', async () => {
    const tj = await tfjs();
    const params = randomArray([6, 3], { seed: 10 });
    const ids = new tf.NDArray(Int32Array.of(4, 0, 4, 5), [2, 2]);
    const g = new tf.Graph();
    const [a, b] = g.asDefault(() => [tf.nn.embeddingLookup(params, ids), tf.nn.embeddingLookup([tf.constant(params)], [1, 2])]);
    expect(a!.shape).toEqual([2, 2, 3]);
    const [av, bv] = await run([a!, b!]);
    const pt = tj.tensor(params.data as Float32Array, params.shape);
    expectClose(av!, await fromTfjs(tj.gather(pt, tj.tensor2d([4, 0, 4, 5], [2, 2], 'int32'))));
    expectClose(bv!, await fromTfjs(tj.gather(pt, tj.tensor1d([1, 2], 'int32'))));
    expect(g.hasOperation('embedding_lookup')).toBe(true);
  });

  it('works on a variable, gives a dense gradient, clips with maxNorm, rejects partitioned params', async () => {
    const g = new tf.Graph();
    const { e, grad, clipped } = g.asDefault(() => {
      const w = new tf.Variable(tf.constant([[3, 4], [1, 0], [0, 0.5]]), { name: 'emb' });
      const e = tf.nn.embeddingLookup(w, tf.constant([0, 0, 2], 'int32'));
      const grad = tf.gradients(tf.reduceSum(e), [w])[0]!;
      const clipped = tf.nn.embeddingLookup(w, tf.constant([0, 1], 'int32'), { maxNorm: 1 });
      return { e, grad, clipped };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const [ev, gv, cv] = await sess.run([e, grad, clipped]);
    expectClose(ev!, [3, 4, 3, 4, 0, 0.5]);
    expectClose(gv!, [2, 2, 0, 0, 1, 1]);
    expectClose(cv!, [0.6, 0.8, 1, 0]);
    sess.close();
    expect(() => inGraph(() => tf.nn.embeddingLookup([tf.constant([[1]]), tf.constant([[2]])], [0]))).toThrow('partitioned');
    expect(() => inGraph(() => tf.nn.embeddingLookup(tf.constant([[1]]), tf.constant([0.5])))).toThrow('int32 or int64');
  });
});

describe('tf.nn.dropout', () => {
  async function stats(y: tf.Tensor, feeds?: tf.FeedDict): Promise<{ kept: number; values: Set<number>; mean: number }> {
    const v = (await run(y, feeds)).data as Float32Array;
    let kept = 0;
    let sum = 0;
    const values = new Set<number>();
    for (const x of v) {
      sum += x;
      if (x !== 0) {
        kept++;
        values.add(Math.round(x * 1e5) / 1e5);
      }
    }
    return { kept: kept / v.length, values, mean: sum / v.length };
  }

  it('keeps a keepProb fraction, scaled by 1 / keepProb (expected value preserved)', async () => {
    const y = new tf.Graph().asDefault(() => tf.nn.dropout(tf.ones([200, 100]), { keepProb: 0.7, seed: 1 }));
    const s = await stats(y);
    expect(Math.abs(s.kept - 0.7)).toBeLessThan(0.015);
    expect([...s.values]).toEqual([Math.round(1e5 / 0.7) / 1e5]);
    expect(Math.abs(s.mean - 1)).toBeLessThan(0.03);
  });

  it('rate = 1 - keepProb; a rate tensor is chosen at run time', async () => {
    const y = new tf.Graph().asDefault(() => tf.nn.dropout(tf.ones([100, 100]), { rate: 0.25, seed: 2 }));
    const s = await stats(y);
    expect(Math.abs(s.kept - 0.75)).toBeLessThan(0.02);
    const g = new tf.Graph();
    const { out, rate } = g.asDefault(() => {
      const rate = tf.placeholder('float32', [], 'rate');
      return { out: tf.nn.dropout(tf.ones([100, 100]), { rate, seed: 3 }), rate };
    });
    const s2 = await stats(out, [[rate, new tf.NDArray(Float32Array.of(0.6), [])]]);
    expect(Math.abs(s2.kept - 0.4)).toBeLessThan(0.02);
    expect([...s2.values]).toEqual([Math.round(1e5 / 0.4) / 1e5]);
  });

  it('noiseShape drops whole rows (broadcast mask)', async () => {
    const y = new tf.Graph().asDefault(() => tf.nn.dropout(tf.ones([400, 5]), { keepProb: 0.5, noiseShape: [400, 1], seed: 4 }));
    const v = (await run(y)).toArray() as number[][];
    let keptRows = 0;
    for (const row of v) {
      expect(new Set(row).size).toBe(1);
      if (row[0] !== 0) keptRows++;
    }
    expect(Math.abs(keptRows / 400 - 0.5)).toBeLessThan(0.1);
    const z = new tf.Graph().asDefault(() => tf.nn.dropout(tf.placeholder('float32', [null, 5]), { keepProb: 0.5, noiseShape: [null, 1] }));
    expect(z.shape).toEqual([null, 5]);
  });

  it('keepProb 1 returns x; the graph follows TF1 (dropout/Floor); bad arguments throw', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 3], 'x');
      expect(tf.nn.dropout(x, { keepProb: 1 })).toBe(x);
      const y = tf.nn.dropout(x, { keepProb: 0.5 });
      expect(y.shape).toEqual([2, 3]);
      expect(g.hasOperation('dropout_1/Floor')).toBe(true);
      expect(() => tf.nn.dropout(x, { keepProb: 0 })).toThrow('range (0, 1]');
      expect(() => tf.nn.dropout(x, { rate: 1 })).toThrow('range [0, 1)');
      expect(() => tf.nn.dropout(x, { rate: 0.1, keepProb: 0.9 })).toThrow('cannot specify both');
      expect(() => tf.nn.dropout(x, {})).toThrow('is required');
      expect(() => tf.nn.dropout(tf.constant([1, 2], 'int32'), { keepProb: 0.5 })).toThrow('floating point');
    });
  });

  it('its gradient is the mask divided by keepProb', async () => {
    const g = new tf.Graph();
    const x = randomArray([8, 8], { seed: 5, min: 0.5, max: 1.5 });
    const { y, dx } = g.asDefault(() => {
      const xt = tf.constant(x);
      const y = tf.nn.dropout(xt, { keepProb: 0.6, seed: 6 });
      return { y, dx: tf.gradients(y, [xt])[0]! };
    });
    const [yv, dv] = await run([y, dx]);
    const yd = yv!.data as Float32Array;
    const dd = dv!.data as Float32Array;
    const xd = x.data as Float32Array;
    for (let i = 0; i < yd.length; i++) {
      const kept = yd[i] !== 0;
      expect(dd[i]).toBeCloseTo(kept ? 1 / 0.6 : 0, 5);
      if (kept) expect(yd[i]).toBeCloseTo(xd[i]! / 0.6, 5);
    }
  });

  it('the same op seed gives the same mask in a fresh session', async () => {
    const build = () => new tf.Graph().asDefault(() => tf.nn.dropout(tf.ones([10, 10]), { keepProb: 0.5, seed: 7 }));
    expectClose(await run(build()), await run(build()), { atol: 0, rtol: 0 });
  });
});
