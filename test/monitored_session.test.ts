// tf.train.MonitoredTrainingSession / MonitoredSession and the basic hooks: a tiny regression trained
// to a StopAtStepHook step, checked against gradient descent written out in JS; checkpoints at the
// configured steps; a restart that resumes from them; summaries read back from the event file;
// hook output, NaN handling and the order of hook calls.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import * as tf from '../src/index.js';
const { FileWriterCache } = tf.summary;
import { expectClose } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'weir-mts-'));
afterAll(async () => {
  await FileWriterCache.clear();
  rmSync(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});
let dirs = 0;
const freshDir = (): string => join(root, `run${dirs++}`);

const X = [[1], [2], [-1]];
const Y = [[3], [5], [-1]];
const LR = 0.05;

/** y ~ w x + b by plain gradient descent on the mean squared error: [w, b, loss before the step] per step. */
function reference(steps: number): { w: number; b: number; losses: number[] } {
  let w = 0;
  let b = 0;
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const err = X.map((x, i) => w * x[0]! + b - Y[i]![0]!);
    losses.push(err.reduce((a, e) => a + e * e, 0) / X.length);
    const gw = err.reduce((a, e, i) => a + (2 * e * X[i]![0]!) / X.length, 0);
    const gb = err.reduce((a, e) => a + (2 * e) / X.length, 0);
    w -= LR * gw;
    b -= LR * gb;
  }
  return { w, b, losses };
}

function model(opts: { globalStep?: boolean } = {}) {
  const g = new tf.Graph();
  return g.asDefault(() => {
    const step = opts.globalStep === false ? null : tf.train.getOrCreateGlobalStep();
    const x = tf.placeholder('float32', [null, 1], 'x');
    const y = tf.placeholder('float32', [null, 1], 'y');
    const w = new tf.Variable([[0]], { name: 'w' });
    const b = new tf.Variable([0], { name: 'b' });
    const loss = tf.reduceMean(tf.square(tf.subtract(tf.add(tf.matmul(x, w), b), y)));
    tf.summary.scalar('loss', loss);
    const train = new tf.train.GradientDescentOptimizer(LR).minimize(loss, { globalStep: step });
    const feeds: tf.FeedDict = [
      [x, X],
      [y, Y],
    ];
    return { g, step, x, y, w, b, loss, train, feeds };
  });
}

/** Records the calls it gets, in a log shared by several hooks. */
class RecordingHook extends tf.train.SessionRunHook {
  constructor(
    readonly tag: string,
    readonly log: string[],
    readonly request: tf.train.SessionRunArgs | null = null,
  ) {
    super();
  }
  readonly results: unknown[] = [];
  override begin(): void {
    this.log.push(`${this.tag}.begin`);
  }
  override afterCreateSession(session: tf.Session): void {
    expect(session).toBeInstanceOf(tf.Session);
    this.log.push(`${this.tag}.afterCreateSession`);
  }
  override beforeRun(ctx: tf.train.SessionRunContext): tf.train.SessionRunArgs | null {
    expect(ctx.originalArgs.fetches).not.toBeNull();
    this.log.push(`${this.tag}.beforeRun`);
    return this.request;
  }
  override afterRun(_ctx: tf.train.SessionRunContext, values: tf.train.SessionRunValues): void {
    this.results.push(values.results);
    this.log.push(`${this.tag}.afterRun`);
  }
  override end(): void {
    this.log.push(`${this.tag}.end`);
  }
}

async function trainUntilStop(sess: tf.train.MonitoredSession, m: ReturnType<typeof model>): Promise<number> {
  let runs = 0;
  try {
    while (!sess.shouldStop()) {
      await sess.run(m.train, m.feeds);
      runs++;
    }
  } finally {
    await sess.close();
  }
  return runs;
}

