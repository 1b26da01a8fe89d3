// TF1's recurrent API (src/api/rnn.ts): cells against hand-written JS references with the session's
// weights, TF 1.15 variable names and shapes, dynamicRnn vs staticRnn vs a JS unroll (with and
// without sequenceLength), gradients dynamic vs static and against finite differences, training;
// LSTMCell (peepholes, clipping, projection), the wrappers and bidirectionalDynamicRnn against
// equations written out here and against dynamicRnn on sequences reversed in JS.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import {
  BasicLSTMCell,
  BasicRNNCell,
  bidirectionalDynamicRnn,
  DropoutWrapper,
  dynamicRnn,
  GRUCell,
  LSTMCell,
  LSTMStateTuple,
  MultiRNNCell,
  OutputProjectionWrapper,
  ResidualWrapper,
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
  if (cell instanceof LSTMCell) {
    // TF 1.15 LSTMCell.call, written out: peepholes on f and i from c, on o from the new c.
    const [c, m] = leaves as [M, M];
    const n = cell.numUnits;
    const z = affine(cat(x, m), v('kernel'), v('bias'));
    const [i, j, f, o] = [0, 1, 2, 3].map((k) => cols(z, k * n, (k + 1) * n)) as [M, M, M, M];
    const diag = (name: string): Float32Array => (cell.usePeepholes ? (v(name).data as Float32Array) : new Float32Array(n));
    const [wf, wi, wo] = [diag('w_f_diag'), diag('w_i_diag'), diag('w_o_diag')];
    const clip = (val: number, lim: number | undefined): number => (lim === undefined ? val : Math.min(lim, Math.max(-lim, val)));
    const c2 = mapM(c, (cv, r, q) =>
      clip(sig(f[r]![q]! + cell.forgetBias + wf[q]! * cv) * cv + sig(i[r]![q]! + wi[q]! * cv) * Math.tanh(j[r]![q]!), cell.cellClip),
    );
    let m2 = mapM(c2, (cv, r, q) => sig(o[r]![q]! + wo[q]! * cv) * Math.tanh(cv));
    if (cell.numProj !== undefined) {
      const p = v('projection/kernel');
      m2 = mapM(affine(m2, p, new tf.NDArray(new Float32Array(cell.numProj), [cell.numProj])), (mv) => clip(mv, cell.projClip));
    }
    return [m2, [c2, m2]];
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
      const m = sub instanceof BasicLSTMCell || sub instanceof LSTMCell ? 2 : 1;
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
  ['LSTMCell', () => new LSTMCell(4)],
  ['LSTMCell(peepholes, cellClip, numProj, projClip, forgetBias)', () => new LSTMCell(4, { usePeepholes: true, cellClip: 0.3, numProj: 3, projClip: 0.2, forgetBias: 0.5 })],
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

describe('LSTMCell (TF 1.15 names, stateIsTuple false, gradients)', () => {
  it('variable names and shapes through dynamicRnn: kernel, bias, peepholes, projection', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 5, 3]);
      const cell = new LSTMCell(4, { usePeepholes: true, numProj: 2 });
      const [out, st] = dynamicRnn(cell, x, { dtype: 'float32' });
      expect(out.shape).toEqual([2, 5, 2]);
      expect(cell.stateSize).toEqual({ c: 4, h: 2 });
      expect((st as LSTMStateTuple).c.shape).toEqual([2, 4]);
      expect((st as LSTMStateTuple).h.shape).toEqual([2, 2]);
      const vs = tf.trainableVariables();
      expect(names(vs)).toEqual([
        'rnn/lstm_cell/kernel:0',
        'rnn/lstm_cell/bias:0',
        'rnn/lstm_cell/w_f_diag:0',
        'rnn/lstm_cell/w_i_diag:0',
        'rnn/lstm_cell/w_o_diag:0',
        'rnn/lstm_cell/projection/kernel:0',
      ]);
      expect(vs.map((v) => v.shape)).toEqual([[5, 16], [16], [4], [4], [4], [4, 2]]);
    });
  });

  it('stateIsTuple false with a projection: the state is [c, m] concatenated, m of size numProj', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 3], { seed: 61 });
    const c = randomArray([2, 4], { seed: 62 });
    const m = randomArray([2, 2], { seed: 63 });
    const { cell, out, state } = g.asDefault(() => {
      const cell = new LSTMCell(4, { stateIsTuple: false, numProj: 2, usePeepholes: true, cellClip: 0.4 });
      expect(cell.stateSize).toBe(6);
      const [out, state] = cell.call(tf.constant(x), tf.concat([tf.constant(c), tf.constant(m)], 1));
      return { cell, out, state: state as T };
    });
    expect(state.shape).toEqual([2, 6]);
    const sess = await initSession(g);
    await randomizeVariables(g, sess, 600);
    const vals = await fetchVals(g, sess);
    const [o, s] = (await sess.run([out, state])) as unknown as tf.NDArray[];
    const [ro, [rc, rm]] = refStep(cell, vals, toM(x), [toM(c), toM(m)]);
    expectClose(o!, flat(ro));
    expectClose(s!, flat(cat(rc!, rm!)));
    sess.close();
  });

  it('an initializer option reaches the kernel, the peepholes and the projection; the bias is zeros', async () => {
    const g = new tf.Graph();
    const cell = new LSTMCell(2, { usePeepholes: true, numProj: 1, initializer: tf.constantInitializer(0.25) });
    g.asDefault(() => cell.call(tf.zeros([1, 3]), cell.zeroState(1)));
    const sess = await initSession(g);
    const vals = await fetchVals(g, sess);
    for (const [k, a] of vals) expect(Array.from(a.data as Float32Array).every((e) => e === (k.endsWith('/bias') ? 0 : 0.25)), k).toBe(true);
    sess.close();
  });

  it('finite differences through dynamicRnn with LSTMCell(peepholes, numProj, cellClip, projClip)', async () => {
    /** An LSTMCell whose weights are given tensors (placeholders the check perturbs). */
    class FedLSTMCell extends LSTMCell {
      constructor(private readonly ws: T[]) {
        super(3, { usePeepholes: true, numProj: 2, cellClip: 0.6, projClip: 0.5, forgetBias: 0.7 });
      }
      protected override build(): void {
        const [k, b, wf, wi, wo, p] = this.ws as unknown as Variable[];
        Object.assign(this, { kernel: k, bias: b, wFDiag: wf, wIDiag: wi, wODiag: wo, projKernel: p });
      }
    }
    await checkGradients({
      ops: [],
      name: 'dynamicRnn(LSTMCell peepholes + projection)',
      inputs: [
        randomArray([2, 3, 2], { seed: 71 }),
        randomArray([2, 3], { seed: 72 }),
        randomArray([2, 2], { seed: 73 }),
        randomArray([4, 12], { seed: 74, min: -0.7, max: 0.7 }),
        randomArray([12], { seed: 75 }),
        randomArray([3], { seed: 76 }),
        randomArray([3], { seed: 77 }),
        randomArray([3], { seed: 78 }),
        randomArray([3, 2], { seed: 79 }),
      ],
      build: (x, c, m, ...ws) => {
        const [out, st] = dynamicRnn(new FedLSTMCell(ws as T[]), x!, {
          initialState: LSTMStateTuple(c!, m!),
          sequenceLength: tf.constant([3, 2], 'int32'),
        });
        const s = st as LSTMStateTuple;
        return [out, s.c, s.h];
      },
    });
  });
});

