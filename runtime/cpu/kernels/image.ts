// CPU kernels: image family (TensorFlow's resize, crop-and-resize, projective transform and
// non-max-suppression kernels, with their coordinate rules, in float32 arithmetic where TF uses
// float). Registered on import by kernels/index.ts.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import type { KernelNode } from '../../backend.js';
import { scalarNumber } from '../../array_args.js';
import { registerCpuKernel } from '../registry.js';
import { toNumbers, type Outputs } from './util.js';

const f = Math.fround;

/** Element values as numbers (int64 converted once). */
function values(a: NDArray): ArrayLike<number> {
  return a.dtype === 'int64' ? Float64Array.from(a.data as BigInt64Array, Number) : (a.data as Float32Array);
}

function dims4(a: NDArray, what: string): [number, number, number, number] {
  if (a.rank !== 4) throw new InvalidArgumentError(`${what} must be 4-dimensional, got shape ${formatShape(a.shape)}`);
  return a.shape as [number, number, number, number];
}

function size2(a: NDArray, what: string): [number, number] {
  if (a.rank !== 1 || a.size !== 2) throw new InvalidArgumentError(`${what} must be a 1-D tensor of 2 elements, got shape ${formatShape(a.shape)}`);
  const [h, w] = toNumbers(a) as [number, number];
  return [h, w];
}

// ---- resize coordinate rules (TF's image_resizer_state.h) ----

interface ResizeMode {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

function resizeMode(node: KernelNode): ResizeMode {
  const mode = { alignCorners: node.attrs.align_corners === true, halfPixelCenters: node.attrs.half_pixel_centers === true };
  if (mode.alignCorners && mode.halfPixelCenters) throw new InvalidArgumentError('If half_pixel_centers is True, align_corners must be False.');
  return mode;
}

/** TF's CalculateResizeScale: input pixels per output pixel. */
function resizeScale(inSize: number, outSize: number, alignCorners: boolean): number {
  return alignCorners && outSize > 1 ? f((inSize - 1) / (outSize - 1)) : f(inSize / outSize);
}

/** Per output index along one axis: the two input indices bilinear interpolation reads and the weight of the upper one. */
interface BilinearAxis {
  lower: Int32Array;
  upper: Int32Array;
  lerp: Float32Array;
}

function bilinearAxis(inSize: number, outSize: number, mode: ResizeMode): BilinearAxis {
  const scale = resizeScale(inSize, outSize, mode.alignCorners);
  const ax = { lower: new Int32Array(outSize), upper: new Int32Array(outSize), lerp: new Float32Array(outSize) };
  for (let i = 0; i < outSize; i++) {
    const x = mode.halfPixelCenters ? f(f((i + 0.5) * scale) - 0.5) : f(i * scale);
    const fl = Math.floor(x);
    ax.lower[i] = Math.max(fl, 0);
    ax.upper[i] = Math.min(Math.ceil(x), inSize - 1);
    ax.lerp[i] = x - fl;
  }
  return ax;
}

/** Per output index along one axis: the input index nearest-neighbor resizing reads. */
function nearestAxis(inSize: number, outSize: number, mode: ResizeMode): Int32Array {
  const scale = resizeScale(inSize, outSize, mode.alignCorners);
  const src = new Int32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    // Half-pixel centers: TF's HalfPixelScalerForNN leaves out the -0.5 the floor makes up for.
    const x = mode.halfPixelCenters ? f((i + 0.5) * scale) : f(i * scale);
    let k = Math.min(mode.alignCorners ? roundHalfAway(x) : Math.floor(x), inSize - 1);
    if (mode.halfPixelCenters) k = Math.max(0, k);
    src[i] = k;
  }
  return src;
}

