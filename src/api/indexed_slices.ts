// TF's IndexedSlices: a gradient that touches only some rows of a tensor (what tf.gather /
// tf.nn.embedding_lookup give their params), kept as rows and their indices so an optimizer can
// update just those rows (ScatterSub, SparseApply*) instead of the whole embedding. Any op given one
// uses its dense value (convertToTensor calls toDense), as TF converts one.
import { InvalidArgumentError } from '../core/errors.js';
import type { IndexedSlicesLike } from '../convert.js';
import type { Tensor } from '../graph.js';
import { concat, gather, unsortedSegmentSum } from './array.js';

export class IndexedSlices implements IndexedSlicesLike {
  readonly isIndexedSlices = true as const;
  constructor(
    /** The rows: [n, ...denseShape[1:]]. */
    readonly values: Tensor,
    /** Row k of `values` belongs at row indices[k] of the dense tensor (int32/int64, [n]; may repeat). */
    readonly indices: Tensor,
    /** The dense tensor's shape (an int vector), when known. */
    readonly denseShape: Tensor | null = null,
  ) {
    if (indices.rank !== null && indices.rank !== 1) throw new InvalidArgumentError(`IndexedSlices: indices must be a vector, got ${indices.name}`);
  }
  get dtype() {
    return this.values.dtype;
  }
  get name(): string {
    return this.values.name;
  }
  get graph() {
    return this.values.graph;
  }
  /** The static shape of the dense tensor: [?, ...values' row shape] unless denseShape says more. */
  get shape(): (number | null)[] | null {
    const rows = this.values.shape;
    if (rows === null) return null;
    const known = this.denseShape?.knownElements;
    return [known?.[0] ?? null, ...rows.slice(1)];
  }
  toDense(): Tensor {
    if (!this.denseShape) throw new InvalidArgumentError(`Cannot convert ${this} to a dense tensor: its dense shape is unknown`);
    const rows = this.denseShape.knownElements?.[0] ?? gather(this.denseShape, 0);
    return unsortedSegmentSum(this.values, this.indices, rows);
  }
  concat(others: readonly IndexedSlicesLike[]): IndexedSlices {
    if (others.length === 0) return this;
    const all = [this, ...others];
    return new IndexedSlices(concat(all.map((p) => p.values), 0), concat(all.map((p) => p.indices), 0), this.denseShape);
  }
  toString(): string {
    return `IndexedSlices(values=${this.values.name}, indices=${this.indices.name})`;
  }
}
