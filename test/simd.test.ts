// The WebAssembly SIMD loops for float32 elementwise ops, row reductions and pooling (runtime/cpu/simd.ts)
// against independent references and against the TypeScript loops they replace. Under
// WEIR_CPU_FAST=0 the same references check the TypeScript loops.
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { KernelNode } from '../runtime/backend.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import { elementwiseSimdAvailable, setElementwiseSimdEnabled, SIMD_MIN_ELEMENTS } from '../runtime/cpu/simd.js';
import { rng } from './helpers.js';

const fastForcedOff = process.env.WEIR_CPU_FAST === '0';
const ODD = [1, 3, 17, 1023, 4097];

afterEach(() => {
  setElementwiseSimdEnabled(true);
});

/** Random floats in [-1, 1), viewed at a byte offset that is not a multiple of 16 in a larger buffer. */
function floats(shape: number[], seed: number, special = false): tf.NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const data = new Float32Array(n + 2).subarray(1, n + 1);
  const specials = [NaN, Infinity, -Infinity, 0, -0];
  for (let i = 0; i < n; i++) data[i] = special && r() < 0.1 ? specials[Math.floor(r() * specials.length)]! : 2 * r() - 1;
  return new tf.NDArray(data, shape);
}

function kernel(type: string, inputs: tf.NDArray[], attrs: Record<string, unknown> = {}): tf.NDArray {
  const node = { name: type, type, attrs, outputs: [], inputDTypes: [], inputShapes: [] } as unknown as KernelNode;
  return getCpuKernel(type)!(inputs, node, {} as never)[0]!;
}

/** Runs a kernel with the SIMD loops on (where available) and off. */
function bothPaths(type: string, inputs: tf.NDArray[], attrs: Record<string, unknown> = {}): { simd: tf.NDArray; ts: tf.NDArray } {
  setElementwiseSimdEnabled(true);
  const simd = kernel(type, inputs, attrs);
  setElementwiseSimdEnabled(false);
  const ts = kernel(type, inputs, attrs);
  setElementwiseSimdEnabled(true);
  return { simd, ts };
}

/** Exact equality, NaN equal to NaN, +0 distinct from -0. */
function expectIdentical(actual: tf.NDArray, expected: ArrayLike<number>): void {
  const a = actual.data as Float32Array;
  expect(a.length).toBe(expected.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], expected[i])) expect.fail(`element ${i}: got ${a[i]}, expected ${expected[i]}`);
  }
}

function expectNear(actual: tf.NDArray, expected: ArrayLike<number>, tol = 1e-5): void {
  const a = actual.data as Float32Array;
  expect(a.length).toBe(expected.length);
  for (let i = 0; i < a.length; i++) {
    const e = expected[i]!;
    if (Number.isNaN(e) ? !Number.isNaN(a[i]) : a[i] !== e && !(Math.abs(a[i]! - e) <= tol * Math.max(1, Math.abs(e)))) {
      expect.fail(`element ${i}: got ${a[i]}, expected ${e}`);
    }
  }
}

const BINARY: [string, (x: number, y: number) => number][] = [
  ['AddV2', (x, y) => x + y],
  ['Sub', (x, y) => x - y],
  ['Mul', (x, y) => x * y],
  ['RealDiv', (x, y) => x / y],
  ['Maximum', Math.max],
  ['Minimum', Math.min],
];

