// WebGPU kernels: LRN, LRNGrad, and the fused batch norms with their gradient ops.
//
// LRN is one pass per element over its channel window. LRNGrad gathers what TensorFlow's CPU kernel
// scatters: a first pass computes each element's own terms (g*y/norm and g*norm^-beta), a second
// sums the first over each channel window. The batch norms reduce per channel over every other dim:
// workgroups each reduce a chunk of one channel's elements (up to four sums at once, as a vec4)
// into partial sums, one thread per channel adds a channel's partials and writes the per-channel
// results, and an elementwise pass computes y (or x's gradient).
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape, sameShape } from '../../../src/core/shape.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import { batchNormParams, channelLayout, lrnParams, type ChannelLayout, type LrnParams } from '../../normalization_params.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, f32, perElement, u } from '../wgsl.js';

const LANES = 256;
const MAX_GROUPS = 65535;
/** Elements one workgroup reduces at least, before a channel's reduction is split into chunks. */
const CHUNK = 4096;

// ---- LRN ----


function lrnDepth(x: GpuTensor, what: string): number {
  if (x.shape.length !== 4) throw new InvalidArgumentError(`${what} must be 4-dimensional, got shape ${formatShape(x.shape)}`);
  return x.shape[3]!;
}

/** WGSL: `norm` = bias + alpha * (sum of in0's squares over the window of element i's channel). */
function windowNorm(depth: number, p: LrnParams): string {
  return `let j = i32(i % ${u(depth)});
  let row = i - u32(j);
  var sum = 0.0;
  for (var k = max(0, j - ${p.radius}); k < min(${depth}, j + ${p.radius + 1}); k++) {
    let v = in0[row + u32(k)];
    sum += v * v;
  }
  let norm = ${f32(p.bias)} + ${f32(p.alpha)} * sum;`;
}

registerGpuKernel('LRN', (ctx, [x]) => {
  const p = lrnParams(ctx.node.attrs);
  const depth = lrnDepth(x!, 'input');
  const out = ctx.output(0, 'float32', x!.shape);
  if (out.size === 0) return [out];
  const body = `${windowNorm(depth, p)}\n  out0[i] = in0[i] * pow(norm, ${f32(-p.beta)});`;
  ctx.dispatch(perElement(out.size, bindings(['float32'], ['float32']), body, `LRN ${ctx.node.name}`), [x!], [out]);
  return [out];
});

registerGpuKernel('LRNGrad', (ctx, [dy, x, y]) => {
  const p = lrnParams(ctx.node.attrs);
  if (!sameShape(dy!.shape, x!.shape) || !sameShape(dy!.shape, y!.shape)) {
    throw new InvalidArgumentError(
      `input_grads, input_image, and out_image should have the same shape: ${formatShape(dy!.shape)}, ${formatShape(x!.shape)}, ${formatShape(y!.shape)}`,
    );
  }
  const depth = lrnDepth(x!, 'input_grads');
  const out = ctx.output(0, 'float32', x!.shape);
  const n = out.size;
  if (n === 0) return [out];
  // Per element j: t = g * y / norm (spread over j's window) and own = g * norm^-beta.
  const t = ctx.scratch('float32', x!.shape, 'spread');
  const own = ctx.scratch('float32', x!.shape, 'own');
  const first = `${windowNorm(depth, p)}
  let g = in1[i];
  out0[i] = g * in2[i] / norm;
  out1[i] = g * pow(norm, ${f32(-p.beta)});`;
  const f32s = (k: number) => new Array<'float32'>(k).fill('float32');
  ctx.dispatch(perElement(n, bindings(f32s(3), f32s(2)), first, `LRNGrad ${ctx.node.name} (terms)`), [x!, dy!, y!], [t, own]);
  const second = `let j = i32(i % ${u(depth)});
  let row = i - u32(j);
  var spread = 0.0;
  for (var k = max(0, j - ${p.radius}); k < min(${depth}, j + ${p.radius + 1}); k++) { spread += in1[row + u32(k)]; }
  out0[i] = in2[i] + ${f32(-2 * p.alpha * p.beta)} * in0[i] * spread;`;
  ctx.dispatch(perElement(n, bindings(f32s(3), f32s(1)), second, `LRNGrad ${ctx.node.name}`), [x!, t, own], [out]);
  return [out];
});

// ---- fused batch norm ----


function checkVector(t: GpuTensor, what: string, depth: number): void {
  if (t.shape.length !== 1 || t.shape[0] !== depth) {
    throw new InvalidArgumentError(`${what} must be a vector of length ${depth} (the channels of x), got shape ${formatShape(t.shape)}`);
  }
}

/** WGSL: the channel `c` of element `i`. */
const channelOf = (l: ChannelLayout): string => `let c = ${l.inner === 1 ? `i % ${u(l.depth)}` : `(i / ${u(l.inner)}) % ${u(l.depth)}`};`;

