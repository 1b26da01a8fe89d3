// The WebGPU tiled matmul (MatMul, BatchMatMulV2, _FusedMatMul) against the CPU backend: sizes
// around the 64x64x16 tile edges, every transpose, batch broadcasting, int32, fused epilogues.
// Small ops whose inputs are on the host would normally run there; these tests force every op with
// a GPU kernel onto the GPU.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';
import { listOps } from '../ops/registry.js';
import { CpuBackend } from '../runtime/cpu/backend.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import { expectClose, randomArray, useGpuKernelsForSmallOps } from './helpers.js';

useGpuKernelsForSmallOps();

async function both(fetches: tf.Tensor[], feeds: [tf.Tensor, tf.NDArray][]): Promise<[tf.NDArray[], tf.NDArray[], WebGpuBackend]> {
  const graph = fetches[0]!.graph;
  const backend = new WebGpuBackend(new CpuBackend());
  const gpu = new tf.Session({ graph, backend });
  const cpu = new tf.Session({ graph, backend: 'cpu' });
  try {
    const g = (await gpu.run(fetches, feeds)) as tf.NDArray[];
    const c = (await cpu.run(fetches, feeds)) as tf.NDArray[];
    return [g, c, backend];
  } finally {
    gpu.close();
    cpu.close();
  }
}

function check(g: tf.NDArray, c: tf.NDArray, dtype: DType, k: number): void {
  expect(g.dtype).toBe(c.dtype);
  if (dtype === 'int32') {
    expect(g.shape).toEqual(c.shape);
    expect(Array.from(g.data as Int32Array)).toEqual(Array.from(c.data as Int32Array));
  } else {
    // Sums of k products of values in [-1, 1): float32 rounding grows with k.
    expectClose(g, c, { atol: 1e-5 * Math.max(1, Math.sqrt(k)) * 4, rtol: 1e-3 });
  }
}

function operand(rows: number, cols: number, t: boolean, dtype: DType, seed: number): tf.NDArray {
  const shape = t ? [cols, rows] : [rows, cols];
  return dtype === 'int32' ? randomArray(shape, { dtype, seed, min: -1000, max: 1000 }) : randomArray(shape, { seed });
}

/** Runs MatMuls of the given [m, n, k] sizes in one graph (one run per backend) and compares them. */
async function matmulCases(sizes: readonly (readonly [number, number, number])[], ta: boolean, tb: boolean, dtype: DType = 'float32'): Promise<void> {
  const g = new tf.Graph();
  const feeds: [tf.Tensor, tf.NDArray][] = [];
  const outs = g.asDefault(() =>
    sizes.map(([m, n, k], i) => {
      const pa = tf.placeholder(dtype, ta ? [k, m] : [m, k]);
      const pb = tf.placeholder(dtype, tb ? [n, k] : [k, n]);
      feeds.push([pa, operand(m, k, ta, dtype, 2 * i + 1)], [pb, operand(k, n, tb, dtype, 2 * i + 2)]);
      return tf.matmul(pa, pb, { transposeA: ta, transposeB: tb });
    }),
  );
  const [gv, cv] = await both(outs, feeds);
  sizes.forEach(([m, n, k], i) => {
    try {
      check(gv[i]!, cv[i]!, dtype, k);
    } catch (e) {
      throw new Error(`${dtype} ${m}x${n}x${k} ta=${ta} tb=${tb}: ${(e as Error).message}`);
    }
  });
}

/** M, N, K around the 64x64x16 tile edges and the vec4 alignment. */
const EDGE_SIZES = [
  [1, 1, 1],
  [3, 17, 16],
  [17, 3, 17],
  [64, 64, 16],
  [65, 1, 33],
  [130, 68, 100],
] as const;

describe('webgpu MatMul', () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`tile-boundary sizes, transpose_a=${ta} transpose_b=${tb}`, async () => {
      await matmulCases(EDGE_SIZES, ta, tb);
    });
  }

  it('256x512x1023 in every transpose', async () => {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) await matmulCases([[256, 512, 1023]], ta, tb);
  });

  it('1023-sized odd dims', async () => {
    await matmulCases([[1023, 3, 17]], false, false);
    await matmulCases([[17, 1023, 3]], false, true);
    await matmulCases([[3, 17, 1023]], true, false);
  });

  it('int32 wraps as the CPU kernel does', async () => {
    for (const [ta, tb] of [[false, false], [true, true], [true, false], [false, true]] as const) {
      await matmulCases([[17, 65, 33], [64, 64, 64]], ta, tb, 'int32');
    }
    const g = new tf.Graph();
    const [c, pa, pb] = g.asDefault(() => {
      const pa = tf.placeholder('int32', [3, 5]);
      const pb = tf.placeholder('int32', [5, 2]);
      return [tf.matmul(pa, pb), pa, pb] as const;
    });
    const big = (shape: number[], seed: number) => randomArray(shape, { dtype: 'int32', seed, min: 1e8, max: 2e9 });
    const [[gv], [cv]] = await both([c], [[pa, big([3, 5], 1)], [pb, big([5, 2], 2)]]);
    check(gv!, cv!, 'int32', 5);
  });

  it('zero-sized dims', async () => {
    await matmulCases([[0, 5, 3]], false, false);
    await matmulCases([[4, 5, 0]], false, true);
    await matmulCases([[4, 0, 3]], true, false);
  });

  it('rejects incompatible inner dimensions at run time as the CPU does', async () => {
    const g = new tf.Graph();
    const [c, pa, pb] = g.asDefault(() => {
      const pa = tf.placeholder('float32', [null, null]);
      const pb = tf.placeholder('float32', [null, null]);
      return [tf.matmul(pa, pb), pa, pb] as const;
    });
    const sess = new tf.Session({ graph: g, backend: 'webgpu' });
    try {
      await expect(sess.run(c, [[pa, randomArray([3, 4])], [pb, randomArray([5, 2])]])).rejects.toThrow(/incompatible inner dimensions/);
    } finally {
      sess.close();
    }
  });
});

