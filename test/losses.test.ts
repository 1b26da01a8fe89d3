// tf.losses and tf.norm against values written out from TF 1.15's formulas (losses_impl.py,
// linalg_ops.norm), computed here with plain arithmetic.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { checkGradients } from './gradcheck.js';
import { expectClose, run } from './helpers.js';

function build<T>(fn: () => T): T {
  return new tf.Graph().asDefault(fn);
}

// ---- numpy-style helpers ----

/** A dense array: flat row-major data and a shape. */
interface Arr {
  data: number[];
  shape: number[];
}

function arr(nested: number | unknown[]): Arr {
  const shape: number[] = [];
  let v: unknown = nested;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return { data: (Array.isArray(nested) ? (nested as unknown[]).flat(Infinity) : [nested]) as number[], shape };
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** numpy broadcasting of w to `shape` (w of rank 0 or of the same rank, dims 1 or equal). */
function broadcast(w: Arr, shape: number[]): number[] {
  if (w.shape.length === 0) return new Array<number>(sizeOf(shape)).fill(w.data[0]!);
  const out: number[] = [];
  const n = sizeOf(shape);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let wi = 0;
    let stride = 1;
    const idx: number[] = [];
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
    }
    for (let d = shape.length - 1; d >= 0; d--) {
      const wd = w.shape[d]!;
      wi += (wd === 1 ? 0 : idx[d]!) * stride;
      stride *= wd;
    }
    out.push(w.data[wi]!);
  }
  return out;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const divNoNan = (x: number, y: number): number => (y === 0 ? 0 : x / y);

/** TF's compute_weighted_loss, by hand. */
function weightedLoss(losses: Arr, weights: Arr, reduction: string): number[] {
  const w = broadcast(weights, losses.shape);
  const weighted = losses.data.map((l, i) => l * w[i]!);
  const total = sum(weighted);
  switch (reduction) {
    case 'none':
      return weighted;
    case 'weighted_sum':
      return [total];
    case 'weighted_mean':
      return [divNoNan(total, sum(w))];
    case 'weighted_sum_over_batch_size':
      return [divNoNan(total, losses.data.length)];
    case 'weighted_sum_by_nonzero_weights':
      return [divNoNan(total, w.filter((x) => x !== 0).length)];
  }
  throw new Error(reduction);
}

const REDUCTIONS = [
  tf.losses.Reduction.NONE,
  tf.losses.Reduction.SUM,
  tf.losses.Reduction.MEAN,
  tf.losses.Reduction.SUM_OVER_BATCH_SIZE,
  tf.losses.Reduction.SUM_OVER_NONZERO_WEIGHTS,
  tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS,
];

// batch 3, 4 values each.
const LABELS = [
  [0.2, 0.9, 0.0, 1.0],
  [1.0, 0.1, 0.5, 0.3],
  [0.0, 0.6, 0.8, 0.4],
];
const PREDS = [
  [0.3, 0.7, 0.2, 0.6],
  [0.9, 0.4, 0.5, 0.05],
  [0.15, 0.65, 0.1, 0.95],
];
const LOGITS = [
  [1.5, -0.3, 2.2, -1.7],
  [-0.4, 0.8, 0.1, 3.0],
  [2.5, -2.0, 0.0, 0.7],
];
const BINARY = [
  [1, 0, 1, 0],
  [0, 1, 0, 1],
  [1, 1, 0, 0],
];
const ONEHOT = [
  [0, 0, 1, 0],
  [0, 0, 0, 1],
  [1, 0, 0, 0],
];
const SPARSE = [2, 3, 0];

/** Weights for losses shaped [3, 4]: scalars, per example, full, all zero. */
const ELEMENT_WEIGHTS: [string, number | number[][]][] = [
  ['scalar 2.5', 2.5],
  ['scalar 0', 0],
  ['per example [3,1]', [[1], [0], [3]]],
  ['full [3,4]', [
    [1, 0, 2, 0.5],
    [0, 0, 3, 1],
    [2, 1, 0, 0],
  ]],
  ['full zeros', [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ]],
];

const elementwise = (a: number[][], b: number[][], f: (x: number, y: number) => number): Arr =>
  arr(a.map((row, i) => row.map((x, j) => f(x, b[i]![j]!))));

