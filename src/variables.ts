import type { DType } from './core/dtypes.js';
import { convertToTensor, graphOf, type TensorLike, type VariableLike } from './convert.js';
import { InvalidArgumentError } from './core/errors.js';
import { getDefaultGraph, GraphKeys, type EvalFeedValue, type Graph, type Operation, type Tensor } from './graph.js';
import type { Shape } from './core/shape.js';
import { TensorShape } from './core/tensor_shape.js';
import { sessionFor, type DefaultSession } from './core/default_session.js';
import type { NDArray } from './core/ndarray.js';
import { group } from './api/core.js';
import { initScopeGraph } from './func_graph.js';

export interface VariableOptions {
  name?: string;
  trainable?: boolean;
  dtype?: DType;
  validateShape?: boolean;
  /** Collections to add the variable to (default: GLOBAL_VARIABLES, plus TRAINABLE_VARIABLES if trainable). */
  collections?: string[];
}

/**
 * TF1's tf.Variable (a ref variable): a VariableV2 op named after the variable, an Assign initializer
 * `name/Assign`, and a snapshot `name/read` that ops read.
 */
export class Variable implements VariableLike {
  readonly isVariable = true as const;
  readonly op: Operation;
  readonly initializer: Operation;
  readonly initialValue: Tensor;
  readonly trainable: boolean;
  private readonly snapshot: Tensor;

  constructor(initialValue: TensorLike | (() => TensorLike), opts: VariableOptions = {}) {
    // Made in the outermost graph even inside a loop body or cond branch (TF's init_scope): a
    // variable outlives every iteration, and its initializer runs once, outside.
    const g = initScopeGraph(getDefaultGraph());
    this.trainable = opts.trainable ?? true;
    const validate = opts.validateShape ?? true;
    const built = g.asDefault(() => g.controlDependencies(null, () =>
      g.nameScope(opts.name ?? 'Variable', (scope) => {
        const init =
          typeof initialValue === 'function'
            ? g.nameScope('Initializer', () => convertToTensor(initialValue(), opts.dtype, 'initial_value'))
            : convertToTensor(initialValue, opts.dtype, 'initial_value');
        const shape: Shape = validate ? init.shape : null;
        const op = g.createOp('VariableV2', [], { shape, dtype: init.dtype, container: '', shared_name: '' }, { name: scope });
        const initializer = g.createOp(
          'Assign',
          [op.outputs[0]!, init],
          { T: init.dtype, validate_shape: validate, use_locking: true },
          { name: 'Assign' },
        );
        const snapshot = g.nameScope('read', () => g.createOp('Identity', [op.outputs[0]!], { T: init.dtype }, { name: (scope + 'read/') }).outputs[0]!);
        return { init, op, initializer, snapshot };
      }),
    ));
    this.initialValue = built.init;
    this.op = built.op;
    this.initializer = built.initializer;
    this.snapshot = built.snapshot;
    const collections = opts.collections ?? [GraphKeys.GLOBAL_VARIABLES];
    for (const c of collections) g.addToCollection(c, this);
    if (this.trainable && !collections.includes(GraphKeys.TRAINABLE_VARIABLES)) {
      g.addToCollection(GraphKeys.TRAINABLE_VARIABLES, this);
    }
  }

  /** 'W:0', as in TF. */
  get name(): string {
    return this.op.outputs[0]!.name;
  }
  get graph(): Graph {
    return this.op.graph;
  }
  get dtype(): DType {
    return this.op.outputs[0]!.dtype;
  }
  get shape(): Shape {
    return this.op.outputs[0]!.shape;
  }
  /** The static shape as TF1's TensorShape (see Tensor.getShape). */
  getShape(): TensorShape {
    return new TensorShape(this.shape);
  }
  /** TF1's Variable.eval: the variable's value, read in `session` or the default session. Async. */
  eval(session?: DefaultSession): Promise<NDArray> {
    return this.value().eval(undefined, session);
  }
  /**
   * TF1's Variable.load: writes `value` into the variable in `session` or the default session (runs
   * the initializer with its initial value fed), adding no ops to the graph. Async.
   */
  async load(value: EvalFeedValue, session?: DefaultSession): Promise<void> {
    const sess = sessionFor(this.graph, session, 'operation', (m) => new InvalidArgumentError(m));
    await sess.run(this.initializer, [[this.initializer.inputs[1]!, value]]);
  }
  /** The variable's reference tensor (the VariableV2 output), for ops that update it. */
  get ref(): Tensor {
    return this.op.outputs[0]!;
  }
  /** The value read by ops: the `name/read` snapshot. */
  value(): Tensor {
    return this.snapshot;
  }
  /** Alias of value() (TF's read_value creates a fresh Identity; a snapshot is equivalent here). */
  readValue(): Tensor {
    return this.snapshot;
  }
  assign(value: TensorLike, opts: { name?: string; validateShape?: boolean } = {}): Tensor {
    return assign(this, value, opts);
  }
  assignAdd(value: TensorLike, opts: { name?: string } = {}): Tensor {
    return assignAdd(this, value, opts);
  }
  assignSub(value: TensorLike, opts: { name?: string } = {}): Tensor {
    return assignSub(this, value, opts);
  }
  toString(): string {
    return `<tf.Variable '${this.name}' shape=${JSON.stringify(this.shape)} dtype=${this.dtype}>`;
  }
}

