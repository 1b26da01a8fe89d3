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
 * sequential and keeps the current panels in cache. The panels and staging areas live in buffers
 * kept for the life of the process (they grow to the largest product seen), so a call in steady
 * state allocates at most a few array views.
 *
 * Two implementations share that structure: a WebAssembly SIMD one (4 x 8 floats in eight f32x4
 * locals; see "WebAssembly SIMD path" below for how it avoids most packing), used where the engine
 * supports WebAssembly SIMD, and a plain TypeScript one (32 number locals) used otherwise. Where the
 * engine validates relaxed SIMD, the SIMD kernels use f32x4.relaxed_madd (a fused multiply-add on
 * x64 and arm64); the results then differ from the plain kernels' within float32 rounding. (Unrolling
 * the 4 x 8 kernel's k loop by two, for fewer pointer updates, measured 1.5 times slower in V8; 6 x 8
 * and 5 x 8 tiles of the relaxed kernel, which need no temporary, measured 1.2-1.8 times slower than
 * 4 x 8 (packed and in-place op(A), one process); 4 x 12 needs more vector registers than V8
 * allocates on x64.)
 *
 * On the SIMD path, products of at least THREAD_MIN_MACS multiply-adds are spread over worker
 * threads (runtime/cpu/threads.ts) that share the WebAssembly memory: C is cut into blocks of rows
 * or columns which the threads claim one at a time. Splitting C never changes the order in which
 * an element's products are summed, so results are bit for bit those of one thread. The workers
 * run the same driver functions (their source text) and the same kernel bytes.
 *
 * WEIR_CPU_FAST=0 (read once) forces the portable path: the TypeScript micro-kernel, no threads.
 * WEIR_CPU_THREADS=n sets the number of threads (the calling one included; default: the core count).
 */

import {
  BLOCK,
  BR_IF,
  ELSE,
  END,
  F32_LOAD,
  F32_STORE,
  F32X4_ADD,
  F32X4_MUL,
  F32X4_RELAXED_MADD,
  f32x4Const,
  FunctionBuilder,
  get,
  I32,
  I32_ADD,
  I32_GT_S,
  I32_LOAD,
  I32_LT_U,
  I32_AND,
  I32_SHL,
  I32_SHR_U,
  I32_SUB,
  I8X16_SHUFFLE,
  i32Const,
  IF,
  LOOP,
  MEMORY_COPY,
  set,
  simd,
  simdMem,
  tee,
  uleb,
  V128,
  V128_LOAD,
  V128_LOAD32_SPLAT,
  V128_STORE,
  VOID,
  wasmModule,
  type WasmFunction,
} from './wasm.js';
import {
  addTaskFamily,
  ARG,
  pollMs,
  retireSharedPool,
  sharedPoolAvailable,
  sharedPoolReady,
  SplitPolicy,
  startSharedPool,
  stopSharedPool,
  type ThreadPool,
  threadCount,
} from './threads.js';
import { config } from '../../src/core/config.js';
import { heapAddress, heapAlloc, heapBuffer, heapFree, heapMemory } from './heap.js';

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

/** A thread's panel area on the SIMD path: a packed KC x NC block of op(B), then a packed MC x KC block of op(A). */
const PANEL_FLOATS = KC * NC + MC * KC;
const PANEL_A_BYTE = KC * NC * 4;
/**
 * op(B) is read in place (row-major, not packed) when op(A) has at most this many rows (packing
 * costs a pass over the block and pays off only over enough row tiles reading each panel)...
 */
const IN_PLACE_MAX_M = 64;
/**
 * op(A) is packed when op(B) has at least 4 NR columns and op(A) at least this many rows (stored
 * transposed: PACK_AT_MIN_M), measured: 1.2-1.6 times faster on 512-1024 rows, even at 64-128.
 */
const PACK_A_MIN_M = 256;
const PACK_AT_MIN_M = 64;
/**
 * ... and when op(B) has at most IN_PLACE_MAX_B floats, or at most IN_PLACE_MAX_B_NARROW (1 MiB)
 * with rows at most IN_PLACE_MAX_LDB floats apart (a larger one, read with its stride, thrashes the
 * cache; rows 4 KiB apart fall in the same L1 sets). Measured against packing, relaxed SIMD, one
 * process: 4-16% faster at 20x200x200, 40x300x300, 32x512x512, 64x128x1024, 64x256x512, 64x64x800;
 * 12-16% slower at 16x1024x256 (rows 4 KiB apart), even at 64x512x1024, 1.4 times slower at 64x1024x3136.
 */
const IN_PLACE_MAX_B = 16384;
const IN_PLACE_MAX_B_NARROW = 1 << 18;
const IN_PLACE_MAX_LDB = 512;

/** WEIR_CPU_FAST=0 forces the portable path (TypeScript micro-kernel, one thread); read once, at load. */
const FAST = config.cpuFast();
const THREADS = FAST ? threadCount() : 1;

// The WebAssembly memory (shared with the workers where the engine allows): the job words, then one
// panel area per thread (the calling thread's first), then the staging regions into which products
// copy their operands (see region()).
// This block of the memory (runtime/cpu/heap.ts) is the GEMM's for the life of the process.
const FIXED_BYTES = Math.ceil((4 * (1 + MAX_BLOCKS)) / 64) * 64 + THREADS * PANEL_FLOATS * 4;
const BASE = FAST ? heapAlloc(FIXED_BYTES) : -1;
const JOB_BYTE = Math.max(0, BASE);
const PANELS_BYTE = JOB_BYTE + Math.ceil((4 * (1 + MAX_BLOCKS)) / 64) * 64;
/**
 * A one-row product (batch-1 inference) of at least this many multiply-adds runs on the SIMD path
 * (gemvN) too: 1x1024x10 took 21.6 us in the TypeScript loop and 3.4 on it, 1x256x32 16.7 and 1.7
 * (heap operands, one process).
 */
const GEMV_SIMD_MIN = 1 << 10;
/** Columns per block, at least, of a one-row product split over the threads. */
const GEMV_MIN_BLOCK = 256;
/** Below this many multiply-adds a product stays on the calling thread (waking a worker costs more). */
const THREAD_MIN_MACS = 1 << 21;

const fast = BASE >= 0 ? createMemory() : null;
/** A view of the whole WebAssembly memory (refreshed when it grows: see region()). */
let mem = new Float32Array(fast !== null ? heapBuffer() : new ArrayBuffer(0));
const jobWords = new Int32Array(fast !== null ? heapBuffer() : new ArrayBuffer(4 * (1 + MAX_BLOCKS)), fast !== null ? JOB_BYTE : 0, 1 + MAX_BLOCKS);
/** Byte address and capacity of the two staging regions (PRIVATE, SHARED), allocated from the heap as they grow. */
const regionAt = [-1, -1];
const regionCap = [0, 0];
/**
 * stageOperands' answer: byte addresses and leading dimensions (floats) where the kernels find the
 * operands (a, lda, b, ldb, c, ldc), then the byte address of the staging area for C's partial
 * tiles when C is used in place (else -1), then C's own address when it is (else -1).
 */
const staged = new Int32Array(8);
/** Whether operands already in the WebAssembly memory are used where they are (on by default; off, every product stages its operands). */
let inPlaceEnabled = true;
/** The portable path's packed blocks of op(A) and op(B), allocated at its first use. */
let packed: { a: Float32Array; b: Float32Array } | null = null;
let simdEnabled = fast !== null;
let relaxedEnabled = fast?.relaxed != null;
const canThread = fast !== null && fast.shared && THREADS > 1;
/** Whether products are split over the shared workers now (on where they can be; the back-off). */
const policy = new SplitPolicy(canThread);
/** The GEMM's task family on the shared workers (-1 where there are none). */
const FAMILY = canThread ? addTaskFamily({ source: workerSource, data: () => ({ wasm: fast!.wasm, wasmRelaxed: fast!.wasmRelaxed }) }) : -1;
let threaded = 0;
let implicitCalls = 0;
/** Worker tasks that threw, died or hung (see workerFailures). */
let workerFailed = 0;
/** A fault the next threaded product's first worker injects into its task (tests only). */
let pendingFault = 0;
/** How long the calling thread waits for a worker beyond its own share of the work, at least. */
const WAIT_MIN_MS = 2000;

/** Edge tiles (fewer than MR rows or NR columns left) are computed here, then the valid part is added to C. */
const edgeTile = new Float32Array(MR * NR);

/** Whether the WebAssembly SIMD micro-kernel can run here. */
export function simdAvailable(): boolean {
  return fast !== null;
}

/** Turns the SIMD micro-kernel on or off (tests and benchmarks compare both); returns the previous setting. */
export function setSimdEnabled(on: boolean): boolean {
  const prev = simdEnabled;
  simdEnabled = on && fast !== null;
  return prev;
}

/**
 * Turns on (default) or off the use of operands that live in the WebAssembly memory where they are
 * (off: they are copied like any other; tests and benchmarks compare both); returns the previous setting.
 */
export function setInPlaceEnabled(on: boolean): boolean {
  const prev = inPlaceEnabled;
  inPlaceEnabled = on;
  return prev;
}

/** Whether the engine validates relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd), so the SIMD kernels can use f32x4.relaxed_madd. */
export function relaxedSimdAvailable(): boolean {
  return fast?.relaxed != null;
}

/** Turns the relaxed-SIMD kernels on or off where available (on by default); returns the previous setting. */
export function setRelaxedSimdEnabled(on: boolean): boolean {
  const prev = relaxedEnabled;
  relaxedEnabled = on && fast?.relaxed != null;
  return prev;
}

/** Whether large products can be spread over worker threads here (SIMD, shared memory, more than one core, not forced off). */
export function threadsAvailable(): boolean {
  return canThread && sharedPoolAvailable();
}

/** Turns the worker threads on or off; returns the previous setting. Off, every product runs on the calling thread. */
export function setThreadsEnabled(on: boolean): boolean {
  return policy.setEnabled(on);
}

