import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '../src/index.js';
import type { NDArray } from '../src/core/ndarray.js';
import type { KernelNode, PlannedOutputs, RuntimeState, StepContext } from '../runtime/backend.js';
import { CpuBackend } from '../runtime/cpu/backend.js';
import { registerCpuKernel } from '../runtime/cpu/registry.js';
import { registerOp } from '../ops/registry.js';
import {
  freeHeapArray,
  freeHeapRegion,
  heapAddress,
  heapAlloc,
  heapArray,
  heapBuffer,
  heapFree,
  heapMemory,
  heapRegion,
  heapStats,
  setHeapRegionCap,
  setHeapRegionsEnabled,
} from '../runtime/cpu/heap.js';
import { allocationsOf, disposeRunScratch } from '../runtime/slab.js';
import { randomArray } from './helpers.js';

// WEIR_CPU_FAST=0 means no WebAssembly memory; regions need a shared one.
const memory = heapMemory() !== null;
const shared = heapMemory()?.shared === true;

afterEach(() => {
  setHeapRegionsEnabled(true);
});

// Tests here count the heap's region bytes exactly, so every test gives back what it took (closes
// its sessions, frees its regions): a range left to the collector would be given back at some
// later, unknown point. Verification runs (WEIR_VERIFY_OPT=1) leave their snapshot variables to the
// collector, so they are off; the tests compare with the unoptimized plan themselves.
let verify: string | undefined;
beforeAll(() => {
  verify = process.env.WEIR_VERIFY_OPT;
  process.env.WEIR_VERIFY_OPT = '0';
});
afterAll(() => {
  if (verify === undefined) delete process.env.WEIR_VERIFY_OPT;
  else process.env.WEIR_VERIFY_OPT = verify;
});

