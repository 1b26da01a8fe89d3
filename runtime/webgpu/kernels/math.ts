// WebGPU kernels: math family (elementwise ops and the activations), all generated from one table
// of per-op WGSL expression templates. A single op is compiled as a one-op ElementwiseProgram, so
// single kernels and fused clusters (kernels/fused.ts) share the same templates and code generator.
//
// Code generation safety: generated source contains only the fixed snippets of this file, names it
// makes up (x0, t3, in1, ...), and numbers formatted by wgsl.ts (f32/lit/u); nothing from a graph.
import type { DType } from '../../../src/core/dtypes.js';
import { InternalError, InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape, sameShape } from '../../../src/core/shape.js';
import type { AttrValue } from '../../../src/graph.js';
import type { ElementwiseProgram } from '../../backend.js';
import { getOpDef } from '../../../ops/registry.js';
import { gradShapeMismatch, leakyAlpha, SELU_ALPHA, SELU_SCALE } from '../../activations.js';
import { broadcastOrThrow } from '../../shape_helpers.js';
import { getGpuKernel, registerGpuKernel, type GpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { complexElementwise } from './spectral.js';
import { bindings, broadcastIndex, f32, MAX_BINDINGS, perElement } from '../wgsl.js';

const SELU_SA = SELU_SCALE * SELU_ALPHA;


// ---------------------------------------------------------------------------------------------
// Values: float32 as f32, int32 as i32, bool as bool, int64 as vec2<u32> (low word, high word).

export function valueType(d: DType): string {
  switch (d) {
    case 'float32':
      return 'f32';
    case 'int32':
      return 'i32';
    case 'bool':
      return 'bool';
    case 'int64':
      return 'vec2<u32>';
    default:
      throw new InternalError(`WebGPU elementwise kernels have no ${d} values`);
  }
}

export function loadValue(d: DType, arr: string, idx: string): string {
  if (d === 'bool') return `(${arr}[${idx}] != 0u)`;
  if (d === 'int64') return `bitcast<vec2<u32>>(${arr}[${idx}])`;
  return `${arr}[${idx}]`;
}

export function storeValue(d: DType, arr: string, idx: string, v: string): string {
  if (d === 'bool') return `${arr}[${idx}] = select(0u, 1u, ${v});`;
  if (d === 'int64') return `${arr}[${idx}] = bitcast<vec2<i32>>(${v});`;
  return `${arr}[${idx}] = ${v};`;
}

const GPU_DTYPES: ReadonlySet<DType> = new Set(['float32', 'int32', 'bool', 'int64']);

// ---------------------------------------------------------------------------------------------
// WGSL helper functions (module scope; generated kernels include the ones their templates name)

const HELPERS: Record<string, { code: string; deps?: string[] }> = {
  w_nan: { code: 'fn w_nan() -> f32 { let b = 0x7fc00000u; return bitcast<f32>(b); }' },
  w_inf: { code: 'fn w_inf() -> f32 { let b = 0x7f800000u; return bitcast<f32>(b); }' },
  w_isnan: { code: 'fn w_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }' },
  w_isinf: { code: 'fn w_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }' },
  w_max: {
    deps: ['w_isnan', 'w_nan'],
    // NaN propagates; max(-0, 0) is 0 (the sign bits AND).
    code: `fn w_max(a: f32, b: f32) -> f32 {
  if (w_isnan(a) || w_isnan(b)) { return w_nan(); }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) & bitcast<u32>(b)); }
  return select(b, a, a > b);
}`,
  },
  w_min: {
    deps: ['w_isnan', 'w_nan'],
    code: `fn w_min(a: f32, b: f32) -> f32 {
  if (w_isnan(a) || w_isnan(b)) { return w_nan(); }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) | bitcast<u32>(b)); }
  return select(b, a, a < b);
}`,
  },
  w_exp: {
    deps: ['w_inf', 'w_isnan'],
    code: `fn w_exp(x: f32) -> f32 {
  if (w_isnan(x)) { return x; }
  if (x > 88.73) { return w_inf(); }
  if (x < -104.0) { return 0.0; }
  return exp(x);
}`,
  },
  w_expm1: {
    deps: ['w_exp'],
    // Taylor series near 0, where exp(x) - 1 cancels.
    code: `fn w_expm1(x: f32) -> f32 {
  if (abs(x) < 0.5) {
    return x * (1.0 + x / 2.0 * (1.0 + x / 3.0 * (1.0 + x / 4.0 * (1.0 + x / 5.0 * (1.0 + x / 6.0 * (1.0 + x / 7.0 * (1.0 + x / 8.0)))))));
  }
  return w_exp(x) - 1.0;
}`,
  },
  w_ln1p_core: {
    // ln(1 + x) for x in [-0.5, 1]: 2 atanh(s), s = x / (2 + x) in [-1/3, 1/3].
    code: `fn w_ln1p_core(x: f32) -> f32 {
  let s = x / (2.0 + x);
  let z = s * s;
  return 2.0 * s * (1.0 + z * (1.0 / 3.0 + z * (1.0 / 5.0 + z * (1.0 / 7.0 + z * (1.0 / 9.0 + z * (1.0 / 11.0 + z * (1.0 / 13.0 + z * (1.0 / 15.0 + z / 17.0))))))));
}`,
  },
  w_log: {
    deps: ['w_ln1p_core', 'w_isnan', 'w_isinf', 'w_nan', 'w_inf'],
    code: `fn w_log(x: f32) -> f32 {
  if (w_isnan(x) || x < 0.0) { return w_nan(); }
  if (x >= 0.5 && x <= 2.0) { return w_ln1p_core(x - 1.0); }
  if (x == 0.0) { return -w_inf(); }
  if (w_isinf(x)) { return x; }
  return log(x);
}`,
  },
  w_log1p: {
    deps: ['w_ln1p_core', 'w_log'],
    code: `fn w_log1p(x: f32) -> f32 {
  if (x >= -0.5 && x <= 1.0) { return w_ln1p_core(x); }
  return w_log(1.0 + x);
}`,
  },
  w_sqrt: {
    deps: ['w_nan'],
    code: 'fn w_sqrt(x: f32) -> f32 { if (x < 0.0) { return w_nan(); } return sqrt(x); }',
  },
  w_tanh: {
    deps: ['w_expm1'],
    code: `fn w_tanh(x: f32) -> f32 {
  let e = w_expm1(-2.0 * abs(x));
  let r = -e / (2.0 + e);
  return select(r, -r, x < 0.0);
}`,
  },
  w_sigmoid: {
    deps: ['w_exp'],
    code: `fn w_sigmoid(x: f32) -> f32 {
  let e = w_exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}`,
  },
  w_softplus: {
    deps: ['w_exp', 'w_log1p'],
    code: `fn w_softplus(x: f32) -> f32 {
  if (x > 0.0) { return x + w_log1p(w_exp(-x)); }
  return w_log1p(w_exp(x));
}`,
  },
  w_pow: {
    deps: ['w_isnan', 'w_isinf', 'w_nan', 'w_inf', 'w_exp', 'w_log'],
    // Math.pow's special cases; small integer exponents by repeated squaring (exact where the
    // CPU is: 2^3 = 8), others through exp(y ln|x|).
    code: `fn w_pow(x: f32, y: f32) -> f32 {
  if (w_isnan(y)) { return w_nan(); }
  if (y == 0.0) { return 1.0; }
  if (w_isnan(x)) { return w_nan(); }
  let ay = abs(y);
  let yint = floor(y) == y;
  let yodd = yint && ay < 16777216.0 && fract(ay * 0.5) != 0.0;
  if (w_isinf(y)) {
    let ax = abs(x);
    if (ax == 1.0) { return w_nan(); }
    return select(0.0, w_inf(), (ax > 1.0) == (y > 0.0));
  }
  if (yint && ay <= 64.0) {
    var n = u32(ay);
    var b = x;
    var r = 1.0;
    loop {
      if ((n & 1u) != 0u) { r = r * b; }
      n = n >> 1u;
      if (n == 0u) { break; }
      b = b * b;
    }
    return select(r, 1.0 / r, y < 0.0);
  }
  if (x == 0.0 || w_isinf(x)) {
    let big = (x != 0.0) == (y > 0.0);
    let neg = yodd && (bitcast<u32>(x) & 0x80000000u) != 0u;
    let m = select(0.0, w_inf(), big);
    return select(m, -m, neg);
  }
  if (x < 0.0 && !yint) { return w_nan(); }
  let r = w_exp(y * w_log(abs(x)));
  return select(r, -r, x < 0.0 && yodd);
}`,
  },
  w_fmod: {
    deps: ['w_isnan', 'w_isinf', 'w_nan'],
    // JavaScript's x % y (C fmod), exact: subtracts |y| scaled by powers of two, largest first.
    code: `fn w_fmod(x: f32, y: f32) -> f32 {
  if (y == 0.0 || w_isnan(x) || w_isnan(y) || w_isinf(x)) { return w_nan(); }
  if (w_isinf(y)) { return x; }
  let ax = abs(x);
  let ay = abs(y);
  var r = ax;
  if (ax >= ay) {
    var d = ldexp(ay, frexp(ax).exp - frexp(ay).exp);
    if (d > r) { d = d * 0.5; }
    loop {
      if (d < ay) { break; }
      if (r >= d) { r = r - d; }
      d = d * 0.5;
    }
  }
  return select(r, -r, x < 0.0);
}`,
  },
  w_floormod_f: {
    deps: ['w_fmod'],
    code: `fn w_floormod_f(x: f32, y: f32) -> f32 {
  let r = w_fmod(x, y);
  return select(r, r + y, r != 0.0 && (r < 0.0) != (y < 0.0));
}`,
  },
  w_floordiv_i: {
    code: `fn w_floordiv_i(a: i32, b: i32) -> i32 {
  let q = a / b;
  return select(q, q - 1, (a % b) != 0 && ((a < 0) != (b < 0)));
}`,
  },
  w_floormod_i: {
    code: `fn w_floormod_i(a: i32, b: i32) -> i32 {
  let r = a % b;
  return select(r, r + b, r != 0 && ((r < 0) != (b < 0)));
}`,
  },
  w_pow_i: {
    code: `fn w_pow_i(x: i32, y: i32) -> i32 {
  var n = u32(max(y, 0));
  var b = x;
  var r = 1;
  loop {
    if (n == 0u) { break; }
    if ((n & 1u) != 0u) { r = r * b; }
    n = n >> 1u;
    b = b * b;
  }
  return r;
}`,
  },
  // int64 as vec2<u32>(low, high), two's complement.
  w_add64: {
    code: `fn w_add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.x + b.x;
  return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}`,
  },
  w_neg64: {
    code: `fn w_neg64(a: vec2<u32>) -> vec2<u32> {
  let n = ~a;
  let lo = n.x + 1u;
  return vec2<u32>(lo, n.y + select(0u, 1u, lo == 0u));
}`,
  },
  w_sub64: { deps: ['w_add64', 'w_neg64'], code: 'fn w_sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> { return w_add64(a, w_neg64(b)); }' },
  w_mulhi32: {
    code: `fn w_mulhi32(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p01 = a0 * b1; let p10 = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}`,
  },
  w_mul64: {
    deps: ['w_mulhi32'],
    code: 'fn w_mul64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> { return vec2<u32>(a.x * b.x, w_mulhi32(a.x, b.x) + a.x * b.y + a.y * b.x); }',
  },
  w_isneg64: { code: 'fn w_isneg64(a: vec2<u32>) -> bool { return (a.y & 0x80000000u) != 0u; }' },
  w_lt64: {
    code: `fn w_lt64(a: vec2<u32>, b: vec2<u32>) -> bool {
  let ah = bitcast<i32>(a.y); let bh = bitcast<i32>(b.y);
  return ah < bh || (ah == bh && a.x < b.x);
}`,
  },
  w_ult64: { code: 'fn w_ult64(a: vec2<u32>, b: vec2<u32>) -> bool { return a.y < b.y || (a.y == b.y && a.x < b.x); }' },
  w_abs64: { deps: ['w_neg64', 'w_isneg64'], code: 'fn w_abs64(a: vec2<u32>) -> vec2<u32> { return select(a, w_neg64(a), w_isneg64(a)); }' },
  w_sign64: {
    deps: ['w_isneg64'],
    code: `fn w_sign64(a: vec2<u32>) -> vec2<u32> {
  if (w_isneg64(a)) { return vec2<u32>(0xffffffffu, 0xffffffffu); }
  return select(vec2<u32>(1u, 0u), vec2<u32>(0u, 0u), a.x == 0u && a.y == 0u);
}`,
  },
  w_divmod64: {
    deps: ['w_ult64', 'w_sub64'],
    // Unsigned long division, one bit per step: (quotient, remainder) of n / d (d != 0).
    code: `struct W_DivMod { q: vec2<u32>, r: vec2<u32> }
fn w_divmod64(n: vec2<u32>, d: vec2<u32>) -> W_DivMod {
  var q = vec2<u32>(0u, 0u);
  var r = vec2<u32>(0u, 0u);
  for (var k = 63u; ; k = k - 1u) {
    let word = select(n.x, n.y, k >= 32u);
    let bit = (word >> (k & 31u)) & 1u;
    r = vec2<u32>((r.x << 1u) | bit, (r.y << 1u) | (r.x >> 31u));
    if (!w_ult64(r, d)) {
      r = w_sub64(r, d);
      if (k >= 32u) { q.y = q.y | (1u << (k - 32u)); } else { q.x = q.x | (1u << k); }
    }
    if (k == 0u) { break; }
  }
  return W_DivMod(q, r);
}`,
  },
  w_floordiv64: {
    deps: ['w_divmod64', 'w_abs64', 'w_isneg64', 'w_neg64', 'w_sub64'],
    code: `fn w_floordiv64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  if (b.x == 0u && b.y == 0u) { return vec2<u32>(0u, 0u); }
  let dm = w_divmod64(w_abs64(a), w_abs64(b));
  if (w_isneg64(a) == w_isneg64(b)) { return dm.q; }
  let q = w_neg64(dm.q);
  return select(q, w_sub64(q, vec2<u32>(1u, 0u)), dm.r.x != 0u || dm.r.y != 0u);
}`,
  },
  w_floormod64: {
    deps: ['w_divmod64', 'w_abs64', 'w_isneg64', 'w_neg64', 'w_add64'],
    code: `fn w_floormod64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  if (b.x == 0u && b.y == 0u) { return vec2<u32>(0u, 0u); }
  let m = w_divmod64(w_abs64(a), w_abs64(b)).r;
  let r = select(m, w_neg64(m), w_isneg64(a));
  let nz = r.x != 0u || r.y != 0u;
  return select(r, w_add64(r, b), nz && w_isneg64(r) != w_isneg64(b));
}`,
  },
  w_pow64: {
    deps: ['w_mul64'],
    code: `fn w_pow64(x: vec2<u32>, y: vec2<u32>) -> vec2<u32> {
  var r = vec2<u32>(1u, 0u);
  if ((y.y & 0x80000000u) != 0u) { return r; }
  var b = x;
  var n = y;
  loop {
    if (n.x == 0u && n.y == 0u) { break; }
    if ((n.x & 1u) != 0u) { r = w_mul64(r, b); }
    n = vec2<u32>((n.x >> 1u) | (n.y << 31u), n.y >> 1u);
    b = w_mul64(b, b);
  }
  return r;
}`,
  },
  w_i64_to_f32: {
    deps: ['w_isneg64', 'w_neg64'],
    code: `fn w_i64_to_f32(a: vec2<u32>) -> f32 {
  let neg = w_isneg64(a);
  let m = select(a, w_neg64(a), neg);
  let f = f32(m.y) * 4294967296.0 + f32(m.x);
  return select(f, -f, neg);
}`,
  },
  w_f32_to_i64: {
    deps: ['w_neg64'],
    // Truncation; NaN and out-of-range values give INT64_MIN, as the CPU kernel does.
    code: `fn w_f32_to_i64(x: f32) -> vec2<u32> {
  let t = trunc(x);
  if (!(t >= -9223372036854775808.0 && t < 9223372036854775808.0)) { return vec2<u32>(0u, 0x80000000u); }
  let a = abs(t);
  let hi = floor(a / 4294967296.0);
  let m = vec2<u32>(u32(a - hi * 4294967296.0), u32(hi));
  return select(m, w_neg64(m), t < 0.0);
}`,
  },
  // Trigonometry: Taylor polynomials on |t| <= pi/2 (errors below 1e-9), arguments reduced by
  // multiples of pi/2 in three parts (Cody-Waite), so the results do not depend on the device's
  // sin/cos/atan, whose WGSL accuracy bounds are loose.
  w_sin_k: {
    code: `fn w_sin_k(t: f32) -> f32 {
  let z = t * t;
  return t * (1.0 + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0 + z * (-1.0 / 39916800.0 + z / 6227020800.0))))));
}`,
  },
  w_cos_k: {
    code: `fn w_cos_k(t: f32) -> f32 {
  let z = t * t;
  return 1.0 + z * (-0.5 + z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40320.0 + z * (-1.0 / 3628800.0 + z * (1.0 / 479001600.0 - z / 87178291200.0))))));
}`,
  },
  w_sincos: {
    deps: ['w_sin_k', 'w_cos_k', 'w_isnan', 'w_isinf', 'w_nan'],
    // (sin x, cos x): x = k pi/2 + r, |r| <= pi/4, then the quadrant k mod 4 picks and signs.
    code: `fn w_sincos(x: f32) -> vec2<f32> {
  if (w_isnan(x) || w_isinf(x)) { return vec2<f32>(w_nan(), w_nan()); }
  let k = round(x * 0.63661977236758134);
  let r = ((x - k * 1.5703125) - k * 0.0004838267923332751) - k * 2.5632829192545614e-12;
  let s = w_sin_k(r);
  let c = w_cos_k(r);
  let q = i32(k - 4.0 * floor(k * 0.25));
  if (q == 0) { return vec2<f32>(s, c); }
  if (q == 1) { return vec2<f32>(c, -s); }
  if (q == 2) { return vec2<f32>(-s, -c); }
  return vec2<f32>(-c, s);
}`,
  },
  w_atan: {
    deps: ['w_isnan'],
    // |x| > 1 through pi/2 - atan(1/x), then above tan(pi/12) through pi/6 + atan((x sqrt3 - 1) / (sqrt3 + x)).
    code: `fn w_atan(x: f32) -> f32 {
  if (w_isnan(x)) { return x; }
  let ax = abs(x);
  let flip = ax > 1.0;
  var t = select(ax, 1.0 / ax, flip);
  var base = 0.0;
  if (t > 0.2679491924311227) {
    t = (t * 1.7320508075688772 - 1.0) / (1.7320508075688772 + t);
    base = 0.5235987755982988;
  }
  let z = t * t;
  var r = base + t * (1.0 + z * (-1.0 / 3.0 + z * (1.0 / 5.0 + z * (-1.0 / 7.0 + z * (1.0 / 9.0 + z * (-1.0 / 11.0 + z * (1.0 / 13.0 - z / 15.0)))))));
  if (flip) { r = 1.5707963267948966 - r; }
  return select(r, -r, x < 0.0);
}`,
  },
  w_atan2: {
    deps: ['w_atan', 'w_isnan', 'w_isinf', 'w_nan'],
    // C's atan2, signed zeros and infinities included.
    code: `fn w_atan2(y: f32, x: f32) -> f32 {
  if (w_isnan(x) || w_isnan(y)) { return w_nan(); }
  let ay = abs(y);
  let ax = abs(x);
  var a: f32;
  if (w_isinf(ay) && w_isinf(ax)) { a = 0.7853981633974483; }
  else if (ax == 0.0 || w_isinf(ay)) { a = select(1.5707963267948966, 0.0, ay == 0.0); }
  else if (w_isinf(ax)) { a = 0.0; }
  else { a = w_atan(ay / ax); }
  if ((bitcast<u32>(x) & 0x80000000u) != 0u) { a = 3.141592653589793 - a; }
  return select(a, -a, (bitcast<u32>(y) & 0x80000000u) != 0u);
}`,
  },
  w_asin: {
    deps: ['w_atan2', 'w_nan'],
    code: `fn w_asin(x: f32) -> f32 {
  if (abs(x) > 1.0) { return w_nan(); }
  return w_atan2(x, sqrt((1.0 - x) * (1.0 + x)));
}`,
  },
  w_acos: {
    deps: ['w_atan2', 'w_nan'],
    code: `fn w_acos(x: f32) -> f32 {
  if (abs(x) > 1.0) { return w_nan(); }
  return w_atan2(sqrt((1.0 - x) * (1.0 + x)), x);
}`,
  },
  w_exp_half: {
    deps: ['w_exp'],
    // e^|x| / 2 without overflowing before the result does.
    code: 'fn w_exp_half(ax: f32) -> f32 { if (ax > 20.0) { return w_exp(ax - 0.6931471805599453); } return 0.5 * w_exp(ax); }',
  },
  w_sinh: {
    deps: ['w_expm1', 'w_exp_half'],
    code: `fn w_sinh(x: f32) -> f32 {
  let ax = abs(x);
  var r: f32;
  if (ax < 1.0) {
    let e = w_expm1(ax);
    r = 0.5 * (e + e / (e + 1.0));
  } else if (ax > 20.0) {
    r = w_exp_half(ax);
  } else {
    let e = w_exp_half(ax);
    r = e - 0.25 / e;
  }
  return select(r, -r, x < 0.0);
}`,
  },
  w_cosh: {
    deps: ['w_exp_half'],
    code: `fn w_cosh(x: f32) -> f32 {
  let e = w_exp_half(abs(x));
  if (abs(x) > 20.0) { return e; }
  return e + 0.25 / e;
}`,
  },
  w_asinh: {
    deps: ['w_log1p', 'w_log', 'w_isnan'],
    code: `fn w_asinh(x: f32) -> f32 {
  if (w_isnan(x)) { return x; }
  let ax = abs(x);
  var r: f32;
  if (ax > 1e18) { r = w_log(ax) + 0.6931471805599453; }
  else { r = w_log1p(ax + ax * ax / (1.0 + sqrt(1.0 + ax * ax))); }
  return select(r, -r, x < 0.0);
}`,
  },
  w_acosh: {
    deps: ['w_log1p', 'w_log', 'w_nan'],
    code: `fn w_acosh(x: f32) -> f32 {
  if (!(x >= 1.0)) { return w_nan(); }
  if (x > 1e18) { return w_log(x) + 0.6931471805599453; }
  let t = x - 1.0;
  return w_log1p(t + sqrt(t * (x + 1.0)));
}`,
  },
  w_atanh: {
    deps: ['w_log1p'],
    code: `fn w_atanh(x: f32) -> f32 {
  let ax = abs(x);
  let r = 0.5 * w_log1p(2.0 * ax / (1.0 - ax));
  return select(r, -r, x < 0.0);
}`,
  },
  // Special functions, the CPU's algorithms (activations.ts) in float32.
  w_erfc_cf: {
    deps: ['w_exp'],
    // x >= 2: e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
    code: `fn w_erfc_cf(x: f32) -> f32 {
  var t = x;
  for (var n = 30; n >= 1; n = n - 1) { t = x + f32(n) * 0.5 / t; }
  return w_exp(-x * x) * 0.5641895835477563 / t;
}`,
  },
  w_erf: {
    deps: ['w_erfc_cf', 'w_exp', 'w_isnan'],
    // |x| < 2: 2/sqrt(pi) e^(-x^2) sum 2^n x^(2n+1) / (2n+1)!!, all terms positive.
    code: `fn w_erf(x: f32) -> f32 {
  if (w_isnan(x)) { return x; }
  let ax = abs(x);
  if (ax < 2.0) {
    let x2 = x * x;
    var term = x;
    var sum = x;
    for (var n = 1; n < 40; n = n + 1) {
      term = term * (2.0 * x2) / f32(2 * n + 1);
      sum = sum + term;
      if (abs(term) <= abs(sum) * 1e-8) { break; }
    }
    return 1.1283791670955126 * w_exp(-x2) * sum;
  }
  let r = 1.0 - w_erfc_cf(ax);
  return select(r, -r, x < 0.0);
}`,
  },
  w_erfc: {
    deps: ['w_erf', 'w_erfc_cf'],
    code: 'fn w_erfc(x: f32) -> f32 { if (x < 2.0) { return 1.0 - w_erf(x); } return w_erfc_cf(x); }',
  },
  w_lgamma: {
    deps: ['w_log', 'w_sin_k', 'w_isnan', 'w_isinf', 'w_inf'],
    // Stirling's series from 8 up, the recurrence below, reflection below 1/2.
    code: `fn w_lgamma(x0: f32) -> f32 {
  if (w_isnan(x0)) { return x0; }
  if (w_isinf(x0) || (x0 <= 0.0 && floor(x0) == x0)) { return w_inf(); }
  var x = x0;
  var refl = 0.0;
  if (x0 < 0.5) {
    refl = w_log(3.141592653589793 / abs(w_sin_k(3.141592653589793 * (x0 - round(x0)))));
    x = 1.0 - x0;
  }
  var prod = 1.0;
  loop {
    if (x >= 8.0) { break; }
    prod = prod * x;
    x = x + 1.0;
  }
  let r = 1.0 / x;
  let r2 = r * r;
  let series = r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0)));
  let lg = (x - 0.5) * w_log(x) - x + 0.9189385332046728 + series - w_log(prod);
  return select(lg, refl - lg, x0 < 0.5);
}`,
  },
  w_digamma: {
    deps: ['w_log', 'w_sin_k', 'w_cos_k', 'w_isnan', 'w_isinf', 'w_nan'],
    // The asymptotic series from 6 up, the recurrence below, reflection below 1/2; NaN at poles.
    code: `fn w_digamma(x0: f32) -> f32 {
  if (w_isnan(x0)) { return x0; }
  if (x0 <= 0.0 && floor(x0) == x0) { return w_nan(); }
  if (w_isinf(x0)) { return x0; }
  var x = x0;
  var acc = 0.0;
  if (x0 < 0.5) {
    let t = 3.141592653589793 * (x0 - round(x0));
    acc = -3.141592653589793 * w_cos_k(t) / w_sin_k(t);
    x = 1.0 - x0;
  }
  loop {
    if (x >= 6.0) { break; }
    acc = acc - 1.0 / x;
    x = x + 1.0;
  }
  let r2 = 1.0 / (x * x);
  return acc + w_log(x) - 0.5 / x - r2 * (1.0 / 12.0 - r2 * (1.0 / 120.0 - r2 * (1.0 / 252.0 - r2 * (1.0 / 240.0 - r2 / 132.0))));
}`,
  },
  w_zeta: {
    deps: ['w_pow', 'w_isnan', 'w_inf', 'w_nan'],
    // Hurwitz zeta: terms until q + k > 9, then the Euler-Maclaurin tail ((2j)!/B_2j divisors).
    code: `fn w_zeta(s: f32, q: f32) -> f32 {
  if (s == 1.0) { return w_inf(); }
  if (!(s > 1.0) || w_isnan(q)) { return w_nan(); }
  if (q <= 0.0) {
    if (q == floor(q)) { return w_inf(); }
    if (s != floor(s)) { return w_nan(); }
  }
  var sum = w_pow(q, -s);
  var a = q;
  var b = 0.0;
  var i = 0;
  loop {
    if (i >= 9 && a > 9.0) { break; }
    i = i + 1;
    a = a + 1.0;
    b = w_pow(a, -s);
    sum = sum + b;
    if (abs(b / sum) < 1e-8) { return sum; }
  }
  sum = sum + b * a / (s - 1.0) - 0.5 * b;
  var c = array<f32, 8>(12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1892437580.3183792, 74724249600.0, -2950130727918.164);
  var rising = 1.0;
  var k = 0.0;
  for (var j = 0; j < 8; j = j + 1) {
    rising = rising * (s + k);
    b = b / a;
    let t = rising * b / c[j];
    sum = sum + t;
    if (abs(t / sum) < 1e-8) { break; }
    rising = rising * (s + k + 1.0);
    b = b / a;
    k = k + 2.0;
  }
  return sum;
}`,
  },
  w_polygamma: {
    deps: ['w_zeta', 'w_digamma', 'w_nan'],
    code: `fn w_polygamma(n: f32, x: f32) -> f32 {
  if (!(n >= 0.0) || n != floor(n)) { return w_nan(); }
  if (n == 0.0) { return w_digamma(x); }
  var f = 1.0;
  for (var k = 2.0; k <= min(n, 40.0); k = k + 1.0) { f = f * k; }
  return select(-f, f, fract(n * 0.5) != 0.0) * w_zeta(n + 1.0, x);
}`,
  },
  w_truncdiv64: {
    deps: ['w_divmod64', 'w_abs64', 'w_isneg64', 'w_neg64'],
    code: `fn w_truncdiv64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  if (b.x == 0u && b.y == 0u) { return vec2<u32>(0u, 0u); }
  let q = w_divmod64(w_abs64(a), w_abs64(b)).q;
  return select(q, w_neg64(q), w_isneg64(a) != w_isneg64(b));
}`,
  },
  w_truncmod64: {
    deps: ['w_divmod64', 'w_abs64', 'w_isneg64', 'w_neg64'],
    code: `fn w_truncmod64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  if (b.x == 0u && b.y == 0u) { return vec2<u32>(0u, 0u); }
  let r = w_divmod64(w_abs64(a), w_abs64(b)).r;
  return select(r, w_neg64(r), w_isneg64(a));
}`,
  },
};

function collectHelpers(names: Iterable<string>): string {
  const seen = new Set<string>();
  const visit = (n: string): void => {
    if (seen.has(n)) return;
    const h = HELPERS[n];
    if (!h) throw new InternalError(`unknown WGSL helper ${n}`);
    seen.add(n);
    for (const d of h.deps ?? []) visit(d);
  };
  for (const n of names) visit(n);
  return [...seen].map((n) => HELPERS[n]!.code).join('\n');
}

// ---------------------------------------------------------------------------------------------
// The templates

/** A WGSL expression for one op's result; `check`, when given, is true for an element the CPU kernel rejects. */
export interface OpExpr {
  e: string;
  helpers?: string[];
  check?: { cond: string; message: string };
}

interface OpArgs {
  /** Operand identifiers. */
  a: readonly string[];
  /** Operand dtypes. */
  d: readonly DType[];
  out: DType;
  attrs: Readonly<Record<string, AttrValue | unknown>>;
}

type Template = (x: OpArgs) => OpExpr | string | undefined;

const F = 'float32';
const I = 'int32';
const L = 'int64';
const B = 'bool';

const h = (e: string, ...helpers: string[]): OpExpr => ({ e, helpers });
const ZERO64 = 'vec2<u32>(0u, 0u)';

/** A per-dtype choice of template (by the first operand's dtype). */
function byType(t: Partial<Record<DType, (a: readonly string[], x: OpArgs) => OpExpr | string>>): Template {
  return (x) => t[x.d[0]!]?.(x.a, x);
}

const cmp = (op: string, f64: (a: string, b: string) => string): Template =>
  byType({
    float32: ([a, b]) => `(${a} ${op} ${b})`,
    int32: ([a, b]) => `(${a} ${op} ${b})`,
    bool: ([a, b]) => `(u32(${a}) ${op} u32(${b}))`,
    int64: ([a, b]) => h(f64(a!, b!), 'w_lt64'),
  });

const intZeroCheck = (b: string, d: DType): { cond: string; message: string } => ({
  cond: d === L ? `(${b}.x == 0u && ${b}.y == 0u)` : `(${b} == 0)`,
  message: 'Integer division by zero',
});

const TRUNCATING_INT_DIV = {
  int32: ([a, b]: readonly string[]): OpExpr => ({ e: `(${a} / ${b})`, check: intZeroCheck(b!, I) }),
  int64: ([a, b]: readonly string[]): OpExpr => ({ e: `w_truncdiv64(${a}, ${b})`, helpers: ['w_truncdiv64'], check: intZeroCheck(b!, L) }),
};

const TEMPLATES: Record<string, Template> = {
  AddV2: byType({ float32: ([a, b]) => `${a} + ${b}`, int32: ([a, b]) => `${a} + ${b}`, int64: ([a, b]) => h(`w_add64(${a}, ${b})`, 'w_add64') }),
  Sub: byType({ float32: ([a, b]) => `${a} - ${b}`, int32: ([a, b]) => `${a} - ${b}`, int64: ([a, b]) => h(`w_sub64(${a}, ${b})`, 'w_sub64') }),
  Mul: byType({ float32: ([a, b]) => `${a} * ${b}`, int32: ([a, b]) => `${a} * ${b}`, int64: ([a, b]) => h(`w_mul64(${a}, ${b})`, 'w_mul64') }),
  RealDiv: byType({ float32: ([a, b]) => `${a} / ${b}` }),
  FloorDiv: byType({
    float32: ([a, b]) => `floor(${a} / ${b})`,
    int32: ([a, b]) => ({ e: `w_floordiv_i(${a}, ${b})`, helpers: ['w_floordiv_i'], check: intZeroCheck(b!, I) }),
    int64: ([a, b]) => ({ e: `w_floordiv64(${a}, ${b})`, helpers: ['w_floordiv64'], check: intZeroCheck(b!, L) }),
  }),
  FloorMod: byType({
    float32: ([a, b]) => h(`w_floormod_f(${a}, ${b})`, 'w_floormod_f'),
    int32: ([a, b]) => ({ e: `w_floormod_i(${a}, ${b})`, helpers: ['w_floormod_i'], check: intZeroCheck(b!, I) }),
    int64: ([a, b]) => ({ e: `w_floormod64(${a}, ${b})`, helpers: ['w_floormod64'], check: intZeroCheck(b!, L) }),
  }),
  Pow: byType({
    float32: ([a, b]) => h(`w_pow(${a}, ${b})`, 'w_pow'),
    int32: ([a, b]) => ({ e: `w_pow_i(${a}, ${b})`, helpers: ['w_pow_i'], check: { cond: `(${b} < 0)`, message: 'Integers to negative integer powers are not allowed' } }),
    int64: ([a, b]) => ({
      e: `w_pow64(${a}, ${b})`,
      helpers: ['w_pow64'],
      check: { cond: `((${b}.y & 0x80000000u) != 0u)`, message: 'Integers to negative integer powers are not allowed' },
    }),
  }),
  Maximum: byType({
    float32: ([a, b]) => h(`w_max(${a}, ${b})`, 'w_max'),
    int32: ([a, b]) => `max(${a}, ${b})`,
    int64: ([a, b]) => h(`select(${a}, ${b}, w_lt64(${a}, ${b}))`, 'w_lt64'),
  }),
  Minimum: byType({
    float32: ([a, b]) => h(`w_min(${a}, ${b})`, 'w_min'),
    int32: ([a, b]) => `min(${a}, ${b})`,
    int64: ([a, b]) => h(`select(${a}, ${b}, w_lt64(${b}, ${a}))`, 'w_lt64'),
  }),
  SquaredDifference: byType({
    float32: ([a, b]) => `(${a} - ${b}) * (${a} - ${b})`,
    int32: ([a, b]) => `(${a} - ${b}) * (${a} - ${b})`,
    int64: ([a, b]) => h(`w_mul64(w_sub64(${a}, ${b}), w_sub64(${a}, ${b}))`, 'w_mul64', 'w_sub64'),
  }),
  Equal: byType({
    float32: ([a, b]) => h(`(${a} == ${b} && !w_isnan(${a}))`, 'w_isnan'),
    int32: ([a, b]) => `(${a} == ${b})`,
    bool: ([a, b]) => `(${a} == ${b})`,
    int64: ([a, b]) => `all(${a} == ${b})`,
  }),
  NotEqual: byType({
    float32: ([a, b]) => h(`(${a} != ${b} || w_isnan(${a}) || w_isnan(${b}))`, 'w_isnan'),
    int32: ([a, b]) => `(${a} != ${b})`,
    bool: ([a, b]) => `(${a} != ${b})`,
    int64: ([a, b]) => `any(${a} != ${b})`,
  }),
  Less: cmp('<', (a, b) => `w_lt64(${a}, ${b})`),
  LessEqual: cmp('<=', (a, b) => `!w_lt64(${b}, ${a})`),
  Greater: cmp('>', (a, b) => `w_lt64(${b}, ${a})`),
  GreaterEqual: cmp('>=', (a, b) => `!w_lt64(${a}, ${b})`),
  LogicalAnd: byType({ bool: ([a, b]) => `(${a} && ${b})` }),
  LogicalOr: byType({ bool: ([a, b]) => `(${a} || ${b})` }),
  LogicalNot: byType({ bool: ([a]) => `!${a}` }),
  Neg: byType({ float32: ([a]) => `-${a}`, int32: ([a]) => `-${a}`, int64: ([a]) => h(`w_neg64(${a})`, 'w_neg64') }),
  Square: byType({ float32: ([a]) => `${a} * ${a}`, int32: ([a]) => `${a} * ${a}`, int64: ([a]) => h(`w_mul64(${a}, ${a})`, 'w_mul64') }),
  Sqrt: byType({ float32: ([a]) => h(`w_sqrt(${a})`, 'w_sqrt') }),
  Rsqrt: byType({ float32: ([a]) => h(`1.0 / w_sqrt(${a})`, 'w_sqrt') }),
  Exp: byType({ float32: ([a]) => h(`w_exp(${a})`, 'w_exp') }),
  Log: byType({ float32: ([a]) => h(`w_log(${a})`, 'w_log') }),
  Log1p: byType({ float32: ([a]) => h(`w_log1p(${a})`, 'w_log1p') }),
  Abs: byType({ float32: ([a]) => `abs(${a})`, int32: ([a]) => `abs(${a})`, int64: ([a]) => h(`w_abs64(${a})`, 'w_abs64') }),
  // 0 for 0 and NaN.
  Sign: byType({
    float32: ([a]) => `select(select(0.0, -1.0, ${a} < 0.0), 1.0, ${a} > 0.0)`,
    int32: ([a]) => `select(select(0, -1, ${a} < 0), 1, ${a} > 0)`,
    int64: ([a]) => h(`w_sign64(${a})`, 'w_sign64'),
  }),
  Reciprocal: byType({ float32: ([a]) => `1.0 / ${a}` }),
  Floor: byType({ float32: ([a]) => `floor(${a})` }),
  Ceil: byType({ float32: ([a]) => `ceil(${a})` }),
  // WGSL's round() breaks ties to even, as TF's Round does.
  Round: byType({ float32: ([a]) => `round(${a})`, int32: ([a]) => a!, int64: ([a]) => a! }),
  Sigmoid: byType({ float32: ([a]) => h(`w_sigmoid(${a})`, 'w_sigmoid') }),
  Tanh: byType({ float32: ([a]) => h(`w_tanh(${a})`, 'w_tanh') }),
  SigmoidGrad: byType({ float32: ([y, dy]) => `${dy} * ${y} * (1.0 - ${y})` }),
  TanhGrad: byType({ float32: ([y, dy]) => `${dy} * (1.0 - ${y} * ${y})` }),
  SqrtGrad: byType({ float32: ([y, dy]) => `(${dy} * 0.5) / ${y}` }),
  RsqrtGrad: byType({ float32: ([y, dy]) => `-0.5 * ${dy} * ${y} * ${y} * ${y}` }),
  ReciprocalGrad: byType({ float32: ([y, dy]) => `-${dy} * ${y} * ${y}` }),
  Relu: byType({
    float32: ([a]) => `select(${a}, 0.0, ${a} < 0.0)`,
    int32: ([a]) => `max(${a}, 0)`,
    int64: ([a]) => h(`select(${a}, ${ZERO64}, w_isneg64(${a}))`, 'w_isneg64'),
  }),
  Relu6: byType({
    float32: ([a]) => `select(select(${a}, 6.0, ${a} > 6.0), 0.0, ${a} < 0.0)`,
    int32: ([a]) => `clamp(${a}, 0, 6)`,
    int64: ([a]) => h(`select(select(${a}, vec2<u32>(6u, 0u), w_lt64(vec2<u32>(6u, 0u), ${a})), ${ZERO64}, w_isneg64(${a}))`, 'w_isneg64', 'w_lt64'),
  }),
  LeakyRelu: (x) => (x.d[0] === F ? `select(${x.a[0]} * ${f32(leakyAlpha(x.attrs))}, ${x.a[0]}, ${x.a[0]} > 0.0)` : undefined),
  Elu: byType({ float32: ([a]) => h(`select(${a}, w_expm1(${a}), ${a} < 0.0)`, 'w_expm1') }),
  Selu: byType({ float32: ([a]) => h(`select(${f32(SELU_SCALE)} * ${a}, ${f32(SELU_SCALE * SELU_ALPHA)} * w_expm1(${a}), ${a} < 0.0)`, 'w_expm1') }),
  Softplus: byType({ float32: ([a]) => h(`w_softplus(${a})`, 'w_softplus') }),
  Softsign: byType({ float32: ([a]) => `${a} / (1.0 + abs(${a}))` }),
  ReluGrad: byType({
    float32: ([g, x]) => `select(0.0, ${g}, ${x} > 0.0)`,
    int32: ([g, x]) => `select(0, ${g}, ${x} > 0)`,
    int64: ([g, x]) => h(`select(${ZERO64}, ${g}, w_lt64(${ZERO64}, ${x}))`, 'w_lt64'),
  }),
  Relu6Grad: byType({
    float32: ([g, x]) => `select(0.0, ${g}, ${x} > 0.0 && ${x} < 6.0)`,
    int32: ([g, x]) => `select(0, ${g}, ${x} > 0 && ${x} < 6)`,
    int64: ([g, x]) => h(`select(${ZERO64}, ${g}, w_lt64(${ZERO64}, ${x}) && w_lt64(${x}, vec2<u32>(6u, 0u)))`, 'w_lt64'),
  }),
  LeakyReluGrad: (x) => (x.d[0] === F ? `select(${x.a[0]} * ${f32(leakyAlpha(x.attrs))}, ${x.a[0]}, ${x.a[1]} > 0.0)` : undefined),
  EluGrad: byType({ float32: ([g, y]) => `select(${g}, ${g} * (${y} + 1.0), ${y} < 0.0)` }),
  // y + scale*alpha as the CPU adds it, in double precision: at y = -scale*alpha (saturated
  // outputs) the sum is the constant's rounding residue, not 0.
  SeluGrad: byType({
    float32: ([g, y]) => `select(${g} * ${f32(SELU_SCALE)}, ${g} * select(${y} + ${f32(SELU_SA)}, ${f32(SELU_SA - Math.fround(SELU_SA))}, ${y} == ${f32(-SELU_SA)}), ${y} < 0.0)`,
  }),
  SoftplusGrad: byType({ float32: ([g, x]) => h(`${g} * w_sigmoid(${x})`, 'w_sigmoid') }),
  SoftsignGrad: byType({ float32: ([g, x]) => `${g} / ((1.0 + abs(${x})) * (1.0 + abs(${x})))` }),
  Sin: byType({ float32: ([a]) => h(`w_sincos(${a}).x`, 'w_sincos') }),
  Cos: byType({ float32: ([a]) => h(`w_sincos(${a}).y`, 'w_sincos') }),
  Tan: byType({ float32: ([a]) => h(`(w_sincos(${a}).x / w_sincos(${a}).y)`, 'w_sincos') }),
  Asin: byType({ float32: ([a]) => h(`w_asin(${a})`, 'w_asin') }),
  Acos: byType({ float32: ([a]) => h(`w_acos(${a})`, 'w_acos') }),
  Atan: byType({ float32: ([a]) => h(`w_atan(${a})`, 'w_atan') }),
  Sinh: byType({ float32: ([a]) => h(`w_sinh(${a})`, 'w_sinh') }),
  Cosh: byType({ float32: ([a]) => h(`w_cosh(${a})`, 'w_cosh') }),
  Asinh: byType({ float32: ([a]) => h(`w_asinh(${a})`, 'w_asinh') }),
  Acosh: byType({ float32: ([a]) => h(`w_acosh(${a})`, 'w_acosh') }),
  Atanh: byType({ float32: ([a]) => h(`w_atanh(${a})`, 'w_atanh') }),
  Expm1: byType({ float32: ([a]) => h(`w_expm1(${a})`, 'w_expm1') }),
  Erf: byType({ float32: ([a]) => h(`w_erf(${a})`, 'w_erf') }),
  Erfc: byType({ float32: ([a]) => h(`w_erfc(${a})`, 'w_erfc') }),
  Lgamma: byType({ float32: ([a]) => h(`w_lgamma(${a})`, 'w_lgamma') }),
  Digamma: byType({ float32: ([a]) => h(`w_digamma(${a})`, 'w_digamma') }),
  Polygamma: byType({ float32: ([n, x]) => h(`w_polygamma(${n}, ${x})`, 'w_polygamma') }),
  Zeta: byType({ float32: ([x, q]) => h(`w_zeta(${x}, ${q})`, 'w_zeta') }),
  IsNan: byType({ float32: ([a]) => h(`w_isnan(${a})`, 'w_isnan') }),
  IsInf: byType({ float32: ([a]) => h(`w_isinf(${a})`, 'w_isinf') }),
  IsFinite: byType({ float32: ([a]) => h(`!(w_isnan(${a}) || w_isinf(${a}))`, 'w_isnan', 'w_isinf') }),
  Atan2: byType({ float32: ([y, x]) => h(`w_atan2(${y}, ${x})`, 'w_atan2') }),
  // WGSL's integer / and % truncate, as TF's integer Div / Mod do (the check reports a zero divisor).
  Div: byType({ float32: ([a, b]) => `${a} / ${b}`, ...TRUNCATING_INT_DIV }),
  TruncateDiv: byType({ float32: ([a, b]) => `trunc(${a} / ${b})`, ...TRUNCATING_INT_DIV }),
  DivNoNan: byType({ float32: ([a, b]) => `select(${a} / ${b}, 0.0, ${b} == 0.0)` }),
  Mod: byType({
    float32: ([a, b]) => h(`w_fmod(${a}, ${b})`, 'w_fmod'),
    int32: ([a, b]) => ({ e: `(${a} % ${b})`, check: intZeroCheck(b!, I) }),
    int64: ([a, b]) => ({ e: `w_truncmod64(${a}, ${b})`, helpers: ['w_truncmod64'], check: intZeroCheck(b!, L) }),
  }),
  BitwiseAnd: byType({ int32: ([a, b]) => `(${a} & ${b})`, int64: ([a, b]) => `(${a} & ${b})` }),
  BitwiseOr: byType({ int32: ([a, b]) => `(${a} | ${b})`, int64: ([a, b]) => `(${a} | ${b})` }),
  BitwiseXor: byType({ int32: ([a, b]) => `(${a} ^ ${b})`, int64: ([a, b]) => `(${a} ^ ${b})` }),
  // ClipByValue(t, min, max) = max(min(t, max), min), as the CPU's formula.
  ClipByValue: byType({
    float32: ([t, lo, hi]) => h(`w_max(w_min(${t}, ${hi}), ${lo})`, 'w_max', 'w_min'),
    int32: ([t, lo, hi]) => `max(min(${t}, ${hi}), ${lo})`,
    int64: ([t, lo, hi]) => h(`select(select(${t}, ${hi}, w_lt64(${hi}, ${t})), ${lo}, w_lt64(select(${t}, ${hi}, w_lt64(${hi}, ${t})), ${lo}))`, 'w_lt64'),
  }),
  BiasAdd: byType({ float32: ([a, b]) => `${a} + ${b}`, int32: ([a, b]) => `${a} + ${b}`, int64: ([a, b]) => h(`w_add64(${a}, ${b})`, 'w_add64') }),
  ZerosLike: (x) => zeroOf(x.d[0]!),
  OnesLike: (x) => oneOf(x.d[0]!),
  SelectV2: (x) => (x.d[0] === B && x.d[1] === x.d[2] ? `select(${x.a[2]}, ${x.a[1]}, ${x.a[0]})` : undefined),
  Cast: (x) => castExpr(x.d[0]!, x.out, x.a[0]!),
  AddN: (x) => {
    if (x.d.some((d) => d !== x.d[0])) return undefined;
    if (x.d[0] === L) return h(x.a.slice(1).reduce((acc, v) => `w_add64(${acc}, ${v})`, x.a[0]!), 'w_add64');
    if (x.d[0] !== F && x.d[0] !== I) return undefined;
    return x.a.slice(1).reduce((acc, v) => `(${acc} + ${v})`, x.a[0]!);
  },
};
TEMPLATES.Add = TEMPLATES.AddV2!;
TEMPLATES.Select = TEMPLATES.SelectV2!;
TEMPLATES.TruncateMod = TEMPLATES.Mod!;

function zeroOf(d: DType): string | undefined {
  return d === F ? '0.0' : d === I ? '0' : d === B ? 'false' : d === L ? ZERO64 : undefined;
}
function oneOf(d: DType): string | undefined {
  return d === F ? '1.0' : d === I ? '1' : d === B ? 'true' : d === L ? 'vec2<u32>(1u, 0u)' : undefined;
}

function castExpr(from: DType, to: DType, a: string): OpExpr | string | undefined {
  if (!GPU_DTYPES.has(from) || !GPU_DTYPES.has(to)) return undefined;
  if (from === to) return a;
  if (to === B) return from === F ? h(`(${a} != 0.0 || w_isnan(${a}))`, 'w_isnan') : from === I ? `(${a} != 0)` : `any(${a} != ${ZERO64})`;
  if (from === B) return to === F ? `select(0.0, 1.0, ${a})` : to === I ? `select(0, 1, ${a})` : `select(${ZERO64}, vec2<u32>(1u, 0u), ${a})`;
  if (from === F) return to === I ? `f2i(${a})` : h(`w_f32_to_i64(${a})`, 'w_f32_to_i64');
  if (from === I) return to === F ? `f32(${a})` : `vec2<u32>(bitcast<u32>(${a}), select(0u, 0xffffffffu, ${a} < 0))`;
  // int64 -> float32 / int32 (the low word, wrapping as BigInt.asIntN(32) does).
  return to === F ? h(`w_i64_to_f32(${a})`, 'w_i64_to_f32') : `bitcast<i32>(${a}.x)`;
}

/** The WGSL expression computing `type` over operands; undefined when no template covers it. */
export function opExpr(type: string, attrs: Readonly<Record<string, unknown>>, a: readonly string[], d: readonly DType[], out: DType): OpExpr | undefined {
  if (!GPU_DTYPES.has(out) || d.some((x) => !GPU_DTYPES.has(x))) return undefined;
  const t = TEMPLATES[type];
  const r = t?.({ a, d, out, attrs });
  if (r === undefined) return undefined;
  return typeof r === 'string' ? { e: r } : r;
}

/** Op types the table covers (each has a single-op kernel registered below). */
export const ELEMENTWISE_TYPES: readonly string[] = Object.keys(TEMPLATES);

/**
 * WGSL `fn act(v: f32) -> f32` (and the helpers it calls) applying a _FusedMatMul / _FusedConv2D
 * activation: the activation's own template, so fused and unfused results agree.
 */
export function activationFn(act: string | undefined, alpha: number): string {
  if (act === undefined) return 'fn act(v: f32) -> f32 { return v; }';
  const r = opExpr(act, { alpha }, ['v'], [F], F);
  if (!r) throw new InvalidArgumentError(`unsupported fused activation ${act}`);
  return `${collectHelpers(r.helpers ?? [])}\nfn act(v: f32) -> f32 { return ${r.e}; }`;
}

// ---------------------------------------------------------------------------------------------
// Code generation for an ElementwiseProgram

/** Drops size-1 dims and merges neighbours every operand reads the same way (all full or all broadcast). */
function collapse(out: readonly number[], ins: readonly (readonly number[])[]): { out: number[]; ins: number[][] } {
  const co: number[] = [];
  const ci: number[][] = ins.map(() => []);
  let prev: boolean[] | undefined;
  for (let d = 0; d < out.length; d++) {
    if (out[d] === 1) continue;
    const full = ins.map((s) => s[d] !== 1);
    if (prev && full.every((f, k) => f === prev![k])) {
      co[co.length - 1]! *= out[d]!;
      ci.forEach((s, k) => (s[s.length - 1]! *= ins[k]![d]!));
    } else {
      co.push(out[d]!);
      ci.forEach((s, k) => s.push(ins[k]![d]!));
    }
    prev = full;
  }
  return { out: co, ins: ci };
}

export interface GeneratedProgram {
  decls: string;
  body: string;
  /** Data-dependent checks, in the order their flags are bound after the outputs. */
  checks: string[];
}

/**
 * WGSL for a program over bound arguments (in0.. = the fused node's inputs, of dtypes argDTypes),
 * writing out0.. (its outputs), then one int32 flag per distinct check message.
 */
export function generateProgram(p: ElementwiseProgram, argDTypes: readonly DType[]): GeneratedProgram {
  const helpers = new Set<string>();
  const lines: string[] = [];
  const { out, ins } = collapse(p.shape, p.inputs.map((x) => x.shape));
  p.inputs.forEach((x, k) => {
    lines.push(`let x${k} = ${loadValue(x.dtype, `in${x.arg}`, broadcastIndex(out, ins[k]!, 'i'))};`);
  });
  const checks: string[] = [];
  const checkLines: string[] = [];
  const name = (a: ElementwiseProgram['ops'][number]['args'][number]): string => ('input' in a ? `x${a.input}` : `t${a.op}`);
  const dtypeOf = (a: ElementwiseProgram['ops'][number]['args'][number]): DType => ('input' in a ? p.inputs[a.input]!.dtype : p.ops[a.op]!.dtype);
  p.ops.forEach((op, j) => {
    const r = opExpr(op.type, op.attrs, op.args.map(name), op.args.map(dtypeOf), op.dtype);
    if (!r) throw new InternalError(`WebGPU has no elementwise template for ${op.type} (${op.args.map(dtypeOf).join(', ')} -> ${op.dtype})`);
    for (const x of r.helpers ?? []) helpers.add(x);
    lines.push(`let t${j}: ${valueType(op.dtype)} = ${r.e};`);
    if (r.check) {
      let c = checks.indexOf(r.check.message);
      if (c < 0) c = checks.push(r.check.message) - 1;
      checkLines.push(`if ${r.check.cond} { out${p.outputs.length + c}[0] = 1; }`);
    }
  });
  p.outputs.forEach((j, k) => lines.push(storeValue(p.ops[j]!.dtype, `out${k}`, 'i', `t${j}`)));
  const decls = [bindings(argDTypes, [...p.outputs.map((j) => p.ops[j]!.dtype), ...checks.map((): DType => 'int32')]), collectHelpers(helpers)].join('\n');
  return { decls, body: [...lines, ...checkLines].join('\n  '), checks };
}

function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Records a program over `args` (the node's inputs). Returns its outputs: `outputs` when given
 * (tensors to write), else the node's planned outputs 0...
 */
export function runProgram(ctx: KernelCtx, p: ElementwiseProgram, args: readonly GpuTensor[], outputs?: readonly GpuTensor[]): GpuTensor[] {
  const outs = outputs ?? p.outputs.map((j, k) => ctx.output(k, p.ops[j]!.dtype, p.shape));
  const n = numElements(p.shape);
  if (n === 0) return [...outs];
  const g = generateProgram(p, args.map((t) => t.dtype));
  // Programs needing more buffers than one dispatch may bind run member by member.
  if (args.length + outs.length + g.checks.length > MAX_BINDINGS) {
    runMemberByMember(ctx, p, args, outs);
    return [...outs];
  }
  const flags = g.checks.map((m) => ctx.check(m));
  ctx.dispatch(perElement(n, g.decls, g.body), args, [...outs, ...flags]);
  return [...outs];
}

/** For programs binding more buffers than a dispatch may: one dispatch per member, intermediates in scratch. */
function runMemberByMember(ctx: KernelCtx, p: ElementwiseProgram, args: readonly GpuTensor[], outs: readonly GpuTensor[]): void {
  const results: GpuTensor[] = [];
  p.ops.forEach((op, j) => {
    const k = p.outputs.indexOf(j);
    const dst = k >= 0 ? outs[k]! : ctx.scratch(op.dtype, p.shape, `m${j}`);
    const opArgs: GpuTensor[] = [];
    const inputs = op.args.map((a) => {
      const t = 'input' in a ? args[p.inputs[a.input]!.arg]! : results[a.op]!;
      let idx = opArgs.indexOf(t);
      if (idx < 0) idx = opArgs.push(t) - 1;
      return { arg: idx, shape: 'input' in a ? p.inputs[a.input]!.shape : p.shape, dtype: t.dtype };
    });
    const single: ElementwiseProgram = {
      shape: p.shape,
      inputs,
      ops: [{ ...op, args: inputs.map((_, i) => ({ input: i })) }],
      outputs: [0],
    };
    if (op.type === 'AddN' && opArgs.length + 1 > MAX_BINDINGS) addNChunked(ctx, inputs.map((x) => opArgs[x.arg]!), dst);
    else runProgram(ctx, single, opArgs, [dst]);
    results.push(dst);
  });
}

/** AddN over more inputs than one dispatch binds: the first chunk writes the sum, later ones add to it in order. */
function addNChunked(ctx: KernelCtx, xs: readonly GpuTensor[], out: GpuTensor): void {
  const d = out.dtype;
  const n = out.size;
  const add = (acc: string, v: string): string => (d === L ? `w_add64(${acc}, ${v})` : `(${acc} + ${v})`);
  for (let start = 0; start < xs.length; ) {
    const first = start === 0;
    const count = Math.min(xs.length - start, MAX_BINDINGS - 1);
    const chunk = xs.slice(start, start + count);
    let acc = first ? loadValue(d, 'in0', 'i') : loadValue(d, 'out0', 'i');
    for (let k = first ? 1 : 0; k < chunk.length; k++) acc = add(acc, loadValue(d, `in${k}`, 'i'));
    const decls = [bindings(chunk.map((t) => t.dtype), [d]), d === L ? collectHelpers(['w_add64']) : ''].join('\n');
    ctx.dispatch(perElement(n, decls, storeValue(d, 'out0', 'i', acc)), chunk, [out]);
    start += count;
  }
}

// ---------------------------------------------------------------------------------------------
// Single-op kernels

function singleOp(ctx: KernelCtx, type: string, inputs: readonly GpuTensor[], aligned: readonly (readonly number[])[], shape: readonly number[], out: DType): GpuTensor[] {
  if (out === 'complex64' || inputs.some((t) => t.dtype === 'complex64')) return complexElementwise(ctx, type, inputs);
  const args: GpuTensor[] = [];
  const progInputs = inputs.map((t, i) => {
    let a = args.indexOf(t);
    if (a < 0) a = args.push(t) - 1;
    return { arg: a, shape: aligned[i]!, dtype: t.dtype };
  });
  const p: ElementwiseProgram = {
    shape,
    inputs: progInputs,
    ops: [{ type, attrs: ctx.node.attrs, dtype: out, args: inputs.map((_, i) => ({ input: i })), name: ctx.node.name }],
    outputs: [0],
  };
  if (!opExpr(type, ctx.node.attrs, inputs.map((_, i) => `x${i}`), inputs.map((t) => t.dtype), out)) {
    throw new InvalidArgumentError(`${type} has no kernel for ${inputs.map((t) => t.dtype).join(', ')} on the webgpu backend`);
  }
  return runProgram(ctx, p, args);
}

/** `shape` right-aligned to `rank` with leading 1s. */
function align(shape: readonly number[], rank: number): number[] {
  return [...new Array<number>(rank - shape.length).fill(1), ...shape];
}

/** Runs the host backend's kernel on host copies: string tensors exist only on the host. */
function onHost(ctx: KernelCtx, inputs: readonly GpuTensor[]): GpuTensor[] | Promise<GpuTensor[]> {
  for (const t of inputs) if (!t.host) throw new InternalError(`${ctx.node.type}: a string tensor without a host value`);
  return ctx.runOnHost();
}

const hasStrings = (inputs: readonly GpuTensor[]): boolean => inputs.some((t) => t.dtype === 'string');

function outDType(ctx: KernelCtx, fallback: DType): DType {
  return ctx.node.outputs[0]?.dtype ?? fallback;
}

function binaryKernel(type: string): GpuKernel {
  return (ctx, inputs) => {
    if (hasStrings(inputs)) return onHost(ctx, inputs);
    const [a, b] = inputs as [GpuTensor, GpuTensor];
    const shape = broadcastOrThrow(a.shape, b.shape);
    return singleOp(ctx, type, [a, b], [align(a.shape, shape.length), align(b.shape, shape.length)], shape, outDType(ctx, a.dtype));
  };
}

function unaryKernel(type: string): GpuKernel {
  return (ctx, inputs) => {
    if (hasStrings(inputs)) return onHost(ctx, inputs);
    const x = inputs[0]!;
    return singleOp(ctx, type, [x], [x.shape], x.shape, outDType(ctx, x.dtype));
  };
}

/** Ops over two tensors of one shape (gradient ops). */
function sameShapeKernel(type: string): GpuKernel {
  return (ctx, inputs) => {
    const [a, b] = inputs as [GpuTensor, GpuTensor];
    if (!sameShape(a.shape, b.shape)) throw gradShapeMismatch(type, a.shape, b.shape);
    return singleOp(ctx, type, [a, b], [a.shape, b.shape], a.shape, outDType(ctx, a.dtype));
  };
}

registerGpuKernel('SelectV2', (ctx, inputs) => {
  const [c, x, y] = inputs as [GpuTensor, GpuTensor, GpuTensor];
  const shape = broadcastOrThrow(broadcastOrThrow(c.shape, x.shape), y.shape);
  return singleOp(ctx, 'SelectV2', [c, x, y], [c, x, y].map((t) => align(t.shape, shape.length)), shape, x.dtype);
});

registerGpuKernel('Select', (ctx, inputs) => {
  const [c, x, y] = inputs as [GpuTensor, GpuTensor, GpuTensor];
  if (!sameShape(x.shape, y.shape)) {
    throw new InvalidArgumentError(`'then' and 'else' must have the same size. but received: ${formatShape(x.shape)} vs. ${formatShape(y.shape)}`);
  }
  let cShape = c.shape;
  if (c.shape.length === 1 && x.shape.length > 1) {
    if (c.shape[0] !== x.shape[0]) {
      throw new InvalidArgumentError(`Number of batches of 'then' must match size of 'cond', but saw: ${x.shape[0]} vs. ${c.shape[0]}`);
    }
    // A vector condition picks whole rows.
    cShape = [c.shape[0]!, ...new Array<number>(x.shape.length - 1).fill(1)];
  } else if (c.shape.length !== 0 && !sameShape(c.shape, x.shape)) {
    throw new InvalidArgumentError(`'cond' and 'then' must have the same shape (or cond a vector or scalar), got ${formatShape(c.shape)} and ${formatShape(x.shape)}`);
  }
  return singleOp(ctx, 'SelectV2', [c, x, y], [align(cShape, x.shape.length), x.shape, y.shape], x.shape, x.dtype);
});

registerGpuKernel('AddN', (ctx, inputs) => {
  const first = inputs[0]!;
  if (first.dtype === 'complex64') return complexElementwise(ctx, 'AddN', inputs);
  for (const x of inputs) {
    if (!sameShape(x.shape, first.shape)) {
      throw new InvalidArgumentError(`Inputs to operation AddN must have the same size and shape. Input 0: ${formatShape(first.shape)} != input: ${formatShape(x.shape)}`);
    }
  }
  if (inputs.length + 1 > MAX_BINDINGS) {
    const out = ctx.output(0, first.dtype, first.shape);
    if (out.size > 0) addNChunked(ctx, inputs, out);
    return [out];
  }
  return singleOp(ctx, 'AddN', inputs, inputs.map((t) => t.shape), first.shape, first.dtype);
});

registerGpuKernel('BiasAdd', (ctx, inputs) => {
  const [v, b] = inputs as [GpuTensor, GpuTensor];
  const format = ctx.node.attrs.data_format === 'NCHW' ? 'NCHW' : 'NHWC';
  const minRank = format === 'NCHW' ? 3 : 2;
  const r = v.shape.length;
  if (r < minRank) throw new InvalidArgumentError(`Input tensor must be at least ${minRank}D for data_format ${format}: ${formatShape(v.shape)}`);
  const c = format === 'NCHW' ? 1 : r - 1;
  if (b.shape.length !== 1) throw new InvalidArgumentError(`Biases must be 1D: ${formatShape(b.shape)}`);
  if (b.shape[0] !== v.shape[c]) {
    throw new InvalidArgumentError(`Must provide as many biases as the channel dimension of the input tensor: ${formatShape(b.shape)} vs. ${formatShape(v.shape)}`);
  }
  const aligned = v.shape.map((d, k) => (k === c ? d : 1));
  return singleOp(ctx, 'BiasAdd', [v, b], [v.shape, aligned], v.shape, v.dtype);
});

// Atan2(y, x), Polygamma(a, x) and Zeta(x, q) broadcast like X(x, y); ClipByValue's bounds are scalars or of t's shape.
for (const type of ['Atan2', 'Polygamma', 'Zeta']) registerGpuKernel(type, binaryKernel(type));
registerGpuKernel('ClipByValue', (ctx, inputs) => {
  const [t, lo, hi] = inputs as [GpuTensor, GpuTensor, GpuTensor];
  for (const [b, what] of [[lo, 'clip_value_min'], [hi, 'clip_value_max']] as const) {
    if (b.shape.length !== 0 && !sameShape(b.shape, t.shape)) {
      throw new InvalidArgumentError(`ClipByValue: ${what} must be a scalar or have the shape of t ${formatShape(t.shape)}, got ${formatShape(b.shape)}`);
    }
  }
  return singleOp(ctx, 'ClipByValue', [t, lo, hi], [t, lo, hi].map((x) => align(x.shape, t.shape.length)), t.shape, t.dtype);
});

// Every other op of the table gets a single-op kernel shaped by its declared inputs: X(x) and the
// activations are unary, X(x, y) broadcasts, the gradient ops take two tensors of one shape. The
// shape is read from the op definition on first use (the op library is loaded by then), so this
// backend does not load the op library itself.
function elementwiseKernel(type: string): GpuKernel {
  const inputs = getOpDef(type)?.inputs;
  if (!inputs) throw new InternalError(`WebGPU elementwise template for unregistered op ${type}`);
  if (inputs.length === 1) return unaryKernel(type);
  if (inputs.join() === 'x,y') return binaryKernel(type);
  if (inputs.length === 2) return sameShapeKernel(type);
  throw new InternalError(`WebGPU elementwise template for ${type}(${inputs.join(', ')}) has no kernel shape`);
}

for (const type of ELEMENTWISE_TYPES) {
  if (getGpuKernel(type)) continue;
  let kernel: GpuKernel | undefined;
  registerGpuKernel(type, (ctx, inputs) => (kernel ??= elementwiseKernel(type))(ctx, inputs));
}
