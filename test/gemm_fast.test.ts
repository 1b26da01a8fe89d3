import { describe, expect, it } from 'vitest';
import { relaxedSimdAvailable, setRelaxedSimdEnabled, setSimdEnabled, setThreadsEnabled, sgemm, simdAvailable } from '../runtime/cpu/gemm.js';
import { rng, runWithRelaxedSimd } from './helpers.js';

// The SIMD path stages the operands in WebAssembly memory, reads op(A) and (for few rows) op(B) in
// place, packs op(B) otherwise, and lets partial tiles read past the operands: every case below is
// checked against a float64 triple loop written here, element by element, including the parts of C
// that must not change.

interface Case {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra floats between rows of each operand (a few: staged with its own stride; many: staged compactly). */
  gap: number;
  /** Leading offset of each operand in its array. */
  off: number;
}

const random = rng(7);
const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => 2 * random() - 1);

/** Runs sgemm on a fresh random case; returns the first mismatch against the float64 reference, or null. */
function check(c: Case): string | null {
  const lda = (c.tA ? c.M : c.K) + c.gap;
  const ldb = (c.tB ? c.K : c.N) + c.gap;
  const ldc = c.N + c.gap;
  const A = fill(c.off + (c.tA ? c.K : c.M) * lda);
  const B = fill(c.off + (c.tB ? c.N : c.K) * ldb);
  const C = fill(c.off + c.M * ldc + 5);
  // beta = 0 must overwrite C, NaNs included.
  if (c.beta === 0) for (let i = 0; i < c.M; i++) C[c.off + i * ldc] = NaN;
  const before = C.slice();
  sgemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, A, lda, B, ldb, c.beta, C, ldc, c.off, c.off, c.off);
  const a = (i: number, k: number): number => A[c.off + (c.tA ? k * lda + i : i * lda + k)]!;
  const b = (k: number, j: number): number => B[c.off + (c.tB ? j * ldb + k : k * ldb + j)]!;
  for (let p = 0; p < C.length; p++) {
    const q = p - c.off;
    const i = Math.floor(q / ldc);
    const j = q - i * ldc;
    if (q < 0 || i >= c.M || j >= c.N) {
      if (!Object.is(C[p], before[p])) return `C[${p}] outside the product changed: ${before[p]} -> ${C[p]}`;
      continue;
    }
    let s = 0;
    let mag = 0;
    for (let k = 0; k < c.K; k++) {
      s += a(i, k) * b(k, j);
      mag += Math.abs(a(i, k) * b(k, j));
    }
    const prior = c.beta === 0 ? 0 : c.beta * before[p]!;
    const want = c.alpha * s + prior;
    const tol = 2e-6 * (Math.abs(c.alpha) * mag + Math.abs(prior)) + 1e-6;
    if (!(Math.abs(C[p]! - want) <= tol)) return `C[${i},${j}] = ${C[p]}, want ${want} (tolerance ${tol})`;
  }
  return null;
}

function cases(): Case[] {
  const out: Case[] = [];
  // Row counts on both sides of the in-place limit (64), of the limits for packing op(A) (64
  // stored transposed, 256 not) and of MR, column counts around NR, K across a KC slice (512).
  const sizes: [number, number, number][] = [
    [2, 2, 1], [3, 7, 5], [5, 9, 17], [4, 8, 8], [17, 33, 3], [32, 64, 32], [63, 10, 40], [64, 24, 64],
    [65, 17, 33], [130, 9, 20], [7, 130, 600], [70, 40, 1030], [261, 40, 70],
    // One-row products (batch-1 inference) large enough for the SIMD path.
    [1, 300, 70], [1, 9, 2000], [1, 1030, 33],
  ];
  let n = 0;
  for (const [M, N, K] of sizes) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const [alpha, beta] = ([[1, 0], [1, 1], [-0.5, 0.25], [2, 0]] as const)[n % 4]!;
        out.push({ tA, tB, M, N, K, alpha, beta, gap: [0, 3, 40][n % 3]!, off: n % 5 });
        n++;
      }
    }
  }
  return out;
}

