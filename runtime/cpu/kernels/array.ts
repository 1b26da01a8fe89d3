// CPU kernels of the array ops. Data movement is dtype-generic (float32, int32, int64, bool, string).
import { type DType, type TypedArray } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray, numElements } from '../../../src/core/ndarray.js';
import { formatShape, stridesOf } from '../../../src/core/shape.js';
import { invertPerm, numbersOf, rangeSize } from '../../../ops/semantics/array.js';
import { checkDims, fromNumbers, indexError, normAxis, reshapeTarget, scalarNumber, sliceSpec, vector } from '../../array_args.js';
import { registerCpuKernel } from '../registry.js';
import { attr, collapseDims, type Outputs } from './util.js';

/** Element access on any storage, typed as numbers (int64 holds bigints, string holds byte arrays). */
type Elems = Float32Array;
const isTyped = (d: TypedArray): boolean => !Array.isArray(d);


function copyArray(a: NDArray, shape: readonly number[]): NDArray {
  const data = Array.isArray(a.data) ? [...a.data] : a.data.slice();
  return new NDArray(data as TypedArray, shape, a.dtype);
}

/**
 * dst[dstOffset + k] = src[srcOffset + sum_d idx_d * srcStrides_d] for the k-th index of `shape` in
 * row-major order. Strides may be 0 (broadcast) or negative (reversed slices).
 */
function stridedGather(src: TypedArray, dst: TypedArray, shape: readonly number[], srcStrides: readonly number[], srcOffset: number, dstOffset = 0): void {
  const n = numElements(shape);
  if (n === 0) return;
  const { shape: s, strides: [st] } = collapseDims(shape, [srcStrides]);
  const S = src as unknown as Elems;
  const D = dst as unknown as Elems;
  const r = s.length; // >= 1: collapseDims keeps one dim
  const inner = s[r - 1]!;
  const is = st[r - 1]!;
  const contiguous = is === 1 && inner >= 16 && isTyped(src);
  const idx = new Array<number>(r).fill(0);
  let off = srcOffset;
  let o = dstOffset;
  for (let k = n / inner; k > 0; k--) {
    if (contiguous) {
      D.set(S.subarray(off, off + inner), o);
      o += inner;
    } else if (is === 0) {
      // A broadcast value (a reduction's gradient: one value over the whole input).
      D.fill(S[off]!, o, o + inner);
      o += inner;
    } else {
      let p = off;
      for (let j = 0; j < inner; j++, p += is) D[o++] = S[p]!;
    }
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      off += st[d]!;
      if (idx[d]! < s[d]!) break;
      off -= st[d]! * s[d]!;
      idx[d] = 0;
    }
  }
}

/** The inverse of stridedGather: dst[dstOffset + sum_d idx_d * dstStrides_d] = src[srcOffset + k]. */
function stridedScatter(src: TypedArray, dst: TypedArray, shape: readonly number[], dstStrides: readonly number[], dstOffset: number, srcOffset = 0): void {
  const n = numElements(shape);
  if (n === 0) return;
  const { shape: s, strides: [st] } = collapseDims(shape, [dstStrides]);
  const S = src as unknown as Elems;
  const D = dst as unknown as Elems;
  const r = s.length; // >= 1: collapseDims keeps one dim
  const inner = s[r - 1]!;
  const is = st[r - 1]!;
  const contiguous = is === 1 && inner >= 16 && isTyped(src);
  const idx = new Array<number>(r).fill(0);
  let off = dstOffset;
  let i = srcOffset;
  for (let k = n / inner; k > 0; k--) {
    if (contiguous) {
      D.set(S.subarray(i, i + inner), off);
      i += inner;
    } else {
      let p = off;
      for (let j = 0; j < inner; j++, p += is) D[p] = S[i++]!;
    }
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      off += st[d]!;
      if (idx[d]! < s[d]!) break;
      off -= st[d]! * s[d]!;
      idx[d] = 0;
    }
  }
}

/** Copies `count` consecutive elements (typed arrays use set/subarray). */
function copyRun(src: TypedArray, srcOff: number, dst: TypedArray, dstOff: number, count: number): void {
  if (count === 0) return;
  if (isTyped(src) && count >= 16) {
    (dst as Elems).set((src as Elems).subarray(srcOff, srcOff + count), dstOff);
  } else {
    const S = src as unknown as Elems;
    const D = dst as unknown as Elems;
    for (let j = 0; j < count; j++) D[dstOff + j] = S[srcOff + j]!;
  }
}





