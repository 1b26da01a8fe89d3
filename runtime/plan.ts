import type { TypedArray } from '../src/core/dtypes.js';
import { CancelledError, InternalError, InvalidArgumentError, OpError, ResourceExhaustedError } from '../src/core/errors.js';
import type { Tensor } from '../src/graph.js';
import { NDArray } from '../src/core/ndarray.js';
import { formatShape, sameShape, shapesCompatible } from '../src/core/shape.js';
import type { PlanGraph, PNode } from '../passes/ir.js';
import { isAliasOp, isInPlaceOp } from '../ops/registry.js';
import type { MemoryPlan } from './arena.js';
import type { Backend, HostBuffer, KernelNode, PlannedOutputs, RuntimeState, StepContext } from './backend.js';
import { isAllocationFailure, oomMessage } from './oom.js';
import { arrayView, resetRunScratch, slabOf, type Allocations, type Slab } from './slab.js';
import type { FunctionPlan, RuntimeEnv, RuntimeKernel } from './control_flow.js';

export interface Step {
  /** The plan node this step runs (for fused kernels: the fusion of several graph ops). */
  readonly source: PNode;
  /** How errors name the op: type, name and where the user created it. */
  readonly what: string;
  /** The graph op errors are about. */
  readonly opName: string;
  readonly node: KernelNode;
  /** Slot of each input; -1 for a reference input. */
  readonly inputSlots: readonly number[];
  readonly outputSlots: readonly number[];
  /** Slots whose last reader is this step: released after it runs. */
  readonly release: readonly number[];
  /** Set when the runtime runs the step itself (control flow, tensor lists), not a backend kernel. */
  readonly runtime?: RuntimeKernel;
  /** The compiled bodies of a control-flow op, by attr name (cond, body, then_branch, ...). */
  readonly functions?: Readonly<Record<string, FunctionPlan>>;
  /**
   * Set on a list push whose element the plan computes in memory of its own (not the arena), so the
   * list keeps it without a copy.
   */
  readonly takesElement?: boolean;
  /** Outputs a list will keep (see takesElement): made in memory of their own, from the run's slab. */
  readonly keptOutputs?: readonly boolean[];
}

/** An arena a function call runs in (a loop holds two); undefined where the backend has none. */
export type ArenaLease = ArenaRuntime | undefined;

/** What of a backend an arena needs: its name (arenas are the CPU's) and its host-memory hooks. */
type ArenaBackend = Pick<Backend<unknown>, 'name' | 'allocHostBuffer' | 'freeHostBuffer' | 'hostAddress'>;

export interface PlanStats {
  /** Ops in the user's graph. */
  graphOps: number;
  /** Ops the run needs (after pruning to the fetches), before optimization. */
  opsBefore: number;
  /** Nodes after optimization (a fused kernel counts once). */
  opsAfter: number;
  /** Kernel launches per run. */
  kernels: number;
  /** Launches of fused kernels (generated elementwise, _FusedMatMul, _FusedConv2D, fused losses). */
  fusedKernels: number;
  /** Size of the arena holding every planned intermediate. */
  plannedPeakBytes: number;
  /** Sum of the sizes of those intermediates: what one buffer per intermediate would take. */
  naivePeakBytes: number;
  /**
   * The same for the graph as written (before fusion and the other passes), with the fed shapes:
   * what an interpreter keeping every intermediate would take.
   */
  unoptimizedNaiveBytes: number;
}


/**
 * A compiled run: kernel launches in order over numbered value slots, and (on the CPU) an arena
 * whose byte offsets were decided at compile time. Built once per (fetches, targets, fed tensors,
 * fed shapes) and reused.
 */
export class Plan {
  private arenas: ArenaPool | undefined;
  /**
   * Step contexts: the plan's own, a second set (other GPU buffers) for a loop's odd iterations, and
   * a third for the loop-invariant steps a loop runs once before its first iteration.
   */
  private contexts: (StepContext[] | undefined)[] = [undefined, undefined, undefined];

