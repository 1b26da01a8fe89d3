// Image codecs and file ops (issue 19): PNG round trips bit-exact, decoding checked against pixels an
// independent codec gives (fast-png's encoder in the test; ImageMagick's libpng/libjpeg for the
// fixtures, see test/fixtures/images/README.md), corrupt bytes refused, files written and read.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode as fastPngDecode, encode as fastPngEncode } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as io from '../src/api/image_io.js';
import { InvalidArgumentError, NotFoundError } from '../src/core/errors.js';
import { graphToGraphDef, importGraphDef, parseGraphDef, serializeGraphDef } from '../src/io/graph_def.js';
import { rng, run } from './helpers.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'images');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, name)));
const W = 24;
const H = 16;
/** The fixtures' source image (make_fixtures.sh draws the same formulas). */
const srcRgb = (x: number, y: number): number[] => [Math.round((x * 255) / 23), Math.round((y * 255) / 15), 255 - Math.round(((x + y) * 255) / 38)];
const srcGray = (x: number, y: number): number => Math.round(((x * 255) / 23 + (y * 255) / 15) / 2);
const sourcePixels = (f: (x: number, y: number) => number[]): number[] => {
  const out: number[] = [];
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out.push(...f(x, y));
  return out;
};

const bytesScalar = (b: Uint8Array): tf.NDArray => new tf.NDArray([b], [], 'string');

/** Runs `make` on a string placeholder fed with `bytes` (so the kernel runs, not constant folding). */
async function withBytes(bytes: Uint8Array, make: (x: tf.Tensor) => tf.Tensor | tf.Tensor[]): Promise<tf.NDArray[]> {
  const { outs, ph } = new tf.Graph().asDefault(() => {
    const ph = tf.placeholder('string', [], 'contents');
    const o = make(ph);
    return { outs: Array.isArray(o) ? o : [o], ph };
  });
  return (await run(outs, [[ph, bytesScalar(bytes)]])) as tf.NDArray[];
}

/** Runs `make` on an int32 image placeholder. */
async function withImage(image: tf.NDArray, make: (x: tf.Tensor) => tf.Tensor[]): Promise<tf.NDArray[]> {
  const { outs, ph } = new tf.Graph().asDefault(() => {
    const ph = tf.placeholder('int32', image.shape, 'image');
    return { outs: make(ph), ph };
  });
  return (await run(outs, [[ph, image]])) as tf.NDArray[];
}

