// Helpers for generating WGSL. Shapes are known when a kernel is recorded, so generated shaders
// bake them in as constants (one pipeline per op, dtype and shape, cached by source text).
import type { DType } from '../../src/core/dtypes.js';
import { InternalError } from '../../src/core/errors.js';
import { stridesOf } from '../../src/core/shape.js';

/** Invocations per workgroup of the one-dimensional kernels. */
export const WG = 256;
/**
 * Storage buffers one dispatch may bind: WebGPU's guaranteed minimum of
 * maxStorageBuffersPerShaderStage. Kernels needing more split their work over several dispatches.
 */
export const MAX_BINDINGS = 8;
/** Per-dimension workgroup-count limit every WebGPU device has. */
const MAX_GROUPS = 65535;

export interface Program {
  code: string;
  workgroups: readonly [number, number, number];
  /** Shown in GPU error messages. */
  label?: string;
}

/** Element type of a storage array for a dtype. */
export function storageType(dtype: DType): string {
  switch (dtype) {
    case 'float32':
      return 'f32';
    case 'int32':
      return 'i32';
    case 'bool':
      return 'u32';
    case 'int64':
      return 'vec2<i32>';
    default:
      throw new InternalError(`WebGPU has no storage for dtype ${dtype}`);
  }
}

/** Expression reading element `idx` of array `arr`: f32, i32 (int64: its low word) or bool. */
export function load(dtype: DType, arr: string, idx: string): string {
  if (dtype === 'bool') return `(${arr}[${idx}] != 0u)`;
  if (dtype === 'int64') return `${arr}[${idx}].x`;
  return `${arr}[${idx}]`;
}

/** Statement writing `value` (as load reads it) to element `idx` of `arr`. */
export function store(dtype: DType, arr: string, idx: string, value: string): string {
  if (dtype === 'bool') return `${arr}[${idx}] = select(0u, 1u, ${value});`;
  if (dtype === 'int64') return `{ let v_ = ${value}; ${arr}[${idx}] = vec2<i32>(v_, select(0, -1, v_ < 0)); }`;
  return `${arr}[${idx}] = ${value};`;
}

/** Declares inputs (in0..) read-only and outputs (out0..) read-write, bindings in that order. */
export function bindings(inputs: readonly DType[], outputs: readonly DType[]): string {
  const lines: string[] = [];
  inputs.forEach((d, i) => lines.push(`@group(0) @binding(${i}) var<storage, read> in${i}: array<${storageType(d)}>;`));
  outputs.forEach((d, i) => lines.push(`@group(0) @binding(${inputs.length + i}) var<storage, read_write> out${i}: array<${storageType(d)}>;`));
  return lines.join('\n');
}

/** Helper functions generated shaders may call. */
export const PRELUDE = `
fn f2i(x: f32) -> i32 {
  if (!(x >= -2147483648.0 && x < 2147483648.0)) { return i32(-2147483647 - 1); }
  return i32(x);
}
`;

/**
 * Reinterprets bits as an f32 at run time: WGSL rejects constant expressions that evaluate to an
 * infinity or NaN, and a function argument is not one. The backend adds the definition to every
 * shader that calls it.
 */
export const BITS_FN = 'fn w_bits(b: u32) -> f32 { return bitcast<f32>(b); }';

/** A WGSL f32 literal (infinities and NaN through their bit patterns, see BITS_FN). */
export function f32(v: number): string {
  if (Number.isNaN(v)) return 'w_bits(0x7fc00000u)';
  if (v === Infinity) return 'w_bits(0x7f800000u)';
  if (v === -Infinity) return 'w_bits(0xff800000u)';
  const x = Math.fround(v);
  if (x === 0) return Object.is(x, -0) ? '(-0.0)' : '0.0';
  const s = x.toPrecision(9);
  return x < 0 ? `(${s}f)` : `${s}f`;
}

/** A WGSL literal of the type load reads for dtype. */
export function lit(v: number, dtype: DType): string {
  if (dtype === 'float32') return f32(v);
  if (dtype === 'bool') return v ? 'true' : 'false';
  if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw new InternalError(`WGSL literal ${v} is not an int32`);
  return v === -2147483648 ? 'i32(-2147483647 - 1)' : `i32(${v})`;
}

/** An unsigned integer constant (checked: shapes and strides only). */
export function u(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InternalError(`WGSL constant ${n} is not a u32`);
  return `${n}u`;
}

/** Workgroup counts covering n invocations of WG each, spread over y when x would exceed the limit. */
export function grid(n: number, wg = WG): { workgroups: [number, number, number]; stride: number } {
  const groups = Math.ceil(n / wg);
  if (groups <= MAX_GROUPS) return { workgroups: [groups, 1, 1], stride: groups * wg };
  const y = Math.ceil(groups / MAX_GROUPS);
  const x = Math.ceil(groups / y);
  return { workgroups: [x, y, 1], stride: x * wg };
}

/**
 * A one-dimensional kernel: `body` runs once per index `i` in [0, n) (a u32), after the
 * declarations `decls` (bindings, helper functions).
 */
export function perElement(n: number, decls: string, body: string, label?: string): Program {
  const { workgroups, stride } = grid(n);
  const code = `${PRELUDE}
${decls}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * ${u(stride)};
  if (i >= ${u(n)}) { return; }
  ${body}
}`;
  return { code, workgroups: n === 0 ? [0, 0, 0] : workgroups, label };
}

/**
 * Expression for the linear index into an input of shape `inShape` (aligned to `outShape`'s rank,
 * 1 where broadcast) read at linear output index `v`.
 */
export function broadcastIndex(outShape: readonly number[], inShape: readonly number[], v = 'i'): string {
  if (inShape.length !== outShape.length) throw new InternalError('broadcastIndex: ranks differ');
  if (inShape.every((d, k) => d === outShape[k])) return v;
  const os = stridesOf(outShape);
  const is = stridesOf(inShape);
  const terms: string[] = [];
  for (let d = 0; d < outShape.length; d++) {
    if (inShape[d] === 1 || outShape[d] === 1) continue;
    const coord = d === 0 ? `(${v} / ${u(os[d]!)})` : `((${v} / ${u(os[d]!)}) % ${u(outShape[d]!)})`;
    terms.push(is[d] === 1 ? coord : `${coord} * ${u(is[d]!)}`);
  }
  return terms.length ? terms.join(' + ') : '0u';
}

/**
 * WGSL binding `name` (an i32) to element j of index array `arr` (int32 or int64). An int64 that
 * does not fit reads as -1 (negative) or i32 max, so range checks on the i32 see it.
 */
export function loadIndex(dtype: DType, arr: string, j: string, name: string): string {
  if (dtype === 'int64') return `let w_${name} = ${arr}[${j}]; let ${name} = select(select(i32(2147483647), -1, w_${name}.y < 0), w_${name}.x, w_${name}.y == 0 && w_${name}.x >= 0);`;
  return `let ${name} = ${arr}[${j}];`;
}
