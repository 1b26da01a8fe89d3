// The convolution passes parallel.ts splits over its worker pool (im2col by rows, col2im by whole
// images, the direct convolution by images and its filter gradient by taps and channel blocks):
// the same bits on one thread as on several, a worker that dies leaves whole results, and each
// against a naive float64 convolution written here from TensorFlow's definition. Then the kernels
// that take their outputs without a zero fill (Conv2D and its gradients, pooling): a session run
// on input A and then B gives what a fresh session gives on B (stale values of A would show).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { Geom } from '../runtime/window_geometry.js';
import { conv2dBackpropFilter, conv2dBackpropInput, conv2dForward, forwardPath, inputGradPath, type ConvOptions } from '../runtime/cpu/kernels/conv.js';
import {
  injectParallelFault,
  parallelAvailable,
  parallelThreadedTasks,
  parallelThreadsAvailable,
  setParallelBackoff,
  setParallelThreadsEnabled,
  startParallelThreads,
} from '../runtime/cpu/parallel.js';
import { sharedPoolReplacements } from '../runtime/cpu/threads.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import type { Outputs } from '../runtime/cpu/kernels/util.js';
import type { KernelNode } from '../runtime/backend.js';
import { convGeom, inHeap, naiveConv, randFloats } from './conv_reference.js';

beforeAll(async () => {
  setParallelBackoff(false);
  await startParallelThreads();
});
afterAll(() => {
  setParallelBackoff(true);
});

const rand = randFloats;


const geom = convGeom;
const naive = naiveConv;

function expectNear(got: Float32Array, want: Float64Array, what: string): void {
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst / scale, what).toBeLessThan(2e-5);
}

function identical(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

interface PassCase {
  name: string;
  g: Geom;
  OC: number;
  o: ConvOptions;
  /** Operands in a heap region (in place) rather than ordinary arrays (staged). */
  heap: boolean;
  /** Whether some pass is large enough to be split (false: col2im on the calling thread, chunks too small for im2col to split). */
  split?: boolean;
}

// The direct convolution where there is one (not under WEIR_CPU_FAST=0: the geometry's own path then).
const direct: ConvOptions = parallelAvailable() ? { path: 'direct' } : {};

// Each case's passes are large enough to be split (PATCH_THREAD_MIN, DIRECT_THREAD_MIN).
const CASES: PassCase[] = [
  // Deep MNIST's second layer, smaller batch: im2col and col2im, whole images per chunk.
  { name: 'im2col/col2im 4x14x14x32 -> 64, 5x5 same', g: geom(4, 14, 14, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), OC: 64, o: { path: 'im2col' }, heap: true },
  // Chunks of three images and a remainder of one; staged operands.
  { name: 'col2im in chunks of 3 images', g: geom(7, 18, 18, 32, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]), OC: 32, o: { path: 'im2col', inputPath: 'col2im', chunkFloats: 3 * 324 * 288 }, heap: false },
  // A chunk holds less than an image: col2im on the calling thread over a zeroed padded input.
  { name: 'col2im in chunks of a third of an image', g: geom(3, 12, 12, 32, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]), OC: 32, o: { path: 'im2col', inputPath: 'col2im', chunkFloats: 48 * 288 }, heap: true, split: false },
  // Strided and dilated along the width (patch rows of KW runs of C); rows past every window get no gradient.
  { name: 'strided, dilated, rows past every window', g: geom(40, 14, 12, 20, 3, 2, [2, 1], [1, 2], [0, 0, 1, 0]), OC: 40, o: { path: 'im2col', inputPath: 'col2im' }, heap: true },
  // Deep MNIST's first layer: direct, in place.
  { name: 'direct 16x28x28x1 -> 32, 5x5 same', g: geom(16, 28, 28, 1, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), OC: 32, o: {}, heap: true },
  // Unpadded (the input read in place where it is in the heap) with output channels not a multiple of 16.
  { name: 'direct 12x20x20x3 -> 20, 3x3 valid', g: geom(12, 20, 20, 3, 3, 3, [1, 1], [1, 1], [0, 0, 0, 0]), OC: 20, o: direct, heap: true },
  // Fewer images than twice the threads: the forward pass split by output rows (the last block of an image shorter).
  { name: 'direct 1x61x40x3 -> 32, 3x3 same, by rows', g: geom(1, 61, 40, 3, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]), OC: 32, o: direct, heap: true },
  { name: 'direct 3x30x30x2 -> 48, 5x5 strided, by rows', g: geom(3, 30, 30, 2, 5, 5, [2, 2], [1, 1], [2, 2, 2, 2]), OC: 48, o: direct, heap: false },
  { name: 'direct 12x20x20x3 -> 20, 3x3 valid, staged', g: geom(12, 20, 20, 3, 3, 3, [1, 1], [1, 1], [0, 0, 0, 0]), OC: 20, o: direct, heap: false },
];

