// tf.train.ExponentialMovingAverage and tf.train.assignMovingAverage: TF's shadow-variable names and
// the averages, step by step, against the documented formulas written out in JS (float64).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'weir-ema-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The values fed to the averaged variable and tensor, one row per step. */
const STEPS = [
  [1, -2, 0.5],
  [3, 0, -1],
  [-0.5, 4, 2],
  [2, 2, 2],
  [0.25, -3, 1.5],
];

/** TF's documented decay with num_updates n: min(decay, (1 + n) / (10 + n)). */
const decayAt = (decay: number, n: number | undefined): number => (n === undefined ? decay : Math.min(decay, (1 + n) / (10 + n)));

describe('ExponentialMovingAverage: names', () => {
  it("names shadows '<var>/ExponentialMovingAverage' and keeps them out of the trainable variables", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const w = tf.variableScope('layer', () => tf.getVariable('w', { shape: [2], initializer: tf.zerosInitializer() }));
      const b = new tf.Variable([1, 2], { name: 'b' });
      const x = tf.placeholder('float32', [2], 'x');
      const t = tf.multiply(x, 2, 'doubled');
      const ema = new tf.train.ExponentialMovingAverage(0.9);
      expect(ema.name).toBe('ExponentialMovingAverage');
      // Before apply: the name apply will give.
      expect(ema.averageName(w)).toBe('layer/w/ExponentialMovingAverage');
      const op = tf.nameScope('somewhere', () => ema.apply([w, b, t]));
      expect(op.type).toBe('NoOp');
      expect(op.name).toBe('somewhere/ExponentialMovingAverage');
      expect(ema.average(w)!.name).toBe('layer/w/ExponentialMovingAverage:0');
      expect(ema.average(b)!.name).toBe('b/ExponentialMovingAverage:0');
      expect(ema.average(t)!.name).toBe('doubled/ExponentialMovingAverage:0');
      expect(ema.averageName(w)).toBe('layer/w/ExponentialMovingAverage');
      expect(ema.average(new tf.Variable(0, { name: 'other' }))).toBeNull();
      const trainable = tf.trainableVariables().map((v) => v.name);
      expect(trainable).toEqual(['layer/w:0', 'b:0', 'other:0']);
      const global = tf.globalVariables().map((v) => v.name);
      for (const n of ['layer/w/ExponentialMovingAverage:0', 'b/ExponentialMovingAverage:0', 'doubled/ExponentialMovingAverage:0']) {
        expect(global).toContain(n);
      }
      // Only variables (not tensors) join MOVING_AVERAGE_VARIABLES.
      expect(g.getCollection<tf.Variable>(tf.GraphKeys.MOVING_AVERAGE_VARIABLES).map((v) => v.name)).toEqual(['layer/w:0', 'b:0']);
      // A second average of the same variable gets a unique name, and averageName predicts it.
      const ema2 = new tf.train.ExponentialMovingAverage(0.5);
      expect(ema2.averageName(b)).toBe('b/ExponentialMovingAverage_1');
      ema2.apply([b]);
      expect(ema2.average(b)!.op.name).toBe('b/ExponentialMovingAverage_1');
      // apply() again makes no second shadow.
      const before = tf.globalVariables().length;
      ema.apply([b]);
      expect(tf.globalVariables().length).toBe(before);
    });
  });

  it('zeroDebias adds biased and local_step variables for tensors only', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const v = new tf.Variable([1, 2], { name: 'v' });
      const t = tf.add(tf.placeholder('float32', [2]), 1, 'shifted');
      new tf.train.ExponentialMovingAverage(0.9, { zeroDebias: true }).apply([v, t]);
      const names = tf.globalVariables().map((x) => x.op.name);
      expect(names).toEqual([
        'v',
        'v/ExponentialMovingAverage',
        'shifted/ExponentialMovingAverage',
        'shifted/ExponentialMovingAverage/biased',
        'shifted/ExponentialMovingAverage/local_step',
      ]);
    });
  });

  it('rejects non-float variables and tensors of unknown shape', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const i = new tf.Variable(tf.NDArray.from([1, 2], 'int32'), { name: 'i' });
      const ema = new tf.train.ExponentialMovingAverage(0.9);
      expect(() => ema.apply([i])).toThrow(tf.errors.InvalidArgumentError);
      expect(() => ema.apply([i])).toThrow(/half, float, or double: i:0/);
      expect(() => ema.apply([tf.placeholder('float32', [null])])).toThrow(/fully defined shape/);
    });
  });
});

/**
 * Averages `v` (a variable set to each row of STEPS before the update) and `t` (a tensor fed each
 * row) over the steps; checks every step against the formula.
 */
