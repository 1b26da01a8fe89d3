// Allocation failures as TensorFlow reports them (ResourceExhaustedError, "OOM when allocating").
import { ResourceExhaustedError } from '../src/core/errors.js';

/**
 * Whether `e` is the engine refusing memory: a typed array or ArrayBuffer too large to create, a
 * WebAssembly memory that cannot grow. These become ResourceExhaustedError (TensorFlow's OOM).
 */
export function isAllocationFailure(e: unknown): boolean {
  return (
    e instanceof RangeError &&
    /allocation failed|Invalid typed array length|Invalid array buffer length|Array buffer allocation|Maximum memory size|Out of memory|could not allocate|Memory\.grow/i.test(e.message)
  );
}

/** TensorFlow's OOM message for one tensor. */
export function oomMessage(shape: readonly (number | null)[] | null, dtype: string, device: string): string {
  const dims = shape === null ? '<unknown>' : shape.map((d) => (d === null ? '?' : d)).join(',');
  return `OOM when allocating tensor with shape[${dims}] and type ${dtype} on ${device}`;
}

/** Runs `make`, turning an allocation failure into a ResourceExhaustedError for a tensor of `shape`. */
export function allocOrThrow<T>(shape: readonly (number | null)[], dtype: string, device: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (isAllocationFailure(e)) throw new ResourceExhaustedError(`${oomMessage(shape, dtype, device)}: ${(e as Error).message}`);
    throw e;
  }
}
