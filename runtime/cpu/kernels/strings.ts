// CPU kernels: string ops. Strings are byte arrays (TF's tstring); splitting, n-grams, joins and
// hashing work on the bytes, as TensorFlow's kernels do. Host kernels on every backend.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import { numbersOf } from '../../../ops/semantics/array.js';
import { broadcastOrThrow } from '../../shape_helpers.js';
import { registerCpuKernel } from '../registry.js';
import { attr, forEachBroadcast, type Outputs } from './util.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytesOf = (a: NDArray): Uint8Array[] => a.data as Uint8Array[];
const scalarString = (a: NDArray, what: string): Uint8Array => {
  if (a.size !== 1) throw new InvalidArgumentError(`${what} must be a scalar, got shape ${formatShape(a.shape)}`);
  return bytesOf(a)[0]!;
};

function stringsOut(outputs: Outputs, shape: readonly number[], values: readonly Uint8Array[]): NDArray {
  const out = outputs.alloc('string', shape);
  const d = bytesOf(out);
  for (let i = 0; i < values.length; i++) d[i] = values[i]!;
  return out;
}

function int64Out(outputs: Outputs, shape: readonly number[], values: ArrayLike<number | bigint>): NDArray {
  const out = outputs.alloc('int64', shape);
  const d = out.data as BigInt64Array;
  for (let i = 0; i < values.length; i++) d[i] = BigInt(values[i]!);
  return out;
}

// ---- FarmHash Fingerprint64 (farmhashna::Hash64), TensorFlow's Fingerprint64 ----
// No npm package fits: farmhash-modern's browser build imports a .wasm module the browser bundle
// cannot load, and `farmhash` is a native addon. The algorithm is small; unsigned 64-bit arithmetic
// in BigInt, wrapped with asUintN.

const M64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const K0 = 0xc3a5c85c97cb3127n;
const K1 = 0xb492b66fbe98f273n;
const K2 = 0x9ae16a3b2f90404fn;

function fetch64(s: Uint8Array, i: number): bigint {
  const v = new DataView(s.buffer, s.byteOffset + i, 8);
  return v.getBigUint64(0, true);
}
function fetch32(s: Uint8Array, i: number): bigint {
  return BigInt(new DataView(s.buffer, s.byteOffset + i, 4).getUint32(0, true));
}
const rotate = (v: bigint, shift: number): bigint => (shift === 0 ? v : M64((v >> BigInt(shift)) | (v << BigInt(64 - shift))));
const shiftMix = (v: bigint): bigint => v ^ (v >> 47n);
const mul = (a: bigint, b: bigint): bigint => M64(a * b);
const add = (...xs: bigint[]): bigint => M64(xs.reduce((a, b) => a + b, 0n));

function hashLen16(u: bigint, v: bigint, m: bigint): bigint {
  let a = mul(u ^ v, m);
  a ^= a >> 47n;
  let b = mul(v ^ a, m);
  b ^= b >> 47n;
  return mul(b, m);
}

function hashLen0to16(s: Uint8Array, len: number): bigint {
  if (len >= 8) {
    const m = add(K2, BigInt(len * 2));
    const a = add(fetch64(s, 0), K2);
    const b = fetch64(s, len - 8);
    const c = add(mul(rotate(b, 37), m), a);
    const d = mul(add(rotate(a, 25), b), m);
    return hashLen16(c, d, m);
  }
  if (len >= 4) {
    const m = add(K2, BigInt(len * 2));
    const a = fetch32(s, 0);
    return hashLen16(add(BigInt(len), a << 3n), fetch32(s, len - 4), m);
  }
  if (len > 0) {
    const y = BigInt.asUintN(32, BigInt(s[0]!) + (BigInt(s[len >> 1]!) << 8n));
    const z = BigInt.asUintN(32, BigInt(len) + (BigInt(s[len - 1]!) << 2n));
    return mul(shiftMix(mul(y, K2) ^ mul(z, K0)), K2);
  }
  return K2;
}

function hashLen17to32(s: Uint8Array, len: number): bigint {
  const m = add(K2, BigInt(len * 2));
  const a = mul(fetch64(s, 0), K1);
  const b = fetch64(s, 8);
  const c = mul(fetch64(s, len - 8), m);
  const d = mul(fetch64(s, len - 16), K2);
  return hashLen16(add(rotate(add(a, b), 43), rotate(c, 30), d), add(a, rotate(add(b, K2), 18), c), m);
}

