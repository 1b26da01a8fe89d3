import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { windowedOutputSize } from '../ops/semantics/window.js';
import { setSimdEnabled, sgemm, simdAvailable } from '../runtime/cpu/gemm.js';
import { expectClose, fromTfjs, randomArray, rng, run, tfjs } from './helpers.js';

type Tfjs = Awaited<ReturnType<typeof tfjs>>;
type TfjsTensor4D = ReturnType<Tfjs['tensor4d']>;
type TfjsTensor = ReturnType<Tfjs['tensor']>;
type Format = 'NHWC' | 'NCHW';
type Pad = 'SAME' | 'VALID';

let gradientsRegistered: Promise<unknown> | undefined;
/** tfjs with its gradient functions registered (tf.grads needs them). */
async function oracle(): Promise<Tfjs> {
  const t = await tfjs();
  gradientsRegistered ??= import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await gradientsRegistered;
  return t;
}

function build<T>(fn: () => T): T {
  return new tf.Graph().asDefault(fn);
}

/** Runs outputs built from placeholders holding `values`. */
async function runWith(values: tf.NDArray[], make: (...xs: tf.Tensor[]) => tf.Tensor[]): Promise<tf.NDArray[]> {
  const { outs, phs } = build(() => {
    const phs = values.map((v, i) => tf.placeholder(v.dtype, v.shape, `x${i}`));
    return { outs: make(...phs), phs };
  });
  return (await run(outs, phs.map((p, i) => [p, values[i]!] as const))) as tf.NDArray[];
}

/** NHWC <-> NCHW for test data. */
function toNCHW(a: tf.NDArray): tf.NDArray {
  const [N, H, W, C] = a.shape as [number, number, number, number];
  const src = a.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) out[((n * C + c) * H + h) * W + w] = src[((n * H + h) * W + w) * C + c]!;
  return new tf.NDArray(out, [N, C, H, W]);
}

function nhwcShapeToNCHW(s: readonly number[]): number[] {
  return [s[0]!, s[3]!, s[1]!, s[2]!];
}

function t4(t: Tfjs, a: tf.NDArray): TfjsTensor4D {
  return t.tensor4d(a.data as Float32Array, a.shape as [number, number, number, number]);
}

async function asNDArray(x: { shape: number[]; dtype: string; data(): Promise<ArrayLike<number>> }, format: Format): Promise<tf.NDArray> {
  const a = await fromTfjs(x);
  return format === 'NCHW' ? toNCHW(a) : a;
}

/** Values that are pairwise distinct by at least 1/(4n), so max pooling has no ties. */
function distinctArray(shape: number[], seed: number): tf.NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return new tf.NDArray(Float32Array.from(idx, (v) => v / n - 0.5), shape);
}

/** Inserts d-1 zeros between filter taps: a dilated conv is a plain conv with this filter. */
function dilateFilter(f: tf.NDArray, [dH, dW]: [number, number]): tf.NDArray {
  const [KH, KW, C, M] = f.shape as [number, number, number, number];
  const EH = (KH - 1) * dH + 1;
  const EW = (KW - 1) * dW + 1;
  const out = new Float32Array(EH * EW * C * M);
  const src = f.data as Float32Array;
  for (let kh = 0; kh < KH; kh++)
    for (let kw = 0; kw < KW; kw++)
      for (let i = 0; i < C * M; i++) out[((kh * dH) * EW + kw * dW) * C * M + i] = src[(kh * KW + kw) * C * M + i]!;
  return new tf.NDArray(out, [EH, EW, C, M]);
}

/** The taps of a dilated filter's gradient that belong to real filter entries. */
function undilateFilter(g: tf.NDArray, [dH, dW]: [number, number], KH: number, KW: number): tf.NDArray {
  const [, EW, C, M] = g.shape as [number, number, number, number];
  const out = new Float32Array(KH * KW * C * M);
  const src = g.data as Float32Array;
  for (let kh = 0; kh < KH; kh++)
    for (let kw = 0; kw < KW; kw++)
      for (let i = 0; i < C * M; i++) out[(kh * KW + kw) * C * M + i] = src[((kh * dH) * EW + kw * dW) * C * M + i]!;
  return new tf.NDArray(out, [KH, KW, C, M]);
}

// ---- GEMM ----

function naiveGemm(
  tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float64Array, ldc: number,
): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (tA ? A[k * lda + i]! : A[i * lda + k]!) * (tB ? B[j * ldb + k]! : B[k * ldb + j]!);
      C[i * ldc + j] = alpha * s + (beta === 0 ? 0 : beta * C[i * ldc + j]!);
    }
  }
}

function randomFloats(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}

function checkGemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, beta: number, pad = 0, seed = 1): void {
  const lda = (tA ? M : K) + pad;
  const ldb = (tB ? K : N) + pad;
  const ldc = N + pad;
  const A = randomFloats((tA ? K : M) * lda, seed);
  const B = randomFloats((tB ? N : K) * ldb, seed + 1);
  const C0 = randomFloats(M * ldc, seed + 2);
  if (beta === 0) C0.fill(NaN);
  const C = C0.slice();
  const expected = Float64Array.from(C0);
  sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  naiveGemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, expected, ldc);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < ldc; j++) {
      const got = C[i * ldc + j]!;
      // Padding columns beyond N must be left alone.
      const want = j < N ? expected[i * ldc + j]! : C0[i * ldc + j]!;
      const tol = 1e-5 * (K + 1) + 1e-5 * Math.abs(want);
      if (!(Math.abs(got - want) <= tol || (Number.isNaN(want) && Number.isNaN(got)))) {
        throw new Error(`sgemm(${tA}, ${tB}, M=${M}, N=${N}, K=${K}, alpha=${alpha}, beta=${beta}) C[${i},${j}] = ${got}, expected ${want}`);
      }
    }
  }
}

