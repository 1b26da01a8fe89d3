// TF1's recurrent API (tf.nn.rnn_cell, tf.nn.dynamic_rnn, tf.nn.static_rnn): BasicRNNCell,
// BasicLSTMCell, LSTMCell, GRUCell and MultiRNNCell with TF 1.15's variable names, shapes and
// equations; tf.contrib.rnn's fused LSTMBlockCell, GRUBlockCell and GRUBlockCellV2 (one op per step,
// ops/rnn.ts); DropoutWrapper, OutputProjectionWrapper and ResidualWrapper; dynamicRnn as a whileLoop
// over TensorArrays, staticRnn as a JS loop over time steps, bidirectionalDynamicRnn as two
// dynamicRnn calls, the backward one on each sequence reversed within its length.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { Tensor, type Graph } from '../graph.js';
import { constantInitializer, zerosInitializer, type Initializer } from '../initializers.js';
import type { Variable } from '../variables.js';
import { getVariable, ValueError, variableScope, type VariableScope } from '../variable_scope.js';
import { concat, expandDims, shape as shapeOf, split, stridedSlice, transpose, zeros } from './array.js';
import { clipByValue } from './clip.js';
import { whileLoop } from './control_flow.js';
import { constant, identity } from './core.js';
import { add, cast, greaterEqual, less, matmul, multiply, sigmoid, subtract, tanh, where } from './math.js';
import { flatten, packSequenceAs } from './nest.js';
import { biasAdd } from './nn.js';
import { dropout } from './nn_extra.js';
import { TensorArray } from './tensor_array.js';
import { reverse, reverseSequence } from './indexing.js';

/** An elementwise activation. */
export type RNNActivation = (x: Tensor) => Tensor;

/** TF's LSTMStateTuple(c, h), as a plain object so loops and nest carry it (flattened as c, h). */
export interface LSTMStateTuple<T = Tensor> {
  c: T;
  h: T;
}

/** LSTMStateTuple(c, h). */
export function LSTMStateTuple<T = Tensor>(c: T, h: T): LSTMStateTuple<T> {
  return { c, h };
}

/** A cell's state: a tensor, an LSTMStateTuple, or a list of states (MultiRNNCell). */
export type RNNState = Tensor | LSTMStateTuple | RNNState[];
/** The sizes of a state's parts, in the state's structure. */
export type StateSize = number | LSTMStateTuple<number> | StateSize[];

/** A batch size: a JS number or a scalar int tensor. */
export type BatchSize = number | Tensor;

/** The static last dim of x, required to size a kernel. */
function depthOf(x: Tensor, who: string): number {
  const s = x.shape;
  const d = s === null || s.length === 0 ? null : s[s.length - 1]!;
  if (s !== null && s.length !== 2) throw new ValueError(`${who}: inputs must have rank 2 [batch, depth], got shape [${s.map(String)}]`);
  if (d === null || d === undefined) throw new ValueError(`${who}: the last dimension of the inputs must be known, got ${x.name} with shape ${JSON.stringify(s)}`);
  return d;
}

/**
 * The base of TF1's RNNCell: variables are made under `<current variable scope>/<baseName>` (made
 * unique, as a layer's scope is) on the first call, and reused by every later call (as a Keras-style
 * layer binds its weights once).
 */
export abstract class RNNCell {
  protected built = false;
  /** The variable scope name the cell's variables live in, once built. */
  scopeName: string | undefined;

  /**
   * With reuse, the cell's variables are looked up in the scope named baseName exactly (TF's layer
   * `reuse=True`); otherwise baseName is made unique, as a layer's default name is.
   */
  protected reuse = false;

  constructor(protected readonly baseName: string) {}

  abstract get stateSize(): StateSize;
  abstract get outputSize(): number;

  /** Creates the variables for inputs of this depth (called once, inside the cell's scope). */
  protected abstract build(inputDepth: number, dtype: DType): void;
  /** One step, the variables built. */
  protected abstract step(inputs: Tensor, state: RNNState): [Tensor, RNNState];

  /** One step: [output, newState]. The first call creates the variables. */
  call(inputs: TensorLike, state: RNNState): [Tensor, RNNState] {
    const x = convertToTensor(inputs);
    if (!this.built) {
      const build = (scope: VariableScope): void => {
        this.scopeName = scope.name;
        this.build(depthOf(x, this.constructor.name), x.dtype);
        this.built = true;
      };
      if (this.reuse) variableScope(this.baseName, { reuse: true }, build);
      else variableScope(null, { defaultName: this.baseName }, build);
    }
    return this.step(x, state);
  }

  /** Zeros in the state's structure, each [batchSize, size]. */
  zeroState(batchSize: BatchSize, dtype: DType = 'float32'): RNNState {
    return zeroStateFor(this.stateSize, batchSize, dtype);
  }
}

function zeroStateFor(size: StateSize, batchSize: BatchSize, dtype: DType): RNNState {
  const leaves = flatten(size) as number[];
  const ts = leaves.map((n) => {
    const z = zeros([batchSize, n], dtype);
    z.setShape([typeof batchSize === 'number' ? batchSize : null, n]);
    return z;
  });
  return packSequenceAs<RNNState>(size, ts);
}

/** x·W + b over [inputs, h] concatenated along axis 1 (TF's _linear with a concat). */
function linear(parts: Tensor[], kernel: Variable, bias: Variable): Tensor {
  return biasAdd(matmul(concat(parts, 1), kernel), bias);
}

export interface BasicRNNCellOptions {
  /** Default tanh. */
  activation?: RNNActivation;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
}

/** TF's BasicRNNCell: output = newState = act(W·[x, h] + b); variables basic_rnn_cell/{kernel,bias}. */
export class BasicRNNCell extends RNNCell {
  kernel: Variable | undefined;
  bias: Variable | undefined;
  private readonly activation: RNNActivation;

