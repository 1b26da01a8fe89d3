// TF1's recurrent API (src/api/rnn.ts): cells against hand-written JS references with the session's
// weights, TF 1.15 variable names and shapes, dynamicRnn vs staticRnn vs a JS unroll (with and
// without sequenceLength), gradients dynamic vs static and against finite differences, training.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import {
  BasicLSTMCell,
  BasicRNNCell,
  dynamicRnn,
  GRUCell,
  LSTMStateTuple,
  MultiRNNCell,
  staticRnn,
  type RNNCell,
  type RNNState,
} from '../src/api/rnn.js';
import type { Variable } from '../src/variables.js';
import { flatten, packSequenceAs } from '../src/api/nest.js';
import { checkGradients } from './gradcheck.js';
import { expectClose, randomArray } from './helpers.js';

type M = number[][];
type T = tf.Tensor;

const names = (vs: { name: string }[]): string[] => vs.map((v) => v.name);
const toM = (a: tf.NDArray): M => {
  const [r, c] = a.shape as [number, number];
  const d = a.data as Float32Array;
  return Array.from({ length: r }, (_, i) => Array.from(d.subarray(i * c, (i + 1) * c)));
};
const flat = (m: M): number[] => m.flat();
const sig = (v: number): number => 1 / (1 + Math.exp(-v));
const mapM = (a: M, f: (v: number, i: number, j: number) => number): M => a.map((r, i) => r.map((v, j) => f(v, i, j)));
const cat = (a: M, b: M): M => a.map((r, i) => [...r, ...b[i]!]);
const cols = (a: M, from: number, to: number): M => a.map((r) => r.slice(from, to));
/** x·W + b with x [B, K], W as a flat [K, N] row-major NDArray, b [N]. */
function affine(x: M, w: tf.NDArray, b: tf.NDArray): M {
  const [k, n] = w.shape as [number, number];
  const wd = w.data as Float32Array;
  const bd = b.data as Float32Array;
  return x.map((row) =>
    Array.from({ length: n }, (_, j) => {
      let s = bd[j]!;
      for (let q = 0; q < k; q++) s += row[q]! * wd[q * n + j]!;
      return s;
    }),
  );
}

/** Fetched variable values by name ('rnn/basic_rnn_cell/kernel'). */
type Vals = Map<string, tf.NDArray>;

/**
 * The JS reference of one step of `cell` (built, so its scopeName is known): state as the list of
 * its leaves in nest order ([c, h] for an LSTM). Returns [output, new leaves].
 */
function refStep(cell: RNNCell, vals: Vals, x: M, leaves: M[]): [M, M[]] {
  const v = (n: string): tf.NDArray => {
    const a = vals.get(`${cell.scopeName}/${n}`);
    if (!a) throw new Error(`no value for ${cell.scopeName}/${n}`);
    return a;
  };
  if (cell instanceof BasicRNNCell) {
    const h = mapM(affine(cat(x, leaves[0]!), v('kernel'), v('bias')), Math.tanh);
    return [h, [h]];
  }
  if (cell instanceof BasicLSTMCell) {
    const [c, h] = leaves as [M, M];
    const n = cell.numUnits;
    const z = affine(cat(x, h), v('kernel'), v('bias'));
    const [i, j, f, o] = [0, 1, 2, 3].map((k) => cols(z, k * n, (k + 1) * n)) as [M, M, M, M];
    const c2 = mapM(c, (cv, r, q) => cv * sig(f[r]![q]! + cell.forgetBias) + sig(i[r]![q]!) * Math.tanh(j[r]![q]!));
    const h2 = mapM(c2, (cv, r, q) => Math.tanh(cv) * sig(o[r]![q]!));
    return [h2, [c2, h2]];
  }
  if (cell instanceof GRUCell) {
    const h = leaves[0]!;
    const n = cell.numUnits;
    const g = mapM(affine(cat(x, h), v('gates/kernel'), v('gates/bias')), sig);
    const r = cols(g, 0, n);
    const u = cols(g, n, 2 * n);
    const c = mapM(affine(cat(x, mapM(h, (hv, a, b) => hv * r[a]![b]!)), v('candidate/kernel'), v('candidate/bias')), Math.tanh);
    const h2 = mapM(h, (hv, a, b) => u[a]![b]! * hv + (1 - u[a]![b]!) * c[a]![b]!);
    return [h2, [h2]];
  }
  if (cell instanceof MultiRNNCell) {
    let inp = x;
    let k = 0;
    const out: M[] = [];
    for (const sub of cell.cells) {
      const m = sub instanceof BasicLSTMCell ? 2 : 1;
      const [o, s] = refStep(sub, vals, inp, leaves.slice(k, k + m));
      k += m;
      inp = o;
      out.push(...s);
    }
    return [inp, out];
  }
  throw new Error('unknown cell');
}