describe('MonitoredTrainingSession', () => {
  it('trains to the StopAtStepHook step, saves checkpoints at the configured steps, and a restart resumes from them', async () => {
    const dir = freshDir();
    vi.spyOn(console, 'info').mockImplementation(() => {});

    // First run: from scratch to step 5, a checkpoint every 2 steps.
    const m1 = model();
    const s1 = await m1.g.asDefault(() =>
      tf.train.MonitoredTrainingSession({
        checkpointDir: dir,
        saveCheckpointSteps: 2,
        saveSummariesSteps: 1,
        logStepCountSteps: 2,
        hooks: [new tf.train.StopAtStepHook({ lastStep: 5 })],
      }),
    );
    expect(await trainUntilStop(s1, m1)).toBe(5);
    expect(s1.shouldStop()).toBe(true);
    const state1 = await tf.train.getCheckpointState(dir);
    // Saved when created (step 0), every 2 steps, and at the end.
    expect(state1!.allModelCheckpointPaths.map((p) => p.slice(p.lastIndexOf('/') + 1))).toEqual([
      'model.ckpt-0',
      'model.ckpt-2',
      'model.ckpt-4',
      'model.ckpt-5',
    ]);
    expect(readdirSync(dir)).toContain('graph.pbtxt');
    for (const s of [0, 2, 4, 5]) {
      const ref = reference(s);
      const prefix = join(dir, `model.ckpt-${s}`);
      expectClose(await tf.train.loadVariable(prefix, 'w'), [ref.w]);
      expectClose(await tf.train.loadVariable(prefix, 'b'), [ref.b]);
      expect(Number((await tf.train.loadVariable(prefix, 'global_step')).scalar())).toBe(s);
    }

    // Restart on the same directory: restores step 5 and the trained values, runs 3 more steps.
    const m2 = model();
    const log: string[] = [];
    const recorder = new RecordingHook('rec', log, new tf.train.SessionRunArgs({ step: m2.step!, w: m2.w }));
    const s2 = await m2.g.asDefault(() =>
      tf.train.MonitoredTrainingSession({
        checkpointDir: dir,
        saveCheckpointSteps: 2,
        saveSummariesSteps: 1,
        logStepCountSteps: null,
        hooks: [new tf.train.StopAtStepHook({ numSteps: 3 }), recorder],
      }),
    );
    expect(await trainUntilStop(s2, m2)).toBe(3);
    // The first run started from the restored step and w, not from 0.
    const first = recorder.results[0] as { step: tf.NDArray; w: tf.NDArray };
    expect(Number(first.step.scalar())).toBeGreaterThanOrEqual(5);
    expect(first.w.data[0]).not.toBe(0);
    const ref8 = reference(8);
    const final = join(dir, 'model.ckpt-8');
    expectClose(await tf.train.loadVariable(final, 'w'), [ref8.w]);
    expectClose(await tf.train.loadVariable(final, 'b'), [ref8.b]);
    const state2 = await tf.train.getCheckpointState(dir);
    // maxToKeep 5 counts the checkpoints of the first run (recovered from the state file).
    expect(state2!.allModelCheckpointPaths.map((p) => p.slice(p.lastIndexOf('/') + 1))).toEqual([
      'model.ckpt-2',
      'model.ckpt-4',
      'model.ckpt-5',
      'model.ckpt-7',
      'model.ckpt-8',
    ]);
    expect(readdirSync(dir).some((f) => f.startsWith('model.ckpt-0.'))).toBe(false);

    // Summaries of both runs, in the directory's one event file.
    await FileWriterCache.clear();
    const eventFiles = readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'));
    expect(eventFiles.length).toBe(1);
    const events = await tf.summary.readEventFile(join(dir, eventFiles[0]!));
    const scalars = (tag: string): [number, number][] =>
      events.flatMap((e) =>
        (e.summary?.value ?? []).filter((v) => v.tag === tag).map((v): [number, number] => [Number(e.step), Number(v.simple_value)]),
      );
    const losses = reference(8).losses;
    // The loss of step s is computed in the run that makes the step s (before its update).
    const lossEvents = scalars('loss');
    expect(lossEvents.map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    lossEvents.forEach(([s, v]) => expect(v).toBeCloseTo(losses[s - 1]!, 4));
    // Steps per second every 2 steps in the first run (logStepCountSteps 2), none in the second.
    const rates = scalars('global_step/sec');
    expect(rates.map(([s]) => s)).toEqual([3, 5]);
    for (const [, r] of rates) expect(r).toBeGreaterThan(0);
    const logs = events.filter((e) => (e as { session_log?: unknown }).session_log).map((e) => {
      const l = (e as { session_log: { status: string | number; checkpoint_path?: string } }).session_log;
      const status = typeof l.status === 'number' ? ['UNSPECIFIED', 'START', 'STOP', 'CHECKPOINT'][l.status] : l.status;
      if (status === 'CHECKPOINT') expect(l.checkpoint_path).toBe(join(dir, 'model.ckpt'));
      return `${status}@${Number(e.step)}`;
    });
    expect(logs).toEqual([
      'CHECKPOINT@0', 'START@1', 'CHECKPOINT@2', 'CHECKPOINT@4', 'CHECKPOINT@5',
      'CHECKPOINT@5', 'START@6', 'CHECKPOINT@7', 'CHECKPOINT@8',
    ]);
    expect(events.filter((e) => (e.graph_def?.length ?? 0) > 0).length).toBe(2);
  });

  it('hook calls come in TF order, with their fetches and feeds merged into the caller run', async () => {
    const m = model();
    const log: string[] = [];
    // Hook a feeds x and y; hook b fetches the loss; c asks for nothing.
    const a = new RecordingHook('a', log, new tf.train.SessionRunArgs(null, m.feeds));
    const b = new RecordingHook('b', log, new tf.train.SessionRunArgs(m.loss));
    const c = new RecordingHook('c', log);
    const sess = await m.g.asDefault(() => tf.train.MonitoredTrainingSession({ hooks: [a, b, c], chiefOnlyHooks: [] }));
    expect(log).toEqual(['a.begin', 'b.begin', 'c.begin', 'a.afterCreateSession', 'b.afterCreateSession', 'c.afterCreateSession']);
    log.length = 0;
    const [loss, out] = await sess.run([m.loss, m.train] as const);
    expectClose(loss, reference(1).losses[0]!);
    expect(out).toBeNull();
    expect(log).toEqual(['a.beforeRun', 'b.beforeRun', 'c.beforeRun', 'a.afterRun', 'b.afterRun', 'c.afterRun']);
    expect(a.results).toEqual([null]);
    expect(c.results).toEqual([null]);
    expectClose(b.results[0] as tf.NDArray, reference(1).losses[0]!);
    // The caller feeding a tensor a hook feeds is an error.
    await expect(sess.run(m.train, [[m.x, X]])).rejects.toThrow(/Same tensor is fed by a SessionRunHook and user: x:0/);
    // A successful run after a failed one: close() runs the hooks' end() again.
    await sess.run(m.train);
    log.length = 0;
    await sess.close();
    expect(log).toEqual(['a.end', 'b.end', 'c.end']);
    expect(sess.shouldStop()).toBe(true);
    await expect(sess.run(m.train)).rejects.toThrow(tf.errors.FailedPreconditionError);
  });

  it('two hooks feeding one tensor is an error; a hook requesting a stop stops the loop', async () => {
    const m = model();
    const log: string[] = [];
    const twice = [new RecordingHook('a', log, new tf.train.SessionRunArgs(null, [[m.x, X]])), new RecordingHook('b', log, new tf.train.SessionRunArgs(null, [['x', X]]))];
    const s1 = await m.g.asDefault(() => tf.train.MonitoredTrainingSession({ hooks: twice }));
    await expect(s1.run(m.loss, [[m.y, Y]])).rejects.toThrow(/Same tensor is fed by two hooks: x:0/);
    await s1.close();

    class StopAfter extends tf.train.SessionRunHook {
      runs = 0;
      override afterRun(ctx: tf.train.SessionRunContext): void {
        if (++this.runs === 2) ctx.requestStop();
      }
    }
    const stopper = new StopAfter();
    const s2 = await m.g.asDefault(() => tf.train.MonitoredTrainingSession({ hooks: [stopper] }));
    expect(await trainUntilStop(s2, m)).toBe(2);
  });

  it('LoggingTensorHook logs every N iterations (tags sorted, seconds after the first), with a formatter, and at the end', async () => {
    const m = model();
    const lines: string[] = [];
    vi.spyOn(console, 'info').mockImplementation((s: unknown) => void lines.push(String(s)));
    const hooks = [
      new tf.train.LoggingTensorHook({ step: m.step!, loss: m.loss }, { everyNIter: 2 }),
      new tf.train.LoggingTensorHook([m.loss], { everyNIter: 3, formatter: (v) => `custom ${Object.keys(v).join(',')}` }),
      new tf.train.LoggingTensorHook(['w:0'], { atEnd: true }),
      new tf.train.StopAtStepHook({ numSteps: 5 }),
    ];
    const sess = await m.g.asDefault(() => tf.train.MonitoredTrainingSession({ hooks }));
    await trainUntilStop(sess, m);
    const losses = reference(5).losses;
    const every2 = lines.filter((l) => l.startsWith('loss = '));
    expect(every2.length).toBe(3);
    every2.forEach((l, i) => {
      const match = /^loss = ([-\d.e]+), step = (\d+)( \(\d+\.\d{3} sec\))?$/.exec(l);
      expect(match, l).not.toBeNull();
      expect(Number(match![1])).toBeCloseTo(losses[2 * i]!, 4);
      expect(match![3] === undefined).toBe(i === 0);
    });
    expect(lines.filter((l) => l.startsWith('custom'))).toEqual(['custom Mean:0', 'custom Mean:0']);
    const atEnd = lines.filter((l) => l.startsWith('w:0 = '));
    expect(atEnd.length).toBe(1);
    expect(Number(JSON.parse(atEnd[0]!.slice('w:0 = '.length))[0][0])).toBeCloseTo(reference(5).w, 5);
  });

  it('NanTensorHook throws NanLossDuringTrainingError (and close skips end), or only stops with failOnNanLoss false', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const m = model();
    const nanFeeds: tf.FeedDict = [
      [m.x, [[1], [NaN], [0]]],
      [m.y, Y],
    ];
    const log: string[] = [];
    const rec = new RecordingHook('rec', log);
    const s1 = await m.g.asDefault(() => tf.train.MonitoredTrainingSession({ hooks: [new tf.train.NanTensorHook(m.loss), rec] }));
    await s1.run(m.train, m.feeds);
    const err = await s1.run(m.train, nanFeeds).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(tf.train.NanLossDuringTrainingError);
    expect(String((err as Error).message)).toBe('NaN loss during training.');
    await s1.close();
    expect(log).not.toContain('rec.end');

    const s2 = await m.g.asDefault(() => tf.train.MonitoredTrainingSession({ hooks: [new tf.train.NanTensorHook(m.loss, { failOnNanLoss: false })] }));
    await s2.run(m.train, m.feeds);
    expect(s2.shouldStop()).toBe(false);
    await s2.run(m.train, nanFeeds);
    expect(s2.shouldStop()).toBe(true);
    expect(warn.mock.calls.map((c) => String(c[0]))).toContain('Model diverged with loss = NaN.');
    await expect(s2.run(m.train, m.feeds)).rejects.toThrow(/after shouldStop/);
    await s2.close();
  });

  it('needs a global step for its hooks, runs only as the chief, and rejects bad hook options', async () => {
    const m = model({ globalStep: false });
    await expect(m.g.asDefault(() => tf.train.MonitoredTrainingSession({ checkpointDir: freshDir() }))).rejects.toThrow(
      /Global step should be created to use StepCounterHook/,
    );
    await expect(m.g.asDefault(() => tf.train.MonitoredTrainingSession({ hooks: [new tf.train.StopAtStepHook({ lastStep: 3 })] }))).rejects.toThrow(
      tf.errors.FailedPreconditionError,
    );
    await expect(tf.train.MonitoredTrainingSession({ isChief: false })).rejects.toThrow(tf.errors.UnimplementedError);
    expect(() => new tf.train.StopAtStepHook({})).toThrow(/One of numSteps or lastStep/);
    expect(() => new tf.train.StopAtStepHook({ numSteps: 1, lastStep: 2 })).toThrow(/Only one/);
    expect(() => new tf.train.LoggingTensorHook(['x:0'], {})).toThrow(/exactly one of everyNIter and everyNSecs/);
    expect(() => new tf.train.CheckpointSaverHook('d', { saveSteps: 0 })).toThrow(/invalid saveSteps=0/);
    expect(() => new tf.train.SummarySaverHook({ saveSteps: 1 })).toThrow(/Exactly one of scaffold or summaryOp/);
  });
});

