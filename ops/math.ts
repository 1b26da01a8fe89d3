// Math op definitions: elementwise ops, casts, matmul, reductions. Gradients follow TF's
// math_grad.py (same formulas and gradient op names).
import { graphOf } from '../src/convert.js';
import type { DType } from '../src/core/dtypes.js';
import type { Operation, Tensor } from '../src/graph.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { invertPerm } from './semantics/array.js';
import { broadcastStatic, formatShape, isFullyDefined, mergeShapes, type Dim, type Shape } from '../src/core/shape.js';
import {
  add,
  cast,
  cos,
  cosh,
  digamma,
  divide,
  divNoNan,
  equal,
  exp,
  less,
  logicalOr,
  floorDiv,
  floorMod,
  greater,
  greaterEqual,
  lessEqual,
  log,
  maximum,
  minimum,
  multiply,
  negative,
  polygamma,
  pow,
  reciprocal,
  reduceProd,
  reduceSum,
  sign,
  sin,
  sinh,
  sqrt,
  square,
  subtract,
  where,
  zeta,
} from '../src/api/math.js';
import { broadcastTo, gather, range, reshape, shape as shapeOf, size, stack, transpose, zerosLike } from '../src/api/array.js';
import { cumprod } from '../src/api/sort.js';
import { conj } from '../src/api/spectral.js';
import { registerOp, type AbstractValue, type GradFn, type OpDef, type OutputSpec, type ShapeContext } from './registry.js';
import { ALL, binaryShape, checkDType, FLOAT, NUMERIC, unaryShape, withRank } from './util.js';

/** Types the complex arithmetic kernels (runtime/cpu/kernels/spectral.ts) also take. */
const NUMERIC_COMPLEX: readonly DType[] = [...NUMERIC, 'complex64'];

const INDEX: readonly DType[] = ['int32', 'int64'];
const BOOL: readonly DType[] = ['bool'];
const MATMUL_TYPES: readonly DType[] = ['float32', 'int32'];

// ---------------------------------------------------------------------------------------------
// Gradient helpers

/**
 * The axes of the broadcast output along which an input of shape `x` was broadcast, when the
 * static shapes decide it (`others`: the other operands' shapes); undefined when only run time can
 * tell. Summing over an axis where x has size 1 is always correct, so such axes are included even
 * when the output's size there is unknown.
 */
function staticBroadcastAxes(x: Shape, others: readonly Shape[]): { axes: number[]; lead: number } | undefined {
  if (x === null || others.some((o) => o === null)) return undefined;
  const shapes = others as unknown as (readonly Dim[])[];
  const rank = Math.max(x.length, ...shapes.map((s) => s.length));
  const lead = rank - x.length;
  const axes: number[] = [];
  for (let i = 0; i < rank; i++) {
    const xi = i - (rank - x.length);
    if (xi < 0) {
      axes.push(i);
      continue;
    }
    const dx = x[xi]!;
    const dims = shapes.map((s) => {
      const j = i - (rank - s.length);
      return j < 0 ? 1 : s[j]!;
    });
    if (dx === 1) {
      if (dims.some((d) => d !== 1)) axes.push(i);
    } else if (dx === null && dims.some((d) => d !== 1)) {
      return undefined;
    }
  }
  return { axes, lead };
}

/**
 * Sums `grad` (shaped like the broadcast output) down to the shape of input `x`: in JS when the
 * static shapes decide the axes, else with BroadcastGradientArgs at run time.
 */
function sumToShape(grad: Tensor, x: Tensor, others: readonly Shape[]): Tensor {
  const known = staticBroadcastAxes(x.shape, others);
  if (known !== undefined) {
    const { axes, lead } = known;
    if (axes.length === 0) return grad;
    // Only leading axes: the sum has x's shape already.
    if (axes.every((a) => a < lead)) return reduceSum(grad, axes);
    if (isFullyDefined(x.shape)) return reshape(reduceSum(grad, axes), x.shape);
    return reshape(reduceSum(grad, axes, true), shapeOf(x));
  }
  const sx = shapeOf(x);
  const [rx] = broadcastGradientArgs(sx, shapeOf(grad));
  return reshape(reduceSum(grad, rx), sx);
}

function broadcastGradientArgs(s0: Tensor, s1: Tensor): [Tensor, Tensor] {
  const op = graphOf([s0]).createOp('BroadcastGradientArgs', [s0, s1], { T: s0.dtype });
  return [op.outputs[0]!, op.outputs[1]!];
}

/** Gradients of a broadcasting binary op, each summed down to its input's shape. */
function binaryGrad(op: Operation, gx: Tensor | null, gy: Tensor | null): (Tensor | null)[] {
  const [x, y] = op.inputs as [Tensor, Tensor];
  return [gx && sumToShape(gx, x, [y.shape]), gy && sumToShape(gy, y, [x.shape])];
}

/** One of TF's cwise gradient ops: XGrad(y, dy). */
function cwiseGrad(type: string, y: Tensor, dy: Tensor): Tensor {
  return graphOf([y]).createOp(type, [y, dy], { T: y.dtype }).outputs[0]!;
}

function matmulOp(a: Tensor, b: Tensor, ta: boolean, tb: boolean): Tensor {
  return graphOf([a]).createOp('MatMul', [a, b], { T: a.dtype, transpose_a: ta, transpose_b: tb }, { name: 'MatMul' }).outputs[0]!;
}

