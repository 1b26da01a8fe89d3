// The WebAssembly SIMD form of fused elementwise kernels (runtime/cpu/fused.ts, runtime/cpu/wasm.ts):
// the f32x4 approximations of exp, log, log1p, expm1, tanh and sigmoid against Math.* over the whole
// float32 range; every op and operand layout against the generated JS kernels; the programs that
// must stay in JS; and whole graphs against the unoptimized plan. Under WEIR_CPU_FAST=0 the
// WebAssembly form is off and the same programs run in JS.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';
import type { ElementwiseProgram } from '../passes/ir.js';
import type { KernelNode } from '../runtime/backend.js';
import { fusedWasmAvailable, fusedWasmCovers, fusedWasmModules, setFusedWasm } from '../runtime/cpu/fused.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import { FRESH } from '../runtime/cpu/kernels/util.js';
import { rng } from './helpers.js';

const fastForcedOff = process.env.WEIR_CPU_FAST === '0';
const wasm = !fastForcedOff;

beforeEach(() => {
  setFusedWasm({ enabled: true, minElements: 1 });
});
afterEach(() => {
  setFusedWasm({ enabled: true, minElements: 1024 });
});

type Op = ElementwiseProgram['ops'][number];
type Arg = Op['args'][number];

/** A program over `shape` reading inputs of the given (aligned) shapes. */
function program(shape: number[], inputs: number[][], ops: { type: string; args: Arg[]; attrs?: Record<string, unknown>; dtype?: DType }[], outputs: number[], dtypes?: DType[]): ElementwiseProgram {
  return {
    shape,
    inputs: inputs.map((s, i) => ({ arg: i, shape: s, dtype: dtypes?.[i] ?? 'float32' })),
    ops: ops.map((o, i) => ({ type: o.type, attrs: (o.attrs ?? {}) as Op['attrs'], dtype: o.dtype ?? 'float32', args: o.args, name: `op${i}` })),
    outputs,
  };
}

/** Runs a program through the _FusedElementwise kernel, as WebAssembly or (wasmOn false) as JS. */
function runProgram(p: ElementwiseProgram, inputs: tf.NDArray[], wasmOn = true): tf.NDArray[] {
  const node = { name: 'fused', type: '_FusedElementwise', attrs: {}, outputs: [], inputDTypes: [], inputShapes: [], program: p } as unknown as KernelNode;
  const prev = setFusedWasm({ enabled: wasmOn });
  try {
    return getCpuKernel('_FusedElementwise')!(inputs, node, {} as never, FRESH);
  } finally {
    setFusedWasm(prev);
  }
}

const unaryProgram = (type: string, n: number, attrs?: Record<string, unknown>): ElementwiseProgram =>
  program([n], [[n]], [{ type, args: [{ input: 0 }], attrs }], [0]);

/** Distance in float32 steps (ulp) between a and b; 0 for equal values and for two NaNs. */
function ulps(a: number, b: number): number {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return 0;
  if (Number.isNaN(a) || Number.isNaN(b) || !Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  const ord = (x: number): number => {
    const i = new Int32Array(Float32Array.of(x).buffer)[0]!;
    return i < 0 ? -(i & 0x7fffffff) : i;
  };
  return Math.abs(ord(a) - ord(b));
}

/** Floats from every part of the range: bit patterns in steps (NaNs, infinities, subnormals included). */
function bitPatterns(step: number, from = 0): Float32Array {
  const n = Math.floor(2 ** 32 / step);
  const x = new Float32Array(n);
  const bits = new Uint32Array(x.buffer);
  for (let i = 0; i < n; i++) bits[i] = (from + i * step) >>> 0;
  return x;
}

const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1, -1, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 0.625, -0.625, 9, -9,
  88.72, 88.7228, 88.73, 89, 100, -87.33, -87.34, -103.97, -103.98, -104, -150, 3.4028235e38, -3.4028235e38, -0.9999999, 44.36, -44.36];

