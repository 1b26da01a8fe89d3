/**
 * tf.contrib.layers as TF 1.15 has them: fully_connected, conv2d, batch_norm, flatten and dropout,
 * built on the tf.layers classes with contrib's scope names ('fully_connected', 'Conv', 'BatchNorm',
 * 'Flatten', 'Dropout'), variable names ('weights'/'biases'; 'beta'/'gamma'/'moving_mean'/
 * 'moving_variance') and defaults (relu, xavier weights, batch norm without gamma and decay 0.999),
 * plus the initializers and regularizers of `contrib` in src/initializers.ts.
 */
import { controlDependencies, GraphKeys, Tensor } from '../graph.js';
import { contribLookup } from '../api/lookup.js';
import { transform } from '../api/image.js';
import { sequenceLoss } from '../api/seq2seq.js';
import { BasicLSTMCell, BasicRNNCell, DropoutWrapper, GRUBlockCell, GRUBlockCellV2, GRUCell, LSTMBlockCell, LSTMCell, LSTMStateTuple, MultiRNNCell, OutputProjectionWrapper, ResidualWrapper, RNNCell, staticRnn } from '../api/rnn.js';
import { identity } from '../api/core.js';
import { relu } from '../api/nn.js';
import { dropout as nnDropout } from '../api/nn_extra.js';
import { convertToTensor, type TensorLike } from '../convert.js';
import type { Dim, Shape } from '../core/shape.js';
import { contrib as initializerContrib, xavierInitializer, zerosInitializer, type Initializer } from '../initializers.js';
import type { Variable } from '../variables.js';
import { ValueError, variableScope, type Regularizer, type Reuse } from '../variable_scope.js';
import type { AddWeightOptions, Layer } from './base.js';
import { Conv2D } from './convolutional.js';
import { Dense, flatten as layersFlatten, smartSelect, type TrainingFlag } from './core.js';
import { BatchNormalization } from './normalization.js';

export type ActivationFn = ((x: Tensor) => Tensor) | null;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NormalizerFn = (inputs: Tensor, params: Record<string, any>) => Tensor;

/** The keyword arguments fully_connected and conv2d share. */
export interface ContribLayerOptions {
  /** Applied last; default relu, null for none (a linear layer). */
  activationFn?: ActivationFn;
  /** Applied before the activation instead of the biases (batchNorm, say), with normalizerParams. */
  normalizerFn?: NormalizerFn | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  normalizerParams?: Record<string, any>;
  /** Default: xavier (glorot uniform). */
  weightsInitializer?: Initializer;
  weightsRegularizer?: Regularizer;
  /** Default: zeros; null for no biases. */
  biasesInitializer?: Initializer | null;
  biasesRegularizer?: Regularizer;
  reuse?: Reuse;
  /** Whether the variables go to TRAINABLE_VARIABLES (default true). */
  trainable?: boolean;
  /** The variable scope; default a unique 'fully_connected' / 'Conv'. */
  scope?: string;
}

export type FullyConnectedOptions = ContribLayerOptions;

export interface ContribConv2dOptions extends ContribLayerOptions {
  /** Default 1. */
  stride?: number | readonly number[];
  /** 'SAME' (default) or 'VALID'. */
  padding?: 'SAME' | 'VALID' | 'same' | 'valid';
  /** 'NHWC' (default) or 'NCHW'. */
  dataFormat?: 'NHWC' | 'NCHW';
  /** Dilation rate, default 1. */
  rate?: number | readonly number[];
}

export interface ContribBatchNormOptions {
  /** Decay of the moving averages (default 0.999). */
  decay?: number;
  /** Add the offset beta (default true). */
  center?: boolean;
  /** Multiply by gamma (default false: contrib leaves it to the next layer). */
  scale?: boolean;
  /** Default 0.001. */
  epsilon?: number;
  /** Default none. */
  activationFn?: ActivationFn;
  paramInitializers?: { beta?: Initializer; gamma?: Initializer; movingMean?: Initializer; movingVariance?: Initializer };
  paramRegularizers?: { beta?: Regularizer; gamma?: Regularizer };
  /**
   * Where the moving-average update ops go: UPDATE_OPS (default; run them with the train op), other
   * collection keys, or null: updated in place, the output depending on the updates.
   */
  updatesCollections?: string | readonly string[] | null;
  /** Batch statistics and updates (true, default), the moving statistics (false), or a bool tensor. */
  isTraining?: TrainingFlag;
  reuse?: Reuse;
  trainable?: boolean;
  /** 'NHWC' (default: the last axis is normalized) or 'NCHW' (axis 1). */
  dataFormat?: 'NHWC' | 'NCHW';
  /** The variable scope; default a unique 'BatchNorm'. */
  scope?: string;
}

export interface ContribDropoutOptions {
  /** Probability of keeping each element (default 0.5). */
  keepProb?: number | Tensor;
  noiseShape?: readonly Dim[] | Tensor;
  /** Drop (true, default), pass through (false), or decide at run time (a bool tensor). */
  isTraining?: TrainingFlag;
  seed?: number;
  scope?: string;
}

