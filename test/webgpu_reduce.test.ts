// WebGPU reductions, arg-reductions, L2Loss, BiasAddGrad, softmax and cross-entropy compared with
// the CPU backend on shapes that cross workgroup and chunk boundaries. Small ops whose inputs are on
// the host would normally run there; these tests force every op with a GPU kernel onto the GPU.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';
import { expectClose, randomArray, randomDistribution, useGpuKernelsForSmallOps } from './helpers.js';

useGpuKernelsForSmallOps();

/** Runs fetches on webgpu and cpu sessions over the same graph and feeds, and returns both. */
async function both(fetches: tf.Tensor[], feeds: [tf.Tensor, tf.NDArray][]): Promise<[tf.NDArray[], tf.NDArray[]]> {
  const graph = fetches[0]!.graph;
  const gpu = new tf.Session({ graph, backend: 'webgpu' });
  const cpu = new tf.Session({ graph, backend: 'cpu' });
  try {
    const g = (await gpu.run(fetches, feeds)) as tf.NDArray[];
    const c = (await cpu.run(fetches, feeds)) as tf.NDArray[];
    return [g, c];
  } finally {
    gpu.close();
    cpu.close();
  }
}

async function compare(fetches: tf.Tensor[], feeds: [tf.Tensor, tf.NDArray][], exact = false): Promise<void> {
  const [g, c] = await both(fetches, feeds);
  g.forEach((v, i) => {
    expect(v.dtype).toBe(c[i]!.dtype);
    if (exact) {
      expect(v.shape).toEqual(c[i]!.shape);
      expect(Array.from(v.data as ArrayLike<number | bigint>, String)).toEqual(Array.from(c[i]!.data as ArrayLike<number | bigint>, String));
    } else expectClose(v, c[i]!, { atol: 1e-4, rtol: 1e-3 });
  });
}

const REDUCERS = ['reduceSum', 'reduceMean', 'reduceMax', 'reduceMin', 'reduceProd'] as const;
type Reducer = (x: tf.Tensor, axis?: number | number[], keepdims?: boolean) => tf.Tensor;

const SHAPES: [number[], number[] | undefined][] = [
  [[3, 4], [1]],
  [[3, 4], [0]],
  [[2, 3, 4], [0, 2]],
  [[2, 3, 4], [-1, 0]],
  [[5, 300], [1]],
  [[300, 5], [0]],
  [[17, 1023], [1]],
  [[1023, 17], [0]],
  [[70000], undefined],
  [[1000, 70], [0]],
  [[2, 0, 3], [1]],
  [[2, 0, 3], [0]],
  [[4, 1, 6], [0, 1]],
  [[20000, 3], [1]],
  [[7, 5000], [0]],
  [[3, 5, 7, 2], [1, 3]],
  [[1], [0]],
  [[], undefined],
];

function inputFor(fn: string, shape: number[], dtype: DType, seed: number): tf.NDArray {
  if (fn !== 'reduceProd') return randomArray(shape, { dtype, seed, min: -100, max: 100 });
  // Products of many values stay finite (floats) or small enough to compare exactly (ints wrap).
  return dtype === 'float32' ? randomArray(shape, { dtype, seed, min: 0.97, max: 1.03 }) : randomArray(shape, { dtype, seed, min: -3, max: 4 });
}

