// 3-D convolution and pooling (Conv3D and its V2 backprops, MaxPool3D, AvgPool3D and their
// gradients), morphological dilation (Dilation2D and its backprops) and max pooling with argmax, with
// TensorFlow's op names, attrs, output-size arithmetic and gradients (nn_grad.py).
import type { AttrValue, Operation, Tensor } from '../src/graph.js';
import { graphOf } from '../src/convert.js';
import { formatShape, type Dim } from '../src/core/shape.js';
import type { DType } from '../src/core/dtypes.js';
import { shape as shapeOp, zerosLike } from '../src/api/array.js';
import { partialVector } from './array.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, FLOAT, withRank } from './util.js';
import { readWindowAttrs, windowedOutputSize, type Padding } from './semantics/window.js';

// ---- attrs ----

function optionalAttr(ctx: ShapeContext, name: string): AttrValue | undefined {
  try {
    return ctx.attr<AttrValue>(name);
  } catch {
    return undefined;
  }
}

type Format3D = 'NDHWC' | 'NCDHW';

/** Positions of the batch, channel and spatial (depth, height, width) dims of a 5-D tensor. */
function dims3d(format: Format3D): { n: number; c: number; s: [number, number, number] } {
  return format === 'NDHWC' ? { n: 0, c: 4, s: [1, 2, 3] } : { n: 0, c: 1, s: [2, 3, 4] };
}

interface Window3D {
  format: Format3D;
  padding: Padding;
  /** [depth, height, width] each. */
  strides: number[];
  ksize: number[];
  dilations: number[];
}

/**
 * The attrs of a 3-D window op, validated as TensorFlow does: 5-element lists that are 1 in the
 * batch and channel dims, padding SAME or VALID. `ksize` for pools, `dilations` for convolutions.
 */
function window3d(ctx: ShapeContext, opts: { ksize?: boolean; dilations?: boolean }): Window3D {
  const format = (optionalAttr(ctx, 'data_format') ?? 'NDHWC') as string;
  if (format !== 'NDHWC' && format !== 'NCDHW') ctx.fail(`data_format must be 'NDHWC' or 'NCDHW', got '${format}'`);
  const d = dims3d(format);
  const list = (name: string, dflt?: number[]): number[] => {
    const v = (optionalAttr(ctx, name) ?? dflt) as readonly number[] | undefined;
    if (!Array.isArray(v) || v.length !== 5) ctx.fail(`${name} must be a list of 5 ints, got ${JSON.stringify(v)}`);
    for (const x of v) if (!Number.isInteger(x) || x < 1) ctx.fail(`${name} must be positive integers, got [${v.join(', ')}]`);
    if (v[d.n] !== 1 || v[d.c] !== 1) ctx.fail(`${name} [${v.join(', ')}] must be 1 in the batch and channel dimensions (${format})`);
    return d.s.map((i) => v[i]!);
  };
  const strides = list('strides');
  const ksize = opts.ksize ? list('ksize') : [1, 1, 1];
  const dilations = opts.dilations ? list('dilations', [1, 1, 1, 1, 1]) : [1, 1, 1];
  const padding = optionalAttr(ctx, 'padding');
  if (padding !== 'SAME' && padding !== 'VALID') ctx.fail(`padding must be 'SAME' or 'VALID', got '${String(padding)}'`);
  return { format, padding, strides, ksize, dilations };
}

// ---- shape helpers ----

function mergeDim(ctx: ShapeContext, a: Dim, b: Dim, what: string): Dim {
  if (a !== null && b !== null && a !== b) ctx.fail(`${what}: ${a} vs ${b}`);
  return a ?? b;
}

function mergeShapes(ctx: ShapeContext, s: Dim[], t: Dim[], what: string): Dim[] {
  return s.map((dim, i) => mergeDim(ctx, dim, t[i]!, `${what} (dim ${i}: ${formatShape(s)} vs ${formatShape(t)})`));
}

/** Output size of one spatial dim when the input and window sizes are known. */
function outDim(ctx: ShapeContext, inSize: Dim, k: Dim, dilation: number, stride: number, padding: Padding): Dim {
  if (inSize === null || k === null) return null;
  const r = windowedOutputSize(inSize, k, dilation, stride, padding);
  if (typeof r === 'string') ctx.fail(r);
  return r.size;
}

