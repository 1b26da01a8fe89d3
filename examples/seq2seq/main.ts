// A TF1-style sequence-to-sequence model that learns to add: "345+67" → "412". The classic toy of
// encoder-decoder tutorials (Keras's addition_rnn, TF's seq2seq lectures), written the TF1 way:
//   encoder:  characters → tf.nn.embeddingLookup → BasicLSTMCell under tf.nn.dynamicRnn; its final
//             LSTMStateTuple starts the decoder;
//   decoder:  trained with teacher forcing (inputs: GO then the true answer shifted right) by a
//             second dynamicRnn, logits from one tf.layers.Dense shared over time,
//             tf.contrib.seq2seq.sequenceLoss, Adam;
//   inference: greedy decoding inside the graph, a tf.whileLoop that feeds each step's argmax back
//             as the next input and writes it to a TensorArray, reusing the decoder cell's and the
//             projection's variables.
// The question is written reversed ("76+543"), as the Keras example does: the digits the answer
// starts with are then the last the encoder read.
//   npx tsx examples/seq2seq/main.ts [--digits 3] [--steps 6000] [--batch 128] [--units 128]
//                                    [--lr 0.005] [--test 2000] [--every 250] [--seed 0]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../../src/index.js';
import { numberOption } from '../mnist-common/cli.js';
import { seededRandom } from '../mnist-common/data.js';

/** The characters of questions and answers; GO starts the decoder and is never an output. */
export const CHARS = '0123456789+ ';
export const GO = CHARS.length;
const VOCAB = CHARS.length + 1;

export interface Problem {
  question: string;
  answer: string;
}

/** Lengths of the padded question and answer strings for numbers of up to `digits` digits. */
export function lengths(digits: number): { question: number; answer: number } {
  return { question: 2 * digits + 1, answer: digits + 1 };
}

/** Random additions of two numbers of 1..digits digits, as padded strings (the question reversed). */
export function makeProblems(count: number, digits: number, random: () => number): Problem[] {
  const len = lengths(digits);
  const number = () => {
    const n = 1 + Math.floor(random() * digits);
    return Math.floor(random() * 10 ** n);
  };
  const out: Problem[] = [];
  for (let i = 0; i < count; i++) {
    const a = number();
    const b = number();
    const question = `${a}+${b}`.padEnd(len.question, ' ').split('').reverse().join('');
    out.push({ question, answer: String(a + b).padEnd(len.answer, ' ') });
  }
  return out;
}

function encodeStrings(strings: readonly string[], length: number): Int32Array {
  const ids = new Int32Array(strings.length * length);
  strings.forEach((s, i) => {
    for (let t = 0; t < length; t++) ids[i * length + t] = CHARS.indexOf(s[t]!);
  });
  return ids;
}

/** The decoder's teacher-forced inputs: GO, then the answer without its last character. */
function shiftRight(answers: Int32Array, count: number, length: number): Int32Array {
  const out = new Int32Array(count * length);
  for (let i = 0; i < count; i++) {
    out[i * length] = GO;
    out.set(answers.subarray(i * length, (i + 1) * length - 1), i * length + 1);
  }
  return out;
}

export interface Seq2SeqOptions {
  digits?: number;
  steps?: number;
  batch?: number;
  units?: number;
  embedding?: number;
  learningRate?: number;
  /** Held-out problems the exact-match accuracy is measured on. */
  testCount?: number;
  /** Evaluate and report every this many steps. */
  every?: number;
  seed?: number;
  onProgress?: (p: Progress) => void;
}

export interface Progress {
  step: number;
  /** Mean training loss (per character) over the last `every` steps. */
  loss: number;
  /** Fraction of held-out problems whose whole answer is right (greedy decoding). */
  accuracy: number;
  /** Fraction of held-out answer characters that are right. */
  charAccuracy: number;
  seconds: number;
}

export interface Seq2SeqResult {
  progress: Progress[];
  accuracy: number;
  /** A few held-out problems with the model's answers. */
  examples: { question: string; answer: string; predicted: string }[];
  seconds: number;
}

export interface Seq2SeqModel {
  questions: tf.Tensor;
  decoderInputs: tf.Tensor;
  targets: tf.Tensor;
  /** The loss and Adam's train op; absent from an inference-only model. */
  loss?: tf.Tensor;
  train?: tf.Operation;
  /** [batch, answer length] int32 ids decoded greedily from the questions alone. */
  decoded: tf.Tensor;
}