/** The JS unroll of a batch-major [B, T, D] input, with TF's sequence-length zeroing and freezing. */
function refRnn(cell: RNNCell, vals: Vals, x: tf.NDArray, leaves0: M[], seqLen?: number[]): { outputs: M[]; final: M[] } {
  const [B, Tn, D] = x.shape as [number, number, number];
  const xd = x.data as Float32Array;
  let leaves = leaves0;
  const outputs: M[] = [];
  for (let t = 0; t < Tn; t++) {
    const xt: M = Array.from({ length: B }, (_, b) => Array.from(xd.subarray((b * Tn + t) * D, (b * Tn + t + 1) * D)));
    const [o, s] = refStep(cell, vals, xt, leaves);
    const done = (b: number): boolean => seqLen !== undefined && t >= seqLen[b]!;
    outputs.push(o.map((row, b) => (done(b) ? row.map(() => 0) : row)));
    leaves = s.map((m, k) => m.map((row, b) => (done(b) ? leaves[k]![b]! : row)));
  }
  return { outputs, final: leaves };
}

/** Batch-major outputs [B, T, U] from per-step [B, U] matrices, flattened. */
function batchMajor(outs: M[]): number[] {
  const B = outs[0]!.length;
  const r: number[] = [];
  for (let b = 0; b < B; b++) for (const o of outs) r.push(...o[b]!);
  return r;
}

async function initSession(g: tf.Graph): Promise<tf.Session> {
  const sess = new tf.Session({ graph: g });
  await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
  return sess;
}

/** Assigns seeded random values in [-0.8, 0.8) to every trainable variable (so biases matter too). */
async function randomizeVariables(g: tf.Graph, sess: tf.Session, seed: number): Promise<void> {
  const ops = g.asDefault(() =>
    tf.trainableVariables().map((v, k) => tf.assign(v, randomArray(v.shape as number[], { seed: seed + k, min: -0.8, max: 0.8 }))),
  );
  await sess.run(ops);
}

async function fetchVals(g: tf.Graph, sess: tf.Session): Promise<Vals> {
  const vars = g.asDefault(() => tf.trainableVariables()) as Variable[];
  const vs = (await sess.run(vars.map((v) => v.value()))) as tf.NDArray[];
  return new Map(vars.map((v, k) => [v.name.replace(/:0$/, ''), vs[k]!]));
}

const leavesOf = (s: RNNState): T[] => flatten(s) as T[];

type Make = () => RNNCell;
const CELLS: [string, Make][] = [
  ['BasicRNNCell', () => new BasicRNNCell(4)],
  ['BasicLSTMCell', () => new BasicLSTMCell(4)],
  ['GRUCell', () => new GRUCell(4)],
  ['MultiRNNCell(LSTM, GRU)', () => new MultiRNNCell([new BasicLSTMCell(3), new GRUCell(4)])],
];