// Both micro-kernels (WebAssembly SIMD where available, and the TypeScript one) run the same checks.
for (const simd of simdAvailable() ? [true, false] : [false]) {
  describe(`sgemm (${simd ? 'WebAssembly SIMD' : 'TypeScript'} micro-kernel)`, () => {
    let previous = true;
    beforeAll(() => {
      previous = setSimdEnabled(simd);
    });
    afterAll(() => {
      setSimdEnabled(previous);
    });
    const sizes = [1, 3, 17, 33, 100];
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        it(`matches a naive triple loop for all odd sizes (transA=${tA}, transB=${tB})`, () => {
          let seed = 1;
          for (const M of sizes) for (const N of sizes) for (const K of sizes) checkGemm(tA, tB, M, N, K, 1, 0, 0, seed++);
        });
      }
    }

    it('applies alpha and beta (beta = 0 overwrites NaN in C; beta = 1 accumulates)', () => {
      for (const [alpha, beta] of [[1, 1], [0.5, 0], [-2, 0.25], [0, 3], [1.5, -1]] as const) {
        for (const tA of [false, true]) for (const tB of [false, true]) checkGemm(tA, tB, 17, 33, 3, alpha, beta);
      }
    });

    it('respects leading dimensions larger than the matrix (sub-matrices)', () => {
      for (const tA of [false, true]) for (const tB of [false, true]) checkGemm(tA, tB, 33, 17, 100, 1, 0.5, 5);
    });

    it('handles blocks larger than its cache blocking (K > 512, M > 128, N > 2048)', () => {
      checkGemm(false, false, 130, 9, 1100, 1, 0);
      checkGemm(true, false, 133, 19, 530, 0.5, 1);
      checkGemm(true, true, 5, 2100, 7, 1, 1);
    });

    it('works on offsets into larger buffers', () => {
      const A = randomFloats(3 + 4 * 5, 7);
      const B = randomFloats(2 + 5 * 6, 8);
      const C = new Float32Array(1 + 4 * 6).fill(9);
      sgemm(false, false, 4, 6, 5, 1, A, 5, B, 6, 0, C, 6, 3, 2, 1);
      const expected = new Float64Array(24);
      naiveGemm(false, false, 4, 6, 5, 1, A.subarray(3), 5, B.subarray(2), 6, 0, expected, 6);
      expect(C[0]).toBe(9);
      expectClose(new tf.NDArray(C.slice(1), [24]), Float32Array.from(expected), { atol: 1e-5 });
    });

    it('does nothing for empty sizes and only scales C when K = 0', () => {
      const C = new Float32Array([1, 2, 3, 4]);
      sgemm(false, false, 0, 2, 3, 1, new Float32Array(0), 3, new Float32Array(6), 2, 0, C, 2);
      expect(Array.from(C)).toEqual([1, 2, 3, 4]);
      sgemm(false, false, 2, 2, 0, 1, new Float32Array(0), 1, new Float32Array(0), 2, 2, C, 2);
      expect(Array.from(C)).toEqual([2, 4, 6, 8]);
    });
  });
}

// ---- output-size arithmetic ----

describe('windowedOutputSize (TF GetWindowedOutputSize)', () => {
  it('computes VALID and SAME sizes and SAME padding before = floor(total / 2)', () => {
    expect(windowedOutputSize(28, 5, 1, 1, 'SAME')).toEqual({ size: 28, padBefore: 2 });
    expect(windowedOutputSize(28, 5, 1, 1, 'VALID')).toEqual({ size: 24, padBefore: 0 });
    // in 4, k 3, s 2: out 2, total pad 1 -> 0 before, 1 after (TF pads more at the end).
    expect(windowedOutputSize(4, 3, 1, 2, 'SAME')).toEqual({ size: 2, padBefore: 0 });
    expect(windowedOutputSize(5, 4, 1, 1, 'SAME')).toEqual({ size: 5, padBefore: 1 });
    expect(windowedOutputSize(7, 3, 2, 1, 'SAME')).toEqual({ size: 7, padBefore: 2 });
    expect(windowedOutputSize(7, 3, 2, 1, 'VALID')).toEqual({ size: 3, padBefore: 0 });
    expect(windowedOutputSize(6, 3, 1, 2, 'VALID')).toEqual({ size: 2, padBefore: 0 });
    expect(windowedOutputSize(6, 3, 1, 2, 'EXPLICIT', [1, 2])).toEqual({ size: 4, padBefore: 1 });
    expect(windowedOutputSize(2, 3, 1, 1, 'VALID')).toEqual({ size: 0, padBefore: 0 });
    expect(windowedOutputSize(1, 3, 1, 1, 'VALID')).toMatch(/negative/);
  });
});

// ---- Conv2D family against tfjs ----

interface ConvCase {
  x: [number, number, number, number]; // NHWC
  f: [number, number, number, number];
  strides: [number, number];
  pad: Pad | [[number, number], [number, number]];
  dilations?: [number, number];
}

