import { InvalidArgumentError } from './errors.js';
import { isFullyDefined, shapesCompatible, type Dim, type Shape } from './shape.js';

/** What TensorShape methods accept for "another shape": a TensorShape, dims, or null (unknown rank). */
export type ShapeLike = TensorShape | readonly Dim[] | null | undefined;

function dimsOf(s: ShapeLike): Dim[] | null {
  if (s instanceof TensorShape) return s.dims;
  if (s === null || s === undefined) return null;
  if (!Array.isArray(s)) throw new InvalidArgumentError(`Cannot convert ${String(s)} to a TensorShape`);
  return s.map((d, i) => {
    if (d === null || d === undefined || d === -1) return null;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new InvalidArgumentError(`Dimension ${i} of a TensorShape must be a non-negative integer or null, got ${String(d)}`);
    }
    return d;
  });
}

function formatDims(d: readonly Dim[]): string {
  const s = d.map((x) => (x === null ? '?' : String(x)));
  return d.length === 1 ? `(${s[0]},)` : `(${s.join(', ')})`;
}

/**
 * TF1's tf.TensorShape: the static shape of a tensor, possibly partially known. Dims are numbers
 * or null (unknown until run time); `dims` is null when even the rank is unknown.
 * Immutable: the methods return new shapes. Errors are TF's ValueErrors, raised here as
 * InvalidArgumentError.
 */
export class TensorShape {
  private readonly _dims: Dim[] | null;

  constructor(dims: ShapeLike) {
    this._dims = dimsOf(dims);
  }

  /** A shape of unknown rank, or of `rank` unknown dims (TF's tensor_shape.unknown_shape). */
  static unknown(rank?: number): TensorShape {
    return new TensorShape(rank === undefined ? null : new Array<Dim>(rank).fill(null));
  }
  /** The shape of a scalar, `()`. */
  static scalar(): TensorShape {
    return new TensorShape([]);
  }

  /** The dims (a copy), or null when the rank is unknown. */
  get dims(): Dim[] | null {
    return this._dims === null ? null : [...this._dims];
  }
  /** The rank, or null when unknown. */
  get ndims(): number | null {
    return this._dims === null ? null : this._dims.length;
  }
  /** Alias of ndims (TF's TensorShape.rank). */
  get rank(): number | null {
    return this.ndims;
  }
  /** The rank; throws for an unknown rank (Python's len()). */
  get length(): number {
    if (this._dims === null) throw new InvalidArgumentError('Cannot take the length of shape with unknown rank.');
    return this._dims.length;
  }

  /** Dim i (negative counts from the end), null when unknown; TF's shape[i]. */
  get(i: number): Dim {
    if (this._dims === null) return null;
    const n = this._dims.length;
    if (!Number.isInteger(i) || i < -n || i >= n) throw new InvalidArgumentError(`Index ${i} is out of range for shape ${this.toString()}`);
    return this._dims[i < 0 ? i + n : i]!;
  }

  /** The dims as a list; throws for an unknown rank, as TF's as_list(). */
  asList(): Dim[] {
    if (this._dims === null) throw new InvalidArgumentError('asList() is not defined on an unknown TensorShape.');
    return [...this._dims];
  }

  /** weir's Shape: the dims, or null for an unknown rank. */
  asShape(): Shape {
    return this.dims;
  }

  /** The number of elements, or null unless the shape is fully defined. */
  numElements(): number | null {
    if (!this.isFullyDefined()) return null;
    return (this._dims as number[]).reduce((a, b) => a * b, 1);
  }

  isFullyDefined(): boolean {
    return isFullyDefined(this._dims);
  }

  assertIsFullyDefined(): void {
    if (!this.isFullyDefined()) throw new InvalidArgumentError(`Shape ${this.toString()} is not fully defined`);
  }

  /** Whether both could be the shape of the same value (unknown dims and ranks match anything). */
  isCompatibleWith(other: ShapeLike): boolean {
    return shapesCompatible(this._dims, dimsOf(other));
  }

  assertIsCompatibleWith(other: ShapeLike): void {
    if (!this.isCompatibleWith(other)) {
      throw new InvalidArgumentError(`Shapes ${this.toString()} and ${new TensorShape(other).toString()} are incompatible`);
    }
  }

  /** The most specific shape compatible with both; throws when they are incompatible. */
  mergeWith(other: ShapeLike): TensorShape {
    const o = dimsOf(other);
    const a = this._dims;
    if (a === null) return new TensorShape(o);
    if (o === null) return new TensorShape(a);
    // TF's wording for both a rank and a dim mismatch.
    const fail = (): never => {
      throw new InvalidArgumentError(`Shapes ${this.toString()} and ${formatDims(o)} are not compatible`);
    };
    if (!shapesCompatible(a, o)) fail();
    return new TensorShape(a.map((d, i) => d ?? o[i]!));
  }

  /** The most specific shape compatible with both (unknown where they differ). */
  mostSpecificCompatibleShape(other: ShapeLike): TensorShape {
    const o = dimsOf(other);
    const a = this._dims;
    if (a === null || o === null || a.length !== o.length) return TensorShape.unknown();
    return new TensorShape(a.map((d, i) => (d === o[i] ? d : null)));
  }

  /** This shape followed by `other`'s dims; unknown rank if either is. */
  concatenate(other: ShapeLike): TensorShape {
    const o = dimsOf(other);
    if (this._dims === null || o === null) return TensorShape.unknown();
    return new TensorShape([...this._dims, ...o]);
  }

  /** This shape with rank `rank` (an unknown rank becomes `rank` unknown dims); throws on another rank. */
  withRank(rank: number): TensorShape {
    return this.mergeWith(TensorShape.unknown(rank));
  }

  assertHasRank(rank: number): void {
    if (this._dims !== null && this._dims.length !== rank) {
      throw new InvalidArgumentError(`Shape ${this.toString()} must have rank ${rank}`);
    }
  }

  /** Same dims (unknown ones included) and same rank knowledge. */
  equals(other: ShapeLike): boolean {
    const o = dimsOf(other);
    const a = this._dims;
    if (a === null || o === null) return a === o;
    return a.length === o.length && a.every((d, i) => d === o[i]);
  }

  *[Symbol.iterator](): IterableIterator<Dim> {
    if (this._dims === null) throw new InvalidArgumentError('Cannot iterate over a shape with unknown rank.');
    yield* this._dims;
  }

  /** TF1's str(): `(?, 784)`, `(3,)`, `()`, `<unknown>`. */
  toString(): string {
    return this._dims === null ? '<unknown>' : formatDims(this._dims);
  }

  /** JSON.stringify gives the dims (null for an unknown rank). */
  toJSON(): Dim[] | null {
    return this.dims;
  }
}