describe('invariants: last output and final state', () => {
  const B = 3;
  const Tn = 5;
  const makers: [string, Make][] = [
    ['BasicRNNCell', () => new BasicRNNCell(3)],
    ['GRUCell', () => new GRUCell(3)],
    ['BasicLSTMCell', () => new BasicLSTMCell(3)],
    ['LSTMCell(peepholes, numProj)', () => new LSTMCell(4, { usePeepholes: true, numProj: 3 })],
  ];
  for (const [label, make] of makers) {
    it(`${label}: the final output leaf equals the last output, and with sequenceLength the output at each last valid step`, async () => {
      const g = new tf.Graph();
      const x = randomArray([B, Tn, 2], { seed: 81 });
      const seq = [5, 2, 3];
      const built = g.asDefault(() => {
        const cell = make();
        const [o1, s1] = dynamicRnn(cell, tf.constant(x), { dtype: 'float32' });
        const [o2, s2] = dynamicRnn(cell, tf.constant(x), { dtype: 'float32', sequenceLength: tf.constant(seq, 'int32') });
        const last = (s: RNNState): T => leavesOf(s)[leavesOf(s).length - 1]!;
        return { o1, h1: last(s1), o2, h2: last(s2) };
      });
      const sess = await initSession(g);
      await randomizeVariables(g, sess, 700);
      const [o1, h1, o2, h2] = (await sess.run([built.o1, built.h1, built.o2, built.h2])) as unknown as tf.NDArray[];
      const U = o1!.shape[2]!;
      const at = (o: tf.NDArray, b: number, t: number): number[] => Array.from((o.data as Float32Array).subarray((b * Tn + t) * U, (b * Tn + t + 1) * U));
      expectClose(h1!, Array.from({ length: B }, (_, b) => at(o1!, b, Tn - 1)).flat(), { atol: 0 });
      expectClose(h2!, Array.from({ length: B }, (_, b) => at(o2!, b, seq[b]! - 1)).flat(), { atol: 0 });
      sess.close();
    });
  }
});

