// The indexing family (issue 18): each kernel against TensorFlow.js's CPU backend where it has the
// op, else against reference code written here; shape-function errors; run-time index errors; a
// GraphDef round trip. Runs on whatever backend the session uses (WEIR_BACKEND).
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as I from '../src/api/indexing.js';
import type { DType } from '../src/core/dtypes.js';
import { encodeMessage } from '../src/io/proto.js';
import { expectClose, fromTfjs, randomArray, run, tfjs, useGpuKernelsForSmallOps } from './helpers.js';

useGpuKernelsForSmallOps();

type TFJS = Awaited<ReturnType<typeof tfjs>>;
type OT = ReturnType<TFJS['tensor']>;
let T: TFJS;
beforeAll(async () => {
  T = await tfjs();
});

function build<R>(fn: () => R): R {
  return new tf.Graph().asDefault(fn);
}

/** The oracle's copy of an NDArray (int64 becomes int32: tfjs has no int64). */
function o(a: tf.NDArray): OT {
  const values = Array.from(a.data as ArrayLike<number | bigint>, Number);
  const dtype = a.dtype === 'float32' ? 'float32' : a.dtype === 'bool' ? 'bool' : 'int32';
  return T.tensor(values, a.shape, dtype);
}

async function same(actual: tf.NDArray, expected: OT, atol = 0): Promise<void> {
  expectClose(actual, await fromTfjs(expected as never), { atol, rtol: atol ? 1e-5 : 0 });
}

const int32 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(Int32Array.from(values), shape);
const int64 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(BigInt64Array.from(values.map(BigInt)), shape, 'int64');
const arr = (shape: number[], dtype: DType = 'float32', seed = 1): tf.NDArray =>
  randomArray(shape, { dtype, seed, min: dtype === 'float32' ? -1 : -20, max: dtype === 'float32' ? 1 : 20 });
const ph = (v: tf.NDArray, name = 'p'): tf.Tensor => tf.placeholder(v.dtype, v.shape, name);

/** Builds f over placeholders fed with `values` and runs it. */
async function runWith(values: tf.NDArray[], f: (...xs: tf.Tensor[]) => tf.Tensor): Promise<tf.NDArray> {
  const g = new tf.Graph();
  const [y, phs] = g.asDefault(() => {
    const phs = values.map((v, i) => ph(v, `x${i}`));
    return [f(...phs), phs] as const;
  });
  return run(y, phs.map((p, i) => [p, values[i]!] as [tf.Tensor, tf.NDArray]), g);
}

/** Row-major coordinates of flat index k in shape. */
function coordsOf(k: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = k % shape[d]!;
    k = Math.floor(k / shape[d]!);
  }
  return c;
}
const flatOf = (c: readonly number[], shape: readonly number[]): number => c.reduce((a, v, d) => a * shape[d]! + v, 0);
const numbers = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);

describe('GatherNd', () => {
  it('matches the oracle for index depths 1, 2 and 3, over float32, int32 and bool params', async () => {
    for (const dtype of ['float32', 'int32', 'bool'] as DType[]) {
      const p = arr([3, 4, 2], dtype, 2);
      for (const idx of [int32([2, 0, 1], [3, 1]), int32([1, 2, 0, 3, 2, 1], [3, 2]), int32([0, 3, 1, 2, 2, 0], [2, 1, 3]), int32([1, 1, 0, 0, 2, 1, 1, 0, 1], [3, 3])]) {
        const y = await runWith([p, idx], (a, b) => I.gatherNd(a, b));
        expect(y.dtype).toBe(dtype);
        await same(y, T.gatherND(o(p), o(idx)));
      }
    }
  });

  it('takes int64 indices, gives static shapes, and rejects bad indices', async () => {
    const p = arr([3, 4]);
    const y = await runWith([p, int64([2, 3, 0, 1], [2, 2])], (a, b) => I.gatherNd(a, b));
    await same(y, T.gatherND(o(p), T.tensor([2, 3, 0, 1], [2, 2], 'int32')));
    const t = build(() => I.gatherNd(tf.placeholder('float32', [3, 4, 5]), tf.placeholder('int32', [null, 7, 2])));
    expect(t.shape).toEqual([null, 7, 5]);
    expect(() => build(() => I.gatherNd(tf.placeholder('float32', [3, 4]), tf.placeholder('int32', [2, 3])))).toThrow(/innermost dimension length must be <= params rank/);
    await expect(runWith([p, int32([1, 4], [1, 2])], (a, b) => I.gatherNd(a, b))).rejects.toThrow(/GatherNd|not in|does not index/);
  });
});

