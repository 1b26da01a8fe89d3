// The CPU's activation table: each activation (and its gradient op) written once, as a float64
// JavaScript expression and as WebAssembly SIMD. The plain kernels (kernels/nn.ts), the fused
// elementwise kernels (fused.ts: JS and SIMD) and the MatMul/Conv2D epilogues (fused.ts) are all
// generated from it, so they agree to the bit.
//
// Code generation safety: expressions are built only from the fixed snippets below and operand
// names the generators make up; numbers travel as constant arguments (k(x) names K[i]).
import type { TypedArray } from '../../src/core/dtypes.js';
import { InternalError, InvalidArgumentError } from '../../src/core/errors.js';
import { leakyAlpha, SELU_ALPHA, SELU_SCALE } from '../activations.js';
import {
  emitExp64,
  emitExpm1_64,
  emitLog1p64,
  emitTanh64,
  F32X4_ABS,
  F32X4_DIV,
  F32X4_EQ,
  F32X4_GT,
  F32X4_LT,
  F32X4_MAX,
  F32X4_MIN,
  F32X4_MUL,
  F32X4_NE,
  F32X4_SUB,
  F64X2_ABS,
  F64X2_ADD,
  F64X2_DIV,
  F64X2_GT,
  F64X2_LT,
  F64X2_MUL,
  F64X2_NEG,
  F64X2_SUB,
  f32x4Const,
  f64x2Const,
  type FunctionBuilder,
  get,
  keep,
  select,
  set,
  simd,
  V128,
  V128_AND,
} from './wasm.js';

/** The vector form of an op in a generated SIMD kernel (fused.ts runs it). */
export interface VectorOp {
  /** The f32x4 form (one IEEE float32 operation per lane, or selects): pushes the result from the argument locals. */
  emit?: (b: FunctionBuilder, a: readonly number[]) => void;
  /**
   * The float64 form, run on each half of the lanes: pushes an f64x2 result from f64x2 argument
   * locals, which is then rounded to float32, as the JS expression's float64 value is rounded.
   */
  emit64?: (b: FunctionBuilder, a: readonly number[]) => void;
  /** Uses exp/log (within a few float64 ulp of Math.*): its float32 result may, rarely, differ by one ulp. */
  approx?: boolean;
  /** Arguments through which the result jumps (a comparison decides between formulas). */
  selectors?: readonly number[];
}

export const vop = (op: number): number[] => simd(op);
export const zero = (): number[] => f32x4Const(0);
export const zero64 = (): number[] => f64x2Const(0);
export const f64 = (emit64: VectorOp['emit64'], approx = false, selectors?: number[]): VectorOp => ({ emit64, approx, selectors });

/** An expression over operand identifiers; `k` turns a number into a constant argument. */
export type Emit = (a: readonly string[], k: (x: number) => string) => string;

export interface Activation {
  /** The float64 expression, rounded once to the output type. Operands in the op's input order. */
  js: (alpha: number) => Emit;
  /** The expression is already a float32 (selects only): no rounding needed. */
  exact?: boolean;
  /** The same expression serves int32 values. */
  int32?: boolean;
  /** Reads LeakyRelu's slope (the `alpha` attr). */
  alpha?: boolean;
  simd: (alpha: number) => VectorOp;
}

const SELU_SA = SELU_SCALE * SELU_ALPHA;
const relu: Emit = ([a]) => `(${a} < 0 ? 0 : ${a})`;
const relu6: Emit = ([a]) => `(${a} < 0 ? 0 : ${a} > 6 ? 6 : ${a})`;

/** `x * alpha` rounds once either way when alpha is a float32: then the SIMD form stays in float32. */
function leaky(alpha: number, grad: boolean): VectorOp {
  // LeakyRelu(x): x above zero, else x * alpha; LeakyReluGrad(g, x): g above zero, else g * alpha.
  const pick = (b: FunctionBuilder, [g, x]: readonly number[], wide: boolean): void => {
    const [k, mul, gt, z] = wide ? [f64x2Const, F64X2_MUL, F64X2_GT, zero64] : [f32x4Const, F32X4_MUL, F32X4_GT, zero];
    select(b, get(g!), [...get(g!), ...k(alpha), ...vop(mul)], [...get(x!), ...z(), ...vop(gt)]);
  };
  const args = (a: readonly number[]): number[] => (grad ? [...a] : [a[0]!, a[0]!]);
  const selectors = grad ? [1] : undefined;
  if (Math.fround(alpha) === alpha) return { emit: (b, a) => pick(b, args(a), false), selectors };
  return f64((b, a) => pick(b, args(a), true), false, selectors);
}

