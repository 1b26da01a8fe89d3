// WebGPU array and optimizer kernels against the CPU backend: shapes that cross the transpose tile
// and workgroup boundaries, many-input concats, int64 indices, negative strides, optimizer steps.
// The GPU kernels are counted so that every case is known to have run on the GPU (small values
// on the host would otherwise run there).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';
import { getGpuKernel } from '../runtime/webgpu/registry.js';
import { expectClose, randomArray } from './helpers.js';

const calls = new Map<string, number>();
const originals = new Map<string, unknown>();
const COUNTED = [
  'Fill', 'Range', 'Transpose', 'BroadcastTo', 'ConcatV2', 'Split', 'SplitV', 'Pack', 'Unpack', 'Slice', 'StridedSlice',
  'StridedSliceGrad', 'GatherV2', 'UnsortedSegmentSum', 'OneHot', 'Tile', 'Pad', 'PadV2', 'ApplyGradientDescent',
  'ApplyMomentum', 'ApplyAdam', 'ApplyRMSProp', 'ApplyCenteredRMSProp', 'ApplyAdagrad',
];
beforeAll(() => {
  for (const type of COUNTED) {
    const def = getGpuKernel(type)!;
    const k = def.kernel;
    originals.set(type, k);
    def.kernel = (ctx, inputs) => {
      calls.set(type, (calls.get(type) ?? 0) + 1);
      return k(ctx, inputs);
    };
  }
});
afterAll(() => {
  for (const type of COUNTED) getGpuKernel(type)!.kernel = originals.get(type) as never;
});

/** x as a value that exists only on the GPU: a slice of a concatenation with a large GPU-made fill. */
function onGpu(x: tf.Tensor): tf.Tensor {
  const big = tf.fill([5000], tf.zeros([], x.dtype));
  const flat = tf.reshape(x, [-1]);
  const n = (x.shape as number[]).reduce((a, b) => a * b, 1);
  return tf.reshape(tf.slice(tf.concat([flat, big], 0), [0], [n]), tf.shape(x));
}

const i64 = (v: number): tf.Tensor => tf.constant(new tf.NDArray(BigInt64Array.from([BigInt(v)]), [], 'int64'));
const ph = (dtype: DType, shape: number[], name: string): tf.Tensor => tf.placeholder(dtype, shape, name);

/** Runs on both backends; returns [webgpu, cpu] results and checks the listed GPU kernels ran. */
async function both(graph: tf.Graph, fetches: tf.Tensor[], feeds: [tf.Tensor, tf.NDArray][], gpuOps: string[] = []): Promise<[tf.NDArray[], tf.NDArray[]]> {
  const before = new Map(gpuOps.map((t) => [t, calls.get(t) ?? 0]));
  const g = new tf.Session({ graph, backend: 'webgpu' });
  const c = new tf.Session({ graph, backend: 'cpu' });
  try {
    const a = (await g.run(fetches, feeds)) as tf.NDArray[];
    const b = (await c.run(fetches, feeds)) as tf.NDArray[];
    for (const t of gpuOps) expect(calls.get(t) ?? 0, `${t} ran on the GPU`).toBeGreaterThan(before.get(t)!);
    return [a, b];
  } finally {
    g.close();
    c.close();
  }
}

function same(a: tf.NDArray[], b: tf.NDArray[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    expect(x.dtype).toBe(b[i]!.dtype);
    expect(x.shape).toEqual(b[i]!.shape);
    expect(Array.from(x.data as ArrayLike<number | bigint>, Number)).toEqual(Array.from(b[i]!.data as ArrayLike<number | bigint>, Number));
  });
}

const arr = (shape: number[], dtype: DType = 'float32', seed = 1): tf.NDArray =>
  randomArray(shape, { dtype, seed, min: dtype === 'float32' ? -1 : -1000, max: dtype === 'float32' ? 1 : 1000 });

