// WebGPU kernels: indexing family (issue 18). Data movement copies storage elements as they are, so
// one kernel serves every dtype; shapes, axes, paddings and block sizes are host inputs baked into
// the generated WGSL. Indices computed on the GPU are range-checked there through the run's check
// flags; indices on the host are checked on the host with the CPU kernels' messages.
// Registered on import by kernels/index.ts.
import type { DType } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray, numElements } from '../../../src/core/ndarray.js';
import { formatShape, stridesOf } from '../../../src/core/shape.js';
import { numbersOf } from '../../../ops/semantics/array.js';
import {
  batchToSpaceShape,
  checkSameBatch,
  checkScatterNdShapes,
  depthToSpaceShape,
  einsumPlan,
  gatherNdShape,
  mirrorOffset,
  mirrorPadGradShape,
  mirrorPadShape,
  ndIndexRows,
  spaceToBatchShape,
  spaceToDepthShape,
  sparseToDenseRows,
} from '../../../ops/semantics/indexing.js';
import { checkDims, scalarNumber, vector } from '../../array_args.js';
import { getGpuKernel, registerGpuKernel, type GpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, f32, lit, loadIndex, perElement, storageType, u } from '../wgsl.js';

const zero = (d: DType): string => `${storageType(d)}()`;

/** WGSL declaring `c0..c{r-1}` (i32), the row-major coordinates of u32 `v` in `shape`. */
function coords(shape: readonly number[], v = 'i'): string {
  const lines = [`var r_ = ${v};`];
  for (let d = shape.length - 1; d >= 0; d--) {
    lines.push(d === 0 ? `let c0 = i32(r_);` : `let c${d} = i32(r_ % ${u(shape[d]!)}); r_ = r_ / ${u(shape[d]!)};`);
  }
  return lines.join('\n  ');
}

/** sum_d c_d * strides_d (+ offset) as a WGSL i32 expression. */
function linear(strides: readonly number[], offset = 0, c = (d: number) => `c${d}`): string {
  const terms = strides.map((s, d) => (s === 0 ? '' : `${c(d)} * ${lit(s, 'int32')}`)).filter(Boolean);
  return [lit(offset, 'int32'), ...terms].join(' + ');
}

/**
 * An output of `outShape` whose element i reads x at the i32 `src` that `body` computes from the
 * coordinates c0.. of i in `walk` (outShape by default); `body` may `return` after zeroing out0[i].
 */
function gatherBy(ctx: KernelCtx, x: GpuTensor, outShape: readonly number[], body: string, walk = outShape): GpuTensor {
  const out = ctx.output(0, x.dtype, outShape);
  if (out.size === 0) return out;
  const d = x.dtype;
  const code = `${coords(walk)}\n  ${body}\n  out0[i] = in0[u32(src)];`;
  ctx.dispatch(perElement(out.size, bindings([d], [d]), code, `${ctx.node.type} ${ctx.node.name}`), [x], [out]);
  return out;
}

/** Statement zeroing out0[i] and returning, for positions that read nothing (padding, off band). */
const skip = (d: DType): string => `out0[i] = ${zero(d)}; return;`;

// ---- N-d gather / scatter ----

/**
 * Host-made indices are checked on the host (the CPU kernel's message); true when that was done.
 * Indices computed on the GPU are checked by the kernels reading them.
 */
function checkedOnHost(indices: GpuTensor, shape: readonly number[], what: string): boolean {
  const h = indices.host;
  if (!h) return false;
  const depth = h.shape[h.rank - 1]!;
  const message = (row: number[], i: number): string => `indices[${i}] = [${row.join(', ')}] does not index into ${what} ${formatShape(shape)}`;
  ndIndexRows(numbersOf(h), numElements(h.shape.slice(0, -1)), depth, shape, message);
  return true;
}

