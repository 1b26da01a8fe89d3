import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray, randomDistribution } from '../helpers.js';

/** Random values in [min, max) moved at least `margin` away from each kink point. */
function awayFrom(shape: number[], seed: number, min: number, max: number, kinks: number[], margin = 0.15): tf.NDArray {
  const x = randomArray(shape, { seed, min, max });
  const d = x.data as Float32Array;
  for (let i = 0; i < d.length; i++) {
    for (const k of kinks) {
      if (Math.abs(d[i]! - k) < margin) d[i] = k + (d[i]! >= k ? margin : -margin);
    }
  }
  return x;
}

function op(type: string, inputs: tf.Tensor[], attrs: Record<string, tf.AttrValue> = {}): tf.Operation {
  return tf.getDefaultGraph().createOp(type, inputs, { T: inputs[0]!.dtype, ...attrs });
}

const distribution = (shape: number[], seed: number): tf.NDArray => randomDistribution(shape, seed, 0.1);

/** d/dx sum(f(x)^2): a gradient whose own gradient runs through f's gradient op. */
function gradOfSquare(f: (x: tf.Tensor) => tf.Tensor): (x: tf.Tensor) => tf.Tensor {
  return (x) => {
    const y = f(x);
    return tf.gradients(tf.reduceSum(tf.multiply(y, y)), x)[0]!;
  };
}

const activations: [string, string, (x: tf.Tensor) => tf.Tensor, number[], number, number][] = [
  ['Relu', 'ReluGrad', (x) => tf.nn.relu(x), [0], -2, 2],
  ['Relu6', 'Relu6Grad', (x) => tf.nn.relu6(x), [0, 6], -2, 8],
  ['LeakyRelu', 'LeakyReluGrad', (x) => tf.nn.leakyRelu(x, 0.1), [0], -2, 2],
  ['Elu', 'EluGrad', (x) => tf.nn.elu(x), [0], -2, 2],
  ['Selu', 'SeluGrad', (x) => tf.nn.selu(x), [0], -2, 2],
  ['Softplus', 'SoftplusGrad', (x) => tf.nn.softplus(x), [], -3, 3],
  ['Softsign', 'SoftsignGrad', (x) => tf.nn.softsign(x), [0], -3, 3],
];

const activationCases: GradCase[] = activations.flatMap(([fwd, grad, f, kinks, min, max], k): GradCase[] => [
  {
    ops: [fwd],
    name: `${fwd} of a matrix`,
    inputs: [awayFrom([3, 4], 200 + k, min, max, kinks)],
    build: (x) => f(x!),
  },
  {
    ops: [fwd, grad],
    name: `second order: d/dx of d/dx sum(${fwd}(x)^2)`,
    inputs: [awayFrom([2, 3], 220 + k, min, max, kinks)],
    build: (x) => gradOfSquare(f)(x!),
  },
]);

