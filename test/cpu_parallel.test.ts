// runtime/cpu/parallel.ts: the optimizer updates, pooling and its gradients and column sums in
// WebAssembly SIMD, in place on heap operands and split over the worker threads. Each is checked
// against a reference written here from TensorFlow's formula, against the TypeScript loop it
// replaces (bit for bit), on operands in and out of the heap, and with one thread against several.
// Under WEIR_CPU_FAST=0 the references check the TypeScript loops.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { KernelNode } from '../runtime/backend.js';
import { APPLY_OPS } from '../ops/semantics/training.js';
import { heapAddress, heapRegion } from '../runtime/cpu/heap.js';
import { FRESH } from '../runtime/cpu/kernels/util.js';
import { FunctionBuilder, get, I32, I32_ADD, wasmModule } from '../runtime/cpu/wasm.js';
import { heapMemory } from '../runtime/cpu/heap.js';
import {
  avgPoolGradSimd,
  sharedModule,
  CallList,
  injectParallelFault,
  maxPoolGradSimd,
  parallelAvailable,
  parallelThreadedTasks,
  parallelThreadsAvailable,
  poolSimd,
  setParallelBackoff,
  setParallelThreadsEnabled,
  setUpdateSimdEnabled,
  startParallelThreads,
  sumColumnsSimd,
  type PoolGeometry,
} from '../runtime/cpu/parallel.js';
import { sharedPoolReplacements } from '../runtime/cpu/threads.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import { binarySimd, elementwiseSimdAvailable, reduceRowsSimd, setElementwiseSimdEnabled, type BinaryOp } from '../runtime/cpu/simd.js';
import { rng } from './helpers.js';

const fastForcedOff = process.env.WEIR_CPU_FAST === '0';

beforeAll(async () => {
  setParallelBackoff(false);
  await startParallelThreads();
});
afterAll(() => {
  setParallelBackoff(true);
  setParallelThreadsEnabled(true);
  setUpdateSimdEnabled(true);
});

type Placement = 'js' | 'heap';

/** n floats in the heap memory (a region) or in an ordinary buffer at an offset that is not a multiple of 16. */
function floats(n: number, where: Placement): Float32Array {
  if (where === 'heap') {
    const region = heapRegion(n * 4 + 4);
    // Without shared WebAssembly memory (or WEIR_CPU_FAST=0) there is no heap: the operand lies elsewhere.
    if (region !== null) return new Float32Array(region.buffer, region.byteOffset + 4, n);
  }
  return new Float32Array(n + 2).subarray(1, n + 1);
}

function fill(a: Float32Array, seed: number, lo: number, hi: number, special = false): Float32Array {
  const r = rng(seed);
  const specials = [NaN, Infinity, -Infinity, 0, -0];
  for (let i = 0; i < a.length; i++) a[i] = special && r() < 0.02 ? specials[Math.floor(r() * specials.length)]! : lo + (hi - lo) * r();
  return a;
}

/** Exact equality, NaN equal to NaN, +0 distinct from -0. */
function expectIdentical(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) expect.fail(`${what}, element ${i}: got ${got[i]}, expected ${want[i]}`);
  }
}

function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w) ? !Number.isNaN(g) : g !== w && !(Math.abs(g - w) <= rel * Math.max(1e-30, Math.abs(w)))) {
      expect.fail(`${what}, element ${i}: got ${g}, expected ${w}`);
    }
  }
}

// ---- optimizer updates ----

interface UpdateCase {
  type: string;
  attrs: Record<string, boolean>;
  scalars: number[];
  /** One element's update from TensorFlow's documented formula (float64): new [var, ...slots]. */
  formula: (x: number[], g: number, s: number[]) => number[];
}

