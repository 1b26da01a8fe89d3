import type { NDArray } from '../../src/core/ndarray.js';
import type { KernelNode, RuntimeState } from '../backend.js';

export type CpuKernel = (inputs: NDArray[], node: KernelNode, state: RuntimeState<NDArray>) => NDArray[];

const kernels = new Map<string, CpuKernel>();

export function registerCpuKernel(type: string, k: CpuKernel): void {
  if (kernels.has(type)) throw new Error(`CPU kernel for ${type} registered twice`);
  kernels.set(type, k);
}

export function getCpuKernel(type: string): CpuKernel | undefined {
  return kernels.get(type);
}

export function listCpuKernels(): string[] {
  return [...kernels.keys()];
}
