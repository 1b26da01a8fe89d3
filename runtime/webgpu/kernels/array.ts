// WebGPU kernels: array family. Data movement copies storage elements as they are (f32, i32, u32 for
// bool, vec2<i32> for int64), so one kernel serves every dtype. Axes, shapes, permutations,
// paddings and multiples are host inputs baked into the generated WGSL.
import { type DType } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray, numElements } from '../../../src/core/ndarray.js';
import { formatShape, stridesOf } from '../../../src/core/shape.js';
import { numbersOf, rangeSize } from '../../../ops/semantics/array.js';
import { checkDims, fromNumbers, indexError, normAxis, reshapeTarget, scalarNumber, sliceSpec, vector } from '../../array_args.js';
import { collapseDims } from '../../shape_helpers.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, f32, grid, lit, loadIndex, MAX_BINDINGS, perElement, PRELUDE, storageType, u, WG } from '../wgsl.js';

// ---- helpers -------------------------------------------------------------------------------------






/** Runs the host backend's kernel on the inputs' host copies (strings and shape metadata never reach the GPU). */
const onHost = (ctx: KernelCtx): GpuTensor[] | Promise<GpuTensor[]> => ctx.runOnHost();


/** The zero value of a dtype's storage type. */
const zero = (d: DType): string => `${storageType(d)}()`;

/**
 * WGSL statements setting `${name}` (an i32) to offset + sum_d coord_d * strides_d, where coord is the
 * row-major multi-index of u32 `v` in `shape`. Strides may be zero or negative.
 */
function stridedOffset(name: string, shape: readonly number[], stridesIn: readonly number[], offset: number, v = 'i'): string {
  const lines = [`var ${name} = ${lit(offset, 'int32')};`, `var r_ = ${v};`];
  for (let d = shape.length - 1; d >= 0; d--) {
    const st = stridesIn[d]!;
    const coord = d === 0 ? 'r_' : `(r_ % ${u(shape[d]!)})`;
    if (st !== 0 && shape[d]! > 1) lines.push(`${name} += i32(${coord}) * ${lit(st, 'int32')};`);
    if (d > 0) lines.push(`r_ = r_ / ${u(shape[d]!)};`);
  }
  return lines.join('\n  ');
}

/** out[k] = x[offset + sum_d idx_d * strides_d] for the k-th multi-index of `shape` (row-major). */
function gatherStrided(ctx: KernelCtx, x: GpuTensor, out: GpuTensor, shape: readonly number[], srcStrides: readonly number[], offset: number): void {
  const n = numElements(shape);
  if (n === 0) return;
  const { shape: s, strides: [st] } = collapseDims(shape, [srcStrides]);
  if (s.length === 1 && st![0] === 1 && offset === 0 && n === x.size) {
    ctx.copy(x, out);
    return;
  }
  const d = x.dtype;
  const body = `${stridedOffset('src', s, st!, offset)}\n  out0[i] = in0[u32(src)];`;
  ctx.dispatch(perElement(n, bindings([d], [d]), body), [x], [out]);
}

// ---- creation ----------------------------------------------------------------------------------

registerGpuKernel(
  'Fill',
  (ctx, [, value]) => {
    const shape = vector(ctx.host(0), 'dims');
    checkDims(shape, 'dims');
    if (value!.size !== 1) throw new InvalidArgumentError(`value must be a scalar, got shape ${formatShape(value!.shape)}`);
    const d = value!.dtype;
    const out = ctx.output(0, d, shape);
    ctx.dispatch(perElement(out.size, bindings([d], [d]), 'out0[i] = in0[0];'), [value!], [out]);
    return [out];
  },
  { hostInputs: [0] },
);

/** u32 high word of a * b. */
const MULHI = `
fn mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let lo = a0 * b0; let m1 = a1 * b0; let m2 = a0 * b1;
  let mid = (lo >> 16u) + (m1 & 0xffffu) + (m2 & 0xffffu);
  return a1 * b1 + (m1 >> 16u) + (m2 >> 16u) + (mid >> 16u);
}`;

