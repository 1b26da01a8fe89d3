// TF1 functions building the image family's ops (issue 18): tf.image.resize*, cropAndResize, the
// non-max suppressions, and tf.contrib.image.transform.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import { InvalidArgumentError, UnimplementedError } from '../core/errors.js';
import type { AttrValue, Graph, Tensor } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import {
  broadcastTo,
  concat,
  expandDims,
  fill,
  onesLike,
  range,
  reshape,
  shape as shapeOf,
  squeeze,
  stack,
  stridedSlice,
  unsortedSegmentSum,
  zerosLike,
} from './array.js';
import {
  abs,
  add,
  cast,
  divide,
  floor,
  greater,
  greaterEqual,
  less,
  lessEqual,
  logicalAnd,
  maximum,
  minimum,
  multiply,
  negative,
  notEqual,
  sign,
  subtract,
  where,
} from './math.js';

/** TF's name_scope(name): fn gets the scope, which is also the exact name of the op it makes. */
function scoped<T>(name: string, values: readonly unknown[], fn: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => fn(scope, g)));
}

/** A 2-element int32 size from [h, w] numbers or a tensor. */
function sizeTensor(size: TensorLike | readonly [number, number], name: string): Tensor {
  if (Array.isArray(size) && size.every((d) => typeof d === 'number')) {
    return convertToTensor(NDArray.from(Int32Array.from(size as number[]), 'int32', [size.length]), undefined, name, name);
  }
  return convertToTensor(size as TensorLike, 'int32', name, name);
}

// ---- resizing ----

export interface ResizeOptions {
  alignCorners?: boolean;
  halfPixelCenters?: boolean;
  name?: string;
}

function resizeOp(type: string, images: TensorLike, size: TensorLike | readonly [number, number], opts: ResizeOptions): Tensor {
  return scoped(opts.name ?? type, [images, size], (scope, g) => {
    const x = convertToTensor(images, undefined, 'images', 'images');
    const attrs: Record<string, AttrValue> = { T: x.dtype, align_corners: opts.alignCorners ?? false, half_pixel_centers: opts.halfPixelCenters ?? false };
    return g.createOp(type, [x, sizeTensor(size, 'size')], attrs, { name: scope }).outputs[0]!;
  });
}

/** tf.image.resize_bilinear (TF1): 4-D images [batch, h, w, c] resized to size [newH, newW]; float32 out. */
export function resizeBilinear(images: TensorLike, size: TensorLike | readonly [number, number], opts: ResizeOptions = {}): Tensor {
  return resizeOp('ResizeBilinear', images, size, opts);
}

/** tf.image.resize_nearest_neighbor (TF1): 4-D images resized to size [newH, newW]; the images' dtype out. */
export function resizeNearestNeighbor(images: TensorLike, size: TensorLike | readonly [number, number], opts: ResizeOptions = {}): Tensor {
  return resizeOp('ResizeNearestNeighbor', images, size, opts);
}

/** TF1's tf.image.ResizeMethod. */
export const ResizeMethod = { BILINEAR: 0, NEAREST_NEIGHBOR: 1, BICUBIC: 2, AREA: 3 } as const;
export type ResizeMethodValue = (typeof ResizeMethod)[keyof typeof ResizeMethod];

export interface ResizeImagesOptions {
  method?: ResizeMethodValue;
  alignCorners?: boolean;
  preserveAspectRatio?: boolean;
  name?: string;
}

/**
 * tf.image.resize_images (TF1): 3-D [h, w, c] or 4-D images; BILINEAR (float32 out) or
 * NEAREST_NEIGHBOR. Images already of the static target size come back unchanged, as in TF1.
 */
