// REINFORCE with a learned baseline (Williams 1992; Sutton and Barto, 2nd ed., section 13.4) on
// CartPole, in TF1 style. A policy network gives action logits; a value network beside it, the
// baseline, estimates the return from each state. After each episode, for every step t:
//   policy loss  -log pi(a_t | s_t) * (G_t - V(s_t))   (tf.nn.sparseSoftmaxCrossEntropyWithLogits
//                                                        weighted by the advantage, held constant)
//   value loss   (G_t - V(s_t))^2
// each minimized by its own Adam (Sutton and Barto's separate step sizes for theta and w).
// Actions are drawn in the graph by tf.random.categorical.
//   npx tsx examples/reinforce/main.ts [--env cartpole|CartPole-v1] [--episodes N] [--seed 0]
//                                      [--lr 0.001] [--value-lr 0.005] [--gamma 0.99] [--hidden 128]
//                                      [--log-every N] [--keep-going] [--plot FILE]
// Every 10 episodes the policy (actions drawn from it, as in training) is evaluated on 10
// episodes, and when they reach the bar, on 100 fresh ones. Training stops at the first such check
// whose average reaches the bar (CartPole-v0: 195), unless --keep-going. The run exits non-zero
// when it is not solved within --episodes.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '../../src/index.js';
import { numberOption } from '../mnist-common/cli.js';
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

export interface ReinforceHyperparameters {
  /** Units of the hidden ReLU layer of each network. */
  hidden: number;
  policyLearningRate: number;
  valueLearningRate: number;
  gamma: number;
  /** Training episodes between two solved checks. */
  evalEvery: number;
  /** Upper bound on training episodes. */
  episodes: number;
}

export const REINFORCE_DEFAULTS: ReinforceHyperparameters = {
  hidden: 128,
  policyLearningRate: 1e-3,
  valueLearningRate: 5e-3,
  gamma: 0.99,
  evalEvery: 10,
  episodes: 3_000,
};

export interface ReinforceOptions extends Partial<ReinforceHyperparameters> {
  /** CartPole-v0 (the default) or CartPole-v1. */
  env?: EnvId;
  seed?: number;
  /** Stop at the first solved check that passes (default true). */
  stopWhenSolved?: boolean;
  onEpisode?: (stats: ReinforceEpisodeStats) => void;
  onEvaluation?: (evaluation: Evaluation) => void;
}

export interface ReinforceEpisodeStats extends EpisodeStats {
  policyLoss: number;
  valueLoss: number;
}

export type ReinforceResult = RunResult<ReinforceEpisodeStats>;

/**
 * The discounted return from each step: G_t = r_t + gamma * G_{t+1}, starting after the last step
 * from `bootstrap` (0 when the episode terminated; the value estimate of the last state when it was
 * cut off by the time limit, which is not part of the MDP).
 */
export function discountedReturns(rewards: readonly number[], gamma: number, bootstrap = 0): Float32Array {
  const out = new Float32Array(rewards.length);
  let g = bootstrap;
  for (let t = rewards.length - 1; t >= 0; t--) {
    g = rewards[t]! + gamma * g;
    out[t] = g;
  }
  return out;
}

function mlp(x: tf.Tensor, hidden: number, outputs: number): tf.Tensor {
  const h = tf.layers.dense(x, hidden, { activation: tf.nn.relu, name: 'hidden' });
  return tf.layers.dense(h, outputs, { name: 'out' });
}

/** The policy and value networks, their losses and Adam steps, in a new graph. */
export function buildGraph(h: ReinforceHyperparameters, observationSize: number, numActions: number, seed: number) {
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    tf.setRandomSeed(seed);
    const observations = tf.placeholder('float32', [null, observationSize], 'observations');
    const actions = tf.placeholder('int32', [null], 'actions');
    const returns = tf.placeholder('float32', [null], 'returns');
    // 1 for the steps of the episode, 0 for the rows that pad it to a fixed length.
    const mask = tf.placeholder('float32', [null], 'mask');

    const logits = tf.variableScope('policy', () => mlp(observations, h.hidden, numActions));
    const value = tf.variableScope('value', () => tf.squeeze(mlp(observations, h.hidden, 1), [1]));
    const sampledAction = tf.squeeze(tf.random.categorical(logits, 1, { dtype: 'int32' }), [1], 'sampled_action');

    const advantages = tf.stopGradient(tf.subtract(returns, value), 'advantages');
    const negLogProb = tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: actions, logits });
    const policyLoss = tf.losses.computeWeightedLoss(tf.multiply(negLogProb, advantages), { weights: mask, scope: 'policy_loss' });
    const valueLoss = tf.losses.meanSquaredError(returns, value, { weights: mask });
    const trainOp = tf.group(
      [
        new tf.train.AdamOptimizer(h.policyLearningRate, { name: 'AdamPolicy' }).minimize(policyLoss, { varList: tf.trainableVariables('policy') }),
        new tf.train.AdamOptimizer(h.valueLearningRate, { name: 'AdamValue' }).minimize(valueLoss, { varList: tf.trainableVariables('value') }),
      ],
      'train',
    );
    return { observations, actions, returns, mask, logits, sampledAction, value, policyLoss, valueLoss, trainOp, init: tf.globalVariablesInitializer() };
  });
  return { g, m };
}