const ints = (a: tf.NDArray): number[] => Array.from(a.data as Int32Array);
const randomImage = (h: number, w: number, c: number, max: number, seed: number): tf.NDArray => {
  const r = rng(seed);
  return new tf.NDArray(Int32Array.from({ length: h * w * c }, () => Math.floor(r() * (max + 1))), [h, w, c], 'int32');
};
const stringBytes = (a: tf.NDArray): Uint8Array => (a.data as Uint8Array[])[0]!;

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('PNG', () => {
  it('encode then decode is bit-exact for uint8 and uint16, 1 to 4 channels', async () => {
    const cases: [number, io.PixelDType][] = [
      [1, 'uint8'], [2, 'uint8'], [3, 'uint8'], [4, 'uint8'],
      [1, 'uint16'], [3, 'uint16'], [4, 'uint16'],
    ];
    for (const [c, dtype] of cases) {
      const img = randomImage(5, 7, c, dtype === 'uint8' ? 255 : 65535, 10 + c);
      const [bytes, back] = await withImage(img, (x) => {
        const png = io.encodePng(x, { dtype });
        return [png, io.decodePng(png, { dtype })];
      });
      expect(back!.shape, `${c} channels ${dtype}`).toEqual([5, 7, c]);
      expect(ints(back!), `${c} channels ${dtype}`).toEqual(ints(img));
      // An independent decoder reads the same pixels from weir's file.
      const ref = fastPngDecode(stringBytes(bytes!));
      expect([ref.width, ref.height, ref.channels, ref.depth]).toEqual([7, 5, c, dtype === 'uint8' ? 8 : 16]);
      expect(Array.from(ref.data)).toEqual(ints(img));
    }
  });

  it('decodes bytes fast-png encoded to their raw pixels, and converts channels', async () => {
    const rgba = randomImage(4, 6, 4, 255, 3);
    const bytes = fastPngEncode({ width: 6, height: 4, data: Uint8Array.from(ints(rgba)), channels: 4, depth: 8 });
    const [as4, as3, as1, as0] = await withBytes(bytes, (x) => [4, 3, 1, 0].map((channels) => io.decodePng(x, { channels })));
    expect(ints(as4!)).toEqual(ints(rgba));
    expect(ints(as0!)).toEqual(ints(rgba));
    const px = ints(rgba);
    const rgb: number[] = [];
    const gray: number[] = [];
    for (let i = 0; i < 24; i++) {
      rgb.push(px[i * 4]!, px[i * 4 + 1]!, px[i * 4 + 2]!);
      gray.push(Math.round(0.2989 * px[i * 4]! + 0.587 * px[i * 4 + 1]! + 0.114 * px[i * 4 + 2]!));
    }
    expect(as3!.shape).toEqual([4, 6, 3]);
    expect(ints(as3!)).toEqual(rgb);
    expect(as1!.shape).toEqual([4, 6, 1]);
    expect(ints(as1!)).toEqual(gray);
    const interlaced = fastPngEncode({ width: 6, height: 4, data: Uint8Array.from(ints(rgba)), channels: 4, depth: 8 }, { interlace: 'Adam7' });
    const [fromInterlaced] = await withBytes(interlaced, (x) => io.decodePng(x));
    expect(ints(fromInterlaced!)).toEqual(ints(rgba));
  });

  it('reads palette, 1-bit and 16-bit files (ImageMagick/libpng) as libpng does', async () => {
    const [palette] = await withBytes(fixture('palette.png'), (x) => io.decodePng(x));
    expect(palette!.shape).toEqual([H, W, 3]);
    expect(ints(palette!)).toEqual(Array.from(fixture('palette.png.rgb')));

    const [bilevel] = await withBytes(fixture('bilevel.png'), (x) => io.decodePng(x));
    expect(bilevel!.shape).toEqual([H, W, 1]);
    expect(ints(bilevel!)).toEqual(Array.from(fixture('bilevel.png.gray')));

    const [deep, shallow] = await withBytes(fixture('rgb16.png'), (x) => [io.decodePng(x, { dtype: 'uint16' }), io.decodePng(x, { channels: 3 })]);
    const src = sourcePixels(srcRgb);
    expect(ints(deep!)).toEqual(src.map((v) => v * 257));
    expect(ints(shallow!)).toEqual(src);
  });

  it('knows the channels statically when asked for them', () => {
    new tf.Graph().asDefault(() => {
      const s = tf.placeholder('string', []);
      expect(io.decodePng(s, { channels: 3 }).shape).toEqual([null, null, 3]);
      expect(io.decodePng(s).shape).toEqual([null, null, null]);
      expect(io.decodeJpeg(s, { channels: 1 }).dtype).toBe('int32');
      expect(() => io.decodePng(s, { channels: 2 })).toThrow(/channels must be one of 0, 1, 3, 4/);
      expect(() => io.decodeJpeg(s, { channels: 4 })).toThrow(/channels must be one of 0, 1, 3/);
      expect(() => io.encodePng(tf.placeholder('int32', [2, 2]))).toThrow(/rank 3/);
      expect(() => io.encodeJpeg(tf.placeholder('int32', [2, 2, 3]), { quality: 101 })).toThrow(/quality/);
    });
  });

  it('refuses values outside the pixel type', async () => {
    const img = new tf.NDArray(Int32Array.from([0, 256]), [1, 2, 1], 'int32');
    await expect(withImage(img, (x) => [io.encodePng(x)])).rejects.toThrow(/EncodePng.*256.*\[0, 255\]/);
    await expect(withImage(img, (x) => [io.encodePng(x, { dtype: 'uint16' })])).resolves.toBeDefined();
  });
});