const B1 = 0.9;
const B2 = 0.999;
const UPDATE_CASES: UpdateCase[] = [
  { type: 'ApplyGradientDescent', attrs: {}, scalars: [0.1], formula: ([w], g, [a]) => [w! - a! * g] },
  ...[false, true].map(
    (nesterov): UpdateCase => ({
      type: 'ApplyMomentum',
      attrs: { use_nesterov: nesterov },
      scalars: [0.05, 0.9],
      formula: ([w, acc], g, [lr, mom]) => {
        const a = acc! * mom! + g;
        return [nesterov ? w! - (g * lr! + a * mom! * lr!) : w! - lr! * a, a];
      },
    }),
  ),
  ...[false, true].map(
    (nesterov): UpdateCase => ({
      type: 'ApplyAdam',
      attrs: { use_nesterov: nesterov },
      scalars: [B1 ** 3, B2 ** 3, 0.001, B1, B2, 1e-8],
      formula: ([w, m, v], g, [b1p, b2p, lr, b1, b2, eps]) => {
        const alpha = (lr! * Math.sqrt(1 - b2p!)) / (1 - b1p!);
        const mt = m! + (g - m!) * (1 - b1!);
        const vt = v! + (g * g - v!) * (1 - b2!);
        const step = nesterov ? g * (1 - b1!) + b1! * mt : mt;
        return [w! - (step * alpha) / (Math.sqrt(vt) + eps!), mt, vt];
      },
    }),
  ),
  {
    type: 'ApplyRMSProp',
    attrs: {},
    scalars: [0.01, 0.9, 0.5, 1e-7],
    formula: ([w, ms, mom], g, [lr, rho, momentum, eps]) => {
      const sq = ms! + (g * g - ms!) * (1 - rho!);
      const u = mom! * momentum! + (g * lr!) / Math.sqrt(sq + eps!);
      return [w! - u, sq, u];
    },
  },
  {
    type: 'ApplyCenteredRMSProp',
    attrs: {},
    scalars: [0.01, 0.9, 0.5, 1e-7],
    formula: ([w, mg, ms, mom], g, [lr, rho, momentum, eps]) => {
      const sq = ms! + (g * g - ms!) * (1 - rho!);
      const a = mg! + (g - mg!) * (1 - rho!);
      const u = mom! * momentum! + (g * lr!) / Math.sqrt(sq - a * a + eps!);
      return [w! - u, a, sq, u];
    },
  },
  ...[true, false].map(
    (updateSlots): UpdateCase => ({
      type: 'ApplyAdagrad',
      attrs: { update_slots: updateSlots },
      scalars: [0.1],
      formula: ([w, acc], g, [lr]) => {
        const a = updateSlots ? Math.fround(acc! + g * g) : acc!;
        return [w! - (lr! * g) / Math.sqrt(a), a];
      },
    }),
  ),
];

/** Runs the case's CPU kernel on fresh operands (var and slots where `refsAt` says, grad where `gradAt` says); returns [var, ...slots] after it. */
function runUpdate(c: UpdateCase, n: number, refsAt: Placement, gradAt: Placement, seed: number, special = false): { refs: Float32Array[]; grad: Float32Array } {
  const spec = APPLY_OPS.find((o) => o.type === c.type)!;
  // Slots start positive (Adagrad's accumulator, RMSProp's mean square are sums of squares).
  const refs = spec.refs.map((_, r) => fill(floats(n, refsAt), seed + r, r === 0 ? -1 : 0.01, 1));
  const grad = fill(floats(n, gradAt), seed + 99, -1, 1, special);
  const inputs: tf.NDArray[] = [];
  spec.refs.forEach((p, r) => (inputs[p] = new tf.NDArray(refs[r]!, [n])));
  spec.scalars.forEach((p, k) => (inputs[p] = new tf.NDArray(Float32Array.of(c.scalars[k]!), [])));
  inputs[spec.grad] = new tf.NDArray(grad, [n]);
  const variables = new Map(refs.map((d, r) => [`v${r}`, new tf.NDArray(d, [n])]));
  const node = { name: c.type, type: c.type, attrs: c.attrs, refVars: refs.map((_, r) => `v${r}`), outputs: [], inputDTypes: [], inputShapes: [] } as unknown as KernelNode;
  getCpuKernel(c.type)!(inputs, node, { variables } as never, FRESH);
  return { refs, grad };
}

/** The formula applied to the initial operands (regenerated from the seeds), rounded to float32 as stored. */
function referenceUpdate(c: UpdateCase, n: number, seed: number, special = false): Float32Array[] {
  const spec = APPLY_OPS.find((o) => o.type === c.type)!;
  const refs = spec.refs.map((_, r) => fill(new Float32Array(n), seed + r, r === 0 ? -1 : 0.01, 1));
  const grad = fill(new Float32Array(n), seed + 99, -1, 1, special);
  const scalars = c.scalars.map(Math.fround);
  const out = refs.map(() => new Float32Array(n));
  for (let i = 0; i < n; i++) {
    const next = c.formula(
      refs.map((r) => r[i]!),
      grad[i]!,
      scalars,
    );
    next.forEach((x, r) => (out[r]![i] = x));
  }
  return out;
}

