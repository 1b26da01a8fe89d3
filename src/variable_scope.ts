/**
 * TF1's variable scopes: tf.variableScope / tf.getVariable / tf.getVariableScope, with TensorFlow's
 * sharing rules (reuse true / false / AUTO_REUSE, inherited by sub-scopes), its naming (a variable is
 * named after the variable scope; ops after the name scope each entry opens, made unique on re-entry)
 * and its error texts.
 */
import { convertToTensor, isTensorLike, type TensorLike } from './convert.js';
import { isFloat, type DType } from './core/dtypes.js';
import { InvalidArgumentError } from './core/errors.js';
import { getDefaultGraph, GraphKeys, type Graph, type Tensor } from './graph.js';
import { initScopeGraph } from './func_graph.js';
import type { Shape } from './core/shape.js';
import { Variable } from './variables.js';
import { glorotUniformInitializer, zerosInitializer, type Initializer } from './initializers.js';

/** Python's ValueError, as TensorFlow raises it for misuse of variable scopes and layers. */
export class ValueError extends InvalidArgumentError {}

/** tf.AUTO_REUSE: get_variable creates the variable if it does not exist, else returns it. */
export const AUTO_REUSE = 'AUTO_REUSE' as const;
export type Reuse = boolean | typeof AUTO_REUSE;

/** A regularizer maps a weight to a scalar loss (or null for none), added to REGULARIZATION_LOSSES. */
export type Regularizer = (weights: Tensor) => Tensor | null;

export interface GetVariableOptions {
  shape?: readonly number[];
  dtype?: DType;
  /** An Initializer (called with the shape and dtype), or a value to initialize from (then no shape). */
  initializer?: Initializer | TensorLike;
  regularizer?: Regularizer;
  /** Overrides the scope's reuse for this call. */
  reuse?: Reuse;
  trainable?: boolean;
  collections?: string[];
  validateShape?: boolean;
}

/** TF's VariableScope: a variable-name prefix with sharing and default-initializer settings. */
export class VariableScope {
  private _reuse: Reuse;
  private _initializer: Initializer | undefined;
  private _regularizer: Regularizer | undefined;
  private _dtype: DType | undefined;

  constructor(
    reuse: Reuse,
    readonly name: string = '',
    opts: { initializer?: Initializer; regularizer?: Regularizer; dtype?: DType; nameScope?: string } = {},
  ) {
    this._reuse = reuse;
    this._initializer = opts.initializer;
    this._regularizer = opts.regularizer;
    this._dtype = opts.dtype;
    this.originalNameScope = opts.nameScope ?? '';
  }

  /** The name scope ('gen/', 'gen_1/') opened when this scope was first entered. */
  readonly originalNameScope: string;

  get reuse(): Reuse {
    return this._reuse;
  }
  get initializer(): Initializer | undefined {
    return this._initializer;
  }
  get regularizer(): Regularizer | undefined {
    return this._regularizer;
  }
  get dtype(): DType | undefined {
    return this._dtype;
  }
  /** Makes get_variable in this scope (and sub-scopes entered later) reuse variables. */
  reuseVariables(): void {
    this._reuse = true;
  }
  setInitializer(initializer: Initializer | undefined): void {
    this._initializer = initializer;
  }
  setRegularizer(regularizer: Regularizer | undefined): void {
    this._regularizer = regularizer;
  }
  setDtype(dtype: DType | undefined): void {
    this._dtype = dtype;
  }

  /** Gets the variable `this.name/name`, creating it unless the scope reuses variables. */
  getVariable(name: string, opts: GetVariableOptions = {}, inGraph: Graph = getDefaultGraph()): Variable {
    // Variables live in the outermost graph, even when asked for inside a loop body (TF's init_scope).
    const graph = initScopeGraph(inGraph);
    const fullName = this.name ? `${this.name}/${name}` : name;
    const reuse = opts.reuse ?? this._reuse;
    const initializer = opts.initializer ?? this._initializer;
    const regularizer = opts.regularizer ?? this._regularizer;
    const dtype = opts.dtype ?? this._dtype;
    // Variable names depend only on the variable scope, so they are created outside any name scope.
    return graph.nameScope(null, () => storeOf(graph).getVariable(graph, fullName, { ...opts, reuse, initializer, regularizer, dtype }));
  }
}

/** Per-graph state: the variables made by getVariable, the current scope, and scope-use counts. */
class VariableStore {
  readonly vars = new Map<string, Variable>();
  current = new VariableScope(false);
  /** How many times each variable scope (by full name) was opened; used to make default names unique. */
  scopeCounts = new Map<string, number>();

  openScope(name: string): void {
    this.scopeCounts.set(name, (this.scopeCounts.get(name) ?? 0) + 1);
  }
  closeSubscopes(name: string): void {
    for (const k of this.scopeCounts.keys()) if (k.startsWith(name + '/')) this.scopeCounts.set(k, 0);
  }
  scopeCount(name: string): number {
    return this.scopeCounts.get(name) ?? 0;
  }

