// Control-flow workloads for bench/run.ts: the cost of one whileLoop iteration, and a tanh RNN's
// training step built as a whileLoop over a TensorArray (TF1's dynamic_rnn), unrolled in the graph,
// and in TensorFlow.js. run.ts hands in its timer, peers and data helpers (this module does not
// import run.ts, whose top level runs the benchmark).
import * as tfc from '@tensorflow/tfjs';
import * as tf from '../src/index.js';

export interface BenchContext {
  runs: number;
  backend: 'cpu' | 'webgpu';
  /** Median time of `runs` calls after `warmup` calls. */
  time: (fn: () => Promise<unknown> | unknown, runs?: number, warmup?: number) => Promise<number>;
  /** A TensorFlow.js measurement on one of its backends (undefined: skipped; NaN: failed). */
  onTfjs: (backend: 'cpu' | 'wasm' | 'webgpu', fn: () => Promise<number>) => Promise<number | undefined>;
  /** Deterministic uniform floats in [lo, hi). */
  uniform: (n: number, seed: number, lo?: number, hi?: number) => Float32Array;
  /** More windows of weir's steps after the first, beside PyTorch's processes with --peer torch (run.ts). */
  moreWindows: (first: number, window: () => Promise<number>, torchWorkload: string | undefined, runs: number) => Promise<{ weirBest?: number; torch?: number }>;
}

/** One printed line: `key=value` fields after the workload's name. */
export interface LineResult {
  line: string;
}

const ms = (x: number | undefined): string => (x === undefined ? 'skipped' : Number.isNaN(x) ? 'unsupported' : x.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined ? 'skipped' : Number.isNaN(a) || Number.isNaN(b) ? 'unsupported' : (a / b).toFixed(2);

// ---- while_overhead ----

/**
 * A whileLoop of N iterations of a scalar update (i+1, x = x*0.999 + 1), one session.run per
 * measurement: us_per_iter is the run's time over N (the run's fixed cost included; run_ms is that
 * cost alone, a run of the loop's initial values). Measured as written (cond i < N) and with
 * maximumIterations: N too; both are counted loops (the trip count is computed on entry and cond
 * never runs). uncounted_us_per_iter: the same loop with cond on float(i) < N, which the runtime
 * cannot count, so it runs cond and reads the predicate each iteration.
 */
export async function whileOverhead(ctx: BenchContext): Promise<LineResult> {
  const N = 10_000;
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const build = (maximumIterations?: number, counted = true): tf.Tensor[] =>
      tf.whileLoop(
        (i: tf.Tensor) => (counted ? tf.less(i, N) : tf.less(tf.cast(i, 'float32'), N)),
        (i: tf.Tensor, x: tf.Tensor) => [tf.add(i, 1), tf.add(tf.multiply(x, 0.999), 1)],
        [tf.constant(0, 'int32'), tf.constant(0, 'float32')],
        { maximumIterations, name: !counted ? 'uncounted' : maximumIterations === undefined ? 'plain' : 'bounded' },
      ) as tf.Tensor[];
    const x0 = tf.add(tf.constant(0, 'float32'), tf.constant(1, 'float32'));
    return { plain: build(), bounded: build(N), uncounted: build(undefined, false), x0 };
  });
  const sess = new tf.Session({ graph: g, backend: ctx.backend });
  const unopt = new tf.Session({ graph: g, optimize: false, backend: ctx.backend });
  // What the loop must give: i = N, x = (1 - 0.999^N) / (1 - 0.999), within float32 rounding.
  const expect = (1 - 0.999 ** N) / (1 - 0.999);
  const problems: string[] = [];
  for (const [what, fetches] of [
    ['plain', m.plain],
    ['bounded', m.bounded],
    ['uncounted', m.uncounted],
  ] as const) {
    const [i, x] = (await sess.run(fetches)) as tf.NDArray[];
    const iv = Number(i!.data[0]);
    const xv = Number(x!.data[0]);
    if (iv !== N || Math.abs(xv - expect) > 1e-3 * expect) problems.push(`${what}: i=${iv} x=${xv} (expected i=${N} x=${expect.toFixed(3)})`);
  }
  if (problems.length) console.log(`while_overhead MISMATCH ${problems.join('; ')}`);
  const runMs = await ctx.time(() => sess.run(m.x0), Math.max(ctx.runs, 20));
  const unoptMs = await ctx.time(() => unopt.run(m.plain));
  // Two rounds, the better median of each kept: a busy machine's bursts do not land on one variant alone.
  const rounds = async (fetches: tf.Tensor[]): Promise<number> => ctx.time(() => sess.run(fetches));
  let [plainMs, boundedMs, uncountedMs] = [Infinity, Infinity, Infinity];
  for (let r = 0; r < 2; r++) {
    plainMs = Math.min(plainMs, await rounds(m.plain));
    boundedMs = Math.min(boundedMs, await rounds(m.bounded));
    uncountedMs = Math.min(uncountedMs, await rounds(m.uncounted));
  }
  sess.close();
  unopt.close();
  const us = (t: number): string => ((t * 1000) / N).toFixed(3);
  return {
    line:
      `iters=${N} weir_ms=${ms(plainMs)} us_per_iter=${us(plainMs)} max_iter_ms=${ms(boundedMs)} max_iter_us_per_iter=${us(boundedMs)} ` +
      `uncounted_ms=${ms(uncountedMs)} uncounted_us_per_iter=${us(uncountedMs)} ` +
      `weir_unopt_ms=${ms(unoptMs)} unopt_us_per_iter=${us(unoptMs)} run_ms=${runMs.toFixed(3)} target_us_per_iter=5`,
  };
}

