// Winograd F(2x2,3x3) (runtime/cpu/kernels/winograd.ts) against a naive convolution in float64
// written from TensorFlow's definition, over odd sizes, every kind of padding, images smaller than a
// tile and channel counts that are not multiples of 4; its WebAssembly transforms against its
// TypeScript ones; the input gradient's flipped convolution; and both through a session.
//
// Tolerance: each output is A^T [sum over c of (G g G^T) . (B^T d B)] A, computed in stages: the
// input transform (two levels of sums of the nonzero terms of a row of B^T, each scaled by its
// constant), the filter transform (the same with G, whose constants F(4x4,3x3) rounds to float32:
// one more level), the GEMM's C terms and the output transform (two levels with A^T). To first
// order its error is then at most n u times the same expression evaluated with absolute values
// throughout, |A^T| sum_c (|G||g||G^T|)(|B^T||d||B|) |A| (u = 2^-24, n = C + the levels'
// terms), which the test computes per output in float64. That bound exceeds im2col's (9C u times
// sum |x||f|) because the transformed values mix the inputs of a tile, whose cross terms cancel
// in exact arithmetic but not in their roundings: the error growth of the method, larger for
// F(4x4,3x3) (constants up to 8 in A^T and 5 in B^T). The filter gradient G^T [sum over tiles of
// (B^T d B) . (A dy A^T)] G likewise, with n = tiles + the levels' terms.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { Geom } from '../runtime/window_geometry.js';
import { conv2dBackpropFilter, conv2dBackpropInput, conv2dForward, forwardPath, inputGradPath, winogradTile } from '../runtime/cpu/kernels/conv.js';
import { conv2dWinograd, conv2dWinogradFilterGrad, F2X2, F4X4, winogradApplies, winogradSimdAvailable, winogradVariant, type WinogradVariant } from '../runtime/cpu/kernels/winograd.js';
import { heapRegion } from '../runtime/cpu/heap.js';
import { setThreadsEnabled, startThreads, threadedCalls, threadsAvailable } from '../runtime/cpu/gemm.js';
import { parallelThreadedTasks, parallelThreadsAvailable, setParallelBackoff, setParallelThreadsEnabled, startParallelThreads } from '../runtime/cpu/parallel.js';
import { run } from './helpers.js';
import { convGeom, naiveConv, randFloats } from './conv_reference.js';

const rand = (n: number, seed: number): Float32Array => randFloats(n, seed);

/** A 3x3 stride-1 geometry with explicit padding [top, bottom, left, right]. */
const geom = (N: number, H: number, W: number, C: number, pad: readonly number[]): Geom => convGeom(N, H, W, C, 3, 3, [1, 1], [1, 1], pad);

/** TF's Conv2D in float64. */
const naiveConvY = (g: Geom, OC: number, x: Float32Array, f: Float32Array): Float64Array => naiveConv(g, OC, x, f, new Float32Array(g.N * g.OH * g.OW * OC)).y;

type Matrix = readonly (readonly number[])[];
const transpose = (a: Matrix): number[][] => a[0]!.map((_, j) => a.map((row) => row[j]!));
/** The most nonzero terms in a row of M, plus one for rounding the constants where they are not exact in float32. */
const levels = (M: Matrix): number => Math.max(...M.map((row) => row.filter((c) => c !== 0).length)) + (M.flat().every((c) => Math.fround(c) === c) ? 0 : 1);

/** |L| X |R|^T for a rows x k matrix X (row-major) and absolute values of L (a x rows) and R (b x k). */
function absSandwich(L: Matrix, X: ArrayLike<number>, R: Matrix, k: number): Float64Array {
  const out = new Float64Array(L.length * R.length);
  for (let i = 0; i < L.length; i++)
    for (let j = 0; j < R.length; j++) {
      let s = 0;
      for (let a = 0; a < L[i]!.length; a++) for (let b = 0; b < k; b++) s += Math.abs(L[i]![a]!) * Math.abs(X[a * k + b]!) * Math.abs(R[j]![b]!);
      out[i * R.length + j] = s;
    }
  return out;
}

