/**
 * Single-precision general matrix multiply for the CPU backend:
 *
 *   C = alpha * op(A) * op(B) + beta * C,   op(X) = X or X^T,   op(A): M x K, op(B): K x N
 *
 * Row-major storage with leading dimensions (lda, ldb, ldc) and element offsets, as in CBLAS with
 * CblasRowMajor. The structure is the GotoBLAS/BLIS one: the K dimension is cut into KC-deep slices,
 * a KC x NC block of op(B) is packed into NR-wide column panels, an MC x KC block of op(A) into
 * MR-high row panels (with alpha folded in), and a micro-kernel multiplies one A panel by one B panel
 * into an MR x NR block of C held in local variables. Packing makes the micro-kernel's reads
 * sequential and keeps the current panels in cache. The panels live in fixed buffers for the life
 * of the process (the blocking bounds their sizes), so a call allocates nothing.
 *
 * Two micro-kernels share that structure: a WebAssembly SIMD one (4 x 8 floats in eight f32x4
 * locals, about three times the speed of scalar JavaScript), used where the engine supports
 * WebAssembly SIMD, and a plain TypeScript one (32 number locals) used otherwise.
 *
 * On the SIMD path, products of at least THREAD_MIN_MACS multiply-adds are spread over worker
 * threads (runtime/cpu/threads.ts) that share the WebAssembly memory: C is cut into blocks of rows
 * or columns which the threads claim one at a time. Splitting C never changes the order in which
 * an element's products are summed, so results are bit for bit those of one thread. The workers
 * run the same packing and macro-kernel functions (their source text) and the same kernel bytes.
 *
 * WEIR_CPU_FAST=0 (read once) forces the portable path: the TypeScript micro-kernel, no threads.
 * WEIR_CPU_THREADS=n sets the number of threads (the calling one included; default: the core count).
 */

import {
  F32X4_ADD,
  F32X4_MUL,
  get,
  I32,
  I32_ADD,
  I32_CONST,
  I32_SUB,
  set,
  simd,
  sleb,
  tee,
  V128,
  V128_LOAD,
  V128_LOAD32_SPLAT,
  V128_STORE,
  wasmModule,
  type WasmFunction,
} from './wasm.js';
import { ARG, CTRL_BYTES, ThreadPool, threadCount, workerLoopSource } from './threads.js';
import { config } from '../../src/core/config.js';

const MR = 4;
const NR = 8;
const KC = 512;
const MC = 128;
const NC = 2048;
/**
 * Threaded products hand out blocks of C through the job words (int32s at JOB_BYTE): the next
 * unclaimed block, then for each block the thread that computed it (0 = the calling thread, w + 1 = worker w).
 */
const MAX_BLOCKS = 64;

// Float offsets of the packed A block, the packed B block and the SIMD kernel's C block in a thread's panel area.
const A_AT = 0;
const B_AT = A_AT + MC * KC;
const CB_AT = B_AT + KC * NC;
const PANEL_FLOATS = CB_AT + MC * NC;

type SimdKernel = (kc: number, aByte: number, bByte: number, cByte: number, ldcBytes: number) => void;

/** WEIR_CPU_FAST=0 forces the portable path (TypeScript micro-kernel, one thread); read once, at load. */
const FAST = config.cpuFast();
const THREADS = FAST ? threadCount() : 1;

// The WebAssembly memory (shared with the workers where the engine allows): the workers' control
// blocks, then one panel area per thread (the calling thread's first), then the staging area into
// which a threaded product copies each worker's share of the operands and from which it copies back
// the worker's share of C.
const JOB_BYTE = Math.max(1, THREADS - 1) * CTRL_BYTES;
const PANELS_BYTE = Math.ceil((JOB_BYTE + 4 * (1 + MAX_BLOCKS)) / 64) * 64;
const STAGE_BYTE = PANELS_BYTE + THREADS * PANEL_FLOATS * 4;
const MAX_PAGES = 16384; // 1 GiB
/** Below this many multiply-adds a product stays on the calling thread (waking a worker costs more). */
const THREAD_MIN_MACS = 1 << 21;