function hashLen33to64(s: Uint8Array, len: number): bigint {
  const m = add(K2, BigInt(len * 2));
  const a = mul(fetch64(s, 0), K2);
  const b = fetch64(s, 8);
  const c = mul(fetch64(s, len - 8), m);
  const d = mul(fetch64(s, len - 16), K2);
  const y = add(rotate(add(a, b), 43), rotate(c, 30), d);
  const z = hashLen16(y, add(a, rotate(add(b, K2), 18), c), m);
  const e = mul(fetch64(s, 16), m);
  const f = fetch64(s, 24);
  const g = mul(add(y, fetch64(s, len - 32)), m);
  const h = mul(add(z, fetch64(s, len - 24)), m);
  return hashLen16(add(rotate(add(e, f), 43), rotate(g, 30), h), add(e, rotate(add(f, a), 18), g), m);
}

function weakHashLen32WithSeeds(s: Uint8Array, i: number, a: bigint, b: bigint): [bigint, bigint] {
  const w = fetch64(s, i);
  const x = fetch64(s, i + 8);
  const y = fetch64(s, i + 16);
  const z = fetch64(s, i + 24);
  a = add(a, w);
  b = rotate(add(b, a, z), 21);
  const c = a;
  a = add(a, x, y);
  b = add(b, rotate(a, 44));
  return [add(a, z), add(b, c)];
}

/** FarmHash's Fingerprint64 of a byte string, as an unsigned 64-bit bigint. */
export function fingerprint64(s: Uint8Array): bigint {
  const len = s.length;
  if (len <= 16) return hashLen0to16(s, len);
  if (len <= 32) return hashLen17to32(s, len);
  if (len <= 64) return hashLen33to64(s, len);
  const seed = 81n;
  let x = seed;
  let y = add(mul(seed, K1), 113n);
  let z = mul(shiftMix(add(mul(y, K2), 113n)), K2);
  let v: [bigint, bigint] = [0n, 0n];
  let w: [bigint, bigint] = [0n, 0n];
  x = add(mul(x, K2), fetch64(s, 0));
  const end = Math.floor((len - 1) / 64) * 64;
  const last64 = end + ((len - 1) & 63) - 63;
  let p = 0;
  do {
    x = mul(rotate(add(x, y, v[0], fetch64(s, p + 8)), 37), K1);
    y = mul(rotate(add(y, v[1], fetch64(s, p + 48)), 42), K1);
    x ^= w[1];
    y = add(y, v[0], fetch64(s, p + 40));
    z = mul(rotate(add(z, w[0]), 33), K1);
    v = weakHashLen32WithSeeds(s, p, mul(v[1], K1), add(x, w[0]));
    w = weakHashLen32WithSeeds(s, p + 32, add(z, w[1]), add(y, fetch64(s, p + 16)));
    [z, x] = [x, z];
    p += 64;
  } while (p !== end);
  const m = add(K1, (z & 0xffn) << 1n);
  p = last64;
  w[0] = add(w[0], BigInt((len - 1) & 63));
  v[0] = add(v[0], w[0]);
  w[0] = add(w[0], v[0]);
  x = mul(rotate(add(x, y, v[0], fetch64(s, p + 8)), 37), m);
  y = mul(rotate(add(y, v[1], fetch64(s, p + 48)), 42), m);
  x ^= mul(w[1], 9n);
  y = add(y, mul(v[0], 9n), fetch64(s, p + 40));
  z = mul(rotate(add(z, w[0]), 33), m);
  v = weakHashLen32WithSeeds(s, p, mul(v[1], m), add(x, w[0]));
  w = weakHashLen32WithSeeds(s, p + 32, add(z, w[1]), add(y, fetch64(s, p + 16)));
  [z, x] = [x, z];
  return hashLen16(add(hashLen16(v[0], w[0], m), mul(shiftMix(y), K0), z), add(hashLen16(v[1], w[1], m), x), m);
}

registerCpuKernel('StringToHashBucketFast', ([input], node, _state, outputs) => {
  const n = BigInt(attr<number>(node, 'num_buckets'));
  const out = outputs.alloc('int64', input!.shape);
  const d = out.data as BigInt64Array;
  bytesOf(input!).forEach((s, i) => (d[i] = fingerprint64(s) % n));
  return [out];
});

