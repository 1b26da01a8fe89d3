// tf.onnx.exportGraph, op by op: each mapped op in a small graph, its inputs fed through
// placeholders (so nothing is folded away), exported and run in ONNX Runtime (onnxruntime-node),
// whose outputs must equal weir's session's. ONNX Runtime checks each model as it loads it (types,
// attributes, topological order, shapes): a model it rejects fails the case.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { InvalidArgumentError, UnimplementedError } from '../src/core/errors.js';
import { FORWARDED_OPS, SOURCE_OPS } from '../src/onnx/ops.js';
import { bools, compareWithOrt, ints, runOrt, uniform, type Feed } from './onnx_helpers.js';

interface Built {
  feeds: Feed[];
  outputs: tf.Tensor[];
  opts?: Parameters<typeof compareWithOrt>[3];
}
type Case = [string, () => Built];

const g = (): tf.Graph => tf.getDefaultGraph();
const REDUCE = { keep_dims: false };
/** The attrs TensorFlow gives these ops by default (createOp takes an op's attrs as given). */
const DEFAULT_ATTRS: Record<string, (inputs: tf.Tensor[]) => Record<string, tf.AttrValue>> = {
  Cast: (i) => ({ SrcT: i[0]!.dtype }),
  BiasAdd: () => ({ data_format: 'NHWC' }),
  AddN: (i) => ({ N: i.length }),
  MatMul: () => ({ transpose_a: false, transpose_b: false }),
  BatchMatMul: () => ({ adj_x: false, adj_y: false }),
  BatchMatMulV2: () => ({ adj_x: false, adj_y: false }),
  ConcatV2: (i) => ({ N: i.length - 1 }),
  Concat: (i) => ({ N: i.length - 1 }),
  Pack: (i) => ({ N: i.length }),
  Sum: () => REDUCE,
  Mean: () => REDUCE,
  Max: () => REDUCE,
  Min: () => REDUCE,
  Prod: () => REDUCE,
  All: () => REDUCE,
  Any: () => REDUCE,
  ArgMax: () => ({ output_type: 'int64' }),
  Shape: () => ({ out_type: 'int32' }),
  ShapeN: (i) => ({ N: i.length, out_type: 'int32' }),
  DepthToSpace: () => ({ data_format: 'NHWC' }),
  SpaceToDepth: () => ({ data_format: 'NHWC' }),
  ResizeBilinear: () => ({ align_corners: false, half_pixel_centers: false }),
  ResizeNearestNeighbor: () => ({ align_corners: false, half_pixel_centers: false }),
  Size: () => ({ out_type: 'int32' }),
  ArgMin: () => ({ output_type: 'int64' }),
};
const ops = (type: string, inputs: tf.Tensor[], attrs: Record<string, tf.AttrValue> = {}): tf.Tensor[] =>
  g().createOp(type, inputs, { ...DEFAULT_ATTRS[type]?.(inputs), ...attrs }).outputs;
const op = (type: string, inputs: tf.Tensor[], attrs: Record<string, tf.AttrValue> = {}, output = 0): tf.Tensor => ops(type, inputs, attrs)[output]!;
/** An int32 scalar constant. */
const i32 = (n: number): tf.Tensor => tf.constant(n, 'int32' as never);
const feed = (nd: tf.NDArray, shape?: (number | null)[]): [tf.Tensor, Feed] => {
  const p = tf.placeholder(nd.dtype, shape ?? nd.shape);
  return [p, [p, nd]];
};
const c = (values: number[] | tf.NDArray, dtype: 'int32' | 'float32' | 'int64' = 'int32'): tf.Tensor => (values instanceof tf.NDArray ? tf.constant(values) : tf.constant(values, dtype as never));

/** One-input op on values in [lo, hi). */
function unary(type: string, lo = -2, hi = 2, attrs: Record<string, tf.AttrValue> = {}): Case {
  return [type, () => {
    const [x, f] = feed(uniform([2, 3, 4], lo, hi, type.length));
    return { feeds: [f], outputs: [op(type, [x], attrs)] };
  }];
}

/** Two-input op with broadcasting ([2, 3, 4] against [4]). */
function binary(type: string, a: tf.NDArray, b: tf.NDArray, attrs: Record<string, tf.AttrValue> = {}): Case {
  return [`${type} ${a.dtype}`, () => {
    const [x, fx] = feed(a);
    const [y, fy] = feed(b);
    return { feeds: [fx, fy], outputs: [op(type, [x, y], attrs)] };
  }];
}

const F = (lo = -2, hi = 2, seed = 1, shape = [2, 3, 4]) => uniform(shape, lo, hi, seed);

