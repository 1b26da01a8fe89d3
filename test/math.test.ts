import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';
import { expectClose, fromTfjs, randomArray, run, tfjs } from './helpers.js';

type Tfjs = Awaited<ReturnType<typeof tfjs>>;
type TfjsTensor = ReturnType<Tfjs['tensor']>;

/** Builds fetches in a fresh graph and runs them. */
async function runIn<T extends tf.Tensor | tf.Tensor[]>(build: () => T, feeds?: tf.FeedDict): Promise<tf.NDArray[]> {
  const g = new tf.Graph();
  const out = g.asDefault(build);
  const fetches = Array.isArray(out) ? out : [out];
  return (await run(fetches, feeds, g)) as tf.NDArray[];
}

async function run1(build: () => tf.Tensor, feeds?: tf.FeedDict): Promise<tf.NDArray> {
  return (await runIn(build, feeds))[0]!;
}

function toTfjs(t: Tfjs, a: tf.NDArray): TfjsTensor {
  if (a.dtype === 'int64') return t.tensor(Int32Array.from(a.data as BigInt64Array, Number), a.shape, 'int32');
  if (a.dtype === 'bool') return t.tensor(a.data as Uint8Array, a.shape, 'bool');
  return t.tensor(a.data as Float32Array | Int32Array, a.shape, a.dtype as 'float32' | 'int32');
}

/** Exact comparison of integer and bool results (int64 compared by value). */
function expectEqualValues(actual: tf.NDArray, expected: tf.NDArray, dtype?: DType): void {
  expect(actual.shape).toEqual(expected.shape);
  if (dtype) expect(actual.dtype).toBe(dtype);
  expect(Array.from(actual.data as ArrayLike<number | bigint>, Number)).toEqual(Array.from(expected.data as ArrayLike<number | bigint>, Number));
}

function broadcast(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const da = a[i - (n - a.length)] ?? 1;
    const db = b[i - (n - b.length)] ?? 1;
    return da === 1 ? db : da;
  });
}

function int64(a: tf.NDArray): tf.NDArray {
  return new tf.NDArray(BigInt64Array.from(a.data as Int32Array, (v) => BigInt(v)), a.shape, 'int64');
}

/** Values away from zero, with random signs. */
function awayFromZero(shape: number[], seed: number, lo = 0.3, hi = 2): tf.NDArray {
  const mag = randomArray(shape, { seed, min: lo, max: hi });
  const sgn = randomArray(shape, { seed: seed + 1000, dtype: 'bool' });
  const d = mag.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (sgn.data[i]) d[i] = -d[i]!;
  return mag;
}

const BROADCAST_CASES: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 1, 3], [4, 1]],
  [[], [3, 2]],
  [[3, 2], []],
  [[4, 1], [1, 5]],
  [[2, 3, 4], [3, 1]],
  [[1, 3], [2, 1, 1, 3]],
  [[0, 3], [1, 3]],
  [[2, 0], [2, 1]],
];

