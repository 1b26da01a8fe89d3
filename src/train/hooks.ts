/**
 * TF1's SessionRunHook protocol (training/session_run_hook.py) and the basic hooks
 * (training/basic_session_run_hooks.py) that tf.train.MonitoredSession runs around each step.
 *
 * A hook's methods may return promises (reading the global step is a session run, and runs are
 * async here); the monitored session awaits each in turn, hooks in their list order.
 */
import { add } from '../api/math.js';
import { FailedPreconditionError, InvalidArgumentError } from '../core/errors.js';
import type { NDArray } from '../core/ndarray.js';
import { getDefaultGraph, GraphKeys, Tensor, type Graph } from '../graph.js';
import { writeGraph } from '../io/graph_def.js';
import { FileWriter, FileWriterCache } from '../io/events.js';
import { joinPath } from '../io/fs.js';
import { bigIntToInt64, type EventProto } from '../io/proto.js';
import type { Saver } from '../io/saver.js';
import type { FeedDict, Fetches, Session } from '../session.js';
import { Variable } from '../variables.js';
import type { Scaffold } from './monitored_session.js';
import { getGlobalStep } from './training_util.js';

// ---- the protocol ----

/** What a hook adds to the coming run: more fetches (their values come back in afterRun) and feeds. */
export class SessionRunArgs {
  constructor(
    readonly fetches: Fetches | null = null,
    readonly feedDict: FeedDict | null = null,
  ) {}
}

/** The run about to happen (the caller's fetches and feeds) and the session; a hook may ask the loop to stop. */
export class SessionRunContext {
  private stop = false;
  constructor(
    readonly originalArgs: SessionRunArgs,
    readonly session: Session,
  ) {}
  /** Makes the monitored session's shouldStop() true after this run. */
  requestStop(): void {
    this.stop = true;
  }
  get stopRequested(): boolean {
    return this.stop;
  }
}

/** The values of the fetches a hook's beforeRun asked for (null when it asked for none). */
export class SessionRunValues {
  constructor(readonly results: unknown) {}
}

type MaybePromise<T> = T | Promise<T>;

/**
 * A hook into a monitored session's life (subclass it and override what you need):
 * `begin()` once before the session is created (the place to add ops to the graph),
 * `afterCreateSession(session)` once the variables are restored or initialized,
 * `beforeRun(context)` / `afterRun(context, values)` around every run, `end(session)` when the
 * monitored session is closed (not after a run that threw).
 */
export class SessionRunHook {
  begin(): void {}
  afterCreateSession(_session: Session): MaybePromise<void> {}
  beforeRun(_runContext: SessionRunContext): MaybePromise<SessionRunArgs | null | undefined | void> {}
  afterRun(_runContext: SessionRunContext, _runValues: SessionRunValues): MaybePromise<void> {}
  end(_session: Session): MaybePromise<void> {}
}

// ---- shared pieces ----

/** TF's _get_or_create_global_step_read: 'global_step/add' (the step + 0), cached in a collection. */
const GLOBAL_STEP_READ_KEY = 'global_step_read_op_cache';

function globalStepRead(hookName: string, graph: Graph = getDefaultGraph()): Tensor {
  const cached = graph.getCollection<Tensor>(GLOBAL_STEP_READ_KEY);
  if (cached.length > 1) throw new InvalidArgumentError(`There are multiple items in collection ${GLOBAL_STEP_READ_KEY}. There should be only one.`);
  if (cached.length === 1) return cached[0]!;
  const step = getGlobalStep(graph);
  if (step === null) throw new FailedPreconditionError(`Global step should be created to use ${hookName} (tf.train.getOrCreateGlobalStep()).`);
  const read = graph.asDefault(() =>
    graph.nameScope(`${step.op.name}/`, () => add(step instanceof Variable ? step.value() : step, 0, 'add')),
  );
  graph.addToCollection(GLOBAL_STEP_READ_KEY, read);
  return read;
}

async function readStep(session: Session, step: Tensor): Promise<number> {
  return Number((await session.run(step)).scalar());
}

function stepOf(results: unknown): number {
  return Number((results as NDArray).scalar());
}

