import type { DType, TypedArray } from './core/dtypes.js';
import { sessionFor, type DefaultSession } from './core/default_session.js';
import { InvalidArgumentError, NotFoundError, OpError } from './core/errors.js';
import { NDArray, type NestedArray } from './core/ndarray.js';
import { formatShape, mergeShapes, type Dim, type Shape } from './core/shape.js';
import { userSourceFile } from './core/platform.js';
import { TensorShape } from './core/tensor_shape.js';
import { getOpDef, knownOutput, type AbstractValue, type OpDef, type OutputSpec, type ShapeContext } from '../ops/registry.js';

export type AttrValue =
  | number
  | string
  | boolean
  | null
  | NDArray
  | Graph
  | readonly (number | null)[]
  | readonly string[]
  | readonly boolean[]
  | readonly (readonly (number | null)[] | null)[];

/** A value fed to eval()/run(): what Session.run's feedDict takes. */
export type EvalFeedValue = NDArray | NestedArray | TypedArray;
/**
 * The feeds of eval()/run() (Session's FeedDict, spelled here so the graph layer need not import the
 * session): a Map or [key, value] pairs keyed by tensors, variables or names.
 */
export type EvalFeedDict =
  | Map<Tensor | string, EvalFeedValue>
  | readonly (readonly [Tensor | { readonly isVariable: true } | string, EvalFeedValue])[];

/** A symbolic handle to one output of an operation. */
export class Tensor implements AbstractValue {
  private _shape: Shape;
  constructor(
    readonly op: Operation,
    readonly valueIndex: number,
    readonly dtype: DType,
    shape: Shape,
  ) {
    this._shape = shape === null ? null : [...shape];
  }
  get name(): string {
    return `${this.op.name}:${this.valueIndex}`;
  }
  get graph(): Graph {
    return this.op.graph;
  }
  /** Static shape; null dims are unknown until run time, null means unknown rank. */
  get shape(): Shape {
    return this._shape === null ? null : [...this._shape];
  }
  /**
   * Static shape as TF1's TensorShape (`asList()`, `ndims`, `numElements()`, `mergeWith()`...).
   * `shape` keeps giving the plain dims array weir's own code uses.
   */
  getShape(): TensorShape {
    return new TensorShape(this._shape);
  }
  get rank(): number | null {
    return this._shape === null ? null : this._shape.length;
  }
  /** Its value when known while building the graph (TF's constant_value): a constant, or what constants and static shapes determine. */
  get knownValue(): NDArray | undefined {
    return this.known().value;
  }
  /** A rank-0/1 integer tensor's elements as far as known while building (tf.shape(x) with an unknown batch: [null, 28, 28, 1]). */
  get knownElements(): readonly Dim[] | undefined {
    return this.known().elements;
  }
  private known(): { value: NDArray | undefined; elements: readonly Dim[] | undefined } {
    const op = this.op;
    return knownOutput(makeShapeContext(op.type, op.name, op.inputs, op.attrs as Record<string, AttrValue>, op.traceback), this.valueIndex, this);
  }
  /** Refines the static shape (TF's set_shape); throws if incompatible. */
  setShape(shape: Shape): void {
    this._shape = mergeShapes(this._shape, shape, `Tensor ${this.name}: shape`);
  }
  /** Operations that take this tensor as an input. */
  consumers(): Operation[] {
    return this.op.graph.consumersOf(this);
  }
  /**
   * TF1's Tensor.eval: runs the graph for this tensor's value in `session`, or in the default session
   * (`sess.asDefault(...)`, a tf.InteractiveSession). Async, as Session.run is.
   */
  async eval(feedDict?: EvalFeedDict, session?: DefaultSession): Promise<NDArray> {
    const sess = sessionFor(this.graph, session, 'tensor', (m) => new InvalidArgumentError(m));
    return (await sess.run(this, feedDict)) as NDArray;
  }
  toString(): string {
    return `Tensor("${this.name}", shape=${formatShape(this._shape)}, dtype=${this.dtype})`;
  }
}

