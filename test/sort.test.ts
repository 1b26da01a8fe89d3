import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { getOpDef } from '../ops/index.js';
import { argsort, bincount, cumprod, cumsum, denseBincount, inTopK, searchsorted, setdiff1d, sort, topK, unique, uniqueWithCounts, where } from '../src/api/sort.js';
import { graphToGraphDef } from '../src/io/graph_def.js';
import { expectClose, fromTfjs, randomArray, rng, run, tfjs, useGpuKernelsForSmallOps } from './helpers.js';

useGpuKernelsForSmallOps();

const nums = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);

let pending: [tf.Tensor, tf.NDArray][] | undefined;

/**
 * A fed input holding `value` (a placeholder, not a constant, so that the compiler cannot fold the
 * op under test away and the session's backend runs its kernel).
 */
function fed(value: tf.NDArray | tf.NestedArray, dtype?: tf.DType): tf.Tensor {
  const nd = value instanceof tf.NDArray ? value : tf.NDArray.from(value, dtype);
  const p = tf.placeholder(nd.dtype, nd.shape);
  pending!.push([p, nd]);
  return p;
}

/** Builds in a fresh graph and runs the result, feeding the inputs made by fed(). */
async function eval_<F extends tf.Fetches>(build: () => F, feeds?: (g: F) => tf.FeedDict): Promise<tf.FetchResult<F>> {
  const g = new tf.Graph();
  pending = [];
  const f = g.asDefault(build);
  const fed = [...pending, ...((feeds?.(f) ?? []) as [tf.Tensor, tf.NDArray][])];
  pending = undefined;
  return run(f, fed, g);
}

