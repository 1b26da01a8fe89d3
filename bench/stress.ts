// A soak test of one process serving and training MNIST models the way JavaScript programs do:
// overlapping runs, failures between good runs, checkpoints under load.
//   npm run stress [-- --seconds 180 --backend cpu|webgpu --burst 256]
// Each round:
//   1. a burst of concurrent inference runs (Promise.all; batch sizes 1..32; several fetch shapes)
//      against a trained model, each answer compared bit for bit with the same request answered
//      alone before the soak began;
//   2. training steps and inference runs interleaved on one Session, all issued at once, compared
//      with a replica Session that makes the same calls one after another from the same checkpoint;
//   3. runs that must fail (bad feed shape, bad dtype, a label out of range, a product too large to
//      allocate) mixed into both, each checked for its error type;
//   every few rounds the trainer saves a checkpoint, the replica restores it, and both must agree.
// Reports runs per second, mismatches (must be 0), errors by type, heap and RSS after the first round
// and at the end (after a GC when run with --expose-gc, as `npm run stress` does). Exits 1 on any mismatch
// or unexpected error.
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../src/index.js';
import { IMAGE_SIZE, loadSplit, seededRandom, type Dataset } from '../examples/mnist-common/data.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '180' },
    backend: { type: 'string', default: 'cpu' },
    burst: { type: 'string', default: '256' },
    'save-every': { type: 'string', default: '5' },
  },
});
const SECONDS = Number(args.seconds);
const BURST = Number(args.burst);
const SAVE_EVERY = Number(args['save-every']);
const BACKEND = args.backend as 'cpu' | 'webgpu';
if (BACKEND !== 'cpu' && BACKEND !== 'webgpu') throw new Error(`--backend must be cpu or webgpu, not ${args.backend}`);

const { train, test } = loadSplit(6000, 2000);

function build() {
  const g = new tf.Graph();
  return g.asDefault(() => {
    tf.setRandomSeed(1);
    const x = tf.placeholder('float32', [null, IMAGE_SIZE], 'x');
    const y = tf.placeholder('int32', [null], 'y');
    const h = tf.layers.dense(x, 128, { activation: tf.nn.relu, name: 'hidden' });
    const logits = tf.layers.dense(h, 10, { name: 'out' });
    const probs = tf.nn.softmax(logits);
    const predicted = tf.argmax(logits, 1);
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
    const step = new tf.train.AdamOptimizer(1e-3).minimize(loss);
    // Fed [n, 1] and [1, n]: a product the size of n² floats, for runs that must fail with OOM.
    const a = tf.placeholder('float32', [null, 1], 'a');
    const b = tf.placeholder('float32', [1, null], 'b');
    const outer = tf.reduceSum(tf.matmul(a, b, { name: 'outer' }));
    return { g, x, y, probs, predicted, loss, step, a, b, outer, init: tf.globalVariablesInitializer(), saver: new tf.train.Saver() };
  });
}
type Model = ReturnType<typeof build>;

function rows(data: Dataset, start: number, n: number): { images: tf.NDArray; labels: tf.NDArray } {
  const s = start % (data.count - n);
  return {
    images: tf.NDArray.from(data.images.slice(s * IMAGE_SIZE, (s + n) * IMAGE_SIZE), undefined, [n, IMAGE_SIZE]),
    labels: tf.NDArray.from(data.labels.slice(s, s + n), 'int32'),
  };
}

type Call = (m: Model, sess: tf.Session) => Promise<unknown>;

/** A request; `fails` names the error it must fail with. */
interface Request {
  call: Call;
  fails?: string;
}

function inference(i: number, random: () => number): Request {
  const n = 1 + Math.floor(random() * 32);
  const { images } = rows(test, Math.floor(random() * 1e6), n);
  const kind = i % 3;
  return {
    call: (m, s) => (kind === 0 ? s.run(m.probs, [[m.x, images]]) : kind === 1 ? s.run({ p: m.predicted }, [[m.x, images]]) : s.run([m.probs, m.predicted], [[m.x, images]])),
  };
}

