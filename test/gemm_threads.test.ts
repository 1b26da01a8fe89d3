import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import {
  setSimdEnabled,
  setThreadBackoff,
  setThreadsEnabled,
  sgemm,
  simdAvailable,
  startThreads,
  stopThreads,
  threadedCalls,
  threadsAvailable,
  workerFailures,
} from '../runtime/cpu/gemm.js';
import { ARG, CTRL_BYTES, sharedPoolSize, ThreadPool, workerLoopSource } from '../runtime/cpu/threads.js';
import { expectClose, randomArray, rng, run } from './helpers.js';

const fastForcedOff = process.env.WEIR_CPU_FAST === '0';

// Operands are windows of one random pool (generating a million floats per operand would dominate the run).
const poolRng = rng(1);
const POOL = Float32Array.from({ length: 1100 * 1100 }, () => 2 * poolRng() - 1);

function randomFloats(n: number, seed: number): Float32Array {
  const at = (seed * 7919) % 4096;
  if (at + n > POOL.length) throw new Error('operand larger than the random pool');
  return POOL.slice(at, at + n);
}

interface Case {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  pad: number;
}

/** C after sgemm on the case's operands, with threads on or off. */
function product(c: Case, threads: boolean, seed: number): Float32Array {
  const lda = (c.tA ? c.M : c.K) + c.pad;
  const ldb = (c.tB ? c.K : c.N) + c.pad;
  const ldc = c.N + c.pad;
  const A = randomFloats((c.tA ? c.K : c.M) * lda, seed);
  const B = randomFloats((c.tB ? c.N : c.K) * ldb, seed + 1);
  const C = randomFloats(c.M * ldc, seed + 2);
  const prev = setThreadsEnabled(threads);
  try {
    sgemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, A, lda, B, ldb, c.beta, C, ldc);
  } finally {
    setThreadsEnabled(prev);
  }
  return C;
}

