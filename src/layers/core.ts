/** tf.layers.dense, dropout and flatten. */
import { concat, reshape, shape as shapeOf, stack, stridedSlice, transpose } from '../api/array.js';
import { identity } from '../api/core.js';
import { matmul, where } from '../api/math.js';
import { biasAdd } from '../api/nn.js';
import { dropout as nnDropout } from '../api/nn_extra.js';
import { convertToTensor, type TensorLike } from '../convert.js';
import { Tensor } from '../graph.js';
import type { Initializer } from '../initializers.js';
import type { Shape } from '../core/shape.js';
import type { Variable } from '../variables.js';
import { zerosInitializer } from '../initializers.js';
import { ValueError, type Regularizer } from '../variable_scope.js';
import { Layer, normDataFormat, type Activation, type DataFormat, type LayerOptions } from './base.js';

export interface DenseOptions extends LayerOptions {
  activation?: Activation;
  useBias?: boolean;
  /** Default: the variable scope's initializer, else glorot uniform. */
  kernelInitializer?: Initializer;
  /** Default: zeros. */
  biasInitializer?: Initializer;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
}

/** A densely connected layer: activation(inputs @ kernel + bias), kernel [in, units]. */
export class Dense extends Layer {
  readonly units: number;
  readonly activation: Activation;
  readonly useBias: boolean;
  kernel: Variable | undefined;
  bias: Variable | undefined;

  constructor(
    units: number,
    private readonly opts: DenseOptions = {},
  ) {
    super('dense', opts);
    if (!Number.isInteger(units) || units <= 0) throw new ValueError(`Dense: units must be a positive integer, got ${units}`);
    this.units = units;
    this.activation = opts.activation;
    this.useBias = opts.useBias ?? true;
  }

  protected build(inputShape: Shape): void {
    const last = inputShape === null || inputShape.length === 0 ? null : inputShape[inputShape.length - 1]!;
    if (inputShape !== null && inputShape.length < 2) {
      throw new ValueError(`Input 0 of layer ${this.name} is incompatible with the layer: expected min_ndim=2, found ndim=${inputShape.length}.`);
    }
    if (last === null) throw new ValueError('The last dimension of the inputs to `Dense` should be defined. Found `None`.');
    this.kernel = this.addWeight('kernel', {
      shape: [last, this.units],
      initializer: this.opts.kernelInitializer,
      regularizer: this.opts.kernelRegularizer,
    });
    if (this.useBias) {
      this.bias = this.addWeight('bias', {
        shape: [this.units],
        initializer: this.opts.biasInitializer ?? zerosInitializer(),
        regularizer: this.opts.biasRegularizer,
      });
    }
  }

  protected call(inputs: Tensor): Tensor {
    const rank = inputs.rank;
    let outputs: Tensor;
    if (rank !== null && rank > 2) {
      outputs = tensordotLast(inputs, this.kernel!, this.units);
    } else {
      outputs = matmul(inputs, this.kernel!);
    }
    if (this.bias) outputs = biasAdd(outputs, this.bias);
    return this.activation ? this.activation(outputs) : outputs;
  }
}

/** inputs (..., in) contracted with kernel (in, units) over the last axis: reshape, MatMul, reshape back. */
function tensordotLast(inputs: Tensor, kernel: Variable, units: number): Tensor {
  const s = inputs.shape!;
  const inDim = s[s.length - 1]!;
  return inputs.graph.nameScope('Tensordot', () => {
    const flat = reshape(inputs, [-1, inDim]);
    const prod = matmul(flat, kernel, { name: 'MatMul' });
    let outShape: number[] | Tensor;
    if (s.slice(1, -1).every((d) => d !== null)) {
      outShape = [-1, ...(s.slice(1, -1) as number[]), units];
    } else {
      const lead = stridedSlice(shapeOf(inputs), [0], [s.length - 1], [1]);
      outShape = concat([lead, [units]], 0);
    }
    const out = reshape(prod, outShape);
    out.setShape([...s.slice(0, -1), units]);
    return out;
  });
}

