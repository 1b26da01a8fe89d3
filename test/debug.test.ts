import { afterEach, describe, expect, it, vi } from 'vitest';
import * as tf from '../src/index.js';
import * as debug from '../src/api/debug.js';
import * as image from '../src/api/image.js';
import { graphToGraphDef } from '../src/io/graph_def.js';
import { expectClose, randomArray, run } from './helpers.js';

/** Runs fetches built in a fresh graph from placeholders holding `values`. */
async function runWith(values: tf.NDArray[], make: (...xs: tf.Tensor[]) => tf.Tensor[]): Promise<tf.NDArray[]> {
  const { outs, phs } = new tf.Graph().asDefault(() => {
    const phs = values.map((v, i) => tf.placeholder(v.dtype, v.shape, `x${i}`));
    return { outs: make(...phs), phs };
  });
  return (await run(outs, phs.map((p, i) => [p, values[i]!] as const))) as tf.NDArray[];
}

/** The error a run fails with (undefined when it succeeds). */
async function failure(p: Promise<unknown>): Promise<tf.errors.OpError | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e as tf.errors.OpError;
  }
}

const vec = (...v: number[]) => new tf.NDArray(Float32Array.from(v), [v.length]);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Assert', () => {
  it('a failing assert a fetched op depends on fails the run with TF message form, naming the op and where it was made', async () => {
    const x = vec(1, 2, 3, 4, 5);
    const err = await failure(
      runWith([x], (xi) => {
        const a = debug.Assert(tf.reduceAll(tf.less(xi!, 3)), ['x is', xi!, 'sum', tf.reduceSum(xi!)], { summarize: 3, name: 'check_x' });
        return [tf.controlDependencies([a], () => tf.identity(xi!))];
      }),
    );
    expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(err!.message).toContain('assertion failed: [x is] [1 2 3...] [sum] [15]');
    expect(err!.message).toMatch(/Assert op 'check_x\/Assert' \(created at .*debug\.test\.ts/);
    expect(err!.opName).toBe('check_x/Assert');
  });

  it('a passing assert lets the run through; an assert nothing depends on does not run', async () => {
    const x = vec(1, 2);
    const [y] = await runWith([x], (xi) => {
      const ok = debug.Assert(tf.reduceAll(tf.less(xi!, 3)), ['never shown']);
      debug.Assert(tf.constant(false), ['not run']);
      return [tf.controlDependencies([ok], () => tf.multiply(xi!, 2))];
    });
    expectClose(y!, [2, 4]);
  });

  it('is neither folded nor pruned away when it guards a constant computation', async () => {
    const g = new tf.Graph();
    const out = g.asDefault(() => {
      const a = debug.Assert(tf.equal(tf.constant(1), tf.constant(2)), ['constants differ']);
      return tf.controlDependencies([a], () => tf.add(tf.constant(3), tf.constant(4)));
    });
    const err = await failure(run(out, undefined, g));
    expect(err?.message).toContain('assertion failed: [constants differ]');
    // Also as a target of a run that fetches nothing it feeds.
    const g2 = new tf.Graph();
    const a = g2.asDefault(() => debug.Assert(false, ['as a target']));
    const sess = new tf.Session({ graph: g2 });
    await expect(sess.run([a])).rejects.toThrow(/assertion failed: \[as a target\]/);
    sess.close();
  });

  it('summarizes values as TF does: nested brackets, cut at summarize, float and int formats, strings', async () => {
    const m = new tf.NDArray(Float32Array.from([1, 2.5, -3, 4, 5, 6]), [2, 3]);
    const err = await failure(
      runWith([m], (mi) => [
        tf.controlDependencies(
          [
            debug.Assert(false, [mi!, tf.constant(new tf.NDArray(Float32Array.from([0.1, 1e-10, 123456789, NaN, -Infinity]), [5])), tf.constant(7n, 'int64'), tf.constant([true, false]), 'text'], {
              summarize: 4,
            }),
          ],
          () => tf.identity(mi!),
        ),
      ]),
    );
    expect(err!.message).toContain('assertion failed: [[1 2.5 -3][4...]...] [0.1 1e-10 123456792 nan...] [7] [1 0] [text]');
  });

  it('the condition must be a bool scalar', () => {
    new tf.Graph().asDefault(() => {
      expect(() => debug.Assert(tf.placeholder('bool', [2]), [])).toThrow(/Assert.*condition .* must be a scalar/);
    });
  });
});