function passes(c: PassCase, x: Float32Array, f: Float32Array, dy: Float32Array): Float32Array[] {
  const y = c.heap ? inHeap(dy.length) : new Float32Array(dy.length);
  const dx = c.heap ? inHeap(x.length) : new Float32Array(x.length);
  const df = new Float32Array(f.length);
  // Garbage first: every pass overwrites its output.
  y.fill(Number.NaN);
  dx.fill(Number.NaN);
  df.fill(Number.NaN);
  conv2dForward(c.g, c.OC, x, f, y, c.o);
  conv2dBackpropInput(c.g, c.OC, f, dy, dx, c.o);
  conv2dBackpropFilter(c.g, c.OC, x, dy, df, c.o);
  return [y, dx, df];
}

function operands(c: PassCase): { x: Float32Array; f: Float32Array; dy: Float32Array } {
  const { g, OC } = c;
  const nx = g.N * g.H * g.W * g.C;
  const ny = g.N * g.OH * g.OW * OC;
  return {
    x: rand(nx, 1, c.heap ? inHeap(nx) : undefined),
    f: rand(g.KH * g.KW * g.C * OC, 2),
    dy: rand(ny, 3, c.heap ? inHeap(ny) : undefined),
  };
}

describe('convolution passes split over the shared worker threads', () => {
  it('takes the paths the cases name', () => {
    // (Its own path is the implicit GEMM, which builds no patch rows: the case forces im2col.)
    expect(forwardPath(CASES[0]!.g, 64)).toBe(parallelAvailable() ? 'implicit' : 'im2col');
    expect(inputGradPath(CASES[0]!.g, 64)).toBe(parallelAvailable() ? 'col2im' : 'flipped');
    expect(forwardPath(CASES[4]!.g, 32)).toBe(parallelAvailable() ? 'direct' : 'im2col');
  });

  for (const c of CASES) {
    it(`${c.name}: against float64 sums, and bit for bit on one thread as on several`, () => {
      const { x, f, dy } = operands(c);
      const ref = naive(c.g, c.OC, x, f, dy);
      const before = parallelThreadedTasks().tasks;
      const several = passes(c, x, f, dy);
      if (parallelThreadsAvailable() && c.split !== false) expect(parallelThreadedTasks().tasks, 'split tasks').toBeGreaterThan(before);
      const prev = setParallelThreadsEnabled(false);
      let one: Float32Array[];
      try {
        one = passes(c, x, f, dy);
      } finally {
        setParallelThreadsEnabled(prev);
      }
      ['y', 'dx', 'df'].forEach((what, k) => {
        expectNear(several[k]!, [ref.y, ref.dx, ref.df][k]!, what);
        expect(identical(several[k]!, one[k]!), `${what}: several threads against one`).toBe(true);
      });
    });
  }

  it('gives whole results when a worker dies during col2im or the direct filter gradient (its blocks run again)', async () => {
    if (!parallelThreadsAvailable()) return expect(parallelThreadsAvailable() && process.env.WEIR_CPU_FAST !== '0').toBe(false);
    for (const c of [CASES[0]!, CASES[4]!]) {
      const { x, f, dy } = operands(c);
      const prev = setParallelThreadsEnabled(false);
      let want: Float32Array[];
      try {
        want = passes(c, x, f, dy);
      } finally {
        setParallelThreadsEnabled(prev);
      }
      // A new pool starts once a replaced one has exited.
      for (let i = 0; i < 100 && !(await startParallelThreads()); i++) await new Promise((r) => setTimeout(r, 10));
      const dx = inHeap(x.length).fill(Number.NaN);
      const df = new Float32Array(f.length).fill(Number.NaN);
      const replaced = sharedPoolReplacements();
      injectParallelFault();
      if (c === CASES[0]) conv2dBackpropInput(c.g, c.OC, f, dy, dx, c.o);
      else conv2dBackpropFilter(c.g, c.OC, x, dy, df, c.o);
      expect(sharedPoolReplacements(), c.name).toBe(replaced + 1);
      if (c === CASES[0]) expect(identical(dx, want[1]!), 'dx after a worker died').toBe(true);
      else expect(identical(df, want[2]!), 'df after a worker died').toBe(true);
    }
  });
});

