// What the RL trainers share: episode statistics, batched evaluation of a frozen policy, the
// solved check (100 consecutive evaluation episodes) and the progress line.
import type { VectorEnv } from './env.js';
import { makeEnv, type EnvId, type MakeOptions } from './make.js';

/** gym's convention: an environment counts as solved by the average return over this many consecutive episodes. */
export const SOLVE_EPISODES = 100;
/** How many episodes a quick look takes before the full solved check is run. */
export const QUICK_EVAL_EPISODES = 10;

export interface EpisodeStats {
  /** 1-based. */
  episode: number;
  episodeReturn: number;
  length: number;
  /** Environment steps so far, this episode's included. */
  totalSteps: number;
  /** Average return of the last (up to) 100 training episodes. */
  movingAverage: number;
  /** Since training started. */
  seconds: number;
}

export interface Evaluation {
  /** Training episodes done when the policy was evaluated. */
  episode: number;
  totalSteps: number;
  returns: number[];
  mean: number;
  /** The mean reached the environment's threshold over SOLVE_EPISODES episodes. */
  solved: boolean;
}

/**
 * Chooses an action for each of `count` observations (rows of `observations`, `count` x
 * observationSize): one Session.run for a whole batch of environments.
 */
export type BatchPolicy = (observations: Float32Array, count: number) => Promise<Int32Array>;

/** `defaults` with the keys it has replaced by those `overrides` defines (other keys of `overrides` ignored). */
export function withOverrides<T extends object>(defaults: T, overrides: Partial<T>): T {
  const out = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof T)[]) {
    const v = overrides[key];
    if (v !== undefined) out[key] = v as T[keyof T];
  }
  return out;
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The mean of the last `window` values pushed. */
export class MovingAverage {
  private readonly values: number[] = [];
  private sum = 0;

  constructor(readonly window = SOLVE_EPISODES) {}

  push(v: number): number {
    this.values.push(v);
    this.sum += v;
    if (this.values.length > this.window) this.sum -= this.values.shift()!;
    return this.value;
  }

  get value(): number {
    return this.values.length === 0 ? 0 : this.sum / this.values.length;
  }
}

/**
 * Runs one episode on each environment at once, all under the same policy, and returns each
 * episode's return (in the order of `envs`). Every call of `act` gets a row for every environment
 * (finished ones repeat their last observation and their actions are ignored), so its batch has
 * one shape and a session compiles one plan for it.
 */
export async function evaluateEpisodes(envs: readonly VectorEnv[], act: BatchPolicy): Promise<number[]> {
  const size = envs[0]?.observationSize ?? 0;
  const batch = new Float32Array(envs.length * size);
  envs.forEach((e, i) => batch.set(e.reset(), i * size));
  const returns = new Array<number>(envs.length).fill(0);
  const live = new Array<boolean>(envs.length).fill(true);
  while (live.includes(true)) {
    const actions = await act(batch, envs.length);
    envs.forEach((e, i) => {
      if (!live[i]) return;
      const s = e.step(actions[i]!);
      returns[i]! += s.reward;
      batch.set(s.observation, i * size);
      if (s.terminated || s.truncated) live[i] = false;
    });
  }
  return returns;
}

/**
 * The solved check: a quick look at QUICK_EVAL_EPISODES episodes, and when their mean reaches the
 * threshold, the full SOLVE_EPISODES (fresh episodes, the quick ones not counted).
 * `envs` must hold SOLVE_EPISODES environments.
 */
export async function checkSolved(
  envs: readonly VectorEnv[],
  act: BatchPolicy,
  threshold: number,
  at: { episode: number; totalSteps: number },
): Promise<Evaluation> {
  if (envs.length !== SOLVE_EPISODES) throw new RangeError(`checkSolved: needs ${SOLVE_EPISODES} environments, got ${envs.length}`);
  const quick = await evaluateEpisodes(envs.slice(0, QUICK_EVAL_EPISODES), act);
  if (mean(quick) < threshold) return { ...at, returns: quick, mean: mean(quick), solved: false };
  return fullEvaluation(envs, act, threshold, at);
}

/** SOLVE_EPISODES evaluation episodes, one on each of `envs`. */
export async function fullEvaluation(
  envs: readonly VectorEnv[],
  act: BatchPolicy,
  threshold: number,
  at: { episode: number; totalSteps: number },
): Promise<Evaluation> {
  const returns = await evaluateEpisodes(envs, act);
  const m = mean(returns);
  return { ...at, returns, mean: m, solved: returns.length === SOLVE_EPISODES && m >= threshold };
}

export function formatEpisode(s: EpisodeStats, extra = ''): string {
  const ret = Number.isInteger(s.episodeReturn) ? String(s.episodeReturn) : s.episodeReturn.toFixed(2);
  return `episode ${s.episode}: return ${ret}, average(100) ${s.movingAverage.toFixed(2)}, steps ${s.totalSteps}${extra}, ${s.seconds.toFixed(1)} s`;
}

export function formatEvaluation(e: Evaluation): string {
  const kind = e.returns.length === SOLVE_EPISODES ? `${SOLVE_EPISODES}-episode` : `${e.returns.length}-episode quick`;
  return `  evaluation after episode ${e.episode} (${kind}): average return ${e.mean.toFixed(2)}${e.solved ? ' - solved' : ''}`;
}

/** The SOLVE_EPISODES environments evaluations run on, seeded apart from the training environment (seeded `seed`). */
export function evaluationEnvs(id: EnvId, seed: number, opts: Omit<MakeOptions, 'seed'> = {}): VectorEnv[] {
  return Array.from({ length: SOLVE_EPISODES }, (_, i) => makeEnv(id, { ...opts, seed: seed * 1000 + 1 + i }).env);
}

/**
 * The evaluations of a training run: a solved check when asked, the first one that passes, and
 * the evaluation the run reports at its end.
 */
export class SolveTracker {
  readonly evaluations: Evaluation[] = [];
  solvedAt: Evaluation | undefined;

  constructor(
    private readonly envs: readonly VectorEnv[],
    private readonly act: BatchPolicy,
    private readonly threshold: number,
    private readonly stopWhenSolved: boolean,
    private readonly onEvaluation?: (evaluation: Evaluation) => void,
  ) {}

  /** Training should stop: solved, and asked to stop there. */
  get done(): boolean {
    return this.stopWhenSolved && this.solvedAt !== undefined;
  }

  async check(at: { episode: number; totalSteps: number }): Promise<void> {
    this.record(await checkSolved(this.envs, this.act, this.threshold, at));
  }

  /** The solving evaluation when training stopped there, else a full evaluation of the final policy. */
  async final(at: { episode: number; totalSteps: number }): Promise<Evaluation> {
    if (this.done) return this.solvedAt!;
    return this.record(await fullEvaluation(this.envs, this.act, this.threshold, at));
  }

  private record(evaluation: Evaluation): Evaluation {
    this.evaluations.push(evaluation);
    if (evaluation.solved && this.solvedAt === undefined) this.solvedAt = evaluation;
    this.onEvaluation?.(evaluation);
    return evaluation;
  }
}

/** What a trainer returns. */
export interface RunResult<S extends EpisodeStats> {
  envId: EnvId;
  rewardThreshold: number;
  episodes: S[];
  evaluations: Evaluation[];
  /** The first passing solved check, if any. */
  solvedAt: Evaluation | undefined;
  /** The solving evaluation when training stopped there, else a 100-episode evaluation of the final policy. */
  finalEvaluation: Evaluation;
  seconds: number;
}
