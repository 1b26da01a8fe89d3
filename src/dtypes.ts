export type DType = 'float32' | 'int32' | 'int64' | 'bool';
export const DTYPES: readonly DType[] = ['float32', 'int32', 'int64', 'bool'];

export type TypedArray = Float32Array | Int32Array | BigInt64Array | Uint8Array;
export type DataFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int32'
    ? Int32Array
    : D extends 'int64'
      ? BigInt64Array
      : Uint8Array;

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

export function allocData(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'int64':
      return new BigInt64Array(size);
    case 'bool':
      return new Uint8Array(size);
  }
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'int64' ? 8 : dtype === 'bool' ? 1 : 4;
}

export function dtypeOfData(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'bool';
}

export const isFloat = (d: DType): boolean => d === 'float32';
export const isInteger = (d: DType): boolean => d === 'int32' || d === 'int64';
export const isNumeric = (d: DType): boolean => d !== 'bool';

/** TensorFlow's Python-side dtype names, used in error messages. */
export function tfDTypeName(d: DType): string {
  return d === 'float32' ? 'float' : d;
}
