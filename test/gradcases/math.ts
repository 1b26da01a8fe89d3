import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray, rng } from '../helpers.js';

const r = (shape: number[], seed: number, min = -1, max = 1): tf.NDArray => randomArray(shape, { seed, min, max });

/** Magnitudes in [lo, hi) with random signs: away from 0. */
function signed(shape: number[], seed: number, lo = 0.3, hi = 1.5): tf.NDArray {
  const x = r(shape, seed, lo, hi);
  const s = rng(seed + 7);
  const d = x.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (s() < 0.5) d[i] = -d[i]!;
  return x;
}

/** Distinct values spaced 0.1 apart, shuffled: no ties for max/min. */
function distinct(shape: number[], seed: number): tf.NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, (_, i) => -1 + 0.1 * i);
  const s = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(s() * (i + 1));
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  return new tf.NDArray(Float32Array.from(vals), shape);
}

/** Hides the static shape (keeps the rank), so gradients take their run-time-shape paths. */
function dynamic(t: tf.Tensor): tf.Tensor {
  return tf.placeholderWithDefault(t, t.shape!.map(() => null));
}

/** Multiplies by fixed weights of a static shape: static output shape again, distinct weights per element. */
function weigh(t: tf.Tensor, shape: number[], seed = 99): tf.Tensor {
  return tf.multiply(t, tf.constant(r(shape, seed, 0.5, 1.5)));
}

function op(type: string, inputs: tf.Tensor[], attrs: Record<string, tf.AttrValue> = { T: inputs[0]!.dtype }): tf.Tensor {
  return tf.getDefaultGraph().createOp(type, inputs, attrs).outputs[0]!;
}

/**
 * y of shape yShape (a suffix of xShape) and x = y * (k + f), y broadcast, with integer k and f in
 * [0.3, 0.7]: x / y stays away from integers, where floor(x / y) jumps.
 */
function modInputs(xShape: number[], yShape: number[], seed: number): [tf.NDArray, tf.NDArray] {
  const y = signed(yShape, seed, 0.8, 1.6);
  const yd = y.data as Float32Array;
  const s = rng(seed + 3);
  const n = xShape.reduce((a, b) => a * b, 1);
  const x = new tf.NDArray(Float32Array.from({ length: n }, (_, i) => yd[i % yd.length]! * (Math.floor(s() * 5) - 2 + 0.3 + 0.4 * s())), xShape);
  return [x, y];
}