interface ChannelSums {
  /** Inputs the load code reads (in0.. in that order). */
  inputs: readonly GpuTensor[];
  /** WGSL expression (a vec4f) of element `idx` of channel `c`: up to four values summed per channel. */
  load: string;
  /** Inputs the finish code reads after the sums' partials (in1..). */
  finishInputs: readonly GpuTensor[];
  /** Outputs of the finish code (out0..). */
  outputs: readonly GpuTensor[];
  /** WGSL statements per channel `c` given its sums `s` (a vec4f). */
  finish: string;
}

/** Sums up to four per-element values over each channel, then runs `finish` once per channel. */
function channelSums(ctx: KernelCtx, l: ChannelLayout, spec: ChannelSums, label: string, tag = 'sums'): void {
  if (l.depth === 0) return;
  const r = l.count;
  const parts = Math.max(1, Math.min(Math.ceil(r / CHUNK), Math.floor((MAX_GROUPS * 16) / l.depth), 1024));
  const chunk = Math.max(1, Math.ceil(r / parts));
  const groups = l.depth * parts;
  const gy = Math.ceil(groups / MAX_GROUPS);
  const gx = Math.ceil(groups / gy);
  const partials = ctx.scratch('float32', [groups * 4], tag);
  const f32s = (k: number) => new Array<'float32'>(k).fill('float32');
  const element = l.inner === 1 ? `j * ${u(l.depth)} + c` : `(j / ${u(l.inner)}) * ${u(l.depth * l.inner)} + c * ${u(l.inner)} + j % ${u(l.inner)}`;
  const reduceCode = `${bindings(f32s(spec.inputs.length), ['float32'])}
var<workgroup> sh: array<vec4f, ${LANES}>;
@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * ${u(gx)};
  if (g >= ${u(groups)}) { return; }
  let c = g / ${u(parts)};
  let p = g % ${u(parts)};
  var acc = vec4f(0.0);
  let j1 = min(${u(r)}, (p + 1u) * ${u(chunk)});
  for (var j = p * ${u(chunk)} + lid; j < j1; j += ${u(LANES)}) {
    let idx = ${element};
    acc += ${spec.load};
  }
  sh[lid] = acc;
  workgroupBarrier();
  for (var s = ${u(LANES / 2)}; s > 0u; s = s >> 1u) {
    if (lid < s) { sh[lid] = sh[lid] + sh[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = g * 4u;
    out0[o] = sh[0].x; out0[o + 1u] = sh[0].y; out0[o + 2u] = sh[0].z; out0[o + 3u] = sh[0].w;
  }
}`;
  ctx.dispatch({ code: reduceCode, workgroups: [gx, gy, 1], label: `${label} (partial sums)` }, spec.inputs, [partials]);
  const finishBody = `let c = i;
  var s = vec4f(0.0);
  for (var p = 0u; p < ${u(parts)}; p++) {
    let o = (c * ${u(parts)} + p) * 4u;
    s += vec4f(in0[o], in0[o + 1u], in0[o + 2u], in0[o + 3u]);
  }
  ${spec.finish}`;
  const decls = bindings(f32s(1 + spec.finishInputs.length), f32s(spec.outputs.length));
  ctx.dispatch(perElement(l.depth, decls, finishBody, `${label} (per channel)`), [partials, ...spec.finishInputs], spec.outputs);
}

/** `sum / count` in WGSL; NaN for no elements (TensorFlow's statistics of an empty batch). */
const meanOf = (sum: string, count: number): string => (count === 0 ? f32(NaN) : `${sum} / ${f32(count)}`);