function sameFloat(ctx: ShapeContext, indices: number[], names: string[]): DType {
  const dt = checkDType(ctx, indices[0]!, FLOAT, names[0]);
  for (let k = 1; k < indices.length; k++) {
    const t = ctx.inputs[indices[k]!]!;
    if (t.dtype !== dt) ctx.fail(`${names[k]} (${t.name}) is ${t.dtype} but ${names[0]} (${ctx.inputs[indices[0]!]!.name}) is ${dt}; they must match`);
  }
  return dt;
}

/** A shape given as an integer vector input: its partly known value (length `rank`). */
function sizesInput(ctx: ShapeContext, i: number, what: string, rank: number, dtypes: readonly DType[] = ['int32']): Dim[] {
  checkDType(ctx, i, dtypes, what);
  const t = ctx.inputs[i]!;
  if (t.shape !== null && t.shape.length !== 1) ctx.fail(`${what} (${t.name}) must be a vector, got shape ${formatShape(t.shape)}`);
  const v = partialVector(t);
  if (v === null) return new Array<Dim>(rank).fill(null);
  if (v.length !== rank) ctx.fail(`${what} (${t.name}) must have ${rank} elements, got ${v.length}`);
  for (const d of v) if (d !== null && d < 0) ctx.fail(`${what} has a negative dimension: ${formatShape(v)}`);
  return [...v];
}

/** A 5-D shape in the layout from batch, [depth, height, width] and channels. */
function shape3d(format: Format3D, n: Dim, s: Dim[], c: Dim): Dim[] {
  return format === 'NDHWC' ? [n, s[0]!, s[1]!, s[2]!, c] : [n, c, s[0]!, s[1]!, s[2]!];
}

/** The output shape of a 3-D window op over input shape x with window sizes k (spatial) and out channels oc. */
function windowed3d(ctx: ShapeContext, a: Window3D, x: Dim[], k: Dim[], oc: Dim): Dim[] {
  const d = dims3d(a.format);
  const s = d.s.map((axis, j) => outDim(ctx, x[axis]!, k[j]!, a.dilations[j]!, a.strides[j]!, a.padding));
  return shape3d(a.format, x[d.n]!, s, oc);
}

// ---- Conv3D ----

/** Conv3D(input, filter): filter [KD, KH, KW, in_channels, out_channels]. */
function conv3dShape(ctx: ShapeContext): OutputSpec[] {
  const dtype = sameFloat(ctx, [0, 1], ['input', 'filter']);
  const a = window3d(ctx, { dilations: true });
  const d = dims3d(a.format);
  const x = withRank(ctx, 0, 5, 'input');
  const f = withRank(ctx, 1, 5, 'filter');
  mergeDim(ctx, x[d.c]!, f[3]!, `input depth (${ctx.inputs[0]!.name}, dim ${d.c} in ${a.format}) must equal the filter's in_channels (${ctx.inputs[1]!.name}, dim 3)`);
  return [{ dtype, shape: windowed3d(ctx, a, x, f.slice(0, 3), f[4]!) }];
}

/** Checks out_backprop against the output the forward conv would make from input shape x and filter f. */
function checkConvBackprop(ctx: ShapeContext, a: Window3D, x: Dim[], f: Dim[], dy: Dim[]): void {
  const expected = windowed3d(ctx, a, x, f.slice(0, 3), f[4]!);
  mergeShapes(ctx, expected, dy, `out_backprop (${ctx.inputs[2]!.name}) does not have the shape of the convolution's output`);
}

/** Conv3DBackpropInputV2(input_sizes, filter, out_backprop) -> input_sizes. */
function conv3dBackpropInputShape(ctx: ShapeContext): OutputSpec[] {
  const dtype = sameFloat(ctx, [1, 2], ['filter', 'out_backprop']);
  const a = window3d(ctx, { dilations: true });
  const d = dims3d(a.format);
  const x = sizesInput(ctx, 0, 'input_sizes', 5, ['int32', 'int64']);
  const f = withRank(ctx, 1, 5, 'filter');
  const dy = withRank(ctx, 2, 5, 'out_backprop');
  x[d.n] = mergeDim(ctx, x[d.n]!, dy[d.n]!, `input_sizes batch does not match out_backprop (${ctx.inputs[2]!.name})`);
  x[d.c] = mergeDim(ctx, x[d.c]!, f[3]!, `input_sizes depth does not match the filter's in_channels (${ctx.inputs[1]!.name}, dim 3)`);
  checkConvBackprop(ctx, a, x, f, dy);
  return [{ dtype, shape: x }];
}

