import { afterEach, describe, expect, it, vi } from 'vitest';
import * as tf from '../src/index.js';
import { columnStats, expectClose, randomArray } from './helpers.js';

const names = (vs: { name: string }[]): string[] => vs.map((v) => v.name);
const shapes = (vs: tf.Variable[]): (number | null)[][] => vs.map((v) => [...(v.shape ?? [])]);

async function initSession(g: tf.Graph): Promise<tf.Session> {
  const sess = new tf.Session({ graph: g });
  await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
  return sess;
}

describe('tf.contrib.layers.fullyConnected', () => {
  it('creates fully_connected/weights and biases (xavier, zeros), names ops under fully_connected/, uniquifies, and nests', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 4]);
      const y = tf.contrib.layers.fullyConnected(x, 3);
      expect(y.op.name).toBe('fully_connected/Relu');
      expect(y.shape).toEqual([null, 3]);
      tf.contrib.layers.fullyConnected(y, 2, { activationFn: null });
      tf.variableScope('net', () => tf.contrib.layers.fullyConnected(x, 5, { biasesInitializer: null }));
      const vars = tf.globalVariables();
      expect(names(vars)).toEqual([
        'fully_connected/weights:0',
        'fully_connected/biases:0',
        'fully_connected_1/weights:0',
        'fully_connected_1/biases:0',
        'net/fully_connected/weights:0',
      ]);
      expect(shapes(vars)).toEqual([[4, 3], [3], [3, 2], [2], [4, 5]]);
      expect(names(tf.getCollection<tf.Variable>(tf.GraphKeys.MODEL_VARIABLES))).toEqual(names(vars));
      expect(g.getOperationByName('fully_connected/MatMul').type).toBe('MatMul');
      expect(g.getOperationByName('fully_connected/BiasAdd').type).toBe('BiasAdd');
    });
  });

  it('computes the same as tf.layers.dense with the same weights; activationFn null is linear', async () => {
    const g = new tf.Graph();
    const x = randomArray([5, 4], { seed: 1 });
    const w = randomArray([4, 3], { seed: 2 });
    const b = randomArray([3], { seed: 3 });
    const outs = g.asDefault(() => {
      const xt = tf.constant(x);
      const init = { weightsInitializer: tf.constantInitializer(w), biasesInitializer: tf.constantInitializer(b) };
      const dense = { kernelInitializer: tf.constantInitializer(w), biasInitializer: tf.constantInitializer(b) };
      return [
        tf.contrib.layers.fullyConnected(xt, 3, init),
        tf.layers.dense(xt, 3, { ...dense, activation: tf.nn.relu }),
        tf.contrib.layers.fullyConnected(xt, 3, { ...init, activationFn: null }),
        tf.layers.dense(xt, 3, dense),
        tf.contrib.layers.fullyConnected(xt, 3, { ...init, activationFn: tf.nn.sigmoid }),
        tf.nn.sigmoid(tf.layers.dense(xt, 3, dense)),
      ];
    });
    const sess = await initSession(g);
    const r = await sess.run(outs);
    expectClose(r[0]!, r[1]!);
    expectClose(r[2]!, r[3]!);
    expectClose(r[4]!, r[5]!);
    expect(Math.min(...(r[2]!.data as Float32Array))).toBeLessThan(0);
    sess.close();
  });

  it('shares its variables through scope and reuse; a weights regularizer adds a regularization loss', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 4]);
      tf.contrib.layers.fullyConnected(x, 3, { scope: 'fc', weightsRegularizer: tf.contrib.layers.l2Regularizer(0.1) });
      tf.contrib.layers.fullyConnected(x, 3, { scope: 'fc', reuse: true, weightsRegularizer: tf.contrib.layers.l2Regularizer(0.1) });
      expect(names(tf.globalVariables())).toEqual(['fc/weights:0', 'fc/biases:0']);
      expect(tf.getCollection(tf.GraphKeys.REGULARIZATION_LOSSES).length).toBe(1);
      expect(() => tf.contrib.layers.fullyConnected(x, 3, { reuse: true })).toThrow(/reuse=True cannot be used without a name_or_scope/);
    });
  });
});

