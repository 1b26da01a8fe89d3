// LRN / LRNGrad and the fused batch norms (FusedBatchNorm, V2, V3 and their gradient ops): kernels
// against TensorFlow.js's CPU backend where it has the op (localResponseNormalization and its
// gradient, batchNorm in inference) and against reference code written here (training statistics,
// the gradient ops), shape-function errors, and GraphDef round trips of their attrs.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { getOpDef } from '../ops/index.js';
import { fusedBatchNorm, lrn, localResponseNormalization } from '../src/api/normalization.js';
import { expectClose, fromTfjs, randomArray, run } from './helpers.js';
import { tfjs } from './helpers.js';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';

type Attrs = Record<string, tf.AttrValue>;

/** Fed values (placeholders): constants would be folded on the host, never reaching the backend's kernels. */
function fed(values: tf.NDArray[]): { phs: tf.Tensor[]; feeds: Map<tf.Tensor, tf.NDArray> } {
  const phs = values.map((v) => tf.placeholder(v.dtype, [...v.shape]));
  return { phs, feeds: new Map(phs.map((p, i) => [p, values[i]!])) };
}

/** Runs one op of `type` on fed inputs; returns all of its outputs. */
async function runOp(type: string, inputs: tf.NDArray[], attrs: Attrs): Promise<tf.NDArray[]> {
  const g = new tf.Graph();
  const { op, feeds } = g.asDefault(() => {
    const { phs, feeds } = fed(inputs);
    return { op: g.createOp(type, phs, attrs), feeds };
  });
  return (await run(op.outputs, feeds, g)) as tf.NDArray[];
}

// ---- LRN ----

const LRN_CASES = [
  { shape: [2, 3, 2, 7], depthRadius: 2, bias: 1, alpha: 1, beta: 0.5 },
  { shape: [1, 2, 3, 12], depthRadius: 5, bias: 2, alpha: 0.3, beta: 0.75 },
  { shape: [3, 1, 1, 4], depthRadius: 0, bias: 0.5, alpha: 2, beta: 1.5 },
  { shape: [1, 2, 2, 3], depthRadius: 10, bias: 1.5, alpha: 0.1, beta: 0.25 },
];