/** The first-order error bound per output of variant v (see the top of the file). */
function winogradBound(v: WinogradVariant, g: Geom, OC: number, x: Float32Array, f: Float32Array): Float64Array {
  const { m, alpha, BT, G, AT } = v;
  const P = alpha * alpha;
  const bound = new Float64Array(g.N * g.OH * g.OW * OC);
  const TH = Math.ceil(g.OH / m);
  const TW = Math.ceil(g.OW / m);
  const U: Float64Array[] = [];
  for (let c = 0; c < g.C; c++)
    for (let oc = 0; oc < OC; oc++) U.push(absSandwich(G, Array.from({ length: 9 }, (_, t) => f[(t * g.C + c) * OC + oc]!), G, 3));
  const d = new Float64Array(P);
  const acc = new Float64Array(P * OC);
  const u = (g.C + 2 * (levels(BT) + levels(G) + levels(AT))) * 2 ** -24;
  for (let n = 0; n < g.N; n++)
    for (let th = 0; th < TH; th++)
      for (let tw = 0; tw < TW; tw++) {
        acc.fill(0);
        for (let c = 0; c < g.C; c++) {
          for (let i = 0; i < alpha; i++)
            for (let j = 0; j < alpha; j++) {
              const ih = m * th - g.padT + i;
              const iw = m * tw - g.padL + j;
              d[alpha * i + j] = ih < 0 || ih >= g.H || iw < 0 || iw >= g.W ? 0 : x[((n * g.H + ih) * g.W + iw) * g.C + c]!;
            }
          const V = absSandwich(BT, d, BT, alpha);
          for (let oc = 0; oc < OC; oc++) for (let p = 0; p < P; p++) acc[oc * P + p]! += U[c * OC + oc]![p]! * V[p]!;
        }
        for (let oc = 0; oc < OC; oc++) {
          const y = absSandwich(AT, acc.subarray(oc * P, oc * P + P), AT, alpha);
          for (let i = 0; i < m; i++)
            for (let j = 0; j < m; j++) {
              const oh = m * th + i;
              const ow = m * tw + j;
              if (oh < g.OH && ow < g.OW) bound[((n * g.OH + oh) * g.OW + ow) * OC + oc] = u * y[m * i + j]!;
            }
        }
      }
  return bound;
}

/** TF's Conv2DBackpropFilter in float64. */
const naiveFilterGrad = (g: Geom, OC: number, x: Float32Array, dy: Float32Array): Float64Array => naiveConv(g, OC, x, new Float32Array(9 * g.C * OC), dy).df;

/** The filter gradient's first-order error bound per element, for variant v (see the top of the file). */
function filterGradBound(v: WinogradVariant, g: Geom, OC: number, x: Float32Array, dy: Float32Array): Float64Array {
  const { m, alpha, BT, G } = v;
  const P = alpha * alpha;
  const A = transpose(v.AT);
  const GT = transpose(G);
  const TH = Math.ceil(g.OH / m);
  const TW = Math.ceil(g.OW / m);
  const sums = new Float64Array(g.C * OC * P);
  const d = new Float64Array(P);
  const e = new Float64Array(m * m);
  for (let n = 0; n < g.N; n++)
    for (let th = 0; th < TH; th++)
      for (let tw = 0; tw < TW; tw++) {
        const V: Float64Array[] = [];
        for (let c = 0; c < g.C; c++) {
          for (let i = 0; i < P; i++) {
            const ih = m * th - g.padT + Math.floor(i / alpha);
            const iw = m * tw - g.padL + (i % alpha);
            d[i] = ih < 0 || ih >= g.H || iw < 0 || iw >= g.W ? 0 : x[((n * g.H + ih) * g.W + iw) * g.C + c]!;
          }
          V.push(absSandwich(BT, d, BT, alpha));
        }
        for (let oc = 0; oc < OC; oc++) {
          for (let i = 0; i < m * m; i++) {
            const oh = m * th + Math.floor(i / m);
            const ow = m * tw + (i % m);
            e[i] = oh < g.OH && ow < g.OW ? dy[((n * g.OH + oh) * g.OW + ow) * OC + oc]! : 0;
          }
          const W = absSandwich(A, e, A, m);
          for (let c = 0; c < g.C; c++) for (let p = 0; p < P; p++) sums[(c * OC + oc) * P + p]! += V[c]![p]! * W[p]!;
        }
      }
  const u = (g.N * TH * TW + 2 * (levels(BT) + levels(A) + levels(GT))) * 2 ** -24;
  const bound = new Float64Array(9 * g.C * OC);
  for (let c = 0; c < g.C; c++)
    for (let oc = 0; oc < OC; oc++) {
      const b = absSandwich(GT, sums.subarray((c * OC + oc) * P, (c * OC + oc) * P + P), GT, alpha);
      for (let t = 0; t < 9; t++) bound[(t * g.C + c) * OC + oc] = u * b[t]!;
    }
  return bound;
}

