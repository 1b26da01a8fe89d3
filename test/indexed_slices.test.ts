// Sparse gradients (TF's IndexedSlices): tf.gather's params get their gradient as rows and indices,
// optimizers update only those rows (ScatterSub, SparseApply*), and the Scatter* variable ops.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose, randomArray, rng } from './helpers.js';

const VOCAB = 7;
const DIM = 3;
// Repeated ids: the sparse updates must sum their rows (or apply them in order) as TF does.
const IDS = [4, 1, 4, 6, 1, 4];

/** loss = sum(w * lookup(E, ids)^2) for a fixed w: each row's gradient differs, repeated rows add up. */
function model(lookup: (e: tf.Tensor, ids: tf.Tensor) => tf.Tensor) {
  const g = new tf.Graph();
  return g.asDefault(() => {
    const E = new tf.Variable(randomArray([VOCAB, DIM], { seed: 7 }), { name: 'E' });
    const ids = tf.placeholder('int32', [null], 'ids');
    const w = tf.constant(randomArray([IDS.length, DIM], { seed: 8 }));
    const rows = lookup(E.value(), ids);
    const loss = tf.reduceSum(tf.multiply(w, tf.square(rows)));
    return { g, E, ids, loss };
  });
}
const byGather = () => model((e, ids) => tf.nn.embeddingLookup(e, ids));
// The same function with a dense gradient: one-hot rows times the table.
const byMatmul = () => model((e, ids) => tf.matmul(tf.oneHot(ids, VOCAB), e));
const feeds = (m: { ids: tf.Tensor }): tf.FeedDict => [[m.ids, tf.NDArray.from(IDS, 'int32', [IDS.length])]];

async function values(m: { g: tf.Graph; E: tf.Variable }, fetches: tf.Tensor[], feedDict: tf.FeedDict) {
  const sess = new tf.Session({ graph: m.g });
  await sess.run(m.g.asDefault(() => tf.globalVariablesInitializer()));
  const out = await sess.run(fetches, feedDict);
  sess.close();
  return out;
}

describe('IndexedSlices gradients', () => {
  it('tf.gather gives its params rows and indices with sparse: true, and the dense sum by default', async () => {
    const m = byGather();
    const [sparse] = m.g.asDefault(() => tf.gradients(m.loss, m.E, undefined, { sparse: true }));
    expect(sparse).toBeInstanceOf(tf.IndexedSlices);
    const slices = sparse as tf.IndexedSlices;
    expect(slices.values.shape).toEqual([null, DIM]);
    const [dense] = m.g.asDefault(() => tf.gradients(m.loss, m.E));
    expect(dense).toBeInstanceOf(tf.Tensor);
    const ref = byMatmul();
    const [refGrad] = ref.g.asDefault(() => tf.gradients(ref.loss, ref.E));
    const [d] = await values(m, [dense!], feeds(m));
    const [r] = await values(ref, [refGrad!], feeds(ref));
    expectClose(d!, r!);

    const sess = new tf.Session({ graph: m.g });
    await sess.run(m.g.asDefault(() => tf.globalVariablesInitializer()));
    const fetched = await sess.run(slices, feeds(m));
    sess.close();
    expect(Array.from(fetched.indices.data as Int32Array)).toEqual(IDS);
    expect(fetched.values.shape).toEqual([IDS.length, DIM]);
    expect(Array.from(fetched.denseShape!.data as Int32Array)).toEqual([VOCAB, DIM]);
    // Summed into place by hand, the rows give the dense gradient.
    const summed = new Float32Array(VOCAB * DIM);
    IDS.forEach((id, k) => {
      for (let j = 0; j < DIM; j++) summed[id * DIM + j]! += (fetched.values.data as Float32Array)[k * DIM + j]!;
    });
    expectClose(d!, summed);
  });

  it('gradients of two lookups of one table stay sparse (rows concatenated); a dense use makes the sum dense', async () => {
    const g = new tf.Graph();
    const { E, ids, twoLookups, mixed } = g.asDefault(() => {
      const E = new tf.Variable(randomArray([VOCAB, DIM], { seed: 1 }), { name: 'E' });
      const ids = tf.placeholder('int32', [null]);
      const a = tf.reduceSum(tf.gather(E.value(), ids));
      const b = tf.reduceSum(tf.square(tf.gather(E.value(), tf.add(ids, 0))));
      return { E, ids, twoLookups: tf.add(a, b), mixed: tf.add(a, tf.reduceSum(tf.square(E.value()))) };
    });
    const [two] = g.asDefault(() => tf.gradients(twoLookups, E, undefined, { sparse: true }));
    expect(two).toBeInstanceOf(tf.IndexedSlices);
    const [mix] = g.asDefault(() => tf.gradients(mixed, E, undefined, { sparse: true }));
    expect(mix).toBeInstanceOf(tf.Tensor);
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const idv = tf.NDArray.from([2, 5], 'int32', [2]);
    const [twoV, mixV, e] = await sess.run([two as tf.IndexedSlices, mix as tf.Tensor, E], [[ids, idv]]);
    sess.close();
    expect(Array.from(twoV.indices.data as Int32Array)).toEqual([2, 5, 2, 5]);
    const ev = e.data as Float32Array;
    const expected = new Float32Array(VOCAB * DIM);
    for (const id of [2, 5]) for (let j = 0; j < DIM; j++) expected[id * DIM + j] = 1;
    for (let i = 0; i < expected.length; i++) expected[i]! += 2 * ev[i]!;
    expectClose(mixV, expected);
  });

  it('any op given IndexedSlices uses their dense value, and clipByGlobalNorm keeps them sparse', async () => {
    const m = byGather();
    const { scaled, clipped, norm } = m.g.asDefault(() => {
      const [gr] = tf.gradients(m.loss, m.E, undefined, { sparse: true });
      const [c, n] = tf.clipByGlobalNorm([gr!], 0.5);
      return { scaled: tf.multiply(gr!, 2), clipped: c[0]!, norm: n };
    });
    expect(clipped).toBeInstanceOf(tf.IndexedSlices);
    const [gr] = m.g.asDefault(() => tf.gradients(m.loss, m.E, undefined, { sparse: true }));
    const sess = new tf.Session({ graph: m.g });
    await sess.run(m.g.asDefault(() => tf.globalVariablesInitializer()));
    const [s, c, n, raw] = await sess.run([scaled, clipped as tf.IndexedSlices, norm, gr as tf.IndexedSlices], feeds(m));
    sess.close();
    expect(s.shape).toEqual([VOCAB, DIM]);
    // TF's global norm of IndexedSlices is the norm of their rows.
    const rows = Array.from(raw.values.data as Float32Array);
    const rowNorm = Math.sqrt(rows.reduce((a, v) => a + v * v, 0));
    expectClose(n, rowNorm);
    expectClose(c.values, rows.map((v) => (v * 0.5) / Math.max(rowNorm, 0.5)));
  });
});

