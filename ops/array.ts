// Array op definitions: creation, shape manipulation, slicing, gathering, padding.
import { graphOf } from '../src/convert.js';
import type { DType } from '../src/core/dtypes.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import type { Operation, Tensor } from '../src/graph.js';
import { NDArray } from '../src/core/ndarray.js';
import { formatShape, isFullyDefined, mergeShapes, type Dim, type Shape } from '../src/core/shape.js';
import * as A from '../src/api/array.js';
import { constant } from '../src/api/core.js';
import { IndexedSlices } from '../src/api/indexed_slices.js';
import { floorMod, greaterEqual, logicalAnd, maximum, reduceSum, subtract, where } from '../src/api/math.js';
import { registerOp, type AbstractValue, type GradFn, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, checkScalar, optAttr } from './util.js';
import { invertPerm, masksOf, numbersOf, rangeSize, stridedSliceSpec, type StridedSliceSpec } from './semantics/array.js';

const INDEX: readonly DType[] = ['int32', 'int64'];
const NUMBERS: readonly DType[] = ['float32', 'int32', 'int64'];

function constVector(t: AbstractValue): number[] | undefined {
  const c = t.knownValue;
  return c && c.rank <= 1 ? numbersOf(c) : undefined;
}

function constScalar(t: AbstractValue): number | undefined {
  const c = t.knownValue;
  return c && c.size === 1 ? numbersOf(c)[0] : undefined;
}

function product(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function rangeArr(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

// ---- tensors as shapes (TF's ConstantPartialShape) ----
// What each op contributes is its OpDef's `known` rule (Shape, Rank, Pack, ConcatV2, StridedSlice,
// Cast here and in math.ts; Const, Identity and the ops with valueOfShape generically).

/**
 * The elements of a rank-1 int value as far as they are known while building the graph: a number
 * per element (null where unknown), or null when even the length is unknown.
 */
export function partialVector(t: AbstractValue): Dim[] | null {
  if (t.rank === 1 && t.knownElements) return [...t.knownElements];
  const s = t.shape;
  if (s !== null && s.length === 1 && s[0] !== null) return new Array<Dim>(s[0]!).fill(null);
  return null;
}

/** The value of a scalar int value when it is known while building the graph. */
export function partialScalar(t: AbstractValue): Dim {
  return t.rank === 0 ? (t.knownElements?.[0] ?? null) : null;
}

/** Elements picked by a StridedSlice of a partially known vector (e.g. tf.shape(x)[1:]), or undefined. */
function sliceOfVector(ctx: ShapeContext): { values: Dim[]; scalar: boolean } | undefined {
  const [x, b, e, st] = ctx.inputs as [AbstractValue, AbstractValue, AbstractValue, AbstractValue];
  const vec = x.rank === 1 ? partialVector(x) : null;
  if (vec === null) return undefined;
  const begin = constVector(b);
  const end = constVector(e);
  const strides = constVector(st);
  if (!begin || !end || !strides) return undefined;
  let spec: StridedSliceSpec;
  try {
    spec = stridedSliceSpec([vec.length], begin, end, strides, ctxMasks(ctx));
  } catch {
    return undefined;
  }
  if (spec.finalShape.length > 1) return undefined;
  const n = spec.processingShape[0] as number;
  const values = Array.from({ length: n }, (_, k) => vec[spec.begin[0]! + k * spec.strides[0]!] ?? null);
  return { values, scalar: spec.finalShape.length === 0 };
}

/** partialVector for a shape argument: checks it is a vector of an index type and has no negative entries. */
function shapeArg(ctx: ShapeContext, i: number, what: string, allowMinusOne = false): Dim[] | null {
  const t = ctx.inputs[i]!;
  checkDType(ctx, i, INDEX, what);
  if (t.rank !== null && t.rank !== 1) ctx.fail(`${what} (${t.name}) must be a vector, got shape ${formatShape(t.shape)}`);
  const v = partialVector(t);
  if (v) {
    for (const d of v) {
      if (d !== null && (!Number.isInteger(d) || d < (allowMinusOne ? -1 : 0))) {
        ctx.fail(`${what} must have ${allowMinusOne ? 'sizes >= -1' : 'non-negative sizes'}, got [${v.map((x) => x ?? '?').join(',')}]`);
      }
    }
  }
  return v;
}



function normAxisCtx(ctx: ShapeContext, axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    ctx.fail(`${what} ${axis} is out of range for a tensor of rank ${rank} (expected [${-rank}, ${rank}))`);
  }
  return axis < 0 ? axis + rank : axis;
}

function mergeOrFail(ctx: ShapeContext, a: Shape, b: Shape, what: string): Shape {
  try {
    return mergeShapes(a, b);
  } catch {
    return ctx.fail(`${what}: shapes ${formatShape(a)} and ${formatShape(b)} are incompatible`);
  }
}

function mulDim(a: Dim, b: Dim): Dim {
  if (a === 0 || b === 0) return 0;
  return a === null || b === null ? null : a * b;
}


// ---- creation ----

registerOp({
  type: 'Fill',
  inputs: ['dims', 'value'],
  attrs: { T: 'type', index_type: 'type' },
  shape: (ctx) => {
    const dims = shapeArg(ctx, 0, 'dims');
    checkScalar(ctx, 1, 'value');
    return [{ dtype: ctx.inputs[1]!.dtype, shape: dims }];
  },
  grad: (_op, [g]) => [null, reduceSum(g!)],
});

for (const type of ['ZerosLike', 'OnesLike']) {
  registerOp({
    type,
    // OnesLike's kernel would fill both halves of a (re, im) pair with 1.
    complex: type === 'ZerosLike',
    inputs: ['x'],
    attrs: { T: 'type' },
    shape: (ctx) => {
      if (type === 'OnesLike' && ctx.inputs[0]!.dtype === 'string') ctx.fail('OnesLike is not defined for string tensors');
      return [{ dtype: ctx.inputs[0]!.dtype, shape: ctx.inputs[0]!.shape }];
    },
    // The output does not depend on x's values.
    grad: null,
  });
}

registerOp({
  type: 'Range',
  inputs: ['start', 'limit', 'delta'],
  attrs: { Tidx: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, NUMBERS, 'start');
    ['start', 'limit', 'delta'].forEach((what, i) => {
      checkScalar(ctx, i, what);
      if (ctx.inputs[i]!.dtype !== dt) ctx.fail(`${what} is ${ctx.inputs[i]!.dtype}, expected ${dt} like start`);
    });
    const [s, l, d] = [0, 1, 2].map((i) => constScalar(ctx.inputs[i]!));
    if (s === undefined || l === undefined || d === undefined) return [{ dtype: dt, shape: [null] }];
    const n = rangeSize(s, l, d, dt !== 'float32');
    if (typeof n === 'string') return ctx.fail(n);
    return [{ dtype: dt, shape: [n] }];
  },
  grad: null,
});

