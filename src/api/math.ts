// Public math API: tf.add, tf.matmul, tf.reduceSum, ... Each function creates the op TF1 creates,
// with TF1's default op name, and converts JS values given for inputs into constants named after
// the input inside the op's name scope ('Add/y', 'Sum/reduction_indices'), as TF's op wrappers do.
import { convertToTensor, isVariableLike, type TensorLike, graphOf } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError, OpError } from '../core/errors.js';
import { type AttrValue, type Graph, Tensor } from '../graph.js';
import { gradHooks } from '../gradients.js';
import { NDArray } from '../core/ndarray.js';
import { range, rank as rankOf } from './array.js';
import { identity } from './core.js';
import { complexAbs } from './spectral.js';

export type Axis = number | readonly number[] | TensorLike;

/** Values whose dtype is their own (tensors, variables, arrays): JS literals take theirs. */
function ownDType(v: unknown): DType | undefined {
  if (v instanceof Tensor) return v.dtype;
  if (isVariableLike(v)) return v.dtype;
  if (v instanceof NDArray) return v.dtype;
  if (ArrayBuffer.isView(v)) return NDArray.from(v as Float32Array).dtype;
  return undefined;
}

/**
 * Runs `build` in the op's name scope, in the graph of the first tensor input. `build` receives the
 * scoped op name (ending in '/', which createOp takes as the op's exact name).
 */
function inOpScope<T>(name: string, values: readonly unknown[], build: (g: Graph, opName: string) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => build(g, scope)));
}

/** convertToTensor, with errors naming the op and the input. */
function convertInput(v: TensorLike, dtype: DType | undefined, input: string, opType: string, name: string): Tensor {
  try {
    return convertToTensor(v, ownDType(v) ? undefined : dtype, input, input);
  } catch (e) {
    if (e instanceof OpError) throw new InvalidArgumentError(`${opType} '${name}': input '${input}': ${e.message}`);
    throw e;
  }
}

/** Converts inputs that share one dtype: the first that has a dtype of its own decides. */
function convertSame(values: readonly TensorLike[], inputs: readonly string[], opType: string, name: string, fallback?: DType): Tensor[] {
  let dtype = fallback;
  for (const v of values) {
    const d = ownDType(v);
    if (d) {
      dtype = d;
      break;
    }
  }
  return values.map((v, i) => convertInput(v, dtype, inputs[i]!, opType, name));
}

function createOp(g: Graph, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, opName: string): Tensor {
  return g.createOp(type, inputs, attrs, { name: opName }).outputs[0]!;
}

function binaryOp(type: string, a: TensorLike, b: TensorLike, name: string, attrs: Record<string, AttrValue> = {}, fallback?: DType): Tensor {
  return inOpScope(name, [a, b], (g, opName) => {
    const [x, y] = convertSame([a, b], ['x', 'y'], type, name, fallback) as [Tensor, Tensor];
    return createOp(g, type, [x, y], { T: x.dtype, ...attrs }, opName);
  });
}

function unaryOp(type: string, v: TensorLike, name: string, fallback?: DType): Tensor {
  return inOpScope(name, [v], (g, opName) => {
    const x = convertInput(v, fallback, 'x', type, name);
    return createOp(g, type, [x], { T: x.dtype }, opName);
  });
}

function logicalOp(type: string, inputs: TensorLike[], name: string): Tensor {
  return inOpScope(name, inputs, (g, opName) => {
    const ts = inputs.map((v, i) => convertInput(v, 'bool', inputs.length === 1 ? 'x' : ['x', 'y'][i]!, type, name));
    return createOp(g, type, ts, {}, opName);
  });
}

// ---- binary arithmetic ----

