// WebGPU kernels of the sort family: Cumsum/Cumprod (one sequential scan per line, the CPU's order
// of accumulation), LowerBound/UpperBound (a binary search per value), TopKV2/TopK (a bitonic sort
// of each row's indices in one workgroup, any k) and InTopKV2/InTopK (one invocation per row).
// Unique*, ListDiff, Where, Bincount and DenseBincount have no kernel here: their output sizes
// depend on the data (or they scatter-add), so the backend runs them on the host.
import type { DType } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape } from '../../../src/core/shape.js';
import { normAxis, scalarNumber } from '../../array_args.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, grid, lit, perElement, PRELUDE, u, WG } from '../wgsl.js';
import { INT64_WGSL, NAN_WGSL } from './reduce.js';

function hostScalar(ctx: KernelCtx, i: number, what: string): number {
  const a = ctx.host(i);
  if (a.rank !== 0) throw new InvalidArgumentError(`${what} must be a scalar, got shape ${formatShape(a.shape)}`);
  return scalarNumber(a, what);
}

function numeric(dtype: DType, op: string): void {
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'int64') throw new InvalidArgumentError(`${op} does not support ${dtype}`);
}

// ---- scans ----

/** The accumulator of a scan per dtype: its WGSL type, identity, combine and store. */
function scanAcc(dtype: DType, product: boolean): { type: string; init: string; load: (p: string) => string; combine: (a: string, v: string) => string; store: (p: string, a: string) => string } {
  if (dtype === 'int64') {
    return {
      type: 'vec2u',
      init: product ? 'vec2u(1u, 0u)' : 'vec2u(0u, 0u)',
      load: (p) => `bitcast<vec2u>(in0[${p}])`,
      combine: (a, v) => (product ? `mul64(${a}, ${v})` : `add64(${a}, ${v})`),
      store: (p, a) => `out0[${p}] = bitcast<vec2<i32>>(${a});`,
    };
  }
  const type = dtype === 'float32' ? 'f32' : 'i32';
  return {
    type,
    init: `${type}(${product ? 1 : 0})`,
    load: (p) => `in0[${p}]`,
    combine: (a, v) => `${a} ${product ? '*' : '+'} ${v}`,
    store: (p, a) => `out0[${p}] = ${a};`,
  };
}

function registerScan(type: 'Cumsum' | 'Cumprod'): void {
  registerGpuKernel(
    type,
    (ctx, [x]) => {
      numeric(x!.dtype, type);
      const axis = normAxis(hostScalar(ctx, 1, 'axis'), x!.shape.length, 'axis');
      const out = ctx.output(0, x!.dtype, x!.shape);
      if (out.size === 0) return [out];
      const n = x!.shape[axis]!;
      const inner = x!.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const lines = out.size / n;
      const exclusive = !!ctx.node.attrs.exclusive;
      const reverse = !!ctx.node.attrs.reverse;
      const acc = scanAcc(x!.dtype, type === 'Cumprod');
      const step = exclusive
        ? `${acc.store('p', 'acc')} acc = ${acc.combine('acc', acc.load('p'))};`
        : `acc = ${acc.combine('acc', acc.load('p'))}; ${acc.store('p', 'acc')}`;
      const body = `let o = i / ${u(inner)};
  let k = i % ${u(inner)};
  var acc: ${acc.type} = ${acc.init};
  for (var s = 0u; s < ${u(n)}; s++) {
    let j = ${reverse ? `${u(n - 1)} - s` : 's'};
    let p = (o * ${u(n)} + j) * ${u(inner)} + k;
    ${step}
  }`;
      const decls = `${bindings([x!.dtype], [x!.dtype])}${x!.dtype === 'int64' ? INT64_WGSL : ''}`;
      ctx.dispatch(perElement(lines, decls, body, `${type} ${ctx.node.name}`), [x!], [out]);
      return [out];
    },
    { hostInputs: [1] },
  );
}
registerScan('Cumsum');
registerScan('Cumprod');

// ---- searching ----

/** WGSL `a < b` on elements of a dtype's storage (int64 compared as 64-bit words). */
function lessThan(dtype: DType): { helpers: string; lt: (a: string, b: string) => string; load: (arr: string, idx: string) => string } {
  if (dtype === 'int64') return { helpers: INT64_WGSL, lt: (a, b) => `lt64(${a}, ${b})`, load: (arr, idx) => `bitcast<vec2u>(${arr}[${idx}])` };
  return { helpers: '', lt: (a, b) => `(${a} < ${b})`, load: (arr, idx) => `${arr}[${idx}]` };
}