export const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  Relu: { js: () => relu, exact: true, int32: true, simd: () => ({ emit: (b, [x]) => select(b, zero(), get(x!), [...get(x!), ...zero(), ...vop(F32X4_LT)]) }) },
  Relu6: {
    js: () => relu6,
    exact: true,
    int32: true,
    simd: () => ({
      emit: (b, [x]) => {
        select(b, f32x4Const(6), get(x!), [...get(x!), ...f32x4Const(6), ...vop(F32X4_GT)]);
        const t = keep(b);
        select(b, zero(), get(t), [...get(x!), ...zero(), ...vop(F32X4_LT)]);
      },
    }),
  },
  LeakyRelu: { js: (alpha) => ([a], k) => `(${a} > 0 ? ${a} : ${a} * ${k(alpha)})`, alpha: true, simd: (alpha) => leaky(alpha, false) },
  Elu: {
    js: () => ([a]) => `(${a} < 0 ? Math.expm1(${a}) : ${a})`,
    simd: () =>
      f64((b, [x]) => {
        emitExpm1_64(b, x!);
        const e = keep(b);
        select(b, get(e), get(x!), [...get(x!), ...zero64(), ...vop(F64X2_LT)]);
      }, true),
  },
  Selu: {
    js: () => ([a], k) => `(${a} < 0 ? ${k(SELU_SA)} * Math.expm1(${a}) : ${k(SELU_SCALE)} * ${a})`,
    simd: () =>
      f64((b, [x]) => {
        b.emit(f64x2Const(SELU_SA));
        emitExpm1_64(b, x!);
        b.emit(vop(F64X2_MUL));
        const e = keep(b);
        select(b, get(e), [...f64x2Const(SELU_SCALE), ...get(x!), ...vop(F64X2_MUL)], [...get(x!), ...zero64(), ...vop(F64X2_LT)]);
      }, true),
  },
  // log(1 + e^x) without overflow: x + log1p(e^-x) above zero; both exponents are -|x|.
  Softplus: {
    js: () => ([a]) => `(${a} > 0 ? ${a} + Math.log1p(Math.exp(-${a})) : Math.log1p(Math.exp(${a})))`,
    simd: () =>
      f64((b, [x]) => {
        const na = b.local(V128);
        b.emit(get(x!), vop(F64X2_ABS), vop(F64X2_NEG), set(na));
        emitExp64(b, na);
        const e = keep(b);
        emitLog1p64(b, e);
        const l = keep(b);
        select(b, [...get(x!), ...get(l), ...vop(F64X2_ADD)], get(l), [...get(x!), ...zero64(), ...vop(F64X2_GT)]);
      }, true),
  },
  Softsign: {
    js: () => ([a]) => `${a} / (1 + Math.abs(${a}))`,
    simd: () => f64((b, [x]) => b.emit(get(x!), f64x2Const(1), get(x!), vop(F64X2_ABS), vop(F64X2_ADD), vop(F64X2_DIV))),
  },
  Sigmoid: {
    js: () => ([a]) => `1 / (1 + Math.exp(-${a}))`,
    simd: () =>
      f64((b, [x]) => {
        const nx = b.local(V128);
        b.emit(get(x!), vop(F64X2_NEG), set(nx), f64x2Const(1), f64x2Const(1));
        emitExp64(b, nx);
        b.emit(vop(F64X2_ADD), vop(F64X2_DIV));
      }, true),
  },
  Tanh: { js: () => ([a]) => `Math.tanh(${a})`, simd: () => f64((b, [x]) => emitTanh64(b, x!), true) },

  // Gradients: XGrad(gradients, features) / XGrad(gradients, outputs), and XGrad(y, dy).
  ReluGrad: {
    js: () => ([g, x]) => `(${x} > 0 ? ${g} : 0)`,
    exact: true,
    simd: () => ({ emit: (b, [g, x]) => select(b, get(g!), zero(), [...get(x!), ...zero(), ...vop(F32X4_GT)]), selectors: [1] }),
  },
  Relu6Grad: {
    js: () => ([g, x]) => `(${x} > 0 && ${x} < 6 ? ${g} : 0)`,
    exact: true,
    simd: () => ({
      emit: (b, [g, x]) => select(b, get(g!), zero(), [...get(x!), ...zero(), ...vop(F32X4_GT), ...get(x!), ...f32x4Const(6), ...vop(F32X4_LT), ...vop(V128_AND)]),
      selectors: [1],
    }),
  },
  LeakyReluGrad: { js: (alpha) => ([g, x], k) => `(${x} > 0 ? ${g} : ${g} * ${k(alpha)})`, alpha: true, simd: (alpha) => leaky(alpha, true) },
  EluGrad: {
    js: () => ([g, y]) => `(${y} < 0 ? ${g} * (${y} + 1) : ${g})`,
    simd: () =>
      f64((b, [g, y]) => select(b, [...get(g!), ...get(y!), ...f64x2Const(1), ...vop(F64X2_ADD), ...vop(F64X2_MUL)], get(g!), [...get(y!), ...zero64(), ...vop(F64X2_LT)])),
  },
  SeluGrad: {
    js: () => ([g, y], k) => `(${y} < 0 ? ${g} * (${y} + ${k(SELU_SA)}) : ${g} * ${k(SELU_SCALE)})`,
    simd: () =>
      f64(
        (b, [g, y]) =>
          select(b, [...get(g!), ...get(y!), ...f64x2Const(SELU_SA), ...vop(F64X2_ADD), ...vop(F64X2_MUL)], [...get(g!), ...f64x2Const(SELU_SCALE), ...vop(F64X2_MUL)], [
            ...get(y!),
            ...zero64(),
            ...vop(F64X2_LT),
          ]),
        false,
        [1],
      ),
  },
  SoftplusGrad: {
    js: () => ([g, x]) => `${g} / (1 + Math.exp(-${x}))`,
    simd: () =>
      f64((b, [g, x]) => {
        const nx = b.local(V128);
        b.emit(get(x!), vop(F64X2_NEG), set(nx), get(g!), f64x2Const(1));
        emitExp64(b, nx);
        b.emit(vop(F64X2_ADD), vop(F64X2_DIV));
      }, true),
  },
  SoftsignGrad: {
    js: () => ([g, x]) => `${g} / ((1 + Math.abs(${x})) * (1 + Math.abs(${x})))`,
    simd: () =>
      f64((b, [g, x]) => {
        b.emit(f64x2Const(1), get(x!), vop(F64X2_ABS), vop(F64X2_ADD));
        const d = keep(b);
        b.emit(get(g!), get(d), get(d), vop(F64X2_MUL), vop(F64X2_DIV));
      }),
  },
  SigmoidGrad: {
    js: () => ([y, dy]) => `${dy} * ${y} * (1 - ${y})`,
    simd: () => f64((b, [y, dy]) => b.emit(get(dy!), get(y!), vop(F64X2_MUL), f64x2Const(1), get(y!), vop(F64X2_SUB), vop(F64X2_MUL))),
  },
  TanhGrad: {
    js: () => ([y, dy]) => `${dy} * (1 - ${y} * ${y})`,
    simd: () => f64((b, [y, dy]) => b.emit(get(dy!), f64x2Const(1), get(y!), get(y!), vop(F64X2_MUL), vop(F64X2_SUB), vop(F64X2_MUL))),
  },
};