describe('MonitoredSession pieces', () => {
  it('Scaffold initFn and localInitOp, SingularMonitoredSession.rawSession, FinalOpsHook and FeedFnHook', async () => {
    const g = new tf.Graph();
    const { v, local, x, doubled, bump } = g.asDefault(() => {
      const v = new tf.Variable([1, 2], { name: 'v' });
      const local = new tf.Variable([7], { name: 'counter', trainable: false, collections: [tf.GraphKeys.LOCAL_VARIABLES] });
      const x = tf.placeholder('float32', [2], 'x');
      const doubled = tf.multiply(v, 2);
      const bump = tf.assignAdd(local, [1]);
      return { v, local, x, doubled, bump };
    });
    const scaffold = new tf.train.Scaffold({
      initFn: async (_s, sess) => {
        await sess.run(g.asDefault(() => tf.assign(v, [10, 20]).op));
      },
    });
    void x;
    const final = new tf.train.FinalOpsHook({ d: doubled, c: local });
    const fed: number[][] = [];
    const feeder = new tf.train.FeedFnHook(() => {
      fed.push([fed.length]);
      return [];
    });
    // initFn adds an op before the session is created: build it now, under the graph.
    const sess = g.asDefault(() => new tf.train.SingularMonitoredSession({ scaffold, hooks: [final, feeder] }));
    await sess.ready();
    const raw = await sess.rawSession();
    expectClose(await raw.run(v), [10, 20]);
    await sess.run(bump);
    await sess.run(bump);
    expect(fed.length).toBe(2);
    await sess.close();
    const values = final.finalOpsValues as { d: tf.NDArray; c: tf.NDArray };
    expectClose(values.d, [20, 40]);
    // The local variable was initialized by the default local init op, then bumped twice.
    expectClose(values.c, [9]);
    expect(scaffold.saver).not.toBeNull();
    expect(g.getCollection(tf.GraphKeys.SAVERS)).toEqual([scaffold.saver]);
    expect(scaffold.summaryOp).toBeNull();
  });
});