describe('the WebAssembly heap allocator', () => {
  it.runIf(memory)('hands out 64-byte aligned, disjoint ranges, and the same range again once it is freed', () => {
    const sizes = [1, 100, 4096, 70000, 64];
    const at = sizes.map((n) => heapAlloc(n));
    for (const a of at) {
      expect(a).toBeGreaterThanOrEqual(0);
      expect(a % 64).toBe(0);
    }
    // Fill each with its own byte; none overwrites another.
    at.forEach((a, i) => new Uint8Array(heapBuffer(), a, sizes[i]!).fill(i + 1));
    at.forEach((a, i) => expect(new Uint8Array(heapBuffer(), a, sizes[i]!).every((b) => b === i + 1)).toBe(true));
    // First fit: a freed range is the first that fits the same request again.
    heapFree(at[3]!);
    expect(heapAlloc(70000)).toBe(at[3]);
    for (const a of at) heapFree(a);
  });

  it.runIf(memory)('merges freed neighbours into one range', () => {
    // Requests larger than the whole memory are placed at its end, one after the other.
    const s = Math.ceil(heapStats().memoryBytes / 65536) * 65536;
    const a = heapAlloc(s);
    const b = heapAlloc(s);
    const c = heapAlloc(s);
    expect([b - a, c - b]).toEqual([s, s]);
    const live = heapStats().liveBytes;
    heapFree(a);
    heapFree(c);
    heapFree(b);
    expect(heapStats().liveBytes).toBe(live - 3 * s);
    // Only if a, b and c merged does one request for all three fit where a was.
    const all = heapAlloc(3 * s);
    expect(all).toBe(a);
    heapFree(all);
    heapFree(all); // an address given back twice is ignored
    expect(heapStats().liveBytes).toBe(live - 3 * s);
  });

  it.runIf(shared)('keeps region views valid and addressable when the memory grows', () => {
    const r = heapRegion(1024)!;
    expect(r).not.toBeNull();
    const before = new Float32Array(r.buffer, r.byteOffset, 256);
    expect(before.every((x) => x === 0)).toBe(true);
    before.forEach((_, i) => (before[i] = i + 0.5));
    const bytes = heapStats().memoryBytes;
    const big = heapRegion(bytes)!; // more than is free: the memory grows
    expect(heapStats().memoryBytes).toBeGreaterThan(bytes);
    const after = new Float32Array(heapBuffer(), r.byteOffset, 256);
    expect(Array.from(after)).toEqual(Array.from(before));
    after[3] = -7;
    expect(before[3]).toBe(-7);
    expect(heapAddress(before)).toBe(r.byteOffset);
    expect(heapAddress(after)).toBe(r.byteOffset);
    expect(heapAddress(before.subarray(10))).toBe(r.byteOffset + 40);
    expect(heapAddress(new Float32Array(256))).toBe(-1);
    expect(heapAddress(new Float32Array(new SharedArrayBuffer(1024)))).toBe(-1);
    freeHeapRegion(big);
    freeHeapRegion(r);
  });

  it.runIf(shared)('gives a region back once: freeing it again leaves later allocations alone', () => {
    const r = heapRegion(5000)!;
    const regionBytes = heapStats().regionBytes;
    freeHeapRegion(r);
    expect(heapStats().regionBytes).toBeLessThan(regionBytes);
    const again = heapRegion(5000)!;
    expect(again.byteOffset).toBe(r.byteOffset); // the same range, now another region's
    freeHeapRegion(r);
    expect(heapStats().regionBytes).toBe(regionBytes);
    // Had the second free taken the range back, this would be handed out over `again`.
    const third = heapRegion(5000)!;
    expect(third.byteOffset).not.toBe(again.byteOffset);
    freeHeapRegion(third);
    freeHeapRegion(again);
  });

  it.runIf(shared)('answers null past the cap on region bytes, or with regions off', () => {
    const a = heapArray('float32', 10)!;
    expect(heapAddress(a)).toBeGreaterThanOrEqual(0);
    expect(Array.from(a)).toEqual(new Array(10).fill(0));
    freeHeapArray(a);
    freeHeapArray(new Float32Array(4)); // not a heap array: ignored
    const cap = setHeapRegionCap(heapStats().regionBytes + 1000);
    try {
      expect(heapRegion(2000)).toBeNull();
      expect(heapArray('int32', 500)).toBeNull();
      const small = heapRegion(500);
      expect(small).not.toBeNull();
      freeHeapRegion(small!);
    } finally {
      setHeapRegionCap(cap);
    }
    setHeapRegionsEnabled(false);
    expect(heapRegion(16)).toBeNull();
    expect(heapArray('float32', 4)).toBeNull();
    expect(heapAlloc(16)).toBeGreaterThanOrEqual(0); // kernel scratch is unaffected
  });

  it('has no memory at all with WEIR_CPU_FAST=0', async () => {
    const was = process.env.WEIR_CPU_FAST;
    process.env.WEIR_CPU_FAST = '0';
    vi.resetModules();
    try {
      const h = await import('../runtime/cpu/heap.js');
      expect(h.heapMemory()).toBeNull();
      expect(h.heapAlloc(64)).toBe(-1);
      expect(h.heapRegion(64)).toBeNull();
      expect(h.heapArray('float32', 4)).toBeNull();
      expect(h.heapAddress(new Float32Array(4))).toBe(-1);
      expect(h.heapStats().memoryBytes).toBe(0);
    } finally {
      if (was === undefined) delete process.env.WEIR_CPU_FAST;
      else process.env.WEIR_CPU_FAST = was;
      vi.resetModules();
    }
  });
});

/** The CPU backend, noting where each kernel's outputs live. */
class WhereBackend extends CpuBackend {
  readonly outputs = new Map<string, { type: string; addresses: number[]; data: unknown[] }>();
  override execute(node: KernelNode, inputs: NDArray[], state: RuntimeState<NDArray>, ctx?: StepContext, planned?: PlannedOutputs): NDArray[] {
    const out = super.execute(node, inputs, state, ctx, planned);
    this.outputs.set(node.name, { type: node.type, addresses: out.map((o) => heapAddress(o.data as Float32Array)), data: out.map((o) => o.data) });
    return out;
  }
}

