// TF1 functions building the indexing family's ops (issue 18): gather/scatter by N-d indices,
// reversals, mirror padding, space/batch/depth rearrangements, band parts, linspace and einsum.
import { convertToTensor, graphOf, isVariableLike, type TensorLike } from '../convert.js';
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import { type AttrValue, type Graph, Tensor } from '../graph.js';
import * as A from './array.js';

/** Runs fn in TF's name_scope(name) on the inputs' graph; fn gets the scope, the name of the op it makes. */
function scoped<T>(name: string, values: readonly unknown[], fn: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => fn(scope, g)));
}

function out0(g: Graph, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, name: string): Tensor {
  return g.createOp(type, inputs, attrs, { name }).outputs[0]!;
}

/** An index/shape argument: JS numbers become int32 (TF's default for Python ints). */
function intArg(v: A.IntArrayLike, name: string): Tensor {
  if (Array.isArray(v) && v.some((e) => e instanceof Tensor || isVariableLike(e))) {
    return A.stack((v as readonly (number | Tensor)[]).map((e) => (typeof e === 'number' ? e : convertToTensor(e))), 0, name);
  }
  const plain = !(v instanceof Tensor || isVariableLike(v) || v instanceof NDArray || ArrayBuffer.isView(v));
  return convertToTensor(v as TensorLike, plain ? 'int32' : undefined, name);
}

/** A value converted to `like`'s dtype when it is a JS literal. */
function valueLike(v: TensorLike, like: Tensor, name: string): Tensor {
  const literal = !(v instanceof Tensor || isVariableLike(v) || v instanceof NDArray || ArrayBuffer.isView(v));
  return convertToTensor(v, literal ? like.dtype : undefined, name);
}

// ---- gather / scatter by N-d indices ----

/** Slices of params at N-d indices: the last dim of indices indexes params' leading dims (op GatherNd). */
export function gatherNd(params: TensorLike, indices: TensorLike, name = 'GatherNd'): Tensor {
  return scoped(name, [params, indices], (scope, g) => {
    const p = convertToTensor(params, undefined, 'params');
    const i = intArg(indices as A.IntArrayLike, 'indices');
    return out0(g, 'GatherNd', [p, i], { Tparams: p.dtype, Tindices: i.dtype }, scope);
  });
}

/** A zero tensor of `shape` with updates summed in at N-d indices (op ScatterNd). */
export function scatterNd(indices: TensorLike, updates: TensorLike, shape: A.IntArrayLike, name = 'ScatterNd'): Tensor {
  return scoped(name, [indices, updates, shape], (scope, g) => {
    const i = intArg(indices as A.IntArrayLike, 'indices');
    const u = convertToTensor(updates, undefined, 'updates');
    let s = intArg(shape, 'shape');
    if (s.dtype !== i.dtype) s = convertToTensor(shape as TensorLike, i.dtype, 'shape');
    return out0(g, 'ScatterNd', [i, u, s], { T: u.dtype, Tindices: i.dtype }, scope);
  });
}

function tensorScatter(type: string, tensor: TensorLike, indices: TensorLike, updates: TensorLike, name: string): Tensor {
  return scoped(name, [tensor, indices, updates], (scope, g) => {
    const t = convertToTensor(tensor, undefined, 'tensor');
    const i = intArg(indices as A.IntArrayLike, 'indices');
    const u = valueLike(updates, t, 'updates');
    return out0(g, type, [t, i, u], { T: t.dtype, Tindices: i.dtype }, scope);
  });
}

/** tensor with the slices at N-d indices replaced by updates (op TensorScatterUpdate). */
export function tensorScatterUpdate(tensor: TensorLike, indices: TensorLike, updates: TensorLike, name = 'TensorScatterUpdate'): Tensor {
  return tensorScatter('TensorScatterUpdate', tensor, indices, updates, name);
}

