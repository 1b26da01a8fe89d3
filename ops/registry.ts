import type { DType } from '../src/dtypes.js';
import type { NDArray } from '../src/ndarray.js';
import type { Shape } from '../src/shape.js';
import type { Operation, Tensor } from '../src/graph.js';

/** TensorFlow AttrValue kinds, as named in OpDef (used for GraphDef export). */
export type AttrType =
  | 'type'
  | 'int'
  | 'float'
  | 'bool'
  | 'string'
  | 'shape'
  | 'tensor'
  | 'func'
  | 'list(int)'
  | 'list(float)'
  | 'list(type)'
  | 'list(shape)'
  | 'list(string)';

export interface OutputSpec {
  dtype: DType;
  shape: Shape;
}

export interface ShapeContext {
  readonly opType: string;
  readonly opName: string;
  readonly inputs: readonly Tensor[];
  attr<T = unknown>(name: string): T;
  /** The value of input i when it is known while building the graph (a constant), else undefined. */
  constValue(i: number): NDArray | undefined;
  /** Throws an InvalidArgumentError naming this op. */
  fail(message: string): never;
}

/** Gradient function: given the op and the gradients of its outputs, builds the gradients of its inputs. */
export type GradFn = (op: Operation, grads: (Tensor | null)[]) => (Tensor | null)[];

export interface OpDef {
  /** TensorFlow op name, e.g. 'MatMul'. */
  type: string;
  /** Attr names and kinds, TensorFlow's. */
  attrs?: Record<string, AttrType>;
  /** Inputs that take a variable by reference rather than its value (Assign's `ref`). */
  refInputs?: readonly number[];
  /** Has side effects or produces different values on each run: never folded, deduplicated or pruned away as dead when a target. */
  stateful?: boolean;
  /** Elementwise op whose output has the broadcast shape of its inputs (fusion candidates). */
  elementwise?: boolean;
  shape(ctx: ShapeContext): OutputSpec[];
  /** Gradient; undefined means "not differentiable" (gradients through it are an error); null means no gradient (e.g. integer-valued ops). */
  grad?: GradFn | null;
}

const registry = new Map<string, OpDef>();

export function registerOp(def: OpDef): OpDef {
  if (registry.has(def.type)) throw new Error(`op ${def.type} registered twice`);
  registry.set(def.type, def);
  return def;
}

export function getOpDef(type: string): OpDef | undefined {
  return registry.get(type);
}

export function listOps(): OpDef[] {
  return [...registry.values()];
}