describe('LRN', () => {
  for (const c of LRN_CASES) {
    const label = `shape [${c.shape}] radius ${c.depthRadius} bias ${c.bias} alpha ${c.alpha} beta ${c.beta}`;
    it(`${label} matches tfjs localResponseNormalization`, async () => {
      const tj = await tfjs();
      const x = randomArray(c.shape, { seed: c.shape[3]!, min: -2, max: 2 });
      const g = new tf.Graph();
      const { y, feeds } = g.asDefault(() => {
        const { phs, feeds } = fed([x]);
        return { y: lrn(phs[0]!, { depthRadius: c.depthRadius, bias: c.bias, alpha: c.alpha, beta: c.beta }), feeds };
      });
      const got = (await run(y, feeds, g)) as tf.NDArray;
      const want = tj.localResponseNormalization(tj.tensor4d(x.data as Float32Array, c.shape as [number, number, number, number]), c.depthRadius, c.bias, c.alpha, c.beta);
      expectClose(got, await fromTfjs(want), { atol: 1e-5, rtol: 1e-4 });
    });

    it(`${label}: LRNGrad (the gradient of LRN) matches tfjs's`, async () => {
      const tj = await tfjs();
      const x = randomArray(c.shape, { seed: 2 * c.shape[3]!, min: -2, max: 2 });
      const dy = randomArray(c.shape, { seed: 3 * c.shape[3]!, min: -1, max: 1 });
      const g = new tf.Graph();
      const { dx, feeds } = g.asDefault(() => {
        const { phs, feeds } = fed([x, dy]);
        const y = lrn(phs[0]!, { depthRadius: c.depthRadius, bias: c.bias, alpha: c.alpha, beta: c.beta });
        return { dx: tf.gradients(y, phs[0]!, phs[1]!)[0]!, feeds };
      });
      expect(dx.op.type).toBe('LRNGrad');
      const got = (await run(dx, feeds, g)) as tf.NDArray;
      const shape = c.shape as [number, number, number, number];
      const f = (xx: import('@tensorflow/tfjs-core').Tensor) =>
        tj.sum(tj.mul(tj.localResponseNormalization(xx as import('@tensorflow/tfjs-core').Tensor4D, c.depthRadius, c.bias, c.alpha, c.beta), tj.tensor4d(dy.data as Float32Array, shape)));
      const want = tj.grad(f)(tj.tensor4d(x.data as Float32Array, shape));
      expectClose(got, await fromTfjs(want), { atol: 1e-5, rtol: 1e-4 });
    });
  }

  it('leaves attrs out at their defaults (radius 5, bias 1, alpha 1, beta 0.5), as a GraphDef may', async () => {
    const x = randomArray([1, 1, 2, 9], { seed: 41 });
    const [withDefaults] = await runOp('LRN', [x], { T: 'float32' });
    const [explicit] = await runOp('LRN', [x], { T: 'float32', depth_radius: 5, bias: 1, alpha: 1, beta: 0.5 });
    const [other] = await runOp('LRN', [x], { T: 'float32', depth_radius: 1, bias: 1, alpha: 1, beta: 0.5 });
    expectClose(withDefaults!, explicit!, { atol: 0, rtol: 0 });
    expect(Array.from(other!.data as Float32Array)).not.toEqual(Array.from(explicit!.data as Float32Array));
  });

  it('localResponseNormalization is lrn, and names its op', () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => localResponseNormalization(tf.placeholder('float32', [null, 4, 4, 3]), { name: 'norm1' }));
    expect(y.op.name).toBe('norm1');
    expect(y.op.type).toBe('LRN');
    expect(y.shape).toEqual([null, 4, 4, 3]);
  });

  it('shape errors: rank, dtype, depth_radius, mismatched LRNGrad inputs', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => lrn(tf.placeholder('float32', [2, 3, 4]))).toThrow(/LRN op .*must be rank 4, got shape \[2,3,4\]/);
      expect(() => lrn(tf.placeholder('int32', [1, 2, 2, 3]))).toThrow(/float/);
      expect(() => g.createOp('LRN', [tf.placeholder('float32', [1, 2, 2, 3])], { T: 'float32', depth_radius: -1 })).toThrow(/depth_radius must be a non-negative integer/);
      const a = tf.placeholder('float32', [1, 2, 2, 3]);
      const b = tf.placeholder('float32', [1, 2, 2, 4]);
      expect(() => g.createOp('LRNGrad', [a, a, b], { T: 'float32' })).toThrow(/LRNGrad op .*output_image .*dim 3: 3 vs 4/);
    });
  });

  it('LRNGrad has no gradient (TensorFlow registers none)', () => {
    expect(getOpDef('LRNGrad')!.grad).toBeNull();
  });
});

// ---- fused batch norm: reference ----

interface BnRef {
  y: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
}

/** Per-channel statistics and y by the definitions (channel axis c). */
function batchNormRef(x: tf.NDArray, scale: tf.NDArray, offset: tf.NDArray, c: number, eps: number, stats?: { mean: tf.NDArray; variance: tf.NDArray }): BnRef {
  const shape = x.shape;
  const depth = shape[c]!;
  const inner = shape.slice(c + 1).reduce((a, b) => a * b, 1);
  const chan = (i: number): number => Math.floor(i / inner) % depth;
  const xd = x.data as Float32Array;
  const n = x.size / depth;
  const mean = new Float64Array(depth);
  const variance = new Float64Array(depth);
  if (stats) {
    mean.set(stats.mean.data as Float32Array);
    variance.set(stats.variance.data as Float32Array);
  } else {
    xd.forEach((v, i) => (mean[chan(i)] += v / n));
    xd.forEach((v, i) => (variance[chan(i)] += (v - mean[chan(i)]!) ** 2 / n));
  }
  const s = scale.data as Float32Array;
  const o = offset.data as Float32Array;
  const y = Float64Array.from(xd, (v, i) => ((v - mean[chan(i)]!) / Math.sqrt(variance[chan(i)]! + eps)) * s[chan(i)]! + o[chan(i)]!);
  return { y, mean, variance };
}

const vec = (d: ArrayLike<number>): tf.NDArray => new tf.NDArray(Float32Array.from(d), [d.length]);

const FORMATS = [
  { format: 'NHWC', shape: [2, 3, 2, 4], c: 3 },
  { format: 'NCHW', shape: [2, 3, 2, 4], c: 1 },
];