function expectWithin(actual: Float32Array, expected: Float64Array, bound: Float64Array, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    // The bound is first-order; 1e-30 covers outputs that are exactly zero.
    const ratio = Math.abs(actual[i]! - expected[i]!) / (bound[i]! * 1.01 + 1e-30);
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
  }
  expect(worst, `${what}: worst at ${at}: ${actual[at]} vs ${expected[at]} (bound ${bound[at]})`).toBeLessThanOrEqual(1);
}

interface Case {
  N: number;
  H: number;
  W: number;
  C: number;
  OC: number;
  /** [top, bottom, left, right] */
  pad: number[];
}

const SAME = [1, 1, 1, 1];
const VALID = [0, 0, 0, 0];
const CASES: Case[] = [
  { N: 1, H: 8, W: 8, C: 4, OC: 8, pad: SAME },
  { N: 2, H: 7, W: 9, C: 5, OC: 3, pad: SAME },
  { N: 3, H: 6, W: 5, C: 3, OC: 7, pad: VALID },
  { N: 1, H: 9, W: 10, C: 13, OC: 6, pad: VALID },
  // Explicit, asymmetric, and padding past the filter's reach.
  { N: 2, H: 7, W: 6, C: 6, OC: 5, pad: [2, 0, 1, 3] },
  { N: 1, H: 5, W: 8, C: 2, OC: 9, pad: [0, 3, 2, 0] },
  // Top and left padding of 3: the input gradient's flipped convolution crops dy (padding -1).
  { N: 2, H: 4, W: 5, C: 3, OC: 4, pad: [3, 1, 3, 0] },
  // Images of one pixel and smaller than a tile, one output column or row.
  { N: 2, H: 1, W: 1, C: 5, OC: 3, pad: SAME },
  { N: 3, H: 2, W: 3, C: 9, OC: 4, pad: SAME },
  { N: 1, H: 3, W: 3, C: 7, OC: 2, pad: VALID },
  { N: 1, H: 3, W: 6, C: 3, OC: 5, pad: [0, 0, 1, 0] },
  { N: 2, H: 4, W: 1, C: 1, OC: 1, pad: [1, 0, 1, 1] },
];

const label = (c: Case): string => `x ${c.N}x${c.H}x${c.W}x${c.C} into ${c.OC} channels, pads ${c.pad}`;

