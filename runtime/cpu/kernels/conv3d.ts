// CPU kernels: 3-D convolution and pooling, morphological dilation, max pooling with argmax.
// 3-D ops compute in NDHWC (NCDHW tensors are transposed on the way in and out): convolutions as
// GEMMs over im2col patches, pooling as direct loops whose innermost loop runs over contiguous
// channels. Ties in a max go to the first element in window order (depth, then height, then width),
// as TensorFlow's 2-D pooling, argmax and MaxPool3DGradGrad kernels pick (its CPU MaxPool3DGrad alone
// gives every tied element the whole gradient; one subgradient for all ops keeps first and second
// order consistent).
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import { windowedOutputSize } from '../../../ops/semantics/window.js';
import type { KernelNode } from '../../backend.js';
import { fail, geometry, layoutShape3d, ndhwc, nhwc, window3d, windowAttrs, type Format3D, type Geom, type Window3D } from '../../window_geometry.js';
import { sgemm } from '../gemm.js';
import { registerCpuKernel } from '../registry.js';
import { toNumbers, type Outputs } from './util.js';

// ---- 3-D geometry ----


/** Everything a 3-D window op needs, in NDHWC terms (spatial values ordered depth, height, width). */
interface Geom3 {
  N: number;
  C: number;
  D: number;
  H: number;
  W: number;
  KD: number;
  KH: number;
  KW: number;
  OD: number;
  OH: number;
  OW: number;
  sD: number;
  sH: number;
  sW: number;
  dD: number;
  dH: number;
  dW: number;
  pD: number;
  pH: number;
  pW: number;
}

function geometry3d(a: Window3D, [N, D, H, W, C]: number[], [KD, KH, KW]: number[]): Geom3 {
  const dim = (j: number, size: number, k: number) => {
    const r = windowedOutputSize(size, k, a.dilations[j]!, a.strides[j]!, a.padding);
    if (typeof r === 'string') fail(r);
    return r;
  };
  const d = dim(0, D!, KD!);
  const h = dim(1, H!, KH!);
  const w = dim(2, W!, KW!);
  const [sD, sH, sW] = a.strides as [number, number, number];
  const [dD, dH, dW] = a.dilations as [number, number, number];
  return { N: N!, C: C!, D: D!, H: H!, W: W!, KD: KD!, KH: KH!, KW: KW!, OD: d.size, OH: h.size, OW: w.size, sD, sH, sW, dD, dH, dW, pD: d.padBefore, pH: h.padBefore, pW: w.padBefore };
}

function expectShape(actual: readonly number[], expected: readonly number[], what: string): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    fail(`${what} has shape ${formatShape(actual)}, expected ${formatShape(expected)}`);
  }
}

function sizesOf(a: NDArray, rank: number, what: string): number[] {
  const s = toNumbers(a);
  if (s.length !== rank || s.some((v) => v < 0 || !Number.isInteger(v))) fail(`${what} must be ${rank} non-negative sizes, got [${s.join(', ')}]`);
  return s;
}

// ---- layouts ----

function floatData(a: NDArray): Float32Array {
  return a.data as Float32Array;
}

/** [N, C, S] -> [N, S, C] (or back, with `toFirst`). */
function transposeChannels(src: Float32Array, dst: Float32Array, N: number, C: number, S: number, toFirst: boolean): void {
  for (let n = 0; n < N; n++) {
    const base = n * C * S;
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < S; p++) {
        const first = base + c * S + p;
        const last = base + p * C + c;
        if (toFirst) dst[first] = src[last]!;
        else dst[last] = src[first]!;
      }
    }
  }
}

/** The data of a 5-D array in NDHWC order. */
function asNDHWC(a: NDArray, format: Format3D): Float32Array {
  if (format === 'NDHWC') return floatData(a);
  const [N, C] = a.shape as [number, number];
  const dst = new Float32Array(a.size);
  transposeChannels(floatData(a), dst, N, C, a.size / Math.max(N * C, 1), false);
  return dst;
}

/** An output in `format` and the NDHWC buffer a kernel writes (the output itself for NDHWC). */
function outputNDHWC(outputs: Outputs, format: Format3D, N: number, s: readonly number[], C: number): { out: NDArray; data: Float32Array } {
  const out = outputs.alloc('float32', layoutShape3d(format, N, s, C));
  return { out, data: format === 'NDHWC' ? floatData(out) : new Float32Array(out.size) };
}

