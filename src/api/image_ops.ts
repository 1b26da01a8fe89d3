// tf.image's image utilities as TF 1.15 defines them (tensorflow/python/ops/image_ops_impl.py), built
// from existing ops so they have gradients and run on every backend: dtype conversion,
// standardization, crops, pads, flips, rotations, brightness and contrast, grayscale, total
// variation and image gradients. Images are 3-D [height, width, channels] or 4-D
// [batch, height, width, channels].
//
// weir keeps TF's uint8 and uint16 pixels in int32 tensors (src/api/image_io.ts): the functions that
// rescale (convertImageDtype and those built on it) read an int32 image as uint8/uint16 when it comes
// straight from a decoder, or when told with `imageDType`; as TF's int32 otherwise.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError, UnimplementedError } from '../core/errors.js';
import type { Graph, Tensor } from '../graph.js';
import { concat, pad, reshape, shape as shapeOf, slice, stack, stridedSlice, tile, transpose, zerosLike } from './array.js';
import { clipByValue } from './clip.js';
import { identity } from './core.js';
import { reverse } from './indexing.js';
import { pixelBitsOf } from './image_io.js';
import {
  abs,
  add,
  bitwiseAnd,
  cast,
  divide,
  floorDiv,
  floorMod,
  less,
  maximum,
  minimum,
  multiply,
  reduceMean,
  reduceProd,
  reduceSum,
  rsqrt,
  sqrt,
  square,
  subtract,
} from './math.js';
import { relu } from './nn.js';
import { randomUniform } from './random.js';

function scoped<T>(name: string, values: readonly unknown[], build: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => build(scope, g)));
}

// ---- pixel types ----

/** The element types of images: TF's, with uint8/uint16 held in int32 tensors. */
export type ImageDType = 'uint8' | 'uint16' | 'int32' | 'int64' | 'float32';

const MAX: Readonly<Record<Exclude<ImageDType, 'float32'>, number>> = { uint8: 255, uint16: 65535, int32: 2 ** 31 - 1, int64: 2 ** 63 - 1 };
const MIN: Readonly<Record<Exclude<ImageDType, 'float32'>, number>> = { uint8: 0, uint16: 0, int32: -(2 ** 31), int64: -(2 ** 63) };
/** The largest float32 not above n (int32's max rounds up to 2^31 in float32, past the range). */
function largestFloatBelow(n: number): number {
  const f = Math.fround(n);
  return f <= n ? f : f - 2 ** (Math.floor(Math.log2(n)) - 23);
}
/** The weir dtype holding values of an image dtype. */
const carrier = (d: ImageDType): DType => (d === 'uint8' || d === 'uint16' ? 'int32' : d);

/** The image dtype of a tensor: float32, int64, or for int32 what its decoder gave (else int32). */
export function imageDTypeOf(image: Tensor, given?: ImageDType): ImageDType {
  if (given !== undefined) {
    if (carrier(given) !== image.dtype) throw new InvalidArgumentError(`imageDType ${given} is held in ${carrier(given)} tensors, but the image is ${image.dtype}`);
    return given;
  }
  if (image.dtype === 'float32' || image.dtype === 'int64') return image.dtype;
  if (image.dtype === 'int32') {
    const bits = pixelBitsOf(image);
    return bits === 16 ? 'uint16' : bits === 8 ? 'uint8' : 'int32';
  }
  throw new InvalidArgumentError(`images must be float32 or integer, got ${image.dtype}`);
}

export interface ConvertImageDtypeOptions {
  /** Clip to the target type's range before casting (default false: out-of-range values wrap, as TF's cast). */
  saturate?: boolean;
  /** What an int32 image holds: uint8, uint16 or int32 (default: as decoded, else int32). */
  imageDType?: ImageDType;
  name?: string;
}

/**
 * tf.image.convert_image_dtype: rescales between integer ranges and floats in [0, 1] as TF 1.15
 * does: integer to integer by a power-of-two factor (floor-dividing when narrowing), integer to
 * float by 1/max, float to integer by (max + 0.5) and a cast.
 */
