// Convolution and pooling ops: Conv2D and its two backprops, depthwise convolution, max and average
// pooling, with TensorFlow's attrs, output-size arithmetic (including SAME's asymmetric padding) and
// gradients (each gradient op has a gradient of its own, so second order works through them).
import type { AttrValue, Operation, Tensor } from '../src/graph.js';
import { makeConst, graphOf } from '../src/convert.js';
import { NDArray } from '../src/core/ndarray.js';
import { formatShape, isFullyDefined, type Dim, type Shape } from '../src/core/shape.js';
import { shape as shapeOp, zerosLike } from '../src/api/array.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, FLOAT, withRank } from './util.js';
import { layoutDims, readWindowAttrs, windowedOutputSize, type DataFormat, type WindowAttrs } from './semantics/window.js';

// ---- shape-function helpers ----

function windowAttrs(ctx: ShapeContext, opts: { dilations?: boolean; explicit?: boolean; listName?: string }): WindowAttrs {
  return readWindowAttrs((n) => optionalAttr(ctx, n), ctx.fail, opts);
}

function optionalAttr(ctx: ShapeContext, name: string): AttrValue | undefined {
  try {
    return ctx.attr<AttrValue>(name);
  } catch {
    return undefined;
  }
}

/** Output size of one spatial dim when input and filter sizes are known, else null. */
function outDim(ctx: ShapeContext, inSize: Dim, k: Dim, a: WindowAttrs, i: 0 | 1): Dim {
  if (inSize === null || k === null) return null;
  const r = windowedOutputSize(inSize, k, a.dilations[i], a.strides[i], a.padding, a.explicit[i]);
  if (typeof r === 'string') ctx.fail(r);
  return r.size;
}

function mergeDim(ctx: ShapeContext, a: Dim, b: Dim, what: string): Dim {
  if (a !== null && b !== null && a !== b) ctx.fail(`${what}: ${a} vs ${b}`);
  return a ?? b;
}

/** Builds a 4-D shape in the given layout from named dims. */
function makeShape(format: DataFormat, n: Dim, h: Dim, w: Dim, c: Dim): Dim[] {
  return format === 'NHWC' ? [n, h, w, c] : [n, c, h, w];
}

function sameFloatDType(ctx: ShapeContext, indices: number[], names: string[]): OutputSpec['dtype'] {
  const dt = checkDType(ctx, indices[0]!, FLOAT, names[0]);
  for (let k = 1; k < indices.length; k++) {
    const t = ctx.inputs[indices[k]!]!;
    if (t.dtype !== dt) ctx.fail(`${names[k]} (${t.name}) is ${t.dtype} but ${names[0]} (${ctx.inputs[indices[0]!]!.name}) is ${dt}; they must match`);
  }
  return dt;
}

/**
 * A 4-element shape given as an int32 vector input (input_sizes, filter_sizes, orig_input_shape):
 * its value when known while building, else four unknown dims. TF also accepts [height, width] for
 * input_sizes, with batch and depth taken from the other inputs (returned here as nulls).
 */
function shapeInput(ctx: ShapeContext, i: number, what: string, allowTwo: boolean, format: DataFormat): Dim[] {
  checkDType(ctx, i, ['int32'], what);
  const s = ctx.inputs[i]!.shape;
  if (s !== null && s.length !== 1) ctx.fail(`${what} (${ctx.inputs[i]!.name}) must be a vector, got shape ${formatShape(s)}`);
  const len = s?.[0] ?? null;
  if (len !== null && len !== 4 && !(allowTwo && len === 2)) {
    ctx.fail(`${what} (${ctx.inputs[i]!.name}) must have 4 elements${allowTwo ? ' (or 2: height and width)' : ''}, got ${len}`);
  }
  const v = ctx.constValue(i);
  if (!v) {
    // shape(t) of a partially known t (what gradients build when the batch is unknown): t's static dims.
    const known = ctx.inputs[i]!.knownElements;
    return known !== undefined && known.length === 4 ? [...known] : [null, null, null, null];
  }
  const vals = Array.from(v.data as Int32Array);
  for (const d of vals) if (d < 0) ctx.fail(`${what} has a negative dimension: [${vals.join(', ')}]`);
  if (vals.length === 2) {
    const d = layoutDims(format);
    const out: Dim[] = [null, null, null, null];
    out[d.h] = vals[0]!;
    out[d.w] = vals[1]!;
    return out;
  }
  return vals;
}