export function add(a: TensorLike, b: TensorLike, name = 'Add'): Tensor {
  return binaryOp('AddV2', a, b, name);
}
export function subtract(a: TensorLike, b: TensorLike, name = 'Sub'): Tensor {
  return binaryOp('Sub', a, b, name);
}
export function multiply(a: TensorLike, b: TensorLike, name = 'Mul'): Tensor {
  return binaryOp('Mul', a, b, name);
}
/**
 * True division (TF's truediv / tf.divide): float inputs divide as they are; integer inputs are
 * first cast to float32 and the result is float32. (TF casts int32 and int64 to float64; weir has
 * no float64.)
 */
export function divide(a: TensorLike, b: TensorLike, name = 'truediv'): Tensor {
  return inOpScope(name, [a, b], (g, opName) => {
    let [x, y] = convertSame([a, b], ['x', 'y'], 'RealDiv', name) as [Tensor, Tensor];
    if (x.dtype === 'int32' || x.dtype === 'int64') {
      if (y.dtype !== x.dtype) {
        throw new InvalidArgumentError(`RealDiv '${name}': x (${x.name}) is ${x.dtype} but y (${y.name}) is ${y.dtype}; both must have one dtype`);
      }
      x = cast(x, 'float32');
      y = cast(y, 'float32');
    }
    return createOp(g, 'RealDiv', [x, y], { T: x.dtype }, opName);
  });
}
export function floorDiv(a: TensorLike, b: TensorLike, name = 'floordiv'): Tensor {
  return binaryOp('FloorDiv', a, b, name);
}
export function floorMod(a: TensorLike, b: TensorLike, name = 'FloorMod'): Tensor {
  return binaryOp('FloorMod', a, b, name);
}
/** TF1's tf.mod is tf.floormod (FloorMod); the truncated remainder is tf.truncatemod. */
export const mod = floorMod;
/**
 * TF1's tf.div (Python 2 division): RealDiv for floats, FloorDiv for integers. (The `Div` op, which
 * truncates integers, is what GraphDefs from tf.raw_ops / C++ carry; tf.truncatediv truncates too.)
 */
export function div(a: TensorLike, b: TensorLike, name = 'div'): Tensor {
  return inOpScope(name, [a, b], (g, opName) => {
    const [x, y] = convertSame([a, b], ['x', 'y'], 'Div', name) as [Tensor, Tensor];
    const type = x.dtype === 'int32' || x.dtype === 'int64' ? 'FloorDiv' : 'RealDiv';
    return createOp(g, type, [x, y], { T: x.dtype }, opName);
  });
}
/** x / y, 0 where y is 0 (even for x 0 or non-finite). */
export function divNoNan(a: TensorLike, b: TensorLike, name = 'div_no_nan'): Tensor {
  return binaryOp('DivNoNan', a, b, name);
}
/** Integer division rounding toward zero (C semantics); fails on integer division by zero. */
export function truncatediv(a: TensorLike, b: TensorLike, name = 'TruncateDiv'): Tensor {
  return binaryOp('TruncateDiv', a, b, name);
}
/** The remainder of truncated division, sign of x (C's % and fmod). */
export function truncatemod(a: TensorLike, b: TensorLike, name = 'TruncateMod'): Tensor {
  return binaryOp('TruncateMod', a, b, name);
}
/** atan2(y, x): the angle of the point (x, y), in [-pi, pi]. */
export function atan2(y: TensorLike, x: TensorLike, name = 'Atan2'): Tensor {
  return inOpScope(name, [y, x], (g, opName) => {
    const [yt, xt] = convertSame([y, x], ['y', 'x'], 'Atan2', name) as [Tensor, Tensor];
    return createOp(g, 'Atan2', [yt, xt], { T: yt.dtype }, opName);
  });
}
export function bitwiseAnd(a: TensorLike, b: TensorLike, name = 'BitwiseAnd'): Tensor {
  return binaryOp('BitwiseAnd', a, b, name);
}
export function bitwiseOr(a: TensorLike, b: TensorLike, name = 'BitwiseOr'): Tensor {
  return binaryOp('BitwiseOr', a, b, name);
}
export function bitwiseXor(a: TensorLike, b: TensorLike, name = 'BitwiseXor'): Tensor {
  return binaryOp('BitwiseXor', a, b, name);
}
export function pow(a: TensorLike, b: TensorLike, name = 'Pow'): Tensor {
  return binaryOp('Pow', a, b, name);
}
export function maximum(a: TensorLike, b: TensorLike, name = 'Maximum'): Tensor {
  return binaryOp('Maximum', a, b, name);
}
export function minimum(a: TensorLike, b: TensorLike, name = 'Minimum'): Tensor {
  return binaryOp('Minimum', a, b, name);
}
export function squaredDifference(a: TensorLike, b: TensorLike, name = 'SquaredDifference'): Tensor {
  return binaryOp('SquaredDifference', a, b, name);
}