describe('ScatterNd and TensorScatter*', () => {
  const idx = int32([1, 0, 3, 1], [4, 1]);
  const updates = arr([4, 3], 'float32', 3);

  it('scatterNd matches the oracle, adding duplicate indices', async () => {
    const y = await runWith([idx, updates], (i, u) => I.scatterNd(i, u, [5, 3]));
    await same(y, T.scatterND(o(idx), o(updates), [5, 3]), 1e-6);
    const i2 = int32([0, 1, 2, 2, 0, 1], [3, 2]);
    const u2 = int32([5, -3, 7]);
    await same(await runWith([i2, u2], (i, u) => I.scatterNd(i, u, [3, 3])), T.scatterND(o(i2), o(u2), [3, 3]));
  });

  it('tensorScatterUpdate matches the oracle; Add and Sub match tensor ± scatterNd', async () => {
    const base = arr([5, 3], 'float32', 4);
    const uniq = int32([4, 0, 2], [3, 1]);
    const u = arr([3, 3], 'float32', 5);
    await same(await runWith([base, uniq, u], (t, i, v) => I.tensorScatterUpdate(t, i, v)), T.tensorScatterUpdate(o(base), o(uniq), o(u)));
    await same(await runWith([base, idx, updates], (t, i, v) => I.tensorScatterAdd(t, i, v)), T.add(o(base), T.scatterND(o(idx), o(updates), [5, 3])), 1e-6);
    await same(await runWith([base, idx, updates], (t, i, v) => I.tensorScatterSub(t, i, v)), T.sub(o(base), T.scatterND(o(idx), o(updates), [5, 3])), 1e-6);
    const ib = arr([4, 2], 'int32', 6);
    await same(await runWith([ib, int32([3, 1], [1, 2])], (t, i) => I.tensorScatterAdd(t, i, int32([10]))), T.add(o(ib), T.scatterND(T.tensor([[3, 1]], [1, 2], 'int32'), T.tensor([10], [1], 'int32'), [4, 2])));
  });

  it('checks shapes while building and indices when running', async () => {
    expect(() => build(() => I.scatterNd(tf.placeholder('int32', [4, 1]), tf.placeholder('float32', [4, 2]), [5, 3]))).toThrow(/updates has shape \[4,2\], expected \[4,3\]/);
    expect(() => build(() => I.tensorScatterUpdate(tf.placeholder('float32', [5]), tf.placeholder('int32', [2, 2]), tf.placeholder('float32', [2])))).toThrow(/<= tensor rank/);
    await expect(runWith([int32([5], [1, 1]), arr([1, 3])], (i, u) => I.scatterNd(i, u, [5, 3]))).rejects.toThrow(/does not index into shape|not in/);
    await expect(runWith([arr([5, 3]), int32([-1], [1, 1]), arr([1, 3])], (t, i, u) => I.tensorScatterUpdate(t, i, u))).rejects.toThrow(/does not index into shape|not in/);
  });
});

describe('SparseToDense', () => {
  it('matches the oracle for vector and matrix indices, scalar and vector values', async () => {
    const i1 = int32([0, 2, 5]);
    const v1 = arr([3]);
    await same(await runWith([i1, v1], (i, v) => I.sparseToDense(i, [6], v, { defaultValue: -1 })), T.sparseToDense(o(i1), o(v1), [6], T.scalar(-1)));
    const i2 = int32([0, 1, 1, 0, 2, 3], [3, 2]);
    await same(await runWith([i2], (i) => I.sparseToDense(i, [3, 4], 7)), T.sparseToDense(o(i2), T.scalar(7, 'int32'), [3, 4], T.scalar(0, 'int32')));
    const vb = new tf.NDArray(Uint8Array.from([1, 0, 1]), [3], 'bool');
    await same(await runWith([i2, vb], (i, v) => I.sparseToDense(i, [3, 4], v)), T.sparseToDense(o(i2), o(vb), [3, 4], T.scalar(false, 'bool')));
  });

  it('validates order and repeats when asked, bounds always', async () => {
    const unsorted = int32([2, 0]);
    await expect(runWith([unsorted], (i) => I.sparseToDense(i, [3], 1))).rejects.toThrow(/out of order/);
    await expect(runWith([int32([1, 1])], (i) => I.sparseToDense(i, [3], 1))).rejects.toThrow(/is repeated/);
    await expect(runWith([int32([3])], (i) => I.sparseToDense(i, [3], 1))).rejects.toThrow(/out of bounds/);
    expect(numbers(await runWith([unsorted], (i) => I.sparseToDense(i, [3], 1, { validateIndices: false })))).toEqual([1, 0, 1]);
    expect(() => build(() => I.sparseToDense(tf.placeholder('int32', [2, 3]), [4, 4], 1))).toThrow(/index length 3 does not match the rank 2/);
  });
});

