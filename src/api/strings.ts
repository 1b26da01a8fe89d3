// TF1 functions building the strings family's ops (issue 18): tf.strings.* and TF1's top-level
// tf.stringSplit / tf.stringToHashBucketFast.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { AttrValue, Graph, Operation, Tensor } from '../graph.js';
import { concat, shape as shapeOf } from './array.js';
import { SparseTensor } from './sparse.js';

function scoped<T>(name: string, values: readonly unknown[], build: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => build(scope, g)));
}

function makeOp(g: Graph, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, scope: string): Operation {
  return g.createOp(type, inputs, attrs, { name: scope });
}

const str = (v: TensorLike, what: string): Tensor => convertToTensor(v, 'string', what, what);

function unaryString(type: string, input: TensorLike, attrs: Record<string, AttrValue>, name: string): Tensor {
  return scoped(name, [input], (scope, g) => makeOp(g, type, [str(input, 'input')], attrs, scope).outputs[0]!);
}

export interface StringSplitOptions {
  /** Each of its bytes is a delimiter; '' splits into bytes. Default ' '. */
  delimiter?: TensorLike;
  /** Drop empty tokens (default true). */
  skipEmpty?: boolean;
  name?: string;
}

/** TF1's tf.string_split: splits each string of a vector at any byte of delimiter (op StringSplit). */
export function stringSplit(source: TensorLike, opts: StringSplitOptions = {}): SparseTensor {
  return scoped(opts.name ?? 'StringSplit', [source, opts.delimiter], (scope, g) => {
    const op = makeOp(g, 'StringSplit', [str(source, 'input'), str(opts.delimiter ?? ' ', 'delimiter')], { skip_empty: opts.skipEmpty ?? true }, scope);
    return new SparseTensor(op.outputs[0]!, op.outputs[1]!, op.outputs[2]!);
  });
}

export interface SplitOptions {
  /** The separator string; undefined or '' splits at runs of whitespace (Python's str.split). */
  sep?: TensorLike;
  /** At most this many splits per string; -1: no limit. */
  maxsplit?: number;
  name?: string;
}

/** TF1's tf.strings.split (result_type 'SparseTensor'): Python's str.split on each string of a vector (op StringSplitV2). */
export function split(source: TensorLike, opts: SplitOptions = {}): SparseTensor {
  return scoped(opts.name ?? 'StringSplit', [source, opts.sep], (scope, g) => {
    const op = makeOp(g, 'StringSplitV2', [str(source, 'input'), str(opts.sep ?? '', 'sep')], { maxsplit: opts.maxsplit ?? -1 }, scope);
    return new SparseTensor(op.outputs[0]!, op.outputs[1]!, op.outputs[2]!);
  });
}

/** A ragged batch of strings: row i is values[rowSplits[i] : rowSplits[i + 1]]. */
export interface RaggedStrings {
  values: Tensor;
  rowSplits: Tensor;
}

export interface NgramsOptions {
  /** Joins the tokens of an n-gram (default ' '). */
  separator?: string;
  /** Pads both ends with one string, or [left, right]; none: no padding. */
  padValues?: string | [string, string];
  /** How many pads at each end (default: ngram width - 1, when padValues is given). */
  paddingWidth?: number;
  /** A row too short for any n-gram gives one n-gram of all its tokens (default false). */
  preserveShortSequences?: boolean;
  name?: string;
}

/**
 * tf.strings.ngrams: the n-grams of each row of `data` for each width (op StringNGrams). A vector of
 * tokens is one row and gives a vector; a ragged batch ({values, rowSplits}) gives a ragged batch.
 */
export function ngrams(data: TensorLike | RaggedStrings, ngramWidth: number | readonly number[], opts: NgramsOptions = {}): Tensor | RaggedStrings {
  const ragged = typeof data === 'object' && data !== null && 'rowSplits' in data && 'values' in data;
  const values = ragged ? (data as RaggedStrings).values : (data as TensorLike);
  return scoped(opts.name ?? 'StringNGrams', [values, ragged ? (data as RaggedStrings).rowSplits : undefined], (scope, g) => {
    const v = str(values, 'data');
    if (!ragged && v.rank !== 1) throw new InvalidArgumentError(`tf.strings.ngrams takes a vector of tokens or a ragged batch, got shape ${JSON.stringify(v.shape)}`);
    const splits = ragged ? (data as RaggedStrings).rowSplits : concat([convertToTensor([0], 'int64', 'zero'), shapeOf(v, 'int64')], 0);
    const pad = opts.padValues;
    const [left, right] = pad === undefined ? ['', ''] : typeof pad === 'string' ? [pad, pad] : pad;
    const width = pad === undefined ? 0 : (opts.paddingWidth ?? -1);
    if (opts.paddingWidth !== undefined && opts.paddingWidth < 1) throw new InvalidArgumentError(`paddingWidth must be at least 1, got ${opts.paddingWidth}`);
    const op = makeOp(
      g,
      'StringNGrams',
      [v, splits],
      {
        separator: opts.separator ?? ' ',
        ngram_widths: typeof ngramWidth === 'number' ? [ngramWidth] : [...ngramWidth],
        left_pad: left,
        right_pad: right,
        pad_width: width,
        preserve_short_sequences: opts.preserveShortSequences ?? false,
        Tsplits: splits.dtype,
      },
      scope,
    );
    return ragged ? { values: op.outputs[0]!, rowSplits: op.outputs[1]! } : op.outputs[0]!;
  });
}

