// Debugging and graph-utility op definitions (issue 18): Assert, Print, CheckNumerics, IdentityN,
// Snapshot, ShapeN, EnsureShape and the fake-quantization ops, with TensorFlow's names, attrs and
// gradients. Registered on import by ops/index.ts.
import { graphOf } from '../src/convert.js';
import type { DType } from '../src/core/dtypes.js';
import { formatShape, mergeShapes, type Shape } from '../src/core/shape.js';
import type { AttrValue, Operation, Tensor } from '../src/graph.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, checkScalar, FLOAT, optAttr } from './util.js';



const passThrough = (ctx: ShapeContext): OutputSpec[] => [{ dtype: ctx.inputs[0]!.dtype, shape: ctx.inputs[0]!.shape }];

function makeOp(op: Operation, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>): Tensor[] {
  return graphOf(op.inputs).createOp(type, inputs, attrs).outputs;
}

// ---- assertions and printing ----

registerOp({
  type: 'Assert',
  inputs: ['condition', 'data[]'],
  attrs: { T: 'list(type)', summarize: 'int' },
  stateful: true,
  shape: (ctx) => {
    const c = ctx.inputs[0]!;
    if (c.dtype !== 'bool') ctx.fail(`condition (${c.name}) must be bool, got ${c.dtype}`);
    checkScalar(ctx, 0, 'condition');
    return [];
  },
  grad: null, // TF: ops.NotDifferentiable("Assert")
});

registerOp({
  type: 'Print',
  inputs: ['input', 'data[]'],
  attrs: { T: 'type', U: 'list(type)', message: 'string', first_n: 'int', summarize: 'int' },
  stateful: true,
  forwardsInput: true,
  shape: passThrough,
  // TF's _PrintGrad: the gradient passes to `input`; the printed data get none.
  grad: (op, [g]) => [g!, ...op.inputs.slice(1).map(() => null)],
});

/** The message TF's CheckNumerics gradient checks the gradient with. */
export const checkNumericsGradMessage = (message: string): string =>
  `Not a number (NaN) or infinity (Inf) values detected in gradient. ${message}`;

registerOp({
  type: 'CheckNumerics',
  inputs: ['tensor'],
  attrs: { T: 'type', message: 'string' },
  // Stateful as in TF: never folded, merged or dropped, so the check always runs.
  stateful: true,
  forwardsInput: true,
  shape: (ctx) => {
    checkDType(ctx, 0, FLOAT, 'tensor');
    return passThrough(ctx);
  },
  grad: (op, [g]) => [
    makeOp(op, 'CheckNumerics', [g!], { T: g!.dtype, message: checkNumericsGradMessage(String(op.attrs.message ?? '')) })[0]!,
  ],
});

// ---- identities and shapes ----

registerOp({
  type: 'IdentityN',
  inputs: ['input*'],
  attrs: { T: 'list(type)' },
  shape: (ctx) => ctx.inputs.map((t) => ({ dtype: t.dtype, shape: t.shape })),
  grad: (_op, grads) => grads,
});

registerOp({
  type: 'Snapshot',
  inputs: ['input'],
  attrs: { T: 'type' },
  shape: passThrough,
  grad: (_op, [g]) => [g!],
});

registerOp({
  type: 'ShapeN',
  inputs: ['input*'],
  attrs: { N: 'int', T: 'type', out_type: 'type' },
  shape: (ctx) => {
    const outType = optAttr<DType>(ctx, 'out_type', 'int32');
    if (outType !== 'int32' && outType !== 'int64') ctx.fail(`out_type must be int32 or int64, got ${outType}`);
    return ctx.inputs.map((t) => ({ dtype: outType, shape: [t.rank] }));
  },
  grad: null, // TF: ops.NotDifferentiable("ShapeN")
});

registerOp({
  type: 'EnsureShape',
  inputs: ['input'],
  attrs: { shape: 'shape', T: 'type' },
  shape: (ctx) => {
    const x = ctx.inputs[0]!;
    const want = ctx.attr<Shape>('shape');
    try {
      return [{ dtype: x.dtype, shape: mergeShapes(x.shape, want) }];
    } catch {
      return ctx.fail(`Shape of tensor ${x.name} ${formatShape(x.shape)} is not compatible with expected shape ${formatShape(want)}.`);
    }
  },
  grad: (_op, [g]) => [g!],
});

