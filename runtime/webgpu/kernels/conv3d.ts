// WebGPU kernels: 3-D convolution and pooling, morphological dilation, max pooling with argmax.
// Direct kernels, one invocation per output element, reading both data formats in place (strides
// are baked into the WGSL). Gradients gather (each element sums what reaches it); the filter
// gradients, which contract over every output element, give each filter element a workgroup whose
// threads split the outputs and add up in workgroup memory. MaxPoolGradWithArgmax scatters wherever
// its argmax input points, as TensorFlow's, with compare-and-swap float adds. Ties in a max go to the
// first element in window order, as the CPU kernels.
import { InternalError } from '../../../src/core/errors.js';
import { formatShape } from '../../../src/core/shape.js';
import { windowedOutputSize } from '../../../ops/semantics/window.js';
import type { KernelNode } from '../../backend.js';
import { toNumbers } from '../../shape_helpers.js';
import { fail, geometry, layoutShape3d, ndhwc, nhwc, window3d, windowAttrs, type Format3D, type Geom, type Window3D } from '../../window_geometry.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, grid, load, perElement, storageType, store, u } from '../wgsl.js';

// ---- 3-D geometry (as the CPU kernels compute it, with the same errors) ----


interface Geom3 {
  N: number;
  C: number;
  /** Input [D, H, W], window [KD, KH, KW], output [OD, OH, OW], strides, dilations, padding before: each per spatial dim. */
  in: number[];
  k: number[];
  out: number[];
  s: number[];
  dl: number[];
  pad: number[];
}

function geometry3d(a: Window3D, x: number[], k: number[]): Geom3 {
  const dims = [0, 1, 2].map((j) => {
    const r = windowedOutputSize(x[j + 1]!, k[j]!, a.dilations[j]!, a.strides[j]!, a.padding);
    if (typeof r === 'string') fail(r);
    return r;
  });
  return { N: x[0]!, C: x[4]!, in: x.slice(1, 4), k: [...k], out: dims.map((d) => d.size), s: [...a.strides], dl: [...a.dilations], pad: dims.map((d) => d.padBefore) };
}

function expectShape(actual: readonly number[], expected: readonly number[], what: string): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    fail(`${what} has shape ${formatShape(actual)}, expected ${formatShape(expected)}`);
  }
}

function sizesOf(ctx: KernelCtx, i: number, rank: number, what: string): number[] {
  const s = toNumbers(ctx.host(i));
  if (s.length !== rank || s.some((v) => v < 0 || !Number.isInteger(v))) fail(`${what} must be ${rank} non-negative sizes, got [${s.join(', ')}]`);
  return s;
}

// ---- WGSL helpers ----

/** An i32 WGSL constant. */
function s32(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) > 0x7fffffff) throw new InternalError(`WGSL constant ${n} is not an int32`);
  return n < 0 ? `(${n})` : `${n}`;
}

/** A divisor constant (1 for an empty dim: nothing runs then). */
const div = (n: number) => u(n || 1);

const DIMS = ['d', 'h', 'w'] as const;

/** Element strides of the n, c and spatial dims of a 5-D tensor with NDHWC sizes [N, D, H, W, C] stored in `format`. */
interface Layout {
  n: number;
  c: number;
  s: number[];
}

function layout(format: Format3D, [D, H, W]: number[], C: number): Layout {
  const S = D! * H! * W!;
  return format === 'NDHWC' ? { n: S * C, s: [H! * W! * C, W! * C, C], c: 1 } : { n: C * S, c: S, s: [H! * W!, W!, 1] };
}

/** A u32 expression for the element at batch n, spatial [d, h, w] and channel c (u32 expressions). */
function at(l: Layout, n: string, s: string[], c: string): string {
  const term = (v: string, k: number) => (k === 1 ? `(${v})` : `(${v}) * ${u(k)}`);
  return [term(n, l.n), ...s.map((v, j) => term(v, l.s[j]!)), term(c, l.c)].join(' + ');
}

/** Statements splitting linear index `i` of a tensor of sizes N, [D, H, W], C in `format` into u32s n_, d_, h_, w_, c_. */
function coords(format: Format3D, [D, H, W]: number[], C: number, i = 'i'): string {
  const order: [string, number][] = format === 'NDHWC' ? [['c_', C], ['w_', W!], ['h_', H!], ['d_', D!]] : [['w_', W!], ['h_', H!], ['d_', D!], ['c_', C]];
  const lines: string[] = [];
  let rest = i;
  order.forEach(([name, size], j) => {
    lines.push(`let ${name} = ${rest} % ${div(size)}; let q${j}_ = ${rest} / ${div(size)};`);
    rest = `q${j}_`;
  });
  lines.push(`let n_ = ${rest};`);
  return lines.join(' ');
}