export function resizeImages(images: TensorLike, size: readonly [number, number] | TensorLike, opts: ResizeImagesOptions = {}): Tensor {
  const method = opts.method ?? ResizeMethod.BILINEAR;
  if (method !== ResizeMethod.BILINEAR && method !== ResizeMethod.NEAREST_NEIGHBOR) {
    throw new UnimplementedError(`tf.image.resizeImages: method ${method} (BICUBIC or AREA) is not implemented; use BILINEAR or NEAREST_NEIGHBOR`);
  }
  return scoped(opts.name ?? 'resize', [images, size], () => {
    let x = convertToTensor(images, undefined, 'images', 'images');
    const rank = x.rank;
    if (rank !== 3 && rank !== 4) throw new InvalidArgumentError(`tf.image.resizeImages: images must be 3-D or 4-D, got shape rank ${rank ?? 'unknown'}`);
    const batched = rank === 4;
    if (!batched) x = expandDims(x, 0);
    let target: readonly [number, number] | TensorLike = size;
    const s = x.shape!;
    if (opts.preserveAspectRatio) {
      if (!Array.isArray(size) || s[1] === null || s[2] === null) throw new InvalidArgumentError('tf.image.resizeImages: preserveAspectRatio needs a static size and image size');
      const [h, w] = [s[1]!, s[2]!];
      const scale = Math.min((size as number[])[0]! / h, (size as number[])[1]! / w);
      target = [Math.trunc(h * scale), Math.trunc(w * scale)];
    }
    if (Array.isArray(target) && s[1] === target[0] && s[2] === target[1]) return batched ? x : squeeze(x, [0]);
    const resize = method === ResizeMethod.BILINEAR ? resizeBilinear : resizeNearestNeighbor;
    const y = resize(x, target, { alignCorners: opts.alignCorners ?? false });
    return batched ? y : squeeze(y, [0]);
  });
}

// ---- crop and resize ----

export interface CropAndResizeOptions {
  method?: 'bilinear' | 'nearest';
  extrapolationValue?: number;
  name?: string;
}

/**
 * tf.image.crop_and_resize: crops of image [batch, h, w, c] at boxes [n, 4] (normalized y1, x1, y2,
 * x2) from images boxInd [n], each resized to cropSize [ch, cw]: float32 [n, ch, cw, c].
 */
export function cropAndResize(image: TensorLike, boxes: TensorLike, boxInd: TensorLike, cropSize: TensorLike | readonly [number, number], opts: CropAndResizeOptions = {}): Tensor {
  return scoped(opts.name ?? 'CropAndResize', [image, boxes, boxInd, cropSize], (scope, g) => {
    const x = convertToTensor(image, undefined, 'image', 'image');
    const b = convertToTensor(boxes, 'float32', 'boxes', 'boxes');
    const bi = convertToTensor(boxInd, 'int32', 'box_ind', 'box_ind');
    const attrs = { T: x.dtype, method: opts.method ?? 'bilinear', extrapolation_value: opts.extrapolationValue ?? 0 };
    return g.createOp('CropAndResize', [x, b, bi, sizeTensor(cropSize, 'crop_size')], attrs, { name: scope }).outputs[0]!;
  });
}

// ---- non-max suppression ----

export interface NmsOptions {
  /** Default 0.5. */
  iouThreshold?: TensorLike;
  /** Default -Infinity. */
  scoreThreshold?: TensorLike;
  name?: string;
}

function nmsInputs(boxes: TensorLike, scores: TensorLike, maxOutputSize: TensorLike, opts: NmsOptions): Tensor[] {
  return [
    convertToTensor(boxes, 'float32', 'boxes', 'boxes'),
    convertToTensor(scores, 'float32', 'scores', 'scores'),
    convertToTensor(maxOutputSize, 'int32', 'max_output_size', 'max_output_size'),
    convertToTensor(opts.iouThreshold ?? 0.5, 'float32', 'iou_threshold', 'iou_threshold'),
    convertToTensor(opts.scoreThreshold ?? -Infinity, 'float32', 'score_threshold', 'score_threshold'),
  ];
}