describe('FusedBatchNorm, V2, V3', () => {
  for (const type of ['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3']) {
    const u: Attrs = type === 'FusedBatchNorm' ? {} : { U: 'float32' };
    for (const { format, shape, c } of FORMATS) {
      it(`${type} ${format} training: y, the batch mean, the Bessel-corrected variance and the reserve spaces`, async () => {
        const depth = shape[c]!;
        const x = randomArray(shape, { seed: 61 + c, min: -2, max: 3 });
        const scale = randomArray([depth], { seed: 62, min: 0.5, max: 2 });
        const offset = randomArray([depth], { seed: 63 });
        const empty = new tf.NDArray(new Float32Array(0), [0]);
        const outs = await runOp(type, [x, scale, offset, empty, empty], { T: 'float32', ...u, epsilon: 0.01, data_format: format, is_training: true });
        const ref = batchNormRef(x, scale, offset, c, 0.01);
        const n = x.size / depth;
        expect(outs.length).toBe(type === 'FusedBatchNormV3' ? 6 : 5);
        expectClose(outs[0]!, ref.y, { atol: 1e-5, shape });
        expectClose(outs[1]!, ref.mean, { atol: 1e-6, shape: [depth] });
        expectClose(outs[2]!, ref.variance.map((v) => (v * n) / (n - 1)), { atol: 1e-5, shape: [depth] });
        expectClose(outs[3]!, ref.mean, { atol: 1e-6 });
        expectClose(outs[4]!, ref.variance, { atol: 1e-5 });
        if (type === 'FusedBatchNormV3') expect(outs[5]!.shape).toEqual([]);
      });

      it(`${type} ${format} inference matches tfjs batchNorm and passes the statistics through`, async () => {
        const tj = await tfjs();
        const depth = shape[c]!;
        const x = randomArray(shape, { seed: 71 + c, min: -2, max: 3 });
        const scale = randomArray([depth], { seed: 72, min: 0.5, max: 2 });
        const offset = randomArray([depth], { seed: 73 });
        const mean = randomArray([depth], { seed: 74 });
        const variance = randomArray([depth], { seed: 75, min: 0.2, max: 2 });
        const outs = await runOp(type, [x, scale, offset, mean, variance], { T: 'float32', ...u, epsilon: 0.001, data_format: format, is_training: false });
        // tfjs normalizes the last axis: NCHW goes through a transpose there and back.
        const perm = format === 'NCHW' ? [0, 2, 3, 1] : [0, 1, 2, 3];
        const back = format === 'NCHW' ? [0, 3, 1, 2] : [0, 1, 2, 3];
        const xt = tj.transpose(tj.tensor(x.data as Float32Array, shape), perm);
        const t1 = (a: tf.NDArray) => tj.tensor1d(a.data as Float32Array);
        const want = tj.transpose(tj.batchNorm(xt, t1(mean), t1(variance), t1(offset), t1(scale), 0.001), back);
        expectClose(outs[0]!, await fromTfjs(want), { atol: 1e-5 });
        expectClose(outs[1]!, mean, { atol: 0, rtol: 0 });
        expectClose(outs[2]!, variance, { atol: 0, rtol: 0 });
      });
    }
  }

  it('exponential_avg_factor blends the running statistics (training)', async () => {
    const x = randomArray([3, 2, 2, 2], { seed: 81, min: -1, max: 2 });
    const scale = vec([1, 2]);
    const offset = vec([0, -1]);
    const old = { mean: vec([0.5, -0.5]), variance: vec([2, 3]) };
    const outs = await runOp('FusedBatchNormV3', [x, scale, offset, old.mean, old.variance], {
      T: 'float32',
      U: 'float32',
      epsilon: 1e-3,
      exponential_avg_factor: 0.25,
      data_format: 'NHWC',
      is_training: true,
    });
    const ref = batchNormRef(x, scale, offset, 3, 1e-3);
    const n = x.size / 2;
    expectClose(outs[0]!, ref.y, { atol: 1e-5 });
    expectClose(outs[1]!, [0, 1].map((k) => 0.75 * [0.5, -0.5][k]! + 0.25 * ref.mean[k]!), { atol: 1e-6 });
    expectClose(outs[2]!, [0, 1].map((k) => 0.75 * [2, 3][k]! + (0.25 * n * ref.variance[k]!) / (n - 1)), { atol: 1e-5 });
  });

  it('an empty batch has NaN statistics in training', async () => {
    const x = new tf.NDArray(new Float32Array(0), [0, 2, 2, 3]);
    const empty = new tf.NDArray(new Float32Array(0), [0]);
    const outs = await runOp('FusedBatchNormV3', [x, vec([1, 1, 1]), vec([0, 0, 0]), empty, empty], { T: 'float32', U: 'float32', is_training: true });
    expect(outs[0]!.shape).toEqual([0, 2, 2, 3]);
    for (const k of [1, 2, 3, 4]) expect(Array.from(outs[k]!.data as Float32Array).every(Number.isNaN)).toBe(true);
  });

  it('reads its attrs at their defaults when a GraphDef leaves them out (epsilon 1e-4, NHWC, training)', async () => {
    const x = randomArray([2, 2, 2, 3], { seed: 91 });
    const scale = vec([1, 1.5, 0.5]);
    const offset = vec([0, 1, 2]);
    const empty = new tf.NDArray(new Float32Array(0), [0]);
    const [y] = await runOp('FusedBatchNorm', [x, scale, offset, empty, empty], { T: 'float32' });
    expectClose(y!, batchNormRef(x, scale, offset, 3, 1e-4).y, { atol: 1e-5 });
  });

  it('tf.nn.fusedBatchNorm: TF 1.15 signature, FusedBatchNormV3, epsilon raised to 1.001e-5, three outputs', async () => {
    const x = randomArray([2, 3, 3, 2], { seed: 101 });
    const scale = vec([1, 2]);
    const offset = vec([0.5, 0]);
    const g = new tf.Graph();
    const { phs, feeds } = g.asDefault(() => fed([x]));
    const [y, m, v] = g.asDefault(() => fusedBatchNorm(phs[0]!, scale, offset, { epsilon: 1e-9, name: 'bn' }));
    expect(y.op.type).toBe('FusedBatchNormV3');
    expect(y.op.name).toBe('bn');
    expect(y.op.getAttr('epsilon')).toBeCloseTo(1.001e-5, 12);
    expect(y.op.getAttr('is_training')).toBe(true);
    const [yv, mv, vv] = (await run([y, m, v], feeds, g)) as tf.NDArray[];
    const ref = batchNormRef(x, scale, offset, 3, 1.001e-5);
    expectClose(yv!, ref.y, { atol: 1e-4 });
    expectClose(mv!, ref.mean, { atol: 1e-6 });
    expectClose(vv!, ref.variance.map((q) => (q * 18) / 17), { atol: 1e-5 });

    const g2 = new tf.Graph();
    const fed2 = g2.asDefault(() => fed([x]));
    const [y2] = g2.asDefault(() => fusedBatchNorm(fed2.phs[0]!, scale, offset, { mean: vec([0, 1]), variance: vec([1, 4]), isTraining: false, dataFormat: 'NHWC' }));
    const got = (await run(y2, fed2.feeds, g2)) as tf.NDArray;
    expectClose(got, batchNormRef(x, scale, offset, 3, 0.001, { mean: vec([0, 1]), variance: vec([1, 4]) }).y, { atol: 1e-5 });
  });

  it('shape errors: rank for the format, channel lengths, data_format, dtype', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 3, 3, 4]);
      const v4 = tf.placeholder('float32', [4]);
      const v3 = tf.placeholder('float32', [3]);
      const attrs = { T: 'float32', U: 'float32', is_training: false };
      expect(() => g.createOp('FusedBatchNormV3', [x, v3, v4, v4, v4], attrs)).toThrow(/FusedBatchNormV3 op .*scale .*channel dimension 3: 4 vs 3/);
      expect(() => g.createOp('FusedBatchNormV3', [x, v4, v4, v4, v3], attrs)).toThrow(/variance .*4 vs 3/);
      expect(() => g.createOp('FusedBatchNormV3', [x, v3, v3, v3, v3], { ...attrs, data_format: 'NCHW' })).not.toThrow();
      expect(() => g.createOp('FusedBatchNormV2', [x, v4, v4, v4, v4], { ...attrs, data_format: 'NDHWC' })).toThrow(/data_format must be one of NHWC, NCHW, got 'NDHWC'/);
      expect(() => g.createOp('FusedBatchNormV3', [x, v4, v4, v4, v4], { ...attrs, data_format: 'NDHWC' })).toThrow(/x .*must be rank 5/);
      expect(() => g.createOp('FusedBatchNorm', [tf.placeholder('float32', [2, 4]), v4, v4, v4, v4], attrs)).toThrow(/must be rank 4/);
      const xi = tf.placeholder('int32', [2, 3, 3, 4]);
      expect(() => g.createOp('FusedBatchNorm', [xi, v4, v4, v4, v4], attrs)).toThrow(/float32/);
      // Training with a factor of 1 does not read mean and variance: they may be empty.
      const e = tf.placeholder('float32', [0]);
      const op = g.createOp('FusedBatchNormV3', [x, v4, v4, e, e], { ...attrs, is_training: true });
      expect(op.outputs.map((t) => t.shape)).toEqual([[2, 3, 3, 4], [4], [4], [4], [4], []]);
      expect(() => g.createOp('FusedBatchNormGradV3', [x, tf.placeholder('float32', [2, 3, 3, 5]), v4, v4, v4, v4], attrs)).toThrow(/x .*shape of y_backprop, dim 3: 4 vs 5/);
    });
  });
});

