// Overlapping Session.run calls each get exactly the results they would get alone; failing runs,
// OOM and closing the session leave the other runs and the session sound.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { CpuBackend } from '../runtime/cpu/backend.js';
import type { KernelNode, RuntimeState } from '../runtime/backend.js';
import { randomArray } from './helpers.js';

/** Runs `fn` with verification runs (WEIR_VERIFY_OPT) switched on or off; they take turns, so they would hide overlap. */
function withVerify(on: boolean): void {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.WEIR_VERIFY_OPT;
    process.env.WEIR_VERIFY_OPT = on ? '1' : '0';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.WEIR_VERIFY_OPT;
    else process.env.WEIR_VERIFY_OPT = saved;
  });
}

function matmulModel() {
  const g = new tf.Graph();
  return g.asDefault(() => {
    const x = tf.placeholder('float32', [null, 3], 'x');
    const W = new tf.Variable(tf.ones([3, 2]), { name: 'W' });
    const y = tf.matmul(x, W);
    return { g, x, W, y };
  });
}

/** A small classifier with a training op, deterministic given its seed. */
function mlp(seed: number) {
  const g = new tf.Graph();
  return g.asDefault(() => {
    tf.setRandomSeed(seed);
    const x = tf.placeholder('float32', [null, 8], 'x');
    const labels = tf.placeholder('int32', [null], 'labels');
    const h = tf.layers.dense(x, 16, { activation: tf.nn.relu });
    const logits = tf.layers.dense(h, 4);
    const probs = tf.nn.softmax(logits);
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels, logits }));
    const train = new tf.train.AdamOptimizer(0.05).minimize(loss);
    const gathered = tf.gather(probs, tf.placeholder('int32', [null], 'rows'));
    // A summary runs on the host: on WebGPU its run waits mid-way for the loss to be read back.
    const summary = tf.summary.scalar('loss', loss);
    return { g, x, labels, probs, loss, train, gathered, summary, init: tf.globalVariablesInitializer() };
  });
}

/** The reported case: x·ones([3, 2]) for four feeds at once must give each feed its own answer. */
async function fourFeeds(backend: 'cpu' | 'webgpu'): Promise<void> {
  const { g, x, W, y } = matmulModel();
  const sess = new tf.Session({ graph: g, backend });
  await sess.run(W.initializer);
  const out = await Promise.all([1, 2, 3, 4].map((i) => sess.run(y, [[x, [[i, i, i]]]])));
  expect(out.map(flat)).toEqual([
    [3, 3],
    [6, 6],
    [9, 9],
    [12, 12],
  ]);
  sess.close();
}

const batch = (n: number, seed: number) => randomArray([n, 8], { seed });
const labelsOf = (n: number, seed: number) => tf.NDArray.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 4), 'int32');
const flat = (a: tf.NDArray | null) => Array.from(a!.toFlat() as number[]);

