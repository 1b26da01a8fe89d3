import type { NDArray } from '../../src/core/ndarray.js';
import type { KernelNode, RuntimeState } from '../backend.js';
import type { Outputs } from './kernels/util.js';

/** A CPU kernel: it allocates its outputs through `outputs` (the plan's memory when the backend has a plan for the step). */
export type CpuKernel = (inputs: NDArray[], node: KernelNode, state: RuntimeState<NDArray>, outputs: Outputs) => NDArray[];

export type { Outputs } from './kernels/util.js';

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