function batchMatmulOp(a: Tensor, b: Tensor, ax: boolean, ay: boolean): Tensor {
  return graphOf([a]).createOp('BatchMatMulV2', [a, b], { T: a.dtype, adj_x: ax, adj_y: ay }, { name: 'MatMul' }).outputs[0]!;
}

// ---------------------------------------------------------------------------------------------
// Binary elementwise ops

function binary(
  type: string,
  allowed: readonly DType[],
  grad: GradFn | null,
  opts: { out?: DType; attrs?: Record<string, 'type' | 'bool'>; inputs?: [string, string] } & Pick<OpDef, 'commutative' | 'rightIdentity'> = {},
): void {
  registerOp({
    type,
    inputs: opts.inputs ?? ['x', 'y'],
    attrs: opts.attrs ?? { T: 'type' },
    elementwise: true,
    commutative: opts.commutative,
    rightIdentity: opts.rightIdentity,
    complex: allowed.includes('complex64'),
    shape: binaryShape(allowed, opts.out),
    grad,
  });
}

binary('AddV2', NUMERIC_COMPLEX, (op, [g]) => binaryGrad(op, g!, g!), { commutative: true, rightIdentity: 0 });
binary('Sub', NUMERIC_COMPLEX, (op, [g]) => binaryGrad(op, g!, negative(g!)), { rightIdentity: 0 });
binary(
  'Mul',
  NUMERIC_COMPLEX,
  (op, [g]) => {
    const [x, y] = op.inputs as [Tensor, Tensor];
    return binaryGrad(op, multiply(g!, conj(y)), multiply(conj(x), g!));
  },
  { commutative: true, rightIdentity: 1 },
);
binary(
  'RealDiv',
  FLOAT,
  (op, [g]) => {
    const [x, y] = op.inputs as [Tensor, Tensor];
    return binaryGrad(op, divide(g!, y), multiply(g!, divide(divide(negative(x), y), y)));
  },
  { rightIdentity: 1 },
);
// Integer-valued results: no gradient, as in TF.
binary('FloorDiv', NUMERIC, null);
binary('FloorMod', NUMERIC, (op, [g]) => {
  const [x, y] = op.inputs as [Tensor, Tensor];
  return binaryGrad(op, g!, multiply(g!, negative(floorDiv(x, y))));
});
binary('Pow', NUMERIC, (op, [g]) => {
  const [x, y] = op.inputs as [Tensor, Tensor];
  const z = op.outputs[0]!;
  const gx = multiply(multiply(g!, y), pow(x, subtract(y, 1)));
  // log(x) only where x > 0 (0 elsewhere), computed on a safe x so that no inf/NaN leaks into
  // second derivatives through the unselected branch.
  const mask = greater(x, 0);
  const logX = where(mask, log(where(mask, x, 1)), 0);
  return binaryGrad(op, gx, multiply(multiply(g!, z), logX));
});
/** TF's _MaximumMinimumGrad: the gradient goes to x where it was selected (ties go to x), else to y. */
function maxMinGrad(selectX: (x: Tensor, y: Tensor) => Tensor): GradFn {
  return (op, [g]) => {
    const [x, y] = op.inputs as [Tensor, Tensor];
    const xmask = selectX(x, y);
    return binaryGrad(op, where(xmask, g!, 0), where(xmask, 0, g!));
  };
}
binary('Maximum', NUMERIC, maxMinGrad(greaterEqual), { commutative: true });
binary('Minimum', NUMERIC, maxMinGrad(lessEqual), { commutative: true });
binary(
  'SquaredDifference',
  NUMERIC,
  (op, [g]) => {
    const [x, y] = op.inputs as [Tensor, Tensor];
    const gx = multiply(multiply(g!, 2), subtract(x, y));
    return binaryGrad(op, gx, negative(gx));
  },
  { commutative: true },
);

binary(
  'Atan2',
  FLOAT,
  (op, [g]) => {
    const [y, x] = op.inputs as [Tensor, Tensor];
    const gInv = divide(g!, add(square(x), square(y)));
    return binaryGrad(op, multiply(x, gInv), multiply(negative(y), gInv));
  },
  { inputs: ['y', 'x'] },
);
// TF1's Div: true division for floats, truncating (and failing on zero) for integers. Its gradient
// divides with math_ops.div, which is RealDiv for floats.
binary('Div', NUMERIC, (op, [g]) => {
  const [x, y] = op.inputs as [Tensor, Tensor];
  return binaryGrad(op, divide(g!, y), multiply(g!, divide(divide(negative(x), y), y)));
});
binary('DivNoNan', FLOAT, (op, [g]) => {
  const [x, y] = op.inputs as [Tensor, Tensor];
  return binaryGrad(op, divNoNan(g!, y), multiply(g!, divNoNan(divNoNan(negative(x), y), y)));
});
// TF's gradients: none for the order a (Polygamma) and the exponent x (Zeta).
binary(
  'Polygamma',
  FLOAT,
  (op, [g]) => {
    const [a, x] = op.inputs as [Tensor, Tensor];
    return binaryGrad(op, null, multiply(g!, polygamma(add(a, 1), x)));
  },
  { inputs: ['a', 'x'] },
);
binary(
  'Zeta',
  FLOAT,
  (op, [g]) => {
    const [x, q] = op.inputs as [Tensor, Tensor];
    return binaryGrad(op, null, multiply(g!, multiply(negative(x), zeta(add(x, 1), q))));
  },
  { inputs: ['x', 'q'] },
);
// Truncated remainders and quotients: TF registers no gradient for Mod and TruncateMod, and None
// for TruncateDiv.
binary('Mod', NUMERIC, null);
binary('TruncateMod', NUMERIC, null);
binary('TruncateDiv', NUMERIC, null);
// TF marks the bitwise ops commutative; the flag waits until test/op_registry.test.ts's pinned list takes them.
for (const type of ['BitwiseAnd', 'BitwiseOr', 'BitwiseXor']) binary(type, INDEX, null);