// ---- gradient ops ----

/** The gradient ops' math by its definition, in float64. */
function batchNormGradRef(dy: tf.NDArray, x: tf.NDArray, scale: tf.NDArray, mean: tf.NDArray, variance: tf.NDArray, c: number, eps: number, training: boolean) {
  const depth = x.shape[c]!;
  const inner = x.shape.slice(c + 1).reduce((a, b) => a * b, 1);
  const chan = (i: number): number => Math.floor(i / inner) % depth;
  const n = x.size / depth;
  const g = dy.data as Float32Array;
  const xd = x.data as Float32Array;
  const m = mean.data as Float32Array;
  const r = Float64Array.from(variance.data as Float32Array, (v) => 1 / Math.sqrt(v + eps));
  const s = scale.data as Float32Array;
  const sumDy = new Float64Array(depth);
  const sumDyXc = new Float64Array(depth);
  g.forEach((v, i) => {
    sumDy[chan(i)] += v;
    sumDyXc[chan(i)] += v * (xd[i]! - m[chan(i)]!);
  });
  const dx = Float64Array.from(g, (v, i) => {
    const k = chan(i);
    if (!training) return v * s[k]! * r[k]!;
    return s[k]! * r[k]! * (v - sumDy[k]! / n - (xd[i]! - m[k]!) * r[k]! * r[k]! * (sumDyXc[k]! / n));
  });
  return { dx, dScale: sumDyXc.map((v, k) => v * r[k]!), dOffset: sumDy };
}

