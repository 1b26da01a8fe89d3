// Gradients through functional control flow. Each case is checked two ways:
//   (a) against central finite differences (checkGradients from test/gradcheck.ts), and
//   (b) against tf.gradients of the same computation unrolled by a JS for-loop into plain ops,
//       which must agree with the loop's gradients to ~1e-5 relative.
// Plus second-order gradients through cond and two gradient calls on one loop.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { checkGradients } from './gradcheck.js';
import { expectClose, randomArray, rng } from './helpers.js';

type T = tf.Tensor;

const i32 = (v: number) => tf.constant(v, 'int32');
const f32 = (v: number[], shape: number[]) => new tf.NDArray(Float32Array.from(v), shape);
const bool = (b: boolean) => new tf.NDArray(Uint8Array.from([b ? 1 : 0]), [], 'bool');

/**
 * Builds `loop` and `unrolled` over the same placeholders, differentiates both (with the same fixed
 * random gradYs) with respect to the inputs in `wrt` (default: every float input), and checks that
 * outputs and gradients agree to ~1e-5 relative. `unrolled` gets the input values too, so it can
 * pick a cond's branch in JS.
 */
async function compareUnrolled(opts: {
  inputs: tf.NDArray[];
  loop: (...xs: T[]) => T | T[];
  unrolled: (xs: T[], values: tf.NDArray[]) => T | T[];
  wrt?: number[];
  rtol?: number;
}): Promise<void> {
  const { inputs } = opts;
  const wrt = opts.wrt ?? inputs.map((v, i) => (v.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
  const g = new tf.Graph();
  const built = g.asDefault(() => {
    const phs = inputs.map((v, i) => tf.placeholder(v.dtype, v.shape, `x${i}`));
    const a = ([] as T[]).concat(opts.loop(...phs));
    const b = ([] as T[]).concat(opts.unrolled(phs, inputs));
    expect(a.length).toBe(b.length);
    const r = rng(777);
    const gys = a.map((y) => {
      const shape = y.shape as number[];
      expect(shape, `static shape of ${y.name}`).not.toBeNull();
      expect(shape.every((d) => d !== null), `static shape of ${y.name}`).toBe(true);
      const n = shape.reduce((p, q) => p * q, 1);
      return tf.constant(new tf.NDArray(Float32Array.from({ length: n }, () => 0.5 + r()), shape));
    });
    const xs = wrt.map((i) => phs[i]!);
    const ga = tf.gradients(a, xs, gys);
    const gb = tf.gradients(b, xs, gys);
    ga.forEach((t, k) => expect(t, `loop gradient wrt x${wrt[k]}`).not.toBeNull());
    gb.forEach((t, k) => expect(t, `unrolled gradient wrt x${wrt[k]}`).not.toBeNull());
    return { phs, a, b, ga: ga as T[], gb: gb as T[] };
  });
  const sess = new tf.Session({ graph: g });
  try {
    const feeds = built.phs.map((p, i) => [p, inputs[i]!] as [T, tf.NDArray]);
    const [a, b, ga, gb] = (await sess.run([built.a, built.b, built.ga, built.gb], feeds)) as unknown as tf.NDArray[][];
    const rtol = opts.rtol ?? 1e-5;
    a!.forEach((v, k) => expectClose(v, b![k]!, { rtol, atol: 1e-6 }));
    ga!.forEach((v, k) => {
      try {
        expectClose(v, gb![k]!, { rtol, atol: 1e-6 });
      } catch (e) {
        throw new Error(`gradient wrt x${wrt[k]}: loop vs unrolled: ${(e as Error).message}`);
      }
    });
  } finally {
    sess.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The computations, each as a loop and unrolled

const condBranches = {
  t: (x: T, y: T) => tf.multiply(x, tf.tanh(y)),
  f: (x: T, y: T) => tf.add(tf.multiply(tf.exp(x), y), tf.square(y)),
};
const condLoop = (x: T, y: T, p: T) => tf.cond(p, () => condBranches.t(x, y), () => condBranches.f(x, y));
const condUnrolled = ([x, y]: T[], v: tf.NDArray[]) => (v[2]!.data[0] ? condBranches.t(x!, y!) : condBranches.f(x!, y!));

/** acc <- acc * x, 5 times: x^5. */
const productLoop = (x: T) =>
  (tf.whileLoop((i: T) => tf.less(i, 5), (i: T, acc: T) => [tf.add(i, 1), tf.multiply(acc, x)], [i32(0), tf.onesLike(x)]) as T[])[1]!;
const productUnrolled = ([x]: T[]) => {
  let acc = tf.onesLike(x!);
  for (let k = 0; k < 5; k++) acc = tf.multiply(acc, x!);
  return acc;
};

/** acc <- acc * x, n times: x^n. */
const productLoopN = (x: T, n: number) =>
  (tf.whileLoop((i: T) => tf.less(i, n), (i: T, acc: T) => [tf.add(i, 1), tf.multiply(acc, x)], [i32(0), tf.onesLike(x)]) as T[])[1]!;

/** h <- tanh(h W), 5 steps, W captured by the body. */
const rnnLoop = (x: T, W: T) =>
  (tf.whileLoop((i: T) => tf.less(i, 5), (i: T, h: T) => [tf.add(i, 1), tf.tanh(tf.matmul(h, W))], [i32(0), x]) as T[])[1]!;
const rnnUnrolled = ([x, W]: T[]) => {
  let h = x!;
  for (let k = 0; k < 5; k++) h = tf.tanh(tf.matmul(h, W!));
  return h;
};

/** cond never stops the loop; maximumIterations = 3 does. h <- h * w + sin-ish(x). */
const maxIterLoop = (x: T, w: T) =>
  tf.whileLoop(
    () => tf.constant(true),
    (h: T) => tf.add(tf.multiply(tf.tanh(h), w), x),
    [x],
    { maximumIterations: 3 },
  ) as unknown as T;
const maxIterUnrolled = ([x, w]: T[]) => {
  let h = x!;
  for (let k = 0; k < 3; k++) h = tf.add(tf.multiply(tf.tanh(h), w!), x!);
  return h;
};

/** The inputs in a TensorArray, read at each step: h <- tanh(x_t + h W), every h written out. */
const taLoop = (xs: T, h0: T, W: T) => {
  const inputs = new tf.TensorArray('float32', { size: 4 }).unstack(xs);
  const [, last, out] = tf.whileLoop(
    (t: T) => tf.less(t, 4),
    (t: T, h: T, ta: tf.TensorArray) => {
      const nh = tf.tanh(tf.add(inputs.read(t), tf.matmul(h, W)));
      return [tf.add(t, 1), nh, ta.write(t, nh)];
    },
    [i32(0), h0, new tf.TensorArray('float32', { size: 4 })],
  ) as [T, T, tf.TensorArray];
  return [out.stack(), last];
};
const taUnrolled = ([xs, h0, W]: T[]) => {
  const xt = tf.unstack(xs!);
  let h = h0!;
  const outs: T[] = [];
  for (let t = 0; t < 4; t++) {
    h = tf.tanh(tf.add(xt[t]!, tf.matmul(h, W!)));
    outs.push(h);
  }
  return [tf.stack(outs), h];
};

/** Outer 3 iterations; the inner loop runs i + 1 times: h <- tanh(h * w) + x. */
const nestedLoop = (x: T, w: T) =>
  (tf.whileLoop(
    (i: T) => tf.less(i, 3),
    (i: T, h: T) => {
      const [, h2] = tf.whileLoop(
        (j: T) => tf.lessEqual(j, i),
        (j: T, g: T) => [tf.add(j, 1), tf.add(tf.tanh(tf.multiply(g, w)), x)],
        [i32(0), h],
      ) as T[];
      return [tf.add(i, 1), h2!];
    },
    [i32(0), x],
  ) as T[])[1]!;
const nestedUnrolled = ([x, w]: T[]) => {
  let h = x!;
  for (let i = 0; i < 3; i++) for (let j = 0; j <= i; j++) h = tf.add(tf.tanh(tf.multiply(h, w!)), x!);
  return h;
};

/** As nestedLoop, but the inner body reads only its own loop variable (and constants): g <- 1.5 tanh(g) + 0.1. */
const nestedOwnLoop = (x: T) =>
  (tf.whileLoop(
    (i: T) => tf.less(i, 3),
    (i: T, h: T) => {
      const [, h2] = tf.whileLoop(
        (j: T) => tf.lessEqual(j, i),
        (j: T, g: T) => [tf.add(j, 1), tf.add(tf.multiply(tf.tanh(g), 1.5), 0.1)],
        [i32(0), h],
      ) as T[];
      return [tf.add(i, 1), tf.multiply(h2!, h)];
    },
    [i32(0), x],
  ) as T[])[1]!;
const nestedOwnUnrolled = ([x]: T[]) => {
  let h = x!;
  for (let i = 0; i < 3; i++) {
    let g = h;
    for (let j = 0; j <= i; j++) g = tf.add(tf.multiply(tf.tanh(g), 1.5), 0.1);
    h = tf.multiply(g, h);
  }
  return h;
};

/** A cond in the loop body: h <- h < 1 ? h * w + x : tanh(h) - x, 4 times. */
const condInLoop = (x: T, w: T) =>
  (tf.whileLoop(
    (i: T) => tf.less(i, 4),
    (i: T, h: T) => [tf.add(i, 1), tf.cond(tf.less(tf.reduceSum(h), 1), () => tf.add(tf.multiply(h, w), x), () => tf.subtract(tf.tanh(h), x))],
    [i32(0), x],
  ) as T[])[1]!;
const condInLoopUnrolled = ([x, w]: T[], v: tf.NDArray[]) => {
  // the branch taken at each step depends on values: follow them in JS
  const xv = Array.from(v[0]!.data as Float32Array);
  const wv = Array.from(v[1]!.data as Float32Array);
  let hv = xv.slice();
  let h = x!;
  for (let k = 0; k < 4; k++) {
    if (hv.reduce((a, b) => a + b, 0) < 1) {
      h = tf.add(tf.multiply(h, w!), x!);
      hv = hv.map((e, j) => e * wv[j]! + xv[j]!);
    } else {
      h = tf.subtract(tf.tanh(h), x!);
      hv = hv.map((e, j) => Math.tanh(e) - xv[j]!);
    }
  }
  return h;
};

/** A loop in the true branch whose body reads only its loop variable; a plain expression in the false one. */
const ownLoopInCond = (x: T, w: T, p: T) =>
  tf.cond(
    p,
    () => tf.whileLoop((i: T) => tf.less(i, 3), (i: T, h: T) => [tf.add(i, 1), tf.add(tf.multiply(tf.tanh(h), 1.5), 0.1)], [i32(0), x])[1] as T,
    () => tf.multiply(tf.square(x), w),
  );
const ownLoopInCondUnrolled = ([x, w]: T[], v: tf.NDArray[]) => {
  if (!v[2]!.data[0]) return tf.multiply(tf.square(x!), w!);
  let h = x!;
  for (let k = 0; k < 3; k++) h = tf.add(tf.multiply(tf.tanh(h), 1.5), 0.1);
  return tf.add(h, tf.multiply(w!, 0)); // w's gradient is zero here, as the cond's is
};

/** A loop in the true branch (h <- h * w + x, 3 times), a plain expression in the false one. */
const loopInCond = (x: T, w: T, p: T) =>
  tf.cond(
    p,
    () => tf.whileLoop((i: T) => tf.less(i, 3), (i: T, h: T) => [tf.add(i, 1), tf.add(tf.multiply(h, w), x)], [i32(0), x])[1] as T,
    () => tf.multiply(tf.square(x), w),
  );
const loopInCondUnrolled = ([x, w]: T[], v: tf.NDArray[]) => {
  if (!v[2]!.data[0]) return tf.multiply(tf.square(x!), w!);
  let h = x!;
  for (let k = 0; k < 3; k++) h = tf.add(tf.multiply(h, w!), x!);
  return h;
};

/** scan a <- tanh(a * w + x) over the rows of xs [4, 2], from a0. */
const scanLoop = (xs: T, a0: T, w: T) => tf.scan((a: T, x: T) => tf.tanh(tf.add(tf.multiply(a, w), x)), xs, a0);
const scanUnrolled = ([xs, a0, w]: T[]) => {
  const rows = tf.unstack(xs!);
  let a = a0!;
  const outs: T[] = [];
  for (const x of rows) {
    a = tf.tanh(tf.add(tf.multiply(a, w!), x));
    outs.push(a);
  }
  return tf.stack(outs);
};

/** mapFn row -> row * row * w + sum(row) over xs [3, 2], w captured. */
const mapLoop = (xs: T, w: T) => tf.mapFn((row: T) => tf.add(tf.multiply(tf.multiply(row, row), w), tf.reduceSum(row)), xs);
const mapUnrolled = ([xs, w]: T[]) => tf.stack(tf.unstack(xs!).map((row) => tf.add(tf.multiply(tf.multiply(row, row), w!), tf.reduceSum(row))));

interface Case {
  name: string;
  inputs: tf.NDArray[];
  loop: (...xs: T[]) => T | T[];
  unrolled: (xs: T[], values: tf.NDArray[]) => T | T[];
  wrt?: number[];
}


const cases: Case[] = [
  { name: 'cond, true branch taken', inputs: [randomArray([2, 3], { seed: 1 }), randomArray([2, 3], { seed: 2 }), bool(true)], loop: condLoop, unrolled: condUnrolled },
  { name: 'cond, false branch taken', inputs: [randomArray([2, 3], { seed: 3 }), randomArray([2, 3], { seed: 4 }), bool(false)], loop: condLoop, unrolled: condUnrolled },
  { name: 'product loop (x^5)', inputs: [randomArray([4], { seed: 5, min: 0.5, max: 1.3 })], loop: productLoop, unrolled: productUnrolled },
  {
    name: 'tanh RNN with a captured weight matrix, 5 steps',
    inputs: [randomArray([2, 3], { seed: 6 }), randomArray([3, 3], { seed: 7, min: -0.9, max: 0.9 })],
    loop: rnnLoop,
    unrolled: rnnUnrolled,
  },
  { name: 'loop stopped by maximumIterations', inputs: [randomArray([3], { seed: 8 }), randomArray([3], { seed: 9 })], loop: maxIterLoop, unrolled: maxIterUnrolled },
  {
    name: 'loop reading its inputs from a TensorArray, writing its outputs to one',
    inputs: [randomArray([4, 2, 3], { seed: 10 }), randomArray([2, 3], { seed: 11 }), randomArray([3, 3], { seed: 12, min: -0.8, max: 0.8 })],
    loop: taLoop,
    unrolled: taUnrolled,
  },
  {
    name: 'nested loops (inner trip count from the outer counter), inner body reading only its loop variable',
    inputs: [randomArray([3], { seed: 24, min: 0.2, max: 0.9 })],
    loop: nestedOwnLoop,
    unrolled: nestedOwnUnrolled,
  },
  {
    name: 'nested loops (inner trip count from the outer counter), inner body capturing outer tensors',
    inputs: [randomArray([3], { seed: 13 }), randomArray([3], { seed: 14 })],
    loop: nestedLoop,
    unrolled: nestedUnrolled,
  },
  {
    name: 'loop inside a cond (loop body reading only its loop variable), true branch',
    inputs: [randomArray([3], { seed: 25 }), randomArray([3], { seed: 26 }), bool(true)],
    loop: ownLoopInCond,
    unrolled: ownLoopInCondUnrolled,
  },
  {
    name: 'loop inside a cond (loop body reading only its loop variable), false branch',
    inputs: [randomArray([3], { seed: 27 }), randomArray([3], { seed: 28 }), bool(false)],
    loop: ownLoopInCond,
    unrolled: ownLoopInCondUnrolled,
  },
  {
    name: 'loop inside a cond (loop body capturing w and x), true branch',
    inputs: [randomArray([3], { seed: 15 }), randomArray([3], { seed: 16 }), bool(true)],
    loop: loopInCond,
    unrolled: loopInCondUnrolled,
  },
  {
    name: 'loop inside a cond (loop body capturing w and x), false branch',
    inputs: [randomArray([3], { seed: 17 }), randomArray([3], { seed: 18 }), bool(false)],
    loop: loopInCond,
    unrolled: loopInCondUnrolled,
  },
  {
    name: 'cond inside a loop (both branches taken across iterations)',
    inputs: [f32([0.1, 0.2, 0.3], [3]), f32([1.5, 1.2, 0.8], [3])],
    loop: condInLoop,
    unrolled: condInLoopUnrolled,
  },
  {
    name: 'scan',
    inputs: [randomArray([4, 2], { seed: 19 }), randomArray([2], { seed: 20 }), randomArray([2], { seed: 21, min: -1.2, max: 1.2 })],
    loop: scanLoop,
    unrolled: scanUnrolled,
  },
  { name: 'mapFn with a captured weight', inputs: [randomArray([3, 2], { seed: 22 }), randomArray([2], { seed: 23 })], loop: mapLoop, unrolled: mapUnrolled },
];

describe('gradients through control flow', () => {
  for (const c of cases) {
    describe(c.name, () => {
      const test = it;
      test('match central finite differences', async () => {
        await checkGradients({ ops: [], name: c.name, inputs: c.inputs, build: c.loop, wrt: c.wrt });
      });
      test('match the gradients of the same computation unrolled', async () => {
        await compareUnrolled(c);
      });
    });
  }

  it('product loop: d(x^5)/dx = 5x^4 exactly as the analytic derivative', async () => {
    const g = new tf.Graph();
    const { x, gx } = g.asDefault(() => {
      const x = tf.placeholder('float32', [3], 'x');
      return { x, gx: tf.gradients(productLoop(x), x)[0]! };
    });
    const sess = new tf.Session({ graph: g });
    const xv = [0.5, -1.5, 2];
    expectClose(await sess.run(gx, [[x, f32(xv, [3])]]), xv.map((v) => 5 * v ** 4), { rtol: 1e-5 });
    sess.close();
  });

  it('gradients through a loop with zero iterations pass straight through', async () => {
    const g = new tf.Graph();
    const { x, n, gx, gw } = g.asDefault(() => {
      const x = tf.placeholder('float32', [2], 'x');
      const w = tf.constant([2, 3]);
      const n = tf.placeholder('int32', [], 'n');
      const [, h] = tf.whileLoop((i: T) => tf.less(i, n), (i: T, h: T) => [tf.add(i, 1), tf.multiply(h, w)], [i32(0), x]) as T[];
      const [gx, gw] = tf.gradients(tf.reduceSum(h!), [x, w]);
      return { x, n, gx: gx!, gw: gw! };
    });
    const sess = new tf.Session({ graph: g });
    const feeds = (k: number): [T, tf.NDArray | number][] => [
      [x, f32([1, -1], [2])],
      [n, k],
    ];
    const [gx0, gw0] = await sess.run([gx, gw], feeds(0));
    expectClose(gx0!, [1, 1]);
    expectClose(gw0!, [0, 0]);
    // 2 iterations: h = x w^2; dh/dx = w^2, dh/dw = 2 x w
    const [gx2, gw2] = await sess.run([gx, gw], feeds(2));
    expectClose(gx2!, [4, 9]);
    expectClose(gw2!, [4, -6]);
    sess.close();
  });

  it('backProp: false stops gradients at the loop', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2], 'x');
      const h = tf.whileLoop((i: T) => tf.less(i, 3), (i: T, h: T) => [tf.add(i, 1), tf.multiply(h, 2)], [i32(0), x], { backProp: false }) as T[];
      expect(tf.gradients(tf.reduceSum(h[1]!), x)).toEqual([null]);
    });
  });
});

