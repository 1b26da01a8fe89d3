/**
 * tf.train.MonitoredTrainingSession, MonitoredSession, SingularMonitoredSession and Scaffold
 * (TF 1.15's training/monitored_session.py): a session that restores the latest checkpoint of its
 * directory or runs the initializers, runs hooks around every step, and saves checkpoints and
 * summaries as it trains.
 *
 * TF1's `with tf.train.MonitoredTrainingSession(...) as sess:` becomes an awaited factory and an
 * explicit close, which runs the hooks' end() (the final checkpoint):
 *
 *   const sess = await tf.train.MonitoredTrainingSession({ checkpointDir, hooks });
 *   try {
 *     while (!sess.shouldStop()) await sess.run(trainOp, feeds);
 *   } finally {
 *     await sess.close();
 *   }
 *
 * As when TF's `with` block is left by an exception, close() right after a run that threw (an error
 * other than OutOfRangeError, with no successful run since) skips the hooks' end(): a NaN loss does
 * not end in a final checkpoint.
 */
import { group } from '../api/core.js';
import { tablesInitializer } from '../api/lookup.js';
import { isNestedContainer } from '../api/nest.js';
import { isVariableLike } from '../convert.js';
import { FailedPreconditionError, InvalidArgumentError, OutOfRangeError, UnimplementedError } from '../core/errors.js';
import { getDefaultGraph, GraphKeys, Operation, Tensor, type Graph } from '../graph.js';
import { getCheckpointState } from '../io/checkpoint.js';
import { Saver } from '../io/saver.js';
import { mergeAll } from '../io/summary.js';
import { Session, type FeedDict, type FeedKey, type FeedStructure, type Fetches, type FetchResult, type SessionOptions } from '../session.js';
import { globalVariablesInitializer, localVariablesInitializer, type Variable } from '../variables.js';
import {
  CheckpointSaverHook,
  SessionRunArgs,
  SessionRunContext,
  SessionRunHook,
  SessionRunValues,
  StepCounterHook,
  SummarySaverHook,
} from './hooks.js';

export {
  SessionRunHook,
  SessionRunArgs,
  SessionRunContext,
  SessionRunValues,
  SecondOrStepTimer,
  StopAtStepHook,
  CheckpointSaverHook,
  CheckpointSaverListener,
  SummarySaverHook,
  StepCounterHook,
  LoggingTensorHook,
  NanTensorHook,
  NanLossDuringTrainingError,
  FinalOpsHook,
  FeedFnHook,
  type StopAtStepHookOptions,
  type CheckpointSaverHookOptions,
  type SummarySaverHookOptions,
  type StepCounterHookOptions,
  type LoggingTensorHookOptions,
  type LoggedTensor,
} from './hooks.js';

/** Session options of the session a monitored session creates (TF's ConfigProto). */
export type SessionConfig = Omit<SessionOptions, 'graph'>;

export interface ScaffoldOptions {
  /** Initializes the variables when there is no checkpoint (default: the INIT_OP collection's, else tf.globalVariablesInitializer()). */
  initOp?: Operation;
  initFeedDict?: FeedDict;
  /** Called after initOp, when there is no checkpoint. */
  initFn?: (scaffold: Scaffold, session: Session) => void | Promise<void>;
  /** Run after restoring or initializing (default: the LOCAL_INIT_OP collection's, else local variables and tables). */
  localInitOp?: Operation;
  /** Default: the SUMMARY_OP collection's, else tf.summary.mergeAll() (null when there are no summaries). */
  summaryOp?: Tensor | null;
  /** Default: the SAVERS collection's, else a Saver of all global variables (null when there are none). */
  saver?: Saver | null;
}

/**
 * TF's Scaffold: the ops a monitored session needs (init op, local init op, summary op, saver),
 * given or made by finalize() from the graph's collections, as TF makes them.
 */
export class Scaffold {
  readonly initFeedDict: FeedDict | undefined;
  readonly initFn: ScaffoldOptions['initFn'];
  private _initOp: Operation | undefined;
  private _localInitOp: Operation | undefined;
  private _summaryOp: Tensor | null | undefined;
  private _saver: Saver | null | undefined;
  private finalizedIn: Graph | undefined;