/** Conv3DBackpropFilterV2(input, filter_sizes, out_backprop) -> filter_sizes. */
function conv3dBackpropFilterShape(ctx: ShapeContext): OutputSpec[] {
  const dtype = sameFloat(ctx, [0, 2], ['input', 'out_backprop']);
  const a = window3d(ctx, { dilations: true });
  const d = dims3d(a.format);
  const x = withRank(ctx, 0, 5, 'input');
  const f = sizesInput(ctx, 1, 'filter_sizes', 5);
  const dy = withRank(ctx, 2, 5, 'out_backprop');
  f[3] = mergeDim(ctx, f[3]!, x[d.c]!, `filter_sizes in_channels does not match the input depth (${ctx.inputs[0]!.name})`);
  f[4] = mergeDim(ctx, f[4]!, dy[d.c]!, `filter_sizes out_channels does not match the out_backprop depth (${ctx.inputs[2]!.name})`);
  checkConvBackprop(ctx, a, x, f, dy);
  return [{ dtype, shape: f }];
}

// ---- 3-D pooling ----

function pool3dShape(ctx: ShapeContext): OutputSpec[] {
  const dtype = checkDType(ctx, 0, FLOAT, 'input');
  const a = window3d(ctx, { ksize: true });
  const x = withRank(ctx, 0, 5, 'input');
  return [{ dtype, shape: windowed3d(ctx, a, x, a.ksize, x[dims3d(a.format).c]!) }];
}

/** Checks that y has the pooled shape of x; returns the merged pooled shape. */
function pooledOf(ctx: ShapeContext, a: Window3D, x: Dim[], y: Dim[], what: string): Dim[] {
  return mergeShapes(ctx, windowed3d(ctx, a, x, a.ksize, x[dims3d(a.format).c]!), y, `${what} does not have the pooled shape of the input`);
}

/** MaxPool3DGrad(orig_input, orig_output, grad) -> orig_input's shape; MaxPool3DGradGrad -> orig_output's. */
function maxPool3dGradShape(gradOfInput: boolean) {
  return (ctx: ShapeContext): OutputSpec[] => {
    let dtype: DType;
    if (gradOfInput) {
      // MaxPool3DGrad types orig_input and orig_output by TInput, grad (and the result) by T.
      sameFloat(ctx, [0, 1], ['orig_input', 'orig_output']);
      dtype = checkDType(ctx, 2, FLOAT, 'grad');
    } else {
      dtype = sameFloat(ctx, [0, 1, 2], ['orig_input', 'orig_output', 'grad']);
    }
    const a = window3d(ctx, { ksize: true });
    const x = withRank(ctx, 0, 5, 'orig_input');
    const y = withRank(ctx, 1, 5, 'orig_output');
    const g = withRank(ctx, 2, 5, 'grad');
    if (gradOfInput) {
      pooledOf(ctx, a, x, mergeShapes(ctx, y, g, 'grad must have the shape of orig_output'), 'orig_output');
      return [{ dtype, shape: x }];
    }
    const xx = mergeShapes(ctx, x, g, 'grad must have the shape of orig_input');
    return [{ dtype, shape: pooledOf(ctx, a, xx, y, 'orig_output') }];
  };
}

/** AvgPool3DGrad(orig_input_shape, grad) -> orig_input_shape. */
function avgPool3dGradShape(ctx: ShapeContext): OutputSpec[] {
  const dtype = checkDType(ctx, 1, FLOAT, 'grad');
  const a = window3d(ctx, { ksize: true });
  const d = dims3d(a.format);
  const x = sizesInput(ctx, 0, 'orig_input_shape', 5);
  const g = withRank(ctx, 1, 5, 'grad');
  x[d.n] = mergeDim(ctx, x[d.n]!, g[d.n]!, `orig_input_shape batch does not match grad (${ctx.inputs[1]!.name})`);
  x[d.c] = mergeDim(ctx, x[d.c]!, g[d.c]!, `orig_input_shape channels do not match grad (${ctx.inputs[1]!.name})`);
  pooledOf(ctx, a, x, g, 'grad');
  return [{ dtype, shape: x }];
}

// ---- Dilation2D ----

