// tf.layers: TF1's functional layers (and their classes), named and shared through variable scopes.
export { Layer, type LayerOptions, type Activation, type Padding, type DataFormat } from './base.js';
export {
  Dense,
  dense,
  Dropout,
  dropout,
  Flatten,
  flatten,
  type DenseOptions,
  type DropoutLayerOptions,
  type FlattenOptions,
  type TrainingFlag,
} from './core.js';
export { Conv2D, conv2d, Conv2DTranspose, conv2dTranspose, type Conv2DOptions } from './convolutional.js';
export { MaxPooling2D, maxPooling2d, AveragePooling2D, averagePooling2d, type Pooling2DOptions } from './pooling.js';
export {
  BatchNormalization,
  batchNormalization,
  type BatchNormalizationOptions,
  type BatchNormalizationCallOptions,
} from './normalization.js';