/** Invocations per workgroup of the reductions. */
const THREADS = 256;

/**
 * One workgroup per element e of `out` (n elements): `perItem` statements run for each p in [0, P)
 * (u32 `p`, `e` in scope, accumulating into `acc`), after `setup` statements for e; the workgroup
 * adds its threads' sums into out0[e].
 */
function reduceEach(ctx: KernelCtx, n: number, P: number, decls: string, setup: string, perItem: string, inputs: GpuTensor[], out: GpuTensor, label: string): void {
  if (n === 0) return;
  const { workgroups, stride } = grid(n, 1);
  const code = `${decls}
var<workgroup> part: array<f32, ${THREADS}>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let e = wg.x + wg.y * ${u(stride)};
  if (e >= ${u(n)}) { return; }
  ${setup}
  var acc = 0.0;
  for (var p = t; p < ${u(P)}; p += ${u(THREADS)}) {
    ${perItem}
  }
  part[t] = acc;
  workgroupBarrier();
  for (var s = ${u(THREADS / 2)}; s > 0u; s >>= 1u) {
    if (t < s) { part[t] += part[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) { out0[e] = part[0]; }
}`;
  ctx.dispatch({ code, workgroups, label }, inputs, [out]);
}

/** -Infinity, made at run time (a constant infinity does not compile). */
const NEG_INF = 'bitcast<f32>(0xff800000u | (i & 0u))';
/** The lowest float32 (TensorFlow's value of a dilation over no input element). */
const LOWEST = 'bitcast<f32>(0xff7fffffu)';

// ---- Conv3D (filter [KD, KH, KW, C, OC]) ----

function conv3dGeometry(node: KernelNode, xShape: readonly number[], fShape: readonly number[], what: string): { g: Geom3; OC: number; a: Window3D } {
  const a = window3d(node, { dilations: true });
  const x = ndhwc(xShape, a.format, what);
  if (fShape.length !== 5) fail(`filter must be 5-dimensional, got shape ${formatShape(fShape)}`);
  if (x[4] !== fShape[3]) fail(`input depth ${x[4]} must equal the filter's in_channels ${fShape[3]}`);
  return { g: geometry3d(a, x, fShape.slice(0, 3)), OC: fShape[4]!, a };
}

function checkOutBackprop(dy: GpuTensor, g: Geom3, OC: number, a: Window3D): void {
  expectShape(dy.shape, layoutShape3d(a.format, g.N, g.out, OC), 'out_backprop');
}

/**
 * Statements binding the input position of window tap k<dim> (u32 loop variables kd, kh, kw) under
 * the output position at o<dim> (i32 expressions): i<dim>, skipping the tap when it falls outside.
 */
function tapLoops(g: Geom3, o: string[], body: string): string {
  let code = body;
  for (let j = 2; j >= 0; j--) {
    const d = DIMS[j]!;
    code = `for (var k${d} = 0u; k${d} < ${u(g.k[j]!)}; k${d}++) {
    let i${d} = ${o[j]} * ${s32(g.s[j]!)} - ${s32(g.pad[j]!)} + i32(k${d}) * ${s32(g.dl[j]!)};
    if (u32(i${d}) >= ${u(g.in[j]!)}) { continue; }
    ${code}
  }`;
  }
  return code;
}

/**
 * Loops over the taps k<dim> and the outputs o<dim> (u32) that read input position (d_, h_, w_):
 * o = (i + pad - k * dilation) / stride where that divides exactly and lands inside the output.
 */
function sourceLoops(g: Geom3, body: string): string {
  let code = body;
  for (let j = 2; j >= 0; j--) {
    const d = DIMS[j]!;
    const s = g.s[j]!;
    code = `for (var k${d} = 0u; k${d} < ${u(g.k[j]!)}; k${d}++) {
    let t${d} = i32(${d}_) + ${s32(g.pad[j]!)} - i32(k${d}) * ${s32(g.dl[j]!)};
    if (t${d} < 0 || t${d} % ${s32(s)} != 0 || u32(t${d} / ${s32(s)}) >= ${u(g.out[j]!)}) { continue; }
    let o${d} = u32(t${d} / ${s32(s)});
    ${code}
  }`;
  }
  return code;
}