// ---- comparisons and logic ----

export function equal(a: TensorLike, b: TensorLike, name = 'Equal'): Tensor {
  return binaryOp('Equal', a, b, name, { incompatible_shape_error: true });
}
export function notEqual(a: TensorLike, b: TensorLike, name = 'NotEqual'): Tensor {
  return binaryOp('NotEqual', a, b, name, { incompatible_shape_error: true });
}
export function less(a: TensorLike, b: TensorLike, name = 'Less'): Tensor {
  return binaryOp('Less', a, b, name);
}
export function lessEqual(a: TensorLike, b: TensorLike, name = 'LessEqual'): Tensor {
  return binaryOp('LessEqual', a, b, name);
}
export function greater(a: TensorLike, b: TensorLike, name = 'Greater'): Tensor {
  return binaryOp('Greater', a, b, name);
}
export function greaterEqual(a: TensorLike, b: TensorLike, name = 'GreaterEqual'): Tensor {
  return binaryOp('GreaterEqual', a, b, name);
}
export function logicalAnd(a: TensorLike, b: TensorLike, name = 'LogicalAnd'): Tensor {
  return logicalOp('LogicalAnd', [a, b], name);
}
export function logicalOr(a: TensorLike, b: TensorLike, name = 'LogicalOr'): Tensor {
  return logicalOp('LogicalOr', [a, b], name);
}
export function logicalNot(x: TensorLike, name = 'LogicalNot'): Tensor {
  return logicalOp('LogicalNot', [x], name);
}

// ---- unary ----