export function convertImageDtype(image: TensorLike, dtype: ImageDType, opts: ConvertImageDtypeOptions = {}): Tensor {
  return scoped(opts.name ?? 'convert_image', [image], () => {
    const x = convertToTensor(image, undefined, 'image', 'image');
    const from = imageDTypeOf(x, opts.imageDType);
    if (!(dtype in MAX) && dtype !== 'float32') throw new InvalidArgumentError(`convertImageDtype: dtype must be one of uint8, uint16, int32, int64, float32, got ${dtype}`);
    if (from === dtype) return identity(x, 'Identity');
    const out = carrier(dtype);
    /** A cast to the target, clipped first when saturating, wrapped after when the target is narrower than its carrier. */
    const toTarget = (v: Tensor): Tensor => {
      if (dtype === 'float32') return cast(v, 'float32');
      const lo = MIN[dtype];
      const hi = MAX[dtype];
      if (opts.saturate) v = clipByValue(v, convertToTensor(lo, v.dtype), convertToTensor(v.dtype === 'float32' ? largestFloatBelow(hi) : hi, v.dtype));
      const c = cast(v, out);
      return dtype === 'uint8' || dtype === 'uint16' ? bitwiseAnd(c, convertToTensor(hi, 'int32')) : c;
    };
    if (from !== 'float32' && dtype !== 'float32') {
      const [maxIn, maxOut] = [MAX[from], MAX[dtype]];
      if (maxIn > maxOut) return toTarget(floorDiv(x, convertToTensor(Math.round((maxIn + 1) / (maxOut + 1)), x.dtype)));
      return multiply(cast(x, out), convertToTensor(Math.round((maxOut + 1) / (maxIn + 1)), out));
    }
    if (from !== 'float32') return multiply(cast(x, 'float32'), 1 / MAX[from]);
    if (dtype === 'float32') return identity(x);
    return toTarget(multiply(x, MAX[dtype] + 0.5));
  });
}

/** Runs fn on the image as float32 in [0, 1] and converts back, saturating (TF's adjust_* pattern). */
function inFloat(image: Tensor, given: ImageDType | undefined, fn: (x: Tensor) => Tensor): Tensor {
  const orig = imageDTypeOf(image, given);
  const x = orig === 'float32' ? image : convertImageDtype(image, 'float32', { imageDType: orig });
  return convertImageDtype(fn(x), orig, { saturate: true, imageDType: 'float32' });
}

// ---- shapes ----

/** A dimension: a number when static, else an int32 scalar computed from the shape. */
type Dim = number | Tensor;

interface Image {
  x: Tensor;
  /** 4-D (a batch). */
  batched: boolean;
  /** Axis of height in x (0 or 1). */
  h: number;
}

function asImage(images: TensorLike, fn: string, ranks: readonly number[] = [3, 4]): Image {
  const x = convertToTensor(images, undefined, 'image', 'image');
  const r = x.rank;
  if (r === null) throw new InvalidArgumentError(`${fn}: the image's rank must be known (3-D or 4-D)`);
  if (!ranks.includes(r)) throw new InvalidArgumentError(`${fn}: image must be ${ranks.map((k) => `${k}-D`).join(' or ')}, got shape [${x.shape!.map((d) => d ?? '?').join(',')}]`);
  return { x, batched: r === 4, h: r === 4 ? 1 : 0 };
}

function dim(x: Tensor, axis: number): Dim {
  const d = x.shape?.[axis];
  if (d !== null && d !== undefined) return d;
  return stridedSlice(shapeOf(x), [axis], [axis + 1], [1], { shrinkAxisMask: 1 });
}

