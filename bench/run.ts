// weir against TensorFlow.js, measured side by side in one process.
//   npm run bench [-- --only mlp_train_step,matmul_1024] [--runs 7] [--skip tfjs_cpu]
//   npm run bench -- --backend webgpu      (weir's webgpu backend against tfjs-backend-webgpu)
//   npm run bench -- --only while_overhead,rnn_loop_step,lstm_train_step   (control flow: bench/control_flow.ts)
//   npm run bench -- --only lstm_block_train_step   (BasicLSTMCell against the fused LSTMBlockCell: bench/lstm_block.ts)
//   npm run bench -- --only embedding_train_step   (sparse gradients: bench/sparse.ts)
// Prints one line per workload:
//   WORKLOAD weir_ms=… weir_unopt_ms=… tfjs_cpu_ms=… tfjs_wasm_ms=… peak_bytes=… naive_bytes=…
// (with --backend webgpu: WORKLOAD backend=webgpu weir_ms=… weir_unopt_ms=… tfjs_webgpu_ms=… ratio=…)
// Times are medians over --runs runs after warm-up runs (at least 2 and at least a second, every
// peer alike). peak_bytes is the optimized plan's arena; naive_bytes what the same (optimized) plan
// takes with every intermediate in a buffer of its own; unopt_naive_bytes the same for the graph as
// written, before fusion.
//
// matmul_1024 also prints weir_relaxed_gflops and weir_plain_gflops: both SIMD kernels' throughput,
// the relaxed one (f32x4.relaxed_madd) from a child node started with --experimental-wasm-relaxed-simd
// where this one lacks it; with weir_best_ms, from the best window.
//   npm run bench -- --windows 8      (adds weir_best_ms: the best median of 8 more windows of runs)
//
//   npm run bench -- --peer torch     (adds torch_ms, weir_best_ms, torch_ratio: the same workload in PyTorch)
// PyTorch runs in a python3 that has torch (bench/torch_peer.py; WEIR_TORCH_PYTHON names one, else
// `python3` on PATH, else /usr/bin/python3). On Debian/Ubuntu: `apt-get install python3-torch
// libopenblas0-pthread` (PyTorch 1.13: oneDNN convolutions, OpenBLAS for products). It gets weir's
// thread count (torch.set_num_threads), and OPENBLAS_CORETYPE is unset for its process only (a
// forced core type keeps OpenBLAS off AVX-512). Its times swing several-fold between processes on
// a shared machine, so torch_ms is the best of eight processes' medians; weir's swing too, so a
// window of weir's steps is timed after each of those processes, and weir_best_ms (the best of
// those windows' medians and weir_ms) is what torch_ratio divides by torch_ms. Workloads it has:
// mlp_train_step, cnn_train_step, conv3x3_train_step, matmul_1024, cnn_infer_b1, lstm_train_step;
// never needed by tests or CI.
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tfc from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '../src/index.js';
import { buildCnn } from '../examples/mnist-cnn/main.js';
import { lstmTrainStep, rnnLoopStep, whileOverhead, type BenchContext, type LineResult } from './control_flow.js';
import { embeddingTrainStep } from './sparse.js';
import { lstmBlockTrainStep } from './lstm_block.js';
import { threadCount } from '../runtime/cpu/threads.js';
import { relaxedSimdAvailable, setRelaxedSimdEnabled, simdAvailable } from '../runtime/cpu/gemm.js';
import { config } from '../src/core/config.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    runs: { type: 'string' },
    skip: { type: 'string' },
    backend: { type: 'string' },
    peer: { type: 'string' },
    windows: { type: 'string' },
  },
});
if (args.peer && args.peer !== 'torch') throw new Error(`--peer must be torch, not ${args.peer}`);
const RUNS = Number(args.runs ?? 7);
/**
 * PyTorch's medians swing between processes here (CNN step: 90-156 ms; the MLP step is bimodal,
 * 2.4-3.0 ms or 9-20 ms per process, and five processes were once all slow), so several are run;
 * weir's own medians swing too (the MLP step: 4.2-4.7 ms in one process, 7.3-8 in another a minute
 * later), so as many more windows of its steps are timed between them (weirPair).
 */
