import { allocData, type DType } from '../../../src/core/dtypes.js';
import { NDArray, numElements } from '../../../src/core/ndarray.js';
import type { KernelNode, PlannedOutputs } from '../../backend.js';
import { allocOrThrow } from '../../oom.js';
import { broadcastOrThrow, broadcastStrides, collapseDims } from '../../shape_helpers.js';

// The shape helpers moved to the shared runtime (both backends use them); CPU kernels still find them here.
export { broadcastOrThrow, broadcastStrides, collapseDims, toNumbers } from '../../shape_helpers.js';

/** Where a kernel gets its output arrays: the CPU backend passes one built from the step's plan. */
export interface Outputs {
  /** A zero-filled array for an output: the plan's view for that dtype and shape when it has one, else a fresh array. */
  alloc(dtype: DType, shape: readonly number[]): NDArray;
  /** The same for an output whose every element the kernel writes before it reads any: contents undefined (no zero fill). */
  allocOverwritten(dtype: DType, shape: readonly number[]): NDArray;
}

function fresh(dtype: DType, shape: readonly number[]): NDArray {
  return allocOrThrow(shape, dtype, 'cpu', () => new NDArray(allocData(dtype, numElements(shape)), shape, dtype));
}

/** Fresh arrays only (engine allocation failures become ResourceExhaustedError): for callers with no plan, and scratch. */
export const FRESH: Outputs = Object.freeze({ alloc: fresh, allocOverwritten: fresh });

// A plan's hooks live as long as its arena and are reused call after call: so is their wrapper.
const outputsOfHook = new WeakMap<PlannedOutputs, Outputs>();

/** The Outputs that hand out `planned` memory first; FRESH without a plan. */
export function outputsFrom(planned?: PlannedOutputs): Outputs {
  if (planned === undefined) return FRESH;
  let o = outputsOfHook.get(planned);
  if (!o) {
    o = {
      alloc(dtype, shape) {
        return planned(dtype, shape) ?? fresh(dtype, shape);
      },
      allocOverwritten(dtype, shape) {
        return planned(dtype, shape, true) ?? fresh(dtype, shape);
      },
    };
    outputsOfHook.set(planned, o);
  }
  return o;
}

export function attr<T>(node: KernelNode, name: string): T {
  return node.attrs[name] as T;
}

/**
 * Walks the broadcast of `shapes` to `outShape` in row-major order, calling
 * run(outOffset, operandOffsets, operandInnerStrides, innerLength) once per innermost run.
 */
export function forEachRun(
  shapes: readonly (readonly number[])[],
  outShape: readonly number[],
  run: (o: number, offs: number[], inner: number[], n: number) => void,
): void {
  const total = numElements(outShape);
  if (total === 0) return;
  const { shape, strides } = collapseDims(
    outShape,
    shapes.map((s) => broadcastStrides(s, outShape)),
  );
  const r = shape.length;
  const n = shape[r - 1]!;
  const inner = strides.map((s) => s[r - 1]!);
  const offs = shapes.map(() => 0);
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < total; o += n) {
    run(o, offs, inner, n);
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      for (let j = 0; j < offs.length; j++) offs[j]! += strides[j]![d]!;
      if (idx[d]! < shape[d]!) break;
      for (let j = 0; j < offs.length; j++) offs[j]! -= strides[j]![d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** Calls f(outIndex, aIndex, bIndex) for every element of the broadcast of a and b. */
export function forEachBroadcast(
  aShape: readonly number[],
  bShape: readonly number[],
  outShape: readonly number[],
  f: (o: number, ia: number, ib: number) => void,
): void {
  forEachRun([aShape, bShape], outShape, (o, offs, inner, n) => {
    for (let k = 0; k < n; k++) f(o + k, offs[0]! + k * inner[0]!, offs[1]! + k * inner[1]!);
  });
}

type Num = number;
/** Elementwise binary op over numbers with broadcasting (float32 and int32 data; bool as 0/1). */
export function binaryNumeric(outputs: Outputs, a: NDArray, b: NDArray, outDType: DType, f: (x: Num, y: Num) => Num): NDArray {
  const shape = broadcastOrThrow(a.shape, b.shape);
  const out = outputs.alloc(outDType, shape);
  const ad = a.data as Float32Array;
  const bd = b.data as Float32Array;
  const od = out.data as Float32Array;
  if (a.size === b.size && a.size === out.size) {
    for (let i = 0; i < od.length; i++) od[i] = f(ad[i]!, bd[i]!);
  } else if (b.size === 1) {
    const y = bd[0]!;
    for (let i = 0; i < od.length; i++) od[i] = f(ad[i]!, y);
  } else if (a.size === 1) {
    const x = ad[0]!;
    for (let i = 0; i < od.length; i++) od[i] = f(x, bd[i]!);
  } else {
    forEachBroadcast(a.shape, b.shape, shape, (o, i, j) => (od[o] = f(ad[i]!, bd[j]!)));
  }
  return out;
}

/** Elementwise binary op on int64 (BigInt) data with broadcasting. */
export function binaryBigInt(outputs: Outputs, a: NDArray, b: NDArray, outDType: DType, f: (x: bigint, y: bigint) => bigint | number): NDArray {
  const shape = broadcastOrThrow(a.shape, b.shape);
  const out = outputs.alloc(outDType, shape);
  const ad = a.data as BigInt64Array;
  const bd = b.data as BigInt64Array;
  const od = out.data as unknown as { [i: number]: bigint | number };
  forEachBroadcast(a.shape, b.shape, shape, (o, i, j) => (od[o] = f(ad[i]!, bd[j]!)));
  return out;
}
