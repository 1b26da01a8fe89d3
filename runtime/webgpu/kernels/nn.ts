// WebGPU kernels: nn family. Softmax, LogSoftmax and the two softmax cross-entropies work on rows of
// the last axis: W lanes per row (a power of two up to 256), 256/W rows per workgroup, the row's
// max and sum of exponentials reduced through shared memory (log-sum-exp, stable).
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape, sameShape } from '../../../src/core/shape.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { u, type Program } from '../wgsl.js';
import { NAN_WGSL } from './reduce.js';

const LANES = 256;
const MAX_GROUPS = 65535;

function pow2ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

interface RowParts {
  /** Binding declarations. */
  decls: string;
  /** Statements after the row's max `m` and log-sum `ls` are known (per lane, valid rows only). */
  finish: string;
  /** Statements with a per-row value `l` reduced over lanes (sum), run by lane 0 (valid rows). */
  rowResult?: string;
  /** Statements before the reductions, at function scope (`valid`, `row`, `lane` are known). */
  setup?: string;
}

/**
 * A kernel over n rows of c values (in0 = logits): computes the row max `m` and `ls` = log(sum(exp(x
 * - m))) per row, then runs `finish` in a loop over the lane's columns `j` (value `xv`), which may add
 * to `l` (summed over the row into `rowResult`).
 */
function rowProgram(n: number, c: number, parts: RowParts, label: string): Program {
  const W = Math.min(LANES, pow2ceil(Math.max(c, 1)));
  const R = LANES / W;
  const groups = Math.max(1, Math.ceil(n / R));
  const y = Math.ceil(groups / MAX_GROUPS);
  const gx = Math.ceil(groups / y);
  const tree = (v: string, op: (a: string, b: string) => string) =>
    W === 1
      ? ''
      : `sh[lid] = ${v};
  workgroupBarrier();
  for (var s = ${u(W / 2)}; s > 0u; s = s >> 1u) {
    if (lane < s) { sh[lid] = ${op('sh[lid]', 'sh[lid + s]')}; }
    workgroupBarrier();
  }
  ${v} = sh[lid - lane];
  workgroupBarrier();`;
  const code = `${NAN_WGSL}
${parts.decls}
var<workgroup> sh: array<f32, ${LANES}>;
@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * ${u(gx)};
  if (g >= ${u(groups)}) { return; }
  let row = g * ${u(R)} + lid / ${u(W)};
  let lane = lid % ${u(W)};
  let valid = row < ${u(n)};
  let base = row * ${u(c)};
  ${parts.setup ?? ''}
  var m = fbits(0xff800000u);
  if (valid) {
    for (var j = lane; j < ${u(c)}; j += ${u(W)}) { let v = in0[base + j]; m = select(m, v, v > m); }
  }
  ${tree('m', (a, b) => `select(${a}, ${b}, ${b} > ${a})`)}
  var sum = 0.0;
  if (valid) {
    for (var j = lane; j < ${u(c)}; j += ${u(W)}) { sum += exp(in0[base + j] - m); }
  }
  ${tree('sum', (a, b) => `${a} + ${b}`)}
  let ls = log(sum);
  var l = 0.0;
  if (valid) {
    for (var j = lane; j < ${u(c)}; j += ${u(W)}) {
      let xv = in0[base + j];
      ${parts.finish}
    }
  }
  ${parts.rowResult ? `${tree('l', (a, b) => `${a} + ${b}`)}\n  if (valid && lane == 0u) { ${parts.rowResult} }` : ''}
}`;
  return { code, workgroups: n === 0 ? [0, 0, 0] : [gx, y, 1], label };
}

function softmaxKernel(log: boolean) {
  return (ctx: KernelCtx, [x]: GpuTensor[]): GpuTensor[] => {
    const shape = x!.shape;
    if (shape.length < 1) throw new InvalidArgumentError(`logits must have rank >= 1, got shape ${formatShape(shape)}`);
    const out = ctx.output(0, 'float32', shape);
    const c = shape[shape.length - 1]!;
    const n = c === 0 ? 0 : x!.size / c;
    const decls = `@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read_write> out0: array<f32>;`;
    const finish = log ? 'out0[base + j] = xv - m - ls;' : 'out0[base + j] = exp(xv - m) / sum;';
    ctx.dispatch(rowProgram(n, c, { decls, finish }, `${ctx.node.type} ${ctx.node.name}`), [x!], [out]);
    return [out];
  };
}
registerGpuKernel('Softmax', softmaxKernel(false));
registerGpuKernel('LogSoftmax', softmaxKernel(true));

