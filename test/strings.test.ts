import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as Str from '../src/api/strings.js';
import { jsRewrite } from '../runtime/cpu/kernels/strings.js';
import { rng, run, tfjs } from './helpers.js';

type TFJS = Awaited<ReturnType<typeof tfjs>>;
let T: TFJS;
beforeAll(async () => {
  T = await tfjs();
});

const build = <R>(fn: () => R): R => new tf.Graph().asDefault(fn);
const nums = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);
const texts = (a: tf.NDArray): string[] => a.toFlat() as string[];
const decode = (v: unknown): string => (typeof v === 'string' ? v : new TextDecoder().decode(v as Uint8Array));
async function oracleStrings(t: { data(): Promise<unknown> }): Promise<string[]> {
  return Array.from((await t.data()) as ArrayLike<unknown>, decode);
}
const strings = (values: string[], shape = [values.length]): tf.NDArray => tf.NDArray.from(values, 'string', shape);

/** Random words over a small alphabet with spaces, commas and empty runs (edge cases for splits). */
function randomTexts(n: number, seed: number): string[] {
  const r = rng(seed);
  const alphabet = 'ab, c  d,,e';
  return Array.from({ length: n }, () => Array.from({ length: Math.floor(r() * 12) }, () => alphabet[Math.floor(r() * alphabet.length)]).join(''));
}

describe('StringSplit and StringSplitV2', () => {
  it('StringSplit matches the oracle for several delimiters, with and without skip_empty', async () => {
    const input = randomTexts(8, 1);
    for (const delimiter of [' ', ', ', '']) {
      for (const skipEmpty of [true, false]) {
        const sp = build(() => Str.stringSplit(input, { delimiter, skipEmpty }));
        expect(sp.indices.op.type).toBe('StringSplit');
        const [ind, vals, shape] = await run([sp.indices, sp.values, sp.denseShape]);
        const want = T.string.stringSplit(input, delimiter, skipEmpty);
        expect(nums(ind!)).toEqual(Array.from(await want.indices.data()));
        expect(texts(vals!)).toEqual(await oracleStrings(want.values));
        expect(nums(shape!)).toEqual(Array.from(await want.shape.data()));
      }
    }
  });

  it("StringSplitV2 follows TensorFlow's kernel (Python's str.split, but an empty rest after maxsplit is a token)", async () => {
    const input = ['  a b\tc  ', 'a,,b,', '', 'x'];
    const cases: [string | undefined, number, string[][]][] = [
      [undefined, -1, [['a', 'b', 'c'], ['a,,b,'], [], ['x']]],
      [',', -1, [['  a b\tc  '], ['a', '', 'b', ''], [''], ['x']]],
      [',', 1, [['  a b\tc  '], ['a', ',b,'], [''], ['x']]],
      [undefined, 1, [['a', 'b\tc  '], ['a,,b,', ''], [], ['x', '']]],
      [',', 0, [['  a b\tc  '], ['a,,b,'], [''], ['x']]],
    ];
    for (const [sep, maxsplit, want] of cases) {
      const sp = build(() => Str.split(input, { sep, maxsplit }));
      const [ind, vals, shape] = await run([sp.indices, sp.values, sp.denseShape]);
      expect(texts(vals!)).toEqual(want.flat());
      expect(nums(ind!)).toEqual(want.flatMap((row, i) => row.flatMap((_, j) => [i, j])));
      expect(nums(shape!)).toEqual([4, Math.max(...want.map((r) => r.length))]);
    }
  });

  it('rejects a non-vector input and a non-scalar delimiter while building', () => {
    expect(() => build(() => Str.stringSplit([['a']]))).toThrow(/rank 1/);
    expect(() => build(() => Str.split(['a'], { sep: ['a', 'b'] }))).toThrow(/rank 0/);
  });
});

