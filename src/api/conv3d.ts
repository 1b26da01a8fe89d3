// tf.nn 3-D convolution and pooling (conv3d, conv3dTranspose, maxPool3d, avgPool3d), morphological
// dilation (dilation2d), max pooling with argmax, and conv1d (built as TF builds it: ExpandDims,
// Conv2D, Squeeze).
import { convertSameDType, convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import type { AttrValue, Graph, Tensor } from '../graph.js';
import { expandDims, squeeze } from './array.js';
import { conv2d } from './conv.js';

export type DataFormat3D = 'NDHWC' | 'NCDHW';
/** A number (every spatial dim), one per spatial dim, or TF's full list in the data layout. */
export type WindowArg = number | readonly number[];

function scoped<T>(name: string, values: readonly unknown[], fn: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => fn(scope, g)));
}

function checkPadding(fn: string, padding: string): 'SAME' | 'VALID' {
  if (padding !== 'SAME' && padding !== 'VALID') throw new InvalidArgumentError(`${fn}: padding must be 'SAME' or 'VALID', got '${padding}'`);
  return padding;
}

function checkFormat3d(fn: string, f: string | undefined): DataFormat3D {
  const format = f ?? 'NDHWC';
  if (format !== 'NDHWC' && format !== 'NCDHW') throw new InvalidArgumentError(`${fn}: dataFormat must be 'NDHWC' or 'NCDHW', got '${format}'`);
  return format;
}

/**
 * Expands a window argument to TF's full list: `spatial` values placed between batch and channels
 * (channels last) or after them (channels first), ones elsewhere.
 */
function fullList(fn: string, what: string, v: WindowArg, spatial: number, channelsLast: boolean): number[] {
  const list = typeof v === 'number' ? new Array<number>(spatial).fill(v) : [...v];
  if (list.length === 1) return fullList(fn, what, list[0]!, spatial, channelsLast);
  if (list.length === spatial) return channelsLast ? [1, ...list, 1] : [1, 1, ...list];
  if (list.length === spatial + 2) return list;
  throw new InvalidArgumentError(`${fn}: ${what} must be a number or have 1, ${spatial} or ${spatial + 2} elements, got [${list.join(', ')}]`);
}

function shapeArg(v: TensorLike | readonly number[], name: string): Tensor {
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) {
    return convertToTensor(NDArray.from(Int32Array.from(v as number[]), 'int32', [v.length]), undefined, name, name);
  }
  return convertToTensor(v as TensorLike, 'int32', name, name);
}

// ---- 3-D convolution ----

export interface Conv3DOptions {
  dataFormat?: DataFormat3D;
  /** Dilation rate: a number, [dD, dH, dW] or 5 elements in dataFormat order. */
  dilations?: WindowArg;
  name?: string;
}

function conv3dAttrs(fn: string, dtype: DType, strides: WindowArg, padding: string, format: DataFormat3D, dilations: WindowArg): Record<string, AttrValue> {
  const last = format === 'NDHWC';
  return {
    T: dtype,
    strides: fullList(fn, 'strides', strides, 3, last),
    padding: checkPadding(fn, padding),
    data_format: format,
    dilations: fullList(fn, 'dilations', dilations, 3, last),
  };
}

/**
 * 3-D convolution (cross-correlation, as TF): input [batch, depth, height, width, in_channels]
 * (NDHWC) or [batch, in_channels, depth, height, width] (NCDHW), filter [filter_depth,
 * filter_height, filter_width, in_channels, out_channels].
 */
export function conv3d(input: TensorLike, filter: TensorLike, strides: WindowArg, padding: 'SAME' | 'VALID', opts: Conv3DOptions = {}): Tensor {
  const fn = 'tf.nn.conv3d';
  const format = checkFormat3d(fn, opts.dataFormat);
  return scoped(opts.name ?? 'Conv3D', [input, filter], (scope, g) => {
    const [x, f] = convertSameDType([input, filter], ['input', 'filter'], fn);
    return g.createOp('Conv3D', [x!, f!], conv3dAttrs(fn, x!.dtype, strides, padding, format, opts.dilations ?? 1), { name: scope }).outputs[0]!;
  });
}

export interface Conv3DTransposeOptions {
  dataFormat?: DataFormat3D;
  dilations?: WindowArg;
  name?: string;
}

/**
 * The transpose of conv3d (its gradient with respect to the input), on Conv3DBackpropInputV2 as TF
 * builds it: filter is [depth, height, width, output_channels, in_channels], its in_channels
 * matching value's channels; outputShape is the full 5-D output shape.
 */
