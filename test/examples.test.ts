import { describe, expect, it } from 'vitest';
import { TARGETS, trainXor } from '../examples/xor/main.js';
import { trainMnist } from '../examples/mnist-mlp/main.js';
import { loadSplit, randomShift } from '../examples/mnist-common/data.js';
import * as tf from '../src/index.js';
import { buildModel as buildCharRnn, buildVocab, encode, evaluateLoss, loadBrownText, makeBatches, splitText, trainCharRnn } from '../examples/char-rnn/main.js';
import { CHARS, lengths, makeProblems, trainSeq2Seq } from '../examples/seq2seq/main.js';
import { buildDataset, loadBrownWords, SkipGramBatcher, scatterPng, trainWord2Vec } from '../examples/word2vec/main.js';

describe('examples', () => {
  it('xor: the 3-4-1 sigmoid net learns XOR with gradient descent', async () => {
    const { predictions, losses } = await trainXor();
    expect(predictions.map(Math.round)).toEqual(TARGETS);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! / 10);
  });

  it('mnist: the data split is reproducible and covers every digit', () => {
    const a = loadSplit(500, 200, 3);
    const b = loadSplit(500, 200, 3);
    expect(a.train.count).toBe(500);
    expect(a.test.count).toBe(200);
    expect(Array.from(a.train.labels)).toEqual(Array.from(b.train.labels));
    expect(new Set(a.train.labels).size).toBe(10);
    for (const v of a.train.images.subarray(0, 784 * 10)) expect(v >= 0 && v <= 1).toBe(true);
  });

  it('mnist: randomShift moves whole images by at most the given number of pixels', () => {
    const count = 50;
    const images = new Float32Array(count * 784);
    for (let n = 0; n < count; n++) images[n * 784 + 14 * 28 + 14] = 1; // one lit pixel in the middle
    let draws = 0;
    const random = () => [0.1, 0.9, 0.5][draws++ % 3]!;
    const shifted = randomShift({ images, labels: new Int32Array(count), count }, 2, random);
    const seen = new Set<string>();
    for (let n = 0; n < count; n++) {
      const img = shifted.images.subarray(n * 784, (n + 1) * 784);
      const at = img.indexOf(1);
      expect(img.reduce((a, b) => a + b, 0)).toBe(1);
      const [r, c] = [Math.floor(at / 28) - 14, (at % 28) - 14];
      expect(Math.abs(r) <= 2 && Math.abs(c) <= 2).toBe(true);
      seen.add(`${r},${c}`);
    }
    expect(seen.size).toBeGreaterThan(1);
    // A pixel on the border moved outwards disappears.
    const edge = new Float32Array(784);
    edge[0] = 1;
    const moved = randomShift({ images: edge, labels: new Int32Array(1), count: 1 }, 1, () => 0);
    expect(moved.images.reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('mnist: two epochs on 1000 digits bring the loss down', async () => {
    const { batchLosses, epochs, testAccuracy } = await trainMnist({ epochs: 2, trainCount: 1000, testCount: 500 });
    expect(batchLosses).toHaveLength(20);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(batchLosses[0]!).toBeGreaterThan(2); // about ln(10) at the start
    expect(mean(batchLosses.slice(-5))).toBeLessThan(0.6 * mean(batchLosses.slice(0, 5)));
    expect(epochs[1]!.loss).toBeLessThan(epochs[0]!.loss);
    expect(epochs[1]!.trainAccuracy).toBeGreaterThan(epochs[0]!.trainAccuracy);
    expect(testAccuracy).toBeGreaterThan(0.7);
  });
  it('char-rnn: a tiny 2-layer LSTM on 20k characters of the Brown corpus learns and samples', async () => {
    const text = loadBrownText(20_000);
    expect(text).toHaveLength(20_000);
    expect(text.startsWith('the fulton county grand jury said friday')).toBe(true);
    const vocab = buildVocab(text);
    expect(vocab.chars.every((c) => /^[a-z0-9 ~!-/:-@[-`{-}]$/.test(c))).toBe(true);
    // Row b of batch k+1 continues row b of batch k; targets are the inputs shifted by one.
    const ids = Int32Array.from({ length: 101 }, (_, i) => i);
    const batches = makeBatches(ids, 2, 5);
    expect(batches).toHaveLength(10);
    expect(Array.from(batches[1]!.x)).toEqual([5, 6, 7, 8, 9, 55, 56, 57, 58, 59]);
    expect(Array.from(batches[1]!.y)).toEqual([6, 7, 8, 9, 10, 56, 57, 58, 59, 60]);

    // The last 5% is held out: 19,000 characters are trained on (237 steps of 8 x 10 per epoch).
    expect(splitText(text, 0.05)).toEqual({ train: text.slice(0, 19_000), validation: text.slice(19_000) });
    const r = await trainCharRnn({ text, units: 32, layers: 2, seq: 10, batch: 8, steps: 30, sampleLength: 40, prime: 'the ' });
    const { stepLosses, sample } = r;
    expect([r.trainCharacters, r.validationCharacters]).toEqual([19_000, 1000]);
    expect(stepLosses).toHaveLength(30);
    expect(stepLosses[0]!).toBeGreaterThan(3.5); // about ln(vocabulary size) at the start
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(stepLosses.slice(-5))).toBeLessThan(mean(stepLosses.slice(0, 5)) - 0.4);
    // Held out after the (partial) epoch: 8 streams of 12 batches of 10 of the last 1000 characters.
    expect(r.epochs).toHaveLength(1);
    expect(r.validation).toBe(r.epochs[0]!.validation);
    expect(r.validation!.characters).toBe(960);
    expect(r.validation!.perplexity).toBeCloseTo(Math.exp(r.validation!.loss), 10);
    expect(r.validation!.loss).toBeLessThan(Math.log(vocab.chars.length) - 0.3);
    expect(sample).toHaveLength(4 + 40);
    expect(sample.startsWith('the ')).toBe(true);
    for (const c of sample) expect(vocab.ids.has(c)).toBe(true);
  });

  it('char-rnn: the held-out loss carries the state across batches (as one run over the whole text gives) and is the mean cross-entropy of the logits', async () => {
    const text = loadBrownText(2000).slice(1000, 1201);
    const vocab = buildVocab(loadBrownText(2000));
    const ids = encode(text, vocab);
    const units = 8;
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      tf.setRandomSeed(7);
      return { ...buildCharRnn({ vocabSize: vocab.chars.length, units, layers: 2 }), init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    try {
      await sess.run(m.init);
      // One stream: 20 batches of 10 characters, the state fed from each batch to the next.
      const carried = await evaluateLoss(sess, m, ids, 1, 10, units);
      expect(carried.characters).toBe(200);
      // The same characters in one run of 200 steps from the zero state, the loss computed here from the logits.
      const zeros = m.stateIn.map((p) => [p, new tf.NDArray(new Float32Array(units), [1, units])] as [tf.Tensor, tf.NDArray]);
      const logits = (await sess.run(m.logits, [[m.x, new tf.NDArray(ids.slice(0, 200), [1, 200])], ...zeros])) as tf.NDArray;
      const l = logits.data as Float32Array;
      const n = vocab.chars.length;
      let total = 0;
      for (let t = 0; t < 200; t++) {
        const row = Array.from(l.subarray(t * n, (t + 1) * n));
        const max = Math.max(...row);
        const logSum = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
        total += logSum - row[ids[t + 1]!]!;
      }
      expect(carried.loss).toBeCloseTo(total / 200, 5);
      // Without the state carried (each batch from zeros) the loss differs.
      const fresh = await Promise.all(makeBatches(ids, 1, 10).map(async (b) => (await evaluateLoss(sess, m, Int32Array.from([...b.x, b.y[9]!]), 1, 10, units)).loss));
      expect(Math.abs(fresh.reduce((a, b) => a + b, 0) / fresh.length - carried.loss)).toBeGreaterThan(1e-4);
    } finally {
      sess.close();
    }
  });

  it('seq2seq: problems are padded, reversed sums; a small encoder-decoder learns single-digit addition', async () => {
    let k = 0;
    const draws = [0.99, 0.5, 0.2, 0.3]; // 3-digit 500 + 1-digit 3
    const [p] = makeProblems(1, 3, () => draws[k++]!);
    expect(lengths(3)).toEqual({ question: 7, answer: 4 });
    expect(p).toEqual({ question: '  3+005', answer: '503 ' });
    for (const q of makeProblems(50, 2, Math.random)) {
      const [a, b] = q.question.split('').reverse().join('').trim().split('+').map(Number);
      expect(Number(q.answer)).toBe(a! + b!);
      expect([...q.question, ...q.answer].every((c) => CHARS.includes(c))).toBe(true);
    }

    const { progress, accuracy, examples } = await trainSeq2Seq({ digits: 1, steps: 90, every: 30, batch: 32, units: 32, testCount: 100, learningRate: 0.02 });
    expect(progress.map((q) => q.step)).toEqual([30, 60, 90]);
    expect(progress[2]!.loss).toBeLessThan(0.7 * progress[0]!.loss);
    // Chance is 1 in 12 per character; the greedy in-graph decoder gets most of them right.
    expect(progress[2]!.charAccuracy).toBeGreaterThan(0.5);
    expect(accuracy).toBe(progress[2]!.accuracy);
    expect(examples).toHaveLength(8);
  }, 120_000); // about 22 s on WebGPU under SwiftShader (a software GPU), 2 s on the CPU

  it('word2vec: skip-gram with NCE on 20k words of the Brown corpus learns, finds neighbours and plots', async () => {
    const corpus = loadBrownWords(20_000);
    expect(corpus.slice(0, 6)).toEqual(['the', 'fulton', 'county', 'grand', 'jury', 'said']);
    const ds = buildDataset(['b', 'a', 'b', 'c', 'b', 'a'], 3);
    expect(ds.words).toEqual(['UNK', 'b', 'a']);
    expect(Array.from(ds.data)).toEqual([1, 2, 1, 0, 1, 2]);
    const b = new SkipGramBatcher(Int32Array.from([10, 11, 12, 13]), 2, 1, () => 0.5).next(4);
    expect(Array.from(b.inputs)).toEqual([11, 11, 12, 12]);
    expect([...b.labels.slice(0, 2)].sort()).toEqual([10, 12]);
    expect([...b.labels.slice(2)].sort()).toEqual([11, 13]);
    const r = await trainWord2Vec({ corpus, vocab: 500, batch: 32, dim: 16, numSampled: 8, steps: 300, every: 100, plotWords: 20, probes: ['the', 'said'] });
    expect(r.progress.map((p) => p.step)).toEqual([100, 200, 300]);
    expect(r.progress[2]!.loss).toBeLessThan(0.7 * r.progress[0]!.loss);
    expect(r.embeddings.shape).toEqual([500, 16]);
    expect(r.neighbours.get('the')).toHaveLength(8);
    expect(r.plot.words).toHaveLength(20);
    const png = scatterPng(r.plot.words, r.plot.xy, 200);
    expect(Array.from(png.slice(1, 4), (c) => String.fromCharCode(c)).join('')).toBe('PNG');
    r.session.close();
  });
});