describe('reversals', () => {
  it('reverse (ReverseV2) matches the oracle for several axis lists and dtypes', async () => {
    for (const dtype of ['float32', 'int32', 'bool'] as DType[]) {
      const x = arr([2, 3, 4], dtype, 7);
      for (const axes of [[0], [-1], [0, 2], [1, 0, 2], []]) {
        await same(await runWith([x], (a) => I.reverse(a, axes)), T.reverse(o(x), axes));
      }
    }
    expect(() => build(() => I.reverse(tf.placeholder('float32', [2, 3]), [1, -1]))).toThrow(/specified more than once/);
    expect(() => build(() => I.reverse(tf.placeholder('float32', [2, 3]), [2]))).toThrow(/out of valid range/);
    await expect(runWith([arr([2, 3]), int32([0, 0])], (a, ax) => I.reverse(a, ax))).rejects.toThrow(/more than once/);
  });

  it('Reverse (bool dims) matches the oracle', async () => {
    const x = arr([3, 2, 4], 'float32', 8);
    const dims = new tf.NDArray(Uint8Array.from([1, 0, 1]), [3], 'bool');
    await same(await runWith([x, dims], (a, d) => I.reverseV1(a, d)), T.reverse(o(x), [0, 2]));
    expect(() => build(() => I.reverseV1(tf.placeholder('float32', [2, 3]), [true]))).toThrow(/same number of values/);
  });

  it('reverseSequence reverses each batch entry up to its length (reference loop)', async () => {
    const x = arr([3, 5, 2], 'float32', 9);
    for (const [seqAxis, batchAxis, lens] of [[1, 0, [2, 5, 0]], [0, 1, [3, 1, 0, 2, 3]], [2, 0, [1, 2, 2]]] as const) {
      const lensA = int64([...lens]);
      const y = await runWith([x, lensA], (a, l) => I.reverseSequence(a, l, { seqAxis, batchAxis }));
      const want = numbers(x).map((_, k) => {
        const c = coordsOf(k, x.shape);
        const l = lens[c[batchAxis]!]!;
        if (c[seqAxis]! < l) c[seqAxis] = l - 1 - c[seqAxis]!;
        return numbers(x)[flatOf(c, x.shape)]!;
      });
      expectClose(y, want, { atol: 0, rtol: 0, shape: x.shape });
    }
    expect(() => build(() => I.reverseSequence(tf.placeholder('float32', [3, 5]), int64([1, 2]), { seqAxis: 1 }))).toThrow(/Length of seq_lengths != input.dims\(0\)/);
    await expect(runWith([x, int64([6, 0, 0])], (a, l) => I.reverseSequence(a, l, { seqAxis: 1 }))).rejects.toThrow(/seq_lens\(0\) = 6/);
  });
});

