// Functional control flow: tf.cond, tf.case, tf.whileLoop, tf.TensorArray, tf.mapFn/scan/foldl/foldr.
// Values are computed by hand (or by a plain JS loop) and compared; errors are checked for their
// class and for naming the loop, cond or variable at fault; loop graphs also run in unoptimized
// sessions, under verification runs, and overlapped with Promise.all.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose, randomArray } from './helpers.js';

type T = tf.Tensor;

/** Builds in a fresh graph and opens a session over it (optimized unless told otherwise). */
function inGraph<R>(fn: () => R, opts: { optimize?: boolean } = {}): [tf.Session, R, tf.Graph] {
  const g = new tf.Graph();
  const r = g.asDefault(fn);
  return [new tf.Session({ graph: g, ...opts }), r, g];
}

const i32 = (v: number) => tf.constant(v, 'int32');
const f32 = (v: number[], shape: number[]) => new tf.NDArray(Float32Array.from(v), shape);
const flat = (a: tf.NDArray) => Array.from(a.data as ArrayLike<number>, Number);

/** Sets WEIR_VERIFY_OPT for the tests of the enclosing describe, restoring it after each. */
function withVerify(value: '0' | '1'): void {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.WEIR_VERIFY_OPT;
    process.env.WEIR_VERIFY_OPT = value;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.WEIR_VERIFY_OPT;
    else process.env.WEIR_VERIFY_OPT = saved;
  });
}

/** Expects fn to throw a ValueError (an InvalidArgumentError) whose message matches every pattern. */
function expectValueError(fn: () => unknown, ...patterns: (string | RegExp)[]): tf.ValueError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'an error was thrown').toBeDefined();
  expect(err).toBeInstanceOf(tf.ValueError);
  expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
  const msg = (err as Error).message;
  for (const p of patterns) {
    if (typeof p === 'string') expect(msg).toContain(p);
    else expect(msg).toMatch(p);
  }
  return err as tf.ValueError;
}

// ---------------------------------------------------------------------------------------------
// Graph builders shared by the value tests, the optimize/verify comparisons and the concurrency tests

/** i from 0 while i < 10: 10. */
function countTo10(): T {
  return tf.whileLoop((i: T) => tf.less(i, 10), (i: T) => tf.add(i, 1), [i32(0)]) as unknown as T;
}

/** Collatz steps of a fed n (cond inside the loop body). */
function collatz(): { n: T; steps: T } {
  const n = tf.placeholder('int32', [], 'n');
  const [, steps] = tf.whileLoop(
    (x: T) => tf.greater(x, 1),
    (x: T, s: T) => [tf.cond(tf.equal(tf.floorMod(x, 2), 0), () => tf.floorDiv(x, 2), () => tf.add(tf.multiply(x, 3), 1)), tf.add(s, 1)],
    [n, i32(0)],
  ) as T[];
  return { n, steps: steps! };
}
function collatzJs(n: number): number {
  let s = 0;
  while (n > 1) {
    n = n % 2 === 0 ? n / 2 : 3 * n + 1;
    s++;
  }
  return s;
}

/** h <- tanh(h W + b) for k steps over a fed batch x: [?, 3] (captured weights, unknown batch). */
function batchRnn(k: number): { x: T; h: T; W: tf.NDArray; b: tf.NDArray } {
  const W = randomArray([3, 3], { seed: 7, min: -0.8, max: 0.8 });
  const b = randomArray([3], { seed: 8, min: -0.2, max: 0.2 });
  const x = tf.placeholder('float32', [null, 3], 'x');
  const Wt = tf.constant(W);
  const bt = tf.constant(b);
  const [, h] = tf.whileLoop((i: T) => tf.less(i, k), (i: T, h: T) => [tf.add(i, 1), tf.tanh(tf.add(tf.matmul(h, Wt), bt))], [i32(0), x]) as T[];
  return { x, h: h!, W, b };
}
function batchRnnJs(x: tf.NDArray, W: tf.NDArray, b: tf.NDArray, k: number): number[] {
  const n = x.shape[0]!;
  const w = flat(W);
  const bb = flat(b);
  let h = flat(x);
  for (let t = 0; t < k; t++) {
    const nh = new Array<number>(n * 3).fill(0);
    for (let r = 0; r < n; r++)
      for (let c = 0; c < 3; c++) {
        let s = bb[c]!;
        for (let j = 0; j < 3; j++) s += h[r * 3 + j]! * w[j * 3 + c]!;
        nh[r * 3 + c] = Math.tanh(s);
      }
    h = nh;
  }
  return h;
}