/** C's roundf: halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function checkResize(images: NDArray, size: NDArray): { shape: [number, number, number, number]; out: [number, number] } {
  const shape = dims4(images, 'input');
  const out = size2(size, 'size');
  if (!(out[0] > 0 && out[1] > 0)) throw new InvalidArgumentError(`output dimensions must be positive, got [${out.join(', ')}]`);
  if (shape[0] > 0 && !(shape[1] > 0 && shape[2] > 0)) throw new InvalidArgumentError(`input image must be of non-zero size, got shape ${formatShape(shape)}`);
  return { shape, out };
}

registerCpuKernel('ResizeBilinear', ([images, size], node, _state, outputs) => {
  const mode = resizeMode(node);
  const { shape: [N, H, W, C], out: [OH, OW] } = checkResize(images!, size!);
  const ys = bilinearAxis(H, OH, mode);
  const xs = bilinearAxis(W, OW, mode);
  const out = outputs.alloc('float32', [N, OH, OW, C]);
  const src = values(images!);
  const dst = out.data as Float32Array;
  let o = 0;
  for (let b = 0; b < N; b++) {
    for (let y = 0; y < OH; y++) {
      const top = (b * H + ys.lower[y]!) * W;
      const bottom = (b * H + ys.upper[y]!) * W;
      const ly = ys.lerp[y]!;
      for (let x = 0; x < OW; x++) {
        const l = xs.lower[x]! * C;
        const r = xs.upper[x]! * C;
        const lx = xs.lerp[x]!;
        for (let c = 0; c < C; c++, o++) {
          const tl = src[top * C + l + c]!;
          const tr = src[top * C + r + c]!;
          const bl = src[bottom * C + l + c]!;
          const br = src[bottom * C + r + c]!;
          const t = f(tl + f((tr - tl) * lx));
          const bo = f(bl + f((br - bl) * lx));
          dst[o] = t + (bo - t) * ly;
        }
      }
    }
  }
  return [out];
});

registerCpuKernel('ResizeBilinearGrad', ([grads, image], node, _state, outputs) => {
  const mode = resizeMode(node);
  const [N, RH, RW, C] = dims4(grads!, 'input_grad');
  const [, H, W] = dims4(image!, 'original_image');
  if (image!.shape[0] !== N || image!.shape[3] !== C) {
    throw new InvalidArgumentError(`input_grad and original_image must have the same batch size and depth: ${formatShape(grads!.shape)} vs. ${formatShape(image!.shape)}`);
  }
  const ys = bilinearAxis(H, RH, mode);
  const xs = bilinearAxis(W, RW, mode);
  const out = outputs.alloc('float32', [N, H, W, C]);
  const g = grads!.data as Float32Array;
  const dst = out.data as Float32Array;
  let i = 0;
  for (let b = 0; b < N; b++) {
    for (let y = 0; y < RH; y++) {
      const top = (b * H + ys.lower[y]!) * W;
      const bottom = (b * H + ys.upper[y]!) * W;
      const ly = ys.lerp[y]!;
      for (let x = 0; x < RW; x++) {
        const l = xs.lower[x]!;
        const r = xs.upper[x]!;
        const lx = xs.lerp[x]!;
        for (let c = 0; c < C; c++, i++) {
          const v = g[i]!;
          dst[(top + l) * C + c] += v * (1 - ly) * (1 - lx);
          dst[(top + r) * C + c] += v * (1 - ly) * lx;
          dst[(bottom + l) * C + c] += v * ly * (1 - lx);
          dst[(bottom + r) * C + c] += v * ly * lx;
        }
      }
    }
  }
  return [out];
});

/** Copies rows of C elements: output pixel (b, y, x) from input pixel (b, ys[y], xs[x]). */
function gatherPixels(src: NDArray, dst: NDArray, [N, H, W, C]: readonly number[], ys: Int32Array, xs: Int32Array): void {
  const s = src.data as Float32Array;
  const d = dst.data as Float32Array;
  let o = 0;
  for (let b = 0; b < N; b++) {
    for (let y = 0; y < ys.length; y++) {
      const row = (b * H! + ys[y]!) * W!;
      for (let x = 0; x < xs.length; x++) {
        const p = (row + xs[x]!) * C!;
        for (let c = 0; c < C!; c++) d[o++] = s[p + c]!;
      }
    }
  }
}

registerCpuKernel('ResizeNearestNeighbor', ([images, size], node, _state, outputs) => {
  const mode = resizeMode(node);
  const { shape, out: [OH, OW] } = checkResize(images!, size!);
  const out = outputs.alloc(images!.dtype, [shape[0], OH, OW, shape[3]]);
  gatherPixels(images!, out, shape, nearestAxis(shape[1], OH, mode), nearestAxis(shape[2], OW, mode));
  return [out];
});

