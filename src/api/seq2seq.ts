// tf.contrib.seq2seq's losses: sequence_loss as TF 1.15 computes it (contrib/seq2seq/python/ops/loss.py).
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import { formatShape } from '../core/shape.js';
import type { Tensor } from '../graph.js';
import { ValueError } from '../variable_scope.js';
import { onesLike, reshape, shape as shapeOf, stridedSlice, zerosLike } from './array.js';
import { cast, divide, equal, multiply, notEqual, reduceSum, where } from './math.js';
import { sparseSoftmaxCrossEntropyWithLogits } from './nn.js';

export interface SequenceLossOptions {
  /** Sum over time and divide by the total weight (default true). */
  averageAcrossTimesteps?: boolean;
  /** Sum over the batch and divide by the total weight (default true). */
  averageAcrossBatch?: boolean;
  /** Sum over time and divide by the number of nonzero weights (default false). */
  sumOverTimesteps?: boolean;
  /** Sum over the batch and divide by the number of nonzero weights (default false). */
  sumOverBatch?: boolean;
  /** Loss per position instead of sparse softmax cross-entropy: labels [n] and logits [n, classes] to [n]. */
  softmaxLossFunction?: (args: { labels: Tensor; logits: Tensor }) => Tensor;
  name?: string;
}

/** TF's math_ops.div_no_nan: x / y, and 0 where y is 0. */
function divNoNan(x: Tensor, y: Tensor): Tensor {
  return x.graph.nameScope('div_no_nan', (scope) => {
    const isZero = equal(y, 0);
    const q = divide(x, where(isZero, onesLike(y), y));
    return where(isZero, zerosLike(q), q, scope);
  });
}

/**
 * tf.contrib.seq2seq.sequence_loss: weighted sparse softmax cross-entropy of logits
 * [batch, time, classes] against targets [batch, time], weighted by weights [batch, time].
 * Averaged across timesteps and batch (the defaults): sum(loss * w) / sum(w), a scalar. Only across
 * the batch: [time], sum over the batch divided by the batch's weights per step; only across time:
 * [batch]; neither: [batch, time]. sumOver* divide by the count of nonzero weights instead. Division
 * by a zero total gives 0 (div_no_nan).
 */
export function sequenceLoss(logits: TensorLike, targets: TensorLike, weights: TensorLike, opts: SequenceLossOptions = {}): Tensor {
  const avgTime = opts.averageAcrossTimesteps ?? true;
  const avgBatch = opts.averageAcrossBatch ?? true;
  const sumTime = opts.sumOverTimesteps ?? false;
  const sumBatch = opts.sumOverBatch ?? false;
  const g = graphOf([logits, targets, weights]);
  return g.asDefault(() => {
    const l = convertToTensor(logits, undefined, 'logits');
    const t = convertToTensor(targets, Array.isArray(targets) ? 'int32' : undefined, 'targets');
    const w = convertToTensor(weights, undefined, 'weights');
    if (l.shape === null || l.shape.length !== 3) {
      throw new ValueError(`sequenceLoss: Logits must be a [batch_size x sequence_length x logits_size] tensor, got shape ${formatShape(l.shape)}`);
    }
    if (t.shape === null || t.shape.length !== 2) throw new ValueError(`sequenceLoss: Targets must be a [batch_size x sequence_length] tensor, got shape ${formatShape(t.shape)}`);
    if (w.shape === null || w.shape.length !== 2) throw new ValueError(`sequenceLoss: Weights must be a [batch_size x sequence_length] tensor, got shape ${formatShape(w.shape)}`);
    if (avgTime && sumTime) throw new ValueError('sequenceLoss: averageAcrossTimesteps and sumOverTimesteps cannot be set to true at same time.');
    if (avgBatch && sumBatch) throw new ValueError('sequenceLoss: averageAcrossBatch and sumOverBatch cannot be set to true at same time.');
    return g.nameScope(opts.name ?? 'sequence_loss', () => {
      const classes = l.shape![2] ?? stridedSlice(shapeOf(l), [2], [3], [1], { shrinkAxisMask: 1 });
      const logitsFlat = reshape(l, [-1, classes]);
      const targetsFlat = reshape(t, [-1]);
      let crossent = opts.softmaxLossFunction
        ? opts.softmaxLossFunction({ labels: targetsFlat, logits: logitsFlat })
        : sparseSoftmaxCrossEntropyWithLogits({ labels: targetsFlat, logits: logitsFlat });
      crossent = multiply(crossent, reshape(w, [-1]));
      if (avgTime && avgBatch) return divNoNan(reduceSum(crossent), reduceSum(w));
      if (sumTime && sumBatch) return divNoNan(reduceSum(crossent), cast(reduceSum(cast(notEqual(w, 0), 'int64')), 'float32'));
      crossent = reshape(crossent, stridedSlice(shapeOf(l), [0], [2], [1]));
      if (avgTime || avgBatch) {
        const axis = avgBatch ? [0] : [1];
        return divNoNan(reduceSum(crossent, axis), reduceSum(w, axis));
      }
      if (sumTime || sumBatch) {
        const axis = sumBatch ? [0] : [1];
        return divNoNan(reduceSum(crossent, axis), cast(reduceSum(cast(notEqual(w, 0), 'int64'), axis), 'float32'));
      }
      return crossent;
    });
  });
}
