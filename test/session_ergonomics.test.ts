// TF1 session ergonomics: default sessions (InteractiveSession, asDefault, eval/run), TensorShape,
// allVariables, minimize(variable) and Saver's options-only argument, against TF1's documented semantics.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';

const NO_DEFAULT = /Cannot evaluate tensor using `eval\(\)`: No default session is registered/;

/** Sessions a test opened, closed after it so that no InteractiveSession stays the default. */
const opened: tf.Session[] = [];
function track<S extends tf.Session>(s: S): S {
  opened.push(s);
  return s;
}
afterEach(() => {
  while (opened.length) opened.pop()!.close();
  expect(tf.getDefaultSession()).toBeNull();
});

describe('default session: eval and run', () => {
  it('fails with TF\'s message when no default session is registered', async () => {
    const g = new tf.Graph();
    const { x, v } = g.asDefault(() => ({ x: tf.constant([1, 2]), v: new tf.Variable(3) }));
    expect(tf.getDefaultSession()).toBeNull();
    await expect(x.eval()).rejects.toThrow(NO_DEFAULT);
    await expect(x.eval()).rejects.toThrow(tf.errors.InvalidArgumentError);
    await expect(v.eval()).rejects.toThrow(NO_DEFAULT);
    await expect(v.initializer.run()).rejects.toThrow(/Cannot execute operation using `run\(\)`: No default session is registered/);
  });

  it('evaluates with an explicit session, feeds included', async () => {
    const g = new tf.Graph();
    const { p, y, v } = g.asDefault(() => {
      const p = tf.placeholder('float32', [null], 'p');
      return { p, y: tf.multiply(p, 2), v: new tf.Variable([1, 2, 3], { name: 'v' }) };
    });
    const sess = track(new tf.Session({ graph: g }));
    expect((await y.eval([[p, [1, 2, 3]]], sess)).toArray()).toEqual([2, 4, 6]);
    expect((await y.eval(new Map([['p:0', [5]]]), sess)).toArray()).toEqual([10]);
    await g.getOperationByName('v/Assign').run(undefined, sess);
    expect((await v.eval(sess)).toArray()).toEqual([1, 2, 3]);
    // eval is async: a bare call returns a Promise, not a value.
    const pending = v.eval(sess);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
  });

  it('asDefault makes the session default for eval()/run() and restores the previous one', async () => {
    const g = new tf.Graph();
    const { a, init, v } = g.asDefault(() => {
      const v = new tf.Variable(7, { name: 'v' });
      return { v, a: tf.add(v, 1), init: tf.globalVariablesInitializer() };
    });
    const sess = track(new tf.Session({ graph: g }));
    const out = await sess.asDefault(async () => {
      expect(tf.getDefaultSession()).toBe(sess);
      await init.run();
      return [(await a.eval()).scalar(), (await v.eval()).scalar()];
    });
    expect(out).toEqual([8, 7]);
    expect(tf.getDefaultSession()).toBeNull();
    // synchronous fn, nesting: the inner session is the default inside, the outer after.
    const other = track(new tf.Session({ graph: g }));
    sess.asDefault(() => {
      other.asDefault(() => expect(tf.getDefaultSession()).toBe(other));
      expect(tf.getDefaultSession()).toBe(sess);
    });
    // an exception still pops it.
    expect(() => sess.asDefault(() => { throw new Error('boom'); })).toThrow('boom');
    expect(tf.getDefaultSession()).toBeNull();
    // as in TF, asDefault does not close the session.
    expect((await sess.run(v)).scalar()).toBe(7);
  });

  it('tf.globalVariablesInitializer().run() and variable.eval() in the default graph', async () => {
    tf.resetDefaultGraph();
    const w = new tf.Variable([[1, 2], [3, 4]], { name: 'w' });
    const s = tf.reduceSum(w);
    track(new tf.InteractiveSession());
    await tf.globalVariablesInitializer().run();
    expect((await w.eval()).toArray()).toEqual([[1, 2], [3, 4]]);
    expect((await s.eval()).scalar()).toBe(10);
  });

  it('checks the session runs the tensor\'s graph (TF\'s messages)', async () => {
    const g1 = new tf.Graph();
    const g2 = new tf.Graph();
    const x = g1.asDefault(() => tf.constant(1));
    const s2 = track(new tf.Session({ graph: g2 }));
    await expect(x.eval(undefined, s2)).rejects.toThrow(/Cannot use the given session to evaluate tensor: the tensor's graph is different/);
    await s2.asDefault(async () => {
      await expect(x.eval()).rejects.toThrow(/Cannot use the default session to evaluate tensor: the tensor's graph is different/);
      await expect(x.op.run()).rejects.toThrow(/Cannot use the default session to execute operation/);
    });
  });

  it('Variable.load writes a value without adding ops', async () => {
    const g = new tf.Graph();
    const v = g.asDefault(() => new tf.Variable([0, 0], { name: 'v' }));
    const sess = track(new tf.InteractiveSession({ graph: g }));
    const nOps = g.getOperations().length;
    await v.load([4, 5]);
    expect((await v.eval()).toArray()).toEqual([4, 5]);
    expect(g.getOperations().length).toBe(nOps);
    expect(sess.graph).toBe(g);
  });
});

describe('InteractiveSession', () => {
  it('installs itself as the default session until closed', async () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => tf.add(tf.constant(2), tf.constant(3)));
    const sess = track(new tf.InteractiveSession({ graph: g }));
    expect(sess).toBeInstanceOf(tf.Session);
    expect(tf.getDefaultSession()).toBe(sess);
    expect((await x.eval()).scalar()).toBe(5);
    sess.close();
    expect(tf.getDefaultSession()).toBeNull();
    await expect(x.eval()).rejects.toThrow(NO_DEFAULT);
    sess.close(); // closing twice is harmless
    expect(tf.getDefaultSession()).toBeNull();
  });

  it('nests: the newest is the default; closing out of order removes only that one', () => {
    const g = new tf.Graph();
    const a = track(new tf.InteractiveSession({ graph: g }));
    const b = track(new tf.InteractiveSession({ graph: g }));
    expect(tf.getDefaultSession()).toBe(b);
    a.close(); // not the innermost: TF's InteractiveSession does not enforce nesting
    expect(tf.getDefaultSession()).toBe(b);
    const c = track(new tf.InteractiveSession({ graph: g }));
    expect(tf.getDefaultSession()).toBe(c);
    // a plain Session's asDefault nests above the interactive ones
    const d = track(new tf.Session({ graph: g }));
    d.asDefault(() => expect(tf.getDefaultSession()).toBe(d));
    c.close();
    expect(tf.getDefaultSession()).toBe(b);
    b.close();
    expect(tf.getDefaultSession()).toBeNull();
  });

  it('a closed default session refuses to run', async () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => tf.constant(1));
    const sess = track(new tf.Session({ graph: g }));
    await sess.asDefault(async () => {
      sess.close();
      await expect(x.eval()).rejects.toThrow(/closed Session/);
    });
  });
});