const UNARY_CASES: Case[] = [
  unary('Abs'),
  unary('Neg'),
  unary('Exp'),
  unary('Log', 0.1, 3),
  unary('Sqrt', 0.1, 3),
  unary('Rsqrt', 0.1, 3),
  unary('Square'),
  unary('Floor'),
  unary('Ceil'),
  unary('Round', -4, 4),
  unary('Sign'),
  unary('Reciprocal', 0.5, 2),
  unary('Sigmoid'),
  unary('Tanh'),
  unary('Relu'),
  unary('Relu6', -3, 9),
  unary('Elu'),
  unary('Selu'),
  unary('LeakyRelu', -2, 2, { alpha: 0.3 }),
  unary('Softplus', -5, 5),
  unary('Softsign'),
  unary('Sin'),
  unary('Cos'),
  unary('Tan', -1, 1),
  unary('Asin', -0.9, 0.9),
  unary('Acos', -0.9, 0.9),
  unary('Atan'),
  unary('Sinh'),
  unary('Cosh'),
  unary('Asinh'),
  unary('Acosh', 1.1, 3),
  unary('Atanh', -0.9, 0.9),
  unary('Erf'),
  unary('Erfc'),
  unary('Log1p', -0.5, 2),
  unary('Expm1'),
  ['IsNan, IsInf, IsFinite', () => {
    const v = new tf.NDArray(Float32Array.of(1, NaN, Infinity, -Infinity, 0, -2), [6]);
    const [x, f] = feed(v);
    return { feeds: [f], outputs: [op('IsNan', [x]), op('IsInf', [x]), op('IsFinite', [x])] };
  }],
  ['LogicalNot', () => {
    const [x, f] = feed(bools([3, 4]));
    return { feeds: [f], outputs: [op('LogicalNot', [x])] };
  }],
  ['Cast', () => {
    const [x, f] = feed(F(-3, 3));
    const [i, fi] = feed(ints([5], -3, 3));
    return { feeds: [f, fi], outputs: [op('Cast', [x], { DstT: 'int32' }), op('Cast', [x], { DstT: 'bool' }), op('Cast', [i], { DstT: 'float32' }), op('Cast', [i], { DstT: 'int64' })] };
  }],
];

const BINARY_CASES: Case[] = [
  ...['Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference', 'Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual'].map((t) =>
    binary(t, F(-2, 2, 3), t === 'RealDiv' ? uniform([4], 0.5, 2, 4) : uniform([4], -2, 2, 4)),
  ),
  binary('Pow', F(0.5, 2, 5), uniform([4], -2, 2, 6)),
  binary('FloorDiv', F(-5, 5, 7), uniform([4], 0.5, 2, 8)),
  binary('FloorMod', F(-5, 5, 9), uniform([4], 0.5, 2, 10)),
  binary('FloorDiv', ints([2, 3, 4], -9, 9, 11), new tf.NDArray(Int32Array.of(2, -3, 4, -5), [4])),
  binary('FloorMod', ints([2, 3, 4], -9, 9, 12), new tf.NDArray(Int32Array.of(2, -3, 4, -5), [4])),
  binary('Div', ints([2, 3, 4], -9, 9, 13), new tf.NDArray(Int32Array.of(2, -3, 4, -5), [4])),
  binary('TruncateDiv', ints([2, 3, 4], -9, 9, 14), new tf.NDArray(Int32Array.of(2, -3, 4, -5), [4])),
  binary('Maximum', ints([2, 3, 4], -9, 9, 15), ints([4], -9, 9, 16)),
  binary('LogicalAnd', bools([2, 3, 4], 17), bools([4], 18)),
  binary('Mod', F(-5, 5, 21), new tf.NDArray(Float32Array.of(2, -3, 1.5, -0.7), [4])),
  binary('Mod', ints([2, 3, 4], -9, 9, 22), new tf.NDArray(Int32Array.of(2, -3, 4, -5), [4])),
  binary('TruncateMod', ints([2, 3, 4], -9, 9, 23), new tf.NDArray(Int32Array.of(2, -3, 4, -5), [4])),
  binary('DivNoNan', F(-5, 5, 24), new tf.NDArray(Float32Array.of(2, 0, 1.5, 0), [4])),
  binary('LogicalOr', bools([2, 3, 4], 19), bools([4], 20)),
  ['BiasAdd NHWC, NCHW', () => {
    const [x, fx] = feed(F());
    const [b, fb] = feed(uniform([4], -1, 1, 2));
    const [b3, fb3] = feed(uniform([3], -1, 1, 3));
    return { feeds: [fx, fb, fb3], outputs: [op('BiasAdd', [x, b]), op('BiasAdd', [x, b3], { data_format: 'NCHW' })] };
  }],
  ['AddN', () => {
    const fs = [1, 2, 3].map((s) => feed(F(-1, 1, s)));
    return { feeds: fs.map((f) => f[1]), outputs: [op('AddN', fs.map((f) => f[0]))] };
  }],
  ['ClipByValue', () => {
    const [x, fx] = feed(F(-3, 3));
    return { feeds: [fx], outputs: [op('ClipByValue', [x, c([-1], 'float32'), c([1.5], 'float32')].map((t, i) => (i === 0 ? t : tf.reshape(t, [])))), tf.clipByValue(x, -0.5, 0.5)] };
  }],
];