describe('StringNGrams', () => {
  const data = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  const splits = [0, 4, 4, 5, 7];
  const cases = [
    { widths: [2], left: '', right: '', pad: 0, preserve: false },
    { widths: [1, 3], left: 'L', right: 'R', pad: -1, preserve: false },
    { widths: [3], left: '<', right: '>', pad: 1, preserve: true },
    { widths: [5], left: '', right: '', pad: 0, preserve: true },
    { widths: [2, 4], left: 'P', right: 'P', pad: 2, preserve: false },
  ];
  for (const c of cases) {
    it(`matches the oracle: widths ${c.widths}, pads ${c.left}/${c.right} x${c.pad}, preserve ${c.preserve}`, async () => {
      const r = build(() => {
        const values = tf.constant(strings(data));
        const rowSplits = tf.constant(new tf.NDArray(BigInt64Array.from(splits.map(BigInt)), [splits.length]));
        return Str.ngrams({ values, rowSplits }, c.widths, {
          separator: '|',
          padValues: c.pad === 0 ? undefined : [c.left, c.right],
          paddingWidth: c.pad > 0 ? c.pad : undefined,
          preserveShortSequences: c.preserve,
        }) as Str.RaggedStrings;
      });
      const [ng, sp] = await run([r.values, r.rowSplits]);
      const want = T.string.stringNGrams(T.tensor1d(data, 'string'), T.tensor1d(splits, 'int32'), '|', c.widths, c.left, c.right, c.pad, c.preserve);
      expect(texts(ng!)).toEqual(await oracleStrings(want.nGrams));
      expect(nums(sp!)).toEqual(Array.from(await want.nGramsSplits.data()));
      expect(sp!.dtype).toBe('int64');
    });
  }

  it('a vector of tokens is one row; bad splits are errors', async () => {
    const t = build(() => Str.ngrams(['x', 'y', 'z'], 2) as tf.Tensor);
    expect(texts(await run(t))).toEqual(['x y', 'y z']);
    const bad = build(() => Str.ngrams({ values: tf.constant(strings(['a', 'b'])), rowSplits: tf.constant([0, 3], 'int32') }, 2) as Str.RaggedStrings);
    await expect(run(bad.values)).rejects.toThrow(/invalid data_splits/);
    expect(() => build(() => Str.ngrams(['a'], 0))).toThrow(/positive/);
  });
});

describe('StringToHashBucketFast', () => {
  it("equals TensorFlow's documented buckets and the oracle on strings of every length class", async () => {
    expect(nums(await run(build(() => Str.toHashBucketFast(['Hello', 'TensorFlow', '2.x'], 3))))).toEqual([0, 2, 2]);
    const r = rng(5);
    // Lengths 0..140 cover each of FarmHash's paths (0-16, 17-32, 33-64, and the 64-byte loop).
    const input = Array.from({ length: 141 }, (_, n) => Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(r() * 90))).join(''));
    for (const buckets of [1, 7, 1 << 30]) {
      const t = build(() => Str.stringToHashBucketFast(input, buckets));
      expect(t.dtype).toBe('int64');
      expect(nums(await run(t))).toEqual(Array.from(await T.string.stringToHashBucketFast(input, buckets).data()));
    }
    expect(() => build(() => Str.toHashBucketFast(['a'], 0))).toThrow(/num_buckets/);
  });
});