describe('exp/log-based ops against Math.* rounded to float32', () => {
  const cases: [string, (x: number) => number][] = [
    ['Exp', Math.exp],
    ['Log', Math.log],
    ['Log1p', Math.log1p],
    ['Tanh', Math.tanh],
    ['Sigmoid', (x) => 1 / (1 + Math.exp(-x))],
    // expm1 on negatives, through Elu (Elu is x itself above zero); Selu's too, scaled.
    ['Elu', (x) => (x < 0 ? Math.expm1(x) : x)],
    ['Selu', (x) => (x < 0 ? 1.7580993408473766 * Math.expm1(x) : 1.0507009873554805 * x)],
    ['Softplus', (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))],
  ];
  for (const [type, f] of cases) {
    it.runIf(wasm)(`${type}: the float32 result of Math.* (rarely 1 ulp off) over the float32 range, exact at the extremes`, () => {
      const patterns = bitPatterns(16411, 17);
      const x = new Float32Array(SPECIAL.length + patterns.length);
      x.set(SPECIAL);
      x.set(patterns, SPECIAL.length);
      const p = unaryProgram(type, x.length);
      expect(fusedWasmCovers(p)).toBe(true);
      const y = runProgram(p, [new tf.NDArray(x, [x.length])])[0]!.data as Float32Array;
      let off = 0;
      for (let i = 0; i < x.length; i++) {
        const want = Math.fround(f(x[i]!));
        const d = ulps(y[i]!, want);
        if (d > 1) expect.fail(`${type}(${x[i]}) = ${y[i]}, Math gives ${want} (${d} ulp)`);
        if (d > 0) off++;
        // Zeros, infinities and NaN come out exactly (signs included).
        if ((want === 0 || !Number.isFinite(want)) && !(Object.is(y[i], want) || (Number.isNaN(y[i]) && Number.isNaN(want)))) expect.fail(`${type}(${x[i]}) = ${y[i]}, want ${want}`);
      }
      expect(off, `${off} of ${x.length} results one ulp off`).toBeLessThanOrEqual(2);
    });
  }

  it.runIf(wasm)('Exp overflows to Infinity and underflows through the subnormals to 0 where Math.exp does', () => {
    // Dense around both ends of exp's float32 range.
    const hi = Float32Array.from({ length: 20001 }, (_, i) => 88 + i * 1e-4);
    const lo = Float32Array.from({ length: 20001 }, (_, i) => -87 - i * 9e-4);
    for (const x of [hi, lo]) {
      const y = runProgram(unaryProgram('Exp', x.length), [new tf.NDArray(x, [x.length])])[0]!.data as Float32Array;
      for (let i = 0; i < x.length; i++) {
        const want = Math.fround(Math.exp(x[i]!));
        if (ulps(y[i]!, want) > 1) expect.fail(`exp(${x[i]}) = ${y[i]}, want ${want}`);
      }
    }
  });
});