const MATRIX_CASES: Case[] = [
  ['MatMul transpose_a / transpose_b', () => {
    const [a, fa] = feed(uniform([3, 4], -1, 1, 1));
    const [b, fb] = feed(uniform([4, 5], -1, 1, 2));
    const [at, fat] = feed(uniform([4, 3], -1, 1, 3));
    const [bt, fbt] = feed(uniform([5, 4], -1, 1, 4));
    const w = c(uniform([5, 4], -1, 1, 5), 'float32');
    return {
      feeds: [fa, fb, fat, fbt],
      outputs: [op('MatMul', [a, b]), op('MatMul', [at, b], { transpose_a: true }), op('MatMul', [a, bt], { transpose_b: true }), op('MatMul', [at, bt], { transpose_a: true, transpose_b: true }), op('MatMul', [a, w], { transpose_b: true })],
    };
  }],
  ['BatchMatMulV2 adj_x / adj_y, BatchMatMul', () => {
    const [a, fa] = feed(uniform([2, 3, 4], -1, 1, 1));
    const [b, fb] = feed(uniform([1, 4, 5], -1, 1, 2));
    const [bt, fbt] = feed(uniform([2, 5, 4], -1, 1, 3));
    const [at, fat] = feed(uniform([2, 4, 3], -1, 1, 4));
    return {
      feeds: [fa, fb, fbt, fat],
      outputs: [op('BatchMatMulV2', [a, b]), op('BatchMatMulV2', [a, bt], { adj_y: true }), op('BatchMatMulV2', [at, bt], { adj_x: true, adj_y: true }), op('BatchMatMul', [a, bt], { adj_y: true })],
    };
  }],
  ['LSTMBlockCell (peepholes, cell clip) and GRUBlockCell: every output', () => {
    const [B, I, H] = [3, 4, 5];
    const [x, fx] = feed(uniform([B, I], -1, 1, 1));
    const [cs, fcs] = feed(uniform([B, H], -2, 2, 2));
    const [h, fh] = feed(uniform([B, H], -1, 1, 3));
    const w = c(uniform([I + H, 4 * H], -0.5, 0.5, 4), 'float32');
    const peep = (seed: number): tf.Tensor => c(uniform([H], -0.5, 0.5, seed), 'float32');
    const b = c(uniform([4 * H], -0.5, 0.5, 8), 'float32');
    const lstm = ops('LSTMBlockCell', [x, cs, h, w, peep(5), peep(6), peep(7), b], { forget_bias: 1, cell_clip: 0.8, use_peephole: true, T: 'float32' });
    const gru = ops('GRUBlockCell', [x, h, c(uniform([I + H, 2 * H], -0.5, 0.5, 9), 'float32'), c(uniform([I + H, H], -0.5, 0.5, 10), 'float32'), c(uniform([2 * H], -0.5, 0.5, 11), 'float32'), c(uniform([H], -0.5, 0.5, 12), 'float32')], { T: 'float32' });
    return { feeds: [fx, fcs, fh], outputs: [...lstm, ...gru] };
  }],
  ['Einsum', () => {
    const [a, fa] = feed(uniform([2, 3, 4], -1, 1, 1));
    const [b, fb] = feed(uniform([2, 4, 5], -1, 1, 2));
    return { feeds: [fa, fb], outputs: [tf.einsum('bij,bjk->bik', a, b), tf.einsum('bij->bji', a), tf.einsum('...j,bjk->...k', a, b)] };
  }],
  ['Softmax, LogSoftmax (last axis)', () => {
    const [x, fx] = feed(F(-3, 3));
    const [y, fy] = feed(uniform([2, 5], -3, 3, 2));
    return { feeds: [fx, fy], outputs: [op('Softmax', [x]), op('LogSoftmax', [x]), op('Softmax', [y]), tf.nn.softmax(x)] };
  }],
];

function convCase(name: string, xShape: number[], fShape: number[], attrs: Record<string, tf.AttrValue>, type = 'Conv2D', placeholderShape?: (number | null)[]): Case {
  return [`${type} ${name}`, () => {
    const [x, fx] = feed(uniform(xShape, -1, 1, 1), placeholderShape);
    const w = c(uniform(fShape, -1, 1, 2), 'float32');
    return { feeds: [fx], outputs: [op(type, [x, w], attrs)] };
  }];
}

