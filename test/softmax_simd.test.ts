// runtime/cpu/softmax.ts: softmax rows in WebAssembly SIMD (float64 exp and log lanes), split over
// parallel.ts's workers. Against the TypeScript kernels' formula in float64 (rounded once to
// float32, the value must be the same float32 or its neighbour), with NaN and infinite logits, the
// same bits on one thread and on several, and through the kernels it serves in a session.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { heapArray } from '../runtime/cpu/heap.js';
import { parallelThreadedTasks, parallelThreadsAvailable, setParallelThreadsEnabled, startParallelThreads } from '../runtime/cpu/parallel.js';
import { softmaxRowsSimd, type SoftmaxMode } from '../runtime/cpu/softmax.js';
import { rng } from './helpers.js';

beforeAll(async () => {
  await startParallelThreads();
});

function logits(n: number, c: number, seed: number, heap = true): Float32Array {
  const r = rng(seed);
  const x = heap ? (heapArray('float32', n * c) as Float32Array | null) ?? new Float32Array(n * c) : new Float32Array(n * c);
  for (let i = 0; i < x.length; i++) x[i] = (r() * 2 - 1) * 12;
  return x;
}

/** The TypeScript kernels' formula: max, float64 sum of exp(x - max), then each output in float64, rounded once. */
function reference(mode: SoftmaxMode, x: Float32Array, n: number, c: number): { out: Float32Array; stats: Float64Array } {
  const out = new Float32Array(n * c);
  const stats = new Float64Array(2 * n);
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) if (x[r * c + j]! > m) m = x[r * c + j]!;
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(x[r * c + j]! - m);
    const ls = Math.log(s);
    stats.set([m, ls], 2 * r);
    for (let j = 0; j < c; j++) {
      const v = x[r * c + j]! - m;
      out[r * c + j] = mode === 'softmax' ? Math.exp(v) / s : mode === 'log' ? v - ls : Math.exp(v - ls);
    }
  }
  return { out, stats };
}

/** Same float32, or adjacent ones (the exp, log and summation order differ from Math's); NaN where NaN. */
function expectUlp(got: Float32Array, want: Float32Array, what: string): void {
  const gi = new Int32Array(got.buffer, got.byteOffset, got.length);
  const wi = new Int32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < got.length; i++) {
    if (Number.isNaN(want[i]!)) expect(Number.isNaN(got[i]!), `${what}[${i}]`).toBe(true);
    else if (got[i] !== want[i]) expect(Math.abs(gi[i]! - wi[i]!), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(1);
  }
}

const available = heapArray('float32', 1) !== null && softmaxRowsSimd('softmax', heapArray('float32', 4) as Float32Array, heapArray('float32', 4) as Float32Array, 1, 4);

