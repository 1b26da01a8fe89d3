// WebGPU kernels: complex numbers and FFTs. complex64 values are vec2<f32> (re, im) storage
// elements. Elementwise ops run one invocation per element; a transform runs one dispatch per
// transformed axis, each a direct DFT per output element (correctness first: O(n) work per
// element, twiddle angles reduced mod n so they stay exact), through private scratch buffers.
import type { DType } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray, numElements } from '../../../src/core/ndarray.js';
import { formatShape, stridesOf } from '../../../src/core/shape.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { broadcastIndex, MAX_BINDINGS, perElement, u } from '../wgsl.js';

function elementType(d: DType): string {
  return d === 'complex64' ? 'vec2<f32>' : d === 'int32' ? 'i32' : 'f32';
}

function decls(inputs: readonly GpuTensor[], outputs: readonly GpuTensor[]): string {
  const lines = inputs.map((t, i) => `@group(0) @binding(${i}) var<storage, read> in${i}: array<${elementType(t.dtype)}>;`);
  outputs.forEach((t, i) => lines.push(`@group(0) @binding(${inputs.length + i}) var<storage, read_write> out${i}: array<${elementType(t.dtype)}>;`));
  return lines.join('\n');
}

/** Records `body` once per element of `out` (index i), unless out is empty. */
function each(ctx: KernelCtx, inputs: GpuTensor[], out: GpuTensor, body: string): GpuTensor {
  if (out.size > 0) ctx.dispatch(perElement(out.size, decls(inputs, [out]), body, ctx.node.type), inputs, [out]);
  return out;
}

function fail(ctx: KernelCtx, message: string): never {
  throw new InvalidArgumentError(`${ctx.node.type}: ${message}`, ctx.node.name);
}

// ---- elementwise ------------------------------------------------------------------------------------

function complexToReal(type: string, expr: string): void {
  registerGpuKernel(type, (ctx, [x]) => [each(ctx, [x!], ctx.output(0, 'float32', x!.shape), `let v = in0[i];\n  out0[i] = ${expr};`)]);
}

complexToReal('Real', 'v.x');
complexToReal('Imag', 'v.y');
complexToReal('ComplexAbs', 'length(v)');
complexToReal('Angle', 'atan2(v.y, v.x)');

registerGpuKernel('Conj', (ctx, [x]) => [each(ctx, [x!], ctx.output(0, 'complex64', x!.shape), 'out0[i] = vec2<f32>(in0[i].x, -in0[i].y);')]);

registerGpuKernel('Complex', (ctx, [re, im]) => {
  const rank = Math.max(re!.shape.length, im!.shape.length);
  const align = (s: readonly number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s];
  const [a, b] = [align(re!.shape), align(im!.shape)];
  const shape = a.map((d, k) => {
    const e = b[k]!;
    if (d !== e && d !== 1 && e !== 1) fail(ctx, `Incompatible shapes: ${formatShape(re!.shape)} vs. ${formatShape(im!.shape)}`);
    return d === 1 ? e : d;
  });
  const out = ctx.output(0, 'complex64', shape);
  return [each(ctx, [re!, im!], out, `out0[i] = vec2<f32>(in0[${broadcastIndex(shape, a)}], in1[${broadcastIndex(shape, b)}]);`)];
});

// ---- transforms -------------------------------------------------------------------------------------

/** WGSL: the coordinate along `axis` of linear index `v` in `shape`. */
function coord(shape: readonly number[], axis: number, v = 'i'): string {
  const s = stridesOf(shape)[axis]!;
  return axis === 0 ? `(${v} / ${u(s)})` : `((${v} / ${u(s)}) % ${u(shape[axis]!)})`;
}

/**
 * exp(-2 pi i t / n) for t < n, computed in float64 on the host: a GPU's f32 sin and cos may be
 * off by 2^-11, too far for a transform.
 */
function twiddleTable(ctx: KernelCtx, n: number): GpuTensor {
  const d = new Float32Array(2 * Math.max(n, 1));
  for (let t = 0; t < n; t++) {
    d[2 * t] = Math.cos((2 * Math.PI * t) / n);
    d[2 * t + 1] = -Math.sin((2 * Math.PI * t) / n);
  }
  return ctx.fromHost(new NDArray(d, [Math.max(n, 1)], 'complex64'));
}

