// Array op semantics that shape functions (ops/array.ts) and both backends' kernels share.
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { NDArray } from '../../src/core/ndarray.js';
import type { Dim } from '../../src/core/shape.js';

/** The values of an int (or float) NDArray as JS numbers. */
export function numbersOf(nd: NDArray): number[] {
  return Array.from(nd.data as ArrayLike<number | bigint>, Number);
}

/** The number of elements of range(start, limit, delta), or an error message. */
export function rangeSize(start: number, limit: number, delta: number, integral: boolean): number | string {
  if (delta === 0) return 'Requires delta != 0';
  if (delta > 0 && start > limit) return `Requires start <= limit when delta > 0: ${start}/${limit}`;
  if (delta < 0 && start < limit) return `Requires start >= limit when delta < 0: ${start}/${limit}`;
  return integral
    ? Math.floor((Math.abs(limit - start) + Math.abs(delta) - 1) / Math.abs(delta))
    : Math.ceil(Math.abs((limit - start) / delta));
}

export function invertPerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

// ---- strided slice canonicalization (TF's ValidateStridedSliceOp) ----

export interface StridedSliceMasks {
  beginMask: number;
  endMask: number;
  ellipsisMask: number;
  newAxisMask: number;
  shrinkAxisMask: number;
}

export function masksOf(attrs: Record<string, unknown>): StridedSliceMasks {
  return {
    beginMask: Number(attrs.begin_mask ?? 0),
    endMask: Number(attrs.end_mask ?? 0),
    ellipsisMask: Number(attrs.ellipsis_mask ?? 0),
    newAxisMask: Number(attrs.new_axis_mask ?? 0),
    shrinkAxisMask: Number(attrs.shrink_axis_mask ?? 0),
  };
}

export interface StridedSliceSpec {
  /** Per input dim (dense): canonical begin, end and stride. */
  begin: number[];
  end: number[];
  strides: number[];
  /** Per input dim: the number of elements taken (shrunk dims take 1); null if unknown. */
  processingShape: Dim[];
  /** The output shape: shrunk dims removed, new axes inserted. */
  finalShape: Dim[];
  isIdentity: boolean;
}

const NEW_AXIS = -1;
const SHRINK_AXIS = -2;

/**
 * TF's StridedSlice semantics: expands the ellipsis and new axes of a sparse spec against the input
 * rank, canonicalizes begin/end (masks, negative indices, clamping), bounds-checks shrunk indices.
 * begin or end may be null (unknown while building). Throws InvalidArgumentError.
 */