/** WGSL declaring `var ${name}: i32`, index row `row` of `arr` as a slice number of `shape`, or -1 when out of range. */
function rowNumber(dtype: DType, arr: string, row: string, depth: number, shape: readonly number[], name = 'flat'): string {
  const lines = [`var ${name} = 0;`];
  for (let d = 0; d < depth; d++) {
    const n = lit(shape[d]!, 'int32');
    lines.push(`{ ${loadIndex(dtype, arr, `(${row}) * ${u(depth)} + ${u(d)}`, 'v')}`);
    lines.push(`  if (${name} >= 0 && v >= 0 && v < ${n}) { ${name} = ${name} * ${n} + v; } else { ${name} = -1; } }`);
  }
  return lines.join('\n  ');
}

registerGpuKernel('GatherNd', (ctx, [p, indices]) => {
  if (indices!.shape.length < 1) throw new InvalidArgumentError(`indices must be at least a vector, got shape ${formatShape(indices!.shape)}`);
  const depth = indices!.shape[indices!.shape.length - 1]!;
  const shape = gatherNdShape(p!.shape, indices!.shape, depth) as number[];
  const out = ctx.output(0, p!.dtype, shape);
  if (out.size === 0) return [out];
  const flag = checkedOnHost(indices!, p!.shape, 'param shape') ? undefined : ctx.check(`indices do not index into param shape ${formatShape(p!.shape)}`);
  const slice = numElements(p!.shape.slice(depth));
  const d = p!.dtype;
  const body = `let row = i / ${u(slice)};
  ${rowNumber(indices!.dtype, 'in1', 'row', depth, p!.shape)}
  if (flat < 0) { ${flag ? 'out1[0] = 1; ' : ''}${skip(d)} }
  out0[i] = in0[u32(flat) * ${u(slice)} + i % ${u(slice)}];`;
  const outs = flag ? [out, flag] : [out];
  ctx.dispatch(perElement(out.size, bindings([d, indices!.dtype], outs.map((t) => t.dtype)), body), [p!, indices!], outs);
  return [out];
});

/** a + b and a - b on int64 words, with carry. */
const INT64_ARITH = `
fn add64(a: vec2<i32>, b: vec2<i32>) -> vec2<i32> {
  let x = bitcast<vec2<u32>>(a); let y = bitcast<vec2<u32>>(b);
  let lo = x.x + y.x;
  return bitcast<vec2<i32>>(vec2<u32>(lo, x.y + y.y + select(0u, 1u, lo < x.x)));
}
fn sub64(a: vec2<i32>, b: vec2<i32>) -> vec2<i32> {
  let y = bitcast<vec2<u32>>(b);
  let lo = ~y.x + 1u;
  return add64(a, bitcast<vec2<i32>>(vec2<u32>(lo, ~y.y + select(0u, 1u, lo == 0u))));
}`;

type ScatterMode = 'update' | 'add' | 'sub';

function combine(mode: ScatterMode, d: DType, acc: string, v: string): string {
  if (mode === 'update') return `${acc} = ${v};`;
  if (d === 'int64') return `${acc} = ${mode}64(${acc}, ${v});`;
  return `${acc} ${mode === 'add' ? '+' : '-'}= ${v};`;
}

/**
 * The scatters, deterministic and in index order as on the CPU: a first pass turns each index row
 * into its slice number (-1 when out of range, flagged), then each output element combines, in row
 * order, the update rows that land on it. `base` is the tensor written into (undefined: zeros).
 */
