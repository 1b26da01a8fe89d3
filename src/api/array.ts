// Array ops API: creation (zeros, fill, range), shape manipulation, slicing, gathering, padding.
import { convertSameDType, convertToTensor, isVariableLike, makeConst, type TensorLike, graphOf } from '../convert.js';
import { allocData, type DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { gradHooks } from '../gradients.js';
import { type AttrValue, type Graph, Tensor } from '../graph.js';
import { NDArray, numElements } from '../core/ndarray.js';
import { formatShape, isFullyDefined } from '../core/shape.js';
import { cast, subtract } from './math.js';

/** A shape, axis list or index vector: a tensor-like, or a JS array that may mix numbers and scalar tensors. */
export type IntArrayLike = TensorLike | readonly (number | Tensor)[];

/**
 * Runs fn in TF's name_scope(name) on the inputs' graph. fn gets the scope ('Reshape/'), which is
 * also the exact name of the op it creates, as TF's op wrappers do (constants land inside it).
 */
function scoped<T>(name: string, values: readonly unknown[], fn: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => fn(scope, g)));
}

function out0(g: Graph, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, name: string): Tensor {
  return g.createOp(type, inputs, attrs, { name }).outputs[0]!;
}

function hasTensor(v: unknown): boolean {
  return Array.isArray(v) && v.some((e) => e instanceof Tensor || isVariableLike(e));
}

/**
 * An int32/int64 tensor from a shape/axis argument. JS numbers become an int32 (or `dtype`) Const;
 * a JS array holding scalar tensors is packed into a vector (as TF auto-packs lists).
 */
function intTensor(v: IntArrayLike, name: string, dtype: DType = 'int32'): Tensor {
  if (hasTensor(v)) {
    const parts = (v as readonly (number | Tensor)[]).map((e) => (typeof e === 'number' ? e : convertToTensor(e as TensorLike)));
    return stack(parts, 0, name);
  }
  if (v instanceof Tensor || isVariableLike(v) || v instanceof NDArray || ArrayBuffer.isView(v)) {
    return convertToTensor(v as TensorLike, undefined, name);
  }
  return convertToTensor(v as TensorLike, dtype, name);
}

/** Index tensors that must share a dtype (begin/size, begin/end/strides): tensors decide, literals follow. */
function intTensors(values: IntArrayLike[], names: string[]): Tensor[] {
  let dtype: DType = 'int32';
  for (const v of values) {
    if (v instanceof Tensor) dtype = v.dtype;
    else if (v instanceof NDArray) dtype = v.dtype;
    else if (isVariableLike(v)) dtype = v.dtype;
  }
  return values.map((v, i) => intTensor(v, names[i]!, dtype));
}

function scalarNDArray(dtype: DType, value: 0 | 1): NDArray {
  const data = allocData(dtype, 1);
  if (dtype === 'string') {
    if (value !== 0) throw new InvalidArgumentError('ones: string tensors have no "one"');
  } else if (dtype === 'int64') {
    (data as BigInt64Array)[0] = BigInt(value);
  } else {
    (data as Float32Array)[0] = value;
  }
  return new NDArray(data, [], dtype);
}

function filledNDArray(dtype: DType, value: 0 | 1, shape: readonly number[]): NDArray {
  const nd = new NDArray(allocData(dtype, numElements(shape)), shape, dtype);
  if (value === 1) {
    const one = scalarNDArray(dtype, 1).data[0]!;
    (nd.data as Float32Array).fill(one as number);
  }
  return nd;
}

function isStaticShape(v: unknown): v is readonly number[] {
  return Array.isArray(v) && v.every((d) => typeof d === 'number');
}