const TAP = (g: Geom3) => `((kd * ${u(g.k[1]!)} + kh) * ${u(g.k[2]!)} + kw)`;

registerGpuKernel('Conv3D', (ctx, [x, f]) => {
  const { g, OC, a } = conv3dGeometry(ctx.node, x!.shape, f!.shape, 'input');
  const y = ctx.output(0, 'float32', layoutShape3d(a.format, g.N, g.out, OC));
  const xl = layout(a.format, g.in, g.C);
  const inner = `let xb = ${at(xl, 'n_', ['u32(id)', 'u32(ih)', 'u32(iw)'], '0u')};
    let fb = ${TAP(g)} * ${u(g.C * OC)} + c_;
    for (var c = 0u; c < ${u(g.C)}; c++) { acc = fma(in0[xb + c * ${u(xl.c)}], in1[fb + c * ${u(OC)}], acc); }`;
  const body = `${coords(a.format, g.out, OC)}
  var acc = 0.0;
  ${tapLoops(g, ['i32(d_)', 'i32(h_)', 'i32(w_)'], inner)}
  out0[i] = acc;`;
  ctx.dispatch(perElement(y.size, bindings(['float32', 'float32'], ['float32']), body, `Conv3D ${ctx.node.name}`), [x!, f!], [y]);
  return [y];
});

registerGpuKernel(
  'Conv3DBackpropInputV2',
  (ctx, [, f, dy]) => {
    const { g, OC, a } = conv3dGeometry(ctx.node, sizesOf(ctx, 0, 5, 'input_sizes'), f!.shape, 'input_sizes');
    checkOutBackprop(dy!, g, OC, a);
    const dx = ctx.output(0, 'float32', layoutShape3d(a.format, g.N, g.in, g.C));
    const yl = layout(a.format, g.out, OC);
    const inner = `let yb = ${at(yl, 'n_', ['od', 'oh', 'ow'], '0u')};
    let fb = (${TAP(g)} * ${u(g.C)} + c_) * ${u(OC)};
    for (var oc = 0u; oc < ${u(OC)}; oc++) { acc = fma(in1[yb + oc * ${u(yl.c)}], in0[fb + oc], acc); }`;
    const body = `${coords(a.format, g.in, g.C)}
  var acc = 0.0;
  ${sourceLoops(g, inner)}
  out0[i] = acc;`;
    ctx.dispatch(perElement(dx.size, bindings(['float32', 'float32'], ['float32']), body, `Conv3DBackpropInputV2 ${ctx.node.name}`), [f!, dy!], [dx]);
    return [dx];
  },
  { hostInputs: [0] },
);

registerGpuKernel(
  'Conv3DBackpropFilterV2',
  (ctx, [x, , dy]) => {
    const sizes = sizesOf(ctx, 1, 5, 'filter_sizes');
    const { g, OC, a } = conv3dGeometry(ctx.node, x!.shape, sizes, 'input');
    checkOutBackprop(dy!, g, OC, a);
    const df = ctx.output(0, 'float32', sizes);
    const xl = layout(a.format, g.in, g.C);
    const yl = layout(a.format, g.out, OC);
    const [OD, OH, OW] = g.out as [number, number, number];
    // e = (tap * C + c) * OC + oc; p runs over the output voxels (n, od, oh, ow).
    const setup = `let oc = e % ${div(OC)}; let c = (e / ${div(OC)}) % ${div(g.C)}; let tap = e / ${div(g.C * OC)};
  let kw = tap % ${div(g.k[2]!)}; let kh = (tap / ${div(g.k[2]!)}) % ${div(g.k[1]!)}; let kd = tap / ${div(g.k[1]! * g.k[2]!)};`;
    const pos = (j: number, o: string) => `i32(${o}) * ${s32(g.s[j]!)} - ${s32(g.pad[j]!)} + i32(k${DIMS[j]}) * ${s32(g.dl[j]!)}`;
    const perItem = `let ow = p % ${div(OW)}; let q0 = p / ${div(OW)}; let oh = q0 % ${div(OH)}; let q1 = q0 / ${div(OH)}; let od = q1 % ${div(OD)}; let nb = q1 / ${div(OD)};
    let id = ${pos(0, 'od')}; let ih = ${pos(1, 'oh')}; let iw = ${pos(2, 'ow')};
    if (u32(id) < ${u(g.in[0]!)} && u32(ih) < ${u(g.in[1]!)} && u32(iw) < ${u(g.in[2]!)}) {
      acc = fma(in0[${at(xl, 'nb', ['u32(id)', 'u32(ih)', 'u32(iw)'], 'c')}], in1[${at(yl, 'nb', ['od', 'oh', 'ow'], 'oc')}], acc);
    }`;
    reduceEach(ctx, df.size, g.N * OD * OH * OW, bindings(['float32', 'float32'], ['float32']), setup, perItem, [x!, dy!], df, `Conv3DBackpropFilterV2 ${ctx.node.name}`);
    return [df];
  },
  { hostInputs: [1] },
);