describe('every op as WebAssembly against the generated JS', () => {
  const N = 1031;
  /** Random values in [-8, 8) with special values mixed in. */
  function data(seed: number, n = N, scale = 8): tf.NDArray {
    const r = rng(seed);
    const sp = [0, -0, NaN, Infinity, -Infinity, 6, -1, 1, 1e-40, 0.5, -0.5, 2.5, 100];
    return new tf.NDArray(Float32Array.from({ length: n }, (_, i) => (i < sp.length * 2 ? sp[(i + seed) % sp.length]! : (2 * r() - 1) * scale)), [n]);
  }
  const EXACT_UNARY = ['Neg', 'Abs', 'Square', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Relu', 'Relu6', 'ZerosLike', 'OnesLike', 'Rsqrt', 'Softsign'];
  const EXACT_BINARY = [
    'AddV2', 'Add', 'BiasAdd', 'Sub', 'Mul', 'RealDiv', 'Maximum', 'Minimum', 'ReluGrad', 'Relu6Grad',
    'SquaredDifference', 'SigmoidGrad', 'TanhGrad', 'SqrtGrad', 'RsqrtGrad', 'ReciprocalGrad', 'EluGrad', 'SeluGrad', 'SoftsignGrad',
  ];
  const CLOSE_UNARY = ['Exp', 'Log', 'Log1p', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Softplus'];
  const CLOSE_BINARY = ['SoftplusGrad'];

  function compare(p: ElementwiseProgram, inputs: tf.NDArray[], maxUlps: number): void {
    expect(fusedWasmCovers(p)).toBe(wasm);
    const a = runProgram(p, inputs, true);
    const b = runProgram(p, inputs, false);
    a.forEach((out, o) => {
      const x = out.data as Float32Array;
      const y = b[o]!.data as Float32Array;
      for (let i = 0; i < x.length; i++) {
        const d = ulps(x[i]!, y[i]!);
        // Tiny results (products of tiny factors, subnormals) are compared absolutely.
        if (d > maxUlps && !(maxUlps > 0 && Math.abs(x[i]! - y[i]!) < 1e-37)) {
          expect.fail(`output ${o}, element ${i} (inputs ${inputs.map((t) => (t.data as Float32Array)[i % t.size]).join(', ')}): wasm ${x[i]} vs js ${y[i]}`);
        }
      }
    });
  }

  for (const type of EXACT_UNARY) it(`${type}: bit-identical`, () => compare(unaryProgram(type, N), [data(1)], 0));
  for (const type of EXACT_BINARY) {
    it(`${type}: bit-identical`, () => compare(program([N], [[N], [N]], [{ type, args: [{ input: 0 }, { input: 1 }] }], [0]), [data(2), data(3)], 0));
  }
  for (const type of CLOSE_UNARY) it(`${type}: within 1 ulp`, () => compare(unaryProgram(type, N), [data(4)], 1));
  for (const type of CLOSE_BINARY) {
    it(`${type}: within 1 ulp`, () => compare(program([N], [[N], [N]], [{ type, args: [{ input: 0 }, { input: 1 }] }], [0]), [data(5, N, 2), data(6)], 1));
  }
  it('LeakyRelu and its gradient: bit-identical, with a float32 alpha and with another', () => {
    for (const alpha of [0.25, 0.2]) {
      compare(unaryProgram('LeakyRelu', N, { alpha }), [data(7)], 0);
      compare(program([N], [[N], [N]], [{ type: 'LeakyReluGrad', args: [{ input: 0 }, { input: 1 }], attrs: { alpha } }], [0]), [data(8), data(9)], 0);
    }
  });
  it('AddN rounds after every addition, as the AddN kernel does', () => {
    compare(program([N], [[N], [N], [N]], [{ type: 'AddN', args: [{ input: 0 }, { input: 1 }, { input: 2 }] }], [0]), [data(10), data(11), data(12)], 0);
  });
  it('float32 -> float32 Cast is the identity', () => {
    compare(program([N], [[N]], [{ type: 'Cast', args: [{ input: 0 }], attrs: { SrcT: 'float32', DstT: 'float32' } }], [0]), [data(13)], 0);
  });
});

describe('bool values as lane masks', () => {
  const N = 1029;
  const r = rng(31);
  const sp = [0, -0, NaN, Infinity, -Infinity, 1, -1, 0.5];
  const fl = (seed: number): tf.NDArray => {
    const q = rng(seed);
    return new tf.NDArray(Float32Array.from({ length: N }, (_, i) => (i < 64 ? sp[(i * (seed + 1)) % sp.length]! : Math.round((2 * q() - 1) * 4) / 2)), [N]);
  };
  const bools = (n: number): tf.NDArray => new tf.NDArray(Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0)), [n], 'bool');
  const same = (p: ElementwiseProgram, inputs: tf.NDArray[]): void => {
    expect(fusedWasmCovers(p)).toBe(wasm);
    const a = runProgram(p, inputs, true);
    const b = runProgram(p, inputs, false);
    a.forEach((t, o) => {
      const x = t.data as Float32Array;
      const y = b[o]!.data as Float32Array;
      for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) expect.fail(`output ${o}, element ${i}: ${x[i]} vs ${y[i]}`);
    });
  };
  for (const cmp of ['Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual']) {
    it(`${cmp} on floats (NaN, -0) into Select and a bool -> float32 Cast`, () => {
      const p = program([N], [[N], [N]], [
        { type: cmp, args: [{ input: 0 }, { input: 1 }], dtype: 'bool' },
        { type: 'SelectV2', args: [{ op: 0 }, { input: 0 }, { input: 1 }] },
        { type: 'Cast', args: [{ op: 0 }], attrs: { SrcT: 'bool', DstT: 'float32' } },
      ], [1, 2]);
      same(p, [fl(1), fl(2)]);
    });
  }
  it('logical ops, bool Equal/NotEqual, float -> bool Cast, and bool inputs (whole, scalar, column)', () => {
    const p = program([N / 3, 3], [[N / 3, 3], [1, 1], [N / 3, 1], [N / 3, 3]], [
      { type: 'Cast', args: [{ input: 3 }], dtype: 'bool', attrs: { SrcT: 'float32', DstT: 'bool' } },
      { type: 'LogicalAnd', args: [{ input: 0 }, { op: 0 }], dtype: 'bool' },
      { type: 'LogicalOr', args: [{ op: 1 }, { input: 2 }], dtype: 'bool' },
      { type: 'LogicalNot', args: [{ op: 2 }], dtype: 'bool' },
      { type: 'Equal', args: [{ op: 3 }, { input: 1 }], dtype: 'bool' },
      { type: 'NotEqual', args: [{ op: 4 }, { input: 0 }], dtype: 'bool' },
      { type: 'Select', args: [{ op: 5 }, { input: 3 }, { op: 0 }] },
    ], [6], ['bool', 'bool', 'bool', 'float32']);
    // Select of a float and a bool is not a valid program: make the last op pick between floats.
    const fixed = { ...p, ops: [...p.ops.slice(0, 6), { ...p.ops[6]!, args: [{ op: 5 }, { input: 3 }, { input: 3 }] }] };
    const x = fl(3);
    same(fixed as ElementwiseProgram, [bools(N), bools(1), bools(N / 3), new tf.NDArray(x.data, [N / 3, 3])]);
  });
  it('dropout: a scalar bool switch, Floor of uniform + keep probability, scale', () => {
    const p = program([N], [[1], [N], [N], [1]], [
      { type: 'AddV2', args: [{ input: 3 }, { input: 1 }] },
      { type: 'Floor', args: [{ op: 0 }] },
      { type: 'RealDiv', args: [{ input: 2 }, { input: 3 }] },
      { type: 'Mul', args: [{ op: 2 }, { op: 1 }] },
      { type: 'SelectV2', args: [{ input: 0 }, { op: 3 }, { input: 2 }] },
    ], [4], ['bool', 'float32', 'float32', 'float32']);
    const u = new tf.NDArray(Float32Array.from({ length: N }, () => r()), [N]);
    for (const on of [0, 1]) same(p, [new tf.NDArray(Uint8Array.of(on), [1], 'bool'), u, fl(4), new tf.NDArray(Float32Array.of(0.5), [1])]);
  });
  it('programs with a bool output, int32 values, or a comparison of an exp/log result stay in JS', () => {
    expect(fusedWasmCovers(program([N], [[N], [N]], [{ type: 'Less', args: [{ input: 0 }, { input: 1 }], dtype: 'bool' }], [0]))).toBe(false);
    expect(fusedWasmCovers(program([N], [[N]], [{ type: 'Cast', args: [{ input: 0 }], dtype: 'float32', attrs: {} }], [0], ['int32']))).toBe(false);
    const cmpExp = program([N], [[N], [N]], [
      { type: 'Exp', args: [{ input: 0 }] },
      { type: 'Greater', args: [{ op: 0 }, { input: 1 }], dtype: 'bool' },
      { type: 'SelectV2', args: [{ op: 1 }, { input: 0 }, { input: 1 }] },
    ], [2]);
    expect(fusedWasmCovers(cmpExp)).toBe(false);
  });
});