/** tensor with updates added at N-d indices (op TensorScatterAdd). */
export function tensorScatterAdd(tensor: TensorLike, indices: TensorLike, updates: TensorLike, name = 'TensorScatterAdd'): Tensor {
  return tensorScatter('TensorScatterAdd', tensor, indices, updates, name);
}

/** tensor with updates subtracted at N-d indices (op TensorScatterSub). */
export function tensorScatterSub(tensor: TensorLike, indices: TensorLike, updates: TensorLike, name = 'TensorScatterSub'): Tensor {
  return tensorScatter('TensorScatterSub', tensor, indices, updates, name);
}

// TF1.15 also spells them tensor_scatter_nd_*.
export const tensorScatterNdUpdate = tensorScatterUpdate;
export const tensorScatterNdAdd = tensorScatterAdd;
export const tensorScatterNdSub = tensorScatterSub;

export interface SparseToDenseOptions {
  /** The value of positions no index names (default 0). */
  defaultValue?: TensorLike;
  /** Check that indices are sorted lexicographically and unique (default true). */
  validateIndices?: boolean;
  name?: string;
}

/** A dense tensor of outputShape holding sparseValues at sparseIndices, defaultValue elsewhere (op SparseToDense). */
export function sparseToDense(sparseIndices: TensorLike, outputShape: A.IntArrayLike, sparseValues: TensorLike, opts: SparseToDenseOptions = {}): Tensor {
  return scoped(opts.name ?? 'SparseToDense', [sparseIndices, outputShape, sparseValues, opts.defaultValue], (scope, g) => {
    const i = intArg(sparseIndices as A.IntArrayLike, 'sparse_indices');
    let s = intArg(outputShape, 'output_shape');
    if (s.dtype !== i.dtype) s = convertToTensor(outputShape as TensorLike, i.dtype, 'output_shape');
    const v = convertToTensor(sparseValues, undefined, 'sparse_values');
    const d = valueLike(opts.defaultValue ?? (v.dtype === 'bool' ? false : v.dtype === 'string' ? '' : 0) as TensorLike, v, 'default_value');
    return out0(g, 'SparseToDense', [i, s, v, d], { validate_indices: opts.validateIndices ?? true, T: v.dtype, Tindices: i.dtype }, scope);
  });
}

// ---- reversals ----

/** x with the listed axes reversed (op ReverseV2; TF1's tf.reverse and tf.reverse_v2). */
export function reverse(x: TensorLike, axis: A.IntArrayLike, name = 'ReverseV2'): Tensor {
  return scoped(name, [x, axis], (scope, g) => {
    const t = convertToTensor(x, undefined, 'tensor');
    let a = intArg(axis, 'axis');
    if (a.rank === 0) a = A.reshape(a, [1]);
    return out0(g, 'ReverseV2', [t, a], { Tidx: a.dtype, T: t.dtype }, scope);
  });
}

export const reverseV2 = reverse;

/** x reversed along the dims where `dims` (a bool per dim) is true (the original op Reverse). */
export function reverseV1(x: TensorLike, dims: TensorLike, name = 'Reverse'): Tensor {
  return scoped(name, [x, dims], (scope, g) => {
    const t = convertToTensor(x, undefined, 'tensor');
    const d = convertToTensor(dims, 'bool', 'dims');
    return out0(g, 'Reverse', [t, d], { T: t.dtype }, scope);
  });
}

export interface ReverseSequenceOptions {
  /** The axis reversed (TF1 also spells it seq_dim). */
  seqAxis?: number;
  /** The axis seqLengths runs along (default 0). */
  batchAxis?: number;
  name?: string;
}