// ---- shape manipulation ----

/** Output shape of Reshape from the input's static shape and the (partial) target; throws via fail. */
function reshapeShape(ctx: ShapeContext, input: Shape, target: Dim[] | null): Shape {
  if (target === null) return null;
  const minusOnes = target.filter((d) => d === -1).length;
  if (minusOnes > 1) ctx.fail(`can only specify one unknown dimension (-1) in shape [${target.join(',')}]`);
  const known = target.filter((d): d is number => d !== null && d !== -1);
  const knownProduct = product(known);
  const unknown = target.length - known.length;
  const inElems = isFullyDefined(input) ? product(input) : null;
  const fmt = `[${target.map((d) => (d === null ? '?' : d)).join(',')}]`;
  if (unknown === 0) {
    if (inElems !== null && inElems !== knownProduct) {
      ctx.fail(`Cannot reshape a tensor with ${inElems} elements to shape ${fmt} (${knownProduct} elements)`);
    }
    return target;
  }
  if (inElems !== null && knownProduct > 0 && inElems % knownProduct !== 0) {
    ctx.fail(`Cannot reshape a tensor with ${inElems} elements to shape ${fmt}: ${inElems} is not a multiple of ${knownProduct}`);
  }
  if (inElems !== null && knownProduct === 0 && inElems !== 0) {
    ctx.fail(`Cannot reshape a tensor with ${inElems} elements to shape ${fmt} (0 elements)`);
  }
  const inferred = unknown === 1 && inElems !== null && knownProduct > 0 ? inElems / knownProduct : null;
  return target.map((d) => (d === null || d === -1 ? inferred : d));
}

const reshapeLikeInput: GradFn = (op, [g]) => [A.reshape(g!, A.shape(op.inputs[0]!)), ...op.inputs.slice(1).map(() => null)];

registerOp({
  type: 'Reshape',
  complex: true,
  inputs: ['tensor', 'shape'],
  reshapes: true,
  identityWhenSameShape: true,
  attrs: { T: 'type', Tshape: 'type' },
  shape: (ctx) => {
    const target = shapeArg(ctx, 1, 'shape', true);
    return [{ dtype: ctx.inputs[0]!.dtype, shape: reshapeShape(ctx, ctx.inputs[0]!.shape, target) }];
  },
  grad: reshapeLikeInput,
});

function checkPermutation(perm: readonly number[], rank: number): string | undefined {
  if (perm.length !== rank) return `transpose expects a vector of size ${rank}, but perm has ${perm.length} elements`;
  const seen = new Array<boolean>(rank).fill(false);
  for (let i = 0; i < rank; i++) {
    const d = perm[i]!;
    if (!Number.isInteger(d) || d < 0 || d >= rank) return `${d} is out of range [0 .. ${rank})`;
    if (seen[d]) return `${d} is duplicated in perm [${perm.join(',')}]`;
    seen[d] = true;
  }
  return undefined;
}

registerOp({
  type: 'Transpose',
  inputs: ['x', 'perm'],
  attrs: { T: 'type', Tperm: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, INDEX, 'perm');
    const x = ctx.inputs[0]!.shape;
    const perm = constVector(ctx.inputs[1]!);
    const permLen = ctx.inputs[1]!.shape?.[0] ?? null;
    const rank = x?.length ?? perm?.length ?? permLen;
    if (x !== null && permLen !== null && permLen !== x.length) {
      ctx.fail(`perm (${ctx.inputs[1]!.name}) has ${permLen} elements but the input has rank ${x.length}`);
    }
    if (!perm) return [{ dtype: ctx.inputs[0]!.dtype, shape: rank === null ? null : new Array<Dim>(rank).fill(null) }];
    const err = checkPermutation(perm, rank!);
    if (err) ctx.fail(err);
    return [{ dtype: ctx.inputs[0]!.dtype, shape: perm.map((p) => (x === null ? null : x[p]!)) }];
  },
  grad: (op, [g]) => {
    const perm = constVector(op.inputs[1]!);
    return [A.transpose(g!, perm ? invertPerm(perm) : A.invertPermutation(op.inputs[1]!)), null];
  },
});

registerOp({
  type: 'InvertPermutation',
  inputs: ['x'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, INDEX, 'x');
    const x = ctx.inputs[0]!;
    if (x.rank !== null && x.rank !== 1) ctx.fail(`x must be a vector, got shape ${formatShape(x.shape)}`);
    const v = constVector(x);
    if (v) {
      const err = checkPermutation(v, v.length);
      if (err) ctx.fail(err);
    }
    return [{ dtype: dt, shape: x.shape ?? [null] }];
  },
  grad: null,
});

registerOp({
  type: 'ExpandDims',
  complex: true,
  inputs: ['input', 'axis'],
  reshapes: true,
  attrs: { T: 'type', Tdim: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 1, INDEX, 'dim');
    const d = ctx.inputs[1]!;
    if (d.shape !== null && d.shape.some((n) => n !== null && n !== 1)) ctx.fail(`dim must be a scalar or a 1-element vector, got shape ${formatShape(d.shape)}`);
    const x = ctx.inputs[0]!.shape;
    const dim = constScalar(d);
    if (x === null) return [{ dtype: ctx.inputs[0]!.dtype, shape: null }];
    if (dim === undefined) return [{ dtype: ctx.inputs[0]!.dtype, shape: new Array<Dim>(x.length + 1).fill(null) }];
    const axis = normAxisCtx(ctx, dim, x.length + 1, 'dim');
    return [{ dtype: ctx.inputs[0]!.dtype, shape: [...x.slice(0, axis), 1, ...x.slice(axis)] }];
  },
  grad: reshapeLikeInput,
});