const s1 = [1, 1, 1, 1];
const s2 = [1, 2, 2, 1];
const CONV_CASES: Case[] = [
  convCase('SAME', [2, 7, 6, 3], [3, 3, 3, 4], { strides: s1, padding: 'SAME' }),
  convCase('SAME stride 2, even kernel', [2, 7, 8, 3], [2, 4, 3, 5], { strides: s2, padding: 'SAME' }),
  convCase('VALID stride 2', [1, 9, 7, 2], [3, 2, 2, 4], { strides: s2, padding: 'VALID' }),
  convCase('SAME dilation 2', [1, 9, 9, 2], [3, 3, 2, 3], { strides: s1, padding: 'SAME', dilations: [1, 2, 2, 1] }),
  convCase('EXPLICIT', [1, 6, 6, 2], [3, 3, 2, 3], { strides: s2, padding: 'EXPLICIT', explicit_paddings: [0, 0, 1, 2, 2, 0, 0, 0] }),
  convCase('SAME, unknown batch and spatial dims (auto_pad)', [2, 7, 6, 3], [3, 3, 3, 4], { strides: s2, padding: 'SAME' }, 'Conv2D', [null, null, null, 3]),
  convCase('multiplier 2, SAME', [2, 7, 6, 3], [3, 3, 3, 2], { strides: s1, padding: 'SAME' }, 'DepthwiseConv2dNative'),
  convCase('multiplier 1, VALID stride 2', [1, 8, 8, 4], [3, 3, 4, 1], { strides: s2, padding: 'VALID' }, 'DepthwiseConv2dNative'),
  ['Conv2DBackpropInput SAME stride 2, VALID', () => {
    const [dy, fdy] = feed(uniform([2, 4, 3, 5], -1, 1, 1));
    const [dv, fdv] = feed(uniform([1, 3, 3, 5], -1, 1, 3));
    const w = c(uniform([3, 3, 2, 5], -1, 1, 2), 'float32');
    return {
      feeds: [fdy, fdv],
      outputs: [
        op('Conv2DBackpropInput', [c([2, 8, 6, 2]), w, dy], { strides: s2, padding: 'SAME' }),
        op('Conv2DBackpropInput', [c([2, 7, 5, 2]), w, dy], { strides: s2, padding: 'SAME' }),
        op('Conv2DBackpropInput', [c([1, 8, 8, 2]), w, dv], { strides: s2, padding: 'VALID' }),
      ],
    };
  }],
  ['MaxPool, AvgPool SAME / VALID', () => {
    const [x, fx] = feed(uniform([2, 7, 6, 3], -1, 1, 1));
    const k3 = [1, 3, 3, 1];
    return {
      feeds: [fx],
      outputs: [
        op('MaxPool', [x], { ksize: k3, strides: s2, padding: 'SAME' }),
        op('MaxPool', [x], { ksize: [1, 2, 2, 1], strides: s2, padding: 'VALID' }),
        op('AvgPool', [x], { ksize: k3, strides: s2, padding: 'SAME' }),
        op('AvgPool', [x], { ksize: [1, 3, 2, 1], strides: s1, padding: 'VALID' }),
      ],
    };
  }],
  ['FusedBatchNorm, V3 (inference)', () => {
    const [x, fx] = feed(uniform([2, 5, 4, 3], -2, 2, 1));
    const p = (s: number, lo = -1, hi = 1) => c(uniform([3], lo, hi, s), 'float32');
    const args = [x, p(2, 0.5, 1.5), p(3), p(4), p(5, 0.5, 2)];
    return { feeds: [fx], outputs: [op('FusedBatchNormV3', args, { epsilon: 0.001, is_training: false }), op('FusedBatchNormV2', args, { epsilon: 0.1, is_training: false }), op('FusedBatchNorm', args, { epsilon: 0.01, is_training: false })] };
  }],
  ['LRN', () => {
    const [x, fx] = feed(uniform([2, 3, 3, 7], -2, 2, 1));
    return { feeds: [fx], outputs: [op('LRN', [x], { depth_radius: 2, bias: 1.5, alpha: 0.3, beta: 0.75 })] };
  }],
  ['conv -> bias -> relu -> pool -> conv keeps NCHW between them', () => {
    const [x, fx] = feed(uniform([2, 8, 8, 3], -1, 1, 1), [null, 8, 8, 3]);
    let h = tf.nn.conv2d(x, c(uniform([3, 3, 3, 4], -1, 1, 2), 'float32'), [1, 1, 1, 1], 'SAME');
    h = tf.nn.relu(tf.nn.biasAdd(h, c(uniform([4], -1, 1, 3), 'float32')));
    h = tf.nn.maxPool(h, [1, 2, 2, 1], [1, 2, 2, 1], 'SAME');
    h = tf.multiply(h, c(uniform([4], 0.5, 1.5, 5), 'float32'));
    h = tf.nn.conv2d(h, c(uniform([3, 3, 4, 2], -1, 1, 4), 'float32'), [1, 1, 1, 1], 'VALID');
    return { feeds: [fx], outputs: [h], opts: { runFeeds: [[x, uniform([3, 8, 8, 3], -1, 1, 9)]] } };
  }],
];

