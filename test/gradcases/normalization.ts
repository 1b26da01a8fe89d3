import * as tf from '../../src/index.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

const VERSIONS = [
  ['FusedBatchNorm', 'FusedBatchNormGrad'],
  ['FusedBatchNormV2', 'FusedBatchNormGradV2'],
  ['FusedBatchNormV3', 'FusedBatchNormGradV3'],
] as const;

function bnAttrs(type: string, format: string, training: boolean): Record<string, tf.AttrValue> {
  const attrs: Record<string, tf.AttrValue> = { T: 'float32', epsilon: 0.01, data_format: format, is_training: training };
  if (type !== 'FusedBatchNorm' && type !== 'FusedBatchNormGrad') attrs.U = 'float32';
  return attrs;
}

function createOp(type: string, inputs: tf.Tensor[], attrs: Record<string, tf.AttrValue>): tf.Operation {
  const g = inputs[0]!.graph;
  return g.createOp(type, inputs, attrs);
}

const empty = (): tf.Tensor => tf.constant(new tf.NDArray(new Float32Array(0), [0]));

const cases: GradCase[] = [
  {
    ops: ['LRN'],
    name: 'lrn over 5 channels, radius 2',
    inputs: [randomArray([1, 2, 2, 5], { seed: 901, min: -1.5, max: 1.5 })],
    build: (x) => createOp('LRN', [x!], { T: 'float32', depth_radius: 2, bias: 1, alpha: 0.5, beta: 0.75 }).outputs[0]!,
  },
  {
    ops: ['LRN'],
    name: 'lrn at its default attrs, window wider than the channels',
    inputs: [randomArray([2, 1, 2, 3], { seed: 902, min: -1, max: 1 })],
    build: (x) => createOp('LRN', [x!], { T: 'float32' }).outputs[0]!,
  },
];

for (const [type, gradType] of VERSIONS) {
  for (const [format, shape, depth] of [
    ['NHWC', [2, 2, 2, 3], 3],
    ['NCHW', [2, 3, 2, 2], 3],
  ] as const) {
    cases.push({
      ops: [type],
      name: `${type} ${format} training: y wrt x, scale and offset`,
      inputs: [randomArray([...shape], { seed: 911, min: -1, max: 2 }), randomArray([depth], { seed: 912, min: 0.5, max: 1.5 }), randomArray([depth], { seed: 913 })],
      build: (x, scale, offset) => createOp(type, [x!, scale!, offset!, empty(), empty()], bnAttrs(type, format, true)).outputs[0]!,
    });
    cases.push({
      ops: [type],
      name: `${type} ${format} inference: y wrt x, scale and offset`,
      inputs: [
        randomArray([...shape], { seed: 921, min: -1, max: 2 }),
        randomArray([depth], { seed: 922, min: 0.5, max: 1.5 }),
        randomArray([depth], { seed: 923 }),
        randomArray([depth], { seed: 924 }),
        randomArray([depth], { seed: 925, min: 0.5, max: 2 }),
      ],
      wrt: [0, 1, 2],
      build: (x, scale, offset, mean, variance) => createOp(type, [x!, scale!, offset!, mean!, variance!], bnAttrs(type, format, false)).outputs[0]!,
    });
    // The gradient op on the statistics its forward op saved: differentiable in y_backprop, x and scale.
    cases.push({
      ops: [gradType],
      name: `${gradType} ${format} training (second order through ${type})`,
      inputs: [
        randomArray([...shape], { seed: 931, min: -1, max: 2 }),
        randomArray([depth], { seed: 932, min: 0.5, max: 1.5 }),
        randomArray([depth], { seed: 933 }),
        randomArray([...shape], { seed: 934 }),
      ],
      wrt: [0, 1, 3],
      build: (x, scale, offset, dy) => {
        const y = createOp(type, [x!, scale!, offset!, empty(), empty()], bnAttrs(type, format, true)).outputs[0]!;
        return tf.gradients(y, [x!, scale!, offset!], dy!) as tf.Tensor[];
      },
    });
    cases.push({
      ops: [gradType],
      name: `${gradType} ${format} inference: wrt y_backprop, x and scale`,
      inputs: [
        randomArray([...shape], { seed: 941 }),
        randomArray([...shape], { seed: 942, min: -1, max: 2 }),
        randomArray([depth], { seed: 943, min: 0.5, max: 1.5 }),
        randomArray([depth], { seed: 944 }),
        randomArray([depth], { seed: 945, min: 0.5, max: 2 }),
      ],
      wrt: [0, 1, 2],
      build: (dy, x, scale, mean, variance) => {
        const inputs = [dy!, x!, scale!, mean!, variance!];
        if (gradType === 'FusedBatchNormGradV3') inputs.push(tf.constant(0));
        return createOp(gradType, inputs, bnAttrs(gradType, format, false)).outputs.slice(0, 3);
      },
    });
  }
}

export const normalizationCases: GradCase[] = cases;
