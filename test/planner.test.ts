import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { bytesPerElement } from '../src/core/dtypes.js';
import { planMemory, type MemStep } from '../runtime/arena.js';
import type { Plan } from '../runtime/plan.js';
import { buildCnn } from '../examples/mnist-cnn/main.js';
import { buildBnNet } from '../examples/mnist-bn/main.js';
import { randomArray, rng } from './helpers.js';
import { isAliasOp, registerOp } from '../ops/registry.js';
import { registerCpuKernel } from '../runtime/cpu/registry.js';

/**
 * Re-derives liveness from the plan's steps, independently of the planner, and checks that no two
 * values live at the same time share a byte of the arena. A value computed in place may take the
 * memory of an input whose last use is that very step. Returns how many planned values it saw.
 */
function checkNoOverlap(plan: Plan): number {
  const mem = plan.memory!;
  expect(mem).toBeDefined();
  const root = new Map<number, number>();
  const birth = new Map<number, number>();
  plan.steps.forEach((s, i) =>
    s.outputSlots.forEach((slot) => {
      if (isAliasOp(s.node.type) && s.inputSlots[0]! >= 0) root.set(slot, root.get(s.inputSlots[0]!) ?? s.inputSlots[0]!);
      else root.set(slot, slot);
      birth.set(slot, i);
    }),
  );
  const last = new Map<number, number>();
  const use = (slot: number, i: number): void => {
    const r = root.get(slot) ?? slot;
    last.set(r, Math.max(last.get(r) ?? -1, i));
  };
  plan.steps.forEach((s, i) => {
    s.outputSlots.forEach((slot) => use(slot, i));
    s.inputSlots.forEach((slot) => slot >= 0 && use(slot, i));
  });
  for (const f of plan.fetchSlots) use(f, plan.steps.length);
  const planned = [...mem.placement.entries()].map(([slot, p]) => ({
    slot,
    from: birth.get(slot)!,
    to: last.get(slot)!,
    lo: p.offset,
    hi: p.offset + p.shape.reduce((a, b) => a * b, 1) * bytesPerElement(p.dtype),
  }));
  for (const v of planned) {
    expect(v.hi, `slot ${v.slot} inside the arena`).toBeLessThanOrEqual(mem.arenaBytes);
    expect(v.lo % 16, 'aligned').toBe(0);
  }
  for (let a = 0; a < planned.length; a++) {
    for (let b = a + 1; b < planned.length; b++) {
      const x = planned[a]!;
      const y = planned[b]!;
      const bytes = x.lo < y.hi && y.lo < x.hi;
      if (!bytes) continue;
      // Sharing is fine when one life ends where the other begins and the later one is computed in
      // place over the earlier (the same step reads the old and writes the new element by element).
      const [first, second] = x.from <= y.from ? [x, y] : [y, x];
      const handover = first.to === second.from && mem.inPlace.has(second.slot) && x.lo === y.lo;
      const disjointInTime = first.to < second.from;
      expect(disjointInTime || handover, `slots ${x.slot} [${x.from},${x.to}] and ${y.slot} [${y.from},${y.to}] overlap in time and in bytes`).toBe(true);
    }
  }
  return planned.length;
}

async function trainStepPlan(build: () => { fetches: (tf.Tensor | tf.Operation)[]; feeds: [tf.Tensor, tf.NDArray][] }, g: tf.Graph) {
  const { fetches, feeds, init } = g.asDefault(() => ({ ...build(), init: tf.globalVariablesInitializer() }));
  const sess = new tf.Session({ graph: g });
  await sess.run(init);
  const plan = await sess.compile(fetches, feeds);
  // Two steps: the second reuses the arena of the first; both are checked against the unoptimized
  // plan by the session's verification mode (WEIR_VERIFY_OPT=1 in the test environment).
  await sess.run(fetches, feeds);
  const out = await sess.run(fetches, feeds);
  sess.close();
  return { plan, out };
}

