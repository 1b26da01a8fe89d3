// sgemmBatched (runtime/cpu/gemm.ts): a batch of same-shape products, each too small to split
// itself, handed out whole to the calling thread and the worker threads. Every product must be
// sgemm's bit for bit (the batch against a loop of sgemm calls with threads off), for both
// transposes, beta 0 and 1, odd shapes and strides with gaps; operands outside the heap take the
// loop; a worker that dies with a product taken has it redone; and C never spills past its items.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectWorkerFault, setThreadBackoff, setThreadsEnabled, sgemm, sgemmBatched, startThreads, threadedCalls, threadsAvailable, workerFailures } from '../runtime/cpu/gemm.js';
import { heapRegion } from '../runtime/cpu/heap.js';
import { rng } from './helpers.js';

const threads = threadsAvailable() && process.env.WEIR_CPU_FAST !== '0';

/** n floats in the heap (where the batch splits) or in an ordinary array, filled from `seed`. */
function floats(n: number, seed: number, inHeap: boolean): Float32Array {
  const r = rng(seed);
  let a: Float32Array;
  if (inHeap) {
    const region = heapRegion(n * 4);
    if (!region) throw new Error('no heap region');
    a = new Float32Array(region.buffer, region.byteOffset, n);
  } else a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = 2 * r() - 1;
  return a;
}

interface Case {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  beta: number;
  count: number;
  gap: number;
}

/** The batch's C computed by sgemmBatched (threads on) and by a loop of sgemm with threads off, from the same operands. */
function both(c: Case, inHeap: boolean): { batched: Float32Array; looped: Float32Array; sentinel: number } {
  const lda = (c.tA ? c.M : c.K) + 1;
  const ldb = (c.tB ? c.K : c.N) + 3;
  const ldc = c.N + 2;
  const sA = (c.tA ? c.K : c.M) * lda + c.gap;
  const sB = (c.tB ? c.N : c.K) * ldb + c.gap;
  const sC = c.M * ldc + c.gap;
  const A = floats(sA * c.count, 11, inHeap);
  const B = floats(sB * c.count, 12, inHeap);
  // One float past the last item, to see that nothing spills.
  const batched = floats(sC * c.count + 1, 13, inHeap);
  const sentinel = batched[sC * c.count]!;
  const looped = Float32Array.from(batched);
  setThreadsEnabled(true);
  sgemmBatched(c.tA, c.tB, c.M, c.N, c.K, 1, A, lda, sA, B, ldb, sB, c.beta, batched, ldc, sC, c.count);
  setThreadsEnabled(false);
  for (let i = 0; i < c.count; i++) sgemm(c.tA, c.tB, c.M, c.N, c.K, 1, A, lda, B, ldb, c.beta, looped, ldc, i * sA, i * sB, i * sC);
  setThreadsEnabled(true);
  return { batched, looped, sentinel };
}

function expectSame(got: Float32Array, want: Float32Array, what: string): void {
  let bad = -1;
  for (let i = 0; i < want.length && bad < 0; i++) if (!Object.is(got[i], want[i])) bad = i;
  expect(bad, `${what}: first difference at ${bad}`).toBe(-1);
}

describe.runIf(threads)('sgemmBatched over the worker threads', () => {
  beforeAll(async () => {
    await startThreads();
    setThreadBackoff(false);
  });
  afterAll(() => {
    setThreadBackoff(true);
    setThreadsEnabled(true);
  });

  const cases: Case[] = [
    { tA: false, tB: false, M: 128, N: 64, K: 64, beta: 0, count: 16, gap: 0 },
    { tA: false, tB: true, M: 101, N: 37, K: 70, beta: 0, count: 36, gap: 5 },
    { tA: true, tB: false, M: 64, N: 64, K: 130, beta: 1, count: 16, gap: 3 },
    { tA: true, tB: true, M: 45, N: 90, K: 99, beta: 1, count: 7, gap: 1 },
  ];
  for (const c of cases) {
    it(`${c.count} products of ${c.M}x${c.N}x${c.K}${c.tA ? ' A^T' : ''}${c.tB ? ' B^T' : ''}, beta ${c.beta}: each sgemm's bits, split over the threads`, () => {
      const before = threadedCalls();
      const { batched, looped, sentinel } = both(c, true);
      expect(threadedCalls()).toBe(before + 1);
      expectSame(batched, looped, 'batched vs looped');
      expect(batched[batched.length - 1]).toBe(sentinel);
    });
  }

  it('takes the loop for operands outside the heap, with the same bits', () => {
    const before = threadedCalls();
    const { batched, looped } = both(cases[0]!, false);
    expect(threadedCalls()).toBe(before);
    expectSame(batched, looped, 'batched vs looped');
  });

  it('redoes the products a dying worker took', () => {
    const failures = workerFailures();
    injectWorkerFault('exit');
    const { batched, looped } = both(cases[2]!, true);
    expect(workerFailures()).toBe(failures + 1);
    expectSame(batched, looped, 'batched vs looped');
  });
});
