// weir's exported graphs run by an executor weir did not write: TensorFlow.js's converter runtime.
// Each model is saved with tf.train.Saver (checkpoint + .meta); its inference graph is read back
// from the .meta, frozen with the checkpoint's values, loaded into tfjs-converter and run on the
// same inputs as weir's session. Every node of the exported GraphDefs is also checked against the
// op definitions tfjs-converter records for TensorFlow's ops.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { CheckpointReader } from '../src/io/checkpoint.js';
import { decodeMessage, type GraphDef } from '../src/io/proto.js';
import { buildCnn } from '../examples/mnist-cnn/main.js';
import { buildBnNet } from '../examples/mnist-bn/main.js';
import { INPUTS as XOR_INPUTS } from '../examples/xor/main.js';
import { buildModel as buildCharRnn } from '../examples/char-rnn/main.js';
import { expectClose, fromTfjs, randomArray, tfjs } from './helpers.js';
import { checkAgainstTfjsOpList, freezeGraphDef, toTfjsArtifacts, type OpDefCheck } from './tfjs_graph_model.js';

type TfjsTensor = import('@tensorflow/tfjs-core').Tensor;

interface Exported {
  /** The whole GraphDef of the .meta (training ops included). */
  graphDef: GraphDef;
  /** The inference graph of the outputs, frozen with the checkpoint's values. */
  frozen: GraphDef;
}

/** Saves the session's variables (checkpoint + .meta) and freezes the .meta's graph for `outputs` with the checkpoint. */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function exportFrozen(g: tf.Graph, sess: tf.Session, outputs: readonly tf.Tensor[]): Promise<Exported> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-tfjs-'));
  dirs.push(dir);
  const prefix = await g.asDefault(() => new tf.train.Saver()).save(sess, join(dir, 'model.ckpt'));
  const graphDef = decodeMessage('MetaGraphDef', readFileSync(`${prefix}.meta`)).graph_def!;
  const reader = await CheckpointReader.open(prefix);
  const frozen = await freezeGraphDef(
    graphDef,
    outputs.map((t) => t.op.name),
    (name) => reader.getTensor(name),
  );
  return { graphDef, frozen };
}

/** tfjs's name of a tensor: the node name for output 0, 'node:i' otherwise. */
const tfjsName = (t: tf.Tensor): string => (t.valueIndex === 0 ? t.op.name : t.name);

/** Runs `outputs` in weir and in tfjs-converter on the same feeds; returns both. */
async function runBoth(g: tf.Graph, sess: tf.Session, feeds: [tf.Tensor, tf.NDArray][], outputs: tf.Tensor[]) {
  const { graphDef, frozen } = await exportFrozen(g, sess, outputs);
  const want = (await sess.run(outputs, feeds)) as tf.NDArray[];
  const core = await tfjs();
  const { loadGraphModelSync } = await import('@tensorflow/tfjs-converter');
  const model = loadGraphModelSync(toTfjsArtifacts(frozen) as Parameters<typeof loadGraphModelSync>[0]);
  const inputs: Record<string, TfjsTensor> = {};
  for (const [t, v] of feeds) {
    const data = v.dtype === 'bool' ? Array.from(v.data as Uint8Array, (x) => x !== 0) : Array.from(v.data as ArrayLike<number>);
    inputs[t.op.name] = core.tensor(data as number[], [...v.shape], v.dtype === 'bool' ? 'bool' : v.dtype === 'int32' ? 'int32' : 'float32');
  }
  const out = (await model.executeAsync(inputs, outputs.map(tfjsName))) as TfjsTensor | TfjsTensor[];
  const got = await Promise.all((Array.isArray(out) ? out : [out]).map((t) => fromTfjs(t)));
  for (const t of [...Object.values(inputs), ...(Array.isArray(out) ? out : [out])]) t.dispose();
  model.dispose();
  return { want, got, graphDef, frozen };
}

function expectOpDefsMatch(gd: GraphDef): OpDefCheck {
  const check = checkAgainstTfjsOpList(gd);
  expect(check.problems).toEqual([]);
  expect(check.checked.length).toBeGreaterThan(0);
  return check;
}

const images = (n: number, seed: number): tf.NDArray => randomArray([n, 784], { seed, min: 0, max: 1 });

