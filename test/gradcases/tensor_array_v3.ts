// Finite-difference cases of the gradients of TF1's resource TensorArray ops (TF's
// tensor_array_grad.py), outside loops; and the TA helper test/tensor_array_v3.test.ts builds with.
import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

type T = tf.Tensor;

export function op(type: string, inputs: T[], attrs: Record<string, unknown>): T[] {
  return tf.getDefaultGraph().createOp(type, inputs, attrs as never).outputs;
}
export const i32 = (v: number | number[]) => (typeof v === 'number' ? tf.constant(v, 'int32') : tf.constant(Int32Array.from(v), 'int32', [v.length]));
export const i64 = (v: number[]) => tf.constant(BigInt64Array.from(v, BigInt), 'int64', [v.length]);

/** A TF1 TensorArray as TF's Python wrapper builds its ops: the handle and the current flow. */
export class TA {
  constructor(
    readonly handle: T,
    readonly flow: T,
  ) {}
  static make(size: number | T, attrs: Record<string, unknown> = {}): TA {
    const [h, f] = op('TensorArrayV3', [typeof size === 'number' ? i32(size) : size], { dtype: 'float32', ...attrs }) as [T, T];
    return new TA(h, f);
  }
  write(i: number | T, v: T): TA {
    return new TA(this.handle, op('TensorArrayWriteV3', [this.handle, typeof i === 'number' ? i32(i) : i, v, this.flow], { T: v.dtype })[0]!);
  }
  read(i: number, shape?: number[]): T {
    const r = op('TensorArrayReadV3', [this.handle, i32(i), this.flow], { dtype: 'float32' })[0]!;
    if (shape) r.setShape(shape);
    return r;
  }
  scatter(indices: number[], v: T): TA {
    return new TA(this.handle, op('TensorArrayScatterV3', [this.handle, i32(indices), v, this.flow], { T: v.dtype })[0]!);
  }
  scatterAt(indices: T, v: T): TA {
    return new TA(this.handle, op('TensorArrayScatterV3', [this.handle, indices, v, this.flow], { T: v.dtype })[0]!);
  }
  gather(indices: number[], elementShape: number[] | null = null): T {
    return op('TensorArrayGatherV3', [this.handle, i32(indices), this.flow], { dtype: 'float32', element_shape: elementShape })[0]!;
  }
  split(v: T, lengths: number[]): TA {
    return new TA(this.handle, op('TensorArraySplitV3', [this.handle, v, i64(lengths), this.flow], { T: v.dtype })[0]!);
  }
  concat(except0: number[] | null = null): [T, T] {
    return op('TensorArrayConcatV3', [this.handle, this.flow], { dtype: 'float32', element_shape_except0: except0 }) as [T, T];
  }
  size(): T {
    return op('TensorArraySizeV3', [this.handle, this.flow], {})[0]!;
  }
  close(): tf.Operation {
    return tf.getDefaultGraph().createOp('TensorArrayCloseV3', [this.handle], {});
  }
}

/** Finite-difference cases of the gradients (TF's tensor_array_grad.py), outside loops. */
export const tensorArrayV3GradCases: GradCase[] = [
  {
    ops: ['TensorArrayWriteV3', 'TensorArrayReadV3'],
    name: 'write then read; an index written but never read gets a zero gradient',
    inputs: [randomArray([2, 3], { seed: 1 }), randomArray([2, 3], { seed: 2 }), randomArray([2, 3], { seed: 3 })],
    build: (a, b, c) => {
      const ta = TA.make(3).write(0, tf.multiply(a!, tf.constant(2))).write(1, tf.tanh(b!)).write(2, c!);
      return tf.multiply(ta.read(0, [2, 3]), ta.read(1, [2, 3]));
    },
  },
  {
    ops: ['TensorArrayReadV3'],
    name: 'two reads of one index (clear_after_read false): their gradients add up in the gradient array',
    inputs: [randomArray([4], { seed: 4 })],
    build: (a) => {
      const ta = TA.make(1, { clear_after_read: false }).write(0, a!);
      return tf.add(tf.multiply(ta.read(0, [4]), ta.read(0, [4])), ta.read(0, [4]));
    },
  },
  {
    ops: ['TensorArrayScatterV3', 'TensorArrayGatherV3'],
    name: 'scatter then gather (a row never gathered gets a zero gradient)',
    inputs: [randomArray([3, 2], { seed: 5 })],
    build: (x) => {
      const ta = TA.make(4, { element_shape: [2] }).scatter([2, 0, 3], x!);
      return tf.square(ta.gather([3, 0], [2]));
    },
  },
  {
    ops: ['TensorArrayGatherV3'],
    name: 'a gather repeating an index (clear_after_read false): the scattered gradient adds up',
    inputs: [randomArray([2, 3], { seed: 7 })],
    build: (x) => {
      const ta = TA.make(2, { clear_after_read: false }).scatter([1, 0], x!);
      return tf.tanh(ta.gather([0, 1, 0], [3]));
    },
  },
  {
    ops: ['TensorArraySplitV3', 'TensorArrayConcatV3'],
    name: 'split then concat',
    inputs: [randomArray([5, 2], { seed: 6 })],
    build: (x) => {
      const [c] = TA.make(3).split(x!, [2, 0, 3]).concat([2]);
      c!.setShape([5, 2]);
      return tf.multiply(c!, tf.sigmoid(x!));
    },
  },
];
