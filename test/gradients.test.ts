import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose } from './helpers.js';
import { registerOp } from '../ops/registry.js';
import { registerCpuKernel } from '../runtime/cpu/registry.js';

function inGraph<T>(fn: () => T): [tf.Session, T] {
  const g = new tf.Graph();
  const r = g.asDefault(fn);
  return [new tf.Session({ graph: g }), r];
}

describe('tf.gradients', () => {
  it('sums the gradients of several ys and aggregates several paths with AddN', async () => {
    const [sess, { gx, addN }] = inGraph(() => {
      const x = tf.constant([1, 2, 3]);
      const y1 = tf.multiply(x, x); // dy1/dx = 2x
      const y2 = tf.multiply(x, 3); // dy2/dx = 3
      const [gx] = tf.gradients([y1, y2], [x]);
      const ops = tf.getDefaultGraph().getOperations();
      return { gx: gx!, addN: ops.some((o) => o.type === 'AddN' && o.name.startsWith('gradients')) };
    });
    expectClose(await sess.run(gx), [5, 7, 9]);
    expect(addN).toBe(true);
  });

  it('gives null for unconnected xs, or zeros when asked', async () => {
    const [sess, { a, b, z }] = inGraph(() => {
      const x = tf.constant([1, 2]);
      const u = tf.constant([5, 6, 7]);
      const y = tf.multiply(x, 2);
      const [a, b] = tf.gradients(y, [x, u]);
      const [, z] = tf.gradients(y, [x, u], undefined, { unconnectedGradients: 'zero' });
      return { a: a!, b, z: z! };
    });
    expect(b).toBeNull();
    expectClose(await sess.run(a), [2, 2]);
    expectClose(await sess.run(z), [0, 0, 0]);
  });

  it('stops at tf.stopGradient and at stopGradients', async () => {
    const [sess, { g1, g2 }] = inGraph(() => {
      const x = tf.constant(3);
      const h = tf.multiply(x, x);
      const y = tf.add(tf.stopGradient(h), x); // dy/dx = 1
      const [g1] = tf.gradients(y, x);
      const y2 = tf.add(h, x);
      const [g2] = tf.gradients(y2, x, undefined, { stopGradients: [h] }); // 1
      return { g1: g1!, g2: g2! };
    });
    expectClose(await sess.run(g1), 1);
    expectClose(await sess.run(g2), 1);
  });

  it('gives integer tensors no gradient', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const i = tf.constant([1, 2], 'int32');
      const f = tf.cast(i, 'float32');
      const y = tf.multiply(f, f);
      expect(tf.gradients(y, i)).toEqual([null]);
    });
  });

  it('seeds the backward pass with gradYs', async () => {
    const [sess, gx] = inGraph(() => {
      const x = tf.constant([1, 2]);
      const y = tf.multiply(x, x);
      return tf.gradients(y, x, tf.constant([10, 100]))[0]!;
    });
    expectClose(await sess.run(gx), [20, 400]);
  });

  it('works with variables and names ops under gradients/', async () => {
    const [sess, { gw, w }] = inGraph(() => {
      const w = new tf.Variable([[1, 2], [3, 4]], { name: 'W' });
      const x = tf.constant([[1, 1]]);
      const loss = tf.reduceSum(tf.matmul(x, w));
      const [gw] = tf.gradients(loss, [w]);
      return { gw: gw!, w };
    });
    expect(gw.op.name.startsWith('gradients/')).toBe(true);
    await sess.run(w.initializer);
    expectClose(await sess.run(gw), [1, 1, 1, 1]);
  });

  it('computes second derivatives and Hessian-vector products', async () => {
    const [sess, { d2, hv }] = inGraph(() => {
      const x = tf.constant([0.5, -1.0]);
      const y = tf.reduceSum(tf.multiply(tf.multiply(x, x), x)); // sum x^3
      const [g] = tf.gradients(y, x); // 3x^2
      const [d2] = tf.gradients(g!, x); // 6x
      const v = tf.constant([1, 2]);
      const [hv] = tf.gradients(tf.reduceSum(tf.multiply(g!, v)), x); // H v = 6x * v
      return { d2: d2!, hv: hv! };
    });
    expectClose(await sess.run(d2), [3, -6]);
    expectClose(await sess.run(hv), [3, -12]);
  });

  it('passes no gradient through integer-valued ops', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.constant([1.5, 2.5]);
      expect(tf.gradients(tf.cast(tf.argmax(x, 0), 'float32'), x)).toEqual([null]);
    });
  });

  it('throws, naming the op, for an op whose gradient is not defined', () => {
    // Registered only in this test file's module instance (vitest isolates files).
    registerOp({ type: 'TestNoGradient', inputs: ['x'], shape: (ctx) => [{ dtype: 'float32', shape: ctx.inputs[0]!.shape }] });
    registerCpuKernel('TestNoGradient', (inputs) => [inputs[0]!]);
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.constant([1, 2]);
      const y = g.createOp('TestNoGradient', [x], {}, { name: 'mystery' }).outputs[0]!;
      expect(() => tf.gradients(y, x)).toThrow(tf.errors.NotFoundError);
      expect(() => tf.gradients(y, x)).toThrow(/No gradient defined for operation 'mystery' \(op type: TestNoGradient\)/);
    });
  });

  it('rejects gradYs of the wrong shape', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.constant([1, 2]);
      expect(() => tf.gradients(tf.multiply(x, 2), x, tf.constant([1, 2, 3]))).toThrow(tf.errors.InvalidArgumentError);
    });
  });
});
