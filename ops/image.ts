// Image op definitions (issue 18): resizing, crop-and-resize, projective transforms and non-max
// suppression, with TensorFlow's names, attrs and gradients (tensorflow/python/ops/image_grad.py).
// Registered on import by ops/index.ts.
import { graphOf } from '../src/convert.js';
import type { DType } from '../src/core/dtypes.js';
import { formatShape, type Dim, type Shape } from '../src/core/shape.js';
import type { AttrValue, Operation, Tensor } from '../src/graph.js';
import { shape as shapeOf, stridedSlice } from '../src/api/array.js';
import { constant } from '../src/api/core.js';
import { partialScalar, partialVector } from './array.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, checkScalar, FLOAT, NUMERIC, optAttr } from './util.js';
import { projectiveTransformImageGrad } from '../src/api/image.js';


/** The input's shape with this rank (unknown dims when its rank is unknown); fails on another rank. */
function rankOf(ctx: ShapeContext, i: number, rank: number, what: string): Dim[] {
  const t = ctx.inputs[i]!;
  if (t.shape === null) return new Array<Dim>(rank).fill(null);
  if (t.shape.length !== rank) ctx.fail(`${what} (${t.name}) must be ${rank}-D, got shape ${formatShape(t.shape)}`);
  return [...t.shape];
}


function mergeDim(ctx: ShapeContext, a: Dim, b: Dim, what: string): Dim {
  if (a !== null && b !== null && a !== b) ctx.fail(`${what}: ${a} vs ${b}`);
  return a ?? b;
}

/** [height, width] from a 2-element int32 size input (TF's SetOutputToSizedImage). */
function sizeInput(ctx: ShapeContext, i: number, what: string): [Dim, Dim] {
  const t = ctx.inputs[i]!;
  if (t.dtype !== 'int32') ctx.fail(`${what} (${t.name}) must be int32, got ${t.dtype}`);
  const s = rankOf(ctx, i, 1, what);
  if (s[0] !== null && s[0] !== 2) ctx.fail(`${what} (${t.name}) must have 2 elements (height, width), got ${s[0]}`);
  const v = partialVector(t);
  const [h, w] = [v?.[0] ?? null, v?.[1] ?? null];
  for (const d of [h, w]) if (d !== null && d < 0) ctx.fail(`${what} must be non-negative, got [${h}, ${w}]`);
  return [h, w];
}

/** Shape function of Resize*(images, size): [batch, new_height, new_width, channels]. */
function resizeShape(outDType: DType | undefined) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dt = checkDType(ctx, 0, NUMERIC, 'images');
    const [n, , , c] = rankOf(ctx, 0, 4, 'images');
    const [h, w] = sizeInput(ctx, 1, 'size');
    if (optAttr(ctx, 'align_corners', false) && optAttr(ctx, 'half_pixel_centers', false)) {
      ctx.fail('if half_pixel_centers is true, align_corners must be false');
    }
    return [{ dtype: outDType ?? dt, shape: [n!, h, w, c!] }];
  };
}

const RESIZE_ATTRS = { T: 'type', align_corners: 'bool', half_pixel_centers: 'bool' } as const;

/** align_corners and half_pixel_centers of a resize op, to pass on to its gradient op. */
function resizeAttrs(op: Operation): Record<string, AttrValue> {
  return { align_corners: op.attrs.align_corners ?? false, half_pixel_centers: op.attrs.half_pixel_centers ?? false };
}

function makeOp(op: Operation, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, nOut = 1): Tensor[] {
  return graphOf(op.inputs).createOp(type, inputs, attrs).outputs.slice(0, nOut);
}

/** The height and width of image `t` ([batch, h, w, c]): constants when static, else sliced from its shape. */
function spatialSize(t: Tensor): Tensor {
  const s = t.shape;
  if (s !== null && s[1] !== null && s[2] !== null) return constant(Int32Array.from([s[1]!, s[2]!]), 'int32', [2]);
  return stridedSlice(shapeOf(t), [1], [3], [1]);
}

/** The whole shape of `t` as an int32 vector: a constant when static. */
function fullShape(t: Tensor): Tensor {
  const s = t.shape;
  if (s !== null && s.every((d) => d !== null)) return constant(Int32Array.from(s as number[]), 'int32', [s.length]);
  return shapeOf(t);
}

// ---- resizing ----

registerOp({
  type: 'ResizeBilinear',
  inputs: ['images', 'size'],
  attrs: RESIZE_ATTRS,
  shape: resizeShape('float32'),
  // TF's kernel differentiates float images only (ResizeBilinearGrad's T is a float type).
  grad: (op, [g]) => {
    const x = op.inputs[0]!;
    if (x.dtype !== 'float32') return [null, null];
    return [makeOp(op, 'ResizeBilinearGrad', [g!, x], { T: x.dtype, ...resizeAttrs(op) })[0]!, null];
  },
});

