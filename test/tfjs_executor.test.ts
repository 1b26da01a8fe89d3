// weir's exported graphs run by an executor weir did not write: TensorFlow.js's converter runtime.
// Each model is saved with tf.train.Saver (checkpoint + .meta); its inference graph is read back
// from the .meta, frozen with the checkpoint's values, loaded into tfjs-converter and run on the
// same inputs as weir's session. Every example model is here, built by the example's own builder
// and trained a few steps; where tfjs-converter lacks an op of a graph, the test asserts which.
// Every node of the exported GraphDefs is also checked against the op definitions tfjs-converter
// records for TensorFlow's ops.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { CheckpointReader } from '../src/io/checkpoint.js';
import { graphToGraphDef } from '../src/io/graph_def.js';
import { decodeMessage, type GraphDef } from '../src/io/proto.js';
import { buildCnn } from '../examples/mnist-cnn/main.js';
import { buildBnNet } from '../examples/mnist-bn/main.js';
import { buildXor, INPUTS as XOR_INPUTS, TARGETS as XOR_TARGETS } from '../examples/xor/main.js';
import { buildMlp } from '../examples/mnist-mlp/main.js';
import { buildModel as buildBrowserMlp } from '../examples/browser/model.js';
import { buildBasic } from '../examples/basic/main.js';
import { buildModel as buildCharRnn } from '../examples/char-rnn/main.js';
import { buildAutoencoder } from '../examples/autoencoder/main.js';
import { buildDqnGraph, DQN_DEFAULTS } from '../examples/dqn/main.js';
import { buildGan, Z_DIM } from '../examples/mnist-gan/main.js';
import { buildGraph as buildReinforce, REINFORCE_DEFAULTS } from '../examples/reinforce/main.js';
import { buildModel as buildSeq2Seq, CHARS, lengths, makeProblems } from '../examples/seq2seq/main.js';
import { buildFilters, contentImage, features, gram, STYLE_LAYERS, styleImage } from '../examples/style-transfer/main.js';
import { buildVae } from '../examples/vae/main.js';
import { buildDataset, buildWord2Vec, loadBrownWords, SkipGramBatcher } from '../examples/word2vec/main.js';
import { seededRandom } from '../examples/mnist-common/data.js';
import { expectClose, fromTfjs, randomArray, tfjs } from './helpers.js';
import { checkAgainstTfjsOpList, freezeGraphDef, opsTfjsLacks, toTfjsArtifacts, type OpDefCheck } from './tfjs_graph_model.js';

type TfjsTensor = import('@tensorflow/tfjs-core').Tensor;

/** Saves the session's variables (checkpoint + .meta) and freezes the .meta's graph for `outputs` with the checkpoint. */
interface Exported {
  /** The whole GraphDef of the .meta (training ops included). */
  graphDef: GraphDef;
  /** The inference graph of the outputs, frozen with the checkpoint's values. */
  frozen: GraphDef;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function exportFrozen(g: tf.Graph, sess: tf.Session, outputs: readonly tf.Tensor[]): Promise<Exported> {
  // A graph of constants only (style-transfer's fixed network) has nothing to save: its GraphDef is the whole model.
  if (g.asDefault(() => tf.globalVariables()).length === 0) {
    const graphDef = graphToGraphDef(g);
    return { graphDef, frozen: await freezeGraphDef(graphDef, outputs.map((t) => t.op.name), () => Promise.reject(new Error('no variables'))) };
  }
  const prefix = await save(g, sess);
  const graphDef = decodeMessage('MetaGraphDef', readFileSync(`${prefix}.meta`)).graph_def!;
  return { graphDef, frozen: await freezeWith(graphDef, outputs, prefix) };
}

/** Saves the session's variables (checkpoint + .meta) in a new directory; returns the prefix. */
async function save(g: tf.Graph, sess: tf.Session): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-tfjs-'));
  dirs.push(dir);
  return g.asDefault(() => new tf.train.Saver()).save(sess, join(dir, 'model.ckpt'));
}

