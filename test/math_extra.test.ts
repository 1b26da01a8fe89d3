// Trig, hyperbolic and special functions, predicates, division variants, bitwise ops, ClipByValue,
// All/Any and EuclideanNorm: kernels against tfjs where it has the op, else against reference code
// written here; shape errors; fusion; a GraphDef round trip. Runs on whatever backend the session
// uses (WEIR_BACKEND).
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { graphToGraphDef } from '../src/io/graph_def.js';
import type { Plan } from '../runtime/plan.js';
import { fusedWasmAvailable, fusedWasmCovers, setFusedWasm } from '../runtime/cpu/fused.js';
import { expectClose, fromTfjs, randomArray, rng, run, tfjs } from './helpers.js';

type Tfjs = Awaited<ReturnType<typeof tfjs>>;
type TfjsTensor = ReturnType<Tfjs['tensor']>;

const onGpu = process.env.WEIR_BACKEND === 'webgpu';

let pendingFeeds: [tf.Tensor, tf.NDArray][] = [];

/** A placeholder fed with x when runIn runs (constants would be folded on the host, never reaching the backend's kernels). */
function input(x: tf.NDArray | number): tf.Tensor {
  const v = typeof x === 'number' ? new tf.NDArray(Float32Array.from([x]), []) : x;
  const p = tf.placeholder(v.dtype, v.shape);
  pendingFeeds.push([p, v]);
  return p;
}

/** Builds fetches (over `input`s) in a fresh graph and runs them with the inputs fed. */
async function runIn(build: () => tf.Tensor | tf.Tensor[]): Promise<tf.NDArray[]> {
  const g = new tf.Graph();
  pendingFeeds = [];
  const out = g.asDefault(build);
  const feeds = pendingFeeds;
  pendingFeeds = [];
  return (await run(Array.isArray(out) ? out : [out], feeds, g)) as tf.NDArray[];
}
const run1 = async (build: () => tf.Tensor): Promise<tf.NDArray> => (await runIn(build))[0]!;

function op(type: string, inputs: tf.Tensor[], attrs: Record<string, tf.AttrValue> = { T: inputs[0]!.dtype }): tf.Tensor {
  return tf.getDefaultGraph().createOp(type, inputs, attrs).outputs[0]!;
}

const f32 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(Float32Array.from(values), shape);
const i32 = (values: number[], shape = [values.length]): tf.NDArray => new tf.NDArray(Int32Array.from(values), shape, 'int32');
const i64 = (a: tf.NDArray): tf.NDArray => new tf.NDArray(BigInt64Array.from(a.data as Int32Array, (v) => BigInt(v)), a.shape, 'int64');
const values = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);

function toTfjs(t: Tfjs, a: tf.NDArray): TfjsTensor {
  if (a.dtype === 'bool') return t.tensor(a.data as Uint8Array, a.shape, 'bool');
  return t.tensor(a.data as Float32Array | Int32Array, a.shape, a.dtype as 'float32' | 'int32');
}

function expectEqualValues(actual: tf.NDArray, expected: tf.NDArray | number[], dtype?: tf.DType): void {
  if (expected instanceof tf.NDArray) expect(actual.shape).toEqual(expected.shape);
  if (dtype) expect(actual.dtype).toBe(dtype);
  expect(values(actual)).toEqual(expected instanceof tf.NDArray ? values(expected) : expected);
}

// ---------------------------------------------------------------------------------------------
// Unary ops against tfjs