/** A small MLP trained with Adam (variables, slots, an arena with in-place fusions). */
function mlp(seed: number) {
  const g = new tf.Graph();
  g.seed = seed;
  const m = g.asDefault(() => {
    const x = tf.placeholder('float32', [null, 12], 'x');
    const y = tf.placeholder('int32', [null], 'y');
    let h: tf.Tensor = x;
    [12, 16, 4].slice(1).forEach((n, i, a) => {
      const w = tf.getVariable(`w${i}`, { shape: [i === 0 ? 12 : a[i - 1]!, n] });
      const b = tf.getVariable(`b${i}`, { shape: [n], initializer: tf.zerosInitializer() });
      h = tf.nn.biasAdd(tf.matmul(h, w), b);
      if (i === 0) h = tf.nn.relu(h);
    });
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits: h }));
    const train = new tf.train.AdamOptimizer(0.01).minimize(loss);
    return { x, y, loss, train, init: tf.globalVariablesInitializer(), vars: tf.globalVariables() };
  });
  const feeds = (k: number): [tf.Tensor, tf.NDArray][] => [
    [m.x, randomArray([8, 12], { seed: 100 + k })],
    [m.y, randomArray([8], { seed: 200 + k, dtype: 'int32', min: 0, max: 4 })],
  ];
  return { g, ...m, feeds };
}

/** Losses of `steps` training steps and the variables after them. */
async function train(sess: tf.Session, m: ReturnType<typeof mlp>, steps: number): Promise<{ losses: number[]; vars: number[][] }> {
  await sess.run(m.init);
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) losses.push((await sess.run([m.loss, m.train], m.feeds(k)))[0]!.scalar() as number);
  const vars = (await sess.run(m.vars.map((v) => v.value()))).map((v) => Array.from(v.data as Float32Array));
  return { losses, vars };
}