// ---- creation ----

function filledLike(outputs: Outputs, dtype: DType, shape: readonly number[], value: unknown): NDArray {
  const out = outputs.alloc(dtype, shape);
  const d = out.data as unknown as unknown[];
  if (isTyped(out.data)) (out.data as unknown as { fill(v: unknown): void }).fill(value);
  else for (let i = 0; i < d.length; i++) d[i] = value;
  return out;
}

registerCpuKernel('Fill', ([dims, value], _node, _state, outputs) => {
  const shape = vector(dims!, 'dims');
  checkDims(shape, 'dims');
  if (value!.size !== 1) throw new InvalidArgumentError(`value must be a scalar, got shape ${formatShape(value!.shape)}`);
  return [filledLike(outputs, value!.dtype, shape, value!.data[0])];
});

registerCpuKernel('ZerosLike', ([x], _node, _state, outputs) => [outputs.alloc(x!.dtype, x!.shape)]);
registerCpuKernel('OnesLike', ([x], _node, _state, outputs) => [filledLike(outputs, x!.dtype, x!.shape, x!.dtype === 'int64' ? 1n : 1)]);

registerCpuKernel('Range', ([start, limit, delta], node, _state, outputs) => {
  const dtype = node.outputs[0]!.dtype;
  const s = scalarNumber(start!, 'start');
  const l = scalarNumber(limit!, 'limit');
  const d = scalarNumber(delta!, 'delta');
  const n = rangeSize(s, l, d, dtype !== 'float32');
  if (typeof n === 'string') throw new InvalidArgumentError(n);
  const out = outputs.alloc(dtype, [n]);
  if (dtype === 'int64') {
    const o = out.data as BigInt64Array;
    for (let i = 0; i < n; i++) o[i] = BigInt(s + i * d);
  } else if (dtype === 'float32') {
    // Accumulated in the output type, as TF does.
    const o = out.data as Float32Array;
    let v = Math.fround(s);
    const df = Math.fround(d);
    for (let i = 0; i < n; i++) {
      o[i] = v;
      v = Math.fround(v + df);
    }
  } else {
    const o = out.data as Int32Array;
    for (let i = 0; i < n; i++) o[i] = s + i * d;
  }
  return [out];
});

// ---- shape manipulation ----


registerCpuKernel('Reshape', ([x, shape]) => [copyArray(x!, reshapeTarget(x!.size, vector(shape!, 'shape')))]);

registerCpuKernel('ExpandDims', ([x, dim]) => {
  const d = scalarNumber(dim!, 'dim');
  const axis = normAxis(d, x!.rank + 1, 'dim');
  const shape = [...x!.shape];
  shape.splice(axis, 0, 1);
  return [copyArray(x!, shape)];
});

registerCpuKernel('Squeeze', ([x], node) => {
  const dims = (attr<readonly number[]>(node, 'squeeze_dims') ?? []).map((d) => normAxis(Number(d), x!.rank, 'squeeze dim'));
  const shape: number[] = [];
  x!.shape.forEach((d, i) => {
    if (dims.length ? dims.includes(i) : d === 1) {
      if (d !== 1) throw new InvalidArgumentError(`Can not squeeze dim[${i}], expected a dimension of 1, got ${d}`);
    } else {
      shape.push(d);
    }
  });
  return [copyArray(x!, shape)];
});

function transposeArray(outputs: Outputs, x: NDArray, perm: readonly number[]): NDArray {
  const r = x.rank;
  if (perm.length !== r) throw new InvalidArgumentError(`transpose expects a vector of size ${r}. But input(1) is a vector of size ${perm.length}`);
  const seen = new Array<boolean>(r).fill(false);
  for (const p of perm) {
    if (!Number.isInteger(p) || p < 0 || p >= r) throw new InvalidArgumentError(`${p} is out of range [0 .. ${r})`);
    if (seen[p]) throw new InvalidArgumentError(`${p} is duplicated in the input.`);
    seen[p] = true;
  }
  const inStrides = stridesOf(x.shape);
  const shape = perm.map((p) => x.shape[p]!);
  const out = outputs.alloc(x.dtype, shape);
  stridedGather(x.data, out.data, shape, perm.map((p) => inStrides[p]!), 0);
  return out;
}

