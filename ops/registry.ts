import type { DType } from '../src/core/dtypes.js';
import type { NDArray } from '../src/core/ndarray.js';
import type { Shape } from '../src/core/shape.js';
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
  /**
   * Input names, TensorFlow's, in order. A name ending in '*' stands for one or more inputs (AddN's
   * `inputs`, ConcatV2's `values`), one ending in '[]' for zero or more (If's `input`). The number of inputs is checked against them wherever an op is
   * made (registerOp wraps the shape function), so shape functions need not check it.
   */
  inputs: readonly string[];
  /** Attr names and kinds, TensorFlow's. */
  attrs?: Record<string, AttrType>;
  /** Inputs that take a variable by reference rather than its value (Assign's `ref`). */
  refInputs?: readonly number[];
  /**
   * Has side effects or produces different values on each run (random draws): never folded,
   * deduplicated, fused or pruned away as dead when a target.
   */
  stateful?: boolean;
  /** Elementwise op whose output has the broadcast shape of its inputs (fusion candidates). */
  elementwise?: boolean;
  /** Output 0 is input 0 itself: same elements, shape and dtype, and the same memory (Identity). */
  forwardsInput?: boolean;
  /** Only changes how input 0's elements are indexed: a view of its memory once its shape is static. */
  reshapes?: boolean;
  /** The identity when its output has input 0's (static) shape: a reduction over no axes, a Tile by ones. */
  identityWhenSameShape?: boolean;
  /** Its two inputs can be swapped. */
  commutative?: boolean;
  /** x op c is x when c is all zeros (0: x + 0) or all ones (1: x * 1); for a commutative op, c op x too. */
  rightIdentity?: 0 | 1;
  /** Its own inverse: f(f(x)) = x. */
  involution?: boolean;
  /** An activation a _FusedMatMul / _FusedConv2D can apply after its bias. */
  fusableActivation?: boolean;
  /** Its output lives outside the plan's memory: a constant's value, a variable's storage. */
  externalOutput?: boolean;
  /**
   * Attrs holding function bodies (FuncGraphs) the op runs: If's branches, While's cond and body.
   * The compiler plans each once; the runtime runs them (runtime/control_flow.ts).
   */
  functions?: readonly string[];
  /**
   * A tensor list op that keeps input `storesInput` as an element (TensorListPushBack's tensor): the
   * compiler may have the plan make that value in memory of its own, for the list to keep uncopied.
   */
  storesInput?: number;
  /** Its value depends only on input 0's shape, never on its elements (Shape, Size, Rank). */
  valueOfShape?: (shape: readonly number[]) => { value: number[]; shape: number[] };
  shape(ctx: ShapeContext): OutputSpec[];
  /** Gradient; undefined means "not differentiable" (gradients through it are an error); null means no gradient (e.g. integer-valued ops). */
  grad?: GradFn | null;
}

/**
 * Ops the compiler introduces (never in a user's graph, no shape function: passes give their
 * outputs). Their properties, declared as OpDef's.
 */
export type InternalOpDef = Pick<OpDef, 'type' | 'inputs' | 'externalOutput'> & {
  /** Output 0 shares input 0's memory under another static shape. */
  view?: boolean;
  /** The backend may compute it into the memory of an input it is the last reader of. */
  inPlace?: boolean;
};

/** A fed tensor: its value comes from the caller, no kernel produces it. */
export const ARG = '_Arg';
export const VIEW = '_View';
export const FUSED_ELEMENTWISE = '_FusedElementwise';
export const FUSED_MATMUL = '_FusedMatMul';
export const FUSED_CONV2D = '_FusedConv2D';
/** Copies each input into memory of its own (the runtime's, when a value leaves a loop body's arena). */
export const COPY = '_Copy';

const INTERNAL_OPS: readonly InternalOpDef[] = [
  { type: ARG, inputs: [], externalOutput: true },
  { type: VIEW, inputs: ['input'], view: true },
  { type: FUSED_ELEMENTWISE, inputs: ['args*'], inPlace: true },
  { type: FUSED_MATMUL, inputs: ['a', 'b', 'bias'] },
  { type: FUSED_CONV2D, inputs: ['input', 'filter', 'bias'] },
  { type: COPY, inputs: ['inputs*'] },
];

const registry = new Map<string, OpDef>();
const internal = new Map(INTERNAL_OPS.map((d) => [d.type, d]));

/** Checks the number of inputs against `inputs`; throws (through ctx.fail) naming the op. */
function checkArity(names: readonly string[], ctx: ShapeContext): void {
  const n = ctx.inputs.length;
  const variadic = names.find((x) => isVariadic(x));
  if (variadic === undefined) {
    if (n !== names.length) ctx.fail(`expected ${names.length} input${names.length === 1 ? '' : 's'} (${names.join(', ')}), got ${n}`);
    return;
  }
  const least = variadic.endsWith('[]') ? names.length - 1 : names.length;
  if (n < least) ctx.fail(`expected at least ${least} inputs (${names.join(', ').replace(/\*|\[\]/, '...')}), got ${n}`);
}

const isVariadic = (name: string): boolean => name.endsWith('*') || name.endsWith('[]');

export function registerOp(def: OpDef): OpDef {
  if (registry.has(def.type) || internal.has(def.type)) throw new Error(`op ${def.type} registered twice`);
  if (def.inputs.filter(isVariadic).length > 1) throw new Error(`op ${def.type}: at most one variadic input`);
  const shape = def.shape;
  const checked: OpDef = {
    ...def,
    shape: (ctx) => {
      checkArity(def.inputs, ctx);
      return shape(ctx);
    },
  };
  registry.set(def.type, checked);
  return checked;
}

export function getOpDef(type: string): OpDef | undefined {
  return registry.get(type);
}

export function getInternalOpDef(type: string): InternalOpDef | undefined {
  return internal.get(type);
}

export function listOps(): OpDef[] {
  return [...registry.values()];
}

export function listInternalOps(): readonly InternalOpDef[] {
  return INTERNAL_OPS;
}

/** Whether the op's output 0 is input 0's memory (runtime/plan.ts plans no buffer for it). */
export function isAliasOp(type: string): boolean {
  const i = internal.get(type);
  return i ? !!i.view : !!registry.get(type)?.forwardsInput;
}

/** Whether the op's outputs live outside the plan's memory (constants, variables, fed values). */
export function hasExternalOutput(type: string): boolean {
  return !!(registry.get(type) ?? internal.get(type))?.externalOutput;
}

/** Whether the backend may compute the op into the memory of an input. */
export function isInPlaceOp(type: string): boolean {
  return !!internal.get(type)?.inPlace;
}