registerOp({
  type: 'Squeeze',
  complex: true,
  inputs: ['input'],
  reshapes: true,
  identityWhenSameShape: true,
  attrs: { T: 'type', squeeze_dims: 'list(int)' },
  shape: (ctx) => {
    const x = ctx.inputs[0]!.shape;
    const dims = optAttr<readonly number[]>(ctx, 'squeeze_dims', []).map(Number);
    if (x === null) return [{ dtype: ctx.inputs[0]!.dtype, shape: null }];
    const listed = new Set(dims.map((d) => normAxisCtx(ctx, d, x.length, 'squeeze dim')));
    const out: Dim[] = [];
    for (let i = 0; i < x.length; i++) {
      const d = x[i]!;
      if (listed.size > 0) {
        if (!listed.has(i)) out.push(d);
        else if (d !== null && d !== 1) ctx.fail(`Can not squeeze dim[${i}], expected a dimension of 1, got ${d}`);
      } else if (d === null) {
        // Whether it is squeezed is only known at run time.
        return [{ dtype: ctx.inputs[0]!.dtype, shape: null }];
      } else if (d !== 1) {
        out.push(d);
      }
    }
    return [{ dtype: ctx.inputs[0]!.dtype, shape: out }];
  },
  grad: reshapeLikeInput,
});

registerOp({
  type: 'Shape',
  inputs: ['input'],
  valueOfShape: (s) => ({ value: [...s], shape: [s.length] }),
  known: (ctx) => {
    const s = ctx.inputs[0]!.shape;
    return s === null ? undefined : { elements: s };
  },
  attrs: { T: 'type', out_type: 'type' },
  shape: (ctx) => {
    const dt = ctx.attr<DType>('out_type');
    if (!INDEX.includes(dt)) ctx.fail(`out_type must be int32 or int64, got ${dt}`);
    const r = ctx.inputs[0]!.rank;
    return [{ dtype: dt, shape: [r] }];
  },
  grad: null,
});

registerOp({
  type: 'Size',
  inputs: ['input'],
  valueOfShape: (s) => ({ value: [s.reduce((a, b) => a * b, 1)], shape: [] }),
  attrs: { T: 'type', out_type: 'type' },
  shape: (ctx) => {
    const dt = ctx.attr<DType>('out_type');
    if (!INDEX.includes(dt)) ctx.fail(`out_type must be int32 or int64, got ${dt}`);
    return [{ dtype: dt, shape: [] }];
  },
  grad: null,
});

registerOp({
  type: 'Rank',
  inputs: ['input'],
  valueOfShape: (s) => ({ value: [s.length], shape: [] }),
  known: (ctx) => {
    const r = ctx.inputs[0]!.rank;
    return r === null ? undefined : { elements: [r] };
  },
  attrs: { T: 'type' },
  shape: (ctx) => {
    return [{ dtype: 'int32', shape: [] }];
  },
  grad: null,
});

registerOp({
  type: 'BroadcastTo',
  inputs: ['input', 'shape'],
  identityWhenSameShape: true,
  attrs: { T: 'type', Tidx: 'type' },
  shape: (ctx) => {
    const target = shapeArg(ctx, 1, 'shape');
    const x = ctx.inputs[0]!.shape;
    if (target === null) return [{ dtype: ctx.inputs[0]!.dtype, shape: null }];
    if (x === null) return [{ dtype: ctx.inputs[0]!.dtype, shape: target }];
    if (x.length > target.length) {
      ctx.fail(`Rank of input (${x.length}) must be no greater than rank of output shape (${target.length})`);
    }
    const off = target.length - x.length;
    const out = target.map((d, i) => {
      if (i < off) return d;
      const xd = x[i - off]!;
      if (d !== null && xd !== null && xd !== 1 && xd !== d) {
        ctx.fail(`input of shape ${formatShape(x)} is not broadcastable to shape ${formatShape(target)}`);
      }
      return d ?? (xd !== null && xd !== 1 ? xd : null);
    });
    return [{ dtype: ctx.inputs[0]!.dtype, shape: out }];
  },
  grad: (op, [g]) => {
    const x = op.inputs[0]!;
    const xs = x.shape;
    const os = op.outputs[0]!.shape;
    if (xs !== null && os !== null) {
      const lead = os.length - xs.length;
      const axes = rangeArr(0, lead);
      let known = true;
      xs.forEach((d, i) => {
        const od = os[lead + i]!;
        if (d === 1 && od !== 1) axes.push(lead + i);
        else if (d === null && od !== 1) known = false;
      });
      if (known) {
        const summed = axes.length ? reduceSum(g!, axes, true) : g!;
        return [A.reshape(summed, A.shape(x)), null];
      }
    }
    const xShape = A.shape(x);
    const args = graphOf(op.inputs).createOp('BroadcastGradientArgs', [A.shape(g!), xShape], { T: 'int32' }, { name: 'BroadcastGradientArgs' });
    return [A.reshape(reduceSum(g!, args.outputs[1]!, true), xShape), null];
  },
});

// ---- concat / split / pack ----