const fast = FAST ? createMemory() : null;
/** A view of the whole WebAssembly memory (refreshed when the staging area grows), or plain panels. */
let mem = fast !== null ? new Float32Array(fast.memory.buffer) : new Float32Array(PANEL_FLOATS);
const base0 = fast !== null ? PANELS_BYTE / 4 : 0;
const simdKernel = fast?.kernel ?? null;
const jobWords = new Int32Array(mem.buffer, fast !== null ? JOB_BYTE : 0, 1 + MAX_BLOCKS);
const packedA = mem.subarray(base0 + A_AT, base0 + B_AT);
const packedB = mem.subarray(base0 + B_AT, base0 + CB_AT);
let simdEnabled = simdKernel !== null;
const canThread = fast !== null && fast.shared && THREADS > 1;
let threadsEnabled = canThread;
let pool: ThreadPool | null = null;
let poolFailed = false;
let threaded = 0;
/** A pool given up on (a worker died or hung) that has not exited yet: no new pool until it has. */
let retiring: ThreadPool | null = null;
/** Pools replaced after a worker died or hung; after MAX_REPLACEMENTS the threads stay off. */
let replacements = 0;
const MAX_REPLACEMENTS = 3;
/** A fault the next threaded product's first worker injects into its task (tests only). */
let pendingFault = 0;
/** How long the calling thread waits for a worker beyond its own share of the work, at least. */
const WAIT_MIN_MS = 2000;

/** Edge tiles (fewer than MR rows or NR columns left) are computed here, then the valid part is added to C. */
const edgeTile = new Float32Array(MR * NR);

/** Whether the WebAssembly SIMD micro-kernel can run here. */
export function simdAvailable(): boolean {
  return simdKernel !== null;
}

/** Turns the SIMD micro-kernel on or off (tests and benchmarks compare both); returns the previous setting. */
export function setSimdEnabled(on: boolean): boolean {
  const prev = simdEnabled;
  simdEnabled = on && simdKernel !== null;
  return prev;
}

/** Whether large products can be spread over worker threads here (SIMD, shared memory, more than one core, not forced off). */
export function threadsAvailable(): boolean {
  return canThread && !poolFailed;
}

/** Turns the worker threads on or off; returns the previous setting. Off, every product runs on the calling thread. */
export function setThreadsEnabled(on: boolean): boolean {
  const prev = threadsEnabled;
  threadsEnabled = on && canThread;
  return prev;
}

/**
 * Starts the worker threads now rather than at the first large product (which runs on the calling
 * thread alone until they are up); resolves to whether they run.
 */
export async function startThreads(): Promise<boolean> {
  const p = ensurePool();
  return p !== null && (await p.whenReady());
}

/** Stops the worker threads (they start again at the next large product); resolves when they have exited. */
export async function stopThreads(): Promise<void> {
  const p = pool;
  pool = null;
  if (p !== null) await p.close();
}

/** How many products have been split over the worker threads since the process started. */
export function threadedCalls(): number {
  return threaded;
}

/** The number of worker threads running now (0 before the first large product). */
export function workerCount(): number {
  return pool?.size ?? 0;
}

/** How many times the workers were replaced after one of them died or hung. */
export function poolReplacements(): number {
  return replacements;
}

/**
 * For tests: the first worker of the next threaded product claims a block and then exits
 * (`'exit'`) or never finishes it (`'hang'`), as a crashing or stuck thread would.
 */
export function injectWorkerFault(kind: 'exit' | 'hang'): void {
  pendingFault = kind === 'exit' ? 1 : 2;
}

/**
 * Gives up on the pool after a worker died or hung: it is stopped (a hung worker is terminated),
 * and a new one may start once all its workers have exited, so that none can still write into the
 * shared staging area. After MAX_REPLACEMENTS replacements the threads stay off.
 */
function retirePool(p: ThreadPool): void {
  if (pool === p) pool = null;
  replacements++;
  if (replacements >= MAX_REPLACEMENTS) poolFailed = true;
  retiring = p;
  void p.close().then(() => {
    if (retiring === p) retiring = null;
  });
}

/**
 * C[offC + i*ldc + j] = alpha * sum_k op(A)[i,k] * op(B)[k,j] + beta * C[offC + i*ldc + j]
 * for i < M, j < N. op(A)[i,k] is A[offA + i*lda + k], or A[offA + k*lda + i] when transA;
 * op(B)[k,j] is B[offB + k*ldb + j], or B[offB + j*ldb + k] when transB.
 * beta = 0 overwrites C (NaNs already in C do not leak through), as BLAS does.
 * Large products on the SIMD path are split into row or column blocks computed by the worker
 * threads and the calling thread; every element of C is summed in the same order either way, so
 * the result does not depend on the number of threads.
 */