/** WGSL: w, the twiddle (j * k) mod n from the table in1 (forward) or its conjugate (inverse); `t` steps through (j * k) mod n. */
const twiddle = (sign: number): string => `let w = vec2<f32>(in1[t].x, ${sign < 0 ? '' : '-'}in1[t].y);`;
const advance = (n: number): string => `t = t + k;\n    if (t >= ${u(n)}) { t = t - ${u(n)}; }`;
const cmul = 'vec2<f32>(x.x * w.x - x.y * w.y, x.x * w.y + x.y * w.x)';

/** One complex DFT along `axis` of x (complex, same shape out), scaled by `scale`. */
function dftAxis(ctx: KernelCtx, x: GpuTensor, out: GpuTensor, axis: number, sign: number, scale: number): GpuTensor {
  const n = x.shape[axis]!;
  const s = stridesOf(x.shape)[axis]!;
  return each(
    ctx,
    [x, twiddleTable(ctx, n)],
    out,
    `let k = ${coord(x.shape, axis)};
  let base = i - k * ${u(s)};
  var sum = vec2<f32>(0.0, 0.0);
  var t = 0u;
  for (var j = 0u; j < ${u(n)}; j = j + 1u) {
    let x = in0[base + j * ${u(s)}];
    ${twiddle(sign)}
    sum = sum + ${cmul};
    ${advance(n)}
  }
  out0[i] = sum * ${scale.toPrecision(17)};`,
  );
}

/** Runs steps that each map one tensor to the next: scratch buffers between, the op's output last. */
function chain(ctx: KernelCtx, first: GpuTensor, steps: { dtype: DType; shape: number[]; run: (x: GpuTensor, out: GpuTensor) => GpuTensor }[]): GpuTensor {
  let x = first;
  steps.forEach((st, k) => {
    const out = k === steps.length - 1 ? ctx.output(0, st.dtype, st.shape) : ctx.scratch(st.dtype, st.shape, `step${k}`);
    x = st.run(x, out);
  });
  return x;
}

function checkRank(ctx: KernelCtx, x: GpuTensor, rank: number): void {
  if (x.shape.length < rank) fail(ctx, `input must have rank at least ${rank}, got shape ${formatShape(x.shape)}`);
}

function fftLengths(ctx: KernelCtx, rank: number): number[] {
  const n = Array.from(ctx.host(1).data as Int32Array);
  if (n.length !== rank) fail(ctx, `fft_length must have ${rank} elements, got [${n.join(',')}]`);
  if (n.some((d) => d < 0)) fail(ctx, `fft_length must be non-negative, got [${n.join(',')}]`);
  return n;
}

/**
 * WGSL: `src`, the index into an input of shape `inShape` of the element at output index i of
 * shape `outShape` (same rank; dims from `from` on may differ: crop/pad), and `inside`, whether
 * that element exists in the input (padding reads zero). The last dim is left to the caller (j).
 */
function cropPadIndex(outShape: readonly number[], inShape: readonly number[], from: number): string {
  const is = stridesOf(inShape);
  const terms: string[] = [];
  const checks: string[] = [];
  for (let d = 0; d < outShape.length - 1; d++) {
    const c = coord(outShape, d);
    terms.push(`${c} * ${u(is[d]!)}`);
    if (d >= from && outShape[d]! > inShape[d]!) checks.push(`${c} < ${u(inShape[d]!)}`);
  }
  return `let src = ${terms.length ? terms.join(' + ') : '0u'};\n  let inside = ${checks.length ? checks.join(' && ') : 'true'};`;
}