  getVariable(graph: Graph, name: string, opts: GetVariableOptions & { reuse: Reuse }): Variable {
    const fromValue = opts.initializer !== undefined && typeof opts.initializer !== 'function';
    if (fromValue && opts.shape !== undefined) {
      throw new ValueError('If initializer is a constant, do not specify shape.');
    }
    const existing = this.vars.get(name);
    if (existing) {
      if (opts.reuse === false) {
        const where = existing.op.createdAt;
        throw new ValueError(
          `Variable ${name} already exists, disallowed. Did you mean to set reuse=True or reuse=tf.AUTO_REUSE in VarScope?` +
            (where ? ` Originally defined at:\n\n  ${where}` : ''),
        );
      }
      if (opts.shape !== undefined && !shapeMatches(opts.shape, existing.shape)) {
        throw new ValueError(
          `Trying to share variable ${name}, but specified shape ${pyShape(opts.shape)} and found shape ${pyShape(existing.shape)}.`,
        );
      }
      if (opts.dtype !== undefined && opts.dtype !== existing.dtype) {
        throw new ValueError(`Trying to share variable ${name}, but specified dtype ${opts.dtype} and found dtype ${existing.dtype}.`);
      }
      return existing;
    }
    if (opts.reuse === true) {
      throw new ValueError(
        `Variable ${name} does not exist, or was not created with tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in VarScope?`,
      );
    }

    let initialValue: () => TensorLike;
    let dtype: DType | undefined;
    if (fromValue) {
      const value = opts.initializer as TensorLike;
      if (!isTensorLike(value)) throw new ValueError(`Variable ${name}: initializer must be an Initializer or a value`);
      initialValue = () => convertToTensor(value, opts.dtype);
      dtype = opts.dtype;
    } else {
      if (opts.shape === undefined) {
        throw new ValueError(`Shape of a new variable (${name}) must be fully defined, but instead was <unknown>.`);
      }
      for (const d of opts.shape) {
        if (!Number.isInteger(d) || d < 0) throw new ValueError(`Variable ${name}: invalid shape ${pyShape(opts.shape)}`);
      }
      dtype = opts.dtype ?? 'float32';
      const init = (opts.initializer as Initializer | undefined) ?? defaultInitializer(name, dtype);
      const shape = [...opts.shape];
      const dt = dtype;
      initialValue = () => init(shape, dt);
    }
    const trainable = opts.trainable ?? true;
    const v = new Variable(initialValue, {
      name,
      dtype,
      trainable,
      collections: opts.collections,
      validateShape: opts.validateShape,
    });
    this.vars.set(name, v);
    if (opts.regularizer) {
      const loss = graph.asDefault(() => graph.nameScope(`${name}/Regularizer/`, () => opts.regularizer!(v.value())));
      if (loss) graph.addToCollection(GraphKeys.REGULARIZATION_LOSSES, loss);
    }
    return v;
  }
}

function defaultInitializer(name: string, dtype: DType): Initializer {
  if (isFloat(dtype)) return glorotUniformInitializer();
  if (dtype === 'int32' || dtype === 'int64' || dtype === 'bool') return zerosInitializer();
  throw new ValueError(`An initializer for variable ${name} of ${dtype} is required`);
}

function shapeMatches(a: readonly number[], b: Shape): boolean {
  if (b === null) return true;
  return a.length === b.length && a.every((d, i) => b[i] === null || b[i] === d);
}

/** A shape as Python's TensorShape prints it: (3, 4), (3,), (). */
function pyShape(s: Shape | readonly number[]): string {
  if (s === null) return '<unknown>';
  const dims = s.map((d) => (d === null ? '?' : String(d)));
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
}

const STORE_KEY = 'weir.variable_store';

function storeOf(graph: Graph): VariableStore {
  let s = graph.extras.get(STORE_KEY) as VariableStore | undefined;
  if (!s) {
    s = new VariableStore();
    graph.extras.set(STORE_KEY, s);
  }
  return s;
}

/** The current variable scope of the default graph. */
export function getVariableScope(): VariableScope {
  return storeOf(getDefaultGraph()).current;
}

/**
 * tf.get_variable: the variable named `<current variable scope>/name`, created (with `initializer`,
 * default glorot-uniform for floats and zeros for integers) or, when the scope reuses, looked up.
 */
export function getVariable(name: string, opts: GetVariableOptions = {}): Variable {
  return getVariableScope().getVariable(name, opts);
}

export interface VariableScopeOptions {
  reuse?: Reuse | null;
  initializer?: Initializer;
  regularizer?: Regularizer;
  dtype?: DType;
  /** Used (made unique) when nameOrScope is null. */
  defaultName?: string;
  /** Whether to also open a name scope (default true). */
  auxiliaryNameScope?: boolean;
}

