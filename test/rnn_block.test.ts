// The fused recurrent cells (ops/rnn.ts, runtime/*/kernels/rnn.ts, src/api/rnn.ts): LSTMBlockCell
// and GRUBlockCell ops against their equations written out here (every output), their gradients
// against finite differences (one step and through dynamicRnn), the cells against BasicLSTMCell and
// GRUCell with the same weights (outputs and gradients), TF's variable names, a GraphDef round trip
// and ONNX export run in onnxruntime-node. Run with WEIR_BACKEND=webgpu, the same checks test the
// WebGPU kernels (inputs come through placeholders).
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import {
  BasicLSTMCell,
  DropoutWrapper,
  dynamicRnn,
  GRUBlockCell,
  GRUBlockCellV2,
  GRUCell,
  gruBlockCell,
  LSTMBlockCell,
  lstmBlockCell,
  LSTMStateTuple,
  MultiRNNCell,
  OutputProjectionWrapper,
  ResidualWrapper,
  RNNCell,
  staticRnn,
  type RNNState,
} from '../src/api/rnn.js';
import { checkGradients } from './gradcheck.js';
import { rnnCases } from './gradcases/rnn.js';
import { expectClose, randomArray } from './helpers.js';
import { compareWithOrt, uniform } from './onnx_helpers.js';

const sig = (v: number): number => 1 / (1 + Math.exp(-v));
const names = (vs: { name: string }[]): string[] => vs.map((v) => v.name);
const f32 = (a: tf.NDArray): Float32Array => a.data as Float32Array;

/** [x, h]·W + b for row r: x [B, in], h [B, n], W [in+n, cols] (row-major), column j. */
function xhW(x: Float32Array, h: Float32Array, w: Float32Array, b: Float32Array, input: number, n: number, cols: number, r: number, j: number): number {
  let s = b[j]!;
  for (let q = 0; q < input; q++) s += x[r * input + q]! * w[q * cols + j]!;
  for (let q = 0; q < n; q++) s += h[r * n + q]! * w[(input + q) * cols + j]!;
  return s;
}

interface LstmAttrs {
  forgetBias: number;
  cellClip: number;
  usePeephole: boolean;
}

/** TF's documented LSTMBlockCell equations, element by element: the outputs i, cs, f, o, ci, co, h. */
function lstmRef(v: tf.NDArray[], a: LstmAttrs): Float64Array[] {
  const [x, csPrev, hPrev, w, wci, wcf, wco, b] = v.map(f32) as Float32Array[];
  const [batch, input] = v[0]!.shape as [number, number];
  const n = v[1]!.shape[1]!;
  const outs = Array.from({ length: 7 }, () => new Float64Array(batch * n));
  const [I, CS, F, O, CI, CO, H] = outs as Float64Array[];
  for (let r = 0; r < batch; r++) {
    for (let j = 0; j < n; j++) {
      const e = r * n + j;
      const pre = (g: number): number => xhW(x!, hPrev!, w!, b!, input, n, 4 * n, r, g * n + j);
      const c0 = csPrev![e]!;
      const peep = (wd: Float32Array, c: number): number => (a.usePeephole ? wd[j]! * c : 0);
      const i = sig(pre(0) + peep(wci!, c0));
      const f = sig(pre(2) + a.forgetBias + peep(wcf!, c0));
      const ci = Math.tanh(pre(1));
      let cs = ci * i + c0 * f;
      if (a.cellClip > 0) cs = Math.min(a.cellClip, Math.max(-a.cellClip, cs));
      const o = sig(pre(3) + peep(wco!, cs));
      const co = Math.tanh(cs);
      [I![e], CS![e], F![e], O![e], CI![e], CO![e], H![e]] = [i, cs, f, o, ci, co, co * o];
    }
  }
  return outs;
}