describe('second-order gradients through cond', () => {
  it('d²/dx² cond(p, x³, x²) is 6x when p holds and 2 otherwise', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder('float32', [3], 'x');
      const p = tf.placeholder('bool', [], 'p');
      const y = tf.cond(p, () => tf.pow(x, 3), () => tf.square(x));
      const [g1] = tf.gradients(tf.reduceSum(y), x);
      const [g2] = tf.gradients(tf.reduceSum(g1!), x);
      return { x, p, g1: g1!, g2: g2! };
    });
    const sess = new tf.Session({ graph: g });
    const xv = [0.5, -1.25, 2];
    const x = f32(xv, [3]);
    const [t1, t2] = await sess.run([r.g1, r.g2], [[r.x, x], [r.p, true]]);
    expectClose(t1!, xv.map((v) => 3 * v * v), { rtol: 1e-5 });
    expectClose(t2!, xv.map((v) => 6 * v), { rtol: 1e-5 });
    const [f1, f2] = await sess.run([r.g1, r.g2], [[r.x, x], [r.p, false]]);
    expectClose(f1!, xv.map((v) => 2 * v), { rtol: 1e-5 });
    expectClose(f2!, [2, 2, 2], { rtol: 1e-5 });
    sess.close();
  });

  it('the second derivative of a cond with a captured tensor in a branch (x³ · c vs. sin-free x·c²)', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder('float32', [], 'x');
      const c = tf.placeholder('float32', [], 'c');
      const p = tf.placeholder('bool', [], 'p');
      // true: c x³ (d/dx = 3 c x², d²/dx² = 6 c x, d/dc of d/dx = 3x²); false: x c² (d/dx = c², d²/dx² = 0, d/dc = 2c)
      const y = tf.cond(p, () => tf.multiply(c, tf.pow(x, 3)), () => tf.multiply(x, tf.square(c)));
      const [gx] = tf.gradients(y, x);
      const [gxx, gxc] = tf.gradients(gx!, [x, c], undefined, { unconnectedGradients: 'zero' });
      return { x, c, p, gx: gx!, gxx: gxx!, gxc: gxc! };
    });
    const sess = new tf.Session({ graph: g });
    const run = (p: boolean) => sess.run([r.gx, r.gxx, r.gxc], [[r.x, 1.5], [r.c, -2], [r.p, p]]);
    const [a, b, c] = await run(true);
    expectClose(a!, 3 * -2 * 2.25);
    expectClose(b!, 6 * -2 * 1.5);
    expectClose(c!, 3 * 2.25);
    const [d, e, f] = await run(false);
    expectClose(d!, 4);
    expectClose(e!, 0);
    expectClose(f!, -4);
    sess.close();
  });
});