function scatter(ctx: KernelCtx, base: GpuTensor | undefined, indices: GpuTensor, updates: GpuTensor, shape: number[], mode: ScatterMode): GpuTensor {
  if (indices.shape.length < 1) throw new InvalidArgumentError(`indices must be at least a vector, got shape ${formatShape(indices.shape)}`);
  checkScatterNdShapes(indices.shape, updates.shape, shape);
  const d = updates.dtype;
  const out = ctx.output(0, d, shape);
  if (out.size === 0) return out;
  const depth = indices.shape[indices.shape.length - 1]!;
  const n = numElements(indices.shape.slice(0, -1));
  const slice = numElements(shape.slice(depth));
  const flag = checkedOnHost(indices, shape, 'shape') ? undefined : ctx.check(`indices do not index into shape ${formatShape(shape)}`);
  const rows = ctx.scratch('int32', [Math.max(n, 1)], 'rows');
  if (n > 0) {
    const rowBody = `${rowNumber(indices.dtype, 'in0', 'i', depth, shape)}
  ${flag ? 'if (flat < 0) { out1[0] = 1; }' : ''}
  out0[i] = flat;`;
    const outs = flag ? [rows, flag] : [rows];
    ctx.dispatch(perElement(n, bindings([indices.dtype], outs.map((t) => t.dtype)), rowBody), [indices], outs);
  }
  const ins = base ? [updates, rows, base] : [updates, rows];
  const body = `let s = i32(i / ${u(slice)});
  let j = i % ${u(slice)};
  var acc = ${base ? 'in2[i]' : zero(d)};
  for (var k = 0u; k < ${u(n)}; k++) {
    if (in1[k] == s) { ${combine(mode, d, 'acc', `in0[k * ${u(slice)} + j]`)} }
  }
  out0[i] = acc;`;
  ctx.dispatch(perElement(out.size, `${bindings(ins.map((t) => t.dtype), [d])}${d === 'int64' ? INT64_ARITH : ''}`, body), ins, [out]);
  return out;
}

registerGpuKernel(
  'ScatterNd',
  (ctx, [indices, updates]) => {
    const shape = vector(ctx.host(2), 'shape');
    checkDims(shape, 'shape');
    return [scatter(ctx, undefined, indices!, updates!, shape, 'add')];
  },
  { hostInputs: [2] },
);

for (const [type, mode] of [['TensorScatterUpdate', 'update'], ['TensorScatterAdd', 'add'], ['TensorScatterSub', 'sub']] as const) {
  registerGpuKernel(type, (ctx, [tensor, indices, updates]) => [scatter(ctx, tensor!, indices!, updates!, [...tensor!.shape], mode)]);
}

registerGpuKernel(
  'SparseToDense',
  (ctx, [indices, , values, dflt]) => {
    const shapeA = ctx.host(1);
    const shape = shapeA.rank === 0 ? [scalarNumber(shapeA, 'output_shape')] : vector(shapeA, 'output_shape');
    checkDims(shape, 'output_shape');
    const ir = indices!.shape.length;
    if (ir > 2) throw new InvalidArgumentError(`sparse_indices should be a scalar, vector, or matrix, got shape ${formatShape(indices!.shape)}`);
    const n = ir > 0 ? indices!.shape[0]! : 1;
    const depth = ir > 1 ? indices!.shape[1]! : 1;
    if (depth !== shape.length) throw new InvalidArgumentError(`sparse_indices index length ${depth} does not match the rank ${shape.length} of output_shape`);
    const vr = values!.shape.length;
    if (!(vr === 0 || (vr === 1 && values!.shape[0] === n))) {
      throw new InvalidArgumentError(`sparse_values has incorrect shape ${formatShape(values!.shape)}, should be [] or [${n}]`);
    }
    if (dflt!.shape.length !== 0) throw new InvalidArgumentError(`default_value should be a scalar, got shape ${formatShape(dflt!.shape)}`);
    const validate = (ctx.node.attrs.validate_indices as boolean | undefined) ?? true;
    const d = values!.dtype;
    const out = ctx.output(0, d, shape);
    if (out.size === 0) return [out];
    const h = indices!.host;
    let rows: GpuTensor;
    if (h) {
      rows = ctx.fromHost(new NDArray(Int32Array.from(sparseToDenseRows(numbersOf(h), n, depth, shape, validate)), [n]));
    } else {
      rows = ctx.scratch('int32', [Math.max(n, 1)], 'rows');
      const bounds = ctx.check(`sparse_indices has an index out of bounds of [${shape.join(',')}]`);
      const order = validate ? ctx.check('sparse_indices are not sorted and unique (lexicographic order, validate_indices)') : undefined;
      // Row-major flat positions increase exactly when the rows are sorted and unique.
      const body = `${rowNumber(indices!.dtype, 'in0', 'i', depth, shape)}
  if (flat < 0) { out1[0] = 1; }
  ${order ? `if (i > 0u) { ${rowNumber(indices!.dtype, 'in0', 'i - 1u', depth, shape, 'prev')} if (flat >= 0 && prev >= 0 && flat <= prev) { out2[0] = 1; } }` : ''}
  out0[i] = flat;`;
      const outs = order ? [rows, bounds, order] : [rows, bounds];
      if (n > 0) ctx.dispatch(perElement(n, bindings([indices!.dtype], outs.map((t) => t.dtype)), body), [indices!], outs);
    }
    const body = `var acc = in2[0];
  for (var k = 0u; k < ${u(n)}; k++) {
    if (in1[k] == i32(i)) { acc = in0[${vr === 0 ? '0u' : 'k'}]; }
  }
  out0[i] = acc;`;
    ctx.dispatch(perElement(out.size, bindings([d, 'int32', d], [d]), body), [values!, rows, dflt!], [out]);
    return [out];
  },
  { hostInputs: [1] },
);