/** TF's documented GRUBlockCell equations: the outputs r, u, c, h. */
function gruRef(v: tf.NDArray[]): Float64Array[] {
  const [x, hPrev, wRu, wC, bRu, bC] = v.map(f32) as Float32Array[];
  const [batch, input] = v[0]!.shape as [number, number];
  const n = v[1]!.shape[1]!;
  const [R, U, C, H] = Array.from({ length: 4 }, () => new Float64Array(batch * n));
  const hr = new Float32Array(batch * n);
  for (let e = 0; e < batch * n; e++) {
    const [r, j] = [Math.floor(e / n), e % n];
    R![e] = sig(xhW(x!, hPrev!, wRu!, bRu!, input, n, 2 * n, r, j));
    U![e] = sig(xhW(x!, hPrev!, wRu!, bRu!, input, n, 2 * n, r, n + j));
    hr[e] = hPrev![e]! * R![e]!;
  }
  for (let e = 0; e < batch * n; e++) {
    const [r, j] = [Math.floor(e / n), e % n];
    C![e] = Math.tanh(xhW(x!, hr, wC!, bC!, input, n, n, r, j));
    H![e] = (1 - U![e]!) * C![e]! + U![e]! * hPrev![e]!;
  }
  return [R!, U!, C!, H!];
}

const B = 3;
const IN = 5;
const N = 4;

function lstmValues(seed: number, batch = B, input = IN, n = N): tf.NDArray[] {
  return [
    randomArray([batch, input], { seed }),
    randomArray([batch, n], { seed: seed + 1, min: -2, max: 2 }),
    randomArray([batch, n], { seed: seed + 2 }),
    randomArray([input + n, 4 * n], { seed: seed + 3 }),
    randomArray([n], { seed: seed + 4 }),
    randomArray([n], { seed: seed + 5 }),
    randomArray([n], { seed: seed + 6 }),
    randomArray([4 * n], { seed: seed + 7 }),
  ];
}

function gruValues(seed: number, batch = B, input = IN, n = N): tf.NDArray[] {
  return [
    randomArray([batch, input], { seed }),
    randomArray([batch, n], { seed: seed + 1 }),
    randomArray([input + n, 2 * n], { seed: seed + 2 }),
    randomArray([input + n, n], { seed: seed + 3 }),
    randomArray([2 * n], { seed: seed + 4 }),
    randomArray([n], { seed: seed + 5 }),
  ];
}

/** Placeholders of unknown batch (vectors and weights with static shapes) for values. */
function placeholdersFor(vals: tf.NDArray[], batchDims: readonly number[]): tf.Tensor[] {
  return vals.map((v, k) => tf.placeholder('float32', batchDims.includes(k) ? [null, ...v.shape.slice(1)] : v.shape, `in${k}`));
}

async function runFed(g: tf.Graph, fetches: tf.Tensor[], phs: tf.Tensor[], vals: tf.NDArray[]): Promise<tf.NDArray[]> {
  const sess = new tf.Session({ graph: g });
  try {
    return (await sess.run(fetches, phs.map((p, k) => [p, vals[k]!] as [tf.Tensor, tf.NDArray]))) as tf.NDArray[];
  } finally {
    sess.close();
  }
}

