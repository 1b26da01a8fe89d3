import { describe, expect, it } from 'vitest';
import { decode } from 'fast-png';
import { trainCnn } from '../examples/mnist-cnn/main.js';
import { trainBn } from '../examples/mnist-bn/main.js';
import { gridPng, trainGan } from '../examples/mnist-gan/main.js';

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('nn examples (tiny runs)', () => {
  it('mnist-cnn: the Deep MNIST layers are named as TF names them and the loss comes down', async () => {
    const r = await trainCnn({ epochs: 1, trainCount: 400, testCount: 100, batchSize: 20 });
    expect(r.variables).toEqual([
      'conv2d/kernel:0',
      'conv2d/bias:0',
      'conv2d_1/kernel:0',
      'conv2d_1/bias:0',
      'dense/kernel:0',
      'dense/bias:0',
      'dense_1/kernel:0',
      'dense_1/bias:0',
    ]);
    expect(r.batchLosses).toHaveLength(20);
    expect(r.batchLosses[0]!).toBeGreaterThan(1.8); // about ln(10) at the start
    expect(mean(r.batchLosses.slice(-5))).toBeLessThan(0.8 * mean(r.batchLosses.slice(0, 5)));
    expect(r.testAccuracy).toBeGreaterThan(0.3);
  });

  it('mnist-bn: update ops run with the train op and inference with the moving statistics works', async () => {
    const r = await trainBn({ epochs: 2, trainCount: 500, testCount: 200, momentum: 0.5 });
    expect(r.updateOps).toHaveLength(6);
    expect(r.movingVariables).toEqual([
      'batch_normalization/moving_mean:0',
      'batch_normalization/moving_variance:0',
      'batch_normalization_1/moving_mean:0',
      'batch_normalization_1/moving_variance:0',
      'batch_normalization_2/moving_mean:0',
      'batch_normalization_2/moving_variance:0',
    ]);
    expect(mean(r.batchLosses.slice(-5))).toBeLessThan(0.5 * mean(r.batchLosses.slice(0, 5)));
    expect(r.testAccuracyBatchStats).toBeGreaterThan(0.6);
    expect(r.testAccuracy).toBeGreaterThan(0.6);
  });

  it('mnist-gan: both networks train in their own scopes (the discriminator shared) and the samples become a PNG', async () => {
    const r = await trainGan({ epochs: 1, trainCount: 256, batchSize: 32, samples: 4 });
    expect(r.generatorVariables).toEqual([
      'generator/dense/kernel:0',
      'generator/batch_normalization/gamma:0',
      'generator/batch_normalization/beta:0',
      'generator/conv2d_transpose/kernel:0',
      'generator/batch_normalization_1/gamma:0',
      'generator/batch_normalization_1/beta:0',
      'generator/conv2d_transpose_1/kernel:0',
      'generator/conv2d_transpose_1/bias:0',
    ]);
    expect(r.discriminatorVariables).toEqual([
      'discriminator/conv2d/kernel:0',
      'discriminator/conv2d/bias:0',
      'discriminator/conv2d_1/kernel:0',
      'discriminator/conv2d_1/bias:0',
      'discriminator/dense/kernel:0',
      'discriminator/dense/bias:0',
    ]);
    const s = r.epochs[0]!;
    for (const v of [s.dLoss, s.gLoss, s.dReal, s.dFake]) expect(Number.isFinite(v)).toBe(true);
    expect(r.images.shape).toEqual([4, 28, 28]);
    const px = Array.from(r.images.data as Float32Array);
    expect(Math.min(...px)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...px)).toBeLessThanOrEqual(1);
    const png = decode(gridPng(r.images));
    expect([png.width, png.height, png.channels]).toEqual([62, 62, 1]);
  });
});