describe('webgpu transpose', () => {
  it('matches the CPU for 2-D-like (tiled) and general permutations, odd sizes and all dtypes', async () => {
    const cases: [number[], number[]][] = [
      [[1, 1], [1, 0]],
      [[3, 17], [1, 0]],
      [[33, 65], [1, 0]],
      [[1023, 3], [1, 0]],
      [[5, 31, 37], [0, 2, 1]],
      [[2, 3, 4, 5], [0, 1, 3, 2]],
      [[2, 3, 4, 5], [3, 1, 0, 2]],
      [[7, 1, 9], [2, 1, 0]],
      [[4, 6, 8], [1, 0, 2]],
      [[3, 4, 5], [0, 1, 2]],
      [[0, 4], [1, 0]],
    ];
    // Every case in float32; one tiled and one general case in the other storage types.
    for (const dtype of ['float32', 'int32', 'bool', 'int64'] as DType[]) {
      const g = new tf.Graph();
      const feeds: [tf.Tensor, tf.NDArray][] = [];
      const outs = g.asDefault(() =>
        (dtype === 'float32' ? cases : [cases[2]!, cases[8]!]).map(([shape, perm], k) => {
          const x = ph(dtype, shape, `x${k}`);
          feeds.push([x, arr(shape, dtype, k + 1)]);
          return tf.transpose(onGpu(x), perm);
        }),
      );
      const [a, b] = await both(g, outs, feeds, ['Transpose']);
      same(a, b);
    }
  });
});

describe('webgpu concat, split, pack', () => {
  it('concatenates more values than one dispatch binds, along every axis, with empty pieces', async () => {
    const g = new tf.Graph();
    const feeds: [tf.Tensor, tf.NDArray][] = [];
    const outs = g.asDefault(() => {
      const xs = Array.from({ length: 20 }, (_, k) => {
        const x = ph('float32', [3, k % 4, 5], `x${k}`);
        feeds.push([x, arr([3, k % 4, 5], 'float32', k + 7)]);
        return onGpu(x);
      });
      const rows = xs.slice(0, 9).map((x) => tf.transpose(x, [1, 0, 2]));
      return [tf.concat(xs, 1), tf.concat(rows, 0), tf.concat(xs.slice(1, 3).map((x) => tf.transpose(x, [0, 2, 1])), -1), tf.stack(xs.slice(0, 12).map((x) => tf.slice(x, [0, 0, 0], [3, 0, 5])), 1), tf.stack(xs.filter((_, k) => k % 4 === 3), 2)];
    });
    const [a, b] = await both(g, outs, feeds, ['ConcatV2', 'Pack']);
    same(a, b);
  });

  it('splits and unstacks into more outputs than one dispatch binds', async () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => ph('int64', [4, 30, 3], 'x'));
    const outs = g.asDefault(() => {
      const y = onGpu(x);
      return [...tf.split(y, 10, 1), ...tf.split(y, [7, 0, -1, 1], 1), ...tf.unstack(y, { axis: 2 }), ...tf.unstack(tf.slice(y, [0, 0, 0], [4, 9, 3]), { axis: 1 })];
    });
    const [a, b] = await both(g, outs, [[x, arr([4, 30, 3], 'int64')]], ['Split', 'SplitV', 'Unpack']);
    same(a, b);
  });

  it('reads axes and permutations computed on the GPU back before recording', async () => {
    const g = new tf.Graph();
    const [x, axis, perm] = g.asDefault(() => [ph('float32', [3, 4], 'x'), ph('int32', [], 'axis'), ph('int32', [2], 'perm')]);
    const outs = g.asDefault(() => {
      const y = onGpu(x);
      return [tf.concat([y, tf.multiply(y, 2)], onGpu(axis)), tf.transpose(y, onGpu(perm))];
    });
    const feeds: [tf.Tensor, tf.NDArray][] = [
      [x, arr([3, 4])],
      [axis, new tf.NDArray(Int32Array.from([1]), [])],
      [perm, new tf.NDArray(Int32Array.from([1, 0]), [2])],
    ];
    const [a, b] = await both(g, outs, feeds, ['ConcatV2', 'Transpose']);
    same(a, b);
    expect(a[0]!.shape).toEqual([3, 8]);
  });
});