describe('tf.contrib.layers.conv2d', () => {
  it("creates Conv/weights [kh, kw, in, out] and Conv/biases, with 'SAME' padding and relu by default", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 8, 8, 2]);
      const y = tf.contrib.layers.conv2d(x, 4, 3);
      expect(y.shape).toEqual([null, 8, 8, 4]);
      expect(y.op.name).toBe('Conv/Relu');
      const y2 = tf.contrib.layers.conv2d(y, 5, [2, 2], { stride: 2, padding: 'VALID' });
      expect(y2.shape).toEqual([null, 4, 4, 5]);
      expect(names(tf.globalVariables())).toEqual(['Conv/weights:0', 'Conv/biases:0', 'Conv_1/weights:0', 'Conv_1/biases:0']);
      expect(shapes(tf.globalVariables())).toEqual([[3, 3, 2, 4], [4], [2, 2, 4, 5], [5]]);
      expect(g.getOperationByName('Conv/Conv2D').type).toBe('Conv2D');
    });
  });

  it('computes the same as tf.layers.conv2d with the same weights', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 6, 6, 3], { seed: 4 });
    const w = randomArray([3, 3, 3, 4], { seed: 5 });
    const b = randomArray([4], { seed: 6 });
    const [a, e] = g.asDefault(() => {
      const xt = tf.constant(x);
      return [
        tf.contrib.layers.conv2d(xt, 4, 3, { stride: 2, weightsInitializer: tf.constantInitializer(w), biasesInitializer: tf.constantInitializer(b) }),
        tf.layers.conv2d(xt, 4, 3, {
          strides: 2,
          padding: 'same',
          activation: tf.nn.relu,
          kernelInitializer: tf.constantInitializer(w),
          biasInitializer: tf.constantInitializer(b),
        }),
      ];
    });
    const sess = await initSession(g);
    const [ra, re] = await sess.run([a!, e!]);
    expect(ra!.shape).toEqual([2, 3, 3, 4]);
    expectClose(ra!, re!);
    sess.close();
  });

  it('with normalizerFn batchNorm: no biases, the batch norm under Conv/BatchNorm, and reuse shares both', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 4, 4, 2]);
      const params = { isTraining: true };
      tf.contrib.layers.conv2d(x, 3, 3, { scope: 'c', normalizerFn: tf.contrib.layers.batchNorm, normalizerParams: params });
      tf.contrib.layers.conv2d(x, 3, 3, { scope: 'c', reuse: true, normalizerFn: tf.contrib.layers.batchNorm, normalizerParams: params });
      expect(names(tf.globalVariables())).toEqual(['c/weights:0', 'c/BatchNorm/beta:0', 'c/BatchNorm/moving_mean:0', 'c/BatchNorm/moving_variance:0']);
    });
  });
});

