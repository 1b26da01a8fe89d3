// The optimizer update ops (TF's training_ops): their inputs in TensorFlow's order, which of them are
// the variable and its slots (updated in place), the scalar hyperparameters and the gradient. Read by
// their registration (ops/training.ts) and by the kernels.

export interface ApplyOpSpec {
  type: string;
  /** Input names in TF's order. */
  inputs: readonly string[];
  /** Indices of the variable and its slots (reference inputs). */
  refs: readonly number[];
  /** Indices of the scalar hyperparameter inputs. */
  scalars: readonly number[];
  /** Index of the gradient input. */
  grad: number;
  attrs: Record<string, 'type' | 'bool'>;
  /** Hyperparameters whose value TF checks at run time (Ftrl's), by input name. */
  ranges?: Readonly<Record<string, ScalarRange>>;
}

type ScalarRange = 'positive' | 'nonNegative' | 'nonPositive';

const RANGE_WORDS: Record<ScalarRange, [string, (x: number) => boolean]> = {
  positive: ['a positive', (x) => x > 0],
  nonNegative: ['a non-negative', (x) => x >= 0],
  nonPositive: ['a non-positive', (x) => x <= 0],
};

/** How TF's kernels name a hyperparameter in their range errors. */
const RANGE_SUBJECTS: Record<string, string> = {
  l1: 'l1 regularization strength',
  l2: 'l2 regularization strength',
  l2_shrinkage: 'l2 shrinkage regularization strength',
};

/**
 * TF's message when the hyperparameter `input` of `spec` is out of the range its kernel accepts
 * ('lr is not a positive scalar: ...'), or undefined when it is in range (or unchecked).
 */
export function scalarRangeError(spec: ApplyOpSpec, input: string, value: number): string | undefined {
  const range = spec.ranges?.[input];
  if (!range) return undefined;
  const [words, ok] = RANGE_WORDS[range];
  return ok(value) ? undefined : `${RANGE_SUBJECTS[input] ?? input} is not ${words} scalar: ${value}`;
}

const FTRL_RANGES: Record<string, ScalarRange> = { lr: 'positive', l1: 'nonNegative', l2: 'nonNegative', l2_shrinkage: 'nonNegative', lr_power: 'nonPositive' };

