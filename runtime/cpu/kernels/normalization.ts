// CPU kernels: LRN, LRNGrad, and the fused batch norms (FusedBatchNorm, V2, V3) with their gradient
// ops, as TensorFlow's CPU kernels compute them. Per-channel statistics accumulate in doubles.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape, sameShape } from '../../../src/core/shape.js';
import { registerCpuKernel } from '../registry.js';
import { batchNormParams, channelLayout, lrnParams, type ChannelLayout } from '../../normalization_params.js';

// ---- LRN ----


/** [pixels, depth] of a 4-D NHWC input. */
function lrnRows(x: NDArray, what: string): [number, number] {
  if (x.rank !== 4) throw new InvalidArgumentError(`${what} must be 4-dimensional, got shape ${formatShape(x.shape)}`);
  const depth = x.shape[3]!;
  return [depth === 0 ? 0 : x.size / depth, depth];
}

registerCpuKernel('LRN', ([x], node, _state, outputs) => {
  const { radius, bias, alpha, beta } = lrnParams(node.attrs);
  const [rows, depth] = lrnRows(x!, 'input');
  const out = outputs.alloc('float32', x!.shape);
  const xd = x!.data as Float32Array;
  const od = out.data as Float32Array;
  for (let r = 0; r < rows; r++) {
    const base = r * depth;
    // Summed window by window, as TensorFlow does: a non-finite value reaches only its neighbours.
    for (let j = 0; j < depth; j++) {
      let sum = 0;
      for (let k = Math.max(0, j - radius); k < Math.min(depth, j + radius + 1); k++) sum += xd[base + k]! * xd[base + k]!;
      od[base + j] = xd[base + j]! * Math.pow(bias + alpha * sum, -beta);
    }
  }
  return [out];
});

registerCpuKernel('LRNGrad', ([dy, x, y], node, _state, outputs) => {
  const { radius, bias, alpha, beta } = lrnParams(node.attrs);
  if (!sameShape(dy!.shape, x!.shape) || !sameShape(dy!.shape, y!.shape)) {
    throw new InvalidArgumentError(
      `input_grads, input_image, and out_image should have the same shape: ${formatShape(dy!.shape)}, ${formatShape(x!.shape)}, ${formatShape(y!.shape)}`,
    );
  }
  const [rows, depth] = lrnRows(x!, 'input_grads');
  const out = outputs.alloc('float32', x!.shape);
  const gd = dy!.data as Float32Array;
  const xd = x!.data as Float32Array;
  const yd = y!.data as Float32Array;
  const od = out.data as Float32Array;
  // TensorFlow's form: output j spreads its gradient over the channels of its window.
  for (let r = 0; r < rows; r++) {
    const base = r * depth;
    for (let j = 0; j < depth; j++) {
      const lo = Math.max(0, j - radius);
      const hi = Math.min(depth, j + radius + 1);
      let norm = 0;
      for (let k = lo; k < hi; k++) norm += xd[base + k]! * xd[base + k]!;
      norm = alpha * norm + bias;
      const g = gd[base + j]!;
      const shared = (-2 * alpha * beta * yd[base + j]!) / norm;
      for (let k = lo; k < hi; k++) od[base + k] = od[base + k]! + g * shared * xd[base + k]!;
      od[base + j] = od[base + j]! + g * Math.pow(norm, -beta);
    }
  }
  return [out];
});

// ---- fused batch norm ----


function checkVector(t: NDArray, what: string, depth: number): Float32Array {
  if (t.rank !== 1 || t.shape[0] !== depth) {
    throw new InvalidArgumentError(`${what} must be a vector of length ${depth} (the channels of x), got shape ${formatShape(t.shape)}`);
  }
  return t.data as Float32Array;
}

/** Calls f(index, channel) for every element of a channel layout, in memory order. */
function forEachElement(l: ChannelLayout, f: (i: number, c: number) => void): void {
  let i = 0;
  for (let o = 0; o < l.outer; o++) for (let c = 0; c < l.depth; c++) for (let k = 0; k < l.inner; k++, i++) f(i, c);
}

