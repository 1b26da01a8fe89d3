// The RL gallery: the environments' dynamics against gym's equations worked by hand, DQN solving
// the deterministic FrozenLake, and short CartPole runs of DQN and REINFORCE that must beat a
// random policy clearly.
import { decode } from 'fast-png';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { buildDqnGraph, DQN_DEFAULTS, epsilonAt, ReplayBuffer, trainDqn } from '../examples/dqn/main.js';
import { discountedReturns, trainReinforce } from '../examples/reinforce/main.js';
import { CartPole, type CartPoleState } from '../examples/rl-common/cartpole.js';
import { TimeLimit } from '../examples/rl-common/env.js';
import { DOWN, FrozenLake, LEFT, RIGHT, UP } from '../examples/rl-common/frozen_lake.js';
import { makeEnv, parseEnvId } from '../examples/rl-common/make.js';
import { returnCurvePng, tickStep } from '../examples/rl-common/plot.js';
import { evaluateEpisodes, mean, MovingAverage, SOLVE_EPISODES, type BatchPolicy } from '../examples/rl-common/training.js';

describe('FrozenLake', () => {
  it('the deterministic lake moves one cell per action, stops at the edges and ends in holes and at the goal', () => {
    const lake = new FrozenLake({ isSlippery: false });
    expect(lake.reset()).toBe(0);
    expect(lake.step(LEFT)).toEqual({ observation: 0, reward: 0, terminated: false, truncated: false });
    expect(lake.step(UP).observation).toBe(0);
    expect(lake.step(RIGHT).observation).toBe(1);
    expect(lake.step(DOWN)).toEqual({ observation: 5, reward: 0, terminated: true, truncated: false }); // H at row 1, col 1

    // The shortest way around the holes: down, down, right, right, down, right.
    lake.reset();
    const path = [DOWN, DOWN, RIGHT, RIGHT, DOWN, RIGHT].map((a) => lake.step(a));
    expect(path.map((s) => s.observation)).toEqual([4, 8, 9, 10, 14, 15]);
    expect(path.map((s) => s.reward)).toEqual([0, 0, 0, 0, 0, 1]);
    expect(path.map((s) => s.terminated)).toEqual([false, false, false, false, false, true]);
    expect(() => lake.step(4)).toThrow(/action must be an integer in \[0, 4\)/);
  });

  it("slippery ice: gym's transition table (intended direction or either perpendicular, 1/3 each) and sampling", () => {
    const lake = new FrozenLake({ isSlippery: true, seed: 1 });
    // From the start, DOWN slips LEFT (stays at 0), goes DOWN (4) or slips RIGHT (1).
    expect(lake.transitions(0, DOWN).map((t) => [t.next, t.probability])).toEqual([
      [0, 1 / 3],
      [4, 1 / 3],
      [1, 1 / 3],
    ]);
    // From 14, left of the goal, RIGHT slips DOWN (the bottom edge: stays), reaches G, or slips UP to 10.
    expect(lake.transitions(14, RIGHT).map((t) => [t.next, t.reward, t.terminated])).toEqual([
      [14, 0, false],
      [15, 1, true],
      [10, 0, false],
    ]);
    expect(lake.transitions(5, LEFT)).toEqual([{ probability: 1, next: 5, reward: 0, terminated: true }]);
    const counts = new Map<number, number>();
    const n = 3000;
    for (let i = 0; i < n; i++) {
      lake.reset();
      const next = lake.step(DOWN).observation;
      counts.set(next, (counts.get(next) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([0, 1, 4]);
    // Each frequency within 5 standard deviations (sqrt(2/9/n) = 0.0086) of 1/3.
    for (const c of counts.values()) expect(Math.abs(c / n - 1 / 3)).toBeLessThan(0.043);
  });

  it("FrozenLake-v1 is truncated after gym's 100 steps, one-hot encoded for the networks", () => {
    const { env, maxEpisodeSteps, rewardThreshold } = makeEnv('FrozenLake-v1', { isSlippery: false });
    expect([maxEpisodeSteps, rewardThreshold, env.observationSize, env.numActions]).toEqual([100, 1, 16, 4]);
    expect(Array.from(env.reset())).toEqual([1, ...new Array(15).fill(0)]);
    let steps = 0;
    let last;
    do {
      last = env.step(LEFT);
      steps++;
    } while (!last.terminated && !last.truncated);
    expect(steps).toBe(100);
    expect(last.truncated).toBe(true);
    expect(last.terminated).toBe(false);
    expect(makeEnv('FrozenLake-v1').rewardThreshold).toBe(0.7);
  });

  it('rejects bad maps and steps before reset', () => {
    expect(() => new FrozenLake({ map: ['SFX', 'FFG'] })).toThrow(/equal-length rows of S, F, H and G/);
    expect(() => new FrozenLake({ map: ['FF', 'FG'] })).toThrow(/exactly one S/);
    expect(() => new FrozenLake().step(0)).toThrow(/reset\(\) before step\(\)/);
    expect(() => new TimeLimit(new FrozenLake(), 0)).toThrow(/positive integer/);
  });
});

/**
 * The cart-pole equations as Barto, Sutton and Anderson (1983) write them (frictionless), which
 * gym's cartpole.py factors through `temp`: M = 1 (cart), m = 0.1 (pole), l = 0.5 (half length),
 * g = 9.8, F = +-10, one Euler step of 0.02 s.
 */
function bartoStep([x, xDot, theta, thetaDot]: CartPoleState, action: number): CartPoleState {
  const [M, m, l, g, tau] = [1, 0.1, 0.5, 9.8, 0.02];
  const F = action === 1 ? 10 : -10;
  const s = Math.sin(theta);
  const c = Math.cos(theta);
  const thetaAcc = (g * s + c * ((-F - m * l * thetaDot ** 2 * s) / (M + m))) / (l * (4 / 3 - (m * c ** 2) / (M + m)));
  const xAcc = (F + m * l * (thetaDot ** 2 * s - thetaAcc * c)) / (M + m);
  return [x + tau * xDot, xDot + tau * xAcc, theta + tau * thetaDot, thetaDot + tau * thetaAcc];
}

describe('CartPole', () => {
  it('two pushes right from rest, worked by hand: accelerations 400/41 (cart) and -600/41 (pole)', () => {
    // With theta = 0: temp = F/(M+m) = 100/11; thetaAcc = -temp / (l (4/3 - m/(M+m))) = -(100/11)/(41/66)
    // = -600/41; xAcc = temp - m l thetaAcc/(M+m) = 100/11 + 300/451 = 400/41. theta is still 0 when
    // the second step's accelerations are computed (Euler uses the old state), so they repeat.
    const env = new CartPole();
    env.resetTo([0, 0, 0, 0]);
    const first = env.step(1);
    expect(first.reward).toBe(1);
    expect(first.terminated).toBe(false);
    const expectClose = (got: CartPoleState | undefined, want: number[]) => want.forEach((w, i) => expect(got![i]).toBeCloseTo(w, 14));
    expectClose(env.state, [0, 0.02 * (400 / 41), 0, 0.02 * (-600 / 41)]);
    expect(Array.from(first.observation)).toEqual(Array.from(Float32Array.from(env.state!)));
    env.step(1);
    expectClose(env.state, [0.02 * 0.02 * (400 / 41), 2 * 0.02 * (400 / 41), 0.02 * 0.02 * (-600 / 41), 2 * 0.02 * (-600 / 41)]);
  });

  it("follows the Barto et al. equations over a 60-step trajectory, in float64 as gym's", () => {
    const env = new CartPole();
    let want: CartPoleState = [0.01, -0.03, 0.04, 0.02];
    env.resetTo(want);
    for (let t = 0; t < 60; t++) {
      const action = (t * 7) % 3 === 0 ? 0 : 1;
      want = bartoStep(want, action);
      env.step(action);
      env.state!.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want[i]!))));
    }
  });

  it('ends past 12 degrees or 2.4 from the centre: 1 for that step, 0 for any after it', () => {
    const env = new CartPole();
    env.resetTo([2.39, 1, 0, 0]); // x moves by tau * x_dot = 0.02 to 2.41
    expect(env.step(1)).toMatchObject({ reward: 1, terminated: true });
    expect(env.step(1)).toMatchObject({ reward: 0, terminated: true });
    env.resetTo([0, 0, 0.2094, 0.05]); // theta moves by 0.001 past 12 degrees = 0.20944 rad
    expect(env.step(0)).toMatchObject({ reward: 1, terminated: true });
    env.resetTo([0, 0, -0.2, 0]);
    expect(env.step(1).terminated).toBe(false);
  });

  it('starts uniformly in [-0.05, 0.05], reproducibly per seed', () => {
    const a = new CartPole({ seed: 4 });
    const b = new CartPole({ seed: 4 });
    const c = new CartPole({ seed: 5 });
    const starts = Array.from({ length: 200 }, () => Array.from(a.reset()));
    expect(Array.from(b.reset())).toEqual(starts[0]);
    expect(Array.from(c.reset())).not.toEqual(starts[0]);
    const all = starts.flat();
    expect(Math.min(...all)).toBeGreaterThanOrEqual(-0.05);
    expect(Math.max(...all)).toBeLessThan(0.05);
    expect(Math.min(...all)).toBeLessThan(-0.045);
    expect(Math.max(...all)).toBeGreaterThan(0.045);
  });

  it('CartPole-v0 and v1 are truncated at 200 and 500 steps; a hand-made controller reaches both', () => {
    for (const [id, limit, threshold] of [
      ['CartPole-v0', 200, 195],
      ['CartPole-v1', 500, 475],
    ] as const) {
      const spec = makeEnv(id, { seed: 3 });
      expect([spec.maxEpisodeSteps, spec.rewardThreshold]).toEqual([limit, threshold]);
      let o = spec.env.reset();
      let steps = 0;
      let total = 0;
      for (;;) {
        // Push towards where the pole is falling.
        const s = spec.env.step(o[2]! + 0.5 * o[3]! > 0 ? 1 : 0);
        steps++;
        total += s.reward;
        o = s.observation;
        if (s.terminated || s.truncated) {
          expect(s).toMatchObject({ terminated: false, truncated: true });
          break;
        }
      }
      expect([steps, total]).toEqual([limit, limit]);
    }
  });

  it("a random policy averages about 22 steps (gym's well-known figure)", () => {
    const { env } = makeEnv('CartPole-v0', { seed: 11 });
    let x = 12345;
    const coin = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) >> 16) & 1;
    const returns = Array.from({ length: 2000 }, () => {
      env.reset();
      let total = 0;
      for (;;) {
        const s = env.step(coin());
        total += s.reward;
        if (s.terminated || s.truncated) return total;
      }
    });
    expect(mean(returns)).toBeGreaterThan(20);
    expect(mean(returns)).toBeLessThan(24);
  });

  it('environment names', () => {
    expect(parseEnvId('cartpole')).toBe('CartPole-v0');
    expect(parseEnvId('CartPole-v1')).toBe('CartPole-v1');
    expect(parseEnvId('frozenlake')).toBe('FrozenLake-v1');
    expect(() => parseEnvId('pong')).toThrow(/unknown environment 'pong'/);
  });
});