/** TF's zeros/ones: a Const when the shape is static and small, else Fill(shape, value). */
function filled(shape: IntArrayLike, dtype: DType, value: 0 | 1, name: string): Tensor {
  return scoped(name, [shape], (scope, g) => {
    if (isStaticShape(shape)) {
      for (const d of shape) {
        if (!Number.isInteger(d) || d < 0) throw new InvalidArgumentError(`${value ? 'ones' : 'zeros'}: invalid shape ${formatShape(shape)}`);
      }
      if (numElements(shape) < 1000) return makeConst(g, filledNDArray(dtype, value, shape), scope);
    }
    let dims = intTensor(shape, 'shape_as_tensor');
    if (dims.rank === 0) dims = reshape(dims, [-1]);
    const v = makeConst(g, scalarNDArray(dtype, value), 'Const');
    return out0(g, 'Fill', [dims, v], { T: dtype, index_type: dims.dtype }, scope);
  });
}

/** A tensor of zeros with the given shape (a Const if static and small, else a Fill op). */
export function zeros(shape: IntArrayLike, dtype: DType = 'float32', name = 'zeros'): Tensor {
  return filled(shape, dtype, 0, name);
}

/** A tensor of ones with the given shape. */
export function ones(shape: IntArrayLike, dtype: DType = 'float32', name = 'ones'): Tensor {
  return filled(shape, dtype, 1, name);
}

/** A tensor of shape `dims` filled with the scalar `value` (op Fill). */
export function fill(dims: IntArrayLike, value: TensorLike, name = 'Fill'): Tensor {
  return scoped(name, [dims, value], (scope, g) => {
    const d = intTensor(dims, 'dims');
    const v = convertToTensor(value, undefined, 'value');
    return out0(g, 'Fill', [d, v], { T: v.dtype, index_type: d.dtype }, scope);
  });
}

/**
 * Zeros with the shape of x (TF1's zeros_like): a constant when x's shape is fully known, else a
 * ZerosLike op (or Fill(Shape(x), 0) for another dtype).
 */
export function zerosLike(x: TensorLike, dtype?: DType, name = 'zeros_like'): Tensor {
  return scoped(name, [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'tensor');
    const dt = dtype ?? t.dtype;
    if (isFullyDefined(t.shape)) return zeros(t.shape, dt, scope);
    if (dt === t.dtype) return out0(g, 'ZerosLike', [t], { T: dt }, scope);
    const r = out0(g, 'Fill', [shape(t), makeConst(g, scalarNDArray(dt, 0), 'Const')], { T: dt, index_type: 'int32' }, scope);
    r.setShape(t.shape);
    return r;
  });
}

/** Ones with the shape of x (TF1's ones_like): Fill of x's static shape when known, else a OnesLike op. */
export function onesLike(x: TensorLike, dtype?: DType, name = 'ones_like'): Tensor {
  return scoped(name, [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'tensor');
    const dt = dtype ?? t.dtype;
    if (!isFullyDefined(t.shape) && dt === t.dtype) return out0(g, 'OnesLike', [t], { T: dt }, scope);
    const r = out0(g, 'Fill', [shape(t), makeConst(g, scalarNDArray(dt, 1), 'Const')], { T: dt, index_type: 'int32' }, scope);
    r.setShape(t.shape);
    return r;
  });
}

gradHooks.zerosLike = (x) => zerosLike(x);
gradHooks.onesLike = (x) => onesLike(x);

const RANGE_DTYPES: readonly DType[] = ['int32', 'int64', 'float32'];

/**
 * Numbers from start (inclusive) to limit (exclusive) by delta; range(n) counts 0..n-1. The dtype is
 * the widest of the arguments' (int32 < int64 < float32; JS numbers are int32 when integral).
 */
