// WebGPU kernels: reduce family. Sum, Mean, Max, Min, Prod, ArgMax, ArgMin, L2Loss and
// BiasAddGrad are one reduction engine: the input is seen as (kept index o, reduced index j) with
// baked offset functions, and workgroups reduce through shared memory, splitting long reductions
// into chunks (partial results in scratch, then a second pass) when there are few outputs.
import type { DType } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape, stridesOf } from '../../../src/core/shape.js';
import { reductionAxes, toNumbers } from '../../shape_helpers.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { storageType, u } from '../wgsl.js';

const LANES = 256;
const MAX_GROUPS = 65535;

/** WGSL helpers for int64 held as vec2<u32> (low word first) and NaN tests. */
export const INT64_WGSL = `
fn add64(a: vec2u, b: vec2u) -> vec2u {
  let lo = a.x + b.x;
  return vec2u(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}
fn mulw(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2u((p00 & 0xffffu) | (mid << 16u), p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}
fn mul64(a: vec2u, b: vec2u) -> vec2u {
  let p = mulw(a.x, b.x);
  return vec2u(p.x, p.y + a.x * b.y + a.y * b.x);
}
fn lt64(a: vec2u, b: vec2u) -> bool {
  let ah = bitcast<i32>(a.y); let bh = bitcast<i32>(b.y);
  return ah < bh || (ah == bh && a.x < b.x);
}
fn neg64(a: vec2u) -> vec2u {
  let lo = ~a.x + 1u;
  return vec2u(lo, ~a.y + select(0u, 1u, lo == 0u));
}
fn divu64(a: vec2u, d: u32) -> vec2u {
  var q = vec2u(0u, 0u);
  var rem = 0u;
  for (var i = 63i; i >= 0i; i--) {
    let word = select(a.x, a.y, i >= 32i);
    let bit = (word >> (u32(i) & 31u)) & 1u;
    let top = rem >> 31u;
    rem = (rem << 1u) | bit;
    if (top != 0u || rem >= d) {
      rem = rem - d;
      if (i >= 32i) { q.y = q.y | (1u << (u32(i) & 31u)); } else { q.x = q.x | (1u << u32(i)); }
    }
  }
  return q;
}
fn div64(a: vec2u, d: u32) -> vec2u {
  let neg = bitcast<i32>(a.y) < 0i;
  let q = divu64(select(a, neg64(a), neg), d);
  return select(q, neg64(q), neg);
}
`;

/** NaN test and non-finite values (a constant bitcast to Inf/NaN is rejected by the WGSL compiler). */
export const NAN_WGSL = `
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn fbits(b: u32) -> f32 { var v = b; return bitcast<f32>(v); }
`;

/**
 * How a reduction combines values: the accumulator type, its identity, the combine function, how an
 * input element becomes an accumulator and how the result is stored.
 */
export interface ReduceSpec {
  accType: string;
  /** Declarations the spec's code needs (structs, functions). */
  helpers: string;
  init: string;
  /** Body of `fn comb(a: T, b: T) -> T`. */
  comb: string;
  /** Accumulator for input element at linear index `idx` (reduced index `j`); reads in0. */
  load: (idx: string, j: string) => string;
  /** Statement storing accumulator `acc` for output `o` into out0 (kept-row base offset `base`). */
  store: (acc: string, o: string, base: string) => string;
  outDType: DType;
  /** For chunked reductions: the dtype partial accumulators are kept in and the spec reducing them. */
  partial?: { dtype: DType; store: (acc: string, idx: string) => string; spec: ReduceSpec };
}

/** A reduction of `nOut` outputs over `r` values each, with baked offset code. */
export interface ReduceLayout {
  nOut: number;
  r: number;
  outOff: (o: string) => string;
  redOff: (j: string) => string;
  /** Reduced values are contiguous (the input's last dim is reduced): lanes go along j. */
  rowMode: boolean;
}

interface Dim {
  n: number;
  s: number;
}

