// TF1's recurrent API (tf.nn.rnn_cell, tf.nn.dynamic_rnn, tf.nn.static_rnn): BasicRNNCell,
// BasicLSTMCell, GRUCell and MultiRNNCell with TF 1.15's variable names, shapes and equations;
// dynamicRnn as a whileLoop over TensorArrays, staticRnn as a JS loop over time steps.
import { convertToTensor, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { Tensor } from '../graph.js';
import { constantInitializer, zerosInitializer, type Initializer } from '../initializers.js';
import type { Variable } from '../variables.js';
import { getVariable, ValueError, variableScope } from '../variable_scope.js';
import { concat, expandDims, shape as shapeOf, split, stridedSlice, transpose, zeros } from './array.js';
import { whileLoop } from './control_flow.js';
import { constant, identity } from './core.js';
import { add, cast, greaterEqual, less, matmul, multiply, sigmoid, subtract, tanh, where } from './math.js';
import { flatten, packSequenceAs } from './nest.js';
import { biasAdd } from './nn.js';
import { TensorArray } from './tensor_array.js';

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
      variableScope(null, { defaultName: this.baseName }, (scope) => {
        this.scopeName = scope.name;
        this.build(depthOf(x, this.constructor.name), x.dtype);
        this.built = true;
      });
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