const binaryCases: GradCase[] = [
  { ops: ['AddV2'], name: 'same shapes', inputs: [r([2, 3], 1), r([2, 3], 2)], build: (x, y) => tf.add(x!, y!) },
  { ops: ['AddV2'], name: 'broadcast [2,1,3] + [4,1]', inputs: [r([2, 1, 3], 3), r([4, 1], 4)], build: (x, y) => tf.add(x!, y!) },
  { ops: ['AddV2'], name: 'scalar + matrix', inputs: [r([], 5), r([2, 3], 6)], build: (x, y) => tf.add(x!, y!) },
  {
    ops: ['AddV2', 'BroadcastGradientArgs'],
    name: 'broadcast with unknown static shapes (run-time reduction)',
    inputs: [r([2, 1, 3], 7), r([4, 1], 8)],
    build: (x, y) => weigh(tf.add(dynamic(x!), dynamic(y!)), [2, 4, 3]),
  },
  { ops: ['Sub'], name: 'broadcast [3,1] - [1,4]', inputs: [r([3, 1], 9), r([1, 4], 10)], build: (x, y) => tf.subtract(x!, y!) },
  { ops: ['Mul'], name: 'broadcast [2,3] * [3]', inputs: [r([2, 3], 11), r([3], 12)], build: (x, y) => tf.multiply(x!, y!) },
  { ops: ['Mul'], name: 'dynamic [2,3] * [2,1]', inputs: [r([2, 3], 13), r([2, 1], 14)], build: (x, y) => weigh(tf.multiply(dynamic(x!), dynamic(y!)), [2, 3]) },
  { ops: ['RealDiv'], name: 'broadcast [2,3] / [2,1]', inputs: [r([2, 3], 15), signed([2, 1], 16)], build: (x, y) => tf.divide(x!, y!) },
  { ops: ['RealDiv'], name: 'scalar / vector', inputs: [r([], 17), signed([4], 18)], build: (x, y) => tf.divide(x!, y!) },
  { ops: ['FloorMod'], name: 'broadcast [2,3] mod [3]', inputs: modInputs([2, 3], [3], 19), build: (x, y) => tf.floorMod(x!, y!) },
  { ops: ['FloorMod'], name: 'same shapes, both inputs', inputs: modInputs([2, 3], [2, 3], 20), build: (x, y) => tf.floorMod(x!, y!) },
  { ops: ['Pow'], name: 'positive base, broadcast exponent', inputs: [r([2, 3], 21, 0.5, 2), r([3], 22, -1, 2)], build: (x, y) => tf.pow(x!, y!) },
  { ops: ['Pow'], name: 'negative base, integer exponent (wrt base)', inputs: [signed([2, 2], 23), new tf.NDArray(Float32Array.from([2, 3]), [2])], build: (x, y) => tf.pow(x!, y!), wrt: [0] },
  {
    ops: ['Maximum'],
    name: 'broadcast [2,3] max [3]',
    inputs: [new tf.NDArray(Float32Array.from([-0.9, -0.3, 0.3, 0.8, 0.4, 0.6]), [2, 3]), new tf.NDArray(Float32Array.from([-0.5, 0.05, 0.5]), [3])],
    build: (x, y) => tf.maximum(x!, y!),
  },
  { ops: ['Minimum'], name: 'broadcast [2,1] min [1,3]', inputs: [distinct([2, 1], 25), new tf.NDArray(Float32Array.from([-0.75, 0.05, 0.85]), [1, 3])], build: (x, y) => tf.minimum(x!, y!) },
  { ops: ['SquaredDifference'], name: 'broadcast [2,3] vs [2,1]', inputs: [r([2, 3], 26), r([2, 1], 27)], build: (x, y) => tf.squaredDifference(x!, y!) },
];

const unaryCases: GradCase[] = [
  { ops: ['Neg'], name: 'matrix', inputs: [r([2, 3], 30)], build: (x) => tf.negative(x!) },
  { ops: ['Square'], name: 'matrix', inputs: [r([2, 3], 31)], build: (x) => tf.square(x!) },
  { ops: ['Sqrt'], name: 'positive', inputs: [r([2, 3], 32, 0.5, 2)], build: (x) => tf.sqrt(x!) },
  { ops: ['Rsqrt'], name: 'positive', inputs: [r([2, 3], 33, 0.5, 2)], build: (x) => tf.rsqrt(x!) },
  { ops: ['Exp'], name: 'matrix', inputs: [r([2, 3], 34)], build: (x) => tf.exp(x!) },
  { ops: ['Log'], name: 'positive', inputs: [r([2, 3], 35, 0.5, 2)], build: (x) => tf.log(x!) },
  { ops: ['Log1p'], name: 'x > -1', inputs: [r([2, 3], 36, -0.5, 1)], build: (x) => tf.log1p(x!) },
  { ops: ['Abs'], name: 'away from 0', inputs: [signed([2, 3], 37)], build: (x) => tf.abs(x!) },
  { ops: ['Sign'], name: 'away from 0 (zero gradient)', inputs: [signed([2, 3], 38)], build: (x) => tf.multiply(tf.sign(x!), x!) },
  { ops: ['Reciprocal'], name: 'away from 0', inputs: [signed([2, 3], 39)], build: (x) => tf.reciprocal(x!) },
  { ops: ['Sigmoid'], name: 'matrix', inputs: [r([2, 3], 40, -3, 3)], build: (x) => tf.sigmoid(x!) },
  { ops: ['Tanh'], name: 'matrix', inputs: [r([2, 3], 41, -2, 2)], build: (x) => tf.tanh(x!) },
];

