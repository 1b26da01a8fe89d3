// tf.nn convolution and pooling: conv2d, conv2dTranspose, depthwiseConv2d, maxPool, avgPool and the
// backprop ops TF1 exposes (conv2dBackpropInput, conv2dBackpropFilter, depthwiseConv2dNative...).
import { convertSameDType, convertToTensor, type TensorLike, graphOf } from '../convert.js';
import { InvalidArgumentError } from '../core/errors.js';
import { type AttrValue, type Graph, Tensor } from '../graph.js';
import { NDArray } from '../core/ndarray.js';

export type DataFormat = 'NHWC' | 'NCHW';
/** 'SAME', 'VALID', or explicit [before, after] pairs for the 4 dims (zeros on batch and depth). */
export type ConvPadding = 'SAME' | 'VALID' | readonly (readonly [number, number])[];
/** A number (all spatial dims), [height, width], or TF's 4-element form in the data layout. */
export type SpatialArg = number | readonly number[];

export interface Conv2DOptions {
  dataFormat?: DataFormat;
  /** Dilation rate: number, [height, width] or 4 elements in dataFormat order. */
  dilations?: SpatialArg;
  name?: string;
}

/** TF's name_scope(name) around an op wrapper: the scope string is also the op's exact name. */
function scoped<T>(name: string, values: readonly unknown[], fn: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => fn(scope, g)));
}

function checkFormat(fn: string, f: string | undefined): DataFormat {
  const format = f ?? 'NHWC';
  if (format !== 'NHWC' && format !== 'NCHW') throw new InvalidArgumentError(`${fn}: dataFormat must be 'NHWC' or 'NCHW', got '${format}'`);
  return format;
}

/** Expands a stride/dilation/ksize argument to TF's 4-element list in the data layout. */
function spatialList(fn: string, what: string, v: SpatialArg, format: DataFormat): number[] {
  const list = typeof v === 'number' ? [v, v] : [...v];
  if (list.length === 1) list.push(list[0]!);
  if (list.length === 2) return format === 'NHWC' ? [1, list[0]!, list[1]!, 1] : [1, 1, list[0]!, list[1]!];
  if (list.length === 4) return list;
  throw new InvalidArgumentError(`${fn}: ${what} must be a number or have 1, 2 or 4 elements, got [${list.join(', ')}]`);
}

/** padding and explicit_paddings attrs from a padding argument. */
function paddingAttrs(fn: string, padding: ConvPadding): { padding: string; explicit_paddings: number[] } {
  if (padding === 'SAME' || padding === 'VALID') return { padding, explicit_paddings: [] };
  if (Array.isArray(padding) && padding.length === 4 && padding.every((p) => Array.isArray(p) && p.length === 2)) {
    return { padding: 'EXPLICIT', explicit_paddings: padding.flatMap((p) => [p[0], p[1]]) };
  }
  throw new InvalidArgumentError(`${fn}: padding must be 'SAME', 'VALID' or 4 [before, after] pairs, got ${JSON.stringify(padding)}`);
}

function poolPadding(fn: string, padding: string): string {
  if (padding !== 'SAME' && padding !== 'VALID') throw new InvalidArgumentError(`${fn}: padding must be 'SAME' or 'VALID', got '${padding}'`);
  return padding;
}

function convAttrs(
  fn: string,
  dtype: string,
  strides: SpatialArg,
  padding: ConvPadding,
  format: DataFormat,
  dilations: SpatialArg,
  withCudnn: boolean,
): Record<string, AttrValue> {
  return {
    T: dtype,
    strides: spatialList(fn, 'strides', strides, format),
    ...paddingAttrs(fn, padding),
    data_format: format,
    dilations: spatialList(fn, 'dilations', dilations, format),
    ...(withCudnn ? { use_cudnn_on_gpu: true } : {}),
  };
}

/** An int32 shape vector from a JS array or a tensor. */
function shapeArg(v: TensorLike | readonly number[], name: string): Tensor {
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) {
    return convertToTensor(NDArray.from(Int32Array.from(v as number[]), 'int32', [v.length]), undefined, name, name);
  }
  return convertToTensor(v as TensorLike, 'int32', name, name);
}

// ---- convolution ----

/**
 * 2-D convolution (cross-correlation, as TF): input [batch, height, width, in_channels] (NHWC) or
 * [batch, in_channels, height, width] (NCHW), filter [filter_height, filter_width, in_channels,
 * out_channels]. strides: a number, [sH, sW], or 4 elements in dataFormat order.
 */
export function conv2d(input: TensorLike, filter: TensorLike, strides: SpatialArg, padding: ConvPadding, opts: Conv2DOptions = {}): Tensor {
  const fn = 'tf.nn.conv2d';
  const format = checkFormat(fn, opts.dataFormat);
  return scoped(opts.name ?? 'Conv2D', [input, filter], (scope, g) => {
    const [x, f] = convertSameDType([input, filter], ['input', 'filter'], fn);
    const attrs = convAttrs(fn, x!.dtype, strides, padding, format, opts.dilations ?? 1, true);
    return g.createOp('Conv2D', [x!, f!], attrs, { name: scope }).outputs[0]!;
  });
}

