// The RL examples' command-line output.
import { writeFileSync } from 'node:fs';
import { returnCurvePng } from './plot.js';
import { SOLVE_EPISODES, type EpisodeStats, type RunResult } from './training.js';

/**
 * The command line's closing lines: solved or not, the final policy's evaluation, the time, and
 * the return curve when `plotPath` is given. An unsolved run makes the process exit non-zero.
 */
export function reportRun(result: RunResult<EpisodeStats>, policy: 'greedy' | 'sampled', plotPath: string | undefined): void {
  const f = result.finalEvaluation;
  const solved = result.solvedAt;
  if (solved) {
    console.log(`solved after ${solved.episode} episodes (${solved.totalSteps} steps): average return ${solved.mean.toFixed(2)} over ${SOLVE_EPISODES} episodes (${policy} actions)`);
  } else {
    console.log(`not solved in ${result.episodes.length} episodes`);
    process.exitCode = 1;
  }
  if (f !== solved) console.log(`final policy after ${f.episode} episodes: average return ${f.mean.toFixed(2)} over ${SOLVE_EPISODES} episodes (${policy} actions)`);
  console.log(`training took ${result.seconds.toFixed(1)} s`);
  if (plotPath) {
    writeFileSync(plotPath, returnCurvePng(result.episodes.map((e) => e.episodeReturn), result.rewardThreshold, result.evaluations));
    console.log(`return curve written to ${plotPath}`);
  }
}