// ---- reversals ----

function reversed(ctx: KernelCtx, x: GpuTensor, flags: readonly boolean[]): GpuTensor {
  const st = stridesOf(x.shape);
  const offset = x.shape.reduce((a, d, i) => a + (flags[i] && d > 0 ? (d - 1) * st[i]! : 0), 0);
  return gatherBy(ctx, x, x.shape, `let src = ${linear(st.map((s, i) => (flags[i] ? -s : s)), offset)};`);
}

registerGpuKernel(
  'ReverseV2',
  (ctx, [x]) => {
    const r = x!.shape.length;
    const flags = new Array<boolean>(r).fill(false);
    vector(ctx.host(1), 'axis').forEach((a, i) => {
      if (!Number.isInteger(a) || a < -r || a >= r) throw new InvalidArgumentError(`'axis'[${i}] = ${a} is out of valid range [${-r}, ${r - 1}]`);
      const n = a < 0 ? a + r : a;
      if (flags[n]) throw new InvalidArgumentError(`axis ${n} specified more than once`);
      flags[n] = true;
    });
    return [reversed(ctx, x!, flags)];
  },
  { hostInputs: [1] },
);

registerGpuKernel(
  'Reverse',
  (ctx, [x]) => {
    const dims = ctx.host(1);
    if (dims.rank !== 1 || dims.size !== x!.shape.length) {
      throw new InvalidArgumentError(`'dims' must have the same number of values as 'tensor' has dimensions: ${formatShape(dims.shape)} vs. rank ${x!.shape.length}`);
    }
    return [reversed(ctx, x!, Array.from(dims.data as Uint8Array, (v) => v !== 0))];
  },
  { hostInputs: [1] },
);

