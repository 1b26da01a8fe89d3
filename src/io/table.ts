/**
 * TensorFlow's immutable sorted table (tensorflow/core/lib/io/table*, LevelDB's SSTable format),
 * the format of a V2 checkpoint's `.index` file:
 *
 *   data blocks | metaindex block | index block | footer (48 bytes)
 *
 * A block holds prefix-compressed entries (varint32 shared, non_shared, value_length, key delta,
 * value) followed by restart offsets (fixed32 each) and their count (fixed32); a restart entry
 * stores its whole key. Each block is followed by a 1-byte compression type (0 none, 1 Snappy) and
 * the masked CRC32C of block + type. The index block maps a separator key >= every key of a data
 * block to that block's handle (varint64 offset, varint64 size). The footer holds the metaindex and
 * index handles, zero padding to 40 bytes and the magic number 0xdb4775248b80fb57 (little-endian).
 */
import { DataLossError } from '../core/errors.js';
import { ByteReader, ByteWriter, compareBytes, readFixed32 } from './bytes.js';
import { crc32c, crc32cExtend, maskCrc, unmaskCrc } from './crc32c.js';
import { snappyUncompress } from './snappy.js';

export const TABLE_MAGIC = 0xdb4775248b80fb57n;
export const FOOTER_SIZE = 48;
const BLOCK_TRAILER_SIZE = 5;
export const NO_COMPRESSION = 0;
export const SNAPPY_COMPRESSION = 1;

export interface BlockHandle {
  offset: number;
  size: number;
}

export interface TableEntry {
  key: Uint8Array;
  value: Uint8Array;
}

// ---------------------------------------------------------------- reading

/**
 * Parses a whole table, verifying every block checksum, the key order and every length. Any
 * inconsistency is a DataLossError naming `what` (the file).
 */
export function readTable(file: Uint8Array, what = 'table'): TableEntry[] {
  if (file.length < FOOTER_SIZE) {
    throw new DataLossError(`${what}: file is too short (${file.length} bytes) to be a table: the footer alone is ${FOOTER_SIZE} bytes`);
  }
  const footerStart = file.length - FOOTER_SIZE;
  const magicLo = readFixed32(file, file.length - 8);
  const magicHi = readFixed32(file, file.length - 4);
  if (((BigInt(magicHi) << 32n) | BigInt(magicLo)) !== TABLE_MAGIC) {
    throw new DataLossError(`${what}: not an sstable (bad magic number)`);
  }
  const footer = new ByteReader(file, footerStart, file.length - 8, `${what} footer`);
  const metaindex = readHandle(footer);
  const index = readHandle(footer);
  const blockArea = footerStart;
  checkHandle(metaindex, blockArea, what, 'metaindex block');
  checkHandle(index, blockArea, what, 'index block');
  // The metaindex block carries nothing TensorFlow uses (no filter blocks), but it is verified too.
  parseBlock(readBlock(file, metaindex, `${what} metaindex block`), `${what} metaindex block`);
  const indexEntries = parseBlock(readBlock(file, index, `${what} index block`), `${what} index block`);

  const out: TableEntry[] = [];
  let prevSeparator: Uint8Array | undefined;
  for (const ie of indexEntries) {
    if (prevSeparator && compareBytes(prevSeparator, ie.key) >= 0) {
      throw new DataLossError(`${what}: index block keys are out of order`);
    }
    prevSeparator = ie.key;
    const hr = new ByteReader(ie.value, 0, ie.value.length, `${what} index entry`);
    const handle = readHandle(hr);
    if (hr.remaining !== 0) throw new DataLossError(`${what}: index entry has ${hr.remaining} trailing bytes`);
    checkHandle(handle, blockArea, what, 'data block');
    const entries = parseBlock(readBlock(file, handle, `${what} data block at ${handle.offset}`), `${what} data block at ${handle.offset}`);
    for (const e of entries) {
      const last = out[out.length - 1];
      if (last && compareBytes(last.key, e.key) >= 0) {
        throw new DataLossError(`${what}: keys are not in strictly increasing order`);
      }
      if (compareBytes(e.key, ie.key) > 0) {
        throw new DataLossError(`${what}: a data block holds a key past its index separator`);
      }
      out.push(e);
    }
  }
  return out;
}

