/**
 * A pool of worker threads that share one WebAssembly memory with the calling thread and run
 * tasks described by a few numbers in that memory. Started lazily by its first user, shared by
 * every session, and unref'd, so it never keeps a finished process alive.
 *
 * Each worker owns a control block of CTRL_INTS int32 words (plus CTRL_F64 float64 parameters after
 * them) at its own byte offset in the memory. The caller writes the task's parameters there, bumps
 * SEQ and notifies; the worker runs the task, stores SEQ into DONE and notifies back. Both sides
 * block in Atomics.wait, so an idle worker burns no CPU and a dispatch costs no message passing.
 *
 * Workers cannot import the project's .ts files (tsx and vitest only hook the main thread's loader),
 * so each worker runs a self-contained JavaScript source given by the pool's owner.
 *
 * The CPU kernels use one such pool (the shared pool, at the end of this file: one worker per
 * extra core), whose source is made of the task families' sources: the GEMM's products and
 * parallel.ts's drivers run on the same workers.
 *
 * A worker that dies (process.exit inside it, an uncaught error) marks DEAD in its block on the way
 * out and wakes the caller; one that dies without running any code, or hangs, is caught by the
 * caller's bounded wait. Either way the caller gets an answer instead of blocking forever, and the
 * pool is unusable from then on (its owner finishes the task and replaces the pool).
 */
import { availableParallelism, Worker } from '../../src/core/platform.js';
import { config } from '../../src/core/config.js';
import { heapAlloc, heapMemory } from './heap.js';

export const CTRL_INTS = 48;
export const CTRL_F64 = 8;
/** Bytes of one worker's control block (int32 words, then float64 parameters). */
export const CTRL_BYTES = CTRL_INTS * 4 + CTRL_F64 * 8;

/**
 * Control words: READY (1 once started), SEQ (task counter), DONE (last finished SEQ), CMD, ERR,
 * DEAD (1 once exited), SPIN (microseconds a worker polls for its next task before it sleeps),
 * STATE (PENDING once a task is posted, RUNNING once the worker took it, CANCELLED if the caller
 * withdrew it first), ASLEEP (1 while the worker sleeps in Atomics.wait for its next task),
 * WAITING (1 while the caller sleeps waiting for this worker's answer), FAMILY (which task family
 * runs the task: see TaskFamily), then task ints from ARG.
 * A side notifies the other only when the other sleeps: a wake-up is a system call, and a thread
 * still polling sees the change by itself. (Each side sets its flag before its wait checks the
 * word it waits on, and the other changes that word before reading the flag, so no wake-up is
 * missed.)
 */
export const READY = 0;
export const SEQ = 1;
export const DONE = 2;
export const CMD = 3;
export const ERR = 4;
export const DEAD = 5;
export const SPIN = 6;
export const STATE = 7;
export const ASLEEP = 8;
export const WAITING = 9;
export const PENDING = 1;
export const RUNNING = 2;
export const CANCELLED = 3;
export const FAMILY = 10;
export const ARG = 11;
export const CMD_RUN = 0;
export const CMD_EXIT = 1;

/**
 * The worker-side loop, in JavaScript. `runTask(ints, f64s)` must be defined by the source before
 * it; ints and f64s are the control block's views.
 */