describe('MirrorPad', () => {
  it('pad in REFLECT and SYMMETRIC modes matches the oracle; CONSTANT stays Pad', async () => {
    const x = arr([3, 4, 2], 'float32', 10);
    const paddings = [[2, 1], [0, 3], [1, 1]];
    for (const mode of ['REFLECT', 'SYMMETRIC'] as const) {
      const y = await runWith([x], (a) => I.pad(a, paddings, mode));
      await same(y, T.mirrorPad(o(x), paddings as [number, number][], mode.toLowerCase() as 'reflect'));
    }
    const xi = arr([4, 3], 'int32', 11);
    await same(await runWith([xi], (a) => I.pad(a, [[3, 0], [2, 2]], 'symmetric')), T.mirrorPad(o(xi), [[3, 0], [2, 2]], 'symmetric'));
    const c = build(() => I.pad(tf.placeholder('float32', [2]), [[1, 1]], 'CONSTANT', undefined, 5));
    expect(c.op.type).toBe('PadV2');
    expect(() => build(() => I.pad(tf.placeholder('float32', [3, 4]), [[3, 0], [0, 0]], 'REFLECT'))).toThrow(/no greater than the dimension size minus 1/);
    expect(() => build(() => I.pad(tf.placeholder('float32', [3, 4]), [[4, 0], [0, 0]], 'SYMMETRIC'))).toThrow(/no greater than the dimension size/);
    await expect(runWith([x, int32([0, 0, 0, 0, 0, 2], [3, 2])], (a, p) => I.mirrorPad(a, p, 'REFLECT'))).rejects.toThrow(/minus 1/);
  });

  it('zero paddings and unit blocks give the input back (the passes drop them as identities)', async () => {
    const x = arr([2, 3]);
    const g = new tf.Graph();
    const [y, p] = g.asDefault(() => {
      const p = tf.placeholder('float32', [2, 3], 'x');
      const four = tf.reshape(p, [1, 2, 3, 1]);
      const moved = I.batchToSpaceNd(I.spaceToBatchNd(four, [1, 1], [[0, 0], [0, 0]]), [1, 1], [[0, 0], [0, 0]]);
      return [I.mirrorPadGrad(I.pad(tf.reshape(moved, [2, 3]), [[0, 0], [0, 0]], 'REFLECT'), [[0, 0], [0, 0]], 'SYMMETRIC'), p] as const;
    });
    expectClose(await run(y, [[p, x]], g), x);
  });

  it('MirrorPadGrad sums padded positions onto what they mirror (the adjoint of MirrorPad)', async () => {
    const x = arr([3, 4], 'float32', 12);
    for (const mode of ['REFLECT', 'SYMMETRIC'] as const) {
      const pads = [[2, 1], [1, 2]];
      const g = arr([6, 7], 'float32', 13);
      const y = await runWith([g], (a) => I.mirrorPadGrad(a, pads, mode));
      // Reference: route each padded element to its source, as the forward pad reads it.
      const want = new Array<number>(x.size).fill(0);
      const off = mode === 'REFLECT' ? 1 : 0;
      numbers(g).forEach((v, k) => {
        const c = coordsOf(k, g.shape).map((t, d) => {
          const n = x.shape[d]!;
          const u = t - pads[d]![0]!;
          return u < 0 ? -u - 1 + off : u >= n ? 2 * n - 1 - off - u : u;
        });
        want[flatOf(c, x.shape)]! += v;
      });
      expectClose(y, want, { atol: 1e-6, shape: [3, 4] });
    }
  });
});

describe('space, batch and depth', () => {
  it('spaceToBatchNd and batchToSpaceNd match the oracle', async () => {
    const x = arr([2, 4, 6, 3], 'float32', 14);
    for (const [block, pads] of [[[2, 3], [[0, 0], [0, 0]]], [[2, 2], [[1, 1], [0, 2]]], [[3], [[1, 1]]]] as const) {
      const b = [...block];
      const p = pads.map((r) => [...r]);
      const y = await runWith([x], (a) => I.spaceToBatchNd(a, b, p));
      await same(y, T.spaceToBatchND(o(x), b, p));
      const back = await runWith([y], (a) => I.batchToSpaceNd(a, b, p));
      await same(back, T.batchToSpaceND(o(y), b, p));
      expectClose(back, x);
    }
    const z = arr([8, 1, 2, 1], 'int32', 15);
    await same(await runWith([z], (a) => I.batchToSpaceNd(a, [2, 2], [[0, 1], [1, 0]])), T.batchToSpaceND(o(z), [2, 2], [[0, 1], [1, 0]]));
    expect(() => build(() => I.spaceToBatchNd(tf.placeholder('float32', [1, 5, 4, 1]), [2, 2], [[0, 0], [0, 0]]))).toThrow(/padded_shape\[0\]=5 is not divisible by block_shape\[0\]=2/);
    expect(() => build(() => I.batchToSpaceNd(tf.placeholder('float32', [6, 2, 2, 1]), [2, 2], [[0, 0], [0, 0]]))).toThrow(/Input batch dimension \(6\) is not divisible by product of block sizes \(4\)/);
    const t = build(() => I.spaceToBatchNd(tf.placeholder('float32', [null, 4, 6, 3]), [2, 3], [[0, 0], [0, 0]]));
    expect(t.shape).toEqual([null, 2, 2, 3]);
    // Paddings known only when running: the spatial sizes are unknown while building.
    const w = arr([1, 5, 4, 1], 'float32', 18);
    const fedPads = int32([1, 0, 0, 2], [2, 2]);
    const [u, pp] = build(() => {
      const pp = tf.placeholder('int32', [2, 2]);
      return [I.spaceToBatchNd(tf.placeholder('float32', [1, 5, 4, 1]), [2, 2], pp), pp] as const;
    });
    expect(u.shape).toEqual([4, null, null, 1]);
    await same(await runWith([w, fedPads], (a, q) => I.spaceToBatchNd(a, [2, 2], q)), T.spaceToBatchND(o(w), [2, 2], [[1, 0], [0, 2]]));
    expect(pp.dtype).toBe('int32');
  });

  it('depthToSpace matches the oracle; spaceToDepth matches a reference loop and inverts it', async () => {
    const x = arr([2, 3, 2, 8], 'float32', 16);
    const d = await runWith([x], (a) => I.depthToSpace(a, 2));
    await same(d, T.depthToSpace(o(x) as never, 2));
    const s = await runWith([d], (a) => I.spaceToDepth(a, 2));
    expectClose(s, x);
    const y = arr([1, 6, 4, 3], 'int32', 17);
    const b = 2;
    const sd = await runWith([y], (a) => I.spaceToDepth(a, b));
    const want = new Array<number>(y.size);
    numbers(y).forEach((v, k) => {
      const [n, h, w, c] = coordsOf(k, y.shape) as [number, number, number, number];
      want[flatOf([n, Math.floor(h / b), Math.floor(w / b), ((h % b) * b + (w % b)) * 3 + c], [1, 3, 2, 12])] = v;
    });
    expectClose(sd, want, { atol: 0, rtol: 0, shape: [1, 3, 2, 12] });
    expect(() => build(() => I.spaceToDepth(tf.placeholder('float32', [1, 5, 4, 1]), 2))).toThrow(/height 5 must be divisible by block_size: 2/);
    expect(() => build(() => I.depthToSpace(tf.placeholder('float32', [1, 2, 2, 6]), 2))).toThrow(/depth dimension 6 should be divisible by: 4/);
    expect(() => build(() => I.depthToSpace(tf.placeholder('float32', [1, 2, 2, 4]), 1))).toThrow(/Block size should be > 1/);
  });
});

