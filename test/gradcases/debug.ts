import * as tf from '../../src/index.js';
import * as debug from '../../src/api/debug.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

const r = (shape: number[], seed: number, min = -1, max = 1) => randomArray(shape, { seed, min, max });
const scalar = (v: number) => new tf.NDArray(Float32Array.from([v]), []);

/**
 * Fake quantization is a staircase (zero derivative almost everywhere); its gradient is the
 * straight-through one, the derivative of clip(x, min, max). The cases check it as that: the
 * output's value is swapped for the clip (the staircase minus a stop-gradient of itself plus the
 * clip under a stop-gradient), so finite differences see clip while the symbolic gradient comes from
 * the fake-quant op alone. The ranges nudge to themselves (zero is on the grid), and no input is
 * within the step of a bound.
 */
function asClip(q: tf.Tensor, x: tf.Tensor, min: tf.Tensor | number, max: tf.Tensor | number): tf.Tensor {
  const clip = tf.minimum(tf.maximum(x, min), max);
  return tf.add(q, tf.stopGradient(tf.subtract(clip, q)));
}

/** 41 inputs in [-1.5, 1.5) on no grid point and on no bound of [-1, 1.55]. */
const SPREAD = new tf.NDArray(Float32Array.from({ length: 41 }, (_, i) => -1.5 + i * 0.0737 + 0.0013), [41]);

export const debugCases: GradCase[] = [
  {
    ops: ['Print'],
    name: 'Print passes the gradient to its input',
    inputs: [r([2, 3], 701)],
    build: (x) => {
      const p = debug.Print(x!, [x!], { firstN: 0 });
      return tf.square(p);
    },
  },
  {
    ops: ['CheckNumerics'],
    name: 'CheckNumerics is the identity for finite values (with a second-order use)',
    inputs: [r([3, 2], 702)],
    build: (x) => {
      const y = tf.multiply(debug.checkNumerics(x!, 'x'), x!);
      return [y, tf.gradients(tf.reduceSum(tf.square(debug.checkNumerics(y, 'y'))), x!)[0]!];
    },
  },
  {
    ops: ['IdentityN'],
    name: 'IdentityN passes each gradient to its own input',
    inputs: [r([2, 2], 703), r([3], 704)],
    build: (a, b) => {
      const [p, q] = debug.identityN([a!, b!]);
      return [tf.square(p!), tf.multiply(q!, 3)];
    },
  },
  {
    ops: ['Snapshot'],
    name: 'Snapshot is the identity',
    inputs: [r([4], 705)],
    build: (x) => tf.exp(tf.getDefaultGraph().createOp('Snapshot', [x!], { T: 'float32' }).outputs[0]!),
  },
  {
    ops: ['EnsureShape'],
    name: 'EnsureShape is the identity',
    inputs: [r([2, 3], 706)],
    build: (x) => tf.sin(debug.ensureShape(x!, [null, 3])),
  },
  {
    ops: ['FakeQuantWithMinMaxArgs'],
    name: 'fakeQuantWithMinMaxArgs: the straight-through gradient (clip to [-1, 1.55])',
    inputs: [SPREAD],
    build: (x) => asClip(debug.fakeQuantWithMinMaxArgs(x!, { min: -1, max: 1.55 }), x!, -1, 1.55),
  },
  {
    ops: ['FakeQuantWithMinMaxVars'],
    name: 'fakeQuantWithMinMaxVars: straight-through gradient wrt inputs, min and max',
    inputs: [SPREAD, scalar(-1), scalar(1.55)],
    build: (x, min, max) => asClip(debug.fakeQuantWithMinMaxVars(x!, min!, max!), x!, min!, max!),
  },
];