describe('tf.debugging assertions', () => {
  const cases: [string, (x: tf.Tensor, y: tf.Tensor) => tf.Operation, boolean, string][] = [
    ['assertEqual', (x, y) => debug.assertEqual(x, y), false, '[Condition x == y did not hold element-wise:]'],
    ['assertNotEqual', (x, y) => debug.assertNotEqual(x, y), false, '[Condition x != y did not hold element-wise:]'],
    ['assertLess', (x, y) => debug.assertLess(x, y), false, '[Condition x < y did not hold element-wise:]'],
    ['assertLessEqual', (x, y) => debug.assertLessEqual(x, y), true, ''],
    ['assertGreater', (x, y) => debug.assertGreater(y, x), false, '[Condition x > y did not hold element-wise:]'],
    ['assertGreaterEqual', (x, y) => debug.assertGreaterEqual(y, x), true, ''],
    ['assertPositive', (x) => debug.assertPositive(x), false, '[Condition x > 0 did not hold element-wise:]'],
    ['assertNegative', (x) => debug.assertNegative(tf.negative(x)), false, '[Condition x < 0 did not hold element-wise:]'],
    ['assertNonNegative', (x) => debug.assertNonNegative(x), true, ''],
    ['assertNonPositive', (x) => debug.assertNonPositive(tf.negative(x)), true, ''],
    ['assertNear', (x, y) => debug.assertNear(x, y, { atol: 0.5, message: 'too far' }), false, '[too far] [x and y not equal to tolerance rtol = 0.0000011920928955078125, atol = 0.5]'],
  ];
  // x = [0, 1, 2] and y = [0, 1, 3]: equal in part, x <= y everywhere, x >= 0 but not > 0.
  for (const [name, make, passes, text] of cases) {
    it(`${name} ${passes ? 'passes' : 'fails with TF 1.15 data'}`, async () => {
      const err = await failure(
        runWith([vec(0, 1, 2), vec(0, 1, 3)], (x, y) => [tf.controlDependencies([make(x!, y!)], () => tf.identity(x!))]),
      );
      if (passes) expect(err).toBeUndefined();
      else {
        expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
        expect(err!.message).toContain(text);
      }
    });
  }

  it('assertEqual shows message, names and values', async () => {
    const err = await failure(
      runWith([vec(1, 2), vec(1, 3)], (x, y) => [tf.controlDependencies([debug.assertEqual(x!, y!, { message: 'mismatch' })], () => tf.identity(x!))]),
    );
    expect(err!.message).toContain('assertion failed: [mismatch] [Condition x == y did not hold element-wise:] [x (x0:0) = ] [1 2] [y (x1:0) = ] [1 3]');
  });

  it('operands known while building are checked at once, as TF 1.15 does', () => {
    new tf.Graph().asDefault(() => {
      expect(() => debug.assertLess(tf.constant([1, 5]), tf.constant([2, 3]), { message: 'static' })).toThrow(
        /^static\nCondition x < y did not hold element-wise:\nx \(.*\) = \n\[1 5\]\ny \(.*\) = \n\[2 3\]$/,
      );
      expect(() => debug.assertPositive(tf.constant([1, 0]))).toThrow(/Condition x > 0 did not hold/);
      expect(debug.assertEqual(tf.constant([2, 2]), 2).type).toBe('Assert');
    });
  });

  it('assertNear passes within tolerance', async () => {
    const err = await failure(runWith([vec(1, 2), vec(1.2, 2.1)], (x, y) => [tf.controlDependencies([debug.assertNear(x!, y!, { atol: 0.3 })], () => tf.identity(x!))]));
    expect(err).toBeUndefined();
  });

  it('assertRank: static ranks are checked at build time, unknown ones at run time', async () => {
    new tf.Graph().asDefault(() => {
      expect(() => debug.assertRank(tf.placeholder('float32', [2, 3]), 1, { message: 'want a vector' })).toThrow(/want a vector.*must have rank 1.*Received rank 2/);
      expect(debug.assertRank(tf.placeholder('float32', [2]), 1).type).toBe('NoOp');
    });
    const g = new tf.Graph();
    const { p, out } = g.asDefault(() => {
      const p = tf.placeholder('float32', null);
      return { p, out: tf.controlDependencies([debug.assertRank(p, 1)], () => tf.identity(p)) };
    });
    const sess = new tf.Session({ graph: g });
    await expect(sess.run(out, [[p, vec(1, 2)]])).resolves.toBeDefined();
    await expect(sess.run(out, [[p, new tf.NDArray(Float32Array.from([1, 2]), [1, 2])]])).rejects.toThrow(/must have rank\] \[1\] \[Received shape: \] \[1 2\]/);
    sess.close();
  });

  it('assertType checks the dtype when the graph is built', () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder('int32', [2]);
      expect(debug.assertType(x, 'int32').type).toBe('NoOp');
      expect(() => debug.assertType(x, 'float32', { message: 'ids' })).toThrow(/ids .* must be of type float32; got int32/);
    });
  });
});