  constructor(
    readonly steps: readonly Step[],
    readonly numSlots: number,
    readonly feedSlots: ReadonlyMap<Tensor, number>,
    readonly fetchSlots: readonly number[],
    readonly stats: PlanStats,
    /** The pruned graph as the user wrote it, and the graph after the passes. */
    readonly graphs: { readonly before: PlanGraph; readonly after: PlanGraph },
    /** Arena layout, when the plan was optimized. */
    readonly memory: MemoryPlan | undefined,
    readonly optimized: boolean,
  ) {}

  /** The kernels in order, each with its inputs and the arena buffers of its outputs. */
  toString(): string {
    const valueName = new Map<number, string>();
    for (const s of this.steps) s.outputSlots.forEach((slot, i) => valueName.set(slot, `${s.source.name}:${i}`));
    for (const [t, slot] of this.feedSlots) valueName.set(slot, `${t.name}(fed)`);
    const where = (slot: number): string => {
      const p = this.memory?.placement.get(slot);
      if (p) return `[${p.offset}, ${p.buffer.bytes}B]`;
      return '';
    };
    const st = this.stats;
    const head =
      `Plan: ${st.kernels} kernels (${st.fusedKernels} fused) from ${st.opsBefore} ops` +
      (this.memory ? `; arena ${st.plannedPeakBytes} bytes (one buffer each: ${st.naivePeakBytes} bytes)` : '; not optimized');
    const lines = this.steps.map((s, i) => {
      const members = s.source.members && s.source.members.length > 1 ? ` {${s.source.members.join(' + ')}}` : '';
      const ins = s.inputSlots.map((x, k) => (x < 0 ? `&${s.node.refVars[k]}` : `%${x}`)).join(', ');
      const outs = s.outputSlots.map((x) => `%${x}${where(x)}`).join(', ');
      return `${String(i).padStart(4)}  ${s.node.type.padEnd(22)} ${s.node.name}${members}  (${ins}) -> ${outs}`;
    });
    return [head, ...lines].join('\n');
  }

  /**
   * Uploads the fed values, runs the plan and downloads what it fetches.
   * Runs may overlap (Session.run is async): a run holds an arena from a small pool until its
   * results are copied out, and nothing about one run is kept in module or plan state that another
   * run could see. On the CPU every kernel returns at once and results are copied out at once, so a
   * run goes from start to results without yielding: overlapping CPU runs execute whole, in call
   * order. A GPU backend may make a step wait for a read-back.
   * `live` is asked at every point where the run waited: false fails the run with a
   * CancelledError (the session was closed meanwhile).
   */
  async run<H>(backend: Backend<H>, state: RuntimeState<H>, feeds: ReadonlyMap<Tensor, NDArray>, live: () => boolean = () => true): Promise<NDArray[]> {
    const pool = this.memory && backend.name === 'cpu' ? (this.arenas ??= new ArenaPool(this)) : undefined;
    let arena = pool?.tryAcquire(slabOf(state).made, backend);
    if (pool && !arena) {
      arena = await pool.acquire();
      if (!live()) {
        pool.release(arena);
        throw cancelled();
      }
    }
    try {
      const handles = new Map<Tensor, H>();
      for (const [t, v] of feeds) handles.set(t, backend.upload(v));
      const slots = new Array<unknown>(this.numSlots);
      for (const [t, slot] of this.feedSlots) slots[slot] = handles.get(t);
      const r = this.execute(backend, state, slots, arena, live, 0, false) as H[] | Promise<H[]>;
      const fetched = r instanceof Promise ? await r : r;
      // Copied out at once where the backend can: the arena is free again before this run yields.
      // Once results are copied out nothing of the run is alive: its scratch is free for the next
      // run (runtime/slab.ts), unless another run may have started meanwhile.
      const alone = !(r instanceof Promise) || backend.exclusiveRuns === true;
      if (backend.read) {
        const out = fetched.map((h) => backend.read!(h));
        if (alone) resetRunScratch(state, backend);
        return out;
      }
      // Every download starts before any await: the arena (or a GPU plan's buffers) is reused by the next run.
      const out = await Promise.all(fetched.map((h) => backend.download(h)));
      if (alone) resetRunScratch(state, backend);
      return out;
    } finally {
      if (arena) pool!.release(arena);
    }
  }

