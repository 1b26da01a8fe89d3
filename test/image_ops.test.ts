// tf.image's utilities (issue 19) against naive code written here from TF 1.15's documented
// semantics (tensorflow/python/ops/image_ops_impl.py), and against TensorFlow.js where it has the
// function (flipLeftRight, rgbToGrayscale, grayscaleToRgb); gradients by finite differences.
import { encode as fastPngEncode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as ops from '../src/api/image_ops.js';
import { decodePng } from '../src/api/image_io.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { checkGradients } from './gradcheck.js';
import { expectClose, fromTfjs, randomArray, rng, run, tfjs } from './helpers.js';

/** Runs outputs built from placeholders (of the values' shapes, or `shapes` where given) fed with `values`. */
async function runWith(values: tf.NDArray[], make: (...xs: tf.Tensor[]) => tf.Tensor[], shapes?: (number | null)[][]): Promise<tf.NDArray[]> {
  const { outs, phs } = new tf.Graph().asDefault(() => {
    const phs = values.map((v, i) => tf.placeholder(v.dtype, shapes?.[i] ?? v.shape, `x${i}`));
    return { outs: make(...phs), phs };
  });
  return (await run(outs, phs.map((p, i) => [p, values[i]!] as const))) as tf.NDArray[];
}

const nums = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number>);
const intImage = (shape: number[], max: number, seed: number): tf.NDArray => {
  const r = rng(seed);
  return new tf.NDArray(Int32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(r() * (max + 1))), shape, 'int32');
};

