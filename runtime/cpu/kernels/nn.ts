import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape, sameShape } from '../../../src/core/shape.js';
import { registerCpuKernel, type CpuKernel } from '../registry.js';
import { attr } from './util.js';
import type { TypedArray } from '../../../src/core/dtypes.js';
import { gradShapeMismatch } from '../../activations.js';
import { ACTIVATIONS, runActivation } from '../activations.js';
import { sumColumnsSimd, useSimd } from '../simd.js';
import { softmaxRowsSimd } from '../softmax.js';

type Num = Float32Array | Int32Array;

function checkSameShape(a: NDArray, b: NDArray, aWhat: string, bWhat: string): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new InvalidArgumentError(`${aWhat} and ${bWhat} must be the same size: ${formatShape(a.shape)} vs. ${formatShape(b.shape)}`);
  }
}

// ---- activations and their gradients: generated from the activation table ----

/** int64 values, which the generated kernels do not take. */
const INT64_FORMS: Record<string, (v: bigint) => bigint> = {
  Relu: (v) => (v > 0n ? v : 0n),
  Relu6: (v) => (v < 0n ? 0n : v > 6n ? 6n : v),
};

for (const type of Object.keys(ACTIVATIONS)) {
  registerCpuKernel(type, (inputs, node, _state, outputs) => {
    const x = inputs[inputs.length - 1]!;
    if (inputs.length === 2 && !sameShape(inputs[0]!.shape, x.shape)) throw gradShapeMismatch(type, inputs[0]!.shape, x.shape);
    const out = outputs.alloc(inputs[0]!.dtype, inputs[0]!.shape);
    const int64 = INT64_FORMS[type];
    if (x.dtype === 'int64' && int64) {
      const xd = x.data as BigInt64Array;
      const od = out.data as BigInt64Array;
      for (let i = 0; i < xd.length; i++) od[i] = int64(xd[i]!);
    } else {
      runActivation(type, node.attrs, inputs.map((t) => t.data as TypedArray), out.data as TypedArray);
    }
    return [out];
  });
}

// ---- softmax ----

/** Elements from which softmaxes run in WebAssembly (runtime/cpu/softmax.ts): below, the loops' cost is in calls. */
const SIMD_MIN_SOFTMAX = 256;

/** Rows of the last dimension: [number of rows, row length]. */
function rows(x: NDArray, what: string): [number, number] {
  if (x.rank < 1) throw new InvalidArgumentError(`${what} must have rank >= 1, got shape ${formatShape(x.shape)}`);
  const c = x.shape[x.rank - 1]!;
  return [c === 0 ? 0 : x.size / c, c];
}

function softmaxKernel(log: boolean): CpuKernel {
  return ([x], _node, _state, outputs) => {
    const out = outputs.alloc('float32', x!.shape);
    const xd = x!.data as Float32Array;
    const od = out.data as Float32Array;
    const [n, c] = rows(x!, 'logits');
    if (n * c >= SIMD_MIN_SOFTMAX && softmaxRowsSimd(log ? 'log' : 'softmax', xd, od, n, c)) return [out];
    for (let r = 0; r < n; r++) {
      const base = r * c;
      let max = -Infinity;
      for (let j = 0; j < c; j++) if (xd[base + j]! > max) max = xd[base + j]!;
      let sum = 0;
      for (let j = 0; j < c; j++) sum += Math.exp(xd[base + j]! - max);
      if (log) {
        const logSum = Math.log(sum);
        for (let j = 0; j < c; j++) od[base + j] = xd[base + j]! - max - logSum;
      } else {
        const inv = 1 / sum;
        for (let j = 0; j < c; j++) od[base + j] = Math.exp(xd[base + j]! - max) * inv;
      }
    }
    return [out];
  };
}

registerCpuKernel('Softmax', softmaxKernel(false));
registerCpuKernel('LogSoftmax', softmaxKernel(true));

// ---- bias ----