const convCases: ConvCase[] = [
  { x: [1, 5, 5, 1], f: [3, 3, 1, 2], strides: [1, 1], pad: 'SAME' },
  { x: [3, 7, 6, 3], f: [3, 2, 3, 4], strides: [1, 1], pad: 'VALID' },
  { x: [3, 8, 7, 3], f: [3, 3, 3, 5], strides: [2, 2], pad: 'SAME' },
  { x: [1, 9, 8, 1], f: [4, 4, 1, 3], strides: [2, 2], pad: 'VALID' },
  { x: [1, 6, 6, 3], f: [2, 2, 3, 2], strides: [2, 2], pad: 'SAME' },
  { x: [3, 9, 7, 3], f: [3, 3, 3, 2], strides: [1, 1], pad: 'SAME', dilations: [2, 2] },
  { x: [1, 9, 8, 1], f: [2, 3, 1, 2], strides: [1, 1], pad: 'VALID', dilations: [2, 2] },
  { x: [3, 7, 5, 3], f: [3, 3, 3, 4], strides: [2, 1], pad: 'SAME' },
  { x: [3, 5, 4, 3], f: [1, 1, 3, 7], strides: [1, 1], pad: 'VALID' },
  { x: [1, 6, 5, 3], f: [3, 3, 3, 2], strides: [1, 2], pad: [[1, 2], [0, 1]] },
];

function caseName(c: ConvCase): string {
  return `x[${c.x}] f[${c.f}] s${c.strides} ${Array.isArray(c.pad) ? `pad${JSON.stringify(c.pad)}` : c.pad}${c.dilations ? ` d${c.dilations}` : ''}`;
}

function weirPad(p: ConvCase['pad']): tf.nn.ConvPadding {
  return Array.isArray(p) ? [[0, 0], p[0], p[1], [0, 0]] : p;
}

function weirPadNCHW(p: ConvCase['pad']): tf.nn.ConvPadding {
  return Array.isArray(p) ? [[0, 0], [0, 0], p[0], p[1]] : p;
}

function tfjsPad(p: ConvCase['pad']): 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  return Array.isArray(p) ? [[0, 0], p[0], p[1], [0, 0]] : p === 'SAME' ? 'same' : 'valid';
}

describe('Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter against tfjs', () => {
  for (const c of convCases) {
    for (const format of ['NHWC', 'NCHW'] as const) {
      it(`${caseName(c)} ${format}`, async () => {
        const t = await oracle();
        const x = randomArray(c.x, { seed: 1 });
        const f = randomArray(c.f, { seed: 2 });
        const dil = c.dilations ?? [1, 1];
        const conv = (a: TfjsTensor4D, b: TfjsTensor4D) => t.conv2d(a, b, c.strides, tfjsPad(c.pad), 'NHWC', dil);
        const yT = conv(t4(t, x), t4(t, f));
        const dy = randomArray(yT.shape, { seed: 3 });
        // tfjs has no gradients for dilated convs: differentiate the equivalent conv with a dilated filter.
        const fd = dilateFilter(f, dil);
        const plain = (a: TfjsTensor4D, b: TfjsTensor4D) => t.conv2d(a, b, c.strides, tfjsPad(c.pad), 'NHWC', 1);
        const [dxT, dfdT] = t.grads((a: TfjsTensor, b: TfjsTensor) => plain(a as TfjsTensor4D, b as TfjsTensor4D))([t4(t, x), t4(t, fd)], t4(t, dy));
        const dfExpected = undilateFilter(await fromTfjs(dfdT!), dil, c.f[0], c.f[1]);
        const xIn = format === 'NCHW' ? toNCHW(x) : x;
        const dyIn = format === 'NCHW' ? toNCHW(dy) : dy;
        const pad = format === 'NCHW' ? weirPadNCHW(c.pad) : weirPad(c.pad);
        const opts = { dataFormat: format, dilations: dil };
        const [y, dx, df, dxOp, dfOp] = await runWith([xIn, f, dyIn], (xp, fp, dyp) => {
          const y = tf.nn.conv2d(xp, fp, c.strides, pad, opts);
          const [gx, gf] = tf.gradients(y, [xp, fp], dyp);
          const xs = format === 'NCHW' ? nhwcShapeToNCHW(c.x) : c.x;
          return [
            y,
            gx!,
            gf!,
            tf.nn.conv2dBackpropInput(xs, fp, dyp, c.strides, pad, opts),
            tf.nn.conv2dBackpropFilter(xp, c.f, dyp, c.strides, pad, opts),
          ];
        });
        const tol = { atol: 1e-4, rtol: 1e-4 };
        expectClose(y!, await asNDArray(yT, format), tol);
        expectClose(dx!, await asNDArray(dxT!, format), tol);
        expectClose(df!, dfExpected, tol);
        expectClose(dxOp!, dx!, tol);
        expectClose(dfOp!, df!, tol);
      });
    }
  }

  it('a layer of Deep MNIST\'s second convolution (im2col + GEMM, col2im) against TensorFlow.js', async () => {
    const t = await oracle();
    // K = 5*5*32 = 800 floats per im2col row, 588 rows: one chunk; conv_paths.test.ts forces chunks that cross images.
    const x = randomArray([3, 14, 14, 32], { seed: 4 });
    const f = randomArray([5, 5, 32, 4], { seed: 5 });
    const conv = (a: TfjsTensor4D, b: TfjsTensor4D) => t.conv2d(a, b, 1, 'same');
    const yT = conv(t4(t, x), t4(t, f));
    const dy = randomArray(yT.shape, { seed: 6 });
    const [dxT, dfT] = t.grads((a: TfjsTensor, b: TfjsTensor) => conv(a as TfjsTensor4D, b as TfjsTensor4D))([t4(t, x), t4(t, f)], t4(t, dy));
    const [y, dx, df] = await runWith([x, f, dy], (xp, fp, dyp) => {
      const y = tf.nn.conv2d(xp, fp, 1, 'SAME');
      return [y, ...(tf.gradients(y, [xp, fp], dyp) as tf.Tensor[])];
    });
    expectClose(y!, await fromTfjs(yT), { atol: 1e-4 });
    expectClose(dx!, await fromTfjs(dxT!), { atol: 1e-4 });
    expectClose(df!, await fromTfjs(dfT!), { atol: 1e-3 });
  });

  it('handles a batch of size 0', async () => {
    const x = new tf.NDArray(new Float32Array(0), [0, 5, 5, 2]);
    const f = randomArray([3, 3, 2, 4], { seed: 1 });
    const [y, df] = await runWith([x, f], (xp, fp) => {
      const y = tf.nn.conv2d(xp, fp, 1, 'SAME');
      return [y, tf.gradients(y, fp, tf.zerosLike(y))[0]!];
    });
    expect(y!.shape).toEqual([0, 5, 5, 4]);
    expectClose(df!, new Float32Array(72));
  });
});