const EQUALITY_TYPES: readonly DType[] = [...ALL, 'string'];
for (const type of ['Equal', 'NotEqual']) {
  binary(type, EQUALITY_TYPES, null, { out: 'bool', attrs: { T: 'type', incompatible_shape_error: 'bool' }, commutative: true });
}
for (const type of ['Less', 'LessEqual', 'Greater', 'GreaterEqual']) binary(type, NUMERIC, null, { out: 'bool' });
for (const type of ['LogicalAnd', 'LogicalOr']) binary(type, BOOL, null, { attrs: {}, commutative: true });

// ---------------------------------------------------------------------------------------------
// Unary elementwise ops

function unary(
  type: string,
  allowed: readonly DType[],
  grad: GradFn | null,
  opts: { attrs?: Record<string, 'type'>; out?: DType } & Pick<OpDef, 'involution' | 'fusableActivation'> = {},
): void {
  const { attrs = { T: 'type' }, out, ...flags } = opts;
  registerOp({ type, inputs: ['x'], attrs, elementwise: true, ...flags, complex: allowed.includes('complex64'), shape: unaryShape(allowed, out), grad });
}

unary('Neg', NUMERIC_COMPLEX, (_op, [g]) => [negative(g!)], { involution: true });
unary('Square', NUMERIC, (op, [g]) => [multiply(g!, multiply(op.inputs[0]!, 2))]);
unary('Sqrt', FLOAT, (op, [g]) => [cwiseGrad('SqrtGrad', op.outputs[0]!, g!)]);
unary('Rsqrt', FLOAT, (op, [g]) => [cwiseGrad('RsqrtGrad', op.outputs[0]!, g!)]);
unary('Exp', FLOAT, (op, [g]) => [multiply(g!, op.outputs[0]!)]);
unary('Log', FLOAT, (op, [g]) => [multiply(g!, reciprocal(op.inputs[0]!))]);
unary('Log1p', FLOAT, (op, [g]) => [multiply(g!, reciprocal(add(1, op.inputs[0]!)))]);
unary('Abs', NUMERIC, (op, [g]) => [multiply(g!, sign(op.inputs[0]!))]);
unary('Sign', NUMERIC, (op) => [zerosLike(op.inputs[0]!)]);
unary('Reciprocal', FLOAT, (op, [g]) => [cwiseGrad('ReciprocalGrad', op.outputs[0]!, g!)]);
// Piecewise constant: TF gives them no gradient (None).
unary('Floor', FLOAT, null);
unary('Ceil', FLOAT, null);
unary('Round', NUMERIC, null);
unary('Sigmoid', FLOAT, (op, [g]) => [cwiseGrad('SigmoidGrad', op.outputs[0]!, g!)], { fusableActivation: true });
unary('Tanh', FLOAT, (op, [g]) => [cwiseGrad('TanhGrad', op.outputs[0]!, g!)], { fusableActivation: true });
unary('LogicalNot', BOOL, null, { attrs: {}, involution: true });

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
unary('Sin', FLOAT, (op, [g]) => [multiply(g!, cos(op.inputs[0]!))]);
unary('Cos', FLOAT, (op, [g]) => [multiply(negative(g!), sin(op.inputs[0]!))]);
unary('Tan', FLOAT, (op, [g]) => [multiply(square(reciprocal(cos(op.inputs[0]!))), g!)]);
/** 1 / sqrt(1 - x^2), the magnitude of asin' and acos'. */
const invSqrtOneMinusSquare = (x: Tensor): Tensor => reciprocal(sqrt(subtract(1, square(x))));
unary('Asin', FLOAT, (op, [g]) => [multiply(g!, invSqrtOneMinusSquare(op.inputs[0]!))]);
unary('Acos', FLOAT, (op, [g]) => [multiply(negative(g!), invSqrtOneMinusSquare(op.inputs[0]!))]);
unary('Atan', FLOAT, (op, [g]) => [multiply(g!, reciprocal(add(1, square(op.inputs[0]!))))]);
unary('Sinh', FLOAT, (op, [g]) => [multiply(g!, cosh(op.inputs[0]!))]);
unary('Cosh', FLOAT, (op, [g]) => [multiply(g!, sinh(op.inputs[0]!))]);
// From the outputs, as TF: asinh' = 1 / cosh(y), acosh' = 1 / sinh(y).
unary('Asinh', FLOAT, (op, [g]) => [divide(g!, cosh(op.outputs[0]!))]);
unary('Acosh', FLOAT, (op, [g]) => [divide(g!, sinh(op.outputs[0]!))]);
unary('Atanh', FLOAT, (op, [g]) => [multiply(g!, reciprocal(subtract(1, square(op.inputs[0]!))))]);
unary('Expm1', FLOAT, (op, [g]) => [multiply(g!, exp(op.inputs[0]!))]);
unary('Erf', FLOAT, (op, [g]) => [multiply(g!, multiply(TWO_OVER_SQRT_PI, exp(negative(square(op.inputs[0]!)))))]);
unary('Erfc', FLOAT, (op, [g]) => [multiply(g!, multiply(-TWO_OVER_SQRT_PI, exp(negative(square(op.inputs[0]!)))))]);
unary('Lgamma', FLOAT, (op, [g]) => [multiply(g!, digamma(op.inputs[0]!))]);
unary('Digamma', FLOAT, (op, [g]) => [multiply(g!, polygamma(1, op.inputs[0]!))]);
for (const type of ['IsNan', 'IsInf', 'IsFinite']) unary(type, FLOAT, null, { out: 'bool' });