describe('webgpu reductions', () => {
  for (const dtype of ['float32', 'int32', 'int64'] as DType[]) {
    it(`Sum, Mean, Max, Min, Prod on ${dtype}`, async () => {
      let seed = 1;
      for (const [shape, axes] of SHAPES) {
        for (const fn of REDUCERS) {
          for (const keep of [false, true]) {
            if (keep && shape.length !== 3) continue;
            const g = new tf.Graph();
            const [fetch, x] = g.asDefault(() => {
              const x = tf.placeholder(dtype, shape);
              return [(tf[fn] as Reducer)(x, axes, keep), x] as const;
            });
            const a = inputFor(fn, shape, dtype, seed++);
            try {
              await compare([fetch], [[x, a]], dtype !== 'float32');
            } catch (e) {
              throw new Error(`${fn} ${dtype} [${shape}] axes ${axes} keep ${keep}: ${(e as Error).message}`);
            }
          }
        }
      }
    });
  }

  it('propagates NaN through Max and Min', async () => {
    const g = new tf.Graph();
    const [mx, mn, x] = g.asDefault(() => {
      const x = tf.placeholder('float32', [3, 600]);
      return [tf.reduceMax(x, 1), tf.reduceMin(x, 0), x] as const;
    });
    const a = randomArray([3, 600], { seed: 5 });
    (a.data as Float32Array)[700] = NaN;
    (a.data as Float32Array)[5] = NaN;
    const [[gmax, gmin]] = await both([mx, mn], [[x, a]]);
    const m = Array.from(gmax!.data as Float32Array);
    expect(Number.isNaN(m[0])).toBe(true);
    expect(Number.isNaN(m[1])).toBe(true);
    expect(Number.isNaN(m[2])).toBe(false);
    const n = Array.from(gmin!.data as Float32Array);
    expect(n.filter((v) => Number.isNaN(v)).length).toBe(2);
    expect(Number.isNaN(n[5])).toBe(true);
    expect(Number.isNaN(n[100])).toBe(true);
  });

  it('sums int32 with wrap-around and int64 past 32 bits, as the CPU', async () => {
    const g = new tf.Graph();
    const [s32, s64, p64, m64, x32, x64] = g.asDefault(() => {
      const x32 = tf.placeholder('int32', [2, 3000]);
      const x64 = tf.placeholder('int64', [2, 3000]);
      return [tf.reduceSum(x32, 1), tf.reduceSum(x64, 1), tf.reduceProd(tf.reshape(x64, [6000])), tf.reduceMean(x64, 1), x32, x64] as const;
    });
    const a32 = randomArray([2, 3000], { dtype: 'int32', seed: 2, min: 1e9, max: 2e9 });
    const a64 = new tf.NDArray(BigInt64Array.from({ length: 6000 }, (_, i) => BigInt(i % 7 === 0 ? -3 : 1) * 3000000000n + BigInt(i)), [2, 3000], 'int64');
    const p = new tf.NDArray(BigInt64Array.from({ length: 6000 }, (_, i) => (i % 97 === 0 ? -3n : i % 89 === 0 ? 123456789n : 1n)), [2, 3000], 'int64');
    await compare([s32, s64, m64], [[x32, a32], [x64, a64]], true);
    await compare([p64], [[x64, p]], true);
  });
});

describe('webgpu arg-reductions', () => {
  for (const dtype of ['float32', 'int32', 'int64'] as DType[]) {
    it(`ArgMax, ArgMin on ${dtype} (first index on ties)`, async () => {
      let seed = 10;
      for (const [shape, axis] of [[[3, 4], 1], [[3, 4], 0], [[2, 3, 4], 1], [[5, 3000], 1], [[3000, 5], 0], [[17, 1023], -1], [[1, 7], 0], [[2, 0, 3], 2]] as [number[], number][]) {
        for (const outType of ['int32', 'int64'] as const) {
          const g = new tf.Graph();
          const [amax, amin, x] = g.asDefault(() => {
            const x = tf.placeholder(dtype, shape);
            return [tf.argmax(x, axis, outType), tf.argmin(x, axis, outType), x] as const;
          });
          // Few distinct values: many ties.
          const a = randomArray(shape, { dtype, seed: seed++, min: -3, max: 3 });
          if (dtype === 'float32') {
            const d = a.data as Float32Array;
            for (let i = 0; i < d.length; i++) d[i] = Math.round(d[i]!);
          }
          await compare([amax, amin], [[x, a]], true);
        }
      }
    });
  }

  it('ignores NaN except at index 0, as the CPU', async () => {
    const g = new tf.Graph();
    const [amax, amin, x] = g.asDefault(() => {
      const x = tf.placeholder('float32', [3, 500]);
      return [tf.argmax(x, 1), tf.argmin(x, 1), x] as const;
    });
    const a = randomArray([3, 500], { seed: 3 });
    const d = a.data as Float32Array;
    d[0] = NaN;
    d[500 + 7] = NaN;
    d[1000 + 499] = NaN;
    await compare([amax, amin], [[x, a]], true);
  });
});

describe('webgpu L2Loss and BiasAddGrad', () => {
  it('L2Loss on small and large tensors', async () => {
    for (const shape of [[3], [17, 3], [300, 301], [0, 4]]) {
      const g = new tf.Graph();
      const [l, x] = g.asDefault(() => {
        const x = tf.placeholder('float32', shape);
        return [tf.nn.l2Loss(x), x] as const;
      });
      await compare([l], [[x, randomArray(shape, { seed: 4 })]]);
    }
  });

  it('BiasAddGrad NHWC and NCHW, float32 and int32', async () => {
    for (const [shape, format] of [[[4, 3], 'NHWC'], [[2, 5, 5, 3], 'NHWC'], [[64, 28, 28, 8], 'NHWC'], [[2, 3, 5, 5], 'NCHW'], [[16, 8, 30, 30], 'NCHW'], [[2, 3, 4], 'NCHW']] as [number[], string][]) {
      for (const dtype of ['float32', 'int32'] as DType[]) {
        const g = new tf.Graph();
        const [b, x] = g.asDefault(() => {
          const x = tf.placeholder(dtype, shape);
          return [g.createOp('BiasAddGrad', [x], { T: dtype, data_format: format }).outputs[0]!, x] as const;
        });
        await compare([b], [[x, randomArray(shape, { dtype, seed: 6, min: -50, max: 50 })]], dtype === 'int32');
      }
    }
  });
});