/**
 * Turns off (tests) or on the backing off from threads after products that the workers did not
 * speed up; returns the previous setting.
 */
export function setThreadBackoff(on: boolean): boolean {
  return policy.setBackoff(on);
}

/**
 * Starts the worker threads now rather than at the first large product (which runs on the calling
 * thread alone until they are up); resolves to whether they run.
 */
export async function startThreads(): Promise<boolean> {
  return policy.enabled && (await startSharedPool());
}

/** Stops the worker threads, which every kernel family shares (they start again at the next large task); resolves when they have exited. */
export async function stopThreads(): Promise<void> {
  await stopSharedPool();
}

/** How many products have been split over the worker threads since the process started. */
export function threadedCalls(): number {
  return threaded;
}

/** How many products sgemmPatches has computed since the process started (tests: the implicit GEMM ran). */
export function implicitProducts(): number {
  return implicitCalls;
}

/** How many worker tasks threw, died or hung (their blocks were redone on the calling thread) since the process started. */
export function workerFailures(): number {
  return workerFailed;
}

/**
 * For tests: the first worker of the next threaded product claims a block and then exits
 * (`'exit'`) or never finishes it (`'hang'`), as a crashing or stuck thread would.
 */
export function injectWorkerFault(kind: 'exit' | 'hang'): void {
  pendingFault = kind === 'exit' ? 1 : 2;
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
  if (simdEnabled && N > 1 && K > 0 && alpha !== 0 && (M > 1 || N * K >= GEMV_SIMD_MIN)) {
    if (beta !== 0 && beta !== 1) {
      scaleC(M, N, beta, C, ldc, offC);
      beta = 1;
    }
    if (M * N * K >= THREAD_MIN_MACS && policy.take()) {
      if (sgemmThreaded(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA, offB, offC)) return;
    }
    if (gemmPrivate(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA, offB, offC)) return;
    // The memory could not grow to stage the operands: the portable path below.
  }
  if (beta !== 1) scaleC(M, N, beta, C, ldc, offC);
  if (K <= 0 || alpha === 0) return;
  if (M === 1 || N === 1) {
    // A matrix-vector product: packing would cost as much as the product and waste most of each tile.
    gemv(transA, transB, M, N, K, alpha, A, lda, B, ldb, C, ldc, offA, offB, offC);
    return;
  }

  packed ??= { a: new Float32Array(MC * KC), b: new Float32Array(KC * NC) };
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    // K is cut into equal slices of at most KC (800 = 2 x 400 rather than 512 + 288).
    const kSlice = Math.ceil(K / Math.ceil(K / KC));
    for (let pc = 0; pc < K; pc += kSlice) {
      const kc = Math.min(kSlice, K - pc);
      packB(transB, B, offB, ldb, pc, kc, jc, nc, packed.b);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        packA(transA, A, offA, lda, ic, mc, pc, kc, alpha, packed.a);
        macroKernel(mc, nc, kc, packed.a, packed.b, C, offC + ic * ldc + jc, ldc);
      }
    }
  }
}

/**
 * A convolution's patch matrix, read where its pixels lie (implicit GEMM; see Indirect): `table`
 * holds each pixel's byte address in the WebAssembly memory, padded with valid addresses to a
 * multiple of MR entries; a pixel's patch values run in segments of L floats, segment
 * ky * perRow + kx at byte offset ky * rowStride + kx * colStride from its address. Every read
 * must stay inside the memory, including up to NR - 1 floats past a segment's end.
 */
export interface PatchTable {
  table: Int32Array;
  L: number;
  perRow: number;
  rowStride: number;
  colStride: number;
}

/**
 * sgemm's product with a patch matrix P that is never built, bit for bit as its SIMD path computes
 * it from P's rows: side 'A', C[M, N] = P[M, K] X[K, N] (X row-major, leading dimension ldx: a
 * filter); side 'B', C[M, N] = X^T P[K, N] (X stored [K, M], leading dimension ldx: dy). C (beta 0)
 * must live in the WebAssembly memory; L a multiple of 4 (side 'A') or of NR (side 'B'). False,
 * with nothing done, where it cannot run: no SIMD, C or the table elsewhere, the memory full.
 */
export function sgemmPatches(side: 'A' | 'B', M: number, N: number, K: number, patches: PatchTable, X: Float32Array, ldx: number, C: Float32Array, ldc: number, offX = 0, offC = 0): boolean {
  if (!simdEnabled || !inPlaceEnabled || M <= 0 || N <= 0 || K <= 0) return false;
  const tAt = heapAddress(patches.table);
  let cIn = heapAddress(C);
  if (tAt < 0 || cIn < 0 || patches.L % (side === 'A' ? 4 : NR) !== 0) return false;
  cIn += offC * 4;
  const ind: Indirect = { op: side === 'A' ? 1 : 2, table: tAt, L: patches.L, perRow: patches.perRow, rowStride: patches.rowStride, colStride: patches.colStride };
  const transA = side === 'B';
  let p: ThreadPool | null = null;
  if (M * N * K >= THREAD_MIN_MACS && policy.take()) p = sharedPoolReady();
  const split = p === null ? null : splitOf(M, N, p.size + 1, false);
  const onThreads = split !== null && split.blocks >= 2;
  // X is read where it is, or staged; partial tiles read past its last columns (N or M of them).
  const cols = side === 'A' ? N : M;
  let x = readable(X, offX, ldx, K, up(cols, side === 'A' ? NR : MR));
  const ldxS = x >= 0 ? ldx : stagedLd(ldx, cols);
  const xFloats = x >= 0 ? 0 : up(K * ldxS + 2 * NR, 16);
  const ldcS = up(N, NR);
  const stagedC = onThreads ? up(M, MR) * ldcS : 0;
  const at = region(onThreads ? SHARED : PRIVATE, xFloats + stagedC + Math.max(up(M, MR) * NR, MR * ldcS));
  if (at < 0) return false;
  if (x < 0) {
    stage(X, offX, ldx, K, cols, at / 4, ldxS);
    x = at;
  }
  const c = at + xFloats * 4;
  const edges = c + stagedC * 4;
  const [a, lda, b, ldb] = side === 'A' ? [tAt, 1, x, ldxS] : [x, ldxS, tAt, 1];
  const block = (m0: number, m1: number, n0: number, n1: number): void =>
    gemmInPlace(transA, false, m1 - m0, n1 - n0, K, a + (transA ? m0 : m0 * lda) * 4, lda, b + n0 * 4, ldb, C, ldc, offC + m0 * ldc + n0, cIn + (m0 * ldc + n0) * 4, edges, false, kernels(), ind);
  implicitCalls++;
  if (!onThreads) block(0, M, 0, N);
  else runSplit(p!, transA, false, M, N, K, a, lda, b, ldb, c, ldcS, cIn, edges, false, split.byRows, split.unit, split.blocks, C, ldc, offC, ind, block);
  return true;
}

/**
 * `count` products of one shape: C_i = alpha op(A_i) op(B_i) + beta C_i, where A_i, B_i and C_i start
 * strideA, strideB and strideC floats after A_{i-1}, B_{i-1} and C_{i-1} (from offA, offB, offC).
 * Each is sgemm's product, bit for bit. Products too small to be split over the threads themselves
 * (Winograd's planes) are handed out whole to the calling thread and the workers, when every
 * operand lives in the WebAssembly memory.
 */
export function sgemmBatched(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  strideA: number,
  B: Float32Array,
  ldb: number,
  strideB: number,
  beta: number,
  C: Float32Array,
  ldc: number,
  strideC: number,
  count: number,
  offA = 0,
  offB = 0,
  offC = 0,
): void {
  if (count <= 0 || M <= 0 || N <= 0) return;
  const macs = M * N * K;
  if (simdEnabled && count > 1 && count <= MAX_BLOCKS && alpha === 1 && (beta === 0 || beta === 1) && K > 0 && !(M === 1 && !transB) && macs < THREAD_MIN_MACS && macs * count >= THREAD_MIN_MACS && policy.take()) {
    if (sgemmBatchThreaded(transA, transB, M, N, K, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, count, offA, offB, offC)) return;
  }
  for (let i = 0; i < count; i++) sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA + i * strideA, offB + i * strideB, offC + i * strideC);
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
// Operands that live in the WebAssembly memory (runtime/cpu/heap.ts: arenas, variables) are read
// where they are, when the partial tiles' reads past them stay inside the memory (and, for op(A),
// alpha is 1); C too, by the calling thread, when it overlaps neither operand: its whole tiles are
// written where they are, its partial tiles (last columns, then last rows) in the staging region
// and copied in. The workers always write a staged copy of C, from which their blocks are copied
// in: a worker given up on as hung may still write later, when C's memory may hold something else.
// Other operands are copied (TypedArray.set, a memcpy) into a staging region of the memory.
// The kernels read op(A) unpacked by its rows or columns with their strides, or, when it has many
// rows, packed by a WebAssembly routine into MR-high panels; op(B) unpacked when it is small,
// row-major and A has few rows (packing would cost more than it saves), else packed by a
// WebAssembly routine into NR-wide panels. The macro-kernels (one WebAssembly call for a whole
// MC x NC block) write C's tiles. Partial tiles read past the operands' last rows or columns (the
// staging regions leave room for that) and write the padding of C's staged copy: the extra lanes
// never mix with the real ones. One-row products (batch-1 dense layers: memory bound, a weight
// read once) take gemvN, which streams op(B) row after row and keeps the row of C in cache; they
// are split over threads by wide blocks of columns. Whatever the layout, each element's products
// are added in k order, so every path gives the same bits.
// gemmStaged and claimBlocks also run in the worker threads (their source text goes into the
// workers' script), so they use nothing but their parameters and the blocking constants.

