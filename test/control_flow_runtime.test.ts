// How the runtime runs loops: counted loops (a trip count known on entry) and what the analysis
// must refuse, exact trip counts against a plain int32 simulation, no allocation per iteration on
// the CPU, and on WebGPU (WEIR_BACKEND=webgpu, with WEIR_WEBGPU_PREFER_HOST=0) no read-back per
// iteration for counted loops, results equal to the CPU's.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { FuncGraph } from '../src/func_graph.js';
import { countedLoop } from '../passes/compile.js';
import { countTrips, type EntryValue, type TripCount } from '../runtime/control_flow.js';
import { CpuBackend } from '../runtime/cpu/backend.js';
import { allocationsOf } from '../runtime/slab.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import { expectClose, randomArray, rng } from './helpers.js';

type T = tf.Tensor;
const i32 = (v: number): T => tf.constant(v, 'int32');
const scalar = (v: number): tf.NDArray => tf.NDArray.from(v, 'int32');
const num = (a: tf.NDArray): number => Number(a.data[0]);

/** The While op a graph holds (the first one built). */
function whileOp(g: tf.Graph): tf.Operation {
  const op = g.getOperations().find((o) => o.type === 'While' || o.type === 'StatelessWhile');
  if (!op) throw new Error('no While op');
  return op;
}

