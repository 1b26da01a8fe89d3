import { FailedPreconditionError, InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray } from '../../../src/core/ndarray.js';
import { formatShape, isFullyDefined, sameShape } from '../../../src/core/shape.js';
import type { KernelNode, RuntimeState } from '../../backend.js';
import { runScratch } from '../../slab.js';
import { heapArray } from '../heap.js';
import { registerCpuKernel } from '../registry.js';
import { binaryBigInt, binaryNumeric, FRESH } from './util.js';

/** The current value of the variable behind reference input i. */
export function readRef(node: KernelNode, state: RuntimeState<NDArray>, i: number): NDArray {
  const name = node.refVars[i]!;
  const v = state.variables.get(name);
  if (!v) {
    throw new FailedPreconditionError(`Attempting to use uninitialized value ${name}`, node.name);
  }
  return v;
}

registerCpuKernel('VariableV2', (_in, node, state) => {
  const v = state.variables.get(node.varName!);
  if (!v) throw new FailedPreconditionError(`Attempting to use uninitialized value ${node.varName}`, node.name);
  return [v];
});

registerCpuKernel('Assign', (inputs, node, state) => {
  const value = inputs[1]!;
  const name = node.refVars[0]!;
  if (node.attrs.validate_shape) {
    const declared = node.inputShapes[0]!;
    if (isFullyDefined(declared) && !sameShape(declared, value.shape)) {
      throw new InvalidArgumentError(`Assign requires shapes of both tensors to match. lhs shape= ${formatShape(declared)} rhs shape= ${formatShape(value.shape)}`);
    }
  }
  const stored = storeVariable(state, name, value);
  state.variables.set(name, stored);
  return [stored];
});

/**
 * The variable's storage once it holds `value`. Variables own their storage (optimizers update it
 * in place), so the value is copied in: into the old storage when it has the value's dtype and size
 * (the common case: a restore, a re-initialization; ops that read the variable before see the new
 * value, as they see an optimizer's update), else into new storage in the WebAssembly memory, where
 * kernels use it in place, or in an array of its own where that memory cannot have it.
 */
function storeVariable(state: RuntimeState<NDArray>, name: string, value: NDArray): NDArray {
  const old = state.variables.get(name);
  const dtype = value.dtype;
  if (old !== undefined && old.dtype === dtype && old.data.length === value.data.length && !Array.isArray(old.data)) {
    if (dtype === 'int64') (old.data as BigInt64Array).set(value.data as BigInt64Array);
    else (old.data as Float32Array).set(value.data as Float32Array);
    return sameShape(old.shape, value.shape) ? old : new NDArray(old.data, value.shape, dtype);
  }
  // Ops of this run may still read the old storage: it is given back when the run is over.
  if (old !== undefined) runScratch(state).retired.push(old);
  const data = dtype === 'float32' || dtype === 'int32' ? heapArray(dtype, value.data.length) : null;
  if (!data) return value.clone();
  data.set(value.data as Float32Array & Int32Array);
  return new NDArray(data, value.shape, dtype);
}

function assignOp(sign: 1 | -1) {
  return (inputs: NDArray[], node: KernelNode, state: RuntimeState<NDArray>): NDArray[] => {
    const ref = readRef(node, state, 0);
    const value = inputs[1]!;
    if (!sameShape(ref.shape, value.shape)) {
      throw new InvalidArgumentError(`${node.type} requires shapes of both tensors to match. lhs shape= ${formatShape(ref.shape)} rhs shape= ${formatShape(value.shape)}`);
    }
    if ((ref.dtype === 'float32' || ref.dtype === 'int32') && value.dtype === ref.dtype) {
      // In the variable's storage, element by element (shapes match; the value may be the variable itself).
      const r = ref.data as Float32Array;
      const v = value.data as Float32Array;
      if (sign > 0) for (let i = 0; i < r.length; i++) r[i] = r[i]! + v[i]!;
      else for (let i = 0; i < r.length; i++) r[i] = r[i]! - v[i]!;
      return [ref];
    }
    // The sum is scratch (it is copied into the variable), so it never takes planned memory.
    const r =
      ref.dtype === 'int64'
        ? binaryBigInt(FRESH, ref, value, 'int64', (a, b) => (sign > 0 ? a + b : a - b))
        : binaryNumeric(FRESH, ref, value, ref.dtype, (a, b) => (sign > 0 ? a + b : a - b));
    (ref.data as Float32Array).set(r.data as Float32Array);
    return [ref];
  };
}
registerCpuKernel('AssignAdd', assignOp(1));
registerCpuKernel('AssignSub', assignOp(-1));
