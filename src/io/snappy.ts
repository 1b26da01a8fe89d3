/**
 * Snappy block decompression (the raw format, not the framing format), for table blocks TensorFlow
 * writes with kSnappyCompression. Written here rather than taken from npm so that every malformed
 * input is a DataLossError and the output size is checked against what the input can encode
 * before anything is allocated.
 */
import { DataLossError } from '../core/errors.js';
import { ByteReader } from './bytes.js';

/** Most bytes one input byte can expand to: a 3-byte copy op emits up to 64 bytes. */
const MAX_EXPANSION = 22;

/** The uncompressed length declared by a Snappy block's preamble. */
export function snappyUncompressedLength(input: Uint8Array, what = 'snappy block'): number {
  return new ByteReader(input, 0, input.length, what).varint(5);
}

export function snappyUncompress(input: Uint8Array, what = 'snappy block'): Uint8Array {
  const r = new ByteReader(input, 0, input.length, what);
  const n = r.varint(5);
  if (n > input.length * MAX_EXPANSION + 64) {
    throw new DataLossError(`${what}: declares ${n} uncompressed bytes, more than ${input.length} compressed bytes can hold`);
  }
  const out = new Uint8Array(n);
  let op = 0;
  let p = r.pos;
  const end = input.length;
  const fail = (msg: string): never => {
    throw new DataLossError(`${what}: corrupted compressed block contents (${msg})`);
  };
  while (p < end) {
    const tag = input[p++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (p + extra > end) fail('truncated literal length');
        len = 0;
        for (let i = 0; i < extra; i++) len += input[p + i]! * 2 ** (8 * i);
        p += extra;
      }
      len += 1;
      if (len > end - p) fail('literal runs past the end of the input');
      if (len > n - op) fail('literal runs past the declared length');
      out.set(input.subarray(p, p + len), op);
      p += len;
      op += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (p + 1 > end) fail('truncated copy');
      len = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | input[p]!;
      p += 1;
    } else if (kind === 2) {
      if (p + 2 > end) fail('truncated copy');
      len = (tag >>> 2) + 1;
      offset = input[p]! | (input[p + 1]! << 8);
      p += 2;
    } else {
      if (p + 4 > end) fail('truncated copy');
      len = (tag >>> 2) + 1;
      offset = (input[p]! | (input[p + 1]! << 8) | (input[p + 2]! << 16) | (input[p + 3]! << 24)) >>> 0;
      p += 4;
    }
    if (offset === 0 || offset > op) fail(`copy offset ${offset} at output position ${op}`);
    if (len > n - op) fail('copy runs past the declared length');
    // Copies may overlap their own output (offset < len repeats a pattern): copy byte by byte then.
    if (offset >= len) {
      out.copyWithin(op, op - offset, op - offset + len);
      op += len;
    } else {
      for (let i = 0; i < len; i++, op++) out[op] = out[op - offset]!;
    }
  }
  if (op !== n) fail(`decoded ${op} bytes, expected ${n}`);
  return out;
}
