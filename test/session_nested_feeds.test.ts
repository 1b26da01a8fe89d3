import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { FeedKey, FeedStructure } from '../src/session.js';

const values = (a: tf.NDArray): number[] => Array.from(a.data as Float32Array);

function stateGraph() {
  const g = new tf.Graph();
  return g.asDefault(() => {
    const s1 = tf.LSTMStateTuple(tf.placeholder('float32', [null, 2], 'c1'), tf.placeholder('float32', [null, 2], 'h1'));
    const s2 = tf.LSTMStateTuple(tf.placeholder('float32', [null, 2], 'c2'), tf.placeholder('float32', [null, 2], 'h2'));
    const out = tf.addN([tf.multiply(s1.c, 1), tf.multiply(s1.h, 10), tf.multiply(s2.c, 100), tf.multiply(s2.h, 1000)]);
    return { g, s1, s2, out };
  });
}

describe('Session: nested structures as feed keys', () => {
  it('feeds an LSTMStateTuple {c, h} with an object of values, as pairs and as a Map', async () => {
    const { g, s1, s2, out } = stateGraph();
    const sess = new tf.Session({ graph: g });
    const zero = { c: [[0, 0]], h: [[0, 0]] };
    const r1 = await sess.run(out, [
      [s1, { c: [[1, 2]], h: [[3, 4]] }],
      [s2, zero],
    ]);
    expect(values(r1)).toEqual([31, 42]);
    const m = new Map<FeedKey, FeedStructure>([
      [s1, { h: new tf.NDArray(new Float32Array([5, 6]), [1, 2]), c: [[1, 1]] }],
      [s2, zero],
    ]);
    expect(values(await sess.run(out, m))).toEqual([51, 61]);
    sess.close();
  });

  it('feeds a tuple of LSTMStateTuples (MultiRNNCell state) with the same nesting of values', async () => {
    const { g, s1, s2, out } = stateGraph();
    const sess = new tf.Session({ graph: g });
    const r = await sess.run(out, [
      [
        [s1, s2],
        [
          { c: [[1, 0], [0, 0]], h: [[2, 0], [0, 0]] },
          { c: [[3, 0], [0, 1]], h: [[4, 0], [0, 0]] },
        ],
      ],
    ]);
    expect(r.shape).toEqual([2, 2]);
    expect(values(r)).toEqual([4321, 0, 0, 100]);
    sess.close();
  });

  it('matches feeding the leaves one by one, through a BasicLSTMCell step', async () => {
    const g = new tf.Graph();
    const { x, state, out, newState, init } = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      const cell = new tf.BasicLSTMCell(4);
      const state = tf.LSTMStateTuple(tf.placeholder('float32', [null, 4], 'c'), tf.placeholder('float32', [null, 4], 'h'));
      const [out, newState] = cell.call(x, state);
      return { x, state, out, newState, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(init);
    const xv = [[0.1, -0.2, 0.3], [0.5, 0.4, -0.1]];
    const cv = [[0.1, 0.2, 0.3, 0.4], [-0.1, -0.2, -0.3, -0.4]];
    const hv = [[0.5, 0.1, -0.2, 0.3], [0.0, 0.7, 0.2, -0.6]];
    const nested = await sess.run({ out, state: newState }, [[x, xv], [state, { c: cv, h: hv }]]);
    const flat = await sess.run({ out, state: newState }, [[x, xv], [state.c, cv], [state.h, hv]]);
    expect(values(nested.out)).toEqual(values(flat.out));
    const ns = nested.state as unknown as { c: tf.NDArray; h: tf.NDArray };
    const fs = flat.state as unknown as { c: tf.NDArray; h: tf.NDArray };
    expect(Object.keys(ns).sort()).toEqual(['c', 'h']);
    expect(values(ns.c)).toEqual(values(fs.c));
    expect(values(ns.h)).toEqual(values(fs.h));
    // Feeding the fetched state back in, as a TF1 loop over steps does.
    const next = await sess.run(out, [[x, xv], [state, ns as unknown as FeedStructure]]);
    expect(next.shape).toEqual([2, 4]);
    sess.close();
  });

  it('accepts variables, names and strings as leaves, and feeds nested inside objects of arrays', async () => {
    const g = new tf.Graph();
    const { a, b, c, out } = g.asDefault(() => {
      const a = tf.placeholder('float32', [], 'a');
      const b = tf.placeholder('float32', [], 'b');
      const c = tf.placeholder('float32', [], 'c');
      return { a, b, c, out: tf.addN([a, tf.multiply(b, 10), tf.multiply(c, 100)]) };
    });
    void b;
    const sess = new tf.Session({ graph: g });
    const r = await sess.run(out, [[{ first: a, rest: ['b', 'c:0'] }, { first: 1, rest: [2, 3] }]]);
    expect(values(r)).toEqual([321]);
    expect(values(await sess.run(out, [[{}, {}], [[a, [b, [c]]], [4, [5, [6]]]]]))).toEqual([654]);
    void c;
    sess.close();
  });

  it('rejects a value whose structure differs, naming the key path', async () => {
    const { g, s1, s2, out } = stateGraph();
    const sess = new tf.Session({ graph: g });
    const ok = { c: [[0, 0]], h: [[0, 0]] };
    const fails = async (feeds: tf.FeedDict, pattern: RegExp): Promise<void> => {
      const err = await sess.run(out, feeds).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect((err as Error).message).toMatch(pattern);
    };
    // Missing and unexpected keys.
    await fails([[[s1, s2], [ok, { c: [[0, 0]] }]]], /feed key at \[1\].*missing h/);
    await fails([[[s1, s2], [ok, { c: [[0, 0]], h: [[0, 0]], x: [[0, 0]] }]]], /feed key at \[1\].*unexpected x/);
    // Array length and kind.
    await fails([[[s1, s2], [ok]]], /Cannot feed an array of length 1 for the feed key, an array of 2/);
    await fails([[s1, [[0, 0], [0, 0]]]], /Cannot feed an array of length 2 for the feed key, an object with keys \{c, h\}/);
    await fails([[[s1, s2], { a: ok, b: ok }]], /for the feed key, an array of 2/);
    await fails([[[s1, s2], [ok, new tf.NDArray(new Float32Array(2), [1, 2])]]], /NDArray of shape \[1,2\] for the feed key at \[1\]/);
    // A leaf value that does not fit its tensor names the path too.
    await fails([[[s1, s2], [ok, { c: [[0, 0, 0]], h: [[0, 0]] }]]], /feed key at \[1\]\.c: Cannot feed value of shape \[1,3\] for Tensor 'c2:0'/);
    sess.close();
  });
});

describe('Session: fetching structures', () => {
  it('returns {c, h} objects and arrays of them in the fetches\' structure', async () => {
    const { g, s1, s2 } = stateGraph();
    const sess = new tf.Session({ graph: g });
    const feeds: tf.FeedDict = [
      [s1, { c: [[1, 2]], h: [[3, 4]] }],
      [s2, { c: [[5, 6]], h: [[7, 8]] }],
    ];
    const one = await sess.run(s1, feeds);
    expect(Object.keys(one)).toEqual(['c', 'h']);
    expect(values(one.c)).toEqual([1, 2]);
    expect(values(one.h)).toEqual([3, 4]);
    const both = await sess.run([s1, s2, { pair: [s2.h, s1.c] }] as const, feeds);
    expect(Array.isArray(both)).toBe(true);
    expect(values(both[0].h)).toEqual([3, 4]);
    expect(values(both[1].c)).toEqual([5, 6]);
    expect(values(both[2].pair[0])).toEqual([7, 8]);
    expect(values(both[2].pair[1])).toEqual([1, 2]);
    // Typed as the interfaces (no index signature) and as the recursive RNNState, it still type-checks.
    const typed: tf.LSTMStateTuple = s1;
    const states: tf.RNNState[] = [s1, [s2]];
    const r = await sess.run({ typed, states }, [[states, [{ c: [[0, 1]], h: [[1, 0]] }, [{ c: [[2, 2]], h: [[3, 3]] }]]]]);
    expect(values(r.typed.h)).toEqual([1, 0]);
    expect(values((r.states[1] as unknown as { c: tf.NDArray }[])[0]!.c)).toEqual([2, 2]);
    sess.close();
  });
});