describe('MatrixBandPart, LinSpace, BroadcastArgs', () => {
  it('matrixBandPart matches the oracle (tf.linalg.bandPart)', async () => {
    const x = arr([2, 4, 5], 'float32', 18);
    for (const [lo, up] of [[0, 0], [1, 2], [-1, 0], [0, -1], [-1, -1], [4, 5]]) {
      await same(await runWith([x], (a) => I.matrixBandPart(a, lo!, up!)), T.linalg.bandPart(o(x), lo!, up!));
    }
    const lower = int64([1], []);
    await same(await runWith([x, lower], (a, l) => I.matrixBandPart(a, l, int64([-1], []))), T.linalg.bandPart(o(x), 1, -1));
    expect(() => build(() => I.matrixBandPart(tf.placeholder('float32', [3, 4]), 4, 0))).toThrow(/num_lower must be negative or less or equal to number of rows \(3\)/);
    await expect(runWith([x, int64([6], [])], (a, l) => I.matrixBandPart(a, l, 0))).rejects.toThrow(/num_lower/);
  });

  it('linspace matches the oracle; num must be positive', async () => {
    for (const [a, b, n] of [[0, 1, 5], [-3, 7.5, 11], [2, 2, 3], [4, -1, 1]]) {
      const y = await run(build(() => I.linspace(a!, b!, n!)));
      expect(y.shape).toEqual([n]);
      await same(y, T.linspace(a!, b!, n!), 1e-5);
    }
    expect(() => build(() => I.linspace(0, 1, 0))).toThrow(/Requires num > 0: 0/);
  });

  it('broadcastDynamicShape (BroadcastArgs) matches the oracle', async () => {
    for (const [a, b] of [[[2, 1, 3], [4, 3]], [[], [5]], [[1], [7, 1]]]) {
      const y = await runWith([int32(a!), int32(b!)], (p, q) => I.broadcastDynamicShape(p, q));
      await same(y, T.broadcastArgs(T.tensor1d(a!, 'int32'), T.tensor1d(b!, 'int32')));
    }
    await expect(runWith([int32([2, 3]), int32([4])], (p, q) => I.broadcastDynamicShape(p, q))).rejects.toThrow(/Incompatible shapes/);
  });
});

describe('Gather, Concat and BatchMatMul (first versions)', () => {
  it('match the oracle', async () => {
    const p = arr([5, 3]);
    const idx = int32([4, 0, 2, 2], [2, 2]);
    await same(await runWith([p, idx], (a, b) => I.gatherV1(a, b)), T.gather(o(p), o(idx)));
    const [a, b] = [arr([2, 3], 'float32', 20), arr([2, 4], 'float32', 21)];
    await same(await runWith([a, b], (x, y) => I.concatV1(1, [x, y])), T.concat([o(a), o(b)], 1));
    const t = build(() => I.concatV1(-2, [tf.placeholder('float32', [2, 3]), tf.placeholder('float32', [4, 3])]));
    expect(t.shape).toEqual([6, 3]);
    const [x, y] = [arr([2, 3, 4], 'float32', 22), arr([2, 5, 4], 'float32', 23)];
    await same(await runWith([x, y], (p1, p2) => I.batchMatMulV1(p1, p2, { adjY: true })), T.matMul(o(x), o(y), false, true), 1e-5);
    const [u, v] = [arr([2, 4, 3], 'float32', 24), arr([2, 4, 5], 'float32', 25)];
    await same(await runWith([u, v], (p1, p2) => I.batchMatMulV1(p1, p2, { adjX: true })), T.matMul(o(u), o(v), true, false), 1e-5);
    expect(() => build(() => I.batchMatMulV1(tf.placeholder('float32', [2, 3, 4]), tf.placeholder('float32', [4, 5])))).toThrow(/same rank/);
    expect(() => build(() => I.batchMatMulV1(tf.placeholder('float32', [2, 3, 4]), tf.placeholder('float32', [3, 4, 5])))).toThrow(/batch dimensions/);
  });
});