export function sgemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
  offA = 0,
  offB = 0,
  offC = 0,
): void {
  if (M <= 0 || N <= 0) return;
  if (simdEnabled && M > 1 && N > 1 && K > 0 && alpha !== 0) {
    if (threadsEnabled && M * N * K >= THREAD_MIN_MACS && sgemmThreaded(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA, offB, offC)) return;
    gemmSimd(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA, offB, offC, mem, base0, simdKernel!);
    return;
  }
  if (beta !== 1) scaleC(M, N, beta, C, ldc, offC);
  if (K <= 0 || alpha === 0) return;
  if (M === 1 || N === 1) {
    // A matrix-vector product: packing would cost as much as the product and waste most of each tile.
    gemv(transA, transB, M, N, K, alpha, A, lda, B, ldb, C, ldc, offA, offB, offC);
    return;
  }

  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    // K is cut into equal slices of at most KC (800 = 2 x 400 rather than 512 + 288).
    const kSlice = Math.ceil(K / Math.ceil(K / KC));
    for (let pc = 0; pc < K; pc += kSlice) {
      const kc = Math.min(kSlice, K - pc);
      packB(transB, B, offB, ldb, pc, kc, jc, nc, packedB);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        packA(transA, A, offA, lda, ic, mc, pc, kc, alpha, packedA);
        macroKernel(mc, nc, kc, packedA, packedB, C, offC + ic * ldc + jc, ldc);
      }
    }
  }
}

/** C += alpha * op(A) * op(B) when M or N is 1, reading each operand once along its rows. */
function gemv(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  C: Float32Array,
  ldc: number,
  offA: number,
  offB: number,
  offC: number,
): void {
  if (M === 1) {
    // c[j] += alpha * sum_k a[k] * op(B)[k, j]; a[k] is A[offA + k] (or A[offA + k*lda] when transposed).
    const aStride = transA ? lda : 1;
    if (!transB) {
      for (let k = 0; k < K; k++) {
        const a = alpha * A[offA + k * aStride]!;
        const row = offB + k * ldb;
        for (let j = 0; j < N; j++) C[offC + j]! += a * B[row + j]!;
      }
    } else {
      for (let j = 0; j < N; j++) {
        const row = offB + j * ldb;
        let s = 0;
        for (let k = 0; k < K; k++) s += A[offA + k * aStride]! * B[row + k]!;
        C[offC + j]! += alpha * s;
      }
    }
    return;
  }
  // N === 1: c[i] += alpha * sum_k op(A)[i, k] * b[k]; b[k] is B[offB + k*ldb] (or B[offB + k] when transposed).
  const bStride = transB ? 1 : ldb;
  if (!transA) {
    for (let i = 0; i < M; i++) {
      const row = offA + i * lda;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[row + k]! * B[offB + k * bStride]!;
      C[offC + i * ldc]! += alpha * s;
    }
  } else {
    for (let k = 0; k < K; k++) {
      const b = alpha * B[offB + k * bStride]!;
      const row = offA + k * lda;
      for (let i = 0; i < M; i++) C[offC + i * ldc]! += b * A[row + i]!;
    }
  }
}

function scaleC(M: number, N: number, beta: number, C: Float32Array, ldc: number, offC: number): void {
  for (let i = 0; i < M; i++) {
    const row = offC + i * ldc;
    if (beta === 0) C.fill(0, row, row + N);
    else for (let j = row; j < row + N; j++) C[j]! *= beta;
  }
}

/** Packs op(B)[pc:pc+kc, jc:jc+nc] as panels of NR columns, each stored k-major; short panels are zero-filled. */
function packB(
  transB: boolean,
  B: Float32Array,
  offB: number,
  ldb: number,
  pc: number,
  kc: number,
  jc: number,
  nc: number,
  out: Float32Array,
): void {
  let dst = 0;
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const nr = Math.min(NR, nc - j0);
    if (!transB) {
      let src = offB + pc * ldb + jc + j0;
      if (nr === NR) {
        for (let k = 0; k < kc; k++) {
          out[dst] = B[src]!;
          out[dst + 1] = B[src + 1]!;
          out[dst + 2] = B[src + 2]!;
          out[dst + 3] = B[src + 3]!;
          out[dst + 4] = B[src + 4]!;
          out[dst + 5] = B[src + 5]!;
          out[dst + 6] = B[src + 6]!;
          out[dst + 7] = B[src + 7]!;
          dst += NR;
          src += ldb;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          let jj = 0;
          for (; jj < nr; jj++) out[dst + jj] = B[src + jj]!;
          for (; jj < NR; jj++) out[dst + jj] = 0;
          dst += NR;
          src += ldb;
        }
      }
    } else {
      for (let jj = 0; jj < NR; jj++) {
        let d = dst + jj;
        if (jj < nr) {
          let src = offB + (jc + j0 + jj) * ldb + pc;
          for (let k = 0; k < kc; k++, d += NR) out[d] = B[src++]!;
        } else {
          for (let k = 0; k < kc; k++, d += NR) out[d] = 0;
        }
      }
      dst += kc * NR;
    }
  }
}