registerOp({
  type: 'ResizeBilinearGrad',
  inputs: ['grads', 'original_image'],
  attrs: RESIZE_ATTRS,
  shape: (ctx) => {
    const g = ctx.inputs[0]!;
    if (g.dtype !== 'float32') ctx.fail(`grads (${g.name}) must be float32, got ${g.dtype}`);
    const dt = checkDType(ctx, 1, FLOAT, 'original_image');
    const gs = rankOf(ctx, 0, 4, 'grads');
    const os = rankOf(ctx, 1, 4, 'original_image');
    const n = mergeDim(ctx, gs[0]!, os[0]!, 'grads and original_image must have the same batch size');
    const c = mergeDim(ctx, gs[3]!, os[3]!, 'grads and original_image must have the same number of channels');
    return [{ dtype: dt, shape: [n, os[1]!, os[2]!, c] }];
  },
  grad: null, // TF: ops.NotDifferentiable("ResizeBilinearGrad")
});

registerOp({
  type: 'ResizeNearestNeighbor',
  inputs: ['images', 'size'],
  attrs: RESIZE_ATTRS,
  shape: resizeShape(undefined),
  grad: (op, [g]) => {
    const x = op.inputs[0]!;
    if (x.dtype !== 'float32') return [null, null];
    return [makeOp(op, 'ResizeNearestNeighborGrad', [g!, spatialSize(x)], { T: x.dtype, ...resizeAttrs(op) })[0]!, null];
  },
});

registerOp({
  type: 'ResizeNearestNeighborGrad',
  inputs: ['grads', 'size'],
  attrs: RESIZE_ATTRS,
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, ['float32', 'int32'], 'grads');
    const [n, , , c] = rankOf(ctx, 0, 4, 'grads');
    const [h, w] = sizeInput(ctx, 1, 'size');
    return [{ dtype: dt, shape: [n!, h, w, c!] }];
  },
  grad: null,
});

// ---- crop and resize ----

const CROP_METHODS = ['bilinear', 'nearest'];

function cropMethod(ctx: ShapeContext, allowed: readonly string[]): void {
  const m = optAttr(ctx, 'method', 'bilinear');
  if (!allowed.includes(m)) ctx.fail(`method must be one of ${allowed.map((x) => `'${x}'`).join(', ')}, got '${m}'`);
}

/** boxes [num_boxes, 4] float32 and box_ind [num_boxes] int32: the number of boxes. */
function boxesInputs(ctx: ShapeContext, boxes: number, boxInd: number): Dim {
  const b = ctx.inputs[boxes]!;
  const bi = ctx.inputs[boxInd]!;
  if (b.dtype !== 'float32') ctx.fail(`boxes (${b.name}) must be float32, got ${b.dtype}`);
  if (bi.dtype !== 'int32') ctx.fail(`box_ind (${bi.name}) must be int32, got ${bi.dtype}`);
  const bs = rankOf(ctx, boxes, 2, 'boxes');
  const is = rankOf(ctx, boxInd, 1, 'box_ind');
  if (bs[1] !== null && bs[1] !== 4) ctx.fail(`boxes (${b.name}) must have 4 columns, got shape ${formatShape(b.shape)}`);
  return mergeDim(ctx, bs[0]!, is[0]!, 'boxes and box_ind must have the same number of boxes');
}

registerOp({
  type: 'CropAndResize',
  inputs: ['image', 'boxes', 'box_ind', 'crop_size'],
  attrs: { T: 'type', method: 'string', extrapolation_value: 'float' },
  shape: (ctx) => {
    checkDType(ctx, 0, NUMERIC, 'image');
    cropMethod(ctx, CROP_METHODS);
    const [, , , c] = rankOf(ctx, 0, 4, 'image');
    const n = boxesInputs(ctx, 1, 2);
    const [h, w] = sizeInput(ctx, 3, 'crop_size');
    if (h === 0 || w === 0) ctx.fail(`crop_size must be positive, got [${h}, ${w}]`);
    return [{ dtype: 'float32', shape: [n, h, w, c!] }];
  },
  grad: (op, [g]) => {
    const [image, boxes, boxInd] = op.inputs as [Tensor, Tensor, Tensor, Tensor];
    const method = (op.attrs.method as string | undefined) ?? 'bilinear';
    const gImage =
      image.dtype === 'float32' ? makeOp(op, 'CropAndResizeGradImage', [g!, boxes, boxInd, fullShape(image)], { T: image.dtype, method })[0]! : null;
    // TF approximates the boxes' gradient with bilinear sampling whatever the method.
    const gBoxes = makeOp(op, 'CropAndResizeGradBoxes', [g!, image, boxes, boxInd], { T: image.dtype, method: 'bilinear' })[0]!;
    return [gImage, gBoxes, null, null];
  },
});