/** The SIMD module's exports; addresses and strides in bytes. */
interface SimdKernels {
  /**
   * C[mc x nc] (=, or += when acc) op(A)[mc x kc] * op(B)[kc x nc], tile by tile, for op(A) whose
   * rows are aRow bytes apart with consecutive k 4 bytes apart (mkRows) or whose rows are 4 bytes
   * apart with k aK bytes apart and MR-row tiles aRow bytes apart (mkLanes: op(A) stored
   * transposed, or packed); op(B)'s NR-wide tiles start bTile bytes apart, k bK apart.
   */
  mkRows: MacroKernel;
  mkLanes: MacroKernel;
  /** Packs kc x nc of row-major op(B) (k bK bytes apart) into NR-wide k-major panels at out. */
  packN: (b: number, bK: number, kc: number, nc: number, out: number) => void;
  /** The same for op(B) stored transposed (its columns bCol bytes apart, k contiguous). */
  packT: (b: number, bCol: number, kc: number, nc: number, out: number) => void;
  /** Packs mc x kc of op(A) stored transposed (k aK bytes apart) into MR-high k-major panels at out. */
  packA: (a: number, aK: number, kc: number, mc: number, out: number) => void;
  /** The same for row-major op(A) (rows aRow bytes apart, k contiguous). */
  packAT: (a: number, aRow: number, kc: number, mc: number, out: number) => void;
  /** Packs mc x len of op(A) whose rows' addresses are in a table (implicit GEMM): see packAIndCode. */
  packAInd: (tbl: number, off: number, len: number, mc: number, out: number, pStride: number) => void;
  /** Packs kc rows of op(B) whose addresses are in a table into `panels` NR-wide panels: see packBIndCode. */
  packBInd: (tbl: number, off: number, kc: number, panels: number, out: number, pStride: number) => void;
  /** One-row products: see gemvCode. */
  gemvN: (a: number, aK: number, b: number, bK: number, k: number, nBytes: number, c: number, acc: number) => void;
  /** Copies `rows` (at least 1) rows of rowBytes bytes from src to dst, rows srcStride and dstStride bytes apart (memory.copy each). */
  copyRows: (src: number, srcStride: number, dst: number, dstStride: number, rowBytes: number, rows: number) => void;
}
type MacroKernel = (mc: number, nc: number, kc: number, a: number, aRow: number, aK: number, b: number, bK: number, bTile: number, c: number, ldc: number, acc: number) => void;

/**
 * An operand that is a convolution's patch matrix read through a table of its pixels' addresses
 * (implicit GEMM: no patch rows are built). Patch value k of pixel p is the float at byte
 * table[p] + off(s) + 4 (k - s L), where segment s = floor(k / L) = ky perRow + kx and off(s) =
 * ky rowStride + kx colStride (a segment is one filter row's taps, KW C floats, or one tap's C
 * floats when dilated). op 1: op(A) is the patch matrix (rows: pixels); op 2: op(B) is (rows, the
 * inner dimension: pixels; columns: patch values). The drivers pass such an operand around as the
 * byte address `table + 4 r`, r its first row (op 1) or column (op 2), so blocks offset it as they
 * offset any operand.
 */
interface Indirect {
  op: number;
  table: number;
  L: number;
  perRow: number;
  rowStride: number;
  colStride: number;
}

/** Byte offset of patch value k within its pixel's data (see Indirect), and how many values follow it in its segment. */
function segmentAt(ind: Indirect, k: number, out: Int32Array): void {
  const s = Math.floor(k / ind.L);
  const w = k - s * ind.L;
  const ky = Math.floor(s / ind.perRow);
  out[0] = ky * ind.rowStride + (s - ky * ind.perRow) * ind.colStride + 4 * w;
  out[1] = ind.L - w;
}

/** Packs rows [r, r + mc) (pixels) by patch values [k0, k0 + kc) of an op-1 Indirect into MR-high panels at out. */
function packIndA(ind: Indirect, r: number, k0: number, kc: number, mc: number, out: number, seg: Int32Array, W: SimdKernels): void {
  for (let k = k0, end = k0 + kc; k < end; ) {
    segmentAt(ind, k, seg);
    const len = Math.min(end - k, seg[1]!);
    W.packAInd(ind.table + 4 * r, seg[0]!, len, mc, out + (k - k0) * MR * 4, kc * MR * 4);
    k += len;
  }
}

/** Packs patch values [j, j + nc) (columns) of pixels [k0, k0 + kc) of an op-2 Indirect into NR-wide panels at out. */
function packIndB(ind: Indirect, j: number, k0: number, kc: number, nc: number, out: number, seg: Int32Array, W: SimdKernels): void {
  for (let c = j, end = j + nc; c < end; ) {
    segmentAt(ind, c, seg);
    const panels = Math.ceil(Math.min(end - c, seg[1]!) / NR);
    W.packBInd(ind.table + 4 * k0, seg[0]!, kc, panels, out + ((c - j) / NR) * kc * NR * 4, kc * NR * 4);
    c += panels * NR;
  }
}

/**
 * C (staged, byte address c, leading dimension ldc floats) = op(A) * op(B) (+ C when accumulate),
 * all operands staged: op(A)[0,0] at byte a, stored with leading dimension lda (floats), op(B)[0,0]
 * at b with ldb; or one of them an Indirect patch matrix (`ind`, always packed). `panel` is this
 * thread's packed-B area.
 */
function gemmStaged(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  c: number,
  ldc: number,
  accumulate: boolean,
  panel: number,
  W: SimdKernels,
  ind: Indirect | null = null,
): void {
  const aRow = transA ? 4 : lda * 4;
  const aK = transA ? lda * 4 : 4;
  const indA = ind !== null && ind.op === 1;
  const indB = ind !== null && ind.op === 2;
  if (M === 1 && !transB && !indA && !indB) {
    // One row (batch-1 dense layers): op(B) is read once, row after row, where it is.
    for (let jc = 0; jc < N; jc += NC) W.gemvN(a, aK, b + jc * 4, ldb * 4, K, ((Math.min(NC, N - jc) + 3) >> 2) << 4, c + jc * 4, accumulate ? 1 : 0);
    return;
  }
  const bK = transB ? 4 : ldb * 4;
  const bCol = transB ? ldb * 4 : 4;
  const inPlace = !indB && !transB && M <= IN_PLACE_MAX_M && (K * N <= IN_PLACE_MAX_B || (K * N <= IN_PLACE_MAX_B_NARROW && ldb <= IN_PLACE_MAX_LDB));
  // In place, op(A) is read one short run per k from MR rows (or columns, stored transposed);
  // packed, its panels are read in sequence by every tile of op(B), which pays once op(A) has
  // enough rows and op(B) enough columns.
  const packA = indA || (M >= (transA ? PACK_AT_MIN_M : PACK_A_MIN_M) && N >= 4 * NR);
  const mk = transA || packA ? W.mkLanes : W.mkRows;
  const panelA = panel + PANEL_A_BYTE;
  const seg = ind === null ? null : new Int32Array(2);
  // K is cut into equal slices of at most KC (800 = 2 x 400 rather than 512 + 288); an op-1
  // Indirect's into multiples of 4 (its runs of patch values are packed four at a time).
  let kSlice = Math.ceil(K / Math.ceil(K / KC));
  if (indA) kSlice = Math.ceil(kSlice / 4) * 4;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    for (let pc = 0; pc < K; pc += kSlice) {
      const kc = Math.min(kSlice, K - pc);
      const bAt = b + pc * bK + jc * bCol;
      if (indB) packIndB(ind, (b - ind.table) / 4 + jc, pc, kc, nc, panel, seg!, W);
      else if (!inPlace) {
        if (transB) W.packT(bAt, bCol, kc, nc, panel);
        else W.packN(bAt, bK, kc, nc, panel);
      }
      const acc = accumulate || pc > 0 ? 1 : 0;
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        let aAt = a + ic * aRow + pc * aK;
        let aStep = transA ? 4 * MR : aRow;
        let aKs = aK;
        if (packA) {
          if (indA) packIndA(ind, (a - ind.table) / 4 + ic, pc, kc, mc, panelA, seg!, W);
          else if (transA) W.packA(aAt, aK, kc, mc, panelA);
          else W.packAT(aAt, aRow, kc, mc, panelA);
          aAt = panelA;
          aStep = kc * MR * 4;
          aKs = MR * 4;
        }
        const cAt = c + (ic * ldc + jc) * 4;
        if (inPlace) mk(mc, nc, kc, aAt, aStep, aKs, bAt, bK, NR * 4, cAt, ldc * 4, acc);
        else mk(mc, nc, kc, aAt, aStep, aKs, panel, NR * 4, kc * NR * 4, cAt, ldc * 4, acc);
      }
    }
  }
}

// Task words of a worker's control block (from ARG on): transA, transB, M, N, K, then the staged
// operands (a, lda, b, ldb, c, ldc), accumulate, the worker's panel, whether blocks are rows (1) or
// columns (0) of C, the block size, the number of blocks, the relaxed-SIMD kernels (1) or not, and
// an injected fault (tests).
const T_TA = ARG, T_TB = ARG + 1, T_M = ARG + 2, T_N = ARG + 3, T_K = ARG + 4, T_A = ARG + 5, T_LDA = ARG + 6;
const T_B = ARG + 7, T_LDB = ARG + 8, T_C = ARG + 9, T_LDC = ARG + 10, T_ACC = ARG + 11, T_PANEL = ARG + 12;
const T_ROWS = ARG + 13, T_UNIT = ARG + 14, T_BLOCKS = ARG + 15, T_FMA = ARG + 16, T_FAULT = ARG + 17;
// A batch of products (T_ROWS = BATCH): each block is one product, its operands T_SA, T_SB, T_SC bytes after the previous one's.
const T_SA = ARG + 18, T_SB = ARG + 19, T_SC = ARG + 20;
// An Indirect operand: its op (0: none), table, L, perRow, rowStride, colStride.
const T_IND = ARG + 21;
const BATCH = 2;