/** Packs alpha * op(A)[ic:ic+mc, pc:pc+kc] as panels of MR rows, each stored k-major; short panels are zero-filled. */
function packA(
  transA: boolean,
  A: Float32Array,
  offA: number,
  lda: number,
  ic: number,
  mc: number,
  pc: number,
  kc: number,
  alpha: number,
  out: Float32Array,
): void {
  let dst = 0;
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const mr = Math.min(MR, mc - i0);
    if (transA) {
      let src = offA + pc * lda + ic + i0;
      if (mr === MR) {
        for (let k = 0; k < kc; k++) {
          out[dst] = alpha * A[src]!;
          out[dst + 1] = alpha * A[src + 1]!;
          out[dst + 2] = alpha * A[src + 2]!;
          out[dst + 3] = alpha * A[src + 3]!;
          dst += MR;
          src += lda;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          let ii = 0;
          for (; ii < mr; ii++) out[dst + ii] = alpha * A[src + ii]!;
          for (; ii < MR; ii++) out[dst + ii] = 0;
          dst += MR;
          src += lda;
        }
      }
    } else {
      for (let ii = 0; ii < MR; ii++) {
        let d = dst + ii;
        if (ii < mr) {
          let src = offA + (ic + i0 + ii) * lda + pc;
          for (let k = 0; k < kc; k++, d += MR) out[d] = alpha * A[src++]!;
        } else {
          for (let k = 0; k < kc; k++, d += MR) out[d] = 0;
        }
      }
      dst += kc * MR;
    }
  }
}

/** C[mc x nc block at offC] += packed A block * packed B block. */
function macroKernel(
  mc: number,
  nc: number,
  kc: number,
  pA: Float32Array,
  pB: Float32Array,
  C: Float32Array,
  offC: number,
  ldc: number,
): void {
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const nr = Math.min(NR, nc - j0);
    const pb = j0 * kc;
    for (let i0 = 0; i0 < mc; i0 += MR) {
      const mr = Math.min(MR, mc - i0);
      const pa = i0 * kc;
      const c = offC + i0 * ldc + j0;
      if (mr === MR && nr === NR) {
        microKernel(kc, pA, pa, pB, pb, C, c, ldc);
      } else {
        edgeTile.fill(0);
        microKernel(kc, pA, pa, pB, pb, edgeTile, 0, NR);
        for (let i = 0; i < mr; i++) {
          for (let j = 0; j < nr; j++) C[c + i * ldc + j]! += edgeTile[i * NR + j]!;
        }
      }
    }
  }
}