/** A naive image: values at [b, y, x, c] of a 4-D shape (3-D images get b = 0 of a batch of one). */
class Naive {
  readonly b: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  constructor(
    readonly data: number[],
    readonly shape: number[],
  ) {
    const s = shape.length === 3 ? [1, ...shape] : shape;
    [this.b, this.h, this.w, this.c] = s as [number, number, number, number];
  }
  static of(a: tf.NDArray): Naive {
    return new Naive(nums(a), a.shape);
  }
  at(b: number, y: number, x: number, c: number): number {
    return this.data[((b * this.h + y) * this.w + x) * this.c + c]!;
  }
  /** A new image of the same batch and rank: [h, w, c] from f(b, y, x, c). */
  static build(batched: boolean, b: number, h: number, w: number, c: number, f: (b: number, y: number, x: number, c: number) => number): number[] {
    const out: number[] = [];
    for (let i = 0; i < b; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out.push(f(i, y, x, k));
    void batched;
    return out;
  }
}

const shapeOf = (batched: boolean, b: number, h: number, w: number, c: number): number[] => (batched ? [b, h, w, c] : [h, w, c]);

describe('convertImageDtype', () => {
  // TF 1.15's rules, written out: integers rescale by powers of two, floats by max (+ 0.5 going to integers).
  const MAX = { uint8: 255, uint16: 65535, int32: 2 ** 31 - 1 } as const;
  type IntT = keyof typeof MAX;
  function refConvert(v: number, from: IntT | 'float32', to: IntT | 'float32', saturate: boolean): number {
    if (from === to) return v;
    if (from !== 'float32' && to !== 'float32') {
      const [a, b] = [MAX[from] + 1, MAX[to] + 1];
      if (a > b) {
        const q = Math.floor(v / (a / b));
        if (saturate) return Math.min(Math.max(q, to === 'int32' ? -(2 ** 31) : 0), MAX[to]);
        return to === 'int32' ? q : ((q % b) + b) % b;
      }
      return v * (b / a);
    }
    if (from !== 'float32') return Math.fround(Math.fround(v) * Math.fround(1 / MAX[from]));
    const scaled = Math.fround(v * Math.fround(MAX[to as IntT] + 0.5));
    if (saturate) return Math.trunc(Math.min(Math.max(scaled, 0), MAX[to as IntT]));
    const t = Math.trunc(scaled);
    return to === 'int32' ? t : ((t % (MAX[to as IntT] + 1)) + MAX[to as IntT] + 1) % (MAX[to as IntT] + 1);
  }

  const cases: [IntT | 'float32', IntT | 'float32', number[]][] = [
    ['uint8', 'float32', [0, 1, 128, 255]],
    ['uint16', 'float32', [0, 300, 65535]],
    ['int32', 'float32', [0, 2 ** 30, 2 ** 31 - 1]],
    ['float32', 'uint8', [0, 0.25, 0.5, 1, 1.5, -0.2]],
    ['float32', 'uint16', [0, 0.5, 1, 1.2]],
    ['uint8', 'uint16', [0, 1, 255]],
    ['uint16', 'uint8', [0, 255, 256, 65535]],
    ['uint8', 'int32', [0, 7, 255]],
    ['int32', 'uint8', [0, 2 ** 23, 2 ** 31 - 1, -(2 ** 24)]],
  ];
  for (const saturate of [false, true]) {
    for (const [from, to, values] of cases) {
      it(`${from} -> ${to}${saturate ? ', saturating' : ''}`, async () => {
        const dt = from === 'float32' ? 'float32' : 'int32';
        const input = dt === 'float32' ? new tf.NDArray(Float32Array.from(values), [values.length]) : new tf.NDArray(Int32Array.from(values), [values.length], 'int32');
        const [out] = await runWith([input], (x) => [ops.convertImageDtype(x, to, { saturate, imageDType: from })]);
        expect(out!.dtype).toBe(to === 'float32' ? 'float32' : 'int32');
        expectClose(out!, nums(input).map((v) => refConvert(v, from, to, saturate)), { atol: 0, rtol: 1e-6 });
      });
    }
  }

  it('reads a decoded int32 image as uint8 (or uint16), a plain int32 one as int32', async () => {
    const px = Uint8Array.from([0, 51, 255, 128]);
    const png = fastPngEncode({ width: 2, height: 2, data: px, channels: 1, depth: 8 });
    const png16 = fastPngEncode({ width: 2, height: 2, data: Uint16Array.from([0, 51, 65535, 128]), channels: 1, depth: 16 });
    const { outs, ph, ph16, plain } = new tf.Graph().asDefault(() => {
      const ph = tf.placeholder('string', []);
      const ph16 = tf.placeholder('string', []);
      const plain = tf.placeholder('int32', [4]);
      const outs = [
        ops.convertImageDtype(decodePng(ph), 'float32'),
        ops.convertImageDtype(decodePng(ph16, { dtype: 'uint16' }), 'float32'),
        ops.convertImageDtype(plain, 'float32'),
        ops.convertImageDtype(decodePng(ph), 'uint8'),
      ];
      return { outs, ph, ph16, plain };
    });
    const [f, f16, fPlain, same] = (await run(outs, [
      [ph, new tf.NDArray([png], [], 'string')],
      [ph16, new tf.NDArray([png16], [], 'string')],
      [plain, new tf.NDArray(Int32Array.from(px), [4], 'int32')],
    ])) as tf.NDArray[];
    expectClose(f!, Array.from(px, (v) => v / 255), { shape: [2, 2, 1] });
    expectClose(f16!, [0, 51, 65535, 128].map((v) => v / 65535), { shape: [2, 2, 1] });
    expectClose(fPlain!, Array.from(px, (v) => v / (2 ** 31 - 1)), { rtol: 1e-5, atol: 0 });
    expect(nums(same!)).toEqual(Array.from(px));
    expect(() => new tf.Graph().asDefault(() => ops.convertImageDtype(tf.placeholder('float32', [2]), 'uint8', { imageDType: 'uint8' }))).toThrow(/held in int32/);
  });
});

describe('per-image values', () => {
  function refStandardize(n: Naive): number[] {
    const per = n.h * n.w * n.c;
    const out: number[] = [];
    for (let b = 0; b < n.b; b++) {
      const xs = n.data.slice(b * per, (b + 1) * per);
      const mean = xs.reduce((s, v) => s + v, 0) / per;
      const variance = Math.max(0, xs.reduce((s, v) => s + v * v, 0) / per - mean * mean);
      const scale = Math.max(Math.sqrt(variance), 1 / Math.sqrt(per));
      out.push(...xs.map((v) => (v - mean) / scale));
    }
    return out;
  }

  it('perImageStandardization: 3-D, 4-D, constant images and int32 input', async () => {
    const a = randomArray([4, 5, 3], { seed: 1, min: 0, max: 10 });
    const b = randomArray([2, 3, 4, 2], { seed: 2 });
    const flat = new tf.NDArray(new Float32Array(12).fill(3), [2, 2, 3]);
    const ints = intImage([3, 3, 1], 255, 3);
    const outs = await runWith([a, b, flat, ints], (x, y, z, w) => [x, y, z, w].map((t) => ops.perImageStandardization(t)));
    [a, b, flat, ints].forEach((v, i) => expectClose(outs[i]!, refStandardize(Naive.of(v)), { atol: 1e-4, shape: v.shape }));
    expect(outs[3]!.dtype).toBe('float32');
  });

  it('adjustBrightness and adjustContrast on floats, and on uint8 (through floats, saturating)', async () => {
    const f = randomArray([2, 3, 4, 3], { seed: 4, min: 0, max: 1 });
    const u = intImage([3, 4, 3], 255, 5);
    const [bf, cf, bu, cu] = await runWith([f, u], (x, y) => [
      ops.adjustBrightness(x, 0.2),
      ops.adjustContrast(x, 1.7),
      ops.adjustBrightness(y, 0.3, { imageDType: 'uint8' }),
      ops.adjustContrast(y, 2.5, { imageDType: 'uint8' }),
    ]);
    expectClose(bf!, nums(f).map((v) => v + 0.2), { atol: 1e-6 });
    const contrast = (n: Naive, factor: number): number[] => {
      const mean = (b: number, c: number): number => {
        let s = 0;
        for (let y = 0; y < n.h; y++) for (let x = 0; x < n.w; x++) s += n.at(b, y, x, c);
        return s / (n.h * n.w);
      };
      return Naive.build(true, n.b, n.h, n.w, n.c, (b, y, x, c) => (n.at(b, y, x, c) - mean(b, c)) * factor + mean(b, c));
    };
    expectClose(cf!, contrast(Naive.of(f), 1.7), { atol: 1e-5 });
    const toU8 = (v: number): number => Math.trunc(Math.min(Math.max(Math.fround(v * 255.5), 0), 255));
    expect(nums(bu!)).toEqual(nums(u).map((v) => toU8(v / 255 + 0.3)));
    const cRef = contrast(new Naive(nums(u).map((v) => v / 255), u.shape), 2.5).map(toU8);
    expect(Math.max(...nums(cu!).map((v, i) => Math.abs(v - cRef[i]!)))).toBeLessThanOrEqual(1);
    expect(bu!.dtype).toBe('int32');
  });

  it('randomBrightness and randomContrast adjust by one draw per run, within the range', async () => {
    const f = randomArray([2, 3, 4, 3], { seed: 19, min: 0, max: 1 });
    const g = new tf.Graph();
    const { ph, b, c } = g.asDefault(() => {
      const ph = tf.placeholder('float32', [2, 3, 4, 3]);
      return { ph, b: ops.randomBrightness(ph, 0.25), c: ops.randomContrast(ph, 0.5, 1.5) };
    });
    const sess = new tf.Session({ graph: g });
    const deltas = new Set<string>();
    try {
      for (let r = 0; r < 5; r++) {
        const [bv, cv] = await sess.run([b, c], [[ph, f]]);
        const d = nums(bv!).map((v, i) => v - nums(f)[i]!);
        expect(Math.max(...d) - Math.min(...d)).toBeLessThan(1e-5);
        expect(Math.abs(d[0]!)).toBeLessThanOrEqual(0.25);
        deltas.add(d[0]!.toFixed(5));
        // Contrast: (x - mean) * k + mean with one k for every image and channel.
        const n = Naive.of(f);
        const o = Naive.of(cv!);
        const mean = (i: number, k: number): number => {
          let s = 0;
          for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) s += n.at(i, y, x, k);
          return s / 12;
        };
        const k = (o.at(0, 0, 0, 0) - mean(0, 0)) / (n.at(0, 0, 0, 0) - mean(0, 0));
        expect(k).toBeGreaterThanOrEqual(0.5 - 1e-4);
        expect(k).toBeLessThan(1.5 + 1e-4);
        expectClose(cv!, Naive.build(true, 2, 3, 4, 3, (i, y, x, ch) => (n.at(i, y, x, ch) - mean(i, ch)) * k + mean(i, ch)), { atol: 1e-4 });
      }
    } finally {
      sess.close();
    }
    expect(deltas.size).toBeGreaterThan(1);
  });

  it('rgbToGrayscale and grayscaleToRgb against TensorFlow.js', async () => {
    const t = await tfjs();
    const img = randomArray([2, 3, 4, 3], { seed: 6, min: 0, max: 1 });
    const gray = randomArray([3, 4, 1], { seed: 7 });
    const [g, rgb] = await runWith([img, gray], (x, y) => [ops.rgbToGrayscale(x), ops.grayscaleToRgb(y)]);
    expectClose(g!, await fromTfjs(t.image.rgbToGrayscale(t.tensor4d(img.data as Float32Array, [2, 3, 4, 3]))), { atol: 1e-5 });
    expectClose(rgb!, await fromTfjs(t.image.grayscaleToRGB(t.tensor3d(gray.data as Float32Array, [3, 4, 1]))));
    // uint8 goes through floats in [0, 1] and back by TF's (max + 0.5) cast.
    const u = intImage([2, 2, 3], 255, 8);
    const [gu] = await runWith([u], (x) => [ops.rgbToGrayscale(x, { imageDType: 'uint8' })]);
    const ref: number[] = [];
    const d = nums(u);
    for (let i = 0; i < 4; i++) {
      const f = Math.fround(Math.fround(d[i * 3]! / 255) * 0.2989 + Math.fround(d[i * 3 + 1]! / 255) * 0.587 + Math.fround(d[i * 3 + 2]! / 255) * 0.114);
      ref.push(Math.trunc(f * 255.5));
    }
    expect(Math.max(...nums(gu!).map((v, i) => Math.abs(v - ref[i]!)))).toBeLessThanOrEqual(1);
    expect(gu!.shape).toEqual([2, 2, 1]);
  });

  it('totalVariation and imageGradients', async () => {
    const a = randomArray([4, 5, 2], { seed: 9 });
    const b = randomArray([3, 4, 5, 2], { seed: 10 });
    const [tva, tvb, dy, dx] = await runWith([a, b], (x, y) => [ops.totalVariation(x), ops.totalVariation(y), ...ops.imageGradients(y)]);
    const tv = (n: Naive, b: number): number => {
      let s = 0;
      for (let y = 0; y < n.h; y++)
        for (let x = 0; x < n.w; x++)
          for (let c = 0; c < n.c; c++) {
            if (y + 1 < n.h) s += Math.abs(n.at(b, y + 1, x, c) - n.at(b, y, x, c));
            if (x + 1 < n.w) s += Math.abs(n.at(b, y, x + 1, c) - n.at(b, y, x, c));
          }
      return s;
    };
    expectClose(tva!, [tv(Naive.of(a), 0)], { atol: 1e-4 });
    expect(tva!.shape).toEqual([]);
    const nb = Naive.of(b);
    expectClose(tvb!, [0, 1, 2].map((i) => tv(nb, i)), { atol: 1e-4, shape: [3] });
    expectClose(dy!, Naive.build(true, 3, 4, 5, 2, (i, y, x, c) => (y + 1 < 4 ? nb.at(i, y + 1, x, c) - nb.at(i, y, x, c) : 0)), { atol: 1e-6, shape: [3, 4, 5, 2] });
    expectClose(dx!, Naive.build(true, 3, 4, 5, 2, (i, y, x, c) => (x + 1 < 5 ? nb.at(i, y, x + 1, c) - nb.at(i, y, x, c) : 0)), { atol: 1e-6, shape: [3, 4, 5, 2] });
  });
});