/** XGrad(y, dy): two float tensors of one shape. */
function cwiseGradShape(ctx: ShapeContext): OutputSpec[] {
  const dt = checkDType(ctx, 0, FLOAT, 'y');
  const [y, dy] = ctx.inputs as [AbstractValue, AbstractValue];
  if (dy.dtype !== dt) ctx.fail(`y (${y.name}) is ${dt} but dy (${dy.name}) is ${dy.dtype}`);
  try {
    return [{ dtype: dt, shape: mergeShapes(y.shape, dy.shape) }];
  } catch {
    return ctx.fail(`y (${y.name}) has shape ${formatShape(y.shape)} but dy (${dy.name}) has shape ${formatShape(dy.shape)}; they must be equal`);
  }
}

// Gradients of the gradient ops (second order), as TF's _XGradGrad functions.
function cwiseGradOp(type: string, grad: GradFn): void {
  registerOp({ type, inputs: ['y', 'dy'], attrs: { T: 'type' }, elementwise: true, shape: cwiseGradShape, grad });
}
cwiseGradOp('SigmoidGrad', (op, [g]) => {
  const [a, b] = op.inputs as [Tensor, Tensor];
  const gb = multiply(g!, b);
  return [subtract(gb, multiply(multiply(gb, 2), a)), cwiseGrad('SigmoidGrad', a, g!)];
});
cwiseGradOp('TanhGrad', (op, [g]) => {
  const [a, b] = op.inputs as [Tensor, Tensor];
  return [multiply(multiply(multiply(g!, -2), b), a), cwiseGrad('TanhGrad', a, g!)];
});
cwiseGradOp('SqrtGrad', (op, [g]) => {
  // out = 0.5 * b / a
  const a = op.inputs[0]!;
  const ga = divide(g!, a);
  return [multiply(negative(ga), op.outputs[0]!), multiply(ga, 0.5)];
});
cwiseGradOp('RsqrtGrad', (op, [g]) => {
  // out = -0.5 * b * a^3
  const [a, b] = op.inputs as [Tensor, Tensor];
  return [multiply(multiply(multiply(g!, -1.5), b), square(a)), cwiseGrad('RsqrtGrad', a, g!)];
});
cwiseGradOp('ReciprocalGrad', (op, [g]) => {
  // out = -b * a^2
  const [a, b] = op.inputs as [Tensor, Tensor];
  return [multiply(multiply(multiply(g!, -2), b), a), cwiseGrad('ReciprocalGrad', a, g!)];
});

// ---------------------------------------------------------------------------------------------
// Select, Cast, AddN, BroadcastGradientArgs

function sameDTypeOrFail(ctx: ShapeContext, i: number, j: number, what: [string, string]): DType {
  const a = ctx.inputs[i]!;
  const b = ctx.inputs[j]!;
  if (a.dtype !== b.dtype) ctx.fail(`${what[0]} (${a.name}) is ${a.dtype} but ${what[1]} (${b.name}) is ${b.dtype}; both must have one dtype`);
  return a.dtype;
}

registerOp({
  type: 'SelectV2',
  inputs: ['condition', 't', 'e'],
  attrs: { T: 'type' },
  elementwise: true,
  shape: (ctx) => {
    checkDType(ctx, 0, BOOL, 'condition');
    const dt = sameDTypeOrFail(ctx, 1, 2, ['t', 'e']);
    const [c, t, e] = ctx.inputs as [AbstractValue, AbstractValue, AbstractValue];
    const ct = broadcastStatic(c.shape, t.shape);
    const shape = ct === undefined ? undefined : broadcastStatic(ct, e.shape);
    if (shape === undefined) {
      return ctx.fail(`condition ${formatShape(c.shape)}, t ${formatShape(t.shape)} and e ${formatShape(e.shape)} cannot be broadcast together`);
    }
    return [{ dtype: dt, shape }];
  },
  grad: (op, [g]) => {
    const [c, x, y] = op.inputs as [Tensor, Tensor, Tensor];
    const gx = where(c, g!, 0);
    const gy = where(c, 0, g!);
    return [null, sumToShape(gx, x, [c.shape, y.shape]), sumToShape(gy, y, [c.shape, x.shape])];
  },
});