/** Computes blocks (of rows or columns of the staged C) claimed from `job` until none is left; `me` marks the blocks taken. */
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
  a: number,
  lda: number,
  b: number,
  ldb: number,
  c: number,
  ldc: number,
  accumulate: boolean,
  panel: number,
  W: SimdKernels,
  ind: Indirect | null,
): void {
  for (;;) {
    const t = Atomics.add(job, 0, 1);
    if (t >= blocks) return;
    job[1 + t] = me;
    const lo = t * unit;
    if (byRows) {
      gemmStaged(transA, transB, Math.min(M, lo + unit) - lo, N, K, a + lo * (transA ? 4 : lda * 4), lda, b, ldb, c + lo * ldc * 4, ldc, accumulate, panel, W, ind);
    } else {
      gemmStaged(transA, transB, M, Math.min(N, lo + unit) - lo, K, a, lda, b + lo * (transB ? ldb * 4 : 4), ldb, c + lo * 4, ldc, accumulate, panel, W, ind);
    }
  }
}

/** Computes products of a batch (into the staged C) claimed from `job` until none is left; `me` marks the products taken. */
function claimItems(
  job: Int32Array,
  me: number,
  count: number,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: number,
  sA: number,
  lda: number,
  b: number,
  sB: number,
  ldb: number,
  c: number,
  sC: number,
  ldc: number,
  accumulate: boolean,
  panel: number,
  W: SimdKernels,
): void {
  for (;;) {
    const t = Atomics.add(job, 0, 1);
    if (t >= count) return;
    job[1 + t] = me;
    gemmStaged(transA, transB, M, N, K, a + t * sA, lda, b + t * sB, ldb, c + t * sC, ldc, accumulate, panel, W);
  }
}

/**
 * The GEMM's task family on the shared workers (threads.ts): the SIMD path's driver functions and
 * the kernels instantiated on the shared memory; its runTask runs a product's blocks.
 */
function workerSource(): string {
  return `const MR = ${MR}, NR = ${NR}, KC = ${KC}, MC = ${MC}, NC = ${NC}, PANEL_A_BYTE = ${PANEL_A_BYTE}, PACK_A_MIN_M = ${PACK_A_MIN_M}, PACK_AT_MIN_M = ${PACK_AT_MIN_M}, IN_PLACE_MAX_M = ${IN_PLACE_MAX_M}, IN_PLACE_MAX_B = ${IN_PLACE_MAX_B};
const IN_PLACE_MAX_B_NARROW = ${IN_PLACE_MAX_B_NARROW}, IN_PLACE_MAX_LDB = ${IN_PLACE_MAX_LDB};
${segmentAt.toString()}
${packIndA.toString()}
${packIndB.toString()}
${gemmStaged.toString()}
${claimBlocks.toString()}
${claimItems.toString()}
const gemmData = familyData;
const instantiate = (bytes) => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: gemmData.memory } }).exports;
const plain = instantiate(gemmData.wasm);
const relaxed = gemmData.wasmRelaxed === null ? plain : instantiate(gemmData.wasmRelaxed);
const job = new Int32Array(gemmData.memory.buffer, ${JOB_BYTE}, ${1 + MAX_BLOCKS});
return function runTask(t) {
  if (t[${T_FAULT}] !== 0) {
    // Injected fault (tests): take a block, then exit or never finish.
    const b = Atomics.add(job, 0, 1);
    if (b < t[${T_BLOCKS}]) job[1 + b] = gemmData.index + 1;
    if (t[${T_FAULT}] === 1) process.exit(3);
    for (;;) Atomics.wait(job, 0, Atomics.load(job, 0) + 1, 1000);
  }
  const W = t[${T_FMA}] === 1 ? relaxed : plain;
  if (t[${T_ROWS}] === ${BATCH}) {
    claimItems(job, gemmData.index + 1, t[${T_BLOCKS}], t[${T_TA}] === 1, t[${T_TB}] === 1, t[${T_M}], t[${T_N}], t[${T_K}],
      t[${T_A}], t[${T_SA}], t[${T_LDA}], t[${T_B}], t[${T_SB}], t[${T_LDB}], t[${T_C}], t[${T_SC}], t[${T_LDC}], t[${T_ACC}] === 1, t[${T_PANEL}], W);
    return;
  }
  const ind = t[${T_IND}] === 0 ? null : { op: t[${T_IND}], table: t[${T_IND + 1}], L: t[${T_IND + 2}], perRow: t[${T_IND + 3}], rowStride: t[${T_IND + 4}], colStride: t[${T_IND + 5}] };
  claimBlocks(job, gemmData.index + 1, t[${T_ROWS}] === 1, t[${T_UNIT}], t[${T_BLOCKS}], t[${T_TA}] === 1, t[${T_TB}] === 1,
    t[${T_M}], t[${T_N}], t[${T_K}], t[${T_A}], t[${T_LDA}], t[${T_B}], t[${T_LDB}], t[${T_C}], t[${T_LDC}], t[${T_ACC}] === 1,
    t[${T_PANEL}], W, ind);
};`;
}

/** Staging regions: 0 for products on the calling thread alone, 1 for threaded ones (which a hung worker may still write). */
const PRIVATE = 0;
const SHARED = 1;

/**
 * Byte address of a region of at least `floats` floats in the WebAssembly memory for `kind`, -1
 * when the memory cannot grow that far. A region that must grow moves past both regions' ends, so
 * a threaded product's region never overlaps another region in use.
 */
function region(kind: number, floats: number): number {
  const bytes = floats * 4;
  if (regionCap[kind]! < bytes) {
    const cap = Math.ceil((bytes * 1.25) / 64) * 64;
    const at = heapAlloc(cap);
    if (at < 0) return -1;
    heapFree(regionAt[kind]!);
    regionAt[kind] = at;
    regionCap[kind] = cap;
  }
  // Any allocation (this one, an arena's) may have grown the memory.
  const buffer = heapBuffer();
  if (mem.buffer !== buffer) mem = new Float32Array(buffer);
  return regionAt[kind]!;
}

const up = (n: number, m: number): number => Math.ceil(n / m) * m;

/** Where an operand is copied compactly rather than with its own leading dimension: past this many floats of gap per row. */
const MAX_GAP = 16;

/**
 * Copies the rows x cols matrix X (leading dimension ldx) to float offset dst of the memory with
 * leading dimension ld (ldx itself, or cols: see stagedLd).
 */
function stage(X: Float32Array, offX: number, ldx: number, rows: number, cols: number, dst: number, ld: number): void {
  if (ld === ldx) {
    mem.set(X.subarray(offX, offX + (rows - 1) * ldx + cols), dst);
    return;
  }
  for (let r = 0; r < rows; r++, dst += ld) {
    if (cols < 32) for (let j = 0; j < cols; j++) mem[dst + j] = X[offX + r * ldx + j]!;
    else mem.set(X.subarray(offX + r * ldx, offX + r * ldx + cols), dst);
  }
}

const stagedLd = (ldx: number, cols: number): number => (ldx - cols > MAX_GAP ? cols : ldx);

/**
 * Byte address of X[offX] when the kernels may read `rows` rows of `cols` floats (leading dimension
 * ldx) from there: X lives in the WebAssembly memory and the rows (with the partial tiles' reads
 * past the operand) end inside it. Else -1.
 */
function readable(X: Float32Array, offX: number, ldx: number, rows: number, cols: number): number {
  const at = inPlaceEnabled ? heapAddress(X) : -1;
  if (at < 0) return -1;
  const start = at + offX * 4;
  return start + ((rows - 1) * ldx + cols + 2 * NR) * 4 <= heapBuffer().byteLength ? start : -1;
}

/** Whether byte ranges [a0, a1) and [b0, b1) overlap. */
const overlaps = (a0: number, a1: number, b0: number, b1: number): boolean => a0 < b1 && b0 < a1;

/** stageOperands' choices for C: always staged; in place when it can be; both (threaded: staged for the workers, in place for the calling thread). */
const STAGE_C = 0;
const PLACE_C = 1;
const BOTH_C = 2;

/**
 * Finds where the kernels read op(A) and op(B) and write C: where they are when they live in the
 * WebAssembly memory (C only as `placeC` says, and only when it overlaps neither operand), else in
 * staging region `kind`, into which op(A) (scaled by alpha), op(B) and, when beta is not 0, C are
 * copied. Fills `staged` (see there). False when the memory cannot grow enough.
 */
function stageOperands(
  kind: number,
  placeC: number,
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
  // Partial tiles read up to MR - 1 rows of op(A) and NR - 1 columns of op(B) past the end.
  const [aRows, aCols] = transA ? [K, M] : [M, K];
  const [bRows, bCols] = transB ? [N, K] : [K, N];
  const aIn = alpha === 1 ? readable(A, offA, lda, transA ? K : up(M, MR), transA ? up(M, MR) : K) : -1;
  const bIn = readable(B, offB, ldb, transB ? up(N, NR) : K, transB ? K : up(N, NR));
  let cIn = placeC !== STAGE_C && inPlaceEnabled ? heapAddress(C) : -1;
  if (cIn >= 0) {
    cIn += offC * 4;
    const cEnd = cIn + ((M - 1) * ldc + N) * 4;
    if (
      (aIn >= 0 && overlaps(cIn, cEnd, aIn, aIn + ((aRows - 1) * lda + aCols) * 4)) ||
      (bIn >= 0 && overlaps(cIn, cEnd, bIn, bIn + ((bRows - 1) * ldb + bCols) * 4))
    ) {
      cIn = -1;
    }
  }
  const ldaS = aIn >= 0 ? lda : stagedLd(lda, aCols);
  const ldbS = bIn >= 0 ? ldb : stagedLd(ldb, bCols);
  const ldcS = up(N, NR);
  const aFloats = aIn >= 0 ? 0 : up((transA ? aRows : up(M, MR)) * ldaS + 2 * NR, 16);
  const bFloats = bIn >= 0 ? 0 : up((transB ? up(N, NR) : bRows) * ldbS + 2 * NR, 16);
  // C in place needs room for its partial tiles: the last columns' (up to NR - 1 of them, all rows),
  // then the last rows' (up to MR - 1, all columns); those of any block of its rows or columns fit too.
  const inPlaceOnly = cIn >= 0 && placeC === PLACE_C;
  const stagedC = inPlaceOnly ? 0 : up(M, MR) * ldcS;
  const cFloats = stagedC + (cIn >= 0 ? Math.max(up(M, MR) * NR, MR * ldcS) : 0);
  const at = region(kind, aFloats + bFloats + cFloats);
  if (at < 0) return false;
  const a = at / 4;
  const b = a + aFloats;
  const c = b + bFloats;
  if (aIn < 0) {
    stage(A, offA, lda, aRows, aCols, a, ldaS);
    if (alpha !== 1) {
      for (let r = 0; r < aRows; r++) for (let i = a + r * ldaS, end = i + aCols; i < end; i++) mem[i]! *= alpha;
    }
  }
  if (bIn < 0) stage(B, offB, ldb, bRows, bCols, b, ldbS);
  if (!inPlaceOnly && beta !== 0) stage(C, offC, ldc, M, N, c, ldcS);
  staged[0] = aIn >= 0 ? aIn : a * 4;
  staged[1] = ldaS;
  staged[2] = bIn >= 0 ? bIn : b * 4;
  staged[3] = ldbS;
  staged[4] = inPlaceOnly ? cIn : c * 4;
  staged[5] = inPlaceOnly ? ldc : ldcS;
  staged[6] = cIn >= 0 ? (c + stagedC) * 4 : -1;
  staged[7] = cIn;
  return true;
}

