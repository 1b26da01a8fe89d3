// Candidate samplers and the sampled losses built on them, as TF 1.15's candidate_sampling_ops.py
// and nn_impl.py (_compute_sampled_logits, nce_loss, sampled_softmax_loss). The losses look up only
// the true and sampled classes' rows of the weights and biases, so their gradients are IndexedSlices
// and a training step costs the rows it touches.
import { convertToTensor, graphOf, isVariableLike, type TensorLike } from '../convert.js';
import { InvalidArgumentError } from '../core/errors.js';
import { Tensor } from '../graph.js';
import { concat, expandDims, ones, onesLike, reshape, shape, slice, stack, stridedSlice, zerosLike } from './array.js';
import { stopGradient } from './core.js';
import { sparseToDense } from './indexing.js';
import { add, cast, divide, log, matmul, multiply, subtract } from './math.js';
import { sigmoidCrossEntropyWithLogits, softmaxCrossEntropyWithLogitsV2 } from './nn.js';
import { embeddingLookup } from './nn_extra.js';
import { getSeed } from './random.js';

/** What a candidate sampler returns: sampled_candidates [numSampled] int64, true_expected_count [batch, numTrue], sampled_expected_count [numSampled]. */
export type SampledValues = readonly [sampledCandidates: Tensor, trueExpectedCount: Tensor, sampledExpectedCount: Tensor];

export interface CandidateSamplerOptions {
  seed?: number;
  name?: string;
}

function candidateSampler(
  type: 'LogUniformCandidateSampler' | 'UniformCandidateSampler',
  trueClasses: TensorLike,
  numTrue: number,
  numSampled: number,
  unique: boolean,
  rangeMax: number,
  opts: CandidateSamplerOptions,
): SampledValues {
  const g = graphOf([trueClasses]);
  return g.asDefault(() => {
    const t = convertToTensor(trueClasses, 'int64', 'true_classes');
    const [seed, seed2] = getSeed(opts.seed, g);
    const attrs = { num_true: numTrue, num_sampled: numSampled, unique, range_max: rangeMax, seed, seed2 };
    const [a, b, c] = g.createOp(type, [t], attrs, { name: opts.name ?? type }).outputs as [Tensor, Tensor, Tensor];
    return [a, b, c] as const;
  });
}

/**
 * tf.random.log_uniform_candidate_sampler (tf.nn.log_uniform_candidate_sampler): numSampled classes
 * in [0, rangeMax) drawn with P(k) = log((k + 2) / (k + 1)) / log(rangeMax + 1) (Zipf-like: class ids
 * sorted by decreasing frequency), without replacement when `unique`, with their expected counts.
 */
export function logUniformCandidateSampler(trueClasses: TensorLike, numTrue: number, numSampled: number, unique: boolean, rangeMax: number, opts: CandidateSamplerOptions = {}): SampledValues {
  return candidateSampler('LogUniformCandidateSampler', trueClasses, numTrue, numSampled, unique, rangeMax, opts);
}

/** tf.random.uniform_candidate_sampler (tf.nn.uniform_candidate_sampler): as the log-uniform sampler with P(k) = 1 / rangeMax. */
export function uniformCandidateSampler(trueClasses: TensorLike, numTrue: number, numSampled: number, unique: boolean, rangeMax: number, opts: CandidateSamplerOptions = {}): SampledValues {
  return candidateSampler('UniformCandidateSampler', trueClasses, numTrue, numSampled, unique, rangeMax, opts);
}

/**
 * tf.nn.compute_accidental_hits: the sampled candidates that equal a true class of a row, as
 * [indices (the row, int32), ids (the candidate's position, int64), weights (-FLT_MAX)].
 */
export function computeAccidentalHits(trueClasses: TensorLike, sampledCandidates: TensorLike, numTrue: number, opts: CandidateSamplerOptions = {}): readonly [Tensor, Tensor, Tensor] {
  const g = graphOf([trueClasses, sampledCandidates]);
  return g.asDefault(() => {
    const t = convertToTensor(trueClasses, 'int64', 'true_classes');
    const s = convertToTensor(sampledCandidates, 'int64', 'sampled_candidates');
    const [seed, seed2] = getSeed(opts.seed, g);
    const [a, b, c] = g.createOp('ComputeAccidentalHits', [t, s], { num_true: numTrue, seed, seed2 }, { name: opts.name ?? 'ComputeAccidentalHits' }).outputs as [Tensor, Tensor, Tensor];
    return [a, b, c] as const;
  });
}