for (const type of ['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3']) {
  registerGpuKernel(type, (ctx, [x, scale, offset, mean, variance]) => {
    const { epsilon, factor, format, training } = batchNormParams(ctx.node.attrs);
    const l = channelLayout(x!, format, 'x');
    checkVector(scale!, 'scale', l.depth);
    checkVector(offset!, 'offset', l.depth);
    const blend = training && factor !== 1;
    if (!training || blend) {
      checkVector(mean!, 'mean', l.depth);
      checkVector(variance!, 'variance', l.depth);
    }
    const y = ctx.output(0, 'float32', x!.shape);
    const [batchMean, batchVar, saved1, saved2] = [1, 2, 3, 4].map((k) => ctx.output(k, 'float32', [l.depth])) as GpuTensor[];
    const outs = [y, batchMean!, batchVar!, saved1!, saved2!];
    if (type === 'FusedBatchNormV3') {
      const reserve = ctx.output(5, 'float32', []);
      ctx.dispatch(perElement(1, bindings([], ['float32']), 'out0[0] = 0.0;'), [], [reserve]);
      outs.push(reserve);
    }
    const label = `${type} ${ctx.node.name}`;
    let m = mean!;
    let v = variance!;
    if (training) {
      // The running variance is the unbiased (Bessel-corrected) estimate.
      const adjust = l.count > 1 ? l.count / (l.count - 1) : 1;
      const running = (stat: string, old: string, extra = 1): string =>
        blend ? `${f32(1 - factor)} * ${old} + ${f32(factor * extra)} * ${stat}` : extra === 1 ? stat : `${stat} * ${f32(extra)}`;
      channelSums(
        ctx,
        l,
        {
          inputs: [x!],
          load: 'vec4f(in0[idx], 0.0, 0.0, 0.0)',
          finishInputs: blend ? [mean!] : [],
          outputs: [saved1!, batchMean!],
          finish: `let m = ${meanOf('s.x', l.count)};\n  out0[c] = m;\n  out1[c] = ${running('m', 'in1[c]')};`,
        },
        `${label} mean`,
        'mean',
      );
      channelSums(
        ctx,
        l,
        {
          inputs: [x!, saved1!],
          load: 'vec4f((in0[idx] - in1[c]) * (in0[idx] - in1[c]), 0.0, 0.0, 0.0)',
          finishInputs: blend ? [variance!] : [],
          outputs: [saved2!, batchVar!],
          finish: `let v = ${meanOf('s.x', l.count)};\n  out0[c] = v;\n  out1[c] = ${running('v', 'in1[c]', adjust)};`,
        },
        `${label} variance`,
        'variance',
      );
      m = saved1!;
      v = saved2!;
    } else {
      ctx.copy(mean!, batchMean!);
      ctx.copy(variance!, batchVar!);
      ctx.copy(mean!, saved1!);
      ctx.copy(variance!, saved2!);
    }
    if (y.size > 0) {
      const body = `${channelOf(l)}\n  out0[i] = (in0[i] - in1[c]) * (inverseSqrt(in2[c] + ${f32(epsilon)}) * in3[c]) + in4[c];`;
      const decls = bindings(['float32', 'float32', 'float32', 'float32', 'float32'], ['float32']);
      ctx.dispatch(perElement(y.size, decls, body, label), [x!, m, v, scale!, offset!], [y]);
    }
    return outs;
  });
}

for (const type of ['FusedBatchNormGrad', 'FusedBatchNormGradV2', 'FusedBatchNormGradV3']) {
  registerGpuKernel(type, (ctx, [dy, x, scale, mean, variance]) => {
    const { epsilon, format, training } = batchNormParams(ctx.node.attrs);
    if (!sameShape(dy!.shape, x!.shape)) {
      throw new InvalidArgumentError(`x and y_backprop must have same shape, but x has shape ${formatShape(x!.shape)} and y_backprop has shape ${formatShape(dy!.shape)}`);
    }
    const l = channelLayout(x!, format, 'x');
    checkVector(scale!, 'scale', l.depth);
    checkVector(mean!, 'reserve_space_1', l.depth);
    checkVector(variance!, 'reserve_space_2', l.depth);
    const dx = ctx.output(0, 'float32', x!.shape);
    const dScale = ctx.output(1, 'float32', [l.depth]);
    const dOffset = ctx.output(2, 'float32', [l.depth]);
    const label = `${type} ${ctx.node.name}`;
    const rstd = (v: string): string => `inverseSqrt(${v} + ${f32(epsilon)})`;
    channelSums(
      ctx,
      l,
      {
        inputs: [dy!, x!, mean!],
        load: 'vec4f(in0[idx], in0[idx] * (in1[idx] - in2[c]), 0.0, 0.0)',
        finishInputs: [variance!],
        outputs: [dOffset, dScale],
        finish: `out0[c] = s.x;\n  out1[c] = s.y * ${rstd('in1[c]')};`,
      },
      label,
    );
    if (dx.size > 0) {
      if (training) {
        // dx = scale * rstd * (dy - mean(dy) - (x - mean) * rstd * scale_backprop / n)
        const n = f32(l.count);
        const body = `${channelOf(l)}
  let r = ${rstd('in4[c]')};
  out0[i] = in2[c] * r * (in0[i] - in5[c] / ${n} - (in1[i] - in3[c]) * r * in6[c] / ${n});`;
        const decls = bindings(new Array<'float32'>(7).fill('float32'), ['float32']);
        ctx.dispatch(perElement(dx.size, decls, body, label), [dy!, x!, scale!, mean!, variance!, dOffset, dScale], [dx]);
      } else {
        const body = `${channelOf(l)}\n  out0[i] = in0[i] * in1[c] * ${rstd('in2[c]')};`;
        ctx.dispatch(perElement(dx.size, bindings(['float32', 'float32', 'float32'], ['float32']), body, label), [dy!, scale!, variance!], [dx]);
      }
    }
    return [dx, dScale, dOffset, ctx.output(3, 'float32', [0]), ctx.output(4, 'float32', [0])];
  });
}