const ARRAY_CASES: Case[] = [
  ['Reshape, Squeeze, ExpandDims', () => {
    const [x, fx] = feed(uniform([2, 1, 3, 1], -1, 1, 1), [null, 1, 3, 1]);
    return {
      feeds: [fx],
      outputs: [op('Reshape', [x, c([-1, 3])]), op('Squeeze', [x], { squeeze_dims: [1] }), op('Squeeze', [x]), op('ExpandDims', [x, i32(-1)]), op('ExpandDims', [x, i32(0)])],
    };
  }],
  ['Reshape by a computed shape (flatten)', () => {
    const [x, fx] = feed(uniform([2, 3, 4], -1, 1, 1), [null, 3, 4]);
    return { feeds: [fx], outputs: [tf.layers.flatten(x), tf.reshape(x, tf.stack([tf.gather(tf.shape(x), 0), i32(-1)]))] };
  }],
  ['ConcatV2, Concat, Pack, Unpack', () => {
    const [a, fa] = feed(uniform([2, 3], -1, 1, 1));
    const [b, fb] = feed(uniform([2, 3], -1, 1, 2));
    return {
      feeds: [fa, fb],
      outputs: [op('ConcatV2', [a, b, i32(-1)]), op('ConcatV2', [a, b, i32(0)]), op('Concat', [i32(1), a, b]), op('Pack', [a, b], { axis: 1 }), op('Pack', [a, b], { axis: -1 }), ...ops('Unpack', [a], { num: 3, axis: 1 })],
    };
  }],
  ['Split, SplitV', () => {
    const [x, fx] = feed(uniform([2, 6, 3], -1, 1, 1));
    return { feeds: [fx], outputs: [...ops('Split', [i32(1), x], { num_split: 3 }), ...ops('SplitV', [x, c([1, -1, 2]), i32(-2)], { num_split: 3 })] };
  }],
  ['Transpose, Tile, Fill, BroadcastTo', () => {
    const [x, fx] = feed(uniform([2, 3, 4], -1, 1, 1));
    const [v, fv] = feed(uniform([], -1, 1, 2));
    const [n, fn] = feed(new tf.NDArray(Int32Array.of(3, 2), [2]));
    return { feeds: [fx, fv, fn], outputs: [op('Transpose', [x, c([2, 0, 1])]), op('Tile', [x, c([2, 1, 3])]), op('Fill', [n, v]), op('Tile', [x, tf.concat([n, c([1])], 0)]), op('BroadcastTo', [v, n])] };
  }],
  ['ZerosLike, OnesLike, Range, Shape, Size', () => {
    const [x, fx] = feed(uniform([2, 3], -1, 1, 1), [null, 3]);
    const [i, fi] = feed(ints([2, 2], -3, 3, 2));
    const [lim, fl] = feed(new tf.NDArray(Float32Array.of(2.5), []));
    const [n, fn] = feed(new tf.NDArray(Int32Array.of(7), []));
    return {
      feeds: [fx, fi, fl, fn],
      outputs: [op('ZerosLike', [x]), op('OnesLike', [i]), op('Range', [c([-1], 'float32').op.outputs[0]!, lim, tf.constant(0.5)].map((t) => tf.reshape(t, []))), op('Range', [i32(1), n, i32(2)]), op('Shape', [x]), op('Shape', [x], { out_type: 'int64' }), op('Size', [x])],
    };
  }],
  ['Select (vector condition), SelectV2 (broadcast)', () => {
    const [x, fx] = feed(uniform([3, 4], -1, 1, 1));
    const [y, fy] = feed(uniform([3, 4], -1, 1, 2));
    const [cv, fc] = feed(bools([3], 3));
    const [cb, fcb] = feed(bools([4], 4));
    return { feeds: [fx, fy, fc, fcb], outputs: [op('Select', [cv, x, y]), op('SelectV2', [cb, x, y]), op('Select', [tf.greater(x, y), x, y])] };
  }],
  ['Slice, StridedSlice (masks)', () => {
    const [x, fx] = feed(uniform([4, 5, 6], -1, 1, 1), [null, 5, 6]);
    const ss = (b: number[], e: number[], s: number[], attrs: Record<string, number> = {}) => op('StridedSlice', [x, c(b), c(e), c(s)], attrs);
    return {
      feeds: [fx],
      outputs: [
        op('Slice', [x, c([1, 0, 2]), c([2, -1, 3])]),
        ss([1, 0, -1], [3, 5, 0], [1, 2, -1]),
        ss([0, 1], [0, 4], [1, 1], { begin_mask: 1, end_mask: 1 }),
        ss([-1], [0], [-1], { end_mask: 1 }),
        ss([1], [2], [1], { shrink_axis_mask: 1 }),
        ss([0, -1], [0, 0], [1, 1], { begin_mask: 1, end_mask: 1, shrink_axis_mask: 2 }),
        ss([0, 0, 1], [0, 0, 3], [1, 1, 1], { ellipsis_mask: 1 }),
        ss([0, 0, 2], [0, 0, 4], [1, 1, 1], { new_axis_mask: 1, ellipsis_mask: 2 }),
        ss([0, 0, 0], [2, 0, 0], [1, 1, 1], { new_axis_mask: 2, ellipsis_mask: 4 }),
      ],
    };
  }],
  ['GatherV2, Gather, GatherNd', () => {
    const [x, fx] = feed(uniform([4, 5, 3], -1, 1, 1));
    const [i, fi] = feed(new tf.NDArray(Int32Array.of(3, 0, 2, 0), [2, 2]));
    const [nd, fnd] = feed(new tf.NDArray(Int32Array.of(3, 1, 0, 4), [2, 2]));
    return { feeds: [fx, fi, fnd], outputs: [op('GatherV2', [x, i, i32(1)]), op('GatherV2', [x, i, i32(0)]), op('Gather', [x, i]), op('GatherNd', [x, nd])] };
  }],
  ['Pad, PadV2, MirrorPad REFLECT', () => {
    const [x, fx] = feed(uniform([2, 3, 4], -1, 1, 1));
    const p = tf.constant(new tf.NDArray(Int32Array.of(0, 1, 2, 0, 1, 2), [3, 2]));
    return { feeds: [fx], outputs: [op('Pad', [x, p]), op('PadV2', [x, p, tf.constant(0.5)]), op('MirrorPad', [x, p], { mode: 'REFLECT' })] };
  }],
  ['reductions (keep_dims, negative and several axes, none), All, Any', () => {
    const [x, fx] = feed(uniform([2, 3, 4], 0.5, 1.5, 1));
    const [bb, fb] = feed(bools([3, 4], 2));
    const out: tf.Tensor[] = [];
    for (const t of ['Sum', 'Mean', 'Max', 'Min', 'Prod']) {
      out.push(op(t, [x, i32(1)]), op(t, [x, c([0, -1])], { keep_dims: true }));
    }
    out.push(op('Sum', [x, tf.constant(new tf.NDArray(new Int32Array(0), [0]))]));
    out.push(op('All', [bb, i32(1)]), op('Any', [bb, c([0])], { keep_dims: true }));
    return { feeds: [fx, fb], outputs: out };
  }],
  ['ArgMax, ArgMin (int64 and int32), TopKV2, Cumsum', () => {
    const [x, fx] = feed(uniform([3, 5], -1, 1, 1));
    const [k, fk] = feed(new tf.NDArray(Int32Array.of(2), []));
    const top = ops('TopKV2', [x, i32(3)]);
    const topDyn = ops('TopKV2', [x, k]);
    const topAttr = ops('TopK', [x], { k: 4, sorted: true });
    return {
      feeds: [fx, fk],
      outputs: [
        op('ArgMax', [x, i32(1)]),
        op('ArgMin', [x, i32(0)], { output_type: 'int32' }),
        ...top,
        ...topDyn,
        ...topAttr,
        op('Cumsum', [x, i32(1)]),
        op('Cumsum', [x, i32(1)], { exclusive: true, reverse: true }),
      ],
    };
  }],
  ['ReverseV2, Where (coordinates), L2Loss, ShapeN, Rank', () => {
    const [x, fx] = feed(uniform([2, 3, 4], -1, 1, 1), [null, 3, 4]);
    const [m, fm] = feed(bools([3, 4], 2));
    return {
      feeds: [fx, fm],
      outputs: [op('ReverseV2', [x, c([0, -1])]), op('ReverseV2', [x, c([1])]), op('Where', [m]), op('L2Loss', [x]), ...ops('ShapeN', [x, m]), op('Rank', [x])],
    };
  }],
  ['MatrixBandPart (lower, upper, both, neither)', () => {
    const [x, fx] = feed(uniform([2, 4, 5], -1, 1, 1));
    const band = (l: number, u: number) => op('MatrixBandPart', [x, i32(l), i32(u)]);
    return { feeds: [fx], outputs: [band(-1, 0), band(0, -1), band(1, 2), band(-1, -1), band(0, 0)] };
  }],
  ['DepthToSpace, SpaceToDepth', () => {
    const [x, fx] = feed(uniform([2, 3, 2, 8], -1, 1, 1));
    const [y, fy] = feed(uniform([1, 4, 6, 3], -1, 1, 2));
    return { feeds: [fx, fy], outputs: [op('DepthToSpace', [x], { block_size: 2 }), op('SpaceToDepth', [y], { block_size: 2 })] };
  }],
  ['ResizeBilinear, ResizeNearestNeighbor (TF1 default, align_corners, half_pixel_centers)', () => {
    const [x, fx] = feed(uniform([2, 4, 5, 3], -1, 1, 1), [null, 4, 5, 3]);
    const out: tf.Tensor[] = [];
    for (const type of ['ResizeBilinear', 'ResizeNearestNeighbor']) {
      for (const size of [[7, 3], [8, 10]]) {
        out.push(op(type, [x, c(size)]), op(type, [x, c(size)], { align_corners: true }), op(type, [x, c(size)], { half_pixel_centers: true }));
      }
    }
    return { feeds: [fx], outputs: out };
  }],
  ['OneHot (negative and out-of-range indices give off rows)', () => {
    const [i, fi] = feed(new tf.NDArray(Int32Array.of(0, 3, -1, 5, 2), [5]));
    return { feeds: [fi], outputs: [tf.oneHot(i, 4, { onValue: 2, offValue: -1 }), tf.oneHot(i, 4, { axis: 0 })] };
  }],
];