function registerBound(type: 'LowerBound' | 'UpperBound'): void {
  registerGpuKernel(type, (ctx, [seq, values]) => {
    numeric(seq!.dtype, type);
    if (seq!.shape.length !== 2 || values!.shape.length !== 2) {
      throw new InvalidArgumentError(`sorted_inputs and values must be matrices, got shapes ${formatShape(seq!.shape)} and ${formatShape(values!.shape)}`);
    }
    if (seq!.shape[0] !== values!.shape[0]) {
      throw new InvalidArgumentError(`Leading dim_size of both tensors must match: ${seq!.shape[0]} vs ${values!.shape[0]}`);
    }
    const outType = (ctx.node.attrs.out_type as DType | undefined) ?? 'int32';
    const out = ctx.output(0, outType, values!.shape);
    if (out.size === 0) return [out];
    const n = seq!.shape[1]!;
    const m = values!.shape[1]!;
    const c = lessThan(seq!.dtype);
    // Lower bound: the first element not below the value; upper bound: the first element above it.
    const goRight = type === 'UpperBound' ? `!${c.lt('x', 'e')}` : c.lt('e', 'x');
    const result = outType === 'int64' ? 'vec2<i32>(i32(lo), 0i)' : 'i32(lo)';
    const body = `let base = (i / ${u(m)}) * ${u(n)};
  let x = ${c.load('in1', 'i')};
  var lo = 0u;
  var hi = ${u(n)};
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    let e = ${c.load('in0', 'base + mid')};
    if (${goRight}) { lo = mid + 1u; } else { hi = mid; }
  }
  out0[i] = ${result};`;
    ctx.dispatch(perElement(out.size, `${bindings([seq!.dtype, values!.dtype], [outType])}${c.helpers}`, body, `${type} ${ctx.node.name}`), [seq!, values!], [out]);
    return [out];
  });
}
registerBound('LowerBound');
registerBound('UpperBound');

// ---- top-k ----

/**
 * WGSL `before(a, b, base)`: whether row element a is listed before b (indices into the row at
 * `base`): larger values first, equal ones by index, NaN first (as the CPU kernel); indices >= n
 * are padding and go last.
 */
function topKOrder(dtype: DType, n: number): string {
  const c = lessThan(dtype);
  const nan =
    dtype === 'float32'
      ? `let na = isnan_(va);
  let nb = isnan_(vb);
  if (na || nb) { return select(na, a < b, na && nb); }`
      : '';
  return `${dtype === 'float32' ? NAN_WGSL : c.helpers}
fn before(a: u32, b: u32, base: u32) -> bool {
  if (b >= ${u(n)}) { return a < b; }
  if (a >= ${u(n)}) { return false; }
  let va = ${c.load('in0', 'base + a')};
  let vb = ${c.load('in0', 'base + b')};
  ${nan}
  if (${c.lt('vb', 'va')}) { return true; }
  if (${c.lt('va', 'vb')}) { return false; }
  return a < b;
}`;
}

