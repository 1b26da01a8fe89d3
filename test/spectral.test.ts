import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as sp from '../src/api/spectral.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { graphToGraphDef } from '../src/io/graph_def.js';
import { DT, encodeMessage, type TensorProto } from '../src/io/proto.js';
import { tensorFromProto, tensorToProto } from '../src/io/tensor_proto.js';
import { castComplex, complexBinary, complexNeg, hasComplexBinary } from '../runtime/cpu/kernels/spectral.js';
import { FRESH } from '../runtime/cpu/kernels/util.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import { checkGradients } from './gradcheck.js';
import { spectralCases } from './gradcases/spectral.js';
import { expectClose, randomArray, tfjs } from './helpers.js';

// ---- references ------------------------------------------------------------------------------------

/** A random complex64 array: re and im uniform in [-1, 1). */
function randomComplex(shape: number[], seed: number): tf.NDArray {
  const re = randomArray(shape, { seed }).data as Float32Array;
  const im = randomArray(shape, { seed: seed + 1000 }).data as Float32Array;
  const d = new Float32Array(2 * re.length);
  for (let i = 0; i < re.length; i++) {
    d[2 * i] = re[i]!;
    d[2 * i + 1] = im[i]!;
  }
  return new tf.NDArray(d, shape, 'complex64');
}

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/**
 * The textbook multi-dimensional DFT over the innermost `dims.length` axes (float64), of a complex
 * signal given as re/im arrays of shape [...lead, ...dims]: X_k = sum_n x_n exp(sign 2 pi i k.n / N).
 */
function naiveDft(re: Float64Array, im: Float64Array, lead: number[], dims: number[], sign: -1 | 1): { re: Float64Array; im: Float64Array } {
  const inner = numel(dims);
  const outRe = new Float64Array(re.length);
  const outIm = new Float64Array(im.length);
  const index = (flat: number): number[] => {
    const idx: number[] = [];
    for (let d = dims.length - 1; d >= 0; d--) {
      idx.unshift(flat % dims[d]!);
      flat = Math.floor(flat / dims[d]!);
    }
    return idx;
  };
  for (let b = 0; b < numel(lead); b++) {
    for (let k = 0; k < inner; k++) {
      const ki = index(k);
      let sr = 0;
      let si = 0;
      for (let n = 0; n < inner; n++) {
        const ni = index(n);
        let phase = 0;
        for (let d = 0; d < dims.length; d++) phase += (ki[d]! * ni[d]!) / dims[d]!;
        const a = sign * 2 * Math.PI * phase;
        const xr = re[b * inner + n]!;
        const xi = im[b * inner + n]!;
        sr += xr * Math.cos(a) - xi * Math.sin(a);
        si += xr * Math.sin(a) + xi * Math.cos(a);
      }
      outRe[b * inner + k] = sr;
      outIm[b * inner + k] = si;
    }
  }
  return { re: outRe, im: outIm };
}

function splitComplex(a: tf.NDArray): { re: Float64Array; im: Float64Array } {
  const d = a.data as Float32Array;
  const re = new Float64Array(a.size);
  const im = new Float64Array(a.size);
  for (let i = 0; i < a.size; i++) {
    re[i] = d[2 * i]!;
    im[i] = d[2 * i + 1]!;
  }
  return { re, im };
}

function joinComplex(re: Float64Array, im: Float64Array, shape: number[], scale = 1): tf.NDArray {
  const d = new Float32Array(2 * re.length);
  for (let i = 0; i < re.length; i++) {
    d[2 * i] = re[i]! * scale;
    d[2 * i + 1] = im[i]! * scale;
  }
  return new tf.NDArray(d, shape, 'complex64');
}

/** Crops/pads the innermost dims of a float64 array of shape `from` to `to` (zeros where padded). */
function cropPad(x: Float64Array, from: number[], to: number[]): Float64Array {
  const out = new Float64Array(numel(to));
  for (let i = 0; i < out.length; i++) {
    let rest = i;
    let src = 0;
    let stride = 1;
    let inside = true;
    for (let d = to.length - 1; d >= 0; d--) {
      const k = rest % to[d]!;
      rest = Math.floor(rest / to[d]!);
      if (k >= from[d]!) inside = false;
      src += k * stride;
      stride *= from[d]!;
    }
    if (inside) out[i] = x[src]!;
  }
  return out;
}

