// String op definitions (issue 18): splitting (StringSplit, StringSplitV2), n-grams, hashing into
// buckets, regex replacement, joining, length, substrings, strip and case. Strings live on the host,
// so these run on the host on every backend (runtime/cpu/kernels/strings.ts), as TensorFlow places
// them. None has a gradient (TensorFlow registers none: strings are not differentiable).
import type { DType } from '../src/core/dtypes.js';
import { broadcastStatic, formatShape, type Shape } from '../src/core/shape.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { INDEX, mergeDim, rankOf } from './sparse.js';
import { optAttr } from './util.js';
import { checkDType } from './util.js';

const STRING: readonly DType[] = ['string'];

/** The three outputs of a split: a SparseTensor's indices, values and dense shape. */
function splitShape(ctx: ShapeContext): OutputSpec[] {
  checkDType(ctx, 0, STRING, 'input');
  checkDType(ctx, 1, STRING, ctx.opType === 'StringSplit' ? 'delimiter' : 'sep');
  rankOf(ctx, 0, 1, 'input');
  rankOf(ctx, 1, 0, ctx.opType === 'StringSplit' ? 'delimiter' : 'sep');
  return [
    { dtype: 'int64', shape: [null, 2] },
    { dtype: 'string', shape: [null] },
    { dtype: 'int64', shape: [2] },
  ];
}

registerOp({ type: 'StringSplit', inputs: ['input', 'delimiter'], attrs: { skip_empty: 'bool' }, shape: splitShape, grad: null });
registerOp({ type: 'StringSplitV2', inputs: ['input', 'sep'], attrs: { maxsplit: 'int' }, shape: splitShape, grad: null });

registerOp({
  type: 'StringNGrams',
  inputs: ['data', 'data_splits'],
  attrs: {
    separator: 'string',
    ngram_widths: 'list(int)',
    left_pad: 'string',
    right_pad: 'string',
    pad_width: 'int',
    preserve_short_sequences: 'bool',
    Tsplits: 'type',
  },
  shape: (ctx) => {
    checkDType(ctx, 0, STRING, 'data');
    const splitsType = checkDType(ctx, 1, INDEX, 'data_splits');
    rankOf(ctx, 0, 1, 'data');
    const [n] = rankOf(ctx, 1, 1, 'data_splits');
    const widths = optAttr<number[]>(ctx, 'ngram_widths', []);
    for (const w of widths) if (!(w > 0)) ctx.fail(`ngram_widths must contain positive values, got ${w}`);
    return [
      { dtype: 'string', shape: [null] },
      { dtype: splitsType, shape: [n!] },
    ];
  },
  grad: null,
});

registerOp({
  type: 'StringToHashBucketFast',
  inputs: ['input'],
  attrs: { num_buckets: 'int' },
  shape: (ctx) => {
    checkDType(ctx, 0, STRING, 'input');
    const n = ctx.attr<number>('num_buckets');
    if (!(Number.isInteger(n) && n >= 1)) ctx.fail(`num_buckets must be >= 1, got ${n}`);
    return [{ dtype: 'int64', shape: ctx.inputs[0]!.shape }];
  },
  grad: null,
});

/** Shape function of ops mapping each string to one value of `out` (same shape). */
function perString(out: DType = 'string') {
  return (ctx: ShapeContext): OutputSpec[] => {
    checkDType(ctx, 0, STRING, 'input');
    return [{ dtype: out, shape: ctx.inputs[0]!.shape }];
  };
}

registerOp({
  type: 'StaticRegexReplace',
  inputs: ['input'],
  attrs: { pattern: 'string', rewrite: 'string', replace_global: 'bool' },
  shape: perString(),
  grad: null,
});

registerOp({ type: 'StringStrip', inputs: ['input'], shape: perString(), grad: null });
registerOp({ type: 'StringLower', inputs: ['input'], attrs: { encoding: 'string' }, shape: perString(), grad: null });
registerOp({ type: 'StringUpper', inputs: ['input'], attrs: { encoding: 'string' }, shape: perString(), grad: null });

function checkUnit(ctx: ShapeContext): void {
  const unit = optAttr(ctx, 'unit', 'BYTE');
  if (unit !== 'BYTE' && unit !== 'UTF8_CHAR') ctx.fail(`unit must be BYTE or UTF8_CHAR, got ${unit}`);
}

registerOp({
  type: 'StringLength',
  inputs: ['input'],
  attrs: { unit: 'string' },
  shape: (ctx) => {
    checkUnit(ctx);
    return perString('int32')(ctx);
  },
  grad: null,
});

/** The broadcast of several static shapes, failing like TensorFlow's BCast. */
function broadcastAll(ctx: ShapeContext, shapes: Shape[], what: string): Shape {
  let out: Shape = [];
  for (const s of shapes) {
    const b = broadcastStatic(out, s);
    if (b === undefined) ctx.fail(`${what}: shapes ${shapes.map(formatShape).join(', ')} cannot be broadcast together`);
    out = b;
  }
  return out;
}

registerOp({
  type: 'Substr',
  inputs: ['input', 'pos', 'len'],
  attrs: { T: 'type', unit: 'string' },
  shape: (ctx) => {
    checkDType(ctx, 0, STRING, 'input');
    const t = checkDType(ctx, 1, INDEX, 'pos');
    if (ctx.inputs[2]!.dtype !== t) ctx.fail(`len is ${ctx.inputs[2]!.dtype}, expected ${t} like pos`);
    checkUnit(ctx);
    const [x, pos, len] = ctx.inputs.map((i) => i.shape) as [Shape, Shape, Shape];
    if (pos !== null && len !== null) {
      if (pos.length !== len.length) ctx.fail(`pos and len must have the same shape, got ${formatShape(pos)} and ${formatShape(len)}`);
      pos.forEach((d, i) => mergeDim(ctx, d, len[i]!, 'pos and len must have the same shape'));
    }
    return [{ dtype: 'string', shape: broadcastAll(ctx, [x, pos], 'Substr') }];
  },
  grad: null,
});

registerOp({
  type: 'StringJoin',
  inputs: ['inputs*'],
  attrs: { N: 'int', separator: 'string' },
  shape: (ctx) => {
    ctx.inputs.forEach((_, i) => checkDType(ctx, i, STRING, `inputs[${i}]`));
    // Scalars broadcast; every other input must have one shape.
    let shape: Shape = [];
    for (const t of ctx.inputs) {
      if (t.rank === 0) continue;
      if (t.shape === null || shape === null) {
        shape = null;
        continue;
      }
      if (shape.length === 0) shape = t.shape;
      else if (shape.length !== t.shape.length) ctx.fail(`inputs must be scalars or have one shape, got ${formatShape(shape)} and ${formatShape(t.shape)}`);
      else shape = shape.map((d, i) => mergeDim(ctx, d, t.shape![i]!, 'inputs must be scalars or have one shape'));
    }
    return [{ dtype: 'string', shape: ctx.inputs.every((t) => t.rank === 0) ? [] : shape }];
  },
  grad: null,
});