// ---------------------------------------------------------------------------------------------
// Elementwise math formulas beyond the activations (trig, special functions, predicates, division
// variants): each written once here, from which the plain kernels (kernels/math.ts) and the fused
// JS kernels (fused.ts) are generated. The few that are one float32 operation (or a select, or a
// lane mask for bool results) have a SIMD form too; clusters holding the others run as JS.

/** One op's formulas by input dtype, over operands in the op's input order. */
export interface Formula {
  /** float32 inputs: a float64 expression, rounded once to the output type. */
  f?: Emit;
  /** int32 inputs: an expression whose value is already an int32 (it wraps or checks itself). */
  i?: Emit;
  /** The float expression is already a value of the output type (selects, min/max, 0/1). */
  exact?: boolean;
  /** The f32x4 form for float32 inputs, bit-identical to `f` (bool results as lane masks). */
  simd?: VectorOp;
}

/** A lane mask of a float32 test, which decides between results (a discontinuous choice). */
const mask = (emit: NonNullable<VectorOp['emit']>): VectorOp => ({ emit, selectors: [0] });

const call =
  (fn: string): Emit =>
  (a) =>
    `${fn}(${a.join(', ')})`;

// JavaScript's % is C's fmod: the truncated remainder, exact.
const TRUNCATED_MOD: Formula = { f: ([a, b]) => `${a} % ${b}`, i: call('tmod'), exact: true };
// ClipByValue(t, min, max): TF's t.cwiseMin(max).cwiseMax(min), for float32 and int32 alike.
const clip: Emit = ([t, lo, hi]) => `Math.max(Math.min(${t}, ${hi}), ${lo})`;