// ---- 3-D pooling ----

function pool3dGeometry(node: KernelNode, inShape: readonly number[]): { g: Geom3; format: Format3D } {
  const a = window3d(node, { ksize: true });
  return { g: geometry3d(a, ndhwc(inShape, a.format, 'input'), a.ksize), format: a.format };
}

/** Statements clipping the window of output (d_, h_, w_) to the input: [<d>0, <d>1) per dim (u32, possibly empty). */
function windowOf(g: Geom3): string {
  return DIMS.map((d, j) => {
    const start = `${d}s`;
    return `let ${start} = i32(${d}_) * ${s32(g.s[j]!)} - ${s32(g.pad[j]!)};
  let ${d}0 = u32(max(${start}, 0)); let ${d}1 = u32(clamp(${start} + ${s32(g.k[j]!)}, 0, ${s32(g.in[j]!)}));`;
  }).join('\n  ');
}

/** Loops over the clipped window's input positions id, ih, iw (u32). */
function windowLoops(body: string): string {
  return `for (var id = d0; id < d1; id++) { for (var ih = h0; ih < h1; ih++) { for (var iw = w0; iw < w1; iw++) {
    ${body}
  } } }`;
}

/** Statements setting `arg` (i32) to the index into x of the first maximum of output (n_, d_, h_, w_, c_)'s window, -1 for none. */
function argmaxOf(g: Geom3, xl: Layout): string {
  return `${windowOf(g)}
  var arg = -1;
  var best = 0.0;
  ${windowLoops(`let xi = ${at(xl, 'n_', ['id', 'ih', 'iw'], 'c_')};
    let v = in0[xi];
    if (arg < 0 || v > best) { best = v; arg = i32(xi); }`)}`;
}

/**
 * Loops over the outputs o<dim> (u32) whose pooling windows hold input position (d_, h_, w_): from
 * ceil((i + pad - k + 1) / stride) to floor((i + pad) / stride), clipped to the output.
 */
function poolSourceLoops(g: Geom3, body: string): string {
  let code = body;
  for (let j = 2; j >= 0; j--) {
    const d = DIMS[j]!;
    const s = g.s[j]!;
    code = `{ let t${d} = i32(${d}_) + ${s32(g.pad[j]!)};
  let ${d}a = u32(max((t${d} - ${s32(g.k[j]! - 1)} + ${s32(s - 1)}) / ${s32(s)}, 0));
  let ${d}b = u32(clamp(t${d} / ${s32(s)} + 1, 0, ${s32(g.out[j]!)}));
  for (var o${d} = ${d}a; o${d} < ${d}b; o${d}++) {
    ${code}
  } }`;
  }
  return code;
}

registerGpuKernel('MaxPool3D', (ctx, [x]) => {
  const { g, format } = pool3dGeometry(ctx.node, x!.shape);
  const y = ctx.output(0, 'float32', layoutShape3d(format, g.N, g.out, g.C));
  const xl = layout(format, g.in, g.C);
  const body = `${coords(format, g.out, g.C)}
  ${windowOf(g)}
  var best = ${NEG_INF};
  ${windowLoops(`let v = in0[${at(xl, 'n_', ['id', 'ih', 'iw'], 'c_')}]; if (v > best) { best = v; }`)}
  out0[i] = best;`;
  ctx.dispatch(perElement(y.size, bindings(['float32'], ['float32']), body, `MaxPool3D ${ctx.node.name}`), [x!], [y]);
  return [y];
});

