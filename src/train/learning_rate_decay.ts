import { cast, divide, floor, multiply, pow } from '../api/math.js';
import { convertToTensor } from '../convert.js';
import { nameScope, Tensor } from '../graph.js';
import type { Variable } from '../variables.js';

/** A number, or a tensor of any numeric dtype (cast to the learning rate's dtype). */
type Scalar = number | Tensor | Variable;

/**
 * tf.train.exponentialDecay: learningRate * decayRate ^ (globalStep / decaySteps), with the exponent
 * floored when `staircase` (the rate then drops every decaySteps steps). Ops are built under the
 * name scope `name` (default 'ExponentialDecay'), and the result is the op named after the scope.
 */
export function exponentialDecay(
  learningRate: Scalar,
  globalStep: Variable | Tensor,
  decaySteps: Scalar,
  decayRate: Scalar,
  staircase = false,
  name = 'ExponentialDecay',
): Tensor {
  return nameScope(name, (scope) => {
    const lr = typeof learningRate === 'number' ? convertToTensor(learningRate, 'float32', 'learning_rate') : convertToTensor(learningRate);
    const dtype = lr.dtype;
    const asDType = (x: Scalar, what: string): Tensor => {
      if (typeof x === 'number') return convertToTensor(x, dtype, what);
      const t = convertToTensor(x);
      return t.dtype === dtype ? t : cast(t, dtype);
    };
    const steps = asDType(decaySteps, 'decay_steps');
    const rate = asDType(decayRate, 'decay_rate');
    const step = asDType(globalStep, 'global_step');
    let p = divide(step, steps);
    if (staircase) p = floor(p);
    return multiply(lr, pow(rate, p), scope);
  });
}