/** Runs `build` on placeholders fed with `inputs` (so the kernels run, not constant folding). */
async function runOps(inputs: tf.NDArray[], build: (...xs: tf.Tensor[]) => tf.Tensor[]): Promise<tf.NDArray[]> {
  const g = new tf.Graph();
  const { phs, outs } = g.asDefault(() => {
    const phs = inputs.map((v, i) => tf.placeholder(v.dtype, v.shape, `in${i}`));
    return { phs, outs: build(...phs) };
  });
  const sess = new tf.Session({ graph: g });
  try {
    return (await sess.run(outs, phs.map((p, i) => [p, inputs[i]!] as [tf.Tensor, tf.NDArray]))) as tf.NDArray[];
  } finally {
    sess.close();
  }
}

const LENGTHS = [1, 2, 3, 5, 8, 12, 17, 64];

// ---- the dtype ---------------------------------------------------------------------------------------

describe('complex64 values', () => {
  it('NDArray stores (re, im) pairs and knows its dtype', () => {
    const a = tf.NDArray.from([[{ re: 1, im: 2 }, 3], [{ re: -1, im: 0.5 }, { re: 0, im: -4 }]], 'complex64');
    expect(a.dtype).toBe('complex64');
    expect(a.shape).toEqual([2, 2]);
    expect(a.size).toBe(4);
    expect(Array.from(a.data as Float32Array)).toEqual([1, 2, 3, 0, -1, 0.5, 0, -4]);
    expect(a.toArray()).toEqual([[{ re: 1, im: 2 }, { re: 3, im: 0 }], [{ re: -1, im: 0.5 }, { re: 0, im: -4 }]]);
    expect(tf.NDArray.from({ re: 1, im: 1 }).dtype).toBe('complex64');
    expect(tf.NDArray.from(2, 'complex64', [2]).toFlat()).toEqual([{ re: 2, im: 0 }, { re: 2, im: 0 }]);
    expect(tf.NDArray.zeros([3], 'complex64').data.length).toBe(6);
    expect(a.clone().toArray()).toEqual(a.toArray());
  });

  it('bad complex data is an InvalidArgumentError', () => {
    expect(() => new tf.NDArray(new Float32Array(3), [2], 'complex64')).toThrow(/complex64 needs two per element/);
    expect(() => new tf.NDArray(new Int32Array(4), [2], 'complex64')).toThrow(InvalidArgumentError);
    expect(() => tf.NDArray.from([{ re: 1, im: 0 }], 'float32')).toThrow(/complex value/);
    expect(() => tf.NDArray.from([true], 'complex64')).toThrow(/complex64/);
  });

  it('TensorProto: tensor_content and scomplex_val (TF layouts), both ways', () => {
    const a = randomComplex([2, 3], 1);
    const p = tensorToProto(a);
    expect(p.dtype).toBe(DT.DT_COMPLEX64);
    expect(p.tensor_content!.length).toBe(2 * 3 * 8);
    expectClose(tensorFromProto(p), a, { atol: 0 });
    const uniform = tf.NDArray.from({ re: 1.5, im: -2 }, 'complex64', [3]);
    const pu = tensorToProto(uniform) as TensorProto & { scomplex_val?: number[] };
    expect(pu.scomplex_val).toEqual([1.5, -2]);
    expect(pu.tensor_content).toBeUndefined();
    expect(tensorFromProto(pu).toFlat()).toEqual(uniform.toFlat());
    // TF fills a shape with the last value given.
    const short = { dtype: DT.DT_COMPLEX64, tensor_shape: { dim: [{ size: 3 }] }, scomplex_val: [1, 2, 3, 4] } as TensorProto;
    expect(tensorFromProto(short).toFlat()).toEqual([{ re: 1, im: 2 }, { re: 3, im: 4 }, { re: 3, im: 4 }]);
    // Through the wire format (protobufjs encodes the field).
    const wire = encodeMessage('TensorProto', pu);
    expect(wire.length).toBeGreaterThan(0);
    const odd = { dtype: DT.DT_COMPLEX64, tensor_shape: { dim: [{ size: 1 }] }, scomplex_val: [1, 2, 3] } as TensorProto;
    expect(() => tensorFromProto(odd, 'odd')).toThrow(/odd: scomplex_val has 3 floats/);
    const bad = { dtype: DT.DT_COMPLEX64, tensor_shape: { dim: [{ size: 2 }] }, tensor_content: new Uint8Array(12) } as TensorProto;
    expect(() => tensorFromProto(bad, 'bad')).toThrow(/bad: tensor_content has 12 bytes, expected 16/);
  });

  it('feeds, fetches, Identity and Reshape carry complex values', async () => {
    const z = randomComplex([2, 3], 2);
    const [same, flat, conjugated] = await runOps([z], (x) => [tf.identity(x), tf.reshape(x, [6]), sp.conj(x)]);
    expect(same!.dtype).toBe('complex64');
    expectClose(same!, z, { atol: 0 });
    expect(flat!.shape).toEqual([6]);
    expect(Array.from(flat!.data as Float32Array)).toEqual(Array.from(z.data as Float32Array));
    const zd = z.data as Float32Array;
    expect(Array.from(conjugated!.data as Float32Array)).toEqual(Array.from(zd, (v, i) => (i % 2 ? -v : v)));
  });

  it('ops that take float32 reject complex64 while the graph is built', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const z = tf.placeholder('complex64', [2], 'z');
      expect(() => tf.sqrt(z)).toThrow(/complex64/);
      expect(() => sp.rfft(z)).toThrow(/must be float32/);
      expect(() => sp.fft(tf.placeholder('float32', [2]))).toThrow(/must be complex64/);
    });
  });
});