for (let rank = 1; rank <= 3; rank++) {
  const suffix = rank === 1 ? '' : `${rank}D`;
  for (const sign of [-1, 1]) {
    registerGpuKernel(`${sign < 0 ? '' : 'I'}FFT${suffix}`, (ctx, [x]) => {
      checkRank(ctx, x!, rank);
      const r = x!.shape.length;
      if (x!.size === 0) return [ctx.output(0, 'complex64', x!.shape)];
      const axes = Array.from({ length: rank }, (_, k) => r - rank + k);
      return [chain(ctx, x!, axes.map((a) => ({ dtype: 'complex64', shape: x!.shape, run: (t, out) => dftAxis(ctx, t, out, a, sign, sign < 0 ? 1 : 1 / x!.shape[a]!) })))];
    });
  }

  // RFFT: the last axis's real DFT (input cropped/padded on every transformed axis), then complex DFTs along the others.
  registerGpuKernel(
    `RFFT${suffix}`,
    (ctx, [x]) => {
      checkRank(ctx, x!, rank);
      const lengths = fftLengths(ctx, rank);
      const r = x!.shape.length;
      const lead = x!.shape.slice(0, r - rank);
      const n = lengths[rank - 1]!;
      const half = Math.floor(n / 2) + 1;
      const shape = [...lead, ...lengths.slice(0, rank - 1), half];
      if (numElements(shape) === 0) return [ctx.output(0, 'complex64', shape)];
      const m = Math.min(n, x!.shape[r - 1]!);
      const first = {
        dtype: 'complex64' as const,
        shape,
        run: (t: GpuTensor, out: GpuTensor): GpuTensor =>
          each(
            ctx,
            [t, twiddleTable(ctx, n)],
            out,
            `${cropPadIndex(shape, t.shape, r - rank)}
  let k = ${coord(shape, r - 1)};
  var sum = vec2<f32>(0.0, 0.0);
  var t = 0u;
  if (inside) {
    for (var j = 0u; j < ${u(m)}; j = j + 1u) {
      let x = vec2<f32>(in0[src + j], 0.0);
      ${twiddle(-1)}
      sum = sum + ${cmul};
      ${advance(n)}
    }
  }
  out0[i] = sum;`,
          ),
      };
      const rest = Array.from({ length: rank - 1 }, (_, k) => r - rank + k).map((a) => ({ dtype: 'complex64' as const, shape, run: (t: GpuTensor, out: GpuTensor) => dftAxis(ctx, t, out, a, -1, 1) }));
      return [chain(ctx, x!, [first, ...rest])];
    },
    { hostInputs: [1] },
  );

  // IRFFT: the half spectrum cropped/padded, inverse DFTs along the leading transformed axes, then
  // the last axis's complex-to-real inverse (each bin but 0 and n/2 standing for a conjugate pair).
  registerGpuKernel(
    `IRFFT${suffix}`,
    (ctx, [x]) => {
      checkRank(ctx, x!, rank);
      const lengths = fftLengths(ctx, rank);
      const r = x!.shape.length;
      const lead = x!.shape.slice(0, r - rank);
      const n = lengths[rank - 1]!;
      const half = Math.floor(n / 2) + 1;
      const outShape = [...lead, ...lengths];
      if (numElements(outShape) === 0) return [ctx.output(0, 'float32', outShape)];
      const halfShape = [...lead, ...lengths.slice(0, rank - 1), half];
      const kept = Math.min(half, x!.shape[r - 1]!);
      const gather = {
        dtype: 'complex64' as const,
        shape: halfShape,
        run: (t: GpuTensor, out: GpuTensor): GpuTensor =>
          each(
            ctx,
            [t],
            out,
            `${cropPadIndex(halfShape, t.shape, r - rank)}
  let k = ${coord(halfShape, r - 1)};
  out0[i] = select(vec2<f32>(0.0, 0.0), in0[src + min(k, ${u(Math.max(kept, 1) - 1)})], inside && k < ${u(kept)});`,
          ),
      };
      const inverse = Array.from({ length: rank - 1 }, (_, k) => r - rank + k).map((a) => ({
        dtype: 'complex64' as const,
        shape: halfShape,
        run: (t: GpuTensor, out: GpuTensor) => dftAxis(ctx, t, out, a, 1, 1 / lengths[a - (r - rank)]!),
      }));
      const toReal = {
        dtype: 'float32' as const,
        shape: outShape,
        run: (t: GpuTensor, out: GpuTensor): GpuTensor =>
          each(
            ctx,
            [t, twiddleTable(ctx, n)],
            out,
            `let k = ${coord(outShape, r - 1)};
  let base = (i / ${u(n)}) * ${u(half)};
  var sum = 0.0;
  var t = 0u;
  for (var j = 0u; j < ${u(half)}; j = j + 1u) {
    let x = in0[base + j];
    ${twiddle(1)}
    let weight = select(2.0, 1.0, j == 0u || 2u * j == ${u(n)});
    sum = sum + weight * (x.x * w.x - x.y * w.y);
    t = t + k;
    if (t >= ${u(n)}) { t = t - ${u(n)}; }
  }
  out0[i] = sum / f32(${u(n)});`,
          ),
      };
      return [chain(ctx, x!, [gather, ...inverse, toReal])];
    },
    { hostInputs: [1] },
  );
}

