// DQN (Mnih et al., "Human-level control through deep reinforcement learning", 2015) in TF1 style:
// an online Q-network and a target network (variable scopes 'online' and 'target', the target
// refreshed by a group of tf.assign ops), an experience replay buffer, epsilon-greedy exploration
// decaying linearly, the Huber loss (tf.losses.huberLoss) and Adam.
//   npx tsx examples/dqn/main.ts [--env frozenlake|cartpole|CartPole-v1] [--slippery]
//                                [--episodes N] [--seed 0] [--lr ...] [--gamma ...] [--batch N]
//                                [--target-update N] [--epsilon-decay N] [--log-every N]
//                                [--keep-going] [--plot FILE]
// Every 10 (FrozenLake: 20) episodes the greedy policy is evaluated on 10 episodes, and when they
// reach the bar, on 100 fresh ones. Training stops at the first such check whose average reaches
// the bar (FrozenLake deterministic: the goal in every episode; CartPole-v0: 195), unless
// --keep-going. The run exits non-zero when it is not solved within --episodes.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../../src/index.js';
import { numberOption } from '../mnist-common/cli.js';
import { seededRandom } from '../mnist-common/data.js';
import { reportRun } from '../rl-common/cli.js';
import { makeEnv, parseEnvId, type EnvId } from '../rl-common/make.js';
import {
  evaluationEnvs,
  formatEpisode,
  formatEvaluation,
  MovingAverage,
  SolveTracker,
  SOLVE_EPISODES,
  type BatchPolicy,
  type EpisodeStats,
  type Evaluation,
  type RunResult,
  withOverrides,
} from '../rl-common/training.js';

export interface DqnHyperparameters {
  /** Units of the hidden ReLU layers ([] : a linear Q-function, a table for one-hot states). */
  hidden: number[];
  learningRate: number;
  gamma: number;
  batchSize: number;
  bufferSize: number;
  /** Steps of random play before learning starts. */
  learningStarts: number;
  /** A gradient step every this many environment steps. */
  trainFrequency: number;
  /** The target network is refreshed every this many environment steps. */
  targetUpdateInterval: number;
  epsilonStart: number;
  epsilonEnd: number;
  /** Steps over which epsilon falls linearly from epsilonStart to epsilonEnd. */
  epsilonDecaySteps: number;
  /** Training episodes between two solved checks. */
  evalEvery: number;
  /** Upper bound on training episodes. */
  episodes: number;
}

/** Per environment; the CartPole settings are those of OpenAI baselines' deepq CartPole example, with Adam and a faster target refresh. */
export const DQN_DEFAULTS: Record<'FrozenLake' | 'CartPole', DqnHyperparameters> = {
  FrozenLake: {
    hidden: [],
    learningRate: 0.01,
    gamma: 0.95,
    batchSize: 32,
    bufferSize: 10_000,
    learningStarts: 200,
    trainFrequency: 1,
    targetUpdateInterval: 100,
    epsilonStart: 1,
    epsilonEnd: 0.05,
    epsilonDecaySteps: 2_000,
    evalEvery: 20,
    episodes: 2_000,
  },
  CartPole: {
    hidden: [64, 64],
    learningRate: 1e-3,
    gamma: 0.99,
    batchSize: 64,
    bufferSize: 50_000,
    learningStarts: 1_000,
    trainFrequency: 1,
    targetUpdateInterval: 500,
    epsilonStart: 1,
    epsilonEnd: 0.02,
    epsilonDecaySteps: 10_000,
    evalEvery: 10,
    episodes: 1_500,
  },
};

export interface DqnOptions extends Partial<DqnHyperparameters> {
  env?: EnvId;
  /** FrozenLake only; default false (the deterministic lake). */
  isSlippery?: boolean;
  seed?: number;
  /** Stop at the first solved check that passes (default true). */
  stopWhenSolved?: boolean;
  onEpisode?: (stats: DqnEpisodeStats) => void;
  onEvaluation?: (evaluation: Evaluation) => void;
}