describe('geometry', () => {
  const img3 = randomArray([5, 6, 2], { seed: 11 });
  const img4 = randomArray([2, 5, 7, 3], { seed: 12 });

  it('flips, transposes and rotations match index arithmetic (and TensorFlow.js flipLeftRight)', async () => {
    for (const img of [img3, img4]) {
      const batched = img.shape.length === 4;
      const n = Naive.of(img);
      const outs = await runWith([img], (x) => [
        ops.flipLeftRight(x),
        ops.flipUpDown(x),
        ops.transposeImage(x),
        ops.rot90(x),
        ops.rot90(x, 2),
        ops.rot90(x, 3),
        ops.rot90(x, -1),
        ops.rot90(x, 4),
      ]);
      const { b, h, w, c } = n;
      const same = (f: (i: number, y: number, x: number, k: number) => number) => Naive.build(batched, b, h, w, c, f);
      const swapped = (f: (i: number, y: number, x: number, k: number) => number) => Naive.build(batched, b, w, h, c, f);
      expectClose(outs[0]!, same((i, y, x, k) => n.at(i, y, w - 1 - x, k)), { shape: img.shape });
      expectClose(outs[1]!, same((i, y, x, k) => n.at(i, h - 1 - y, x, k)));
      expectClose(outs[2]!, swapped((i, y, x, k) => n.at(i, x, y, k)), { shape: shapeOf(batched, b, w, h, c) });
      // Counter-clockwise: output (y, x) of a quarter turn is input (x, w - 1 - y).
      expectClose(outs[3]!, swapped((i, y, x, k) => n.at(i, x, w - 1 - y, k)), { shape: shapeOf(batched, b, w, h, c) });
      expectClose(outs[4]!, same((i, y, x, k) => n.at(i, h - 1 - y, w - 1 - x, k)));
      expectClose(outs[5]!, swapped((i, y, x, k) => n.at(i, h - 1 - x, y, k)));
      expectClose(outs[6]!, outs[5]!);
      expectClose(outs[7]!, img);
    }
    const t = await tfjs();
    const [lr] = await runWith([img4], (x) => [ops.flipLeftRight(x)]);
    expectClose(lr!, await fromTfjs(t.image.flipLeftRight(t.tensor4d(img4.data as Float32Array, [2, 5, 7, 3]))));
  });

  it('cropToBoundingBox, padToBoundingBox and their checks', async () => {
    const n = Naive.of(img4);
    const [crop, padded, crop3] = await runWith([img4, img3], (x, y) => [ops.cropToBoundingBox(x, 1, 2, 3, 4), ops.padToBoundingBox(x, 2, 1, 8, 9), ops.cropToBoundingBox(y, 0, 0, 5, 6)]);
    expectClose(crop!, Naive.build(true, 2, 3, 4, 3, (i, y, x, k) => n.at(i, y + 1, x + 2, k)), { shape: [2, 3, 4, 3] });
    expectClose(padded!, Naive.build(true, 2, 8, 9, 3, (i, y, x, k) => (y >= 2 && y < 7 && x >= 1 && x < 8 ? n.at(i, y - 2, x - 1, k) : 0)), { shape: [2, 8, 9, 3] });
    expectClose(crop3!, img3);
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder('float32', [5, 6, 2]);
      expect(() => ops.cropToBoundingBox(x, 3, 0, 3, 6)).toThrow(/height \(5\) must be >= target \+ offset/);
      expect(() => ops.cropToBoundingBox(x, -1, 0, 3, 6)).toThrow(/offset_height must be >= 0/);
      expect(() => ops.padToBoundingBox(x, 1, 0, 5, 6)).toThrow(InvalidArgumentError);
      expect(() => ops.flipLeftRight(tf.placeholder('float32', [5, 6]))).toThrow(/3-D or 4-D/);
    });
  });

  it('resizeImageWithCropOrPad and centralCrop, with static and unknown sizes', async () => {
    const refCropOrPad = (n: Naive, th: number, tw: number): number[] => {
      // TF 1.15: crop offsets max(-diff // 2, 0), pad offsets max(diff // 2, 0), Python's floor division.
      const [dh, dw] = [th - n.h, tw - n.w];
      const [ch, cw] = [Math.max(Math.floor(-dh / 2), 0), Math.max(Math.floor(-dw / 2), 0)];
      const [ph, pw] = [Math.max(Math.floor(dh / 2), 0), Math.max(Math.floor(dw / 2), 0)];
      const [hh, ww] = [Math.min(th, n.h), Math.min(tw, n.w)];
      return Naive.build(true, n.b, th, tw, n.c, (i, y, x, k) => {
        const [sy, sx] = [y - ph, x - pw];
        return sy >= 0 && sy < hh && sx >= 0 && sx < ww ? n.at(i, sy + ch, sx + cw, k) : 0;
      });
    };
    const refCentral = (n: Naive, fraction: number): { data: number[]; h: number; w: number } => {
      const off = Math.trunc(1 / ((1 - fraction) / 2));
      const [sh, sw] = [Math.floor(n.h / off), Math.floor(n.w / off)];
      const [h, w] = [n.h - 2 * sh, n.w - 2 * sw];
      return { data: Naive.build(true, n.b, h, w, n.c, (i, y, x, k) => n.at(i, y + sh, x + sw, k)), h, w };
    };
    const n = Naive.of(img4);
    for (const unknown of [false, true]) {
      const shapes = unknown ? [[2, null, null, 3]] : undefined;
      const sizes: [number, number][] = [[3, 4], [8, 9], [2, 10], [5, 7], [6, 3]];
      const fractions = [0.5, 0.33, 0.8, 1];
      const outs = await runWith(
        [img4],
        (x) => [...sizes.map(([h, w]) => ops.resizeImageWithCropOrPad(x, h, w)), ...fractions.map((f) => ops.centralCrop(x, f))],
        shapes,
      );
      sizes.forEach(([h, w], i) => expectClose(outs[i]!, refCropOrPad(n, h, w), { shape: [2, h, w, 3] }));
      fractions.forEach((f, i) => {
        const r = refCentral(n, f);
        expectClose(outs[sizes.length + i]!, r.data, { shape: [2, r.h, r.w, 3] });
      });
    }
    new tf.Graph().asDefault(() => {
      expect(ops.resizeImageWithCropOrPad(tf.placeholder('float32', [5, 6, 1]), 3, 8).shape).toEqual([3, 8, 1]);
      expect(() => ops.centralCrop(tf.placeholder('float32', [5, 6, 1]), 0)).toThrow(/within \(0, 1\]/);
    });
  });

  it('random flips flip whole images with probability 1/2', async () => {
    const batch = randomArray([16, 3, 4, 2], { seed: 13 });
    const single = randomArray([3, 4, 2], { seed: 14 });
    const [lr, ud] = await runWith([batch], (x) => [ops.randomFlipLeftRight(x, 3), ops.randomFlipUpDown(x, 4)]);
    const n = Naive.of(batch);
    for (const [out, flip] of [
      [lr!, (i: number, y: number, x: number, k: number) => n.at(i, y, 3 - x, k)],
      [ud!, (i: number, y: number, x: number, k: number) => n.at(i, 2 - y, x, k)],
    ] as const) {
      const o = Naive.of(out);
      let flipped = 0;
      for (let i = 0; i < 16; i++) {
        const img = Naive.build(true, 1, 3, 4, 2, (_b, y, x, k) => o.at(i, y, x, k));
        const asIs = Naive.build(true, 1, 3, 4, 2, (_b, y, x, k) => n.at(i, y, x, k));
        const mirrored = Naive.build(true, 1, 3, 4, 2, (_b, y, x, k) => flip(i, y, x, k));
        const isSame = img.every((v, j) => Math.abs(v - asIs[j]!) < 1e-6);
        const isFlip = img.every((v, j) => Math.abs(v - mirrored[j]!) < 1e-6);
        expect(isSame || isFlip, `image ${i}`).toBe(true);
        if (isFlip) flipped++;
      }
      expect(flipped).toBeGreaterThan(2);
      expect(flipped).toBeLessThan(14);
    }
    // A single image: over repeated runs, both outcomes.
    const g = new tf.Graph();
    const { ph, out } = g.asDefault(() => {
      const ph = tf.placeholder('float32', [3, 4, 2]);
      return { ph, out: ops.randomFlipLeftRight(ph) };
    });
    const sess = new tf.Session({ graph: g });
    const seen = new Set<string>();
    try {
      for (let r = 0; r < 24; r++) seen.add(nums((await sess.run(out, [[ph, single]])) as tf.NDArray).join(','));
    } finally {
      sess.close();
    }
    expect(seen.size).toBe(2);
  });

  it('randomCrop takes a window of the value, at offsets that vary', async () => {
    const value = randomArray([6, 7, 2], { seed: 15 });
    const n = Naive.of(value);
    const g = new tf.Graph();
    const { ph, out } = g.asDefault(() => {
      const ph = tf.placeholder('float32', [6, 7, 2]);
      return { ph, out: ops.randomCrop(ph, [3, 4, 2]) };
    });
    expect(out.shape).toEqual([3, 4, 2]);
    const sess = new tf.Session({ graph: g });
    const offsets = new Set<string>();
    try {
      for (let r = 0; r < 12; r++) {
        const o = nums((await sess.run(out, [[ph, value]])) as tf.NDArray);
        const found: string[] = [];
        for (let oy = 0; oy <= 3; oy++)
          for (let ox = 0; ox <= 3; ox++) {
            const win = Naive.build(false, 1, 3, 4, 2, (_b, y, x, k) => n.at(0, y + oy, x + ox, k));
            if (win.every((v, j) => Math.abs(v - o[j]!) < 1e-7)) found.push(`${oy},${ox}`);
          }
        expect(found.length, `run ${r}`).toBe(1);
        offsets.add(found[0]!);
      }
    } finally {
      sess.close();
    }
    expect(offsets.size).toBeGreaterThan(2);
    expect(() => new tf.Graph().asDefault(() => ops.randomCrop(tf.placeholder('float32', [2, 2]), [3, 1]))).toThrow(/value.shape >= size/);
  });
});

describe('gradients', () => {
  it('perImageStandardization by finite differences', async () => {
    await checkGradients({ ops: [], name: 'perImageStandardization', inputs: [randomArray([3, 3, 2], { seed: 16 })], build: (x) => ops.perImageStandardization(x), rtol: 3e-2, atol: 3e-3 });
  });
  it('totalVariation by finite differences', async () => {
    await checkGradients({ ops: [], name: 'totalVariation', inputs: [randomArray([2, 3, 4, 2], { seed: 17 })], build: (x) => ops.totalVariation(x) });
  });
  it('adjustContrast, crops, pads and flips by finite differences', async () => {
    await checkGradients({
      ops: [],
      name: 'geometry',
      inputs: [randomArray([2, 4, 5, 2], { seed: 18 })],
      build: (x) => [ops.adjustContrast(x, 1.5), ops.resizeImageWithCropOrPad(x, 3, 7), ops.rot90(ops.flipUpDown(x)), ops.centralCrop(x, 0.5)],
    });
  });
});
