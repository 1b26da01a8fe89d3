// The gallery examples' inference graphs (each built by its example's builder), exported to ONNX after a few training steps and run
// in ONNX Runtime (onnxruntime-node, an executor weir did not write) beside weir's own session on
// the same inputs: within 1e-4 absolute + 1e-4 relative for floats, exactly for ids. Where the
// model has a batch dimension, one export is run at two batch sizes: conv2dTranspose (the conv
// autoencoder, the conv VAE's decoder, the GAN's generator) computes its input_sizes from a run-time
// batch, and seq2seq's training graph gives its encoder While gradient accumulators (EmptyTensorList)
// that the export carries along.
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { buildAutoencoder } from '../examples/autoencoder/main.js';
import { buildDqnGraph, DQN_DEFAULTS } from '../examples/dqn/main.js';
import { IMAGE_SIZE, loadSplit, seededRandom, take, type Dataset } from '../examples/mnist-common/data.js';
import { buildGan, Z_DIM } from '../examples/mnist-gan/main.js';
import { buildModel, CHARS, GO, lengths, makeProblems } from '../examples/seq2seq/main.js';
import { buildFilters, contentImage, features, gram, STYLE_LAYERS, styleImage } from '../examples/style-transfer/main.js';
import { buildVae } from '../examples/vae/main.js';
import { buildDataset, buildWord2Vec, loadBrownWords, SkipGramBatcher } from '../examples/word2vec/main.js';
import { buildGraph as buildReinforce, REINFORCE_DEFAULTS } from '../examples/reinforce/main.js';
import { buildXor, INPUTS as XOR_INPUTS, TARGETS as XOR_TARGETS } from '../examples/xor/main.js';
import { buildModel as buildBrowserMlp } from '../examples/browser/model.js';
import { buildBasic } from '../examples/basic/main.js';
import { expectClose, expectWellFormed, ints, maxAbsDiff, runOrt, uniform } from './onnx_helpers.js';

const ATOL = 1e-4;
const RTOL = 1e-4;
const TRUE = new tf.NDArray(Uint8Array.of(1), [], 'bool');
const FALSE = new tf.NDArray(Uint8Array.of(0), [], 'bool');

const { train, test } = loadSplit(64, 16, 0);
const digits = (d: Dataset, from: number, n: number): tf.NDArray =>
  new tf.NDArray(take(d, Int32Array.from({ length: n }, (_, i) => from + i)).images, [n, IMAGE_SIZE]);

/** Largest |weir - ORT| per model and batch size, printed at the end. */
const measured: Record<string, number> = {};
afterAll(() => {
  console.log(`ONNX Runtime vs weir, max |diff|: ${JSON.stringify(measured)}`);
});

type Inputs = Readonly<Record<string, tf.Tensor>>;

/**
 * Exports `outputs` of `graph` (cut at `inputs`; `feedDict` frozen in), then for each input set of
 * `runs` compares every output of ONNX Runtime with weir's. Returns the decoded model.
 */
async function compareExport(
  key: string,
  graph: tf.Graph,
  sess: tf.Session,
  inputs: Inputs,
  outputs: Inputs,
  runs: readonly Readonly<Record<string, tf.NDArray>>[],
  feedDict: [tf.Tensor, tf.NDArray][] = [],
): Promise<tf.onnx.OnnxModel> {
  const bytes = await tf.onnx.exportGraph(graph, { session: sess, inputs, outputs, feedDict });
  const names = Object.keys(outputs);
  for (const feeds of runs) {
    const got = await runOrt(bytes, feeds, names);
    const weirFeeds: [tf.Tensor, tf.NDArray][] = [...Object.entries(feeds).map(([k, v]): [tf.Tensor, tf.NDArray] => [inputs[k]!, v]), ...feedDict];
    const want = (await sess.run(names.map((n) => outputs[n]!), weirFeeds)) as tf.NDArray[];
    const batch = Object.values(feeds)[0]!.shape[0];
    names.forEach((n, i) => {
      expectClose(got[i]!, want[i]!, `${key} ${n}`, ATOL, RTOL);
      measured[`${key} ${n} (batch ${batch})`] = maxAbsDiff(got[i]!, want[i]!);
    });
  }
  const model = tf.onnx.decodeModel(bytes);
  expectWellFormed(model);
  return model;
}

/** Loads every global variable of `to` with the value of the variable of the same name in `from`. */
async function loadValues(from: tf.Graph, fromSess: tf.Session, to: tf.Graph, toSess: tf.Session): Promise<void> {
  const source = new Map(from.asDefault(() => tf.globalVariables()).map((v) => [v.name, v]));
  for (const v of to.asDefault(() => tf.globalVariables())) {
    const s = source.get(v.name);
    if (!s) throw new Error(`no variable ${v.name} in the trained graph`);
    await v.load((await fromSess.run(s.value())) as tf.NDArray, toSess);
  }
}