function concatShape(ctx: ShapeContext, values: readonly AbstractValue[], axisT: AbstractValue): OutputSpec[] {
  const dt = values[0]!.dtype;
  values.forEach((v, i) => {
    if (v.dtype !== dt) ctx.fail(`values[${i}] (${v.name}) is ${v.dtype}, expected ${dt} like values[0]`);
  });
  checkDType(ctx, ctx.inputs.indexOf(axisT), INDEX, 'axis');
  if (axisT.rank !== null && axisT.rank !== 0) ctx.fail(`axis (${axisT.name}) must be a scalar, got shape ${formatShape(axisT.shape)}`);
  let rank: number | null = null;
  values.forEach((v, i) => {
    if (v.rank === null) return;
    if (rank === null) rank = v.rank;
    else if (v.rank !== rank) {
      ctx.fail(`Shape must be rank ${rank} but is rank ${v.rank} for values[${i}] (${v.name}); all values must have one rank`);
    }
  });
  if (rank === 0) ctx.fail('Can not concatenate scalars (use stack instead)');
  const axisV = constScalar(axisT);
  if (rank === null) return [{ dtype: dt, shape: null }];
  const r: number = rank;
  if (axisV === undefined) {
    // Unknown axis: every dim may be the concat dim, so only the rank is known.
    return [{ dtype: dt, shape: new Array<Dim>(r).fill(null) }];
  }
  const axis = normAxisCtx(ctx, axisV, r);
  let out: Dim[] | null = null;
  let concatDim: Dim = 0;
  values.forEach((v, i) => {
    const s = v.shape ?? new Array<Dim>(r).fill(null);
    const d = s[axis]!;
    concatDim = concatDim === null || d === null ? null : concatDim + d;
    const others = s.map((x, j) => (j === axis ? null : x));
    if (out === null) out = others;
    else {
      out = out.map((x, j) => {
        const y = others[j]!;
        if (x !== null && y !== null && x !== y) {
          ctx.fail(`Dimension ${j} in both shapes must be equal, but are ${x} and ${y} (values[0] and values[${i}] (${v.name}), concatenating on axis ${axis})`);
        }
        return x ?? y;
      });
    }
  });
  const shape = out! as Dim[];
  shape[axis] = concatDim;
  return [{ dtype: dt, shape }];
}

registerOp({
  type: 'ConcatV2',
  inputs: ['values*', 'axis'],
  attrs: { N: 'int', T: 'type', Tidx: 'type' },
  shape: (ctx) => {
    const n = ctx.inputs.length - 1;
    if (n < 2) ctx.fail(`ConcatV2 needs at least 2 values, got ${n}`);
    if (ctx.attr<number>('N') !== n) ctx.fail(`attr N is ${ctx.attr('N')} but ${n} values were given`);
    return concatShape(ctx, ctx.inputs.slice(0, n), ctx.inputs[n]!);
  },
  known: (ctx) => {
    const n = ctx.inputs.length - 1;
    const axis = constScalar(ctx.inputs[n]!);
    if (axis !== 0 && axis !== -1) return undefined;
    const parts = ctx.inputs.slice(0, n).map(partialVector);
    return parts.every((p) => p !== null) ? { elements: parts.flatMap((p) => p!) } : undefined;
  },
  grad: (op, grads) => {
    const g = grads[0]!;
    const n = op.inputs.length - 1;
    const values = op.inputs.slice(0, n);
    const axisT = op.inputs[n]!;
    const axisV = constScalar(axisT);
    const rank = values.find((v) => v.rank !== null)?.rank ?? null;
    if (axisV !== undefined && rank !== null) {
      const axis = axisV < 0 ? axisV + rank : axisV;
      const sizes = values.map((v) => v.shape?.[axis] ?? null);
      if (sizes.every((s) => s !== null)) return [...A.split(g, sizes as number[], axis), null];
      const offsets = concatOffset(axis, values);
      return [...values.map((v, i) => A.slice(g, offsets[i]!, A.shape(v))), null];
    }
    const axis = axisV !== undefined && axisV >= 0 ? axisT : floorMod(axisT, A.rank(values[0]!));
    const offsets = concatOffset(axis, values);
    return [...values.map((v, i) => A.slice(g, offsets[i]!, A.shape(v))), null];
  },
});

/** TF's ConcatOffset: where each value starts inside the concatenation. */
function concatOffset(axis: number | Tensor, values: readonly Tensor[]): Tensor[] {
  const g = graphOf(values);
  const ax = typeof axis === 'number' ? constant(axis, 'int32', [], 'concat_dim') : axis;
  const shapes = values.map((v) => A.shape(v));
  return g.createOp('ConcatOffset', [ax, ...shapes], { N: values.length }, { name: 'ConcatOffset' }).outputs;
}

registerOp({
  type: 'ConcatOffset',
  inputs: ['concat_dim', 'shape*'],
  attrs: { N: 'int' },
  shape: (ctx) => {
    const n = ctx.inputs.length - 1;
    if (n < 2) ctx.fail(`ConcatOffset needs at least 2 shapes, got ${n}`);
    checkDType(ctx, 0, ['int32'], 'concat_dim');
    checkScalar(ctx, 0, 'concat_dim');
    let s: Shape = [null];
    for (let i = 1; i <= n; i++) {
      checkDType(ctx, i, ['int32'], `shape[${i - 1}]`);
      s = mergeOrFail(ctx, s, ctx.inputs[i]!.shape, `shape[${i - 1}]`);
    }
    return ctx.inputs.slice(1).map(() => ({ dtype: 'int32' as DType, shape: s }));
  },
  grad: null,
});

registerOp({
  type: 'Split',
  inputs: ['split_dim', 'value'],
  attrs: { T: 'type', num_split: 'int' },
  shape: (ctx) => {
    checkDType(ctx, 0, ['int32'], 'split_dim');
    checkScalar(ctx, 0, 'split_dim');
    const n = ctx.attr<number>('num_split');
    if (!Number.isInteger(n) || n < 1) ctx.fail(`num_split must be >= 1, got ${n}`);
    const x = ctx.inputs[1]!;
    const dimV = constScalar(ctx.inputs[0]!);
    let shape: Shape;
    if (x.shape === null) shape = null;
    else if (dimV === undefined) shape = x.shape.map(() => null);
    else {
      const axis = normAxisCtx(ctx, dimV, x.shape.length, 'split_dim');
      const d = x.shape[axis]!;
      if (d !== null && d % n !== 0) {
        ctx.fail(`Number of ways to split should evenly divide the split dimension, but got split_dim ${axis} (size = ${d}) and num_split ${n}`);
      }
      shape = x.shape.map((s, i) => (i === axis ? (d === null ? null : d / n) : s));
    }
    return new Array(n).fill(0).map(() => ({ dtype: x.dtype, shape }));
  },
  grad: (op, grads) => [null, A.concat(grads as Tensor[], op.inputs[0]!)],
});

