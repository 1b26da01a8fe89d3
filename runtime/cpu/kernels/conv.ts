// CPU kernels for convolution and pooling. Convolutions lower to GEMM: an implicit one, whose
// packing reads each patch value where it lies in the (padded) input through a table of the output
// pixels' windows (gemm.ts's sgemmPatches), or through im2col (and col2im for the input gradient),
// in chunks of patch rows built in the WebAssembly heap, where the GEMM reads them; they run
// directly for few input channels, or, for 3x3 stride-1 filters with enough channels, by Winograd
// F(2x2,3x3) or F(4x4,3x3) (winograd.ts; both gradients too, the input gradient as a flipped
// forward convolution); the patch rows and the direct passes are parallel.ts's kernels, split over
// its worker pool. Outputs a kernel writes whole come from
// `allocOverwritten` (no zero fill).
// Everything is computed in NHWC; NCHW tensors are transposed on the way in and out.
import { config } from '../../../src/core/config.js';
import { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import { layoutDims, type DataFormat } from '../../../ops/semantics/window.js';
import type { KernelNode } from '../../backend.js';
import { sgemm, sgemmPatches, type PatchTable } from '../gemm.js';
import { heapAddress, heapBuffer } from '../heap.js';
import { parallelAvailable, patchRowsSimd } from '../parallel.js';
import { registerCpuKernel } from '../registry.js';
import { fail, geometry, layoutShape, nhwc, windowAttrs, type Geom } from '../../window_geometry.js';
import { avgPoolGradSimd, directConvFilterGradSimd, directConvSimd, maxPoolArgmaxSimd, maxPoolGradSimd, poolSimd, useSimd } from '../simd.js';
import { toNumbers, type Outputs } from './util.js';
import { conv2dWinograd, conv2dWinogradFilterGrad, Scratch, winogradApplies, winogradChosen, type WinogradOptions } from './winograd.js';

// ---- geometry ----

function floatData(a: NDArray): Float32Array {
  return a.data as Float32Array;
}

/** The data of a 4-D array in NHWC order (the array's own data when it already is). */
function asNHWC(a: NDArray, format: DataFormat): Float32Array {
  if (format === 'NHWC') return floatData(a);
  const [N, C, H, W] = a.shape as [number, number, number, number];
  const src = floatData(a);
  const dst = new Float32Array(src.length);
  const HW = H * W;
  for (let n = 0; n < N; n++) {
    const base = n * C * HW;
    for (let c = 0; c < C; c++) {
      let s = base + c * HW;
      let d = base + c;
      for (let p = 0; p < HW; p++, d += C) dst[d] = src[s++]!;
    }
  }
  return dst;
}

/**
 * A kernel's output in `format`, and the NHWC buffer the kernel writes: the output's own data for
 * NHWC (so planned arena memory is written directly), a zeroed scratch buffer that `finishNHWC`
 * transposes into the output for NCHW. `overwrites`: the kernel writes every element of the NHWC
 * buffer before reading any, so it need not start zeroed.
 */
function outputNHWC(outputs: Outputs, format: DataFormat, N: number, H: number, W: number, C: number, overwrites: boolean): { out: NDArray; nhwc: Float32Array } {
  // finishNHWC writes every element of an NCHW output.
  const shape = layoutShape(format, N, H, W, C);
  const out = overwrites || format === 'NCHW' ? outputs.allocOverwritten('float32', shape) : outputs.alloc('float32', shape);
  return { out, nhwc: format === 'NHWC' ? floatData(out) : new Float32Array(out.size) };
}

function finishNHWC(o: { out: NDArray; nhwc: Float32Array }, format: DataFormat): NDArray {
  if (format === 'NHWC') return o.out;
  const [N, C, H, W] = o.out.shape as [number, number, number, number];
  const dst = floatData(o.out);
  const data = o.nhwc;
  const HW = H * W;
  for (let n = 0; n < N; n++) {
    const base = n * C * HW;
    for (let c = 0; c < C; c++) {
      let d = base + c * HW;
      let s = base + c;
      for (let p = 0; p < HW; p++, s += C) dst[d++] = data[s]!;
    }
  }
  return o.out;
}

function expectShape(actual: readonly number[], expected: readonly number[], what: string): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    fail(`${what} has shape ${formatShape(actual)}, expected ${formatShape(expected)}`);
  }
}

// ---- im2col / col2im ----

/**
 * Floats per chunk of patch rows (16 MiB). Large, because every chunk is one GEMM, which splits
 * itself over the threads in blocks of many rows: small chunks leave threads idle and pay a
 * wake-up each.
 */
const COL_CHUNK = 1 << 22;

/** Rows per chunk of patch rows of K values: equal chunks of at most `floats` floats. */
function chunkRows(K: number, total: number, floats: number): number {
  const chunks = Math.max(1, Math.ceil((total * Math.max(K, 1)) / Math.max(floats, 1)));
  return Math.ceil(total / chunks);
}

/**
 * Writes `rows` im2col rows starting at output position r0 (rows run over n, oh, ow) into col: each
 * row is the input patch (kh, kw, c) under one output position, zeros where it hangs over the edge.
 */
function im2col(g: Geom, x: Float32Array, r0: number, rows: number, col: Float32Array): void {
  const { H, W, C, KH, KW, OH, OW, sH, sW, dH, dW, padT, padL } = g;
  const P = OH * OW;
  let n = Math.floor(r0 / P);
  let oh = Math.floor((r0 % P) / OW);
  let ow = r0 % OW;
  let dst = 0;
  const rowLen = KW * C;
  for (let r = 0; r < rows; r++) {
    const base = n * H * W * C;
    const ih0 = oh * sH - padT;
    const iw0 = ow * sW - padL;
    for (let kh = 0; kh < KH; kh++) {
      const ih = ih0 + kh * dH;
      if (ih < 0 || ih >= H) {
        col.fill(0, dst, dst + rowLen);
        dst += rowLen;
        continue;
      }
      const rowBase = base + ih * W * C;
      if (dW === 1 && iw0 >= 0 && iw0 + KW <= W) {
        // The whole filter row lies inside the image: one contiguous run of KW * C values. Long runs
        // go through set() (a memcpy, worth the small view object it costs).
        let src = rowBase + iw0 * C;
        if (rowLen >= 64) {
          col.set(x.subarray(src, src + rowLen), dst);
          dst += rowLen;
        } else {
          const end = dst + rowLen;
          while (dst < end) col[dst++] = x[src++]!;
        }
        continue;
      }
      for (let kw = 0; kw < KW; kw++) {
        const iw = iw0 + kw * dW;
        if (iw < 0 || iw >= W) {
          col.fill(0, dst, dst + C);
        } else {
          let src = rowBase + iw * C;
          for (let c = 0; c < C; c++) col[dst + c] = x[src++]!;
        }
        dst += C;
      }
    }
    if (++ow === OW) {
      ow = 0;
      if (++oh === OH) {
        oh = 0;
        n++;
      }
    }
  }
}

/**
 * im2col from a padded input (every tap inside it) for few channels, where im2col's runs of KW * C
 * floats are too short to pay for their setup: each patch value is read through a table of tap
 * offsets from the window's first tap.
 */