const opTypes = (m: tf.onnx.OnnxModel): string[] => m.graph.node.map((n) => n.op_type);

/** Standard normal values (Box-Muller) from a seeded generator. */
function normals(shape: readonly number[], seed: number): tf.NDArray {
  const r = seededRandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return new tf.NDArray(Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())), shape);
}

describe('gallery examples exported to ONNX give weir\'s outputs in ONNX Runtime', () => {
  it('autoencoder (dense): the reconstructions after 3 RMSProp steps', async () => {
    const g = new tf.Graph();
    g.seed = 0;
    const m = g.asDefault(() => ({ ...buildAutoencoder(false, 1e-3), init: tf.globalVariablesInitializer() }));
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    for (let s = 0; s < 3; s++) await sess.run(m.trainOp, [[m.x, digits(train, s * 16, 16)]]);
    await compareExport('autoencoder', g, sess, { x: m.x }, { reconstruction: m.reconstruction }, [{ x: digits(test, 0, 16) }, { x: digits(test, 0, 3) }]);
    sess.close();
  });

  it('autoencoder (--conv): conv2dTranspose and batch norm at is_training=false, after 3 Adam steps', async () => {
    const g = new tf.Graph();
    g.seed = 0;
    const m = g.asDefault(() => ({ ...buildAutoencoder(true, 1e-3), init: tf.globalVariablesInitializer() }));
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    for (let s = 0; s < 3; s++) await sess.run(m.trainOp, [[m.x, digits(train, s * 16, 16)], [m.isTraining, TRUE]]);
    const model = await compareExport('autoencoder-conv', g, sess, { x: m.x }, { reconstruction: m.reconstruction }, [{ x: digits(test, 0, 16) }, { x: digits(test, 0, 3) }], [[m.isTraining, FALSE]]);
    expect(opTypes(model)).toContain('ConvTranspose');
    sess.close();
  });

  for (const conv of [false, true]) {
    it(`vae${conv ? ' (--conv)' : ''}: the decoder from z and the encoder's mean, after 2 Adam steps`, async () => {
      const g = new tf.Graph();
      g.seed = 0;
      const latent = 2;
      const m = g.asDefault(() => ({ ...buildVae(conv, latent, 1e-3), init: tf.globalVariablesInitializer() }));
      const sess = new tf.Session({ graph: g });
      await sess.run(m.init);
      for (let s = 0; s < 2; s++) await sess.run(m.trainOp, [[m.x, digits(train, s * 16, 16)]]);
      const key = conv ? 'vae-conv' : 'vae';
      await compareExport(`${key} decoder`, g, sess, { z: m.zIn }, { generated: m.generated }, [{ z: normals([10, latent], 1) }, { z: normals([2, latent], 2) }]);
      const encoder = await compareExport(`${key} encoder`, g, sess, { x: m.x }, { mu: m.mu }, [{ x: digits(test, 0, 16) }, { x: digits(test, 0, 3) }]);
      // The mean needs no noise: the export holds no random draw.
      expect(opTypes(encoder)).not.toContain('RandomNormal');
      sess.close();
    });
  }

  describe('seq2seq: the greedy decoder (While, TensorArray, embedding gather, argmax)', () => {
    // examples/seq2seq's buildModel at a small size; `training` false leaves out the loss and its
    // gradients (the encoder's While then carries no accumulators for them).
    const o = { digits: 2, units: 16, embedding: 8, learningRate: 0.05, seed: 0, steps: 30 };
    const len = lengths(o.digits);
    const encode = (strings: readonly string[], length: number): tf.NDArray =>
      new tf.NDArray(Int32Array.from(strings.flatMap((s) => Array.from({ length }, (_, t) => CHARS.indexOf(s[t]!)))), [strings.length, length], 'int32');
    const build = (training: boolean) => {
      const g = new tf.Graph();
      const m = g.asDefault(() => {
        tf.setRandomSeed(o.seed);
        return { ...buildModel(o, training), init: tf.globalVariablesInitializer() };
      });
      return { g, m, sess: new tf.Session({ graph: g }) };
    };
    const held = makeProblems(8, o.digits, seededRandom(o.seed)).map((p) => p.question);
    const runs = [{ questions: encode(held, len.question) }, { questions: encode(held.slice(0, 3), len.question) }];

    /** The training graph after `o.steps` Adam steps on teacher-forced batches of 16. */
    async function trained() {
      const random = seededRandom(o.seed + 1);
      const t = build(true);
      await t.sess.run(t.m.init);
      for (let s = 0; s < o.steps; s++) {
        const batch = makeProblems(16, o.digits, random);
        const answers = encode(batch.map((p) => p.answer), len.answer);
        const a = answers.data as Int32Array;
        const shifted = new tf.NDArray(Int32Array.from(a, (_, i) => (i % len.answer === 0 ? GO : a[i - 1]!)), [16, len.answer], 'int32');
        await t.sess.run(t.m.train!, [[t.m.questions, encode(batch.map((p) => p.question), len.question)], [t.m.decoderInputs, shifted], [t.m.targets, answers]]);
      }
      return t;
    }

    it('from the training graph (its encoder While carries gradient accumulators): the same ids as weir', async () => {
      const t = await trained();
      const model = await compareExport('seq2seq (training graph)', t.g, t.sess, { questions: t.m.questions }, { decoded: t.m.decoded }, runs);
      expect(opTypes(model)).toContain('SequenceEmpty');
      t.sess.close();
    });

    it('from an inference graph holding the trained values: the same ids as weir', async () => {
      const t = await trained();
      const inf = build(false);
      await inf.sess.run(inf.m.init);
      await loadValues(t.g, t.sess, inf.g, inf.sess);
      // The inference graph computes what the training graph does, and the ids differ from row to row
      // (a model that answers every question the same way would make the comparison weak).
      const ids = Array.from((await inf.sess.run(inf.m.decoded, [[inf.m.questions, runs[0]!.questions]])).data as Int32Array);
      expect(ids).toEqual(Array.from((await t.sess.run(t.m.decoded, [[t.m.questions, runs[0]!.questions]])).data as Int32Array));
      expect(new Set(ids).size).toBeGreaterThan(2);
      const model = await compareExport('seq2seq', inf.g, inf.sess, { questions: inf.m.questions }, { decoded: inf.m.decoded }, runs);
      expect(opTypes(model)).toContain('Loop');
      t.sess.close();
      inf.sess.close();
    });
  });

  it('dqn: the online Q-network (and its greedy action) after 5 Adam steps on random transitions', async () => {
    const h = { ...DQN_DEFAULTS.CartPole, hidden: [16, 16] };
    const { g, m } = buildDqnGraph(h, 4, 2, 0);
    const q = m.greedy.op.inputs[0]!;
    expect(q.name).toBe('online/q/BiasAdd:0');
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    await sess.run(m.updateTarget);
    for (let s = 0; s < 5; s++) {
      await sess.run(m.trainOp, [
        [m.observations, uniform([8, 4], -1, 1, 10 + s)],
        [m.actions, ints([8], 0, 2, 20 + s)],
        [m.rewards, uniform([8], 0, 1, 30 + s)],
        [m.nextObservations, uniform([8, 4], -1, 1, 40 + s)],
        [m.terminals, new tf.NDArray(new Float32Array(8), [8])],
      ]);
    }
    await compareExport('dqn', g, sess, { observations: m.observations }, { q, greedy: m.greedy }, [{ observations: uniform([32, 4], -2, 2, 5) }, { observations: uniform([1, 4], -2, 2, 6) }]);
    sess.close();
  });

  it('reinforce: the policy logits and the value estimate after 5 Adam steps on random episodes', async () => {
    const { g, m } = buildReinforce({ ...REINFORCE_DEFAULTS, hidden: 16 }, 4, 2, 0);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    for (let s = 0; s < 5; s++) {
      await sess.run(m.trainOp, [
        [m.observations, uniform([12, 4], -1, 1, 50 + s)],
        [m.actions, ints([12], 0, 2, 60 + s)],
        [m.returns, uniform([12], 0, 10, 70 + s)],
        [m.mask, new tf.NDArray(new Float32Array(12).fill(1), [12])],
      ]);
    }
    await compareExport('reinforce', g, sess, { observations: m.observations }, { logits: m.logits, value: m.value }, [{ observations: uniform([20, 4], -2, 2, 7) }, { observations: uniform([1, 4], -2, 2, 8) }]);
    sess.close();
  });

  it('mnist-gan: the generator from z (conv2dTranspose, batch norm at training=false)', async () => {
    const g = new tf.Graph();
    g.seed = 0;
    const m = g.asDefault(() => ({ ...buildGan('gan'), init: tf.globalVariablesInitializer() }));
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    for (let s = 0; s < 2; s++) {
      const z = normals([8, Z_DIM], 100 + s);
      await sess.run(m.dTrain, [[m.real, digits(train, s * 8, 8)], [m.z, z]]);
      await sess.run(m.gTrain, [[m.z, z]]);
    }
    await compareExport('mnist-gan generator', g, sess, { z: m.z }, { fake: m.fake }, [{ z: normals([5, Z_DIM], 7) }, { z: normals([2, Z_DIM], 8) }], [[m.training, FALSE]]);
    sess.close();
  });

  it('style-transfer: the fixed random-filter network\'s Gram matrices of an image', async () => {
    const size = 24;
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const image = tf.placeholder('float32', [1, size, size, 3], 'probe');
      const feats = features(image, buildFilters(0));
      return { image, grams: Object.fromEntries(STYLE_LAYERS.map((l) => [l, gram(feats.get(l)!)])) };
    });
    const sess = new tf.Session({ graph: g });
    const asImage = (d: Float32Array) => new tf.NDArray(d, [1, size, size, 3]);
    const model = await compareExport('style grams', g, sess, { image: m.image }, m.grams, [{ image: asImage(styleImage(size, 0)) }, { image: asImage(contentImage(size)) }]);
    expect(opTypes(model)).toContain('AveragePool');
    sess.close();
  });

  it('word2vec: similarities of normalized embeddings and the PCA projection after 5 NCE steps; an Svd of an input does not export', async () => {
    // examples/word2vec's buildWord2Vec at a small size; the query: ids → cosine similarities to every word.
    const dataset = buildDataset(loadBrownWords(3000), 300);
    const vocab = dataset.words.length;
    const batch = 32;
    const batcher = new SkipGramBatcher(dataset.data, 2, 1, seededRandom(1));
    const g = new tf.Graph();
    g.seed = 0;
    const m = g.asDefault(() => {
      const model = buildWord2Vec({ vocab, dim: 16, batch, numSampled: 8, learningRate: 1, plotCount: 20 });
      const query = tf.placeholder('int32', [null], 'query');
      const similarity = tf.matmul(tf.nn.embeddingLookup(model.normalized, query), model.normalized, { transposeB: true });
      return { ...model, query, similarity, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    for (let s = 0; s < 5; s++) {
      const b = batcher.next(batch);
      await sess.run(m.train, [[m.inputs, new tf.NDArray(b.inputs, [batch])], [m.labels, new tf.NDArray(b.labels, [batch, 1])]]);
    }
    // The plot's principal-component projection depends on the variables alone: the export folds it
    // (its Svd included) to a constant, so the model holds no Svd, which ONNX has no operator for.
    const model = await compareExport('word2vec', g, sess, { query: m.query }, { similarity: m.similarity, xy: m.xy }, [{ query: ints([6], 0, vocab, 9) }, { query: ints([1], 0, vocab, 10) }]);
    expect(opTypes(model)).not.toContain('Svd');
    // Where the decomposition depends on an input, the export names it as what it cannot convert.
    const q = g.asDefault(() => tf.linalg.svd(tf.nn.embeddingLookup(m.normalized, m.query))[2]);
    await expect(tf.onnx.exportGraph(g, { session: sess, inputs: { query: m.query }, outputs: { v: q } })).rejects.toThrow(/cannot be exported: Svd/);
    sess.close();
  });

  it('xor: the 3-4-1 sigmoid network after 50 gradient-descent steps, its inputs fed', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      return { x, ...buildXor(x, tf.constant(XOR_TARGETS.map((t) => [t]))), init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const xs = new tf.NDArray(Float32Array.from(XOR_INPUTS.flat()), [XOR_INPUTS.length, 3]);
    for (let s = 0; s < 50; s++) await sess.run(m.train, [[m.x, xs]]);
    await compareExport('xor', g, sess, { x: m.x }, { output: m.output }, [{ x: xs }, { x: uniform([2, 3], 0, 1, 11) }]);
    sess.close();
  });

  it("browser: the demo's MLP (examples/browser/model.ts) logits and predictions after 3 Adam steps", async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => ({ ...buildBrowserMlp({ hidden: 32, learningRate: 1e-2 }, seededRandom(3)), init: tf.globalVariablesInitializer() }));
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const labels = (from: number) => new tf.NDArray(take(train, Int32Array.from({ length: 16 }, (_, i) => from + i)).labels, [16]);
    for (let s = 0; s < 3; s++) await sess.run(m.trainOp, [[m.x, digits(train, s * 16, 16)], [m.y, labels(s * 16)]]);
    await compareExport('browser mlp', g, sess, { x: m.x }, { logits: m.logits, prediction: m.prediction }, [{ x: digits(test, 0, 16) }, { x: digits(test, 0, 1) }]);
    sess.close();
  });

  it('basic: the small relu graph of examples/basic and its row sums', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => ({ ...buildBasic(), init: tf.globalVariablesInitializer() }));
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    await compareExport('basic', g, sess, { x: m.x }, { y: m.y, total: m.total }, [{ x: uniform([4, 3], -3, 3, 12) }, { x: uniform([1, 3], -3, 3, 13) }]);
    sess.close();
  });
});