const TORCH_PROCESSES = 8;
/**
 * Windows of weir's steps timed after the first (--windows; with --peer torch, one after each of
 * PyTorch's processes): weir_best_ms is the best median of all of them.
 */
const WINDOWS = Number(args.windows ?? (args.peer === 'torch' ? TORCH_PROCESSES : 0));
const GPU = args.backend === 'webgpu';
if (args.backend && !GPU && args.backend !== 'cpu') throw new Error(`--backend must be cpu or webgpu, not ${args.backend}`);
if (GPU) {
  // tfjs-backend-webgpu finds the GPU through navigator.gpu: give it Dawn's, as weir uses in Node.
  const { create, globals } = (await import('webgpu')) as unknown as { create: (f: string[]) => unknown; globals: object };
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
}
const WEIR_BACKEND: 'cpu' | 'webgpu' = GPU ? 'webgpu' : 'cpu';

/** Deterministic uniform floats in [lo, hi). */
function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

function labels(n: number, classes: number, seed: number): Int32Array {
  return Int32Array.from(uniform(n, seed, 0, classes), (v) => Math.floor(v));
}

/**
 * Warm-up before timing, for every peer alike: at least `warmup` calls and at least this long, so
 * that a step measures the steady state a training loop runs in (JIT tiers, thread pools).
 * weir's MLP step took about 9 ms in its first 16 steps and 5 ms from then on.
 */
const WARMUP_MS = 1000;

