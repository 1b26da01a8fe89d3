import type { DType } from '../src/core/dtypes.js';
import { formatShape, isFullyDefined, shapesCompatible, type Shape } from '../src/core/shape.js';
import { registerOp, type ShapeContext } from './registry.js';
import { checkDType, NUMERIC } from './util.js';

registerOp({
  type: 'VariableV2',
  inputs: [],
  externalOutput: true,
  variable: true,
  attrs: { shape: 'shape', dtype: 'type', container: 'string', shared_name: 'string' },
  stateful: true,
  shape: (ctx) => [{ dtype: ctx.attr<DType>('dtype'), shape: ctx.attr<Shape>('shape') }],
  grad: null,
});

function assignShape(ctx: ShapeContext, allowed?: readonly DType[]) {
  const [ref, value] = ctx.inputs as [ShapeContext['inputs'][0], ShapeContext['inputs'][0]];
  if (allowed) checkDType(ctx, 0, allowed, 'ref');
  if (ref.dtype !== value.dtype) ctx.fail(`cannot assign a ${value.dtype} value (${value.name}) to the ${ref.dtype} variable ${ref.name}`);
  const validate = ctx.opType !== 'Assign' || ctx.attr<boolean>('validate_shape');
  if (validate && !shapesCompatible(ref.shape, value.shape)) {
    ctx.fail(`shape of value ${value.name} ${formatShape(value.shape)} does not match the variable ${ref.name} of shape ${formatShape(ref.shape)}`);
  }
  return [{ dtype: ref.dtype, shape: validate ? (isFullyDefined(ref.shape) ? ref.shape : value.shape) : value.shape }];
}

registerOp({
  type: 'Assign',
  inputs: ['ref', 'value'],
  attrs: { T: 'type', validate_shape: 'bool', use_locking: 'bool' },
  refInputs: [0],
  stateful: true,
  shape: (ctx) => assignShape(ctx),
  grad: null,
});
for (const type of ['AssignAdd', 'AssignSub']) {
  registerOp({
    type,
    inputs: ['ref', 'value'],
    attrs: { T: 'type', use_locking: 'bool' },
    refInputs: [0],
    stateful: true,
    shape: (ctx) => assignShape(ctx, NUMERIC),
    grad: null,
  });
}
