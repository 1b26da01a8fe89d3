import type { NDArray } from '../src/core/ndarray.js';
import type { Shape } from '../src/core/shape.js';
import type { DType } from '../src/core/dtypes.js';
import { mergeShapes } from '../src/core/shape.js';
import { registerOp } from './registry.js';

registerOp({
  type: 'Const',
  inputs: [],
  externalOutput: true,
  attrs: { value: 'tensor', dtype: 'type' },
  shape: (ctx) => {
    const v = ctx.attr<NDArray>('value');
    return [{ dtype: v.dtype, shape: v.shape }];
  },
  known: (ctx) => ({ value: ctx.attr<NDArray>('value') }),
  grad: null,
});

registerOp({
  type: 'Placeholder',
  inputs: [],
  attrs: { dtype: 'type', shape: 'shape' },
  shape: (ctx) => [{ dtype: ctx.attr<DType>('dtype'), shape: ctx.attr<Shape>('shape') }],
  grad: null,
});

registerOp({
  type: 'PlaceholderWithDefault',
  inputs: ['input'],
  forwardsInput: true,
  // Its default is what flows when nothing is fed: its value is not known while building.
  known: () => undefined,
  attrs: { dtype: 'type', shape: 'shape' },
  shape: (ctx) => {
    const input = ctx.inputs[0]!;
    const shape = ctx.attr<Shape>('shape');
    if (input.dtype !== ctx.attr<DType>('dtype')) ctx.fail(`default value is ${input.dtype}, expected ${ctx.attr('dtype')}`);
    try {
      mergeShapes(shape, input.shape);
    } catch {
      ctx.fail(`default value's shape ${JSON.stringify(input.shape)} is not compatible with shape ${JSON.stringify(shape)}`);
    }
    return [{ dtype: input.dtype, shape }];
  },
  // The default value is what flows forward when nothing is fed, so the gradient flows to it.
  grad: (_op, grads) => [grads[0] ?? null],
});

registerOp({
  type: 'Identity',
  complex: true,
  inputs: ['input'],
  forwardsInput: true,
  attrs: { T: 'type' },
  elementwise: true,
  shape: (ctx) => {
    return [{ dtype: ctx.inputs[0]!.dtype, shape: ctx.inputs[0]!.shape }];
  },
  grad: (_op, grads) => [grads[0] ?? null],
});

registerOp({
  type: 'StopGradient',
  complex: true,
  inputs: ['input'],
  forwardsInput: true,
  attrs: { T: 'type' },
  shape: (ctx) => {
    return [{ dtype: ctx.inputs[0]!.dtype, shape: ctx.inputs[0]!.shape }];
  },
  grad: null,
});

registerOp({
  type: 'NoOp',
  inputs: [],
  shape: () => [],
  grad: null,
});