  constructor(opts: ScaffoldOptions = {}) {
    this._initOp = opts.initOp;
    this.initFeedDict = opts.initFeedDict;
    this.initFn = opts.initFn;
    this._localInitOp = opts.localInitOp;
    this._summaryOp = opts.summaryOp;
    this._saver = opts.saver;
  }

  get initOp(): Operation | null {
    return this._initOp ?? null;
  }
  get localInitOp(): Operation | null {
    return this._localInitOp ?? null;
  }
  get summaryOp(): Tensor | null {
    return this._summaryOp ?? null;
  }
  get saver(): Saver | null {
    return this._saver ?? null;
  }

  /** Makes the ops not given, in `graph` (default: the default graph). Later calls do nothing. */
  finalize(graph: Graph = getDefaultGraph()): this {
    if (this.finalizedIn !== undefined) {
      if (this.finalizedIn !== graph) throw new InvalidArgumentError('Scaffold: already finalized for another graph');
      return this;
    }
    graph.asDefault(() => {
      this._initOp ??= Scaffold.getOrDefault('initOp', GraphKeys.INIT_OP, () => globalVariablesInitializer(), graph) ?? undefined;
      this._localInitOp ??= Scaffold.getOrDefault('localInitOp', GraphKeys.LOCAL_INIT_OP, () => Scaffold.defaultLocalInitOp(), graph) ?? undefined;
      if (this._summaryOp === undefined) this._summaryOp = Scaffold.getOrDefault('summaryOp', GraphKeys.SUMMARY_OP, () => mergeAll(GraphKeys.SUMMARIES, { graph }), graph);
      if (this._saver === undefined) this._saver = Scaffold.getOrDefault('saver', GraphKeys.SAVERS, () => defaultSaver(graph), graph);
    });
    this.finalizedIn = graph;
    return this;
  }

  /** The one item of `collectionKey`, else `make()` (added to the collection unless null). */
  static getOrDefault<T>(argName: string, collectionKey: string, make: () => T | null, graph: Graph = getDefaultGraph()): T | null {
    const items = graph.getCollection<T>(collectionKey);
    if (items.length > 1) {
      throw new InvalidArgumentError(
        `More than one item in collection ${collectionKey}. Please indicate which one to use by passing it to the tf.train.Scaffold constructor as: new tf.train.Scaffold({ ${argName}: itemToUse })`,
      );
    }
    if (items.length === 1) return items[0]!;
    const made = make();
    if (made !== null) graph.addToCollection(collectionKey, made);
    return made;
  }

  /** Initializes the local variables and the lookup tables. */
  static defaultLocalInitOp(): Operation {
    return group([localVariablesInitializer(), tablesInitializer()]);
  }
}

function defaultSaver(graph: Graph): Saver | null {
  const vars = graph.getCollection<Variable>(GraphKeys.GLOBAL_VARIABLES);
  return vars.length === 0 ? null : new Saver(vars);
}

/** Makes the session a monitored session runs (TF's SessionCreator). */
export interface SessionCreator {
  /** Builds what it needs in the default graph before its first await, then creates and prepares the session. */
  createSession(): Promise<Session>;
}

export interface ChiefSessionCreatorOptions {
  scaffold?: Scaffold;
  /** TF's master: only '' (in-process) is supported. */
  master?: string;
  config?: SessionConfig;
  /** Restore from this directory's latest checkpoint when there is one. */
  checkpointDir?: string;
  /** Restore from this checkpoint prefix (instead of checkpointDir). */
  checkpointFilenameWithPath?: string;
}

/**
 * Creates the session for the chief: restores the latest checkpoint (of checkpointDir, or the one
 * named) with the scaffold's saver, or, when there is none, runs the scaffold's initOp and initFn;
 * then runs its localInitOp.
 */
export class ChiefSessionCreator implements SessionCreator {
  readonly scaffold: Scaffold;
  constructor(private readonly opts: ChiefSessionCreatorOptions = {}) {
    if (opts.master) throw new UnimplementedError(`ChiefSessionCreator: master '${opts.master}': weir runs sessions in process only (master '')`);
    this.scaffold = opts.scaffold ?? new Scaffold();
  }