export interface DqnEpisodeStats extends EpisodeStats {
  epsilon: number;
  /** Mean Huber loss of this episode's gradient steps (NaN before learning starts). */
  loss: number;
}

export type DqnResult = RunResult<DqnEpisodeStats>;

/** Uniform experience replay over a ring of the last `capacity` transitions. */
export class ReplayBuffer {
  readonly observations: Float32Array;
  readonly nextObservations: Float32Array;
  readonly actions: Int32Array;
  readonly rewards: Float32Array;
  /** 1 where the transition ended the episode inside the MDP (no bootstrapping), else 0. */
  readonly terminals: Float32Array;
  private next = 0;
  size = 0;

  constructor(
    readonly capacity: number,
    readonly observationSize: number,
  ) {
    this.observations = new Float32Array(capacity * observationSize);
    this.nextObservations = new Float32Array(capacity * observationSize);
    this.actions = new Int32Array(capacity);
    this.rewards = new Float32Array(capacity);
    this.terminals = new Float32Array(capacity);
  }

  add(observation: Float32Array, action: number, reward: number, nextObservation: Float32Array, terminal: boolean): void {
    const i = this.next;
    this.observations.set(observation, i * this.observationSize);
    this.nextObservations.set(nextObservation, i * this.observationSize);
    this.actions[i] = action;
    this.rewards[i] = reward;
    this.terminals[i] = terminal ? 1 : 0;
    this.next = (i + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** `batchSize` transitions drawn uniformly with replacement (as baselines' ReplayBuffer). */
  sample(batchSize: number, random: () => number): { observations: Float32Array; actions: Int32Array; rewards: Float32Array; nextObservations: Float32Array; terminals: Float32Array } {
    if (this.size === 0) throw new RangeError('ReplayBuffer: cannot sample from an empty buffer');
    const d = this.observationSize;
    const out = {
      observations: new Float32Array(batchSize * d),
      actions: new Int32Array(batchSize),
      rewards: new Float32Array(batchSize),
      nextObservations: new Float32Array(batchSize * d),
      terminals: new Float32Array(batchSize),
    };
    for (let b = 0; b < batchSize; b++) {
      const i = Math.floor(random() * this.size);
      out.observations.set(this.observations.subarray(i * d, (i + 1) * d), b * d);
      out.nextObservations.set(this.nextObservations.subarray(i * d, (i + 1) * d), b * d);
      out.actions[b] = this.actions[i]!;
      out.rewards[b] = this.rewards[i]!;
      out.terminals[b] = this.terminals[i]!;
    }
    return out;
  }
}

/** The linearly decaying exploration rate after `step` environment steps. */
export function epsilonAt(step: number, h: Pick<DqnHyperparameters, 'epsilonStart' | 'epsilonEnd' | 'epsilonDecaySteps'>): number {
  const fraction = Math.min(1, step / h.epsilonDecaySteps);
  return (1 - fraction) * h.epsilonStart + fraction * h.epsilonEnd;
}

/** The Q-network: hidden ReLU layers, then one linear output per action. */
function qNetwork(observations: tf.Tensor, hidden: readonly number[], numActions: number, trainable: boolean): tf.Tensor {
  let h = observations;
  hidden.forEach((units, i) => {
    h = tf.layers.dense(h, units, { activation: tf.nn.relu, trainable, name: `hidden${i + 1}` });
  });
  return tf.layers.dense(h, numActions, { trainable, name: 'q' });
}

/** The DQN graph: online and target Q-networks, the TD loss and its Adam step, the target refresh. */
export function buildDqnGraph(h: DqnHyperparameters, observationSize: number, numActions: number, seed: number) {
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    tf.setRandomSeed(seed);
    const observations = tf.placeholder('float32', [null, observationSize], 'observations');
    const actions = tf.placeholder('int32', [null], 'actions');
    const rewards = tf.placeholder('float32', [null], 'rewards');
    const nextObservations = tf.placeholder('float32', [null, observationSize], 'next_observations');
    const terminals = tf.placeholder('float32', [null], 'terminals');

    const q = tf.variableScope('online', () => qNetwork(observations, h.hidden, numActions, true));
    const nextQ = tf.variableScope('target', () => qNetwork(nextObservations, h.hidden, numActions, false));
    const greedy = tf.argmax(q, 1, 'int32', 'greedy_action');

    // y = r + gamma * max_a' Q_target(s', a'), with no bootstrap past a terminal state.
    const bootstrap = tf.multiply(tf.subtract(1, terminals), tf.reduceMax(nextQ, 1));
    const target = tf.stopGradient(tf.add(rewards, tf.multiply(h.gamma, bootstrap)), 'td_target');
    const chosenQ = tf.reduceSum(tf.multiply(q, tf.oneHot(actions, numActions)), 1);
    const loss = tf.losses.huberLoss(target, chosenQ);
    const onlineVars = tf.trainableVariables('online');
    const trainOp = new tf.train.AdamOptimizer(h.learningRate).minimize(loss, { varList: onlineVars });

    // Each target variable takes the value of the online variable of the same name.
    const targetVars = new Map(tf.globalVariables('target').map((v) => [v.name.replace(/^target\//, ''), v]));
    const updateTarget = tf.group(
      onlineVars.map((v) => {
        const t = targetVars.get(v.name.replace(/^online\//, ''));
        if (t === undefined) throw new Error(`DQN: no target variable for ${v.name}`);
        return tf.assign(t, v);
      }),
      'update_target',
    );
    return { observations, actions, rewards, nextObservations, terminals, greedy, loss, trainOp, updateTarget, init: tf.globalVariablesInitializer() };
  });
  return { g, m };
}

/** The default hyperparameters of an environment id. */
export function dqnDefaults(envId: EnvId): DqnHyperparameters {
  return DQN_DEFAULTS[envId.startsWith('FrozenLake') ? 'FrozenLake' : 'CartPole'];
}

export async function trainDqn(opts: DqnOptions = {}): Promise<DqnResult> {
  const envId = opts.env ?? 'FrozenLake-v1';
  const h = withOverrides(dqnDefaults(envId), opts);
  const seed = opts.seed ?? 0;
  const isSlippery = opts.isSlippery ?? false;
  const spec = makeEnv(envId, { seed, isSlippery });
  const env = spec.env;
  const random = seededRandom(seed + 7919);
  const buffer = new ReplayBuffer(h.bufferSize, env.observationSize);
  const { g, m } = buildDqnGraph(h, env.observationSize, env.numActions, seed);
  const sess = new tf.Session({ graph: g });
  const start = performance.now();
  const seconds = (): number => (performance.now() - start) / 1000;

  const act: BatchPolicy = async (observations, count) => {
    const [a] = await sess.run([m.greedy], [[m.observations, new tf.NDArray(observations, [count, env.observationSize])]]);
    return a!.data as Int32Array;
  };

  const episodes: DqnEpisodeStats[] = [];
  const tracker = new SolveTracker(evaluationEnvs(envId, seed, { isSlippery }), act, spec.rewardThreshold, opts.stopWhenSolved ?? true, opts.onEvaluation);
  try {
    await sess.run(m.init);
    await sess.run(m.updateTarget);
    const average = new MovingAverage(SOLVE_EPISODES);
    let totalSteps = 0;
    for (let episode = 1; episode <= h.episodes && !tracker.done; episode++) {
      let observation = env.reset();
      let episodeReturn = 0;
      let length = 0;
      let lossSum = 0;
      let lossCount = 0;
      for (;;) {
        const epsilon = epsilonAt(totalSteps, h);
        const action = random() < epsilon ? Math.floor(random() * env.numActions) : (await act(observation, 1))[0]!;
        const s = env.step(action);
        buffer.add(observation, action, s.reward, s.observation, s.terminated);
        observation = s.observation;
        episodeReturn += s.reward;
        length++;
        totalSteps++;
        if (totalSteps > h.learningStarts && totalSteps % h.trainFrequency === 0) {
          const b = buffer.sample(h.batchSize, random);
          const [loss] = await sess.run([m.loss, m.trainOp], [
            [m.observations, new tf.NDArray(b.observations, [h.batchSize, env.observationSize])],
            [m.actions, new tf.NDArray(b.actions, [h.batchSize])],
            [m.rewards, new tf.NDArray(b.rewards, [h.batchSize])],
            [m.nextObservations, new tf.NDArray(b.nextObservations, [h.batchSize, env.observationSize])],
            [m.terminals, new tf.NDArray(b.terminals, [h.batchSize])],
          ]);
          lossSum += loss!.scalar() as number;
          lossCount++;
        }
        if (totalSteps % h.targetUpdateInterval === 0) await sess.run(m.updateTarget);
        if (s.terminated || s.truncated) break;
      }
      const stats: DqnEpisodeStats = {
        episode,
        episodeReturn,
        length,
        totalSteps,
        movingAverage: average.push(episodeReturn),
        seconds: seconds(),
        epsilon: epsilonAt(totalSteps, h),
        loss: lossCount === 0 ? NaN : lossSum / lossCount,
      };
      episodes.push(stats);
      opts.onEpisode?.(stats);
      if (episode % h.evalEvery === 0 && totalSteps > h.learningStarts) await tracker.check({ episode, totalSteps });
    }
    const finalEvaluation = await tracker.final({ episode: episodes.length, totalSteps });
    const { evaluations, solvedAt } = tracker;
    return { envId, rewardThreshold: spec.rewardThreshold, episodes, evaluations, solvedAt, finalEvaluation, seconds: seconds() };
  } finally {
    sess.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      env: { type: 'string' },
      slippery: { type: 'boolean' },
      episodes: { type: 'string' },
      seed: { type: 'string' },
      lr: { type: 'string' },
      gamma: { type: 'string' },
      batch: { type: 'string' },
      'target-update': { type: 'string' },
      'epsilon-decay': { type: 'string' },
      'log-every': { type: 'string' },
      'keep-going': { type: 'boolean' },
      plot: { type: 'string' },
    },
  });
  const envId = parseEnvId(values.env ?? 'frozenlake');
  const defaults = dqnDefaults(envId);
  const isSlippery = values.slippery ?? false;
  const opts: DqnOptions = {
    env: envId,
    isSlippery,
    episodes: numberOption(values.episodes, defaults.episodes, 'episodes', 'positive integer'),
    seed: numberOption(values.seed, 0, 'seed', 'non-negative integer'),
    learningRate: numberOption(values.lr, defaults.learningRate, 'lr', 'non-negative number'),
    gamma: numberOption(values.gamma, defaults.gamma, 'gamma', 'non-negative number'),
    batchSize: numberOption(values.batch, defaults.batchSize, 'batch', 'positive integer'),
    targetUpdateInterval: numberOption(values['target-update'], defaults.targetUpdateInterval, 'target-update', 'positive integer'),
    epsilonDecaySteps: numberOption(values['epsilon-decay'], defaults.epsilonDecaySteps, 'epsilon-decay', 'positive integer'),
  };
  const logEvery = numberOption(values['log-every'], envId.startsWith('FrozenLake') ? 50 : 10, 'log-every', 'positive integer');
  const spec = makeEnv(envId, { isSlippery });
  console.log(`DQN on ${envId}${envId.startsWith('FrozenLake') ? (isSlippery ? ' (slippery)' : ' (deterministic)') : ''}: solved at an average return of ${spec.rewardThreshold} over ${SOLVE_EPISODES} greedy episodes`);
  const result = await trainDqn({
    ...opts,
    onEpisode: (s) => {
      if (s.episode % logEvery === 0) console.log(formatEpisode(s, `, epsilon ${s.epsilon.toFixed(3)}, loss ${s.loss.toFixed(4)}`));
    },
    stopWhenSolved: !values['keep-going'],
    onEvaluation: (e) => console.log(formatEvaluation(e)),
  });
  reportRun(result, 'greedy', values.plot);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