export function workerLoopSource(): string {
  return `
const { workerData } = require('node:worker_threads');
const ctlMem = workerData.memory;
const ctl = new Int32Array(ctlMem.buffer, workerData.ctlByte, ${CTRL_INTS});
const f64s = new Float64Array(ctlMem.buffer, workerData.ctlByte + ${CTRL_INTS * 4}, ${CTRL_F64});
process.on('exit', () => {
  Atomics.store(ctl, ${DEAD}, 1);
  Atomics.notify(ctl, ${DONE});
  Atomics.notify(ctl, ${READY});
});
Atomics.store(ctl, ${READY}, 1);
Atomics.notify(ctl, ${READY});
let seen = Atomics.load(ctl, ${SEQ});
for (;;) {
  // Poll a little before sleeping: tasks often come in quick succession, and waking a sleeping
  // thread costs tens of microseconds.
  const until = performance.now() + ctl[${SPIN}] / 1000;
  while (Atomics.load(ctl, ${SEQ}) === seen && performance.now() < until);
  Atomics.store(ctl, ${ASLEEP}, 1);
  Atomics.wait(ctl, ${SEQ}, seen);
  Atomics.store(ctl, ${ASLEEP}, 0);
  const seq = Atomics.load(ctl, ${SEQ});
  if (seq === seen) continue;
  seen = seq;
  if (ctl[${CMD}] === ${CMD_EXIT}) break;
  let err = 0;
  // A task withdrawn before this thread took it (or one whose work this thread already did, having
  // read a later SEQ's parameters) is only acknowledged.
  if (Atomics.compareExchange(ctl, ${STATE}, ${PENDING}, ${RUNNING}) === ${PENDING}) {
    try { runTask(ctl, f64s); } catch (e) { err = 1; }
  }
  Atomics.store(ctl, ${ERR}, err);
  Atomics.store(ctl, ${DONE}, seq);
  if (Atomics.load(ctl, ${WAITING}) !== 0) Atomics.notify(ctl, ${DONE});
}
`;
}

/** How many threads (the caller included) large kernels use: WEIR_CPU_THREADS, else the core count. */
export function threadCount(): number {
  const n = config.cpuThreads() ?? availableParallelism();
  return Number.isFinite(n) && n >= 1 ? Math.min(Math.floor(n), 64) : 1;
}

/** How a wait for a worker's task ended. */
export type TaskEnd = 'done' | 'threw' | 'dead' | 'timeout';

/** Default SPIN: how long threads poll for a worker's next task or its answer before they sleep. */
export const SPIN_US = 50;

/**
 * Split tasks measure their speedup (the calling thread's time per block, times the blocks, over
 * the split's time); on a busy machine the workers may get too little CPU time for a split to pay.
 * After one that did not speed up, the next splittable tasks of its family run on the calling
 * thread alone: 4 of them, doubling while splits keep not paying, up to MAX_BACKOFF; none once one
 * pays. Results are the same either way. The bar is 1 (a split that was slower), not higher: on the
 * MLP training step (784-512-256-10, batch 128), medians measured alternately in one process, a bar
 * of 1.2 took 6.22 ms on a loaded machine, a bar of 1 5.77, no back-off 5.63; on a quiet one 4.80
 * and 4.51, 4.47 and 4.36, 4.29 and 4.24.
 */
const MIN_SPEEDUP = 1;
const MAX_BACKOFF = 256;

/** A task family's switches for splitting its tasks over the workers: on or off, and the back-off. */
export class SplitPolicy {
  private on: boolean;
  private backoffOn = true;
  /** Splittable tasks left to run on the calling thread alone. */
  private skip = 0;
  private backoff = 0;

  /** `possible`: whether this family can split at all here (else the threads stay off). */
  constructor(private readonly possible: boolean) {
    this.on = possible;
  }

  /** Whether the threads are on (they may still be starting, or skipped by the back-off). */
  get enabled(): boolean {
    return this.on;
  }

  /** Turns the threads on or off; returns the previous setting. */
  setEnabled(on: boolean): boolean {
    const prev = this.on;
    this.on = on && this.possible;
    this.skip = this.backoff = 0;
    return prev;
  }

  /** Turns the back-off on (default) or off (tests, benchmarks); returns the previous setting. */
  setBackoff(on: boolean): boolean {
    const prev = this.backoffOn;
    this.backoffOn = on;
    this.skip = this.backoff = 0;
    return prev;
  }

  /** Whether a splittable task may go to the workers now: the threads are on and it is not one the back-off keeps (which it counts). */
  take(): boolean {
    if (!this.on) return false;
    if (this.skip === 0) return true;
    this.skip--;
    return false;
  }