async function checkLoss(
  make: (opts: tf.losses.LossOptions) => tf.Tensor,
  perElement: Arr,
  weightCases: [string, number | number[] | number[][]][],
): Promise<void> {
  for (const [label, weights] of weightCases) {
    for (const reduction of REDUCTIONS) {
      const t = build(() => make({ weights: tf.constant(weights as number[]), reduction }));
      const got = await run(t);
      const want = weightedLoss(perElement, arr(weights), reduction);
      try {
        expectClose(got, want, { shape: reduction === 'none' ? perElement.shape : [] });
      } catch (e) {
        throw new Error(`${label}, ${reduction}: ${(e as Error).message}`);
      }
    }
  }
}

describe('tf.losses.computeWeightedLoss', () => {
  const losses = [
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    [9, 10, 11, 12],
  ];
  it('weights broadcast and every reduction as losses_impl.py', async () => {
    await checkLoss((o) => tf.losses.computeWeightedLoss(tf.constant(losses), o), arr(losses), ELEMENT_WEIGHTS);
    // Weights given as JS values, and the default weights of 1.
    const got = await run(build(() => tf.losses.computeWeightedLoss(losses, { weights: [[1], [0], [3]] })));
    expectClose(got, (1 * 10 + 3 * 42) / 8);
    expectClose(await run(build(() => tf.losses.computeWeightedLoss(losses))), 78 / 12);
  });

  it('hand-computed reductions for one case', async () => {
    // weights [[1],[0],[3]]: weighted sum 10 + 0 + 3 * 42 = 136; weights broadcast sum 16; 8 non-zero; 12 elements.
    const w = [[1], [0], [3]];
    const r = tf.losses.Reduction;
    const vals = await run(
      build(() => [r.SUM, r.MEAN, r.SUM_OVER_BATCH_SIZE, r.SUM_BY_NONZERO_WEIGHTS].map((reduction) => tf.losses.computeWeightedLoss(losses, { weights: w, reduction }))),
    );
    expect(vals.map((v) => v.data[0])).toEqual([136, 136 / 16, Math.fround(136 / 12), 136 / 8]);
  });

  it('default reduction is SUM_BY_NONZERO_WEIGHTS, with TF names and values', () => {
    expect(tf.losses.Reduction.SUM_OVER_NONZERO_WEIGHTS).toBe(tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS);
    expect(tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS).toBe('weighted_sum_by_nonzero_weights');
    expect(tf.losses.Reduction.all()).toHaveLength(5);
    build(() => {
      const l = tf.losses.meanSquaredError([[1, 2]], [[1, 3]]);
      expect(l.name).toBe('mean_squared_error/value:0');
      expect(tf.losses.computeWeightedLoss([1, 2]).name).toBe('weighted_loss/value:0');
      expect(tf.losses.absoluteDifference([1], [2], { reduction: 'weighted_sum', scope: 'my' }).name).toBe('my/Sum:0');
    });
  });

  it('rejects weights that do not broadcast (TF rule) and unknown reductions', () => {
    build(() => {
      const l = tf.constant(losses);
      expect(() => tf.losses.computeWeightedLoss(l, { weights: [1, 2, 3] })).toThrow(/weights can not be broadcast to values. values.rank=2. weights.rank=1/);
      expect(() => tf.losses.computeWeightedLoss(l, { weights: [[1, 2]] })).toThrow(/Mismatch at dim 1/);
      expect(() => tf.losses.computeWeightedLoss(l, { weights: [[1, 2, 3, 4]] })).not.toThrow();
      expect(() => tf.losses.computeWeightedLoss(l, { reduction: 'mean' as tf.losses.ReductionKey })).toThrow(/Invalid Reduction Key mean/);
      expect(() => tf.losses.computeWeightedLoss(l, { weights: [[1, 2]] })).toThrow(tf.ValueError);
    });
  });

  it('keeps working with weights of unknown shape (fed)', async () => {
    const g = new tf.Graph();
    const { w, loss } = g.asDefault(() => {
      const w = tf.placeholder('float32', null, 'w');
      return { w, loss: tf.losses.computeWeightedLoss(tf.constant(losses), { weights: w }) };
    });
    const sess = new tf.Session({ graph: g });
    expectClose(await sess.run(loss, [[w, tf.NDArray.from([[1], [0], [3]])]]), 136 / 8);
    expectClose(await sess.run(loss, [[w, tf.NDArray.from(0)]]), 0);
    sess.close();
  });
});

