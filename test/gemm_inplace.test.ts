import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  setInPlaceEnabled,
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
import { freeHeapRegion, heapAddress, heapRegion, type HeapRegion } from '../runtime/cpu/heap.js';
import { rng, runWithRelaxedSimd } from './helpers.js';

// Operands that live in the WebAssembly memory (heapRegion, as arenas and variables will) are read,
// and C written, where they are. Every case runs twice on the same inputs, once in place and once
// with in-place use switched off (every operand copied into the staging area): the two results must
// be the same bits, and no float outside the product (C's gaps, the floats around each view) may
// change. The staged path itself is checked against float64 in gemm_fast.test.ts.

const random = rng(23);
/** Floats written around every view: a write past an operand (a partial tile) shows up as a change. */
const GUARD = 37;
const SENTINEL = -7.25;
const heapOk = simdAvailable() && heapRegion(4) !== null;

interface Operand {
  /** The view the product sees. */
  view: Float32Array;
  /** The whole allocation: GUARD sentinels, the view, GUARD sentinels. */
  whole: Float32Array;
  region: HeapRegion | null;
}

/** A view of n floats at float `shift` (odd offsets too) of a fresh heap region, or of an ordinary array. */
function operand(n: number, inHeap: boolean, shift: number): Operand {
  const total = n + shift + 2 * GUARD;
  const region = inHeap ? heapRegion(total * 4) : null;
  if (inHeap && region === null) throw new Error('heapRegion gave no memory');
  const whole = region ? new Float32Array(region.buffer, region.byteOffset, total) : new Float32Array(total);
  whole.fill(SENTINEL);
  const view = whole.subarray(GUARD + shift, GUARD + shift + n);
  for (let i = 0; i < n; i++) view[i] = 2 * random() - 1;
  return { view, whole, region };
}

interface Case {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra floats between the rows of each operand. */
  gap: number;
  /** Element offset of each operand in its view (offA, offB, offC). */
  off: number;
  /** Which operands live in the heap: bits 1 (A), 2 (B), 4 (C). */
  heap: number;
  /** Float offset of each view in its region (odd: views not 16-byte aligned). */
  shift: number;
}

/** Runs the case in place and staged on copies of the same inputs; returns the first difference, or null. */
function compare(c: Case): string | null {
  const lda = (c.tA ? c.M : c.K) + c.gap;
  const ldb = (c.tB ? c.K : c.N) + c.gap;
  const ldc = c.N + c.gap;
  const ops = [
    operand(c.off + (c.tA ? c.K : c.M) * lda, (c.heap & 1) !== 0, c.shift),
    operand(c.off + (c.tB ? c.N : c.K) * ldb, (c.heap & 2) !== 0, c.shift + 1),
    operand(c.off + c.M * ldc + 3, (c.heap & 4) !== 0, c.shift + 2),
  ] as const;
  try {
    const [A, B, C] = ops;
    // beta = 0 must overwrite C, NaNs included.
    if (c.beta === 0) for (let i = 0; i < c.M; i++) C.view[c.off + i * ldc] = NaN;
    const inputs = ops.map((o) => o.whole.slice());
    const results: Float32Array[][] = [];
    for (const inPlace of [true, false]) {
      ops.forEach((o, i) => o.whole.set(inputs[i]!));
      const prev = setInPlaceEnabled(inPlace);
      try {
        sgemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, A.view, lda, B.view, ldb, c.beta, C.view, ldc, c.off, c.off, c.off);
      } finally {
        setInPlaceEnabled(prev);
      }
      results.push(ops.map((o) => o.whole.slice()));
    }
    const [inPlace, staged] = results as [Float32Array[], Float32Array[]];
    for (let o = 0; o < 3; o++) {
      const name = 'ABC'[o]!;
      for (let p = 0; p < inPlace[o]!.length; p++) {
        if (!Object.is(inPlace[o]![p], staged[o]![p])) return `${name}: float ${p} of its allocation is ${inPlace[o]![p]} in place, ${staged[o]![p]} staged`;
      }
    }
    // Only C's product elements may change (checked on the staged result, equal to the other).
    const q0 = GUARD + c.shift + 2 + c.off;
    for (let p = 0; p < staged[2]!.length; p++) {
      const q = p - q0;
      const i = Math.floor(q / ldc);
      const inside = q >= 0 && i < c.M && q - i * ldc < c.N;
      if (!inside && !Object.is(staged[2]![p], inputs[2]![p])) return `C: float ${p} outside the product changed`;
      if (inside && Object.is(staged[2]![p], inputs[2]![p])) return `C: float ${p} of the product was not written`;
    }
    for (let o = 0; o < 2; o++) if (staged[o]!.some((x, p) => !Object.is(x, inputs[o]![p]))) return `${'AB'[o]} changed`;
    return null;
  } finally {
    for (const o of ops) if (o.region) freeHeapRegion(o.region);
  }
}