  constructor(
    readonly numUnits: number,
    private readonly opts: BasicRNNCellOptions = {},
  ) {
    super('basic_rnn_cell');
    checkUnits(numUnits, 'BasicRNNCell');
    this.activation = opts.activation ?? ((x) => tanh(x));
  }

  get stateSize(): number {
    return this.numUnits;
  }
  get outputSize(): number {
    return this.numUnits;
  }

  protected build(depth: number, dtype: DType): void {
    this.kernel = getVariable('kernel', { shape: [depth + this.numUnits, this.numUnits], dtype, initializer: this.opts.kernelInitializer });
    this.bias = getVariable('bias', { shape: [this.numUnits], dtype, initializer: this.opts.biasInitializer ?? zerosInitializer() });
  }

  protected step(inputs: Tensor, state: RNNState): [Tensor, RNNState] {
    const h = asTensor(state, 'BasicRNNCell');
    const out = this.activation(linear([inputs, h], this.kernel!, this.bias!));
    return [out, out];
  }
}

export interface BasicLSTMCellOptions {
  /** Added to the forget gate's pre-activation (default 1.0). */
  forgetBias?: number;
  /** State as LSTMStateTuple {c, h} (default true), else c and h concatenated along axis 1. */
  stateIsTuple?: boolean;
  /** Default tanh. */
  activation?: RNNActivation;
  kernelInitializer?: Initializer;
}

/**
 * TF's BasicLSTMCell: [i, j, f, o] = split(W·[x, h] + b, 4); c' = c*sigmoid(f + forgetBias) +
 * sigmoid(i)*act(j); h' = act(c')*sigmoid(o). Variables basic_lstm_cell/kernel [in+units, 4*units]
 * and basic_lstm_cell/bias [4*units].
 */
export class BasicLSTMCell extends RNNCell {
  kernel: Variable | undefined;
  bias: Variable | undefined;
  readonly forgetBias: number;
  readonly stateIsTuple: boolean;
  private readonly activation: RNNActivation;

  constructor(
    readonly numUnits: number,
    private readonly opts: BasicLSTMCellOptions = {},
  ) {
    super('basic_lstm_cell');
    checkUnits(numUnits, 'BasicLSTMCell');
    this.forgetBias = opts.forgetBias ?? 1.0;
    this.stateIsTuple = opts.stateIsTuple ?? true;
    this.activation = opts.activation ?? ((x) => tanh(x));
  }

  get stateSize(): StateSize {
    return this.stateIsTuple ? LSTMStateTuple(this.numUnits, this.numUnits) : 2 * this.numUnits;
  }
  get outputSize(): number {
    return this.numUnits;
  }

  protected build(depth: number, dtype: DType): void {
    const n = this.numUnits;
    this.kernel = getVariable('kernel', { shape: [depth + n, 4 * n], dtype, initializer: this.opts.kernelInitializer });
    this.bias = getVariable('bias', { shape: [4 * n], dtype, initializer: zerosInitializer() });
  }

  protected step(inputs: Tensor, state: RNNState): [Tensor, RNNState] {
    let c: Tensor;
    let h: Tensor;
    if (this.stateIsTuple) {
      if (state instanceof Tensor || Array.isArray(state)) throw new ValueError('BasicLSTMCell: with stateIsTuple, the state must be an LSTMStateTuple {c, h}');
      ({ c, h } = state);
    } else {
      [c, h] = split(asTensor(state, 'BasicLSTMCell'), 2, 1);
    }
    const [i, j, f, o] = split(linear([inputs, h], this.kernel!, this.bias!), 4, 1) as [Tensor, Tensor, Tensor, Tensor];
    const forget = constant(this.forgetBias, f.dtype);
    const newC = add(multiply(c, sigmoid(add(f, forget))), multiply(sigmoid(i), this.activation(j)));
    const newH = multiply(this.activation(newC), sigmoid(o));
    return [newH, this.stateIsTuple ? LSTMStateTuple(newC, newH) : concat([newC, newH], 1)];
  }
}

export interface LSTMCellOptions {
  /** Diagonal (peephole) connections from c to the gates (default false). */
  usePeepholes?: boolean;
  /** c is clipped to [-cellClip, cellClip] after its update. */
  cellClip?: number;
  /** The output m is projected to this size by projection/kernel (no bias). */
  numProj?: number;
  /** With numProj, m is clipped to [-projClip, projClip] after the projection. */
  projClip?: number;
  /** Added to the forget gate's pre-activation (default 1.0). */
  forgetBias?: number;
  /** State as LSTMStateTuple {c, h: m} (default true), else c and m concatenated along axis 1. */
  stateIsTuple?: boolean;
  /** The initializer of the kernel, the peepholes and the projection (default glorot uniform). */
  initializer?: Initializer;
  /** Default tanh. */
  activation?: RNNActivation;
}

/**
 * TF's LSTMCell (peepholes, cell clipping, projection). [i, j, f, o] = split(W·[x, m] + b, 4);
 * c' = sigmoid(f + forgetBias + w_f∘c)∘c + sigmoid(i + w_i∘c)∘act(j) (peephole terms only with
 * usePeepholes), clipped to ±cellClip; m' = sigmoid(o + w_o∘c')∘act(c'), then m'·P (numProj) clipped
 * to ±projClip. Variables lstm_cell/kernel [in + (numProj ?? units), 4*units], lstm_cell/bias
 * [4*units], lstm_cell/w_f_diag|w_i_diag|w_o_diag [units], lstm_cell/projection/kernel [units, numProj].
 */
export class LSTMCell extends RNNCell {
  kernel: Variable | undefined;
  bias: Variable | undefined;
  wFDiag: Variable | undefined;
  wIDiag: Variable | undefined;
  wODiag: Variable | undefined;
  projKernel: Variable | undefined;
  readonly usePeepholes: boolean;
  readonly cellClip: number | undefined;
  readonly numProj: number | undefined;
  readonly projClip: number | undefined;
  readonly forgetBias: number;
  readonly stateIsTuple: boolean;
  private readonly activation: RNNActivation;