describe('conv2dTranspose against tfjs', () => {
  const cases: { x: [number, number, number, number]; f: [number, number, number, number]; out: [number, number, number, number]; s: number; pad: Pad }[] = [
    { x: [1, 3, 3, 2], f: [3, 3, 1, 2], out: [1, 5, 5, 1], s: 2, pad: 'SAME' },
    { x: [3, 4, 3, 3], f: [2, 2, 3, 3], out: [3, 8, 6, 3], s: 2, pad: 'SAME' },
    { x: [3, 3, 2, 1], f: [3, 2, 3, 1], out: [3, 5, 3, 3], s: 1, pad: 'VALID' },
    { x: [1, 3, 3, 3], f: [3, 3, 2, 3], out: [1, 7, 7, 2], s: 2, pad: 'VALID' },
  ];
  for (const c of cases) {
    for (const format of ['NHWC', 'NCHW'] as const) {
      it(`value[${c.x}] filter[${c.f}] -> [${c.out}] s${c.s} ${c.pad} ${format}`, async () => {
        const t = await oracle();
        const x = randomArray(c.x, { seed: 11 });
        const f = randomArray(c.f, { seed: 12 });
        const yT = t.conv2dTranspose(t4(t, x), t4(t, f), c.out, c.s, c.pad === 'SAME' ? 'same' : 'valid');
        const xIn = format === 'NCHW' ? toNCHW(x) : x;
        const outShape = format === 'NCHW' ? nhwcShapeToNCHW(c.out) : c.out;
        const [y] = await runWith([xIn, f], (xp, fp) => [tf.nn.conv2dTranspose(xp, fp, outShape, c.s, c.pad, { dataFormat: format })]);
        expectClose(y!, await asNDArray(yT, format), { atol: 1e-4 });
      });
    }
  }

  it('creates a Conv2DBackpropInput op named conv2d_transpose and checks channels', () => {
    build(() => {
      const v = tf.placeholder('float32', [1, 3, 3, 2]);
      const y = tf.nn.conv2dTranspose(v, tf.zeros([3, 3, 1, 2]), [1, 6, 6, 1], 2, 'SAME');
      expect(y.op.type).toBe('Conv2DBackpropInput');
      expect(y.op.name).toBe('conv2d_transpose');
      expect(y.shape).toEqual([1, 6, 6, 1]);
      expect(() => tf.nn.conv2dTranspose(v, tf.zeros([3, 3, 1, 4]), [1, 6, 6, 1], 2, 'SAME')).toThrow(/channels/);
    });
  });
});