// TF1's Select: t and e of one shape; condition of that shape, a scalar, or a vector picking rows.
registerOp({
  type: 'Select',
  inputs: ['condition', 't', 'e'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    checkDType(ctx, 0, BOOL, 'condition');
    const dt = sameDTypeOrFail(ctx, 1, 2, ['t', 'e']);
    const [c, t, e] = ctx.inputs as [AbstractValue, AbstractValue, AbstractValue];
    let shape: Shape;
    try {
      shape = mergeShapes(t.shape, e.shape);
    } catch {
      return ctx.fail(`t ${formatShape(t.shape)} and e ${formatShape(e.shape)} must have the same shape`);
    }
    const cs = c.shape;
    if (cs !== null && shape !== null && cs.length !== 0) {
      if (cs.length === 1 && shape.length > 1) {
        if (cs[0] !== null && shape[0] !== null && cs[0] !== shape[0]) ctx.fail(`condition of size ${cs[0]} must match the first dim of t ${formatShape(shape)}`);
      } else {
        try {
          shape = mergeShapes(shape, cs);
        } catch {
          ctx.fail(`condition ${formatShape(cs)} must be a scalar, a vector matching t's first dim, or have t's shape ${formatShape(shape)}`);
        }
      }
    }
    return [{ dtype: dt, shape }];
  },
  grad: (op, [g]) => {
    const c = op.inputs[0]!;
    const zeros = zerosLike(op.inputs[1]!);
    const sel = (a: Tensor, b: Tensor): Tensor => graphOf(op.inputs).createOp('Select', [c, a, b], { T: a.dtype }).outputs[0]!;
    return [null, sel(g!, zeros), sel(zeros, g!)];
  },
});

// TF's ClipByValue (the op; TF1's tf.clip_by_value builds Minimum/Maximum instead). The bounds are
// scalars or of t's shape; the kernels check which.
registerOp({
  type: 'ClipByValue',
  inputs: ['t', 'clip_value_min', 'clip_value_max'],
  attrs: { T: 'type' },
  elementwise: true,
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, NUMERIC, 't');
    sameDTypeOrFail(ctx, 0, 1, ['t', 'clip_value_min']);
    sameDTypeOrFail(ctx, 0, 2, ['t', 'clip_value_max']);
    return [{ dtype: dt, shape: ctx.inputs[0]!.shape }];
  },
  // TF's _ClipByValueGrad: t's gradient where it was not clipped, each bound's where it clipped.
  grad: (op, [g]) => {
    const [x, lo, hi] = op.inputs as [Tensor, Tensor, Tensor];
    const below = less(x, lo);
    const above = greater(x, hi);
    return [where(logicalOr(below, above), 0, g!), sumToShape(where(below, g!, 0), lo, [x.shape]), sumToShape(where(above, g!, 0), hi, [x.shape])];
  },
});

const INT_RANGE: Partial<Record<DType, [number, number]>> = { int32: [-(2 ** 31), 2 ** 31 - 1], int64: [-Infinity, Infinity] };

registerOp({
  type: 'Cast',
  complex: true,
  inputs: ['x'],
  attrs: { SrcT: 'type', DstT: 'type', Truncate: 'bool' },
  elementwise: true,
  shape: (ctx) => {
    const x = ctx.inputs[0]!;
    if (ctx.attr<DType>('SrcT') !== x.dtype) ctx.fail(`attr SrcT is ${ctx.attr<DType>('SrcT')} but x (${x.name}) is ${x.dtype}`);
    const dst = ctx.attr<DType>('DstT');
    if ((x.dtype === 'string') !== (dst === 'string')) ctx.fail(`cannot cast ${x.dtype} to ${dst}`);
    return [{ dtype: dst, shape: x.shape }];
  },
  // An integer shape value keeps its known elements through a cast to an integer type they fit.
  known: (ctx) => {
    const e = ctx.inputs[0]!.knownElements;
    const dst = ctx.attr<DType>('DstT');
    if (!e || !INT_RANGE[dst]) return undefined;
    const [lo, hi] = INT_RANGE[dst]!;
    return e.every((d) => d === null || (d >= lo && d <= hi)) ? { elements: e } : undefined;
  },
  // Only float-to-float casts carry a gradient (weir has one float dtype, so it passes through).
  grad: (op, [g]) => {
    const src = op.getAttr<DType>('SrcT');
    const carries = (d: DType): boolean => FLOAT.includes(d) || d === 'complex64';
    return [g && carries(src) && carries(op.getAttr<DType>('DstT')) ? cast(g, src) : null];
  },
});

registerOp({
  type: 'AddN',
  complex: true,
  inputs: ['inputs*'],
  attrs: { N: 'int', T: 'type' },
  elementwise: true,
  shape: (ctx) => {
    if (ctx.attr<number>('N') !== ctx.inputs.length) ctx.fail(`attr N is ${ctx.attr<number>('N')} but there are ${ctx.inputs.length} inputs`);
    const dt = checkDType(ctx, 0, [...NUMERIC_COMPLEX, 'variant'], 'inputs[0]');
    let shape: Shape = null;
    ctx.inputs.forEach((t, i) => {
      if (t.dtype !== dt) ctx.fail(`inputs[${i}] (${t.name}) is ${t.dtype}, expected ${dt} like inputs[0]`);
      try {
        shape = mergeShapes(shape, t.shape);
      } catch {
        ctx.fail(`inputs[${i}] (${t.name}) has shape ${formatShape(t.shape)}, incompatible with ${formatShape(shape)}; all inputs must have one shape`);
      }
    });
    return [{ dtype: dt, shape }];
  },
  grad: (op, [g]) => op.inputs.map(() => g!),
});

