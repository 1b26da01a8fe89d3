import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { getOpDef } from '../ops/index.js';
import { philox4x32 } from '../runtime/cpu/kernels/random.js';
import { sequenceLoss, type SequenceLossOptions } from '../src/api/seq2seq.js';
import { categorical, multinomial, random } from '../src/api/random.js';
import { ValueError } from '../src/variable_scope.js';

const values = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);

async function run<F extends tf.Fetches>(g: tf.Graph, fetches: F, feeds?: tf.FeedDict): Promise<tf.FetchResult<F>> {
  const sess = new tf.Session({ graph: g });
  try {
    return await sess.run(fetches, feeds);
  } finally {
    sess.close();
  }
}

// ---- sequence_loss ----

// batch 2, time 3, classes 3.
const LOGITS = [
  [[1, 2, 3], [0, 0, 0], [2, -1, 0.5]],
  [[-1, 0, 1], [3, 1, -2], [0.25, 0.5, 0.75]],
];
const TARGETS = [[2, 0, 1], [0, 0, 2]];
const WEIGHTS = [[1, 0.5, 0], [2, 1, 1]];

/** Cross-entropy per position, by hand in float64. */
function crossEntropy(): number[][] {
  return LOGITS.map((row, b) =>
    row.map((l, t) => {
      const m = Math.max(...l);
      const lse = m + Math.log(l.reduce((s, v) => s + Math.exp(v - m), 0));
      return lse - l[TARGETS[b]![t]!]!;
    }),
  );
}

async function seqLoss(opts?: SequenceLossOptions, weights = WEIGHTS): Promise<tf.NDArray> {
  const g = new tf.Graph();
  const loss = g.asDefault(() => sequenceLoss(tf.constant(LOGITS), tf.constant(TARGETS, 'int32'), tf.constant(weights), opts));
  return run(g, loss);
}

function close(actual: tf.NDArray, expected: number[], shape: number[]): void {
  expect(actual.shape).toEqual(shape);
  const a = values(actual);
  expect(a.length).toBe(expected.length);
  a.forEach((v, i) => expect(v, `element ${i}`).toBeCloseTo(expected[i]!, 5));
}