registerGpuKernel(
  'Range',
  (ctx) => {
    const dtype = ctx.node.outputs[0]!.dtype;
    const [sA, lA, dA] = [ctx.host(0), ctx.host(1), ctx.host(2)];
    const s = scalarNumber(sA, 'start');
    const l = scalarNumber(lA, 'limit');
    const d = scalarNumber(dA, 'delta');
    const n = rangeSize(s, l, d, dtype !== 'float32');
    if (typeof n === 'string') throw new InvalidArgumentError(n);
    const out = ctx.output(0, dtype, [n]);
    let body: string;
    let decls = bindings([], [dtype]);
    if (dtype === 'float32') {
      body = `out0[i] = ${f32(s)} + f32(i) * ${f32(d)};`;
    } else if (dtype === 'int32') {
      body = `out0[i] = ${lit(s, 'int32')} + i32(i) * ${lit(d, 'int32')};`;
    } else {
      // start + i * delta in 64-bit two's complement: the words of start and delta are baked in.
      const words = (v: bigint): [number, number] => [Number(BigInt.asUintN(32, v)), Number(BigInt.asUintN(32, v >> 32n))];
      const [s0, s1] = words((sA.data as BigInt64Array)[0]!);
      const [d0, d1] = words((dA.data as BigInt64Array)[0]!);
      decls += MULHI;
      body = `let plo = i * ${u(d0)}; let phi = mulhi(i, ${u(d0)}) + i * ${u(d1)};
  let lo = plo + ${u(s0)}; let hi = phi + ${u(s1)} + select(0u, 1u, lo < plo);
  out0[i] = bitcast<vec2<i32>>(vec2<u32>(lo, hi));`;
    }
    ctx.dispatch(perElement(n, decls, body), [], [out]);
    return [out];
  },
  { hostInputs: [0, 1, 2] },
);

// ---- shape manipulation (views) ----------------------------------------------------------------


registerGpuKernel('Reshape', (ctx, [x]) => [ctx.view(x!, reshapeTarget(x!.size, vector(ctx.host(1), 'shape')))], { hostInputs: [1] });

registerGpuKernel(
  'ExpandDims',
  (ctx, [x]) => {
    const axis = normAxis(scalarNumber(ctx.host(1), 'dim'), x!.shape.length + 1, 'dim');
    const shape = [...x!.shape];
    shape.splice(axis, 0, 1);
    return [ctx.view(x!, shape)];
  },
  { hostInputs: [1] },
);

registerGpuKernel('Squeeze', (ctx, [x]) => {
  const rank = x!.shape.length;
  const dims = ((ctx.node.attrs.squeeze_dims as readonly number[] | undefined) ?? []).map((d) => normAxis(Number(d), rank, 'squeeze dim'));
  const shape: number[] = [];
  x!.shape.forEach((d, i) => {
    if (dims.length ? dims.includes(i) : d === 1) {
      if (d !== 1) throw new InvalidArgumentError(`Can not squeeze dim[${i}], expected a dimension of 1, got ${d}`);
    } else {
      shape.push(d);
    }
  });
  return [ctx.view(x!, shape)];
});

// ---- transpose ---------------------------------------------------------------------------------

const TILE = 32;
const TILE_ROWS = 8;

/**
 * in [B, R, C] -> out [B, C, R] through a padded shared-memory tile: reads and writes coalesced.
 * R and C come in a small buffer rather than baked in: one pipeline per dtype serves every shape
 * (a tiled pipeline is slow to compile on some drivers, SwiftShader over a second).
 */
function tiledTranspose(ctx: KernelCtx, x: GpuTensor, out: GpuTensor, B: number, R: number, C: number): void {
  const d = x.dtype;
  const T = storageType(d);
  const code = `${bindings([d, 'int32'], [d])}
var<workgroup> tile: array<array<${T}, ${TILE + 1}>, ${TILE}>;
@compute @workgroup_size(${TILE}, ${TILE_ROWS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let R = u32(in1[0]);
  let C = u32(in1[1]);
  let base = wg.z * R * C;
  let c0 = wg.x * ${TILE}u;
  let r0 = wg.y * ${TILE}u;
  for (var k = 0u; k < ${TILE}u; k += ${TILE_ROWS}u) {
    let r = r0 + lid.y + k;
    let c = c0 + lid.x;
    if (r < R && c < C) { tile[lid.y + k][lid.x] = in0[base + r * C + c]; }
  }
  workgroupBarrier();
  for (var k = 0u; k < ${TILE}u; k += ${TILE_ROWS}u) {
    let c = c0 + lid.y + k;
    let r = r0 + lid.x;
    if (r < R && c < C) { out0[base + c * R + r] = tile[lid.x][lid.y + k]; }
  }
}`;
  const dims = ctx.fromHost(new NDArray(Int32Array.from([R, C]), [2]));
  ctx.dispatch({ code, workgroups: [Math.ceil(C / TILE), Math.ceil(R / TILE), B], label: `Transpose ${ctx.node.name}` }, [x, dims], [out]);
}