function im2colGather(g: Geom, x: Float32Array, r0: number, rows: number, col: Float32Array, taps: Int32Array): void {
  const { H, W, C, OH, OW, sH, sW } = g;
  const K = taps.length;
  let n = Math.floor(r0 / (OH * OW));
  let oh = Math.floor((r0 % (OH * OW)) / OW);
  let ow = r0 % OW;
  let dst = 0;
  for (let r = 0; r < rows; r++) {
    const base = ((n * H + oh * sH) * W + ow * sW) * C;
    for (let t = 0; t < K; t++) col[dst++] = x[base + taps[t]!]!;
    if (++ow === OW) {
      ow = 0;
      if (++oh === OH) {
        oh = 0;
        n++;
      }
    }
  }
}

/** Offsets of a patch's taps (kh, kw, c) from its first in an NHWC input of width W with no padding. */
function tapOffsets(g: Geom): Int32Array {
  const taps = new Int32Array(g.KH * g.KW * g.C);
  let t = 0;
  for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) for (let c = 0; c < g.C; c++) taps[t++] = (kh * g.dH * g.W + kw * g.dW) * g.C + c;
  return taps;
}

/**
 * The input as im2col reads it (see patchInput): the array, its geometry, the tap table of the
 * gather loop, and where it lies in the heap (`at`, bytes; -1 when it does not) with the scratch
 * that holds it there, if any.
 */
interface PatchInput {
  g: Geom;
  x: Float32Array;
  taps?: Int32Array;
  at: number;
  scratch: Scratch | null;
}

/**
 * Fills `col` with im2col rows [r0, r0 + rows) of the patch input: by the WebAssembly kernel where
 * both lie in the heap (and every tap inside the input), else by the TypeScript loops.
 */
function patches(p: PatchInput, r0: number, rows: number, col: Float32Array): void {
  const colAt = p.at >= 0 ? heapAddress(col) : -1;
  if (colAt >= 0 && parallelAvailable()) {
    patchRowsSimd(false, p.g, p.at, r0, rows, colAt, false);
    return;
  }
  // A copy in the heap is viewed afresh: an allocation since may have grown (and, unshared, detached) the memory.
  const x = p.scratch === null ? p.x : p.scratch.view();
  if (p.taps) im2colGather(p.g, x, r0, rows, col, p.taps);
  else im2col(p.g, x, r0, rows, col);
}

/** Whether patch rows can be built by the WebAssembly kernel here (tests). */
export function wasmIm2colAvailable(): boolean {
  return parallelAvailable();
}

/** The adjoint of im2col: adds each column row back onto the input positions it was read from. */
function col2im(g: Geom, col: Float32Array, r0: number, rows: number, dx: Float32Array): void {
  const { H, W, C, KH, KW, OH, OW, sH, sW, dH, dW, padT, padL } = g;
  const P = OH * OW;
  let n = Math.floor(r0 / P);
  let oh = Math.floor((r0 % P) / OW);
  let ow = r0 % OW;
  let src = 0;
  const rowLen = KW * C;
  for (let r = 0; r < rows; r++) {
    const base = n * H * W * C;
    const ih0 = oh * sH - padT;
    const iw0 = ow * sW - padL;
    for (let kh = 0; kh < KH; kh++) {
      const ih = ih0 + kh * dH;
      if (ih < 0 || ih >= H) {
        src += rowLen;
        continue;
      }
      const rowBase = base + ih * W * C;
      if (dW === 1 && iw0 >= 0 && iw0 + KW <= W) {
        let d = rowBase + iw0 * C;
        const end = src + rowLen;
        while (src < end) dx[d++]! += col[src++]!;
        continue;
      }
      for (let kw = 0; kw < KW; kw++) {
        const iw = iw0 + kw * dW;
        if (iw >= 0 && iw < W) {
          let d = rowBase + iw * C;
          for (let c = 0; c < C; c++) dx[d++]! += col[src + c]!;
        }
        src += C;
      }
    }
    if (++ow === OW) {
      ow = 0;
      if (++oh === OH) {
        oh = 0;
        n++;
      }
    }
  }
}

/** How im2col reads the input: straight from it, bounds-checking every tap, or from a zero-padded copy. */
export type PatchSource = 'direct' | 'padded';

/**
 * Whether im2col reads a zero-padded copy of the input: where some window hangs over an edge, the
 * copy (about the input's size) lets every patch row be whole runs of KW * C floats, which im2col
 * copies without a bounds check per tap; without padding, straight from the input.
 */
export function patchSource(g: Geom): PatchSource {
  const p = paddedExtent(g);
  return g.padT === 0 && g.padL === 0 && p.H <= g.H && p.W <= g.W ? 'direct' : 'padded';
}

/** Rows and columns the windows span, from the first window's top-left tap (which may lie outside the input). */
function paddedExtent(g: Geom): { H: number; W: number } {
  return { H: (g.OH - 1) * g.sH + (g.KH - 1) * g.dH + 1, W: (g.OW - 1) * g.sW + (g.KW - 1) * g.dW + 1 };
}

/**
 * The input as im2col should read it: itself, or a zero-padded copy spanning every window with the
 * geometry that reads it (no padding left). For the WebAssembly kernel (`inHeap`), in the heap: the
 * padded copy is made there, and an input elsewhere is copied there.
 */
function patchInput(g: Geom, x: Float32Array, source: PatchSource, inHeap: boolean): PatchInput {
  if (source === 'direct') {
    // Forced onto an input with padding left, only the TypeScript loop's bounds checks will do.
    if (!inHeap || patchSource(g) !== 'direct') return { g, x, at: -1, scratch: null };
    const at = heapAddress(x);
    if (at >= 0) return { g, x, at, scratch: null };
    const scratch = new Scratch(x.length);
    const copy = scratch.view();
    copy.set(x);
    return { g, x: copy, at: scratch.address, scratch };
  }
  const { H: Hp, W: Wp } = paddedExtent(g);
  const { N, H, W, C, padT, padL } = g;
  // In the heap, with room past the end for the implicit GEMM's reads past a segment (patchTable).
  const scratch = inHeap ? new Scratch(N * Hp * Wp * C + PATCH_SLACK) : null;
  const xp = scratch === null ? new Float32Array(N * Hp * Wp * C) : scratch.view().subarray(0, N * Hp * Wp * C).fill(0);
  // Padded row r, column s hold input row r - padT, column s - padL.
  const s0 = Math.max(0, padL);
  const s1 = Math.min(Wp, W + padL);
  for (let n = 0; n < N; n++) {
    for (let r = Math.max(0, padT); r < Math.min(Hp, H + padT); r++) {
      if (s1 <= s0) break;
      const src = ((n * H + r - padT) * W + (s0 - padL)) * C;
      xp.set(x.subarray(src, src + (s1 - s0) * C), ((n * Hp + r) * Wp + s0) * C);
    }
  }
  const padded: Geom = { ...g, H: Hp, W: Wp, padT: 0, padL: 0 };
  const at = scratch === null ? -1 : scratch.address;
  // Runs of KW * C floats (KW runs of C when dilated) shorter than this are gathered value by value.
  const run = g.dW === 1 ? g.KW * g.C : g.C;
  return { g: padded, x: xp, taps: at < 0 && run < 32 ? tapOffsets(padded) : undefined, at, scratch };
}