function finishNDHWC(o: { out: NDArray; data: Float32Array }, format: Format3D): NDArray {
  if (format === 'NDHWC') return o.out;
  const [N, C] = o.out.shape as [number, number];
  transposeChannels(o.data, floatData(o.out), N, C, o.out.size / Math.max(N * C, 1), true);
  return o.out;
}

// ---- Conv3D (filter [KD, KH, KW, C, OC]) ----
// Lowered to GEMM through im2col (col2im for the input gradient), in chunks of output voxels so the
// column buffer stays small: rows are output voxels (n, od, oh, ow), columns the patch (kd, kh, kw, c).

/** Floats per column-buffer chunk. */
const COL_CHUNK = 1 << 18;

function chunkRows(K: number, total: number): number {
  return Math.max(1, Math.min(total, Math.floor(COL_CHUNK / Math.max(K, 1))));
}

/**
 * Visits `rows` output voxels from r0 with, for each, every filter tap: `inside(dst, src)` for a tap
 * whose input voxel lies inside the input (dst: the patch offset of its C values, src: the input
 * element offset), `outside(dst)` for one in the padding.
 */
function forEachPatch(g: Geom3, r0: number, rows: number, inside: (dst: number, src: number) => void, outside: (dst: number) => void): void {
  const { D, H, W, C, KD, KH, KW, OD, OH, OW, sD, sH, sW, dD, dH, dW, pD, pH, pW } = g;
  let ow = r0 % OW;
  let oh = Math.floor(r0 / OW) % OH;
  let od = Math.floor(r0 / (OW * OH)) % OD;
  let n = Math.floor(r0 / (OW * OH * OD));
  let dst = 0;
  for (let r = 0; r < rows; r++) {
    for (let kd = 0; kd < KD; kd++) {
      const id = od * sD - pD + kd * dD;
      for (let kh = 0; kh < KH; kh++) {
        const ih = oh * sH - pH + kh * dH;
        for (let kw = 0; kw < KW; kw++, dst += C) {
          const iw = ow * sW - pW + kw * dW;
          if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W) outside(dst);
          else inside(dst, (((n * D + id) * H + ih) * W + iw) * C);
        }
      }
    }
    if (++ow === OW) {
      ow = 0;
      if (++oh === OH) {
        oh = 0;
        if (++od === OD) {
          od = 0;
          n++;
        }
      }
    }
  }
}

function im2col(g: Geom3, x: Float32Array, r0: number, rows: number, col: Float32Array): void {
  const C = g.C;
  forEachPatch(
    g,
    r0,
    rows,
    (dst, src) => {
      for (let c = 0; c < C; c++) col[dst + c] = x[src + c]!;
    },
    (dst) => col.fill(0, dst, dst + C),
  );
}

/** The adjoint of im2col: adds each patch back onto the input elements it was read from. */
function col2im(g: Geom3, col: Float32Array, r0: number, rows: number, dx: Float32Array): void {
  const C = g.C;
  forEachPatch(
    g,
    r0,
    rows,
    (src, dst) => {
      for (let c = 0; c < C; c++) dx[dst + c]! += col[src + c]!;
    },
    () => {},
  );
}

/** Runs `step(r0, rows, col)` over the output voxels in chunks, with a column buffer of its own. */
function inChunks(g: Geom3, step: (r0: number, rows: number, col: Float32Array) => void): void {
  const K = g.KD * g.KH * g.KW * g.C;
  const total = g.N * g.OD * g.OH * g.OW;
  const chunk = chunkRows(K, total);
  const col = new Float32Array(chunk * K);
  for (let r0 = 0; r0 < total; r0 += chunk) step(r0, Math.min(chunk, total - r0), col);
}

function conv3dGeometry(node: KernelNode, xShape: readonly number[], fShape: readonly number[], what: string): { g: Geom3; OC: number; a: Window3D; K: number } {
  const a = window3d(node, { dilations: true });
  const x = ndhwc(xShape, a.format, what);
  if (fShape.length !== 5) fail(`filter must be 5-dimensional, got shape ${formatShape(fShape)}`);
  if (x[4] !== fShape[3]) fail(`input depth ${x[4]} must equal the filter's in_channels ${fShape[3]}`);
  const g = geometry3d(a, x, fShape.slice(0, 3));
  return { g, OC: fShape[4]!, a, K: g.KD * g.KH * g.KW * g.C };
}