/** C[4 x 8 at c] += (4 x kc panel at pa) * (kc x 8 panel at pb); the 32 sums stay in locals. */
function microKernel(kc: number, A: Float32Array, pa: number, B: Float32Array, pb: number, C: Float32Array, c: number, ldc: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
  for (let k = 0; k < kc; k++) {
    const b0 = B[pb]!, b1 = B[pb + 1]!, b2 = B[pb + 2]!, b3 = B[pb + 3]!;
    const b4 = B[pb + 4]!, b5 = B[pb + 5]!, b6 = B[pb + 6]!, b7 = B[pb + 7]!;
    let a = A[pa]!;
    c00 += a * b0; c01 += a * b1; c02 += a * b2; c03 += a * b3; c04 += a * b4; c05 += a * b5; c06 += a * b6; c07 += a * b7;
    a = A[pa + 1]!;
    c10 += a * b0; c11 += a * b1; c12 += a * b2; c13 += a * b3; c14 += a * b4; c15 += a * b5; c16 += a * b6; c17 += a * b7;
    a = A[pa + 2]!;
    c20 += a * b0; c21 += a * b1; c22 += a * b2; c23 += a * b3; c24 += a * b4; c25 += a * b5; c26 += a * b6; c27 += a * b7;
    a = A[pa + 3]!;
    c30 += a * b0; c31 += a * b1; c32 += a * b2; c33 += a * b3; c34 += a * b4; c35 += a * b5; c36 += a * b6; c37 += a * b7;
    pa += MR;
    pb += NR;
  }
  let p = c;
  C[p]! += c00; C[p + 1]! += c01; C[p + 2]! += c02; C[p + 3]! += c03; C[p + 4]! += c04; C[p + 5]! += c05; C[p + 6]! += c06; C[p + 7]! += c07;
  p += ldc;
  C[p]! += c10; C[p + 1]! += c11; C[p + 2]! += c12; C[p + 3]! += c13; C[p + 4]! += c14; C[p + 5]! += c15; C[p + 6]! += c16; C[p + 7]! += c17;
  p += ldc;
  C[p]! += c20; C[p + 1]! += c21; C[p + 2]! += c22; C[p + 3]! += c23; C[p + 4]! += c24; C[p + 5]! += c25; C[p + 6]! += c26; C[p + 7]! += c27;
  p += ldc;
  C[p]! += c30; C[p + 1]! += c31; C[p + 2]! += c32; C[p + 3]! += c33; C[p + 4]! += c34; C[p + 5]! += c35; C[p + 6]! += c36; C[p + 7]! += c37;
}

// ---- WebAssembly SIMD path ----
// gemmSimd, macroKernelSimd, packA, packB and scaleC also run in the worker threads: their source
// text goes into the workers' script (workerSource), so they use nothing but their parameters, the
// blocking constants and each other.

/**
 * sgemm on the SIMD micro-kernel (M, N, K >= 1, alpha != 0), with the panel area at float offset
 * `base` of `P` (the WebAssembly memory the kernel reads).
 */
function gemmSimd(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
  offA: number,
  offB: number,
  offC: number,
  P: Float32Array,
  base: number,
  kernel: SimdKernel,
): void {
  // With beta = 0 the first K slice is copied into C instead of zeroing C and adding.
  const overwrite = beta === 0;
  if (beta !== 1 && !overwrite) scaleC(M, N, beta, C, ldc, offC);
  const pA = P.subarray(base + A_AT, base + B_AT);
  const pB = P.subarray(base + B_AT, base + CB_AT);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    // K is cut into equal slices of at most KC (800 = 2 x 400 rather than 512 + 288).
    const kSlice = Math.ceil(K / Math.ceil(K / KC));
    for (let pc = 0; pc < K; pc += kSlice) {
      const kc = Math.min(kSlice, K - pc);
      packB(transB, B, offB, ldb, pc, kc, jc, nc, pB);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        packA(transA, A, offA, lda, ic, mc, pc, kc, alpha, pA);
        macroKernelSimd(mc, nc, kc, C, offC + ic * ldc + jc, ldc, overwrite && pc === 0, P, base, kernel);
      }
    }
  }
}

/**
 * The packed-panel macro-kernel on the SIMD micro-kernel: each MR x NR tile of the packed product
 * is written to the C block in WebAssembly memory (row stride ncr), which is then added to C (or
 * copied over it, for the first K slice when beta = 0).
 */
function macroKernelSimd(
  mc: number,
  nc: number,
  kc: number,
  C: Float32Array,
  offC: number,
  ldc: number,
  overwrite: boolean,
  P: Float32Array,
  base: number,
  kernel: SimdKernel,
): void {
  const ncr = Math.ceil(nc / NR) * NR;
  const cAt = base + CB_AT;
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const bByte = (base + B_AT + j0 * kc) * 4;
    for (let i0 = 0; i0 < mc; i0 += MR) {
      kernel(kc, (base + A_AT + i0 * kc) * 4, bByte, (cAt + i0 * ncr + j0) * 4, ncr * 4);
    }
  }
  for (let i = 0; i < mc; i++) {
    const row = offC + i * ldc;
    const src = cAt + i * ncr;
    if (overwrite) C.set(P.subarray(src, src + nc), row);
    else for (let j = 0; j < nc; j++) C[row + j]! += P[src + j]!;
  }
}