describe('Print / tf.print', () => {
  it('prints message and data to stderr, returns its input, and counts first_n per session', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: unknown) => void lines.push(String(s)));
    const g = new tf.Graph();
    const { x, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [3], 'x');
      return { x, y: tf.multiply(debug.Print(x, [x, tf.reduceSum(x)], { message: 'x and sum: ', firstN: 2 }), 2) };
    });
    const runs = async (n: number): Promise<tf.NDArray[]> => {
      const sess = new tf.Session({ graph: g });
      const out: tf.NDArray[] = [];
      for (let i = 0; i < n; i++) out.push((await sess.run(y, [[x, vec(i, 1, 2)]])) as tf.NDArray);
      sess.close();
      return out;
    };
    const first = await runs(3);
    expectClose(first[2]!, [4, 2, 4]);
    const printed = (): string[] => [...new Set(lines)]; // a verification run (WEIR_VERIFY_OPT) prints again
    expect(printed()).toEqual(['x and sum: [0 1 2][3]', 'x and sum: [1 1 2][4]']);
    lines.length = 0;
    await runs(1);
    expect(printed()).toEqual(['x and sum: [0 1 2][3]']);
  });

  it('passes its gradient to its input', async () => {
    const [gx] = await runWith([vec(1, 2, 3)], (x) => {
      vi.spyOn(console, 'error').mockImplementation(() => undefined);
      return [tf.gradients(tf.reduceSum(tf.square(debug.Print(x!, [x!]))), x!)[0]!];
    });
    expectClose(gx!, [2, 4, 6]);
  });

  it('tf.print builds a Print op to run as a control dependency', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: unknown) => void lines.push(String(s)));
    const [y] = await runWith([vec(5, 6)], (x) => {
      const p = debug.print('value:', 'x', x!, 'done', { summarize: 1 });
      expect(p.type).toBe('Print');
      return [tf.controlDependencies([p], () => tf.identity(x!))];
    });
    expectClose(y!, [5, 6]);
    expect(lines[0]).toBe('value: x[5...][done]');
  });
});

describe('CheckNumerics', () => {
  for (const [values, status] of [
    [[1, NaN, 2], 'NaN'],
    [[1, -Infinity], 'Inf'],
    [[Infinity, NaN], 'Inf and NaN'],
  ] as const) {
    it(`fails on ${status} with TF's message`, async () => {
      const err = await failure(runWith([vec(...values)], (x) => [tf.add(debug.checkNumerics(x!, 'bad x'), 1)]));
      expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect(err!.message).toContain(`bad x : Tensor had ${status} values`);
    });
  }

  it('passes finite values through; its gradient is checked by a CheckNumerics of its own', async () => {
    const [y, gx] = await runWith([vec(1, 2), vec(3, 4)], (x, gy) => {
      const c = debug.checkNumerics(x!, 'x');
      return [tf.multiply(c, 3), tf.gradients(c, x!, gy!)[0]!];
    });
    expectClose(y!, [3, 6]);
    expectClose(gx!, [3, 4]);
    const err = await failure(runWith([vec(1, 2), vec(NaN, 4)], (x, gy) => [tf.gradients(debug.checkNumerics(x!, 'in x'), x!, gy!)[0]!]));
    expect(err!.message).toContain('Not a number (NaN) or infinity (Inf) values detected in gradient. in x : Tensor had NaN values');
  });

  it('verifyTensorAllFinite returns the tensor after the check', async () => {
    const [y] = await runWith([vec(1, 2)], (x) => [debug.verifyTensorAllFinite(x!, 'ok')]);
    expectClose(y!, [1, 2]);
    const err = await failure(runWith([vec(1, Infinity)], (x) => [debug.verifyTensorAllFinite(x!, 'not finite')]));
    expect(err!.message).toContain('not finite : Tensor had Inf values');
  });
});