export interface SampledLossArgs {
  /** [numClasses, dim], or a list holding that one tensor (partitioned weights are not supported). */
  weights: TensorLike | readonly TensorLike[];
  /** [numClasses]. */
  biases: TensorLike;
  /** The target classes, [batch, numTrue] (int64; other int types are cast). */
  labels: TensorLike;
  /** [batch, dim]. */
  inputs: TensorLike;
  numSampled: number;
  numClasses: number;
  numTrue?: number;
  /** A candidate sampler's result to use instead of drawing with the log-uniform sampler. */
  sampledValues?: SampledValues;
  removeAccidentalHits?: boolean;
  /** 'mod' (the default) or 'div': the same for one weights tensor, the only kind supported. */
  partitionStrategy?: 'mod' | 'div';
  name?: string;
}

export interface SampledSoftmaxLossArgs extends SampledLossArgs {
  seed?: number;
}

/** TF's _sum_rows: the sum of each row of a matrix, as x · ones([cols, 1]) (a cheaper gradient than Sum's). */
function sumRows(x: Tensor): Tensor {
  const cols = stridedSlice(shape(x), [1], [2], [1], { shrinkAxisMask: 1 });
  return reshape(matmul(x, ones(stack([cols, 1]), x.dtype)), [-1]);
}

function singleParams(p: TensorLike | readonly TensorLike[], what: string): TensorLike {
  if (Array.isArray(p) && (p.length === 0 || p.every((e) => e instanceof Tensor || isVariableLike(e)))) {
    if (p.length !== 1) throw new InvalidArgumentError(`${what}: partitioned weights (${p.length} tensors) are not supported; pass one tensor`);
    return p[0] as TensorLike;
  }
  return p as TensorLike;
}

/**
 * TF's _compute_sampled_logits: logits [batch, numTrue + numSampled] of the true classes and the
 * sampled ones (each minus log of its expected count when subtractLogQ), and the labels to match
 * (1/numTrue for the true classes, 0 for the sampled).
 */