  /**
   * Runs the plan as a function body (a loop's cond or body, a cond's branch) inside the step of an
   * enclosing plan: `inputs` fill the slots `args`, the results stay where the plan put them (the
   * lease's arena, or context set `set`'s GPU buffers) until the caller copies them out.
   */
  invoke<H>(
    env: RuntimeEnv<H>,
    args: readonly number[],
    inputs: readonly unknown[],
    lease: ArenaLease,
    set: 0 | 1,
    hoisted?: { readonly steps: readonly boolean[]; readonly slots: readonly unknown[] },
  ): unknown[] | Promise<unknown[]> {
    // A lease's slot array serves each call in turn (a call's values are read before the next call on it).
    let slots: unknown[];
    if (lease) {
      slots = lease.slots;
      if (hoisted) for (let i = 0; i < slots.length; i++) slots[i] = hoisted.slots[i];
    } else {
      slots = hoisted ? hoisted.slots.slice() : new Array<unknown>(this.numSlots);
    }
    for (let i = 0; i < args.length; i++) slots[args[i]!] = inputs[i];
    return this.execute(env.backend, env.state, slots, lease, env.live, set, true, hoisted?.steps);
  }

  /**
   * Runs only the steps `steps` marks (a loop body's loop-invariant ones), once, outside any arena
   * (their values must outlive every iteration): the slots they fill are the template each
   * iteration starts from.
   */
  prologue<H>(env: RuntimeEnv<H>, args: readonly number[], inputs: readonly unknown[], steps: readonly boolean[]): unknown[] | Promise<unknown[]> {
    const slots = new Array<unknown>(this.numSlots);
    for (let i = 0; i < args.length; i++) slots[args[i]!] = inputs[i];
    const skip = steps.map((h) => !h);
    const r = this.execute(env.backend, env.state, slots, undefined, env.live, 2, true, skip, true);
    return r instanceof Promise ? r.then(() => slots) : slots;
  }

  /** An arena for one function call (CPU plans with a memory plan; undefined elsewhere). */
  leaseArena(backend: ArenaBackend, state: RuntimeState<unknown>): ArenaLease {
    if (!this.memory || backend.name !== 'cpu') return undefined;
    const pool = (this.arenas ??= new ArenaPool(this, Infinity));
    return pool.tryAcquire(slabOf(state).made, backend);
  }

  returnArena(a: ArenaLease): void {
    // To the pool it came from: the plan may have been disposed (and given a new pool) meanwhile.
    if (a) a.pool.release(a);
  }

  /**
   * Gives back the memory of this plan's arenas and its function bodies' (a closed session's plans):
   * now for those no run holds, when released for the others. The plan stays usable: a later run
   * makes a new arena.
   */
  dispose(): void {
    this.arenas?.dispose();
    this.arenas = undefined;
    for (const s of this.steps) for (const f of Object.values(s.functions ?? {})) f.plan.dispose();
  }

  // The step loop is written without closures: a loop body runs it every iteration, and a closure
  // made per call costs more than a scalar kernel.
  private execute<H>(
    backend: Backend<H>,
    state: RuntimeState<H>,
    slots: unknown[],
    arena: ArenaRuntime | undefined,
    live: () => boolean,
    set: 0 | 1 | 2,
    nested: boolean,
    skip?: readonly boolean[],
    keepAll = false,
  ): unknown[] | Promise<unknown[]> {
    const contexts = (this.contexts[set] ??= this.stepContexts(set));
    arena?.useSlab(slabOf(state));
    // Steps run synchronously until one returns a promise; from there on the loop awaits.
    for (let i = 0; i < this.steps.length; i++) {
      if (skip && skip[i]) continue;
      const r = this.launch(i, backend, state, slots as H[], contexts, arena, live);
      if (r instanceof Promise) return this.resume(i, r, backend, state, slots, contexts, arena, live, nested, skip, keepAll);
      this.store(i, r, backend, slots, arena, keepAll);
    }
    return this.finish(backend, slots, nested, arena);
  }

