// Normalization ops: LRN and its gradient op, and the fused batch norms (FusedBatchNorm, V2, V3)
// with their gradient ops, with TensorFlow's names, attrs, defaults, shape functions and gradients
// (tensorflow/python/ops/nn_grad.py).
import { graphOf } from '../src/convert.js';
import type { DType } from '../src/core/dtypes.js';
import type { Dim } from '../src/core/shape.js';
import type { AttrValue, Operation, Tensor } from '../src/graph.js';
import { reshape, zerosLike } from '../src/api/array.js';
import { stopGradient } from '../src/api/core.js';
import { add, multiply, reciprocal, reduceMean, reduceSum, rsqrt, squaredDifference, subtract } from '../src/api/math.js';
import { gradients } from '../src/gradients.js';
import { registerOp, type AttrType, type GradFn, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, FLOAT, optAttr, withRank } from './util.js';


function mergeDim(ctx: ShapeContext, a: Dim, b: Dim, what: string): Dim {
  if (a !== null && b !== null && a !== b) ctx.fail(`${what}: ${a} vs ${b}`);
  return a ?? b;
}

function sameDType(ctx: ShapeContext, indices: readonly number[], names: readonly string[]): DType {
  const dt = checkDType(ctx, indices[0]!, FLOAT, names[0]);
  indices.forEach((i, k) => {
    const t = ctx.inputs[i]!;
    if (t.dtype !== dt) ctx.fail(`${names[k]} (${t.name}) is ${t.dtype} but ${names[0]} (${ctx.inputs[indices[0]!]!.name}) is ${dt}; they must match`);
  });
  return dt;
}

// ---- LRN ----

const LRN_ATTRS = { T: 'type', depth_radius: 'int', bias: 'float', alpha: 'float', beta: 'float' } as const;
const LRN_ATTR_NAMES = ['depth_radius', 'bias', 'alpha', 'beta'] as const;

function lrnAttrs(op: Operation): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = { T: op.getAttr('T') };
  for (const n of LRN_ATTR_NAMES) if (op.hasAttr(n)) out[n] = op.getAttr(n);
  return out;
}

registerOp({
  type: 'LRN',
  inputs: ['input'],
  attrs: LRN_ATTRS,
  shape: (ctx) => {
    const dtype = checkDType(ctx, 0, FLOAT, 'input');
    const radius = optAttr(ctx, 'depth_radius', 5);
    if (!Number.isInteger(radius) || radius < 0) ctx.fail(`depth_radius must be a non-negative integer, got ${radius}`);
    return [{ dtype, shape: [...withRank(ctx, 0, 4, 'input')] }];
  },
  grad: (op, [g]) => {
    const [x] = op.inputs as [Tensor];
    return [graphOf(op.inputs).createOp('LRNGrad', [g!, x, op.outputs[0]!], lrnAttrs(op)).outputs[0]!];
  },
});

registerOp({
  type: 'LRNGrad',
  inputs: ['input_grads', 'input_image', 'output_image'],
  attrs: LRN_ATTRS,
  shape: (ctx) => {
    const names = ['input_grads', 'input_image', 'output_image'];
    const dtype = sameDType(ctx, [0, 1, 2], names);
    let s = withRank(ctx, 0, 4, names[0]!);
    for (const i of [1, 2]) {
      const t = withRank(ctx, i, 4, names[i]!);
      s = s.map((d, k) => mergeDim(ctx, d, t[k]!, `${names[i]} (${ctx.inputs[i]!.name}) must have the shape of input_grads, dim ${k}`));
    }
    return [{ dtype, shape: s }];
  },
  // TensorFlow registers no gradient for LRNGrad.
  grad: null,
});

// ---- fused batch norm ----

/** The data formats of a fused batch norm version: 4-D for all, 5-D (NDHWC, NCDHW) for V3 too. */
function batchNormFormat(ctx: ShapeContext, fiveD: boolean): { rank: number; channel: (rank: number) => number; format: string } {
  const format = optAttr(ctx, 'data_format', 'NHWC');
  const allowed = fiveD ? ['NHWC', 'NCHW', 'NDHWC', 'NCDHW'] : ['NHWC', 'NCHW'];
  if (!allowed.includes(format)) ctx.fail(`data_format must be one of ${allowed.join(', ')}, got '${format}'`);
  return { rank: format.length, channel: (r) => (format.startsWith('NC') ? 1 : r - 1), format };
}

