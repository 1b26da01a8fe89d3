import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as image from '../src/api/image.js';
import { graphToGraphDef } from '../src/io/graph_def.js';
import { expectClose, fromTfjs, randomArray, rng, run, tfjs } from './helpers.js';

type Tfjs = Awaited<ReturnType<typeof tfjs>>;

/** The elements of an int or float array as numbers. */
const ints = (a: tf.NDArray): number[] => Array.from(a.data as Int32Array);
const dot = (a: tf.NDArray, b: tf.NDArray): number => (a.data as Float32Array).reduce((s, v, i) => s + v * (b.data as Float32Array)[i]!, 0);

let gradientsRegistered: Promise<unknown> | undefined;
/** tfjs with its gradient functions registered (tf.grad needs them). */
async function oracle(): Promise<Tfjs> {
  const t = await tfjs();
  gradientsRegistered ??= import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await gradientsRegistered;
  return t;
}

/** Runs outputs built from placeholders holding `values` in a fresh graph. */
async function runWith(values: tf.NDArray[], make: (...xs: tf.Tensor[]) => tf.Tensor[]): Promise<tf.NDArray[]> {
  const { outs, phs } = new tf.Graph().asDefault(() => {
    const phs = values.map((v, i) => tf.placeholder(v.dtype, v.shape, `x${i}`));
    return { outs: make(...phs), phs };
  });
  return (await run(outs, phs.map((p, i) => [p, values[i]!] as const))) as tf.NDArray[];
}

function t4(t: Tfjs, a: tf.NDArray) {
  return t.tensor4d(Float32Array.from(a.data as ArrayLike<number>), a.shape as [number, number, number, number], a.dtype === 'int32' ? 'int32' : 'float32');
}

const MODES = [
  { alignCorners: false, halfPixelCenters: false },
  { alignCorners: true, halfPixelCenters: false },
  { alignCorners: false, halfPixelCenters: true },
];
const SIZES: [number, number][] = [
  [7, 5],
  [2, 3],
  [1, 1],
  [4, 9],
];