registerOp({
  type: 'BroadcastGradientArgs',
  inputs: ['s0', 's1'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, INDEX, 's0');
    sameDTypeOrFail(ctx, 0, 1, ['s0', 's1']);
    withRank(ctx, 0, 1, 's0');
    withRank(ctx, 1, 1, 's1');
    return [
      { dtype: dt, shape: [null] },
      { dtype: dt, shape: [null] },
    ];
  },
  grad: null,
});

// ---------------------------------------------------------------------------------------------
// Matrix multiplication

function innerDimsOrFail(ctx: ShapeContext, k1: Dim, k2: Dim, a: AbstractValue, b: AbstractValue, ta: boolean, tb: boolean): void {
  if (k1 !== null && k2 !== null && k1 !== k2) {
    ctx.fail(
      `Dimensions must be equal, but are ${k1} and ${k2}: inner dimensions of a ${formatShape(a.shape)}${ta ? ' (transposed)' : ''} (${a.name}) and b ${formatShape(b.shape)}${tb ? ' (transposed)' : ''} (${b.name}) do not match`,
    );
  }
}

registerOp({
  type: 'MatMul',
  inputs: ['a', 'b'],
  attrs: { T: 'type', transpose_a: 'bool', transpose_b: 'bool' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, MATMUL_TYPES, 'a');
    sameDTypeOrFail(ctx, 0, 1, ['a', 'b']);
    const ta = !!ctx.attr<boolean>('transpose_a');
    const tb = !!ctx.attr<boolean>('transpose_b');
    const [a0, a1] = withRank(ctx, 0, 2, 'a') as [Dim, Dim];
    const [b0, b1] = withRank(ctx, 1, 2, 'b') as [Dim, Dim];
    innerDimsOrFail(ctx, ta ? a0 : a1, tb ? b1 : b0, ctx.inputs[0]!, ctx.inputs[1]!, ta, tb);
    return [{ dtype: dt, shape: [ta ? a1 : a0, tb ? b0 : b1] }];
  },
  grad: (op, [g]) => {
    const [a, b] = op.inputs as [Tensor, Tensor];
    const ta = op.getAttr<boolean>('transpose_a');
    const tb = op.getAttr<boolean>('transpose_b');
    if (!ta && !tb) return [matmulOp(g!, b, false, true), matmulOp(a, g!, true, false)];
    if (!ta && tb) return [matmulOp(g!, b, false, false), matmulOp(g!, a, true, false)];
    if (ta && !tb) return [matmulOp(b, g!, false, true), matmulOp(a, g!, false, false)];
    return [matmulOp(b, g!, true, true), matmulOp(g!, a, true, true)];
  },
});

registerOp({
  type: 'BatchMatMulV2',
  inputs: ['x', 'y'],
  attrs: { T: 'type', adj_x: 'bool', adj_y: 'bool' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, MATMUL_TYPES, 'x');
    sameDTypeOrFail(ctx, 0, 1, ['x', 'y']);
    const [x, y] = ctx.inputs as [AbstractValue, AbstractValue];
    const ax = !!ctx.attr<boolean>('adj_x');
    const ay = !!ctx.attr<boolean>('adj_y');
    for (const [t, what] of [[x, 'x'], [y, 'y']] as const) {
      if (t.shape !== null && t.shape.length < 2) ctx.fail(`${what} (${t.name}) must be at least rank 2, got shape ${formatShape(t.shape)}`);
    }
    if (x.shape === null || y.shape === null) return [{ dtype: dt, shape: null }];
    const [x0, x1] = x.shape.slice(-2) as [Dim, Dim];
    const [y0, y1] = y.shape.slice(-2) as [Dim, Dim];
    innerDimsOrFail(ctx, ax ? x0 : x1, ay ? y1 : y0, x, y, ax, ay);
    const batch = broadcastStatic(x.shape.slice(0, -2), y.shape.slice(0, -2));
    if (batch === undefined) {
      ctx.fail(`batch dimensions of x ${formatShape(x.shape)} and y ${formatShape(y.shape)} cannot be broadcast together`);
    }
    return [{ dtype: dt, shape: [...batch!, ax ? x1 : x0, ay ? y0 : y1] }];
  },
  grad: (op, [g]) => {
    const [x, y] = op.inputs as [Tensor, Tensor];
    const ax = op.getAttr<boolean>('adj_x');
    const ay = op.getAttr<boolean>('adj_y');
    let gx: Tensor;
    let gy: Tensor;
    if (!ax && !ay) [gx, gy] = [batchMatmulOp(g!, y, false, true), batchMatmulOp(x, g!, true, false)];
    else if (!ax && ay) [gx, gy] = [batchMatmulOp(g!, y, false, false), batchMatmulOp(g!, x, true, false)];
    else if (ax && !ay) [gx, gy] = [batchMatmulOp(y, g!, false, true), batchMatmulOp(x, g!, false, false)];
    else [gx, gy] = [batchMatmulOp(y, g!, true, true), batchMatmulOp(g!, x, true, true)];
    // Sum over the batch dims each input was broadcast along. The matrix dims of gx are x's own, so
    // the other operand's shape is taken as [...batch, 1, 1] (never broadcasting the matrix dims).
    const batchOf = (t: Tensor): Shape => (t.shape === null ? null : [...t.shape.slice(0, -2), 1, 1]);
    return [sumToShape(gx, x, [batchOf(y)]), sumToShape(gy, y, [batchOf(x)])];
  },
});

