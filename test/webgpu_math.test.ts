// WebGPU elementwise kernels and fused clusters, compared with the CPU backend. Inputs live in
// variables so they are on the GPU: small ops on host values would run on the host instead.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';
import { CpuBackend } from '../runtime/cpu/backend.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import { gpuCanFuse } from '../runtime/webgpu/kernels/fused.js';
import { fuseElementwise } from '../passes/fuse.js';
import { expectClose, randomArray } from './helpers.js';

type Build = (xs: tf.Tensor[]) => tf.Tensor[];

interface Runs {
  gpu: tf.NDArray[];
  cpu: tf.NDArray[];
  /** Op types of the optimized webgpu plan. */
  planTypes: string[];
  planNodes: { type: string; dtypes: (DType | undefined)[] }[];
  /** Op types of this family the webgpu run executed on the host. */
  hostOps: string[];
}

/** Records the types of the ops the backend runs on the host (reads of integer variables stay there by design). */
function spyHostOps(backend: WebGpuBackend): string[] {
  const seen: string[] = [];
  const b = backend as unknown as { runOnHost: (node: { type: string }, ...rest: unknown[]) => unknown };
  expect(typeof b.runOnHost).toBe('function');
  const orig = b.runOnHost.bind(backend);
  b.runOnHost = (node, ...rest) => {
    if (node.type !== 'Identity' && node.type !== 'NoOp') seen.push(node.type);
    return orig(node, ...rest);
  };
  return seen;
}