registerOp({
  type: 'CropAndResizeGradImage',
  inputs: ['grads', 'boxes', 'box_ind', 'image_size'],
  attrs: { T: 'type', method: 'string' },
  shape: (ctx) => {
    const g = ctx.inputs[0]!;
    if (g.dtype !== 'float32') ctx.fail(`grads (${g.name}) must be float32, got ${g.dtype}`);
    cropMethod(ctx, CROP_METHODS);
    const gs = rankOf(ctx, 0, 4, 'grads');
    mergeDim(ctx, gs[0]!, boxesInputs(ctx, 1, 2), 'grads and boxes must have the same number of boxes');
    const size = ctx.inputs[3]!;
    if (size.dtype !== 'int32') ctx.fail(`image_size (${size.name}) must be int32, got ${size.dtype}`);
    const ss = rankOf(ctx, 3, 1, 'image_size');
    if (ss[0] !== null && ss[0] !== 4) ctx.fail(`image_size (${size.name}) must have 4 elements, got ${ss[0]}`);
    const dims = partialVector(size) ?? [null, null, null, null];
    const c = mergeDim(ctx, gs[3]!, dims[3] ?? null, 'grads and image_size must have the same number of channels');
    const dtype = optAttr<DType>(ctx, 'T', 'float32');
    if (dtype !== 'float32') ctx.fail(`T must be float32, got ${dtype}`);
    return [{ dtype, shape: [dims[0] ?? null, dims[1] ?? null, dims[2] ?? null, c] }];
  },
  grad: null,
});

registerOp({
  type: 'CropAndResizeGradBoxes',
  inputs: ['grads', 'image', 'boxes', 'box_ind'],
  attrs: { T: 'type', method: 'string' },
  shape: (ctx) => {
    const g = ctx.inputs[0]!;
    if (g.dtype !== 'float32') ctx.fail(`grads (${g.name}) must be float32, got ${g.dtype}`);
    checkDType(ctx, 1, NUMERIC, 'image');
    cropMethod(ctx, ['bilinear']);
    const gs = rankOf(ctx, 0, 4, 'grads');
    const is = rankOf(ctx, 1, 4, 'image');
    mergeDim(ctx, gs[3]!, is[3]!, 'grads and image must have the same number of channels');
    const n = mergeDim(ctx, gs[0]!, boxesInputs(ctx, 2, 3), 'grads and boxes must have the same number of boxes');
    return [{ dtype: 'float32', shape: [n, 4] }];
  },
  grad: null,
});

// ---- projective transforms ----

export const INTERPOLATIONS = ['NEAREST', 'BILINEAR'];
export const FILL_MODES = ['CONSTANT', 'REFLECT', 'WRAP', 'NEAREST'];

function transformShape(ctx: ShapeContext): OutputSpec[] {
  const dt = checkDType(ctx, 0, NUMERIC, 'images');
  const [n, , , c] = rankOf(ctx, 0, 4, 'images');
  const t = ctx.inputs[1]!;
  if (t.dtype !== 'float32') ctx.fail(`transforms (${t.name}) must be float32, got ${t.dtype}`);
  const ts = rankOf(ctx, 1, 2, 'transforms');
  if (ts[1] !== null && ts[1] !== 8) ctx.fail(`transforms (${t.name}) must have 8 columns, got shape ${formatShape(t.shape)}`);
  if (ts[0] !== null && n !== null && ts[0] !== 1 && ts[0] !== n) {
    ctx.fail(`transforms must have 1 row or one per image (${n}), got ${ts[0]}`);
  }
  const interpolation = ctx.attr<string>('interpolation');
  if (!INTERPOLATIONS.includes(interpolation)) ctx.fail(`interpolation must be 'NEAREST' or 'BILINEAR', got '${interpolation}'`);
  const fill = optAttr(ctx, 'fill_mode', 'CONSTANT');
  if (!FILL_MODES.includes(fill)) ctx.fail(`fill_mode must be one of ${FILL_MODES.join(', ')}, got '${fill}'`);
  const [h, w] = sizeInput(ctx, 2, 'output_shape');
  if (ctx.inputs.length > 3) {
    const f = ctx.inputs[3]!;
    if (f.dtype !== 'float32') ctx.fail(`fill_value (${f.name}) must be float32, got ${f.dtype}`);
    checkScalar(ctx, 3, 'fill_value');
  }
  return [{ dtype: dt, shape: [n!, h, w, c!] }];
}

const TRANSFORM_ATTRS = { dtype: 'type', interpolation: 'string', fill_mode: 'string' } as const;