function expectBitIdentical(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${what}: element ${i} is ${got[i]} threaded, ${want[i]} on one thread`);
  }
}

// Products big enough to be split (M*N*K >= 2^21) with odd sizes 1, 3, 17, 1023 in each role.
const shapes: [number, number, number][] = [
  [1023, 1023, 17],
  [1023, 17, 1023],
  [17, 1023, 1023],
  [3, 1023, 1023],
  [1023, 3, 1023],
  [1, 1023, 1023],
  [1023, 1023, 3],
];

describe.skipIf(fastForcedOff || !threadsAvailable())('sgemm on worker threads', () => {
  // Every product below must be split, however little the workers help on a busy machine.
  let backoff = true;
  beforeAll(async () => {
    backoff = setThreadBackoff(false);
    expect(await startThreads()).toBe(true);
  });
  afterAll(async () => {
    setThreadBackoff(backoff);
    await stopThreads();
  });

  it('starts at least one worker and uses it for large products only', () => {
    expect(sharedPoolSize()).toBeGreaterThanOrEqual(1);
    const before = threadedCalls();
    product({ tA: false, tB: false, M: 17, N: 17, K: 17, alpha: 1, beta: 0, pad: 0 }, true, 1);
    expect(threadedCalls()).toBe(before);
    product({ tA: false, tB: false, M: 256, N: 256, K: 256, alpha: 1, beta: 0, pad: 0 }, true, 1);
    expect(threadedCalls()).toBe(before + 1);
  });

  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      it(`gives bit-identical results to one thread (transA=${tA}, transB=${tB}, sizes 1, 3, 17, 1023)`, () => {
        let seed = 10;
        const before = threadedCalls();
        const failures = workerFailures();
        for (const [M, N, K] of shapes) {
          for (const [alpha, beta, pad] of [[1, 0, 0], [0.5, 1, 3], [-2, 0.25, 0]] as const) {
            const c: Case = { tA, tB, M, N, K, alpha, beta, pad };
            seed += 3;
            expectBitIdentical(product(c, true, seed), product(c, false, seed), JSON.stringify(c));
          }
        }
        // All but the matrix-vector shapes (M = 1) were split.
        expect(threadedCalls() - before).toBe((shapes.length - 1) * 3);
        // ... by workers that all finished their tasks (a failed task's blocks are redone here, with the same bits).
        expect(workerFailures()).toBe(failures);
      });
    }
  }

  it('matches the portable TypeScript path within float32 tolerance', () => {
    const c: Case = { tA: true, tB: false, M: 1023, N: 130, K: 517, alpha: 1, beta: 0.5, pad: 1 };
    const fastC = product(c, true, 3);
    const prev = setSimdEnabled(false);
    let slowC: Float32Array;
    try {
      slowC = product(c, false, 3);
    } finally {
      setSimdEnabled(prev);
    }
    expectClose(new tf.NDArray(fastC, [fastC.length]), slowC, { atol: 1e-4, rtol: 1e-5 });
  });

  it('splits batched products with broadcast batch dims (BatchMatMulV2) identically', async () => {
    const x = randomArray([2, 1, 300, 64], { seed: 5 });
    const y = randomArray([3, 200, 300], { seed: 6 });
    const build = (): tf.Tensor => tf.matmul(tf.constant(x), tf.constant(y), { transposeA: true, transposeB: true });
    const g1 = new tf.Graph();
    const z1 = g1.asDefault(build);
    const before = threadedCalls();
    const threaded = await run(z1, undefined, g1);
    expect(threadedCalls()).toBeGreaterThanOrEqual(before + 6);
    const g2 = new tf.Graph();
    const z2 = g2.asDefault(build);
    const prev = setThreadsEnabled(false);
    let single: tf.NDArray;
    try {
      single = await run(z2, undefined, g2);
    } finally {
      setThreadsEnabled(prev);
    }
    expect(threaded.shape).toEqual([2, 3, 64, 200]);
    expectBitIdentical(threaded.data as Float32Array, single.data as Float32Array, 'BatchMatMulV2');
    // One batch entry against a plain triple loop.
    const xd = x.data as Float32Array;
    const yd = y.data as Float32Array;
    const want = new Float32Array(64 * 200);
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < 200; j++) {
        let s = 0;
        for (let k = 0; k < 300; k++) s += xd[300 * 64 + k * 64 + i]! * yd[2 * 200 * 300 + j * 300 + k]!;
        want[i * 200 + j] = s;
      }
    }
    const got = (threaded.data as Float32Array).subarray((1 * 3 + 2) * 64 * 200, (1 * 3 + 3) * 64 * 200);
    expectClose(new tf.NDArray(got.slice(), [64 * 200]), want, { atol: 1e-4 });
  });

  it('stops its workers and starts them again on demand', async () => {
    await stopThreads();
    expect(sharedPoolSize()).toBe(0);
    expect(await startThreads()).toBe(true);
    expect(sharedPoolSize()).toBeGreaterThanOrEqual(1);
  });
});

describe('thread pool task protocol', () => {
  // A task withdrawn with cancel() before the worker took it never runs; one it took runs once and
  // is waited for; whichever way each race goes, the count of runs matches.
  it('runs every task it does not cancel exactly once', async () => {
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    } catch {
      return; // no shared memory here: the pool is never used
    }
    const source = `function runTask(t) { t[${ARG}] += t[${ARG} + 1]; }\n${workerLoopSource()}`;
    const pool = new ThreadPool(memory, [0, CTRL_BYTES], source, {});
    try {
      expect(await pool.whenReady()).toBe(true);
      const want = [0, 0];
      let cancelled = 0;
      for (let i = 0; i < 400; i++) {
        const w = i % 2;
        pool.setSpin(i % 4 < 2 ? 0 : 50);
        const { ints } = pool.args(w);
        ints[ARG + 1] = i + 1;
        pool.start(w, 0);
        if (i % 3 !== 0 && pool.cancel(w)) {
          cancelled++;
          continue;
        }
        expect(pool.wait(w, 10_000)).toBe('done');
        want[w]! += i + 1;
        expect(ints[ARG]).toBe(want[w]);
      }
      // Cancelled tasks leave nothing behind: a last task on each worker sees only the counted runs.
      for (const w of [0, 1]) {
        const { ints } = pool.args(w);
        ints[ARG + 1] = 0;
        pool.start(w, 0);
        expect(pool.wait(w, 10_000)).toBe('done');
        expect(ints[ARG]).toBe(want[w]);
      }
      // Both outcomes of the race happened (with SPIN 0 a worker is asleep when the next task comes).
      expect(cancelled).toBeGreaterThan(0);
      expect(cancelled).toBeLessThan(266);
    } finally {
      await pool.close();
    }
  });
});

describe('thread pool lifetime', () => {
  it('never keeps a finished process alive', () => {
    // A child process runs a threaded product, closes its session and ends without stopping the pool.
    const script = `
      import * as tf from './src/index.ts';
      import { startThreads, threadedCalls } from './runtime/cpu/gemm.ts';
      import { sharedPoolSize } from './runtime/cpu/threads.ts';
      const started = await startThreads();
      const x = tf.constant(new Float32Array(512 * 512).fill(0.5), 'float32', [512, 512]);
      const sess = new tf.Session();
      const z = await sess.run(tf.matmul(x, x));
      sess.close();
      console.log(JSON.stringify({ started, workers: sharedPoolSize(), threaded: threadedCalls(), z: z.data[0] }));
    `;
    const t0 = Date.now();
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url).pathname,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env },
    });
    expect(res.error).toBeUndefined();
    expect(res.status, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { started: boolean; workers: number; threaded: number; z: number };
    expect(out.z).toBe(128);
    if (fastForcedOff || !threadsAvailable()) {
      expect(out).toMatchObject({ started: false, workers: 0, threaded: 0 });
    } else {
      expect(out.started, res.stderr).toBe(true);
      expect(out.workers).toBeGreaterThanOrEqual(1);
      // WEIR_VERIFY_OPT (set by the vitest config) runs the product a second time, unoptimized.
      expect(out.threaded).toBeGreaterThanOrEqual(1);
    }
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  // A worker that exits in the middle of a product (process.exit in it, as a crash would), or never
  // finishes its block, must not hang the caller: the product completes on the calling thread with
  // the right result, the workers are replaced, and the process still ends on its own.
  // With operands in the WebAssembly memory (heap), the calling thread writes its blocks into C
  // where it is and reads the others' from their staged copy; C accumulates (beta = 1), so the
  // blocks redone after the fault must start from C as it was.
  for (const [fault, heap] of [['exit', false], ['hang', false], ['exit', true], ['hang', true]] as const) {
    it(`survives a worker that ${fault === 'exit' ? 'exits' : 'hangs'} mid-product${heap ? ' (operands in the heap)' : ''}`, () => {
      const script = `
        import { injectWorkerFault, setThreadsEnabled, sgemm, startThreads, threadedCalls } from './runtime/cpu/gemm.ts';
        import { sharedPoolReplacements, sharedPoolSize } from './runtime/cpu/threads.ts';
        import { heapRegion } from './runtime/cpu/heap.ts';
        const M = 700, N = 600, K = 300, heap = ${heap};
        const array = (n, f) => {
          const r = heap ? heapRegion(4 * n) : null;
          const x = r ? new Float32Array(r.buffer, r.byteOffset, n) : new Float32Array(n);
          for (let i = 0; i < n; i++) x[i] = f(i);
          return x;
        };
        const A = array(M * K, (i) => Math.sin(i));
        const B = array(K * N, (i) => Math.cos(i * 0.7));
        const C = array(M * N, () => 0);
        const product = (threads) => {
          setThreadsEnabled(threads);
          for (let i = 0; i < C.length; i++) C[i] = heap ? Math.sin(i * 0.3) : 0;
          sgemm(false, false, M, N, K, 1, A, K, B, N, heap ? 1 : 0, C, N);
          return C.slice();
        };
        const same = (x, y) => x.every((v, i) => Object.is(v, y[i]));
        const ref = product(false);
        setThreadsEnabled(true);
        const started = await startThreads();
        const workers = sharedPoolSize();
        injectWorkerFault('${fault}');
        const t0 = Date.now();
        const first = product(true);
        const ms = Date.now() - t0;
        // A new pool starts once the old workers have exited.
        let restarted = false;
        for (let i = 0; i < 300 && !restarted; i++) {
          restarted = await startThreads();
          if (!restarted) await new Promise((r) => setTimeout(r, 10));
        }
        const before = threadedCalls();
        const second = product(true);
        console.log(JSON.stringify({ started, workers, firstOk: same(first, ref), secondOk: same(second, ref), ms,
          replacements: sharedPoolReplacements(), restarted, threadedAgain: threadedCalls() - before }));
      `;
      const t0 = Date.now();
      const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: new URL('..', import.meta.url).pathname,
        encoding: 'utf8',
        timeout: 40_000,
        // Three threads: the faulty worker, a healthy one, and the caller.
        env: { ...process.env, WEIR_CPU_THREADS: '3' },
      });
      expect(res.error).toBeUndefined();
      expect(res.status, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      expect(out.firstOk).toBe(true);
      expect(out.secondOk).toBe(true);
      if (fastForcedOff || !threadsAvailable()) {
        expect(out).toMatchObject({ started: false, replacements: 0 });
      } else {
        expect(out).toMatchObject({ started: true, workers: 2, replacements: 1, restarted: true, threadedAgain: 1 });
        // A worker that exits is noticed at once; one that hangs after a bounded wait.
        if (fault === 'exit') expect(out.ms as number).toBeLessThan(1500);
        else expect(out.ms as number).toBeGreaterThanOrEqual(1900);
      }
      expect(Date.now() - t0).toBeLessThan(40_000);
    });
  }

  it.runIf(fastForcedOff)('WEIR_CPU_FAST=0 turns off the SIMD kernel and the threads', async () => {
    expect(simdAvailable()).toBe(false);
    expect(threadsAvailable()).toBe(false);
    expect(await startThreads()).toBe(false);
    product({ tA: false, tB: false, M: 256, N: 256, K: 256, alpha: 1, beta: 0, pad: 0 }, true, 1);
    expect(sharedPoolSize()).toBe(0);
    expect(threadedCalls()).toBe(0);
  });
});
