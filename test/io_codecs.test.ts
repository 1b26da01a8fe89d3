// Byte-level codecs of the TensorFlow formats: CRC32C, Snappy, the table (.index) format, tensor bundles.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { DataLossError, InvalidArgumentError } from '../src/core/errors.js';
import { crc32c, crc32cExtend, maskCrc, unmaskCrc } from '../src/io/crc32c.js';
import { snappyUncompress } from '../src/io/snappy.js';
import { buildTable, readTable, type TableEntry } from '../src/io/table.js';
import { BundleIndex, encodeBundle, readTensor } from '../src/io/bundle.js';
import { decodeMessage, encodeMessage } from '../src/io/proto.js';
import { tensorFromProto, tensorToProto } from '../src/io/tensor_proto.js';
import { rng } from './helpers.js';

const snappy = createRequire(import.meta.url)('snappyjs') as { compress(b: Uint8Array): Uint8Array; uncompress(b: Uint8Array): Uint8Array };

const FIXTURE = 'test/fixtures/tensorflow-serving/saved_model_half_plus_three';
const fixtureIndex = new Uint8Array(readFileSync(`${FIXTURE}/variables/variables.index`));
const fixtureData = new Uint8Array(readFileSync(`${FIXTURE}/variables/variables.data-00000-of-00001`));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Bit-at-a-time CRC-32C: an independent oracle for the table-driven implementation. */
function crcBitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('CRC32C', () => {
  it('gives the standard check value and matches a bitwise implementation', () => {
    expect(crc32c(enc('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    // RFC 3720 test vectors: 32 zero bytes, 32 0xff bytes, 0..31.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    const r = rng(3);
    for (let n = 0; n < 70; n++) {
      const d = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
      expect(crc32c(d)).toBe(crcBitwise(d));
      // Extending over two halves equals the CRC of the whole.
      const h = n >> 1;
      expect(crc32cExtend(crc32c(d.subarray(0, h)), d.subarray(h))).toBe(crc32c(d));
    }
  });

  it('masks as LevelDB does, and unmask inverts it', () => {
    const c = 0x12345678;
    expect(maskCrc(c)).toBe((((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0);
    for (const x of [0, 1, 0xffffffff, 0xe3069283, 0x80000000]) expect(unmaskCrc(maskCrc(x))).toBe(x >>> 0);
  });

  it('reproduces the checksums TensorFlow stored in the fixture checkpoint', () => {
    // Block trailer of the first data block: masked CRC of its 66 bytes + the type byte.
    const stored = new DataView(fixtureIndex.buffer, fixtureIndex.byteOffset).getUint32(0x43, true);
    expect(maskCrc(crc32c(fixtureIndex.subarray(0, 0x43)))).toBe(stored);
    // Entry 'a' (0.5f, bytes 0..4 of the data file) records masked CRC 0x1f273806.
    expect(maskCrc(crc32c(fixtureData.subarray(0, 4)))).toBe(0x1f273806);
  });
});

describe('Snappy', () => {
  it('decodes what an independent encoder (snappyjs) writes', () => {
    const r = rng(11);
    const cases: Uint8Array[] = [new Uint8Array(0), enc('a'), enc('abababababababababababab'), new Uint8Array(100000).fill(7)];
    for (let k = 0; k < 20; k++) {
      // Repetitive text with runs and random bytes: literals and copies of every offset size.
      const n = Math.floor(r() * 90000);
      const d = new Uint8Array(n);
      for (let i = 0; i < n; i++) d[i] = r() < 0.7 && i > 70000 ? d[i - 70000]! : r() < 0.5 && i > 10 ? d[i - 1 - Math.floor(r() * 10)]! : Math.floor(r() * 256);
      cases.push(d);
    }
    for (const d of cases) expect(hex(snappyUncompress(snappy.compress(d)))).toBe(hex(d));
  });

  it('rejects malformed input with DataLossError, without allocating what it claims', () => {
    const good = snappy.compress(enc('hello hello hello hello hello'));
    expect(() => snappyUncompress(good.subarray(0, good.length - 3))).toThrow(DataLossError);
    // A preamble claiming 4 GB from a few bytes.
    expect(() => snappyUncompress(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x41))).toThrow(/declares/);
    // A copy reaching before the start of the output.
    expect(() => snappyUncompress(Uint8Array.of(4, 0x01 | (0 << 2), 5))).toThrow(DataLossError);
    // Output shorter than declared.
    expect(() => snappyUncompress(Uint8Array.of(5, 0x00, 0x41))).toThrow(/expected 5/);
    // Bad varint.
    expect(() => snappyUncompress(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80))).toThrow(DataLossError);
  });
});

function entries(n: number, seed: number, valueSize = 20): TableEntry[] {
  const r = rng(seed);
  const keys = new Set<string>();
  while (keys.size < n) keys.add(`layer${Math.floor(r() * 50)}/w${Math.floor(r() * 1e6)}`);
  return [...keys]
    .sort()
    .map((k) => ({ key: enc(k), value: Uint8Array.from({ length: Math.floor(r() * valueSize) }, () => Math.floor(r() * 256)) }));
}

describe('table (.index) format', () => {
  it('rebuilds the fixture index byte for byte from its entries', () => {
    const es = readTable(fixtureIndex);
    expect(es.map((e) => new TextDecoder().decode(e.key))).toEqual(['', 'a', 'b', 'c']);
    expect(hex(buildTable(es))).toBe(hex(fixtureIndex));
  });

  it('decodes the fixture layout by hand: prefix-compressed entries, restarts, handles, footer', () => {
    // Independent walk over the bytes TensorFlow wrote.
    const b = fixtureIndex;
    const footer = b.subarray(b.length - 48);
    expect(hex(footer.subarray(40))).toBe('57fb808b247547db'); // magic 0xdb4775248b80fb57 little-endian
    expect([...footer.subarray(0, 4)]).toEqual([0x47, 0x08, 0x54, 0x0e]); // metaindex (71, 8), index (84, 14)
    expect([...footer.subarray(4, 40)].every((x) => x === 0)).toBe(true);
    // First entry: shared 0, non-shared 0, value 6 bytes: the BundleHeaderProto.
    expect([...b.subarray(0, 3)]).toEqual([0, 0, 6]);
    // Index block entry: key 'd' = FindShortSuccessor('c'), handle (0, 66).
    expect([...b.subarray(84, 90)]).toEqual([0, 1, 2, 0x64, 0, 0x42]);
  });

  it('round-trips many entries over several blocks with prefix compression and restarts', () => {
    const es = entries(3000, 5, 60);
    const bytes = buildTable(es, { blockSize: 1024 });
    const back = readTable(bytes);
    expect(back.length).toBe(es.length);
    back.forEach((e, i) => {
      expect(hex(e.key)).toBe(hex(es[i]!.key));
      expect(hex(e.value)).toBe(hex(es[i]!.value));
    });
    // Keys sharing prefixes are stored compressed: the file is smaller than the raw keys.
    const rawKeys = es.reduce((s, e) => s + e.key.length, 0);
    expect(bytes.length).toBeLessThan(rawKeys + es.reduce((s, e) => s + e.value.length, 0));
  });

  it('reads Snappy-compressed blocks (type 1) as TensorFlow may write them', () => {
    const es = entries(500, 9, 200).map((e) => ({ key: e.key, value: new Uint8Array(200).fill(e.key[5]!) }));
    const compressed = buildTable(es, { blockSize: 4096, compress: (raw) => snappy.compress(raw) });
    const plain = buildTable(es, { blockSize: 4096 });
    expect(compressed.length).toBeLessThan(plain.length / 3);
    // The first block's trailer says Snappy.
    const back = readTable(compressed);
    expect(back.map((e) => hex(e.value))).toEqual(es.map((e) => hex(e.value)));
    // A block that does not compress by 12.5% is stored raw.
    const random = entries(50, 2, 300);
    const b2 = buildTable(random, { compress: (raw) => snappy.compress(raw) });
    expect(readTable(b2).length).toBe(50);
  });

  it('verifies every block checksum and the footer', () => {
    const bytes = buildTable(entries(200, 4), { blockSize: 512 });
    for (const at of [0, 100, bytes.length - 60, bytes.length - 50]) {
      const bad = bytes.slice();
      bad[at]! ^= 0x01;
      expect(() => readTable(bad)).toThrow(DataLossError);
    }
    const badMagic = bytes.slice();
    badMagic[badMagic.length - 1] = 0;
    expect(() => readTable(badMagic)).toThrow(/bad magic/);
    expect(() => readTable(bytes.subarray(0, 40))).toThrow(/too short/);
    expect(() => readTable(bytes.subarray(10))).toThrow(DataLossError);
  });

  it('refuses keys out of order when building', () => {
    expect(() => buildTable([{ key: enc('b'), value: enc('') }, { key: enc('a'), value: enc('') }])).toThrow(RangeError);
  });
});

describe('tensor bundle', () => {
  it('encodes the fixture tensors into exactly the bytes TensorFlow wrote', () => {
    const index = new BundleIndex(fixtureIndex);
    const vals = index.names().map((n) => [n, readTensor(index.entry(n), fixtureData, 'data')] as const);
    expect(vals.map(([n, v]) => [n, v.toArray()])).toEqual([
      ['a', 0.5],
      ['b', 3],
      ['c', 3],
    ]);
    const out = encodeBundle(vals);
    expect(hex(out.index)).toBe(hex(fixtureIndex));
    expect(hex(out.data)).toBe(hex(fixtureData));
  });

  it('round-trips every dtype, empty and scalar tensors, with TF string framing', () => {
    const strs = tf.NDArray.from([['', 'a'], ['héllo', 'x'.repeat(300)]], 'string');
    const tensors: [string, tf.NDArray][] = [
      ['f', new tf.NDArray(Float32Array.from([1.5, -2, NaN, Infinity]), [2, 2])],
      ['i', new tf.NDArray(Int32Array.from([1, -2147483648, 2147483647]), [3])],
      ['l', new tf.NDArray(BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 5n]), [3])],
      ['b', new tf.NDArray(Uint8Array.from([1, 0, 1]), [3], 'bool')],
      ['s', strs],
      ['empty', new tf.NDArray(new Float32Array(0), [0, 4])],
      ['scalar', tf.NDArray.from(7, 'int32')],
      ['nested/name/with spaces', tf.NDArray.from([1, 2], 'float32')],
    ];
    const out = encodeBundle(tensors);
    const index = new BundleIndex(out.index);
    expect(index.names()).toEqual([...tensors.map(([n]) => n)].sort());
    for (const [name, v] of tensors) {
      const back = readTensor(index.entry(name), out.data, 'data');
      expect(back.dtype).toBe(v.dtype);
      expect(back.shape).toEqual(v.shape);
      if (v.dtype === 'string') expect(back.toArray()).toEqual(v.toArray());
      else expect(Array.from(back.data as ArrayLike<unknown>)).toEqual(Array.from(v.data as ArrayLike<unknown>));
    }
    // String layout: varint lengths, masked CRC of the lengths (as uint32 LE), then the bytes.
    const e = index.entry('s');
    const d = out.data.subarray(e.offset, e.offset + e.size);
    const lens = [0, 1, 6, 300];
    expect([...d.subarray(0, 5)]).toEqual([0, 1, 6, 0xac, 0x02]);
    const lenBytes = new Uint8Array(16);
    lens.forEach((l, i) => new DataView(lenBytes.buffer).setUint32(4 * i, l, true));
    expect(new DataView(d.buffer, d.byteOffset).getUint32(5, true)).toBe(maskCrc(crc32c(lenBytes)));
    expect(new TextDecoder().decode(d.subarray(9, 9 + 1))).toBe('a');
  });

  it('reports corruption and bad entries as typed errors', () => {
    const out = encodeBundle([['w', new tf.NDArray(Float32Array.from([1, 2, 3]), [3])], ['s', tf.NDArray.from(['ab', 'c'], 'string')]]);
    const index = new BundleIndex(out.index);
    const w = index.entry('w');
    const flipped = out.data.slice();
    flipped[w.offset + 2]! ^= 0x10;
    expect(() => readTensor(w, flipped, 'data')).toThrow(/checksum does not match/);
    expect(() => readTensor(w, out.data.subarray(0, w.offset + 8), 'data')).toThrow(/past the end of the data file/);
    const sEntry = index.entry('s');
    const flippedS = out.data.slice();
    flippedS[sEntry.offset + sEntry.size - 1]! ^= 1;
    expect(() => readTensor(sEntry, flippedS, 'data')).toThrow(DataLossError);
    const flippedLen = out.data.slice();
    flippedLen[sEntry.offset]! ^= 1;
    expect(() => readTensor(sEntry, flippedLen, 'data')).toThrow(DataLossError);
    expect(() => index.entry('nope')).toThrow(tf.errors.NotFoundError);
  });

  it('rejects absurd sizes and shapes and unsupported dtypes without allocating them', () => {
    const header = { key: new Uint8Array(0), value: encodeMessage('BundleHeaderProto', { num_shards: 1, version: { producer: 1 } }) };
    const table = (name: string, e: object): Uint8Array =>
      buildTable([header, { key: enc(name), value: encodeMessage('BundleEntryProto', e as never) }]);
    // 2^40 bytes for a [2^38] float tensor: consistent with the shape, but far past the data file.
    const huge = new BundleIndex(table('x', { dtype: 1, shape: { dim: [{ size: 2 ** 30 }] }, size: 2 ** 32 }));
    expect(() => readTensor(huge.entry('x'), new Uint8Array(16), 'data')).toThrow(/past the end/);
    // A shape with 1e12 elements.
    const big = new BundleIndex(table('x', { dtype: 1, shape: { dim: [{ size: 1e6 }, { size: 1e6 }] }, size: 4 }));
    expect(() => big.entry('x')).toThrow(InvalidArgumentError);
    // Size inconsistent with the shape.
    expect(() => new BundleIndex(table('x', { dtype: 1, shape: { dim: [{ size: 3 }] }, size: 2 ** 40 }))).toThrow(/invalid size/);
    // Negative dims.
    expect(() => new BundleIndex(table('x', { dtype: 1, shape: { dim: [{ size: -5 }] }, size: 4 })).entry('x')).toThrow(InvalidArgumentError);
    // DT_DOUBLE (valid TF, unsupported by weir) and a value that is no DataType at all.
    expect(() => new BundleIndex(table('x', { dtype: 2, shape: {}, size: 8 })).entry('x')).toThrow(/DT_DOUBLE, which weir does not support/);
    expect(() => new BundleIndex(table('x', { dtype: 77, shape: {}, size: 8 })).entry('x')).toThrow(/unknown dtype/);
    // Shard ids past the header's count.
    expect(() => new BundleIndex(table('x', { dtype: 1, shape: {}, size: 4, shard_id: 3 }))).toThrow(/shard id 3/);
    // Millions of strings claimed in a few bytes.
    const strs = new BundleIndex(table('x', { dtype: 7, shape: { dim: [{ size: 5e6 }] }, size: 6 }));
    expect(() => readTensor(strs.entry('x'), new Uint8Array(6), 'data')).toThrow(/cannot fit/);
    // Missing header.
    expect(() => new BundleIndex(buildTable([{ key: enc('x'), value: new Uint8Array(0) }]))).toThrow(/header/);
  });
});

describe('TensorProto conversion', () => {
  it('writes constants as TensorFlow python does and reads every representation', () => {
    const m = new tf.NDArray(Float32Array.from([1, 2, 3, 4]), [2, 2]);
    const p = tensorToProto(m);
    expect(p.tensor_content).toBeDefined();
    expect(hex(p.tensor_content!)).toBe(hex(new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer)));
    expect(tensorToProto(tf.NDArray.from(0.5, 'float32')).float_val).toEqual([0.5]);
    // All-equal values are written once and broadcast back when read.
    const z = tensorToProto(tf.NDArray.zeros([3, 5]));
    expect(z.float_val).toEqual([0]);
    expect(z.tensor_content).toBeUndefined();
    const back = tensorFromProto(decodeMessage('TensorProto', encodeMessage('TensorProto', z)));
    expect(back.shape).toEqual([3, 5]);
    expect(Array.from(back.data as Float32Array)).toEqual(new Array(15).fill(0));
    // The last of fewer values fills the rest (TF's rule), for every typed field.
    expect(tensorFromProto({ dtype: 3, tensor_shape: { dim: [{ size: 4 }] }, int_val: [1, 2] }).toArray()).toEqual([1, 2, 2, 2]);
    expect(tensorFromProto({ dtype: 9, tensor_shape: { dim: [{ size: 2 }] }, int64_val: [5] }).toArray()).toEqual([5n, 5n]);
    expect(tensorFromProto({ dtype: 10, tensor_shape: { dim: [{ size: 2 }] }, bool_val: [true] }).toArray()).toEqual([true, true]);
    expect(tensorFromProto({ dtype: 7, tensor_shape: { dim: [{ size: 2 }] }, string_val: [enc('x')] }).toArray()).toEqual(['x', 'x']);
    // int64 beyond 2^53 survives the round trip.
    const big = new tf.NDArray(BigInt64Array.from([2n ** 62n + 1n]), []);
    expect(tensorFromProto(decodeMessage('TensorProto', encodeMessage('TensorProto', tensorToProto(big)))).toArray()).toBe(2n ** 62n + 1n);
    // Errors: wrong content size, too many values, a broadcast past the limit.
    expect(() => tensorFromProto({ dtype: 1, tensor_shape: { dim: [{ size: 3 }] }, tensor_content: new Uint8Array(8) })).toThrow(/expected 12/);
    expect(() => tensorFromProto({ dtype: 1, tensor_shape: { dim: [{ size: 1 }] }, float_val: [1, 2] })).toThrow(/2 values given for 1/);
    expect(() => tensorFromProto({ dtype: 1, tensor_shape: { dim: [{ size: 1e5 }, { size: 1e5 }] }, float_val: [1] })).toThrow(InvalidArgumentError);
  });
});
