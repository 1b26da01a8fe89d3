// Complex-number and FFT op definitions: Complex, Real, Imag, ComplexAbs, Conj, Angle (TF's
// math_ops.cc) and the FFT family (spectral_ops.cc). Gradients are TF's (math_grad.py,
// spectral_grad.py), with complex values scaled and masked part by part (their real and imaginary
// parts as float32), so they need no complex arithmetic beyond these ops.
import { makeConst, graphOf } from '../src/convert.js';
import type { DType } from '../src/core/dtypes.js';
import { UnimplementedError } from '../src/core/errors.js';
import { NDArray } from '../src/core/ndarray.js';
import { broadcastStatic, formatShape, type Dim } from '../src/core/shape.js';
import type { Operation, Tensor } from '../src/graph.js';
import { concat, pad, range, reshape, shape as shapeOf, slice, stack, zeros } from '../src/api/array.js';
import { add, cast, divide, divNoNan, equal, floorDiv, minimum, multiply, negative, reduceProd, reduceSum, square, subtract } from '../src/api/math.js';
import { complex, conj, FFT_OPS, fftOp, imag, real, REAL_FFT_OPS, realFftOp } from '../src/api/spectral.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, FLOAT, optAttr } from './util.js';

const COMPLEX: readonly DType[] = ['complex64'];

// ---- complex numbers ------------------------------------------------------------------------------

function broadcastGradientArgs(s0: Tensor, s1: Tensor): [Tensor, Tensor] {
  const op = graphOf([s0]).createOp('BroadcastGradientArgs', [s0, s1], { T: s0.dtype });
  return [op.outputs[0]!, op.outputs[1]!];
}

registerOp({
  complex: true,
  type: 'Complex',
  inputs: ['real', 'imag'],
  attrs: { T: 'type', Tout: 'type' },
  shape: (ctx: ShapeContext): OutputSpec[] => {
    const [re, im] = [ctx.inputs[0]!, ctx.inputs[1]!];
    checkDType(ctx, 0, FLOAT, 'real');
    if (im.dtype !== re.dtype) ctx.fail(`real (${re.name}) is ${re.dtype} but imag (${im.name}) is ${im.dtype}`);
    checkTout(ctx, 'complex64');
    const shape = broadcastStatic(re.shape, im.shape);
    if (shape === undefined) ctx.fail(`shapes ${formatShape(re.shape)} (real: ${re.name}) and ${formatShape(im.shape)} (imag: ${im.name}) cannot be broadcast together`);
    return [{ dtype: 'complex64', shape }];
  },
  grad: (op, [g]) => {
    const [x, y] = op.inputs as [Tensor, Tensor];
    const same = x.shape !== null && y.shape !== null && x.shape.every((d) => d !== null) && formatShape(x.shape) === formatShape(y.shape);
    if (same) return [real(g!), imag(g!)];
    const [sx, sy] = [shapeOf(x), shapeOf(y)];
    const [rx, ry] = broadcastGradientArgs(sx, sy);
    return [reshape(reduceSum(real(g!), rx), sx), reshape(reduceSum(imag(g!), ry), sy)];
  },
});

/** Tout, when the op has it, must be `expected` (weir has one real and one complex dtype). */
function checkTout(ctx: ShapeContext, expected: DType): void {
  const tout = optAttr<DType>(ctx, 'Tout', expected);
  if (tout !== expected) ctx.fail(`attr Tout is ${tout}, expected ${expected}`);
}

/** A complex64 -> float32 elementwise op (Real, Imag, ComplexAbs, Angle). */
function complexToReal(type: string, input: string, grad: (op: Operation, g: Tensor) => Tensor): void {
  registerOp({
    complex: true,
    type,
    inputs: [input],
    attrs: { T: 'type', Tout: 'type' },
    shape: (ctx) => {
      checkDType(ctx, 0, COMPLEX, input);
      checkTout(ctx, 'float32');
      return [{ dtype: 'float32', shape: ctx.inputs[0]!.shape }];
    },
    grad: (op, [g]) => [grad(op, g!)],
  });
}

// d|z|/dRe z = Re z / |z|, d|z|/dIm z = Im z / |z| (0 where z = 0, as TF's div_no_nan gives).
complexToReal('Real', 'input', (_op, g) => complex(g, 0));
complexToReal('Imag', 'input', (_op, g) => complex(0, g));
complexToReal('ComplexAbs', 'x', (op, g) => {
  const z = op.inputs[0]!;
  const scale = divNoNan(g, op.outputs[0]!);
  return complex(multiply(real(z), scale), multiply(imag(z), scale));
});
// d atan2(b, a) = (a db - b da) / |z|^2.
complexToReal('Angle', 'input', (op, g) => {
  const z = op.inputs[0]!;
  const [a, b] = [real(z), imag(z)];
  const scale = divide(g, add(square(a), square(b)));
  return complex(negative(multiply(b, scale)), multiply(a, scale));
});