const isNum = (d: Dim): d is number => typeof d === 'number';
const dsub = (a: Dim, b: Dim): Dim => (isNum(a) && isNum(b) ? a - b : subtract(a, b));
const dmin = (a: Dim, b: Dim): Dim => (isNum(a) && isNum(b) ? Math.min(a, b) : minimum(a, b));
const dmax0 = (a: Dim): Dim => (isNum(a) ? Math.max(a, 0) : maximum(a, 0));
/** Python's a // 2. */
const dhalf = (a: Dim): Dim => (isNum(a) ? Math.floor(a / 2) : floorDiv(a, 2));
const dneg = (a: Dim): Dim => (isNum(a) ? -a : multiply(a, -1));

function checkStatic(fn: string, value: Dim, ok: (v: number) => boolean, message: string): void {
  if (isNum(value) && !ok(value)) throw new InvalidArgumentError(`${fn}: ${message}, got ${value}`);
}

/** An integer argument that may be a tensor: a number stays a number. */
function dimArg(v: TensorLike, what: string): Dim {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new InvalidArgumentError(`${what} must be an integer, got ${v}`);
    return v;
  }
  return convertToTensor(v, 'int32', what, what);
}

/** Paddings [[before, after] per axis] as an [n, 2] argument, a tensor only when some entry is one. */
function paddings(pairs: [Dim, Dim][]): number[][] | Tensor {
  if (pairs.every(([a, b]) => isNum(a) && isNum(b))) return pairs as number[][];
  return reshape(stack(pairs.flat().map((d) => (isNum(d) ? convertToTensor(d, 'int32') : d))), [pairs.length, 2]);
}

// ---- crops and pads ----

/** tf.image.crop_to_bounding_box: the [targetHeight, targetWidth] window at (offsetHeight, offsetWidth). */
export function cropToBoundingBox(image: TensorLike, offsetHeight: TensorLike, offsetWidth: TensorLike, targetHeight: TensorLike, targetWidth: TensorLike, name?: string): Tensor {
  return scoped(name ?? 'crop_to_bounding_box', [image, offsetHeight, offsetWidth, targetHeight, targetWidth], () => {
    const img = asImage(image, 'cropToBoundingBox');
    const [oh, ow, th, tw] = [dimArg(offsetHeight, 'offset_height'), dimArg(offsetWidth, 'offset_width'), dimArg(targetHeight, 'target_height'), dimArg(targetWidth, 'target_width')];
    const fn = 'cropToBoundingBox';
    checkStatic(fn, oh, (v) => v >= 0, 'offset_height must be >= 0');
    checkStatic(fn, ow, (v) => v >= 0, 'offset_width must be >= 0');
    checkStatic(fn, th, (v) => v > 0, 'target_height must be > 0');
    checkStatic(fn, tw, (v) => v > 0, 'target_width must be > 0');
    const [h, w] = [dim(img.x, img.h), dim(img.x, img.h + 1)];
    if (isNum(h) && isNum(oh) && isNum(th) && oh + th > h) throw new InvalidArgumentError(`${fn}: height (${h}) must be >= target + offset (${th} + ${oh})`);
    if (isNum(w) && isNum(ow) && isNum(tw) && ow + tw > w) throw new InvalidArgumentError(`${fn}: width (${w}) must be >= target + offset (${tw} + ${ow})`);
    const begin: Dim[] = [oh, ow, 0];
    const size: Dim[] = [th, tw, -1];
    return slice(img.x, img.batched ? [0, ...begin] : begin, img.batched ? [-1, ...size] : size);
  });
}