describe('ResizeBilinear / ResizeNearestNeighbor', () => {
  for (const mode of MODES) {
    for (const size of SIZES) {
      it(`bilinear and nearest ${JSON.stringify(mode)} to ${size} match tfjs`, async () => {
        const t = await tfjs();
        const x = randomArray([2, 4, 3, 2], { seed: size[0] * 7 + size[1] });
        const [bl, nn] = await runWith([x], (xi) => [image.resizeBilinear(xi!, size, mode), image.resizeNearestNeighbor(xi!, size, mode)]);
        expectClose(bl!, await fromTfjs(t.image.resizeBilinear(t4(t, x), size, mode.alignCorners, mode.halfPixelCenters)), { atol: 1e-5 });
        expectClose(nn!, await fromTfjs(t.image.resizeNearestNeighbor(t4(t, x), size, mode.alignCorners, mode.halfPixelCenters)), { atol: 0, rtol: 0 });
      });
    }
  }

  it('takes int32 images: bilinear gives float32, nearest keeps int32', async () => {
    const t = await tfjs();
    const x = randomArray([1, 3, 4, 1], { seed: 3, min: -50, max: 50, dtype: 'int32' });
    const [bl, nn] = await runWith([x], (xi) => [image.resizeBilinear(xi!, [5, 6]), image.resizeNearestNeighbor(xi!, [5, 6], { halfPixelCenters: true })]);
    expect(bl!.dtype).toBe('float32');
    expect(nn!.dtype).toBe('int32');
    expectClose(bl!, await fromTfjs(t.image.resizeBilinear(t4(t, x), [5, 6])), { atol: 1e-4 });
    expectClose(nn!, await fromTfjs(t.image.resizeNearestNeighbor(t4(t, x), [5, 6], false, true)), { atol: 0, rtol: 0 });
  });

  // tfjs's gradient kernels ignore halfPixelCenters: that mode is checked as an adjoint below.
  for (const mode of MODES.filter((m) => !m.halfPixelCenters)) {
    it(`gradients ${JSON.stringify(mode)} match tfjs`, async () => {
      const t = await oracle();
      // One square image: tfjs's resize gradients swap height and width otherwise, and mix up the
      // images of a batch (finite differences check batches: test/gradcases/image.ts).
      const x = randomArray([1, 5, 5, 3], { seed: 11 });
      for (const size of [[8, 7], [3, 2]] as [number, number][]) {
        const r = randomArray([1, ...size, 3], { seed: 12 });
        const [gb, gn] = await runWith([x, r], (xi, ri) => [
          tf.gradients(tf.reduceSum(tf.multiply(image.resizeBilinear(xi!, size, mode), ri!)), xi!)[0]!,
          tf.gradients(tf.reduceSum(tf.multiply(image.resizeNearestNeighbor(xi!, size, mode), ri!)), xi!)[0]!,
        ]);
        const rt = t4(t, r);
        const wantB = t.grad((xt) => t.sum(t.mul(t.image.resizeBilinear(xt as ReturnType<Tfjs['tensor4d']>, size, mode.alignCorners, mode.halfPixelCenters), rt)))(t4(t, x));
        const wantN = t.grad((xt) => t.sum(t.mul(t.image.resizeNearestNeighbor(xt as ReturnType<Tfjs['tensor4d']>, size, mode.alignCorners, mode.halfPixelCenters), rt)))(t4(t, x));
        expectClose(gb!, await fromTfjs(wantB), { atol: 1e-4 });
        expectClose(gn!, await fromTfjs(wantN), { atol: 1e-4 });
      }
    });
  }

  it('gradients with half-pixel centers are the adjoints of the resizes: <g, resize(x)> = <grad(g), x>', async () => {
    const mode = { halfPixelCenters: true };
    const x = randomArray([2, 5, 4, 3], { seed: 13 });
    for (const size of [[8, 7], [3, 2]] as [number, number][]) {
      const g = randomArray([2, ...size, 3], { seed: 14 });
      const [yb, gb, yn, gn] = await runWith([x, g], (xi, gi) => {
        const b = image.resizeBilinear(xi!, size, mode);
        const n = image.resizeNearestNeighbor(xi!, size, mode);
        return [b, tf.gradients(b, xi!, gi!)[0]!, n, tf.gradients(n, xi!, gi!)[0]!];
      });
      expect(dot(g, yb!)).toBeCloseTo(dot(gb!, x), 3);
      expect(dot(g, yn!)).toBeCloseTo(dot(gn!, x), 3);
    }
  });

  it('a size fed at run time gives a size known only then', async () => {
    const x = randomArray([1, 2, 2, 1], { seed: 5 });
    const size = new tf.NDArray(Int32Array.from([3, 5]), [2]);
    const [y] = await runWith([x, size], (xi, si) => {
      const r = image.resizeBilinear(xi!, si!);
      expect(r.shape).toEqual([1, null, null, 1]);
      return [r];
    });
    expect(y!.shape).toEqual([1, 3, 5, 1]);
  });

  it('tf.image.resizeImages: 3-D images, methods, unchanged when already that size', async () => {
    const t = await tfjs();
    const x = randomArray([4, 3, 2], { seed: 21 });
    const [a, b, c] = await runWith([x], (xi) => [
      image.resizeImages(xi!, [6, 5]),
      image.resizeImages(xi!, [6, 5], { method: image.ResizeMethod.NEAREST_NEIGHBOR, alignCorners: true }),
      image.resizeImages(xi!, [4, 3]),
    ]);
    const x3 = t.tensor3d(x.data as Float32Array, [4, 3, 2]);
    expectClose(a!, await fromTfjs(t.image.resizeBilinear(x3, [6, 5])));
    expectClose(b!, await fromTfjs(t.image.resizeNearestNeighbor(x3, [6, 5], true)));
    expectClose(c!, x);
    expect(() => new tf.Graph().asDefault(() => image.resizeImages(tf.placeholder('float32', [4, 3, 2]), [2, 2], { method: image.ResizeMethod.AREA }))).toThrow(/not implemented/);
  });

  it('shape function errors name the op', () => {
    new tf.Graph().asDefault(() => {
      expect(() => image.resizeBilinear(tf.placeholder('float32', [4, 3, 2]), [2, 2])).toThrow(/ResizeBilinear.*images .* must be 4-D/);
      expect(() => image.resizeNearestNeighbor(tf.placeholder('float32', [1, 4, 3, 2]), tf.placeholder('int32', [3]))).toThrow(/size .* must have 2 elements/);
      expect(() => image.resizeBilinear(tf.placeholder('float32', [1, 4, 3, 2]), [2, 2], { alignCorners: true, halfPixelCenters: true })).toThrow(
        /align_corners must be false/,
      );
      expect(() => image.resizeBilinear(tf.placeholder('bool', [1, 4, 3, 2]), [2, 2])).toThrow(/images .* has dtype bool/);
    });
  });

  it('run-time errors: non-positive size', async () => {
    const x = randomArray([1, 2, 2, 1], { seed: 5 });
    await expect(runWith([x, new tf.NDArray(Int32Array.from([0, 2]), [2])], (xi, si) => [image.resizeBilinear(xi!, si!)])).rejects.toThrow(
      /ResizeBilinear.*output dimensions must be positive/,
    );
  });
});