export type ModelOptions = Pick<Required<Seq2SeqOptions>, 'digits' | 'units' | 'embedding' | 'learningRate' | 'seed'>;

/** The model in the default graph; `training` false leaves out the loss and its gradients. */
export function buildModel(o: ModelOptions, training = true): Seq2SeqModel {
  const len = lengths(o.digits);
  const questions = tf.placeholder('int32', [null, len.question], 'questions');
  const decoderInputs = tf.placeholder('int32', [null, len.answer], 'decoder_inputs');
  const targets = tf.placeholder('int32', [null, len.answer], 'targets');

  const embedding = tf.getVariable('embedding', {
    shape: [VOCAB, o.embedding],
    initializer: tf.randomUniformInitializer({ minval: -1, maxval: 1, seed: o.seed }),
  });
  const encoderCell = new tf.nn.rnnCell.BasicLSTMCell(o.units);
  const [, encoderState] = tf.nn.dynamicRnn(encoderCell, tf.nn.embeddingLookup(embedding, questions), {
    dtype: 'float32',
    scope: 'encoder',
  });

  const decoderCell = new tf.nn.rnnCell.BasicLSTMCell(o.units);
  const projection = new tf.layers.Dense(VOCAB, { name: 'projection' });
  const [decoderOutputs] = tf.nn.dynamicRnn(decoderCell, tf.nn.embeddingLookup(embedding, decoderInputs), {
    initialState: encoderState,
    scope: 'decoder',
  });
  const logits = projection.apply(decoderOutputs) as tf.Tensor;
  const weights = tf.onesLike(tf.cast(targets, 'float32'));
  const loss = training ? tf.contrib.seq2seq.sequenceLoss(logits, targets, weights) : undefined;
  const train = loss && new tf.train.AdamOptimizer(o.learningRate).minimize(loss);

  // Greedy decoding: the same cell, projection and embedding, each step's argmax fed back.
  const go = tf.fill(tf.slice(tf.shape(questions), [0], [1]), tf.constant(GO, 'int32'));
  const answerTa = new tf.TensorArray('int32', { size: len.answer, name: 'answer_ta' });
  const [, , , answerOut] = tf.whileLoop(
    (t: tf.Tensor) => tf.less(t, len.answer),
    (t: tf.Tensor, previous: tf.Tensor, state: tf.nn.rnnCell.RNNState, ta: tf.TensorArray) =>
      tf.variableScope('decoder', { reuse: true }, () => {
        const [out, next] = decoderCell.call(tf.nn.embeddingLookup(embedding, previous), state);
        const id = tf.argmax(projection.apply(out) as tf.Tensor, 1, 'int32');
        return [tf.add(t, 1), id, next, ta.write(t, id)];
      }),
    [tf.constant(0, 'int32'), go, encoderState, answerTa],
    { maximumIterations: len.answer, name: 'greedy_decode' },
  ) as [tf.Tensor, tf.Tensor, tf.nn.rnnCell.RNNState, tf.TensorArray];
  const decoded = tf.transpose(answerOut.stack(), [1, 0]);
  return { questions, decoderInputs, targets, loss, train, decoded };
}

const DEFAULTS: Required<Omit<Seq2SeqOptions, 'onProgress'>> = {
  digits: 3,
  steps: 6000,
  batch: 128,
  units: 128,
  embedding: 16,
  learningRate: 0.005,
  testCount: 2000,
  every: 250,
  seed: 0,
};

