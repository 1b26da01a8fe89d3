// WebGPU kernels: convolution and pooling.
//
// Conv2D and its two backprops are implicit GEMMs tiled through workgroup memory: each workgroup
// computes a TM x TN tile of a matrix product whose operands are read straight from the tensors
// (no im2col buffer), TK values of the contraction at a time. Shapes, strides and paddings are
// baked into the WGSL, so both data formats are read in place (no transposes).
//   Conv2D:               rows = output pixels (n, oh, ow), cols = out channels, k = (kh, kw, c)
//   Conv2DBackpropInput:  rows = input pixels (n, ih, iw),  cols = in channels,  k = (kh, kw, oc)
//   Conv2DBackpropFilter: rows = filter taps (kh, kw, c),   cols = out channels, k = (n, oh, ow)
// The filter gradient contracts over every output pixel into a small matrix: it splits k over
// workgroups (partial sums in scratch) and adds the slices in a second pass.
// Depthwise convolutions and pooling are direct per-element kernels; gradients gather (each
// output element sums what reaches it) rather than scatter, so no atomics are needed.
import { InternalError } from '../../../src/core/errors.js';
import { formatShape } from '../../../src/core/shape.js';
import { layoutDims, type DataFormat } from '../../../ops/semantics/window.js';
import type { KernelNode } from '../../backend.js';
import { toNumbers } from '../../shape_helpers.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import { fail, geometry, layoutShape, nhwc, windowAttrs, type Geom } from '../../window_geometry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, perElement, PRELUDE, u } from '../wgsl.js';
import { fusedEpilogue, type Epilogue } from '../../activations.js';
import { activationFn } from './math.js';

// ---- geometry (as the CPU kernels compute it, with the same errors) ----


function expectShape(actual: readonly number[], expected: readonly number[], what: string): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    fail(`${what} has shape ${formatShape(actual)}, expected ${formatShape(expected)}`);
  }
}

function filterDims(f: readonly number[], what = 'filter'): [number, number, number, number] {
  if (f.length !== 4) fail(`${what} must be 4-dimensional, got shape ${formatShape(f)}`);
  return f as [number, number, number, number];
}

function checkDepth(inDepth: number, filterDepth: number): void {
  if (inDepth !== filterDepth) fail(`input depth ${inDepth} must equal the filter's in_channels ${filterDepth}`);
}

/** Element strides of the n, h, w and c dims of a 4-D tensor [N, H, W, C] stored in `format`. */
interface Layout {
  n: number;
  h: number;
  w: number;
  c: number;
}

function layout(format: DataFormat, H: number, W: number, C: number): Layout {
  return format === 'NHWC' ? { n: H * W * C, h: W * C, w: C, c: 1 } : { n: C * H * W, c: H * W, h: W, w: 1 };
}

/** A u32 expression for the element at (n, h, w, c) (u32 expressions) of a tensor with layout `l`. */
function at(l: Layout, n: string, h: string, w: string, c: string): string {
  const term = (v: string, s: number) => (s === 1 ? `(${v})` : `(${v}) * ${u(s)}`);
  return `${term(n, l.n)} + ${term(h, l.h)} + ${term(w, l.w)} + ${term(c, l.c)}`;
}

/** Statements splitting the linear index `i` of a tensor of NHWC sizes [N, H, W, C] in `format` into u32s n_, h_, w_, c_. */
function coords(format: DataFormat, H: number, W: number, C: number, i = 'i'): string {
  if (format === 'NHWC') {
    return `let c_ = ${i} % ${u(C)}; let q0_ = ${i} / ${u(C)}; let w_ = q0_ % ${u(W)}; let q1_ = q0_ / ${u(W)}; let h_ = q1_ % ${u(H)}; let n_ = q1_ / ${u(H)};`;
  }
  return `let w_ = ${i} % ${u(W)}; let q0_ = ${i} / ${u(W)}; let h_ = q0_ % ${u(H)}; let q1_ = q0_ / ${u(H)}; let c_ = q1_ % ${u(C)}; let n_ = q1_ / ${u(C)};`;
}

/** An i32 WGSL constant. */
function s32(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) > 0x7fffffff) throw new InternalError(`WGSL constant ${n} is not an int32`);
  return n < 0 ? `(${n})` : `${n}`;
}

// ---- implicit GEMM ----

const THREADS = 256;
const TK = 16;
const MAX_GROUPS = 65535;

/**
 * One operand of a GEMM tile loader. Rows index the M (or N) dim, k the contraction. `fast` says
 * which of the two is contiguous in memory: consecutive threads then load consecutive elements.
 */
interface Operand {
  fast: 'row' | 'k';
  /** Statements declaring row `r`'s locals, each name ending in suffix `s` (run once, before the k loop). */
  rowDec(r: string, s: string): string;
  /** Statements declaring k's locals, names ending in `s`. */
  kDec(k: string, s: string): string;
  /**
   * The element at (row locals `rs`, k locals `ks`; the row and k indices themselves are `r<rs>` and
   * `k<ks>`): its in-bounds condition ('' = always) and its index into `arr`.
   */
  elem(rs: string, ks: string): { cond: string; idx: string };
  arr: string;
}

interface GemmSpec {
  M: number;
  N: number;
  K: number;
  a: Operand;
  b: Operand;
  /** Statements writing value `v` of element (m, n) (u32 expressions) to out0; `bias` names the bias array. */
  store(m: string, n: string, v: string, bias: string): string;
  /** Inputs, bound as in0.. (the names the operands and the store use), before the output. */
  inputs: GpuTensor[];
  /** Index among `inputs` of the bias read by `store` (the reduction pass rebinds it). */
  biasInput?: number;
  /** Functions `store` calls. */
  decls?: string;
  label: string;
}