for (const v of [F2X2, F4X4]) describe(`Winograd F(${v.m}x${v.m},3x3) against a naive convolution`, () => {
  const tile = v.m;
  const P = v.alpha * v.alpha;
  const threeTiles = (c: Case): number => 3 * P * (c.C + c.OC);
  for (const [i, c] of CASES.entries()) {
    it(label(c), () => {
      const g = geom(c.N, c.H, c.W, c.C, c.pad);
      expect(winogradApplies(g)).toBe(true);
      const x = rand(c.N * c.H * c.W * c.C, 100 + i);
      const f = rand(9 * c.C * c.OC, 200 + i);
      const ref = naiveConvY(g, c.OC, x, f);
      const bound = winogradBound(v, g, c.OC, x, f);
      // Operands in the heap (read and written in place) and outside it.
      const region = heapRegion((x.length + f.length + ref.length) * 4);
      const heap = region === null ? null : new Float32Array(region.buffer, region.byteOffset, x.length + f.length + ref.length);
      const placements = heap === null ? ['outside'] : ['outside', 'heap'];
      const results = new Map<string, Float32Array>();
      for (const transforms of ['wasm', 'typescript'] as const) {
        // The default chunk (all tiles at once here) and chunks of 3 tiles.
        for (const chunkFloats of [undefined, threeTiles(c)]) {
          for (const where of placements) {
            const [xs, fs, y] =
              where === 'heap'
                ? [heap!.subarray(0, x.length), heap!.subarray(x.length, x.length + f.length), heap!.subarray(x.length + f.length)]
                : [new Float32Array(x.length), new Float32Array(f.length), new Float32Array(ref.length)];
            xs.set(x);
            fs.set(f);
            y.fill(NaN);
            conv2dWinograd(g, c.OC, xs, fs, y, { tile, transforms, chunkFloats });
            expectWithin(y, ref, bound, `${transforms} transforms, ${chunkFloats === undefined ? 'one chunk' : 'chunks of 3 tiles'}, operands ${where} the heap`);
            const key = `${chunkFloats} ${where}`;
            // The WebAssembly transforms round as the TypeScript ones do: the same results bit for
            // bit where the GEMMs are the same (chunks change the GEMMs' row blocks).
            if (results.has(key)) expect(Array.from(y), `${transforms} vs wasm transforms, ${key}`).toEqual(Array.from(results.get(key)!));
            else results.set(key, Float32Array.from(y));
          }
        }
      }
    });
  }

  it('computes the input gradient as a flipped Winograd convolution of dy', () => {
    for (const [i, c] of CASES.entries()) {
      const g = geom(c.N, c.H, c.W, c.C, c.pad);
      const f = rand(9 * c.C * c.OC, 300 + i);
      const dy = rand(c.N * g.OH * g.OW * c.OC, 400 + i);
      // dx is the convolution of dy with the filter turned by 180 degrees, channels swapped, padded by 2 - pad.
      const turned = new Float32Array(f.length);
      for (let t = 0; t < 9; t++) for (let ci = 0; ci < c.C; ci++) for (let o = 0; o < c.OC; o++) turned[((8 - t) * c.OC + o) * c.C + ci] = f[(t * c.C + ci) * c.OC + o]!;
      const onDy: Geom = { ...geom(c.N, g.OH, g.OW, c.OC, [2 - c.pad[0]!, 0, 2 - c.pad[2]!, 0]), OH: c.H, OW: c.W };
      const ref = naiveConvY(onDy, c.C, dy, turned);
      const bound = winogradBound(v, onDy, c.C, dy, turned);
      for (const im2col of ['wasm', 'typescript'] as const) {
        for (const chunkFloats of [undefined, threeTiles(c)]) {
          const dx = new Float32Array(ref.length).fill(NaN);
          conv2dBackpropInput(g, c.OC, f, dy, dx, { inputPath: 'flipped', path: 'winograd', winogradTile: tile, im2col, chunkFloats });
          expectWithin(dx, ref, bound, `${label(c)}: input gradient (${im2col} transforms, ${chunkFloats === undefined ? 'one chunk' : 'chunks of 3 tiles'})`);
        }
      }
    }
  });

  it(`computes the filter gradient by transforms of x and dy and ${P} accumulated GEMMs`, () => {
    for (const [i, c] of CASES.entries()) {
      const g = geom(c.N, c.H, c.W, c.C, c.pad);
      const x = rand(c.N * c.H * c.W * c.C, 500 + i);
      const dy = rand(c.N * g.OH * g.OW * c.OC, 600 + i);
      const ref = naiveFilterGrad(g, c.OC, x, dy);
      const bound = filterGradBound(v, g, c.OC, x, dy);
      const region = heapRegion((x.length + dy.length) * 4);
      const heap = region === null ? null : new Float32Array(region.buffer, region.byteOffset, x.length + dy.length);
      for (const transforms of ['wasm', 'typescript'] as const) {
        for (const chunkFloats of [undefined, threeTiles(c)]) {
          for (const where of heap === null ? ['outside'] : ['outside', 'heap']) {
            const [xs, dys] = where === 'heap' ? [heap!.subarray(0, x.length), heap!.subarray(x.length)] : [x, dy];
            xs.set(x);
            dys.set(dy);
            const df = new Float32Array(ref.length).fill(NaN);
            conv2dWinogradFilterGrad(g, c.OC, xs, dys, df, { tile, transforms, chunkFloats });
            expectWithin(df, ref, bound, `${label(c)}: filter gradient (${transforms} transforms, ${chunkFloats === undefined ? 'one chunk' : 'chunks of 3 tiles'}, operands ${where} the heap)`);
          }
        }
      }
      // Through conv2dBackpropFilter by path.
      const df = new Float32Array(ref.length).fill(NaN);
      conv2dBackpropFilter(g, c.OC, x, dy, df, { path: 'winograd', winogradTile: tile });
      expectWithin(df, ref, bound, `${label(c)}: conv2dBackpropFilter`);
    }
  });

  it('goes through conv2dForward by path, and leaves strided, dilated and other filters to the other paths', () => {
    const g = geom(2, 5, 6, 6, SAME);
    const x = rand(2 * 5 * 6 * 6, 1);
    const f = rand(9 * 6 * 7, 2);
    const y = new Float32Array(2 * 5 * 6 * 7);
    conv2dForward(g, 7, x, f, y, { path: 'winograd', winogradTile: tile });
    expectWithin(y, naiveConvY(g, 7, x, f), winogradBound(v, g, 7, x, f), 'conv2dForward');
    expect(winogradApplies({ ...g, sH: 2, OH: 3 })).toBe(false);
    expect(winogradApplies({ ...g, dW: 2, OW: 4 })).toBe(false);
    expect(winogradApplies({ ...g, KH: 5, OH: 3 })).toBe(false);
  });
});

