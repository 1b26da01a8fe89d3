import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { computeAccidentalHits, logUniformCandidateSampler, nceLoss, sampledSoftmaxLoss, uniformCandidateSampler, type SampledValues } from '../src/api/sampled.js';
import { IndexedSlices } from '../src/api/indexed_slices.js';
import { graphToGraphDef } from '../src/io/graph_def.js';
import { philox4x32 } from '../runtime/cpu/kernels/random.js';
import { checkGradients } from './gradcheck.js';
import { expectClose, randomArray, run } from './helpers.js';

const nums = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);
const FLT_MAX = 3.4028234663852886e38;
const int64 = (rows: number[][]): tf.NDArray => new tf.NDArray(BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]!.length]);

/** The log-uniform distribution over [0, range): P(k) = (log(k + 2) - log(k + 1)) / log(range + 1). */
const logUniformP = (k: number, range: number): number => (Math.log(k + 2) - Math.log(k + 1)) / Math.log(range + 1);

/**
 * TF's SimplePhilox over PhiloxRandom(seed, seed2) written out for the test: uint32s one at a time
 * from blocks (key = seed, counter = [block, 0, seed2, 0]), starting `startBlock` blocks in.
 */
function simplePhilox(seed: number, seed2: number, startBlock: number) {
  const out = new Uint32Array(4);
  let block = startBlock;
  let used = 4;
  const rand32 = (): number => {
    if (used === 4) {
      philox4x32([block++, 0, seed2, 0], [seed, 0], out);
      used = 0;
    }
    return out[used++]!;
  };
  return {
    rand32,
    randDouble: (): number => {
      const x0 = rand32();
      const x1 = rand32();
      return ((x0 & 0xfffff) * 2 ** 32 + x1) / 2 ** 52;
    },
  };
}

/** TF's LogUniformSampler::Sample and SampleBatchGetExpectedCount's candidate loop, written out: the candidates and the number of tries. */
function referenceLogUniform(seed: number, seed2: number, startBlock: number, numSampled: number, range: number, unique: boolean): { candidates: number[]; tries: number } {
  const rnd = simplePhilox(seed, seed2, startBlock);
  const candidates: number[] = [];
  let tries = 0;
  while (candidates.length < numSampled) {
    tries++;
    const v = (Math.floor(Math.exp(rnd.randDouble() * Math.log(range + 1))) - 1) % range;
    if (!unique || !candidates.includes(v)) candidates.push(v);
  }
  return { candidates, tries };
}

function chiSquare(counts: number[], probs: number[], n: number): number {
  return counts.reduce((s, c, k) => s + (c - n * probs[k]!) ** 2 / (n * probs[k]!), 0);
}

function counts(values: number[], range: number): number[] {
  const c = new Array<number>(range).fill(0);
  for (const v of values) c[v]!++;
  return c;
}