  async createSession(): Promise<Session> {
    const graph = getDefaultGraph();
    const scaffold = this.scaffold.finalize(graph);
    const sess = new Session({ ...this.opts.config, graph });
    try {
      if (!(await this.restore(sess, scaffold.saver))) {
        if (scaffold.initOp === null && !scaffold.initFn && scaffold.localInitOp === null) {
          throw new FailedPreconditionError('Model is not initialized and no initOp, initFn or localInitOp was given');
        }
        if (scaffold.initOp) await sess.run(scaffold.initOp, scaffold.initFeedDict);
        if (scaffold.initFn) await scaffold.initFn(scaffold, sess);
      }
      if (scaffold.localInitOp) await sess.run(scaffold.localInitOp);
      return sess;
    } catch (e) {
      sess.close();
      throw e;
    }
  }

  /** Restores the checkpoint if there is one; whether it did. */
  private async restore(sess: Session, saver: Saver | null): Promise<boolean> {
    const { checkpointDir, checkpointFilenameWithPath } = this.opts;
    if (checkpointFilenameWithPath !== undefined) {
      if (!saver) throw new FailedPreconditionError(`Cannot restore ${checkpointFilenameWithPath}: the scaffold has no saver (the graph has no variables)`);
      await saver.restore(sess, checkpointFilenameWithPath);
      return true;
    }
    if (checkpointDir === undefined || !saver) return false;
    const state = await getCheckpointState(checkpointDir);
    if (!state?.modelCheckpointPath) return false;
    await saver.restore(sess, state.modelCheckpointPath);
    saver.recoverLastCheckpoints(state.allModelCheckpointPaths);
    return true;
  }
}

export interface MonitoredSessionOptions {
  /** Default: a ChiefSessionCreator with a default Scaffold (no checkpoint directory). */
  sessionCreator?: SessionCreator;
  hooks?: readonly SessionRunHook[];
  /** Accepted for TF compatibility; weir has no queue-runner threads to wait for. */
  stopGracePeriodSecs?: number;
}

/**
 * TF's MonitoredSession over the default graph: calls the hooks' begin(), creates the session with
 * the session creator (awaited by ready() and by the first run), then the hooks' afterCreateSession().
 * Each run() asks every hook's beforeRun() for more fetches and feeds, runs them all in one session
 * run with the caller's, and hands each hook its values in afterRun(). Runs are taken one at a time,
 * in call order.
 */
export class MonitoredSession {
  readonly graph: Graph;
  private readonly hooks: readonly SessionRunHook[];
  private readonly creation: Promise<Session>;
  private turn: Promise<unknown> = Promise.resolve();
  private stopRequested = false;
  private closing = false;
  private closed = false;
  /** The last run threw (other than OutOfRangeError): close() then skips the hooks' end(). */
  private failed = false;

  constructor(opts: MonitoredSessionOptions = {}) {
    this.graph = getDefaultGraph();
    this.hooks = [...(opts.hooks ?? [])];
    for (const h of this.hooks) {
      if (!(h instanceof SessionRunHook)) throw new InvalidArgumentError(`MonitoredSession: hook ${String(h)} is not a tf.train.SessionRunHook`);
    }
    const creator = opts.sessionCreator ?? new ChiefSessionCreator();
    // begin() and the creator's graph building run now, synchronously, with this graph as the default.
    const { created } = this.graph.asDefault(() => {
      for (const h of this.hooks) h.begin();
      return { created: creator.createSession() };
    });
    this.creation = this.afterCreate(created);
    // Reported by ready(), run() and close(); not an unhandled rejection meanwhile.
    this.creation.catch(() => undefined);
  }

  private async afterCreate(created: Promise<Session>): Promise<Session> {
    const sess = await created;
    try {
      for (const h of this.hooks) await h.afterCreateSession(sess);
    } catch (e) {
      sess.close();
      throw e;
    }
    return sess;
  }

  /** Resolves once the session is created and the hooks' afterCreateSession() ran; rejects with the error that stopped it. */
  async ready(): Promise<void> {
    await this.creation;
  }

  /** True once a hook requested a stop, or after close(). */
  shouldStop(): boolean {
    return this.stopRequested || this.closing;
  }

  /** Runs `fetches` (with `feedDict`) and the hooks' requests in one session run; resolves to the caller's values. */
  run<const F extends Fetches>(fetches: F, feedDict?: FeedDict): Promise<FetchResult<F>> {
    if (this.closing) return Promise.reject(new FailedPreconditionError('Attempted to use a closed MonitoredSession.'));
    const result = this.turn.then(() => this.runWithHooks(fetches, feedDict));
    this.turn = result.catch(() => undefined);
    return result as Promise<FetchResult<F>>;
  }