/** Offset of linear index `v` over dims (row-major over the list) with element strides. */
function offsetCode(dims: readonly Dim[], v: string): string {
  if (dims.length === 0) return '0u';
  const terms: string[] = [];
  let after = 1;
  for (let k = dims.length - 1; k >= 0; k--) {
    const { n, s } = dims[k]!;
    let coord = after === 1 ? v : `(${v} / ${u(after)})`;
    if (k > 0) coord = `(${coord} % ${u(n)})`;
    terms.push(s === 1 ? coord : `${coord} * ${u(s)}`);
    after *= n;
  }
  return `(${terms.reverse().join(' + ')})`;
}

/** The layout of reducing `shape` over `axes` (outputs in row-major order of the kept dims). */
export function reductionLayout(shape: readonly number[], axes: readonly number[]): ReduceLayout {
  const red = new Set(axes);
  const st = stridesOf(shape);
  const dims: (Dim & { red: boolean })[] = [];
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = dims[dims.length - 1];
    if (last && last.red === red.has(d) && last.s === n * st[d]!) {
      last.n *= n;
      last.s = st[d]!;
    } else dims.push({ n, s: st[d]!, red: red.has(d) });
  }
  const kept = dims.filter((d) => !d.red);
  const reduced = dims.filter((d) => d.red);
  return {
    nOut: kept.reduce((p, d) => p * d.n, 1),
    r: reduced.reduce((p, d) => p * d.n, 1),
    outOff: (o) => offsetCode(kept, o),
    redOff: (j) => offsetCode(reduced, j),
    rowMode: dims.length > 0 && dims[dims.length - 1]!.red,
  };
}

function pow2ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function groupGrid(groups: number): { wg: [number, number, number]; gx: number } {
  if (groups <= MAX_GROUPS) return { wg: [groups, 1, 1], gx: groups };
  const y = Math.ceil(groups / MAX_GROUPS);
  const x = Math.ceil(groups / y);
  return { wg: [x, y, 1], gx: x };
}

/**
 * Records the reduction. Input `x` is bound as in0 (plus `extraInputs`), the result written to
 * `out` (nOut elements, row-major over the kept dims).
 */