describe('cells: one step against a JS reference with the same weights', () => {
  for (const [label, make] of CELLS) {
    it(label, async () => {
      const g = new tf.Graph();
      const B = 2;
      const x = randomArray([B, 3], { seed: 5 });
      const { cell, out, state, s0 } = g.asDefault(() => {
        const cell = make();
        const sizes = flatten(cell.stateSize) as number[];
        const s0leaves = sizes.map((n, k) => tf.constant(randomArray([B, n], { seed: 20 + k })));
        const s0 = packSequenceAs<RNNState>(cell.stateSize, s0leaves);
        const [out, state] = cell.call(tf.constant(x), s0);
        return { cell, out, state, s0: s0leaves };
      });
      expect(out.shape).toEqual([B, cell.outputSize]);
      const sess = await initSession(g);
      await randomizeVariables(g, sess, 100);
      const vals = await fetchVals(g, sess);
      const [o, s, i0] = (await sess.run([out, leavesOf(state), s0])) as unknown as [tf.NDArray, tf.NDArray[], tf.NDArray[]];
      const [ro, rs] = refStep(cell, vals, toM(x), i0.map(toM));
      expectClose(o, flat(ro));
      expect(s.length).toBe(rs.length);
      s.forEach((a, k) => expectClose(a, flat(rs[k]!)));
      sess.close();
    });
  }

  it('BasicLSTMCell with stateIsTuple false and a forgetBias', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 3], { seed: 6 });
    const c = randomArray([2, 4], { seed: 7 });
    const h = randomArray([2, 4], { seed: 8 });
    const { cell, out, state } = g.asDefault(() => {
      const cell = new BasicLSTMCell(4, { stateIsTuple: false, forgetBias: 0.3 });
      expect(cell.stateSize).toBe(8);
      const [out, state] = cell.call(tf.constant(x), tf.concat([tf.constant(c), tf.constant(h)], 1));
      return { cell, out, state: state as T };
    });
    const sess = await initSession(g);
    await randomizeVariables(g, sess, 200);
    const vals = await fetchVals(g, sess);
    const [o, s] = (await sess.run([out, state])) as unknown as tf.NDArray[];
    const [ro, [rc, rh]] = refStep(cell, vals, toM(x), [toM(c), toM(h)]);
    expectClose(o!, flat(ro));
    expectClose(s!, flat(cat(rc!, rh!)));
    sess.close();
  });

  it('zeroState has the state structure, and GRU gates/bias starts at 1.0', async () => {
    const g = new tf.Graph();
    const { z, zm, bp, bias } = g.asDefault(() => {
      const z = new BasicLSTMCell(3).zeroState(2, 'float32') as LSTMStateTuple;
      const bp = tf.placeholder('int32', []);
      const zm = new MultiRNNCell([new BasicRNNCell(2), new BasicLSTMCell(3)]).zeroState(bp, 'float32') as RNNState[];
      const gru = new GRUCell(3);
      tf.variableScope('g', () => gru.call(tf.zeros([1, 2]), gru.zeroState(1)));
      return { z, zm, bp, bias: gru.gateBias! };
    });
    expect(z.c.shape).toEqual([2, 3]);
    expect(z.h.shape).toEqual([2, 3]);
    expect(Array.isArray(zm)).toBe(true);
    expect((zm[0] as T).shape).toEqual([null, 2]);
    expect((zm[1] as LSTMStateTuple).c.shape).toEqual([null, 3]);
    const sess = await initSession(g);
    const [b, zc] = (await sess.run([bias.value(), (zm[1] as LSTMStateTuple).c], [[bp, tf.NDArray.from(5, 'int32')]])) as unknown as tf.NDArray[];
    expectClose(b!, [1, 1, 1, 1, 1, 1]);
    expectClose(zc!, new Array(15).fill(0), { shape: [5, 3] });
    sess.close();
  });
});