describe('webgpu slicing', () => {
  it('strided slices with negative strides, masks, new and shrunk axes, and their gradients', async () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => ph('float32', [6, 7, 5], 'x'));
    const specs: [number[], number[], number[], Record<string, number>][] = [
      [[0, 0, 0], [6, 7, 5], [1, 1, 1], {}],
      [[-1, 0, 0], [0, 7, 5], [-1, 2, 3], { endMask: 1 }],
      [[5, 6, 4], [0, 0, 0], [-2, -3, -1], {}],
      [[1, 0], [4, 0], [1, -2], { ellipsisMask: 0, endMask: 2, beginMask: 2 }],
      [[0, 2, 0], [0, 3, 0], [1, 1, 1], { shrinkAxisMask: 1, newAxisMask: 4 }],
      [[0, -1], [0, -8], [1, -1], { ellipsisMask: 1 }],
      [[2, 2, 2], [2, 5, 0], [1, 1, -1], {}],
    ];
    const outs = g.asDefault(() => {
      const y = onGpu(x);
      const slices = specs.map(([b, e, s, m]) => tf.stridedSlice(y, b, e, s, m));
      const grads = tf.gradients(slices.map((t) => tf.reduceSum(tf.multiply(t, t))), [y]) as tf.Tensor[];
      return [...slices, ...grads];
    });
    const [a, b] = await both(g, outs, [[x, arr([6, 7, 5])]], ['StridedSlice', 'StridedSliceGrad']);
    a.forEach((v, i) => expectClose(v, b[i]!, { atol: 1e-5, rtol: 1e-5 }));
  });

  it('slices, tiles, pads and broadcasts values that are on the GPU', async () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => ph('int32', [3, 1, 4], 'x'));
    const outs = g.asDefault(() => {
      const y = onGpu(x);
      return [
        tf.slice(y, [1, 0, 1], [2, 1, -1]),
        tf.tile(y, [2, 3, 1]),
        tf.tile(y, [1, 0, 2]),
        tf.pad(y, [[1, 2], [0, 3], [2, 0]]),
        tf.pad(y, [[0, 0], [1, 1], [0, 0]], 7),
        tf.broadcastTo(y, [2, 3, 5, 4]),
      ];
    });
    const [a, b] = await both(g, outs, [[x, arr([3, 1, 4], 'int32')]], ['Slice', 'Tile', 'Pad', 'PadV2', 'BroadcastTo']);
    same(a, b);
  });
});