describe('SIMD elementwise binary ops', () => {
  it.runIf(!fastForcedOff)('are available unless WEIR_CPU_FAST=0', () => {
    expect(elementwiseSimdAvailable()).toBe(true);
  });
  it.runIf(fastForcedOff)('are off under WEIR_CPU_FAST=0', () => {
    expect(elementwiseSimdAvailable()).toBe(false);
    expect(setElementwiseSimdEnabled(true)).toBe(false);
  });

  // Each row length with enough rows to pass the SIMD threshold: same shape, a repeated row
  // (either side), and a scalar (either side).
  for (const cols of ODD) {
    const rows = Math.ceil(SIMD_MIN_ELEMENTS / cols) + 1;
    const layouts: [string, number[], number[]][] = [
      ['same shape', [rows, cols], [rows, cols]],
      ['row on the right', [rows, cols], [1, cols]],
      ['row on the left', [cols], [rows, cols]],
      ['scalar on the right', [rows, cols], []],
      ['scalar on the left', [], [rows, cols]],
    ];
    for (const [what, aShape, bShape] of layouts) {
      for (const [type, f] of BINARY) {
        it(`${type}, ${what}, rows of ${cols}, with NaN/Inf/-0`, () => {
          const a = floats(aShape, cols + 1, true);
          const b = floats(bShape, cols + 2, true);
          const { simd, ts } = bothPaths(type, [a, b]);
          const n = rows * cols;
          const ad = a.data as Float32Array;
          const bd = b.data as Float32Array;
          const expected = Float32Array.from({ length: n }, (_, i) => f(ad[a.size === n ? i : a.size === 1 ? 0 : i % cols]!, bd[b.size === n ? i : b.size === 1 ? 0 : i % cols]!));
          expectIdentical(simd, expected);
          expectIdentical(ts, expected);
          expect(simd.shape).toEqual([rows, cols]);
        });
      }
    }
  }

  it('Maximum and Minimum propagate NaN from either side', () => {
    const n = SIMD_MIN_ELEMENTS + 5;
    const a = floats([n], 3);
    const b = floats([n], 4);
    (a.data as Float32Array)[7] = NaN;
    (b.data as Float32Array)[n - 1] = NaN;
    for (const type of ['Maximum', 'Minimum']) {
      const { simd, ts } = bothPaths(type, [a, b]);
      for (const out of [simd, ts]) {
        expect((out.data as Float32Array)[7]).toBeNaN();
        expect((out.data as Float32Array)[n - 1]).toBeNaN();
        expect(Number.isNaN((out.data as Float32Array)[8])).toBe(false);
      }
    }
  });

  it('leave other broadcasts (a column) to the TypeScript loop with the same result', () => {
    const a = floats([200, 33], 5);
    const b = floats([200, 1], 6);
    const { simd, ts } = bothPaths('AddV2', [a, b]);
    const ad = a.data as Float32Array;
    const bd = b.data as Float32Array;
    const expected = Float32Array.from({ length: 200 * 33 }, (_, i) => ad[i]! + bd[Math.floor(i / 33)]!);
    expectIdentical(simd, expected);
    expectIdentical(ts, expected);
  });
});

describe('SIMD row reductions', () => {
  const axis = new tf.NDArray(Int32Array.of(-1), [1], 'int32');
  const reference: Record<string, (row: Float32Array) => number> = {
    Sum: (row) => row.reduce((s, v) => s + v, 0),
    Mean: (row) => row.reduce((s, v) => s + v, 0) / row.length,
    Max: (row) => row.reduce((m, v) => (Number.isNaN(m) || Number.isNaN(v) ? NaN : Math.max(m, v)), -Infinity),
    Min: (row) => row.reduce((m, v) => (Number.isNaN(m) || Number.isNaN(v) ? NaN : Math.min(m, v)), Infinity),
  };
  for (const r of [...ODD, 64, 65, 127]) {
    const outer = Math.ceil(SIMD_MIN_ELEMENTS / r) + 2;
    for (const type of Object.keys(reference)) {
      for (const special of [false, true]) {
        it(`${type} over rows of ${r}${special ? ' with NaN/Inf' : ''}`, () => {
          const x = floats([outer, r], r + 7, special);
          const { simd, ts } = bothPaths(type, [x, axis], { keep_dims: false });
          const xd = x.data as Float32Array;
          const expected = Array.from({ length: outer }, (_, i) => reference[type]!(xd.subarray(i * r, (i + 1) * r)));
          expect(simd.shape).toEqual([outer]);
          // Max/Min pick an element: exact (up to the sign of a zero); sums may reassociate.
          expectNear(simd, expected, type === 'Max' || type === 'Min' ? 0 : 1e-5);
          expectNear(ts, expected, type === 'Max' || type === 'Min' ? 0 : 1e-5);
        });
      }
    }
  }
});

