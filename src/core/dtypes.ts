/**
 * Element types. 'string' (TF's DT_STRING: byte strings) exists for summaries and for graphs and
 * checkpoints written by TensorFlow; kernels are numeric unless they say otherwise. 'variant' (TF's
 * DT_VARIANT) is the type of a scalar holding a tensor list (a TensorArray): the runtime keeps such
 * values itself and never hands one to a kernel or a caller. 'complex64' (TF's DT_COMPLEX64) is
 * stored interleaved in a Float32Array of twice the element count (re, im, re, im, ...): its data
 * alone does not tell it from float32, so an NDArray carries its dtype.
 */
export type DType = 'float32' | 'int32' | 'int64' | 'bool' | 'string' | 'variant' | 'complex64';
export const DTYPES: readonly DType[] = ['float32', 'int32', 'int64', 'bool', 'string', 'variant', 'complex64'];

/** Storage of a string tensor: one byte string per element. */
export type StringArray = Uint8Array[];
export type TypedArray = Float32Array | Int32Array | BigInt64Array | Uint8Array | StringArray;
export type DataFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int32'
    ? Int32Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'bool'
        ? Uint8Array
        : StringArray;

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

export function allocData(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'complex64':
      return new Float32Array(2 * size);
    case 'int32':
      return new Int32Array(size);
    case 'int64':
      return new BigInt64Array(size);
    case 'bool':
      return new Uint8Array(size);
    case 'string':
      return Array.from({ length: size }, () => new Uint8Array(0));
    case 'variant':
      throw new Error('variant values (tensor lists) have no element storage');
  }
}

export function bytesPerElement(dtype: DType): number {
  if (dtype === 'string' || dtype === 'variant') throw new Error(`${dtype} tensors have no fixed element size`);
  return dtype === 'int64' || dtype === 'complex64' ? 8 : dtype === 'bool' ? 1 : 4;
}

/**
 * `size` elements of `dtype` viewed over `buffer` from byte `offset` (arena and slab memory);
 * undefined for dtypes without fixed-size storage (string, variant).
 */
export function viewData(dtype: DType, buffer: ArrayBuffer, offset: number, size: number): TypedArray | undefined {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, offset, size);
    case 'complex64':
      return new Float32Array(buffer, offset, 2 * size);
    case 'int32':
      return new Int32Array(buffer, offset, size);
    case 'int64':
      return new BigInt64Array(buffer, offset, size);
    case 'bool':
      return new Uint8Array(buffer, offset, size);
    default:
      return undefined;
  }
}

/** Storage slots per element: 2 for complex64 (re, im), else 1. */
export function slotsPerElement(dtype: DType): 1 | 2 {
  return dtype === 'complex64' ? 2 : 1;
}

/**
 * The dtype a data array holds, for storage that says it alone: a Float32Array is float32 here
 * (complex64 storage is a Float32Array too, so complex values must name their dtype).
 */
export function dtypeOfData(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (Array.isArray(data)) return 'string';
  return 'bool';
}

export const isFloat = (d: DType): boolean => d === 'float32';
export const isInteger = (d: DType): boolean => d === 'int32' || d === 'int64';

/** Whether `data` is the storage class of `dtype` (a Float32Array for float32 and complex64). */
export function dataHolds(data: TypedArray, dtype: DType): boolean {
  return dtype === 'complex64' ? data instanceof Float32Array : dtypeOfData(data) === dtype;
}

export const isComplex = (d: DType): boolean => d === 'complex64';

/** TensorFlow's Python-side dtype names, used in error messages. */
export function tfDTypeName(d: DType): string {
  return d === 'float32' ? 'float' : d;
}