describe('tf.contrib.layers.batchNorm', () => {
  it('creates BatchNorm/beta, moving_mean, moving_variance (gamma only with scale) and puts its updates in UPDATE_OPS', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3]);
      tf.contrib.layers.batchNorm(x);
      expect(names(tf.globalVariables())).toEqual(['BatchNorm/beta:0', 'BatchNorm/moving_mean:0', 'BatchNorm/moving_variance:0']);
      expect(names(tf.trainableVariables())).toEqual(['BatchNorm/beta:0']);
      expect(names(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS))).toEqual(['BatchNorm/AssignMovingAvg:0', 'BatchNorm/AssignMovingAvg_1:0']);
      tf.contrib.layers.batchNorm(x, { scale: true, updatesCollections: null });
      expect(names(tf.globalVariables()).slice(3)).toEqual([
        'BatchNorm_1/gamma:0',
        'BatchNorm_1/beta:0',
        'BatchNorm_1/moving_mean:0',
        'BatchNorm_1/moving_variance:0',
      ]);
      expect(shapes(tf.globalVariables())).toEqual([[3], [3], [3], [3], [3], [3], [3]]);
      // updatesCollections null collects nothing.
      expect(tf.getCollection(tf.GraphKeys.UPDATE_OPS).length).toBe(2);
    });
  });

  it('training: the same output as tf.layers.batchNormalization (scale false, epsilon 1e-3) and tf.nn.batchNormalization', async () => {
    const g = new tf.Graph();
    const x = randomArray([8, 3], { seed: 7, min: -1, max: 3 });
    const outs = g.asDefault(() => {
      const xt = tf.constant(x);
      const [mean, variance] = tf.nn.moments(xt, [0]);
      return [
        tf.contrib.layers.batchNorm(xt, { center: false, updatesCollections: null }),
        tf.layers.batchNormalization(xt, { training: true, scale: false, center: false }),
        tf.nn.batchNormalization(xt, mean, variance, null, null, 1e-3),
      ];
    });
    const sess = await initSession(g);
    const [a, b, c] = await sess.run(outs);
    expectClose(a!, b!, { atol: 1e-5 });
    expectClose(a!, c!, { atol: 1e-5 });
    sess.close();
  });

  it('updatesCollections null: computing the output moves the moving averages by (1 - decay); the default waits for UPDATE_OPS', async () => {
    const g = new tf.Graph();
    const x = randomArray([8, 2], { seed: 8, min: 0, max: 4 });
    const { mean, variance } = columnStats(x);
    const { inPlace, collected, updates, vars } = g.asDefault(() => {
      const xt = tf.constant(x);
      const inPlace = tf.contrib.layers.batchNorm(xt, { updatesCollections: null, decay: 0.9, scope: 'ip' });
      const collected = tf.contrib.layers.batchNorm(xt, { decay: 0.9, scope: 'col' });
      return { inPlace, collected, updates: tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), vars: tf.globalVariables() };
    });
    expect(names(vars)).toEqual([
      'ip/beta:0',
      'ip/moving_mean:0',
      'ip/moving_variance:0',
      'col/beta:0',
      'col/moving_mean:0',
      'col/moving_variance:0',
    ]);
    expect(names(updates)).toEqual(['col/AssignMovingAvg:0', 'col/AssignMovingAvg_1:0']);
    const [, ipMean, ipVar, , colMean, colVar] = vars;
    const sess = await initSession(g);
    let m = [0, 0];
    let v = [1, 1];
    for (let step = 0; step < 2; step++) {
      await sess.run([inPlace, collected]);
      m = m.map((mi, j) => mi - (mi - mean[j]!) * 0.1);
      v = v.map((vi, j) => vi - (vi - variance[j]!) * 0.1);
      const [a, b, c, d] = await sess.run([ipMean!, ipVar!, colMean!, colVar!]);
      expectClose(a!, m, { atol: 1e-5 });
      expectClose(b!, v, { atol: 1e-5 });
      expectClose(c!, [0, 0]);
      expectClose(d!, [1, 1]);
    }
    await sess.run(updates);
    expectClose(await sess.run(colMean!), mean.map((mj) => mj * 0.1), { atol: 1e-5 });
    sess.close();
  });

  it('isTraining false normalizes with the moving averages and adds no updates; a bool tensor decides per run', async () => {
    const g = new tf.Graph();
    const x = randomArray([6, 2], { seed: 9, min: 0, max: 4 });
    const params = {
      paramInitializers: { movingMean: tf.constantInitializer([1, 2]), movingVariance: tf.constantInitializer([4, 0.25]), beta: tf.constantInitializer([0.5, -0.5]) },
    };
    const { inf, dyn, flag, mm } = g.asDefault(() => {
      const xt = tf.constant(x);
      const flag = tf.placeholder('bool', [], 'is_training');
      const inf = tf.contrib.layers.batchNorm(xt, { ...params, isTraining: false, scope: 'bn' });
      expect(tf.getCollection(tf.GraphKeys.UPDATE_OPS).length).toBe(0);
      const dyn = tf.contrib.layers.batchNorm(xt, { isTraining: flag, scope: 'bn', reuse: true, updatesCollections: null });
      return { inf, dyn, flag, mm: tf.globalVariables()[1]! };
    });
    const byMoving = Array.from(x.data as Float32Array, (val, i) => {
      const j = i % 2;
      return (val - [1, 2][j]!) / Math.sqrt([4, 0.25][j]! + 1e-3) + [0.5, -0.5][j]!;
    });
    const sess = await initSession(g);
    expectClose(await sess.run(inf), byMoving, { atol: 1e-5 });
    const F = new tf.NDArray(Uint8Array.of(0), [], 'bool');
    const T = new tf.NDArray(Uint8Array.of(1), [], 'bool');
    expectClose(await sess.run(dyn, [[flag, F]]), byMoving, { atol: 1e-5 });
    expectClose(await sess.run(mm), [1, 2]);
    await sess.run(dyn, [[flag, T]]);
    const { mean } = columnStats(x);
    expectClose(await sess.run(mm), [1 - (1 - mean[0]!) * 0.001, 2 - (2 - mean[1]!) * 0.001], { atol: 1e-6 });
    sess.close();
  });
});