/** A 1x1, stride-1, unpadded conv: the input already is the im2col matrix. */
function isPointwise(g: Geom): boolean {
  return g.KH === 1 && g.KW === 1 && g.sH === 1 && g.sW === 1 && g.padT === 0 && g.padL === 0 && g.OH === g.H && g.OW === g.W;
}

/** Floats the implicit GEMM may read past a pixel's last patch value (gemm.ts's packBInd: a partial panel of NR). */
const PATCH_SLACK = 16;

/**
 * The patch table of an input as im2col reads it (patchInput's, in the heap): each output pixel's
 * window's first tap, and the taps' segments (one filter row of KW * C floats, or one tap's C when
 * dilated), for the implicit GEMM (gemm.ts's sgemmPatches). Null where the input is not in the heap
 * or the reads past its end would leave the memory.
 */
function patchTable(p: PatchInput): { patches: PatchTable; scratch: Scratch } | null {
  const { N, H, W, C, KW, OH, OW, sH, sW, dH, dW } = p.g;
  if (p.at < 0 || p.at + (p.x.length + PATCH_SLACK) * 4 > heapBuffer().byteLength) return null;
  const total = N * OH * OW;
  const scratch = new Scratch(Math.ceil(total / 4) * 4);
  if (scratch.address < 0) return null;
  const table = new Int32Array(heapBuffer(), scratch.address, scratch.floats);
  let t = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      let at = p.at + (n * H + oh * sH) * W * C * 4;
      for (let ow = 0; ow < OW; ow++, at += sW * C * 4) table[t++] = at;
    }
  }
  table.fill(p.at, total);
  const rowStride = dH * W * C * 4;
  const patches = dW === 1 ? { table, L: KW * C, perRow: 1, rowStride, colStride: 0 } : { table, L: C, perRow: KW, rowStride, colStride: dW * C * 4 };
  return { patches, scratch };
}

// ---- Conv2D and its backprops (NHWC data, filter [KH, KW, C, OC]) ----

/**
 * How Conv2D (and its filter gradient) computes: im2col and a GEMM, the implicit GEMM (no patch
 * rows: gemm.ts's sgemmPatches), directly (WebAssembly SIMD, few input channels), or by Winograd
 * (3x3 filters at stride 1, undilated; winograd.ts).
 */
export type ForwardPath = 'im2col' | 'implicit' | 'direct' | 'winograd';

/** How Conv2DBackpropInput computes: by col2im of dy times the filter, or as a forward convolution of dy. */
export type InputGradPath = 'col2im' | 'flipped';

/**
 * How the filter gradient's GEMM is oriented: dfilter[K, OC] = im2col(x)^T * dy ('patchesT'), or
 * its transpose dfilter^T[OC, K] = dy^T * im2col(x) ('dyT'), whose long side K the GEMM splits over
 * its threads in many even blocks of columns (the other orientation cuts K into blocks of whole
 * 128-row panels: 800 rows are three blocks and a sliver, uneven on two threads).
 */
export type FilterGradOrder = 'patchesT' | 'dyT';

/** Choices the kernels make per geometry, fixed by tests and benchmarks to compare them. */
export interface ConvOptions {
  /** Conv2D's (and the filter gradient's) path; for the flipped input gradient, its forward convolution's. */
  path?: ForwardPath;
  /** The input gradient's path. */
  inputPath?: InputGradPath;
  /** Where im2col reads the input. */
  source?: PatchSource;
  order?: FilterGradOrder;
  /** Floats per chunk of patch rows (COL_CHUNK). */
  chunkFloats?: number;
  /** Winograd's output tile, F(2x2,3x3) or F(4x4,3x3) (winogradTile's choice by default). */
  winogradTile?: 2 | 4;
  /** Who builds patch rows (and Winograd's transforms): the WebAssembly kernel in the heap (where there is one: the default) or the TypeScript loops. */
  im2col?: 'wasm' | 'typescript';
}

/** Whether patch rows are built by the WebAssembly kernel, in the heap. */
function wasmPatches(o: ConvOptions): boolean {
  return parallelAvailable() && o.im2col !== 'typescript';
}

/**
 * Conv2D's path for a geometry: Winograd where it pays (useWinograd), else the implicit GEMM where
 * it applies (implicitApplies), else direct below 16 input channels, where im2col copies every
 * input value KH * KW times into short rows for a GEMM with a short inner dimension, and for small
 * outputs (at most DIRECT_MAX_PIXELS pixels: batch-1 inference) with fewer than 64 output channels,
 * which the GEMM covers with few column tiles; else im2col and the GEMM (and without WebAssembly
 * SIMD). Measured alternately in one process (scratch/dir_grid.mts, SAME, median of 7-41, ms,
 * implicit / im2col / direct): 1x32x32x8 -> 8 3x3 0.066 / 0.050 / 0.143; 1x32x32x16 -> 16 3x3 0.150 /
 * 0.150 / 0.186; 1x28x28x4 -> 32 5x5 0.114 / 0.156 / 0.115; 16x28x28x4 -> 32 5x5 1.79 / 2.30 / 2.31;
 * 16x28x28x8 -> 32 5x5 2.10 / 3.87 / 2.47; 1x14x14x16 -> 32 5x5 0.109 / 0.126 / 0.155; 4x14x14x32 ->
 * 32 5x5 0.54 / 0.70 / 0.73; 64x14x14x8 -> 16 5x5 1.26 / 2.30 / 2.35; 8x32x32x8 -> 32 3x3 0.647 /
 * 0.854 / 0.644. (Before the implicit GEMM, best of 31 against im2col: direct 2-3.5x faster at 1-8
 * input channels, 1.5-3x at 16 channels into 16-32.)
 */
export function forwardPath(g: Geom, OC: number): ForwardPath {
  if (useWinograd(g, OC)) return 'winograd';
  if (implicitApplies(g, 4)) return 'implicit';
  return directApplies(g, OC) ? 'direct' : 'im2col';
}

/**
 * Conv2DBackpropFilter's path: as the forward's, but the implicit GEMM needs segments of a multiple
 * of 8 floats there (NR-wide panels of patch values), and the direct filter gradient keeps more of
 * the small shapes (scratch/dir_grid.mts, as forwardPath, implicit / im2col / direct): 1x28x28x4 ->
 * 32 5x5 (segments of 20: im2col) 0.154 / 0.101 direct; 16x28x28x8 -> 32 5x5 3.21 / 3.03 / 2.54;
 * 64x14x14x8 -> 16 5x5 1.37 / 2.30 / 2.25; 1x32x32x8 -> 8 3x3 0.051 / 0.053 / 0.145; 4x14x14x32 -> 32
 * 5x5 0.61 / 0.75 / 0.70.
 */
export function filterGradPath(g: Geom, OC: number): ForwardPath {
  if (useWinograd(g, OC)) return 'winograd';
  if (implicitApplies(g, 8)) return 'implicit';
  return directApplies(g, OC) ? 'direct' : 'im2col';
}

