import { CpuBackend, evaluateOnCpu } from '../runtime/cpu/backend.js';
import { IndexedSlices } from './api/indexed_slices.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import type { Backend, RuntimeState } from '../runtime/backend.js';
import { cancelled, type Plan } from '../runtime/plan.js';
import { disposeRunScratch } from '../runtime/slab.js';
import { KernelProfile, printWhenDone, profilingBackend } from '../runtime/profile.js';
import { compilePlan, compileRequest } from '../passes/compile.js';
import { config } from './core/config.js';
import { popDefaultSession, pushDefaultSession, withDefaultSession } from './core/default_session.js';
import { Verifier } from './verification.js';
import { type TypedArray } from './core/dtypes.js';
import { CancelledError, FailedPreconditionError, InvalidArgumentError } from './core/errors.js';
import { getDefaultGraph, Graph, Operation, Tensor } from './graph.js';
import { isVariableLike, type VariableLike } from './convert.js';
import { NDArray, numElements, type NestedArray } from './core/ndarray.js';
import { formatShape, shapesCompatible, type Shape } from './core/shape.js';
import { describeStructure, isNestedContainer } from './api/nest.js';

export type FetchElement = Tensor | Operation | VariableLike | string;
/**
 * A fetch element, or arrays / plain objects nesting them (interfaces too: an LSTMStateTuple, an
 * RNN state).
 */
export type Fetches = FetchElement | readonly unknown[] | { readonly [k: string]: unknown } | object;

/** Depth - 1, to bound FetchResult on recursive structure types (RNNState nests itself). */
type Shallower = [never, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/** A fetched IndexedSlices (TF's IndexedSlicesValue): its rows, their indices and the dense shape. */
export interface IndexedSlicesValue {
  values: NDArray;
  indices: NDArray;
  denseShape: NDArray | null;
}

/** Result structure mirroring the fetches: NDArray for tensors, null for operations. */
export type FetchResult<F, D extends number = 12> = [D] extends [never]
  ? unknown
  : F extends Operation
    ? null
    : F extends IndexedSlices
      ? IndexedSlicesValue
    : F extends Tensor | VariableLike
      ? NDArray
      : F extends string
        ? NDArray | null
        : F extends readonly unknown[]
          ? { [K in keyof F]: FetchResult<F[K], Shallower[D]> }
          : F extends object
            ? { [K in keyof F]: FetchResult<F[K], Shallower[D]> }
            : never;

export type FeedValue = NDArray | NestedArray | TypedArray;
/**
 * A feed key: a tensor (or variable, or tensor name), or arrays / plain objects nesting them, as TF1
 * feeds RNN state (`[[state, {c, h}]]` for an LSTMStateTuple, arrays of them for MultiRNNCell).
 */
export type FeedKey = Tensor | VariableLike | string | readonly FeedKey[] | { readonly [k: string]: FeedKey } | object;
/**
 * A feed value: a value for a tensor key, or the same nesting of values as a structured key. (Both
 * admit `object` so that interfaces such as LSTMStateTuple, which have no index signature, type-check;
 * the structure is checked when the session runs.)
 */
export type FeedStructure = FeedValue | readonly FeedStructure[] | { readonly [k: string]: FeedStructure } | object;
export type FeedDict =
  | Map<FeedKey, FeedStructure>
  | readonly (readonly [FeedKey, FeedStructure])[];

export interface SessionOptions {
  graph?: Graph;
  /**
   * 'cpu' (the default; WEIR_BACKEND in the environment changes the default), 'webgpu' (the GPU
   * through navigator.gpu in browsers, the npm package `webgpu` in Node), or a Backend object.
   */
  backend?: 'cpu' | 'webgpu' | Backend<any>;
  /**
   * Optimize plans (default true): constant folding, CSE, algebraic simplification, shape
   * specialization, fusion and memory planning. false runs the pruned graph as written.
   */
  optimize?: boolean;
  /**
   * Most compiled plans kept (default 128): plans are specialized to the fed shapes, so a server
   * seeing many batch sizes would otherwise keep a plan (and on the CPU an arena) for each. The
   * least recently used plan is dropped first and compiled again when next needed.
   */
  maxCachedPlans?: number;
  /**
   * Time every kernel this session runs (default: WEIR_PROFILE=1, which also prints the table to
   * stderr when the session closes); `profile()` returns the table.
   */
  profile?: boolean;
}

/** A map that keeps at most `limit` entries, dropping the least recently used. */
class LruCache<V> {
  private readonly entries = new Map<string, V>();
  constructor(
    private readonly limit: number,
    private readonly dropped: (v: V) => void,
  ) {}
  get size(): number {
    return this.entries.size;
  }
  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit) {
      const [k, v] = this.entries.entries().next().value!;
      this.entries.delete(k);
      this.dropped(v);
    }
  }
  values(): IterableIterator<V> {
    return this.entries.values();
  }
  clear(): void {
    this.entries.clear();
  }
}