/** dynamic_rnn's loop: unstack inputs [T, B, D], read x_t, h = tanh(x_t U + h W), write h at t, stack. */
function taRnn(): { xs: T; h0: T; outputs: T; last: T; U: tf.NDArray; W: tf.NDArray } {
  const U = randomArray([3, 2], { seed: 21, min: -0.7, max: 0.7 });
  const W = randomArray([2, 2], { seed: 22, min: -0.7, max: 0.7 });
  const xs = tf.placeholder('float32', [4, 2, 3], 'xs');
  const h0 = tf.placeholder('float32', [2, 2], 'h0');
  const Ut = tf.constant(U);
  const Wt = tf.constant(W);
  const inputs = new tf.TensorArray('float32', { size: 4 }).unstack(xs);
  const out0 = new tf.TensorArray('float32', { size: 4 });
  const [, last, out] = tf.whileLoop(
    (t: T) => tf.less(t, 4),
    (t: T, h: T, ta: tf.TensorArray) => {
      const nh = tf.tanh(tf.add(tf.matmul(inputs.read(t), Ut), tf.matmul(h, Wt)));
      return [tf.add(t, 1), nh, ta.write(t, nh)];
    },
    [i32(0), h0, out0],
  ) as [T, T, tf.TensorArray];
  return { xs, h0, outputs: out.stack(), last, U, W };
}
function taRnnJs(xs: tf.NDArray, h0: tf.NDArray, U: tf.NDArray, W: tf.NDArray): number[][] {
  const x = flat(xs);
  const u = flat(U);
  const w = flat(W);
  let h = flat(h0);
  const outs: number[][] = [];
  for (let t = 0; t < 4; t++) {
    const nh: number[] = [];
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 2; c++) {
        let s = 0;
        for (let d = 0; d < 3; d++) s += x[t * 6 + b * 3 + d]! * u[d * 2 + c]!;
        for (let j = 0; j < 2; j++) s += h[b * 2 + j]! * w[j * 2 + c]!;
        nh.push(Math.tanh(s));
      }
    h = nh;
    outs.push(nh);
  }
  return outs;
}

// ---------------------------------------------------------------------------------------------

