import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose } from './helpers.js';

/** Evaluates an initializer for a shape in a fresh graph. */
async function sample(init: tf.Initializer, shape: number[], dtype: tf.DType = 'float32'): Promise<tf.NDArray> {
  const g = new tf.Graph();
  const t = g.asDefault(() => init(shape, dtype));
  expect(t.dtype).toBe(dtype);
  expect(t.shape).toEqual(shape);
  const sess = new tf.Session({ graph: g });
  try {
    return await sess.run(t);
  } finally {
    sess.close();
  }
}

function stats(a: tf.NDArray): { mean: number; std: number; min: number; max: number } {
  const d = a.data as Float32Array;
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of d) {
    s += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = s / d.length;
  let v = 0;
  for (const x of d) v += (x - mean) ** 2;
  return { mean, std: Math.sqrt(v / d.length), min, max };
}

/** Checks mean ~ 0 and std within 3% of the expected value (n is in the tens of thousands). */
function expectSpread(st: { mean: number; std: number }, std: number): void {
  expect(Math.abs(st.mean)).toBeLessThan(0.03 * std);
  expect(st.std / std).toBeGreaterThan(0.97);
  expect(st.std / std).toBeLessThan(1.03);
}

describe('computeFans', () => {
  it('follows TF: scalars, vectors, matrices and conv kernels (receptive field times channels)', () => {
    expect(tf.computeFans([])).toEqual([1, 1]);
    expect(tf.computeFans([7])).toEqual([7, 7]);
    expect(tf.computeFans([3, 5])).toEqual([3, 5]);
    expect(tf.computeFans([5, 5, 32, 64])).toEqual([800, 1600]);
    expect(tf.computeFans([3, 3, 3, 4, 8])).toEqual([108, 216]);
  });
});