/** The gradient of conv2d with respect to its input, given the input's shape (TF1's tf.nn.conv2d_backprop_input). */
export function conv2dBackpropInput(
  inputSizes: TensorLike | readonly number[],
  filter: TensorLike,
  outBackprop: TensorLike,
  strides: SpatialArg,
  padding: ConvPadding,
  opts: Conv2DOptions = {},
): Tensor {
  const fn = 'tf.nn.conv2dBackpropInput';
  const format = checkFormat(fn, opts.dataFormat);
  return scoped(opts.name ?? 'Conv2DBackpropInput', [filter, outBackprop], (scope, g) => {
    const sizes = shapeArg(inputSizes, 'input_sizes');
    const [f, dy] = convertSameDType([filter, outBackprop], ['filter', 'out_backprop'], fn);
    const attrs = convAttrs(fn, f!.dtype, strides, padding, format, opts.dilations ?? 1, true);
    return g.createOp('Conv2DBackpropInput', [sizes, f!, dy!], attrs, { name: scope }).outputs[0]!;
  });
}

/** The gradient of conv2d with respect to its filter, given the filter's shape (TF1's tf.nn.conv2d_backprop_filter). */
export function conv2dBackpropFilter(
  input: TensorLike,
  filterSizes: TensorLike | readonly number[],
  outBackprop: TensorLike,
  strides: SpatialArg,
  padding: ConvPadding,
  opts: Conv2DOptions = {},
): Tensor {
  const fn = 'tf.nn.conv2dBackpropFilter';
  const format = checkFormat(fn, opts.dataFormat);
  return scoped(opts.name ?? 'Conv2DBackpropFilter', [input, outBackprop], (scope, g) => {
    const [x, dy] = convertSameDType([input, outBackprop], ['input', 'out_backprop'], fn);
    const sizes = shapeArg(filterSizes, 'filter_sizes');
    const attrs = convAttrs(fn, x!.dtype, strides, padding, format, opts.dilations ?? 1, true);
    return g.createOp('Conv2DBackpropFilter', [x!, sizes, dy!], attrs, { name: scope }).outputs[0]!;
  });
}

export interface Conv2DTransposeOptions {
  dataFormat?: DataFormat;
  dilations?: SpatialArg;
  name?: string;
}

/**
 * The transpose of conv2d (a "deconvolution"): the gradient of conv2d with respect to its input,
 * built on Conv2DBackpropInput as TF does. filter is [height, width, output_channels, in_channels]
 * (its in_channels match value's depth); outputShape is the full 4-D output shape.
 */
export function conv2dTranspose(
  value: TensorLike,
  filter: TensorLike,
  outputShape: TensorLike | readonly number[],
  strides: SpatialArg,
  padding: ConvPadding,
  opts: Conv2DTransposeOptions = {},
): Tensor {
  const fn = 'tf.nn.conv2dTranspose';
  const format = checkFormat(fn, opts.dataFormat);
  return scoped(opts.name ?? 'conv2d_transpose', [value, filter, outputShape], (scope, g) => {
    const [dy, f] = convertSameDType([value, filter], ['value', 'filter'], fn);
    const sizes = shapeArg(outputShape, 'output_shape');
    const fs = f!.shape;
    const ys = dy!.shape;
    const axis = format === 'NHWC' ? 3 : 1;
    if (fs !== null && ys !== null && fs[3] !== null && ys[axis] !== null && fs[3] !== ys[axis]) {
      throw new InvalidArgumentError(
        `${fn}: input channels do not match: value (${dy!.name}) has ${ys[axis]} channels but filter (${f!.name}) expects ${fs[3]} (its dim 3)`,
      );
    }
    const attrs = convAttrs(fn, f!.dtype, strides, padding, format, opts.dilations ?? 1, true);
    return g.createOp('Conv2DBackpropInput', [sizes, f!, dy!], attrs, { name: scope }).outputs[0]!;
  });
}

export interface DepthwiseConv2DOptions {
  dataFormat?: DataFormat;
  /** Dilation rate (TF1's `rate`); `dilations` is accepted as an alias. */
  rate?: SpatialArg;
  dilations?: SpatialArg;
  name?: string;
}

/**
 * Depthwise 2-D convolution: each input channel is convolved with its own channel_multiplier
 * filters. filter is [filter_height, filter_width, in_channels, channel_multiplier]; the output has
 * in_channels * channel_multiplier channels.
 */
export function depthwiseConv2d(
  input: TensorLike,
  filter: TensorLike,
  strides: SpatialArg,
  padding: ConvPadding,
  opts: DepthwiseConv2DOptions = {},
): Tensor {
  return depthwiseOp('tf.nn.depthwiseConv2d', input, filter, strides, padding, opts, 'depthwise');
}

