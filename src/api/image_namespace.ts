// Everything under tf.image.
export {
  resizeBilinear,
  resizeNearestNeighbor,
  resizeImages,
  ResizeMethod,
  cropAndResize,
  nonMaxSuppression,
  nonMaxSuppressionWithScores,
  nonMaxSuppressionPadded,
} from './image.js';