// Task words of a worker's control block (from ARG on): transA, transB, M, N, K, lda, ldb, ldc,
// offA, offB, offC (float offsets of the staged operands in the memory), the worker's panel base,
// whether blocks are rows (1) or columns (0) of C, the block size and the number of blocks;
// float64s: alpha, beta.
const T_TA = ARG, T_TB = ARG + 1, T_M = ARG + 2, T_N = ARG + 3, T_K = ARG + 4, T_LDA = ARG + 5, T_LDB = ARG + 6;
const T_LDC = ARG + 7, T_OFFA = ARG + 8, T_OFFB = ARG + 9, T_OFFC = ARG + 10, T_BASE = ARG + 11;
const T_ROWS = ARG + 12, T_UNIT = ARG + 13, T_BLOCKS = ARG + 14, T_FAULT = ARG + 15;

/** Computes blocks claimed from `job` until none is left; `me` marks the blocks taken. */
function claimBlocks(
  job: Int32Array,
  me: number,
  byRows: boolean,
  unit: number,
  blocks: number,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
  offA: number,
  offB: number,
  offC: number,
  P: Float32Array,
  base: number,
  kernel: SimdKernel,
): void {
  for (;;) {
    const t = Atomics.add(job, 0, 1);
    if (t >= blocks) return;
    job[1 + t] = me;
    const lo = t * unit;
    if (byRows) {
      const m = Math.min(M, lo + unit) - lo;
      gemmSimd(transA, transB, m, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA + (transA ? lo : lo * lda), offB, offC + lo * ldc, P, base, kernel);
    } else {
      const n = Math.min(N, lo + unit) - lo;
      gemmSimd(transA, transB, M, n, K, alpha, A, lda, B, ldb, beta, C, ldc, offA, offB + (transB ? lo * ldb : lo), offC + lo, P, base, kernel);
    }
  }
}

/** The workers' script: the SIMD path's functions, the micro-kernel instantiated on the shared memory, and the task loop. */
function workerSource(): string {
  return `'use strict';
var __name = (f) => f;
const MR = ${MR}, NR = ${NR}, KC = ${KC}, MC = ${MC}, NC = ${NC}, A_AT = ${A_AT}, B_AT = ${B_AT}, CB_AT = ${CB_AT};
${scaleC.toString()}
${packB.toString()}
${packA.toString()}
${macroKernelSimd.toString()}
${gemmSimd.toString()}
${claimBlocks.toString()}
const gemmData = require('node:worker_threads').workerData;
const kernel = new WebAssembly.Instance(new WebAssembly.Module(gemmData.wasm), { env: { mem: gemmData.memory } }).exports.k;
const job = new Int32Array(gemmData.memory.buffer, ${JOB_BYTE}, ${1 + MAX_BLOCKS});
let P = new Float32Array(gemmData.memory.buffer);
function runTask(t, f) {
  if (P.length * 4 !== gemmData.memory.buffer.byteLength) P = new Float32Array(gemmData.memory.buffer);
  if (t[${T_FAULT}] !== 0) {
    // Injected fault (tests): take a block, then exit or never finish.
    const b = Atomics.add(job, 0, 1);
    if (b < t[${T_BLOCKS}]) job[1 + b] = gemmData.index + 1;
    if (t[${T_FAULT}] === 1) process.exit(3);
    for (;;) Atomics.wait(job, 0, Atomics.load(job, 0) + 1, 1000);
  }
  claimBlocks(job, gemmData.index + 1, t[${T_ROWS}] === 1, t[${T_UNIT}], t[${T_BLOCKS}], t[${T_TA}] === 1, t[${T_TB}] === 1,
    t[${T_M}], t[${T_N}], t[${T_K}], f[0], P, t[${T_LDA}], P, t[${T_LDB}], f[1], P, t[${T_LDC}],
    t[${T_OFFA}], t[${T_OFFB}], t[${T_OFFC}], P, t[${T_BASE}], kernel);
}
${workerLoopSource()}`;
}

function ensurePool(): ThreadPool | null {
  if (!threadsEnabled || poolFailed || fast === null || retiring !== null) return null;
  if (pool === null) {
    try {
      const ctlBytes = Array.from({ length: THREADS - 1 }, (_, w) => w * CTRL_BYTES);
      pool = new ThreadPool(fast.memory, ctlBytes, workerSource(), { wasm: fast.wasm });
    } catch {
      poolFailed = true;
      return null;
    }
  }
  return pool;
}

