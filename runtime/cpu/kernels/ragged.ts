// CPU kernels: ragged ops (RaggedRange, RaggedGather, RaggedTensorToTensor). Host kernels on every
// backend.
import type { DType } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { type NDArray, numElements } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import { numbersOf } from '../../../ops/semantics/array.js';
import { indexError } from '../../array_args.js';
import { registerCpuKernel } from '../registry.js';
import { attr, type Outputs } from './util.js';

type Elems = { [i: number]: number | bigint | Uint8Array; length: number };

function numbersOut(outputs: Outputs, dtype: DType, values: readonly number[]): NDArray {
  const out = outputs.alloc(dtype, [values.length]);
  const d = out.data as unknown as Elems;
  values.forEach((v, i) => (d[i] = dtype === 'int64' ? BigInt(v) : v));
  return out;
}

/** Copies value rows [start, limit) of `values` (rows of `inner` elements) to `dst` from row `at`. */
function copyRows(values: NDArray, start: number, limit: number, dst: Elems, at: number, inner: number): void {
  const src = values.data as unknown as Elems;
  for (let k = start * inner, o = at * inner; k < limit * inner; k++, o++) dst[o] = src[k]!;
}

registerCpuKernel('RaggedRange', ([starts, limits, deltas], node, _state, outputs) => {
  const args = [starts!, limits!, deltas!];
  for (const a of args) if (a.rank > 1) throw new InvalidArgumentError(`RaggedRange: starts, limits and deltas must be scalars or vectors, got shape ${formatShape(a.shape)}`);
  const vectors = args.filter((a) => a.rank === 1);
  const rows = vectors.length ? vectors[0]!.size : 1;
  if (vectors.some((a) => a.size !== rows)) throw new InvalidArgumentError('RaggedRange: starts, limits, and deltas must have the same shape');
  const [s, l, d] = args.map((a) => (i: number) => Number((a.data as ArrayLike<number | bigint>)[a.rank === 0 ? 0 : i]));
  const integral = starts!.dtype !== 'float32';
  const splits = [0];
  const values: number[] = [];
  for (let i = 0; i < rows; i++) {
    const [start, limit, delta] = [s!(i), l!(i), d!(i)];
    if (delta === 0) throw new InvalidArgumentError('RaggedRange: Requires delta != 0');
    const empty = (delta > 0 && limit < start) || (delta < 0 && limit > start);
    const size = empty ? 0 : integral ? Math.floor((Math.abs(limit - start) + Math.abs(delta) - 1) / Math.abs(delta)) : Math.ceil(Math.abs((limit - start) / delta));
    for (let k = 0; k < size; k++) values.push(start + k * delta);
    splits.push(splits[i]! + size);
  }
  const splitsType = attr<DType>(node, 'Tsplits') ?? 'int64';
  return [numbersOut(outputs, splitsType, splits), numbersOut(outputs, starts!.dtype, values)];
});

registerCpuKernel('RaggedGather', (inputs, _node, _state, outputs) => {
  const n = inputs.length;
  const splits = inputs.slice(0, n - 2).map((s) => numbersOf(s));
  const values = inputs[n - 2]!;
  const indicesA = inputs[n - 1]!;
  const indices = numbersOf(indicesA);
  const numParams = splits[0]!.length - 1;
  indices.forEach((v, i) => {
    if (v < 0 || v >= numParams) throw indexError('RaggedGather: indices', indicesA, i, v, numParams);
  });
  const out: number[][] = [];
  // Uniform splits for indices' inner dims: [0, d, 2d, ...] over the rows of the dims before.
  let rowsSoFar = 1;
  for (let dim = 0; dim < indicesA.rank - 1; dim++) {
    rowsSoFar *= indicesA.shape[dim]!;
    const len = indicesA.shape[dim + 1]!;
    out.push(Array.from({ length: rowsSoFar + 1 }, (_, r) => r * len));
  }
  // Then each ragged level: the gathered rows' lengths, and the ranges of the next level they cover.
  let ranges = indices.map((i) => [i, i + 1] as [number, number]);
  for (const level of splits) {
    const s = [0];
    const next: [number, number][] = [];
    for (const [a, b] of ranges) {
      for (let j = a; j < b; j++) s.push(s[s.length - 1]! + level[j + 1]! - level[j]!);
      if (b > a) next.push([level[a]!, level[b]!]);
    }
    out.push(s);
    ranges = next;
  }
  const inner = numElements(values.shape.slice(1));
  const total = ranges.reduce((acc, [a, b]) => acc + b - a, 0);
  const vals = outputs.alloc(values.dtype, [total, ...values.shape.slice(1)]);
  let at = 0;
  for (const [a, b] of ranges) {
    copyRows(values, a, b, vals.data as unknown as Elems, at, inner);
    at += b - a;
  }
  const splitsType = inputs[0]!.dtype;
  return [...out.map((s) => numbersOut(outputs, splitsType, s)), vals];
});