/** TF1's Session: owns variable values and compiled plans for one graph. */
export class Session {
  readonly graph: Graph;
  readonly backend: Backend<unknown>;
  private readonly state: RuntimeState<unknown> = { variables: new Map(), opState: new Map(), entropy: Math.floor(Math.random() * 2 ** 32) };
  private readonly plans: LruCache<Plan>;
  /** Made by the first verification run (WEIR_VERIFY_OPT=1). */
  private verifier: Verifier | undefined;
  private readonly optimize: boolean;
  private closed = false;
  private readonly live = (): boolean => !this.closed;
  /** Runs that must not overlap wait here for the ones before them. */
  private queue: Promise<void> = Promise.resolve();
  /** With profiling on: the table, the timing backend plans run on, and (WEIR_PROFILE=1) its printer. */
  private readonly profiler: { table: KernelProfile; backend: Backend<unknown>; print?: () => void } | undefined;

  constructor(opts: SessionOptions = {}) {
    this.graph = opts.graph ?? getDefaultGraph();
    this.optimize = opts.optimize ?? true;
    const maxPlans = opts.maxCachedPlans ?? 128;
    if (!Number.isInteger(maxPlans) || maxPlans < 1) throw new InvalidArgumentError(`maxCachedPlans must be a positive integer, got ${maxPlans}`);
    // A dropped plan's arenas go back at once (not when collected: the collector does not see the
    // WebAssembly memory they hold).
    this.plans = new LruCache<Plan>(maxPlans, (p) => p.dispose());
    const b = opts.backend ?? config.defaultBackend();
    if (b === 'cpu') this.backend = new CpuBackend() as Backend<unknown>;
    else if (b === 'webgpu') this.backend = new WebGpuBackend(new CpuBackend()) as Backend<unknown>;
    else if (typeof b === 'string') throw new InvalidArgumentError(`Unknown backend '${String(b)}' (available: 'cpu', 'webgpu')`);
    else this.backend = b;
    if (opts.profile ?? config.profile()) {
      const table = new KernelProfile();
      this.profiler = { table, backend: profilingBackend(this.backend, table) };
      if (config.profile()) this.profiler.print = printWhenDone(table, `Session on ${this.backend.name} (graph of ${this.graph.getOperations().length} ops)`);
    }
  }

  /**
   * The kernel profile of this session's runs so far (op types and kernels, time per run, GFLOP/s
   * of contractions); `table.format()` or `String(table)` prints it. Needs profiling on: the
   * `profile` option or WEIR_PROFILE=1. The table keeps counting; `reset()` empties it (after
   * warm-up runs, say).
   */
  profile(): KernelProfile {
    if (!this.profiler) throw new FailedPreconditionError('Profiling is off for this Session: create it with { profile: true } or set WEIR_PROFILE=1');
    return this.profiler.table;
  }

  /**
   * Runs the graph to compute `fetches`; the result has the same structure.
   *
   * Runs may overlap (`Promise.all`, a server answering requests): each gets exactly what it would
   * get alone. A CPU run goes from feeds to copied-out results without yielding, so overlapping CPU
   * runs execute whole, in call order: each op's update of a variable is atomic and never torn, and
   * no update is lost. Backends that record one run at a time (WebGPU) and verification runs wait
   * their turn, in call order. Closing the session fails runs still in flight with a CancelledError.
   */
  async run<const F extends Fetches>(fetches: F, feedDict?: FeedDict): Promise<FetchResult<F>> {
    if (this.closed) throw new FailedPreconditionError('Attempted to use a closed Session.');
    const flat: (Tensor | Operation)[] = [];
    const index = new Map<Tensor | Operation, number>();
    const structure = this.flattenFetches(fetches, flat, index);
    const feeds = this.normalizeFeeds(feedDict);

    const tensors = flat.filter((f): f is Tensor => f instanceof Tensor);
    const targets = flat.filter((f): f is Operation => f instanceof Operation);
    const key = planKey(tensors, targets, feeds);
    const plan = this.getPlan(key, tensors, targets, feeds);
    const verify = config.verify() && (this.optimize || !this.onCpu);
    const go = (): Promise<NDArray[]> => (verify ? this.runVerified(key, plan, tensors, targets, feeds) : this.execute(plan, feeds));
    let downloaded: NDArray[];
    try {
      downloaded = await (verify || this.backend.exclusiveRuns ? this.inTurn(go) : go());
    } catch (e) {
      if (this.closed && !(e instanceof CancelledError)) {
        const err = cancelled();
        err.stack = `${err.stack}\nCaused by: ${(e as Error)?.stack ?? String(e)}`;
        throw err;
      }
      throw e;
    }
    const values = new Map<Tensor, NDArray>();
    tensors.forEach((t, i) => values.set(t, downloaded[i]!));
    return structure((f) => (f instanceof Tensor ? values.get(f)! : null)) as FetchResult<F>;
  }

