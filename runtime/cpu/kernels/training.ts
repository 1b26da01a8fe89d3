// Optimizer update kernels: update the variable and its slots in place and output the variable.
// Each formula is written once (UPDATES) over a run of elements; the dense ops (Apply*) run it over
// the whole variable, the sparse ones (SparseApply*) over each indexed row. The Scatter* ops update
// rows of a variable with another combine.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape, sameShape } from '../../../src/core/shape.js';
import { APPLY_OPS, SCATTER_OPS, SPARSE_APPLY_OPS, scalarRangeError, type ApplyOpSpec } from '../../../ops/semantics/training.js';
import type { KernelNode, RuntimeState } from '../../backend.js';
import { applyUpdateSimd, type UpdateKind } from '../parallel.js';
import { registerCpuKernel } from '../registry.js';
import { readRef } from './state.js';

/** An update of n elements: variable and slot elements dst..dst+n-1 with gradient elements src..src+n-1. */
type Run = (dst: number, src: number, n: number) => void;

/**
 * One optimizer's update: [the TypeScript loop, and where runtime/cpu/parallel.ts has a
 * WebAssembly kernel computing the same formula, its kind and scalars]. `refs` are the variable and
 * its slots in input order; `s(k)` is the k-th scalar hyperparameter (in the op's input order).
 * (A tuple: a function in an array literal gets no name, so making one per call costs no
 * defineProperty under keepNames.)
 */
type Update = (refs: Float32Array[], grad: Float32Array, s: (k: number) => number, node: KernelNode) => [Run, [UpdateKind, number[]]?];

const UPDATES: Record<string, Update> = {
  ApplyGradientDescent: ([w], grad, s) => {
    const alpha = s(0);
    return [
      (dst, src, n) => {
        for (let k = 0; k < n; k++) w![dst + k] -= alpha * grad[src + k]!;
      },
      ['sgd', [alpha]],
    ];
  },
  ApplyMomentum: ([w, accum], grad, s, node) => {
    const lr = s(0);
    const momentum = s(1);
    const nesterov = !!node.attrs.use_nesterov;
    return [
      (dst, src, n) => {
        for (let k = 0; k < n; k++) {
          const i = dst + k;
          const g = grad[src + k]!;
          const a = (accum![i] = accum![i]! * momentum + g);
          w![i] -= nesterov ? g * lr + a * momentum * lr : lr * a;
        }
      },
      [nesterov ? 'momentum_nesterov' : 'momentum', [lr, momentum]],
    ];
  },
  ApplyAdam: ([w, m, v], grad, s, node) => {
    const [beta1Power, beta2Power, lr, beta1, beta2, epsilon] = [0, 1, 2, 3, 4, 5].map(s) as [number, number, number, number, number, number];
    const alpha = (lr * Math.sqrt(1 - beta2Power)) / (1 - beta1Power);
    const oneMinusBeta1 = 1 - beta1;
    const oneMinusBeta2 = 1 - beta2;
    const nesterov = node.attrs.use_nesterov === true;
    return [
      (dst, src, n) => {
        for (let k = 0; k < n; k++) {
          const i = dst + k;
          const g = grad[src + k]!;
          const mi = (m![i] = m![i]! + (g - m![i]!) * oneMinusBeta1);
          const vi = (v![i] = v![i]! + (g * g - v![i]!) * oneMinusBeta2);
          const step = nesterov ? g * oneMinusBeta1 + beta1 * mi : mi;
          w![i] -= (step * alpha) / (Math.sqrt(vi) + epsilon);
        }
      },
      [nesterov ? 'adam_nesterov' : 'adam', [alpha, oneMinusBeta1, oneMinusBeta2, epsilon, beta1]],
    ];
  },
  ApplyRMSProp: ([w, ms, mom], grad, s) => {
    const lr = s(0);
    const oneMinusRho = 1 - s(1);
    const momentum = s(2);
    const epsilon = s(3);
    return [
      (dst, src, n) => {
        for (let k = 0; k < n; k++) {
          const i = dst + k;
          const g = grad[src + k]!;
          const sq = (ms![i] = ms![i]! + (g * g - ms![i]!) * oneMinusRho);
          const u = (mom![i] = mom![i]! * momentum + (g * lr) / Math.sqrt(sq + epsilon));
          w![i] -= u;
        }
      },
      ['rmsprop', [lr, oneMinusRho, momentum, epsilon]],
    ];
  },
  ApplyCenteredRMSProp: ([w, mg, ms, mom], grad, s) => {
    const lr = s(0);
    const oneMinusRho = 1 - s(1);
    const momentum = s(2);
    const epsilon = s(3);
    return [
      (dst, src, n) => {
        for (let k = 0; k < n; k++) {
          const i = dst + k;
          const g = grad[src + k]!;
          const sq = (ms![i] = ms![i]! + (g * g - ms![i]!) * oneMinusRho);
          const a = (mg![i] = mg![i]! + (g - mg![i]!) * oneMinusRho);
          const u = (mom![i] = mom![i]! * momentum + (g * lr) / Math.sqrt(sq - a * a + epsilon));
          w![i] -= u;
        }
      },
      ['centered_rmsprop', [lr, oneMinusRho, momentum, epsilon]],
    ];
  },
  ApplyAdagrad: ([w, accum], grad, s, node) => {
    const lr = s(0);
    const updateSlots = node.attrs.update_slots !== false;
    return [
      (dst, src, n) => {
        for (let k = 0; k < n; k++) {
          const i = dst + k;
          const g = grad[src + k]!;
          if (updateSlots) accum![i] += g * g;
          w![i] -= (lr * g) / Math.sqrt(accum![i]!);
        }
      },
      [updateSlots ? 'adagrad' : 'adagrad_noslots', [lr]],
    ];
  },
  ApplyAdadelta: ([w, accum, accumUpdate], grad, s) => {
    const lr = s(0);
    const rho = s(1);
    const epsilon = s(2);
    return [
      (dst, src, n) => {
        for (let k = 0; k < n; k++) {
          const i = dst + k;
          const g = grad[src + k]!;
          const a = (accum![i] = accum![i]! * rho + g * g * (1 - rho));
          const update = (Math.sqrt(accumUpdate![i]! + epsilon) / Math.sqrt(a + epsilon)) * g;
          accumUpdate![i] = accumUpdate![i]! * rho + update * update * (1 - rho);
          w![i] -= update * lr;
        }
      },
    ];
  },
  ApplyProximalGradientDescent: ([w], grad, s) => {
    const alpha = s(0);
    const l1 = s(1);
    const l2 = s(2);
    return [
      (dst, src, n) => {
        for (let k = 0; k < n; k++) w![dst + k] = proximalStep(w![dst + k]! - alpha * grad[src + k]!, alpha, l1, l2);
      },
    ];
  },
  ApplyProximalAdagrad: ([w, accum], grad, s) => {
    const lr = s(0);
    const l1 = s(1);
    const l2 = s(2);
    return [
      (dst, src, n) => {
        for (let k = 0; k < n; k++) {
          const i = dst + k;
          const g = grad[src + k]!;
          const rate = lr / Math.sqrt((accum![i] += g * g));
          w![i] = proximalStep(w![i]! - rate * g, rate, l1, l2);
        }
      },
    ];
  },
  ApplyFtrl: (refs, grad, s, node) => [ftrl(refs, grad, s(0), s(1), s(2), 0, s(3), node)],
  ApplyFtrlV2: (refs, grad, s, node) => [ftrl(refs, grad, s(0), s(1), s(2), s(3), s(4), node)],
};