function analysis(build: () => unknown): TripCount | undefined {
  const g = new tf.Graph();
  g.asDefault(build);
  const op = whileOp(g);
  return countedLoop(op.attrs.cond as FuncGraph, op.attrs.body as FuncGraph);
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
type Cmp = 'lt' | 'le' | 'gt' | 'ge';
const holds = (x: number, cmp: Cmp, n: number): boolean => (cmp === 'lt' ? x < n : cmp === 'le' ? x <= n : cmp === 'gt' ? x > n : x >= n);

/** What the loop does, step by step in int32 (the body's add wraps): the trip count, or undefined past `limit`. */
function simulate(x0: number, step: number, cmp: Cmp, bound: number, limit: number): number | undefined {
  let x = x0;
  for (let k = 0; k <= limit; k++) {
    if (!holds(x, cmp, bound)) return k;
    x = (x + step) | 0;
  }
  return undefined;
}

describe('counted loops: the analysis', () => {
  it('finds the counter of `i < n` with a constant step, and the counter against maximumIterations', () => {
    const plain = analysis(() => tf.whileLoop((i: T) => tf.less(i, 10), (i: T) => tf.add(i, 2), [i32(0)]));
    expect(plain?.tests).toEqual([{ counter: 2, cmp: 'lt', bound: { value: 10 }, step: { value: 2 }, negate: false }]);
    const bounded = analysis(() => tf.whileLoop((i: T) => tf.less(i, 10), (i: T) => tf.add(i, 1), [i32(0)], { maximumIterations: 4 }));
    expect(bounded?.counters).toEqual([0, 2]);
    expect(bounded?.tests).toContainEqual({ counter: 0, cmp: 'lt', bound: { input: 1 }, step: { value: 1 }, negate: false });
  });

  it('reads comparisons either way round, subtraction as a negative step, and loop-invariant bounds and steps', () => {
    const down = analysis(() => tf.whileLoop((i: T) => tf.greater(i, -3), (i: T) => tf.subtract(i, 1), [i32(5)]));
    expect(down?.tests).toEqual([{ counter: 2, cmp: 'gt', bound: { value: -3 }, step: { value: 1 }, negate: true }]);
    const mirrored = analysis(() => tf.whileLoop((i: T) => tf.lessEqual(tf.constant(2, 'int32'), i), (i: T) => tf.add(i, -1), [i32(5)]));
    expect(mirrored?.tests).toEqual([{ counter: 2, cmp: 'ge', bound: { value: 2 }, step: { value: -1 }, negate: false }]);
    // n and k are loop variables the body passes through: read on entry.
    const inv = analysis(() =>
      tf.whileLoop((i: T, n: T) => tf.less(i, n), (i: T, n: T, k: T) => [tf.add(k, i), n, k], [i32(0), i32(7), i32(3)]),
    );
    expect(inv?.tests).toEqual([{ counter: 2, cmp: 'lt', bound: { input: 3 }, step: { input: 4 }, negate: false }]);
  });

  it('counts the loops of mapFn, scan, foldl, dynamicRnn and the gradient of dynamicRnn (bounds read on entry)', () => {
    const kinds: [string, () => unknown][] = [
      ['mapFn', () => tf.mapFn((x: T) => tf.square(x), tf.placeholder('float32', [null, 3]))],
      ['scan', () => tf.scan((a: T, x: T) => tf.add(a, x), tf.placeholder('float32', [null, 3]))],
      ['foldl', () => tf.foldl((a: T, x: T) => tf.add(a, x), tf.placeholder('float32', [5, 3]))],
      [
        'dynamicRnn',
        () => {
          const x = tf.placeholder('float32', [4, null, 3]);
          const [o] = tf.nn.dynamicRnn(new tf.nn.rnnCell.BasicRNNCell(5), x, { dtype: 'float32' });
          tf.gradients(tf.reduceSum(o), [x]);
        },
      ],
    ];
    for (const [name, build] of kinds) {
      const g = new tf.Graph();
      g.asDefault(build);
      const loops = g.getOperations().filter((o) => o.type === 'While' || o.type === 'StatelessWhile');
      expect(loops.length, name).toBeGreaterThan(0);
      for (const op of loops) {
        const trips = countedLoop(op.attrs.cond as FuncGraph, op.attrs.body as FuncGraph);
        expect(trips, `${name}: ${op.name}`).toBeDefined();
        // Every bound is a loop input (a run-time length) or a constant; every step is 1.
        for (const t of trips!.tests) expect(t.step, `${name}: ${op.name}`).toEqual({ value: 1 });
      }
    }
  });

  it('refuses predicates on data, increments that change, non-additive updates, float counters and cond with effects', () => {
    // The predicate reads a float the body computes.
    expect(analysis(() => tf.whileLoop((i: T, x: T) => tf.less(x, 5), (i: T, x: T) => [tf.add(i, 1), tf.multiply(x, 2)], [i32(0), tf.constant(1)]))).toBeUndefined();
    // maximumIterations anded with a data predicate: the predicate still needs reading.
    expect(
      analysis(() => tf.whileLoop((i: T, x: T) => tf.less(x, 5), (i: T, x: T) => [tf.add(i, 1), tf.multiply(x, 2)], [i32(0), tf.constant(1)], { maximumIterations: 3 })),
    ).toBeUndefined();
    // The step is a loop variable that changes: i += k, k += 1.
    expect(analysis(() => tf.whileLoop((i: T) => tf.less(i, 100), (i: T, k: T) => [tf.add(i, k), tf.add(k, 1)], [i32(0), i32(1)]))).toBeUndefined();
    // i = i * 2 and i = i + i.
    expect(analysis(() => tf.whileLoop((i: T) => tf.less(i, 100), (i: T) => tf.multiply(i, 2), [i32(1)]))).toBeUndefined();
    expect(analysis(() => tf.whileLoop((i: T) => tf.less(i, 100), (i: T) => tf.add(i, i), [i32(1)]))).toBeUndefined();
    // Counter minus bound, compared with its own update (the bound changes too).
    expect(analysis(() => tf.whileLoop((i: T, n: T) => tf.less(i, n), (i: T, n: T) => [tf.add(i, 1), tf.add(n, 1)], [i32(0), i32(3)]))).toBeUndefined();
    // Two counters compared with each other.
    expect(analysis(() => tf.whileLoop((i: T, j: T) => tf.less(i, j), (i: T, j: T) => [tf.add(i, 2), tf.add(j, 1)], [i32(0), i32(3)]))).toBeUndefined();
    // A float counter (rounding: not exact).
    expect(analysis(() => tf.whileLoop((x: T) => tf.less(x, 1), (x: T) => tf.add(x, 0.1), [tf.constant(0)]))).toBeUndefined();
    // A cond with an effect (a variable counting cond's runs): cond must run each iteration.
    expect(
      analysis(() => {
        const calls = new tf.Variable(tf.NDArray.from(0, 'int32'), { name: 'calls' });
        return tf.whileLoop(
          (i: T) => {
            calls.assignAdd(i32(1));
            return tf.less(i, 3);
          },
          (i: T) => tf.add(i, 1),
          [i32(0)],
        );
      }),
    ).toBeUndefined();
    // An or, and a not-equal test.
    expect(analysis(() => tf.whileLoop((i: T) => tf.logicalOr(tf.less(i, 3), tf.less(i, 5)), (i: T) => tf.add(i, 1), [i32(0)]))).toBeUndefined();
    expect(analysis(() => tf.whileLoop((i: T) => tf.notEqual(i, 3), (i: T) => tf.add(i, 1), [i32(0)]))).toBeUndefined();
  });
});

describe('counted loops: exact trip counts', () => {
  const rule = (cmp: Cmp, negate = false): TripCount => ({ tests: [{ counter: 0, cmp, bound: { input: 1 }, step: { input: 2 }, negate }], counters: [0] });
  const at = (x0: number, bound: number, step: number) => (e: EntryValue): number => ('value' in e ? e.value : [x0, bound, step][e.input]!);

  it('equals an int32 simulation, or declines (never wrong), over edge cases and random cases', () => {
    const cases: [number, number, Cmp, number][] = [
      // x0, step, cmp, bound
      [0, 1, 'lt', 10],
      [0, 3, 'lt', 10],
      [0, 3, 'le', 9],
      [10, 1, 'lt', 10], // zero trips
      [11, 1, 'le', 10],
      [5, -1, 'gt', -3], // negative steps
      [5, -2, 'ge', -3],
      [0, -1, 'lt', 10], // never ends: declined
      [0, 0, 'lt', 10],
      [10, 0, 'lt', 10],
      [INT32_MAX - 5, 1, 'le', INT32_MAX], // would wrap past the last test: declined
      [INT32_MAX - 5, 1, 'lt', INT32_MAX],
      [INT32_MAX - 10, 7, 'lt', INT32_MAX], // the last step overflows: declined
      [INT32_MIN + 3, -1, 'ge', INT32_MIN],
      [0, 1_000_000_000, 'lt', 2_000_000_001],
    ];
    const r = rng(7);
    for (let k = 0; k < 3000; k++) {
      const pick = (): number => Math.floor(r() * 41) - 20;
      cases.push([pick(), Math.floor(r() * 11) - 5, (['lt', 'le', 'gt', 'ge'] as const)[Math.floor(r() * 4)]!, pick()]);
    }
    let counted = 0;
    for (const [x0, step, cmp, bound] of cases) {
      const sim = simulate(x0, step, cmp, bound, 100);
      const got = countTrips(rule(cmp), at(x0, bound, step));
      const negated = countTrips(rule(cmp, true), at(x0, bound, -step));
      expect(negated?.trips, `${x0} -(${-step}) ${cmp} ${bound}`).toBe(got?.trips);
      if (got === undefined) {
        // Declined: the loop either never ends or its counter leaves int32 (wraps) before it ends.
        const end = sim === undefined ? undefined : x0 + sim * step;
        expect(sim === undefined || end! > INT32_MAX || end! < INT32_MIN, `${x0} + ${step} ${cmp} ${bound}: declined but ends after ${sim}`).toBe(true);
        continue;
      }
      counted++;
      if (sim !== undefined) expect(got.trips, `${x0} + ${step} ${cmp} ${bound}`).toBe(sim);
      else expect(got.trips).toBeGreaterThan(100);
    }
    expect(counted).toBeGreaterThan(cases.length / 2);
    // Large counts (too long to simulate): the first failing iteration, exactly.
    expect(countTrips(rule('lt'), at(0, 2_000_000_000, 1_000_000_000))?.trips).toBe(2);
    // 0, 1e9, 2e9, then 3e9 wraps below the bound: the loop goes on.
    expect(countTrips(rule('lt'), at(0, 2_000_000_001, 1_000_000_000))).toBeUndefined();
    expect(countTrips(rule('lt'), at(INT32_MAX - 5, INT32_MAX, 1))?.trips).toBe(5);
    expect(countTrips(rule('le'), at(INT32_MAX - 5, INT32_MAX, 1))).toBeUndefined();
    expect(countTrips(rule('lt'), at(INT32_MAX - 10, INT32_MAX, 7))).toBeUndefined();
    expect(countTrips(rule('ge'), at(INT32_MIN + 3, INT32_MIN, -1), false)).toBeUndefined();
  });

  it('takes the smallest count of a logical and', () => {
    const two: TripCount = {
      tests: [
        { counter: 0, cmp: 'lt', bound: { value: 4 }, step: { value: 1 }, negate: false },
        { counter: 1, cmp: 'gt', bound: { value: 0 }, step: { value: 3 }, negate: true },
      ],
      counters: [0, 1],
    };
    expect(countTrips(two, (e) => ('value' in e ? e.value : [0, 7][e.input]!))?.trips).toBe(3);
    expect(countTrips(two, (e) => ('value' in e ? e.value : [0, 100][e.input]!))?.trips).toBe(4);
    // One test never ends, the other does: the and ends.
    const forever: TripCount = { tests: [two.tests[0]!, { ...two.tests[1]!, negate: false }], counters: [0, 1] };
    expect(countTrips(forever, (e) => ('value' in e ? e.value : [0, 7][e.input]!))?.trips).toBe(4);
  });
});

/** A loop whose counts come from placeholders: i from i0 by step while i cmp n, at most m iterations; c counts iterations. */
function countingLoop(cmp: 'less' | 'lessEqual' | 'greater' | 'greaterEqual', opts: { sub?: boolean } = {}) {
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const i0 = tf.placeholder('int32', [], 'i0');
    const n = tf.placeholder('int32', [], 'n');
    const step = tf.placeholder('int32', [], 'step');
    const max = tf.placeholder('int32', [], 'max');
    const x0 = tf.placeholder('float32', [3], 'x0');
    const [i, c, x] = tf.whileLoop(
      (i: T) => tf[cmp](i, n),
      (i: T, c: T, x: T) => [opts.sub ? tf.subtract(i, step) : tf.add(i, step), tf.add(c, 1), tf.add(tf.multiply(x, 0.5), tf.cast(c, 'float32'))],
      [i0, i32(0), x0],
      { maximumIterations: max },
    ) as T[];
    return { i0, n, step, max, x0, i: i!, c: c!, x: x! };
  });
  return { g, ...m };
}

