// tf.metrics against streaming results computed here by hand from TF 1.15's formulas
// (metrics_impl.py): several batches are fed, the update op run after each, and the value compared.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { FeedValue } from '../src/session.js';
import { expectClose } from './helpers.js';

function num(a: tf.NDArray): number {
  return Number(a.toArray());
}

function names(vs: readonly tf.Variable[]): string[] {
  return vs.map((v) => v.op.name);
}

/** Runs `update` for each batch, then returns the value after each batch. */
async function stream(
  g: tf.Graph,
  value: tf.Tensor,
  update: tf.Tensor,
  batches: (readonly (readonly [tf.Tensor, FeedValue])[])[],
): Promise<{ updates: tf.NDArray[]; values: tf.NDArray[]; sess: tf.Session }> {
  const sess = new tf.Session({ graph: g });
  await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
  const updates: tf.NDArray[] = [];
  const values: tf.NDArray[] = [];
  for (const feeds of batches) {
    updates.push(await sess.run(update, feeds));
    values.push(await sess.run(value));
  }
  return { updates, values, sess };
}

describe('tf.metrics variables', () => {
  it('metric variables are local, not trainable, not global, named after the scope', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      new tf.Variable(tf.zeros([2]), { name: 'w' });
      const labels = tf.placeholder('int32', [null]);
      const preds = tf.placeholder('int32', [null]);
      tf.metrics.accuracy(labels, preds);
      tf.metrics.accuracy(labels, preds);
      tf.metrics.precision(labels, preds);
      tf.metrics.auc(labels, tf.cast(preds, 'float32'), { numThresholds: 5 });
      tf.metrics.meanIou(labels, preds, 3);
      tf.metrics.mean(preds, { name: 'my_mean' });
      expect(names(tf.globalVariables())).toEqual(['w']);
      expect(names(tf.trainableVariables())).toEqual(['w']);
      const local = names(tf.localVariables());
      expect(local).toEqual([
        'accuracy/total',
        'accuracy/count',
        'accuracy_1/total',
        'accuracy_1/count',
        'precision/true_positives/count',
        'precision/false_positives/count',
        'auc/true_positives',
        'auc/false_negatives',
        'auc/true_negatives',
        'auc/false_positives',
        'mean_iou/total_confusion_matrix',
        'my_mean/total',
        'my_mean/count',
      ]);
      expect(names(g.getCollection<tf.Variable>(tf.metrics.METRIC_VARIABLES))).toEqual(local);
      for (const v of tf.localVariables()) expect(v.trainable).toBe(false);
      expect(tf.localVariables().find((v) => v.op.name === 'auc/true_positives')!.shape).toEqual([5]);
      expect(tf.localVariables().find((v) => v.op.name === 'mean_iou/total_confusion_matrix')!.shape).toEqual([3, 3]);
    });
  });

  it('metricsCollections and updatesCollections receive the value and the update op', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const [v, u] = tf.metrics.mean(tf.constant([1, 2]), { metricsCollections: ['m'], updatesCollections: ['u'] });
      expect(g.getCollection('m')).toEqual([v]);
      expect(g.getCollection('u')).toEqual([u]);
    });
  });

  it('the local variables initializer resets the totals', async () => {
    const g = new tf.Graph();
    const { x, value, update } = g.asDefault(() => {
      const x = tf.placeholder('float32', [null]);
      const [value, update] = tf.metrics.mean(x);
      return { x, value, update };
    });
    const { values, sess } = await stream(g, value, update, [[[x, [1, 2, 3]]], [[x, [10]]]]);
    expectClose(values[1]!, 4, { atol: 1e-6 });
    await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
    expect(num(await sess.run(value))).toBe(0);
    await sess.run(update, [[x, [7, 9]]]);
    expectClose(await sess.run(value), 8, { atol: 1e-6 });
    sess.close();
  });
});

