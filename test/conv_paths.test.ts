// Every path the CPU convolution kernels choose between, forced one at a time, against a naive
// convolution written from TensorFlow's definition, over odd shapes, strides, dilations and padding.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { Geom } from '../runtime/window_geometry.js';
import { conv2dBackpropFilter, conv2dBackpropInput, conv2dForward, filterGradPath, forwardPath, inputGradPath, winogradTile, patchSource, wasmIm2colAvailable, type FilterGradOrder, type InputGradPath, type PatchSource } from '../runtime/cpu/kernels/conv.js';
import { elementwiseSimdAvailable, setElementwiseSimdEnabled } from '../runtime/cpu/simd.js';
import { simdAvailable } from '../runtime/cpu/gemm.js';
import { heapRegion } from '../runtime/cpu/heap.js';
import { winogradSimdAvailable } from '../runtime/cpu/kernels/winograd.js';
import { run } from './helpers.js';
import { convGeom, naiveConv, randFloats } from './conv_reference.js';

const rand = (n: number, seed: number): Float32Array => randFloats(n, seed);
const geom = convGeom;
const naive = naiveConv;

function expectNear(actual: Float32Array, expected: Float64Array, what: string): void {
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
  expect(worst, `${what}: worst relative error at ${at}: ${actual[at]} vs ${expected[at]}`).toBeLessThan(1e-5);
}

interface Case {
  N: number;
  H: number;
  W: number;
  C: number;
  OC: number;
  K: [number, number];
  s: [number, number];
  d: [number, number];
  pad: [number, number, number, number];
}

const CASES: Case[] = [
  // The Deep MNIST layers, shrunk: 1 input channel, then many.
  { N: 2, H: 9, W: 9, C: 1, OC: 8, K: [5, 5], s: [1, 1], d: [1, 1], pad: [2, 2, 2, 2] },
  { N: 2, H: 7, W: 7, C: 6, OC: 5, K: [5, 5], s: [1, 1], d: [1, 1], pad: [2, 2, 2, 2] },
  // VALID, odd sizes, non-square filters.
  { N: 1, H: 8, W: 11, C: 3, OC: 4, K: [3, 2], s: [1, 1], d: [1, 1], pad: [0, 0, 0, 0] },
  // Asymmetric explicit padding, dilations, padding larger than the dilated filter reach on one side.
  { N: 2, H: 7, W: 6, C: 2, OC: 3, K: [3, 3], s: [1, 1], d: [2, 1], pad: [1, 3, 0, 2] },
  { N: 1, H: 6, W: 6, C: 3, OC: 2, K: [2, 2], s: [1, 1], d: [1, 1], pad: [3, 0, 2, 1] },
  { N: 1, H: 9, W: 7, C: 2, OC: 3, K: [3, 3], s: [1, 1], d: [2, 3], pad: [2, 2, 3, 3] },
  // Strided (col2im is the only input-gradient path there).
  { N: 2, H: 9, W: 8, C: 3, OC: 4, K: [3, 3], s: [2, 2], d: [1, 1], pad: [1, 1, 1, 0] },
  { N: 1, H: 10, W: 7, C: 2, OC: 5, K: [4, 3], s: [3, 2], d: [1, 2], pad: [0, 2, 1, 1] },
  // 1x1 (pointwise) and a filter as large as the input.
  { N: 2, H: 4, W: 5, C: 7, OC: 3, K: [1, 1], s: [1, 1], d: [1, 1], pad: [0, 0, 0, 0] },
  { N: 1, H: 4, W: 4, C: 2, OC: 3, K: [4, 4], s: [1, 1], d: [1, 1], pad: [0, 0, 0, 0] },
];

const label = (c: Case): string => `x ${c.N}x${c.H}x${c.W}x${c.C}, filter ${c.K.join('x')}x${c.C}x${c.OC}, strides ${c.s}, dilations ${c.d}, pads ${c.pad}`;