function tileSize(n: number): number {
  return n <= 16 ? 16 : n <= 32 ? 32 : 64;
}

/** Loads of one operand's tile into shared array `sh` ([TK][rows]), for the k tile starting at `kt`. */
function tileLoads(op: Operand, rows: number, total: number, K: number, origin: string, sh: string, tag: string): { pre: string; body: string } {
  const count = (rows * TK) / THREADS;
  const pre: string[] = [];
  const body: string[] = [];
  if (op.fast === 'k') {
    // Thread t loads k = kt + t % TK of rows t / TK + j * (THREADS / TK).
    const step = THREADS / TK;
    for (let j = 0; j < count; j++) {
      const s = `${tag}${j}`;
      pre.push(`let rl${s} = t / ${u(TK)} + ${u(j * step)}; let r${s} = ${origin} + rl${s}; let rv${s} = r${s} < ${u(total)};`);
      pre.push(op.rowDec(`r${s}`, s));
    }
    const ks = `${tag}k`;
    body.push(`{ let kl${ks} = t % ${u(TK)}; let k${ks} = kt + kl${ks}; let kv${ks} = k${ks} < ${u(K)};`);
    body.push(op.kDec(`k${ks}`, ks));
    for (let j = 0; j < count; j++) {
      const s = `${tag}${j}`;
      const e = op.elem(s, ks);
      body.push(`{ var v = 0.0; if (${all(`rv${s}`, `kv${ks}`, e.cond)}) { v = ${op.arr}[${e.idx}]; } ${sh}[kl${ks}][rl${s}] = v; }`);
    }
    body.push('}');
  } else {
    // Thread t loads row t % rows at k = kt + t / rows + j * (THREADS / rows).
    const step = THREADS / rows;
    const s = `${tag}r`;
    pre.push(`let rl${s} = t % ${u(rows)}; let r${s} = ${origin} + rl${s}; let rv${s} = r${s} < ${u(total)};`);
    pre.push(op.rowDec(`r${s}`, s));
    for (let j = 0; j < count; j++) {
      const ks = `${tag}${j}`;
      const e = op.elem(s, ks);
      body.push(`{ let kl${ks} = t / ${u(rows)} + ${u(j * step)}; let k${ks} = kt + kl${ks};`);
      body.push(op.kDec(`k${ks}`, ks));
      body.push(`var v = 0.0; if (${all(`rv${s}`, `k${ks} < ${u(K)}`, e.cond)}) { v = ${op.arr}[${e.idx}]; } ${sh}[kl${ks}][rl${s}] = v; }`);
    }
  }
  return { pre: pre.join('\n  '), body: body.join('\n    ') };
}

/**
 * Conditions joined without short-circuiting: one branch instead of a chain (cheaper on GPUs, and
 * much faster to compile for SwiftShader).
 */
function all(...conds: string[]): string {
  return conds.filter((c) => c).map((c) => `(${c})`).join(' & ');
}

/** Workgroups for `groups` tiles (folded over x and y) times `z` k slices. */
function gemmGrid(groups: number, z: number): { workgroups: [number, number, number]; x: number } {
  if (groups <= MAX_GROUPS) return { workgroups: [groups, 1, z], x: groups };
  const y = Math.ceil(groups / MAX_GROUPS);
  const x = Math.ceil(groups / y);
  return { workgroups: [x, y, z], x };
}

/**
 * Records out = A[M, K] * B[K, N] through `spec.store`. With `splitTarget`, contractions over a large
 * K into few tiles are split over k slices (partial sums in scratch, added in a second dispatch).
 */
