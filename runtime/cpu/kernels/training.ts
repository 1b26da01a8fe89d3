// Optimizer update kernels: update the variable and its slots in place and output the variable.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape, sameShape } from '../../../src/core/shape.js';
import type { KernelNode, RuntimeState } from '../../backend.js';
import { registerCpuKernel } from '../registry.js';
import { readRef } from './state.js';

interface Operands {
  /** Storage of the variable and its slots, in input order. */
  refs: Float32Array[];
  grad: Float32Array;
  /** Scalar hyperparameters by input index. */
  scalar: (i: number) => number;
  out: NDArray;
}

/**
 * Reads the reference inputs (variable first) and checks, as TF does, that the slots and the
 * gradient have the variable's shape and that the hyperparameters are scalars.
 */
function operands(
  inputs: NDArray[],
  node: KernelNode,
  state: RuntimeState<NDArray>,
  names: readonly string[],
  refIdx: readonly number[],
  gradIdx: number,
): Operands {
  const vars = refIdx.map((i) => readRef(node, state, i));
  const v = vars[0]!;
  for (let k = 1; k < vars.length; k++) {
    if (!sameShape(v.shape, vars[k]!.shape)) {
      throw new InvalidArgumentError(
        `${names[0]} and ${names[refIdx[k]!]} do not have the same shape${formatShape(v.shape)} ${formatShape(vars[k]!.shape)}`,
        node.name,
      );
    }
  }
  const g = inputs[gradIdx]!;
  if (!sameShape(v.shape, g.shape)) {
    throw new InvalidArgumentError(`${names[0]} and ${names[gradIdx]} do not have the same shape${formatShape(v.shape)} ${formatShape(g.shape)}`, node.name);
  }
  return {
    refs: vars.map((x) => x.data as Float32Array),
    grad: g.data as Float32Array,
    scalar: (i) => {
      const s = inputs[i]!;
      if (s.rank !== 0) throw new InvalidArgumentError(`${names[i]} is not a scalar: ${formatShape(s.shape)}`, node.name);
      return (s.data as Float32Array)[0]!;
    },
    out: v,
  };
}

registerCpuKernel('ApplyGradientDescent', (inputs, node, state) => {
  const { refs, grad, scalar, out } = operands(inputs, node, state, ['var', 'alpha', 'delta'], [0], 2);
  const [w] = refs as [Float32Array];
  const alpha = scalar(1);
  for (let i = 0; i < w.length; i++) w[i] -= alpha * grad[i]!;
  return [out];
});

registerCpuKernel('ApplyMomentum', (inputs, node, state) => {
  const { refs, grad, scalar, out } = operands(inputs, node, state, ['var', 'accum', 'lr', 'grad', 'momentum'], [0, 1], 3);
  const [w, accum] = refs as [Float32Array, Float32Array];
  const lr = scalar(2);
  const momentum = scalar(4);
  if (node.attrs.use_nesterov) {
    for (let i = 0; i < w.length; i++) {
      const g = grad[i]!;
      const a = (accum[i] = accum[i]! * momentum + g);
      w[i] -= g * lr + a * momentum * lr;
    }
  } else {
    for (let i = 0; i < w.length; i++) {
      const a = (accum[i] = accum[i]! * momentum + grad[i]!);
      w[i] -= lr * a;
    }
  }
  return [out];
});

registerCpuKernel('ApplyAdam', (inputs, node, state) => {
  const names = ['var', 'm', 'v', 'beta1_power', 'beta2_power', 'lr', 'beta1', 'beta2', 'epsilon', 'grad'];
  const { refs, grad, scalar, out } = operands(inputs, node, state, names, [0, 1, 2], 9);
  const [w, m, v] = refs as [Float32Array, Float32Array, Float32Array];
  const beta1Power = scalar(3);
  const beta2Power = scalar(4);
  const beta1 = scalar(6);
  const beta2 = scalar(7);
  const epsilon = scalar(8);
  const alpha = (scalar(5) * Math.sqrt(1 - beta2Power)) / (1 - beta1Power);
  const oneMinusBeta1 = 1 - beta1;
  const oneMinusBeta2 = 1 - beta2;
  const nesterov = node.attrs.use_nesterov === true;
  for (let i = 0; i < w.length; i++) {
    const g = grad[i]!;
    const mi = (m[i] = m[i]! + (g - m[i]!) * oneMinusBeta1);
    const vi = (v[i] = v[i]! + (g * g - v[i]!) * oneMinusBeta2);
    const step = nesterov ? g * oneMinusBeta1 + beta1 * mi : mi;
    w[i] -= (step * alpha) / (Math.sqrt(vi) + epsilon);
  }
  return [out];
});

registerCpuKernel('ApplyRMSProp', (inputs, node, state) => {
  const names = ['var', 'ms', 'mom', 'lr', 'rho', 'momentum', 'epsilon', 'grad'];
  const { refs, grad, scalar, out } = operands(inputs, node, state, names, [0, 1, 2], 7);
  const [w, ms, mom] = refs as [Float32Array, Float32Array, Float32Array];
  const lr = scalar(3);
  const oneMinusRho = 1 - scalar(4);
  const momentum = scalar(5);
  const epsilon = scalar(6);
  for (let i = 0; i < w.length; i++) {
    const g = grad[i]!;
    const s = (ms[i] = ms[i]! + (g * g - ms[i]!) * oneMinusRho);
    const u = (mom[i] = mom[i]! * momentum + (g * lr) / Math.sqrt(s + epsilon));
    w[i] -= u;
  }
  return [out];
});

registerCpuKernel('ApplyCenteredRMSProp', (inputs, node, state) => {
  const names = ['var', 'mg', 'ms', 'mom', 'lr', 'rho', 'momentum', 'epsilon', 'grad'];
  const { refs, grad, scalar, out } = operands(inputs, node, state, names, [0, 1, 2, 3], 8);
  const [w, mg, ms, mom] = refs as [Float32Array, Float32Array, Float32Array, Float32Array];
  const lr = scalar(4);
  const oneMinusRho = 1 - scalar(5);
  const momentum = scalar(6);
  const epsilon = scalar(7);
  for (let i = 0; i < w.length; i++) {
    const g = grad[i]!;
    const s = (ms[i] = ms[i]! + (g * g - ms[i]!) * oneMinusRho);
    const a = (mg[i] = mg[i]! + (g - mg[i]!) * oneMinusRho);
    const u = (mom[i] = mom[i]! * momentum + (g * lr) / Math.sqrt(s - a * a + epsilon));
    w[i] -= u;
  }
  return [out];
});

registerCpuKernel('ApplyAdagrad', (inputs, node, state) => {
  const { refs, grad, scalar, out } = operands(inputs, node, state, ['var', 'accum', 'lr', 'grad'], [0, 1], 3);
  const [w, accum] = refs as [Float32Array, Float32Array];
  const lr = scalar(2);
  const updateSlots = node.attrs.update_slots !== false;
  for (let i = 0; i < w.length; i++) {
    const g = grad[i]!;
    if (updateSlots) accum[i] += g * g;
    w[i] -= (lr * g) / Math.sqrt(accum[i]!);
  }
  return [out];
});
