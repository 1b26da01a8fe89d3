/**
 * TensorFlow's tensor bundle (tensorflow/core/util/tensor_bundle), the V2 checkpoint format:
 * `PREFIX.index` is a table (table.ts) with a BundleHeaderProto under the empty key and a
 * BundleEntryProto per tensor under its name; `PREFIX.data-SSSSS-of-NNNNN` holds the tensors' raw
 * little-endian bytes. String tensors are stored as varint64 lengths, a masked CRC32C of the
 * lengths, then the bytes.
 */
import type { DType } from '../core/dtypes.js';
import { DataLossError, InvalidArgumentError, NotFoundError, UnimplementedError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import { ByteReader, ByteWriter, compareBytes, fromUtf8, readFixed32, utf8 } from './bytes.js';
import { crc32c, crc32cExtend, maskCrc, unmaskCrc } from './crc32c.js';
import { decodeMessage, encodeMessage, int64ToNumber, type BundleEntryProto, type BundleHeaderProto } from './proto.js';
import { buildTable, readTable, type TableOptions } from './table.js';
import { arrayFromBytes, concreteShape, dtypeFromTF, dtypeToTF, shapeToProto, tensorBytes } from './tensor_proto.js';

/** Version of the bundle format weir reads and writes (kTensorBundleVersion). */
export const BUNDLE_VERSION = 1;

export function indexFilename(prefix: string): string {
  return `${prefix}.index`;
}
export function dataFilename(prefix: string, shard: number, numShards: number): string {
  const pad = (n: number): string => String(n).padStart(5, '0');
  return `${prefix}.data-${pad(shard)}-of-${pad(numShards)}`;
}

export interface EncodedBundle {
  index: Uint8Array;
  data: Uint8Array;
}

/**
 * Encodes named tensors as a single-shard bundle, byte for byte as TensorFlow's BundleWriter:
 * entries sorted by name (bytewise), tensors laid out in that order, no padding.
 */
export function encodeBundle(tensors: Iterable<readonly [string, NDArray]>, tableOptions?: TableOptions): EncodedBundle {
  const items = [...tensors].map(([name, value]) => ({ name, key: utf8(name), value }));
  if (items.some((t) => t.name === '')) throw new InvalidArgumentError('A checkpoint tensor cannot have an empty name (reserved for the header)');
  items.sort((a, b) => compareBytes(a.key, b.key));
  for (let i = 1; i < items.length; i++) {
    if (items[i]!.name === items[i - 1]!.name) throw new InvalidArgumentError(`Adding duplicate key: ${items[i]!.name}`);
  }
  const data = new ByteWriter(1024);
  const entries: { key: Uint8Array; value: Uint8Array }[] = [];
  const header: BundleHeaderProto = { num_shards: 1, version: { producer: BUNDLE_VERSION } };
  entries.push({ key: new Uint8Array(0), value: encodeMessage('BundleHeaderProto', header) });
  for (const { key, value } of items) {
    const offset = data.length;
    let crc: number;
    if (value.dtype === 'string') {
      crc = writeStrings(value.data as Uint8Array[], data);
    } else {
      const bytes = tensorBytes(value);
      data.bytes(bytes);
      crc = crc32c(bytes);
    }
    const entry: BundleEntryProto = {
      dtype: dtypeToTF(value.dtype),
      shape: shapeToProto(value.shape),
      offset,
      size: data.length - offset,
      crc32c: maskCrc(crc),
    };
    entries.push({ key, value: encodeMessage('BundleEntryProto', entry) });
  }
  return { index: buildTable(entries, tableOptions), data: data.finish().slice() };
}

/** TensorFlow's WriteStringTensor; returns the CRC32C TensorFlow records for it. */
function writeStrings(strings: readonly Uint8Array[], out: ByteWriter): number {
  let crc = 0;
  const len4 = new Uint8Array(4);
  const len8 = new Uint8Array(8);
  for (const s of strings) {
    out.varint(s.length);
    crc = extendWithLength(crc, s.length, len4, len8);
  }
  const lengthChecksum = maskCrc(crc);
  new DataView(len4.buffer).setUint32(0, lengthChecksum, true);
  out.bytes(len4);
  crc = crc32cExtend(crc, len4);
  for (const s of strings) {
    out.bytes(s);
    crc = crc32cExtend(crc, s);
  }
  return crc;
}

/** Lengths enter the checksum as uint32 (or uint64 past 2^32-1), little-endian, not as varints. */
function extendWithLength(crc: number, n: number, len4: Uint8Array, len8: Uint8Array): number {
  if (n <= 0xffffffff) {
    new DataView(len4.buffer).setUint32(0, n, true);
    return crc32cExtend(crc, len4);
  }
  new DataView(len8.buffer).setBigUint64(0, BigInt(n), true);
  return crc32cExtend(crc, len8);
}

export interface BundleTensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  shard: number;
  offset: number;
  size: number;
  /** Unmasked CRC32C of the stored bytes. */
  crc: number;
}