/** Copies the R x K matrix X (or its K x R transpose as stored, when trans) compactly to mem[dst...]; returns its new leading dimension. */
function stage(trans: boolean, X: Float32Array, offX: number, ldx: number, R: number, K: number, dst: number): number {
  const [rows, cols] = trans ? [K, R] : [R, K];
  if (ldx === cols) mem.set(X.subarray(offX, offX + rows * cols), dst);
  else for (let r = 0; r < rows; r++, dst += cols) mem.set(X.subarray(offX + r * ldx, offX + r * ldx + cols), dst);
  return cols;
}

/**
 * The SIMD product split over the calling thread and the workers by blocks of rows or of columns of
 * C (whichever side is longer). The operands are first copied into the staging area, where the
 * workers read them and write their blocks of C; the calling thread works on the originals. Every
 * thread claims blocks until none is left, so a worker that is slow to wake (or descheduled by a
 * busy machine) costs little: the calling thread takes its blocks. False (nothing done) when the
 * workers are not up yet or the staging area cannot grow enough.
 */
function sgemmThreaded(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
  offA: number,
  offB: number,
  offC: number,
): boolean {
  const p = ensurePool();
  if (p === null) return false;
  if (p.isBroken()) {
    // A worker died between products: replace the pool; this product runs here.
    retirePool(p);
    return false;
  }
  if (!p.ready()) return false;
  const threads = p.size + 1;
  // Blocks of rows share the packing of op(B), blocks of columns that of op(A): cut the longer side.
  const byRows = M / MR >= N / NR;
  const extent = byRows ? M : N;
  const align = byRows ? MC : NR * 8;
  const unit = Math.max(Math.ceil(extent / (2 * threads) / align) * align, Math.ceil(extent / MAX_BLOCKS / align) * align);
  const blocks = Math.ceil(extent / unit);
  if (blocks < 2) return false;
  const aAt = STAGE_BYTE / 4;
  const bAt = aAt + M * K;
  const cAt = bAt + K * N;
  const need = (cAt + M * N) * 4;
  const memory = fast!.memory;
  if (need > memory.buffer.byteLength) {
    try {
      memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
    } catch {
      return false;
    }
    mem = new Float32Array(memory.buffer);
  }
  const ldaS = stage(transA, A, offA, lda, M, K, aAt);
  const ldbS = stage(!transB, B, offB, ldb, N, K, bAt);
  if (beta !== 0) for (let i = 0; i < M; i++) mem.set(C.subarray(offC + i * ldc, offC + i * ldc + N), cAt + i * N);
  jobWords[0] = 0;
  jobWords.fill(-1, 1, 1 + blocks);
  for (let w = 0; w < p.size; w++) {
    const { ints, f64 } = p.args(w);
    ints[T_TA] = transA ? 1 : 0;
    ints[T_TB] = transB ? 1 : 0;
    ints[T_M] = M;
    ints[T_N] = N;
    ints[T_K] = K;
    ints[T_LDA] = ldaS;
    ints[T_LDB] = ldbS;
    ints[T_LDC] = N;
    ints[T_OFFA] = aAt;
    ints[T_OFFB] = bAt;
    ints[T_OFFC] = cAt;
    ints[T_BASE] = base0 + (w + 1) * PANEL_FLOATS;
    ints[T_ROWS] = byRows ? 1 : 0;
    ints[T_UNIT] = unit;
    ints[T_BLOCKS] = blocks;
    ints[T_FAULT] = w === 0 ? pendingFault : 0;
    f64[0] = alpha;
    f64[1] = beta;
    p.start(w);
  }
  pendingFault = 0;
  const t0 = performance.now();
  claimBlocks(jobWords, 0, byRows, unit, blocks, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA, offB, offC, mem, base0, simdKernel!);
  // Each worker has at most one block left once the calling thread ran out of them: waiting much
  // longer than the calling thread's own share took means the worker hangs.
  const patience = WAIT_MIN_MS + 20 * (performance.now() - t0);
  // ok[w]: worker w finished its task and every block it took is in the staging area.
  const ok = Array.from({ length: p.size }, (_, w) => p.wait(w, patience) === 'done');
  for (let t = 0; t < blocks; t++) {
    const owner = jobWords[1 + t]!;
    if (owner === 0) continue;
    const lo = t * unit;
    const [m0, m1, n0, n1] = byRows ? [lo, Math.min(M, lo + unit), 0, N] : [0, M, lo, Math.min(N, lo + unit)];
    if (owner < 0 || !ok[owner - 1]) {
      // Taken by a worker that threw, died or hangs (perhaps before it could mark the block as its
      // own): its part of C is missing or incomplete, so compute it here.
      gemmSimd(transA, transB, m1 - m0, n1 - n0, K, alpha, A, lda, B, ldb, beta, C, ldc,
        offA + (transA ? m0 : m0 * lda), offB + (transB ? n0 * ldb : n0), offC + m0 * ldc + n0, mem, base0, simdKernel!);
      continue;
    }
    for (let i = m0; i < m1; i++) C.set(mem.subarray(cAt + i * N + n0, cAt + i * N + n1), offC + i * ldc + n0);
  }
  if (p.isBroken()) retirePool(p);
  threaded++;
  return true;
}