describe('tf.whileLoop', () => {
  it('counts i from 0 while i < 10 to 10, with a static scalar shape', async () => {
    const [sess, r] = inGraph(countTo10);
    expect(r.dtype).toBe('int32');
    expect(r.shape).toEqual([]);
    expect((await sess.run(r)).toFlat()).toEqual([10]);
    sess.close();
  });

  it('runs zero times when cond is false at once, returning the initial values', async () => {
    const [sess, r] = inGraph(() => {
      let bodyCalls = 0;
      const out = tf.whileLoop(
        (i: T) => tf.less(i, 0),
        (i: T, x: T) => {
          bodyCalls++;
          return [tf.add(i, 1), tf.multiply(x, 100)];
        },
        [i32(5), tf.constant([1.5, -2])],
      ) as T[];
      return { out, bodyCalls };
    });
    expect(r.bodyCalls).toBe(1); // traced once, run never
    const [i, x] = await sess.run(r.out);
    expect(i!.toFlat()).toEqual([5]);
    expectClose(x!, [1.5, -2]);
    sess.close();
  });

  it('stops after maximumIterations even though cond still holds (constant and fed)', async () => {
    const [sess, r] = inGraph(() => {
      const m = tf.placeholder('int32', [], 'm');
      const fixed = tf.whileLoop((i: T) => tf.less(i, 100), (i: T) => tf.add(i, 1), [i32(0)], { maximumIterations: 7 }) as unknown as T;
      const [, acc] = tf.whileLoop(() => tf.constant(true), (i: T, a: T) => [tf.add(i, 1), tf.multiply(a, 2)], [i32(0), tf.constant(1)], {
        maximumIterations: m,
      }) as T[];
      // cond stops first: maximumIterations larger than the trip count changes nothing
      const early = tf.whileLoop((i: T) => tf.less(i, 3), (i: T) => tf.add(i, 1), [i32(0)], { maximumIterations: 50 }) as unknown as T;
      return { m, fixed, acc: acc!, early };
    });
    expect((await sess.run(r.fixed)).toFlat()).toEqual([7]);
    expect((await sess.run(r.early)).toFlat()).toEqual([3]);
    expectClose(await sess.run(r.acc, [[r.m, 5]]), 32);
    expectClose(await sess.run(r.acc, [[r.m, 0]]), 1);
    sess.close();
  });

  it('nests loops: an inner loop whose trip count is the outer counter', async () => {
    const [sess, r] = inGraph(() => {
      const n = tf.placeholder('int32', [], 'n');
      const [, total, prod] = tf.whileLoop(
        (i: T) => tf.less(i, n),
        (i: T, s: T, p: T) => {
          // inner: j from 0 to i, adding 1 each time and multiplying p by (j + 1)
          const [, s2, p2] = tf.whileLoop(
            (j: T) => tf.less(j, i),
            (j: T, a: T, q: T) => [tf.add(j, 1), tf.add(a, 1), tf.multiply(q, tf.cast(tf.add(j, 1), 'float32'))],
            [i32(0), s, p],
          ) as T[];
          return [tf.add(i, 1), s2, p2];
        },
        [i32(0), i32(0), tf.constant(1)],
      ) as T[];
      return { n, total: total!, prod: prod! };
    });
    // total = sum_{i<n} i; prod = prod_{i<n} i!
    for (const n of [0, 1, 4, 5]) {
      const [total, prod] = await sess.run([r.total, r.prod], [[r.n, n]]);
      let s = 0;
      let p = 1;
      for (let i = 0; i < n; i++) {
        s += i;
        for (let j = 0; j < i; j++) p *= j + 1;
      }
      expect(total!.toFlat(), `n=${n}`).toEqual([s]);
      expectClose(prod!, p);
    }
    sess.close();
  });

  it('runs a cond inside the loop body (Collatz steps)', async () => {
    const [sess, r] = inGraph(collatz);
    for (const n of [1, 6, 7, 27]) expect((await sess.run(r.steps, [[r.n, n]])).toFlat(), `n=${n}`).toEqual([collatzJs(n)]);
    expect(collatzJs(27)).toBe(111);
    sess.close();
  });

  it('runs a loop inside a cond branch, only when that branch is taken', async () => {
    const [sess, r] = inGraph(() => {
      const p = tf.placeholder('bool', [], 'p');
      const x = tf.placeholder('float32', [], 'x');
      const y = tf.cond(
        p,
        () => tf.whileLoop((i: T) => tf.less(i, 4), (i: T, a: T) => [tf.add(i, 1), tf.add(tf.multiply(a, 2), 1)], [i32(0), x])[1] as T,
        () => tf.multiply(x, 10),
      );
      return { p, x, y };
    });
    // true: a <- 2a + 1 four times: 16x + 15
    expectClose(await sess.run(r.y, [[r.p, true], [r.x, 2]]), 47);
    expectClose(await sess.run(r.y, [[r.p, false], [r.x, 2]]), 20);
    sess.close();
  });

  it('carries an object of nested loop variables (passed as one argument)', async () => {
    const [sess, r] = inGraph(() => {
      type S = { i: T; fib: [T, T]; log: { sum: T } };
      const init: S = { i: i32(0), fib: [tf.constant(0), tf.constant(1)], log: { sum: tf.constant(0) } };
      const out = tf.whileLoop(
        (s: S) => tf.less(s.i, 10),
        (s: S): S => ({ i: tf.add(s.i, 1), fib: [s.fib[1], tf.add(s.fib[0], s.fib[1])], log: { sum: tf.add(s.log.sum, s.fib[0]) } }),
        init,
      ) as S;
      return out;
    });
    expect(Object.keys(r).sort()).toEqual(['fib', 'i', 'log']);
    expect(r.fib).toHaveLength(2);
    const [i, a, b, sum] = await sess.run([r.i, r.fib[0], r.fib[1], r.log.sum]);
    expect(i!.toFlat()).toEqual([10]);
    expectClose(a!, 55); // fib(10)
    expectClose(b!, 89);
    expectClose(sum!, 88); // fib(0) + ... + fib(9)
    sess.close();
  });

  it('spreads a list of loop variables whose elements are nested lists', async () => {
    const [sess, r] = inGraph(() => {
      const out = tf.whileLoop(
        (i: T, pair: [T, T]) => tf.logicalAnd(tf.less(i, 6), tf.less(pair[0], 1000)),
        (i: T, pair: [T, T], rest: [[T]]) => [tf.add(i, 1), [tf.multiply(pair[0], 3), tf.add(pair[1], pair[0])], [[tf.subtract(rest[0][0], 1)]]],
        [i32(0), [tf.constant(1), tf.constant(0)], [[tf.constant(10)]]],
      ) as [T, [T, T], [[T]]];
      return out;
    });
    expect(Array.isArray(r[1]) && Array.isArray(r[2]) && Array.isArray(r[2][0])).toBe(true);
    const [i, p0, p1, z] = await sess.run([r[0], r[1][0], r[1][1], r[2][0][0]]);
    // p0 = 3^6 = 729, p1 = 1 + 3 + ... + 243 = 364
    expect(i!.toFlat()).toEqual([6]);
    expectClose(p0!, 729);
    expectClose(p1!, 364);
    expectClose(z!, 4);
    sess.close();
  });

  it('returns a one-variable list as a bare tensor, or as a list with returnSameStructure', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const bare = tf.whileLoop((i: T) => tf.less(i, 3), (i: T) => tf.add(i, 1), [i32(0)]);
      expect(bare).toBeInstanceOf(tf.Tensor);
      const list = tf.whileLoop((i: T) => tf.less(i, 3), (i: T) => [tf.add(i, 1)], [i32(0)], { returnSameStructure: true });
      expect(Array.isArray(list)).toBe(true);
      expect((list as unknown as T[])[0]).toBeInstanceOf(tf.Tensor);
    });
  });

  it('grows a vector by concat from shape [1] to [n] under a shape invariant with a null dim', async () => {
    const [sess, r] = inGraph(() => {
      const n = tf.placeholder('int32', [], 'n');
      const [, v] = tf.whileLoop(
        (i: T) => tf.less(i, n),
        (i: T, v: T) => [tf.add(i, 1), tf.concat([v, tf.reshape(tf.cast(tf.multiply(i, i), 'float32'), [1])], 0)],
        [i32(1), tf.constant([0])],
        { shapeInvariants: [[], [null]] },
      ) as T[];
      return { n, v: v! };
    });
    expect(r.v.shape).toEqual([null]);
    const v5 = await sess.run(r.v, [[r.n, 5]]);
    expect(v5.shape).toEqual([5]);
    expectClose(v5, [0, 1, 4, 9, 16]);
    const v1 = await sess.run(r.v, [[r.n, 1]]);
    expectClose(v1, [0], { shape: [1] });
    sess.close();
  });

  it('takes a placeholder with an unknown batch dim through the loop (batch 3, then 5, one session)', async () => {
    const [sess, r] = inGraph(() => batchRnn(3));
    expect(r.h.shape).toEqual([null, 3]);
    for (const [n, seed] of [
      [3, 1],
      [5, 2],
      [3, 3],
    ] as const) {
      const x = randomArray([n, 3], { seed });
      const h = await sess.run(r.h, [[r.x, x]]);
      expect(h.shape).toEqual([n, 3]);
      expectClose(h, batchRnnJs(x, r.W, r.b, 3));
    }
    sess.close();
  });

  it('reads variables captured by the body, seeing assignments made between runs', async () => {
    const [sess, r] = inGraph(() => {
      const w = new tf.Variable(f32([2], []), { name: 'w' });
      const M = new tf.Variable(f32([1, 1, 0, 1], [2, 2]), { name: 'M' });
      const [, a, v] = tf.whileLoop(
        (i: T) => tf.less(i, 3),
        (i: T, a: T, v: T) => [tf.add(i, 1), tf.multiply(a, w), tf.matmul(v, M)],
        [i32(0), tf.constant(1), tf.constant([[1, 0]])],
      ) as T[];
      const setW = w.assign(3);
      return { a: a!, v: v!, setW, init: tf.globalVariablesInitializer() };
    });
    await sess.run(r.init);
    const [a, v] = await sess.run([r.a, r.v]);
    expectClose(a!, 8);
    expectClose(v!, [1, 3]); // [1,0]·[[1,1],[0,1]]^3
    await sess.run(r.setW);
    expectClose(await sess.run(r.a), 27);
    sess.close();
  });

  it('runs tf.assignAdd in the body once per iteration (used, and unused by the results)', async () => {
    const [sess, r] = inGraph(() => {
      const c = new tf.Variable(f32([0], []), { name: 'counter' });
      const d = new tf.Variable(f32([0], []), { name: 'unused' });
      const n = tf.placeholder('int32', [], 'n');
      const out = tf.whileLoop(
        (i: T) => tf.less(i, n),
        (i: T, s: T) => {
          tf.assignAdd(d, 2); // its result feeds nothing: a stateful body op still runs
          const after = tf.assignAdd(c, 1);
          return [tf.add(i, 1), tf.add(s, after)];
        },
        [i32(0), tf.constant(0)],
      ) as T[];
      return { n, s: out[1]!, c, d, init: tf.globalVariablesInitializer() };
    });
    await sess.run(r.init);
    expectClose(await sess.run(r.s, [[r.n, 4]]), 1 + 2 + 3 + 4);
    expectClose(await sess.run(r.c.value()), 4);
    expectClose(await sess.run(r.d.value()), 8);
    expectClose(await sess.run(r.s, [[r.n, 2]]), 5 + 6);
    expectClose(await sess.run(r.c.value()), 6);
    expectClose(await sess.run(r.d.value()), 12);
    // zero iterations: no increments
    await sess.run(r.s, [[r.n, 0]]);
    expectClose(await sess.run(r.c.value()), 6);
    sess.close();
  });

  it('runs a dynamic_rnn-style loop over TensorArrays (unstack, read at t, write at t, stack)', async () => {
    const [sess, r] = inGraph(taRnn);
    expect(r.outputs.shape).toEqual([4, 2, 2]);
    const xs = randomArray([4, 2, 3], { seed: 5 });
    const h0 = randomArray([2, 2], { seed: 6 });
    const [outs, last] = await sess.run([r.outputs, r.last], [[r.xs, xs], [r.h0, h0]]);
    const want = taRnnJs(xs, h0, r.U, r.W);
    expectClose(outs!, want.flat(), { shape: [4, 2, 2] });
    expectClose(last!, want[3]!, { shape: [2, 2] });
    sess.close();
  });

  it('grows a dynamicSize TensorArray in a loop and reads its size', async () => {
    const [sess, r] = inGraph(() => {
      const n = tf.placeholder('int32', [], 'n');
      const [, ta] = tf.whileLoop(
        (i: T) => tf.less(i, n),
        (i: T, ta: tf.TensorArray) => [tf.add(i, 1), ta.write(i, tf.fill([2], tf.cast(tf.square(i), 'float32')))],
        [i32(0), new tf.TensorArray('float32', { dynamicSize: true, size: 0 })],
      ) as [T, tf.TensorArray];
      return { n, stacked: ta.stack(), size: ta.size(), gathered: ta.gather([2, 0]) };
    });
    const [stacked, size, gathered] = await sess.run([r.stacked, r.size, r.gathered], [[r.n, 4]]);
    expect(size!.toFlat()).toEqual([4]);
    expectClose(stacked!, [0, 0, 1, 1, 4, 4, 9, 9], { shape: [4, 2] });
    expectClose(gathered!, [4, 4, 0, 0], { shape: [2, 2] });
    sess.close();
  });
});