  constructor(
    readonly numUnits: number,
    private readonly opts: LSTMCellOptions = {},
  ) {
    super('lstm_cell');
    checkUnits(numUnits, 'LSTMCell');
    if (opts.numProj !== undefined && opts.numProj !== null) checkUnits(opts.numProj, 'LSTMCell (numProj)');
    this.usePeepholes = opts.usePeepholes ?? false;
    this.cellClip = opts.cellClip ?? undefined;
    this.numProj = opts.numProj ?? undefined;
    this.projClip = opts.projClip ?? undefined;
    this.forgetBias = opts.forgetBias ?? 1.0;
    this.stateIsTuple = opts.stateIsTuple ?? true;
    this.activation = opts.activation ?? ((x) => tanh(x));
  }

  get stateSize(): StateSize {
    const m = this.numProj ?? this.numUnits;
    return this.stateIsTuple ? LSTMStateTuple(this.numUnits, m) : this.numUnits + m;
  }
  get outputSize(): number {
    return this.numProj ?? this.numUnits;
  }

  protected build(depth: number, dtype: DType): void {
    const n = this.numUnits;
    const init = this.opts.initializer;
    this.kernel = getVariable('kernel', { shape: [depth + (this.numProj ?? n), 4 * n], dtype, initializer: init });
    this.bias = getVariable('bias', { shape: [4 * n], dtype, initializer: zerosInitializer() });
    if (this.usePeepholes) {
      this.wFDiag = getVariable('w_f_diag', { shape: [n], dtype, initializer: init });
      this.wIDiag = getVariable('w_i_diag', { shape: [n], dtype, initializer: init });
      this.wODiag = getVariable('w_o_diag', { shape: [n], dtype, initializer: init });
    }
    if (this.numProj !== undefined) {
      this.projKernel = variableScope('projection', () => getVariable('kernel', { shape: [n, this.numProj!], dtype, initializer: init }));
    }
  }

  protected step(inputs: Tensor, state: RNNState): [Tensor, RNNState] {
    let c: Tensor;
    let m: Tensor;
    if (this.stateIsTuple) {
      if (state instanceof Tensor || Array.isArray(state)) throw new ValueError('LSTMCell: with stateIsTuple, the state must be an LSTMStateTuple {c, h}');
      ({ c, h: m } = state);
    } else {
      [c, m] = split(asTensor(state, 'LSTMCell'), [this.numUnits, this.numProj ?? this.numUnits], 1) as [Tensor, Tensor];
    }
    const [i, j, f, o] = split(linear([inputs, m], this.kernel!, this.bias!), 4, 1) as [Tensor, Tensor, Tensor, Tensor];
    const forget = constant(this.forgetBias, f.dtype);
    let newC: Tensor;
    if (this.usePeepholes) {
      newC = add(
        multiply(sigmoid(add(add(f, forget), multiply(this.wFDiag!, c))), c),
        multiply(sigmoid(add(i, multiply(this.wIDiag!, c))), this.activation(j)),
      );
    } else {
      newC = add(multiply(sigmoid(add(f, forget)), c), multiply(sigmoid(i), this.activation(j)));
    }
    if (this.cellClip !== undefined) newC = clipByValue(newC, -this.cellClip, this.cellClip);
    let newM = this.usePeepholes
      ? multiply(sigmoid(add(o, multiply(this.wODiag!, newC))), this.activation(newC))
      : multiply(sigmoid(o), this.activation(newC));
    if (this.numProj !== undefined) {
      newM = matmul(newM, this.projKernel!);
      if (this.projClip !== undefined) newM = clipByValue(newM, -this.projClip, this.projClip);
    }
    return [newM, this.stateIsTuple ? LSTMStateTuple(newC, newM) : concat([newC, newM], 1)];
  }
}

export interface GRUCellOptions {
  /** Default tanh (the candidate's activation). */
  activation?: RNNActivation;
  kernelInitializer?: Initializer;
  /** Default: gates/bias 1.0, candidate/bias 0. */
  biasInitializer?: Initializer;
}

/**
 * TF's GRUCell: [r, u] = split(sigmoid(W_g·[x, h] + b_g), 2); c = act(W_c·[x, r*h] + b_c);
 * h' = u*h + (1-u)*c. Variables gru_cell/gates/{kernel,bias} and gru_cell/candidate/{kernel,bias}.
 */
export class GRUCell extends RNNCell {
  gateKernel: Variable | undefined;
  gateBias: Variable | undefined;
  candidateKernel: Variable | undefined;
  candidateBias: Variable | undefined;
  private readonly activation: RNNActivation;

  constructor(
    readonly numUnits: number,
    private readonly opts: GRUCellOptions = {},
  ) {
    super('gru_cell');
    checkUnits(numUnits, 'GRUCell');
    this.activation = opts.activation ?? ((x) => tanh(x));
  }

  get stateSize(): number {
    return this.numUnits;
  }
  get outputSize(): number {
    return this.numUnits;
  }

  protected build(depth: number, dtype: DType): void {
    const n = this.numUnits;
    const { kernelInitializer: ki, biasInitializer: bi } = this.opts;
    this.gateKernel = getVariable('gates/kernel', { shape: [depth + n, 2 * n], dtype, initializer: ki });
    this.gateBias = getVariable('gates/bias', { shape: [2 * n], dtype, initializer: bi ?? constantInitializer(1.0) });
    this.candidateKernel = getVariable('candidate/kernel', { shape: [depth + n, n], dtype, initializer: ki });
    this.candidateBias = getVariable('candidate/bias', { shape: [n], dtype, initializer: bi ?? zerosInitializer() });
  }