describe('LogUniformCandidateSampler', () => {
  it('reads the op stream as TF does: SimplePhilox doubles, 2048 * num_sampled uint32s reserved per run', async () => {
    const g = new tf.Graph();
    const [sampled] = g.asDefault(() => logUniformCandidateSampler(tf.constant(int64([[1], [2]])), 1, 6, false, 50, { seed: 7 }));
    const sess = new tf.Session({ graph: g });
    const first = nums(await sess.run(sampled));
    const second = nums(await sess.run(sampled));
    sess.close();
    // The builder's seeds: TF1's get_seed(7) without a graph seed.
    expect(g.getOperations().find((o) => o.type === 'LogUniformCandidateSampler')!.getAttr('seed2')).toBe(7);
    expect(first).toEqual(referenceLogUniform(tf.DEFAULT_GRAPH_SEED, 7, 0, 6, 50, false).candidates);
    expect(second).toEqual(referenceLogUniform(tf.DEFAULT_GRAPH_SEED, 7, (2048 * 6) / 4, 6, 50, false).candidates);
  });

  it('draws with the log-uniform frequencies (chi-square, fixed seed)', async () => {
    const range = 30;
    const g = new tf.Graph();
    const [sampled] = g.asDefault(() => logUniformCandidateSampler(tf.constant(int64([[0]])), 1, 4000, false, range, { seed: 3 }));
    const sess = new tf.Session({ graph: g });
    const values = [...nums(await sess.run(sampled)), ...nums(await sess.run(sampled))];
    sess.close();
    const probs = Array.from({ length: range }, (_, k) => logUniformP(k, range));
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const c = counts(values, range);
    // 29 degrees of freedom: 58.3 is the 0.999 quantile.
    expect(chiSquare(c, probs, values.length)).toBeLessThan(58.3);
    // The statistic tells distributions apart: the same draws are far from uniform.
    expect(chiSquare(c, probs.map(() => 1 / range), values.length)).toBeGreaterThan(1000);
  });

  it('without unique: expected counts are p * num_sampled, for the sampled and the true classes', async () => {
    const range = 20;
    const trueClasses = [[0, 5], [19, 3]];
    const [s, te, se] = await run(tf.getDefaultGraph().asDefault(() => [...logUniformCandidateSampler(tf.constant(int64(trueClasses)), 2, 8, false, range, { seed: 11 })]));
    expect(s.dtype).toBe('int64');
    expect(s.shape).toEqual([8]);
    expect(te.shape).toEqual([2, 2]);
    expectClose(se, nums(s).map((k) => logUniformP(k, range) * 8), { rtol: 1e-6 });
    expectClose(te, trueClasses.flat().map((k) => logUniformP(k, range) * 8), { rtol: 1e-6 });
  });

  it('with unique: distinct candidates by rejection, expected counts 1 - (1 - p)^num_tries', async () => {
    const range = 12;
    const numSampled = 10;
    const g = new tf.Graph();
    const outs = g.asDefault(() => logUniformCandidateSampler(tf.constant(int64([[4], [11], [0]])), 1, numSampled, true, range, { seed: 5 }));
    const [s, te, se] = await run([...outs], undefined, g);
    const cands = nums(s);
    expect(new Set(cands).size).toBe(numSampled);
    expect(cands.every((c) => c >= 0 && c < range)).toBe(true);
    const ref = referenceLogUniform(tf.DEFAULT_GRAPH_SEED, 5, 0, numSampled, range, true);
    expect(cands).toEqual(ref.candidates);
    // Drawing 10 distinct of 12 log-uniform classes takes more than 10 tries, so the formula is the rejection one.
    expect(ref.tries).toBeGreaterThan(numSampled);
    const q = (k: number): number => 1 - (1 - logUniformP(k, range)) ** ref.tries;
    expectClose(se, cands.map(q), { rtol: 1e-5 });
    expectClose(te, [4, 11, 0].map(q), { rtol: 1e-5 });
  });

  it('an unseeded op draws differently in each session and replays nothing across sessions', async () => {
    const g = new tf.Graph();
    const [s] = g.asDefault(() => logUniformCandidateSampler(tf.constant(int64([[1]])), 1, 20, false, 1000));
    const a = nums((await run([s], undefined, g))[0]!);
    const b = nums((await run([s], undefined, g))[0]!);
    expect(a).not.toEqual(b);
  });

  it('checks its inputs and attrs', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => logUniformCandidateSampler(tf.constant(int64([[1, 2]])), 1, 3, false, 10)).toThrow(/num_true = 1 columns/);
      expect(() => logUniformCandidateSampler(tf.constant(BigInt64Array.from([1n]), 'int64'), 1, 3, false, 10)).toThrow(/rank 2/);
      expect(() => logUniformCandidateSampler(tf.constant(int64([[1]])), 1, 11, true, 10)).toThrow(/range is too small/);
      expect(() => logUniformCandidateSampler(tf.constant(int64([[1]])), 1, 0, false, 10)).toThrow(/num_sampled must be an integer >= 1/);
      expect(() => logUniformCandidateSampler(tf.placeholder('int32', [2, 1]), 1, 3, false, 10)).toThrow();
    });
  });

  it('a fed true_classes with the wrong number of columns fails in the kernel, naming the op', async () => {
    const g = new tf.Graph();
    const { ph, s } = g.asDefault(() => {
      const ph = tf.placeholder('int64', [null, null]);
      return { ph, s: logUniformCandidateSampler(ph, 2, 3, false, 10)[1] };
    });
    await expect(run(s, [[ph, int64([[1, 2, 3]])]], g)).rejects.toThrow(/num_true = 2 columns/);
  });
});