// ---- complex arithmetic, for the math kernels' complex64 branch -----------------------------------

const COMPLEX_EXPR: Readonly<Record<string, (a: string[]) => string>> = {
  AddV2: ([a, b]) => `${a} + ${b}`,
  Sub: ([a, b]) => `${a} - ${b}`,
  Mul: ([a, b]) => `cmul(${a}, ${b})`,
  RealDiv: ([a, b]) => `cdiv(${a}, ${b})`,
  Neg: ([a]) => `-${a}`,
  AddN: (args) => args.join(' + '),
};

const COMPLEX_FNS = `
fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> { return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
fn cdiv(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  if (abs(b.x) >= abs(b.y)) {
    let r = b.y / b.x;
    let d = b.x + b.y * r;
    return vec2<f32>((a.x + a.y * r) / d, (a.y - a.x * r) / d);
  }
  let r = b.x / b.y;
  let d = b.x * r + b.y;
  return vec2<f32>((a.x * r + a.y) / d, (a.y * r - a.x) / d);
}`;

/**
 * An elementwise op with a complex64 operand or result (AddV2, Sub, Mul, RealDiv, Neg, AddN with
 * broadcasting; Cast between complex64 and float32), for the math kernels to call; other ops are
 * an InvalidArgumentError naming them.
 */
export function complexElementwise(ctx: KernelCtx, type: string, inputs: readonly GpuTensor[]): GpuTensor[] {
  if (type === 'Cast') {
    const x = inputs[0]!;
    const to = ctx.node.outputs[0]!.dtype;
    const expr = x.dtype === 'complex64' && to === 'float32' ? 'in0[i].x' : x.dtype === 'float32' && to === 'complex64' ? 'vec2<f32>(in0[i], 0.0)' : x.dtype === to ? 'in0[i]' : undefined;
    if (!expr) fail(ctx, `Cast ${x.dtype} to ${to} is not supported (complex64 casts to and from float32 only)`);
    return [each(ctx, [x], ctx.output(0, to, x.shape), `out0[i] = ${expr};`)];
  }
  const f = COMPLEX_EXPR[type];
  if (!f) fail(ctx, `${type} has no complex64 kernel`);
  if (inputs.some((t) => t.dtype !== 'complex64')) fail(ctx, `inputs must all be complex64, got ${inputs.map((t) => t.dtype).join(', ')}`);
  if (inputs.length + 1 > MAX_BINDINGS) fail(ctx, `at most ${MAX_BINDINGS - 1} complex64 inputs, got ${inputs.length}`);
  const rank = Math.max(...inputs.map((t) => t.shape.length));
  const aligned = inputs.map((t) => [...new Array<number>(rank - t.shape.length).fill(1), ...t.shape]);
  const shape = aligned[0]!.map((_, d) => Math.max(...aligned.map((s) => s[d]!)));
  aligned.forEach((s) => {
    if (s.some((d, k) => d !== shape[k] && d !== 1)) fail(ctx, `Incompatible shapes: ${inputs.map((t) => formatShape(t.shape)).join(' vs. ')}`);
  });
  const out = ctx.output(0, 'complex64', shape);
  if (out.size === 0) return [out];
  const body = `out0[i] = ${f(aligned.map((s, k) => `in${k}[${broadcastIndex(shape, s)}]`))};`;
  ctx.dispatch(perElement(out.size, `${decls(inputs, [out])}\n${COMPLEX_FNS}`, body, type), inputs, [out]);
  return [out];
}