/** The gradient ops on their own, differentiated with respect to both inputs. */
const gradOpCases: GradCase[] = [
  {
    ops: ['ReluGrad'],
    name: 'ReluGrad(gradients, features)',
    inputs: [randomArray([2, 3], { seed: 240 }), awayFrom([2, 3], 241, -2, 2, [0])],
    build: (g, x) => op('ReluGrad', [g!, x!]).outputs[0]!,
  },
  {
    ops: ['Relu6Grad'],
    name: 'Relu6Grad(gradients, features)',
    inputs: [randomArray([2, 4], { seed: 242 }), awayFrom([2, 4], 243, -2, 8, [0, 6])],
    build: (g, x) => op('Relu6Grad', [g!, x!]).outputs[0]!,
  },
  {
    ops: ['LeakyReluGrad'],
    name: 'LeakyReluGrad(gradients, features), alpha 0.3',
    inputs: [randomArray([2, 3], { seed: 244 }), awayFrom([2, 3], 245, -2, 2, [0])],
    build: (g, x) => op('LeakyReluGrad', [g!, x!], { alpha: 0.3 }).outputs[0]!,
  },
  {
    ops: ['EluGrad'],
    name: 'EluGrad(gradients, outputs) with outputs in (-1, 2)',
    inputs: [randomArray([2, 3], { seed: 246 }), awayFrom([2, 3], 247, -0.9, 2, [0])],
    build: (g, y) => op('EluGrad', [g!, y!]).outputs[0]!,
  },
  {
    ops: ['SeluGrad'],
    name: 'SeluGrad(gradients, outputs) with outputs in (-1.7, 2)',
    inputs: [randomArray([2, 3], { seed: 248 }), awayFrom([2, 3], 249, -1.6, 2, [0])],
    build: (g, y) => op('SeluGrad', [g!, y!]).outputs[0]!,
  },
  {
    ops: ['SoftplusGrad'],
    name: 'SoftplusGrad(gradients, features)',
    inputs: [randomArray([2, 3], { seed: 250 }), randomArray([2, 3], { seed: 251, min: -3, max: 3 })],
    build: (g, x) => op('SoftplusGrad', [g!, x!]).outputs[0]!,
  },
  {
    ops: ['SoftsignGrad'],
    name: 'SoftsignGrad(gradients, features)',
    inputs: [randomArray([2, 3], { seed: 252 }), awayFrom([2, 3], 253, -3, 3, [0])],
    build: (g, x) => op('SoftsignGrad', [g!, x!]).outputs[0]!,
  },
];

const softmaxCases: GradCase[] = [
  {
    ops: ['Softmax'],
    name: 'softmax over the last axis',
    inputs: [randomArray([2, 4], { seed: 260, min: -2, max: 2 })],
    build: (x) => tf.nn.softmax(x!),
  },
  {
    ops: ['LogSoftmax'],
    name: 'logSoftmax over the last axis',
    inputs: [randomArray([2, 4], { seed: 261, min: -2, max: 2 })],
    build: (x) => tf.nn.logSoftmax(x!),
  },
  {
    ops: ['Softmax'],
    name: 'softmax over axis 0 (transposed)',
    inputs: [randomArray([3, 2], { seed: 262, min: -2, max: 2 })],
    build: (x) => tf.nn.softmax(x!, 0),
  },
  {
    ops: ['Softmax'],
    name: 'second order: d/dx sum(softmax(x)^2)',
    inputs: [randomArray([2, 3], { seed: 263, min: -2, max: 2 })],
    build: (x) => gradOfSquare((t) => tf.nn.softmax(t))(x!),
  },
  {
    ops: ['LogSoftmax'],
    name: 'second order: d/dx sum(logSoftmax(x)^2)',
    inputs: [randomArray([2, 3], { seed: 264, min: -2, max: 2 })],
    build: (x) => gradOfSquare((t) => tf.nn.logSoftmax(t))(x!),
  },
];

const biasCases: GradCase[] = [
  {
    ops: ['BiasAdd'],
    name: 'biasAdd NHWC',
    inputs: [randomArray([2, 2, 3], { seed: 270 }), randomArray([3], { seed: 271 })],
    build: (v, b) => tf.nn.biasAdd(v!, b!),
  },
  {
    ops: ['BiasAdd'],
    name: 'biasAdd NCHW',
    inputs: [randomArray([2, 3, 2], { seed: 272 }), randomArray([3], { seed: 273 })],
    build: (v, b) => tf.nn.biasAdd(v!, b!, { dataFormat: 'NCHW' }),
  },
  {
    ops: ['BiasAddGrad'],
    name: 'BiasAddGrad NHWC and NCHW',
    inputs: [randomArray([2, 3, 2], { seed: 274 })],
    build: (g) => [op('BiasAddGrad', [g!], { data_format: 'NHWC' }).outputs[0]!, op('BiasAddGrad', [g!], { data_format: 'NCHW' }).outputs[0]!],
  },
  {
    ops: ['BiasAddGrad'],
    name: 'BiasAddGrad of unknown dims and unknown rank (dynamic tiling)',
    inputs: [randomArray([2, 3, 2], { seed: 275 })],
    build: (g) => {
      const partial = tf.placeholderWithDefault(g!, [null, 3, null]);
      const unknown = tf.placeholderWithDefault(g!, null);
      const outs = [
        op('BiasAddGrad', [partial], { data_format: 'NHWC' }).outputs[0]!,
        op('BiasAddGrad', [partial], { data_format: 'NCHW' }).outputs[0]!,
        op('BiasAddGrad', [unknown], { data_format: 'NHWC' }).outputs[0]!,
        op('BiasAddGrad', [unknown], { data_format: 'NCHW' }).outputs[0]!,
      ];
      [2, 3, 2, 3].forEach((c, i) => outs[i]!.setShape([c]));
      return outs;
    },
  },
  {
    ops: ['BiasAdd', 'BiasAddGrad'],
    name: 'second order: d/db sum(biasAdd(v, b)^2), differentiated w.r.t. v and b',
    inputs: [randomArray([2, 3], { seed: 276 }), randomArray([3], { seed: 277 })],
    build: (v, b) => {
      const y = tf.nn.biasAdd(v!, b!);
      return tf.gradients(tf.reduceSum(tf.multiply(y, y)), b!)[0]!;
    },
  },
];