/**
 * The parsed `.index` of a bundle: header and entries, validated (checksums of the table, proto
 * syntax, dtypes, shapes, shard ids, sizes consistent with dtype and shape). Tensor data is read
 * and checked by readTensor.
 */
export class BundleIndex {
  readonly numShards: number;
  private readonly entries = new Map<string, BundleTensorEntry | Error>();

  constructor(indexFile: Uint8Array, readonly what = 'checkpoint index') {
    const table = readTable(indexFile, what);
    const first = table[0];
    if (!first || first.key.length !== 0) throw new DataLossError(`${what}: the header entry (empty key) is missing`);
    const header = decodeMessage('BundleHeaderProto', first.value, `${what} header`);
    this.numShards = header.num_shards ?? 0;
    if (this.numShards < 1) throw new DataLossError(`${what}: header declares ${this.numShards} data shards`);
    if ((header.endianness ?? 0) !== 0) {
      throw new UnimplementedError(`${what}: the checkpoint was written on a big-endian machine; weir reads little-endian checkpoints`);
    }
    const v = header.version ?? {};
    if ((v.min_consumer ?? 0) > BUNDLE_VERSION || (v.bad_consumers ?? []).includes(BUNDLE_VERSION)) {
      throw new InvalidArgumentError(
        `${what}: checkpoint format version (producer ${v.producer ?? 0}, min consumer ${v.min_consumer ?? 0}) is too new for this reader (version ${BUNDLE_VERSION})`,
      );
    }
    for (const { key, value } of table.slice(1)) {
      const name = fromUtf8(key);
      // Entries are parsed up front so that a corrupt one is found before anything is restored; an
      // entry weir cannot use (an unsupported dtype) is kept as its error, raised when it is read.
      this.entries.set(name, this.parseEntry(name, value));
    }
  }

  private parseEntry(name: string, value: Uint8Array): BundleTensorEntry | Error {
    const what = `checkpoint tensor '${name}'`;
    const e = decodeMessage('BundleEntryProto', value, `${this.what} entry for '${name}'`);
    if (e.slices && e.slices.length) {
      return new UnimplementedError(`${what} is partitioned into ${e.slices.length} slices; weir reads only whole tensors`);
    }
    let dtype: DType;
    let shape: number[];
    try {
      dtype = dtypeFromTF(e.dtype, what);
      shape = concreteShape(e.shape, what);
    } catch (err) {
      return err as Error;
    }
    const shard = e.shard_id ?? 0;
    const offset = int64ToNumber(e.offset);
    const size = int64ToNumber(e.size);
    if (shard < 0 || shard >= this.numShards) throw new DataLossError(`${what}: shard id ${shard} is out of range (${this.numShards} shards)`);
    if (offset === undefined || size === undefined || offset < 0 || size < 0) {
      throw new DataLossError(`${what}: invalid offset ${String(e.offset)} or size ${String(e.size)}`);
    }
    if (dtype !== 'string') {
      const expected = shape.reduce((a, b) => a * b, 1) * (dtype === 'int64' ? 8 : dtype === 'bool' ? 1 : 4);
      if (size !== expected) throw new DataLossError(`${what}: invalid size in bundle entry: ${size} bytes for ${dtype} shape [${shape.join(',')}] (expected ${expected})`);
    }
    return { name, dtype, shape, shard, offset, size, crc: unmaskCrc(e.crc32c ?? 0) };
  }

