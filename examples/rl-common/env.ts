// The environment interface the RL examples share: gym's reset/step API (gymnasium's five-tuple,
// without info), a TimeLimit wrapper and a one-hot observation wrapper.

/** What one step returns: gym's (observation, reward, terminated, truncated). */
export interface Step<O> {
  observation: O;
  reward: number;
  /** The episode ended inside the MDP (a hole, the goal, the pole fell): no value beyond this state. */
  terminated: boolean;
  /** The episode was cut short from outside (the time limit): the state still has a value. */
  truncated: boolean;
}

export interface Env<O> {
  readonly numActions: number;
  reset(): O;
  step(action: number): Step<O>;
}

/** An environment whose observations are float vectors of a fixed length: what a network reads. */
export interface VectorEnv extends Env<Float32Array> {
  readonly observationSize: number;
}

/** Throws unless `action` is one of `numActions` integer actions (gym's action_space.contains). */
export function checkAction(env: string, action: number, numActions: number): void {
  if (!Number.isInteger(action) || action < 0 || action >= numActions) {
    throw new RangeError(`${env}: action must be an integer in [0, ${numActions}), got ${action}`);
  }
}

/** gym.wrappers.TimeLimit: the episode is truncated after `maxEpisodeSteps` steps. */
export class TimeLimit<O> implements Env<O> {
  private elapsed = 0;
  private started = false;

  constructor(
    readonly env: Env<O>,
    readonly maxEpisodeSteps: number,
  ) {
    if (!Number.isInteger(maxEpisodeSteps) || maxEpisodeSteps <= 0) throw new RangeError(`TimeLimit: maxEpisodeSteps must be a positive integer, got ${maxEpisodeSteps}`);
  }

  get numActions(): number {
    return this.env.numActions;
  }

  reset(): O {
    this.elapsed = 0;
    this.started = true;
    return this.env.reset();
  }

  step(action: number): Step<O> {
    if (!this.started) throw new Error('TimeLimit: call reset() before step()');
    const s = this.env.step(action);
    this.elapsed++;
    return this.elapsed >= this.maxEpisodeSteps ? { ...s, truncated: true } : s;
  }
}

/** One-hot encodes a discrete observation (FrozenLake's state number) as a float vector. */
export class OneHotObservation implements VectorEnv {
  constructor(
    readonly env: Env<number>,
    readonly observationSize: number,
  ) {}

  get numActions(): number {
    return this.env.numActions;
  }

  private encode(state: number): Float32Array {
    const v = new Float32Array(this.observationSize);
    v[state] = 1;
    return v;
  }

  reset(): Float32Array {
    return this.encode(this.env.reset());
  }

  step(action: number): Step<Float32Array> {
    const s = this.env.step(action);
    return { ...s, observation: this.encode(s.observation) };
  }
}
