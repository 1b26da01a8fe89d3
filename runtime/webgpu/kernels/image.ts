// WebGPU kernels: image family. Resizing reads per-axis tables the host computes once per shape
// (TF's coordinate rules: which input rows and columns each output one reads, with what weight), so
// every output element gathers; the gradients gather too, through the inverse tables (for each
// input row, the output rows that read it and their weights), with no atomics. Crop-and-resize
// and the projective transforms compute their sampling points on the GPU. Non-max suppression
// (sequential, data-dependent output length) and the crop-and-resize gradients (scatters over
// boxes) run on the host: no kernel here. Registered on import by kernels/index.ts.
import type { DType } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import { vector } from '../../array_args.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, f32, lit, perElement, u } from '../wgsl.js';

const f = Math.fround;

/** WGSL expression reading element `idx` of a numeric input as f32. */
function asF32(dtype: DType, arr: string, idx: string): string {
  if (dtype === 'float32') return `${arr}[${idx}]`;
  if (dtype === 'int64') return `f32(${arr}[${idx}].x)`;
  return `f32(${arr}[${idx}])`;
}

function dims4(t: GpuTensor, what: string): [number, number, number, number] {
  if (t.shape.length !== 4) throw new InvalidArgumentError(`${what} must be 4-dimensional, got shape ${formatShape(t.shape)}`);
  return t.shape as [number, number, number, number];
}

function size2(ctx: KernelCtx, i: number, what: string): [number, number] {
  const v = vector(ctx.host(i), what);
  if (v.length !== 2) throw new InvalidArgumentError(`${what} must be a 1-D tensor of 2 elements, got ${v.length}`);
  return [v[0]!, v[1]!];
}

// ---- TF's resize coordinate rules (image_resizer_state.h), as the CPU kernels apply them ----

