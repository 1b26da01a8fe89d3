/** tf.layers.max_pooling2d and average_pooling2d. */
import { avgPool, maxPool } from '../api/conv.js';
import type { Tensor } from '../graph.js';
import type { TensorLike } from '../convert.js';
import { checkNdim, Layer, normDataFormat, normPadding, pair, type DataFormat, type Padding } from './base.js';

export interface Pooling2DOptions {
  padding?: Padding;
  dataFormat?: DataFormat;
  name?: string;
}

abstract class Pooling2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'VALID' | 'SAME';
  readonly dataFormat: DataFormat;

  constructor(className: string, poolSize: number | readonly number[], strides: number | readonly number[], opts: Pooling2DOptions) {
    super(className, { name: opts.name });
    this.poolSize = pair(poolSize, 'pool_size');
    this.strides = pair(strides, 'strides');
    this.padding = normPadding(opts.padding);
    this.dataFormat = normDataFormat(opts.dataFormat);
  }
  protected build(): void {}
  protected vec4(p: [number, number]): number[] {
    return this.dataFormat === 'channels_first' ? [1, 1, p[0], p[1]] : [1, p[0], p[1], 1];
  }
  protected abstract pool(x: Tensor, ksize: number[], strides: number[], padding: 'VALID' | 'SAME', df: 'NHWC' | 'NCHW'): Tensor;
  protected call(inputs: Tensor): Tensor {
    checkNdim(this, inputs.shape, 4);
    return this.pool(inputs, this.vec4(this.poolSize), this.vec4(this.strides), this.padding, this.dataFormat === 'channels_first' ? 'NCHW' : 'NHWC');
  }
}

export class MaxPooling2D extends Pooling2D {
  constructor(poolSize: number | readonly number[], strides: number | readonly number[], opts: Pooling2DOptions = {}) {
    super('max_pooling2d', poolSize, strides, opts);
  }
  protected pool(x: Tensor, ksize: number[], strides: number[], padding: 'VALID' | 'SAME', dataFormat: 'NHWC' | 'NCHW'): Tensor {
    return maxPool(x, ksize, strides, padding, { dataFormat });
  }
}

export class AveragePooling2D extends Pooling2D {
  constructor(poolSize: number | readonly number[], strides: number | readonly number[], opts: Pooling2DOptions = {}) {
    super('average_pooling2d', poolSize, strides, opts);
  }
  protected pool(x: Tensor, ksize: number[], strides: number[], padding: 'VALID' | 'SAME', dataFormat: 'NHWC' | 'NCHW'): Tensor {
    return avgPool(x, ksize, strides, padding, { dataFormat });
  }
}

export function maxPooling2d(inputs: TensorLike, poolSize: number | readonly number[], strides: number | readonly number[], opts: Pooling2DOptions = {}): Tensor {
  return new MaxPooling2D(poolSize, strides, opts).apply(inputs);
}

export function averagePooling2d(
  inputs: TensorLike,
  poolSize: number | readonly number[],
  strides: number | readonly number[],
  opts: Pooling2DOptions = {},
): Tensor {
  return new AveragePooling2D(poolSize, strides, opts).apply(inputs);
}