describe('deterministic initializers', () => {
  it('zeros and ones, for float, int32 and bool', async () => {
    expect((await sample(tf.zerosInitializer(), [2, 3])).toFlat()).toEqual([0, 0, 0, 0, 0, 0]);
    expect((await sample(tf.onesInitializer(), [4])).toFlat()).toEqual([1, 1, 1, 1]);
    expect((await sample(tf.onesInitializer(), [2], 'int32')).toFlat()).toEqual([1, 1]);
    expect((await sample(tf.zerosInitializer(), [2], 'bool')).toFlat()).toEqual([false, false]);
    expect((await sample(tf.initializers.ones(), [1, 1])).toFlat()).toEqual([1]);
    // Large shapes take the Fill path.
    const big = await sample(tf.initializers.zeros(), [40, 50]);
    expect(big.size).toBe(2000);
    expect(stats(big).max).toBe(0);
  });

  it('constant: a scalar fills, a full list is reshaped, a short list is padded with its last value (TF1)', async () => {
    expect((await sample(tf.constantInitializer(2.5), [2, 2])).toFlat()).toEqual([2.5, 2.5, 2.5, 2.5]);
    expect((await sample(tf.constantInitializer([[1, 2], [3, 4]]), [4])).toFlat()).toEqual([1, 2, 3, 4]);
    expect((await sample(tf.constantInitializer([1, 2, 3, 4, 5, 6]), [2, 3])).toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect((await sample(tf.constantInitializer([1, 2]), [5])).toFlat()).toEqual([1, 2, 2, 2, 2]);
    expect((await sample(tf.initializers.constant(new tf.NDArray(Float32Array.of(9, 8), [2])), [2])).toFlat()).toEqual([9, 8]);
    expect((await sample(tf.constantInitializer([3, 4]), [2], 'int32')).toFlat()).toEqual([3, 4]);
    expect(() => new tf.Graph().asDefault(() => tf.constantInitializer([1, 2, 3])([2]))).toThrow(
      'too many elements provided. Needed at most 2, but received 3',
    );
  });
});

describe('random initializers', () => {
  const N = [200, 150];

  it('randomNormal: mean and stddev', async () => {
    const st = stats(await sample(tf.randomNormalInitializer({ mean: 0, stddev: 2, seed: 1 }), N));
    expectSpread(st, 2);
    const shifted = stats(await sample(tf.initializers.randomNormal({ mean: 3, stddev: 0.5, seed: 2 }), N));
    expect(Math.abs(shifted.mean - 3)).toBeLessThan(0.02);
    expect(shifted.std / 0.5).toBeGreaterThan(0.97);
  });

  it('truncatedNormal: within two stddevs of the mean, std = 0.8796 stddev', async () => {
    const st = stats(await sample(tf.truncatedNormalInitializer({ stddev: 0.1, seed: 3 }), N));
    expect(st.min).toBeGreaterThanOrEqual(-0.2);
    expect(st.max).toBeLessThanOrEqual(0.2);
    expectSpread(st, 0.1 * 0.87962566103423978);
  });

  it('randomUniform: in [minval, maxval) with the uniform mean and std', async () => {
    const st = stats(await sample(tf.randomUniformInitializer({ minval: -1, maxval: 3, seed: 4 }), N));
    expect(st.min).toBeGreaterThanOrEqual(-1);
    expect(st.max).toBeLessThan(3);
    expect(Math.abs(st.mean - 1)).toBeLessThan(0.03);
    expect(Math.abs(st.std - 4 / Math.sqrt(12)) / (4 / Math.sqrt(12))).toBeLessThan(0.03);
    const unit = stats(await sample(tf.initializers.randomUniform({ seed: 5 }), N));
    expect(unit.min).toBeGreaterThanOrEqual(0);
    expect(unit.max).toBeLessThan(1);
  });

  it('glorotUniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)), for dense and conv kernels', async () => {
    const dense = stats(await sample(tf.glorotUniformInitializer({ seed: 6 }), [300, 200]));
    const l = Math.sqrt(6 / 500);
    expect(dense.min).toBeGreaterThanOrEqual(-l);
    expect(dense.max).toBeLessThanOrEqual(l);
    expect(dense.max).toBeGreaterThan(0.98 * l);
    expectSpread(dense, l / Math.sqrt(3));
    const conv = stats(await sample(tf.initializers.glorotUniform({ seed: 7 }), [5, 5, 32, 64]));
    const lc = Math.sqrt(6 / (800 + 1600));
    expect(conv.max).toBeLessThanOrEqual(lc);
    expect(conv.min).toBeGreaterThanOrEqual(-lc);
    expectSpread(conv, lc / Math.sqrt(3));
    // xavier (tf.contrib.layers and the namespace) is glorot uniform.
    const x = stats(await sample(tf.contrib.layers.xavierInitializer({ seed: 8 }), [300, 200]));
    expect(x.max).toBeLessThanOrEqual(l);
    expectSpread(x, l / Math.sqrt(3));
    const x2 = stats(await sample(tf.initializers.xavierInitializer({ seed: 8 }), [300, 200]));
    expect(x2).toEqual(x);
  });

  it('glorotNormal: truncated normal with std sqrt(2 / (fan_in + fan_out)) after TF\'s 0.8796 correction', async () => {
    const st = stats(await sample(tf.glorotNormalInitializer({ seed: 9 }), [300, 200]));
    const std = Math.sqrt(2 / 500);
    expectSpread(st, std);
    expect(st.max).toBeLessThanOrEqual((2 * std) / 0.87962566103423978);
  });

  it('varianceScaling: modes, distributions and conv fans', async () => {
    const shape = [3, 3, 64, 32]; // fan_in 576, fan_out 288
    const fi = stats(await sample(tf.varianceScalingInitializer({ scale: 2, mode: 'fan_in', distribution: 'truncated_normal', seed: 10 }), shape));
    expectSpread(fi, Math.sqrt(2 / 576));
    const fo = stats(await sample(tf.varianceScalingInitializer({ scale: 1, mode: 'fan_out', distribution: 'untruncated_normal', seed: 11 }), shape));
    expectSpread(fo, Math.sqrt(1 / 288));
    // Untruncated: some samples lie beyond two stddevs.
    expect(fo.max).toBeGreaterThan(2 * Math.sqrt(1 / 288));
    const fa = stats(await sample(tf.initializers.varianceScaling({ scale: 3, mode: 'fan_avg', distribution: 'uniform', seed: 12 }), shape));
    const limit = Math.sqrt((3 * 3) / 432);
    expect(fa.max).toBeLessThanOrEqual(limit);
    expect(fa.min).toBeGreaterThanOrEqual(-limit);
    expectSpread(fa, limit / Math.sqrt(3));
    // The default is fan_in, truncated normal, scale 1 (lecun normal).
    const def = stats(await sample(tf.varianceScalingInitializer({ seed: 13 }), shape));
    expectSpread(def, Math.sqrt(1 / 576));
    expect(() => tf.varianceScalingInitializer({ scale: -1 })).toThrow('`scale` must be positive');
    expect(() => tf.varianceScalingInitializer({ mode: 'fan_x' as never })).toThrow('Invalid `mode`');
  });

  it('he and lecun initializers', async () => {
    const shape = [400, 100];
    expectSpread(stats(await sample(tf.heNormalInitializer({ seed: 14 }), shape)), Math.sqrt(2 / 400));
    const hu = stats(await sample(tf.heUniformInitializer({ seed: 15 }), shape));
    expect(hu.max).toBeLessThanOrEqual(Math.sqrt(6 / 400));
    expectSpread(hu, Math.sqrt(2 / 400));
    expectSpread(stats(await sample(tf.lecunNormalInitializer({ seed: 16 }), shape)), Math.sqrt(1 / 400));
    expectSpread(stats(await sample(tf.lecunUniformInitializer({ seed: 17 }), shape)), Math.sqrt(1 / 400));
  });

  it('contrib xavier with uniform=false: truncated normal with stddev sqrt(1.3 / n)', async () => {
    const st = stats(await sample(tf.contrib.layers.xavierInitializer({ uniform: false, seed: 18 }), [300, 200]));
    const stddev = Math.sqrt(1.3 / 250);
    expect(st.max).toBeLessThanOrEqual(2 * stddev);
    expectSpread(st, stddev * 0.87962566103423978);
  });

  it('rejects integer dtypes', () => {
    expect(() => new tf.Graph().asDefault(() => tf.glorotUniformInitializer()([2, 2], 'int32'))).toThrow('expected floating point type');
    expect(() => new tf.Graph().asDefault(() => tf.randomNormalInitializer()([2], 'int32'))).toThrow('expected floating point type');
  });
});

describe('seeds', () => {
  it('an op seed gives the same values in every graph; different seeds differ', async () => {
    const a = await sample(tf.glorotUniformInitializer({ seed: 42 }), [10, 10]);
    const b = await sample(tf.glorotUniformInitializer({ seed: 42 }), [10, 10]);
    const c = await sample(tf.glorotUniformInitializer({ seed: 43 }), [10, 10]);
    expectClose(a, b, { atol: 0, rtol: 0 });
    expect(Array.from(a.data as Float32Array)).not.toEqual(Array.from(c.data as Float32Array));
  });

  it('a graph seed makes variables reproducible across graphs', async () => {
    const build = async (): Promise<tf.NDArray[]> => {
      const g = new tf.Graph();
      g.seed = 1234;
      const vs = g.asDefault(() => [tf.getVariable('a', { shape: [5] }), tf.getVariable('b', { shape: [5] })]);
      const sess = new tf.Session({ graph: g });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      const out = await sess.run(vs);
      sess.close();
      return out;
    };
    const [a1, b1] = await build();
    const [a2, b2] = await build();
    expectClose(a1!, a2!, { atol: 0, rtol: 0 });
    expectClose(b1!, b2!, { atol: 0, rtol: 0 });
    expect(Array.from(a1!.data as Float32Array)).not.toEqual(Array.from(b1!.data as Float32Array));
  });
});