export async function trainSeq2Seq(opts: Seq2SeqOptions = {}): Promise<Seq2SeqResult> {
  const o: typeof DEFAULTS = { ...DEFAULTS };
  for (const k of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) if (opts[k] !== undefined) o[k] = opts[k]!;
  const len = lengths(o.digits);
  const random = seededRandom(o.seed);
  const test = makeProblems(o.testCount, o.digits, random);
  const testQuestions = encodeStrings(test.map((p) => p.question), len.question);

  const graph = new tf.Graph();
  return graph.asDefault(async () => {
    tf.setRandomSeed(o.seed);
    const m = buildModel(o);
    const sess = new tf.Session({ graph });
    try {
      await sess.run(tf.globalVariablesInitializer());
      const started = performance.now();
      const progress: Progress[] = [];
      let lossSum = 0;
      let lossCount = 0;

      const evaluate = async () => {
        const [ids] = (await sess.run([m.decoded], [[m.questions, tf.NDArray.from(testQuestions, 'int32', [o.testCount, len.question])]])) as unknown as [tf.NDArray];
        const got = ids.data as Int32Array;
        let whole = 0;
        let chars = 0;
        const predicted = test.map((p, i) => {
          let s = '';
          let right = true;
          for (let t = 0; t < len.answer; t++) {
            const c = CHARS[got[i * len.answer + t]!] ?? '?';
            s += c;
            if (c === p.answer[t]) chars++;
            else right = false;
          }
          if (right) whole++;
          return s;
        });
        return { accuracy: whole / test.length, charAccuracy: chars / (test.length * len.answer), predicted };
      };

      let last = { accuracy: 0, charAccuracy: 0, predicted: [] as string[] };
      for (let step = 1; step <= o.steps; step++) {
        const batch = makeProblems(o.batch, o.digits, random);
        const answers = encodeStrings(batch.map((p) => p.answer), len.answer);
        const feeds: tf.FeedDict = [
          [m.questions, tf.NDArray.from(encodeStrings(batch.map((p) => p.question), len.question), 'int32', [o.batch, len.question])],
          [m.decoderInputs, tf.NDArray.from(shiftRight(answers, o.batch, len.answer), 'int32', [o.batch, len.answer])],
          [m.targets, tf.NDArray.from(answers, 'int32', [o.batch, len.answer])],
        ];
        const [loss] = (await sess.run([m.loss!, m.train!], feeds)) as unknown as [tf.NDArray];
        lossSum += (loss.data as Float32Array)[0]!;
        lossCount++;
        if (step % o.every === 0 || step === o.steps) {
          last = await evaluate();
          const p: Progress = {
            step,
            loss: lossSum / lossCount,
            accuracy: last.accuracy,
            charAccuracy: last.charAccuracy,
            seconds: (performance.now() - started) / 1000,
          };
          progress.push(p);
          opts.onProgress?.(p);
          lossSum = 0;
          lossCount = 0;
        }
      }
      const examples = test.slice(0, 8).map((p, i) => ({
        question: p.question.split('').reverse().join('').trim(),
        answer: p.answer.trim(),
        predicted: last.predicted[i]!.trim(),
      }));
      return { progress, accuracy: last.accuracy, examples, seconds: (performance.now() - started) / 1000 };
    } finally {
      await sess.close();
    }
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      digits: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      units: { type: 'string' },
      lr: { type: 'string' },
      test: { type: 'string' },
      every: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const result = await trainSeq2Seq({
    digits: numberOption(values.digits, DEFAULTS.digits, 'digits', 'positive integer'),
    steps: numberOption(values.steps, DEFAULTS.steps, 'steps', 'positive integer'),
    batch: numberOption(values.batch, DEFAULTS.batch, 'batch', 'positive integer'),
    units: numberOption(values.units, DEFAULTS.units, 'units', 'positive integer'),
    learningRate: numberOption(values.lr, DEFAULTS.learningRate, 'lr', 'non-negative number'),
    testCount: numberOption(values.test, DEFAULTS.testCount, 'test', 'positive integer'),
    every: numberOption(values.every, DEFAULTS.every, 'every', 'positive integer'),
    seed: numberOption(values.seed, DEFAULTS.seed, 'seed', 'non-negative integer'),
    onProgress: (p) =>
      console.log(
        `step ${String(p.step).padStart(5)}  loss ${p.loss.toFixed(4)}  held-out: answers right ${(100 * p.accuracy).toFixed(2)}%` +
          `, characters right ${(100 * p.charAccuracy).toFixed(2)}%  (${p.seconds.toFixed(1)} s)`,
      ),
  });
  console.log(`\nheld-out exact-match accuracy ${(100 * result.accuracy).toFixed(2)}% after ${result.seconds.toFixed(1)} s`);
  for (const e of result.examples) console.log(`  ${e.question.padStart(8)} = ${e.answer.padEnd(5)} model: ${e.predicted} ${e.predicted === e.answer ? 'ok' : 'WRONG'}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