describe('tf.cond and tf.case', () => {
  it('runs the branch the predicate picks, with captured tensors and nested results', async () => {
    const [sess, r] = inGraph(() => {
      const p = tf.placeholder('bool', [], 'p');
      const x = tf.placeholder('float32', [2], 'x');
      const out = tf.cond(
        p,
        () => ({ a: tf.multiply(x, 2), b: [tf.reduceSum(x)] }),
        () => ({ a: tf.negative(x), b: [tf.constant(-1)] }),
      );
      return { p, x, out };
    });
    const x = f32([1.5, 2], [2]);
    const t = await sess.run([r.out.a, r.out.b[0]!], [[r.p, true], [r.x, x]]);
    expectClose(t[0]!, [3, 4]);
    expectClose(t[1]!, 3.5);
    const f = await sess.run([r.out.a, r.out.b[0]!], [[r.p, false], [r.x, x]]);
    expectClose(f[0]!, [-1.5, -2]);
    expectClose(f[1]!, -1);
    sess.close();
  });

  it('only runs the effects of the branch taken', async () => {
    const [sess, r] = inGraph(() => {
      const v = new tf.Variable(f32([0], []), { name: 'v' });
      const p = tf.placeholder('bool', [], 'p');
      const y = tf.cond(p, () => tf.assignAdd(v, 1), () => tf.add(v.value(), 100));
      return { v, p, y, init: tf.globalVariablesInitializer() };
    });
    await sess.run(r.init);
    expectClose(await sess.run(r.y, [[r.p, true]]), 1);
    expectClose(await sess.run(r.y, [[r.p, false]]), 101);
    expectClose(await sess.run(r.y, [[r.p, true]]), 2);
    expectClose(await sess.run(r.v.value()), 2);
    sess.close();
  });

  it('tf.case with a default picks the first predicate that holds, else the default', async () => {
    const [sess, r] = inGraph(() => {
      const x = tf.placeholder('int32', [], 'x');
      const y = tf.case(
        [
          [tf.less(x, 0), () => i32(-1)],
          [tf.equal(x, 0), () => i32(0)],
          [tf.less(x, 10), () => tf.multiply(x, 10)], // x = 1..9
        ],
        { default: () => i32(999) },
      );
      return { x, y };
    });
    const cases: [number, number][] = [
      [-5, -1],
      [0, 0],
      [3, 30],
      [9, 90],
      [10, 999],
      [50, 999],
    ];
    for (const [x, want] of cases) expect((await sess.run(r.y, [[r.x, x]])).toFlat(), `x=${x}`).toEqual([want]);
    sess.close();
  });

  it('tf.case without a default runs the last function when no predicate holds', async () => {
    const [sess, r] = inGraph(() => {
      const x = tf.placeholder('float32', [], 'x');
      const y = tf.case([
        [tf.less(x, 0), () => tf.constant(-1)],
        [tf.greater(x, 100), () => tf.multiply(x, 2)],
      ]);
      return { x, y };
    });
    expectClose(await sess.run(r.y, [[r.x, -3]]), -1);
    expectClose(await sess.run(r.y, [[r.x, 200]]), 400);
    expectClose(await sess.run(r.y, [[r.x, 7]]), 14); // none holds: the last pair's function
    sess.close();
  });
});