/** The inference graph of `outputs` in `graphDef`, its variables replaced by the checkpoint's values. */
async function freezeWith(graphDef: GraphDef, outputs: readonly tf.Tensor[], prefix: string): Promise<GraphDef> {
  const reader = await CheckpointReader.open(prefix);
  return freezeGraphDef(
    graphDef,
    outputs.map((t) => t.op.name),
    (name) => reader.getTensor(name),
  );
}

/** tfjs's name of a tensor: the node name for output 0, 'node:i' otherwise. */
const tfjsName = (t: tf.Tensor): string => (t.valueIndex === 0 ? t.op.name : t.name);

/** Runs `outputs` in weir and in tfjs-converter on the same feeds; returns both. */
async function runBoth(g: tf.Graph, sess: tf.Session, feeds: [tf.Tensor, tf.NDArray][], outputs: tf.Tensor[]) {
  const { graphDef, frozen } = await exportFrozen(g, sess, outputs);
  const want = (await sess.run(outputs, feeds)) as tf.NDArray[];
  const got = await runTfjs(frozen, feeds, outputs);
  return { want, got, graphDef, frozen };
}

/** Runs a frozen GraphDef in tfjs-converter: `feeds` by their placeholders' names, `outputs` fetched. */
async function runTfjs(frozen: GraphDef, feeds: readonly (readonly [tf.Tensor, tf.NDArray])[], outputs: readonly tf.Tensor[]): Promise<tf.NDArray[]> {
  const core = await tfjs();
  const { loadGraphModelSync } = await import('@tensorflow/tfjs-converter');
  const model = loadGraphModelSync(toTfjsArtifacts(frozen) as Parameters<typeof loadGraphModelSync>[0]);
  const inputs: Record<string, TfjsTensor> = {};
  for (const [t, v] of feeds) {
    const data = v.dtype === 'bool' ? Array.from(v.data as Uint8Array, (x) => x !== 0) : Array.from(v.data as ArrayLike<number>);
    inputs[t.op.name] = core.tensor(data as number[], [...v.shape], v.dtype === 'bool' ? 'bool' : v.dtype === 'int32' ? 'int32' : 'float32');
  }
  try {
    const out = (await model.executeAsync(inputs, outputs.map(tfjsName))) as TfjsTensor | TfjsTensor[];
    const list = Array.isArray(out) ? out : [out];
    const got = await Promise.all(list.map((t) => fromTfjs(t)));
    for (const t of list) t.dispose();
    return got;
  } finally {
    for (const t of Object.values(inputs)) t.dispose();
    model.dispose();
  }
}

/**
 * Exports `outputs` and runs them in tfjs-converter and in weir on each feed set of `runs`; each
 * output of tfjs within `tol` of weir's (integer outputs exactly). Where tfjs-converter lacks ops
 * of the inference graph, `lacks` lists them: the test asserts that list and that tfjs refuses the
 * graph naming one of them, instead of comparing. Returns the frozen graph.
 */
