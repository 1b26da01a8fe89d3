/** Conversions between weir values (DType, Shape, NDArray) and TensorFlow's protos. */
import { bytesPerElement, type DType, type TypedArray } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import type { Shape } from '../core/shape.js';
import { DT, bigIntToInt64, int64ToBigInt, int64ToNumber, type TensorProto, type TensorShapeProto } from './proto.js';

const TO_TF: Record<DType, number> = {
  float32: DT.DT_FLOAT,
  int32: DT.DT_INT32,
  string: DT.DT_STRING,
  int64: DT.DT_INT64,
  bool: DT.DT_BOOL,
  variant: DT.DT_VARIANT,
  complex64: DT.DT_COMPLEX64,
};
const FROM_TF = new Map<number, DType>(Object.entries(TO_TF).map(([k, v]) => [v, k as DType]));
const TF_NAMES = new Map<number, string>(Object.entries(DT).map(([k, v]) => [v, k]));

/** The DataType enum value of a weir dtype. */
export function dtypeToTF(d: DType): number {
  return TO_TF[d];
}

/** TensorFlow's name of a DataType value ('DT_DOUBLE'), for messages. */
export function tfDataTypeName(v: number): string {
  if (v > 100 && TF_NAMES.has(v - 100)) return `${TF_NAMES.get(v - 100)}_REF`;
  return TF_NAMES.get(v) ?? `unknown DataType ${v}`;
}

/**
 * The weir dtype of a DataType value (reference types map to their base type). A value weir has no
 * dtype for (DT_DOUBLE, DT_UINT8, ...) or that is not a DataType at all is an InvalidArgumentError
 * naming `what`.
 */
export function dtypeFromTF(v: number | undefined, what: string): DType {
  const base = v !== undefined && v > 100 ? v - 100 : v;
  const d = base === undefined ? undefined : FROM_TF.get(base);
  if (d) return d;
  if (v !== undefined && TF_NAMES.has(base!)) {
    throw new InvalidArgumentError(`${what} has dtype ${tfDataTypeName(v)}, which weir does not support (supported: DT_FLOAT, DT_INT32, DT_INT64, DT_BOOL, DT_STRING, DT_COMPLEX64)`);
  }
  throw new InvalidArgumentError(`${what} has an unknown dtype (DataType enum value ${v ?? 'unset'})`);
}

export function shapeToProto(s: Shape | readonly number[]): TensorShapeProto {
  if (s === null) return { unknown_rank: true };
  return { dim: s.map((d) => ({ size: d === null ? -1 : d })) };
}

/** A TensorShapeProto as a static shape (-1 dims unknown). Bad dims are an InvalidArgumentError. */
export function shapeFromProto(p: TensorShapeProto | undefined | null, what: string): Shape {
  if (!p) return null;
  if (p.unknown_rank) {
    if (p.dim && p.dim.length) throw new InvalidArgumentError(`${what}: shape has unknown_rank and ${p.dim.length} dims`);
    return null;
  }
  return (p.dim ?? []).map((d) => {
    const n = int64ToNumber(d.size);
    if (n === undefined || n < -1) throw new InvalidArgumentError(`${what}: invalid dimension size ${String(d.size)}`);
    return n === -1 ? null : n;
  });
}

/** Largest element count weir materializes from a file (typed arrays are limited to 2^31 elements anyway). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** A fully known shape; unknown dims, or an element count past MAX_ELEMENTS, are an InvalidArgumentError. */
export function concreteShape(p: TensorShapeProto | undefined | null, what: string): number[] {
  const s = shapeFromProto(p ?? { dim: [] }, what);
  if (s === null || s.some((d) => d === null)) throw new InvalidArgumentError(`${what}: shape must be fully defined`);
  let n = 1;
  for (const d of s as number[]) {
    n *= d;
    if (n > MAX_ELEMENTS) throw new InvalidArgumentError(`${what}: shape [${s.join(',')}] has more than ${MAX_ELEMENTS} elements`);
  }
  return s as number[];
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Little-endian bytes of a numeric/bool NDArray's data (a copy). */
export function tensorBytes(a: NDArray): Uint8Array {
  if (a.dtype === 'string') throw new InvalidArgumentError('tensorBytes: string tensors have no fixed-size encoding');
  const d = a.data as Exclude<TypedArray, Uint8Array[]>;
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  if (a.dtype === 'bool') for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i] ? 1 : 0;
  return bytes;
}