describe('binary elementwise ops against tfjs', () => {
  type BinCase = {
    api: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
    oracle: (t: Tfjs, a: TfjsTensor, b: TfjsTensor) => TfjsTensor;
    /** input generator for float tests */
    gen?: (shape: number[], seed: number, which: 0 | 1) => tf.NDArray;
    bool?: boolean;
  };
  const cases: Record<string, BinCase> = {
    AddV2: { api: tf.add, oracle: (t, a, b) => t.add(a, b) },
    Sub: { api: tf.subtract, oracle: (t, a, b) => t.sub(a, b) },
    Mul: { api: tf.multiply, oracle: (t, a, b) => t.mul(a, b) },
    RealDiv: { api: tf.divide, oracle: (t, a, b) => t.div(a, b), gen: (s, seed, w) => (w ? awayFromZero(s, seed) : randomArray(s, { seed })) },
    FloorDiv: { api: tf.floorDiv, oracle: (t, a, b) => t.floorDiv(a, b), gen: (s, seed, w) => (w ? awayFromZero(s, seed) : randomArray(s, { seed, min: -5, max: 5 })) },
    FloorMod: { api: tf.floorMod, oracle: (t, a, b) => t.mod(a, b), gen: (s, seed, w) => (w ? awayFromZero(s, seed) : randomArray(s, { seed, min: -5, max: 5 })) },
    Pow: { api: tf.pow, oracle: (t, a, b) => t.pow(a, b), gen: (s, seed, w) => randomArray(s, { seed, min: w ? -2 : 0.1, max: w ? 2 : 3 }) },
    Maximum: { api: tf.maximum, oracle: (t, a, b) => t.maximum(a, b) },
    Minimum: { api: tf.minimum, oracle: (t, a, b) => t.minimum(a, b) },
    SquaredDifference: { api: tf.squaredDifference, oracle: (t, a, b) => t.squaredDifference(a, b) },
    Equal: { api: tf.equal, oracle: (t, a, b) => t.equal(a, b), bool: true },
    NotEqual: { api: tf.notEqual, oracle: (t, a, b) => t.notEqual(a, b), bool: true },
    Less: { api: tf.less, oracle: (t, a, b) => t.less(a, b), bool: true },
    LessEqual: { api: tf.lessEqual, oracle: (t, a, b) => t.lessEqual(a, b), bool: true },
    Greater: { api: tf.greater, oracle: (t, a, b) => t.greater(a, b), bool: true },
    GreaterEqual: { api: tf.greaterEqual, oracle: (t, a, b) => t.greaterEqual(a, b), bool: true },
  };

  for (const [type, c] of Object.entries(cases)) {
    it(`${type}: float32 with broadcasting`, async () => {
      const t = await tfjs();
      let seed = 10;
      for (const [sa, sb] of BROADCAST_CASES) {
        const gen = c.gen ?? ((s: number[], sd: number) => randomArray(s, { seed: sd }));
        const a = gen(sa, seed++, 0);
        const b = gen(sb, seed++, 1);
        // Equalities need some equal pairs to mean anything.
        if (c.bool && a.size && b.size) (a.data as Float32Array)[0] = (b.data as Float32Array)[0]!;
        const out = await run1(() => c.api(tf.constant(a), tf.constant(b)));
        const want = await fromTfjs(c.oracle(t, toTfjs(t, a), toTfjs(t, b)));
        expect(out.dtype).toBe(c.bool ? 'bool' : 'float32');
        expectClose(out, want, { rtol: 1e-5 });
      }
    });
  }

  const intCases = ['AddV2', 'Sub', 'Mul', 'FloorDiv', 'FloorMod', 'Maximum', 'Minimum', 'SquaredDifference', 'Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Pow'];
  for (const type of intCases) {
    it(`${type}: int32 and int64`, async () => {
      const t = await tfjs();
      const c = cases[type]!;
      let seed = 100;
      for (const [sa, sb] of BROADCAST_CASES) {
        const a = randomArray(sa, { seed: seed++, dtype: 'int32', min: type === 'Pow' ? -3 : -20, max: type === 'Pow' ? 4 : 20 });
        const b = randomArray(sb, { seed: seed++, dtype: 'int32', min: type === 'Pow' ? 0 : -6, max: type === 'Pow' ? 4 : 7 });
        if (type === 'FloorDiv' || type === 'FloorMod') {
          const bd = b.data as Int32Array;
          for (let i = 0; i < bd.length; i++) if (bd[i] === 0) bd[i] = 3;
        }
        const want = await fromTfjs(c.oracle(t, toTfjs(t, a), toTfjs(t, b)));
        const out32 = await run1(() => c.api(tf.constant(a), tf.constant(b)));
        expectEqualValues(out32, want, c.bool ? 'bool' : 'int32');
        const out64 = await run1(() => c.api(tf.constant(int64(a)), tf.constant(int64(b))));
        expectEqualValues(out64, want, c.bool ? 'bool' : 'int64');
      }
    });
  }

  it('int32 arithmetic wraps at 32 bits like TF', async () => {
    const big = tf.NDArray.from([2147483647, 65536, -2147483648], 'int32');
    const [s, m] = await runIn(() => [tf.add(tf.constant(big), 1), tf.multiply(tf.constant(big), 65536)]);
    expect(Array.from(s!.data as Int32Array)).toEqual([-2147483648, 65537, -2147483647]);
    expect(Array.from(m!.data as Int32Array)).toEqual([-65536, 0, 0]);
  });

  it('int64 keeps values beyond 2^53 exact', async () => {
    const x = tf.NDArray.from([2n ** 60n + 1n, -(2n ** 62n)], 'int64');
    const [s, p, lt] = await runIn(() => [tf.add(tf.constant(x), tf.constant(x)), tf.multiply(tf.constant(x), 2), tf.less(tf.constant(x), 0)]);
    expect(Array.from(s!.data as BigInt64Array)).toEqual([2n ** 61n + 2n, -(2n ** 63n)]);
    expect(Array.from(p!.data as BigInt64Array)).toEqual([2n ** 61n + 2n, -(2n ** 63n)]);
    expect(Array.from(lt!.data as Uint8Array)).toEqual([0, 1]);
  });

  it('FloorMod and FloorDiv follow the sign of the divisor (floats)', async () => {
    const x = tf.NDArray.from([-7, 7, -7, 7, 5.5]);
    const y = tf.NDArray.from([3, -3, -3, 3, 2]);
    const [q, r] = await runIn(() => [tf.floorDiv(tf.constant(x), tf.constant(y)), tf.mod(tf.constant(x), tf.constant(y))]);
    expectClose(q!, [-3, -3, 2, 2, 2]);
    expectClose(r!, [2, -2, -1, 1, 1.5]);
  });

  it('integer division by zero is an InvalidArgumentError at run time', async () => {
    for (const f of [tf.floorDiv, tf.floorMod]) {
      await expect(run1(() => f(tf.constant(tf.NDArray.from([1, 2], 'int32')), tf.constant(tf.NDArray.from([1, 0], 'int32'))))).rejects.toThrow(
        /Integer division by zero/,
      );
    }
  });

  it('integer Pow rejects negative exponents', async () => {
    await expect(run1(() => tf.pow(tf.constant(tf.NDArray.from([2], 'int32')), -1))).rejects.toBeInstanceOf(tf.errors.InvalidArgumentError);
  });

  it('bool: Equal, NotEqual, LogicalAnd, LogicalOr, LogicalNot', async () => {
    const t = await tfjs();
    let seed = 300;
    for (const [sa, sb] of BROADCAST_CASES) {
      const a = randomArray(sa, { seed: seed++, dtype: 'bool' });
      const b = randomArray(sb, { seed: seed++, dtype: 'bool' });
      const outs = await runIn(() => {
        const x = tf.constant(a);
        const y = tf.constant(b);
        return [tf.equal(x, y), tf.notEqual(x, y), tf.logicalAnd(x, y), tf.logicalOr(x, y), tf.logicalNot(x)];
      });
      const [ta, tb] = [toTfjs(t, a), toTfjs(t, b)];
      const wants = [t.equal(ta, tb), t.notEqual(ta, tb), t.logicalAnd(ta, tb), t.logicalOr(ta, tb), t.logicalNot(ta)];
      for (let i = 0; i < wants.length; i++) expectEqualValues(outs[i]!, await fromTfjs(wants[i]!), 'bool');
    }
  });

  it('Equal and NotEqual compare strings', async () => {
    const [eq, ne] = await runIn(() => {
      const a = tf.constant(['a', 'bc', 'bc']);
      const b = tf.constant(['a', 'b', 'bc']);
      return [tf.equal(a, b), tf.notEqual(a, tf.constant('bc'))];
    });
    expect(eq!.toFlat()).toEqual([true, false, true]);
    expect(ne!.toFlat()).toEqual([true, false, false]);
  });

  it('JS literals take the dtype of the tensor they meet', async () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const i = tf.constant(tf.NDArray.from([1, 2], 'int32'));
      expect(tf.add(i, 1).dtype).toBe('int32');
      expect(tf.add(2, i).dtype).toBe('int32');
      expect(tf.add(1, 2).dtype).toBe('float32');
      expect(tf.multiply(tf.constant(tf.NDArray.from([1n], 'int64')), 3).dtype).toBe('int64');
      expect(() => tf.add(i, 1.5)).toThrow(tf.errors.InvalidArgumentError);
    });
  });
});

describe('divide', () => {
  it('casts integer inputs to float32 first (TF would give float64)', async () => {
    const g = new tf.Graph();
    const q = g.asDefault(() => tf.divide(tf.constant(tf.NDArray.from([7, -7, 1], 'int32')), tf.constant(tf.NDArray.from([2, 2, 3], 'int32'))));
    expect(q.dtype).toBe('float32');
    expect(q.op.type).toBe('RealDiv');
    expect(q.op.name).toBe('truediv');
    expect(q.op.inputs.map((t) => t.op.name)).toEqual(['truediv/Cast', 'truediv/Cast_1']);
    expectClose((await run([q], undefined, g))[0]!, [3.5, -3.5, 1 / 3]);
  });
  it('int64 too', async () => {
    const out = await run1(() => tf.divide(tf.constant(tf.NDArray.from([9n], 'int64')), tf.constant(tf.NDArray.from([4n], 'int64'))));
    expect(out.dtype).toBe('float32');
    expectClose(out, [2.25]);
  });
});