export async function trainReinforce(opts: ReinforceOptions = {}): Promise<ReinforceResult> {
  const envId = opts.env ?? 'CartPole-v0';
  if (!envId.startsWith('CartPole')) throw new RangeError(`REINFORCE: this example trains on CartPole, got ${envId}`);
  const h = withOverrides(REINFORCE_DEFAULTS, opts);
  const seed = opts.seed ?? 0;
  const spec = makeEnv(envId, { seed });
  const env = spec.env;
  const d = env.observationSize;
  const { g, m } = buildGraph(h, d, env.numActions, seed);
  const sess = new tf.Session({ graph: g });
  const start = performance.now();
  const seconds = (): number => (performance.now() - start) / 1000;

  const act: BatchPolicy = async (observations, count) => {
    const [a] = await sess.run([m.sampledAction], [[m.observations, new tf.NDArray(observations, [count, d])]]);
    return a!.data as Int32Array;
  };

  const episodes: ReinforceEpisodeStats[] = [];
  const tracker = new SolveTracker(evaluationEnvs(envId, seed), act, spec.rewardThreshold, opts.stopWhenSolved ?? true, opts.onEvaluation);
  try {
    await sess.run(m.init);
    const average = new MovingAverage(SOLVE_EPISODES);
    let totalSteps = 0;
    for (let episode = 1; episode <= h.episodes && !tracker.done; episode++) {
      const observations: number[] = [];
      const actions: number[] = [];
      const rewards: number[] = [];
      let observation = env.reset();
      let bootstrap = 0;
      for (;;) {
        const action = (await act(observation, 1))[0]!;
        const s = env.step(action);
        observations.push(...observation);
        actions.push(action);
        rewards.push(s.reward);
        observation = s.observation;
        if (s.terminated) break;
        if (s.truncated) {
          const [v] = await sess.run([m.value], [[m.observations, new tf.NDArray(observation, [1, d])]]);
          bootstrap = v!.data[0] as number;
          break;
        }
      }
      const n = actions.length;
      totalSteps += n;
      // Every episode is padded to the time limit, so the training step has one shape (one plan).
      const rows = spec.maxEpisodeSteps;
      const padded = (values: ArrayLike<number>, width: number): Float32Array => {
        const out = new Float32Array(rows * width);
        out.set(values);
        return out;
      };
      const [policyLoss, valueLoss] = await sess.run([m.policyLoss, m.valueLoss, m.trainOp], [
        [m.observations, new tf.NDArray(padded(observations, d), [rows, d])],
        [m.actions, new tf.NDArray(Int32Array.from(padded(actions, 1)), [rows])],
        [m.returns, new tf.NDArray(padded(discountedReturns(rewards, h.gamma, bootstrap), 1), [rows])],
        [m.mask, new tf.NDArray(padded(new Float32Array(n).fill(1), 1), [rows])],
      ]);
      const episodeReturn = rewards.reduce((a, b) => a + b, 0);
      const stats: ReinforceEpisodeStats = {
        episode,
        episodeReturn,
        length: n,
        totalSteps,
        movingAverage: average.push(episodeReturn),
        seconds: seconds(),
        policyLoss: policyLoss!.scalar() as number,
        valueLoss: valueLoss!.scalar() as number,
      };
      episodes.push(stats);
      opts.onEpisode?.(stats);
      if (episode % h.evalEvery === 0) await tracker.check({ episode, totalSteps });
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
      episodes: { type: 'string' },
      seed: { type: 'string' },
      lr: { type: 'string' },
      'value-lr': { type: 'string' },
      gamma: { type: 'string' },
      hidden: { type: 'string' },
      'log-every': { type: 'string' },
      'keep-going': { type: 'boolean' },
      plot: { type: 'string' },
    },
  });
  const envId = parseEnvId(values.env ?? 'cartpole');
  const d = REINFORCE_DEFAULTS;
  const spec = makeEnv(envId);
  console.log(`REINFORCE with a learned baseline on ${envId}: solved at an average return of ${spec.rewardThreshold} over ${SOLVE_EPISODES} episodes`);
  const logEvery = numberOption(values['log-every'], 10, 'log-every', 'positive integer');
  const result = await trainReinforce({
    env: envId,
    episodes: numberOption(values.episodes, d.episodes, 'episodes', 'positive integer'),
    seed: numberOption(values.seed, 0, 'seed', 'non-negative integer'),
    policyLearningRate: numberOption(values.lr, d.policyLearningRate, 'lr', 'non-negative number'),
    valueLearningRate: numberOption(values['value-lr'], d.valueLearningRate, 'value-lr', 'non-negative number'),
    gamma: numberOption(values.gamma, d.gamma, 'gamma', 'non-negative number'),
    hidden: numberOption(values.hidden, d.hidden, 'hidden', 'positive integer'),
    onEpisode: (s) => {
      if (s.episode % logEvery === 0) console.log(formatEpisode(s, `, policy loss ${s.policyLoss.toFixed(3)}, value loss ${s.valueLoss.toFixed(2)}`));
    },
    stopWhenSolved: !values['keep-going'],
    onEvaluation: (e) => console.log(formatEvaluation(e)),
  });
  reportRun(result, 'sampled', values.plot);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