/** out_backprop checked against the forward geometry, as NDHWC data. */
function outBackprop(dy: NDArray, g: Geom3, OC: number, a: Window3D): Float32Array {
  expectShape(dy.shape, layoutShape3d(a.format, g.N, [g.OD, g.OH, g.OW], OC), 'out_backprop');
  return asNDHWC(dy, a.format);
}

// y[rows, OC] = im2col(x)[rows, K] * filter[K, OC]
registerCpuKernel('Conv3D', ([x, f], node, _state, outputs) => {
  const { g, OC, a, K } = conv3dGeometry(node, x!.shape, f!.shape, 'input');
  const xd = asNDHWC(x!, a.format);
  const fd = floatData(f!);
  const y = outputNDHWC(outputs, a.format, g.N, [g.OD, g.OH, g.OW], OC);
  inChunks(g, (r0, rows, col) => {
    im2col(g, xd, r0, rows, col);
    sgemm(false, false, rows, OC, K, 1, col, K, fd, OC, 0, y.data, OC, 0, 0, r0 * OC);
  });
  return [finishNDHWC(y, a.format)];
});

// dx = col2im(dy[rows, OC] * filter^T[OC, K])
registerCpuKernel('Conv3DBackpropInputV2', ([sizes, f, dy], node, _state, outputs) => {
  const s = sizesOf(sizes!, 5, 'input_sizes');
  const { g, OC, a, K } = conv3dGeometry(node, s, f!.shape, 'input_sizes');
  const dyd = outBackprop(dy!, g, OC, a);
  const fd = floatData(f!);
  const dx = outputNDHWC(outputs, a.format, g.N, [g.D, g.H, g.W], g.C);
  inChunks(g, (r0, rows, col) => {
    sgemm(false, true, rows, K, OC, 1, dyd, OC, fd, OC, 0, col, K, r0 * OC, 0, 0);
    col2im(g, col, r0, rows, dx.data);
  });
  return [finishNDHWC(dx, a.format)];
});

// dfilter[K, OC] = im2col(x)^T[K, rows] * dy[rows, OC], summed over the chunks
registerCpuKernel('Conv3DBackpropFilterV2', ([x, sizes, dy], node, _state, outputs) => {
  const s = sizesOf(sizes!, 5, 'filter_sizes');
  const { g, OC, a, K } = conv3dGeometry(node, x!.shape, s, 'input');
  const xd = asNDHWC(x!, a.format);
  const dyd = outBackprop(dy!, g, OC, a);
  const df = outputs.alloc('float32', s);
  inChunks(g, (r0, rows, col) => {
    im2col(g, xd, r0, rows, col);
    sgemm(true, false, K, OC, rows, 1, col, K, dyd, OC, 1, floatData(df), OC, 0, r0 * OC, 0);
  });
  return [df];
});

// ---- 3-D pooling ----

function pool3dGeometry(node: KernelNode, inShape: readonly number[]): { g: Geom3; format: Format3D } {
  const a = window3d(node, { ksize: true });
  return { g: geometry3d(a, ndhwc(inShape, a.format, 'input'), a.ksize), format: a.format };
}

/** Visits each output voxel (its index) with its window clipped to the input: [d0, d1) x [h0, h1) x [w0, w1) and the batch's first voxel. */
function forEachWindow(g: Geom3, f: (yv: number, base: number, d0: number, d1: number, h0: number, h1: number, w0: number, w1: number) => void): void {
  const { N, D, H, W, KD, KH, KW, OD, OH, OW, sD, sH, sW, pD, pH, pW } = g;
  let yv = 0;
  for (let n = 0; n < N; n++) {
    const base = n * D * H * W;
    for (let od = 0; od < OD; od++) {
      const ds = od * sD - pD;
      for (let oh = 0; oh < OH; oh++) {
        const hs = oh * sH - pH;
        for (let ow = 0; ow < OW; ow++, yv++) {
          const ws = ow * sW - pW;
          f(yv, base, Math.max(ds, 0), Math.min(ds + KD, D), Math.max(hs, 0), Math.min(hs + KH, H), Math.max(ws, 0), Math.min(ws + KW, W));
        }
      }
    }
  }
}

