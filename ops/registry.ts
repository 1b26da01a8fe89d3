import { isInteger, type DType } from '../src/core/dtypes.js';
import { NDArray } from '../src/core/ndarray.js';
import type { Dim, Shape } from '../src/core/shape.js';
import type { Operation, Tensor } from '../src/graph.js';
import type { IndexedSlices } from '../src/api/indexed_slices.js';
import { numbersOf } from './semantics/array.js';

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

/**
 * A value as shape functions see it: its static type and, where it is known before anything runs,
 * its value. A graph's Tensors are abstract values, and so are the compiler's plain `{...}` values
 * for a plan's tensors (passes/shapes.ts), so shape functions never reach a graph.
 */
export interface AbstractValue {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly rank: number | null;
  /** The whole value when it is known while building (TF's constant_value): a constant, or what constants and static shapes determine. */
  readonly knownValue: NDArray | undefined;
  /**
   * The elements of a rank-0 or rank-1 integer value as far as they are known while building (TF's
   * partial shape tensors: tf.shape(x) of an x with an unknown batch is [null, 28, 28, 1]), null
   * where unknown; undefined when none are.
   */
  readonly knownElements: readonly Dim[] | undefined;
}

/** What an op's `known` gives for one of its outputs: its whole value, or its elements as far as known. */
export interface Known {
  value?: NDArray;
  elements?: readonly Dim[];
}

export interface ShapeContext {
  readonly opType: string;
  readonly opName: string;
  readonly inputs: readonly AbstractValue[];
  attr<T = unknown>(name: string): T;
  /** The value of input i when it is known while building the graph (`inputs[i].knownValue`), else undefined. */
  constValue(i: number): NDArray | undefined;
  /** Throws an InvalidArgumentError naming this op. */
  fail(message: string): never;
}

/**
 * Gradient function: given the op and the gradients of its outputs, builds the gradients of its
 * inputs. An input's gradient may be IndexedSlices when it touches only some rows (GatherV2's params).
 */
export type GradFn = (op: Operation, grads: (Tensor | null)[]) => (Tensor | IndexedSlices | null)[];

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
  /**
   * Its kernels take complex64 inputs. Without it, a complex64 input is refused while the graph is
   * built (ops whose kernels move elements by index would otherwise mix up the (re, im) pairs);
   * ops that read only their input's shape (`valueOfShape`) need no flag.
   */
  complex?: boolean;
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
  /**
   * What is known of output `output` before running, from what is known of the inputs (their
   * `knownValue` / `knownElements`, shapes and attrs): TF's constant_value and partial shape
   * evaluation, one rule per op. Ops without it are known only through `valueOfShape` of a fully
   * defined shape, or, when they forward input 0, as input 0 is.
   */
  known?: (ctx: ShapeContext, output: number) => Known | undefined;
  /** A variable: ops' reference inputs (refInputs) must come from an op with this flag. */
  variable?: boolean;
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
      if (!def.complex && !def.valueOfShape) {
        const i = ctx.inputs.findIndex((t) => t.dtype === 'complex64');
        if (i >= 0) ctx.fail(`input ${i} (${ctx.inputs[i]!.name}) is complex64, which this op does not support in weir`);
      }
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

const NOTHING_KNOWN: { value: undefined; elements: undefined } = { value: undefined, elements: undefined };

/**
 * What is known of output `output` (of type `spec`) of the op `ctx` describes, by its OpDef's rules
 * (`known`, `valueOfShape`, `forwardsInput`). A known whole value of a rank-0/1 integer tensor also
 * gives its elements, and fully known elements give the whole value.
 */
export function knownOutput(ctx: ShapeContext, output: number, spec: OutputSpec): { value: NDArray | undefined; elements: readonly Dim[] | undefined } {
  const def = registry.get(ctx.opType);
  if (!def) return NOTHING_KNOWN;
  let k: Known | undefined;
  if (def.known) k = def.known(ctx, output);
  else if (output === 0 && def.valueOfShape) {
    const s = ctx.inputs[0]?.shape;
    if (s && s.every((d) => d !== null)) {
      const v = def.valueOfShape(s as number[]);
      k = { value: NDArray.from(v.value, spec.dtype, v.shape) };
    }
  } else if (output === 0 && def.forwardsInput && ctx.inputs[0]) {
    k = { value: ctx.inputs[0].knownValue, elements: ctx.inputs[0].knownElements };
  }
  if (!k || (k.value === undefined && k.elements === undefined)) return NOTHING_KNOWN;
  const small = spec.shape !== null && spec.shape.length <= 1 && isInteger(spec.dtype);
  let { value, elements } = k;
  if (value && elements === undefined && small && value.rank <= 1) elements = numbersOf(value);
  if (!value && elements && small && elements.every((d) => d !== null)) {
    value = NDArray.from(elements as number[], spec.dtype, spec.shape!.length === 0 ? [] : [elements.length]);
  }
  return { value, elements: small ? elements : undefined };
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