registerGpuKernel(
  'Transpose',
  (ctx, inputs) => {
    const x = inputs[0]!;
    const perm = vector(ctx.host(1), 'perm');
    const r = x.shape.length;
    if (perm.length !== r) throw new InvalidArgumentError(`transpose expects a vector of size ${r}. But input(1) is a vector of size ${perm.length}`);
    const seen = new Array<boolean>(r).fill(false);
    for (const p of perm) {
      if (!Number.isInteger(p) || p < 0 || p >= r) throw new InvalidArgumentError(`${p} is out of range [0 .. ${r})`);
      if (seen[p]) throw new InvalidArgumentError(`${p} is duplicated in the input.`);
      seen[p] = true;
    }
    const shape = perm.map((p) => x.shape[p]!);
    const inStrides = stridesOf(x.shape);
    const srcStrides = perm.map((p) => inStrides[p]!);
    const { shape: s, strides: [st] } = collapseDims(shape, [srcStrides]);
    // Only size-1 dims move: the same elements in the same order.
    if (x.size === 0 || (s.length === 1 && (st![0] === 1 || s[0] === 1))) return [ctx.view(x, shape)];
    const out = ctx.output(0, x.dtype, shape);
    const k = s.length;
    // Output [.., P, Q] reading the input as [.., Q, P]: a batch of 2-D transposes.
    const twoD = (k === 2 || k === 3) && st![k - 2] === 1 && st![k - 1] === s[k - 2] && (k === 2 || st![0] === s[1]! * s[2]!);
    if (twoD) {
      const B = k === 3 ? s[0]! : 1;
      const P = s[k - 2]!;
      const Q = s[k - 1]!;
      if (B <= 65535 && Math.ceil(P / TILE) <= 65535 && Math.ceil(Q / TILE) <= 65535) {
        tiledTranspose(ctx, x, out, B, Q, P);
        return [out];
      }
    }
    gatherStrided(ctx, x, out, shape, srcStrides, 0);
    return [out];
  },
  { hostInputs: [1] },
);

// ---- metadata (host) ---------------------------------------------------------------------------

registerGpuKernel('Shape', (ctx, [x]) => [ctx.fromHost(fromNumbers(x!.shape, ctx.node.outputs[0]!.dtype, [x!.shape.length]))]);
registerGpuKernel('Size', (ctx, [x]) => [ctx.fromHost(fromNumbers([x!.size], ctx.node.outputs[0]!.dtype, []))]);
registerGpuKernel('Rank', (ctx, [x]) => [ctx.fromHost(fromNumbers([x!.shape.length], 'int32', []))]);
registerGpuKernel('InvertPermutation', onHost, { hostInputs: [0] });
// Every input is a shape vector (or the axis); the op takes at most this many.
registerGpuKernel('ConcatOffset', onHost, { hostInputs: Array.from({ length: 1024 }, (_, i) => i) });
registerGpuKernel('BroadcastGradientArgs', onHost, { hostInputs: [0, 1] });

// ---- broadcast / tile / pad --------------------------------------------------------------------

registerGpuKernel(
  'BroadcastTo',
  (ctx, [x]) => {
    const target = vector(ctx.host(1), 'shape');
    checkDims(target, 'shape');
    const xs = x!.shape;
    if (xs.length > target.length) {
      throw new InvalidArgumentError(`Rank of input (${xs.length}) must be no greater than rank of output shape (${target.length}).`);
    }
    const off = target.length - xs.length;
    const inStrides = stridesOf(xs);
    const strides = target.map((d, i) => {
      if (i < off) return 0;
      const xd = xs[i - off]!;
      if (xd === d) return xd === 1 ? 0 : inStrides[i - off]!;
      if (xd === 1) return 0;
      throw new InvalidArgumentError(`Incompatible shapes: ${formatShape(xs)} vs. ${formatShape(target)}`);
    });
    if (numElements(target) === x!.size) return [ctx.view(x!, target)];
    const out = ctx.output(0, x!.dtype, target);
    gatherStrided(ctx, x!, out, target, strides, 0);
    return [out];
  },
  { hostInputs: [1] },
);

registerGpuKernel(
  'Tile',
  (ctx, [x]) => {
    const m = vector(ctx.host(1), 'multiples');
    const xs = x!.shape;
    if (m.length !== xs.length) throw new InvalidArgumentError(`Expected multiples argument to be a vector of length ${xs.length} but got length ${m.length}`);
    m.forEach((v, i) => {
      if (v < 0) throw new InvalidArgumentError(`Expected multiples[${i}] >= 0, but got ${v}`);
    });
    const out = ctx.output(0, x!.dtype, xs.map((d, i) => d * m[i]!));
    // The output viewed as [m0, d0, m1, d1, ...] reads x with stride 0 along each multiple.
    const inStrides = stridesOf(xs);
    gatherStrided(
      ctx,
      x!,
      out,
      xs.flatMap((d, i) => [m[i]!, d]),
      xs.flatMap((_, i) => [0, inStrides[i]!]),
      0,
    );
    return [out];
  },
  { hostInputs: [1] },
);

