/// <reference types="@webgpu/types" />
import type { DType } from '../../src/core/dtypes.js';
import type { NDArray } from '../../src/core/ndarray.js';

/**
 * A value on the WebGPU backend. Numbers live in a GPU buffer (float32 as f32, int32 as i32, bool
 * as one u32 per element, int64 as two i32 words, low first: the bytes of a BigInt64Array). Small
 * values computed on the host (constants, shapes, random draws, strings) also keep their host copy,
 * so ops that need a value at plan time (axes, shapes, permutations) never wait for the GPU;
 * strings exist only on the host.
 */
export class GpuTensor {
  constructor(
    readonly dtype: DType,
    readonly shape: number[],
    /** The GPU copy; undefined until a kernel needs it for a host-made value. */
    public buffer: GPUBuffer | undefined,
    /** The host copy, when the value was made on the host (cleared when a kernel writes the buffer). */
    public host?: NDArray,
  ) {}

  get size(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }
}

/** Bytes per element in GPU storage. */
export function gpuBytesPerElement(dtype: DType): number {
  return dtype === 'int64' || dtype === 'complex64' ? 8 : 4;
}

/** Buffers are at least 16 bytes (an empty binding is invalid) and a multiple of 4. */
export function gpuByteSize(dtype: DType, size: number): number {
  return Math.max(16, Math.ceil((size * gpuBytesPerElement(dtype)) / 4) * 4);
}