describe('unary float ops against tfjs', () => {
  const cases: Record<string, { api: (x: tf.Tensor) => tf.Tensor; oracle: (t: Tfjs, x: TfjsTensor) => TfjsTensor; min: number; max: number; atol?: number }> = {
    Sin: { api: tf.sin, oracle: (t, x) => t.sin(x), min: -10, max: 10 },
    Cos: { api: tf.cos, oracle: (t, x) => t.cos(x), min: -10, max: 10 },
    Tan: { api: tf.tan, oracle: (t, x) => t.tan(x), min: -1.4, max: 1.4 },
    Asin: { api: tf.asin, oracle: (t, x) => t.asin(x), min: -1, max: 1 },
    Acos: { api: tf.acos, oracle: (t, x) => t.acos(x), min: -1, max: 1 },
    Atan: { api: tf.atan, oracle: (t, x) => t.atan(x), min: -20, max: 20 },
    Sinh: { api: tf.sinh, oracle: (t, x) => t.sinh(x), min: -5, max: 5 },
    Cosh: { api: tf.cosh, oracle: (t, x) => t.cosh(x), min: -5, max: 5 },
    Asinh: { api: tf.asinh, oracle: (t, x) => t.asinh(x), min: -30, max: 30 },
    Acosh: { api: tf.acosh, oracle: (t, x) => t.acosh(x), min: 1, max: 30 },
    Atanh: { api: tf.atanh, oracle: (t, x) => t.atanh(x), min: -0.99, max: 0.99 },
    Expm1: { api: tf.expm1, oracle: (t, x) => t.expm1(x), min: -3, max: 3 },
    // tfjs's erf is Abramowitz-Stegun 7.1.26 (1.5e-7 absolute).
    Erf: { api: tf.erf, oracle: (t, x) => t.erf(x), min: -4, max: 4, atol: 3e-7 },
  };
  for (const [type, c] of Object.entries(cases)) {
    it(`${type}`, async () => {
      const t = await tfjs();
      const x = randomArray([3, 17], { seed: type.length * 7, min: c.min, max: c.max });
      const out = await run1(() => c.api(input(x)));
      expect(out.dtype).toBe('float32');
      expectClose(out, await fromTfjs(c.oracle(t, toTfjs(t, x))), { atol: c.atol ?? (onGpu ? 2e-6 : 1e-7), rtol: onGpu ? 2e-5 : 1e-6 });
    });
  }

  it('IsNan, IsInf, IsFinite give bools, as tfjs', async () => {
    const t = await tfjs();
    const x = f32([0, -0, 1, -2.5, NaN, Infinity, -Infinity, 3e38, 1e-40]);
    const outs = await runIn(() => [tf.isNan(input(x)), tf.isInf(input(x)), tf.isFinite(input(x))]);
    const oracles = [t.isNaN(toTfjs(t, x)), t.isInf(toTfjs(t, x)), t.isFinite(toTfjs(t, x))];
    for (let k = 0; k < 3; k++) expectEqualValues(outs[k]!, await fromTfjs(oracles[k]!), 'bool');
  });

  it('special values: NaN through, infinities and domain edges', async () => {
    const x = f32([NaN, Infinity, -Infinity, 0, -0]);
    const [s, e, a, th] = await runIn(() => [tf.sin(input(x)), tf.erf(input(x)), tf.atan(input(x)), tf.atanh(input(f32([1, -1, 2])))]);
    expect(values(s!).slice(0, 3).every(Number.isNaN)).toBe(true);
    expect(values(e!)).toEqual([NaN, 1, -1, 0, -0]);
    expectClose(a!, [NaN, Math.PI / 2, -Math.PI / 2, 0, 0], { atol: 1e-7 });
    expect(values(th!)).toEqual([Infinity, -Infinity, NaN]);
  });
});

// ---------------------------------------------------------------------------------------------
// Special functions against reference code written here (tfjs has no erfc, lgamma or digamma)

/** Composite Simpson's rule over [a, b] with n (even) intervals. */
function simpson(f: (t: number) => number, a: number, b: number, n: number): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}
const gauss = (t: number): number => (2 / Math.sqrt(Math.PI)) * Math.exp(-t * t);
const refErf = (x: number): number => simpson(gauss, 0, x, 2000);
/** erfc(x) = integral of the Gaussian from x to infinity; beyond x + 12 nothing is left. */
const refErfc = (x: number): number => (x < 0 ? 1 + refErf(-x) : simpson(gauss, x, x + 12, 20000));

/** Lanczos (g = 7, n = 9): a different algorithm than the kernels'. */
const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
function refLgamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - refLgamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}
const refDigamma = (x: number): number => (refLgamma(x + 1e-5) - refLgamma(x - 1e-5)) / 2e-5;