/** NDHWC index into x of each output element's window maximum (the first on ties); -1 for an empty window. */
function maxPool3dArgmax(g: Geom3, x: Float32Array): Int32Array {
  const { C, H, W } = g;
  const arg = new Int32Array(g.N * g.OD * g.OH * g.OW * C).fill(-1);
  const best = new Float32Array(C);
  forEachWindow(g, (yv, base, d0, d1, h0, h1, w0, w1) => {
    const yo = yv * C;
    for (let id = d0; id < d1; id++) {
      for (let ih = h0; ih < h1; ih++) {
        for (let iw = w0; iw < w1; iw++) {
          const xo = (base + (id * H + ih) * W + iw) * C;
          for (let c = 0; c < C; c++) {
            const v = x[xo + c]!;
            if (arg[yo + c]! < 0 || v > best[c]!) {
              best[c] = v;
              arg[yo + c] = xo + c;
            }
          }
        }
      }
    }
  });
  return arg;
}

registerCpuKernel('MaxPool3D', ([input], node, _state, outputs) => {
  const { g, format } = pool3dGeometry(node, input!.shape);
  const x = asNDHWC(input!, format);
  const arg = maxPool3dArgmax(g, x);
  const y = outputNDHWC(outputs, format, g.N, [g.OD, g.OH, g.OW], g.C);
  for (let o = 0; o < arg.length; o++) y.data[o] = arg[o]! >= 0 ? x[arg[o]!]! : -Infinity;
  return [finishNDHWC(y, format)];
});

/** The inputs of MaxPool3DGrad / MaxPool3DGradGrad checked against the pool geometry. */
function maxPool3dGradInputs(inputs: NDArray[], node: KernelNode, gradIsInputShaped: boolean) {
  const [x, y, grad] = inputs as [NDArray, NDArray, NDArray];
  const { g, format } = pool3dGeometry(node, x.shape);
  const outShape = layoutShape3d(format, g.N, [g.OD, g.OH, g.OW], g.C);
  expectShape(y.shape, outShape, 'orig_output');
  expectShape(grad.shape, gradIsInputShaped ? x.shape : outShape, 'grad');
  return { g, format, arg: maxPool3dArgmax(g, asNDHWC(x, format)), grad: asNDHWC(grad, format) };
}

// Each output's gradient goes to its window's maximum.
registerCpuKernel('MaxPool3DGrad', (inputs, node, _state, outputs) => {
  const { g, format, arg, grad } = maxPool3dGradInputs(inputs, node, false);
  const dx = outputNDHWC(outputs, format, g.N, [g.D, g.H, g.W], g.C);
  for (let o = 0; o < arg.length; o++) if (arg[o]! >= 0) dx.data[arg[o]!]! += grad[o]!;
  return [finishNDHWC(dx, format)];
});

// An input-shaped gradient gathered at each window's maximum.
registerCpuKernel('MaxPool3DGradGrad', (inputs, node, _state, outputs) => {
  const { g, format, arg, grad } = maxPool3dGradInputs(inputs, node, true);
  const y = outputNDHWC(outputs, format, g.N, [g.OD, g.OH, g.OW], g.C);
  for (let o = 0; o < arg.length; o++) y.data[o] = arg[o]! >= 0 ? grad[arg[o]!]! : 0;
  return [finishNDHWC(y, format)];
});

/**
 * Average pooling (forward) and its gradient (backward) over the window elements inside the input
 * (padding is not counted, as in TensorFlow).
 */
function avgPool3dLoop(g: Geom3, src: Float32Array, dst: Float32Array, backward: boolean): void {
  const { C, H, W } = g;
  forEachWindow(g, (yv, base, d0, d1, h0, h1, w0, w1) => {
    const yo = yv * C;
    const inv = 1 / ((d1 - d0) * (h1 - h0) * (w1 - w0));
    for (let id = d0; id < d1; id++) {
      for (let ih = h0; ih < h1; ih++) {
        for (let iw = w0; iw < w1; iw++) {
          const xo = (base + (id * H + ih) * W + iw) * C;
          if (backward) for (let c = 0; c < C; c++) dst[xo + c]! += src[yo + c]! * inv;
          else for (let c = 0; c < C; c++) dst[yo + c]! += src[xo + c]! * inv;
        }
      }
    }
  });
}

registerCpuKernel('AvgPool3D', ([input], node, _state, outputs) => {
  const { g, format } = pool3dGeometry(node, input!.shape);
  const y = outputNDHWC(outputs, format, g.N, [g.OD, g.OH, g.OW], g.C);
  avgPool3dLoop(g, asNDHWC(input!, format), y.data, false);
  return [finishNDHWC(y, format)];
});