  private async resume<H>(
    first: number,
    pending: Promise<H[]>,
    backend: Backend<H>,
    state: RuntimeState<H>,
    slots: unknown[],
    contexts: StepContext[],
    arena: ArenaRuntime | undefined,
    live: () => boolean,
    nested: boolean,
    skip: readonly boolean[] | undefined,
    keepAll: boolean,
  ): Promise<unknown[]> {
    this.store(first, await this.settled(pending, first, backend, live), backend, slots, arena, keepAll);
    for (let i = first + 1; i < this.steps.length; i++) {
      if (skip && skip[i]) continue;
      const r = this.launch(i, backend, state, slots as H[], contexts, arena, live);
      this.store(i, r instanceof Promise ? await this.settled(r, i, backend, live) : r, backend, slots, arena, keepAll);
    }
    return this.finish(backend, slots, nested, arena);
  }

  private store<H>(i: number, outputs: H[], backend: Backend<H>, slots: unknown[], arena: ArenaRuntime | undefined, keepAll = false): void {
    const step = this.steps[i]!;
    // Outputs in their planned views have the plan's dtypes and shapes: nothing to check or move.
    if (!arena || !arena.inViews(i, outputs)) {
      try {
        checkOutputs(backend, step, outputs);
      } catch (e) {
        backend.abortRun?.();
        throw e;
      }
      if (arena) arena.settle(i, outputs as unknown as NDArray[]);
    }
    const os = step.outputSlots;
    for (let k = 0; k < os.length; k++) slots[os[k]!] = outputs[k];
    if (keepAll) return;
    const rel = step.release;
    for (let k = 0; k < rel.length; k++) slots[rel[k]!] = undefined;
  }

  private finish<H>(backend: Backend<H>, slots: unknown[], nested: boolean, arena: ArenaRuntime | undefined): unknown[] | Promise<unknown[]> {
    const fs = this.fetchSlots;
    // A function call's results are read by its caller before the next call on the same lease.
    const fetched = nested && arena ? arena.fetched : new Array<unknown>(fs.length);
    for (let k = 0; k < fs.length; k++) fetched[k] = slots[fs[k]!];
    if (nested || !backend.endRun) return fetched;
    return backend.endRun(fetched as H[]).then(() => fetched);
  }

  /** Starts step i, offering its kernel the outputs the arena planned for it. */
  private launch<H>(
    i: number,
    backend: Backend<H>,
    state: RuntimeState<H>,
    slots: (H | undefined)[],
    contexts: StepContext[],
    arena: ArenaRuntime | undefined,
    live: () => boolean,
  ): H[] | Promise<H[]> {
    const step = this.steps[i]!;
    const ins = step.inputSlots;
    // Reference inputs (slot -1) carry no value: the kernel finds the variable through node.refVars.
    // With an arena (one call at a time) each step's input array is reused; no kernel keeps it.
    const inputs = arena ? (arena.inputs[i] as H[]) : new Array<H>(ins.length);
    for (let k = 0; k < ins.length; k++) inputs[k] = ins[k]! >= 0 ? (slots[ins[k]!] as H) : (undefined as H);
    try {
      if (step.runtime) {
        const planned = arena?.hookFor(i);
        const env: RuntimeEnv<H> = arena ? arena.env(i, backend, state, contexts[i], planned, live) : { backend, state, ctx: contexts[i], planned, live };
        return step.runtime(env, step, inputs) as H[] | Promise<H[]>;
      }
      return backend.execute(step.node, inputs, state, contexts[i], arena?.hookFor(i));
    } catch (e) {
      backend.abortRun?.();
      throw wrapKernelError(e, step, backend.name);
    }
  }

  private async settled<H>(p: Promise<H[]>, i: number, backend: Backend<H>, live: () => boolean): Promise<H[]> {
    let outputs: H[];
    try {
      outputs = await p;
    } catch (e) {
      backend.abortRun?.();
      throw live() ? wrapKernelError(e, this.steps[i]!, backend.name) : cancelled();
    }
    if (!live()) {
      backend.abortRun?.();
      throw cancelled();
    }
    return outputs;
  }

