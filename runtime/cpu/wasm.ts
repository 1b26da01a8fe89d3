/**
 * A small WebAssembly assembler for the CPU kernels: byte encoders, the opcodes they use, a module
 * builder, and f64x2 code for the functions WebAssembly has no instruction for (exp, log, log1p,
 * expm1). Modules are assembled from these opcodes at run time (no binary blob, no build step):
 * gemm.ts builds its micro-kernel with it, simd.ts its elementwise/reduction/pooling loops, fused.ts
 * one kernel per fused elementwise program.
 *
 * The vector math works in float64 (fdlibm's reductions and polynomials, Taylor series where those
 * are short), within a few float64 ulp of Math.*, so that float32 results rounded from it equal
 * Math.* rounded to float32 but for values within a few float64 ulp of a float32 rounding boundary
 * (then they are one float32 ulp apart). It handles the extremes as Math.* does: overflow to
 * Infinity, underflow through the subnormals to 0, NaN in NaN out, the sign of zero.
 */

// ---- encoding ----

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}

/** A length-prefixed vector of already-encoded items. */
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const name = (str: string): number[] => vec([...str].map((ch) => [ch.charCodeAt(0)]));
export const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
/** A SIMD instruction (0xfd prefix), followed by its memarg or lane immediates. */
export const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...uleb(op), ...imm];
/** A SIMD memory instruction with its alignment exponent and a (u32) constant offset. */
export const simdMem = (op: number, align: number, offset: number): number[] => [0xfd, ...uleb(op), align, ...uleb(offset)];
export const get = (i: number): number[] => [0x20, ...uleb(i)];
export const set = (i: number): number[] => [0x21, ...uleb(i)];
export const tee = (i: number): number[] => [0x22, ...uleb(i)];
export const i32Const = (n: number): number[] => [I32_CONST, ...sleb(n)];

const f32Bytes = (v: number): number[] => [...new Uint8Array(Float32Array.of(v).buffer)];
/** An f32 constant (v rounded to float32). */
export const f32Const = (v: number): number[] => [F32_CONST, ...f32Bytes(v)];
/** A v128 constant with v (rounded to float32) in every lane. */
export const f32x4Const = (v: number): number[] => simd(V128_CONST, ...f32Bytes(v), ...f32Bytes(v), ...f32Bytes(v), ...f32Bytes(v));
const f64Bytes = (v: number): number[] => [...new Uint8Array(Float64Array.of(v).buffer)];
/** A v128 constant with v in both float64 lanes. */
export const f64x2Const = (v: number): number[] => simd(V128_CONST, ...f64Bytes(v), ...f64Bytes(v));
/** A v128 constant with the int64 n in both lanes. */
export const i64x2Const = (n: bigint): number[] => {
  const b = [...new Uint8Array(BigInt64Array.of(n).buffer)];
  return simd(V128_CONST, ...b, ...b);
};
/** A v128 constant with the given int32 lanes. */
export const i32x4Lanes = (...lanes: number[]): number[] => simd(V128_CONST, ...new Uint8Array(Int32Array.from(lanes).buffer));
/** A v128 constant with the int32 n in every lane. */
export const i32x4Const = (n: number): number[] => {
  const b = [...new Uint8Array(Int32Array.of(n).buffer)];
  return simd(V128_CONST, ...b, ...b, ...b, ...b);
};

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

// Core opcodes.
export const BLOCK = 0x02;
export const LOOP = 0x03;
export const END = 0x0b;
export const BR_IF = 0x0d;
export const VOID = 0x40;
export const I32_CONST = 0x41;
export const F32_CONST = 0x43;
export const I32_LT_U = 0x49;
export const I32_ADD = 0x6a;
export const I32_SUB = 0x6b;
export const I32_MUL = 0x6c;
export const F32_MIN = 0x96;
export const F32_MAX = 0x97;
export const F64_ADD = 0xa0;
export const IF = 0x04;
export const ELSE = 0x05;
export const I32_GT_S = 0x4a;
export const I32_AND = 0x71;
export const I32_SHL = 0x74;
export const I32_SHR_U = 0x76;
export const I32_LOAD = 0x28;
export const F32_LOAD = 0x2a;
export const F32_STORE = 0x38;