describe('webgpu gather, segment sums, one-hot', () => {
  it('gathers with int32 and int64 indices computed on the GPU, on every axis', async () => {
    const g = new tf.Graph();
    const [p, i32, i64] = g.asDefault(() => [ph('float32', [5, 4, 3], 'p'), ph('int32', [2, 3], 'i'), ph('int64', [7], 'j')]);
    const outs = g.asDefault(() => {
      const q = onGpu(p);
      const ii = onGpu(i32);
      const jj = onGpu(i64);
      return [tf.gather(q, ii, 0), tf.gather(q, jj, 1), tf.gather(q, ii, -1), tf.gather(onGpu(tf.cast(p, 'int32')), jj, 2)];
    });
    const idx = new tf.NDArray(Int32Array.from([0, 2, 1, 2, 0, 1]), [2, 3]);
    const idx64 = new tf.NDArray(BigInt64Array.from([0n, 1n, 2n, 2n, 1n, 0n, 1n]), [7], 'int64');
    const [a, b] = await both(g, outs, [[p, arr([5, 4, 3])], [i32, idx], [i64, idx64]], ['GatherV2']);
    same(a, b);
  });

  it('reports out-of-range indices found on the GPU and on the host', async () => {
    for (const bad of [5n, -1n, 1n << 40n]) {
      const g = new tf.Graph();
      const [p, i] = g.asDefault(() => [ph('float32', [5, 2], 'p'), ph('int64', [3], 'i')]);
      const gathered = g.asDefault(() => tf.gather(onGpu(p), onGpu(i), 0));
      const direct = g.asDefault(() => tf.gather(onGpu(p), i, 0));
      const feeds: [tf.Tensor, tf.NDArray][] = [[p, arr([5, 2])], [i, new tf.NDArray(BigInt64Array.from([0n, bad, 1n]), [3], 'int64')]];
      const s = new tf.Session({ graph: g, backend: 'webgpu' });
      try {
        await expect(s.run(gathered, feeds)).rejects.toThrow(/indices contains a value that is not in \[0, 5\)/);
        await expect(s.run(gathered, feeds)).rejects.toThrow(tf.errors.InvalidArgumentError);
        await expect(s.run(direct, feeds)).rejects.toThrow(new RegExp(`indices\\[1\\] = ${Number(bad)} is not in \\[0, 5\\)`));
        // The session still runs good graphs afterwards.
        const good: [tf.Tensor, tf.NDArray][] = [feeds[0]!, [i, new tf.NDArray(BigInt64Array.from([4n, 0n, 1n]), [3], 'int64')]];
        expect(((await s.run(gathered, good)) as tf.NDArray).shape).toEqual([3, 2]);
      } finally {
        s.close();
      }
    }
  });

  it('sums segments deterministically, matching the CPU bit for bit, and drops negative ids', async () => {
    const g = new tf.Graph();
    const [d, ids, d64] = g.asDefault(() => [ph('float32', [600, 3], 'd'), ph('int32', [600], 'ids'), ph('int64', [600, 3], 'd64')]);
    const outs = g.asDefault(() => [
      tf.unsortedSegmentSum(onGpu(d), onGpu(ids), 17),
      tf.unsortedSegmentSum(onGpu(d64), onGpu(ids), 17),
      tf.unsortedSegmentSum(onGpu(d), ids, 20),
    ]);
    const idv = randomArray([600], { dtype: 'int32', min: -2, max: 17, seed: 3 });
    const dv64 = new tf.NDArray(BigInt64Array.from({ length: 1800 }, (_, k) => BigInt(k % 7 === 0 ? 2 ** 31 + k : -k) * 3n), [600, 3], 'int64');
    const [a, b] = await both(g, outs as unknown as tf.Tensor[], [[d, arr([600, 3])], [ids, idv], [d64, dv64]], ['UnsortedSegmentSum']);
    same(a, b);
    const ws = new tf.Session({ graph: g, backend: 'webgpu' });
    const bad = idv.clone();
    (bad.data as Int32Array)[5] = 17;
    try {
      await expect(ws.run(outs[0]!, [[d, arr([600, 3])], [ids, bad]])).rejects.toThrow(/segment_ids contains a value that is not in \[0, 17\)/);
    } finally {
      ws.close();
    }
  });

  it('one-hot encodes int32 and int64 indices on any axis, out-of-range indices giving off', async () => {
    const g = new tf.Graph();
    const [i, j] = g.asDefault(() => [ph('int32', [4, 3], 'i'), ph('int64', [5], 'j')]);
    const outs = g.asDefault(() => [
      tf.oneHot(onGpu(i), 5),
      tf.oneHot(onGpu(i), 5, { axis: 1, onValue: 3, offValue: -1, dtype: 'int32' }),
      tf.oneHot(onGpu(j), 4, { axis: 0, onValue: 2.5, offValue: 0.5 }),
    ]);
    const [a, b] = await both(
      g,
      outs,
      [
        [i, randomArray([4, 3], { dtype: 'int32', min: -1, max: 6, seed: 9 })],
        [j, new tf.NDArray(BigInt64Array.from([0n, 3n, 4n, -1n, 1n << 33n]), [5], 'int64')],
      ],
      ['OneHot'],
    );
    same(a, b);
  });
});

describe('webgpu creation', () => {
  // Constant folding evaluates creation ops up to 1 MiB at build time: these are larger, or fed.
  it('fills and ranges in every dtype, including int64 beyond 32 bits', async () => {
    const g = new tf.Graph();
    const v = g.asDefault(() => ph('bool', [], 'v'));
    const outs = g.asDefault(() => [
      tf.fill([600, 600], tf.constant(1.5)),
      tf.fill([5000], v),
      tf.fill([140000], i64(2 ** 40 + 3)),
      tf.range(0, 300000, 1, 'int32'),
      tf.range(-3, 450000, 1.5, 'float32'),
      tf.range(i64(2 ** 33), i64(2 ** 33 - 3 * 140000), i64(-3)),
    ]);
    const [a, b] = await both(g, outs, [[v, new tf.NDArray(Uint8Array.from([1]), [], 'bool')]], ['Fill', 'Range']);
    expectClose(a[4]!, b[4]!, { atol: 1e-4, rtol: 1e-6 });
    same([a[0]!, a[1]!, a[2]!, a[3]!, a[5]!], [b[0]!, b[1]!, b[2]!, b[3]!, b[5]!]);
  });
});