describe('RL helpers', () => {
  it('the replay buffer keeps the last transitions, rows aligned, and samples only stored ones', () => {
    const buffer = new ReplayBuffer(3, 2);
    for (let i = 0; i < 5; i++) buffer.add(Float32Array.of(i, i), i, 10 * i, Float32Array.of(i + 1, i + 1), i === 4);
    expect(buffer.size).toBe(3);
    let r = 0;
    const b = buffer.sample(60, () => ((r += 0.37) % 1));
    const seen = new Set<number>();
    for (let k = 0; k < 60; k++) {
      const a = b.actions[k]!;
      seen.add(a);
      expect([b.observations[2 * k], b.nextObservations[2 * k], b.rewards[k], b.terminals[k]]).toEqual([a, a + 1, 10 * a, a === 4 ? 1 : 0]);
    }
    expect([...seen].sort()).toEqual([2, 3, 4]);
    expect(() => new ReplayBuffer(2, 1).sample(1, Math.random)).toThrow(/empty/);
  });

  it('epsilon decays linearly, then stays; returns are discounted backwards from the bootstrap value', () => {
    const h = { epsilonStart: 1, epsilonEnd: 0.1, epsilonDecaySteps: 100 };
    expect([0, 50, 100, 1000].map((s) => epsilonAt(s, h))).toEqual([1, 0.55, 0.1, 0.1]);
    expect(Array.from(discountedReturns([1, 1, 1], 0.5))).toEqual([1.75, 1.5, 1]);
    expect(Array.from(discountedReturns([1, 1, 1], 0.5, 4))).toEqual([2.25, 2.5, 3]);
    const avg = new MovingAverage(2);
    expect([1, 3, 5].map((v) => avg.push(v))).toEqual([1, 2, 4]);
  });

  it('evaluates a batch of episodes in lockstep with one batch shape', async () => {
    const envs = Array.from({ length: 4 }, (_, i) => makeEnv('CartPole-v0', { seed: i }).env);
    const shapes = new Set<number>();
    const alwaysLeft: BatchPolicy = async (_o, count) => {
      shapes.add(count);
      return new Int32Array(count);
    };
    const returns = await evaluateEpisodes(envs, alwaysLeft);
    expect(shapes).toEqual(new Set([4]));
    // Pushing left all the time topples the pole in about ten steps.
    for (const r of returns) expect(r).toBeGreaterThanOrEqual(8);
    for (const r of returns) expect(r).toBeLessThanOrEqual(11);
  });

  it('draws the return curve as a PNG', () => {
    expect([tickStep(200, 5), tickStep(1, 5), tickStep(730, 8)]).toEqual([50, 0.2, 100]);
    const png = decode(returnCurvePng([10, 20, 50, 120, 200, 200, 180], 195, [{ episode: 4, mean: 150 }]));
    expect([png.width, png.height, png.channels]).toEqual([640, 320, 3]);
    const pixels = Array.from({ length: png.width * png.height }, (_, i) => [png.data[3 * i], png.data[3 * i + 1], png.data[3 * i + 2]].join());
    expect(pixels).toContain('20,60,160'); // the moving average
    expect(pixels).toContain('210,40,40'); // the threshold
    expect(pixels.filter((p) => p === '240,140,20')).toHaveLength(25); // one evaluation
  });
});