export function negative(x: TensorLike, name = 'Neg'): Tensor {
  return unaryOp('Neg', x, name);
}
export function square(x: TensorLike, name = 'Square'): Tensor {
  return unaryOp('Square', x, name);
}
export function sqrt(x: TensorLike, name = 'Sqrt'): Tensor {
  return unaryOp('Sqrt', x, name);
}
export function rsqrt(x: TensorLike, name = 'Rsqrt'): Tensor {
  return unaryOp('Rsqrt', x, name);
}
export function exp(x: TensorLike, name = 'Exp'): Tensor {
  return unaryOp('Exp', x, name);
}
export function log(x: TensorLike, name = 'Log'): Tensor {
  return unaryOp('Log', x, name);
}
export function log1p(x: TensorLike, name = 'Log1p'): Tensor {
  return unaryOp('Log1p', x, name);
}
export function abs(x: TensorLike, name = 'Abs'): Tensor {
  if (ownDType(x) === 'complex64') return complexAbs(x, { name });
  return unaryOp('Abs', x, name);
}
export function sign(x: TensorLike, name = 'Sign'): Tensor {
  return unaryOp('Sign', x, name);
}
export function reciprocal(x: TensorLike, name = 'Reciprocal'): Tensor {
  return unaryOp('Reciprocal', x, name);
}
export function floor(x: TensorLike, name = 'Floor'): Tensor {
  return unaryOp('Floor', x, name);
}
export function ceil(x: TensorLike, name = 'Ceil'): Tensor {
  return unaryOp('Ceil', x, name);
}
/** Rounds half to even (banker's rounding), as TF does. Integer tensors are returned as they are. */
export function round(x: TensorLike, name = 'Round'): Tensor {
  const d = ownDType(x);
  if ((d === 'int32' || d === 'int64') && (x instanceof Tensor || isVariableLike(x))) return x instanceof Tensor ? x : x.value();
  return unaryOp('Round', x, name);
}
export function sigmoid(x: TensorLike, name = 'Sigmoid'): Tensor {
  return unaryOp('Sigmoid', x, name);
}
export function tanh(x: TensorLike, name = 'Tanh'): Tensor {
  return unaryOp('Tanh', x, name);
}
export function sin(x: TensorLike, name = 'Sin'): Tensor {
  return unaryOp('Sin', x, name);
}
export function cos(x: TensorLike, name = 'Cos'): Tensor {
  return unaryOp('Cos', x, name);
}
export function tan(x: TensorLike, name = 'Tan'): Tensor {
  return unaryOp('Tan', x, name);
}
export function asin(x: TensorLike, name = 'Asin'): Tensor {
  return unaryOp('Asin', x, name);
}
export function acos(x: TensorLike, name = 'Acos'): Tensor {
  return unaryOp('Acos', x, name);
}
export function atan(x: TensorLike, name = 'Atan'): Tensor {
  return unaryOp('Atan', x, name);
}
export function sinh(x: TensorLike, name = 'Sinh'): Tensor {
  return unaryOp('Sinh', x, name);
}
export function cosh(x: TensorLike, name = 'Cosh'): Tensor {
  return unaryOp('Cosh', x, name);
}
export function asinh(x: TensorLike, name = 'Asinh'): Tensor {
  return unaryOp('Asinh', x, name);
}
export function acosh(x: TensorLike, name = 'Acosh'): Tensor {
  return unaryOp('Acosh', x, name);
}
export function atanh(x: TensorLike, name = 'Atanh'): Tensor {
  return unaryOp('Atanh', x, name);
}
/** exp(x) - 1, accurate near 0. */
export function expm1(x: TensorLike, name = 'Expm1'): Tensor {
  return unaryOp('Expm1', x, name);
}
export function erf(x: TensorLike, name = 'Erf'): Tensor {
  return unaryOp('Erf', x, name);
}
/** 1 - erf(x), accurate where erf(x) is near 1. */
export function erfc(x: TensorLike, name = 'Erfc'): Tensor {
  return unaryOp('Erfc', x, name);
}
/** log |Gamma(x)|; +inf at 0 and the negative integers. */
export function lgamma(x: TensorLike, name = 'Lgamma'): Tensor {
  return unaryOp('Lgamma', x, name);
}
/** The derivative of lgamma; NaN at 0 and the negative integers. */
export function digamma(x: TensorLike, name = 'Digamma'): Tensor {
  return unaryOp('Digamma', x, name);
}
/** The a-th derivative of digamma at x (a a non-negative integer; NaN otherwise). */
export function polygamma(a: TensorLike, x: TensorLike, name = 'Polygamma'): Tensor {
  return inOpScope(name, [a, x], (g, opName) => {
    const [at, xt] = convertSame([a, x], ['a', 'x'], 'Polygamma', name, 'float32') as [Tensor, Tensor];
    return createOp(g, 'Polygamma', [at, xt], { T: at.dtype }, opName);
  });
}
/** The Hurwitz zeta function: the sum over k >= 0 of (q + k)^-x. */
export function zeta(x: TensorLike, q: TensorLike, name = 'Zeta'): Tensor {
  return inOpScope(name, [x, q], (g, opName) => {
    const [xt, qt] = convertSame([x, q], ['x', 'q'], 'Zeta', name, 'float32') as [Tensor, Tensor];
    return createOp(g, 'Zeta', [xt, qt], { T: xt.dtype }, opName);
  });
}
export function isNan(x: TensorLike, name = 'IsNan'): Tensor {
  return unaryOp('IsNan', x, name);
}
export function isInf(x: TensorLike, name = 'IsInf'): Tensor {
  return unaryOp('IsInf', x, name);
}
export function isFinite(x: TensorLike, name = 'IsFinite'): Tensor {
  return unaryOp('IsFinite', x, name);
}