registerGpuKernel('SoftmaxCrossEntropyWithLogits', (ctx, [features, labels]) => {
  if (features!.shape.length !== 2) throw new InvalidArgumentError(`logits must be 2-dimensional, got shape ${formatShape(features!.shape)}`);
  if (!sameShape(features!.shape, labels!.shape)) {
    throw new InvalidArgumentError(`logits and labels must be the same size: ${formatShape(features!.shape)} vs. ${formatShape(labels!.shape)}`);
  }
  const [n, c] = features!.shape as [number, number];
  const loss = ctx.output(0, 'float32', [n]);
  const backprop = ctx.output(1, 'float32', [n, c]);
  const decls = `@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
@group(0) @binding(3) var<storage, read_write> out1: array<f32>;`;
  const finish = `let yv = in1[base + j];
      out1[base + j] = exp(xv - m - ls) - yv;
      if (yv != 0.0) { l += yv * (ls - (xv - m)); }`;
  const p = rowProgram(n, c, { decls, finish, rowResult: 'out0[row] = l;' }, `SoftmaxCrossEntropyWithLogits ${ctx.node.name}`);
  ctx.dispatch(p, [features!, labels!], [loss, backprop]);
  return [loss, backprop];
});

registerGpuKernel('SparseSoftmaxCrossEntropyWithLogits', (ctx, [features, labels]) => {
  if (features!.shape.length !== 2) throw new InvalidArgumentError(`logits must be 2-D, but got shape ${formatShape(features!.shape)}`);
  if (labels!.shape.length !== 1) throw new InvalidArgumentError(`labels must be 1-D, but got shape ${formatShape(labels!.shape)}`);
  const [n, c] = features!.shape as [number, number];
  if (labels!.shape[0] !== n) {
    throw new InvalidArgumentError(
      `logits and labels must have the same first dimension, got logits shape ${formatShape(features!.shape)} and labels shape ${formatShape(labels!.shape)}`,
    );
  }
  if (n > 0 && c === 0) throw new InvalidArgumentError(`Must have at least one class, but got logits shape ${formatShape(features!.shape)}`);
  const loss = ctx.output(0, 'float32', [n]);
  const backprop = ctx.output(1, 'float32', [n, c]);
  if (n === 0) return [loss, backprop];
  // Labels fed from the host (the usual case) are checked there, with the CPU kernel's message
  // naming the bad value; labels computed on the GPU are checked by the kernel.
  const hostLabels = labels!.host;
  if (hostLabels) checkLabels(hostLabels, n, c);
  const flag = hostLabels ? undefined : ctx.check(`Received a label value which is outside the valid range of [0, ${c})`);
  const int64 = labels!.dtype === 'int64';
  const decls = `@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read> in1: array<${int64 ? 'vec2<i32>' : 'i32'}>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
@group(0) @binding(3) var<storage, read_write> out1: array<f32>;
${flag ? '@group(0) @binding(4) var<storage, read_write> out2: array<i32>;' : ''}`;
  const bad = int64 ? `(lab.y != 0i || lab.x < 0i || lab.x >= ${c}i)` : `(lab < 0i || lab >= ${c}i)`;
  const setup = `var lab = ${int64 ? 'vec2<i32>(0i, 0i)' : '0i'};
  if (valid) {
    lab = in1[row];
    ${flag ? `if (lane == 0u && ${bad}) { out2[0] = 1i; }` : ''}
  }`;
  const finish = `let k = u32(clamp(${int64 ? 'lab.x' : 'lab'}, 0i, ${c - 1}i));
      out1[base + j] = exp(xv - m - ls) - select(0.0, 1.0, j == k);
      if (j == k) { l = ls - (xv - m); }`;
  const p = rowProgram(n, c, { decls, setup, finish, rowResult: 'out0[row] = l;' }, `SparseSoftmaxCrossEntropyWithLogits ${ctx.node.name}`);
  ctx.dispatch(p, [features!, labels!], flag ? [loss, backprop, flag] : [loss, backprop]);
  return [loss, backprop];
});

/** The CPU kernel's check of host labels, with its message. */
function checkLabels(labels: NDArray, n: number, c: number): void {
  const lab = labels.data as Int32Array | BigInt64Array;
  for (let r = 0; r < n; r++) {
    const k = Number(lab[r]!);
    if (!(k >= 0 && k < c)) {
      const shown = Array.from(lab.subarray(0, 20) as ArrayLike<number | bigint>, String).join(' ');
      throw new InvalidArgumentError(`Received a label value of ${k} which is outside the valid range of [0, ${c}).  Label values: ${shown}${n > 20 ? ' ...' : ''}`);
    }
  }
}