describe('per-string ops', () => {
  it('StaticRegexReplace: global and first-only, RE2 group references in the rewrite', async () => {
    const input = strings(['aaa bbb', 'abc-123', ''], [3]);
    const [g, first, groups] = build(() => [
      Str.regexReplace(input, 'a|b', 'x'),
      Str.regexReplace(input, '[ab]+', '<\\0>', { replaceGlobal: false }),
      Str.regexReplace(input, '([a-z]+)-(\\d+)', '\\2$\\1\\\\'),
    ]);
    const [rg, rf, rgr] = await run([g!, first!, groups!]);
    expect(texts(rg!)).toEqual(['xxx xxx', 'xxc-123', '']);
    expect(texts(rf!)).toEqual(['<aaa> bbb', '<ab>c-123', '']);
    expect(texts(rgr!)).toEqual(['aaa bbb', '123$abc\\', '']);
    expect(jsRewrite('$1\\1')).toBe('$$1$1');
    await expect(run(build(() => Str.regexReplace(['a'], '(', 'x')))).rejects.toThrow(/invalid pattern/);
  });

  it('StringJoin broadcasts scalars; StringLength in bytes and characters; Strip; Lower/Upper', async () => {
    const [j, lb, lc, st, lo, up, uu] = build(() => [
      Str.join([['a', 'b'], '-', tf.constant(strings(['x', 'y']))], { separator: '+' }),
      Str.length(['héllo', '']),
      Str.length(['héllo', ''], { unit: 'UTF8_CHAR' }),
      Str.strip([' \t a b \n', '']),
      Str.lower(['AbÉ']),
      Str.upper(['abé']),
      Str.upper(['abé'], { encoding: 'utf-8' }),
    ]);
    const r = await run([j!, lb!, lc!, st!, lo!, up!, uu!]);
    expect(texts(r[0]!)).toEqual(['a+-+x', 'b+-+y']);
    expect(nums(r[1]!)).toEqual([6, 0]);
    expect(nums(r[2]!)).toEqual([5, 0]);
    expect(texts(r[3]!)).toEqual(['a b', '']);
    expect(texts(r[4]!)).toEqual(['abÉ']);
    expect(texts(r[5]!)).toEqual(['ABé']);
    expect(texts(r[6]!)).toEqual(['ABÉ']);
    expect(() => build(() => Str.join([['a', 'b'], ['c']]))).toThrow(/one shape/);
  });

  it('Substr: broadcast positions, negative positions, long lengths, characters; out of range is an error', async () => {
    const [a, b, c] = build(() => [
      Str.substr(['hello', 'world'], [1, -3], [2, 10]),
      Str.substr('héllo', 1, 2, { unit: 'UTF8_CHAR' }),
      Str.substr([['abc'], ['de']], [0, 1], [1, 1]),
    ]);
    const r = await run([a!, b!, c!]);
    expect(texts(r[0]!)).toEqual(['el', 'rld']);
    expect(texts(r[1]!)).toEqual(['él']);
    expect(r[2]!.shape).toEqual([2, 2]);
    expect(texts(r[2]!)).toEqual(['a', 'b', 'd', 'e']);
    await expect(run(build(() => Str.substr(['ab'], [3], [1])))).rejects.toThrow(/pos 3 out of range/);
    expect(() => build(() => Str.substr(['ab'], [0, 1], [1]))).toThrow(/same shape/);
  });
});

describe('GraphDef round trip', () => {
  it('string ops with attrs export, import and run to the same values', async () => {
    const g1 = new tf.Graph();
    g1.asDefault(() => {
      const x = tf.placeholder('string', [null], 'x');
      Str.toHashBucketFast(x, 11, 'hash');
      tf.identity(Str.split(x, { sep: ',', maxsplit: 1 }).values, 'parts');
      tf.identity(Str.stringSplit(x, { delimiter: 'a', skipEmpty: false }).values, 'parts1');
      Str.ngrams(x, [1, 2], { separator: '_', padValues: '#', name: 'ng' });
      Str.regexReplace(x, 'a(.)', '\\1!', { replaceGlobal: false, name: 're' });
      Str.substr(x, 0, 2, { unit: 'UTF8_CHAR', name: 'sub' });
      Str.upper(x, { name: 'up' });
    });
    const names = ['hash:0', 'parts:0', 'parts1:0', 'ng:0', 're:0', 'sub:0', 'up:0'];
    const feed = strings(['ab,cd,ef', 'banana', 'x']);
    const want = await run(names.map((n) => g1.getTensorByName(n)), [[g1.getTensorByName('x:0'), feed]], g1);
    const g2 = new tf.Graph();
    const imported = g2.asDefault(() => tf.importGraphDef(g1.toGraphDef(), { returnElements: ['x:0', ...names] })) as tf.Tensor[];
    const got = await run(imported.slice(1), [[imported[0]!, feed]], g2);
    got.forEach((r, i) => expect(r.toArray()).toEqual(want[i]!.toArray()));
  });
});
