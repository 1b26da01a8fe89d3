// Tensor lists: TensorFlow 2's TensorList ops, which TensorArray and the loop gradients' accumulators
// are built on. A list is a variant scalar; the runtime keeps its elements (runtime/control_flow.ts).
import type { DType } from '../src/core/dtypes.js';
import { mergeShapes, type Shape } from '../src/core/shape.js';
import type { AttrValue, Graph, Operation, Tensor } from '../src/graph.js';
import { graphOf, makeConst } from '../src/convert.js';
import { NDArray } from '../src/core/ndarray.js';
import * as A from '../src/api/array.js';
import { constant } from '../src/api/core.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';

/** A list's element shape as a shape input gives it: -1 (scalar) is unknown rank, -1 dims unknown. */
export function elementShapeOf(ctx: ShapeContext, i: number): Shape {
  const v = ctx.constValue(i);
  if (!v) return null;
  if (v.rank === 0) return null;
  return Array.from(v.data as Int32Array, (d) => (d < 0 ? null : Number(d)));
}

/** A list op's element_shape argument: the dims (-1 unknown), or -1 for an unknown rank. */
export function elementShapeConst(g: Graph, s: Shape): Tensor {
  const v = s === null ? NDArray.from(-1, 'int32') : NDArray.from(Int32Array.from(s, (d) => d ?? -1), 'int32', [s.length]);
  return makeConst(g, v, 'element_shape');
}

const LIST: OutputSpec = { dtype: 'variant', shape: [] };

function checkList(ctx: ShapeContext, i: number): void {
  const t = ctx.inputs[i]!;
  if (t.dtype !== 'variant') ctx.fail(`input ${i} (${t.name}) must be a tensor list (variant), got ${t.dtype}`);
}

function checkScalarInt(ctx: ShapeContext, i: number, what: string): void {
  const t = ctx.inputs[i]!;
  if (t.dtype !== 'int32') ctx.fail(`${what} (${t.name}) must be int32, got ${t.dtype}`);
  if (t.shape !== null && t.shape.length !== 0) ctx.fail(`${what} (${t.name}) must be a scalar`);
}

function list(op: string, inputs: readonly Tensor[], attrs: Record<string, unknown>, nOut = 1): Tensor[] {
  return graphOf(inputs).createOp(op, inputs, attrs as Record<string, AttrValue>).outputs.slice(0, nOut);
}

/** The element shape argument lists' ops take: a known shape as a constant, else the tensor's shape. */
function elementShapeTensor(t: Tensor): Tensor {
  return A.shape(t, 'int32');
}

function listAttrs(op: Operation): { element_dtype: DType } {
  return { element_dtype: op.attrs.element_dtype as DType };
}

registerOp({
  type: 'EmptyTensorList',
  inputs: ['element_shape', 'max_num_elements'],
  attrs: { element_dtype: 'type', shape_type: 'type' },
  stateful: false,
  shape: (ctx) => {
    checkScalarInt(ctx, 1, 'max_num_elements');
    return [LIST];
  },
  grad: null,
});

registerOp({
  type: 'TensorListReserve',
  inputs: ['element_shape', 'num_elements'],
  attrs: { element_dtype: 'type', shape_type: 'type' },
  shape: (ctx) => {
    checkScalarInt(ctx, 1, 'num_elements');
    return [LIST];
  },
  grad: null,
});

registerOp({
  type: 'TensorListLength',
  inputs: ['input_handle'],
  shape: (ctx) => {
    checkList(ctx, 0);
    return [{ dtype: 'int32', shape: [] }];
  },
  grad: null,
});