// ---- rnn_loop_step ----

const T = 100; // time steps
const B = 32; // batch
const D = 32; // input dim
const H = 64; // hidden
const LR = 0.01;

interface RnnModel {
  loss: tf.Tensor;
  grads: tf.Tensor[];
  train: tf.Operation;
}

/**
 * A training step of a tanh RNN, h_t = tanh(x_t Wx + h_{t-1} Wh + b), h_0 = 0, loss = the mean of
 * every output h_t squared, SGD on Wx, Wh, b. Built three ways: (a) a whileLoop over a TensorArray
 * of inputs writing a TensorArray of outputs (dynamic_rnn), (b) the same steps unrolled in the
 * graph, (c) TensorFlow.js (a manual loop under optimizer.minimize) on its wasm and cpu backends.
 * (a) and (b) share the variables and the fed inputs; before timing, their losses and gradients on
 * the same weights are compared.
 */
export async function rnnLoopStep(ctx: BenchContext): Promise<LineResult> {
  const xData = ctx.uniform(T * B * D, 31, -1, 1);
  const sx = Math.sqrt(6 / (D + H));
  const sh = Math.sqrt(1 / H);
  const wxData = ctx.uniform(D * H, 32, -sx, sx);
  const whData = ctx.uniform(H * H, 33, -sh, sh);
  const bData = ctx.uniform(H, 34, -0.1, 0.1);

  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const xs = tf.placeholder('float32', [T, B, D], 'xs');
    const Wx = new tf.Variable(new tf.NDArray(wxData, [D, H]), { name: 'Wx' });
    const Wh = new tf.Variable(new tf.NDArray(whData, [H, H]), { name: 'Wh' });
    const b = new tf.Variable(new tf.NDArray(bData, [H]), { name: 'b' });
    const vars = [Wx, Wh, b];
    const cell = (x: tf.Tensor, h: tf.Tensor): tf.Tensor => tf.tanh(tf.add(tf.add(tf.matmul(x, Wx), tf.matmul(h, Wh)), b));
    const h0 = tf.zeros([B, H]);
    const model = (outputs: tf.Tensor, name: string): RnnModel => {
      const loss = tf.reduceMean(tf.square(outputs), undefined, false, `${name}_loss`);
      const grads = tf.gradients(loss, vars).map((gr, k) => {
        if (!gr) throw new Error(`rnn_loop_step: no gradient for ${vars[k]!.name} in ${name}`);
        return gr;
      });
      const train = new tf.train.GradientDescentOptimizer(LR).applyGradients(
        grads.map((gr, k) => [gr, vars[k]!] as [tf.Tensor, tf.Variable]),
        { name: `${name}_sgd` },
      );
      return { loss, grads, train };
    };

    // (a) dynamic_rnn: inputs in a TensorArray, outputs written to one, maximumIterations T.
    const loop = g.nameScope('loop', () => {
      const inputs = new tf.TensorArray('float32', { size: T, elementShape: [B, D], name: 'inputs' }).unstack(xs);
      const out0 = new tf.TensorArray('float32', { size: T, elementShape: [B, H], name: 'outputs' });
      const [, , outTa] = tf.whileLoop(
        (t: tf.Tensor) => tf.less(t, T),
        (t: tf.Tensor, h: tf.Tensor, out: tf.TensorArray) => {
          const h1 = cell(inputs.read(t), h);
          return [tf.add(t, 1), h1, out.write(t, h1)];
        },
        [tf.constant(0, 'int32'), h0, out0],
        { maximumIterations: T },
      ) as [tf.Tensor, tf.Tensor, tf.TensorArray];
      return model(outTa.stack(), 'loop');
    });

    // (b) the same steps unrolled by a JS loop.
    const unrolled = g.nameScope('unrolled', () => {
      const steps = tf.unstack(xs, { num: T });
      let h = h0;
      const outs: tf.Tensor[] = [];
      for (let t = 0; t < T; t++) outs.push((h = cell(steps[t]!, h)));
      return model(tf.stack(outs), 'unrolled');
    });
    return { xs, loop, unrolled, init: tf.globalVariablesInitializer() };
  });
  const feeds: [tf.Tensor, tf.NDArray][] = [[m.xs, new tf.NDArray(xData, [T, B, D])]];
  const sess = new tf.Session({ graph: g, backend: ctx.backend });
  await sess.run(m.init);

  // Same weights (nothing trained yet): loss and gradients of (a) and (b) must agree.
  const check = async (mm: RnnModel): Promise<tf.NDArray[]> => [...((await sess.run([mm.loss, ...mm.grads], feeds)) as readonly tf.NDArray[])];
  const a = await check(m.loop);
  const bb = await check(m.unrolled);
  const names = ['loss', 'dWx', 'dWh', 'db'];
  const maxRel = (x: tf.NDArray, y: tf.NDArray): { abs: number; rel: number } => {
    let abs = 0;
    let scale = 0;
    for (let k = 0; k < x.data.length; k++) {
      abs = Math.max(abs, Math.abs(Number(x.data[k]) - Number(y.data[k])));
      scale = Math.max(scale, Math.abs(Number(y.data[k])));
    }
    return { abs, rel: abs / Math.max(scale, 1e-12) };
  };
  const diffs = a.map((x, k) => ({ name: names[k]!, ...maxRel(x, bb[k]!), shapeOk: x.data.length === bb[k]!.data.length }));
  const bad = diffs.filter((d) => !d.shapeOk || !(d.abs <= 1e-4 || d.rel <= 1e-4));
  if (bad.length) {
    console.log(
      `rnn_loop_step MISMATCH loop vs unrolled: ${bad.map((d) => `${d.name} max_abs=${d.abs.toExponential(2)} max_rel=${d.rel.toExponential(2)}${d.shapeOk ? '' : ' (sizes differ)'}`).join(' ')}`,
    );
  }
  const maxDiff = Math.max(...diffs.map((d) => d.abs));
  const lossA = Number(a[0]!.data[0]);

  // Training steps: (a) then (b), alternately in one session (the weights move; the work does not).
  await sess.compile([m.loop.loss, m.loop.train], feeds);
  await sess.compile([m.unrolled.loss, m.unrolled.train], feeds);
  // Two rounds each, interleaved, the better median of each kept: neither gets the machine's best state alone.
  const timeLoop = (): Promise<number> => ctx.time(() => sess.run([m.loop.loss, m.loop.train], feeds));
  const timeUnrolled = (): Promise<number> => ctx.time(() => sess.run([m.unrolled.loss, m.unrolled.train], feeds));
  const l1 = await timeLoop();
  const u1 = await timeUnrolled();
  const u2 = await timeUnrolled();
  const l2 = await timeLoop();
  // Forward only (the loss): where the loop's cost sits, forward or backward. Interleaved as above.
  const timeLoopFwd = (): Promise<number> => ctx.time(() => sess.run(m.loop.loss, feeds));
  const timeUnrolledFwd = (): Promise<number> => ctx.time(() => sess.run(m.unrolled.loss, feeds));
  const lf1 = await timeLoopFwd();
  const uf1 = await timeUnrolledFwd();
  const uf2 = await timeUnrolledFwd();
  const lf2 = await timeLoopFwd();
  const loopFwd = Math.min(lf1, lf2);
  const unrolledFwd = Math.min(uf1, uf2);
  sess.close();
  const loop = Math.min(l1, l2);
  const unrolledMs = Math.min(u1, u2);

  // (c) TensorFlow.js: the same model, loss and SGD, a manual loop under optimizer.minimize.
  let tfjsRef: Float32Array[] | undefined;
  const tfjsStep = async (): Promise<number> => {
    const Wx = tfc.variable(tfc.tensor2d(wxData, [D, H]));
    const Wh = tfc.variable(tfc.tensor2d(whData, [H, H]));
    const b = tfc.variable(tfc.tensor1d(bData));
    const steps = tfc.unstack(tfc.tensor3d(xData, [T, B, D])) as tfc.Tensor2D[];
    const opt = tfc.train.sgd(LR);
    const lossFn = (): tfc.Scalar => {
      let h: tfc.Tensor2D = tfc.zeros([B, H]);
      let sum: tfc.Tensor = tfc.scalar(0);
      for (let t = 0; t < T; t++) {
        h = tfc.tanh(tfc.add(tfc.add(tfc.matMul(steps[t]!, Wx), tfc.matMul(h, Wh)), b)) as tfc.Tensor2D;
        sum = tfc.add(sum, tfc.sum(tfc.square(h)));
      }
      return tfc.div(sum, T * B * H) as tfc.Scalar;
    };
    // The loss and gradients on the initial weights, to compare with weir's (once).
    if (tfjsRef === undefined) {
      const { value, grads } = tfc.variableGrads(lossFn, [Wx, Wh, b]);
      const gs = [Wx, Wh, b].map((v) => grads[v.name]!);
      tfjsRef = [(await value.data()) as Float32Array, ...(await Promise.all(gs.map((x) => x.data() as Promise<Float32Array>)))];
      tfc.dispose([value, ...gs]);
    }
    const step = async (): Promise<void> => {
      const loss = tfc.tidy(() => opt.minimize(lossFn, true, [Wx, Wh, b]) as tfc.Scalar);
      await loss.data();
      loss.dispose();
    };
    const t = await ctx.time(step);
    tfc.dispose([Wx, Wh, b, ...steps]);
    opt.dispose();
    return t;
  };
  const tfjsWasm = await ctx.onTfjs('wasm', tfjsStep);
  const tfjsCpu = await ctx.onTfjs('cpu', tfjsStep);
  let tfjsDiff = NaN;
  if (tfjsRef) {
    const ref = tfjsRef.map((d, k) => new tf.NDArray(d, [...a[k]!.shape]));
    const vs = a.map((x, k) => ({ name: names[k]!, ...maxRel(x, ref[k]!) }));
    tfjsDiff = Math.max(...vs.map((d) => d.abs));
    const off = vs.filter((d) => !(d.abs <= 1e-4 || d.rel <= 1e-4));
    if (off.length) console.log(`rnn_loop_step MISMATCH loop vs tfjs: ${off.map((d) => `${d.name} max_abs=${d.abs.toExponential(2)} max_rel=${d.rel.toExponential(2)}`).join(' ')}`);
  }
  return {
    line:
      `T=${T} B=${B} D=${D} H=${H} loop_ms=${ms(loop)} unrolled_ms=${ms(unrolledMs)} tfjs_wasm_ms=${ms(tfjsWasm)} tfjs_cpu_ms=${ms(tfjsCpu)} ` +
      `loop/unrolled=${ratio(loop, unrolledMs)} tfjs_wasm/loop=${ratio(tfjsWasm, loop)} tfjs_cpu/loop=${ratio(tfjsCpu, loop)} ` +
      `loop_fwd_ms=${ms(loopFwd)} unrolled_fwd_ms=${ms(unrolledFwd)} ` +
      `loss=${lossA.toFixed(6)} loop_vs_unrolled_max_abs=${maxDiff.toExponential(2)} loop_vs_tfjs_max_abs=${Number.isNaN(tfjsDiff) ? 'skipped' : tfjsDiff.toExponential(2)} targets=loop/unrolled<=1.3,tfjs_wasm/loop>=5`,
  };
}