describe('IdentityN, Snapshot, ShapeN, EnsureShape', () => {
  it('IdentityN and Snapshot give their inputs; gradients pass through', async () => {
    const a = randomArray([2, 3], { seed: 1 });
    const b = randomArray([4], { seed: 2, dtype: 'int32', min: -5, max: 5 });
    const [ia, ib, s, ga] = await runWith([a, b], (x, y) => {
      const [p, q] = debug.identityN([x!, y!]);
      const snap = tf.getDefaultGraph().createOp('Snapshot', [x!], { T: 'float32' }).outputs[0]!;
      return [p!, q!, snap, tf.gradients(tf.add(tf.reduceSum(tf.square(p!)), tf.reduceSum(snap)), x!)[0]!];
    });
    expectClose(ia!, a);
    expect(Array.from(ib!.data as Int32Array)).toEqual(Array.from(b.data as Int32Array));
    expectClose(s!, a);
    expectClose(ga!, Array.from(a.data as Float32Array, (v) => 2 * v + 1));
  });

  it('ShapeN gives each input shape, as int32 or int64', async () => {
    const [s1, s2, s3] = await runWith([randomArray([2, 3, 1], { seed: 3 }), randomArray([5], { seed: 4 })], (x, y) => [
      ...debug.shapeN([x!, y!], 'int64'),
      debug.shapeN([y!])[0]!,
    ]);
    expect(Array.from(s3!.data as Int32Array)).toEqual([5]);
    expect(s1!.dtype).toBe('int64');
    expect(Array.from(s1!.data as BigInt64Array, Number)).toEqual([2, 3, 1]);
    expect(Array.from(s2!.data as BigInt64Array, Number)).toEqual([5]);
  });

  it('EnsureShape merges shapes when the graph is built and checks them when it runs', async () => {
    new tf.Graph().asDefault(() => {
      expect(debug.ensureShape(tf.placeholder('float32', [null, 3]), [2, null]).shape).toEqual([2, 3]);
      expect(() => debug.ensureShape(tf.placeholder('float32', [4, 3]), [2, 3])).toThrow(/EnsureShape.*is not compatible with expected shape \[2,3\]/);
    });
    const g = new tf.Graph();
    const { p, out } = g.asDefault(() => {
      const p = tf.placeholder('float32', null);
      return { p, out: tf.add(debug.ensureShape(p, [null, 2], 'ensure'), 1) };
    });
    const sess = new tf.Session({ graph: g });
    const ok = (await sess.run(out, [[p, new tf.NDArray(Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2])]])) as tf.NDArray;
    expect(ok.shape).toEqual([3, 2]);
    await expect(sess.run(out, [[p, vec(1, 2)]])).rejects.toThrow(/Shape of tensor ensure \[2\] is not compatible with expected shape \[\?,2\]/);
    sess.close();
  });

  it('EnsureShape checks a length known only at run time (after non-max suppression)', async () => {
    const boxes = new tf.NDArray(Float32Array.from([0, 0, 1, 1, 5, 5, 6, 6, 0, 0, 1, 1.1]), [3, 4]);
    const scores = vec(0.9, 0.8, 0.7);
    const err = await failure(runWith([boxes, scores], (b, s) => [tf.add(debug.ensureShape(image.nonMaxSuppression(b!, s!, 3), [3]), 1)]));
    expect(err?.message).toMatch(/Shape of tensor .* \[2\] is not compatible with expected shape \[3\]/);
  });
});

/**
 * TF's Nudge and fake quantization written out for reference. The nudge is float32 arithmetic as in
 * TF: with [-1, 1] and 8 bits, -1 / (2 / 255) is 127.49999 in float32, so the zero point is 127.
 */
function referenceFakeQuant(x: readonly number[], min: number, max: number, bits: number, narrow: boolean): { y: number[]; inside: boolean[]; nmin: number; nmax: number } {
  const qmin = narrow ? 1 : 0;
  const qmax = 2 ** bits - 1;
  const scale = Math.fround(Math.fround(max - min) / (qmax - qmin));
  const zf = Math.fround(qmin - Math.fround(min / scale));
  const zp = zf < qmin ? qmin : zf > qmax ? qmax : Math.round(zf);
  const nmin = (qmin - zp) * scale;
  const nmax = (qmax - zp) * scale;
  const y = x.map((v) => Math.floor((Math.min(Math.max(v, nmin), nmax) - nmin) / scale + 0.5) * scale + nmin);
  return { y, inside: x.map((v) => v >= nmin && v <= nmax), nmin, nmax };
}