describe('Winograd on one thread and on several', () => {
  // Chunks of 2^22 floats: each GEMM is 512 x 64 x 64 (F(2x2,3x3) on 2x32x32x64 images,
  // F(4x4,3x3) on 8 of them), large enough for sgemm to split over its threads; the transforms'
  // calls are split over parallel.ts's workers.
  for (const [tile, N, C] of [[2, 2, 64], [4, 8, 64]] as const) {
    it(`gives the same bits whatever the thread count (F(${tile}x${tile},3x3) forward, input and filter gradients)`, async () => {
      const threaded = threadsAvailable() && (await startThreads());
      const split = parallelThreadsAvailable() && (await startParallelThreads());
      const g = geom(N, 32, 32, C, SAME);
      const x = rand(N * 32 * 32 * C, 11);
      const f = rand(9 * C * C, 12);
      const dy = rand(N * 32 * 32 * C, 13);
      const o = { path: 'winograd', winogradTile: tile, chunkFloats: 1 << 22 } as const;
      const passes = (): Float32Array[] => {
        const y = new Float32Array(dy.length);
        const dx = new Float32Array(x.length);
        const df = new Float32Array(f.length);
        conv2dForward(g, C, x, f, y, o);
        conv2dBackpropInput(g, C, f, dy, dx, { ...o, inputPath: 'flipped' });
        conv2dBackpropFilter(g, C, x, dy, df, o);
        return [y, dx, df];
      };
      const before = threadedCalls();
      const tasks = parallelThreadedTasks().tasks;
      const backoff = setParallelBackoff(false);
      let several: Float32Array[];
      try {
        several = passes();
      } finally {
        setParallelBackoff(backoff);
      }
      if (threaded) expect(threadedCalls()).toBeGreaterThan(before);
      if (split) expect(parallelThreadedTasks().tasks).toBeGreaterThan(tasks);
      const prev = setThreadsEnabled(false);
      const prevSplit = setParallelThreadsEnabled(false);
      let one: Float32Array[];
      try {
        one = passes();
      } finally {
        setThreadsEnabled(prev);
        setParallelThreadsEnabled(prevSplit);
      }
      one.forEach((r, i) => expect(Array.from(r), ['forward', 'input gradient', 'filter gradient'][i]).toEqual(Array.from(several[i]!)));
    });
  }
});

