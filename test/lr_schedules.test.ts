// tf.train's learning-rate schedules, at many global steps, against their formulas written out here.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose } from './helpers.js';

const STEPS = [0, 1, 37, 99, 100, 101, 150, 250, 1000];

/** A graph with an int64 global step that `at(s)` sets, the schedules `build` makes from it, and a session. */
async function withStep<T extends Record<string, tf.Tensor>>(build: (step: tf.Variable) => T) {
  const g = new tf.Graph();
  const { step, value, set, out } = g.asDefault(() => {
    const step = tf.train.getOrCreateGlobalStep() as tf.Variable;
    const value = tf.placeholder('int64', [], 'value');
    return { step, value, set: tf.assign(step, value), out: build(step) };
  });
  const sess = new tf.Session({ graph: g });
  await sess.run(step.initializer);
  const at = async (s: number): Promise<Record<keyof T, number>> => {
    await sess.run(set, [[value, tf.NDArray.from(BigInt(s))]]);
    const keys = Object.keys(out) as (keyof T)[];
    const vals = await sess.run(keys.map((k) => out[k]));
    return Object.fromEntries(keys.map((k, i) => [k, vals[i]!.scalar() as number])) as Record<keyof T, number>;
  };
  return { g, out, at, sess };
}

describe('naturalExpDecay and inverseTimeDecay', () => {
  it('follow lr * exp(-k t / T) and lr / (1 + k t / T), floored with staircase', async () => {
    const { out, at, sess } = await withStep((step) => ({
      natural: tf.train.naturalExpDecay(0.1, step, 100, 0.5),
      naturalStairs: tf.train.naturalExpDecay(0.1, step, 100, 0.5, true),
      inverse: tf.train.inverseTimeDecay(0.1, step, 100, 0.5),
      inverseStairs: tf.train.inverseTimeDecay(0.1, step, 100, 0.5, true, 'stairs'),
    }));
    expect(out.natural.op.name).toBe('ExponentialDecay');
    expect(out.naturalStairs.op.name).toBe('ExponentialDecay_1');
    expect(out.inverse.op.name).toBe('InverseTimeDecay');
    expect(out.inverseStairs.op.name).toBe('stairs');
    for (const s of STEPS) {
      const v = await at(s);
      expectClose(tf.NDArray.from(v.natural), 0.1 * Math.exp((-0.5 * s) / 100), { rtol: 1e-5 });
      expectClose(tf.NDArray.from(v.naturalStairs), 0.1 * Math.exp(-0.5 * Math.floor(s / 100)), { rtol: 1e-5 });
      expectClose(tf.NDArray.from(v.inverse), 0.1 / (1 + (0.5 * s) / 100), { rtol: 1e-5 });
      expectClose(tf.NDArray.from(v.inverseStairs), 0.1 / (1 + 0.5 * Math.floor(s / 100)), { rtol: 1e-5 });
    }
    sess.close();
  });
});

describe('polynomialDecay', () => {
  it('decays to the end rate over decaySteps and stays there; with cycle it decays over the next multiple', async () => {
    const { out, at, sess } = await withStep((step) => ({
      linear: tf.train.polynomialDecay(0.1, step, 100),
      sqrt: tf.train.polynomialDecay(0.1, step, 100, { endLearningRate: 0.01, power: 0.5 }),
      cycle: tf.train.polynomialDecay(0.1, step, 100, { endLearningRate: 0.01, power: 2, cycle: true }),
    }));
    expect(out.linear.op.name).toBe('PolynomialDecay');
    expect(out.cycle.op.name).toBe('PolynomialDecay_2');
    const poly = (s: number, steps: number, end: number, power: number) => (0.1 - end) * (1 - s / steps) ** power + end;
    for (const s of STEPS) {
      const v = await at(s);
      expectClose(tf.NDArray.from(v.linear), poly(Math.min(s, 100), 100, 0.0001, 1), { rtol: 1e-5 });
      expectClose(tf.NDArray.from(v.sqrt), poly(Math.min(s, 100), 100, 0.01, 0.5), { rtol: 1e-5, atol: 1e-7 });
      const cycled = s === 0 ? 100 : 100 * Math.ceil(s / 100);
      expectClose(tf.NDArray.from(v.cycle), poly(s, cycled, 0.01, 2), { rtol: 1e-5 });
    }
    sess.close();
  });
});

