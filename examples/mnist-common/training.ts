// The training and evaluation loops the MNIST classifier examples share.
import * as tf from '../../src/index.js';
import { permutation, randomShift, take, type Dataset } from './data.js';

export interface EpochStats {
  epoch: number;
  /** Mean minibatch loss and accuracy over the epoch (in training mode, as the weights moved). */
  loss: number;
  trainAccuracy: number;
  seconds: number;
}

export interface FitResult {
  epochs: EpochStats[];
  /** Loss of every minibatch, in training order. */
  batchLosses: number[];
}

/** What one training step runs: the train op, fetching the minibatch's loss and accuracy with it. */
export interface ClassifierFetches {
  loss: tf.Tensor;
  accuracy: tf.Tensor;
  trainOp: tf.Operation;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  /** Largest random shift, in pixels, applied to each training image (0: none). */
  maxShift: number;
  /** Draws each epoch's shuffle and the shifts. */
  random: () => number;
  onEpoch?: (stats: EpochStats) => void;
}

/**
 * Trains on `train` for `opts.epochs` epochs of shuffled minibatches (the last one smaller when
 * `batchSize` does not divide the set), feeding each with `feeds`.
 */
export async function fitClassifier(
  sess: tf.Session,
  model: ClassifierFetches,
  train: Dataset,
  feeds: (batch: Dataset) => tf.FeedDict,
  opts: FitOptions,
): Promise<FitResult> {
  const epochs: EpochStats[] = [];
  const batchLosses: number[] = [];
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const start = performance.now();
    const order = permutation(train.count, opts.random);
    let lossSum = 0;
    let accSum = 0;
    let seen = 0;
    for (let at = 0; at < train.count; at += opts.batchSize) {
      let batch = take(train, order.subarray(at, Math.min(at + opts.batchSize, train.count)));
      if (opts.maxShift > 0) batch = randomShift(batch, opts.maxShift, opts.random);
      const [l, a] = await sess.run([model.loss, model.accuracy, model.trainOp], feeds(batch));
      const lv = l.scalar() as number;
      batchLosses.push(lv);
      lossSum += lv * batch.count;
      accSum += (a.scalar() as number) * batch.count;
      seen += batch.count;
    }
    const s: EpochStats = { epoch, loss: lossSum / seen, trainAccuracy: accSum / seen, seconds: (performance.now() - start) / 1000 };
    epochs.push(s);
    opts.onEpoch?.(s);
  }
  return { epochs, batchLosses };
}

/** The accuracy over all of `data`, run in slices of at most `sliceSize` to bound the activations' memory. */
export async function evaluate(
  sess: tf.Session,
  accuracy: tf.Tensor,
  data: Dataset,
  feeds: (slice: Dataset) => tf.FeedDict,
  sliceSize = 500,
): Promise<number> {
  let correct = 0;
  for (let at = 0; at < data.count; at += sliceSize) {
    const slice = take(data, Int32Array.from({ length: Math.min(sliceSize, data.count - at) }, (_, i) => at + i));
    correct += ((await sess.run(accuracy, feeds(slice))).scalar() as number) * slice.count;
  }
  return correct / data.count;
}