describe('tf.mapFn, tf.scan, tf.foldl, tf.foldr', () => {
  it('mapFn over the rows of a matrix', async () => {
    const [sess, r] = inGraph(() => {
      const m = tf.constant([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const sq = tf.mapFn((row: T) => tf.add(tf.multiply(row, row), 1), m);
      const sums = tf.mapFn((row: T) => tf.reduceSum(row), m);
      const pair = tf.mapFn(([a, b]: [T, T]) => [tf.add(a, b), tf.multiply(a, b)], [tf.constant([1, 2, 3]), tf.constant([10, 20, 30])]) as unknown as T[];
      return { sq, sums, pair };
    });
    expect(r.sq.shape).toEqual([2, 3]);
    const [sq, sums, p0, p1] = await sess.run([r.sq, r.sums, r.pair[0]!, r.pair[1]!]);
    expectClose(sq!, [2, 5, 10, 17, 26, 37], { shape: [2, 3] });
    expectClose(sums!, [6, 15], { shape: [2] });
    expectClose(p0!, [11, 22, 33]);
    expectClose(p1!, [10, 40, 90]);
    sess.close();
  });

  it('mapFn with a dtype other than the elements’ (int32 -> float32, float32 -> bool)', async () => {
    const [sess, r] = inGraph(() => {
      const ints = tf.constant([1, 2, 3, 4], 'int32');
      const halves = tf.mapFn((x: T) => tf.multiply(tf.cast(x, 'float32'), 0.5), ints, { dtype: 'float32' });
      const m = tf.constant([
        [1, -2],
        [-3, 1],
        [2, 2],
      ]);
      const pos = tf.mapFn((row: T) => tf.greater(tf.reduceSum(row), 0), m, { dtype: 'bool' });
      return { halves, pos };
    });
    expect(r.halves.dtype).toBe('float32');
    expect(r.pos.dtype).toBe('bool');
    const [h, p] = await sess.run([r.halves, r.pos]);
    expectClose(h!, [0.5, 1, 1.5, 2]);
    expect(p!.toFlat().map(Boolean)).toEqual([false, false, true]);
    sess.close();
  });

  it('mapFn over a fed matrix with an unknown number of rows', async () => {
    const [sess, r] = inGraph(() => {
      const m = tf.placeholder('float32', [null, 2], 'm');
      return { m, y: tf.mapFn((row: T) => tf.multiply(row, tf.reduceSum(row)), m) };
    });
    expectClose(await sess.run(r.y, [[r.m, f32([1, 2, 3, 4, 0, 5], [3, 2])]]), [3, 6, 21, 28, 0, 25]);
    expectClose(await sess.run(r.y, [[r.m, f32([1, 1], [1, 2])]]), [2, 2]);
    sess.close();
  });

  // a <- 2a + x over [1, 2, 3]: order matters, so each direction has its own answer
  const step = (a: T, x: T) => tf.add(tf.multiply(a, 2), x);

  it('scan with and without an initializer, and reversed', async () => {
    const [sess, r] = inGraph(() => {
      const xs = tf.constant([1, 2, 3]);
      return {
        init: tf.scan(step, xs, tf.constant(10)),
        noInit: tf.scan(step, xs),
        rev: tf.scan(step, xs, tf.constant(10), { reverse: true }),
        revNoInit: tf.scan(step, xs, undefined, { reverse: true }),
        vec: tf.scan((a: T, x: T) => tf.add(a, x), tf.constant([[1, 2], [3, 4], [5, 6]]), tf.constant([0, 100])),
      };
    });
    const out = await sess.run(r);
    expectClose(out.init, [21, 44, 91]); // 20+1, 42+2, 88+3
    expectClose(out.noInit, [1, 4, 11]);
    expectClose(out.rev, [1 + 2 * (2 + 2 * 23), 2 + 2 * 23, 23]); // from the end: 23, 48, 97
    expectClose(out.revNoInit, [17, 8, 3]);
    expectClose(out.vec, [1, 102, 4, 106, 9, 112], { shape: [3, 2] });
    sess.close();
  });

  it('foldl and foldr with and without an initializer', async () => {
    const [sess, r] = inGraph(() => {
      const xs = tf.constant([1, 2, 3]);
      return {
        l: tf.foldl(step, xs, tf.constant(10)),
        lNo: tf.foldl(step, xs),
        r: tf.foldr(step, xs, tf.constant(10)),
        rNo: tf.foldr(step, xs),
        // a structured accumulator: [sum, product]
        both: tf.foldl(([s, p]: [T, T], x: T) => [tf.add(s, x), tf.multiply(p, x)], tf.constant([2, 3, 4]), [tf.constant(0), tf.constant(1)]) as unknown as T[],
      };
    });
    const [l, lNo, rr, rNo, s, p] = await sess.run([r.l, r.lNo, r.r, r.rNo, r.both[0]!, r.both[1]!]);
    expectClose(l!, 91);
    expectClose(lNo!, 11);
    expectClose(rr!, 97);
    expectClose(rNo!, 17);
    expectClose(s!, 9);
    expectClose(p!, 24);
    sess.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe('control-flow errors', () => {
  it('cond: a non-bool or non-scalar predicate', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.constant(1);
      expectValueError(() => tf.cond(tf.constant(1.5, undefined, undefined, 'fpred'), () => x, () => x, { name: 'mycond' }), 'mycond', 'fpred', 'bool', 'float32');
      expectValueError(() => tf.cond(tf.constant([true, false], 'bool', undefined, 'vpred'), () => x, () => x, { name: 'vcond' }), 'vcond', 'vpred', 'scalar');
    });
  });

  it('cond: branches returning different structures or dtypes', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const p = tf.placeholder('bool', []);
      const x = tf.constant(1);
      expectValueError(() => tf.cond<unknown>(p, () => [x, x], () => x, { name: 'structcond' }), 'structcond', 'same structure');
      expectValueError(() => tf.cond<unknown>(p, () => ({ a: x }), () => ({ b: x }), { name: 'keycond' }), 'keycond');
      expectValueError(
        () => tf.cond(p, () => tf.constant(1, 'float32', undefined, 'fout'), () => tf.constant(1, 'int32', undefined, 'iout'), { name: 'dtcond' }),
        'dtcond',
        'float32',
        'int32',
        /fout|iout/,
      );
    });
  });

  it('whileLoop: a cond that is not a scalar bool', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expectValueError(() => tf.whileLoop((i: T) => tf.add(i, 1), (i: T) => tf.add(i, 1), [i32(0)], { name: 'intloop' }), 'intloop', 'cond', 'int32');
      expectValueError(
        () => tf.whileLoop((v: T) => tf.less(v, 3), (v: T) => tf.add(v, 1), [tf.constant([1, 2])], { name: 'vecloop' }),
        'vecloop',
        'cond',
        'scalar',
        '[2]',
      );
    });
  });

  it('whileLoop: a loop variable changing dtype', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.constant(1, 'int32', undefined, 'counter_init');
      expectValueError(
        () => tf.whileLoop((i: T) => tf.less(i, 3), (i: T) => tf.cast(tf.add(i, 1), 'float32'), [x], { name: 'dtloop' }),
        'dtloop',
        'loop variable 0',
        'counter_init',
        'int32',
        'float32',
      );
    });
  });

  it('whileLoop: a loop variable changing shape without a shape invariant, and a bad invariant', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const v = tf.constant([0], undefined, undefined, 'grows');
      expectValueError(
        () => tf.whileLoop((i: T) => tf.less(i, 3), (i: T, v: T) => [tf.add(i, 1), tf.concat([v, v], 0)], [i32(0), v], { name: 'shapeloop' }),
        'shapeloop',
        'loop variable 1',
        'grows',
        '[1]',
        'shapeInvariants',
      );
      // an invariant that does not admit the initial shape
      expectValueError(
        () => tf.whileLoop((i: T) => tf.less(i, 3), (i: T, v: T) => [tf.add(i, 1), v], [i32(0), v], { name: 'badinv', shapeInvariants: [[], [2]] }),
        'badinv',
        'loop variable 1',
      );
      // an invariant with the wrong rank for what the body returns
      expectValueError(
        () =>
          tf.whileLoop((i: T) => tf.less(i, 3), (i: T, v: T) => [tf.add(i, 1), tf.reshape(v, [1, 1])], [i32(0), v], {
            name: 'rankloop',
            shapeInvariants: [[], [null]],
          }),
        'rankloop',
        'loop variable 1',
      );
    });
  });

  it('whileLoop: a body returning another structure', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expectValueError(
        () => tf.whileLoop((i: T) => tf.less(i, 3), (i: T, a: T) => [tf.add(i, 1)], [i32(0), tf.constant(1)], { name: 'structloop' }),
        'structloop',
        'structure',
      );
      expectValueError(
        () => tf.whileLoop((s: { a: T }) => tf.less(s.a, 3), (s: { a: T }) => ({ b: s.a }), { a: i32(0) }, { name: 'keyloop' }),
        'keyloop',
      );
    });
  });

  it('whileLoop: a non-scalar maximumIterations; tf.case with no pairs and no default', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expectValueError(
        () => tf.whileLoop((i: T) => tf.less(i, 3), (i: T) => tf.add(i, 1), [i32(0)], { name: 'maxloop', maximumIterations: tf.constant([1, 2], 'int32') }),
        'maxloop',
        'maximumIterations',
        'scalar',
      );
      expectValueError(() => tf.case([]), 'tf.case', 'default');
    });
  });

  it('TensorArray: a value of the wrong dtype or element shape', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const ta = new tf.TensorArray('float32', { size: 2, elementShape: [2] });
      // the dtype check is the tensor conversion's: an InvalidArgumentError (not a ValueError) naming both dtypes
      expect(() => ta.write(0, tf.constant([1, 2], 'int32', undefined, 'ints'))).toThrow(tf.errors.InvalidArgumentError);
      expect(() => ta.write(0, tf.constant([1, 2], 'int32', undefined, 'ints'))).toThrow(/float32.*ints.*int32|int32.*float32/);
      expectValueError(() => ta.write(0, tf.constant([1, 2, 3])), 'write', '[3]', '[2]');
      expectValueError(() => ta.unstack(tf.constant([[1, 2, 3]])), 'unstack', '[3]', '[2]');
    });
  });

  it('reading a TensorArray past its end fails at run time', async () => {
    const [sess, r] = inGraph(() => {
      const i = tf.placeholder('int32', [], 'i');
      const ta = new tf.TensorArray('float32', { size: 2 }).unstack(tf.constant([[1], [2]]));
      return { i, y: ta.read(i) };
    });
    expectClose(await sess.run(r.y, [[r.i, 1]]), [2]);
    await expect(sess.run(r.y, [[r.i, 5]])).rejects.toBeInstanceOf(tf.errors.InvalidArgumentError);
    sess.close();
  });
});