registerOp({
  complex: true,
  type: 'Conj',
  inputs: ['input'],
  attrs: { T: 'type' },
  involution: true,
  shape: (ctx) => [{ dtype: checkDType(ctx, 0, COMPLEX, 'input'), shape: ctx.inputs[0]!.shape }],
  grad: (_op, [g]) => [conj(g!)],
});

// ---- FFTs -----------------------------------------------------------------------------------------

/** Input 0 must have at least `rank` dims; returns its shape (null when its rank is unknown). */
function innerDims(ctx: ShapeContext, rank: number, what: string): Dim[] | null {
  const t = ctx.inputs[0]!;
  if (t.shape !== null && t.shape.length < rank) ctx.fail(`${what} (${t.name}) must have rank at least ${rank}, got shape ${formatShape(t.shape)}`);
  return t.shape === null ? null : [...t.shape];
}

/** z with its real and imaginary parts each multiplied by the real `s` (broadcasting). */
function scaleComplex(z: Tensor, s: Tensor | number): Tensor {
  return complex(multiply(real(z), s), multiply(imag(z), s));
}

/** The innermost `rank` dims of t as an int32 vector (a constant when they are static). */
function innerShape(t: Tensor, rank: number): Tensor {
  const s = t.shape;
  if (s === null) throw new UnimplementedError(`the gradient of an FFT needs the rank of ${t.name}, which is unknown`);
  const dims = s.slice(s.length - rank);
  if (dims.every((d) => d !== null)) return makeConst(t.graph, new NDArray(Int32Array.from(dims as number[]), [rank]), 'dims');
  return slice(shapeOf(t), [s.length - rank], [rank]);
}

/** The number of points of the transform: the product of the innermost `rank` dims, as float32. */
function transformSize(dims: Tensor): Tensor {
  return cast(reduceProd(dims), 'float32');
}

function registerComplexFft(rank: number, inverse: boolean): void {
  const type = (inverse ? FFT_OPS.inverse : FFT_OPS.forward)[rank - 1]!;
  const adjointType = (inverse ? FFT_OPS.forward : FFT_OPS.inverse)[rank - 1]!;
  registerOp({
    complex: true,
    type,
    inputs: ['input'],
    attrs: { Tcomplex: 'type' },
    shape: (ctx) => {
      checkDType(ctx, 0, COMPLEX, 'input');
      return [{ dtype: 'complex64', shape: innerDims(ctx, rank, 'input') }];
    },
    // The adjoint of the DFT is n times the inverse DFT: FFT's gradient is n * IFFT(g), IFFT's is FFT(g) / n.
    grad: (_op, [g]) => {
      const n = transformSize(innerShape(g!, rank));
      const back = fftOp(adjointType, g!, adjointType);
      return [scaleComplex(back, inverse ? divide(1, n) : n)];
    },
  });
}

/** fft_length: an int32 vector of `rank` elements; its elements as far as known. */
function fftLengths(ctx: ShapeContext, rank: number): Dim[] {
  const t = ctx.inputs[1]!;
  checkDType(ctx, 1, ['int32'], 'fft_length');
  if (t.shape !== null && (t.shape.length !== 1 || (t.shape[0] !== null && t.shape[0] !== rank))) {
    ctx.fail(`fft_length (${t.name}) must be a vector of ${rank} elements, got shape ${formatShape(t.shape)}`);
  }
  const known = t.knownElements;
  const dims = known && known.length === rank ? [...known] : new Array<Dim>(rank).fill(null);
  dims.forEach((d) => {
    if (d !== null && d < 0) ctx.fail(`fft_length (${t.name}) must not be negative, got [${dims.join(', ')}]`);
  });
  return dims;
}

/** The bins of the half spectrum along an axis of n points: 0 .. n / 2. */
function halfBins(n: Tensor): Tensor {
  return range(0, add(floorDiv(n, 2), 1));
}

/**
 * The weights of the half spectrum's bins along the last axis in a real signal's full spectrum,
 * for the last of the fft lengths `lengths`: 1 for the zero frequency and (n even) the Nyquist one,
 * 2 for the others (each stands for a conjugate pair). A float32 vector of n / 2 + 1 elements.
 */
