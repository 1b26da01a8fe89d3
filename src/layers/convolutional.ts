/** tf.layers.conv2d and conv2d_transpose. */
import { shape as shapeOf, stack, stridedSlice } from '../api/array.js';
import { conv2d as nnConv2d, conv2dTranspose as nnConv2dTranspose } from '../api/conv.js';
import { add, multiply } from '../api/math.js';
import { biasAdd } from '../api/nn.js';
import { convertToTensor, type TensorLike } from '../convert.js';
import type { Tensor } from '../graph.js';
import { zerosInitializer, type Initializer } from '../initializers.js';
import type { Shape } from '../core/shape.js';
import type { Variable } from '../variables.js';
import { ValueError, type Regularizer } from '../variable_scope.js';
import {
  checkNdim,
  Layer,
  normDataFormat,
  normPadding,
  pair,
  type Activation,
  type DataFormat,
  type LayerOptions,
  type Padding,
} from './base.js';

export interface Conv2DOptions extends LayerOptions {
  strides?: number | readonly number[];
  padding?: Padding;
  dataFormat?: DataFormat;
  dilationRate?: number | readonly number[];
  activation?: Activation;
  useBias?: boolean;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
}

abstract class ConvBase extends Layer {
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'VALID' | 'SAME';
  readonly dataFormat: DataFormat;
  readonly dilationRate: [number, number];
  readonly activation: Activation;
  readonly useBias: boolean;
  kernel: Variable | undefined;
  bias: Variable | undefined;

  constructor(
    className: string,
    filters: number,
    kernelSize: number | readonly number[],
    protected readonly opts: Conv2DOptions,
  ) {
    super(className, opts);
    if (!Number.isInteger(filters) || filters <= 0) throw new ValueError(`${className}: filters must be a positive integer, got ${filters}`);
    this.filters = filters;
    this.kernelSize = pair(kernelSize, 'kernel_size');
    this.strides = pair(opts.strides ?? 1, 'strides');
    this.padding = normPadding(opts.padding);
    this.dataFormat = normDataFormat(opts.dataFormat);
    this.dilationRate = pair(opts.dilationRate ?? 1, 'dilation_rate');
    this.activation = opts.activation;
    this.useBias = opts.useBias ?? true;
  }

  protected get channelAxis(): number {
    return this.dataFormat === 'channels_first' ? 1 : 3;
  }
  protected get tfDataFormat(): 'NHWC' | 'NCHW' {
    return this.dataFormat === 'channels_first' ? 'NCHW' : 'NHWC';
  }
  /** A per-spatial-dim pair as the 4-vector the op takes ([1, h, w, 1] or [1, 1, h, w]). */
  protected vec4(p: [number, number]): number[] {
    return this.dataFormat === 'channels_first' ? [1, 1, p[0], p[1]] : [1, p[0], p[1], 1];
  }

  protected inputChannels(inputShape: Shape): number {
    checkNdim(this, inputShape, 4);
    const c = inputShape === null ? null : inputShape[this.channelAxis]!;
    if (c === null) throw new ValueError('The channel dimension of the inputs should be defined. Found `None`.');
    return c;
  }

  protected addBias(name: 'bias'): void {
    if (!this.useBias) return;
    this.bias = this.addWeight(name, {
      shape: [this.filters],
      initializer: this.opts.biasInitializer ?? zerosInitializer(),
      regularizer: this.opts.biasRegularizer,
    });
  }

  protected finish(outputs: Tensor): Tensor {
    let out = outputs;
    if (this.bias) out = biasAdd(out, this.bias, { dataFormat: this.tfDataFormat });
    return this.activation ? this.activation(out) : out;
  }
}