describe('unary elementwise ops against tfjs', () => {
  const halves = tf.NDArray.from([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, 3.7, -3.2, 0]);
  const cases: [string, (x: tf.Tensor) => tf.Tensor, (t: Tfjs, x: TfjsTensor) => TfjsTensor, { min?: number; max?: number; int?: boolean; extra?: tf.NDArray }][] = [
    ['Neg', tf.negative, (t, x) => t.neg(x), { int: true }],
    ['Square', tf.square, (t, x) => t.square(x), { int: true }],
    ['Sqrt', tf.sqrt, (t, x) => t.sqrt(x), { min: 0, max: 4 }],
    ['Rsqrt', tf.rsqrt, (t, x) => t.rsqrt(x), { min: 0.1, max: 4 }],
    ['Exp', tf.exp, (t, x) => t.exp(x), { min: -5, max: 5 }],
    ['Log', tf.log, (t, x) => t.log(x), { min: 0.01, max: 5 }],
    ['Log1p', tf.log1p, (t, x) => t.log1p(x), { min: -0.9, max: 5 }],
    ['Abs', tf.abs, (t, x) => t.abs(x), { int: true }],
    ['Sign', tf.sign, (t, x) => t.sign(x), { int: true, extra: tf.NDArray.from([0, -0, 3, -2]) }],
    ['Reciprocal', tf.reciprocal, (t, x) => t.reciprocal(x), {}],
    ['Floor', tf.floor, (t, x) => t.floor(x), { min: -5, max: 5, extra: halves }],
    ['Ceil', tf.ceil, (t, x) => t.ceil(x), { min: -5, max: 5, extra: halves }],
    ['Round', tf.round, (t, x) => t.round(x), { min: -5, max: 5, extra: halves }],
    ['Sigmoid', tf.sigmoid, (t, x) => t.sigmoid(x), { min: -8, max: 8 }],
    ['Tanh', tf.tanh, (t, x) => t.tanh(x), { min: -4, max: 4 }],
  ];
  for (const [type, api, oracle, o] of cases) {
    it(`${type}`, async () => {
      const t = await tfjs();
      const inputs = [[2, 3], [], [0, 4], [5, 1, 2]].map((s, i) => randomArray(s, { seed: 40 + i, min: o.min ?? -3, max: o.max ?? 3 }));
      if (o.extra) inputs.push(o.extra);
      for (const a of inputs) {
        const out = await run1(() => api(tf.constant(a)));
        expectClose(out, await fromTfjs(oracle(t, toTfjs(t, a))), { rtol: 2e-5 });
      }
      if (o.int) {
        const a = randomArray([3, 4], { seed: 7, dtype: 'int32', min: -50, max: 50 });
        const want = await fromTfjs(oracle(t, toTfjs(t, a)));
        expectEqualValues(await run1(() => api(tf.constant(a))), want, 'int32');
        expectEqualValues(await run1(() => api(tf.constant(int64(a)))), want, 'int64');
      }
    });
  }

  it('Round is banker\'s rounding; round of an integer tensor is the tensor itself', async () => {
    expectClose(await run1(() => tf.round(tf.constant([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5]))), [-2, -2, -0, 0, 2, 2, 4]);
    const g = new tf.Graph();
    g.asDefault(() => {
      const i = tf.constant(tf.NDArray.from([1, 2], 'int32'));
      expect(tf.round(i)).toBe(i);
    });
  });

  it('LogicalNot and logical ops reject non-bool inputs', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => tf.logicalNot(tf.constant([1, 2]))).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.logicalAnd(tf.constant([true]), tf.constant([1]))).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.sqrt(tf.constant(tf.NDArray.from([1], 'int32')))).toThrow(/Sqrt/);
    });
  });
});

describe('gradient helper ops', () => {
  const cases: [string, (t: Tfjs, y: TfjsTensor, dy: TfjsTensor) => TfjsTensor][] = [
    ['SigmoidGrad', (t, y, dy) => t.mul(dy, t.mul(y, t.sub(1, y)))],
    ['TanhGrad', (t, y, dy) => t.mul(dy, t.sub(1, t.square(y)))],
    ['SqrtGrad', (t, y, dy) => t.div(t.mul(dy, 0.5), y)],
    ['RsqrtGrad', (t, y, dy) => t.mul(t.mul(dy, -0.5), t.pow(y, 3))],
    ['ReciprocalGrad', (t, y, dy) => t.neg(t.mul(dy, t.square(y)))],
  ];
  for (const [type, oracle] of cases) {
    it(`${type}(y, dy) against its formula`, async () => {
      const t = await tfjs();
      const y = randomArray([3, 4], { seed: 5, min: 0.2, max: 0.9 });
      const dy = randomArray([3, 4], { seed: 6 });
      const out = await run1(() => tf.getDefaultGraph().createOp(type, [tf.constant(y), tf.constant(dy)], { T: 'float32' }).outputs[0]!);
      expectClose(out, await fromTfjs(oracle(t, toTfjs(t, y), toTfjs(t, dy))));
    });
  }
  it('need equal shapes', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => g.createOp('TanhGrad', [tf.constant([1, 2]), tf.constant([1, 2, 3])], { T: 'float32' })).toThrow(/TanhGrad/);
    });
  });
});