registerCpuKernel('ResizeNearestNeighborGrad', ([grads, size], node, _state, outputs) => {
  const mode = resizeMode(node);
  const [N, RH, RW, C] = dims4(grads!, 'input');
  const [H, W] = size2(size!, 'size');
  if (!(H > 0 && W > 0)) throw new InvalidArgumentError(`new size must be positive, got [${H}, ${W}]`);
  const ys = nearestAxis(H, RH, mode);
  const xs = nearestAxis(W, RW, mode);
  const out = outputs.alloc(grads!.dtype, [N, H, W, C]);
  const g = grads!.data as Float32Array;
  const d = out.data as Float32Array;
  let i = 0;
  for (let b = 0; b < N; b++) {
    for (let y = 0; y < RH; y++) {
      const row = (b * H + ys[y]!) * W;
      for (let x = 0; x < RW; x++) {
        const p = (row + xs[x]!) * C;
        for (let c = 0; c < C; c++) d[p + c] += g[i++]!;
      }
    }
  }
  return [out];
});

// ---- crop and resize (TF's crop_and_resize_op.cc) ----

interface Boxes {
  n: number;
  box: Float32Array;
  index: Int32Array;
}

function boxesOf(boxes: NDArray, boxInd: NDArray, batch: number): Boxes {
  if (boxes.rank !== 2 || boxes.shape[1] !== 4) throw new InvalidArgumentError(`boxes must be 2-D [num_boxes, 4], got shape ${formatShape(boxes.shape)}`);
  const n = boxes.shape[0]!;
  if (boxInd.rank !== 1 || boxInd.shape[0] !== n) {
    throw new InvalidArgumentError(`box_index has incompatible shape: ${formatShape(boxInd.shape)} for ${n} boxes`);
  }
  const index = boxInd.data as Int32Array;
  for (let i = 0; i < n; i++) {
    if (index[i]! < 0 || index[i]! >= batch) throw new InvalidArgumentError(`box_index has values outside [0, batch_size): box_index[${i}] = ${index[i]}, batch_size ${batch}`);
  }
  return { n, box: boxes.data as Float32Array, index };
}

/**
 * Where crop pixel k of `size` along one axis samples the image (of `len` pixels) for a box edge
 * pair (a, b) in normalized coordinates: undefined outside the image.
 */
function cropCoord(a: number, b: number, k: number, size: number, len: number): number | undefined {
  const v = size > 1 ? f(f(a * (len - 1)) + f(k * f(f(f(b - a) * (len - 1)) / (size - 1)))) : f(0.5 * f(a + b) * (len - 1));
  return v < 0 || v > len - 1 ? undefined : v;
}

registerCpuKernel('CropAndResize', ([image, boxes, boxInd, cropSize], node, _state, outputs) => {
  const [N, H, W, C] = dims4(image!, 'input image');
  const [CH, CW] = size2(cropSize!, 'crop_size');
  if (!(CH > 0 && CW > 0)) throw new InvalidArgumentError(`crop dimensions must be positive, got [${CH}, ${CW}]`);
  const bx = boxesOf(boxes!, boxInd!, N);
  const nearest = node.attrs.method === 'nearest';
  const extrapolation = (node.attrs.extrapolation_value as number | undefined) ?? 0;
  const out = outputs.alloc('float32', [bx.n, CH, CW, C]);
  const src = values(image!);
  const dst = out.data as Float32Array;
  for (let i = 0; i < bx.n; i++) {
    const [y1, x1, y2, x2] = bx.box.subarray(i * 4, i * 4 + 4);
    const base = bx.index[i]! * H;
    for (let y = 0; y < CH; y++) {
      const inY = cropCoord(y1!, y2!, y, CH, H);
      for (let x = 0; x < CW; x++) {
        const o = ((i * CH + y) * CW + x) * C;
        const inX = inY === undefined ? undefined : cropCoord(x1!, x2!, x, CW, W);
        if (inY === undefined || inX === undefined) {
          dst.fill(extrapolation, o, o + C);
          continue;
        }
        if (nearest) {
          const p = ((base + roundHalfAway(inY)) * W + roundHalfAway(inX)) * C;
          for (let c = 0; c < C; c++) dst[o + c] = src[p + c]!;
          continue;
        }
        const [t, bo, ly] = [Math.floor(inY), Math.ceil(inY), inY - Math.floor(inY)];
        const [l, r, lx] = [Math.floor(inX), Math.ceil(inX), inX - Math.floor(inX)];
        for (let c = 0; c < C; c++) {
          const tl = src[((base + t) * W + l) * C + c]!;
          const tr = src[((base + t) * W + r) * C + c]!;
          const bl = src[((base + bo) * W + l) * C + c]!;
          const br = src[((base + bo) * W + r) * C + c]!;
          const top = f(tl + f((tr - tl) * lx));
          const bottom = f(bl + f((br - bl) * lx));
          dst[o + c] = top + (bottom - top) * ly;
        }
      }
    }
  }
  return [out];
});