// ---- kernels -----------------------------------------------------------------------------------------

describe('complex elementwise kernels', () => {
  it('Complex (broadcasting), Real, Imag, ComplexAbs, Angle, Conj against the formulas', async () => {
    const re = randomArray([2, 3], { seed: 3 });
    const im = randomArray([3], { seed: 4 });
    const [z, r, i, abs, ang, cj] = await runOps([re, im], (x, y) => {
      const c = sp.complex(x, y);
      return [c, sp.real(c), sp.imag(c), sp.complexAbs(c), sp.angle(c), sp.conj(c)];
    });
    const rd = re.data as Float32Array;
    const id = im.data as Float32Array;
    const want = (f: (a: number, b: number) => number): number[] => Array.from(rd, (a, k) => f(a, id[k % 3]!));
    expect(z!.dtype).toBe('complex64');
    expect(z!.shape).toEqual([2, 3]);
    expectClose(r!, want((a) => a), { atol: 0 });
    expectClose(i!, want((_a, b) => b), { atol: 0 });
    expectClose(abs!, want((a, b) => Math.hypot(a, b)), { atol: 1e-6 });
    expectClose(ang!, want((a, b) => Math.atan2(b, a)), { atol: 1e-6 });
    expect(Array.from(cj!.data as Float32Array).filter((_v, k) => k % 2 === 1)).toEqual(want((_a, b) => -b).map((v) => Math.fround(v)));
  });

  it('tf.real / tf.imag / tf.conj / tf.angle of real tensors are what TF1 gives', async () => {
    const x = tf.NDArray.from([-2, 0, 3], 'float32');
    const [r, i, c, a] = await runOps([x], (t) => [sp.real(t), sp.imag(t), sp.conj(t), sp.angle(t)]);
    expectClose(r!, [-2, 0, 3]);
    expectClose(i!, [0, 0, 0]);
    expectClose(c!, [-2, 0, 3]);
    expectClose(a!, [Math.PI, 0, 0]);
  });
});