for (const type of ['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3']) {
  registerCpuKernel(type, ([x, scale, offset, mean, variance], node, _state, outputs) => {
    const { epsilon, factor, format, training } = batchNormParams(node.attrs);
    const l = channelLayout(x!, format, 'x');
    const sd = checkVector(scale!, 'scale', l.depth);
    const od = checkVector(offset!, 'offset', l.depth);
    const readsStats = !training || factor !== 1;
    const md = readsStats ? checkVector(mean!, 'mean', l.depth) : undefined;
    const vd = readsStats ? checkVector(variance!, 'variance', l.depth) : undefined;
    const y = outputs.alloc('float32', x!.shape);
    const outs = [y, ...[1, 2, 3, 4].map(() => outputs.alloc('float32', [l.depth]))];
    if (type === 'FusedBatchNormV3') outs.push(outputs.alloc('float32', []));
    const [batchMean, batchVar, saved1, saved2] = outs.slice(1).map((t) => t.data as Float32Array) as Float32Array[];
    const xd = x!.data as Float32Array;
    const yd = y.data as Float32Array;
    let m: Float64Array | Float32Array;
    let v: Float64Array | Float32Array;
    if (training) {
      m = new Float64Array(l.depth);
      v = new Float64Array(l.depth);
      forEachElement(l, (i, c) => (m[c] += xd[i]!));
      for (let c = 0; c < l.depth; c++) m[c] /= l.count;
      forEachElement(l, (i, c) => {
        const d = xd[i]! - m[c]!;
        v[c] += d * d;
      });
      for (let c = 0; c < l.depth; c++) v[c] /= l.count;
      // The running variance is the unbiased (Bessel-corrected) estimate.
      const adjust = l.count > 1 ? l.count / (l.count - 1) : 1;
      // An empty batch has NaN statistics (0 / 0), as in TensorFlow.
      for (let c = 0; c < l.depth; c++) {
        batchMean![c] = factor === 1 ? m[c]! : (1 - factor) * md![c]! + factor * m[c]!;
        batchVar![c] = factor === 1 ? v[c]! * adjust : (1 - factor) * vd![c]! + factor * adjust * v[c]!;
        saved1![c] = m[c]!;
        saved2![c] = v[c]!;
      }
    } else {
      m = md!;
      v = vd!;
      batchMean!.set(m);
      batchVar!.set(v);
      saved1!.set(m);
      saved2!.set(v);
    }
    const k = Float64Array.from({ length: l.depth }, (_, c) => sd[c]! / Math.sqrt(v[c]! + epsilon));
    forEachElement(l, (i, c) => (yd[i] = (xd[i]! - m[c]!) * k[c]! + od[c]!));
    return outs;
  });
}

for (const type of ['FusedBatchNormGrad', 'FusedBatchNormGradV2', 'FusedBatchNormGradV3']) {
  registerCpuKernel(type, ([dy, x, scale, mean, variance], node, _state, outputs) => {
    const { epsilon, format, training } = batchNormParams(node.attrs);
    if (!sameShape(dy!.shape, x!.shape)) {
      throw new InvalidArgumentError(`x and y_backprop must have same shape, but x has shape ${formatShape(x!.shape)} and y_backprop has shape ${formatShape(dy!.shape)}`);
    }
    const l = channelLayout(x!, format, 'x');
    const sd = checkVector(scale!, 'scale', l.depth);
    const md = checkVector(mean!, 'reserve_space_1', l.depth);
    const vd = checkVector(variance!, 'reserve_space_2', l.depth);
    const dx = outputs.alloc('float32', x!.shape);
    const dScale = outputs.alloc('float32', [l.depth]);
    const dOffset = outputs.alloc('float32', [l.depth]);
    const gd = dy!.data as Float32Array;
    const xd = x!.data as Float32Array;
    const dxd = dx.data as Float32Array;
    const sumDy = new Float64Array(l.depth);
    const sumDyXc = new Float64Array(l.depth);
    forEachElement(l, (i, c) => {
      sumDy[c] += gd[i]!;
      sumDyXc[c] += gd[i]! * (xd[i]! - md[c]!);
    });
    const rstd = Float64Array.from({ length: l.depth }, (_, c) => 1 / Math.sqrt(vd[c]! + epsilon));
    for (let c = 0; c < l.depth; c++) {
      (dOffset.data as Float32Array)[c] = sumDy[c]!;
      (dScale.data as Float32Array)[c] = sumDyXc[c]! * rstd[c]!;
    }
    if (training) {
      // dx = scale * rstd * (dy - mean(dy) - (x - mean) * rstd^2 * mean(dy * (x - mean)))
      const n = l.count;
      forEachElement(l, (i, c) => {
        const r = rstd[c]!;
        dxd[i] = sd[c]! * r * (gd[i]! - sumDy[c]! / n - (xd[i]! - md[c]!) * r * r * (sumDyXc[c]! / n));
      });
    } else {
      forEachElement(l, (i, c) => (dxd[i] = gd[i]! * sd[c]! * rstd[c]!));
    }
    return [dx, dScale, dOffset, outputs.alloc('float32', [0]), outputs.alloc('float32', [0])];
  });
}