describe('special functions against reference code', () => {
  const fround = (xs: number[]): number[] => xs.map(Math.fround);

  it('Erf and Erfc, to 1e-6 relative', async () => {
    const xs = fround([-5, -3.2, -2, -1.5, -0.7, -1e-3, 0, 1e-6, 0.3, 0.9, 1.99, 2, 2.01, 2.7, 3.5, 4.5, 6, 9]);
    const [e, ec] = await runIn(() => [tf.erf(input(f32(xs))), tf.erfc(input(f32(xs)))]);
    expectClose(e!, xs.map(refErf), { atol: 1e-30, rtol: onGpu ? 3e-6 : 1e-6 });
    // erfc's float32 exponent e^(-x^2) loses a little for large x on the GPU.
    expectClose(ec!, xs.map(refErfc), { atol: 1e-37, rtol: onGpu ? 5e-5 : 1e-6 });
  });

  it('Lgamma: factorials, half-integers, negative and large arguments', async () => {
    const xs = fround([0.001, 0.1, 0.5, 1.5, 2.5, 3, 4.25, 7, 10, 33.3, 150, 1e5, -0.5, -1.5, -2.7, -10.2]);
    const out = await run1(() => tf.lgamma(input(f32(xs))));
    expectClose(out, xs.map(refLgamma), { atol: onGpu ? 2e-6 : 1e-7, rtol: onGpu ? 1e-5 : 1e-6 });
    // log((n-1)!) exactly, and lgamma's zeros at 1 and 2; poles at 0 and the negative integers.
    const exact = await run1(() => tf.lgamma(input(f32([1, 2, 5, 11, 0, -3]))));
    let logFact10 = 0;
    for (let k = 2; k <= 10; k++) logFact10 += Math.log(k);
    expectClose(exact, [0, 0, Math.log(24), logFact10, Infinity, Infinity], { atol: onGpu ? 2e-6 : 1e-7, rtol: 1e-6 });
  });

  it('Digamma: -gamma at 1, harmonic numbers, reflection, poles', async () => {
    const xs = fround([0.1, 0.7, 1.3, 2.9, 6.5, 12, 50, -0.3, -2.6]);
    const out = await run1(() => tf.digamma(input(f32(xs))));
    expectClose(out, xs.map(refDigamma), { atol: onGpu ? 5e-6 : 1e-6, rtol: onGpu ? 2e-5 : 2e-6 });
    const EULER = 0.5772156649015329;
    const known = await run1(() => tf.digamma(input(f32([1, 4, 0.5, 0, -2]))));
    expectClose(known, [-EULER, 1 + 1 / 2 + 1 / 3 - EULER, -EULER - 2 * Math.LN2, NaN, NaN], { atol: onGpu ? 2e-6 : 1e-7, rtol: 1e-6 });
  });
});

/** Hurwitz zeta by brute force: 4000 terms, then the integral of the rest with its first corrections. */
function refZeta(s: number, q: number): number {
  let sum = 0;
  const K = 4000;
  for (let k = 0; k < K; k++) sum += Math.pow(q + k, -s);
  const a = q + K;
  return sum + Math.pow(a, 1 - s) / (s - 1) + 0.5 * Math.pow(a, -s) + (s * Math.pow(a, -s - 1)) / 12;
}
const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));