describe('variable names and shapes (TF 1.15)', () => {
  const cases: [string, Make, [string, number[]][]][] = [
    ['BasicRNNCell', () => new BasicRNNCell(4), [
      ['rnn/basic_rnn_cell/kernel:0', [7, 4]],
      ['rnn/basic_rnn_cell/bias:0', [4]],
    ]],
    ['BasicLSTMCell', () => new BasicLSTMCell(4), [
      ['rnn/basic_lstm_cell/kernel:0', [7, 16]],
      ['rnn/basic_lstm_cell/bias:0', [16]],
    ]],
    ['GRUCell', () => new GRUCell(4), [
      ['rnn/gru_cell/gates/kernel:0', [7, 8]],
      ['rnn/gru_cell/gates/bias:0', [8]],
      ['rnn/gru_cell/candidate/kernel:0', [7, 4]],
      ['rnn/gru_cell/candidate/bias:0', [4]],
    ]],
    ['MultiRNNCell', () => new MultiRNNCell([new BasicLSTMCell(4), new BasicRNNCell(5)]), [
      ['rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel:0', [7, 16]],
      ['rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias:0', [16]],
      ['rnn/multi_rnn_cell/cell_1/basic_rnn_cell/kernel:0', [9, 5]],
      ['rnn/multi_rnn_cell/cell_1/basic_rnn_cell/bias:0', [5]],
    ]],
  ];
  for (const [label, make, expected] of cases) {
    for (const kind of ['dynamicRnn', 'staticRnn'] as const) {
      it(`${label} through ${kind}`, () => {
        const g = new tf.Graph();
        g.asDefault(() => {
          const x = tf.placeholder('float32', [2, 5, 3]);
          const cell = make();
          if (kind === 'dynamicRnn') dynamicRnn(cell, x, { dtype: 'float32' });
          else staticRnn(cell, tf.unstack(x, { axis: 1 }), { dtype: 'float32' });
          const vs = tf.trainableVariables();
          expect(names(vs)).toEqual(expected.map((e) => e[0]));
          expect(vs.map((v) => v.shape)).toEqual(expected.map((e) => e[1]));
        });
      });
    }
  }

  it('a scope option and an enclosing variable scope prefix the names', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 5, 3]);
      tf.variableScope('enc', () => dynamicRnn(new BasicRNNCell(2), x, { dtype: 'float32', scope: 'fw' }));
      expect(names(tf.trainableVariables())).toEqual(['enc/fw/basic_rnn_cell/kernel:0', 'enc/fw/basic_rnn_cell/bias:0']);
    });
  });
});