// ---- shape functions ----

interface ConvKind {
  /** 'Conv2D' or 'DepthwiseConv2dNative': the output depth is out_channels, or in_channels * multiplier. */
  depthwise: boolean;
}

/** Conv2D / DepthwiseConv2dNative(input, filter). */
function convShape(kind: ConvKind) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dtype = sameFloatDType(ctx, [0, 1], ['input', 'filter']);
    const a = windowAttrs(ctx, { dilations: true, explicit: true });
    const d = layoutDims(a.format);
    const x = withRank(ctx, 0, 4, 'input');
    const f = withRank(ctx, 1, 4, 'filter');
    const inDepth = mergeDim(ctx, x[d.c]!, f[2]!, `input depth (${ctx.inputs[0]!.name}, dim ${d.c} in ${a.format}) must equal the filter's in_channels (${ctx.inputs[1]!.name}, dim 2)`);
    const oh = outDim(ctx, x[d.h]!, f[0]!, a, 0);
    const ow = outDim(ctx, x[d.w]!, f[1]!, a, 1);
    const oc = kind.depthwise ? (inDepth !== null && f[3] !== null ? inDepth * f[3]! : null) : f[3]!;
    return [{ dtype, shape: makeShape(a.format, x[d.n]!, oh, ow, oc) }];
  };
}

/**
 * Checks that out_backprop's spatial dims are what the forward op would produce from the input and
 * filter sizes, and that its depth matches the filter.
 */
function checkOutBackprop(ctx: ShapeContext, kind: ConvKind, a: WindowAttrs, x: Dim[], f: Dim[], dy: Dim[]): void {
  const d = layoutDims(a.format);
  const name = ctx.inputs[2]!.name;
  mergeDim(ctx, x[d.n]!, dy[d.n]!, `batch of the input does not match out_backprop (${name})`);
  const oh = outDim(ctx, x[d.h]!, f[0]!, a, 0);
  const ow = outDim(ctx, x[d.w]!, f[1]!, a, 1);
  mergeDim(ctx, oh, dy[d.h]!, `out_backprop (${name}) height does not match the height computed from the input and filter`);
  mergeDim(ctx, ow, dy[d.w]!, `out_backprop (${name}) width does not match the width computed from the input and filter`);
  const depth = x[d.c]!;
  const oc = kind.depthwise ? (depth !== null && f[3] !== null ? depth * f[3]! : null) : f[3]!;
  mergeDim(ctx, oc, dy[d.c]!, `out_backprop (${name}) depth does not match the filter's ${kind.depthwise ? 'in_channels * channel_multiplier' : 'out_channels'}`);
}

/** Conv2DBackpropInput / DepthwiseConv2dNativeBackpropInput(input_sizes, filter, out_backprop). */
function backpropInputShape(kind: ConvKind) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dtype = sameFloatDType(ctx, [1, 2], ['filter', 'out_backprop']);
    const a = windowAttrs(ctx, { dilations: true, explicit: true });
    const d = layoutDims(a.format);
    const sizes = shapeInput(ctx, 0, 'input_sizes', true, a.format);
    const f = withRank(ctx, 1, 4, 'filter');
    const dy = withRank(ctx, 2, 4, 'out_backprop');
    const x = [...sizes];
    x[d.n] = mergeDim(ctx, sizes[d.n]!, dy[d.n]!, `input_sizes batch does not match out_backprop (${ctx.inputs[2]!.name})`);
    x[d.c] = mergeDim(ctx, sizes[d.c]!, f[2]!, `input_sizes depth does not match the filter's in_channels (${ctx.inputs[1]!.name}, dim 2)`);
    checkOutBackprop(ctx, kind, a, x, f, dy);
    return [{ dtype, shape: x }];
  };
}