describe('tf.contrib.layers.flatten and dropout', () => {
  it('flatten: [batch, k] under Flatten/', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 3, 4], { seed: 10 });
    const y = g.asDefault(() => {
      const y = tf.contrib.layers.flatten(tf.placeholder('float32', [null, 3, 4], 'x'));
      expect(y.shape).toEqual([null, 12]);
      expect(y.op.name.startsWith('Flatten/')).toBe(true);
      return y;
    });
    const sess = new tf.Session({ graph: g });
    const r = await sess.run(y, [[g.getTensorByName('x:0'), x]]);
    expect(r.shape).toEqual([2, 12]);
    expectClose(r, x.data as Float32Array);
    sess.close();
  });

  it('dropout: keeps with probability keepProb scaled by 1 / keepProb when training; identity otherwise', async () => {
    const g = new tf.Graph();
    const x = randomArray([50, 20], { seed: 11, min: 1, max: 2 });
    const { a, b, flag } = g.asDefault(() => {
      const xt = tf.constant(x);
      const flag = tf.placeholder('bool', [], 'is_training');
      const a = tf.contrib.layers.dropout(xt, { keepProb: 0.5, seed: 3 });
      expect(a.op.name.startsWith('Dropout/')).toBe(true);
      return { a, b: tf.contrib.layers.dropout(xt, { keepProb: 0.5, isTraining: flag }), flag };
    });
    const sess = new tf.Session({ graph: g });
    const ra = (await sess.run(a)).data as Float32Array;
    const xd = x.data as Float32Array;
    let kept = 0;
    ra.forEach((val, i) => {
      if (val !== 0) {
        kept++;
        expect(val).toBeCloseTo(xd[i]! * 2, 5);
      }
    });
    expect(kept / ra.length).toBeGreaterThan(0.4);
    expect(kept / ra.length).toBeLessThan(0.6);
    expectClose(await sess.run(b, [[flag, new tf.NDArray(Uint8Array.of(0), [], 'bool')]]), x);
    sess.close();
  });
});