export function reduce(ctx: KernelCtx, spec: ReduceSpec, lay: ReduceLayout, x: GpuTensor, out: GpuTensor, label: string, tag = ''): void {
  const { nOut, r } = lay;
  if (nOut === 0) return;
  const rowMode = lay.rowMode && r > 4;
  // Lanes per output: along j in row mode; in column mode WX outputs side by side, WY lanes each.
  let WX: number;
  let WY: number;
  if (rowMode) {
    WX = 1;
    WY = Math.min(LANES, pow2ceil(r));
  } else if (nOut >= 8192 || r <= 8) {
    WX = LANES;
    WY = 1;
  } else {
    WX = Math.max(8, Math.min(64, pow2ceil(nOut)));
    WY = LANES / WX;
  }
  const outsPerGroup = rowMode ? LANES / WY : WX;
  const outGroups = Math.ceil(nOut / outsPerGroup);
  // Few outputs and long reductions: split j into chunks reduced by separate workgroups.
  let P = 1;
  if (spec.partial && outGroups < 128) {
    const perChunk = rowMode ? 4096 : WY * 64;
    P = Math.max(1, Math.min(Math.ceil(r / perChunk), Math.floor(2048 / outGroups), 4096));
  }
  const CH = P === 1 ? r : Math.ceil(r / P);
  if (rowMode && P > 1) WY = Math.min(LANES, pow2ceil(CH));
  const partial = P > 1 ? spec.partial! : undefined;
  const per = rowMode ? LANES / WY : WX;
  const tasks = rowMode ? nOut * P : Math.ceil(nOut / WX) * P;
  const groups = rowMode ? Math.ceil(tasks / per) : tasks;
  const { wg, gx } = groupGrid(groups);
  const outDecl = partial ? storageType(partial.dtype) : storageType(spec.outDType);
  const inDecl = `@group(0) @binding(0) var<storage, read> in0: array<${storageType(x.dtype)}>;`;
  const store = (acc: string) =>
    partial ? partial.store(acc, rowMode ? `o * ${u(P)} + p` : `p * ${u(nOut)} + o`) : spec.store(acc, 'o', 'base');
  const tree = WY > 1
    ? `for (var s = ${u(WY / 2)}; s > 0u; s = s >> 1u) {
    if (ly < s) { sh[lid] = comb(sh[lid], sh[lid + s * ${u(WX)}]); }
    workgroupBarrier();
  }
  acc = sh[lid];`
    : '';
  const taskCode = rowMode
    ? `let t = g * ${u(per)} + lid / ${u(WY)};
  let ly = lid % ${u(WY)};
  let valid = t < ${u(nOut * P)};
  let o = t / ${u(P)};
  let p = t % ${u(P)};`
    : `let ob = g % ${u(Math.ceil(nOut / WX))};
  let p = g / ${u(Math.ceil(nOut / WX))};
  let lx = lid % ${u(WX)};
  let ly = lid / ${u(WX)};
  let o = ob * ${u(WX)} + lx;
  let valid = o < ${u(nOut)};`;
  const code = `${spec.helpers}
${inDecl}
@group(0) @binding(1) var<storage, read_write> out0: array<${outDecl}>;
${WY > 1 ? `var<workgroup> sh: array<${spec.accType}, ${LANES}>;` : ''}
fn comb(a: ${spec.accType}, b: ${spec.accType}) -> ${spec.accType} { ${spec.comb} }
@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * ${u(gx)};
  if (g >= ${u(groups)}) { return; }
  ${taskCode}
  var acc: ${spec.accType} = ${spec.init};
  var base = 0u;
  if (valid) {
    base = ${lay.outOff('o')};
    let j1 = min(${u(r)}, (p + 1u) * ${u(CH)});
    for (var j = p * ${u(CH)} + ly; j < j1; j += ${u(WY)}) {
      acc = comb(acc, ${spec.load(`base + ${lay.redOff('j')}`, 'j')});
    }
  }
  ${WY > 1 ? 'sh[lid] = acc;\n  workgroupBarrier();' : ''}
  ${tree}
  if (valid && ly == 0u) { ${store('acc')} }
}`;
  if (!partial) {
    ctx.dispatch({ code, workgroups: wg, label }, [x], [out]);
    return;
  }
  const parts = ctx.scratch(partial.dtype, [nOut * P], `reduce${tag}`);
  ctx.dispatch({ code, workgroups: wg, label: `${label} (partial)` }, [x], [parts]);
  const second: ReduceLayout = rowMode
    ? { nOut, r: P, outOff: (o) => `${o} * ${u(P)}`, redOff: (j) => j, rowMode: true }
    : { nOut, r: P, outOff: (o) => o, redOff: (j) => `${j} * ${u(nOut)}`, rowMode: false };
  reduce(ctx, { ...partial.spec, partial: undefined }, second, parts, out, label, `${tag}b`);
}

// ---------------------------------------------------------------------------------------------
// Plain reductions

export type ReduceKind = 'sum' | 'mean' | 'prod' | 'max' | 'min';

interface KindOpts {
  /** Squares each element first (L2Loss, EuclideanNorm). */
  square?: boolean;
  /** Multiplies the result (L2Loss: 0.5). */
  scale?: number;
  /** Takes the square root of the result (EuclideanNorm). */
  sqrt?: boolean;
}