const lossCases: GradCase[] = [
  {
    ops: ['L2Loss'],
    name: 'l2Loss',
    inputs: [randomArray([2, 3], { seed: 280 })],
    build: (x) => tf.nn.l2Loss(x!),
  },
  {
    ops: ['SoftmaxCrossEntropyWithLogits'],
    name: 'the raw op: loss and backprop outputs, w.r.t. logits and labels',
    inputs: [randomArray([2, 3], { seed: 281, min: -2, max: 2 }), distribution([2, 3], 282)],
    build: (x, y) => op('SoftmaxCrossEntropyWithLogits', [x!, y!]).outputs,
  },
  {
    ops: ['SoftmaxCrossEntropyWithLogits'],
    // The op's logits gradient assumes labels that sum to 1 along the class axis (as TF's does).
    name: 'v2 API over axis 1 of a rank-3 input (w.r.t. logits and labels)',
    inputs: [randomArray([2, 3, 2], { seed: 283, min: -2, max: 2 }), randomArray([2, 3, 2], { seed: 284, min: -1, max: 1 })],
    build: (x, y) => tf.nn.softmaxCrossEntropyWithLogitsV2({ logits: x!, labels: tf.nn.softmax(y!, 1), axis: 1 }),
  },
  {
    ops: ['SparseSoftmaxCrossEntropyWithLogits'],
    name: 'the raw sparse op: loss and backprop outputs',
    inputs: [randomArray([3, 4], { seed: 285, min: -2, max: 2 }), tf.NDArray.from(Int32Array.from([3, 0, 2]))],
    build: (x, l) => op('SparseSoftmaxCrossEntropyWithLogits', [x!, l!], { Tlabels: 'int32' }).outputs,
  },
  {
    ops: ['SparseSoftmaxCrossEntropyWithLogits'],
    name: 'sparse API with rank-3 logits and int64 labels',
    inputs: [randomArray([2, 2, 3], { seed: 286, min: -2, max: 2 }), new tf.NDArray(BigInt64Array.from([2n, 0n, 1n, 1n]), [2, 2])],
    build: (x, l) => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ logits: x!, labels: l! }),
  },
  {
    ops: ['SoftmaxCrossEntropyWithLogits'],
    name: 'second order: Hessian of the v1 softmax cross-entropy w.r.t. logits',
    inputs: [randomArray([2, 3], { seed: 287, min: -2, max: 2 }), distribution([2, 3], 288)],
    wrt: [0],
    build: (x, y) => tf.gradients(tf.reduceSum(tf.nn.softmaxCrossEntropyWithLogits({ logits: x!, labels: y! })), x!)[0]!,
  },
  {
    ops: ['SparseSoftmaxCrossEntropyWithLogits'],
    name: 'second order: Hessian of the sparse softmax cross-entropy w.r.t. logits',
    inputs: [randomArray([2, 3], { seed: 289, min: -2, max: 2 }), tf.NDArray.from(Int32Array.from([1, 2]))],
    build: (x, l) => tf.gradients(tf.reduceSum(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ logits: x!, labels: l! })), x!)[0]!,
  },
  {
    ops: [],
    name: 'sigmoidCrossEntropyWithLogits (composed), w.r.t. logits and labels',
    inputs: [awayFrom([2, 3], 290, -3, 3, [0]), randomArray([2, 3], { seed: 291, min: 0, max: 1 })],
    build: (x, z) => tf.nn.sigmoidCrossEntropyWithLogits({ logits: x!, labels: z! }),
  },
];