describe('LSTMBlockCell op', () => {
  // [batch, cell] 8 x 160 is past the size from which the CPU runs the gate pass as WebAssembly SIMD.
  const cases: [string, Partial<LstmAttrs> | undefined, number, number][] = [
    ['peepholes, clipping at 0.3 (active), forget_bias 0.5', { usePeephole: true, cellClip: 0.3, forgetBias: 0.5 }, B, N],
    ['no peepholes, no clipping', { usePeephole: false, cellClip: -1, forgetBias: 1 }, B, N],
    ['attrs at their defaults (forget_bias 1, cell_clip 3, no peepholes)', undefined, B, N],
    ['peepholes and clipping, batch 8 x 160 units', { usePeephole: true, cellClip: 0.3, forgetBias: 0.5 }, 8, 160],
  ];
  for (const [what, attrs, batch, n] of cases) {
    it(`computes every output as TF's equations: ${what}`, async () => {
      const vals = lstmValues(what.length, batch, IN, n);
      // Cell states beyond ±3 so that the default clip is seen.
      f32(vals[1]!).forEach((_, k, a) => (a[k] = (k % 3) - 1 + (k % 2 ? 3.5 : 0)));
      const g = new tf.Graph();
      const { phs, outs } = g.asDefault(() => {
        const phs = placeholdersFor(vals, [0, 1, 2]);
        const op = attrs
          ? g.createOp('LSTMBlockCell', phs, { forget_bias: attrs.forgetBias!, cell_clip: attrs.cellClip!, use_peephole: attrs.usePeephole!, T: 'float32' })
          : g.createOp('LSTMBlockCell', phs, { T: 'float32' });
        return { phs, outs: op.outputs };
      });
      expect(outs.map((t) => t.shape)).toEqual(Array(7).fill([null, n]));
      const got = await runFed(g, outs, phs, vals);
      const want = lstmRef(vals, { forgetBias: 1, cellClip: 3, usePeephole: false, ...attrs });
      got.forEach((o, k) => expectClose(o, want[k]!, { atol: 2e-6, rtol: 1e-5, shape: [batch, n] }));
      if (!attrs || attrs.cellClip! > 0) {
        const clip = attrs?.cellClip ?? 3;
        expect(Math.max(...f32(got[1]!).map(Math.abs))).toBeCloseTo(clip, 6);
      }
    });
  }

  it('checks shapes: static ones while building, fed ones when running, naming the input', async () => {
    const vals = lstmValues(3);
    expect(() => lstmBlockCell(vals[0]!, vals[1]!, vals[2]!, randomArray([IN + N, 3 * N]), vals[7]!)).toThrow(/w .* must have 4 \* cell_size columns: 12 vs 16/);
    expect(() => lstmBlockCell(vals[0]!, vals[1]!, randomArray([B + 1, N]), vals[3]!, vals[7]!)).toThrow(/h_prev .* must have x's batch size/);
    const g = new tf.Graph();
    const { phs, h } = g.asDefault(() => {
      const phs = vals.map((_, k) => tf.placeholder('float32', null, `in${k}`));
      return { phs, h: lstmBlockCell(phs[0]!, phs[1]!, phs[2]!, phs[3]!, phs[7]!, { wci: phs[4]!, wcf: phs[5]!, wco: phs[6]! }).h };
    });
    const bad = [...vals];
    bad[7] = randomArray([4 * N + 1]);
    await expect(runFed(g, [h], phs, bad)).rejects.toThrow(tf.errors.InvalidArgumentError);
    await expect(runFed(g, [h], phs, bad)).rejects.toThrow(/LSTMBlockCell: b must have shape \[16\], got \[17\]/);
  });
});

describe('GRUBlockCell op', () => {
  for (const [batch, n] of [[B, N], [8, 160]] as const) it(`computes r, u, c and h as TF's equations (batch ${batch}, ${n} units)`, async () => {
    const vals = gruValues(7, batch, IN, n);
    const g = new tf.Graph();
    const { phs, outs } = g.asDefault(() => {
      const phs = placeholdersFor(vals, [0, 1]);
      const o = gruBlockCell(phs[0]!, phs[1]!, phs[2]!, phs[3]!, phs[4]!, phs[5]!);
      return { phs, outs: [o.r, o.u, o.c, o.h] };
    });
    const got = await runFed(g, outs, phs, vals);
    gruRef(vals).forEach((w, k) => expectClose(got[k]!, w, { atol: 2e-6, rtol: 1e-5, shape: [batch, n] }));
  });

  it('checks the weights against x and h_prev', () => {
    const v = gruValues(8);
    expect(() => gruBlockCell(v[0]!, v[1]!, v[2]!, randomArray([IN + N, N + 1]), v[4]!, v[5]!)).toThrow(/w_c .* must have 1 \* cell_size columns: 5 vs 4/);
  });
});

describe('gradients by finite differences', () => {
  for (const c of rnnCases) {
    it(`${c.ops.join('+')}: ${c.name}`, async () => {
      await checkGradients(c);
    });
  }

  /** An LSTMBlockCell whose weights are given tensors (placeholders), so dynamicRnn's gradient wrt them is checkable. */
  class FedLSTMBlockCell extends RNNCell {
    constructor(private readonly w: tf.Tensor[]) {
      super('fed_lstm_block_cell');
    }
    get stateSize() {
      return LSTMStateTuple(N, N);
    }
    get outputSize(): number {
      return N;
    }
    protected build(): void {}
    protected step(x: tf.Tensor, s: RNNState): [tf.Tensor, RNNState] {
      const { c, h } = s as LSTMStateTuple;
      const [w, wci, wcf, wco, b] = this.w;
      const o = lstmBlockCell(x, c, h, w!, b!, { wci, wcf, wco, usePeephole: true, cellClip: -1 });
      return [o.h, LSTMStateTuple(o.cs, o.h)];
    }
  }

  it('through dynamicRnn (a While loop of LSTMBlockCell ops with peepholes): outputs and final state wrt inputs, initial state and weights', async () => {
    const [, c0, h0, , wci, wcf, wco, b] = lstmValues(40, 2, 3, N);
    const xs = randomArray([2, 3, 3], { seed: 41 });
    await checkGradients({
      ops: ['LSTMBlockCell'],
      name: 'dynamicRnn',
      inputs: [xs, c0!, h0!, randomArray([3 + N, 4 * N], { seed: 42, min: -0.6, max: 0.6 }), wci!, wcf!, wco!, b!],
      build: (x, c, h, ...weights) => {
        const [out, state] = dynamicRnn(new FedLSTMBlockCell(weights), x!, { initialState: LSTMStateTuple(c!, h!) });
        const s = state as LSTMStateTuple;
        return [out, s.c];
      },
    });
  });
});

/** Assigns each of `to`'s variables the value of `from`'s variable of the same position (after running the initializer). */
async function copyWeights(sess: tf.Session, g: tf.Graph, pairs: [tf.Variable, tf.Tensor][]): Promise<void> {
  const ops = g.asDefault(() => pairs.map(([v, t]) => tf.assign(v, t)));
  await sess.run(ops);
}

describe('LSTMBlockCell and GRUBlockCell as cells', () => {
  it("LSTMBlockCell (no clipping) equals BasicLSTMCell with the same kernel and bias, in a MultiRNNCell under dynamicRnn: outputs, states and gradients", async () => {
    const g = new tf.Graph();
    g.seed = 5;
    const T = 4;
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, T, IN], 'x');
      const block = new MultiRNNCell([new LSTMBlockCell(N, { forgetBias: 0.7 }), new DropoutWrapper(new LSTMBlockCell(N, { forgetBias: 0.7 }), { outputKeepProb: 1 })]);
      const basic = new MultiRNNCell([new BasicLSTMCell(N, { forgetBias: 0.7 }), new BasicLSTMCell(N, { forgetBias: 0.7 })]);
      const [yb, sb] = dynamicRnn(block, x, { dtype: 'float32', scope: 'block' });
      const [yr, sr] = dynamicRnn(basic, x, { dtype: 'float32', scope: 'basic' });
      const vars = tf.trainableVariables();
      const proj = tf.constant(randomArray([N], { seed: 9 }));
      const loss = (y: tf.Tensor): tf.Tensor => tf.reduceSum(tf.multiply(y, proj));
      const blockVars = vars.filter((v) => v.name.startsWith('block/'));
      const basicVars = vars.filter((v) => v.name.startsWith('basic/'));
      const gb = tf.gradients(loss(yb), [x, ...blockVars]);
      const gr = tf.gradients(loss(yr), [x, ...basicVars]);
      return { x, yb, yr, sb, sr, vars, blockVars, basicVars, gb, gr, init: tf.globalVariablesInitializer() };
    });
    expect(names(m.blockVars)).toEqual([
      'block/multi_rnn_cell/cell_0/lstm_cell/kernel:0',
      'block/multi_rnn_cell/cell_0/lstm_cell/bias:0',
      'block/multi_rnn_cell/cell_1/lstm_cell/kernel:0',
      'block/multi_rnn_cell/cell_1/lstm_cell/bias:0',
    ]);
    expect(m.blockVars.map((v) => v.shape)).toEqual([[IN + N, 4 * N], [4 * N], [N + N, 4 * N], [4 * N]]);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    // Random biases too (they start at zero), then the basic cells take the block cells' weights.
    await sess.run(g.asDefault(() => m.blockVars.map((v, k) => tf.assign(v, randomArray(v.shape as number[], { seed: 60 + k, min: -0.8, max: 0.8 })))));
    await copyWeights(sess, g, m.basicVars.map((v, k) => [v, m.blockVars[k]!.value()]));
    const x = randomArray([2, T, IN], { seed: 11 });
    const flatState = (s: RNNState): tf.Tensor[] => (s as LSTMStateTuple[]).flatMap((t) => [t.c, t.h]);
    const [blockOut, basicOut] = await Promise.all([
      sess.run([m.yb, ...flatState(m.sb), ...(m.gb as tf.Tensor[])], [[m.x, x]]),
      sess.run([m.yr, ...flatState(m.sr), ...(m.gr as tf.Tensor[])], [[m.x, x]]),
    ]);
    expect(blockOut.length).toBe(1 + 4 + 1 + 4);
    blockOut.forEach((a, k) => expectClose(a, basicOut[k]!, { atol: 1e-5, rtol: 1e-4 }));
    sess.close();
  });

  it('LSTMBlockCell with peepholes: w_i_diag, w_f_diag, w_o_diag next to kernel and bias, one LSTMBlockCell op per step', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 6, IN]);
      dynamicRnn(new LSTMBlockCell(N, { usePeephole: true, cellClip: 2 }), x, { dtype: 'float32' });
      expect(names(tf.trainableVariables())).toEqual([
        'rnn/lstm_cell/kernel:0',
        'rnn/lstm_cell/bias:0',
        'rnn/lstm_cell/w_i_diag:0',
        'rnn/lstm_cell/w_f_diag:0',
        'rnn/lstm_cell/w_o_diag:0',
      ]);
    });
    const loop = g.getOperations().find((o) => o.type === 'While' || o.type === 'StatelessWhile')!;
    const body = loop.getAttr('body') as unknown as tf.Graph;
    const cells = body.getOperations().filter((o) => o.type === 'LSTMBlockCell');
    expect(cells.length).toBe(1);
    expect([cells[0]!.getAttr('cell_clip'), cells[0]!.getAttr('use_peephole'), cells[0]!.getAttr('forget_bias')]).toEqual([2, true, 1]);
  });

  it('GRUBlockCell equals GRUCell with w_ru = gates/kernel, b_ru = gates/bias, w_c = candidate/kernel, b_c = candidate/bias; GRUBlockCellV2 uses GRUCell\'s names', async () => {
    const g = new tf.Graph();
    g.seed = 8;
    const T = 3;
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, T, IN], 'x');
      const [yb, sb] = dynamicRnn(new GRUBlockCell(N), x, { dtype: 'float32', scope: 'block' });
      const [yv, sv] = dynamicRnn(new GRUBlockCellV2(N), x, { dtype: 'float32', scope: 'v2' });
      const [yr, sr] = dynamicRnn(new GRUCell(N), x, { dtype: 'float32', scope: 'ref' });
      const vars = tf.trainableVariables();
      const loss = (y: tf.Tensor): tf.Tensor => tf.reduceSum(tf.square(y));
      const of = (p: string) => vars.filter((v) => v.name.startsWith(p));
      const gb = tf.gradients(loss(yb), [x, ...of('block/')]);
      const gr = tf.gradients(loss(yr), [x, ...of('ref/')]);
      return { x, yb, sb, yv, sv, yr, sr, vars, of, gb, gr, init: tf.globalVariablesInitializer() };
    });
    expect(names(m.of('block/'))).toEqual(['block/gru_cell/w_ru:0', 'block/gru_cell/b_ru:0', 'block/gru_cell/w_c:0', 'block/gru_cell/b_c:0']);
    expect(names(m.of('v2/'))).toEqual(['v2/gru_cell/gates/kernel:0', 'v2/gru_cell/gates/bias:0', 'v2/gru_cell/candidate/kernel:0', 'v2/gru_cell/candidate/bias:0']);
    expect(names(m.of('ref/'))).toEqual(['ref/gru_cell/gates/kernel:0', 'ref/gru_cell/gates/bias:0', 'ref/gru_cell/candidate/kernel:0', 'ref/gru_cell/candidate/bias:0']);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const block = m.of('block/');
    await sess.run(g.asDefault(() => block.map((v, k) => tf.assign(v, randomArray(v.shape as number[], { seed: 70 + k, min: -0.8, max: 0.8 })))));
    await copyWeights(sess, g, [...m.of('ref/'), ...m.of('v2/')].map((v, k) => [v, block[k % 4]!.value()]));
    const x = randomArray([2, T, IN], { seed: 12 });
    const [b1, v1, r1] = (await Promise.all<readonly tf.NDArray[]>([
      sess.run([m.yb, m.sb as tf.Tensor, ...(m.gb as tf.Tensor[])], [[m.x, x]]),
      sess.run([m.yv, m.sv as tf.Tensor], [[m.x, x]]),
      sess.run([m.yr, m.sr as tf.Tensor, ...(m.gr as tf.Tensor[])], [[m.x, x]]),
    ]));
    b1!.forEach((a, k) => expectClose(a, r1![k]!, { atol: 1e-5, rtol: 1e-4 }));
    v1!.forEach((a, k) => expectClose(a, r1![k]!, { atol: 1e-5, rtol: 1e-4 }));
    sess.close();
  });

  it('in ResidualWrapper and OutputProjectionWrapper: dynamicRnn gives what staticRnn (the same cells, unrolled) gives', async () => {
    const g = new tf.Graph();
    g.seed = 6;
    const T = 3;
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [2, T, IN], 'x');
      const cell = new MultiRNNCell([new ResidualWrapper(new LSTMBlockCell(IN, { usePeephole: true })), new OutputProjectionWrapper(new GRUBlockCell(N), 3)]);
      const [dyn, dynState] = dynamicRnn(cell, x, { dtype: 'float32' });
      // staticRnn reuses the built cell's variables (the same objects).
      const [outs, stState] = staticRnn(cell, tf.unstack(x, { axis: 1 }), { dtype: 'float32', scope: 'static' });
      return { x, dyn, st: tf.stack(outs, 1), dynState, stState, init: tf.globalVariablesInitializer() };
    });
    expect(names(g.asDefault(() => tf.trainableVariables()))).toEqual([
      'rnn/multi_rnn_cell/cell_0/lstm_cell/kernel:0',
      'rnn/multi_rnn_cell/cell_0/lstm_cell/bias:0',
      'rnn/multi_rnn_cell/cell_0/lstm_cell/w_i_diag:0',
      'rnn/multi_rnn_cell/cell_0/lstm_cell/w_f_diag:0',
      'rnn/multi_rnn_cell/cell_0/lstm_cell/w_o_diag:0',
      'rnn/multi_rnn_cell/cell_1/output_projection_wrapper/gru_cell/w_ru:0',
      'rnn/multi_rnn_cell/cell_1/output_projection_wrapper/gru_cell/b_ru:0',
      'rnn/multi_rnn_cell/cell_1/output_projection_wrapper/gru_cell/w_c:0',
      'rnn/multi_rnn_cell/cell_1/output_projection_wrapper/gru_cell/b_c:0',
      'rnn/multi_rnn_cell/cell_1/output_projection_wrapper/kernel:0',
      'rnn/multi_rnn_cell/cell_1/output_projection_wrapper/bias:0',
    ]);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const leaves = (s: RNNState): tf.Tensor[] => {
      const [l, r] = s as [LSTMStateTuple, tf.Tensor];
      return [l.c, l.h, r];
    };
    const feeds: [tf.Tensor, tf.NDArray][] = [[m.x, randomArray([2, T, IN], { seed: 13 })]];
    const a = await sess.run([m.dyn, ...leaves(m.dynState)], feeds);
    const b = await sess.run([m.st, ...leaves(m.stState)], feeds);
    expect(a[0]!.shape).toEqual([2, T, 3]);
    a.forEach((v, k) => expectClose(v, b[k]!, { atol: 1e-6, rtol: 1e-5 }));
    sess.close();
  });

  it('reuse looks the variables up in the named scope; the state must be an LSTMStateTuple', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, IN]);
      const a = new LSTMBlockCell(N, { name: 'shared' });
      a.call(x, a.zeroState(2));
      const b = new LSTMBlockCell(N, { name: 'shared', reuse: true });
      b.call(x, b.zeroState(2));
      expect(b.kernel).toBe(a.kernel);
      expect(names(tf.trainableVariables())).toEqual(['shared/kernel:0', 'shared/bias:0']);
      expect(() => new LSTMBlockCell(N).call(x, tf.zeros([2, 2 * N]))).toThrow(/LSTMStateTuple/);
    });
  });
});