describe('optimizer updates in WebAssembly', () => {
  const SIZES = [1, 3, 4, 7, 17, 4099, 70001];
  for (const c of UPDATE_CASES) {
    const label = `${c.type}${Object.entries(c.attrs).map(([k, v]) => ` ${k}=${v}`).join('')}`;
    it(`${label}: the TypeScript loop's results bit for bit, within float32 rounding of the formula, operands in and out of the heap`, () => {
      for (const n of SIZES) {
        const seed = 10 * n + 1;
        const want = referenceUpdate(c, n, seed);
        setUpdateSimdEnabled(false);
        const ts = runUpdate(c, n, 'js', 'js', seed).refs;
        setUpdateSimdEnabled(true);
        ts.forEach((r, k) => expectNear(r, want[k]!, 2 ** -23, `${label} n=${n} TypeScript ref ${k} vs formula`));
        for (const [refsAt, gradAt] of [['js', 'js'], ['heap', 'heap'], ['heap', 'js'], ['js', 'heap']] as const) {
          const got = runUpdate(c, n, refsAt, gradAt, seed).refs;
          got.forEach((r, k) => expectIdentical(r, ts[k]!, `${label} n=${n} refs ${refsAt} grad ${gradAt}: ref ${k}`));
        }
      }
    });
  }

  it('NaN, Infinity and signed zeros in the gradient give the TypeScript loop results', () => {
    for (const c of UPDATE_CASES) {
      setUpdateSimdEnabled(false);
      const ts = runUpdate(c, 1031, 'js', 'js', 5, true).refs;
      setUpdateSimdEnabled(true);
      const got = runUpdate(c, 1031, 'heap', 'heap', 5, true).refs;
      got.forEach((r, k) => expectIdentical(r, ts[k]!, `${c.type} ref ${k}`));
    }
  });

  it('one thread and several give the same results, and large heap updates are split over the workers', () => {
    const n = 270_001;
    const cases = UPDATE_CASES.filter((_, i) => i % 2 === 0);
    const before = parallelThreadedTasks();
    for (const c of cases) {
      setParallelThreadsEnabled(false);
      const one = runUpdate(c, n, 'heap', 'heap', 3).refs;
      setParallelThreadsEnabled(true);
      const many = runUpdate(c, n, 'heap', 'heap', 3).refs;
      many.forEach((r, k) => expectIdentical(r, one[k]!, `${c.type} ref ${k}`));
    }
    const after = parallelThreadedTasks();
    if (parallelThreadsAvailable() && heapRegion(64) !== null) expect(after.tasks - before.tasks).toBe(cases.length);
    else expect(after.tasks).toBe(before.tasks);
  });
});

// ---- pooling ----

/** The geometry of a k x k window with stride s over [N, H, W, C], VALID or SAME (TensorFlow's padding). */
function poolGeometry(N: number, H: number, W: number, C: number, k: number, s: number, same: boolean): PoolGeometry {
  const out = (x: number): number => (same ? Math.ceil(x / s) : Math.floor((x - k) / s) + 1);
  const pad = (x: number, o: number): number => (same ? Math.floor(Math.max(0, (o - 1) * s + k - x) / 2) : 0);
  const OH = out(H);
  const OW = out(W);
  return { N, H, W, C, KH: k, KW: k, OH, OW, sH: s, sW: s, padT: pad(H, OH), padL: pad(W, OW) };
}

/** Each output's window taps inside the input, as NHWC indices of channel 0, in row-major order. */
function windows(g: PoolGeometry, fn: (n: number, o: number, taps: number[]) => void): void {
  for (let n = 0; n < g.N; n++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        const taps: number[] = [];
        for (let ih = oh * g.sH - g.padT; ih < oh * g.sH - g.padT + g.KH; ih++) {
          for (let iw = ow * g.sW - g.padL; iw < ow * g.sW - g.padL + g.KW; iw++) {
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) taps.push(((n * g.H + ih) * g.W + iw) * g.C);
          }
        }
        fn(n, ((n * g.OH + oh) * g.OW + ow) * g.C, taps);
      }
    }
  }
}