describe('SIMD pooling over channels', () => {
  /** Direct NHWC pooling: taps inside the input only; the max skips NaN as the TypeScript kernel does. */
  function referencePool(kind: 'max' | 'avg', x: tf.NDArray, k: number, s: number, padding: 'SAME' | 'VALID'): Float32Array {
    const [N, H, W, C] = x.shape as [number, number, number, number];
    const xd = x.data as Float32Array;
    const OH = padding === 'SAME' ? Math.ceil(H / s) : Math.floor((H - k) / s) + 1;
    const OW = padding === 'SAME' ? Math.ceil(W / s) : Math.floor((W - k) / s) + 1;
    const padT = padding === 'SAME' ? Math.floor(Math.max((OH - 1) * s + k - H, 0) / 2) : 0;
    const padL = padding === 'SAME' ? Math.floor(Math.max((OW - 1) * s + k - W, 0) / 2) : 0;
    const out = new Float32Array(N * OH * OW * C);
    for (let n = 0; n < N; n++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let c = 0; c < C; c++) {
            let best = -Infinity;
            let sum = 0;
            let count = 0;
            for (let ih = oh * s - padT; ih < oh * s - padT + k; ih++)
              for (let iw = ow * s - padL; iw < ow * s - padL + k; iw++) {
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const v = xd[((n * H + ih) * W + iw) * C + c]!;
                if (v > best) best = v;
                sum += v;
                count++;
              }
            out[((n * OH + oh) * OW + ow) * C + c] = kind === 'max' ? best : sum / count;
          }
    return out;
  }

  const cases: { C: number; H: number; k: number; s: number; padding: 'SAME' | 'VALID' }[] = [
    { C: 1, H: 28, k: 2, s: 2, padding: 'SAME' },
    { C: 3, H: 28, k: 2, s: 2, padding: 'SAME' },
    { C: 4, H: 28, k: 2, s: 2, padding: 'SAME' },
    { C: 5, H: 15, k: 3, s: 2, padding: 'SAME' },
    { C: 17, H: 9, k: 3, s: 1, padding: 'VALID' },
    { C: 32, H: 7, k: 2, s: 2, padding: 'SAME' },
    { C: 1023, H: 3, k: 2, s: 1, padding: 'SAME' },
    { C: 4097, H: 2, k: 2, s: 2, padding: 'VALID' },
  ];
  for (const { C, H, k, s, padding } of cases) {
    const OH = padding === 'SAME' ? Math.ceil(H / s) : Math.floor((H - k) / s) + 1;
    const N = Math.ceil(SIMD_MIN_ELEMENTS / (OH * OH * C)) + 1;
    const attrs = { ksize: [1, k, k, 1], strides: [1, s, s, 1], padding, data_format: 'NHWC' };
    it(`MaxPool ${k}x${k}/${s} ${padding}, ${C} channels, with NaN/Inf: SIMD identical to TypeScript`, () => {
      const x = floats([N, H, H, C], C, true);
      const { simd, ts } = bothPaths('MaxPool', [x], attrs);
      const expected = referencePool('max', x, k, s, padding);
      expectIdentical(ts, expected);
      expectIdentical(simd, expected);
    });
    it(`AvgPool ${k}x${k}/${s} ${padding}, ${C} channels`, () => {
      const x = floats([N, H, H, C], C + 1);
      const { simd, ts } = bothPaths('AvgPool', [x], attrs);
      const expected = referencePool('avg', x, k, s, padding);
      expectNear(ts, expected, 1e-6);
      expectNear(simd, expected, 1e-6);
    });
  }

  it('MaxPool and AvgPool on NCHW data take the same SIMD path', () => {
    const x = floats([4, 16, 16, 16], 9);
    const attrs = { ksize: [1, 1, 2, 2], strides: [1, 1, 2, 2], padding: 'VALID', data_format: 'NCHW' };
    for (const type of ['MaxPool', 'AvgPool']) {
      const { simd, ts } = bothPaths(type, [x], attrs);
      expect(simd.shape).toEqual([4, 16, 8, 8]);
      expectNear(simd, ts.data as Float32Array, 1e-6);
    }
  });
});