/**
 * The name the layer's variable scope takes: `scope`, else `defaultName` made unique under the current
 * variable scope (claimed here, so the next default is 'name_1'), as contrib's
 * variable_scope(scope, default_name) does; the layer enters it when it is made.
 */
function scopeNameFor(scope: string | undefined, defaultName: string, reuse: Reuse | undefined): string {
  if (scope !== undefined) return scope;
  if (reuse) throw new ValueError('reuse=True cannot be used without a name_or_scope');
  return variableScope(null, { defaultName, auxiliaryNameScope: false }, (sc) => sc.name.split('/').pop()!);
}

/** contrib creates its variables as model variables: they also go to MODEL_VARIABLES. */
function addModelVariables(layer: Layer, out: Tensor): void {
  const ref = out.graph.getCollectionRef<Variable>(GraphKeys.MODEL_VARIABLES);
  for (const v of layer.variables) if (!ref.includes(v)) ref.push(v);
}

function finish(out: Tensor, c: ContribLayerOptions): Tensor {
  let y = out;
  if (c.normalizerFn) y = c.normalizerFn(y, c.normalizerParams ?? {});
  const act = c.activationFn === undefined ? relu : c.activationFn;
  return act ? act(y) : y;
}

function useBiases(c: ContribLayerOptions): boolean {
  return !c.normalizerFn && c.biasesInitializer !== null;
}

/** Dense with contrib's variable names (weights, biases) and its normalizer / activation. */
/**
 * contrib's `weights` (kernel, xavier by default) and `biases` (zeros by default; the last dim of the
 * kernel), with their regularizers.
 */
function contribWeights(
  add: (name: string, opts: AddWeightOptions) => Variable,
  c: ContribLayerOptions,
  kernelShape: number[],
  useBias: boolean,
): { kernel: Variable; bias: Variable | undefined } {
  const kernel = add('weights', { shape: kernelShape, initializer: c.weightsInitializer ?? xavierInitializer(), regularizer: c.weightsRegularizer });
  const bias = useBias
    ? add('biases', { shape: [kernelShape[kernelShape.length - 1]!], initializer: c.biasesInitializer ?? zerosInitializer(), regularizer: c.biasesRegularizer })
    : undefined;
  return { kernel, bias };
}

class FullyConnected extends Dense {
  constructor(
    numOutputs: number,
    private readonly c: ContribLayerOptions,
    name: string,
  ) {
    super(numOutputs, { name, reuse: c.reuse, trainable: c.trainable, useBias: useBiases(c) });
  }
  protected override build(inputShape: Shape): void {
    if (inputShape !== null && inputShape.length < 2) {
      throw new ValueError(`Inputs must have a least 2 dimensions, got rank ${inputShape.length}`);
    }
    const last = inputShape === null ? null : inputShape[inputShape.length - 1]!;
    if (last === null) throw new ValueError('The last dimension of the inputs to `fully_connected` should be defined. Found `None`.');
    ({ kernel: this.kernel, bias: this.bias } = contribWeights((n, o) => this.addWeight(n, o), this.c, [last, this.units], this.useBias));
  }
  protected override call(inputs: Tensor): Tensor {
    return finish(super.call(inputs), this.c);
  }
}

/** Conv2D with contrib's variable names and its normalizer / activation. */
class ContribConv2D extends Conv2D {
  constructor(
    numOutputs: number,
    kernelSize: number | readonly number[],
    private readonly c: ContribConv2dOptions,
    name: string,
  ) {
    super(numOutputs, kernelSize, {
      name,
      reuse: c.reuse,
      trainable: c.trainable,
      strides: c.stride ?? 1,
      padding: (c.padding ?? 'SAME').toLowerCase() as 'same' | 'valid',
      dataFormat: c.dataFormat === 'NCHW' ? 'channels_first' : 'channels_last',
      dilationRate: c.rate ?? 1,
      useBias: useBiases(c),
    });
  }
  protected override build(inputShape: Shape): void {
    const inCh = this.inputChannels(inputShape);
    ({ kernel: this.kernel, bias: this.bias } = contribWeights((n, o) => this.addWeight(n, o), this.c, [...this.kernelSize, inCh, this.filters], this.useBias));
  }
  protected override call(inputs: Tensor): Tensor {
    return finish(super.call(inputs), this.c);
  }
}

/**
 * BatchNormalization with contrib's defaults, where updatesCollections decides where the update ops
 * go; with null they are not collected and the output gets them as control dependencies.
 */