function readHandle(r: ByteReader): BlockHandle {
  return { offset: r.varint(10), size: r.varint(10) };
}

function checkHandle(h: BlockHandle, limit: number, what: string, which: string): void {
  if (h.offset + h.size + BLOCK_TRAILER_SIZE > limit) {
    throw new DataLossError(`${what}: ${which} handle (offset ${h.offset}, size ${h.size}) points past the end of the block area (${limit} bytes)`);
  }
}

/** The contents of one block after checking its CRC and uncompressing it. */
function readBlock(file: Uint8Array, h: BlockHandle, what: string): Uint8Array {
  const end = h.offset + h.size;
  const type = file[end]!;
  const stored = unmaskCrc(readFixed32(file, end + 1));
  const actual = crc32c(file, h.offset, end + 1);
  if (stored !== actual) throw new DataLossError(`${what}: block checksum mismatch`);
  const contents = file.subarray(h.offset, end);
  switch (type) {
    case NO_COMPRESSION:
      return contents;
    case SNAPPY_COMPRESSION:
      return snappyUncompress(contents, what);
    default:
      throw new DataLossError(`${what}: bad block type ${type}`);
  }
}

/** Decodes every entry of a block, checking the restart array and each entry's bounds. */
export function parseBlock(block: Uint8Array, what: string): TableEntry[] {
  if (block.length < 4) throw new DataLossError(`${what}: bad block contents (${block.length} bytes)`);
  const numRestarts = readFixed32(block, block.length - 4);
  const maxRestarts = (block.length - 4) / 4;
  if (numRestarts > maxRestarts) throw new DataLossError(`${what}: restart count ${numRestarts} does not fit in the block`);
  const limit = block.length - 4 - numRestarts * 4;
  const restarts = new Set<number>();
  for (let i = 0; i < numRestarts; i++) {
    const r = readFixed32(block, limit + 4 * i);
    if (r >= limit && !(r === 0 && limit === 0)) throw new DataLossError(`${what}: restart point ${r} is past the entries`);
    restarts.add(r);
  }
  const entries: TableEntry[] = [];
  const r = new ByteReader(block, 0, limit, what);
  let lastKey: Uint8Array = new Uint8Array(0);
  while (r.pos < limit) {
    const at = r.pos;
    const shared = r.varint(5);
    const nonShared = r.varint(5);
    const valueLength = r.varint(5);
    if (shared > lastKey.length) throw new DataLossError(`${what}: bad entry in block (shares ${shared} bytes of a ${lastKey.length}-byte key)`);
    if (restarts.has(at) && shared !== 0) throw new DataLossError(`${what}: bad entry in block (restart entry shares a prefix)`);
    const delta = r.bytes(nonShared);
    const value = r.bytes(valueLength);
    const key = new Uint8Array(shared + nonShared);
    key.set(lastKey.subarray(0, shared));
    key.set(delta, shared);
    entries.push({ key, value });
    lastKey = key;
  }
  if (entries.length > 0 && !restarts.has(0)) throw new DataLossError(`${what}: the first entry is not a restart point`);
  return entries;
}

// ---------------------------------------------------------------- writing

export interface TableOptions {
  /** Target uncompressed size of a data block (TensorFlow's default: 256 KiB). */
  blockSize?: number;
  /** Entries between restart points in data blocks (16, as TensorFlow). */
  blockRestartInterval?: number;
  /**
   * Compresses a block; return undefined to store it uncompressed. Blocks are kept compressed only
   * when that saves at least 12.5%, as TensorFlow does.
   */
  compress?: (raw: Uint8Array) => Uint8Array | undefined;
}

class BlockBuilder {
  private readonly buf = new ByteWriter(1024);
  private restarts: number[] = [0];
  private counter = 0;
  private lastKey: Uint8Array = new Uint8Array(0);
  constructor(private readonly restartInterval: number) {}
  get empty(): boolean {
    return this.buf.length === 0;
  }
  add(key: Uint8Array, value: Uint8Array): void {
    let shared = 0;
    if (this.counter < this.restartInterval) {
      const n = Math.min(this.lastKey.length, key.length);
      while (shared < n && this.lastKey[shared] === key[shared]) shared++;
    } else {
      this.restarts.push(this.buf.length);
      this.counter = 0;
    }
    this.buf.varint(shared).varint(key.length - shared).varint(value.length);
    this.buf.bytes(key.subarray(shared)).bytes(value);
    this.lastKey = key;
    this.counter++;
  }
  sizeEstimate(): number {
    return this.buf.length + this.restarts.length * 4 + 4;
  }
  finish(): Uint8Array {
    for (const r of this.restarts) this.buf.fixed32(r);
    this.buf.fixed32(this.restarts.length);
    return this.buf.finish().slice();
  }
  reset(): void {
    this.buf.reset();
    this.restarts = [0];
    this.counter = 0;
    this.lastKey = new Uint8Array(0);
  }
}