// SIMD opcodes (after the 0xfd prefix).
export const V128_LOAD = 0x00;
export const V128_LOAD32_SPLAT = 0x09;
export const V128_STORE = 0x0b;
export const V128_CONST = 0x0c;
export const I8X16_SHUFFLE = 0x0d;
export const F32X4_SPLAT = 0x13;
export const F32X4_EXTRACT_LANE = 0x1f;
export const F64X2_EXTRACT_LANE = 0x21;
export const I32X4_SPLAT = 0x11;
export const I32X4_EQ = 0x37;
export const I32X4_LT_S = 0x39;
export const F32X4_EQ = 0x41;
export const F32X4_NE = 0x42;
export const F32X4_LT = 0x43;
export const F32X4_GT = 0x44;
export const F32X4_LE = 0x45;
export const F32X4_GE = 0x46;
export const V128_NOT = 0x4d;
export const V128_AND = 0x4e;
export const V128_ANDNOT = 0x4f;
export const V128_OR = 0x50;
export const V128_XOR = 0x51;
export const V128_BITSELECT = 0x52;
export const F64X2_PROMOTE_LOW_F32X4 = 0x5f;
export const F32X4_CEIL = 0x67;
export const F32X4_FLOOR = 0x68;
export const F32X4_NEAREST = 0x6a;
export const I32X4_SHL = 0xab;
export const I32X4_SHR_S = 0xac;
export const I32X4_SHR_U = 0xad;
export const I32X4_ADD = 0xae;
export const I32X4_SUB = 0xb1;
export const F32X4_ABS = 0xe0;
export const F32X4_NEG = 0xe1;
export const F32X4_SQRT = 0xe3;
export const F32X4_ADD = 0xe4;
export const F32X4_SUB = 0xe5;
export const F32X4_MUL = 0xe6;
export const F32X4_DIV = 0xe7;
export const F32X4_MIN = 0xe8;
export const F32X4_MAX = 0xe9;
export const F32X4_PMAX = 0xeb;
export const F64X2_ADD = 0xf0;
export const I32X4_TRUNC_SAT_F32X4_S = 0xf8;
export const F32X4_CONVERT_I32X4_S = 0xfa;
export const F64X2_SPLAT = 0x14;
export const F64X2_EQ = 0x47;
export const F64X2_NE = 0x48;
export const F64X2_LT = 0x49;
export const F64X2_GT = 0x4a;
export const F64X2_LE = 0x4b;
export const F64X2_GE = 0x4c;
export const F32X4_DEMOTE_F64X2_ZERO = 0x5e;
export const I64X2_SHL = 0xcb;
export const I64X2_SHR_S = 0xcc;
export const I64X2_ADD = 0xce;
export const I64X2_SUB = 0xd1;
export const F64X2_ABS = 0xec;
export const F64X2_NEG = 0xed;
export const F64X2_SQRT = 0xef;
export const F64X2_SUB = 0xf1;
export const F64X2_MUL = 0xf2;
export const F64X2_DIV = 0xf3;
export const F64X2_MIN = 0xf4;
export const F64X2_MAX = 0xf5;
export const F64X2_CONVERT_LOW_I32X4_S = 0xfe;
/** Relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd): a * b + c, fused or not as the engine likes. */
export const F32X4_RELAXED_MADD = 0x105;
/** memory.copy within memory 0 (bulk memory): pops dst, src, byte count. */
export const MEMORY_COPY = [0xfc, 0x0a, 0x00, 0x00];

// ---- modules ----

/** One function of a module: its parameter and result types, extra locals, and body (without the final `end`). */
export interface WasmFunction {
  exportName: string;
  params: number[];
  results: number[];
  locals: number[];
  code: number[];
}