describe('TensorFlow.js runs the inference graphs weir exports', () => {
  it('an MLP: the mnist-mlp example model (784-256-10, matmul + add + relu)', async () => {
    // examples/mnist-mlp builds this graph inside trainMnist; the same ops, built here.
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 784], 'x');
      const y = tf.placeholder('int32', [null], 'y');
      const w1 = new tf.Variable(tf.randomUniform([784, 256], { minval: -0.08, maxval: 0.08, seed: 1 }), { name: 'W1' });
      const b1 = new tf.Variable(tf.randomUniform([256], { minval: -0.1, maxval: 0.1, seed: 2 }), { name: 'b1' });
      const w2 = new tf.Variable(tf.randomUniform([256, 10], { minval: -0.15, maxval: 0.15, seed: 3 }), { name: 'W2' });
      const b2 = new tf.Variable(tf.zeros([10]), { name: 'b2' });
      const h = tf.nn.relu(tf.add(tf.matmul(x, w1), b1));
      const logits = tf.add(tf.matmul(h, w2), b2);
      const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
      const probs = tf.nn.softmax(logits);
      const predicted = tf.argmax(logits, 1);
      const train = new tf.train.AdamOptimizer(1e-3).minimize(loss);
      return { x, y, logits, probs, predicted, train, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const xs = images(8, 11);
    const labels = tf.NDArray.from([0, 1, 2, 3, 4, 5, 6, 7], 'int32', [8]);
    for (let i = 0; i < 3; i++) await sess.run(m.train, [[m.x, xs], [m.y, labels]]); // Adam moves the weights off their initial values
    const { want, got, graphDef } = await runBoth(g, sess, [[m.x, xs]], [m.logits, m.probs, m.predicted]);
    expectClose(got[0]!, want[0]!, { atol: 1e-5, rtol: 1e-5 });
    expectClose(got[1]!, want[1]!, { atol: 1e-6, rtol: 1e-5 });
    expect(Array.from(got[2]!.data, Number)).toEqual(Array.from(want[2]!.data as BigInt64Array, Number));
    // The whole exported graph (gradients, Adam, the Saver's ops): what tfjs records, it agrees with.
    expectOpDefsMatch(graphDef);
  });

  it('a CNN: the mnist-cnn example model (conv, max-pool, dense, dropout off)', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => buildCnn(1e-3));
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const xs = images(2, 12);
    const logits = g.getOperationByName('dense_1/BiasAdd').outputs[0]!;
    const { want, got, frozen, graphDef } = await runBoth(g, sess, [[m.x, xs]], [logits]);
    expectClose(got[0]!, want[0]!, { atol: 1e-4, rtol: 1e-4 });
    expect(frozen.node!.map((n) => n.op)).toEqual(expect.arrayContaining(['Conv2D', 'MaxPool', 'MatMul', 'BiasAdd', 'Relu']));
    // tfjs reads Conv2D's use_cudnn_on_gpu as 'useCudnnOnGpu' (TensorFlow's default, true, applies).
    expect(expectOpDefsMatch(graphDef).notTensorFlowNames).toEqual(['Conv2D.useCudnnOnGpu']);
  });

  it('batch norm: the mnist-bn example model in inference, with moving statistics a training step changed', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => buildBnNet(1e-2, 0.5));
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const xs = images(4, 13);
    const labels = tf.NDArray.from([1, 2, 3, 4], 'int32', [4]);
    for (let i = 0; i < 2; i++) await sess.run(m.trainOp, [[m.x, xs], [m.y, labels], [m.isTraining, tf.NDArray.from(true, 'bool')]]);
    const logits = g.getOperationByName('dense_1/BiasAdd').outputs[0]!;
    const { want, got, graphDef } = await runBoth(g, sess, [[m.x, images(3, 14)], [m.isTraining, tf.NDArray.from(false, 'bool')]], [logits]);
    expectClose(got[0]!, want[0]!, { atol: 1e-4, rtol: 1e-4 });
    expectOpDefsMatch(graphDef);
  });

  it('xor: the xor example model (sigmoid layers on matmuls)', async () => {
    // examples/xor builds this graph inside trainXor, on constant inputs; here the inputs are fed.
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      const syn0 = new tf.Variable(tf.randomUniform([3, 4], { minval: -1, maxval: 1, seed: 4 }), { name: 'syn0' });
      const syn1 = new tf.Variable(tf.randomUniform([4, 1], { minval: -1, maxval: 1, seed: 5 }), { name: 'syn1' });
      const output = tf.sigmoid(tf.matmul(tf.sigmoid(tf.matmul(x, syn0)), syn1));
      return { x, output, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const xs = tf.NDArray.from(XOR_INPUTS.flat(), 'float32', [XOR_INPUTS.length, 3]);
    const { want, got, graphDef } = await runBoth(g, sess, [[m.x, xs]], [m.output]);
    expectClose(got[0]!, want[0]!, { atol: 1e-6, rtol: 1e-5 });
    expectOpDefsMatch(graphDef);
  });

  it('char-rnn: the char-rnn example model (embedding, two LSTM layers in a While loop over TensorLists, softmax layer)', async () => {
    // examples/char-rnn's buildModel at a small size, trained a step so that Adam moves the weights.
    const [vocab, units, batch, seq] = [12, 8, 2, 5];
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      tf.setRandomSeed(3);
      return { ...buildCharRnn({ vocabSize: vocab, units, layers: 2, learningRate: 0.01 }), init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const ids = (seed: number) => tf.NDArray.from(Array.from({ length: batch * seq }, (_, i) => (i * 7 + seed) % vocab), 'int32', [batch, seq]);
    const states = m.stateIn.map((p, i) => [p, randomArray([batch, units], { seed: 20 + i, min: -0.5, max: 0.5 })] as [tf.Tensor, tf.NDArray]);
    await sess.run(m.trainOp, [[m.x, ids(1)], [m.y, ids(2)], ...states]);
    const { want, got, frozen, graphDef } = await runBoth(g, sess, [[m.x, ids(5)], ...states], [m.logits, ...m.stateOut]);
    for (let i = 0; i < want.length; i++) expectClose(got[i]!, want[i]!, { atol: 1e-5, rtol: 1e-4 });
    expect(frozen.node!.some((n) => n.op === 'While' || n.op === 'StatelessWhile')).toBe(true);
    expect((frozen.library?.function ?? []).length).toBeGreaterThan(0);
    expect(expectOpDefsMatch(graphDef).recordErrors).toEqual(['TensorListStack.num_elements']);
  });
});