/** strides, rates (per spatial dim [height, width]) and padding of Dilation2D (NHWC only). */
function dilationAttrs(ctx: ShapeContext): { strides: [number, number]; rates: [number, number]; padding: Padding } {
  const get = (n: string) => optionalAttr(ctx, n);
  const a = readWindowAttrs(get, ctx.fail, {});
  const rates = readWindowAttrs(get, ctx.fail, { listName: 'rates' }).strides;
  return { strides: a.strides, rates, padding: a.padding };
}

/** The output shape of Dilation2D from input x [N, H, W, C] and filter f [KH, KW, C]. */
function dilationOutput(ctx: ShapeContext, x: Dim[], f: Dim[]): Dim[] {
  const { strides, rates, padding } = dilationAttrs(ctx);
  const depth = mergeDim(ctx, x[3]!, f[2]!, `input depth (${ctx.inputs[0]!.name}, dim 3) must equal the filter's depth (${ctx.inputs[1]!.name}, dim 2)`);
  return [x[0]!, outDim(ctx, x[1]!, f[0]!, rates[0], strides[0], padding), outDim(ctx, x[2]!, f[1]!, rates[1], strides[1], padding), depth];
}

function dilation2dShape(ctx: ShapeContext): OutputSpec[] {
  const dtype = sameFloat(ctx, [0, 1], ['input', 'filter']);
  return [{ dtype, shape: dilationOutput(ctx, withRank(ctx, 0, 4, 'input'), withRank(ctx, 1, 3, 'filter')) }];
}

/** Dilation2DBackpropInput / Dilation2DBackpropFilter(input, filter, out_backprop) -> input's / filter's shape. */
function dilation2dBackpropShape(ofInput: boolean) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dtype = sameFloat(ctx, [0, 1, 2], ['input', 'filter', 'out_backprop']);
    const x = withRank(ctx, 0, 4, 'input');
    const f = withRank(ctx, 1, 3, 'filter');
    const dy = withRank(ctx, 2, 4, 'out_backprop');
    mergeShapes(ctx, dilationOutput(ctx, x, f), dy, `out_backprop (${ctx.inputs[2]!.name}) does not have the shape of the dilation's output`);
    return [{ dtype, shape: ofInput ? x : f }];
  };
}

// ---- MaxPoolWithArgmax ----

/** The pooled shape of NHWC x under ksize, strides and padding. */
function pooled2d(ctx: ShapeContext, x: Dim[]): Dim[] {
  const get = (n: string) => optionalAttr(ctx, n);
  const a = readWindowAttrs(get, ctx.fail, {});
  const k = readWindowAttrs(get, ctx.fail, { listName: 'ksize' }).strides;
  return [x[0]!, outDim(ctx, x[1]!, k[0], 1, a.strides[0], a.padding), outDim(ctx, x[2]!, k[1], 1, a.strides[1], a.padding), x[3]!];
}

function targmax(ctx: ShapeContext): DType {
  const t = (optionalAttr(ctx, 'Targmax') ?? 'int64') as DType;
  if (t !== 'int32' && t !== 'int64') ctx.fail(`Targmax must be int32 or int64, got ${t}`);
  return t;
}

function maxPoolWithArgmaxShape(ctx: ShapeContext): OutputSpec[] {
  const dtype = checkDType(ctx, 0, FLOAT, 'input');
  const y = pooled2d(ctx, withRank(ctx, 0, 4, 'input'));
  return [
    { dtype, shape: y },
    { dtype: targmax(ctx), shape: [...y] },
  ];
}

/**
 * MaxPoolGradWithArgmax(input, grad, argmax) -> input's shape (grad and argmax pooled);
 * MaxPoolGradGradWithArgmax -> the pooled shape (grad input-shaped).
 */
function argmaxGradShape(gradOfInput: boolean) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dtype = sameFloat(ctx, [0, 1], ['input', 'grad']);
    checkDType(ctx, 2, [targmax(ctx)], 'argmax (of type Targmax)');
    const x = withRank(ctx, 0, 4, 'input');
    const g = withRank(ctx, 1, 4, 'grad');
    const arg = withRank(ctx, 2, 4, 'argmax');
    const y = mergeShapes(ctx, pooled2d(ctx, x), arg, 'argmax does not have the pooled shape of the input');
    if (gradOfInput) {
      mergeShapes(ctx, y, g, 'grad does not have the pooled shape of the input');
      return [{ dtype, shape: x }];
    }
    mergeShapes(ctx, x, g, 'grad must have the shape of input');
    return [{ dtype, shape: y }];
  };
}