registerOp({
  type: 'SplitV',
  inputs: ['value', 'size_splits', 'split_dim'],
  attrs: { T: 'type', Tlen: 'type', num_split: 'int' },
  shape: (ctx) => {
    const n = ctx.attr<number>('num_split');
    if (!Number.isInteger(n) || n < 1) ctx.fail(`num_split must be >= 1, got ${n}`);
    checkDType(ctx, 1, INDEX, 'size_splits');
    checkDType(ctx, 2, ['int32'], 'split_dim');
    checkScalar(ctx, 2, 'split_dim');
    const x = ctx.inputs[0]!;
    const sizesT = ctx.inputs[1]!;
    if (sizesT.rank !== null && sizesT.rank !== 1) ctx.fail(`size_splits must be a vector, got shape ${formatShape(sizesT.shape)}`);
    const sizes = partialVector(sizesT);
    if (sizes && sizes.length !== n) ctx.fail(`size_splits has ${sizes.length} elements but num_split is ${n}`);
    const dimV = constScalar(ctx.inputs[2]!);
    if (x.shape === null) return new Array(n).fill(0).map(() => ({ dtype: x.dtype, shape: null }));
    if (dimV === undefined) return new Array(n).fill(0).map(() => ({ dtype: x.dtype, shape: x.shape!.map(() => null) }));
    const axis = normAxisCtx(ctx, dimV, x.shape.length, 'split_dim');
    const d = x.shape[axis]!;
    let resolved: Dim[] = sizes ?? new Array<Dim>(n).fill(null);
    if (sizes) {
      const neg = sizes.filter((s) => s === -1).length;
      if (neg > 1) ctx.fail(`size_splits can contain at most one -1, got [${sizes.join(',')}]`);
      if (sizes.some((s) => s !== null && s < -1)) ctx.fail(`size_splits must be >= 0 (or -1 once), got [${sizes.join(',')}]`);
      const knownSum = sizes.reduce<number>((a, s) => a + (s !== null && s >= 0 ? s : 0), 0);
      const allKnown = sizes.every((s) => s !== null);
      if (d !== null && allKnown) {
        if (neg === 0 && knownSum !== d) {
          ctx.fail(`Determined shape must either match input shape along split_dim exactly if fully specified, or be less than the size of the input along split_dim if not fully specified. Got: ${knownSum} vs ${d}`);
        }
        if (neg === 1 && knownSum > d) ctx.fail(`size_splits [${sizes.join(',')}] sum to more than the dimension ${d}`);
        resolved = sizes.map((s) => (s === -1 ? d - knownSum : s));
      } else {
        resolved = sizes.map((s) => (s === -1 ? null : s));
      }
    }
    return resolved.map((s) => ({ dtype: x.dtype, shape: x.shape!.map((v, i) => (i === axis ? s : v)) }));
  },
  grad: (op, grads) => [A.concat(grads as Tensor[], op.inputs[2]!), null, null],
});

registerOp({
  type: 'Pack',
  inputs: ['values*'],
  attrs: { N: 'int', T: 'type', axis: 'int' },
  shape: (ctx) => {
    const n = ctx.inputs.length;
    if (ctx.attr<number>('N') !== n) ctx.fail(`attr N is ${ctx.attr('N')} but ${n} values were given`);
    const dt = ctx.inputs[0]!.dtype;
    let s: Shape = null;
    ctx.inputs.forEach((v, i) => {
      if (v.dtype !== dt) ctx.fail(`values[${i}] (${v.name}) is ${v.dtype}, expected ${dt} like values[0]`);
      try {
        s = mergeShapes(s, v.shape);
      } catch {
        ctx.fail(`Shapes of all inputs must match: values[0].shape = ${formatShape(ctx.inputs[0]!.shape)} != values[${i}].shape = ${formatShape(v.shape)}`);
      }
    });
    if (s === null) return [{ dtype: dt, shape: null }];
    const base = s as Dim[];
    const axis = normAxisCtx(ctx, optAttr(ctx, 'axis', 0), base.length + 1);
    return [{ dtype: dt, shape: [...base.slice(0, axis), n, ...base.slice(axis)] }];
  },
  // Scalars stacked into a vector: known where each scalar is (a whole value for any dtype).
  known: (ctx) => {
    if (!ctx.inputs.every((i) => i.rank === 0 || i.rank === null)) return undefined;
    const values = ctx.inputs.map((i) => i.knownValue);
    if (values.every((v) => v !== undefined && v.rank === 0)) {
      return { value: NDArray.from(values.map((v) => v!.scalar() as number), ctx.inputs[0]!.dtype, [values.length]) };
    }
    return { elements: ctx.inputs.map(partialScalar) };
  },
  grad: (op, [g]) => A.unstack(g!, { num: op.inputs.length, axis: (op.attrs.axis as number | undefined) ?? 0 }),
});

registerOp({
  type: 'Unpack',
  inputs: ['value'],
  attrs: { num: 'int', T: 'type', axis: 'int' },
  shape: (ctx) => {
    const num = ctx.attr<number>('num');
    if (!Number.isInteger(num) || num < 0) ctx.fail(`num must be >= 0, got ${num}`);
    const x = ctx.inputs[0]!;
    let shape: Shape = null;
    if (x.shape !== null) {
      if (x.shape.length === 0) ctx.fail('Cannot unstack a scalar');
      const axis = normAxisCtx(ctx, optAttr(ctx, 'axis', 0), x.shape.length);
      const d = x.shape[axis]!;
      if (d !== null && d !== num) ctx.fail(`Dimension ${axis} of ${x.name} ${formatShape(x.shape)} must be ${num} (num), got ${d}`);
      shape = x.shape.filter((_, i) => i !== axis);
    }
    return new Array(num).fill(0).map(() => ({ dtype: x.dtype, shape }));
  },
  grad: (op, grads) => [A.stack(grads as Tensor[], (op.attrs.axis as number | undefined) ?? 0)],
});

// ---- slicing ----