/** A graph-building error's message (shape functions fail while the op is made). */
function buildError(build: () => unknown): string {
  const g = new tf.Graph();
  try {
    g.asDefault(build);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the graph construction to fail');
}

async function runError(build: () => tf.Fetches, feeds?: (f: tf.Fetches) => tf.FeedDict): Promise<Error> {
  try {
    await eval_(build, feeds);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the run to fail');
}

/** Floats drawn from a few values, so rows have ties. */
function tiedArray(shape: number[], seed: number, levels = 4): tf.NDArray {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return new tf.NDArray(Float32Array.from({ length: n }, () => Math.floor(r() * levels) - 1), shape);
}

describe('Cumsum / Cumprod', () => {
  const x = randomArray([3, 4, 5], { seed: 1, min: 0.5, max: 1.5 });
  for (const type of ['Cumsum', 'Cumprod'] as const) {
    for (const axis of [0, 1, 2, -1]) {
      for (const [exclusive, reverse] of [[false, false], [true, false], [false, true], [true, true]]) {
        it(`${type} axis ${axis} exclusive=${exclusive} reverse=${reverse}: float32 against tfjs`, async () => {
          const t = await tfjs();
          const got = await eval_(() => (type === 'Cumsum' ? cumsum : cumprod)(fed(x), axis, { exclusive, reverse }));
          const xt = t.tensor(x.data as Float32Array, x.shape);
          const want = await fromTfjs(type === 'Cumsum' ? t.cumsum(xt, (axis + 3) % 3, exclusive, reverse) : t.cumprod(xt, (axis + 3) % 3, exclusive, reverse));
          expectClose(got, want, { rtol: 1e-5 });
        });
      }
    }
  }

  it('int32 (against tfjs) and int64 (against a JS scan, with wraparound-free bigints)', async () => {
    const t = await tfjs();
    const xi = randomArray([4, 6], { seed: 2, min: -5, max: 6, dtype: 'int32' });
    const [s, p] = await eval_(() => [cumsum(fed(xi), 1, { reverse: true }), cumprod(fed(xi), 1, { exclusive: true })]);
    const xt = t.tensor(xi.data as Int32Array, xi.shape, 'int32');
    expect(nums(s!)).toEqual(nums(await fromTfjs(t.cumsum(xt, 1, false, true))));
    expect(nums(p!)).toEqual(nums(await fromTfjs(t.cumprod(xt, 1, true, false))));
    expect(s!.dtype).toBe('int32');
    const big = new tf.NDArray(BigInt64Array.from([3n, 5000000000n, -7n, 2n]), [4]);
    const [bs, bp] = await eval_(() => [cumsum(fed(big)), cumprod(fed(big), 0, { exclusive: true, reverse: true })]);
    expect(Array.from(bs!.data as BigInt64Array)).toEqual([3n, 5000000003n, 4999999996n, 4999999998n]);
    expect(Array.from(bp!.data as BigInt64Array)).toEqual([-70000000000n, -14n, 2n, 1n]);
  });

  it('an axis tensor fed at run time; a scalar input is rejected', async () => {
    const v = await eval_(
      () => {
        const a = tf.placeholder('int32', [], 'axis');
        return { a, y: cumsum(fed([[1, 2], [3, 4]]), a) };
      },
      (f) => [[f.a, new tf.NDArray(Int32Array.from([1]), [])]],
    );
    expect(nums(v.y)).toEqual([1, 3, 3, 7]);
    expect(buildError(() => cumsum(tf.constant([[1, 2]]), 2))).toMatch(/Cumsum.*axis 2 is out of range/);
    expect(buildError(() => cumsum(tf.constant([true]), 0))).toMatch(/dtype bool/);
  });
});

describe('TopKV2 / TopK', () => {
  for (const [shape, k] of [[[7], 3], [[4, 9], 4], [[2, 3, 6], 6], [[3, 5], 1], [[3, 5], 0]] as [number[], number][]) {
    it(`[${shape}] k=${k}: values and indices against tfjs`, async () => {
      const t = await tfjs();
      const x = randomArray(shape, { seed: 3 + k });
      const [v, i] = await eval_(() => [...topK(fed(x), k)]);
      const want = t.topk(t.tensor(x.data as Float32Array, shape), k);
      expectClose(v!, await fromTfjs(want.values));
      expect(i!.dtype).toBe('int32');
      expect(nums(i!)).toEqual(nums(await fromTfjs(want.indices)));
    });
  }

  it('ties come in index order (rows full of repeats, full sort) and sorted=false keeps the same set', async () => {
    const x = tiedArray([5, 8], 11);
    const [v, i, u] = await eval_(() => {
      const r = topK(fed(x), 8);
      return [r.values, r.indices, topK(fed(x), 3, false).values];
    });
    const d = x.data as Float32Array;
    for (let r = 0; r < 5; r++) {
      const order = Array.from({ length: 8 }, (_, j) => j).sort((a, b) => d[r * 8 + b]! - d[r * 8 + a]! || a - b);
      expect(nums(i!).slice(r * 8, r * 8 + 8)).toEqual(order);
      expect(nums(v!).slice(r * 8, r * 8 + 8)).toEqual(order.map((j) => d[r * 8 + j]!));
      expect(nums(u!).slice(r * 3, r * 3 + 3).sort()).toEqual(order.slice(0, 3).map((j) => d[r * 8 + j]!).sort());
    }
  });

  it('int32 and int64 inputs; NaN ranks above every number', async () => {
    const xi = new tf.NDArray(Int32Array.from([5, -2, 9, 9, 0, -2147483648]), [6]);
    const xl = new tf.NDArray(BigInt64Array.from([4n, 9000000000n, -1n, 4n]), [4]);
    const xn = new tf.NDArray(Float32Array.from([1, NaN, Infinity, -Infinity, NaN]), [5]);
    const [vi, ii, vl, il, vn, iN] = await eval_(() => [...topK(fed(xi), 4), ...topK(fed(xl), 3), ...topK(fed(xn), 5)]);
    expect(nums(vi!)).toEqual([9, 9, 5, 0]);
    expect(nums(ii!)).toEqual([2, 3, 0, 4]);
    expect(Array.from(vl!.data as BigInt64Array)).toEqual([9000000000n, 4n, 4n]);
    expect(nums(il!)).toEqual([1, 0, 3]);
    expect(nums(iN!)).toEqual([1, 4, 2, 0, 3]);
    expect(nums(vn!).slice(2)).toEqual([Infinity, 1, -Infinity]);
  });

  it('TopK (k as an attr) matches TopKV2', async () => {
    const x = tiedArray([3, 6], 12);
    const [a, b, c, d] = await eval_(() => {
      const g = tf.getDefaultGraph();
      const v1 = g.createOp('TopK', [fed(x)], { k: 4, sorted: true, T: 'float32' }).outputs;
      return [...v1, ...topK(fed(x), 4)];
    });
    expect(nums(a!)).toEqual(nums(c!));
    expect(nums(b!)).toEqual(nums(d!));
  });

  it('newer TensorFlow\'s attrs: an int64 k (Tk) and int64 indices (index_type), with their gradient', async () => {
    const x = tiedArray([3, 6], 15);
    const [v, i, dx] = await eval_(() => {
      const input = fed(x);
      const g = tf.getDefaultGraph();
      const [values, indices] = g.createOp('TopKV2', [input, tf.constant(2, 'int64')], { sorted: true, T: 'float32', Tk: 'int64', index_type: 'int64' }).outputs;
      return [values!, indices!, tf.gradients(tf.reduceSum(values!), input)[0]!];
    });
    const d = nums(x);
    expect(i!.dtype).toBe('int64');
    const want = [0, 1, 2].flatMap((r) => [0, 1, 2, 3, 4, 5].sort((a, b) => d[r * 6 + b]! - d[r * 6 + a]! || a - b).slice(0, 2));
    expect(nums(i!)).toEqual(want);
    expect(nums(v!)).toEqual(want.map((j, n) => d[Math.floor(n / 2) * 6 + j]!));
    expect(nums(dx!)).toEqual(d.map((_, p) => (want.slice(Math.floor(p / 6) * 2, Math.floor(p / 6) * 2 + 2).includes(p % 6) ? 1 : 0)));
  });

  it('shape errors: k larger than the last dim, negative k, scalar input; run-time k check', async () => {
    expect(buildError(() => topK(tf.constant([[1, 2, 3]]), 4))).toMatch(/TopKV2.*last dimension >= k = 4 but is 3/);
    expect(buildError(() => topK(tf.constant([1, 2, 3]), -1))).toMatch(/k must be non-negative/);
    expect(buildError(() => topK(tf.constant(1), 1))).toMatch(/at least rank 1/);
    const e = await runError(
      () => {
        const p = tf.placeholder('float32', [null], 'p');
        return [p, topK(p, 3).values];
      },
      (f) => [[(f as tf.Tensor[])[0]!, new tf.NDArray(Float32Array.from([1, 2]), [2])]],
    );
    expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(e.message).toMatch(/at least k columns/);
  });

  it('sort and argsort, both directions, along the last axis and axis 0 (equal values keep their order)', async () => {
    const x = tiedArray([4, 5], 13);
    const xi = randomArray([4, 5], { seed: 14, min: -3, max: 3, dtype: 'int32' });
    for (const data of [x, xi]) {
      const [sa, aa, sd, ad, s0, a0] = await eval_(() => [
        sort(fed(data)),
        argsort(fed(data)),
        sort(fed(data), { direction: 'DESCENDING' }),
        argsort(fed(data), { direction: 'DESCENDING' }),
        sort(fed(data), { axis: 0 }),
        argsort(fed(data), { axis: 0 }),
      ]);
      const d = nums(data);
      const at = (r: number, c: number): number => d[r * 5 + c]!;
      for (let r = 0; r < 4; r++) {
        const asc = [0, 1, 2, 3, 4].sort((a, b) => at(r, a) - at(r, b) || a - b);
        const desc = [0, 1, 2, 3, 4].sort((a, b) => at(r, b) - at(r, a) || a - b);
        expect(nums(aa!).slice(r * 5, r * 5 + 5)).toEqual(asc);
        expect(nums(sa!).slice(r * 5, r * 5 + 5)).toEqual(asc.map((c) => at(r, c)));
        expect(nums(ad!).slice(r * 5, r * 5 + 5)).toEqual(desc);
        expect(nums(sd!).slice(r * 5, r * 5 + 5)).toEqual(desc.map((c) => at(r, c)));
      }
      for (let c = 0; c < 5; c++) {
        const asc = [0, 1, 2, 3].sort((a, b) => at(a, c) - at(b, c) || a - b);
        expect([0, 1, 2, 3].map((r) => nums(a0!)[r * 5 + c])).toEqual(asc);
        expect([0, 1, 2, 3].map((r) => nums(s0!)[r * 5 + c])).toEqual(asc.map((r) => at(r, c)));
      }
      expect(sa!.dtype).toBe(data.dtype);
    }
  });
});

describe('InTopKV2 / InTopK', () => {
  /** TF's InTopK, written out: fewer than k strictly larger predictions, every prediction finite, target in range. */
  function reference(p: number[][], t: number[], k: number): boolean[] {
    return p.map((row, b) => {
      const target = t[b]!;
      if (!(target >= 0 && target < row.length)) return false;
      if (row.some((v) => !Number.isFinite(v))) return false;
      return row.filter((v) => v > row[target]!).length < k;
    });
  }

  it('ties, non-finite predictions and out-of-range targets, k from 0 to 4', async () => {
    const p = [
      [0.1, 0.3, 0.3, 0.2],
      [0.5, 0.5, 0.5, 0.5],
      [1, NaN, 0, 2],
      [1, 2, Infinity, 0],
      [4, 3, 2, 1],
      [0, 1, 2, 3],
    ];
    const targets = [2, 3, 0, 1, 3, 7];
    for (const k of [0, 1, 2, 3, 4]) {
      for (const dtype of ['int32', 'int64'] as const) {
        const got = await eval_(() => inTopK(fed(p), fed(targets, dtype), k));
        expect(nums(got).map(Boolean), `k=${k} ${dtype}`).toEqual(reference(p, targets, k));
      }
    }
    const v1 = await eval_(() => tf.getDefaultGraph().createOp('InTopK', [fed(p), fed(targets, 'int32')], { k: 2, T: 'int32' }).outputs[0]!);
    expect(nums(v1).map(Boolean)).toEqual(reference(p, targets, 2));
  });

  it('random predictions against the reference', async () => {
    const x = tiedArray([16, 7], 21, 5);
    const t = randomArray([16], { seed: 22, min: 0, max: 7, dtype: 'int32' });
    const rows = Array.from({ length: 16 }, (_, b) => nums(x).slice(b * 7, b * 7 + 7));
    const got = await eval_(() => inTopK(fed(x), fed(t), 3));
    expect(nums(got).map(Boolean)).toEqual(reference(rows, nums(t), 3));
  });

  it('shape errors', () => {
    expect(buildError(() => inTopK(tf.constant([1, 2]), tf.constant([0], 'int32'), 1))).toMatch(/InTopKV2.*predictions.*must be rank 2/);
    expect(buildError(() => inTopK(tf.constant([[1, 2]]), tf.constant([0, 1], 'int32'), 1))).toMatch(/one batch size/);
    expect(buildError(() => inTopK(tf.constant([[1, 2]]), tf.constant([0], 'int32'), tf.constant(1, 'int64')))).toMatch(/k .* is int64, expected int32/);
  });
});

describe('LowerBound / UpperBound (tf.searchsorted)', () => {
  it('2-D against tfjs lowerBound / upperBound, with duplicates and values outside the range', async () => {
    const t = await tfjs();
    const seq = [[1, 2, 2, 2, 5, 8], [-3, -3, 0, 0, 0, 9]];
    const vals = [[0, 2, 2.5, 8, 9, 5], [-4, -3, 0, 1, 9, 10]];
    for (const dtype of ['float32', 'int32'] as const) {
      const vv = dtype === 'int32' ? vals.map((r) => r.map(Math.floor)) : vals;
      const [l, u] = await eval_(() => [
        searchsorted(fed(seq, dtype), fed(vv, dtype)),
        searchsorted(fed(seq, dtype), fed(vv, dtype), { side: 'right', outType: 'int64' }),
      ]);
      expect(nums(l!)).toEqual(nums(await fromTfjs(t.lowerBound(t.tensor(seq, undefined, dtype), t.tensor(vv, undefined, dtype)))));
      expect(nums(u!)).toEqual(nums(await fromTfjs(t.upperBound(t.tensor(seq, undefined, dtype), t.tensor(vv, undefined, dtype)))));
      expect(u!.dtype).toBe('int64');
    }
  });

  it('searchsorted on batched 3-D inputs and a 1-D sequence, against tfjs searchSorted', async () => {
    const t = await tfjs();
    const seqArr = randomArray([2, 3, 10], { seed: 31, min: 0, max: 10 });
    (seqArr.data as Float32Array).forEach((_, i, d) => void (i % 10 === 9 && d.subarray(i - 9, i + 1).sort()));
    const vals = randomArray([2, 3, 4], { seed: 32, min: -1, max: 11 });
    const seq1 = new tf.NDArray(Float32Array.from([0, 1, 1, 3]), [4]);
    const v1 = new tf.NDArray(Float32Array.from([1, 2, -1, 3, 4]), [5]);
    const [a, b, c] = await eval_(() => [
      searchsorted(fed(seqArr), fed(vals)),
      searchsorted(fed(seqArr), fed(vals), { side: 'right' }),
      searchsorted(fed(seq1), fed(v1), { side: 'right' }),
    ]);
    const ts = t.tensor(seqArr.data as Float32Array, seqArr.shape);
    const tv = t.tensor(vals.data as Float32Array, vals.shape);
    expect(a!.shape).toEqual([2, 3, 4]);
    expect(nums(a!)).toEqual(nums(await fromTfjs(t.searchSorted(ts, tv, 'left'))));
    expect(nums(b!)).toEqual(nums(await fromTfjs(t.searchSorted(ts, tv, 'right'))));
    expect(nums(c!)).toEqual([3, 3, 0, 4, 4]);
  });

  it('shape errors and the run-time leading-dim check', async () => {
    const mk = (s: tf.Tensor, v: tf.Tensor): tf.Tensor => tf.getDefaultGraph().createOp('LowerBound', [s, v], { T: s.dtype, out_type: 'int32' }).outputs[0]!;
    expect(buildError(() => mk(tf.constant([1, 2]), tf.constant([[1]])))).toMatch(/LowerBound.*sorted_inputs.*must be rank 2/);
    expect(buildError(() => mk(tf.constant([[1, 2]]), tf.constant([[1], [2]])))).toMatch(/Leading dim_size of both tensors must match/);
    expect(buildError(() => mk(tf.constant([[1, 2]]), tf.constant([[1]], 'int32')))).toMatch(/values .* is int32, expected float32/);
    const e = await runError(
      () => {
        const s = tf.placeholder('float32', [null, 3], 's');
        return [s, mk(s, fed([[1, 2]]))];
      },
      (f) => [[(f as tf.Tensor[])[0]!, new tf.NDArray(new Float32Array(6), [2, 3])]],
    );
    expect(e.message).toMatch(/Leading dim_size/);
  });
});

describe('Unique / UniqueV2 / UniqueWithCounts / ListDiff', () => {
  it('Unique against tfjs unique (float32 with -0, int32, int64, string)', async () => {
    const t = await tfjs();
    const xf = new tf.NDArray(Float32Array.from([3, 1, -0, 3, 0, 2.5, 1, 2.5]), [8]);
    const xi = randomArray([20], { seed: 41, min: -4, max: 4, dtype: 'int32' });
    const [yf, idf, yi, idi] = await eval_(() => [...unique(fed(xf)), ...unique(fed(xi), 'int64')]);
    const wf = t.unique(t.tensor(xf.data as Float32Array));
    const wi = t.unique(t.tensor(xi.data as Int32Array, undefined, 'int32'));
    expect(nums(yf!)).toEqual(nums(await fromTfjs(wf.values)));
    expect(nums(idf!)).toEqual(nums(await fromTfjs(wf.indices)));
    expect(nums(yi!)).toEqual(nums(await fromTfjs(wi.values)));
    expect(nums(idi!)).toEqual(nums(await fromTfjs(wi.indices)));
    expect(idi!.dtype).toBe('int64');
    const xl = new tf.NDArray(BigInt64Array.from([7n, 8000000000n, 7n]), [3]);
    const xs = tf.NDArray.from(['b', 'a', 'b', 'c', 'a'], 'string', [5]);
    const [yl, idl, ys, ids] = await eval_(() => [...unique(fed(xl)), ...unique(fed(xs))]);
    expect(Array.from(yl!.data as BigInt64Array)).toEqual([7n, 8000000000n]);
    expect(nums(idl!)).toEqual([0, 1, 0]);
    expect((ys!.data as Uint8Array[]).map((b) => new TextDecoder().decode(b))).toEqual(['b', 'a', 'c']);
    expect(nums(ids!)).toEqual([0, 1, 0, 2, 1]);
  });

  it('UniqueV2 along an axis against tfjs unique(x, axis); an empty axis is plain Unique', async () => {
    const t = await tfjs();
    const x = new tf.NDArray(Int32Array.from([1, 0, 1, 2, 0, 2, 1, 0, 1, 5, 5, 5, 2, 0, 2, 1, 0, 1]), [3, 3, 2]);
    for (const axis of [0, 1, 2, -1]) {
      const [y, idx] = await eval_(() => {
        const g = tf.getDefaultGraph();
        return g.createOp('UniqueV2', [fed(x), fed([axis], 'int64')], { T: 'int32', Taxis: 'int64', out_idx: 'int32' }).outputs;
      });
      const want = t.unique(t.tensor(x.data as Int32Array, x.shape, 'int32'), axis);
      expect(y!.shape, `axis ${axis}`).toEqual(want.values.shape);
      expect(nums(y!)).toEqual(nums(await fromTfjs(want.values)));
      expect(nums(idx!)).toEqual(nums(await fromTfjs(want.indices)));
    }
    const [y0] = await eval_(() =>
      tf.getDefaultGraph().createOp('UniqueV2', [fed([4, 4, 2]), fed([], 'int64')], { T: 'float32', Taxis: 'int64', out_idx: 'int32' }).outputs,
    );
    expect(nums(y0!)).toEqual([4, 2]);
  });

  it('UniqueWithCountsV2 counts the distinct slices along an axis', async () => {
    // Columns of a 2x5 matrix: c0 = c2 = c4, c1 = c3.
    const x = new tf.NDArray(Float32Array.from([1, 2, 1, 2, 1, 0, 5, 0, 5, 0]), [2, 5]);
    const r = await eval_(() =>
      tf.getDefaultGraph().createOp('UniqueWithCountsV2', [fed(x), tf.constant([1], 'int32')], { T: 'float32', Taxis: 'int32', out_idx: 'int64' }).outputs,
    );
    expect(r[0]!.shape).toEqual([2, 2]);
    expect(nums(r[0]!)).toEqual([1, 2, 0, 5]);
    expect(nums(r[1]!)).toEqual([0, 1, 0, 1, 0]);
    expect(nums(r[2]!)).toEqual([3, 2]);
    expect(r[2]!.dtype).toBe('int64');
  });

  it('UniqueWithCounts counts each distinct element; NaNs are each their own', async () => {
    const x = new tf.NDArray(Float32Array.from([2, NaN, 2, 5, NaN, 5, 5]), [7]);
    const r = await eval_(() => [...uniqueWithCounts(fed(x))]);
    expect(nums(r[0]!)).toEqual([2, NaN, 5, NaN]);
    expect(nums(r[1]!)).toEqual([0, 1, 0, 2, 3, 2, 2]);
    expect(nums(r[2]!)).toEqual([2, 1, 3, 1]);
  });

  it('ListDiff (tf.setdiff1d) against tfjs setdiff1dAsync, duplicates kept', async () => {
    const t = await tfjs();
    const x = randomArray([15], { seed: 43, min: 0, max: 8, dtype: 'int32' });
    const y = new tf.NDArray(Int32Array.from([1, 3, 3, 6]), [4]);
    const [out, idx] = await eval_(() => [...setdiff1d(fed(x), fed(y))]);
    const [wo, wi] = await t.setdiff1dAsync(t.tensor(x.data as Int32Array, undefined, 'int32'), t.tensor(y.data as Int32Array, undefined, 'int32'));
    expect(nums(out!)).toEqual(nums(await fromTfjs(wo)));
    expect(nums(idx!)).toEqual(nums(await fromTfjs(wi)));
  });

  it('named fields as TF\'s namedtuples', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const u = unique(tf.constant([1, 2]));
      expect(u.y).toBe(u[0]);
      expect(u.idx).toBe(u[1]);
      const c = uniqueWithCounts(tf.constant([1, 2]));
      expect(c.count).toBe(c[2]);
      const d = setdiff1d(tf.constant([1, 2]), tf.constant([1]));
      expect(d.out).toBe(d[0]);
      const k = topK(tf.constant([1, 2]), 1);
      expect(k.indices).toBe(k[1]);
    });
  });

  it('data-dependent sizes: one plan runs fed inputs of different lengths', async () => {
    const g = new tf.Graph();
    const { p, y, idx, out } = g.asDefault(() => {
      const p = tf.placeholder('int32', [null], 'p');
      const [y, idx] = unique(p);
      const [out] = setdiff1d(p, tf.constant([2], 'int32'));
      return { p, y: y!, idx: idx!, out: out! };
    });
    expect(y.shape).toEqual([null]);
    const sess = new tf.Session({ graph: g });
    try {
      for (const v of [[2, 2, 3], [5, 2, 1, 5, 1, 9], []]) {
        const [a, b, c] = await sess.run([y, idx, out], [[p, new tf.NDArray(Int32Array.from(v), [v.length])]]);
        const u = [...new Set(v)];
        expect(nums(a!)).toEqual(u);
        expect(nums(b!)).toEqual(v.map((e) => u.indexOf(e)));
        expect(nums(c!)).toEqual(v.filter((e) => e !== 2));
      }
    } finally {
      sess.close();
    }
  });

  it('shape errors', () => {
    expect(buildError(() => unique(tf.constant([[1, 2]])))).toMatch(/Unique.*x .* must be rank 1/);
    expect(buildError(() => setdiff1d(tf.constant([1, 2]), tf.constant([[1]])))).toMatch(/ListDiff.*y .* must be rank 1/);
    expect(
      buildError(() => tf.getDefaultGraph().createOp('UniqueV2', [tf.constant([[1]]), tf.constant([2], 'int64')], { T: 'float32', Taxis: 'int64', out_idx: 'int32' })),
    ).toMatch(/UniqueV2.*axis 2 is out of range/);
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 5]);
      const outs = g.createOp('UniqueWithCountsV2', [x, tf.constant([-1], 'int64')], { T: 'float32', Taxis: 'int64', out_idx: 'int32' }).outputs;
      expect(outs.map((t) => t.shape)).toEqual([[2, null], [5], [null]]);
      const where1 = where(x);
      expect(where1.shape).toEqual([null, 2]);
    });
  });
});