interface BatchNormVersion {
  type: string;
  grad: string;
  /** V2 and V3: scale, offset, mean and variance have their own dtype attr U. */
  u: boolean;
  /** V3: a sixth output (reserve_space_3), 5-D formats. */
  v3: boolean;
}

const VERSIONS: readonly BatchNormVersion[] = [
  { type: 'FusedBatchNorm', grad: 'FusedBatchNormGrad', u: false, v3: false },
  { type: 'FusedBatchNormV2', grad: 'FusedBatchNormGradV2', u: true, v3: false },
  { type: 'FusedBatchNormV3', grad: 'FusedBatchNormGradV3', u: true, v3: true },
];

/** TensorFlow's FusedBatchNormShape (plus V3's reserve_space_3, a scalar as its CPU kernel makes it). */
function batchNormShape(v: BatchNormVersion) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const names = ['x', 'scale', 'offset', 'mean', 'variance'];
    const dtype = sameDType(ctx, [0, 1, 2, 3, 4], names);
    const { rank, channel } = batchNormFormat(ctx, v.v3);
    const x = withRank(ctx, 0, rank, 'x');
    const c = channel(rank);
    const training = optAttr(ctx, 'is_training', true);
    const factor = optAttr(ctx, 'exponential_avg_factor', 1);
    // In training with a factor of 1, mean and variance are not read and may be empty.
    const vectors = training && factor === 1 ? 3 : 5;
    let depth: Dim = x[c] ?? null;
    for (let i = 1; i < vectors; i++) {
      const s = withRank(ctx, i, 1, names[i]!);
      depth = mergeDim(ctx, depth, s[0]!, `${names[i]} (${ctx.inputs[i]!.name}) must have the length of x's channel dimension ${c}`);
    }
    const y = [...x];
    y[c] = depth;
    const vec = { dtype, shape: [depth] };
    const outs: OutputSpec[] = [{ dtype, shape: y }, vec, vec, vec, vec];
    if (v.v3) outs.push({ dtype, shape: [] });
    return outs;
  };
}

/** TensorFlow's FusedBatchNormGradShape. */
function batchNormGradShape(v: BatchNormVersion) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const names = ['y_backprop', 'x', 'scale', 'reserve_space_1', 'reserve_space_2'];
    const dtype = sameDType(ctx, [0, 1, 2, 3, 4], names);
    const { rank, channel } = batchNormFormat(ctx, v.v3);
    const dy = withRank(ctx, 0, rank, 'y_backprop');
    const x = withRank(ctx, 1, rank, 'x');
    const c = channel(rank);
    const merged = dy.map((d, k) => mergeDim(ctx, d, x[k]!, `x (${ctx.inputs[1]!.name}) must have the shape of y_backprop, dim ${k}`));
    let depth: Dim = merged[c] ?? null;
    for (let i = 2; i < 5; i++) {
      const s = withRank(ctx, i, 1, names[i]!);
      depth = mergeDim(ctx, depth, s[0]!, `${names[i]} (${ctx.inputs[i]!.name}) must have the length of x's channel dimension ${c}`);
    }
    merged[c] = depth;
    return [
      { dtype, shape: merged },
      { dtype, shape: [depth] },
      { dtype, shape: [depth] },
      { dtype, shape: [0] },
      { dtype, shape: [0] },
    ];
  };
}