describe('Polygamma and Zeta against reference code', () => {
  it('Zeta(x, q): brute-force sums and zeta(2) = pi^2/6, zeta(4) = pi^4/90', async () => {
    const xs = [2, 4, 3.5, 1.5, 6, 2, 3];
    const qs = [1, 1, 0.25, 2.5, 7.5, -1.5, 30];
    const out = await run1(() => tf.zeta(input(f32(xs)), input(f32(qs))));
    const want = xs.map((x, i) => refZeta(Math.fround(x), Math.fround(qs[i]!)));
    expect(want[0]).toBeCloseTo(Math.PI ** 2 / 6, 10);
    expect(want[1]).toBeCloseTo(Math.PI ** 4 / 90, 10);
    expectClose(out, want, { atol: 1e-30, rtol: onGpu ? 2e-5 : 1e-6 });
    const poles = await run1(() => tf.zeta(input(f32([1, 0.5, 2, 2.5])), input(f32([2, 2, -3, -1.5]))));
    expect(values(poles)).toEqual([Infinity, NaN, Infinity, NaN]);
  });

  it('Polygamma(n, x): digamma at n = 0, (-1)^(n+1) n! zeta(n+1, x), reflection, NaN for other n', async () => {
    const ns = [0, 1, 1, 1, 2, 3, 1, 4];
    const xs = [2.5, 1, 0.5, 3.7, 1, 1, -0.3, 0.8];
    const out = await run1(() => tf.polygamma(input(f32(ns)), input(f32(xs))));
    const want = ns.map((n, i) => {
      const x = Math.fround(xs[i]!);
      if (n === 0) return refDigamma(x);
      // trigamma reflection: psi1(x) = pi^2 / sin^2(pi x) - psi1(1 - x).
      if (x < 0) return Math.PI ** 2 / Math.sin(Math.PI * x) ** 2 - refZeta(2, 1 - x);
      return (n % 2 ? 1 : -1) * factorial(n) * refZeta(n + 1, x);
    });
    expect(want[1]).toBeCloseTo(Math.PI ** 2 / 6, 10);
    expect(want[2]).toBeCloseTo(Math.PI ** 2 / 2, 10);
    expect(want[5]).toBeCloseTo(Math.PI ** 4 / 15, 9);
    expectClose(out, want, { atol: 1e-6, rtol: onGpu ? 2e-5 : 2e-6 });
    const nan = await run1(() => tf.polygamma(input(f32([0.5, -1])), input(f32([2, 2]))));
    expect(values(nan).every(Number.isNaN)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Binary ops

const BROADCAST: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 1, 3], [4, 1]],
  [[], [3, 2]],
  [[4, 1], [1, 5]],
  [[0, 3], [1, 3]],
];

/** Values away from zero, with random signs. */
function awayFromZero(shape: number[], seed: number): tf.NDArray {
  const x = randomArray(shape, { seed, min: 0.3, max: 4 });
  const r = rng(seed + 1);
  const d = x.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (r() < 0.5) d[i] = -d[i]!;
  return x;
}

/** Integers in [-20, 20) and nonzero divisors in [-7, 7]. */
function intPair(sa: number[], sb: number[], seed: number): [tf.NDArray, tf.NDArray] {
  const a = randomArray(sa, { seed, dtype: 'int32', min: -20, max: 20 });
  const b = randomArray(sb, { seed: seed + 1, dtype: 'int32', min: -7, max: 8 });
  const bd = b.data as Int32Array;
  for (let i = 0; i < bd.length; i++) if (bd[i] === 0) bd[i] = -3;
  return [a, b];
}

/** Reference of a broadcasting binary op, elementwise over the broadcast of a and b. */
function refBinary(a: tf.NDArray, b: tf.NDArray, f: (x: number, y: number) => number): number[] {
  const rank = Math.max(a.rank, b.rank);
  const pad = (s: readonly number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s];
  const [pa, pb] = [pad(a.shape), pad(b.shape)];
  const out = pa.map((d, i) => (d === 1 ? pb[i]! : d));
  const n = out.reduce((p, d) => p * d, 1);
  const res: number[] = [];
  const at = (s: number[], idx: number[]): number => idx.reduce((off, v, i) => off * s[i]! + (s[i] === 1 ? 0 : v), 0);
  for (let k = 0; k < n; k++) {
    const idx: number[] = [];
    let r = k;
    for (let i = rank - 1; i >= 0; i--) {
      idx[i] = r % out[i]!;
      r = Math.floor(r / out[i]!);
    }
    res.push(f(Number(a.data[at(pa, idx)]), Number(b.data[at(pb, idx)])));
  }
  return res;
}

describe('binary ops', () => {
  it('Atan2 against tfjs, with broadcasting, signed zeros and infinities', async () => {
    const t = await tfjs();
    let seed = 1;
    for (const [sa, sb] of BROADCAST) {
      const y = randomArray(sa, { seed: seed++, min: -3, max: 3 });
      const x = randomArray(sb, { seed: seed++, min: -3, max: 3 });
      const out = await run1(() => tf.atan2(input(y), input(x)));
      expectClose(out, await fromTfjs(t.atan2(toTfjs(t, y), toTfjs(t, x))), { atol: onGpu ? 1e-6 : 1e-7, rtol: onGpu ? 1e-5 : 1e-6 });
    }
    const ys = [0, -0, 0, -0, 1, -1, Infinity, Infinity, -Infinity, 2, NaN];
    const xs = [0, 0, -0, -0, 0, -0, Infinity, -Infinity, 5, -Infinity, 1];
    const special = await run1(() => tf.atan2(input(f32(ys)), input(f32(xs))));
    expectClose(special, ys.map((y, i) => Math.atan2(y, xs[i]!)), { atol: 1e-7, rtol: 1e-6 });
    expect(values(special).slice(0, 4).map((v) => Object.is(v, -0) || v < 0)).toEqual([false, true, false, true]);
  });

  it('DivNoNan against tfjs: 0 where y is 0', async () => {
    const t = await tfjs();
    const x = f32([1, -2, 0, NaN, Infinity, 3]);
    const y = f32([0, 4, 0, 0, 0, -0.5]);
    const out = await run1(() => tf.divNoNan(input(x), input(y)));
    expectClose(out, await fromTfjs(t.divNoNan(toTfjs(t, x), toTfjs(t, y))), { rtol: 1e-6 });
  });

  it('Div (the op): true division for floats against tfjs, truncation for integers', async () => {
    const t = await tfjs();
    let seed = 20;
    for (const [sa, sb] of BROADCAST) {
      const a = randomArray(sa, { seed: seed++, min: -5, max: 5 });
      const b = awayFromZero(sb, seed++);
      const out = await run1(() => op('Div', [input(a), input(b)]));
      expectClose(out, await fromTfjs(t.div(toTfjs(t, a), toTfjs(t, b))), { rtol: 1e-6 });
      const [ia, ib] = intPair(sa, sb, seed++);
      const want = refBinary(ia, ib, (p, q) => Math.trunc(p / q) + 0);
      expectEqualValues(await run1(() => op('Div', [input(ia), input(ib)])), want, 'int32');
      expectEqualValues(await run1(() => op('TruncateDiv', [input(i64(ia)), input(i64(ib))])), want, 'int64');
      expectEqualValues(await run1(() => tf.truncatediv(input(ia), input(ib))), want, 'int32');
    }
  });

  it('TruncateMod and Mod: the sign of x, for ints and floats', async () => {
    let seed = 40;
    for (const [sa, sb] of BROADCAST) {
      const [ia, ib] = intPair(sa, sb, seed++);
      const want = refBinary(ia, ib, (p, q) => p - q * Math.trunc(p / q));
      expectEqualValues(await run1(() => tf.truncatemod(input(ia), input(ib))), want, 'int32');
      expectEqualValues(await run1(() => op('Mod', [input(i64(ia)), input(i64(ib))])), want, 'int64');
      const fa = randomArray(sa, { seed: seed++, min: -9, max: 9 });
      const fb = awayFromZero(sb, seed++);
      // fmod is exact: x - y * trunc(x / y) computed in float64 (x / y never rounds across an integer here).
      const wantF = refBinary(fa, fb, (p, q) => p - q * Math.trunc(p / q));
      expectClose(await run1(() => op('Mod', [input(fa), input(fb)])), wantF, { atol: 1e-6, rtol: 1e-6 });
    }
    const known = await run1(() => tf.truncatemod(input(i32([-7, 7, -7, 7])), input(i32([3, -3, -3, 3]))));
    expectEqualValues(known, [-1, 1, -1, 1]);
  });

  it('integer division by zero fails, naming the problem', async () => {
    for (const type of ['Div', 'Mod', 'TruncateDiv', 'TruncateMod']) {
      await expect(run1(() => op(type, [input(i32([4, 5])), input(i32([2, 0]))]))).rejects.toThrow(/division by zero/);
    }
  });

  it('BitwiseAnd against tfjs; Or and Xor against JS; int64 too', async () => {
    const t = await tfjs();
    const a = i32([0, 1, -1, 0x0f0f0f0f, -2147483648, 12345, 6, 7]);
    const b = i32([0, 3, 255, 0x00ff00ff, -1, -12345, 3, 5]);
    const and = await run1(() => tf.bitwiseAnd(input(a), input(b)));
    expectEqualValues(and, await fromTfjs(t.bitwiseAnd(toTfjs(t, a), toTfjs(t, b))), 'int32');
    const [or, xor, or64] = await runIn(() => [
      tf.bitwiseOr(input(a), input(b)),
      tf.bitwiseXor(input(a), input(b)),
      tf.bitwiseOr(input(i64(a)), input(i64(b))),
    ]);
    expectEqualValues(or!, refBinary(a, b, (p, q) => p | q), 'int32');
    expectEqualValues(xor!, refBinary(a, b, (p, q) => p ^ q), 'int32');
    expectEqualValues(or64!, refBinary(a, b, (p, q) => p | q), 'int64');
  });
});

// ---------------------------------------------------------------------------------------------
// ClipByValue (the op) and reductions

describe('ClipByValue op', () => {
  it('matches tfjs with scalar bounds and with bounds of t shape (float32, int32, int64)', async () => {
    const t = await tfjs();
    const x = randomArray([3, 5], { seed: 3, min: -4, max: 4 });
    const scalarOut = await run1(() => op('ClipByValue', [input(x), input(-1.5), input(2)]));
    expectEqualValues(scalarOut, await fromTfjs(t.clipByValue(toTfjs(t, x), -1.5, 2)), 'float32');
    const lo = randomArray([3, 5], { seed: 4, min: -3, max: 0 });
    const hi = randomArray([3, 5], { seed: 5, min: 0, max: 3 });
    const full = await run1(() => op('ClipByValue', [input(x), input(lo), input(hi)]));
    expectEqualValues(full, refBinary(x, x, (v) => v).map((v, i) => Math.max(Math.min(v, Number(hi.data[i])), Number(lo.data[i]))));
    const xi = randomArray([7], { seed: 6, dtype: 'int32', min: -10, max: 10 });
    const want = values(xi).map((v) => Math.max(Math.min(v, 4), -2));
    expectEqualValues(await run1(() => op('ClipByValue', [input(xi), input(i32([-2], [])), input(i32([4], []))])), want, 'int32');
    const x64 = i64(xi);
    const b64 = (v: number): tf.NDArray => new tf.NDArray(BigInt64Array.from([BigInt(v)]), [], 'int64');
    expectEqualValues(await run1(() => op('ClipByValue', [input(x64), input(b64(-2)), input(b64(4))])), want, 'int64');
  });

  it('rejects bounds that are neither scalars nor of t shape', async () => {
    await expect(run1(() => op('ClipByValue', [input(f32([1, 2, 3, 4], [2, 2])), input(f32([0, 0])), input(5)]))).rejects.toThrow(/clip_value_min/);
  });

  it('tf.clipByValue keeps TF 1.15 composite form (Minimum, Maximum)', () => {
    const g = new tf.Graph();
    g.asDefault(() => tf.clipByValue(tf.placeholder('float32', [2]), 0, 1));
    const types = g.getOperations().map((o) => o.type);
    expect(types).toContain('Minimum');
    expect(types).toContain('Maximum');
    expect(types).not.toContain('ClipByValue');
  });
});

describe('All, Any, EuclideanNorm', () => {
  const shapes: [number[], number | number[] | undefined][] = [
    [[2, 3, 4], 1],
    [[2, 3, 4], [0, 2]],
    [[2, 3, 4], undefined],
    [[5, 7], -1],
    [[3, 0], 1],
    [[0, 3], 0],
  ];
  it('All and Any against tfjs, with and without keep_dims', async () => {
    const t = await tfjs();
    let seed = 60;
    for (const [shape, axis] of shapes) {
      for (const keep of [false, true]) {
        // Mostly true for All (so some rows are all true), mostly false for Any.
        const base = randomArray(shape, { seed: seed++, min: 0, max: 1 });
        const mostly = (p: number): tf.NDArray => new tf.NDArray(Uint8Array.from(base.data as Float32Array, (v) => (v < p ? 1 : 0)), shape, 'bool');
        const [xa, xo] = [mostly(0.85), mostly(0.15)];
        const [all, any] = await runIn(() => [tf.reduceAll(input(xa), axis, keep), tf.reduceAny(input(xo), axis, keep)]);
        const [wantAll, wantAny] = [await fromTfjs(t.all(toTfjs(t, xa), axis, keep)), await fromTfjs(t.any(toTfjs(t, xo), axis, keep))];
        if (xa.size === 0) {
          // tfjs reads a first element that is not there; TF: All over nothing is true, Any false.
          (wantAll.data as Uint8Array).fill(1);
          (wantAny.data as Uint8Array).fill(0);
        }
        expectEqualValues(all!, wantAll, 'bool');
        expectEqualValues(any!, wantAny, 'bool');
      }
    }
  });

  it('EuclideanNorm against tfjs (float32), and for int32', async () => {
    const t = await tfjs();
    let seed = 80;
    for (const [shape, axis] of shapes) {
      for (const keep of [false, true]) {
        const x = randomArray(shape, { seed: seed++ });
        const out = await run1(() => tf.reduceEuclideanNorm(input(x), axis, keep));
        expectClose(out, await fromTfjs(t.euclideanNorm(toTfjs(t, x), axis, keep)), { rtol: 1e-6 });
      }
    }
    const xi = i32([3, 4, 0, 12, -5, 1], [2, 3]);
    expectEqualValues(await run1(() => tf.reduceEuclideanNorm(input(xi), 1)), [5, 13], 'int32');
  });
});

// ---------------------------------------------------------------------------------------------
// Shape functions, GraphDef, fusion

describe('shape functions', () => {
  it('reject wrong dtypes, naming the op and the input', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => tf.polygamma(tf.constant(i32([1])), tf.constant(i32([1])))).toThrow(/Polygamma.*int32/s);
      expect(() => tf.zeta(tf.constant(f32([2])), tf.constant(i32([1])))).toThrow(/Zeta/);
      expect(() => tf.sin(tf.constant(i32([1])))).toThrow(/Sin.*int32/s);
      expect(() => tf.isNan(tf.constant(i32([1])))).toThrow(/IsNan/);
      expect(() => tf.bitwiseAnd(tf.constant(f32([1])), tf.constant(f32([1])))).toThrow(/BitwiseAnd.*float32/s);
      expect(() => tf.atan2(tf.constant(f32([1])), tf.constant(i32([1])))).toThrow(/Atan2/);
      expect(() => tf.reduceAll(tf.constant(f32([1])))).toThrow(/All.*float32/s);
      expect(() => tf.reduceEuclideanNorm(tf.constant(f32([1, 2])), 3)).toThrow(/Invalid reduction dimension/);
      expect(() => op('ClipByValue', [tf.constant(f32([1])), tf.constant(i32([0], [])), tf.constant(f32([1], []))])).toThrow(/ClipByValue.*clip_value_min/s);
      expect(() => op('Div', [tf.constant(f32([1, 2])), tf.constant(f32([1, 2, 3]))])).toThrow(/Div.*broadcast/s);
    });
  });

  it('infer output dtypes and shapes', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3]);
      expect(tf.isFinite(x).dtype).toBe('bool');
      expect(tf.isFinite(x).shape).toEqual([null, 3]);
      expect(tf.atan2(x, tf.constant(f32([1, 2, 3]))).shape).toEqual([null, 3]);
      expect(tf.reduceAny(tf.placeholder('bool', [2, 5, 3]), [0, 2], true).shape).toEqual([1, 5, 1]);
      expect(tf.reduceEuclideanNorm(x, 1).shape).toEqual([null]);
      expect(op('ClipByValue', [x, tf.constant(0), tf.constant(1)]).shape).toEqual([null, 3]);
    });
  });
});

