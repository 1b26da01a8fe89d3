// The GAN variants of examples/mnist-gan (LSGAN, WGAN-GP) and examples/style-transfer, at tiny settings.
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { GP_WEIGHT, gradientPenalty, gridPng, trainGan } from '../examples/mnist-gan/main.js';
import { gram, meanTotalVariation, sideBySidePng, transferStyle } from '../examples/style-transfer/main.js';
import { checkGradients } from './gradcheck.js';
import { rng } from './helpers.js';

const randomArray = (shape: number[], r: () => number, scale = 1): tf.NDArray =>
  new tf.NDArray(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * (2 * r() - 1)), shape);

async function evaluate(build: () => tf.Tensor): Promise<tf.NDArray> {
  const g = new tf.Graph();
  const t = g.asDefault(build);
  const sess = new tf.Session({ graph: g });
  try {
    return await sess.run(t);
  } finally {
    sess.close();
  }
}

describe('WGAN-GP gradient penalty', () => {
  it('equals lambda (||w|| - 1)^2 for a linear critic, whose input gradient is w everywhere', async () => {
    const r = rng(1);
    const w = randomArray([1, 4, 4, 1], r);
    const real = randomArray([3, 4, 4, 1], r);
    const fake = randomArray([3, 4, 4, 1], r);
    const eps = new tf.NDArray(Float32Array.from([0.1, 0.5, 0.9]), [3, 1, 1, 1]);
    const got = await evaluate(() =>
      gradientPenalty((x) => tf.reduceSum(tf.multiply(x, tf.constant(w)), [1, 2, 3]), tf.constant(real), tf.constant(fake), tf.constant(eps)),
    );
    const norm = Math.hypot(...(w.data as Float32Array));
    expect(got.scalar()).toBeCloseTo(GP_WEIGHT * (norm - 1) ** 2, 3);
  });

  it("has the critic weights' gradient of central finite differences (second order through conv2d /2, bias, leaky relu, dense)", async () => {
    const r = rng(7);
    // The example's critic in miniature: conv 3x3 stride 2 SAME -> bias -> leaky relu 0.2 -> dense 1.
    const critic = (kernel: tf.Tensor, bias: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => (x: tf.Tensor) => {
      const h = tf.nn.leakyRelu(tf.nn.biasAdd(tf.nn.conv2d(x, kernel, 2, 'SAME'), bias), 0.2);
      return tf.add(tf.matmul(tf.reshape(h, [-1, 3 * 3 * 2]), w), b);
    };
    await checkGradients({
      ops: [],
      name: 'gradient penalty',
      inputs: [
        randomArray([2, 5, 5, 1], r),
        randomArray([2, 5, 5, 1], r),
        new tf.NDArray(Float32Array.from([0.3, 0.8]), [2, 1, 1, 1]),
        randomArray([3, 3, 1, 2], r, 0.8),
        randomArray([2], r, 0.3),
        randomArray([18, 1], r, 0.8),
        randomArray([1], r),
      ],
      build: (real, fake, eps, kernel, bias, w, b) => gradientPenalty(critic(kernel!, bias!, w!, b!), real!, fake!, eps!),
      // The penalty's gradient w.r.t. the critic's weights (the dense bias does not reach the input gradient).
      wrt: [3, 4, 5],
      delta: 1e-3,
      atol: 5e-3,
      rtol: 2e-2,
    });
  });
});

describe('mnist-gan loss variants (tiny runs)', () => {
  it('lsgan: the least-squares discriminator loss falls and it scores real digits above generated ones', async () => {
    const r = await trainGan({ loss: 'lsgan', epochs: 2, trainCount: 128, batchSize: 16, samples: 4 });
    const [e1, e2] = r.epochs;
    for (const v of [e1!.dLoss, e1!.gLoss, e2!.dLoss, e2!.gLoss]) expect(Number.isFinite(v)).toBe(true);
    expect(e2!.dLoss).toBeLessThan(e1!.dLoss);
    expect(e2!.dReal).toBeGreaterThan(e2!.dFake);
    expect(e1!.generatorSteps).toBe(8);
    expect(e1!.wasserstein).toBeUndefined();
    const png = decode(gridPng(r.images));
    expect([png.width, png.height, png.channels]).toEqual([62, 62, 1]);
  }, 60_000);

  it("wgan-gp: the critic's Wasserstein estimate grows, the penalty stays bounded, one generator step per 5 critic steps", async () => {
    const r = await trainGan({ loss: 'wgan-gp', epochs: 2, trainCount: 160, batchSize: 16, samples: 4 });
    const [e1, e2] = r.epochs;
    expect(e1!.generatorSteps).toBe(2);
    expect(e2!.wasserstein!).toBeGreaterThan(e1!.wasserstein!);
    expect(e2!.wasserstein!).toBeGreaterThan(0);
    for (const e of [e1!, e2!]) {
      expect(e.gradientPenalty!).toBeGreaterThanOrEqual(0);
      // At the start the critic's input gradient is near 0, a penalty of about lambda; it must not blow up.
      expect(e.gradientPenalty!).toBeLessThan(1.5 * GP_WEIGHT);
      expect(e.dLoss).toBeCloseTo(e.gradientPenalty! - e.wasserstein!, 4);
    }
    const px = Array.from(r.images.data as Float32Array);
    expect(px.every((v) => v >= 0 && v <= 1)).toBe(true);
  }, 60_000);
});

describe('style transfer', () => {
  it('gram and meanTotalVariation match naive sums', async () => {
    const r = rng(3);
    const f = randomArray([1, 3, 4, 5], r);
    const fd = f.data as Float32Array;
    const got = (await evaluate(() => gram(tf.constant(f)))).data as Float32Array;
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let p = 0; p < 12; p++) s += fd[p * 5 + i]! * fd[p * 5 + j]!;
        expect(got[i * 5 + j]).toBeCloseTo(s / 12, 5);
      }
    }
    const at = (y: number, x: number, c: number) => fd[(y * 4 + x) * 5 + c]!;
    let tv = 0;
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 4; x++) {
        for (let c = 0; c < 5; c++) {
          if (y + 1 < 3) tv += Math.abs(at(y + 1, x, c) - at(y, x, c));
          if (x + 1 < 4) tv += Math.abs(at(y, x + 1, c) - at(y, x, c));
        }
      }
    }
    expect((await evaluate(() => meanTotalVariation(tf.constant(f)))).scalar()).toBeCloseTo(tv / 60, 5);
  });

  it('Adam on the image cuts the total loss several times in 40 steps and writes a 3-panel RGB PNG', async () => {
    const r = await transferStyle({ size: 24, steps: 40, logEvery: 20 });
    const first = r.log[0]!;
    const last = r.log[r.log.length - 1]!;
    expect(last.step).toBe(40);
    expect(first.content).toBe(0); // it starts from the content image
    expect(last.total).toBeLessThan(first.total / 3);
    expect(last.style).toBeLessThan(first.style / 4);
    expect(r.result.every((v) => v >= 0 && v <= 1)).toBe(true);
    const png = decode(sideBySidePng([r.content, r.style, r.result], r.size));
    expect([png.width, png.height, png.channels]).toEqual([3 * (48 + 4) + 4, 48 + 8, 3]);
  }, 60_000);

  it('texture synthesis (no content weight) starts from noise and lowers the style loss', async () => {
    const r = await transferStyle({ size: 24, steps: 30, logEvery: 30, contentWeight: 0, lr: 0.05 });
    expect(r.log[1]!.style).toBeLessThan(r.log[0]!.style / 3);
  }, 60_000);
});