describe('Where (one argument)', () => {
  it('coordinates of true / non-zero elements against tfjs whereAsync', async () => {
    const t = await tfjs();
    const b = randomArray([3, 4, 2], { seed: 51, dtype: 'bool' });
    const f = tiedArray([5, 3], 52, 3);
    const [wb, wf] = await eval_(() => [where(fed(b)), where(fed(f))]);
    expect(wb!.dtype).toBe('int64');
    expect(nums(wb!)).toEqual(nums(await fromTfjs(await t.whereAsync(t.tensor(b.data as Uint8Array, b.shape, 'bool')))));
    expect(wf!.shape[1]).toBe(2);
    expect(nums(wf!)).toEqual(nums(await fromTfjs(await t.whereAsync(t.notEqual(t.tensor(f.data as Float32Array, f.shape), 0)))));
  });

  it('no true elements gives [0, rank]; with x and y it selects', async () => {
    const [w0, sel] = await eval_(() => [where(fed([[false, false]])), where(fed([true, false]), fed([1, 2]), fed([3, 4]))]);
    expect(w0!.shape).toEqual([0, 2]);
    expect(nums(sel!)).toEqual([1, 4]);
    expect(() => where(tf.constant([true]), tf.constant([1]))).toThrow(/both/);
    // JS values: booleans make a bool condition, numbers a numeric one (non-zero is true).
    const [wn, wbool] = await eval_(() => [where([[1, 0], [0, 3]]), where([true, false, true])]);
    expect(nums(wn!)).toEqual([0, 0, 1, 1]);
    expect(nums(wbool!)).toEqual([0, 2]);
  });
});