describe('timers', () => {
  it('SecondOrStepTimer triggers first, then every N steps or every N seconds', () => {
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const steps = new tf.train.SecondOrStepTimer(null, 3);
    expect(steps.shouldTriggerForStep(0)).toBe(true);
    expect(steps.updateLastTriggeredStep(0)).toEqual([null, null]);
    expect([1, 2, 3, 4].map((s) => steps.shouldTriggerForStep(s))).toEqual([false, false, true, true]);
    now += 2500;
    expect(steps.updateLastTriggeredStep(4)).toEqual([2.5, 4]);
    expect(steps.shouldTriggerForStep(4)).toBe(false);
    expect(steps.lastTriggeredStep()).toBe(4);
    const secs = new tf.train.SecondOrStepTimer(10, null);
    secs.updateLastTriggeredStep(0);
    now += 9999;
    expect(secs.shouldTriggerForStep(100)).toBe(false);
    now += 1;
    expect(secs.shouldTriggerForStep(100)).toBe(true);
    expect(() => new tf.train.SecondOrStepTimer(null, null)).toThrow(/Either everySecs or everySteps/);
    expect(() => new tf.train.SecondOrStepTimer(1, 1)).toThrow(/Can not provide both/);
  });

  it('saveCheckpointSecs saves when the seconds have passed, and at the end', async () => {
    let clock = 1000;
    vi.spyOn(Date, 'now').mockImplementation(() => clock * 1000);
    class Tick extends tf.train.SessionRunHook {
      override beforeRun(): void {
        clock += 10;
      }
    }
    const dir = freshDir();
    const m = model();
    const sess = await m.g.asDefault(() =>
      tf.train.MonitoredTrainingSession({
        checkpointDir: dir,
        saveCheckpointSecs: 25,
        saveSummariesSteps: null,
        logStepCountSteps: 0,
        hooks: [new Tick(), new tf.train.StopAtStepHook({ lastStep: 7 })],
      }),
    );
    await trainUntilStop(sess, m);
    const state = await tf.train.getCheckpointState(dir);
    expect(state!.allModelCheckpointPaths.map((p) => p.slice(p.lastIndexOf('-') + 1))).toEqual(['0', '3', '6', '7']);
    // No summary hooks: the event file holds the graph and the checkpoint logs only.
    await FileWriterCache.clear();
    const file = readdirSync(dir).find((f) => f.startsWith('events.out.tfevents.'))!;
    const events = await tf.summary.readEventFile(join(dir, file));
    expect(events.filter((e) => (e.summary?.value ?? []).length > 0)).toEqual([]);
  });

  it('StepCounterHook warns (at most 5 times) when the global step does not move', async () => {
    const warnings: string[] = [];
    vi.spyOn(console, 'warn').mockImplementation((w: unknown) => void warnings.push(String(w)));
    vi.spyOn(console, 'info').mockImplementation(() => {});
    const g = new tf.Graph();
    const { train } = g.asDefault(() => {
      tf.train.getOrCreateGlobalStep();
      const w = new tf.Variable([1], { name: 'w' });
      return { train: new tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduceSum(tf.square(w))) };
    });
    const sess = await g.asDefault(() => tf.train.MonitoredTrainingSession({ hooks: [new tf.train.StepCounterHook({ everyNSteps: 1 })] }));
    for (let i = 0; i < 8; i++) await sess.run(train);
    await sess.close();
    expect(warnings.filter((w) => w.includes('global step (tf.train.getGlobalStep) has not been increased')).length).toBe(5);
  });
});