const OPTIMIZERS: [string, () => tf.train.Optimizer][] = [
  ['GradientDescent', () => new tf.train.GradientDescentOptimizer(0.1)],
  ['Momentum', () => new tf.train.MomentumOptimizer(0.1, 0.9)],
  ['Momentum (Nesterov)', () => new tf.train.MomentumOptimizer(0.1, 0.9, { useNesterov: true })],
  ['Adagrad', () => new tf.train.AdagradOptimizer(0.1)],
  ['RMSProp', () => new tf.train.RMSPropOptimizer(0.05, { momentum: 0.5 })],
  ['RMSProp (centered)', () => new tf.train.RMSPropOptimizer(0.05, { momentum: 0.5, centered: true })],
  ['Adam', () => new tf.train.AdamOptimizer(0.05)],
];

/** The variable and its slots after `steps` training steps. */
async function train(m: ReturnType<typeof model>, make: () => tf.train.Optimizer, steps: number) {
  const opt = make();
  const op = m.g.asDefault(() => opt.minimize(m.loss));
  const slots = opt.getSlotNames().map((n) => opt.getSlot(m.E, n)!);
  const sess = new tf.Session({ graph: m.g });
  await sess.run(m.g.asDefault(() => tf.globalVariablesInitializer()));
  for (let s = 0; s < steps; s++) await sess.run(op, feeds(m));
  const out = await sess.run([m.E, ...slots]);
  sess.close();
  return { ops: m.g.getOperations().map((o) => o.type), values: out };
}

const TOUCHED = new Set(IDS);
const rowsOf = (a: tf.NDArray, keep: (row: number) => boolean): number[] =>
  Array.from(a.data as Float32Array).filter((_, i) => keep(Math.floor(i / DIM)));

describe('optimizers update only the rows a sparse gradient touches', () => {
  for (const [name, make] of OPTIMIZERS) {
    it(`${name}: one step equals the dense step on every row of the variable; untouched rows of its slots keep their value`, async () => {
      const sparse = await train(byGather(), make, 1);
      const dense = await train(byMatmul(), make, 1);
      // Adam's sparse step is its dense step on the summed rows (TF1's sparse Adam touches every row too).
      if (name !== 'Adam') {
        expect(sparse.ops.some((t) => t.startsWith('Sparse') || t.startsWith('Scatter'))).toBe(true);
        expect(sparse.ops.some((t) => t.startsWith('Apply'))).toBe(false);
      }
      expectClose(sparse.values[0]!, dense.values[0]!, { atol: 1e-6 });
      // Lazy slots: rows no index names are never read or written (TF's sparse updates), except Adam, whose moments decay everywhere.
      const init = await train(byGather(), make, 0);
      sparse.values.slice(1).forEach((slot, k) => {
        if (name !== 'Adam') expect(rowsOf(slot, (r) => !TOUCHED.has(r))).toEqual(rowsOf(init.values[k + 1]!, (r) => !TOUCHED.has(r)));
        expectClose(tf.NDArray.from(rowsOf(slot, (r) => TOUCHED.has(r)), 'float32'), rowsOf(dense.values[k + 1]!, (r) => TOUCHED.has(r)), { atol: 1e-6 });
      });
    });
  }

  for (const [name, make] of [OPTIMIZERS[0]!, OPTIMIZERS[6]!]) {
    it(`${name}: five steps equal five dense steps (the update is the same math everywhere)`, async () => {
      const sparse = await train(byGather(), make, 5);
      const dense = await train(byMatmul(), make, 5);
      sparse.values.forEach((v, k) => expectClose(v, dense.values[k]!, { atol: 1e-5 }));
    });
  }
});