  protected step(inputs: Tensor, state: RNNState): [Tensor, RNNState] {
    const h = asTensor(state, 'GRUCell');
    const value = sigmoid(linear([inputs, h], this.gateKernel!, this.gateBias!));
    const [r, u] = split(value, 2, 1) as [Tensor, Tensor];
    const c = this.activation(linear([inputs, multiply(r, h)], this.candidateKernel!, this.candidateBias!));
    const newH = add(multiply(u, h), multiply(subtract(constant(1, u.dtype), u), c));
    return [newH, newH];
  }
}

// ---------------------------------------------------------------------------------------------
// Fused cells (tf.contrib.rnn's LSTMBlockCell and GRUBlockCell): one op per step.

/** The outputs of one LSTMBlockCell op: the gates after their activations, the cell state and h. */
export interface LSTMBlockCellOutputs {
  /** Input gate. */
  i: Tensor;
  /** Cell state (clipped when cellClip > 0). */
  cs: Tensor;
  /** Forget gate. */
  f: Tensor;
  /** Output gate. */
  o: Tensor;
  /** Cell input: tanh of its pre-activation. */
  ci: Tensor;
  /** tanh(cs). */
  co: Tensor;
  /** Output: co * o. */
  h: Tensor;
}

export interface LSTMBlockCellOpOptions {
  /** Peephole weights [units] (default zeros; read only with usePeephole). */
  wci?: TensorLike;
  wcf?: TensorLike;
  wco?: TensorLike;
  /** Added to the forget gate's pre-activation (default 1). */
  forgetBias?: number;
  /** cs is clipped to [-cellClip, cellClip] when positive (default -1: none). */
  cellClip?: number;
  usePeephole?: boolean;
  name?: string;
}

/**
 * One LSTMBlockCell op (TF's _lstm_block_cell): [i, ci, f, o] = [x, h_prev]·w + b; i = σ(i + cs_prev∘wci),
 * f = σ(f + forgetBias + cs_prev∘wcf), ci = tanh(ci), cs = clip(ci∘i + cs_prev∘f), o = σ(o + cs∘wco),
 * co = tanh(cs), h = co∘o (peephole terms only with usePeephole).
 */
export function lstmBlockCell(x: TensorLike, csPrev: TensorLike, hPrev: TensorLike, w: TensorLike, b: TensorLike, opts: LSTMBlockCellOpOptions = {}): LSTMBlockCellOutputs {
  const g = graphOf([x, csPrev, hPrev, w, b]);
  return g.asDefault(() => lstmBlockCellIn(g, x, csPrev, hPrev, w, b, opts));
}

function lstmBlockCellIn(g: Graph, x: TensorLike, csPrev: TensorLike, hPrev: TensorLike, w: TensorLike, b: TensorLike, opts: LSTMBlockCellOpOptions): LSTMBlockCellOutputs {
  const xt = convertToTensor(x, undefined, 'x');
  const cs0 = convertToTensor(csPrev, xt.dtype, 'cs_prev');
  const cell = cs0.shape?.[1];
  const peep = (v: TensorLike | undefined, what: string): Tensor => {
    if (v !== undefined) return convertToTensor(v, xt.dtype, what);
    if (typeof cell !== 'number') throw new ValueError('lstmBlockCell: cell_size from `cs_prev` should not be None.');
    return zeros([cell], xt.dtype);
  };
  const wci = peep(opts.wci, 'wci');
  const wcf = opts.wcf === undefined && opts.wci === undefined ? wci : peep(opts.wcf, 'wcf');
  const wco = opts.wco === undefined && opts.wci === undefined ? wci : peep(opts.wco, 'wco');
  const inputs = [xt, cs0, convertToTensor(hPrev, xt.dtype, 'h_prev'), convertToTensor(w, xt.dtype, 'w'), wci, wcf, wco, convertToTensor(b, xt.dtype, 'b')];
  const attrs = { forget_bias: opts.forgetBias ?? 1, cell_clip: opts.cellClip ?? -1, use_peephole: opts.usePeephole ?? false, T: xt.dtype };
  const op = g.createOp('LSTMBlockCell', inputs, attrs, { name: opts.name });
  const [i, cs, f, o, ci, co, h] = op.outputs as Tensor[];
  return { i: i!, cs: cs!, f: f!, o: o!, ci: ci!, co: co!, h: h! };
}

/** The outputs of one GRUBlockCell op. */
export interface GRUBlockCellOutputs {
  /** Reset gate. */
  r: Tensor;
  /** Update gate. */
  u: Tensor;
  /** Candidate: tanh([x, h_prev∘r]·w_c + b_c). */
  c: Tensor;
  /** New state: (1 - u)∘c + u∘h_prev. */
  h: Tensor;
}

/** One GRUBlockCell op: [r, u] = σ([x, h_prev]·w_ru + b_ru); c = tanh([x, h_prev∘r]·w_c + b_c); h = (1-u)∘c + u∘h_prev. */
export function gruBlockCell(x: TensorLike, hPrev: TensorLike, wRu: TensorLike, wC: TensorLike, bRu: TensorLike, bC: TensorLike, opts: { name?: string } = {}): GRUBlockCellOutputs {
  const g = graphOf([x, hPrev, wRu, wC, bRu, bC]);
  return g.asDefault(() => {
    const xt = convertToTensor(x, undefined, 'x');
    const inputs = [xt, ...([[hPrev, 'h_prev'], [wRu, 'w_ru'], [wC, 'w_c'], [bRu, 'b_ru'], [bC, 'b_c']] as const).map(([v, n]) => convertToTensor(v, xt.dtype, n))];
    const [r, u, c, h] = g.createOp('GRUBlockCell', inputs, { T: xt.dtype }, { name: opts.name }).outputs as Tensor[];
    return { r: r!, u: u!, c: c!, h: h! };
  });
}

export interface LSTMBlockCellOptions {
  /** Added to the forget gate's pre-activation (default 1.0). */
  forgetBias?: number;
  /** The cell state is clipped to [-cellClip, cellClip] (default: no clipping, TF's None). */
  cellClip?: number;
  /** Diagonal (peephole) connections w_i_diag, w_f_diag, w_o_diag (default false). */
  usePeephole?: boolean;
  /** The variable scope's name (default 'lstm_cell', made unique unless reuse). */
  name?: string;
  /** Look the variables up in the scope `name` instead of creating them. */
  reuse?: boolean;
}