export function stridedSliceSpec(
  inputShape: readonly Dim[],
  begin: readonly number[] | null,
  end: readonly number[] | null,
  strides: readonly number[],
  masks: StridedSliceMasks,
): StridedSliceSpec {
  const sparseDims0 = strides.length;
  if ((begin && begin.length !== sparseDims0) || (end && end.length !== sparseDims0)) {
    throw new InvalidArgumentError(
      `Expected begin, end, and strides to be 1D equal size tensors, but got lengths ${begin?.length ?? '?'}, ${end?.length ?? '?'}, and ${sparseDims0}`,
    );
  }
  if (sparseDims0 >= 32) throw new InvalidArgumentError(`StridedSlice: at most 31 slice dimensions are supported, got ${sparseDims0}`);
  const { beginMask, endMask, newAxisMask, shrinkAxisMask } = masks;
  let ellipsisMask = masks.ellipsisMask;
  if (ellipsisMask && (ellipsisMask & (ellipsisMask - 1)) !== 0) {
    throw new InvalidArgumentError('Multiple ellipses in slice spec not allowed');
  }
  let sparseDims = sparseDims0;
  let ellipsisSeen = false;
  let numAddAxisAfterEllipsis = 0;
  for (let i = 0; i < sparseDims; i++) {
    if (ellipsisSeen && ((1 << i) & newAxisMask) !== 0) numAddAxisAfterEllipsis++;
    if ((1 << i) & ellipsisMask) ellipsisSeen = true;
  }
  if (!ellipsisSeen) {
    ellipsisMask |= 1 << sparseDims;
    sparseDims++;
  }

  // Sparse spec -> dense spec (one entry per input dim).
  const dims = inputShape.length;
  const dBegin = new Array<number>(dims).fill(0);
  const dEnd = new Array<number>(dims).fill(0);
  const dStrides = new Array<number>(dims).fill(1);
  let dBeginMask = 0;
  let dEndMask = 0;
  let dShrink = 0;
  const gather: number[] = [];
  let full = 0;
  for (let i = 0; i < sparseDims; i++) {
    if ((1 << i) & ellipsisMask) {
      const next = Math.min(dims - (sparseDims - i) + 1 + numAddAxisAfterEllipsis, dims);
      for (; full < next; full++) {
        dBegin[full] = dEnd[full] = 0;
        dStrides[full] = 1;
        dBeginMask |= 1 << full;
        dEndMask |= 1 << full;
        gather.push(full);
      }
    } else if ((1 << i) & newAxisMask) {
      gather.push(NEW_AXIS);
    } else {
      if (full === dims) {
        throw new InvalidArgumentError(`Index out of range using input dim ${full}; input has only ${dims} dims`);
      }
      if (begin) dBegin[full] = begin[i]!;
      if (end) dEnd[full] = end[i]!;
      dStrides[full] = strides[i]!;
      if (beginMask & (1 << i)) dBeginMask |= 1 << full;
      if (endMask & (1 << i)) dEndMask |= 1 << full;
      if (shrinkAxisMask & (1 << i)) {
        gather.push(SHRINK_AXIS);
        dShrink |= 1 << full;
      } else {
        gather.push(full);
      }
      full++;
    }
  }

  // Canonical begin/end per dim, and the size of each processed dim.
  const valid = begin !== null && end !== null;
  let isIdentity = true;
  const processing: Dim[] = [];
  for (let i = 0; i < dims; i++) {
    const stride = dStrides[i]!;
    const dim = inputShape[i]!;
    if (stride === 0) throw new InvalidArgumentError(`strides[${i}] must be non-zero`);
    const shrink = (dShrink & (1 << i)) !== 0;
    if (dim === null) {
      processing.push(shrink ? 1 : null);
      isIdentity = false;
      continue;
    }
    const bMasked = (dBeginMask & (1 << i)) !== 0;
    const eMasked = (dEndMask & (1 << i)) !== 0;
    const lo = stride > 0 ? 0 : -1;
    const hi = stride > 0 ? dim : dim - 1;
    const canonical = (x: number, c: 0 | 1): number => {
      if (c === 0 ? bMasked : eMasked) return stride > 0 ? (c === 0 ? lo : hi) : c === 0 ? hi : lo;
      const fwd = x < 0 ? dim + x : x;
      return fwd < lo ? lo : fwd > hi ? hi : fwd;
    };
    if (shrink && stride <= 0) throw new InvalidArgumentError('only stride 1 allowed on non-range indexing.');
    if (valid) {
      if (shrink) {
        const fwd = dBegin[i]! < 0 ? dim + dBegin[i]! : dBegin[i]!;
        if (fwd < 0 || fwd >= dim) {
          throw new InvalidArgumentError(`slice index ${dBegin[i]} of dimension ${i} out of bounds.`);
        }
        dBegin[i] = fwd;
        dEnd[i] = fwd + 1;
      } else {
        dBegin[i] = canonical(dBegin[i]!, 0);
        dEnd[i] = canonical(dEnd[i]!, 1);
      }
      isIdentity &&= stride === 1 && dBegin[i] === 0 && dEnd[i] === dim;
    } else {
      isIdentity &&= stride === 1 && bMasked && eMasked;
    }
    let interval: number | null = null;
    if (valid) interval = dEnd[i]! - dBegin[i]!;
    else if (shrink) interval = 1;
    else if (bMasked && eMasked) interval = stride < 0 ? -dim : dim;
    if (interval === null) {
      processing.push(null);
    } else if (interval === 0 || interval < 0 !== stride < 0) {
      processing.push(0);
    } else {
      processing.push(Math.trunc(interval / stride) + (interval % stride !== 0 ? 1 : 0));
    }
  }
  const finalShape: Dim[] = [];
  for (const gi of gather) {
    if (gi >= 0) finalShape.push(processing[gi]!);
    else if (gi === NEW_AXIS) finalShape.push(1);
  }
  return { begin: dBegin, end: dEnd, strides: dStrides, processingShape: processing, finalShape, isIdentity };
}
