// Everything under tf.nn, gathered from the files that implement it.
export * from './nn.js';
export * from './conv.js';
export * from './nn_extra.js';
export { dynamicRnn, staticRnn, bidirectionalDynamicRnn, type DynamicRnnOptions, type StaticRnnOptions, type BidirectionalDynamicRnnOptions } from './rnn.js';
export * as rnnCell from './rnn_cell_namespace.js';
export * from './conv3d.js';
export { lrn, localResponseNormalization, fusedBatchNorm, type LrnOptions, type FusedBatchNormOptions } from './normalization.js';
export { topK, inTopK, type TopKResult } from './sort.js';
export {
  nceLoss,
  sampledSoftmaxLoss,
  logUniformCandidateSampler,
  uniformCandidateSampler,
  computeAccidentalHits,
  type SampledLossArgs,
  type SampledSoftmaxLossArgs,
  type SampledValues,
  type CandidateSamplerOptions,
} from './sampled.js';