/** MaxPool's gradient as TensorFlow's CPU kernel routes it: to the first maximum (v > best from the first tap), in output order. */
function maxPoolGradReference(g: PoolGeometry, x: Float32Array, dy: Float32Array): Float32Array {
  const dx = new Float32Array(g.N * g.H * g.W * g.C);
  windows(g, (_n, o, taps) => {
    if (taps.length === 0) return;
    for (let c = 0; c < g.C; c++) {
      let best = x[taps[0]! + c]!;
      let at = taps[0]! + c;
      for (const t of taps) {
        if (x[t + c]! > best) {
          best = x[t + c]!;
          at = t + c;
        }
      }
      dx[at] = dx[at]! + dy[o + c]!;
    }
  });
  return dx;
}

function avgPoolGradReference(g: PoolGeometry, dy: Float32Array): Float32Array {
  const dx = new Float32Array(g.N * g.H * g.W * g.C);
  windows(g, (_n, o, taps) => {
    const inv = 1 / taps.length;
    for (const t of taps) for (let c = 0; c < g.C; c++) dx[t + c] = dx[t + c]! + dy[o + c]! * inv;
  });
  return dx;
}

function poolReference(kind: 'max' | 'avg', g: PoolGeometry, x: Float32Array): Float32Array {
  const y = new Float32Array(g.N * g.OH * g.OW * g.C);
  windows(g, (_n, o, taps) => {
    for (let c = 0; c < g.C; c++) {
      let acc = kind === 'max' ? -Infinity : 0;
      for (const t of taps) acc = kind === 'max' ? (x[t + c]! > acc ? x[t + c]! : acc) : acc + x[t + c]!;
      y[o + c] = kind === 'max' ? acc : taps.length > 0 ? acc / taps.length : 0;
    }
  });
  return y;
}

/** x with ties (values on a coarse grid) and, if asked, NaN and infinities. */
function poolInput(n: number, where: Placement, seed: number, special: boolean): Float32Array {
  const x = floats(n, where);
  const r = rng(seed);
  const specials = [NaN, Infinity, -Infinity];
  for (let i = 0; i < n; i++) x[i] = special && r() < 0.05 ? specials[Math.floor(r() * 3)]! : Math.round(8 * r()) / 4 - 1;
  return x;
}

const POOL_CASES: [number, number, number, number, number, number, boolean][] = [
  // N, H, W, C, k, s, SAME
  [3, 9, 7, 4, 2, 2, false],
  [2, 8, 8, 8, 3, 1, true],
  [2, 9, 9, 6, 3, 2, true],
  [1, 5, 5, 12, 3, 3, true],
  [3, 10, 10, 32, 2, 2, false],
  // Large enough to be split over the threads (with every operand in the heap).
  [16, 16, 16, 32, 2, 2, false],
  [4, 32, 32, 32, 3, 2, true],
  [6, 15, 15, 16, 3, 2, true],
];