registerOp({
  type: 'Slice',
  inputs: ['input', 'begin', 'size'],
  identityWhenSameShape: true,
  attrs: { T: 'type', Index: 'type' },
  shape: (ctx) => {
    const idx = checkDType(ctx, 1, INDEX, 'begin');
    if (ctx.inputs[2]!.dtype !== idx) ctx.fail(`size is ${ctx.inputs[2]!.dtype}, expected ${idx} like begin`);
    const x = ctx.inputs[0]!.shape;
    for (const i of [1, 2]) {
      const t = ctx.inputs[i]!;
      if (t.rank !== null && t.rank !== 1) ctx.fail(`${i === 1 ? 'begin' : 'size'} must be a vector, got shape ${formatShape(t.shape)}`);
    }
    const begin = constVector(ctx.inputs[1]!);
    const size = partialVector(ctx.inputs[2]!);
    const len = x?.length ?? begin?.length ?? size?.length ?? ctx.inputs[1]!.shape?.[0] ?? null;
    if (len === null) return [{ dtype: ctx.inputs[0]!.dtype, shape: null }];
    for (const [what, v] of [['begin', begin ?? partialVector(ctx.inputs[1]!)], ['size', size]] as const) {
      if (v && v.length !== len) ctx.fail(`${what} has ${v.length} elements, expected ${len} (the rank of the input)`);
    }
    const out: Dim[] = [];
    for (let i = 0; i < len; i++) {
      const d = x?.[i] ?? null;
      const b = begin?.[i];
      const s = size?.[i] ?? null;
      if (b !== undefined && (b < 0 || (d !== null && b > d))) ctx.fail(`Expected begin[${i}] in [0, ${d ?? '?'}], but got ${b}`);
      if (s === -1) {
        out.push(d !== null && b !== undefined ? d - b : null);
        continue;
      }
      if (s !== null) {
        if (s < 0) ctx.fail(`Expected size[${i}] >= -1, but got ${s}`);
        if (d !== null && b !== undefined && b + s > d) ctx.fail(`Expected size[${i}] in [0, ${d - b}], but got ${s}`);
      }
      out.push(s);
    }
    return [{ dtype: ctx.inputs[0]!.dtype, shape: out }];
  },
  grad: (op, [g]) => {
    const [x, begin] = op.inputs as [Tensor, Tensor];
    const outShape = op.outputs[0]!.shape;
    const b = constVector(begin);
    if (b && isFullyDefined(x.shape) && isFullyDefined(outShape)) {
      const xs = x.shape;
      return [A.pad(g!, xs.map((d, i) => [b[i]!, d - b[i]! - outShape[i]!])), null, null];
    }
    const shape2 = A.stack([A.rank(x), 1]);
    const before = A.reshape(begin, shape2);
    const after = A.reshape(subtract(subtract(A.shape(x, begin.dtype), A.shape(op.outputs[0]!, begin.dtype)), begin), shape2);
    return [A.pad(g!, A.concat([before, after], 1)), null, null];
  },
});

/** Output shape of a strided slice of a tensor of shape `input`; checks begin/end/strides. */
/** A strided slice's masks from its attrs (a GraphDef may leave out those at their default, 0). */
function ctxMasks(ctx: ShapeContext) {
  const masks: Record<string, unknown> = {};
  for (const k of ['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask']) masks[k] = optAttr(ctx, k, 0);
  return masksOf(masks);
}

function stridedSliceShape(ctx: ShapeContext, input: Shape, beginT: AbstractValue, endT: AbstractValue, stridesT: AbstractValue): Shape {
  const idx = beginT.dtype;
  if (!INDEX.includes(idx)) ctx.fail(`begin (${beginT.name}) is ${idx}, expected int32 or int64`);
  let len: Dim = null;
  for (const [what, t] of [['begin', beginT], ['end', endT], ['strides', stridesT]] as const) {
    if (t.dtype !== idx) ctx.fail(`${what} is ${t.dtype}, expected ${idx} like begin`);
    if (t.rank !== null && t.rank !== 1) ctx.fail(`${what} (${t.name}) must be a vector, got shape ${formatShape(t.shape)}`);
    const n = t.shape?.[0] ?? null;
    if (n !== null) {
      if (len !== null && n !== len) ctx.fail(`Expected begin, end, and strides to be 1D equal size tensors, but ${what} has ${n} elements, not ${len}`);
      len = n;
    }
  }
  const strides = constVector(stridesT);
  if (input === null || strides === undefined) return null;
  try {
    return stridedSliceSpec(input, constVector(beginT) ?? null, constVector(endT) ?? null, strides, ctxMasks(ctx)).finalShape;
  } catch (e) {
    return ctx.fail((e as Error).message);
  }
}

const STRIDED_ATTRS = {
  T: 'type',
  Index: 'type',
  begin_mask: 'int',
  end_mask: 'int',
  ellipsis_mask: 'int',
  new_axis_mask: 'int',
  shrink_axis_mask: 'int',
} as const;

function sliceOptions(op: Operation): A.StridedSliceOptions {
  const m = masksOf(op.attrs as Record<string, unknown>);
  return {
    beginMask: m.beginMask,
    endMask: m.endMask,
    ellipsisMask: m.ellipsisMask,
    newAxisMask: m.newAxisMask,
    shrinkAxisMask: m.shrinkAxisMask,
  };
}

registerOp({
  type: 'StridedSlice',
  inputs: ['input', 'begin', 'end', 'strides'],
  attrs: STRIDED_ATTRS,
  shape: (ctx) => {
    const [x, b, e, s] = ctx.inputs as [AbstractValue, AbstractValue, AbstractValue, AbstractValue];
    const shape = stridedSliceShape(ctx, x.shape, b, e, s);
    return [{ dtype: x.dtype, shape }];
  },
  known: (ctx) => {
    const picked = sliceOfVector(ctx);
    return picked && { elements: picked.values };
  },
  grad: (op, [g]) => {
    const [x, begin, end, strides] = op.inputs as [Tensor, Tensor, Tensor, Tensor];
    const dx = graphOf(op.inputs).createOp(
      'StridedSliceGrad',
      [A.shape(x, begin.dtype), begin, end, strides, g!],
      { ...op.attrs },
      { name: 'StridedSliceGrad' },
    ).outputs[0]!;
    return [dx, null, null, null];
  },
});

