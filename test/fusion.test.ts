import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';
import { compileProgram, setFusedWasm } from '../runtime/cpu/fused.js';
import type { Plan } from '../runtime/plan.js';
import { randomArray, rng } from './helpers.js';

/** Runs fetches with optimization on and off; returns both results and the optimized plan. */
async function both(g: tf.Graph, fetches: tf.Tensor[], feeds: [tf.Tensor, tf.NDArray][]) {
  const opt = new tf.Session({ graph: g });
  const ref = new tf.Session({ graph: g, optimize: false });
  try {
    const a = await opt.run(fetches, feeds);
    const b = await ref.run(fetches, feeds);
    const plan = await opt.compile(fetches, feeds);
    return { a, b, plan };
  } finally {
    opt.close();
    ref.close();
  }
}

/** Bit-for-bit equality (NaN equals NaN): fused kernels reproduce the unfused arithmetic exactly. */
function expectSameBits(a: tf.NDArray, b: tf.NDArray, what: string): void {
  expect(a.dtype, what).toBe(b.dtype);
  expect(a.shape, what).toEqual(b.shape);
  const x = Array.from(a.data as ArrayLike<number>);
  const y = Array.from(b.data as ArrayLike<number>);
  for (let i = 0; i < x.length; i++) {
    if (Object.is(x[i], y[i]) || (Number.isNaN(x[i]) && Number.isNaN(y[i]))) continue;
    throw new Error(`${what}: element ${i}: fused ${x[i]} vs unfused ${y[i]}`);
  }
}

const fusedSteps = (p: Plan): number => p.steps.filter((s) => s.node.type === '_FusedElementwise').length;

/** Interesting float values: signs, zeros, around the activation kinks, large, NaN and infinities. */
function specialFloats(n: number, seed: number): tf.NDArray {
  const special = [0, -0, 1, -1, 0.5, -0.5, 6, 6.5, -6, 1e-8, 3.5, 2.5, -2.5, 88, -88, 1e30, -1e30, NaN, Infinity, -Infinity];
  const r = rng(seed);
  const d = Float32Array.from({ length: n }, (_, i) => (i < special.length ? special[i]! : (r() - 0.5) * 20));
  return new tf.NDArray(d, [n]);
}