/** Reference einsum: loops over every assignment of the labels. */
function refEinsum(equation: string, xs: tf.NDArray[]): { values: number[]; shape: number[] } {
  const [lhs, out] = equation.split('->') as [string, string];
  const subs = lhs.split(',');
  const bcRank = Math.max(0, ...subs.map((s, k) => (s.includes('...') ? xs[k]!.rank - s.replace('...', '').length : 0)));
  const bc = Array.from({ length: bcRank }, (_, j) => String.fromCharCode(0x30 + j));
  const expand = (s: string, rank: number): string[] => {
    if (!s.includes('...')) return [...s];
    const [h, t] = s.split('...') as [string, string];
    const n = rank - h.length - t.length;
    return [...h, ...bc.slice(bcRank - n), ...t];
  };
  const axes = subs.map((s, k) => expand(s, xs[k]!.rank));
  const outAxes = expand(out, out.replace('...', '').length + bcRank);
  const size = new Map<string, number>();
  axes.forEach((ls, k) => ls.forEach((l, a) => size.set(l, Math.max(size.get(l) ?? 1, xs[k]!.shape[a]!))));
  const labels = [...size.keys()];
  const shape = outAxes.map((l) => size.get(l)!);
  const values = new Array<number>(shape.reduce((p, d) => p * d, 1)).fill(0);
  const dims = labels.map((l) => size.get(l)!);
  const total = dims.reduce((p, d) => p * d, 1);
  for (let k = 0; k < total; k++) {
    const v = coordsOf(k, dims);
    const at = (l: string): number => v[labels.indexOf(l)]!;
    let prod = 1;
    xs.forEach((x, j) => {
      const c = axes[j]!.map((l, a) => (x.shape[a] === 1 ? 0 : at(l)));
      prod *= numbers(x)[flatOf(c, x.shape)]!;
    });
    values[flatOf(outAxes.map(at), shape)]! += prod;
  }
  return { values, shape };
}