/** FOBOS's proximal step from v = w - rate * g: shrink by rate * l1 toward zero (soft threshold), then scale by 1 / (1 + rate * l2). */
function proximalStep(v: number, rate: number, l1: number, l2: number): number {
  const shrunk = l1 > 0 ? Math.sign(v) * Math.max(Math.abs(v) - rate * l1, 0) : v;
  return shrunk / (1 + rate * l2);
}

/**
 * FTRL-proximal (TF's ApplyFtrl / ApplyFtrlV2): the accumulator sums g^2, `linear` sums the
 * (shrinkage-adjusted) gradient minus sigma * w, and w is the closed-form minimizer, zero while
 * |linear| <= l1. With multiply_linear_by_lr, linear is kept scaled by lr.
 */
function ftrl(
  [w, accum, linear]: Float32Array[],
  grad: Float32Array,
  lr: number,
  l1: number,
  l2: number,
  shrinkage: number,
  lrPower: number,
  node: KernelNode,
): Run {
  const byLr = node.attrs.multiply_linear_by_lr === true;
  const root = lrPower === -0.5 ? Math.sqrt : (x: number) => Math.pow(x, -lrPower);
  const l1Eff = byLr ? l1 * lr : l1;
  return (dst, src, n) => {
    for (let k = 0; k < n; k++) {
      const i = dst + k;
      const g = grad[src + k]!;
      const wi = w![i]!;
      const gs = g + 2 * shrinkage * wi;
      const a = accum![i]!;
      const na = a + g * g;
      const sigma = root(na) - root(a);
      const l = (linear![i] = byLr ? linear![i]! + gs * lr - sigma * wi : linear![i]! + gs - (sigma / lr) * wi);
      const quadratic = byLr ? root(na) + 2 * l2 * lr : root(na) / lr + 2 * l2;
      w![i] = (Math.min(Math.max(l, -l1Eff), l1Eff) - l) / quadratic;
      accum![i] = na;
    }
  };
}

/**
 * The variable and its slots (their storage, variable first), checked as TF checks them: the slots
 * have the variable's shape, the hyperparameters are scalars.
 */