registerCpuKernel('Transpose', ([x, perm], _node, _state, outputs) => [transposeArray(outputs, x!, vector(perm!, 'perm'))]);

registerCpuKernel('InvertPermutation', ([x]) => {
  const p = vector(x!, 'x');
  const seen = new Array<boolean>(p.length).fill(false);
  for (const v of p) {
    if (!Number.isInteger(v) || v < 0 || v >= p.length) throw new InvalidArgumentError(`${v} is not between 0 and ${p.length}`);
    if (seen[v]) throw new InvalidArgumentError(`${v} is duplicated in the input.`);
    seen[v] = true;
  }
  return [fromNumbers(invertPerm(p), x!.dtype, [p.length])];
});

registerCpuKernel('Shape', ([x], node) => [fromNumbers(x!.shape, node.outputs[0]!.dtype, [x!.rank])]);
registerCpuKernel('Size', ([x], node) => [fromNumbers([x!.size], node.outputs[0]!.dtype, [])]);
registerCpuKernel('Rank', ([x]) => [fromNumbers([x!.rank], 'int32', [])]);

registerCpuKernel('BroadcastTo', ([x, shape], _node, _state, outputs) => {
  const target = vector(shape!, 'shape');
  checkDims(target, 'shape');
  const xs = x!.shape;
  if (xs.length > target.length) {
    throw new InvalidArgumentError(`Rank of input (${xs.length}) must be no greater than rank of output shape (${target.length}).`);
  }
  const off = target.length - xs.length;
  const inStrides = stridesOf(xs);
  const strides = target.map((d, i) => {
    if (i < off) return 0;
    const xd = xs[i - off]!;
    if (xd === d) return xd === 1 ? 0 : inStrides[i - off]!;
    if (xd === 1) return 0;
    throw new InvalidArgumentError(`Incompatible shapes: ${formatShape(xs)} vs. ${formatShape(target)}`);
  });
  const out = outputs.alloc(x!.dtype, target);
  stridedGather(x!.data, out.data, target, strides, 0);
  return [out];
});

// ---- concat / split / pack ----

/** Rows of `outer` blocks: each value contributes a run of `dims[i] * inner` elements per block. */
function concatArrays(outputs: Outputs, values: NDArray[], axis: number, outShape: number[]): NDArray {
  const out = outputs.alloc(values[0]!.dtype, outShape);
  const outer = numElements(outShape.slice(0, axis));
  const inner = numElements(outShape.slice(axis + 1));
  const rowOut = outShape[axis]! * inner;
  let col = 0;
  for (const v of values) {
    const row = (v.shape[axis] ?? 1) * inner;
    for (let o = 0; o < outer; o++) copyRun(v.data, o * row, out.data, o * rowOut + col, row);
    col += row;
  }
  return out;
}

registerCpuKernel('ConcatV2', (inputs, _node, _state, outputs) => {
  const values = inputs.slice(0, -1);
  const first = values[0]!;
  const r = first.rank;
  if (r === 0) throw new InvalidArgumentError('Can not concatenate scalars');
  const axis = normAxis(scalarNumber(inputs[inputs.length - 1]!, 'axis'), r);
  let total = 0;
  values.forEach((v, i) => {
    if (v.rank !== r || v.shape.some((d, j) => j !== axis && d !== first.shape[j])) {
      throw new InvalidArgumentError(
        `ConcatOp : Dimensions of inputs should match: shape[0] = ${formatShape(first.shape)} vs. shape[${i}] = ${formatShape(v.shape)}`,
      );
    }
    total += v.shape[axis]!;
  });
  const shape = [...first.shape];
  shape[axis] = total;
  return [concatArrays(outputs, values, axis, shape)];
});