function maxPool3dGradSetup(ctx: KernelCtx, inputs: GpuTensor[], gradIsInputShaped: boolean) {
  const [x, y, grad] = inputs as [GpuTensor, GpuTensor, GpuTensor];
  const { g, format } = pool3dGeometry(ctx.node, x.shape);
  const outShape = layoutShape3d(format, g.N, g.out, g.C);
  expectShape(y.shape, outShape, 'orig_output');
  expectShape(grad.shape, gradIsInputShaped ? x.shape : outShape, 'grad');
  return { g, format, x, grad, outShape };
}

// MaxPool3DGrad: each window's maximum first (one index per output), then each input element adds
// the gradients of the windows whose maximum it is.
registerGpuKernel('MaxPool3DGrad', (ctx, inputs) => {
  const { g, format, x, grad, outShape } = maxPool3dGradSetup(ctx, inputs, false);
  const dx = ctx.output(0, 'float32', x.shape);
  const xl = layout(format, g.in, g.C);
  const yl = layout(format, g.out, g.C);
  const arg = ctx.scratch('int32', outShape, 'argmax');
  ctx.dispatch(perElement(arg.size, bindings(['float32'], ['int32']), `${coords(format, g.out, g.C)}\n  ${argmaxOf(g, xl)}\n  out0[i] = arg;`, `MaxPool3DGrad ${ctx.node.name} (argmax)`), [x], [arg]);
  const body = `${coords(format, g.in, g.C)}
  var acc = 0.0;
  ${poolSourceLoops(g, `let o = ${at(yl, 'n_', ['od', 'oh', 'ow'], 'c_')}; if (in0[o] == i32(i)) { acc += in1[o]; }`)}
  out0[i] = acc;`;
  ctx.dispatch(perElement(dx.size, bindings(['int32', 'float32'], ['float32']), body, `MaxPool3DGrad ${ctx.node.name}`), [arg, grad], [dx]);
  return [dx];
});

registerGpuKernel('MaxPool3DGradGrad', (ctx, inputs) => {
  const { g, format, x, grad, outShape } = maxPool3dGradSetup(ctx, inputs, true);
  const y = ctx.output(0, 'float32', outShape);
  const body = `${coords(format, g.out, g.C)}
  ${argmaxOf(g, layout(format, g.in, g.C))}
  out0[i] = select(0.0, in1[u32(max(arg, 0))], arg >= 0);`;
  ctx.dispatch(perElement(y.size, bindings(['float32', 'float32'], ['float32']), body, `MaxPool3DGradGrad ${ctx.node.name}`), [x, grad], [y]);
  return [y];
});

// Average pooling counts only the window elements inside the input (as TensorFlow).
registerGpuKernel('AvgPool3D', (ctx, [x]) => {
  const { g, format } = pool3dGeometry(ctx.node, x!.shape);
  const y = ctx.output(0, 'float32', layoutShape3d(format, g.N, g.out, g.C));
  const xl = layout(format, g.in, g.C);
  const body = `${coords(format, g.out, g.C)}
  ${windowOf(g)}
  var acc = 0.0;
  ${windowLoops(`acc += in0[${at(xl, 'n_', ['id', 'ih', 'iw'], 'c_')}];`)}
  let count = (d1 - d0) * (h1 - h0) * (w1 - w0);
  out0[i] = select(0.0, acc / f32(count), count > 0u);`;
  ctx.dispatch(perElement(y.size, bindings(['float32'], ['float32']), body, `AvgPool3D ${ctx.node.name}`), [x!], [y]);
  return [y];
});

registerGpuKernel(
  'AvgPool3DGrad',
  (ctx, [, grad]) => {
    const { g, format } = pool3dGeometry(ctx.node, sizesOf(ctx, 0, 5, 'orig_input_shape'));
    expectShape(grad!.shape, layoutShape3d(format, g.N, g.out, g.C), 'grad');
    const dx = ctx.output(0, 'float32', layoutShape3d(format, g.N, g.in, g.C));
    const yl = layout(format, g.out, g.C);
    // The number of input elements in output o's window, per dim.
    const count = DIMS.map((d, j) => `(min(i32(o${d}) * ${s32(g.s[j]!)} - ${s32(g.pad[j]!)} + ${s32(g.k[j]!)}, ${s32(g.in[j]!)}) - max(i32(o${d}) * ${s32(g.s[j]!)} - ${s32(g.pad[j]!)}, 0))`);
    const body = `${coords(format, g.in, g.C)}
  var acc = 0.0;
  ${poolSourceLoops(g, `acc += in0[${at(yl, 'n_', ['od', 'oh', 'ow'], 'c_')}] / f32(${count.join(' * ')});`)}
  out0[i] = acc;`;
    ctx.dispatch(perElement(dx.size, bindings(['float32'], ['float32']), body, `AvgPool3DGrad ${ctx.node.name}`), [grad!], [dx]);
    return [dx];
  },
  { hostInputs: [0] },
);