describe('tf.metrics.mean and accuracy', () => {
  it('mean with weights over batches: sum(w * v) / sum(w), weights broadcast', async () => {
    const g = new tf.Graph();
    const { x, w, value, update } = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 2]);
      const w = tf.placeholder('float32', [null, 1]);
      const [value, update] = tf.metrics.mean(x, { weights: w });
      return { x, w, value, update };
    });
    const batches: [number[][], number[][]][] = [
      [[[1, 2], [3, 4]], [[1], [0.5]]],
      [[[5, -1]], [[2]]],
      [[[0, 8], [2, 2], [1, 1]], [[0], [1], [3]]],
    ];
    let sw = 0;
    let swv = 0;
    const expected: number[] = [];
    for (const [xs, ws] of batches) {
      xs.forEach((row, i) => row.forEach((v) => ((sw += ws[i]![0]!), (swv += ws[i]![0]! * v))));
      expected.push(swv / sw);
    }
    const { updates, values, sess } = await stream(
      g,
      value,
      update,
      batches.map(([xs, ws]) => [
        [x, xs],
        [w, ws],
      ]),
    );
    sess.close();
    expected.forEach((e, i) => {
      expectClose(updates[i]!, e, { atol: 1e-5 });
      expectClose(values[i]!, e, { atol: 1e-5 });
    });
  });

  it('mean of nothing is 0 (div_no_nan)', async () => {
    const g = new tf.Graph();
    const { x, w, value, update } = g.asDefault(() => {
      const x = tf.placeholder('float32', [null]);
      const w = tf.placeholder('float32', [null]);
      const [value, update] = tf.metrics.mean(x, { weights: w });
      return { x, w, value, update };
    });
    const { updates, values, sess } = await stream(g, value, update, [[[x, [3, 4]], [w, [0, 0]]]]);
    sess.close();
    expect(num(updates[0]!)).toBe(0);
    expect(num(values[0]!)).toBe(0);
  });

  it('accuracy over batches, weighted and unweighted, with squeezable predictions', async () => {
    const g = new tf.Graph();
    const { l, p, w, acc, accU, wacc, waccU } = g.asDefault(() => {
      const l = tf.placeholder('int32', [null]);
      const p = tf.placeholder('int32', [null, 1]);
      const w = tf.placeholder('float32', [null]);
      const [acc, accU] = tf.metrics.accuracy(l, p);
      const [wacc, waccU] = tf.metrics.accuracy(l, p, { weights: w });
      return { l, p, w, acc, accU, wacc, waccU };
    });
    const batches = [
      { l: [1, 2, 3, 4], p: [1, 0, 3, 0], w: [1, 1, 2, 0.5] },
      { l: [0, 0], p: [0, 1], w: [3, 1] },
      { l: [5, 6, 7], p: [5, 6, 0], w: [0, 1, 1] },
    ];
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
    let correct = 0;
    let count = 0;
    let wc = 0;
    let ws = 0;
    for (const b of batches) {
      const feeds: [tf.Tensor, FeedValue][] = [
        [l, b.l],
        [p, b.p.map((v) => [v])],
        [w, b.w],
      ];
      const [u1, u2] = await sess.run([accU, waccU], feeds);
      b.l.forEach((lv, i) => {
        const ok = lv === b.p[i] ? 1 : 0;
        correct += ok;
        count += 1;
        wc += ok * b.w[i]!;
        ws += b.w[i]!;
      });
      expectClose(u1!, correct / count, { atol: 1e-6 });
      expectClose(u2!, wc / ws, { atol: 1e-6 });
      const [a1, a2] = await sess.run([acc, wacc]);
      expectClose(a1!, correct / count, { atol: 1e-6 });
      expectClose(a2!, wc / ws, { atol: 1e-6 });
    }
    sess.close();
  });
});