async function runOn(backend: 'cpu' | WebGpuBackend, build: Build, inputs: tf.NDArray[], optimize: boolean): Promise<{ out: tf.NDArray[]; types: string[]; nodes: { type: string; dtypes: (DType | undefined)[] }[]; hostOps: string[] }> {
  const g = new tf.Graph();
  const { outs, init } = g.asDefault(() => {
    const vars = inputs.map((a, i) => new tf.Variable(a, { name: `in${i}` }));
    // The backend keeps small integer values on the host: adding a zero computed on the GPU from a
    // float variable moves them there.
    const zero = new tf.Variable(new tf.NDArray(new Float32Array(1), [1]), { name: 'zero' }).value();
    const onGpu = (t: tf.Tensor): tf.Tensor =>
      t.dtype === 'float32' ? t : t.dtype === 'bool' ? tf.logicalOr(t, tf.cast(zero, 'bool')) : tf.add(t, tf.cast(zero, t.dtype));
    const outs = build(vars.map((v) => onGpu(v.value())));
    return { outs, init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g, backend, optimize });
  try {
    await sess.run(init);
    const onHost = backend === 'cpu' ? [] : spyHostOps(backend);
    const out = (await sess.run(outs)) as tf.NDArray[];
    const plan = await sess.compile(outs);
    const nodes = plan.graphs.after.nodes.map((n) => ({ type: n.type, dtypes: [...n.inputs.map((v) => v?.dtype), ...n.outputs.map((v) => v.dtype)] }));
    return { out, types: nodes.map((n) => n.type), nodes, hostOps: onHost };
  } finally {
    sess.close();
  }
}

/** Runs `build` over variables holding `inputs` on webgpu and on the CPU. */
async function both(build: Build, inputs: tf.NDArray[], optimize = true): Promise<Runs> {
  const backend = new WebGpuBackend(new CpuBackend());
  const gpu = await runOn(backend, build, inputs, optimize);
  const cpu = await runOn('cpu', build, inputs, optimize);
  return { gpu: gpu.out, cpu: cpu.out, planTypes: gpu.types, planNodes: gpu.nodes, hostOps: gpu.hostOps };
}

/** Float results within 1e-4 abs + 1e-3 rel (NaN equal NaN, infinities exact); others exact. */
function expectSame(got: tf.NDArray[], want: tf.NDArray[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((a, i) => {
    expect(a.dtype, `output ${i} dtype`).toBe(want[i]!.dtype);
    expect(a.shape, `output ${i} shape`).toEqual(want[i]!.shape);
    if (a.dtype === 'float32') expectClose(a, want[i]!, { atol: 1e-4, rtol: 1e-3 });
    else expect(Array.from(a.data as ArrayLike<number | bigint>), `output ${i}`).toEqual(Array.from(want[i]!.data as ArrayLike<number | bigint>));
  });
}

async function check(build: Build, inputs: tf.NDArray[], optimize = true): Promise<Runs> {
  const r = await both(build, inputs, optimize);
  expectSame(r.gpu, r.cpu);
  expect(r.hostOps, 'ops run on the host').toEqual([]);
  return r;
}

/** Floats with the special values mixed in: NaN, ±Inf, ±0, ±1, tiny and huge magnitudes. */
function special(shape: number[], seed: number, min = -3, max = 3): tf.NDArray {
  const a = randomArray(shape, { seed, min, max });
  const d = a.data as Float32Array;
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -0.5, 1e-6, -1e-6, 1e30, -1e30, 2, -2, 88, -88, 100, -100];
  for (let i = 0; i < d.length; i += 3) d[i] = specials[(i / 3) % specials.length]!;
  return a;
}

function ints(shape: number[], seed: number, min = -50, max = 50, dtype: DType = 'int32'): tf.NDArray {
  return randomArray(shape, { seed, min, max, dtype });
}

function nonZero(a: tf.NDArray): tf.NDArray {
  const d = a.data as Int32Array | BigInt64Array;
  for (let i = 0; i < d.length; i++) if (d[i] === 0 || d[i] === 0n) (d as Int32Array)[i] = (a.dtype === 'int64' ? 7n : 7) as number;
  return a;
}

function int64(values: (bigint | number)[], shape = [values.length]): tf.NDArray {
  return new tf.NDArray(BigInt64Array.from(values, (v) => BigInt(v)), shape, 'int64');
}

const op = (type: string) => (xs: tf.Tensor[]) => [xs[0]!.graph.createOp(type, xs, {}).outputs[0]!];

const BINARY: Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  AddV2: tf.add,
  Sub: tf.subtract,
  Mul: tf.multiply,
  RealDiv: tf.divide,
  FloorDiv: tf.floorDiv,
  FloorMod: tf.floorMod,
  Pow: tf.pow,
  Maximum: tf.maximum,
  Minimum: tf.minimum,
  SquaredDifference: tf.squaredDifference,
  Equal: tf.equal,
  NotEqual: tf.notEqual,
  Less: tf.less,
  LessEqual: tf.lessEqual,
  Greater: tf.greater,
  GreaterEqual: tf.greaterEqual,
};

const UNARY: Record<string, (a: tf.Tensor) => tf.Tensor> = {
  Neg: tf.negative,
  Square: tf.square,
  Sqrt: tf.sqrt,
  Rsqrt: tf.rsqrt,
  Exp: tf.exp,
  Log: tf.log,
  Log1p: tf.log1p,
  Abs: tf.abs,
  Sign: tf.sign,
  Reciprocal: tf.reciprocal,
  Floor: tf.floor,
  Ceil: tf.ceil,
  Round: tf.round,
  Sigmoid: tf.sigmoid,
  Tanh: tf.tanh,
  Relu: tf.nn.relu,
  Relu6: tf.nn.relu6,
  Elu: tf.nn.elu,
  Selu: tf.nn.selu,
  Softplus: tf.nn.softplus,
  Softsign: tf.nn.softsign,
  LeakyRelu: (x) => tf.nn.leakyRelu(x, 0.3),
};

const INT_UNARY = ['Neg', 'Square', 'Abs', 'Sign', 'Round', 'Relu', 'Relu6'];