// ---- Dilation2D (NHWC; filter [KH, KW, C]) ----

function dilationGeometry(node: KernelNode, x: GpuTensor, f: GpuTensor): Geom {
  const a = windowAttrs(node, {});
  const rates = windowAttrs(node, { listName: 'rates' }).strides;
  const [N, H, W, C] = nhwc(x.shape, 'NHWC', 'input');
  if (f.shape.length !== 3) fail(`filter must be 3-dimensional, got shape ${formatShape(f.shape)}`);
  const [KH, KW, FC] = f.shape as [number, number, number];
  if (FC !== C) fail(`input depth ${C} must equal the filter's depth ${FC}`);
  return geometry({ ...a, dilations: rates }, N, H, W, C, KH, KW);
}

/** Statements splitting NHWC index `i` of sizes [.., H, W, C] into n_, h_, w_, c_. */
function coords2d(H: number, W: number, C: number): string {
  return `let c_ = i % ${div(C)}; let q0_ = i / ${div(C)}; let w_ = q0_ % ${div(W)}; let q1_ = q0_ / ${div(W)}; let h_ = q1_ % ${div(H)}; let n_ = q1_ / ${div(H)};`;
}

/** Statements computing, for output (n_, h_, w_, c_), `best` (max of x + filter) and `tap` (kh * KW + kw of the first maximum, -1 for none). */
function dilationMax(g: Geom): string {
  return `var best = ${LOWEST};
  var tap = -1;
  for (var kh = 0u; kh < ${u(g.KH)}; kh++) {
    let ih = i32(h_) * ${s32(g.sH)} - ${s32(g.padT)} + i32(kh) * ${s32(g.dH)};
    if (u32(ih) >= ${u(g.H)}) { continue; }
    for (var kw = 0u; kw < ${u(g.KW)}; kw++) {
      let iw = i32(w_) * ${s32(g.sW)} - ${s32(g.padL)} + i32(kw) * ${s32(g.dW)};
      if (u32(iw) >= ${u(g.W)}) { continue; }
      let v = in0[((n_ * ${u(g.H)} + u32(ih)) * ${u(g.W)} + u32(iw)) * ${u(g.C)} + c_] + in1[(kh * ${u(g.KW)} + kw) * ${u(g.C)} + c_];
      if (tap < 0 || v > best) { best = v; tap = i32(kh * ${u(g.KW)} + kw); }
    }
  }`;
}

registerGpuKernel('Dilation2D', (ctx, [x, f]) => {
  const g = dilationGeometry(ctx.node, x!, f!);
  const y = ctx.output(0, 'float32', [g.N, g.OH, g.OW, g.C]);
  const body = `${coords2d(g.OH, g.OW, g.C)}
  ${dilationMax(g)}
  out0[i] = best;`;
  ctx.dispatch(perElement(y.size, bindings(['float32', 'float32'], ['float32']), body, `Dilation2D ${ctx.node.name}`), [x!, f!], [y]);
  return [y];
});

/** The filter tap of each output's maximum (scratch, int32), checking out_backprop's shape. */
function dilationTaps(ctx: KernelCtx, g: Geom, x: GpuTensor, f: GpuTensor, dy: GpuTensor): GpuTensor {
  expectShape(dy.shape, [g.N, g.OH, g.OW, g.C], 'out_backprop');
  const taps = ctx.scratch('int32', dy.shape, 'taps');
  const body = `${coords2d(g.OH, g.OW, g.C)}
  ${dilationMax(g)}
  out0[i] = tap;`;
  ctx.dispatch(perElement(taps.size, bindings(['float32', 'float32'], ['int32']), body, `${ctx.node.type} ${ctx.node.name} (argmax)`), [x, f], [taps]);
  return taps;
}