// ---- splitting ----

/** A split's SparseTensor parts: indices [n, 2] (row, position), values, shape [rows, longest]. */
function sparseSplit(outputs: Outputs, rows: readonly Uint8Array[][]): NDArray[] {
  const total = rows.reduce((a, r) => a + r.length, 0);
  const indices = outputs.alloc('int64', [total, 2]);
  const id = indices.data as BigInt64Array;
  const values: Uint8Array[] = [];
  let longest = 0;
  rows.forEach((tokens, r) => {
    longest = Math.max(longest, tokens.length);
    tokens.forEach((t, j) => {
      id[values.length * 2] = BigInt(r);
      id[values.length * 2 + 1] = BigInt(j);
      values.push(t);
    });
  });
  return [indices, stringsOut(outputs, [total], values), int64Out(outputs, [2], [rows.length, longest])];
}

function checkVector(op: string, a: NDArray): void {
  if (a.rank !== 1) throw new InvalidArgumentError(`${op}: input must be a vector, got shape ${formatShape(a.shape)}`);
}

/** StringSplit (v1): splits at any byte of the delimiter; an empty delimiter splits into bytes; '' has no tokens. */
registerCpuKernel('StringSplit', ([input, delimiter], node, _state, outputs) => {
  checkVector('StringSplit', input!);
  const delim = new Set(scalarString(delimiter!, 'delimiter'));
  const skipEmpty = attr<boolean>(node, 'skip_empty') ?? true;
  const rows = bytesOf(input!).map((s) => {
    if (s.length === 0) return [];
    if (delim.size === 0) return Array.from(s, (_, i) => s.subarray(i, i + 1));
    const tokens: Uint8Array[] = [];
    let start = 0;
    for (let i = 0; i <= s.length; i++) {
      if (i < s.length && !delim.has(s[i]!)) continue;
      if (!skipEmpty || i > start) tokens.push(s.subarray(start, i));
      start = i + 1;
    }
    return tokens;
  });
  return sparseSplit(outputs, rows);
});

const isSpace = (b: number): boolean => b === 32 || (b >= 9 && b <= 13);

/**
 * StringSplitV2: Python's str.split as TensorFlow's kernel does it (whitespace runs when sep is
 * empty), but for one difference TensorFlow has: when maxsplit is reached the rest is a token even
 * when it is empty ('x'.split(None, 1) is ['x'] in Python, ['x', ''] in TensorFlow).
 */
export function splitV2(s: Uint8Array, sep: Uint8Array, maxsplit: number): Uint8Array[] {
  if (maxsplit === 0) return [s];
  const out: Uint8Array[] = [];
  if (sep.length === 0) {
    let i = 0;
    while (i < s.length && isSpace(s[i]!)) i++;
    while (i < s.length) {
      const start = i;
      while (i < s.length && !isSpace(s[i]!)) i++;
      out.push(s.subarray(start, i));
      while (i < s.length && isSpace(s[i]!)) i++;
      if (maxsplit > 0 && out.length === maxsplit) {
        out.push(s.subarray(i));
        break;
      }
    }
    return out;
  }
  let start = 0;
  for (let i = 0; i + sep.length <= s.length; ) {
    let match = true;
    for (let k = 0; k < sep.length && match; k++) match = s[i + k] === sep[k];
    if (!match) {
      i++;
      continue;
    }
    out.push(s.subarray(start, i));
    i += sep.length;
    start = i;
    if (maxsplit > 0 && out.length === maxsplit) break;
  }
  out.push(s.subarray(start));
  return out;
}

registerCpuKernel('StringSplitV2', ([input, sep], node, _state, outputs) => {
  checkVector('StringSplitV2', input!);
  const sepBytes = scalarString(sep!, 'sep');
  const maxsplit = attr<number>(node, 'maxsplit') ?? -1;
  return sparseSplit(outputs, bytesOf(input!).map((s) => splitV2(s, sepBytes, maxsplit)));
});

// ---- n-grams ----

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