describe('TensorShape', () => {
  it('is what getShape() returns, with TF1\'s methods', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 784]);
      const s = x.getShape();
      expect(s).toBeInstanceOf(tf.TensorShape);
      expect(s.asList()).toEqual([null, 784]);
      expect(s.dims).toEqual([null, 784]);
      expect(s.ndims).toBe(2);
      expect(s.rank).toBe(2);
      expect(s.length).toBe(2);
      expect(s.get(1)).toBe(784);
      expect(s.get(-2)).toBeNull();
      expect([...s]).toEqual([null, 784]);
      expect(s.numElements()).toBeNull();
      expect(s.isFullyDefined()).toBe(false);
      expect(s.toString()).toBe('(?, 784)');
      expect(`${s}`).toBe('(?, 784)');
      expect(JSON.stringify(s)).toBe('[null,784]');
      // the plain array stays available as .shape, and getShape() is a snapshot
      expect(x.shape).toEqual([null, 784]);
      s.dims![1] = 1;
      expect(x.getShape().asList()).toEqual([null, 784]);

      const v = new tf.Variable(tf.zeros([2, 3]));
      expect(v.getShape().asList()).toEqual([2, 3]);
      expect(v.getShape().numElements()).toBe(6);
    });
  });

  it('formats like TF1', () => {
    expect(new tf.TensorShape([]).toString()).toBe('()');
    expect(new tf.TensorShape([3]).toString()).toBe('(3,)');
    expect(new tf.TensorShape([null]).toString()).toBe('(?,)');
    expect(new tf.TensorShape([2, 3, 4]).toString()).toBe('(2, 3, 4)');
    expect(new tf.TensorShape(null).toString()).toBe('<unknown>');
  });

  it('handles unknown rank', () => {
    const u = tf.TensorShape.unknown();
    expect(u.dims).toBeNull();
    expect(u.ndims).toBeNull();
    expect(u.numElements()).toBeNull();
    expect(u.isFullyDefined()).toBe(false);
    expect(() => u.asList()).toThrow(/asList\(\) is not defined on an unknown TensorShape/);
    expect(() => u.length).toThrow(/unknown rank/);
    expect(() => [...u]).toThrow(/unknown rank/);
    expect(u.get(5)).toBeNull();
    expect(u.isCompatibleWith([1, 2, 3])).toBe(true);
    expect(u.mergeWith([1, null]).asList()).toEqual([1, null]);
    expect(u.withRank(2).asList()).toEqual([null, null]);
    expect(u.concatenate([1]).ndims).toBeNull();
    expect(tf.placeholder('float32').getShape().ndims).toBeNull();
    expect(tf.TensorShape.unknown(3).asList()).toEqual([null, null, null]);
  });

  it('counts elements: scalars have one, any zero dim none', () => {
    expect(tf.TensorShape.scalar().numElements()).toBe(1);
    expect(tf.TensorShape.scalar().isFullyDefined()).toBe(true);
    expect(new tf.TensorShape([2, 3, 4]).numElements()).toBe(24);
    expect(new tf.TensorShape([2, 0]).numElements()).toBe(0);
  });

  it('merges and checks compatibility as TF does', () => {
    const a = new tf.TensorShape([null, 3]);
    expect(a.isCompatibleWith([5, 3])).toBe(true);
    expect(a.isCompatibleWith(new tf.TensorShape([5, null]))).toBe(true);
    expect(a.isCompatibleWith([5, 4])).toBe(false);
    expect(a.isCompatibleWith([3])).toBe(false);
    expect(a.isCompatibleWith(null)).toBe(true);
    expect(a.mergeWith([5, null]).asList()).toEqual([5, 3]);
    expect(a.mergeWith(new tf.TensorShape(null)).asList()).toEqual([null, 3]);
    expect(() => a.mergeWith([5, 4])).toThrow('Shapes (?, 3) and (5, 4) are not compatible');
    expect(() => a.mergeWith([3])).toThrow('Shapes (?, 3) and (3,) are not compatible');
    expect(() => a.mergeWith([5, 4])).toThrow(tf.errors.InvalidArgumentError);
    expect(() => a.assertIsCompatibleWith([1, 2])).toThrow(/are incompatible/);
    expect(() => a.assertIsFullyDefined()).toThrow(/not fully defined/);
    expect(() => a.withRank(3)).toThrow(/not compatible/);
    expect(() => a.assertHasRank(3)).toThrow(/must have rank 3/);
    expect(a.mostSpecificCompatibleShape([2, 3]).asList()).toEqual([null, 3]);
    expect(a.concatenate([7]).asList()).toEqual([null, 3, 7]);
    expect(a.equals([null, 3])).toBe(true);
    expect(a.equals([1, 3])).toBe(false);
    // merging does not change the receiver
    expect(a.asList()).toEqual([null, 3]);
    // -1 reads as unknown (TF's as_shape of a list with -1 is an error in Python; weir's shapes use null)
    expect(new tf.TensorShape([-1, 2]).asList()).toEqual([null, 2]);
    expect(() => new tf.TensorShape([1.5])).toThrow(/non-negative integer/);
  });
});