export function range(start: TensorLike, limit?: TensorLike | null, delta: TensorLike = 1, dtype?: DType, name = 'range'): Tensor {
  if (limit === undefined || limit === null) {
    limit = start;
    start = 0;
  }
  const args = [start, limit, delta];
  return scoped(name, args, (scope, g) => {
    const literalDType = (v: TensorLike): DType | undefined => {
      if (v instanceof Tensor || isVariableLike(v)) return (v as { dtype: DType }).dtype;
      if (v instanceof NDArray) return v.dtype;
      if (typeof v === 'number') return Number.isInteger(v) ? 'int32' : 'float32';
      return undefined;
    };
    let dt = dtype;
    if (!dt) {
      dt = 'int32';
      for (const a of args) {
        const d = literalDType(a) ?? 'float32';
        if (!RANGE_DTYPES.includes(d)) throw new InvalidArgumentError(`range: argument of dtype ${d} is not one of ${RANGE_DTYPES.join(', ')}`);
        if (RANGE_DTYPES.indexOf(d) > RANGE_DTYPES.indexOf(dt)) dt = d;
      }
    }
    const names = ['start', 'limit', 'delta'];
    const ts = args.map((a, i) => {
      if (a instanceof Tensor || isVariableLike(a)) {
        const t = convertToTensor(a);
        return t.dtype === dt ? t : cast(t, dt!);
      }
      return convertToTensor(a, dt, names[i]);
    });
    return out0(g, 'Range', ts, { Tidx: dt }, scope);
  });
}

/** x with a new shape (one dim may be -1: inferred). */
export function reshape(x: TensorLike, shape: IntArrayLike, name = 'Reshape'): Tensor {
  return scoped(name, [x, shape], (scope, g) => {
    const t = convertToTensor(x, undefined, 'tensor');
    const s = intTensor(shape, 'shape');
    return out0(g, 'Reshape', [t, s], { T: t.dtype, Tshape: s.dtype }, scope);
  });
}

/** Permutes the dimensions of x; the default perm reverses them. */
export function transpose(x: TensorLike, perm?: IntArrayLike | null, name = 'transpose'): Tensor {
  return scoped(name, [x, perm], (scope, g) => {
    const t = convertToTensor(x, undefined, 'a');
    let p: Tensor;
    if (perm === undefined || perm === null) {
      if (t.rank !== null) {
        p = intTensor(Array.from({ length: t.rank }, (_, i) => t.rank! - 1 - i), 'perm');
      } else {
        const r = rank(t);
        p = subtract(subtract(r, 1), range(0, r, 1));
      }
    } else {
      p = intTensor(perm, 'perm');
    }
    return out0(g, 'Transpose', [t, p], { T: t.dtype, Tperm: p.dtype }, scope);
  });
}

/** Concatenates values along axis (op ConcatV2; a single value passes through Identity). */
export function concat(values: readonly TensorLike[], axis: TensorLike, name = 'concat'): Tensor {
  if (values.length === 0) throw new InvalidArgumentError('concat: needs at least one value');
  return scoped(name, [...values, axis], (scope, g) => {
    const ax = convertToTensor(axis, typeof axis === 'number' ? 'int32' : undefined, 'axis');
    if (values.length === 1) {
      if (ax.rank !== null && ax.rank !== 0) throw new InvalidArgumentError(`concat: axis must be a scalar, got shape ${formatShape(ax.shape)}`);
      const t = convertToTensor(values[0]!, undefined, 'values_0');
      return out0(g, 'Identity', [t], { T: t.dtype }, scope);
    }
    const ts = convertSameDType([...values], values.map((_, i) => `values[${i}]`), 'concat');
    return out0(g, 'ConcatV2', [...ts, ax], { N: ts.length, T: ts[0]!.dtype, Tidx: ax.dtype }, scope);
  });
}

/**
 * Splits x along axis into numOrSizeSplits equal parts (op Split) or into parts of the given sizes
 * (op SplitV; one size may be -1).
 */