describe('counted loops: results', () => {
  it('give the iterations, counters and values of a plain loop for zero trips, maximumIterations below n, negative steps', async () => {
    const cases: { cmp: 'less' | 'lessEqual' | 'greater' | 'greaterEqual'; sub?: boolean; i0: number; n: number; step: number; max: number }[] = [
      { cmp: 'less', i0: 0, n: 7, step: 2, max: 100 },
      { cmp: 'less', i0: 0, n: 7, step: 2, max: 2 }, // maximumIterations smaller than the count
      { cmp: 'less', i0: 9, n: 7, step: 1, max: 100 }, // zero trips
      { cmp: 'less', i0: 0, n: 7, step: 1, max: 0 }, // zero trips by maximumIterations
      { cmp: 'less', i0: 0, n: 7, step: 1, max: -1 },
      { cmp: 'less', i0: 0, n: 7, step: -1, max: 5 }, // never ends but for maximumIterations
      { cmp: 'less', i0: 0, n: 7, step: 0, max: 4 },
      { cmp: 'greater', i0: 5, n: -4, step: -3, max: 100 },
      { cmp: 'greaterEqual', sub: true, i0: 5, n: -4, step: 3, max: 100 },
      { cmp: 'lessEqual', i0: -6, n: 6, step: 4, max: 100 },
      { cmp: 'less', i0: INT32_MAX - 5, n: INT32_MAX, step: 2, max: 100 },
    ];
    for (const k of cases) {
      const m = countingLoop(k.cmp, { sub: k.sub });
      const sess = new tf.Session({ graph: m.g });
      const x0 = tf.NDArray.from(Float32Array.from([1, -2, 4]), 'float32', [3]);
      const [i, c, x] = (await sess.run([m.i, m.c, m.x] as T[], [
        [m.i0, scalar(k.i0)],
        [m.n, scalar(k.n)],
        [m.step, scalar(k.step)],
        [m.max, scalar(k.max)],
        [m.x0, x0],
      ])) as tf.NDArray[];
      // The reference: the loop in JS.
      const test = { less: 'lt', lessEqual: 'le', greater: 'gt', greaterEqual: 'ge' }[k.cmp] as Cmp;
      let ri = k.i0;
      let rc = 0;
      const rx = [1, -2, 4].map(Math.fround);
      while (rc < k.max && holds(ri, test, k.n)) {
        ri = (ri + (k.sub ? -k.step : k.step)) | 0;
        for (let j = 0; j < 3; j++) rx[j] = Math.fround(Math.fround(rx[j]! * 0.5) + rc);
        rc++;
      }
      const what = JSON.stringify(k);
      expect(num(i!), what).toBe(ri);
      expect(num(c!), what).toBe(rc);
      expect(Array.from(x!.data as Float32Array), what).toEqual(rx);
      sess.close();
    }
  });
});