/** Conv2DBackpropFilter / DepthwiseConv2dNativeBackpropFilter(input, filter_sizes, out_backprop). */
function backpropFilterShape(kind: ConvKind) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dtype = sameFloatDType(ctx, [0, 2], ['input', 'out_backprop']);
    const a = windowAttrs(ctx, { dilations: true, explicit: true });
    const d = layoutDims(a.format);
    const x = withRank(ctx, 0, 4, 'input');
    const sizes = shapeInput(ctx, 1, 'filter_sizes', false, 'NHWC');
    const dy = withRank(ctx, 2, 4, 'out_backprop');
    const f = [...sizes];
    f[2] = mergeDim(ctx, sizes[2]!, x[d.c]!, `filter_sizes in_channels does not match the input depth (${ctx.inputs[0]!.name})`);
    if (!kind.depthwise) {
      f[3] = mergeDim(ctx, sizes[3]!, dy[d.c]!, `filter_sizes out_channels does not match the out_backprop depth (${ctx.inputs[2]!.name})`);
    } else if (f[3] === null && f[2] !== null && dy[d.c] !== null && f[2] > 0) {
      if (dy[d.c]! % f[2] !== 0) ctx.fail(`out_backprop depth ${dy[d.c]} is not a multiple of the input depth ${f[2]}`);
      f[3] = dy[d.c]! / f[2];
    }
    checkOutBackprop(ctx, kind, a, x, f, dy);
    return [{ dtype, shape: f }];
  };
}

/** Pool attrs: ksize and strides, spatial only. */
function poolAttrs(ctx: ShapeContext): { a: WindowAttrs; ksize: [number, number] } {
  const a = windowAttrs(ctx, {});
  const k = windowAttrs(ctx, { listName: 'ksize' }).strides;
  return { a, ksize: k };
}

/** MaxPool / AvgPool(value). */
function poolShape(ctx: ShapeContext): OutputSpec[] {
  const dtype = checkDType(ctx, 0, FLOAT, 'input');
  const { a, ksize } = poolAttrs(ctx);
  const d = layoutDims(a.format);
  const x = withRank(ctx, 0, 4, 'input');
  const oh = outDim(ctx, x[d.h]!, ksize[0], a, 0);
  const ow = outDim(ctx, x[d.w]!, ksize[1], a, 1);
  return [{ dtype, shape: makeShape(a.format, x[d.n]!, oh, ow, x[d.c]!) }];
}

function mergeShapeOrFail(ctx: ShapeContext, s: Dim[], t: Dim[], what: string): Dim[] {
  return s.map((dim, i) => mergeDim(ctx, dim, t[i]!, `${what} (dim ${i}: ${formatShape(s)} vs ${formatShape(t)})`));
}

/** Checks orig_input / orig_output / a pooled-size tensor agree with the pool's window arithmetic. */
function poolPairShapes(ctx: ShapeContext, x: Dim[], y: Dim[], what: string): Dim[] {
  const { a, ksize } = poolAttrs(ctx);
  const d = layoutDims(a.format);
  const expected = makeShape(a.format, x[d.n]!, outDim(ctx, x[d.h]!, ksize[0], a, 0), outDim(ctx, x[d.w]!, ksize[1], a, 1), x[d.c]!);
  return mergeShapeOrFail(ctx, expected, y, `${what} does not have the pooled shape of the input`);
}

/** MaxPoolGrad(orig_input, orig_output, grad) -> shape of orig_input; MaxPoolGradGrad -> shape of orig_output. */
function maxPoolGradShape(outputIsInput: boolean) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dtype = sameFloatDType(ctx, [0, 1, 2], ['orig_input', 'orig_output', 'grad']);
    const x = withRank(ctx, 0, 4, 'orig_input');
    const y = withRank(ctx, 1, 4, 'orig_output');
    const g = withRank(ctx, 2, 4, 'grad');
    if (outputIsInput) {
      poolPairShapes(ctx, x, mergeShapeOrFail(ctx, y, g, 'grad must have the shape of orig_output'), 'orig_output');
      return [{ dtype, shape: x }];
    }
    const xx = mergeShapeOrFail(ctx, x, g, 'grad must have the shape of orig_input');
    return [{ dtype, shape: poolPairShapes(ctx, xx, y, 'orig_output') }];
  };
}