describe('variables and training', () => {
  it('tf.allVariables is globalVariables', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = new tf.Variable(1, { name: 'a' });
      const b = new tf.Variable(2, { name: 'b', trainable: false });
      expect(tf.allVariables()).toEqual([a, b]);
      expect(tf.allVariables()).toEqual(tf.globalVariables());
    });
  });

  it('optimizer.minimize(variable) trains the variable (loss = its value, gradient one)', async () => {
    const g = new tf.Graph();
    const { v, train } = g.asDefault(() => {
      const v = new tf.Variable(5, { name: 'v' });
      return { v, train: new tf.train.GradientDescentOptimizer(0.5).minimize(v) };
    });
    const sess = track(new tf.InteractiveSession({ graph: g }));
    await g.asDefault(() => tf.globalVariablesInitializer()).run();
    for (let i = 0; i < 4; i++) await train.run();
    expect((await v.eval()).scalar()).toBeCloseTo(3, 6);
    expect(sess.graph).toBe(g);
  });

  it('minimize(variable) with a momentum optimizer and computeGradients(variable)', async () => {
    const g = new tf.Graph();
    const { v, train, grads } = g.asDefault(() => {
      const v = new tf.Variable([1, 2], { name: 'v' });
      const opt = new tf.train.MomentumOptimizer(0.1, 0.9);
      return { v, train: opt.minimize(v), grads: opt.computeGradients(v) };
    });
    expect(grads).toHaveLength(1);
    expect(grads[0]![1]).toBe(v);
    const sess = track(new tf.Session({ graph: g }));
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    expect((await sess.run(grads[0]![0] as tf.Tensor)).toArray()).toEqual([1, 1]);
    await sess.run(train);
    await sess.run(train);
    // momentum: accum 1 then 1.9; v -= 0.1 * accum
    const got = (await sess.run(v)).toArray() as number[];
    expect(got[0]).toBeCloseTo(1 - 0.1 - 0.19, 5);
    expect(got[1]).toBeCloseTo(2 - 0.1 - 0.19, 5);
  });

  it('minimize still rejects what is neither a Tensor nor a Variable', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      new tf.Variable(1);
      const opt = new tf.train.GradientDescentOptimizer(0.1);
      expect(() => opt.minimize(3 as unknown as tf.Tensor)).toThrow(/loss must be a Tensor or a Variable/);
    });
  });
});

