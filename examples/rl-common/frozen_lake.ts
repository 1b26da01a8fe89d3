// gym's FrozenLake (toy_text/frozen_lake.py): walk on a frozen lake from S to G without falling
// into a hole H. Observations are state numbers row * ncol + col; reward 1 on reaching G, else 0.
// On slippery ice the agent moves in the intended direction or in one of the two perpendicular
// ones, each with probability 1/3.
import { seededRandom } from '../mnist-common/data.js';
import { checkAction, type Env, type Step } from './env.js';

/** gym's map_name="4x4". */
export const FROZEN_LAKE_4X4: readonly string[] = ['SFFF', 'FHFH', 'FFFH', 'HFFG'];

export const LEFT = 0;
export const DOWN = 1;
export const RIGHT = 2;
export const UP = 3;

export interface Transition {
  probability: number;
  next: number;
  reward: number;
  terminated: boolean;
}

export interface FrozenLakeOptions {
  /** Rows of S (start), F (frozen), H (hole), G (goal); default the 4x4 map. */
  map?: readonly string[];
  /** Default true, as gym's. */
  isSlippery?: boolean;
  /** Seeds the slips (default 0). */
  seed?: number;
}

export class FrozenLake implements Env<number> {
  readonly numActions = 4;
  readonly nrow: number;
  readonly ncol: number;
  readonly numStates: number;
  readonly isSlippery: boolean;
  private readonly cells: string;
  private readonly start: number;
  private readonly random: () => number;
  private state: number | undefined;

  constructor(opts: FrozenLakeOptions = {}) {
    const map = opts.map ?? FROZEN_LAKE_4X4;
    this.nrow = map.length;
    this.ncol = map[0]?.length ?? 0;
    if (this.nrow === 0 || this.ncol === 0 || map.some((row) => row.length !== this.ncol || /[^SFHG]/.test(row))) {
      throw new RangeError(`FrozenLake: the map must be equal-length rows of S, F, H and G, got ${JSON.stringify(map)}`);
    }
    this.cells = map.join('');
    this.start = this.cells.indexOf('S');
    if (this.start < 0 || this.cells.indexOf('S', this.start + 1) >= 0) throw new RangeError('FrozenLake: the map needs exactly one S');
    this.numStates = this.nrow * this.ncol;
    this.isSlippery = opts.isSlippery ?? true;
    this.random = seededRandom(opts.seed ?? 0);
  }

  /** The letter at a state. */
  cell(state: number): string {
    return this.cells[state]!;
  }

  /** Where a move in `direction` leads: one cell over, or nowhere past the edge (gym's inc). */
  move(state: number, direction: number): number {
    let row = Math.floor(state / this.ncol);
    let col = state % this.ncol;
    if (direction === LEFT) col = Math.max(col - 1, 0);
    else if (direction === DOWN) row = Math.min(row + 1, this.nrow - 1);
    else if (direction === RIGHT) col = Math.min(col + 1, this.ncol - 1);
    else if (direction === UP) row = Math.max(row - 1, 0);
    return row * this.ncol + col;
  }

  /** gym's P[state][action]: the possible outcomes, in gym's order. Holes and the goal absorb. */
  transitions(state: number, action: number): Transition[] {
    checkAction('FrozenLake', action, this.numActions);
    const here = this.cell(state);
    if (here === 'H' || here === 'G') return [{ probability: 1, next: state, reward: 0, terminated: true }];
    const directions = this.isSlippery ? [(action + 3) % 4, action, (action + 1) % 4] : [action];
    return directions.map((d) => {
      const next = this.move(state, d);
      const letter = this.cell(next);
      return { probability: 1 / directions.length, next, reward: letter === 'G' ? 1 : 0, terminated: letter === 'H' || letter === 'G' };
    });
  }

  reset(): number {
    this.state = this.start;
    return this.state;
  }

  step(action: number): Step<number> {
    if (this.state === undefined) throw new Error('FrozenLake: call reset() before step()');
    const outcomes = this.transitions(this.state, action);
    // gym's categorical_sample: the first outcome whose cumulative probability exceeds a uniform draw.
    const u = outcomes.length === 1 ? 0 : this.random();
    let cumulative = 0;
    let chosen = outcomes[outcomes.length - 1]!;
    for (const t of outcomes) {
      cumulative += t.probability;
      if (cumulative > u) {
        chosen = t;
        break;
      }
    }
    this.state = chosen.next;
    return { observation: chosen.next, reward: chosen.reward, terminated: chosen.terminated, truncated: false };
  }
}