// The gradient ops themselves, differentiated in both inputs (second-order building blocks).
const gradOpCases: GradCase[] = [
  { ops: ['SigmoidGrad'], name: 'in y and dy', inputs: [r([2, 3], 42, 0.1, 0.9), r([2, 3], 43)], build: (y, dy) => op('SigmoidGrad', [y!, dy!]) },
  { ops: ['TanhGrad'], name: 'in y and dy', inputs: [r([2, 3], 44), r([2, 3], 45)], build: (y, dy) => op('TanhGrad', [y!, dy!]) },
  { ops: ['SqrtGrad'], name: 'in y and dy', inputs: [r([2, 3], 46, 0.5, 2), r([2, 3], 47)], build: (y, dy) => op('SqrtGrad', [y!, dy!]) },
  { ops: ['RsqrtGrad'], name: 'in y and dy', inputs: [r([2, 3], 48, 0.5, 2), r([2, 3], 49)], build: (y, dy) => op('RsqrtGrad', [y!, dy!]) },
  { ops: ['ReciprocalGrad'], name: 'in y and dy', inputs: [signed([2, 3], 50), r([2, 3], 51)], build: (y, dy) => op('ReciprocalGrad', [y!, dy!]) },
];

const bool = (vals: boolean[], shape: number[]): tf.NDArray => new tf.NDArray(Uint8Array.from(vals, Number), shape, 'bool');

const otherCases: GradCase[] = [
  {
    ops: ['SelectV2'],
    name: 'broadcast condition [2,1], x [1,3], y [2,3]',
    inputs: [bool([true, false], [2, 1]), r([1, 3], 52), r([2, 3], 53)],
    build: (c, x, y) => tf.where(c!, x!, y!),
  },
  {
    ops: ['SelectV2'],
    name: 'elementwise condition with a scalar y',
    inputs: [bool([true, false, false, true, true, false], [2, 3]), r([2, 3], 54), r([], 55)],
    build: (c, x, y) => tf.where(c!, x!, y!),
  },
  {
    ops: ['Select'],
    name: 'vector condition picks rows',
    inputs: [bool([false, true, true], [3]), r([3, 2], 56), r([3, 2], 57)],
    build: (c, x, y) => op('Select', [c!, x!, y!], { T: 'float32' }),
  },
  {
    ops: ['Cast'],
    name: 'float32 to float32',
    inputs: [r([2, 3], 58)],
    build: (x) => tf.multiply(op('Cast', [x!], { SrcT: 'float32', DstT: 'float32', Truncate: false }), x!),
  },
  { ops: ['AddN'], name: 'three inputs', inputs: [r([2, 3], 59), r([2, 3], 60), r([2, 3], 61)], build: (a, b, c) => tf.addN([a!, tf.multiply(b!, b!), c!]) },
];

const matmulCases: GradCase[] = [
  ...[false, true].flatMap((ta) =>
    [false, true].map(
      (tb): GradCase => ({
        ops: ['MatMul'],
        name: `transposeA=${ta} transposeB=${tb}`,
        inputs: [r(ta ? [3, 2] : [2, 3], 62), r(tb ? [4, 3] : [3, 4], 63)],
        build: (a, b) => tf.matmul(a!, b!, { transposeA: ta, transposeB: tb }),
      }),
    ),
  ),
  ...[false, true].flatMap((ax) =>
    [false, true].map(
      (ay): GradCase => ({
        ops: ['BatchMatMulV2'],
        name: `batch dims broadcast [2,1,..] x [3,..], adj_x=${ax} adj_y=${ay}`,
        inputs: [r(ax ? [2, 1, 3, 2] : [2, 1, 2, 3], 64), r(ay ? [3, 2, 3] : [3, 3, 2], 65)],
        build: (a, b) => tf.matmul(a!, b!, { adjointA: ax, adjointB: ay }),
      }),
    ),
  ),
  {
    ops: ['BatchMatMulV2'],
    name: 'same batch dims',
    inputs: [r([2, 2, 3], 66), r([2, 3, 2], 67)],
    build: (a, b) => tf.matmul(a!, b!),
  },
  {
    ops: ['BatchMatMulV2', 'BroadcastGradientArgs'],
    name: 'broadcast batch dims, unknown static shapes',
    inputs: [r([2, 1, 2, 3], 68), r([3, 3, 2], 69)],
    build: (a, b) => weigh(tf.matmul(dynamic(a!), dynamic(b!)), [2, 3, 2, 2]),
  },
];