/** SessionLog.SessionStatus values. */
const SESSION_STATUS = { START: 1, STOP: 2, CHECKPOINT: 3 } as const;

function addSessionLog(writer: FileWriter, status: keyof typeof SESSION_STATUS, step: number, checkpointPath?: string): void {
  const event: EventProto = {
    session_log: { status: SESSION_STATUS[status], ...(checkpointPath === undefined ? {} : { checkpoint_path: checkpointPath }) },
    step: bigIntToInt64(BigInt(step)),
  };
  writer.addEvent(event);
}

/**
 * TF's SecondOrStepTimer: triggers every `everySteps` steps or every `everySecs` seconds (exactly one
 * of them), and always on its first query.
 */
export class SecondOrStepTimer {
  private lastStep: number | null = null;
  private lastTime: number | null = null;
  constructor(
    readonly everySecs: number | null = null,
    readonly everySteps: number | null = null,
  ) {
    if (everySecs === null && everySteps === null) throw new InvalidArgumentError('Either everySecs or everySteps should be provided.');
    if (everySecs !== null && everySteps !== null) throw new InvalidArgumentError('Can not provide both everySecs and everySteps.');
  }
  reset(): void {
    this.lastStep = null;
    this.lastTime = null;
  }
  shouldTriggerForStep(step: number): boolean {
    if (this.lastStep === null) return true;
    if (this.lastStep === step) return false;
    if (this.everySecs !== null && Date.now() / 1000 >= this.lastTime! + this.everySecs) return true;
    if (this.everySteps !== null && step >= this.lastStep + this.everySteps) return true;
    return false;
  }
  /** Records a trigger at `step`; returns the seconds and steps since the previous one (null the first time). */
  updateLastTriggeredStep(step: number): [number | null, number | null] {
    const now = Date.now() / 1000;
    const elapsed: [number | null, number | null] = this.lastTime === null ? [null, null] : [now - this.lastTime, step - this.lastStep!];
    this.lastTime = now;
    this.lastStep = step;
    return elapsed;
  }
  lastTriggeredStep(): number | null {
    return this.lastStep;
  }
}

/** A timer that never triggers (LoggingTensorHook with only atEnd). */
class NeverTriggerTimer extends SecondOrStepTimer {
  constructor() {
    super(null, 1);
  }
  override shouldTriggerForStep(): boolean {
    return false;
  }
}

/** At least one positive, integral count, or seconds. */
function checkEvery(what: string, v: number | null | undefined, integral: boolean): void {
  if (v === null || v === undefined) return;
  if (!(v > 0) || (integral && !Number.isInteger(v))) throw new InvalidArgumentError(`invalid ${what}=${v}.`);
}

// ---- the hooks ----

export interface StopAtStepHookOptions {
  /** Steps to run from the global step found when the session is created. */
  numSteps?: number;
  /** The global step at which to stop. */
  lastStep?: number;
}

/** Requests a stop once the global step reaches `lastStep` (or the starting step + `numSteps`). */
export class StopAtStepHook extends SessionRunHook {
  private readonly numSteps: number | undefined;
  private lastStep: number | undefined;
  private step!: Tensor;

  constructor(opts: StopAtStepHookOptions) {
    super();
    if (opts.numSteps === undefined && opts.lastStep === undefined) throw new InvalidArgumentError('One of numSteps or lastStep must be specified.');
    if (opts.numSteps !== undefined && opts.lastStep !== undefined) throw new InvalidArgumentError('Only one of numSteps or lastStep can be specified.');
    this.numSteps = opts.numSteps;
    this.lastStep = opts.lastStep;
  }
  override begin(): void {
    this.step = globalStepRead('StopAtStepHook');
  }
  override async afterCreateSession(session: Session): Promise<void> {
    if (this.lastStep === undefined) this.lastStep = (await readStep(session, this.step)) + this.numSteps!;
  }
  override beforeRun(): SessionRunArgs {
    return new SessionRunArgs(this.step);
  }
  override async afterRun(ctx: SessionRunContext, values: SessionRunValues): Promise<void> {
    // The fetched step may be from before or after the train op's increment: check the real one.
    if (stepOf(values.results) + 1 >= this.lastStep! && (await readStep(ctx.session, this.step)) >= this.lastStep!) ctx.requestStop();
  }
}

