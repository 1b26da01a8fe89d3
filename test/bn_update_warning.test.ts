// The warning for TF1's commonest silent bug: a batch-norm layer trained in training mode by a train
// op that does not run its UPDATE_OPS. (contrib_layers.test.ts covers minimize with tf.layers and
// tf.contrib.layers batch norm, GAN steps and updatesCollections null.)
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as tf from '../src/index.js';
import { randomArray } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function captureWarnings(): string[] {
  const out: string[] = [];
  vi.spyOn(console, 'warn').mockImplementation((s: unknown) => void out.push(String(s)));
  return out;
}
const aboutUpdates = (ws: string[]): string[] => ws.filter((w) => w.includes('UPDATE_OPS'));

/** x -> dense -> batch norm (named `name`) -> dense -> mean square. */
function net(training: boolean | tf.Tensor, name = 'bn'): { x: tf.Tensor; loss: tf.Tensor } {
  const x = tf.placeholder('float32', [null, 3], 'x');
  const h = tf.layers.batchNormalization(tf.layers.dense(x, 4), { training, name });
  return { x, loss: tf.reduceMean(tf.square(tf.layers.dense(h, 1))) };
}

describe('UPDATE_OPS warning', () => {
  it('fires once, naming the layer, for computeGradients + clipping + applyGradients', () => {
    const warnings = captureWarnings();
    const g = new tf.Graph();
    g.asDefault(() => {
      const { loss } = net(true, 'norm1');
      const opt = new tf.train.AdamOptimizer(0.01);
      const gv = opt.computeGradients(loss);
      const [clipped] = tf.clipByGlobalNorm(gv.map(([gr]) => gr as tf.Tensor), 1);
      const train = opt.applyGradients(gv.map(([, v], i) => [clipped[i]!, v]));
      const w = aboutUpdates(warnings);
      expect(w.length).toBe(1);
      expect(w[0]).toContain("batch normalization layer 'norm1'");
      expect(w[0]).toContain(train.name);
      expect(w[0]).toContain('norm1/AssignMovingAvg');
      // Once per layer: a second train op over the same layer stays silent.
      new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
      expect(aboutUpdates(warnings).length).toBe(1);
    });
  });

  it('is silent when applyGradients is built under the update ops', () => {
    const warnings = captureWarnings();
    const g = new tf.Graph();
    g.asDefault(() => {
      const { loss } = net(true);
      const opt = new tf.train.MomentumOptimizer(0.1, 0.9);
      const gv = opt.computeGradients(loss);
      tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => opt.applyGradients(gv));
    });
    expect(aboutUpdates(warnings)).toEqual([]);
  });

  it('names each layer once when a network has two', () => {
    const warnings = captureWarnings();
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 4, 4, 1]);
      const c = tf.layers.batchNormalization(tf.layers.conv2d(x, 2, 3, { padding: 'same' }), { training: true, name: 'conv_bn' });
      const d = tf.layers.batchNormalization(tf.layers.dense(tf.layers.flatten(c), 3), { training: true, name: 'dense_bn' });
      const loss = tf.reduceMean(tf.square(d));
      new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
      new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
    });
    const w = aboutUpdates(warnings);
    expect(w.length).toBe(2);
    expect(w.some((s) => s.includes("'conv_bn'"))).toBe(true);
    expect(w.some((s) => s.includes("'dense_bn'"))).toBe(true);
  });

  it('is silent at inference: training false or a constant false tensor; fires when training is decided at run time', () => {
    const warnings = captureWarnings();
    for (const training of [false, () => tf.constant(false)]) {
      const g = new tf.Graph();
      g.asDefault(() => {
        const { loss } = net(typeof training === 'function' ? training() : training);
        expect(tf.getCollection(tf.GraphKeys.UPDATE_OPS)).toEqual([]);
        new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
      });
    }
    expect(aboutUpdates(warnings)).toEqual([]);
    const g = new tf.Graph();
    g.asDefault(() => {
      const flag = tf.placeholderWithDefault(false, [], 'is_training');
      const { loss } = net(flag, 'runtime_bn');
      new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
    });
    expect(aboutUpdates(warnings).length).toBe(1);
    expect(aboutUpdates(warnings)[0]).toContain("'runtime_bn'");
  });

  it('is silent for contrib batchNorm updates sent to another collection', () => {
    const warnings = captureWarnings();
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3]);
      const h = tf.contrib.layers.batchNorm(tf.contrib.layers.fullyConnected(x, 4), { updatesCollections: ['my_updates'] });
      new tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduceMean(tf.square(h)));
      expect(g.getCollection('my_updates').length).toBe(2);
    });
    expect(aboutUpdates(warnings)).toEqual([]);
  });

  it('warns about a real bug: the warned train op leaves the moving mean at zero, the fixed one moves it', async () => {
    const warnings = captureWarnings();
    const xv = randomArray([8, 3], { seed: 3 });
    const movingMeanAfterTraining = async (fixed: boolean): Promise<number[]> => {
      const g = new tf.Graph();
      const { x, train, mm } = g.asDefault(() => {
        const { x, loss } = net(true);
        const opt = new tf.train.GradientDescentOptimizer(0.05);
        const train = fixed ? tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => opt.minimize(loss)) : opt.minimize(loss);
        const mm = g.getCollection<tf.Variable>(tf.GraphKeys.GLOBAL_VARIABLES).find((v) => v.name === 'bn/moving_mean:0')!;
        return { x, train, mm };
      });
      const sess = new tf.Session({ graph: g });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      for (let i = 0; i < 3; i++) await sess.run(train, [[x, xv]]);
      const out = Array.from((await sess.run(mm)).data as Float32Array);
      sess.close();
      return out;
    };
    expect(await movingMeanAfterTraining(false)).toEqual([0, 0, 0, 0]);
    expect(aboutUpdates(warnings).length).toBe(1);
    const moved = await movingMeanAfterTraining(true);
    expect(moved.some((m) => m !== 0)).toBe(true);
    expect(aboutUpdates(warnings).length).toBe(1);
  });
});