/**
 * Boxes inside, partly outside, flipped and degenerate (a point), for crop tests. No sampling point
 * falls within float rounding of a half pixel: TF computes coordinates in float32, tfjs in float64.
 */
const BOXES = new tf.NDArray(Float32Array.from([0.1, 0.23, 0.82, 0.91, -0.3, 0.12, 0.62, 1.4, 0.93, 0.72, 0.2, 0.13, 0.5, 0.5, 0.5, 0.5]), [4, 4]);
const BOX_IND = new tf.NDArray(Int32Array.from([0, 1, 1, 0]), [4]);

describe('CropAndResize', () => {
  for (const method of ['bilinear', 'nearest'] as const) {
    for (const crop of [[3, 4], [1, 1], [5, 2]] as [number, number][]) {
      it(`${method} to ${crop} with extrapolation matches tfjs`, async () => {
        const t = await tfjs();
        const x = randomArray([2, 5, 6, 3], { seed: 31 });
        const [y] = await runWith([x, BOXES, BOX_IND], (xi, b, bi) => [image.cropAndResize(xi!, b!, bi!, crop, { method, extrapolationValue: -2 })]);
        const want = t.image.cropAndResize(t4(t, x), t.tensor2d(BOXES.data as Float32Array, [4, 4]), t.tensor1d(BOX_IND.data as Int32Array, 'int32'), crop, method, -2);
        expectClose(y!, await fromTfjs(want), { atol: 1e-5 });
      });
    }
  }

  it('the image gradient is the adjoint of the crop: <g, crop(x)> = <gradImage(g), x>', async () => {
    for (const method of ['bilinear', 'nearest'] as const) {
      const x = randomArray([2, 5, 6, 3], { seed: 41 });
      const g = randomArray([4, 3, 4, 3], { seed: 42 });
      const [y, gx] = await runWith([x, BOXES, BOX_IND, g], (xi, b, bi, gi) => {
        const c = image.cropAndResize(xi!, b!, bi!, [3, 4], { method });
        return [c, tf.gradients(c, xi!, gi!)[0]!];
      });
      expect(dot(g, y!)).toBeCloseTo(dot(gx!, x), 3);
      expect(gx!.shape).toEqual(x.shape);
    }
  });

  it('rejects box indices outside the batch, at run time, naming the op', async () => {
    const x = randomArray([2, 5, 6, 3], { seed: 31 });
    const bad = new tf.NDArray(Int32Array.from([0, 2, 1, 0]), [4]);
    const err = await runWith([x, BOXES, bad], (xi, b, bi) => [image.cropAndResize(xi!, b!, bi!, [2, 2])]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect((err as Error).message).toMatch(/box_index has values outside \[0, batch_size\)/);
    expect((err as tf.errors.OpError).opName).toBe('CropAndResize');
  });

  it('shape function errors', () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder('float32', [2, 5, 6, 3]);
      expect(() => image.cropAndResize(x, tf.placeholder('float32', [4, 3]), tf.placeholder('int32', [4]), [2, 2])).toThrow(/boxes .* must have 4 columns/);
      expect(() => image.cropAndResize(x, tf.placeholder('float32', [4, 4]), tf.placeholder('int32', [3]), [2, 2])).toThrow(/same number of boxes: 4 vs 3/);
      expect(() => image.cropAndResize(x, tf.placeholder('float32', [4, 4]), tf.placeholder('int32', [4]), [2, 2], { method: 'bicubic' as 'nearest' })).toThrow(/method must be one of/);
    });
  });
});