registerOp({
  type: 'TensorListPushBack',
  inputs: ['input_handle', 'tensor'],
  attrs: { element_dtype: 'type' },
  storesInput: 1,
  shape: (ctx) => {
    checkList(ctx, 0);
    if (ctx.inputs[1]!.dtype !== ctx.attr<DType>('element_dtype')) ctx.fail(`tensor ${ctx.inputs[1]!.name} is ${ctx.inputs[1]!.dtype}, the list holds ${ctx.attr<DType>('element_dtype')}`);
    return [LIST];
  },
  // d(list + [x]) = pop the last gradient off d(list).
  grad: (op, [dlist]) => {
    const x = op.inputs[1]!;
    const d = dlist ?? reserveLike(op.outputs[0]!, x);
    const [rest, dx] = list('TensorListPopBack', [d, elementShapeTensor(x)], listAttrs(op), 2);
    return [rest!, dx!];
  },
});

registerOp({
  type: 'TensorListPopBack',
  inputs: ['input_handle', 'element_shape'],
  attrs: { element_dtype: 'type' },
  shape: (ctx) => {
    checkList(ctx, 0);
    return [LIST, { dtype: ctx.attr<DType>('element_dtype'), shape: elementShapeOf(ctx, 1) }];
  },
  grad: (op, [dlist, dx]) => {
    const d = dlist ?? reserveLike(op.inputs[0]!, op.outputs[1]!, 1);
    const x = dx ?? A.zerosLike(op.outputs[1]!);
    return [list('TensorListPushBack', [d, x], listAttrs(op))[0]!, null];
  },
});

registerOp({
  type: 'TensorListSetItem',
  inputs: ['input_handle', 'index', 'item'],
  attrs: { element_dtype: 'type', resize_if_index_out_of_bounds: 'bool' },
  storesInput: 2,
  shape: (ctx) => {
    checkList(ctx, 0);
    checkScalarInt(ctx, 1, 'index');
    return [LIST];
  },
  grad: (op, [dlist]) => {
    const [, index, item] = op.inputs as [Tensor, Tensor, Tensor];
    if (!dlist) return [null, null, null];
    const ditem = list('TensorListGetItem', [dlist, index, elementShapeTensor(item)], listAttrs(op))[0]!;
    const rest = list('TensorListSetItem', [dlist, index, A.zerosLike(item)], listAttrs(op))[0]!;
    return [rest, null, ditem];
  },
});

registerOp({
  type: 'TensorListGetItem',
  inputs: ['input_handle', 'index', 'element_shape'],
  attrs: { element_dtype: 'type' },
  shape: (ctx) => {
    checkList(ctx, 0);
    checkScalarInt(ctx, 1, 'index');
    return [{ dtype: ctx.attr<DType>('element_dtype'), shape: elementShapeOf(ctx, 2) }];
  },
  grad: (op, [dy]) => {
    const [handle, index, shape] = op.inputs as [Tensor, Tensor, Tensor];
    const zeros = list('TensorListReserve', [shape, list('TensorListLength', [handle], {})[0]!], { ...listAttrs(op), shape_type: 'int32' })[0]!;
    return [list('TensorListSetItem', [zeros, index, dy!], listAttrs(op))[0]!, null, null];
  },
});

registerOp({
  type: 'TensorListStack',
  inputs: ['input_handle', 'element_shape'],
  attrs: { element_dtype: 'type', num_elements: 'int' },
  shape: (ctx) => {
    checkList(ctx, 0);
    const el = elementShapeOf(ctx, 1);
    const n = ctx.attr<number>('num_elements');
    return [{ dtype: ctx.attr<DType>('element_dtype'), shape: el === null ? null : [n >= 0 ? n : null, ...el] }];
  },
  grad: (op, [dy]) => [list('TensorListFromTensor', [dy!, op.inputs[1]!], { ...listAttrs(op), shape_type: 'int32' })[0]!, null],
});