// ---- lstm_train_step ----

/**
 * One training step of a 2-layer LSTM character language model (char-rnn's shape): B=32 rows of
 * T=50 token ids over a vocabulary of V=65, an embedding of E=64, two LSTMs of H=256 units, dense
 * logits over V, mean sparse softmax cross-entropy, Adam (lr 0.002, no gradient clipping), forward
 * + backward + update. weir: embeddingLookup → MultiRNNCell(BasicLSTMCell×2) under tf.nn.dynamicRnn
 * (a whileLoop) → tf.layers.dense. TensorFlow.js: one-hot ids → a bias-free dense layer as the
 * embedding (tf.layers.embedding's gradient has no wasm kernel) → lstm(returnSequences)×2 → dense, its trainable weights minimized by tf.train.adam's optimizer.minimize. Each side uses its
 * own default initializers (weir glorot-uniform with graph seed 1, tfjs its layer defaults), so the
 * weights differ: the initial losses are only checked to be of the same order (both near ln V).
 * A tfjs backend whose first step takes over 20 s is skipped with a note.
 */
/** lstm_train_step's model and data (lstm_block_train_step builds the same model with other cells). */
export const LSTM_LM = { B: 32, T: 50, V: 65, E: 64, H: 256, LR: 0.002 } as const;