/** Random boxes [n, 4] (corners in either order) and scores, with overlaps. */
function nmsData(n: number, seed: number): { boxes: tf.NDArray; scores: tf.NDArray } {
  const r = rng(seed);
  const b = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const [y, x, h, w] = [r() * 8, r() * 8, 1 + r() * 3, 1 + r() * 3];
    b.set(r() < 0.3 ? [y + h, x + w, y, x] : [y, x, y + h, x + w], i * 4);
  }
  return { boxes: new tf.NDArray(b, [n, 4]), scores: new tf.NDArray(Float32Array.from({ length: n }, () => r()), [n]) };
}

describe('NonMaxSuppression V2-V5', () => {
  for (const [iou, scoreThr, maxOut] of [
    [0.5, -Infinity, 10],
    [0.3, 0.4, 6],
    [0.05, 0.2, 40],
    [1.0, -Infinity, 3],
  ] as const) {
    it(`V3 and V4 (iou ${iou}, score ${scoreThr}, max ${maxOut}) match tfjs; the count is known only at run time`, async () => {
      const t = await tfjs();
      const { boxes, scores } = nmsData(30, 7 + maxOut);
      const [v3, v4, v4valid, v4pad, v4padValid] = await runWith([boxes, scores], (b, s) => {
        const sel = image.nonMaxSuppression(b!, s!, maxOut, { iouThreshold: iou, scoreThreshold: scoreThr });
        expect(sel.shape).toEqual([null]);
        const [i4, n4] = image.nonMaxSuppressionPadded(b!, s!, maxOut, { iouThreshold: iou, scoreThreshold: scoreThr });
        const [p4, pn4] = image.nonMaxSuppressionPadded(b!, s!, maxOut, { iouThreshold: iou, scoreThreshold: scoreThr, padToMaxOutputSize: true });
        expect(p4.shape).toEqual([maxOut]);
        return [sel, i4, n4, p4, pn4];
      });
      const tb = t.tensor2d(boxes.data as Float32Array, [30, 4]);
      const ts = t.tensor1d(scores.data as Float32Array);
      const want = await fromTfjs(t.image.nonMaxSuppression(tb, ts, maxOut, iou, scoreThr));
      expect(ints(v3!)).toEqual(ints(want));
      expect(ints(v4!)).toEqual(ints(want));
      expect(Number(v4valid!.data[0])).toBe(want.size);
      // Padded with zeros to max_output_size (TF; tfjs pads only to the number of boxes).
      expect(ints(v4pad!)).toEqual([...ints(want), ...new Array<number>(maxOut - want.size).fill(0)]);
      expect(Number(v4padValid!.data[0])).toBe(want.size);
    });
  }

  // tfjs drops a soft-NMS candidate whose IoU reaches the threshold; TensorFlow only decays it. With
  // threshold 1 (no two boxes here coincide) both agree.
  for (const [sigma, iou] of [
    [0, 0.4],
    [0.5, 1],
    [0.9, 1],
  ] as const) {
    it(`V5 soft-NMS sigma ${sigma} matches tfjs (indices and decayed scores)`, async () => {
      const t = await tfjs();
      const { boxes, scores } = nmsData(25, 100 + sigma * 10);
      const [idx, sc] = await runWith([boxes, scores], (b, s) => image.nonMaxSuppressionWithScores(b!, s!, 12, { iouThreshold: iou, scoreThreshold: 0.1, softNmsSigma: sigma }));
      const want = t.image.nonMaxSuppressionWithScore(t.tensor2d(boxes.data as Float32Array, [25, 4]), t.tensor1d(scores.data as Float32Array), 12, iou, 0.1, sigma);
      expect(ints(idx!)).toEqual(Array.from(await want.selectedIndices.data()));
      expectClose(sc!, await fromTfjs(want.selectedScores), { atol: 1e-6 });
    });
  }

  it("TensorFlow's rules where tfjs differs: IoU equal to the threshold keeps a box; soft-NMS decays past the threshold", async () => {
    // Box 1 touches box 0 (IoU 0); box 2 overlaps box 0 with IoU 1/3.
    const boxes = new tf.NDArray(Float32Array.from([0, 0, 2, 2, 0, 2, 2, 4, 0, 1, 2, 3]), [3, 4]);
    const scores = new tf.NDArray(Float32Array.from([0.9, 0.8, 0.7]), [3]);
    const [hard, softIdx, softScores] = await runWith([boxes, scores], (b, s) => [
      image.nonMaxSuppression(b!, s!, 3, { iouThreshold: 0 }),
      ...image.nonMaxSuppressionWithScores(b!, s!, 3, { iouThreshold: 0.2, softNmsSigma: 0.5 }),
    ]);
    expect(ints(hard!)).toEqual([0, 1]);
    // Box 2 has IoU 1/3 with box 0 and with box 1: exp(-(1/3)^2 / (2 * 0.5)) twice.
    expect(ints(softIdx!)).toEqual([0, 1, 2]);
    expectClose(softScores!, [0.9, 0.8, 0.7 * Math.exp(-1 / 9) ** 2], { atol: 1e-6 });
  });

  it('V2 (no score threshold) and a result feeding later ops (gather, sum)', async () => {
    const t = await tfjs();
    const { boxes, scores } = nmsData(20, 55);
    const [sel, picked, total, chain] = await runWith([boxes, scores], (b, s) => {
      const op = tf.getDefaultGraph().createOp('NonMaxSuppressionV2', [b!, s!, tf.constant(8, 'int32'), tf.constant(0.45)], { T: 'float32', T_threshold: 'float32' });
      const i = op.outputs[0]!;
      const g = tf.gather(b!, i);
      // An elementwise chain (a fusion candidate) over a length known only at run time.
      const c = tf.tanh(tf.add(tf.multiply(tf.cast(i, 'float32'), 0.1), tf.gather(s!, i)));
      return [i, g, tf.reduceSum(tf.multiply(g, 2)), c];
    });
    const want = await fromTfjs(t.image.nonMaxSuppression(t.tensor2d(boxes.data as Float32Array, [20, 4]), t.tensor1d(scores.data as Float32Array), 8, 0.45));
    expect(ints(sel!)).toEqual(ints(want));
    expect(picked!.shape).toEqual([want.size, 4]);
    const bd = boxes.data as Float32Array;
    let sum = 0;
    for (const k of want.data as Int32Array) for (let j = 0; j < 4; j++) sum += 2 * bd[k * 4 + j]!;
    expectClose(total!, sum, { atol: 1e-4 });
    const sd = scores.data as Float32Array;
    expectClose(chain!, Array.from(want.data as Int32Array, (k) => Math.tanh(k * 0.1 + sd[k]!)), { atol: 1e-5 });
  });

  it('a run whose selection changes size reuses the plan', async () => {
    const g = new tf.Graph();
    const { b, s, sel } = g.asDefault(() => {
      const b = tf.placeholder('float32', [6, 4]);
      const s = tf.placeholder('float32', [6]);
      return { b, s, sel: tf.add(image.nonMaxSuppression(b, s, 6, { scoreThreshold: 0.5 }), 0) };
    });
    const sess = new tf.Session({ graph: g });
    const boxes = new tf.NDArray(Float32Array.from({ length: 24 }, (_, i) => Math.floor(i / 4) * 10 + (i % 4 >= 2 ? 1 : 0)), [6, 4]);
    const a = (await sess.run(sel, [[b, boxes], [s, new tf.NDArray(Float32Array.from([0.9, 0.1, 0.8, 0.2, 0.7, 0.3]), [6])]])) as tf.NDArray;
    const c = (await sess.run(sel, [[b, boxes], [s, new tf.NDArray(Float32Array.from([0.9, 0.6, 0.8, 0.2, 0.1, 0.3]), [6])]])) as tf.NDArray;
    sess.close();
    expect(ints(a)).toEqual([0, 2, 4]);
    expect(ints(c)).toEqual([0, 2, 1]);
  });

  it('errors: bad iou threshold at run time, bad shapes at build time', async () => {
    const { boxes, scores } = nmsData(5, 1);
    await expect(runWith([boxes, scores], (b, s) => [image.nonMaxSuppression(b!, s!, 3, { iouThreshold: 1.5 })])).rejects.toThrow(/NonMaxSuppressionV3.*iou_threshold must be in \[0, 1\]/);
    new tf.Graph().asDefault(() => {
      expect(() => image.nonMaxSuppression(tf.placeholder('float32', [5, 4]), tf.placeholder('float32', [4]), 3)).toThrow(/same number of boxes: 5 vs 4/);
      expect(() => image.nonMaxSuppression(tf.placeholder('float32', [5, 3]), tf.placeholder('float32', [5]), 3)).toThrow(/boxes .* must have 4 columns/);
      expect(() => image.nonMaxSuppression(tf.placeholder('float32', [5, 4]), tf.placeholder('float32', [5]), tf.placeholder('int32', [1]))).toThrow(/max_output_size .* must be a scalar/);
    });
  });
});

