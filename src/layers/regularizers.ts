/** Weight regularizers (tf.contrib.layers.l1_regularizer / l2_regularizer). */
import { reduceSum, abs, multiply } from '../api/math.js';
import { l2Loss } from '../api/nn.js';
import { convertToTensor } from '../convert.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { Tensor } from '../graph.js';
import type { Regularizer } from '../variable_scope.js';

function checkScale(scale: number): void {
  if (!(scale >= 0)) throw new InvalidArgumentError(`Setting a scale less than 0 on a regularizer: ${scale}`);
}

/** scale * sum(|w|); a scale of 0 disables it (returns null). */
export function l1Regularizer(scale: number, scope = 'l1_regularizer'): Regularizer {
  checkScale(scale);
  return (weights: Tensor) => {
    if (scale === 0) return null;
    return weights.graph.nameScope(scope, (name) => {
      const s = convertToTensor(scale, weights.dtype, 'scale');
      return multiply(s, reduceSum(abs(weights)), name);
    });
  };
}

/** scale * sum(w^2) / 2 (tf.nn.l2_loss); a scale of 0 disables it (returns null). */
export function l2Regularizer(scale: number, scope = 'l2_regularizer'): Regularizer {
  checkScale(scale);
  return (weights: Tensor) => {
    if (scale === 0) return null;
    return weights.graph.nameScope(scope, (name) => {
      const s = convertToTensor(scale, weights.dtype, 'scale');
      return multiply(s, l2Loss(weights), name);
    });
  };
}