describe('Scatter* ops on a variable', () => {
  const KINDS: [string, (ref: tf.Variable, i: tf.Tensor, u: tf.Tensor) => tf.Tensor, (a: number, b: number) => number][] = [
    ['ScatterUpdate', tf.scatterUpdate, (_a, b) => b],
    ['ScatterAdd', tf.scatterAdd, (a, b) => a + b],
    ['ScatterSub', tf.scatterSub, (a, b) => a - b],
    ['ScatterMul', tf.scatterMul, (a, b) => a * b],
    ['ScatterDiv', tf.scatterDiv, (a, b) => a / b],
    ['ScatterMin', tf.scatterMin, (a, b) => Math.min(a, b)],
    ['ScatterMax', tf.scatterMax, (a, b) => Math.max(a, b)],
  ];
  for (const [type, fn, combine] of KINDS) {
    it(`${type}: repeated indices combine in order; indices of any shape; fed indices`, async () => {
      const init = randomArray([5, 2], { seed: 3, min: 1, max: 2 });
      const idx = [[3, 0], [3, 4]];
      const upd = randomArray([2, 2, 2], { seed: 4, min: 1, max: 2 });
      const g = new tf.Graph();
      const { v, out, i } = g.asDefault(() => {
        const v = new tf.Variable(init);
        const i = tf.placeholder('int32', [2, 2]);
        return { v, i, out: fn(v, i, tf.constant(upd)) };
      });
      expect(out.op.type).toBe(type);
      const sess = new tf.Session({ graph: g });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      const [o] = await sess.run([out], [[i, tf.NDArray.from(idx.flat(), 'int32', [2, 2])]]);
      const [after] = await sess.run([v]);
      sess.close();
      const ref = Float32Array.from(init.data as Float32Array);
      idx.flat().forEach((row, k) => {
        for (let j = 0; j < 2; j++) ref[row * 2 + j] = combine(ref[row * 2 + j]!, (upd.data as Float32Array)[k * 2 + j]!);
      });
      expectClose(o!, ref, { atol: 1e-6 });
      expectClose(after!, ref, { atol: 1e-6 });
    });
  }

  it('an index out of range fails the run naming the op; updates of the wrong shape fail at build time', async () => {
    const g = new tf.Graph();
    const { out, i, v } = g.asDefault(() => {
      const v = new tf.Variable(tf.NDArray.from([1, 2, 3], 'float32', [3]), { name: 'v' });
      const i = tf.placeholder('int32', [1]);
      return { v, i, out: tf.scatterAdd(v, i, [5], { name: 'bump' }) };
    });
    expect(() => g.asDefault(() => tf.scatterAdd(v, [0, 1], [1, 2, 3]))).toThrow(/updates/);
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    await expect(sess.run(out, [[i, tf.NDArray.from([3], 'int32', [1])]])).rejects.toThrow(/not in \[0, 3\)/);
    sess.close();
  });
});

describe('sparse training at scale', () => {
  it('an SGD step on a large embedding touches only the looked-up rows', async () => {
    const vocab = 20000;
    const g = new tf.Graph();
    const { E, ids, train } = g.asDefault(() => {
      const E = new tf.Variable(tf.zeros([vocab, 8]), { name: 'E' });
      const ids = tf.placeholder('int32', [null]);
      const loss = tf.reduceSum(tf.nn.embeddingLookup(E, ids));
      return { E, ids, train: new tf.train.GradientDescentOptimizer(1).minimize(loss) };
    });
    expect(g.getOperations().some((o) => o.type === 'UnsortedSegmentSum')).toBe(false);
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const r = rng(5);
    const picked = Array.from({ length: 16 }, () => Math.floor(r() * vocab));
    await sess.run(train, [[ids, tf.NDArray.from(picked, 'int32', [16])]]);
    const [e] = await sess.run([E]);
    sess.close();
    const data = e!.data as Float32Array;
    const count = new Map<number, number>();
    for (const p of picked) count.set(p, (count.get(p) ?? 0) + 1);
    for (let row = 0; row < vocab; row++) expect(data[row * 8], `row ${row}`).toBe(0 - (count.get(row) ?? 0));
  });
});