interface Mode {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

function modeOf(ctx: KernelCtx): Mode {
  const m = { alignCorners: ctx.node.attrs.align_corners === true, halfPixelCenters: ctx.node.attrs.half_pixel_centers === true };
  if (m.alignCorners && m.halfPixelCenters) throw new InvalidArgumentError('If half_pixel_centers is True, align_corners must be False.');
  return m;
}

function scaleOf(inSize: number, outSize: number, alignCorners: boolean): number {
  return alignCorners && outSize > 1 ? f((inSize - 1) / (outSize - 1)) : f(inSize / outSize);
}

/** Per output index: lower and upper input index and the upper one's weight (bilinear). */
function bilinearTaps(inSize: number, outSize: number, m: Mode): { lower: number[]; upper: number[]; lerp: number[] } {
  const scale = scaleOf(inSize, outSize, m.alignCorners);
  const t = { lower: [] as number[], upper: [] as number[], lerp: [] as number[] };
  for (let i = 0; i < outSize; i++) {
    const x = m.halfPixelCenters ? f(f((i + 0.5) * scale) - 0.5) : f(i * scale);
    t.lower.push(Math.max(Math.floor(x), 0));
    t.upper.push(Math.min(Math.ceil(x), inSize - 1));
    t.lerp.push(x - Math.floor(x));
  }
  return t;
}

/** Per output index: the input index nearest-neighbor resizing reads. */
function nearestTaps(inSize: number, outSize: number, m: Mode): number[] {
  const scale = scaleOf(inSize, outSize, m.alignCorners);
  return Array.from({ length: outSize }, (_, i) => {
    const x = m.halfPixelCenters ? f((i + 0.5) * scale) : f(i * scale);
    const k = Math.min(m.alignCorners ? (x < 0 ? -Math.round(-x) : Math.round(x)) : Math.floor(x), inSize - 1);
    return m.halfPixelCenters ? Math.max(0, k) : k;
  });
}

/**
 * The transpose of a resampling along one axis, as lists: for input index k, the output indices
 * that read it and their weights. `taps` gives each output index's (input index, weight) reads.
 */
function inverseTaps(inSize: number, taps: readonly (readonly [number, number])[][]): { offsets: number[]; index: number[]; weight: number[] } {
  const lists: [number, number][][] = Array.from({ length: inSize }, () => []);
  taps.forEach((reads, out) => reads.forEach(([k, w]) => lists[k]!.push([out, w])));
  const inv = { offsets: [0], index: [] as number[], weight: [] as number[] };
  for (const l of lists) {
    for (const [o, w] of l) {
      inv.index.push(o);
      inv.weight.push(w);
    }
    inv.offsets.push(inv.index.length);
  }
  return inv;
}

/** A lookup table the kernel reads (at least one element: an empty binding is invalid). */
function intTable(ctx: KernelCtx, values: readonly number[]): GpuTensor {
  return ctx.fromHost(new NDArray(Int32Array.from(values.length ? values : [0]), [Math.max(values.length, 1)]));
}

function floatTable(ctx: KernelCtx, values: readonly number[]): GpuTensor {
  return ctx.fromHost(new NDArray(Float32Array.from(values.length ? values : [0]), [Math.max(values.length, 1)]));
}

function checkResize(ctx: KernelCtx, x: GpuTensor): { shape: [number, number, number, number]; out: [number, number] } {
  const shape = dims4(x, 'input');
  const out = size2(ctx, 1, 'size');
  if (!(out[0] > 0 && out[1] > 0)) throw new InvalidArgumentError(`output dimensions must be positive, got [${out.join(', ')}]`);
  if (shape[0] > 0 && !(shape[1] > 0 && shape[2] > 0)) throw new InvalidArgumentError(`input image must be of non-zero size, got shape ${formatShape(shape)}`);
  return { shape, out };
}

/** WGSL statements splitting output index i of [N, OH, OW, C] into b, y, x, c. */
function pixelCoords(OH: number, OW: number, C: number): string {
  return `let c = i % ${u(C)};
  let x = (i / ${u(C)}) % ${u(OW)};
  let y = (i / ${u(C * OW)}) % ${u(OH)};
  let b = i / ${u(C * OW * OH)};`;
}

registerGpuKernel(
  'ResizeBilinear',
  (ctx, [images]) => {
    const m = modeOf(ctx);
    const { shape: [N, H, W, C], out: [OH, OW] } = checkResize(ctx, images!);
    const out = ctx.output(0, 'float32', [N, OH, OW, C]);
    if (out.size === 0) return [out];
    const ys = bilinearTaps(H, OH, m);
    const xs = bilinearTaps(W, OW, m);
    const idx = intTable(ctx, [...ys.lower, ...ys.upper, ...xs.lower, ...xs.upper]);
    const lerp = floatTable(ctx, [...ys.lerp, ...xs.lerp]);
    const d = images!.dtype;
    const at = (row: string, col: string) => asF32(d, 'in0', `((b * ${u(H)} + u32(${row})) * ${u(W)} + u32(${col})) * ${u(C)} + c`);
    const body = `${pixelCoords(OH, OW, C)}
  let yl = in1[y]; let yu = in1[${u(OH)} + y];
  let xl = in1[${u(2 * OH)} + x]; let xu = in1[${u(2 * OH + OW)} + x];
  let ly = in2[y]; let lx = in2[${u(OH)} + x];
  let tl = ${at('yl', 'xl')}; let tr = ${at('yl', 'xu')};
  let bl = ${at('yu', 'xl')}; let br = ${at('yu', 'xu')};
  let top = tl + (tr - tl) * lx;
  let bottom = bl + (br - bl) * lx;
  out0[i] = top + (bottom - top) * ly;`;
    ctx.dispatch(perElement(out.size, bindings([d, 'int32', 'float32'], ['float32']), body, `ResizeBilinear ${ctx.node.name}`), [images!, idx, lerp], [out]);
    return [out];
  },
  { hostInputs: [1] },
);

registerGpuKernel(
  'ResizeNearestNeighbor',
  (ctx, [images]) => {
    const m = modeOf(ctx);
    const { shape: [N, H, W, C], out: [OH, OW] } = checkResize(ctx, images!);
    const d = images!.dtype;
    const out = ctx.output(0, d, [N, OH, OW, C]);
    if (out.size === 0) return [out];
    const idx = intTable(ctx, [...nearestTaps(H, OH, m), ...nearestTaps(W, OW, m)]);
    const body = `${pixelCoords(OH, OW, C)}
  out0[i] = in0[((b * ${u(H)} + u32(in1[y])) * ${u(W)} + u32(in1[${u(OH)} + x])) * ${u(C)} + c];`;
    ctx.dispatch(perElement(out.size, bindings([d, 'int32'], [d]), body, `ResizeNearestNeighbor ${ctx.node.name}`), [images!, idx], [out]);
    return [out];
  },
  { hostInputs: [1] },
);

/**
 * out [N, H, W, C] = the transpose of a separable resampling applied to grads [N, RH, RW, C]: each
 * input pixel sums the gradients of the output pixels that read it, weighted as they read it.
 */
function gatherGrad(ctx: KernelCtx, grads: GpuTensor, H: number, W: number, yTaps: [number, number][][], xTaps: [number, number][][]): GpuTensor {
  const [N, RH, RW, C] = grads.shape as [number, number, number, number];
  const out = ctx.output(0, grads.dtype, [N, H, W, C]);
  if (out.size === 0) return out;
  const iy = inverseTaps(H, yTaps);
  const ix = inverseTaps(W, xTaps);
  const xBase = iy.offsets.length + iy.index.length;
  const idx = intTable(ctx, [...iy.offsets, ...iy.index, ...ix.offsets, ...ix.index]);
  const wts = floatTable(ctx, [...iy.weight, ...ix.weight]);
  const T = grads.dtype === 'int32' ? 'i32' : 'f32';
  const weigh = grads.dtype === 'int32' ? (v: string) => v : (v: string) => `${v} * wy * in2[${u(iy.weight.length)} + u32(kx)]`;
  const body = `${pixelCoords(H, W, C)}
  var acc = ${T}();
  for (var ky = in1[y]; ky < in1[y + 1u]; ky++) {
    let ry = u32(in1[${u(iy.offsets.length)} + u32(ky)]);
    let wy = in2[u32(ky)];
    for (var kx = in1[${u(xBase)} + x]; kx < in1[${u(xBase)} + x + 1u]; kx++) {
      let rx = u32(in1[${u(xBase + ix.offsets.length)} + u32(kx)]);
      acc += ${weigh(`in0[((b * ${u(RH)} + ry) * ${u(RW)} + rx) * ${u(C)} + c]`)};
    }
  }
  out0[i] = acc;`;
  ctx.dispatch(perElement(out.size, bindings([grads.dtype, 'int32', 'float32'], [grads.dtype]), body, `${ctx.node.type} ${ctx.node.name}`), [grads, idx, wts], [out]);
  return out;
}

registerGpuKernel('ResizeBilinearGrad', (ctx, [grads, image]) => {
  const m = modeOf(ctx);
  const [N, RH, RW, C] = dims4(grads!, 'input_grad');
  const [, H, W] = dims4(image!, 'original_image');
  if (image!.shape[0] !== N || image!.shape[3] !== C) {
    throw new InvalidArgumentError(`input_grad and original_image must have the same batch size and depth: ${formatShape(grads!.shape)} vs. ${formatShape(image!.shape)}`);
  }
  const taps = (t: ReturnType<typeof bilinearTaps>): [number, number][][] => t.lower.map((l, k) => [[l, 1 - t.lerp[k]!], [t.upper[k]!, t.lerp[k]!]]);
  return [gatherGrad(ctx, grads!, H, W, taps(bilinearTaps(H, RH, m)), taps(bilinearTaps(W, RW, m)))];
});

registerGpuKernel(
  'ResizeNearestNeighborGrad',
  (ctx, [grads]) => {
    const m = modeOf(ctx);
    const [, RH, RW] = dims4(grads!, 'input');
    const [H, W] = size2(ctx, 1, 'size');
    if (!(H > 0 && W > 0)) throw new InvalidArgumentError(`new size must be positive, got [${H}, ${W}]`);
    const taps = (t: number[]): [number, number][][] => t.map((k) => [[k, 1]]);
    return [gatherGrad(ctx, grads!, H, W, taps(nearestTaps(H, RH, m)), taps(nearestTaps(W, RW, m)))];
  },
  { hostInputs: [1] },
);

registerGpuKernel(
  'CropAndResize',
  (ctx, [image, boxes, boxInd]) => {
    const [N, H, W, C] = dims4(image!, 'input image');
    const [CH, CW] = size2(ctx, 3, 'crop_size');
    if (!(CH > 0 && CW > 0)) throw new InvalidArgumentError(`crop dimensions must be positive, got [${CH}, ${CW}]`);
    if (boxes!.shape.length !== 2 || boxes!.shape[1] !== 4) throw new InvalidArgumentError(`boxes must be 2-D [num_boxes, 4], got shape ${formatShape(boxes!.shape)}`);
    const nb = boxes!.shape[0]!;
    if (boxInd!.shape.length !== 1 || boxInd!.shape[0] !== nb) throw new InvalidArgumentError(`box_index has incompatible shape: ${formatShape(boxInd!.shape)} for ${nb} boxes`);
    const out = ctx.output(0, 'float32', [nb, CH, CW, C]);
    if (out.size === 0) return [out];
    const flag = ctx.check(`box_index has values outside [0, batch_size) (batch_size ${N})`);
    const nearest = ctx.node.attrs.method === 'nearest';
    const extrapolation = f32((ctx.node.attrs.extrapolation_value as number | undefined) ?? 0);
    const d = image!.dtype;
    // TF's float arithmetic: a sampling point per crop pixel, outside the image -> extrapolation_value.
    const coord = (v: string, a: string, b: string, size: number, len: number): string =>
      size > 1 ? `${a} * ${f32(len - 1)} + f32(${v}) * ((${b} - ${a}) * ${f32(len - 1)} / ${f32(size - 1)})` : `0.5 * (${a} + ${b}) * ${f32(len - 1)}`;
    const at = (row: string, col: string) => asF32(d, 'in0', `((u32(bi) * ${u(H)} + u32(${row})) * ${u(W)} + u32(${col})) * ${u(C)} + c`);
    const sample = nearest
      ? `out0[i] = ${at('floor(inY + 0.5)', 'floor(inX + 0.5)')};`
      : `let t = floor(inY); let bo = ceil(inY); let ly = inY - t;
  let l = floor(inX); let r = ceil(inX); let lx = inX - l;
  let tl = ${at('t', 'l')}; let tr = ${at('t', 'r')}; let bl = ${at('bo', 'l')}; let br = ${at('bo', 'r')};
  let top = tl + (tr - tl) * lx;
  let bottom = bl + (br - bl) * lx;
  out0[i] = top + (bottom - top) * ly;`;
    const body = `${pixelCoords(CH, CW, C)}
  let bi = in2[b];
  if (bi < 0 || bi >= ${lit(N, 'int32')}) { out1[0] = 1; out0[i] = ${extrapolation}; return; }
  let y1 = in1[b * 4u]; let x1 = in1[b * 4u + 1u]; let y2 = in1[b * 4u + 2u]; let x2 = in1[b * 4u + 3u];
  let inY = ${coord('y', 'y1', 'y2', CH, H)};
  let inX = ${coord('x', 'x1', 'x2', CW, W)};
  if (inY < 0.0 || inY > ${f32(H - 1)} || inX < 0.0 || inX > ${f32(W - 1)}) { out0[i] = ${extrapolation}; return; }
  ${sample}`;
    ctx.dispatch(perElement(out.size, bindings([d, 'float32', 'int32'], ['float32', 'int32']), body, `CropAndResize ${ctx.node.name}`), [image!, boxes!, boxInd!], [out, flag]);
    return [out];
  },
  { hostInputs: [3] },
);

// ---- projective transforms (TF's ProjectiveGenerator) ----

/** WGSL body of fn mapc(c: f32, len: f32) -> f32: TF's MapCoordinate for a fill mode. */
function mapCoordinateWgsl(mode: string): string {
  switch (mode) {
    case 'REFLECT':
      return `var v = c;
  if (v < 0.0) {
    if (len <= 1.0) { v = 0.0; } else {
      let sz2 = 2.0 * len;
      if (v < sz2) { v = sz2 * trunc(-v / sz2) + v; }
      v = select(-v - 1.0, v + sz2, v < -len);
    }
  } else if (v > len - 1.0) {
    if (len <= 1.0) { v = 0.0; } else {
      let sz2 = 2.0 * len;
      v = v - sz2 * trunc(v / sz2);
      if (v >= len) { v = sz2 - v - 1.0; }
    }
  }
  return clamp(v, 0.0, len - 1.0);`;
    case 'WRAP':
      return `var v = c;
  if (v < 0.0) {
    if (len <= 1.0) { v = 0.0; } else { v = v + len * (trunc(-v / (len - 1.0)) + 1.0); }
  } else if (v > len - 1.0) {
    if (len <= 1.0) { v = 0.0; } else { v = v - len * trunc(v / (len - 1.0)); }
  }
  return clamp(v, 0.0, len - 1.0);`;
    case 'NEAREST':
      return 'return clamp(c, 0.0, len - 1.0);';
    default:
      return 'return c;';
  }
}

function transformKernel(ctx: KernelCtx, [images, transforms, , fillValue]: GpuTensor[]): GpuTensor[] {
  const [N, H, W, C] = dims4(images!, 'Input images');
  const ts = transforms!.shape;
  if (ts.length !== 2 || ts[1] !== 8 || (ts[0] !== 1 && ts[0] !== N)) {
    throw new InvalidArgumentError(`Input transform should be num_images x 8 or 1 x 8, got shape ${formatShape(ts)}`);
  }
  const [OH, OW] = size2(ctx, 2, 'output_shape');
  if (!(OH > 0 && OW > 0)) throw new InvalidArgumentError(`output_shape must be positive, got [${OH}, ${OW}]`);
  const d = images!.dtype;
  const out = ctx.output(0, d, [N, OH, OW, C]);
  if (out.size === 0) return [out];
  const nearest = ctx.node.attrs.interpolation === 'NEAREST';
  const fill = fillValue ? 'in2[0]' : '0.0';
  const write = (v: string): string => (d === 'float32' ? `out0[i] = ${v};` : d === 'int64' ? `{ let q = i32(${v}); out0[i] = vec2<i32>(q, select(0, -1, q < 0)); }` : `out0[i] = i32(${v});`);
  // Round half away from zero, as C's round.
  const round = (v: string) => `(sign(${v}) * floor(abs(${v}) + 0.5))`;
  const sample = nearest
    ? `let v = rd(${round('iy')}, ${round('ix')});`
    : `let y0 = floor(iy); let x0 = floor(ix);
  let top = (x0 + 1.0 - ix) * rd(y0, x0) + (ix - x0) * rd(y0, x0 + 1.0);
  let bottom = (x0 + 1.0 - ix) * rd(y0 + 1.0, x0) + (ix - x0) * rd(y0 + 1.0, x0 + 1.0);
  let v = (y0 + 1.0 - iy) * top + (iy - y0) * bottom;`;
  const inputs = fillValue ? [images!, transforms!, fillValue] : [images!, transforms!];
  const decls = `${bindings(inputs.map((t) => t.dtype), [d])}
fn mapc(c: f32, len: f32) -> f32 {
  ${mapCoordinateWgsl((ctx.node.attrs.fill_mode as string | undefined) ?? 'CONSTANT')}
}
var<private> base: u32;
var<private> fillv: f32;
fn rd(y: f32, x: f32) -> f32 {
  if (y < 0.0 || y >= ${f32(H)} || x < 0.0 || x >= ${f32(W)}) { return fillv; }
  return ${asF32(d, 'in0', `base + (u32(y) * ${u(W)} + u32(x)) * ${u(C)}`)};
}`;
  const body = `${pixelCoords(OH, OW, C)}
  fillv = ${fill};
  base = b * ${u(H * W * C)} + c;
  let r = ${ts[0] === 1 ? '0u' : 'b * 8u'};
  let fx = f32(x); let fy = f32(y);
  let proj = in1[r + 6u] * fx + in1[r + 7u] * fy + 1.0;
  if (proj == 0.0) { ${write('fillv')} return; }
  let ix = mapc((in1[r] * fx + in1[r + 1u] * fy + in1[r + 2u]) / proj, ${f32(W)});
  let iy = mapc((in1[r + 3u] * fx + in1[r + 4u] * fy + in1[r + 5u]) / proj, ${f32(H)});
  ${sample}
  ${write('v')}`;
  ctx.dispatch(perElement(out.size, decls, body, `${ctx.node.type} ${ctx.node.name}`), inputs, [out]);
  return [out];
}

registerGpuKernel('ImageProjectiveTransformV2', transformKernel, { hostInputs: [2] });
registerGpuKernel('ImageProjectiveTransformV3', transformKernel, { hostInputs: [2] });
