// CPU kernels of the sort family: scans, top-k, bounds, sets, Where and bin counts, as TF's CPU
// kernels compute them (accumulation in the element type, ties and NaN as described per kernel).
import type { DType, StringArray } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import { normAxis, scalarNumber, vector } from '../../array_args.js';
import { toNumbers } from '../../shape_helpers.js';
import { registerCpuKernel } from '../registry.js';
import { attr, type Outputs } from './util.js';

/** Element access on any storage (int64 elements are bigints, strings byte arrays). */
type Elems = { [i: number]: unknown; length: number };
type Nums = { [i: number]: number; length: number };

/** A shape seen as [outer, n, inner] around `axis`. */
function around(shape: readonly number[], axis: number): { outer: number; n: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  return { outer, n: shape[axis]!, inner };
}

function scalarArg(a: NDArray, what: string): number {
  if (a.rank !== 0) throw new InvalidArgumentError(`${what} must be a scalar, got shape ${formatShape(a.shape)}`);
  return scalarNumber(a, what);
}

// ---- scans ----

type Combine = { float: (a: number, b: number) => number; int: (a: number, b: number) => number; big: (a: bigint, b: bigint) => bigint; identity: number };

const SUM: Combine = { float: (a, b) => Math.fround(a + b), int: (a, b) => (a + b) | 0, big: (a, b) => BigInt.asIntN(64, a + b), identity: 0 };
const PROD: Combine = { float: (a, b) => Math.fround(a * b), int: (a, b) => Math.imul(a, b), big: (a, b) => BigInt.asIntN(64, a * b), identity: 1 };

function scanKernel(c: Combine) {
  return ([x, axisArr]: NDArray[], node: { attrs: Readonly<Record<string, unknown>> }, outputs: Outputs): NDArray[] => {
    const axis = normAxis(scalarArg(axisArr!, 'axis'), x!.rank, 'axis');
    const exclusive = !!node.attrs.exclusive;
    const reverse = !!node.attrs.reverse;
    const out = outputs.alloc(x!.dtype, x!.shape);
    const { outer, n, inner } = around(x!.shape, axis);
    const big = x!.dtype === 'int64';
    const f = (x!.dtype === 'float32' ? c.float : c.int) as (a: unknown, b: unknown) => unknown;
    const op = big ? (c.big as (a: unknown, b: unknown) => unknown) : f;
    const identity: unknown = big ? BigInt(c.identity) : c.identity;
    const xd = x!.data as unknown as Elems;
    const od = out.data as unknown as Elems;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = identity;
        for (let s = 0; s < n; s++) {
          const j = reverse ? n - 1 - s : s;
          const p = (o * n + j) * inner + i;
          if (exclusive) {
            od[p] = acc;
            acc = op(acc, xd[p]);
          } else {
            acc = op(acc, xd[p]);
            od[p] = acc;
          }
        }
      }
    }
    return [out];
  };
}

const cumsum = scanKernel(SUM);
const cumprod = scanKernel(PROD);
registerCpuKernel('Cumsum', (inputs, node, _state, outputs) => cumsum(inputs, node, outputs));
registerCpuKernel('Cumprod', (inputs, node, _state, outputs) => cumprod(inputs, node, outputs));

// ---- top-k ----

/**
 * The order top-k lists a row in: larger values first, equal values by index (as TF); NaN, which
 * TF leaves unordered, comes before every number here (the WebGPU kernel orders it the same way).
 */
export function topKOrder(d: Elems, base: number): (a: number, b: number) => number {
  return (a, b) => {
    const va = d[base + a] as number;
    const vb = d[base + b] as number;
    const na = va !== va;
    const nb = vb !== vb;
    if (na || nb) return na && nb ? a - b : na ? -1 : 1;
    if (va > vb) return -1;
    if (va < vb) return 1;
    return a - b;
  };
}

function topK(outputs: Outputs, x: NDArray, k: number, indexType: DType): NDArray[] {
  if (!Number.isInteger(k) || k < 0) throw new InvalidArgumentError(`Need k >= 0, got ${k}`);
  if (x.rank < 1) throw new InvalidArgumentError(`input must be >= 1-D, got shape ${formatShape(x.shape)}`);
  const n = x.shape[x.rank - 1]!;
  if (n < k) throw new InvalidArgumentError(`input must have at least k columns. Had ${n}, needed ${k}`);
  const shape = [...x.shape.slice(0, -1), k];
  const values = outputs.alloc(x.dtype, shape);
  const indices = outputs.alloc(indexType, shape);
  const rows = n === 0 ? 0 : x.size / n;
  const xd = x.data as unknown as Elems;
  const vd = values.data as unknown as Elems;
  const id = indices.data as unknown as Elems;
  const order = new Int32Array(n);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    const cmp = topKOrder(xd, base);
    if (k === 1) {
      let best = 0;
      for (let j = 1; j < n; j++) if (cmp(j, best) < 0) best = j;
      order[0] = best;
    } else {
      for (let j = 0; j < n; j++) order[j] = j;
      order.sort(cmp);
    }
    for (let j = 0; j < k; j++) {
      id[r * k + j] = indexValue(indexType, order[j]!);
      vd[r * k + j] = xd[base + order[j]!];
    }
  }
  return [values, indices];
}