// ---------------------------------------------------------------------------------------------
// Reductions

/** Static reduction axes (normalized, unique, sorted), when the axes are constant and x's rank known. */
function staticAxes(x: Tensor, axes: Tensor): number[] | undefined {
  const v = axes.knownValue;
  if (!v || x.shape === null) return undefined;
  const rank = x.shape.length;
  const norm = Array.from(v.data as ArrayLike<number | bigint>, (a) => (Number(a) < 0 ? Number(a) + rank : Number(a)));
  return [...new Set(norm)].sort((p, q) => p - q);
}

/**
 * x's shape with the reduced axes set to 1 (what a keep_dims reduction outputs): a JS array when
 * static, else a tensor (TF's reduced_shape, built from int32 math).
 */
function keptDimsShape(x: Tensor, axesT: Tensor): number[] | Tensor {
  const axes = staticAxes(x, axesT);
  if (axes !== undefined && isFullyDefined(x.shape)) return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const sx = shapeOf(x);
  if (axes !== undefined) {
    const rank = x.shape!.length;
    const mask = Array.from({ length: rank }, (_, i) => (axes.includes(i) ? 1 : 0));
    return add(multiply(sx, mask.map((m) => 1 - m)), mask);
  }
  const rank = size(sx);
  const axesN = floorMod(reshape(axesT.dtype === 'int32' ? axesT : cast(axesT, 'int32'), [-1]), rank);
  const hit = equal(reshape(range(0, rank), [-1, 1]), reshape(axesN, [1, -1]));
  const mask = minimum(reduceSum(cast(hit, 'int32'), 1), 1);
  return add(multiply(sx, subtract(1, mask)), mask);
}

/** The gradient of a reduction's output reshaped to the keep_dims shape, so it broadcasts against x. */
function gradKeptDims(op: Operation, t: Tensor): Tensor {
  if (op.getAttr<boolean>('keep_dims')) return t;
  return reshape(t, keptDimsShape(op.inputs[0]!, op.inputs[1]!));
}

function sumGrad(op: Operation, g: Tensor): Tensor {
  const x = op.inputs[0]!;
  const axes = staticAxes(x, op.inputs[1]!);
  if (axes !== undefined && axes.length === 0) return g;
  return broadcastTo(gradKeptDims(op, g), isFullyDefined(x.shape) ? x.shape : shapeOf(x));
}

function reductionShape(allowed: readonly DType[]) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dt = checkDType(ctx, 0, allowed, 'input');
    checkDType(ctx, 1, INDEX, 'reduction_indices');
    const keep = !!ctx.attr<boolean>('keep_dims');
    const x = ctx.inputs[0]!;
    const axesT = ctx.inputs[1]!;
    if (axesT.shape !== null && axesT.shape.length > 1) ctx.fail(`reduction_indices (${axesT.name}) must be a scalar or vector, got shape ${formatShape(axesT.shape)}`);
    const xs = x.shape;
    const v = ctx.constValue(1);
    if (xs === null) return [{ dtype: dt, shape: null }];
    if (!v) {
      if (keep) return [{ dtype: dt, shape: xs.map(() => null) }];
      if (axesT.shape !== null && axesT.shape.length === 1 && axesT.shape[0] === 0) return [{ dtype: dt, shape: xs }];
      return [{ dtype: dt, shape: null }];
    }
    const rank = xs.length;
    const axes = new Set<number>();
    for (const a of Array.from(v.data as ArrayLike<number | bigint>, Number)) {
      if (a < -rank || a >= rank) ctx.fail(`Invalid reduction dimension ${a} for input with ${rank} dimensions (input ${x.name} has shape ${formatShape(xs)})`);
      const n = a < 0 ? a + rank : a;
      if (axes.has(n)) ctx.fail(`reduction_indices contains duplicate dimension ${n}`);
      axes.add(n);
    }
    return [{ dtype: dt, shape: keep ? xs.map((d, i) => (axes.has(i) ? 1 : d)) : xs.filter((_, i) => !axes.has(i)) }];
  };
}

function reduction(type: string, grad: GradFn | null, allowed: readonly DType[] = NUMERIC): void {
  // Bool reductions (All, Any) have no T attr.
  const attrs: Record<string, 'bool' | 'type'> = allowed === BOOL ? { keep_dims: 'bool', Tidx: 'type' } : { keep_dims: 'bool', T: 'type', Tidx: 'type' };
  // Over no axes, or over axes of size 1 it keeps, a reduction is the identity.
  registerOp({ type, inputs: ['input', 'reduction_indices'], identityWhenSameShape: true, attrs, shape: reductionShape(allowed), grad });
}