describe.runIf(shared)("a CPU session's memory in the heap", () => {
  it("puts a training session's variables and planned values in the heap, and trains as it does without", async () => {
    const m = mlp(3);
    const where = new WhereBackend();
    const sess = new tf.Session({ graph: m.g, backend: where });
    const inHeap = await train(sess, m, 4);
    const reads = [...where.outputs].filter(([, o]) => o.type === 'VariableV2');
    expect(reads.length).toBeGreaterThanOrEqual(m.vars.length);
    for (const [, r] of reads) expect(r.addresses[0]).toBeGreaterThanOrEqual(0);
    const matmuls = [...where.outputs.values()].filter((o) => o.type === 'MatMul' || o.type === '_FusedMatMul');
    expect(matmuls.length).toBeGreaterThan(2);
    for (const r of matmuls) expect(r.addresses[0]).toBeGreaterThanOrEqual(0);

    // Initializing again writes the variables' storage in place (the same arrays).
    where.outputs.clear();
    await train(sess, m, 1);
    for (const [name, r] of reads) expect(where.outputs.get(name)?.data[0]).toBe(r.data[0]);
    sess.close();

    setHeapRegionsEnabled(false);
    const off = new WhereBackend();
    const plain = new tf.Session({ graph: m.g, backend: off });
    const outside = await train(plain, m, 4);
    for (const o of off.outputs.values()) for (const a of o.addresses) expect(a).toBe(-1);
    plain.close();
    expect(inHeap).toEqual(outside);
    // And against the unoptimized plan (no arena, other fusions): the same training, to rounding.
    setHeapRegionsEnabled(true);
    const unoptimized = new tf.Session({ backend: 'cpu', graph: m.g, optimize: false });
    const unopt = await train(unoptimized, m, 4);
    unoptimized.close();
    unopt.losses.forEach((l, i) => expect(l).toBeCloseTo(inHeap.losses[i]!, 5));
    unopt.vars.flat().forEach((v, i) => expect(v).toBeCloseTo(inHeap.vars.flat()[i]!, 5));
  });

  it('keeps one arena in the heap for runs one after another, and copies fetched values out of it', async () => {
    const g = new tf.Graph();
    const { x, h, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [4, 8], 'x');
      const h = tf.tanh(tf.matmul(x, tf.transpose(x)));
      return { x, h, y: tf.reduceSum(tf.exp(h)) };
    });
    const sess = new tf.Session({ backend: 'cpu', graph: g });
    const [h1] = await sess.run([h, y], [[x, randomArray([4, 8], { seed: 1 })]]);
    const keep = Array.from(h1!.data as Float32Array);
    const plan = await sess.compile([h, y], [[x, randomArray([4, 8], { seed: 1 })]]);
    type Pool = { free: { memory: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number } }[]; created: number };
    const pool = (plan as unknown as { arenas: Pool }).arenas;
    expect(pool.created).toBe(1);
    const arena = pool.free[0]!.memory;
    expect(heapAddress(new Uint8Array(arena.buffer, arena.byteOffset, 1))).toBe(arena.byteOffset);
    const [h2] = await sess.run([h, y], [[x, randomArray([4, 8], { seed: 2 })]]);
    expect(pool.created).toBe(1);
    expect(pool.free[0]!.memory).toBe(arena);
    expect(Array.from(h1!.data as Float32Array)).toEqual(keep);
    expect(Array.from(h2!.data as Float32Array)).not.toEqual(keep);
    for (const v of [h1!, h2!]) expect(heapAddress(v.data as Float32Array)).toBe(-1);
    sess.close();
  });

  it('keeps list elements too large for a slab chunk in the heap, reusing them run after run', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const xs = tf.placeholder('float32', [4, 20000], 'xs'); // 80 kB rows: over a quarter chunk
      return { xs, ys: tf.scan((a: tf.Tensor, x: tf.Tensor) => tf.add(tf.multiply(a, 0.5), tf.tanh(x)), xs) as tf.Tensor };
    });
    const sess = new tf.Session({ backend: 'cpu', graph: g });
    const plan = await sess.compile(m.ys, [[m.xs, randomArray([4, 20000], { seed: 0 })]]);
    sess.close();
    const backend = new CpuBackend();
    const state = { variables: new Map(), opState: new Map() };
    const check = async (seed: number) => {
      const xs = randomArray([4, 20000], { seed });
      const [ys] = await plan.run(backend, state, new Map([[m.xs, xs]]));
      const x = xs.data as Float32Array;
      const want = new Float32Array(4 * 20000);
      for (let t = 0; t < 4; t++) {
        // tf.scan without an initializer starts from the first element as it is.
        for (let i = 0; i < 20000; i++) want[t * 20000 + i] = t ? want[(t - 1) * 20000 + i]! * 0.5 + Math.tanh(x[t * 20000 + i]!) : x[i]!;
      }
      const got = ys!.data as Float32Array;
      for (let i = 0; i < want.length; i += 997) expect(got[i]).toBeCloseTo(want[i]!, 5);
    };
    const regions = heapStats().regionBytes;
    await check(1);
    const made = allocationsOf(state);
    expect(made.slabLarge).toBeGreaterThan(0);
    expect(heapStats().regionBytes - regions).toBeGreaterThanOrEqual(made.slabLarge * 80000);
    await check(2);
    await check(3);
    expect(allocationsOf(state)).toEqual(made);
    plan.dispose();
    disposeRunScratch(state, backend);
  });

  it('zero-fills a planned output unless its kernel says it overwrites every element', async () => {
    registerOp({ type: 'TestOverwrites', inputs: ['x'], shape: (c) => [0, 1].map(() => ({ dtype: 'float32' as const, shape: c.inputs[0]!.shape })), grad: null });
    registerCpuKernel('TestOverwrites', () => {
      throw new Error('run by the test backend');
    });
    const seen: number[][] = [];
    class Overwrites extends CpuBackend {
      override execute(node: KernelNode, inputs: NDArray[], state: RuntimeState<NDArray>, ctx?: StepContext, planned?: PlannedOutputs): NDArray[] {
        if (node.type !== 'TestOverwrites') return super.execute(node, inputs, state, ctx, planned);
        const shape = inputs[0]!.shape;
        const kept = planned!('float32', shape, true)!;
        const zeroed = planned!('float32', shape)!;
        seen.push([...(kept.data as Float32Array), ...(zeroed.data as Float32Array)]);
        (kept.data as Float32Array).fill(seen.length);
        (zeroed.data as Float32Array).fill(10 * seen.length);
        return [kept, zeroed];
      }
    }
    const g = new tf.Graph();
    const { x, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [3], 'x');
      const [a, b] = g.createOp('TestOverwrites', [tf.exp(x)]).outputs as [tf.Tensor, tf.Tensor];
      return { x, y: tf.add(a, b) };
    });
    const sess = new tf.Session({ graph: g, backend: new Overwrites() });
    for (let k = 1; k <= 3; k++) expect(Array.from((await sess.run(y, [[x, randomArray([3], { seed: k })]])).data as Float32Array)).toEqual([11 * k, 11 * k, 11 * k]);
    sess.close();
    // The first output keeps what the previous run left in its memory (its value, or the sum written
    // over it); the second starts at zero.
    expect(seen[0]).toEqual([0, 0, 0, 0, 0, 0]);
    for (const k of [1, 2]) {
      expect([[k, k, k], [11 * k, 11 * k, 11 * k]]).toContainEqual(seen[k]!.slice(0, 3));
      expect(seen[k]!.slice(3)).toEqual([0, 0, 0]);
    }
  });

  it('adds to and subtracts from a variable in its storage, the variable itself included', async () => {
    const g = new tf.Graph();
    const f0 = Float32Array.of(0.1, -2.5, 3e7, 1);
    const m = g.asDefault(() => {
      const f = new tf.Variable(new tf.NDArray(f0.slice(), [2, 2]), { name: 'f' });
      const i = new tf.Variable(new tf.NDArray(Int32Array.of(2 ** 31 - 1, -5, 7), [3]), { name: 'i' });
      const df = tf.placeholder('float32', [2, 2], 'df');
      return { f, i, addF: tf.assignAdd(f, df), subI: tf.assignSub(i, tf.constant(Int32Array.of(-1, 5, 7))), doubleF: tf.assignAdd(f, f.value()), df };
    });
    const where = new WhereBackend();
    const sess = new tf.Session({ graph: g, backend: where });
    await sess.run([m.f.initializer, m.i.initializer]);
    const d = Float32Array.of(0.2, 0.5, 1, -3);
    const want = Float32Array.from(f0, (x, k) => x + d[k]!);
    expect(Array.from((await sess.run(m.addF, [[m.df, new tf.NDArray(d, [2, 2])]])).data as Float32Array)).toEqual(Array.from(want));
    const storage = where.outputs.get(m.addF.op.name)!;
    expect(storage.addresses[0]).toBeGreaterThanOrEqual(0);
    expect(Array.from((await sess.run(m.doubleF)).data as Float32Array)).toEqual(Array.from(want, (x) => Math.fround(2 * x)));
    expect(where.outputs.get(m.doubleF.op.name)!.data[0]).toBe(storage.data[0]);
    // int32 wraps around, as TensorFlow's does.
    expect(Array.from((await sess.run(m.subI)).data as Int32Array)).toEqual([-(2 ** 31), -10, 0]);
    sess.close();
  });

  it("tells values in a plan's arena from other values in the heap (a kernel passing a variable through)", async () => {
    registerOp({ type: 'TestHeapPassThrough', inputs: ['x'], shape: (c) => [{ dtype: 'float32', shape: c.inputs[0]!.shape }], grad: null });
    registerCpuKernel('TestHeapPassThrough', (inputs) => [inputs[0]!]);
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const v = new tf.Variable(randomArray([64], { seed: 4 }), { name: 'v' });
      const x = tf.placeholder('float32', [64], 'x');
      const fromVariable = g.createOp('TestHeapPassThrough', [v.value()]).outputs[0]!;
      const fromArena = g.createOp('TestHeapPassThrough', [tf.exp(x)]).outputs[0]!;
      return { v, x, y: tf.add(tf.tanh(fromVariable), tf.tanh(fromArena)) };
    });
    const inputs: NDArray[] = [];
    class Inputs extends WhereBackend {
      override execute(node: KernelNode, ins: NDArray[], state: RuntimeState<NDArray>, ctx?: StepContext, planned?: PlannedOutputs): NDArray[] {
        if (node.type !== 'TestHeapPassThrough') inputs.push(...ins.filter((i) => i !== undefined));
        return super.execute(node, ins, state, ctx, planned);
      }
    }
    const backend = new Inputs();
    const sess = new tf.Session({ graph: g, backend });
    await sess.run(m.v.initializer);
    const x = randomArray([64], { seed: 5 });
    const y = await sess.run(m.y, [[m.x, x]]);
    const v = (await sess.run(m.v.value())).data as Float32Array;
    const xs = x.data as Float32Array;
    Array.from(y.data as Float32Array).forEach((e, i) => expect(e).toBeCloseTo(Math.tanh(v[i]!) + Math.tanh(Math.exp(xs[i]!)), 5));
    const storage = [...backend.outputs.values()].find((o) => o.type === 'VariableV2')!.data[0];
    // The variable passed through is used as it is: it is not the arena's, so nothing needs moving.
    expect(inputs.some((a) => a.data === storage)).toBe(true);
    sess.close();
  });

  it('gives overlapping runs of one plan what each gets alone', async () => {
    const m = mlp(5);
    const sess = new tf.Session({ backend: 'cpu', graph: m.g });
    await sess.run(m.init);
    const alone = [];
    for (let k = 0; k < 6; k++) alone.push(await sess.run(m.loss, m.feeds(k)));
    const together = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => sess.run(m.loss, m.feeds(k))));
    expect(together.map((t) => t.scalar())).toEqual(alone.map((t) => t.scalar()));
    sess.close();
  });

  it('keeps an Assign of another size correct, and writes one of the same size in place', async () => {
    const g = new tf.Graph();
    const { v, a, b } = g.asDefault(() => {
      const v = new tf.Variable(tf.zeros([3]), { name: 'v', validateShape: false });
      const p = tf.placeholder('float32', null, 'p');
      return { v, a: tf.assign(v, p, { validateShape: false }), b: tf.multiply(v.value(), 2), p };
    });
    const where = new WhereBackend();
    const sess = new tf.Session({ graph: g, backend: where, optimize: false });
    const p = g.getTensorByName('p:0');
    await sess.run(v.initializer);
    const first = await sess.run(a, [[p, new tf.NDArray(Float32Array.of(1, 2, 3, 4, 5), [5])]]);
    expect(Array.from(first.data as Float32Array)).toEqual([1, 2, 3, 4, 5]);
    const storage = where.outputs.get(a.op.name)!.data[0];
    expect(where.outputs.get(a.op.name)!.addresses[0]).toBeGreaterThanOrEqual(0);
    await sess.run(a, [[p, new tf.NDArray(Float32Array.of(5, 4, 3, 2, 1), [5])]]);
    expect(where.outputs.get(a.op.name)!.data[0]).toBe(storage);
    const [doubled] = await sess.run([b]);
    expect(Array.from(doubled!.data as Float32Array)).toEqual([10, 8, 6, 4, 2]);
    await sess.run(a, [[p, new tf.NDArray(Float32Array.of(7, 8), [2])]]);
    expect(Array.from((await sess.run(b)).data as Float32Array)).toEqual([14, 16]);
    sess.close();
  });

  it('gives the memory of sessions nobody closed back once they are collected', () => {
    // In a process of its own, where the collector can be called.
    const code = `
      const tf = await import(process.cwd() + '/src/index.ts');
      const heap = await import(process.cwd() + '/runtime/cpu/heap.ts');
      const g = new tf.Graph();
      const v = g.asDefault(() => new tf.Variable(tf.ones([1000]), { name: 'v' }));
      const x = g.asDefault(() => tf.placeholder('float32', [1000], 'x'));
      const y = g.asDefault(() => tf.exp(tf.multiply(v.value(), x)));
      const base = heap.heapStats().regionBytes;
      async function unclosed() {
        const s = new tf.Session({ backend: 'cpu', graph: g });
        await s.run(v.initializer);
        await s.run(y, [[x, new tf.NDArray(new Float32Array(1000), [1000])]]);
      }
      for (let i = 0; i < 5; i++) await unclosed();
      const made = heap.heapStats().regionBytes;
      for (let i = 0; i < 40 && heap.heapStats().regionBytes > base; i++) {
        globalThis.gc();
        await new Promise((r) => setTimeout(r, 25));
      }
      console.log(JSON.stringify({ base, made, after: heap.heapStats().regionBytes }));
    `;
    const env = { ...process.env, WEIR_VERIFY_OPT: '0' };
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], { env, encoding: 'utf8' });
    const { base, made, after } = JSON.parse(out.trim().split('\n').pop()!) as { base: number; made: number; after: number };
    expect(made).toBeGreaterThanOrEqual(base + 5 * 8000); // five sessions' variable and arena
    expect(after).toBe(base);
  });

  it("gives back a variable's storage replaced by an Assign of another size once the run is over, and a dropped plan's arena", async () => {
    const g = new tf.Graph();
    const { v, a, p, y } = g.asDefault(() => {
      const v = new tf.Variable(tf.zeros([1]), { name: 'v', validateShape: false });
      const p = tf.placeholder('float32', null, 'p');
      // The run reads the old storage, then replaces it.
      const before = tf.reduceSum(tf.identity(v.value()));
      const a = tf.controlDependencies([before], () => tf.assign(v, p, { validateShape: false }));
      return { v, a, p, y: tf.exp(tf.multiply(p, 2)) };
    });
    const sess = new tf.Session({ backend: 'cpu', graph: g, optimize: false, maxCachedPlans: 1 });
    await sess.run(v.initializer);
    const base = heapStats().regionBytes - 64; // v's one float takes 64 bytes
    for (const n of [5000, 7000, 5000, 9000, 5000]) {
      const value = randomArray([n], { seed: n });
      await sess.run(a, [[p, value]]);
      expect(heapStats().regionBytes - base).toBe(Math.ceil((4 * n) / 64) * 64);
      expect(Array.from((await sess.run(v.value())).data as Float32Array)).toEqual(Array.from(value.data as Float32Array));
    }
    sess.close();

    // Plans for other fed shapes push each other out of a one-plan cache: their arenas go back.
    const small = new tf.Session({ backend: 'cpu', graph: g, maxCachedPlans: 1 });
    const start = heapStats().regionBytes;
    for (const n of [3000, 5000, 3000, 5000, 3000]) {
      const feeds: [tf.Tensor, tf.NDArray][] = [[p, randomArray([n], { seed: n })]];
      await small.run(y, feeds);
      // Only the plan in the cache has an arena.
      const arenaBytes = (await small.compile(y, feeds)).memory!.arenaBytes;
      expect(arenaBytes).toBeGreaterThanOrEqual(4 * n);
      expect(heapStats().regionBytes - start).toBe(Math.ceil(arenaBytes / 64) * 64);
    }
    small.close();
    expect(heapStats().regionBytes).toBe(start);
  });

  it('gives a closed session’s arenas, variables and list scratch back', async () => {
    const m = mlp(7);
    const g = m.g;
    // A loop whose lists (scan's unstacked input and accumulated output) take the session's slab.
    const looped = g.asDefault(() => {
      const xs = tf.placeholder('float32', [5, 6], 'xs');
      return { xs, acc: tf.scan((a: tf.Tensor, x: tf.Tensor) => tf.add(a, tf.tanh(x)), xs) as tf.Tensor };
    });
    const base = heapStats().regionBytes;
    for (let k = 0; k < 8; k++) {
      const sess = new tf.Session({ backend: 'cpu', graph: g });
      await train(sess, m, 2);
      await sess.run(looped.acc, [[looped.xs, randomArray([5, 6], { seed: k })]]);
      expect(heapStats().regionBytes).toBeGreaterThan(base);
      sess.close();
      expect(heapStats().regionBytes).toBe(base);
    }
  });
});
