// The TensorList ops weir's own tf.TensorArray does not emit but TensorFlow graphs may hold:
// TensorListScatter, TensorListScatterV2, TensorListResize and the V1 TensorListConcat, with their
// gradients. Values are checked against plain arrays; gradients against the rows they come from.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose } from './helpers.js';

type T = tf.Tensor;
const i32 = (v: number[]) => tf.constant(Int32Array.from(v), 'int32', [v.length]);
const elementShape = (s: number[]) => tf.constant(Int32Array.from(s), 'int32', [s.length]);

function op(type: string, inputs: T[], attrs: Record<string, unknown>, n = 1): T[] {
  return tf.getDefaultGraph().createOp(type, inputs, attrs as never).outputs.slice(0, n);
}
const stack = (l: T, shape: number[]) => op('TensorListStack', [l, elementShape(shape)], { element_dtype: 'float32', num_elements: -1 })[0]!;
const length = (l: T) => op('TensorListLength', [l], {})[0]!;

async function run<R>(build: () => R): Promise<[tf.Session, R]> {
  const g = new tf.Graph();
  const r = g.asDefault(build);
  return [new tf.Session({ graph: g }), r];
}

const x6 = () => tf.constant(Float32Array.from([1, 2, 3, 4, 5, 6]), 'float32', [3, 2]);

describe('TensorListScatter and TensorListScatterV2', () => {
  it('scatter rows into a new list as long as the largest index needs; unset rows read as zeros', async () => {
    const [sess, r] = await run(() => {
      const l = op('TensorListScatter', [x6(), i32([2, 0, 4]), elementShape([2])], { element_dtype: 'float32', shape_type: 'int32' })[0]!;
      return { n: length(l), s: stack(l, [2]) };
    });
    const [n, s] = await sess.run([r.n, r.s]);
    expect(n.data[0]).toBe(5);
    expectClose(s, [3, 4, 0, 0, 1, 2, 0, 0, 5, 6], { shape: [5, 2] });
    sess.close();
  });

  it('V2 makes num_elements elements (-1: just enough), and refuses an index past it', async () => {
    const [sess, r] = await run(() => {
      const v2 = (n: number) =>
        op('TensorListScatterV2', [x6(), i32([2, 0, 4]), elementShape([2]), tf.constant(n, 'int32')], { element_dtype: 'float32', shape_type: 'int32' })[0]!;
      return { six: stack(v2(6), [2]), auto: length(v2(-1)), short: length(v2(3)) };
    });
    const [six, auto] = await sess.run([r.six, r.auto]);
    expectClose(six, [3, 4, 0, 0, 1, 2, 0, 0, 5, 6, 0, 0], { shape: [6, 2] });
    expect(auto.data[0]).toBe(5);
    await expect(sess.run(r.short)).rejects.toThrow(/index \(4\) is not below num_elements \(3\)/);
    sess.close();
  });

  it('a negative index and a count mismatch are InvalidArgumentErrors', async () => {
    const [sess, r] = await run(() => ({
      neg: length(op('TensorListScatter', [x6(), i32([0, -1, 2]), elementShape([2])], { element_dtype: 'float32', shape_type: 'int32' })[0]!),
      count: length(op('TensorListScatter', [x6(), i32([0, 1]), elementShape([2])], { element_dtype: 'float32', shape_type: 'int32' })[0]!),
    }));
    await expect(sess.run(r.neg)).rejects.toBeInstanceOf(tf.errors.InvalidArgumentError);
    await expect(sess.run(r.count)).rejects.toThrow(/2 indices for a tensor of 3 elements/);
    sess.close();
  });

  it('the gradient gathers the scattered rows of the list gradient', async () => {
    const w = Float32Array.from({ length: 10 }, (_, i) => i + 1);
    const [sess, r] = await run(() => {
      const x = x6();
      const l = op('TensorListScatter', [x, i32([2, 0, 4]), elementShape([2])], { element_dtype: 'float32', shape_type: 'int32' })[0]!;
      const y = tf.reduceSum(tf.multiply(stack(l, [2]), tf.constant(w, 'float32', [5, 2])));
      return tf.gradients(y, [x])[0]!;
    });
    // Row k of x went to list index [2, 0, 4][k]: its gradient is w's row there.
    expectClose(await sess.run(r), [5, 6, 1, 2, 9, 10], { shape: [3, 2] });
    sess.close();
  });
});

describe('TensorListResize', () => {
  it('grows with unset elements and shrinks by dropping the last ones; the gradient keeps the input length', async () => {
    const [sess, r] = await run(() => {
      const x = x6();
      const l = op('TensorListFromTensor', [x, elementShape([2])], { element_dtype: 'float32', shape_type: 'int32' })[0]!;
      const grown = op('TensorListResize', [l, tf.constant(4, 'int32')], {})[0]!;
      const shrunk = op('TensorListResize', [l, tf.constant(2, 'int32')], {})[0]!;
      const y = tf.add(tf.reduceSum(tf.multiply(stack(grown, [2]), 2)), tf.reduceSum(stack(shrunk, [2])));
      return { grown: stack(grown, [2]), shrunk: stack(shrunk, [2]), dx: tf.gradients(y, [x])[0]! };
    });
    const [grown, shrunk, dx] = await sess.run([r.grown, r.shrunk, r.dx]);
    expectClose(grown, [1, 2, 3, 4, 5, 6, 0, 0], { shape: [4, 2] });
    expectClose(shrunk, [1, 2, 3, 4], { shape: [2, 2] });
    expectClose(dx, [3, 3, 3, 3, 2, 2], { shape: [3, 2] });
    sess.close();
  });
});

describe('TensorListConcat (V1)', () => {
  it('joins elements along their first axis, reports their lengths, and splits the gradient back', async () => {
    const [sess, r] = await run(() => {
      const x = tf.constant(Float32Array.from({ length: 12 }, (_, i) => i), 'float32', [3, 2, 2]);
      const l = op('TensorListFromTensor', [x, elementShape([2, 2])], { element_dtype: 'float32', shape_type: 'int32' })[0]!;
      const [joined, lengths] = op('TensorListConcat', [l], { element_dtype: 'float32', element_shape: [null, 2] }, 2) as [T, T];
      const y = tf.reduceSum(tf.multiply(joined, tf.constant(Float32Array.from({ length: 12 }, (_, i) => i * 10), 'float32', [6, 2])));
      return { joined, lengths, dx: tf.gradients(y, [x])[0]! };
    });
    expect(r.joined.shape).toEqual([null, 2]);
    const [joined, lengths, dx] = await sess.run([r.joined, r.lengths, r.dx]);
    expectClose(joined, Array.from({ length: 12 }, (_, i) => i), { shape: [6, 2] });
    expect(Array.from(lengths.data as BigInt64Array, Number)).toEqual([2, 2, 2]);
    expectClose(dx, Array.from({ length: 12 }, (_, i) => i * 10), { shape: [3, 2, 2] });
    sess.close();
  });
});