registerCpuKernel('ConcatOffset', (inputs) => {
  const shapes = inputs.slice(1).map((s) => vector(s, 'shape'));
  const r = shapes[0]!.length;
  const axis = normAxis(scalarNumber(inputs[0]!, 'concat_dim'), r, 'concat_dim');
  let offset = 0;
  return shapes.map((s, i) => {
    if (s.length !== r || s.some((d, j) => j !== axis && d !== shapes[0]![j])) {
      throw new InvalidArgumentError(`input[${i}] shape [${s.join(',')}] is incompatible with input[0] [${shapes[0]!.join(',')}] for concat on dim ${axis}`);
    }
    const o = new Array<number>(r).fill(0);
    o[axis] = offset;
    offset += s[axis]!;
    return fromNumbers(o, 'int32', [r]);
  });
});

/** Pieces of x along axis with the given sizes; `dropAxis` removes the (size-1) axis from each piece. */
function splitArray(outputs: Outputs, x: NDArray, axis: number, sizes: readonly number[], dropAxis = false): NDArray[] {
  const outer = numElements(x.shape.slice(0, axis));
  const inner = numElements(x.shape.slice(axis + 1));
  const rowIn = x.shape[axis]! * inner;
  let col = 0;
  return sizes.map((sz) => {
    const shape = [...x.shape];
    if (dropAxis) shape.splice(axis, 1);
    else shape[axis] = sz;
    const out = outputs.alloc(x.dtype, shape);
    const row = sz * inner;
    for (let o = 0; o < outer; o++) copyRun(x.data, o * rowIn + col, out.data, o * row, row);
    col += row;
    return out;
  });
}

registerCpuKernel('Split', ([dim, x], node, _state, outputs) => {
  const n = attr<number>(node, 'num_split');
  const axis = normAxis(scalarNumber(dim!, 'split_dim'), x!.rank, 'split_dim');
  const d = x!.shape[axis]!;
  if (d % n !== 0) {
    throw new InvalidArgumentError(`Number of ways to split should evenly divide the split dimension, but got split_dim ${axis} (size = ${d}) and num_split ${n}`);
  }
  return splitArray(outputs, x!, axis, new Array<number>(n).fill(d / n));
});

registerCpuKernel('SplitV', ([x, sizesA, dim], node, _state, outputs) => {
  const n = attr<number>(node, 'num_split');
  const axis = normAxis(scalarNumber(dim!, 'split_dim'), x!.rank, 'split_dim');
  const sizes = vector(sizesA!, 'size_splits');
  if (sizes.length !== n) throw new InvalidArgumentError(`size_splits has ${sizes.length} elements but num_split is ${n}`);
  const d = x!.shape[axis]!;
  let neg = -1;
  let sum = 0;
  sizes.forEach((s, i) => {
    if (s === -1) {
      if (neg >= 0) throw new InvalidArgumentError(`There can only be one -1 in the input, got [${sizes.join(',')}]`);
      neg = i;
    } else if (s < 0) {
      throw new InvalidArgumentError(`size_splits must be >= 0 (or one -1), got [${sizes.join(',')}]`);
    } else {
      sum += s;
    }
  });
  if ((neg < 0 && sum !== d) || (neg >= 0 && sum > d)) {
    throw new InvalidArgumentError(
      `Determined shape must either match input shape along split_dim exactly if fully specified, or be less than the size of the input along split_dim if not fully specified. Got: ${sum} vs ${d}`,
    );
  }
  const resolved = sizes.map((s) => (s === -1 ? d - sum : s));
  return splitArray(outputs, x!, axis, resolved);
});

registerCpuKernel('Pack', (values, node, _state, outputs) => {
  const first = values[0]!;
  values.forEach((v, i) => {
    if (v.rank !== first.rank || v.shape.some((d, j) => d !== first.shape[j])) {
      throw new InvalidArgumentError(`Shapes of all inputs must match: values[0].shape = ${formatShape(first.shape)} != values[${i}].shape = ${formatShape(v.shape)}`);
    }
  });
  const axis = normAxis(attr<number>(node, 'axis') ?? 0, first.rank + 1);
  const expanded = [...first.shape];
  expanded.splice(axis, 0, 1);
  const shape = [...first.shape];
  shape.splice(axis, 0, values.length);
  return [concatArrays(outputs, values.map((v) => new NDArray(v.data, expanded, v.dtype)), axis, shape)];
});