registerOp({
  type: 'TensorListFromTensor',
  inputs: ['tensor', 'element_shape'],
  attrs: { element_dtype: 'type', shape_type: 'type' },
  shape: (ctx) => {
    const t = ctx.inputs[0]!;
    if (t.shape !== null && t.shape.length === 0) ctx.fail(`tensor ${t.name} must have rank >= 1 to be split into a list`);
    if (t.dtype !== ctx.attr<DType>('element_dtype')) ctx.fail(`tensor ${t.name} is ${t.dtype}, the list holds ${ctx.attr<DType>('element_dtype')}`);
    return [LIST];
  },
  grad: (op, [dlist]) => {
    const t = op.inputs[0]!;
    if (!dlist) return [null, null];
    const n = t.shape?.[0];
    return [list('TensorListStack', [dlist, op.inputs[1]!], { ...listAttrs(op), num_elements: typeof n === 'number' ? n : -1 })[0]!, null];
  },
});

registerOp({
  type: 'TensorListGather',
  inputs: ['input_handle', 'indices', 'element_shape'],
  attrs: { element_dtype: 'type' },
  shape: (ctx) => {
    checkList(ctx, 0);
    const idx = ctx.inputs[1]!;
    if (idx.dtype !== 'int32') ctx.fail(`indices ${idx.name} must be int32`);
    const el = elementShapeOf(ctx, 2);
    const n = idx.shape?.[0] ?? null;
    return [{ dtype: ctx.attr<DType>('element_dtype'), shape: el === null ? null : [n, ...el] }];
  },
  grad: (op, [dy]) => {
    const [handle, indices, shape] = op.inputs as [Tensor, Tensor, Tensor];
    const zeros = list('TensorListReserve', [shape, list('TensorListLength', [handle], {})[0]!], { ...listAttrs(op), shape_type: 'int32' })[0]!;
    return [list('TensorListScatterIntoExistingList', [zeros, dy!, indices], listAttrs(op))[0]!, null, null];
  },
});

registerOp({
  type: 'TensorListScatterIntoExistingList',
  inputs: ['input_handle', 'tensor', 'indices'],
  attrs: { element_dtype: 'type' },
  shape: (ctx) => {
    checkList(ctx, 0);
    return [LIST];
  },
  grad: (op, [dlist]) => {
    const [, tensor, indices] = op.inputs as [Tensor, Tensor, Tensor];
    if (!dlist) return [null, null, null];
    const elShape = A.slice(A.shape(tensor, 'int32'), [1], [-1]);
    const dt = list('TensorListGather', [dlist, indices, elShape], listAttrs(op))[0]!;
    const zeros = A.zerosLike(tensor);
    const rest = list('TensorListScatterIntoExistingList', [dlist, zeros, indices], listAttrs(op))[0]!;
    return [rest, dt, null];
  },
});

// TensorListScatter(V2): a new list from the rows of a tensor at indices; the gradient gathers them.
function scatterShape(ctx: ShapeContext): OutputSpec[] {
  const [t, idx] = [ctx.inputs[0]!, ctx.inputs[1]!];
  if (t.dtype !== ctx.attr<DType>('element_dtype')) ctx.fail(`tensor ${t.name} is ${t.dtype}, the list holds ${ctx.attr<DType>('element_dtype')}`);
  if (idx.dtype !== 'int32') ctx.fail(`indices ${idx.name} must be int32, got ${idx.dtype}`);
  if (t.shape !== null && t.shape.length === 0) ctx.fail(`tensor ${t.name} must have rank >= 1 to be scattered into a list`);
  if (idx.shape !== null && idx.shape.length !== 1) ctx.fail(`indices ${idx.name} must be a vector, got rank ${idx.shape.length}`);
  return [LIST];
}

function scatterGrad(op: Operation, dlist: Tensor | null): Tensor | null {
  if (!dlist) return null;
  const [tensor, indices] = op.inputs as [Tensor, Tensor];
  return list('TensorListGather', [dlist, indices, A.slice(A.shape(tensor, 'int32'), [1], [-1])], listAttrs(op))[0]!;
}

registerOp({
  type: 'TensorListScatter',
  inputs: ['tensor', 'indices', 'element_shape'],
  attrs: { element_dtype: 'type', shape_type: 'type' },
  shape: scatterShape,
  grad: (op, [dlist]) => [scatterGrad(op, dlist ?? null), null, null],
});