/** tf.image.pad_to_bounding_box: zeros around the image to [targetHeight, targetWidth], the image at (offsetHeight, offsetWidth). */
export function padToBoundingBox(image: TensorLike, offsetHeight: TensorLike, offsetWidth: TensorLike, targetHeight: TensorLike, targetWidth: TensorLike, name?: string): Tensor {
  return scoped(name ?? 'pad_to_bounding_box', [image, offsetHeight, offsetWidth, targetHeight, targetWidth], () => {
    const img = asImage(image, 'padToBoundingBox');
    const [oh, ow, th, tw] = [dimArg(offsetHeight, 'offset_height'), dimArg(offsetWidth, 'offset_width'), dimArg(targetHeight, 'target_height'), dimArg(targetWidth, 'target_width')];
    const fn = 'padToBoundingBox';
    const [h, w] = [dim(img.x, img.h), dim(img.x, img.h + 1)];
    const afterH = dsub(dsub(th, oh), h);
    const afterW = dsub(dsub(tw, ow), w);
    checkStatic(fn, oh, (v) => v >= 0, 'offset_height must be >= 0');
    checkStatic(fn, ow, (v) => v >= 0, 'offset_width must be >= 0');
    checkStatic(fn, afterH, (v) => v >= 0, 'height must be <= target - offset (padding after the image)');
    checkStatic(fn, afterW, (v) => v >= 0, 'width must be <= target - offset (padding after the image)');
    const p: [Dim, Dim][] = [[oh, afterH], [ow, afterW], [0, 0]];
    return pad(img.x, paddings(img.batched ? [[0, 0], ...p] : p));
  });
}

/** tf.image.resize_image_with_crop_or_pad: centrally crops or zero-pads height and width to the target. */
export function resizeImageWithCropOrPad(image: TensorLike, targetHeight: TensorLike, targetWidth: TensorLike, name?: string): Tensor {
  return scoped(name ?? 'resize_image_with_crop_or_pad', [image, targetHeight, targetWidth], () => {
    const img = asImage(image, 'resizeImageWithCropOrPad');
    const [th, tw] = [dimArg(targetHeight, 'target_height'), dimArg(targetWidth, 'target_width')];
    checkStatic('resizeImageWithCropOrPad', th, (v) => v > 0, 'target_height must be > 0');
    checkStatic('resizeImageWithCropOrPad', tw, (v) => v > 0, 'target_width must be > 0');
    const [h, w] = [dim(img.x, img.h), dim(img.x, img.h + 1)];
    const dw = dsub(tw, w);
    const dh = dsub(th, h);
    const cropped = cropToBoundingBox(img.x, dmax0(dhalf(dneg(dh))), dmax0(dhalf(dneg(dw))), dmin(th, h), dmin(tw, w));
    return padToBoundingBox(cropped, dmax0(dhalf(dh)), dmax0(dhalf(dw)), th, tw);
  });
}

/**
 * tf.image.central_crop: the central `centralFraction` (in (0, 1]) of height and width, offsets as
 * TF 1.15 computes them: size // int(1 / ((1 - fraction) / 2)).
 */
export function centralCrop(image: TensorLike, centralFraction: number, name?: string): Tensor {
  return scoped(name ?? 'central_crop', [image], () => {
    if (!(centralFraction > 0 && centralFraction <= 1)) throw new InvalidArgumentError(`centralCrop: central_fraction must be within (0, 1], got ${centralFraction}`);
    const img = asImage(image, 'centralCrop');
    if (centralFraction === 1) return img.x;
    const offset = Math.trunc(1 / ((1 - centralFraction) / 2));
    const [h, w] = [dim(img.x, img.h), dim(img.x, img.h + 1)];
    const start = (d: Dim): Dim => (isNum(d) ? Math.floor(d / offset) : floorDiv(d, offset));
    const [sh, sw] = [start(h), start(w)];
    const size = (d: Dim, s: Dim): Dim => dsub(d, isNum(s) ? 2 * s : multiply(s, 2));
    return cropToBoundingBox(img.x, sh, sw, size(h, sh), size(w, sw));
  });
}

export interface RandomCropOptions {
  seed?: number;
  name?: string;
}

/**
 * tf.image.random_crop (tf.random_crop): a `size` slice of `value` (any rank) at a uniformly random
 * offset, drawn as TF 1.15 draws it (a random int32 modulo shape - size + 1).
 */
