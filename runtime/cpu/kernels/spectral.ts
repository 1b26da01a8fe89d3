// CPU kernels of the complex-number ops (Complex, Real, Imag, ComplexAbs, Conj, Angle) and of the
// FFT family (FFT/IFFT, RFFT/IRFFT, 1 to 3 dims). complex64 values are interleaved (re, im) float32
// pairs; the transforms compute in float64 and round once. Any length: iterative radix-2 for powers
// of two, Bluestein's chirp-z (a power-of-two circular convolution) otherwise.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray, numElements } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import { vector } from '../../array_args.js';
import { registerCpuKernel } from '../registry.js';
import { broadcastOrThrow, forEachRun, type Outputs } from './util.js';

// ---- one-dimensional transforms ---------------------------------------------------------------------

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Radix-2 decimation-in-time FFT of a power-of-two length n, in place, unscaled; sign -1 forward, +1 inverse. */
class Radix2 {
  private readonly rev: Uint32Array;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;

  constructor(readonly n: number) {
    this.rev = new Uint32Array(n);
    const bits = Math.round(Math.log2(n));
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
    this.cos = new Float64Array(n >> 1);
    this.sin = new Float64Array(n >> 1);
    for (let k = 0; k < n >> 1; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
  }

  run(re: Float64Array, im: Float64Array, sign: -1 | 1): void {
    const { n, rev, cos, sin } = this;
    for (let i = 0; i < n; i++) {
      const j = rev[i]!;
      if (j > i) {
        let t = re[i]!;
        re[i] = re[j]!;
        re[j] = t;
        t = im[i]!;
        im[i] = im[j]!;
        im[j] = t;
      }
    }
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1;
      const step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < half; k++) {
          const wr = cos[k * step]!;
          const wi = sign * sin[k * step]!;
          const a = start + k;
          const b = a + half;
          const xr = re[b]! * wr - im[b]! * wi;
          const xi = re[b]! * wi + im[b]! * wr;
          re[b] = re[a]! - xr;
          im[b] = im[a]! - xi;
          re[a]! += xr;
          im[a]! += xi;
        }
      }
    }
  }
}

/**
 * Bluestein's algorithm for any length n: X_k = w_k * sum_j (x_j w_j) conj(w_{k-j}) with the chirp
 * w_k = exp(-i pi k^2 / n), the sum a circular convolution of power-of-two length m >= 2n - 1.
 */
class Bluestein {
  private readonly inner: Radix2;
  private readonly wr: Float64Array;
  private readonly wi: Float64Array;
  /** The transform of the convolution kernel conj(w), scaled by 1/m (the inverse's scale). */
  private readonly br: Float64Array;
  private readonly bi: Float64Array;
  private readonly ar: Float64Array;
  private readonly ai: Float64Array;

  constructor(readonly n: number) {
    let m = 1;
    while (m < 2 * n - 1) m <<= 1;
    this.inner = new Radix2(m);
    this.wr = new Float64Array(n);
    this.wi = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      // k^2 mod 2n keeps the angle small (exact in float64 for any n a typed array can hold).
      const angle = (Math.PI * ((k * k) % (2 * n))) / n;
      this.wr[k] = Math.cos(angle);
      this.wi[k] = -Math.sin(angle);
    }
    this.br = new Float64Array(m);
    this.bi = new Float64Array(m);
    for (let k = 0; k < n; k++) {
      this.br[k] = this.wr[k]! / m;
      this.bi[k] = -this.wi[k]! / m;
      if (k > 0) {
        this.br[m - k] = this.br[k]!;
        this.bi[m - k] = this.bi[k]!;
      }
    }
    this.inner.run(this.br, this.bi, -1);
    this.ar = new Float64Array(m);
    this.ai = new Float64Array(m);
  }

  run(re: Float64Array, im: Float64Array, sign: -1 | 1): void {
    const { n, wr, wi, br, bi, ar, ai } = this;
    const m = ar.length;
    // The inverse transform is the conjugate of the forward one of the conjugate.
    const c = -sign;
    for (let k = 0; k < n; k++) {
      const xr = re[k]!;
      const xi = c * im[k]!;
      ar[k] = xr * wr[k]! - xi * wi[k]!;
      ai[k] = xr * wi[k]! + xi * wr[k]!;
    }
    ar.fill(0, n);
    ai.fill(0, n);
    this.inner.run(ar, ai, -1);
    for (let k = 0; k < m; k++) {
      const xr = ar[k]!;
      const xi = ai[k]!;
      ar[k] = xr * br[k]! - xi * bi[k]!;
      ai[k] = xr * bi[k]! + xi * br[k]!;
    }
    this.inner.run(ar, ai, 1);
    for (let k = 0; k < n; k++) {
      const xr = ar[k]!;
      const xi = ai[k]!;
      re[k] = xr * wr[k]! - xi * wi[k]!;
      im[k] = c * (xr * wi[k]! + xi * wr[k]!);
    }
  }
}