describe('dynamicRnn vs staticRnn vs a JS unroll', () => {
  const B = 3;
  const Tn = 4;
  const D = 2;
  for (const [label, make] of CELLS) {
    for (const seq of [undefined, [4, 1, 2]]) {
      it(`${label}${seq ? ' with sequenceLength' : ''}`, async () => {
        const g = new tf.Graph();
        const x = randomArray([B, Tn, D], { seed: 9 });
        const built = g.asDefault(() => {
          const cell = make();
          const xc = tf.constant(x);
          const opts = { dtype: 'float32' as const, sequenceLength: seq ? tf.constant(seq, 'int32') : undefined };
          const [dOut, dState] = dynamicRnn(cell, xc, opts);
          const xt = tf.transpose(xc, [1, 0, 2]);
          const [tmOut, tmState] = dynamicRnn(cell, xt, { ...opts, timeMajor: true });
          const [sOuts, sState] = staticRnn(cell, tf.unstack(xc, { axis: 1 }), opts);
          return { cell, dOut, dState: leavesOf(dState), tmOut, tmState: leavesOf(tmState), sOut: tf.stack(sOuts, 1), sState: leavesOf(sState) };
        });
        expect(built.dOut.shape).toEqual([B, Tn, built.cell.outputSize]);
        expect(built.tmOut.shape).toEqual([Tn, B, built.cell.outputSize]);
        const sess = await initSession(g);
        await randomizeVariables(g, sess, 300);
        const vals = await fetchVals(g, sess);
        const [dOut, dState, tmOut, tmState, sOut, sState] = (await sess.run([
          built.dOut,
          built.dState,
          built.tmOut,
          built.tmState,
          built.sOut,
          built.sState,
        ])) as unknown as [tf.NDArray, tf.NDArray[], tf.NDArray, tf.NDArray[], tf.NDArray, tf.NDArray[]];
        const sizes = flatten(built.cell.stateSize) as number[];
        const ref = refRnn(built.cell, vals, x, sizes.map((n) => Array.from({ length: B }, () => new Array(n).fill(0))), seq);
        const refOut = batchMajor(ref.outputs);
        expectClose(dOut, refOut);
        expectClose(sOut, refOut);
        const tmRef: number[] = ref.outputs.flatMap((o) => flat(o));
        expectClose(tmOut, tmRef);
        for (const st of [dState, tmState, sState]) {
          expect(st.length).toBe(ref.final.length);
          st.forEach((a, k) => expectClose(a, flat(ref.final[k]!)));
        }
        if (seq) {
          // Past each length: zero outputs; the final state equals the state at the last valid step.
          const U = built.cell.outputSize;
          const d = dOut.data as Float32Array;
          for (let b = 0; b < B; b++) for (let t = seq[b]!; t < Tn; t++) for (let u = 0; u < U; u++) expect(d[(b * Tn + t) * U + u]).toBe(0);
          const lastH = flat(ref.outputs[0]!.map((_, b) => ref.outputs[seq[b]! - 1]![b]!));
          const hLeaf = dState[dState.length - 1]!;
          expectClose(hLeaf, lastH);
        }
        sess.close();
      });
    }
  }

  it('an initialState and an unknown batch size (fed)', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 3, 2], { seed: 11 });
    const c0 = randomArray([2, 3], { seed: 12 });
    const h0 = randomArray([2, 3], { seed: 13 });
    const built = g.asDefault(() => {
      const xp = tf.placeholder('float32', [null, null, 2]);
      const cp = tf.placeholder('float32', [null, 3]);
      const hp = tf.placeholder('float32', [null, 3]);
      const cell = new BasicLSTMCell(3);
      const sp = tf.placeholder('int32', [null]);
      const [out, st] = dynamicRnn(cell, xp, { initialState: LSTMStateTuple(cp, hp), sequenceLength: sp });
      return { cell, xp, cp, hp, sp, out, st: st as LSTMStateTuple };
    });
    expect(built.out.shape).toEqual([null, null, 3]);
    const sess = await initSession(g);
    await randomizeVariables(g, sess, 400);
    const vals = await fetchVals(g, sess);
    const feeds: [T, tf.NDArray][] = [
      [built.xp, x],
      [built.cp, c0],
      [built.hp, h0],
      [built.sp, new tf.NDArray(Int32Array.from([3, 2]), [2])],
    ];
    const [out, c, h] = (await sess.run([built.out, built.st.c, built.st.h], feeds)) as unknown as tf.NDArray[];
    const ref = refRnn(built.cell, vals, x, [toM(c0), toM(h0)], [3, 2]);
    expectClose(out!, batchMajor(ref.outputs));
    expectClose(c!, flat(ref.final[0]!));
    expectClose(h!, flat(ref.final[1]!));
    sess.close();
  });

  it('errors: no dtype and no initialState; a wrong-rank input', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => dynamicRnn(new BasicRNNCell(2), tf.zeros([2, 3, 1]))).toThrow(/dtype/);
      expect(() => dynamicRnn(new BasicRNNCell(2), tf.zeros([2, 3]), { dtype: 'float32' })).toThrow(/rank 3/);
    });
  });
});