export function split(x: TensorLike, numOrSizeSplits: number | IntArrayLike, axis: TensorLike = 0, name = 'split'): Tensor[] {
  return scoped(name, [x, numOrSizeSplits, axis], (scope, g) => {
    const t = convertToTensor(x, undefined, 'value');
    const ax = convertToTensor(axis, typeof axis === 'number' ? 'int32' : undefined, 'split_dim');
    if (typeof numOrSizeSplits === 'number') {
      if (!Number.isInteger(numOrSizeSplits) || numOrSizeSplits < 1) {
        throw new InvalidArgumentError(`split: num_split must be a positive integer, got ${numOrSizeSplits}`);
      }
      return g.createOp('Split', [ax, t], { T: t.dtype, num_split: numOrSizeSplits }, { name: scope }).outputs;
    }
    const sizes = intTensor(numOrSizeSplits, 'Const');
    const n = sizes.shape?.[0];
    if (sizes.rank !== 1 || n === null || n === undefined) {
      throw new InvalidArgumentError(`split: size_splits must be a vector of known length, got ${sizes.name} of shape ${formatShape(sizes.shape)}`);
    }
    return g.createOp('SplitV', [t, sizes, ax], { T: t.dtype, Tlen: sizes.dtype, num_split: n }, { name: scope }).outputs;
  });
}

/** Stacks rank-R tensors into one rank-(R+1) tensor along a new axis (op Pack). */
export function stack(values: readonly TensorLike[], axis = 0, name = 'stack'): Tensor {
  if (values.length === 0) throw new InvalidArgumentError('stack: needs at least one value');
  return scoped(name, values, (scope, g) => {
    const ts = convertSameDType([...values], values.map((_, i) => `values[${i}]`), 'stack');
    return out0(g, 'Pack', ts, { N: ts.length, T: ts[0]!.dtype, axis }, scope);
  });
}

/** Unpacks x along axis into rank-(R-1) tensors (op Unpack); num defaults to the static dim. */
export function unstack(x: TensorLike, opts: { num?: number; axis?: number; name?: string } = {}): Tensor[] {
  return scoped(opts.name ?? 'unstack', [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'value');
    const axis = opts.axis ?? 0;
    let num = opts.num;
    if (num === undefined) {
      const s = t.shape;
      if (s === null) throw new InvalidArgumentError(`unstack: cannot infer num from ${t.name}, whose rank is unknown`);
      if (axis < -s.length || axis >= s.length) {
        throw new InvalidArgumentError(`unstack: axis ${axis} is out of range for ${t.name} of shape ${formatShape(s)}`);
      }
      const d = s[axis < 0 ? axis + s.length : axis];
      if (d === null || d === undefined) throw new InvalidArgumentError(`unstack: cannot infer num from shape ${formatShape(s)}`);
      num = d;
    }
    return g.createOp('Unpack', [t], { T: t.dtype, num, axis }, { name: scope }).outputs;
  });
}

/** The block of x starting at begin with the given size (-1: to the end of that dim). */
export function slice(x: TensorLike, begin: IntArrayLike, size: IntArrayLike, name = 'Slice'): Tensor {
  return scoped(name, [x, begin, size], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const [b, s] = intTensors([begin, size], ['begin', 'size']);
    return out0(g, 'Slice', [t, b!, s!], { T: t.dtype, Index: b!.dtype }, scope);
  });
}

export interface StridedSliceOptions {
  beginMask?: number;
  endMask?: number;
  ellipsisMask?: number;
  newAxisMask?: number;
  shrinkAxisMask?: number;
  name?: string;
}

/** Python-style extended slicing x[begin:end:strides] with TF's masks (op StridedSlice). */
export function stridedSlice(
  x: TensorLike,
  begin: IntArrayLike,
  end: IntArrayLike,
  strides?: IntArrayLike | null,
  opts: StridedSliceOptions = {},
): Tensor {
  return scoped(opts.name ?? 'StridedSlice', [x, begin, end, strides], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    let st: IntArrayLike;
    if (strides === undefined || strides === null) {
      st = Array.isArray(begin) && !hasTensor(begin) ? begin.map(() => 1) : onesLike(intTensor(begin, 'begin'));
    } else {
      st = strides;
    }
    const [b, e, s] = intTensors([begin, end, st], ['begin', 'end', 'strides']);
    return out0(
      g,
      'StridedSlice',
      [t, b!, e!, s!],
      {
        T: t.dtype,
        Index: b!.dtype,
        begin_mask: opts.beginMask ?? 0,
        end_mask: opts.endMask ?? 0,
        ellipsis_mask: opts.ellipsisMask ?? 0,
        new_axis_mask: opts.newAxisMask ?? 0,
        shrink_axis_mask: opts.shrinkAxisMask ?? 0,
      },
      scope,
    );
  });
}

