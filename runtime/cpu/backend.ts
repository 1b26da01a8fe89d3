import type { DType } from '../../src/core/dtypes.js';
import { UnimplementedError } from '../../src/core/errors.js';
import type { NDArray } from '../../src/core/ndarray.js';
import type { Backend, HostBuffer, KernelNode, PlannedOutputs, RuntimeState, StepContext } from '../backend.js';
import { freeHeapArray, freeHeapRegion, heapAddress, heapRegion, type HeapRegion } from './heap.js';
import { FRESH, outputsFrom } from './kernels/util.js';
import { cpuCanFuse } from './fused.js';
import { getCpuKernel } from './registry.js';
import './kernels/index.js';

/** Runs one op's CPU kernel on host values, with no session state (constant folding); undefined when there is none. */
export function evaluateOnCpu(node: KernelNode, inputs: NDArray[]): NDArray[] | undefined {
  const k = getCpuKernel(node.type);
  return k ? k(inputs, node, { variables: new Map(), opState: new Map() }, FRESH) : undefined;
}

/** The reference CPU backend: handles are host NDArrays. */
export class CpuBackend implements Backend<NDArray> {
  readonly name = 'cpu';
  readonly fuseInPlace = true;
  readonly freshOutputsOwned = true;
  canFuse = cpuCanFuse;
  hasKernel(opType: string): boolean {
    return getCpuKernel(opType) !== undefined;
  }
  execute(node: KernelNode, inputs: NDArray[], state: RuntimeState<NDArray>, _ctx?: StepContext, planned?: PlannedOutputs): NDArray[] {
    const k = getCpuKernel(node.type);
    if (!k) throw new UnimplementedError(`No CPU kernel registered for op type '${node.type}'`, node.name);
    return k(inputs, node, state, outputsFrom(planned));
  }
  /** The runtime's buffers (arenas, slab chunks) in the WebAssembly memory, where kernels use them in place. */
  allocHostBuffer(bytes: number, owner: object): HostBuffer | null {
    return heapRegion(bytes, owner);
  }
  freeHostBuffer(buffer: HostBuffer): void {
    freeHeapRegion(buffer as HeapRegion);
  }
  hostAddress(view: ArrayBufferView): number {
    return heapAddress(view);
  }
  freeValue(handle: NDArray): void {
    if (!Array.isArray(handle.data)) freeHeapArray(handle.data);
  }
  upload(value: NDArray): NDArray {
    return value;
  }
  async download(handle: NDArray): Promise<NDArray> {
    return this.read(handle);
  }
  read(handle: NDArray): NDArray {
    // A fetched value may be a variable's storage, a constant's value or in the arena: the caller gets its own copy.
    return handle.clone();
  }
  peek(handle: NDArray): NDArray {
    return handle;
  }
  shapeOf(handle: NDArray): number[] {
    return handle.shape;
  }
  dtypeOf(handle: NDArray): DType {
    return handle.dtype;
  }
  dispose(): void {}
}