describe('wrappers', () => {
  it('DropoutWrapper: transparent names; keep probabilities fed as 1 give the plain cell; output and state dropout', async () => {
    const g = new tf.Graph();
    const B = 4;
    const x = randomArray([B, 3], { seed: 91 });
    const c0 = randomArray([B, 5], { seed: 92 });
    const h0 = randomArray([B, 5], { seed: 93 });
    const built = g.asDefault(() => {
      const keepIn = tf.placeholderWithDefault(tf.constant(1, 'float32'), []);
      const keepOut = tf.placeholderWithDefault(tf.constant(1, 'float32'), []);
      const keepState = tf.placeholderWithDefault(tf.constant(1, 'float32'), []);
      const inner = new BasicLSTMCell(5);
      const cell = new DropoutWrapper(inner, { inputKeepProb: keepIn, outputKeepProb: keepOut, stateKeepProb: keepState, seed: 3 });
      const s0 = LSTMStateTuple(tf.constant(c0), tf.constant(h0));
      const [out, st] = tf.variableScope('rnn', () => cell.call(tf.constant(x), s0));
      expect(names(tf.trainableVariables())).toEqual(['rnn/basic_lstm_cell/kernel:0', 'rnn/basic_lstm_cell/bias:0']);
      // The same (built) cell again, with constant keep probabilities.
      const half = new DropoutWrapper(inner, { outputKeepProb: 0.5, stateKeepProb: 0.25, seed: 4 });
      const [outH, stH] = half.call(tf.constant(x), s0);
      // Keep probabilities of 1 (the defaults) add no dropout ops.
      const randomOps = (): number => g.getOperations().filter((op) => op.type === 'RandomUniform').length;
      const before = randomOps();
      new DropoutWrapper(inner).call(tf.constant(x), s0);
      expect(randomOps()).toBe(before);
      return { inner, keepIn, keepOut, keepState, out, st: st as LSTMStateTuple, outH, stH: stH as LSTMStateTuple };
    });
    expect(() => new DropoutWrapper(new BasicRNNCell(2), { outputKeepProb: 1.5 })).toThrow(/between 0 and 1/);
    const sess = await initSession(g);
    await randomizeVariables(g, sess, 800);
    const vals = await fetchVals(g, sess);
    const [ro, [rc, rh]] = refStep(built.inner, vals, toM(x), [toM(c0), toM(h0)]);
    const [o, c, h] = (await sess.run([built.out, built.st.c, built.st.h])) as unknown as tf.NDArray[];
    expectClose(o!, flat(ro));
    expectClose(c!, flat(rc!));
    expectClose(h!, flat(rh!));
    // Output keep 0.5: each element 0 or 2x; state keep 0.25: c untouched, each h element 0 or 4x.
    const [oh, ch, hh] = (await sess.run([built.outH, built.stH.c, built.stH.h])) as unknown as tf.NDArray[];
    expectClose(ch!, flat(rc!));
    const check = (a: tf.NDArray, ref: number[], scale: number): number => {
      let zeros = 0;
      (a.data as Float32Array).forEach((v, k) => {
        if (v === 0) zeros++;
        else expect(Math.abs(v - ref[k]! * scale)).toBeLessThan(1e-5);
      });
      return zeros;
    };
    const zo = check(oh!, flat(ro), 2);
    const zh = check(hh!, flat(rh!), 4);
    expect(zo).toBeGreaterThan(0);
    expect(zo).toBeLessThan(20);
    expect(zh).toBeGreaterThan(5);
    // Fed keep probabilities below 1 switch dropout on (training): some input/output elements differ.
    const [od] = (await sess.run([built.out], [[built.keepOut, tf.NDArray.from(0.5, 'float32')]])) as unknown as tf.NDArray[];
    expect(check(od!, flat(ro), 2)).toBeGreaterThan(0);
    const [oi] = (await sess.run([built.out], [[built.keepIn, tf.NDArray.from(0.3, 'float32')]])) as unknown as tf.NDArray[];
    expect(Array.from(oi!.data as Float32Array).some((v, k) => Math.abs(v - flat(ro)[k]!) > 1e-4)).toBe(true);
    sess.close();
  });

  it('DropoutWrapper inside dynamicRnn with a fed keep probability (training vs eval)', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 4, 3], { seed: 94 });
    const built = g.asDefault(() => {
      const keep = tf.placeholderWithDefault(tf.constant(1, 'float32'), []);
      const inner = new MultiRNNCell([new BasicLSTMCell(4), new BasicLSTMCell(4)]);
      const cell = new MultiRNNCell([new DropoutWrapper(new BasicLSTMCell(4), { outputKeepProb: keep }), new DropoutWrapper(new BasicLSTMCell(4), { outputKeepProb: keep })]);
      const [out] = dynamicRnn(cell, tf.constant(x), { dtype: 'float32' });
      const [ref] = dynamicRnn(inner, tf.constant(x), { dtype: 'float32', scope: 'ref' });
      return { keep, out, ref, cell, inner };
    });
    expect(names(g.asDefault(() => tf.trainableVariables())).slice(0, 4)).toEqual([
      'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel:0',
      'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias:0',
      'rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel:0',
      'rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias:0',
    ]);
    const sess = await initSession(g);
    await randomizeVariables(g, sess, 900);
    // Copy the wrapped cells' weights into the reference cells: in eval mode the outputs agree.
    const vals = await fetchVals(g, sess);
    await sess.run(
      g.asDefault(() =>
        tf.trainableVariables().filter((v) => v.name.startsWith('ref/')).map((v) => tf.assign(v, vals.get(v.name.replace(/^ref\//, 'rnn/').replace(/:0$/, ''))!)),
      ),
    );
    const [o, r] = (await sess.run([built.out, built.ref])) as unknown as tf.NDArray[];
    expectClose(o!, r!);
    const [od] = (await sess.run([built.out], [[built.keep, tf.NDArray.from(0.5, 'float32')]])) as unknown as tf.NDArray[];
    expect(Array.from(od!.data as Float32Array).some((v, k) => Math.abs(v - (r!.data as Float32Array)[k]!) > 1e-4)).toBe(true);
    sess.close();
  });

  it('OutputProjectionWrapper: TF names (the cell nested in output_projection_wrapper/) and out = cell(x)·W + b', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 3], { seed: 95 });
    const h0 = randomArray([2, 4], { seed: 96 });
    const built = g.asDefault(() => {
      const inner = new BasicRNNCell(4);
      const cell = new OutputProjectionWrapper(inner, 2);
      expect(cell.outputSize).toBe(2);
      expect(cell.stateSize).toBe(4);
      const [out, st] = tf.variableScope('rnn', () => cell.call(tf.constant(x), tf.constant(h0)));
      const xs = tf.placeholder('float32', [2, 6, 3]);
      const [seqOut] = dynamicRnn(cell, xs, { dtype: 'float32' });
      return { inner, cell, out, st: st as T, seqOut };
    });
    expect(built.seqOut.shape).toEqual([2, 6, 2]);
    const vs = g.asDefault(() => tf.trainableVariables());
    expect(names(vs)).toEqual([
      'rnn/output_projection_wrapper/basic_rnn_cell/kernel:0',
      'rnn/output_projection_wrapper/basic_rnn_cell/bias:0',
      'rnn/output_projection_wrapper/kernel:0',
      'rnn/output_projection_wrapper/bias:0',
    ]);
    expect(vs.map((v) => v.shape)).toEqual([[7, 4], [4], [4, 2], [2]]);
    const sess = await initSession(g);
    await randomizeVariables(g, sess, 1000);
    const vals = await fetchVals(g, sess);
    const [ro, [rh]] = refStep(built.inner, vals, toM(x), [toM(h0)]);
    const proj = affine(ro, vals.get('rnn/output_projection_wrapper/kernel')!, vals.get('rnn/output_projection_wrapper/bias')!);
    const [o, s] = (await sess.run([built.out, built.st])) as unknown as tf.NDArray[];
    expectClose(o!, flat(proj));
    expectClose(s!, flat(rh!));
    sess.close();
  });

  it('ResidualWrapper: out = x + cell(x), the state the cell’s; a depth mismatch throws', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 4], { seed: 97 });
    const c0 = randomArray([2, 4], { seed: 98 });
    const h0 = randomArray([2, 4], { seed: 99 });
    const built = g.asDefault(() => {
      const inner = new BasicLSTMCell(4);
      const cell = new ResidualWrapper(inner);
      const [out, st] = tf.variableScope('rnn', () => cell.call(tf.constant(x), LSTMStateTuple(tf.constant(c0), tf.constant(h0))));
      expect(names(tf.trainableVariables())).toEqual(['rnn/basic_lstm_cell/kernel:0', 'rnn/basic_lstm_cell/bias:0']);
      expect(() => new ResidualWrapper(new BasicRNNCell(3)).call(tf.zeros([2, 4]), tf.zeros([2, 3]))).toThrow(/same size/);
      return { inner, out, st: st as LSTMStateTuple };
    });
    const sess = await initSession(g);
    await randomizeVariables(g, sess, 1100);
    const vals = await fetchVals(g, sess);
    const [ro, [rc, rh]] = refStep(built.inner, vals, toM(x), [toM(c0), toM(h0)]);
    const [o, c, h] = (await sess.run([built.out, built.st.c, built.st.h])) as unknown as tf.NDArray[];
    expectClose(o!, flat(mapM(ro, (v, r, q) => v + toM(x)[r]![q]!)));
    expectClose(c!, flat(rc!));
    expectClose(h!, flat(rh!));
    sess.close();
  });
});

