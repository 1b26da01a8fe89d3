import type { DType } from '../../src/core/dtypes.js';
import type { NDArray } from '../../src/core/ndarray.js';
import type { KernelNode, RuntimeState } from '../backend.js';
import type { GpuTensor } from './tensor.js';
import type { Program } from './wgsl.js';

/** What a WebGPU kernel can do while it records its work. */
export interface KernelCtx {
  readonly node: KernelNode;
  readonly state: RuntimeState<GpuTensor>;
  /** Output k (the plan's buffer for it, reused every run). Call once per output. */
  output(k: number, dtype: DType, shape: readonly number[]): GpuTensor;
  /** A buffer for intermediate results, private to this step and reused every run (`tag` tells several apart). */
  scratch(dtype: DType, shape: readonly number[], tag?: string): GpuTensor;
  /**
   * Records one compute dispatch. Bindings: `inputs` read-only at 0..n-1 (in0..), then `outputs`
   * read-write (out0..), as wgsl.bindings() declares them.
   */
  dispatch(p: Program, inputs: readonly GpuTensor[], outputs: readonly GpuTensor[]): void;
  /** Records a copy of src's elements into dst (same dtype, dst at least as large). */
  copy(src: GpuTensor, dst: GpuTensor): void;
  /** The same value with another shape (same element count): no copy. */
  view(t: GpuTensor, shape: readonly number[]): GpuTensor;
  /** A value computed on the host (uploaded when a kernel first reads it). */
  fromHost(a: NDArray): GpuTensor;
  /**
   * Runs this node on the backend's host backend on the inputs' host copies (every input must be
   * on the host: list them in hostInputs), with the session's op state; outputs stay on the host.
   */
  runOnHost(): GpuTensor[] | Promise<GpuTensor[]>;
  /** Host value of input i; only for inputs listed in the kernel's `hostInputs`. */
  host(i: number): NDArray;
  /** The variable behind reference input i (FailedPreconditionError when uninitialized). */
  ref(i: number): GpuTensor;
  /** Replaces variable `name`'s value. */
  setVariable(name: string, t: GpuTensor): void;
  /** A Const node's value: made once per node, uploaded on first use, reused by every run. */
  constant(): GpuTensor;
  /**
   * An error flag for data-dependent checks (an index out of range): an int32 [1] tensor, zero at
   * the start of the run, that the kernel binds as an output and sets non-zero on error. The run
   * then fails with an InvalidArgumentError carrying `message` and naming the op.
   */
  check(message: string): GpuTensor;
  /** A buffer of its own (not planned), for values that outlive the run: variables. */
  owned(dtype: DType, shape: readonly number[]): GpuTensor;
}

/** Records the op's work; a kernel that runs on the host backend may have to wait for it. */
export type GpuKernel = (ctx: KernelCtx, inputs: GpuTensor[]) => GpuTensor[] | Promise<GpuTensor[]>;

export interface GpuKernelDef {
  kernel: GpuKernel;
  /** Inputs whose value the kernel reads at record time (axes, shapes): read back when only on the GPU. Negative: from the end. */
  hostInputs?: readonly number[];
}

const kernels = new Map<string, GpuKernelDef>();

export function registerGpuKernel(type: string, kernel: GpuKernel, opts: { hostInputs?: readonly number[] } = {}): void {
  if (kernels.has(type)) throw new Error(`WebGPU kernel for ${type} registered twice`);
  kernels.set(type, { kernel, hostInputs: opts.hostInputs });
}

export function getGpuKernel(type: string): GpuKernelDef | undefined {
  return kernels.get(type);
}

export function listGpuKernels(): string[] {
  return [...kernels.keys()];
}