describe('CPU convolution paths against a naive convolution', () => {
  for (const [i, c] of CASES.entries()) {
    it(label(c), () => {
      const g = geom(c.N, c.H, c.W, c.C, c.K[0], c.K[1], c.s, c.d, c.pad);
      const x = rand(c.N * c.H * c.W * c.C, 10 + i);
      const f = rand(c.K[0] * c.K[1] * c.C * c.OC, 20 + i);
      const dy = rand(c.N * g.OH * g.OW * c.OC, 30 + i);
      const ref = naive(g, c.OC, x, f, dy);

      const K = c.K[0] * c.K[1] * c.C;
      const region = heapRegion(x.length * 4);
      const inHeap = region === null ? null : new Float32Array(region.buffer, region.byteOffset, x.length);
      inHeap?.set(x);
      // The default chunking (one chunk at these sizes), and chunks of 3 patch rows (a short last one).
      // Patch rows built by the WebAssembly kernel (where there is one) and by the TypeScript loops.
      for (const im2col of ['wasm', 'typescript'] as const) {
        for (const chunkFloats of [undefined, 3 * K]) {
          const chunks = chunkFloats === undefined ? 'one chunk' : 'chunks of 3 rows';
          for (const source of ['direct', 'padded'] as PatchSource[]) {
            const y = new Float32Array(ref.y.length).fill(NaN);
            conv2dForward(g, c.OC, x, f, y, { path: 'im2col', source, chunkFloats, im2col });
            expectNear(y, ref.y, `forward (${im2col} patches read ${source}, ${chunks})`);
            // An input in the heap is read where it is (where the geometry lets every tap inside it).
            if (inHeap !== null) {
              y.fill(NaN);
              conv2dForward(g, c.OC, inHeap, f, y, { path: 'im2col', source, chunkFloats, im2col });
              expectNear(y, ref.y, `forward (${im2col} patches read ${source} from the heap, ${chunks})`);
            }

            for (const order of ['dyT', 'patchesT'] as FilterGradOrder[]) {
              const df = new Float32Array(f.length).fill(NaN);
              conv2dBackpropFilter(g, c.OC, x, dy, df, { path: 'im2col', source, order, chunkFloats, im2col });
              expectNear(df, ref.df, `filter gradient (${im2col} patches read ${source}, ${order}, ${chunks})`);
            }
          }
        }
      }

      if (elementwiseSimdAvailable()) {
        const y = new Float32Array(ref.y.length).fill(NaN);
        conv2dForward(g, c.OC, x, f, y, { path: 'direct' });
        expectNear(y, ref.y, 'forward (direct)');
        const df = new Float32Array(f.length).fill(NaN);
        conv2dBackpropFilter(g, c.OC, x, dy, df, { path: 'direct' });
        expectNear(df, ref.df, 'filter gradient (direct)');
      }

      const paths: InputGradPath[] = g.sH === 1 && g.sW === 1 ? ['col2im', 'flipped'] : ['col2im'];
      const byPath = paths.map((inputPath) => {
        const dx = new Float32Array(x.length);
        conv2dBackpropInput(g, c.OC, f, dy, dx, { inputPath });
        expectNear(dx, ref.dx, `input gradient (${inputPath})`);
        const chunked = new Float32Array(x.length);
        conv2dBackpropInput(g, c.OC, f, dy, chunked, { inputPath, chunkFloats: 3 * (inputPath === 'flipped' ? c.K[0] * c.K[1] * c.OC : K), im2col: 'typescript' });
        expectNear(chunked, ref.dx, `input gradient (${inputPath}, TypeScript patches, chunks of 3 rows)`);
        return dx;
      });
      // The paths agree with each other within float32 rounding of differently ordered sums.
      if (byPath.length === 2) expectNear(byPath[1]!, Float64Array.from(byPath[0]!), 'flipped vs col2im');
    });
  }

  it('computes by the implicit GEMM where it applies, else directly for few input channels or few output pixels into few channels, else by im2col', () => {
    const direct = elementwiseSimdAvailable() ? 'direct' : 'im2col';
    const gemm = wasmIm2colAvailable() ? 'implicit' : 'im2col';
    // One input channel (segments of 5 floats), few output pixels into few channels with segments of 3.
    expect(forwardPath(geom(8, 28, 28, 1, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 32)).toBe(direct);
    expect(filterGradPath(geom(8, 28, 28, 1, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 32)).toBe(direct);
    expect(forwardPath(geom(1, 14, 14, 3, 1, 5, [1, 1], [1, 1], [0, 0, 2, 2]), 32)).toBe(direct);
    // Segments of 20 floats: the forward pass implicit, the filter gradient (which needs a multiple of 8) direct.
    expect(forwardPath(geom(16, 28, 28, 4, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 32)).toBe(gemm);
    expect(filterGradPath(geom(16, 28, 28, 4, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 32)).toBe(direct);
    expect(forwardPath(geom(1, 14, 14, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 32)).toBe(gemm);
    expect(filterGradPath(geom(1, 14, 14, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 32)).toBe(gemm);
    expect(forwardPath(geom(1, 14, 14, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 64)).toBe(gemm);
    expect(forwardPath(geom(8, 28, 28, 32, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 64)).toBe(gemm);
    // Segments of 3 floats (the implicit GEMM packs runs of 4), and 1x1 convolutions (already a GEMM), stay on im2col.
    expect(forwardPath(geom(1, 4, 4, 1, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]), 2)).toBe('im2col');
    expect(forwardPath(geom(1, 28, 28, 1, 1, 1, [1, 1], [1, 1], [0, 0, 0, 0]), 32)).toBe('im2col');
  });

  it('computes 3x3 stride-1 convolutions with enough channels and tiles by Winograd where its WebAssembly transforms are', () => {
    const winograd = winogradSimdAvailable() ? 'winograd' : 'im2col';
    const same3x3 = (N: number, H: number, C: number): Geom => geom(N, H, H, C, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]);
    // A VGG-style block (the conv3x3_train_step benchmark), batch-1 images, 8 channels into 64, and valid padding.
    expect(forwardPath(same3x3(32, 32, 64), 64)).toBe(winograd);
    expect(forwardPath(same3x3(1, 32, 32), 32)).toBe(winograd);
    expect(forwardPath(same3x3(8, 32, 8), 64)).toBe(winograd);
    expect(forwardPath(geom(4, 30, 30, 64, 3, 3, [1, 1], [1, 1], [0, 0, 0, 0]), 64)).toBe(winograd);
    // Its input gradient is the flipped convolution (by Winograd), also from 64 output channels, where
    // the WebAssembly col2im would win over the flipped im2col; and 8 channels into 64 (too few for the flipped im2col).
    expect(inputGradPath(same3x3(32, 32, 64), 64)).toBe('flipped');
    expect(inputGradPath(same3x3(8, 32, 8), 64)).toBe(winogradSimdAvailable() ? 'flipped' : 'col2im');
    // F(4x4,3x3) from 16x16 outputs and 2^17 multiply-adds per plane of its GEMMs, else F(2x2,3x3).
    expect(winogradTile(same3x3(32, 32, 64), 64)).toBe(4);
    expect(winogradTile(same3x3(2, 16, 64), 64)).toBe(4);
    expect(winogradTile(same3x3(1, 16, 64), 64)).toBe(2);
    expect(winogradTile(same3x3(16, 8, 256), 256)).toBe(2);
    // WEIR_CPU_WINOGRAD=2 keeps to F(2x2,3x3) (exact constants), =0 to the GEMM paths.
    const saved = process.env.WEIR_CPU_WINOGRAD;
    try {
      process.env.WEIR_CPU_WINOGRAD = '2';
      expect(winogradTile(same3x3(32, 32, 64), 64)).toBe(2);
      expect(forwardPath(same3x3(32, 32, 64), 64)).toBe(winograd);
      process.env.WEIR_CPU_WINOGRAD = '0';
      expect(forwardPath(same3x3(32, 32, 64), 64)).toBe(wasmIm2colAvailable() ? 'implicit' : 'im2col');
      expect(filterGradPath(same3x3(32, 32, 64), 64)).not.toBe('winograd');
    } finally {
      if (saved === undefined) delete process.env.WEIR_CPU_WINOGRAD;
      else process.env.WEIR_CPU_WINOGRAD = saved;
    }
    // Too little work for its 16 GEMMs, too few channels, or not 3x3 at stride 1 undilated: the other paths.
    expect(forwardPath(same3x3(1, 8, 32), 32)).not.toBe('winograd');
    expect(forwardPath(same3x3(1, 16, 16), 16)).not.toBe('winograd');
    expect(forwardPath(same3x3(8, 32, 3), 64)).not.toBe('winograd');
    expect(forwardPath(same3x3(8, 32, 8), 8)).not.toBe('winograd');
    const gemm = wasmIm2colAvailable() ? 'implicit' : 'im2col';
    expect(forwardPath(geom(8, 32, 32, 64, 3, 3, [2, 2], [1, 1], [1, 1, 1, 1]), 64)).toBe(gemm);
    expect(forwardPath(geom(8, 32, 32, 64, 3, 3, [1, 1], [2, 2], [2, 2, 2, 2]), 64)).toBe(gemm);
    expect(forwardPath(geom(8, 32, 32, 64, 5, 5, [1, 1], [1, 1], [2, 2, 2, 2]), 64)).toBe(gemm);
  });

  it('builds patch rows in WebAssembly wherever the GEMM has its SIMD kernels', () => {
    expect(wasmIm2colAvailable()).toBe(simdAvailable());
  });

  it('reads patches from a padded copy only where windows hang over an edge', () => {
    expect(patchSource(geom(1, 8, 8, 3, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]))).toBe('padded');
    expect(patchSource(geom(1, 8, 8, 3, 3, 3, [1, 1], [1, 1], [0, 1, 0, 0]))).toBe('padded');
    expect(patchSource(geom(1, 8, 8, 3, 3, 3, [2, 2], [1, 1], [0, 0, 0, 0]))).toBe('direct');
  });

  it('picks the flipped input gradient at stride 1 with many input channels and few output channels (any output channels without the WebAssembly col2im), else col2im', () => {
    expect(inputGradPath(geom(1, 8, 8, 32, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]), 16)).toBe('flipped');
    expect(inputGradPath(geom(1, 8, 8, 32, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]), 64)).toBe(wasmIm2colAvailable() ? 'col2im' : 'flipped');
    expect(inputGradPath(geom(1, 8, 8, 32, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]), 64, { im2col: 'typescript' })).toBe('flipped');
    expect(inputGradPath(geom(1, 8, 8, 3, 3, 3, [1, 1], [1, 1], [1, 1, 1, 1]), 16)).toBe('col2im');
    expect(inputGradPath(geom(1, 8, 8, 32, 3, 3, [2, 1], [1, 1], [1, 1, 1, 1]), 16)).toBe('col2im');
  });
});

describe('Conv2D kernels through a session, against the naive convolution', () => {
  // Explicit asymmetric padding with dilation, as a graph: the kernels' own path choice (the
  // flipped input gradient into 4 channels, col2im into 32 where it has the WebAssembly kernel).
  for (const OC of [4, 32]) it(`forward, input and filter gradients (the input gradient by the ${inputGradPath(geom(2, 7, 6, 16, 3, 2, [1, 1], [2, 1], [1, 2, 0, 1]), OC)} path)`, async () => {
    const c: Case = { N: 2, H: 7, W: 6, C: 16, OC, K: [3, 2], s: [1, 1], d: [2, 1], pad: [1, 2, 0, 1] };
    const g = geom(c.N, c.H, c.W, c.C, c.K[0], c.K[1], c.s, c.d, c.pad);
    const xv = rand(c.N * c.H * c.W * c.C, 1);
    const fv = rand(c.K[0] * c.K[1] * c.C * c.OC, 2);
    const dyv = rand(c.N * g.OH * g.OW * c.OC, 3);
    const ref = naive(g, c.OC, xv, fv, dyv);
    const graph = new tf.Graph();
    const m = graph.asDefault(() => {
      const x = tf.placeholder('float32', [c.N, c.H, c.W, c.C], 'x');
      const f = tf.placeholder('float32', [...c.K, c.C, c.OC], 'f');
      const dy = tf.placeholder('float32', [c.N, g.OH, g.OW, c.OC], 'dy');
      const padding = [[0, 0], [c.pad[0], c.pad[1]], [c.pad[2], c.pad[3]], [0, 0]] as [number, number][];
      const y = tf.nn.conv2d(x, f, [1, 1, 1, 1], padding, { dilations: [1, ...c.d, 1] });
      const [dx, df] = tf.gradients(y, [x, f], dy);
      return { x, f, dy, y, dx: dx!, df: df! };
    });
    const [y, dx, df] = (await run([m.y, m.dx, m.df], [
      [m.x, new tf.NDArray(xv, [c.N, c.H, c.W, c.C])],
      [m.f, new tf.NDArray(fv, [...c.K, c.C, c.OC])],
      [m.dy, new tf.NDArray(dyv, [c.N, g.OH, g.OW, c.OC])],
    ], graph)) as tf.NDArray[];
    expectNear(y!.data as Float32Array, ref.y, 'Conv2D');
    expectNear(dx!.data as Float32Array, ref.dx, 'Conv2DBackpropInput');
    expectNear(df!.data as Float32Array, ref.df, 'Conv2DBackpropFilter');
  });
});

describe('BiasAddGrad (the bias gradient of a convolution)', () => {
  // Channels last: column sums. The SIMD path must give the TypeScript loop's sums bit for bit.
  for (const [rows, cols] of [[4096, 1], [1500, 3], [1030, 5], [700, 32], [333, 33]] as const) {
    it(`${rows} rows of ${cols} channels, with and without SIMD, against float64 sums`, async () => {
      const x = rand(rows * cols, rows + cols);
      const graph = new tf.Graph();
      const m = graph.asDefault(() => {
        const g = tf.placeholder('float32', [rows, cols], 'g');
        return { g, db: graph.createOp('BiasAddGrad', [g], { T: 'float32', data_format: 'NHWC' }).outputs[0]! };
      });
      const feeds: [tf.Tensor, tf.NDArray][] = [[m.g, new tf.NDArray(x, [rows, cols])]];
      const previous = setElementwiseSimdEnabled(true);
      let withSimd: tf.NDArray;
      let without: tf.NDArray;
      try {
        withSimd = (await run(m.db, feeds, graph)) as tf.NDArray;
        setElementwiseSimdEnabled(false);
        without = (await run(m.db, feeds, graph)) as tf.NDArray;
      } finally {
        setElementwiseSimdEnabled(previous);
      }
      const expected = new Float64Array(cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) expected[j]! += x[i * cols + j]!;
      expect(Array.from(withSimd.data as Float32Array)).toEqual(Array.from(Float32Array.from(expected)));
      expect(Array.from(without.data as Float32Array)).toEqual(Array.from(withSimd.data as Float32Array));
    });
  }
});