  private stepContexts(set: 0 | 1 | 2): StepContext[] {
    const mem = this.memory;
    const regionOf = new Map<object, number>();
    mem?.buffers.forEach((b, i) => regionOf.set(b, i));
    const regionBytes = mem?.buffers.map((b) => b.bytes) ?? [];
    const key = set === 0 ? this : {};
    return this.steps.map((s, step) => ({
      plan: key,
      step,
      regionBytes,
      regions: s.outputSlots.map((slot) => {
        const p = mem?.placement.get(slot);
        return p ? regionOf.get(p.buffer) : undefined;
      }),
    }));
  }
}

/** RuntimeEnv with its fields open to the arena that reuses it. */
type MutableEnv = { -readonly [K in keyof RuntimeEnv<unknown>]: RuntimeEnv<unknown>[K] };

/** Arenas of one plan, one per overlapping run; at most `limit`, later runs wait for one. */
class ArenaPool {
  private readonly free: ArenaRuntime[] = [];
  private readonly waiting: ((a: ArenaRuntime) => void)[] = [];
  private created = 0;
  private disposed = false;
  // A CPU run never yields while it holds an arena, so one arena serves every run; the limit keeps
  // runs that do wait while holding one (a kernel that returns a promise) from each taking a new one.
  constructor(
    private readonly plan: Plan,
    private readonly limit = 2,
  ) {}

  tryAcquire(made: Allocations, backend: ArenaBackend): ArenaRuntime | undefined {
    if (this.free.length) return this.free.pop();
    if (this.created < this.limit) {
      const a = new ArenaRuntime(this.plan, this, backend);
      this.created++;
      made.arenas++;
      return a;
    }
    return undefined;
  }

  acquire(): Promise<ArenaRuntime> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(a: ArenaRuntime): void {
    const next = this.waiting.shift();
    if (next) next(a);
    else if (this.disposed) a.dispose();
    else this.free.push(a);
  }

  /** Frees the arenas no run holds; the ones runs hold are freed as they are released. */
  dispose(): void {
    this.disposed = true;
    for (const a of this.free) a.dispose();
    this.free.length = 0;
  }
}

/** The arena of one plan on the CPU for one run at a time, and the alloc hooks that hand out its views. */
class ArenaRuntime {
  /** The arena's memory: a range of the backend's host memory (the CPU's WebAssembly memory) or an ArrayBuffer of its own. */
  readonly memory: HostBuffer;
  private readonly inHostMemory: boolean;
  /** Per step, per output: the planned view (undefined when the output is not planned). */
  private readonly views: (NDArray | undefined)[][];
  /** Per step, per output: whether the value may sit in the arena without a planned view (aliases). */
  private readonly mayAlias: boolean[][];
  private readonly zero: boolean[];
  /** Steps whose outputs tensor lists keep: they come from the session's slab, never from the arena. */
  private readonly kept: (readonly boolean[] | undefined)[];
  private readonly hooks: (PlannedOutputs | undefined)[] = [];
  /** Per step, per output: whether the current call of the step's kernel has taken its view. */
  private readonly used: boolean[][];
  private slab: Slab | undefined;
  /** A function call's slots, each step's input array and the call's results, reused call after call. */
  readonly slots: unknown[];
  readonly inputs: unknown[][];
  readonly fetched: unknown[];
  /** Per runtime step: the environment its kernel sees, updated in place each call. */
  private readonly envs: (MutableEnv | undefined)[] = [];

  constructor(
    plan: Plan,
    /** The pool the arena goes back to. */
    readonly pool: ArenaPool,
    private readonly backend: ArenaBackend,
  ) {
    const mem = plan.memory!;
    this.memory = allocArena(plan, backend, this);
    this.inHostMemory = !(this.memory.buffer instanceof ArrayBuffer) && backend.hostAddress !== undefined;
    const { buffer, byteOffset } = this.memory;
    this.slots = new Array<unknown>(plan.numSlots);
    this.inputs = plan.steps.map((s) => new Array<unknown>(s.inputSlots.length));
    this.fetched = new Array<unknown>(plan.fetchSlots.length);
    this.views = plan.steps.map((s) =>
      s.outputSlots.map((slot) => {
        const p = mem.placement.get(slot);
        return p ? arrayView(buffer, byteOffset + p.offset, p.dtype, p.shape) : undefined;
      }),
    );
    this.mayAlias = plan.steps.map((s) => s.outputSlots.map(() => isAliasOp(s.node.type)));
    this.zero = plan.steps.map((s) => !isInPlaceOp(s.node.type));
    this.kept = plan.steps.map((s) => s.keptOutputs);
    this.used = this.views.map((v) => v.map(() => false));
  }

