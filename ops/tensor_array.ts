// TensorFlow 1's resource TensorArray ops (the V3 family of tensorflow/core/ops/data_flow_ops.cc),
// which TF1 graphs and TensorFlow graphs built without control flow v2 hold. weir's own
// tf.TensorArray is TF2's TensorList (ops/list.ts); these ops exist so such graphs import and run.
//
// The array is a per-run resource TensorArrayV3 creates: a mutable object the runtime keeps
// (runtime/tensor_array.ts). Its handle is a `variant` scalar here; GraphDefs hold it as TF's
// DT_RESOURCE (src/io/graph_def.ts writes TF's OpDefs for these ops). Every op that reads or changes
// the array takes a float `flow` scalar and the ops that change it return one: the flow orders the
// ops (its value means nothing), and gradients travel along it, as in TF.
//
// Gradients are TF's (tensorflow/python/ops/tensor_array_grad.py): each backward op finds the
// gradient array of its forward array (TensorArrayGradV3, keyed by the gradients call it belongs
// to) and does the dual of the forward op on it: a read writes, a write reads, a gather scatters, a
// scatter gathers, a concat splits and a split concatenates. Gradient arrays add up writes to one
// index, and read as zeros where nothing was written.
import { isDType, type DType } from '../src/core/dtypes.js';
import type { Shape } from '../src/core/shape.js';
import type { Operation, Tensor } from '../src/graph.js';
import { graphOf } from '../src/convert.js';
import { registerOp, type OpDef, type OutputSpec, type ShapeContext } from './registry.js';

const HANDLE: OutputSpec = { dtype: 'variant', shape: [] };
const FLOW: OutputSpec = { dtype: 'float32', shape: [] };

/** The V3 op types: the runtime runs each of them (runtime/tensor_array.ts). */
export const TENSOR_ARRAY_OPS = [
  'TensorArrayV3',
  'TensorArrayGradV3',
  'TensorArrayWriteV3',
  'TensorArrayReadV3',
  'TensorArrayGatherV3',
  'TensorArrayScatterV3',
  'TensorArrayConcatV3',
  'TensorArraySplitV3',
  'TensorArraySizeV3',
  'TensorArrayCloseV3',
] as const;

function checkHandle(ctx: ShapeContext, i: number): void {
  const t = ctx.inputs[i]!;
  if (t.dtype !== 'variant') ctx.fail(`handle (${t.name}) must be a TensorArray handle, got ${t.dtype}`);
  if (t.shape !== null && t.shape.length !== 0) ctx.fail(`handle (${t.name}) must be a scalar, got rank ${t.shape.length}`);
}

function checkFlow(ctx: ShapeContext, i: number): void {
  const t = ctx.inputs[i]!;
  if (t.dtype !== 'float32') ctx.fail(`flow_in (${t.name}) must be float32, got ${t.dtype}`);
  if (t.shape !== null && t.shape.length !== 0) ctx.fail(`flow_in (${t.name}) must be a scalar, got rank ${t.shape.length}`);
}

function checkInt(ctx: ShapeContext, i: number, what: string, rank: number, dtype: DType = 'int32'): void {
  const t = ctx.inputs[i]!;
  if (t.dtype !== dtype) ctx.fail(`${what} (${t.name}) must be ${dtype}, got ${t.dtype}`);
  if (t.shape !== null && t.shape.length !== rank) ctx.fail(`${what} (${t.name}) must be ${rank === 0 ? 'a scalar' : 'a vector'}, got rank ${t.shape.length}`);
}

/** The op's dtype attr: the element type of the array it reads. */
function dtypeAttr(ctx: ShapeContext): DType {
  const d = ctx.attr<unknown>('dtype');
  if (!isDType(d)) ctx.fail(`attr 'dtype' must be a dtype, got ${String(d)}`);
  return d;
}

/** A write's value against the op's T attr. */
function checkValue(ctx: ShapeContext, i: number, minRank = 0): void {
  const v = ctx.inputs[i]!;
  const T = ctx.attr<DType>('T');
  if (T !== undefined && v.dtype !== T) ctx.fail(`value (${v.name}) is ${v.dtype}, but T is ${T}`);
  if (minRank > 0 && v.shape !== null && v.shape.length < minRank) ctx.fail(`value (${v.name}) must be at least a vector, got a scalar`);
}

/** An op's dtype attr (the array's element type). */
const dtypeOf = (op: Operation, attr = 'dtype'): DType => op.attrs[attr] as DType;

function create(op: string, inputs: readonly Tensor[], attrs: Record<string, unknown>): Tensor[] {
  return graphOf(inputs).createOp(op, inputs, attrs as never).outputs;
}