describe('JPEG', () => {
  it('decodes libjpeg files (4:2:0, 4:2:2) as libjpeg does, fancy upsampling on or off', async () => {
    const [rgb, rgb0, plain, luma] = await withBytes(fixture('rgb.jpg'), (x) => [
      io.decodeJpeg(x, { channels: 3 }),
      io.decodeJpeg(x),
      io.decodeJpeg(x, { fancyUpscaling: false }),
      io.decodeJpeg(x, { channels: 1 }),
    ]);
    expect(rgb!.shape).toEqual([H, W, 3]);
    expect(ints(rgb0!)).toEqual(ints(rgb!));
    // Up to the IDCT's rounding (jpeg-js's float IDCT, libjpeg's integer one).
    const close = (got: tf.NDArray, ref: number[], what: string): void => {
      expect(meanAbsDiff(ints(got), ref), what).toBeLessThan(0.5);
      expect(maxAbsDiff(ints(got), ref), what).toBeLessThanOrEqual(3);
    };
    close(rgb!, Array.from(fixture('rgb.jpg.rgb')), 'fancy');
    close(plain!, Array.from(fixture('rgb.jpg.nofancy.rgb')), 'replicated chroma');
    // Not merely close to both: the two upsamplings differ by more than the rounding.
    expect(meanAbsDiff(ints(plain!), ints(rgb!))).toBeGreaterThan(2);
    expect(meanAbsDiff(ints(rgb!), sourcePixels(srcRgb))).toBeLessThan(4);
    const [rgb422] = await withBytes(fixture('rgb422.jpg'), (x) => io.decodeJpeg(x));
    close(rgb422!, Array.from(fixture('rgb422.jpg.rgb')), '4:2:2');
    // Gray from color is the luma the file stores (Rec. 601 weights of the RGB it encodes).
    const srcLuma = sourcePixels((x, y) => {
      const [r, g, b] = srcRgb(x, y);
      return [0.299 * r! + 0.587 * g! + 0.114 * b!];
    });
    expect(luma!.shape).toEqual([H, W, 1]);
    expect(meanAbsDiff(ints(luma!), srcLuma)).toBeLessThan(3);
  });

  it('decodes a grayscale file to one channel, or three on request', async () => {
    const [gray, rgb] = await withBytes(fixture('gray.jpg'), (x) => [io.decodeJpeg(x), io.decodeJpeg(x, { channels: 3 })]);
    expect(gray!.shape).toEqual([H, W, 1]);
    const libjpeg = Array.from(fixture('gray.jpg.gray'));
    expect(maxAbsDiff(ints(gray!), libjpeg)).toBeLessThanOrEqual(2);
    expect(meanAbsDiff(ints(gray!), sourcePixels((x, y) => [srcGray(x, y)]))).toBeLessThan(2);
    expect(ints(rgb!)).toEqual(ints(gray!).flatMap((v) => [v, v, v]));
  });

  it('encode then decode comes back close, closer at a higher quality', async () => {
    const img = new tf.NDArray(Int32Array.from(sourcePixels(srcRgb)), [H, W, 3], 'int32');
    const [hi, lo, hiBack, loBack] = await withImage(img, (x) => {
      const h = io.encodeJpeg(x, { quality: 95 });
      const l = io.encodeJpeg(x, { quality: 20 });
      return [h, l, io.decodeJpeg(h), io.decodeJpeg(l)];
    });
    expect(Array.from(stringBytes(hi!).subarray(0, 3))).toEqual([0xff, 0xd8, 0xff]);
    expect(stringBytes(lo!).length).toBeLessThan(stringBytes(hi!).length);
    const errHi = meanAbsDiff(ints(hiBack!), ints(img));
    const errLo = meanAbsDiff(ints(loBack!), ints(img));
    expect(errHi).toBeLessThan(1.5);
    expect(errLo).toBeGreaterThan(errHi);
    expect(errLo).toBeLessThan(8);

    const gray = new tf.NDArray(Int32Array.from(sourcePixels((x, y) => [srcGray(x, y)])), [H, W, 1], 'int32');
    const [grayBack] = await withImage(gray, (x) => [io.decodeJpeg(io.encodeJpeg(x, { format: 'grayscale' }), { channels: 1 })]);
    expect(meanAbsDiff(ints(grayBack!), ints(gray))).toBeLessThan(1.5);
  });

  it('refuses ratio other than 1 at run time with UnimplementedError', async () => {
    await expect(withBytes(fixture('rgb.jpg'), (x) => io.decodeJpeg(x, { ratio: 2 }))).rejects.toThrow(/ratio 2.*not implemented/);
  });
});