/** The bytes of a module importing memory env.mem and exporting `fns`, each with its own type. */
export function wasmModule(
  memory: { pages: number; maxPages?: number; shared: boolean },
  fns: readonly WasmFunction[],
): Uint8Array<ArrayBuffer> {
  const limits = memory.maxPages === undefined ? [0x00, ...uleb(memory.pages)] : [memory.shared ? 0x03 : 0x01, ...uleb(memory.pages), ...uleb(memory.maxPages)];
  const body = (f: WasmFunction): number[] => {
    const groups: [number, number][] = []; // runs of equal local types, as [count, type]
    for (const t of f.locals) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const bytes = [...vec(groups.map(([count, t]) => [...uleb(count), t])), ...f.code, END];
    return [...uleb(bytes.length), ...bytes];
  };
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(fns.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]))),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, ...limits]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...name(f.exportName), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map(body))),
  ]);
}

/** Accumulates one function's code and allocates its locals. */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly locals: number[] = [];
  /** Where emit() appends: the body, or a side buffer given to into(). */
  private out = this.code;

  constructor(
    readonly exportName: string,
    readonly params: number[],
    readonly results: number[] = [],
  ) {}

  /** A fresh local of type t; returns its index. */
  local(t: number): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  emit(...parts: number[][]): this {
    for (const p of parts) for (const b of p) this.out.push(b);
    return this;
  }

  /** Makes emit() append to `buf` (the body again when undefined); returns the previous target. */
  into(buf?: number[]): number[] {
    const prev = this.out;
    this.out = buf ?? this.code;
    return prev;
  }

  build(): WasmFunction {
    return { exportName: this.exportName, params: this.params, results: this.results, locals: this.locals, code: this.code };
  }
}

// ---- f64x2 math ----
// Each emitter reads its argument from an f64x2 local and leaves its result on the stack;
// temporaries are fresh locals of the builder.

const v = (op: number): number[] => simd(op);
/** Stores the top of the stack in a fresh v128 local; returns it. */
export function keep(b: FunctionBuilder): number {
  const t = b.local(V128);
  b.emit(set(t));
  return t;
}
/** Pushes the lanes of `a` where `mask` is set and those of `bv` elsewhere (each an instruction sequence pushing one v128). */
export function select(fb: FunctionBuilder, a: number[], bv: number[], mask: number[]): void {
  fb.emit(a, bv, mask, v(V128_BITSELECT));
}
/** Pushes c[0] * x^(n-1) + ... + c[n-1] (Horner, float64). */
function horner64(b: FunctionBuilder, x: number, c: readonly number[]): void {
  b.emit(f64x2Const(c[0]!));
  for (let i = 1; i < c.length; i++) b.emit(get(x), v(F64X2_MUL), f64x2Const(c[i]!), v(F64X2_ADD));
}

const LOG2E = 1.4426950408889634;
// fdlibm's ln 2 split: n * LN2_HI is exact for |n| < 2^11.
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
/** 1.5 * 2^52: adding it rounds to an integer, which lands in the low mantissa bits. */
const ROUNDER = 6755399441055744;
/** 1/k! for k = 13 down to 2: exp(r) = 1 + r + r^2 (1/2 + r/6 + ...), |r| <= ln2/2. */
const EXP_TAYLOR = [1 / 6227020800, 1 / 479001600, 1 / 39916800, 1 / 3628800, 1 / 362880, 1 / 40320, 1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2];
/** 1/k! for k = 16 down to 2, for expm1 below 1/2. */
const EXPM1_TAYLOR = [
  1 / 20922789888000, 1 / 1307674368000, 1 / 87178291200, 1 / 6227020800, 1 / 479001600, 1 / 39916800, 1 / 3628800, 1 / 362880, 1 / 40320, 1 / 5040, 1 / 720,
  1 / 120, 1 / 24, 1 / 6, 1 / 2,
];
// fdlibm's log polynomial coefficients (e_log.c).
const LG_ODD = [1.479819860511658591e-1, 1.818357216161805012e-1, 2.857142874366239149e-1, 6.666666666666735130e-1]; // Lg7, Lg5, Lg3, Lg1
const LG_EVEN = [1.531383769920937332e-1, 2.222219843214978396e-1, 3.999999999940941908e-1]; // Lg6, Lg4, Lg2