describe('GraphDef round trip', () => {
  it('exports and re-imports the new ops with their attrs, giving the same values', async () => {
    const g = new tf.Graph();
    const x = f32([-1.5, 0.25, 2, 3.5, -0.75, 1], [2, 3]);
    const names = g.asDefault(() => {
      const p = tf.placeholder('float32', [2, 3], 'x');
      const a = tf.atan2(tf.sin(p), tf.cos(p), 'a');
      const e = tf.erfc(tf.lgamma(tf.abs(p)), 'e');
      const n = tf.reduceEuclideanNorm(tf.add(a, e), 1, true, 'n');
      const all = tf.reduceAll(tf.isFinite(p), 0, false, 'all');
      const c = op('ClipByValue', [p, tf.constant(-1), tf.constant(1)]);
      const d = op('Div', [c, tf.constant(f32([2, 4, 8]))]);
      return [n.name, all.name, d.name, tf.truncatemod(tf.constant(i32([7, -7])), tf.constant(i32([2, 2])), 'tm').name];
    });
    const gd = graphToGraphDef(g);
    const node = (name: string) => gd.node!.find((n) => n.name === name)!;
    expect(node('n').attr).toMatchObject({ keep_dims: { b: true }, T: { type: 1 } });
    expect(node('all').attr).toMatchObject({ keep_dims: { b: false } });
    expect(node('all').attr!.T).toBeUndefined();
    expect(node('a').input).toEqual(['Sin', 'Cos']);
    const h = new tf.Graph();
    h.asDefault(() => tf.importGraphDef(gd, { name: '' }));
    const fetch = (graph: tf.Graph): tf.Tensor[] => names.map((n) => graph.getTensorByName(n));
    const feed = (graph: tf.Graph): [tf.Tensor, tf.NDArray][] => [[graph.getTensorByName('x:0'), x]];
    const want = await run(fetch(g), feed(g), g);
    const got = await run(fetch(h), feed(h), h);
    want.forEach((w, i) => expectEqualValues(got[i]!, w));
  });
});