  private async runWithHooks(fetches: Fetches, feedDict: FeedDict | undefined): Promise<unknown> {
    const sess = await this.creation;
    if (this.stopRequested) throw new FailedPreconditionError('Run called even after shouldStop requested.');
    try {
      const ctx = new SessionRunContext(new SessionRunArgs(fetches, feedDict ?? null), sess);
      const requests: (Fetches | null)[] = [];
      const feeds: [FeedKey, FeedStructure][] = [];
      const hookFed = new Set<string>();
      for (const h of this.hooks) {
        const req = (await h.beforeRun(ctx)) ?? null;
        requests.push(req?.fetches ?? null);
        for (const [k, v] of feedPairs(req?.feedDict)) {
          for (const name of feedKeyNames(k)) {
            if (hookFed.has(name)) throw new InvalidArgumentError(`Same tensor is fed by two hooks: ${name}`);
            hookFed.add(name);
          }
          feeds.push([k, v]);
        }
      }
      for (const [k, v] of feedPairs(feedDict)) {
        for (const name of feedKeyNames(k)) {
          if (hookFed.has(name)) throw new InvalidArgumentError(`Same tensor is fed by a SessionRunHook and user: ${name}`);
        }
        feeds.push([k, v]);
      }
      const asked = requests.filter((r): r is Fetches => r !== null);
      const out = (await sess.run([fetches, ...asked] as Fetches, feeds)) as unknown as unknown[];
      let next = 1;
      for (let i = 0; i < this.hooks.length; i++) {
        await this.hooks[i]!.afterRun(ctx, new SessionRunValues(requests[i] === null ? null : out[next++]));
      }
      this.stopRequested ||= ctx.stopRequested;
      this.failed = false;
      return out[0];
    } catch (e) {
      if (!(e instanceof OutOfRangeError)) this.failed = true;
      throw e;
    }
  }

  /**
   * Waits for the runs already asked for, calls the hooks' end() (unless the last run threw) and
   * closes the session. Later calls do nothing.
   */
  close(): Promise<void> {
    if (this.closing) return this.turn.then(() => undefined);
    this.closing = true;
    const done = this.turn.then(() => this.closeInternal());
    this.turn = done.catch(() => undefined);
    return done;
  }

  private async closeInternal(): Promise<void> {
    let sess: Session;
    try {
      sess = await this.creation;
    } catch {
      return;
    }
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.failed) for (const h of this.hooks) await h.end(sess);
    } finally {
      sess.close();
    }
  }

  /** The underlying session (TF's SingularMonitoredSession.raw_session), once created. */
  protected rawSessionPromise(): Promise<Session> {
    return this.creation;
  }
}

export interface SingularMonitoredSessionOptions extends ChiefSessionCreatorOptions {
  hooks?: readonly SessionRunHook[];
  stopGracePeriodSecs?: number;
}

/** A MonitoredSession with a ChiefSessionCreator built from the options; rawSession() gives the Session. */
export class SingularMonitoredSession extends MonitoredSession {
  constructor(opts: SingularMonitoredSessionOptions = {}) {
    const { hooks, stopGracePeriodSecs, ...creatorOpts } = opts;
    super({ sessionCreator: new ChiefSessionCreator(creatorOpts), hooks, stopGracePeriodSecs });
  }
  /** The session itself: runs on it skip the hooks. */
  rawSession(): Promise<Session> {
    return this.rawSessionPromise();
  }
}

export interface MonitoredTrainingSessionOptions {
  /** TF's master: only '' (in-process) is supported. */
  master?: string;
  /** Only the chief is supported (weir has no distributed runtime). Default true. */
  isChief?: boolean;
  /** Where checkpoints are restored from and saved to, and (by default) summaries written. */
  checkpointDir?: string;
  scaffold?: Scaffold;
  hooks?: readonly SessionRunHook[];
  /** Hooks run only by the chief (before the others). */
  chiefOnlyHooks?: readonly SessionRunHook[];
  /** Checkpoint every this many steps (when neither is given: every 600 seconds). null: never by steps. */
  saveCheckpointSteps?: number | null;
  saveCheckpointSecs?: number | null;
  /** Summaries every this many steps (default 100 when neither is given). null: never by steps. */
  saveSummariesSteps?: number | null;
  saveSummariesSecs?: number | null;
  /** Global steps per second logged and written every this many steps (default 100; null or 0: never). */
  logStepCountSteps?: number | null;
  /** Directory of the summaries (default checkpointDir). */
  summaryDir?: string;
  config?: SessionConfig;
  /** Accepted for TF compatibility (a non-chief's wait for the chief; weir has only the chief). */
  maxWaitSecs?: number;
  stopGracePeriodSecs?: number;
}

