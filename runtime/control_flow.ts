// What the runtime runs itself rather than through a backend kernel: functional control flow (If,
// While) over the nested plans the compiler made for their bodies, and tensor lists (the values
// TensorArrays and loop-gradient accumulators are), whose elements are backend handles.
//
// Memory. A body plan's values live in its arena (CPU) or its per-plan GPU buffers. A loop runs
// iteration k on one of two arena leases and k+1 on the other, so an iteration's inputs (the
// previous one's outputs) are never overwritten while it runs; its results leave through the
// `_Copy` kernel into the enclosing plan's memory. A value a list keeps is either made by the plan
// in memory of its own (Step.takesElement) or copied, into the session's run scratch
// (runtime/slab.ts), which the next run reuses. Nothing of a run is kept in module state.
//
// Predicates. A loop whose cond only compares int32 counters with loop-invariant bounds (a counted
// loop: maximum_iterations, dynamic_rnn, scan, map_fn, every gradient loop; see passes/compile.ts,
// countedLoop) gets its exact trip count once, on entry, and never runs cond; where reading a value
// costs a read-back (WebGPU) its counters are given host values each iteration, so list indices
// are read without waiting either. Any other loop runs cond and reads the predicate each iteration.
//
// Steady state. On the CPU an iteration allocates no tensor memory: the body runs in its two arena
// leases, with the slot, input and result arrays those leases keep; lists keep values made in memory
// of their own or copied into the slab. runtime/slab.ts counts what had to be allocated (tests).
import type { DType } from '../src/core/dtypes.js';
import { InvalidArgumentError, InternalError } from '../src/core/errors.js';
import { NDArray } from '../src/core/ndarray.js';
import type { Shape } from '../src/core/shape.js';
import { COPY } from '../ops/registry.js';
import type { Backend, KernelNode, PlannedOutputs, RuntimeState, StepContext } from './backend.js';
import { cancelled, type Plan, type Step } from './plan.js';
import { runScratch } from './slab.js';

/** A compiled function body: its plan, and how its outputs relate to its inputs. */
export interface FunctionPlan {
  readonly plan: Plan;
  /** Plan slot of each function input, in the FuncGraph's input order. */
  readonly args: readonly number[];
  /** The function's outputs the plan computes, by index (a loop body computes only its live variables). */
  readonly outputs: readonly number[];
  /** For each computed output: the input it is (or is a view of), else -1. */
  readonly outputRoots: readonly number[];
  /**
   * For a loop's cond and body: the steps that depend only on loop-invariant inputs and constants.
   * The loop runs them once, before its first iteration, and every iteration skips them.
   */
  readonly hoisted?: readonly boolean[];
  /**
   * For a loop's cond: how its trip count follows from the loop's inputs, when the predicate only
   * compares counters with loop-invariant bounds (see passes/compile.ts, countedLoop). The loop then
   * computes the count on entry and never runs cond.
   */
  readonly trips?: TripCount;
}

/** A value a counted loop knows on entry: a constant, or loop input `input` (which the body passes through). */
export type EntryValue = { readonly value: number } | { readonly input: number };

/**
 * One conjunct of a counted loop's predicate: loop variable `counter` (int32) compared with `bound`
 * (`counter cmp bound`), the body adding `step` (negated when `negate`) to the counter.
 */
export interface CounterTest {
  readonly counter: number;
  readonly cmp: 'lt' | 'le' | 'gt' | 'ge';
  readonly bound: EntryValue;
  readonly step: EntryValue;
  readonly negate: boolean;
}

/** A predicate that is the logical and of counter tests. */
export interface TripCount {
  readonly tests: readonly CounterTest[];
  /** The loop variables the tests count with (distinct). */
  readonly counters: readonly number[];
}

/** What a runtime kernel sees of the step being run. */
export interface RuntimeEnv<H> {
  readonly backend: Backend<H>;
  readonly state: RuntimeState<H>;
  readonly ctx: StepContext | undefined;
  readonly planned: PlannedOutputs | undefined;
  readonly live: () => boolean;
}

type Maybe<T> = T | Promise<T>;
export type RuntimeKernel = <H>(env: RuntimeEnv<H>, step: Step, inputs: unknown[]) => Maybe<unknown[]>;

/**
 * A tensor list: a variant value the runtime keeps. Lists are values: ops make new ones. A list is
 * the first `length` items of a store it may share with lists made from it; pushing onto a list
 * that ends where its store ends appends to the store in place (an accumulator's pushes cost O(1),
 * not a copy of the list), any other push copies.
 */
export class TensorList<H = unknown> {
  readonly length: number;
  constructor(
    private readonly store: (H | undefined)[],
    readonly dtype: DType,
    readonly elementShape: Shape,
    length = store.length,
  ) {
    this.length = length;
  }