/** Slices of params along axis at the given indices (op GatherV2). */
export function gather(params: TensorLike, indices: TensorLike, axis: TensorLike = 0, name = 'GatherV2'): Tensor {
  return scoped(name, [params, indices, axis], (scope, g) => {
    const p = convertToTensor(params, undefined, 'params');
    const i = intTensor(indices as IntArrayLike, 'indices');
    const a = convertToTensor(axis, typeof axis === 'number' ? 'int32' : undefined, 'axis');
    return out0(g, 'GatherV2', [p, i, a], { Tparams: p.dtype, Tindices: i.dtype, Taxis: a.dtype, batch_dims: 0 }, scope);
  });
}

/** Sums the rows of data into numSegments segments by segmentIds (negative ids are dropped). */
export function unsortedSegmentSum(data: TensorLike, segmentIds: TensorLike, numSegments: TensorLike, name = 'UnsortedSegmentSum'): Tensor {
  return scoped(name, [data, segmentIds, numSegments], (scope, g) => {
    const d = convertToTensor(data, undefined, 'data');
    const ids = intTensor(segmentIds as IntArrayLike, 'segment_ids');
    const n = convertToTensor(numSegments, typeof numSegments === 'number' ? 'int32' : undefined, 'num_segments');
    return out0(g, 'UnsortedSegmentSum', [d, ids, n], { T: d.dtype, Tindices: ids.dtype, Tnumsegments: n.dtype }, scope);
  });
}

/** The inverse of a permutation vector. */
export function invertPermutation(x: IntArrayLike, name = 'InvertPermutation'): Tensor {
  return scoped(name, [x], (scope, g) => {
    const t = intTensor(x, 'x');
    return out0(g, 'InvertPermutation', [t], { T: t.dtype }, scope);
  });
}

export interface OneHotOptions {
  onValue?: TensorLike;
  offValue?: TensorLike;
  /** Where the new depth axis goes (-1: last). */
  axis?: number;
  dtype?: DType;
  name?: string;
}

/** One-hot encoding of indices: onValue where index == position along the new axis, else offValue. */
export function oneHot(indices: TensorLike, depth: TensorLike, opts: OneHotOptions = {}): Tensor {
  return scoped(opts.name ?? 'one_hot', [indices, depth, opts.onValue, opts.offValue], (scope, g) => {
    const dtOf = (v: TensorLike | undefined): DType | undefined =>
      v instanceof Tensor || isVariableLike(v) ? (v as { dtype: DType }).dtype : v instanceof NDArray ? v.dtype : undefined;
    const dtype = opts.dtype ?? dtOf(opts.onValue) ?? dtOf(opts.offValue) ?? 'float32';
    const one = dtype === 'bool' ? true : 1;
    const zero = dtype === 'bool' ? false : 0;
    const on = convertToTensor(opts.onValue ?? one, dtype, 'on_value');
    const off = convertToTensor(opts.offValue ?? zero, dtype, 'off_value');
    const idx = intTensor(indices as IntArrayLike, 'indices');
    const d = convertToTensor(depth, typeof depth === 'number' ? 'int32' : undefined, 'depth');
    return out0(g, 'OneHot', [idx, d, on, off], { axis: opts.axis ?? -1, T: dtype, TI: idx.dtype }, scope);
  });
}