interface FastMemory {
  memory: WebAssembly.Memory;
  /** The micro-kernel module's bytes (the workers instantiate it on the same memory). */
  wasm: Uint8Array<ArrayBuffer>;
  kernel: SimdKernel;
  shared: boolean;
}

/** The WebAssembly memory and the SIMD kernel on it: shared where the engine allows, else private; null without WebAssembly SIMD. */
function createMemory(): FastMemory | null {
  const pages = Math.ceil(STAGE_BYTE / 65536);
  for (const shared of [true, false]) {
    try {
      const maximum = shared ? Math.max(MAX_PAGES, pages) : pages;
      const memory = new WebAssembly.Memory({ initial: pages, maximum, shared });
      const wasm = simdKernelModule(pages, maximum, shared);
      const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { mem: memory } });
      return { memory, wasm, kernel: instance.exports.k as SimdKernel, shared };
    } catch {
      // try the next kind of memory
    }
  }
  return null;
}

/**
 * The binary of a WebAssembly module importing memory env.mem (`pages` pages) and exporting
 * k(kc, a, b, c, ldc): for kc >= 1 and byte addresses a (MR x kc panel, k-major), b (kc x NR panel,
 * k-major), c (MR rows of NR floats, ldc bytes apart), c = a-panel * b-panel. Assembled here from
 * opcodes so no binary blob or build step is needed.
 */
function simdKernelModule(pages: number, maxPages: number, shared: boolean): Uint8Array<ArrayBuffer> {
  // Params 0..4: kc, a, b, c, ldc. Locals: acc[r][h] = 5 + 2r + h (v128), b0 = 13, b1 = 14, av = 15.
  const [KC_, A_, B_, C_, LDC_] = [0, 1, 2, 3, 4];
  const acc = (r: number, h: number): number => 5 + 2 * r + h;
  const [B0, B1, AV] = [13, 14, 15];
  const code: number[] = [0x03, 0x40]; // loop
  code.push(...get(B_), ...simd(V128_LOAD, 4, 0), ...set(B0));
  code.push(...get(B_), ...simd(V128_LOAD, 4, 16), ...set(B1));
  for (let r = 0; r < MR; r++) {
    code.push(...get(A_), ...simd(V128_LOAD32_SPLAT, 2, 4 * r), ...set(AV));
    for (let h = 0; h < 2; h++) {
      code.push(...get(acc(r, h)), ...get(AV), ...get(h === 0 ? B0 : B1), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(acc(r, h)));
    }
  }
  code.push(...get(A_), I32_CONST, ...sleb(4 * MR), I32_ADD, ...set(A_));
  code.push(...get(B_), I32_CONST, ...sleb(4 * NR), I32_ADD, ...set(B_));
  code.push(...get(KC_), I32_CONST, ...sleb(1), I32_SUB, ...tee(KC_), 0x0d, 0); // kc = kc - 1; br_if loop (kc != 0)
  code.push(0x0b); // end loop
  for (let r = 0; r < MR; r++) {
    for (let h = 0; h < 2; h++) code.push(...get(C_), ...get(acc(r, h)), ...simd(V128_STORE, 4, 16 * h));
    code.push(...get(C_), ...get(LDC_), I32_ADD, ...set(C_));
  }
  const kernel: WasmFunction = { exportName: 'k', params: [I32, I32, I32, I32, I32], results: [], locals: Array<number>(2 * MR + 3).fill(V128), code };
  return wasmModule({ pages, maxPages, shared }, [kernel]);
}