export const FORMULAS: Readonly<Record<string, Formula>> = {
  Sin: { f: call('Math.sin') },
  Cos: { f: call('Math.cos') },
  Tan: { f: call('Math.tan') },
  Asin: { f: call('Math.asin') },
  Acos: { f: call('Math.acos') },
  Atan: { f: call('Math.atan') },
  Sinh: { f: call('Math.sinh') },
  Cosh: { f: call('Math.cosh') },
  Asinh: { f: call('Math.asinh') },
  Acosh: { f: call('Math.acosh') },
  Atanh: { f: call('Math.atanh') },
  Expm1: { f: call('Math.expm1') },
  Erf: { f: call('erf') },
  Erfc: { f: call('erfc') },
  Lgamma: { f: call('lgamma') },
  Digamma: { f: call('digamma') },
  Polygamma: { f: call('polygamma') },
  Zeta: { f: call('zeta') },
  IsNan: { f: ([a]) => `(${a} !== ${a} ? 1 : 0)`, exact: true, simd: mask((b, [x]) => b.emit(get(x!), get(x!), vop(F32X4_NE))) },
  IsInf: {
    f: ([a]) => `(${a} === Infinity || ${a} === -Infinity ? 1 : 0)`,
    exact: true,
    simd: mask((b, [x]) => b.emit(get(x!), vop(F32X4_ABS), f32x4Const(Infinity), vop(F32X4_EQ))),
  },
  // x - x is 0 exactly for finite x, NaN for infinities and NaN.
  IsFinite: { f: ([a]) => `(${a} - ${a} === 0 ? 1 : 0)`, exact: true, simd: mask((b, [x]) => b.emit(get(x!), get(x!), vop(F32X4_SUB), zero(), vop(F32X4_EQ))) },
  Atan2: { f: call('Math.atan2') },
  // A float64 quotient of float32 values rounds to the float32 quotient: f32x4.div is the same.
  Div: { f: ([a, b]) => `${a} / ${b}`, i: call('tdiv'), simd: { emit: (b, [x, y]) => b.emit(get(x!), get(y!), vop(F32X4_DIV)) } },
  DivNoNan: {
    f: ([a, b]) => `(${b} === 0 ? 0 : ${a} / ${b})`,
    simd: { emit: (b, [x, y]) => select(b, zero(), [...get(x!), ...get(y!), ...vop(F32X4_DIV)], [...get(y!), ...zero(), ...vop(F32X4_EQ)]), selectors: [1] },
  },
  Mod: TRUNCATED_MOD,
  TruncateMod: TRUNCATED_MOD,
  TruncateDiv: { f: ([a, b]) => `Math.trunc(${a} / ${b})`, i: call('tdiv') },
  BitwiseAnd: { i: ([a, b]) => `(${a} & ${b})` },
  BitwiseOr: { i: ([a, b]) => `(${a} | ${b})` },
  BitwiseXor: { i: ([a, b]) => `(${a} ^ ${b})` },
  // f32x4.min/max treat NaN and signed zeros as Math.min/max do.
  ClipByValue: {
    f: clip,
    i: clip,
    exact: true,
    simd: { emit: (b, [t, lo, hi]) => b.emit(get(t!), get(hi!), vop(F32X4_MIN), get(lo!), vop(F32X4_MAX)) },
  },
};