registerCpuKernel('TopKV2', ([x, k], node, _state, outputs) => topK(outputs, x!, scalarArg(k!, 'k'), node.outputs[1]!.dtype));
registerCpuKernel('TopK', ([x], node, _state, outputs) => topK(outputs, x!, Number(attr<number>(node, 'k')), 'int32'));

/**
 * TF's InTopK: a target is in the top k when fewer than k classes have a strictly larger
 * prediction; a target out of range, or any non-finite prediction in its row, gives false.
 */
function inTopK(outputs: Outputs, predictions: NDArray, targets: NDArray, k: number): NDArray[] {
  if (predictions.rank !== 2) throw new InvalidArgumentError(`predictions must be 2-dimensional, got shape ${formatShape(predictions.shape)}`);
  if (targets.rank !== 1) throw new InvalidArgumentError(`targets must be 1-dimensional, got shape ${formatShape(targets.shape)}`);
  const [batch, classes] = predictions.shape as [number, number];
  if (targets.shape[0] !== batch) {
    throw new InvalidArgumentError(`First dimension of predictions ${batch} must match length of targets ${targets.shape[0]}`);
  }
  const out = outputs.alloc('bool', [batch]);
  const p = predictions.data as Float32Array;
  const t = toNumbers(targets);
  const od = out.data as Uint8Array;
  for (let b = 0; b < batch; b++) {
    const target = t[b]!;
    const row = b * classes;
    let cannotSay = !(target >= 0 && target < classes) || !Number.isFinite(p[row + target]!);
    let larger = 0;
    if (!cannotSay) {
      const tv = p[row + target]!;
      for (let i = 0; i < classes; i++) {
        const v = p[row + i]!;
        if (!Number.isFinite(v)) {
          cannotSay = true;
          break;
        }
        if (v > tv && ++larger > k) break;
      }
    }
    od[b] = !cannotSay && larger < k ? 1 : 0;
  }
  return [out];
}

registerCpuKernel('InTopKV2', ([p, t, k], _node, _state, outputs) => inTopK(outputs, p!, t!, scalarArg(k!, 'k')));
registerCpuKernel('InTopK', ([p, t], node, _state, outputs) => inTopK(outputs, p!, t!, Number(attr<number>(node, 'k'))));

// ---- searching ----

/** LowerBound (upper = false) / UpperBound: per row, the first index whose element is >= (>) each value. */
function bound(outputs: Outputs, node: { attrs: Readonly<Record<string, unknown>> }, seq: NDArray, values: NDArray, upper: boolean): NDArray[] {
  if (seq.rank !== 2 || values.rank !== 2) {
    throw new InvalidArgumentError(`sorted_inputs and values must be matrices, got shapes ${formatShape(seq.shape)} and ${formatShape(values.shape)}`);
  }
  if (seq.shape[0] !== values.shape[0]) throw new InvalidArgumentError(`Leading dim_size of both tensors must match: ${seq.shape[0]} vs ${values.shape[0]}`);
  const outType = (node.attrs.out_type as DType | undefined) ?? 'int32';
  const out = outputs.alloc(outType, values.shape);
  const [rows, n] = seq.shape as [number, number];
  const m = values.shape[1]!;
  const s = seq.data as unknown as Nums;
  const v = values.data as unknown as Nums;
  const od = out.data as unknown as Elems;
  const big = outType === 'int64';
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    for (let j = 0; j < m; j++) {
      const x = v[r * m + j]!;
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const e = s[base + mid]!;
        if (upper ? !(x < e) : e < x) lo = mid + 1;
        else hi = mid;
      }
      od[r * m + j] = big ? BigInt(lo) : lo;
    }
  }
  return [out];
}

registerCpuKernel('LowerBound', ([s, v], node, _state, outputs) => bound(outputs, node, s!, v!, false));
registerCpuKernel('UpperBound', ([s, v], node, _state, outputs) => bound(outputs, node, s!, v!, true));

// ---- sets ----