/**
 * tf.contrib.rnn.LSTMBlockCell: BasicLSTMCell's equations (gates i, j, f, o) with optional peepholes
 * and cell clipping, one LSTMBlockCell op per step. Variables lstm_cell/kernel [in+units, 4*units],
 * lstm_cell/bias [4*units] and, with peepholes, lstm_cell/w_i_diag|w_f_diag|w_o_diag [units], as
 * TF names them (LSTMCell's names). The state is an LSTMStateTuple.
 */
export class LSTMBlockCell extends RNNCell {
  kernel: Variable | undefined;
  bias: Variable | undefined;
  wIDiag: Variable | undefined;
  wFDiag: Variable | undefined;
  wODiag: Variable | undefined;
  readonly forgetBias: number;
  readonly cellClip: number;
  readonly usePeephole: boolean;

  constructor(
    readonly numUnits: number,
    opts: LSTMBlockCellOptions = {},
  ) {
    super(opts.name ?? 'lstm_cell');
    checkUnits(numUnits, 'LSTMBlockCell');
    this.forgetBias = opts.forgetBias ?? 1.0;
    this.cellClip = opts.cellClip ?? -1;
    this.usePeephole = opts.usePeephole ?? false;
    this.reuse = opts.reuse ?? false;
  }

  get stateSize(): LSTMStateTuple<number> {
    return LSTMStateTuple(this.numUnits, this.numUnits);
  }
  get outputSize(): number {
    return this.numUnits;
  }

  protected build(depth: number, dtype: DType): void {
    const n = this.numUnits;
    this.kernel = getVariable('kernel', { shape: [depth + n, 4 * n], dtype });
    this.bias = getVariable('bias', { shape: [4 * n], dtype, initializer: constantInitializer(0) });
    if (this.usePeephole) {
      this.wIDiag = getVariable('w_i_diag', { shape: [n], dtype });
      this.wFDiag = getVariable('w_f_diag', { shape: [n], dtype });
      this.wODiag = getVariable('w_o_diag', { shape: [n], dtype });
    }
  }

  protected step(inputs: Tensor, state: RNNState): [Tensor, RNNState] {
    if (state instanceof Tensor || Array.isArray(state)) throw new ValueError('LSTMBlockCell: expecting the state to be an LSTMStateTuple {c, h}');
    const peep = this.usePeephole ? { wci: this.wIDiag!, wcf: this.wFDiag!, wco: this.wODiag! } : { wci: zeros([this.numUnits], inputs.dtype) };
    const { cs, h } = lstmBlockCell(inputs, state.c, state.h, this.kernel!, this.bias!, {
      ...peep,
      forgetBias: this.forgetBias,
      cellClip: this.cellClip,
      usePeephole: this.usePeephole,
    });
    return [h, LSTMStateTuple(cs, h)];
  }
}

export interface GRUBlockCellOptions {
  /** The variable scope's name (default 'gru_cell', made unique unless reuse). */
  name?: string;
  /** Look the variables up in the scope `name` instead of creating them. */
  reuse?: boolean;
}

/**
 * tf.contrib.rnn.GRUBlockCell: GRUCell's equations, one GRUBlockCell op per step. Variables
 * gru_cell/w_ru [in+units, 2*units] (gates r, u), gru_cell/b_ru (ones), gru_cell/w_c [in+units,
 * units] and gru_cell/b_c (zeros), as TF names them; GRUBlockCellV2 uses GRUCell's names.
 */
export class GRUBlockCell extends RNNCell {
  gateKernel: Variable | undefined;
  gateBias: Variable | undefined;
  candidateKernel: Variable | undefined;
  candidateBias: Variable | undefined;
  /** The variables' names: w_ru, b_ru, w_c, b_c. */
  protected readonly names: readonly [string, string, string, string] = ['w_ru', 'b_ru', 'w_c', 'b_c'];

  constructor(
    readonly numUnits: number,
    opts: GRUBlockCellOptions = {},
  ) {
    super(opts.name ?? 'gru_cell');
    checkUnits(numUnits, this.constructor.name);
    this.reuse = opts.reuse ?? false;
  }

  get stateSize(): number {
    return this.numUnits;
  }
  get outputSize(): number {
    return this.numUnits;
  }

  protected build(depth: number, dtype: DType): void {
    const n = this.numUnits;
    const [wRu, bRu, wC, bC] = this.names;
    this.gateKernel = getVariable(wRu, { shape: [depth + n, 2 * n], dtype });
    this.gateBias = getVariable(bRu, { shape: [2 * n], dtype, initializer: constantInitializer(1.0) });
    this.candidateKernel = getVariable(wC, { shape: [depth + n, n], dtype });
    this.candidateBias = getVariable(bC, { shape: [n], dtype, initializer: constantInitializer(0.0) });
  }

  protected step(inputs: Tensor, state: RNNState): [Tensor, RNNState] {
    const hPrev = asTensor(state, this.constructor.name);
    const cell = hPrev.shape?.[1];
    if (typeof cell === 'number' && cell !== this.numUnits) {
      throw new ValueError(`${this.constructor.name}: Shape of h_prev[1] incorrect: cell_size ${this.numUnits} vs ${cell}`);
    }
    const { h } = gruBlockCell(inputs, hPrev, this.gateKernel!, this.candidateKernel!, this.gateBias!, this.candidateBias!);
    return [h, h];
  }
}

/** tf.contrib.rnn.GRUBlockCellV2: GRUBlockCell with GRUCell's variable names (gates/kernel, gates/bias, candidate/kernel, candidate/bias). */
export class GRUBlockCellV2 extends GRUBlockCell {
  protected override readonly names: readonly [string, string, string, string] = ['gates/kernel', 'gates/bias', 'candidate/kernel', 'candidate/bias'];
}