/** The token ids fed as x and y (int32, [B, T]). */
export function lstmLmIds(ctx: BenchContext): { xIds: Int32Array; yIds: Int32Array } {
  const { B, T, V } = LSTM_LM;
  return {
    xIds: Int32Array.from(ctx.uniform(B * T, 31, 0, V), (v) => Math.floor(v)),
    yIds: Int32Array.from(ctx.uniform(B * T, 32, 0, V), (v) => Math.floor(v)),
  };
}

/** The LSTM language model in a graph of its own (graph seed 1), two layers of `cell()`, and its feeds. */
export function buildLstmLm(cell: () => tf.nn.rnnCell.RNNCell, ids: { xIds: Int32Array; yIds: Int32Array }) {
  const { B, T, V, E, H, LR } = LSTM_LM;
  const g = new tf.Graph();
  g.seed = 1;
  const m = g.asDefault(() => {
    const x = tf.placeholder('int32', [B, T], 'x');
    const y = tf.placeholder('int32', [B, T], 'y');
    const embedding = tf.getVariable('embedding', { shape: [V, E] });
    const [outputs] = tf.nn.dynamicRnn(new tf.nn.rnnCell.MultiRNNCell([cell(), cell()]), tf.nn.embeddingLookup(embedding, x), { dtype: 'float32' });
    const logits = tf.layers.dense(tf.reshape(outputs, [-1, H]), V, { name: 'softmax' });
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.reshape(y, [-1]), logits }));
    const train = new tf.train.AdamOptimizer(LR).minimize(loss);
    return { x, y, loss, train, vars: tf.trainableVariables(), init: tf.globalVariablesInitializer() };
  });
  const feeds: [tf.Tensor, tf.NDArray][] = [
    [m.x, new tf.NDArray(ids.xIds, [B, T])],
    [m.y, new tf.NDArray(ids.yIds, [B, T])],
  ];
  return { g, m, feeds };
}