/**
 * TF's _GetGradSource: the name scope of the tf.gradients call being built ('gradients',
 * 'gradients_1', 'outer/gradients', ...), so that each call gets its own gradient array. TF reads it
 * off the incoming gradient's name; weir reads the scope the gradient function runs in (the same
 * scope, also for a grad_ys tensor made outside it, which TF renames into it and weir does not).
 */
function gradSource(t: Tensor): string {
  const scope = t.graph.getNameScope() || t.name;
  const parts = scope.split('/');
  let last = -1;
  parts.forEach((p, i) => {
    if (p.startsWith('gradients')) last = i;
  });
  return last < 0 ? 'gradients' : parts.slice(0, last + 1).join('/');
}

/**
 * TF's TensorArray.grad: the gradient array of `handle` for the gradients call `source`, and a flow
 * that orders the ops on it after its creation.
 */
function gradArray(handle: Tensor, flow: Tensor, source: string): { handle: Tensor; flow: Tensor } {
  const g = graphOf([handle, flow]);
  return g.nameScope('TensorArrayGrad', () => {
    const [gh] = create('TensorArrayGradV3', [handle, flow], { source }) as [Tensor, Tensor];
    const gflow = g.controlDependencies([gh.op], () => create('Identity', [flow], { T: 'float32' })[0]!);
    return { handle: gh, flow: gflow };
  });
}

/** TF's write barrier: the flow a write's gradient reads after, once the forward write has run. */
function afterWrite(op: Operation, flow: Tensor): Tensor {
  const g = graphOf([flow]);
  const done = create('Identity', [op.outputs[0]!], { T: 'float32' })[0]!;
  return g.controlDependencies([done.op], () => create('Identity', [flow], { T: 'float32' })[0]!);
}

function register(def: OpDef): void {
  registerOp({ ...def, stateful: true });
}

// Every op is stateful: they create, change or observe a per-run resource, so no pass may fold,
// merge or drop one (two reads of one index are not one read when the first clears it).

register({
  type: 'TensorArrayV3',
  inputs: ['size'],
  attrs: {
    dtype: 'type',
    element_shape: 'shape',
    dynamic_size: 'bool',
    clear_after_read: 'bool',
    identical_element_shapes: 'bool',
    tensor_array_name: 'string',
  },
  shape: (ctx) => {
    checkInt(ctx, 0, 'size', 0);
    dtypeAttr(ctx);
    return [HANDLE, FLOW];
  },
  grad: null,
});

register({
  type: 'TensorArrayGradV3',
  inputs: ['handle', 'flow_in'],
  attrs: { source: 'string' },
  shape: (ctx) => {
    checkHandle(ctx, 0);
    checkFlow(ctx, 1);
    return [HANDLE, FLOW];
  },
  grad: null,
});

register({
  type: 'TensorArrayWriteV3',
  inputs: ['handle', 'index', 'value', 'flow_in'],
  attrs: { T: 'type' },
  storesInput: 2,
  shape: (ctx) => {
    checkHandle(ctx, 0);
    checkInt(ctx, 1, 'index', 0);
    checkValue(ctx, 2);
    checkFlow(ctx, 3);
    return [FLOW];
  },
  // The value's gradient is what the gradient array holds at the index (zeros if nothing was read).
  grad: (op, [flow]) => {
    if (!flow) return [null, null, null, null];
    const [handle, index] = op.inputs as [Tensor, Tensor];
    const g = gradArray(handle, afterWrite(op, flow), gradSource(flow));
    const [dv] = create('TensorArrayReadV3', [g.handle, index, g.flow], { dtype: dtypeOf(op, 'T') });
    if (op.inputs[2]!.shape !== null) dv!.setShape(op.inputs[2]!.shape);
    return [null, null, dv!, flow];
  },
});

register({
  type: 'TensorArrayReadV3',
  inputs: ['handle', 'index', 'flow_in'],
  attrs: { dtype: 'type' },
  shape: (ctx) => {
    checkHandle(ctx, 0);
    checkInt(ctx, 1, 'index', 0);
    checkFlow(ctx, 2);
    return [{ dtype: dtypeAttr(ctx), shape: null }];
  },
  grad: (op, [dy]) => {
    if (!dy) return [null, null, null];
    const [handle, index, flow] = op.inputs as [Tensor, Tensor, Tensor];
    const g = gradArray(handle, flow, gradSource(dy));
    const [w] = create('TensorArrayWriteV3', [g.handle, index, dy, g.flow], { T: dtypeOf(op) });
    return [null, null, w!];
  },
});