const P_TRUE = new tf.NDArray(Uint8Array.of(1), [], 'bool');
const P_FALSE = new tf.NDArray(Uint8Array.of(0), [], 'bool');

/** tf.cond and tf.whileLoop (functional If / While) as ONNX If / Loop, each run for both predicate values. */
const CONTROL_FLOW_CASES: Case[] = [
  ['StatelessIf (tf.cond), If (a branch that prints), with captured values and a nested cond', () => {
    const [x, fx] = feed(uniform([2, 3], -1, 1, 1), [null, 3]);
    const p = tf.placeholder('bool', []);
    const w = c(uniform([3, 3], -1, 1, 2), 'float32');
    const y = tf.cond(p, () => tf.matmul(x, w), () => tf.cond(tf.greater(tf.reduceSum(x), 0), () => tf.negative(x), () => tf.exp(x)));
    const z = tf.cond(p, () => tf.Print(tf.add(x, 1), [x]), () => x);
    return { feeds: [fx, [p, P_TRUE]], outputs: [y, z], opts: { runFeeds: [fx, [p, P_FALSE]] } };
  }],
  ['While (tf.whileLoop, printing), StatelessWhile in a cond, captured values', () => {
    const [x, fx] = feed(uniform([2, 3], -1, 1, 1), [null, 3]);
    const [n, fn] = feed(new tf.NDArray(Int32Array.of(5), []));
    const p = tf.placeholder('bool', []);
    const [, acc] = tf.whileLoop((i: tf.Tensor) => tf.less(i, n), (i: tf.Tensor, a: tf.Tensor) => [tf.Print(tf.add(i, 1), [i]), tf.add(tf.multiply(a, 0.5), x)], [i32(0), tf.zerosLike(x)]) as tf.Tensor[];
    const looped = tf.cond(p, () => (tf.whileLoop((i: tf.Tensor, a: tf.Tensor) => tf.less(i, 3), (i: tf.Tensor, a: tf.Tensor) => [tf.add(i, 1), tf.square(a)], [i32(0), x]) as tf.Tensor[])[1]!, () => x);
    return { feeds: [fx, fn, [p, P_TRUE]], outputs: [acc!, looped], opts: { runFeeds: [fx, [n, new tf.NDArray(Int32Array.of(0), [])], [p, P_FALSE]] } };
  }],
  ['tensor lists as ONNX sequences: Empty, Reserve, SetItem, PushBack, PopBack, Length, Stack, FromTensor, GetItem', () => {
    const [a, fa] = feed(uniform([3], -1, 1, 1));
    const [b, fb] = feed(uniform([3], -1, 1, 2));
    const [x, fx] = feed(uniform([4, 3], -1, 1, 3), [null, 3]);
    const [i, fi] = feed(new tf.NDArray(Int32Array.of(2), []));
    const el = { element_dtype: 'float32' };
    const shape = c([3]);
    let l = op('TensorListReserve', [shape, i32(2)], { ...el, shape_type: 'int32' });
    l = op('TensorListSetItem', [op('TensorListSetItem', [l, i32(1), a], el), i32(0), b], el);
    l = op('TensorListPushBack', [l, tf.multiply(a, 2)], el);
    l = op('TensorListPushBack', [l, b], el);
    const [rest, popped] = ops('TensorListPopBack', [l, shape], el);
    const fromX = op('TensorListFromTensor', [x, shape], { ...el, shape_type: 'int32' });
    // An empty list (a loop gradient's accumulator starts as one) grown by pushes.
    const pushed = op('TensorListPushBack', [op('TensorListPushBack', [op('EmptyTensorList', [shape, i32(-1)], { ...el, shape_type: 'int32' }), b], el), a], el);
    return {
      feeds: [fa, fb, fx, fi],
      outputs: [
        op('TensorListStack', [rest!, shape], { ...el, num_elements: -1 }),
        popped!,
        op('TensorListLength', [rest!]),
        op('TensorListGetItem', [fromX, i, shape], el),
        op('TensorListLength', [fromX]),
        op('TensorListStack', [pushed, shape], { ...el, num_elements: -1 }),
      ],
    };
  }],
];