describe('webgpu elementwise kernels (single ops)', () => {
  it.each(Object.keys(BINARY))('%s float32 with special values and broadcasting', async (type) => {
    const f = BINARY[type]!;
    const a = special([3, 17, 5], 1);
    const b = special([17, 1], 2, -2, 2);
    const s = special([1], 3);
    await check((x) => [f(x[0]!, x[1]!), f(x[1]!, x[0]!), f(x[0]!, x[2]!), f(x[0]!, x[0]!)], [a, b, s], false);
  });

  it.each(Object.keys(BINARY))('%s int32 and int64', async (type) => {
    const f = BINARY[type]!;
    const divides = type === 'FloorDiv' || type === 'FloorMod';
    const a = ints([4, 1, 7], 4);
    const b = type === 'Pow' ? ints([3, 7], 5, 0, 6) : divides ? nonZero(ints([3, 7], 5)) : ints([3, 7], 5);
    const toI64 = (x: tf.NDArray): tf.NDArray => new tf.NDArray(BigInt64Array.from(x.data as Int32Array, (v) => BigInt(v)), x.shape, 'int64');
    await check((x) => [f(x[0]!, x[1]!), f(x[2]!, x[3]!)], [a, b, toI64(a), toI64(b)], false);
  });

  it.each(Object.keys(UNARY))('%s float32 with NaN, Inf, -0 at odd sizes', async (type) => {
    const f = UNARY[type]!;
    await check((x) => x.map((t) => f(t)), [special([1], 1), special([3], 2), special([17], 3), special([1023], 4), special([5, 7, 11], 5, -20, 20)], false);
  });

  it.each(INT_UNARY)('%s int32 and int64', async (type) => {
    const f = UNARY[type]!;
    const a = ints([5, 9], 6, -100, 100);
    const b = int64([0, 1, -1, 7, -7, 2n ** 40n, -(2n ** 40n), 5, -3, 6, 8, 2n ** 63n - 1n, -(2n ** 63n) + 1n]);
    await check((x) => [f(x[0]!), f(x[1]!)], [a, b], false);
  });

  it('gradient helpers and activation gradients', async () => {
    const y = randomArray([7, 13], { seed: 7, min: 0.1, max: 0.9 });
    const dy = special([7, 13], 8);
    const xs = special([7, 13], 9, -8, 8);
    const n = (type: string, attrs: Record<string, unknown> = {}) => (a: tf.Tensor, b: tf.Tensor) => a.graph.createOp(type, [a, b], attrs as never).outputs[0]!;
    await check(
      (x) => [
        n('SigmoidGrad')(x[0]!, x[1]!),
        n('TanhGrad')(x[0]!, x[1]!),
        n('SqrtGrad')(x[0]!, x[1]!),
        n('RsqrtGrad')(x[0]!, x[1]!),
        n('ReciprocalGrad')(x[0]!, x[1]!),
        n('ReluGrad')(x[1]!, x[2]!),
        n('Relu6Grad')(x[1]!, x[2]!),
        n('LeakyReluGrad', { alpha: 0.25 })(x[1]!, x[2]!),
        n('EluGrad')(x[1]!, x[2]!),
        n('SeluGrad')(x[1]!, x[2]!),
        n('SoftplusGrad')(x[1]!, x[2]!),
        n('SoftsignGrad')(x[1]!, x[2]!),
      ],
      [y, dy, xs],
      false,
    );
  });

  it('logical ops, select and casts between every dtype', async () => {
    const c = randomArray([6, 5], { seed: 1, dtype: 'bool' });
    const d = randomArray([6, 5], { seed: 2, dtype: 'bool' });
    const f = special([6, 5], 3, -1e10, 1e10);
    const i = ints([6, 5], 4, -1000, 1000);
    const l = int64([0, 1, -1, 2n ** 33n + 5n, -(2n ** 35n) - 3n, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n, 3, -3, 0, 0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21], [6, 5]);
    const row = randomArray([6], { seed: 5, dtype: 'bool' });
    const dtypes: DType[] = ['float32', 'int32', 'bool', 'int64'];
    await check(
      (x) => {
        const [tc, td, tf_, ti, tl, trow] = x as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const outs = [tf.logicalAnd(tc, td), tf.logicalOr(tc, td), tf.logicalNot(tc), tf.where(tc, tf_, tf.negative(tf_)), tf.where(tc, ti, 0), tf.where(tc, tl, tl)];
        outs.push(tc.graph.createOp('Select', [trow, tf_, tf.negative(tf_)], {}).outputs[0]!);
        outs.push(tc.graph.createOp('Select', [tc, tl, tf.negative(tl)], {}).outputs[0]!);
        for (const from of [tf_, ti, tc, tl]) for (const to of dtypes) outs.push(tf.cast(from, to));
        outs.push(tf.equal(tc, td), tf.notEqual(tl, tf.negative(tl)), tf.notEqual(tc, td));
        return outs;
      },
      [c, d, f, i, l, row],
      false,
    );
  });

  it('int64 arithmetic beyond 32 bits', async () => {
    const a = int64([2n ** 40n + 12345n, -(2n ** 50n) - 7n, 2n ** 63n - 1n, -(2n ** 63n), 123456789012n, -5, 17, -17, 0, 3000000000n]);
    const b = int64([3, -7, 2, -1, 1000003, 5, -5, 4, 9, -4000000000n]);
    const e = int64([2, 3, 1, 1, 2, 7, 3, 0, 5, 2]);
    await check(
      (x) => [
        tf.add(x[0]!, x[1]!),
        tf.subtract(x[0]!, x[1]!),
        tf.multiply(x[0]!, x[1]!),
        tf.floorDiv(x[0]!, x[1]!),
        tf.floorMod(x[0]!, x[1]!),
        tf.pow(x[1]!, x[2]!),
        tf.maximum(x[0]!, x[1]!),
        tf.minimum(x[0]!, x[1]!),
        tf.squaredDifference(x[1]!, x[2]!),
        tf.less(x[0]!, x[1]!),
        tf.greaterEqual(x[0]!, x[1]!),
        tf.addN([x[0]!, x[1]!, x[2]!]),
        tf.cast(x[0]!, 'float32'),
        tf.cast(x[0]!, 'int32'),
      ],
      [a, b, e],
      false,
    );
  });

  it('AddN over many inputs, BiasAdd NHWC and NCHW, ZerosLike and OnesLike', async () => {
    const xs = Array.from({ length: 11 }, (_, k) => randomArray([9, 4, 3], { seed: 10 + k }));
    const bias = randomArray([3], { seed: 30 });
    const biasC = randomArray([4], { seed: 31 });
    const ix = ints([9, 4, 3], 32);
    const ib = ints([3], 33);
    await check(
      (x) => {
        const f = x.slice(0, 11);
        return [
          tf.addN(f),
          tf.addN(f.slice(0, 3)),
          tf.addN([x[13]!, x[13]!, x[14]!.graph.createOp('ZerosLike', [x[13]!], {}).outputs[0]!]),
          tf.nn.biasAdd(x[0]!, x[11]!),
          tf.nn.biasAdd(x[0]!, x[12]!, { dataFormat: 'NCHW' }),
          tf.nn.biasAdd(x[13]!, x[14]!),
          ...op('ZerosLike')([x[13]!]),
          ...op('OnesLike')([x[0]!]),
        ];
      },
      [...xs, bias, biasC, ix, ib],
      false,
    );
  });

  it('covers more than 65535 workgroups of 256 (2-D dispatch)', async () => {
    const n = 65535 * 256 + 1000;
    const a = randomArray([n], { seed: 1 });
    const b = randomArray([1], { seed: 2 });
    const r = await check((x) => [tf.add(x[0]!, x[1]!)], [a, b], false);
    expect(r.gpu[0]!.shape).toEqual([n]);
  }, 120_000);

  it('size-0 tensors keep their shapes', async () => {
    const a = new tf.NDArray(new Float32Array(0), [0, 3]);
    const b = randomArray([3], { seed: 1 });
    const r = await check((x) => [tf.add(x[0]!, x[1]!), tf.exp(x[0]!), tf.less(x[0]!, x[1]!)], [a, b], false);
    expect(r.gpu.map((t) => t.shape)).toEqual([[0, 3], [0, 3], [0, 3]]);
  });

  it('integer division by zero fails as on the CPU', async () => {
    for (const dtype of ['int32', 'int64'] as const) {
      const a = ints([5000], 1, -10, 10, dtype);
      const b = nonZero(ints([5000], 2, -10, 10, dtype));
      (b.data as Int32Array | BigInt64Array)[4321] = (dtype === 'int64' ? 0n : 0) as never;
      for (const f of [tf.floorDiv, tf.floorMod]) {
        await expect(both((x) => [f(x[0]!, x[1]!)], [a, b], false)).rejects.toThrow(/Integer division by zero/);
      }
    }
    const e = ints([5000], 3, -3, 3);
    await expect(both((x) => [tf.pow(x[0]!, x[0]!)], [e], false)).rejects.toThrow(/negative integer powers/);
  });

  it('incompatible shapes give the CPU kernel errors', async () => {
    const sess = new tf.Session({ backend: 'webgpu' });
    const g = sess.graph;
    const [a, b] = g.asDefault(() => [tf.placeholder('float32', null), tf.placeholder('float32', null)]);
    const sum = g.asDefault(() => tf.add(a!, b!));
    const grad = g.asDefault(() => g.createOp('ReluGrad', [a!, b!], {}).outputs[0]!);
    try {
      await expect(sess.run(sum, [[a!, randomArray([5000])], [b!, randomArray([4999])]])).rejects.toThrow(tf.errors.InvalidArgumentError);
      await expect(sess.run(sum, [[a!, randomArray([5000])], [b!, randomArray([4999])]])).rejects.toThrow(/Incompatible shapes: \[5000\] vs. \[4999\]/);
      await expect(sess.run(grad, [[a!, randomArray([5000])], [b!, randomArray([50, 100])]])).rejects.toThrow(/gradients and features must be the same size/);
    } finally {
      sess.close();
    }
  });
});