describe('the UPDATE_OPS warning in optimizer.minimize', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const warnings = (spy: ReturnType<typeof vi.spyOn>): string[] => spy.mock.calls.map((c) => String(c[0])).filter((s) => s.includes('UPDATE_OPS'));

  /** x -> dense -> batch norm -> dense -> mean square loss, in g. */
  function model(bn: (h: tf.Tensor) => tf.Tensor): tf.Tensor {
    const x = tf.placeholder('float32', [null, 3]);
    const h = bn(tf.layers.dense(x, 4));
    return tf.reduceMean(tf.square(tf.layers.dense(h, 1)));
  }

  it('fires once per layer when the train op does not run the batch-norm updates', () => {
    const spy = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const g = new tf.Graph();
    g.asDefault(() => {
      const loss = model((h) => tf.layers.batchNormalization(h, { training: true, name: 'bn' }));
      const opt = new tf.train.GradientDescentOptimizer(0.1);
      opt.minimize(loss);
      expect(warnings(spy).length).toBe(1);
      expect(warnings(spy)[0]).toContain("'bn'");
      opt.minimize(loss);
      expect(warnings(spy).length).toBe(1);
    });
  });

  it('fires for a training tensor and for contrib batchNorm with the default updatesCollections', () => {
    const spy = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const g = new tf.Graph();
    g.asDefault(() => {
      const flag = tf.placeholder('bool', []);
      const loss = model((h) => tf.contrib.layers.batchNorm(tf.layers.batchNormalization(h, { training: flag }), { isTraining: flag }));
      new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
      const w = warnings(spy);
      expect(w.length).toBe(2);
      expect(w[0]).toContain("'batch_normalization'");
      expect(w[1]).toContain("'BatchNorm'");
    });
  });

  it('does not fire with the updates as control dependencies, with updatesCollections null, or in inference mode', () => {
    const spy = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const g = new tf.Graph();
    g.asDefault(() => {
      const opt = new tf.train.GradientDescentOptimizer(0.1);
      const loss = model((h) => tf.layers.batchNormalization(h, { training: true }));
      tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => opt.minimize(loss));
      const loss2 = model((h) => tf.contrib.layers.batchNorm(h, { updatesCollections: null }));
      opt.minimize(loss2);
      const loss3 = model((h) => tf.layers.batchNormalization(h, { training: false }));
      opt.minimize(loss3);
      // A loss that does not depend on a layer whose updates are collected but not run.
      tf.layers.batchNormalization(tf.placeholder('float32', [null, 2]), { training: true });
      opt.minimize(model((h) => h));
    });
    expect(warnings(spy)).toEqual([]);
  });

  it("GAN: the discriminator's step (its own variables) does not fire for the generator's batch norm; an unwrapped generator step does", () => {
    const spy = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const g = new tf.Graph();
    g.asDefault(() => {
      const z = tf.placeholder('float32', [null, 2]);
      const fake = tf.variableScope('generator', () => tf.layers.dense(tf.layers.batchNormalization(tf.layers.dense(z, 4), { training: true }), 3));
      const dLoss = tf.variableScope('discriminator', () => tf.reduceMean(tf.layers.dense(fake, 1)));
      const dVars = g.getCollection<tf.Variable>(tf.GraphKeys.TRAINABLE_VARIABLES).filter((v) => v.name.startsWith('discriminator/'));
      const gVars = g.getCollection<tf.Variable>(tf.GraphKeys.TRAINABLE_VARIABLES).filter((v) => v.name.startsWith('generator/'));
      new tf.train.GradientDescentOptimizer(0.1).minimize(dLoss, { varList: dVars });
      expect(warnings(spy)).toEqual([]);
      new tf.train.GradientDescentOptimizer(0.1).minimize(tf.negative(dLoss), { varList: gVars });
      expect(warnings(spy).length).toBe(1);
      expect(warnings(spy)[0]).toContain("'batch_normalization'");
    });
  });

  it('the correct program trains and moves the moving averages', async () => {
    const g = new tf.Graph();
    const xv = randomArray([8, 3], { seed: 12 });
    const { train, mm, x } = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      const h = tf.contrib.layers.batchNorm(tf.contrib.layers.fullyConnected(x, 4), { scale: true });
      const loss = tf.reduceMean(tf.square(tf.contrib.layers.fullyConnected(h, 1, { activationFn: null })));
      const train = tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () =>
        new tf.train.GradientDescentOptimizer(0.1).minimize(loss),
      );
      return { train, mm: g.getTensorByName('BatchNorm/moving_mean:0'), x };
    });
    const sess = await initSession(g);
    await sess.run(train, [[x, xv]]);
    const m = (await sess.run(mm)).data as Float32Array;
    expect(Array.from(m).some((v) => v !== 0)).toBe(true);
    sess.close();
  });
});