registerCpuKernel('StringNGrams', ([data, splitsA], node, _state, outputs) => {
  const sep = encoder.encode(attr<string>(node, 'separator') ?? ' ');
  const widths = attr<number[]>(node, 'ngram_widths') ?? [];
  const leftPad = encoder.encode(attr<string>(node, 'left_pad') ?? '');
  const rightPad = encoder.encode(attr<string>(node, 'right_pad') ?? '');
  const padWidthAttr = attr<number>(node, 'pad_width') ?? 0;
  const preserveShort = attr<boolean>(node, 'preserve_short_sequences') ?? false;
  const values = bytesOf(data!);
  const splits = numbersOf(splitsA!);
  const splitsType = splitsA!.dtype;
  if (splits.length > 0) {
    const bad = splits[0] !== 0 || splits.some((v, i) => i > 0 && v < splits[i - 1]!) || splits[splits.length - 1] !== values.length;
    if (bad) throw new InvalidArgumentError(`StringNGrams: invalid data_splits [${splits.join(',')}] for ${values.length} values: they must start at 0, not decrease and end at the number of values`);
  }
  const splitsOut = (v: readonly number[]): NDArray => {
    const out = outputs.alloc(splitsType, [v.length]);
    v.forEach((x, i) => ((out.data as unknown as (number | bigint)[])[i] = splitsType === 'int64' ? BigInt(x) : x));
    return out;
  };
  if (values.length === 0 || splits.length === 0) return [stringsOut(outputs, [0], []), splitsOut(splits)];
  const padOf = (w: number): number => Math.min(padWidthAttr < 0 ? w - 1 : padWidthAttr, w - 1);
  const count = (len: number, w: number): number => Math.max(0, len + 2 * padOf(w) - w + 1);
  const ngrams: Uint8Array[] = [];
  /** TensorFlow's CreateNgrams: pads on the left, tokens, pads on the right, separated once each. */
  const create = (start: number, num: number, w: number): void => {
    const pad = padOf(w);
    for (let k = 0; k < num; k++) {
      const left = Math.max(0, pad - k);
      const right = Math.max(0, pad - (num - (k + 1)));
      const tokens = w - (left + right);
      const first = left > 0 ? 0 : k - pad;
      const parts: Uint8Array[] = [];
      for (let n = 0; n < left; n++) parts.push(leftPad, sep);
      for (let n = 0; n < tokens - 1; n++) parts.push(values[start + first + n]!, sep);
      if (tokens > 0) {
        parts.push(values[start + first + tokens - 1]!);
        for (let n = 0; n < right; n++) parts.push(sep, rightPad);
      } else {
        for (let n = 0; n < right - 1; n++) parts.push(rightPad, sep);
        parts.push(rightPad);
      }
      ngrams.push(concatBytes(parts));
    }
  };
  const outSplits = [0];
  for (let i = 0; i + 1 < splits.length; i++) {
    const start = splits[i]!;
    const len = splits[i + 1]! - start;
    const before = ngrams.length;
    for (const w of widths) create(start, count(len, w), w);
    if (preserveShort && ngrams.length === before && len > 0) create(start, 1, len + 2 * padWidthAttr);
    outSplits.push(ngrams.length);
  }
  return [stringsOut(outputs, [ngrams.length], ngrams), splitsOut(outSplits)];
});

// ---- per-string maps ----

function mapStrings(outputs: Outputs, input: NDArray, f: (s: Uint8Array) => Uint8Array): NDArray {
  return stringsOut(outputs, input.shape, bytesOf(input).map(f));
}

/**
 * RE2's rewrite string names the match \0, groups \1..\9 and a backslash \\; JavaScript's
 * replacement names them $&, $1..$9, and a dollar $$.
 */
export function jsRewrite(rewrite: string): string {
  return rewrite.replace(/\$/g, '$$$$').replace(/\\(\d|\\)/g, (_, c: string) => (c === '\\' ? '\\' : c === '0' ? '$&' : `$${c}`));
}

