// What both backends need to know about activations beyond their formulas (each backend writes
// those once, in its own table: runtime/cpu/activations.ts, runtime/webgpu/kernels/math.ts).
import { InvalidArgumentError } from '../src/core/errors.js';
import { formatShape } from '../src/core/shape.js';
import { getOpDef } from '../ops/registry.js';

export const SELU_ALPHA = 1.6732632423543772848170429916717;
export const SELU_SCALE = 1.0507009873554804934193349852946;

/** LeakyRelu's (and LeakyReluGrad's) slope below zero: the attr, TensorFlow's default without one. */
export function leakyAlpha(attrs: Readonly<Record<string, unknown>>): number {
  const a = attrs.alpha;
  return typeof a === 'number' ? a : 0.2;
}

/** What a _FusedMatMul / _FusedConv2D applies after its product: BiasAdd, then at most one activation. */
export interface Epilogue {
  act: string | undefined;
  /** LeakyRelu's slope. */
  alpha: number;
}

export function fusedEpilogue(attrs: Readonly<Record<string, unknown>>): Epilogue {
  const ops = (attrs.fused_ops as readonly string[] | undefined) ?? [];
  const act = ops[1];
  if (ops[0] !== 'BiasAdd' || ops.length > 2 || (act !== undefined && !getOpDef(act)?.fusableActivation)) {
    throw new InvalidArgumentError(`unsupported fused_ops [${ops.join(', ')}]`);
  }
  return { act, alpha: Number(attrs.leakyrelu_alpha ?? 0.2) };
}

/**
 * The error for XGrad(a, b) given operands of different shapes, worded by the op's input names:
 * TF's cwise gradient helpers (y, dy) and its activation gradients (gradients, features) differ.
 */
export function gradShapeMismatch(type: string, a: readonly number[], b: readonly number[]): InvalidArgumentError {
  const [first, second] = getOpDef(type)?.inputs ?? ['x', 'y'];
  if (first === 'y') return new InvalidArgumentError(`y and dy must have the same shape, got ${formatShape(a)} and ${formatShape(b)}`);
  return new InvalidArgumentError(`${first} and ${second} must be the same size: ${formatShape(a)} vs. ${formatShape(b)}`);
}