describe('Saver options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-ergonomics-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts an options-only object: new Saver({ maxToKeep })', async () => {
    const g = new tf.Graph();
    const { v, saver } = g.asDefault(() => {
      const v = new tf.Variable([1, 2], { name: 'v' });
      return { v, saver: new tf.train.Saver({ maxToKeep: 2 }) };
    });
    expect(saver.maxToKeep).toBe(2);
    const sess = track(new tf.Session({ graph: g }));
    await sess.run(v.initializer);
    for (let step = 0; step < 4; step++) await saver.save(sess, `${dir}/a`, { globalStep: step });
    expect(saver.lastCheckpoints).toEqual([`${dir}/a-2`, `${dir}/a-3`]);
    await v.load([9, 9], sess);
    await saver.restore(sess, `${dir}/a-3`);
    expect((await v.eval(sess)).toArray()).toEqual([1, 2]);
  });

  it('takes varList and name among the options (TF\'s keyword style)', async () => {
    const g = new tf.Graph();
    const { a, saver } = g.asDefault(() => {
      const a = new tf.Variable(1, { name: 'a' });
      new tf.Variable(2, { name: 'b' });
      return { a, saver: new tf.train.Saver({ varList: [a], maxToKeep: null, name: 'mysave' }) };
    });
    expect(saver.maxToKeep).toBe(0);
    expect(g.getOperationByName('mysave/restore_all').type).toBe('NoOp');
    const sess = track(new tf.Session({ graph: g }));
    await sess.run(g.asDefault(() => tf.variablesInitializer([a])));
    const path = await saver.save(sess, `${dir}/b`);
    expect(await tf.train.listVariables(path)).toEqual([['a', []]]);
  });

  it('keeps reading variable maps and lists as before', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const w = new tf.Variable(1, { name: 'w' });
      // a checkpoint key that happens to be an option name, holding a variable: a map
      expect(new tf.train.Saver({ name: w }).maxToKeep).toBe(5);
      expect(new tf.train.Saver([w], { maxToKeep: 1 }).maxToKeep).toBe(1);
      expect(new tf.train.Saver(null, { maxToKeep: 3 }).maxToKeep).toBe(3);
      expect(new tf.train.Saver(undefined, { varList: [w] }).maxToKeep).toBe(5);
    });
  });

  it('says how to pass options when the object mixes them up', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const w = new tf.Variable(1, { name: 'w' });
      const S = tf.train.Saver as unknown as new (...args: unknown[]) => tf.train.Saver;
      expect(() => new S({ w, maxToKeep: 3 })).toThrow(
        /Saver: 3 \(under key 'maxToKeep'\) is not a variable: 'maxToKeep' is a Saver option.*new tf\.train\.Saver\(\{ maxToKeep: 3 \}\)/,
      );
      expect(() => new S({ max_to_keep: 3 })).toThrow(/a \{name: variable\} map must hold only variables; pass options as/);
      expect(() => new S({ sharded: true })).toThrow(/'sharded' is a TF Saver option weir does not support/);
      expect(() => new S({ maxToKeep: 3 }, { name: 'x' })).toThrow(/options given twice/);
      expect(() => new S([w], { varList: [w] })).toThrow(/varList given twice/);
      expect(() => new S(w)).toThrow(/first argument must be an array/);
    });
  });
});
