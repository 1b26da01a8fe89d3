import { graphOf } from '../src/convert.js';
import type { DType } from '../src/core/dtypes.js';
import type { AttrValue, Operation, Tensor } from '../src/graph.js';
import { formatShape, mergeShapes, type Dim, type Shape } from '../src/core/shape.js';
import { abs, add, divide, exp, less, multiply, negative, reduceSum, sign, square, subtract, where } from '../src/api/math.js';
import { concat, expandDims, onesLike, reshape, shape as shapeOf, stridedSlice, tile, zerosLike } from '../src/api/array.js';
import { registerOp, type AbstractValue, type GradFn, type OpDef, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, FLOAT, NUMERIC } from './util.js';

// ---- helpers ----

/** A gradient op of the form XGrad(gradients, features_or_outputs). */
function gradOp(op: Operation, type: string, grad: Tensor, x: Tensor, attrs: Record<string, AttrValue> = {}): Tensor {
  return graphOf(op.inputs).createOp(type, [grad, x], { T: grad.dtype, ...attrs }).outputs[0]!;
}

/** Shape function of X(features) activation ops. */
function activationShape(allowed: readonly DType[]) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dt = checkDType(ctx, 0, allowed, 'features');
    return [{ dtype: dt, shape: ctx.inputs[0]!.shape }];
  };
}

/** Shape function of XGrad(gradients, features_or_outputs): both inputs have one shape and dtype. */
function activationGradShape(allowed: readonly DType[], second: string) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dt = checkDType(ctx, 0, allowed, 'gradients');
    const [g, x] = ctx.inputs as [AbstractValue, AbstractValue];
    if (x.dtype !== dt) ctx.fail(`gradients (${g.name}) is ${dt} but ${second} (${x.name}) is ${x.dtype}`);
    return [{ dtype: dt, shape: mergedOrFail(ctx, g.shape, x.shape, `gradients (${g.name})`, `${second} (${x.name})`) }];
  };
}

function mergedOrFail(ctx: ShapeContext, a: Shape, b: Shape, aWhat: string, bWhat: string): Shape {
  try {
    return mergeShapes(a, b);
  } catch {
    return ctx.fail(`${aWhat} has shape ${formatShape(a)} but ${bWhat} has shape ${formatShape(b)}; they must be equal`);
  }
}

function mergeDim(ctx: ShapeContext, a: Dim, b: Dim, what: string): Dim {
  if (a !== null && b !== null && a !== b) ctx.fail(`${what}: ${a} vs ${b}`);
  return a ?? b;
}

/**
 * True when t is known to be all zeros: what the gradient engine fills in for an output nobody
 * differentiated (TF's `_is_zeros_tensor`), or a zero constant.
 */
function isKnownZeros(t: Tensor): boolean {
  const op = t.op;
  if (op.type === 'ZerosLike') return true;
  if (op.type === 'Const') {
    const v = op.attrs.value as { data: ArrayLike<number | bigint> };
    for (let i = 0; i < v.data.length; i++) if (Number(v.data[i]) !== 0) return false;
    return true;
  }
  if (op.type === 'Fill' || op.type === 'BroadcastTo') {
    const src = op.type === 'Fill' ? op.inputs[1]! : op.inputs[0]!;
    return src.op.type === 'Const' && isKnownZeros(src);
  }
  return false;
}

/** TF's _BroadcastMul: vec[..., None] * mat. */
function broadcastMul(vec: Tensor, mat: Tensor): Tensor {
  return multiply(expandDims(vec, -1), mat);
}

// ---- activations ----

/** X(features), an activation, and XGrad(gradients, features or outputs), its gradient op. */
function activation(type: string, allowed: readonly DType[], grad: GradFn, opts: { fusable?: boolean; alpha?: boolean } = {}): void {
  const attrs: OpDef['attrs'] = opts.alpha ? { T: 'type', alpha: 'float' } : { T: 'type' };
  registerOp({ type, inputs: ['features'], fusableActivation: opts.fusable, attrs, elementwise: true, shape: activationShape(allowed), grad });
}
function activationGrad(type: string, allowed: readonly DType[], second: 'features' | 'outputs', grad: GradFn, opts: { alpha?: boolean } = {}): void {
  const attrs: OpDef['attrs'] = opts.alpha ? { T: 'type', alpha: 'float' } : { T: 'type' };
  registerOp({ type, inputs: ['gradients', second], attrs, elementwise: true, shape: activationGradShape(allowed, second), grad });
}
/** The gradient of XGrad(gradients, x) for a piecewise linear X: XGrad again for gradients, none through x. */
const piecewiseLinearGradGrad =
  (type: string): GradFn =>
  (op, [g]) => {
    const x = op.inputs[1]!;
    const alpha = op.attrs.alpha;
    return [gradOp(op, type, g!, x, alpha === undefined ? {} : { alpha }), zerosLike(x)];
  };