function pad(ctx: KernelCtx, x: GpuTensor, value: GpuTensor | undefined): GpuTensor[] {
  const pA = ctx.host(1);
  const r = x.shape.length;
  if (pA.rank !== 2 || pA.shape[0] !== r || pA.shape[1] !== 2) {
    throw new InvalidArgumentError(`paddings must be a matrix with 2 columns and ${r} rows, got ${formatShape(pA.shape)}`);
  }
  const p = numbersOf(pA);
  if (p.some((v) => v < 0)) throw new InvalidArgumentError(`Paddings must be non-negative: [${p.join(',')}]`);
  const shape = x.shape.map((d, i) => d + p[2 * i]! + p[2 * i + 1]!);
  const out = ctx.output(0, x.dtype, shape);
  const d = x.dtype;
  const xStrides = stridesOf(x.shape);
  const lines = ['var src = 0i;', 'var inside = true;', 'var r_ = i;'];
  for (let k = r - 1; k >= 0; k--) {
    lines.push(`{ let c = i32(${k === 0 ? 'r_' : `r_ % ${u(shape[k]!)}`}) - ${lit(p[2 * k]!, 'int32')};`);
    lines.push(`  inside = inside && c >= 0 && c < ${lit(x.shape[k]!, 'int32')}; src += c * ${lit(xStrides[k]!, 'int32')}; }`);
    if (k > 0) lines.push(`r_ = r_ / ${u(shape[k]!)};`);
  }
  const fillValue = value ? 'in1[0]' : zero(d);
  lines.push(`if (inside) { out0[i] = in0[u32(src)]; } else { out0[i] = ${fillValue}; }`);
  const ins = value ? [x, value] : [x];
  ctx.dispatch(perElement(out.size, bindings(ins.map((t) => t.dtype), [d]), lines.join('\n  ')), ins, [out]);
  return [out];
}

registerGpuKernel('Pad', (ctx, [x]) => pad(ctx, x!, undefined), { hostInputs: [1] });
registerGpuKernel(
  'PadV2',
  (ctx, [x, , c]) => {
    if (c!.size !== 1) throw new InvalidArgumentError(`constant_values must be a scalar, got shape ${formatShape(c!.shape)}`);
    return pad(ctx, x!, c!);
  },
  { hostInputs: [1] },
);

// ---- concat / split / pack ---------------------------------------------------------------------

/**
 * Writes `values` side by side along `axis` into a new output of `outShape`: the output is [outer,
 * total columns] and value k fills columns [start_k, start_k + cols_k). Up to MAX_BINDINGS - 1
 * values per dispatch, each invocation copying one element.
 */
function concatInto(ctx: KernelCtx, values: readonly GpuTensor[], axis: number, outShape: number[]): GpuTensor {
  const dtype = values[0]!.dtype;
  const out = ctx.output(0, dtype, outShape);
  const outer = numElements(outShape.slice(0, axis));
  const inner = numElements(outShape.slice(axis + 1));
  const total = outShape[axis]! * inner;
  if (out.size === 0) return out;
  const parts: { t: GpuTensor; start: number; cols: number }[] = [];
  let col = 0;
  for (const v of values) {
    const cols = (v.shape[axis] ?? 1) * inner;
    if (cols > 0) parts.push({ t: v, start: col, cols });
    col += cols;
  }
  if (parts.length === 1) {
    ctx.copy(parts[0]!.t, out);
    return out;
  }
  for (let c = 0; c < parts.length; c += MAX_BINDINGS - 1) {
    const chunk = parts.slice(c, c + MAX_BINDINGS - 1);
    const start = chunk[0]!.start;
    const width = chunk.reduce((a, p) => a + p.cols, 0);
    const lines = [`let row = i / ${u(width)};`, `let col = i % ${u(width)};`, `let o = row * ${u(total)} + ${u(start)} + col;`];
    let b = 0;
    chunk.forEach((p, k) => {
      const read = `out0[o] = in${k}[row * ${u(p.cols)} + col - ${u(b)}];`;
      b += p.cols;
      if (k === chunk.length - 1) lines.push(`{ ${read} }`);
      else lines.push(`if (col < ${u(b)}) { ${read} } else`);
    });
    ctx.dispatch(
      perElement(outer * width, bindings(chunk.map(() => dtype), [dtype]), lines.join('\n  ')),
      chunk.map((p) => p.t),
      [out],
    );
  }
  return out;
}