describe('more first- and second-order cases', () => {
  async function values<R extends tf.Fetches>(build: () => { fetches: R; init?: tf.Operation }): Promise<tf.FetchResult<R>> {
    const g = new tf.Graph();
    const r = g.asDefault(build);
    const sess = new tf.Session({ graph: g });
    try {
      if (r.init) await sess.run(r.init);
      return await sess.run(r.fetches);
    } finally {
      sess.close();
    }
  }

  it('foldl and foldr: a <- 2a + x gives weights 4, 2, 1 from the left and 1, 2, 4 from the right', async () => {
    const [gl, gr] = await values(() => {
      const x = tf.constant([1, 2, 3]);
      const step = (a: T, e: T) => tf.add(tf.multiply(a, 2), e);
      return { fetches: [tf.gradients(tf.foldl(step, x), x)[0]!, tf.gradients(tf.foldr(step, x), x)[0]!] };
    });
    expectClose(gl!, [4, 2, 1]);
    expectClose(gr!, [1, 2, 4]);
  });

  it('variables read in a cond branch and in a loop body get their gradients', async () => {
    const [gc1, gc2, gl] = await values(() => {
      const v = new tf.Variable(f32([3], []), { name: 'v' });
      const pick = (b: boolean) => tf.cond(tf.constant(b), () => tf.square(v.value()), () => tf.multiply(v.value(), 5));
      const pow = (tf.whileLoop((i: T) => tf.less(i, 3), (i: T, a: T) => [tf.add(i, 1), tf.multiply(a, v)], [i32(0), tf.constant(1)]) as T[])[1]!;
      return {
        fetches: [tf.gradients(pick(true), [v])[0]!, tf.gradients(pick(false), [v])[0]!, tf.gradients(pow, [v])[0]!],
        init: tf.globalVariablesInitializer(),
      };
    });
    expectClose(gc1!, 6);
    expectClose(gc2!, 5);
    expectClose(gl!, 27); // d(v^3)/dv at 3
  });

  it('a cond whose predicate depends on x differentiates the branch taken', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder('float32', [], 'x');
      const y = tf.cond(tf.greater(x, 0), () => tf.square(x), () => tf.negative(x));
      return { x, gx: tf.gradients(y, x)[0]! };
    });
    const sess = new tf.Session({ graph: g });
    expectClose(await sess.run(r.gx, [[r.x, 3]]), 6);
    expectClose(await sess.run(r.gx, [[r.x, -3]]), -1);
    sess.close();
  });

  it('gradients through a loop over a placeholder with an unknown batch dim, fed two batch sizes', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 2], 'x');
      const y = (tf.whileLoop((i: T) => tf.less(i, 2), (i: T, a: T) => [tf.add(i, 1), tf.multiply(a, a)], [i32(0), x]) as T[])[1]!;
      return { x, gx: tf.gradients(tf.reduceSum(y), x)[0]! };
    });
    const sess = new tf.Session({ graph: g });
    const xv = [1, 2, 3, 0.5, -1, 1];
    expectClose(await sess.run(r.gx, [[r.x, f32(xv, [3, 2])]]), xv.map((v) => 4 * v ** 3), { shape: [3, 2] });
    expectClose(await sess.run(r.gx, [[r.x, f32([1, 2], [1, 2])]]), [4, 32], { shape: [1, 2] });
    sess.close();
  });

  // tf.case builds nested conds, each inner one capturing x from the outer branch.
  it('tf.case: the gradient of the function chosen (x², 7x, default x³)', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder('float32', [], 'x');
      const k = tf.placeholder('int32', [], 'k');
      const y = tf.case(
        [
          [tf.equal(k, 0), () => tf.square(x)],
          [tf.equal(k, 1), () => tf.multiply(x, 7)],
        ],
        { default: () => tf.pow(x, 3) },
      );
      return { x, k, gx: tf.gradients(y, x)[0]! };
    });
    const sess = new tf.Session({ graph: g });
    const want = [4, 7, 12];
    for (const k of [0, 1, 2]) expectClose(await sess.run(r.gx, [[r.x, 2], [r.k, k]]), want[k]!);
    sess.close();
  });

  // The gradient loop reads the forward intermediates from accumulators: the second gradient must
  // differentiate through them too.
  it('second-order gradients through a whileLoop (x³ by a product loop; x² by one squaring)', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder('float32', [], 'x');
      const cube = productLoopN(x, 3);
      const sq = (tf.whileLoop((i: T) => tf.less(i, 1), (i: T, a: T) => [tf.add(i, 1), tf.square(a)], [i32(0), x]) as T[])[1]!;
      const d1 = tf.gradients(cube, x)[0]!;
      const e1 = tf.gradients(sq, x)[0]!;
      return { x, d1, d2: tf.gradients(d1, x)[0]!, e1, e2: tf.gradients(e1, x)[0]! };
    });
    const sess = new tf.Session({ graph: g });
    const [d1, d2, e1, e2] = await sess.run([r.d1, r.d2, r.e1, r.e2], [[r.x, 2]]);
    expectClose(d1!, 12);
    expectClose(e1!, 4);
    expectClose(e2!, 2);
    expectClose(d2!, 12);
    sess.close();
  });
});