/**
 * tf.image.non_max_suppression (NonMaxSuppressionV3): indices of the boxes [n, 4] kept greedily by
 * descending score, dropping boxes overlapping a kept one by more than iouThreshold (IoU). Its
 * length is known only at run time.
 */
export function nonMaxSuppression(boxes: TensorLike, scores: TensorLike, maxOutputSize: TensorLike, opts: NmsOptions = {}): Tensor {
  return scoped(opts.name ?? 'non_max_suppression', [boxes, scores, maxOutputSize], (_scope, g) =>
    g.createOp('NonMaxSuppressionV3', nmsInputs(boxes, scores, maxOutputSize, opts), { T: 'float32', T_threshold: 'float32' }, { name: 'NonMaxSuppressionV3' }).outputs[0]!,
  );
}

export interface NmsWithScoresOptions extends NmsOptions {
  /** Soft-NMS (Bodla et al.): scores decay by exp(-iou^2 / (2 sigma)) instead of boxes being dropped; 0 is hard NMS. */
  softNmsSigma?: TensorLike;
  padToMaxOutputSize?: boolean;
}

/** tf.image.non_max_suppression_with_scores (NonMaxSuppressionV5): [selectedIndices, selectedScores]. */
export function nonMaxSuppressionWithScores(boxes: TensorLike, scores: TensorLike, maxOutputSize: TensorLike, opts: NmsWithScoresOptions = {}): [Tensor, Tensor] {
  return scoped(opts.name ?? 'non_max_suppression_with_scores', [boxes, scores, maxOutputSize], (_scope, g) => {
    const inputs = [...nmsInputs(boxes, scores, maxOutputSize, opts), convertToTensor(opts.softNmsSigma ?? 0, 'float32', 'soft_nms_sigma', 'soft_nms_sigma')];
    const op = g.createOp('NonMaxSuppressionV5', inputs, { T: 'float32', pad_to_max_output_size: opts.padToMaxOutputSize ?? false }, { name: 'NonMaxSuppressionV5' });
    return [op.outputs[0]!, op.outputs[1]!];
  });
}

export interface NmsPaddedOptions extends NmsOptions {
  padToMaxOutputSize?: boolean;
}

/**
 * tf.image.non_max_suppression_padded (TF1, NonMaxSuppressionV4): [selectedIndices, validOutputs];
 * with padToMaxOutputSize the indices are zero-padded to maxOutputSize.
 */
export function nonMaxSuppressionPadded(boxes: TensorLike, scores: TensorLike, maxOutputSize: TensorLike, opts: NmsPaddedOptions = {}): [Tensor, Tensor] {
  return scoped(opts.name ?? 'non_max_suppression_padded', [boxes, scores, maxOutputSize], (_scope, g) => {
    const attrs = { T: 'float32', T_threshold: 'float32', pad_to_max_output_size: opts.padToMaxOutputSize ?? false };
    const op = g.createOp('NonMaxSuppressionV4', nmsInputs(boxes, scores, maxOutputSize, opts), attrs, { name: 'NonMaxSuppressionV4' });
    return [op.outputs[0]!, op.outputs[1]!];
  });
}

// ---- projective transforms ----

export interface TransformOptions {
  /** 'NEAREST' (default) or 'BILINEAR'. */
  interpolation?: 'NEAREST' | 'BILINEAR';
  /** [height, width] of the output (default: the images'). */
  outputShape?: TensorLike | readonly [number, number];
  /** How points outside the image are read: 'CONSTANT' (default), 'REFLECT', 'WRAP' or 'NEAREST'. */
  fillMode?: 'CONSTANT' | 'REFLECT' | 'WRAP' | 'NEAREST';
  /** The value CONSTANT fills with; given, the op is ImageProjectiveTransformV3. */
  fillValue?: TensorLike;
  name?: string;
}

/**
 * tf.contrib.image.transform: images [h, w], [h, w, c] or [batch, h, w, c], transforms [8] or
 * [1 or batch, 8] ([a0..a2, b0..b2, c0, c1]: output point (x, y) reads input point ((a0 x + a1 y +
 * a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1).
 */