/** [outer, channels, inner] view of value for the bias dimension of data_format. */
function biasLayout(shape: readonly number[], format: string): [number, number, number] {
  const minRank = format === 'NCHW' ? 3 : 2;
  if (shape.length < minRank) {
    throw new InvalidArgumentError(`Input tensor must be at least ${minRank}D for data_format ${format}: ${formatShape(shape)}`);
  }
  const c = format === 'NCHW' ? 1 : shape.length - 1;
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < c; i++) outer *= shape[i]!;
  for (let i = c + 1; i < shape.length; i++) inner *= shape[i]!;
  return [outer, shape[c]!, inner];
}

registerCpuKernel('BiasAdd', ([v, b], node, _state, outputs) => {
  const format = attr<string>(node, 'data_format');
  const [outer, c, inner] = biasLayout(v!.shape, format);
  if (b!.rank !== 1) throw new InvalidArgumentError(`Biases must be 1D: ${formatShape(b!.shape)}`);
  if (b!.shape[0] !== c) {
    throw new InvalidArgumentError(`Must provide as many biases as the channel dimension of the input tensor: ${formatShape(b!.shape)} vs. ${formatShape(v!.shape)}`);
  }
  const out = outputs.alloc(v!.dtype, v!.shape);
  if (v!.dtype === 'int64') {
    const vd = v!.data as BigInt64Array;
    const bd = b!.data as BigInt64Array;
    const od = out.data as BigInt64Array;
    let i = 0;
    for (let o = 0; o < outer; o++) for (let k = 0; k < c; k++) for (let j = 0; j < inner; j++, i++) od[i] = vd[i]! + bd[k]!;
    return [out];
  }
  const vd = v!.data as Num;
  const bd = b!.data as Num;
  const od = out.data as Num;
  let i = 0;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) for (let k = 0; k < c; k++, i++) od[i] = vd[i]! + bd[k]!;
  } else {
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < c; k++) {
        const bk = bd[k]!;
        for (let j = 0; j < inner; j++, i++) od[i] = vd[i]! + bk;
      }
    }
  }
  return [out];
});

registerCpuKernel('BiasAddGrad', ([g], node, _state, outputs) => {
  const [outer, c, inner] = biasLayout(g!.shape, attr<string>(node, 'data_format'));
  const out = outputs.alloc(g!.dtype, [c]);
  if (g!.dtype === 'int64') {
    const gd = g!.data as BigInt64Array;
    const od = out.data as BigInt64Array;
    let i = 0;
    for (let o = 0; o < outer; o++) for (let k = 0; k < c; k++) for (let j = 0; j < inner; j++, i++) od[k] = od[k]! + gd[i]!;
    return [out];
  }
  const gd = g!.data as Num;
  const acc = new Float64Array(c);
  if (inner === 1 && g!.dtype === 'float32' && useSimd(outer * c)) {
    // Channels last (NHWC): column sums, each accumulated row after row as in the loop below.
    sumColumnsSimd(gd as Float32Array, outer, c, acc);
    (out.data as Num).set(acc);
    return [out];
  }
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < c; k++) {
      let s = 0;
      for (let j = 0; j < inner; j++, i++) s += gd[i]!;
      acc[k] += s;
    }
  }
  (out.data as Num).set(acc);
  return [out];
});

// ---- losses ----

registerCpuKernel('L2Loss', ([t], _node, _state, outputs) => {
  const td = t!.data as Float32Array;
  let s = 0;
  for (let i = 0; i < td.length; i++) s += td[i]! * td[i]!;
  const out = outputs.alloc('float32', []);
  (out.data as Float32Array)[0] = s / 2;
  return [out];
});

/** Every row's softmax into bp and its [max, log-sum-exp] pair, in WebAssembly; null where it does not run (rowSoftmax then). */
function softmaxes(xd: Float32Array, bp: Float32Array, n: number, c: number): Float64Array | null {
  if (n * c < SIMD_MIN_SOFTMAX) return null;
  const stats = new Float64Array(2 * n);
  return softmaxRowsSimd('exp-log', xd, bp, n, c, stats) ? stats : null;
}

