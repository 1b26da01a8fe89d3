import type { DType } from '../src/dtypes.js';
import type { NDArray } from '../src/ndarray.js';
import type { AttrValue } from '../src/graph.js';
import type { Shape } from '../src/shape.js';

/** What a kernel sees of its op: a plain, compiled description, not the graph node. */
export interface KernelNode {
  readonly name: string;
  readonly type: string;
  readonly attrs: Readonly<Record<string, AttrValue>>;
  /** Static output specs from shape inference. */
  readonly outputs: readonly { dtype: DType; shape: Shape }[];
  /** Input dtypes and static shapes. */
  readonly inputDTypes: readonly DType[];
  readonly inputShapes: readonly Shape[];
  /** For each input: the variable it refers to, when it is a reference input (Assign's `ref`). */
  readonly refVars: readonly (string | undefined)[];
  /** Variable name for VariableV2 nodes. */
  readonly varName?: string;
}

/** Per-session state the kernels of stateful ops use. */
export interface RuntimeState<H> {
  /** Variable values by VariableV2 op name. */
  readonly variables: Map<string, H>;
  /** Per-op persistent state (random generator positions, ...), keyed by op name. */
  readonly opState: Map<string, unknown>;
  /**
   * A random 32-bit value drawn once per session. Random ops without a seed derive their generator
   * from it and their name, so they differ between sessions yet replay on a snapshot of the state.
   */
  readonly entropy?: number;
}

/**
 * A backend executes compiled steps on its own handles (H): NDArray on the CPU, GPU buffers on
 * WebGPU. Sessions talk to backends only through this interface.
 */
export interface Backend<H = unknown> {
  readonly name: string;
  hasKernel(opType: string): boolean;
  /** Runs one op's kernel. Must not mutate its inputs except the variables named by refVars. */
  execute(node: KernelNode, inputs: H[], state: RuntimeState<H>): H[];
  upload(value: NDArray): H;
  download(handle: H): Promise<NDArray>;
  shapeOf(handle: H): number[];
  dtypeOf(handle: H): DType;
  dispose(): void;
}