// ---- gradients ----

function make(op: Operation, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>): Tensor {
  return graphOf(op.inputs).createOp(type, inputs, attrs).outputs[0]!;
}

function copyAttrs(op: Operation, names: readonly string[], extra: Record<string, AttrValue> = {}): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = { T: op.getAttr('T') };
  for (const n of names) if (op.hasAttr(n)) out[n] = op.getAttr(n);
  return { ...out, ...extra };
}

const CONV3D_ATTRS = ['strides', 'padding', 'data_format', 'dilations'];
const POOL3D_ATTRS = ['ksize', 'strides', 'padding', 'data_format'];
const DILATION_ATTRS = ['strides', 'rates', 'padding'];
const ARGMAX_ATTRS = ['ksize', 'strides', 'padding', 'include_batch_in_index', 'Targmax'];

function conv3dOps(op: Operation) {
  const attrs = copyAttrs(op, CONV3D_ATTRS);
  return {
    input: (sizes: Tensor, f: Tensor, dy: Tensor) => make(op, 'Conv3DBackpropInputV2', [sizes, f, dy], { ...attrs, Tshape: sizes.dtype }),
    filter: (x: Tensor, sizes: Tensor, dy: Tensor) => make(op, 'Conv3DBackpropFilterV2', [x, sizes, dy], attrs),
    forward: (x: Tensor, f: Tensor) => make(op, 'Conv3D', [x, f], attrs),
  };
}

function maxPool3dGradOp(op: Operation, type: string, grad: Tensor): Tensor {
  const [x, y] = op.inputs as [Tensor, Tensor];
  const extra: Record<string, AttrValue> = type === 'MaxPool3DGrad' ? { T: grad.dtype, TInput: x.dtype } : { T: grad.dtype };
  return make(op, type, [x, y, grad], copyAttrs(op, POOL3D_ATTRS, extra));
}

// ---- op definitions ----

const CONV3D_ATTR_TYPES = { T: 'type', strides: 'list(int)', padding: 'string', data_format: 'string', dilations: 'list(int)' } as const;
const POOL3D_ATTR_TYPES = { T: 'type', ksize: 'list(int)', strides: 'list(int)', padding: 'string', data_format: 'string' } as const;
const DILATION_ATTR_TYPES = { T: 'type', strides: 'list(int)', rates: 'list(int)', padding: 'string' } as const;
const ARGMAX_ATTR_TYPES = { T: 'type', ksize: 'list(int)', strides: 'list(int)', padding: 'string', include_batch_in_index: 'bool', Targmax: 'type' } as const;

registerOp({
  type: 'Conv3D',
  inputs: ['input', 'filter'],
  attrs: CONV3D_ATTR_TYPES,
  shape: conv3dShape,
  grad: (op, [grad]) => {
    const [x, f] = op.inputs as [Tensor, Tensor];
    const c = conv3dOps(op);
    return [c.input(shapeOp(x), f, grad!), c.filter(x, shapeOp(f), grad!)];
  },
});

registerOp({
  type: 'Conv3DBackpropInputV2',
  inputs: ['input_sizes', 'filter', 'out_backprop'],
  attrs: { ...CONV3D_ATTR_TYPES, Tshape: 'type' },
  shape: conv3dBackpropInputShape,
  grad: (op, [grad]) => {
    const [, f, dy] = op.inputs as [Tensor, Tensor, Tensor];
    const c = conv3dOps(op);
    return [null, c.filter(grad!, shapeOp(f), dy), c.forward(grad!, f)];
  },
});

registerOp({
  type: 'Conv3DBackpropFilterV2',
  inputs: ['input', 'filter_sizes', 'out_backprop'],
  attrs: CONV3D_ATTR_TYPES,
  shape: conv3dBackpropFilterShape,
  grad: (op, [grad]) => {
    const [x, , dy] = op.inputs as [Tensor, Tensor, Tensor];
    const c = conv3dOps(op);
    return [c.input(shapeOp(x), grad!, dy), null, c.forward(x, grad!)];
  },
});

registerOp({
  type: 'MaxPool3D',
  inputs: ['input'],
  attrs: POOL3D_ATTR_TYPES,
  shape: pool3dShape,
  grad: (op, [grad]) => {
    const x = op.inputs[0]!;
    const attrs = copyAttrs(op, POOL3D_ATTRS, { TInput: x.dtype });
    return [make(op, 'MaxPool3DGrad', [x, op.outputs[0]!, grad!], attrs)];
  },
});