export async function lstmTrainStep(ctx: BenchContext): Promise<LineResult> {
  const { B, T, V, E, H, LR } = LSTM_LM;
  const SLOW_MS = 20_000;
  const { xIds, yIds } = lstmLmIds(ctx);
  const { m, feeds, g } = buildLstmLm(() => new tf.nn.rnnCell.BasicLSTMCell(H), { xIds, yIds });
  const sess = new tf.Session({ graph: g, backend: ctx.backend });
  await sess.run(m.init);
  const weirLoss0 = Number(((await sess.run(m.loss, feeds)) as tf.NDArray).data[0]);
  await sess.compile([m.loss, m.train], feeds);
  const weirMs = await ctx.time(() => sess.run([m.loss, m.train], feeds));
  const { weirBest, torch } = await ctx.moreWindows(weirMs, () => ctx.time(() => sess.run([m.loss, m.train], feeds)), 'lstm_train_step', ctx.runs);
  sess.close();

  const notes: string[] = [];
  let tfjsLoss0: number | undefined;
  const slow = new Set<string>();
  const tfjsStep = async (): Promise<number> => {
    const backend = tfc.getBackend();
    const model = tfc.sequential({
      layers: [
        // The embedding as a bias-free dense layer on one-hot ids: tf.layers.embedding's gradient
        // (UnsortedSegmentSum) has no wasm kernel. The same function, and a negligible matmul.
        tfc.layers.dense({ units: E, useBias: false, inputShape: [T, V] }),
        tfc.layers.lstm({ units: H, returnSequences: true }),
        tfc.layers.lstm({ units: H, returnSequences: true }),
        tfc.layers.dense({ units: V }),
      ],
    });
    const x = tfc.oneHot(tfc.tensor2d(xIds, [B, T], 'int32'), V).toFloat();
    const onehot = tfc.oneHot(tfc.tensor1d(yIds, 'int32'), V);
    const opt = tfc.train.adam(LR);
    const vars = model.trainableWeights.map((w) => w.read() as tfc.Variable);
    const lossFn = (): tfc.Scalar => {
      const logits = tfc.reshape(model.apply(x, { training: true }) as tfc.Tensor, [B * T, V]);
      return tfc.losses.softmaxCrossEntropy(onehot, logits) as tfc.Scalar;
    };
    const step = async (): Promise<void> => {
      const loss = tfc.tidy(() => opt.minimize(lossFn, true, vars) as tfc.Scalar);
      await loss.data();
      loss.dispose();
    };
    try {
      if (tfjsLoss0 === undefined) {
        const l = tfc.tidy(lossFn);
        tfjsLoss0 = (await l.data())[0]!;
        l.dispose();
      }
      // One step first: a backend slower than SLOW_MS a step is not timed further.
      const t0 = performance.now();
      await step();
      const first = performance.now() - t0;
      if (first > SLOW_MS) {
        slow.add(backend);
        notes.push(`tfjs_${backend}_first_step_ms=${first.toFixed(0)}>${SLOW_MS}(skipped)`);
        return NaN;
      }
      return await ctx.time(step, ctx.runs, 1);
    } finally {
      tfc.dispose([x, onehot]);
      model.dispose();
      opt.dispose();
    }
  };
  const wasm = await ctx.onTfjs('wasm', tfjsStep);
  const cpu = await ctx.onTfjs('cpu', tfjsStep);
  const tfjsWasm = slow.has('wasm') ? undefined : wasm;
  const tfjsCpu = slow.has('cpu') ? undefined : cpu;
  // Same order of magnitude at the start (different initial weights): both near ln(V) = 4.17.
  const sameOrder = tfjsLoss0 === undefined ? 'skipped' : String(Math.abs(Math.log10(weirLoss0 / tfjsLoss0)) < 1);
  if (sameOrder === 'false') notes.push('LOSS_ORDER_MISMATCH');
  return {
    line:
      `B=${B} T=${T} V=${V} E=${E} H=${H} layers=2 weir_ms=${ms(weirMs)} tfjs_wasm_ms=${ms(tfjsWasm)} tfjs_cpu_ms=${ms(tfjsCpu)} ` +
      (weirBest !== undefined ? `weir_best_ms=${ms(weirBest)} ` : '') +
      (torch !== undefined ? `torch_ms=${ms(torch)} torch_ratio=${ratio(weirBest ?? weirMs, torch)} ` : '') +
      `tfjs_wasm/weir=${ratio(tfjsWasm, weirMs)} tfjs_cpu/weir=${ratio(tfjsCpu, weirMs)} ` +
      `weir_loss0=${weirLoss0.toFixed(4)} tfjs_loss0=${tfjsLoss0 === undefined ? 'skipped' : tfjsLoss0.toFixed(4)} ln_V=${Math.log(V).toFixed(4)} loss0_same_order=${sameOrder}` +
      `${notes.length ? ` ${notes.join(' ')}` : ''} target=tfjs_wasm/weir>=10`,
  };
}
