// Everything under tf.math, gathered from the files that implement it.
export * from './math.js';
export { cumsum, cumprod, bincount, topK, inTopK, type BincountOptions } from './sort.js';
export {
  segmentSum,
  segmentMean,
  segmentMax,
  segmentMin,
  segmentProd,
  unsortedSegmentMax,
  unsortedSegmentMin,
  unsortedSegmentProd,
  unsortedSegmentMean,
  unsortedSegmentSqrtN,
} from './sparse.js';
export { unsortedSegmentSum } from './array.js';
export { angle, conj, imag, real } from './spectral.js';
