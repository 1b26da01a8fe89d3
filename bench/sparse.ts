// Sparse-gradient workload for bench/run.ts: a training step on a large embedding table (word2vec's
// shape), where a batch looks up a few hundred of its rows. weir's optimizers get the table's
// gradient as IndexedSlices and update only those rows; the same step with the gradient summed into
// a dense tensor first (what the step cost before sparse gradients) and TensorFlow.js's (whose
// optimizers update the whole table) run beside it.
import * as tfc from '@tensorflow/tfjs';
import * as tf from '../src/index.js';
import type { BenchContext, LineResult } from './control_flow.js';

const VOCAB = 50_000;
const DIM = 128;
const BATCH = 512;
const CLASSES = 16;

const ms = (x: number | undefined): string => (x === undefined ? 'skipped' : Number.isNaN(x) ? 'unsupported' : x.toFixed(2));

/** ids, labels and the initial table, the same for every contender. */
function data(ctx: BenchContext) {
  const ids = Int32Array.from(ctx.uniform(BATCH, 71, 0, VOCAB), Math.floor);
  const labels = Int32Array.from(ctx.uniform(BATCH, 72, 0, CLASSES), Math.floor);
  return { ids, labels, table: ctx.uniform(VOCAB * DIM, 73, -0.05, 0.05), proj: ctx.uniform(DIM * CLASSES, 74, -0.1, 0.1) };
}

/** loss = softmax cross-entropy of lookup(table, ids) · proj; the step is SGD or Adam, sparse or dense. */
async function weirStep(ctx: BenchContext, optimizer: 'sgd' | 'adam', sparse: boolean): Promise<number> {
  const d = data(ctx);
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const ids = tf.placeholder('int32', [BATCH], 'ids');
    const y = tf.placeholder('int32', [BATCH], 'y');
    const table = new tf.Variable(tf.NDArray.from(d.table, 'float32', [VOCAB, DIM]), { name: 'table' });
    const proj = new tf.Variable(tf.NDArray.from(d.proj, 'float32', [DIM, CLASSES]), { name: 'proj' });
    const logits = tf.matmul(tf.nn.embeddingLookup(table, ids), proj);
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
    const opt = optimizer === 'sgd' ? new tf.train.GradientDescentOptimizer(0.1) : new tf.train.AdamOptimizer(1e-3);
    const grads = opt.computeGradients(loss);
    const train = opt.applyGradients(sparse ? grads : grads.map(([gr, v]): tf.train.GradAndVar => [gr === null ? null : tf.convertToTensor(gr), v]));
    return { ids, y, train, init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g, backend: ctx.backend });
  await sess.run(m.init);
  const feeds: [tf.Tensor, tf.NDArray][] = [
    [m.ids, tf.NDArray.from(d.ids, 'int32', [BATCH])],
    [m.y, tf.NDArray.from(d.labels, 'int32', [BATCH])],
  ];
  const t = await ctx.time(() => sess.run(m.train, feeds));
  sess.close();
  return t;
}

async function tfjsStep(ctx: BenchContext, optimizer: 'sgd' | 'adam'): Promise<number> {
  const d = data(ctx);
  const table = tfc.variable(tfc.tensor2d(d.table, [VOCAB, DIM]));
  const proj = tfc.variable(tfc.tensor2d(d.proj, [DIM, CLASSES]));
  const ids = tfc.tensor1d(d.ids, 'int32');
  const y = tfc.oneHot(tfc.tensor1d(d.labels, 'int32'), CLASSES);
  const opt = optimizer === 'sgd' ? tfc.train.sgd(0.1) : tfc.train.adam(1e-3);
  const step = async () => {
    const cost = opt.minimize(() => tfc.losses.softmaxCrossEntropy(y, tfc.matMul(tfc.gather(table, ids), proj)), true);
    await cost!.data();
    cost!.dispose();
  };
  const t = await ctx.time(step);
  tfc.dispose([table, proj, ids, y]);
  opt.dispose();
  return t;
}

export async function embeddingTrainStep(ctx: BenchContext): Promise<LineResult> {
  const fields: string[] = [`vocab=${VOCAB} dim=${DIM} batch=${BATCH}`];
  for (const opt of ['sgd', 'adam'] as const) {
    const sparse = await weirStep(ctx, opt, true);
    const dense = await weirStep(ctx, opt, false);
    const tfjsCpu = await ctx.onTfjs('cpu', () => tfjsStep(ctx, opt));
    fields.push(`${opt}_sparse_ms=${ms(sparse)} ${opt}_dense_ms=${ms(dense)} ${opt}_dense/sparse=${(dense / sparse).toFixed(1)} ${opt}_tfjs_cpu_ms=${ms(tfjsCpu)}`);
  }
  return { line: fields.join(' ') };
}