/** A Map key per element: equal elements share one (0 and -0 too), every NaN is a key of its own (as TF's hash sets). */
function keyOf(a: NDArray): (i: number) => unknown {
  const d = a.data;
  if (a.dtype === 'string') {
    return (i) => {
      const bytes = (d as StringArray)[i]!;
      let s = '';
      for (let j = 0; j < bytes.length; j++) s += String.fromCharCode(bytes[j]!);
      return s;
    };
  }
  if (a.dtype === 'float32') {
    const f = d as Float32Array;
    return (i) => (f[i] !== f[i] ? Symbol('NaN') : f[i]);
  }
  return (i) => (d as unknown as Elems)[i];
}

function indexValue(dtype: DType, v: number): number | bigint {
  return dtype === 'int64' ? BigInt(v) : v;
}

/**
 * Unique over the slices x[o, j, i] of x seen as [outer, n, inner] (slice j: every o and i): the
 * first occurrence of each distinct slice, in order, and for each j the index of its slice.
 */
function uniqueSlices(x: NDArray, axis: number): { firsts: number[]; idx: number[]; counts: number[] } {
  const { outer, n, inner } = around(x.shape, axis);
  const key = keyOf(x);
  const seen = new Map<unknown, number>();
  const firsts: number[] = [];
  const counts: number[] = [];
  const idx = new Array<number>(n);
  for (let j = 0; j < n; j++) {
    let k: unknown;
    if (outer * inner === 1) {
      k = key(j);
    } else {
      const parts: unknown[] = [];
      let nan = false;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const e = key((o * n + j) * inner + i);
          if (typeof e === 'symbol') nan = true;
          parts.push(typeof e === 'bigint' ? `${e}n` : e);
        }
      }
      k = nan ? Symbol('NaN') : JSON.stringify(parts);
    }
    let u = seen.get(k);
    if (u === undefined) {
      u = firsts.length;
      seen.set(k, u);
      firsts.push(j);
      counts.push(0);
    }
    idx[j] = u;
    counts[u]!++;
  }
  return { firsts, idx, counts };
}

function uniqueKernel(outputs: Outputs, node: { attrs: Readonly<Record<string, unknown>> }, x: NDArray, axis: number | null, withCounts: boolean): NDArray[] {
  const outIdx = (node.attrs.out_idx as DType | undefined) ?? 'int32';
  let ax: number;
  if (axis === null) {
    if (x.rank !== 1) throw new InvalidArgumentError(`unique expects a 1D vector, got shape ${formatShape(x.shape)}`);
    ax = 0;
  } else {
    ax = normAxis(axis, x.rank, 'axis');
  }
  const { firsts, idx, counts } = uniqueSlices(x, ax);
  const { outer, n, inner } = around(x.shape, ax);
  const u = firsts.length;
  const y = outputs.alloc(x.dtype, x.shape.map((d, i) => (i === ax ? u : d)));
  const xd = x.data as unknown as Elems;
  const yd = y.data as unknown as Elems;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < u; k++) {
      for (let i = 0; i < inner; i++) yd[(o * u + k) * inner + i] = xd[(o * n + firsts[k]!) * inner + i];
    }
  }
  const idxOut = outputs.alloc(outIdx, [n]);
  const id = idxOut.data as unknown as Elems;
  for (let j = 0; j < n; j++) id[j] = indexValue(outIdx, idx[j]!);
  if (!withCounts) return [y, idxOut];
  const countOut = outputs.alloc(outIdx, [u]);
  const cd = countOut.data as unknown as Elems;
  for (let k = 0; k < u; k++) cd[k] = indexValue(outIdx, counts[k]!);
  return [y, idxOut, countOut];
}

registerCpuKernel('Unique', ([x], node, _state, outputs) => uniqueKernel(outputs, node, x!, null, false));
registerCpuKernel('UniqueWithCounts', ([x], node, _state, outputs) => uniqueKernel(outputs, node, x!, null, true));
/** UniqueV2's axis input: [] means no axis (x must then be a vector), [a] means axis a. */
function uniqueAxis(axisArr: NDArray): number | null {
  const axis = vector(axisArr, 'axis');
  if (axis.length > 1) throw new InvalidArgumentError(`axis does not support input tensors larger than 1 elements, got ${axis.length}`);
  return axis.length === 0 ? null : axis[0]!;
}
registerCpuKernel('UniqueV2', ([x, axis], node, _state, outputs) => uniqueKernel(outputs, node, x!, uniqueAxis(axis!), false));
registerCpuKernel('UniqueWithCountsV2', ([x, axis], node, _state, outputs) => uniqueKernel(outputs, node, x!, uniqueAxis(axis!), true));