// ---- fake quantization (TF's fake_quant_ops) ----

/** num_bits in [2, 16] and, for the Args ops, min < max: checked where the op is made. */
function checkQuantAttrs(ctx: ShapeContext, withRange: boolean): void {
  const bits = optAttr(ctx, 'num_bits', 8);
  if (!(Number.isInteger(bits) && bits >= 2 && bits <= 16)) ctx.fail(`num_bits must be between 2 and 16, inclusive, got ${bits}`);
  if (withRange) {
    const [min, max] = [optAttr(ctx, 'min', -6), optAttr(ctx, 'max', 6)];
    if (!(min < max)) ctx.fail(`min has to be smaller than max, was: ${min} >= ${max}`);
  }
}

function sameShapeOrFail(ctx: ShapeContext, a: number, b: number): Shape {
  const [x, y] = [ctx.inputs[a]!, ctx.inputs[b]!];
  try {
    return mergeShapes(x.shape, y.shape);
  } catch {
    return ctx.fail(`${x.name} has shape ${formatShape(x.shape)} but ${y.name} has shape ${formatShape(y.shape)}; they must be equal`);
  }
}

const QUANT_ARGS_ATTRS = { min: 'float', max: 'float', num_bits: 'int', narrow_range: 'bool' } as const;
const QUANT_VARS_ATTRS = { num_bits: 'int', narrow_range: 'bool' } as const;

function quantAttrs(op: Operation, keys: readonly string[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const k of keys) if (op.attrs[k] !== undefined) out[k] = op.attrs[k]!;
  return out;
}

registerOp({
  type: 'FakeQuantWithMinMaxArgs',
  inputs: ['inputs'],
  attrs: QUANT_ARGS_ATTRS,
  shape: (ctx) => {
    checkDType(ctx, 0, FLOAT, 'inputs');
    checkQuantAttrs(ctx, true);
    return passThrough(ctx);
  },
  grad: (op, [g]) => makeOp(op, 'FakeQuantWithMinMaxArgsGradient', [g!, op.inputs[0]!], quantAttrs(op, Object.keys(QUANT_ARGS_ATTRS))),
});

registerOp({
  type: 'FakeQuantWithMinMaxArgsGradient',
  inputs: ['gradients', 'inputs'],
  attrs: QUANT_ARGS_ATTRS,
  shape: (ctx) => {
    checkDType(ctx, 0, FLOAT, 'gradients');
    checkDType(ctx, 1, FLOAT, 'inputs');
    checkQuantAttrs(ctx, true);
    return [{ dtype: 'float32', shape: sameShapeOrFail(ctx, 0, 1) }];
  },
  grad: null,
});

function checkMinMax(ctx: ShapeContext, from: number): void {
  for (const [k, what] of [
    [from, 'min'],
    [from + 1, 'max'],
  ] as const) {
    checkDType(ctx, k, FLOAT, what);
    checkScalar(ctx, k, what);
  }
}

registerOp({
  type: 'FakeQuantWithMinMaxVars',
  inputs: ['inputs', 'min', 'max'],
  attrs: QUANT_VARS_ATTRS,
  shape: (ctx) => {
    checkDType(ctx, 0, FLOAT, 'inputs');
    checkMinMax(ctx, 1);
    checkQuantAttrs(ctx, false);
    return passThrough(ctx);
  },
  grad: (op, [g]) => makeOp(op, 'FakeQuantWithMinMaxVarsGradient', [g!, ...op.inputs], quantAttrs(op, Object.keys(QUANT_VARS_ATTRS))),
});

registerOp({
  type: 'FakeQuantWithMinMaxVarsGradient',
  inputs: ['gradients', 'inputs', 'min', 'max'],
  attrs: QUANT_VARS_ATTRS,
  shape: (ctx) => {
    checkDType(ctx, 0, FLOAT, 'gradients');
    checkDType(ctx, 1, FLOAT, 'inputs');
    checkMinMax(ctx, 2);
    checkQuantAttrs(ctx, false);
    return [
      { dtype: 'float32', shape: sameShapeOrFail(ctx, 0, 1) },
      { dtype: 'float32', shape: [] },
      { dtype: 'float32', shape: [] },
    ];
  },
  grad: null,
});
