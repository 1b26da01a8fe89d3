// Argument checks and index arithmetic the array kernels of every backend share, with the same
// errors.
import { allocData, type DType } from '../src/core/dtypes.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { NDArray } from '../src/core/ndarray.js';
import { formatShape, stridesOf } from '../src/core/shape.js';
import { masksOf, numbersOf, stridedSliceSpec } from '../ops/semantics/array.js';
import type { KernelNode } from './backend.js';

export function normAxis(axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new InvalidArgumentError(`${what} ${axis} is out of range for a tensor of rank ${rank} (expected [${-rank}, ${rank}))`);
  }
  return axis < 0 ? axis + rank : axis;
}

export function scalarNumber(a: NDArray, what: string): number {
  if (a.size !== 1) throw new InvalidArgumentError(`${what} must be a scalar, got shape ${formatShape(a.shape)}`);
  return Number((a.data as ArrayLike<number | bigint>)[0]);
}

export function vector(a: NDArray, what: string): number[] {
  if (a.rank !== 1) throw new InvalidArgumentError(`${what} must be a vector, got shape ${formatShape(a.shape)}`);
  return numbersOf(a);
}

export function checkDims(dims: readonly number[], what: string): void {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new InvalidArgumentError(`${what} must be non-negative, got [${dims.join(',')}]`);
  }
}

export function fromNumbers(values: readonly number[], dtype: DType, shape: readonly number[]): NDArray {
  const data = allocData(dtype, values.length);
  if (dtype === 'int64') values.forEach((v, i) => ((data as BigInt64Array)[i] = BigInt(v)));
  else (data as Float32Array).set(values);
  return new NDArray(data, shape, dtype);
}

export function indexError(what: string, indices: NDArray, pos: number, value: number, limit: number): InvalidArgumentError {
  const coords: number[] = [];
  let p = pos;
  for (let d = indices.rank - 1; d >= 0; d--) {
    coords.unshift(p % indices.shape[d]!);
    p = Math.floor(p / indices.shape[d]!);
  }
  return new InvalidArgumentError(`${what}[${coords.join(',')}] = ${value} is not in [0, ${limit})`);
}

export function reshapeTarget(size: number, target: number[]): number[] {
  let unknown = -1;
  let known = 1;
  target.forEach((d, i) => {
    if (d === -1) {
      if (unknown >= 0) throw new InvalidArgumentError(`only one input size may be -1, not both ${unknown} and ${i}`);
      unknown = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new InvalidArgumentError(`size ${i} must be non-negative, not ${d}`);
    } else {
      known *= d;
    }
  });
  const out = [...target];
  if (unknown >= 0) {
    if (known === 0 || size % known !== 0) {
      throw new InvalidArgumentError(`Input to reshape is a tensor with ${size} values, but the requested shape requires a multiple of ${known}`);
    }
    out[unknown] = size / known;
  } else if (known !== size) {
    throw new InvalidArgumentError(`Input to reshape is a tensor with ${size} values, but the requested shape has ${known}`);
  }
  return out;
}

export function sliceSpec(node: KernelNode, shape: readonly number[], b: NDArray, e: NDArray, s: NDArray) {
  const spec = stridedSliceSpec(shape, vector(b, 'begin'), vector(e, 'end'), vector(s, 'strides'), masksOf(node.attrs as Record<string, unknown>));
  const inStrides = stridesOf(shape);
  const processing = spec.processingShape as number[];
  return {
    spec,
    processing,
    finalShape: spec.finalShape as number[],
    strides: spec.strides.map((st, i) => st * inStrides[i]!),
    offset: spec.begin.reduce((a, bi, i) => a + (processing[i]! > 0 ? bi * inStrides[i]! : 0), 0),
  };
}