describe('tf.contrib.seq2seq.sequenceLoss', () => {
  const ce = crossEntropy();
  const w = WEIGHTS;
  const wce = ce.map((r, b) => r.map((v, t) => v * w[b]![t]!));

  it('is ln(classes) per position for zero logits', async () => {
    const g = new tf.Graph();
    const loss = g.asDefault(() => sequenceLoss(tf.zeros([2, 5, 4]), tf.zeros([2, 5], 'int32'), tf.ones([2, 5])));
    expect(loss.shape).toEqual([]);
    close(await run(g, loss), [Math.log(4)], []);
  });

  it('averages across timesteps and batch by default: sum(ce * w) / sum(w)', async () => {
    const total = wce.flat().reduce((a, b) => a + b, 0);
    const wsum = w.flat().reduce((a, b) => a + b, 0);
    // By hand: ce[0][0] = ln(e^1+e^2+e^3) - 3 = 0.407606, ce[0][1] = ln 3, ...
    expect(ce[0]![0]).toBeCloseTo(0.40760596, 6);
    expect(ce[0]![1]).toBeCloseTo(Math.log(3), 12);
    close(await seqLoss(), [total / wsum], []);
  });

  it('averages across the batch only: [time]', async () => {
    const expected = [0, 1, 2].map((t) => (wce[0]![t]! + wce[1]![t]!) / (w[0]![t]! + w[1]![t]!));
    close(await seqLoss({ averageAcrossTimesteps: false }), expected, [3]);
  });

  it('averages across timesteps only: [batch]', async () => {
    const expected = [0, 1].map((b) => wce[b]!.reduce((x, y) => x + y, 0) / w[b]!.reduce((x, y) => x + y, 0));
    close(await seqLoss({ averageAcrossBatch: false }), expected, [2]);
  });

  it('neither: the weighted loss per position, [batch, time]', async () => {
    close(await seqLoss({ averageAcrossBatch: false, averageAcrossTimesteps: false }), wce.flat(), [2, 3]);
  });

  it('sumOver* divide by the number of nonzero weights', async () => {
    const total = wce.flat().reduce((a, b) => a + b, 0);
    close(await seqLoss({ averageAcrossBatch: false, averageAcrossTimesteps: false, sumOverBatch: true, sumOverTimesteps: true }), [total / 5], []);
    const perStep = [0, 1, 2].map((t) => (wce[0]![t]! + wce[1]![t]!) / ((w[0]![t]! !== 0 ? 1 : 0) + (w[1]![t]! !== 0 ? 1 : 0)));
    close(await seqLoss({ averageAcrossBatch: false, averageAcrossTimesteps: false, sumOverBatch: true }), perStep, [3]);
    const perRow = [0, 1].map((b) => wce[b]!.reduce((x, y) => x + y, 0) / w[b]!.filter((v) => v !== 0).length);
    close(await seqLoss({ averageAcrossBatch: false, averageAcrossTimesteps: false, sumOverTimesteps: true }), perRow, [2]);
  });

  it('gives 0 where the weights sum to 0 (div_no_nan)', async () => {
    const zeroStep = [[1, 1, 0], [1, 1, 0]];
    const r = values(await seqLoss({ averageAcrossTimesteps: false }, zeroStep));
    expect(r[2]).toBe(0);
    close(await seqLoss({}, [[0, 0, 0], [0, 0, 0]]), [0], []);
  });

  it('uses softmaxLossFunction on the flattened labels and logits', async () => {
    const seen: number[][] = [];
    const g = new tf.Graph();
    const loss = g.asDefault(() =>
      sequenceLoss(tf.constant(LOGITS), tf.constant(TARGETS, 'int32'), tf.constant(WEIGHTS), {
        averageAcrossBatch: false,
        averageAcrossTimesteps: false,
        softmaxLossFunction: ({ labels, logits }) => {
          seen.push([...(labels.shape as number[])], [...(logits.shape as number[])]);
          return tf.cast(labels, 'float32');
        },
      }),
    );
    expect(seen).toEqual([[6], [6, 3]]);
    close(await run(g, loss), TARGETS.flat().map((t, i) => t * WEIGHTS.flat()[i]!), [2, 3]);
  });

  it('has gradients (softmax - onehot) * w / sum(w) with respect to the logits', async () => {
    const g = new tf.Graph();
    const [loss, grad] = g.asDefault(() => {
      const logits = tf.constant(LOGITS);
      const loss = sequenceLoss(logits, tf.constant(TARGETS, 'int32'), tf.constant(WEIGHTS), { name: 'my_loss' });
      expect(loss.name.startsWith('my_loss/')).toBe(true);
      return [loss, tf.gradients(loss, [logits])[0]!];
    });
    const [, dl] = await run(g, [loss, grad]);
    const wsum = WEIGHTS.flat().reduce((a, b) => a + b, 0);
    const expected = LOGITS.flatMap((row, b) =>
      row.flatMap((l, t) => {
        const z = l.reduce((s, v) => s + Math.exp(v), 0);
        return l.map((v, k) => ((Math.exp(v) / z - (k === TARGETS[b]![t] ? 1 : 0)) * WEIGHTS[b]![t]!) / wsum);
      }),
    );
    close(dl, expected, [2, 3, 3]);
  });

  it('rejects wrong ranks and conflicting flags with ValueError', () => {
    new tf.Graph().asDefault(() => {
      expect(() => sequenceLoss(tf.zeros([2, 3]), tf.zeros([2, 3], 'int32'), tf.ones([2, 3]))).toThrow(ValueError);
      expect(() => sequenceLoss(tf.zeros([2, 3, 4]), tf.zeros([2, 3, 1], 'int32'), tf.ones([2, 3]))).toThrow(/Targets must be/);
      expect(() => sequenceLoss(tf.zeros([2, 3, 4]), tf.zeros([2, 3], 'int32'), tf.ones([6]))).toThrow(/Weights must be/);
      expect(() => sequenceLoss(tf.zeros([2, 3, 4]), tf.zeros([2, 3], 'int32'), tf.ones([2, 3]), { sumOverBatch: true })).toThrow(/cannot be set/);
    });
  });

  it('works with unknown batch, time and classes', async () => {
    const g = new tf.Graph();
    const [l, t, w2, loss] = g.asDefault(() => {
      const l = tf.placeholder('float32', [null, null, null]);
      const t = tf.placeholder('int32', [null, null]);
      const w2 = tf.placeholder('float32', [null, null]);
      return [l, t, w2, sequenceLoss(l, t, w2, { averageAcrossTimesteps: false })];
    });
    const wce = crossEntropy().map((r, b) => r.map((v, k) => v * WEIGHTS[b]![k]!));
    const expected = [0, 1, 2].map((k) => (wce[0]![k]! + wce[1]![k]!) / (WEIGHTS[0]![k]! + WEIGHTS[1]![k]!));
    close(await run(g, loss, [[l, LOGITS], [t, TARGETS], [w2, WEIGHTS]]), expected, [3]);
  });
});