// ---- select, cast, addN ----

/** tf.where(condition, x, y): elementwise choice with broadcasting of all three (SelectV2). */
export function where(condition: TensorLike, x: TensorLike, y: TensorLike, name = 'SelectV2'): Tensor {
  return inOpScope(name, [condition, x, y], (g, opName) => {
    const c = convertInput(condition, 'bool', 'condition', 'SelectV2', name);
    const [t, e] = convertSame([x, y], ['t', 'e'], 'SelectV2', name) as [Tensor, Tensor];
    return createOp(g, 'SelectV2', [c, t, e], { T: t.dtype }, opName);
  });
}

/**
 * tf.cast: float to int truncates toward zero, anything to bool is x != 0, bool to numbers gives
 * 0/1. A tensor that already has the dtype is returned as it is.
 */
export function cast(x: TensorLike, dtype: DType, name = 'Cast'): Tensor {
  const own = ownDType(x);
  if (own === dtype && (x instanceof Tensor || isVariableLike(x))) return x instanceof Tensor ? x : x.value();
  return inOpScope(name, [x], (g, opName) => {
    const t = convertInput(x, undefined, 'x', 'Cast', name);
    if (t.dtype === dtype) return t;
    return createOp(g, 'Cast', [t], { SrcT: t.dtype, DstT: dtype, Truncate: false }, opName);
  });
}

/** Sum of tensors of one shape and dtype. A single input is returned as it is (or as an Identity with a name). */
export function addN(xs: readonly TensorLike[], name?: string): Tensor {
  if (xs.length === 0) throw new InvalidArgumentError('addN: inputs must be a non-empty list of tensors');
  if (xs.length === 1) {
    const t = convertToTensor(xs[0]!);
    return name ? identity(t, name) : t;
  }
  const opName = name ?? 'AddN';
  return inOpScope(opName, xs, (g, scoped) => {
    const ts = convertSame(xs, xs.map((_, i) => `inputs_${i}`), 'AddN', opName);
    return createOp(g, 'AddN', ts, { N: ts.length, T: ts[0]!.dtype }, scoped);
  });
}

gradHooks.addN = (xs) => addN(xs);

// ---- matmul ----

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  /** Same as transposeA for real dtypes. */
  adjointA?: boolean;
  adjointB?: boolean;
  name?: string;
}

/**
 * tf.matmul: MatMul for matrices; BatchMatMulV2 (batch dims broadcast) when either input has rank
 * above 2 or unknown rank, as TF does.
 */
export function matmul(a: TensorLike, b: TensorLike, opts: MatmulOptions = {}): Tensor {
  const name = opts.name ?? 'MatMul';
  const ta = !!(opts.transposeA || opts.adjointA);
  const tb = !!(opts.transposeB || opts.adjointB);
  return inOpScope(name, [a, b], (g, opName) => {
    const [x, y] = convertSame([a, b], ['a', 'b'], 'MatMul', name) as [Tensor, Tensor];
    const batched = x.rank === null || y.rank === null || x.rank > 2 || y.rank > 2;
    if (batched) return createOp(g, 'BatchMatMulV2', [x, y], { T: x.dtype, adj_x: ta, adj_y: tb }, opName);
    return createOp(g, 'MatMul', [x, y], { T: x.dtype, transpose_a: ta, transpose_b: tb }, opName);
  });
}

// ---- reductions ----

