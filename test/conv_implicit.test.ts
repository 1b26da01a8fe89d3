// The implicit GEMM (gemm.ts's sgemmPatches; conv.ts's 'implicit' path): the GEMM packs each patch
// value from where it lies in the (padded) input, through a table of the output pixels' windows,
// instead of reading patch rows that im2col built. Its products and their order are im2col's, so
// its results must be im2col's bits, on one thread and on several, whatever the geometry (strides,
// dilations, padding, non-square filters, K cut into several slices, edge tiles); it must also
// match TensorFlow's definition, fall back to im2col where it cannot run, and survive a worker that
// dies in the middle of a product.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Geom } from '../runtime/window_geometry.js';
import { conv2dBackpropFilter, conv2dBackpropInput, conv2dForward, forwardPath, inputGradPath, wasmIm2colAvailable, type ConvOptions } from '../runtime/cpu/kernels/conv.js';
import { implicitProducts, setThreadBackoff, setThreadsEnabled, startThreads, threadedCalls, threadsAvailable } from '../runtime/cpu/gemm.js';
import { convGeom, inHeap, naiveConv, randFloats } from './conv_reference.js';

const available = wasmIm2colAvailable();
let backoff = true;
beforeAll(async () => {
  backoff = setThreadBackoff(false);
  await startThreads();
});
afterAll(() => {
  setThreadBackoff(backoff);
  setThreadsEnabled(true);
});


const identical = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** Within float32 rounding of sums of `terms` products (relative to 1 + the value). */
function expectNear(got: Float32Array, want: Float64Array, terms: number, what: string): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  expect(worst, what).toBeLessThan(4e-6 * Math.sqrt(terms));
}

interface Case {
  name: string;
  g: Geom;
  OC: number;
  /** Whether the filter gradient runs implicitly too (segments of a multiple of 8 floats). */
  filter: boolean;
}

const CASES: Case[] = [
  // Deep MNIST's second layer (batch 3): K = 800 in two slices, 5x5 SAME.
  { name: '3x14x14x32 -> 64, 5x5 same', g: convGeom(3, 14, 14, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), OC: 64, filter: true },
  // Odd sizes, non-square filter, asymmetric padding, output channels not a multiple of 8, pixels not of 4.
  { name: '2x9x11x8 -> 13, 3x2, asymmetric padding', g: convGeom(2, 9, 11, 8, 3, 2, [1, 1], [1, 1], [1, 2, 0, 1]), OC: 13, filter: true },
  // Strided, valid.
  { name: '3x10x12x12 -> 20, 3x3 stride 2', g: convGeom(3, 10, 12, 12, 3, 3, [2, 2], [1, 1], [0, 0, 0, 0]), OC: 20, filter: false },
  // Dilated along the width: one segment per tap (C floats each).
  { name: '2x12x12x8 -> 16, 3x3 dilated 2x2', g: convGeom(2, 12, 12, 8, 3, 3, [1, 1], [2, 2], [2, 2, 2, 2]), OC: 16, filter: true },
  // Segments of 12 floats (the filter gradient falls back to im2col), strided on one axis.
  { name: '4x13x6x4 -> 9, 3x3 strides 2x1', g: convGeom(4, 13, 6, 4, 3, 3, [2, 1], [1, 1], [1, 1, 1, 1]), OC: 9, filter: false },
  // K = 1600 (four slices of 400), many pixels: split over the threads.
  { name: '8x10x10x64 -> 40, 5x5 same', g: convGeom(8, 10, 10, 64, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), OC: 40, filter: true },
];