  /** Runs the plan and checks it against a reference run (src/verification.ts). */
  private async runVerified(key: string, plan: Plan, tensors: Tensor[], targets: Operation[], feeds: Map<Tensor, NDArray>): Promise<NDArray[]> {
    if (this.backend.ready) await this.backend.ready();
    const verifier = (this.verifier ??= new Verifier(this.backend, this.state));
    const run = { key, plan, tensors, targets, feeds, snapshot: await verifier.snapshot() };
    let downloaded: NDArray[];
    try {
      downloaded = await this.execute(plan, feeds);
    } catch (e) {
      await verifier.checkFailure(e, run);
      throw e;
    }
    await verifier.check(downloaded, run);
    return downloaded;
  }

  /** Runs `fn` after every run queued before it has settled. */
  private async inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.queue;
    let done!: () => void;
    this.queue = new Promise<void>((r) => (done = r));
    try {
      await before;
      if (this.closed) throw cancelled();
      return await fn();
    } finally {
      done();
    }
  }

  private get onCpu(): boolean {
    return this.backend instanceof CpuBackend;
  }

  private async execute(plan: Plan, feeds: Map<Tensor, NDArray>): Promise<NDArray[]> {
    const backend = this.backend;
    if (backend.ready) {
      await backend.ready();
      if (this.closed) throw cancelled();
    }
    if (this.profiler) {
      this.profiler.table.runs++;
      return plan.run(this.profiler.backend, this.state, feeds, this.live);
    }
    return plan.run(backend, this.state, feeds, this.live);
  }

  /** The plan `run` would use for these fetches and feeds (compiling it if needed). */
  async compile(fetches: Fetches, feedDict?: FeedDict): Promise<Plan> {
    const flat: (Tensor | Operation)[] = [];
    this.flattenFetches(fetches, flat, new Map());
    const feeds = this.normalizeFeeds(feedDict);
    const tensors = flat.filter((f): f is Tensor => f instanceof Tensor);
    const targets = flat.filter((f): f is Operation => f instanceof Operation);
    return this.getPlan(planKey(tensors, targets, feeds), tensors, targets, feeds);
  }

  /**
   * Makes this the default session while fn runs (TF1's `with sess.as_default():`), so that
   * `tensor.eval()`, `op.run()` and `variable.eval()` run in it; a Promise returned by fn keeps it
   * default until it settles. Like TF's, it neither makes the graph default nor closes the session.
   */
  asDefault<T>(fn: () => T): T {
    return withDefaultSession(this, fn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.profiler?.print?.();
    // The memory of arenas, variables and list scratch goes back now, not when the collector gets to
    // it: nothing of this session runs again (a CPU run never yields inside a kernel, and one waiting
    // for an arena fails on waking).
    for (const p of this.plans.values()) p.dispose();
    this.plans.clear();
    this.verifier?.dispose();
    for (const v of this.state.variables.values()) this.backend.freeValue?.(v);
    disposeRunScratch(this.state, this.backend);
    this.state.variables.clear();
    this.state.opState.clear();
    this.backend.dispose();
  }

  private getPlan(key: string, tensors: Tensor[], targets: Operation[], feeds: Map<Tensor, NDArray>): Plan {
    let plan = this.plans.get(key);
    if (!plan) {
      plan = compilePlan(compileRequest(tensors, targets, feeds), this.backend, { optimize: this.optimize, evaluate: evaluateOnCpu });
      this.plans.set(key, plan);
    }
    return plan;
  }

  private resolve(el: FetchElement): Tensor | Operation {
    if (typeof el === 'string') return this.graph.asGraphElement(el);
    if (isVariableLike(el)) return el.value();
    if (el instanceof Tensor || el instanceof Operation) {
      if (el.graph !== this.graph) {
        throw new InvalidArgumentError(`Fetch ${el.name} is not an element of this session's graph.`);
      }
      return el;
    }
    throw new InvalidArgumentError(`Fetch argument ${String(el)} has invalid type ${typeof el}: must be a Tensor, Operation, Variable or name.`);
  }

  /** Flattens the fetch structure; returns a function rebuilding it from per-element values. */
  private flattenFetches(
    f: Fetches,
    flat: (Tensor | Operation)[],
    index: Map<Tensor | Operation, number>,
  ): (get: (el: Tensor | Operation) => unknown) => unknown {
    if (Array.isArray(f)) {
      const parts = f.map((x) => this.flattenFetches(x as Fetches, flat, index));
      return (get) => parts.map((p) => p(get));
    }
    if (f instanceof IndexedSlices) {
      const parts = [f.values, f.indices, f.denseShape].map((t) => (t ? this.flattenFetches(t, flat, index) : () => null));
      return (get) => ({ values: parts[0]!(get), indices: parts[1]!(get), denseShape: parts[2]!(get) });
    }
    if (typeof f === 'object' && f !== null && !(f instanceof Tensor) && !(f instanceof Operation) && !isVariableLike(f)) {
      const entries = Object.entries(f as Record<string, Fetches>).map(
        ([k, v]) => [k, this.flattenFetches(v, flat, index)] as const,
      );
      return (get) => Object.fromEntries(entries.map(([k, p]) => [k, p(get)]));
    }
    const el = this.resolve(f as FetchElement);
    if (el instanceof Tensor && el.dtype === 'variant') {
      throw new InvalidArgumentError(
        `Cannot fetch ${el.name}: it is a variant (a tensor list or TensorArray handle), which has no value outside the graph; fetch its contents instead (TensorArray.stack(), TensorListStack)`,
        el.op.name,
      );
    }
    if (!index.has(el)) {
      index.set(el, flat.length);
      flat.push(el);
    }
    return (get) => get(el);
  }

  private normalizeFeeds(feedDict?: FeedDict): Map<Tensor, NDArray> {
    const out = new Map<Tensor, NDArray>();
    if (!feedDict) return out;
    const pairs = feedDict instanceof Map ? [...feedDict.entries()] : feedDict;
    for (const [key, value] of pairs) {
      if (isNestedContainer(key)) this.feedStructure(key, value, '', out);
      else out.set(...this.feedLeaf(key as Tensor | VariableLike | string, value as FeedValue));
    }
    return out;
  }

  /**
   * Feeds a structured key (arrays / plain objects of tensors): value must nest the same way (same
   * array lengths, same object keys), else an InvalidArgumentError names the path where they differ.
   */
  private feedStructure(key: FeedKey, value: unknown, path: string, out: Map<Tensor, NDArray>): void {
    if (!isNestedContainer(key)) {
      try {
        out.set(...this.feedLeaf(key as Tensor | VariableLike | string, value as FeedValue));
      } catch (e) {
        if (e instanceof InvalidArgumentError && path) e.message = `feed key at ${path}: ${e.message}`;
        throw e;
      }
      return;
    }
    const where = (): string => `feed key${path ? ` at ${path}` : ''}`;
    const desc = (v: unknown): string =>
      Array.isArray(v) ? `an array of length ${v.length}` : isNestedContainer(v) ? `an object with keys {${Object.keys(v).join(', ')}}` : describeLeaf(v);
    if (Array.isArray(key)) {
      if (!Array.isArray(value) || value.length !== key.length) {
        throw new InvalidArgumentError(`Cannot feed ${desc(value)} for the ${where()}, an array of ${key.length} (${describeStructure(key)}): the value must have the key's structure`);
      }
      key.forEach((k: FeedKey, i: number) => this.feedStructure(k, value[i], `${path}[${i}]`, out));
      return;
    }
    const keys = Object.keys(key);
    if (Array.isArray(value) || !isNestedContainer(value)) {
      throw new InvalidArgumentError(`Cannot feed ${desc(value)} for the ${where()}, an object with keys {${keys.join(', ')}} (${describeStructure(key)}): the value must have the key's structure`);
    }
    const missing = keys.filter((k) => !Object.prototype.hasOwnProperty.call(value, k));
    const extra = Object.keys(value).filter((k) => !Object.prototype.hasOwnProperty.call(key, k));
    if (missing.length || extra.length) {
      throw new InvalidArgumentError(
        `Cannot feed ${desc(value)} for the ${where()}, an object with keys {${keys.join(', ')}}: ` +
          [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `unexpected ${extra.join(', ')}` : ''].filter(Boolean).join('; '),
      );
    }
    for (const k of keys) this.feedStructure((key as Record<string, FeedKey>)[k]!, (value as Record<string, unknown>)[k], `${path}.${k}`, out);
  }

  /** A tensor key (a tensor, a variable or a tensor name) and its value, checked. */
  private feedLeaf(key: Tensor | VariableLike | string, value: FeedValue): [Tensor, NDArray] {
    let t: Tensor;
    if (typeof key === 'string') {
      const el = this.graph.asGraphElement(key.includes(':') ? key : `${key}:0`);
      t = el as Tensor;
    } else if (isVariableLike(key)) {
      t = key.value();
    } else if (key instanceof Tensor) {
      t = key;
    } else {
      throw new InvalidArgumentError(`Feed key ${String(key)} is not a Tensor or a tensor name`);
    }
    if (t.graph !== this.graph) throw new InvalidArgumentError(`Feed ${t.name} is not an element of this session's graph.`);
    return [t, feedValue(t, value)];
  }
}