function cases(): Case[] {
  const out: Case[] = [];
  // Sizes on both sides of MR (4) and NR (8) (partial tiles in the last rows, columns, both), of the
  // limits for reading op(B) unpacked (64 rows) and packing op(A), of a KC slice (512), and one-row
  // products (gemvN: columns in fours) with and without a partial group of four.
  const sizes: [number, number, number][] = [
    [4, 8, 8], [5, 9, 17], [3, 7, 5], [8, 16, 3], [6, 8, 40], [4, 13, 33], [33, 64, 70], [65, 17, 33],
    [70, 40, 530], [261, 40, 70], [1, 300, 70], [1, 1030, 33], [1, 9, 2000], [1, 8, 2100], [2, 12, 2048],
  ];
  const alphaBeta = [[1, 0], [1, 1], [1, 0.5], [-0.5, 0.25], [2, 0]] as const;
  let n = 0;
  for (const [M, N, K] of sizes) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const [alpha, beta] = alphaBeta[n % alphaBeta.length]!;
        // All three in the heap most of the time; each alone now and then.
        const heap = [7, 7, 1, 7, 2, 7, 4, 6][n % 8]!;
        out.push({ tA, tB, M, N, K, alpha, beta, gap: [0, 3, 40][n % 3]!, off: n % 3, heap, shift: [0, 1, 3, 5][n % 4]! });
        n++;
      }
    }
  }
  return out;
}

describe.skipIf(!heapOk)('sgemm on operands in the WebAssembly memory', () => {
  let threads = true;
  beforeAll(() => {
    threads = setThreadsEnabled(false);
  });
  afterAll(() => {
    setThreadsEnabled(threads);
  });

  it('views the operands where heapRegion put them', () => {
    const o = operand(10, true, 3);
    expect(heapAddress(o.view)).toBe(o.region!.byteOffset + 4 * (GUARD + 3));
    freeHeapRegion(o.region!);
    expect(heapAddress(new Float32Array(10))).toBe(-1);
  });

  it('gives the staged path bits: every transpose, partial tiles, alpha and beta, gaps, odd offsets', () => {
    for (const c of cases()) expect(compare(c), JSON.stringify(c)).toBeNull();
  });

  // gemvN adds each element's products in k order, as the macro-kernels do: row 0 of a 5-row
  // product (mkRows / mkLanes) must be a one-row product's bits, bit for bit.
  it('gives one-row products (gemvN) the bits of the same row in a many-row product', () => {
    for (const [N, K, tA, beta] of [[300, 70, false, 0], [1030, 600, true, 1], [9, 2000, false, 1]] as const) {
      const M = 5;
      const A = operand(M * K, true, 1).view;
      const B = operand(K * N, true, 2).view;
      const C0 = operand(M * N, true, 3).view;
      const many = C0.slice();
      const one = C0.slice(0, N);
      sgemm(tA, false, M, N, K, 1, A, tA ? M : K, B, N, beta, many, N);
      // Row 0 of op(A): A's first row, or (transA) its first column, M apart.
      sgemm(tA, false, 1, N, K, 1, A, tA ? M : K, B, N, beta, one, N);
      for (let j = 0; j < N; j++) if (!Object.is(one[j], many[j])) throw new Error(`N=${N} K=${K} column ${j}: ${one[j]} one row, ${many[j]} in 5`);
    }
  });

  it('stages C when it overlaps an operand, so the product reads the operand before C changes', () => {
    const M = 13, N = 13, K = 13;
    const region = heapRegion(4 * M * K)!;
    const run = (inPlace: boolean): Float32Array => {
      const X = new Float32Array(region.buffer, region.byteOffset, M * K);
      for (let i = 0; i < X.length; i++) X[i] = Math.sin(i);
      const prev = setInPlaceEnabled(inPlace);
      try {
        // C = X * X^T written over X itself.
        sgemm(false, true, M, N, K, 1, X, K, X.slice(), K, 0, X, N);
      } finally {
        setInPlaceEnabled(prev);
      }
      return X.slice();
    };
    const staged = run(false);
    const inPlace = run(true);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.sin(k) * Math.sin(k);
    expect(staged[0]).toBeCloseTo(s, 4);
    for (let i = 0; i < staged.length; i++) expect(Object.is(inPlace[i], staged[i])).toBe(true);
    freeHeapRegion(region);
  });
});