describe('tf.metrics counts, precision, recall', () => {
  it('streams tp / fp / fn, precision and recall (weighted)', async () => {
    const g = new tf.Graph();
    const t = g.asDefault(() => {
      const l = tf.placeholder('float32', [null]);
      const p = tf.placeholder('float32', [null]);
      const w = tf.placeholder('float32', [null]);
      return {
        l,
        p,
        w,
        tp: tf.metrics.truePositives(l, p),
        fp: tf.metrics.falsePositives(l, p),
        fn: tf.metrics.falseNegatives(l, p),
        prec: tf.metrics.precision(l, p),
        rec: tf.metrics.recall(l, p),
        wprec: tf.metrics.precision(l, p, { weights: w }),
        wrec: tf.metrics.recall(l, p, { weights: w }),
      };
    });
    const batches = [
      { l: [1, 0, 1, 1, 0], p: [1, 1, 0, 1, 0], w: [1, 2, 3, 0.5, 1] },
      { l: [0, 0, 1], p: [0, 1, 1], w: [1, 4, 2] },
      { l: [1, 1], p: [0.5, 0], w: [2, 1] }, // a non-zero prediction is true
    ];
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
    const c = { tp: 0, fp: 0, fn: 0, wtp: 0, wfp: 0, wfn: 0 };
    const metrics = [t.tp, t.fp, t.fn, t.prec, t.rec, t.wprec, t.wrec];
    for (const b of batches) {
      const feeds: [tf.Tensor, FeedValue][] = [
        [t.l, b.l],
        [t.p, b.p],
        [t.w, b.w],
      ];
      const ups = await sess.run(
        metrics.map((m) => m[1]),
        feeds,
      );
      b.l.forEach((lv, i) => {
        const L = lv !== 0;
        const P = b.p[i] !== 0;
        const wi = b.w[i]!;
        if (L && P) (c.tp += 1), (c.wtp += wi);
        if (!L && P) (c.fp += 1), (c.wfp += wi);
        if (L && !P) (c.fn += 1), (c.wfn += wi);
      });
      const expected = [
        c.tp,
        c.fp,
        c.fn,
        c.tp / (c.tp + c.fp),
        c.tp / (c.tp + c.fn),
        c.wtp / (c.wtp + c.wfp),
        c.wtp / (c.wtp + c.wfn),
      ];
      const vals = await sess.run(metrics.map((m) => m[0]));
      expected.forEach((e, i) => {
        expectClose(ups[i]!, e, { atol: 1e-5 });
        expectClose(vals[i]!, e, { atol: 1e-5 });
      });
    }
    sess.close();
  });

  it('precision is 0 before anything is predicted positive', async () => {
    const g = new tf.Graph();
    const [v] = g.asDefault(() => tf.metrics.precision(tf.constant([1, 0]), tf.constant([0, 0])));
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
    expect(num(await sess.run(v))).toBe(0);
    sess.close();
  });
});

// ---- AUC by hand ----

function thresholdsOf(n: number): number[] {
  const k = 1e-7;
  return [-k, ...Array.from({ length: n - 2 }, (_, i) => (i + 1) / (n - 1)), 1 + k];
}

function handAuc(
  labels: number[],
  preds: number[],
  weights: number[],
  n: number,
  curve: 'ROC' | 'PR',
  method: 'trapezoidal' | 'minoring' | 'majoring' = 'trapezoidal',
): number {
  const th = thresholdsOf(n);
  const tp = th.map(() => 0);
  const fn = th.map(() => 0);
  const tn = th.map(() => 0);
  const fp = th.map(() => 0);
  th.forEach((t, j) => {
    labels.forEach((l, i) => {
      const pos = Math.fround(preds[i]!) > Math.fround(t);
      const w = weights[i]!;
      if (l && pos) tp[j] += w;
      else if (l && !pos) fn[j] += w;
      else if (!l && !pos) tn[j] += w;
      else fp[j] += w;
    });
  });
  const eps = 1e-6;
  const rec = tp.map((v, j) => (v + eps) / (v + fn[j]! + eps));
  const x = curve === 'ROC' ? fp.map((v, j) => v / (v + tn[j]! + eps)) : rec;
  const y = curve === 'ROC' ? rec : tp.map((v, j) => (v + eps) / (v + fp[j]! + eps));
  let s = 0;
  for (let j = 0; j < n - 1; j++) {
    const h =
      method === 'minoring' ? Math.min(y[j]!, y[j + 1]!) : method === 'majoring' ? Math.max(y[j]!, y[j + 1]!) : (y[j]! + y[j + 1]!) / 2;
    s += (x[j]! - x[j + 1]!) * h;
  }
  return s;
}