/** The spec of a reduction of `dtype` values, `r` of them per output (mean divides by r). */
export function reduceSpec(kind: ReduceKind, dtype: DType, r: number, opts: KindOpts = {}, raw = false): ReduceSpec {
  const combKind = kind === 'mean' ? 'sum' : kind;
  if (dtype === 'float32') {
    const init = { sum: '0.0', prod: '1.0', max: 'fbits(0xff800000u)', min: 'fbits(0x7f800000u)' }[combKind];
    const comb = {
      sum: 'return a + b;',
      prod: 'return a * b;',
      // NaN propagates, as in TF.
      max: 'return select(a, b, b > a || isnan_(b));',
      min: 'return select(a, b, b < a || isnan_(b));',
    }[combKind];
    let fin = (acc: string) => acc;
    if (!raw && kind === 'mean') fin = r === 0 ? () => 'fbits(0x7fc00000u)' : (acc) => `${acc} / ${r}.0`;
    if (!raw && opts.scale !== undefined) fin = (acc) => `${acc} * ${opts.scale}`;
    if (!raw && opts.sqrt) fin = (acc) => `sqrt(${acc})`;
    const spec: ReduceSpec = {
      accType: 'f32',
      helpers: NAN_WGSL,
      init,
      comb,
      load: raw || !opts.square ? (idx) => `in0[${idx}]` : (idx) => `(in0[${idx}] * in0[${idx}])`,
      store: (acc, o) => `out0[${o}] = ${fin(acc)};`,
      outDType: 'float32',
    };
    if (!raw) spec.partial = { dtype: 'float32', store: (acc, i) => `out0[${i}] = ${acc};`, spec: { ...reduceSpec(kind, dtype, r, opts, true), store: spec.store } };
    return spec;
  }
  if (dtype === 'int32') {
    const init = { sum: '0i', prod: '1i', max: 'i32(-2147483647 - 1)', min: '2147483647i' }[combKind];
    const comb = { sum: 'return a + b;', prod: 'return a * b;', max: 'return max(a, b);', min: 'return min(a, b);' }[combKind];
    const fin = !raw && kind === 'mean' ? (r === 0 ? () => '0i' : (acc: string) => `${acc} / ${r}i`) : (acc: string) => acc;
    const spec: ReduceSpec = {
      accType: 'i32',
      helpers: '',
      init,
      comb,
      load: (idx) => `in0[${idx}]`,
      store: (acc, o) => `out0[${o}] = ${fin(acc)};`,
      outDType: 'int32',
    };
    if (!raw) spec.partial = { dtype: 'int32', store: (acc, i) => `out0[${i}] = ${acc};`, spec: { ...reduceSpec(kind, dtype, r, opts, true), store: spec.store } };
    return spec;
  }
  if (dtype === 'int64') {
    const init = { sum: 'vec2u(0u, 0u)', prod: 'vec2u(1u, 0u)', max: 'vec2u(0u, 0x80000000u)', min: 'vec2u(0xffffffffu, 0x7fffffffu)' }[combKind];
    const comb = {
      sum: 'return add64(a, b);',
      prod: 'return mul64(a, b);',
      max: 'return select(a, b, lt64(a, b));',
      min: 'return select(a, b, lt64(b, a));',
    }[combKind];
    const fin = !raw && kind === 'mean' ? (r === 0 ? () => 'vec2u(0u, 0u)' : (acc: string) => `div64(${acc}, ${u(r)})`) : (acc: string) => acc;
    const spec: ReduceSpec = {
      accType: 'vec2u',
      helpers: INT64_WGSL,
      init,
      comb,
      load: (idx) => `bitcast<vec2u>(in0[${idx}])`,
      store: (acc, o) => `out0[${o}] = bitcast<vec2<i32>>(${fin(acc)});`,
      outDType: 'int64',
    };
    if (!raw) spec.partial = { dtype: 'int64', store: (acc, i) => `out0[${i}] = bitcast<vec2<i32>>(${acc});`, spec: { ...reduceSpec(kind, dtype, r, opts, true), store: spec.store } };
    return spec;
  }
  throw new InvalidArgumentError(`reduction does not support ${dtype}`);
}