/** tf.strings.to_hash_bucket_fast: FarmHash Fingerprint64 of each string mod numBuckets (op StringToHashBucketFast). */
export function toHashBucketFast(input: TensorLike, numBuckets: number, name = 'StringToHashBucketFast'): Tensor {
  return unaryString('StringToHashBucketFast', input, { num_buckets: numBuckets }, name);
}

export interface RegexReplaceOptions {
  /** Replace every match (default) or the first only. */
  replaceGlobal?: boolean;
  name?: string;
}

/**
 * tf.strings.regex_replace with a constant pattern and rewrite (op StaticRegexReplace). TensorFlow
 * uses RE2; weir runs JavaScript's RegExp (flag 'u'), which agrees on the common syntax. Rewrites
 * name groups \1..\9 as RE2 does. RE2-only syntax ((?P<name>...), \C, \pN without braces, [[:alpha:]]
 * classes) is an error or differs; JavaScript-only lookarounds and backreferences work where RE2
 * would refuse them.
 */
export function regexReplace(input: TensorLike, pattern: string, rewrite: string, opts: RegexReplaceOptions = {}): Tensor {
  return unaryString('StaticRegexReplace', input, { pattern, rewrite, replace_global: opts.replaceGlobal ?? true }, opts.name ?? 'StaticRegexReplace');
}

export interface JoinOptions {
  separator?: string;
  name?: string;
}

/** tf.strings.join: elementwise concatenation of string tensors of one shape (scalars broadcast) (op StringJoin). */
export function join(inputs: readonly TensorLike[], opts: JoinOptions = {}): Tensor {
  return scoped(opts.name ?? 'StringJoin', inputs, (scope, g) => {
    const ts = inputs.map((v, i) => str(v, `inputs_${i}`));
    return makeOp(g, 'StringJoin', ts, { N: ts.length, separator: opts.separator ?? '' }, scope).outputs[0]!;
  });
}

export type StringUnit = 'BYTE' | 'UTF8_CHAR';

/** tf.strings.length: bytes (default) or UTF-8 characters of each string (op StringLength). */
export function length(input: TensorLike, opts: { unit?: StringUnit; name?: string } = {}): Tensor {
  return unaryString('StringLength', input, { unit: opts.unit ?? 'BYTE' }, opts.name ?? 'StringLength');
}

/** tf.strings.substr: len bytes (or characters) from pos (negative: from the end) (op Substr). */
export function substr(input: TensorLike, pos: TensorLike, len: TensorLike, opts: { unit?: StringUnit; name?: string } = {}): Tensor {
  return scoped(opts.name ?? 'Substr', [input, pos, len], (scope, g) => {
    const p = convertToTensor(pos, typeof pos === 'number' || Array.isArray(pos) ? 'int32' : undefined, 'pos', 'pos');
    const l = convertToTensor(len, typeof len === 'number' || Array.isArray(len) ? p.dtype : undefined, 'len', 'len');
    return makeOp(g, 'Substr', [str(input, 'input'), p, l], { T: p.dtype, unit: opts.unit ?? 'BYTE' }, scope).outputs[0]!;
  });
}

/** tf.strings.strip: removes leading and trailing ASCII whitespace (op StringStrip). */
export function strip(input: TensorLike, name = 'StringStrip'): Tensor {
  return unaryString('StringStrip', input, {}, name);
}

/** tf.strings.lower: ASCII letters, or all of Unicode with encoding 'utf-8' (op StringLower). */
export function lower(input: TensorLike, opts: { encoding?: string; name?: string } = {}): Tensor {
  return unaryString('StringLower', input, { encoding: opts.encoding ?? '' }, opts.name ?? 'StringLower');
}

/** tf.strings.upper (op StringUpper). */
export function upper(input: TensorLike, opts: { encoding?: string; name?: string } = {}): Tensor {
  return unaryString('StringUpper', input, { encoding: opts.encoding ?? '' }, opts.name ?? 'StringUpper');
}

/** TF1's top-level name of toHashBucketFast. */
export const stringToHashBucketFast = toHashBucketFast;