registerCpuKernel('Unpack', ([x], node, _state, outputs) => {
  const axis = normAxis(attr<number>(node, 'axis') ?? 0, x!.rank);
  const num = attr<number>(node, 'num');
  if (x!.shape[axis] !== num) throw new InvalidArgumentError(`Input shape axis ${axis} must equal ${num}, got shape ${formatShape(x!.shape)}`);
  return splitArray(outputs, x!, axis, new Array<number>(num).fill(1), true);
});

// ---- slicing ----

registerCpuKernel('Slice', ([x, beginA, sizeA], _node, _state, outputs) => {
  const begin = vector(beginA!, 'begin');
  const size = vector(sizeA!, 'size');
  const r = x!.rank;
  if (begin.length !== r || size.length !== r) {
    throw new InvalidArgumentError(`Expected begin and size arguments to be 1-D tensors of size ${r}, but got shapes [${begin.length}] and [${size.length}] instead.`);
  }
  const shape = size.map((s, i) => {
    const d = x!.shape[i]!;
    const b = begin[i]!;
    const sz = s === -1 ? d - b : s;
    if (!(b >= 0 && b <= d && sz >= 0 && b + sz <= d)) {
      throw new InvalidArgumentError(`Expected begin[${i}] in [0, ${d}], and size[${i}] in [0, ${d - b}], but got ${b} and ${s}`);
    }
    return sz;
  });
  const strides = stridesOf(x!.shape);
  const out = outputs.alloc(x!.dtype, shape);
  stridedGather(x!.data, out.data, shape, strides, begin.reduce((a, b, i) => a + b * strides[i]!, 0));
  return [out];
});


registerCpuKernel('StridedSlice', ([x, b, e, s], node, _state, outputs) => {
  const spec = sliceSpec(node, x!.shape, b!, e!, s!);
  const out = outputs.alloc(x!.dtype, spec.finalShape);
  stridedGather(x!.data, out.data, spec.processing, spec.strides, spec.offset);
  return [out];
});

registerCpuKernel('StridedSliceGrad', ([shapeA, b, e, s, dy], node, _state, outputs) => {
  const shape = vector(shapeA!, 'shape');
  checkDims(shape, 'shape');
  const spec = sliceSpec(node, shape, b!, e!, s!);
  if (numElements(spec.finalShape) !== dy!.size || spec.finalShape.length !== dy!.rank || spec.finalShape.some((d, i) => d !== dy!.shape[i])) {
    throw new InvalidArgumentError(`shape of dy was ${formatShape(dy!.shape)} instead of ${formatShape(spec.finalShape)}`);
  }
  const out = outputs.alloc(dy!.dtype, shape);
  stridedScatter(dy!.data, out.data, spec.processing, spec.strides, spec.offset);
  return [out];
});

// ---- gather / scatter ----


registerCpuKernel('GatherV2', ([params, indices, axisA], _node, _state, outputs) => {
  const p = params!;
  const axis = normAxis(scalarNumber(axisA!, 'axis'), p.rank);
  const idx = numbersOf(indices!);
  const n = p.shape[axis]!;
  idx.forEach((v, i) => {
    if (v < 0 || v >= n) throw indexError('indices', indices!, i, v, n);
  });
  const shape = [...p.shape.slice(0, axis), ...indices!.shape, ...p.shape.slice(axis + 1)];
  const out = outputs.alloc(p.dtype, shape);
  const outer = numElements(p.shape.slice(0, axis));
  const inner = numElements(p.shape.slice(axis + 1));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    const base = a * n * inner;
    for (let j = 0; j < idx.length; j++) {
      copyRun(p.data, base + idx[j]! * inner, out.data, o, inner);
      o += inner;
    }
  }
  return [out];
});