describe('complex arithmetic kernels (for the math kernels to call on complex64)', () => {
  const a = randomComplex([2, 3], 20);
  const b = randomComplex([3], 21);
  const at = (x: tf.NDArray, i: number): [number, number] => [(x.data as Float32Array)[2 * i]!, (x.data as Float32Array)[2 * i + 1]!];
  const formulas: Record<string, (p: [number, number], q: [number, number]) => [number, number]> = {
    AddV2: ([x, y], [u, v]) => [x + u, y + v],
    Sub: ([x, y], [u, v]) => [x - u, y - v],
    Mul: ([x, y], [u, v]) => [x * u - y * v, x * v + y * u],
    RealDiv: ([x, y], [u, v]) => [(x * u + y * v) / (u * u + v * v), (y * u - x * v) / (u * u + v * v)],
  };
  for (const [type, f] of Object.entries(formulas)) {
    it(`${type} broadcasting a [3] operand`, () => {
      expect(hasComplexBinary(type)).toBe(true);
      const out = complexBinary(type, a, b, FRESH);
      expect(out.dtype).toBe('complex64');
      expectClose(out, Array.from({ length: 6 }, (_, i) => f(at(a, i), at(b, i % 3))).flat(), { atol: 1e-6, rtol: 1e-5 });
    });
  }

  it('Neg, AddN (the math kernel as it is) and Cast to and from float32', () => {
    expectClose(complexNeg(a, FRESH), Array.from(a.data as Float32Array, (v) => -v), { atol: 0 });
    const sum = getCpuKernel('AddN')!([a, a, a], { type: 'AddN' } as never, {} as never, FRESH)[0]!;
    expectClose(sum, Array.from(a.data as Float32Array, (v) => 3 * v), { atol: 1e-6 });
    const re = castComplex(a, 'float32', FRESH);
    expectClose(re, Array.from({ length: 6 }, (_, i) => at(a, i)[0]), { atol: 0 });
    const back = castComplex(re, 'complex64', FRESH);
    expect(back.toFlat()).toEqual(Array.from({ length: 6 }, (_, i) => ({ re: at(a, i)[0], im: 0 })));
    expect(() => castComplex(a, 'int32', FRESH)).toThrow(/Cast complex64 to int32 is not supported/);
    expect(() => complexBinary('Pow', a, b, FRESH)).toThrow(/Pow has no complex64 kernel/);
  });
});