/** A node of the graph: an op type, its inputs, attrs and outputs. */
export class Operation {
  readonly outputs: Tensor[];
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly name: string,
    readonly type: string,
    readonly inputs: readonly Tensor[],
    readonly controlInputs: readonly Operation[],
    readonly attrs: Readonly<Record<string, AttrValue>>,
    outputs: readonly OutputSpec[],
    /** Where the op was created (an Error whose stack is read only when needed). */
    readonly traceback: Error = new Error(),
  ) {
    this.outputs = outputs.map((o, i) => new Tensor(this, i, o.dtype, o.shape));
  }
  get def(): OpDef | undefined {
    return getOpDef(this.type);
  }
  getAttr<T = AttrValue>(name: string): T {
    if (!Object.hasOwn(this.attrs, name)) {
      throw new InvalidArgumentError(`Operation '${this.name}' (${this.type}) has no attr named '${name}'`, this.name);
    }
    return this.attrs[name] as T;
  }
  hasAttr(name: string): boolean {
    return Object.hasOwn(this.attrs, name);
  }
  /** "file:line" of the user code that created this op, when it can be told. */
  get createdAt(): string | undefined {
    return userFrame(this.traceback);
  }
  /**
   * TF1's Operation.run: runs this op in `session`, or in the default session (`sess.asDefault(...)`,
   * a tf.InteractiveSession). Async, as Session.run is.
   */
  async run(feedDict?: EvalFeedDict, session?: DefaultSession): Promise<void> {
    const sess = sessionFor(this.graph, session, 'operation', (m) => new InvalidArgumentError(m));
    await sess.run(this, feedDict);
  }
  toString(): string {
    return `Operation("${this.name}", type=${this.type})`;
  }
}

/**
 * The stack where an op is being created, deep enough to get past weir's own frames (tf.layers ->
 * tf.nn -> createOp is already more than V8's default of 10 frames).
 */
