// CPU kernels: indexing family (issue 18). Data movement is dtype-generic (float32, int32, int64,
// bool, string); argument checks are the ones shape functions use (ops/semantics/indexing.ts).
// Registered on import by kernels/index.ts.
import type { TypedArray } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { type NDArray, numElements } from '../../../src/core/ndarray.js';
import { formatShape, stridesOf } from '../../../src/core/shape.js';
import { numbersOf } from '../../../ops/semantics/array.js';
import {
  batchToSpaceShape,
  checkSameBatch,
  checkScatterNdShapes,
  depthToSpaceShape,
  einsumPlan,
  gatherNdShape,
  mirrorOffset,
  mirrorPadGradShape,
  mirrorPadShape,
  ndIndexRows,
  spaceToBatchShape,
  spaceToDepthShape,
  sparseToDenseRows,
} from '../../../ops/semantics/indexing.js';
import { checkDims, fromNumbers, scalarNumber, vector } from '../../array_args.js';
import { broadcastOrThrow } from '../../shape_helpers.js';
import { getCpuKernel, registerCpuKernel, type CpuKernel } from '../registry.js';
import { attr, FRESH, type Outputs } from './util.js';

/** Elements of any storage, read and written as they are (numbers, bigints, byte arrays). */
type Elems = { [i: number]: unknown; length: number };
const elems = (d: TypedArray): Elems => d as unknown as Elems;
/** Numeric elements: numbers, or bigints for int64 (the arithmetic is the same in JS). */
type Nums = { [i: number]: number; length: number };
const nums = (d: TypedArray): Nums => d as unknown as Nums;

/**
 * Calls f(coords, k) for each multi-index of `shape` in row-major order (k: its flat index). The
 * coords array is reused: read it, do not keep it.
 */
function forEachIndex(shape: readonly number[], f: (coords: number[], k: number) => void): void {
  const n = numElements(shape);
  const r = shape.length;
  const c = new Array<number>(r).fill(0);
  for (let k = 0; k < n; k++) {
    f(c, k);
    for (let d = r - 1; d >= 0; d--) {
      if (++c[d]! < shape[d]!) break;
      c[d] = 0;
    }
  }
}

/**
 * An output of `outShape` whose k-th element is x[src(coords)] for the k-th multi-index of `walk`
 * (same element count; outShape by default), left zero where src gives -1.
 */
function gatherBy(outputs: Outputs, x: NDArray, outShape: readonly number[], src: (coords: number[]) => number, walk = outShape): NDArray {
  const out = outputs.alloc(x.dtype, outShape);
  const S = elems(x.data);
  const D = elems(out.data);
  forEachIndex(walk, (c, k) => {
    const s = src(c);
    if (s >= 0) D[k] = S[s];
  });
  return out;
}

/** src(coords) = offset + sum_d coords_d * strides_d. */
const strided = (strides: readonly number[], offset = 0) => (c: number[]): number => {
  let s = offset;
  for (let d = 0; d < c.length; d++) s += c[d]! * strides[d]!;
  return s;
};

// ---- N-d gather / scatter ----

/** Indices viewed as [N, depth]: each row's flat slice number in `shape`, checked against it. */
function sliceNumbers(indices: NDArray, shape: readonly number[], what: string): { rows: number[]; depth: number } {
  const depth = indices.shape[indices.rank - 1]!;
  const n = numElements(indices.shape.slice(0, -1));
  const message = (row: number[], i: number): string => `indices[${i}] = [${row.join(', ')}] does not index into ${what} ${formatShape(shape)}`;
  return { rows: ndIndexRows(numbersOf(indices), n, depth, shape, message), depth };
}