function gemm(ctx: KernelCtx, spec: GemmSpec, out: GpuTensor, splitTarget = 0): void {
  const { M, N, K } = spec;
  if (M === 0 || N === 0) return;
  const TN = tileSize(N);
  // Smaller row tiles when 64-row tiles would leave most of a large GPU idle.
  const TM = tileSize(M) === 64 && Math.ceil(M / 64) * Math.ceil(N / TN) < 256 ? 32 : tileSize(M);
  const RM = TM / 16;
  const RN = TN / 16;
  const tilesM = Math.ceil(M / TM);
  const tilesN = Math.ceil(N / TN);
  const kTiles = Math.ceil(K / TK);
  let split = 1;
  if (splitTarget > 0 && tilesM * tilesN < splitTarget) split = Math.max(1, Math.min(Math.ceil(splitTarget / (tilesM * tilesN)), Math.floor(kTiles / 8)));
  const tilesPerSlice = Math.max(1, Math.ceil(kTiles / split));
  split = Math.max(1, Math.ceil(kTiles / tilesPerSlice));
  const { workgroups, x } = gemmGrid(tilesM * tilesN, split);

  const la = tileLoads(spec.a, TM, M, K, 'm0', 'As', 'a');
  const lb = tileLoads(spec.b, TN, N, K, 'n0', 'Bs', 'b');
  const accs: string[] = [];
  const fmas: string[] = [];
  const stores: string[] = [];
  for (let i = 0; i < RM; i++) fmas.push(`let a${i} = As[kk][ty + ${u(16 * i)}];`);
  for (let j = 0; j < RN; j++) fmas.push(`let b${j} = Bs[kk][tx + ${u(16 * j)}];`);
  for (let i = 0; i < RM; i++) {
    for (let j = 0; j < RN; j++) {
      accs.push(`var c${i}_${j} = 0.0;`);
      fmas.push(`c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
      const m = `m0 + ty + ${u(16 * i)}`;
      const n = `n0 + tx + ${u(16 * j)}`;
      const write = split === 1 ? spec.store('m', 'n', `c${i}_${j}`, `in${spec.biasInput ?? 0}`) : `out0[(wg.z * ${u(M)} + m) * ${u(N)} + n] = c${i}_${j};`;
      stores.push(`{ let m = ${m}; let n = ${n}; if (m < ${u(M)} && n < ${u(N)}) { ${write} } }`);
    }
  }
  // k starts at a run-time value (wg.z is 0 without slices): a loop of known trip count gets unrolled
  // whole by some shader compilers (SwiftShader's takes minutes on it).
  const kStart = `wg.z * ${u(tilesPerSlice * TK)}`;
  const kEnd = split === 1 ? u(kTiles * TK) : `min(${kStart} + ${u(tilesPerSlice * TK)}, ${u(kTiles * TK)})`;
  // Tiles are stored k-major with one spare column, so threads storing down a k column hit distinct banks.
  const code = `${PRELUDE}
${bindings(spec.inputs.map((t) => t.dtype), ['float32'])}
${spec.decls ?? ''}
var<workgroup> As: array<array<f32, ${TM + 1}>, ${TK}>;
var<workgroup> Bs: array<array<f32, ${TN + 1}>, ${TK}>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let tile = wg.x + wg.y * ${u(x)};
  if (tile >= ${u(tilesM * tilesN)}) { return; }
  let m0 = (tile / ${u(tilesN)}) * ${u(TM)};
  let n0 = (tile % ${u(tilesN)}) * ${u(TN)};
  let tx = t % 16u;
  let ty = t / 16u;
  ${la.pre}
  ${lb.pre}
  ${accs.join(' ')}
  let kBegin = ${kStart};
  let kEnd = ${kEnd};
  for (var kt = kBegin; kt < kEnd; kt += ${u(TK)}) {
    ${la.body}
    ${lb.body}
    workgroupBarrier();
    for (var kk = 0u; kk < ${u(TK)}; kk++) {
      ${fmas.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${stores.join('\n  ')}
}`;
  if (split === 1) {
    ctx.dispatch({ code, workgroups, label: spec.label }, spec.inputs, [out]);
    return;
  }
  const partial = ctx.scratch('float32', [split, M, N], 'splitk');
  ctx.dispatch({ code, workgroups, label: `${spec.label} (k slices)` }, spec.inputs, [partial]);
  const bias = spec.biasInput !== undefined ? [spec.inputs[spec.biasInput]!] : [];
  const sum = `var v = 0.0; for (var s = 0u; s < ${u(split)}; s++) { v += in0[s * ${u(M * N)} + i]; }`;
  ctx.dispatch(
    perElement(M * N, `${bindings(['float32', ...bias.map((b) => b.dtype)], ['float32'])}\n${spec.decls ?? ''}`, `${sum} let m = i / ${u(N)}; let n = i % ${u(N)}; ${spec.store('m', 'n', 'v', 'in1')}`, `${spec.label} (sum of k slices)`),
    [partial, ...bias],
    [out],
  );
}

// ---- Conv2D and its backprops ----


/** The implicit-GEMM A operand of Conv2D: rows are output pixels, k = (kh, kw, c) of input `arr` with layout `xl`. */
function im2colRows(g: Geom, xl: Layout, arr: string, format: DataFormat): Operand {
  const OHW = g.OH * g.OW;
  return {
    fast: format === 'NHWC' ? 'k' : 'row',
    arr,
    rowDec: (r, s) =>
      `let p${s} = ${r} % ${u(OHW || 1)}; let xb${s} = (${r} / ${u(OHW || 1)}) * ${u(xl.n)}; ` +
      `let ih${s} = i32(p${s} / ${u(g.OW || 1)}) * ${s32(g.sH)} - ${s32(g.padT)}; let iw${s} = i32(p${s} % ${u(g.OW || 1)}) * ${s32(g.sW)} - ${s32(g.padL)};`,
    kDec: (k, s) =>
      `let kh${s} = ${k} / ${u(g.KW * g.C || 1)}; let kr${s} = ${k} % ${u(g.KW * g.C || 1)}; ` +
      `let dh${s} = i32(kh${s}) * ${s32(g.dH)}; let dw${s} = i32(kr${s} / ${u(g.C || 1)}) * ${s32(g.dW)}; let co${s} = (kr${s} % ${u(g.C || 1)}) * ${u(xl.c)};`,
    elem: (rs, ks) => ({
      cond: all(`u32(ih${rs} + dh${ks}) < ${u(g.H)}`, `u32(iw${rs} + dw${ks}) < ${u(g.W)}`),
      idx: `xb${rs} + u32(ih${rs} + dh${ks}) * ${u(xl.h)} + u32(iw${rs} + dw${ks}) * ${u(xl.w)} + co${ks}`,
    }),
  };
}

/** A row-major [K, N] matrix `arr` as the B operand. */
function plainB(N: number, arr: string): Operand {
  return {
    fast: 'row',
    arr,
    rowDec: () => '',
    kDec: () => '',
    elem: (rs, ks) => ({ cond: '', idx: `k${ks} * ${u(N)} + r${rs}` }),
  };
}

/** Statements writing v at output pixel m (n, oh, ow linear), channel n, of a tensor [N, OH, OW, OC] in `format`. */
function pixelStore(format: DataFormat, P: number, OC: number, m: string, n: string, v: string): string {
  if (format === 'NHWC') return `out0[${m} * ${u(OC)} + ${n}] = ${v};`;
  return `out0[((${m} / ${u(P || 1)}) * ${u(OC)} + ${n}) * ${u(P)} + ${m} % ${u(P || 1)}] = ${v};`;
}

function conv2dForward(ctx: KernelCtx, x: GpuTensor, f: GpuTensor, epilogue?: Epilogue & { bias: GpuTensor }): GpuTensor {
  const a = windowAttrs(ctx.node, { dilations: true, explicit: true });
  const [N, H, W, C] = nhwc(x.shape, a.format, 'input');
  const [KH, KW, FC, OC] = filterDims(f.shape);
  checkDepth(C, FC);
  const g = geometry(a, N, H, W, C, KH, KW);
  const shape = layoutShape(a.format, N, g.OH, g.OW, OC);
  if (epilogue) {
    const b = epilogue.bias;
    if (b.shape.length !== 1 || b.shape[0] !== OC) {
      fail(`Must provide as many biases as the channel dimension of the input tensor: ${formatShape(b.shape)} vs. ${formatShape(shape)}`);
    }
  }
  const y = ctx.output(0, 'float32', shape);
  const P = g.OH * g.OW;
  const store = (m: string, n: string, v: string, bias: string) =>
    epilogue
      ? `let e = ${v} + ${bias}[${n}]; ${pixelStore(a.format, P, OC, m, n, 'act(e)')}`
      : pixelStore(a.format, P, OC, m, n, v);
  gemm(
    ctx,
    {
      M: N * P,
      N: OC,
      K: KH * KW * C,
      a: im2colRows(g, layout(a.format, H, W, C), 'in0', a.format),
      b: plainB(OC, 'in1'),
      store,
      inputs: epilogue ? [x, f, epilogue.bias] : [x, f],
      biasInput: epilogue ? 2 : undefined,
      decls: epilogue ? activationFn(epilogue.act, epilogue.alpha) : undefined,
      label: `${ctx.node.type} ${ctx.node.name}`,
    },
    y,
  );
  return y;
}

registerGpuKernel('Conv2D', (ctx, [x, f]) => [conv2dForward(ctx, x!, f!)]);

registerGpuKernel('_FusedConv2D', (ctx, [x, f, bias]) => [conv2dForward(ctx, x!, f!, { bias: bias!, ...fusedEpilogue(ctx.node.attrs) })]);

/** input_sizes of a backprop-input op (4 sizes, or [height, width] with batch and depth from the other inputs). */
function inputSizes(ctx: KernelCtx, format: DataFormat, FC: number, dy: GpuTensor): number[] {
  const d = layoutDims(format);
  let s = toNumbers(ctx.host(0));
  if (s.length === 2) {
    const full = [0, 0, 0, 0];
    full[d.n] = dy.shape[d.n] ?? 0;
    full[d.h] = s[0]!;
    full[d.w] = s[1]!;
    full[d.c] = FC;
    s = full;
  }
  if (s.length !== 4 || s.some((v) => v < 0)) fail(`input_sizes must be 4 non-negative sizes, got [${s.join(', ')}]`);
  return s;
}

function checkOutBackprop(dy: GpuTensor, g: Geom, outDepth: number, format: DataFormat): void {
  const [n, h, w, c] = nhwc(dy.shape, format, 'out_backprop');
  expectShape([n, h, w, c], [g.N, g.OH, g.OW, outDepth], `out_backprop (in NHWC order)`);
}

function filterSizes(ctx: KernelCtx): [number, number, number, number] {
  const s = toNumbers(ctx.host(1));
  if (s.length !== 4 || s.some((v) => v < 0)) fail(`filter_sizes must be 4 non-negative sizes, got [${s.join(', ')}]`);
  return s as [number, number, number, number];
}

registerGpuKernel(
  'Conv2DBackpropInput',
  (ctx, [, f, dy]) => {
    const a = windowAttrs(ctx.node, { dilations: true, explicit: true });
    const [KH, KW, FC, OC] = filterDims(f!.shape);
    const sizes = inputSizes(ctx, a.format, FC, dy!);
    const [N, H, W, C] = nhwc(sizes, a.format, 'input_sizes');
    checkDepth(C, FC);
    const g = geometry(a, N, H, W, C, KH, KW);
    checkOutBackprop(dy!, g, OC, a.format);
    const dx = ctx.output(0, 'float32', layoutShape(a.format, N, H, W, C));
    const yl = layout(a.format, g.OH, g.OW, OC);
    const HW = H * W;
    // A: dy at the output pixel (n, oh, ow) that reads input pixel row r through tap (kh, kw):
    // oh = (ih + padT - kh * dH) / sH when that divides exactly and lands inside.
    const dyOp: Operand = {
      fast: a.format === 'NHWC' ? 'k' : 'row',
      arr: 'in1',
      rowDec: (r, s) =>
        `let p${s} = ${r} % ${u(HW || 1)}; let yb${s} = (${r} / ${u(HW || 1)}) * ${u(yl.n)}; ` +
        `let th${s} = i32(p${s} / ${u(W || 1)}) + ${s32(g.padT)}; let tw${s} = i32(p${s} % ${u(W || 1)}) + ${s32(g.padL)};`,
      kDec: (k, s) =>
        `let kh${s} = ${k} / ${u(KW * OC || 1)}; let kr${s} = ${k} % ${u(KW * OC || 1)}; ` +
        `let dh${s} = i32(kh${s}) * ${s32(g.dH)}; let dw${s} = i32(kr${s} / ${u(OC || 1)}) * ${s32(g.dW)}; let oo${s} = (kr${s} % ${u(OC || 1)}) * ${u(yl.c)};`,
      elem: (rs, ks) => {
        const oh = `(th${rs} - dh${ks})`;
        const ow = `(tw${rs} - dw${ks})`;
        const conds = [`${oh} >= 0`, `${ow} >= 0`];
        if (g.sH > 1) conds.push(`${oh} % ${s32(g.sH)} == 0`);
        if (g.sW > 1) conds.push(`${ow} % ${s32(g.sW)} == 0`);
        const ohv = g.sH > 1 ? `u32(${oh} / ${s32(g.sH)})` : `u32(${oh})`;
        const owv = g.sW > 1 ? `u32(${ow} / ${s32(g.sW)})` : `u32(${ow})`;
        conds.push(`${ohv} < ${u(g.OH)}`, `${owv} < ${u(g.OW)}`);
        return { cond: all(...conds), idx: `yb${rs} + ${ohv} * ${u(yl.h)} + ${owv} * ${u(yl.w)} + oo${ks}` };
      },
    };
    // B: the filter [KH, KW, C, OC] as a matrix [(kh, kw, oc), c].
    const fOp: Operand = {
      fast: 'k',
      arr: 'in0',
      rowDec: (r, s) => `let fc${s} = ${r} * ${u(OC)};`,
      kDec: (k, s) => `let fk${s} = (${k} / ${u(OC || 1)}) * ${u(C * OC)} + ${k} % ${u(OC || 1)};`,
      elem: (rs, ks) => ({ cond: '', idx: `fk${ks} + fc${rs}` }),
    };
    gemm(
      ctx,
      {
        M: N * HW,
        N: C,
        K: KH * KW * OC,
        a: dyOp,
        b: fOp,
        store: (m, n, v) => pixelStore(a.format, HW, C, m, n, v),
        inputs: [f!, dy!],
        label: `Conv2DBackpropInput ${ctx.node.name}`,
      },
      dx,
    );
    return [dx];
  },
  { hostInputs: [0] },
);

registerGpuKernel(
  'Conv2DBackpropFilter',
  (ctx, [x, , dy]) => {
    const a = windowAttrs(ctx.node, { dilations: true, explicit: true });
    const [N, H, W, C] = nhwc(x!.shape, a.format, 'input');
    const [KH, KW, FC, OC] = filterSizes(ctx);
    checkDepth(C, FC);
    const g = geometry(a, N, H, W, C, KH, KW);
    checkOutBackprop(dy!, g, OC, a.format);
    const df = ctx.output(0, 'float32', [KH, KW, FC, OC]);
    const xl = layout(a.format, H, W, C);
    const yl = layout(a.format, g.OH, g.OW, OC);
    const P = g.OH * g.OW;
    // A: rows are filter taps (kh, kw, c), k runs over output pixels (n, oh, ow).
    const xOp: Operand = {
      fast: a.format === 'NHWC' ? 'row' : 'k',
      arr: 'in0',
      rowDec: (r, s) =>
        `let kh${s} = ${r} / ${u(KW * C || 1)}; let kr${s} = ${r} % ${u(KW * C || 1)}; ` +
        `let dh${s} = i32(kh${s}) * ${s32(g.dH)} - ${s32(g.padT)}; let dw${s} = i32(kr${s} / ${u(C || 1)}) * ${s32(g.dW)} - ${s32(g.padL)}; let co${s} = (kr${s} % ${u(C || 1)}) * ${u(xl.c)};`,
      kDec: (k, s) =>
        `let p${s} = ${k} % ${u(P || 1)}; let xb${s} = (${k} / ${u(P || 1)}) * ${u(xl.n)}; ` +
        `let ih${s} = i32(p${s} / ${u(g.OW || 1)}) * ${s32(g.sH)}; let iw${s} = i32(p${s} % ${u(g.OW || 1)}) * ${s32(g.sW)};`,
      elem: (rs, ks) => ({
        cond: all(`u32(ih${ks} + dh${rs}) < ${u(H)}`, `u32(iw${ks} + dw${rs}) < ${u(W)}`),
        idx: `xb${ks} + u32(ih${ks} + dh${rs}) * ${u(xl.h)} + u32(iw${ks} + dw${rs}) * ${u(xl.w)} + co${rs}`,
      }),
    };
    const dyOp: Operand =
      a.format === 'NHWC'
        ? plainB(OC, 'in1')
        : {
            fast: 'k',
            arr: 'in1',
            rowDec: (r, s) => `let yc${s} = ${r} * ${u(yl.c)};`,
            kDec: (k, s) => `let yk${s} = (${k} / ${u(P || 1)}) * ${u(yl.n)} + ${k} % ${u(P || 1)};`,
            elem: (rs, ks) => ({ cond: '', idx: `yk${ks} + yc${rs}` }),
          };
    gemm(
      ctx,
      {
        M: KH * KW * C,
        N: OC,
        K: N * P,
        a: xOp,
        b: dyOp,
        store: (m, n, v) => `out0[${m} * ${u(OC)} + ${n}] = ${v};`,
        inputs: [x!, dy!],
        label: `Conv2DBackpropFilter ${ctx.node.name}`,
      },
      df,
      256,
    );
    return [df];
  },
  { hostInputs: [1] },
);

// ---- depthwise convolution (filter [KH, KW, C, M], output depth C * M) ----

registerGpuKernel('DepthwiseConv2dNative', (ctx, [x, f]) => {
  const a = windowAttrs(ctx.node, { dilations: true, explicit: true });
  const [N, H, W, C] = nhwc(x!.shape, a.format, 'input');
  const [KH, KW, FC, M] = filterDims(f!.shape);
  checkDepth(C, FC);
  const g = geometry(a, N, H, W, C, KH, KW);
  const OC = C * M;
  const y = ctx.output(0, 'float32', layoutShape(a.format, N, g.OH, g.OW, OC));
  const xl = layout(a.format, H, W, C);
  const body = `${coords(a.format, g.OH, g.OW, OC)}
  let c = c_ / ${u(M || 1)};
  let ih0 = i32(h_) * ${s32(g.sH)} - ${s32(g.padT)};
  let iw0 = i32(w_) * ${s32(g.sW)} - ${s32(g.padL)};
  var acc = 0.0;
  for (var kh = 0u; kh < ${u(KH)}; kh++) {
    let ih = ih0 + i32(kh) * ${s32(g.dH)};
    if (u32(ih) >= ${u(H)}) { continue; }
    for (var kw = 0u; kw < ${u(KW)}; kw++) {
      let iw = iw0 + i32(kw) * ${s32(g.dW)};
      if (u32(iw) >= ${u(W)}) { continue; }
      acc = fma(in0[${at(xl, 'n_', 'u32(ih)', 'u32(iw)', 'c')}], in1[(kh * ${u(KW)} + kw) * ${u(OC)} + c_], acc);
    }
  }
  out0[i] = acc;`;
  ctx.dispatch(perElement(y.size, bindings(['float32', 'float32'], ['float32']), body, `DepthwiseConv2dNative ${ctx.node.name}`), [x!, f!], [y]);
  return [y];
});

registerGpuKernel(
  'DepthwiseConv2dNativeBackpropInput',
  (ctx, [, f, dy]) => {
    const a = windowAttrs(ctx.node, { dilations: true, explicit: true });
    const [KH, KW, FC, M] = filterDims(f!.shape);
    const sizes = inputSizes(ctx, a.format, FC, dy!);
    const [N, H, W, C] = nhwc(sizes, a.format, 'input_sizes');
    checkDepth(C, FC);
    const g = geometry(a, N, H, W, C, KH, KW);
    const OC = C * M;
    checkOutBackprop(dy!, g, OC, a.format);
    const dx = ctx.output(0, 'float32', layoutShape(a.format, N, H, W, C));
    const yl = layout(a.format, g.OH, g.OW, OC);
    const body = `${coords(a.format, H, W, C)}
  let th = i32(h_) + ${s32(g.padT)};
  let tw = i32(w_) + ${s32(g.padL)};
  var acc = 0.0;
  for (var kh = 0u; kh < ${u(KH)}; kh++) {
    let oh = th - i32(kh) * ${s32(g.dH)};
    if (oh < 0 || oh % ${s32(g.sH)} != 0 || u32(oh / ${s32(g.sH)}) >= ${u(g.OH)}) { continue; }
    for (var kw = 0u; kw < ${u(KW)}; kw++) {
      let ow = tw - i32(kw) * ${s32(g.dW)};
      if (ow < 0 || ow % ${s32(g.sW)} != 0 || u32(ow / ${s32(g.sW)}) >= ${u(g.OW)}) { continue; }
      let yb = ${at(yl, 'n_', `u32(oh / ${s32(g.sH)})`, `u32(ow / ${s32(g.sW)})`, `c_ * ${u(M)}`)};
      let fb = ((kh * ${u(KW)} + kw) * ${u(C)} + c_) * ${u(M)};
      for (var m = 0u; m < ${u(M)}; m++) {
        acc = fma(in1[yb + m * ${u(yl.c)}], in0[fb + m], acc);
      }
    }
  }
  out0[i] = acc;`;
    ctx.dispatch(perElement(dx.size, bindings(['float32', 'float32'], ['float32']), body, `DepthwiseConv2dNativeBackpropInput ${ctx.node.name}`), [f!, dy!], [dx]);
    return [dx];
  },
  { hostInputs: [0] },
);

registerGpuKernel(
  'DepthwiseConv2dNativeBackpropFilter',
  (ctx, [x, , dy]) => {
    const a = windowAttrs(ctx.node, { dilations: true, explicit: true });
    const [N, H, W, C] = nhwc(x!.shape, a.format, 'input');
    const [KH, KW, FC, M] = filterSizes(ctx);
    checkDepth(C, FC);
    const g = geometry(a, N, H, W, C, KH, KW);
    const OC = C * M;
    checkOutBackprop(dy!, g, OC, a.format);
    const df = ctx.output(0, 'float32', [KH, KW, FC, M]);
    const n = df.size;
    if (n === 0) return [df];
    const xl = layout(a.format, H, W, C);
    const yl = layout(a.format, g.OH, g.OW, OC);
    const P = N * g.OH * g.OW;
    // One workgroup per filter element: its threads stride over the output pixels, then add up.
    const { workgroups, x: gx } = gemmGrid(n, 1);
    const code = `${bindings(['float32', 'float32'], ['float32'])}
var<workgroup> part: array<f32, ${THREADS}>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let e = wg.x + wg.y * ${u(gx)};
  if (e >= ${u(n)}) { return; }
  let m = e % ${u(M)};
  let c = (e / ${u(M)}) % ${u(C)};
  let kk = e / ${u(C * M)};
  let dh = i32(kk / ${u(KW)}) * ${s32(g.dH)} - ${s32(g.padT)};
  let dw = i32(kk % ${u(KW)}) * ${s32(g.dW)} - ${s32(g.padL)};
  var acc = 0.0;
  for (var p = t; p < ${u(P)}; p += ${u(THREADS)}) {
    let ow = p % ${u(g.OW || 1)};
    let q = p / ${u(g.OW || 1)};
    let oh = q % ${u(g.OH || 1)};
    let nb = q / ${u(g.OH || 1)};
    let ih = i32(oh) * ${s32(g.sH)} + dh;
    let iw = i32(ow) * ${s32(g.sW)} + dw;
    if (u32(ih) < ${u(H)} && u32(iw) < ${u(W)}) {
      acc = fma(in0[${at(xl, 'nb', 'u32(ih)', 'u32(iw)', 'c')}], in1[${at(yl, 'nb', 'oh', 'ow', `c * ${u(M)} + m`)}], acc);
    }
  }
  part[t] = acc;
  workgroupBarrier();
  for (var s = ${u(THREADS / 2)}; s > 0u; s >>= 1u) {
    if (t < s) { part[t] += part[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) { out0[e] = part[0]; }
}`;
    ctx.dispatch({ code, workgroups, label: `DepthwiseConv2dNativeBackpropFilter ${ctx.node.name}` }, [x!, dy!], [df]);
    return [df];
  },
  { hostInputs: [1] },
);

// ---- pooling ----

function poolGeometry(node: KernelNode, inShape: readonly number[]): { g: Geom; format: DataFormat } {
  const a = windowAttrs(node, {});
  const [KH, KW] = windowAttrs(node, { listName: 'ksize' }).strides;
  const [N, H, W, C] = nhwc(inShape, a.format, 'input');
  return { g: geometry(a, N, H, W, C, KH, KW), format: a.format };
}

/** Statements clipping the window of output (h_, w_) to the input: h0..h1, w0..w1 (u32, possibly empty). */
function windowOf(g: Geom): string {
  return `let hs = i32(h_) * ${s32(g.sH)} - ${s32(g.padT)};
  let ws = i32(w_) * ${s32(g.sW)} - ${s32(g.padL)};
  let h0 = u32(max(hs, 0)); let h1 = u32(clamp(hs + ${s32(g.KH)}, 0, ${s32(g.H)}));
  let w0 = u32(max(ws, 0)); let w1 = u32(clamp(ws + ${s32(g.KW)}, 0, ${s32(g.W)}));`;
}

/**
 * Statements setting `arg` (i32) to the index into x of the window maximum of output (n_, h_, w_, c_):
 * the first one in row-major window order on ties (as the CPU kernel), -1 for an empty window.
 */
function argmaxOf(g: Geom, xl: Layout): string {
  return `${windowOf(g)}
  var arg = -1;
  var best = 0.0;
  for (var ih = h0; ih < h1; ih++) {
    for (var iw = w0; iw < w1; iw++) {
      let xi = ${at(xl, 'n_', 'ih', 'iw', 'c_')};
      let v = in0[xi];
      if (arg < 0 || v > best) { best = v; arg = i32(xi); }
    }
  }`;
}

registerGpuKernel('MaxPool', (ctx, [x]) => {
  const { g, format } = poolGeometry(ctx.node, x!.shape);
  const y = ctx.output(0, 'float32', layoutShape(format, g.N, g.OH, g.OW, g.C));
  const xl = layout(format, g.H, g.W, g.C);
  const body = `${coords(format, g.OH, g.OW, g.C)}
  ${windowOf(g)}
  // -Infinity for an empty window, made at run time (a constant -inf does not compile).
  var best = bitcast<f32>(0xff800000u | (i & 0u));
  for (var ih = h0; ih < h1; ih++) {
    for (var iw = w0; iw < w1; iw++) {
      let v = in0[${at(xl, 'n_', 'ih', 'iw', 'c_')}];
      if (v > best) { best = v; }
    }
  }
  out0[i] = best;`;
  ctx.dispatch(perElement(y.size, bindings(['float32'], ['float32']), body, `MaxPool ${ctx.node.name}`), [x!], [y]);
  return [y];
});

function maxPoolGradSetup(ctx: KernelCtx, inputs: GpuTensor[], gradIsInputShaped: boolean) {
  const [x, y, grad] = inputs as [GpuTensor, GpuTensor, GpuTensor];
  const { g, format } = poolGeometry(ctx.node, x.shape);
  const outShape = layoutShape(format, g.N, g.OH, g.OW, g.C);
  expectShape(y.shape, outShape, 'orig_output');
  expectShape(grad.shape, gradIsInputShaped ? x.shape : outShape, 'grad');
  return { g, format, x, grad, outShape };
}

// MaxPoolGrad: the window maxima first (one index per output), then each input element adds the
// gradients of the windows whose maximum it is.
registerGpuKernel('MaxPoolGrad', (ctx, inputs) => {
  const { g, format, x, grad, outShape } = maxPoolGradSetup(ctx, inputs, false);
  const dx = ctx.output(0, 'float32', x.shape);
  const xl = layout(format, g.H, g.W, g.C);
  const yl = layout(format, g.OH, g.OW, g.C);
  const nOut = g.N * g.OH * g.OW * g.C;
  const arg = ctx.scratch('int32', outShape, 'argmax');
  ctx.dispatch(
    perElement(nOut, bindings(['float32'], ['int32']), `${coords(format, g.OH, g.OW, g.C)}\n  ${argmaxOf(g, xl)}\n  out0[i] = arg;`, `MaxPoolGrad ${ctx.node.name} (argmax)`),
    [x],
    [arg],
  );
  const body = `${coords(format, g.H, g.W, g.C)}
  let th = i32(h_) + ${s32(g.padT)};
  let tw = i32(w_) + ${s32(g.padL)};
  let oh0 = u32(max((th - ${s32(g.KH - 1)} + ${s32(g.sH - 1)}) / ${s32(g.sH)}, 0));
  let oh1 = u32(clamp(th / ${s32(g.sH)} + 1, 0, ${s32(g.OH)}));
  let ow0 = u32(max((tw - ${s32(g.KW - 1)} + ${s32(g.sW - 1)}) / ${s32(g.sW)}, 0));
  let ow1 = u32(clamp(tw / ${s32(g.sW)} + 1, 0, ${s32(g.OW)}));
  var acc = 0.0;
  for (var oh = oh0; oh < oh1; oh++) {
    for (var ow = ow0; ow < ow1; ow++) {
      let o = ${at(yl, 'n_', 'oh', 'ow', 'c_')};
      if (in0[o] == i32(i)) { acc += in1[o]; }
    }
  }
  out0[i] = acc;`;
  ctx.dispatch(perElement(dx.size, bindings(['int32', 'float32'], ['float32']), body, `MaxPoolGrad ${ctx.node.name}`), [arg, grad], [dx]);
  return [dx];
});

// MaxPoolGradGrad gathers an input-shaped gradient at each window's maximum.
registerGpuKernel('MaxPoolGradGrad', (ctx, inputs) => {
  const { g, format, x, grad, outShape } = maxPoolGradSetup(ctx, inputs, true);
  const y = ctx.output(0, 'float32', outShape);
  const xl = layout(format, g.H, g.W, g.C);
  const body = `${coords(format, g.OH, g.OW, g.C)}
  ${argmaxOf(g, xl)}
  out0[i] = select(0.0, in1[u32(max(arg, 0))], arg >= 0);`;
  ctx.dispatch(perElement(y.size, bindings(['float32', 'float32'], ['float32']), body, `MaxPoolGradGrad ${ctx.node.name}`), [x, grad], [y]);
  return [y];
});

// Average pooling counts only the window elements inside the input (as TensorFlow).
registerGpuKernel('AvgPool', (ctx, [x]) => {
  const { g, format } = poolGeometry(ctx.node, x!.shape);
  const y = ctx.output(0, 'float32', layoutShape(format, g.N, g.OH, g.OW, g.C));
  const xl = layout(format, g.H, g.W, g.C);
  const body = `${coords(format, g.OH, g.OW, g.C)}
  ${windowOf(g)}
  var acc = 0.0;
  for (var ih = h0; ih < h1; ih++) {
    for (var iw = w0; iw < w1; iw++) {
      acc += in0[${at(xl, 'n_', 'ih', 'iw', 'c_')}];
    }
  }
  let count = (h1 - h0) * (w1 - w0);
  out0[i] = select(0.0, acc * (1.0 / f32(count)), count > 0u);`;
  ctx.dispatch(perElement(y.size, bindings(['float32'], ['float32']), body, `AvgPool ${ctx.node.name}`), [x!], [y]);
  return [y];
});

registerGpuKernel(
  'AvgPoolGrad',
  (ctx, [, grad]) => {
    const s = toNumbers(ctx.host(0));
    if (s.length !== 4 || s.some((v) => v < 0)) fail(`orig_input_shape must be 4 non-negative sizes, got [${s.join(', ')}]`);
    const { g, format } = poolGeometry(ctx.node, s);
    expectShape(grad!.shape, layoutShape(format, g.N, g.OH, g.OW, g.C), 'grad');
    const dx = ctx.output(0, 'float32', layoutShape(format, g.N, g.H, g.W, g.C));
    const yl = layout(format, g.OH, g.OW, g.C);
    const body = `${coords(format, g.H, g.W, g.C)}
  let th = i32(h_) + ${s32(g.padT)};
  let tw = i32(w_) + ${s32(g.padL)};
  let oh0 = u32(max((th - ${s32(g.KH - 1)} + ${s32(g.sH - 1)}) / ${s32(g.sH)}, 0));
  let oh1 = u32(clamp(th / ${s32(g.sH)} + 1, 0, ${s32(g.OH)}));
  let ow0 = u32(max((tw - ${s32(g.KW - 1)} + ${s32(g.sW - 1)}) / ${s32(g.sW)}, 0));
  let ow1 = u32(clamp(tw / ${s32(g.sW)} + 1, 0, ${s32(g.OW)}));
  var acc = 0.0;
  for (var oh = oh0; oh < oh1; oh++) {
    let hs = i32(oh) * ${s32(g.sH)} - ${s32(g.padT)};
    let hn = min(hs + ${s32(g.KH)}, ${s32(g.H)}) - max(hs, 0);
    for (var ow = ow0; ow < ow1; ow++) {
      let ws = i32(ow) * ${s32(g.sW)} - ${s32(g.padL)};
      let wn = min(ws + ${s32(g.KW)}, ${s32(g.W)}) - max(ws, 0);
      acc += in0[${at(yl, 'n_', 'oh', 'ow', 'c_')}] * (1.0 / f32(hn * wn));
    }
  }
  out0[i] = acc;`;
    ctx.dispatch(perElement(dx.size, bindings(['float32'], ['float32']), body, `AvgPoolGrad ${ctx.node.name}`), [grad!], [dx]);
    return [dx];
  },
  { hostInputs: [0] },
);