describe('cosine schedules', () => {
  it('cosineDecay: lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(t, T) / T)) + alpha)', async () => {
    const { out, at, sess } = await withStep((step) => ({
      plain: tf.train.cosineDecay(0.1, step, 200),
      floor: tf.train.cosineDecay(0.1, step, 200, { alpha: 0.1, name: 'cos' }),
    }));
    expect(out.plain.op.name).toBe('CosineDecay');
    expect(out.floor.op.name).toBe('cos');
    for (const s of STEPS) {
      const v = await at(s);
      const c = 0.5 * (1 + Math.cos((Math.PI * Math.min(s, 200)) / 200));
      expectClose(tf.NDArray.from(v.plain), 0.1 * c, { rtol: 1e-5, atol: 1e-8 });
      expectClose(tf.NDArray.from(v.floor), 0.1 * (0.9 * c + 0.1), { rtol: 1e-5 });
    }
    sess.close();
  });

  it('cosineDecayRestarts: periods of T, T tMul, T tMul^2, ..., each starting at mMul^i times the rate', async () => {
    const { out, at, sess } = await withStep((step) => ({
      geometric: tf.train.cosineDecayRestarts(0.1, step, 100, { mMul: 0.5, alpha: 0.05 }),
      even: tf.train.cosineDecayRestarts(0.1, step, 100, { tMul: 1, mMul: 0.8 }),
    }));
    expect(out.geometric.op.name).toBe('SGDRDecay');
    // Walk the periods one by one.
    const sgdr = (s: number, tMul: number, mMul: number, alpha: number) => {
      let i = 0;
      let start = 0;
      let len = 100;
      while (s >= start + len) {
        start += len;
        len *= tMul;
        i++;
      }
      const c = 0.5 * mMul ** i * (1 + Math.cos((Math.PI * (s - start)) / len));
      return 0.1 * ((1 - alpha) * c + alpha);
    };
    // Off the period boundaries, where TF's closed form (a log ratio in float32) may land either side.
    for (const s of [0, 1, 37, 99, 101, 150, 299, 301, 650, 1000]) {
      const v = await at(s);
      expectClose(tf.NDArray.from(v.geometric), sgdr(s, 2, 0.5, 0.05), { rtol: 1e-4, atol: 1e-7 });
      expectClose(tf.NDArray.from(v.even), sgdr(s, 1, 0.8, 0), { rtol: 1e-4, atol: 1e-7 });
    }
    for (const s of [100, 200, 300]) expectClose(tf.NDArray.from((await at(s)).even), sgdr(s, 1, 0.8, 0), { rtol: 1e-4, atol: 1e-7 });
    sess.close();
  });

  it('linearCosineDecay: lr * ((alpha + (T - t) / T) * 0.5 * (1 + cos(2 pi periods t / T)) + beta)', async () => {
    const { out, at, sess } = await withStep((step) => ({
      plain: tf.train.linearCosineDecay(0.1, step, 200),
      tuned: tf.train.linearCosineDecay(0.1, step, 200, { numPeriods: 2, alpha: 0.1, beta: 0.01 }),
      quiet: tf.train.noisyLinearCosineDecay(0.1, step, 200, { numPeriods: 2, alpha: 0.1, beta: 0.01, initialVariance: 0 }),
    }));
    expect(out.plain.op.name).toBe('LinearCosineDecay');
    expect(out.quiet.op.name).toBe('NoisyLinearCosineDecay');
    const lc = (s: number, periods: number, alpha: number, beta: number) => {
      const t = Math.min(s, 200);
      return 0.1 * ((alpha + (200 - t) / 200) * 0.5 * (1 + Math.cos(Math.PI * 2 * periods * (t / 200))) + beta);
    };
    for (const s of STEPS) {
      const v = await at(s);
      expectClose(tf.NDArray.from(v.plain), lc(s, 0.5, 0, 0.001), { rtol: 1e-4, atol: 1e-8 });
      expectClose(tf.NDArray.from(v.tuned), lc(s, 2, 0.1, 0.01), { rtol: 1e-4, atol: 1e-8 });
      expectClose(tf.NDArray.from(v.quiet), lc(s, 2, 0.1, 0.01), { rtol: 1e-4, atol: 1e-8 });
    }
    sess.close();
  });

  it('noisyLinearCosineDecay draws noise of variance initialVariance / (1 + t)^varianceDecay on each run', async () => {
    const { out, at, sess } = await withStep((step) => ({ noisy: tf.train.noisyLinearCosineDecay(1, step, 100, { initialVariance: 2 }) }));
    await at(10);
    const n = 200;
    const xs: number[] = [];
    for (let k = 0; k < n; k++) xs.push((await sess.run(out.noisy)).scalar() as number);
    const cosine = 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * 0.1));
    const mean = (0.9 * cosine + 0.001) * 1;
    const std = Math.sqrt(2 / 11 ** 0.55) * cosine;
    const m = xs.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1));
    expect(Math.abs(m - mean)).toBeLessThan((4 * std) / Math.sqrt(n));
    expect(sd).toBeGreaterThan(0.8 * std);
    expect(sd).toBeLessThan(1.2 * std);
    sess.close();
  });
});