function mlp(batch: number, sizes: number[]) {
  return () => {
    const x = tf.placeholder('float32', [null, sizes[0]!], 'x');
    const y = tf.placeholder('int32', [null], 'y');
    let h: tf.Tensor = x;
    sizes.slice(1).forEach((n, i) => {
      h = tf.layers.dense(h, n, { activation: i < sizes.length - 2 ? tf.nn.relu : undefined });
    });
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits: h }));
    const train = new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
    return {
      fetches: [loss, train],
      feeds: [
        [x, randomArray([batch, sizes[0]!], { seed: 1 })],
        [y, randomArray([batch], { seed: 2, dtype: 'int32', min: 0, max: sizes[sizes.length - 1]! })],
      ] as [tf.Tensor, tf.NDArray][],
    };
  };
}

describe('memory planner', () => {
  it('example MLP train step: no overlap, and at most half the memory of one buffer per intermediate', async () => {
    const { plan } = await trainStepPlan(mlp(32, [64, 48, 32, 10]), new tf.Graph());
    expect(checkNoOverlap(plan)).toBeGreaterThan(10);
    expect(plan.stats.plannedPeakBytes).toBeGreaterThan(0);
    expect(plan.stats.plannedPeakBytes).toBeLessThanOrEqual(plan.stats.naivePeakBytes / 2);
    expect(plan.memory!.inPlace.size).toBeGreaterThan(0);
  });

  it('example CNN (mnist-cnn) train step at batch 2: no overlap', async () => {
    const g = new tf.Graph();
    g.seed = 3;
    const { plan } = await trainStepPlan(() => {
      const m = buildCnn(1e-3);
      return {
        fetches: [m.loss, m.trainOp],
        feeds: [
          [m.x, randomArray([2, 784], { seed: 4, min: 0, max: 1 })],
          [m.y, new tf.NDArray(Int32Array.of(3, 7), [2])],
        ],
      };
    }, g);
    checkNoOverlap(plan);
    expect(plan.steps.some((s) => s.node.type === '_FusedConv2D')).toBe(true);
  });

  it('example batch-norm net (mnist-bn) train step at batch 2: no overlap, update ops still run', async () => {
    const g = new tf.Graph();
    g.seed = 5;
    const { plan } = await trainStepPlan(() => {
      const m = buildBnNet(1e-3, 0.9);
      return {
        fetches: [m.loss, m.trainOp],
        feeds: [
          [m.x, randomArray([2, 784], { seed: 6, min: 0, max: 1 })],
          [m.y, new tf.NDArray(Int32Array.of(1, 2), [2])],
          [m.isTraining, new tf.NDArray(Uint8Array.of(1), [], 'bool')],
        ],
      };
    }, g);
    checkNoOverlap(plan);
    const assigns = plan.steps.filter((s) => s.node.type.startsWith('Assign'));
    expect(assigns.length).toBeGreaterThan(0);
  });

  it('random graphs: no overlap, and results equal to the unoptimized plan', async () => {
    for (let seed = 1; seed <= 25; seed++) {
      const r = rng(seed);
      const g = new tf.Graph();
      const n = 2 + Math.floor(r() * 4);
      const { x, outs } = g.asDefault(() => {
        const x = tf.placeholder('float32', [n, n], 'x');
        const vals: tf.Tensor[] = [x];
        const pick = () => vals[Math.floor(r() * vals.length)]!;
        for (let k = 0; k < 12; k++) {
          const c = r();
          let t: tf.Tensor;
          if (c < 0.2) t = tf.matmul(pick(), pick(), { transposeB: r() < 0.5 });
          else if (c < 0.45) t = tf.add(pick(), pick());
          else if (c < 0.6) t = tf.tanh(pick());
          else if (c < 0.7) t = tf.reshape(tf.transpose(pick()), [n, n]);
          else if (c < 0.8) t = tf.add(tf.reduceSum(pick(), 1, true), pick());
          else if (c < 0.9) t = tf.identity(pick());
          else t = tf.nn.softmax(pick());
          vals.push(t);
        }
        const outs = vals.slice(1).filter(() => r() < 0.3);
        outs.push(vals[vals.length - 1]!);
        return { x, outs };
      });
      const sess = new tf.Session({ graph: g });
      const feeds: [tf.Tensor, tf.NDArray][] = [[x, randomArray([n, n], { seed })]];
      const plan = await sess.compile(outs, feeds);
      checkNoOverlap(plan);
      const a = await sess.run(outs, feeds);
      const b = await new tf.Session({ graph: g, optimize: false }).run(outs, feeds);
      a.forEach((v, i) => expect(Array.from(v.data as Float32Array)).toEqual(Array.from(b[i]!.data as Float32Array)));
      sess.close();
    }
  });

  it('planMemory shares memory between values whose lives do not overlap, and computes in place', () => {
    const f = (slot: number, inputs: number[], inPlace = false): MemStep => ({
      inputs,
      outputs: [{ slot, dtype: 'float32', shape: [256], how: { kind: 'fresh' } }],
      inPlace,
    });
    // 0 (fed) -> 1 -> 2 -> 3 -> 4 (fetched): a chain.
    const chain = planMemory({ steps: [f(1, [0]), f(2, [1]), f(3, [2]), f(4, [3])], feeds: [0], fetches: [4] });
    expect(chain.naiveBytes).toBe(4 * 1024);
    expect(chain.arenaBytes).toBe(2 * 1024);
    const inPlace = planMemory({ steps: [f(1, [0]), f(2, [1], true), f(3, [2], true), f(4, [3], true)], feeds: [0], fetches: [4] });
    expect(inPlace.arenaBytes).toBe(1024);
    expect([...inPlace.inPlace]).toEqual([
      [2, 1],
      [3, 2],
      [4, 3],
    ]);
    // A value read later cannot be overwritten in place.
    const kept = planMemory({ steps: [f(1, [0]), f(2, [1], true), f(3, [1, 2], true)], feeds: [0], fetches: [3] });
    expect(kept.inPlace.has(2)).toBe(false);
    expect(kept.inPlace.get(3)).toBe(1);
    // A fetched value lives to the end: nothing reuses its memory.
    const fetched = planMemory({ steps: [f(1, [0]), f(2, [1], true), f(3, [2])], feeds: [0], fetches: [1, 3] });
    expect(fetched.inPlace.size).toBe(0);
    expect(fetched.placement.get(1)!.offset).not.toBe(fetched.placement.get(3)!.offset);
    // An alias keeps its root alive.
    const alias = planMemory({
      steps: [f(1, [0]), { inputs: [1], outputs: [{ slot: 2, dtype: 'float32', shape: [16, 16], how: { kind: 'alias', input: 0 } }], inPlace: false }, f(3, [0]), f(4, [2, 3])],
      feeds: [0],
      fetches: [4],
    });
    expect(alias.placement.has(2)).toBe(false);
    expect(alias.placement.get(1)!.offset).not.toBe(alias.placement.get(3)!.offset);
  });

  it('a plan allocates its arena once and keeps fetched values intact across runs', async () => {
    const g = new tf.Graph();
    const { x, h, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [4, 8], 'x');
      const h = tf.tanh(tf.matmul(x, tf.transpose(x)));
      return { x, h, y: tf.reduceSum(tf.exp(h)) };
    });
    const sess = new tf.Session({ graph: g });
    const v1 = randomArray([4, 8], { seed: 1 });
    const v2 = randomArray([4, 8], { seed: 2 });
    const [h1, y1] = await sess.run([h, y], [[x, v1]]);
    const keep = Array.from(h1.data as Float32Array);
    const plan = await sess.compile([h, y], [[x, v1]]);
    // Runs one after another share one arena of the plan's pool.
    type Memory = { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
    const pool = (plan as unknown as { arenas: { free: { memory: Memory }[]; created: number } }).arenas;
    expect(pool.created).toBe(1);
    const arena = pool.free[0]!.memory;
    expect(arena.byteLength).toBeGreaterThan(0);
    const [h2] = await sess.run([h, y], [[x, v2]]);
    expect(pool.created).toBe(1);
    expect(pool.free[0]!.memory).toBe(arena);
    expect(Array.from(h1.data as Float32Array)).toEqual(keep);
    expect(Array.from(h2.data as Float32Array)).not.toEqual(keep);
    // The fetched value is a copy: not in the arena's range (which may be a range of a larger heap buffer).
    const d = h1.data as Float32Array;
    const inArena = d.buffer === arena.buffer && d.byteOffset < arena.byteOffset + arena.byteLength && d.byteOffset + d.byteLength > arena.byteOffset;
    expect(inArena).toBe(false);
    expect(y1.size).toBe(1);
    sess.close();
  });

  it('copes with kernels that pass an input through or hand their planned buffers around', async () => {
    // An op the planner does not know returns its input as its output (an alias of arena memory)...
    registerOp({ type: 'TestPassThrough', inputs: ['x'], shape: (c) => [{ dtype: 'float32', shape: c.inputs[0]!.shape }], grad: null });
    registerCpuKernel('TestPassThrough', (inputs) => [inputs[0]!]);
    // ...and one allocates its two same-shaped outputs in the opposite order.
    registerOp({ type: 'TestSwapAlloc', inputs: ['x'], shape: (c) => [0, 1].map(() => ({ dtype: 'float32' as const, shape: c.inputs[0]!.shape })), grad: null });
    registerCpuKernel('TestSwapAlloc', ([x], _node, _state, outputs) => {
      const second = outputs.alloc('float32', x!.shape);
      const first = outputs.alloc('float32', x!.shape);
      const xd = x!.data as Float32Array;
      for (let i = 0; i < xd.length; i++) {
        (first.data as Float32Array)[i] = xd[i]! + 1;
        (second.data as Float32Array)[i] = xd[i]! + 2;
      }
      return [first, second];
    });
    const g = new tf.Graph();
    const { x, outs } = g.asDefault(() => {
      const x = tf.placeholder('float32', [3, 4], 'x');
      const e = tf.exp(x);
      const p = g.createOp('TestPassThrough', [e]).outputs[0]!;
      const [a, b] = g.createOp('TestSwapAlloc', [tf.tanh(p)]).outputs as [tf.Tensor, tf.Tensor];
      // e dies at the pass-through: without care its memory would be reused while p still holds it.
      return { x, outs: [tf.multiply(tf.sigmoid(a), 3), tf.add(tf.square(b), 1), tf.subtract(p, 1)] };
    });
    const feeds: [tf.Tensor, tf.NDArray][] = [[x, randomArray([3, 4], { seed: 9 })]];
    const sess = new tf.Session({ graph: g });
    const a = await sess.run(outs, feeds);
    const b = await new tf.Session({ graph: g, optimize: false }).run(outs, feeds);
    a.forEach((v, i) => expect(Array.from(v.data as Float32Array)).toEqual(Array.from(b[i]!.data as Float32Array)));
    checkNoOverlap(await sess.compile(outs, feeds));
  });

  it('plan.toString lists kernels in order with their buffers', async () => {
    const g = new tf.Graph();
    const { x, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 3], 'x');
      return { x, y: tf.reduceSum(tf.square(tf.add(x, 1))) };
    });
    const sess = new tf.Session({ graph: g });
    const plan = await sess.compile(y, [[x, randomArray([2, 3])]]);
    const text = plan.toString();
    expect(text).toMatch(/arena \d+ bytes/);
    expect(text).toMatch(/_FusedElementwise\s+\S+ \{Add \+ Square\}.*-> %\d+\[0, 24B\]/);
    expect(text).toMatch(/Sum\s+Sum/);
    sess.close();
  });
});