describe('tf.losses loss functions', () => {
  it('meanSquaredError', async () => {
    const per = elementwise(LABELS, PREDS, (l, p) => (p - l) ** 2);
    await checkLoss((o) => tf.losses.meanSquaredError(tf.constant(LABELS), tf.constant(PREDS), o), per, ELEMENT_WEIGHTS);
  });

  it('absoluteDifference', async () => {
    const per = elementwise(LABELS, PREDS, (l, p) => Math.abs(p - l));
    await checkLoss((o) => tf.losses.absoluteDifference(LABELS, PREDS, o), per, ELEMENT_WEIGHTS);
  });

  it('huberLoss (default delta 1, and delta 0.2)', async () => {
    const scaled = PREDS.map((r) => r.map((x) => x * 3));
    for (const delta of [undefined, 0.2]) {
      const d = delta ?? 1;
      const per = elementwise(LABELS, scaled, (l, p) => {
        const a = Math.abs(p - l);
        const q = Math.min(a, d);
        return 0.5 * q * q + d * (a - q);
      });
      await checkLoss((o) => tf.losses.huberLoss(LABELS, scaled, { ...o, delta }), per, ELEMENT_WEIGHTS);
    }
  });

  it('logLoss (epsilon 1e-7, and 0.01)', async () => {
    for (const epsilon of [undefined, 0.01]) {
      const e = epsilon ?? 1e-7;
      const per = elementwise(LABELS, PREDS, (l, p) => -l * Math.log(p + e) - (1 - l) * Math.log(1 - p + e));
      await checkLoss((o) => tf.losses.logLoss(LABELS, PREDS, { ...o, epsilon }), per, ELEMENT_WEIGHTS);
    }
  });

  it('hingeLoss', async () => {
    const per = elementwise(BINARY, LOGITS, (l, x) => Math.max(0, 1 - (2 * l - 1) * x));
    await checkLoss((o) => tf.losses.hingeLoss(BINARY, LOGITS, o), per, ELEMENT_WEIGHTS);
  });

  it('sigmoidCrossEntropy, with and without label smoothing', async () => {
    for (const s of [0, 0.2]) {
      const per = elementwise(LABELS, LOGITS, (z0, x) => {
        const z = s > 0 ? z0 * (1 - s) + 0.5 * s : z0;
        return Math.max(x, 0) - x * z + Math.log(1 + Math.exp(-Math.abs(x)));
      });
      await checkLoss((o) => tf.losses.sigmoidCrossEntropy(LABELS, tf.constant(LOGITS), { ...o, labelSmoothing: s }), per, ELEMENT_WEIGHTS);
    }
  });

  const logSoftmax = (row: number[]): number[] => {
    const m = Math.max(...row);
    const lse = m + Math.log(sum(row.map((x) => Math.exp(x - m))));
    return row.map((x) => x - lse);
  };
  const EXAMPLE_WEIGHTS: [string, number | number[]][] = [
    ['scalar 2.5', 2.5],
    ['scalar 0', 0],
    ['per example [3]', [1, 0, 3]],
    ['zeros [3]', [0, 0, 0]],
  ];

  it('softmaxCrossEntropy, with and without label smoothing', async () => {
    for (const s of [0, 0.1]) {
      const per = arr(
        ONEHOT.map((z, i) => {
          const ls = logSoftmax(LOGITS[i]!);
          return -sum(z.map((zj, j) => (s > 0 ? zj * (1 - s) + s / 4 : zj) * ls[j]!));
        }),
      );
      await checkLoss((o) => tf.losses.softmaxCrossEntropy(ONEHOT, tf.constant(LOGITS), { ...o, labelSmoothing: s }), per, EXAMPLE_WEIGHTS);
    }
    // TF: weights of shape [batch, 1] do not broadcast to the [batch] losses.
    build(() => expect(() => tf.losses.softmaxCrossEntropy(ONEHOT, LOGITS, { weights: [[1], [2], [3]] })).toThrow(/weights can not be broadcast/));
  });

  it('softmaxCrossEntropy smooths labels of unknown class count', async () => {
    const g = new tf.Graph();
    const { z, loss } = g.asDefault(() => {
      const z = tf.placeholder('float32', [3, null], 'z');
      return { z, loss: tf.losses.softmaxCrossEntropy(z, LOGITS, { labelSmoothing: 0.1 }) };
    });
    const per = ONEHOT.map((zr, i) => {
      const ls = logSoftmax(LOGITS[i]!);
      return -sum(zr.map((zj, j) => (zj * 0.9 + 0.1 / 4) * ls[j]!));
    });
    const sess = new tf.Session({ graph: g });
    expectClose(await sess.run(loss, [[z, tf.NDArray.from(ONEHOT)]]), sum(per) / 3);
    sess.close();
  });

  it('sparseSoftmaxCrossEntropy, labels [3] or [3,1], weights [3] or [3,1]', async () => {
    const per = arr(SPARSE.map((c, i) => -logSoftmax(LOGITS[i]!)[c]!));
    await checkLoss((o) => tf.losses.sparseSoftmaxCrossEntropy(SPARSE, LOGITS, o), per, EXAMPLE_WEIGHTS);
    // [batch, 1] labels and weights are squeezed, as TF's _remove_squeezable_dimensions.
    await checkLoss(
      (o) => tf.losses.sparseSoftmaxCrossEntropy(tf.constant(SPARSE.map((c) => [c]), 'int32'), LOGITS, o),
      per,
      [['per example [3,1]', [[1], [0], [3]]]],
    );
  });

  it('cosineDistance along axis 1 (weights scalar or [batch,1])', async () => {
    const unit = (m: number[][]): number[][] => m.map((r) => r.map((x) => x / Math.sqrt(sum(r.map((y) => y * y)))));
    const a = unit(LABELS);
    const b = unit(PREDS);
    const per = arr(a.map((r, i) => [1 - sum(r.map((x, j) => x * b[i]![j]!))]));
    await checkLoss((o) => tf.losses.cosineDistance(a, b, { ...o, axis: 1 }), per, [
      ['scalar 2.5', 2.5],
      ['scalar 0', 0],
      ['per example [3,1]', [[1], [0], [3]]],
    ]);
    build(() => {
      expect(() => tf.losses.cosineDistance(a, b)).toThrow(/You must specify 'axis'/);
      expect(() => tf.losses.cosineDistance(a, b, { axis: 1, weights: ELEMENT_WEIGHTS[3]![1] })).toThrow(/Mismatch at dim 1/);
    });
  });

  it('meanPairwiseSquaredError (scalar, per-example, full weights)', async () => {
    const d = LABELS.map((r, i) => r.map((l, j) => PREDS[i]![j]! - l));
    // Per example: the mean over ordered pairs i != j of (d_i - d_j)^2 (all weights non-zero).
    const pairMean = d.map((r) => {
      let s = 0;
      for (let i = 0; i < r.length; i++) for (let j = 0; j < r.length; j++) if (i !== j) s += (r[i]! - r[j]!) ** 2;
      return s / (r.length * (r.length - 1));
    });
    // TF's formula, with n the number of non-zero weights of the example.
    const tfTerms = (n: number[]): number[] =>
      d.map((r, b) => 2 * divNoNan(sum(r.map((x) => x * x)), n[b]! - 1) - 2 * divNoNan(sum(r) ** 2, n[b]! * (n[b]! - 1)));
    expect(tfTerms([4, 4, 4]).map((x, i) => Math.abs(x - pairMean[i]!) < 1e-12)).toEqual([true, true, true]);

    const cases: [number | number[][], number][] = [
      [2.5, 2.5 * sum(pairMean)],
      [0, 0],
      [[[1], [0], [3]], pairMean[0]! + 3 * pairMean[2]!],
    ];
    const full = ELEMENT_WEIGHTS[3]![1] as number[][];
    const nFull = full.map((r) => r.filter((x) => x !== 0).length); // [3, 2, 2]
    const terms = tfTerms(nFull);
    cases.push([full, sum(full.map((r, b) => sum(r.map((w) => w * terms[b]!))))]);
    cases.push([ELEMENT_WEIGHTS[4]![1] as number[][], 0]);
    for (const [weights, want] of cases) {
      const got = await run(build(() => tf.losses.meanPairwiseSquaredError(LABELS, PREDS, { weights })));
      expectClose(got, want, { shape: [] });
    }
  });

  it('gradients match finite differences', async () => {
    const p = tf.NDArray.from(PREDS);
    const x = tf.NDArray.from(LOGITS);
    const wFull = ELEMENT_WEIGHTS[3]![1] as number[][];
    await checkGradients({
      ops: [],
      name: 'meanSquaredError',
      inputs: [p],
      build: (pr) => tf.losses.meanSquaredError(LABELS, pr, { weights: wFull }),
    });
    await checkGradients({
      ops: [],
      name: 'huberLoss',
      inputs: [tf.NDArray.from(PREDS.map((r) => r.map((v) => v * 3)))],
      build: (pr) => tf.losses.huberLoss(LABELS, pr, { weights: [[1], [0.5], [2]], delta: 0.7, reduction: tf.losses.Reduction.MEAN }),
    });
    await checkGradients({
      ops: [],
      name: 'softmaxCrossEntropy',
      inputs: [x],
      build: (lg) => tf.losses.softmaxCrossEntropy(ONEHOT, lg, { weights: [1, 0.5, 2], labelSmoothing: 0.1 }),
    });
    await checkGradients({
      ops: [],
      name: 'sigmoidCrossEntropy',
      inputs: [x],
      build: (lg) => tf.losses.sigmoidCrossEntropy(LABELS, lg, { reduction: tf.losses.Reduction.SUM_OVER_BATCH_SIZE }),
    });
    await checkGradients({
      ops: [],
      name: 'logLoss',
      inputs: [p],
      build: (pr) => tf.losses.logLoss(LABELS, pr, { reduction: tf.losses.Reduction.NONE }),
      rtol: 3e-2,
    });
    await checkGradients({
      ops: [],
      name: 'meanPairwiseSquaredError',
      inputs: [p],
      build: (pr) => tf.losses.meanPairwiseSquaredError(LABELS, pr, { weights: wFull }),
    });
  });
});