function batchNormAttrs(op: Operation, names: readonly string[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = { T: op.getAttr('T') };
  if (op.hasAttr('U')) out.U = op.getAttr('U');
  for (const n of names) if (op.hasAttr(n)) out[n] = op.getAttr(n);
  return out;
}

const isTraining = (op: Operation): boolean => (op.hasAttr('is_training') ? (op.getAttr('is_training') as boolean) : true);

/**
 * TensorFlow's _BaseFusedBatchNormGrad: the gradient op of the same version, on the batch
 * statistics the forward op saved (training) or on the population statistics it was given
 * (inference). Only y's gradient flows; the statistics outputs carry none.
 */
function batchNormGrad(v: BatchNormVersion): GradFn {
  return (op, [dy]) => {
    const [x, scale, , popMean, popVar] = op.inputs as Tensor[];
    const training = isTraining(op);
    const stats = training ? [op.outputs[3]!, op.outputs[4]!] : [popMean!, popVar!];
    const inputs = [dy!, x!, scale!, ...stats];
    if (v.v3) inputs.push(op.outputs[5]!);
    const attrs = batchNormAttrs(op, ['epsilon', 'data_format', 'is_training']);
    const grad = graphOf(op.inputs).createOp(v.grad, inputs, attrs);
    return [grad.outputs[0]!, grad.outputs[1]!, grad.outputs[2]!, null, null];
  };
}

/**
 * TensorFlow's _BatchNormGrad: the gradient op's math written with differentiable ops, whose
 * gradients give the gradient op's gradient. Per-channel reductions keep their dims, so one form
 * serves every layout; scale and offset gradients come out as vectors.
 */
function batchNormGradComposite(op: Operation, dy: Tensor, x: Tensor, scale: Tensor): [Tensor, Tensor, Tensor] {
  const format = op.hasAttr('data_format') ? (op.getAttr('data_format') as string) : 'NHWC';
  const epsilon = op.hasAttr('epsilon') ? (op.getAttr('epsilon') as number) : 1e-4;
  const rank = format.length;
  const c = format.startsWith('NC') ? 1 : rank - 1;
  const axes = Array.from({ length: rank }, (_, k) => k).filter((k) => k !== c);
  const bcast = (t: Tensor): Tensor => reshape(t, Array.from({ length: rank }, (_, k) => (k === c ? -1 : 1)));
  const vector = (t: Tensor): Tensor => reshape(t, [-1]);
  const s = bcast(scale);
  if (isTraining(op)) {
    const meanDy = reduceMean(dy, axes, true);
    const meanX = reduceMean(x, axes, true);
    const varX = reduceMean(squaredDifference(x, stopGradient(meanX)), axes, true);
    const xOffset = subtract(x, meanX);
    const mean = reduceMean(multiply(dy, xOffset), axes, true);
    const varRsqrt = rsqrt(add(varX, epsilon));
    const gx = multiply(multiply(s, varRsqrt), subtract(subtract(dy, meanDy), multiply(multiply(reciprocal(add(varX, epsilon)), mean), xOffset)));
    const gScale = vector(multiply(varRsqrt, reduceSum(multiply(dy, xOffset), axes, true)));
    return [gx, gScale, vector(reduceSum(dy, axes, true))];
  }
  const popMean = bcast(op.inputs[3]!);
  const varRsqrt = rsqrt(add(bcast(op.inputs[4]!), epsilon));
  const gScale = vector(reduceSum(multiply(multiply(dy, subtract(x, popMean)), varRsqrt), axes, true));
  return [multiply(multiply(dy, s), varRsqrt), gScale, vector(reduceSum(dy, axes, true))];
}

/** TensorFlow's _FusedBatchNormGradGrad: gradients of the composite, for y_backprop, x and scale. */
function batchNormGradGrad(v: BatchNormVersion): GradFn {
  return (op, grads) => {
    const [dy, x, scale] = op.inputs as [Tensor, Tensor, Tensor];
    const composite = batchNormGradComposite(op, dy, x, scale);
    const ys: Tensor[] = [];
    const gys: Tensor[] = [];
    composite.forEach((y, k) => {
      const g = grads[k];
      if (g) {
        ys.push(y);
        gys.push(g);
      }
    });
    const [gDy, gX, gScale] = ys.length ? gradients(ys, [dy, x, scale], gys) : [null, null, null];
    const out: (Tensor | null)[] = [gDy ?? zerosLike(dy), gX ?? zerosLike(x), gScale ?? zerosLike(scale), null, null];
    if (v.v3) out.push(null);
    return out;
  };
}

for (const v of VERSIONS) {
  const u: Record<string, AttrType> = v.u ? { U: 'type' } : {};
  registerOp({
    type: v.type,
    inputs: ['x', 'scale', 'offset', 'mean', 'variance'],
    attrs: { T: 'type', ...u, epsilon: 'float', exponential_avg_factor: 'float', data_format: 'string', is_training: 'bool' },
    shape: batchNormShape(v),
    grad: batchNormGrad(v),
  });
  registerOp({
    type: v.grad,
    inputs: ['y_backprop', 'x', 'scale', 'reserve_space_1', 'reserve_space_2', ...(v.v3 ? ['reserve_space_3'] : [])],
    attrs: { T: 'type', ...u, epsilon: 'float', data_format: 'string', is_training: 'bool' },
    shape: batchNormGradShape(v),
    grad: batchNormGradGrad(v),
  });
}