function creationTrace(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = Math.max(limit, 48);
  try {
    return new Error();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function userFrame(err: Error): string | undefined {
  const lines = (err.stack ?? '').split('\n').slice(1);
  for (const line of lines) {
    const m = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!m) continue;
    const file = userSourceFile(m[1]!);
    if (file !== undefined) return `${file}:${m[2]}`;
  }
  return undefined;
}

/** Describes an op for error messages: "MatMul op 'dense/MatMul' (created at model.ts:12)". */
export function describeOp(op: { type: string; name: string; createdAt?: string }): string {
  const where = op.createdAt;
  return `${op.type} op '${op.name}'${where ? ` (created at ${where})` : ''}`;
}

export const GraphKeys = {
  GLOBAL_VARIABLES: 'variables',
  LOCAL_VARIABLES: 'local_variables',
  METRIC_VARIABLES: 'metric_variables',
  MODEL_VARIABLES: 'model_variables',
  TRAINABLE_VARIABLES: 'trainable_variables',
  SUMMARIES: 'summaries',
  QUEUE_RUNNERS: 'queue_runners',
  TABLE_INITIALIZERS: 'table_initializer',
  ASSET_FILEPATHS: 'asset_filepaths',
  MOVING_AVERAGE_VARIABLES: 'moving_average_variables',
  REGULARIZATION_LOSSES: 'regularization_losses',
  CONCATENATED_VARIABLES: 'concatenated_variables',
  SAVERS: 'savers',
  WEIGHTS: 'weights',
  BIASES: 'biases',
  ACTIVATIONS: 'activations',
  UPDATE_OPS: 'update_ops',
  LOSSES: 'losses',
  SAVEABLE_OBJECTS: 'saveable_objects',
  RESOURCES: 'resources',
  LOCAL_RESOURCES: 'local_resources',
  TRAIN_OP: 'train_op',
  INIT_OP: 'init_op',
  LOCAL_INIT_OP: 'local_init_op',
  READY_OP: 'ready_op',
  SUMMARY_OP: 'summary_op',
  GLOBAL_STEP: 'global_step',
  EVAL_STEP: 'eval_step',
  COND_CONTEXT: 'cond_context',
  WHILE_CONTEXT: 'while_context',
} as const;

export interface CreateOpOptions {
  name?: string;
  /** Output specs for op types weir has no definition for (GraphDef import). */
  outputs?: OutputSpec[];
  /** Extra control inputs besides those of the enclosing controlDependencies blocks. */
  controlInputs?: Operation[];
}

/** A TensorFlow-1-style static dataflow graph. */
export class Graph {
  private readonly ops: Operation[] = [];
  private readonly byName = new Map<string, Operation>();
  private readonly namesInUse = new Map<string, number>();
  private readonly consumers = new Map<Tensor, Operation[]>();
  private nameStack = '';
  private controlStack: Operation[][] = [];
  private readonly collections = new Map<string, unknown[]>();
  /** Graph-level random seed (tf.setRandomSeed). */
  seed: number | undefined;
  /**
   * Free-form per-graph storage for library modules (variable scopes, layer name counters, ...). A
   * function body shares its outer graph's, so variable scopes entered outside a loop hold inside it.
   */
  readonly extras: Map<string, unknown>;
  /** Bumped on every change; caches keyed on the graph compare it. */
  version = 0;

  constructor(opts: { extras?: Map<string, unknown> } = {}) {
    this.extras = opts.extras ?? new Map();
  }

  /**
   * Whether this graph is the body of a function (a loop body, a cond branch: a FuncGraph). Ops
   * built while such a graph is the default go into it, whatever graph their inputs come from
   * (TensorFlow's rule); inputs from outer graphs are captured.
   */
  get buildingFunction(): boolean {
    return false;
  }

  /**
   * The tensor of this graph that stands for `t`, an input of an op being created here. A plain
   * graph only takes its own tensors; a function body captures those of the graphs around it.
   */
  protected resolveInput(t: Tensor, opType: string): Tensor {
    throw new InvalidArgumentError(`${opType}: input ${t.name} is from a different graph`);
  }

  // ---- default graph ----
  /** Makes this the default graph while fn runs. */
  asDefault<T>(fn: () => T): T {
    graphStack.push(this);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      graphStack.pop();
      throw e;
    }
    if (result instanceof Promise) {
      return result.finally(() => popGraph(this)) as T;
    }
    popGraph(this);
    return result;
  }

  // ---- lookup ----
  getOperations(): Operation[] {
    return [...this.ops];
  }
  get numOps(): number {
    return this.ops.length;
  }
  getOperationByName(name: string): Operation {
    const op = this.byName.get(name);
    if (!op) throw new NotFoundError(`The name '${name}' refers to an Operation not in the graph.`);
    return op;
  }
  hasOperation(name: string): boolean {
    return this.byName.has(name);
  }
  getTensorByName(name: string): Tensor {
    const m = /^(.*):(\d+)$/.exec(name);
    if (!m) {
      throw new InvalidArgumentError(
        `The name '${name}' looks like an (invalid) Operation name, not a Tensor. Tensor names must be of the form "<op_name>:<output_index>".`,
      );
    }
    const op = this.byName.get(m[1]!);
    if (!op) throw new NotFoundError(`The name '${name}' refers to a Tensor which does not exist. The operation, '${m[1]}', does not exist in the graph.`);
    const idx = Number(m[2]);
    const t = op.outputs[idx];
    if (!t) {
      throw new NotFoundError(
        `The name '${name}' refers to a Tensor which does not exist. The operation, '${m[1]}', exists but only has ${op.outputs.length} outputs.`,
      );
    }
    return t;
  }
  /** A tensor ('x:0') or an operation ('train') by name. */
  asGraphElement(name: string): Tensor | Operation {
    return name.includes(':') ? this.getTensorByName(name) : this.getOperationByName(name);
  }
  consumersOf(t: Tensor): Operation[] {
    return [...(this.consumers.get(t) ?? [])];
  }

  // ---- names ----
  /** TensorFlow's Graph.unique_name. */
  uniqueName(name: string, markAsUsed = true): string {
    if (this.nameStack) name = `${this.nameStack}/${name}`;
    let nameKey = name.toLowerCase();
    let i = this.namesInUse.get(nameKey) ?? 0;
    if (markAsUsed) this.namesInUse.set(nameKey, i + 1);
    if (i > 0) {
      const base = nameKey;
      while (this.namesInUse.has(nameKey)) {
        nameKey = `${base}_${i}`;
        i += 1;
      }
      if (markAsUsed) this.namesInUse.set(nameKey, 1);
      name = `${name}_${i - 1}`;
    }
    return name;
  }
  /** The current name scope ('' at the top, else 'a/b'). */
  getNameScope(): string {
    return this.nameStack;
  }
  /**
   * TF's name_scope: `name` is made unique ('layer1', 'layer1_1'), a name ending in '/' re-enters
   * that absolute scope, '' or null resets to the top. fn receives the scope string ('layer1/').
   */
  nameScope<T>(name: string | null, fn: (scope: string) => T): T {
    const old = this.nameStack;
    let scope: string;
    if (!name) {
      scope = '';
    } else if (name.endsWith('/')) {
      scope = name.slice(0, -1);
    } else {
      scope = this.uniqueName(name);
    }
    this.nameStack = scope;
    try {
      return fn(scope ? scope + '/' : '');
    } finally {
      this.nameStack = old;
    }
  }

  // ---- control dependencies ----
  controlDependencies<T>(deps: readonly (Operation | Tensor)[] | null, fn: () => T): T {
    const old = this.controlStack;
    if (deps === null) {
      this.controlStack = [];
    } else {
      const ops = deps.map((d) => (d instanceof Tensor ? d.op : d));
      for (const op of ops) {
        if (op.graph !== this) throw new InvalidArgumentError(`Control dependency ${op.name} is from a different graph`);
      }
      this.controlStack = [...old, ops];
    }
    try {
      return fn();
    } finally {
      this.controlStack = old;
    }
  }
  currentControlDependencies(): Operation[] {
    const seen = new Set<Operation>();
    for (const frame of this.controlStack) for (const op of frame) seen.add(op);
    return [...seen];
  }

  // ---- collections ----
  addToCollection(key: string, value: unknown): void {
    const c = this.collections.get(key);
    if (c) c.push(value);
    else this.collections.set(key, [value]);
  }
  /** Items in the collection; with a scope, only those whose name starts with it. */
  getCollection<T = unknown>(key: string, scope?: string): T[] {
    const c = (this.collections.get(key) ?? []) as T[];
    if (!scope) return [...c];
    return c.filter((item) => {
      const n = (item as { name?: unknown }).name;
      return typeof n === 'string' && n.startsWith(scope);
    });
  }
  getCollectionRef<T = unknown>(key: string): T[] {
    let c = this.collections.get(key);
    if (!c) this.collections.set(key, (c = []));
    return c as T[];
  }
  getAllCollectionKeys(): string[] {
    return [...this.collections.keys()];
  }
  clearCollection(key: string): void {
    this.collections.delete(key);
  }

  // ---- building ----
  /**
   * Adds an op. Runs its shape function, so shape and dtype errors surface here, while the graph is
   * built, naming the op and the user code that created it.
   */
  createOp(type: string, inputs: readonly Tensor[], attrs: Record<string, AttrValue> = {}, opts: CreateOpOptions = {}): Operation {
    for (const t of inputs) {
      if (!(t instanceof Tensor)) throw new InvalidArgumentError(`${type}: an input is not a Tensor`);
    }
    if (inputs.some((t) => t.graph !== this)) inputs = inputs.map((t) => (t.graph === this ? t : this.resolveInput(t, type)));
    // As in TensorFlow, a name ending in '/' is a scope name taken as it is (a variable named after its scope).
    const name = opts.name?.endsWith('/') ? opts.name.slice(0, -1) : this.uniqueName(opts.name ?? type);
    if (this.byName.has(name)) throw new InvalidArgumentError(`Duplicate node name in graph: '${name}'`);
    const def = getOpDef(type);
    const inputOps = new Set(inputs.map((t) => t.op));
    const control = [...this.currentControlDependencies(), ...(opts.controlInputs ?? [])].filter(
      (op, i, arr) => !inputOps.has(op) && arr.indexOf(op) === i,
    );
    let outputs: OutputSpec[];
    const traceHolder = creationTrace();
    if (opts.outputs) {
      outputs = opts.outputs;
    } else {
      if (!def) throw new NotFoundError(`Op type not registered '${type}' (creating '${name}')`);
      const ctx = makeShapeContext(type, name, inputs, attrs, traceHolder);
      for (const i of def.refInputs ?? []) {
        const src = inputs[i]?.op;
        if (src && !src.def?.variable) ctx.fail(`${def.inputs[i]} must be a variable, got ${inputs[i]!.name} (${src.type})`);
      }
      outputs = def.shape(ctx);
    }
    const op = new Operation(this, this.ops.length, name, type, [...inputs], control, { ...attrs }, outputs, traceHolder);
    this.ops.push(op);
    this.byName.set(name, op);
    for (const t of inputs) {
      const c = this.consumers.get(t);
      if (c) c.push(op);
      else this.consumers.set(t, [op]);
    }
    this.version++;
    return op;
  }

  /**
   * Gives an existing op more inputs and outputs (and new attrs). Only the control-flow gradients
   * use it, as TensorFlow's do: a forward loop learns which of its intermediates the backward loop
   * needs only when the gradient is built, and then carries them out as extra loop variables.
   */
  extendOp(op: Operation, add: { inputs?: readonly Tensor[]; outputs?: readonly OutputSpec[]; attrs?: Record<string, AttrValue> }): Tensor[] {
    if (op.graph !== this) throw new InvalidArgumentError(`extendOp: ${op.name} is not in this graph`);
    const inputs = (add.inputs ?? []).map((t) => (t.graph === this ? t : this.resolveInput(t, op.type)));
    (op.inputs as Tensor[]).push(...inputs);
    for (const t of inputs) {
      const c = this.consumers.get(t);
      if (c) c.push(op);
      else this.consumers.set(t, [op]);
    }
    const first = op.outputs.length;
    for (const [i, spec] of (add.outputs ?? []).entries()) op.outputs.push(new Tensor(op, first + i, spec.dtype, spec.shape));
    if (add.attrs) Object.assign(op.attrs as Record<string, AttrValue>, add.attrs);
    this.version++;
    return op.outputs.slice(first);
  }
}