registerCpuKernel('CropAndResizeGradImage', ([grads, boxes, boxInd, imageSize], node, _state, outputs) => {
  const [NB, CH, CW, C] = dims4(grads!, 'grads');
  if (imageSize!.rank !== 1 || imageSize!.size !== 4) throw new InvalidArgumentError(`image_size must be a 1-D tensor of 4 elements, got shape ${formatShape(imageSize!.shape)}`);
  const [N, H, W, IC] = toNumbers(imageSize!) as [number, number, number, number];
  if (!(H > 0 && W > 0)) throw new InvalidArgumentError(`image dimensions must be positive, got [${H}, ${W}]`);
  if (IC !== C) throw new InvalidArgumentError(`image_size and grads are incompatible: depth ${IC} vs. ${C}`);
  const bx = boxesOf(boxes!, boxInd!, N);
  if (bx.n !== NB) throw new InvalidArgumentError(`boxes and grads have incompatible shapes: ${bx.n} boxes vs. ${NB}`);
  const nearest = node.attrs.method === 'nearest';
  const out = outputs.alloc('float32', [N, H, W, C]);
  const g = grads!.data as Float32Array;
  const d = out.data as Float32Array;
  for (let i = 0; i < bx.n; i++) {
    const [y1, x1, y2, x2] = bx.box.subarray(i * 4, i * 4 + 4);
    const base = bx.index[i]! * H;
    for (let y = 0; y < CH; y++) {
      const inY = cropCoord(y1!, y2!, y, CH, H);
      if (inY === undefined) continue;
      for (let x = 0; x < CW; x++) {
        const inX = cropCoord(x1!, x2!, x, CW, W);
        if (inX === undefined) continue;
        const o = ((i * CH + y) * CW + x) * C;
        if (nearest) {
          const p = ((base + roundHalfAway(inY)) * W + roundHalfAway(inX)) * C;
          for (let c = 0; c < C; c++) d[p + c] += g[o + c]!;
          continue;
        }
        const [t, bo, ly] = [Math.floor(inY), Math.ceil(inY), inY - Math.floor(inY)];
        const [l, r, lx] = [Math.floor(inX), Math.ceil(inX), inX - Math.floor(inX)];
        for (let c = 0; c < C; c++) {
          const top = (1 - ly) * g[o + c]!;
          const bottom = ly * g[o + c]!;
          d[((base + t) * W + l) * C + c] += top * (1 - lx);
          d[((base + t) * W + r) * C + c] += top * lx;
          d[((base + bo) * W + l) * C + c] += bottom * (1 - lx);
          d[((base + bo) * W + r) * C + c] += bottom * lx;
        }
      }
    }
  }
  return [out];
});