describe('loops allocate nothing per iteration (CPU)', () => {
  it('an inference loop over a TensorArray: a run of 60 iterations allocates nothing a run of 2 did not', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const n = tf.placeholder('int32', [], 'n');
      const xs = tf.placeholder('float32', [60, 4, 8], 'xs');
      const w = tf.constant(randomArray([8, 8], { seed: 1, min: -0.5, max: 0.5 }));
      const ta = new tf.TensorArray('float32', { size: 60, elementShape: [4, 8] }).unstack(xs);
      const [, h] = tf.whileLoop(
        (t: T) => tf.less(t, n),
        (t: T, h: T) => [tf.add(t, 1), tf.tanh(tf.add(tf.matmul(h, w), ta.read(t)))],
        [i32(0), tf.zeros([4, 8])],
      ) as T[];
      // A loop whose predicate reads data (runs cond each iteration): the same holds.
      const [, y] = tf.whileLoop((t: T, y: T) => tf.less(tf.reduceSum(y), tf.cast(n, 'float32')), (t: T, y: T) => [tf.add(t, 1), tf.add(y, 0.25)], [i32(0), tf.zeros([4])]) as T[];
      return { n, xs, h: h!, y: y! };
    });
    const sess = new tf.Session({ graph: g });
    const xs = randomArray([60, 4, 8], { seed: 2 });
    const plan = await sess.compile([m.h, m.y], [[m.n, scalar(2)], [m.xs, xs]]);
    const backend = new CpuBackend();
    const state = { variables: new Map(), opState: new Map() };
    const run = (n: number) => plan.run(backend, state, new Map([[m.n, scalar(n)], [m.xs, xs]]));
    await run(2);
    const after2 = allocationsOf(state);
    expect(after2.arenas).toBeGreaterThan(0);
    const [h60, y60] = await run(60);
    expect(allocationsOf(state)).toEqual(after2);
    await run(2);
    expect(allocationsOf(state)).toEqual(after2);
    // And the results are the loop's.
    const ref = (await sess.run([m.h, m.y] as T[], [[m.n, scalar(60)], [m.xs, xs]])) as tf.NDArray[];
    expectClose(h60!, ref[0]!);
    expect(Array.from(y60!.data as Float32Array)).toEqual(new Array(4).fill(15));
    sess.close();
  });

  it('a training loop (accumulators, a backward loop): the second run allocates nothing', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const xs = tf.placeholder('float32', [20, 4, 8], 'xs');
      const w = new tf.Variable(randomArray([8, 8], { seed: 3, min: -0.5, max: 0.5 }), { name: 'w' });
      const ta = new tf.TensorArray('float32', { size: 20, elementShape: [4, 8] }).unstack(xs);
      const out = new tf.TensorArray('float32', { size: 20, elementShape: [4, 8] });
      const [, , o] = tf.whileLoop(
        (t: T) => tf.less(t, 20),
        (t: T, h: T, o: tf.TensorArray) => {
          const h1 = tf.tanh(tf.add(tf.matmul(h, w), ta.read(t)));
          return [tf.add(t, 1), h1, o.write(t, h1)];
        },
        [i32(0), tf.zeros([4, 8]), out],
        { maximumIterations: 20 },
      ) as [T, T, tf.TensorArray];
      const loss = tf.reduceMean(tf.square(o.stack()));
      const train = new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
      return { xs, loss, train, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const xs = randomArray([20, 4, 8], { seed: 4 });
    const plan = await sess.compile([m.loss, m.train], [[m.xs, xs]]);
    const backend = new CpuBackend();
    const state = { variables: new Map([['w', randomArray([8, 8], { seed: 3, min: -0.5, max: 0.5 })]]), opState: new Map() };
    const feeds = new Map([[m.xs, xs]]);
    const first = num((await plan.run(backend, state, feeds))[0]!);
    const made = allocationsOf(state);
    const second = num((await plan.run(backend, state, feeds))[0]!);
    expect(allocationsOf(state)).toEqual(made);
    expect(second).toBeLessThan(first);
    sess.close();
  });
});

