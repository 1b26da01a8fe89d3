// WebGPU kernels: debugging and graph-utility ops. IdentityN and Snapshot copy (a step's outputs are
// its own buffers), ShapeN and EnsureShape need only shapes, CheckNumerics scans on the GPU and
// raises through the run's error flags, the fake-quantization ops are elementwise (the min/max
// gradients one workgroup's reduction). Assert and Print read values on the host: no kernel here.
// Registered on import by kernels/index.ts.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape, type Shape } from '../../../src/core/shape.js';
import { fromNumbers } from '../../array_args.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, f32, perElement, u } from '../wgsl.js';

function copied(ctx: KernelCtx, x: GpuTensor, k: number): GpuTensor {
  const y = ctx.output(k, x.dtype, x.shape);
  if (x.size > 0) ctx.copy(x, y);
  return y;
}

registerGpuKernel('IdentityN', (ctx, inputs) => inputs.map((x, k) => copied(ctx, x, k)));
registerGpuKernel('Snapshot', (ctx, [x]) => [copied(ctx, x!, 0)]);

registerGpuKernel('ShapeN', (ctx, inputs) => {
  const dtype = (ctx.node.attrs.out_type as 'int32' | 'int64' | undefined) ?? 'int32';
  return inputs.map((x) => ctx.fromHost(fromNumbers(x.shape, dtype, [x.shape.length])));
});

registerGpuKernel('EnsureShape', (ctx, [x]) => {
  const want = ctx.node.attrs.shape as Shape;
  const ok = want === null || (want.length === x!.shape.length && want.every((d, i) => d === null || d === x!.shape[i]));
  if (!ok) throw new InvalidArgumentError(`Shape of tensor ${ctx.node.name} ${formatShape(x!.shape)} is not compatible with expected shape ${formatShape(want)}.`);
  return [copied(ctx, x!, 0)];
});

const LANES = 256;

/**
 * CheckNumerics: one workgroup ORs "has NaN" (1) and "has Inf" (2) over the tensor; lane 0 raises
 * the flag whose message says which (TF's wording). The value passes through.
 */
registerGpuKernel('CheckNumerics', (ctx, [x]) => {
  if (x!.size === 0) return [x!];
  const message = (ctx.node.attrs.message as string | undefined) ?? '';
  const flags = (['NaN', 'Inf', 'Inf and NaN'] as const).map((s) => ctx.check(`${message} : Tensor had ${s} values`));
  const code = `${bindings(['float32'], ['int32', 'int32', 'int32'])}
var<workgroup> seen: atomic<u32>;
@compute @workgroup_size(${LANES})
fn main(@builtin(local_invocation_index) lid: u32) {
  var bits = 0u;
  for (var i = lid; i < ${u(x!.size)}; i += ${LANES}u) {
    let b = bitcast<u32>(in0[i]);
    if ((b & 0x7f800000u) == 0x7f800000u) { bits = bits | select(2u, 1u, (b & 0x007fffffu) != 0u); }
  }
  if (bits != 0u) { atomicOr(&seen, bits); }
  workgroupBarrier();
  if (lid == 0u) {
    let s = atomicLoad(&seen);
    if (s == 1u) { out0[0] = 1; }
    if (s == 2u) { out1[0] = 1; }
    if (s == 3u) { out2[0] = 1; }
  }
}`;
  ctx.dispatch({ code, workgroups: [1, 1, 1], label: `CheckNumerics ${ctx.node.name}` }, [x!], flags);
  return [x!];
});

// ---- fake quantization ----

function quantLevels(ctx: KernelCtx): { qmin: number; qmax: number } {
  const bits = (ctx.node.attrs.num_bits as number | undefined) ?? 8;
  if (!(bits >= 2 && bits <= 16)) throw new InvalidArgumentError(`num_bits must be between 2 and 16, inclusive, got ${bits}`);
  return { qmin: ctx.node.attrs.narrow_range === true ? 1 : 0, qmax: 2 ** bits - 1 };
}

/**
 * WGSL statements defining nmin, nmax and scale (TF's Nudge) from the f32 expressions lo and hi.
 */
function nudgeWgsl(ctx: KernelCtx, lo: string, hi: string): string {
  const { qmin, qmax } = quantLevels(ctx);
  return `let lo = ${lo}; let hi = ${hi};
  let scale = (hi - lo) / ${f32(qmax - qmin)};
  let zf = ${f32(qmin)} - lo / scale;
  var zp = floor(zf + 0.5);
  if (zf < ${f32(qmin)}) { zp = ${f32(qmin)}; }
  if (zf > ${f32(qmax)}) { zp = ${f32(qmax)}; }
  let nmin = (${f32(qmin)} - zp) * scale;
  let nmax = (${f32(qmax)} - zp) * scale;`;
}