register({
  type: 'TensorArrayGatherV3',
  inputs: ['handle', 'indices', 'flow_in'],
  attrs: { dtype: 'type', element_shape: 'shape' },
  shape: (ctx) => {
    checkHandle(ctx, 0);
    checkInt(ctx, 1, 'indices', 1);
    checkFlow(ctx, 2);
    const el = ctx.attr<Shape | undefined>('element_shape') ?? null;
    const n = ctx.inputs[1]!.shape?.[0] ?? null;
    return [{ dtype: dtypeAttr(ctx), shape: el === null ? null : [n, ...el] }];
  },
  grad: (op, [dy]) => {
    if (!dy) return [null, null, null];
    const [handle, indices, flow] = op.inputs as [Tensor, Tensor, Tensor];
    const g = gradArray(handle, flow, gradSource(dy));
    const [s] = create('TensorArrayScatterV3', [g.handle, indices, dy, g.flow], { T: dtypeOf(op) });
    return [null, null, s!];
  },
});

register({
  type: 'TensorArrayScatterV3',
  inputs: ['handle', 'indices', 'value', 'flow_in'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkHandle(ctx, 0);
    checkInt(ctx, 1, 'indices', 1);
    checkValue(ctx, 2, 1);
    checkFlow(ctx, 3);
    const [idx, v] = [ctx.inputs[1]!, ctx.inputs[2]!];
    const n = idx.shape?.[0];
    const m = v.shape?.[0];
    if (typeof n === 'number' && typeof m === 'number' && n !== m) ctx.fail(`${n} indices for a value of ${m} rows`);
    return [FLOW];
  },
  grad: (op, [flow]) => {
    if (!flow) return [null, null, null, null];
    const [handle, indices, value] = op.inputs as [Tensor, Tensor, Tensor];
    const g = gradArray(handle, afterWrite(op, flow), gradSource(flow));
    const el = value.shape === null ? null : value.shape.slice(1);
    const [dv] = create('TensorArrayGatherV3', [g.handle, indices, g.flow], { dtype: dtypeOf(op, 'T'), element_shape: el });
    if (value.shape !== null) dv!.setShape(value.shape);
    return [null, null, dv!, flow];
  },
});

register({
  type: 'TensorArrayConcatV3',
  inputs: ['handle', 'flow_in'],
  attrs: { dtype: 'type', element_shape_except0: 'shape' },
  shape: (ctx) => {
    checkHandle(ctx, 0);
    checkFlow(ctx, 1);
    const rest = ctx.attr<Shape | undefined>('element_shape_except0') ?? null;
    return [
      { dtype: dtypeAttr(ctx), shape: rest === null ? null : [null, ...rest] },
      { dtype: 'int64', shape: [null] },
    ];
  },
  grad: (op, [dy]) => {
    if (!dy) return [null, null];
    const [handle, flow] = op.inputs as [Tensor, Tensor];
    const g = gradArray(handle, flow, gradSource(dy));
    const [s] = create('TensorArraySplitV3', [g.handle, dy, op.outputs[1]!, g.flow], { T: dtypeOf(op) });
    return [null, s!];
  },
});

register({
  type: 'TensorArraySplitV3',
  inputs: ['handle', 'value', 'lengths', 'flow_in'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkHandle(ctx, 0);
    checkValue(ctx, 1, 1);
    checkInt(ctx, 2, 'lengths', 1, 'int64');
    checkFlow(ctx, 3);
    return [FLOW];
  },
  grad: (op, [flow]) => {
    if (!flow) return [null, null, null, null];
    const [handle, value] = op.inputs as [Tensor, Tensor];
    const g = gradArray(handle, afterWrite(op, flow), gradSource(flow));
    const rest = value.shape === null ? null : value.shape.slice(1);
    const [dv] = create('TensorArrayConcatV3', [g.handle, g.flow], { dtype: dtypeOf(op, 'T'), element_shape_except0: rest });
    if (value.shape !== null) dv!.setShape(value.shape);
    return [null, dv!, null, flow];
  },
});

register({
  type: 'TensorArraySizeV3',
  inputs: ['handle', 'flow_in'],
  shape: (ctx) => {
    checkHandle(ctx, 0);
    checkFlow(ctx, 1);
    return [{ dtype: 'int32', shape: [] }];
  },
  grad: null,
});

register({
  type: 'TensorArrayCloseV3',
  inputs: ['handle'],
  shape: (ctx) => {
    checkHandle(ctx, 0);
    return [];
  },
  grad: null,
});
