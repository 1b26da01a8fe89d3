import { DataLossError } from '../core/errors.js';

/** A growable byte buffer with LevelDB/protobuf-style encoders. */
export class ByteWriter {
  private buf: Uint8Array;
  private len = 0;
  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }
  get length(): number {
    return this.len;
  }
  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b: number): this {
    this.reserve(1);
    this.buf[this.len++] = b & 0xff;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  fixed32(v: number): this {
    this.reserve(4);
    const x = v >>> 0;
    this.buf[this.len++] = x & 0xff;
    this.buf[this.len++] = (x >>> 8) & 0xff;
    this.buf[this.len++] = (x >>> 16) & 0xff;
    this.buf[this.len++] = x >>> 24;
    return this;
  }
  fixed64(v: bigint): this {
    const x = BigInt.asUintN(64, v);
    this.fixed32(Number(x & 0xffffffffn));
    this.fixed32(Number(x >> 32n));
    return this;
  }
  /** Unsigned varint of a non-negative safe integer (up to 2^53). */
  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint: ${v} is not a non-negative safe integer`);
    this.reserve(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
    return this;
  }
  /** The written bytes (a view; copy it if the writer is reused). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
  reset(): void {
    this.len = 0;
  }
}

/** Reads LevelDB/protobuf-style encodings with bounds checks: any overrun is a DataLossError. */
export class ByteReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    readonly what = 'data',
  ) {
    this.pos = start;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  private fail(msg: string): never {
    throw new DataLossError(`${this.what}: ${msg}`);
  }
  byte(): number {
    if (this.pos >= this.end) this.fail('unexpected end of data');
    return this.buf[this.pos++]!;
  }
  bytes(n: number): Uint8Array {
    if (n < 0 || n > this.end - this.pos) this.fail(`needs ${n} bytes but only ${this.end - this.pos} remain`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  fixed32(): number {
    if (this.end - this.pos < 4) this.fail('truncated fixed32');
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }
  /** Unsigned varint of at most `maxBytes` bytes (5 for varint32, 10 for varint64), as a number; beyond 2^53 is an error. */
  varint(maxBytes = 10): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < maxBytes; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) this.fail(`varint ${result} is too large`);
        if (maxBytes === 5 && result > 0xffffffff) this.fail('varint32 overflows 32 bits');
        return result;
      }
      mul *= 128;
    }
    this.fail(`varint longer than ${maxBytes} bytes`);
  }
}

export function readFixed32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Bytewise comparison of two byte strings (LevelDB's BytewiseComparator). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
export const utf8 = (s: string): Uint8Array => utf8Encoder.encode(s);
export const fromUtf8 = (b: Uint8Array): string => utf8Decoder.decode(b);
