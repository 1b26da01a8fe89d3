import { describe, expect, it } from 'vitest';
import { setThreadBackoff, sgemm, startThreads, threadedCalls } from '../runtime/cpu/gemm.js';
import { applyUpdateSimd, parallelThreadedTasks, setParallelBackoff, UPDATE_THREAD_MIN } from '../runtime/cpu/parallel.js';
import { heapArray } from '../runtime/cpu/heap.js';
import { addTaskFamily, ARG, sharedPoolReady, sharedPoolReplacements, sharedPoolSize, sharedWorkers, SplitPolicy, startSharedPool } from '../runtime/cpu/threads.js';

// The GEMM (gemm.ts) and the other kernels' drivers (parallel.ts) are task families of one pool of
// worker threads: one thread per extra core, not one per core and family.
describe.skipIf(sharedWorkers() === 0)('the shared worker pool', () => {
  it("runs the GEMM's products and parallel.ts's tasks on the same workers", async () => {
    expect(await startThreads()).toBe(true);
    const workers = sharedPoolSize();
    expect(workers).toBe(sharedWorkers());
    setThreadBackoff(false);
    setParallelBackoff(false);
    const products = threadedCalls();
    const tasks = parallelThreadedTasks();
    const M = 256, N = 256, K = 256;
    const fill = (n: number, f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));
    const A = fill(M * K, (i) => Math.sin(i));
    const B = fill(K * N, (i) => Math.cos(i));
    const C = new Float32Array(M * N);
    sgemm(false, false, M, N, K, 1, A, K, B, N, 0, C, N);
    let want = 0;
    for (let k = 0; k < K; k++) want += A[5 * K + k]! * B[k * N + 7]!;
    expect(C[5 * N + 7]).toBeCloseTo(want, 3);
    const n = UPDATE_THREAD_MIN * 2;
    const w = heapArray('float32', n)!;
    const g = heapArray('float32', n)!;
    w.fill(1);
    g.fill(2);
    expect(applyUpdateSimd('sgd', [w], g, [0.25], 'test update')).toBe(n);
    expect(w[0]).toBe(0.5);
    expect(w[n - 1]).toBe(0.5);
    expect(threadedCalls()).toBeGreaterThan(products);
    const after = parallelThreadedTasks();
    expect(after.tasks).toBeGreaterThan(tasks.tasks);
    expect(sharedPoolSize()).toBe(workers);
    setThreadBackoff(true);
    setParallelBackoff(true);
  });

  it('takes in a family added after its workers started, by replacing them (no failure)', async () => {
    expect(await startSharedPool()).toBe(true);
    const replaced = sharedPoolReplacements();
    const family = addTaskFamily({
      source: () => `return function runTask(t) { t[${ARG}] = 2 * t[${ARG} + 1] + familyData.offset + 100 * familyData.index; };`,
      data: () => ({ offset: 5 }),
    });
    expect(await startSharedPool()).toBe(true);
    const p = sharedPoolReady()!;
    expect(p).not.toBeNull();
    for (let w = 0; w < p.size; w++) {
      const { ints } = p.args(w);
      ints[ARG + 1] = 10 + w;
      p.start(w, family);
      expect(p.wait(w, 10_000)).toBe('done');
      expect(ints[ARG]).toBe(2 * (10 + w) + 5 + 100 * w);
    }
    expect(sharedPoolReplacements()).toBe(replaced);
    // The families it had before still run on it.
    const before = threadedCalls();
    setThreadBackoff(false);
    const X = new Float32Array(300 * 300).fill(1);
    const Y = new Float32Array(300 * 300);
    sgemm(false, false, 300, 300, 300, 1, X, 300, X, 300, 0, Y, 300);
    setThreadBackoff(true);
    expect(Y[300 * 300 - 1]).toBe(300);
    expect(threadedCalls()).toBe(before + 1);
  });
});

describe('SplitPolicy', () => {
  const kept = (p: SplitPolicy, n: number): number => Array.from({ length: n }, () => p.take()).filter((t) => !t).length;

  it('keeps the next 4 tasks on the calling thread after a split that did not pay, doubling while they keep not paying, up to 256', () => {
    const p = new SplitPolicy(true);
    expect(p.take()).toBe(true);
    p.record(0.9);
    expect(kept(p, 10)).toBe(4);
    p.record(0.5);
    expect(kept(p, 20)).toBe(8);
    for (let i = 0; i < 10; i++) p.record(0.5);
    expect(kept(p, 300)).toBe(256);
    // One that pays ends the back-off.
    p.record(1.6);
    expect(kept(p, 10)).toBe(0);
    p.record(0.99);
    expect(kept(p, 10)).toBe(4);
  });

  it('keeps every task on the calling thread when off or impossible, and forgets its back-off when switched', () => {
    const p = new SplitPolicy(true);
    p.record(0.5);
    expect(p.setEnabled(false)).toBe(true);
    expect(kept(p, 5)).toBe(5);
    expect(p.setEnabled(true)).toBe(false);
    expect(kept(p, 5)).toBe(0);
    p.setBackoff(false);
    p.record(0.1);
    expect(kept(p, 5)).toBe(0);
    const never = new SplitPolicy(false);
    never.setEnabled(true);
    expect(never.enabled).toBe(false);
    expect(never.take()).toBe(false);
  });
});