describe('pooling in WebAssembly, in place and over the threads', () => {
  for (const [N, H, W, C, k, s, same] of POOL_CASES) {
    const g = poolGeometry(N, H, W, C, k, s, same);
    const label = `[${N},${H},${W},${C}] ${k}x${k}/${s} ${same ? 'SAME' : 'VALID'}`;
    it(`${label}: MaxPool, AvgPool, MaxPoolGrad and AvgPoolGrad against the references, operands in and out of the heap, 1 thread and several`, () => {
      if (!parallelAvailable()) {
        // WEIR_CPU_FAST=0: there is no WebAssembly path; the kernels' TypeScript loops are checked in simd.test.ts.
        expect(fastForcedOff).toBe(true);
        return;
      }
      const inF = N * H * W * C;
      const outF = N * g.OH * g.OW * C;
      for (const special of [false, true]) {
        const xJs = poolInput(inF, 'js', 7, special);
        const dyJs = fill(floats(outF, 'js'), 8, -1, 1);
        const wantMax = poolReference('max', g, xJs);
        const wantAvg = poolReference('avg', g, xJs);
        const wantMaxGrad = maxPoolGradReference(g, xJs, dyJs);
        const wantAvgGrad = avgPoolGradReference(g, dyJs);
        for (const where of ['js', 'heap'] as const) {
          for (const threads of [false, true]) {
            setParallelThreadsEnabled(threads);
            const x = floats(inF, where);
            x.set(xJs);
            const dy = floats(outF, where);
            dy.set(dyJs);
            const what = `${label} ${where} threads=${threads} special=${special}`;
            const y = floats(outF, where);
            poolSimd('max', g, x, y);
            expectIdentical(y, wantMax, `MaxPool ${what}`);
            poolSimd('avg', g, x, y);
            expectNear(y, wantAvg, 1e-6, `AvgPool ${what}`);
            // dx starts dirty: the kernels overwrite it.
            const dx = fill(floats(inF, where), 3, -5, 5);
            maxPoolGradSimd(g, x, dy, dx);
            expectIdentical(dx, wantMaxGrad, `MaxPoolGrad ${what}`);
            fill(dx, 4, -5, 5);
            avgPoolGradSimd(g, dy, dx);
            expectIdentical(dx, wantAvgGrad, `AvgPoolGrad ${what}`);
          }
        }
      }
      setParallelThreadsEnabled(true);
    });
  }

  it("maxPoolGradSimd and the MaxPoolGrad kernel give the reference's results (Deep MNIST's second pooling layer, 4 images)", () => {
    if (!parallelAvailable()) return expect(fastForcedOff).toBe(true);
    const g = poolGeometry(4, 14, 14, 64, 2, 2, true);
    const x = poolInput(4 * 14 * 14 * 64, 'js', 11, true);
    const dy = fill(floats(4 * 7 * 7 * 64, 'js'), 12, -1, 1);
    const attrs = { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: 'SAME', data_format: 'NHWC' };
    const node = { name: 'mpg', type: 'MaxPoolGrad', attrs, outputs: [], inputDTypes: [], inputShapes: [] } as unknown as KernelNode;
    const y = new Float32Array(dy.length);
    poolSimd('max', g, x, y);
    const want = getCpuKernel('MaxPoolGrad')!([new tf.NDArray(x, [4, 14, 14, 64]), new tf.NDArray(y, [4, 7, 7, 64]), new tf.NDArray(dy, [4, 7, 7, 64])], node, {} as never, FRESH)[0]!;
    const dx = new Float32Array(x.length);
    maxPoolGradSimd(g, x, dy, dx);
    const reference = maxPoolGradReference(g, x, dy);
    expectIdentical(dx, reference, 'maxPoolGradSimd');
    expectIdentical(want.data as Float32Array, reference, 'MaxPoolGrad kernel');
  });

  it('splits large heap problems over the workers', () => {
    if (!parallelThreadsAvailable() || heapRegion(64) === null) return expect(parallelThreadsAvailable() && !fastForcedOff).toBe(false);
    const g = poolGeometry(16, 28, 28, 32, 2, 2, false);
    const x = poolInput(16 * 28 * 28 * 32, 'heap', 1, false);
    const dy = fill(floats(16 * 14 * 14 * 32, 'heap'), 2, -1, 1);
    const dx = floats(x.length, 'heap');
    expect(heapAddress(x)).toBeGreaterThanOrEqual(0);
    const before = parallelThreadedTasks();
    for (let i = 0; i < 20; i++) maxPoolGradSimd(g, x, dy, dx);
    const after = parallelThreadedTasks();
    expect(after.tasks - before.tasks).toBe(20);
    // On a busy machine a worker may take few blocks, but over 20 tasks of 32 blocks it takes some.
    expect(after.workerBlocks).toBeGreaterThan(before.workerBlocks);
    expectIdentical(dx, maxPoolGradReference(g, x, dy), 'MaxPoolGrad');
  });
});

// ---- column sums (BiasAddGrad) ----