function directApplies(g: Geom, OC: number): boolean {
  const pixels = g.N * g.OH * g.OW;
  const small = g.C < 16 || (pixels <= DIRECT_MAX_PIXELS && OC < 64);
  return small && !isPointwise(g) && g.KH * g.KW * g.C * OC <= DIRECT_MAX_FILTER && useSimd(pixels * OC);
}

/**
 * Whether the implicit GEMM can compute this geometry (not a 1x1 convolution, whose input already
 * is its patch matrix): the WebAssembly kernels, and segments (KW * C floats, or C when dilated) of
 * a multiple of `multiple`. Where it applies it beats im2col on every shape measured (alternately
 * in one process, scratch/impl_time.mts, SAME, median of 7-9, ms, im2col / implicit, forward and
 * filter gradient): 64x14x14x32 -> 64 5x5 21.5 / 18.5, 23.1 / 19.3; 1x14x14x32 -> 64 5x5 0.32 / 0.26,
 * 0.50 / 0.42; 32x28x28x32 -> 32 5x5 22.1 / 15.1, 23.4 / 18.2; 16x32x32x64 -> 64 3x3 17.1 / 14.1,
 * 18.2 / 16.6; 8x16x16x128 -> 128 3x3 7.6 / 6.9, 9.1 / 9.0; 64x8x8x16 -> 16 3x3 0.52 / 0.38, 0.55 /
 * 0.43; 4x28x28x32 -> 64 5x5 6.3 / 5.5, 6.9 / 5.7.
 */
function implicitApplies(g: Geom, multiple: number): boolean {
  return implicitChosen && parallelAvailable() && !isPointwise(g) && (g.dW === 1 ? g.KW * g.C : g.C) % multiple === 0;
}

let implicitChosen = true;

/** Lets the paths choose the implicit GEMM or not (benchmarks compare them in one process); returns the previous setting. */
export function setImplicitChosen(on: boolean): boolean {
  const previous = implicitChosen;
  implicitChosen = on;
  return previous;
}

/**
 * Winograd (3x3, stride 1, undilated, with the WebAssembly transforms; F(2x2,3x3) or F(4x4,3x3) by
 * winogradTile) from 8 input and 8 output channels, C * OC >= 256, and 2^17 multiply-adds of
 * F(2x2,3x3)'s GEMMs per plane (tiles * C * OC), below which im2col's one GEMM or the direct
 * convolution wins (measured with F(2x2,3x3); F(4x4,3x3) only replaces it where it is faster
 * still). Measured alternately in one process (scratch/w_grid.mts, median of 5-41, SAME padding;
 * Winograd / the best other path): 1x8x8 images
 * 32->32 1.77, 64->64 1.18, 128->128 0.98, 256->256 0.94; 1x16x16 16->16 1.55, 32->32 0.98, 64->64
 * 0.68, 256->256 0.59; 1x32x32 8->8 1.28, 16->16 0.94, 32->32 0.68, 64->64 0.53, 128->128 0.52;
 * 8x32x32 8->8 1.09, 16->16 0.85, 4->16 1.09, 3->64 1.42 (direct), 8->64 0.64, 64->8 0.54; 4x8x8
 * 128->128 0.68; 16x8x8 256->256 0.53; 32x16x16 128->128 0.91.
 */
function useWinograd(g: Geom, OC: number): boolean {
  if (!winogradApplies(g) || !winogradChosen() || config.cpuWinograd() === 0 || g.C < 8 || OC < 8 || g.C * OC < 256) return false;
  return g.N * Math.ceil(g.OH / 2) * Math.ceil(g.OW / 2) * g.C * OC >= WINOGRAD_MIN_MACS;
}

const WINOGRAD_MIN_MACS = 1 << 17;

/**
 * Winograd's output tile for a geometry it computes: F(4x4,3x3) from 16x16 outputs and 2^17
 * multiply-adds per plane of its GEMMs (its tiles * C * OC), F(2x2,3x3) below (too few 4x4 tiles:
 * their edges waste most of a 6x6 input tile). Measured alternately in one process
 * (scratch/w_f4t.mts, SAME, median of 5-41, ms; forward F2 / F4, filter gradient F2 / F4):
 * 32x32x32x64 -> 64 30.7 / 20.3, 35.5 / 20.9 (im2col 57.4, 52.3); 8x16x16x128 -> 128 6.7 / 5.5,
 * 9.9 / 9.2; 1x56x56x64 -> 64 2.95 / 2.10, 3.99 / 2.95; 8x32x32x16 -> 16 0.86 / 0.57, 1.16 /
 * 0.56; 1x32x32x32 -> 32 0.30 / 0.30; 1x16x16x64 -> 64 0.27 / 0.44; 16x8x8x256 -> 256 12.6 /
 * 12.2, 23.7 / 28.3; 1x8x8x128 -> 128 0.40 / 1.37.
 */
export function winogradTile(g: Geom, OC: number): 2 | 4 {
  if (config.cpuWinograd() === 2) return 2;
  const tiles4 = g.N * Math.ceil(g.OH / 4) * Math.ceil(g.OW / 4);
  return g.OH >= 16 && g.OW >= 16 && tiles4 * g.C * OC >= WINOGRAD_MIN_MACS ? 4 : 2;
}

function winogradOptions(g: Geom, OC: number, o: ConvOptions): WinogradOptions {
  return { tile: o.winogradTile ?? winogradTile(g, OC), transforms: o.im2col === 'typescript' ? 'typescript' : 'wasm', chunkFloats: o.chunkFloats };
}

/** Output pixels up to which the direct convolution beats im2col for fewer than 64 output channels, whatever the input channels. */
const DIRECT_MAX_PIXELS = 4096;
/** Filter values the direct convolution stages (its copy of the filter is padded to 16 output channels). */
const DIRECT_MAX_FILTER = 1 << 20;

/**
 * y[N*OH*OW, OC] = im2col(x)[N*OH*OW, K] * filter[K, OC], or the same sums directly; im2col reads
 * the input straight or from a padded copy. Overwrites y.
 */
export function conv2dForward(g: Geom, OC: number, x: Float32Array, f: Float32Array, y: Float32Array, o: ConvOptions = {}): void {
  const K = g.KH * g.KW * g.C;
  const total = g.N * g.OH * g.OW;
  const path = o.path ?? forwardPath(g, OC);
  if (path === 'direct') {
    directConvSimd(g, OC, x, f, y);
    return;
  }
  if (path === 'winograd') {
    conv2dWinograd(g, OC, x, f, y, winogradOptions(g, OC, o));
    return;
  }
  if (isPointwise(g)) {
    sgemm(false, false, total, OC, K, 1, x, K, f, OC, 0, y, OC);
    return;
  }
  const p = patchInput(g, x, o.source ?? patchSource(g), wasmPatches(o));
  if (path === 'implicit') {
    const t = patchTable(p);
    const done = t !== null && sgemmPatches('A', total, OC, K, t.patches, f, OC, y, OC);
    t?.scratch.free();
    if (done) {
      p.scratch?.free();
      return;
    }
  }
  const chunk = chunkRows(K, total, o.chunkFloats ?? COL_CHUNK);
  // Per call: runs overlap.
  const scratch = new Scratch(chunk * K);
  try {
    for (let r0 = 0; r0 < total; r0 += chunk) {
      const rows = Math.min(chunk, total - r0);
      const col = scratch.view();
      patches(p, r0, rows, col);
      sgemm(false, false, rows, OC, K, 1, col, K, f, OC, 0, y, OC, 0, 0, r0 * OC);
    }
  } finally {
    scratch.free();
    p.scratch?.free();
  }
}