describe.skipIf(!simdAvailable())('sgemm on the WebAssembly SIMD path', () => {
  it('equals a float64 triple loop for every transpose, odd sizes, alpha, beta, strides and offsets', () => {
    const prev = setThreadsEnabled(false);
    try {
      for (const c of cases()) expect(check(c), JSON.stringify(c)).toBeNull();
    } finally {
      setThreadsEnabled(prev);
    }
  });

  it('gives the same results after larger and smaller products reuse its buffers', () => {
    const prev = setThreadsEnabled(false);
    try {
      const small: Case = { tA: false, tB: false, M: 6, N: 11, K: 9, alpha: 1, beta: 1, gap: 1, off: 2 };
      expect(check(small)).toBeNull();
      expect(check({ tA: true, tB: true, M: 300, N: 200, K: 700, alpha: 1, beta: 0, gap: 0, off: 0 })).toBeNull();
      expect(check(small)).toBeNull();
    } finally {
      setThreadsEnabled(prev);
    }
  });

  it('stays within float32 tolerance of the portable TypeScript path', () => {
    const M = 37, N = 45, K = 530;
    const A = fill(M * K);
    const B = fill(K * N);
    const run = (simd: boolean): Float32Array => {
      const C = new Float32Array(M * N);
      const prev = setSimdEnabled(simd);
      try {
        sgemm(false, true, M, N, K, 1, A, K, B, K, 0, C, N);
      } finally {
        setSimdEnabled(prev);
      }
      return C;
    };
    const fast = run(true);
    const slow = run(false);
    for (let i = 0; i < fast.length; i++) expect(Math.abs(fast[i]! - slow[i]!)).toBeLessThan(1e-4);
  });
});

describe('relaxed SIMD', () => {
  it('is off where the engine does not validate it', () => {
    if (!relaxedSimdAvailable()) expect(setRelaxedSimdEnabled(true)).toBe(false);
  });

  // Node 20 validates f32x4.relaxed_madd only behind a flag: a child process started with it runs
  // the fused kernels against the plain ones and against float64, threaded and not.
  it.skipIf(!simdAvailable())('uses fused multiply-adds within tolerance, identically on any number of threads', () => {
    const script = `
      import { relaxedSimdAvailable, setRelaxedSimdEnabled, setThreadsEnabled, sgemm, startThreads, threadsAvailable } from './runtime/cpu/gemm.ts';
      const M = 190, N = 150, K = 700;
      const A = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37));
      const B = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i * 0.91));
      const product = (relaxed, threads, tA) => {
        setRelaxedSimdEnabled(relaxed);
        setThreadsEnabled(threads);
        const C = new Float32Array(M * N);
        sgemm(tA, false, M, N, K, 1, A, tA ? M : K, B, N, 0, C, N);
        return C;
      };
      const started = await startThreads();
      let maxErr = 0, plainMaxErr = 0, differs = false, threadsSame = true;
      for (const tA of [false, true]) {
        const fused = product(true, false, tA), plain = product(false, false, tA), fusedThreaded = product(true, true, tA);
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
          let s = 0, mag = 0;
          for (let k = 0; k < K; k++) { const p = A[tA ? k * M + i : i * K + k] * B[k * N + j]; s += p; mag += Math.abs(p); }
          maxErr = Math.max(maxErr, Math.abs(fused[i * N + j] - s) / mag);
          plainMaxErr = Math.max(plainMaxErr, Math.abs(plain[i * N + j] - s) / mag);
          if (fused[i * N + j] !== plain[i * N + j]) differs = true;
          if (!Object.is(fused[i * N + j], fusedThreaded[i * N + j])) threadsSame = false;
        }
      }
      console.log(JSON.stringify({ available: relaxedSimdAvailable(), threads: started && threadsAvailable(), maxErr, plainMaxErr, differs, threadsSame }));
    `;
    const out = runWithRelaxedSimd(script);
    expect(out.available).toBe(true);
    expect(out.maxErr as number).toBeLessThan(1e-5);
    expect(out.plainMaxErr as number).toBeLessThan(1e-5);
    // The fused kernel rounds once per multiply-add: some results differ from the plain kernel's.
    expect(out.differs).toBe(true);
    if (out.threads) expect(out.threadsSame).toBe(true);
  });
});