describe('webgpu fused elementwise clusters', () => {
  it('computes a cluster with several outputs in one kernel', async () => {
    const a = special([33, 17], 1);
    const b = randomArray([17], { seed: 2 });
    const c = randomArray([33, 1], { seed: 3 });
    const r = await check(
      (x) => {
        const s = tf.add(tf.multiply(x[0]!, x[1]!), x[2]!);
        const t = tf.tanh(s);
        const u = tf.sigmoid(tf.subtract(s, t));
        const m = tf.greater(u, 0.5);
        return [s, u, tf.where(m, t, tf.nn.relu(s)), tf.cast(m, 'float32')];
      },
      [a, b, c],
    );
    expect(r.planTypes.filter((t) => t === '_FusedElementwise')).toHaveLength(1);
  });

  it('fuses every op of the table with every dtype it takes', async () => {
    const f = randomArray([40, 30], { seed: 1, min: 0.2, max: 3 });
    const g = randomArray([30], { seed: 2, min: -2, max: 2 });
    const i = ints([40, 30], 3);
    const c = randomArray([40, 30], { seed: 4, dtype: 'bool' });
    const l = ints([40, 30], 5, -1000, 1000, 'int64');
    const r = await check(
      (x) => {
        const [tf_, tg, ti, tc, tl] = x as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const outs: tf.Tensor[] = [];
        for (const [name, fn] of Object.entries(BINARY)) {
          outs.push(fn(tf_, tg));
          if (name !== 'RealDiv') outs.push(name === 'Pow' || name.startsWith('Floor') ? fn(tf.cast(ti, 'float32'), tg) : fn(ti, tf.cast(tf.floor(tg), 'int32')));
        }
        for (const fn of Object.values(UNARY)) outs.push(fn(tf.subtract(tf_, 1.5)));
        for (const name of INT_UNARY) {
          outs.push(UNARY[name]!(ti));
          outs.push(UNARY[name]!(tl));
        }
        outs.push(tf.logicalNot(tf.logicalOr(tc, tf.logicalAnd(tc, tf.less(ti, 0)))));
        outs.push(tf.nn.biasAdd(tf_, tg), tf.cast(tl, 'float32'), tf.add(tl, tf.cast(ti, 'int64')), tf.addN([tf_, tf_, tf.exp(tf_)]));
        return outs;
      },
      [f, g, i, c, l],
    );
    expect(r.planTypes).toContain('_FusedElementwise');
    // int64 ops stay single kernels: the CPU (which runs small integer clusters) does not generate them.
    const unfused = r.planNodes.filter((n) => !['_FusedElementwise', 'VariableV2', 'Identity', 'Const', '_View'].includes(n.type));
    expect(unfused.length).toBeGreaterThan(0);
    for (const n of unfused) expect(n.dtypes, n.type).toContain('int64');
  });

  it('runs clusters that bind more buffers than one dispatch may', async () => {
    const xs = Array.from({ length: 12 }, (_, k) => randomArray([7, 9], { seed: 40 + k }));
    const r = await check(
      (x) => {
        let acc = x[0]!;
        const outs: tf.Tensor[] = [];
        for (let k = 1; k < x.length; k++) {
          acc = tf.add(tf.multiply(acc, 0.5), x[k]!);
          if (k % 3 === 0) outs.push(tf.tanh(acc));
        }
        outs.push(acc, tf.addN(x));
        return outs;
      },
      xs,
    );
    expect(r.planTypes).toContain('_FusedElementwise');
  });

  it('broadcasts inputs of several ranks inside a cluster and across batch dims', async () => {
    const a = randomArray([2, 3, 1, 5], { seed: 1 });
    const b = randomArray([3, 4, 1], { seed: 2 });
    const c = randomArray([1], { seed: 3 });
    const d = randomArray([4, 5], { seed: 4 });
    await check((x) => [tf.multiply(tf.add(x[0]!, x[1]!), tf.subtract(x[3]!, x[2]!)), tf.exp(tf.add(x[1]!, x[3]!))], [a, b, c, d]);
  });
});