/**
 * Copies rows [m0, m1) and columns [n0, n1) of the staged C (float offset c, leading dimension ldcS)
 * into C: by one WebAssembly call when C lives in the memory (a subarray and a set per row cost
 * about 0.1 us each: the workers' 64-column blocks of a 784x512 product took 0.3 ms to copy in).
 */
function unstage(C: Float32Array, offC: number, ldc: number, m0: number, m1: number, n0: number, n1: number, c: number, ldcS: number): void {
  const n = n1 - n0;
  if (m1 <= m0 || n <= 0) return;
  const at = heapAddress(C);
  if (at >= 0 && fast !== null) {
    kernels().copyRows((c + m0 * ldcS + n0) * 4, ldcS * 4, at + (offC + m0 * ldc + n0) * 4, ldc * 4, n * 4, m1 - m0);
    return;
  }
  if (n0 === 0 && n === ldc && n === ldcS) {
    C.set(mem.subarray(c + m0 * ldcS, c + m1 * ldcS), offC + m0 * ldc);
    return;
  }
  for (let i = m0; i < m1; i++) {
    const src = c + i * ldcS + n0;
    const dst = offC + i * ldc + n0;
    if (n < 32) for (let j = 0; j < n; j++) C[dst + j] = mem[src + j]!;
    else C.set(mem.subarray(src, src + n), dst);
  }
}

/** The SIMD product on the calling thread alone (beta already applied to C unless it is 0 or 1); false when staging failed. */
function gemmPrivate(
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
  if (!stageOperands(PRIVATE, PLACE_C, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA, offB, offC)) return false;
  const a = staged[0]!, ldaS = staged[1]!, b = staged[2]!, ldbS = staged[3]!, c = staged[4]!, ldcS = staged[5]!, edges = staged[6]!;
  const acc = beta !== 0;
  const W = kernels();
  if (edges < 0) {
    gemmStaged(transA, transB, M, N, K, a, ldaS, b, ldbS, c, ldcS, acc, PANELS_BYTE, W);
    unstage(C, offC, ldc, 0, M, 0, N, c / 4, ldcS);
    return true;
  }
  gemmInPlace(transA, transB, M, N, K, a, ldaS, b, ldbS, C, ldc, offC, c, edges, acc, W);
  return true;
}

/**
 * C (=, or += when acc) op(A) * op(B) on the calling thread, C written where it is (C[offC] at byte
 * address c of the memory): its whole tiles by the kernels; the partial tiles of its last columns,
 * then of its last rows (the kernels write whole tiles), at byte address `edges`, then copied into C.
 */
function gemmInPlace(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  C: Float32Array,
  ldc: number,
  offC: number,
  c: number,
  edges: number,
  acc: boolean,
  W: SimdKernels,
  ind: Indirect | null = null,
): void {
  // The tile the kernels write: MR x NR, or 1 x 4 for one-row products (gemvN).
  const gemv = M === 1 && !transB && ind === null;
  const mr = gemv ? 1 : MR;
  const nr = gemv ? 4 : NR;
  const m1 = M - (M % mr);
  const n1 = N - (N % nr);
  if (m1 > 0 && n1 > 0) gemmStaged(transA, transB, m1, n1, K, a, lda, b, ldb, c, ldc, acc, PANELS_BYTE, W, ind);
  if (n1 < N) gemmEdge(transA, transB, 0, M, n1, N, K, a, lda, b, ldb, C, ldc, offC, edges, up(N - n1, nr), acc, W, ind);
  if (m1 < M && n1 > 0) gemmEdge(transA, transB, m1, M, 0, n1, K, a, lda, b, ldb, C, ldc, offC, edges, n1, acc, W, ind);
}

/**
 * The calling thread's share of a threaded product whose C it writes where it is: blocks claimed
 * from the job words (marked 0, its own) until none is left, each computed by gemmInPlace.
 */
function claimInPlace(
  byRows: boolean,
  unit: number,
  blocks: number,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  C: Float32Array,
  ldc: number,
  offC: number,
  c: number,
  edges: number,
  acc: boolean,
  W: SimdKernels,
  ind: Indirect | null,
): void {
  for (;;) {
    const t = Atomics.add(jobWords, 0, 1);
    if (t >= blocks) return;
    jobWords[1 + t] = 0;
    const lo = t * unit;
    if (byRows) {
      gemmInPlace(transA, transB, Math.min(M, lo + unit) - lo, N, K, a + lo * (transA ? 4 : lda * 4), lda, b, ldb, C, ldc, offC + lo * ldc, c + lo * ldc * 4, edges, acc, W, ind);
    } else {
      gemmInPlace(transA, transB, M, Math.min(N, lo + unit) - lo, K, a, lda, b + lo * (transB ? ldb * 4 : 4), ldb, C, ldc, offC + lo, c + lo * 4, edges, acc, W, ind);
    }
  }
}

/** Rows [m0, m1) and columns [n0, n1) of C computed at byte address e of the memory (leading dimension ldE) and copied into C. */
function gemmEdge(
  transA: boolean,
  transB: boolean,
  m0: number,
  m1: number,
  n0: number,
  n1: number,
  K: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  C: Float32Array,
  ldc: number,
  offC: number,
  e: number,
  ldE: number,
  acc: boolean,
  W: SimdKernels,
  ind: Indirect | null,
): void {
  const m = m1 - m0;
  const n = n1 - n0;
  const cAt = offC + m0 * ldc + n0;
  if (acc) stage(C, cAt, ldc, m, n, e / 4, ldE);
  gemmStaged(transA, transB, m, n, K, a + (transA ? m0 : m0 * lda) * 4, lda, b + (transB ? n0 * ldb : n0) * 4, ldb, e, ldE, acc, PANELS_BYTE, W, ind);
  unstage(C, cAt, ldc, 0, m, 0, n, e / 4, ldE);
}

function kernels(): SimdKernels {
  return relaxedEnabled ? fast!.relaxed! : fast!.plain;
}

/**
 * Posts a split product to every worker: its shape, the operands' byte addresses and leading
 * dimensions (C the staged copy the workers write), how its blocks are cut (`mode`: 0 columns,
 * 1 rows, BATCH whole products sA, sB, sC bytes apart) and how many there are; resets the job words.
 * Returns the fault injected into the first worker (tests), which is cleared.
 */
function startWorkers(
  p: ThreadPool,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  c: number,
  ldc: number,
  accumulate: boolean,
  mode: number,
  unit: number,
  blocks: number,
  sA: number,
  sB: number,
  sC: number,
  ind: Indirect | null = null,
): number {
  jobWords[0] = 0;
  jobWords.fill(-1, 1, 1 + blocks);
  for (let w = 0; w < p.size; w++) {
    const { ints } = p.args(w);
    ints[T_TA] = transA ? 1 : 0;
    ints[T_TB] = transB ? 1 : 0;
    ints[T_M] = M;
    ints[T_N] = N;
    ints[T_K] = K;
    ints[T_A] = a;
    ints[T_LDA] = lda;
    ints[T_B] = b;
    ints[T_LDB] = ldb;
    ints[T_C] = c;
    ints[T_LDC] = ldc;
    ints[T_ACC] = accumulate ? 1 : 0;
    ints[T_PANEL] = PANELS_BYTE + (w + 1) * PANEL_FLOATS * 4;
    ints[T_ROWS] = mode;
    ints[T_UNIT] = unit;
    ints[T_BLOCKS] = blocks;
    ints[T_FMA] = relaxedEnabled ? 1 : 0;
    ints[T_FAULT] = w === 0 ? pendingFault : 0;
    ints[T_SA] = sA;
    ints[T_SB] = sB;
    ints[T_SC] = sC;
    ints[T_IND] = ind === null ? 0 : ind.op;
    if (ind !== null) {
      ints[T_IND + 1] = ind.table;
      ints[T_IND + 2] = ind.L;
      ints[T_IND + 3] = ind.perRow;
      ints[T_IND + 4] = ind.rowStride;
      ints[T_IND + 5] = ind.colStride;
    }
    p.start(w, FAMILY);
  }
  const fault = pendingFault;
  pendingFault = 0;
  return fault;
}

/**
 * Once the calling thread (which started its share at t0) found no block left to claim: waits for
 * each worker, polling about two of the calling thread's blocks before sleeping, and gives up on
 * one after much longer than the calling thread's share took (it hangs: each has at most one block
 * left). Measures the split's speedup for the back-off. Returns a bit per worker that threw, died
 * or hangs, whose blocks may be missing or incomplete.
 */
