// Smoke tests of the gallery's autoencoders and VAEs on a few hundred real MNIST digits, and checks
// of their pieces against written references: the VAE's loss terms, the normal quantiles of the
// manifold grid, the PNG pictures.
import { describe, expect, it } from 'vitest';
import { decode } from 'fast-png';
import * as tf from '../src/index.js';
import { interleaveRows, trainAutoencoder } from '../examples/autoencoder/main.js';
import { buildVae, MANIFOLD_SIDE, manifoldGrid, normalQuantile, SAMPLES_SIDE, trainVae } from '../examples/vae/main.js';
import { IMAGE_SIZE, loadSplit } from '../examples/mnist-common/data.js';
import { digitGridPng, gridSize, LABEL_COLOURS, labelScatterPng } from '../examples/mnist-common/png.js';

function expectPng(png: Uint8Array | undefined, width: number, height: number, channels: number) {
  expect(png).toBeDefined();
  const image = decode(png!);
  expect([image.width, image.height, image.channels, image.depth]).toEqual([width, height, channels, 8]);
  return image;
}

/** The grey levels of tile k of a decoded digit grid, as 0-255 integers. */
function tile(image: ReturnType<typeof decode>, k: number, cols: number, gap = 2): number[] {
  const ox = gap + (k % cols) * (28 + gap);
  const oy = gap + Math.floor(k / cols) * (28 + gap);
  const out: number[] = [];
  for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) out.push(image.data[(oy + r) * image.width + ox + c]!);
  return out;
}

const to255 = (v: Float32Array) => Array.from(v, (x) => Math.round(255 * Math.min(1, Math.max(0, x))));