registerOp({
  type: 'TensorListScatterV2',
  inputs: ['tensor', 'indices', 'element_shape', 'num_elements'],
  attrs: { element_dtype: 'type', shape_type: 'type' },
  shape: (ctx) => {
    checkScalarInt(ctx, 3, 'num_elements');
    return scatterShape(ctx);
  },
  grad: (op, [dlist]) => [scatterGrad(op, dlist ?? null), null, null, null],
});

// TF's _TensorListResizeGrad: the gradient list cut (or padded) back to the input's length.
registerOp({
  type: 'TensorListResize',
  inputs: ['input_handle', 'size'],
  shape: (ctx) => {
    checkList(ctx, 0);
    checkScalarInt(ctx, 1, 'size');
    return [LIST];
  },
  grad: (op, [dlist]) => {
    if (!dlist) return [null, null];
    return [list('TensorListResize', [dlist, list('TensorListLength', [op.inputs[0]!], {})[0]!], {})[0]!, null];
  },
});

// The V1 concat: the element shape is an attr (its first dim may vary), no leading dims input.
registerOp({
  type: 'TensorListConcat',
  inputs: ['input_handle'],
  attrs: { element_dtype: 'type', element_shape: 'shape' },
  shape: (ctx) => {
    checkList(ctx, 0);
    const el = ctx.attr<Shape>('element_shape');
    return [
      { dtype: ctx.attr<DType>('element_dtype'), shape: el === null || el === undefined ? null : [null, ...el.slice(1)] },
      { dtype: 'int64', shape: [null] },
    ];
  },
  grad: (op, [dy]) => {
    const el = op.attrs.element_shape as Shape | undefined;
    return [list('TensorListSplit', [dy!, elementShapeConst(graphOf([dy!]), el ?? null), op.outputs[1]!], { ...listAttrs(op), shape_type: 'int32' })[0]!];
  },
});

registerOp({
  type: 'TensorListConcatV2',
  inputs: ['input_handle', 'element_shape', 'leading_dims'],
  attrs: { element_dtype: 'type', shape_type: 'type' },
  shape: (ctx) => {
    checkList(ctx, 0);
    const el = elementShapeOf(ctx, 1);
    return [
      { dtype: ctx.attr<DType>('element_dtype'), shape: el === null ? null : [null, ...el.slice(1)] },
      { dtype: 'int64', shape: [null] },
    ];
  },
  grad: (op, [dy]) => {
    const [, shape] = op.inputs as [Tensor, Tensor];
    return [list('TensorListSplit', [dy!, shape, op.outputs[1]!], { ...listAttrs(op), shape_type: 'int32' })[0]!, null, null];
  },
});

registerOp({
  type: 'TensorListSplit',
  inputs: ['tensor', 'element_shape', 'lengths'],
  attrs: { element_dtype: 'type', shape_type: 'type' },
  shape: (ctx) => {
    const l = ctx.inputs[2]!;
    if (l.dtype !== 'int64') ctx.fail(`lengths ${l.name} must be int64`);
    return [LIST];
  },
  grad: (op, [dlist]) => {
    if (!dlist) return [null, null, null];
    const [tensor, shape] = op.inputs as [Tensor, Tensor];
    const dt = list('TensorListConcatV2', [dlist, shape, constant(new BigInt64Array(0), 'int64')], { ...listAttrs(op), shape_type: 'int32' })[0]!;
    dt.setShape(mergeShapes(dt.shape, tensor.shape));
    return [dt, null, null];
  },
});

/** A list like `handle` (as long) whose elements read as zeros shaped like `like`: a missing list gradient. */
function reserveLike(handle: Tensor, like: Tensor, extra = 0): Tensor {
  let n = list('TensorListLength', [handle], {})[0]!;
  if (extra) n = graphOf([n]).createOp('AddV2', [n, constant(extra, 'int32')], { T: 'int32' }).outputs[0]!;
  return list('TensorListReserve', [elementShapeTensor(like), n], { element_dtype: like.dtype, shape_type: 'int32' })[0]!;
}