// ---------------------------------------------------------------------------------------------

/** Loop graphs with feeds and expected results, for the optimize/verify/concurrency checks. */
interface Case {
  name: string;
  build: () => { fetches: T[]; feeds: [T, tf.NDArray | number | boolean][] };
}
const cases: Case[] = [
  { name: 'count to 10', build: () => ({ fetches: [countTo10()], feeds: [] }) },
  {
    name: 'Collatz (cond in loop)',
    build: () => {
      const r = collatz();
      return { fetches: [r.steps], feeds: [[r.n, 27]] };
    },
  },
  {
    name: 'batch RNN over an unknown batch',
    build: () => {
      const r = batchRnn(4);
      return { fetches: [r.h], feeds: [[r.x, randomArray([5, 3], { seed: 9 })]] };
    },
  },
  {
    name: 'TensorArray RNN',
    build: () => {
      const r = taRnn();
      return { fetches: [r.outputs, r.last], feeds: [[r.xs, randomArray([4, 2, 3], { seed: 10 })], [r.h0, randomArray([2, 2], { seed: 11 })]] };
    },
  },
  {
    name: 'scan, foldr and mapFn with constants the optimizer can fold',
    build: () => {
      const xs = tf.constant([1, 2, 3, 4]);
      const c = tf.multiply(tf.constant(2), tf.constant(3)); // foldable, captured by the bodies
      return {
        fetches: [
          tf.scan((a: T, x: T) => tf.add(tf.multiply(a, c), x), xs, tf.constant(0), { reverse: true }),
          tf.foldr((a: T, x: T) => tf.subtract(x, a), xs),
          tf.mapFn((x: T) => tf.add(tf.multiply(x, x), c), xs),
        ],
        feeds: [],
      };
    },
  },
  {
    name: 'growing vector with a shape invariant',
    build: () => {
      const n = tf.placeholder('int32', [], 'n');
      const [, v] = tf.whileLoop(
        (i: T) => tf.less(i, n),
        (i: T, v: T) => [tf.add(i, 1), tf.concat([v, tf.add(tf.slice(v, [0], [1]), tf.constant([1]))], 0)],
        [i32(0), tf.constant([1])],
        { shapeInvariants: [[], [null]] },
      ) as T[];
      return { fetches: [v!], feeds: [[n, 6]] };
    },
  },
];