/**
 * The input gradient's path for a geometry. At stride 1 it can be a forward convolution of dy with
 * the filter turned by 180 degrees and its channel axes swapped (im2col of dy and a GEMM with the
 * long KH*KW*OC dimension inner), which pays once the input has enough channels (that GEMM's
 * columns). With the WebAssembly col2im, col2im wins wherever the output has 32 channels or more
 * (its GEMM's inner dimension), and always when strided. Measured alternately in one process, CPU
 * time, median of 9: 64x14x14x32 <- 64 channels 5x5, col2im 29.9 ms, flipped 39.4; 32x14x14x64 <-
 * 32, 18.7 and 22.5; 8x14x14x128 <- 128, 53 and 64; 32x14x14x32 <- 16, 7.0 and 5.3.
 * Where the flipped convolution is Winograd's (useWinograd on its geometry), it is flipped whatever
 * the channels: alternately in one process (scratch/w_bpi.mts, SAME 3x3, median of 5-41), flipped
 * Winograd / col2im: 32x32x32x64 <- 64 0.55-0.64, 8x16x16x128 <- 128 0.61, 1x32x32x32 <- 32 0.77,
 * 8x32x32x16 <- 16 0.78, 32x14x14x32 <- 16 0.29, 8x8x8x256 <- 256 1.08 (noise: 0.9 forward).
 */
export function inputGradPath(g: Geom, OC: number, o: ConvOptions = {}): InputGradPath {
  if (g.sH !== 1 || g.sW !== 1 || isPointwise(g)) return 'col2im';
  const onDy = flippedGeometry(g, OC);
  if (useWinograd(onDy, g.C)) return 'flipped';
  if (wasmPatches(o) && implicitApplies(onDy, 4) && g.C >= 16 && g.N * g.H * g.W >= FLIPPED_IMPLICIT_MIN_PIXELS) return 'flipped';
  return g.C >= 16 && (OC < 32 || !wasmPatches(o)) ? 'flipped' : 'col2im';
}

/**
 * Input pixels from which the flipped input gradient by the implicit GEMM beats col2im whatever
 * the channels. Measured alternately in one process (scratch/impl_time.mts, SAME, median of 7-9,
 * ms, col2im / flipped implicit): 64x14x14x32 <- 64 5x5 21.9 / 19.1; 32x28x28x32 <- 32 5x5 21.6 /
 * 15.1; 4x28x28x32 <- 64 5x5 7.0 / 6.3; 16x16x16x128 <- 128 3x3 18.5 / 15.5; 4x32x32x32 <- 32 3x3
 * 2.03 / 2.00; 2x32x32x64 <- 64 3x3 5.0 / 3.4; but 8x16x16x128 <- 128 3x3 7.6 / 9.3, 8x14x14x32 <- 64
 * 5x5 3.4 / 3.7, 1x14x14x32 <- 64 5x5 0.40 / 1.01.
 */
const FLIPPED_IMPLICIT_MIN_PIXELS = 3000;

/** dx (NHWC, overwritten) = the gradient of Conv2D's input, by the given path (the geometry's own by default). */
export function conv2dBackpropInput(g: Geom, OC: number, f: Float32Array, dy: Float32Array, dx: Float32Array, o: ConvOptions = {}): void {
  if ((o.inputPath ?? inputGradPath(g, OC, o)) === 'flipped') conv2dBackpropInputFlipped(g, OC, f, dy, dx, o);
  else conv2dBackpropInputCol2im(g, OC, f, dy, dx, o);
}

/** The geometry of the flipped input gradient's forward convolution: over dy (OC channels) into the input's shape (C channels), at stride 1. */
function flippedGeometry(g: Geom, OC: number): Geom {
  const { KH, KW, dH, dW } = g;
  return {
    N: g.N,
    H: g.OH,
    W: g.OW,
    C: OC,
    KH,
    KW,
    OH: g.H,
    OW: g.W,
    sH: 1,
    sW: 1,
    dH,
    dW,
    padT: dH * (KH - 1) - g.padT,
    padL: dW * (KW - 1) - g.padL,
  };
}

/**
 * At stride 1, dx[ih] = sum over kh of dy[ih + padT - kh*dH] * f[kh] (and the same along the
 * width): with kh' = KH-1-kh that is a forward convolution of dy, padded by dH*(KH-1) - padT, with
 * f'[kh', kw', oc, c] = f[KH-1-kh', KW-1-kw', c, oc].
 */
function conv2dBackpropInputFlipped(g: Geom, OC: number, f: Float32Array, dy: Float32Array, dx: Float32Array, o: ConvOptions): void {
  const { KH, KW, C } = g;
  const onDy = flippedGeometry(g, OC);
  const chosen = forwardPath(onDy, C);
  const path = o.path ?? (chosen === 'winograd' || chosen === 'implicit' ? chosen : 'im2col');
  if (path === 'winograd') {
    // Winograd turns the filter within its own transform.
    conv2dWinograd(onDy, C, dy, f, dx, { ...winogradOptions(onDy, C, o), flipped: true });
    return;
  }
  const flipped = new Float32Array(f.length);
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const src = (kh * KW + kw) * C * OC;
      const dst = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * OC * C;
      for (let c = 0; c < C; c++) for (let oc = 0; oc < OC; oc++) flipped[dst + oc * C + c] = f[src + c * OC + oc]!;
    }
  }
  conv2dForward(onDy, C, dy, flipped, dx, { path, chunkFloats: o.chunkFloats, im2col: o.im2col });
}

/**
 * dx = col2im(dy[N*OH*OW, OC] * filter^T[OC, K]); overwrites dx. With the WebAssembly kernel, the
 * patch rows are summed into a zero-padded input spanning every window (every tap inside it, as
 * im2col reads), which is cropped into dx at the end; chunks are whole images where an image's
 * patch rows fit in one, so the kernel zeroes and fills each image's padded input on whichever
 * thread takes it.
 */