describe('FFT kernels against the textbook DFT', () => {
  for (const n of LENGTHS) {
    it(`fft / ifft of length ${n} over 3 lines`, async () => {
      const z = randomComplex([3, n], 10 + n);
      const [f, inv] = await runOps([z], (x) => [sp.fft(x), sp.ifft(x)]);
      const { re, im } = splitComplex(z);
      const fw = naiveDft(re, im, [3], [n], -1);
      const bw = naiveDft(re, im, [3], [n], 1);
      const tol = { atol: 2e-5 * Math.max(1, Math.sqrt(n)), rtol: 1e-4 };
      expectClose(f!, joinComplex(fw.re, fw.im, [3, n]), tol);
      expectClose(inv!, joinComplex(bw.re, bw.im, [3, n], 1 / n), { atol: 2e-6, rtol: 1e-4 });
    });

    it(`rfft / irfft of length ${n}, with fft_length cropping and padding`, async () => {
      const x = randomArray([2, n], { seed: 30 + n });
      const lengths = [n, Math.max(1, n - 1), n + 3];
      const outs = await runOps([x], (t) => lengths.flatMap((m) => [sp.rfft(t, { fftLength: [m] })]));
      const xr = Float64Array.from(x.data as Float32Array);
      lengths.forEach((m, j) => {
        const padded = cropPad(xr, [2, n], [2, m]);
        const full = naiveDft(padded, new Float64Array(padded.length), [2], [m], -1);
        const half = Math.floor(m / 2) + 1;
        const keep = (a: Float64Array): Float64Array => cropPad(a, [2, m], [2, half]);
        expectClose(outs[j]!, joinComplex(keep(full.re), keep(full.im), [2, half]), { atol: 3e-5 * Math.max(1, Math.sqrt(m)), rtol: 1e-4 });
      });
      // irfft inverts rfft for every length, and matches the Hermitian-completed inverse DFT.
      const spec = randomComplex([2, Math.floor(n / 2) + 1], 50 + n);
      const [back, y] = await runOps([x, spec], (t, s) => [sp.irfft(sp.rfft(t), { fftLength: [n] }), sp.irfft(s, { fftLength: [n] })]);
      expectClose(back!, x, { atol: 2e-5 * Math.max(1, Math.sqrt(n)) });
      const { re, im } = splitComplex(spec);
      const half = Math.floor(n / 2) + 1;
      const fullRe = new Float64Array(2 * n);
      const fullIm = new Float64Array(2 * n);
      for (let b = 0; b < 2; b++) {
        for (let k = 0; k < n; k++) {
          const src = k < half ? k : n - k;
          fullRe[b * n + k] = re[b * half + src]!;
          fullIm[b * n + k] = k < half ? im[b * half + src]! : -im[b * half + src]!;
        }
      }
      const want = naiveDft(fullRe, fullIm, [2], [n], 1);
      expectClose(y!, Float64Array.from(want.re, (v) => v / n), { atol: 2e-6 * Math.max(1, Math.sqrt(n)), rtol: 1e-4 });
    });
  }

  it('fft2d / ifft2d / fft3d / ifft3d over the innermost axes', async () => {
    const z2 = randomComplex([2, 3, 5], 60);
    const z3 = randomComplex([2, 4, 3, 2], 61);
    const [f2, i2, f3, i3] = await runOps([z2, z3], (a, b) => [sp.fft2d(a), sp.ifft2d(a), sp.fft3d(b), sp.ifft3d(b)]);
    const c2 = splitComplex(z2);
    const c3 = splitComplex(z3);
    const w2 = naiveDft(c2.re, c2.im, [2], [3, 5], -1);
    const v2 = naiveDft(c2.re, c2.im, [2], [3, 5], 1);
    const w3 = naiveDft(c3.re, c3.im, [2], [4, 3, 2], -1);
    const v3 = naiveDft(c3.re, c3.im, [2], [4, 3, 2], 1);
    expectClose(f2!, joinComplex(w2.re, w2.im, [2, 3, 5]), { atol: 1e-5 });
    expectClose(i2!, joinComplex(v2.re, v2.im, [2, 3, 5], 1 / 15), { atol: 1e-6 });
    expectClose(f3!, joinComplex(w3.re, w3.im, [2, 4, 3, 2]), { atol: 1e-5 });
    expectClose(i3!, joinComplex(v3.re, v3.im, [2, 4, 3, 2], 1 / 24), { atol: 1e-6 });
  });

  it('rfft2d / irfft2d crop and pad each axis; irfft2d inverts rfft2d', async () => {
    const x = randomArray([2, 4, 6], { seed: 70 });
    const [y, back] = await runOps([x], (t) => [sp.rfft2d(t, { fftLength: [3, 8] }), sp.irfft2d(sp.rfft2d(t), { fftLength: [4, 6] })]);
    const padded = cropPad(Float64Array.from(x.data as Float32Array), [2, 4, 6], [2, 3, 8]);
    const full = naiveDft(padded, new Float64Array(padded.length), [2], [3, 8], -1);
    const keep = (a: Float64Array): Float64Array => cropPad(a, [2, 3, 8], [2, 3, 5]);
    expectClose(y!, joinComplex(keep(full.re), keep(full.im), [2, 3, 5]), { atol: 2e-5 });
    expectClose(back!, x, { atol: 2e-5 });
  });

  it('match TensorFlow.js (complex, real, imag, abs, fft, ifft, rfft, irfft)', async () => {
    const tfc = await tfjs();
    for (const n of [1, 3, 8, 12]) {
      const re = randomArray([2, n], { seed: 80 + n });
      const im = randomArray([2, n], { seed: 90 + n });
      const [f, i, r, abs, spec, back] = await runOps([re, im], (a, b) => {
        const z = sp.complex(a, b);
        return [sp.fft(z), sp.ifft(sp.complex(a, b)), sp.rfft(a), sp.complexAbs(sp.complex(a, b)), sp.rfft(b), sp.irfft(sp.rfft(b))];
      });
      const zt = tfc.complex(tfc.tensor(re.data as Float32Array, [2, n]), tfc.tensor(im.data as Float32Array, [2, n]));
      const parts = async (t: ReturnType<typeof tfc.complex>): Promise<number[]> => {
        const [a, b] = await Promise.all([tfc.real(t).data(), tfc.imag(t).data()]);
        return Array.from(a).flatMap((v, k) => [v, b[k]!]);
      };
      const tol = { atol: 1e-4, rtol: 1e-3 };
      expectClose(f!, await parts(tfc.spectral.fft(zt)), tol);
      expectClose(i!, await parts(tfc.spectral.ifft(zt)), tol);
      expectClose(r!, await parts(tfc.spectral.rfft(tfc.tensor(re.data as Float32Array, [2, n]))), tol);
      expectClose(abs!, Array.from(await tfc.abs(zt).data()), tol);
      expectClose(spec!, await parts(tfc.spectral.rfft(tfc.tensor(im.data as Float32Array, [2, n]))), tol);
      if (n > 1) {
        // tf.js's irfft infers the length 2 * (bins - 1), as TF does: even lengths round trip.
        const even = 2 * (Math.floor(n / 2) + 1 - 1);
        const want = await tfc.spectral.irfft(tfc.spectral.rfft(tfc.tensor(im.data as Float32Array, [2, n]))).data();
        expect(back!.shape).toEqual([2, even]);
        expectClose(back!, Array.from(want), tol);
      }
    }
  });

  it('bad fft_length is an InvalidArgumentError naming the op', async () => {
    const x = randomArray([4], { seed: 1 });
    const g = new tf.Graph();
    const { p, n, y } = g.asDefault(() => {
      const p = tf.placeholder('float32', [4]);
      const n = tf.placeholder('int32', [1]);
      return { p, n, y: sp.rfft(p, { fftLength: n }) };
    });
    const sess = new tf.Session({ graph: g });
    await expect(sess.run(y, [[p, x], [n, tf.NDArray.from([-1], 'int32')]])).rejects.toThrow(/RFFT: fft_length must be non-negative/);
    sess.close();
  });
});