function registerReduction(type: string, kind: ReduceKind): void {
  registerGpuKernel(
    type,
    (ctx, [x]) => {
      const axesArr = ctx.host(1);
      if (axesArr.rank > 1) throw new InvalidArgumentError(`reduction indices must be a scalar or vector, got ${formatShape(axesArr.shape)}`);
      const axes = reductionAxes(axesArr, x!.shape.length);
      const keep = !!ctx.node.attrs.keep_dims;
      const red = new Set(axes);
      const outShape = keep ? x!.shape.map((n, d) => (red.has(d) ? 1 : n)) : x!.shape.filter((_, d) => !red.has(d));
      if (x!.dtype !== 'float32' && x!.dtype !== 'int32' && x!.dtype !== 'int64') throw new InvalidArgumentError(`${type} does not support ${x!.dtype}`);
      const out = ctx.output(0, x!.dtype, outShape);
      const lay = reductionLayout(x!.shape, axes);
      reduce(ctx, reduceSpec(kind, x!.dtype, lay.r), lay, x!, out, `${type} ${ctx.node.name}`);
      return [out];
    },
    { hostInputs: [1] },
  );
}
registerReduction('Sum', 'sum');
registerReduction('Mean', 'mean');
registerReduction('Prod', 'prod');
registerReduction('Max', 'max');
registerReduction('Min', 'min');

/** The output shape of a reduction node over x (axes from the host value of input 1). */
function reducedShape(ctx: KernelCtx, x: GpuTensor): { axes: number[]; outShape: number[] } {
  const axesArr = ctx.host(1);
  if (axesArr.rank > 1) throw new InvalidArgumentError(`reduction indices must be a scalar or vector, got ${formatShape(axesArr.shape)}`);
  const axes = reductionAxes(axesArr, x.shape.length);
  const red = new Set(axes);
  const outShape = ctx.node.attrs.keep_dims ? x.shape.map((n, d) => (red.has(d) ? 1 : n)) : x.shape.filter((_, d) => !red.has(d));
  return { axes, outShape };
}

// EuclideanNorm: the sum of squares then its root, for float32 (integer norms run on the host).
registerGpuKernel(
  'EuclideanNorm',
  (ctx, [x]) => {
    if (x!.dtype !== 'float32') return ctx.runOnHost();
    const { axes, outShape } = reducedShape(ctx, x!);
    const out = ctx.output(0, 'float32', outShape);
    const lay = reductionLayout(x!.shape, axes);
    reduce(ctx, reduceSpec('sum', 'float32', lay.r, { square: true, sqrt: true }), lay, x!, out, `EuclideanNorm ${ctx.node.name}`);
    return [out];
  },
  { hostInputs: [1] },
);

/** All (AND) / Any (OR) over bools stored as u32 0/1. */
function boolSpec(all: boolean): ReduceSpec {
  const spec: ReduceSpec = {
    accType: 'u32',
    helpers: '',
    init: all ? '1u' : '0u',
    comb: all ? 'return a & b;' : 'return a | b;',
    load: (idx) => `min(in0[${idx}], 1u)`,
    store: (acc, o) => `out0[${o}] = ${acc};`,
    outDType: 'bool',
  };
  spec.partial = { dtype: 'bool', store: (acc, i) => `out0[${i}] = ${acc};`, spec: { ...spec } };
  return spec;
}

for (const [type, all] of [['All', true], ['Any', false]] as const) {
  registerGpuKernel(
    type,
    (ctx, [x]) => {
      if (x!.dtype !== 'bool') throw new InvalidArgumentError(`${type} takes bool input, got ${x!.dtype}`);
      const { axes, outShape } = reducedShape(ctx, x!);
      const out = ctx.output(0, 'bool', outShape);
      const lay = reductionLayout(x!.shape, axes);
      reduce(ctx, boolSpec(all), lay, x!, out, `${type} ${ctx.node.name}`);
      return [out];
    },
    { hostInputs: [1] },
  );
}

// ---------------------------------------------------------------------------------------------
// ArgMax / ArgMin: the first index of the extreme value, NaN ignored except at index 0 (as the
// CPU's sequential scan, which starts from element 0 and never replaces it by a NaN).