/** Reverses the first seqLengths[b] elements along seqAxis of each slice b along batchAxis (op ReverseSequence). */
export function reverseSequence(input: TensorLike, seqLengths: TensorLike, opts: ReverseSequenceOptions = {}): Tensor {
  if (opts.seqAxis === undefined) throw new InvalidArgumentError('reverseSequence: seqAxis is required');
  return scoped(opts.name ?? 'ReverseSequence', [input, seqLengths], (scope, g) => {
    const t = convertToTensor(input, undefined, 'input');
    const l = convertToTensor(seqLengths, seqLengths instanceof Tensor || seqLengths instanceof NDArray ? undefined : 'int64', 'seq_lengths');
    return out0(g, 'ReverseSequence', [t, l], { seq_dim: opts.seqAxis!, batch_dim: opts.batchAxis ?? 0, T: t.dtype, Tlen: l.dtype }, scope);
  });
}

// ---- padding ----

export type MirrorPadMode = 'REFLECT' | 'SYMMETRIC';
export type PadMode = 'CONSTANT' | MirrorPadMode;

/** x padded by mirroring its edges: REFLECT leaves the edge out, SYMMETRIC repeats it (op MirrorPad). */
export function mirrorPad(x: TensorLike, paddings: A.IntArrayLike | readonly (readonly number[])[], mode: MirrorPadMode, name = 'MirrorPad'): Tensor {
  return scoped(name, [x, paddings], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const p = intArg(paddings as A.IntArrayLike, 'paddings');
    return out0(g, 'MirrorPad', [t, p], { T: t.dtype, Tpaddings: p.dtype, mode }, scope);
  });
}

/** The gradient of MirrorPad: sums the padded positions back onto the ones they mirror (op MirrorPadGrad). */
export function mirrorPadGrad(x: TensorLike, paddings: TensorLike, mode: MirrorPadMode, name = 'MirrorPadGrad'): Tensor {
  return scoped(name, [x, paddings], (scope, g) => {
    const t = convertToTensor(x, undefined, 'input');
    const p = intArg(paddings as A.IntArrayLike, 'paddings');
    return out0(g, 'MirrorPadGrad', [t, p], { T: t.dtype, Tpaddings: p.dtype, mode }, scope);
  });
}

const PAD_MODES: readonly PadMode[] = ['CONSTANT', 'REFLECT', 'SYMMETRIC'];

function padModeOf(v: unknown): PadMode | undefined {
  if (typeof v !== 'string') return undefined;
  const m = v.toUpperCase() as PadMode;
  return PAD_MODES.includes(m) ? m : undefined;
}

/**
 * TF1's tf.pad(tensor, paddings, mode='CONSTANT', name=None, constant_values=0). For weir's earlier
 * signature the third argument may also be the constant value itself.
 */
export function pad(
  x: TensorLike,
  paddings: A.IntArrayLike | readonly (readonly number[])[],
  modeOrConstant: PadMode | Lowercase<PadMode> | TensorLike = 'CONSTANT',
  name?: string,
  constantValues: TensorLike = 0,
): Tensor {
  const mode = padModeOf(modeOrConstant);
  if (mode === undefined) return A.pad(x, paddings, modeOrConstant as TensorLike, name);
  if (mode === 'CONSTANT') return A.pad(x, paddings, constantValues, name);
  return mirrorPad(x, paddings, mode, name ?? 'MirrorPad');
}

// ---- space / batch / depth ----

/** Zero-pads the spatial dims and moves blockShape blocks of them into the batch dim (op SpaceToBatchND). */
export function spaceToBatchNd(input: TensorLike, blockShape: A.IntArrayLike, paddings: A.IntArrayLike | readonly (readonly number[])[], name = 'SpaceToBatchND'): Tensor {
  return scoped(name, [input, blockShape, paddings], (scope, g) => {
    const t = convertToTensor(input, undefined, 'input');
    const b = intArg(blockShape, 'block_shape');
    const p = intArg(paddings as A.IntArrayLike, 'paddings');
    return out0(g, 'SpaceToBatchND', [t, b, p], { T: t.dtype, Tblock_shape: b.dtype, Tpaddings: p.dtype }, scope);
  });
}