registerOp({
  type: 'StridedSliceGrad',
  inputs: ['shape', 'begin', 'end', 'strides', 'dy'],
  attrs: STRIDED_ATTRS,
  shape: (ctx) => {
    const [shapeT, b, e, s, dy] = ctx.inputs as [AbstractValue, AbstractValue, AbstractValue, AbstractValue, AbstractValue];
    const shape = shapeArg(ctx, 0, 'shape');
    if (shapeT.dtype !== b.dtype) ctx.fail(`shape is ${shapeT.dtype}, expected ${b.dtype} like begin`);
    // The slice of `shape` it inverts must have dy's shape.
    const sliced = stridedSliceShape(ctx, shape, b, e, s);
    mergeOrFail(ctx, sliced, dy.shape, 'dy');
    return [{ dtype: dy.dtype, shape }];
  },
  grad: (op, [g]) => {
    const [, begin, end, strides] = op.inputs as [Tensor, Tensor, Tensor, Tensor, Tensor];
    return [null, null, null, null, A.stridedSlice(g!, begin, end, strides, sliceOptions(op))];
  },
});

// ---- gather / scatter ----

registerOp({
  type: 'GatherV2',
  inputs: ['params', 'indices', 'axis'],
  attrs: { Tparams: 'type', Tindices: 'type', Taxis: 'type', batch_dims: 'int' },
  shape: (ctx) => {
    checkDType(ctx, 1, INDEX, 'indices');
    checkDType(ctx, 2, INDEX, 'axis');
    checkScalar(ctx, 2, 'axis');
    if (Number(optAttr(ctx, 'batch_dims', 0)) !== 0) ctx.fail('batch_dims != 0 is not supported');
    const [p, i, a] = ctx.inputs as [AbstractValue, AbstractValue, AbstractValue];
    if (p.rank === 0) ctx.fail(`params (${p.name}) must be at least 1 dimensional`);
    const axisV = constScalar(a);
    if (p.shape === null || i.shape === null) {
      return [{ dtype: p.dtype, shape: null }];
    }
    if (axisV === undefined) return [{ dtype: p.dtype, shape: new Array<Dim>(p.shape.length + i.shape.length - 1).fill(null) }];
    const axis = normAxisCtx(ctx, axisV, p.shape.length);
    return [{ dtype: p.dtype, shape: [...p.shape.slice(0, axis), ...i.shape, ...p.shape.slice(axis + 1)] }];
  },
  grad: (op, [g]) => {
    const [params, indices, axisT] = op.inputs as [Tensor, Tensor, Tensor];
    const axisV = constScalar(axisT);
    if (axisV === undefined) {
      throw new InvalidArgumentError(`Gradient of GatherV2 '${op.name}' needs a constant axis`, op.name);
    }
    const pRank = params.rank;
    if (axisV < 0 && pRank === null) {
      throw new InvalidArgumentError(`Gradient of GatherV2 '${op.name}': a negative axis needs params of known rank`, op.name);
    }
    const axis = axisV < 0 ? axisV + pRank! : axisV;
    if (axis !== 0 && pRank === null) {
      throw new InvalidArgumentError(`Gradient of GatherV2 '${op.name}': axis ${axis} needs params of known rank`, op.name);
    }
    const ps = params.shape;
    const staticShape = isFullyDefined(ps);
    const pShape = A.shape(params);
    // The gradient is dense: rows of g are summed into params' shape at the gathered positions.
    const valuesShape = staticShape
      ? [...ps.slice(0, axis), -1, ...ps.slice(axis + 1)]
      : A.concat([A.slice(pShape, [0], [axis]), [-1], A.slice(pShape, [axis + 1], [-1])], 0);
    const values = A.reshape(g!, valuesShape);
    const flatIdx = indices.rank === 1 ? indices : A.reshape(indices, [-1]);
    // As TF: along axis 0 the gradient is the gathered rows and their indices (an embedding's
    // gradient touches only the rows looked up); tf.gradients sums them into place unless asked not to.
    if (axis === 0) return [new IndexedSlices(values, flatIdx, pShape), null, null];
    const numSegments = staticShape ? ps[axis]! : A.gather(pShape, axis);
    const perm = [axis, ...rangeArr(0, axis), ...rangeArr(axis + 1, pRank!)];
    const summed = A.unsortedSegmentSum(A.transpose(values, perm), flatIdx, numSegments);
    return [A.transpose(summed, invertPerm(perm)), null, null];
  },
});

registerOp({
  type: 'UnsortedSegmentSum',
  inputs: ['data', 'segment_ids', 'num_segments'],
  attrs: { T: 'type', Tindices: 'type', Tnumsegments: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, NUMBERS, 'data');
    checkDType(ctx, 1, INDEX, 'segment_ids');
    checkDType(ctx, 2, INDEX, 'num_segments');
    checkScalar(ctx, 2, 'num_segments');
    const [data, ids, numT] = ctx.inputs as [AbstractValue, AbstractValue, AbstractValue];
    const n = partialScalar(numT);
    if (n !== null && n < 0) ctx.fail(`num_segments must be >= 0, got ${n}`);
    if (data.shape === null || ids.shape === null) return [{ dtype: dt, shape: null }];
    if (ids.shape.length > data.shape.length) {
      ctx.fail(`segment_ids ${formatShape(ids.shape)} must be a prefix of data's shape ${formatShape(data.shape)}`);
    }
    mergeOrFail(ctx, ids.shape, data.shape.slice(0, ids.shape.length), 'segment_ids must be a prefix of data.shape');
    return [{ dtype: dt, shape: [n, ...data.shape.slice(ids.shape.length)] }];
  },
  grad: (op, [g]) => {
    const [data, ids] = op.inputs as [Tensor, Tensor];
    const idsV = (ids.op.type === 'Reshape' ? ids.op.inputs[0]! : ids).knownValue;
    if (idsV && numbersOf(idsV).every((v) => v >= 0)) return [A.gather(g!, ids), null, null];
    // TF's _GatherDropNegatives: rows of negative ids were dropped, so their gradient is zero.
    const clipped = maximum(ids, A.zerosLike(ids));
    const gathered = A.gather(g!, clipped);
    const positive = greaterEqual(ids, A.zerosLike(ids));
    let maskShape: Tensor | number[];
    if (ids.shape !== null && data.shape !== null && isFullyDefined(ids.shape)) {
      maskShape = [...ids.shape, ...new Array<number>(data.shape.length - ids.shape.length).fill(1)];
    } else {
      const inner = A.slice(A.shape(data), A.reshape(A.rank(ids), [1]), [-1]);
      maskShape = A.concat([A.shape(ids), A.onesLike(inner)], 0);
    }
    const mask = logicalAnd(A.reshape(positive, maskShape), A.onesLike(gathered, 'bool'));
    return [where(mask, gathered, A.zerosLike(gathered)), null, null];
  },
});