describe('fake quantization', () => {
  const x = Array.from({ length: 40 }, (_, i) => -1.3 + i * 0.071);
  for (const [min, max, bits, narrow] of [
    [-1, 1, 8, false],
    [-0.13, 1.02, 4, false],
    [0.2, 1.5, 3, true],
    [-2.5, -0.4, 5, false],
  ] as const) {
    it(`Args and Vars forms and their gradients (min ${min}, max ${max}, ${bits} bits${narrow ? ', narrow' : ''}) match a reference`, async () => {
      const ref = referenceFakeQuant(x, min, max, bits, narrow);
      const g = Array.from(x, (_, i) => 0.5 + i / 40);
      const [ya, yv, gxa, gxv, gmin, gmax] = await runWith([vec(...x), vec(...g), new tf.NDArray(Float32Array.from([min]), []), new tf.NDArray(Float32Array.from([max]), [])], (xi, gi, lo, hi) => {
        const a = debug.fakeQuantWithMinMaxArgs(xi!, { min, max, numBits: bits, narrowRange: narrow });
        const v = debug.fakeQuantWithMinMaxVars(xi!, lo!, hi!, { numBits: bits, narrowRange: narrow });
        const [dv, dmin, dmax] = tf.gradients(v, [xi!, lo!, hi!], gi!);
        return [a, v, tf.gradients(a, xi!, gi!)[0]!, dv!, dmin!, dmax!];
      });
      expectClose(ya!, ref.y, { atol: 1e-5 });
      expectClose(yv!, ref.y, { atol: 1e-5 });
      const dx = g.map((v, i) => (ref.inside[i] ? v : 0));
      expectClose(gxa!, dx);
      expectClose(gxv!, dx);
      expectClose(gmin!, g.reduce((s, v, i) => s + (x[i]! < ref.nmin ? v : 0), 0), { atol: 1e-4 });
      expectClose(gmax!, g.reduce((s, v, i) => s + (x[i]! > ref.nmax ? v : 0), 0), { atol: 1e-4 });
    });
  }

  it('rejects bad attrs when the graph is built', () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder('float32', [3]);
      expect(() => debug.fakeQuantWithMinMaxArgs(x, { numBits: 1 })).toThrow(/num_bits must be between 2 and 16/);
      expect(() => debug.fakeQuantWithMinMaxArgs(x, { min: 1, max: 1 })).toThrow(/min has to be smaller than max/);
      expect(() => debug.fakeQuantWithMinMaxVars(x, tf.placeholder('float32', [2]), 1)).toThrow(/min .* must be a scalar/);
    });
  });
});

describe('debug ops in a GraphDef', () => {
  it('export and re-import keep attrs and behaviour', async () => {
    const g1 = new tf.Graph();
    const names = g1.asDefault(() => {
      const x = tf.placeholder('float32', [4], 'x');
      const a = debug.assertLess(x, 10, { summarize: 2, message: 'small' });
      const y = tf.controlDependencies([a], () => debug.checkNumerics(debug.ensureShape(x, [4]), 'finite'));
      const q = debug.fakeQuantWithMinMaxArgs(y, { min: -2, max: 3, numBits: 5, narrowRange: true });
      const v = debug.fakeQuantWithMinMaxVars(y, -1, 2, { numBits: 6 });
      const [i1] = debug.identityN([q, v]);
      return [q.name, v.name, i1!.name];
    });
    const g2 = new tf.Graph();
    g2.asDefault(() => tf.importGraphDef(graphToGraphDef(g1)));
    const feed = (g: tf.Graph, prefix: string, v: tf.NDArray): [tf.Tensor, tf.NDArray][] => [[g.getTensorByName(`${prefix}x:0`), v]];
    const good = vec(-3, 0.4, 1.7, 5);
    const want = await run(names.map((n) => g1.getTensorByName(n)), feed(g1, '', good), g1);
    const got = await run(names.map((n) => g2.getTensorByName(`import/${n}`)), feed(g2, 'import/', good), g2);
    got.forEach((v, i) => expectClose(v, want[i]!, { atol: 0, rtol: 0 }));
    expect(g2.getOperationByName(`import/${names[0]!.split(':')[0]}`).attrs).toMatchObject({ min: -2, max: 3, num_bits: 5, narrow_range: true });
    await expect(run(g2.getTensorByName(`import/${names[0]!}`), feed(g2, 'import/', vec(1, 2, 30, 4)), g2)).rejects.toThrow(/assertion failed: \[small\]/);
    await expect(run(g2.getTensorByName(`import/${names[0]!}`), feed(g2, 'import/', vec(1, -Infinity, 3, 4)), g2)).rejects.toThrow(/finite : Tensor had Inf values/);
  });
});