describe('UniformCandidateSampler', () => {
  it('draws Rand64 % range_max uniformly (chi-square) with expected counts p * num_sampled', async () => {
    const range = 16;
    const g = new tf.Graph();
    const outs = g.asDefault(() => uniformCandidateSampler(tf.constant(int64([[3]])), 1, 3000, false, range, { seed: 2 }));
    const [s, te, se] = await run([...outs], undefined, g);
    const values = nums(s);
    // The first candidate, written out: (lo | hi << 32) % range of the stream's first two uint32s.
    const rnd = simplePhilox(tf.DEFAULT_GRAPH_SEED, 2, 0);
    const lo = BigInt(rnd.rand32());
    const hi = BigInt(rnd.rand32());
    expect(values[0]).toBe(Number(((hi << 32n) | lo) % BigInt(range)));
    expect(chiSquare(counts(values, range), new Array(range).fill(1 / range), values.length)).toBeLessThan(37.7); // 15 dof, 0.999
    expectClose(se, new Array(3000).fill(3000 / range), { rtol: 1e-6 });
    expectClose(te, [3000 / range], { rtol: 1e-6 });
  });

  it('with unique: all of a small range, each expected 1 - (1 - 1/range)^tries', async () => {
    const g = new tf.Graph();
    const outs = g.asDefault(() => uniformCandidateSampler(tf.constant(int64([[2]])), 1, 6, true, 6, { seed: 9 }));
    const [s, te, se] = await run([...outs], undefined, g);
    expect([...nums(s)].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const e = nums(se)[0]!;
    // One count for all (p is the same): some whole number of tries >= 6 gives it.
    const tries = Math.log1p(-e) / Math.log1p(-1 / 6);
    expect(Math.abs(tries - Math.round(tries))).toBeLessThan(1e-3);
    expect(Math.round(tries)).toBeGreaterThan(6);
    expectClose(se, new Array(6).fill(e));
    expectClose(te, [e]);
  });
});

describe('ComputeAccidentalHits', () => {
  it('lists (row, position, -FLT_MAX) for each true class among the candidates; a repeated candidate at its last position', async () => {
    const g = new tf.Graph();
    const outs = g.asDefault(() =>
      computeAccidentalHits(tf.constant(int64([[1, 7], [3, 4], [9, 1]])), tf.constant(BigInt64Array.from([7n, 1n, 5n, 9n, 1n]), 'int64'), 2),
    );
    expect(outs.map((t) => t.dtype)).toEqual(['int32', 'int64', 'float32']);
    const [indices, ids, weights] = await run([...outs], undefined, g);
    expect(nums(indices)).toEqual([0, 0, 2, 2]);
    expect(nums(ids)).toEqual([4, 0, 3, 4]);
    expect(nums(weights)).toEqual(new Array(4).fill(-FLT_MAX));
  });

  it('gives empty outputs when nothing is hit', async () => {
    const g = new tf.Graph();
    const outs = g.asDefault(() => computeAccidentalHits(tf.constant(int64([[1], [2]])), tf.constant(BigInt64Array.from([5n, 6n]), 'int64'), 1));
    const got = await run([...outs], undefined, g);
    expect(got.map((a) => a.shape)).toEqual([[0], [0], [0]]);
  });
});

describe('GraphDef round trip', () => {
  it('keeps the samplers attrs: the imported graph draws the same candidates', async () => {
    const g1 = new tf.Graph();
    const fetches = g1.asDefault(() => {
      const t = tf.constant(int64([[1, 2], [0, 3]]));
      const lu = logUniformCandidateSampler(t, 2, 5, true, 40, { seed: 4, name: 'lu' });
      const un = uniformCandidateSampler(t, 2, 7, false, 9, { seed: 6, name: 'un' });
      const hits = computeAccidentalHits(t, lu[0], 2, { name: 'hits' });
      return [...lu, ...un, ...hits];
    });
    const want = await run(fetches, undefined, g1);
    const gd = graphToGraphDef(g1);
    const lu = gd.node!.find((n) => n.name === 'lu')!;
    expect(lu.op).toBe('LogUniformCandidateSampler');
    expect(lu.attr).toMatchObject({ unique: { b: true } });
    const g2 = new tf.Graph();
    const names = fetches.map((t) => t.name);
    const back = g2.asDefault(() => tf.importGraphDef(gd, { returnElements: names, name: '' })) as tf.Tensor[];
    const got = await run(back, undefined, g2);
    got.forEach((a, i) => expect(nums(a), names[i]).toEqual(nums(want[i]!)));
  });
});

// ---- the sampled losses, against TF's formulas written out in plain JS ----

interface Problem {
  classes: number;
  dim: number;
  numTrue: number;
  W: tf.NDArray;
  b: tf.NDArray;
  x: tf.NDArray;
  labels: number[][];
  sampled: number[];
  trueExpected: number[][];
  sampledExpected: number[];
}

function problem(numTrue: number, sampled: number[], seed = 1): Problem {
  const classes = 7;
  const dim = 3;
  const batch = 3;
  const labels = Array.from({ length: batch }, (_, i) => Array.from({ length: numTrue }, (_, t) => (2 * i + 3 * t + 1) % classes));
  return {
    classes,
    dim,
    numTrue,
    W: randomArray([classes, dim], { seed }),
    b: randomArray([classes], { seed: seed + 1, min: -0.5, max: 0.5 }),
    x: randomArray([batch, dim], { seed: seed + 2 }),
    labels,
    sampled,
    trueExpected: labels.map((r) => r.map((_, t) => 0.3 + 0.1 * t)),
    sampledExpected: sampled.map((_, j) => 0.2 + 0.05 * j),
  };
}

function sampledValuesOf(p: Problem): SampledValues {
  return [
    tf.constant(BigInt64Array.from(p.sampled.map(BigInt)), 'int64'),
    tf.constant(Float32Array.from(p.trueExpected.flat()), 'float32', [p.labels.length, p.numTrue]),
    tf.constant(Float32Array.from(p.sampledExpected), 'float32'),
  ];
}

/** _compute_sampled_logits in plain JS: [true logits..., sampled logits...] per row, and the labels. */
function referenceLogits(p: Problem, removeAccidentalHits: boolean): { logits: number[][]; labels: number[][] } {
  const W = p.W.data as Float32Array;
  const b = p.b.data as Float32Array;
  const x = p.x.data as Float32Array;
  const dot = (i: number, c: number): number => {
    let s = 0;
    for (let d = 0; d < p.dim; d++) s += x[i * p.dim + d]! * W[c * p.dim + d]!;
    return s + b[c]!;
  };
  const logits = p.labels.map((row, i) => [
    ...row.map((c, t) => dot(i, c) - Math.log(p.trueExpected[i]![t]!)),
    ...p.sampled.map((c, j) => dot(i, c) + (removeAccidentalHits && row.includes(c) ? -FLT_MAX : 0) - Math.log(p.sampledExpected[j]!)),
  ]);
  const labels = p.labels.map((row) => [...row.map(() => 1 / p.numTrue), ...p.sampled.map(() => 0)]);
  return { logits, labels };
}

function referenceNce(p: Problem, removeAccidentalHits: boolean): number[] {
  const { logits, labels } = referenceLogits(p, removeAccidentalHits);
  return logits.map((row, i) => row.reduce((s, z, j) => s + Math.max(z, 0) - z * labels[i]![j]! + Math.log1p(Math.exp(-Math.abs(z))), 0));
}

function referenceSampledSoftmax(p: Problem, removeAccidentalHits: boolean): number[] {
  const { logits, labels } = referenceLogits(p, removeAccidentalHits);
  return logits.map((row, i) => {
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
    return row.reduce((s, z, j) => s - labels[i]![j]! * (z - lse), 0);
  });
}

async function lossValue(kind: 'nce' | 'softmax', p: Problem, removeAccidentalHits: boolean): Promise<tf.NDArray> {
  const g = new tf.Graph();
  const loss = g.asDefault(() => {
    const args = {
      weights: tf.constant(p.W),
      biases: tf.constant(p.b),
      inputs: tf.constant(p.x),
      labels: tf.constant(int64(p.labels)),
      numSampled: p.sampled.length,
      numClasses: p.classes,
      numTrue: p.numTrue,
      sampledValues: sampledValuesOf(p),
      removeAccidentalHits,
    };
    return kind === 'nce' ? nceLoss(args) : sampledSoftmaxLoss(args);
  });
  expect(loss.shape).toEqual([p.labels.length]);
  return (await run([loss], undefined, g))[0]!;
}

describe('tf.nn.nceLoss', () => {
  it('is the summed logistic loss of the true and sampled logits, minus log Q (one true class)', async () => {
    const p = problem(1, [0, 3, 6, 1]);
    expectClose(await lossValue('nce', p, false), referenceNce(p, false), { rtol: 1e-5 });
  });

  it('two true classes, accidental hits removed', async () => {
    const p = problem(2, [1, 5, 2, 4]);
    const ref = referenceNce(p, true);
    // The hits change the loss: this problem has some.
    expect(ref).not.toEqual(referenceNce(p, false));
    expectClose(await lossValue('nce', p, true), ref, { rtol: 1e-5 });
  });

  it('takes labels as int32 tensors or JS arrays of class ids (cast to int64 as TF does)', async () => {
    const p = problem(1, [0, 3, 6, 1]);
    const g = new tf.Graph();
    const losses = g.asDefault(() =>
      [tf.constant(Int32Array.from(p.labels.flat()), 'int32', [3, 1]), p.labels].map((labels) =>
        nceLoss({ weights: tf.constant(p.W), biases: tf.constant(p.b), inputs: tf.constant(p.x), labels, numSampled: 4, numClasses: p.classes, sampledValues: sampledValuesOf(p) }),
      ),
    );
    const got = await run(losses, undefined, g);
    for (const a of got) expectClose(a, referenceNce(p, false), { rtol: 1e-5 });
  });

  it('draws with the log-uniform sampler when no sampled values are given, and trains W through IndexedSlices', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      // A graph seed: the sampler's draws, and so the losses compared below, are the same every run.
      tf.setRandomSeed(7);
      const W = new tf.Variable(randomArray([50, 4], { seed: 3 }), { name: 'W' });
      const b = new tf.Variable(tf.zeros([50]), { name: 'b' });
      const x = tf.constant(randomArray([8, 4], { seed: 4 }));
      const labels = tf.constant(randomArray([8, 1], { seed: 5, min: 0, max: 50, dtype: 'int64' }));
      const loss = tf.reduceMean(nceLoss({ weights: W, biases: b, labels, inputs: x, numSampled: 5, numClasses: 50 }));
      const [gw] = tf.gradients(loss, W, undefined, { sparse: true });
      const sampler = g.getOperations().filter((o) => o.type === 'LogUniformCandidateSampler');
      const train = new tf.train.GradientDescentOptimizer(0.5).minimize(loss);
      return { loss, gw, sampler, train, init: tf.globalVariablesInitializer() };
    });
    expect(m.sampler.length).toBe(1);
    expect(m.sampler[0]!.getAttr('unique')).toBe(true);
    expect(m.sampler[0]!.getAttr('range_max')).toBe(50);
    expect(m.gw).toBeInstanceOf(IndexedSlices);
    // The rows touched: the 8 labels and the 5 sampled classes.
    expect((m.gw as IndexedSlices).values.shape).toEqual([13, 4]);
    const opTypes = new Set(g.getOperations().map((o) => o.type));
    expect(opTypes.has('ScatterSub') || opTypes.has('ResourceScatterAdd') || opTypes.has('ScatterAdd')).toBe(true);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    // Each evaluation draws other negatives: compare the mean loss over many draws.
    const meanLoss = async (): Promise<number> => {
      let sum = 0;
      for (let i = 0; i < 20; i++) sum += (await sess.run(m.loss)).data[0] as number;
      return sum / 20;
    };
    const first = await meanLoss();
    for (let i = 0; i < 30; i++) await sess.run(m.train);
    const last = await meanLoss();
    sess.close();
    expect(Number.isFinite(first)).toBe(true);
    expect(last).toBeLessThan(first);
  });

  it('gradients with respect to weights, biases and inputs match finite differences', async () => {
    const p = problem(2, [1, 5, 2, 4]);
    await checkGradients({
      ops: [],
      name: 'nceLoss',
      inputs: [p.W, p.b, p.x],
      build: (W, b, x) =>
        nceLoss({ weights: W!, biases: b!, inputs: x!, labels: tf.constant(int64(p.labels)), numSampled: 4, numClasses: p.classes, numTrue: 2, sampledValues: sampledValuesOf(p), removeAccidentalHits: true }),
    });
  });
});

