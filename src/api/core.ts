import type { DType, TypedArray } from '../core/dtypes.js';
import { convertToTensor, makeConst, type TensorLike } from '../convert.js';
import { InvalidArgumentError } from '../core/errors.js';
import { getDefaultGraph, Operation, Tensor } from '../graph.js';
import { NDArray, type NestedArray } from '../core/ndarray.js';
import type { Shape } from '../core/shape.js';

/** tf.constant(value, dtype?, shape?, name?). A scalar value with a shape fills it. */
export function constant(
  value: NDArray | NestedArray | TypedArray,
  dtype?: DType,
  shape?: readonly number[],
  name = 'Const',
): Tensor {
  let nd: NDArray;
  try {
    nd = NDArray.from(value, dtype, shape);
  } catch (e) {
    throw new InvalidArgumentError(`tf.constant '${name}': ${(e as Error).message}`);
  }
  return makeConst(getDefaultGraph(), nd, name);
}

/** tf.placeholder(dtype, shape?, name?). shape undefined/null = unknown rank; null dims are unknown. */
export function placeholder(dtype: DType, shape?: Shape, name = 'Placeholder'): Tensor {
  return getDefaultGraph().createOp('Placeholder', [], { dtype, shape: shape ?? null }, { name }).outputs[0]!;
}

export function placeholderWithDefault(value: TensorLike, shape: Shape, name = 'PlaceholderWithDefault'): Tensor {
  const input = convertToTensor(value);
  return getDefaultGraph().createOp('PlaceholderWithDefault', [input], { dtype: input.dtype, shape }, { name }).outputs[0]!;
}

export function identity(x: TensorLike, name = 'Identity'): Tensor {
  const t = convertToTensor(x);
  return getDefaultGraph().createOp('Identity', [t], { T: t.dtype }, { name }).outputs[0]!;
}

/** Passes x through forward; no gradient flows back through it. */
export function stopGradient(x: TensorLike, name = 'StopGradient'): Tensor {
  const t = convertToTensor(x);
  return getDefaultGraph().createOp('StopGradient', [t], { T: t.dtype }, { name }).outputs[0]!;
}

export function noOp(name = 'NoOp'): Operation {
  return getDefaultGraph().createOp('NoOp', [], {}, { name });
}

/** An op that runs all of `inputs` (TF's tf.group: a NoOp with control inputs). */
export function group(inputs: readonly (Operation | Tensor | null | undefined)[], name = 'group_deps'): Operation {
  const ops = inputs.filter((x): x is Operation | Tensor => x != null).map((x) => (x instanceof Tensor ? x.op : x));
  const g = getDefaultGraph();
  return g.controlDependencies(ops, () => g.createOp('NoOp', [], {}, { name }));
}

/** tf.tuple: tensors that are available only after all of them (and controlInputs) are computed. */
export function tuple(tensors: readonly Tensor[], controlInputs: readonly Operation[] = [], name = 'tuple'): Tensor[] {
  const g = getDefaultGraph();
  return g.nameScope(name, () => {
    const gate = group([...tensors, ...controlInputs]);
    return tensors.map((t) => g.controlDependencies([gate], () => identity(t)));
  });
}