// ---- outputs without a zero fill, through sessions ----

interface GraphCase {
  name: string;
  xShape: number[];
  build: (x: tf.Tensor) => tf.Tensor[];
}

/** A constant of t's (static) shape with a distinct weight per element. */
function weights(t: tf.Tensor, seed: number): tf.Tensor {
  const shape = (t.shape ?? []).map((d) => d ?? 1);
  return tf.constant(new tf.NDArray(rand(shape.reduce((p, d) => p * d, 1), seed), shape));
}

const nhwcConv = (C: number, OC: number, K: number, strides: number[], padding: 'SAME' | 'VALID', seed: number) => (x: tf.Tensor): tf.Tensor[] => {
  const f = tf.constant(new tf.NDArray(rand(K * K * C * OC, seed), [K, K, C, OC]));
  const y = tf.nn.conv2d(x, f, strides, padding);
  // A loss weighting each output differently, so every gradient element is distinct.
  const w = weights(y, seed + 1);
  const [dx, df] = tf.gradients(tf.reduceSum(tf.multiply(y, w)), [x, f]);
  return [y, dx!, df!];
};

const pools = (k: number, s: number, padding: 'SAME' | 'VALID') => (x: tf.Tensor): tf.Tensor[] => {
  const m = tf.nn.maxPool(x, [1, k, k, 1], [1, s, s, 1], padding);
  const a = tf.nn.avgPool(x, [1, k, k, 1], [1, s, s, 1], padding);
  const wm = weights(m, 7);
  const [dxm] = tf.gradients(tf.reduceSum(tf.multiply(m, wm)), [x]);
  const [dxa] = tf.gradients(tf.reduceSum(tf.multiply(a, wm)), [x]);
  // MaxPoolGradGrad: the gradient of MaxPoolGrad with respect to its output gradient.
  const [ggm] = tf.gradients(tf.reduceSum(tf.multiply(dxm!, x)), [wm]);
  return [m, a, dxm!, dxa!, ggm!];
};