registerCpuKernel('AvgPool3DGrad', ([sizes, grad], node, _state, outputs) => {
  const s = sizesOf(sizes!, 5, 'orig_input_shape');
  const { g, format } = pool3dGeometry(node, s);
  expectShape(grad!.shape, layoutShape3d(format, g.N, [g.OD, g.OH, g.OW], g.C), 'grad');
  const dx = outputNDHWC(outputs, format, g.N, [g.D, g.H, g.W], g.C);
  avgPool3dLoop(g, asNDHWC(grad!, format), dx.data, true);
  return [finishNDHWC(dx, format)];
});

// ---- Dilation2D (NHWC; filter [KH, KW, C]) ----

/** The geometry of Dilation2D: its rates are the window's dilations. */
function dilationGeometry(node: KernelNode, x: NDArray, f: NDArray): Geom {
  const a = windowAttrs(node, {});
  const rates = windowAttrs(node, { listName: 'rates' }).strides;
  const [N, H, W, C] = nhwc(x.shape, 'NHWC', 'input');
  if (f.shape.length !== 3) fail(`filter must be 3-dimensional, got shape ${formatShape(f.shape)}`);
  const [KH, KW, FC] = f.shape as [number, number, number];
  if (FC !== C) fail(`input depth ${C} must equal the filter's depth ${FC}`);
  return geometry({ ...a, dilations: rates }, N, H, W, C, KH, KW);
}

/** The smallest float32: TensorFlow's value of a dilation whose window lies wholly in the padding. */
const LOWEST = -3.4028234663852886e38;

/**
 * For each output element: the max over its window of x + filter (the first on ties), the input
 * element it came from (-1 when the window lies outside the input) and the filter tap's element.
 */
function dilationArgmax(g: Geom, x: Float32Array, f: Float32Array) {
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, dH, dW, padT, padL } = g;
  const size = N * OH * OW * C;
  const y = new Float32Array(size).fill(LOWEST);
  const xArg = new Int32Array(size).fill(-1);
  const fArg = new Int32Array(size).fill(-1);
  let yo = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++, yo += C) {
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sH - padT + kh * dH;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sW - padL + kw * dW;
            if (iw < 0 || iw >= W) continue;
            const xo = ((n * H + ih) * W + iw) * C;
            const fo = (kh * KW + kw) * C;
            for (let c = 0; c < C; c++) {
              const v = x[xo + c]! + f[fo + c]!;
              if (xArg[yo + c]! < 0 || v > y[yo + c]!) {
                y[yo + c] = v;
                xArg[yo + c] = xo + c;
                fArg[yo + c] = fo + c;
              }
            }
          }
        }
      }
    }
  }
  return { y, xArg, fArg };
}

registerCpuKernel('Dilation2D', ([x, f], node, _state, outputs) => {
  const g = dilationGeometry(node, x!, f!);
  const { y } = dilationArgmax(g, floatData(x!), floatData(f!));
  const out = outputs.alloc('float32', [g.N, g.OH, g.OW, g.C]);
  floatData(out).set(y);
  return [out];
});

/** Dilation2DBackpropInput / Filter: each output's gradient goes to the input or filter element of its maximum. */
function dilationBackprop(toInput: boolean) {
  return ([x, f, dy]: NDArray[], node: KernelNode, _state: unknown, outputs: Outputs): NDArray[] => {
    const g = dilationGeometry(node, x!, f!);
    expectShape(dy!.shape, [g.N, g.OH, g.OW, g.C], 'out_backprop');
    const { xArg, fArg } = dilationArgmax(g, floatData(x!), floatData(f!));
    const arg = toInput ? xArg : fArg;
    const out = outputs.alloc('float32', toInput ? x!.shape : f!.shape);
    const od = floatData(out);
    const dyd = floatData(dy!);
    for (let o = 0; o < arg.length; o++) if (arg[o]! >= 0) od[arg[o]!]! += dyd[o]!;
    return [out];
  };
}

registerCpuKernel('Dilation2DBackpropInput', dilationBackprop(true));
registerCpuKernel('Dilation2DBackpropFilter', dilationBackprop(false));

// ---- MaxPoolWithArgmax (NHWC) ----

function argmaxPoolGeometry(node: KernelNode, inShape: readonly number[]): Geom {
  const a = windowAttrs(node, {});
  const [KH, KW] = windowAttrs(node, { listName: 'ksize' }).strides;
  const [N, H, W, C] = nhwc(inShape, 'NHWC', 'input');
  return geometry(a, N, H, W, C, KH, KW);
}