function awaitWorkers(p: ThreadPool, t0: number, blocks: number, fault: number): number {
  const t1 = performance.now();
  const patience = WAIT_MIN_MS + 20 * (t1 - t0);
  let mine = 0;
  for (let t = 0; t < blocks; t++) if (jobWords[1 + t] === 0) mine++;
  const poll = pollMs(t1 - t0, mine);
  let failed = 0;
  for (let w = 0; w < p.size; w++) {
    // Every block is taken: a worker that has not woken up yet has nothing to do (unless a fault is to be injected).
    if ((w > 0 || fault === 0) && p.cancel(w)) continue;
    if (p.wait(w, patience, poll) !== 'done') {
      failed |= 1 << w;
      workerFailed++;
    }
  }
  // The calling thread's time per block, times the blocks, is what it would have taken alone.
  policy.record((((t1 - t0) / mine) * blocks) / (performance.now() - t0));
  return failed;
}

/**
 * The SIMD product split over the calling thread and the workers by blocks of rows or of columns of
 * C (whichever side is longer). The operands are staged in the shared memory, where every thread
 * reads them and writes its blocks of C. Every thread claims blocks until none is left, so a worker
 * that is slow to wake (or descheduled by a busy machine) costs little: the calling thread takes
 * its blocks. False (nothing done) when the workers are not up yet or the staging area cannot grow.
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
  const p = sharedPoolReady();
  if (p === null) return false;
  const { byRows, unit, blocks } = splitOf(M, N, p.size + 1, M === 1 && !transB);
  if (blocks < 2) return false;
  if (!stageOperands(SHARED, BOTH_C, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA, offB, offC)) return false;
  const a = staged[0]!, ldaS = staged[1]!, b = staged[2]!, ldbS = staged[3]!, c = staged[4]!, ldcS = staged[5]!;
  runSplit(p, transA, transB, M, N, K, a, ldaS, b, ldbS, c, ldcS, staged[7]!, staged[6]!, beta !== 0, byRows, unit, blocks, C, ldc, offC, null, (m0, m1, n0, n1) =>
    gemmPrivate(transA, transB, m1 - m0, n1 - n0, K, alpha, A, lda, B, ldb, beta === 0 ? 0 : 1, C, ldc, offA + (transA ? m0 : m0 * lda), offB + (transB ? n0 * ldb : n0), offC + m0 * ldc + n0),
  );
  return true;
}

/**
 * How a threaded product cuts C: the longer side. Blocks of rows each pack all of op(B), so they
 * are few, and of equal size (a multiple of MR, not of MC: with blocks of whole MC rows, 784 rows
 * made 256+256+256+16, and the thread with two big blocks held the other up: 784x512x128 ran at 74
 * GFLOP/s, in equal blocks at 92-96; 4181x64x800 86 and 89; 1000^3 99 and 102, measured alternately
 * in one process). Blocks of columns cost nothing extra (op(A) is read in place), so there are
 * more of them: a thread that is descheduled in the middle of its last block (a busy machine) then
 * holds up less of the work; but not narrower than 64 columns where they can be wider (4 per
 * thread, a multiple of 32 columns: 64x1024x3136 ran at 80-82 GFLOP/s in 16 blocks of 64 columns,
 * 82-84 in 8 of 128; 128x784x512 at 92-93 in 13 blocks, 93-98 in 9). One-row products read op(B)
 * by runs of a block's columns from each row: short runs cost (at 64 columns, 1.5 times the time
 * of 512), so their blocks are few and wide.
 */
function splitOf(M: number, N: number, threads: number, gemv: boolean): { byRows: boolean; unit: number; blocks: number } {
  const byRows = M / MR >= N / NR;
  const extent = byRows ? M : N;
  const align = byRows ? MR : gemv ? GEMV_MIN_BLOCK : NR * 4;
  const perThread = byRows || gemv ? 2 : 4;
  const unit = Math.max(Math.ceil(extent / (perThread * threads) / align) * align, Math.ceil(extent / MAX_BLOCKS / align) * align);
  return { byRows, unit, blocks: Math.ceil(extent / unit) };
}

/**
 * Runs a split product whose operands are staged (a, b; the workers' copy of C at c, leading
 * dimension ldcS): every thread claims blocks until none is left, the calling thread writing its
 * own into C where it is when it can (C[offC] at byte cIn >= 0, partial tiles at `edges`), then the
 * workers' blocks are copied in. A block of a worker that threw, died or hangs (perhaps taken before
 * the worker could mark it as its own) is missing or incomplete in the staged C:
 * `redo(m0, m1, n0, n1)` computes it on the calling thread, from the operands themselves.
 */
function runSplit(
  p: ThreadPool,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  c: number,
  ldcS: number,
  cIn: number,
  edges: number,
  acc: boolean,
  byRows: boolean,
  unit: number,
  blocks: number,
  C: Float32Array,
  ldc: number,
  offC: number,
  ind: Indirect | null,
  redo: (m0: number, m1: number, n0: number, n1: number) => void,
): void {
  const fault = startWorkers(p, transA, transB, M, N, K, a, lda, b, ldb, c, ldcS, acc, byRows ? 1 : 0, unit, blocks, 0, 0, 0, ind);
  const t0 = performance.now();
  if (cIn >= 0) claimInPlace(byRows, unit, blocks, transA, transB, M, N, K, a, lda, b, ldb, C, ldc, offC, cIn, edges, acc, kernels(), ind);
  else claimBlocks(jobWords, 0, byRows, unit, blocks, transA, transB, M, N, K, a, lda, b, ldb, c, ldcS, acc, PANELS_BYTE, kernels(), ind);
  const failed = awaitWorkers(p, t0, blocks, fault);
  for (let t = 0; t < blocks; t++) {
    const owner = jobWords[1 + t]!;
    const lo = t * unit;
    const m0 = byRows ? lo : 0;
    const m1 = byRows ? Math.min(M, lo + unit) : M;
    const n0 = byRows ? 0 : lo;
    const n1 = byRows ? N : Math.min(N, lo + unit);
    if (owner < 0 || (owner > 0 && (failed >> (owner - 1)) & 1)) redo(m0, m1, n0, n1);
    else if (owner > 0 || cIn < 0) unstage(C, offC, ldc, m0, m1, n0, n1, c / 4, ldcS);
  }
  if (p.isBroken()) retireSharedPool(p);
  threaded++;
}

/**
 * sgemmBatched's split: the products go to the calling thread (C written where it is) and the
 * workers (into a staged copy of their Cs, copied in afterwards), one at a time as each thread
 * claims them. Every operand must live in the WebAssembly memory, and C overlap neither A nor B.
 * False (nothing done) where that does not hold or the workers are not up.
 */
function sgemmBatchThreaded(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  lda: number,
  strideA: number,
  B: Float32Array,
  ldb: number,
  strideB: number,
  beta: number,
  C: Float32Array,
  ldc: number,
  strideC: number,
  count: number,
  offA: number,
  offB: number,
  offC: number,
): boolean {
  const p = sharedPoolReady();
  if (p === null) return false;
  // The kernels read partial tiles past op(A)'s last rows and op(B)'s last columns (into whatever
  // follows: those lanes are never stored), so the memory must hold them; C must not overlap the
  // operands themselves.
  const [aRows, aCols] = transA ? [K, M] : [M, K];
  const [bRows, bCols] = transB ? [N, K] : [K, N];
  const [aReadRows, aReadCols] = transA ? [K, up(M, MR)] : [up(M, MR), K];
  const [bReadRows, bReadCols] = transB ? [up(N, NR), K] : [K, up(N, NR)];
  const last = count - 1;
  const a = readable(A, offA, lda, aReadRows, aReadCols);
  const b = readable(B, offB, ldb, bReadRows, bReadCols);
  const cAt = inPlaceEnabled ? heapAddress(C) : -1;
  if (a < 0 || b < 0 || cAt < 0) return false;
  if (readable(A, offA + last * strideA, lda, aReadRows, aReadCols) < 0 || readable(B, offB + last * strideB, ldb, bReadRows, bReadCols) < 0) return false;
  const c = cAt + offC * 4;
  const span = (at: number, stride: number, rows: number, ld: number, cols: number): [number, number] => [at, at + (last * stride + (rows - 1) * ld + cols) * 4];
  const [c0, c1] = span(c, strideC, M, ldc, N);
  const [a0, a1] = span(a, strideA, aRows, lda, aCols);
  const [b0, b1] = span(b, strideB, bRows, ldb, bCols);
  if (overlaps(c0, c1, a0, a1) || overlaps(c0, c1, b0, b1)) return false;
  // The workers' staged Cs (whole tiles), then room for the calling thread's partial tiles.
  const ldcS = up(N, NR);
  const item = up(M, MR) * ldcS;
  const at = region(SHARED, count * item + Math.max(up(M, MR) * NR, MR * ldcS));
  if (at < 0) return false;
  const edges = at + count * item * 4;
  const acc = beta !== 0;
  if (acc) for (let i = 0; i < count; i++) stage(C, offC + i * strideC, ldc, M, N, at / 4 + i * item, ldcS);
  const fault = startWorkers(p, transA, transB, M, N, K, a, lda, b, ldb, at, ldcS, acc, BATCH, 1, count, strideA * 4, strideB * 4, item * 4);
  const W = kernels();
  const t0 = performance.now();
  for (;;) {
    const t = Atomics.add(jobWords, 0, 1);
    if (t >= count) break;
    jobWords[1 + t] = 0;
    gemmInPlace(transA, transB, M, N, K, a + t * strideA * 4, lda, b + t * strideB * 4, ldb, C, ldc, offC + t * strideC, c + t * strideC * 4, edges, acc, W);
  }
  const failed = awaitWorkers(p, t0, count, fault);
  for (let t = 0; t < count; t++) {
    const owner = jobWords[1 + t]!;
    if (owner === 0) continue;
    if (owner < 0 || (failed >> (owner - 1)) & 1) {
      // Taken by a worker that threw, died or hangs: its staged C is missing or incomplete, and C itself untouched.
      gemmPrivate(transA, transB, M, N, K, 1, A, lda, B, ldb, beta, C, ldc, offA + t * strideA, offB + t * strideB, offC + t * strideC);
      continue;
    }
    unstage(C, offC + t * strideC, ldc, 0, M, 0, N, at / 4 + t * item, ldcS);
  }
  if (p.isBroken()) retireSharedPool(p);
  threaded++;
  return true;
}