function conv2dBackpropInputCol2im(g: Geom, OC: number, f: Float32Array, dy: Float32Array, dx: Float32Array, o: ConvOptions): void {
  const K = g.KH * g.KW * g.C;
  const total = g.N * g.OH * g.OW;
  if (isPointwise(g)) {
    sgemm(false, true, total, K, OC, 1, dy, OC, f, OC, 0, dx, K);
    return;
  }
  const pixels = g.OH * g.OW;
  const chunkFloats = o.chunkFloats ?? COL_CHUNK;
  const byImages = wasmPatches(o) && pixels > 0 && pixels * K <= chunkFloats;
  const chunk = byImages ? pixels * chunkRows(1, g.N, Math.floor(chunkFloats / (pixels * K))) : chunkRows(K, total, chunkFloats);
  const scratch = new Scratch(chunk * K);
  const { H: Hp, W: Wp } = paddedExtent(g);
  const padded = wasmPatches(o) ? new Scratch(g.N * Hp * Wp * g.C) : null;
  const wasm = padded !== null && padded.address >= 0 && scratch.address >= 0;
  try {
    if (wasm && !byImages) padded.view().fill(0);
    if (!wasm) dx.fill(0);
    const onPadded: Geom = { ...g, H: Hp, W: Wp, padT: 0, padL: 0 };
    for (let r0 = 0; r0 < total; r0 += chunk) {
      const rows = Math.min(chunk, total - r0);
      sgemm(false, true, rows, K, OC, 1, dy, OC, f, OC, 0, scratch.view(), K, r0 * OC, 0, 0);
      if (wasm) patchRowsSimd(true, onPadded, padded.address, r0, rows, scratch.address, byImages);
      else col2im(g, scratch.view(), r0, rows, dx);
    }
    if (wasm) {
      // Input rows or columns past every window get no gradient.
      if (g.padT < 0 || g.padL < 0 || Hp - g.padT < g.H || Wp - g.padL < g.W) dx.fill(0);
      cropPadded(g, Hp, Wp, padded.view(), dx);
    }
  } finally {
    scratch.free();
    padded?.free();
  }
}

/** Copies the input's part of a padded input (Hp x Wp, as patchInput lays it out) into x, whose other values are left as they are. */
function cropPadded(g: Geom, Hp: number, Wp: number, xp: Float32Array, x: Float32Array): void {
  const { N, H, W, C, padT, padL } = g;
  // Input column w is padded column w + padL: those inside [0, Wp).
  const w0 = Math.max(0, -padL);
  const w1 = Math.min(W, Wp - padL);
  if (w1 <= w0) return;
  for (let n = 0; n < N; n++) {
    for (let h = Math.max(0, -padT); h < Math.min(H, Hp - padT); h++) {
      const src = ((n * Hp + h + padT) * Wp + w0 + padL) * C;
      x.set(xp.subarray(src, src + (w1 - w0) * C), ((n * H + h) * W + w0) * C);
    }
  }
}

/**
 * dfilter[K, OC] = im2col(x)^T[K, N*OH*OW] * dy[N*OH*OW, OC], the same sums directly, or by Winograd
 * (filterGradPath's choice for the geometry; Winograd measured alternately in one process, scratch/w_f4t.mts,
 * SAME 3x3, median of 5-41, ms, im2col / F(2x2,3x3) / F(4x4,3x3): 32x32x32x64 -> 64 31.3 / 35.0 /
 * 18.8; 16x8x8x256 -> 256 21.7 / 11.5 / 8.8; 1x16x16x64 -> 64 0.46 / 0.28 / 0.32; 1x8x8x128 -> 128
 * 0.69 / 0.32 / 0.54). Overwrites df.
 */
export function conv2dBackpropFilter(g: Geom, OC: number, x: Float32Array, dy: Float32Array, df: Float32Array, o: ConvOptions = {}): void {
  const K = g.KH * g.KW * g.C;
  const total = g.N * g.OH * g.OW;
  const path = o.path ?? filterGradPath(g, OC);
  if (path === 'direct') {
    directConvFilterGradSimd(g, OC, x, dy, df);
    return;
  }
  if (path === 'winograd') {
    conv2dWinogradFilterGrad(g, OC, x, dy, df, winogradOptions(g, OC, o));
    return;
  }
  if (total === 0 || K === 0 || OC === 0) {
    df.fill(0);
    return;
  }
  const pointwise = isPointwise(g);
  const p = pointwise ? null : patchInput(g, x, o.source ?? patchSource(g), wasmPatches(o));
  if (p !== null && path === 'implicit' && (o.order ?? 'dyT') === 'dyT' && filterGradImplicit(g, OC, p, dy, df)) {
    p.scratch?.free();
    return;
  }
  const chunk = pointwise ? total : chunkRows(K, total, o.chunkFloats ?? COL_CHUNK);
  const scratch = pointwise ? null : new Scratch(chunk * K);
  const dfT = (o.order ?? 'dyT') === 'dyT' ? new Scratch(OC * K) : null;
  try {
    for (let r0 = 0; r0 < total; r0 += chunk) {
      const rows = Math.min(chunk, total - r0);
      // A 1x1 convolution's input already is its patch matrix.
      const col = scratch === null ? x : scratch.view();
      if (p !== null) patches(p, r0, rows, col);
      const offCol = scratch === null ? r0 * K : 0;
      const beta = r0 === 0 ? 0 : 1;
      if (dfT !== null) sgemm(true, false, OC, K, rows, 1, dy, OC, col, K, beta, dfT.view(), K, r0 * OC, offCol, 0);
      else sgemm(true, false, K, OC, rows, 1, col, K, dy, OC, beta, df, OC, offCol, r0 * OC, 0);
    }
    if (dfT !== null) transposeInto(dfT.view(), OC, K, df);
  } finally {
    scratch?.free();
    dfT?.free();
    p?.scratch?.free();
  }
}

/** df[K, OC] = t[OC, K]^T. */
function transposeInto(t: Float32Array, OC: number, K: number, df: Float32Array): void {
  for (let oc = 0; oc < OC; oc++) for (let k = 0, s = oc * K; k < K; k++) df[k * OC + oc] = t[s + k]!;
}

/** The filter gradient as one implicit GEMM, dfilter^T[OC, K] = dy^T * patches; false (nothing done) where it cannot run. */
function filterGradImplicit(g: Geom, OC: number, p: PatchInput, dy: Float32Array, df: Float32Array): boolean {
  const K = g.KH * g.KW * g.C;
  const t = patchTable(p);
  if (t === null) return false;
  const dfT = new Scratch(OC * K);
  try {
    if (dfT.address < 0 || !sgemmPatches('B', OC, K, g.N * g.OH * g.OW, t.patches, dy, OC, dfT.view(), K)) return false;
    transposeInto(dfT.view(), OC, K, df);
    return true;
  } finally {
    dfT.free();
    t.scratch.free();
  }
}

// ---- depthwise (NHWC data, filter [KH, KW, C, M], output depth C*M) ----

const DW_FORWARD = 0;
const DW_INPUT = 1;
const DW_FILTER = 2;

/**
 * The depthwise convolution's passes over every (output position, filter tap) pair whose input
 * position lies inside the image: y += x * f (DW_FORWARD: a = x, b = f), dx += the sum over the
 * multiplier of dy * f (DW_INPUT: a = dy, b = f), df += x * dy (DW_FILTER: a = x, b = dy).
 */
function depthwisePass(pass: number, g: Geom, M: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, dH, dW, padT, padL } = g;
  const depthOut = C * M;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const yi = ((n * OH + oh) * OW + ow) * depthOut;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sH - padT + kh * dH;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sW - padL + kw * dW;
            if (iw < 0 || iw >= W) continue;
            const xi = ((n * H + ih) * W + iw) * C;
            const fi = (kh * KW + kw) * depthOut;
            for (let c = 0; c < C; c++) {
              const o = c * M;
              if (pass === DW_FORWARD) {
                const v = a[xi + c]!;
                for (let m = 0; m < M; m++) out[yi + o + m]! += v * b[fi + o + m]!;
              } else if (pass === DW_INPUT) {
                let sum = 0;
                for (let m = 0; m < M; m++) sum += a[yi + o + m]! * b[fi + o + m]!;
                out[xi + c]! += sum;
              } else {
                const v = a[xi + c]!;
                for (let m = 0; m < M; m++) out[fi + o + m]! += v * b[yi + o + m]!;
              }
            }
          }
        }
      }
    }
  }
}