export const APPLY_OPS: readonly ApplyOpSpec[] = [
  {
    type: 'ApplyGradientDescent',
    inputs: ['var', 'alpha', 'delta'],
    refs: [0],
    scalars: [1],
    grad: 2,
    attrs: { T: 'type', use_locking: 'bool' },
  },
  {
    type: 'ApplyMomentum',
    inputs: ['var', 'accum', 'lr', 'grad', 'momentum'],
    refs: [0, 1],
    scalars: [2, 4],
    grad: 3,
    attrs: { T: 'type', use_locking: 'bool', use_nesterov: 'bool' },
  },
  {
    type: 'ApplyAdam',
    inputs: ['var', 'm', 'v', 'beta1_power', 'beta2_power', 'lr', 'beta1', 'beta2', 'epsilon', 'grad'],
    refs: [0, 1, 2],
    scalars: [3, 4, 5, 6, 7, 8],
    grad: 9,
    attrs: { T: 'type', use_locking: 'bool', use_nesterov: 'bool' },
  },
  {
    type: 'ApplyRMSProp',
    inputs: ['var', 'ms', 'mom', 'lr', 'rho', 'momentum', 'epsilon', 'grad'],
    refs: [0, 1, 2],
    scalars: [3, 4, 5, 6],
    grad: 7,
    attrs: { T: 'type', use_locking: 'bool' },
  },
  {
    type: 'ApplyCenteredRMSProp',
    inputs: ['var', 'mg', 'ms', 'mom', 'lr', 'rho', 'momentum', 'epsilon', 'grad'],
    refs: [0, 1, 2, 3],
    scalars: [4, 5, 6, 7],
    grad: 8,
    attrs: { T: 'type', use_locking: 'bool' },
  },
  {
    type: 'ApplyAdagrad',
    inputs: ['var', 'accum', 'lr', 'grad'],
    refs: [0, 1],
    scalars: [2],
    grad: 3,
    attrs: { T: 'type', use_locking: 'bool', update_slots: 'bool' },
  },
  {
    type: 'ApplyAdadelta',
    inputs: ['var', 'accum', 'accum_update', 'lr', 'rho', 'epsilon', 'grad'],
    refs: [0, 1, 2],
    scalars: [3, 4, 5],
    grad: 6,
    attrs: { T: 'type', use_locking: 'bool' },
  },
  {
    type: 'ApplyProximalGradientDescent',
    inputs: ['var', 'alpha', 'l1', 'l2', 'delta'],
    refs: [0],
    scalars: [1, 2, 3],
    grad: 4,
    attrs: { T: 'type', use_locking: 'bool' },
  },
  {
    type: 'ApplyProximalAdagrad',
    inputs: ['var', 'accum', 'lr', 'l1', 'l2', 'grad'],
    refs: [0, 1],
    scalars: [2, 3, 4],
    grad: 5,
    attrs: { T: 'type', use_locking: 'bool' },
  },
  {
    type: 'ApplyFtrl',
    inputs: ['var', 'accum', 'linear', 'grad', 'lr', 'l1', 'l2', 'lr_power'],
    refs: [0, 1, 2],
    scalars: [4, 5, 6, 7],
    grad: 3,
    attrs: { T: 'type', use_locking: 'bool', multiply_linear_by_lr: 'bool' },
    ranges: FTRL_RANGES,
  },
  {
    type: 'ApplyFtrlV2',
    inputs: ['var', 'accum', 'linear', 'grad', 'lr', 'l1', 'l2', 'l2_shrinkage', 'lr_power'],
    refs: [0, 1, 2],
    scalars: [4, 5, 6, 7, 8],
    grad: 3,
    attrs: { T: 'type', use_locking: 'bool', multiply_linear_by_lr: 'bool' },
    ranges: FTRL_RANGES,
  },
];

/** TF's Scatter* ops on a variable: ref[indices[k], ...] = combine(ref[indices[k], ...], updates[k, ...]), rows in order. */
export const SCATTER_OPS: Readonly<Record<string, 'update' | 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max'>> = {
  ScatterUpdate: 'update',
  ScatterAdd: 'add',
  ScatterSub: 'sub',
  ScatterMul: 'mul',
  ScatterDiv: 'div',
  ScatterMin: 'min',
  ScatterMax: 'max',
};

/**
 * The sparse forms of the update ops (TF's SparseApply*): the dense op's inputs with `indices` right
 * after `grad`; they update only the rows of the variable and its slots that `indices` names, with
 * the dense formula, row k of grad going to row indices[k]. TF's optimizers sum the rows of repeated
 * indices first, so each row is updated once.
 */
export interface SparseApplyOpSpec extends ApplyOpSpec {
  /** The dense op whose formula it applies. */
  dense: string;
  /** Index of the indices input. */
  indices: number;
}

export const SPARSE_APPLY_OPS: readonly SparseApplyOpSpec[] = [
  'ApplyMomentum',
  'ApplyRMSProp',
  'ApplyCenteredRMSProp',
  'ApplyAdagrad',
  'ApplyAdadelta',
  'ApplyProximalGradientDescent',
  'ApplyProximalAdagrad',
  'ApplyFtrl',
  'ApplyFtrlV2',
].map((dense) => {
  const d = APPLY_OPS.find((s) => s.type === dense)!;
  const at = d.grad + 1;
  const shift = (i: number): number => (i >= at ? i + 1 : i);
  // Every sparse form calls its gradient 'grad' (ApplyProximalGradientDescent's is 'delta').
  const inputs = d.inputs.map((n, i) => (i === d.grad ? 'grad' : n));
  return {
    ...d,
    type: `Sparse${dense}`,
    dense,
    inputs: [...inputs.slice(0, at), 'indices', ...inputs.slice(at)],
    refs: d.refs.map(shift),
    scalars: d.scalars.map(shift),
    grad: d.grad,
    indices: at,
    attrs: { ...d.attrs, Tindices: 'type' },
  };
});