describe('softmax rows in WebAssembly', () => {
  for (const [n, c] of [[1, 1], [3, 2], [5, 7], [64, 10], [37, 1001], [300, 4096]] as const) {
    for (const mode of ['softmax', 'log', 'exp-log'] as const) {
      it(`${n} rows of ${c}, ${mode}: the float64 formula within an ulp, with its max and log-sum-exp`, () => {
        if (!available) return;
        const x = logits(n, c, n * 31 + c);
        const out = heapArray('float32', n * c) as Float32Array;
        const stats = new Float64Array(2 * n);
        expect(softmaxRowsSimd(mode, x, out, n, c, stats)).toBe(true);
        const ref = reference(mode, x, n, c);
        expectUlp(out, ref.out, mode);
        for (let i = 0; i < 2 * n; i++) expect(Math.abs(stats[i]! - ref.stats[i]!), `stats[${i}]`).toBeLessThanOrEqual(1e-12 * Math.abs(ref.stats[i]!) + 1e-15);
      });
    }
  }

  it('NaN in a row makes the row NaN; -Infinity logits get probability 0, a row of them NaN (as the TypeScript kernels)', () => {
    if (!available) return;
    const x = logits(4, 9, 5);
    x[2] = NaN;
    x[9 + 4] = -Infinity;
    for (let j = 0; j < 9; j++) x[18 + j] = -Infinity;
    x[27 + 1] = Infinity;
    for (const mode of ['softmax', 'log', 'exp-log'] as const) {
      const out = heapArray('float32', 36) as Float32Array;
      softmaxRowsSimd(mode, x, out, 4, 9);
      expectUlp(out, reference(mode, x, 4, 9).out, mode);
    }
  });

  it('gives the same bits on one thread as split over the workers, and splits large inputs', () => {
    if (!available) return;
    const [n, c] = [256, 2000];
    const x = logits(n, c, 77);
    const several = heapArray('float32', n * c) as Float32Array;
    const tasks = parallelThreadedTasks().tasks;
    softmaxRowsSimd('log', x, several, n, c);
    if (parallelThreadsAvailable()) expect(parallelThreadedTasks().tasks).toBeGreaterThan(tasks);
    const prev = setParallelThreadsEnabled(false);
    const one = heapArray('float32', n * c) as Float32Array;
    try {
      softmaxRowsSimd('log', x, one, n, c);
    } finally {
      setParallelThreadsEnabled(prev);
    }
    expect(Buffer.from(one.buffer, one.byteOffset, one.byteLength).equals(Buffer.from(several.buffer, several.byteOffset, several.byteLength))).toBe(true);
  });

  it('copies operands outside the WebAssembly memory through it', () => {
    if (!available) return;
    const x = logits(6, 50, 9, false);
    const out = new Float32Array(300);
    expect(softmaxRowsSimd('softmax', x, out, 6, 50)).toBe(true);
    expectUlp(out, reference('softmax', x, 6, 50).out, 'staged');
  });
});

describe('the softmax kernels in a session', () => {
  it('Softmax, LogSoftmax and both cross-entropies of 40 rows of 500 logits: the float64 formula within an ulp', async () => {
    const [n, c] = [40, 500];
    const x = logits(n, c, 3, false);
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 37) % c);
    const dense = new Float32Array(n * c);
    for (let r = 0; r < n; r++) dense[r * c + labels[r]!] = 1;
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const xt = tf.placeholder('float32', [n, c]);
      const sparse = tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.constant(new tf.NDArray(labels, [n], 'int32')), logits: xt });
      const full = tf.nn.softmaxCrossEntropyWithLogits({ labels: tf.constant(new tf.NDArray(dense, [n, c])), logits: xt });
      return { xt, sm: tf.nn.softmax(xt), lsm: tf.nn.logSoftmax(xt), sparse, full, grad: tf.gradients(tf.reduceSum(sparse), [xt])[0]! };
    });
    const sess = new tf.Session({ graph: g });
    const [sm, lsm, sparse, full, grad] = await sess.run([m.sm, m.lsm, m.sparse, m.full, m.grad], [[m.xt, new tf.NDArray(x, [n, c])]]);
    sess.close();
    expectUlp(sm!.data as Float32Array, reference('softmax', x, n, c).out, 'Softmax');
    expectUlp(lsm!.data as Float32Array, reference('log', x, n, c).out, 'LogSoftmax');
    const ref = reference('exp-log', x, n, c);
    const loss = Float32Array.from({ length: n }, (_, r) => ref.stats[2 * r + 1]! - (x[r * c + labels[r]!]! - ref.stats[2 * r]!));
    expectUlp(sparse!.data as Float32Array, loss, 'SparseSoftmaxCrossEntropyWithLogits');
    expectUlp(full!.data as Float32Array, loss, 'SoftmaxCrossEntropyWithLogits');
    const want = ref.out.slice();
    for (let r = 0; r < n; r++) want[r * c + labels[r]!] -= 1;
    expectUlp(grad!.data as Float32Array, want, 'gradient');
  });
});
