// gym.make for the environments the RL examples use, with gym's registered time limits and
// solved thresholds.
import { CartPole } from './cartpole.js';
import { OneHotObservation, TimeLimit, type VectorEnv } from './env.js';
import { FrozenLake } from './frozen_lake.js';

export const ENV_IDS = ['FrozenLake-v1', 'CartPole-v0', 'CartPole-v1'] as const;
export type EnvId = (typeof ENV_IDS)[number];

export interface MakeOptions {
  seed?: number;
  /** FrozenLake only (default true, as gym's). */
  isSlippery?: boolean;
}

export interface EnvSpec {
  id: EnvId;
  /** What the networks see: FrozenLake's state one-hot encoded. */
  env: VectorEnv;
  maxEpisodeSteps: number;
  /**
   * The average return over 100 consecutive episodes that counts as solved: gym's reward_threshold
   * (CartPole-v0 195, v1 475, slippery FrozenLake 0.70), and 1 for deterministic FrozenLake, where
   * an optimal policy reaches the goal in every episode.
   */
  rewardThreshold: number;
}

/** The command-line names: gym ids, and `frozenlake`/`cartpole` for FrozenLake-v1 and CartPole-v0. */
export function parseEnvId(name: string): EnvId {
  const alias: Record<string, EnvId> = { frozenlake: 'FrozenLake-v1', cartpole: 'CartPole-v0' };
  const id = alias[name.toLowerCase()] ?? ENV_IDS.find((e) => e.toLowerCase() === name.toLowerCase());
  if (id === undefined) throw new RangeError(`unknown environment '${name}': expected frozenlake, cartpole or one of ${ENV_IDS.join(', ')}`);
  return id;
}

export function makeEnv(id: EnvId, opts: MakeOptions = {}): EnvSpec {
  const seed = opts.seed ?? 0;
  switch (id) {
    case 'FrozenLake-v1': {
      const lake = new FrozenLake({ isSlippery: opts.isSlippery, seed });
      const maxEpisodeSteps = 100;
      return {
        id,
        env: new OneHotObservation(new TimeLimit(lake, maxEpisodeSteps), lake.numStates),
        maxEpisodeSteps,
        rewardThreshold: lake.isSlippery ? 0.7 : 1,
      };
    }
    case 'CartPole-v0':
    case 'CartPole-v1': {
      const maxEpisodeSteps = id === 'CartPole-v0' ? 200 : 500;
      const cartPole = new CartPole({ seed });
      const limited = new TimeLimit(cartPole, maxEpisodeSteps);
      const env: VectorEnv = {
        observationSize: cartPole.observationSize,
        numActions: cartPole.numActions,
        reset: () => limited.reset(),
        step: (action) => limited.step(action),
      };
      return {
        id,
        env,
        maxEpisodeSteps,
        rewardThreshold: id === 'CartPole-v0' ? 195 : 475,
      };
    }
  }
}