/** An NDArray from little-endian element bytes (copied, so the result is aligned and owned). */
export function arrayFromBytes(dtype: Exclude<DType, 'string' | 'variant'>, shape: readonly number[], bytes: Uint8Array): NDArray {
  // new Uint8Array(view) copies; Buffer.slice (what protobufjs gives in Node) would not.
  const copy = new Uint8Array(bytes);
  switch (dtype) {
    case 'float32':
    case 'complex64':
      return new NDArray(new Float32Array(copy.buffer, 0, copy.length / 4), shape, dtype);
    case 'int32':
      return new NDArray(new Int32Array(copy.buffer, 0, copy.length / 4), shape, dtype);
    case 'int64':
      return new NDArray(new BigInt64Array(copy.buffer, 0, copy.length / 8), shape, dtype);
    case 'bool':
      for (let i = 0; i < copy.length; i++) copy[i] = copy[i] ? 1 : 0;
      return new NDArray(copy, shape, dtype);
  }
}

/** TensorProto's field for complex64 values (the TensorProto interface of proto.ts leaves it out): re, im pairs. */
type WithComplex = TensorProto & { scomplex_val?: number[] };

/**
 * An NDArray as a TensorProto the way TensorFlow's Python make_tensor_proto writes constants:
 * numeric tensors of more than one element in tensor_content (little-endian), one element in the
 * typed value field, and a tensor whose elements are all equal as that single value (TF fills the
 * shape with the last value given). Strings always go to string_val; complex64 values go to
 * scomplex_val as (re, im) pairs.
 */
export function tensorToProto(a: NDArray): TensorProto {
  const p: TensorProto = { dtype: dtypeToTF(a.dtype), tensor_shape: shapeToProto(a.shape) };
  const n = a.size;
  if (n === 0) return p;
  if (a.dtype === 'string') {
    p.string_val = (a.data as Uint8Array[]).map((b) => new Uint8Array(b));
    return p;
  }
  const d = a.data as Exclude<TypedArray, Uint8Array[]>;
  const step = a.dtype === 'complex64' ? 2 : 1;
  let uniform = true;
  for (let i = step; i < d.length && uniform; i++) if (!Object.is(d[i], d[i % step])) uniform = false;
  if (n > 1 && !uniform) {
    p.tensor_content = tensorBytes(a);
    return p;
  }
  switch (a.dtype) {
    case 'complex64':
      (p as WithComplex).scomplex_val = [d[0] as number, d[1] as number];
      break;
    case 'float32':
      p.float_val = [d[0] as number];
      break;
    case 'int32':
      p.int_val = [d[0] as number];
      break;
    case 'int64':
      p.int64_val = [bigIntToInt64(d[0] as bigint)];
      break;
    case 'bool':
      p.bool_val = [d[0] !== 0];
      break;
  }
  return p;
}

/**
 * A TensorProto as an NDArray. Reads tensor_content or the typed value field; a value field shorter
 * than the shape is filled with its last value, as TensorFlow does. Bad sizes, unknown dtypes and
 * absurd shapes are InvalidArgumentErrors naming `what`; nothing is allocated beyond what the
 * proto's own bytes justify, except when a short value list is broadcast (bounded by MAX_ELEMENTS).
 */