export function randomCrop(value: TensorLike, size: TensorLike | readonly number[], opts: RandomCropOptions = {}): Tensor {
  return scoped(opts.name ?? 'random_crop', [value, size], () => {
    const x = convertToTensor(value, undefined, 'value', 'value');
    const s = convertToTensor(size as TensorLike, 'int32', 'size', 'size');
    const sizes = s.knownValue ? Array.from(s.knownValue.data as Int32Array) : undefined;
    if (sizes && x.shape) {
      if (sizes.length !== x.shape.length) throw new InvalidArgumentError(`randomCrop: size has ${sizes.length} entries for a rank-${x.shape.length} value`);
      x.shape.forEach((d, i) => {
        if (d !== null && sizes[i]! > d) throw new InvalidArgumentError(`randomCrop: need value.shape >= size, got [${x.shape!.join(',')}] and [${sizes.join(',')}]`);
      });
    }
    const limit = add(subtract(shapeOf(x), s), 1);
    const r = randomUniform(shapeOf(s), { dtype: 'int32', maxval: 2 ** 31 - 1, seed: opts.seed });
    return slice(x, floorMod(r, limit), sizes ?? s);
  });
}

// ---- flips, transposes, rotations ----

function flip(image: TensorLike, axis: 0 | 1, name: string, fn: string): Tensor {
  return scoped(name, [image], () => {
    const img = asImage(image, fn);
    return reverse(img.x, [img.h + axis]);
  });
}

/** tf.image.flip_left_right: reverses the width axis. */
export function flipLeftRight(image: TensorLike, name?: string): Tensor {
  return flip(image, 1, name ?? 'flip_left_right', 'flipLeftRight');
}

/** tf.image.flip_up_down: reverses the height axis. */
export function flipUpDown(image: TensorLike, name?: string): Tensor {
  return flip(image, 0, name ?? 'flip_up_down', 'flipUpDown');
}

function randomFlip(image: TensorLike, axis: 0 | 1, seed: number | undefined, name: string, fn: string): Tensor {
  return scoped(name, [image], () => {
    const img = asImage(image, fn);
    // One draw per image, flipped below 0.5 (TF: cond for a 3-D image, a 0/1 blend for a batch).
    const u = randomUniform(img.batched ? [dim(img.x, 0)] : [], { seed });
    let mask = cast(less(u, 0.5), img.x.dtype);
    if (img.batched) mask = reshape(mask, [-1, 1, 1, 1]);
    const flipped = reverse(img.x, [img.h + axis]);
    return add(multiply(mask, flipped), multiply(subtract(convertToTensor(1, img.x.dtype), mask), img.x));
  });
}

/** tf.image.random_flip_left_right: each image mirrored left to right with probability 1/2. */
export function randomFlipLeftRight(image: TensorLike, seed?: number, name?: string): Tensor {
  return randomFlip(image, 1, seed, name ?? 'random_flip_left_right', 'randomFlipLeftRight');
}

/** tf.image.random_flip_up_down: each image flipped upside down with probability 1/2. */
export function randomFlipUpDown(image: TensorLike, seed?: number, name?: string): Tensor {
  return randomFlip(image, 0, seed, name ?? 'random_flip_up_down', 'randomFlipUpDown');
}

/** tf.image.transpose_image: swaps height and width. */
export function transposeImage(image: TensorLike, name?: string): Tensor {
  return scoped(name ?? 'transpose_image', [image], () => {
    const img = asImage(image, 'transposeImage');
    return transpose(img.x, img.batched ? [0, 2, 1, 3] : [1, 0, 2]);
  });
}

/** tf.image.rot90: rotates counter-clockwise by k quarter turns (k a number). */
export function rot90(image: TensorLike, k = 1, name?: string): Tensor {
  return scoped(name ?? 'rot90', [image], () => {
    if (typeof k !== 'number' || !Number.isInteger(k)) throw new UnimplementedError(`rot90: k must be an integer number, got ${String(k)}`);
    const img = asImage(image, 'rot90');
    const [h, w] = [img.h, img.h + 1];
    const perm = img.batched ? [0, 2, 1, 3] : [1, 0, 2];
    switch (((k % 4) + 4) % 4) {
      case 0:
        return identity(img.x);
      case 1:
        return transpose(reverse(img.x, [w]), perm);
      case 2:
        return reverse(img.x, [h, w]);
      default:
        return reverse(transpose(img.x, perm), [w]);
    }
  });
}

