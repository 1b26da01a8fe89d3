// Complex numbers and discrete Fourier transforms as TF 1.15 has them: tf.complex, tf.real,
// tf.imag, tf.conj, tf.angle and tf.abs of a complex tensor (math_ops.py), and tf.signal's FFTs
// (spectral_ops.py). Each function creates the op TF1 creates, with TF1's default name.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import { type AttrValue, type Graph, Tensor } from '../graph.js';
import { type IntArrayLike, shape as shapeOf, slice, stack, zerosLike } from './array.js';
import { abs as realAbs, add, less, multiply, subtract, where } from './math.js';

export interface NameOption {
  name?: string;
}

/** Runs `build` in the name scope `name`, in the graph of the inputs; `scope` names the op exactly. */
function inScope<T>(name: string, values: readonly unknown[], build: (g: Graph, scope: string) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => build(g, scope)));
}

function createOp(g: Graph, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, scope: string): Tensor {
  return g.createOp(type, inputs, attrs, { name: scope }).outputs[0]!;
}

/** A JS value or tensor as a tensor: complex64 for a JS value given where a complex input is expected. */
function toTensor(v: TensorLike, dtype: DType | undefined, what: string): Tensor {
  if (v instanceof Tensor) return v;
  if (v instanceof NDArray) return convertToTensor(v, undefined, what, what);
  return convertToTensor(v, dtype, what, what);
}

function requireComplex(t: Tensor, fn: string, what: string): void {
  if (t.dtype !== 'complex64') throw new InvalidArgumentError(`${fn}: ${what} (${t.name}) must be complex64, got ${t.dtype}`);
}

/** tf.complex(real, imag): real + imag·i, broadcasting; both float32 (TF: float or double). */
export function complex(real: TensorLike, imag: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'Complex', [real, imag], (g, scope) => {
    const re = toTensor(real, 'float32', 'real');
    const im = toTensor(imag, 'float32', 'imag');
    if (re.dtype !== im.dtype) throw new InvalidArgumentError(`complex: real (${re.name}) is ${re.dtype} but imag (${im.name}) is ${im.dtype}`);
    return createOp(g, 'Complex', [re, im], { T: re.dtype, Tout: 'complex64' }, scope);
  });
}

/** tf.real: the real part of a complex tensor; a real tensor is returned as it is. */
export function real(input: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'Real', [input], (g, scope) => {
    const x = toTensor(input, undefined, 'input');
    return x.dtype === 'complex64' ? createOp(g, 'Real', [x], { T: x.dtype, Tout: 'float32' }, scope) : x;
  });
}

/** tf.imag: the imaginary part of a complex tensor; zeros for a real one. */
export function imag(input: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'Imag', [input], (g, scope) => {
    const x = toTensor(input, undefined, 'input');
    return x.dtype === 'complex64' ? createOp(g, 'Imag', [x], { T: x.dtype, Tout: 'float32' }, scope) : zerosLike(x);
  });
}

/** tf.conj: the complex conjugate; a real numeric tensor is returned as it is. */
export function conj(x: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'Conj', [x], (g, scope) => {
    const t = toTensor(x, undefined, 'input');
    if (t.dtype === 'complex64') return createOp(g, 'Conj', [t], { T: t.dtype }, scope);
    if (t.dtype === 'string' || t.dtype === 'bool' || t.dtype === 'variant') {
      throw new InvalidArgumentError(`conj: expected a numeric or complex tensor, got ${t.dtype} (${t.name})`);
    }
    return t;
  });
}

/** tf.angle: the argument atan2(imag, real) of a complex tensor; of a real one, pi where it is negative, else 0. */
export function angle(input: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'Angle', [input], (g, scope) => {
    const x = toTensor(input, undefined, 'input');
    if (x.dtype === 'complex64') return createOp(g, 'Angle', [x], { T: x.dtype, Tout: 'float32' }, scope);
    const zero = zerosLike(x);
    return where(less(x, zero), add(zero, Math.PI), zero);
  });
}

/** |x| of a complex tensor (ComplexAbs, what tf.abs builds for complex inputs); tf.abs otherwise. */
export function complexAbs(x: TensorLike, opts: NameOption = {}): Tensor {
  const t = toTensor(x, undefined, 'x');
  if (t.dtype !== 'complex64') return realAbs(t, opts.name ?? 'Abs');
  return inScope(opts.name ?? 'ComplexAbs', [t], (g, scope) => createOp(g, 'ComplexAbs', [t], { T: t.dtype, Tout: 'float32' }, scope));
}

// ---- FFTs ----------------------------------------------------------------------------------------

/** The complex-to-complex FFT op of each rank and direction. */
export const FFT_OPS = {
  forward: ['FFT', 'FFT2D', 'FFT3D'],
  inverse: ['IFFT', 'IFFT2D', 'IFFT3D'],
} as const;
/** The real-to-complex (forward) and complex-to-real (inverse) FFT op of each rank. */
export const REAL_FFT_OPS = {
  forward: ['RFFT', 'RFFT2D', 'RFFT3D'],
  inverse: ['IRFFT', 'IRFFT2D', 'IRFFT3D'],
} as const;