registerCpuKernel('RaggedTensorToTensor', ([shapeA, values, dflt, ...parts], node, _state, outputs) => {
  const types = attr<string[]>(node, 'row_partition_types');
  // The ragged dims: one per partition but FIRST_DIM_SIZE.
  const rr = types.filter((t) => t !== 'FIRST_DIM_SIZE').length;
  const v = values!;
  const innerShape = v.shape.slice(1);
  const inner = numElements(innerShape);
  const given = shapeA!.rank === 1 ? numbersOf(shapeA!) : null;
  if (given && given.length !== rr + 1 + innerShape.length) {
    throw new InvalidArgumentError(`RaggedTensorToTensor: shape has ${given.length} dims, expected ${rr + 1 + innerShape.length}`);
  }
  if (given) {
    innerShape.forEach((d, i) => {
      const want = given[rr + 1 + i]!;
      if (want >= 0 && want !== d) throw new InvalidArgumentError(`RaggedTensorToTensor: shape [${given.join(',')}] does not match the values' inner shape ${formatShape(innerShape)}`);
    });
  }
  const partitions = parts.map((p) => numbersOf(p));
  // Rows of each level's parent, and the row lengths, per partition.
  const levels: { parentOf: number[]; pos: number[]; maxLen: number }[] = [];
  let nrows: number;
  let k = 0;
  if (types[0] === 'FIRST_DIM_SIZE') {
    nrows = partitions[0]![0]!;
    k = 1;
  } else {
    nrows = partitions[0]!.length - 1;
  }
  let parentRows = nrows;
  for (; k < types.length; k++) {
    const p = partitions[k]!;
    const parentOf: number[] = [];
    const pos: number[] = [];
    let maxLen = 0;
    if (types[k] === 'ROW_SPLITS') {
      if (p.length !== parentRows + 1) throw new InvalidArgumentError(`RaggedTensorToTensor: row_splits of length ${p.length} for ${parentRows} rows`);
      for (let r = 0; r < parentRows; r++) {
        maxLen = Math.max(maxLen, p[r + 1]! - p[r]!);
        for (let j = p[r]!; j < p[r + 1]!; j++) {
          parentOf.push(r);
          pos.push(j - p[r]!);
        }
      }
    } else {
      const counts = new Array<number>(parentRows).fill(0);
      for (const r of p) {
        if (r < 0 || r >= parentRows) throw new InvalidArgumentError(`RaggedTensorToTensor: value_rowids entry ${r} is not in [0, ${parentRows})`);
        if (parentOf.length && r < parentOf[parentOf.length - 1]!) throw new InvalidArgumentError('RaggedTensorToTensor: value_rowids must be sorted');
        parentOf.push(r);
        pos.push(counts[r]!++);
      }
      maxLen = Math.max(0, ...counts);
    }
    levels.push({ parentOf, pos, maxLen });
    parentRows = parentOf.length;
  }
  if (parentRows !== v.shape[0]) throw new InvalidArgumentError(`RaggedTensorToTensor: the partitions hold ${parentRows} values, values has ${v.shape[0]} rows`);
  const dims = [given && given[0]! >= 0 ? given[0]! : nrows, ...levels.map((l, i) => (given && given[i + 1]! >= 0 ? given[i + 1]! : l.maxLen))];
  const out = outputs.alloc(v.dtype, [...dims, ...innerShape]);
  const dst = out.data as unknown as Elems;
  // Fill with the default, broadcast over the inner shape.
  const dd = dflt!.data as unknown as Elems;
  const dShape = dflt!.shape;
  const lead = innerShape.length - dShape.length;
  if (lead < 0 || dShape.some((d, i) => d !== 1 && d !== innerShape[lead + i])) {
    throw new InvalidArgumentError(`RaggedTensorToTensor: default_value ${formatShape(dShape)} does not broadcast to ${formatShape(innerShape)}`);
  }
  const innerStrides = innerShape.map((_, i) => numElements(innerShape.slice(i + 1)));
  const dStrides = dShape.map((_, i) => numElements(dShape.slice(i + 1)));
  for (let e = 0; e < inner; e++) {
    let di = 0;
    for (let i = 0; i < dShape.length; i++) if (dShape[i] !== 1) di += (Math.floor(e / innerStrides[lead + i]!) % innerShape[lead + i]!) * dStrides[i]!;
    for (let o = e; o < dst.length; o += inner) dst[o] = dd[di]!;
  }
  // Output row of each element, level by level (-1 when its row or position is cut off by `shape`).
  let rowOf = Array.from({ length: nrows }, (_, r) => (r < dims[0]! ? r : -1));
  levels.forEach((l, i) => {
    const width = dims[i + 1]!;
    rowOf = l.parentOf.map((parent, j) => (rowOf[parent]! < 0 || l.pos[j]! >= width ? -1 : rowOf[parent]! * width + l.pos[j]!));
  });
  rowOf.forEach((row, j) => {
    if (row >= 0) copyRows(v, j, j + 1, dst, row, inner);
  });
  return [out];
});