describe('column sums (BiasAddGrad) in WebAssembly', () => {
  const CASES: [number, number][] = [
    [1, 1],
    [5, 3],
    [100, 32],
    [333, 37],
    [5000, 64],
    [8193, 33],
  ];
  for (const [rows, cols] of CASES) {
    it(`[${rows}, ${cols}]: float64 sums row after row, bit for bit, in and out of the heap, 1 thread and several`, () => {
      if (!parallelAvailable()) return expect(fastForcedOff).toBe(true);
      const src = fill(new Float32Array(rows * cols), rows + cols, -1, 1);
      const want = new Float64Array(cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) want[j] += src[i * cols + j]!;
      for (const where of ['js', 'heap'] as const) {
        for (const threads of [false, true]) {
          setParallelThreadsEnabled(threads);
          const x = floats(rows * cols, where);
          x.set(src);
          const got = new Float64Array(cols).fill(7);
          sumColumnsSimd(x, rows, cols, got);
          expectIdentical(got, want, `${where} threads=${threads}`);
        }
      }
      setParallelThreadsEnabled(true);
    });
  }

  it('BiasAddGrad on a heap operand equals the TypeScript loop', () => {
    const shape = [16, 12, 12, 32];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = fill(floats(n, 'heap'), 9, -1, 1);
    const node = { name: 'bag', type: 'BiasAddGrad', attrs: { data_format: 'NHWC' }, outputs: [], inputDTypes: [], inputShapes: [] } as unknown as KernelNode;
    const got = getCpuKernel('BiasAddGrad')!([new tf.NDArray(x, shape)], node, {} as never, FRESH)[0]!;
    const want = new Float64Array(32);
    for (let i = 0; i < n / 32; i++) for (let j = 0; j < 32; j++) want[j] += x[i * 32 + j]!;
    expectIdentical(got.data as Float32Array, Float32Array.from(want), 'BiasAddGrad');
  });

  // Sum and Mean over leading axes (batch-norm moments, gradients of broadcasting ops) go through the
  // same column sums: the TypeScript loop's results, bit for bit.
  for (const [shape, axes] of [
    [[8, 16, 16, 32], [0, 1, 2]],
    [[5000, 7], [0]],
    [[3, 2000, 12], [1]],
  ] as [number[], number[]][]) {
    it(`Sum and Mean of [${shape}] over axes [${axes}]: the TypeScript loop's bits`, () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = new tf.NDArray(fill(floats(n, 'heap'), n % 97, -1, 1), shape);
      const axesArr = new tf.NDArray(Int32Array.from(axes), [axes.length], 'int32');
      for (const type of ['Sum', 'Mean']) {
        const node = { name: type, type, attrs: { keep_dims: false }, outputs: [], inputDTypes: [], inputShapes: [] } as unknown as KernelNode;
        const run = (): Float32Array => getCpuKernel(type)!([x, axesArr], node, {} as never, FRESH)[0]!.data as Float32Array;
        const got = run();
        const prev = setElementwiseSimdEnabled(false);
        let want: Float32Array;
        try {
          want = run();
        } finally {
          setElementwiseSimdEnabled(prev);
        }
        expectIdentical(got, want, type);
      }
    });
  }
});

// ---- simd.ts's loops on heap operands ----

describe('elementwise ops and row reductions read heap operands in place', () => {
  const OPS: [BinaryOp, (x: number, y: number) => number][] = [
    ['add', (x, y) => x + y],
    ['sub', (x, y) => x - y],
    ['mul', (x, y) => x * y],
    ['div', (x, y) => x / y],
    ['max', Math.max],
    ['min', Math.min],
  ];
  it('binary ops, same shape and with a broadcast scalar, odd lengths: the TypeScript results bit for bit', () => {
    if (!elementwiseSimdAvailable()) return expect(fastForcedOff).toBe(true);
    for (const n of [1, 3, 4, 5, 4099, 20001]) {
      for (const [op, fn] of OPS) {
        for (const mode of ['vv', 'vs', 'sv'] as const) {
          for (const where of ['js', 'heap'] as const) {
            const a = fill(floats(mode === 'sv' ? 1 : n, where), n + 1, -2, 2, true);
            const b = fill(floats(mode === 'vs' ? 1 : n, where === 'heap' && mode !== 'vv' ? 'js' : where), n + 2, -2, 2, true);
            const out = fill(floats(n, where), 5, -9, 9);
            binarySimd(op, a, b, out);
            const want = Float32Array.from({ length: n }, (_, i) => fn(a[mode === 'sv' ? 0 : i]!, b[mode === 'vs' ? 0 : i]!));
            expectIdentical(out, want, `${op} ${mode} n=${n} ${where}`);
          }
        }
      }
    }
  });

  it('row sums, maxima and minima: in place equal to staged, and to the plain loop', () => {
    if (!elementwiseSimdAvailable()) return expect(fastForcedOff).toBe(true);
    for (const [outer, r] of [[3, 1], [5, 7], [40, 33], [7, 1000], [2, 70001]] as const) {
      const src = fill(new Float32Array(outer * r + 3), outer * r, -1, 1, r > 30);
      for (const kind of ['sum', 'max', 'min'] as const) {
        const results = (['js', 'heap'] as const).map((where) => {
          const x = floats(src.length, where);
          x.set(src);
          const out = new Float64Array(outer);
          reduceRowsSimd(kind, x, 3, outer, r, out);
          return out;
        });
        expectIdentical(results[1]!, results[0]!, `${kind} [${outer}, ${r}] heap vs staged`);
        const plain = Float64Array.from({ length: outer }, (_, i) => {
          const row = src.subarray(3 + i * r, 3 + (i + 1) * r);
          return kind === 'sum' ? row.reduce((p, v) => p + v, 0) : row.some(Number.isNaN) ? NaN : kind === 'max' ? Math.max(...row) : Math.min(...row);
        });
        if (kind === 'sum') expectNear(results[0]!, plain, 1e-12, `sum [${outer}, ${r}]`);
        else expectIdentical(results[0]!.map((v) => v || 0), plain.map((v) => v || 0), `${kind} [${outer}, ${r}]`);
      }
    }
  });
});