activation('Relu', NUMERIC, (op, [g]) => [gradOp(op, 'ReluGrad', g!, op.outputs[0]!)], { fusable: true });
activationGrad('ReluGrad', NUMERIC, 'features', piecewiseLinearGradGrad('ReluGrad'));
activation('Relu6', NUMERIC, (op, [g]) => [gradOp(op, 'Relu6Grad', g!, op.inputs[0]!)], { fusable: true });
activationGrad('Relu6Grad', NUMERIC, 'features', piecewiseLinearGradGrad('Relu6Grad'));
activation('LeakyRelu', FLOAT, (op, [g]) => [gradOp(op, 'LeakyReluGrad', g!, op.inputs[0]!, { alpha: op.attrs.alpha! })], { fusable: true, alpha: true });
activationGrad('LeakyReluGrad', FLOAT, 'features', piecewiseLinearGradGrad('LeakyReluGrad'), { alpha: true });

// EluGrad(g, y) = y < 0 ? g * (y + 1) : g, and SeluGrad(g, y) = y < 0 ? g * (y + scale * alpha) : g * scale.
for (const [type, gradType, fusable] of [
  ['Elu', 'EluGrad', true],
  ['Selu', 'SeluGrad', false],
] as const) {
  activation(type, FLOAT, (op, [g]) => [gradOp(op, gradType, g!, op.outputs[0]!)], { fusable });
  activationGrad(gradType, FLOAT, 'outputs', (op, [g]) => {
    const y = op.inputs[1]!;
    return [gradOp(op, gradType, g!, y), where(less(y, 0), multiply(g!, op.inputs[0]!), zerosLike(y))];
  });
}

activation('Softplus', FLOAT, (op, [g]) => [gradOp(op, 'SoftplusGrad', g!, op.inputs[0]!)]);
// SoftplusGrad(dy, x) = dy / (1 + exp(-x)); its x-derivative is dy / (exp(-x) + 2 + exp(x)).
activationGrad('SoftplusGrad', FLOAT, 'features', (op, [g]) => {
  const [dy, x] = op.inputs as [Tensor, Tensor];
  const ddy = gradOp(op, 'SoftplusGrad', g!, x);
  const d2x = divide(multiply(g!, dy), add(add(exp(negative(x)), 2), exp(x)));
  return [ddy, d2x];
});

activation('Softsign', FLOAT, (op, [g]) => [gradOp(op, 'SoftsignGrad', g!, op.inputs[0]!)]);
// SoftsignGrad(dy, x) = dy / (1 + |x|)^2; its x-derivative is -2 sign(x) dy / (1 + |x|)^3.
activationGrad('SoftsignGrad', FLOAT, 'features', (op, [g]) => {
  const [dy, x] = op.inputs as [Tensor, Tensor];
  const ddy = gradOp(op, 'SoftsignGrad', g!, x);
  const onePlusAbs = add(abs(x), 1);
  const d2x = divide(multiply(multiply(g!, dy), multiply(sign(x), -2)), multiply(square(onePlusAbs), onePlusAbs));
  return [ddy, d2x];
});

// ---- softmax ----

function softmaxShape(ctx: ShapeContext): OutputSpec[] {
  const dt = checkDType(ctx, 0, FLOAT, 'logits');
  const s = ctx.inputs[0]!.shape;
  if (s !== null && s.length < 1) ctx.fail(`logits (${ctx.inputs[0]!.name}) must have rank >= 1, got a scalar`);
  return [{ dtype: dt, shape: s }];
}

registerOp({
  type: 'Softmax',
  inputs: ['logits'],
  attrs: { T: 'type' },
  shape: softmaxShape,
  grad: (op, [g]) => {
    const sm = op.outputs[0]!;
    const sumChannels = reduceSum(multiply(g!, sm), -1, true);
    return [multiply(subtract(g!, sumChannels), sm)];
  },
});