/** An unscaled DFT of one length (sign -1 forward, +1 inverse), made once per kernel call and axis. */
type Transform1D = { run(re: Float64Array, im: Float64Array, sign: -1 | 1): void };

function transformOfLength(n: number): Transform1D | undefined {
  if (n <= 1) return undefined;
  return isPowerOfTwo(n) ? new Radix2(n) : new Bluestein(n);
}

/**
 * A complex value of `shape` as two float64 arrays, transformed along one axis at a time: each line
 * along the axis is gathered into a scratch line, transformed and scattered back.
 */
class ComplexGrid {
  readonly re: Float64Array;
  readonly im: Float64Array;

  constructor(readonly shape: readonly number[]) {
    const n = numElements(shape);
    this.re = new Float64Array(n);
    this.im = new Float64Array(n);
  }

  /** Strides in elements. */
  stride(axis: number): number {
    let s = 1;
    for (let d = axis + 1; d < this.shape.length; d++) s *= this.shape[d]!;
    return s;
  }

  /**
   * Runs `line` on every line along `axis` (gathered into re/im scratch lines of its length, written
   * back afterwards).
   */
  forEachLine(axis: number, line: (re: Float64Array, im: Float64Array) => void): void {
    const n = this.shape[axis]!;
    const total = this.re.length;
    if (n === 0 || total === 0) return;
    const inner = this.stride(axis);
    const outer = total / (n * inner);
    const lr = new Float64Array(n);
    const li = new Float64Array(n);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        for (let k = 0; k < n; k++) {
          lr[k] = this.re[base + k * inner]!;
          li[k] = this.im[base + k * inner]!;
        }
        line(lr, li);
        for (let k = 0; k < n; k++) {
          this.re[base + k * inner] = lr[k]!;
          this.im[base + k * inner] = li[k]!;
        }
      }
    }
  }

  /** The unscaled DFT along `axis`. */
  transform(axis: number, sign: -1 | 1): void {
    const t = transformOfLength(this.shape[axis]!);
    if (t) this.forEachLine(axis, (re, im) => t.run(re, im, sign));
  }
}

/**
 * Calls move(srcIndex, dstIndex) for each element of the block both shapes share (the smaller of
 * each dim, from index 0; no more than `limit` on the last dim): how crop/pad to fft_length moves values.
 */
