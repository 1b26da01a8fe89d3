// gym's CartPole (classic_control/cartpole.py, Barto, Sutton and Anderson's cart-pole): push a
// cart left or right to keep a pole upright. Observation [x, x_dot, theta, theta_dot]; reward 1
// for every step, including the one on which the pole falls or the cart leaves the track.
import { seededRandom } from '../mnist-common/data.js';
import { checkAction, type Step, type VectorEnv } from './env.js';

export const GRAVITY = 9.8;
export const MASS_CART = 1.0;
export const MASS_POLE = 0.1;
export const TOTAL_MASS = MASS_CART + MASS_POLE;
/** Half the pole's length. */
export const POLE_HALF_LENGTH = 0.5;
export const POLE_MASS_LENGTH = MASS_POLE * POLE_HALF_LENGTH;
export const FORCE_MAG = 10.0;
/** Seconds between state updates. */
export const TAU = 0.02;
/** The episode ends when the pole leans more than 12 degrees... */
export const THETA_THRESHOLD_RADIANS = (12 * 2 * Math.PI) / 360;
/** ...or the cart is more than 2.4 from the centre. */
export const X_THRESHOLD = 2.4;

export type CartPoleState = readonly [x: number, xDot: number, theta: number, thetaDot: number];

/** One Euler step of the equations of motion (gym's kinematics_integrator "euler"). */
export function cartPoleDynamics([x, xDot, theta, thetaDot]: CartPoleState, action: number): CartPoleState {
  const force = action === 1 ? FORCE_MAG : -FORCE_MAG;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const temp = (force + POLE_MASS_LENGTH * thetaDot * thetaDot * sin) / TOTAL_MASS;
  const thetaAcc = (GRAVITY * sin - cos * temp) / (POLE_HALF_LENGTH * (4 / 3 - (MASS_POLE * cos * cos) / TOTAL_MASS));
  const xAcc = temp - (POLE_MASS_LENGTH * thetaAcc * cos) / TOTAL_MASS;
  return [x + TAU * xDot, xDot + TAU * xAcc, theta + TAU * thetaDot, thetaDot + TAU * thetaAcc];
}

export function cartPoleFailed([x, , theta]: CartPoleState): boolean {
  return x < -X_THRESHOLD || x > X_THRESHOLD || theta < -THETA_THRESHOLD_RADIANS || theta > THETA_THRESHOLD_RADIANS;
}

export interface CartPoleOptions {
  /** Seeds the initial states (default 0). */
  seed?: number;
}

export class CartPole implements VectorEnv {
  readonly numActions = 2;
  readonly observationSize = 4;
  private readonly random: () => number;
  /** The state in float64, as gym keeps it; observations are float32 copies. */
  private current: CartPoleState | undefined;
  /** Steps taken after the episode terminated (gym's steps_beyond_terminated). */
  private stepsBeyondTerminated: number | undefined;

  constructor(opts: CartPoleOptions = {}) {
    this.random = seededRandom(opts.seed ?? 0);
  }

  get state(): CartPoleState | undefined {
    return this.current;
  }

  /** Starts from a given state instead of a random one (for tests and demonstrations). */
  resetTo(state: CartPoleState): Float32Array {
    this.current = state;
    this.stepsBeyondTerminated = undefined;
    return Float32Array.from(state);
  }

  /** Each state variable uniform in [-0.05, 0.05). */
  reset(): Float32Array {
    const u = (): number => this.random() * 0.1 - 0.05;
    return this.resetTo([u(), u(), u(), u()]);
  }

  step(action: number): Step<Float32Array> {
    checkAction('CartPole', action, this.numActions);
    if (this.current === undefined) throw new Error('CartPole: call reset() before step()');
    this.current = cartPoleDynamics(this.current, action);
    const terminated = cartPoleFailed(this.current);
    let reward = 1;
    if (terminated) {
      // The step that ends the episode earns 1; steps after it (which gym warns about) earn 0.
      if (this.stepsBeyondTerminated === undefined) this.stepsBeyondTerminated = 0;
      else {
        this.stepsBeyondTerminated++;
        reward = 0;
      }
    }
    return { observation: Float32Array.from(this.current), reward, terminated, truncated: false };
  }
}