  /** Tensor names in key order. */
  names(): string[] {
    return [...this.entries.keys()];
  }
  has(name: string): boolean {
    return this.entries.has(name);
  }
  /** The entry of a tensor; NotFoundError if absent, the entry's own error if weir cannot read it. */
  entry(name: string): BundleTensorEntry {
    const e = this.entries.get(name);
    if (!e) throw new NotFoundError(`Key ${name} not found in checkpoint`);
    if (e instanceof Error) throw e;
    return e;
  }
  /** [name, shape] of every tensor (shape [] for scalars); entries weir cannot read are listed with their stored shape when known. */
  list(): [string, number[]][] {
    const out: [string, number[]][] = [];
    for (const [name, e] of this.entries) if (!(e instanceof Error)) out.push([name, [...e.shape]]);
    return out;
  }
}

/** Reads and checks one tensor from the bytes of its data shard. */
export function readTensor(entry: BundleTensorEntry, shard: Uint8Array, shardName: string): NDArray {
  const what = `checkpoint tensor '${entry.name}' in ${shardName}`;
  if (entry.offset + entry.size > shard.length) {
    throw new DataLossError(`${what}: bytes [${entry.offset}, ${entry.offset + entry.size}) lie past the end of the data file (${shard.length} bytes)`);
  }
  if (entry.dtype === 'string') return readStrings(entry, shard, what);
  if (entry.dtype === 'variant') throw new DataLossError(`${what}: variant tensors are not restorable`);
  const actual = crc32c(shard, entry.offset, entry.offset + entry.size);
  if (actual !== entry.crc) {
    throw new DataLossError(`${what}: checksum does not match: stored ${hex(entry.crc)} vs. calculated on the restored bytes ${hex(actual)}`);
  }
  return arrayFromBytes(entry.dtype, entry.shape, shard.subarray(entry.offset, entry.offset + entry.size));
}

function readStrings(entry: BundleTensorEntry, shard: Uint8Array, what: string): NDArray {
  const n = entry.shape.reduce((a, b) => a * b, 1);
  const end = entry.offset + entry.size;
  if (entry.size === 0) {
    if (n !== 0) throw new DataLossError(`${what}: no bytes stored for ${n} strings`);
    return new NDArray([], entry.shape, 'string');
  }
  // Each length takes at least one byte, so a count beyond the stored size cannot be right.
  if (n > entry.size) throw new DataLossError(`${what}: ${n} strings cannot fit in ${entry.size} bytes`);
  const r = new ByteReader(shard, entry.offset, end, what);
  const lengths = new Array<number>(n);
  let crc = 0;
  let total = 0;
  const len4 = new Uint8Array(4);
  const len8 = new Uint8Array(8);
  for (let i = 0; i < n; i++) {
    const len = r.varint(10);
    lengths[i] = len;
    total += len;
    crc = extendWithLength(crc, len, len4, len8);
  }
  if (r.remaining < 4) throw new DataLossError(`${what}: string lengths run past the entry`);
  const storedLengthCrc = readFixed32(shard, r.pos);
  if (unmaskCrc(storedLengthCrc) !== crc) throw new DataLossError(`${what}: the length checksum does not match`);
  crc = crc32cExtend(crc, shard, r.pos, r.pos + 4);
  r.pos += 4;
  if (total !== r.remaining) throw new DataLossError(`${what}: string lengths add up to ${total} bytes but ${r.remaining} are stored`);
  const out = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) {
    const b = r.bytes(lengths[i]!);
    crc = crc32cExtend(crc, b);
    out[i] = new Uint8Array(b);
  }
  if (crc !== entry.crc) throw new DataLossError(`${what}: checksum does not match: stored ${hex(entry.crc)} vs. calculated ${hex(crc)}`);
  return new NDArray(out, entry.shape, 'string');
}

const hex = (n: number): string => '0x' + n.toString(16).padStart(8, '0');
