// The GEMM-based convolution paths (patch matrices built in WebAssembly memory or by TypeScript
// loops, chunked, both filter gradient orientations, both input gradient paths) against TensorFlow.js's CPU kernels, against
// finite differences of the forward convolution, and across thread counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Geom } from '../runtime/window_geometry.js';
import { conv2dBackpropFilter, conv2dBackpropInput, conv2dForward, type ConvOptions, type FilterGradOrder, type InputGradPath } from '../runtime/cpu/kernels/conv.js';
import { setThreadBackoff, setThreadsEnabled, startThreads, threadedCalls, threadsAvailable } from '../runtime/cpu/gemm.js';
import { rng, tfjs } from './helpers.js';

type Tfjs = Awaited<ReturnType<typeof tfjs>>;
type Tensor4D = ReturnType<Tfjs['tensor4d']>;

let gradients: Promise<unknown> | undefined;
/** TensorFlow.js with its gradient functions registered (t.grads needs them). */
async function oracle(): Promise<Tfjs> {
  const t = await tfjs();
  gradients ??= import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await gradients;
  return t;
}

function rand(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

interface Layer {
  N: number;
  H: number;
  W: number;
  C: number;
  OC: number;
  K: number;
  stride: number;
  pad: 'same' | 'valid';
}

/** The geometry TensorFlow gives a layer (SAME pads the excess bottom/right). */
function geometry(l: Layer): Geom {
  const OH = l.pad === 'same' ? Math.ceil(l.H / l.stride) : Math.floor((l.H - l.K) / l.stride) + 1;
  const OW = l.pad === 'same' ? Math.ceil(l.W / l.stride) : Math.floor((l.W - l.K) / l.stride) + 1;
  const padT = l.pad === 'same' ? Math.floor(Math.max((OH - 1) * l.stride + l.K - l.H, 0) / 2) : 0;
  const padL = l.pad === 'same' ? Math.floor(Math.max((OW - 1) * l.stride + l.K - l.W, 0) / 2) : 0;
  return { N: l.N, H: l.H, W: l.W, C: l.C, KH: l.K, KW: l.K, OH, OW, sH: l.stride, sW: l.stride, dH: 1, dW: 1, padT, padL };
}

function expectNear(actual: Float32Array, expected: ArrayLike<number>, what: string, tol = 1e-4): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `${what}: worst relative error at ${at}: ${actual[at]} vs ${expected[at]}`).toBeLessThan(tol);
}

/**
 * Every combination of the kernels' choices for the GEMM paths, in one chunk of patch rows and in at
 * least three (chunkFloats counts floats of patch rows, KH*KW*C each, or KH*KW*OC for the flipped
 * input gradient's convolution of dy: a third of the rows of the shorter ones).
 */
function variants(g: Geom, OC: number): { name: string; o: ConvOptions }[] {
  const third = Math.ceil((g.N * g.OH * g.OW) / 3) * g.KH * g.KW * Math.min(g.C, OC);
  const out: { name: string; o: ConvOptions }[] = [];
  for (const chunkFloats of [undefined, third]) {
    for (const order of ['dyT', 'patchesT'] as FilterGradOrder[]) {
      for (const inputPath of (g.sH === 1 && g.sW === 1 ? ['flipped', 'col2im'] : ['col2im']) as InputGradPath[]) {
        for (const im2col of ['wasm', 'typescript'] as const) {
          const name = `${chunkFloats === undefined ? 'one chunk' : 'three chunks or more'}, ${order}, ${inputPath}, ${im2col} patches`;
          out.push({ name, o: { path: 'im2col', order, inputPath, chunkFloats, im2col } });
        }
      }
    }
  }
  return out;
}

const LAYERS: Layer[] = [
  // The Deep MNIST second layer, shrunk (5x5 SAME, many channels).
  { N: 3, H: 9, W: 9, C: 20, OC: 24, K: 5, stride: 1, pad: 'same' },
  // Odd sizes, VALID, a 3x3 filter.
  { N: 2, H: 11, W: 7, C: 17, OC: 9, K: 3, stride: 1, pad: 'valid' },
  // Strided SAME with uneven padding.
  { N: 2, H: 10, W: 9, C: 16, OC: 12, K: 3, stride: 2, pad: 'same' },
];

describe('GEMM convolution paths against TensorFlow.js (tfjs-backend-cpu)', () => {
  for (const l of LAYERS) {
    it(`x ${l.N}x${l.H}x${l.W}x${l.C}, filter ${l.K}x${l.K}x${l.C}x${l.OC}, stride ${l.stride}, ${l.pad}`, async () => {
      const t = await oracle();
      const g = geometry(l);
      const x = rand(l.N * l.H * l.W * l.C, 1);
      const f = rand(l.K * l.K * l.C * l.OC, 2);
      const dy = rand(l.N * g.OH * g.OW * l.OC, 3);
      const xT = t.tensor4d(x, [l.N, l.H, l.W, l.C]);
      const fT = t.tensor4d(f, [l.K, l.K, l.C, l.OC]);
      const dyT = t.tensor4d(dy, [l.N, g.OH, g.OW, l.OC]);
      const yRef = await t.conv2d(xT, fT, l.stride, l.pad).data();
      expect(yRef.length).toBe(dy.length);
      const [dxT, dfT] = t.grads((a, b) => t.conv2d(a as Tensor4D, b as Tensor4D, l.stride, l.pad))([xT, fT], dyT);
      const dxRef = await dxT!.data();
      const dfRef = await dfT!.data();
      for (const v of variants(g, l.OC)) {
        const y = new Float32Array(dy.length).fill(NaN);
        conv2dForward(g, l.OC, x, f, y, v.o);
        expectNear(y, yRef, `forward (${v.name})`);
        const dx = new Float32Array(x.length);
        conv2dBackpropInput(g, l.OC, f, dy, dx, v.o);
        expectNear(dx, dxRef, `input gradient (${v.name})`);
        const df = new Float32Array(f.length).fill(NaN);
        conv2dBackpropFilter(g, l.OC, x, dy, df, v.o);
        expectNear(df, dfRef, `filter gradient (${v.name})`);
      }
    });
  }
});