registerCpuKernel('GatherNd', ([params, indices], _node, _state, outputs) => {
  const p = params!;
  if (indices!.rank < 1) throw new InvalidArgumentError(`indices must be at least a vector, got shape ${formatShape(indices!.shape)}`);
  const depth = indices!.shape[indices!.rank - 1]!;
  const shape = gatherNdShape(p.shape, indices!.shape, depth) as number[];
  const { rows } = sliceNumbers(indices!, p.shape, 'param shape');
  const slice = numElements(p.shape.slice(depth));
  const out = outputs.alloc(p.dtype, shape);
  const S = elems(p.data);
  const D = elems(out.data);
  rows.forEach((row, i) => {
    for (let j = 0; j < slice; j++) D[i * slice + j] = S[row * slice + j];
  });
  return [out];
});

type ScatterMode = 'update' | 'add' | 'sub';

/** Writes updates into `out` (already holding the base values) at the slices indices name. */
function scatterInto(out: NDArray, indices: NDArray, updates: NDArray, mode: ScatterMode): NDArray {
  if (indices.rank < 1) throw new InvalidArgumentError(`indices must be at least a vector, got shape ${formatShape(indices.shape)}`);
  checkScatterNdShapes(indices.shape, updates.shape, out.shape);
  const { rows, depth } = sliceNumbers(indices, out.shape, 'shape');
  const slice = numElements(out.shape.slice(depth));
  if (mode === 'update') {
    const S = elems(updates.data);
    const D = elems(out.data);
    rows.forEach((row, i) => {
      for (let j = 0; j < slice; j++) D[row * slice + j] = S[i * slice + j];
    });
  } else {
    const S = nums(updates.data);
    const D = nums(out.data);
    const sign = mode === 'add';
    rows.forEach((row, i) => {
      for (let j = 0; j < slice; j++) {
        const o = row * slice + j;
        D[o] = sign ? D[o]! + S[i * slice + j]! : D[o]! - S[i * slice + j]!;
      }
    });
  }
  return out;
}

function copyOf(outputs: Outputs, x: NDArray): NDArray {
  const out = outputs.alloc(x.dtype, x.shape);
  const S = elems(x.data);
  const D = elems(out.data);
  for (let i = 0; i < x.size; i++) D[i] = S[i];
  return out;
}

registerCpuKernel('ScatterNd', ([indices, updates, shapeA], _node, _state, outputs) => {
  const shape = vector(shapeA!, 'shape');
  checkDims(shape, 'shape');
  // Duplicate indices add up, as TF's ScatterNd does.
  return [scatterInto(outputs.alloc(updates!.dtype, shape), indices!, updates!, 'add')];
});

for (const [type, mode] of [['TensorScatterUpdate', 'update'], ['TensorScatterAdd', 'add'], ['TensorScatterSub', 'sub']] as const) {
  registerCpuKernel(type, ([tensor, indices, updates], _node, _state, outputs) => [scatterInto(copyOf(outputs, tensor!), indices!, updates!, mode)]);
}

registerCpuKernel('SparseToDense', ([indicesA, shapeA, values, dflt], node, _state, outputs) => {
  const shape = shapeA!.rank === 0 ? [scalarNumber(shapeA!, 'output_shape')] : vector(shapeA!, 'output_shape');
  checkDims(shape, 'output_shape');
  if (indicesA!.rank > 2) throw new InvalidArgumentError(`sparse_indices should be a scalar, vector, or matrix, got shape ${formatShape(indicesA!.shape)}`);
  const n = indicesA!.rank > 0 ? indicesA!.shape[0]! : 1;
  const depth = indicesA!.rank > 1 ? indicesA!.shape[1]! : 1;
  if (depth !== shape.length) throw new InvalidArgumentError(`sparse_indices index length ${depth} does not match the rank ${shape.length} of output_shape`);
  if (!(values!.rank === 0 || (values!.rank === 1 && values!.shape[0] === n))) {
    throw new InvalidArgumentError(`sparse_values has incorrect shape ${formatShape(values!.shape)}, should be [] or [${n}]`);
  }
  if (dflt!.size !== 1 || dflt!.rank !== 0) throw new InvalidArgumentError(`default_value should be a scalar, got shape ${formatShape(dflt!.shape)}`);
  const idx = numbersOf(indicesA!);
  const validate = attr<boolean | undefined>(node, 'validate_indices') ?? true;
  const out = outputs.alloc(values!.dtype, shape);
  const D = elems(out.data);
  const fill = elems(dflt!.data)[0];
  for (let i = 0; i < out.size; i++) D[i] = fill;
  const V = elems(values!.data);
  sparseToDenseRows(idx, n, depth, shape, validate).forEach((flat, i) => (D[flat] = V[values!.rank === 0 ? 0 : i]));
  return [out];
});