describe('fusion', () => {
  const fusedSteps = (p: Plan): number => p.steps.filter((s) => s.node.type === '_FusedElementwise').length;

  it('the new elementwise ops fuse into one kernel and give the unfused values', async () => {
    const g = new tf.Graph();
    const { p, q, fetches } = g.asDefault(() => {
      const p = tf.placeholder('float32', [4, 9]);
      const q = tf.placeholder('int32', [4, 9]);
      const y = tf.add(tf.multiply(tf.sin(p), tf.cosh(p)), tf.add(tf.erf(p), tf.atan2(p, tf.expm1(p))));
      const z = tf.cast(tf.isFinite(tf.lgamma(p)), 'float32');
      const w = tf.bitwiseXor(tf.bitwiseAnd(q, 12), 5);
      return { p, q, fetches: [op('ClipByValue', [tf.add(y, z), tf.constant(-1.5), tf.constant(2.5)]), w] };
    });
    const feeds: [tf.Tensor, tf.NDArray][] = [
      [p, randomArray([4, 9], { seed: 9, min: -3, max: 3 })],
      [q, randomArray([4, 9], { seed: 10, dtype: 'int32', min: -50, max: 50 })],
    ];
    const opt = new tf.Session({ graph: g });
    const ref = new tf.Session({ graph: g, optimize: false });
    try {
      const a = (await opt.run(fetches, feeds)) as tf.NDArray[];
      const b = (await ref.run(fetches, feeds)) as tf.NDArray[];
      const plan = await opt.compile(fetches, feeds);
      expect(fusedSteps(plan)).toBeGreaterThan(0);
      expect(plan.steps.some((s) => ['Sin', 'Erf', 'Atan2', 'Lgamma', 'BitwiseAnd', 'ClipByValue'].includes(s.node.type))).toBe(false);
      // The fused kernels are generated from the same formulas: the same bits on the CPU.
      if (onGpu) expectClose(a[0]!, b[0]!, { atol: 1e-6, rtol: 1e-6 });
      else expect(values(a[0]!)).toEqual(values(b[0]!));
      expectEqualValues(a[1]!, b[1]!);
    } finally {
      opt.close();
      ref.close();
    }
  });

  it.skipIf(onGpu || !fusedWasmAvailable())('Div, DivNoNan, ClipByValue and the predicates keep a CPU cluster in WebAssembly SIMD, with the same bits', async () => {
    const prev = setFusedWasm({ enabled: true, minElements: 1 });
    const g = new tf.Graph();
    const n = 40;
    const special = [0, -0, 1, -1, 2.5, -2.5, 1e-30, 3e38, -3e38, NaN, Infinity, -Infinity];
    const r = rng(5);
    const vals = (seed: number): tf.NDArray => f32(Array.from({ length: n }, (_, i) => (i < special.length ? special[(i + seed) % special.length]! : (r() - 0.5) * 8)));
    const { p, q, fetches } = g.asDefault(() => {
      const p = tf.placeholder('float32', [n]);
      const q = tf.placeholder('float32', [n]);
      const clipped = op('ClipByValue', [tf.divNoNan(p, q), tf.constant(-2), tf.constant(2)]);
      const flags = tf.add(tf.cast(tf.isNan(p), 'float32'), tf.add(tf.cast(tf.isInf(q), 'float32'), tf.cast(tf.isFinite(p), 'float32')));
      return { p, q, fetches: [tf.multiply(clipped, flags), tf.add(op('Div', [p, q]), 1)] };
    });
    const feeds: [tf.Tensor, tf.NDArray][] = [
      [p, vals(0)],
      [q, vals(5)],
    ];
    const opt = new tf.Session({ graph: g });
    const ref = new tf.Session({ graph: g, optimize: false });
    try {
      const plan = await opt.compile(fetches, feeds);
      const fused = plan.steps.filter((s) => s.node.type === '_FusedElementwise');
      expect(fused.length).toBeGreaterThan(0);
      for (const s of fused) expect(fusedWasmCovers(s.node.program!)).toBe(true);
      const a = (await opt.run(fetches, feeds)) as tf.NDArray[];
      const b = (await ref.run(fetches, feeds)) as tf.NDArray[];
      const bits = (x: tf.NDArray): (number | string)[] => values(x).map((v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : v));
      a.forEach((x, k) => expect(bits(x)).toEqual(bits(b[k]!)));
    } finally {
      opt.close();
      ref.close();
      setFusedWasm(prev);
    }
  });

  it('integer division stays unfused (it can fail on its data)', async () => {
    const g = new tf.Graph();
    const fetch = g.asDefault(() => tf.add(op('Div', [tf.multiply(tf.placeholder('int32', [3], 'a'), 2), tf.constant(i32([1, 2, 3]))]), 1));
    const sess = new tf.Session({ graph: g });
    try {
      const plan = await sess.compile([fetch], [[g.getTensorByName('a:0'), i32([4, 5, 6])]]);
      expect(plan.steps.some((s) => s.node.type === 'Div')).toBe(true);
    } finally {
      sess.close();
    }
  });
});