/** A dynamic_rnn-style training step: TensorArray in and out, maximumIterations, T fed through the input's shape. */
function rnnStep(steps: number) {
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const xs = tf.placeholder('float32', [steps, 2, 3], 'xs');
    const wx = new tf.Variable(randomArray([3, 4], { seed: 5, min: -0.5, max: 0.5 }), { name: 'wx' });
    const wh = new tf.Variable(randomArray([4, 4], { seed: 6, min: -0.5, max: 0.5 }), { name: 'wh' });
    const ta = new tf.TensorArray('float32', { size: steps, elementShape: [2, 3] }).unstack(xs);
    const out = new tf.TensorArray('float32', { size: steps, elementShape: [2, 4] });
    const [, , o] = tf.whileLoop(
      (t: T) => tf.less(t, steps),
      (t: T, h: T, o: tf.TensorArray) => {
        const h1 = tf.tanh(tf.add(tf.matmul(ta.read(t), wx), tf.matmul(h, wh)));
        return [tf.add(t, 1), h1, o.write(t, h1)];
      },
      [i32(0), tf.zeros([2, 4]), out],
      { maximumIterations: steps },
    ) as [T, T, tf.TensorArray];
    const loss = tf.reduceMean(tf.square(o.stack()));
    const grads = tf.gradients(loss, [wx, wh]) as T[];
    return { xs, loss, grads, init: tf.globalVariablesInitializer() };
  });
  return { g, ...m };
}