/** Hooks into a CheckpointSaverHook's saves (TF's CheckpointSaverListener). */
export class CheckpointSaverListener {
  begin(): void {}
  beforeSave(_session: Session, _globalStep: number): MaybePromise<void> {}
  /** Returning true asks the training loop to stop. */
  afterSave(_session: Session, _globalStep: number): MaybePromise<boolean | void> {}
  end(_session: Session, _globalStep: number): MaybePromise<void> {}
}

export interface CheckpointSaverHookOptions {
  saveSecs?: number;
  saveSteps?: number;
  /** The Saver to use (else the scaffold's, else the one in the SAVERS collection). */
  saver?: Saver;
  /** Checkpoint prefix inside checkpointDir (default 'model.ckpt'). */
  checkpointBasename?: string;
  scaffold?: Scaffold;
  listeners?: CheckpointSaverListener[];
}

/**
 * Saves a checkpoint '<checkpointDir>/model.ckpt-<global step>' when the session is created, every
 * saveSteps steps or saveSecs seconds, and at the end (unless that step was just saved); writes the
 * graph to graph.pbtxt and to the directory's event file.
 */
export class CheckpointSaverHook extends SessionRunHook {
  private readonly timer: SecondOrStepTimer;
  private readonly savePath: string;
  private saver: Saver | undefined;
  private readonly scaffold: Scaffold | undefined;
  private readonly listeners: CheckpointSaverListener[];
  private step!: Tensor;
  private writer!: FileWriter;

  constructor(
    readonly checkpointDir: string,
    opts: CheckpointSaverHookOptions = {},
  ) {
    super();
    if (opts.saver && opts.scaffold) throw new InvalidArgumentError('You cannot provide both saver and scaffold.');
    checkEvery('saveSteps', opts.saveSteps, true);
    checkEvery('saveSecs', opts.saveSecs, false);
    this.timer = new SecondOrStepTimer(opts.saveSecs ?? null, opts.saveSteps ?? null);
    this.savePath = joinPath(checkpointDir, opts.checkpointBasename ?? 'model.ckpt');
    this.saver = opts.saver;
    this.scaffold = opts.scaffold;
    this.listeners = opts.listeners ?? [];
  }
  override begin(): void {
    this.writer = FileWriterCache.get(this.checkpointDir);
    this.step = globalStepRead('CheckpointSaverHook');
    for (const l of this.listeners) l.begin();
  }
  override async afterCreateSession(session: Session): Promise<void> {
    const step = await readStep(session, this.step);
    // Written here, not in begin(): other hooks may still add ops in their begin().
    await writeGraph(session.graph, this.checkpointDir, 'graph.pbtxt');
    this.writer.addGraph(session.graph);
    await this.save(session, step);
    this.timer.updateLastTriggeredStep(step);
  }
  override beforeRun(): SessionRunArgs {
    return new SessionRunArgs(this.step);
  }
  override async afterRun(ctx: SessionRunContext, values: SessionRunValues): Promise<void> {
    if (!this.timer.shouldTriggerForStep(stepOf(values.results) + 1)) return;
    const step = await readStep(ctx.session, this.step);
    if (this.timer.shouldTriggerForStep(step)) {
      this.timer.updateLastTriggeredStep(step);
      if (await this.save(ctx.session, step)) ctx.requestStop();
    }
  }
  override async end(session: Session): Promise<void> {
    const step = await readStep(session, this.step);
    if (step !== this.timer.lastTriggeredStep()) await this.save(session, step);
    for (const l of this.listeners) await l.end(session, step);
    await this.writer.flush();
  }
  /** Saves at `step`; true when a listener asks to stop. */
  private async save(session: Session, step: number): Promise<boolean> {
    for (const l of this.listeners) await l.beforeSave(session, step);
    await this.getSaver(session.graph).save(session, this.savePath, { globalStep: step });
    addSessionLog(this.writer, 'CHECKPOINT', step, this.savePath);
    let stop = false;
    for (const l of this.listeners) if ((await l.afterSave(session, step)) === true) stop = true;
    return stop;
  }
  private getSaver(graph: Graph): Saver {
    if (this.saver) return this.saver;
    const fromScaffold = this.scaffold?.saver;
    if (fromScaffold) return fromScaffold;
    const savers = graph.getCollection<Saver>(GraphKeys.SAVERS);
    if (savers.length === 0) throw new FailedPreconditionError('No items in collection savers. Please add a saver to the collection or provide a saver or scaffold.');
    if (savers.length > 1) throw new FailedPreconditionError('More than one item in collection savers. Please indicate which one to use by passing it to the constructor.');
    return (this.saver = savers[0]!);
  }
}