/** 2^n for an int64 n in [-1022, 1023], from its lanes. */
function pow2(b: FunctionBuilder, n: number[]): void {
  b.emit(n, i64x2Const(1023n), v(I64X2_ADD), i32Const(52), v(I64X2_SHL));
}

/**
 * exp(x): x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series, times 2^n applied as two
 * powers of two so that neither leaves the normal range (x clamped to [-746, 710], beyond which
 * exp is 0 or Infinity in float64; NaN passes the clamp).
 */
export function emitExp64(b: FunctionBuilder, x: number): void {
  const xc = b.local(V128);
  const t = b.local(V128);
  const n = b.local(V128);
  const r = b.local(V128);
  const ni = b.local(V128);
  const half = b.local(V128);
  b.emit(get(x), f64x2Const(-746), v(F64X2_MAX), f64x2Const(710), v(F64X2_MIN), set(xc));
  b.emit(get(xc), f64x2Const(LOG2E), v(F64X2_MUL), f64x2Const(ROUNDER), v(F64X2_ADD), tee(t), f64x2Const(ROUNDER), v(F64X2_SUB), set(n));
  b.emit(get(xc), get(n), f64x2Const(LN2_HI), v(F64X2_MUL), v(F64X2_SUB), get(n), f64x2Const(LN2_LO), v(F64X2_MUL), v(F64X2_SUB), set(r));
  // p = 1 + r + r^2 * poly(r)
  horner64(b, r, EXP_TAYLOR);
  b.emit(get(r), get(r), v(F64X2_MUL), v(F64X2_MUL), get(r), v(F64X2_ADD), f64x2Const(1), v(F64X2_ADD));
  // n as int64 (t's bits minus the rounder's), split in halves.
  b.emit(get(t), i64x2Const(BigInt(0x4338000000000000)), v(I64X2_SUB), set(ni));
  b.emit(get(ni), i32Const(1), v(I64X2_SHR_S), set(half));
  pow2(b, get(half));
  b.emit(v(F64X2_MUL));
  pow2(b, [...get(ni), ...get(half), ...v(I64X2_SUB)]);
  b.emit(v(F64X2_MUL));
}

/**
 * log(x) for positive normal x (fdlibm): x = 2^k m with m in [sqrt(2)/2, sqrt(2)), f = m - 1,
 * s = f / (2 + f), log(m) = f - (f^2/2 - s (f^2/2 + R(s^2))). 0 gives -Infinity, negatives NaN,
 * Infinity and NaN themselves. (Float64 subnormals are not reduced: no float32 input makes one.)
 */
