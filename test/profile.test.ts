import { afterEach, describe, expect, it, vi } from 'vitest';
import * as tf from '../src/index.js';
import { FailedPreconditionError } from '../src/core/errors.js';
import { KernelProfile, kernelFlops, profilingBackend } from '../runtime/profile.js';
import { CpuBackend } from '../runtime/cpu/backend.js';
import { heapMemory } from '../runtime/cpu/heap.js';
import type { KernelNode } from '../runtime/backend.js';
import { randomArray } from './helpers.js';

/** A small CNN step: conv (bias, relu), max pool, dense, their gradients. */
function smallCnn() {
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const x = tf.placeholder('float32', [2, 6, 6, 3], 'x');
    const f = new tf.Variable(randomArray([3, 3, 3, 4], { seed: 2 }), { name: 'f' });
    const w = new tf.Variable(randomArray([3 * 3 * 4, 5], { seed: 3 }), { name: 'w' });
    const h = tf.nn.maxPool(tf.nn.relu(tf.nn.conv2d(x, f, [1, 1, 1, 1], 'SAME')), [1, 2, 2, 1], [1, 2, 2, 1], 'SAME');
    const loss = tf.reduceSum(tf.square(tf.matmul(tf.reshape(h, [2, 36]), w)));
    const [df, dw] = tf.gradients(loss, [f, w]);
    return { x, loss, df: df!, dw: dw!, init: tf.globalVariablesInitializer() };
  });
  const feeds: [tf.Tensor, tf.NDArray][] = [[m.x, randomArray([2, 6, 6, 3], { seed: 1 })]];
  return { g, m, feeds };
}