registerGpuKernel('ReverseSequence', (ctx, [x, lens]) => {
  const seqDim = ctx.node.attrs.seq_dim as number;
  const batchDim = (ctx.node.attrs.batch_dim as number | undefined) ?? 0;
  const s = x!.shape;
  if (seqDim === batchDim || seqDim < 0 || seqDim >= s.length || batchDim < 0 || batchDim >= s.length) {
    throw new InvalidArgumentError(`seq_dim ${seqDim} and batch_dim ${batchDim} must differ and be < input rank ${s.length}`);
  }
  if (lens!.shape.length !== 1 || lens!.shape[0] !== s[batchDim]) {
    throw new InvalidArgumentError(`Length of seq_lengths != input.dims(${batchDim}), (${formatShape(lens!.shape)} vs. ${s[batchDim]})`);
  }
  const h = lens!.host;
  if (h) {
    numbersOf(h).forEach((l, i) => {
      if (l < 0 || l > s[seqDim]!) throw new InvalidArgumentError(`seq_lens(${i}) = ${l}: must be in [0, input.dims(${seqDim}) = ${s[seqDim]}]`);
    });
  }
  const flag = h ? undefined : ctx.check(`seq_lengths has a value not in [0, input.dims(${seqDim}) = ${s[seqDim]}]`);
  const d = x!.dtype;
  const out = ctx.output(0, d, s);
  if (out.size === 0) return [out];
  const st = stridesOf(s);
  const body = `${coords(s)}
  ${loadIndex(lens!.dtype, 'in1', `u32(c${batchDim})`, 'l')}
  if (l < 0 || l > ${lit(s[seqDim]!, 'int32')}) { ${flag ? 'out1[0] = 1; ' : ''}${skip(d)} }
  var src = ${linear(st)};
  if (c${seqDim} < l) { src += (l - 1 - 2 * c${seqDim}) * ${lit(st[seqDim]!, 'int32')}; }
  out0[i] = in0[u32(src)];`;
  const outs = flag ? [out, flag] : [out];
  ctx.dispatch(perElement(out.size, bindings([d, lens!.dtype], outs.map((t) => t.dtype)), body), [x!, lens!], outs);
  return [out];
});

// ---- mirror padding ----

function paddingsOf(ctx: KernelCtx, rank: number): number[] {
  const p = ctx.host(1);
  if (p.rank !== 2 || p.shape[0] !== rank || p.shape[1] !== 2) {
    throw new InvalidArgumentError(`paddings must be a matrix with 2 columns and ${rank} rows, got ${formatShape(p.shape)}`);
  }
  return numbersOf(p);
}

registerGpuKernel(
  'MirrorPad',
  (ctx, [x]) => {
    const mode = ctx.node.attrs.mode as string;
    const s = x!.shape;
    const pads = paddingsOf(ctx, s.length);
    const shape = mirrorPadShape(s, pads, mode) as number[];
    const off = mirrorOffset(mode);
    const st = stridesOf(s);
    const lines = ['var src = 0;'];
    s.forEach((n, d) => {
      lines.push(`{ var t = c${d} - ${lit(pads[2 * d]!, 'int32')};`);
      lines.push(`  if (t < 0) { t = -t - ${lit(1 - off, 'int32')}; } else if (t >= ${lit(n, 'int32')}) { t = ${lit(2 * n - 1 - off, 'int32')} - t; }`);
      lines.push(`  src += t * ${lit(st[d]!, 'int32')}; }`);
    });
    return [gatherBy(ctx, x!, shape, lines.join('\n  '))];
  },
  { hostInputs: [1] },
);

/** a + b in a dtype's storage (int64 through add64). */
const addOf = (d: DType) => (a: string, b: string): string => (d === 'int64' ? `add64(${a}, ${b})` : `${a} + ${b}`);