describe('webgpu softmax and cross-entropy', () => {
  it('Softmax and LogSoftmax over the last axis', async () => {
    for (const shape of [[3, 4], [5], [17, 1023], [2, 3, 10], [4000, 10], [3, 1], [0, 5], [2, 3000]]) {
      const g = new tf.Graph();
      const [s, ls, x] = g.asDefault(() => {
        const x = tf.placeholder('float32', shape);
        return [tf.nn.softmax(x), tf.nn.logSoftmax(x), x] as const;
      });
      await compare([s, ls], [[x, randomArray(shape, { seed: 7, min: -30, max: 30 })]]);
    }
  });

  it('SoftmaxCrossEntropyWithLogits (loss and backprop)', async () => {
    for (const shape of [[3, 4], [17, 1023], [4000, 10], [1, 1], [0, 3]]) {
      const g = new tf.Graph();
      const [outs, x, y] = g.asDefault(() => {
        const x = tf.placeholder('float32', shape);
        const y = tf.placeholder('float32', shape);
        const op = g.createOp('SoftmaxCrossEntropyWithLogits', [x, y], { T: 'float32' });
        return [op.outputs, x, y] as const;
      });
      const labels = shape[0] ? randomDistribution(shape, 8, 0) : randomArray(shape);
      await compare([...outs], [[x, randomArray(shape, { seed: 9, min: -20, max: 20 })], [y, labels]]);
    }
  });

  it('SparseSoftmaxCrossEntropyWithLogits with int32 and int64 labels', async () => {
    for (const [n, c] of [[3, 4], [17, 1023], [4000, 10], [1, 1], [0, 3]] as [number, number][]) {
      for (const dtype of ['int32', 'int64'] as DType[]) {
        const g = new tf.Graph();
        const [outs, x, y] = g.asDefault(() => {
          const x = tf.placeholder('float32', [n, c]);
          const y = tf.placeholder(dtype, [n]);
          const op = g.createOp('SparseSoftmaxCrossEntropyWithLogits', [x, y], { T: 'float32', Tlabels: dtype });
          return [op.outputs, x, y] as const;
        });
        await compare([...outs], [[x, randomArray([n, c], { seed: 10, min: -20, max: 20 })], [y, randomArray([n], { dtype, seed: 11, min: 0, max: c })]]);
      }
    }
  });

  it('fails on an out-of-range label with an InvalidArgumentError', async () => {
    const g = new tf.Graph();
    const [loss, gpuLoss, x, y, z] = g.asDefault(() => {
      const x = tf.placeholder('float32', [3, 5]);
      const y = tf.placeholder('int32', [3]);
      // Labels made on the GPU (an ArgMax over 7 classes) are checked by the kernel itself.
      const z = tf.placeholder('float32', [3, 7]);
      const zl = tf.argmax(z, 1, 'int32');
      return [tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits: x }), tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: zl, logits: x }), x, y, z] as const;
    });
    const sess = new tf.Session({ graph: g, backend: 'webgpu' });
    const onehot = (ks: number[]) => new tf.NDArray(Float32Array.from({ length: 21 }, (_, i) => (i % 7 === ks[Math.floor(i / 7)] ? 1 : 0)), [3, 7]);
    try {
      for (const bad of [5, -1]) {
        const feeds: [tf.Tensor, tf.NDArray | Int32Array][] = [[x, randomArray([3, 5])], [y, Int32Array.from([0, bad, 1])]];
        await expect(sess.run(loss, feeds)).rejects.toThrow(tf.errors.InvalidArgumentError);
        await expect(sess.run(loss, feeds)).rejects.toThrow(new RegExp(`label value of ${bad} which is outside the valid range of \\[0, 5\\)`));
      }
      const gpuFeeds: [tf.Tensor, tf.NDArray][] = [[x, randomArray([3, 5])], [z, onehot([0, 6, 2])]];
      await expect(sess.run(gpuLoss, gpuFeeds)).rejects.toThrow(tf.errors.InvalidArgumentError);
      await expect(sess.run(gpuLoss, gpuFeeds)).rejects.toThrow(/outside the valid range of \[0, 5\)/);
      // The session still works after failed runs, on both paths.
      const [ok, ok2] = await sess.run([loss, gpuLoss], [[x, randomArray([3, 5])], [y, Int32Array.from([0, 4, 1])], [z, onehot([0, 4, 1])]]);
      expect(ok.shape).toEqual([3]);
      expectClose(ok2, ok, { atol: 1e-5 });
    } finally {
      sess.close();
    }
  });
});