// Each input element adds the gradients of the outputs whose maximum it gave.
registerGpuKernel('Dilation2DBackpropInput', (ctx, [x, f, dy]) => {
  const g = dilationGeometry(ctx.node, x!, f!);
  const taps = dilationTaps(ctx, g, x!, f!, dy!);
  const dx = ctx.output(0, 'float32', x!.shape);
  const body = `${coords2d(g.H, g.W, g.C)}
  var acc = 0.0;
  for (var kh = 0u; kh < ${u(g.KH)}; kh++) {
    let th = i32(h_) + ${s32(g.padT)} - i32(kh) * ${s32(g.dH)};
    if (th < 0 || th % ${s32(g.sH)} != 0 || u32(th / ${s32(g.sH)}) >= ${u(g.OH)}) { continue; }
    for (var kw = 0u; kw < ${u(g.KW)}; kw++) {
      let tw = i32(w_) + ${s32(g.padL)} - i32(kw) * ${s32(g.dW)};
      if (tw < 0 || tw % ${s32(g.sW)} != 0 || u32(tw / ${s32(g.sW)}) >= ${u(g.OW)}) { continue; }
      let o = ((n_ * ${u(g.OH)} + u32(th / ${s32(g.sH)})) * ${u(g.OW)} + u32(tw / ${s32(g.sW)})) * ${u(g.C)} + c_;
      if (in0[o] == i32(kh * ${u(g.KW)} + kw)) { acc += in1[o]; }
    }
  }
  out0[i] = acc;`;
  ctx.dispatch(perElement(dx.size, bindings(['int32', 'float32'], ['float32']), body, `Dilation2DBackpropInput ${ctx.node.name}`), [taps, dy!], [dx]);
  return [dx];
});

// Each filter element adds the gradients of the outputs whose maximum used it.
registerGpuKernel('Dilation2DBackpropFilter', (ctx, [x, f, dy]) => {
  const g = dilationGeometry(ctx.node, x!, f!);
  const taps = dilationTaps(ctx, g, x!, f!, dy!);
  const df = ctx.output(0, 'float32', f!.shape);
  const setup = `let c = e % ${div(g.C)}; let tap = i32(e / ${div(g.C)});`;
  const perItem = `let o = p * ${u(g.C)} + c; if (in0[o] == tap) { acc += in1[o]; }`;
  reduceEach(ctx, df.size, g.N * g.OH * g.OW, bindings(['int32', 'float32'], ['float32']), setup, perItem, [taps, dy!], df, `Dilation2DBackpropFilter ${ctx.node.name}`);
  return [df];
});

// ---- MaxPoolWithArgmax (NHWC) ----

function argmaxPoolGeometry(node: KernelNode, inShape: readonly number[]): Geom {
  const a = windowAttrs(node, {});
  const [KH, KW] = windowAttrs(node, { listName: 'ksize' }).strides;
  const [N, H, W, C] = nhwc(inShape, 'NHWC', 'input');
  return geometry(a, N, H, W, C, KH, KW);
}

registerGpuKernel('MaxPoolWithArgmax', (ctx, [x]) => {
  const g = argmaxPoolGeometry(ctx.node, x!.shape);
  const shape = [g.N, g.OH, g.OW, g.C];
  const argType = ctx.node.outputs[1]!.dtype;
  const y = ctx.output(0, 'float32', shape);
  const arg = ctx.output(1, argType, shape);
  // TensorFlow's flattened index: (y * width + x) * channels + c, plus the batch's offset with include_batch_in_index.
  const batchOffset = ctx.node.attrs.include_batch_in_index === true ? '0' : `i32(n_ * ${u(g.H * g.W * g.C)})`;
  const body = `${coords2d(g.OH, g.OW, g.C)}
  let hs = i32(h_) * ${s32(g.sH)} - ${s32(g.padT)};
  let ws = i32(w_) * ${s32(g.sW)} - ${s32(g.padL)};
  let h0 = u32(max(hs, 0)); let h1 = u32(clamp(hs + ${s32(g.KH)}, 0, ${s32(g.H)}));
  let w0 = u32(max(ws, 0)); let w1 = u32(clamp(ws + ${s32(g.KW)}, 0, ${s32(g.W)}));
  var best = ${LOWEST};
  var at_ = -1;
  for (var ih = h0; ih < h1; ih++) {
    for (var iw = w0; iw < w1; iw++) {
      let xi = ((n_ * ${u(g.H)} + ih) * ${u(g.W)} + iw) * ${u(g.C)} + c_;
      let v = in0[xi];
      if (at_ < 0 || v > best) { best = v; at_ = i32(xi); }
    }
  }
  out0[i] = best;
  ${store(argType, 'out1', 'i', `select(-1, at_ - ${batchOffset}, at_ >= 0)`)}`;
  ctx.dispatch(perElement(y.size, bindings(['float32'], ['float32', argType]), body, `MaxPoolWithArgmax ${ctx.node.name}`), [x!], [y, arg]);
  return [y, arg];
});