describe('gradients and training', () => {
  for (const [label, make] of CELLS) {
    it(`${label}: tf.gradients through dynamicRnn equal those through staticRnn`, async () => {
      const g = new tf.Graph();
      const x = randomArray([3, 4, 2], { seed: 21 });
      const built = g.asDefault(() => {
        const cell = make();
        const xp = tf.placeholder('float32', [3, 4, 2]);
        const seq = tf.constant([4, 2, 3], 'int32');
        const [dOut, dState] = dynamicRnn(cell, xp, { dtype: 'float32', sequenceLength: seq });
        const [sOuts, sState] = staticRnn(cell, tf.unstack(xp, { axis: 1 }), { dtype: 'float32', sequenceLength: seq });
        const w = tf.constant(randomArray([3, 4, cell.outputSize], { seed: 22 }));
        const loss = (out: T, st: RNNState): T =>
          tf.add(tf.reduceSum(tf.multiply(out, w)), tf.addN(leavesOf(st).map((l) => tf.reduceSum(tf.square(l)))));
        const ld = loss(dOut, dState);
        const ls = loss(tf.stack(sOuts, 1), sState);
        const wrt = [xp, ...tf.trainableVariables()] as (T | Variable)[];
        const gd = tf.gradients(ld, wrt as T[]);
        const gs = tf.gradients(ls, wrt as T[]);
        return { xp, ld, ls, gd, gs };
      });
      expect(built.gd.every((t) => t !== null)).toBe(true);
      const sess = await initSession(g);
      await randomizeVariables(g, sess, 500);
      const [ld, ls, gd, gs] = (await sess.run([built.ld, built.ls, built.gd as T[], built.gs as T[]], [[built.xp, x]])) as unknown as [
        tf.NDArray,
        tf.NDArray,
        tf.NDArray[],
        tf.NDArray[],
      ];
      expectClose(ld, ls);
      gd.forEach((a, k) => expectClose(a, gs[k]!, { atol: 1e-5, rtol: 1e-4 }));
      sess.close();
    });
  }

  it('finite differences through dynamicRnn with a BasicLSTMCell (weights, state, inputs; sequenceLength)', async () => {
    /** A BasicLSTMCell whose kernel and bias are given tensors (placeholders the check perturbs). */
    class FedLSTM extends BasicLSTMCell {
      constructor(
        private readonly w: T,
        private readonly b: T,
      ) {
        super(3);
      }
      protected override build(): void {
        this.kernel = this.w as unknown as Variable;
        this.bias = this.b as unknown as Variable;
      }
    }
    await checkGradients({
      ops: [],
      name: 'dynamicRnn(BasicLSTMCell)',
      inputs: [
        randomArray([2, 3, 2], { seed: 31 }),
        randomArray([2, 3], { seed: 32 }),
        randomArray([2, 3], { seed: 33 }),
        randomArray([5, 12], { seed: 34, min: -0.7, max: 0.7 }),
        randomArray([12], { seed: 35 }),
      ],
      build: (x, c, h, w, b) => {
        const [out, st] = dynamicRnn(new FedLSTM(w!, b!), x!, {
          initialState: LSTMStateTuple(c!, h!),
          sequenceLength: tf.constant([3, 2], 'int32'),
        });
        const s = st as LSTMStateTuple;
        return [out, s.c, s.h];
      },
    });
  });

  it('a few SGD steps through dynamicRnn lower the loss', async () => {
    const g = new tf.Graph();
    const x = randomArray([4, 5, 3], { seed: 41 });
    // A target the network can reach: 0.5 + a quarter of each step's first input feature.
    const xd = x.data as Float32Array;
    const y = new tf.NDArray(Float32Array.from({ length: 20 }, (_, i) => 0.5 + 0.25 * xd[i * 3]!), [4, 5, 1]);
    const built = g.asDefault(() => {
      tf.setRandomSeed(7);
      const cell = new MultiRNNCell([new BasicLSTMCell(6), new GRUCell(4)]);
      const [out] = dynamicRnn(cell, tf.constant(x), { dtype: 'float32', sequenceLength: tf.constant([5, 5, 5, 5]) });
      const pred = tf.layers.dense(out, 1);
      const loss = tf.reduceMean(tf.square(tf.subtract(pred, tf.constant(y))));
      const train = new tf.train.GradientDescentOptimizer(0.5).minimize(loss);
      return { loss, train };
    });
    const sess = await initSession(g);
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const [l] = (await sess.run([built.loss, built.train])) as [tf.NDArray, unknown];
      losses.push(Number(l.data[0]));
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    for (let i = 1; i < losses.length; i++) expect(losses[i]!, `step ${i}`).toBeLessThan(losses[i - 1]!);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.5);
    sess.close();
  });
});