describe('where (SelectV2) and Select', () => {
  it('SelectV2 broadcasts condition, x and y', async () => {
    const t = await tfjs();
    const cases: [number[], number[], number[]][] = [
      [[2, 3], [2, 3], [2, 3]],
      [[2, 1], [1, 3], [2, 3]],
      [[], [2, 3], [3]],
      [[3], [2, 1], []],
      [[1, 1, 3], [2, 1, 1], [3]],
    ];
    let seed = 500;
    for (const [sc, sx, sy] of cases) {
      const c = randomArray(sc, { seed: seed++, dtype: 'bool' });
      const x = randomArray(sx, { seed: seed++ });
      const y = randomArray(sy, { seed: seed++ });
      const out = await run1(() => tf.where(tf.constant(c), tf.constant(x), tf.constant(y)));
      expectClose(out, await fromTfjs(t.where(toTfjs(t, c), toTfjs(t, x), toTfjs(t, y))));
    }
  });

  it('size-0 dims', async () => {
    const out = await run1(() => tf.where(tf.constant(tf.NDArray.zeros([0, 3], 'bool')), tf.constant(randomArray([1, 3])), tf.constant(randomArray([3]))));
    expect(out.shape).toEqual([0, 3]);
  });

  it('selects int32, int64, bool and string values too', async () => {
    const c = tf.NDArray.from([true, false, true]);
    const outs = await runIn(() => [
      tf.where(tf.constant(c), tf.constant(tf.NDArray.from([1, 2, 3], 'int32')), 0),
      tf.where(tf.constant(c), tf.constant(tf.NDArray.from([1n, 2n, 3n], 'int64')), tf.constant(tf.NDArray.from([-1n], 'int64'))),
      tf.where(tf.constant(c), tf.constant([true, true, true]), tf.constant([false, false, false])),
      tf.where(tf.constant(c), tf.constant(['a', 'b', 'c']), tf.constant(['x'])),
    ]);
    expect(outs.map((o) => o.toFlat())).toEqual([
      [1, 0, 3],
      [1n, -1n, 3n],
      [true, false, true],
      ['a', 'x', 'c'],
    ]);
  });

  it('Select (v1) takes a vector condition that picks rows, or a scalar', async () => {
    const x = randomArray([3, 2], { seed: 1 });
    const y = randomArray([3, 2], { seed: 2 });
    const [rows, all] = await runIn(() => {
      const g = tf.getDefaultGraph();
      const sel = (c: tf.Tensor) => g.createOp('Select', [c, tf.constant(x), tf.constant(y)], { T: 'float32' }).outputs[0]!;
      return [sel(tf.constant([true, false, true])), sel(tf.constant(false))];
    });
    const xd = x.data as Float32Array;
    const yd = y.data as Float32Array;
    expectClose(rows!, [xd[0]!, xd[1]!, yd[2]!, yd[3]!, xd[4]!, xd[5]!]);
    expectClose(all!, y);
  });

  it('shape errors name the op', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => tf.where(tf.constant([true, false]), tf.constant([1, 2, 3]), 0)).toThrow(/SelectV2/);
      expect(() => tf.where(tf.constant([1, 0]), tf.constant([1, 2]), 0)).toThrow(/condition/);
      expect(() => g.createOp('Select', [tf.constant([true, false]), tf.constant([[1, 2, 3]]), tf.constant([[1, 2, 3]])], { T: 'float32' })).toThrow(/Select/);
    });
  });
});

describe('Cast', () => {
  it('float to int truncates toward zero; NaN and out-of-range give INT_MIN as TF on x86', async () => {
    const x = tf.NDArray.from([1.7, -1.7, 0.2, -0.2, 3e9, NaN, -3e9]);
    const [i32, i64] = await runIn(() => [tf.cast(tf.constant(x), 'int32'), tf.cast(tf.constant(x), 'int64')]);
    expect(Array.from(i32!.data as Int32Array)).toEqual([1, -1, 0, 0, -2147483648, -2147483648, -2147483648]);
    expect(Array.from(i64!.data as BigInt64Array)).toEqual([1n, -1n, 0n, 0n, 3000000000n, -(2n ** 63n), -3000000000n]);
  });

  it('against tfjs for float, int32 and bool', async () => {
    const t = await tfjs();
    const f = randomArray([3, 4], { seed: 3, min: -4, max: 4 });
    (f.data as Float32Array)[0] = 0;
    const i = randomArray([3, 4], { seed: 4, dtype: 'int32', min: -3, max: 3 });
    const b = randomArray([3, 4], { seed: 5, dtype: 'bool' });
    const pairs: [tf.NDArray, DType][] = [
      [f, 'int32'], [f, 'bool'], [i, 'float32'], [i, 'bool'], [b, 'float32'], [b, 'int32'],
    ];
    for (const [x, to] of pairs) {
      const out = await run1(() => tf.cast(tf.constant(x), to));
      expect(out.dtype).toBe(to);
      expectEqualValues(out, await fromTfjs(t.cast(toTfjs(t, x), to as 'float32' | 'int32' | 'bool')));
    }
  });

  it('int64 to and from other dtypes', async () => {
    const x = tf.NDArray.from([2n ** 40n + 3n, -5n, 0n], 'int64');
    const [i32, f32, b] = await runIn(() => [tf.cast(tf.constant(x), 'int32'), tf.cast(tf.constant(x), 'float32'), tf.cast(tf.constant(x), 'bool')]);
    expect(Array.from(i32!.data as Int32Array)).toEqual([3, -5, 0]);
    expectClose(f32!, [2 ** 40, -5, 0]);
    expect(b!.toFlat()).toEqual([true, true, false]);
    const back = await run1(() => tf.cast(tf.constant(tf.NDArray.from([7, -8], 'int32')), 'int64'));
    expect(Array.from(back.data as BigInt64Array)).toEqual([7n, -8n]);
  });

  it('casting to the same dtype returns the tensor; the op records SrcT, DstT, Truncate', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.constant([1, 2]);
      expect(tf.cast(x, 'float32')).toBe(x);
      const c = tf.cast(x, 'int32');
      expect(c.op.type).toBe('Cast');
      expect(c.op.attrs).toMatchObject({ SrcT: 'float32', DstT: 'int32', Truncate: false });
      expect(() => g.createOp('Cast', [x], { SrcT: 'int32', DstT: 'float32', Truncate: false })).toThrow(/SrcT/);
    });
  });

  it('gradient flows through float casts only', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [3]);
      const viaInt = tf.cast(tf.cast(x, 'int32'), 'float32');
      expect(tf.gradients(tf.reduceSum(viaInt), [x])[0]).toBeNull();
    });
  });
});