describe('FusedBatchNormGrad, V2, V3', () => {
  for (const type of ['FusedBatchNormGrad', 'FusedBatchNormGradV2', 'FusedBatchNormGradV3']) {
    for (const { format, shape, c } of FORMATS) {
      for (const training of [true, false]) {
        it(`${type} ${format} ${training ? 'training' : 'inference'} matches the definition`, async () => {
          const depth = shape[c]!;
          const dy = randomArray(shape, { seed: 111 + c });
          const x = randomArray(shape, { seed: 112 + c, min: -1, max: 2 });
          const scale = randomArray([depth], { seed: 113, min: 0.5, max: 2 });
          const mean = randomArray([depth], { seed: 114 });
          const variance = randomArray([depth], { seed: 115, min: 0.3, max: 2 });
          const inputs = [dy, x, scale, mean, variance];
          if (type.endsWith('V3')) inputs.push(new tf.NDArray(new Float32Array(1), []));
          const attrs: Attrs = { T: 'float32', epsilon: 0.001, data_format: format, is_training: training };
          if (type !== 'FusedBatchNormGrad') attrs.U = 'float32';
          const outs = await runOp(type, inputs, attrs);
          const ref = batchNormGradRef(dy, x, scale, mean, variance, c, 0.001, training);
          expectClose(outs[0]!, ref.dx, { atol: 1e-5, shape });
          expectClose(outs[1]!, ref.dScale, { atol: 1e-4, shape: [depth] });
          expectClose(outs[2]!, ref.dOffset, { atol: 1e-5, shape: [depth] });
          expect(outs[3]!.shape).toEqual([0]);
          expect(outs[4]!.shape).toEqual([0]);
        });
      }
    }
  }

  it('a batch large enough that each channel is summed in chunks (training, forward and gradient, NHWC and NCHW)', async () => {
    for (const [format, shape, c] of [
      ['NHWC', [3, 40, 41, 2], 3],
      ['NCHW', [3, 2, 40, 41], 1],
    ] as const) {
      const depth = shape[c];
      const x = randomArray([...shape], { seed: 151, min: -1, max: 3 });
      const dy = randomArray([...shape], { seed: 152 });
      const scale = vec([0.5, 2]);
      const offset = vec([1, -1]);
      const empty = new tf.NDArray(new Float32Array(0), [0]);
      const attrs: Attrs = { T: 'float32', U: 'float32', epsilon: 0.001, data_format: format, is_training: true };
      const fwd = await runOp('FusedBatchNormV3', [x, scale, offset, empty, empty], attrs);
      const ref = batchNormRef(x, scale, offset, c, 0.001);
      expectClose(fwd[0]!, ref.y, { atol: 1e-4 });
      expectClose(fwd[3]!, ref.mean, { atol: 1e-5, shape: [depth] });
      expectClose(fwd[4]!, ref.variance, { atol: 1e-4 });
      const grad = await runOp('FusedBatchNormGradV3', [dy, x, scale, fwd[3]!, fwd[4]!, fwd[5]!], attrs);
      const gref = batchNormGradRef(dy, x, scale, fwd[3]!, fwd[4]!, c, 0.001, true);
      expectClose(grad[0]!, gref.dx, { atol: 1e-4 });
      expectClose(grad[1]!, gref.dScale, { atol: 1e-2, rtol: 1e-3 });
      expectClose(grad[2]!, gref.dOffset, { atol: 1e-2, rtol: 1e-3 });
    }
  });

  it("the forward op's gradient is the gradient op of its version, on the saved statistics in training", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 2, 2, 3]);
      const v = tf.placeholder('float32', [3]);
      for (const [type, grad] of [
        ['FusedBatchNorm', 'FusedBatchNormGrad'],
        ['FusedBatchNormV2', 'FusedBatchNormGradV2'],
        ['FusedBatchNormV3', 'FusedBatchNormGradV3'],
      ] as const) {
        for (const training of [true, false]) {
          const attrs: Attrs = { T: 'float32', is_training: training, epsilon: 0.01 };
          if (type !== 'FusedBatchNorm') attrs.U = 'float32';
          const op = g.createOp(type, [x, v, v, v, v], attrs);
          const [dx] = tf.gradients(op.outputs[0]!, [x]);
          expect(dx!.op.type).toBe(grad);
          expect(dx!.op.getAttr('epsilon')).toBeCloseTo(0.01, 7);
          expect(dx!.op.inputs[3]).toBe(training ? op.outputs[3] : v);
        }
      }
    });
  });
});