function argSpec(max: boolean, dtype: DType, outType: DType, r: number): ReduceSpec {
  const vt = dtype === 'float32' ? 'f32' : dtype === 'int64' ? 'vec2u' : dtype === 'bool' ? 'u32' : 'i32';
  const better =
    dtype === 'int64' ? (max ? 'lt64(a.v, b.v)' : 'lt64(b.v, a.v)') : max ? 'b.v > a.v' : 'b.v < a.v';
  const same = dtype === 'int64' ? 'all(b.v == a.v)' : 'b.v == a.v';
  const ld = (idx: string) => (dtype === 'int64' ? `bitcast<vec2u>(in0[${idx}])` : `in0[${idx}]`);
  const load = (idx: string, j: string) =>
    dtype === 'float32' ? `AV(${ld(idx)}, select(${j}, 0xffffffffu, isnan_(${ld(idx)})))` : `AV(${ld(idx)}, ${j})`;
  const first = dtype === 'float32' && r > 0 ? `if (isnan_(in0[base])) { best = 0u; }` : '';
  return {
    accType: 'AV',
    helpers: `${NAN_WGSL}${dtype === 'int64' ? INT64_WGSL : ''}
struct AV { v: ${vt}, i: u32 }`,
    init: `AV(${vt}(), 0xffffffffu)`,
    comb: `if (b.i == 0xffffffffu) { return a; }
  if (a.i == 0xffffffffu) { return b; }
  if (${better} || (${same} && b.i < a.i)) { return b; }
  return a;`,
    load,
    store: (acc, o, base) => {
      void base;
      const w = outType === 'int64' ? `out0[${o}] = vec2<i32>(i32(best), 0i);` : `out0[${o}] = i32(best);`;
      return `var best = select(${acc}.i, 0u, ${acc}.i == 0xffffffffu); ${first} ${w}`;
    },
    outDType: outType,
  };
}

function registerArgReduction(type: string, max: boolean): void {
  registerGpuKernel(
    type,
    (ctx, [x]) => {
      const dim = ctx.host(1);
      if (dim.size !== 1) throw new InvalidArgumentError(`dimension must be a scalar, got ${formatShape(dim.shape)}`);
      const rank = x!.shape.length;
      const a = toNumbers(dim)[0]!;
      if (a < -rank || a >= rank) throw new InvalidArgumentError(`Expected dimension in the range [${-rank}, ${rank}), but got ${a}`);
      const axis = a < 0 ? a + rank : a;
      const r = x!.shape[axis]!;
      const outType = (ctx.node.attrs.output_type as DType | undefined) ?? 'int64';
      const out = ctx.output(0, outType, x!.shape.filter((_, d) => d !== axis));
      if (out.size === 0) return [out];
      if (r === 0) throw new InvalidArgumentError(`Reduction axis ${axis} is empty in shape ${formatShape(x!.shape)}`);
      const lay = reductionLayout(x!.shape, [axis]);
      reduce(ctx, argSpec(max, x!.dtype, outType, lay.r), lay, x!, out, `${type} ${ctx.node.name}`);
      return [out];
    },
    { hostInputs: [1] },
  );
}
registerArgReduction('ArgMax', true);
registerArgReduction('ArgMin', false);

// ---------------------------------------------------------------------------------------------
// L2Loss and BiasAddGrad

registerGpuKernel('L2Loss', (ctx, [t]) => {
  const out = ctx.output(0, 'float32', []);
  const lay = reductionLayout(t!.shape, t!.shape.map((_, d) => d));
  reduce(ctx, reduceSpec('sum', 'float32', lay.r, { square: true, scale: 0.5 }), lay, t!, out, `L2Loss ${ctx.node.name}`);
  return [out];
});

registerGpuKernel('BiasAddGrad', (ctx, [g]) => {
  const shape = g!.shape;
  const format = ctx.node.attrs.data_format as string;
  const minRank = format === 'NCHW' ? 3 : 2;
  if (shape.length < minRank) {
    throw new InvalidArgumentError(`Input tensor must be at least ${minRank}D for data_format ${format}: ${formatShape(shape)}`);
  }
  const c = format === 'NCHW' ? 1 : shape.length - 1;
  const out = ctx.output(0, g!.dtype, [shape[c]!]);
  const lay = reductionLayout(shape, shape.map((_, d) => d).filter((d) => d !== c));
  reduce(ctx, reduceSpec('sum', g!.dtype, lay.r), lay, g!, out, `BiasAddGrad ${ctx.node.name}`);
  return [out];
});