function depthwiseForward(g: Geom, M: number, x: Float32Array, f: Float32Array, y: Float32Array): void {
  depthwisePass(DW_FORWARD, g, M, x, f, y);
}

function depthwiseBackpropInput(g: Geom, M: number, f: Float32Array, dy: Float32Array, dx: Float32Array): void {
  depthwisePass(DW_INPUT, g, M, dy, f, dx);
}

function depthwiseBackpropFilter(g: Geom, M: number, x: Float32Array, dy: Float32Array, df: Float32Array): void {
  depthwisePass(DW_FILTER, g, M, x, dy, df);
}

// ---- kernel registration for the conv family ----

type ConvImpl = {
  forward: (g: Geom, outDepthParam: number, x: Float32Array, f: Float32Array, y: Float32Array) => void;
  backpropInput: (g: Geom, outDepthParam: number, f: Float32Array, dy: Float32Array, dx: Float32Array) => void;
  backpropFilter: (g: Geom, outDepthParam: number, x: Float32Array, dy: Float32Array, df: Float32Array) => void;
  /** Output depth of the forward op from the input depth and the filter's last dim. */
  outDepth: (C: number, F3: number) => number;
  /** Whether the passes overwrite their outputs (else they add into zeros). */
  overwrites: boolean;
};

const conv2dImpl: ConvImpl = {
  forward: conv2dForward,
  backpropInput: conv2dBackpropInput,
  backpropFilter: conv2dBackpropFilter,
  outDepth: (_C, F3) => F3,
  overwrites: true,
};
const depthwiseImpl: ConvImpl = {
  forward: depthwiseForward,
  backpropInput: depthwiseBackpropInput,
  backpropFilter: depthwiseBackpropFilter,
  outDepth: (C, F3) => C * F3,
  overwrites: false,
};

function filterDims(f: readonly number[], what = 'filter'): [number, number, number, number] {
  if (f.length !== 4) fail(`${what} must be 4-dimensional, got shape ${formatShape(f)}`);
  return f as [number, number, number, number];
}

function checkDepth(inDepth: number, filterDepth: number): void {
  if (inDepth !== filterDepth) fail(`input depth ${inDepth} must equal the filter's in_channels ${filterDepth}`);
}

/** Checks out_backprop against the forward geometry and returns it as NHWC data. */
function outBackprop(dy: NDArray, g: Geom, outDepth: number, format: DataFormat): Float32Array {
  const [n, h, w, c] = nhwc(dy.shape, format, 'out_backprop');
  expectShape([n, h, w, c], [g.N, g.OH, g.OW, outDepth], `out_backprop (in NHWC order)`);
  return asNHWC(dy, format);
}

function registerConvFamily(fwd: string, bpi: string, bpf: string, impl: ConvImpl): void {
  registerCpuKernel(fwd, ([x, f], node, _state, outputs) => {
    const a = windowAttrs(node, { dilations: true, explicit: true });
    const [N, H, W, C] = nhwc(x!.shape, a.format, 'input');
    const [KH, KW, FC, F3] = filterDims(f!.shape);
    checkDepth(C, FC);
    const g = geometry(a, N, H, W, C, KH, KW);
    const OC = impl.outDepth(C, F3);
    const y = outputNHWC(outputs, a.format, N, g.OH, g.OW, OC, impl.overwrites);
    impl.forward(g, F3, asNHWC(x!, a.format), floatData(f!), y.nhwc);
    return [finishNHWC(y, a.format)];
  });

  registerCpuKernel(bpi, ([sizes, f, dy], node, _state, outputs) => {
    const a = windowAttrs(node, { dilations: true, explicit: true });
    const d = layoutDims(a.format);
    const [KH, KW, FC, F3] = filterDims(f!.shape);
    let s = toNumbers(sizes!);
    if (s.length === 2) {
      const full = [0, 0, 0, 0];
      full[d.n] = dy!.shape[d.n] ?? 0;
      full[d.h] = s[0]!;
      full[d.w] = s[1]!;
      full[d.c] = FC;
      s = full;
    }
    if (s.length !== 4 || s.some((v) => v < 0)) fail(`input_sizes must be 4 non-negative sizes, got [${s.join(', ')}]`);
    const [N, H, W, C] = nhwc(s, a.format, 'input_sizes');
    checkDepth(C, FC);
    const g = geometry(a, N, H, W, C, KH, KW);
    const dyData = outBackprop(dy!, g, impl.outDepth(C, F3), a.format);
    const dx = outputNHWC(outputs, a.format, N, H, W, C, impl.overwrites);
    impl.backpropInput(g, F3, floatData(f!), dyData, dx.nhwc);
    return [finishNHWC(dx, a.format)];
  });

  registerCpuKernel(bpf, ([x, sizes, dy], node, _state, outputs) => {
    const a = windowAttrs(node, { dilations: true, explicit: true });
    const [N, H, W, C] = nhwc(x!.shape, a.format, 'input');
    const s = toNumbers(sizes!);
    if (s.length !== 4 || s.some((v) => v < 0)) fail(`filter_sizes must be 4 non-negative sizes, got [${s.join(', ')}]`);
    const [KH, KW, FC, F3] = s as [number, number, number, number];
    checkDepth(C, FC);
    const g = geometry(a, N, H, W, C, KH, KW);
    const dyData = outBackprop(dy!, g, impl.outDepth(C, F3), a.format);
    const df = impl.overwrites ? outputs.allocOverwritten('float32', s) : outputs.alloc('float32', s);
    impl.backpropFilter(g, F3, asNHWC(x!, a.format), dyData, floatData(df));
    return [df];
  });
}

registerConvFamily('Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', conv2dImpl);
registerConvFamily('DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', depthwiseImpl);

// ---- pooling (NHWC data) ----
// Loops are written out in each kernel (no per-window callbacks): pooling is memory-bound and these
// run on every training step of a CNN.

/** The SIMD pooling loops work four channels at a time: worth it from four channels on, on large outputs. */
function usePoolSimd(g: Geom): boolean {
  return g.C >= 4 && useSimd(g.N * g.OH * g.OW * g.C);
}

function poolGeometry(node: KernelNode, inShape: readonly number[]): { g: Geom; format: DataFormat } {
  const a = windowAttrs(node, {});
  const [KH, KW] = windowAttrs(node, { listName: 'ksize' }).strides;
  const [N, H, W, C] = nhwc(inShape, a.format, 'input');
  return { g: geometry(a, N, H, W, C, KH, KW), format: a.format };
}

/**
 * NHWC index into x of each output element's window maximum: the first one in row-major window
 * order on ties, as TensorFlow's CPU kernel picks; -1 for a window with no element inside the input.
 */