function argsBounds(ctx: KernelCtx): [string, string] {
  const [min, max] = [(ctx.node.attrs.min as number | undefined) ?? -6, (ctx.node.attrs.max as number | undefined) ?? 6];
  if (!(min < max)) throw new InvalidArgumentError(`min has to be smaller than max, was: ${min} >= ${max}`);
  return [f32(min), f32(max)];
}

const QUANTIZE = `let c = min(max(in0[i], nmin), nmax);
  out0[i] = floor((c - nmin) * (1.0 / scale) + 0.5) * scale + nmin;`;

function quantize(ctx: KernelCtx, x: GpuTensor, extra: GpuTensor[], bounds: [string, string]): GpuTensor {
  const out = ctx.output(0, 'float32', x.shape);
  if (out.size === 0) return out;
  const body = `${nudgeWgsl(ctx, ...bounds)}
  ${QUANTIZE}`;
  ctx.dispatch(perElement(out.size, bindings(['float32', ...extra.map(() => 'float32' as const)], ['float32']), body, `${ctx.node.type} ${ctx.node.name}`), [x, ...extra], [out]);
  return out;
}

registerGpuKernel('FakeQuantWithMinMaxArgs', (ctx, [x]) => [quantize(ctx, x!, [], argsBounds(ctx))]);
registerGpuKernel('FakeQuantWithMinMaxVars', (ctx, [x, min, max]) => [quantize(ctx, x!, [min!, max!], ['in1[0]', 'in2[0]'])]);

function checkSameSize(g: GpuTensor, x: GpuTensor): void {
  if (g.size !== x.size) throw new InvalidArgumentError(`gradients and inputs must be the same size: ${formatShape(g.shape)} vs. ${formatShape(x.shape)}`);
}

/** The straight-through gradient: in0 (gradients) where in1 (inputs) is in the nudged range. */
function passGrad(ctx: KernelCtx, g: GpuTensor, x: GpuTensor, extra: GpuTensor[], bounds: [string, string]): GpuTensor {
  checkSameSize(g, x);
  const out = ctx.output(0, 'float32', x.shape);
  if (out.size === 0) return out;
  const body = `${nudgeWgsl(ctx, ...bounds)}
  let v = in1[i];
  out0[i] = select(0.0, in0[i], v >= nmin && v <= nmax);`;
  const ins = [g, x, ...extra];
  ctx.dispatch(perElement(out.size, bindings(ins.map(() => 'float32' as const), ['float32']), body, `${ctx.node.type} ${ctx.node.name}`), ins, [out]);
  return out;
}

registerGpuKernel('FakeQuantWithMinMaxArgsGradient', (ctx, [g, x]) => [passGrad(ctx, g!, x!, [], argsBounds(ctx))]);

registerGpuKernel('FakeQuantWithMinMaxVarsGradient', (ctx, [g, x, min, max]) => {
  const dx = passGrad(ctx, g!, x!, [min!, max!], ['in2[0]', 'in3[0]']);
  const dmin = ctx.output(1, 'float32', []);
  const dmax = ctx.output(2, 'float32', []);
  // Sums of the gradients below and above the nudged range: one workgroup, a tree per sum.
  const code = `${bindings(['float32', 'float32', 'float32', 'float32'], ['float32', 'float32'])}
var<workgroup> lowSum: array<f32, ${LANES}>;
var<workgroup> highSum: array<f32, ${LANES}>;
@compute @workgroup_size(${LANES})
fn main(@builtin(local_invocation_index) lid: u32) {
  ${nudgeWgsl(ctx, 'in2[0]', 'in3[0]')}
  var a = 0.0;
  var b = 0.0;
  for (var i = lid; i < ${u(x!.size)}; i += ${LANES}u) {
    let v = in1[i];
    if (v < nmin) { a += in0[i]; } else if (v > nmax) { b += in0[i]; }
  }
  lowSum[lid] = a;
  highSum[lid] = b;
  workgroupBarrier();
  for (var s = ${LANES / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { lowSum[lid] += lowSum[lid + s]; highSum[lid] += highSum[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out0[0] = lowSum[0]; out1[0] = highSum[0]; }
}`;
  ctx.dispatch({ code, workgroups: [1, 1, 1], label: `FakeQuantWithMinMaxVarsGradient ${ctx.node.name}` }, [g!, x!, min!, max!], [dmin, dmax]);
  return [dx, dmin, dmax];
});