  /**
   * The alloc hook for one call of step i's kernel: each planned output view is handed out once.
   * One hook per step, made once; each call starts it afresh (a hook is valid only during the
   * synchronous part of its kernel call, and an arena serves one run at a time).
   */
  hookFor(step: number): PlannedOutputs {
    this.used[step]!.fill(false);
    return (this.hooks[step] ??= this.makeHook(step));
  }

  /** The session slab that steps whose outputs lists keep take their memory from (set by each call). */
  useSlab(slab: Slab): void {
    this.slab = slab;
    slab.useMemory(this.backend);
  }

  /** Whether every output of step i is the view the plan made for it. */
  inViews(i: number, outputs: readonly unknown[]): boolean {
    const views = this.views[i]!;
    if (views.length !== outputs.length) return false;
    for (let k = 0; k < views.length; k++) if (views[k] === undefined || outputs[k] !== views[k]) return false;
    return true;
  }

  /** Step i's runtime-kernel environment for this call (valid while the kernel runs, like the hook). */
  env<H>(i: number, backend: Backend<H>, state: RuntimeState<H>, ctx: StepContext | undefined, planned: PlannedOutputs | undefined, live: () => boolean): RuntimeEnv<H> {
    let e = this.envs[i];
    if (!e) this.envs[i] = e = { backend, state, ctx, planned, live };
    else {
      e.backend = backend;
      e.state = state;
      e.ctx = ctx;
      e.planned = planned;
      e.live = live;
    }
    return e as RuntimeEnv<H>;
  }

  private makeHook(step: number): PlannedOutputs {
    const views = this.views[step]!;
    const zero = this.zero[step]!;
    const used = this.used[step]!;
    const kept = this.kept[step];
    return (dtype, shape, overwritten) => {
      if (kept) return this.slab!.take(dtype, shape);
      for (let k = 0; k < views.length; k++) {
        const v = views[k];
        if (v === undefined || used[k] || v.dtype !== dtype || !sameShape(v.shape, shape)) continue;
        used[k] = true;
        if (zero && overwritten !== true) {
          if (v.dtype === 'int64') (v.data as BigInt64Array).fill(0n);
          else (v.data as Float32Array).fill(0);
        }
        return v;
      }
      this.slab!.made.unplanned++;
      return undefined;
    };
  }

  /**
   * Makes every output of step i safe to keep: a value in the arena is either in its planned view
   * or an alias the planner knows about. A kernel that returned some other arena memory (an input
   * it passed through, a planned buffer it used for something else) gets its result copied where
   * the plan wants it, or out of the arena.
   */
  settle(i: number, outputs: NDArray[]): void {
    const views = this.views[i]!;
    let misplaced: number[] | undefined;
    for (let k = 0; k < outputs.length; k++) {
      const out = outputs[k]!;
      if (!(out instanceof NDArray)) continue;
      const v = views[k];
      if (v !== undefined ? out.data !== v.data && this.holds(out.data) : !this.mayAlias[i]![k] && this.holds(out.data)) {
        (misplaced ??= []).push(k);
      }
    }
    if (!misplaced) return;
    // Copy them all out first: one may sit in the planned buffer of another.
    const copies = misplaced.map((k) => outputs[k]!.clone());
    misplaced.forEach((k, j) => {
      const v = views[k];
      if (v !== undefined) {
        (v.data as Float32Array).set(copies[j]!.data as Float32Array);
        outputs[k] = v;
      } else {
        outputs[k] = copies[j]!;
      }
    });
  }