/** TF's MultiRNNCell: cells stacked, cell i's variables under multi_rnn_cell/cell_i/; the state a list. */
export class MultiRNNCell extends RNNCell {
  constructor(readonly cells: readonly RNNCell[]) {
    super('multi_rnn_cell');
    if (cells.length === 0) throw new ValueError('MultiRNNCell: must specify at least one cell');
  }

  get stateSize(): StateSize[] {
    return this.cells.map((c) => c.stateSize);
  }
  get outputSize(): number {
    return this.cells[this.cells.length - 1]!.outputSize;
  }

  protected build(): void {}

  override call(inputs: TensorLike, state: RNNState): [Tensor, RNNState] {
    let x = convertToTensor(inputs);
    if (!Array.isArray(state) || state.length !== this.cells.length) {
      throw new ValueError(`MultiRNNCell: expected a state list of ${this.cells.length} states`);
    }
    const run = (): [Tensor, RNNState] => {
      const newStates: RNNState[] = [];
      this.cells.forEach((cell, i) => {
        const step = (): void => {
          const [out, s] = cell.call(x, state[i]!);
          x = out;
          newStates.push(s);
        };
        // Sub-cells build inside cell_i the first time; later calls reuse their variables.
        if (this.built) step();
        else variableScope(`cell_${i}`, step);
      });
      return [x, newStates];
    };
    if (this.built) return run();
    return variableScope(null, { defaultName: this.baseName }, (scope) => {
      this.scopeName = scope.name;
      const r = run();
      this.built = true;
      return r;
    });
  }

  protected step(): [Tensor, RNNState] {
    throw new Error('unreachable');
  }
}

// ---------------------------------------------------------------------------------------------
// Wrappers

/**
 * The base of TF's DropoutWrapper and ResidualWrapper (_RNNCellWrapperV1): no variable scope of its
 * own, so the wrapped cell's variables keep their names (rnn/basic_lstm_cell/kernel).
 */
abstract class TransparentWrapper extends RNNCell {
  constructor(
    readonly cell: RNNCell,
    baseName: string,
  ) {
    super(baseName);
  }
  get stateSize(): StateSize {
    return this.cell.stateSize;
  }
  get outputSize(): number {
    return this.cell.outputSize;
  }
  override zeroState(batchSize: BatchSize, dtype: DType = 'float32'): RNNState {
    return this.cell.zeroState(batchSize, dtype);
  }
  protected build(): void {}
  protected step(): [Tensor, RNNState] {
    throw new Error('unreachable');
  }
}

/** A keep probability: a JS number in (0, 1] or a scalar float tensor (a placeholder switches train/eval). */
export type KeepProb = number | Tensor;

export interface DropoutWrapperOptions {
  /** Dropout on the cell's inputs (default 1: none). */
  inputKeepProb?: KeepProb;
  /** Dropout on the cell's outputs (default 1: none). */
  outputKeepProb?: KeepProb;
  /** Dropout on the new state (default 1: none); as TF's default filter, an LSTMStateTuple's c is never dropped. */
  stateKeepProb?: KeepProb;
  /** The op seed of the input dropout; output and state use seed + 1 and seed + 2. */
  seed?: number;
}

/**
 * TF's DropoutWrapper (not variational): tf.nn.dropout of the inputs, the outputs and the new state
 * (all but LSTMStateTuple c parts) wherever the keep probability is a tensor or a number below 1.
 */
export class DropoutWrapper extends TransparentWrapper {
  readonly inputKeepProb: KeepProb;
  readonly outputKeepProb: KeepProb;
  readonly stateKeepProb: KeepProb;

  constructor(cell: RNNCell, private readonly opts: DropoutWrapperOptions = {}) {
    super(cell, 'dropout_wrapper');
    const check = (p: KeepProb | undefined, what: string): KeepProb => {
      if (p === undefined) return 1;
      if (typeof p === 'number' && !(p > 0 && p <= 1)) throw new ValueError(`DropoutWrapper: Parameter ${what} must be between 0 and 1: ${p}`);
      return p;
    };
    this.inputKeepProb = check(opts.inputKeepProb, 'input_keep_prob');
    this.outputKeepProb = check(opts.outputKeepProb, 'output_keep_prob');
    this.stateKeepProb = check(opts.stateKeepProb, 'state_keep_prob');
  }

  private drop(x: Tensor, keep: KeepProb, salt: number): Tensor {
    if (typeof keep === 'number' && keep >= 1) return x;
    return dropout(x, { keepProb: keep, seed: this.opts.seed === undefined ? undefined : this.opts.seed + salt });
  }

  private dropState(s: RNNState): RNNState {
    if (s instanceof Tensor) return this.drop(s, this.stateKeepProb, 2);
    if (Array.isArray(s)) return s.map((e) => this.dropState(e));
    return LSTMStateTuple(s.c, this.drop(s.h, this.stateKeepProb, 2));
  }

  override call(inputs: TensorLike, state: RNNState): [Tensor, RNNState] {
    const x = this.drop(convertToTensor(inputs), this.inputKeepProb, 0);
    const [out, newState] = this.cell.call(x, state);
    this.built = true;
    this.scopeName = this.cell.scopeName;
    return [this.drop(out, this.outputKeepProb, 1), this.dropState(newState)];
  }
}

/** TF's ResidualWrapper: output = inputs + cell output (the sizes must match); the state is the cell's. */
export class ResidualWrapper extends TransparentWrapper {
  constructor(cell: RNNCell) {
    super(cell, 'residual_wrapper');
  }