describe('GEMM convolution gradients against finite differences of the forward convolution', () => {
  // L(x, f) = sum(r * conv(x, f)) is linear in each argument, so a central difference with a
  // large step is exact up to float32 rounding of the forward sums.
  const l: Layer = { N: 2, H: 6, W: 7, C: 16, OC: 5, K: 3, stride: 1, pad: 'same' };
  const g = geometry(l);
  const x = rand(l.N * l.H * l.W * l.C, 7);
  const f = rand(l.K * l.K * l.C * l.OC, 8);
  const r = rand(l.N * g.OH * g.OW * l.OC, 9);
  const loss = (xv: Float32Array, fv: Float32Array): number => {
    const y = new Float32Array(r.length);
    conv2dForward(g, l.OC, xv, fv, y, { path: 'im2col' });
    let s = 0;
    for (let i = 0; i < y.length; i++) s += r[i]! * y[i]!;
    return s;
  };
  const difference = (v: Float32Array, i: number, other: (p: Float32Array) => number): number => {
    const h = 0.5;
    const p = Float32Array.from(v);
    p[i] = v[i]! + h;
    const up = other(p);
    p[i] = v[i]! - h;
    return (up - other(p)) / (2 * h);
  };
  const pick = rng(10);
  const sample = (n: number): number[] => Array.from({ length: 24 }, () => Math.floor(pick() * n));

  for (const inputPath of ['flipped', 'col2im'] as InputGradPath[]) {
    it(`input gradient (${inputPath})`, () => {
      const dx = new Float32Array(x.length);
      conv2dBackpropInput(g, l.OC, f, r, dx, { inputPath });
      for (const i of sample(x.length)) expect(dx[i]!, `dx[${i}]`).toBeCloseTo(difference(x, i, (p) => loss(p, f)), 3);
    });
  }
  for (const order of ['dyT', 'patchesT'] as FilterGradOrder[]) {
    it(`filter gradient (${order})`, () => {
      const df = new Float32Array(f.length);
      conv2dBackpropFilter(g, l.OC, x, r, df, { path: 'im2col', order });
      for (const i of sample(f.length)) expect(df[i]!, `df[${i}]`).toBeCloseTo(difference(f, i, (p) => loss(x, p)), 3);
    });
  }
});

describe('GEMM convolution paths give the same bits on one thread as on several', () => {
  let backoff = true;
  beforeAll(async () => {
    await startThreads();
    // Never skip the threads because a busy machine made one product slow.
    backoff = setThreadBackoff(false);
  });
  afterAll(() => {
    setThreadBackoff(backoff);
  });

  // Products of 40M multiply-adds: every GEMM is split over the threads where there are several.
  const l: Layer = { N: 4, H: 14, W: 14, C: 32, OC: 64, K: 5, stride: 1, pad: 'same' };
  it(`x ${l.N}x${l.H}x${l.W}x${l.C}, filter ${l.K}x${l.K}x${l.C}x${l.OC}`, () => {
    const g = geometry(l);
    const x = rand(l.N * l.H * l.W * l.C, 11);
    const f = rand(l.K * l.K * l.C * l.OC, 12);
    const dy = rand(l.N * g.OH * g.OW * l.OC, 13);
    const all = (o: ConvOptions): Float32Array[] => {
      const y = new Float32Array(dy.length);
      conv2dForward(g, l.OC, x, f, y, o);
      const dx = new Float32Array(x.length);
      conv2dBackpropInput(g, l.OC, f, dy, dx, o);
      const df = new Float32Array(f.length);
      conv2dBackpropFilter(g, l.OC, x, dy, df, o);
      return [y, dx, df];
    };
    for (const v of variants(g, l.OC)) {
      const before = threadedCalls();
      const several = all(v.o);
      if (threadsAvailable()) expect(threadedCalls(), `threaded GEMMs (${v.name})`).toBeGreaterThan(before);
      const prev = setThreadsEnabled(false);
      let one: Float32Array[];
      try {
        one = all(v.o);
      } finally {
        setThreadsEnabled(prev);
      }
      for (let k = 0; k < 3; k++) expect(Buffer.from(several[k]!.buffer).equals(Buffer.from(one[k]!.buffer)), `${['y', 'dx', 'df'][k]} (${v.name})`).toBe(true);
    }
  });
});