describe('gallery: pictures', () => {
  it('digitGridPng tiles the digits row by row with gutters', () => {
    const images = new Float32Array(5 * IMAGE_SIZE);
    for (let k = 0; k < 5; k++) images.fill((k + 1) / 5, k * IMAGE_SIZE, (k + 1) * IMAGE_SIZE);
    images[3 * IMAGE_SIZE + 28 * 27 + 27] = 2; // clipped to white
    const { width, height } = gridSize(5, 3);
    expect([width, height]).toEqual([3 * 30 + 2, 2 * 30 + 2]);
    const image = expectPng(digitGridPng(images, 3), width, height, 1);
    for (let k = 0; k < 5; k++) expect(tile(image, k, 3)).toEqual(to255(images.subarray(k * IMAGE_SIZE, (k + 1) * IMAGE_SIZE)));
    expect(image.data[0]).toBe(0); // gutter
    expect(image.data[(height - 1) * width - 1]).toBe(0); // the empty sixth place
    expect(() => digitGridPng(new Float32Array(100), 3)).toThrow(/784/);
  });

  it('interleaveRows puts each row of originals above its reconstructions', () => {
    const n = 5;
    const orig = Float32Array.from({ length: n * IMAGE_SIZE }, (_, i) => Math.floor(i / IMAGE_SIZE));
    const rec = Float32Array.from(orig, (v) => -1 - v);
    const out = interleaveRows(orig, rec, 2);
    const firstOf = (k: number) => out[k * IMAGE_SIZE]!;
    expect(Array.from({ length: 2 * n }, (_, k) => firstOf(k))).toEqual([0, 1, -1, -2, 2, 3, -3, -4, 4, -5]);
  });

  it('labelScatterPng draws each point in its label colour, scaled to the box with y up', () => {
    const size = 200;
    const image = expectPng(labelScatterPng(Float32Array.of(-3, 5, 7, 9, 2, 7), Int32Array.of(3, 8, 5), size), size, size, 3);
    const at = (x: number, y: number) => Array.from(image.data.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
    // Margin 12, legend 40: x maps [-3, 7] to [12, 148], y maps [5, 9] to [188, 12].
    expect(at(12, 188)).toEqual(LABEL_COLOURS[3]);
    expect(at(148, 12)).toEqual(LABEL_COLOURS[8]);
    expect(at(80, 100)).toEqual(LABEL_COLOURS[5]);
    expect(at(80, 150)).toEqual([255, 255, 255]);
    expect(() => labelScatterPng(Float32Array.of(0, 0), Int32Array.of(10))).toThrow(/not a digit/);
  });

  it('normalQuantile matches tabulated standard normal quantiles', () => {
    const table: [number, number][] = [
      [0.5, 0],
      [0.975, 1.959963984540054],
      [0.95, 1.6448536269514722],
      [0.6, 0.2533471031357997],
      [0.01, -2.3263478740408408],
      [0.001, -3.090232306167813],
      [1e-6, -4.753424308822899],
    ];
    for (const [p, q] of table) {
      expect(normalQuantile(p)).toBeCloseTo(q, 7);
      expect(normalQuantile(1 - p)).toBeCloseTo(-q, 7);
    }
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });

  it('the manifold grid runs over the 5%..95% quantiles, x left to right and y bottom to top', () => {
    const z = manifoldGrid(MANIFOLD_SIDE);
    const q = 1.6448536269514722;
    const cell = (row: number, col: number) => [z[2 * (row * MANIFOLD_SIDE + col)]!, z[2 * (row * MANIFOLD_SIDE + col) + 1]!];
    expect(cell(0, 0)[0]).toBeCloseTo(-q, 6);
    expect(cell(0, 0)[1]).toBeCloseTo(q, 6);
    expect(cell(MANIFOLD_SIDE - 1, MANIFOLD_SIDE - 1)[0]).toBeCloseTo(q, 6);
    expect(cell(MANIFOLD_SIDE - 1, MANIFOLD_SIDE - 1)[1]).toBeCloseTo(-q, 6);
    for (let i = 1; i < MANIFOLD_SIDE; i++) expect(cell(0, i)[0]!).toBeGreaterThan(cell(0, i - 1)[0]!);
  });
});

describe('gallery: autoencoders', () => {
  it('dense autoencoder (RMSProp): the test reconstruction loss falls and the picture shows originals above reconstructions', { timeout: 60_000 }, async () => {
    const r = await trainAutoencoder({ epochs: 2, trainCount: 600, testCount: 200, batchSize: 10, seed: 1, shown: 20 });
    const test = loadSplit(600, 200, 1).test;
    expect(r.epochs).toHaveLength(2);
    expect(r.initialTestLoss).toBeGreaterThan(0.2); // outputs near 0.5 against mostly black pixels
    expect(r.epochs[1]!.testLoss).toBeLessThan(0.6 * r.initialTestLoss);
    expect(r.epochs[1]!.trainLoss).toBeLessThan(r.epochs[0]!.trainLoss);
    const image = expectPng(r.png, 10 * 30 + 2, 4 * 30 + 2, 1);
    expect(tile(image, 0, 10)).toEqual(to255(test.images.subarray(0, IMAGE_SIZE)));
    expect(tile(image, 10, 10)).toEqual(to255(r.reconstructions.subarray(0, IMAGE_SIZE)));
    expect(tile(image, 20, 10)).toEqual(to255(test.images.subarray(10 * IMAGE_SIZE, 11 * IMAGE_SIZE)));
  });

  it('convolutional autoencoder (batch norm, conv2dTranspose): the test loss in inference mode falls', { timeout: 60_000 }, async () => {
    const r = await trainAutoencoder({ conv: true, epochs: 2, trainCount: 400, testCount: 100, batchSize: 16, seed: 2, shown: 10 });
    expect(r.epochs[1]!.testLoss).toBeLessThan(0.6 * r.initialTestLoss);
    expect(r.epochs[1]!.trainLoss).toBeLessThan(r.epochs[0]!.trainLoss);
    expectPng(r.png, 10 * 30 + 2, 2 * 30 + 2, 1);
  });
});

describe('gallery: VAE', () => {
  it('the loss is the Bernoulli negative log-likelihood plus the KL divergence, with z reparameterized', async () => {
    const latent = 3;
    const g = new tf.Graph();
    g.seed = 5;
    const m = g.asDefault(() => ({ ...buildVae(false, latent, 1e-3), init: tf.globalVariablesInitializer() }));
    const sess = new tf.Session({ graph: g });
    try {
      await sess.run(m.init);
      const { test } = loadSplit(10, 4, 0);
      const out = await sess.run([m.mu, m.logvar, m.eps, m.z, m.logits, m.reconstruction, m.kl, m.loss], [[m.x, new tf.NDArray(test.images, [4, IMAGE_SIZE])]]);
      const [mu, logvar, eps, z, logits] = out.slice(0, 5).map((a) => a!.data as Float32Array) as Float32Array[];
      const [rec, kl, loss] = out.slice(5).map((a) => a!.scalar() as number) as number[];
      for (let i = 0; i < 4 * latent; i++) expect(z![i]).toBeCloseTo(mu![i]! + Math.exp(logvar![i]! / 2) * eps![i]!, 5);
      let wantRec = 0;
      for (let i = 0; i < 4 * IMAGE_SIZE; i++) {
        const p = 1 / (1 + Math.exp(-logits![i]!));
        const x = test.images[i]!;
        wantRec -= x * Math.log(p) + (1 - x) * Math.log(1 - p);
      }
      let wantKl = 0; // KL(N(mu, s²) || N(0, 1)) = (s² + mu² - 1 - ln s²) / 2 per dimension
      for (let i = 0; i < 4 * latent; i++) wantKl += (Math.exp(logvar![i]!) + mu![i]! ** 2 - 1 - logvar![i]!) / 2;
      expect(rec).toBeCloseTo(wantRec / 4, 2);
      expect(kl).toBeCloseTo(wantKl / 4, 4);
      expect(loss).toBeCloseTo(rec! + kl!, 3);
    } finally {
      sess.close();
    }
  });

  it('dense VAE with a 2-D latent: the ELBO rises; samples, manifold and latent scatter are written', { timeout: 60_000 }, async () => {
    const r = await trainVae({ epochs: 2, trainCount: 500, testCount: 200, batchSize: 25, seed: 3 });
    expect(r.initialTest.elbo).toBeLessThan(-500); // about 784 ln 2 with logits near 0
    expect(r.epochs[1]!.test.elbo).toBeGreaterThan(r.initialTest.elbo + 200);
    expect(r.epochs[1]!.train.elbo).toBeGreaterThan(r.epochs[0]!.train.elbo);
    for (const e of r.epochs) expect(e.test.elbo).toBeCloseTo(-(e.test.reconstruction + e.test.kl), 6);
    const { width, height } = gridSize(SAMPLES_SIDE * SAMPLES_SIDE, SAMPLES_SIDE);
    expectPng(r.samplesPng, width, height, 1);
    const manifold = expectPng(r.manifoldPng, 28 * MANIFOLD_SIDE, 28 * MANIFOLD_SIDE, 1);
    // The decoder's digits change across the grid.
    expect(tile(manifold, 0, MANIFOLD_SIDE, 0)).not.toEqual(tile(manifold, MANIFOLD_SIDE * MANIFOLD_SIDE - 1, MANIFOLD_SIDE, 0));
    expectPng(r.latentPng, 600, 600, 3);
    expect(r.testMeans).toHaveLength(2 * 200);
    expect(r.testMeans!.every(Number.isFinite)).toBe(true);
  });

  it('convolutional VAE with a 4-D latent: the ELBO rises; no manifold without a 2-D latent', { timeout: 60_000 }, async () => {
    const r = await trainVae({ conv: true, latent: 4, epochs: 2, trainCount: 200, testCount: 50, batchSize: 10, seed: 4 });
    expect(r.epochs[1]!.test.elbo).toBeGreaterThan(r.initialTest.elbo + 150);
    expect(r.epochs[1]!.train.elbo).toBeGreaterThan(r.epochs[0]!.train.elbo);
    expectPng(r.samplesPng, SAMPLES_SIDE * 30 + 2, SAMPLES_SIDE * 30 + 2, 1);
    expect(r.manifoldPng).toBeUndefined();
    expect(r.latentPng).toBeUndefined();
  });
});