interface FastMemory {
  memory: WebAssembly.Memory;
  /** The kernel module's bytes (the workers instantiate it on the same memory), and its relaxed-SIMD twin where the engine validates it. */
  wasm: Uint8Array<ArrayBuffer>;
  wasmRelaxed: Uint8Array<ArrayBuffer> | null;
  plain: SimdKernels;
  relaxed: SimdKernels | null;
  shared: boolean;
}

/** The WebAssembly memory and the SIMD kernels on it: shared where the engine allows, else private; null without WebAssembly SIMD. */
function createMemory(): FastMemory | null {
  const heap = heapMemory();
  if (heap === null) return null;
  const { memory, shared, maxPages } = heap;
  try {
    const instantiate = (bytes: Uint8Array<ArrayBuffer>): SimdKernels =>
      new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: memory } }).exports as unknown as SimdKernels;
    const wasm = simdKernelModule(1, maxPages, shared, false);
    const plain = instantiate(wasm);
    let wasmRelaxed: Uint8Array<ArrayBuffer> | null = simdKernelModule(1, maxPages, shared, true);
    if (!WebAssembly.validate(wasmRelaxed)) wasmRelaxed = null;
    const relaxed = wasmRelaxed === null ? null : instantiate(wasmRelaxed);
    return { memory, wasm, wasmRelaxed, plain, relaxed, shared };
  } catch {
    return null;
  }
}

/**
 * The binary of a WebAssembly module importing memory env.mem and exporting the SimdKernels
 * (relaxed: f32x4.relaxed_madd in place of a multiply and an add). Assembled here from opcodes so
 * no binary blob or build step is needed.
 */
function simdKernelModule(pages: number, maxPages: number, shared: boolean, relaxed: boolean): Uint8Array<ArrayBuffer> {
  return wasmModule({ pages, maxPages, shared }, [
    macroKernelCode('mkRows', true, relaxed),
    macroKernelCode('mkLanes', false, relaxed),
    packNCode('packN', NR),
    packTCode('packT', NR),
    packNCode('packA', MR),
    packTCode('packAT', MR),
    packAIndCode(),
    packBIndCode(),
    gemvCode(relaxed),
    copyRowsCode(),
  ]);
}

function copyRowsCode(): WasmFunction {
  const f = new FunctionBuilder('copyRows', Array<number>(6).fill(I32));
  const [SRC, SSTRIDE, DST, DSTRIDE, BYTES, ROWS] = [0, 1, 2, 3, 4, 5];
  f.emit([LOOP, VOID], get(DST), get(SRC), get(BYTES), MEMORY_COPY, addTo(SRC, SSTRIDE), addTo(DST, DSTRIDE), countDown(ROWS, 1), [END]);
  return f.build();
}

// Code of the kernels' integer bookkeeping on locals x and y (function declarations: the module's
// kernels are built while it loads).
function i32Add(x: number, y: number): number[] {
  return [...get(x), ...get(y), I32_ADD];
}
function addTo(x: number, y: number): number[] {
  return [...i32Add(x, y), ...set(x)];
}
function addConst(x: number, n: number): number[] {
  return [...get(x), ...i32Const(n), I32_ADD, ...set(x)];
}
/** x -= n; continue the enclosing loop while x > 0. */
function countDown(x: number, n: number): number[] {
  return [...get(x), ...i32Const(n), I32_SUB, ...tee(x), ...i32Const(0), I32_GT_S, BR_IF, 0];
}

/** mkRows / mkLanes (see SimdKernels): MR x NR tiles, op(B)'s tile columns outermost. */
function macroKernelCode(exportName: string, rows: boolean, relaxed: boolean): WasmFunction {
  const f = new FunctionBuilder(exportName, Array<number>(12).fill(I32));
  const [MC_, NC_, KC_, A_, AROW, AK, B_, BK, BTILE, C_, LDC, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [j, i, k, aT, cc, cp, pb] = Array.from({ length: 7 }, () => f.local(I32));
  const pa = Array.from({ length: rows ? MR : 1 }, () => f.local(I32));
  const acc = Array.from({ length: MR * 2 }, () => f.local(V128));
  const [b0, b1, av] = [f.local(V128), f.local(V128), f.local(V128)];
  const nextRow = [...addTo(cp, LDC)];
  f.emit(get(NC_), set(j), [LOOP, VOID]);
  f.emit(get(A_), set(aT), get(C_), set(cc), get(MC_), set(i), [LOOP, VOID]);
  // The tile's sums start from C (acc) or zero.
  f.emit(get(ACC), [IF, VOID], get(cc), set(cp));
  for (let r = 0; r < MR; r++) {
    for (let h = 0; h < 2; h++) f.emit(get(cp), simdMem(V128_LOAD, 4, 16 * h), set(acc[2 * r + h]!));
    if (r < MR - 1) f.emit(nextRow);
  }
  f.emit([ELSE]);
  for (const x of acc) f.emit(f32x4Const(0), set(x));
  f.emit([END]);
  if (rows) {
    f.emit(get(aT), set(pa[0]!));
    for (let r = 1; r < MR; r++) f.emit(i32Add(pa[r - 1]!, AROW), set(pa[r]!));
  } else {
    f.emit(get(aT), set(pa[0]!));
  }
  f.emit(get(B_), set(pb), get(KC_), set(k), [LOOP, VOID]);
  f.emit(get(pb), simdMem(V128_LOAD, 4, 0), set(b0), get(pb), simdMem(V128_LOAD, 4, 16), set(b1));
  for (let r = 0; r < MR; r++) {
    f.emit(rows ? [...get(pa[r]!), ...simdMem(V128_LOAD32_SPLAT, 2, 0)] : [...get(pa[0]!), ...simdMem(V128_LOAD32_SPLAT, 2, 4 * r)], set(av));
    for (let h = 0; h < 2; h++) {
      const x = acc[2 * r + h]!;
      if (relaxed) f.emit(get(av), get(h === 0 ? b0 : b1), get(x), simd(F32X4_RELAXED_MADD), set(x));
      else f.emit(get(x), get(av), get(h === 0 ? b0 : b1), simd(F32X4_MUL), simd(F32X4_ADD), set(x));
    }
  }
  if (rows) for (const p of pa) f.emit(addConst(p, 4));
  else f.emit(addTo(pa[0]!, AK));
  f.emit(addTo(pb, BK), countDown(k, 1), [END]);
  f.emit(get(cc), set(cp));
  for (let r = 0; r < MR; r++) {
    for (let h = 0; h < 2; h++) f.emit(get(cp), get(acc[2 * r + h]!), simdMem(V128_STORE, 4, 16 * h));
    if (r < MR - 1) f.emit(nextRow);
  }
  // Next tile down: MR rows of op(A) and of C.
  if (rows) f.emit(get(aT), get(AROW), i32Const(2), [I32_SHL], [I32_ADD], set(aT));
  else f.emit(addTo(aT, AROW));
  f.emit(get(cc), get(LDC), i32Const(2), [I32_SHL], [I32_ADD], set(cc));
  f.emit(countDown(i, MR), [END]);
  // Next tile across: NR columns of op(B) and of C.
  f.emit(addTo(B_, BTILE), addConst(C_, 4 * NR), countDown(j, NR), [END]);
  return f.build();
}

/** packN(b, bK, kc, nc, out) / packA(a, aK, kc, mc, out): `width` (NR or MR) floats per k, one vector copy per 4. */
function packNCode(exportName: string, width: number): WasmFunction {
  const f = new FunctionBuilder(exportName, [I32, I32, I32, I32, I32]);
  const [B_, BK, KC_, NC_, OUT] = [0, 1, 2, 3, 4];
  const [j, k, p] = [f.local(I32), f.local(I32), f.local(I32)];
  f.emit(get(NC_), set(j), [LOOP, VOID], get(B_), set(p), get(KC_), set(k), [LOOP, VOID]);
  for (let h = 0; h < width / 4; h++) f.emit(get(OUT), get(p), simdMem(V128_LOAD, 4, 16 * h), simdMem(V128_STORE, 4, 16 * h));
  f.emit(addConst(OUT, 4 * width), addTo(p, BK), countDown(k, 1), [END]);
  f.emit(addConst(B_, 4 * width), countDown(j, width), [END]);
  return f.build();
}

/**
 * packT(b, bCol, kc, nc, out) / packAT(a, aRow, kc, mc, out): for each k, one float from each of
 * `width` (NR or MR) stored rows; four k at a time by 4 x 4 transposes in vector registers.
 */
function packTCode(exportName: string, width: number): WasmFunction {
  const f = new FunctionBuilder(exportName, [I32, I32, I32, I32, I32]);
  const [B_, BCOL, KC_, NC_, OUT] = [0, 1, 2, 3, 4];
  const [j, k, p] = [f.local(I32), f.local(I32), f.local(I32)];
  const r = Array.from({ length: 4 }, () => f.local(V128));
  const t = Array.from({ length: 4 }, () => f.local(V128));
  // col[jj] = jj * bCol
  const col = Array.from({ length: width + 1 }, () => f.local(I32));
  f.emit(i32Const(0), set(col[0]!));
  for (let jj = 1; jj <= width; jj++) f.emit(i32Add(col[jj - 1]!, BCOL), set(col[jj]!));
  /** i8x16.shuffle picking int32 lanes (0-3 from the first operand, 4-7 from the second). */
  const lanes = (...l: number[]): number[] => simd(I8X16_SHUFFLE, ...l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]));
  f.emit(get(NC_), set(j), [LOOP, VOID], get(B_), set(p), get(KC_), i32Const(2), [I32_SHR_U], tee(k), [IF, VOID, LOOP, VOID]);
  for (let g = 0; g < width / 4; g++) {
    for (let q = 0; q < 4; q++) f.emit(i32Add(p, col[4 * g + q]!), simdMem(V128_LOAD, 4, 0), set(r[q]!));
    f.emit(get(r[0]!), get(r[1]!), lanes(0, 4, 1, 5), set(t[0]!), get(r[0]!), get(r[1]!), lanes(2, 6, 3, 7), set(t[1]!));
    f.emit(get(r[2]!), get(r[3]!), lanes(0, 4, 1, 5), set(t[2]!), get(r[2]!), get(r[3]!), lanes(2, 6, 3, 7), set(t[3]!));
    // Output row q (k + q) gets floats 4g..4g+3 from the four stored rows' lane q.
    f.emit(get(OUT), get(t[0]!), get(t[2]!), lanes(0, 1, 4, 5), simdMem(V128_STORE, 4, 16 * g));
    f.emit(get(OUT), get(t[0]!), get(t[2]!), lanes(2, 3, 6, 7), simdMem(V128_STORE, 4, 4 * width + 16 * g));
    f.emit(get(OUT), get(t[1]!), get(t[3]!), lanes(0, 1, 4, 5), simdMem(V128_STORE, 4, 8 * width + 16 * g));
    f.emit(get(OUT), get(t[1]!), get(t[3]!), lanes(2, 3, 6, 7), simdMem(V128_STORE, 4, 12 * width + 16 * g));
  }
  f.emit(addConst(OUT, 16 * width), addConst(p, 16), countDown(k, 1), [END, END]);
  // The last kc % 4 k one float at a time.
  f.emit(get(KC_), i32Const(3), [I32_AND], tee(k), [IF, VOID, LOOP, VOID]);
  for (let jj = 0; jj < width; jj++) {
    f.emit(get(OUT), jj === 0 ? get(p) : i32Add(p, col[jj]!), [F32_LOAD, 2, 0], [F32_STORE, 2, ...uleb(4 * jj)]);
  }
  f.emit(addConst(OUT, 4 * width), addConst(p, 4), countDown(k, 1), [END, END]);
  f.emit(addTo(B_, col[width]!), countDown(j, width), [END]);
  return f.build();
}