registerGpuKernel(
  'ConcatV2',
  (ctx, inputs) => {
    const values = inputs.slice(0, -1);
    const first = values[0]!;
    const r = first.shape.length;
    if (r === 0) throw new InvalidArgumentError('Can not concatenate scalars');
    const axis = normAxis(scalarNumber(ctx.host(inputs.length - 1), 'axis'), r);
    let total = 0;
    values.forEach((v, i) => {
      if (v.shape.length !== r || v.shape.some((d, j) => j !== axis && d !== first.shape[j])) {
        throw new InvalidArgumentError(
          `ConcatOp : Dimensions of inputs should match: shape[0] = ${formatShape(first.shape)} vs. shape[${i}] = ${formatShape(v.shape)}`,
        );
      }
      total += v.shape[axis]!;
    });
    const shape = [...first.shape];
    shape[axis] = total;
    return [concatInto(ctx, values, axis, shape)];
  },
  // The axis: the last input.
  { hostInputs: [-1] },
);

registerGpuKernel('Pack', (ctx, values) => {
  const first = values[0]!;
  values.forEach((v, i) => {
    if (v.shape.length !== first.shape.length || v.shape.some((d, j) => d !== first.shape[j])) {
      throw new InvalidArgumentError(`Shapes of all inputs must match: values[0].shape = ${formatShape(first.shape)} != values[${i}].shape = ${formatShape(v.shape)}`);
    }
  });
  const axis = normAxis((ctx.node.attrs.axis as number | undefined) ?? 0, first.shape.length + 1);
  const expanded = [...first.shape];
  expanded.splice(axis, 0, 1);
  const shape = [...first.shape];
  shape.splice(axis, 0, values.length);
  return [concatInto(ctx, values.map((v) => ctx.view(v, expanded)), axis, shape)];
});

/** Pieces of x along `axis` with the given sizes (the axis dropped when `dropAxis`); several outputs per dispatch. */
function splitInto(ctx: KernelCtx, x: GpuTensor, axis: number, sizes: readonly number[], dropAxis = false): GpuTensor[] {
  const outer = numElements(x.shape.slice(0, axis));
  const inner = numElements(x.shape.slice(axis + 1));
  const rowIn = x.shape[axis]! * inner;
  const d = x.dtype;
  const pieces: { t: GpuTensor; start: number; cols: number }[] = [];
  let col = 0;
  const outs = sizes.map((sz, k) => {
    const shape = [...x.shape];
    if (dropAxis) shape.splice(axis, 1);
    else shape[axis] = sz;
    const t = ctx.output(k, d, shape);
    const cols = sz * inner;
    if (cols > 0 && outer > 0) pieces.push({ t, start: col, cols });
    col += cols;
    return t;
  });
  for (let c = 0; c < pieces.length; c += MAX_BINDINGS - 1) {
    const chunk = pieces.slice(c, c + MAX_BINDINGS - 1);
    const start = chunk[0]!.start;
    const width = chunk.reduce((a, p) => a + p.cols, 0);
    if (chunk.length === 1 && outer === 1 && start === 0 && width === x.size) {
      ctx.copy(x, chunk[0]!.t);
      continue;
    }
    const lines = [`let row = i / ${u(width)};`, `let col = i % ${u(width)};`, `let v = in0[row * ${u(rowIn)} + ${u(start)} + col];`];
    let b = 0;
    chunk.forEach((p, k) => {
      const write = `out${k}[row * ${u(p.cols)} + col - ${u(b)}] = v;`;
      b += p.cols;
      if (k === chunk.length - 1) lines.push(`{ ${write} }`);
      else lines.push(`if (col < ${u(b)}) { ${write} } else`);
    });
    ctx.dispatch(
      perElement(outer * width, bindings([d], chunk.map(() => d)), lines.join('\n  ')),
      [x],
      chunk.map((p) => p.t),
    );
  }
  return outs;
}

registerGpuKernel(
  'Split',
  (ctx, [, x]) => {
    const n = ctx.node.attrs.num_split as number;
    const axis = normAxis(scalarNumber(ctx.host(0), 'split_dim'), x!.shape.length, 'split_dim');
    const d = x!.shape[axis]!;
    if (d % n !== 0) {
      throw new InvalidArgumentError(`Number of ways to split should evenly divide the split dimension, but got split_dim ${axis} (size = ${d}) and num_split ${n}`);
    }
    return splitInto(ctx, x!, axis, new Array<number>(n).fill(d / n));
  },
  { hostInputs: [0] },
);

