import { CpuBackend } from '../runtime/cpu/backend.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import type { Backend, RuntimeState } from '../runtime/backend.js';
import { cancelled, compilePlan, type Plan } from '../runtime/plan.js';
import { type TypedArray } from './dtypes.js';
import { CancelledError, FailedPreconditionError, InternalError, InvalidArgumentError } from './errors.js';
import { getDefaultGraph, Graph, Operation, Tensor } from './graph.js';
import { isVariableLike, type VariableLike } from './convert.js';
import { NDArray, numElements, type NestedArray } from './ndarray.js';
import { formatShape, shapesCompatible, type Shape } from './shape.js';

export type FetchElement = Tensor | Operation | VariableLike | string;
/** A fetch element, or arrays / plain objects nesting them. */
export type Fetches = FetchElement | readonly unknown[] | { readonly [k: string]: unknown };

/** Result structure mirroring the fetches: NDArray for tensors, null for operations. */
export type FetchResult<F> = F extends Operation
  ? null
  : F extends Tensor | VariableLike
    ? NDArray
    : F extends string
      ? NDArray | null
      : F extends readonly unknown[]
        ? { [K in keyof F]: FetchResult<F[K]> }
        : F extends object
          ? { [K in keyof F]: FetchResult<F[K]> }
          : never;

export type FeedValue = NDArray | NestedArray | TypedArray;
export type FeedDict =
  | Map<Tensor | string, FeedValue>
  | readonly (readonly [Tensor | VariableLike | string, FeedValue])[];

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
}

/**
 * With WEIR_VERIFY_OPT=1 in the environment, every run of an optimized CPU session also runs the
 * unoptimized plan on a snapshot of the session's state (variables and random streams cloned) and
 * throws an InternalError naming the first fetched tensor or variable whose values differ.
 */
function verifyEnabled(): boolean {
  return typeof process !== 'undefined' && process.env?.WEIR_VERIFY_OPT === '1';
}

function defaultBackend(): string {
  return (typeof process !== 'undefined' && process.env?.WEIR_BACKEND) || 'cpu';
}

/** TF1's Session: owns variable values and compiled plans for one graph. */
export class Session {
  readonly graph: Graph;
  readonly backend: Backend<unknown>;
  private readonly state: RuntimeState<unknown> = { variables: new Map(), opState: new Map(), entropy: Math.floor(Math.random() * 2 ** 32) };
  private readonly plans = new Map<string, Plan>();
  /** Unoptimized plans, for verification runs. */
  private readonly referencePlans = new Map<string, Plan>();
  /** For verification runs of a non-CPU session: the CPU and its unoptimized plans. */
  private cpuBackend: Backend<unknown> | undefined;
  private readonly cpuReferencePlans = new Map<string, Plan>();
  private readonly optimize: boolean;
  private closed = false;
  private readonly live = (): boolean => !this.closed;
  /** Runs that must not overlap wait here for the ones before them. */
  private queue: Promise<void> = Promise.resolve();

  constructor(opts: SessionOptions = {}) {
    this.graph = opts.graph ?? getDefaultGraph();
    this.optimize = opts.optimize ?? true;
    const b = opts.backend ?? defaultBackend();
    if (b === 'cpu') this.backend = new CpuBackend() as Backend<unknown>;
    else if (b === 'webgpu') this.backend = new WebGpuBackend() as Backend<unknown>;
    else if (typeof b === 'string') throw new InvalidArgumentError(`Unknown backend '${String(b)}' (available: 'cpu', 'webgpu')`);
    else this.backend = b;
  }