function maxPoolArgmax(g: Geom, x: Float32Array): Int32Array {
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, padT, padL } = g;
  if (usePoolSimd(g)) {
    const arg = new Int32Array(N * OH * OW * C);
    maxPoolArgmaxSimd(g, x, arg);
    return arg;
  }
  const arg = new Int32Array(N * OH * OW * C).fill(-1);
  const best = new Float32Array(C);
  for (let n = 0; n < N; n++) {
    const base = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * sH - padT;
      const h0 = Math.max(hs, 0);
      const h1 = Math.min(hs + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * sW - padL;
        const w0 = Math.max(ws, 0);
        const w1 = Math.min(ws + KW, W);
        if (h0 >= h1 || w0 >= w1) continue;
        const yi = ((n * OH + oh) * OW + ow) * C;
        const first = base + (h0 * W + w0) * C;
        for (let c = 0; c < C; c++) {
          best[c] = x[first + c]!;
          arg[yi + c] = first + c;
        }
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = ih === h0 ? w0 + 1 : w0; iw < w1; iw++) {
            const xi = base + (ih * W + iw) * C;
            for (let c = 0; c < C; c++) {
              const v = x[xi + c]!;
              if (v > best[c]!) {
                best[c] = v;
                arg[yi + c] = xi + c;
              }
            }
          }
        }
      }
    }
  }
  return arg;
}

registerCpuKernel('MaxPool', ([input], node, _state, outputs) => {
  const { g, format } = poolGeometry(node, input!.shape);
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, padT, padL } = g;
  const x = asNHWC(input!, format);
  // Both paths write every output (the loop below fills with -Infinity first).
  const out = outputNHWC(outputs, format, N, OH, OW, C, true);
  if (usePoolSimd(g)) {
    poolSimd('max', g, x, out.nhwc);
    return [finishNHWC(out, format)];
  }
  const y = out.nhwc.fill(-Infinity);
  for (let n = 0; n < N; n++) {
    const base = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * sH - padT;
      const h0 = Math.max(hs, 0);
      const h1 = Math.min(hs + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * sW - padL;
        const w0 = Math.max(ws, 0);
        const w1 = Math.min(ws + KW, W);
        const yi = ((n * OH + oh) * OW + ow) * C;
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = w0; iw < w1; iw++) {
            const xi = base + (ih * W + iw) * C;
            for (let c = 0; c < C; c++) {
              const v = x[xi + c]!;
              if (v > y[yi + c]!) y[yi + c] = v;
            }
          }
        }
      }
    }
  }
  return [finishNHWC(out, format)];
});

/** The three inputs of MaxPoolGrad / MaxPoolGradGrad, checked against the pool geometry. */
function maxPoolGradInputs(inputs: NDArray[], node: KernelNode, gradIsInputShaped: boolean) {
  const [xIn, yIn, gradIn] = inputs as [NDArray, NDArray, NDArray];
  const { g, format } = poolGeometry(node, xIn.shape);
  const outShape = layoutShape(format, g.N, g.OH, g.OW, g.C);
  expectShape(yIn.shape, outShape, 'orig_output');
  expectShape(gradIn.shape, gradIsInputShaped ? xIn.shape : outShape, 'grad');
  return { g, format, x: asNHWC(xIn, format), grad: asNHWC(gradIn, format) };
}

// MaxPoolGrad routes each output gradient to its window's maximum (in one SIMD pass where it pays).
registerCpuKernel('MaxPoolGrad', (inputs, node, _state, outputs) => {
  const { g, format, x, grad } = maxPoolGradInputs(inputs, node, false);
  // The SIMD pass zeroes each image of dx before scattering into it; the loop below needs zeros.
  const simd = usePoolSimd(g);
  const out = outputNHWC(outputs, format, g.N, g.H, g.W, g.C, simd);
  const dx = out.nhwc;
  if (simd) {
    maxPoolGradSimd(g, x, grad, dx);
    return [finishNHWC(out, format)];
  }
  const arg = maxPoolArgmax(g, x);
  for (let o = 0; o < arg.length; o++) if (arg[o]! >= 0) dx[arg[o]!]! += grad[o]!;
  return [finishNHWC(out, format)];
});

// MaxPoolGradGrad gathers an input-shaped gradient at each window's maximum.
registerCpuKernel('MaxPoolGradGrad', (inputs, node, _state, outputs) => {
  const { g, format, x, grad } = maxPoolGradInputs(inputs, node, true);
  const arg = maxPoolArgmax(g, x);
  const out = outputNHWC(outputs, format, g.N, g.OH, g.OW, g.C, true);
  for (let o = 0; o < arg.length; o++) out.nhwc[o] = arg[o]! >= 0 ? grad[arg[o]!]! : 0;
  return [finishNHWC(out, format)];
});

/**
 * Average pooling and its gradient share one loop: each output averages the window elements inside
 * the input (padding is not counted, as in TensorFlow). Forward: y[o] = mean(x[window]);
 * backward: dx[window] += dy[o] / count.
 */
function avgPoolLoop(g: Geom, src: Float32Array, dst: Float32Array, backward: boolean): void {
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, padT, padL } = g;
  for (let n = 0; n < N; n++) {
    const base = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * sH - padT;
      const h0 = Math.max(hs, 0);
      const h1 = Math.min(hs + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * sW - padL;
        const w0 = Math.max(ws, 0);
        const w1 = Math.min(ws + KW, W);
        const yi = ((n * OH + oh) * OW + ow) * C;
        const inv = 1 / ((h1 - h0) * (w1 - w0));
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = w0; iw < w1; iw++) {
            const xi = base + (ih * W + iw) * C;
            if (backward) {
              for (let c = 0; c < C; c++) dst[xi + c]! += src[yi + c]! * inv;
            } else {
              for (let c = 0; c < C; c++) dst[yi + c]! += src[xi + c]! * inv;
            }
          }
        }
      }
    }
  }
}

registerCpuKernel('AvgPool', ([input], node, _state, outputs) => {
  const { g, format } = poolGeometry(node, input!.shape);
  // The SIMD pass writes every output; the loop adds into zeros.
  const simd = usePoolSimd(g);
  const y = outputNHWC(outputs, format, g.N, g.OH, g.OW, g.C, simd);
  if (simd) poolSimd('avg', g, asNHWC(input!, format), y.nhwc);
  else avgPoolLoop(g, asNHWC(input!, format), y.nhwc, false);
  return [finishNHWC(y, format)];
});

registerCpuKernel('AvgPoolGrad', ([sizes, gradIn], node, _state, outputs) => {
  const s = toNumbers(sizes!);
  if (s.length !== 4 || s.some((v) => v < 0)) fail(`orig_input_shape must be 4 non-negative sizes, got [${s.join(', ')}]`);
  const { g, format } = poolGeometry(node, s);
  expectShape(gradIn!.shape, layoutShape(format, g.N, g.OH, g.OW, g.C), 'grad');
  // The SIMD pass zeroes each image of dx before adding into it; the loop needs zeros.
  const simd = usePoolSimd(g);
  const dx = outputNHWC(outputs, format, g.N, g.H, g.W, g.C, simd);
  if (simd) avgPoolGradSimd(g, asNHWC(gradIn!, format), dx.nhwc);
  else avgPoolLoop(g, asNHWC(gradIn!, format), dx.nhwc, true);
  return [finishNHWC(dx, format)];
});