describe('webgpu BatchMatMulV2', () => {
  it('adj_x/adj_y with batch broadcasting', async () => {
    const cases: [number[], number[]][] = [
      [[2, 3, 4], [2, 4, 5]],
      [[2, 1, 17, 9], [3, 9, 65]],
      [[4, 70, 33], [33, 20]],
      [[0, 3, 4], [4, 5]],
    ];
    for (const [as, bs] of cases) {
      const g = new tf.Graph();
      const feeds: [tf.Tensor, tf.NDArray][] = [];
      const adjs = [[false, false], [true, false], [false, true], [true, true]] as const;
      const outs = g.asDefault(() =>
        adjs.map(([ax, ay], i) => {
          const aShape = ax ? [...as.slice(0, -2), as[as.length - 1]!, as[as.length - 2]!] : as;
          const bShape = ay ? [...bs.slice(0, -2), bs[bs.length - 1]!, bs[bs.length - 2]!] : bs;
          const pa = tf.placeholder('float32', aShape);
          const pb = tf.placeholder('float32', bShape);
          feeds.push([pa, randomArray(aShape, { seed: 2 * i + 1 })], [pb, randomArray(bShape, { seed: 2 * i + 2 })]);
          return g.createOp('BatchMatMulV2', [pa, pb], { T: 'float32', adj_x: ax, adj_y: ay }).outputs[0]!;
        }),
      );
      const [gv, cv] = await both(outs, feeds);
      adjs.forEach(([ax, ay], i) => {
        try {
          check(gv[i]!, cv[i]!, 'float32', as[as.length - 1]!);
        } catch (e) {
          throw new Error(`[${as}] x [${bs}] adj ${ax} ${ay}: ${(e as Error).message}`);
        }
      });
    }
  });
});

describe('webgpu _FusedMatMul', () => {
  // Every activation the remapper may fuse (LeakyRelu with a slope other than its default).
  const acts: [string, (x: tf.Tensor) => tf.Tensor][] = [
    ['none', (x) => x],
    ...listOps()
      .filter((d) => d.fusableActivation)
      .map((d): [string, (x: tf.Tensor) => tf.Tensor] => [d.type, (x) => x.graph.createOp(d.type, [x], { T: 'float32', ...(d.attrs?.alpha ? { alpha: 0.3 } : {}) }).outputs[0]!]),
  ];
  for (const [name, act] of acts) {
    it(`MatMul + BiasAdd + ${name} fuses and matches the CPU`, async () => {
      const g = new tf.Graph();
      const feeds: [tf.Tensor, tf.NDArray][] = [];
      const sizes = [[17, 65, 33, false], [64, 12, 20, true], [3, 3, 1023, false]] as const;
      const outs = g.asDefault(() =>
        sizes.map(([m, n, k, tb], i) => {
          const pa = tf.placeholder('float32', [m, k]);
          const pb = tf.placeholder('float32', tb ? [n, k] : [k, n]);
          const pc = tf.placeholder('float32', [n]);
          feeds.push(
            [pa, randomArray([m, k], { seed: 3 * i + 1, min: -2, max: 2 })],
            [pb, randomArray(tb ? [n, k] : [k, n], { seed: 3 * i + 2 })],
            [pc, randomArray([n], { seed: 3 * i + 3 })],
          );
          return act(tf.nn.biasAdd(tf.matmul(pa, pb, { transposeB: tb }), pc));
        }),
      );
      const sess = new tf.Session({ graph: g, backend: 'webgpu' });
      try {
        const plan = await sess.compile(outs, feeds);
        expect(plan.steps.filter((s) => s.node.type === '_FusedMatMul').length).toBe(sizes.length);
      } finally {
        sess.close();
      }
      const [gv, cv] = await both(outs, feeds);
      sizes.forEach(([, , k], i) => check(gv[i]!, cv[i]!, 'float32', k));
    });
  }
});