// ---- reversals ----

/** x with the flagged dims reversed: a strided read with negative strides on them. */
function reversed(outputs: Outputs, x: NDArray, flags: readonly boolean[]): NDArray {
  const st = stridesOf(x.shape);
  const offset = x.shape.reduce((a, d, i) => a + (flags[i] && d > 0 ? (d - 1) * st[i]! : 0), 0);
  return gatherBy(outputs, x, x.shape, strided(st.map((s, i) => (flags[i] ? -s : s)), offset));
}

registerCpuKernel('ReverseV2', ([x, axisA], _node, _state, outputs) => {
  const r = x!.rank;
  const flags = new Array<boolean>(r).fill(false);
  vector(axisA!, 'axis').forEach((a, i) => {
    if (!Number.isInteger(a) || a < -r || a >= r) throw new InvalidArgumentError(`'axis'[${i}] = ${a} is out of valid range [${-r}, ${r - 1}]`);
    const n = a < 0 ? a + r : a;
    if (flags[n]) throw new InvalidArgumentError(`axis ${n} specified more than once`);
    flags[n] = true;
  });
  return [reversed(outputs, x!, flags)];
});

registerCpuKernel('Reverse', ([x, dims], _node, _state, outputs) => {
  if (dims!.rank !== 1 || dims!.size !== x!.rank) {
    throw new InvalidArgumentError(`'dims' must have the same number of values as 'tensor' has dimensions: ${formatShape(dims!.shape)} vs. rank ${x!.rank}`);
  }
  return [reversed(outputs, x!, Array.from(dims!.data as Uint8Array, (v) => v !== 0))];
});

registerCpuKernel('ReverseSequence', ([x, lensA], node, _state, outputs) => {
  const seqDim = attr<number>(node, 'seq_dim');
  const batchDim = attr<number | undefined>(node, 'batch_dim') ?? 0;
  const s = x!.shape;
  if (seqDim === batchDim || seqDim < 0 || seqDim >= s.length || batchDim < 0 || batchDim >= s.length) {
    throw new InvalidArgumentError(`seq_dim ${seqDim} and batch_dim ${batchDim} must differ and be < input rank ${s.length}`);
  }
  const lens = vector(lensA!, 'seq_lengths');
  if (lens.length !== s[batchDim]) throw new InvalidArgumentError(`Length of seq_lengths != input.dims(${batchDim}), (${lens.length} vs. ${s[batchDim]})`);
  lens.forEach((l, i) => {
    if (l < 0 || l > s[seqDim]!) throw new InvalidArgumentError(`seq_lens(${i}) = ${l}: must be in [0, input.dims(${seqDim}) = ${s[seqDim]}]`);
  });
  const st = stridesOf(s);
  const at = strided(st);
  return [
    gatherBy(outputs, x!, s, (c) => {
      const l = lens[c[batchDim]!]!;
      const t = c[seqDim]!;
      return at(c) + (t < l ? (l - 1 - 2 * t) * st[seqDim]! : 0);
    }),
  ];
});

// ---- mirror padding ----

function paddingsOf(p: NDArray, rank: number): number[] {
  if (p.rank !== 2 || p.shape[0] !== rank || p.shape[1] !== 2) {
    throw new InvalidArgumentError(`paddings must be a matrix with 2 columns and ${rank} rows, got ${formatShape(p.shape)}`);
  }
  return numbersOf(p);
}