registerGpuKernel(
  'MirrorPadGrad',
  (ctx, [x]) => {
    const mode = ctx.node.attrs.mode as string;
    const s = x!.shape;
    const pads = paddingsOf(ctx, s.length);
    const finalShape = mirrorPadGradShape(s, pads, mode) as number[];
    const off = mirrorOffset(mode);
    const d = x!.dtype;
    const padded = s.map((_, k) => k).filter((k) => pads[2 * k]! + pads[2 * k + 1]! > 0);
    const out = ctx.output(0, d, finalShape);
    if (!padded.length) {
      if (out.size) ctx.copy(x!, out);
      return [out];
    }
    if (out.size === 0) return [out];
    // Dim by dim: each position c of the unpadded dim sums the padded position over it and its
    // (at most two) mirror images; intermediate results go to scratch buffers.
    const add = addOf(d);
    let cur = x!;
    padded.forEach((k, step) => {
      const shape = [...cur.shape];
      const [a, b, m] = [pads[2 * k]!, pads[2 * k + 1]!, shape[k]!];
      const n = m - a - b;
      shape[k] = n;
      const dst = step === padded.length - 1 ? out : ctx.scratch(d, shape, `unpad${step % 2}`);
      const inner = numElements(shape.slice(k + 1));
      const body = `let j = i % ${u(inner)};
  let c = i32((i / ${u(inner)}) % ${u(n)});
  let o = i / ${u(inner * n)};
  let row = o * ${u(m)};
  var acc = in0[(row + u32(c + ${lit(a, 'int32')})) * ${u(inner)} + j];
  let left = -c - ${lit(1 - off, 'int32')};
  if (left < 0 && left >= ${lit(-a, 'int32')}) { acc = ${add('acc', `in0[(row + u32(left + ${lit(a, 'int32')})) * ${u(inner)} + j]`)}; }
  let right = ${lit(2 * n - 1 - off, 'int32')} - c;
  if (right >= ${lit(n, 'int32')} && right < ${lit(n + b, 'int32')}) { acc = ${add('acc', `in0[(row + u32(right + ${lit(a, 'int32')})) * ${u(inner)} + j]`)}; }
  out0[i] = acc;`;
      ctx.dispatch(perElement(numElements(shape), `${bindings([d], [d])}${d === 'int64' ? INT64_ARITH : ''}`, body), [cur], [dst]);
      cur = dst;
    });
    return [out];
  },
  { hostInputs: [1] },
);

// ---- space / batch / depth ----

function blocksOf(ctx: KernelCtx, what: string): { block: number[]; pairs: number[] } {
  const block = vector(ctx.host(1), 'block_shape');
  const p = ctx.host(2);
  if (p.rank !== 2 || p.shape[0] !== block.length || p.shape[1] !== 2) {
    throw new InvalidArgumentError(`${what} should have shape [${block.length}, 2] instead of ${formatShape(p.shape)}`);
  }
  return { block, pairs: numbersOf(p) };
}

registerGpuKernel(
  'SpaceToBatchND',
  (ctx, [x]) => {
    const { block, pairs } = blocksOf(ctx, 'paddings');
    const s = x!.shape;
    const shape = spaceToBatchShape(s, block, pairs) as number[];
    const st = stridesOf(s);
    const m = block.length;
    const lines = [`var b_ = c0 / ${lit(s[0]!, 'int32')};`, `var src = (c0 % ${lit(s[0]!, 'int32')}) * ${lit(st[0]!, 'int32')};`];
    for (let k = m - 1; k >= 0; k--) {
      lines.push(`{ let t = c${k + 1} * ${lit(block[k]!, 'int32')} + b_ % ${lit(block[k]!, 'int32')} - ${lit(pairs[2 * k]!, 'int32')}; b_ = b_ / ${lit(block[k]!, 'int32')};`);
      lines.push(`  if (t < 0 || t >= ${lit(s[k + 1]!, 'int32')}) { ${skip(x!.dtype)} } src += t * ${lit(st[k + 1]!, 'int32')}; }`);
    }
    for (let k = m + 1; k < s.length; k++) lines.push(`src += c${k} * ${lit(st[k]!, 'int32')};`);
    return [gatherBy(ctx, x!, shape, lines.join('\n  '))];
  },
  { hostInputs: [1, 2] },
);