async function runCase(c: Case, optimize: boolean): Promise<tf.NDArray[]> {
  const [sess, r] = inGraph(c.build, { optimize });
  try {
    return (await sess.run(r.fetches, r.feeds)) as tf.NDArray[];
  } finally {
    sess.close();
  }
}

describe('optimized and unoptimized plans agree', () => {
  describe('without verification runs', () => {
    withVerify('0');
    for (const c of cases) {
      it(c.name, async () => {
        const a = await runCase(c, false);
        const b = await runCase(c, true);
        expect(b.length).toBe(a.length);
        a.forEach((x, k) => expectClose(b[k]!, x, { atol: 1e-6, rtol: 1e-6 }));
      });
    }
  });

  describe('under WEIR_VERIFY_OPT=1 (each optimized run also runs the unoptimized plan and compares)', () => {
    withVerify('1');
    it('loops, conds, TensorArrays and higher-order functions pass verification', async () => {
      for (const c of cases) {
        const b = await runCase(c, true);
        expect(b.length, c.name).toBeGreaterThan(0);
      }
    });

    it('stateful loops pass verification and update the variable once', async () => {
      const [sess, r] = inGraph(() => {
        const v = new tf.Variable(f32([1], []), { name: 'v' });
        const out = tf.whileLoop((i: T) => tf.less(i, 3), (i: T) => tf.add(i, tf.cast(tf.assignAdd(v, 1), 'int32')), [i32(0)]) as unknown as T;
        return { v, out, init: tf.globalVariablesInitializer() };
      });
      await sess.run(r.init);
      // i: 0 -> 2 (v=2) -> 5 (v=3); the verification run must not apply the increments to the session's state twice
      expect((await sess.run(r.out)).toFlat()).toEqual([5]);
      expectClose(await sess.run(r.v.value()), 3);
      sess.close();
    });
  });

  it('verification reads WEIR_VERIFY_OPT per run', async () => {
    const saved = process.env.WEIR_VERIFY_OPT;
    try {
      const [sess, r] = inGraph(countTo10);
      process.env.WEIR_VERIFY_OPT = '0';
      expect((await sess.run(r)).toFlat()).toEqual([10]);
      process.env.WEIR_VERIFY_OPT = '1';
      expect((await sess.run(r)).toFlat()).toEqual([10]);
      sess.close();
    } finally {
      if (saved === undefined) delete process.env.WEIR_VERIFY_OPT;
      else process.env.WEIR_VERIFY_OPT = saved;
    }
  });
});