registerOp({
  type: 'OneHot',
  inputs: ['indices', 'depth', 'on_value', 'off_value'],
  attrs: { axis: 'int', T: 'type', TI: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, ['int32', 'int64'], 'indices');
    checkDType(ctx, 1, ['int32'], 'depth');
    checkScalar(ctx, 1, 'depth');
    checkScalar(ctx, 2, 'on_value');
    checkScalar(ctx, 3, 'off_value');
    const dt = ctx.attr<DType>('T');
    if (ctx.inputs[2]!.dtype !== dt || ctx.inputs[3]!.dtype !== dt) {
      ctx.fail(`on_value and off_value must be ${dt}, got ${ctx.inputs[2]!.dtype} and ${ctx.inputs[3]!.dtype}`);
    }
    const depth = partialScalar(ctx.inputs[1]!);
    if (depth !== null && depth < 0) ctx.fail(`depth must be non-negative, got: ${depth}`);
    const axis = optAttr(ctx, 'axis', -1);
    const s = ctx.inputs[0]!.shape;
    if (s === null) return [{ dtype: dt, shape: null }];
    if (axis < -1 || axis > s.length) ctx.fail(`Expected axis to be -1 or between [0, ${s.length}].  But received: ${axis}`);
    const a = axis === -1 ? s.length : axis;
    return [{ dtype: dt, shape: [...s.slice(0, a), depth, ...s.slice(a)] }];
  },
  // TF: no gradient for indices, depth, on_value or off_value.
  grad: null,
});

// ---- tile / pad ----

registerOp({
  type: 'Tile',
  inputs: ['input', 'multiples'],
  identityWhenSameShape: true,
  attrs: { T: 'type', Tmultiples: 'type' },
  shape: (ctx) => {
    const m = shapeArg(ctx, 1, 'multiples');
    const x = ctx.inputs[0]!.shape;
    const len = x?.length ?? m?.length ?? ctx.inputs[1]!.shape?.[0] ?? null;
    if (len === null) return [{ dtype: ctx.inputs[0]!.dtype, shape: null }];
    if (m && m.length !== len) ctx.fail(`Expected multiples argument to be a vector of length ${len} but got length ${m.length}`);
    return [{ dtype: ctx.inputs[0]!.dtype, shape: rangeArr(0, len).map((i) => mulDim(x?.[i] ?? null, m?.[i] ?? null)) }];
  },
  grad: (op, [g]) => {
    const [x, multiples] = op.inputs as [Tensor, Tensor];
    const m = constVector(multiples);
    if (m && isFullyDefined(x.shape)) {
      const xs = x.shape;
      // g viewed as [m0, d0, m1, d1, ...], summed over the multiples axes.
      const split = xs.flatMap((d, i) => [m[i]!, d]);
      const axes = xs.map((_, i) => 2 * i);
      return [A.reshape(reduceSum(A.reshape(g!, split), axes), xs), null];
    }
    const split = A.reshape(A.transpose(A.stack([multiples, A.shape(x, multiples.dtype)])), [-1]);
    const axes = A.range(0, A.size(split), 2);
    const dx = reduceSum(A.reshape(g!, split), axes);
    dx.setShape(x.shape);
    return [dx, null];
  },
});

function padShape(ctx: ShapeContext): OutputSpec[] {
  const x = ctx.inputs[0]!;
  const p = ctx.inputs[1]!;
  checkDType(ctx, 1, INDEX, 'paddings');
  if (p.shape !== null && (p.shape.length !== 2 || (p.shape[1] !== null && p.shape[1] !== 2))) {
    ctx.fail(`paddings must be a matrix with 2 columns, got shape ${formatShape(p.shape)}`);
  }
  const len = x.shape?.length ?? p.shape?.[0] ?? null;
  if (x.shape !== null && p.shape !== null && p.shape[0] !== null && p.shape[0] !== x.shape.length) {
    ctx.fail(`The first dimension of paddings must be the rank of inputs ${x.shape.length}, got paddings of shape ${formatShape(p.shape)}`);
  }
  if (len === null) return [{ dtype: x.dtype, shape: null }];
  const pv = p.knownValue;
  const pads = pv ? numbersOf(pv) : null;
  if (pads && pads.some((v) => v < 0)) ctx.fail(`Paddings must be non-negative, got [${pads.join(',')}]`);
  const shape = rangeArr(0, len).map((i) => {
    const d = x.shape?.[i] ?? null;
    return d === null || pads === null ? null : d + pads[2 * i]! + pads[2 * i + 1]!;
  });
  return [{ dtype: x.dtype, shape }];
}

const padGrad: GradFn = (op, [g]) => {
  const [x, paddings] = op.inputs as [Tensor, Tensor];
  const pv = paddings.knownValue;
  let begin: Tensor | number[];
  let sizes: Tensor;
  if (pv) {
    begin = numbersOf(pv).filter((_, i) => i % 2 === 0);
    sizes = A.shape(x);
  } else {
    begin = A.reshape(A.slice(paddings, [0, 0], A.stack([A.rank(x), 1])), [-1]);
    sizes = A.shape(x, paddings.dtype);
  }
  return [A.slice(g!, begin, sizes), ...op.inputs.slice(1).map(() => null)];
};

registerOp({
  type: 'Pad',
  inputs: ['input', 'paddings'],
  identityWhenSameShape: true,
  attrs: { T: 'type', Tpaddings: 'type' },
  shape: (ctx) => {
    return padShape(ctx);
  },
  grad: padGrad,
});

registerOp({
  type: 'PadV2',
  inputs: ['input', 'paddings', 'constant_values'],
  identityWhenSameShape: true,
  attrs: { T: 'type', Tpaddings: 'type' },
  shape: (ctx) => {
    checkScalar(ctx, 2, 'constant_values');
    if (ctx.inputs[2]!.dtype !== ctx.inputs[0]!.dtype) {
      ctx.fail(`constant_values is ${ctx.inputs[2]!.dtype}, expected ${ctx.inputs[0]!.dtype} like the input`);
    }
    return padShape(ctx);
  },
  // As TF: no gradient for constant_values.
  grad: padGrad,
});