const onWebGpu = process.env.WEIR_BACKEND === 'webgpu' && process.env.WEIR_WEBGPU_PREFER_HOST === '0';

describe.runIf(onWebGpu)('loops on WebGPU with the predicate on the GPU', () => {
  /** The submissions and read-backs of one run (after two runs that make the buffers and bind groups), and its results. */
  async function measured(g: tf.Graph, fetches: T[], feeds: [T, tf.NDArray][], init?: tf.Operation) {
    const saved = process.env.WEIR_VERIFY_OPT;
    process.env.WEIR_VERIFY_OPT = '0';
    try {
      const backend = new WebGpuBackend(new CpuBackend());
      const sess = new tf.Session({ graph: g, backend });
      if (init) await sess.run(init);
      await sess.run(fetches, feeds);
      await sess.run(fetches, feeds);
      const before = { ...backend.stats };
      const out = (await sess.run(fetches, feeds)) as tf.NDArray[];
      const cost = { submissions: backend.stats.submissions - before.submissions, readbacks: backend.stats.readbacks - before.readbacks, buffers: backend.stats.buffers - before.buffers };
      sess.close();
      const cpu = new tf.Session({ graph: g, backend: 'cpu' });
      if (init) await cpu.run(init);
      const ref = (await cpu.run(fetches, feeds)) as tf.NDArray[];
      cpu.close();
      return { cost, out, ref };
    } finally {
      process.env.WEIR_VERIFY_OPT = saved;
    }
  }

  it('a dynamic_rnn-style forward and backward loop of 3 or 9 steps: one submission a run, no read-back, no new buffer, the results of the CPU', async () => {
    for (const steps of [3, 9]) {
      const m = rnnStep(steps);
      const { cost, out, ref } = await measured(m.g, [m.loss, ...m.grads], [[m.xs, randomArray([steps, 2, 3], { seed: 7 })]], m.init);
      out.forEach((a, k) => expectClose(a, ref[k]!, { atol: 1e-5, rtol: 1e-4 }));
      expect(cost).toEqual({ submissions: 1, readbacks: 0, buffers: 0 });
    }
  });

  it('a counted loop with maximumIterations smaller than n, zero trips and a negative step: no read-back per iteration', async () => {
    const m = countingLoop('greater', { sub: true });
    const x0 = tf.NDArray.from(Float32Array.from([1, 2, 3]), 'float32', [3]);
    const feeds = (i0: number, n: number, step: number, max: number): [T, tf.NDArray][] => [
      [m.i0, scalar(i0)],
      [m.n, scalar(n)],
      [m.step, scalar(step)],
      [m.max, scalar(max)],
      [m.x0, x0],
    ];
    // 3 iterations (maximumIterations), 10, 5, and none: one submission at most (none when nothing
    // ran on the GPU), whatever the count.
    for (const f of [feeds(10, 0, 1, 3), feeds(10, 0, 1, 100), feeds(10, 0, 2, 100), feeds(0, 5, 1, 100)]) {
      const { cost, out, ref } = await measured(m.g, [m.i, m.c, m.x], f);
      out.forEach((a, k) => expect(Array.from(a.data as ArrayLike<number>, Number)).toEqual(Array.from(ref[k]!.data as ArrayLike<number>, Number)));
      expect(cost.submissions).toBeLessThanOrEqual(1);
      expect(cost.readbacks).toBe(0);
    }
  });

  it('a counted loop whose bound the GPU computes reads it back once, on entry, whatever the count', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const v = tf.placeholder('float32', [4], 'v');
      // n = sum(v) as int32: a float reduction and a cast, on the GPU.
      const n = tf.cast(tf.reduceSum(tf.multiply(v, 2)), 'int32');
      const [i, x] = tf.whileLoop((i: T) => tf.less(i, n), (i: T, x: T) => [tf.add(i, 1), tf.add(tf.multiply(x, 0.5), 1)], [i32(0), tf.constant(3)]) as T[];
      return { v, i: i!, x: x! };
    });
    const costs = [];
    for (const total of [3, 12]) {
      const v = tf.NDArray.from(Float32Array.from([total / 2, 0, 0, 0]), 'float32', [4]);
      const r = await measured(g, [m.i, m.x], [[m.v, v]]);
      expect(num(r.out[0]!)).toBe(total);
      expect(num(r.out[0]!)).toBe(num(r.ref[0]!));
      expectClose(r.out[1]!, r.ref[1]!);
      costs.push(r.cost);
    }
    expect(costs[1]).toEqual(costs[0]);
    expect(costs[0]!.submissions).toBeLessThanOrEqual(2);
  });

  it('a loop whose predicate reads data still reads it each iteration, with the CPU results', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const lim = tf.placeholder('float32', [], 'lim');
      const [i, x] = tf.whileLoop((i: T, x: T) => tf.less(x, lim), (i: T, x: T) => [tf.add(i, 1), tf.add(tf.multiply(x, 1.5), 1)], [i32(0), tf.constant(1)]) as T[];
      return { lim, i: i!, x: x! };
    });
    const runs = [];
    for (const lim of [5, 50]) {
      const r = await measured(g, [m.i, m.x], [[m.lim, tf.NDArray.from(lim)]]);
      expect(num(r.out[0]!)).toBe(num(r.ref[0]!));
      expectClose(r.out[1]!, r.ref[1]!);
      runs.push({ iterations: num(r.out[0]!), cost: r.cost.submissions });
    }
    expect(runs[1]!.iterations).toBeGreaterThan(runs[0]!.iterations);
    expect(runs[1]!.cost - runs[0]!.cost).toBeGreaterThanOrEqual(runs[1]!.iterations - runs[0]!.iterations);
  });
});