/**
 * packAInd(tbl, off, len, mc, out, pStride): like packAT, for rows whose addresses are in a table:
 * row r's len floats (a multiple of 4) start at byte i32[tbl + 4r] + off; panel g of MR rows goes
 * to out + g * pStride. Reads whole groups of MR table entries (the table is padded to them).
 */
function packAIndCode(): WasmFunction {
  const f = new FunctionBuilder('packAInd', Array<number>(6).fill(I32));
  const [TBL, OFF, LEN, MC_, OUT, PSTRIDE] = [0, 1, 2, 3, 4, 5];
  const [k, o] = [f.local(I32), f.local(I32)];
  const p = Array.from({ length: MR }, () => f.local(I32));
  const r = Array.from({ length: 4 }, () => f.local(V128));
  const t = Array.from({ length: 4 }, () => f.local(V128));
  const lanes = (...l: number[]): number[] => simd(I8X16_SHUFFLE, ...l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]));
  f.emit([LOOP, VOID]);
  for (let q = 0; q < MR; q++) f.emit(get(TBL), [I32_LOAD, 2, ...uleb(4 * q)], get(OFF), [I32_ADD], set(p[q]!));
  f.emit(get(OUT), set(o), get(LEN), i32Const(2), [I32_SHR_U], tee(k), [IF, VOID, LOOP, VOID]);
  for (let q = 0; q < 4; q++) f.emit(get(p[q]!), simdMem(V128_LOAD, 4, 0), set(r[q]!));
  f.emit(get(r[0]!), get(r[1]!), lanes(0, 4, 1, 5), set(t[0]!), get(r[0]!), get(r[1]!), lanes(2, 6, 3, 7), set(t[1]!));
  f.emit(get(r[2]!), get(r[3]!), lanes(0, 4, 1, 5), set(t[2]!), get(r[2]!), get(r[3]!), lanes(2, 6, 3, 7), set(t[3]!));
  f.emit(get(o), get(t[0]!), get(t[2]!), lanes(0, 1, 4, 5), simdMem(V128_STORE, 4, 0));
  f.emit(get(o), get(t[0]!), get(t[2]!), lanes(2, 3, 6, 7), simdMem(V128_STORE, 4, 16));
  f.emit(get(o), get(t[1]!), get(t[3]!), lanes(0, 1, 4, 5), simdMem(V128_STORE, 4, 32));
  f.emit(get(o), get(t[1]!), get(t[3]!), lanes(2, 3, 6, 7), simdMem(V128_STORE, 4, 48));
  for (const x of p) f.emit(addConst(x, 16));
  f.emit(addConst(o, 64), countDown(k, 1), [END, END]);
  f.emit(addConst(TBL, 4 * MR), addTo(OUT, PSTRIDE), countDown(MC_, MR), [END]);
  return f.build();
}

/**
 * packBInd(tbl, off, kc, panels, out, pStride): like packN, for kc rows whose addresses are in a
 * table: row k's floats start at byte i32[tbl + 4k] + off; NR-wide panel j (of `panels`) goes to
 * out + j * pStride.
 */
function packBIndCode(): WasmFunction {
  const f = new FunctionBuilder('packBInd', Array<number>(6).fill(I32));
  const [TBL, OFF, KC_, PANELS, OUT, PSTRIDE] = [0, 1, 2, 3, 4, 5];
  const [j, p, o] = [f.local(I32), f.local(I32), f.local(I32)];
  f.emit([LOOP, VOID], get(TBL), [I32_LOAD, 2, 0], get(OFF), [I32_ADD], set(p), get(OUT), set(o), get(PANELS), set(j), [LOOP, VOID]);
  for (let h = 0; h < NR / 4; h++) f.emit(get(o), get(p), simdMem(V128_LOAD, 4, 16 * h), simdMem(V128_STORE, 4, 16 * h));
  f.emit(addConst(p, 4 * NR), addTo(o, PSTRIDE), countDown(j, 1), [END]);
  f.emit(addConst(TBL, 4), addConst(OUT, 4 * NR), countDown(KC_, 1), [END]);
  return f.build();
}

/**
 * gemvN(a, aK, b, bK, k, nBytes, c, acc): c[0, nBytes/4) (=, or += when acc) sum over k of
 * a[k] * row k of b (rows bK bytes apart, a's elements aK bytes apart). Four rows at a time, each
 * row's products added in k order (as the macro-kernels add them), so every element gets the same
 * bits as from mkRows. nBytes is a positive multiple of 16: the caller rounds the columns up.
 */
function gemvCode(relaxed: boolean): WasmFunction {
  // Control opcodes beyond runtime/cpu/wasm.ts's (constants here: the module is built while this file loads).
  const BR = 0x0c;
  const I32_LT_S = 0x48;
  const f = new FunctionBuilder('gemvN', Array<number>(8).fill(I32));
  const [A_, AK, B_, BK, K_, NB, C_, ACC] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [j, b1, b2, b3] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const av = Array.from({ length: 4 }, () => f.local(V128));
  const x = f.local(V128);
  const rows = [B_, b1, b2, b3];
  /** x = a * (row r at column j) + x */
  const madd = (a: number, r: number): number[] =>
    relaxed
      ? [...get(a), ...get(rows[r]!), ...get(j), I32_ADD, ...simdMem(V128_LOAD, 4, 0), ...get(x), ...simd(F32X4_RELAXED_MADD), ...set(x)]
      : [...get(x), ...get(a), ...get(rows[r]!), ...get(j), I32_ADD, ...simdMem(V128_LOAD, 4, 0), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(x)];
  const loadC = [...get(C_), ...get(j), I32_ADD, ...simdMem(V128_LOAD, 4, 0), ...set(x)];
  const storeC = [...get(C_), ...get(j), I32_ADD, ...get(x), ...simdMem(V128_STORE, 4, 0)];
  const nextJ = [...addConst(j, 16), ...get(j), ...get(NB), I32_LT_U, BR_IF, 0];
  // Without acc, the sums start from zero.
  f.emit(get(ACC), [IF, VOID, ELSE], i32Const(0), set(j), [LOOP, VOID], get(C_), get(j), [I32_ADD], f32x4Const(0), simdMem(V128_STORE, 4, 0), nextJ, [END, END]);
  // Four rows at a time while four are left.
  f.emit([BLOCK, VOID, LOOP, VOID], get(K_), i32Const(4), [I32_LT_S, BR_IF, 1]);
  for (let r = 0; r < 4; r++) f.emit(get(A_), simdMem(V128_LOAD32_SPLAT, 2, 0), set(av[r]!), addTo(A_, AK));
  for (let r = 1; r < 4; r++) f.emit(i32Add(rows[r - 1]!, BK), set(rows[r]!));
  f.emit(i32Const(0), set(j), [LOOP, VOID], loadC);
  for (let r = 0; r < 4; r++) f.emit(madd(av[r]!, r));
  f.emit(storeC, nextJ, [END]);
  f.emit(i32Add(b3, BK), set(B_), addConst(K_, -4), [BR, 0, END, END]);
  // The last K % 4 rows one at a time.
  f.emit([BLOCK, VOID, LOOP, VOID], get(K_), i32Const(1), [I32_LT_S, BR_IF, 1]);
  f.emit(get(A_), simdMem(V128_LOAD32_SPLAT, 2, 0), set(av[0]!), addTo(A_, AK));
  f.emit(i32Const(0), set(j), [LOOP, VOID], loadC, madd(av[0]!, 0), storeC, nextJ, [END]);
  f.emit(addTo(B_, BK), addConst(K_, -1), [BR, 0, END, END]);
  return f.build();
}