/** Median time of `runs` calls after warming up (at least `warmup` calls and WARMUP_MS). */
async function time(fn: () => Promise<unknown> | unknown, runs = RUNS, warmup = 2): Promise<number> {
  const warmUntil = performance.now() + WARMUP_MS;
  for (let i = 0; i < warmup || performance.now() < warmUntil; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

/** weir's figure: the best window's median where several were timed, else the first's. */
const best = (r: { weir: number; weirBest?: number }): number => r.weirBest ?? r.weir;

interface Result {
  weir: number;
  weirUnopt: number;
  tfjsCpu?: number;
  tfjsWasm?: number;
  tfjsWebgpu?: number;
  /** PyTorch's best median (--peer torch). */
  torch?: number;
  /** weir's best median over its windows (--windows; --peer torch: timed between PyTorch's processes). */
  weirBest?: number;
  peak: number;
  naive: number;
  unoptNaive: number;
  extra?: string;
}

/** Runs a peer measurement on a TensorFlow.js backend; a peer that cannot run the workload gives NaN. */
async function onTfjs(backend: 'cpu' | 'wasm' | 'webgpu', fn: () => Promise<number>): Promise<number | undefined> {
  if (args.skip?.split(',').includes(`tfjs_${backend}`)) return undefined;
  await tfc.setBackend(backend);
  await tfc.ready();
  try {
    return await fn();
  } catch (e) {
    process.stderr.write(`tfjs ${backend}: ${(e as Error).message}\n`);
    tfc.disposeVariables();
    return NaN;
  }
}

// ---- weir sessions ----

/** Times a weir training/inference step with optimization on and off on one graph. */
async function weirPair(
  g: tf.Graph,
  fetches: (tf.Tensor | tf.Operation)[],
  feeds: [tf.Tensor, tf.NDArray][],
  init: tf.Operation | undefined,
  runs = RUNS,
  torchWorkload?: string,
): Promise<Pick<Result, 'weir' | 'weirUnopt' | 'weirBest' | 'torch' | 'peak' | 'naive' | 'unoptNaive'>> {
  const opt = new tf.Session({ graph: g, backend: WEIR_BACKEND });
  const unopt = new tf.Session({ graph: g, optimize: false, backend: WEIR_BACKEND });
  if (init) {
    await opt.run(init);
    await unopt.run(init);
  }
  const plan = await opt.compile(fetches, feeds);
  // Interleaved, so that both see the same machine state.
  const weirUnopt = await time(() => unopt.run(fetches, feeds), runs);
  const weir = await time(() => opt.run(fetches, feeds), runs);
  const { weirBest, torch } = await moreWindows(weir, () => time(() => opt.run(fetches, feeds), runs), torchWorkload, runs);
  opt.close();
  unopt.close();
  return { weir, weirUnopt, weirBest, torch, peak: plan.stats.plannedPeakBytes, naive: plan.stats.naivePeakBytes, unoptNaive: plan.stats.unoptimizedNaiveBytes };
}

/**
 * WINDOWS more windows of weir's steps (`window` times one) after the first (`first` ms): their
 * best median, with the first's, as weirBest (undefined without windows). Beside PyTorch
 * (--peer torch and a `torchWorkload`), each follows one of its processes, so that both figures
 * (each the best median) come from the same minutes of a machine whose speed swings.
 */
async function moreWindows(first: number, window: () => Promise<number>, torchWorkload: string | undefined, runs: number): Promise<{ weirBest?: number; torch?: number }> {
  const beside = torchWorkload !== undefined && args.peer === 'torch';
  let torch = beside ? Infinity : undefined;
  let weirBest = WINDOWS > 0 ? first : undefined;
  for (let i = 0; i < WINDOWS; i++) {
    if (beside && !Number.isNaN(torch)) torch = Math.min(torch!, torchProcess(torchWorkload, runs));
    weirBest = Math.min(weirBest!, await window());
  }
  return { weirBest, torch };
}

/** The TensorFlow.js peers for this run: cpu and wasm, or webgpu with --backend webgpu. */
async function peers(step: () => Promise<number>): Promise<Pick<Result, 'tfjsCpu' | 'tfjsWasm' | 'tfjsWebgpu'>> {
  if (GPU) return { tfjsWebgpu: await onTfjs('webgpu', step) };
  return { tfjsCpu: await onTfjs('cpu', step), tfjsWasm: await onTfjs('wasm', step) };
}

/** The python3 that has torch, or undefined (found once). */
let torchPython: string | null | undefined;
function findTorchPython(): string | undefined {
  if (torchPython === undefined) {
    const candidates = [process.env.WEIR_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
    torchPython = candidates.find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) ?? null;
    if (torchPython === null) process.stderr.write(`--peer torch: no python3 with torch among ${candidates.join(', ')}\n`);
  }
  return torchPython ?? undefined;
}

/**
 * One PyTorch process's median for a workload (bench/torch_peer.py), on weir's thread count, with
 * OPENBLAS_CORETYPE unset for it; NaN where it cannot run.
 */
function torchProcess(workload: string, runs: number): number {
  const py = findTorchPython();
  if (py === undefined) return NaN;
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const threads = config.cpuFast() ? threadCount() : 1;
  const script = new URL('./torch_peer.py', import.meta.url).pathname;
  const r = spawnSync(py, [script, workload, '--threads', String(threads), '--runs', String(runs), '--warmup-ms', String(WARMUP_MS)], { env, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`torch ${workload}: ${r.stderr || r.error?.message}\n`);
    return NaN;
  }
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number }).ms;
}

// ---- workloads ----

