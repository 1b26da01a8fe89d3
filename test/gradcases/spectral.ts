import * as tf from '../../src/index.js';
import * as sp from '../../src/api/spectral.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

// Complex values are built from two float inputs (their real and imaginary parts) and read back
// through Real and Imag, so every case differentiates a real function of real inputs. Each output
// has its own chain of ops: a complex tensor used twice would need its gradients summed (AddN on
// complex64), which these cases leave to the complex arithmetic kernels.

type Unary = (z: tf.Tensor) => tf.Tensor;

/** [real(f(complex(x, y))), imag(f(complex(x, y)))], each through its own f. */
const parts = (f: Unary) => (x: tf.Tensor, y: tf.Tensor): tf.Tensor[] => [sp.real(f(sp.complex(x, y))), sp.imag(f(sp.complex(x, y)))];

const pair = (shape: number[], seed: number): tf.NDArray[] => [randomArray(shape, { seed }), randomArray(shape, { seed: seed + 1 })];

/** A complex FFT op of any rank and direction, on z. */
const fftCase = (ops: string[], f: Unary, shape: number[], seed: number): GradCase => ({
  ops: ['Complex', 'Real', 'Imag', ...ops],
  name: `${ops.join('+')} over [${shape}]`,
  inputs: pair(shape, seed),
  build: parts(f),
});

export const spectralCases: GradCase[] = [
  {
    ops: ['Complex', 'Real', 'Imag'],
    name: 'complex(x, y) broadcasting y, read back',
    inputs: [randomArray([2, 3], { seed: 1 }), randomArray([3], { seed: 2 })],
    build: (x, y) => [tf.multiply(sp.real(sp.complex(x, y)), 2), tf.multiply(sp.imag(sp.complex(x, y)), 3)],
  },
  {
    ops: ['Complex', 'ComplexAbs'],
    name: '|complex(x, y)|',
    inputs: pair([2, 3], 3),
    build: (x, y) => sp.complexAbs(sp.complex(x, y)),
  },
  {
    ops: ['Complex', 'Angle'],
    name: 'angle(complex(x, y)) away from the branch cut',
    inputs: [randomArray([2, 3], { seed: 5, min: 0.5, max: 1.5 }), randomArray([2, 3], { seed: 6 })],
    build: (x, y) => sp.angle(sp.complex(x, y)),
  },
  fftCase(['Conj'], (z) => sp.conj(z), [2, 3], 7),
  fftCase(['FFT'], (z) => sp.fft(z), [2, 5], 9),
  fftCase(['IFFT'], (z) => sp.ifft(z), [3, 4], 11),
  fftCase(['FFT2D'], (z) => sp.fft2d(z), [2, 3, 4], 13),
  fftCase(['IFFT2D'], (z) => sp.ifft2d(z), [3, 2], 15),
  fftCase(['FFT3D'], (z) => sp.fft3d(z), [2, 2, 3], 17),
  fftCase(['IFFT3D'], (z) => sp.ifft3d(z), [1, 2, 3, 2], 19),
  ...[
    [6, 6],
    [5, 5],
    [6, 4],
    [5, 8],
  ].map(([m, n]): GradCase => ({
    ops: ['RFFT', 'Real', 'Imag'],
    name: `rfft of length ${m} with fft_length ${n}`,
    inputs: [randomArray([2, m!], { seed: 20 + m! + n! })],
    build: (x) => [sp.real(sp.rfft(x, { fftLength: [n!] })), sp.imag(sp.rfft(x, { fftLength: [n!] }))],
  })),
  ...[
    [4, 6],
    [3, 5],
    [5, 6],
    [2, 7],
  ].map(([m, n]): GradCase => ({
    ops: ['IRFFT', 'Complex'],
    name: `irfft of ${m} bins with fft_length ${n}`,
    inputs: pair([2, m!], 40 + m! + n!),
    build: (x, y) => sp.irfft(sp.complex(x, y), { fftLength: [n!] }),
  })),
  {
    ops: ['RFFT2D', 'Real', 'Imag'],
    name: 'rfft2d cropping one dim and padding the other',
    inputs: [randomArray([2, 4, 3], { seed: 60 })],
    build: (x) => [sp.real(sp.rfft2d(x, { fftLength: [3, 5] })), sp.imag(sp.rfft2d(x, { fftLength: [3, 5] }))],
  },
  {
    ops: ['IRFFT2D', 'Complex'],
    name: 'irfft2d with an odd last length',
    inputs: pair([3, 3], 62),
    build: (x, y) => sp.irfft2d(sp.complex(x, y), { fftLength: [3, 5] }),
  },
  {
    ops: ['RFFT3D', 'Real', 'Imag'],
    name: 'rfft3d',
    inputs: [randomArray([2, 3, 4], { seed: 64 })],
    build: (x) => [sp.real(sp.rfft3d(x)), sp.imag(sp.rfft3d(x))],
  },
  {
    ops: ['IRFFT3D', 'Complex'],
    name: 'irfft3d',
    inputs: pair([2, 2, 3], 66),
    build: (x, y) => sp.irfft3d(sp.complex(x, y), { fftLength: [2, 2, 4] }),
  },
];