const reductionCases: GradCase[] = [
  { ops: ['Sum'], name: 'axis 1', inputs: [r([2, 3, 2], 70)], build: (x) => tf.reduceSum(x!, 1) },
  { ops: ['Sum'], name: 'axes [0, -1], keepdims', inputs: [r([2, 3, 2], 71)], build: (x) => tf.reduceSum(x!, [0, -1], true) },
  { ops: ['Sum'], name: 'all axes', inputs: [r([2, 3], 72)], build: (x) => tf.reduceSum(tf.multiply(x!, x!)) },
  { ops: ['Sum'], name: 'no axes (identity)', inputs: [r([2, 3], 73)], build: (x) => tf.reduceSum(x!, []) },
  { ops: ['Sum'], name: 'unknown dims, static axes', inputs: [r([2, 3, 2], 74)], build: (x) => weigh(tf.reduceSum(dynamic(x!), -2), [2, 2]) },
  {
    ops: ['Sum'],
    name: 'axes fed through a placeholder (fully dynamic reduced shape)',
    inputs: [r([2, 3, 2], 75)],
    build: (x) => {
      const axes = tf.placeholderWithDefault(tf.constant(tf.NDArray.from([-1, 0], 'int32')), [null]);
      const s = tf.reduceSum(x!, axes);
      s.setShape([3]);
      return weigh(s, [3]);
    },
  },
  { ops: ['Mean'], name: 'axis 0', inputs: [r([3, 4], 76)], build: (x) => tf.reduceMean(x!, 0) },
  { ops: ['Mean'], name: 'axis -1, keepdims', inputs: [r([2, 3, 2], 77)], build: (x) => tf.reduceMean(x!, -1, true) },
  { ops: ['Mean'], name: 'unknown dims', inputs: [r([2, 3], 78)], build: (x) => weigh(tf.reduceMean(dynamic(x!), 1), [2]) },
  { ops: ['Max'], name: 'axis 1', inputs: [distinct([3, 4], 79)], build: (x) => tf.reduceMax(x!, 1) },
  { ops: ['Max'], name: 'axes [0, 2], keepdims', inputs: [distinct([2, 3, 2], 80)], build: (x) => tf.reduceMax(x!, [0, 2], true) },
  { ops: ['Max'], name: 'unknown dims', inputs: [distinct([2, 3], 81)], build: (x) => weigh(tf.reduceMax(dynamic(x!), 0), [3]) },
  { ops: ['Min'], name: 'axis -1', inputs: [distinct([3, 4], 82)], build: (x) => tf.reduceMin(x!, -1) },
  { ops: ['Min'], name: 'all axes', inputs: [distinct([2, 3], 83)], build: (x) => tf.reduceMin(x!) },
  { ops: ['Prod'], name: 'axis 1', inputs: [signed([2, 3], 84, 0.5, 1.5)], build: (x) => tf.reduceProd(x!, 1) },
  { ops: ['Prod'], name: 'axes [0, 2], keepdims', inputs: [signed([2, 2, 2], 85, 0.5, 1.5)], build: (x) => tf.reduceProd(x!, [0, 2], true) },
  // A zero in a row (its gradient is the product of the others) and two zeros (all zero): TF's cumprod form, not prod / x.
  { ops: ['Prod'], name: 'zeros in the reduced rows', inputs: [tf.NDArray.from([0, 1.5, -0.7, 0.9, 0, 0, 1.2, -1.1, 0.8], 'float32', [3, 3])], build: (x) => tf.reduceProd(x!, 1) },
  { ops: ['Prod'], name: 'unknown dims, axis 0', inputs: [signed([3, 2], 86, 0.5, 1.5)], build: (x) => weigh(tf.reduceProd(dynamic(x!), 0), [2]) },
];