/**
 * TF1's tf.train.MonitoredTrainingSession: a MonitoredSession for the chief that restores the latest
 * checkpoint of checkpointDir (or initializes), and, with a checkpointDir, counts steps per second,
 * saves summaries and saves checkpoints (CheckpointSaverHook) before running `hooks`. The hooks it
 * adds read the global step: create it first (tf.train.getOrCreateGlobalStep()) and increment it in
 * the train op (minimize(loss, { globalStep })). Resolves once the session is ready.
 */
export async function MonitoredTrainingSession(opts: MonitoredTrainingSessionOptions = {}): Promise<MonitoredSession> {
  if (opts.isChief === false) {
    throw new UnimplementedError('MonitoredTrainingSession: isChief false (a worker of a distributed job) is not supported: weir runs one in-process session');
  }
  let summarySteps = opts.saveSummariesSteps;
  let summarySecs = opts.saveSummariesSecs;
  if (summarySteps === undefined && summarySecs === undefined) summarySteps = 100;
  let checkpointSteps = opts.saveCheckpointSteps;
  let checkpointSecs = opts.saveCheckpointSecs;
  if (checkpointSteps === undefined && checkpointSecs === undefined) checkpointSecs = 600;
  const positive = (x: number | null | undefined): x is number => typeof x === 'number' && x > 0;

  const scaffold = opts.scaffold ?? new Scaffold();
  const sessionCreator = new ChiefSessionCreator({ scaffold, master: opts.master, config: opts.config, checkpointDir: opts.checkpointDir });
  const hooks: SessionRunHook[] = [...(opts.chiefOnlyHooks ?? [])];
  const summaryDir = opts.summaryDir ?? opts.checkpointDir;
  if (summaryDir !== undefined) {
    const logSteps = opts.logStepCountSteps === undefined ? 100 : opts.logStepCountSteps;
    if (positive(logSteps)) hooks.push(new StepCounterHook({ outputDir: summaryDir, everyNSteps: logSteps }));
    if (positive(summarySteps) || positive(summarySecs)) {
      hooks.push(
        new SummarySaverHook({
          scaffold,
          outputDir: summaryDir,
          ...(positive(summarySteps) ? { saveSteps: summarySteps } : { saveSecs: summarySecs! }),
        }),
      );
    }
  }
  if (opts.checkpointDir !== undefined && (positive(checkpointSteps) || positive(checkpointSecs))) {
    hooks.push(
      new CheckpointSaverHook(opts.checkpointDir, {
        scaffold,
        ...(positive(checkpointSteps) ? { saveSteps: checkpointSteps } : { saveSecs: checkpointSecs! }),
      }),
    );
  }
  hooks.push(...(opts.hooks ?? []));
  const sess = new MonitoredSession({ sessionCreator, hooks, stopGracePeriodSecs: opts.stopGracePeriodSecs });
  await sess.ready();
  return sess;
}

function feedPairs(feedDict: FeedDict | null | undefined): (readonly [FeedKey, FeedStructure])[] {
  if (!feedDict) return [];
  return feedDict instanceof Map ? [...feedDict.entries()] : [...feedDict];
}

/** The tensor names a feed key stands for (a structured key: all of its leaves). */
function feedKeyNames(key: FeedKey): string[] {
  if (key instanceof Tensor) return [key.name];
  if (isVariableLike(key)) return [key.value().name];
  if (typeof key === 'string') return [key.includes(':') ? key : `${key}:0`];
  if (isNestedContainer(key)) {
    const parts = Array.isArray(key) ? (key as readonly FeedKey[]) : Object.values(key as Record<string, FeedKey>);
    return parts.flatMap((k) => feedKeyNames(k));
  }
  return [];
}