function reduction(type: string, input: TensorLike, axis: Axis | undefined, keepdims: boolean, name: string): Tensor {
  const g = graphOf([input, axis]);
  return g.asDefault(() => {
    const x = convertToTensor(input);
    // TF1's _ReductionDims: all axes as a constant when the rank is known, else range(rank(x)),
    // created outside the op's scope.
    let allAxes: Tensor | undefined;
    if (axis === undefined) {
      allAxes = x.rank !== null ? convertToTensor(NDArray.from(Array.from({ length: x.rank }, (_, i) => i), 'int32', [x.rank])) : range(0, rankOf(x), 1);
    }
    const out = g.nameScope(name, (opName) => {
      const axes = allAxes ?? convertInput(axis as TensorLike, 'int32', 'reduction_indices', type, name);
      // All and Any take only bools and have no T attr.
      const attrs: Record<string, AttrValue> = type === 'All' || type === 'Any' ? { keep_dims: keepdims, Tidx: axes.dtype } : { keep_dims: keepdims, T: x.dtype, Tidx: axes.dtype };
      return createOp(g, type, [x, axes], attrs, opName);
    });
    if (axis === undefined && !keepdims && out.shape === null) out.setShape([]);
    return out;
  });
}

/** tf.reduceSum(x, axis?, keepdims?): axis undefined reduces over all dims; [] reduces none. */
export function reduceSum(x: TensorLike, axis?: Axis, keepdims = false, name = 'Sum'): Tensor {
  return reduction('Sum', x, axis, keepdims, name);
}
export function reduceMean(x: TensorLike, axis?: Axis, keepdims = false, name = 'Mean'): Tensor {
  return reduction('Mean', x, axis, keepdims, name);
}
export function reduceMax(x: TensorLike, axis?: Axis, keepdims = false, name = 'Max'): Tensor {
  return reduction('Max', x, axis, keepdims, name);
}
export function reduceMin(x: TensorLike, axis?: Axis, keepdims = false, name = 'Min'): Tensor {
  return reduction('Min', x, axis, keepdims, name);
}
export function reduceProd(x: TensorLike, axis?: Axis, keepdims = false, name = 'Prod'): Tensor {
  return reduction('Prod', x, axis, keepdims, name);
}

/** Logical AND over the axes of a bool tensor (true over no elements). */
export function reduceAll(x: TensorLike, axis?: Axis, keepdims = false, name = 'All'): Tensor {
  return reduction('All', x, axis, keepdims, name);
}
/** Logical OR over the axes of a bool tensor (false over no elements). */
export function reduceAny(x: TensorLike, axis?: Axis, keepdims = false, name = 'Any'): Tensor {
  return reduction('Any', x, axis, keepdims, name);
}
/** sqrt(sum(x^2)) over the axes (tf.math.reduce_euclidean_norm). */
export function reduceEuclideanNorm(x: TensorLike, axis?: Axis, keepdims = false, name = 'EuclideanNorm'): Tensor {
  return reduction('EuclideanNorm', x, axis, keepdims, name);
}

function argReduction(type: string, input: TensorLike, axis: number | TensorLike, outputType: 'int32' | 'int64', name: string): Tensor {
  return inOpScope(name, [input, axis], (g, opName) => {
    const x = convertToTensor(input);
    const dim = convertInput(axis, 'int32', 'dimension', type, name);
    return createOp(g, type, [x, dim], { T: x.dtype, Tidx: dim.dtype, output_type: outputType }, opName);
  });
}

/** Index of the largest value along `axis` (default 0); int64 indices by default, as TF. Ties give the first index. */
export function argmax(x: TensorLike, axis: number | TensorLike = 0, outputType: 'int32' | 'int64' = 'int64', name = 'ArgMax'): Tensor {
  return argReduction('ArgMax', x, axis, outputType, name);
}
export function argmin(x: TensorLike, axis: number | TensorLike = 0, outputType: 'int32' | 'int64' = 'int64', name = 'ArgMin'): Tensor {
  return argReduction('ArgMin', x, axis, outputType, name);
}