describe('several gradient calls on one loop', () => {
  it('tf.gradients twice on the same loop (two losses) gives each its own correct gradient', async () => {
    const x = randomArray([2, 3], { seed: 31 });
    const W = randomArray([3, 3], { seed: 32, min: -0.9, max: 0.9 });
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const xp = tf.placeholder('float32', [2, 3], 'x');
      const Wp = tf.placeholder('float32', [3, 3], 'W');
      const h = rnnLoop(xp, Wp);
      const loss1 = tf.reduceSum(h);
      const loss2 = tf.reduceSum(tf.square(h));
      const g1 = tf.gradients(loss1, [xp, Wp]) as T[];
      const g2 = tf.gradients(loss2, [xp, Wp]) as T[];
      // and both losses at once: the sum of the two
      const g12 = tf.gradients([loss1, loss2], [xp, Wp]) as T[];
      const hu = rnnUnrolled([xp, Wp]);
      const u1 = tf.gradients(tf.reduceSum(hu), [xp, Wp]) as T[];
      const u2 = tf.gradients(tf.reduceSum(tf.square(hu)), [xp, Wp]) as T[];
      return { xp, Wp, g1, g2, g12, u1, u2 };
    });
    const sess = new tf.Session({ graph: g });
    const out = await sess.run({ g1: r.g1, g2: r.g2, g12: r.g12, u1: r.u1, u2: r.u2 }, [
      [r.xp, x],
      [r.Wp, W],
    ]);
    for (let k = 0; k < 2; k++) {
      expectClose(out.g1[k]!, out.u1[k]!, { rtol: 1e-5, atol: 1e-6 });
      expectClose(out.g2[k]!, out.u2[k]!, { rtol: 1e-5, atol: 1e-6 });
      const sum = new tf.NDArray(Float32Array.from(out.u1[k]!.data as Float32Array, (v, i) => v + (out.u2[k]!.data as Float32Array)[i]!), out.u1[k]!.shape);
      expectClose(out.g12[k]!, sum, { rtol: 1e-5, atol: 1e-6 });
    }
    // the two losses' gradients really differ
    expect(out.g1[0]!.toFlat()).not.toEqual(out.g2[0]!.toFlat());
    sess.close();
  });

  it('trains a loop RNN weight with gradient descent: the loss goes down', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      tf.setRandomSeed(3);
      const W = new tf.Variable(randomArray([3, 3], { seed: 41, min: -0.5, max: 0.5 }), { name: 'W' });
      const x = tf.constant(randomArray([4, 3], { seed: 42 }));
      const target = tf.constant(randomArray([4, 3], { seed: 43, min: -0.5, max: 0.5 }));
      const h = (tf.whileLoop((i: T) => tf.less(i, 3), (i: T, h: T) => [tf.add(i, 1), tf.tanh(tf.matmul(h, W))], [i32(0), x]) as T[])[1]!;
      const loss = tf.reduceMean(tf.square(tf.subtract(h, target)));
      const train = new tf.train.GradientDescentOptimizer(0.5).minimize(loss);
      return { loss, train, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(r.init);
    const first = Number((await sess.run(r.loss)).data[0]);
    for (let k = 0; k < 20; k++) await sess.run(r.train);
    const last = Number((await sess.run(r.loss)).data[0]);
    expect(last).toBeLessThan(first * 0.9);
    sess.close();
  });
});
