// The runtime's kernels for TF1's resource TensorArray ops (ops/tensor_array.ts), over any backend's
// handles. TensorArrayV3 makes a TensorArrayResource, the value of its handle (a variant scalar in
// the plan; TF's DT_RESOURCE in GraphDefs): one per op per run, so nothing of a run outlives it or
// is seen by another. The other ops change or read it in the order their flow inputs give.
//
// The rules are TF's TensorArray kernels' (tensorflow/core/kernels/tensor_array.h): an index is
// written once (a gradient array adds further writes up instead); an index read with
// clear_after_read cannot be read again, nor can a read index be written; reading an index never
// written gives zeros when the element shape is fully known and is an error otherwise; a
// dynamic_size array grows on writes past its end until a gradient array is made from it; a closed
// array refuses everything. Values written are kept as lists keep their elements (runtime/slab.ts).
import type { DType } from '../src/core/dtypes.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { NDArray } from '../src/core/ndarray.js';
import { formatShape, type Shape } from '../src/core/shape.js';
import {
  TensorList,
  andThen,
  concatRows,
  drive,
  elementMemory,
  hostValue,
  kept,
  listElements,
  splitRows,
  node,
  registerRuntimeKernels,
  scalarNumber,
  stackItems,
  unstackInto,
  zerosOf,
  type RuntimeEnv,
  type RuntimeKernel,
} from './control_flow.js';
import type { Step } from './plan.js';

interface Entry<H> {
  /** The value; undefined when cleared, or when a gradient array knows only the shape (zeros). */
  value: H | undefined;
  shape: number[] | undefined;
  written: boolean;
  read: boolean;
  cleared: boolean;
}

const fresh = <H>(): Entry<H> => ({ value: undefined, shape: undefined, written: false, read: false, cleared: false });

/** One TensorArray of one run: TF's TensorArray resource. */
export class TensorArrayResource<H = unknown> {
  entries: Entry<H>[];
  closed = false;
  /** Set when a gradient array adds writes up: its own gradient would be wrong. */
  gradientsDisallowed = false;
  /** Gradient arrays made from this one, by gradients call (TensorArrayGradV3's source). */
  readonly grads = new Map<string, TensorArrayResource<H>>();

  constructor(
    readonly name: string,
    readonly dtype: DType,
    size: number,
    public elementShape: Shape,
    public dynamicSize: boolean,
    readonly clearAfterRead: boolean,
    readonly identicalShapes: boolean,
    /** A gradient array: writes to one index add up. */
    readonly aggregates: boolean,
  ) {
    this.entries = Array.from({ length: size }, fresh<H>);
  }