/**
 * Statements setting `t` (i32) to the input element pooled element `o` (u32) names through argmax
 * `arr`, and `ok` to whether it lies in o's batch (else the op's error flag is raised).
 */
function argmaxTarget(g: Geom, node: KernelNode, arr: string, argType: 'int32' | 'int64', o: string): string {
  const HWC = g.H * g.W * g.C;
  const b = `i32(${o} / ${div(g.OH * g.OW * g.C)})`;
  const withBatch = node.attrs.include_batch_in_index === true;
  return `let b_ = ${b};
  let t = ${load(argType, arr, o)}${withBatch ? '' : ` + b_ * ${s32(HWC)}`};
  let ok = t >= b_ * ${s32(HWC)} && t < (b_ + 1) * ${s32(HWC)};`;
}

function argmaxGradSetup(ctx: KernelCtx, [x, grad, argmax]: GpuTensor[], gradIsInputShaped: boolean) {
  const g = argmaxPoolGeometry(ctx.node, x!.shape);
  const pooled = [g.N, g.OH, g.OW, g.C];
  expectShape(argmax!.shape, pooled, 'argmax');
  expectShape(grad!.shape, gradIsInputShaped ? x!.shape : pooled, 'grad');
  const argType = argmax!.dtype;
  if (argType !== 'int32' && argType !== 'int64') fail(`argmax must be int32 or int64, got ${argType}`);
  const flag = ctx.check(`argmax holds an index that is not an element of its batch of the input (shape ${formatShape(x!.shape)})`);
  return { g, pooled, argType, flag };
}

// Scatters each pooled gradient to the input element its argmax names (float adds by compare-and-swap).
registerGpuKernel('MaxPoolGradWithArgmax', (ctx, inputs) => {
  const { g, argType, flag } = argmaxGradSetup(ctx, inputs, false);
  const [x, grad, argmax] = inputs as [GpuTensor, GpuTensor, GpuTensor];
  const dx = ctx.output(0, 'float32', x.shape);
  ctx.dispatch(perElement(dx.size, bindings([], ['float32']), 'out0[i] = 0.0;', `MaxPoolGradWithArgmax ${ctx.node.name} (zero)`), [], [dx]);
  const decls = `@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read> in1: array<${storageType(argType)}>;
@group(0) @binding(2) var<storage, read_write> out0: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> out1: array<i32>;`;
  const body = `${argmaxTarget(g, ctx.node, 'in1', argType, 'i')}
  if (!ok) { out1[0] = 1; return; }
  let gv = in0[i];
  var old = atomicLoad(&out0[u32(t)]);
  loop {
    let r = atomicCompareExchangeWeak(&out0[u32(t)], old, bitcast<u32>(bitcast<f32>(old) + gv));
    if (r.exchanged) { break; }
    old = r.old_value;
  }`;
  ctx.dispatch(perElement(grad.size, decls, body, `MaxPoolGradWithArgmax ${ctx.node.name}`), [grad, argmax], [dx, flag]);
  return [dx];
});

// Gathers an input-shaped gradient at the input element each argmax names.
registerGpuKernel('MaxPoolGradGradWithArgmax', (ctx, inputs) => {
  const { g, pooled, argType, flag } = argmaxGradSetup(ctx, inputs, true);
  const [, grad, argmax] = inputs as [GpuTensor, GpuTensor, GpuTensor];
  const y = ctx.output(0, 'float32', pooled);
  const body = `${argmaxTarget(g, ctx.node, 'in1', argType, 'i')}
  if (!ok) { out1[0] = 1; out0[i] = 0.0; return; }
  out0[i] = in0[u32(t)];`;
  ctx.dispatch(perElement(y.size, bindings(['float32', argType], ['float32', 'int32']), body, `MaxPoolGradGradWithArgmax ${ctx.node.name}`), [grad, argmax], [y, flag]);
  return [y];
});