registerGpuKernel(
  'BatchToSpaceND',
  (ctx, [x]) => {
    const { block, pairs } = blocksOf(ctx, 'crops');
    const s = x!.shape;
    const shape = batchToSpaceShape(s, block, pairs) as number[];
    const st = stridesOf(s);
    const m = block.length;
    const lines = ['var b_ = 0;', 'var src = 0;'];
    for (let k = 0; k < m; k++) {
      lines.push(`{ let p = c${k + 1} + ${lit(pairs[2 * k]!, 'int32')}; b_ = b_ * ${lit(block[k]!, 'int32')} + p % ${lit(block[k]!, 'int32')};`);
      lines.push(`  src += (p / ${lit(block[k]!, 'int32')}) * ${lit(st[k + 1]!, 'int32')}; }`);
    }
    lines.push(`src += (b_ * ${lit(shape[0]!, 'int32')} + c0) * ${lit(st[0]!, 'int32')};`);
    for (let k = m + 1; k < s.length; k++) lines.push(`src += c${k} * ${lit(st[k]!, 'int32')};`);
    return [gatherBy(ctx, x!, shape, lines.join('\n  '))];
  },
  { hostInputs: [1, 2] },
);

registerGpuKernel('SpaceToDepth', (ctx, [x]) => {
  const b = ctx.node.attrs.block_size as number;
  const shape = spaceToDepthShape(x!.shape, b, (ctx.node.attrs.data_format as string | undefined) ?? 'NHWC') as number[];
  const [, h, w, c] = x!.shape as [number, number, number, number];
  // The output walked as [N, H/b, W/b, b, b, C] reads the input as [N, H/b, b, W/b, b, C].
  const walk = [shape[0]!, shape[1]!, shape[2]!, b, b, c];
  return [gatherBy(ctx, x!, shape, `let src = ${linear([h * w * c, b * w * c, b * c, w * c, c, 1])};`, walk)];
});

registerGpuKernel('DepthToSpace', (ctx, [x]) => {
  const b = ctx.node.attrs.block_size as number;
  const shape = depthToSpaceShape(x!.shape, b, (ctx.node.attrs.data_format as string | undefined) ?? 'NHWC') as number[];
  const [, h, w, c] = x!.shape as [number, number, number, number];
  const co = c / (b * b);
  // The output walked as [N, H, b, W, b, C/b²] reads the input as [N, H, W, b, b, C/b²].
  const walk = [shape[0]!, h, b, w, b, co];
  return [gatherBy(ctx, x!, shape, `let src = ${linear([h * w * c, w * c, b * co, c, co, 1])};`, walk)];
});

// ---- matrices and sequences ----

registerGpuKernel(
  'MatrixBandPart',
  (ctx, [x]) => {
    const s = x!.shape;
    if (s.length < 2) throw new InvalidArgumentError(`input must be at least rank 2, got shape ${formatShape(s)}`);
    const [m, n] = s.slice(-2) as [number, number];
    const lower = scalarNumber(ctx.host(1), 'num_lower');
    const upper = scalarNumber(ctx.host(2), 'num_upper');
    if (lower > m) throw new InvalidArgumentError(`num_lower must be negative or less or equal to number of rows (${m}) got: ${lower}`);
    if (upper > n) throw new InvalidArgumentError(`num_upper must be negative or less or equal to number of columns (${n}) got: ${upper}`);
    const r = s.length;
    const conds = [lower >= 0 ? `c${r - 2} - c${r - 1} <= ${lit(lower, 'int32')}` : '', upper >= 0 ? `c${r - 1} - c${r - 2} <= ${lit(upper, 'int32')}` : ''].filter(Boolean);
    const band = conds.length ? `if (!(${conds.join(' && ')})) { ${skip(x!.dtype)} }` : '';
    return [gatherBy(ctx, x!, s, `${band}\n  let src = i32(i);`)];
  },
  { hostInputs: [1, 2] },
);

