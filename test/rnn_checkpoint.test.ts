// A TF 1.15-style checkpoint of a small LSTM language model (embedding, a two-layer MultiRNNCell of
// BasicLSTMCells under rnn/multi_rnn_cell/cell_i/basic_lstm_cell, softmax_w/softmax_b), written by
// tf.train.Saver from known weights in a graph that only declares the variables by their TF names,
// restored into a fresh graph built from the model code alone, and compared with a plain-JS
// reference of TF's BasicLSTMCell equations on the same weights. Everything lives in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { BasicLSTMCell, DropoutWrapper, dynamicRnn, MultiRNNCell, type LSTMStateTuple, type RNNState } from '../src/api/rnn.js';
import { embeddingLookup } from '../src/api/nn_extra.js';
import { listVariables, Saver } from '../src/io/index.js';
import { expectClose, randomArray } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'weir-rnn-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const V = 7; // vocabulary
const E = 3; // embedding size
const H = 4; // LSTM units per layer
const L = 2; // layers
const B = 2;
const Tn = 5;

/** The checkpoint's variables, TF 1.15 names and shapes (tf.nn.rnn_cell.BasicLSTMCell in MultiRNNCell under dynamic_rnn). */
const TF_VARS: [string, number[]][] = [
  ['embedding', [V, E]],
  ['rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel', [E + H, 4 * H]],
  ['rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias', [4 * H]],
  ['rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel', [H + H, 4 * H]],
  ['rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias', [4 * H]],
  ['softmax_w', [H, V]],
  ['softmax_b', [V]],
];

/** Known weights, one seeded array per variable. */
const WEIGHTS = new Map(TF_VARS.map(([n, s], k) => [n, randomArray(s, { seed: 500 + k, min: -0.9, max: 0.9 })]));

const IDS = [
  [1, 4, 0, 6, 2],
  [3, 3, 5, 1, 0],
];

/** The model code: what a TF1 PTB-style script builds (dropout off when keepProb is fed 1). */
function buildModel(ids: tf.Tensor, keepProb: tf.Tensor) {
  const embedding = tf.getVariable('embedding', { shape: [V, E], dtype: 'float32' });
  const inputs = embeddingLookup(embedding, ids);
  const cell = new MultiRNNCell(Array.from({ length: L }, () => new DropoutWrapper(new BasicLSTMCell(H, { forgetBias: 0.0 }), { outputKeepProb: keepProb })));
  const [outputs, state] = dynamicRnn(cell, inputs, { dtype: 'float32' });
  const softmaxW = tf.getVariable('softmax_w', { shape: [H, V], dtype: 'float32' });
  const softmaxB = tf.getVariable('softmax_b', { shape: [V], dtype: 'float32' });
  const logits = tf.reshape(tf.add(tf.matmul(tf.reshape(outputs, [-1, H]), softmaxW), softmaxB), [B, Tn, V]);
  return { logits, state: state as RNNState[] };
}

// ---------------------------------------------------------------------------------------------
// The independent reference: TF's BasicLSTMCell in plain JS loops.

const sig = (v: number): number => 1 / (1 + Math.exp(-v));
const w = (n: string): Float32Array => WEIGHTS.get(n)!.data as Float32Array;

/** One BasicLSTMCell step for one example: [i, j, f, o] = [x, h]·K + b; c' = c·σ(f + fb) + σ(i)·tanh(j); h' = tanh(c')·σ(o). */
function lstmStep(kernel: Float32Array, bias: Float32Array, x: number[], c: number[], h: number[], forgetBias: number): [number[], number[]] {
  const xh = [...x, ...h];
  const z = new Array<number>(4 * H).fill(0);
  for (let col = 0; col < 4 * H; col++) {
    let s = bias[col]!;
    for (let r = 0; r < xh.length; r++) s += xh[r]! * kernel[r * 4 * H + col]!;
    z[col] = s;
  }
  const c2 = c.map((cv, u) => cv * sig(z[2 * H + u]! + forgetBias) + sig(z[u]!) * Math.tanh(z[H + u]!));
  const h2 = c2.map((cv, u) => Math.tanh(cv) * sig(z[3 * H + u]!));
  return [c2, h2];
}

/** Logits [B, T, V] and the final (c, h) per layer, flattened [B, H] each. */
function reference(forgetBias: number): { logits: number[]; final: number[][] } {
  const emb = w('embedding');
  const logits: number[] = [];
  const finals: number[][] = Array.from({ length: 2 * L }, () => []);
  for (let b = 0; b < B; b++) {
    const cs = Array.from({ length: L }, () => new Array<number>(H).fill(0));
    const hs = Array.from({ length: L }, () => new Array<number>(H).fill(0));
    for (let t = 0; t < Tn; t++) {
      let x = Array.from(emb.subarray(IDS[b]![t]! * E, IDS[b]![t]! * E + E));
      for (let l = 0; l < L; l++) {
        const p = `rnn/multi_rnn_cell/cell_${l}/basic_lstm_cell`;
        [cs[l], hs[l]] = lstmStep(w(`${p}/kernel`), w(`${p}/bias`), x, cs[l]!, hs[l]!, forgetBias);
        x = hs[l]!;
      }
      for (let v = 0; v < V; v++) {
        let s = w('softmax_b')[v]!;
        for (let u = 0; u < H; u++) s += x[u]! * w('softmax_w')[u * V + v]!;
        logits.push(s);
      }
    }
    for (let l = 0; l < L; l++) {
      finals[2 * l]!.push(...cs[l]!);
      finals[2 * l + 1]!.push(...hs[l]!);
    }
  }
  return { logits, final: finals };
}