/** x repeated multiples[i] times along each dim i. */
export function tile(x: TensorLike, multiples: IntArrayLike, name = 'Tile'): Tensor {
  return scoped(name, [x, multiples], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const m = intTensor(multiples, 'multiples');
    return out0(g, 'Tile', [t, m], { T: t.dtype, Tmultiples: m.dtype }, scope);
  });
}

/** x with a size-1 dim inserted at axis (negative: counted from the end of the result). */
export function expandDims(x: TensorLike, axis: TensorLike, name = 'ExpandDims'): Tensor {
  return scoped(name, [x, axis], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const a = convertToTensor(axis, typeof axis === 'number' ? 'int32' : undefined, 'dim');
    return out0(g, 'ExpandDims', [t, a], { T: t.dtype, Tdim: a.dtype }, scope);
  });
}

/** Removes size-1 dims: those listed in axis, or all of them. */
export function squeeze(x: TensorLike, axis?: number | readonly number[] | null, name = 'Squeeze'): Tensor {
  return scoped(name, [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const dims = axis === undefined || axis === null ? [] : typeof axis === 'number' ? [axis] : [...axis];
    return out0(g, 'Squeeze', [t], { T: t.dtype, squeeze_dims: dims }, scope);
  });
}

/** The shape of x as a vector (a Const when x's static shape is fully known, as TF1 does). */
export function shape(x: TensorLike, outType: DType = 'int32', name = 'Shape'): Tensor {
  return scoped(name, [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const s = t.shape;
    if (isFullyDefined(s)) return makeConst(g, NDArray.from(s, outType, [s.length]), scope);
    return out0(g, 'Shape', [t], { T: t.dtype, out_type: outType }, scope);
  });
}

/** The number of elements of x (a Const when statically known). */
export function size(x: TensorLike, outType: DType = 'int32', name = 'Size'): Tensor {
  return scoped(name, [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const s = t.shape;
    if (isFullyDefined(s)) return makeConst(g, NDArray.from(numElements(s), outType), scope);
    if (s !== null && s.includes(0)) return makeConst(g, NDArray.from(0, outType), scope);
    return out0(g, 'Size', [t], { T: t.dtype, out_type: outType }, scope);
  });
}

/** The rank of x as an int32 scalar (a Const when statically known). */
export function rank(x: TensorLike, name = 'Rank'): Tensor {
  return scoped(name, [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    if (t.rank !== null) return makeConst(g, NDArray.from(t.rank, 'int32'), scope);
    return out0(g, 'Rank', [t], { T: t.dtype }, scope);
  });
}

/**
 * Pads x with paddings[i] = [before, after] elements along dim i, filled with constantValue (op Pad,
 * or PadV2 for a non-zero or tensor constant).
 */
export function pad(x: TensorLike, paddings: IntArrayLike | readonly (readonly number[])[], constantValue: TensorLike = 0, name?: string): Tensor {
  const v2 = !(typeof constantValue === 'number' && constantValue === 0) && !(typeof constantValue === 'boolean' && !constantValue);
  return scoped(name ?? (v2 ? 'PadV2' : 'Pad'), [x, paddings, constantValue], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const p = intTensor(paddings as IntArrayLike, 'paddings');
    if (!v2) return out0(g, 'Pad', [t, p], { T: t.dtype, Tpaddings: p.dtype }, scope);
    const c = convertToTensor(constantValue, t.dtype, 'constant_values');
    return out0(g, 'PadV2', [t, p, c], { T: t.dtype, Tpaddings: p.dtype }, scope);
  });
}

/** x broadcast (numpy rules) to the given shape. */
export function broadcastTo(x: TensorLike, shape: IntArrayLike, name = 'BroadcastTo'): Tensor {
  return scoped(name, [x, shape], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const s = intTensor(shape, 'shape');
    return out0(g, 'BroadcastTo', [t, s], { T: t.dtype, Tidx: s.dtype }, scope);
  });
}