describe('Winograd through a session', () => {
  // SAME 3x3 convolutions whose plan's own choice is Winograd (where the WebAssembly transforms
  // are) for the forward and both gradients: 2x16x16x32 into 32 channels by F(2x2,3x3), 2x16x16x64
  // into 64 by F(4x4,3x3). With WEIR_CPU_FAST=0 the plan keeps im2col, whose error is within the
  // same bounds.
  for (const [C, tile] of [[32, 2], [64, 4]] as const) {
    const c: Case = { N: 2, H: 16, W: 16, C, OC: C, pad: SAME };
    it(`tf.nn.conv2d and tf.gradients on ${label(c)}, against the naive convolution and its gradients`, async () => {
      const g = geom(c.N, c.H, c.W, c.C, c.pad);
      const expected = winogradSimdAvailable() ? 'winograd' : 'im2col';
      expect(forwardPath(g, c.OC)).toBe(expected);
      expect(winogradTile(g, c.OC)).toBe(tile);
      // Flipped either way: by Winograd, or (WEIR_CPU_FAST=0) by im2col, which beats the TypeScript col2im from 16 input channels.
      expect(inputGradPath(g, c.OC)).toBe('flipped');
      const v = winogradVariant(tile);
      const xv = rand(c.N * c.H * c.W * c.C, 7);
      const fv = rand(9 * c.C * c.OC, 8);
      const dyv = rand(c.N * g.OH * g.OW * c.OC, 9);
      const graph = new tf.Graph();
      const m = graph.asDefault(() => {
        const x = tf.placeholder('float32', [c.N, c.H, c.W, c.C], 'x');
        const f = tf.placeholder('float32', [3, 3, c.C, c.OC], 'f');
        const dy = tf.placeholder('float32', [c.N, g.OH, g.OW, c.OC], 'dy');
        const y = tf.nn.conv2d(x, f, [1, 1, 1, 1], 'SAME');
        const [dx, df] = tf.gradients(y, [x, f], dy);
        return { x, f, dy, y, dx: dx!, df: df! };
      });
      const [y, dx, df] = (await run([m.y, m.dx, m.df], [
        [m.x, new tf.NDArray(xv, [c.N, c.H, c.W, c.C])],
        [m.f, new tf.NDArray(fv, [3, 3, c.C, c.OC])],
        [m.dy, new tf.NDArray(dyv, [c.N, g.OH, g.OW, c.OC])],
      ], graph)) as tf.NDArray[];
      expectWithin(y!.data as Float32Array, naiveConvY(g, c.OC, xv, fv), winogradBound(v, g, c.OC, xv, fv), 'Conv2D');
      const turned = new Float32Array(fv.length);
      for (let t = 0; t < 9; t++) for (let ci = 0; ci < c.C; ci++) for (let o = 0; o < c.OC; o++) turned[((8 - t) * c.OC + o) * c.C + ci] = fv[(t * c.C + ci) * c.OC + o]!;
      const onDy = geom(c.N, g.OH, g.OW, c.OC, [1, 1, 1, 1]);
      expect(winogradTile(onDy, c.C)).toBe(tile);
      expectWithin(dx!.data as Float32Array, naiveConvY(onDy, c.C, dyv, turned), winogradBound(v, onDy, c.C, dyv, turned), 'Conv2DBackpropInput');
      expectWithin(df!.data as Float32Array, naiveFilterGrad(g, c.OC, xv, dyv), filterGradBound(v, g, c.OC, xv, dyv), 'Conv2DBackpropFilter');
    });
  }
});