describe('DepthwiseConv2dNative and its backprops against tfjs', () => {
  const cases: { x: [number, number, number, number]; f: [number, number, number, number]; s: number; pad: Pad; d?: number }[] = [
    { x: [1, 5, 5, 1], f: [3, 3, 1, 2], s: 1, pad: 'SAME' },
    { x: [3, 7, 6, 3], f: [3, 2, 3, 1], s: 2, pad: 'VALID' },
    { x: [3, 6, 7, 3], f: [3, 3, 3, 2], s: 2, pad: 'SAME' },
    { x: [1, 7, 7, 3], f: [2, 2, 3, 2], s: 1, pad: 'SAME', d: 2 },
    { x: [3, 8, 7, 1], f: [3, 3, 1, 1], s: 1, pad: 'VALID', d: 2 },
  ];
  for (const c of cases) {
    for (const format of ['NHWC', 'NCHW'] as const) {
      it(`x[${c.x}] f[${c.f}] s${c.s} ${c.pad}${c.d ? ` d${c.d}` : ''} ${format}`, async () => {
        const t = await oracle();
        const x = randomArray(c.x, { seed: 21 });
        const f = randomArray(c.f, { seed: 22 });
        const d = c.d ?? 1;
        const conv = (a: TfjsTensor4D, b: TfjsTensor4D) => t.depthwiseConv2d(a, b, c.s, c.pad === 'SAME' ? 'same' : 'valid', 'NHWC', d);
        const yT = conv(t4(t, x), t4(t, f));
        const dy = randomArray(yT.shape, { seed: 23 });
        const fd = dilateFilter(f, [d, d]);
        const plain = (a: TfjsTensor4D, b: TfjsTensor4D) => t.depthwiseConv2d(a, b, c.s, c.pad === 'SAME' ? 'same' : 'valid');
        const [dxT, dfdT] = t.grads((a: TfjsTensor, b: TfjsTensor) => plain(a as TfjsTensor4D, b as TfjsTensor4D))([t4(t, x), t4(t, fd)], t4(t, dy));
        const dfExpected = undilateFilter(await fromTfjs(dfdT!), [d, d], c.f[0], c.f[1]);
        const xIn = format === 'NCHW' ? toNCHW(x) : x;
        const dyIn = format === 'NCHW' ? toNCHW(dy) : dy;
        const opts = { dataFormat: format, rate: d };
        const [y, dx, df, dxOp, dfOp] = await runWith([xIn, f, dyIn], (xp, fp, dyp) => {
          const y = tf.nn.depthwiseConv2d(xp, fp, c.s, c.pad, opts);
          const xs = format === 'NCHW' ? nhwcShapeToNCHW(c.x) : c.x;
          return [
            y,
            ...(tf.gradients(y, [xp, fp], dyp) as tf.Tensor[]),
            tf.nn.depthwiseConv2dNativeBackpropInput(xs, fp, dyp, c.s, c.pad, opts),
            tf.nn.depthwiseConv2dNativeBackpropFilter(xp, c.f, dyp, c.s, c.pad, opts),
          ];
        });
        const tol = { atol: 1e-4, rtol: 1e-4 };
        expectClose(y!, await asNDArray(yT, format), tol);
        expectClose(dx!, await asNDArray(dxT!, format), tol);
        expectClose(df!, dfExpected, tol);
        expectClose(dxOp!, dx!, tol);
        expectClose(dfOp!, df!, tol);
      });
    }
  }

  it('names its op depthwise, outputs in_channels * multiplier channels', () => {
    build(() => {
      const y = tf.nn.depthwiseConv2d(tf.placeholder('float32', [null, 8, 8, 3]), tf.zeros([3, 3, 3, 4]), 1, 'SAME');
      expect(y.op.type).toBe('DepthwiseConv2dNative');
      expect(y.op.name).toBe('depthwise');
      expect(y.shape).toEqual([null, 8, 8, 12]);
      const z = tf.nn.depthwiseConv2dNative(tf.placeholder('float32', [2, 3, 8, 8]), tf.zeros([3, 3, 3, 2]), [1, 1, 2, 2], 'VALID', { dataFormat: 'NCHW' });
      expect(z.shape).toEqual([2, 6, 3, 3]);
    });
  });
});

// ---- pooling against tfjs ----

describe('MaxPool, AvgPool and their gradients against tfjs', () => {
  const cases: { x: [number, number, number, number]; k: [number, number]; s: [number, number]; pad: Pad }[] = [
    { x: [1, 4, 4, 1], k: [2, 2], s: [2, 2], pad: 'VALID' },
    { x: [3, 7, 5, 3], k: [3, 3], s: [2, 2], pad: 'SAME' },
    { x: [3, 7, 6, 3], k: [3, 2], s: [1, 1], pad: 'VALID' },
    { x: [1, 6, 6, 3], k: [3, 3], s: [2, 2], pad: 'SAME' },
    { x: [3, 5, 7, 1], k: [2, 3], s: [2, 1], pad: 'SAME' },
  ];
  for (const c of cases) {
    for (const format of ['NHWC', 'NCHW'] as const) {
      it(`x[${c.x}] k${c.k} s${c.s} ${c.pad} ${format}`, async () => {
        const t = await oracle();
        const x = distinctArray(c.x, 31);
        const pad = c.pad === 'SAME' ? 'same' : 'valid';
        const maxT = t.maxPool(t4(t, x), c.k, c.s, pad);
        const avgT = t.avgPool(t4(t, x), c.k, c.s, pad);
        const dy = randomArray(maxT.shape, { seed: 32 });
        const dxMaxT = t.grad((a: TfjsTensor) => t.maxPool(a as TfjsTensor4D, c.k, c.s, pad))(t4(t, x), t4(t, dy));
        // tfjs's AvgPoolGrad divides by the full window size even where SAME padding cuts it (TF divides
        // by the elements inside): differentiate average pooling written as a window sum / window count.
        const ones = t.ones([c.k[0], c.k[1], c.x[3], 1]) as TfjsTensor4D;
        const count = t.depthwiseConv2d(t.onesLike(t4(t, x)), ones, c.s, pad);
        const avgAsSum = (a: TfjsTensor) => t.div(t.depthwiseConv2d(a as TfjsTensor4D, ones, c.s, pad), count);
        const dxAvgT = t.grad(avgAsSum)(t4(t, x), t4(t, dy));
        // MaxPoolGradGrad gathers a gradient shaped like x at each window's argmax.
        const gg = randomArray(c.x, { seed: 33 });
        const { indexes } = t.maxPoolWithArgmax(t4(t, x), c.k, c.s, pad, true);
        const idx = await indexes.data();
        const ggExpected = new tf.NDArray(Float32Array.from(idx, (i) => (gg.data as Float32Array)[i]!), maxT.shape);

        const f = (a: tf.NDArray) => (format === 'NCHW' ? toNCHW(a) : a);
        const opts = { dataFormat: format };
        const [mx, av, dmx, dav, mgg] = await runWith([f(x), f(dy), f(gg)], (xp, dyp, ggp) => {
          const m = tf.nn.maxPool(xp, c.k, c.s, c.pad, opts);
          const a = tf.nn.avgPool(xp, c.k, c.s, c.pad, opts);
          const dm = tf.gradients(m, xp, dyp)[0]!;
          // d/d(dy) of <MaxPoolGrad(x, m, dy), gg> is MaxPoolGradGrad(x, m, gg).
          const mgg = tf.gradients(dm, dyp, ggp)[0]!;
          return [m, a, dm, tf.gradients(a, xp, dyp)[0]!, mgg];
        });
        expect(dmx!.shape).toEqual(f(x).shape);
        expectClose(mx!, await asNDArray(maxT, format));
        expectClose(av!, await asNDArray(avgT, format));
        expectClose(dmx!, await asNDArray(dxMaxT, format));
        expectClose(dav!, await asNDArray(dxAvgT, format));
        expectClose(mgg!, f(ggExpected));
      });
    }
  }

  it('pool ops carry TF attrs and default names', () => {
    build(() => {
      const x = tf.placeholder('float32', [null, 28, 28, 32]);
      const m = tf.nn.maxPool(x, 2, 2, 'SAME');
      expect(m.op.name).toBe('MaxPool');
      expect(m.op.attrs).toMatchObject({ ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: 'SAME', data_format: 'NHWC' });
      expect(m.shape).toEqual([null, 14, 14, 32]);
      const a = tf.nn.avgPool(tf.placeholder('float32', [null, 3, 9, 9]), [3, 3], [1, 1, 2, 2], 'VALID', { dataFormat: 'NCHW', name: 'pool' });
      expect(a.op.name).toBe('pool');
      expect(a.op.type).toBe('AvgPool');
      expect(a.shape).toEqual([null, 3, 4, 4]);
    });
  });
});