describe('bidirectionalDynamicRnn', () => {
  const B = 3;
  const Tn = 5;
  const D = 2;
  /** Each batch row's first len[b] steps reversed (tf.reverse_sequence), batch-major [B, T, D]. */
  function reverseJs(a: tf.NDArray, lens: number[]): tf.NDArray {
    const [b, t, d] = a.shape as [number, number, number];
    const src = a.data as Float32Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < b; i++) {
      for (let s = 0; s < t; s++) {
        const from = s < lens[i]! ? lens[i]! - 1 - s : s;
        out.set(src.subarray((i * t + from) * d, (i * t + from + 1) * d), (i * t + s) * d);
      }
    }
    return new tf.NDArray(out, [b, t, d]);
  }

  for (const seq of [[5, 2, 3], undefined]) {
    for (const timeMajor of [false, true]) {
      it(`equals two dynamicRnn calls, the backward one on sequences reversed in JS${seq ? ' (sequenceLength)' : ''}${timeMajor ? ', time-major' : ''}`, async () => {
        const g = new tf.Graph();
        const x = randomArray([B, Tn, D], { seed: 111 });
        const lens = seq ?? [Tn, Tn, Tn];
        const xr = reverseJs(x, lens);
        const built = g.asDefault(() => {
          const fw = new LSTMCell(3, { usePeepholes: true });
          const bw = new GRUCell(4);
          const sl = seq ? tf.constant(seq, 'int32') : undefined;
          const xin = timeMajor ? tf.transpose(tf.constant(x), [1, 0, 2]) : tf.constant(x);
          const [[oFw, oBw], [sFw, sBw]] = bidirectionalDynamicRnn(fw, bw, xin, { dtype: 'float32', sequenceLength: sl, timeMajor });
          expect(oFw.shape).toEqual(timeMajor ? [Tn, B, 3] : [B, Tn, 3]);
          expect(oBw.shape).toEqual(timeMajor ? [Tn, B, 4] : [B, Tn, 4]);
          const bm = (t: T): T => (timeMajor ? tf.transpose(t, [1, 0, 2]) : t);
          const [rFw, rsFw] = dynamicRnn(fw, tf.constant(x), { dtype: 'float32', sequenceLength: sl, scope: 'check_fw' });
          const [rBw, rsBw] = dynamicRnn(bw, tf.constant(xr), { dtype: 'float32', sequenceLength: sl, scope: 'check_bw' });
          return { oFw: bm(oFw), oBw: bm(oBw), sFw: leavesOf(sFw), sBw: leavesOf(sBw), rFw, rBw, rsFw: leavesOf(rsFw), rsBw: leavesOf(rsBw) };
        });
        const vs = g.asDefault(() => tf.trainableVariables());
        expect(names(vs)).toEqual([
          'bidirectional_rnn/fw/lstm_cell/kernel:0',
          'bidirectional_rnn/fw/lstm_cell/bias:0',
          'bidirectional_rnn/fw/lstm_cell/w_f_diag:0',
          'bidirectional_rnn/fw/lstm_cell/w_i_diag:0',
          'bidirectional_rnn/fw/lstm_cell/w_o_diag:0',
          'bidirectional_rnn/bw/gru_cell/gates/kernel:0',
          'bidirectional_rnn/bw/gru_cell/gates/bias:0',
          'bidirectional_rnn/bw/gru_cell/candidate/kernel:0',
          'bidirectional_rnn/bw/gru_cell/candidate/bias:0',
        ]);
        const sess = await initSession(g);
        await randomizeVariables(g, sess, 1200);
        const r = (await sess.run([built.oFw, built.oBw, built.rFw, built.rBw, built.sFw, built.sBw, built.rsFw, built.rsBw] as never)) as unknown as [
          tf.NDArray,
          tf.NDArray,
          tf.NDArray,
          tf.NDArray,
          tf.NDArray[],
          tf.NDArray[],
          tf.NDArray[],
          tf.NDArray[],
        ];
        const [oFw, oBw, rFw, rBw, sFw, sBw, rsFw, rsBw] = r;
        expectClose(oFw, rFw);
        // The backward outputs, reversed back: zeros past each length stay in place.
        expectClose(oBw, reverseJs(rBw, lens));
        sFw.forEach((a, k) => expectClose(a, rsFw[k]!));
        sBw.forEach((a, k) => expectClose(a, rsBw[k]!));
        // The backward final state is its output at the sequence's first step.
        const U = 4;
        const first = Array.from({ length: B }, (_, b) => Array.from((oBw.data as Float32Array).subarray(b * Tn * U, b * Tn * U + U))).flat();
        expectClose(sBw[0]!, first);
        sess.close();
      });
    }
  }

  it('finite differences through bidirectionalDynamicRnn (inputs and weights, sequenceLength)', async () => {
    class FedRNN extends BasicRNNCell {
      constructor(
        private readonly w: T,
        private readonly b: T,
      ) {
        super(2);
      }
      protected override build(): void {
        this.kernel = this.w as unknown as Variable;
        this.bias = this.b as unknown as Variable;
      }
    }
    await checkGradients({
      ops: [],
      name: 'bidirectionalDynamicRnn(BasicRNNCell, BasicRNNCell)',
      inputs: [
        randomArray([2, 4, 3], { seed: 121 }),
        randomArray([5, 2], { seed: 122 }),
        randomArray([2], { seed: 123 }),
        randomArray([5, 2], { seed: 124 }),
        randomArray([2], { seed: 125 }),
      ],
      build: (x, w1, b1, w2, b2) => {
        const [[o1, o2], [s1, s2]] = bidirectionalDynamicRnn(new FedRNN(w1!, b1!), new FedRNN(w2!, b2!), x!, {
          dtype: 'float32',
          sequenceLength: tf.constant([4, 3], 'int32'),
        });
        return [o1, o2, s1 as T, s2 as T];
      },
    });
  });
});