export function tensorFromProto(p: TensorProto, what = 'tensor'): NDArray {
  const dtype = dtypeFromTF(p.dtype, what);
  const shape = concreteShape(p.tensor_shape, what);
  const n = elementCount(shape);
  const content = p.tensor_content;
  if (dtype === 'variant') throw new InvalidArgumentError(`${what}: variant tensors cannot be read from a TensorProto`);
  if (dtype === 'string') {
    const vals = p.string_val ?? [];
    if (content && content.length) throw new InvalidArgumentError(`${what}: string tensors in tensor_content are not supported`);
    checkValueCount(vals.length, n, what);
    if (n > ioLimits.maxBroadcastElements && vals.length < n) {
      throw new InvalidArgumentError(`${what}: ${vals.length} strings would be broadcast to ${n} elements, more than the limit of ${ioLimits.maxBroadcastElements}`);
    }
    const out: Uint8Array[] = new Array<Uint8Array>(n);
    for (let i = 0; i < n; i++) out[i] = vals.length ? new Uint8Array(vals[Math.min(i, vals.length - 1)]!) : new Uint8Array(0);
    return new NDArray(out, shape, dtype);
  }
  if (content && content.length) {
    const expected = n * bytesPerElement(dtype);
    if (content.length !== expected) {
      throw new InvalidArgumentError(`${what}: tensor_content has ${content.length} bytes, expected ${expected} for ${dtype} shape [${shape.join(',')}]`);
    }
    return arrayFromBytes(dtype, shape, content);
  }
  const fill = <A extends Float32Array | Int32Array | BigInt64Array | Uint8Array, T>(
    out: A,
    vals: readonly T[],
    conv: (v: T) => A[number],
  ): A => {
    checkValueCount(vals.length, n, what);
    for (let i = 0; i < vals.length; i++) out[i] = conv(vals[i]!);
    if (vals.length > 0 && vals.length < n) out.fill(out[vals.length - 1]! as never, vals.length);
    return out;
  };
  const complexVals = (p as WithComplex).scomplex_val ?? [];
  const count = Math.max(p.float_val?.length ?? 0, p.int_val?.length ?? 0, p.int64_val?.length ?? 0, p.bool_val?.length ?? 0, complexVals.length >> 1);
  if (n > ioLimits.maxBroadcastElements && count < n) {
    throw new InvalidArgumentError(`${what}: ${count} values would be broadcast to shape [${shape.join(',')}] (${n} elements), more than the limit of ${ioLimits.maxBroadcastElements}`);
  }
  switch (dtype) {
    case 'float32':
      return new NDArray(fill(new Float32Array(n), p.float_val ?? [], (v) => v), shape, dtype);
    case 'int32':
      return new NDArray(fill(new Int32Array(n), p.int_val ?? [], (v) => v), shape, dtype);
    case 'int64':
      return new NDArray(fill(new BigInt64Array(n), p.int64_val ?? [], (v) => int64ToBigInt(v)), shape, dtype);
    case 'bool':
      return new NDArray(fill(new Uint8Array(n), p.bool_val ?? [], (v) => (v ? 1 : 0)), shape, 'bool');
    case 'complex64':
      return new NDArray(complexFromValues(complexVals, n, what), shape, dtype);
  }
}

/** scomplex_val's (re, im) pairs as complex64 storage for n elements, the last pair filling the rest. */
function complexFromValues(vals: readonly number[], n: number, what: string): Float32Array {
  if (vals.length % 2 !== 0) throw new InvalidArgumentError(`${what}: scomplex_val has ${vals.length} floats, not (re, im) pairs`);
  const pairs = vals.length / 2;
  checkValueCount(pairs, n, what);
  const out = new Float32Array(2 * n);
  out.set(vals);
  if (pairs > 0) {
    const re = vals[vals.length - 2]!;
    const im = vals[vals.length - 1]!;
    for (let i = pairs; i < n; i++) {
      out[2 * i] = re;
      out[2 * i + 1] = im;
    }
  }
  return out;
}

/** Limits on what reading a file may allocate. */
export const ioLimits = {
  /** Most elements a constant given by fewer values (TF's broadcast of the last value) may expand to. */
  maxBroadcastElements: 2 ** 26,
};

function checkValueCount(count: number, n: number, what: string): void {
  if (count > n) throw new InvalidArgumentError(`${what}: ${count} values given for ${n} elements`);
}