async function mlpTrainStep(): Promise<Result> {
  const B = 128;
  const sizes = [784, 512, 256, 10];
  const xData = uniform(B * 784, 1, 0, 1);
  const yData = labels(B, 10, 2);
  const weights = sizes.slice(1).map((n, i) => uniform(sizes[i]! * n, 10 + i, -Math.sqrt(6 / (sizes[i]! + n)), Math.sqrt(6 / (sizes[i]! + n))));

  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const x = tf.placeholder('float32', [null, 784], 'x');
    const y = tf.placeholder('int32', [null], 'y');
    let h: tf.Tensor = x;
    sizes.slice(1).forEach((n, i) => {
      const w = new tf.Variable(new tf.NDArray(weights[i]!, [sizes[i]!, n]), { name: `W${i}` });
      const b = new tf.Variable(tf.zeros([n]), { name: `b${i}` });
      h = tf.nn.biasAdd(tf.matmul(h, w), b);
      if (i < sizes.length - 2) h = tf.nn.relu(h);
    });
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits: h }));
    const train = new tf.train.GradientDescentOptimizer(0.01).minimize(loss);
    return { x, y, loss, train, init: tf.globalVariablesInitializer() };
  });
  const feeds: [tf.Tensor, tf.NDArray][] = [
    [m.x, new tf.NDArray(xData, [B, 784])],
    [m.y, new tf.NDArray(yData, [B])],
  ];
  const w = await weirPair(g, [m.loss, m.train], feeds, m.init, RUNS, 'mlp_train_step');

  const tfjsStep = async (): Promise<number> => {
    const vars = sizes.slice(1).flatMap((n, i) => [tfc.variable(tfc.tensor2d(weights[i]!, [sizes[i]!, n])), tfc.variable(tfc.zeros([n]))]);
    const x = tfc.tensor2d(xData, [B, 784]);
    const onehot = tfc.oneHot(tfc.tensor1d(yData, 'int32'), 10);
    const opt = tfc.train.sgd(0.01);
    // Like weir's step, it returns the loss: on a GPU that waits for the step to finish.
    const step = async (): Promise<void> => {
      const loss = tfc.tidy(() =>
        opt.minimize(() => {
          let h: tfc.Tensor2D = x;
          for (let i = 0; i < 3; i++) {
            h = tfc.add(tfc.matMul(h, vars[2 * i] as tfc.Tensor2D), vars[2 * i + 1]!);
            if (i < 2) h = tfc.relu(h);
          }
          return tfc.losses.softmaxCrossEntropy(onehot, h) as tfc.Scalar;
        }, true) as tfc.Scalar,
      );
      await loss.data();
      loss.dispose();
    };
    const ms = await time(step);
    tfc.dispose([...vars, x, onehot]);
    opt.dispose();
    return ms;
  };
  return { ...w, ...(await peers(tfjsStep)) };
}

async function cnnTrainStep(): Promise<Result> {
  const B = 64;
  const runs = Math.max(3, Math.min(RUNS, 5));
  const xData = uniform(B * 784, 3, 0, 1);
  const yData = labels(B, 10, 4);
  const g = new tf.Graph();
  g.seed = 1;
  const m = g.asDefault(() => ({ ...buildCnn(1e-3), init: tf.globalVariablesInitializer() }));
  const feeds: [tf.Tensor, tf.NDArray][] = [
    [m.x, new tf.NDArray(xData, [B, 784])],
    [m.y, new tf.NDArray(yData, [B])],
    [m.training, new tf.NDArray(Uint8Array.of(1), [], 'bool')],
  ];
  const w = await weirPair(g, [m.loss, m.trainOp], feeds, m.init, runs, 'cnn_train_step');

  const tfjsStep = async (): Promise<number> => {
    const shapes: [number[], number[]][] = [
      [[5, 5, 1, 32], [32]],
      [[5, 5, 32, 64], [64]],
      [[7 * 7 * 64, 1024], [1024]],
      [[1024, 10], [10]],
    ];
    const vars = shapes.flatMap(([k, b], i) => [
      tfc.variable(tfc.tensor(uniform(k.reduce((p, q) => p * q, 1), 20 + i, -0.05, 0.05), k)),
      tfc.variable(tfc.zeros(b)),
    ]);
    const x = tfc.tensor4d(xData, [B, 28, 28, 1]);
    const onehot = tfc.oneHot(tfc.tensor1d(yData, 'int32'), 10);
    const opt = tfc.train.adam(1e-3);
    const step = async (): Promise<void> => {
      const loss = tfc.tidy(() =>
        opt.minimize(() => {
          let h = tfc.relu(tfc.add(tfc.conv2d(x, vars[0] as tfc.Tensor4D, 1, 'same'), vars[1]!)) as tfc.Tensor4D;
          h = tfc.maxPool(h, 2, 2, 'same');
          h = tfc.relu(tfc.add(tfc.conv2d(h, vars[2] as tfc.Tensor4D, 1, 'same'), vars[3]!)) as tfc.Tensor4D;
          h = tfc.maxPool(h, 2, 2, 'same');
          let d: tfc.Tensor2D = tfc.reshape(h, [B, 7 * 7 * 64]);
          d = tfc.relu(tfc.add(tfc.matMul(d, vars[4] as tfc.Tensor2D), vars[5]!)) as tfc.Tensor2D;
          d = tfc.dropout(d, 0.5) as tfc.Tensor2D;
          d = tfc.add(tfc.matMul(d, vars[6] as tfc.Tensor2D), vars[7]!) as tfc.Tensor2D;
          return tfc.losses.softmaxCrossEntropy(onehot, d) as tfc.Scalar;
        }, true) as tfc.Scalar,
      );
      await loss.data();
      loss.dispose();
    };
    const ms = await time(step, runs, 1);
    tfc.dispose([...vars, x, onehot]);
    opt.dispose();
    return ms;
  };
  return { ...w, ...(await peers(tfjsStep)) };
}