describe('kernel profile', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('forwards every other member of the backend, called on the backend itself (a profiled CPU session keeps its arenas in the heap)', () => {
    const inner = new CpuBackend();
    const wrapped = profilingBackend(inner, new KernelProfile());
    expect(wrapped.name).toBe(inner.name);
    expect(typeof wrapped.allocHostBuffer).toBe('function');
    const owner = {};
    const region = wrapped.allocHostBuffer!(256, owner);
    if (heapMemory()?.shared) {
      expect(region).not.toBeNull();
      expect(wrapped.hostAddress!(new Float32Array(region!.buffer, region!.byteOffset, 64))).toBe(region!.byteOffset);
      wrapped.freeHostBuffer!(region!);
    } else {
      expect(region).toBeNull();
    }
  });

  it('names every kernel a graph runs, per kernel and per op type, with contraction FLOPs', async () => {
    const { g, m, feeds } = smallCnn();
    const sess = new tf.Session({ graph: g, profile: true });
    await sess.run(m.init);
    sess.profile().reset();
    const plan = await sess.compile([m.loss, m.df, m.dw], feeds);
    const RUNS = 3;
    for (let i = 0; i < RUNS; i++) await sess.run([m.loss, m.df, m.dw], feeds);
    const table = sess.profile();
    expect(table.runs).toBe(RUNS);

    // Exactly the plan's backend steps, each once per run.
    const stepTypes = plan.steps.filter((s) => !s.runtime).map((s) => s.node.type);
    const kernels = table.kernels;
    expect(kernels.map((k) => k.type).sort()).toEqual([...stepTypes].sort());
    for (const k of kernels) expect(k.calls).toBe(RUNS);
    expect(table.opTypes.map((r) => r.name).sort()).toEqual([...new Set(stepTypes)].sort());
    expect(stepTypes).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'MaxPoolGrad', 'MatMul']));

    // FLOPs from the shapes, counted here independently: 2 * outputs * (taps * input channels).
    const convFlops = 2 * (2 * 6 * 6 * 4) * (3 * 3 * 3);
    const byType = new Map(table.opTypes.map((r) => [r.name, r]));
    expect(byType.get('Conv2DBackpropFilter')!.flops).toBe(RUNS * convFlops);
    const fwd = byType.get('_FusedConv2D') ?? byType.get('Conv2D')!;
    expect(fwd.flops).toBe(RUNS * convFlops);
    // loss's MatMul [2,36]x[36,5] and the gradient's [36,2]x[2,5] (dh = dy w^T is not needed: f's
    // gradient goes through it, [2,5]x[5,36]).
    expect(byType.get('MatMul')!.flops + (byType.get('_FusedMatMul')?.flops ?? 0)).toBe(RUNS * 3 * 2 * 2 * 36 * 5);
    expect(byType.get('MaxPoolGrad')!.flops).toBe(0);
    expect(table.totalMs).toBeGreaterThan(0);

    const text = table.format();
    for (const k of kernels) expect(text).toContain(`${k.name} (${k.type})`);
    expect(text).toMatch(/GFLOP\/s/);
    sess.close();
  });

  it('counts kernels of loop bodies on every iteration', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const a = tf.placeholder('float32', [4, 4], 'a');
      const [, out] = tf.whileLoop(
        (i: tf.Tensor) => tf.less(i, 5),
        (i: tf.Tensor, v: tf.Tensor) => [tf.add(i, 1), tf.matmul(v, a)],
        [tf.constant(0), a],
      );
      return { a, out: out! };
    });
    const sess = new tf.Session({ graph: g, profile: true });
    await sess.run(m.out, [[m.a, randomArray([4, 4])]]);
    const mm = sess.profile().opTypes.find((r) => r.name === 'MatMul')!;
    expect(mm.calls).toBe(5);
    expect(mm.flops).toBe(5 * 2 * 4 * 4 * 4);
    sess.close();
  });

  it('costs nothing when off: plans run on the session backend itself', async () => {
    const { g, m, feeds } = smallCnn();
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const plan = await sess.compile([m.loss], feeds);
    const run = vi.spyOn(plan, 'run');
    await sess.run([m.loss], feeds);
    expect(run).toHaveBeenCalledTimes(1);
    expect(run.mock.calls[0]![0]).toBe(sess.backend);
    expect(() => sess.profile()).toThrow(FailedPreconditionError);
    sess.close();

    // With profiling on, the same call gets the timing wrapper instead.
    const on = new tf.Session({ graph: g, profile: true });
    await on.run(m.init);
    const plan2 = await on.compile([m.loss], feeds);
    const run2 = vi.spyOn(plan2, 'run');
    await on.run([m.loss], feeds);
    expect(run2.mock.calls[0]![0]).not.toBe(on.backend);
    expect(run2.mock.calls[0]![0].name).toBe(on.backend.name);
    on.close();
  });

  it('WEIR_PROFILE=1 turns it on and prints the table when the session closes', async () => {
    vi.stubEnv('WEIR_PROFILE', '1');
    const printed: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: unknown) => void printed.push(String(s)));
    const { g, m, feeds } = smallCnn();
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    await sess.run([m.loss, m.df], feeds);
    expect(sess.profile().runs).toBe(2);
    sess.close();
    expect(printed.length).toBe(1);
    expect(printed[0]).toMatch(/weir kernel profile: 2 run\(s\)/);
    expect(printed[0]).toContain('Conv2DBackpropFilter');
  });

  it('counts FLOPs of transposed and batched products from their shapes', () => {
    const node = (type: string, attrs: Record<string, boolean>): KernelNode =>
      ({ name: 'n', type, attrs, outputs: [], inputDTypes: [], inputShapes: [], refVars: [] }) as KernelNode;
    // A^T [7,3] x B [7,5]: K = 7.
    expect(kernelFlops(node('MatMul', { transpose_a: true }), [[7, 3], [7, 5]], [[3, 5]])).toBe(2 * 3 * 5 * 7);
    expect(kernelFlops(node('BatchMatMulV2', { adj_x: false }), [[4, 2, 6], [6, 3]], [[4, 2, 3]])).toBe(2 * 4 * 2 * 3 * 6);
    // Conv2DBackpropInput: dy [1,4,4,8], filter [3,3,2,8].
    expect(kernelFlops(node('Conv2DBackpropInput', {}), [[4], [3, 3, 2, 8], [1, 4, 4, 8]], [[1, 4, 4, 2]])).toBe(2 * 128 * 18);
    expect(kernelFlops(node('Relu', {}), [[3]], [[3]])).toBe(0);
  });
});
