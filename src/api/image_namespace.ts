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
export { decodePng, encodePng, decodeJpeg, encodeJpeg, decodeImage, decodeBmp, type PixelDType } from './image_io.js';
export {
  convertImageDtype,
  perImageStandardization,
  centralCrop,
  randomCrop,
  flipLeftRight,
  flipUpDown,
  randomFlipLeftRight,
  randomFlipUpDown,
  transposeImage,
  rot90,
  cropToBoundingBox,
  padToBoundingBox,
  resizeImageWithCropOrPad,
  adjustBrightness,
  adjustContrast,
  rgbToGrayscale,
  grayscaleToRgb,
  totalVariation,
  imageGradients,
  type ImageDType,
} from './image_ops.js';