describe('tf.onnx.exportGraph: each mapped op against ONNX Runtime', () => {
  const covered = new Set<string>();
  const all = [...UNARY_CASES, ...BINARY_CASES, ...MATRIX_CASES, ...CONV_CASES, ...ARRAY_CASES, ...CONTROL_FLOW_CASES];
  for (const opset of [17, 18]) {
    it.each(all)(`opset ${opset}: %s`, async (_name, build) => {
      const graph = new tf.Graph();
      const built = graph.asDefault(build);
      const r = await compareWithOrt(graph, built.feeds, built.outputs, { ...built.opts, opset });
      expect(r.ort.length).toBe(built.outputs.length);
      // Cases with a second set of feeds (the other branch, another trip count) run it too.
      if (built.opts?.runFeeds) await compareWithOrt(graph, built.feeds, built.outputs, { opset, runFeeds: built.feeds });
      const walk = (gr: tf.Graph): void => {
        for (const o of gr.getOperations()) {
          covered.add(o.type);
          for (const a of Object.values(o.attrs)) if (a instanceof tf.Graph) walk(a);
        }
      };
      walk(graph);
    });
  }

  it('covers every op type in the mapping table', () => {
    // Identities, and sources (the feedDict test below exports a variable and a PlaceholderWithDefault), aside.
    const aside = new Set<string>([...FORWARDED_OPS, ...SOURCE_OPS]);
    const missing = tf.onnx.mappedOpTypes().filter((t) => !covered.has(t) && !aside.has(t));
    expect(missing.join(), `mapped op types no case exports`).toBe("");
  });
});

