// The WebAssembly SIMD loops for float32 elementwise ops, row reductions, pooling and its gradients (runtime/cpu/simd.ts)
// against independent references and against the TypeScript loops they replace. Under
// WEIR_CPU_FAST=0 the same references check the TypeScript loops.
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { KernelNode } from '../runtime/backend.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import { FRESH } from '../runtime/cpu/kernels/util.js';
import { elementwiseSimdAvailable, isLeadingColumn, setElementwiseSimdEnabled, SIMD_MIN_ELEMENTS } from '../runtime/cpu/simd.js';
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
  return getCpuKernel(type)!(inputs, node, {} as never, FRESH)[0]!;
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

  // A column (one value per row) repeated along the rows, either side; higher ranks included.
  const columnLayouts: [string, number[], number[]][] = [
    ['column on the right', [1100, 7], [1100, 1]],
    ['column on the left', [300, 1], [300, 33]],
    ['rank-3 column', [20, 30, 17], [20, 30, 1]],
    ['rank-3 column over two dims', [9, 1, 1], [9, 40, 23]],
    ['repeated with a period (TypeScript)', [60, 1], [2, 60, 50]],
    ['long rows', [3, 1], [3, 4097]],
    ['rows longer than a staging buffer (TypeScript)', [2, 1], [2, 20000]],
  ];
  for (const [what, aShape, bShape] of columnLayouts) {
    for (const [type, f] of BINARY) {
      it(`${type}, ${what}, with NaN/Inf/-0`, () => {
        const a = floats(aShape, 11, true);
        const b = floats(bShape, 12, true);
        const { simd, ts } = bothPaths(type, [a, b]);
        const out = simd.shape;
        const n = simd.size;
        // Index of output element i in an operand broadcast to `out`.
        const at = (shape: number[], i: number): number => {
          const s = [...new Array<number>(out.length - shape.length).fill(1), ...shape];
          let idx = 0;
          let rest = i;
          let stride = 1;
          const coords = out.map(() => 0);
          for (let d = out.length - 1; d >= 0; d--) {
            coords[d] = rest % out[d]!;
            rest = Math.floor(rest / out[d]!);
          }
          for (let d = out.length - 1; d >= 0; d--) {
            if (s[d] !== 1) idx += coords[d]! * stride;
            stride *= s[d]!;
          }
          return idx;
        };
        const ad = a.data as Float32Array;
        const bd = b.data as Float32Array;
        const expected = Float32Array.from({ length: n }, (_, i) => f(ad[at(aShape, i)]!, bd[at(bShape, i)]!));
        expectIdentical(simd, expected);
        expectIdentical(ts, expected);
      });
    }
  }

  it('recognize columns only where the small operand is 1 on trailing dims and equal on the others', () => {
    expect(isLeadingColumn([5, 1], [5, 7])).toBe(true);
    expect(isLeadingColumn([5, 1, 1], [5, 3, 7])).toBe(true);
    expect(isLeadingColumn([3, 1], [2, 3, 4])).toBe(false); // repeats along a leading dim too
    expect(isLeadingColumn([1, 3, 1], [1, 3, 4])).toBe(true);
    expect(isLeadingColumn([5, 1], [5, 1])).toBe(false); // same shape
    expect(isLeadingColumn([1, 1], [5, 7])).toBe(false); // a scalar
    expect(isLeadingColumn([1, 5, 1], [4, 5, 7])).toBe(false); // broadcast on a leading dim too
    expect(isLeadingColumn([5, 1, 7], [5, 3, 7])).toBe(false); // a middle broadcast
    expect(isLeadingColumn([5], [5, 7])).toBe(false); // a row
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

describe('SIMD pooling gradients', () => {
  interface Window {
    taps: number[];
    o: number;
  }
  /** Each output element's taps (NHWC indices inside the input, row-major), in output order. */
  function windows(shape: number[], k: number, s: number, padding: 'SAME' | 'VALID'): { windows: Window[]; out: number[] } {
    const [N, H, W, C] = shape as [number, number, number, number];
    const OH = padding === 'SAME' ? Math.ceil(H / s) : Math.floor((H - k) / s) + 1;
    const OW = padding === 'SAME' ? Math.ceil(W / s) : Math.floor((W - k) / s) + 1;
    const padT = padding === 'SAME' ? Math.floor(Math.max((OH - 1) * s + k - H, 0) / 2) : 0;
    const padL = padding === 'SAME' ? Math.floor(Math.max((OW - 1) * s + k - W, 0) / 2) : 0;
    const ws: Window[] = [];
    for (let n = 0; n < N; n++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let c = 0; c < C; c++) {
            const taps: number[] = [];
            for (let ih = oh * s - padT; ih < oh * s - padT + k; ih++)
              for (let iw = ow * s - padL; iw < ow * s - padL + k; iw++) if (ih >= 0 && ih < H && iw >= 0 && iw < W) taps.push(((n * H + ih) * W + iw) * C + c);
            ws.push({ taps, o: ((n * OH + oh) * OW + ow) * C + c });
          }
    return { windows: ws, out: [N, OH, OW, C] };
  }

  /** Values with many ties (a few distinct levels) and, optionally, NaN/Inf. */
  function tiedFloats(shape: number[], seed: number, special: boolean): tf.NDArray {
    const x = floats(shape, seed, special);
    const d = x.data as Float32Array;
    for (let i = 0; i < d.length; i++) if (Number.isFinite(d[i])) d[i] = Math.round(d[i]! * 3) / 3;
    return x;
  }

  const cases: { C: number; H: number; k: number; s: number; padding: 'SAME' | 'VALID' }[] = [
    { C: 4, H: 28, k: 2, s: 2, padding: 'SAME' },
    { C: 5, H: 15, k: 3, s: 2, padding: 'SAME' },
    { C: 17, H: 9, k: 3, s: 1, padding: 'VALID' },
    { C: 32, H: 14, k: 3, s: 1, padding: 'SAME' },
    { C: 1023, H: 3, k: 2, s: 1, padding: 'SAME' },
  ];
  for (const { C, H, k, s, padding } of cases) {
    const OH = padding === 'SAME' ? Math.ceil(H / s) : Math.floor((H - k) / s) + 1;
    const N = Math.ceil(SIMD_MIN_ELEMENTS / (OH * OH * C)) + 1;
    const attrs = { ksize: [1, k, k, 1], strides: [1, s, s, 1], padding, data_format: 'NHWC' };
    it(`MaxPoolGrad and MaxPoolGradGrad ${k}x${k}/${s} ${padding}, ${C} channels, ties and NaN/Inf: SIMD identical to TypeScript`, () => {
      const x = tiedFloats([N, H, H, C], C + 3, true);
      const { windows: ws, out } = windows(x.shape, k, s, padding);
      const y = kernel('MaxPool', [x], attrs);
      expect(y.shape).toEqual(out);
      const dy = floats(out, C + 4);
      const { simd, ts } = bothPaths('MaxPoolGrad', [x, y, dy], attrs);
      // Reference: each output's gradient goes to its first maximal tap (NaNs passed over unless first).
      const xd = x.data as Float32Array;
      const dyd = dy.data as Float32Array;
      const expected = new Float32Array(x.size);
      for (const w of ws) {
        let best = w.taps[0]!;
        for (const t of w.taps) if (xd[t]! > xd[best]!) best = t;
        expected[best] = expected[best]! + dyd[w.o]!;
      }
      expectIdentical(ts, expected);
      expectIdentical(simd, expected);
      const ddx = floats(x.shape, C + 5);
      const gg = bothPaths('MaxPoolGradGrad', [x, y, ddx], attrs);
      expectIdentical(gg.simd, gg.ts.data as Float32Array);
    });
    it(`AvgPoolGrad ${k}x${k}/${s} ${padding}, ${C} channels: SIMD identical to TypeScript`, () => {
      const shape = [N, H, H, C];
      const { windows: ws, out } = windows(shape, k, s, padding);
      const dy = floats(out, C + 6, true);
      const { simd, ts } = bothPaths('AvgPoolGrad', [new tf.NDArray(Int32Array.from(shape), [4], 'int32'), dy], attrs);
      const dyd = dy.data as Float32Array;
      const expected = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (const w of ws) for (const t of w.taps) expected[t] = expected[t]! + dyd[w.o]! * (1 / w.taps.length);
      expectIdentical(ts, expected);
      expectIdentical(simd, expected);
    });
  }

  it('NCHW data takes the same SIMD path', () => {
    const x = floats([4, 16, 16, 16], 19);
    const attrs = { ksize: [1, 1, 3, 3], strides: [1, 1, 2, 2], padding: 'SAME', data_format: 'NCHW' };
    const y = kernel('MaxPool', [x], attrs);
    const dy = floats(y.shape, 20);
    const mx = bothPaths('MaxPoolGrad', [x, y, dy], attrs);
    expectIdentical(mx.simd, mx.ts.data as Float32Array);
    const av = bothPaths('AvgPoolGrad', [new tf.NDArray(Int32Array.of(4, 16, 16, 16), [4], 'int32'), dy], attrs);
    expect(av.simd.shape).toEqual([4, 16, 16, 16]);
    expectIdentical(av.simd, av.ts.data as Float32Array);
  });
});