describe('tf.metrics.auc', () => {
  const batches = [
    { l: [1, 0, 1, 0, 1], p: [0.9, 0.1, 0.35, 0.8, 0.6], w: [1, 1, 2, 0.5, 1] },
    { l: [0, 0, 1], p: [0.2, 0.55, 0.7], w: [1, 3, 1] },
    { l: [1, 0, 0, 1], p: [0.05, 0.45, 0.0, 1.0], w: [2, 1, 1, 1] },
  ];

  for (const [curve, n, weighted, method] of [
    ['ROC', 200, false, 'trapezoidal'],
    ['ROC', 7, true, 'trapezoidal'],
    ['PR', 50, false, 'trapezoidal'],
    ['PR', 11, true, 'trapezoidal'],
    ['ROC', 9, false, 'minoring'],
    ['ROC', 9, true, 'majoring'],
  ] as const) {
    it(`${curve}, ${n} thresholds, ${weighted ? 'weighted' : 'unweighted'}, ${method}: a hand trapezoidal sum over the same thresholds`, async () => {
      const g = new tf.Graph();
      const { l, p, w, value, update } = g.asDefault(() => {
        const l = tf.placeholder('int32', [null]);
        const p = tf.placeholder('float32', [null]);
        const w = tf.placeholder('float32', [null]);
        const [value, update] = tf.metrics.auc(l, p, {
          numThresholds: n,
          curve,
          summationMethod: method,
          ...(weighted ? { weights: w } : {}),
        });
        return { l, p, w, value, update };
      });
      const sess = new tf.Session({ graph: g });
      await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
      const all = { l: [] as number[], p: [] as number[], w: [] as number[] };
      for (const b of batches) {
        const feeds: [tf.Tensor, FeedValue][] = [
          [l, b.l],
          [p, b.p],
        ];
        if (weighted) feeds.push([w, b.w]);
        const u = await sess.run(update, feeds);
        all.l.push(...b.l);
        all.p.push(...b.p);
        all.w.push(...(weighted ? b.w : b.w.map(() => 1)));
        const e = handAuc(all.l, all.p, all.w, n, curve, method);
        expectClose(u, e, { atol: 2e-5 });
        expectClose(await sess.run(value), e, { atol: 2e-5 });
      }
      sess.close();
    });
  }

  it('a perfect ranking has ROC AUC near 1, the reverse near 0', async () => {
    const g = new tf.Graph();
    const [[v1, u1], [v2, u2]] = g.asDefault(() => [
      tf.metrics.auc(tf.constant([0, 0, 1, 1]), tf.constant([0.1, 0.2, 0.8, 0.9])),
      tf.metrics.auc(tf.constant([1, 1, 0, 0]), tf.constant([0.1, 0.2, 0.8, 0.9])),
    ]);
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
    await sess.run([u1, u2]);
    const [a, b] = await sess.run([v1, v2]);
    expectClose(a!, 1, { atol: 1e-5 });
    expectClose(b!, 0, { atol: 1e-5 });
    sess.close();
  });

  it('careful_interpolation PR: TF interpolate_pr_auc by hand', async () => {
    const labels = [1, 0, 1, 0, 1, 1, 0];
    const preds = [0.9, 0.1, 0.35, 0.8, 0.6, 0.62, 0.3];
    const n = 6;
    const g = new tf.Graph();
    const [v, u] = g.asDefault(() =>
      tf.metrics.auc(tf.constant(labels), tf.constant(preds), { numThresholds: n, curve: 'PR', summationMethod: 'careful_interpolation' }),
    );
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
    await sess.run(u);
    const th = thresholdsOf(n);
    const tp = th.map((t) => labels.filter((lv, i) => lv && Math.fround(preds[i]!) > Math.fround(t)).length);
    const fp = th.map((t) => labels.filter((lv, i) => !lv && Math.fround(preds[i]!) > Math.fround(t)).length);
    const fn = th.map((t) => labels.filter((lv, i) => lv && !(Math.fround(preds[i]!) > Math.fround(t))).length);
    const dnn = (a: number, b: number) => (b === 0 ? 0 : a / b);
    let s = 0;
    for (let j = 0; j < n - 1; j++) {
      const dtp = tp[j]! - tp[j + 1]!;
      const p0 = tp[j]! + fp[j]!;
      const p1 = tp[j + 1]! + fp[j + 1]!;
      const slope = dnn(dtp, Math.max(p0 - p1, 0));
      const intercept = tp[j + 1]! - slope * p1;
      const ratio = p0 > 0 && p1 > 0 ? dnn(p0, Math.max(p1, 0)) : 1;
      s += dnn(slope * (dtp + intercept * Math.log(ratio)), Math.max(tp[j + 1]! + fn[j + 1]!, 0));
    }
    expectClose(await sess.run(v), s, { atol: 1e-5 });
    sess.close();
  });

  it('rejects an unknown curve', () => {
    new tf.Graph().asDefault(() => {
      expect(() => tf.metrics.auc(tf.constant([1]), tf.constant([0.5]), { curve: 'XY' as 'ROC' })).toThrow(/curve must be either ROC or PR/);
    });
  });
});