function copyCommonBlock(srcShape: readonly number[], dstShape: readonly number[], move: (from: number, to: number) => void, limit = Infinity): void {
  const r = srcShape.length;
  const common = srcShape.map((d, i) => Math.min(d, dstShape[i]!, i === r - 1 ? limit : Infinity));
  if (numElements(common) === 0) return;
  const srcStrides = stridesOf(srcShape);
  const dstStrides = stridesOf(dstShape);
  const idx = new Array<number>(r).fill(0);
  const last = common[r - 1]!;
  for (;;) {
    let s = 0;
    let d = 0;
    for (let a = 0; a < r - 1; a++) {
      s += idx[a]! * srcStrides[a]!;
      d += idx[a]! * dstStrides[a]!;
    }
    for (let k = 0; k < last; k++) move(s + k, d + k);
    let a = r - 2;
    for (; a >= 0; a--) {
      if (++idx[a]! < common[a]!) break;
      idx[a] = 0;
    }
    if (a < 0) return;
  }
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

// ---- kernels --------------------------------------------------------------------------------------

function checkRank(x: NDArray, rank: number, op: string): void {
  if (x.rank < rank) throw new InvalidArgumentError(`${op}: input must have rank at least ${rank}, got shape ${formatShape(x.shape)}`);
}

/** The fft_length input: `rank` non-negative lengths. */
function fftLengths(a: NDArray, rank: number, op: string): number[] {
  const n = vector(a, `${op}: fft_length`);
  if (n.length !== rank) throw new InvalidArgumentError(`${op}: fft_length must have ${rank} elements, got [${n.join(',')}]`);
  if (n.some((d) => !Number.isInteger(d) || d < 0)) throw new InvalidArgumentError(`${op}: fft_length must be non-negative, got [${n.join(',')}]`);
  return n;
}

function gridFromComplex(x: NDArray): ComplexGrid {
  const g = new ComplexGrid(x.shape);
  const d = x.data as Float32Array;
  for (let i = 0; i < g.re.length; i++) {
    g.re[i] = d[2 * i]!;
    g.im[i] = d[2 * i + 1]!;
  }
  return g;
}

function writeComplex(outputs: Outputs, g: ComplexGrid, scale: number): NDArray {
  const out = outputs.alloc('complex64', g.shape);
  const d = out.data as Float32Array;
  for (let i = 0; i < g.re.length; i++) {
    d[2 * i] = g.re[i]! * scale;
    d[2 * i + 1] = g.im[i]! * scale;
  }
  return out;
}

/** Product of the innermost `rank` dims: the 1/n of an inverse transform. */
function innerCount(shape: readonly number[], rank: number): number {
  return numElements(shape.slice(shape.length - rank));
}

function complexFft(x: NDArray, rank: number, sign: -1 | 1, op: string, outputs: Outputs): NDArray {
  checkRank(x, rank, op);
  const g = gridFromComplex(x);
  for (let a = x.rank - rank; a < x.rank; a++) g.transform(a, sign);
  const n = innerCount(x.shape, rank);
  return writeComplex(outputs, g, sign === 1 && n > 0 ? 1 / n : 1);
}

/** RFFT: the input cropped/padded to fft_length, transformed, and the last axis's first n / 2 + 1 bins kept. */
function realFft(x: NDArray, lengths: number[], rank: number, op: string, outputs: Outputs): NDArray {
  checkRank(x, rank, op);
  const lead = x.shape.slice(0, x.rank - rank);
  const full = new ComplexGrid([...lead, ...lengths]);
  const xd = x.data as Float32Array;
  copyCommonBlock(x.shape, full.shape, (s, d) => {
    full.re[d] = xd[s]!;
  });
  for (let a = lead.length; a < full.shape.length; a++) full.transform(a, -1);
  const half = Math.floor(lengths[rank - 1]! / 2) + 1;
  const outShape = [...lead, ...lengths.slice(0, rank - 1), half];
  const out = outputs.alloc('complex64', outShape);
  const od = out.data as Float32Array;
  copyCommonBlock(full.shape, outShape, (s, d) => {
    od[2 * d] = full.re[s]!;
    od[2 * d + 1] = full.im[s]!;
  });
  return out;
}

/**
 * IRFFT: the half spectrum cropped/padded to fft_length (n / 2 + 1 bins on the last axis),
 * inverse-transformed along the leading axes, then each last-axis line completed by Hermitian
 * symmetry (bin k > n / 2 is conj(bin n - k)) and inverse-transformed; the real part, scaled by 1/n.
 */
function inverseRealFft(x: NDArray, lengths: number[], rank: number, op: string, outputs: Outputs): NDArray {
  checkRank(x, rank, op);
  const lead = x.shape.slice(0, x.rank - rank);
  const n = lengths[rank - 1]!;
  const half = Math.floor(n / 2) + 1;
  const full = new ComplexGrid([...lead, ...lengths]);
  const xd = x.data as Float32Array;
  // Bins 0 .. n / 2 of the input's last axis (those it has) go to the same bins of `full`.
  copyCommonBlock(
    x.shape,
    full.shape,
    (s, d) => {
      full.re[d] = xd[2 * s]!;
      full.im[d] = xd[2 * s + 1]!;
    },
    half,
  );
  for (let a = lead.length; a < full.shape.length - 1; a++) full.transform(a, 1);
  const t = transformOfLength(n);
  full.forEachLine(full.shape.length - 1, (re, im) => {
    for (let k = half; k < n; k++) {
      re[k] = re[n - k]!;
      im[k] = -im[n - k]!;
    }
    t?.run(re, im, 1);
  });
  const out = outputs.alloc('float32', full.shape);
  const od = out.data as Float32Array;
  const count = innerCount(full.shape, rank);
  const scale = count > 0 ? 1 / count : 1;
  for (let i = 0; i < od.length; i++) od[i] = full.re[i]! * scale;
  return out;
}

for (let rank = 1; rank <= 3; rank++) {
  const suffix = rank === 1 ? '' : `${rank}D`;
  registerCpuKernel(`FFT${suffix}`, ([x], node, _s, outputs) => [complexFft(x!, rank, -1, node.type, outputs)]);
  registerCpuKernel(`IFFT${suffix}`, ([x], node, _s, outputs) => [complexFft(x!, rank, 1, node.type, outputs)]);
  registerCpuKernel(`RFFT${suffix}`, ([x, n], node, _s, outputs) => [realFft(x!, fftLengths(n!, rank, node.type), rank, node.type, outputs)]);
  registerCpuKernel(`IRFFT${suffix}`, ([x, n], node, _s, outputs) => [inverseRealFft(x!, fftLengths(n!, rank, node.type), rank, node.type, outputs)]);
}

// ---- complex numbers ------------------------------------------------------------------------------

registerCpuKernel('Complex', ([re, im], _node, _s, outputs) => {
  const shape = broadcastOrThrow(re!.shape, im!.shape);
  const out = outputs.alloc('complex64', shape);
  const od = out.data as Float32Array;
  const rd = re!.data as Float32Array;
  const id = im!.data as Float32Array;
  forEachRun([re!.shape, im!.shape], shape, (o, offs, inner, n) => {
    for (let k = 0; k < n; k++) {
      od[2 * (o + k)] = rd[offs[0]! + k * inner[0]!]!;
      od[2 * (o + k) + 1] = id[offs[1]! + k * inner[1]!]!;
    }
  });
  return [out];
});

/** A complex64 -> float32 elementwise kernel. */
function complexToReal(type: string, f: (re: number, im: number) => number): void {
  registerCpuKernel(type, ([x], _node, _s, outputs) => {
    const out = outputs.alloc('float32', x!.shape);
    const od = out.data as Float32Array;
    const xd = x!.data as Float32Array;
    for (let i = 0; i < od.length; i++) od[i] = f(xd[2 * i]!, xd[2 * i + 1]!);
    return [out];
  });
}

complexToReal('Real', (re) => re);
complexToReal('Imag', (_re, im) => im);
complexToReal('ComplexAbs', (re, im) => Math.hypot(re, im));
complexToReal('Angle', (re, im) => Math.atan2(im, re));

registerCpuKernel('Conj', ([x], _node, _s, outputs) => {
  const out = outputs.alloc('complex64', x!.shape);
  const od = out.data as Float32Array;
  const xd = x!.data as Float32Array;
  for (let i = 0; i < od.length; i += 2) {
    od[i] = xd[i]!;
    od[i + 1] = -xd[i + 1]!;
  }
  return [out];
});

// ---- complex arithmetic, for the math kernels' complex64 branch -----------------------------------

type ComplexPart = (ar: number, ai: number, br: number, bi: number, out: Float32Array, o: number) => void;

const COMPLEX_BINARY: Readonly<Record<string, ComplexPart>> = {
  AddV2: (ar, ai, br, bi, out, o) => {
    out[o] = ar + br;
    out[o + 1] = ai + bi;
  },
  Sub: (ar, ai, br, bi, out, o) => {
    out[o] = ar - br;
    out[o + 1] = ai - bi;
  },
  Mul: (ar, ai, br, bi, out, o) => {
    out[o] = ar * br - ai * bi;
    out[o + 1] = ar * bi + ai * br;
  },
  // Smith's division: no overflow or underflow from squaring the divisor.
  RealDiv: (ar, ai, br, bi, out, o) => {
    if (Math.abs(br) >= Math.abs(bi)) {
      const r = bi / br;
      const d = br + bi * r;
      out[o] = (ar + ai * r) / d;
      out[o + 1] = (ai - ar * r) / d;
    } else {
      const r = br / bi;
      const d = br * r + bi;
      out[o] = (ar * r + ai) / d;
      out[o + 1] = (ai * r - ar) / d;
    }
  },
};

/** Whether `complexBinary` computes op `type` (AddV2, Sub, Mul, RealDiv). */
export const hasComplexBinary = (type: string): boolean => Object.hasOwn(COMPLEX_BINARY, type);

/** A broadcasting binary op on complex64 operands. */
export function complexBinary(type: string, a: NDArray, b: NDArray, outputs: Outputs): NDArray {
  const f = COMPLEX_BINARY[type];
  if (!f) throw new InvalidArgumentError(`${type} has no complex64 kernel`);
  const shape = broadcastOrThrow(a.shape, b.shape);
  const out = outputs.alloc('complex64', shape);
  const od = out.data as Float32Array;
  const ad = a.data as Float32Array;
  const bd = b.data as Float32Array;
  forEachRun([a.shape, b.shape], shape, (o, offs, inner, n) => {
    for (let k = 0; k < n; k++) {
      const i = 2 * (offs[0]! + k * inner[0]!);
      const j = 2 * (offs[1]! + k * inner[1]!);
      f(ad[i]!, ad[i + 1]!, bd[j]!, bd[j + 1]!, od, 2 * (o + k));
    }
  });
  return out;
}

/** -z of a complex64 array. */
export function complexNeg(x: NDArray, outputs: Outputs): NDArray {
  const out = outputs.alloc('complex64', x.shape);
  const od = out.data as Float32Array;
  const xd = x.data as Float32Array;
  for (let i = 0; i < od.length; i++) od[i] = -xd[i]!;
  return out;
}

/**
 * Cast to or from complex64, as TF casts: a real value becomes (value, 0); a complex one becomes
 * its real part (then cast on to `to`). Only float32 and complex64 are supported here.
 */
export function castComplex(x: NDArray, to: string, outputs: Outputs): NDArray {
  const xd = x.data as Float32Array;
  if (x.dtype === 'complex64' && to === 'complex64') {
    const out = outputs.alloc('complex64', x.shape);
    (out.data as Float32Array).set(xd);
    return out;
  }
  if (x.dtype === 'complex64' && to === 'float32') {
    const out = outputs.alloc('float32', x.shape);
    const od = out.data as Float32Array;
    for (let i = 0; i < od.length; i++) od[i] = xd[2 * i]!;
    return out;
  }
  if (x.dtype === 'float32' && to === 'complex64') {
    const out = outputs.alloc('complex64', x.shape);
    const od = out.data as Float32Array;
    for (let i = 0; i < xd.length; i++) od[2 * i] = xd[i]!;
    return out;
  }
  throw new InvalidArgumentError(`Cast ${x.dtype} to ${to} is not supported (complex64 casts to and from float32 only)`);
}
