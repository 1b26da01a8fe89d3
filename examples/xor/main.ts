// XOR with a 3-4-1 sigmoid network: the classic "neural network in 11 lines" (inputs carry a
// constant 1 as their third column, which serves as the hidden layer's bias), trained by gradient
// descent on the squared error. Run: npx tsx examples/xor/main.ts
import { pathToFileURL } from 'node:url';
import * as tf from '../../src/index.js';

export const INPUTS = [
  [0, 0, 1],
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 1],
];
export const TARGETS = [0, 1, 1, 0];

export interface XorResult {
  predictions: number[];
  /** Squared error after each logged step (every `logEvery` steps), first to last. */
  losses: number[];
}

/** Uniform weights in [-1, 1) from a seeded generator (mulberry32), so runs are repeatable. */
function uniformWeights(rows: number, cols: number, seed: number): number[][] {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => 2 * next() - 1));
}

/** The 3-4-1 sigmoid network on `x` [n, 3] in the default graph, its squared error against `y` [n, 1] and a gradient-descent step. */
export function buildXor(x: tf.Tensor, y: tf.Tensor, opts: { seed?: number; learningRate?: number } = {}) {
  const syn0 = new tf.Variable(tf.constant(uniformWeights(3, 4, opts.seed ?? 1)), { name: 'syn0' });
  const syn1 = new tf.Variable(tf.constant(uniformWeights(4, 1, (opts.seed ?? 1) + 1)), { name: 'syn1' });
  const l1 = tf.sigmoid(tf.matmul(x, syn0));
  const output = tf.sigmoid(tf.matmul(l1, syn1));
  const loss = tf.reduceSum(tf.square(tf.subtract(y, output)));
  const train = new tf.train.GradientDescentOptimizer(opts.learningRate ?? 1).minimize(loss);
  return { output, loss, train };
}

export async function trainXor(opts: { steps?: number; learningRate?: number; seed?: number; logEvery?: number } = {}): Promise<XorResult> {
  const steps = opts.steps ?? 2000;
  const logEvery = opts.logEvery ?? 500;
  const g = new tf.Graph();
  const { loss, output, train } = g.asDefault(() => buildXor(tf.constant(INPUTS), tf.constant(TARGETS.map((t) => [t])), opts));
  const sess = new tf.Session({ graph: g });
  try {
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const losses: number[] = [];
    for (let step = 1; step <= steps; step++) {
      const [l] = await sess.run([loss, train]);
      if (step % logEvery === 0 || step === 1) losses.push(l.scalar() as number);
    }
    const out = await sess.run(output);
    return { predictions: Array.from(out.data as Float32Array), losses };
  } finally {
    sess.close();
  }
}

async function main(): Promise<void> {
  const { predictions, losses } = await trainXor();
  console.log(`squared error: ${losses.map((l) => l.toFixed(4)).join(' -> ')}`);
  INPUTS.forEach((inp, i) => console.log(`${inp.slice(0, 2).join(' xor ')} = ${predictions[i]!.toFixed(4)} (target ${TARGETS[i]})`));
  const ok = predictions.every((p, i) => Math.round(p) === TARGETS[i]);
  console.log(ok ? 'all predictions round to the targets' : 'FAILED: some predictions do not round to the targets');
  if (!ok) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