function failing(i: number): Request {
  switch (i % 4) {
    case 0:
      return { call: (m, s) => s.run(m.probs, [[m.x, new Float32Array(IMAGE_SIZE - 1)]]), fails: 'InvalidArgumentError' };
    case 1:
      return { call: (m, s) => s.run(m.probs, [[m.x, tf.NDArray.from([[1, 2]], 'int32')]]), fails: 'InvalidArgumentError' };
    case 2: {
      const { images } = rows(test, i, 4);
      return { call: (m, s) => s.run(m.loss, [[m.x, images], [m.y, tf.NDArray.from([0, 1, 99, 2], 'int32')]]), fails: 'InvalidArgumentError' };
    }
    default:
      return { call: (m, s) => s.run(m.outer, [[m.a, new Float32Array(200_000)], [m.b, new Float32Array(200_000)]]), fails: 'ResourceExhaustedError' };
  }
}

function trainStep(i: number): Request {
  const { images, labels } = rows(train, i * 64, 64);
  return { call: (m, s) => s.run([m.loss, m.step], [[m.x, images], [m.y, labels]]) };
}

const stats = { runs: 0, mismatches: 0, unexpected: 0, errors: new Map<string, number>() };

async function settle(reqs: readonly Request[], m: Model, sess: tf.Session): Promise<PromiseSettledResult<unknown>[]> {
  const out = await Promise.allSettled(reqs.map((r) => r.call(m, sess)));
  stats.runs += reqs.length;
  out.forEach((r, i) => {
    const want = reqs[i]!.fails;
    if (r.status === 'rejected') {
      const name = (r.reason as Error)?.constructor?.name ?? String(r.reason);
      stats.errors.set(name, (stats.errors.get(name) ?? 0) + 1);
      if (name !== want) {
        stats.unexpected++;
        console.error(`unexpected ${name}: ${(r.reason as Error)?.message}`);
      }
    } else if (want) {
      stats.unexpected++;
      console.error(`a run that must fail with ${want} succeeded`);
    }
  });
  return out;
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof tf.NDArray && b instanceof tf.NDArray) {
    if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return false;
    const x = a.data as ArrayLike<number | bigint>;
    const y = b.data as ArrayLike<number | bigint>;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => same(v, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

function compare(what: string, got: PromiseSettledResult<unknown>[], want: PromiseSettledResult<unknown>[]): void {
  got.forEach((g, i) => {
    const w = want[i]!;
    const ok = g.status === w.status && (g.status === 'rejected' || same(g.value, (w as PromiseFulfilledResult<unknown>).value));
    if (ok) return;
    if (stats.mismatches++ < 5) console.error(`mismatch in ${what}, request ${i}: ${describe(g)} vs ${describe(w)}`);
  });
}

function describe(r: PromiseSettledResult<unknown>): string {
  if (r.status === 'rejected') return `${(r.reason as Error)?.constructor?.name}: ${(r.reason as Error)?.message}`;
  return JSON.stringify(r.value, (_k, v: unknown) => (v instanceof tf.NDArray ? (v.toFlat() as unknown[]).slice(0, 4).map(String) : v)).slice(0, 200);
}

function memory(): { heapMB: number; rssMB: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heapMB: m.heapUsed / 2 ** 20, rssMB: m.rss / 2 ** 20 };
}

async function sequential(reqs: readonly Request[], m: Model, sess: tf.Session): Promise<PromiseSettledResult<unknown>[]> {
  const out: PromiseSettledResult<unknown>[] = [];
  for (const r of reqs) {
    try {
      out.push({ status: 'fulfilled', value: await r.call(m, sess) });
    } catch (reason) {
      out.push({ status: 'rejected', reason });
    }
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'weir-stress-'));
try {
  // The served model: 300 Adam steps, then frozen.
  const served = build();
  const server = new tf.Session({ graph: served.g, backend: BACKEND });
  await server.run(served.init);
  for (let i = 0; i < 300; i++) await trainStep(i).call(served, server);
  const { images, labels } = rows(test, 0, 1000);
  const pred = (await server.run(served.predicted, [[served.x, images]])) as tf.NDArray;
  const acc = (pred.toFlat() as (number | bigint)[]).filter((p, i) => Number(p) === labels.data[i]).length / 1000;
  console.log(`served model: test accuracy ${acc.toFixed(3)} after 300 steps (backend ${BACKEND})`);

  // A pool of requests with their answers given alone, before any overlap.
  const random = seededRandom(7);
  const pool: Request[] = [];
  for (let i = 0; i < BURST; i++) pool.push(i % 16 === 15 ? failing(i >> 4) : inference(i, random));
  const alone = await sequential(pool, served, server);

  // The trainer and its replica start from one checkpoint.
  const trainer = build();
  const replica = build();
  const tsess = new tf.Session({ graph: trainer.g, backend: BACKEND });
  const rsess = new tf.Session({ graph: replica.g, backend: BACKEND });
  await tsess.run(trainer.init);
  let ckpt = await trainer.saver.save(tsess, join(dir, 'model'));
  await replica.saver.restore(rsess, ckpt);

  let start = memory();
  const t0 = performance.now();
  let round = 0;
  let steps = 0;
  let saves = 0;
  let lastReport = t0;
  while (performance.now() - t0 < SECONDS * 1000) {
    round++;
    // 1. A burst of concurrent inference (and failing) runs in a shuffled order.
    const order = Array.from(pool.keys()).sort(() => random() - 0.5);
    const got = await settle(order.map((k) => pool[k]!), served, server);
    compare('the inference burst', got, order.map((k) => alone[k]!));

    // 2. Training and inference interleaved, against the replica making the same calls in turn.
    const mixed: Request[] = [];
    for (let i = 0; i < 24; i++) mixed.push(i % 3 === 0 ? trainStep(steps++) : i % 8 === 7 ? failing(round + i) : inference(i, random));
    const concurrent = await settle(mixed, trainer, tsess);
    compare('training interleaved with inference', concurrent, await sequential(mixed, replica, rsess));

    // 3. A checkpoint under load: save from the trainer, restore into the replica, compare a run.
    if (round % SAVE_EVERY === 0) {
      const probe = inference(0, seededRandom(round));
      const [saved] = await Promise.all([trainer.saver.save(tsess, join(dir, 'model'), { globalStep: round }), probe.call(trainer, tsess)]);
      ckpt = saved;
      await replica.saver.restore(rsess, ckpt);
      compare('the run after a checkpoint', await sequential([probe], trainer, tsess), await sequential([probe], replica, rsess));
      saves++;
    }
    // Memory is measured from the end of the first round, once every plan has been compiled.
    if (round === 1) start = memory();
    const now = performance.now();
    if (now - lastReport > 10_000) {
      lastReport = now;
      const m = memory();
      console.log(
        `  ${((now - t0) / 1000).toFixed(0)} s: ${stats.runs} runs (${((stats.runs * 1000) / (now - t0)).toFixed(0)}/s), ${steps} training steps, ${saves} checkpoints, mismatches ${stats.mismatches}, heap ${m.heapMB.toFixed(1)} MB, rss ${m.rssMB.toFixed(0)} MB`,
      );
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const end = memory();
  server.close();
  tsess.close();
  rsess.close();
  const errors = [...stats.errors].map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(
    `stress backend=${BACKEND} seconds=${seconds.toFixed(0)} rounds=${round} runs=${stats.runs} runs_per_s=${(stats.runs / seconds).toFixed(0)} ` +
      `train_steps=${steps} checkpoints=${saves} mismatches=${stats.mismatches} unexpected_errors=${stats.unexpected} ${errors}`,
  );
  console.log(
    `memory heap_mb start=${start.heapMB.toFixed(1)} end=${end.heapMB.toFixed(1)} rss_mb start=${start.rssMB.toFixed(0)} end=${end.rssMB.toFixed(0)}` +
      ((globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for heap figures after a collection)'),
  );
  if (stats.mismatches > 0 || stats.unexpected > 0) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