describe('AddN', () => {
  it('against tfjs, float32 and int32', async () => {
    const t = await tfjs();
    for (const dtype of ['float32', 'int32'] as const) {
      const xs = [0, 1, 2, 3].map((s) => randomArray([2, 3], { seed: 60 + s, dtype, min: -9, max: 9 }));
      const out = await run1(() => tf.addN(xs.map((x) => tf.constant(x))));
      expectClose(out, await fromTfjs(t.addN(xs.map((x) => toTfjs(t, x)))));
      expect(out.dtype).toBe(dtype);
    }
  });
  it('a single input is passed through; empty lists and mismatched shapes throw', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.constant([1, 2]);
      expect(tf.addN([x])).toBe(x);
      expect(tf.addN([x], 'named').op.name).toBe('named');
      expect(() => tf.addN([])).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.addN([x, tf.constant([1, 2, 3])])).toThrow(/AddN/);
      const s = tf.addN([x, x, [3, 4]]);
      expect(s.op.attrs).toMatchObject({ N: 3, T: 'float32' });
    });
  });
  it('merges partial shapes and is the gradient aggregator', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = tf.placeholder('float32', [null, 3]);
      const b = tf.placeholder('float32', [2, null]);
      expect(tf.addN([a, b]).shape).toEqual([2, 3]);
      const x = tf.placeholder('float32', [2]);
      const [gx] = tf.gradients(tf.add(tf.multiply(x, 2), tf.multiply(x, 3)), [x]);
      expect(gx!.op.type).toBe('AddN');
    });
  });
});

describe('BroadcastGradientArgs', () => {
  const cases: [number[], number[], number[], number[]][] = [
    [[2, 3, 5], [1], [], [0, 1, 2]],
    [[2, 1, 3], [4, 1], [1], [0, 2]],
    [[2, 3], [2, 3], [], []],
    [[1, 1], [1], [0, 1], [0, 1]],
    [[5, 1], [1, 7], [1], [0]],
    [[], [2, 2], [0, 1], []],
    [[0, 3], [3], [], [0]],
  ];
  for (const [s0, s1, r0, r1] of cases) {
    it(`${JSON.stringify(s0)} and ${JSON.stringify(s1)}`, async () => {
      for (const dtype of ['int32', 'int64'] as const) {
        const [a, b] = await runIn(() => {
          const op = tf.getDefaultGraph().createOp('BroadcastGradientArgs', [tf.constant(tf.NDArray.from(s0, dtype, [s0.length])), tf.constant(tf.NDArray.from(s1, dtype, [s1.length]))], { T: dtype });
          return op.outputs;
        });
        expect(a!.dtype).toBe(dtype);
        expect(Array.from(a!.data as ArrayLike<number | bigint>, Number)).toEqual(r0);
        expect(Array.from(b!.data as ArrayLike<number | bigint>, Number)).toEqual(r1);
      }
    });
  }
  it('rejects incompatible shapes', async () => {
    await expect(
      runIn(() => tf.getDefaultGraph().createOp('BroadcastGradientArgs', [tf.constant(tf.NDArray.from([2, 3], 'int32')), tf.constant(tf.NDArray.from([4], 'int32'))], { T: 'int32' }).outputs),
    ).rejects.toThrow(/Incompatible shapes/);
  });
});

describe('matmul', () => {
  const shapes: [number, number, number][] = [
    [2, 3, 4],
    [1, 1, 1],
    [13, 17, 9],
    [5, 300, 260],
    [7, 2, 1],
    [0, 3, 4],
    [3, 0, 4],
    [3, 4, 0],
  ];
  for (const [m, k, n] of shapes) {
    it(`MatMul ${m}x${k} by ${k}x${n}, all transpose combinations`, async () => {
      const t = await tfjs();
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = randomArray(ta ? [k, m] : [m, k], { seed: m + k });
          const b = randomArray(tb ? [n, k] : [k, n], { seed: k + n + 1 });
          const out = await run1(() => tf.matmul(tf.constant(a), tf.constant(b), { transposeA: ta, transposeB: tb }));
          const want = await fromTfjs(t.matMul(toTfjs(t, a), toTfjs(t, b), ta, tb));
          expectClose(out, want, { atol: 1e-4, rtol: 1e-4 });
        }
      }
    });
  }

  it('MatMul on int32, all transpose combinations', async () => {
    const t = await tfjs();
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = randomArray(ta ? [5, 4] : [4, 5], { seed: 1, dtype: 'int32', min: -9, max: 9 });
        const b = randomArray(tb ? [3, 5] : [5, 3], { seed: 2, dtype: 'int32', min: -9, max: 9 });
        const out = await run1(() => tf.matmul(tf.constant(a), tf.constant(b), { transposeA: ta, transposeB: tb }));
        expectEqualValues(out, await fromTfjs(t.matMul(toTfjs(t, a), toTfjs(t, b), ta, tb)), 'int32');
      }
    }
  });

  it('BatchMatMulV2 broadcasts batch dims, with adjoints', async () => {
    const t = await tfjs();
    const cases: [number[], number[]][] = [
      [[2, 3, 4], [2, 4, 5]],
      [[2, 3, 4], [4, 5]],
      [[3, 4], [2, 4, 5]],
      [[2, 1, 3, 4], [5, 4, 2]],
      [[1, 2, 3], [3, 3, 2]],
      [[0, 2, 3], [3, 2]],
    ];
    let seed = 70;
    for (const [sa, sb] of cases) {
      for (const ax of [false, true]) {
        for (const ay of [false, true]) {
          const swap = (s: number[], f: boolean) => (f ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
          const a = randomArray(swap(sa, ax), { seed: seed++ });
          const b = randomArray(swap(sb, ay), { seed: seed++ });
          const y = await run1(() => {
            const r = tf.matmul(tf.constant(a), tf.constant(b), { adjointA: ax, adjointB: ay });
            expect(r.op.type).toBe('BatchMatMulV2');
            expect(r.op.attrs).toMatchObject({ adj_x: ax, adj_y: ay });
            return r;
          });
          // tfjs's own batch broadcasting is unreliable: broadcast both to the full batch shape first.
          const batch = broadcast(sa.slice(0, -2), sb.slice(0, -2));
          if (batch.includes(0)) {
            expect(y.shape).toEqual([...batch, sa[sa.length - 2], sb[sb.length - 1]]);
            continue;
          }
          const full = (x: tf.NDArray) => t.broadcastTo(toTfjs(t, x), [...batch, ...x.shape.slice(-2)]);
          expectClose(y, await fromTfjs(t.matMul(full(a), full(b), ax, ay)), { atol: 1e-5 });
        }
      }
    }
  });

  it('shape functions: static, partial and unknown shapes', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = tf.placeholder('float32', [null, 3]);
      const b = tf.placeholder('float32', [3, null]);
      expect(tf.matmul(a, b).shape).toEqual([null, null]);
      expect(tf.matmul(a, tf.placeholder('float32', [5, 3]), { transposeB: true }).shape).toEqual([null, 5]);
      expect(tf.matmul(tf.placeholder('float32', [4, 2]), tf.placeholder('float32', [4, 6]), { transposeA: true }).shape).toEqual([2, 6]);
      const u = tf.matmul(tf.placeholder('float32'), b);
      expect(u.op.type).toBe('BatchMatMulV2');
      expect(u.shape).toBeNull();
      expect(tf.matmul(tf.placeholder('float32', [2, 1, 3, 4]), tf.placeholder('float32', [5, 4, 6])).shape).toEqual([2, 5, 3, 6]);
      expect(tf.matmul(tf.placeholder('float32', [null, 3, 4]), tf.placeholder('float32', [4, null])).shape).toEqual([null, 3, null]);
    });
  });

  it('mismatched inner dimensions throw InvalidArgumentError at construction, naming MatMul', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = tf.constant(randomArray([2, 3]));
      const b = tf.constant(randomArray([4, 5]));
      let err: unknown;
      try {
        tf.matmul(a, b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect((err as Error).message).toMatch(/MatMul/);
      expect((err as Error).message).toMatch(/3 and 4/);
      expect(() => tf.matmul(a, tf.constant(randomArray([3]))))
        .toThrow(/rank 2/);
      expect(() => tf.matmul(a, tf.constant(tf.NDArray.from([[1], [2], [3]], 'int32')))).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.matmul(tf.placeholder('float32', [2, 2, 3]), tf.placeholder('float32', [3, 3, 4]))).toThrow(/batch/);
      expect(() => tf.matmul(tf.constant(tf.NDArray.from([[true]])), tf.constant(tf.NDArray.from([[true]])))).toThrow(/MatMul/);
    });
  });

  it('mismatched dynamic shapes fail at run time naming the op', async () => {
    const g = new tf.Graph();
    const { a, b, y } = g.asDefault(() => {
      const a = tf.placeholder('float32', [null, null]);
      const b = tf.placeholder('float32', [null, null]);
      return { a, b, y: tf.matmul(a, b) };
    });
    await expect(run([y], [[a, randomArray([2, 3])], [b, randomArray([4, 2])]], g)).rejects.toThrow(/MatMul.*incompatible inner dimensions/);
  });

  it('op names and attrs follow TF', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const y = tf.matmul(tf.constant([[1, 2]]), tf.constant([[1], [2]]), { transposeA: false });
      expect(y.op.name).toBe('MatMul');
      expect(y.op.type).toBe('MatMul');
      expect(y.op.attrs).toEqual({ T: 'float32', transpose_a: false, transpose_b: false });
      expect(tf.matmul([[1, 2]], [[1], [2]], { name: 'mm' }).op.inputs.map((t) => t.op.name)).toEqual(['mm/a', 'mm/b']);
    });
  });
});