export function conv3dTranspose(
  value: TensorLike,
  filter: TensorLike,
  outputShape: TensorLike | readonly number[],
  strides: WindowArg,
  padding: 'SAME' | 'VALID' = 'SAME',
  opts: Conv3DTransposeOptions = {},
): Tensor {
  const fn = 'tf.nn.conv3dTranspose';
  const format = checkFormat3d(fn, opts.dataFormat);
  return scoped(opts.name ?? 'conv3d_transpose', [value, filter, outputShape], (scope, g) => {
    const [dy, f] = convertSameDType([value, filter], ['value', 'filter'], fn);
    const sizes = shapeArg(outputShape, 'output_shape');
    const fs = f!.shape;
    const ys = dy!.shape;
    const axis = format === 'NDHWC' ? 4 : 1;
    if (fs !== null && ys !== null && fs[4] !== null && ys[axis] !== null && fs[4] !== ys[axis]) {
      throw new InvalidArgumentError(`${fn}: input channels do not match: value (${dy!.name}) has ${ys[axis]} channels but filter (${f!.name}) expects ${fs[4]} (its dim 4)`);
    }
    const attrs = { ...conv3dAttrs(fn, f!.dtype, strides, padding, format, opts.dilations ?? 1), Tshape: sizes.dtype };
    return g.createOp('Conv3DBackpropInputV2', [sizes, f!, dy!], attrs, { name: scope }).outputs[0]!;
  });
}

// ---- 3-D pooling ----

export interface Pool3DOptions {
  dataFormat?: DataFormat3D;
  name?: string;
}

function pool3d(type: string, fn: string, input: TensorLike, ksize: WindowArg, strides: WindowArg, padding: 'SAME' | 'VALID', opts: Pool3DOptions): Tensor {
  const format = checkFormat3d(fn, opts.dataFormat);
  const last = format === 'NDHWC';
  return scoped(opts.name ?? type, [input], (scope, g) => {
    const x = convertToTensor(input, undefined, 'input', 'input');
    const attrs: Record<string, AttrValue> = {
      T: x.dtype,
      ksize: fullList(fn, 'ksize', ksize, 3, last),
      strides: fullList(fn, 'strides', strides, 3, last),
      padding: checkPadding(fn, padding),
      data_format: format,
    };
    return g.createOp(type, [x], attrs, { name: scope }).outputs[0]!;
  });
}

/** 3-D max pooling over ksize windows (a number, [kD, kH, kW] or 5 elements in dataFormat order). */
export function maxPool3d(input: TensorLike, ksize: WindowArg, strides: WindowArg, padding: 'SAME' | 'VALID', opts: Pool3DOptions = {}): Tensor {
  return pool3d('MaxPool3D', 'tf.nn.maxPool3d', input, ksize, strides, padding, opts);
}

/** 3-D average pooling; each output averages only the window elements inside the input. */
export function avgPool3d(input: TensorLike, ksize: WindowArg, strides: WindowArg, padding: 'SAME' | 'VALID', opts: Pool3DOptions = {}): Tensor {
  return pool3d('AvgPool3D', 'tf.nn.avgPool3d', input, ksize, strides, padding, opts);
}

// ---- dilation2d ----

/**
 * Grayscale morphological dilation (TF1's tf.nn.dilation2d): input [batch, height, width, depth],
 * filter [filter_height, filter_width, depth]; output[b, y, x, c] is the max over the window of
 * input[b, y * sH + dy * rH, x * sW + dx * rW, c] + filter[dy, dx, c]. strides and rates: a number,
 * [height, width], or 4 elements.
 */
export function dilation2d(input: TensorLike, filter: TensorLike, strides: WindowArg, rates: WindowArg, padding: 'SAME' | 'VALID', opts: { name?: string } = {}): Tensor {
  const fn = 'tf.nn.dilation2d';
  return scoped(opts.name ?? 'Dilation2D', [input, filter], (scope, g) => {
    const [x, f] = convertSameDType([input, filter], ['input', 'filter'], fn);
    const attrs: Record<string, AttrValue> = {
      T: x!.dtype,
      strides: fullList(fn, 'strides', strides, 2, true),
      rates: fullList(fn, 'rates', rates, 2, true),
      padding: checkPadding(fn, padding),
    };
    return g.createOp('Dilation2D', [x!, f!], attrs, { name: scope }).outputs[0]!;
  });
}

// ---- maxPoolWithArgmax ----