function transformGrad(op: Operation, g: Tensor): Tensor | null {
  const images = op.inputs[0]!;
  if (images.dtype !== 'float32') return null;
  return projectiveTransformImageGrad(images, op.inputs[1]!, g, op.attrs.interpolation as string, (op.attrs.fill_mode as string | undefined) ?? 'CONSTANT');
}

registerOp({
  type: 'ImageProjectiveTransformV2',
  inputs: ['images', 'transforms', 'output_shape'],
  attrs: TRANSFORM_ATTRS,
  shape: transformShape,
  grad: (op, [g]) => [transformGrad(op, g!), null, null],
});

registerOp({
  type: 'ImageProjectiveTransformV3',
  inputs: ['images', 'transforms', 'output_shape', 'fill_value'],
  attrs: TRANSFORM_ATTRS,
  shape: transformShape,
  grad: (op, [g]) => [transformGrad(op, g!), null, null, null],
});

// ---- non-max suppression ----
// The number of boxes selected is known only at run time: selected_indices has an unknown length
// (static only with pad_to_max_output_size and a constant max_output_size). The plan leaves such
// outputs out of its arena and the kernel allocates them.

/** Checks NMS inputs: boxes [n, 4], scores [n], max_output_size and the float scalars `scalars` from input 3 on. */
function nmsInputs(ctx: ShapeContext, scalars: readonly string[]): void {
  checkDType(ctx, 0, FLOAT, 'boxes');
  checkDType(ctx, 1, FLOAT, 'scores');
  const bs = rankOf(ctx, 0, 2, 'boxes');
  const ss = rankOf(ctx, 1, 1, 'scores');
  mergeDim(ctx, bs[0]!, ss[0]!, 'boxes and scores must have the same number of boxes');
  if (bs[1] !== null && bs[1] !== 4) ctx.fail(`boxes (${ctx.inputs[0]!.name}) must have 4 columns, got shape ${formatShape(ctx.inputs[0]!.shape)}`);
  const m = ctx.inputs[2]!;
  if (m.dtype !== 'int32') ctx.fail(`max_output_size (${m.name}) must be int32, got ${m.dtype}`);
  checkScalar(ctx, 2, 'max_output_size');
  scalars.forEach((what, k) => {
    checkDType(ctx, 3 + k, FLOAT, what);
    checkScalar(ctx, 3 + k, what);
  });
}

/** The length of a padded selection: max_output_size when known. */
function paddedLength(ctx: ShapeContext): Dim {
  if (!optAttr(ctx, 'pad_to_max_output_size', false)) return null;
  const m = partialScalar(ctx.inputs[2]!);
  if (m !== null && m < 0) ctx.fail(`max_output_size must be non-negative, got ${m}`);
  return m;
}

const NMS_ATTRS = { T: 'type', T_threshold: 'type' } as const;

registerOp({
  type: 'NonMaxSuppressionV2',
  inputs: ['boxes', 'scores', 'max_output_size', 'iou_threshold'],
  attrs: NMS_ATTRS,
  shape: (ctx) => {
    nmsInputs(ctx, ['iou_threshold']);
    return [{ dtype: 'int32', shape: [null] }];
  },
  grad: null,
});

registerOp({
  type: 'NonMaxSuppressionV3',
  inputs: ['boxes', 'scores', 'max_output_size', 'iou_threshold', 'score_threshold'],
  attrs: NMS_ATTRS,
  shape: (ctx) => {
    nmsInputs(ctx, ['iou_threshold', 'score_threshold']);
    return [{ dtype: 'int32', shape: [null] }];
  },
  grad: null,
});

registerOp({
  type: 'NonMaxSuppressionV4',
  inputs: ['boxes', 'scores', 'max_output_size', 'iou_threshold', 'score_threshold'],
  attrs: { ...NMS_ATTRS, pad_to_max_output_size: 'bool' },
  shape: (ctx) => {
    nmsInputs(ctx, ['iou_threshold', 'score_threshold']);
    return [
      { dtype: 'int32', shape: [paddedLength(ctx)] },
      { dtype: 'int32', shape: [] },
    ];
  },
  grad: null,
});

registerOp({
  type: 'NonMaxSuppressionV5',
  inputs: ['boxes', 'scores', 'max_output_size', 'iou_threshold', 'score_threshold', 'soft_nms_sigma'],
  attrs: { T: 'type', pad_to_max_output_size: 'bool' },
  shape: (ctx) => {
    nmsInputs(ctx, ['iou_threshold', 'score_threshold', 'soft_nms_sigma']);
    const n: Shape = [paddedLength(ctx)];
    return [
      { dtype: 'int32', shape: n },
      { dtype: 'float32', shape: [...n] },
      { dtype: 'int32', shape: [] },
    ];
  },
  grad: null,
});
