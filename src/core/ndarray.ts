import { allocData, dataHolds, type DType, dtypeOfData, slotsPerElement, type TypedArray } from './dtypes.js';
import { InvalidArgumentError } from './errors.js';

export type NestedArray = Element | NestedArray[];
/** One element of an NDArray as a JS value. */
export type Element = number | boolean | bigint | string | ComplexValue;

export function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A complex number as NDArray elements of dtype complex64 read and are written. */
export interface ComplexValue {
  re: number;
  im: number;
}

/**
 * A concrete, host-side tensor value: what feeds take and fetches return. Row-major. A complex64
 * array's data holds 2 * size floats, each element's real part then its imaginary part.
 */
export class NDArray {
  readonly dtype: DType;
  readonly shape: number[];
  readonly data: TypedArray;

  constructor(data: TypedArray, shape: readonly number[], dtype?: DType) {
    const dt = dtype ?? dtypeOfData(data);
    if (!dataHolds(data, dt)) {
      throw new InvalidArgumentError(`NDArray: data is a ${data.constructor.name}, which does not hold ${dt}`);
    }
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new InvalidArgumentError(`NDArray: invalid shape [${shape.join(',')}]`);
      }
    }
    const slots = slotsPerElement(dt);
    if (numElements(shape) * slots !== data.length) {
      throw new InvalidArgumentError(
        `NDArray: shape [${shape.join(',')}] has ${numElements(shape)} elements but data has ${data.length}${slots === 2 ? ' floats (complex64 needs two per element)' : ''}`,
      );
    }
    this.data = data;
    this.shape = [...shape];
    this.dtype = dt;
  }

  get size(): number {
    return this.dtype === 'complex64' ? this.data.length / 2 : this.data.length;
  }
  get rank(): number {
    return this.shape.length;
  }

  static zeros(shape: readonly number[], dtype: DType = 'float32'): NDArray {
    return new NDArray(allocData(dtype, numElements(shape)), shape, dtype);
  }

  /** Builds an NDArray from a JS value: a number, boolean, bigint, nested array or typed array. */
  static from(value: NDArray | NestedArray | TypedArray, dtype?: DType, shape?: readonly number[]): NDArray {
    if (value instanceof NDArray) {
      if (dtype && value.dtype !== dtype) {
        throw new InvalidArgumentError(`expected a ${dtype} value, got a ${value.dtype} NDArray`);
      }
      if (shape && !sameShape(shape, value.shape)) {
        return new NDArray(value.data, shape, value.dtype);
      }
      return value;
    }
    if (ArrayBuffer.isView(value) || isStringData(value)) {
      const d = value as TypedArray;
      const dt = dtype === 'complex64' ? dtype : dtypeOfData(d);
      if (dtype && !dataHolds(d, dtype)) {
        throw new InvalidArgumentError(`expected a ${dtype} value, got a ${d.constructor.name}`);
      }
      return new NDArray(d, shape ?? [d.length / slotsPerElement(dt)], dt);
    }
    const inferredShape: number[] = [];
    let v: NestedArray = value;
    while (Array.isArray(v)) {
      inferredShape.push(v.length);
      if (v.length === 0) break;
      v = v[0]!;
    }
    const flat: Element[] = [];
    flattenChecked(value as NestedArray, inferredShape, 0, flat);
    const dt = dtype ?? inferDType(flat);
    const data = allocData(dt, flat.length);
    fillData(data, dt, flat);
    if (shape) {
      if (flat.length === 1 && numElements(shape) !== 1) {
        // A scalar fills the whole shape (tf.constant(0, shape=[2, 3])).
        const filled = allocData(dt, numElements(shape));
        const slots = slotsPerElement(dt);
        for (let i = 0; i < filled.length; i++) (filled as unknown as unknown[])[i] = data[i % slots];
        return new NDArray(filled, shape, dt);
      }
      return new NDArray(data, shape, dt);
    }
    return new NDArray(data, inferredShape, dt);
  }

  /** Nested JS arrays (or a number/boolean/bigint for a scalar; complex64 elements as { re, im }). */
  toArray(): NestedArray {
    const get = (i: number): Element => this.element(i);
    if (this.shape.length === 0) return get(0);
    let pos = 0;
    const build = (dim: number): NestedArray[] => {
      const out: NestedArray[] = [];
      const n = this.shape[dim]!;
      for (let i = 0; i < n; i++) {
        out.push(dim === this.shape.length - 1 ? get(pos++) : build(dim + 1));
      }
      return out;
    };
    return build(0);
  }

  /** A flat JS array of the values (numbers, booleans, bigints, strings or { re, im }). */
  toFlat(): Element[] {
    const out: Element[] = [];
    for (let i = 0, n = this.size; i < n; i++) out.push(this.element(i));
    return out;
  }

  /** Element i as a JS value (string elements decoded as UTF-8). */
  private element(i: number): Element {
    if (this.dtype === 'bool') return this.data[i] !== 0;
    if (this.dtype === 'string') return new TextDecoder().decode((this.data as Uint8Array[])[i]!);
    if (this.dtype === 'complex64') return { re: this.data[2 * i] as number, im: this.data[2 * i + 1] as number };
    return this.data[i] as number | bigint;
  }

  /** The single value of a one-element array. */
  scalar(): Element {
    if (this.size !== 1) throw new InvalidArgumentError(`scalar(): array has shape [${this.shape.join(',')}]`);
    return this.toFlat()[0]!;
  }

  clone(): NDArray {
    const data = Array.isArray(this.data) ? this.data.map((b) => b.slice()) : this.data.slice();
    return new NDArray(data as TypedArray, this.shape, this.dtype);
  }

  toString(): string {
    return `NDArray<${this.dtype}>[${this.shape.join(',')}] ${JSON.stringify(this.toArray(), (_k, v) =>
      typeof v === 'bigint' ? v.toString() : v,
    )}`;
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function isStringData(x: unknown): x is Uint8Array[] {
  return Array.isArray(x) && x.length > 0 && x.every((e) => e instanceof Uint8Array);
}

function isComplexValue(v: unknown): v is ComplexValue {
  return typeof v === 'object' && v !== null && typeof (v as ComplexValue).re === 'number' && typeof (v as ComplexValue).im === 'number';
}

function flattenChecked(v: NestedArray, shape: number[], dim: number, out: Element[]): void {
  if (Array.isArray(v)) {
    if (dim >= shape.length || v.length !== shape[dim]) {
      throw new InvalidArgumentError(`ragged nested array: expected length ${shape[dim]} at depth ${dim}`);
    }
    for (const e of v) flattenChecked(e, shape, dim + 1, out);
    return;
  }
  if (dim !== shape.length) throw new InvalidArgumentError(`ragged nested array at depth ${dim}`);
  if (typeof v !== 'number' && typeof v !== 'boolean' && typeof v !== 'bigint' && typeof v !== 'string' && !isComplexValue(v)) {
    throw new InvalidArgumentError(`cannot convert ${typeof v} to a tensor value`);
  }
  out.push(v);
}

function inferDType(flat: Element[]): DType {
  if (flat.length === 0) return 'float32';
  if (flat.some(isComplexValue)) return 'complex64';
  if (typeof flat[0] === 'boolean') return 'bool';
  if (typeof flat[0] === 'string') return 'string';
  if (typeof flat[0] === 'bigint') return 'int64';
  return 'float32';
}

function fillData(data: TypedArray, dtype: DType, flat: Element[]): void {
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i]!;
    if (dtype === 'complex64') {
      // A real number is a complex one with no imaginary part, as tf.constant(1.5, tf.complex64) is.
      const c = isComplexValue(v) ? v : typeof v === 'number' || typeof v === 'bigint' ? { re: Number(v), im: 0 } : undefined;
      if (!c) throw new InvalidArgumentError(`expected a complex64 value ({ re, im } or a number), got ${typeof v} ${String(v)}`);
      data[2 * i] = c.re;
      data[2 * i + 1] = c.im;
      continue;
    }
    if (isComplexValue(v)) throw new InvalidArgumentError(`expected a ${dtype} value, got the complex value { re: ${v.re}, im: ${v.im} }`);
    if (dtype === 'string') {
      if (typeof v !== 'string') throw new InvalidArgumentError(`expected a string, got ${typeof v}`);
      (data as Uint8Array[])[i] = new TextEncoder().encode(v);
      continue;
    }
    if (typeof v === 'string') throw new InvalidArgumentError(`expected a ${dtype} value, got string "${v}"`);
    switch (dtype) {
      case 'bool':
        if (typeof v !== 'boolean') throw new InvalidArgumentError(`expected a boolean, got ${typeof v} ${String(v)}`);
        data[i] = v ? 1 : 0;
        break;
      case 'int64':
        if (typeof v === 'boolean') throw new InvalidArgumentError(`expected an integer, got boolean ${v}`);
        if (typeof v === 'number' && !Number.isInteger(v)) {
          throw new InvalidArgumentError(`expected an int64 value, got ${v}`);
        }
        data[i] = BigInt(v);
        break;
      case 'int32':
        if (typeof v === 'boolean') throw new InvalidArgumentError(`expected an integer, got boolean ${v}`);
        {
          const n = Number(v);
          if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) {
            throw new InvalidArgumentError(`expected an int32 value, got ${String(v)}`);
          }
          data[i] = n;
        }
        break;
      case 'float32':
        if (typeof v === 'boolean') throw new InvalidArgumentError(`expected a number, got boolean ${v}`);
        data[i] = Number(v);
        break;
    }
  }
}