describe('reductions against tfjs', () => {
  const ops: [string, typeof tf.reduceSum, (t: Tfjs, x: TfjsTensor, axis: number | number[] | undefined, keep: boolean) => TfjsTensor][] = [
    ['Sum', tf.reduceSum, (t, x, a, k) => t.sum(x, a, k)],
    ['Mean', tf.reduceMean, (t, x, a, k) => t.mean(x, a, k)],
    ['Max', tf.reduceMax, (t, x, a, k) => t.max(x, a, k)],
    ['Min', tf.reduceMin, (t, x, a, k) => t.min(x, a, k)],
    ['Prod', tf.reduceProd, (t, x, a, k) => t.prod(x, a, k)],
  ];
  const axesCases: (number | number[] | undefined)[] = [undefined, 0, 1, -1, [0, 2], [-1, 0], [1, 2], [0, 1, 2], []];
  for (const [type, api, oracle] of ops) {
    it(`${type} over all kinds of axes, with and without keepdims`, async () => {
      const t = await tfjs();
      const x = randomArray([2, 3, 4], { seed: 80, min: 0.5, max: 1.5 });
      for (const axis of axesCases) {
        for (const keep of [false, true]) {
          const out = await run1(() => {
            const r = api(tf.constant(x), axis, keep);
            expect(r.op.type).toBe(type);
            return r;
          });
          const want = axis !== undefined && Array.isArray(axis) && axis.length === 0 ? x : await fromTfjs(oracle(t, toTfjs(t, x), axis, keep));
          expectClose(out, want, { rtol: 1e-5 });
        }
      }
    });

    it(`${type} on int32, int64 and size-1 / vector inputs`, async () => {
      const t = await tfjs();
      const x = randomArray([3, 1, 4], { seed: 81, dtype: 'int32', min: -4, max: 5 });
      for (const axis of [undefined, 0, 2, [0, 2], -2]) {
        let want = await fromTfjs(oracle(t, toTfjs(t, x), axis, false));
        if (type === 'Mean') {
          // Integer mean truncates toward zero, as TF (tfjs returns a float mean).
          const sum = await fromTfjs(t.sum(toTfjs(t, x), axis));
          const count = x.size / sum.size;
          want = new tf.NDArray(Int32Array.from(sum.data as Int32Array, (v) => Math.trunc(v / count)), sum.shape);
        }
        expectEqualValues(await run1(() => api(tf.constant(x), axis)), want, 'int32');
        expectEqualValues(await run1(() => api(tf.constant(int64(x)), axis)), want, 'int64');
      }
      const v = randomArray([7], { seed: 82 });
      expectClose(await run1(() => api(tf.constant(v), 0)), await fromTfjs(oracle(t, toTfjs(t, v), 0, false)));
    });
  }

  it('large rows and columns (the fast paths)', async () => {
    const t = await tfjs();
    const x = randomArray([64, 300], { seed: 83 });
    for (const [api, oracle] of [[tf.reduceSum, (a: TfjsTensor, ax: number) => t.sum(a, ax)], [tf.reduceMax, (a: TfjsTensor, ax: number) => t.max(a, ax)]] as const) {
      for (const axis of [0, 1]) {
        expectClose(await run1(() => api(tf.constant(x), axis)), await fromTfjs(oracle(toTfjs(t, x), axis)), { atol: 1e-4 });
      }
    }
  });

  it('empty reductions give the identity element, as TF', async () => {
    const x = tf.NDArray.zeros([0, 3]);
    const outs = await runIn(() => [
      tf.reduceSum(tf.constant(x), 0),
      tf.reduceProd(tf.constant(x), 0),
      tf.reduceMax(tf.constant(x), 0),
      tf.reduceMin(tf.constant(x), 0),
      tf.reduceMean(tf.constant(x), 0),
      tf.reduceSum(tf.constant(x), 1),
    ]);
    expectClose(outs[0]!, [0, 0, 0]);
    expectClose(outs[1]!, [1, 1, 1]);
    expectClose(outs[2]!, [-Infinity, -Infinity, -Infinity]);
    expectClose(outs[3]!, [Infinity, Infinity, Infinity]);
    expectClose(outs[4]!, [NaN, NaN, NaN]);
    expect(outs[5]!.shape).toEqual([0]);
    const mx = await run1(() => tf.reduceMax(tf.constant(tf.NDArray.zeros([0], 'int32')), 0));
    expect(Array.from(mx.data as Int32Array)).toEqual([-2147483648]);
  });

  it('Max and Min propagate NaN', async () => {
    const outs = await runIn(() => [tf.reduceMax(tf.constant([1, NaN, 3])), tf.reduceMin(tf.constant([[1, 2], [NaN, 0]]), 1)]);
    expectClose(outs[0]!, [NaN]);
    expectClose(outs[1]!, [1, NaN]);
  });

  it('int Mean truncates like TF', async () => {
    const out = await run1(() => tf.reduceMean(tf.constant(tf.NDArray.from([[1, 2], [-3, -4]], 'int32')), 1));
    expect(Array.from(out.data as Int32Array)).toEqual([1, -3]);
  });

  it('axes given as a tensor (also fed at run time)', async () => {
    const x = randomArray([2, 3, 4], { seed: 84 });
    const t = await tfjs();
    const g = new tf.Graph();
    const { ax, y, yk } = g.asDefault(() => {
      const ax = tf.placeholder('int32', [null]);
      return { ax, y: tf.reduceSum(tf.constant(x), ax), yk: tf.reduceMax(tf.constant(x), ax, true) };
    });
    expect(y.shape).toBeNull();
    expect(yk.shape).toEqual([null, null, null]);
    const [s, m] = (await run([y, yk], [[ax, tf.NDArray.from([2, -3], 'int32')]], g)) as tf.NDArray[];
    expectClose(s!, await fromTfjs(t.sum(toTfjs(t, x), [0, 2])));
    expectClose(m!, await fromTfjs(t.max(toTfjs(t, x), [0, 2], true)));
    await expect(run([y], [[ax, tf.NDArray.from([1, -2], 'int32')]], g)).rejects.toThrow(/duplicate/);
    await expect(run([y], [[ax, tf.NDArray.from([3], 'int32')]], g)).rejects.toThrow(tf.errors.InvalidArgumentError);
  });

  it('reduces over all axes of an unknown-rank tensor (axes from Range(Rank(x)))', async () => {
    const g = new tf.Graph();
    const { u, s, m } = g.asDefault(() => {
      const u = tf.placeholder('float32');
      return { u, s: tf.reduceSum(u), m: tf.reduceMax(u, undefined, true) };
    });
    expect(s.op.inputs[1]!.op.type).toBe('Range');
    const x = randomArray([2, 3, 2], { seed: 85 });
    const t = await tfjs();
    const [sv, mv] = (await run([s, m], [[u, x]], g)) as tf.NDArray[];
    expectClose(sv!, await fromTfjs(t.sum(toTfjs(t, x))));
    expectClose(mv!, await fromTfjs(t.max(toTfjs(t, x), undefined, true)));
  });

  it('shape functions, names and errors', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3, 4]);
      expect(tf.reduceSum(x, 1).shape).toEqual([null, 4]);
      expect(tf.reduceSum(x, [-1, 0], true).shape).toEqual([1, 3, 1]);
      expect(tf.reduceMean(x).shape).toEqual([]);
      expect(tf.reduceMean(x, undefined, true).shape).toEqual([1, 1, 1]);
      expect(tf.reduceMax(x, []).shape).toEqual([null, 3, 4]);
      const u = tf.placeholder('float32');
      expect(tf.reduceSum(u, 0).shape).toBeNull();
      // Reducing over all axes of an unknown-rank tensor still gives a scalar.
      expect(tf.reduceSum(u).shape).toEqual([]);
      const s = tf.reduceSum(x, 1, false, 'total');
      expect(s.op.name).toBe('total');
      expect(s.op.inputs[1]!.op.name).toBe('total/reduction_indices');
      expect(s.op.attrs).toEqual({ keep_dims: false, T: 'float32', Tidx: 'int32' });
      expect(() => tf.reduceSum(x, 3)).toThrow(/Sum.*Invalid reduction dimension 3/);
      expect(() => tf.reduceSum(x, [1, -2])).toThrow(/duplicate/);
      expect(() => tf.reduceSum(tf.constant([true]))).toThrow(/Sum/);
    });
  });
});