describe('DQN', () => {
  it("the target network starts as a copy, is refreshed by the group of assigns, and is not trained", async () => {
    const h = { ...DQN_DEFAULTS.CartPole, hidden: [8] };
    const { g, m } = buildDqnGraph(h, 4, 2, 1);
    const online = g.asDefault(() => tf.trainableVariables());
    const target = g.asDefault(() => tf.globalVariables('target'));
    expect(online.map((v) => v.name)).toEqual(['online/hidden1/kernel:0', 'online/hidden1/bias:0', 'online/q/kernel:0', 'online/q/bias:0']);
    expect(target.map((v) => v.name)).toEqual(['target/hidden1/kernel:0', 'target/hidden1/bias:0', 'target/q/kernel:0', 'target/q/bias:0']);
    const sess = new tf.Session({ graph: g });
    try {
      const values = async (vars: tf.Variable[]) => (await sess.run(vars.map((v) => v.value()))).map((a) => Array.from(a.data as Float32Array));
      await sess.run(m.init);
      expect(await values(target)).not.toEqual(await values(online));
      await sess.run(m.updateTarget);
      const copied = await values(target);
      expect(copied).toEqual(await values(online));
      const feeds: tf.FeedDict = [
        [m.observations, new tf.NDArray(Float32Array.from({ length: 8 }, (_, i) => i / 8), [2, 4])],
        [m.actions, new tf.NDArray(Int32Array.of(0, 1), [2])],
        [m.rewards, new tf.NDArray(Float32Array.of(1, 1), [2])],
        [m.nextObservations, new tf.NDArray(new Float32Array(8), [2, 4])],
        [m.terminals, new tf.NDArray(Float32Array.of(0, 1), [2])],
      ];
      await sess.run(m.trainOp, feeds);
      expect(await values(target)).toEqual(copied);
      expect(await values(online)).not.toEqual(copied);
    } finally {
      sess.close();
    }
  });

  it('solves the deterministic FrozenLake: the goal in every one of 100 greedy episodes', async () => {
    const result = await trainDqn({ env: 'FrozenLake-v1', isSlippery: false, seed: 0 });
    expect(result.solvedAt).toBeDefined();
    expect(result.finalEvaluation.returns).toHaveLength(SOLVE_EPISODES);
    expect(result.finalEvaluation.returns.every((r) => r === 1)).toBe(true);
    // Before learning, the same check fails: one episode leaves the policy untrained.
    const untrained = await trainDqn({ env: 'FrozenLake-v1', isSlippery: false, seed: 0, episodes: 1 });
    expect(untrained.solvedAt).toBeUndefined();
    expect(untrained.finalEvaluation.mean).toBeLessThan(1);
  });
});