  /** Records a split's speedup. */
  record(speedup: number): void {
    if (this.backoffOn) this.skip = this.backoff = speedup < MIN_SPEEDUP ? Math.min(MAX_BACKOFF, Math.max(4, 2 * this.backoff)) : 0;
  }
}

/** The longest a caller polls for a busy worker's answer before it sleeps (see ThreadPool.wait). */
const MAX_POLL_MS = 5;

/**
 * How long a caller that ran `mine` blocks of a split task in `ms` polls for a worker still busy
 * with one (it has at most one left once the caller found none to claim): about two of the
 * caller's blocks, at most MAX_POLL_MS. A caller that slept instead was seen to wake 2 ms after the
 * worker's answer on a loaded machine; polling made the MLP step 4-6% faster (4.64 ms against
 * 4.83, and 5.63 against 5.98 loaded).
 */
export function pollMs(ms: number, mine: number): number {
  return Math.min(MAX_POLL_MS, (2 * ms) / Math.max(1, mine));
}

export class ThreadPool {
  private readonly workers: Worker[] = [];
  private readonly ctl: Int32Array[] = [];
  private readonly f64: Float64Array[] = [];
  private broken = false;
  /** Resolves once every worker has exited. */
  readonly exited: Promise<void>;

  /**
   * Starts `count` workers running `source` (which must end with workerLoopSource()); worker w's
   * control block is at ctlBytes[w] in `memory`; `data` is added to each worker's workerData.
   */
  constructor(
    memory: WebAssembly.Memory,
    ctlBytes: readonly number[],
    source: string,
    data: Record<string, unknown>,
  ) {
    for (let w = 0; w < ctlBytes.length; w++) {
      const ctlByte = ctlBytes[w]!;
      const ctl = new Int32Array(memory.buffer, ctlByte, CTRL_INTS);
      ctl.fill(0);
      ctl[SPIN] = SPIN_US;
      this.ctl.push(ctl);
      this.f64.push(new Float64Array(memory.buffer, ctlByte + CTRL_INTS * 4, CTRL_F64));
      // No execArgv: the source is plain CommonJS, so the parent's loaders (tsx) and flags such as
      // --input-type=module would only slow it down or break it.
      const worker = new Worker(source, { eval: true, execArgv: [], workerData: { ...data, memory, ctlByte, index: w } });
      worker.unref();
      worker.on('error', () => (this.broken = true));
      this.workers.push(worker);
    }
    this.exited = Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<void>((resolve) =>
            worker.once('exit', () => {
              this.broken = true;
              resolve();
            }),
          ),
      ),
    ).then(() => undefined);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Whether every worker has started and none has died. */
  ready(): boolean {
    return !this.broken && this.ctl.every((c) => Atomics.load(c, READY) === 1 && Atomics.load(c, DEAD) === 0);
  }

  /** Whether the pool may not be used any more (a worker died or timed out, or it was closed). */
  isBroken(): boolean {
    return this.broken;
  }

  /** Resolves once every worker has started (or the pool broke). */
  async whenReady(): Promise<boolean> {
    while (!this.broken && !this.ready()) await new Promise((r) => setTimeout(r, 2));
    return !this.broken;
  }

  /** The parameter views of worker w's control block (ints from ARG on, and the float64s). */
  args(w: number): { ints: Int32Array; f64: Float64Array } {
    return { ints: this.ctl[w]!, f64: this.f64[w]! };
  }

  /** Sets how long (microseconds) the workers and wait() poll before they sleep; returns the previous setting. */
  setSpin(us: number): number {
    const prev = this.ctl[0]?.[SPIN] ?? SPIN_US;
    for (const ctl of this.ctl) Atomics.store(ctl, SPIN, Math.max(0, Math.round(us)));
    return prev;
  }

  /** Starts worker w on the task of task family `family` whose parameters were written with args(w). */
  start(w: number, family: number): void {
    const ctl = this.ctl[w]!;
    ctl[CMD] = CMD_RUN;
    ctl[FAMILY] = family;
    Atomics.store(ctl, STATE, PENDING);
    Atomics.add(ctl, SEQ, 1);
    if (Atomics.load(ctl, ASLEEP) !== 0) Atomics.notify(ctl, SEQ);
  }

  /**
   * Withdraws worker w's last task if the worker has not taken it yet (it is asleep or descheduled):
   * then it never runs it, and there is nothing to wait for. False when the worker already took it.
   */
  cancel(w: number): boolean {
    return Atomics.compareExchange(this.ctl[w]!, STATE, PENDING, CANCELLED) === PENDING;
  }

  /**
   * Blocks until worker w finished its last task, or died, or `timeoutMs` passed. A worker that
   * died or timed out breaks the pool: it may never run another task (a worker that timed out may
   * still be running this one: nothing it writes after this may be read). It polls for the answer
   * for the pool's SPIN, or `spinMs` when longer, before it sleeps: a caller that knows the worker
   * is busy with a block of work about as long as its own can poll through it, because waking a
   * sleeping thread costs tens of microseconds on an idle machine and milliseconds on a loaded one.
   */
  wait(w: number, timeoutMs = Infinity, spinMs = 0): TaskEnd {
    const ctl = this.ctl[w]!;
    const seq = Atomics.load(ctl, SEQ);
    const now = performance.now();
    const deadline = now + timeoutMs;
    const spinUntil = now + Math.min(timeoutMs, Math.max(spinMs, ctl[SPIN]! / 1000));
    while (Atomics.load(ctl, DONE) !== seq && Atomics.load(ctl, DEAD) === 0 && performance.now() < spinUntil);
    for (;;) {
      const done = Atomics.load(ctl, DONE);
      if (done === seq) return Atomics.load(ctl, ERR) === 0 ? 'done' : 'threw';
      if (Atomics.load(ctl, DEAD) !== 0) {
        this.broken = true;
        return 'dead';
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        this.broken = true;
        return 'timeout';
      }
      Atomics.store(ctl, WAITING, 1);
      Atomics.wait(ctl, DONE, done, Math.min(left, 1000));
      Atomics.store(ctl, WAITING, 0);
    }
  }

  /** Stops every worker; resolves when they have exited. */
  async close(): Promise<void> {
    this.broken = true;
    for (const ctl of this.ctl) {
      ctl[CMD] = CMD_EXIT;
      Atomics.add(ctl, SEQ, 1);
      Atomics.notify(ctl, SEQ);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
    await this.exited;
  }
}