describe('the implicit GEMM convolution', () => {
  it('is the path of convolutions with enough channels that neither the direct convolution nor Winograd takes', () => {
    const gemm = available ? 'implicit' : 'im2col';
    expect(forwardPath(convGeom(64, 14, 14, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 64)).toBe(gemm);
    expect(forwardPath(convGeom(8, 16, 16, 16, 3, 3, [2, 2], [1, 1], [1, 1, 1, 1]), 64)).toBe(gemm);
    // Segments of 3 floats: im2col.
    expect(forwardPath(convGeom(8, 16, 16, 3, 1, 7, [1, 1], [1, 1], [0, 0, 3, 3]), 64)).not.toBe('implicit');
    // The input gradient of a large enough batch is the flipped convolution, computed implicitly (without the
    // WebAssembly kernels, by im2col: there is no WebAssembly col2im either).
    expect(inputGradPath(convGeom(64, 14, 14, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 64)).toBe('flipped');
    expect(inputGradPath(convGeom(8, 14, 14, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 64)).toBe(available ? 'col2im' : 'flipped');
  });

  for (const [i, c] of CASES.entries()) {
    it(`${c.name}: im2col's bits, one thread or several, and TensorFlow's definition`, () => {
      const { g, OC } = c;
      const K = g.KH * g.KW * g.C;
      const pixels = g.N * g.OH * g.OW;
      const x = randFloats(g.N * g.H * g.W * g.C, 10 + i, inHeap(g.N * g.H * g.W * g.C));
      const f = randFloats(K * OC, 20 + i);
      const dy = randFloats(pixels * OC, 30 + i, inHeap(pixels * OC));
      const ref = naiveConv(g, OC, x, f, dy);
      const run = (o: ConvOptions): Float32Array[] => {
        const y = inHeap(pixels * OC).fill(Number.NaN);
        const df = inHeap(K * OC).fill(Number.NaN);
        conv2dForward(g, OC, x, f, y, o);
        conv2dBackpropFilter(g, OC, x, dy, df, o);
        return [y, df];
      };
      const before = implicitProducts();
      const [y, df] = run({ path: 'implicit' });
      expect(implicitProducts() - before).toBe(available ? (c.filter ? 2 : 1) : 0);
      expectNear(y!, ref.y, K, 'forward');
      expectNear(df!, ref.df, pixels, 'filter gradient');
      const [y2, df2] = run({ path: 'im2col' });
      expect(identical(y!, y2!), 'forward: implicit vs im2col').toBe(true);
      expect(identical(df!, df2!), 'filter gradient: implicit vs im2col').toBe(true);
      setThreadsEnabled(false);
      const [y1, df1] = run({ path: 'implicit' });
      setThreadsEnabled(true);
      expect(identical(y!, y1!), 'forward: threads vs one').toBe(true);
      expect(identical(df!, df1!), 'filter gradient: threads vs one').toBe(true);

      if (g.sH === 1 && g.sW === 1) {
        // The input gradient as the flipped forward convolution, implicit and by im2col, and by col2im.
        const dx = (o: ConvOptions): Float32Array => {
          const out = inHeap(x.length).fill(Number.NaN);
          conv2dBackpropInput(g, OC, f, dy, out, o);
          return out;
        };
        const flipped = dx({ inputPath: 'flipped', path: 'implicit' });
        expectNear(flipped, ref.dx, g.KH * g.KW * OC, 'input gradient (flipped, implicit)');
        expect(identical(flipped, dx({ inputPath: 'flipped', path: 'im2col' })), 'input gradient: implicit vs im2col').toBe(true);
        expectNear(dx({ inputPath: 'col2im' }), ref.dx, g.KH * g.KW * OC, 'input gradient (col2im)');
      }
    });
  }

  it('splits a large product over the threads', () => {
    if (!available || !threadsAvailable()) return;
    const g = convGeom(16, 14, 14, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]);
    const before = threadedCalls();
    const y = inHeap(16 * 14 * 14 * 64);
    conv2dForward(g, 64, randFloats(16 * 14 * 14 * 32, 1, inHeap(16 * 14 * 14 * 32)), randFloats(800 * 64, 2), y, { path: 'implicit' });
    expect(threadedCalls()).toBeGreaterThan(before);
  });

  it('falls back to im2col where the output is not in the WebAssembly memory', () => {
    const g = CASES[0]!.g;
    const x = randFloats(g.N * g.H * g.W * g.C, 1);
    const f = randFloats(800 * 64, 2);
    const y = new Float32Array(g.N * g.OH * g.OW * 64);
    const before = implicitProducts();
    conv2dForward(g, 64, x, f, y, { path: 'implicit' });
    expect(implicitProducts()).toBe(before);
    const want = inHeap(y.length);
    conv2dForward(g, 64, x, f, want, { path: 'im2col' });
    expect(identical(y, want)).toBe(true);
  });

  // A worker that exits in the middle of an implicit product: the calling thread redoes its blocks
  // from the patch table, and the result is the one-thread result.
  it('survives a worker that exits mid-product', () => {
    const script = `
      import { injectWorkerFault, setThreadsEnabled, startThreads, implicitProducts } from './runtime/cpu/gemm.ts';
      import { conv2dForward, conv2dBackpropFilter } from './runtime/cpu/kernels/conv.ts';
      import { heapRegion } from './runtime/cpu/heap.ts';
      const heap = (n, f) => { const r = heapRegion(4 * n + 64); const a = r ? new Float32Array(r.buffer, r.byteOffset, n) : new Float32Array(n); for (let i = 0; i < n; i++) a[i] = f(i); return a; };
      const g = { N: 16, H: 14, W: 14, C: 32, KH: 5, KW: 5, OH: 14, OW: 14, sH: 1, sW: 1, dH: 1, dW: 1, padT: 2, padL: 2 };
      const x = heap(16 * 196 * 32, (i) => Math.sin(i)), f = heap(800 * 64, (i) => Math.cos(i * 0.7)), dy = heap(16 * 196 * 64, (i) => Math.sin(i * 0.3));
      const passes = () => { const y = heap(16 * 196 * 64, () => NaN), df = heap(800 * 64, () => NaN); conv2dForward(g, 64, x, f, y, { path: 'implicit' }); conv2dBackpropFilter(g, 64, x, dy, df, { path: 'implicit' }); return [y, df]; };
      setThreadsEnabled(false);
      const ref = passes();
      setThreadsEnabled(true);
      const started = await startThreads();
      const before = implicitProducts();
      injectWorkerFault('exit');
      const [y] = passes();
      injectWorkerFault('exit');
      const [, df] = passes();
      const same = (a, b) => a.every((v, i) => Object.is(v, b[i]));
      console.log(JSON.stringify({ started, implicit: implicitProducts() - before, y: same(y, ref[0]), df: same(df, ref[1]) }));
    `;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url).pathname,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, WEIR_CPU_THREADS: '3' },
    });
    expect(res.error).toBeUndefined();
    expect(res.status, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(out).toMatchObject({ y: true, df: true });
    if (available) expect(out.implicit).toBe(4);
  });
});