const GRAPH_CASES: GraphCase[] = [
  { name: 'direct (1 input channel)', xShape: [8, 28, 28, 1], build: nhwcConv(1, 32, 5, [1, 1, 1, 1], 'SAME', 11) },
  { name: 'im2col and col2im', xShape: [4, 14, 14, 32], build: nhwcConv(32, 64, 5, [1, 1, 1, 1], 'SAME', 12) },
  { name: 'flipped input gradient', xShape: [4, 12, 12, 16], build: nhwcConv(16, 16, 3, [1, 1, 1, 1], 'SAME', 13) },
  { name: 'strided col2im with rows past every window', xShape: [3, 13, 13, 8], build: nhwcConv(8, 24, 2, [1, 2, 2, 1], 'VALID', 14) },
  { name: '1x1 (the input is the patch matrix)', xShape: [4, 9, 9, 24], build: nhwcConv(24, 16, 1, [1, 1, 1, 1], 'VALID', 15) },
  {
    name: 'NCHW',
    xShape: [2, 6, 9, 9],
    build: (x) => {
      const f = tf.constant(new tf.NDArray(rand(3 * 3 * 6 * 8, 16), [3, 3, 6, 8]));
      const y = tf.nn.conv2d(x, f, [1, 1, 1, 1], 'SAME', { dataFormat: 'NCHW' });
      const [dx, df] = tf.gradients(tf.reduceSum(tf.multiply(y, y)), [x, f]);
      return [y, dx!, df!];
    },
  },
  {
    name: 'depthwise',
    xShape: [2, 10, 10, 6],
    build: (x) => {
      const f = tf.constant(new tf.NDArray(rand(3 * 3 * 6 * 2, 17), [3, 3, 6, 2]));
      const y = tf.nn.depthwiseConv2d(x, f, [1, 1, 1, 1], 'SAME');
      const [dx, df] = tf.gradients(tf.reduceSum(tf.multiply(y, y)), [x, f]);
      return [y, dx!, df!];
    },
  },
  { name: 'pooling, SIMD (32 channels)', xShape: [8, 14, 14, 32], build: pools(2, 2, 'SAME') },
  { name: 'pooling, overlapping windows with padding', xShape: [4, 15, 15, 8], build: pools(3, 2, 'SAME') },
  { name: 'pooling, TypeScript loops (3 channels)', xShape: [4, 11, 11, 3], build: pools(3, 2, 'VALID') },
];

/** Outputs as a dirty arena would hand them out: zeros where the kernel asks for them, NaN where it says it overwrites every element. */
const POISONED: Outputs = {
  alloc: (dtype, shape) => new tf.NDArray(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, dtype),
  allocOverwritten: (dtype, shape) => new tf.NDArray(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(Number.NaN), shape, dtype),
};

const KERNEL_TYPES = new Set(['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'MaxPool', 'AvgPool', 'MaxPoolGrad', 'AvgPoolGrad', 'MaxPoolGradGrad']);

describe('kernels whose outputs skip the zero fill leave nothing of an earlier run', () => {
  for (const c of GRAPH_CASES) {
    it(c.name, async () => {
      const graph = new tf.Graph();
      const { x, outs } = graph.asDefault(() => {
        const x = tf.placeholder('float32', c.xShape, 'x');
        return { x, outs: c.build(x) };
      });
      const n = c.xShape.reduce((a, b) => a * b, 1);
      const a = new tf.NDArray(rand(n, 101).map((v) => v * 5), c.xShape);
      const b = new tf.NDArray(rand(n, 202), c.xShape);
      const reused = new tf.Session({ graph });
      const fresh = new tf.Session({ graph });
      try {
        await reused.run(outs, [[x, a]]);
        const got = (await reused.run(outs, [[x, b]])) as tf.NDArray[];
        const want = (await fresh.run(outs, [[x, b]])) as tf.NDArray[];
        got.forEach((g, k) => expect(identical(g.data as Float32Array, want[k]!.data as Float32Array), `output ${k} (${outs[k]!.op.type})`).toBe(true));
        // Each convolution and pooling kernel again on the same inputs, its outputs handed out dirty.
        const ops = graph.getOperations().filter((op) => KERNEL_TYPES.has(op.type));
        const tensors = ops.flatMap((op) => [...op.inputs, op.outputs[0]!]);
        const values = (await fresh.run(tensors, [[x, b]])) as tf.NDArray[];
        let at = 0;
        for (const op of ops) {
          const inputs = values.slice(at, at + op.inputs.length);
          const expected = values[at + op.inputs.length]!;
          at += op.inputs.length + 1;
          const node = { name: op.name, type: op.type, attrs: op.attrs, outputs: [], inputDTypes: [], inputShapes: [], refVars: [] } as unknown as KernelNode;
          const [out] = getCpuKernel(op.type)!(inputs, node, {} as never, POISONED);
          expect(identical(out!.data as Float32Array, expected.data as Float32Array), `${op.type} with its outputs handed out dirty`).toBe(true);
        }
        expect(ops.length).toBeGreaterThan(2);
      } finally {
        reused.close();
        fresh.close();
      }
    });
  }
});