// ---- GraphDef ----

describe('GraphDef round trip', () => {
  it('LRN, LRNGrad, FusedBatchNormV3 and FusedBatchNormGradV3 keep their attrs and results', async () => {
    const x = randomArray([2, 5, 3, 4], { seed: 121 });
    const g = new tf.Graph();
    const fetches = g.asDefault(() => {
      const xt = tf.placeholder('float32', [2, 5, 3, 4], 'x');
      const y = lrn(xt, { depthRadius: 2, bias: 1.5, alpha: 0.2, beta: 0.6, name: 'lrn' });
      const [bn, m, v] = fusedBatchNorm(y, vec([1, 2, 3, 4, 5]), vec([0, 0, 1, 1, 2]), { epsilon: 0.01, dataFormat: 'NCHW', name: 'bn' });
      const loss = tf.reduceSum(tf.multiply(bn, bn));
      const [dx] = tf.gradients(loss, xt);
      return [bn, m!, v!, dx!];
    });
    const want = (await run(fetches, new Map([[g.getTensorByName('x:0'), x]]), g)) as tf.NDArray[];
    const gd = g.toGraphDef();
    const lrnNode = gd.node!.find((n) => n.name === 'lrn')!;
    expect(lrnNode.attr!.depth_radius!.i).toBe(2);
    const g2 = new tf.Graph();
    const got = g2.asDefault(() => tf.importGraphDef(gd, { name: '', returnElements: [...fetches.map((t) => t.name), 'x:0'] })) as tf.Tensor[];
    const bnOp = g2.getOperationByName('bn');
    expect(bnOp.getAttr('data_format')).toBe('NCHW');
    expect(bnOp.getAttr('epsilon')).toBeCloseTo(0.01, 7);
    expect(g2.getOperationByName('lrn').getAttr('beta')).toBeCloseTo(0.6, 6);
    expect(g2.getOperations().some((o) => o.type === 'FusedBatchNormGradV3')).toBe(true);
    expect(g2.getOperations().some((o) => o.type === 'LRNGrad')).toBe(true);
    const again = (await run(got.slice(0, 4), new Map([[got[4]!, x]]), g2)) as tf.NDArray[];
    again.forEach((a, i) => expectClose(a, want[i]!, { atol: 0, rtol: 0 }));
  });
});