/**
 * One row of softmax cross-entropy, by log-sum-exp: writes softmax(x) into bp and returns the row's
 * max and log(sum(exp(x - max))).
 */
function rowSoftmax(xd: Float32Array, base: number, c: number, bp: Float32Array): [number, number] {
  let max = -Infinity;
  for (let j = 0; j < c; j++) if (xd[base + j]! > max) max = xd[base + j]!;
  let sum = 0;
  for (let j = 0; j < c; j++) sum += Math.exp(xd[base + j]! - max);
  const logSum = Math.log(sum);
  for (let j = 0; j < c; j++) bp[base + j] = Math.exp(xd[base + j]! - max - logSum);
  return [max, logSum];
}

registerCpuKernel('SoftmaxCrossEntropyWithLogits', ([features, labels], _node, _state, outputs) => {
  if (features!.rank !== 2) throw new InvalidArgumentError(`logits must be 2-dimensional, got shape ${formatShape(features!.shape)}`);
  checkSameShape(features!, labels!, 'logits', 'labels');
  const [n, c] = features!.shape as [number, number];
  const loss = outputs.alloc('float32', [n]);
  const backprop = outputs.alloc('float32', [n, c]);
  const xd = features!.data as Float32Array;
  const yd = labels!.data as Float32Array;
  const ld = loss.data as Float32Array;
  const bp = backprop.data as Float32Array;
  const stats = softmaxes(xd, bp, n, c);
  for (let r = 0; r < n; r++) {
    const base = r * c;
    const [max, logSum] = stats === null ? rowSoftmax(xd, base, c, bp) : [stats[2 * r]!, stats[2 * r + 1]!];
    let l = 0;
    for (let j = 0; j < c; j++) {
      const y = yd[base + j]!;
      if (y !== 0) l += y * (logSum - (xd[base + j]! - max));
      bp[base + j] = bp[base + j]! - y;
    }
    ld[r] = l;
  }
  return [loss, backprop];
});

registerCpuKernel('SparseSoftmaxCrossEntropyWithLogits', ([features, labels], _node, _state, outputs) => {
  if (features!.rank !== 2) throw new InvalidArgumentError(`logits must be 2-D, but got shape ${formatShape(features!.shape)}`);
  if (labels!.rank !== 1) throw new InvalidArgumentError(`labels must be 1-D, but got shape ${formatShape(labels!.shape)}`);
  const [n, c] = features!.shape as [number, number];
  if (labels!.shape[0] !== n) {
    throw new InvalidArgumentError(
      `logits and labels must have the same first dimension, got logits shape ${formatShape(features!.shape)} and labels shape ${formatShape(labels!.shape)}`,
    );
  }
  if (n > 0 && c === 0) {
    throw new InvalidArgumentError(`Must have at least one class, but got logits shape ${formatShape(features!.shape)}`);
  }
  const lab = labels!.data as Int32Array | BigInt64Array;
  for (let r = 0; r < n; r++) {
    const k = Number(lab[r]!);
    if (!(k >= 0 && k < c)) {
      const shown = Array.from(lab.subarray(0, 20) as ArrayLike<number | bigint>, String).join(' ');
      throw new InvalidArgumentError(
        `Received a label value of ${k} which is outside the valid range of [0, ${c}).  Label values: ${shown}${n > 20 ? ' ...' : ''}`,
      );
    }
  }
  const loss = outputs.alloc('float32', [n]);
  const backprop = outputs.alloc('float32', [n, c]);
  const xd = features!.data as Float32Array;
  const ld = loss.data as Float32Array;
  const bp = backprop.data as Float32Array;
  const stats = softmaxes(xd, bp, n, c);
  for (let r = 0; r < n; r++) {
    const base = r * c;
    const k = Number(lab[r]!);
    const [max, logSum] = stats === null ? rowSoftmax(xd, base, c, bp) : [stats[2 * r]!, stats[2 * r + 1]!];
    ld[r] = logSum - (xd[base + k]! - max);
    bp[base + k] = bp[base + k]! - 1;
  }
  return [loss, backprop];
});