describe('Bincount / DenseBincount', () => {
  it('tf.math.bincount against tfjs bincount: counts, weights, minlength, maxlength, empty input', async () => {
    const t = await tfjs();
    const arr = randomArray([12], { seed: 61, min: 0, max: 6, dtype: 'int32' });
    const w = randomArray([12], { seed: 62 });
    const ta = t.tensor1d(arr.data as Int32Array, 'int32');
    const max = Math.max(...nums(arr));
    const [c, cw, cmin, cmax, c0] = await eval_(() => [
      bincount(fed(arr)),
      bincount(fed(arr), { weights: fed(w) }),
      bincount(fed(arr), { minlength: 10, dtype: 'float32' }),
      bincount(fed(arr), { maxlength: 3 }),
      bincount(fed(new tf.NDArray(new Int32Array(0), [0]))),
    ]);
    expect(nums(c!)).toEqual(nums(await fromTfjs(t.bincount(ta, t.tensor1d([], 'int32'), max + 1))));
    expectClose(cw!, await fromTfjs(t.bincount(ta, t.tensor1d(w.data as Float32Array), max + 1)));
    expect(cmin!.dtype).toBe('float32');
    expect(nums(cmin!)).toEqual(nums(await fromTfjs(t.bincount(ta, t.tensor1d([], 'float32'), 10))));
    expect(nums(cmax!)).toEqual(nums(await fromTfjs(t.bincount(ta, t.tensor1d([], 'int32'), 3))));
    expect(c0!.shape).toEqual([0]);
  });

  it('DenseBincount on vectors and matrices, weighted and binary, against tfjs denseBincount', async () => {
    const t = await tfjs();
    const x = randomArray([3, 8], { seed: 63, min: 0, max: 7, dtype: 'int32' });
    const w = randomArray([3, 8], { seed: 64 });
    const tx = t.tensor2d(x.data as Int32Array, [3, 8], 'int32');
    const tw = t.tensor2d(w.data as Float32Array, [3, 8]);
    const none = new tf.NDArray(new Float32Array(0), [0]);
    const [a, b, c, d] = await eval_(() => [
      denseBincount(fed(x), 5, fed(w)),
      denseBincount(fed(x), 6, fed(none), true),
      denseBincount(fed(x), 4, fed(none)),
      denseBincount(fed(new tf.NDArray(Int32Array.from([1, 1, 3]), [3])), 4, fed([2, 3, 4], 'int32')),
    ]);
    expectClose(a!, await fromTfjs(t.denseBincount(tx, tw, 5)));
    expect(nums(b!)).toEqual(nums(await fromTfjs(t.denseBincount(tx, t.tensor2d([], [0, 0]), 6, true))));
    expect(nums(c!)).toEqual(nums(await fromTfjs(t.denseBincount(tx, t.tensor2d([], [0, 0]), 4))));
    expect(nums(d!)).toEqual([0, 5, 0, 4]);
    expect(a!.shape).toEqual([3, 5]);
  });

  it('negative values, a negative size and mismatched weights are errors', async () => {
    const neg = await runError(() => bincount(fed([1, -1], 'int32'), { minlength: 3 }));
    expect(neg).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(neg.message).toMatch(/non-negative/);
    expect(buildError(() => denseBincount(tf.constant([1], 'int32'), -2, tf.constant([1])))).toMatch(/DenseBincount.*size \(-2\) must be non-negative/);
    expect(buildError(() => denseBincount(tf.constant([1, 2], 'int32'), 3, tf.constant([1, 2, 3])))).toMatch(/weights must be empty or have the shape/);
    expect(buildError(() => denseBincount(tf.constant([[[1]]], 'int32'), 3, tf.constant([1])))).toMatch(/rank 1 or 2/);
  });
});