/** The inverse of spaceToBatchNd: batch blocks back into the spatial dims, then cropped (op BatchToSpaceND). */
export function batchToSpaceNd(input: TensorLike, blockShape: A.IntArrayLike, crops: A.IntArrayLike | readonly (readonly number[])[], name = 'BatchToSpaceND'): Tensor {
  return scoped(name, [input, blockShape, crops], (scope, g) => {
    const t = convertToTensor(input, undefined, 'input');
    const b = intArg(blockShape, 'block_shape');
    const c = intArg(crops as A.IntArrayLike, 'crops');
    return out0(g, 'BatchToSpaceND', [t, b, c], { T: t.dtype, Tblock_shape: b.dtype, Tcrops: c.dtype }, scope);
  });
}

function blockOp(type: string, input: TensorLike, blockSize: number, name: string, dataFormat: string): Tensor {
  return scoped(name, [input], (scope, g) => {
    const t = convertToTensor(input, undefined, 'input');
    return out0(g, type, [t], { T: t.dtype, block_size: blockSize, data_format: dataFormat }, scope);
  });
}

/** Moves blockSize x blockSize spatial blocks into the depth dim, NHWC (op SpaceToDepth). */
export function spaceToDepth(input: TensorLike, blockSize: number, name = 'SpaceToDepth', dataFormat = 'NHWC'): Tensor {
  return blockOp('SpaceToDepth', input, blockSize, name, dataFormat);
}

/** Moves depth into blockSize x blockSize spatial blocks, NHWC (op DepthToSpace). */
export function depthToSpace(input: TensorLike, blockSize: number, name = 'DepthToSpace', dataFormat = 'NHWC'): Tensor {
  return blockOp('DepthToSpace', input, blockSize, name, dataFormat);
}

// ---- matrices and sequences ----

/** Zeroes each innermost matrix outside its band of numLower subdiagonals and numUpper superdiagonals (-1: all) (op MatrixBandPart). */
export function matrixBandPart(input: TensorLike, numLower: TensorLike, numUpper: TensorLike, name = 'MatrixBandPart'): Tensor {
  return scoped(name, [input, numLower, numUpper], (scope, g) => {
    const t = convertToTensor(input, undefined, 'input');
    const lower = convertToTensor(numLower, typeof numLower === 'number' ? 'int64' : undefined, 'num_lower');
    const upper = convertToTensor(numUpper, typeof numUpper === 'number' ? lower.dtype : undefined, 'num_upper');
    return out0(g, 'MatrixBandPart', [t, lower, upper], { T: t.dtype, Tindex: lower.dtype }, scope);
  });
}

/** tf.linalg.band_part. */
export const bandPart = matrixBandPart;

/** num evenly spaced values from start to stop, both included (op LinSpace). */
export function linspace(start: TensorLike, stop: TensorLike, num: TensorLike, name = 'LinSpace'): Tensor {
  return scoped(name, [start, stop, num], (scope, g) => {
    const s = convertToTensor(start, typeof start === 'number' ? 'float32' : undefined, 'start');
    const e = valueLike(stop, s, 'stop');
    const n = convertToTensor(num, typeof num === 'number' ? 'int32' : undefined, 'num');
    return out0(g, 'LinSpace', [s, e, n], { T: s.dtype, Tidx: n.dtype }, scope);
  });
}

export const linSpace = linspace;

/** The shape two shapes broadcast to (op BroadcastArgs; TF1's tf.broadcast_dynamic_shape). */
export function broadcastDynamicShape(shapeX: A.IntArrayLike, shapeY: A.IntArrayLike, name = 'BroadcastArgs'): Tensor {
  return scoped(name, [shapeX, shapeY], (scope, g) => {
    const x = intArg(shapeX, 's0');
    let y = intArg(shapeY, 's1');
    if (y.dtype !== x.dtype) y = convertToTensor(shapeY as TensorLike, x.dtype, 's1');
    return out0(g, 'BroadcastArgs', [x, y], { T: x.dtype }, scope);
  });
}