export function transform(images: TensorLike, transforms: TensorLike, opts: TransformOptions = {}): Tensor {
  return scoped(opts.name ?? 'transform', [images, transforms], (_scope, g) => {
    let x = convertToTensor(images, undefined, 'images', 'images');
    const rank = x.rank;
    if (rank === null || rank < 2 || rank > 4) throw new InvalidArgumentError(`tf.contrib.image.transform: images must have rank 2, 3 or 4, got ${rank ?? 'unknown'}`);
    if (rank === 2) x = expandDims(expandDims(x, 0), -1);
    if (rank === 3) x = expandDims(x, 0);
    let t = convertToTensor(transforms, 'float32', 'transforms', 'transforms');
    if (t.rank === 1) t = expandDims(t, 0);
    else if (t.rank !== 2) throw new InvalidArgumentError(`tf.contrib.image.transform: transforms must have rank 1 or 2, got ${t.rank ?? 'unknown'}`);
    const size = opts.outputShape !== undefined ? sizeTensor(opts.outputShape, 'output_shape') : stridedSlice(shapeOf(x), [1], [3], [1]);
    const attrs = { dtype: x.dtype, interpolation: opts.interpolation ?? 'NEAREST', fill_mode: opts.fillMode ?? 'CONSTANT' };
    const v3 = opts.fillValue !== undefined;
    const inputs = v3 ? [x, t, size, convertToTensor(opts.fillValue!, 'float32', 'fill_value', 'fill_value')] : [x, t, size];
    let y = g.createOp(v3 ? 'ImageProjectiveTransformV3' : 'ImageProjectiveTransformV2', inputs, attrs, { name: v3 ? 'ImageProjectiveTransformV3' : 'ImageProjectiveTransformV2' }).outputs[0]!;
    if (rank === 2) y = squeeze(y, [0, 3]);
    if (rank === 3) y = squeeze(y, [0]);
    return y;
  });
}

/** Round half away from zero (C's round), in graph ops. */
function roundHalfAway(v: Tensor): Tensor {
  return multiply(sign(v), floor(add(abs(v), 0.5)));
}

/** Truncation toward zero in graph ops. */
function trunc(v: Tensor): Tensor {
  return multiply(sign(v), floor(abs(v)));
}

/** TF's MapCoordinate for fill_mode, in graph ops over float32 coordinates c and length len (a float32 scalar). */
function mapCoordinate(c: Tensor, len: Tensor, mode: string): Tensor {
  const last = subtract(len, 1);
  const clamp = (v: Tensor): Tensor => minimum(maximum(v, 0), last);
  if (mode === 'CONSTANT') return c;
  if (mode === 'NEAREST') return clamp(c);
  const tiny = lessEqual(len, 1);
  let low: Tensor;
  let high: Tensor;
  if (mode === 'REFLECT') {
    const sz2 = multiply(len, 2);
    const l1 = add(multiply(sz2, trunc(divide(negative(c), sz2))), c);
    low = where(less(l1, negative(len)), add(l1, sz2), subtract(negative(l1), 1));
    const h1 = subtract(c, multiply(sz2, trunc(divide(c, sz2))));
    high = where(greaterEqual(h1, len), subtract(subtract(sz2, h1), 1), h1);
  } else {
    const sz = maximum(last, 1);
    low = add(c, multiply(len, add(trunc(divide(negative(c), sz)), 1)));
    high = subtract(c, multiply(len, trunc(divide(c, sz))));
  }
  const zero = zerosLike(c);
  const mapped = where(less(c, 0), where(tiny, zero, low), where(greater(c, last), where(tiny, zero, high), c));
  return clamp(mapped);
}

/**
 * The gradient of a projective transform with respect to its images: each output pixel's incoming
 * gradient added onto the input pixels it read, with the weights it read them with (the adjoint of
 * the resampling; TensorFlow's current _image_projective_transform_grad). Built from graph ops.
 */
