/**
 * The base of TF1's tf.layers (tf.compat.v1.layers.Layer): a layer owns a variable scope, made on
 * first use ('dense', 'dense_1', ... when unnamed; the given name otherwise), creates its weights
 * there with getVariable (so `reuse` shares them), and names its ops under the name scope opened
 * with that variable scope ('dense/MatMul').
 */
import type { DType } from '../core/dtypes.js';
import { convertToTensor, type TensorLike } from '../convert.js';
import { initScopeGraph } from '../func_graph.js';
import { getDefaultGraph, GraphKeys, Tensor, type Graph } from '../graph.js';
import type { Initializer } from '../initializers.js';
import type { Shape } from '../core/shape.js';
import type { Variable } from '../variables.js';
import { ValueError, variableScope, VariableScope, type Regularizer, type Reuse } from '../variable_scope.js';

export type Activation = ((x: Tensor) => Tensor) | null | undefined;

export interface LayerOptions {
  /** The layer's variable scope name; unnamed layers get 'dense', 'dense_1', ... */
  name?: string;
  /** Reuse the variables of an earlier layer with the same name (or in a reusing scope). */
  reuse?: Reuse;
  /** Whether the layer's weights go to TRAINABLE_VARIABLES (default true). */
  trainable?: boolean;
}

export interface AddWeightOptions {
  shape: readonly number[];
  dtype?: DType;
  initializer?: Initializer;
  regularizer?: Regularizer;
  trainable?: boolean;
}

const NAME_UIDS_KEY = 'weir.layer_name_uids';