describe('CartPole training, short runs', () => {
  // These runs are thousands of tiny Session.runs. Verification (WEIR_VERIFY_OPT: each run again
  // unoptimized, from a snapshot of the state) would make them several times slower, so it is off
  // here; the 'verified' test below runs both graphs with it on for a few episodes.
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.WEIR_VERIFY_OPT;
    process.env.WEIR_VERIFY_OPT = '0';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.WEIR_VERIFY_OPT;
    else process.env.WEIR_VERIFY_OPT = saved;
  });

  async function randomPolicyAverage(): Promise<number> {
    const envs = Array.from({ length: SOLVE_EPISODES }, (_, i) => makeEnv('CartPole-v0', { seed: 500 + i }).env);
    let x = 7;
    const random: BatchPolicy = async (_o, count) => Int32Array.from({ length: count }, () => ((x = (x * 1103515245 + 12345) % 2 ** 31) >> 16) & 1);
    return mean(await evaluateEpisodes(envs, random));
  }

  it('DQN: 150 episodes lift the greedy return far above a random policy', async () => {
    const random = await randomPolicyAverage();
    const result = await trainDqn({ env: 'CartPole-v0', seed: 0, episodes: 150, stopWhenSolved: false, evalEvery: 1_000 });
    const f = result.finalEvaluation;
    expect(f.returns).toHaveLength(SOLVE_EPISODES);
    expect(f.mean).toBeGreaterThan(3 * random);
    const early = mean(result.episodes.slice(0, 20).map((e) => e.episodeReturn));
    const late = mean(result.episodes.slice(-20).map((e) => e.episodeReturn));
    expect(late).toBeGreaterThan(1.5 * early);
  }, 60_000);

  it('REINFORCE: 200 episodes lift the return far above a random policy', async () => {
    const random = await randomPolicyAverage();
    const result = await trainReinforce({ env: 'CartPole-v0', seed: 0, episodes: 200, stopWhenSolved: false, evalEvery: 1_000 });
    const f = result.finalEvaluation;
    expect(f.returns).toHaveLength(SOLVE_EPISODES);
    expect(f.mean).toBeGreaterThan(2 * random);
    const early = mean(result.episodes.slice(0, 20).map((e) => e.episodeReturn));
    const late = mean(result.episodes.slice(-20).map((e) => e.episodeReturn));
    expect(late).toBeGreaterThan(2 * early);
  }, 60_000);
});

describe('CartPole training, verified', () => {
  it('both graphs agree with their unoptimized plans (WEIR_VERIFY_OPT) over a few episodes', async () => {
    const dqn = await trainDqn({ env: 'CartPole-v0', seed: 1, episodes: 6, learningStarts: 32, batchSize: 16, targetUpdateInterval: 20, evalEvery: 1_000 });
    expect(dqn.episodes).toHaveLength(6);
    expect(dqn.episodes.slice(-3).every((e) => Number.isFinite(e.loss))).toBe(true);
    const pg = await trainReinforce({ env: 'CartPole-v0', seed: 1, episodes: 6, evalEvery: 1_000 });
    expect(pg.episodes).toHaveLength(6);
    expect(pg.episodes.every((e) => Number.isFinite(e.policyLoss) && Number.isFinite(e.valueLoss))).toBe(true);
  });
});