function topK(ctx: KernelCtx, x: GpuTensor, k: number): GpuTensor[] {
  numeric(x.dtype, ctx.node.type);
  if (!Number.isInteger(k) || k < 0) throw new InvalidArgumentError(`Need k >= 0, got ${k}`);
  if (x.shape.length < 1) throw new InvalidArgumentError(`input must be >= 1-D, got shape ${formatShape(x.shape)}`);
  const n = x.shape[x.shape.length - 1]!;
  if (n < k) throw new InvalidArgumentError(`input must have at least k columns. Had ${n}, needed ${k}`);
  const shape = [...x.shape.slice(0, -1), k];
  const values = ctx.output(0, x.dtype, shape);
  const indexType = ctx.node.outputs[1]!.dtype;
  const indices = ctx.output(1, indexType, shape);
  if (values.size === 0) return [values, indices];
  const rows = x.size / n;
  let p = 1;
  while (p < n) p *= 2;
  const wg = Math.min(WG, Math.max(1, p / 2));
  const order = ctx.scratch('int32', [rows * p], 'order');
  const { workgroups, stride } = grid(rows, 1);
  const code = `${PRELUDE}
${bindings([x.dtype], [x.dtype, indexType, 'int32'])}
${topKOrder(x.dtype, n)}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * ${u(stride)};
  if (row >= ${u(rows)}) { return; }
  let base = row * ${u(n)};
  let slots = row * ${u(p)};
  for (var j = lid; j < ${u(p)}; j += ${u(wg)}) { out2[slots + j] = i32(j); }
  storageBarrier();
  for (var blk = 2u; blk <= ${u(p)}; blk *= 2u) {
    for (var span = blk / 2u; span > 0u; span /= 2u) {
      for (var t = lid; t < ${u(p / 2)}; t += ${u(wg)}) {
        let lo = (t / span) * 2u * span + t % span;
        let hi = lo + span;
        let a = u32(out2[slots + lo]);
        let b = u32(out2[slots + hi]);
        let swap = select(before(a, b, base), before(b, a, base), (lo & blk) == 0u);
        if (swap) { out2[slots + lo] = i32(b); out2[slots + hi] = i32(a); }
      }
      storageBarrier();
    }
  }
  for (var j = lid; j < ${u(k)}; j += ${u(wg)}) {
    let e = out2[slots + j];
    out1[row * ${u(k)} + j] = ${indexType === 'int64' ? 'vec2<i32>(e, 0i)' : 'e'};
    out0[row * ${u(k)} + j] = in0[base + u32(e)];
  }
}`;
  ctx.dispatch({ code, workgroups, label: `${ctx.node.type} ${ctx.node.name}` }, [x], [values, indices, order]);
  return [values, indices];
}

registerGpuKernel('TopKV2', (ctx, [x]) => topK(ctx, x!, hostScalar(ctx, 1, 'k')), { hostInputs: [1] });
registerGpuKernel('TopK', (ctx, [x]) => topK(ctx, x!, Number(ctx.node.attrs.k)));

/**
 * TF's InTopK: true when fewer than k classes score strictly higher than the target; false for a
 * target out of range or a row with a non-finite prediction.
 */
function inTopK(ctx: KernelCtx, predictions: GpuTensor, targets: GpuTensor, k: number): GpuTensor[] {
  if (predictions.shape.length !== 2) throw new InvalidArgumentError(`predictions must be 2-dimensional, got shape ${formatShape(predictions.shape)}`);
  if (targets.shape.length !== 1) throw new InvalidArgumentError(`targets must be 1-dimensional, got shape ${formatShape(targets.shape)}`);
  const [batch, classes] = predictions.shape as [number, number];
  if (targets.shape[0] !== batch) throw new InvalidArgumentError(`First dimension of predictions ${batch} must match length of targets ${targets.shape[0]}`);
  const out = ctx.output(0, 'bool', [batch]);
  if (batch === 0) return [out];
  // k only matters against counts in [0, classes].
  const kk = Math.max(-1, Math.min(k, classes + 1));
  const target =
    targets.dtype === 'int64'
      ? `let tw = in1[i]; let valid = tw.y == 0i && tw.x >= 0i && tw.x < ${lit(classes, 'int32')}; let t = u32(max(tw.x, 0i));`
      : `let tw = in1[i]; let valid = tw >= 0i && tw < ${lit(classes, 'int32')}; let t = u32(max(tw, 0i));`;
  const body = `${target}
  let row = i * ${u(classes)};
  var cannot = !valid;
  var larger = 0i;
  if (!cannot) {
    let tv = in0[row + t];
    if (!finite_(tv)) { cannot = true; }
    for (var c = 0u; c < ${u(classes)} && !cannot; c++) {
      let v = in0[row + c];
      if (!finite_(v)) { cannot = true; }
      else if (v > tv) { larger++; if (larger > ${lit(kk, 'int32')}) { break; } }
    }
  }
  out0[i] = select(0u, 1u, !cannot && larger < ${lit(kk, 'int32')});`;
  const decls = `${bindings(['float32', targets.dtype], ['bool'])}
fn finite_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }`;
  ctx.dispatch(perElement(batch, decls, body, `${ctx.node.type} ${ctx.node.name}`), [predictions, targets], [out]);
  return [out];
}

registerGpuKernel('InTopKV2', (ctx, [p, t]) => inTopK(ctx, p!, t!, hostScalar(ctx, 2, 'k')), { hostInputs: [2] });
registerGpuKernel('InTopK', (ctx, [p, t]) => inTopK(ctx, p!, t!, Number(ctx.node.attrs.k)));