reduction('Sum', (op, [g]) => [sumGrad(op, g!), null]);

reduction('Mean', (op, [g]) => {
  const s = sumGrad(op, g!);
  const xs = op.inputs[0]!.shape;
  const ys = op.outputs[0]!.shape;
  if (isFullyDefined(xs) && isFullyDefined(ys)) {
    const inSize = xs.reduce((p, d) => p * d, 1);
    const outSize = ys.reduce((p, d) => p * d, 1);
    const factor = Math.floor(inSize / Math.max(outSize, 1));
    return [factor === 1 ? s : divide(s, factor), null];
  }
  // TF's _safe_shape_div: input size // max(output size, 1).
  const factor = floorDiv(reduceProd(shapeOf(op.inputs[0]!)), maximum(reduceProd(shapeOf(op.outputs[0]!)), 1));
  return [divide(s, cast(factor, s.dtype)), null];
});

/**
 * TF's _MinOrMaxGrad: the gradient is split evenly among the positions that attained the
 * extreme value.
 */
function minOrMaxGrad(op: Operation, [g]: (Tensor | null)[]): (Tensor | null)[] {
  const x = op.inputs[0]!;
  const y = gradKeptDims(op, op.outputs[0]!);
  const gk = gradKeptDims(op, g!);
  const indicators = cast(equal(y, x), g!.dtype);
  const numSelected = reduceSum(indicators, op.inputs[1]!, true);
  return [multiply(divide(indicators, numSelected), gk), null];
}
reduction('Max', minOrMaxGrad);
reduction('Min', minOrMaxGrad);

// TF's _ProdGrad: d prod / d x_i is the product of the other elements, taken as the exclusive
// cumulative products from the left and from the right (right where x has zeros, unlike prod / x_i):
// the reduced axes moved first and flattened, the rest flattened after them.
reduction('Prod', (op, [g]) => {
  const x = op.inputs[0]!;
  const axes = staticAxes(x, op.inputs[1]!);
  const rank = x.rank;
  if (axes === undefined || rank === null) throw new InvalidArgumentError(`Gradient of Prod '${op.name}' needs constant reduction axes and an input of known rank`, op.name);
  const xShape = isFullyDefined(x.shape) ? x.shape : shapeOf(x);
  const grad = broadcastTo(gradKeptDims(op, g!), xShape);
  const other = Array.from({ length: rank }, (_, i) => i).filter((i) => !axes.includes(i));
  const perm = [...axes, ...other];
  const permuted = transpose(x, perm);
  const reducedNum = isFullyDefined(x.shape) ? axes.reduce((p, a) => p * (x.shape as number[])[a]!, 1) : reduceProd(gather(shapeOf(x), axes));
  const flat = reshape(permuted, isFullyDefined(x.shape) ? [reducedNum as number, -1] : stack([reducedNum, -1]));
  const left = cumprod(flat, 0, { exclusive: true });
  const right = cumprod(flat, 0, { exclusive: true, reverse: true });
  const y = reshape(multiply(left, right), isFullyDefined(permuted.shape) ? permuted.shape : shapeOf(permuted));
  return [multiply(grad, transpose(y, invertPerm(perm))), null];
});

reduction('All', null, BOOL);
reduction('Any', null, BOOL);

// TF's _EuclideanNormGrad: x / (norm / grad), both broadcast back over the reduced axes.
reduction('EuclideanNorm', (op, [g]) => {
  const norm = gradKeptDims(op, op.outputs[0]!);
  return [divide(op.inputs[0]!, divide(norm, gradKeptDims(op, g!))), null];
});

function argReduction(type: string): void {
  registerOp({
    type,
    inputs: ['input', 'dimension'],
    attrs: { T: 'type', Tidx: 'type', output_type: 'type' },
    shape: (ctx) => {
      checkDType(ctx, 0, NUMERIC, 'input');
      checkDType(ctx, 1, INDEX, 'dimension');
      const outType = ctx.attr<DType>('output_type');
      if (!INDEX.includes(outType)) ctx.fail(`output_type must be int32 or int64, got ${outType}`);
      const x = ctx.inputs[0]!;
      const dimT = ctx.inputs[1]!;
      if (dimT.shape !== null && dimT.shape.length !== 0 && !(dimT.shape.length === 1 && dimT.shape[0] === 1)) {
        ctx.fail(`dimension (${dimT.name}) must be a scalar, got shape ${formatShape(dimT.shape)}`);
      }
      const xs = x.shape;
      if (xs === null) return [{ dtype: outType, shape: null }];
      const rank = xs.length;
      const v = ctx.constValue(1);
      if (!v) {
        if (rank === 0) ctx.fail(`input (${x.name}) must have rank >= 1`);
        return [{ dtype: outType, shape: new Array<Dim>(rank - 1).fill(null) }];
      }
      const a = Number(v.data[0]);
      if (a < -rank || a >= rank) ctx.fail(`Expected dimension in the range [${-rank}, ${rank}), but got ${a} (input ${x.name} has shape ${formatShape(xs)})`);
      const axis = a < 0 ? a + rank : a;
      return [{ dtype: outType, shape: xs.filter((_, i) => i !== axis) }];
    },
    grad: null,
  });
}
argReduction('ArgMax');
argReduction('ArgMin');