// ---- ops of the first GraphDef versions (kept for imported graphs) ----

/** Rows of params at indices, the original op Gather (no axis). */
export function gatherV1(params: TensorLike, indices: TensorLike, validateIndices = true, name = 'Gather'): Tensor {
  return scoped(name, [params, indices], (scope, g) => {
    const p = convertToTensor(params, undefined, 'params');
    const i = intArg(indices as A.IntArrayLike, 'indices');
    return out0(g, 'Gather', [p, i], { validate_indices: validateIndices, Tparams: p.dtype, Tindices: i.dtype }, scope);
  });
}

/** Concatenation with the axis first, the original op Concat. */
export function concatV1(concatDim: TensorLike, values: readonly TensorLike[], name = 'concat'): Tensor {
  return scoped(name, [concatDim, ...values], (scope, g) => {
    const d = convertToTensor(concatDim, typeof concatDim === 'number' ? 'int32' : undefined, 'concat_dim');
    const vs = values.map((v, k) => convertToTensor(v, undefined, `values_${k}`));
    return out0(g, 'Concat', [d, ...vs], { N: vs.length, T: vs[0]!.dtype }, scope);
  });
}

/** Batched matrix product without batch broadcasting, the original op BatchMatMul. */
export function batchMatMulV1(x: TensorLike, y: TensorLike, opts: { adjX?: boolean; adjY?: boolean; name?: string } = {}): Tensor {
  return scoped(opts.name ?? 'BatchMatMul', [x, y], (scope, g) => {
    const a = convertToTensor(x, undefined, 'x');
    const b = valueLike(y, a, 'y');
    return out0(g, 'BatchMatMul', [a, b], { T: a.dtype, adj_x: !!opts.adjX, adj_y: !!opts.adjY }, scope);
  });
}

// ---- einsum ----

/**
 * The equation with its output made explicit: TF's implicit form ('ij,jk') outputs the labels that
 * appear once, in alphabetical order, after the broadcast dims.
 */
export function explicitEquation(equation: string): string {
  const eq = equation.replace(/\s+/g, '');
  if (eq.includes('->')) return eq;
  const counts = new Map<string, number>();
  for (const ch of eq.replace(/\.\.\./g, '')) if (ch !== ',') counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const once = [...counts].filter(([, n]) => n === 1).map(([c]) => c).sort();
  return `${eq}->${eq.includes('...') ? '...' : ''}${once.join('')}`;
}

/**
 * tf.einsum(equation, ...inputs): sums of products over the labels of the equation, with diagonals
 * for repeated labels and broadcasting over '...' (op Einsum, one or two operands). A trailing
 * `{ name }` object names the op.
 */
export function einsum(equation: string, ...args: (TensorLike | { name?: string })[]): Tensor {
  const last = args[args.length - 1];
  const named =
    last !== undefined && typeof last === 'object' && !Array.isArray(last) && !(last instanceof Tensor) && !(last instanceof NDArray) && !isVariableLike(last) && !ArrayBuffer.isView(last);
  const inputs = (named ? args.slice(0, -1) : args) as TensorLike[];
  const name = (named ? (last as { name?: string }).name : undefined) ?? 'einsum';
  return scoped(name, inputs, (scope, g) => {
    const ts = inputs.map((v, k) => (k === 0 ? convertToTensor(v, undefined, 'inputs') : undefined));
    for (let k = 1; k < inputs.length; k++) ts[k] = valueLike(inputs[k]!, ts[0]!, `inputs_${k}`);
    const xs = ts as Tensor[];
    if (xs.length === 0) throw new InvalidArgumentError('einsum needs at least one operand');
    return out0(g, 'Einsum', xs, { equation: explicitEquation(equation), N: xs.length, T: xs[0]!.dtype }, scope);
  });
}