/** The DepthwiseConv2dNative op itself (TF's tf.nn.depthwise_conv2d_native). */
export function depthwiseConv2dNative(
  input: TensorLike,
  filter: TensorLike,
  strides: SpatialArg,
  padding: ConvPadding,
  opts: DepthwiseConv2DOptions = {},
): Tensor {
  return depthwiseOp('tf.nn.depthwiseConv2dNative', input, filter, strides, padding, opts, 'DepthwiseConv2dNative');
}

function depthwiseOp(
  fn: string,
  input: TensorLike,
  filter: TensorLike,
  strides: SpatialArg,
  padding: ConvPadding,
  opts: DepthwiseConv2DOptions,
  defaultName: string,
): Tensor {
  const format = checkFormat(fn, opts.dataFormat);
  return scoped(opts.name ?? defaultName, [input, filter], (scope, g) => {
    const [x, f] = convertSameDType([input, filter], ['input', 'filter'], fn);
    const attrs = convAttrs(fn, x!.dtype, strides, padding, format, opts.rate ?? opts.dilations ?? 1, false);
    return g.createOp('DepthwiseConv2dNative', [x!, f!], attrs, { name: scope }).outputs[0]!;
  });
}

/** The gradient of depthwiseConv2d with respect to its input (TF's depthwise_conv2d_native_backprop_input). */
export function depthwiseConv2dNativeBackpropInput(
  inputSizes: TensorLike | readonly number[],
  filter: TensorLike,
  outBackprop: TensorLike,
  strides: SpatialArg,
  padding: ConvPadding,
  opts: DepthwiseConv2DOptions = {},
): Tensor {
  const fn = 'tf.nn.depthwiseConv2dNativeBackpropInput';
  const format = checkFormat(fn, opts.dataFormat);
  return scoped(opts.name ?? 'DepthwiseConv2dNativeBackpropInput', [filter, outBackprop], (scope, g) => {
    const sizes = shapeArg(inputSizes, 'input_sizes');
    const [f, dy] = convertSameDType([filter, outBackprop], ['filter', 'out_backprop'], fn);
    const attrs = convAttrs(fn, f!.dtype, strides, padding, format, opts.rate ?? opts.dilations ?? 1, false);
    return g.createOp('DepthwiseConv2dNativeBackpropInput', [sizes, f!, dy!], attrs, { name: scope }).outputs[0]!;
  });
}

/** The gradient of depthwiseConv2d with respect to its filter (TF's depthwise_conv2d_native_backprop_filter). */
export function depthwiseConv2dNativeBackpropFilter(
  input: TensorLike,
  filterSizes: TensorLike | readonly number[],
  outBackprop: TensorLike,
  strides: SpatialArg,
  padding: ConvPadding,
  opts: DepthwiseConv2DOptions = {},
): Tensor {
  const fn = 'tf.nn.depthwiseConv2dNativeBackpropFilter';
  const format = checkFormat(fn, opts.dataFormat);
  return scoped(opts.name ?? 'DepthwiseConv2dNativeBackpropFilter', [input, outBackprop], (scope, g) => {
    const [x, dy] = convertSameDType([input, outBackprop], ['input', 'out_backprop'], fn);
    const sizes = shapeArg(filterSizes, 'filter_sizes');
    const attrs = convAttrs(fn, x!.dtype, strides, padding, format, opts.rate ?? opts.dilations ?? 1, false);
    return g.createOp('DepthwiseConv2dNativeBackpropFilter', [x!, sizes, dy!], attrs, { name: scope }).outputs[0]!;
  });
}

// ---- pooling ----

export interface PoolOptions {
  dataFormat?: DataFormat;
  name?: string;
}

function poolOp(type: string, fn: string, value: TensorLike, ksize: SpatialArg, strides: SpatialArg, padding: 'SAME' | 'VALID', opts: PoolOptions): Tensor {
  const format = checkFormat(fn, opts.dataFormat);
  return scoped(opts.name ?? type, [value], (scope, g) => {
    const x = convertToTensor(value, undefined, 'input', 'value');
    const attrs: Record<string, AttrValue> = {
      T: x.dtype,
      ksize: spatialList(fn, 'ksize', ksize, format),
      strides: spatialList(fn, 'strides', strides, format),
      padding: poolPadding(fn, padding),
      data_format: format,
    };
    return g.createOp(type, [x], attrs, { name: scope }).outputs[0]!;
  });
}

/** Max pooling over ksize windows (a number, [kH, kW] or 4 elements in dataFormat order). */
export function maxPool(value: TensorLike, ksize: SpatialArg, strides: SpatialArg, padding: 'SAME' | 'VALID', opts: PoolOptions = {}): Tensor {
  return poolOp('MaxPool', 'tf.nn.maxPool', value, ksize, strides, padding, opts);
}

/** Average pooling; with SAME padding each output averages only the window elements inside the input. */
export function avgPool(value: TensorLike, ksize: SpatialArg, strides: SpatialArg, padding: 'SAME' | 'VALID', opts: PoolOptions = {}): Tensor {
  return poolOp('AvgPool', 'tf.nn.avgPool', value, ksize, strides, padding, opts);
}