function computeSampledLogits(args: SampledLossArgs & { seed?: number }, subtractLogQ: boolean, removeAccidentalHits: boolean, defaultName: string): [Tensor, Tensor] {
  const what = `tf.nn.${defaultName}`;
  const strategy = args.partitionStrategy ?? 'mod';
  if (strategy !== 'mod' && strategy !== 'div') throw new InvalidArgumentError(`${what}: unrecognized partition strategy ${strategy}`);
  const weights = singleParams(args.weights, what);
  const numTrue = args.numTrue ?? 1;
  const g = graphOf([weights, args.biases, args.inputs, args.labels]);
  return g.asDefault(() =>
    g.nameScope(args.name ?? defaultName, () => {
      const inputs = convertToTensor(args.inputs, undefined, 'inputs');
      // JS number literals are class ids, so they become int64 (not float32) constants.
      const literal = typeof args.labels === 'number' || (Array.isArray(args.labels) && !(args.labels as unknown[]).some((e) => e instanceof Tensor || isVariableLike(e)));
      let labels = convertToTensor(args.labels, literal ? 'int64' : undefined, 'labels');
      if (labels.dtype !== 'int64') labels = cast(labels, 'int64');
      const labelsFlat = reshape(labels, [-1]);
      const sampledValues = args.sampledValues ?? logUniformCandidateSampler(labels, numTrue, args.numSampled, true, args.numClasses, { seed: args.seed });
      const [sampledRaw, trueExpectedCount, sampledExpectedCount] = sampledValues.map((s) => stopGradient(s)) as [Tensor, Tensor, Tensor];
      const sampled = cast(sampledRaw, 'int64');
      const allIds = concat([labelsFlat, sampled], 0);
      const numLabels = stridedSlice(shape(labelsFlat), [0], [1], [1], { shrinkAxisMask: 1 });

      let allW = embeddingLookup(weights, allIds);
      if (allW.dtype !== inputs.dtype) allW = cast(allW, inputs.dtype);
      const trueW = slice(allW, [0, 0], stack([numLabels, -1]));
      const sampledW = slice(allW, stack([numLabels, 0]), [-1, -1]);
      let sampledLogits = matmul(inputs, sampledW, { transposeB: true });

      let allB = embeddingLookup(args.biases as TensorLike, allIds);
      if (allB.dtype !== inputs.dtype) allB = cast(allB, inputs.dtype);
      let trueB = slice(allB, [0], shape(labelsFlat));
      const sampledB = slice(allB, shape(labelsFlat), [-1]);

      // The true logits: row-wise dots of inputs [batch, dim] with true_w [batch * numTrue, dim].
      const dim = stridedSlice(shape(trueW), [1], [2], [1]);
      const rowWiseDots = multiply(expandDims(inputs, 1), reshape(trueW, concat([convertToTensor([-1, numTrue], 'int32'), dim], 0)));
      const dotsAsMatrix = reshape(rowWiseDots, concat([convertToTensor([-1], 'int32'), dim], 0));
      let trueLogits = reshape(sumRows(dotsAsMatrix), [-1, numTrue]);
      trueB = reshape(trueB, [-1, numTrue]);
      trueLogits = add(trueLogits, trueB);
      sampledLogits = add(sampledLogits, sampledB);

      if (removeAccidentalHits) {
        const [accIndices, accIds, accWeights] = computeAccidentalHits(labels, sampled, numTrue);
        const sparseIndices = concat([reshape(accIndices, [-1, 1]), reshape(cast(accIds, 'int32'), [-1, 1])], 1, 'sparse_indices');
        const sampledLogitsShape = concat([slice(shape(labels), [0], [1]), convertToTensor([args.numSampled], 'int32')], 0);
        const w = accWeights.dtype === sampledLogits.dtype ? accWeights : cast(accWeights, sampledLogits.dtype);
        sampledLogits = add(sampledLogits, sparseToDense(sparseIndices, sampledLogitsShape, w, { defaultValue: 0, validateIndices: false }));
      }
      if (subtractLogQ) {
        // Subtract log Q(l), the prior probability that l is among the sampled.
        trueLogits = subtract(trueLogits, log(trueExpectedCount));
        sampledLogits = subtract(sampledLogits, log(sampledExpectedCount));
      }
      const outLogits = concat([trueLogits, sampledLogits], 1);
      // 1/numTrue per true class: each example's labels sum to 1.
      const outLabels = concat([divide(onesLike(trueLogits), convertToTensor(numTrue, trueLogits.dtype)), zerosLike(sampledLogits)], 1);
      return [outLogits, outLabels];
    }),
  );
}

/**
 * tf.nn.nce_loss: noise-contrastive estimation loss per example [batch], the logistic losses of the
 * true classes and of numSampled classes from the log-uniform sampler (or `sampledValues`), summed.
 */
export function nceLoss(args: SampledLossArgs): Tensor {
  const [logits, labels] = computeSampledLogits(args, true, args.removeAccidentalHits ?? false, 'nce_loss');
  return logits.graph.asDefault(() => sumRows(sigmoidCrossEntropyWithLogits({ labels, logits, name: 'sampled_losses' })));
}

/**
 * tf.nn.sampled_softmax_loss: the softmax cross-entropy per example [batch] over the true classes and
 * numSampled sampled ones (accidental hits removed by default), a training-time estimate of the full
 * softmax loss.
 */
export function sampledSoftmaxLoss(args: SampledSoftmaxLossArgs): Tensor {
  const [logits, labels] = computeSampledLogits(args, true, args.removeAccidentalHits ?? true, 'sampled_softmax_loss');
  return logits.graph.asDefault(() => softmaxCrossEntropyWithLogitsV2({ labels: stopGradient(labels, 'labels_stop_gradient'), logits }));
}