registerGpuKernel(
  'SplitV',
  (ctx, [x]) => {
    const n = ctx.node.attrs.num_split as number;
    const axis = normAxis(scalarNumber(ctx.host(2), 'split_dim'), x!.shape.length, 'split_dim');
    const sizes = vector(ctx.host(1), 'size_splits');
    if (sizes.length !== n) throw new InvalidArgumentError(`size_splits has ${sizes.length} elements but num_split is ${n}`);
    const d = x!.shape[axis]!;
    let neg = -1;
    let sum = 0;
    sizes.forEach((s, i) => {
      if (s === -1) {
        if (neg >= 0) throw new InvalidArgumentError(`There can only be one -1 in the input, got [${sizes.join(',')}]`);
        neg = i;
      } else if (s < 0) {
        throw new InvalidArgumentError(`size_splits must be >= 0 (or one -1), got [${sizes.join(',')}]`);
      } else {
        sum += s;
      }
    });
    if ((neg < 0 && sum !== d) || (neg >= 0 && sum > d)) {
      throw new InvalidArgumentError(
        `Determined shape must either match input shape along split_dim exactly if fully specified, or be less than the size of the input along split_dim if not fully specified. Got: ${sum} vs ${d}`,
      );
    }
    return splitInto(ctx, x!, axis, sizes.map((s) => (s === -1 ? d - sum : s)));
  },
  { hostInputs: [1, 2] },
);

registerGpuKernel('Unpack', (ctx, [x]) => {
  const axis = normAxis((ctx.node.attrs.axis as number | undefined) ?? 0, x!.shape.length);
  const num = ctx.node.attrs.num as number;
  if (x!.shape[axis] !== num) throw new InvalidArgumentError(`Input shape axis ${axis} must equal ${num}, got shape ${formatShape(x!.shape)}`);
  return splitInto(ctx, x!, axis, new Array<number>(num).fill(1), true);
});

// ---- slicing -----------------------------------------------------------------------------------

registerGpuKernel(
  'Slice',
  (ctx, [x]) => {
    const begin = vector(ctx.host(1), 'begin');
    const size = vector(ctx.host(2), 'size');
    const r = x!.shape.length;
    if (begin.length !== r || size.length !== r) {
      throw new InvalidArgumentError(`Expected begin and size arguments to be 1-D tensors of size ${r}, but got shapes [${begin.length}] and [${size.length}] instead.`);
    }
    const shape = size.map((s, i) => {
      const d = x!.shape[i]!;
      const b = begin[i]!;
      const sz = s === -1 ? d - b : s;
      if (!(b >= 0 && b <= d && sz >= 0 && b + sz <= d)) {
        throw new InvalidArgumentError(`Expected begin[${i}] in [0, ${d}], and size[${i}] in [0, ${d - b}], but got ${b} and ${s}`);
      }
      return sz;
    });
    if (numElements(shape) === x!.size) return [ctx.view(x!, shape)];
    const strides = stridesOf(x!.shape);
    const out = ctx.output(0, x!.dtype, shape);
    gatherStrided(ctx, x!, out, shape, strides, begin.reduce((a, b, i) => a + b * strides[i]!, 0));
    return [out];
  },
  { hostInputs: [1, 2] },
);


registerGpuKernel(
  'StridedSlice',
  (ctx, [x]) => {
    const s = sliceSpec(ctx.node, x!.shape, ctx.host(1), ctx.host(2), ctx.host(3));
    if (s.spec.isIdentity) return [ctx.view(x!, s.finalShape)];
    const out = ctx.output(0, x!.dtype, s.finalShape);
    gatherStrided(ctx, x!, out, s.processing, s.strides, s.offset);
    return [out];
  },
  { hostInputs: [1, 2, 3] },
);