// ---- shape functions ----

describe('conv and pool shape functions', () => {
  it('infers Conv2D output shapes from partial shapes', () => {
    build(() => {
      const f = tf.placeholder('float32', [5, 5, 1, 32]);
      expect(tf.nn.conv2d(tf.placeholder('float32', [null, 28, 28, 1]), f, 1, 'SAME').shape).toEqual([null, 28, 28, 32]);
      expect(tf.nn.conv2d(tf.placeholder('float32', [null, 28, 28, 1]), f, 1, 'VALID').shape).toEqual([null, 24, 24, 32]);
      expect(tf.nn.conv2d(tf.placeholder('float32', [7, 28, 27, 1]), f, [2, 3], 'SAME').shape).toEqual([7, 14, 9, 32]);
      expect(tf.nn.conv2d(tf.placeholder('float32', [7, null, 27, 1]), f, [1, 1, 1, 1], 'VALID').shape).toEqual([7, null, 23, 32]);
      expect(tf.nn.conv2d(tf.placeholder('float32', null), f, 1, 'SAME').shape).toEqual([null, null, null, 32]);
      expect(tf.nn.conv2d(tf.placeholder('float32', [2, 1, 28, 28]), f, 1, 'SAME', { dataFormat: 'NCHW' }).shape).toEqual([2, 32, 28, 28]);
      expect(tf.nn.conv2d(tf.placeholder('float32', [2, 13, 13, 1]), f, 1, 'VALID', { dilations: 2 }).shape).toEqual([2, 5, 5, 32]);
      expect(tf.nn.conv2d(tf.placeholder('float32', [2, 6, 6, 1]), tf.placeholder('float32', null), 1, 'SAME').shape).toEqual([2, null, null, null]);
      const y = tf.nn.conv2d(tf.placeholder('float32', [2, 6, 6, 1]), f, 1, [[0, 0], [1, 2], [0, 3], [0, 0]]);
      expect(y.shape).toEqual([2, 5, 5, 32]);
      expect(y.op.attrs).toMatchObject({ padding: 'EXPLICIT', explicit_paddings: [0, 0, 1, 2, 0, 3, 0, 0] });
    });
  });

  it('sets TF attrs on Conv2D', () => {
    build(() => {
      const y = tf.nn.conv2d(tf.placeholder('float32', [1, 8, 8, 3]), tf.zeros([3, 3, 3, 4]), 2, 'SAME', { dilations: [1, 1] });
      expect(y.op.name).toBe('Conv2D');
      expect(y.op.attrs).toMatchObject({
        T: 'float32',
        strides: [1, 2, 2, 1],
        padding: 'SAME',
        data_format: 'NHWC',
        dilations: [1, 1, 1, 1],
        explicit_paddings: [],
        use_cudnn_on_gpu: true,
      });
      const z = tf.nn.conv2d(tf.placeholder('float32', [1, 3, 8, 8]), tf.zeros([3, 3, 3, 4]), [2, 1], 'SAME', { dataFormat: 'NCHW', dilations: 2, name: 'c' });
      expect(z.op.name).toBe('c');
      expect(z.op.attrs).toMatchObject({ strides: [1, 1, 2, 1], dilations: [1, 1, 2, 2], data_format: 'NCHW' });
    });
  });

  it('rejects an input whose depth differs from the filter in_channels, naming Conv2D', () => {
    build(() => {
      const x = tf.placeholder('float32', [1, 5, 5, 3]);
      const f = tf.placeholder('float32', [3, 3, 2, 4]);
      expect(() => tf.nn.conv2d(x, f, 1, 'SAME')).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.nn.conv2d(x, f, 1, 'SAME')).toThrow(/Conv2D.*depth.*3 vs 2/);
      expect(() => tf.nn.depthwiseConv2d(x, f, 1, 'SAME')).toThrow(/DepthwiseConv2dNative/);
    });
  });

  it('rejects bad ranks, dtypes, strides, paddings and windows larger than the input', () => {
    build(() => {
      const x = tf.placeholder('float32', [1, 5, 5, 3]);
      const f = tf.placeholder('float32', [3, 3, 3, 4]);
      expect(() => tf.nn.conv2d(tf.placeholder('float32', [5, 5, 3]), f, 1, 'SAME')).toThrow(/rank 4/);
      expect(() => tf.nn.conv2d(x, tf.placeholder('float32', [3, 3, 3]), 1, 'SAME')).toThrow(/rank 4/);
      expect(() => tf.nn.conv2d(tf.placeholder('int32', [1, 5, 5, 3]), tf.placeholder('int32', [3, 3, 3, 4]), 1, 'SAME')).toThrow(/dtype int32/);
      expect(() => tf.nn.conv2d(x, f, [2, 1, 1, 1], 'SAME')).toThrow(/batch and depth/);
      expect(() => tf.nn.conv2d(x, f, [1, 0, 1, 1], 'SAME')).toThrow(/positive/);
      expect(() => tf.nn.conv2d(x, f, [1, 1, 1], 'SAME')).toThrow(/strides/);
      expect(() => tf.nn.conv2d(x, f, 1, 'FULL' as Pad)).toThrow(/padding/);
      expect(() => tf.nn.conv2d(x, f, 1, [[1, 0], [0, 0], [0, 0], [0, 0]])).toThrow(/batch and depth/);
      expect(() => tf.nn.conv2d(x, tf.placeholder('float32', [7, 3, 3, 4]), 1, 'VALID')).toThrow(/negative/);
      expect(() => tf.nn.conv2d(x, f, 1, 'SAME', { dataFormat: 'NCWH' as Format })).toThrow(/dataFormat/);
      expect(() => tf.nn.maxPool(x, [1, 2, 2], 1, 'SAME')).toThrow(/ksize/);
      expect(() => tf.nn.maxPool(x, [1, 2, 2, 2], 1, 'SAME')).toThrow(/ksize.*batch and depth/);
      expect(tf.nn.avgPool(x, 6, 1, 'VALID').shape).toEqual([1, 0, 0, 3]);
      expect(() => tf.nn.avgPool(x, 7, 1, 'VALID')).toThrow(/AvgPool.*negative/);
      expect(() => tf.nn.maxPool(tf.placeholder('float32', [5, 5]), 2, 2, 'SAME')).toThrow(/MaxPool.*rank 4/);
    });
  });

  it('infers and checks Conv2DBackpropInput / Conv2DBackpropFilter shapes', () => {
    build(() => {
      const f = tf.placeholder('float32', [3, 3, 2, 4]);
      const dy = tf.placeholder('float32', [null, 4, 4, 4]);
      expect(tf.nn.conv2dBackpropInput([5, 8, 8, 2], f, dy, 2, 'SAME').shape).toEqual([5, 8, 8, 2]);
      const sizes = tf.placeholder('int32', [4]);
      expect(tf.nn.conv2dBackpropInput(sizes, f, dy, 2, 'SAME').shape).toEqual([null, null, null, 2]);
      expect(tf.nn.conv2dBackpropInput(sizes, f, tf.placeholder('float32', [6, 4, 4, 4]), 2, 'SAME').shape).toEqual([6, null, null, 2]);
      // out_backprop 4x4 cannot come from a 12x12 input with stride 2.
      expect(() => tf.nn.conv2dBackpropInput([5, 12, 12, 2], f, dy, 2, 'SAME')).toThrow(/Conv2DBackpropInput.*height/);
      expect(() => tf.nn.conv2dBackpropInput([5, 8, 8, 3], f, dy, 2, 'SAME')).toThrow(/in_channels/);
      expect(() => tf.nn.conv2dBackpropInput([5, 8, 8], f, dy, 2, 'SAME')).toThrow(/4 elements/);
      expect(() => tf.nn.conv2dBackpropInput([5, 8, 8, 2], f, tf.placeholder('float32', [5, 4, 4, 3]), 2, 'SAME')).toThrow(/depth/);

      const x = tf.placeholder('float32', [null, 8, 8, 2]);
      expect(tf.nn.conv2dBackpropFilter(x, [3, 3, 2, 4], dy, 2, 'SAME').shape).toEqual([3, 3, 2, 4]);
      expect(tf.nn.conv2dBackpropFilter(x, tf.placeholder('int32', [4]), dy, 2, 'SAME').shape).toEqual([null, null, 2, 4]);
      expect(() => tf.nn.conv2dBackpropFilter(x, [3, 3, 2, 5], dy, 2, 'SAME')).toThrow(/Conv2DBackpropFilter.*out_channels/);
      expect(() => tf.nn.conv2dBackpropFilter(x, [3, 3, 2, 4], dy, 1, 'SAME')).toThrow(/height/);

      const dd = tf.nn.depthwiseConv2dNativeBackpropFilter(x, tf.placeholder('int32', [4]), tf.placeholder('float32', [null, 8, 8, 6]), 1, 'SAME');
      expect(dd.shape).toEqual([null, null, 2, 3]);
    });
  });

  it('infers and checks MaxPoolGrad, MaxPoolGradGrad and AvgPoolGrad shapes', () => {
    build(() => {
      const x = tf.placeholder('float32', [null, 8, 8, 3]);
      const y = tf.nn.maxPool(x, 2, 2, 'VALID');
      const g = tf.placeholder('float32', [null, 4, 4, 3]);
      const [dx] = tf.gradients(y, x, g);
      expect(dx!.op.type).toBe('MaxPoolGrad');
      expect(dx!.shape).toEqual([null, 8, 8, 3]);
      const [ddy] = tf.gradients(dx!, g, tf.placeholder('float32', [null, 8, 8, 3]));
      expect(ddy!.op.type).toBe('MaxPoolGradGrad');
      expect(ddy!.shape).toEqual([null, 4, 4, 3]);
      const attrs = { T: 'float32', ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: 'VALID', data_format: 'NHWC' };
      const graph = tf.getDefaultGraph();
      expect(() => graph.createOp('MaxPoolGrad', [x, y, tf.placeholder('float32', [null, 5, 4, 3])], attrs)).toThrow(/MaxPoolGrad.*grad/);
      expect(() => graph.createOp('MaxPoolGrad', [x, tf.placeholder('float32', [1, 3, 4, 3]), y], attrs)).toThrow(/MaxPoolGrad.*orig_output/);

      const a = tf.nn.avgPool(x, 3, 2, 'SAME');
      const [da] = tf.gradients(a, x, tf.placeholder('float32', [null, 4, 4, 3]));
      expect(da!.op.type).toBe('AvgPoolGrad');
      expect(da!.shape).toEqual([null, 8, 8, 3]);
      const fixed = graph.createOp('AvgPoolGrad', [tf.constant([2, 8, 8, 3], 'int32'), tf.placeholder('float32', [null, 4, 4, 3])], attrs);
      expect(fixed.outputs[0]!.shape).toEqual([2, 8, 8, 3]);
      expect(() => graph.createOp('AvgPoolGrad', [tf.constant([2, 8, 8, 3], 'int32'), tf.placeholder('float32', [2, 5, 4, 3])], attrs)).toThrow(
        /AvgPoolGrad.*grad/,
      );
    });
  });

  it('conv gradients use Conv2DBackpropInput / Conv2DBackpropFilter with the forward attrs', () => {
    build(() => {
      const x = tf.placeholder('float32', [null, 9, 9, 3]);
      const f = tf.placeholder('float32', [3, 3, 3, 8]);
      const y = tf.nn.conv2d(x, f, 2, 'VALID', { dilations: 1 });
      const [dx, df] = tf.gradients(y, [x, f], tf.placeholder('float32', [null, 4, 4, 8]));
      expect(dx!.op.type).toBe('Conv2DBackpropInput');
      expect(dx!.op.attrs).toMatchObject({ strides: [1, 2, 2, 1], padding: 'VALID' });
      expect(dx!.op.inputs[0]!.op.type).toBe('Shape'); // the batch is unknown
      expect(dx!.shape).toEqual([null, 9, 9, 3]);
      expect(df!.op.type).toBe('Conv2DBackpropFilter');
      expect(df!.op.inputs[1]!.op.type).toBe('Const'); // the filter shape is static
      expect(df!.shape).toEqual([3, 3, 3, 8]);
    });
  });
});