// ---- Multinomial ----

describe('Multinomial / tf.random.categorical', () => {
  it('is registered as TF has it: stateful, no gradient, attrs seed, seed2, T, output_dtype', () => {
    const d = getOpDef('Multinomial')!;
    expect(d.stateful).toBe(true);
    expect(d.grad).toBe(null);
    expect(d.inputs).toEqual(['logits', 'num_samples']);
    expect(Object.keys(d.attrs!).sort()).toEqual(['T', 'output_dtype', 'seed', 'seed2']);
    expect(random.categorical).toBe(categorical);
    expect(random.multinomial).toBe(multinomial);
  });

  it('gives [batch, numSamples] int64 by default, int32 on request, with static shapes', async () => {
    const g = new tf.Graph();
    const [a, b, c, n] = g.asDefault(() => {
      const logits = tf.zeros([3, 5]);
      const n = tf.placeholder('int32', [], 'n');
      return [categorical(logits, 7), multinomial(logits, 4, { outputDtype: 'int32' }), categorical(logits, n, { dtype: 'int32', name: 'cat' }), n];
    });
    expect(a.shape).toEqual([3, 7]);
    expect(a.dtype).toBe('int64');
    expect(a.op.type).toBe('Multinomial');
    expect(a.op.name).toBe('categorical/Multinomial');
    expect(b.op.name).toBe('multinomial/Multinomial');
    expect(b.dtype).toBe('int32');
    expect(c.shape).toEqual([3, null]);
    const [ra, rb, rc] = await run(g, [a, b, c], [[n, 6]]);
    expect(ra.shape).toEqual([3, 7]);
    expect(ra.dtype).toBe('int64');
    expect(rb.shape).toEqual([3, 4]);
    expect(rb.dtype).toBe('int32');
    expect(rc.shape).toEqual([3, 6]);
    for (const v of [...values(ra), ...values(rb), ...values(rc)]) expect(v >= 0 && v < 5).toBe(true);
    expect(() => g.asDefault(() => categorical(tf.zeros([5]), 2))).toThrow(/matrix/);
    expect(() => g.asDefault(() => categorical(tf.zeros([2, 5]), 2, { dtype: 'float32' }))).toThrow(/int32 or int64/);
  });

  it('reads the Philox stream as TF: two uint32s per draw (Uint64ToDouble), CDF upper bound', async () => {
    const g = new tf.Graph();
    const s = g.asDefault(() => tf.getDefaultGraph().createOp('Multinomial', [tf.constant([[0, 0]]), tf.constant(6, 'int32')], { seed: 5, seed2: 9, T: 'float32', output_dtype: 'int64' }).outputs[0]!);
    const expected = (counter0: number): number[] => {
      const out = new Uint32Array(4);
      const words: number[] = [];
      for (let blk = 0; blk < 3; blk++) {
        philox4x32([counter0 + blk, 0, 9, 0], [5, 0], out);
        words.push(...out);
      }
      const draws: number[] = [];
      for (let i = 0; i < 6; i++) {
        const u = ((words[2 * i]! & 0xfffff) * 2 ** 32 + words[2 * i + 1]!) / 2 ** 52;
        draws.push(u * 2 >= 1 ? 1 : 0);
      }
      return draws;
    };
    const sess = new tf.Session({ graph: g });
    expect(values(await sess.run(s))).toEqual(expected(0));
    // The run reserved batch * ceil4(6) = 8 outputs of 256 blocks each.
    expect(values(await sess.run(s))).toEqual(expected(8 * 256));
    sess.close();
  });

  it('repeats its draws across sessions with a fixed seed, and differs between runs', async () => {
    const g = new tf.Graph();
    const s = g.asDefault(() => categorical(tf.zeros([2, 10]), 50, { seed: 42 }));
    const draw = async (): Promise<number[][]> => {
      const sess = new tf.Session({ graph: g });
      try {
        return [values(await sess.run(s)), values(await sess.run(s))];
      } finally {
        sess.close();
      }
    };
    const [a1, a2] = await draw();
    const [b1, b2] = await draw();
    expect(b1).toEqual(a1);
    expect(b2).toEqual(a2);
    expect(a2).not.toEqual(a1);
    // The graph seed alone fixes it too.
    const g2 = new tf.Graph();
    g2.seed = 7;
    const s2 = g2.asDefault(() => multinomial(tf.zeros([1, 10]), 30));
    expect(values(await run(g2, s2))).toEqual(values(await run(g2, s2)));
  });

  it('draws with frequencies matching softmax(logits) over 20,000 samples (chi-square)', async () => {
    const logitRows = [
      [0, 1, 2, -1, 0.5],
      [3, 0, 0, 0, -2],
    ];
    const n = 20000;
    const g = new tf.Graph();
    const s = g.asDefault(() => categorical(tf.constant(logitRows), n, { seed: 1234 }));
    const out = values(await run(g, s));
    for (let b = 0; b < logitRows.length; b++) {
      const l = logitRows[b]!;
      const z = l.reduce((acc, v) => acc + Math.exp(v), 0);
      const p = l.map((v) => Math.exp(v) / z);
      const counts = new Array<number>(l.length).fill(0);
      for (let j = 0; j < n; j++) counts[out[b * n + j]!]!++;
      const chi2 = counts.reduce((acc, c, k) => acc + (c - n * p[k]!) ** 2 / (n * p[k]!), 0);
      // 4 degrees of freedom: P(chi2 > 18.47) = 0.001.
      expect(chi2, `row ${b}: counts ${counts}`).toBeLessThan(18.47);
      counts.forEach((c, k) => expect(Math.abs(c / n - p[k]!), `row ${b} class ${k}`).toBeLessThan(0.015));
    }
  });

  it('never draws classes whose logit is -Infinity', async () => {
    const g = new tf.Graph();
    const s = g.asDefault(() => categorical(tf.constant([[-Infinity, 0, -Infinity, 1], [5, -Infinity, -Infinity, -Infinity]]), 5000, { dtype: 'int32' }));
    const out = values(await run(g, s));
    const row0 = out.slice(0, 5000);
    const row1 = out.slice(5000);
    expect(row0.every((v) => v === 1 || v === 3)).toBe(true);
    expect(row0.includes(1) && row0.includes(3)).toBe(true);
    expect(row1.every((v) => v === 0)).toBe(true);
  });

  it('handles zero samples and zero batch', async () => {
    const g = new tf.Graph();
    const [a, b] = g.asDefault(() => [categorical(tf.zeros([2, 3]), 0), categorical(tf.zeros([0, 3]), 4)]);
    const [ra, rb] = await run(g, [a, b]);
    expect(ra.shape).toEqual([2, 0]);
    expect(rb.shape).toEqual([0, 4]);
  });
});