describe.skipIf(!heapOk || !threadsAvailable())('sgemm on operands in the WebAssembly memory, threaded', () => {
  let backoff = true;
  beforeAll(async () => {
    backoff = setThreadBackoff(false);
    expect(await startThreads()).toBe(true);
  });
  afterAll(async () => {
    setThreadBackoff(backoff);
    await stopThreads();
  });

  /** C from the case's operands (all in the heap) with threads on or off. */
  function product(M: number, N: number, K: number, tA: boolean, tB: boolean, beta: number, threads: boolean): Float32Array {
    const ops = [operand(M * K, true, 1), operand(K * N, true, 2), operand(M * N, true, 3)];
    try {
      const r = rng(M + N + K);
      for (const o of ops) for (let i = 0; i < o.view.length; i++) o.view[i] = 2 * r() - 1;
      const prev = setThreadsEnabled(threads);
      try {
        sgemm(tA, tB, M, N, K, 1, ops[0]!.view, tA ? M : K, ops[1]!.view, tB ? K : N, beta, ops[2]!.view, N);
      } finally {
        setThreadsEnabled(prev);
      }
      return ops[2]!.whole.slice();
    } finally {
      for (const o of ops) freeHeapRegion(o.region!);
    }
  }

  // A batch-1 dense layer's product (split by columns), and products split by rows and by columns.
  const shapes: [number, number, number, boolean, boolean][] = [
    [1, 1024, 3136, false, false],
    [1, 1021, 2100, true, false],
    [301, 130, 257, false, false],
    [130, 301, 257, true, true],
    // Column blocks whose op(B) the workers read unpacked (few rows of op(A), a narrow op(B)).
    [40, 500, 400, false, false],
  ];
  for (const [M, N, K, tA, tB] of shapes) {
    it(`gives one thread's bits (${M}x${N}x${K}, transA=${tA}, transB=${tB})`, () => {
      for (const beta of [0, 1]) {
        const before = threadedCalls();
        const failures = workerFailures();
        const split = product(M, N, K, tA, tB, beta, true);
        expect(threadedCalls()).toBe(before + 1);
        // No worker task failed (its blocks would have been redone on this thread, with the same bits).
        expect(workerFailures()).toBe(failures);
        const alone = product(M, N, K, tA, tB, beta, false);
        for (let i = 0; i < split.length; i++) if (!Object.is(split[i], alone[i])) throw new Error(`element ${i}: ${split[i]} threaded, ${alone[i]} alone`);
      }
    });
  }
});

// Node 20 validates f32x4.relaxed_madd only behind a flag: a child process started with it checks
// the fused kernels (gemvN's among them) in place against staged, threaded against one thread, and
// against float64.
describe.skipIf(!heapOk)('sgemm on operands in the WebAssembly memory, relaxed SIMD', () => {
  it('gives the staged path and one thread the same bits, within tolerance of float64', () => {
    const script = `
      import { relaxedSimdAvailable, setInPlaceEnabled, setThreadBackoff, setThreadsEnabled, sgemm, startThreads, threadedCalls, threadsAvailable } from './runtime/cpu/gemm.ts';
      import { heapRegion } from './runtime/cpu/heap.ts';
      const view = (n, seed) => {
        const r = heapRegion(4 * (n + 3));
        const v = new Float32Array(r.buffer, r.byteOffset + 4 * (seed % 3), n);
        for (let i = 0; i < n; i++) v[i] = Math.sin(i * 0.37 + seed);
        return v;
      };
      setThreadBackoff(false);
      const threads = (await startThreads()) && threadsAvailable();
      const out = { available: relaxedSimdAvailable(), threads, maxErr: 0, inPlaceSame: true, threadsSame: true, threaded: -threadedCalls() };
      for (const [M, N, K, tA, tB] of [[1, 1030, 700, false, false], [1, 1021, 2100, true, false], [37, 45, 530, false, true], [130, 301, 257, true, false]]) {
        const A = view(M * K, 1), B = view(K * N, 2), C = view(M * N, 3);
        const run = (inPlace, threaded) => {
          C.fill(0.5);
          setInPlaceEnabled(inPlace);
          setThreadsEnabled(threaded);
          sgemm(tA, tB, M, N, K, 1, A, tA ? M : K, B, tB ? K : N, 1, C, N);
          return C.slice();
        };
        const ref = run(true, false), staged = run(false, false), split = run(true, true);
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
          let s = 0.5, mag = 0.5;
          for (let k = 0; k < K; k++) { const p = A[tA ? k * M + i : i * K + k] * B[tB ? j * K + k : k * N + j]; s += p; mag += Math.abs(p); }
          out.maxErr = Math.max(out.maxErr, Math.abs(ref[i * N + j] - s) / mag);
          if (!Object.is(ref[i * N + j], staged[i * N + j])) out.inPlaceSame = false;
          if (!Object.is(ref[i * N + j], split[i * N + j])) out.threadsSame = false;
        }
      }
      out.threaded += threadedCalls();
      // gemvN's fused multiply-adds in k order: a one-row product is row 0 of a 5-row one.
      setThreadsEnabled(false);
      const A5 = view(5 * 900, 4), B5 = view(900 * 301, 5), many = new Float32Array(5 * 301), one = new Float32Array(301);
      sgemm(false, false, 5, 301, 900, 1, A5, 900, B5, 301, 0, many, 301);
      sgemm(false, false, 1, 301, 900, 1, A5, 900, B5, 301, 0, one, 301);
      out.rowSame = one.every((v, j) => Object.is(v, many[j]));
      console.log(JSON.stringify(out));
    `;
    const out = runWithRelaxedSimd(script);
    expect(out.available).toBe(true);
    expect(out.maxErr as number).toBeLessThan(1e-5);
    expect(out.inPlaceSame).toBe(true);
    expect(out.rowSame).toBe(true);
    if (out.threads) {
      expect(out.threaded).toBe(2);
      expect(out.threadsSame).toBe(true);
    }
  });
});