describe('tf.nn.sampledSoftmaxLoss', () => {
  it('is the softmax cross-entropy over true and sampled logits, minus log Q, accidental hits removed', async () => {
    const p = problem(1, [0, 3, 1, 6]);
    expectClose(await lossValue('softmax', p, true), referenceSampledSoftmax(p, true), { rtol: 1e-5 });
    expectClose(await lossValue('softmax', p, false), referenceSampledSoftmax(p, false), { rtol: 1e-5 });
  });

  it('two true classes', async () => {
    const p = problem(2, [2, 0, 5]);
    expectClose(await lossValue('softmax', p, true), referenceSampledSoftmax(p, true), { rtol: 1e-5 });
  });

  it('gradients match finite differences', async () => {
    const p = problem(1, [0, 3, 1, 6]);
    await checkGradients({
      ops: [],
      name: 'sampledSoftmaxLoss',
      inputs: [p.W, p.b, p.x],
      build: (W, b, x) =>
        sampledSoftmaxLoss({ weights: [W!], biases: b!, inputs: x!, labels: tf.constant(int64(p.labels)), numSampled: 4, numClasses: p.classes, sampledValues: sampledValuesOf(p) }),
    });
  });

  it('with every class sampled once and Q = 1 it is the full softmax loss; with the real sampler over all classes it approaches it', async () => {
    const p = problem(1, []);
    const g = new tf.Graph();
    const { exact, sampled, full } = g.asDefault(() => {
      const common = { weights: tf.constant(p.W), biases: tf.constant(p.b), inputs: tf.constant(p.x), labels: tf.constant(int64(p.labels)), numSampled: p.classes, numClasses: p.classes };
      const all: SampledValues = [
        tf.constant(BigInt64Array.from({ length: p.classes }, (_, i) => BigInt(i)), 'int64'),
        tf.ones([p.labels.length, 1]),
        tf.ones([p.classes]),
      ];
      const logits = tf.add(tf.matmul(tf.constant(p.x), tf.constant(p.W), { transposeB: true }), tf.constant(p.b));
      return {
        exact: sampledSoftmaxLoss({ ...common, sampledValues: all }),
        sampled: sampledSoftmaxLoss({ ...common, numSampled: p.classes, seed: 1 }),
        full: tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.constant(Int32Array.from(p.labels.flat()), 'int32'), logits }),
      };
    });
    const [e, s, f] = await run([exact, sampled, full], undefined, g);
    expectClose(e!, f!, { rtol: 1e-5 });
    // Drawing all 7 classes takes many tries, so Q is near 1 for every class and log Q shifts the logits little.
    expectClose(s!, f!, { rtol: 0.02, atol: 0.01 });
  });

  it('rejects partitioned weights', () => {
    const p = problem(1, [0, 1]);
    const g = new tf.Graph();
    g.asDefault(() => {
      const W = tf.constant(p.W);
      expect(() =>
        sampledSoftmaxLoss({ weights: [W, W], biases: tf.constant(p.b), inputs: tf.constant(p.x), labels: tf.constant(int64(p.labels)), numSampled: 2, numClasses: 7, sampledValues: sampledValuesOf(p) }),
      ).toThrow(/partitioned/);
    });
  });
});