/** AvgPoolGrad(orig_input_shape, grad) -> orig_input_shape. */
function avgPoolGradShape(ctx: ShapeContext): OutputSpec[] {
  const dtype = checkDType(ctx, 1, FLOAT, 'grad');
  const { a } = poolAttrs(ctx);
  const x = shapeInput(ctx, 0, 'orig_input_shape', false, a.format);
  const g = withRank(ctx, 1, 4, 'grad');
  const d = layoutDims(a.format);
  x[d.n] = mergeDim(ctx, x[d.n]!, g[d.n]!, `orig_input_shape batch does not match grad (${ctx.inputs[1]!.name})`);
  x[d.c] = mergeDim(ctx, x[d.c]!, g[d.c]!, `orig_input_shape depth does not match grad (${ctx.inputs[1]!.name})`);
  poolPairShapes(ctx, x, g, 'grad');
  return [{ dtype, shape: x }];
}

// ---- gradients ----

const CONV_ATTRS = ['strides', 'padding', 'explicit_paddings', 'data_format', 'dilations', 'use_cudnn_on_gpu'];
const POOL_ATTRS = ['ksize', 'strides', 'padding', 'data_format'];

function copyAttrs(op: Operation, names: readonly string[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = { T: op.getAttr('T') };
  for (const n of names) if (op.hasAttr(n)) out[n] = op.getAttr(n);
  return out;
}

function make(op: Operation, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>): Tensor {
  return graphOf(op.inputs).createOp(type, inputs, attrs).outputs[0]!;
}

/** The shape of t as an int32 vector: a constant when static, else a Shape op. */
function shapeVector(t: Tensor): Tensor {
  const s: Shape = t.shape;
  if (isFullyDefined(s)) return makeConst(graphOf([t]), NDArray.from(Int32Array.from(s), 'int32', [s.length]), 'Shape');
  return shapeOp(t);
}

function convAttrs(op: Operation, depthwise: boolean): Record<string, AttrValue> {
  const a = copyAttrs(op, CONV_ATTRS);
  if (depthwise) delete a.use_cudnn_on_gpu;
  return a;
}

function convOps(depthwise: boolean) {
  return depthwise
    ? { fwd: 'DepthwiseConv2dNative', bpi: 'DepthwiseConv2dNativeBackpropInput', bpf: 'DepthwiseConv2dNativeBackpropFilter' }
    : { fwd: 'Conv2D', bpi: 'Conv2DBackpropInput', bpf: 'Conv2DBackpropFilter' };
}

function convGrad(depthwise: boolean) {
  const t = convOps(depthwise);
  return (op: Operation, [grad]: (Tensor | null)[]): (Tensor | null)[] => {
    const [x, w] = op.inputs as [Tensor, Tensor];
    const attrs = convAttrs(op, depthwise);
    return [make(op, t.bpi, [shapeVector(x), w, grad!], attrs), make(op, t.bpf, [x, shapeVector(w), grad!], attrs)];
  };
}

/** d/d(filter) of BackpropInput(sizes, filter, dy) is BackpropFilter(grad, shape(filter), dy); d/d(dy) is the forward conv of grad. */
function backpropInputGrad(depthwise: boolean) {
  const t = convOps(depthwise);
  return (op: Operation, [grad]: (Tensor | null)[]): (Tensor | null)[] => {
    const [, w, dy] = op.inputs as [Tensor, Tensor, Tensor];
    const attrs = convAttrs(op, depthwise);
    return [null, make(op, t.bpf, [grad!, shapeVector(w), dy], attrs), make(op, t.fwd, [grad!, w], attrs)];
  };
}

/** d/d(input) of BackpropFilter(x, sizes, dy) is BackpropInput(shape(x), grad, dy); d/d(dy) is the forward conv of x with grad. */
function backpropFilterGrad(depthwise: boolean) {
  const t = convOps(depthwise);
  return (op: Operation, [grad]: (Tensor | null)[]): (Tensor | null)[] => {
    const [x, , dy] = op.inputs as [Tensor, Tensor, Tensor];
    const attrs = convAttrs(op, depthwise);
    return [make(op, t.bpi, [shapeVector(x), grad!, dy], attrs), null, make(op, t.fwd, [x, grad!], attrs)];
  };
}

// ---- op definitions ----

const CONV_ATTR_TYPES = {
  T: 'type',
  strides: 'list(int)',
  padding: 'string',
  explicit_paddings: 'list(int)',
  data_format: 'string',
  dilations: 'list(int)',
} as const;
const CONV2D_ATTR_TYPES = { ...CONV_ATTR_TYPES, use_cudnn_on_gpu: 'bool' } as const;
const POOL_ATTR_TYPES = { T: 'type', ksize: 'list(int)', strides: 'list(int)', padding: 'string', data_format: 'string' } as const;

const CONV = { depthwise: false };
const DEPTHWISE = { depthwise: true };

registerOp({ type: 'Conv2D', inputs: ['input', 'filter'], attrs: CONV2D_ATTR_TYPES, shape: convShape(CONV), grad: convGrad(false) });
registerOp({ type: 'Conv2DBackpropInput', inputs: ['input_sizes', 'filter', 'out_backprop'], attrs: CONV2D_ATTR_TYPES, shape: backpropInputShape(CONV), grad: backpropInputGrad(false) });
registerOp({ type: 'Conv2DBackpropFilter', inputs: ['input', 'filter_sizes', 'out_backprop'], attrs: CONV2D_ATTR_TYPES, shape: backpropFilterShape(CONV), grad: backpropFilterGrad(false) });

registerOp({ type: 'DepthwiseConv2dNative', inputs: ['input', 'filter'], attrs: CONV_ATTR_TYPES, shape: convShape(DEPTHWISE), grad: convGrad(true) });
registerOp({
  type: 'DepthwiseConv2dNativeBackpropInput',
  inputs: ['input_sizes', 'filter', 'out_backprop'],
  attrs: CONV_ATTR_TYPES,
  shape: backpropInputShape(DEPTHWISE),
  grad: backpropInputGrad(true),
});
registerOp({
  type: 'DepthwiseConv2dNativeBackpropFilter',
  inputs: ['input', 'filter_sizes', 'out_backprop'],
  attrs: CONV_ATTR_TYPES,
  shape: backpropFilterShape(DEPTHWISE),
  grad: backpropFilterGrad(true),
});

registerOp({
  type: 'MaxPool',
  inputs: ['input'],
  attrs: POOL_ATTR_TYPES,
  shape: poolShape,
  grad: (op, [grad]) => [make(op, 'MaxPoolGrad', [op.inputs[0]!, op.outputs[0]!, grad!], copyAttrs(op, POOL_ATTRS))],
});

// The max positions are fixed by orig_input, so MaxPoolGrad is linear in grad and locally constant in
// orig_input and orig_output: their gradients are zeros, and grad's is the forward gather (MaxPoolGradGrad).
registerOp({
  type: 'MaxPoolGrad',
  inputs: ['orig_input', 'orig_output', 'grad'],
  attrs: POOL_ATTR_TYPES,
  shape: maxPoolGradShape(true),
  grad: (op, [grad]) => {
    const [x, y] = op.inputs as [Tensor, Tensor];
    return [zerosLike(x), zerosLike(y), make(op, 'MaxPoolGradGrad', [x, y, grad!], copyAttrs(op, POOL_ATTRS))];
  },
});

registerOp({
  type: 'MaxPoolGradGrad',
  inputs: ['orig_input', 'orig_output', 'grad'],
  attrs: POOL_ATTR_TYPES,
  shape: maxPoolGradShape(false),
  grad: (op, [grad]) => {
    const [x, y] = op.inputs as [Tensor, Tensor];
    return [zerosLike(x), zerosLike(y), make(op, 'MaxPoolGrad', [x, y, grad!], copyAttrs(op, POOL_ATTRS))];
  },
});

registerOp({
  type: 'AvgPool',
  inputs: ['value'],
  attrs: POOL_ATTR_TYPES,
  shape: poolShape,
  grad: (op, [grad]) => [make(op, 'AvgPoolGrad', [shapeVector(op.inputs[0]!), grad!], copyAttrs(op, POOL_ATTRS))],
});

registerOp({
  type: 'AvgPoolGrad',
  inputs: ['orig_input_shape', 'grad'],
  attrs: POOL_ATTR_TYPES,
  shape: avgPoolGradShape,
  grad: (op, [grad]) => [null, make(op, 'AvgPool', [grad!], copyAttrs(op, POOL_ATTRS))],
});