// ---- the shared pool ----

/**
 * A kind of task the shared workers run (gemm.ts's products, parallel.ts's drivers). Each worker
 * runs every family's source once, in a function scope of its own: `source()` is the body of a
 * function of `familyData` (the family's `data()`, plus `memory`, the WebAssembly memory, and
 * `index`, the worker's index) that sets up what the family's tasks need and returns its
 * runTask(ints, f64s). A task's FAMILY word picks the family that runs it.
 */
export interface TaskFamily {
  source(): string;
  data(): Record<string, unknown>;
}

/**
 * Most times the shared pool is replaced after a worker died or hung; after that every family runs
 * on the calling thread alone.
 */
const MAX_REPLACEMENTS = 3;

const families: TaskFamily[] = [];
/** The workers' control blocks in the heap (allocated with the first pool), -1 before. */
let ctlAt = -1;
let pool: ThreadPool | null = null;
/** A pool given up on (a worker died or hung, or a family came after it started) that has not exited yet: no new pool until it has, so that none of its workers can still write into the memory. */
let retiring: ThreadPool | null = null;
let replacements = 0;
let failed = false;
/** Whether the running pool lacks a family added since it started. */
let stale = false;

/** How many workers the shared pool has when it runs: one fewer than threadCount(), none without a shared WebAssembly memory. */
export function sharedWorkers(): number {
  return heapMemory()?.shared ? threadCount() - 1 : 0;
}