async function checkAverages(decay: number, opts: { numUpdates?: boolean; zeroDebias?: boolean }): Promise<void> {
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const v = new tf.Variable([0.5, 0.5, 0.5], { name: 'v' });
    const x = tf.placeholder('float32', [3], 'x');
    const t = tf.identity(x, 't');
    const setV = tf.assign(v, x);
    const step = tf.train.getOrCreateGlobalStep();
    const ema = new tf.train.ExponentialMovingAverage(decay, { numUpdates: opts.numUpdates ? step : undefined, zeroDebias: opts.zeroDebias });
    // The update reads the step before it is incremented.
    const update = ema.apply([v, t]);
    const bump = tf.controlDependencies([update], () => tf.assignAdd(step as tf.Variable, 1));
    return { v, x, t, setV, ema, bump, init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g });
  await sess.run(m.init);
  // A variable's shadow starts at its initial value; a tensor's at zero.
  expectClose(await sess.run(m.ema.average(m.v)!), [0.5, 0.5, 0.5]);
  expectClose(await sess.run(m.ema.average(m.t)!), [0, 0, 0]);
  let shadowV = [0.5, 0.5, 0.5];
  let shadowT = [0, 0, 0];
  let biased = [0, 0, 0];
  let debiasProduct = 1;
  for (let n = 0; n < STEPS.length; n++) {
    const row = STEPS[n]!;
    await sess.run(m.setV, [[m.x, row]]);
    await sess.run(m.bump, [[m.x, row]]);
    const d = decayAt(decay, opts.numUpdates ? n : undefined);
    shadowV = shadowV.map((s, i) => d * s + (1 - d) * row[i]!);
    if (opts.zeroDebias) {
      biased = biased.map((s, i) => d * s + (1 - d) * row[i]!);
      // decay^steps when the decay is fixed; the product of the decays when it changes with n.
      debiasProduct *= d;
      shadowT = biased.map((s) => s / (1 - debiasProduct));
    } else {
      shadowT = shadowT.map((s, i) => d * s + (1 - d) * row[i]!);
    }
    const [av, at] = await sess.run([m.ema.average(m.v)!, m.ema.average(m.t)!]);
    expectClose(av, shadowV, { atol: 1e-6 });
    expectClose(at, shadowT, { atol: 1e-6 });
  }
  sess.close();
}

describe('ExponentialMovingAverage: values', () => {
  it('shadow = decay * shadow + (1 - decay) * value, every step', async () => {
    await checkAverages(0.75, {});
  });
  it('with numUpdates: decay = min(decay, (1 + n) / (10 + n))', async () => {
    // 0.3 is below (1 + n) / (10 + n) from n = 2 on: both branches of min are taken.
    await checkAverages(0.3, { numUpdates: true });
    await checkAverages(0.99, { numUpdates: true });
  });
  it("with zeroDebias: a tensor's average is debiased (TF's _zero_debias), a variable's is not", async () => {
    await checkAverages(0.6, { zeroDebias: true });
  });
});

describe('ExponentialMovingAverage: with an optimizer (TF\'s documented usage)', () => {
  it('apply() under tf.controlDependencies([trainOp]) averages the values after each step', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const w = new tf.Variable([1, -2], { name: 'w' });
      const loss = tf.reduceSum(tf.square(w));
      const optOp = new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
      const ema = new tf.train.ExponentialMovingAverage(0.9);
      const trainingOp = tf.controlDependencies([optOp], () => ema.apply([w]));
      return { w, ema, trainingOp, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    // The shadow's initializer does not depend on the train op: initializing trains nothing.
    await sess.run(m.init);
    expectClose(await sess.run(m.w), [1, -2]);
    let w = [1, -2];
    let shadow = [1, -2];
    for (let i = 0; i < 4; i++) {
      await sess.run(m.trainingOp);
      w = w.map((x) => x - 0.1 * 2 * x);
      shadow = shadow.map((s, j) => 0.9 * s + 0.1 * w[j]!);
      expectClose(await sess.run(m.w), w);
      expectClose(await sess.run(m.ema.average(m.w)!), shadow);
    }
    sess.close();
  });
});