describe('Einsum', () => {
  const cases: [string, number[][]][] = [
    ['ij,jk->ik', [[3, 4], [4, 5]]],
    ['bij,bjk->bik', [[2, 3, 4], [2, 4, 2]]],
    ['ij->ji', [[3, 4]]],
    ['ii->', [[4, 4]]],
    ['ii->i', [[3, 3]]],
    ['i->ii', [[3]]],
    ['iji->ji', [[2, 3, 2]]],
    ['i,j->ij', [[3], [4]]],
    ['i,i->', [[5], [5]]],
    ['ij->i', [[3, 4]]],
    ['ijk->', [[2, 3, 2]]],
    ['ij,ij->ij', [[2, 3], [2, 3]]],
    ['ab,cd->', [[2, 2], [3, 1]]],
    ['...ij,...jk->...ik', [[2, 1, 3, 4], [5, 4, 2]]],
    ['...ij,jk->...ik', [[2, 3, 4], [4, 2]]],
    ['i...->...', [[3, 2, 2]]],
    ['bii,bj->bij', [[2, 3, 3], [2, 3]]],
  ];

  it('matches a reference loop for contractions, transposes, diagonals, traces and ellipsis broadcasting', async () => {
    for (const [eq, shapes] of cases) {
      const xs = shapes.map((s, k) => arr(s, 'float32', 30 + k));
      const y = await runWith(xs, (...ps) => I.einsum(eq, ...ps));
      const want = refEinsum(eq, xs);
      expect(y.shape, eq).toEqual(want.shape);
      expectClose(y, want.values, { atol: 1e-5, rtol: 1e-5 });
    }
  });

  it('matches the oracle for a matrix product and integer operands; the implicit form outputs sorted single labels', async () => {
    const [a, b] = [arr([3, 4], 'float32', 40), arr([4, 2], 'float32', 41)];
    await same(await runWith([a, b], (x, y) => I.einsum('ij,jk->ik', x, y)), T.einsum('ij,jk->ik', o(a), o(b)), 1e-5);
    const [c, d] = [arr([2, 3], 'int32', 42), arr([3, 2], 'int32', 43)];
    await same(await runWith([c, d], (x, y) => I.einsum('ij,jk', x, y)), T.matMul(o(c), o(d)));
    const t = build(() => I.einsum('ba', tf.placeholder('float32', [2, 3])));
    expect(t.op.getAttr('equation')).toBe('ba->ab');
    expect(t.shape).toEqual([3, 2]);
  });

  it('infers output shapes from partially known operand shapes', () => {
    const y = build(() => I.einsum('bij,bjk->bki', tf.placeholder('float32', [null, 3, 4]), tf.placeholder('float32', [2, null, 5])));
    expect(y.shape).toEqual([2, 5, 3]);
    const z = build(() => I.einsum('...ij->...ji', tf.placeholder('float32', [null, 2, 3, 4])));
    expect(z.shape).toEqual([null, 2, 4, 3]);
    const w = build(() => I.einsum('ij->j', tf.placeholder('float32', null)));
    expect(w.shape).toEqual([null]);
  });

  it('rejects bad equations and mismatched sizes while building', () => {
    const x = (s: number[]) => tf.placeholder('float32', s);
    expect(() => build(() => I.einsum('ij,jk->ik', x([3, 4]), x([5, 2])))).toThrow(/label 'j' has size 4 and size 5/);
    expect(() => build(() => I.einsum('ij->k', x([3, 4])))).toThrow(/output label 'k' does not appear/);
    expect(() => build(() => I.einsum('ij,jk,kl->il', x([2, 2]), x([2, 2]), x([2, 2])))).toThrow(/1 or 2 operands/);
    expect(() => build(() => I.einsum('ijk->i', x([3, 4])))).toThrow(/rank 2 but its subscript has 3 labels/);
    expect(() => build(() => I.einsum('...i,...i->...', x([2, 3]), x([4, 3])))).toThrow(/broadcast dims/);
  });
});

describe('indices computed by other ops (on WebGPU: checked on the device)', () => {
  const shifted = (i: tf.Tensor): tf.Tensor => tf.subtract(tf.add(i, 3), 3);
  /** On WebGPU the device's check reports (its message has no row); on the CPU the kernel names the row. */
  const onDevice = process.env.WEIR_BACKEND === 'webgpu';
  /** An error message naming `op` (before or after the message) and matching `what`. */
  const naming = (op: string, what: string): RegExp => new RegExp(`^(?=[\\s\\S]*\\b${op}\\b)(?=[\\s\\S]*(${what}))`);

  it('gather and scatter indices out of range fail the run, naming the op', async () => {
    const p = arr([3, 4]);
    expectClose(await runWith([p, int32([2, 3], [1, 2])], (a, i) => I.gatherNd(a, shifted(i))), [numbers(p)[11]!]);
    await expect(runWith([p, int32([3, 0], [1, 2])], (a, i) => I.gatherNd(a, shifted(i)))).rejects.toThrow(naming('GatherNd', onDevice ? 'indices do not index into param shape' : 'indices\\[0\\] = \\[3, 0\\] does not index'));
    await expect(runWith([int32([4], [1, 1]), arr([1, 3])], (i, u) => I.scatterNd(shifted(i), u, [4, 3]))).rejects.toThrow(naming('ScatterNd', 'not index into shape'));
    await expect(runWith([p, int32([0, -1], [1, 2]), arr([1])], (t, i, u) => I.tensorScatterAdd(t, shifted(i), u))).rejects.toThrow(naming('TensorScatterAdd', 'not index into shape'));
    const base = arr([4, 3], 'float32', 60);
    const upd = arr([2, 3], 'float32', 61);
    await same(await runWith([base, int32([3, 3], [2, 1]), upd], (t, i, u) => I.tensorScatterUpdate(t, shifted(i), u)), T.tensorScatterUpdate(o(base), T.tensor([[3]], [1, 1], 'int32'), T.slice(o(upd), [1, 0], [1, 3])));
  });

  it('sparse indices and sequence lengths are checked too', async () => {
    expect(numbers(await runWith([int32([0, 2])], (i) => I.sparseToDense(shifted(i), [3], 5)))).toEqual([5, 0, 5]);
    await expect(runWith([int32([2, 0])], (i) => I.sparseToDense(shifted(i), [3], 5))).rejects.toThrow(naming('SparseToDense', 'out of order|not sorted'));
    await expect(runWith([int32([0, 3])], (i) => I.sparseToDense(shifted(i), [3], 5))).rejects.toThrow(naming('SparseToDense', 'out of bounds'));
    const x = arr([2, 3]);
    await expect(runWith([x, int32([1, 4])], (a, l) => I.reverseSequence(a, shifted(l), { seqAxis: 1 }))).rejects.toThrow(naming('ReverseSequence', 'seq_lens\\(1\\) = 4|seq_lengths has a value'));
  });
});