registerCpuKernel('StaticRegexReplace', ([input], node, _state, outputs) => {
  const pattern = attr<string>(node, 'pattern');
  let re: RegExp;
  try {
    re = new RegExp(pattern, (attr<boolean>(node, 'replace_global') ?? true) ? 'gu' : 'u');
  } catch (e) {
    throw new InvalidArgumentError(`StaticRegexReplace: invalid pattern ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
  const rewrite = jsRewrite(attr<string>(node, 'rewrite'));
  return [mapStrings(outputs, input!, (s) => encoder.encode(decoder.decode(s).replace(re, rewrite)))];
});

registerCpuKernel('StringStrip', ([input], _node, _state, outputs) => [
  mapStrings(outputs, input!, (s) => {
    let a = 0;
    let b = s.length;
    while (a < b && isSpace(s[a]!)) a++;
    while (b > a && isSpace(s[b - 1]!)) b--;
    return s.subarray(a, b);
  }),
]);

/** StringLower / StringUpper: ASCII only without an encoding (as TensorFlow), Unicode case mapping with 'utf-8'. */
function caseKernel(upper: boolean) {
  return ([input]: NDArray[], node: { attrs: Readonly<Record<string, unknown>> }, _state: unknown, outputs: Outputs): NDArray[] => {
    const encoding = (node.attrs.encoding as string | undefined) ?? '';
    if (encoding !== '' && encoding.toLowerCase() !== 'utf-8') throw new InvalidArgumentError(`String${upper ? 'Upper' : 'Lower'}: unsupported encoding ${encoding}`);
    if (encoding !== '') return [mapStrings(outputs, input!, (s) => encoder.encode(upper ? decoder.decode(s).toUpperCase() : decoder.decode(s).toLowerCase()))];
    const [from, to, delta] = upper ? [97, 122, -32] : [65, 90, 32];
    return [mapStrings(outputs, input!, (s) => s.map((b) => (b >= from && b <= to ? b + delta : b)))];
  };
}
registerCpuKernel('StringLower', caseKernel(false));
registerCpuKernel('StringUpper', caseKernel(true));

/** Start of each UTF-8 character (bytes that are not continuation bytes), and the end. */
function charStarts(s: Uint8Array): number[] {
  const starts: number[] = [];
  s.forEach((b, i) => {
    if ((b & 0xc0) !== 0x80) starts.push(i);
  });
  starts.push(s.length);
  return starts;
}

registerCpuKernel('StringLength', ([input], node, _state, outputs) => {
  const utf8 = attr<string>(node, 'unit') === 'UTF8_CHAR';
  const out = outputs.alloc('int32', input!.shape);
  const d = out.data as Int32Array;
  bytesOf(input!).forEach((s, i) => (d[i] = utf8 ? charStarts(s).length - 1 : s.length));
  return [out];
});

registerCpuKernel('Substr', ([input, posA, lenA], node, _state, outputs) => {
  const utf8 = attr<string>(node, 'unit') === 'UTF8_CHAR';
  if (posA!.shape.join(',') !== lenA!.shape.join(',')) {
    throw new InvalidArgumentError(`Substr: pos and len must have the same shape, got ${formatShape(posA!.shape)} and ${formatShape(lenA!.shape)}`);
  }
  const shape = broadcastOrThrow(input!.shape, posA!.shape);
  const strs = bytesOf(input!);
  const pos = numbersOf(posA!);
  const len = numbersOf(lenA!);
  const res = new Array<Uint8Array>(shape.reduce((a, b) => a * b, 1));
  forEachBroadcast(input!.shape, posA!.shape, shape, (o, i, j) => {
    const s = strs[i]!;
    const starts = utf8 ? charStarts(s) : null;
    const size = starts ? starts.length - 1 : s.length;
    let p = pos[j]!;
    if (p > size || p < -size) throw new InvalidArgumentError(`Substr: pos ${p} out of range for string b'${decoder.decode(s)}' at index ${o}`);
    if (p < 0) p += size;
    const n = len[j]! < 0 ? size - p : Math.min(len[j]!, size - p);
    res[o] = starts ? s.subarray(starts[p]!, starts[p + n]!) : s.subarray(p, p + n);
  });
  return [stringsOut(outputs, shape, res)];
});

registerCpuKernel('StringJoin', (inputs, node, _state, outputs) => {
  const sep = encoder.encode(attr<string>(node, 'separator') ?? '');
  const shaped = inputs.find((a) => a.rank > 0);
  const shape = shaped?.shape ?? [];
  for (const a of inputs) {
    if (a.rank > 0 && a.shape.join(',') !== shape.join(',')) {
      throw new InvalidArgumentError(`StringJoin: inputs must be scalars or have one shape, got ${formatShape(shape)} and ${formatShape(a.shape)}`);
    }
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const res = Array.from({ length: n }, (_, i) =>
    concatBytes(inputs.flatMap((a, k) => (k === 0 ? [bytesOf(a)[a.rank > 0 ? i : 0]!] : [sep, bytesOf(a)[a.rank > 0 ? i : 0]!]))),
  );
  return [stringsOut(outputs, shape, res)];
});