describe('WEIR_CPU_FAST=0', () => {
  it('runs the updates on the TypeScript path, with the same results', () => {
    const c = UPDATE_CASES.find((u) => u.type === 'ApplyAdam')!;
    const script = `
      import { APPLY_OPS } from './ops/semantics/training.js';
      import { getCpuKernel } from './runtime/cpu/registry.js';
      import { FRESH } from './runtime/cpu/kernels/util.js';
      import { parallelAvailable } from './runtime/cpu/parallel.js';
      import * as tf from './src/index.js';
      const n = 1001;
      const spec = APPLY_OPS.find((o) => o.type === 'ApplyAdam');
      const refs = spec.refs.map((_, r) => Float32Array.from({ length: n }, (_, i) => r === 0 ? Math.sin(i) : 0.01 + (i % 7) / 7));
      const grad = Float32Array.from({ length: n }, (_, i) => Math.cos(3 * i));
      const inputs = [];
      spec.refs.forEach((p, r) => (inputs[p] = new tf.NDArray(refs[r], [n])));
      spec.scalars.forEach((p, k) => (inputs[p] = new tf.NDArray(Float32Array.of(${JSON.stringify(c.scalars)}[k]), [])));
      inputs[spec.grad] = new tf.NDArray(grad, [n]);
      const variables = new Map(refs.map((d, r) => ['v' + r, new tf.NDArray(d, [n])]));
      getCpuKernel('ApplyAdam')(inputs, { name: 'adam', type: 'ApplyAdam', attrs: {}, refVars: ['v0', 'v1', 'v2'] }, { variables }, FRESH);
      console.log(JSON.stringify({ available: parallelAvailable(), refs: refs.map((r) => Array.from(r)) }));
    `;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url).pathname,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, WEIR_CPU_FAST: '0' },
    });
    expect(res.error).toBeUndefined();
    expect(res.status, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { available: boolean; refs: number[][] };
    expect(out.available).toBe(false);
    // The same update here (WebAssembly where available) gives the same floats.
    const n = 1001;
    const spec = APPLY_OPS.find((o) => o.type === 'ApplyAdam')!;
    const refs = spec.refs.map((_, r) => {
      const a = floats(n, 'heap');
      for (let i = 0; i < n; i++) a[i] = r === 0 ? Math.sin(i) : 0.01 + (i % 7) / 7;
      return a;
    });
    const grad = Float32Array.from({ length: n }, (_, i) => Math.cos(3 * i));
    const inputs: tf.NDArray[] = [];
    spec.refs.forEach((p, r) => (inputs[p] = new tf.NDArray(refs[r]!, [n])));
    spec.scalars.forEach((p, k) => (inputs[p] = new tf.NDArray(Float32Array.of(c.scalars[k]!), [])));
    inputs[spec.grad] = new tf.NDArray(grad, [n]);
    const variables = new Map(refs.map((d, r) => [`v${r}`, new tf.NDArray(d, [n])]));
    const node = { name: 'adam', type: 'ApplyAdam', attrs: {}, refVars: ['v0', 'v1', 'v2'] } as unknown as KernelNode;
    getCpuKernel('ApplyAdam')!(inputs, node, { variables } as never, FRESH);
    refs.forEach((r, k) => expectIdentical(r, out.refs[k]!.map(Math.fround), `ref ${k}`));
  });
});