// The maxima are fixed by orig_input, so MaxPool3DGrad is linear in grad and locally constant in
// orig_input and orig_output (zero gradients); grad's gradient is the gather at the maxima.
registerOp({
  type: 'MaxPool3DGrad',
  inputs: ['orig_input', 'orig_output', 'grad'],
  attrs: { ...POOL3D_ATTR_TYPES, TInput: 'type' },
  shape: maxPool3dGradShape(true),
  grad: (op, [grad]) => [zerosLike(op.inputs[0]!), zerosLike(op.inputs[1]!), maxPool3dGradOp(op, 'MaxPool3DGradGrad', grad!)],
});

registerOp({
  type: 'MaxPool3DGradGrad',
  inputs: ['orig_input', 'orig_output', 'grad'],
  attrs: POOL3D_ATTR_TYPES,
  shape: maxPool3dGradShape(false),
  grad: (op, [grad]) => [zerosLike(op.inputs[0]!), zerosLike(op.inputs[1]!), maxPool3dGradOp(op, 'MaxPool3DGrad', grad!)],
});

registerOp({
  type: 'AvgPool3D',
  inputs: ['input'],
  attrs: POOL3D_ATTR_TYPES,
  shape: pool3dShape,
  grad: (op, [grad]) => [make(op, 'AvgPool3DGrad', [shapeOp(op.inputs[0]!), grad!], copyAttrs(op, POOL3D_ATTRS))],
});

registerOp({
  type: 'AvgPool3DGrad',
  inputs: ['orig_input_shape', 'grad'],
  attrs: POOL3D_ATTR_TYPES,
  shape: avgPool3dGradShape,
  grad: (op, [grad]) => [null, make(op, 'AvgPool3D', [grad!], copyAttrs(op, POOL3D_ATTRS))],
});

registerOp({
  type: 'Dilation2D',
  inputs: ['input', 'filter'],
  attrs: DILATION_ATTR_TYPES,
  shape: dilation2dShape,
  grad: (op, [grad]) => {
    const [x, f] = op.inputs as [Tensor, Tensor];
    const attrs = copyAttrs(op, DILATION_ATTRS);
    return [make(op, 'Dilation2DBackpropInput', [x, f, grad!], attrs), make(op, 'Dilation2DBackpropFilter', [x, f, grad!], attrs)];
  },
});

// TensorFlow registers no gradient for the dilation backprops.
registerOp({ type: 'Dilation2DBackpropInput', inputs: ['input', 'filter', 'out_backprop'], attrs: DILATION_ATTR_TYPES, shape: dilation2dBackpropShape(true), grad: null });
registerOp({ type: 'Dilation2DBackpropFilter', inputs: ['input', 'filter', 'out_backprop'], attrs: DILATION_ATTR_TYPES, shape: dilation2dBackpropShape(false), grad: null });

registerOp({
  type: 'MaxPoolWithArgmax',
  inputs: ['input'],
  attrs: ARGMAX_ATTR_TYPES,
  shape: maxPoolWithArgmaxShape,
  // The argmax output is an index: only the pooled values carry a gradient.
  grad: (op, [grad]) => {
    if (grad === null) return [null];
    return [make(op, 'MaxPoolGradWithArgmax', [op.inputs[0]!, grad!, op.outputs[1]!], copyAttrs(op, ARGMAX_ATTRS))];
  },
});

registerOp({
  type: 'MaxPoolGradWithArgmax',
  inputs: ['input', 'grad', 'argmax'],
  attrs: ARGMAX_ATTR_TYPES,
  shape: argmaxGradShape(true),
  grad: (op, [grad]) => {
    const [x, , argmax] = op.inputs as [Tensor, Tensor, Tensor];
    return [zerosLike(x), make(op, 'MaxPoolGradGradWithArgmax', [x, grad!, argmax], copyAttrs(op, ARGMAX_ATTRS)), null];
  },
});

// TensorFlow registers no gradient for MaxPoolGradGradWithArgmax.
registerOp({ type: 'MaxPoolGradGradWithArgmax', inputs: ['input', 'grad', 'argmax'], attrs: ARGMAX_ATTR_TYPES, shape: argmaxGradShape(false), grad: null });