/** 2-D convolution layer: kernel [kh, kw, in_channels, filters], bias [filters]. */
export class Conv2D extends ConvBase {
  constructor(filters: number, kernelSize: number | readonly number[], opts: Conv2DOptions = {}) {
    super('conv2d', filters, kernelSize, opts);
  }
  protected build(inputShape: Shape): void {
    const inCh = this.inputChannels(inputShape);
    this.kernel = this.addWeight('kernel', {
      shape: [...this.kernelSize, inCh, this.filters],
      initializer: this.opts.kernelInitializer,
      regularizer: this.opts.kernelRegularizer,
    });
    this.addBias('bias');
  }
  protected call(inputs: Tensor): Tensor {
    checkNdim(this, inputs.shape, 4);
    const out = nnConv2d(inputs, this.kernel!, this.vec4(this.strides), this.padding, {
      dataFormat: this.tfDataFormat,
      dilations: this.vec4(this.dilationRate),
    });
    return this.finish(out);
  }
}

export function conv2d(inputs: TensorLike, filters: number, kernelSize: number | readonly number[], opts: Conv2DOptions = {}): Tensor {
  return new Conv2D(filters, kernelSize, opts).apply(inputs);
}

/** keras' deconv_output_length without output padding. */
function deconvLength(n: number, k: number, stride: number, padding: 'VALID' | 'SAME'): number {
  return padding === 'VALID' ? n * stride + Math.max(k - stride, 0) : n * stride;
}

/**
 * Transposed 2-D convolution (the gradient of conv2d with respect to its input): kernel
 * [kh, kw, filters, in_channels]; the output is `strides` times larger (plus the kernel overhang with
 * 'valid' padding).
 */
export class Conv2DTranspose extends ConvBase {
  constructor(filters: number, kernelSize: number | readonly number[], opts: Omit<Conv2DOptions, 'dilationRate'> = {}) {
    super('conv2d_transpose', filters, kernelSize, opts);
  }
  protected build(inputShape: Shape): void {
    const inCh = this.inputChannels(inputShape);
    this.kernel = this.addWeight('kernel', {
      shape: [...this.kernelSize, this.filters, inCh],
      initializer: this.opts.kernelInitializer,
      regularizer: this.opts.kernelRegularizer,
    });
    this.addBias('bias');
  }
  protected call(inputs: Tensor): Tensor {
    checkNdim(this, inputs.shape, 4);
    const s = inputs.shape ?? [null, null, null, null];
    const [hAxis, wAxis] = this.dataFormat === 'channels_first' ? [2, 3] : [1, 2];
    let dyn: Tensor | undefined;
    const dim = (i: number): Tensor => {
      dyn ??= shapeOf(inputs);
      return stridedSlice(dyn, [i], [i + 1], [1], { shrinkAxisMask: 1 });
    };
    const outLen = (axis: number, k: number, stride: number): number | Tensor => {
      const n = s[axis]!;
      if (n !== null) return deconvLength(n, k, stride, this.padding);
      const scaled = multiply(dim(axis), stride);
      return this.padding === 'VALID' ? add(scaled, Math.max(k - stride, 0)) : scaled;
    };
    const batch = s[0] ?? dim(0);
    const oh = outLen(hAxis, this.kernelSize[0], this.strides[0]);
    const ow = outLen(wAxis, this.kernelSize[1], this.strides[1]);
    const dims = this.dataFormat === 'channels_first' ? [batch, this.filters, oh, ow] : [batch, oh, ow, this.filters];
    const outputShape: number[] | Tensor = dims.every((d) => typeof d === 'number')
      ? (dims as number[])
      : stack(dims.map((d) => (typeof d === 'number' ? convertToTensor(d, 'int32') : d)));
    const out = nnConv2dTranspose(inputs, this.kernel!, outputShape, this.vec4(this.strides), this.padding, {
      dataFormat: this.tfDataFormat,
    });
    out.setShape(dims.map((d) => (typeof d === 'number' ? d : null)));
    return this.finish(out);
  }
}

export function conv2dTranspose(
  inputs: TensorLike,
  filters: number,
  kernelSize: number | readonly number[],
  opts: Omit<Conv2DOptions, 'dilationRate'> = {},
): Tensor {
  return new Conv2DTranspose(filters, kernelSize, opts).apply(inputs);
}