  get items(): readonly (H | undefined)[] {
    return this.length === this.store.length ? this.store : this.store.slice(0, this.length);
  }

  at(i: number): H | undefined {
    return i < this.length ? this.store[i] : undefined;
  }

  pushed(x: H): TensorList<H> {
    const store = this.length === this.store.length ? this.store : this.store.slice(0, this.length);
    store.push(x);
    return new TensorList(store, this.dtype, this.elementShape, this.length + 1);
  }

  popped(): TensorList<H> {
    return new TensorList(this.store, this.dtype, this.elementShape, this.length - 1);
  }

  /** This list with item i set to x (grown with unset items to reach i): one new store. */
  withItem(i: number, x: H): TensorList<H> {
    const n = Math.max(this.length, i + 1);
    const store = new Array<H | undefined>(n);
    for (let k = 0; k < this.length; k++) store[k] = this.store[k];
    store[i] = x;
    return new TensorList(store, this.dtype, this.elementShape, n);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Runs a generator that yields values which may be promises: synchronously as long as none is,
 * then asynchronously. CPU loops never touch a promise; a GPU loop waits for its predicate.
 */
export function drive<T>(gen: Generator<unknown, T, unknown>): Maybe<T> {
  let r = gen.next();
  while (!r.done) {
    const v = r.value;
    if (v instanceof Promise) return finishAsync(gen, v);
    r = gen.next(v);
  }
  return r.value;
}

async function finishAsync<T>(gen: Generator<unknown, T, unknown>, first: Promise<unknown>): Promise<T> {
  let pending: unknown = first;
  for (;;) {
    let r: IteratorResult<unknown, T>;
    try {
      const v = pending instanceof Promise ? await pending : pending;
      r = gen.next(v);
    } catch (e) {
      r = gen.throw(e);
    }
    if (r.done) return r.value;
    pending = r.value;
  }
}

/** A value read on the host (the caller only reads it, before the next kernel runs). */
export function hostValue<H>(env: RuntimeEnv<H>, h: H): Maybe<NDArray> {
  const b = env.backend;
  return b.peek ? b.peek(h) : b.read ? b.read(h) : b.download(h);
}

export function scalarNumber(a: NDArray): number {
  return Number(a.data[0] as number | bigint);
}

export function truthy(a: NDArray): boolean {
  return Number(a.data[0] as number | bigint) !== 0;
}

export function node(spec: Partial<KernelNode> & Pick<KernelNode, 'name' | 'type' | 'outputs' | 'inputDTypes' | 'inputShapes'>): KernelNode {
  return { attrs: {}, refVars: spec.inputDTypes.map(() => undefined), ...spec };
}

/** Copies of `values` in memory of their own (variant values pass as they are). */
export function copyOut<H>(env: RuntimeEnv<H>, step: Step, values: unknown[]): Maybe<unknown[]> {
  const outs = step.node.outputs;
  const copy = node({
    name: `${step.node.name}/copy`,
    type: COPY,
    attrs: { skip: outs.map((o) => o.dtype === 'variant') },
    outputs: outs,
    inputDTypes: outs.map((o) => o.dtype),
    inputShapes: outs.map((o) => o.shape),
  });
  return env.backend.execute(copy, values as H[], env.state, env.ctx, env.planned) as Maybe<unknown[]>;
}

/** What a list keeps of a value put in it: the value when the plan made it in memory of its own, else a copy. */
export function kept<H>(env: RuntimeEnv<H>, step: Step, h: unknown, dtype: DType): Maybe<H> {
  if (step.takesElement) {
    listElements(env).add(h as object);
    return h as H;
  }
  return copyFresh(env, h as H, dtype);
}

/** The values lists hold in this session (see RunScratch). */
export function listElements<H>(env: RuntimeEnv<H>): WeakSet<object> {
  return runScratch(env.state).listElements;
}

/**
 * Where list elements the runtime makes (copies, unstacked rows, sums) get their memory: on the CPU
 * the session's slab, on WebGPU buffers numbered in the order the run makes them (runtime/slab.ts).
 */
export function elementMemory<H>(env: RuntimeEnv<H>, like: H): [StepContext, PlannedOutputs] {
  const scratch = runScratch(env.state);
  const slab = scratch.slab;
  const what = `${env.backend.dtypeOf(like)}[${env.backend.shapeOf(like).join(',')}]`;
  let key = scratch.elementKeys.get(what);
  if (!key) scratch.elementKeys.set(what, (key = { count: 0 }));
  return [{ plan: key, step: key.count++, regions: [], regionBytes: [] }, (dtype, shape) => slab.take(dtype, shape)];
}

/** A value a list may keep: `h` itself when a list holds it already, else a copy in fresh memory. */
export function copyFresh<H>(env: RuntimeEnv<H>, h: H, dtype: DType): Maybe<H> {
  // A list is an immutable value: a list of lists (an outer loop accumulating an inner loop's
  // accumulators) keeps it as it is.
  if (h instanceof TensorList) return h;
  const owned = listElements(env);
  if (owned.has(h as object)) return h;
  const b = env.backend;
  if (b.peek && b.freshOutputsOwned && dtype !== 'string') {
    // Host memory (the CPU): copied into the slab here, without a kernel call (a loop's accumulators
    // copy their counter every iteration).
    const src = b.peek(h);
    const dst = runScratch(env.state).slab.take(src.dtype, src.shape);
    (dst.data as Float32Array).set(src.data as Float32Array);
    const x = b.upload(dst);
    owned.add(x as object);
    return x;
  }
  const shape = env.backend.shapeOf(h);
  const r = env.backend.execute(
    node({ name: '_list_element_copy', type: COPY, attrs: { skip: [false] }, outputs: [{ dtype, shape }], inputDTypes: [dtype], inputShapes: [shape] }),
    [h],
    env.state,
    ...elementMemory(env, h),
  );
  return then(r, (x) => {
    owned.add(x[0] as object);
    return x[0]!;
  });
}

function then<T, U>(x: Maybe<T>, f: (v: T) => Maybe<U>): Maybe<U> {
  return x instanceof Promise ? x.then(f) : f(x);
}

// ---------------------------------------------------------------------------------------------
// Control flow

function fn(step: Step, name: string): FunctionPlan {
  const f = step.functions?.[name];
  if (!f) throw new InternalError(`${step.what}: function '${name}' was not compiled`, step.opName);
  return f;
}

const runIf: RuntimeKernel = (env, step, inputs) =>
  drive(
    (function* () {
      const pred = (yield hostValue(env, inputs[0] as never)) as NDArray;
      const branch = fn(step, truthy(pred) ? 'then_branch' : 'else_branch');
      const lease = branch.plan.leaseArena(env.backend, env.state);
      try {
        const outs = (yield branch.plan.invoke(env, branch.args, inputs.slice(1), lease, 0)) as unknown[];
        return (yield copyOut(env, step, outs)) as unknown[];
      } finally {
        branch.plan.returnArena(lease);
      }
    })(),
  );

const runWhile: RuntimeKernel = (env, step, inputs) => drive(whileIterations(env, step, inputs));

// One generator per loop run, not per iteration: on the CPU nothing it yields is a promise, so
// `drive` steps it through synchronously.
function* whileIterations<H>(env: RuntimeEnv<H>, step: Step, inputs: unknown[]): Generator<unknown, unknown[], unknown> {
  const cond = fn(step, 'cond');
  const body = fn(step, 'body');
  const count = cond.trips ? ((yield entryTrips(env, cond.trips, inputs)) as Counted | undefined) : undefined;
  const condLease = count ? undefined : cond.plan.leaseArena(env.backend, env.state);
  const leases = [body.plan.leaseArena(env.backend, env.state), body.plan.leaseArena(env.backend, env.state)] as const;
  try {
    // Iteration k reads bufs[k & 1] and its results go to the other: the two arrays are reused.
    const bufs = [inputs.slice(), inputs.slice()] as const;
    let vars: unknown[] = bufs[0];
    const condPre = !count && cond.hoisted ? { steps: cond.hoisted, slots: (yield cond.plan.prologue(env, cond.args, vars, cond.hoisted)) as unknown[] } : undefined;
    const bodyPre = body.hoisted ? { steps: body.hoisted, slots: (yield body.plan.prologue(env, body.args, vars, body.hoisted)) as unknown[] } : undefined;
    const outputs = body.outputs;
    const roots = body.outputRoots;
    for (let k = 0; ; k++) {
      if (count) {
        if (k === count.trips) break;
        // Where reading a value costs a read-back (WebGPU), the counters' values come from the host.
        if (count.shadow) setCounters(env, count, vars, k);
      } else {
        const c = (yield cond.plan.invoke(env, cond.args, vars, condLease, 0, condPre)) as unknown[];
        const p = (yield hostValue(env, c[0] as H)) as NDArray;
        if (!truthy(p)) break;
      }
      if (!env.live()) throw cancelled();
      const out = (yield body.plan.invoke(env, body.args, vars, leases[k & 1], (k & 1) as 0 | 1, bodyPre)) as unknown[];
      const next = bufs[(k + 1) & 1];
      for (let j = 0; j < out.length; j++) {
        const v = outputs[j]!;
        // An output that is another input (loop variables swapped) lives where that input did:
        // in the arena the next iteration writes. It gets memory of its own.
        const r = roots[j]!;
        next[v] = r >= 0 && r !== v && !(out[j] instanceof TensorList) ? yield copyFresh(env, out[j] as H, step.node.outputs[v]!.dtype) : out[j];
      }
      vars = next;
    }
    if (count?.shadow) setCounters(env, count, vars, count.trips);
    return (yield copyOut(env, step, vars)) as unknown[];
  } finally {
    body.plan.returnArena(leases[1]);
    body.plan.returnArena(leases[0]);
    cond.plan.returnArena(condLease);
  }
}

/** A counted loop's trip count, and its counters' entry values and steps. */
interface Counted {
  readonly trips: number;
  readonly counters: readonly number[];
  readonly start: readonly number[];
  readonly step: readonly number[];
  /** Whether the counters are given host values each iteration (backends without `peek`). */
  readonly shadow: boolean;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Reads what the trip count depends on (one read-back at most, on entry) and computes it. */
function entryTrips<H>(env: RuntimeEnv<H>, trips: TripCount, inputs: readonly unknown[]): Maybe<Counted | undefined> {
  const wanted: number[] = [];
  const want = (e: EntryValue): void => {
    if ('input' in e && !wanted.includes(e.input)) wanted.push(e.input);
  };
  for (const c of trips.counters) want({ input: c });
  for (const t of trips.tests) {
    want(t.bound);
    want(t.step);
  }
  const read = wanted.map((i) => hostValue(env, inputs[i] as H));
  const compute = (values: readonly NDArray[]): Counted | undefined => {
    const at = (e: EntryValue): number => ('value' in e ? e.value : scalarNumber(values[wanted.indexOf(e.input)]!));
    return countTrips(trips, at, !env.backend.peek);
  };
  return read.some((r) => r instanceof Promise) ? Promise.all(read).then(compute) : compute(read as NDArray[]);
}

/**
 * The exact trip count of a counted loop, or undefined when it is not finite or a counter would
 * leave the int32 range before the loop ends (the loop then reads its predicate each iteration).
 */
export function countTrips(trips: TripCount, at: (e: EntryValue) => number, shadow = false): Counted | undefined {
  const stepOf = (c: number): number => {
    const t = trips.tests.find((x) => x.counter === c)!;
    return t.negate ? -at(t.step) : at(t.step);
  };
  const start = trips.counters.map((c) => at({ input: c }));
  const step = trips.counters.map(stepOf);
  let n = Infinity;
  for (const t of trips.tests) {
    const i = trips.counters.indexOf(t.counter);
    n = Math.min(n, firstFalse(start[i]!, step[i]!, t.cmp, at(t.bound)));
  }
  if (!Number.isFinite(n)) return undefined;
  for (let i = 0; i < start.length; i++) {
    const last = start[i]! + n * step[i]!;
    if (last < INT32_MIN || last > INT32_MAX) return undefined;
  }
  return { trips: n, counters: trips.counters, start, step, shadow };
}

/** The first k >= 0 for which `x0 + k*s cmp bound` is false (Infinity when none is), over the integers. */
function firstFalse(x0: number, s: number, cmp: CounterTest['cmp'], bound: number): number {
  // As a test `a + k*d < b`.
  let a = x0;
  let d = s;
  let b = bound;
  if (cmp === 'le') b = bound + 1;
  else if (cmp === 'gt' || cmp === 'ge') {
    a = -x0;
    d = -s;
    b = cmp === 'gt' ? -bound : -bound + 1;
  }
  if (a >= b) return 0;
  if (d <= 0) return Infinity;
  let k = Math.ceil((b - a) / d);
  while (k > 0 && a + (k - 1) * d >= b) k--;
  while (a + k * d < b) k++;
  return k;
}

/** Gives iteration k's counters their values as host values the list kernels read without waiting. */
function setCounters<H>(env: RuntimeEnv<H>, count: Counted, vars: unknown[], k: number): void {
  const owned = listElements(env);
  const counters = count.counters;
  for (let i = 0; i < counters.length; i++) {
    const h = env.backend.upload(NDArray.from(count.start[i]! + k * count.step[i]!, 'int32'));
    // The runtime's own value, never written: a list may keep it as it is.
    owned.add(h as object);
    vars[counters[i]!] = h;
  }
}

// ---------------------------------------------------------------------------------------------
// Tensor lists

export function listOf(step: Step, v: unknown, i = 0): TensorList {
  if (!(v instanceof TensorList)) throw new InternalError(`${step.what}: input ${i} is not a tensor list`, step.opName);
  return v;
}

export function shapeFromValue(a: NDArray): Shape {
  if (a.rank === 0) return null;
  return Array.from(a.data as Int32Array, (d) => (Number(d) < 0 ? null : Number(d)));
}

/** The concrete shape an unset element of `l` takes: `given` when full, else the list's, else a set element's. */
export function elementShape<H>(env: RuntimeEnv<H>, step: Step, l: TensorList<H>, given?: Shape): number[] {
  const full = (s: Shape | undefined): s is number[] => !!s && s.every((d) => d !== null);
  if (full(given)) return given;
  if (full(l.elementShape)) return l.elementShape;
  const known = l.items.find((x) => x !== undefined);
  if (known !== undefined) return env.backend.shapeOf(known);
  throw new InvalidArgumentError(
    `${step.what}: an element of the tensor list was never set and its shape is not fully known; set every element or give the list a full element_shape`,
    step.opName,
  );
}

export function zerosOf<H>(env: RuntimeEnv<H>, dtype: DType, shape: number[]): H {
  runScratch(env.state).slab.made.zeros++;
  return env.backend.upload(NDArray.zeros(shape, dtype));
}

export function element<H>(env: RuntimeEnv<H>, step: Step, l: TensorList<H>, i: number, given?: Shape): H {
  if (i < 0 || i >= l.length) {
    throw new InvalidArgumentError(`${step.what}: index ${i} out of range for a tensor list of ${l.length} elements`, step.opName);
  }
  return l.at(i) ?? zerosOf(env, l.dtype, elementShape(env, step, l, given));
}

export function index(step: Step, a: NDArray, size: number, what: string): number {
  const i = scalarNumber(a);
  if (!Number.isInteger(i) || i < 0 || i >= size) {
    throw new InvalidArgumentError(`${step.what}: ${what} ${i} is out of range for a tensor list of ${size} elements`, step.opName);
  }
  return i;
}

const elementDType = (step: Step): DType => step.node.attrs.element_dtype as DType;

/** The Pack of the elements (zeros for unset ones), into the step's planned output. */
export function stackItems<H>(env: RuntimeEnv<H>, step: Step, l: TensorList<H>, picks: readonly number[], given: Shape): Maybe<H> {
  const dtype = l.dtype;
  if (picks.length === 0) {
    return zerosOf(env, dtype, [0, ...elementShape(env, step, l, given)]);
  }
  const items = picks.map((i) => element(env, step, l, i, given));
  const shapes = items.map((h) => env.backend.shapeOf(h));
  const first = shapes[0]!;
  shapes.forEach((s, k) => {
    if (s.length !== first.length || s.some((d, j) => d !== first[j])) {
      throw new InvalidArgumentError(
        `${step.what}: elements of a tensor list must share one shape to be stacked, but element ${picks[0]} is [${first.join(',')}] and element ${picks[k]} is [${s.join(',')}]`,
        step.opName,
      );
    }
  });
  const pack = node({
    name: `${step.node.name}/stack`,
    type: 'Pack',
    attrs: { N: items.length, axis: 0, T: dtype },
    outputs: [{ dtype, shape: [items.length, ...first] }],
    inputDTypes: items.map(() => dtype),
    inputShapes: shapes,
  });
  const r = env.backend.execute(pack, items, env.state, env.ctx, env.planned);
  return then(r, (x) => x[0]!);
}

export function unstackInto<H>(env: RuntimeEnv<H>, step: Step, t: H, dtype: DType): Maybe<H[]> {
  const shape = env.backend.shapeOf(t);
  if (shape.length === 0) throw new InvalidArgumentError(`${step.what}: a scalar cannot be split into a tensor list`, step.opName);
  const n = shape[0]!;
  if (n === 0) return [];
  const el = shape.slice(1);
  const r = env.backend.execute(
    node({
      name: `${step.node.name}/unstack`,
      type: 'Unpack',
      attrs: { num: n, axis: 0, T: dtype },
      outputs: Array.from({ length: n }, () => ({ dtype, shape: el })),
      inputDTypes: [dtype],
      inputShapes: [shape],
    }),
    [t],
    env.state,
    ...elementMemory(env, t),
  );
  const owned = listElements(env);
  return then(r, (parts) => {
    for (const p of parts) owned.add(p as object);
    return parts;
  });
}

/** `items` with the rows of `tensor` set at `indices` (the list grows to the largest index). */
export function scatterItems<H>(env: RuntimeEnv<H>, step: Step, items: unknown[], dtype: DType, tensor: unknown, indices: unknown): Maybe<unknown[]> {
  return drive(
    (function* () {
      const idx = (yield hostValue(env, indices as never)) as NDArray;
      const parts = (yield unstackInto(env, step, tensor as never, dtype)) as unknown[];
      if (parts.length !== idx.size) {
        throw new InvalidArgumentError(`${step.what}: ${idx.size} indices for a tensor of ${parts.length} elements`, step.opName);
      }
      Array.from(idx.data as Int32Array).forEach((d, k) => {
        const i = Number(d);
        if (i < 0) throw new InvalidArgumentError(`${step.what}: index ${i} is negative`, step.opName);
        while (items.length <= i) items.push(undefined);
        items[i] = parts[k];
      });
      return items;
    })(),
  );
}

/** The elements joined along their first axis (into the step's planned output), and each one's length. */
export function concatItems<H>(env: RuntimeEnv<H>, step: Step, l: TensorList<H>, given: Shape): Maybe<unknown[]> {
  const items = l.items.map((_, i) => element(env, step, l, i, given));
  const shapes = items.map((h) => env.backend.shapeOf(h));
  const lengths = NDArray.from(BigInt64Array.from(shapes, (s) => BigInt(s[0] ?? 0)), 'int64', [shapes.length]);
  if (items.length === 0) {
    const s = elementShape(env, step, l, given);
    return [zerosOf(env, l.dtype, [0, ...s.slice(1)]), env.backend.upload(lengths)];
  }
  return then(concatRows(env, step, items, shapes, l.dtype), (x) => [x, env.backend.upload(lengths)]);
}

/** `items` (of the given shapes, at least one) joined along their first axis, into the step's planned output. */
export function concatRows<H>(env: RuntimeEnv<H>, step: Step, items: readonly H[], shapes: readonly number[][], dtype: DType): Maybe<H> {
  const total = shapes.reduce((a, s) => a + s[0]!, 0);
  const axis = env.backend.upload(NDArray.from(0, 'int32'));
  const r = env.backend.execute(
    node({
      name: `${step.node.name}/concat`,
      type: 'ConcatV2',
      attrs: { N: items.length, T: dtype, Tidx: 'int32' },
      outputs: [{ dtype, shape: [total, ...shapes[0]!.slice(1)] }],
      inputDTypes: [...items.map(() => dtype), 'int32'],
      inputShapes: [...shapes, []],
    }),
    [...items, axis],
    env.state,
    env.ctx,
    env.planned,
  );
  return then(r, (x) => x[0] as H);
}

function setItemNow<H>(env: RuntimeEnv<H>, step: Step, inputs: unknown[], at: NDArray): Maybe<unknown[]> {
  const l = listOf(step, inputs[0]);
  const grow = step.node.attrs.resize_if_index_out_of_bounds === true;
  const i = index(step, at, grow ? Math.max(l.length, scalarNumber(at) + 1) : l.length, 'index');
  const x = kept(env, step, inputs[2], l.dtype);
  return x instanceof Promise ? x.then((v) => [l.withItem(i, v)]) : [l.withItem(i, x)];
}

/** Item `at` of l; the element shape (input `shape`) is read only for an unset item. */
function getItemNow<H>(env: RuntimeEnv<H>, step: Step, l: TensorList, at: NDArray, shape: unknown): Maybe<unknown[]> {
  const i = index(step, at, l.length, 'index');
  const x = l.at(i);
  if (x !== undefined) return [x];
  return then(hostValue(env, shape as H), (es) => [element(env, step, l as TensorList<H>, i, shapeFromValue(es))]);
}

/** Rows of `value` split by `sizes` (they sum to its first dim), each in element memory of its own. */
export function splitRows<H>(env: RuntimeEnv<H>, step: Step, value: H, sizes: readonly number[], dtype: DType): Maybe<H[]> {
  const shape = env.backend.shapeOf(value);
  return env.backend.execute(
    node({
      name: `${step.node.name}/split`,
      type: 'SplitV',
      attrs: { num_split: sizes.length, T: dtype, Tlen: 'int32' },
      outputs: sizes.map((n) => ({ dtype, shape: [n, ...shape.slice(1)] })),
      inputDTypes: [dtype, 'int32', 'int32'],
      inputShapes: [shape, [sizes.length], []],
    }),
    [value, env.backend.upload(NDArray.from(Int32Array.from(sizes), 'int32', [sizes.length])), env.backend.upload(NDArray.from(0, 'int32'))],
    env.state,
    ...elementMemory(env, value),
  ) as Maybe<H[]>;
}

const listKernels: Record<string, RuntimeKernel> = {
  EmptyTensorList: (env, step, inputs) =>
    then(hostValue(env, inputs[0] as never), (es) => [new TensorList([], elementDType(step), shapeFromValue(es))]),

  TensorListReserve: (env, step, inputs) =>
    drive(
      (function* () {
        const es = (yield hostValue(env, inputs[0] as never)) as NDArray;
        const n = scalarNumber((yield hostValue(env, inputs[1] as never)) as NDArray);
        if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${step.what}: num_elements must be >= 0, got ${n}`, step.opName);
        return [new TensorList(new Array(n).fill(undefined), elementDType(step), shapeFromValue(es))];
      })(),
    ),

  TensorListLength: (env, step, inputs) => [env.backend.upload(NDArray.from(listOf(step, inputs[0]).length, 'int32'))],

  // The kernels a loop body runs every iteration go without generators or closures where their
  // host reads do not wait (the CPU): `*Now` does the work once the values are on the host.
  TensorListPushBack: (env, step, inputs) => {
    const l = listOf(step, inputs[0]);
    const x = kept(env, step, inputs[1], l.dtype);
    return x instanceof Promise ? x.then((v) => [l.pushed(v)]) : [l.pushed(x)];
  },

  TensorListPopBack: (env, step, inputs) => {
    const l = listOf(step, inputs[0]);
    if (l.length === 0) throw new InvalidArgumentError(`${step.what}: Trying to pop from an empty list.`, step.opName);
    const last = l.at(l.length - 1);
    if (last !== undefined) return [l.popped(), last];
    return then(hostValue(env, inputs[1] as never), (es) => [l.popped(), element(env, step, l as TensorList<never>, l.length - 1, shapeFromValue(es))]);
  },

  TensorListSetItem: (env, step, inputs) => {
    const at = hostValue(env, inputs[1] as never);
    return at instanceof Promise ? at.then((a) => setItemNow(env, step, inputs, a)) : setItemNow(env, step, inputs, at);
  },

  TensorListGetItem: (env, step, inputs) => {
    const l = listOf(step, inputs[0]);
    const at = hostValue(env, inputs[1] as never);
    if (at instanceof Promise) return at.then((a) => getItemNow(env, step, l, a, inputs[2]));
    return getItemNow(env, step, l, at, inputs[2]);
  },

  TensorListStack: (env, step, inputs) => {
    const l = listOf(step, inputs[0]);
    return drive(
      (function* () {
        const es = (yield hostValue(env, inputs[1] as never)) as NDArray;
        const picks = Array.from({ length: l.length }, (_, i) => i);
        return [yield stackItems(env, step, l as TensorList<never>, picks, shapeFromValue(es))];
      })(),
    );
  },

  TensorListGather: (env, step, inputs) => {
    const l = listOf(step, inputs[0]);
    return drive(
      (function* () {
        const idx = (yield hostValue(env, inputs[1] as never)) as NDArray;
        const es = (yield hostValue(env, inputs[2] as never)) as NDArray;
        const picks = Array.from(idx.data as Int32Array, (d) => index(step, NDArray.from(Number(d), 'int32'), l.length, 'index'));
        return [yield stackItems(env, step, l as TensorList<never>, picks, shapeFromValue(es))];
      })(),
    );
  },

  TensorListFromTensor: (env, step, inputs) =>
    drive(
      (function* () {
        const es = (yield hostValue(env, inputs[1] as never)) as NDArray;
        const dtype = elementDType(step);
        const items = (yield unstackInto(env, step, inputs[0] as never, dtype)) as unknown[];
        const shape = env.backend.shapeOf(inputs[0] as never).slice(1);
        const given = shapeFromValue(es);
        return [new TensorList(items, dtype, given ?? shape)];
      })(),
    ),

  TensorListScatterIntoExistingList: (env, step, inputs) => {
    const l = listOf(step, inputs[0]);
    return then(scatterItems(env, step, [...l.items], l.dtype, inputs[1], inputs[2]), (items) => [new TensorList(items, l.dtype, l.elementShape)]);
  },

  // A new list of max(indices) + 1 elements (the unscattered ones unset).
  TensorListScatter: (env, step, inputs) =>
    drive(
      (function* () {
        const es = (yield hostValue(env, inputs[2] as never)) as NDArray;
        const dtype = elementDType(step);
        const items = (yield scatterItems(env, step, [], dtype, inputs[0], inputs[1])) as unknown[];
        return [new TensorList(items, dtype, shapeFromValue(es))];
      })(),
    ),

  // As TensorListScatter, with num_elements elements (-1: just enough for the largest index).
  TensorListScatterV2: (env, step, inputs) =>
    drive(
      (function* () {
        const es = (yield hostValue(env, inputs[2] as never)) as NDArray;
        const n = scalarNumber((yield hostValue(env, inputs[3] as never)) as NDArray);
        if (!Number.isInteger(n) || n < -1) throw new InvalidArgumentError(`${step.what}: num_elements must be -1 or >= 0, got ${n}`, step.opName);
        const dtype = elementDType(step);
        const items = (yield scatterItems(env, step, new Array<unknown>(Math.max(n, 0)).fill(undefined), dtype, inputs[0], inputs[1])) as unknown[];
        if (n >= 0 && items.length > n) {
          throw new InvalidArgumentError(`${step.what}: an index (${items.length - 1}) is not below num_elements (${n})`, step.opName);
        }
        return [new TensorList(items, dtype, shapeFromValue(es))];
      })(),
    ),

  TensorListResize: (env, step, inputs) => {
    const l = listOf(step, inputs[0]);
    return then(hostValue(env, inputs[1] as never), (size) => {
      const n = scalarNumber(size);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${step.what}: size must be >= 0, got ${n}`, step.opName);
      const items = l.items.slice(0, n);
      while (items.length < n) items.push(undefined);
      return [new TensorList(items, l.dtype, l.elementShape)];
    });
  },

  TensorListConcatV2: (env, step, inputs) => {
    const l = listOf(step, inputs[0]);
    return then(hostValue(env, inputs[1] as never), (es) => concatItems(env, step, l as TensorList<never>, shapeFromValue(es)));
  },

  // The V1 form: the element shape is an attr, and there are no leading dims to give.
  TensorListConcat: (env, step, inputs) => concatItems(env, step, listOf(step, inputs[0]) as TensorList<never>, (step.node.attrs.element_shape as Shape | undefined) ?? null),

  TensorListSplit: (env, step, inputs) =>
    drive(
      (function* () {
        const es = (yield hostValue(env, inputs[1] as never)) as NDArray;
        const lengths = (yield hostValue(env, inputs[2] as never)) as NDArray;
        const dtype = elementDType(step);
        const t = inputs[0] as never;
        const shape = env.backend.shapeOf(t);
        const sizes = Array.from(lengths.data as BigInt64Array, Number);
        if (sizes.reduce((a, b) => a + b, 0) !== shape[0]) {
          throw new InvalidArgumentError(`${step.what}: lengths sum to ${sizes.reduce((a, b) => a + b, 0)}, but the tensor has ${shape[0]} rows`, step.opName);
        }
        if (sizes.length === 0) return [new TensorList([], dtype, shapeFromValue(es))];
        const r = (yield splitRows(env, step, t, sizes, dtype)) as unknown[];
        return [new TensorList(r, dtype, shapeFromValue(es))];
      })(),
    ),
};

/** AddN and Identity of lists (gradients of lists that several ops read): element by element. */
const variantKernels: Record<string, RuntimeKernel> = {
  Identity: (_env, _step, inputs) => [inputs[0]],
  AddN: (env, step, inputs) => {
    const lists = inputs.map((x, i) => listOf(step, x, i));
    const n = Math.max(...lists.map((l) => l.length));
    const dtype = lists[0]!.dtype;
    return drive(
      (function* () {
        const items: unknown[] = [];
        for (let i = 0; i < n; i++) {
          const parts = lists.map((l) => l.at(i)).filter((x) => x !== undefined);
          if (parts.length <= 1) {
            items.push(parts[0]);
            continue;
          }
          const shapes = parts.map((h) => env.backend.shapeOf(h as never));
          const r = (yield env.backend.execute(
            node({ name: `${step.node.name}/add`, type: 'AddN', attrs: { N: parts.length, T: dtype }, outputs: [{ dtype, shape: shapes[0]! }], inputDTypes: parts.map(() => dtype), inputShapes: shapes }),
            parts as never[],
            env.state,
            ...elementMemory(env, parts[0] as never),
          )) as unknown[];
          items.push(r[0]);
        }
        return [new TensorList(items, dtype, lists[0]!.elementShape)];
      })(),
    );
  },
};

const controlFlowKernels: Record<string, RuntimeKernel> = {
  If: runIf,
  StatelessIf: runIf,
  While: runWhile,
  StatelessWhile: runWhile,
};

/** The runtime's own kernel for a node, when the runtime (not the backend) runs it. */
/**
 * Runtime kernels of other modules (runtime/tensor_array.ts), registered when they load (compile.ts
 * imports them), never on a run's path.
 */
const extraKernels: Record<string, RuntimeKernel> = {};
const extraPlanned = new Set<string>();

export function registerRuntimeKernels(kernels: Record<string, RuntimeKernel>, planned: readonly string[] = []): void {
  Object.assign(extraKernels, kernels);
  for (const t of planned) extraPlanned.add(t);
}

export function runtimeKernel(n: { type: string; inputDTypes: readonly DType[] }): RuntimeKernel | undefined {
  if (Object.hasOwn(controlFlowKernels, n.type)) return controlFlowKernels[n.type];
  if (Object.hasOwn(extraKernels, n.type)) return extraKernels[n.type];
  if (Object.hasOwn(listKernels, n.type)) return listKernels[n.type];
  if (n.inputDTypes.includes('variant') && Object.hasOwn(variantKernels, n.type)) return variantKernels[n.type];
  return undefined;
}

/**
 * Whether the outputs of a runtime op go where the plan put them (control flow copies its results
 * out, stacking packs them): the others hand out values the lists already hold.
 */
export function runtimeOutputsPlanned(type: string): boolean {
  return Object.hasOwn(controlFlowKernels, type) || extraPlanned.has(type) || ['TensorListStack', 'TensorListGather', 'TensorListConcatV2', 'TensorListConcat'].includes(type);
}

/** Whether the runtime runs ops of this type itself (for the compiler's kernel check). */
export function isRuntimeOp(type: string): boolean {
  return Object.hasOwn(controlFlowKernels, type) || Object.hasOwn(listKernels, type) || Object.hasOwn(extraKernels, type);
}

// `then` may not be exported under its own name: a module exporting `then` is a thenable.
export { then as andThen };