describe('ImageProjectiveTransformV2 / V3', () => {
  const T = new tf.NDArray(Float32Array.from([0.9, -0.3, 1.2, 0.25, 1.1, -0.7, 0.02, -0.01, 1, 0, -1.4, 0, 1, 2.2, 0, 0]), [2, 8]);
  for (const interpolation of ['NEAREST', 'BILINEAR'] as const) {
    for (const fillMode of ['CONSTANT', 'REFLECT', 'WRAP', 'NEAREST'] as const) {
      it(`${interpolation} ${fillMode} matches tfjs`, async () => {
        const t = await tfjs();
        const x = randomArray([2, 5, 6, 2], { seed: 61 });
        const [v2, v3] = await runWith([x, T], (xi, ti) => [
          image.transform(xi!, ti!, { interpolation, fillMode, outputShape: [7, 4] }),
          image.transform(xi!, ti!, { interpolation, fillMode, fillValue: 2.5 }),
        ]);
        const mode = fillMode.toLowerCase() as 'constant';
        const interp = interpolation.toLowerCase() as 'nearest';
        // tfjs's CPU kernel computes only the first image of a batch: one image per call.
        const perImage = async (opts: { fill: number; out?: [number, number] }): Promise<number[]> => {
          const parts: number[] = [];
          for (let b = 0; b < 2; b++) {
            const xb = t.tensor4d((x.data as Float32Array).slice(b * 60, b * 60 + 60), [1, 5, 6, 2]);
            const tb = t.tensor2d((T.data as Float32Array).slice(b * 8, b * 8 + 8), [1, 8]);
            parts.push(...(await t.image.transform(xb, tb, interp, mode, opts.fill, opts.out).data()));
          }
          return parts;
        };
        expectClose(v2!, await perImage({ fill: 0, out: [7, 4] }), { atol: 1e-4, shape: [2, 7, 4, 2] });
        expectClose(v3!, await perImage({ fill: 2.5 }), { atol: 1e-4, shape: [2, 5, 6, 2] });
      });
    }
  }

  it('int32 images give int32 results: the float result truncated', async () => {
    const xi = randomArray([2, 5, 6, 2], { seed: 63, min: -40, max: 40, dtype: 'int32' });
    const xf = new tf.NDArray(Float32Array.from(xi.data as Int32Array), xi.shape);
    for (const interpolation of ['NEAREST', 'BILINEAR'] as const) {
      const [yi, yf] = await runWith([xi, xf, T], (a, b, ti) => [
        image.transform(a!, ti!, { interpolation, fillMode: 'REFLECT' }),
        image.transform(b!, ti!, { interpolation, fillMode: 'REFLECT' }),
      ]);
      expect(yi!.dtype).toBe('int32');
      expect(ints(yi!)).toEqual(Array.from(yf!.data as Float32Array, (v) => Math.trunc(v) + 0));
    }
  });

  it('one transform row serves every image; 3-D images', async () => {
    const t = await tfjs();
    const x = randomArray([4, 5, 3], { seed: 62 });
    const row = [1.1, 0.2, -0.4, -0.1, 0.9, 0.6, 0, 0];
    const [y] = await runWith([x], (xi) => [image.transform(xi!, row, { interpolation: 'BILINEAR' })]);
    const want = t.image.transform(t.tensor4d(x.data as Float32Array, [1, 4, 5, 3]), t.tensor2d(row, [1, 8]), 'bilinear');
    expectClose(y!, (await fromTfjs(want)).data as Float32Array, { atol: 1e-5, shape: [4, 5, 3] });
  });

  it('shape function errors', () => {
    new tf.Graph().asDefault(() => {
      expect(() => image.transform(tf.placeholder('float32', [2, 4, 4, 1]), tf.placeholder('float32', [3, 8]))).toThrow(/1 row or one per image \(2\), got 3/);
      expect(() => image.transform(tf.placeholder('float32', [2, 4, 4, 1]), tf.placeholder('float32', [2, 7]))).toThrow(/must have 8 columns/);
      expect(() => image.transform(tf.placeholder('float32', [2, 4, 4, 1]), tf.placeholder('float32', [2, 8]), { fillMode: 'MIRROR' as 'WRAP' })).toThrow(/fill_mode must be one of/);
    });
  });
});