describe('overlapping runs of loop graphs', () => {
  for (const verify of ['0', '1'] as const) {
    describe(`verification ${verify === '1' ? 'on' : 'off'}`, () => {
      withVerify(verify);

      it('Promise.all over a Collatz loop with different feeds equals the sequential answers', async () => {
        const [sess, r] = inGraph(collatz);
        const ns = [1, 2, 3, 6, 7, 9, 27, 97];
        const seq: number[] = [];
        for (const n of ns) seq.push(Number((await sess.run(r.steps, [[r.n, n]])).toFlat()[0]));
        expect(seq).toEqual(ns.map(collatzJs));
        const par = await Promise.all(ns.map((n) => sess.run(r.steps, [[r.n, n]])));
        expect(par.map((a) => Number(a.toFlat()[0]))).toEqual(seq);
        sess.close();
      });

      it('Promise.all over a batch RNN loop with batches of different sizes and a TensorArray RNN', async () => {
        const [sess, r] = inGraph(() => ({ rnn: batchRnn(3), ta: taRnn() }));
        const xs = [2, 5, 1, 3, 5].map((n, k) => randomArray([n, 3], { seed: 30 + k }));
        const tas = [0, 1, 2].map((k) => [randomArray([4, 2, 3], { seed: 40 + k }), randomArray([2, 2], { seed: 50 + k })] as const);
        const seqH: tf.NDArray[] = [];
        for (const x of xs) seqH.push(await sess.run(r.rnn.h, [[r.rnn.x, x]]));
        const seqTa: tf.NDArray[] = [];
        for (const [x, h] of tas) seqTa.push(await sess.run(r.ta.outputs, [[r.ta.xs, x], [r.ta.h0, h]]));
        const [parH, parTa] = await Promise.all([
          Promise.all(xs.map((x) => sess.run(r.rnn.h, [[r.rnn.x, x]]))),
          Promise.all(tas.map(([x, h]) => sess.run(r.ta.outputs, [[r.ta.xs, x], [r.ta.h0, h]]))),
        ]);
        xs.forEach((x, k) => {
          expectClose(seqH[k]!, batchRnnJs(x, r.rnn.W, r.rnn.b, 3));
          expect(flat(parH[k]!)).toEqual(flat(seqH[k]!));
          expect(parH[k]!.shape).toEqual(seqH[k]!.shape);
        });
        tas.forEach(([x, h], k) => {
          expectClose(seqTa[k]!, taRnnJs(x, h, r.ta.U, r.ta.W).flat());
          expect(flat(parTa[k]!)).toEqual(flat(seqTa[k]!));
        });
        sess.close();
      });
    });
  }
});

describe('layers inside loop bodies', () => {
  it('a tf.layers.Dense applied outside and inside a whileLoop body shares one set of weights', async () => {
    const [sess, r] = inGraph(() => {
      const dense = new tf.layers.Dense(3, { name: 'proj' });
      const x = tf.constant(f32([1, 2, 3, 0.5, -1, 2], [2, 3]));
      const outside = dense.apply(x);
      // Three applications inside the loop: y ← dense(y).
      const [, inside] = tf.whileLoop(
        (i: T) => tf.less(i, 3),
        (i: T, y: T) => [tf.add(i, 1), dense.apply(y)],
        [i32(0), x],
      ) as [T, T];
      return { outside, inside, vars: tf.trainableVariables(), init: tf.globalVariablesInitializer() };
    });
    expect(r.vars.map((v) => v.name)).toEqual(['proj/kernel:0', 'proj/bias:0']);
    await sess.run(r.init);
    const [outside, inside, kernel, bias] = await sess.run([r.outside, r.inside, r.vars[0]!, r.vars[1]!]);
    const w = flat(kernel!);
    const b = flat(bias!);
    const apply = (rows: number[]): number[] =>
      [0, 1].flatMap((n) => [0, 1, 2].map((j) => rows[n * 3]! * w[j]! + rows[n * 3 + 1]! * w[3 + j]! + rows[n * 3 + 2]! * w[6 + j]! + b[j]!));
    const x = [1, 2, 3, 0.5, -1, 2];
    expectClose(outside, apply(x), { atol: 1e-5 });
    expectClose(inside, apply(apply(apply(x))), { atol: 1e-4 });
    sess.close();
  });
});