// ---- gradients and formats ---------------------------------------------------------------------------

describe('gradients', () => {
  for (const c of spectralCases) {
    it(`${c.ops.join('+')}: ${c.name}`, async () => {
      await checkGradients(c);
    });
  }

  it('d/dx sum(|rfft(x)|^2) is 2 N x (Parseval), also with fft_length and shapes known only when run', async () => {
    const x = randomArray([2, 6], { seed: 5 });
    const g = new tf.Graph();
    const { p, grads } = g.asDefault(() => {
      const p = tf.placeholder('float32', [null, null], 'x');
      const a = sp.complexAbs(sp.rfft(p));
      const spectrum = tf.reduceSum(tf.square(a));
      // |X_0|^2 + 2 sum |X_k|^2 (+ |X_{N/2}|^2) = N sum x^2: the loss with weights 1, 2, 2, 1.
      const w = tf.constant(tf.NDArray.from([1, 2, 2, 1], 'float32'));
      const parseval = tf.reduceSum(tf.multiply(tf.square(sp.complexAbs(sp.rfft(p, { fftLength: tf.constant(tf.NDArray.from([6], 'int32')) }))), w));
      return { p, grads: [...tf.gradients(spectrum, [p]), ...tf.gradients(parseval, [p])] as tf.Tensor[] };
    });
    const sess = new tf.Session({ graph: g });
    const [gs, gp] = (await sess.run(grads, [[p, x]])) as tf.NDArray[];
    sess.close();
    expectClose(gp!, Array.from(x.data as Float32Array, (v) => 2 * 6 * v), { atol: 1e-4 });
    // Without the weights: d/dx_n sum_k |X_k|^2 over the half spectrum, by the DFT directly.
    const xd = x.data as Float32Array;
    const want: number[] = [];
    for (let b = 0; b < 2; b++) {
      for (let n = 0; n < 6; n++) {
        let s = 0;
        for (let k = 0; k <= 3; k++) {
          let re = 0;
          let im = 0;
          for (let j = 0; j < 6; j++) {
            re += xd[b * 6 + j]! * Math.cos((2 * Math.PI * k * j) / 6);
            im -= xd[b * 6 + j]! * Math.sin((2 * Math.PI * k * j) / 6);
          }
          s += 2 * (re * Math.cos((2 * Math.PI * k * n) / 6) - im * Math.sin((2 * Math.PI * k * n) / 6));
        }
        want.push(s);
      }
    }
    expectClose(gs!, want, { atol: 1e-4 });
  });
});