// ---- values ----

/**
 * tf.image.per_image_standardization: (x - mean) / max(stddev, 1 / sqrt(N)) per image, N its number
 * of values (height x width x channels); float32 out.
 */
export function perImageStandardization(image: TensorLike, name?: string): Tensor {
  return scoped(name ?? 'per_image_standardization', [image], () => {
    const img = asImage(image, 'perImageStandardization');
    const x = cast(img.x, 'float32');
    const axes = [-1, -2, -3];
    const n = reduceProd(stridedSlice(shapeOf(x), [-3], [x.rank!], [1]));
    const mean = reduceMean(x, axes, true);
    const variance = relu(subtract(reduceMean(square(x), axes, true), square(mean)));
    const scale = maximum(sqrt(variance), rsqrt(cast(n, 'float32')));
    return divide(subtract(x, mean), scale);
  });
}

export interface AdjustOptions {
  /** What an int32 image holds (see convertImageDtype). */
  imageDType?: ImageDType;
  name?: string;
}

/** tf.image.adjust_brightness: adds delta to the image as floats in [0, 1] (integer images converted and back, saturating). */
export function adjustBrightness(image: TensorLike, delta: TensorLike, opts: AdjustOptions = {}): Tensor {
  return scoped(opts.name ?? 'adjust_brightness', [image, delta], () => {
    const img = asImage(image, 'adjustBrightness', [3, 4, 5, 6]);
    return inFloat(img.x, opts.imageDType, (x) => add(x, convertToTensor(delta, 'float32', 'delta')));
  });
}

/** tf.image.adjust_contrast: (x - mean) * factor + mean, the mean per image and channel (AdjustContrastv2's formula). */
export function adjustContrast(images: TensorLike, contrastFactor: TensorLike, opts: AdjustOptions = {}): Tensor {
  return scoped(opts.name ?? 'adjust_contrast', [images, contrastFactor], () => {
    const img = asImage(images, 'adjustContrast', [3, 4, 5, 6]);
    return inFloat(img.x, opts.imageDType, (x) => {
      const mean = reduceMean(x, [-3, -2], true);
      return add(multiply(subtract(x, mean), convertToTensor(contrastFactor, 'float32', 'contrast_factor')), mean);
    });
  });
}

export interface RandomAdjustOptions extends AdjustOptions {
  seed?: number;
}

/** tf.image.random_brightness: adjustBrightness by one delta drawn uniformly from [-maxDelta, maxDelta). */
export function randomBrightness(image: TensorLike, maxDelta: number, opts: RandomAdjustOptions = {}): Tensor {
  if (!(maxDelta >= 0)) throw new InvalidArgumentError(`randomBrightness: max_delta must be non-negative, got ${maxDelta}`);
  return scoped(opts.name ?? 'random_brightness', [image], () => {
    const delta = randomUniform([], { minval: -maxDelta, maxval: maxDelta, seed: opts.seed });
    return adjustBrightness(image, delta, { imageDType: opts.imageDType });
  });
}

/** tf.image.random_contrast: adjustContrast by one factor drawn uniformly from [lower, upper). */
export function randomContrast(image: TensorLike, lower: number, upper: number, opts: RandomAdjustOptions = {}): Tensor {
  if (!(upper > lower)) throw new InvalidArgumentError(`randomContrast: upper must be > lower, got ${lower} and ${upper}`);
  if (!(lower >= 0)) throw new InvalidArgumentError(`randomContrast: lower must be non-negative, got ${lower}`);
  return scoped(opts.name ?? 'random_contrast', [image], () => {
    const factor = randomUniform([], { minval: lower, maxval: upper, seed: opts.seed });
    return adjustContrast(image, factor, { imageDType: opts.imageDType });
  });
}

/** TF's luma weights (Rec. 601) for rgb_to_grayscale. */
const RGB_WEIGHTS = [0.2989, 0.587, 0.114];