  /**
   * Whether `d` starts inside this arena. By address range, not buffer identity: the arena may be a
   * range of a memory other values (variables, other arenas) share, and a growing shared memory
   * hands out a new buffer object for the same bytes each time it grows.
   */
  private holds(d: TypedArray): boolean {
    if (!ArrayBuffer.isView(d)) return false;
    const m = this.memory;
    const address = d.buffer === m.buffer ? d.byteOffset : this.inHostMemory ? this.backend.hostAddress!(d) : -1;
    return address >= m.byteOffset && address < m.byteOffset + m.byteLength;
  }

  /** Gives the arena's memory back (nothing may use its views again). */
  dispose(): void {
    this.backend.freeHostBuffer?.(this.memory);
  }
}

/**
 * The arena's memory: from the backend's host memory (owned by `owner`, freed when it is garbage
 * collected), else an ArrayBuffer; when neither can be had, a ResourceExhaustedError naming the
 * largest tensor in it.
 */
function allocArena(plan: Plan, backend: ArenaBackend, owner: object): HostBuffer {
  const mem = plan.memory!;
  const region = backend.allocHostBuffer?.(mem.arenaBytes, owner);
  if (region) return region;
  try {
    const buffer = new ArrayBuffer(mem.arenaBytes);
    return { buffer, byteOffset: 0, byteLength: mem.arenaBytes };
  } catch (e) {
    if (!isAllocationFailure(e)) throw e;
    let largest: { step: Step; k: number; bytes: number } | undefined;
    for (const step of plan.steps) {
      step.outputSlots.forEach((slot, k) => {
        const p = mem.placement.get(slot);
        if (p && (!largest || p.buffer.bytes > largest.bytes)) largest = { step, k, bytes: p.buffer.bytes };
      });
    }
    const out = largest ? largest.step.node.outputs[largest.k]! : undefined;
    const what = largest ? `${largest.step.what}: ` : '';
    throw new ResourceExhaustedError(
      `${what}${oomMessage(out?.shape ?? null, out?.dtype ?? 'float32', 'cpu')} (the plan's arena of ${mem.arenaBytes} bytes could not be allocated: ${(e as Error).message})`,
      largest?.step.opName,
    );
  }
}

function checkOutputs<H>(backend: Backend<H>, step: Step, outputs: H[]): void {
  const expected = step.node.outputs;
  if (outputs.length !== expected.length) {
    throw new InternalError(`${step.what}: kernel produced ${outputs.length} outputs, expected ${expected.length}`, step.node.name);
  }
  for (let i = 0; i < outputs.length; i++) {
    const h = outputs[i]!;
    const t = expected[i]!;
    if (t.dtype === 'variant') continue;
    const dt = backend.dtypeOf(h);
    const shape = backend.shapeOf(h);
    if (dt !== t.dtype || !shapesCompatible(t.shape, shape)) {
      throw new InvalidArgumentError(
        `${step.what}: output ${i} has dtype ${dt} and shape ${formatShape(shape)} at run time, but the graph says ${t.dtype} ${formatShape(t.shape)}`,
        step.node.name,
      );
    }
  }
}

function wrapKernelError(e: unknown, step: Step, device: string): Error {
  const name = step.opName;
  if (e instanceof OpError) {
    if (e.opName === name && e.message.includes(`'${name}'`)) return e;
    const Ctor = e.constructor as new (m: string, op?: string) => OpError;
    return new Ctor(`${step.what}: ${e.message}`, name);
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (isAllocationFailure(e)) {
    // Scratch space, packing buffers, WebAssembly memory: name the op and what it was making.
    const out = step.node.outputs[0];
    return new ResourceExhaustedError(`${step.what}: ${oomMessage(out?.shape ?? null, out?.dtype ?? 'float32', device)}: ${msg}`, name);
  }
  const err = new InternalError(`${step.what}: ${msg}`, name);
  if (e instanceof Error) err.stack = `${err.stack}\nCaused by: ${e.stack}`;
  return err;
}

/** How a run that the closing of its session cut short fails. */
export function cancelled(): CancelledError {
  return new CancelledError('Session has been closed: the run was cancelled.');
}