registerCpuKernel('CropAndResizeGradBoxes', ([grads, image, boxes, boxInd], _node, _state, outputs) => {
  const [NB, CH, CW, C] = dims4(grads!, 'grads');
  const [N, H, W, IC] = dims4(image!, 'input image');
  if (IC !== C) throw new InvalidArgumentError(`image and grads are incompatible: depth ${IC} vs. ${C}`);
  const bx = boxesOf(boxes!, boxInd!, N);
  if (bx.n !== NB) throw new InvalidArgumentError(`boxes and grads have incompatible shapes: ${bx.n} boxes vs. ${NB}`);
  const out = outputs.alloc('float32', [bx.n, 4]);
  const src = values(image!);
  const g = grads!.data as Float32Array;
  const d = out.data as Float32Array;
  const hRatio = CH > 1 ? (H - 1) / (CH - 1) : 0;
  const wRatio = CW > 1 ? (W - 1) / (CW - 1) : 0;
  for (let i = 0; i < bx.n; i++) {
    const [y1, x1, y2, x2] = bx.box.subarray(i * 4, i * 4 + 4);
    const base = bx.index[i]! * H;
    let [d0, d1, d2, d3] = [0, 0, 0, 0];
    for (let y = 0; y < CH; y++) {
      const inY = cropCoord(y1!, y2!, y, CH, H);
      if (inY === undefined) continue;
      const [t, bo, ly] = [Math.floor(inY), Math.ceil(inY), inY - Math.floor(inY)];
      for (let x = 0; x < CW; x++) {
        const inX = cropCoord(x1!, x2!, x, CW, W);
        if (inX === undefined) continue;
        const [l, r, lx] = [Math.floor(inX), Math.ceil(inX), inX - Math.floor(inX)];
        const o = ((i * CH + y) * CW + x) * C;
        for (let c = 0; c < C; c++) {
          const tl = src[((base + t) * W + l) * C + c]!;
          const tr = src[((base + t) * W + r) * C + c]!;
          const bl = src[((base + bo) * W + l) * C + c]!;
          const br = src[((base + bo) * W + r) * C + c]!;
          const gy = (bl + (br - bl) * lx - (tl + (tr - tl) * lx)) * g[o + c]!;
          const gx = (tr + (br - tr) * ly - (tl + (bl - tl) * ly)) * g[o + c]!;
          if (CH > 1) {
            d0 += gy * (H - 1 - y * hRatio);
            d2 += gy * (y * hRatio);
          } else {
            d0 += gy * 0.5 * (H - 1);
            d2 += gy * 0.5 * (H - 1);
          }
          if (CW > 1) {
            d1 += gx * (W - 1 - x * wRatio);
            d3 += gx * (x * wRatio);
          } else {
            d1 += gx * 0.5 * (W - 1);
            d3 += gx * 0.5 * (W - 1);
          }
        }
      }
    }
    d.set([d0, d1, d2, d3], i * 4);
  }
  return [out];
});

// ---- projective transforms (TF's image_ops.h ProjectiveGenerator) ----

/** Maps a coordinate outside [0, len - 1] back inside as fill_mode says (CONSTANT leaves it). */
export function mapCoordinate(v: number, len: number, mode: string): number {
  let c = v;
  if (mode === 'REFLECT') {
    if (c < 0) {
      if (len <= 1) c = 0;
      else {
        const sz2 = 2 * len;
        // TF's test is `c < sz2`, true for every negative c: kept as TF computes it.
        if (c < sz2) c = sz2 * Math.trunc(-c / sz2) + c;
        c = c < -len ? c + sz2 : -c - 1;
      }
    } else if (c > len - 1) {
      if (len <= 1) c = 0;
      else {
        const sz2 = 2 * len;
        c -= sz2 * Math.trunc(c / sz2);
        if (c >= len) c = sz2 - c - 1;
      }
    }
  } else if (mode === 'WRAP') {
    if (c < 0) {
      if (len <= 1) c = 0;
      else c += len * (Math.trunc(-c / (len - 1)) + 1);
    } else if (c > len - 1) {
      if (len <= 1) c = 0;
      else c -= len * Math.trunc(c / (len - 1));
    }
  } else if (mode !== 'NEAREST') {
    return v;
  }
  return Math.min(Math.max(c, 0), len - 1);
}

