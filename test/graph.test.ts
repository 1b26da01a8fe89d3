import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';

describe('Graph', () => {
  it('names ops uniquely the TF way', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = tf.constant(1);
      const b = tf.constant(2);
      const c = tf.constant(3, undefined, undefined, 'Const_1_x');
      expect([a.op.name, b.op.name, c.op.name]).toEqual(['Const', 'Const_1', 'Const_1_x']);
      // An explicit name that is taken is made unique too; case-insensitively, as TF does.
      expect(tf.identity(a, 'x').op.name).toBe('x');
      expect(tf.identity(a, 'x').op.name).toBe('x_1');
      expect(tf.identity(a, 'X').op.name).toBe('X_2');
      expect(tf.identity(a, 'x_1').op.name).toBe('x_1_1');
    });
  });

  it('nests name scopes, uniquifies them, and re-enters an absolute scope', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const names: string[] = [];
      tf.nameScope('layer1', (s) => {
        expect(s).toBe('layer1/');
        names.push(tf.constant(1).op.name);
        tf.nameScope('inner', () => names.push(tf.constant(1).op.name));
      });
      tf.nameScope('layer1', (s) => {
        expect(s).toBe('layer1_1/');
        names.push(tf.constant(1).op.name);
      });
      tf.nameScope('layer1/', () => names.push(tf.constant(1).op.name));
      tf.nameScope('a', () => tf.nameScope(null, () => names.push(tf.constant(1).op.name)));
      expect(names).toEqual(['layer1/Const', 'layer1/inner/Const', 'layer1_1/Const', 'layer1/Const_1', 'Const']);
      expect(g.getNameScope()).toBe('');
    });
  });

  it('looks up tensors and operations by name', () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => tf.placeholder('float32', [null, 3], 'x'));
    expect(g.getTensorByName('x:0')).toBe(x);
    expect(g.getOperationByName('x')).toBe(x.op);
    expect(g.getOperations()).toEqual([x.op]);
    expect(() => g.getTensorByName('x')).toThrow(tf.errors.InvalidArgumentError);
    expect(() => g.getTensorByName('x:1')).toThrow(/only has 1 outputs/);
    expect(() => g.getTensorByName('y:0')).toThrow(tf.errors.NotFoundError);
    expect(() => g.getOperationByName('y')).toThrow(tf.errors.NotFoundError);
  });

  it('exposes tensor and operation properties', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('int32', [2, null], 'x');
      expect(x.name).toBe('x:0');
      expect(x.valueIndex).toBe(0);
      expect(x.dtype).toBe('int32');
      expect(x.shape).toEqual([2, null]);
      expect(x.getShape().asList()).toEqual([2, null]);
      expect(x.op.type).toBe('Placeholder');
      expect(x.op.getAttr('dtype')).toBe('int32');
      expect(x.op.getAttr('shape')).toEqual([2, null]);
      expect(() => x.op.getAttr('nope')).toThrow(tf.errors.InvalidArgumentError);
      const y = tf.identity(x);
      expect(y.op.inputs).toEqual([x]);
      expect(x.consumers()).toEqual([y.op]);
      expect(tf.placeholder('float32').shape).toBeNull();
      x.setShape([2, 5]);
      expect(x.shape).toEqual([2, 5]);
      expect(() => x.setShape([3, 5])).toThrow(tf.errors.InvalidArgumentError);
    });
  });

  it('adds control inputs inside controlDependencies, nested and cleared', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = tf.noOp('a');
      const b = tf.constant(1, undefined, undefined, 'b');
      const [c, d, e] = tf.controlDependencies([a], () => {
        const c = tf.constant(2, undefined, undefined, 'c');
        const d = tf.controlDependencies([b], () => tf.constant(3, undefined, undefined, 'd'));
        const e = tf.controlDependencies(null, () => tf.constant(4, undefined, undefined, 'e'));
        return [c, d, e];
      });
      expect(c.op.controlInputs).toEqual([a]);
      expect(d.op.controlInputs).toEqual([a, b.op]);
      expect(e.op.controlInputs).toEqual([]);
      // A control input that is already a data input is not repeated.
      const f = tf.controlDependencies([b], () => tf.identity(b));
      expect(f.op.controlInputs).toEqual([]);
    });
  });

  it('keeps collections and GraphKeys', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      tf.addToCollection('things', 1);
      tf.addToCollection('things', 2);
      expect(tf.getCollection('things')).toEqual([1, 2]);
      expect(tf.getCollection('nothing')).toEqual([]);
      const ref = tf.getCollectionRef<number>('things');
      ref.push(3);
      expect(tf.getCollection('things')).toEqual([1, 2, 3]);
      const v = new tf.Variable(1, { name: 'scope/v' });
      new tf.Variable(1, { name: 'w', trainable: false });
      expect(tf.getCollection(tf.GraphKeys.GLOBAL_VARIABLES).length).toBe(2);
      expect(tf.getCollection(tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual([v]);
      expect(tf.getCollection(tf.GraphKeys.GLOBAL_VARIABLES, 'scope')).toEqual([v]);
    });
    expect(tf.GraphKeys.UPDATE_OPS).toBe('update_ops');
    expect(tf.GraphKeys.SUMMARIES).toBe('summaries');
  });

  it('has a default graph that can be replaced and reset', () => {
    tf.resetDefaultGraph();
    const g0 = tf.getDefaultGraph();
    const g1 = new tf.Graph();
    g1.asDefault(() => expect(tf.getDefaultGraph()).toBe(g1));
    expect(tf.getDefaultGraph()).toBe(g0);
    tf.resetDefaultGraph();
    expect(tf.getDefaultGraph()).not.toBe(g0);
    expect(() => g1.asDefault(() => tf.resetDefaultGraph())).toThrow();
    expect(tf.getDefaultGraph()).not.toBe(g1);
  });

  it('rejects inputs from another graph', () => {
    const g1 = new tf.Graph();
    const g2 = new tf.Graph();
    const a = g1.asDefault(() => tf.constant(1));
    expect(() => g2.asDefault(() => tf.identity(a))).toThrow(/different graph/);
  });

  it('converts JS values, NDArrays and variables where tensors are expected', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(tf.identity(3).dtype).toBe('float32');
      expect(tf.identity(true).dtype).toBe('bool');
      expect(tf.identity(new Int32Array([1, 2])).dtype).toBe('int32');
      expect(tf.identity(new BigInt64Array([1n])).dtype).toBe('int64');
      expect(tf.identity([[1, 2], [3, 4]]).shape).toEqual([2, 2]);
      const v = new tf.Variable([1, 2, 3], { name: 'v' });
      expect(tf.identity(v).op.inputs[0]!.name).toBe('v/read:0');
      expect(() => tf.identity([[1, 2], [3]] as never)).toThrow(tf.errors.InvalidArgumentError);
    });
  });

  it('tf.constant fills a shape from a scalar and reshapes flat values', async () => {
    const g = new tf.Graph();
    const [a, b, c] = g.asDefault(() => [
      tf.constant(7, 'int32', [2, 3]),
      tf.constant([1, 2, 3, 4, 5, 6], 'float32', [3, 2]),
      tf.constant(5n),
    ]);
    expect(a.shape).toEqual([2, 3]);
    expect(b.shape).toEqual([3, 2]);
    expect(c.dtype).toBe('int64');
    const sess = new tf.Session({ graph: g });
    const [av, bv] = await sess.run([a, b]);
    expect(av.toArray()).toEqual([[7, 7, 7], [7, 7, 7]]);
    expect(bv.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(() => g.asDefault(() => tf.constant([1, 2, 3], 'float32', [2, 2]))).toThrow(tf.errors.InvalidArgumentError);
    expect(() => g.asDefault(() => tf.constant([1.5], 'int32'))).toThrow(tf.errors.InvalidArgumentError);
  });
});

describe('creation sites', () => {
  it('name the user line for ops made deep inside the library (tf.layers, optimizers)', () => {
    const g = new tf.Graph();
    const { h, train } = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3]);
      const h = tf.layers.dense(x, 4, { activation: tf.nn.relu });
      const train = new tf.train.AdamOptimizer(0.1).minimize(tf.reduceSum(h));
      return { h, train };
    });
    expect(h.op.createdAt).toMatch(/^test[\\/]graph\.test\.ts:\d+$/);
    expect(train.createdAt).toMatch(/^test[\\/]graph\.test\.ts:\d+$/);
    const unnamed = g.getOperations().filter((op) => op.createdAt === undefined);
    expect(unnamed.map((op) => op.name)).toEqual([]);
  });

  it('attr lookups are by own property only', () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => tf.placeholder('float32', [2]));
    expect(x.op.hasAttr('constructor')).toBe(false);
    expect(() => x.op.getAttr('toString')).toThrow(tf.errors.InvalidArgumentError);
  });
});
