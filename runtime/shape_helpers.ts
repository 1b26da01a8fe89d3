// Shape, broadcast and axis helpers the kernels of every backend share, with the same errors.
import { InvalidArgumentError } from '../src/core/errors.js';
import type { NDArray } from '../src/core/ndarray.js';
import { broadcastShapes, formatShape, stridesOf } from '../src/core/shape.js';

/**
 * Strides of `shape` as seen from the broadcast output shape `out` (0 on broadcast dims), aligned
 * to the right as numpy does.
 */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const st = stridesOf(shape);
  const res = new Array<number>(out.length).fill(0);
  const off = out.length - shape.length;
  for (let i = 0; i < shape.length; i++) res[i + off] = shape[i] === 1 ? 0 : st[i]!;
  return res;
}

export function broadcastOrThrow(a: readonly number[], b: readonly number[]): number[] {
  const s = broadcastShapes(a, b);
  if (!s) throw new InvalidArgumentError(`Incompatible shapes: ${formatShape(a)} vs. ${formatShape(b)}`);
  return s;
}

/**
 * Drops size-1 dims and merges neighbouring dims that every operand walks contiguously, so the
 * innermost loop runs as long as possible. Returns rank >= 1.
 */
export function collapseDims(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, j) => outStrides[j]![last] === s[d]! * n)) {
      outShape[last] = outShape[last]! * n;
      strides.forEach((s, j) => (outStrides[j]![last] = s[d]!));
    } else {
      outShape.push(n);
      strides.forEach((s, j) => outStrides[j]!.push(s[d]!));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(0));
  }
  return { shape: outShape, strides: outStrides };
}

/** Reads an int32/int64 tensor as JS numbers (shape vectors, axes, indices). */
export function toNumbers(a: NDArray): number[] {
  return Array.from(a.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** Normalized, sorted, duplicate-free reduction axes; throws like TF for bad ones. */
export function reductionAxes(axesArr: NDArray, rank: number): number[] {
  const axes = toNumbers(axesArr);
  const seen = new Set<number>();
  for (const a of axes) {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new InvalidArgumentError(`Invalid reduction dimension (${a} for input with ${rank} dimension(s)`);
    }
    const n = a < 0 ? a + rank : a;
    if (seen.has(n)) throw new InvalidArgumentError(`Invalid reduction arguments: Axes contains duplicate dimension: ${n}`);
    seen.add(n);
  }
  return [...seen].sort((x, y) => x - y);
}
