import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

const f32 = (v: number[], shape: number[]) => new tf.NDArray(Float32Array.from(v), shape);

/** Raw list ops (TensorArray builds most of them; PushBack/PopBack are the loop accumulators'). */
function list(type: string, inputs: tf.Tensor[], attrs: Record<string, unknown>, n = 1): tf.Tensor[] {
  return tf.getDefaultGraph().createOp(type, inputs, attrs as never).outputs.slice(0, n);
}
const shapeOf = (s: number[]) => tf.constant(Int32Array.from(s), 'int32', [s.length]);

export const controlFlowCases: GradCase[] = [
  {
    ops: ['StatelessIf'],
    name: 'cond taking the true branch (a product and a tanh)',
    inputs: [randomArray([2, 3], { seed: 11 }), f32([1], [])],
    wrt: [0],
    build: (x, p) => tf.cond(tf.greater(p, 0), () => tf.multiply(x, tf.tanh(x)), () => tf.exp(x)),
  },
  {
    ops: ['StatelessIf'],
    name: 'cond taking the false branch, with a captured second input',
    inputs: [randomArray([3], { seed: 12 }), randomArray([3], { seed: 13 }), f32([-1], [])],
    wrt: [0, 1],
    build: (x, y, p) => tf.cond(tf.greater(p, 0), () => tf.multiply(x, y), () => tf.add(tf.square(x), tf.multiply(y, 3))),
  },
  {
    ops: ['If'],
    name: 'cond whose branch has effects (a random draw times zero)',
    inputs: [randomArray([4], { seed: 14 }), f32([1], [])],
    wrt: [0],
    build: (x, p) =>
      tf.cond(
        tf.greater(p, 0),
        () => tf.add(tf.multiply(x, x), tf.multiply(tf.randomUniform([4]), 0)),
        () => x,
      ),
  },
  {
    ops: ['StatelessWhile'],
    name: 'loop multiplying by a captured weight through a tanh, 4 iterations',
    inputs: [randomArray([2, 3], { seed: 15 }), randomArray([3, 3], { seed: 16, min: -0.5, max: 0.5 })],
    build: (x, w) =>
      (tf.whileLoop(
        (i: tf.Tensor) => tf.less(i, 4),
        (i: tf.Tensor, h: tf.Tensor) => [tf.add(i, 1), tf.tanh(tf.matmul(h, w))],
        [tf.constant(0, 'int32'), x],
      ) as tf.Tensor[])[1]!,
  },
  {
    ops: ['While'],
    name: 'loop whose body has effects (a random draw times zero), stopped by maximumIterations',
    inputs: [randomArray([3], { seed: 17 })],
    build: (x) =>
      tf.whileLoop(
        () => tf.constant(true),
        (h: tf.Tensor) => tf.add(tf.multiply(h, 0.9), tf.multiply(tf.randomUniform([3]), 0)),
        [x],
        { maximumIterations: 3 },
      ) as unknown as tf.Tensor,
  },
  {
    ops: ['TensorListFromTensor', 'TensorListGetItem', 'TensorListSetItem', 'TensorListStack'],
    name: 'TensorArray unstack, read, write, stack',
    inputs: [randomArray([3, 2], { seed: 18 })],
    build: (x) => {
      const ta = new tf.TensorArray('float32', { size: 3 }).unstack(x);
      const a = ta.read(0);
      const b = ta.read(2);
      const out = new tf.TensorArray('float32', { size: 2 }).write(0, tf.multiply(a, b)).write(1, tf.square(a));
      return out.stack();
    },
  },
  {
    ops: ['TensorListGather', 'TensorListScatterIntoExistingList'],
    name: 'TensorArray scatter and gather',
    inputs: [randomArray([3, 2], { seed: 19 })],
    build: (x) => {
      const ta = new tf.TensorArray('float32', { size: 4 }).scatter([3, 0, 1], x);
      return tf.multiply(ta.gather([1, 3]), ta.gather([0, 1]));
    },
  },
  {
    ops: ['TensorListConcatV2', 'TensorListSplit'],
    name: 'TensorArray split and concat',
    inputs: [randomArray([5, 2], { seed: 20 })],
    build: (x) => {
      const ta = new tf.TensorArray('float32', { size: 2 }).split(x, [2, 3]);
      const y = ta.concat();
      y.setShape([5, 2]);
      return tf.square(y);
    },
  },
  {
    ops: ['TensorListScatter', 'TensorListScatterV2'],
    name: 'rows scattered into new lists (V1, and V2 with room to spare), stacked and combined',
    inputs: [randomArray([3, 2], { seed: 23 })],
    build: (x) => {
      const attrs = { element_dtype: 'float32', shape_type: 'int32' };
      const idx = tf.constant(Int32Array.from([2, 0, 3]), 'int32', [3]);
      const a = list('TensorListScatter', [x, idx, shapeOf([2])], attrs)[0]!;
      const b = list('TensorListScatterV2', [tf.tanh(x), idx, shapeOf([2]), tf.constant(5, 'int32')], attrs)[0]!;
      const stack = (l: tf.Tensor, n: number) => list('TensorListStack', [l, shapeOf([2])], { element_dtype: 'float32', num_elements: n })[0]!;
      return tf.multiply(stack(a, 4), tf.slice(stack(b, 5), [0, 0], [4, 2]));
    },
  },
  {
    ops: ['TensorListResize', 'TensorListConcat'],
    name: 'a list resized (grown, then cut) and joined by the V1 concat',
    inputs: [randomArray([3, 2, 2], { seed: 24 })],
    build: (x) => {
      const l = list('TensorListFromTensor', [x, shapeOf([2, 2])], { element_dtype: 'float32', shape_type: 'int32' })[0]!;
      const grown = list('TensorListResize', [l, tf.constant(5, 'int32')], {})[0]!;
      const cut = list('TensorListResize', [grown, tf.constant(2, 'int32')], {})[0]!;
      const joined = list('TensorListConcat', [cut], { element_dtype: 'float32', element_shape: [2, 2] })[0]!;
      joined.setShape([4, 2]);
      return tf.square(joined);
    },
  },
  {
    ops: ['TensorListPushBack', 'TensorListPopBack'],
    name: 'push two values, pop one, stack the rest',
    inputs: [randomArray([2], { seed: 21 }), randomArray([2], { seed: 22 })],
    build: (x, y) => {
      const l0 = list('EmptyTensorList', [shapeOf([2]), tf.constant(-1, 'int32')], { element_dtype: 'float32', shape_type: 'int32' })[0]!;
      const l1 = list('TensorListPushBack', [l0, tf.square(x)], { element_dtype: 'float32' })[0]!;
      const l2 = list('TensorListPushBack', [l1, tf.multiply(x, y)], { element_dtype: 'float32' })[0]!;
      const [l3, last] = list('TensorListPopBack', [l2, shapeOf([2])], { element_dtype: 'float32' }, 2) as [tf.Tensor, tf.Tensor];
      const rest = list('TensorListStack', [l3, shapeOf([2])], { element_dtype: 'float32', num_elements: 1 })[0]!;
      return [last, rest];
    },
  },
];