describe('DecodeImage and DecodeBmp', () => {
  it('tells PNG, JPEG and BMP apart by their first bytes', async () => {
    const src = sourcePixels(srcRgb);
    for (const [file, exact] of [['rgb16.png', true], ['rgb.bmp', true], ['rgb.jpg', false]] as const) {
      const [u8, f32, fixed] = await withBytes(fixture(file), (x) => [
        io.decodeImage(x, { channels: 3 }),
        io.decodeImage(x, { dtype: 'float32' }),
        io.decodeImage(x, { expandAnimations: false }),
      ]);
      expect(u8!.shape, file).toEqual([H, W, 3]);
      if (exact) expect(ints(u8!), file).toEqual(src);
      else expect(meanAbsDiff(ints(u8!), Array.from(fixture('rgb.jpg.rgb'))), file).toBeLessThan(0.5);
      expect(f32!.dtype).toBe('float32');
      const f = Array.from(f32!.data as Float32Array);
      expect(maxAbsDiff(f, ints(u8!).map((v) => v / 255)), file).toBeLessThan(file === 'rgb16.png' ? 1 / 255 : 1e-6);
      expect(fixed!.shape).toEqual([H, W, 3]);
    }
    new tf.Graph().asDefault(() => {
      const s = tf.placeholder('string', []);
      expect(io.decodeImage(s).shape).toBeNull();
      expect(io.decodeImage(s, { channels: 3, expandAnimations: false }).shape).toEqual([null, null, 3]);
    });
  });

  it('decodes a 24-bit BMP exactly, with the channel conversions', async () => {
    const [rgb, rgba] = await withBytes(fixture('rgb.bmp'), (x) => [io.decodeBmp(x), io.decodeBmp(x, { channels: 4 })]);
    expect(ints(rgb!)).toEqual(sourcePixels(srcRgb));
    expect(ints(rgba!)).toEqual(sourcePixels((x, y) => [...srcRgb(x, y), 255]));
  });

  it('refuses GIF with UnimplementedError and unknown bytes with InvalidArgumentError', async () => {
    await expect(withBytes(new TextEncoder().encode('GIF89a....'), (x) => io.decodeImage(x))).rejects.toThrow(/GIF decoding is not implemented/);
    await expect(withBytes(new TextEncoder().encode('hello'), (x) => io.decodeImage(x))).rejects.toThrow(InvalidArgumentError);
  });
});

describe('corrupt and truncated bytes', () => {
  const png = fastPngEncode({ width: 8, height: 8, data: new Uint8Array(64 * 3).fill(7), channels: 3, depth: 8 });
  const jpg = fixture('rgb.jpg');

  /** A PNG whose IHDR claims width x height, with the small IDAT of the 8 x 8 file (CRC fixed up by re-encoding is not needed: the size check comes first). */
  function lyingPng(width: number, height: number): Uint8Array {
    const b = png.slice();
    const v = new DataView(b.buffer);
    v.setUint32(16, width);
    v.setUint32(20, height);
    return b;
  }
  function lyingJpeg(width: number, height: number): Uint8Array {
    const b = jpg.slice();
    for (let i = 2; i < b.length - 9; i++) {
      if (b[i] === 0xff && b[i + 1] === 0xc0) {
        b[i + 5] = height >> 8;
        b[i + 6] = height & 255;
        b[i + 7] = width >> 8;
        b[i + 8] = width & 255;
        return b;
      }
    }
    throw new Error('no SOF0 in the fixture');
  }

  const cases: [string, Uint8Array, (x: tf.Tensor) => tf.Tensor, RegExp][] = [
    ['garbage as PNG', new Uint8Array([1, 2, 3, 4, 5]), (x) => io.decodePng(x), /not a PNG/],
    ['truncated PNG', png.subarray(0, png.length - 30), (x) => io.decodePng(x), /DecodePng.*truncated/],
    ['PNG with a flipped data byte', (() => { const b = png.slice(); b[45] ^= 0x55; return b; })(), (x) => io.decodePng(x), /DecodePng.*corrupt/],
    ['PNG claiming 20000 x 20000', lyingPng(20000, 20000), (x) => io.decodePng(x), /DecodePng.*cannot come from/],
    ['empty bytes as JPEG', new Uint8Array(0), (x) => io.decodeJpeg(x), /DecodeJpeg.*not a JPEG/],
    ['truncated JPEG', jpg.subarray(0, 200), (x) => io.decodeJpeg(x), /DecodeJpeg.*(truncated|corrupt)/],
    ['JPEG header only', jpg.subarray(0, 20), (x) => io.decodeJpeg(x), /DecodeJpeg.*truncated/],
    ['JPEG claiming 20000 x 20000', lyingJpeg(20000, 20000), (x) => io.decodeJpeg(x), /DecodeJpeg.*cannot come from/],
    ['truncated BMP', fixture('rgb.bmp').subarray(0, 500), (x) => io.decodeBmp(x), /DecodeBmp.*truncated/],
    ['truncated PNG through DecodeImage', png.subarray(0, 40), (x) => io.decodeImage(x), /DecodeImage.*truncated/],
  ];
  for (const [what, bytes, make, message] of cases) {
    it(`${what}: InvalidArgumentError naming the op`, async () => {
      const t0 = performance.now();
      const err = await withBytes(bytes, make).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(message);
      expect(performance.now() - t0).toBeLessThan(2000);
    });
  }
});