/**
 * A VGG-style block: a batch of 32 32x32x64 images through two 3x3 SAME convolutions of 64 filters
 * (with biases) and ReLUs, the mean of the output as the loss, one GradientDescent step.
 */
async function conv3x3TrainStep(): Promise<Result> {
  const [B, H, C] = [32, 32, 64];
  const runs = Math.max(3, Math.min(RUNS, 5));
  const xData = uniform(B * H * H * C, 8, 0, 1);
  const limit = Math.sqrt(6 / (9 * C + 9 * C));
  const filters = [0, 1].map((i) => uniform(9 * C * C, 40 + i, -limit, limit));
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const x = tf.placeholder('float32', [B, H, H, C], 'x');
    let h: tf.Tensor = x;
    filters.forEach((f, i) => {
      const w = new tf.Variable(new tf.NDArray(f, [3, 3, C, C]), { name: `conv${i}/W` });
      const b = new tf.Variable(tf.zeros([C]), { name: `conv${i}/b` });
      h = tf.nn.relu(tf.nn.biasAdd(tf.nn.conv2d(h, w, [1, 1, 1, 1], 'SAME'), b));
    });
    const loss = tf.reduceMean(h);
    const train = new tf.train.GradientDescentOptimizer(0.01).minimize(loss);
    return { x, loss, train, init: tf.globalVariablesInitializer() };
  });
  const feeds: [tf.Tensor, tf.NDArray][] = [[m.x, new tf.NDArray(xData, [B, H, H, C])]];
  const w = await weirPair(g, [m.loss, m.train], feeds, m.init, runs, 'conv3x3_train_step');

  // TensorFlow.js wasm has no Conv2DBackpropFilter: it reports the workload unsupported.
  const tfjsStep = async (): Promise<number> => {
    const vars = filters.flatMap((f) => [tfc.variable(tfc.tensor4d(f, [3, 3, C, C])), tfc.variable(tfc.zeros([C]))]);
    const x = tfc.tensor4d(xData, [B, H, H, C]);
    const opt = tfc.train.sgd(0.01);
    const step = async (): Promise<void> => {
      const loss = tfc.tidy(() =>
        opt.minimize(() => {
          let h: tfc.Tensor4D = x;
          for (let i = 0; i < 2; i++) h = tfc.relu(tfc.add(tfc.conv2d(h, vars[2 * i] as tfc.Tensor4D, 1, 'same'), vars[2 * i + 1]!)) as tfc.Tensor4D;
          return tfc.mean(h) as tfc.Scalar;
        }, true) as tfc.Scalar,
      );
      await loss.data();
      loss.dispose();
    };
    const ms = await time(step, runs, 1);
    tfc.dispose([...vars, x]);
    opt.dispose();
    return ms;
  };
  return { ...w, ...(await peers(tfjsStep)) };
}