describe('formats', () => {
  it('GraphDef round trip: LSTMBlockCell (its attrs) and GRUBlockCell imported and run give the same values', async () => {
    const lv = lstmValues(90);
    const gv = gruValues(91, B, IN, N);
    const g1 = new tf.Graph();
    const outs = g1.asDefault(() => {
      const lp = lv.map((v, k) => tf.placeholder('float32', v.shape, `l${k}`));
      const gp = gv.map((v, k) => tf.placeholder('float32', v.shape, `g${k}`));
      const l = lstmBlockCell(lp[0]!, lp[1]!, lp[2]!, lp[3]!, lp[7]!, { wci: lp[4]!, wcf: lp[5]!, wco: lp[6]!, usePeephole: true, cellClip: 0.4, forgetBias: 0.25, name: 'lstm' });
      const r = gruBlockCell(gp[0]!, gp[1]!, gp[2]!, gp[3]!, gp[4]!, gp[5]!, { name: 'gru' });
      return [l.cs, l.h, r.h];
    });
    const gd = g1.toGraphDef();
    const node = gd.node!.find((n) => n.name === 'lstm')!;
    expect(node.op).toBe('LSTMBlockCell');
    const g2 = new tf.Graph();
    const imported = g2.asDefault(() => tf.importGraphDef(gd, { returnElements: ['lstm:1', 'lstm:6', 'gru:3'] })) as tf.Tensor[];
    const lstmOp = g2.getOperationByName('import/lstm');
    expect([lstmOp.getAttr('cell_clip'), lstmOp.getAttr('use_peephole'), lstmOp.getAttr('forget_bias')]).toEqual([0.4, true, 0.25]);
    const feeds = (g: tf.Graph, prefix: string): [tf.Tensor, tf.NDArray][] => [
      ...lv.map((v, k) => [g.getTensorByName(`${prefix}l${k}:0`), v] as [tf.Tensor, tf.NDArray]),
      ...gv.map((v, k) => [g.getTensorByName(`${prefix}g${k}:0`), v] as [tf.Tensor, tf.NDArray]),
    ];
    const s1 = new tf.Session({ graph: g1 });
    const s2 = new tf.Session({ graph: g2 });
    const a = (await s1.run(outs, feeds(g1, ''))) as tf.NDArray[];
    const b = (await s2.run(imported, feeds(g2, 'import/'))) as tf.NDArray[];
    a.forEach((v, k) => expectClose(b[k]!, v, { atol: 0, rtol: 0 }));
    s1.close();
    s2.close();
  });

  it('ONNX: dynamicRnn over LSTMBlockCell (peepholes, clipping) and GRUBlockCell exports as primitive ops and matches in onnxruntime-node at two batch sizes', async () => {
    const g = new tf.Graph();
    g.seed = 4;
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 5, 3], 'x');
      const [y1] = dynamicRnn(new LSTMBlockCell(6, { usePeephole: true, cellClip: 0.5 }), x, { dtype: 'float32', scope: 'lstm' }) as [tf.Tensor, RNNState];
      const [y2, s2] = dynamicRnn(new GRUBlockCell(4), y1, { dtype: 'float32', scope: 'gru' }) as [tf.Tensor, tf.Tensor];
      return { x, y1, y2, s2, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    for (const n of [2, 5]) {
      const r = await compareWithOrt(g, [[m.x, uniform([n, 5, 3], -2, 2, n)]], [m.y1, m.y2, m.s2], { session: sess, atol: 1e-5 });
      expect(r.maxDiff).toBeLessThan(1e-5);
      const types = new Set(tf.onnx.decodeModel(r.bytes).graph.node.flatMap(function all(nd): string[] {
        const bodies = (nd.attribute ?? []).flatMap((a) => (a.g ? a.g.node.flatMap(all) : []));
        return [nd.op_type, ...bodies];
      }));
      expect(types.has('Loop')).toBe(true);
      expect([...types].filter((t) => /LSTM|GRU/.test(t))).toEqual([]);
    }
    sess.close();
  });
});