/**
 * Adds a task family to the shared workers; returns its number (the FAMILY word of its tasks). A
 * pool already running is replaced, once its workers exit, by one that has the new family too.
 */
export function addTaskFamily(family: TaskFamily): number {
  families.push(family);
  if (pool !== null) stale = true;
  return families.length - 1;
}

function sharedSource(): string {
  const scopes = families.map((f, i) => `((familyData) => {\n${f.source()}\n})({ ...sharedData.families[${i}], memory: sharedData.memory, index: sharedData.index })`);
  return `'use strict';
var __name = (f) => f;
const sharedData = require('node:worker_threads').workerData;
const tasks = [
${scopes.join(',\n')}
];
function runTask(t, f) {
  tasks[t[${FAMILY}]](t, f);
}
${workerLoopSource()}`;
}

/**
 * The shared pool, started when needed; null where threads cannot run (no shared memory, one
 * thread, too many failures) or while a pool given up on is still exiting. Its workers may not be
 * up yet (see sharedPoolReady).
 */
export function sharedPool(): ThreadPool | null {
  if (failed || retiring !== null || families.length === 0) return null;
  if (pool !== null && stale) {
    retire(pool, false);
    return null;
  }
  if (pool !== null) return pool;
  const workers = sharedWorkers();
  if (workers > 0) {
    const heap = heapMemory()!;
    try {
      if (ctlAt < 0) ctlAt = heapAlloc(workers * CTRL_BYTES);
      if (ctlAt < 0) throw new Error('no memory for the control blocks');
      const ctl = Array.from({ length: workers }, (_, w) => ctlAt + w * CTRL_BYTES);
      pool = new ThreadPool(heap.memory, ctl, sharedSource(), { families: families.map((f) => f.data()) });
      stale = false;
    } catch {
      failed = true;
      pool = null;
    }
  }
  return pool;
}

/** The shared pool when its workers are up and none has died (one that died is given up on: null). */
export function sharedPoolReady(): ThreadPool | null {
  const p = sharedPool();
  if (p === null) return null;
  if (p.isBroken()) {
    retire(p, true);
    return null;
  }
  return p.ready() ? p : null;
}

/**
 * Gives up on pool p (a worker died or hung, when `failure`): it is stopped (a hung worker is
 * terminated), and a new one may start once all its workers have exited. After MAX_REPLACEMENTS
 * failures the threads stay off.
 */
export function retireSharedPool(p: ThreadPool): void {
  retire(p, true);
}

function retire(p: ThreadPool, failure: boolean): void {
  if (pool === p) pool = null;
  if (failure && ++replacements >= MAX_REPLACEMENTS) failed = true;
  retiring = p;
  void p.close().then(() => {
    if (retiring === p) retiring = null;
  });
}

/** Starts the shared workers now rather than at the first large task; resolves to whether they run. */
export async function startSharedPool(): Promise<boolean> {
  for (;;) {
    const r = retiring;
    if (r !== null) await r.close();
    const p = sharedPool();
    if (p === null && retiring !== null) continue;
    return p !== null && (await p.whenReady());
  }
}

/** Stops the shared workers (they start again at the next large task); resolves when they have exited. */
export async function stopSharedPool(): Promise<void> {
  const p = pool;
  pool = null;
  if (p !== null) await p.close();
}

/** Whether the shared pool may run (a shared memory, more than one thread, not given up on after failures). */
export function sharedPoolAvailable(): boolean {
  return sharedWorkers() > 0 && !failed;
}

/** How many times the shared pool was replaced after a worker died or hung. */
export function sharedPoolReplacements(): number {
  return replacements;
}

/** The number of shared workers running now (0 before the first large task). */
export function sharedPoolSize(): number {
  return pool?.size ?? 0;
}