export function projectiveTransformImageGrad(images: Tensor, transforms: Tensor, grad: Tensor, interpolation: string, fillMode: string): Tensor {
  const g = graphOf([images, transforms, grad]);
  return g.asDefault(() =>
    g.nameScope('ImageProjectiveTransformGrad', () => {
      const s = shapeOf(images);
      const dim = (t: Tensor, k: number): Tensor => stridedSlice(t, [k], [k + 1], [1], { shrinkAxisMask: 1 });
      const [batch, inH, inW, channels] = [0, 1, 2, 3].map((k) => dim(s, k)) as [Tensor, Tensor, Tensor, Tensor];
      const gs = shapeOf(grad);
      const [outH, outW] = [dim(gs, 1), dim(gs, 2)];
      const grid = stack([batch, outH, outW]);
      // One row per image: a single row serves every image.
      const rows = broadcastTo(transforms, stack([batch, 8]));
      const coef = (i: number): Tensor => reshape(stridedSlice(rows, [0, i], [0, i + 1], [1, 1], { beginMask: 1, endMask: 1 }), [-1, 1, 1]);
      const oy = broadcastTo(reshape(cast(range(0, outH), 'float32'), [1, -1, 1]), grid);
      const ox = broadcastTo(reshape(cast(range(0, outW), 'float32'), [1, 1, -1]), grid);
      const proj = add(add(multiply(coef(6), ox), multiply(coef(7), oy)), 1);
      const validProj = notEqual(proj, 0);
      const safeProj = where(validProj, proj, onesLike(proj));
      const [hF, wF] = [cast(inH, 'float32'), cast(inW, 'float32')];
      const x = mapCoordinate(divide(add(add(multiply(coef(0), ox), multiply(coef(1), oy)), coef(2)), safeProj), wF, fillMode);
      const y = mapCoordinate(divide(add(add(multiply(coef(3), ox), multiply(coef(4), oy)), coef(5)), safeProj), hF, fillMode);
      const batchIdx = cast(broadcastTo(reshape(range(0, batch), [-1, 1, 1]), grid), 'float32');
      const gradFlat = reshape(grad, stack([-1, channels]));
      const taps: [Tensor, Tensor, Tensor][] = [];
      if (interpolation === 'NEAREST') {
        taps.push([roundHalfAway(y), roundHalfAway(x), onesLike(x)]);
      } else {
        const [y0, x0] = [floor(y), floor(x)];
        const [y1, x1] = [add(y0, 1), add(x0, 1)];
        const [wy0, wy1, wx0, wx1] = [subtract(y1, y), subtract(y, y0), subtract(x1, x), subtract(x, x0)];
        taps.push([y0, x0, multiply(wy0, wx0)], [y0, x1, multiply(wy0, wx1)], [y1, x0, multiply(wy1, wx0)], [y1, x1, multiply(wy1, wx1)]);
      }
      const ids: Tensor[] = [];
      const updates: Tensor[] = [];
      for (const [iy, ix, w] of taps) {
        const inside = logicalAnd(logicalAnd(greaterEqual(iy, 0), less(iy, hF)), logicalAnd(greaterEqual(ix, 0), less(ix, wF)));
        const keep = logicalAnd(inside, validProj);
        // Taps outside the image read the fill value: they get no gradient (segment id -1 is dropped).
        const flat = add(multiply(add(multiply(batchIdx, hF), iy), wF), ix);
        ids.push(reshape(cast(where(keep, flat, fill(shapeOf(flat), -1)), 'int32'), [-1]));
        updates.push(multiply(reshape(where(keep, w, zerosLike(w)), [-1, 1]), gradFlat));
      }
      const n = multiply(multiply(batch, inH), inW);
      const summed = unsortedSegmentSum(concat(updates, 0), concat(ids, 0), n);
      return reshape(summed, s);
    }),
  );
}