class ContribBatchNorm extends BatchNormalization {
  private inPlace: Tensor[] = [];
  constructor(
    name: string,
    private readonly c: ContribBatchNormOptions,
  ) {
    super({
      name,
      reuse: c.reuse,
      trainable: c.trainable,
      axis: c.dataFormat === 'NCHW' ? 1 : -1,
      momentum: c.decay ?? 0.999,
      epsilon: c.epsilon ?? 0.001,
      center: c.center ?? true,
      scale: c.scale ?? false,
      betaInitializer: c.paramInitializers?.beta,
      gammaInitializer: c.paramInitializers?.gamma,
      movingMeanInitializer: c.paramInitializers?.movingMean,
      movingVarianceInitializer: c.paramInitializers?.movingVariance,
      betaRegularizer: c.paramRegularizers?.beta,
      gammaRegularizer: c.paramRegularizers?.gamma,
    });
  }
  protected override addUpdate(t: Tensor): void {
    const cols = this.c.updatesCollections;
    if (cols === undefined || cols === GraphKeys.UPDATE_OPS) {
      super.addUpdate(t);
    } else if (cols === null) {
      this.inPlace.push(t);
    } else {
      for (const key of typeof cols === 'string' ? [cols] : cols) {
        if (key === GraphKeys.UPDATE_OPS) super.addUpdate(t);
        else t.graph.addToCollection(key, t);
      }
    }
  }
  protected override call(inputs: Tensor, opts: { training?: TrainingFlag }): Tensor {
    this.inPlace = [];
    let out = super.call(inputs, opts);
    if (this.inPlace.length > 0) {
      const y = out;
      out = controlDependencies(this.inPlace, () => identity(y));
      out.setShape(y.shape);
    }
    return this.c.activationFn ? this.c.activationFn(out) : out;
  }
}

/** tf.contrib.layers.fully_connected: activation(inputs @ weights + biases) in scope 'fully_connected'. */
export function fullyConnected(inputs: TensorLike, numOutputs: number, opts: FullyConnectedOptions = {}): Tensor {
  const name = scopeNameFor(opts.scope, 'fully_connected', opts.reuse);
  const layer = new FullyConnected(numOutputs, opts, name);
  const out = layer.apply(inputs);
  addModelVariables(layer, out);
  return out;
}

/** tf.contrib.layers.linear: fully_connected without an activation. */
export function linear(inputs: TensorLike, numOutputs: number, opts: Omit<FullyConnectedOptions, 'activationFn'> = {}): Tensor {
  return fullyConnected(inputs, numOutputs, { ...opts, activationFn: null });
}

/** tf.contrib.layers.conv2d (convolution2d): 'SAME' padding, stride 1, relu; scope 'Conv'. */
export function conv2d(
  inputs: TensorLike,
  numOutputs: number,
  kernelSize: number | readonly number[],
  opts: ContribConv2dOptions = {},
): Tensor {
  const name = scopeNameFor(opts.scope, 'Conv', opts.reuse);
  const layer = new ContribConv2D(numOutputs, kernelSize, opts, name);
  const out = layer.apply(inputs);
  addModelVariables(layer, out);
  return out;
}

/**
 * tf.contrib.layers.batch_norm (the non-fused formulas, as with fused=False): decay 0.999, no gamma
 * unless scale, epsilon 0.001, training by default; scope 'BatchNorm'.
 */
export function batchNorm(inputs: TensorLike, opts: ContribBatchNormOptions = {}): Tensor {
  const name = scopeNameFor(opts.scope, 'BatchNorm', opts.reuse);
  const layer = new ContribBatchNorm(name, opts);
  const out = layer.apply(inputs, { training: opts.isTraining ?? true });
  addModelVariables(layer, out);
  return out;
}

/** tf.contrib.layers.flatten: [batch, ...] to [batch, k], under the name scope 'Flatten'. */
export function flatten(inputs: TensorLike, opts: { scope?: string } = {}): Tensor {
  const x = inputs instanceof Tensor ? inputs : convertToTensor(inputs);
  return x.graph.asDefault(() => x.graph.nameScope(opts.scope ?? 'Flatten', () => layersFlatten(x)));
}

/** tf.contrib.layers.dropout: keeps each element with probability keepProb (default 0.5) when training (default). */
export function dropout(inputs: TensorLike, opts: ContribDropoutOptions = {}): Tensor {
  const x = inputs instanceof Tensor ? inputs : convertToTensor(inputs);
  return x.graph.asDefault(() =>
    variableScope(opts.scope ?? null, { defaultName: 'Dropout' }, () =>
      smartSelect(
        opts.isTraining ?? true,
        () => nnDropout(x, { keepProb: opts.keepProb ?? 0.5, noiseShape: opts.noiseShape, seed: opts.seed }),
        () => identity(x),
      ),
    ),
  );
}

/** tf.contrib.layers: the layers above with contrib's initializers and regularizers. */
export const layers = {
  ...initializerContrib.layers,
  fullyConnected,
  linear,
  conv2d,
  convolution2d: conv2d,
  batchNorm,
  flatten,
  dropout,
};

/** tf.contrib: only tf.contrib.layers. */
/** tf.contrib.rnn: TF1's aliases of the tf.nn.rnnCell cells, and the fused cells only contrib has. */
const rnn = { BasicRNNCell, BasicLSTMCell, LSTMCell, GRUCell, MultiRNNCell, RNNCell, LSTMStateTuple, DropoutWrapper, OutputProjectionWrapper, ResidualWrapper, staticRnn, LSTMBlockCell, GRUBlockCell, GRUBlockCellV2 };

/** tf.contrib.seq2seq: the sequence loss TF1's seq2seq programs use. */
const seq2seq = { sequenceLoss };

export const contrib = { layers, rnn, seq2seq, lookup: contribLookup, image: { transform } };