describe('fusion with a binding limit', () => {
  it('never builds a cluster binding more than maxOperands buffers', async () => {
    const g = new tf.Graph();
    const xs = g.asDefault(() => Array.from({ length: 12 }, (_, k) => tf.placeholder('float32', [4, 5], `x${k}`)));
    const outs = g.asDefault(() => {
      let acc = xs[0]!;
      const o: tf.Tensor[] = [];
      for (let k = 1; k < xs.length; k++) {
        acc = tf.add(tf.multiply(acc, 0.5), xs[k]!);
        if (k % 4 === 0) o.push(tf.tanh(acc));
      }
      return [...o, acc];
    });
    const sess = new tf.Session({ graph: g, optimize: false });
    try {
      const plan = await sess.compile(outs, xs.map((x) => [x, randomArray([4, 5])] as [tf.Tensor, tf.NDArray]));
      const bindings = (limit?: number): number[] =>
        fuseElementwise(plan.graphs.after, { canFuse: gpuCanFuse, maxOperands: limit })
          .nodes.filter((n) => n.type === '_FusedElementwise')
          .map((n) => n.inputs.length + n.outputs.length);
      expect(Math.max(...bindings())).toBeGreaterThan(8);
      const limited = bindings(8);
      expect(limited.length).toBeGreaterThan(1);
      expect(Math.max(...limited)).toBeLessThanOrEqual(8);
    } finally {
      sess.close();
    }
  });
});