describe('operand layouts', () => {
  /** Exact ops over the four kinds of operands, with loop-invariant ops at each level. */
  function layoutProgram(shape: number[], fullS: number[], rowS: number[], colS: number[], scalarS: number[]): ElementwiseProgram {
    return program(shape, [fullS, rowS, colS, scalarS], [
      { type: 'Mul', args: [{ input: 3 }, { input: 3 }] }, // scalar only: before the loops
      { type: 'AddV2', args: [{ input: 2 }, { op: 0 }] }, // column and scalar: once per row
      { type: 'Sub', args: [{ input: 0 }, { input: 1 }] },
      { type: 'Mul', args: [{ op: 2 }, { op: 1 }] },
      { type: 'Maximum', args: [{ op: 3 }, { input: 1 }] },
      { type: 'Relu', args: [{ op: 4 }] },
    ], [5, 1, 3]);
  }
  const feed = (s: number[], seed: number): tf.NDArray => {
    const n = s.reduce((a, b) => a * b, 1);
    const r = rng(seed);
    return new tf.NDArray(Float32Array.from({ length: n }, () => 4 * r() - 2), s);
  };
  function check(p: ElementwiseProgram): void {
    expect(fusedWasmCovers(p)).toBe(wasm);
    const inputs = p.inputs.map((i, k) => feed(i.shape as number[], 20 + k));
    const a = runProgram(p, inputs, true);
    const b = runProgram(p, inputs, false);
    a.forEach((out, o) => {
      const x = out.data as Float32Array;
      const y = b[o]!.data as Float32Array;
      for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) expect.fail(`${JSON.stringify(p.shape)}: output ${o}, element ${i}: ${x[i]} vs ${y[i]}`);
    });
  }
  for (const rows of [1, 3, 17]) {
    for (const cols of [1, 3, 4, 17, 1023, 8195]) {
      it(`[${rows}, ${cols}]: whole, row, column and scalar operands`, () => check(layoutProgram([rows, cols], [rows, cols], [1, cols], [rows, 1], [1, 1])));
    }
  }
  it('a column operand against a large block, and rows longer than a staging chunk', () => {
    check(layoutProgram([2000, 33], [2000, 33], [1, 33], [2000, 1], [1, 1]));
    check(layoutProgram([3, 20000], [3, 20000], [1, 20000], [3, 1], [1, 1]));
  });
  it('higher-rank shapes that collapse to two dims (NHWC bias, [n, 1, 1] columns)', () => {
    check(layoutProgram([2, 5, 7, 6], [2, 5, 7, 6], [1, 1, 1, 6], [2, 5, 7, 1], [1, 1, 1, 1]));
    check(layoutProgram([4, 3, 5], [4, 3, 5], [1, 3, 5], [4, 1, 1], [1, 1, 1]));
  });
  it('a scalar program and a program with every operand a scalar', () => {
    check(layoutProgram([], [], [], [], []));
    check(program([5000], [[5000], [1]], [{ type: 'AddV2', args: [{ input: 0 }, { input: 1 }] }], [0]));
  });
  it('inputs viewed at unaligned offsets of larger buffers', () => {
    const p = program([37, 29], [[37, 29], [1, 29]], [{ type: 'Mul', args: [{ input: 0 }, { input: 1 }] }], [0]);
    const big = new Float32Array(37 * 29 + 3).map((_, i) => i * 0.25 - 7);
    const inputs = [new tf.NDArray(big.subarray(1, 1 + 37 * 29), [37, 29]), new tf.NDArray(big.subarray(2, 31), [1, 29])];
    const a = runProgram(p, inputs, true)[0]!.data as Float32Array;
    const b = runProgram(p, inputs, false)[0]!.data as Float32Array;
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});

describe('programs that stay in JS', () => {
  it('non-float programs, ops without a vector form, other broadcasts, and inexact values reaching a discontinuity', () => {
    const n = 64;
    const cases: [string, ElementwiseProgram][] = [
      ['int32', program([n], [[n], [n]], [{ type: 'AddV2', args: [{ input: 0 }, { input: 1 }], dtype: 'int32' }], [0], ['int32', 'int32'])],
      ['Pow', program([n], [[n], [n]], [{ type: 'Pow', args: [{ input: 0 }, { input: 1 }] }], [0])],
      ['FloorMod', program([n], [[n], [n]], [{ type: 'FloorMod', args: [{ input: 0 }, { input: 1 }] }], [0])],
      ['a comparison', program([n], [[n], [n]], [{ type: 'Less', args: [{ input: 0 }, { input: 1 }], dtype: 'bool' }], [0])],
      ['rank-3 broadcast', program([4, 2, 3], [[4, 1, 3], [1, 2, 1]], [{ type: 'AddV2', args: [{ input: 0 }, { input: 1 }] }], [0])],
      ['Floor(Exp(x))', program([n], [[n]], [{ type: 'Exp', args: [{ input: 0 }] }, { type: 'Floor', args: [{ op: 0 }] }], [1])],
      ['ReluGrad(g, Tanh(x))', program([n], [[n], [n]], [{ type: 'Tanh', args: [{ input: 1 }] }, { type: 'ReluGrad', args: [{ input: 0 }, { op: 0 }] }], [1])],
    ];
    for (const [what, p] of cases) expect(fusedWasmCovers(p), what).toBe(false);
    // An inexact value may still feed the gradient side of ReluGrad, and exact ops may feed a discontinuity.
    const ok = program([n], [[n], [n]], [{ type: 'Tanh', args: [{ input: 0 }] }, { type: 'ReluGrad', args: [{ op: 0 }, { input: 1 }] }, { type: 'AddV2', args: [{ input: 0 }, { input: 1 }] }, { type: 'Floor', args: [{ op: 2 }] }], [1, 3]);
    expect(fusedWasmCovers(ok)).toBe(wasm);
  });

  it('small programs stay in JS below the size threshold', () => {
    setFusedWasm({ minElements: 100 });
    const p = program([50], [[50]], [{ type: 'Exp', args: [{ input: 0 }] }], [0]);
    const x = new tf.NDArray(Float32Array.from({ length: 50 }, (_, i) => i / 7 - 3), [50]);
    const y = runProgram(p, [x])[0]!.data as Float32Array;
    // The JS template: exactly Math.exp rounded to float32.
    y.forEach((v, i) => expect(v).toBe(Math.fround(Math.exp((x.data as Float32Array)[i]!))));
  });
});

describe('module cache', () => {
  it.runIf(wasm)('compiles one module per distinct program', () => {
    const make = (): ElementwiseProgram => program([999], [[999], [1, 999].slice(1)], [{ type: 'SquaredDifference', args: [{ input: 0 }, { input: 1 }] }, { type: 'Tanh', args: [{ op: 0 }] }], [1]);
    const x = new tf.NDArray(new Float32Array(999).fill(0.5), [999]);
    const before = fusedWasmModules();
    const p1 = make();
    runProgram(p1, [x, x]);
    runProgram(p1, [x, x]);
    runProgram(make(), [x, x]);
    expect(fusedWasmModules() - before).toBe(1);
    runProgram(program([999], [[999], [999]], [{ type: 'SquaredDifference', args: [{ input: 0 }, { input: 1 }] }, { type: 'Sigmoid', args: [{ op: 0 }] }], [1]), [x, x]);
    expect(fusedWasmModules() - before).toBe(2);
  });

  it.runIf(fastForcedOff)('is off under WEIR_CPU_FAST=0', () => {
    expect(fusedWasmAvailable()).toBe(false);
    expect(setFusedWasm({ enabled: true }).enabled).toBe(false);
    expect(fusedWasmCovers(program([8], [[8]], [{ type: 'Exp', args: [{ input: 0 }] }], [0]))).toBe(false);
  });
});

describe('whole graphs: optimized (fused, WebAssembly) against unoptimized', () => {
  // The session's verify mode (WEIR_VERIFY_OPT, on in the test config) also compares every run.
  async function both(g: tf.Graph, fetches: tf.Tensor[], feeds: [tf.Tensor, tf.NDArray][]): Promise<[tf.NDArray[], tf.NDArray[]]> {
    const opt = new tf.Session({ graph: g });
    const ref = new tf.Session({ graph: g, optimize: false });
    try {
      return [await opt.run(fetches, feeds), await ref.run(fetches, feeds)];
    } finally {
      opt.close();
      ref.close();
    }
  }
  const close = (a: tf.NDArray, b: tf.NDArray): void => {
    const x = a.data as Float32Array;
    const y = b.data as Float32Array;
    for (let i = 0; i < x.length; i++) {
      if (!(Object.is(x[i], y[i]) || Math.abs(x[i]! - y[i]!) <= 1e-6 + 1e-5 * Math.abs(y[i]!))) expect.fail(`element ${i}: ${x[i]} vs ${y[i]}`);
    }
  };

  it('activations and their gradients with bias rows and a column scale', async () => {
    setFusedWasm({ minElements: 1024 });
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [96, 40], 'x');
      const bias = tf.placeholder('float32', [40], 'bias');
      const scale = tf.placeholder('float32', [96, 1], 'scale');
      const h = tf.multiply(tf.add(x, bias), scale);
      const y = tf.add(tf.add(tf.sigmoid(h), tf.tanh(h)), tf.add(tf.nn.elu(h), tf.nn.softplus(h)));
      const loss = tf.reduceSum(tf.multiply(y, tf.log1p(tf.exp(tf.negative(tf.abs(h))))));
      const grads = tf.gradients(loss, [x, bias, scale]) as tf.Tensor[];
      return { x, bias, scale, fetches: [y, loss, ...grads] };
    });
    const r = rng(5);
    const f = (s: number[]): tf.NDArray => new tf.NDArray(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => 6 * r() - 3), s);
    const [a, b] = await both(g, m.fetches, [
      [m.x, f([96, 40])],
      [m.bias, f([40])],
      [m.scale, f([96, 1])],
    ]);
    a.forEach((t, i) => close(t, b[i]!));
  });

  it('a small MLP training step: same variables after the step', async () => {
    setFusedWasm({ minElements: 1024 });
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [64, 30], 'x');
      const y = tf.placeholder('int32', [64], 'y');
      const w1 = new tf.Variable(tf.constant(new tf.NDArray(Float32Array.from({ length: 30 * 50 }, (_, i) => Math.sin(i) * 0.2), [30, 50])), { name: 'w1' });
      const w2 = new tf.Variable(tf.constant(new tf.NDArray(Float32Array.from({ length: 50 * 10 }, (_, i) => Math.cos(i) * 0.2), [50, 10])), { name: 'w2' });
      const h = tf.tanh(tf.matmul(x, w1));
      const logits = tf.matmul(tf.nn.elu(h), w2);
      const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
      return { x, y, loss, train: new tf.train.GradientDescentOptimizer(0.1).minimize(loss), init: tf.globalVariablesInitializer(), w1 };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const xs = new tf.NDArray(Float32Array.from({ length: 64 * 30 }, (_, i) => Math.sin(i * 0.37)), [64, 30]);
    const ys = new tf.NDArray(Int32Array.from({ length: 64 }, (_, i) => i % 10), [64]);
    // Each run is checked against the unoptimized plan by the session (WEIR_VERIFY_OPT).
    let last = Infinity;
    for (let i = 0; i < 3; i++) {
      const [l] = await sess.run([m.loss, m.train], [
        [m.x, xs],
        [m.y, ys],
      ]);
      expect(l!.data[0]).toBeLessThan(last);
      last = l!.data[0] as number;
    }
    sess.close();
  });
});
