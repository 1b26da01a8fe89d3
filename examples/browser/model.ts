// The model the browser demo trains: a 784-128-10 ReLU MLP with Adam on minibatches of MNIST digits.
// No DOM here, so it runs in Node as well as in the page.
import * as tf from '../../src/index.js';
import { IMAGE_SIZE, NUM_CLASSES, permutation, seededRandom, take, type Dataset } from '../mnist-common/data.js';

export type BackendName = 'cpu' | 'webgpu';

export interface TrainerOptions {
  backend: BackendName;
  hidden: number;
  learningRate: number;
  batchSize: number;
  seed: number;
}

export interface Trainer {
  readonly stepsPerEpoch: number;
  /** Runs the next minibatch (reshuffling at each epoch start); returns its loss. */
  step(): Promise<number>;
  /** The accuracy over all of `data`, in one run. */
  accuracy(data: Dataset): Promise<number>;
  /** The predicted class of each image of `data`. */
  predict(data: Dataset): Promise<Int32Array>;
  close(): void;
}

/** Glorot (Xavier) uniform weights: U(-l, l) with l = sqrt(6 / (fanIn + fanOut)). */
function glorotUniform(fanIn: number, fanOut: number, random: () => number): tf.NDArray {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return new tf.NDArray(Float32Array.from({ length: fanIn * fanOut }, () => (2 * random() - 1) * limit), [fanIn, fanOut]);
}

/** The MLP in the default graph (Glorot-uniform weights drawn from `random`), its loss, predictions, accuracy and Adam step. */
export function buildModel(opts: Pick<TrainerOptions, 'hidden' | 'learningRate'>, random: () => number) {
  const x = tf.placeholder('float32', [null, IMAGE_SIZE], 'x');
  const y = tf.placeholder('int32', [null], 'y');
  const w1 = new tf.Variable(glorotUniform(IMAGE_SIZE, opts.hidden, random), { name: 'W1' });
  const b1 = new tf.Variable(tf.zeros([opts.hidden]), { name: 'b1' });
  const w2 = new tf.Variable(glorotUniform(opts.hidden, NUM_CLASSES, random), { name: 'W2' });
  const b2 = new tf.Variable(tf.zeros([NUM_CLASSES]), { name: 'b2' });
  const h = tf.nn.relu(tf.add(tf.matmul(x, w1), b1));
  const logits = tf.add(tf.matmul(h, w2), b2);
  const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
  const prediction = tf.argmax(logits, 1, 'int32');
  const accuracy = tf.reduceMean(tf.cast(tf.equal(prediction, y), 'float32'));
  const trainOp = new tf.train.AdamOptimizer(opts.learningRate).minimize(loss);
  return { x, y, logits, loss, prediction, accuracy, trainOp };
}

export async function createTrainer(train: Dataset, opts: TrainerOptions): Promise<Trainer> {
  const random = seededRandom(opts.seed);
  const g = new tf.Graph();
  const m = g.asDefault(() => ({ ...buildModel(opts, random), init: tf.globalVariablesInitializer() }));
  const feeds = (d: Dataset): tf.FeedDict => [
    [m.x, new tf.NDArray(d.images, [d.count, IMAGE_SIZE])],
    [m.y, new tf.NDArray(d.labels, [d.count])],
  ];

  const sess = new tf.Session({ graph: g, backend: opts.backend });
  await sess.run(m.init);

  const stepsPerEpoch = Math.ceil(train.count / opts.batchSize);
  let order = permutation(train.count, random);
  let at = 0;
  return {
    stepsPerEpoch,
    async step() {
      if (at >= train.count) {
        order = permutation(train.count, random);
        at = 0;
      }
      const batch = take(train, order.subarray(at, Math.min(at + opts.batchSize, train.count)));
      at += opts.batchSize;
      const [l] = await sess.run([m.loss, m.trainOp], feeds(batch));
      return l.scalar() as number;
    },
    async accuracy(data) {
      return (await sess.run(m.accuracy, feeds(data))).scalar() as number;
    },
    async predict(data) {
      const p = await sess.run(m.prediction, [[m.x, new tf.NDArray(data.images, [data.count, IMAGE_SIZE])]]);
      return Int32Array.from(p.data as Int32Array);
    },
    close() {
      sess.close();
    },
  };
}