  override call(inputs: TensorLike, state: RNNState): [Tensor, RNNState] {
    const x = convertToTensor(inputs);
    const [out, newState] = this.cell.call(x, state);
    if (x.shape !== null && out.shape !== null && x.shape[1] !== null && out.shape[1] !== null && x.shape[1] !== out.shape[1]) {
      throw new ValueError(`ResidualWrapper: the inputs (depth ${x.shape[1]}) and the cell's outputs (depth ${out.shape[1]}) must have the same size`);
    }
    this.built = true;
    this.scopeName = this.cell.scopeName;
    const r = add(x, out);
    r.setShape(out.shape);
    return [r, newState];
  }
}

/**
 * TF's OutputProjectionWrapper: the cell's output times output_projection_wrapper/kernel
 * [cell output, outputSize] plus output_projection_wrapper/bias [outputSize]; the wrapped cell's
 * variables live under output_projection_wrapper/ (it is a layer with its own scope, as in TF).
 */
export class OutputProjectionWrapper extends RNNCell {
  kernel: Variable | undefined;
  bias: Variable | undefined;

  constructor(
    readonly cell: RNNCell,
    private readonly projSize: number,
  ) {
    super('output_projection_wrapper');
    checkUnits(projSize, 'OutputProjectionWrapper (outputSize)');
  }

  get stateSize(): StateSize {
    return this.cell.stateSize;
  }
  get outputSize(): number {
    return this.projSize;
  }

  protected build(): void {}
  protected step(): [Tensor, RNNState] {
    throw new Error('unreachable');
  }

  override call(inputs: TensorLike, state: RNNState): [Tensor, RNNState] {
    const x = convertToTensor(inputs);
    if (this.built) {
      const [out, newState] = this.cell.call(x, state);
      return [biasAdd(matmul(out, this.kernel!), this.bias!), newState];
    }
    return variableScope(null, { defaultName: this.baseName }, (scope) => {
      this.scopeName = scope.name;
      const [out, newState] = this.cell.call(x, state);
      const depth = depthOf(out, 'OutputProjectionWrapper');
      this.kernel = getVariable('kernel', { shape: [depth, this.projSize], dtype: out.dtype });
      this.bias = getVariable('bias', { shape: [this.projSize], dtype: out.dtype, initializer: zerosInitializer() });
      this.built = true;
      return [biasAdd(matmul(out, this.kernel), this.bias), newState] as [Tensor, RNNState];
    });
  }
}

function checkUnits(n: number, who: string): void {
  if (!Number.isInteger(n) || n <= 0) throw new ValueError(`${who}: numUnits must be a positive integer, got ${n}`);
}

function asTensor(state: RNNState, who: string): Tensor {
  if (!(state instanceof Tensor)) throw new ValueError(`${who}: the state must be a single tensor`);
  return state;
}

// ---------------------------------------------------------------------------------------------
// dynamicRnn / staticRnn

export interface DynamicRnnOptions {
  /** [batch] int: steps past a sequence's length output zeros and keep its state. */
  sequenceLength?: TensorLike;
  initialState?: RNNState;
  /** The state's dtype when no initialState is given. */
  dtype?: DType;
  /** Inputs (and outputs) are [time, batch, depth] instead of [batch, time, depth]. */
  timeMajor?: boolean;
  parallelIterations?: number;
  swapMemory?: boolean;
  /** The variable scope (default 'rnn'). */
  scope?: string;
}

/** A state structure's leaves, and a rebuild from new leaves. */
function stateLeaves(s: RNNState): Tensor[] {
  return flatten(s) as Tensor[];
}

/**
 * The per-batch selection of TF's _rnn_step: rows whose sequence has ended (time >= length) get a
 * zero output and their previous state.
 */
function maskStep(done: Tensor, output: Tensor, newState: RNNState, oldState: RNNState): [Tensor, RNNState] {
  const m = expandDims(done, 1);
  const out = where(m, constant(0, output.dtype), output);
  const olds = stateLeaves(oldState);
  const news = stateLeaves(newState).map((t, k) => {
    const r = where(m, olds[k]!, t);
    r.setShape(t.shape);
    return r;
  });
  out.setShape(output.shape);
  return [out, packSequenceAs<RNNState>(newState, news)];
}


function dimOf(x: Tensor, axis: number): number | Tensor {
  const d = x.shape?.[axis];
  if (typeof d === 'number') return d;
  return stridedSlice(shapeOf(x, 'int32'), [axis], [axis + 1], [1], { shrinkAxisMask: 1 });
}

function seqLengthTensor(sequenceLength: TensorLike): Tensor {
  let s = convertToTensor(sequenceLength, undefined, 'sequence_length');
  if (s.dtype !== 'int32') s = cast(s, 'int32');
  if (s.shape !== null && s.shape.length !== 1) throw new ValueError(`sequenceLength must be a vector of length batch_size, but saw shape: [${s.shape.map(String)}]`);
  return identity(s, 'sequence_length');
}

function initialStateOf(cell: RNNCell, batch: number | Tensor, opts: { initialState?: RNNState; dtype?: DType }, who: string): RNNState {
  if (opts.initialState !== undefined) return opts.initialState;
  if (!opts.dtype) throw new ValueError(`${who}: if there is no initialState, you must give a dtype.`);
  return cell.zeroState(batch, opts.dtype);
}

/**
 * tf.nn.dynamic_rnn: runs `cell` over the time axis of `inputs` with a whileLoop over TensorArrays.
 * Returns [outputs, finalState]; outputs are [batch, time, units] (time-major with timeMajor).
 */