describe('a worker that dies', () => {
  it('leaves pooling results whole (its blocks are run again), and an update either whole or failed with InternalError naming the op', async () => {
    if (!parallelThreadsAvailable() || heapRegion(64) === null) return expect(parallelThreadsAvailable() && !fastForcedOff).toBe(false);
    await startParallelThreads();
    const g = poolGeometry(16, 28, 28, 32, 2, 2, false);
    const x = poolInput(16 * 28 * 28 * 32, 'heap', 1, false);
    const dy = fill(floats(16 * 14 * 14 * 32, 'heap'), 2, -1, 1);
    const dx = floats(x.length, 'heap');
    const replaced = sharedPoolReplacements();
    injectParallelFault();
    maxPoolGradSimd(g, x, dy, dx);
    expect(sharedPoolReplacements()).toBe(replaced + 1);
    expectIdentical(dx, maxPoolGradReference(g, x, dy), 'MaxPoolGrad after a worker died');

    const c = UPDATE_CASES.find((u) => u.type === 'ApplyAdam')!;
    const n = 270_001;
    const want = (() => {
      setParallelThreadsEnabled(false);
      try {
        return runUpdate(c, n, 'heap', 'heap', 21).refs;
      } finally {
        setParallelThreadsEnabled(true);
      }
    })();
    // A new pool starts once the old one has exited.
    for (let i = 0; i < 100 && !(await startParallelThreads()); i++) await new Promise((r) => setTimeout(r, 10));
    injectParallelFault();
    try {
      const got = runUpdate(c, n, 'heap', 'heap', 21).refs;
      got.forEach((r, k) => expectIdentical(r, want[k]!, `ref ${k}`));
    } catch (e) {
      expect(e).toBeInstanceOf(tf.errors.InternalError);
      expect((e as Error).message).toContain('ApplyAdam');
    }
    expect(sharedPoolReplacements()).toBe(replaced + 2);
  });
});

describe("another module's functions, called over the threads (CallList)", () => {
  // put(dst, v): i32[dst] = v; sum(dst, a, b): i32[dst] = a + b. Each call writes its own word.
  const I32_STORE = 0x36;
  const module = (() => {
    const heap = heapMemory();
    if (heap === null) return null;
    const put = new FunctionBuilder('put', [I32, I32]).emit(get(0), get(1), [I32_STORE, 2, 0]);
    const sum = new FunctionBuilder('sum', [I32, I32, I32]).emit(get(0), get(1), get(2), [I32_ADD], [I32_STORE, 2, 0]);
    const bytes = wasmModule({ pages: 1, maxPages: heap.maxPages, shared: heap.shared }, [put.build(), sum.build()]);
    const mod = new WebAssembly.Module(bytes);
    return sharedModule(bytes, mod, new WebAssembly.Instance(mod, { env: { mem: heap.memory } }));
  })();
  const WORDS = 4;

  /** n calls writing out[i] = 3i (put) or i + 7 (sum), listed; returns the list and the output. */
  function listed(n: number): { calls: CallList; out: Int32Array } {
    const o = heapRegion(n * 4)!;
    const out = new Int32Array(o.buffer, o.byteOffset, n).fill(-1);
    const calls = new CallList(module!, WORDS);
    for (let i = 0; i < n; i++) {
      if (i % 3 === 0) calls.add(1, o.byteOffset + 4 * i, i, 7);
      else calls.add(0, o.byteOffset + 4 * i, 3 * i, 0);
    }
    return { calls, out };
  }
  const expected = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i + 7 : 3 * i));

  it('runs every listed call once, on the calling thread or split over the workers, naming functions by export order', async () => {
    if (module === null || !parallelAvailable()) return expect(fastForcedOff || !parallelAvailable()).toBe(true);
    // (A pool replaced after a worker died starts once the old one has exited.)
    for (let i = 0; i < 100 && parallelThreadsAvailable() && !(await startParallelThreads()); i++) await new Promise((r) => setTimeout(r, 10));
    for (const threaded of [false, true]) {
      const n = 5003;
      const { calls, out } = listed(n);
      const before = parallelThreadedTasks().tasks;
      calls.run(Math.ceil(n / 97), threaded);
      calls.free();
      expect(Array.from(out)).toEqual(Array.from(expected(n)));
      expect(parallelThreadedTasks().tasks - before).toBe(threaded && parallelThreadsAvailable() ? 1 : 0);
    }
  });

  it('runs again the calls of a worker that dies', async () => {
    if (module === null || !parallelThreadsAvailable()) return;
    for (let i = 0; i < 100 && !(await startParallelThreads()); i++) await new Promise((r) => setTimeout(r, 10));
    const n = 4001;
    const { calls, out } = listed(n);
    const replaced = sharedPoolReplacements();
    injectParallelFault();
    calls.run(Math.ceil(n / 50), true);
    calls.free();
    expect(sharedPoolReplacements()).toBe(replaced + 1);
    expect(Array.from(out)).toEqual(Array.from(expected(n)));
  });
});