describe('assignMovingAverage', () => {
  it('without zeroDebias: variable -= (1 - decay) * (variable - value)', async () => {
    const g = new tf.Graph();
    const { v, x, up, init } = g.asDefault(() => {
      const v = new tf.Variable([2, -4], { name: 'avg' });
      const x = tf.placeholder('float32', [2]);
      const up = tf.train.assignMovingAverage(v, x, 0.8, { zeroDebias: false });
      return { v, x, up, init: tf.globalVariablesInitializer() };
    });
    expect(up.op.name).toBe('AssignMovingAvg');
    expect(up.op.type).toBe('AssignSub');
    const sess = new tf.Session({ graph: g });
    await sess.run(init);
    let ref = [2, -4];
    for (const row of [[1, 1], [0, 10], [-3, 2]]) {
      const out = await sess.run(up, [[x, row]]);
      ref = ref.map((s, i) => s - (1 - 0.8) * (s - row[i]!));
      expectClose(out, ref);
      expectClose(await sess.run(v), ref);
    }
    sess.close();
  });

  it('zeroDebias (the default) debiases a zero-initialized average by 1 - decay^steps, with a decay tensor', async () => {
    const g = new tf.Graph();
    const { v, x, up, init } = g.asDefault(() => {
      const v = new tf.Variable(tf.zeros([2]), { name: 'm', trainable: false });
      const x = tf.placeholder('float32', [2]);
      const up = tf.train.assignMovingAverage(v, x, tf.constant(0.9));
      return { v, x, up, init: tf.globalVariablesInitializer() };
    });
    expect(g.getCollection<tf.Variable>(tf.GraphKeys.GLOBAL_VARIABLES).map((u) => u.op.name)).toEqual(['m', 'm/biased', 'm/local_step']);
    const sess = new tf.Session({ graph: g });
    await sess.run(init);
    let biased = [0, 0];
    const rows = [[1, -1], [2, 0], [5, 3], [5, 3]];
    for (let s = 1; s <= rows.length; s++) {
      const row = rows[s - 1]!;
      await sess.run(up, [[x, row]]);
      biased = biased.map((b, i) => 0.9 * b + 0.1 * row[i]!);
      expectClose(await sess.run(v), biased.map((b) => b / (1 - 0.9 ** s)), { atol: 1e-6 });
    }
    sess.close();
  });
});

describe('ExponentialMovingAverage: restoring averages into the variables', () => {
  it('variablesToRestore maps shadow names to the plain variables of a fresh graph', async () => {
    const dir = join(root, 'restore');
    // Training graph: w and b averaged, a global step not averaged.
    const g1 = new tf.Graph();
    const m1 = g1.asDefault(() => {
      const w = tf.variableScope('dense', () => tf.getVariable('w', { shape: [2, 2], initializer: tf.onesInitializer() }));
      const b = new tf.Variable([0, 0], { name: 'b' });
      const step = tf.train.getOrCreateGlobalStep();
      const x = tf.placeholder('float32', [2, 2]);
      const setW = tf.assign(w, x);
      const setB = tf.assign(b, tf.reduceSum(x, 0));
      const ema = new tf.train.ExponentialMovingAverage(0.5);
      const train = tf.controlDependencies([setW, setB], () => tf.group([ema.apply([w, b]), tf.assignAdd(step as tf.Variable, 1)]));
      return { w, b, x, ema, train, init: tf.globalVariablesInitializer() };
    });
    const s1 = new tf.Session({ graph: g1 });
    await s1.run(m1.init);
    for (const row of [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[-1, 0], [2, 1]]]) await s1.run(m1.train, [[m1.x, row]]);
    const [avgW, avgB, plainW] = await s1.run([m1.ema.average(m1.w)!, m1.ema.average(m1.b)!, m1.w]);
    const saver1 = g1.asDefault(() => new tf.train.Saver());
    const prefix = await saver1.save(s1, join(dir, 'model.ckpt'));
    s1.close();

    // Evaluation graph: the same variables, no apply().
    const g2 = new tf.Graph();
    const m2 = g2.asDefault(() => {
      const w = tf.variableScope('dense', () => tf.getVariable('w', { shape: [2, 2], initializer: tf.zerosInitializer() }));
      const b = new tf.Variable([9, 9], { name: 'b' });
      const step = tf.train.getOrCreateGlobalStep();
      const ema = new tf.train.ExponentialMovingAverage(0.5);
      const map = ema.variablesToRestore();
      return { w, b, step, map };
    });
    expect(Object.keys(m2.map).sort()).toEqual(['b/ExponentialMovingAverage', 'dense/w/ExponentialMovingAverage', 'global_step']);
    expect(m2.map['dense/w/ExponentialMovingAverage']).toBe(m2.w);
    expect(m2.map['global_step']).toBe(m2.step);
    const s2 = new tf.Session({ graph: g2 });
    await new tf.train.Saver(m2.map).restore(s2, prefix);
    const [w2, b2, step2] = await s2.run([m2.w, m2.b, m2.step]);
    expectClose(w2, avgW);
    expectClose(b2, avgB);
    expect(Number(step2.scalar())).toBe(3);
    // The averages differ from the last trained values, so this is not a plain restore.
    expect(Array.from(avgW.data as Float32Array)).not.toEqual(Array.from(plainW.data as Float32Array));
    s2.close();

    // In the training graph, the shadows keep their own names and are restored as themselves.
    const map1 = g1.asDefault(() => m1.ema.variablesToRestore());
    expect(map1['dense/w/ExponentialMovingAverage']).toBe(m1.w);
    expect(Object.values(map1)).not.toContain(m1.ema.average(m1.w));
    // With an explicit list, other variables keep their own names.
    const onlyW = g2.asDefault(() => new tf.train.ExponentialMovingAverage(0.5).variablesToRestore([m2.w]));
    expect(Object.keys(onlyW).sort()).toEqual(['b', 'dense/w/ExponentialMovingAverage', 'global_step']);
  });
});