const secondOrderCases: GradCase[] = [
  {
    ops: ['Relu', 'ReluGrad'],
    name: 'gradient through the ReluGrad path: d/d(x, w) of d/dx sum(relu(x * w)^2)',
    inputs: [awayFrom([2, 3], 300, -2, 2, [0], 0.3), randomArray([3], { seed: 301, min: 0.5, max: 1.5 })],
    build: (x, w) => {
      const y = tf.nn.relu(tf.multiply(x!, w!));
      return tf.gradients(tf.reduceSum(tf.multiply(y, y)), x!)[0]!;
    },
  },
  ...(['softplus', 'leakyRelu'] as const).map(
    (act): GradCase => ({
      ops: act === 'softplus' ? ['Softplus', 'SoftplusGrad', 'BiasAdd'] : ['LeakyRelu', 'LeakyReluGrad', 'BiasAdd'],
      name: `WGAN-GP penalty (${act} net): mean((|dD/dx| - 1)^2) w.r.t. the weights`,
      inputs: [
        randomArray([3, 2], { seed: 310 }),
        randomArray([2, 4], { seed: 311, min: -1.5, max: 1.5 }),
        randomArray([4], { seed: 312, min: -0.5, max: 0.5 }),
        randomArray([4, 1], { seed: 313, min: -1.5, max: 1.5 }),
      ],
      wrt: [1, 2, 3],
      build: (x, w1, b1, w2) => {
        const pre = tf.nn.biasAdd(tf.matmul(x!, w1!), b1!);
        const h = act === 'softplus' ? tf.nn.softplus(pre) : tf.nn.leakyRelu(pre, 0.2);
        const d = tf.matmul(h, w2!);
        const gx = tf.gradients(tf.reduceSum(d), x!)[0]!;
        const slopes = tf.sqrt(tf.reduceSum(tf.square(gx), 1));
        return tf.reduceMean(tf.square(tf.subtract(slopes, 1)));
      },
    }),
  ),
];

const clipCases: GradCase[] = [
  {
    ops: [],
    name: 'clipByValue (gradient 1 inside, 0 outside)',
    inputs: [awayFrom([2, 4], 320, -1, 1, [-0.5, 0.5])],
    build: (x) => tf.clipByValue(x!, -0.5, 0.5),
  },
  {
    ops: [],
    name: 'clipByNorm over all axes and over axis 1',
    inputs: [randomArray([2, 3], { seed: 321, min: -2, max: 2 })],
    build: (x) => [tf.clipByNorm(x!, 1.0), tf.clipByNorm(x!, 1.5, [1])],
  },
  {
    ops: ['L2Loss'],
    name: 'clipByGlobalNorm and globalNorm',
    inputs: [randomArray([2, 2], { seed: 322, min: -2, max: 2 }), randomArray([3], { seed: 323, min: -2, max: 2 })],
    build: (a, b) => {
      const [clipped, norm] = tf.clipByGlobalNorm([a!, b!], 1.0);
      return [...clipped, norm, tf.globalNorm([a!, null, b!])];
    },
  },
];

export const nnCases: GradCase[] = [
  ...activationCases,
  ...gradOpCases,
  ...softmaxCases,
  ...biasCases,
  ...lossCases,
  ...secondOrderCases,
  ...clipCases,
];