registerCpuKernel('UnsortedSegmentSum', ([data, ids, numA], _node, _state, outputs) => {
  const d = data!;
  const num = scalarNumber(numA!, 'num_segments');
  if (num < 0) throw new InvalidArgumentError(`num_segments must be >= 0, got ${num}`);
  const idShape = ids!.shape;
  if (idShape.length > d.rank || idShape.some((s, i) => s !== d.shape[i])) {
    throw new InvalidArgumentError(`data.shape = ${formatShape(d.shape)} does not start with segment_ids.shape = ${formatShape(idShape)}`);
  }
  const segs = numbersOf(ids!);
  const inner = numElements(d.shape.slice(idShape.length));
  const out = outputs.alloc(d.dtype, [num, ...d.shape.slice(idShape.length)]);
  segs.forEach((s, i) => {
    if (s >= num) throw indexError('segment_ids', ids!, i, s, num);
  });
  if (d.dtype === 'int64') {
    const src = d.data as BigInt64Array;
    const dst = out.data as BigInt64Array;
    segs.forEach((s, i) => {
      if (s < 0) return;
      for (let j = 0; j < inner; j++) dst[s * inner + j]! += src[i * inner + j]!;
    });
  } else {
    const src = d.data as Float32Array;
    const dst = out.data as Float32Array;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      if (s < 0) continue;
      const so = i * inner;
      const dOff = s * inner;
      for (let j = 0; j < inner; j++) dst[dOff + j]! += src[so + j]!;
    }
  }
  return [out];
});

registerCpuKernel('OneHot', ([indices, depthA, on, off], node, _state, outputs) => {
  const depth = scalarNumber(depthA!, 'depth');
  if (depth < 0) throw new InvalidArgumentError(`depth must be non-negative, got: ${depth}`);
  const s = indices!.shape;
  const axisAttr = attr<number>(node, 'axis') ?? -1;
  const axis = axisAttr === -1 ? s.length : axisAttr;
  const shape = [...s.slice(0, axis), depth, ...s.slice(axis)];
  const out = filledLike(outputs, node.outputs[0]!.dtype, shape, off!.data[0]);
  const suffix = numElements(s.slice(axis));
  const onV = on!.data[0];
  const idx = numbersOf(indices!);
  const D = out.data as unknown as unknown[];
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i]!;
    if (v < 0 || v >= depth) continue;
    const pre = Math.floor(i / suffix);
    const suf = i % suffix;
    D[(pre * depth + v) * suffix + suf] = onV;
  }
  return [out];
});

// ---- tile / pad ----

registerCpuKernel('Tile', ([x, multA], _node, _state, outputs) => {
  const m = vector(multA!, 'multiples');
  const xs = x!.shape;
  if (m.length !== xs.length) throw new InvalidArgumentError(`Expected multiples argument to be a vector of length ${xs.length} but got length ${m.length}`);
  m.forEach((v, i) => {
    if (v < 0) throw new InvalidArgumentError(`Expected multiples[${i}] >= 0, but got ${v}`);
  });
  const out = outputs.alloc(x!.dtype, xs.map((d, i) => d * m[i]!));
  // The output viewed as [m0, d0, m1, d1, ...] reads x with stride 0 along each multiple.
  const inStrides = stridesOf(xs);
  const view = xs.flatMap((d, i) => [m[i]!, d]);
  const strides = xs.flatMap((_, i) => [0, inStrides[i]!]);
  stridedGather(x!.data, out.data, view, strides, 0);
  return [out];
});

function padArray(outputs: Outputs, x: NDArray, paddingsA: NDArray, value: unknown): NDArray {
  const r = x.rank;
  if (paddingsA.rank !== 2 || paddingsA.shape[0] !== r || paddingsA.shape[1] !== 2) {
    throw new InvalidArgumentError(`paddings must be a matrix with 2 columns and ${r} rows, got ${formatShape(paddingsA.shape)}`);
  }
  const p = numbersOf(paddingsA);
  if (p.some((v) => v < 0)) throw new InvalidArgumentError(`Paddings must be non-negative: [${p.join(',')}]`);
  const shape = x.shape.map((d, i) => d + p[2 * i]! + p[2 * i + 1]!);
  const out = value === undefined ? outputs.alloc(x.dtype, shape) : filledLike(outputs, x.dtype, shape, value);
  const outStrides = stridesOf(shape);
  const offset = x.shape.reduce((a, _, i) => a + p[2 * i]! * outStrides[i]!, 0);
  stridedScatter(x.data, out.data, x.shape, outStrides, offset);
  return out;
}

registerCpuKernel('Pad', ([x, p], _node, _state, outputs) => [padArray(outputs, x!, p!, undefined)]);
registerCpuKernel('PadV2', ([x, p, c], _node, _state, outputs) => {
  if (c!.size !== 1) throw new InvalidArgumentError(`constant_values must be a scalar, got shape ${formatShape(c!.shape)}`);
  return [padArray(outputs, x!, p!, c!.data[0])];
});