// Gradients of gradients.
const secondOrderCases: GradCase[] = [
  {
    ops: ['TanhGrad'],
    name: 'second derivative of tanh',
    inputs: [r([2, 3], 86, -2, 2)],
    build: (x) => tf.gradients(tf.tanh(x!), x!)[0]!,
  },
  {
    ops: ['SigmoidGrad'],
    name: 'second derivative of sigmoid',
    inputs: [r([2, 3], 87, -2, 2)],
    build: (x) => tf.gradients(tf.sigmoid(x!), x!)[0]!,
  },
  {
    ops: ['SqrtGrad', 'RsqrtGrad', 'ReciprocalGrad'],
    name: 'second derivatives of sqrt, rsqrt and reciprocal',
    inputs: [r([2, 2], 88, 0.5, 2)],
    build: (x) => tf.gradients(tf.add(tf.add(tf.sqrt(x!), tf.rsqrt(x!)), tf.reciprocal(x!)), x!)[0]!,
  },
  {
    ops: ['Mul'],
    name: 'd/dx of x*x*y is 2xy, checked in x and y',
    inputs: [r([2, 3], 89), r([3], 90)],
    build: (x, y) => tf.gradients(tf.multiply(tf.multiply(x!, x!), y!), x!)[0]!,
  },
  {
    ops: ['MatMul', 'Sigmoid'],
    name: 'Hessian-vector product through matmul + sigmoid',
    inputs: [r([3, 2], 91), r([4, 3], 92), r([3, 2], 93)],
    wrt: [0],
    build: (w, x, v) => {
      const loss = tf.reduceSum(tf.multiply(tf.sigmoid(tf.matmul(x!, w!)), tf.constant(r([4, 2], 94))));
      const g = tf.gradients(loss, w!)[0]!;
      return tf.reduceSum(tf.multiply(g, v!));
    },
  },
  {
    ops: ['Pow', 'Log'],
    name: 'second derivative of pow in both inputs',
    inputs: [r([2, 2], 95, 0.5, 2), r([2, 2], 96, 0.5, 2)],
    build: (x, y) => {
      const z = tf.pow(x!, y!);
      const [gx, gy] = tf.gradients(z, [x!, y!]);
      return tf.add(gx!, gy!);
    },
  },
  {
    ops: ['Max', 'Mean', 'RealDiv'],
    name: 'second order through mean of max and division',
    inputs: [distinct([2, 3], 97)],
    build: (x) => tf.gradients(tf.reduceMean(tf.divide(tf.square(tf.reduceMax(x!, 1, true)), tf.add(tf.square(x!), 1))), x!)[0]!,
  },
];

/** x in [lo, hi) */
const within = (shape: number[], seed: number, lo: number, hi: number): tf.NDArray => r(shape, seed, lo, hi);