describe('sort family: registry and GraphDef', () => {
  it('TF names, inputs and attrs', () => {
    expect(getOpDef('TopKV2')!.inputs).toEqual(['input', 'k']);
    expect(getOpDef('LowerBound')!.inputs).toEqual(['sorted_inputs', 'values']);
    expect(getOpDef('DenseBincount')!.attrs).toEqual({ Tidx: 'type', T: 'type', binary_output: 'bool' });
    expect(getOpDef('Cumsum')!.attrs).toEqual({ exclusive: 'bool', reverse: 'bool', T: 'type', Tidx: 'type' });
  });

  it('a graph of every op round-trips through a GraphDef and computes the same', async () => {
    const g1 = new tf.Graph();
    const fetches = g1.asDefault(() => {
      const x = tf.constant(tiedArray([3, 5], 71), undefined, undefined, 'x');
      const ints = tf.constant([3, 1, 3, 0, 2], 'int32', undefined, 'ints');
      return [
        cumsum(x, 1, { exclusive: true, reverse: true }),
        cumprod(x, 0, { reverse: true }),
        ...topK(x, 2, false),
        inTopK(x, tf.constant([0, 1, 2], 'int32'), 2),
        searchsorted(tf.constant([[0, 1, 2]]), tf.constant([[1.5, 1]]), { side: 'right', outType: 'int64' }),
        ...unique(ints, 'int64'),
        ...uniqueWithCounts(ints),
        ...setdiff1d(ints, tf.constant([3], 'int32')),
        where(tf.greater(x, 0)),
        bincount(ints, { minlength: 6 }),
        denseBincount(ints, 4, tf.constant([0.5, 1, 2, 3, 4]), true),
        g1.createOp('UniqueV2', [tf.reshape(ints, [5, 1]), tf.constant([0], 'int32')], { T: 'int32', Taxis: 'int32', out_idx: 'int32' }).outputs[0]!,
        g1.createOp('TopK', [x], { k: 1, sorted: true, T: 'float32' }).outputs[1]!,
        g1.createOp('InTopK', [x, tf.constant([4, 0, 1], 'int64')], { k: 1, T: 'int64' }).outputs[0]!,
      ];
    });
    const want = await run(fetches, undefined, g1);
    const gd = graphToGraphDef(g1);
    const node = (name: string) => gd.node!.find((n) => n.name === name)!;
    expect(node('Cumsum').attr).toMatchObject({ exclusive: { b: true }, reverse: { b: true } });
    expect(node('TopKV2').attr).toMatchObject({ sorted: { b: false } });
    expect(node('DenseBincount').attr).toMatchObject({ binary_output: { b: true } });
    const g2 = new tf.Graph();
    const names = fetches.map((t) => t.name);
    const back = g2.asDefault(() => tf.importGraphDef(gd, { returnElements: names, name: '' })) as tf.Tensor[];
    const got = await run(back, undefined, g2);
    got.forEach((a, i) => {
      expect(a.dtype, names[i]).toBe(want[i]!.dtype);
      expect(a.shape, names[i]).toEqual(want[i]!.shape);
      expect(nums(a), names[i]).toEqual(nums(want[i]!));
    });
  });
});