/** A leaf value, for error messages. */
function describeLeaf(v: unknown): string {
  if (v instanceof NDArray) return `an NDArray of shape ${formatShape(v.shape)}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (v instanceof Tensor) return `a Tensor (${v.name})`;
  return v === null ? 'null' : v === undefined ? 'undefined' : `a ${typeof v}`;
}

function feedValue(t: Tensor, value: FeedValue): NDArray {
  let nd: NDArray;
  try {
    if (value instanceof NDArray) {
      nd = value;
    } else if (ArrayBuffer.isView(value)) {
      nd = NDArray.from(value as TypedArray, undefined, inferFlatShape(t.shape, (value as TypedArray).length) ?? undefined);
    } else {
      nd = NDArray.from(value as NestedArray, t.dtype);
    }
  } catch (e) {
    throw new InvalidArgumentError(`Cannot feed value for Tensor '${t.name}': ${(e as Error).message}`);
  }
  if (nd.dtype !== t.dtype) {
    throw new InvalidArgumentError(`Cannot feed a ${nd.dtype} value for Tensor '${t.name}', which has dtype ${t.dtype}`);
  }
  if (!shapesCompatible(t.shape, nd.shape)) {
    throw new InvalidArgumentError(
      `Cannot feed value of shape ${formatShape(nd.shape)} for Tensor '${t.name}', which has shape ${formatShape(t.shape)}`,
    );
  }
  return nd;
}

/** Shape for a flat typed array fed to a tensor of static shape s (at most one unknown dim). */
function inferFlatShape(s: Shape, length: number): number[] | null {
  if (s === null) return null;
  const unknown = s.filter((d) => d === null).length;
  if (unknown > 1) return null;
  const known = numElements(s.filter((d): d is number => d !== null));
  if (unknown === 0) return length === known ? (s as number[]) : null;
  if (known === 0 || length % known !== 0) return null;
  return s.map((d) => (d === null ? length / known : d));
}

/** Plans are cached per (fetches, targets, fed tensors and their shapes). */
function planKey(tensors: readonly Tensor[], targets: readonly Operation[], feeds: ReadonlyMap<Tensor, NDArray>): string {
  return (
    tensors.map((t) => t.name).join(',') +
    '|' +
    targets.map((o) => o.name).join(',') +
    '|' +
    [...feeds].map(([t, v]) => `${t.name}[${v.shape.join('x')}]`).join(',')
  );
}

/**
 * TF1's tf.InteractiveSession: a Session that makes itself the default session when constructed
 * (for shells and notebooks: `x.eval()` without `asDefault`), until close(). Several may be open;
 * the newest is the default, and closing one, in any order, removes only it.
 */
export class InteractiveSession extends Session {
  private registered: boolean;
  constructor(opts: SessionOptions = {}) {
    super(opts);
    pushDefaultSession(this);
    this.registered = true;
  }
  override close(): void {
    if (this.registered) {
      this.registered = false;
      popDefaultSession(this);
    }
    super.close();
  }
}