function transformKernel(images: NDArray, transforms: NDArray, outputShape: NDArray, fillValue: number, node: KernelNode, outputs: Outputs): NDArray[] {
  const [N, H, W, C] = dims4(images, 'Input images');
  if (transforms.rank !== 2 || transforms.shape[1] !== 8 || (transforms.shape[0] !== 1 && transforms.shape[0] !== N)) {
    throw new InvalidArgumentError(`Input transform should be num_images x 8 or 1 x 8, got shape ${formatShape(transforms.shape)}`);
  }
  const [OH, OW] = size2(outputShape, 'output_shape');
  if (!(OH > 0 && OW > 0)) throw new InvalidArgumentError(`output_shape must be positive, got [${OH}, ${OW}]`);
  const nearest = node.attrs.interpolation === 'NEAREST';
  const fill = (node.attrs.fill_mode as string | undefined) ?? 'CONSTANT';
  const out = outputs.alloc(images.dtype, [N, OH, OW, C]);
  const src = values(images);
  const dst = out.data as Float32Array | Int32Array;
  // TF computes in float and casts (truncating) to the image dtype.
  const asOut = images.dtype === 'int64' ? (v: number) => BigInt(Math.trunc(f(v))) : images.dtype === 'int32' ? (v: number) => Math.trunc(f(v)) : (v: number) => v;
  const put = (o: number, v: number): void => {
    (dst as unknown as { [i: number]: number | bigint })[o] = asOut(v);
  };
  const tr = transforms.data as Float32Array;
  const read = (base: number, y: number, x: number, c: number): number =>
    y >= 0 && y < H && x >= 0 && x < W ? src[((base + y) * W + x) * C + c]! : fillValue;
  let o = 0;
  for (let b = 0; b < N; b++) {
    const t = tr.subarray(transforms.shape[0] === 1 ? 0 : b * 8, (transforms.shape[0] === 1 ? 0 : b * 8) + 8);
    const base = b * H;
    for (let y = 0; y < OH; y++) {
      for (let x = 0; x < OW; x++) {
        const proj = f(f(f(t[6]! * x) + f(t[7]! * y)) + 1);
        if (proj === 0) {
          for (let c = 0; c < C; c++) put(o++, fillValue);
          continue;
        }
        const inX = mapCoordinate(f(f(f(f(t[0]! * x) + f(t[1]! * y)) + t[2]!) / proj), W, fill);
        const inY = mapCoordinate(f(f(f(f(t[3]! * x) + f(t[4]! * y)) + t[5]!) / proj), H, fill);
        for (let c = 0; c < C; c++) {
          if (nearest) {
            put(o++, read(base, roundHalfAway(inY), roundHalfAway(inX), c));
            continue;
          }
          const y0 = Math.floor(inY);
          const x0 = Math.floor(inX);
          const top = (x0 + 1 - inX) * read(base, y0, x0, c) + (inX - x0) * read(base, y0, x0 + 1, c);
          const bottom = (x0 + 1 - inX) * read(base, y0 + 1, x0, c) + (inX - x0) * read(base, y0 + 1, x0 + 1, c);
          put(o++, (y0 + 1 - inY) * top + (inY - y0) * bottom);
        }
      }
    }
  }
  return [out];
}

registerCpuKernel('ImageProjectiveTransformV2', ([images, transforms, outputShape], node, _state, outputs) =>
  transformKernel(images!, transforms!, outputShape!, 0, node, outputs),
);
registerCpuKernel('ImageProjectiveTransformV3', ([images, transforms, outputShape, fillValue], node, _state, outputs) =>
  transformKernel(images!, transforms!, outputShape!, scalarNumber(fillValue!, 'fill_value'), node, outputs),
);

// ---- non-max suppression (TF's non_max_suppression_op.cc) ----

/** TF's IOU: 0 when either box is empty. Corners may come in either order. */
function iou(b: Float32Array, i: number, j: number): number {
  const [ay0, ax0, ay1, ax1] = [b[i * 4]!, b[i * 4 + 1]!, b[i * 4 + 2]!, b[i * 4 + 3]!];
  const [by0, bx0, by1, bx1] = [b[j * 4]!, b[j * 4 + 1]!, b[j * 4 + 2]!, b[j * 4 + 3]!];
  const [aymin, axmin, aymax, axmax] = [Math.min(ay0, ay1), Math.min(ax0, ax1), Math.max(ay0, ay1), Math.max(ax0, ax1)];
  const [bymin, bxmin, bymax, bxmax] = [Math.min(by0, by1), Math.min(bx0, bx1), Math.max(by0, by1), Math.max(bx0, bx1)];
  const areaA = (aymax - aymin) * (axmax - axmin);
  const areaB = (bymax - bymin) * (bxmax - bxmin);
  if (areaA <= 0 || areaB <= 0) return 0;
  const ih = Math.max(Math.min(aymax, bymax) - Math.max(aymin, bymin), 0);
  const iw = Math.max(Math.min(axmax, bxmax) - Math.max(axmin, bxmin), 0);
  const inter = ih * iw;
  return inter / (areaA + areaB - inter);
}

interface Candidate {
  index: number;
  score: number;
  /** Selected boxes before this one were already compared with it. */
  suppressBegin: number;
}

/** Higher score first; equal scores: lower index first (TF's comparator). */
const before = (a: Candidate, b: Candidate): boolean => a.score > b.score || (a.score === b.score && a.index < b.index);