/** LevelDB's FindShortestSeparator: a short key k with start <= k < limit. */
function shortestSeparator(start: Uint8Array, limit: Uint8Array): Uint8Array {
  const n = Math.min(start.length, limit.length);
  let i = 0;
  while (i < n && start[i] === limit[i]) i++;
  if (i >= n) return start;
  const b = start[i]!;
  if (b < 0xff && b + 1 < limit[i]!) {
    const out = start.slice(0, i + 1);
    out[i] = b + 1;
    return out;
  }
  return start;
}

/** LevelDB's FindShortSuccessor: a short key >= key. */
function shortSuccessor(key: Uint8Array): Uint8Array {
  for (let i = 0; i < key.length; i++) {
    if (key[i] !== 0xff) {
      const out = key.slice(0, i + 1);
      out[i] = key[i]! + 1;
      return out;
    }
  }
  return key;
}

/**
 * Builds a table from entries in strictly increasing key order, byte for byte as TensorFlow's
 * TableBuilder does with the same options.
 */
export function buildTable(entries: readonly TableEntry[], opts: TableOptions = {}): Uint8Array {
  const blockSize = opts.blockSize ?? 262144;
  const out = new ByteWriter(4096);
  const dataBlock = new BlockBuilder(opts.blockRestartInterval ?? 16);
  const indexBlock = new BlockBuilder(1);
  let lastKey: Uint8Array = new Uint8Array(0);
  let pendingHandle: BlockHandle | undefined;
  let numEntries = 0;

  const writeBlock = (raw: Uint8Array): BlockHandle => {
    let contents = raw;
    let type = NO_COMPRESSION;
    if (opts.compress) {
      const c = opts.compress(raw);
      if (c && c.length < raw.length - Math.floor(raw.length / 8)) {
        contents = c;
        type = SNAPPY_COMPRESSION;
      }
    }
    const handle = { offset: out.length, size: contents.length };
    out.bytes(contents).byte(type);
    const crc = crc32cExtend(crc32c(contents), Uint8Array.of(type));
    out.fixed32(maskCrc(crc));
    return handle;
  };
  const flush = (): void => {
    if (dataBlock.empty) return;
    pendingHandle = writeBlock(dataBlock.finish());
    dataBlock.reset();
  };
  const encodeHandle = (h: BlockHandle): Uint8Array => new ByteWriter(20).varint(h.offset).varint(h.size).finish().slice();

  for (const { key, value } of entries) {
    if (numEntries > 0) {
      if (compareBytes(key, lastKey) <= 0) throw new RangeError('buildTable: keys must be added in strictly increasing order');
      if (key.length + value.length >= 2 * blockSize) flush();
    }
    if (pendingHandle) {
      indexBlock.add(shortestSeparator(lastKey, key), encodeHandle(pendingHandle));
      pendingHandle = undefined;
    }
    lastKey = key;
    numEntries++;
    dataBlock.add(key, value);
    if (dataBlock.sizeEstimate() >= blockSize) flush();
  }
  flush();
  const metaindexHandle = writeBlock(new BlockBuilder(16).finish());
  if (pendingHandle) {
    indexBlock.add(shortSuccessor(lastKey), encodeHandle(pendingHandle));
    pendingHandle = undefined;
  }
  const indexHandle = writeBlock(indexBlock.finish());
  const footer = new ByteWriter(FOOTER_SIZE);
  footer.varint(metaindexHandle.offset).varint(metaindexHandle.size).varint(indexHandle.offset).varint(indexHandle.size);
  while (footer.length < FOOTER_SIZE - 8) footer.byte(0);
  footer.fixed64(TABLE_MAGIC);
  out.bytes(footer.finish());
  return out.finish().slice();
}