registerCpuKernel('ListDiff', ([x, y], node, _state, outputs) => {
  if (x!.rank !== 1 || y!.rank !== 1) throw new InvalidArgumentError(`x and y must be 1-D, got shapes ${formatShape(x!.shape)} and ${formatShape(y!.shape)}`);
  const outIdx = (node.attrs.out_idx as DType | undefined) ?? 'int32';
  const ky = keyOf(y!);
  const drop = new Set<unknown>();
  for (let i = 0; i < y!.size; i++) drop.add(ky(i));
  const kx = keyOf(x!);
  const kept: number[] = [];
  for (let i = 0; i < x!.size; i++) if (!drop.has(kx(i))) kept.push(i);
  const out = outputs.alloc(x!.dtype, [kept.length]);
  const idx = outputs.alloc(outIdx, [kept.length]);
  const xd = x!.data as unknown as Elems;
  const od = out.data as unknown as Elems;
  const id = idx.data as unknown as Elems;
  kept.forEach((p, j) => {
    od[j] = xd[p];
    id[j] = indexValue(outIdx, p);
  });
  return [out, idx];
});

// ---- where ----

registerCpuKernel('Where', ([x], _node, _state, outputs) => {
  const d = x!.data as unknown as Elems;
  const truthy = (v: unknown): boolean => v !== 0 && v !== 0n;
  let count = 0;
  for (let i = 0; i < x!.size; i++) if (truthy(d[i])) count++;
  const r = x!.rank;
  const out = outputs.alloc('int64', [count, r]);
  const od = out.data as BigInt64Array;
  const coord = new Array<number>(r).fill(0);
  let row = 0;
  for (let i = 0; i < x!.size; i++) {
    if (truthy(d[i])) {
      for (let a = 0; a < r; a++) od[row * r + a] = BigInt(coord[a]!);
      row++;
    }
    for (let a = r - 1; a >= 0; a--) {
      if (++coord[a]! < x!.shape[a]!) break;
      coord[a] = 0;
    }
  }
  return [out];
});

// ---- counting ----

/**
 * Adds each value's weight (1 without weights; 1 once when binary) into its bin of a row of
 * `size` bins; values >= size are skipped, negative ones are an error (as TF's).
 */
function bincount(outputs: Outputs, input: NDArray, sizeArr: NDArray, weights: NDArray, binary: boolean, op: string): NDArray[] {
  const size = scalarArg(sizeArr, 'size');
  if (size < 0) throw new InvalidArgumentError(`size (${size}) must be non-negative`);
  const hasWeights = weights.size > 0;
  if (hasWeights && weights.shape.join(',') !== input.shape.join(',')) {
    throw new InvalidArgumentError(`${op}: weights ${formatShape(weights.shape)} must be empty or have the shape of the input ${formatShape(input.shape)}`);
  }
  if (op === 'DenseBincount' && (input.rank < 1 || input.rank > 2)) {
    throw new InvalidArgumentError(`Input must be a 1 or 2-dimensional tensor. Got: ${formatShape(input.shape)}`);
  }
  const perRow = op === 'DenseBincount' && input.rank === 2;
  const rows = perRow ? input.shape[0]! : 1;
  const cols = perRow ? input.shape[1]! : input.size;
  const dtype = weights.dtype;
  const out = outputs.alloc(dtype, perRow ? [rows, size] : [size]);
  const values = toNumbers(input);
  for (const v of values) if (v < 0) throw new InvalidArgumentError('Input arr must be non-negative!');
  const big = dtype === 'int64';
  const od = out.data as unknown as Elems;
  const wd = weights.data as unknown as Elems;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const p = r * cols + c;
      const v = values[p]!;
      if (v >= size) continue;
      const o = r * size + v;
      if (binary) od[o] = big ? 1n : 1;
      else if (!hasWeights) od[o] = big ? (od[o] as bigint) + 1n : (od[o] as number) + 1;
      else if (big) od[o] = (od[o] as bigint) + (wd[p] as bigint);
      else if (dtype === 'float32') od[o] = Math.fround((od[o] as number) + (wd[p] as number));
      else od[o] = ((od[o] as number) + (wd[p] as number)) | 0;
    }
  }
  return [out];
}

registerCpuKernel('Bincount', ([arr, size, weights], _node, _state, outputs) => bincount(outputs, arr!, size!, weights!, false, 'Bincount'));
registerCpuKernel('DenseBincount', ([input, size, weights], node, _state, outputs) =>
  bincount(outputs, input!, size!, weights!, !!attr<boolean>(node, 'binary_output'), 'DenseBincount'),
);