describe('tf.losses collections', () => {
  it('each loss joins GraphKeys.LOSSES, or the collection named, or none', () => {
    build(() => {
      const a = tf.losses.meanSquaredError(LABELS, PREDS);
      const b = tf.losses.absoluteDifference(LABELS, PREDS, { scope: 'abs' });
      const c = tf.losses.huberLoss(LABELS, PREDS, { lossCollection: null });
      const d = tf.losses.logLoss(LABELS, PREDS, { lossCollection: 'mine' });
      const e = tf.losses.hingeLoss(BINARY, LOGITS);
      const f = tf.losses.sigmoidCrossEntropy(BINARY, LOGITS);
      const g = tf.losses.softmaxCrossEntropy(ONEHOT, LOGITS);
      const h = tf.losses.sparseSoftmaxCrossEntropy(SPARSE, LOGITS);
      const i = tf.losses.cosineDistance(LABELS, PREDS, { axis: 1 });
      const j = tf.losses.meanPairwiseSquaredError(LABELS, PREDS);
      const k = tf.losses.computeWeightedLoss([1, 2, 3]);
      expect(tf.getCollection(tf.GraphKeys.LOSSES)).toEqual([a, b, e, f, g, h, i, j, k]);
      expect(tf.losses.getLosses()).toEqual([a, b, e, f, g, h, i, j, k]);
      expect(tf.losses.getLosses('abs')).toEqual([b]);
      expect(tf.losses.getLosses(undefined, 'mine')).toEqual([d]);
      expect(c.name).toBe('huber_loss/value:0');
      tf.losses.addLoss(c);
      expect(tf.losses.getLosses().at(-1)).toBe(c);
    });
  });

  it('getTotalLoss adds the regularization losses of tf.layers.dense (kernelRegularizer)', async () => {
    const g = new tf.Graph();
    const t = g.asDefault(() => {
      const x = tf.constant([[1, 2], [3, 4], [5, 6]]);
      const y = tf.layers.dense(x, 1, { kernelRegularizer: tf.contrib.layers.l2Regularizer(0.1), biasInitializer: tf.onesInitializer() });
      const mse = tf.losses.meanSquaredError([[1], [2], [3]], y);
      // A second regularization loss, added by hand.
      const extra = tf.constant(0.25, 'float32', undefined, 'extra_reg');
      tf.addToCollection(tf.GraphKeys.REGULARIZATION_LOSSES, extra);
      const kernel = tf.trainableVariables().find((v) => v.name.includes('kernel'))!;
      expect(tf.losses.getRegularizationLosses()).toHaveLength(2);
      const reg = tf.losses.getRegularizationLoss();
      expect(reg.name).toBe('total_regularization_loss:0');
      const total = tf.losses.getTotalLoss();
      expect(total.name).toBe('total_loss:0');
      const noReg = tf.losses.getTotalLoss({ addRegularizationLosses: false });
      return { y, mse, reg, total, noReg, kernel, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(t.init);
    const [y, mse, reg, total, noReg, k] = await sess.run([t.y, t.mse, t.reg, t.total, t.noReg, t.kernel.value()]);
    const kd = Array.from(k.data as Float32Array);
    const yd = Array.from(y.data as Float32Array);
    const wantMse = sum(yd.map((v, i) => (v - (i + 1)) ** 2)) / 3;
    const wantReg = (0.1 * sum(kd.map((v) => v * v))) / 2 + 0.25;
    expectClose(mse, wantMse);
    expectClose(reg, wantReg);
    expectClose(total, wantMse + wantReg);
    expectClose(noReg, wantMse);
    sess.close();
  });

  it('getRegularizationLoss is 0 with none; getTotalLoss needs some loss', async () => {
    const g = new tf.Graph();
    const z = g.asDefault(() => {
      expect(() => tf.losses.getTotalLoss()).toThrow(/no losses/);
      return tf.losses.getRegularizationLoss();
    });
    expectClose(await run(z, undefined, g), 0);
  });
});

describe('tf.norm / tf.linalg.norm', () => {
  const X = [
    [1, -2, 3],
    [-4, 5, -6],
  ];
  const flat = X.flat();

  it('vector norms over the whole tensor', async () => {
    const got = await run(
      build(() => [
        tf.norm(X),
        tf.norm(X, { ord: 2 }),
        tf.norm(X, { ord: 1 }),
        tf.norm(X, { ord: Infinity }),
        tf.norm(X, { ord: 3 }),
        tf.norm(X, { ord: 0.5 }),
        tf.linalg.norm(X, { keepdims: true }),
      ]),
    );
    expectClose(got[0]!, Math.sqrt(91), { shape: [] });
    expectClose(got[1]!, Math.sqrt(91), { shape: [] });
    expectClose(got[2]!, 21, { shape: [] });
    expectClose(got[3]!, 6, { shape: [] });
    expectClose(got[4]!, sum(flat.map((v) => Math.abs(v) ** 3)) ** (1 / 3), { shape: [] });
    expectClose(got[5]!, sum(flat.map((v) => Math.abs(v) ** 0.5)) ** 2, { shape: [] });
    expectClose(got[6]!, Math.sqrt(91), { shape: [1, 1] });
  });

  it('vector norms along one axis', async () => {
    const got = await run(
      build(() => [
        tf.norm(X, { axis: 0 }),
        tf.norm(X, { axis: 1, ord: 1 }),
        tf.norm(X, { axis: -1, ord: Infinity }),
        tf.norm(X, { axis: 1, keepdims: true }),
        tf.norm(X, { axis: 0, ord: 3, keepdims: true }),
      ]),
    );
    expectClose(got[0]!, [Math.sqrt(17), Math.sqrt(29), Math.sqrt(45)], { shape: [3] });
    expectClose(got[1]!, [6, 15], { shape: [2] });
    expectClose(got[2]!, [3, 6], { shape: [2] });
    expectClose(got[3]!, [Math.sqrt(14), Math.sqrt(77)], { shape: [2, 1] });
    expectClose(got[4]!, [65 ** (1 / 3), 133 ** (1 / 3), 243 ** (1 / 3)], { shape: [1, 3] });
  });

  it('matrix norms over a pair of axes', async () => {
    const batch = [X, [[0, 1, 0], [2, 0, -2]]];
    const got = await run(
      build(() => [
        tf.norm(X, { ord: 'fro', axis: [0, 1] }),
        tf.norm(X, { ord: 'euclidean', axis: [0, 1] }),
        tf.norm(X, { ord: 1, axis: [0, 1] }), // max column sum
        tf.norm(X, { ord: Infinity, axis: [0, 1] }), // max row sum
        tf.norm(X, { ord: 1, axis: [1, 0] }), // axes swapped: the transpose's 1-norm
        tf.norm(batch, { ord: 1, axis: [-2, -1] }),
        tf.norm(batch, { ord: Infinity, axis: [1, 2], keepdims: true }),
        tf.norm(batch, { ord: 'fro', axis: [-2, -1] }),
      ]),
    );
    expectClose(got[0]!, Math.sqrt(91), { shape: [] });
    expectClose(got[1]!, Math.sqrt(91), { shape: [] });
    expectClose(got[2]!, 9, { shape: [] });
    expectClose(got[3]!, 15, { shape: [] });
    expectClose(got[4]!, 15, { shape: [] });
    expectClose(got[5]!, [9, 2], { shape: [2] });
    expectClose(got[6]!, [15, 4], { shape: [2, 1, 1] });
    expectClose(got[7]!, [Math.sqrt(91), 3], { shape: [2] });
  });

  it("rejects what TF rejects ('ord' and 'axis' errors)", () => {
    build(() => {
      for (const ord of ['fro', -7, -1.1, 0, 'foo', -Infinity] as tf.NormOrd[]) {
        expect(() => tf.norm(X, { ord })).toThrow(/'ord' must be a supported vector norm/);
      }
      for (const ord of ['foo', -7, -1.1, 1.1, 3] as tf.NormOrd[]) {
        expect(() => tf.norm(X, { ord, axis: [0, 1] })).toThrow(/'ord' must be a supported matrix norm/);
      }
      for (const axis of [[], [1, 2, 3], [1], [1, 1], [3.1415], 1.5, [0.5, 1]] as number[][]) {
        expect(() => tf.norm(X, { axis })).toThrow(/'axis' must be None, an integer, or a tuple of 2 unique integers/);
      }
      expect(() => tf.norm(X, { axis: [1, 1] })).toThrow(tf.ValueError);
    });
  });

  it('the matrix 2-norm is the largest singular value, over any pair of axes, with its gradient', async () => {
    // Largest singular value of X: the square root of the largest eigenvalue of X Xᵀ (2 × 2, closed form).
    const xxt = [0, 1].map((i) => [0, 1].map((j) => sum(X[i]!.map((v, k) => v * X[j]![k]!))));
    const [a, b, d] = [xxt[0]![0]!, xxt[0]![1]!, xxt[1]![1]!];
    const sigma = Math.sqrt((a + d) / 2 + Math.sqrt(((a - d) / 2) ** 2 + b * b));
    const batched = [X, X.map((r) => r.map((v) => 2 * v))];
    const got = await run(
      build(() => [
        tf.norm(X, { ord: 2, axis: [0, 1] }),
        tf.norm(X, { ord: 2, axis: [1, 0], keepdims: true }),
        tf.norm(tf.transpose(tf.constant(batched), [1, 0, 2]), { ord: 2, axis: [0, 2] }),
      ]),
    );
    expectClose(got[0]!, sigma, { shape: [] });
    expectClose(got[1]!, sigma, { shape: [1, 1] });
    expectClose(got[2]!, [sigma, 2 * sigma], { shape: [2] });
    await checkGradients({ ops: [], name: 'norm matrix 2', inputs: [tf.NDArray.from(X)], build: (t) => tf.norm(t, { ord: 2, axis: [0, 1] }) });
  });

  it('gradients match finite differences', async () => {
    const x = tf.NDArray.from(X);
    await checkGradients({ ops: [], name: 'norm euclidean axis 1', inputs: [x], build: (t) => tf.norm(t, { axis: 1 }) });
    await checkGradients({ ops: [], name: 'norm 1', inputs: [x], build: (t) => tf.norm(t, { ord: 1 }) });
    await checkGradients({ ops: [], name: 'norm 3 axis 0', inputs: [x], build: (t) => tf.norm(t, { ord: 3, axis: 0 }) });
    await checkGradients({ ops: [], name: 'norm fro', inputs: [x], build: (t) => tf.norm(t, { ord: 'fro', axis: [0, 1] }) });
  });
});