for (const verify of [false, true]) {
  describe(`concurrent runs on the CPU (verification ${verify ? 'on' : 'off'})`, () => {
    withVerify(verify);

    it('Promise.all over one plan with different feeds returns each run its own answer', () => fourFeeds('cpu'));

    it('different fetch shapes and plans overlap and equal the sequential answers', async () => {
      const m = mlp(3);
      const sess = new tf.Session({ graph: m.g });
      await sess.run(m.init);
      const requests = Array.from({ length: 24 }, (_, i) => {
        const n = 1 + (i % 5) * 7;
        const feeds = [[m.x, batch(n, i)]] as [tf.Tensor, tf.NDArray][];
        if (i % 3 === 0) return () => sess.run({ p: m.probs, rows: m.gathered }, [...feeds, [m.g.getTensorByName('rows:0'), tf.NDArray.from([0, n - 1], 'int32')]]);
        if (i % 3 === 1) return () => sess.run([m.probs], feeds);
        return () => sess.run(m.probs, feeds);
      });
      const sequential = [];
      for (const r of requests) sequential.push(await r());
      const concurrent = await Promise.all(requests.map((r) => r()));
      expect(concurrent).toEqual(sequential);
    });

    it('training and inference interleaved on one session equal the same calls made one after another', async () => {
      const calls = (m: ReturnType<typeof mlp>, sess: tf.Session) =>
        Array.from({ length: 16 }, (_, i) =>
          i % 2 === 0
            ? () => sess.run([m.loss, m.train], [[m.x, batch(16, i)], [m.labels, labelsOf(16, i)]])
            : () => sess.run(m.probs, [[m.x, batch(5, 100 + i)]]),
        );
      const a = mlp(11);
      const sa = new tf.Session({ graph: a.g });
      await sa.run(a.init);
      const sequential = [];
      for (const c of calls(a, sa)) sequential.push(await c());
      const b = mlp(11);
      const sb = new tf.Session({ graph: b.g });
      await sb.run(b.init);
      const concurrent = await Promise.all(calls(b, sb).map((c) => c()));
      expect(concurrent).toEqual(sequential);
      // No update was lost: the variables end where the sequential session's did.
      for (const [va, vb] of a.g.asDefault(() => tf.trainableVariables()).map((v, i) => [v, b.g.asDefault(() => tf.trainableVariables())[i]!] as const)) {
        expect(flat(await sb.run(vb))).toEqual(flat(await sa.run(va)));
      }
    });

    it('a failing run among good ones fails alone', async () => {
      const m = mlp(5);
      const sess = new tf.Session({ graph: m.g });
      await sess.run(m.init);
      const rows = m.g.getTensorByName('rows:0');
      const good = (i: number) => sess.run(m.gathered, [[m.x, batch(6, i)], [rows, tf.NDArray.from([i % 6], 'int32')]]);
      const want = [];
      for (let i = 0; i < 6; i++) want.push(await good(i));
      const results = await Promise.allSettled([
        good(0),
        sess.run(m.gathered, [[m.x, batch(6, 9)], [rows, tf.NDArray.from([40], 'int32')]]), // index out of range, mid-run
        good(1),
        sess.run(m.probs, [[m.x, randomArray([6, 5], { seed: 1 })]]), // bad feed shape
        good(2),
        good(3),
        sess.run(m.probs, [[m.x, batch(3, 0)], [m.labels, tf.NDArray.from([1.5], 'float32')]]), // bad feed dtype
        good(4),
        good(5),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
      for (const e of errors) expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect(errors[0]!.message).toMatch(/40/);
      const values = results.filter((r): r is PromiseFulfilledResult<tf.NDArray> => r.status === 'fulfilled').map((r) => r.value);
      expect(values).toEqual(want);
    });
  });
}

describe('allocation failures', () => {
  it('a tensor too large to allocate is a ResourceExhaustedError naming the op, and the session stays usable', async () => {
    const g = new tf.Graph();
    const { huge, small } = g.asDefault(() => ({ huge: tf.zeros([1e6, 1e6], 'float32', 'huge'), small: tf.add(tf.ones([2]), 1, 'small') }));
    const sess = new tf.Session({ graph: g });
    const err = await sess.run(huge).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(tf.errors.ResourceExhaustedError);
    expect((err as Error).message).toMatch(/OOM when allocating tensor with shape\[1000000,1000000\] and type float32/);
    expect((err as Error).message).toMatch(/huge/);
    expect(flat(await sess.run(small))).toEqual([2, 2]);
  });

  it('a MatMul whose product cannot be allocated is a ResourceExhaustedError, and the next run works', async () => {
    const g = new tf.Graph();
    const { a, b, prod, sum } = g.asDefault(() => {
      const a = tf.placeholder('float32', [null, 1], 'a');
      const b = tf.placeholder('float32', [1, null], 'b');
      const prod = tf.matmul(a, b, { name: 'outer' });
      return { a, b, prod, sum: tf.reduceSum(prod) };
    });
    const sess = new tf.Session({ graph: g });
    const big = 100_000;
    const err = await sess.run(sum, [[a, new Float32Array(big)], [b, new Float32Array(big)]]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(tf.errors.ResourceExhaustedError);
    expect((err as Error).message).toMatch(/outer/);
    expect((err as Error).message).toMatch(/shape\[100000,100000\]/);
    expect(flat(await sess.run(prod, [[a, [[1], [2]]], [b, [[3, 4]]]]))).toEqual([3, 4, 6, 8]);
  });
});

describe('allocation failures inside kernels', () => {
  withVerify(false); // the reference run on a plain CPU backend would succeed where the failing backend does not

  it('scratch space a kernel cannot get (a typed array, a WebAssembly memory that cannot grow) is a ResourceExhaustedError naming the op', async () => {
    const failures = [
      () => new ArrayBuffer(2 ** 52),
      () => new WebAssembly.Memory({ initial: 1, maximum: 1 }).grow(1),
    ];
    for (const fail of failures) {
      let thrown: unknown;
      try {
        fail();
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(RangeError);
      class ScratchFails extends CpuBackend {
        failing = true;
        override execute(node: KernelNode, inputs: tf.NDArray[], state: RuntimeState<tf.NDArray>): tf.NDArray[] {
          if (node.type === 'MatMul' && this.failing) throw thrown;
          return super.execute(node, inputs, state);
        }
      }
      const backend = new ScratchFails();
      const { g, x, W, y } = matmulModel();
      const sess = new tf.Session({ graph: g, backend });
      await sess.run(W.initializer);
      const err = await sess.run(y, [[x, [[1, 2, 3]]]]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(tf.errors.ResourceExhaustedError);
      expect((err as Error).message).toMatch(/MatMul op 'MatMul'.*OOM when allocating tensor with shape\[1,2\] and type float32 on cpu/);
      backend.failing = false;
      expect(flat(await sess.run(y, [[x, [[1, 2, 3]]]]))).toEqual([6, 6]);
    }
  });
});

describe('closing a session with runs in flight', () => {
  withVerify(true); // verification runs take turns: the later ones are still waiting when close() comes

  it('fails the runs that had not finished with a CancelledError, and later runs with FailedPrecondition', async () => {
    const { g, x, W, y } = matmulModel();
    const sess = new tf.Session({ graph: g });
    await sess.run(W.initializer);
    const runs = [1, 2, 3, 4].map((i) => sess.run(y, [[x, [[i, i, i]]]]));
    sess.close();
    const settled = await Promise.allSettled(runs);
    const rejected = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThanOrEqual(3);
    for (const r of rejected) {
      expect(r.reason).toBeInstanceOf(tf.errors.CancelledError);
      expect((r.reason as Error).message).toMatch(/Session has been closed/);
    }
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') expect(flat(r.value)).toEqual([3 * (i + 1), 3 * (i + 1)]);
    });
    await expect(sess.run(y, [[x, [[1, 1, 1]]]])).rejects.toBeInstanceOf(tf.errors.FailedPreconditionError);
  });
});

describe('concurrent runs on WebGPU', () => {
  withVerify(false);

  // Slow on SwiftShader: every plan compiles its shaders on first use.
  it('Promise.all with different feeds, fetch shapes and training steps equals the same calls made one after another', { timeout: 180_000 }, async () => {
    const calls = (m: ReturnType<typeof mlp>, sess: tf.Session) =>
      Array.from({ length: 9 }, (_, i) =>
        i % 3 === 0
          ? () => sess.run([m.summary, m.loss, m.train], [[m.x, batch(8, i)], [m.labels, labelsOf(8, i)]])
          : () => sess.run(m.probs, [[m.x, batch(1 + (i % 2) * 4, 50 + i)]]),
      );
    const a = mlp(21);
    const sa = new tf.Session({ graph: a.g, backend: 'webgpu' });
    await sa.run(a.init);
    const sequential = [];
    for (const c of calls(a, sa)) sequential.push(await c());
    const b = mlp(21);
    const sb = new tf.Session({ graph: b.g, backend: 'webgpu' });
    await sb.run(b.init);
    const concurrent = await Promise.all(calls(b, sb).map((c) => c()));
    expect(concurrent).toEqual(sequential);
    sa.close();
    sb.close();
  });

  it('the issue case: four feeds of one plan give four answers', () => fourFeeds('webgpu'));
});