/** keras' per-graph object-name counters: 'dense', 'dense_1', ... */
function uniqueLayerName(graph: Graph, base: string): string {
  let m = graph.extras.get(NAME_UIDS_KEY) as Map<string, number> | undefined;
  if (!m) graph.extras.set(NAME_UIDS_KEY, (m = new Map()));
  const n = m.get(base) ?? 0;
  m.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

export abstract class Layer {
  readonly name: string;
  readonly trainable: boolean;
  built = false;
  protected readonly reuse: Reuse | undefined;
  private readonly baseName: string;
  private scope: VariableScope | undefined;
  private readonly _weights: { v: Variable; trainable: boolean }[] = [];
  private readonly _updates: Tensor[] = [];
  private readonly _losses: Tensor[] = [];
  private graph: Graph | undefined;

  /** @param className TF's snake-case layer class name ('dense', 'conv2d', 'batch_normalization'). */
  constructor(className: string, opts: LayerOptions = {}) {
    this.trainable = opts.trainable ?? true;
    this.reuse = opts.reuse;
    if (opts.name) {
      this.name = opts.name;
      this.baseName = opts.name;
      // As TF: a named layer's variable scope is entered (and its name scope claimed) when it is made.
      variableScope(opts.name, (s) => {
        this.scope = s;
      });
    } else {
      this.name = uniqueLayerName(getDefaultGraph(), className);
      this.baseName = className;
    }
  }

  /** The variable scope's name ('dense_1'), known after the first call. */
  get scopeName(): string {
    if (!this.scope) {
      throw new ValueError(
        `No name available for layer scope because the layer "${this.name}" has not been used yet. The scope name is determined the first time the layer instance is called. You must therefore call the layer before querying \`scope_name\`.`,
      );
    }
    return this.scope.name;
  }

  get variables(): Variable[] {
    return this._weights.map((w) => w.v);
  }
  get weights(): Variable[] {
    return this.variables;
  }
  get trainableVariables(): Variable[] {
    return this._weights.filter((w) => w.trainable).map((w) => w.v);
  }
  get nonTrainableVariables(): Variable[] {
    return this._weights.filter((w) => !w.trainable).map((w) => w.v);
  }
  /** Ops to run with the train op (batch norm's moving-average updates); also in UPDATE_OPS. */
  get updates(): Tensor[] {
    return [...this._updates];
  }
  /** Regularization losses of the weights; also in REGULARIZATION_LOSSES. */
  get losses(): Tensor[] {
    return [...this._losses];
  }

  /** Creates the weights for inputs of this static shape (called once, on the first call). */
  protected abstract build(inputShape: Shape): void;
  /** The forward computation, run under the layer's name scope. */
  protected abstract call(inputs: Tensor, opts: Record<string, unknown>): Tensor;

  /** Applies the layer (TF's __call__ / apply): builds it on first use, then reuses its weights. */
  apply(x: TensorLike, opts: Record<string, unknown> = {}): Tensor {
    const inputs = x instanceof Tensor ? x : convertToTensor(x);
    const g = inputs.graph;
    // A loop or cond body is a function graph inside the layer's graph: the layer's weights are
    // captured there, as TF1 layers are reused inside while loops.
    const home = initScopeGraph(g);
    if (this.graph && this.graph !== home) throw new ValueError(`Layer ${this.name} was used in another graph`);
    this.graph = home;
    return g.asDefault(() => {
      this.setScope();
      const reuse: Reuse | undefined = this.built ? true : this.reuse;
      return variableScope(this.scope!, { reuse: reuse ?? null, auxiliaryNameScope: false }, (scope) =>
        g.nameScope(scope.originalNameScope || null, () => {
          if (!this.built) {
            this.build(inputs.shape);
            this.built = true;
          }
          const out = this.call(inputs, opts);
          addNew(g, GraphKeys.UPDATE_OPS, this._updates);
          return out;
        }),
      );
    });
  }

  private setScope(): void {
    if (this.scope) return;
    const capture = (s: VariableScope): void => {
      this.scope = s;
    };
    if (this.reuse) variableScope(this.baseName, capture);
    else variableScope(null, { defaultName: this.baseName }, capture);
  }

  /** A weight `<scope>/name` made with getVariable (shared when reusing); its regularizer loss is recorded once. */
  protected addWeight(name: string, opts: AddWeightOptions): Variable {
    const trainable = (opts.trainable ?? true) && this.trainable;
    const scope = this.scope!;
    const g = this.graph!;
    const existing = new Set(g.getCollection(GraphKeys.GLOBAL_VARIABLES));
    const reuse: Reuse | null = this.built ? true : (this.reuse ?? null);
    const v = variableScope(scope, { reuse, auxiliaryNameScope: false }, (s) =>
      s.getVariable(name, { shape: opts.shape, dtype: opts.dtype ?? 'float32', initializer: opts.initializer, trainable }, g),
    );
    this._weights.push({ v, trainable });
    if (opts.regularizer && !existing.has(v)) {
      const loss = g.nameScope(`${name}/Regularizer`, () => opts.regularizer!(v.value()));
      if (loss) {
        this._losses.push(loss);
        g.addToCollection(GraphKeys.REGULARIZATION_LOSSES, loss);
      }
    }
    return v;
  }

  protected addUpdate(t: Tensor): void {
    this._updates.push(t);
  }
}

function addNew(g: Graph, key: string, items: readonly unknown[]): void {
  const ref = g.getCollectionRef(key);
  const have = new Set(ref);
  for (const it of items) if (!have.has(it)) ref.push(it);
}

/** Normalizes an int-or-pair argument (kernel size, strides, dilation) to a pair. */
export function pair(v: number | readonly number[], what: string): [number, number] {
  const arr = typeof v === 'number' ? [v, v] : [...v];
  if (arr.length !== 2 || !arr.every((x) => Number.isInteger(x) && x > 0)) {
    throw new ValueError(`The \`${what}\` argument must be a tuple of 2 integers. Received: ${JSON.stringify(v)}`);
  }
  return arr as [number, number];
}

export type Padding = 'valid' | 'same';
export type DataFormat = 'channels_last' | 'channels_first';

export function normPadding(p: string | undefined): 'VALID' | 'SAME' {
  const v = (p ?? 'valid').toLowerCase();
  if (v !== 'valid' && v !== 'same') throw new ValueError(`The \`padding\` argument must be one of "valid", "same". Received: ${p}`);
  return v === 'valid' ? 'VALID' : 'SAME';
}

export function normDataFormat(f: string | undefined): DataFormat {
  const v = (f ?? 'channels_last').toLowerCase();
  if (v !== 'channels_last' && v !== 'channels_first') {
    throw new ValueError(`The \`data_format\` argument must be one of "channels_first", "channels_last". Received: ${f}`);
  }
  return v as DataFormat;
}

/** Checks the input rank the layer expects, with keras' message. */
export function checkNdim(layer: Layer, shape: Shape, ndim: number): void {
  if (shape !== null && shape.length !== ndim) {
    throw new ValueError(
      `Input 0 of layer ${layer.name} is incompatible with the layer: expected ndim=${ndim}, found ndim=${shape.length}. Full shape received: [${shape
        .map((d) => (d === null ? 'None' : d))
        .join(', ')}]`,
    );
  }
}