describe('argmax / argmin', () => {
  it('against tfjs over every axis', async () => {
    const t = await tfjs();
    const x = randomArray([3, 4, 5], { seed: 90 });
    for (const axis of [0, 1, 2, -1, -3]) {
      for (const [api, oracle] of [[tf.argmax, t.argMax], [tf.argmin, t.argMin]] as const) {
        const out = await run1(() => api(tf.constant(x), axis));
        expect(out.dtype).toBe('int64');
        expectEqualValues(out, await fromTfjs(oracle(toTfjs(t, x), axis)));
        const out32 = await run1(() => api(tf.constant(x), axis, 'int32'));
        expect(out32.dtype).toBe('int32');
        expectEqualValues(out32, await fromTfjs(oracle(toTfjs(t, x), axis)));
      }
    }
    const xi = randomArray([4, 6], { seed: 91, dtype: 'int32', min: -100, max: 100 });
    expectEqualValues(await run1(() => tf.argmax(tf.constant(xi), 1)), await fromTfjs(t.argMax(toTfjs(t, xi), 1)));
  });

  it('ties give the first index; default axis 0', async () => {
    const out = await run1(() => tf.argmax(tf.constant([[1, 5], [5, 5], [5, 1]])));
    expect(Array.from(out.data as BigInt64Array)).toEqual([1n, 0n]);
  });

  it('shape functions and errors', async () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3, 4]);
      expect(tf.argmax(x, 1).shape).toEqual([null, 4]);
      expect(tf.argmin(x, -1).shape).toEqual([null, 3]);
      expect(tf.argmax(x, tf.placeholder('int32', [])).shape).toEqual([null, null]);
      expect(tf.argmax(tf.placeholder('float32'), 0).shape).toBeNull();
      expect(() => tf.argmax(x, 3)).toThrow(/ArgMax.*dimension/);
      expect(() => tf.argmax(tf.constant(1), 0)).toThrow(/ArgMax/);
    });
    await expect(run1(() => tf.argmax(tf.constant(tf.NDArray.zeros([0, 2])), 0))).rejects.toThrow(/empty/);
  });
});