export interface SummarySaverHookOptions {
  saveSteps?: number;
  saveSecs?: number;
  /** Directory of the event file (a shared FileWriter, see FileWriterCache). */
  outputDir?: string;
  summaryWriter?: FileWriter;
  /** Where the summary op comes from (exactly one of scaffold and summaryOp). */
  scaffold?: Scaffold;
  summaryOp?: Tensor | readonly Tensor[];
}

/** Runs the summary op every saveSteps steps or saveSecs seconds and writes its output at the global step. */
export class SummarySaverHook extends SessionRunHook {
  private readonly timer: SecondOrStepTimer;
  private writer: FileWriter | undefined;
  private nextStep: number | null = null;
  private requestSummary = false;
  private step!: Tensor;

  constructor(private readonly opts: SummarySaverHookOptions) {
    super();
    if ((opts.scaffold === undefined) === (opts.summaryOp === undefined)) throw new InvalidArgumentError('Exactly one of scaffold or summaryOp must be provided.');
    checkEvery('saveSteps', opts.saveSteps, true);
    checkEvery('saveSecs', opts.saveSecs, false);
    this.timer = new SecondOrStepTimer(opts.saveSecs ?? null, opts.saveSteps ?? null);
    this.writer = opts.summaryWriter;
  }
  override begin(): void {
    if (!this.writer && this.opts.outputDir) this.writer = FileWriterCache.get(this.opts.outputDir);
    this.nextStep = null;
    this.step = globalStepRead('SummarySaverHook');
  }
  override beforeRun(): SessionRunArgs {
    this.requestSummary = this.nextStep === null || this.timer.shouldTriggerForStep(this.nextStep);
    const summaries = this.requestSummary ? this.summaryOps() : [];
    return new SessionRunArgs(summaries.length > 0 ? { globalStep: this.step, summary: summaries } : { globalStep: this.step });
  }
  override async afterRun(ctx: SessionRunContext, values: SessionRunValues): Promise<void> {
    if (!this.writer) return;
    const results = values.results as { globalStep: NDArray; summary?: NDArray[] };
    let step = stepOf(results.globalStep) + 1;
    if (this.nextStep === null || this.requestSummary) step = await readStep(ctx.session, this.step);
    if (this.nextStep === null) addSessionLog(this.writer, 'START', step);
    if (this.requestSummary) {
      this.timer.updateLastTriggeredStep(step);
      for (const s of results.summary ?? []) this.writer.addSummary(s, step);
    }
    this.nextStep = step + 1;
  }
  override async end(): Promise<void> {
    await this.writer?.flush();
  }
  private summaryOps(): Tensor[] {
    const op = this.opts.summaryOp ?? this.opts.scaffold!.summaryOp;
    if (op === null || op === undefined) return [];
    return op instanceof Tensor ? [op] : [...op];
  }
}

export interface StepCounterHookOptions {
  everyNSteps?: number;
  everyNSecs?: number;
  outputDir?: string;
  summaryWriter?: FileWriter;
}

/**
 * Measures global steps per second every everyNSteps steps (default 100) or everyNSecs seconds; logs
 * it (console.info) and writes it as the summary '<global step op>/sec'.
 */
export class StepCounterHook extends SessionRunHook {
  private readonly timer: SecondOrStepTimer;
  private writer: FileWriter | undefined;
  private lastGlobalStep: number | null = null;
  private warnings = 0;
  private step!: Tensor;
  private tag = '';