function refOf(ref: Variable | Tensor, opName: string): Tensor {
  if (ref instanceof Variable) return ref.ref;
  if (ref.op.type !== 'VariableV2') {
    throw new InvalidArgumentError(`${opName}: ref must be a Variable, got ${ref.name} (${ref.op.type})`);
  }
  return ref;
}

/** tf.assign(ref, value): an Assign op; returns the new value. */
export function assign(ref: Variable | Tensor, value: TensorLike, opts: { name?: string; validateShape?: boolean } = {}): Tensor {
  const r = refOf(ref, 'Assign');
  const v = convertToTensor(value, r.dtype);
  return graphOf([r]).createOp('Assign', [r, v], { T: r.dtype, validate_shape: opts.validateShape ?? true, use_locking: true }, { name: opts.name ?? 'Assign' }).outputs[0]!;
}

export function assignAdd(ref: Variable | Tensor, value: TensorLike, opts: { name?: string } = {}): Tensor {
  const r = refOf(ref, 'AssignAdd');
  const v = convertToTensor(value, r.dtype);
  return graphOf([r]).createOp('AssignAdd', [r, v], { T: r.dtype, use_locking: false }, { name: opts.name ?? 'AssignAdd' }).outputs[0]!;
}

export function assignSub(ref: Variable | Tensor, value: TensorLike, opts: { name?: string } = {}): Tensor {
  const r = refOf(ref, 'AssignSub');
  const v = convertToTensor(value, r.dtype);
  return graphOf([r]).createOp('AssignSub', [r, v], { T: r.dtype, use_locking: false }, { name: opts.name ?? 'AssignSub' }).outputs[0]!;
}

export interface ScatterOptions {
  useLocking?: boolean;
  name?: string;
}

/** TF1's tf.scatter_update / scatter_add / ...: updates rows `indices` of a variable in place, returns the variable's new value. */
function scatter(type: string, ref: Variable | Tensor, indices: TensorLike, updates: TensorLike, opts: ScatterOptions): Tensor {
  const r = refOf(ref, type);
  const i = convertToTensor(indices, typeof indices === 'number' || Array.isArray(indices) ? 'int32' : undefined, 'indices');
  const u = convertToTensor(updates, r.dtype, 'updates');
  return graphOf([r]).createOp(type, [r, i, u], { T: r.dtype, Tindices: i.dtype, use_locking: opts.useLocking ?? true }, { name: opts.name ?? type }).outputs[0]!;
}
export const scatterUpdate = (ref: Variable | Tensor, indices: TensorLike, updates: TensorLike, opts: ScatterOptions = {}): Tensor =>
  scatter('ScatterUpdate', ref, indices, updates, opts);
export const scatterAdd = (ref: Variable | Tensor, indices: TensorLike, updates: TensorLike, opts: ScatterOptions = {}): Tensor =>
  scatter('ScatterAdd', ref, indices, updates, { useLocking: false, ...opts });
export const scatterSub = (ref: Variable | Tensor, indices: TensorLike, updates: TensorLike, opts: ScatterOptions = {}): Tensor =>
  scatter('ScatterSub', ref, indices, updates, { useLocking: false, ...opts });
export const scatterMul = (ref: Variable | Tensor, indices: TensorLike, updates: TensorLike, opts: ScatterOptions = {}): Tensor =>
  scatter('ScatterMul', ref, indices, updates, { useLocking: false, ...opts });
export const scatterDiv = (ref: Variable | Tensor, indices: TensorLike, updates: TensorLike, opts: ScatterOptions = {}): Tensor =>
  scatter('ScatterDiv', ref, indices, updates, { useLocking: false, ...opts });
export const scatterMin = (ref: Variable | Tensor, indices: TensorLike, updates: TensorLike, opts: ScatterOptions = {}): Tensor =>
  scatter('ScatterMin', ref, indices, updates, { useLocking: false, ...opts });
export const scatterMax = (ref: Variable | Tensor, indices: TensorLike, updates: TensorLike, opts: ScatterOptions = {}): Tensor =>
  scatter('ScatterMax', ref, indices, updates, { useLocking: false, ...opts });

export function globalVariables(scope?: string): Variable[] {
  return getDefaultGraph().getCollection<Variable>(GraphKeys.GLOBAL_VARIABLES, scope);
}
/** Deprecated alias of globalVariables (TF1's tf.all_variables). */
export function allVariables(): Variable[] {
  return globalVariables();
}
export function trainableVariables(scope?: string): Variable[] {
  return getDefaultGraph().getCollection<Variable>(GraphKeys.TRAINABLE_VARIABLES, scope);
}
export function localVariables(scope?: string): Variable[] {
  return getDefaultGraph().getCollection<Variable>(GraphKeys.LOCAL_VARIABLES, scope);
}

export function variablesInitializer(varList: readonly Variable[], name = 'init'): Operation {
  return group(varList.map((v) => v.initializer), name);
}
export function globalVariablesInitializer(): Operation {
  return variablesInitializer(globalVariables(), 'init');
}
export function localVariablesInitializer(): Operation {
  return variablesInitializer(localVariables(), 'init');
}