describe('tf.metrics.meanIou', () => {
  it('streams a confusion matrix (rows labels, columns predictions) and its mean IoU', async () => {
    const n = 4;
    const g = new tf.Graph();
    const { l, p, w, value, update } = g.asDefault(() => {
      const l = tf.placeholder('int32', [null, 2]);
      const p = tf.placeholder('int32', [null, 2]);
      const w = tf.placeholder('float32', [null, 2]);
      const [value, update] = tf.metrics.meanIou(l, p, n, { weights: w });
      return { l, p, w, value, update };
    });
    const batches = [
      { l: [[0, 1], [2, 2]], p: [[0, 2], [2, 1]], w: [[1, 1], [2, 1]] },
      { l: [[1, 1]], p: [[1, 0]], w: [[1, 0.5]] },
      { l: [[0, 0], [2, 1]], p: [[0, 0], [2, 1]], w: [[1, 0], [1, 3]] },
    ];
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
    const cm = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (const b of batches) {
      const u = await sess.run(update, [
        [l, b.l],
        [p, b.p],
        [w, b.w],
      ]);
      b.l.flat().forEach((lv, i) => (cm[lv]![b.p.flat()[i]!]! += b.w.flat()[i]!));
      expectClose(u, cm.flat(), { atol: 1e-6, shape: [n, n] });
      let sum = 0;
      let valid = 0;
      for (let c = 0; c < n; c++) {
        const row = cm[c]!.reduce((a, x) => a + x, 0);
        const col = cm.reduce((a, r) => a + r[c]!, 0);
        const den = row + col - cm[c]![c]!;
        if (den !== 0) valid += 1;
        sum += cm[c]![c]! / (den > 0 ? den : 1);
      }
      expectClose(await sess.run(value), valid > 0 ? sum / valid : 0, { atol: 1e-6 });
    }
    sess.close();
  });

  it('is 0 before any update', async () => {
    const g = new tf.Graph();
    const [v] = g.asDefault(() => tf.metrics.meanIou(tf.constant([0, 1]), tf.constant([0, 1]), 2));
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.localVariablesInitializer()));
    expect(num(await sess.run(v))).toBe(0);
    sess.close();
  });
});