const extraUnaryCases: GradCase[] = [
  { ops: ['Sin'], name: 'sin', inputs: [within([2, 3], 201, -3, 3)], build: (x) => tf.sin(x!) },
  { ops: ['Cos'], name: 'cos', inputs: [within([2, 3], 202, -3, 3)], build: (x) => tf.cos(x!) },
  { ops: ['Tan'], name: 'tan away from the poles', inputs: [within([2, 3], 203, -1.2, 1.2)], build: (x) => tf.tan(x!) },
  { ops: ['Asin'], name: 'asin inside (-1, 1)', inputs: [within([2, 3], 204, -0.8, 0.8)], build: (x) => tf.asin(x!) },
  { ops: ['Acos'], name: 'acos inside (-1, 1)', inputs: [within([2, 3], 205, -0.8, 0.8)], build: (x) => tf.acos(x!) },
  { ops: ['Atan'], name: 'atan', inputs: [within([2, 3], 206, -3, 3)], build: (x) => tf.atan(x!) },
  { ops: ['Sinh'], name: 'sinh', inputs: [within([2, 3], 207, -2, 2)], build: (x) => tf.sinh(x!) },
  { ops: ['Cosh'], name: 'cosh', inputs: [within([2, 3], 208, -2, 2)], build: (x) => tf.cosh(x!) },
  { ops: ['Asinh'], name: 'asinh', inputs: [within([2, 3], 209, -3, 3)], build: (x) => tf.asinh(x!) },
  { ops: ['Acosh'], name: 'acosh above 1', inputs: [within([2, 3], 210, 1.3, 4)], build: (x) => tf.acosh(x!) },
  { ops: ['Atanh'], name: 'atanh inside (-1, 1)', inputs: [within([2, 3], 211, -0.8, 0.8)], build: (x) => tf.atanh(x!) },
  { ops: ['Expm1'], name: 'expm1', inputs: [within([2, 3], 212, -2, 2)], build: (x) => tf.expm1(x!) },
  { ops: ['Erf'], name: 'erf', inputs: [within([2, 3], 213, -2, 2)], build: (x) => tf.erf(x!) },
  { ops: ['Erfc'], name: 'erfc', inputs: [within([2, 3], 214, -2, 2)], build: (x) => tf.erfc(x!) },
  { ops: ['Lgamma'], name: 'lgamma (gradient: digamma), positive and negative x', inputs: [new tf.NDArray(Float32Array.from([0.3, 1.2, 2.5, 4.7, -0.4, -1.6]), [2, 3])], build: (x) => tf.lgamma(x!) },
  { ops: ['Digamma'], name: 'digamma (gradient: trigamma), positive and negative x', inputs: [new tf.NDArray(Float32Array.from([0.4, 1.2, 2.5, 6.7, -0.4, -1.6]), [2, 3])], build: (x) => tf.digamma(x!) },
  {
    ops: ['Polygamma'],
    name: 'polygamma wrt x (orders 1 and 2 broadcast)',
    inputs: [new tf.NDArray(Float32Array.from([1, 2]), [2, 1]), within([2, 3], 224, 0.8, 3)],
    build: (n, x) => tf.polygamma(n!, x!),
    wrt: [1],
  },
  {
    ops: ['Zeta'],
    name: 'zeta wrt q',
    inputs: [new tf.NDArray(Float32Array.from([2, 3.5, 5]), [3]), within([2, 3], 225, 0.8, 3)],
    build: (x, q) => tf.zeta(x!, q!),
    wrt: [1],
  },
  {
    ops: ['Atan2'],
    name: 'atan2(y, x), x broadcast',
    inputs: [within([2, 3], 215, -2, 2), signed([3], 216)],
    build: (y, x) => tf.atan2(y!, x!),
  },
  {
    ops: ['Div'],
    name: 'Div (the op) on floats, broadcast',
    inputs: [r([2, 3], 217), signed([2, 1], 218)],
    build: (x, y) => op('Div', [x!, y!]),
  },
  {
    ops: ['DivNoNan'],
    name: 'divNoNan, broadcast',
    inputs: [r([2, 3], 219), signed([3], 220)],
    build: (x, y) => tf.divNoNan(x!, y!),
  },
  {
    ops: ['ClipByValue'],
    name: 'ClipByValue with scalar bounds (t and both bounds)',
    inputs: [new tf.NDArray(Float32Array.from([-0.9, -0.3, 0.1, 0.45, 0.8, 0.2]), [2, 3]), new tf.NDArray(Float32Array.from([-0.5]), []), new tf.NDArray(Float32Array.from([0.6]), [])],
    build: (t, lo, hi) => op('ClipByValue', [t!, lo!, hi!]),
  },
  {
    ops: ['ClipByValue'],
    name: 'ClipByValue with bounds of t shape',
    inputs: [new tf.NDArray(Float32Array.from([-0.9, -0.3, 0.1, 0.45, 0.8, 0.2]), [2, 3]), new tf.NDArray(Float32Array.from([-0.5, -0.1, -0.6, 0.2, 0, 0.5]), [2, 3]), new tf.NDArray(Float32Array.from([0.5, 0.3, 0.6, 0.7, 0.5, 0.9]), [2, 3])],
    build: (t, lo, hi) => op('ClipByValue', [t!, lo!, hi!]),
  },
  { ops: ['EuclideanNorm'], name: 'euclidean norm over one axis', inputs: [signed([2, 3, 2], 221)], build: (x) => tf.reduceEuclideanNorm(x!, 1) },
  { ops: ['EuclideanNorm'], name: 'euclidean norm over two axes, keep_dims', inputs: [signed([2, 3, 2], 222)], build: (x) => tf.reduceEuclideanNorm(x!, [0, 2], true) },
  { ops: ['EuclideanNorm'], name: 'euclidean norm over all axes, dynamic shape', inputs: [signed([3, 2], 223)], build: (x) => weigh(tf.reshape(tf.reduceEuclideanNorm(dynamic(x!)), [1]), [1]) },
];

export const mathCases: GradCase[] = [
  ...binaryCases,
  ...unaryCases,
  ...gradOpCases,
  ...otherCases,
  ...matmulCases,
  ...reductionCases,
  ...secondOrderCases,
  ...extraUnaryCases,
];