registerCpuKernel('MirrorPad', ([x, p], node, _state, outputs) => {
  const mode = attr<string>(node, 'mode');
  const pads = paddingsOf(p!, x!.rank);
  const shape = mirrorPadShape(x!.shape, pads, mode) as number[];
  const off = mirrorOffset(mode);
  const st = stridesOf(x!.shape);
  return [
    gatherBy(outputs, x!, shape, (c) => {
      let s = 0;
      for (let d = 0; d < c.length; d++) {
        const n = x!.shape[d]!;
        let t = c[d]! - pads[2 * d]!;
        if (t < 0) t = -t - 1 + off;
        else if (t >= n) t = 2 * n - 1 - off - t;
        s += t * st[d]!;
      }
      return s;
    }),
  ];
});

/**
 * One dim of MirrorPadGrad: [outer, a + n + b, inner] summed down to [outer, n, inner]. Each
 * position c takes the padded position over it and its (at most two) mirror images.
 */
function unpadDim(x: NDArray, dim: number, a: number, b: number, off: number, outputs: Outputs): NDArray {
  const shape = [...x.shape];
  const m = shape[dim]!;
  const n = m - a - b;
  shape[dim] = n;
  const out = outputs.alloc(x.dtype, shape);
  const outer = numElements(shape.slice(0, dim));
  const inner = numElements(shape.slice(dim + 1));
  const S = nums(x.data);
  const D = nums(out.data);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < n; c++) {
      const sources = [c + a];
      const left = -c - 1 + off;
      if (left < 0 && left >= -a) sources.push(left + a);
      const right = 2 * n - 1 - off - c;
      if (right >= n && right < n + b) sources.push(right + a);
      for (let j = 0; j < inner; j++) {
        let acc = S[(o * m + sources[0]!) * inner + j]!;
        for (let k = 1; k < sources.length; k++) acc += S[(o * m + sources[k]!) * inner + j]!;
        D[(o * n + c) * inner + j] = acc;
      }
    }
  }
  return out;
}

registerCpuKernel('MirrorPadGrad', ([x, p], node, _state, outputs) => {
  const mode = attr<string>(node, 'mode');
  const pads = paddingsOf(p!, x!.rank);
  mirrorPadGradShape(x!.shape, pads, mode);
  const off = mirrorOffset(mode);
  const padded = x!.shape.map((_, d) => d).filter((d) => pads[2 * d]! + pads[2 * d + 1]! > 0);
  if (!padded.length) return [copyOf(outputs, x!)];
  // Dim by dim; intermediate results are scratch, the last one the output.
  let cur = x!;
  padded.forEach((d, i) => {
    cur = unpadDim(cur, d, pads[2 * d]!, pads[2 * d + 1]!, off, i === padded.length - 1 ? outputs : FRESH);
  });
  return [cur];
});

// ---- space / batch / depth ----

function blocksOf(block: NDArray, pairs: NDArray, what: string): { block: number[]; pairs: number[] } {
  const b = vector(block, 'block_shape');
  if (pairs.rank !== 2 || pairs.shape[0] !== b.length || pairs.shape[1] !== 2) {
    throw new InvalidArgumentError(`${what} should have shape [${b.length}, 2] instead of ${formatShape(pairs.shape)}`);
  }
  return { block: b, pairs: numbersOf(pairs) };
}

registerCpuKernel('SpaceToBatchND', ([x, blockA, padA], _node, _state, outputs) => {
  const { block, pairs } = blocksOf(blockA!, padA!, 'paddings');
  const s = x!.shape;
  const shape = spaceToBatchShape(s, block, pairs) as number[];
  const st = stridesOf(s);
  const batch = s[0]!;
  const m = block.length;
  return [
    gatherBy(outputs, x!, shape, (c) => {
      let blockIdx = Math.floor(c[0]! / batch);
      let src = (c[0]! % batch) * st[0]!;
      for (let i = m - 1; i >= 0; i--) {
        const offset = blockIdx % block[i]!;
        blockIdx = Math.floor(blockIdx / block[i]!);
        const t = c[i + 1]! * block[i]! + offset - pairs[2 * i]!;
        if (t < 0 || t >= s[i + 1]!) return -1;
        src += t * st[i + 1]!;
      }
      for (let d = m + 1; d < c.length; d++) src += c[d]! * st[d]!;
      return src;
    }),
  ];
});