/** A binary max-heap of candidates by `before`. */
class CandidateQueue {
  private readonly items: Candidate[] = [];
  get size(): number {
    return this.items.length;
  }
  push(c: Candidate): void {
    const a = this.items;
    a.push(c);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Candidate {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

interface NmsArgs {
  iouThreshold: number;
  scoreThreshold: number;
  softNmsSigma: number;
}

/** The selected box indices and their (soft-suppressed) scores, in selection order. */
function nonMaxSuppression(boxes: NDArray, scores: NDArray, maxOut: NDArray, args: NmsArgs): { indices: number[]; scores: number[]; maxOutput: number } {
  if (boxes.rank !== 2 || boxes.shape[1] !== 4) throw new InvalidArgumentError(`boxes must be 2-D [num_boxes, 4], got shape ${formatShape(boxes.shape)}`);
  const n = boxes.shape[0]!;
  if (scores.rank !== 1 || scores.shape[0] !== n) throw new InvalidArgumentError(`scores has incompatible shape: ${formatShape(scores.shape)} for ${n} boxes`);
  const maxOutput = scalarNumber(maxOut, 'max_output_size');
  if (maxOutput < 0) throw new InvalidArgumentError(`max_output_size must be non-negative, got ${maxOutput}`);
  const { iouThreshold, scoreThreshold, softNmsSigma } = args;
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) throw new InvalidArgumentError(`iou_threshold must be in [0, 1], got ${iouThreshold}`);
  if (!(softNmsSigma >= 0)) throw new InvalidArgumentError(`soft_nms_sigma must be non-negative, got ${softNmsSigma}`);
  const soft = softNmsSigma > 0;
  const scale = soft ? -0.5 / softNmsSigma : 0;
  const b = boxes.data as Float32Array;
  const s = scores.data as Float32Array;
  const queue = new CandidateQueue();
  for (let i = 0; i < n; i++) if (s[i]! > scoreThreshold) queue.push({ index: i, score: s[i]!, suppressBegin: 0 });
  const selected: number[] = [];
  const selectedScores: number[] = [];
  while (selected.length < maxOutput && queue.size > 0) {
    const next = queue.pop();
    const original = next.score;
    let hard = false;
    // Newest selections first: overlapping boxes tend to have similar scores.
    for (let j = selected.length - 1; j >= next.suppressBegin; j--) {
      const sim = iou(b, next.index, selected[j]!);
      next.score = f(next.score * (soft || sim <= iouThreshold ? Math.exp(scale * sim * sim) : 0));
      if (!soft && sim > iouThreshold) {
        hard = true;
        break;
      }
      if (next.score <= scoreThreshold) break;
    }
    next.suppressBegin = selected.length;
    if (hard) continue;
    if (next.score === original) {
      selected.push(next.index);
      selectedScores.push(next.score);
    } else if (next.score > scoreThreshold) {
      queue.push(next);
    }
  }
  return { indices: selected, scores: selectedScores, maxOutput };
}

/** Threshold input k of an NMS op; `dflt` when the version has none. */
function threshold(inputs: NDArray[], k: number, what: string, dflt: number): number {
  const t = inputs[k];
  return t === undefined ? dflt : scalarNumber(t, what);
}

function nmsKernel(version: 2 | 3 | 4 | 5) {
  return (inputs: NDArray[], node: KernelNode, _state: unknown, outputs: Outputs): NDArray[] => {
    const [boxes, scores, maxOut] = inputs as [NDArray, NDArray, NDArray];
    const sel = nonMaxSuppression(boxes, scores, maxOut, {
      iouThreshold: threshold(inputs, 3, 'iou_threshold', 0),
      scoreThreshold: version === 2 ? -Infinity : threshold(inputs, 4, 'score_threshold', -Infinity),
      softNmsSigma: version === 5 ? threshold(inputs, 5, 'soft_nms_sigma', 0) : 0,
    });
    const valid = sel.indices.length;
    const len = node.attrs.pad_to_max_output_size === true ? Math.max(sel.maxOutput, valid) : valid;
    const idx = outputs.alloc('int32', [len]);
    (idx.data as Int32Array).set(sel.indices);
    if (version < 4) return [idx];
    const count = outputs.alloc('int32', []);
    (count.data as Int32Array)[0] = valid;
    if (version === 4) return [idx, count];
    const sc = outputs.alloc('float32', [len]);
    (sc.data as Float32Array).set(sel.scores);
    return [idx, sc, count];
  };
}

registerCpuKernel('NonMaxSuppressionV2', nmsKernel(2));
registerCpuKernel('NonMaxSuppressionV3', nmsKernel(3));
registerCpuKernel('NonMaxSuppressionV4', nmsKernel(4));
registerCpuKernel('NonMaxSuppressionV5', nmsKernel(5));