  constructor(private readonly opts: StepCounterHookOptions = {}) {
    super();
    const steps = opts.everyNSteps ?? (opts.everyNSecs === undefined ? 100 : undefined);
    if ((steps === undefined) === (opts.everyNSecs === undefined)) throw new InvalidArgumentError('exactly one of everyNSteps and everyNSecs should be provided.');
    checkEvery('everyNSteps', steps, true);
    checkEvery('everyNSecs', opts.everyNSecs, false);
    this.timer = new SecondOrStepTimer(opts.everyNSecs ?? null, steps ?? null);
    this.writer = opts.summaryWriter;
  }
  override begin(): void {
    if (!this.writer && this.opts.outputDir) this.writer = FileWriterCache.get(this.opts.outputDir);
    this.step = globalStepRead('StepCounterHook');
    this.tag = `${getGlobalStep()!.op.name}/sec`;
  }
  override async afterCreateSession(session: Session): Promise<void> {
    await session.run(this.step);
    this.lastGlobalStep = null;
    this.timer.reset();
  }
  override beforeRun(): SessionRunArgs {
    return new SessionRunArgs(this.step);
  }
  override async afterRun(ctx: SessionRunContext, values: SessionRunValues): Promise<void> {
    const stale = stepOf(values.results);
    if (this.timer.shouldTriggerForStep(stale + 1)) {
      const step = await readStep(ctx.session, this.step);
      if (this.timer.shouldTriggerForStep(step)) {
        const [secs, steps] = this.timer.updateLastTriggeredStep(step);
        if (secs !== null && steps !== null) {
          const perSec = steps / secs;
          this.writer?.addSummary({ value: [{ tag: this.tag, simple_value: perSec }] }, step);
          console.info(`${this.tag}: ${perSec.toPrecision(6)}`);
        }
      }
    }
    if (stale === this.lastGlobalStep && this.warnings < 5) {
      this.warnings++;
      console.warn(
        `It seems that global step (tf.train.getGlobalStep) has not been increased. Current value (could be stable): ${stale} vs previous value: ${this.lastGlobalStep}. ` +
          'You could increase the global step by passing tf.train.getGlobalStep() to Optimizer.applyGradients or Optimizer.minimize.',
      );
    }
    this.lastGlobalStep = stale;
  }
}

export interface LoggingTensorHookOptions {
  everyNIter?: number;
  everyNSecs?: number;
  /** Also log (or only log, without everyNIter/everyNSecs) the values when the session closes. */
  atEnd?: boolean;
  /** Makes the logged line from the values by tag (default 'tag = value, ...'). */
  formatter?: (values: Record<string, NDArray>) => string;
}

/** A tensor to log: a Tensor, a Variable (its value) or a tensor name. */
export type LoggedTensor = Tensor | Variable | string;

/**
 * Logs (console.info) the values of `tensors` every everyNIter runs or everyNSecs seconds:
 * 'loss = 0.25, step = 3 (0.012 sec)'. `tensors` is a list (tensors or tensor names, each its own
 * tag) or a {tag: tensor} map (logged in sorted tag order).
 */
export class LoggingTensorHook extends SessionRunHook {
  private readonly tensors: [string, LoggedTensor][];
  private readonly timer: SecondOrStepTimer;
  private current: Record<string, Tensor> = {};
  private iter = 0;
  private shouldTrigger = false;

