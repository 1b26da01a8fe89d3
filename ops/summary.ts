// Summary ops: each outputs a serialized Summary protocol buffer as a string scalar.
import type { DType } from '../src/core/dtypes.js';
import { formatShape, shapesCompatible } from '../src/core/shape.js';
import { registerOp, type ShapeContext } from './registry.js';
import { checkDType, NUMERIC } from './util.js';

const STRING: readonly DType[] = ['string'];
const SUMMARY_OUT = [{ dtype: 'string' as DType, shape: [] }];

function scalarInput(ctx: ShapeContext, i: number, what: string): void {
  checkDType(ctx, i, STRING, what);
  const s = ctx.inputs[i]!.shape;
  if (s !== null && s.length !== 0) ctx.fail(`${what} (${ctx.inputs[i]!.name}) must be a scalar, got shape ${formatShape(s)}`);
}

registerOp({
  type: 'ScalarSummary',
  inputs: ['tags', 'values'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, STRING, 'tags');
    checkDType(ctx, 1, NUMERIC, 'values');
    const [tags, values] = ctx.inputs as [ShapeContext['inputs'][0], ShapeContext['inputs'][0]];
    if (!shapesCompatible(tags.shape, values.shape)) {
      ctx.fail(`tags and values must have the same shape: ${formatShape(tags.shape)} vs. ${formatShape(values.shape)}`);
    }
    return SUMMARY_OUT;
  },
  grad: null,
});

registerOp({
  type: 'HistogramSummary',
  inputs: ['tag', 'values'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    scalarInput(ctx, 0, 'tag');
    checkDType(ctx, 1, NUMERIC, 'values');
    return SUMMARY_OUT;
  },
  grad: null,
});

registerOp({
  type: 'ImageSummary',
  inputs: ['tag', 'tensor'],
  // bad_color (a uint8 tensor in TensorFlow) keeps its default (opaque red) unless a graph read
  // from a file sets it.
  attrs: { T: 'type', max_images: 'int' },
  shape: (ctx) => {
    scalarInput(ctx, 0, 'tag');
    checkDType(ctx, 1, ['float32'], 'tensor');
    const s = ctx.inputs[1]!.shape;
    if (s !== null) {
      const depth = s[3];
      if (s.length !== 4 || (depth !== null && depth !== 1 && depth !== 3 && depth !== 4)) {
        ctx.fail(`tensor must be 4-D [batch, height, width, channels] with 1, 3 or 4 channels, got shape ${formatShape(s)}`);
      }
    }
    const max = ctx.attr<number>('max_images');
    if (!Number.isInteger(max) || max < 1) ctx.fail(`max_images must be a positive integer, got ${max}`);
    return SUMMARY_OUT;
  },
  grad: null,
});

registerOp({
  type: 'TensorSummaryV2',
  inputs: ['tag', 'tensor', 'serialized_summary_metadata'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    scalarInput(ctx, 0, 'tag');
    scalarInput(ctx, 2, 'serialized_summary_metadata');
    return SUMMARY_OUT;
  },
  grad: null,
});

registerOp({
  type: 'MergeSummary',
  inputs: ['inputs*'],
  attrs: { N: 'int' },
  shape: (ctx) => {
    if (ctx.attr<number>('N') !== ctx.inputs.length) ctx.fail(`attr N is ${ctx.attr('N')} but ${ctx.inputs.length} inputs were given`);
    ctx.inputs.forEach((_t, i) => checkDType(ctx, i, STRING, `inputs[${i}]`));
    return SUMMARY_OUT;
  },
  grad: null,
});