registerCpuKernel('MaxPoolWithArgmax', ([input], node, _state, outputs) => {
  const g = argmaxPoolGeometry(node, input!.shape);
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, padT, padL } = g;
  const withBatch = node.attrs.include_batch_in_index === true;
  const x = floatData(input!);
  const y = outputs.alloc('float32', [N, OH, OW, C]);
  const arg = outputs.alloc(node.outputs[1]!.dtype, [N, OH, OW, C]);
  const yd = floatData(y);
  yd.fill(LOWEST);
  const best = new Int32Array(yd.length).fill(-1);
  let yo = 0;
  for (let n = 0; n < N; n++) {
    const base = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.max(oh * sH - padT, 0);
      const h1 = Math.min(oh * sH - padT + KH, H);
      for (let ow = 0; ow < OW; ow++, yo += C) {
        const w0 = Math.max(ow * sW - padL, 0);
        const w1 = Math.min(ow * sW - padL + KW, W);
        for (let ih = h0; ih < h1; ih++) {
          for (let iw = w0; iw < w1; iw++) {
            const xo = base + (ih * W + iw) * C;
            for (let c = 0; c < C; c++) {
              const v = x[xo + c]!;
              if (best[yo + c]! < 0 || v > yd[yo + c]!) {
                yd[yo + c] = v;
                best[yo + c] = xo + c;
              }
            }
          }
        }
      }
    }
  }
  // TensorFlow's flattened index: (y * width + x) * channels + c, plus b * height * width * channels with include_batch_in_index.
  const HWC = H * W * C;
  const P = OH * OW * C;
  const ad = arg.data;
  for (let o = 0; o < best.length; o++) {
    const b = best[o]!;
    const v = b < 0 ? -1 : withBatch ? b : b - Math.floor(o / P) * HWC;
    if (ad instanceof BigInt64Array) ad[o] = BigInt(v);
    else (ad as Int32Array)[o] = v;
  }
  return [y, arg];
});

/**
 * Input element of each pooled element's argmax (as MaxPoolGradWithArgmax reads it): the index with
 * the batch offset added when include_batch_in_index is false, checked to lie in its own batch.
 */
function argmaxTargets(node: KernelNode, x: NDArray, grad: NDArray, argmax: NDArray, gradIsInputShaped: boolean): { targets: Int32Array; pooled: number[] } {
  const g = argmaxPoolGeometry(node, x.shape);
  const pooled = [g.N, g.OH, g.OW, g.C];
  expectShape(argmax.shape, pooled, 'argmax');
  expectShape(grad.shape, gradIsInputShaped ? x.shape : pooled, 'grad');
  const withBatch = node.attrs.include_batch_in_index === true;
  const HWC = g.H * g.W * g.C;
  const P = g.OH * g.OW * g.C;
  const raw = toNumbers(argmax);
  const targets = new Int32Array(raw.length);
  for (let o = 0; o < raw.length; o++) {
    const b = Math.floor(o / P);
    const t = withBatch ? raw[o]! : raw[o]! + b * HWC;
    if (!(t >= b * HWC && t < (b + 1) * HWC)) {
      throw new InvalidArgumentError(`${node.type} ${node.name}: argmax[${o}] = ${raw[o]} is not an element of batch ${b} of the input (shape ${formatShape(x.shape)}, include_batch_in_index=${withBatch})`);
    }
    targets[o] = t;
  }
  return { targets, pooled };
}

registerCpuKernel('MaxPoolGradWithArgmax', ([x, grad, argmax], node, _state, outputs) => {
  const { targets } = argmaxTargets(node, x!, grad!, argmax!, false);
  const dx = outputs.alloc('float32', x!.shape);
  const dxd = floatData(dx);
  const gd = floatData(grad!);
  for (let o = 0; o < targets.length; o++) dxd[targets[o]!]! += gd[o]!;
  return [dx];
});

registerCpuKernel('MaxPoolGradGradWithArgmax', ([x, grad, argmax], node, _state, outputs) => {
  const { targets, pooled } = argmaxTargets(node, x!, grad!, argmax!, true);
  const y = outputs.alloc('float32', pooled);
  const yd = floatData(y);
  const gd = floatData(grad!);
  for (let o = 0; o < targets.length; o++) yd[o] = gd[targets[o]!]!;
  return [y];
});