async function compareInTfjs(
  g: tf.Graph,
  sess: tf.Session,
  outputs: tf.Tensor[],
  runs: readonly (readonly [tf.Tensor, tf.NDArray])[][],
  opts: { tol?: number; fixed?: [tf.Tensor, tf.NDArray][]; lacks?: string[] } = {},
): Promise<GraphDef> {
  const { frozen, graphDef } = await exportFrozen(g, sess, outputs);
  // The whole exported graph (training ops included) agrees with tfjs's record of each op it has.
  expectOpDefsMatch(graphDef);
  const lacking = opsTfjsLacks(frozen);
  expect(lacking).toEqual(opts.lacks ?? []);
  const fixed = opts.fixed ?? [];
  for (const feeds of runs) {
    if (lacking.length > 0) {
      await expect(runTfjs(frozen, [...feeds, ...fixed], outputs)).rejects.toThrow(new RegExp(lacking.join('|')));
      continue;
    }
    const want = (await sess.run(outputs, [...feeds, ...fixed] as [tf.Tensor, tf.NDArray][])) as tf.NDArray[];
    const got = await runTfjs(frozen, [...feeds, ...fixed], outputs);
    want.forEach((w, i) => {
      if (w.dtype === 'float32') expectClose(got[i]!, w, { atol: opts.tol ?? 1e-5, rtol: opts.tol ?? 1e-5 });
      else expect(Array.from(got[i]!.data, Number)).toEqual(Array.from(w.data as ArrayLike<number | bigint>, Number));
    });
  }
  return frozen;
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
    const g = new tf.Graph();
    const m = g.asDefault(() => ({ ...buildMlp(256, 1e-3, seededRandom(1)), init: tf.globalVariablesInitializer() }));
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const xs = images(8, 11);
    const labels = tf.NDArray.from([0, 1, 2, 3, 4, 5, 6, 7], 'int32', [8]);
    for (let i = 0; i < 3; i++) await sess.run(m.trainOp, [[m.x, xs], [m.y, labels]]); // Adam moves the weights off their initial values
    const probs = g.asDefault(() => tf.nn.softmax(m.logits));
    const predicted = g.asDefault(() => tf.argmax(m.logits, 1));
    const { want, got, graphDef } = await runBoth(g, sess, [[m.x, xs]], [m.logits, probs, predicted]);
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
    // examples/xor's buildXor trains on constant inputs; here they are fed.
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      return { x, ...buildXor(x, tf.constant(XOR_TARGETS.map((t) => [t]))), init: tf.globalVariablesInitializer() };
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

const uniform = (shape: number[], seed: number, min = -1, max = 1): tf.NDArray => randomArray(shape, { seed, min, max });
const TRUE = tf.NDArray.from(true, 'bool');
const FALSE = tf.NDArray.from(false, 'bool');

/** A new graph holding `build`'s model (graph seed 0) and its initialized session. */
async function session<M>(build: () => M): Promise<{ g: tf.Graph; m: M; sess: tf.Session }> {
  const g = new tf.Graph();
  g.seed = 0;
  const m = g.asDefault(build);
  const sess = new tf.Session({ graph: g });
  await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
  return { g, m, sess };
}

describe("TensorFlow.js runs every other example's inference graph with weir's trained values", () => {
  it('autoencoder (dense): the reconstructions after 3 RMSProp steps', async () => {
    const { g, m, sess } = await session(() => buildAutoencoder(false, 1e-3));
    for (let s = 0; s < 3; s++) await sess.run(m.trainOp, [[m.x, images(8, 30 + s)]]);
    await compareInTfjs(g, sess, [m.reconstruction], [[[m.x, images(5, 40)]], [[m.x, images(1, 41)]]]);
    sess.close();
  });

  it('autoencoder (--conv): conv2dTranspose and batch norm at is_training false, after 3 Adam steps', async () => {
    const { g, m, sess } = await session(() => buildAutoencoder(true, 1e-3));
    for (let s = 0; s < 3; s++) await sess.run(m.trainOp, [[m.x, images(8, 30 + s)], [m.isTraining, TRUE]]);
    const frozen = await compareInTfjs(g, sess, [m.reconstruction], [[[m.x, images(4, 42)]], [[m.x, images(1, 43)]]], { tol: 1e-4, fixed: [[m.isTraining, FALSE]] });
    expect(frozen.node!.map((n) => n.op)).toContain('Conv2DBackpropInput');
    sess.close();
  });

  for (const conv of [false, true]) {
    it(`vae${conv ? ' (--conv)' : ''}: the decoder from z and the encoder's mean, after 2 Adam steps`, async () => {
      const latent = 2;
      const { g, m, sess } = await session(() => buildVae(conv, latent, 1e-3));
      for (let s = 0; s < 2; s++) await sess.run(m.trainOp, [[m.x, images(8, 50 + s)]]);
      await compareInTfjs(g, sess, [m.generated], [[[m.zIn, uniform([6, latent], 52, -2, 2)]], [[m.zIn, uniform([1, latent], 53, -2, 2)]]], { tol: 1e-4 });
      await compareInTfjs(g, sess, [m.mu], [[[m.x, images(4, 54)]], [[m.x, images(1, 55)]]], { tol: 1e-4 });
      sess.close();
    });
  }

  it("dqn: the online Q-network's values and greedy actions after 5 Adam steps", async () => {
    const h = { ...DQN_DEFAULTS.CartPole, hidden: [16, 16] };
    const { g, m } = buildDqnGraph(h, 4, 2, 0);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    await sess.run(m.updateTarget);
    for (let s = 0; s < 5; s++) {
      await sess.run(m.trainOp, [
        [m.observations, uniform([8, 4], 60 + s)],
        [m.actions, randomArray([8], { seed: 70 + s, min: 0, max: 2, dtype: 'int32' })],
        [m.rewards, uniform([8], 80 + s, 0, 1)],
        [m.nextObservations, uniform([8, 4], 90 + s)],
        [m.terminals, new tf.NDArray(new Float32Array(8), [8])],
      ]);
    }
    const q = m.greedy.op.inputs[0]!;
    await compareInTfjs(g, sess, [q, m.greedy], [[[m.observations, uniform([16, 4], 61, -2, 2)]], [[m.observations, uniform([1, 4], 62, -2, 2)]]]);
    sess.close();
  });

  it("reinforce: the policy's logits and the value estimate after 5 Adam steps", async () => {
    const { g, m } = buildReinforce({ ...REINFORCE_DEFAULTS, hidden: 16 }, 4, 2, 0);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    for (let s = 0; s < 5; s++) {
      await sess.run(m.trainOp, [
        [m.observations, uniform([12, 4], 100 + s)],
        [m.actions, randomArray([12], { seed: 110 + s, min: 0, max: 2, dtype: 'int32' })],
        [m.returns, uniform([12], 120 + s, 0, 10)],
        [m.mask, new tf.NDArray(new Float32Array(12).fill(1), [12])],
      ]);
    }
    await compareInTfjs(g, sess, [m.logits, m.value], [[[m.observations, uniform([20, 4], 101, -2, 2)]], [[m.observations, uniform([1, 4], 102, -2, 2)]]]);
    sess.close();
  });

  it('mnist-gan: the generator from z (conv2dTranspose, batch norm at training false) after 2 steps of each network', async () => {
    const { g, m, sess } = await session(() => buildGan('gan'));
    for (let s = 0; s < 2; s++) {
      const z = uniform([8, Z_DIM], 130 + s);
      await sess.run(m.dTrain, [[m.real, images(8, 140 + s)], [m.z, z]]);
      await sess.run(m.gTrain, [[m.z, z]]);
    }
    await compareInTfjs(g, sess, [m.fake], [[[m.z, uniform([3, Z_DIM], 131)]], [[m.z, uniform([1, Z_DIM], 132)]]], { tol: 1e-4, fixed: [[m.training, FALSE]] });
    sess.close();
  });

  it("style-transfer: the fixed random-filter network's features and Gram matrices of an image", async () => {
    const size = 24;
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const image = tf.placeholder('float32', [1, size, size, 3], 'image');
      const feats = features(image, buildFilters(0));
      return { image, outputs: [...feats.values(), ...STYLE_LAYERS.map((l) => gram(feats.get(l)!))] };
    });
    const sess = new tf.Session({ graph: g });
    const asImage = (d: Float32Array) => new tf.NDArray(d, [1, size, size, 3]);
    const frozen = await compareInTfjs(g, sess, m.outputs, [[[m.image, asImage(contentImage(size))]], [[m.image, asImage(styleImage(size, 1))]]], { tol: 1e-4 });
    expect(frozen.node!.map((n) => n.op)).toContain('AvgPool');
    sess.close();
  });

  it('seq2seq: the greedy decoder (a While loop writing a TensorArray) of a model trained 20 Adam steps', async () => {
    const o = { digits: 2, units: 16, embedding: 8, learningRate: 0.05, seed: 0 };
    const len = lengths(o.digits);
    const encode = (strings: readonly string[], length: number): tf.NDArray =>
      tf.NDArray.from(strings.flatMap((q) => Array.from({ length }, (_, t) => CHARS.indexOf(q[t]!))), 'int32', [strings.length, length]);
    const { g, m, sess } = await session(() => {
      tf.setRandomSeed(o.seed);
      return buildSeq2Seq(o);
    });
    const random = seededRandom(1);
    for (let s = 0; s < 20; s++) {
      const batch = makeProblems(16, o.digits, random);
      const answers = encode(batch.map((p) => p.answer), len.answer);
      const a = answers.data as Int32Array;
      const shifted = tf.NDArray.from(Array.from(a, (_, i) => (i % len.answer === 0 ? CHARS.length : a[i - 1]!)), 'int32', [16, len.answer]);
      await sess.run(m.train!, [[m.questions, encode(batch.map((p) => p.question), len.question)], [m.decoderInputs, shifted], [m.targets, answers]]);
    }
    const questions = makeProblems(8, o.digits, seededRandom(2)).map((p) => p.question);
    const frozen = await compareInTfjs(g, sess, [m.decoded], [[[m.questions, encode(questions, len.question)]], [[m.questions, encode(questions.slice(0, 1), len.question)]]]);
    expect(frozen.node!.some((n) => n.op === 'While' || n.op === 'StatelessWhile')).toBe(true);
    sess.close();
  });

  it("word2vec: a query's cosine similarities to every word after 5 NCE steps; the principal-component projection needs Svd, which tfjs lacks", async () => {
    const dataset = buildDataset(loadBrownWords(3000), 300);
    const vocab = dataset.words.length;
    const batch = 32;
    const batcher = new SkipGramBatcher(dataset.data, 2, 1, seededRandom(1));
    const { g, m, sess } = await session(() => {
      const model = buildWord2Vec({ vocab, dim: 16, batch, numSampled: 8, learningRate: 1, plotCount: 20 });
      // The example's neighbours as a graph: the query words' normalized rows against every row.
      const query = tf.placeholder('int32', [null], 'query');
      const similarity = tf.matmul(tf.nn.embeddingLookup(model.normalized, query), model.normalized, { transposeB: true });
      return { ...model, query, similarity };
    });
    for (let s = 0; s < 5; s++) {
      const b = batcher.next(batch);
      await sess.run(m.train, [[m.inputs, new tf.NDArray(b.inputs, [batch])], [m.labels, new tf.NDArray(b.labels, [batch, 1])]]);
    }
    const ids = (n: number, seed: number) => randomArray([n], { seed, min: 0, max: vocab, dtype: 'int32' });
    await compareInTfjs(g, sess, [m.similarity, m.normalized], [[[m.query, ids(6, 150)]], [[m.query, ids(1, 151)]]]);
    // The plot's projection, run as the graph it is (no constant folding here), needs Svd.
    await compareInTfjs(g, sess, [m.xy], [[]], { lacks: ['Svd'] });
    sess.close();
  });

  it("browser: the demo's MLP (examples/browser/model.ts) predictions after 3 Adam steps", async () => {
    const { g, m, sess } = await session(() => buildBrowserMlp({ hidden: 32, learningRate: 1e-2 }, seededRandom(3)));
    const labels = tf.NDArray.from([0, 1, 2, 3, 4, 5, 6, 7], 'int32', [8]);
    for (let s = 0; s < 3; s++) await sess.run(m.trainOp, [[m.x, images(8, 160 + s)], [m.y, labels]]);
    await compareInTfjs(g, sess, [m.logits, m.prediction], [[[m.x, images(5, 163)]], [[m.x, images(1, 164)]]]);
    sess.close();
  });

  it('basic: the small relu graph of examples/basic and its row sums', async () => {
    const { g, m, sess } = await session(buildBasic);
    await compareInTfjs(g, sess, [m.y, m.total], [[[m.x, uniform([4, 3], 170, -3, 3)]], [[m.x, uniform([1, 3], 171, -3, 3)]]]);
    sess.close();
  });
});