registerOp({
  type: 'LogSoftmax',
  inputs: ['logits'],
  attrs: { T: 'type' },
  shape: softmaxShape,
  grad: (op, [g]) => {
    const sm = exp(op.outputs[0]!);
    return [subtract(g!, multiply(reduceSum(g!, -1, true), sm))];
  },
});

// ---- bias ----

function biasDim(rank: number, format: string): number {
  return format === 'NCHW' ? 1 : rank - 1;
}

function checkDataFormat(ctx: ShapeContext): string {
  const f = ctx.attr<string>('data_format');
  if (f !== 'NHWC' && f !== 'NCHW') ctx.fail(`data_format must be 'NHWC' or 'NCHW', got '${f}'`);
  return f;
}

registerOp({
  type: 'BiasAdd',
  inputs: ['value', 'bias'],
  attrs: { T: 'type', data_format: 'string' },
  shape: (ctx) => {
    const format = checkDataFormat(ctx);
    const [value, bias] = ctx.inputs as [AbstractValue, AbstractValue];
    const dt = checkDType(ctx, 0, NUMERIC, 'value');
    if (bias.dtype !== dt) ctx.fail(`bias (${bias.name}) is ${bias.dtype} but value (${value.name}) is ${dt}`);
    if (bias.shape !== null && bias.shape.length !== 1) {
      ctx.fail(`bias (${bias.name}) must be 1-D, got shape ${formatShape(bias.shape)}`);
    }
    const minRank = format === 'NCHW' ? 3 : 2;
    const vs = value.shape;
    if (vs === null) return [{ dtype: dt, shape: null }];
    if (vs.length < minRank) {
      ctx.fail(`value (${value.name}) must have rank >= ${minRank} for data_format ${format}, got shape ${formatShape(vs)}`);
    }
    const c = biasDim(vs.length, format);
    const out = [...vs];
    out[c] = mergeDim(
      ctx,
      vs[c]!,
      bias.shape?.[0] ?? null,
      `bias (${bias.name}) must have the length of dimension ${c} of value ${formatShape(vs)} (data_format ${format}), but has length`,
    );
    return [{ dtype: dt, shape: out }];
  },
  grad: (op, [g]) => [g!, graphOf(op.inputs).createOp('BiasAddGrad', [g!], { T: g!.dtype, data_format: op.attrs.data_format }).outputs[0]!],
});

registerOp({
  type: 'BiasAddGrad',
  inputs: ['out_backprop'],
  attrs: { T: 'type', data_format: 'string' },
  shape: (ctx) => {
    const format = checkDataFormat(ctx);
    const dt = checkDType(ctx, 0, NUMERIC, 'out_backprop');
    const s = ctx.inputs[0]!.shape;
    if (s === null) return [{ dtype: dt, shape: [null] }];
    const minRank = format === 'NCHW' ? 3 : 2;
    if (s.length < minRank) {
      ctx.fail(`out_backprop (${ctx.inputs[0]!.name}) must have rank >= ${minRank} for data_format ${format}, got ${formatShape(s)}`);
    }
    return [{ dtype: dt, shape: [s[biasDim(s.length, format)]!] }];
  },
  // The gradient of a sum over all but the channel dim is the channel gradient tiled back out.
  grad: (op, [g]) => {
    const x = op.inputs[0]!;
    const nchw = op.attrs.data_format === 'NCHW';
    const xs = x.shape;
    let expanded: Tensor | number[];
    let multiples: Tensor | number[];
    if (xs !== null) {
      const c = nchw ? 1 : xs.length - 1;
      expanded = xs.map((_d, i) => (i === c ? -1 : 1));
      if (xs.every((d) => d !== null)) {
        multiples = (xs as number[]).map((d, i) => (i === c ? 1 : d));
      } else {
        multiples = dynamicMultiples(x, nchw);
      }
    } else {
      const s = shapeOf(x);
      const biasShape = shapeOf(g!);
      expanded = nchw
        ? concat([onesLike(stridedSlice(s, [0], [1])), biasShape, onesLike(stridedSlice(s, [2], [0], [1], { endMask: 1 }))], 0)
        : concat([onesLike(stridedSlice(s, [0], [-1])), biasShape], 0);
      multiples = dynamicMultiples(x, nchw);
    }
    return [tile(reshape(g!, expanded), multiples)];
  },
});