registerGpuKernel(
  'StridedSliceGrad',
  (ctx, inputs) => {
    const dy = inputs[4]!;
    const shape = vector(ctx.host(0), 'shape');
    checkDims(shape, 'shape');
    const s = sliceSpec(ctx.node, shape, ctx.host(1), ctx.host(2), ctx.host(3));
    if (s.finalShape.length !== dy.shape.length || s.finalShape.some((d, i) => d !== dy.shape[i])) {
      throw new InvalidArgumentError(`shape of dy was ${formatShape(dy.shape)} instead of ${formatShape(s.finalShape)}`);
    }
    const d = dy.dtype;
    const out = ctx.output(0, d, shape);
    const r = shape.length;
    const { begin, strides } = s.spec;
    const empty = numElements(s.processing) === 0;
    const dyStrides = stridesOf(s.processing);
    // Each output element finds the dy element that lands on it, if any: (c - begin) must be a
    // multiple of the stride and within the processed count on every dim.
    const lines = ['var src = 0i;', `var hit = ${empty ? 'false' : 'true'};`, 'var r_ = i;'];
    if (!empty) {
      for (let k = r - 1; k >= 0; k--) {
        const st = strides[k]!;
        const c = k === 0 ? 'r_' : `(r_ % ${u(shape[k]!)})`;
        const t = st > 0 ? `i32(${c}) - ${lit(begin[k]!, 'int32')}` : `${lit(begin[k]!, 'int32')} - i32(${c})`;
        const a = Math.abs(st);
        lines.push(`{ let t = ${t}; let q = t / ${lit(a, 'int32')};`);
        lines.push(`  hit = hit && t >= 0 && q * ${lit(a, 'int32')} == t && q < ${lit(s.processing[k]!, 'int32')}; src += q * ${lit(dyStrides[k]!, 'int32')}; }`);
        if (k > 0) lines.push(`r_ = r_ / ${u(shape[k]!)};`);
      }
    }
    lines.push(`if (hit) { out0[i] = in0[u32(src)]; } else { out0[i] = ${zero(d)}; }`);
    ctx.dispatch(perElement(out.size, bindings([d], [d]), lines.join('\n  ')), [dy], [out]);
    return [out];
  },
  { hostInputs: [0, 1, 2, 3] },
);

// ---- gather / scatter --------------------------------------------------------------------------

/**
 * Indices that are on the host (fed, constant) are checked there, with the CPU kernel's message
 * naming the bad index; true when that was done. Indices computed on the GPU are checked there.
 */
function checkedOnHost(what: string, indices: GpuTensor, limit: number, skipNegative: boolean): boolean {
  const h = indices.host;
  if (!h) return false;
  const data = h.data as ArrayLike<number | bigint>;
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]!);
    if ((v < 0 && !skipNegative) || v >= limit) throw indexError(what, h, i, v, limit);
  }
  return true;
}

/** Flags the run's check when an index is not in [0, limit) (negatives allowed when `skipNegative`). */
function checkIndices(ctx: KernelCtx, indices: GpuTensor, limit: number, skipNegative: boolean, flag: GpuTensor): void {
  const body = `${loadIndex(indices.dtype, 'in0', 'i', 'v')}
  if (${skipNegative ? '' : 'v < 0 || '}v >= ${lit(limit, 'int32')}) { out0[0] = 1; }`;
  ctx.dispatch(perElement(indices.size, bindings([indices.dtype], ['int32']), body), [indices], [flag]);
}

registerGpuKernel(
  'GatherV2',
  (ctx, [p, indices]) => {
    const axis = normAxis(scalarNumber(ctx.host(2), 'axis'), p!.shape.length);
    const n = p!.shape[axis]!;
    const shape = [...p!.shape.slice(0, axis), ...indices!.shape, ...p!.shape.slice(axis + 1)];
    const out = ctx.output(0, p!.dtype, shape);
    if (indices!.size === 0) return [out];
    const hostChecked = checkedOnHost('indices', indices!, n, false);
    const flag = hostChecked ? undefined : ctx.check(`indices contains a value that is not in [0, ${n})`);
    if (out.size === 0) {
      if (flag) checkIndices(ctx, indices!, n, false, flag);
      return [out];
    }
    const inner = numElements(p!.shape.slice(axis + 1));
    const m = indices!.size;
    const d = p!.dtype;
    const body = `let a = i / ${u(m * inner)};
  let j = (i / ${u(inner)}) % ${u(m)};
  let k = i % ${u(inner)};
  ${loadIndex(indices!.dtype, 'in1', 'j', 'v')}
  if (v < 0 || v >= ${lit(n, 'int32')}) { ${flag ? 'out1[0] = 1; ' : ''}out0[i] = ${zero(d)}; return; }
  out0[i] = in0[(a * ${u(n)} + u32(v)) * ${u(inner)} + k];`;
    const outs = flag ? [out, flag] : [out];
    ctx.dispatch(perElement(out.size, bindings([d, indices!.dtype], outs.map((t) => t.dtype)), body), [p!, indices!], outs);
    return [out];
  },
  { hostInputs: [2] },
);

/** a + b on int64 words, with carry. */
const ADD64 = `
fn add64(a: vec2<i32>, b: vec2<i32>) -> vec2<i32> {
  let x = bitcast<vec2<u32>>(a); let y = bitcast<vec2<u32>>(b);
  let lo = x.x + y.x;
  return bitcast<vec2<i32>>(vec2<u32>(lo, x.y + y.y + select(0u, 1u, lo < x.x)));
}`;