describe('complex arithmetic in graphs (AddV2, Sub, Mul, Neg, AddN, Cast, tf.abs)', () => {
  it('computes what the formulas give', async () => {
    const a = randomComplex([2, 3], 30);
    const b = randomComplex([2, 3], 31);
    const [sum, diff, prod, neg, n3, re, cx, abs] = await runOps([a, b], (x, y) => [
      tf.add(x, y),
      tf.subtract(x, y),
      tf.multiply(x, y),
      tf.negative(x),
      tf.addN([x, y, x]),
      tf.cast(x, 'float32'),
      tf.cast(tf.cast(y, 'float32'), 'complex64'),
      tf.abs(x),
    ]);
    const A = splitComplex(a);
    const B = splitComplex(b);
    const pairs = (f: (k: number) => [number, number]): number[] => Array.from({ length: 6 }, (_, k) => f(k)).flat();
    expectClose(sum!, pairs((k) => [A.re[k]! + B.re[k]!, A.im[k]! + B.im[k]!]), { atol: 1e-6 });
    expectClose(diff!, pairs((k) => [A.re[k]! - B.re[k]!, A.im[k]! - B.im[k]!]), { atol: 1e-6 });
    expectClose(prod!, pairs((k) => [A.re[k]! * B.re[k]! - A.im[k]! * B.im[k]!, A.re[k]! * B.im[k]! + A.im[k]! * B.re[k]!]), { atol: 1e-6 });
    expectClose(neg!, pairs((k) => [-A.re[k]!, -A.im[k]!]), { atol: 0 });
    expectClose(n3!, pairs((k) => [2 * A.re[k]! + B.re[k]!, 2 * A.im[k]! + B.im[k]!]), { atol: 1e-6 });
    expectClose(re!, Array.from(A.re), { atol: 0 });
    expectClose(cx!, pairs((k) => [B.re[k]!, 0]), { atol: 0 });
    expectClose(abs!, Array.from(A.re, (v, k) => Math.hypot(v, A.im[k]!)), { atol: 1e-6 });
    const g = new tf.Graph();
    g.asDefault(() => expect(tf.abs(tf.placeholder('complex64', [2])).op.type).toBe('ComplexAbs'));
  });

  const w = randomComplex([2, 5], 33);
  const cases = [
    {
      name: 'real(ifft(fft(z) * w)) and imag(...): Mul of complex values (its gradient conjugates)',
      build: (x: tf.Tensor, y: tf.Tensor): tf.Tensor[] => [
        sp.real(sp.ifft(tf.multiply(sp.fft(sp.complex(x, y)), tf.constant(w)))),
        sp.imag(sp.ifft(tf.multiply(tf.constant(w), sp.fft(sp.complex(x, y))))),
      ],
    },
    {
      name: 'real(z * z - z) + imag(-z): a complex value used several times (gradients summed by AddN)',
      build: (x: tf.Tensor, y: tf.Tensor): tf.Tensor[] => {
        const z = sp.complex(x, y);
        return [tf.add(sp.real(tf.subtract(tf.multiply(z, z), z)), sp.imag(tf.negative(z)))];
      },
    },
    {
      name: 'cast(complex(x, y), float32) + imag(cast(x, complex64)): Cast carries the real part',
      build: (x: tf.Tensor, y: tf.Tensor): tf.Tensor[] => [tf.add(tf.cast(sp.complex(x, y), 'float32'), tf.multiply(sp.real(tf.cast(x, 'complex64')), 2))],
    },
  ];
  it('a broadcasting complex product has no gradient yet: Sum of complex64 is refused while building', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const z = tf.placeholder('complex64', [2, 5]);
      const y = sp.real(tf.multiply(z, tf.constant(randomComplex([5], 36))));
      expect(() => tf.gradients(y, [z])).toThrow(/Sum op .* is complex64, which this op does not support/);
    });
  });

  it('ops whose kernels move elements by index refuse complex64 while building, instead of mixing up (re, im) pairs', () => {
    new tf.Graph().asDefault(() => {
        const z = tf.placeholder('complex64', [2, 4], 'z');
        for (const [name, build] of [
          ['Transpose', () => tf.transpose(z)],
          ['Slice', () => tf.slice(z, [0, 1], [2, 2])],
          ['ConcatV2', () => tf.concat([z, z], 1)],
          ['Fill', () => tf.onesLike(z)], // tf.onesLike of a known shape fills
          ['Tile', () => tf.tile(z, [1, 2])],
        ] as const) {
          expect(build, name).toThrow(new RegExp(`${name} op .*input [01] \\([^)]*\\) is complex64, which this op does not support`));
        }
        expect(tf.shape(z).dtype).toBe('int32');
        expect(tf.reshape(z, [8]).dtype).toBe('complex64');
    });
  });

  for (const c of cases) {
    it(`gradient of ${c.name}`, async () => {
      await checkGradients({ ops: [], name: c.name, inputs: [randomArray([2, 5], { seed: 34 }), randomArray([2, 5], { seed: 35 })], build: c.build });
    });
  }
});