/** Writes the checkpoint from a graph that declares only the variables, with the known values. */
async function writeCheckpoint(dir: string): Promise<string> {
  const g = new tf.Graph();
  const sess = new tf.Session({ graph: g });
  const saver = g.asDefault(() => {
    for (const [n] of TF_VARS) new tf.Variable(WEIGHTS.get(n)!, { name: n });
    return new Saver();
  });
  await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
  const path = await saver.save(sess, `${dir}/lstm_lm.ckpt`);
  sess.close();
  return path;
}

describe('LSTM language model: a TF 1.15-style checkpoint restores into the weir model', () => {
  it('the checkpoint holds exactly TF’s names and shapes, the model declares the same ones, and the logits match the JS reference', async () => {
    const path = await writeCheckpoint(join(root, 'lm'));
    const listed = await listVariables(path);
    expect([...listed].sort((a, b) => (a[0] < b[0] ? -1 : 1))).toEqual([...TF_VARS].sort((a, b) => (a[0] < b[0] ? -1 : 1)));

    const g = new tf.Graph();
    const built = g.asDefault(() => {
      const ids = tf.placeholder('int32', [B, Tn], 'ids');
      const keep = tf.placeholderWithDefault(tf.constant(1, 'float32'), [], 'keep_prob');
      return { ids, keep, ...buildModel(ids, keep) };
    });
    const vars = g.asDefault(() => tf.globalVariables());
    expect(vars.map((v) => [v.name.replace(/:0$/, ''), v.shape])).toEqual(TF_VARS);

    const sess = new tf.Session({ graph: g });
    // No initializer: every variable's value comes from the checkpoint.
    await g.asDefault(() => new Saver()).restore(sess, path);
    const idFeed = new tf.NDArray(Int32Array.from(IDS.flat()), [B, Tn]);
    const stateLeaves = built.state.flatMap((s) => [(s as LSTMStateTuple).c, (s as LSTMStateTuple).h]);
    const [logits, ...finals] = (await sess.run([built.logits, ...stateLeaves], [[built.ids, idFeed]])) as unknown as tf.NDArray[];
    const ref = reference(0.0);
    expect(logits!.shape).toEqual([B, Tn, V]);
    expectClose(logits!, ref.logits, { atol: 1e-5, rtol: 1e-5 });
    finals.forEach((f, k) => expectClose(f, ref.final[k]!, { atol: 1e-5 }));

    // The restored values are the checkpoint's, bit for bit.
    const restored = (await sess.run(vars.map((v) => v.value()))) as unknown as tf.NDArray[];
    restored.forEach((a, k) => expect(Array.from(a.data as Float32Array)).toEqual(Array.from(WEIGHTS.get(TF_VARS[k]![0])!.data as Float32Array)));

    // A fed keep probability below 1 turns dropout on (training mode): the logits change.
    const [dropped] = (await sess.run([built.logits], [[built.ids, idFeed], [built.keep, tf.NDArray.from(0.5, 'float32')]])) as unknown as tf.NDArray[];
    expect(Array.from(dropped!.data as Float32Array).some((v, k) => Math.abs(v - ref.logits[k]!) > 1e-3)).toBe(true);
    sess.close();
  });

  it('a model built with the default forgetBias (1.0) gives different logits from the same checkpoint, matching the reference with 1.0', async () => {
    const path = await writeCheckpoint(join(root, 'lm_fb'));
    const g = new tf.Graph();
    const built = g.asDefault(() => {
      const ids = tf.placeholder('int32', [B, Tn], 'ids');
      const embedding = tf.getVariable('embedding', { shape: [V, E], dtype: 'float32' });
      const cell = new MultiRNNCell([new BasicLSTMCell(H), new BasicLSTMCell(H)]);
      const [outputs] = dynamicRnn(cell, embeddingLookup(embedding, ids), { dtype: 'float32' });
      const softmaxW = tf.getVariable('softmax_w', { shape: [H, V], dtype: 'float32' });
      const softmaxB = tf.getVariable('softmax_b', { shape: [V], dtype: 'float32' });
      const logits = tf.add(tf.matmul(tf.reshape(outputs, [-1, H]), softmaxW), softmaxB);
      return { ids, logits };
    });
    const sess = new tf.Session({ graph: g });
    await g.asDefault(() => new Saver()).restore(sess, path);
    const [logits] = (await sess.run([built.logits], [[built.ids, new tf.NDArray(Int32Array.from(IDS.flat()), [B, Tn])]])) as unknown as tf.NDArray[];
    expectClose(logits!, reference(1.0).logits, { atol: 1e-5, rtol: 1e-5, shape: [B * Tn, V] });
    expect(Math.max(...reference(1.0).logits.map((v, k) => Math.abs(v - reference(0.0).logits[k]!)))).toBeGreaterThan(1e-3);
    sess.close();
  });
});