/** A formula's expression and exactness for inputs of this dtype key ('f' float32, 'i' int32), if it has one. */
export function formulaFor(type: string, key: 'f' | 'i' | 'b' | undefined): { emit: Emit; exact: boolean } | undefined {
  const f = FORMULAS[type];
  if (!f) return undefined;
  if (key === 'f' && f.f) return { emit: f.f, exact: !!f.exact };
  if (key === 'i' && f.i) return { emit: f.i, exact: true };
  return undefined;
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf by its series 2/sqrt(pi) e^(-x^2) sum 2^n x^(2n+1) / (2n+1)!! (positive terms: no cancellation), for |x| < 2. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 100; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= Math.abs(sum) * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc by its continued fraction e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), for x >= 2. */
function erfcFraction(x: number): number {
  let t = x;
  for (let n = 50; n >= 1; n--) t = x + n / 2 / t;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / t;
}

function erf(x: number): number {
  if (Math.abs(x) < 2) return erfSeries(x);
  if (x !== x) return x;
  const r = 1 - erfcFraction(Math.abs(x));
  return x < 0 ? -r : r;
}

function erfc(x: number): number {
  if (x < 2) return 1 - erf(x);
  return erfcFraction(x);
}

/** sin(pi x), reduced exactly to [-1, 1] first so large arguments keep their accuracy. */
function sinPi(x: number): number {
  return Math.sin(Math.PI * (x - 2 * Math.round(x / 2)));
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** log|Gamma(x)|: Stirling's series above 15, the recurrence below, reflection below 1/2. */
function lgamma(x: number): number {
  if (x !== x) return x;
  if (!Number.isFinite(x) || (x <= 0 && x === Math.floor(x))) return Infinity;
  if (x < 0.5) return Math.log(Math.PI / Math.abs(sinPi(x))) - lgamma(1 - x);
  let prod = 1;
  while (x < 15) {
    prod *= x;
    x += 1;
  }
  const r = 1 / x;
  const r2 = r * r;
  const series = r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))));
  return (x - 0.5) * Math.log(x) - x + HALF_LOG_2PI + series - Math.log(prod);
}

/** The digamma function: the asymptotic series above 10, the recurrence below, reflection below 1/2; NaN at poles. */
function digamma(x: number): number {
  if (x !== x || x === Infinity) return x;
  if (x === -Infinity || (x <= 0 && x === Math.floor(x))) return NaN;
  if (x < 0.5) return digamma(1 - x) - Math.PI / Math.tan(Math.PI * (x - Math.round(x)));
  let acc = 0;
  while (x < 10) {
    acc -= 1 / x;
    x += 1;
  }
  const r2 = 1 / (x * x);
  return acc + Math.log(x) - 0.5 / x - r2 * (1 / 12 - r2 * (1 / 120 - r2 * (1 / 252 - r2 * (1 / 240 - r2 / 132))));
}

/** (2j)! / B_2j for j = 1..12 (B: the Bernoulli numbers): the Euler-Maclaurin tail of zeta. */
const EULER_MACLAURIN = [
  [1, 6], [-1, 30], [1, 42], [-1, 30], [5, 66], [-691, 2730], [7, 6], [-3617, 510], [43867, 798], [-174611, 330], [854513, 138], [-236364091, 2730],
].map(([p, q], j) => {
  let f = 1;
  for (let k = 2; k <= 2 * (j + 1); k++) f *= k;
  return (f * q!) / p!;
});

/**
 * The Hurwitz zeta function sum over k >= 0 of (q + k)^-s: terms summed until q + k > 9, then the
 * Euler-Maclaurin tail. Infinite at s = 1 and at poles q = 0, -1, ...; NaN for s < 1, and for
 * q < 0 with non-integer s.
 */