describe('binary shape functions', () => {
  it('broadcast partial shapes', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(tf.add(tf.placeholder('float32', [null, 3]), tf.placeholder('float32', [4, 1, 1])).shape).toEqual([4, null, 3]);
      expect(tf.add(tf.placeholder('float32', [null, 1]), tf.placeholder('float32', [5])).shape).toEqual([null, 5]);
      expect(tf.multiply(tf.placeholder('float32'), tf.placeholder('float32', [2])).shape).toBeNull();
      expect(tf.less(tf.placeholder('float32', [2, 1]), tf.placeholder('float32', [3])).shape).toEqual([2, 3]);
      expect(tf.less(tf.placeholder('float32', [2, 1]), 0).dtype).toBe('bool');
    });
  });

  it('errors name the op: dtype mismatch, broadcast mismatch', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const f = tf.constant([1, 2, 3]);
      const i = tf.constant(tf.NDArray.from([1, 2, 3], 'int32'));
      expect(() => tf.add(f, i)).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.add(f, i)).toThrow(/AddV2 op 'Add(_\d+)?'.*int32/);
      expect(() => tf.add(tf.constant(randomArray([2, 3])), tf.constant(randomArray([4])))).toThrow(/cannot be broadcast/);
      expect(() => tf.greater(tf.constant([true]), tf.constant([false]))).toThrow(/Greater/);
      expect(() => tf.divide(tf.constant([true]), tf.constant([false]))).toThrow(tf.errors.InvalidArgumentError);
    });
  });

  it('incompatible dynamic shapes fail at run time', async () => {
    const g = new tf.Graph();
    const { a, b, y } = g.asDefault(() => {
      const a = tf.placeholder('float32', [null]);
      const b = tf.placeholder('float32', [null]);
      return { a, b, y: tf.add(a, b) };
    });
    await expect(run([y], [[a, randomArray([2])], [b, randomArray([3])]], g)).rejects.toThrow(/Add.*Incompatible shapes/);
  });

  it('op types, default names and literal constant names follow TF1', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2], 'x');
      const table: [tf.Tensor, string, string][] = [
        [tf.add(x, 1), 'AddV2', 'Add'],
        [tf.subtract(x, 1), 'Sub', 'Sub'],
        [tf.multiply(x, 1), 'Mul', 'Mul'],
        [tf.divide(x, 1), 'RealDiv', 'truediv'],
        [tf.floorDiv(x, 1), 'FloorDiv', 'floordiv'],
        [tf.mod(x, 1), 'FloorMod', 'FloorMod'],
        [tf.pow(x, 2), 'Pow', 'Pow'],
        [tf.squaredDifference(x, 1), 'SquaredDifference', 'SquaredDifference'],
        [tf.negative(x), 'Neg', 'Neg'],
        [tf.where(tf.less(x, 0), x, 0), 'SelectV2', 'SelectV2'],
        [tf.argmax(x), 'ArgMax', 'ArgMax'],
      ];
      for (const [t, type, name] of table) {
        expect(t.op.type).toBe(type);
        expect(t.op.name).toBe(name);
      }
      expect(tf.add(x, 1).op.inputs[1]!.op.name).toBe('Add_1/y');
      expect(tf.add(1, x, 'plus').op.inputs[0]!.op.name).toBe('plus/x');
      tf.nameScope('layer', () => expect(tf.multiply(x, x).op.name).toBe('layer/Mul'));
    });
  });

  it('ops of other graphs: tensors decide the graph', () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => tf.placeholder('float32', [2]));
    const y = tf.add(x, 1);
    expect(y.graph).toBe(g);
    expect(y.op.inputs[1]!.graph).toBe(g);
  });
});

describe('gradients (structure)', () => {
  it('reduce statically over broadcast dims when shapes are known, dynamically otherwise', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 1, 3]);
      const y = tf.placeholder('float32', [4, 1]);
      const [gx, gy] = tf.gradients(tf.add(x, y), [x, y]);
      const types = g.getOperations().map((o) => o.type);
      expect(types).not.toContain('BroadcastGradientArgs');
      expect(gx!.shape).toEqual([2, 1, 3]);
      expect(gy!.shape).toEqual([4, 1]);
      // Same static shapes: the gradient passes through untouched.
      const a = tf.placeholder('float32', [null, 10]);
      const b = tf.placeholder('float32', [10]);
      const [ga, gb] = tf.gradients(tf.add(a, b), [a, b]);
      expect(ga!.op.type).not.toBe('Sum');
      expect(gb!.shape).toEqual([10]);
      expect(g.getOperations().map((o) => o.type)).not.toContain('BroadcastGradientArgs');
      const p = tf.placeholder('float32', [null, null]);
      const q = tf.placeholder('float32', [null]);
      tf.gradients(tf.multiply(p, q), [p, q]);
      expect(g.getOperations().map((o) => o.type)).toContain('BroadcastGradientArgs');
    });
  });

  it('Max gradient splits among ties, as TF', async () => {
    const g = new tf.Graph();
    const gx = g.asDefault(() => {
      const x = tf.constant([[1, 3, 3], [2, 0, 1]]);
      return tf.gradients(tf.reduceMax(x, 1), [x])[0]!;
    });
    expectClose((await run([gx], undefined, g))[0]!, [0, 0.5, 0.5, 1, 0, 0]);
  });

  it('gradient helper ops are what Sigmoid, Tanh, Sqrt, Rsqrt and Reciprocal backprop through', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [3]);
      const fns: [(t: tf.Tensor) => tf.Tensor, string][] = [
        [tf.sigmoid, 'SigmoidGrad'],
        [tf.tanh, 'TanhGrad'],
        [tf.sqrt, 'SqrtGrad'],
        [tf.rsqrt, 'RsqrtGrad'],
        [tf.reciprocal, 'ReciprocalGrad'],
      ];
      for (const [f, type] of fns) expect(tf.gradients(f(x), [x])[0]!.op.type).toBe(type);
    });
  });

  it('integer-valued ops have no gradient', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [3]);
      expect(tf.gradients(tf.floor(x), [x])[0]).toBeNull();
      expect(tf.gradients(tf.multiply(tf.cast(tf.greater(x, 0), 'float32'), 2), [x])[0]).toBeNull();
      expect(tf.gradients(tf.cast(tf.argmax(x), 'float32'), [x])[0]).toBeNull();
    });
  });
});