// ---- run-time checks ----

describe('conv kernels check run-time shapes', () => {
  it('reports a depth mismatch that was unknown while building', async () => {
    const x = randomArray([1, 5, 5, 3]);
    const f = randomArray([3, 3, 2, 4]);
    const { y, xp, fp } = build(() => {
      const xp = tf.placeholder('float32', [1, 5, 5, null], 'xd');
      const fp = tf.placeholder('float32', [3, 3, null, 4], 'fd');
      return { y: tf.nn.conv2d(xp, fp, 1, 'SAME'), xp, fp };
    });
    await expect(run(y, [[xp, x], [fp, f]])).rejects.toThrow(/Conv2D op 'Conv2D'.*depth 3.*in_channels 2/);
    await expect(run(y, [[xp, x], [fp, f]])).rejects.toBeInstanceOf(tf.errors.InvalidArgumentError);
  });

  it('reports input_sizes that do not match out_backprop', async () => {
    const { y, sizes } = build(() => {
      const sizes = tf.placeholder('int32', [4], 'sizes');
      return { y: tf.nn.conv2dBackpropInput(sizes, tf.zeros([3, 3, 2, 4]), tf.zeros([1, 4, 4, 4]), 1, 'SAME'), sizes };
    });
    await expect(run(y, [[sizes, new tf.NDArray(Int32Array.from([1, 5, 5, 2]), [4])]])).rejects.toThrow(/out_backprop/);
    const ok = await run(y, [[sizes, new tf.NDArray(Int32Array.from([1, 4, 4, 2]), [4])]]);
    expect(ok.shape).toEqual([1, 4, 4, 2]);
  });

  it('accepts input_sizes as [height, width], taking batch and depth from the other inputs (as TF)', async () => {
    const f = randomArray([3, 3, 2, 4], { seed: 41 });
    const dy = randomArray([2, 3, 3, 4], { seed: 42 });
    const [short, full] = await runWith([f, dy], (fp, dyp) => {
      const s = tf.nn.conv2dBackpropInput([5, 6], fp, dyp, 2, 'SAME');
      expect(s.shape).toEqual([2, 5, 6, 2]);
      return [s, tf.nn.conv2dBackpropInput([2, 5, 6, 2], fp, dyp, 2, 'SAME')];
    });
    expectClose(short!, full!);
  });
});