/**
 * The ops in an order where every op comes after its inputs and control inputs (those among `ops`):
 * creation order, except where extendOp gave an op an input created after it.
 */
export function topologicalOrder(ops: Iterable<Operation>): Operation[] {
  const set = new Set(ops);
  const byId = [...set].sort((a, b) => a.id - b.id);
  const state = new Map<Operation, 1 | 2>(); // 1: being visited, 2: emitted
  const out: Operation[] = [];
  for (const root of byId) {
    if (state.has(root)) continue;
    state.set(root, 1);
    const stack: { op: Operation; k: number }[] = [{ op: root, k: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const { op } = top;
      if (top.k < op.inputs.length + op.controlInputs.length) {
        const k = top.k++;
        const d = k < op.inputs.length ? op.inputs[k]!.op : op.controlInputs[k - op.inputs.length]!;
        if (set.has(d) && !state.has(d)) {
          state.set(d, 1);
          stack.push({ op: d, k: 0 });
        }
        continue;
      }
      stack.pop();
      state.set(op, 2);
      out.push(op);
    }
  }
  return out;
}

function makeShapeContext(
  type: string,
  name: string,
  inputs: readonly AbstractValue[],
  attrs: Record<string, AttrValue>,
  trace: Error,
): ShapeContext {
  return {
    opType: type,
    opName: name,
    inputs,
    attr<T>(n: string): T {
      if (!Object.hasOwn(attrs, n)) throw new InvalidArgumentError(`${type} op '${name}': missing attr '${n}'`, name);
      return attrs[n] as T;
    },
    constValue(i: number) {
      return inputs[i]?.knownValue;
    },
    fail(message: string): never {
      const where = userFrame(trace);
      throw new InvalidArgumentError(`${type} op '${name}': ${message}${where ? ` (created at ${where})` : ''}`, name);
    },
  };
}

const rootGraph = { g: new Graph() };
const graphStack: Graph[] = [];

function popGraph(g: Graph): void {
  const i = graphStack.lastIndexOf(g);
  if (i >= 0) graphStack.splice(i, 1);
}

export function getDefaultGraph(): Graph {
  return graphStack.length ? graphStack[graphStack.length - 1]! : rootGraph.g;
}

/** Clears the default graph stack and starts a fresh global default graph. */
export function resetDefaultGraph(): void {
  if (graphStack.length) {
    throw new OpError('Do not use tf.resetDefaultGraph() inside graph.asDefault()', 'FAILED_PRECONDITION');
  }
  rootGraph.g = new Graph();
}

export function nameScope<T>(name: string | null, fn: (scope: string) => T): T {
  return getDefaultGraph().nameScope(name, fn);
}
export function controlDependencies<T>(deps: readonly (Operation | Tensor)[] | null, fn: () => T): T {
  return getDefaultGraph().controlDependencies(deps, fn);
}
export function addToCollection(key: string, value: unknown): void {
  getDefaultGraph().addToCollection(key, value);
}
export function getCollection<T = unknown>(key: string, scope?: string): T[] {
  return getDefaultGraph().getCollection<T>(key, scope);
}
export function getCollectionRef<T = unknown>(key: string): T[] {
  return getDefaultGraph().getCollectionRef<T>(key);
}
export function setRandomSeed(seed: number): void {
  getDefaultGraph().seed = seed;
}