describe('webgpu optimizer updates', () => {
  type Lr = number | tf.Tensor;
  const optimizers: [string, (lr: Lr) => { applyGradients(gv: [tf.Tensor, tf.Variable][]): tf.Operation }, string][] = [
    ['sgd', (lr) => new tf.train.GradientDescentOptimizer(lr), 'ApplyGradientDescent'],
    ['momentum', (lr) => new tf.train.MomentumOptimizer(lr, 0.9), 'ApplyMomentum'],
    ['nesterov', (lr) => new tf.train.MomentumOptimizer(lr, 0.9, { useNesterov: true }), 'ApplyMomentum'],
    ['adam', (lr) => new tf.train.AdamOptimizer(lr), 'ApplyAdam'],
    ['rmsprop', (lr) => new tf.train.RMSPropOptimizer(lr, { momentum: 0.5 }), 'ApplyRMSProp'],
    ['centered rmsprop', (lr) => new tf.train.RMSPropOptimizer(lr, { momentum: 0.5, centered: true }), 'ApplyCenteredRMSProp'],
    ['adagrad', (lr) => new tf.train.AdagradOptimizer(lr), 'ApplyAdagrad'],
  ];
  // The learning rate on the host (hyperparameters packed into one upload) or computed on the GPU
  // (bound directly, or packed on the GPU where the bindings would not fit).
  for (const [name, make, op] of optimizers) {
    for (const where of ['host', 'gpu'] as const) {
      it(`${name} updates variables in place like the CPU over several steps (learning rate on the ${where})`, async () => {
        const g = new tf.Graph();
        // Fed gradients: only the update kernels run on the GPU. w is large enough to live there; b is
        // small and initialized on the host: its updates run there, or on the GPU when its gradient is
        // a GPU value (b then moves into a buffer of its own).
        const { train, w, b, init, lr, gw, gb } = g.asDefault(() => {
          const w = new tf.Variable(randomArray([70, 65], { seed: 2 }), { name: 'w' });
          const b = new tf.Variable(randomArray([65], { seed: 4 }), { name: 'b' });
          const [gw, gb] = [ph('float32', [70, 65], 'gw'), ph('float32', [65], 'gb')];
          const lr = ph('float32', [], 'lr');
          const train = make(where === 'gpu' ? onGpu(lr) : lr).applyGradients([
            [gw, w],
            [where === 'gpu' ? onGpu(gb) : gb, b],
          ]);
          return { train, w, b, init: tf.globalVariablesInitializer(), lr, gw, gb };
        });
        const sessions = [new tf.Session({ graph: g, backend: 'webgpu' }), new tf.Session({ graph: g, backend: 'cpu' })];
        const before = calls.get(op) ?? 0;
        const feeds = (step: number): [tf.Tensor, tf.NDArray][] => [
          [lr, new tf.NDArray(Float32Array.from([0.02]), [])],
          [gw, randomArray([70, 65], { seed: 10 + step })],
          [gb, randomArray([65], { seed: 20 + step })],
        ];
        try {
          const results: tf.NDArray[][] = [];
          for (const s of sessions) {
            await s.run(init);
            for (let step = 0; step < 5; step++) await s.run(train, feeds(step));
            results.push((await s.run([w, b])) as unknown as tf.NDArray[]);
          }
          expect(calls.get(op) ?? 0).toBeGreaterThanOrEqual(before + (where === 'gpu' ? 10 : 5));
          results[0]!.forEach((v, i) => expectClose(v, results[1]![i]!, { atol: 1e-4, rtol: 1e-3 }));
        } finally {
          sessions.forEach((s) => s.close());
        }
      });
    }
  }
});
