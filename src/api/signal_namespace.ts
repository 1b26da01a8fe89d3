// tf.signal (and TF 1.x's older name for it, tf.spectral): the discrete Fourier transforms.
export { fft, fft2d, fft3d, ifft, ifft2d, ifft3d, irfft, irfft2d, irfft3d, rfft, rfft2d, rfft3d } from './spectral.js';