/** Functional form of Dense: creates the layer and applies it. */
export function dense(inputs: TensorLike, units: number, opts: DenseOptions = {}): Tensor {
  return new Dense(units, opts).apply(inputs);
}

/** A training flag: a JS boolean, or a bool tensor chosen at run time. */
export type TrainingFlag = boolean | Tensor;

/** The flag's value when it is known while building the graph. */
export function staticFlag(training: TrainingFlag): boolean | undefined {
  if (typeof training === 'boolean') return training;
  if (training.dtype !== 'bool') throw new ValueError(`training must be a boolean or a bool tensor, got ${training.dtype} (${training.name})`);
  const v = training.knownValue;
  return v === undefined ? undefined : Boolean(v.scalar());
}

/** TF's smart_cond: the branch when the flag is static, else both, chosen elementwise at run time. */
export function smartSelect(training: TrainingFlag, ifTrue: () => Tensor, ifFalse: () => Tensor): Tensor {
  const flag = staticFlag(training);
  if (flag === true) return ifTrue();
  if (flag === false) return ifFalse();
  const t = ifTrue();
  const f = ifFalse();
  const out = where(training as Tensor, t, f);
  if (t.shape !== null) out.setShape(t.shape);
  return out;
}

export interface DropoutLayerOptions {
  /** Fraction dropped (default 0.5). */
  rate?: number | Tensor;
  noiseShape?: readonly (number | null)[];
  seed?: number;
  /** Apply dropout (true), pass through (false, default), or decide at run time (a bool tensor). */
  training?: TrainingFlag;
  name?: string;
}

/** Dropout: in training, zeroes a `rate` fraction of the inputs and scales the rest by 1 / (1 - rate). */
export class Dropout extends Layer {
  constructor(private readonly opts: Omit<DropoutLayerOptions, 'training'> = {}) {
    super('dropout', { name: opts.name });
    const r = opts.rate ?? 0.5;
    if (typeof r === 'number' && !(r >= 0 && r < 1)) throw new ValueError(`rate must be a scalar tensor or a float in the range [0, 1), got ${r}`);
  }
  protected build(): void {}
  protected call(inputs: Tensor, opts: { training?: TrainingFlag }): Tensor {
    const rate = this.opts.rate ?? 0.5;
    return smartSelect(
      opts.training ?? false,
      () => nnDropout(inputs, { rate, noiseShape: this.opts.noiseShape, seed: this.opts.seed }),
      () => identity(inputs),
    );
  }
}

export function dropout(inputs: TensorLike, opts: DropoutLayerOptions = {}): Tensor {
  const { training, ...rest } = opts;
  return new Dropout(rest).apply(inputs, { training: training ?? false });
}

export interface FlattenOptions {
  dataFormat?: DataFormat;
  name?: string;
}

/** Flattens all but the first (batch) dimension; channels_first inputs are moved to channels_last first. */
export class Flatten extends Layer {
  private readonly dataFormat: DataFormat;
  constructor(opts: FlattenOptions = {}) {
    super('flatten', { name: opts.name });
    this.dataFormat = normDataFormat(opts.dataFormat);
  }
  protected build(): void {}
  protected call(inputs: Tensor): Tensor {
    let x = inputs;
    const rank = x.rank;
    if (this.dataFormat === 'channels_first' && rank !== null && rank > 1) {
      const perm = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
      x = transpose(x, perm);
    }
    const s = x.shape;
    const batch = s === null ? null : s[0] ?? null;
    const target = batch !== null ? [batch, -1] : stack([stridedSlice(shapeOf(x), [0], [1], [1], { shrinkAxisMask: 1 }), convertToTensor(-1, 'int32')]);
    const out = reshape(x, target);
    if (s !== null) {
      const rest = s.slice(1);
      out.setShape([batch, rest.every((d) => d !== null) ? (rest as number[]).reduce((a, b) => a * b, 1) : null]);
    }
    return out;
  }
}

export function flatten(inputs: TensorLike, opts: FlattenOptions = {}): Tensor {
  return new Flatten(opts).apply(inputs);
}