function operands(inputs: NDArray[], node: KernelNode, state: RuntimeState<NDArray>, spec: ApplyOpSpec) {
  const names = spec.inputs;
  const vars = spec.refs.map((i) => readRef(node, state, i));
  const v = vars[0]!;
  for (let k = 1; k < vars.length; k++) {
    if (!sameShape(v.shape, vars[k]!.shape)) {
      throw new InvalidArgumentError(`${names[0]} and ${names[spec.refs[k]!]} do not have the same shape${formatShape(v.shape)} ${formatShape(vars[k]!.shape)}`, node.name);
    }
  }
  const scalar = (k: number): number => {
    const i = spec.scalars[k]!;
    const s = inputs[i]!;
    if (s.rank !== 0) throw new InvalidArgumentError(`${names[i]} is not a scalar: ${formatShape(s.shape)}`, node.name);
    const x = (s.data as Float32Array)[0]!;
    const outOfRange = scalarRangeError(spec, names[i]!, x);
    if (outOfRange) throw new InvalidArgumentError(outOfRange, node.name);
    return x;
  };
  return { v, refs: vars.map((x) => x.data as Float32Array), scalar };
}

for (const spec of APPLY_OPS) {
  const update = UPDATES[spec.type]!;
  registerCpuKernel(spec.type, (inputs, node, state) => {
    const { v, refs, scalar } = operands(inputs, node, state, spec);
    const g = inputs[spec.grad]!;
    if (!sameShape(v.shape, g.shape)) {
      throw new InvalidArgumentError(`${spec.inputs[0]} and ${spec.inputs[spec.grad]} do not have the same shape${formatShape(v.shape)} ${formatShape(g.shape)}`, node.name);
    }
    const [run, simd] = update(refs, g.data as Float32Array, scalar, node);
    // The WebAssembly kernel updates the first elements (a multiple of 4), the loop the rest.
    const done = simd ? applyUpdateSimd(simd[0], refs, g.data as Float32Array, simd[1], node.name) : 0;
    if (done < v.size) run(done, done, v.size - done);
    return [v];
  });
}

/** Index k of `indices` as a row of a variable with `rows` rows; throws naming the op when out of range. */
function rowOf(indices: NDArray, k: number, rows: number, node: KernelNode): number {
  const r = Number(indices.data[k]);
  if (!(r >= 0 && r < rows)) throw new InvalidArgumentError(`${node.type}: index ${r} (indices[${k}]) is not in [0, ${rows})`, node.name);
  return r;
}

for (const spec of SPARSE_APPLY_OPS) {
  const update = UPDATES[spec.dense]!;
  registerCpuKernel(spec.type, (inputs, node, state) => {
    const { v, refs, scalar } = operands(inputs, node, state, spec);
    const g = inputs[spec.grad]!;
    const indices = inputs[spec.indices]!;
    const n = indices.size;
    const width = v.size / Math.max(1, v.shape[0]!);
    if (indices.rank !== 1 || !sameShape(g.shape, [n, ...v.shape.slice(1)])) {
      throw new InvalidArgumentError(`grad must have shape [${n}, ...var.shape[1:]] with a vector of indices, got grad ${formatShape(g.shape)} and indices ${formatShape(indices.shape)}`, node.name);
    }
    const [run] = update(refs, g.data as Float32Array, scalar, node);
    for (let k = 0; k < n; k++) run(rowOf(indices, k, v.shape[0]!, node) * width, k * width, width);
    return [v];
  });
}

const COMBINE: Record<string, (a: number, b: number) => number> = {
  update: (_a, b) => b,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  min: (a, b) => Math.min(a, b),
  max: (a, b) => Math.max(a, b),
};

for (const [type, how] of Object.entries(SCATTER_OPS)) {
  const combine = COMBINE[how]!;
  registerCpuKernel(type, (inputs, node, state) => {
    const ref = readRef(node, state, 0);
    const [, indices, updates] = inputs as [NDArray, NDArray, NDArray];
    if (ref.dtype !== 'float32' && ref.dtype !== 'int32') throw new InvalidArgumentError(`${type} supports float32 and int32 variables, got ${ref.dtype}`, node.name);
    const rows = ref.shape[0]!;
    const width = ref.size / Math.max(1, rows);
    const scalar = updates.rank === 0;
    if (!scalar && !sameShape(updates.shape, [...indices.shape, ...ref.shape.slice(1)])) {
      throw new InvalidArgumentError(
        `updates must have shape indices.shape + ref.shape[1:] = ${formatShape([...indices.shape, ...ref.shape.slice(1)])}, got ${formatShape(updates.shape)}`,
        node.name,
      );
    }
    const w = ref.data as Float32Array | Int32Array;
    const u = updates.data as Float32Array | Int32Array;
    const intDiv = ref.dtype === 'int32' && how === 'div';
    for (let k = 0; k < indices.size; k++) {
      const base = rowOf(indices, k, rows, node) * width;
      for (let j = 0; j < width; j++) {
        const c = combine(w[base + j]!, scalar ? u[0]! : u[k * width + j]!);
        w[base + j] = intDiv ? Math.trunc(c) : c;
      }
    }
    return [ref];
  });
}