  /**
   * Runs the graph to compute `fetches`; the result has the same structure.
   *
   * Runs may overlap (`Promise.all`, a server answering requests): each gets exactly what it would
   * get alone. On the CPU every run computes in an arena of its own and each op's kernel runs to the
   * end without yielding, so an op's update of a variable is atomic and never torn, and no update
   * is lost; overlapping runs that write variables see each other's updates op by op, as in
   * TensorFlow. Backends that record one run at a time (WebGPU) and verification runs take turns,
   * in call order. Closing the session fails runs still in flight with a CancelledError.
   */
  async run<const F extends Fetches>(fetches: F, feedDict?: FeedDict): Promise<FetchResult<F>> {
    if (this.closed) throw new FailedPreconditionError('Attempted to use a closed Session.');
    const flat: (Tensor | Operation)[] = [];
    const index = new Map<Tensor | Operation, number>();
    const structure = this.flattenFetches(fetches, flat, index);
    const feeds = this.normalizeFeeds(feedDict);

    const tensors = flat.filter((f): f is Tensor => f instanceof Tensor);
    const targets = flat.filter((f): f is Operation => f instanceof Operation);
    const plan = this.getPlan(tensors, targets, feeds, this.optimize);
    const verify = verifyEnabled() && (this.optimize || !this.onCpu);
    const go = (): Promise<NDArray[]> => this.runPlan(plan, tensors, targets, feeds, verify);
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

  private async runPlan(plan: Plan, tensors: Tensor[], targets: Operation[], feeds: Map<Tensor, NDArray>, verify: boolean): Promise<NDArray[]> {
    if (verify && this.backend.ready) await this.backend.ready();
    const snapshot = verify ? await this.snapshot() : undefined;
    let downloaded: NDArray[];
    try {
      downloaded = await this.execute(plan, feeds);
    } catch (e) {
      if (snapshot) await this.verifyFailure(e, tensors, targets, feeds, snapshot);
      throw e;
    }
    if (snapshot) await this.verify(tensors, targets, feeds, downloaded, snapshot);
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

  private get cpuReference(): Backend<unknown> {
    return (this.cpuBackend ??= new CpuBackend() as Backend<unknown>);
  }

  private get onCpu(): boolean {
    return this.backend instanceof CpuBackend;
  }

  private async execute(plan: Plan, feeds: Map<Tensor, NDArray>, state: RuntimeState<unknown> = this.state, backend = this.backend): Promise<NDArray[]> {
    if (backend.ready) {
      await backend.ready();
      if (this.closed) throw cancelled();
    }
    const handles = new Map<Tensor, unknown>();
    for (const [t, v] of feeds) handles.set(t, backend.upload(v));
    return plan.run(backend, state, handles, this.live);
  }

  /** The session's variables and random streams, copied to the host. */
  private async snapshot(): Promise<RuntimeState<NDArray>> {
    if (this.onCpu) return snapshotState(this.state as RuntimeState<NDArray>);
    const variables = new Map<string, NDArray>();
    for (const [k, h] of this.state.variables) variables.set(k, await this.backend.download(h));
    return snapshotState({ variables, opState: this.state.opState, entropy: this.state.entropy });
  }

  /**
   * The reference for a verification run: the unoptimized plan on the CPU. A CPU session compares
   * its optimized plan with it; a session on another backend compares everything it computes.
   */
  private referencePlan(tensors: Tensor[], targets: Operation[], feeds: Map<Tensor, NDArray>): Plan {
    return this.onCpu ? this.getPlan(tensors, targets, feeds, false) : this.getPlan(tensors, targets, feeds, false, this.cpuReference);
  }

  /** Runs the reference plan on `snapshot` and compares its fetches and variables with this run's. */
  private async verify(
    tensors: Tensor[],
    targets: Operation[],
    feeds: Map<Tensor, NDArray>,
    got: NDArray[],
    snapshot: RuntimeState<NDArray>,
  ): Promise<void> {
    const ref = this.referencePlan(tensors, targets, feeds);
    const plan = this.getPlan(tensors, targets, feeds, this.optimize);
    const what = this.onCpu ? 'Optimized plan' : `The ${this.backend.name} backend`;
    const refName = this.onCpu ? 'the unoptimized plan' : 'the CPU backend';
    let want: NDArray[];
    try {
      want = await this.execute(ref, feeds, snapshot, this.cpuReference);
    } catch (e) {
      throw new InternalError(`${what} succeeded where ${refName} failed with: ${(e as Error).message}`);
    }
    const tol: Tolerance = { lenient: plan.graphs.after.numericallyRewritten, crossDevice: !this.onCpu };
    tensors.forEach((t, i) => {
      const diff = compareValues(got[i]!, want[i]!, tol);
      if (diff) throw new InternalError(`${what} differs from ${refName} for fetched tensor '${t.name}': ${diff}`, t.op.name);
    });
    const vars = new Map<string, NDArray>();
    for (const [k, h] of this.state.variables) vars.set(k, this.onCpu ? (h as NDArray) : await this.backend.download(h));
    const names = new Set([...vars.keys(), ...snapshot.variables.keys()]);
    for (const name of names) {
      const a = vars.get(name);
      const b = snapshot.variables.get(name);
      const diff = !a || !b ? `${a ? 'only the checked' : 'only the reference'} run initialized it` : compareValues(a, b, tol);
      if (diff) throw new InternalError(`${what} differs from ${refName} for variable '${name}' after the run: ${diff}`, name);
    }
  }

  /** The checked run failed: the reference run must fail too. */
  private async verifyFailure(e: unknown, tensors: Tensor[], targets: Operation[], feeds: Map<Tensor, NDArray>, snapshot: RuntimeState<NDArray>): Promise<void> {
    try {
      const ref = this.referencePlan(tensors, targets, feeds);
      await this.execute(ref, feeds, snapshot, this.cpuReference);
    } catch {
      return;
    }
    const what = this.onCpu ? 'Optimized plan' : `The ${this.backend.name} backend`;
    throw new InternalError(`${what} failed (${(e as Error).message}) where the ${this.onCpu ? 'unoptimized plan' : 'CPU backend'} succeeded`);
  }

  /** The plan `run` would use for these fetches and feeds (compiling it if needed). */
  async compile(fetches: Fetches, feedDict?: FeedDict): Promise<Plan> {
    const flat: (Tensor | Operation)[] = [];
    this.flattenFetches(fetches, flat, new Map());
    const feeds = this.normalizeFeeds(feedDict);
    return this.getPlan(
      flat.filter((f): f is Tensor => f instanceof Tensor),
      flat.filter((f): f is Operation => f instanceof Operation),
      feeds,
      this.optimize,
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.plans.clear();
    this.referencePlans.clear();
    this.cpuReferencePlans.clear();
    this.state.variables.clear();
    this.state.opState.clear();
    this.backend.dispose();
    this.cpuBackend?.dispose();
  }

  private getPlan(tensors: Tensor[], targets: Operation[], feeds: Map<Tensor, NDArray>, optimize: boolean, backend = this.backend): Plan {
    const key =
      tensors.map((t) => t.name).join(',') +
      '|' +
      targets.map((o) => o.name).join(',') +
      '|' +
      [...feeds].map(([t, v]) => `${t.name}[${v.shape.join('x')}]`).join(',');
    const cache = backend !== this.backend ? this.cpuReferencePlans : optimize ? this.plans : this.referencePlans;
    let plan = cache.get(key);
    if (!plan) {
      const feedShapes = new Map<Tensor, readonly number[]>();
      for (const [t, v] of feeds) feedShapes.set(t, v.shape);
      plan = compilePlan({ fetches: tensors, targets, feeds: [...feeds.keys()], feedShapes }, backend, { optimize });
      cache.set(key, plan);
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
    if (typeof f === 'object' && f !== null && !(f instanceof Tensor) && !(f instanceof Operation) && !isVariableLike(f)) {
      const entries = Object.entries(f as Record<string, Fetches>).map(
        ([k, v]) => [k, this.flattenFetches(v, flat, index)] as const,
      );
      return (get) => Object.fromEntries(entries.map(([k, p]) => [k, p(get)]));
    }
    const el = this.resolve(f as FetchElement);
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
      out.set(t, feedValue(t, value));
    }
    return out;
  }
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

/** A copy of the session state that runs can change without touching the original. */
function snapshotState(state: RuntimeState<NDArray>): RuntimeState<NDArray> {
  const variables = new Map<string, NDArray>();
  for (const [k, v] of state.variables) variables.set(k, v.clone());
  const opState = new Map<string, unknown>();
  for (const [k, v] of state.opState) {
    const c = v as { clone?: () => unknown };
    opState.set(k, typeof c?.clone === 'function' ? c.clone() : structuredClone(v));
  }
  return { variables, opState, entropy: state.entropy };
}

/**
 * Why two values differ, or undefined when they agree: same dtype and shape; ints, bools and
 * strings exactly; floats within a tolerance for regrouped arithmetic (NaN equals NaN). `lenient`
 * also accepts a finite value where the reference overflowed (a rewrite to a stabler formula).
 */
interface Tolerance {
  lenient: boolean;
  /** Another device's arithmetic (its own exp, log, summation order): a wider float tolerance. */
  crossDevice: boolean;
}

function compareValues(a: NDArray, b: NDArray, tol: Tolerance): string | undefined {
  const { lenient } = tol;
  const [abs, rel] = tol.crossDevice ? [1e-4, 1e-3] : [1e-5, 1e-4];
  if (a.dtype !== b.dtype) return `dtype ${a.dtype} vs ${b.dtype}`;
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    return `shape ${formatShape(a.shape)} vs ${formatShape(b.shape)}`;
  }
  const n = a.size;
  if (a.dtype === 'float32') {
    const x = a.data as Float32Array;
    const y = b.data as Float32Array;
    for (let i = 0; i < n; i++) {
      const p = x[i]!;
      const q = y[i]!;
      if (p === q || (p !== p && q !== q)) continue;
      if (lenient && !Number.isFinite(q)) continue;
      if (Math.abs(p - q) <= abs + rel * Math.max(Math.abs(p), Math.abs(q))) continue;
      return `element ${i}: ${p} (checked) vs ${q} (reference)`;
    }
    return undefined;
  }
  const x = a.data as ArrayLike<unknown>;
  const y = b.data as ArrayLike<unknown>;
  for (let i = 0; i < n; i++) {
    const p = x[i];
    const q = y[i];
    if (p instanceof Uint8Array && q instanceof Uint8Array) {
      if (p.length === q.length && p.every((c, j) => c === q[j])) continue;
    } else if (p === q) continue;
    return `element ${i}: ${String(p)} (checked) vs ${String(q)} (reference)`;
  }
  return undefined;
}