/** One image through the Deep MNIST CNN (inference: dropout off): latency. */
async function cnnInferB1(): Promise<Result> {
  const xData = uniform(784, 7, 0, 1);
  const g = new tf.Graph();
  g.seed = 1;
  const m = g.asDefault(() => ({ ...buildCnn(1e-3), init: tf.globalVariablesInitializer() }));
  const runs = Math.max(RUNS, 21);
  const feeds: [tf.Tensor, tf.NDArray][] = [[m.x, new tf.NDArray(xData, [1, 784])]];
  const w = await weirPair(g, [m.logits], feeds, m.init, runs, 'cnn_infer_b1');

  const tfjsStep = async (): Promise<number> => {
    const shapes = [[5, 5, 1, 32], [32], [5, 5, 32, 64], [64], [7 * 7 * 64, 1024], [1024], [1024, 10], [10]];
    const v = shapes.map((k, i) => tfc.tensor(uniform(k.reduce((p, q) => p * q, 1), 30 + i, -0.05, 0.05), k));
    const x = tfc.tensor4d(xData, [1, 28, 28, 1]);
    const ms = await time(async () => {
      const logits = tfc.tidy(() => {
        let h = tfc.relu(tfc.add(tfc.conv2d(x, v[0] as tfc.Tensor4D, 1, 'same'), v[1]!)) as tfc.Tensor4D;
        h = tfc.maxPool(h, 2, 2, 'same');
        h = tfc.relu(tfc.add(tfc.conv2d(h, v[2] as tfc.Tensor4D, 1, 'same'), v[3]!)) as tfc.Tensor4D;
        h = tfc.maxPool(h, 2, 2, 'same');
        const d = tfc.relu(tfc.add(tfc.matMul(tfc.reshape(h, [1, 7 * 7 * 64]), v[4] as tfc.Tensor2D), v[5]!)) as tfc.Tensor2D;
        return tfc.add(tfc.matMul(d, v[6] as tfc.Tensor2D), v[7]!);
      });
      await logits.data();
      logits.dispose();
    }, runs);
    tfc.dispose([...v, x]);
    return ms;
  };
  return { ...w, ...(await peers(tfjsStep)) };
}

async function matmul1024(): Promise<Result> {
  const N = 1024;
  const a = uniform(N * N, 5);
  const b = uniform(N * N, 6);
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const x = tf.placeholder('float32', [N, N], 'a');
    const y = tf.placeholder('float32', [N, N], 'b');
    return { x, y, c: tf.matmul(x, y) };
  });
  const feeds: [tf.Tensor, tf.NDArray][] = [
    [m.x, new tf.NDArray(a, [N, N])],
    [m.y, new tf.NDArray(b, [N, N])],
  ];
  const w = await weirPair(g, [m.c], feeds, undefined, RUNS, 'matmul_1024');
  const tfjsStep = async (): Promise<number> => {
    const x = tfc.tensor2d(a, [N, N]);
    const y = tfc.tensor2d(b, [N, N]);
    const ms = await time(async () => {
      const c = tfc.matMul(x, y);
      await c.data();
      c.dispose();
    });
    tfc.dispose([x, y]);
    return ms;
  };
  const p = await peers(tfjsStep);
  const torch = w.torch;
  // Throughput from the best window where there are several (the machine's noise only subtracts).
  const gflops = (n: number): string => ((2 * N * N * N) / (n * 1e6)).toFixed(2);
  // Both SIMD kernels' throughput: the other one than this process's measured here (plain) or in a
  // child node that has relaxed SIMD (Node 20 needs a flag for it).
  let kernels = '';
  if (!GPU && simdAvailable()) {
    if (relaxedSimdAvailable() && process.env.WEIR_BENCH_RELAXED_CHILD) {
      kernels = ` weir_relaxed_gflops=${gflops(best(w))}`;
    } else if (relaxedSimdAvailable()) {
      const prev = setRelaxedSimdEnabled(false);
      const plain = await weirPair(g, [m.c], feeds, undefined).finally(() => setRelaxedSimdEnabled(prev));
      kernels = ` weir_relaxed_gflops=${gflops(best(w))} weir_plain_gflops=${gflops(best(plain))}`;
    } else {
      kernels = ` weir_relaxed_gflops=${relaxedChild('matmul_1024', /weir_gflops=([\d.]+)/) ?? 'unsupported'} weir_plain_gflops=${gflops(best(w))}`;
    }
  }
  return { ...w, ...p, torch, extra: `weir_gflops=${gflops(best(w))}${kernels}${torch !== undefined && !Number.isNaN(torch) ? ` torch_gflops=${gflops(torch)}` : ''}` };
}