  constructor(
    tensors: readonly LoggedTensor[] | Readonly<Record<string, LoggedTensor>>,
    private readonly opts: LoggingTensorHookOptions = {},
  ) {
    super();
    const onlyAtEnd = (opts.atEnd ?? false) && opts.everyNIter === undefined && opts.everyNSecs === undefined;
    if (!onlyAtEnd && (opts.everyNIter === undefined) === (opts.everyNSecs === undefined)) {
      throw new InvalidArgumentError('either atEnd and/or exactly one of everyNIter and everyNSecs must be provided.');
    }
    checkEvery('everyNIter', opts.everyNIter, true);
    checkEvery('everyNSecs', opts.everyNSecs, false);
    this.tensors = Array.isArray(tensors)
      ? (tensors as readonly LoggedTensor[]).map((t) => [typeof t === 'string' ? t : t.name, t])
      : Object.entries(tensors as Record<string, LoggedTensor>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.timer = onlyAtEnd ? new NeverTriggerTimer() : new SecondOrStepTimer(opts.everyNSecs ?? null, opts.everyNIter ?? null);
  }
  override begin(): void {
    this.timer.reset();
    this.iter = 0;
    const g = getDefaultGraph();
    this.current = Object.fromEntries(
      this.tensors.map(([tag, t]) => [tag, typeof t === 'string' ? asTensor(g, t) : t instanceof Variable ? t.value() : t]),
    );
  }
  override beforeRun(): SessionRunArgs | null {
    this.shouldTrigger = this.timer.shouldTriggerForStep(this.iter);
    return this.shouldTrigger ? new SessionRunArgs(this.current) : null;
  }
  override afterRun(_ctx: SessionRunContext, values: SessionRunValues): void {
    if (this.shouldTrigger) this.log(values.results as Record<string, NDArray>);
    this.iter++;
  }
  override async end(session: Session): Promise<void> {
    if (this.opts.atEnd) this.log((await session.run(this.current)) as Record<string, NDArray>);
  }
  private log(values: Record<string, NDArray>): void {
    const [secs] = this.timer.updateLastTriggeredStep(this.iter);
    if (this.opts.formatter) {
      console.info(this.opts.formatter(values));
      return;
    }
    const stats = this.tensors.map(([tag]) => `${tag} = ${formatValue(values[tag]!)}`).join(', ');
    console.info(secs === null ? stats : `${stats} (${secs.toFixed(3)} sec)`);
  }
}

/** A tensor by name ('loss:0', or an op name 'loss' meaning its first output), as TF's _as_graph_element. */
function asTensor(g: Graph, name: string): Tensor {
  const el = g.asGraphElement(name);
  if (el instanceof Tensor) return el;
  if (el.outputs.length !== 1) throw new InvalidArgumentError(`Name ${name} is ambiguous, as this Operation has ${el.outputs.length} outputs (at least 2 required)`);
  return el.outputs[0]!;
}

function formatValue(v: NDArray): string {
  const plain = (x: unknown): unknown => (typeof x === 'bigint' ? Number(x) : x);
  return v.rank === 0 ? String(plain(v.scalar())) : JSON.stringify(v.toArray(), (_k, x: unknown) => plain(x));
}

/** TF's NanLossDuringTrainingError, thrown by NanTensorHook. */
export class NanLossDuringTrainingError extends Error {
  constructor() {
    super('NaN loss during training.');
    this.name = 'NanLossDuringTrainingError';
  }
}

/** Checks the loss after every run: a NaN throws NanLossDuringTrainingError, or, with failOnNanLoss false, stops the loop. */
export class NanTensorHook extends SessionRunHook {
  private readonly failOnNanLoss: boolean;
  constructor(
    readonly lossTensor: Tensor,
    opts: { failOnNanLoss?: boolean } = {},
  ) {
    super();
    this.failOnNanLoss = opts.failOnNanLoss ?? true;
  }
  override beforeRun(): SessionRunArgs {
    return new SessionRunArgs(this.lossTensor);
  }
  override afterRun(ctx: SessionRunContext, values: SessionRunValues): void {
    const loss = values.results as NDArray;
    if (!Array.from(loss.data as ArrayLike<number>).some((x) => Number.isNaN(x))) return;
    const message = 'Model diverged with loss = NaN.';
    if (this.failOnNanLoss) {
      console.error(message);
      throw new NanLossDuringTrainingError();
    }
    console.warn(message);
    ctx.requestStop();
  }
}

/** Runs `finalOps` when the session closes; their values are then in finalOpsValues. */
export class FinalOpsHook extends SessionRunHook {
  private values: unknown = null;
  constructor(
    readonly finalOps: Fetches,
    readonly finalOpsFeedDict?: FeedDict,
  ) {
    super();
  }
  get finalOpsValues(): unknown {
    return this.values;
  }
  override async end(session: Session): Promise<void> {
    this.values = await session.run(this.finalOps, this.finalOpsFeedDict);
  }
}

/** Feeds what `feedFn()` returns into every run. */
export class FeedFnHook extends SessionRunHook {
  constructor(readonly feedFn: () => FeedDict) {
    super();
  }
  override beforeRun(): SessionRunArgs {
    return new SessionRunArgs(null, this.feedFn());
  }
}