describe('tf.onnx.exportGraph: the model', () => {
  it('cancels the layout transposes of a conv chain: one Transpose in, one out, the bias inside the Conv', async () => {
    const graph = new tf.Graph();
    const built = graph.asDefault(CONV_CASES.find(([n]) => n.startsWith('conv -> bias'))![1]);
    const { bytes } = await compareWithOrt(graph, built.feeds, built.outputs, built.opts);
    const model = tf.onnx.decodeModel(bytes);
    const types = model.graph.node.map((n) => n.op_type);
    expect(types.filter((t) => t === 'Transpose').length).toBe(2);
    const convs = model.graph.node.filter((n) => n.op_type === 'Conv');
    expect(convs[0]!.input.length).toBe(3);
    expect(types).not.toContain('Add');
  });

  it('writes the opset asked for, symbolic dims for unknown input dims, and runs with two batch sizes', async () => {
    const graph = new tf.Graph();
    const { x, y } = graph.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      return { x, y: tf.reduceSum(tf.multiply(x, tf.constant([1, 2, 3], 'float32' as never)), 1) };
    });
    for (const [opset, ir] of [[20, 9], [21, 10]] as const) {
      const model = tf.onnx.decodeModel(await tf.onnx.exportGraph(graph, { inputs: [x], outputs: { y }, opset }));
      expect(model.opset_import).toEqual([{ domain: '', version: opset }]);
      expect(model.ir_version).toBe(ir);
      expect(await runOrt(await tf.onnx.exportGraph(graph, { inputs: [x], outputs: { y }, opset }), { 'x:0': uniform([2, 3]) }, ['y'])).toHaveLength(1);
    }
    const bytes = await tf.onnx.exportGraph(graph, { inputs: [x], outputs: { y } });
    const model = tf.onnx.decodeModel(bytes);
    expect(model.opset_import).toEqual([{ domain: '', version: 17 }]);
    expect(model.ir_version).toBe(8);
    expect(model.graph.input![0]!.name).toBe('x:0');
    expect(model.graph.input![0]!.type).toHaveProperty('tensor_type.shape.dim', [{ dim_param: 'x:0_dim0' }, { dim_value: 3 }]);
    for (const n of [1, 5]) {
      const v = uniform([n, 3], -1, 1, n);
      const [got] = await runOrt(bytes, { 'x:0': v }, ['y']);
      const want = new tf.Session({ graph });
      const w = (await want.run(y, [[x, v]])) as tf.NDArray;
      want.close();
      expect(got!.shape).toEqual([n]);
      for (let i = 0; i < n; i++) expect((got!.data as Float32Array)[i]).toBeCloseTo((w.data as Float32Array)[i]!, 5);
    }
  });

  it('freezes placeholders given in feedDict, and keeps the branch a decided Select picks', async () => {
    const graph = new tf.Graph();
    const m = graph.asDefault(() => {
      const x = tf.placeholder('float32', [null, 4], 'x');
      const training = tf.placeholder('bool', [], 'training');
      const h = tf.layers.dropout(x, { rate: 0.5, training });
      const scale = tf.placeholderWithDefault(tf.constant(3, 'float32' as never), [], 'scale');
      return { x, training, y: tf.multiply(tf.layers.dense(h, 2, { kernelInitializer: tf.onesInitializer() }), scale) };
    });
    expect(graph.getOperations().map((o) => o.type)).toEqual(expect.arrayContaining(['VariableV2', 'PlaceholderWithDefault']));
    const sess = new tf.Session({ graph });
    await sess.run(graph.asDefault(() => tf.globalVariablesInitializer()));
    const r = await compareWithOrt(graph, [[m.x, uniform([3, 4])]], [m.y], { session: sess, feedDict: [[m.training, false]] });
    expect(tf.onnx.decodeModel(r.bytes).graph.node.map((n) => n.op_type)).not.toContain('RandomUniform');
    await expect(tf.onnx.exportGraph(graph, { session: sess, inputs: [m.x], outputs: [m.y] })).rejects.toThrow(InvalidArgumentError);
    await expect(tf.onnx.exportGraph(graph, { session: sess, inputs: [m.x], outputs: [m.y] })).rejects.toThrow(/training:0 \(bool/);
    sess.close();
  });

  it('lists every op type it cannot map at once, in one UnimplementedError', async () => {
    const graph = new tf.Graph();
    const m = graph.asDefault(() => {
      const x = tf.placeholder('float32', [3, 3], 'x');
      const noisy = tf.add(x, tf.randomUniform([3, 3]));
      const inv = tf.matrixInverse(x);
      const sorted = tf.cumprod(noisy, 0);
      const v = new tf.Variable(tf.zeros([3, 3]), { name: 'v' });
      const [, looped] = tf.whileLoop((i: tf.Tensor) => tf.less(i, 2), (i: tf.Tensor, a: tf.Tensor) => [tf.add(i, 1), tf.add(a, tf.assignAdd(v, x))], [i32(0), x]) as tf.Tensor[];
      return { x, y: tf.add(tf.add(tf.add(noisy, inv), sorted), looped!) };
    });
    const err = await tf.onnx.exportGraph(graph, { inputs: [m.x], outputs: [m.y] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnimplementedError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/5 op types/);
    expect(msg).toMatch(/VariableV2 \(a variable assigned in a control-flow body\)/);
    expect(msg).toMatch(/AssignAdd/);
    expect(msg).toMatch(/RandomUniform/);
    expect(msg).toMatch(/MatrixInverse/);
    expect(msg).toMatch(/Cumprod/);
  });

  it('rejects a bad opset, an unknown tensor and an input fed a value', async () => {
    const graph = new tf.Graph();
    const m = graph.asDefault(() => {
      const x = tf.placeholder('float32', [2], 'x');
      return { x, y: tf.negative(x) };
    });
    await expect(tf.onnx.exportGraph(graph, { inputs: [m.x], outputs: [m.y], opset: 13 })).rejects.toThrow(/opset must be an integer from 17/);
    await expect(tf.onnx.exportGraph(graph, { inputs: ['nope:0'], outputs: [m.y] })).rejects.toThrow();
    await expect(tf.onnx.exportGraph(graph, { inputs: [m.x], outputs: [m.y], feedDict: [[m.x, [1, 2]]] })).rejects.toThrow(/both an input/);
  });
});