// Deterministic, and bit-identical to the CPU kernel: one invocation per output element sums the
// rows whose id matches its segment, in row order (the CPU's order). WGSL has no float atomics, and
// a compare-exchange loop on u32 would add in a scheduling-dependent order, so float sums would
// differ from run to run. Ids are staged through workgroup memory, WG at a time.
registerGpuKernel(
  'UnsortedSegmentSum',
  (ctx, [data, ids]) => {
    const dt = data!;
    const num = scalarNumber(ctx.host(2), 'num_segments');
    if (num < 0) throw new InvalidArgumentError(`num_segments must be >= 0, got ${num}`);
    const idShape = ids!.shape;
    if (idShape.length > dt.shape.length || idShape.some((s, i) => s !== dt.shape[i])) {
      throw new InvalidArgumentError(`data.shape = ${formatShape(dt.shape)} does not start with segment_ids.shape = ${formatShape(idShape)}`);
    }
    const inner = numElements(dt.shape.slice(idShape.length));
    const out = ctx.output(0, dt.dtype, [num, ...dt.shape.slice(idShape.length)]);
    const nIds = ids!.size;
    const hostChecked = checkedOnHost('segment_ids', ids!, num, true);
    const flag = hostChecked ? undefined : ctx.check(`segment_ids contains a value that is not in [0, ${num}) (negative ids are dropped)`);
    if (out.size === 0) {
      if (flag) checkIndices(ctx, ids!, num, true, flag);
      return [out];
    }
    const d = dt.dtype;
    const T = storageType(d);
    const add = d === 'int64' ? (a: string, b: string) => `${a} = add64(${a}, ${b});` : (a: string, b: string) => `${a} += ${b};`;
    const { workgroups, stride } = grid(out.size);
    const code = `${PRELUDE}${ADD64}
${bindings([d, ids!.dtype], flag ? [d, 'int32'] : [d])}
var<workgroup> seg: array<i32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32) {
  let o = gid.x + gid.y * ${u(stride)};
  let valid = o < ${u(out.size)};
  let s = i32(o / ${u(inner)});
  let j = o % ${u(inner)};
  var acc = ${T}();
  for (var base = 0u; base < ${u(nIds)}; base += ${WG}u) {
    let k = base + li;
    if (k < ${u(nIds)}) {
      ${loadIndex(ids!.dtype, 'in1', 'k', 'v')}
      if (v >= ${lit(num, 'int32')}) { ${flag ? 'out1[0] = 1; ' : ''}seg[li] = -1; } else { seg[li] = v; }
    }
    workgroupBarrier();
    let m = min(${WG}u, ${u(nIds)} - base);
    if (valid) {
      for (var t = 0u; t < m; t++) {
        if (seg[t] == s) { ${add('acc', `in0[(base + t) * ${u(inner)} + j]`)} }
      }
    }
    workgroupBarrier();
  }
  if (valid) { out0[o] = acc; }
}`;
    ctx.dispatch({ code, workgroups, label: `UnsortedSegmentSum ${ctx.node.name}` }, [dt, ids!], flag ? [out, flag] : [out]);
    return [out];
  },
  { hostInputs: [2] },
);

registerGpuKernel(
  'OneHot',
  (ctx, inputs) => {
    const [indices, , on, off] = inputs;
    const depth = scalarNumber(ctx.host(1), 'depth');
    if (depth < 0) throw new InvalidArgumentError(`depth must be non-negative, got: ${depth}`);
    const s = indices!.shape;
    const axisAttr = (ctx.node.attrs.axis as number | undefined) ?? -1;
    const axis = axisAttr === -1 ? s.length : axisAttr;
    const shape = [...s.slice(0, axis), depth, ...s.slice(axis)];
    const dtype = ctx.node.outputs[0]!.dtype;
    const out = ctx.output(0, dtype, shape);
    const suffix = numElements(s.slice(axis));
    const id = indices!.dtype;
    const body = `let suf = i % ${u(suffix)};
  let dd = (i / ${u(suffix)}) % ${u(depth)};
  let pre = i / ${u(suffix * depth)};
  ${loadIndex(id, 'in0', `pre * ${u(suffix)} + suf`, 'v')}
  out0[i] = select(in2[0], in1[0], v == i32(dd));`;
    ctx.dispatch(perElement(out.size, bindings([id, dtype, dtype], [dtype]), body), [indices!, on!, off!], [out]);
    return [out];
  },
  { hostInputs: [1] },
);