describe('ReadFile and WriteFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-image-io-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('write then read gives the bytes back, written atomically', async () => {
    const path = join(dir, 'img.png');
    const img = randomImage(3, 4, 3, 255, 9);
    const g = new tf.Graph();
    const { ph, write, read } = g.asDefault(() => {
      const ph = tf.placeholder('int32', [3, 4, 3]);
      const write = io.writeFile(path, io.encodePng(ph));
      const read = io.decodePng(io.readFile(path), { channels: 3 });
      return { ph, write, read };
    });
    expect(write.type).toBe('WriteFile');
    const sess = new tf.Session({ graph: g });
    try {
      await sess.run(write, [[ph, img]]);
      expect(fastPngDecode(readFileSync(path)).width).toBe(4);
      expect(readdirSync(dir)).toEqual(['img.png']);
      const back = (await sess.run(read)) as tf.NDArray;
      expect(ints(back)).toEqual(ints(img));
      // Read again after the file changes: ReadFile is not folded into a constant.
      await sess.run(write, [[ph, randomImage(3, 4, 3, 255, 10)]]);
      expect(ints((await sess.run(read)) as tf.NDArray)).toEqual(ints(randomImage(3, 4, 3, 255, 10)));
    } finally {
      sess.close();
    }
  });

  it('a missing file is NotFoundError naming it', async () => {
    const missing = join(dir, 'nope.png');
    const t = new tf.Graph().asDefault(() => io.readFile(missing));
    const err = await run(t).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain('nope.png');
  });
});

it('codec ops keep their attrs through a GraphDef', () => {
  const g = new tf.Graph();
  g.asDefault(() => {
    const s = tf.placeholder('string', [], 'bytes');
    io.decodePng(s, { channels: 4, dtype: 'uint16', name: 'png' });
    io.encodeJpeg(tf.placeholder('int32', [2, 2, 3], 'img'), { quality: 70, name: 'jpg' });
  });
  const back = parseGraphDef(serializeGraphDef(graphToGraphDef(g)));
  const node = (name: string) => back.node!.find((n) => n.name === name)!;
  expect(node('png').op).toBe('DecodePng');
  expect(Number(node('png').attr!.pixel_bits!.i)).toBe(16);
  expect(Number(node('png').attr!.channels!.i)).toBe(4);
  expect(Number(node('jpg').attr!.quality!.i)).toBe(70);
  const g2 = new tf.Graph();
  importGraphDef(back, { graph: g2, name: '' });
  expect(g2.getOperationByName('png').attrs).toMatchObject({ channels: 4, pixel_bits: 16, dtype: 'int32' });
  expect(g2.getOperationByName('jpg').attrs).toMatchObject({ quality: 70, format: '' });
});