function zeta(s: number, q: number): number {
  if (s === 1) return Infinity;
  if (!(s > 1) || q !== q) return NaN;
  if (q <= 0) {
    if (q === Math.floor(q)) return Infinity;
    if (s !== Math.floor(s)) return NaN;
  }
  let sum = Math.pow(q, -s);
  let a = q;
  let b = 0;
  for (let i = 0; i < 9 || a <= 9; i++) {
    a += 1;
    b = Math.pow(a, -s);
    sum += b;
    if (Math.abs(b / sum) < 1e-17) return sum;
  }
  sum += (b * a) / (s - 1) - 0.5 * b;
  let rising = 1;
  let k = 0;
  for (const c of EULER_MACLAURIN) {
    rising *= s + k;
    b /= a;
    const t = (rising * b) / c;
    sum += t;
    if (Math.abs(t / sum) < 1e-17) break;
    rising *= s + k + 1;
    b /= a;
    k += 2;
  }
  return sum;
}

/** The n-th derivative of digamma, (-1)^(n+1) n! zeta(n + 1, x), for integer n >= 0; NaN for other n. */
function polygamma(n: number, x: number): number {
  if (!(n >= 0) || n !== Math.floor(n)) return NaN;
  if (n === 0) return digamma(x);
  let factorial = 1;
  for (let k = 2; k <= Math.min(n, 200); k++) factorial *= k;
  return (n % 2 === 1 ? factorial : -factorial) * zeta(n + 1, x);
}

function divisionByZero(): never {
  throw new InvalidArgumentError('Integer division by zero');
}

/** int32 division rounding toward zero (the float64 quotient never crosses an integer for int32 operands). */
function tdiv(a: number, b: number): number {
  if (b === 0) divisionByZero();
  return (a / b) | 0;
}

function tmod(a: number, b: number): number {
  if (b === 0) divisionByZero();
  return (a % b) | 0;
}

/** Functions generated code may call by name (besides Math's). */
export const FUNCTIONS = { erf, erfc, lgamma, digamma, polygamma, zeta, tdiv, tmod };
/** Binds FUNCTIONS' names in generated code that receives them as `H`. */
export const FUNCTIONS_PRELUDE = `const { ${Object.keys(FUNCTIONS).join(', ')} } = H;`;

/**
 * out[i] = formula(ins[0][i or 0], ...): each input is full length or (scalar[k]) one value. The
 * plain kernels of the unary ops and ClipByValue.
 */
export function runFormula(type: string, key: 'f' | 'i', ins: readonly TypedArray[], scalar: readonly boolean[], out: TypedArray): void {
  const f = formulaFor(type, key);
  if (!f) throw new InternalError(`no CPU formula ${type} for ${key === 'f' ? 'float32' : 'int32'}`);
  const names = ins.map((_, i) => `a${i}`);
  const e = f.emit(names, () => {
    throw new InternalError('formulas take no constants');
  });
  const fn = compile<(I: readonly TypedArray[], o: TypedArray) => void>(`function ${type}(I, o) {
  ${names.map((n, i) => (scalar[i] ? `const ${n} = I[${i}][0];` : `const ${n}s = I[${i}];`)).join(' ')}
  for (let i = 0; i < o.length; i++) {
    ${names.map((n, i) => (scalar[i] ? '' : `const ${n} = ${n}s[i];`)).join(' ')}
    o[i] = ${e};
  }
}`);
  fn(ins, out);
}

/** A broadcasting row of a binary formula: od[o + k] = f(ad[ia + k*sa], bd[ib + k*sb]) for k < n. */
export type FormulaRow = (od: TypedArray, o: number, ad: TypedArray, ia: number, sa: number, bd: TypedArray, ib: number, sb: number, n: number) => void;