describe('GraphDef round trip', () => {
  it('complex constants and the FFT ops export, import and compute the same', async () => {
    const z = randomComplex([2, 4], 7);
    const x = randomArray([2, 4], { seed: 8 });
    const g = new tf.Graph();
    const names = g.asDefault(() => {
      const pz = tf.placeholder('complex64', [2, 4], 'z');
      const px = tf.placeholder('float32', [2, 4], 'x');
      const c = tf.constant(randomComplex([4], 9), undefined, undefined, 'c');
      const outs = [
        sp.fft(pz, { name: 'f' }),
        sp.ifft2d(pz, { name: 'i2' }),
        sp.rfft(px, { fftLength: [6], name: 'r' }),
        sp.irfft(sp.conj(pz), { fftLength: [5], name: 'ir' }),
        sp.angle(pz, { name: 'ang' }),
        sp.complexAbs(sp.conj(c), { name: 'abs' }),
        sp.complex(px, sp.imag(pz), { name: 'cx' }),
      ];
      return outs.map((t) => t.name);
    });
    const gd = graphToGraphDef(g);
    expect(gd.node!.find((n) => n.name === 'f')!.attr!.Tcomplex!.type).toBe(DT.DT_COMPLEX64);
    expect(gd.node!.find((n) => n.name === 'c')!.attr!.dtype!.type).toBe(DT.DT_COMPLEX64);
    const g2 = new tf.Graph();
    const imported = g2.asDefault(() => tf.importGraphDef(encodeMessage('GraphDef', gd), { returnElements: ['z:0', 'x:0', ...names] })) as tf.Tensor[];
    const run = async (gr: tf.Graph, fetches: tf.Tensor[], pz: tf.Tensor, px: tf.Tensor): Promise<tf.NDArray[]> => {
      const sess = new tf.Session({ graph: gr });
      try {
        return (await sess.run(fetches, [[pz, z], [px, x]])) as tf.NDArray[];
      } finally {
        sess.close();
      }
    };
    const [pz2, px2, ...fetches2] = imported;
    const before = await run(g, names.map((n) => g.getTensorByName(n)), g.getTensorByName('z:0'), g.getTensorByName('x:0'));
    const after = await run(g2, fetches2, pz2!, px2!);
    expect(after.map((a) => a.dtype)).toEqual(before.map((a) => a.dtype));
    after.forEach((a, k) => expectClose(a, before[k]!, { atol: 0 }));
  });
});