describe('GraphDef round trip', () => {
  it('exports and re-imports a graph of every indexing op with the same results', async () => {
    const x = arr([2, 4, 6, 4], 'float32', 50);
    const g1 = new tf.Graph();
    const [input, outs] = g1.asDefault(() => {
      const p = tf.placeholder('float32', [2, 4, 6, 4], 'x');
      const ys = [
        I.gatherNd(p, [[1, 2], [0, 3]]),
        I.scatterNd([[1], [0]], tf.reshape(tf.slice(p, [0, 0, 0, 0], [1, 1, 2, 4]), [2, 4]), [3, 4]),
        I.tensorScatterUpdate(p, [[0, 1, 2]], tf.reshape(tf.slice(p, [1, 0, 0, 0], [1, 1, 1, 4]), [1, 4])),
        I.tensorScatterAdd(p, [[1]], tf.slice(p, [0, 0, 0, 0], [1, 4, 6, 4])),
        I.tensorScatterSub(p, [[1]], tf.slice(p, [0, 0, 0, 0], [1, 4, 6, 4])),
        I.sparseToDense([[0, 1], [2, 0]], [3, 3], [1.5, 2.5], { defaultValue: -1, validateIndices: false }),
        I.reverse(p, [1, 3]),
        I.reverseV1(p, [false, true, false, true]),
        I.reverseSequence(p, [3, 1], { seqAxis: 2, batchAxis: 0 }),
        I.pad(p, [[1, 1], [2, 0], [0, 3], [1, 1]], 'REFLECT'),
        I.mirrorPadGrad(p, [[0, 0], [1, 1], [2, 0], [0, 1]], 'SYMMETRIC'),
        I.spaceToBatchNd(p, [2, 3], [[0, 0], [0, 0]]),
        I.batchToSpaceNd(tf.reshape(p, [8, 2, 3, 4]), [2, 2], [[1, 0], [0, 1]]),
        I.spaceToDepth(p, 2),
        I.depthToSpace(p, 2),
        I.matrixBandPart(p, 1, 0),
        I.linspace(0, 1, 7),
        I.broadcastDynamicShape([2, 1], [3]),
        I.gatherV1(p, [1, 0]),
        I.concatV1(3, [p, p]),
        I.batchMatMulV1(p, p, { adjY: true }),
        I.einsum('abij,abkj->abik', p, p),
      ];
      return [p, ys] as const;
    });
    const want = await run(outs, [[input, x]], g1);
    const bytes = encodeMessage('GraphDef', g1.toGraphDef());
    const g2 = new tf.Graph();
    const names = outs.map((t) => t.name);
    const imported = g2.asDefault(() => tf.importGraphDef(bytes, { returnElements: ['x:0', ...names] })) as tf.Tensor[];
    expect(imported.slice(1).map((t) => t.op.type)).toEqual(outs.map((t) => t.op.type));
    const got = await run(imported.slice(1), [[imported[0]!, x]], g2);
    got.forEach((a, i) => expectClose(a, want[i]!, { atol: 0, rtol: 0 }));

    // TensorFlow leaves attrs at their default out of a GraphDef: the ops run without them.
    const defaults: Record<string, unknown> = { batch_dim: 0, validate_indices: true, data_format: 'NHWC', adj_x: false, adj_y: false };
    const gd = g1.toGraphDef();
    let stripped = 0;
    for (const n of gd.node ?? []) {
      for (const [k, v] of Object.entries(defaults)) {
        const a = n.attr?.[k] as { i?: unknown; b?: boolean; s?: Uint8Array } | undefined;
        if (!a) continue;
        const value = a.s !== undefined ? new TextDecoder().decode(a.s) : a.b ?? Number(a.i ?? 0);
        if (value === v || (v === false && value === undefined)) {
          delete n.attr![k];
          stripped++;
        }
      }
    }
    expect(stripped).toBeGreaterThanOrEqual(4);
    const g3 = new tf.Graph();
    const again = g3.asDefault(() => tf.importGraphDef(encodeMessage('GraphDef', gd), { returnElements: ['x:0', ...names] })) as tf.Tensor[];
    const got3 = await run(again.slice(1), [[again[0]!, x]], g3);
    got3.forEach((a, i) => expectClose(a, want[i]!, { atol: 0, rtol: 0 }));
  });
});