export function formulaRow(type: string, key: 'f' | 'i'): FormulaRow {
  const f = formulaFor(type, key);
  if (!f) throw new InternalError(`no CPU formula ${type} for ${key === 'f' ? 'float32' : 'int32'}`);
  const e = f.emit(['x', 'y'], () => {
    throw new InternalError('formulas take no constants');
  });
  return compile<FormulaRow>(`function ${type}Row(od, o, ad, ia, sa, bd, ib, sb, n) {
  for (let k = 0; k < n; k++, ia += sa, ib += sb) {
    const x = ad[ia];
    const y = bd[ib];
    od[o + k] = ${e};
  }
}`);
}

/** The slope an activation reads from its attrs; undefined when it needs one and the attr is not a number. */
export function activationAlpha(type: string, attrs: Readonly<Record<string, unknown>>): number | undefined {
  if (!ACTIVATIONS[type]?.alpha) return 0;
  return typeof attrs.alpha === 'number' ? attrs.alpha : undefined;
}

/** Collects constants for generated code: k(x) names the slot of x in `consts`. */
export function constantPool(): { k: (x: number) => string; consts: number[] } {
  const consts: number[] = [];
  const k = (x: number): string => {
    let i = consts.indexOf(x);
    if (i < 0) i = consts.push(x) - 1;
    return `K${i}`;
  };
  return { k, consts };
}

function expression(type: string, alpha: number, operands: readonly string[]): { e: string; consts: number[] } {
  const act = ACTIVATIONS[type];
  if (!act) throw new InternalError(`no CPU activation ${type}`);
  const { k, consts } = constantPool();
  return { e: act.js(alpha)(operands, k), consts };
}

const compiled = new Map<string, (...args: never[]) => void>();
function compile<F>(source: string): F {
  let fn = compiled.get(source);
  if (!fn) {
    fn = new Function('H', `"use strict";\n${FUNCTIONS_PRELUDE}\nreturn ${source};`)(FUNCTIONS) as (...args: never[]) => void;
    compiled.set(source, fn);
  }
  return fn as F;
}

const declare = (consts: readonly number[]): string => consts.map((_, i) => `const K${i} = K[${i}];`).join(' ');

/** out[i] = act(x[i]) (one operand) or act(a[i], b[i]) (two), over typed arrays of one length. */
export function runActivation(type: string, attrs: Readonly<Record<string, unknown>>, ins: readonly TypedArray[], out: TypedArray): void {
  const names = ins.map((_, i) => `a${i}`);
  const { e, consts } = expression(type, leakyAlpha(attrs), names);
  const fn = compile<(I: readonly TypedArray[], o: TypedArray, K: readonly number[]) => void>(`function ${type}(I, o, K) {
  ${declare(consts)}
  ${names.map((n, i) => `const ${n}s = I[${i}];`).join(' ')}
  for (let i = 0; i < o.length; i++) {
    ${names.map((n) => `const ${n} = ${n}s[i];`).join(' ')}
    o[i] = ${e};
  }
}`);
  fn(ins, out, consts);
}

/**
 * out[i] = act(fround(out[i] + bias[channel(i)])), channels over [outer, c, inner]: the epilogue of
 * _FusedMatMul / _FusedConv2D, the same arithmetic as BiasAdd then the activation's kernel.
 */
export function runEpilogue(act: string | undefined, alpha: number, out: Float32Array, bias: Float32Array, c: number, inner: number): void {
  const { e, consts } = act === undefined ? { e: 'v', consts: [] } : expression(act, alpha, ['v']);
  const fn = compile<(o: Float32Array, bias: Float32Array, c: number, inner: number, K: readonly number[]) => void>(`function epilogue(o, bias, c, inner, K) {
  ${declare(consts)}
  const n = o.length;
  if (inner === 1) {
    for (let i = 0; i < n; i += c) {
      for (let j = 0; j < c; j++) {
        const v = Math.fround(o[i + j] + bias[j]);
        o[i + j] = ${e};
      }
    }
    return;
  }
  for (let i = 0, ch = 0; i < n; i += inner, ch = ch + 1 === c ? 0 : ch + 1) {
    const b = bias[ch];
    for (let j = i; j < i + inner; j++) {
      const v = Math.fround(o[j] + b);
      o[j] = ${e};
    }
  }
}`);
  fn(out, bias, c, inner, consts);
}