/**
 * Runs one workload of this script in a child node with relaxed SIMD (weir only, no peers) and
 * returns the field `field` matches on its line; undefined where that node has no relaxed SIMD.
 */
function relaxedChild(workload: string, field: RegExp): string | undefined {
  if (process.env.WEIR_BENCH_RELAXED_CHILD) return undefined;
  const argv = ['--import', 'tsx', fileURLToPath(import.meta.url), '--only', workload, '--runs', String(RUNS), '--windows', String(WINDOWS), '--skip', 'tfjs_cpu,tfjs_wasm'];
  const env = { ...process.env, WEIR_BENCH_RELAXED_CHILD: '1' };
  let r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', ...argv], { env, encoding: 'utf8' });
  // Engines that ship relaxed SIMD by default may no longer know the flag.
  if (r.status !== 0 && /bad option/.test(r.stderr)) r = spawnSync(process.execPath, argv, { env, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`relaxed-SIMD child: ${r.stderr}\n`);
    return undefined;
  }
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${workload} `) && / weir_relaxed_gflops=\d/.test(l));
  return line?.match(field)?.[1];
}

// Control-flow workloads (bench/control_flow.ts) print their own fields.
const ctx: BenchContext = { runs: RUNS, backend: WEIR_BACKEND, time, onTfjs, uniform, moreWindows };

const WORKLOADS: Record<string, () => Promise<Result | LineResult>> = {
  mlp_train_step: mlpTrainStep,
  cnn_train_step: cnnTrainStep,
  conv3x3_train_step: conv3x3TrainStep,
  cnn_infer_b1: cnnInferB1,
  matmul_1024: matmul1024,
  while_overhead: () => whileOverhead(ctx),
  rnn_loop_step: () => rnnLoopStep(ctx),
  lstm_train_step: () => lstmTrainStep(ctx),
  lstm_block_train_step: () => lstmBlockTrainStep(ctx),
  embedding_train_step: () => embeddingTrainStep(ctx),
};

const fmt = (x: number | undefined): string => (x === undefined ? 'skipped' : Number.isNaN(x) ? 'unsupported' : x.toFixed(x < 10 ? 2 : 1));
const only = args.only?.split(',');
for (const [name, fn] of Object.entries(WORKLOADS)) {
  if (only && !only.includes(name)) continue;
  const r = await fn();
  if ('line' in r) {
    console.log(`${name}${GPU ? ' backend=webgpu' : ''} ${r.line}`);
    continue;
  }
  if (GPU) {
    const ratio = r.tfjsWebgpu ? ` ratio=${(r.weir / r.tfjsWebgpu).toFixed(3)}` : '';
    console.log(
      `${name} backend=webgpu weir_ms=${fmt(r.weir)} weir_unopt_ms=${fmt(r.weirUnopt)} tfjs_webgpu_ms=${fmt(r.tfjsWebgpu)}${ratio}${r.extra ? ` ${r.extra}` : ''}`,
    );
    continue;
  }
  console.log(
    `${name} weir_ms=${fmt(r.weir)} weir_unopt_ms=${fmt(r.weirUnopt)} tfjs_cpu_ms=${fmt(r.tfjsCpu)} tfjs_wasm_ms=${fmt(r.tfjsWasm)} ` +
      (r.weirBest !== undefined ? `weir_best_ms=${fmt(r.weirBest)} ` : '') +
      (r.torch !== undefined ? `torch_ms=${fmt(r.torch)} torch_ratio=${(best(r) / r.torch).toFixed(2)} ` : '') +
      `peak_bytes=${r.peak} naive_bytes=${r.naive}${r.extra ? ` ${r.extra}` : ''} unopt_naive_bytes=${r.unoptNaive}`,
  );
}