function lastAxisWeights(lengths: Tensor, rank: number): Tensor {
  const known = lengths.knownElements;
  const last = known && known.length === rank ? known[rank - 1] : null;
  if (last !== null && last !== undefined) {
    const w = Float32Array.from({ length: Math.floor(last / 2) + 1 }, (_, k) => (k === 0 || 2 * k === last ? 1 : 2));
    return makeConst(lengths.graph, new NDArray(w, [w.length]), 'bin_weights');
  }
  const n = reshape(slice(lengths, [rank - 1], [1]), []);
  const k = halfBins(n);
  const isZero = cast(equal(k, 0), 'float32');
  const isNyquist = cast(equal(multiply(k, 2), n), 'float32');
  return subtract(subtract(2, isZero), isNyquist);
}

/**
 * The adjoint of cropping/padding the innermost `rank` dims of a value shaped like `x` to
 * `lengths`: g (of the cropped/padded shape) cropped to what was kept and padded with zeros back
 * to x's dims. A no-op (no ops) when both are static and equal.
 */
function uncropInner(g: Tensor, x: Tensor, lengths: Tensor, rank: number): Tensor {
  const xs = x.shape;
  if (xs === null) throw new UnimplementedError(`the gradient of a real FFT needs the rank of ${x.name}, which is unknown`);
  const lead = xs.length - rank;
  const known = lengths.knownElements;
  const inner = xs.slice(lead);
  if (known && inner.every((d, i) => d !== null && d === known[i])) return g;
  const m = innerShape(x, rank);
  const keep = minimum(m, lengths);
  const begin = new Array<number>(xs.length).fill(0);
  const size = concat([makeConst(g.graph, NDArray.from(new Array<number>(lead).fill(-1), 'int32', [lead]), 'lead'), keep], 0);
  const kept = slice(g, begin, size);
  const after = subtract(m, keep);
  const paddings = concat([zeros([lead, 2], 'int32'), stack([zeros([rank], 'int32'), after], 1)], 0);
  return pad(kept, paddings);
}

function registerRealFft(rank: number, inverse: boolean): void {
  const type = (inverse ? REAL_FFT_OPS.inverse : REAL_FFT_OPS.forward)[rank - 1]!;
  const adjointType = (inverse ? REAL_FFT_OPS.forward : REAL_FFT_OPS.inverse)[rank - 1]!;
  registerOp({
    complex: true,
    type,
    inputs: ['input', 'fft_length'],
    attrs: {},
    shape: (ctx): OutputSpec[] => {
      checkDType(ctx, 0, inverse ? COMPLEX : FLOAT, 'input');
      const lengths = fftLengths(ctx, rank);
      const dims = innerDims(ctx, rank, 'input');
      if (dims === null) return [{ dtype: inverse ? 'float32' : 'complex64', shape: null }];
      const lead = dims.length - rank;
      lengths.forEach((n, i) => {
        dims[lead + i] = i === rank - 1 && !inverse && n !== null ? Math.floor(n / 2) + 1 : n;
      });
      return [{ dtype: inverse ? 'float32' : 'complex64', shape: dims }];
    },
    // RFFT is x -> the half spectrum of (x cropped/padded to fft_length). Its adjoint maps g to
    // n * IRFFT(g / weights) cropped/padded back; IRFFT's adjoint maps g to RFFT(g) * weights / n
    // cropped/padded back to the input's dims, where weights count each bin's conjugate pair.
    grad: (op, [g]) => {
      const [x, lengths] = op.inputs as [Tensor, Tensor];
      const n = transformSize(lengths);
      const w = lastAxisWeights(lengths, rank);
      if (!inverse) {
        const back = realFftOp(adjointType, scaleComplex(g!, divide(n, w)), lengths, rank, true, adjointType);
        return [uncropInner(back, x, lengths, rank), null];
      }
      const back = scaleComplex(realFftOp(adjointType, g!, lengths, rank, false, adjointType), divide(w, n));
      const inner = halfLengths(lengths, rank);
      return [complex(uncropInner(real(back), x, inner, rank), uncropInner(imag(back), x, inner, rank)), null];
    },
  });
}

/** The dims of a real FFT's half spectrum: fft_length with its last element n replaced by n / 2 + 1. */
function halfLengths(lengths: Tensor, rank: number): Tensor {
  const known = lengths.knownElements;
  if (known && known.length === rank && known.every((d) => d !== null)) {
    const dims = (known as number[]).map((d, i) => (i === rank - 1 ? Math.floor(d / 2) + 1 : d));
    return makeConst(lengths.graph, new NDArray(Int32Array.from(dims), [rank]), 'half_lengths');
  }
  const half = add(floorDiv(slice(lengths, [rank - 1], [1]), 2), 1);
  return rank === 1 ? half : concat([slice(lengths, [0], [rank - 1]), half], 0);
}

for (let rank = 1; rank <= 3; rank++) {
  registerComplexFft(rank, false);
  registerComplexFft(rank, true);
  registerRealFft(rank, false);
  registerRealFft(rank, true);
}