registerCpuKernel('BatchToSpaceND', ([x, blockA, cropA], _node, _state, outputs) => {
  const { block, pairs } = blocksOf(blockA!, cropA!, 'crops');
  const s = x!.shape;
  const shape = batchToSpaceShape(s, block, pairs) as number[];
  const st = stridesOf(s);
  const batch = shape[0]!;
  const m = block.length;
  return [
    gatherBy(outputs, x!, shape, (c) => {
      let blockIdx = 0;
      let src = 0;
      for (let i = 0; i < m; i++) {
        const p = c[i + 1]! + pairs[2 * i]!;
        blockIdx = blockIdx * block[i]! + (p % block[i]!);
        src += Math.floor(p / block[i]!) * st[i + 1]!;
      }
      src += (blockIdx * batch + c[0]!) * st[0]!;
      for (let d = m + 1; d < c.length; d++) src += c[d]! * st[d]!;
      return src;
    }),
  ];
});

registerCpuKernel('SpaceToDepth', ([x], node, _state, outputs) => {
  const b = attr<number>(node, 'block_size');
  const shape = spaceToDepthShape(x!.shape, b, attr<string | undefined>(node, 'data_format') ?? 'NHWC') as number[];
  const [, h, w, c] = x!.shape as [number, number, number, number];
  // The output walked as [N, H/b, W/b, b, b, C] reads the input as [N, H/b, b, W/b, b, C].
  const walk = [shape[0]!, shape[1]!, shape[2]!, b, b, c];
  return [gatherBy(outputs, x!, shape, strided([h * w * c, b * w * c, b * c, w * c, c, 1]), walk)];
});

registerCpuKernel('DepthToSpace', ([x], node, _state, outputs) => {
  const b = attr<number>(node, 'block_size');
  const shape = depthToSpaceShape(x!.shape, b, attr<string | undefined>(node, 'data_format') ?? 'NHWC') as number[];
  const [, h, w, c] = x!.shape as [number, number, number, number];
  const co = c / (b * b);
  // The output walked as [N, H, b, W, b, C/b²] reads the input as [N, H, W, b, b, C/b²].
  const walk = [shape[0]!, h, b, w, b, co];
  return [gatherBy(outputs, x!, shape, strided([h * w * c, w * c, b * co, c, co, 1]), walk)];
});

// ---- matrices and sequences ----

registerCpuKernel('MatrixBandPart', ([x, lowerA, upperA], _node, _state, outputs) => {
  const s = x!.shape;
  if (s.length < 2) throw new InvalidArgumentError(`input must be at least rank 2, got shape ${formatShape(s)}`);
  const [m, n] = s.slice(-2) as [number, number];
  const lower = scalarNumber(lowerA!, 'num_lower');
  const upper = scalarNumber(upperA!, 'num_upper');
  if (lower > m) throw new InvalidArgumentError(`num_lower must be negative or less or equal to number of rows (${m}) got: ${lower}`);
  if (upper > n) throw new InvalidArgumentError(`num_upper must be negative or less or equal to number of columns (${n}) got: ${upper}`);
  const r = s.length;
  return [
    gatherBy(outputs, x!, s, (c) => {
      const d = c[r - 1]! - c[r - 2]!;
      const inBand = (lower < 0 || -d <= lower) && (upper < 0 || d <= upper);
      if (!inBand) return -1;
      let k = 0;
      for (let i = 0; i < r; i++) k = k * s[i]! + c[i]!;
      return k;
    }),
  ];
});