// Every test runs twice: with the generated JS kernels (fused kernels this small stay in JS), and
// with every fused kernel that can be WebAssembly made one (runtime/cpu/fused.ts), which must give
// the same bits too.
describe.each(['js', 'wasm'] as const)('%s kernels', (mode) => {
  let prev: { enabled: boolean; minElements: number };
  beforeAll(() => {
    prev = setFusedWasm(mode === 'wasm' ? { enabled: true, minElements: 1 } : { enabled: false });
  });
  afterAll(() => {
    setFusedWasm(prev);
  });

  describe('generated elementwise kernels match the unfused kernels exactly', () => {
    const N = 48;
    const unaryFloat = [
      'negative', 'square', 'abs', 'sign', 'round', 'sqrt', 'rsqrt', 'exp', 'log', 'log1p', 'reciprocal', 'floor', 'ceil', 'sigmoid', 'tanh',
    ] as const;
    for (const name of unaryFloat) {
      it(`${name} (float32)`, async () => {
        const g = new tf.Graph();
        const { x, y } = g.asDefault(() => {
          const x = tf.placeholder('float32', [N], 'x');
          const fn = (tf as unknown as Record<string, (t: tf.Tensor) => tf.Tensor>)[name]!;
          return { x, y: fn(x) };
        });
        const { a, b, plan } = await both(g, [y], [[x, specialFloats(N, 1)]]);
        expect(fusedSteps(plan)).toBe(1);
        expectSameBits(a[0]!, b[0]!, name);
      });
    }

    const nnUnary: [string, (t: tf.Tensor) => tf.Tensor][] = [
      ['relu', tf.nn.relu],
      ['relu6', tf.nn.relu6],
      ['elu', tf.nn.elu],
      ['selu', tf.nn.selu],
      ['softplus', tf.nn.softplus],
      ['softsign', tf.nn.softsign],
      ['leakyRelu(0.3)', (t) => tf.nn.leakyRelu(t, 0.3)],
    ];
    for (const [name, fn] of nnUnary) {
      it(`${name} and its gradient`, async () => {
        const g = new tf.Graph();
        const { x, y, dx } = g.asDefault(() => {
          const x = tf.placeholder('float32', [N], 'x');
          const y = fn(x);
          const dx = tf.gradients(y, x, tf.constant(specialFloats(N, 9)))[0]!;
          return { x, y, dx };
        });
        const { a, b, plan } = await both(g, [y, dx], [[x, specialFloats(N, 2)]]);
        expect(fusedSteps(plan)).toBeGreaterThan(0);
        expectSameBits(a[0]!, b[0]!, name);
        expectSameBits(a[1]!, b[1]!, `${name} gradient`);
      });
    }

    it('cwise gradient helpers (Sigmoid, Tanh, Sqrt, Rsqrt, Reciprocal gradients)', async () => {
      const g = new tf.Graph();
      const { x, ys } = g.asDefault(() => {
        const x = tf.placeholder('float32', [N], 'x');
        const up = tf.constant(specialFloats(N, 4));
        const ys = [tf.sigmoid, tf.tanh, tf.sqrt, tf.rsqrt, tf.reciprocal].map((f) => tf.gradients(f(x), x, up)[0]!);
        return { x, ys };
      });
      const { a, b, plan } = await both(g, ys, [[x, specialFloats(N, 3)]]);
      expect(fusedSteps(plan)).toBeGreaterThan(0);
      ys.forEach((_, i) => expectSameBits(a[i]!, b[i]!, `gradient ${i}`));
    });

    const binaries = [
      'add', 'subtract', 'multiply', 'divide', 'maximum', 'minimum', 'pow', 'squaredDifference', 'floorDiv', 'floorMod',
      'equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual',
    ] as const;
    for (const dtype of ['float32', 'int32'] as const) {
      for (const name of binaries) {
        it(`${name} (${dtype}, broadcasting [4,1,3] with [2,1])`, async () => {
          const g = new tf.Graph();
          const { x, y, z } = g.asDefault(() => {
            const x = tf.placeholder(dtype, [4, 1, 3], 'x');
            const y = tf.placeholder(dtype, [2, 1], 'y');
            const fn = (tf as unknown as Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor>)[name]!;
            return { x, y, z: fn(x, y) };
          });
          const xv = dtype === 'float32' ? randomArray([4, 1, 3], { seed: 5, min: -4, max: 4 }) : randomArray([4, 1, 3], { seed: 5, min: -50000, max: 50000, dtype });
          // Integer division by zero is an error, and integer powers must be small and non-negative.
          let yv = dtype === 'float32' ? randomArray([2, 1], { seed: 6, min: -3, max: 3 }) : randomArray([2, 1], { seed: 6, min: 1, max: 70000, dtype });
          if (dtype === 'int32' && name === 'pow') yv = new tf.NDArray(Int32Array.of(2, 3), [2, 1]);
          const { a, b, plan } = await both(g, [z], [
            [x, xv],
            [y, yv],
          ]);
          // Integer division by zero and negative integer powers fail at run time: those stay unfused.
          const integerCanFail = dtype === 'int32' && (name === 'floorDiv' || name === 'floorMod' || name === 'pow');
          if (integerCanFail) expect(fusedSteps(plan)).toBe(0);
          else expect(fusedSteps(plan)).toBeGreaterThan(0);
          expectSameBits(a[0]!, b[0]!, name);
        });
      }
    }

    it('logical ops, select and casts between float32, int32 and bool', async () => {
      const g = new tf.Graph();
      const { p, q, f, i, outs } = g.asDefault(() => {
        const p = tf.placeholder('bool', [3, 4], 'p');
        const q = tf.placeholder('bool', [4], 'q');
        const f = tf.placeholder('float32', [3, 4], 'f');
        const i = tf.placeholder('int32', [3, 4], 'i');
        const outs = [
          tf.logicalAnd(p, q),
          tf.logicalOr(p, q),
          tf.logicalNot(p),
          tf.where(p, f, tf.negative(f)),
          tf.cast(f, 'int32'),
          tf.cast(f, 'bool'),
          tf.cast(i, 'float32'),
          tf.cast(i, 'bool'),
          tf.cast(p, 'float32'),
          tf.cast(p, 'int32'),
          tf.addN([f, f, tf.square(f)]),
          tf.addN([i, i, i]),
          tf.nn.relu(i),
          tf.negative(i),
          tf.abs(i),
          tf.square(i),
        ];
        return { p, q, f, i, outs };
      });
      const fv = specialFloats(12, 7);
      const { a, b, plan } = await both(g, outs, [
        [p, randomArray([3, 4], { dtype: 'bool', seed: 1 })],
        [q, randomArray([4], { dtype: 'bool', seed: 2 })],
        [f, new tf.NDArray(fv.data, [3, 4])],
        [i, randomArray([3, 4], { dtype: 'int32', seed: 3, min: -3e9 / 2, max: 3e9 / 2 })],
      ]);
      expect(fusedSteps(plan)).toBeGreaterThan(0);
      outs.forEach((_, k) => expectSameBits(a[k]!, b[k]!, `output ${k}`));
    });

    it('BiasAdd in NCHW and NHWC layouts and Select with a vector condition', async () => {
      const g = new tf.Graph();
      const { x, bias, c, outs } = g.asDefault(() => {
        const x = tf.placeholder('float32', [2, 3, 2, 2], 'x');
        const bias = tf.placeholder('float32', [3], 'bias');
        const c = tf.placeholder('bool', [2], 'c');
        const nchw = tf.nn.relu(tf.nn.biasAdd(x, bias, { dataFormat: 'NCHW' }));
        const y = tf.reshape(x, [2, 4, 3]);
        const nhwc = tf.tanh(tf.nn.biasAdd(y, bias));
        const sel = g.createOp('Select', [c, tf.exp(y), tf.negative(y)], { T: 'float32' }).outputs[0]!;
        return { x, bias, c, outs: [nchw, nhwc, sel] };
      });
      const { a, b, plan } = await both(g, outs, [
        [x, randomArray([2, 3, 2, 2], { seed: 8 })],
        [bias, randomArray([3], { seed: 9 })],
        [c, new tf.NDArray(Uint8Array.of(1, 0), [2], 'bool')],
      ]);
      expect(fusedSteps(plan)).toBeGreaterThan(0);
      outs.forEach((_, k) => expectSameBits(a[k]!, b[k]!, `output ${k}`));
    });
  });

  describe('generated code', () => {
    it('interpolates only its own identifiers and integers: constants travel as arguments', async () => {
      const g = new tf.Graph();
      const { x, y } = g.asDefault(() => {
        const x = tf.placeholder('float32', [5, 7], 'x"); throw 1; //');
        return { x, y: tf.nn.leakyRelu(tf.add(x, tf.constant(0.123456)), 0.654321) };
      });
      const sess = new tf.Session({ graph: g });
      const plan = await sess.compile(y, [[x, randomArray([5, 7])]]);
      const step = plan.steps.find((s) => s.node.type === '_FusedElementwise')!;
      expect(step).toBeDefined();
      const { source, consts } = compileProgram(step.source.program!);
      expect(consts).toContain(0.654321);
      expect(source).not.toContain('0.654321');
      expect(source).not.toContain('0.123456');
      expect(source).not.toContain('throw');
      // Beyond the fixed prelude, only identifiers like I0, x1, t2, p0_1, d0 and integers appear.
      const body = source.slice(source.indexOf('return function'));
      const words = body.match(/[A-Za-z_$][\w$]*/g)!;
      const allowed = /^(return|function|fused|const|let|for|Math|fround|fr|imul|max|min|pow|floor|ceil|sqrt|exp|log|log1p|expm1|tanh|abs|trunc|rhe|cvi|fmod|sqd|isqd|I|O|K|[IOKxtd]\d+|p\d+_\d+)$/;
      for (const w of words) expect(w, `identifier ${w} in generated code`).toMatch(allowed);
      sess.close();
    });
  });

  // ---------------------------------------------------------------------------------------------
  // Property test: random elementwise DAGs (broadcasting, shared inputs, several outputs).

  const FLOAT_UNARY = [tf.negative, tf.square, tf.abs, tf.exp, tf.tanh, tf.sigmoid, tf.nn.relu, tf.nn.relu6, tf.nn.elu, tf.nn.softplus, tf.floor, tf.sign, (t: tf.Tensor) => tf.nn.leakyRelu(t, 0.1)];
  const FLOAT_BINARY = [tf.add, tf.subtract, tf.multiply, tf.divide, tf.maximum, tf.minimum, tf.squaredDifference];
  const COMPARE = [tf.less, tf.greater, tf.equal, tf.greaterEqual];

  /** Shapes that broadcast to `full`: some dims set to 1, some leading dims dropped. */
  function broadcastable(full: number[], r: () => number): number[] {
    const s = full.map((d) => (r() < 0.3 ? 1 : d));
    const drop = Math.floor(r() * (s.length + 1));
    return r() < 0.3 ? s.slice(drop) : s;
  }

  function randomDag(seed: number): { g: tf.Graph; fetches: tf.Tensor[]; feeds: [tf.Tensor, tf.NDArray][] } {
    const r = rng(seed);
    const rank = Math.floor(r() * 4);
    const full = Array.from({ length: rank }, () => 1 + Math.floor(r() * 4));
    const g = new tf.Graph();
    const feeds: [tf.Tensor, tf.NDArray][] = [];
    const fetches = g.asDefault(() => {
      const inputs: tf.Tensor[] = [];
      const nIn = 2 + Math.floor(r() * 3);
      for (let i = 0; i < nIn; i++) {
        const shape = i === 0 ? full : broadcastable(full, r);
        const p = tf.placeholder('float32', shape, `in${i}`);
        inputs.push(p);
        feeds.push([p, randomArray(shape, { seed: seed * 31 + i, min: -3, max: 3 })]);
      }
      // Sometimes a constant, sometimes an input fed with an unknown static shape.
      if (r() < 0.5) inputs.push(tf.constant(randomArray(broadcastable(full, r), { seed: seed + 77 })));
      const values: tf.Tensor[] = [...inputs];
      const nOps = 3 + Math.floor(r() * 10);
      const choose = (): tf.Tensor => values[Math.floor(r() * values.length)]!;
      for (let k = 0; k < nOps; k++) {
        const kind = r();
        let t: tf.Tensor;
        if (kind < 0.35) t = FLOAT_UNARY[Math.floor(r() * FLOAT_UNARY.length)]!(choose());
        else if (kind < 0.85) t = FLOAT_BINARY[Math.floor(r() * FLOAT_BINARY.length)]!(choose(), choose());
        else if (kind < 0.95) {
          const c = COMPARE[Math.floor(r() * COMPARE.length)]!(choose(), choose());
          t = tf.where(c, choose(), choose());
        } else t = tf.cast(tf.cast(choose(), 'int32'), 'float32');
        values.push(t);
      }
      const produced = values.slice(inputs.length);
      // The last value and a random few others are fetched.
      const out = new Set<tf.Tensor>([produced[produced.length - 1]!]);
      for (const v of produced) if (r() < 0.25) out.add(v);
      return [...out];
    });
    return { g, fetches, feeds };
  }

  describe('fused == unfused on random elementwise DAGs', () => {
    const SEEDS = 60;
    it(`${SEEDS} graphs: same results bit for bit, fewer kernels`, async () => {
      let fusedSomething = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        const { g, fetches, feeds } = randomDag(seed);
        const { a, b, plan } = await both(g, fetches, feeds);
        fetches.forEach((t, i) => expectSameBits(a[i]!, b[i]!, `seed ${seed}: ${t.name}`));
        const multi = plan.steps.some((s) => s.node.type === '_FusedElementwise' && (s.source.members?.length ?? 0) > 1);
        if (multi) fusedSomething++;
        expect(plan.stats.kernels, `seed ${seed}`).toBeLessThanOrEqual(plan.stats.opsBefore);
      }
      expect(fusedSomething).toBeGreaterThan(SEEDS / 2);
    });

    it('a cluster with several outputs and shared inputs is one kernel', async () => {
      const g = new tf.Graph();
      const { x, bvec, outs } = g.asDefault(() => {
        const x = tf.placeholder('float32', [8, 5], 'x');
        const bvec = tf.placeholder('float32', [5], 'b');
        const s = tf.add(x, bvec);
        const e = tf.exp(s);
        const t = tf.tanh(s);
        return { x, bvec, outs: [e, tf.multiply(t, e), tf.subtract(s, x)] };
      });
      const { a, b, plan } = await both(g, outs, [
        [x, randomArray([8, 5], { seed: 1 })],
        [bvec, randomArray([5], { seed: 2 })],
      ]);
      const fused = plan.steps.filter((s) => s.node.type === '_FusedElementwise');
      expect(fused).toHaveLength(1);
      expect(fused[0]!.outputSlots).toHaveLength(3);
      expect(fused[0]!.source.members).toHaveLength(5);
      outs.forEach((_, k) => expectSameBits(a[k]!, b[k]!, `output ${k}`));
    });

    it('never fuses across a path that leaves the cluster and comes back', async () => {
      const g = new tf.Graph();
      const { x, y } = g.asDefault(() => {
        const x = tf.placeholder('float32', [4, 4], 'x');
        const a = tf.exp(x);
        // a -> Sum -> (broadcast back) -> add with a: the reduction sits between two elementwise ops.
        const s = tf.reduceSum(a, 1, true);
        return { x, y: tf.divide(tf.add(a, 1), s) };
      });
      const { a, b, plan } = await both(g, [y], [[x, randomArray([4, 4])]]);
      expectSameBits(a[0]!, b[0]!, 'softmax-like');
      const order = plan.steps.map((s) => s.node.type);
      expect(order.indexOf('Sum')).toBeGreaterThan(-1);
      expect(order.filter((t) => t === '_FusedElementwise').length).toBe(2);
    });
  });

  it('never merges siblings when a path through another cluster leads back (batch norm gradients)', async () => {
    const g = new tf.Graph();
    const { phs, grads } = g.asDefault(() => {
      const phs = [[4, 3], [3], [3], [3], [3]].map((s, i) => tf.placeholder('float32', s, `in${i}`));
      const [x, mean, variance, offset, scale] = phs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const y = tf.nn.batchNormalization(x, mean, variance, offset, scale, 1e-3);
      return { phs, grads: tf.gradients([y], phs, [tf.constant(randomArray([4, 3], { seed: 3 }))]) as tf.Tensor[] };
    });
    const feeds = phs.map((p, i) => [p, randomArray(p.shape as number[], { seed: 10 + i, min: 0.5, max: 1.5 })] as [tf.Tensor, tf.NDArray]);
    const { a, b, plan } = await both(g, grads, feeds);
    plan.graphs.after.validate();
    grads.forEach((_, i) => expectSameBits(a[i]!, b[i]!, `gradient ${i}`));
  });

  it('elementwise fusion is only offered dtypes the templates know', async () => {
    const g = new tf.Graph();
    const { x, y } = g.asDefault(() => {
      const x = tf.placeholder('int64', [3], 'x');
      return { x, y: tf.add(x, x) };
    });
    const { a, b, plan } = await both(g, [y], [[x, randomArray([3], { dtype: 'int64' as DType, min: -5, max: 5 })]]);
    expect(fusedSteps(plan)).toBe(0);
    expect(a[0]!.toArray()).toEqual(b[0]!.toArray());
  });
});