/** tf.image.rgb_to_grayscale: the weighted sum of R, G, B, keeping a last axis of 1; the image's dtype out. */
export function rgbToGrayscale(images: TensorLike, opts: AdjustOptions = {}): Tensor {
  return scoped(opts.name ?? 'rgb_to_grayscale', [images], () => {
    const x = convertToTensor(images, undefined, 'images', 'images');
    const c = x.shape?.[x.shape.length - 1];
    if (c !== null && c !== undefined && c !== 3) throw new InvalidArgumentError(`rgbToGrayscale: the last axis must have 3 channels, got ${c}`);
    const orig = imageDTypeOf(x, opts.imageDType);
    const flt = convertImageDtype(x, 'float32', { imageDType: orig });
    const gray = reduceSum(multiply(flt, convertToTensor(Float32Array.from(RGB_WEIGHTS), 'float32')), -1, true);
    return convertImageDtype(gray, orig, { imageDType: 'float32' });
  });
}

/** tf.image.grayscale_to_rgb: the single channel repeated three times. */
export function grayscaleToRgb(images: TensorLike, name?: string): Tensor {
  return scoped(name ?? 'grayscale_to_rgb', [images], () => {
    const x = convertToTensor(images, undefined, 'images', 'images');
    if (x.rank === null || x.rank < 2) throw new InvalidArgumentError('grayscaleToRgb: images must have a known rank of at least 2');
    const c = x.shape![x.rank - 1];
    if (c !== null && c !== 1) throw new InvalidArgumentError(`grayscaleToRgb: the last axis must have 1 channel, got ${c}`);
    return tile(x, [...new Array<number>(x.rank - 1).fill(1), 3]);
  });
}

/**
 * tf.image.total_variation: the sum of absolute differences of neighbouring pixels, down and
 * across: a scalar for a 3-D image, one value per image for a batch.
 */
export function totalVariation(images: TensorLike, name?: string): Tensor {
  return scoped(name ?? 'total_variation', [images], () => {
    const img = asImage(images, 'totalVariation');
    const x = img.x;
    const r = x.rank!;
    const along = (axis: number): Tensor => {
      const begin1 = new Array<number>(r).fill(0);
      begin1[axis] = 1;
      const end0 = new Array<number>(r).fill(0);
      end0[axis] = -1;
      const fullMask = ((1 << r) - 1) & ~(1 << axis);
      const later = stridedSlice(x, begin1, new Array<number>(r).fill(0), null, { beginMask: fullMask, endMask: (1 << r) - 1 });
      const earlier = stridedSlice(x, new Array<number>(r).fill(0), end0, null, { beginMask: (1 << r) - 1, endMask: fullMask });
      return subtract(later, earlier);
    };
    const axes = img.batched ? [1, 2, 3] : undefined;
    return add(reduceSum(abs(along(img.h)), axes), reduceSum(abs(along(img.h + 1)), axes));
  });
}

/**
 * tf.image.image_gradients: [dy, dx] of a batch [b, h, w, c], each the difference with the next
 * pixel down (dy) or across (dx), zero on the last row (dy) or column (dx).
 */
export function imageGradients(image: TensorLike, name?: string): [Tensor, Tensor] {
  return scoped(name ?? 'image_gradients', [image], () => {
    const img = asImage(image, 'imageGradients', [4]);
    const x = img.x;
    const diff = (axis: number): Tensor => {
      const b1 = [0, 0, 0, 0];
      b1[axis] = 1;
      const e0 = [0, 0, 0, 0];
      e0[axis] = -1;
      const others = 15 & ~(1 << axis);
      const later = stridedSlice(x, b1, [0, 0, 0, 0], null, { beginMask: others, endMask: 15 });
      const earlier = stridedSlice(x, [0, 0, 0, 0], e0, null, { beginMask: 15, endMask: others });
      const d = subtract(later, earlier);
      const zeroRow = zerosLike(slice(x, [0, 0, 0, 0], axis === 1 ? [-1, 1, -1, -1] : [-1, -1, 1, -1]));
      return concat([d, zeroRow], axis);
    };
    return [diff(1), diff(2)];
  });
}