registerGpuKernel(
  'LinSpace',
  (ctx) => {
    const start = scalarNumber(ctx.host(0), 'start');
    const stop = scalarNumber(ctx.host(1), 'stop');
    const num = scalarNumber(ctx.host(2), 'num');
    if (num <= 0) throw new InvalidArgumentError(`Requires num > 0: ${num}`);
    const out = ctx.output(0, 'float32', [num]);
    // As TF's kernel (and the CPU's): start + i * step in float32, the last value exactly stop.
    const step = Math.fround(Math.fround(stop - start) / (num - 1));
    const last = num === 1 ? start : stop;
    const body = `if (i == ${u(num - 1)}) { out0[i] = ${f32(last)}; return; }
  out0[i] = ${f32(start)} + ${f32(step)} * f32(i);`;
    ctx.dispatch(perElement(num, bindings([], ['float32']), body), [], [out]);
    return [out];
  },
  { hostInputs: [0, 1, 2] },
);

// Shape arithmetic on host values, as BroadcastGradientArgs: the host kernel's result is uploaded when read.
registerGpuKernel('BroadcastArgs', (ctx) => ctx.runOnHost(), { hostInputs: [0, 1] });

// ---- the first GraphDef versions of Gather, Concat and BatchMatMul: the current kernels ----

const kernelOf = (type: string): GpuKernel => {
  const k = getGpuKernel(type);
  if (!k) throw new InvalidArgumentError(`no WebGPU kernel for ${type}`);
  return k.kernel;
};

const AXIS_ZERO = new NDArray(Int32Array.of(0), []);

registerGpuKernel('Gather', (ctx, [p, indices]) => kernelOf('GatherV2')({ ...ctx, host: (i) => (i === 2 ? AXIS_ZERO : ctx.host(i)) }, [p!, indices!]));

registerGpuKernel(
  'Concat',
  (ctx, inputs) => {
    const n = inputs.length - 1;
    return kernelOf('ConcatV2')({ ...ctx, host: (i) => ctx.host(i === n ? 0 : i + 1) }, [...inputs.slice(1), inputs[0]!]);
  },
  { hostInputs: [0] },
);

registerGpuKernel('BatchMatMul', (ctx, inputs) => {
  checkSameBatch(inputs[0]!.shape, inputs[1]!.shape);
  return kernelOf('BatchMatMulV2')(ctx, inputs);
});

// ---- einsum ----

registerGpuKernel('Einsum', (ctx, inputs) => {
  const plan = einsumPlan(ctx.node.attrs.equation as string, inputs.map((x) => x.shape));
  const d = inputs[0]!.dtype;
  const out = ctx.output(0, d, plan.outShape);
  if (out.size === 0) return [out];
  // Each output element: its free labels from its coordinates (zero off a repeated label's
  // diagonal), then the sum over the summed labels of the operands' product.
  const lines = [coords(plan.outShape)];
  plan.free.forEach((_, j) => {
    const axes = plan.outAxes.map((l, a) => (l === j ? a : -1)).filter((a) => a >= 0);
    lines.push(`let f${j} = c${axes[0]};`);
    for (const a of axes.slice(1)) lines.push(`if (c${a} != f${j}) { ${skip(d)} }`);
  });
  const base = (k: number): string => linear(plan.freeStrides[k]!, 0, (j) => `f${j}`);
  inputs.forEach((_, k) => lines.push(`let base${k} = ${base(k)};`));
  const nSum = numElements(plan.sumDims);
  lines.push(`var acc = ${zero(d)};`, `for (var s = 0u; s < ${u(nSum)}; s++) {`);
  lines.push(`  ${coords(plan.sumDims, 's').replace(/\bc(\d+)\b/g, 'g$1').replace('var r_', 'var q_').replace(/r_/g, 'q_')}`);
  const off = (k: number): string => `u32(base${k} + ${linear(plan.sumStrides[k]!, 0, (l) => `g${l}`)})`;
  lines.push(`  acc += ${inputs.map((_, k) => `in${k}[${off(k)}]`).join(' * ')};`, '}', 'out0[i] = acc;');
  const code = lines.join('\n  ');
  ctx.dispatch(perElement(out.size, bindings(inputs.map((x) => x.dtype), [d]), code, `Einsum ${ctx.node.name}`), inputs, [out]);
  return [out];
});