/**
 * tf.variable_scope as a block: runs fn inside the scope and returns its result. A string opens a
 * sub-scope of the current one; a VariableScope jumps to that scope; null with `defaultName` opens a
 * sub-scope with a unique name ('dense', 'dense_1', ...). Each entry also opens a name scope, made
 * unique in the graph ('gen/', then 'gen_1/'), under which fn's ops are named.
 */
export function variableScope<T>(nameOrScope: string | VariableScope | null, fn: (scope: VariableScope) => T): T;
export function variableScope<T>(
  nameOrScope: string | VariableScope | null,
  opts: VariableScopeOptions,
  fn: (scope: VariableScope) => T,
): T;
export function variableScope<T>(
  nameOrScope: string | VariableScope | null,
  optsOrFn: VariableScopeOptions | ((scope: VariableScope) => T),
  maybeFn?: (scope: VariableScope) => T,
): T {
  const opts = typeof optsOrFn === 'function' ? {} : optsOrFn;
  const fn = typeof optsOrFn === 'function' ? optsOrFn : maybeFn!;
  const graph = getDefaultGraph();
  const store = storeOf(graph);
  const auxiliary = opts.auxiliaryNameScope ?? true;

  if (nameOrScope === null || nameOrScope === undefined) {
    if (!opts.defaultName) throw new ValueError('If default_name is None then scope (name_or_scope) is required');
    if (opts.reuse) throw new ValueError('reuse=True cannot be used without a name_or_scope');
    const defaultName = opts.defaultName;
    const enter = (nameScope: string): T => {
      const unique = uniqueScopeName(store, defaultName);
      return enterPure(store, unique, opts, nameScope, fn);
    };
    return auxiliary ? graph.nameScope(defaultName, enter) : enter(currentNameScope(graph));
  }
  if (typeof nameOrScope === 'string') {
    if (!auxiliary || nameOrScope === '') return enterPure(store, nameOrScope, opts, currentNameScope(graph), fn);
    return graph.nameScope(nameOrScope, (ns) => enterPure(store, nameOrScope, opts, ns, fn));
  }
  if (!(nameOrScope instanceof VariableScope)) {
    throw new ValueError(`VariableScope: name_or_scope must be a string or a VariableScope, got ${String(nameOrScope)}`);
  }
  const last = nameOrScope.name.split('/').pop()!;
  if (!auxiliary || !last) return enterPure(store, nameOrScope, opts, nameOrScope.originalNameScope, fn);
  return graph.nameScope(last, () => enterPure(store, nameOrScope, opts, nameOrScope.originalNameScope, fn));
}

function currentNameScope(graph: Graph): string {
  const s = graph.getNameScope();
  return s ? s + '/' : '';
}

/** TF's _get_unique_variable_scope: prefix, or prefix_1, prefix_2, ... unused under the current scope. */
function uniqueScopeName(store: VariableStore, prefix: string): string {
  const cur = store.current.name;
  const full = cur ? `${cur}/${prefix}` : prefix;
  if (store.scopeCount(full) === 0) return prefix;
  let i = 1;
  while (store.scopeCount(`${full}_${i}`) > 0) i++;
  return `${prefix}_${i}`;
}

/** TF's _pure_variable_scope: switches the current variable scope (no name scope) while fn runs. */
function enterPure<T>(
  store: VariableStore,
  nameOrScope: string | VariableScope,
  opts: VariableScopeOptions,
  nameScope: string,
  fn: (scope: VariableScope) => T,
): T {
  const old = store.current;
  let scope: VariableScope;
  let restoreCounts: Map<string, number> | undefined;
  let newName: string;
  if (nameOrScope instanceof VariableScope) {
    newName = nameOrScope.name;
    scope = new VariableScope(opts.reuse ? opts.reuse : nameOrScope.reuse, newName, {
      initializer: opts.initializer ?? nameOrScope.initializer,
      regularizer: opts.regularizer ?? nameOrScope.regularizer,
      dtype: opts.dtype ?? nameOrScope.dtype,
      nameScope,
    });
    store.openScope(newName);
    restoreCounts = new Map(store.scopeCounts);
  } else {
    newName = old.name ? `${old.name}/${nameOrScope}` : nameOrScope;
    // Reuse is inherited by sub-scopes: reuse=false inside a reusing scope still reuses.
    const reuse = opts.reuse || old.reuse;
    scope = new VariableScope(reuse, newName, {
      initializer: opts.initializer ?? old.initializer,
      regularizer: opts.regularizer ?? old.regularizer,
      dtype: opts.dtype ?? old.dtype,
      nameScope,
    });
    store.openScope(newName);
  }
  store.current = scope;
  try {
    return fn(scope);
  } finally {
    if (restoreCounts) store.scopeCounts = restoreCounts;
    else store.closeSubscopes(newName);
    store.current = old;
  }
}
