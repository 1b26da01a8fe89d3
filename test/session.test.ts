import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';

function graph<T>(fn: () => T): [tf.Graph, T] {
  const g = new tf.Graph();
  return [g, g.asDefault(fn)];
}

describe('Session.run', () => {
  it('returns results in the structure of the fetches', async () => {
    const [g, { a, b, n }] = graph(() => ({ a: tf.constant(1), b: tf.constant([2, 3]), n: tf.noOp('n') }));
    const sess = new tf.Session({ graph: g });
    const r = await sess.run({ x: a, rest: [b, n, { deep: 'Const:0' }], op: 'n' });
    expect(r.x.toArray()).toBe(1);
    expect((r.rest[0] as tf.NDArray).toArray()).toEqual([2, 3]);
    expect(r.rest[1]).toBeNull();
    expect(((r.rest[2] as { deep: tf.NDArray }).deep).toArray()).toBe(1);
    expect(r.op).toBeNull();
    const single = await sess.run(b);
    expect(single).toBeInstanceOf(tf.NDArray);
    expect(single.shape).toEqual([2]);
    expect(await sess.run(n)).toBeNull();
    // The same tensor fetched twice is computed once and returned twice.
    const [p, q] = await sess.run([a, a]);
    expect(p.toArray()).toBe(1);
    expect(q.toArray()).toBe(1);
  });

  it('takes feeds as a Map or pairs, keyed by tensor or name, of many value kinds', async () => {
    const [g, { x, y, f }] = graph(() => {
      const x = tf.placeholder('float32', [null, 2], 'x');
      const y = tf.placeholder('int32', [], 'y');
      const f = tf.placeholder('bool', [2], 'f');
      return { x, y, f };
    });
    const sess = new tf.Session({ graph: g });
    const ix = tf.identity;
    const [xo, yo, fo] = g.asDefault(() => [ix(x), ix(y), ix(f)]);
    const r1 = await sess.run([xo, yo, fo], new Map<tf.Tensor | string, tf.NDArray | number | boolean[] | number[][]>([
      [x, [[1, 2], [3, 4]]],
      ['y:0', 5],
      [f, [true, false]],
    ]));
    expect(r1[0].toArray()).toEqual([[1, 2], [3, 4]]);
    expect(r1[1].toArray()).toBe(5);
    expect(r1[2].toArray()).toEqual([true, false]);
    const r2 = await sess.run(xo, [[x, new Float32Array([1, 2, 3, 4, 5, 6])]]);
    expect(r2.shape).toEqual([3, 2]);
    const r3 = await sess.run(xo, [['x', new tf.NDArray(new Float32Array([9, 8]), [1, 2])]]);
    expect(r3.toArray()).toEqual([[9, 8]]);
  });

  it('rejects fed values of the wrong shape or dtype instead of casting or broadcasting', async () => {
    const [g, { x, y, xo, yo }] = graph(() => {
      const x = tf.placeholder('float32', [null, 2], 'x');
      const y = tf.placeholder('int32', [2], 'y');
      return { x, y, xo: tf.identity(x), yo: tf.identity(y) };
    });
    const sess = new tf.Session({ graph: g });
    await expect(sess.run(xo, [[x, [1, 2]]])).rejects.toThrow(/Cannot feed value of shape \[2\] for Tensor 'x:0', which has shape \[\?,2\]/);
    await expect(sess.run(xo, [[x, new tf.NDArray(new Int32Array(2), [1, 2])]])).rejects.toThrow(tf.errors.InvalidArgumentError);
    await expect(sess.run(yo, [[y, [1.5, 2]]])).rejects.toThrow(tf.errors.InvalidArgumentError);
    await expect(sess.run(yo, [[y, new Float32Array([1, 2])]])).rejects.toThrow(/int32/);
    await expect(sess.run(xo, [[x, new Float32Array(3)]])).rejects.toThrow(tf.errors.InvalidArgumentError);
  });

  it('prunes to what the fetches need', async () => {
    const [g, { a, b }] = graph(() => {
      const x = tf.placeholder('float32', [], 'x');
      return { a: tf.constant(2), b: tf.identity(x) };
    });
    const sess = new tf.Session({ graph: g });
    // x is not needed for a: no feed required.
    expect((await sess.run(a)).toArray()).toBe(2);
    // but it is for b, and the error names it, its dtype and shape.
    await expect(sess.run(b)).rejects.toThrow(tf.errors.InvalidArgumentError);
    await expect(sess.run(b)).rejects.toThrow(/You must feed a value for placeholder tensor 'x' with dtype float and shape \[\]/);
  });

  it('feeding an intermediate tensor replaces it and skips what computes it', async () => {
    const [g, { x, h, out }] = graph(() => {
      const x = tf.placeholder('float32', [], 'x');
      const h = tf.identity(x, 'h');
      return { x, h, out: tf.identity(h, 'out') };
    });
    void x;
    const sess = new tf.Session({ graph: g });
    expect((await sess.run(out, [[h, 4]])).toArray()).toBe(4);
  });

  it('compiles once per (fetches, feeds, fed shapes)', async () => {
    const [g, { x, y }] = graph(() => {
      const x = tf.placeholder('float32', [null], 'x');
      return { x, y: tf.identity(x) };
    });
    const sess = new tf.Session({ graph: g });
    const p1 = await sess.compile(y, [[x, [1, 2]]]);
    const p2 = await sess.compile(y, [[x, [3, 4]]]);
    const p3 = await sess.compile(y, [[x, [1, 2, 3]]]);
    expect(p1).toBe(p2);
    expect(p3).not.toBe(p1);
    expect(p1.toString()).toMatch(/Identity/);
    expect(p1.stats.kernels).toBe(1);
  });

  it('accepts fetches by name and errors on unknown names', async () => {
    const [g] = graph(() => tf.constant(3, undefined, undefined, 'c'));
    const sess = new tf.Session({ graph: g });
    expect((await sess.run('c:0'))!.toArray()).toBe(3);
    expect(await sess.run('c')).toBeNull();
    await expect(sess.run('nope:0')).rejects.toThrow(tf.errors.NotFoundError);
  });

  it('rejects fetches from another graph and use after close', async () => {
    const [, a] = graph(() => tf.constant(1));
    const [g2] = graph(() => tf.constant(2));
    const sess = new tf.Session({ graph: g2 });
    await expect(sess.run(a)).rejects.toThrow(/not an element of this session's graph/);
    sess.close();
    await expect(sess.run('Const:0')).rejects.toThrow(tf.errors.FailedPreconditionError);
  });

  it('refuses to fetch a variant (a TensorArray handle) with an InvalidArgumentError naming it', async () => {
    const [g, { ta, stacked }] = graph(() => {
      const ta = new tf.TensorArray('float32', { size: 2 }).unstack(tf.constant([1, 2]));
      return { ta, stacked: ta.stack() };
    });
    const sess = new tf.Session({ graph: g });
    const err = await sess.run(ta.flow).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(String(err)).toMatch(new RegExp(`Cannot fetch ${ta.flow.name}: it is a variant`));
    expect(Array.from((await sess.run(stacked))!.data as Float32Array)).toEqual([1, 2]);
  });

  it('returns copies: mutating a result never changes the graph or a variable', async () => {
    const [g, { c, v, init }] = graph(() => {
      const c = tf.constant([1, 2]);
      const v = new tf.Variable([1, 2], { name: 'v' });
      return { c, v, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(init);
    const cv = await sess.run(c);
    (cv.data as Float32Array)[0] = 100;
    const vv = await sess.run(v);
    (vv.data as Float32Array)[0] = 100;
    expect((await sess.run(c)).toArray()).toEqual([1, 2]);
    expect((await sess.run(v)).toArray()).toEqual([1, 2]);
  });
});

describe('Variables', () => {
  it('are named as TF names them', () => {
    const [, v] = graph(() => new tf.Variable(tf.zeros([2, 3]), { name: 'W' }));
    expect(v.name).toBe('W:0');
    expect(v.op.type).toBe('VariableV2');
    expect(v.initializer.name).toBe('W/Assign');
    expect(v.initializer.type).toBe('Assign');
    expect(v.value().name).toBe('W/read:0');
    expect(v.shape).toEqual([2, 3]);
    const [, w] = graph(() => {
      new tf.Variable(1, { name: 'W' });
      return new tf.Variable(1, { name: 'W' });
    });
    expect(w.name).toBe('W_1:0');
  });

  it('fail with FailedPreconditionError naming the variable when read uninitialized', async () => {
    const [g, { v, y }] = graph(() => {
      const v = new tf.Variable([1, 2], { name: 'weights' });
      return { v, y: tf.identity(v) };
    });
    const sess = new tf.Session({ graph: g });
    await expect(sess.run(y)).rejects.toThrow(tf.errors.FailedPreconditionError);
    await expect(sess.run(y)).rejects.toThrow(/Attempting to use uninitialized value weights/);
    await sess.run(v.initializer);
    expect((await sess.run(y)).toArray()).toEqual([1, 2]);
  });

  it('assign, assignAdd, assignSub and tf.assign update the value', async () => {
    const [g, { v, a, add, sub, ta }] = graph(() => {
      const v = new tf.Variable([1, 2], { name: 'v' });
      return { v, a: v.assign([10, 20]), add: v.assignAdd([1, 1]), sub: v.assignSub([5, 5]), ta: tf.assign(v, [0, 0]) };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(v.initializer);
    expect((await sess.run(a)).toArray()).toEqual([10, 20]);
    expect((await sess.run(add)).toArray()).toEqual([11, 21]);
    expect((await sess.run(sub)).toArray()).toEqual([6, 16]);
    expect((await sess.run(v)).toArray()).toEqual([6, 16]);
    await sess.run(ta);
    expect((await sess.run(v)).toArray()).toEqual([0, 0]);
  });

  it('live in the session: two sessions over one graph are independent', async () => {
    const [g, { v, inc, init }] = graph(() => {
      const v = new tf.Variable(0, { name: 'counter' });
      return { v, inc: v.assignAdd(1), init: tf.globalVariablesInitializer() };
    });
    const s1 = new tf.Session({ graph: g });
    const s2 = new tf.Session({ graph: g });
    await s1.run(init);
    await s2.run(init);
    await s1.run(inc);
    await s1.run(inc);
    await s2.run(inc);
    expect((await s1.run(v)).toArray()).toBe(2);
    expect((await s2.run(v)).toArray()).toBe(1);
  });

  it('int64 flows through variables, Assign and Identity', async () => {
    const [g, { v, a, r }] = graph(() => {
      const v = new tf.Variable(tf.constant([5000000000n, -3n]), { name: 'big' });
      return { v, a: v.assignAdd(tf.constant([1n, 1n])), r: tf.identity(v) };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(v.initializer);
    await sess.run(a);
    const out = await sess.run(r);
    expect(out.dtype).toBe('int64');
    expect(out.toArray()).toEqual([5000000001n, -2n]);
  });

  it('rejects assigning a value of another shape or dtype at construction', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const v = new tf.Variable([1, 2], { name: 'v' });
      expect(() => v.assign([1, 2, 3])).toThrow(/Assign op 'Assign'.*\[3\].*\[2\]/);
      expect(() => v.assign(tf.constant([1, 2], 'int32'))).toThrow(tf.errors.InvalidArgumentError);
    });
  });

  it('initializers cover the listed variables and are grouped', async () => {
    const [g, { a, b, init }] = graph(() => {
      const a = new tf.Variable(1, { name: 'a' });
      const b = new tf.Variable(2, { name: 'b' });
      return { a, b, init: tf.variablesInitializer([a]) };
    });
    expect(g.asDefault(() => tf.globalVariables())).toEqual([a, b]);
    const sess = new tf.Session({ graph: g });
    await sess.run(init);
    expect((await sess.run(a)).toArray()).toBe(1);
    await expect(sess.run(b)).rejects.toThrow(/uninitialized value b/);
  });
});

describe('errors', () => {
  it('name the op and where the user created it', async () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => {
      const v = new tf.Variable(1, { name: 'lost' });
      return tf.identity(v, 'reader');
    });
    const sess = new tf.Session({ graph: g });
    const err = await sess.run(y).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(tf.errors.FailedPreconditionError);
    expect((err as tf.errors.OpError).opName).toBe('lost');
    expect((err as Error).message).toMatch(/VariableV2 op 'lost' \(created at test[/\\]session\.test\.ts:\d+\)/);
  });
});

describe('the plan cache', () => {
  it('keeps at most maxCachedPlans plans, dropping the least recently used, and recompiles them when needed', async () => {
    const g = new tf.Graph();
    const { x, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [null], 'x');
      return { x, y: tf.multiply(x, 2) };
    });
    const sess = new tf.Session({ graph: g, maxCachedPlans: 2 });
    const run = async (n: number) => Array.from((await sess.run(y, [[x, new Float32Array(n).fill(n)]])).data as Float32Array);
    const plans = () => (sess as unknown as { plans: { size: number } }).plans.size;
    expect(await run(1)).toEqual([2]);
    expect(await run(2)).toEqual([4, 4]);
    const p1 = await sess.compile(y, [[x, new Float32Array(1)]]); // shape [1] is now the most recent
    expect(await run(3)).toEqual([6, 6, 6]); // drops shape [2]
    expect(plans()).toBe(2);
    expect(await sess.compile(y, [[x, new Float32Array(1)]])).toBe(p1);
    const p2 = await sess.compile(y, [[x, new Float32Array(2)]]);
    expect(await run(2)).toEqual([4, 4]);
    expect(await sess.compile(y, [[x, new Float32Array(2)]])).toBe(p2);
    expect(plans()).toBe(2);
    expect(() => new tf.Session({ graph: g, maxCachedPlans: 0 })).toThrow(tf.errors.InvalidArgumentError);
  });
});

describe('control dependencies on fed placeholders', () => {
  it('are satisfied by the feed, as in TensorFlow; unfed, the placeholder still must be fed', async () => {
    const g = new tf.Graph();
    const { x, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [2], 'x');
      const y = tf.controlDependencies([x], () => tf.add(tf.constant([1, 2]), 1));
      return { x, y };
    });
    const sess = new tf.Session({ graph: g });
    expect(Array.from((await sess.run(y, [[x, [3, 4]]])).data as Float32Array)).toEqual([2, 3]);
    await expect(sess.run(y)).rejects.toThrow(/You must feed a value for placeholder tensor 'x'/);
  });
});