describe('piecewiseConstant', () => {
  it("picks values[0] while x <= boundaries[0], values[i] on (boundaries[i-1], boundaries[i]], the last after (TF's rule)", async () => {
    const { out, at, sess } = await withStep((step) => ({
      lr: tf.train.piecewiseConstant(step, [10, 20], [1.0, 0.5, 0.1]),
      promoted: tf.train.piecewiseConstantDecay(step, [tf.constant(10, 'int32'), tf.constant(20, 'int32')], [3, 2, 1], 'promoted'),
    }));
    expect(out.lr.op.name).toBe('PiecewiseConstant');
    expect(out.lr.dtype).toBe('float32');
    expect(out.promoted.op.name).toBe('promoted');
    const want: [number, number][] = [
      [0, 1.0],
      [9, 1.0],
      [10, 1.0],
      [11, 0.5],
      [20, 0.5],
      [21, 0.1],
      [1000, 0.1],
    ];
    for (const [s, value] of want) {
      const v = await at(s);
      expectClose(tf.NDArray.from(v.lr), value);
      expectClose(tf.NDArray.from(v.promoted), value === 1 ? 3 : value === 0.5 ? 2 : 1);
    }
    sess.close();
  });

  it('takes float x and boundaries, and tensor values of one dtype', async () => {
    const g = new tf.Graph();
    const { x, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [], 'x');
      return { x, y: tf.train.piecewiseConstant(x, [0.5, 1.5], [tf.constant(7, 'int32'), tf.constant(8, 'int32'), tf.constant(9, 'int32')]) };
    });
    expect(y.dtype).toBe('int32');
    const sess = new tf.Session({ graph: g });
    for (const [xv, want] of [
      [0.5, 7],
      [0.50001, 8],
      [1.5, 8],
      [2, 9],
    ]) {
      expect((await sess.run(y, [[x, xv!]])).scalar()).toBe(want);
    }
    sess.close();
  });

  it('rejects mismatched lengths and dtypes, as TF', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const step = tf.train.getOrCreateGlobalStep();
      expect(() => tf.train.piecewiseConstant(step, [10, 20], [1, 0.5])).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.train.piecewiseConstant(step, [10, 20], [1, 0.5])).toThrow(/The length of boundaries should be 1 less than the length of values/);
      expect(() => tf.train.piecewiseConstant(step, [10.5], [1, 0.5])).toThrow(/Boundaries \(float32\) must have the same dtype as x \(int64\)/);
      expect(() => tf.train.piecewiseConstant(step, [tf.constant(1.5)], [1, 0.5])).toThrow(/Boundaries \(float32\) must have the same dtype as x \(int64\)/);
      expect(() => tf.train.piecewiseConstant(step, [10], [tf.constant(1), tf.constant(2, 'int32')])).toThrow(
        /Values must have elements all with the same dtype \(float32 vs int32\)/,
      );
    });
  });
});

describe('schedules drive optimizers', () => {
  it('a piecewise-constant rate changes the SGD step as the global step passes its boundary', async () => {
    const g = new tf.Graph();
    const { w, train, lr } = g.asDefault(() => {
      const step = tf.train.getOrCreateGlobalStep();
      const w = new tf.Variable(tf.constant([0], 'float32'), { name: 'w' });
      const lr = tf.train.piecewiseConstant(step, [1], [0.1, 0.01]);
      const train = new tf.train.GradientDescentOptimizer(lr).minimize(tf.reduceSum(tf.multiply(w.value(), -1)), { globalStep: step });
      return { w, train, lr };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const rates: number[] = [];
    for (let k = 0; k < 4; k++) {
      rates.push((await sess.run(lr)).scalar() as number);
      await sess.run(train);
    }
    expectClose(tf.NDArray.from(rates, 'float32'), [0.1, 0.1, 0.01, 0.01]);
    expectClose((await sess.run(w))!, [0.22]);
    sess.close();
  });

  it('need a global step', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const missing = null as unknown as tf.Tensor;
      expect(() => tf.train.polynomialDecay(0.1, missing, 10)).toThrow(/global_step is required for polynomial_decay/);
      expect(() => tf.train.naturalExpDecay(0.1, missing, 10, 0.5)).toThrow(/global_step is required for natural_exp_decay/);
      expect(() => tf.train.cosineDecay(0.1, missing, 10)).toThrow(/global_step is required for cosine_decay/);
    });
  });
});