export interface MaxPoolWithArgmaxOptions {
  /** Only 'NHWC', as TF. */
  dataFormat?: 'NHWC';
  /** The argmax dtype: int64 (TF's default) or int32. `outputDtype` is accepted as an alias. */
  Targmax?: 'int32' | 'int64';
  outputDtype?: 'int32' | 'int64';
  /** Whether the flattened index counts the batch: ((b * height + y) * width + x) * channels + c. */
  includeBatchInIndex?: boolean;
  name?: string;
}

/**
 * Max pooling that also returns, for each output, the flattened index of the maximum in the input:
 * (y * width + x) * channels + c (plus b * height * width * channels with includeBatchInIndex).
 * Returns [output, argmax].
 */
export function maxPoolWithArgmax(input: TensorLike, ksize: WindowArg, strides: WindowArg, padding: 'SAME' | 'VALID', opts: MaxPoolWithArgmaxOptions = {}): [Tensor, Tensor] {
  const fn = 'tf.nn.maxPoolWithArgmax';
  if ((opts.dataFormat ?? 'NHWC') !== 'NHWC') throw new InvalidArgumentError(`${fn}: only dataFormat 'NHWC' is supported, got '${opts.dataFormat}'`);
  const argType = opts.Targmax ?? opts.outputDtype ?? 'int64';
  if (argType !== 'int32' && argType !== 'int64') throw new InvalidArgumentError(`${fn}: Targmax must be 'int32' or 'int64', got '${argType}'`);
  return scoped(opts.name ?? 'MaxPoolWithArgmax', [input], (scope, g) => {
    const x = convertToTensor(input, undefined, 'input', 'input');
    const attrs: Record<string, AttrValue> = {
      T: x.dtype,
      ksize: fullList(fn, 'ksize', ksize, 2, true),
      strides: fullList(fn, 'strides', strides, 2, true),
      padding: checkPadding(fn, padding),
      Targmax: argType,
      include_batch_in_index: opts.includeBatchInIndex ?? false,
    };
    const op = g.createOp('MaxPoolWithArgmax', [x], attrs, { name: scope });
    return [op.outputs[0]!, op.outputs[1]!];
  });
}

// ---- conv1d ----

export interface Conv1DOptions {
  /** 'NWC' (default) or 'NCW'. */
  dataFormat?: 'NWC' | 'NCW';
  dilations?: number | readonly number[];
  name?: string;
}

/**
 * 1-D convolution: value [batch, width, in_channels] (NWC) or [batch, in_channels, width] (NCW),
 * filters [filter_width, in_channels, out_channels]. Built as TF builds it: both get a height of 1
 * (ExpandDims), a Conv2D runs, and the height is squeezed out.
 */
export function conv1d(value: TensorLike, filters: TensorLike, stride: number | readonly number[], padding: 'SAME' | 'VALID', opts: Conv1DOptions = {}): Tensor {
  const fn = 'tf.nn.conv1d';
  const format = opts.dataFormat ?? 'NWC';
  if (format !== 'NWC' && format !== 'NCW') throw new InvalidArgumentError(`${fn}: dataFormat must be 'NWC' or 'NCW', got '${format}'`);
  const channelsLast = format === 'NWC';
  const one = (what: string, v: number | readonly number[]): number => {
    const list = typeof v === 'number' ? [v] : [...v];
    if (list.length === 1) return list[0]!;
    if (list.length === 3 && list[0] === 1 && list[channelsLast ? 2 : 1] === 1) return list[channelsLast ? 1 : 2]!;
    throw new InvalidArgumentError(`${fn}: ${what} must be a number, or 3 elements with 1 in the batch and channel dims, got [${list.join(', ')}]`);
  };
  const s = one('stride', stride);
  const d = one('dilations', opts.dilations ?? 1);
  return scoped(opts.name ?? 'conv1d', [value, filters], () => {
    const [x, f] = convertSameDType([value, filters], ['value', 'filters'], fn);
    // The height dim goes before the width dim: axis 1 (NWC -> NHWC) or 2 (NCW -> NCHW).
    const axis = channelsLast ? 1 : 2;
    const x4 = expandDims(x!, axis, 'ExpandDims');
    const f4 = expandDims(f!, 0, 'ExpandDims_1');
    const y = conv2d(x4, f4, [1, s], padding, { dataFormat: channelsLast ? 'NHWC' : 'NCHW', dilations: [1, d], name: 'Conv2D' });
    return squeeze(y, [axis], 'Squeeze');
  });
}