function dynamicMultiples(x: Tensor, nchw: boolean): Tensor {
  const s = shapeOf(x);
  return nchw
    ? concat([stridedSlice(s, [0], [1]), [1], stridedSlice(s, [2], [0], [1], { endMask: 1 })], 0)
    : concat([stridedSlice(s, [0], [-1]), [1]], 0);
}

// ---- losses ----

registerOp({
  type: 'L2Loss',
  inputs: ['t'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    return [{ dtype: checkDType(ctx, 0, FLOAT, 't'), shape: [] }];
  },
  grad: (op, [g]) => [multiply(op.inputs[0]!, g!)],
});

/**
 * The logits gradient of the fused cross-entropy ops (TF's): grad_loss * backprop, plus, when the
 * backprop output itself is differentiated (second order), the softmax Jacobian applied to its
 * gradient.
 */
function xentLogitsGrad(op: Operation, gradLoss: Tensor, gradGrad: Tensor): Tensor {
  let grad = broadcastMul(gradLoss, op.outputs[1]!);
  if (!isKnownZeros(gradGrad)) {
    const logits = op.inputs[0]!;
    const sm = graphOf(op.inputs).createOp('Softmax', [logits], { T: logits.dtype }).outputs[0]!;
    const proj = reduceSum(multiply(gradGrad, sm), -1, true);
    grad = add(grad, multiply(subtract(gradGrad, proj), sm));
  }
  return grad;
}

registerOp({
  type: 'SoftmaxCrossEntropyWithLogits',
  inputs: ['features', 'labels'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, FLOAT, 'features');
    const [features, labels] = ctx.inputs as [AbstractValue, AbstractValue];
    if (labels.dtype !== dt) ctx.fail(`labels (${labels.name}) is ${labels.dtype} but features (${features.name}) is ${dt}`);
    for (const t of [features, labels]) {
      if (t.shape !== null && t.shape.length !== 2) {
        ctx.fail(`${t === features ? 'features' : 'labels'} (${t.name}) must be 2-D [batch_size, num_classes], got shape ${formatShape(t.shape)}`);
      }
    }
    const s = mergedOrFail(ctx, features.shape, labels.shape, `logits (${features.name})`, `labels (${labels.name})`) ?? [null, null];
    return [
      { dtype: dt, shape: [s[0]!] },
      { dtype: dt, shape: s },
    ];
  },
  grad: (op, [gradLoss, gradGrad]) => {
    const logits = op.inputs[0]!;
    const logSm = graphOf(op.inputs).createOp('LogSoftmax', [logits], { T: logits.dtype }).outputs[0]!;
    let labelsGrad = broadcastMul(gradLoss!, negative(logSm));
    // backprop = softmax - labels also depends on labels; TF leaves this term out, which makes its
    // second-order label gradients wrong. It is added here.
    if (!isKnownZeros(gradGrad!)) labelsGrad = subtract(labelsGrad, gradGrad!);
    return [xentLogitsGrad(op, gradLoss!, gradGrad!), labelsGrad];
  },
});

registerOp({
  type: 'SparseSoftmaxCrossEntropyWithLogits',
  inputs: ['features', 'labels'],
  attrs: { T: 'type', Tlabels: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, FLOAT, 'features');
    checkDType(ctx, 1, ['int32', 'int64'], 'labels');
    const [features, labels] = ctx.inputs as [AbstractValue, AbstractValue];
    const fs = features.shape ?? [null, null];
    const ls = labels.shape ?? [null];
    if (fs.length !== 2) ctx.fail(`features (${features.name}) must be 2-D [batch_size, num_classes], got shape ${formatShape(fs)}`);
    if (ls.length !== 1) ctx.fail(`labels (${labels.name}) must be 1-D [batch_size], got shape ${formatShape(ls)}`);
    const batch = mergeDim(
      ctx,
      fs[0]!,
      ls[0]!,
      `logits (${features.name}) ${formatShape(fs)} and labels (${labels.name}) ${formatShape(ls)} must have the same first dimension`,
    );
    return [
      { dtype: dt, shape: [batch] },
      { dtype: dt, shape: [batch, fs[1]!] },
    ];
  },
  grad: (op, [gradLoss, gradGrad]) => [xentLogitsGrad(op, gradLoss!, gradGrad!), null],
});