/** A complex-to-complex FFT op over the innermost `rank` dims. */
export function fftOp(type: string, input: TensorLike, name: string): Tensor {
  return inScope(name, [input], (g, scope) => {
    const x = toTensor(input, 'complex64', 'input');
    requireComplex(x, type, 'input');
    return createOp(g, type, [x], { Tcomplex: 'complex64' }, scope);
  });
}

/**
 * fft_length as TF infers it when not given: the innermost `rank` dims of the input, with the last
 * one of an inverse real FFT's output 2 * (n - 1) (spectral_ops.py's _infer_fft_length_for_*).
 */
function inferFftLength(x: Tensor, rank: number, inverse: boolean): Tensor | number[] {
  const s = x.shape;
  if (s !== null && s.length >= rank) {
    const dims = s.slice(s.length - rank);
    if (dims.every((d) => d !== null)) {
      const n = dims as number[];
      if (inverse) n[rank - 1] = Math.max(0, 2 * (n[rank - 1]! - 1));
      return n;
    }
  }
  if (x.rank === null) throw new InvalidArgumentError(`fft_length of ${x.name} cannot be inferred: its rank is unknown`);
  const dims = slice(shapeOf(x), [x.rank - rank], [rank]);
  if (!inverse) return dims;
  const mask = new NDArray(Int32Array.from({ length: rank }, (_, i) => (i === rank - 1 ? 1 : 0)), [rank]);
  // dims with the last one d replaced by 2 * (d - 1): dims + mask * (d - 2).
  return add(dims, multiply(convertToTensor(mask), subtract(slice(dims, [rank - 1], [1]), 2)));
}

/** A real FFT op (RFFT*, IRFFT*) with its fft_length input. */
export function realFftOp(type: string, input: TensorLike, fftLength: IntArrayLike | null | undefined, rank: number, inverse: boolean, name: string): Tensor {
  return inScope(name, [input, fftLength], (g, scope) => {
    const x = toTensor(input, inverse ? 'complex64' : 'float32', 'input_tensor');
    if (inverse) requireComplex(x, type, 'input_tensor');
    else if (x.dtype !== 'float32') throw new InvalidArgumentError(`${type}: input_tensor (${x.name}) must be float32, got ${x.dtype}`);
    const len = fftLength ?? inferFftLength(x, rank, inverse);
    const n = Array.isArray(len) && len.some((d) => d instanceof Tensor) ? stack(len as (number | Tensor)[], 0, 'fft_length') : convertToTensor(len as TensorLike, 'int32', 'fft_length', 'fft_length');
    return createOp(g, type, [x, n], {}, scope);
  });
}

export type FftLengthOptions = NameOption & {
  /** The FFT length of each transformed dim (default: the input's, 2 * (n - 1) for the inverse's last). */
  fftLength?: IntArrayLike;
};

export const fft = (input: TensorLike, opts: NameOption = {}): Tensor => fftOp('FFT', input, opts.name ?? 'FFT');
export const ifft = (input: TensorLike, opts: NameOption = {}): Tensor => fftOp('IFFT', input, opts.name ?? 'IFFT');
export const fft2d = (input: TensorLike, opts: NameOption = {}): Tensor => fftOp('FFT2D', input, opts.name ?? 'FFT2D');
export const ifft2d = (input: TensorLike, opts: NameOption = {}): Tensor => fftOp('IFFT2D', input, opts.name ?? 'IFFT2D');
export const fft3d = (input: TensorLike, opts: NameOption = {}): Tensor => fftOp('FFT3D', input, opts.name ?? 'FFT3D');
export const ifft3d = (input: TensorLike, opts: NameOption = {}): Tensor => fftOp('IFFT3D', input, opts.name ?? 'IFFT3D');

export const rfft = (input: TensorLike, opts: FftLengthOptions = {}): Tensor => realFftOp('RFFT', input, opts.fftLength, 1, false, opts.name ?? 'rfft');
export const irfft = (input: TensorLike, opts: FftLengthOptions = {}): Tensor => realFftOp('IRFFT', input, opts.fftLength, 1, true, opts.name ?? 'irfft');
export const rfft2d = (input: TensorLike, opts: FftLengthOptions = {}): Tensor => realFftOp('RFFT2D', input, opts.fftLength, 2, false, opts.name ?? 'rfft2d');
export const irfft2d = (input: TensorLike, opts: FftLengthOptions = {}): Tensor => realFftOp('IRFFT2D', input, opts.fftLength, 2, true, opts.name ?? 'irfft2d');
export const rfft3d = (input: TensorLike, opts: FftLengthOptions = {}): Tensor => realFftOp('RFFT3D', input, opts.fftLength, 3, false, opts.name ?? 'rfft3d');
export const irfft3d = (input: TensorLike, opts: FftLengthOptions = {}): Tensor => realFftOp('IRFFT3D', input, opts.fftLength, 3, true, opts.name ?? 'irfft3d');