  get size(): number {
    return this.entries.length;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

type Maybe<T> = T | Promise<T>;

function arrayOf<H>(step: Step, v: unknown): TensorArrayResource<H> {
  if (!(v instanceof TensorArrayResource)) throw new InvalidArgumentError(`${step.what}: input 0 is not a TensorArray handle`, step.opName);
  const ta = v as TensorArrayResource<H>;
  if (ta.closed) throw new InvalidArgumentError(`${step.what}: TensorArray ${ta.name} has already been closed.`, step.opName);
  return ta;
}

function checkDType(step: Step, ta: TensorArrayResource, attr: 'dtype' | 'T'): void {
  const d = step.node.attrs[attr] as DType | undefined;
  if (d !== undefined && d !== ta.dtype) {
    throw new InvalidArgumentError(`${step.what}: TensorArray ${ta.name} holds ${ta.dtype}, but the op's ${attr} is ${d}`, step.opName);
  }
}

/** A fresh flow scalar (its value means nothing: it orders ops). */
function flow<H>(env: RuntimeEnv<H>): H {
  return env.backend.upload(NDArray.from(0, 'float32'));
}

const fullyDefined = (s: Shape): s is number[] => s !== null && s.every((d) => d !== null);

function compatible(s: Shape, shape: readonly number[]): boolean {
  return s === null || (s.length === shape.length && s.every((d, i) => d === null || d === shape[i]));
}

function merged(s: Shape, shape: readonly number[]): Shape {
  return s === null ? [...shape] : s.map((d, i) => d ?? shape[i]!);
}

const shapeAttr = (step: Step, name: string): Shape => (step.node.attrs[name] as Shape | undefined) ?? null;

/** Adds `b` into a fresh copy of `a` (a gradient array's repeated write). */
function added<H>(env: RuntimeEnv<H>, step: Step, a: H, b: H, dtype: DType): Maybe<H> {
  const shape = env.backend.shapeOf(a);
  const r = env.backend.execute(
    node({ name: `${step.node.name}/aggregate`, type: 'AddN', attrs: { N: 2, T: dtype }, outputs: [{ dtype, shape }], inputDTypes: [dtype, dtype], inputShapes: [shape, shape] }),
    [a, b],
    env.state,
    ...elementMemory(env, a),
  );
  return andThen(r, (x) => {
    listElements(env).add(x[0] as object);
    return x[0]!;
  });
}

/** TF's WriteOrAggregate of one value (already kept) at index i. */
function write<H>(env: RuntimeEnv<H>, step: Step, ta: TensorArrayResource<H>, i: number, value: H): Maybe<void> {
  const what = `${step.what}: TensorArray ${ta.name}`;
  if (!Number.isInteger(i) || i < 0 || (!ta.dynamicSize && i >= ta.size)) {
    throw new InvalidArgumentError(`${what}: Tried to write to index ${i} but array is not resizeable and size is: ${ta.size}`, step.opName);
  }
  while (ta.entries.length <= i) ta.entries.push(fresh<H>());
  const e = ta.entries[i]!;
  const shape = env.backend.shapeOf(value);
  const dtype = env.backend.dtypeOf(value);
  if (dtype !== ta.dtype) {
    throw new InvalidArgumentError(`${what}: Could not write to TensorArray index ${i} because the value dtype is ${dtype} but TensorArray dtype is ${ta.dtype}.`, step.opName);
  }
  if (!compatible(ta.elementShape, shape)) {
    throw new InvalidArgumentError(
      `${what}: Could not write to TensorArray index ${i} because the value shape is ${formatShape(shape)} which is incompatible with the TensorArray's element shape: ${formatShape(ta.elementShape)}.`,
      step.opName,
    );
  }
  if (ta.identicalShapes) ta.elementShape = merged(ta.elementShape, shape);
  if (e.read) throw new InvalidArgumentError(`${what}: Could not write to TensorArray index ${i} because it has already been read.`, step.opName);
  if (e.written && !ta.aggregates) {
    throw new InvalidArgumentError(`${what}: Could not write to TensorArray index ${i} because it has already been written to.`, step.opName);
  }
  if (!e.written) {
    Object.assign(e, { value, shape, written: true });
    return;
  }
  if (e.shape!.length !== shape.length || e.shape!.some((d, k) => d !== shape[k])) {
    throw new InvalidArgumentError(
      `${what}: Could not aggregate to TensorArray index ${i} because the existing shape is ${formatShape(e.shape!)} but the new input shape is ${formatShape(shape)}.`,
      step.opName,
    );
  }
  if (e.value === undefined) {
    e.value = value;
    return;
  }
  ta.gradientsDisallowed = true;
  return andThen(added(env, step, e.value, value, ta.dtype), (sum) => {
    e.value = sum;
  });
}

/** TF's Read of index i: the value, or zeros where only a shape is known. */
function read<H>(env: RuntimeEnv<H>, step: Step, ta: TensorArrayResource<H>, i: number): H {
  const what = `${step.what}: TensorArray ${ta.name}`;
  if (!Number.isInteger(i) || i < 0 || i >= ta.size) {
    throw new InvalidArgumentError(`${what}: Tried to read from index ${i} but array size is: ${ta.size}`, step.opName);
  }
  const e = ta.entries[i]!;
  if (!e.written) {
    if (!fullyDefined(ta.elementShape)) {
      throw new InvalidArgumentError(
        `${what}: Could not read from TensorArray index ${i} because it has not yet been written to, and the element shape ${formatShape(ta.elementShape)} is not fully defined (with a full element_shape, an unwritten index reads as zeros).`,
        step.opName,
      );
    }
    e.shape = [...ta.elementShape];
  }
  if (e.cleared) {
    throw new InvalidArgumentError(
      `${what}: Could not read index ${i} twice because it was cleared after a previous read (perhaps try setting clear_after_read = false?).`,
      step.opName,
    );
  }
  const v = e.value ?? zerosOf(env, ta.dtype, e.shape!);
  if (ta.clearAfterRead) {
    e.value = undefined;
    e.cleared = true;
  } else {
    e.value = v;
  }
  e.read = true;
  return v;
}

function indicesOf(a: NDArray): number[] {
  return Array.from(a.data as ArrayLike<number | bigint>, Number);
}

/** The elements at `picks`, packed along a new first axis into the step's planned output. */
function pack<H>(env: RuntimeEnv<H>, step: Step, ta: TensorArrayResource<H>, picks: readonly number[], given: Shape): Maybe<H> {
  const el = fullyDefined(given) ? given : ta.elementShape;
  if (picks.length === 0) {
    if (!fullyDefined(el)) {
      throw new InvalidArgumentError(
        `${step.what}: TensorArray ${ta.name} has size zero, but element shape ${formatShape(el)} is not fully defined. Currently only static shapes are supported when packing zero-size TensorArrays.`,
        step.opName,
      );
    }
    return zerosOf(env, ta.dtype, [0, ...el]);
  }
  const items = picks.map((i) => read(env, step, ta, i));
  const first = env.backend.shapeOf(items[0]!);
  if (!compatible(given, first)) {
    throw new InvalidArgumentError(`${step.what}: TensorArray ${ta.name} was passed element_shape ${formatShape(given)} which does not match the Tensor at index ${picks[0]}: ${formatShape(first)}`, step.opName);
  }
  items.forEach((h, k) => {
    const s = env.backend.shapeOf(h);
    if (s.length !== first.length || s.some((d, j) => d !== first[j])) {
      throw new InvalidArgumentError(
        `${step.what}: TensorArray ${ta.name} has inconsistent shapes.  Index ${picks[0]} has shape: ${formatShape(first)} but index ${picks[k]} has shape: ${formatShape(s)}`,
        step.opName,
      );
    }
  });
  // Every item is set, so stacking them as a list packs exactly these values.
  return stackItems(env, step, new TensorList(items, ta.dtype, first), items.map((_, k) => k), first);
}

/** Every element joined along its first axis (into the step's planned output), and each one's length. */
function concat<H>(env: RuntimeEnv<H>, step: Step, ta: TensorArrayResource<H>): Maybe<unknown[]> {
  const except0 = shapeAttr(step, 'element_shape_except0');
  if (ta.size === 0) {
    if (!fullyDefined(except0)) {
      throw new InvalidArgumentError(
        `${step.what}: TensorArray ${ta.name} has size zero, but element_shape_except0 ${formatShape(except0)} is not fully defined. Currently only static shapes are supported when concatenating zero-size TensorArrays.`,
        step.opName,
      );
    }
    return [zerosOf(env, ta.dtype, [0, ...except0]), env.backend.upload(NDArray.from(new BigInt64Array(0), 'int64', [0]))];
  }
  const items = ta.entries.map((_, i) => read(env, step, ta, i));
  const shapes = items.map((h) => env.backend.shapeOf(h));
  shapes.forEach((s, i) => {
    if (s.length === 0) throw new InvalidArgumentError(`${step.what}: Concat saw a scalar shape at index ${i} but requires at least vectors.`, step.opName);
    const rest = s.slice(1);
    const want = i === 0 ? except0 : shapes[0]!.slice(1);
    if (!compatible(want, rest)) {
      throw new InvalidArgumentError(
        `${step.what}: TensorArray ${ta.name} has inconsistent shapes: index ${i} has shape ${formatShape(s)}, whose dimensions after the first must be ${formatShape(want)}`,
        step.opName,
      );
    }
  });
  const lengths = env.backend.upload(NDArray.from(BigInt64Array.from(shapes, (s) => BigInt(s[0]!)), 'int64', [shapes.length]));
  return andThen(concatRows(env, step, items, shapes, ta.dtype), (x) => [x, lengths]);
}

/** Rows of `value` split by `sizes`, each in memory of its own (for an array to keep). */
function splitOwned<H>(env: RuntimeEnv<H>, step: Step, value: H, sizes: readonly number[], dtype: DType): Maybe<H[]> {
  const r = splitRows(env, step, value, sizes, dtype);
  const owned = listElements(env);
  return andThen(r, (parts) => {
    for (const p of parts) owned.add(p as object);
    return parts;
  });
}

/** Writes values[k] at indices[k], in order (TF's WriteOrAggregateMany). */
function writeMany<H>(env: RuntimeEnv<H>, step: Step, ta: TensorArrayResource<H>, indices: readonly number[], values: readonly H[]): Maybe<void> {
  return drive(
    (function* () {
      for (let k = 0; k < indices.length; k++) yield write(env, step, ta, indices[k]!, values[k]!);
    })(),
  );
}

// ---------------------------------------------------------------------------------------------
// Kernels

const attrs = (step: Step) => step.node.attrs;

const kernels: Record<string, RuntimeKernel> = {
  TensorArrayV3: (env, step, inputs) =>
    andThen(hostValue(env, inputs[0] as never), (size) => {
      const n = scalarNumber(size);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${step.what}: Size should be >= 0, got ${n}`, step.opName);
      const a = attrs(step);
      const name = (a.tensor_array_name as string | undefined) || step.opName;
      const ta = new TensorArrayResource(
        name,
        a.dtype as DType,
        n,
        shapeAttr(step, 'element_shape'),
        a.dynamic_size === true,
        a.clear_after_read !== false,
        a.identical_element_shapes === true,
        false,
      );
      return [ta, flow(env)];
    }),

  // The gradient array of the forward one for one gradients call: made on first use, as long as
  // the forward array is then, holding the shapes of its written elements (zeros until written).
  TensorArrayGradV3: (env, step, inputs) => {
    const ta = arrayOf(step, inputs[0]);
    const source = (attrs(step).source as string | undefined) ?? '';
    if (ta.gradientsDisallowed) {
      throw new InvalidArgumentError(
        `${step.what}: Unable to create a gradient TensorArray for ${ta.name}. Perhaps you used the multiple_writes_aggregate flag on a previous write? Gradient calculation is impossible when multiple writes are performed to the same index.`,
        step.opName,
      );
    }
    ta.dynamicSize = false;
    let g = ta.grads.get(source);
    if (!g) {
      g = new TensorArrayResource(`${ta.name}@${source}`, ta.dtype, ta.size, ta.elementShape, false, true, ta.identicalShapes, true);
      ta.entries.forEach((e, i) => {
        if (e.written) Object.assign(g!.entries[i]!, { shape: e.shape, written: true });
      });
      ta.grads.set(source, g);
    }
    return [g, flow(env)];
  },

  TensorArrayWriteV3: (env, step, inputs) => {
    const ta = arrayOf(step, inputs[0]);
    checkDType(step, ta, 'T');
    return drive(
      (function* () {
        const i = scalarNumber((yield hostValue(env, inputs[1] as never)) as NDArray);
        const v = yield kept(env, step, inputs[2], ta.dtype);
        yield write(env, step, ta, i, v as never);
        return [flow(env)];
      })(),
    );
  },

  TensorArrayReadV3: (env, step, inputs) => {
    const ta = arrayOf(step, inputs[0]);
    checkDType(step, ta, 'dtype');
    return andThen(hostValue(env, inputs[1] as never), (i) => [read(env, step, ta as TensorArrayResource<never>, scalarNumber(i))]);
  },

  TensorArrayGatherV3: (env, step, inputs) => {
    const ta = arrayOf(step, inputs[0]);
    checkDType(step, ta, 'dtype');
    return drive(
      (function* () {
        const idx = indicesOf((yield hostValue(env, inputs[1] as never)) as NDArray);
        return [yield pack(env, step, ta as TensorArrayResource<never>, idx, shapeAttr(step, 'element_shape'))];
      })(),
    );
  },

  TensorArrayScatterV3: (env, step, inputs) => {
    const ta = arrayOf(step, inputs[0]);
    checkDType(step, ta, 'T');
    return drive(
      (function* () {
        const idx = indicesOf((yield hostValue(env, inputs[1] as never)) as NDArray);
        const rows = env.backend.shapeOf(inputs[2] as never)[0];
        if (rows !== idx.length) {
          throw new InvalidArgumentError(`${step.what}: Expected len(indices) == values.shape[0], but saw: ${idx.length} vs. ${rows}`, step.opName);
        }
        const max = Math.max(-1, ...idx);
        if (!ta.dynamicSize && max >= ta.size) {
          throw new InvalidArgumentError(`${step.what}: Max index must be < array size (${max}  vs. ${ta.size})`, step.opName);
        }
        const parts = (yield unstackInto(env, step, inputs[2] as never, ta.dtype)) as never[];
        yield writeMany(env, step, ta as TensorArrayResource<never>, idx, parts);
        return [flow(env)];
      })(),
    );
  },

  TensorArrayConcatV3: (env, step, inputs) => {
    const ta = arrayOf(step, inputs[0]);
    checkDType(step, ta, 'dtype');
    return concat(env, step, ta as TensorArrayResource<never>);
  },

  TensorArraySplitV3: (env, step, inputs) => {
    const ta = arrayOf(step, inputs[0]);
    checkDType(step, ta, 'T');
    return drive(
      (function* () {
        const sizes = indicesOf((yield hostValue(env, inputs[2] as never)) as NDArray);
        const shape = env.backend.shapeOf(inputs[1] as never);
        if (shape.length === 0) throw new InvalidArgumentError(`${step.what}: Expected value to be at least a vector, but received shape: []`, step.opName);
        const sum = sizes.reduce((a, b) => a + b, 0);
        if (sizes.some((n) => n < 0) || sum !== shape[0]) {
          throw new InvalidArgumentError(
            `${step.what}: Expected sum of lengths to be equal to values.shape[0], but sum of lengths is ${sum} and value's shape is: ${formatShape(shape)}`,
            step.opName,
          );
        }
        if (!ta.dynamicSize && sizes.length !== ta.size) {
          throw new InvalidArgumentError(
            `${step.what}: TensorArray's size is not equal to the size of lengths (${ta.size} vs. ${sizes.length}), and the TensorArray is not marked as dynamically resizeable`,
            step.opName,
          );
        }
        const parts = sizes.length ? ((yield splitOwned(env, step, inputs[1] as never, sizes, ta.dtype)) as never[]) : [];
        yield writeMany(
          env,
          step,
          ta as TensorArrayResource<never>,
          sizes.map((_, k) => k),
          parts,
        );
        return [flow(env)];
      })(),
    );
  },

  TensorArraySizeV3: (env, step, inputs) => [env.backend.upload(NDArray.from(arrayOf(step, inputs[0]).size, 'int32'))],

  TensorArrayCloseV3: (_env, step, inputs) => {
    const ta = arrayOf(step, inputs[0]);
    ta.entries = [];
    ta.closed = true;
    return [];
  },
};

// Gather and concat write their result where the plan put it; the others hand out values the array
// holds or small scalars of their own.
registerRuntimeKernels(kernels, ['TensorArrayGatherV3', 'TensorArrayConcatV3']);