export function emitLog64(b: FunctionBuilder, x: number): void {
  const k = b.local(V128);
  const m = b.local(V128);
  const big = b.local(V128);
  const f = b.local(V128);
  const s = b.local(V128);
  const z = b.local(V128);
  const w = b.local(V128);
  const hfsq = b.local(V128);
  // k = the biased exponent (from the high 32 bits of each lane) - 1023, as float64.
  b.emit(get(x), get(x), simd(I8X16_SHUFFLE, 4, 5, 6, 7, 12, 13, 14, 15, 4, 5, 6, 7, 12, 13, 14, 15), i32Const(20), v(I32X4_SHR_U));
  b.emit(i32x4Const(1023), v(I32X4_SUB), v(F64X2_CONVERT_LOW_I32X4_S), set(k));
  b.emit(get(x), i64x2Const(0x000fffffffffffffn), v(V128_AND), i64x2Const(0x3ff0000000000000n), v(V128_OR), set(m));
  // m >= sqrt(2): m / 2 and k + 1.
  b.emit(get(m), f64x2Const(Math.SQRT2), v(F64X2_GE), set(big));
  select(b, [...get(m), ...f64x2Const(0.5), ...v(F64X2_MUL)], get(m), get(big));
  b.emit(set(m));
  b.emit(get(k), f64x2Const(1), get(big), v(V128_AND), v(F64X2_ADD), set(k));
  b.emit(get(m), f64x2Const(1), v(F64X2_SUB), set(f));
  b.emit(get(f), f64x2Const(2), get(f), v(F64X2_ADD), v(F64X2_DIV), set(s));
  b.emit(get(s), get(s), v(F64X2_MUL), tee(z), get(z), v(F64X2_MUL), set(w));
  b.emit(f64x2Const(0.5), get(f), v(F64X2_MUL), get(f), v(F64X2_MUL), set(hfsq));
  // R = z (Lg1 + w (Lg3 + w (Lg5 + w Lg7))) + w (Lg2 + w (Lg4 + w Lg6))
  horner64(b, w, LG_ODD);
  b.emit(get(z), v(F64X2_MUL));
  horner64(b, w, LG_EVEN);
  b.emit(get(w), v(F64X2_MUL), v(F64X2_ADD));
  // k ln2_hi - ((hfsq - (s (hfsq + R) + k ln2_lo)) - f)
  const rr = keep(b);
  b.emit(get(k), f64x2Const(LN2_HI), v(F64X2_MUL));
  b.emit(get(hfsq), get(s), get(hfsq), get(rr), v(F64X2_ADD), v(F64X2_MUL), get(k), f64x2Const(LN2_LO), v(F64X2_MUL), v(F64X2_ADD), v(F64X2_SUB));
  b.emit(get(f), v(F64X2_SUB), v(F64X2_SUB));
  const y = keep(b);
  select(b, get(x), get(y), [...get(x), ...get(x), ...v(F64X2_NE), ...get(x), ...f64x2Const(Infinity), ...v(F64X2_EQ), ...v(V128_OR)]);
  b.emit(set(y));
  select(b, f64x2Const(-Infinity), get(y), [...get(x), ...f64x2Const(0), ...v(F64X2_EQ)]);
  b.emit(set(y));
  select(b, f64x2Const(NaN), get(y), [...get(x), ...f64x2Const(0), ...v(F64X2_LT)]);
}

/** log1p(x) = log(u) * x / (u - 1) with u = 1 + x rounded (x itself where u is 1 or Infinity). */
export function emitLog1p64(b: FunctionBuilder, x: number): void {
  const u = b.local(V128);
  b.emit(get(x), f64x2Const(1), v(F64X2_ADD), set(u));
  emitLog64(b, u);
  b.emit(get(x), get(u), f64x2Const(1), v(F64X2_SUB), v(F64X2_DIV), v(F64X2_MUL));
  const y = keep(b);
  select(b, get(x), get(y), [...get(u), ...f64x2Const(1), ...v(F64X2_EQ), ...get(u), ...f64x2Const(Infinity), ...v(F64X2_EQ), ...v(V128_OR)]);
}

/** expm1(x): Taylor series for |x| < 1/2, exp(x) - 1 beyond; zeros keep their sign. */
export function emitExpm1_64(b: FunctionBuilder, x: number): void {
  const t = b.local(V128);
  horner64(b, x, EXPM1_TAYLOR);
  b.emit(get(x), get(x), v(F64X2_MUL), v(F64X2_MUL), get(x), v(F64X2_ADD), set(t));
  emitExp64(b, x);
  b.emit(f64x2Const(1), v(F64X2_SUB));
  const e = keep(b);
  select(b, get(t), get(e), [...get(x), ...v(F64X2_ABS), ...f64x2Const(0.5), ...v(F64X2_LT)]);
  b.emit(set(t));
  select(b, get(x), get(t), [...get(x), ...f64x2Const(0), ...v(F64X2_EQ)]);
}

/** tanh(x) = t / (t + 2) with t = expm1(2|x|), |x| capped at 20 (where tanh is 1 in float64), x's sign. */
export function emitTanh64(b: FunctionBuilder, x: number): void {
  const a2 = b.local(V128);
  const t = b.local(V128);
  b.emit(get(x), v(F64X2_ABS), f64x2Const(20), v(F64X2_MIN), f64x2Const(2), v(F64X2_MUL), set(a2));
  emitExpm1_64(b, a2);
  b.emit(tee(t), get(t), f64x2Const(2), v(F64X2_ADD), v(F64X2_DIV));
  b.emit(get(x), f64x2Const(-0), v(V128_AND), v(V128_OR));
}
