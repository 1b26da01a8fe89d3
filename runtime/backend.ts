import type { DType } from '../src/core/dtypes.js';
import type { NDArray } from '../src/core/ndarray.js';
import type { AttrValue } from '../src/graph.js';
import type { Shape } from '../src/core/shape.js';

/** What a fused elementwise node computes; set by the fusion pass, compiled by the backend. */
export interface ElementwiseProgram {
  /** Shape every member computes; inputs broadcast to it. */
  readonly shape: readonly number[];
  /**
   * Operands read from outside: `arg` is the fused node's input index, `shape` its shape aligned to
   * `shape`'s rank (1 on broadcast dims). One value may appear twice with different alignments.
   */
  readonly inputs: readonly { readonly arg: number; readonly shape: readonly number[]; readonly dtype: DType }[];
  /** One entry per member op, in evaluation order. */
  readonly ops: readonly {
    readonly type: string;
    readonly attrs: Readonly<Record<string, AttrValue>>;
    readonly dtype: DType;
    /** Operands: program input i is {input: i}, an earlier member's result is {op: j}. */
    readonly args: readonly ({ readonly input: number } | { readonly op: number })[];
    /** Name of the graph op it came from. */
    readonly name: string;
  }[];
  /** Member op whose result is output i of the fused node. */
  readonly outputs: readonly number[];
}

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
  /** For _FusedElementwise nodes: what the generated kernel computes. */
  readonly program?: ElementwiseProgram;
}

/**
 * Where a step sits in its plan, for backends that keep per-plan resources (GPU buffers created
 * once per plan and reused on every run).
 */
export interface StepContext {
  /** Identifies the plan (stable across runs of the same plan). */
  readonly plan: object;
  readonly step: number;
  /**
   * Per output: the memory-plan region its value lives in (an index into `regions`), or undefined
   * when the plan leaves it to the kernel.
   */
  readonly regions: readonly (number | undefined)[];
  /** Byte size of each region of the plan's memory plan. */
  readonly regionBytes: readonly number[];
}

/**
 * The memory a compiled plan set aside for one call of a step's kernel (the CPU's arena): the
 * kernel asks for each output by dtype and shape; undefined means "allocate it yourself". Valid for
 * the synchronous part of that one call only. The answer is zero-filled, unless the kernel says it
 * writes every element before reading any (`overwritten`): then its contents are undefined.
 */
export type PlannedOutputs = (dtype: DType, shape: readonly number[], overwritten?: boolean) => NDArray | undefined;

/** A range of host memory: views over `buffer` from `byteOffset` to `byteOffset + byteLength`. */
export interface HostBuffer {
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly byteLength: number;
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
  /**
   * Runs one op's kernel. Must not mutate its inputs except the variables named by refVars. A
   * backend that sometimes has to wait (a GPU value read back for a host-only op) returns a promise.
   */
  execute(node: KernelNode, inputs: H[], state: RuntimeState<H>, ctx?: StepContext, planned?: PlannedOutputs): H[] | Promise<H[]>;
  /** Settles before the first run (a GPU backend acquires its device). */
  ready?(): Promise<void>;
  /** Called after each run's last kernel with the fetched values: a GPU backend submits what it recorded. */
  endRun?(fetched: readonly H[]): Promise<void>;
  /** Called when a run fails: a GPU backend drops what it recorded. */
  abortRun?(): void;
  /**
   * Whether elementwise fusion may generate a kernel for this node (undefined: no fusion), and
   * whether a fused kernel may write its output over an input (the CPU's in-place arena reuse).
   */
  canFuse?(n: { type: string; attrs: Readonly<Record<string, unknown>>; inputs: readonly ({ dtype: DType } | null)[]; outputs: readonly { dtype: DType }[] }): boolean;
  readonly fuseInPlace?: boolean;
  /**
   * A value a kernel allocates outside the plan's memory is its own and is never written again (the
   * CPU's fresh arrays; not WebGPU's per-step buffers, which the next run reuses): a tensor list
   * may keep it without a copy.
   */
  readonly freshOutputsOwned?: boolean;
  /**
   * The backend records one run at a time (WebGPU: one command encoder, plan buffers reused by the
   * next run): sessions queue runs instead of overlapping them.
   */
  readonly exclusiveRuns?: boolean;
  /** Most buffers a fused kernel may read and write (a GPU's binding limit). */
  readonly maxFusedOperands?: number;
  /**
   * Host memory the backend's kernels work in place (the CPU's WebAssembly memory) for the runtime's
   * own buffers (a plan's arena, the slab's chunks): `bytes` zeroed bytes, given back by
   * freeHostBuffer or once `owner` is garbage collected. Null (or no hook): the caller uses an
   * ordinary ArrayBuffer. Views over the answer stay valid until it is given back.
   */
  allocHostBuffer?(bytes: number, owner: object): HostBuffer | null;
  /** Gives back what allocHostBuffer answered (nothing may use its views again); twice is harmless. */
  freeHostBuffer?(buffer: HostBuffer): void;
  /** Byte address of a view's first element in that host memory, or -1 when the view is elsewhere. */
  hostAddress?(view: ArrayBufferView): number;
  /** Gives back the backend memory a variable's value holds now (a closed session's; nothing may use it again). */
  freeValue?(handle: H): void;
  upload(value: NDArray): H;
  download(handle: H): Promise<NDArray>;
  /** A copy of the value at once, where the backend can give one without waiting (the CPU). */
  read?(handle: H): NDArray;
  /** The value itself, to read on the host now (no copy; the CPU): a loop's predicate, a list index. */
  peek?(handle: H): NDArray;
  shapeOf(handle: H): number[];
  dtypeOf(handle: H): DType;
  dispose(): void;
}