export function dynamicRnn(cell: RNNCell, inputs: TensorLike, opts: DynamicRnnOptions = {}): [Tensor, RNNState] {
  return variableScope(opts.scope ?? 'rnn', () => {
    let x = convertToTensor(inputs, undefined, 'inputs');
    if (x.shape !== null && x.shape.length !== 3) throw new ValueError(`dynamicRnn: inputs must have rank 3, got shape [${x.shape.map(String)}]`);
    if (!opts.timeMajor) x = transpose(x, [1, 0, 2]);
    const timeSteps = dimOf(x, 0);
    const batch = dimOf(x, 1);
    const depth = x.shape?.[2] ?? null;
    const seqLen = opts.sequenceLength === undefined || opts.sequenceLength === null ? undefined : seqLengthTensor(opts.sequenceLength);
    const state0 = initialStateOf(cell, batch, opts, 'dynamicRnn');
    const staticBatch = typeof batch === 'number' ? batch : null;

    const n = typeof timeSteps === 'number' ? constant(timeSteps, 'int32', undefined, 'time_steps') : timeSteps;
    const inputTa = new TensorArray(x.dtype, { size: n, elementShape: [staticBatch, depth], name: 'input_ta' }).unstack(x);
    const outputTa0 = new TensorArray(x.dtype, { size: n, elementShape: [staticBatch, cell.outputSize], name: 'output_ta' });
    const time0 = constant(0, 'int32', undefined, 'time');

    const [, outputTa, finalState] = whileLoop(
      (time: Tensor) => less(time, n),
      (time: Tensor, ta: TensorArray, state: RNNState) => {
        const xt = inputTa.read(time);
        xt.setShape([staticBatch, depth]);
        let [out, newState] = cell.call(xt, state);
        if (seqLen) [out, newState] = maskStep(greaterEqual(time, seqLen), out, newState, state);
        return [add(time, 1), ta.write(time, out), newState];
      },
      [time0, outputTa0, state0],
      { maximumIterations: n, parallelIterations: opts.parallelIterations ?? 32, swapMemory: opts.swapMemory },
    ) as [Tensor, TensorArray, RNNState];

    let outputs = outputTa.stack();
    outputs.setShape([typeof timeSteps === 'number' ? timeSteps : null, staticBatch, cell.outputSize]);
    if (!opts.timeMajor) {
      outputs = transpose(outputs, [1, 0, 2]);
      outputs.setShape([staticBatch, typeof timeSteps === 'number' ? timeSteps : null, cell.outputSize]);
    }
    return [outputs, finalState];
  });
}

export interface StaticRnnOptions {
  initialState?: RNNState;
  dtype?: DType;
  /** [batch] int: steps past a sequence's length output zeros and keep its state. */
  sequenceLength?: TensorLike;
  /** The variable scope (default 'rnn'). */
  scope?: string;
}

/**
 * tf.nn.static_rnn: the cell applied to each [batch, depth] input of the list in turn (a JS loop,
 * unrolled in the graph). Returns [outputs (one per step), finalState].
 */
export function staticRnn(cell: RNNCell, inputs: readonly TensorLike[], opts: StaticRnnOptions = {}): [Tensor[], RNNState] {
  if (inputs.length === 0) throw new ValueError('staticRnn: inputs must not be empty');
  return variableScope(opts.scope ?? 'rnn', () => {
    const xs = inputs.map((v) => convertToTensor(v));
    const batch = dimOf(xs[0]!, 0);
    const seqLen = opts.sequenceLength === undefined || opts.sequenceLength === null ? undefined : seqLengthTensor(opts.sequenceLength);
    let state = initialStateOf(cell, batch, opts, 'staticRnn');
    const outputs: Tensor[] = [];
    xs.forEach((x, t) => {
      let [out, newState] = cell.call(x, state);
      if (seqLen) [out, newState] = maskStep(greaterEqual(constant(t, 'int32'), seqLen), out, newState, state);
      outputs.push(out);
      state = newState;
    });
    return [outputs, state];
  });
}

export interface BidirectionalDynamicRnnOptions {
  /** [batch] int: each sequence's length; the backward direction reverses each sequence within it. */
  sequenceLength?: TensorLike;
  initialStateFw?: RNNState;
  initialStateBw?: RNNState;
  dtype?: DType;
  timeMajor?: boolean;
  parallelIterations?: number;
  swapMemory?: boolean;
  /** The variable scope (default 'bidirectional_rnn'); the directions run in its fw/ and bw/. */
  scope?: string;
}

/**
 * tf.nn.bidirectional_dynamic_rnn: dynamicRnn(cellFw) on the inputs in <scope>/fw, dynamicRnn(cellBw)
 * on each sequence reversed within its length in <scope>/bw, whose outputs are reversed back.
 * Returns [[outputsFw, outputsBw], [stateFw, stateBw]].
 */
export function bidirectionalDynamicRnn(
  cellFw: RNNCell,
  cellBw: RNNCell,
  inputs: TensorLike,
  opts: BidirectionalDynamicRnnOptions = {},
): [[Tensor, Tensor], [RNNState, RNNState]] {
  return variableScope(opts.scope ?? 'bidirectional_rnn', () => {
    const x = convertToTensor(inputs, undefined, 'inputs');
    if (x.shape !== null && x.shape.length !== 3) throw new ValueError(`bidirectionalDynamicRnn: inputs must have rank 3, got shape [${x.shape.map(String)}]`);
    const seqLen = opts.sequenceLength === undefined || opts.sequenceLength === null ? undefined : seqLengthTensor(opts.sequenceLength);
    const common = { sequenceLength: seqLen, dtype: opts.dtype, timeMajor: opts.timeMajor, parallelIterations: opts.parallelIterations, swapMemory: opts.swapMemory };
    const [outFw, stateFw] = dynamicRnn(cellFw, x, { ...common, initialState: opts.initialStateFw, scope: 'fw' });
    // As TF: each sequence reversed within its length (ReverseSequence), or all of time (ReverseV2).
    const [timeAxis, batchAxis] = opts.timeMajor ? [0, 1] : [1, 0];
    const rev = (v: Tensor): Tensor =>
      seqLen ? reverseSequence(v, seqLen, { seqAxis: timeAxis, batchAxis }) : reverse(v, [timeAxis]);
    const [tmp, stateBw] = dynamicRnn(cellBw, rev(x), { ...common, initialState: opts.initialStateBw, scope: 'bw' });
    return [[outFw, rev(tmp)], [stateFw, stateBw]] as [[Tensor, Tensor], [RNNState, RNNState]];
  });
}