registerCpuKernel('LinSpace', ([startA, stopA, numA], _node, _state, outputs) => {
  const start = scalarNumber(startA!, 'start');
  const stop = scalarNumber(stopA!, 'stop');
  const num = scalarNumber(numA!, 'num');
  if (num <= 0) throw new InvalidArgumentError(`Requires num > 0: ${num}`);
  const out = outputs.alloc(startA!.dtype, [num]);
  const o = out.data as Float32Array;
  // As TF's kernel: start + i * step in float32, the last value exactly stop.
  const step = Math.fround(Math.fround(stop - start) / (num - 1));
  for (let i = 0; i < num - 1; i++) o[i] = start + Math.fround(step * i);
  o[num - 1] = num === 1 ? start : stop;
  return [out];
});

registerCpuKernel('BroadcastArgs', ([s0, s1]) => {
  const shape = broadcastOrThrow(vector(s0!, 's0'), vector(s1!, 's1'));
  return [fromNumbers(shape, s0!.dtype, [shape.length])];
});

// ---- the first GraphDef versions of Gather, Concat and BatchMatMul: the current kernels ----

const kernelOf = (type: string): CpuKernel => {
  const k = getCpuKernel(type);
  if (!k) throw new InvalidArgumentError(`no CPU kernel for ${type}`);
  return k;
};

registerCpuKernel('Gather', ([params, indices], node, state, outputs) => kernelOf('GatherV2')([params!, indices!, fromNumbers([0], 'int32', [])], node, state, outputs));

registerCpuKernel('Concat', (inputs, node, state, outputs) => kernelOf('ConcatV2')([...inputs.slice(1), inputs[0]!], node, state, outputs));

registerCpuKernel('BatchMatMul', (inputs, node, state, outputs) => {
  checkSameBatch(inputs[0]!.shape, inputs[1]!.shape);
  return kernelOf('BatchMatMulV2')(inputs, node, state, outputs);
});

// ---- einsum ----

registerCpuKernel('Einsum', (inputs, node, _state, outputs) => {
  const plan = einsumPlan(attr<string>(node, 'equation'), inputs.map((x) => x.shape));
  const dtype = inputs[0]!.dtype;
  const out = outputs.alloc(dtype, plan.outShape);
  const D = nums(out.data);
  const ins = inputs.map((x) => nums(x.data));
  const outStrides = stridesOf(plan.outShape);
  // A free label's stride in the output: the sum over its axes (a repeated label walks the diagonal).
  const freeOut = plan.free.map((_, j) => plan.outAxes.reduce((a, l, ax) => (l === j ? a + outStrides[ax]! : a), 0));
  const zero = dtype === 'int64' ? (0n as unknown as number) : 0;
  const nSum = numElements(plan.sumDims);
  const sumOffsets = plan.sumStrides.map((st) => {
    const offs = new Array<number>(nSum);
    const at = strided(st);
    forEachIndex(plan.sumDims, (c, k) => (offs[k] = at(c)));
    return offs;
  });
  const baseOf = plan.freeStrides.map((st) => strided(st));
  const outOf = strided(freeOut);
  forEachIndex(plan.freeDims, (c) => {
    const bases = baseOf.map((f) => f(c));
    let acc = zero;
    if (ins.length === 1) {
      const [a, base, offs] = [ins[0]!, bases[0]!, sumOffsets[0]!];
      for (let k = 0; k < nSum; k++) acc += a[base + offs[k]!]!;
    } else {
      const [a, b] = [ins[0]!, ins[1]!];
      const [ba, bb, oa, ob] = [bases[0]!, bases[1]!, sumOffsets[0]!, sumOffsets[1]!];
      for (let k = 0; k < nSum; k++) acc += a[ba + oa[k]!]! * b[bb + ob[k]!]!;
    }
    D[outOf(c)] = acc;
  });
  return [out];
});
