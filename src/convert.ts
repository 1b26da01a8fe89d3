import { type DType, type TypedArray } from './core/dtypes.js';
import { InvalidArgumentError } from './core/errors.js';
import { getDefaultGraph, Tensor, type Graph } from './graph.js';
import { NDArray, type NestedArray } from './core/ndarray.js';

/** Anything that can stand where a tensor is expected (TF1's convert_to_tensor). */
export type TensorLike = Tensor | VariableLike | IndexedSlicesLike | NDArray | NestedArray | TypedArray;

/** Marker interface for Variable, which lives in variables.ts (avoids an import cycle). */
export interface VariableLike {
  readonly isVariable: true;
  value(): Tensor;
  readonly dtype: DType;
}

/**
 * Marker interface for IndexedSlices (src/api/indexed_slices.ts), a gradient holding only some rows
 * of a tensor. Ops given one use its dense value, as TF converts one (tf.multiply(grad, 0.5)).
 */
export interface IndexedSlicesLike {
  readonly isIndexedSlices: true;
  readonly values: Tensor;
  readonly indices: Tensor;
  readonly denseShape: Tensor | null;
  /** The dense tensor: the rows summed into place. */
  toDense(): Tensor;
  /** One IndexedSlices with the rows of this and `others` (gradients of one tensor added up). */
  concat(others: readonly IndexedSlicesLike[]): IndexedSlicesLike;
}

export function isIndexedSlicesLike(x: unknown): x is IndexedSlicesLike {
  return typeof x === 'object' && x !== null && (x as { isIndexedSlices?: unknown }).isIndexedSlices === true;
}

export function isVariableLike(x: unknown): x is VariableLike {
  return typeof x === 'object' && x !== null && (x as { isVariable?: unknown }).isVariable === true;
}

export function isTensorLike(x: unknown): x is TensorLike {
  return (
    x instanceof Tensor ||
    isVariableLike(x) ||
    x instanceof NDArray ||
    ArrayBuffer.isView(x) ||
    Array.isArray(x) ||
    typeof x === 'number' ||
    typeof x === 'boolean' ||
    typeof x === 'bigint'
  );
}

/** A Const op holding `value`. */
export function makeConst(graph: Graph, value: NDArray, name = 'Const'): Tensor {
  return graph.createOp('Const', [], { value, dtype: value.dtype }, { name }).outputs[0]!;
}

/**
 * TF1's convert_to_tensor: tensors pass through, variables are read, JS values become constants.
 * `dtype` is the expected dtype: a JS literal takes it, a tensor must already have it.
 */
export function convertToTensor(value: TensorLike, dtype?: DType, name = 'Const', what = 'value'): Tensor {
  if (value instanceof Tensor) {
    if (dtype && value.dtype !== dtype) {
      throw new InvalidArgumentError(
        `Tensor conversion requested dtype ${dtype} for ${what}, but got Tensor ${value.name} with dtype ${value.dtype}`,
      );
    }
    return value;
  }
  if (isIndexedSlicesLike(value)) value = value.toDense();
  if (value instanceof Tensor) {
    if (dtype && value.dtype !== dtype) {
      throw new InvalidArgumentError(`Tensor conversion requested dtype ${dtype} for ${what}, but got IndexedSlices of ${value.name} with dtype ${value.dtype}`);
    }
    return value;
  }
  if (isVariableLike(value)) {
    const t = value.value();
    if (dtype && t.dtype !== dtype) {
      throw new InvalidArgumentError(`Tensor conversion requested dtype ${dtype} for ${what}, but got variable ${t.name} with dtype ${t.dtype}`);
    }
    return t;
  }
  let nd: NDArray;
  if (value instanceof NDArray || ArrayBuffer.isView(value)) {
    nd = NDArray.from(value as NDArray | TypedArray);
    if (dtype && nd.dtype !== dtype) {
      throw new InvalidArgumentError(`Tensor conversion requested dtype ${dtype} for ${what}, but got a ${nd.dtype} array`);
    }
  } else {
    nd = NDArray.from(value as NestedArray, dtype);
  }
  return makeConst(getDefaultGraph(), nd, name);
}

/** Converts several values that must share one dtype (binary ops): tensors decide, literals follow. */
export function convertSameDType(values: TensorLike[], what: string[], opName: string): Tensor[] {
  const known = values.find((v) => v instanceof Tensor || isVariableLike(v) || v instanceof NDArray || ArrayBuffer.isView(v));
  let dtype: DType | undefined;
  if (known instanceof Tensor) dtype = known.dtype;
  else if (known && isVariableLike(known)) dtype = known.dtype;
  else if (known) dtype = NDArray.from(known as NDArray | TypedArray).dtype;
  const out = values.map((v, i) => {
    if (v instanceof Tensor || isVariableLike(v)) return convertToTensor(v, undefined, 'Const', what[i]);
    return convertToTensor(v, dtype, 'Const', what[i]);
  });
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.dtype !== out[0]!.dtype) {
      throw new InvalidArgumentError(
        `${opName}: ${what[i]} (${out[i]!.name}) has dtype ${out[i]!.dtype}, expected ${out[0]!.dtype} like ${what[0]} (${out[0]!.name})`,
      );
    }
  }
  return out;
}

/**
 * The graph ops on these values are built in (TF's _get_graph_from_inputs): the default graph when
 * it is a function body being built (inputs from outer graphs are captured into it), else the graph
 * of the first tensor or variable among the values (looking one level into arrays), else the default.
 */
export function graphOf(values: readonly unknown[]): Graph {
  const dflt = getDefaultGraph();
  if (dflt.buildingFunction) return dflt;
  for (const v of values) {
    if (v instanceof Tensor) return v.graph;
    if (isVariableLike(v)) return v.value().graph;
    if (Array.isArray(v)) {
      const t = v.find((e) => e instanceof Tensor || isVariableLike(e)) as Tensor | VariableLike | undefined;
      if (t) return t instanceof Tensor ? t.graph : t.value().graph;
    }
  }
  return dflt;
}