describe('image ops in a GraphDef', () => {
  it('export and re-import keep attrs and values', async () => {
    const g1 = new tf.Graph();
    const x = randomArray([2, 5, 6, 3], { seed: 71 });
    const { boxes, scores } = nmsData(12, 72);
    const names = g1.asDefault(() => {
      const xi = tf.placeholder('float32', [2, 5, 6, 3], 'x');
      const b = tf.placeholder('float32', [12, 4], 'b');
      const s = tf.placeholder('float32', [12], 's');
      const outs = [
        image.resizeBilinear(xi, [4, 9], { halfPixelCenters: true }),
        image.resizeNearestNeighbor(xi, [3, 3], { alignCorners: true }),
        image.cropAndResize(xi, BOXES, BOX_IND, [2, 3], { method: 'nearest', extrapolationValue: 7 }),
        image.transform(xi, [1, 0.1, 0.5, 0, 1, -1, 0, 0], { interpolation: 'BILINEAR', fillMode: 'WRAP', fillValue: 3 }),
        image.nonMaxSuppressionWithScores(b, s, 5, { softNmsSigma: 0.5, padToMaxOutputSize: true })[1],
        image.nonMaxSuppressionPadded(b, s, 6, { iouThreshold: 0.3, padToMaxOutputSize: true })[0],
      ];
      return outs.map((o) => o.name);
    });
    const feeds = (g: tf.Graph, prefix: string): [tf.Tensor, tf.NDArray][] => [
      [g.getTensorByName(`${prefix}x:0`), x],
      [g.getTensorByName(`${prefix}b:0`), boxes],
      [g.getTensorByName(`${prefix}s:0`), scores],
    ];
    const want = await run(names.map((n) => g1.getTensorByName(n)), feeds(g1, ''), g1);
    const g2 = new tf.Graph();
    g2.asDefault(() => tf.importGraphDef(graphToGraphDef(g1)));
    const got = await run(names.map((n) => g2.getTensorByName(`import/${n}`)), feeds(g2, 'import/'), g2);
    got.forEach((v, i) => expectClose(v, want[i]!, { atol: 0, rtol: 0 }));
    const attrs = g2.getOperationByName(`import/${names[0]!.split(':')[0]}`).attrs;
    expect(attrs.half_pixel_centers).toBe(true);
  });
});
