// CPU kernels of ops/image_io.ts: PNG through fast-png, JPEG through jpeg-js (with libjpeg's chroma
// upsampling and color conversion on top, so pixels match TensorFlow's), BMP by hand, and the
// file ops. Host kernels on every backend. Pixels are int32 holding uint8 or uint16 values (see
// ops/image_io.ts).
//
// Bytes from outside are checked before anything is allocated for them: a header claiming more
// pixels than its file could hold is an InvalidArgumentError, never a huge allocation.
import { decode as pngDecode, encode as pngEncode, type DecodedPng } from 'fast-png';
import jpeg from 'jpeg-js';
import { InvalidArgumentError, NotFoundError, UnimplementedError, UnknownError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import type { KernelNode } from '../../backend.js';
import { registerCpuKernel } from '../registry.js';
import { attr, type Outputs } from './util.js';

// Messages need not name the op: the runtime adds the op's type, name and creation site.
const bad = (message: string): never => {
  throw new InvalidArgumentError(message);
};

function scalarBytes(a: NDArray, what: string): Uint8Array {
  if (a.size !== 1) bad(`${what} must be a scalar, got shape ${formatShape(a.shape)}`);
  return (a.data as Uint8Array[])[0]!;
}

function optional<T>(node: KernelNode, name: string, dflt: T): T {
  return (node.attrs[name] as T | undefined) ?? dflt;
}

/** Typed arrays are limited to 2^31 - 1 elements; weir's images to that many values. */
const MAX_VALUES = 2 ** 31 - 1;

function checkSize(height: number, width: number, channels: number): void {
  if (!(height > 0 && width > 0)) bad(`image has no pixels (${height} x ${width})`);
  if (height * width * channels > MAX_VALUES) bad(`a ${height} x ${width} x ${channels} image has more than ${MAX_VALUES} values`);
}

/** A decoded image: `channels` values per pixel, row-major, each in [0, maxValue]. */
interface Pixels {
  height: number;
  width: number;
  channels: number;
  data: ArrayLike<number>;
  maxValue: number;
}

/**
 * The image with `want` channels (0: as it is), values rescaled to `bits` bits: grayscale from RGB
 * by the luma weights tf.image.rgb_to_grayscale uses, RGB from gray by copying, alpha added opaque
 * or dropped.
 */
function toChannels(p: Pixels, want: number, bits: number, outputs: Outputs, dtype: 'int32' | 'float32' = 'int32'): NDArray {
  const c = want === 0 ? p.channels : want;
  checkSize(p.height, p.width, c);
  const out = outputs.alloc(dtype, [p.height, p.width, c]);
  const d = out.data as Int32Array | Float32Array;
  const maxOut = dtype === 'float32' ? 1 : 2 ** bits - 1;
  const scale = maxOut / p.maxValue;
  const conv = dtype === 'float32' || scale === 1 ? (v: number) => v * scale : (v: number) => Math.round(v * scale);
  const src = p.data;
  const sc = p.channels;
  const srcColor = sc >= 3;
  const srcAlpha = sc === 2 || sc === 4;
  const n = p.height * p.width;
  for (let i = 0; i < n; i++) {
    const s = i * sc;
    const o = i * c;
    const r = src[s]!;
    const g = srcColor ? src[s + 1]! : r;
    const b = srcColor ? src[s + 2]! : r;
    const a = srcAlpha ? src[s + sc - 1]! : p.maxValue;
    if (c === 1 || c === 2) {
      d[o] = conv(srcColor ? Math.round(0.2989 * r + 0.587 * g + 0.114 * b) : r);
      if (c === 2) d[o + 1] = conv(a);
    } else {
      d[o] = conv(r);
      d[o + 1] = conv(g);
      d[o + 2] = conv(b);
      if (c === 4) d[o + 3] = conv(a);
    }
  }
  return out;
}

/** The `channels` attr, which the op's shape function has checked. */
const channelsAttr = (node: KernelNode): number => optional(node, 'channels', 0);

// ---- PNG ----

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const isPng = (b: Uint8Array): boolean => b.length >= 8 && PNG_SIGNATURE.every((x, i) => b[i] === x);
/** Deflate expands at most about 1032:1; a PNG whose IDAT bytes cannot hold its rows is rejected before decoding. */
const DEFLATE_MAX_RATIO = 1032;
const SAMPLES: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Walks the chunks (every length checked against the file) and checks IHDR's claims against the data. */
function checkPngHeader(b: Uint8Array): void {
  if (!isPng(b)) bad('not a PNG file (bad signature)');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let rowBits = 0;
  let idat = 0;
  let header = false;
  let ended = false;
  while (pos + 8 <= b.length && !ended) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(b[pos + 4]!, b[pos + 5]!, b[pos + 6]!, b[pos + 7]!);
    if (pos + 12 + len > b.length) bad(`truncated PNG: chunk ${type} of ${len} bytes at offset ${pos} runs past the end of the ${b.length}-byte input`);
    if (pos === 8) {
      if (type !== 'IHDR' || len !== 13) bad('corrupt PNG: the first chunk is not a 13-byte IHDR');
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      const depth = b[pos + 16]!;
      const samples = SAMPLES[b[pos + 17]!];
      if (samples === undefined) bad(`corrupt PNG: unknown color type ${b[pos + 17]}`);
      if (![1, 2, 4, 8, 16].includes(depth)) bad(`corrupt PNG: bit depth ${depth}`);
      rowBits = width * samples! * depth;
      header = true;
    } else if (type === 'IDAT') idat += len;
    ended = type === 'IEND';
    pos += 12 + len;
  }
  if (!header) bad('truncated PNG: no IHDR chunk');
  checkSize(height, width, 1);
  if (idat === 0) bad('truncated PNG: no image data (IDAT)');
  const raw = height * (1 + Math.ceil(rowBits / 8));
  if (raw > idat * DEFLATE_MAX_RATIO + 1024) bad(`corrupt PNG: ${width} x ${height} pixels cannot come from ${idat} bytes of image data`);
}

/** fast-png's result as pixels: low bit depths unpacked and scaled, palettes and tRNS expanded. */
function pngPixels(png: DecodedPng): Pixels {
  const { width, height, depth } = png;
  const src = png.data;
  if (depth >= 8) {
    const channels = png.channels;
    if (src.length !== width * height * channels) bad(`corrupt PNG: decoded ${src.length} values for ${width} x ${height} x ${channels}`);
    const maxValue = 2 ** depth - 1;
    if (png.palette) return expandPalette(png, (i) => src[i]!);
    if (png.transparency && (channels === 1 || channels === 3)) return keyToAlpha(png, src, maxValue);
    return { height, width, channels, data: src, maxValue };
  }
  // 1, 2 or 4 bits per sample, one sample per pixel (gray or palette), rows padded to whole bytes.
  const rowBytes = Math.ceil((width * depth) / 8);
  if (src.length < rowBytes * height) bad(`corrupt PNG: decoded ${src.length} bytes for ${height} rows of ${rowBytes}`);
  const perByte = 8 / depth;
  const mask = (1 << depth) - 1;
  const sample = (i: number): number => {
    const y = Math.floor(i / width);
    const x = i - y * width;
    const byte = src[y * rowBytes + Math.floor(x / perByte)]!;
    return (byte >> ((perByte - 1 - (x % perByte)) * depth)) & mask;
  };
  if (png.palette) return expandPalette(png, sample);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = sample(i);
  if (png.transparency) return keyToAlpha(png, data, mask);
  return { height, width, channels: 1, data, maxValue: mask };
}

function expandPalette(png: DecodedPng, index: (i: number) => number): Pixels {
  const palette = png.palette!;
  const alpha = png.transparency;
  const channels = alpha ? 4 : 3;
  const n = png.width * png.height;
  const data = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) {
    const k = index(i);
    const rgb = palette[k];
    if (!rgb) bad(`corrupt PNG: palette index ${k} past its ${palette.length} entries`);
    data.set(rgb!.slice(0, 3), i * channels);
    if (alpha) data[i * channels + 3] = k < alpha.length ? alpha[k]! : 255;
  }
  return { height: png.height, width: png.width, channels, data, maxValue: 255 };
}

/** A tRNS color key (gray or RGB) as an alpha channel, as libpng's tRNS-to-alpha expansion. */
function keyToAlpha(png: DecodedPng, src: ArrayLike<number>, maxValue: number): Pixels {
  const sc = src.length / (png.width * png.height);
  const key = png.transparency!;
  const n = png.width * png.height;
  const data = new Uint16Array(n * (sc + 1));
  for (let i = 0; i < n; i++) {
    let same = true;
    for (let k = 0; k < sc; k++) {
      const v = src[i * sc + k]!;
      data[i * (sc + 1) + k] = v;
      if (v !== key[k]) same = false;
    }
    data[i * (sc + 1) + sc] = same ? 0 : maxValue;
  }
  return { height: png.height, width: png.width, channels: sc + 1, data, maxValue };
}

function decodePng(bytes: Uint8Array): Pixels {
  checkPngHeader(bytes);
  let png: DecodedPng;
  try {
    png = pngDecode(bytes, { checkCrc: true });
  } catch (e) {
    return bad(`corrupt PNG: ${(e as Error).message}`);
  }
  return pngPixels(png);
}

/** 8-bit values from 16-bit ones keep the high byte (libpng's strip_16); 16-bit from 8-bit scale by 257. */
function pngOutBits(p: Pixels, bits: number): Pixels {
  if (bits === 8 && p.maxValue === 65535) {
    const data = new Uint8Array(p.data.length);
    for (let i = 0; i < data.length; i++) data[i] = p.data[i]! >> 8;
    return { ...p, data, maxValue: 255 };
  }
  return p;
}

registerCpuKernel('DecodePng', ([contents], node, _s, outputs) => {
  const channels = channelsAttr(node);
  const bits = optional(node, 'pixel_bits', 8);
  return [toChannels(pngOutBits(decodePng(scalarBytes(contents!, 'contents')), bits), channels, bits, outputs)];
});

/** The image's values as integers in [0, 2^bits - 1], checked (they stand for TF's uint8/uint16). */
function pixelValues(image: NDArray, bits: number): Int32Array {
  const d = image.data as Int32Array;
  const max = 2 ** bits - 1;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v < 0 || v > max) bad(`image value ${v} at index ${i} is outside [0, ${max}] (uint${bits})`);
  }
  return d;
}

function imageDims(image: NDArray, channels: readonly number[]): [number, number, number] {
  if (image.shape.length !== 3) bad(`image must be 3-D [height, width, channels], got shape ${formatShape(image.shape)}`);
  const [h, w, c] = image.shape as [number, number, number];
  if (!channels.includes(c)) bad(`image must have ${channels.join(', ')} channels, got ${c}`);
  return [h, w, c];
}

registerCpuKernel('EncodePng', ([image], node, _s, outputs) => {
  const bits = optional(node, 'pixel_bits', 8);
  const [h, w, c] = imageDims(image!, [1, 2, 3, 4]);
  if (h === 0 || w === 0) bad(`image has no pixels (${h} x ${w})`);
  const values = pixelValues(image!, bits);
  const data = bits === 8 ? Uint8Array.from(values) : Uint16Array.from(values);
  const compression = optional(node, 'compression', -1);
  const level = (compression === -1 ? 6 : compression) as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  const bytes = pngEncode({ width: w, height: h, data, depth: bits as 8 | 16, channels: c }, { zlib: { level } });
  return [stringScalar(outputs, bytes)];
});

function stringScalar(outputs: Outputs, bytes: Uint8Array): NDArray {
  const out = outputs.alloc('string', []);
  (out.data as Uint8Array[])[0] = bytes;
  return out;
}

// ---- JPEG ----

interface JpegFrame {
  width: number;
  height: number;
  components: number;
  /** Luma samples per chroma sample across and down (2, 2 for 4:2:0); 1, 1 without subsampling. */
  chromaStep: [number, number];
  /** An Adobe APP14 marker says the components are not YCbCr-transformed the usual way (jpeg-js then converts itself). */
  adobeTransform: boolean;
}

/** The frame header (SOFn) of a JPEG, read by walking its marker segments, every length checked. */
function jpegFrame(b: Uint8Array): JpegFrame {
  if (!(b.length >= 3 && b[0] === 0xff && b[1] === 0xd8)) bad('not a JPEG file (no SOI marker)');
  let pos = 2;
  let adobeTransform = false;
  while (pos + 4 <= b.length) {
    if (b[pos] !== 0xff) bad(`corrupt JPEG: expected a marker at offset ${pos}`);
    const marker = b[pos + 1]!;
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const len = (b[pos + 2]! << 8) | b[pos + 3]!;
    if (len < 2 || pos + 2 + len > b.length) bad(`truncated JPEG: segment 0x${marker.toString(16)} of ${len} bytes at offset ${pos}`);
    if (marker === 0xee && len >= 14 && String.fromCharCode(...b.subarray(pos + 4, pos + 9)) === 'Adobe') adobeTransform = true;
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) {
      if (len < 8) bad('corrupt JPEG: short frame header');
      const height = (b[pos + 5]! << 8) | b[pos + 6]!;
      const width = (b[pos + 7]! << 8) | b[pos + 8]!;
      const components = b[pos + 9]!;
      if (![1, 3, 4].includes(components)) bad(`unsupported JPEG: ${components} components`);
      if (len < 8 + 3 * components) bad('corrupt JPEG: short frame header');
      checkSize(height, width, 4);
      const sampling = (k: number): [number, number] => [b[pos + 11 + 3 * k]! >> 4, b[pos + 11 + 3 * k]! & 15];
      let chromaStep: [number, number] = [1, 1];
      if (components === 3) {
        const [[yh, yv], [bh, bv], [rh, rv]] = [sampling(0), sampling(1), sampling(2)];
        const ok = bh === rh && bv === rv && bh > 0 && bv > 0 && yh % bh === 0 && yv % bv === 0;
        chromaStep = ok ? [yh / bh, yv / bv] : [0, 0];
      }
      return { width, height, components, chromaStep, adobeTransform };
    }
    if (marker === 0xda) break;
    pos += 2 + len;
  }
  return bad('truncated JPEG: no frame header (SOF) before the image data');
}

// libjpeg's YCbCr -> RGB conversion (jdcolor.c), in 16-bit fixed point.
const FIX = (x: number): number => Math.round(x * 65536);
const HALF = 1 << 15;
const CR_R = Int32Array.from({ length: 256 }, (_, i) => (FIX(1.402) * (i - 128) + HALF) >> 16);
const CB_B = Int32Array.from({ length: 256 }, (_, i) => (FIX(1.772) * (i - 128) + HALF) >> 16);
const CR_G = Int32Array.from({ length: 256 }, (_, i) => -FIX(0.71414) * (i - 128));
const CB_G = Int32Array.from({ length: 256 }, (_, i) => -FIX(0.34414) * (i - 128) + HALF);
const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/**
 * One chroma plane of jpeg-js's full-size output (it repeats each sample over its block) taken
 * back to its stored size and upsampled as libjpeg does with fancy upsampling (jdsample.c): a
 * triangle filter, 3/4 the nearer sample and 1/4 the next, for 2x horizontal (h2v1) and 2x2 (h2v2).
 */
function fancyUpsample(full: Uint8Array, k: number, width: number, height: number, [sx, sy]: [number, number]): Uint8Array {
  const cw = Math.ceil(width / sx);
  const ch = Math.ceil(height / sy);
  const at = (i: number, j: number): number => full[(Math.min(j, ch - 1) * sy * width + Math.min(i, cw - 1) * sx) * 3 + k]!;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const j = Math.floor(y / sy);
    // h2v2: the nearer row weighs 3, the row above (upper half) or below (lower half) 1.
    const far = sy === 2 ? Math.max(0, Math.min(ch - 1, y % 2 === 0 ? j - 1 : j + 1)) : j;
    const colsum = (i: number): number => (sy === 2 ? 3 * at(i, j) + at(i, far) : at(i, j));
    for (let x = 0; x < width; x++) {
      const i = Math.floor(x / 2);
      const c = colsum(i);
      const odd = x % 2 === 1;
      const other = colsum(Math.max(0, Math.min(cw - 1, odd ? i + 1 : i - 1)));
      out[y * width + x] = sy === 2 ? (3 * c + other + (odd ? 7 : 8)) >> 4 : (3 * c + other + (odd ? 2 : 1)) >> 2;
    }
  }
  return out;
}

/** RGB from jpeg-js's untransformed Y, Cb, Cr: chroma upsampled by replication or libjpeg's fancy filter, converted as libjpeg converts. */
function yccToRgb(ycc: Uint8Array, width: number, height: number, frame: JpegFrame, fancy: boolean): Uint8Array {
  const [sx, sy] = frame.chromaStep;
  const filter = fancy && sx === 2 && (sy === 1 || sy === 2);
  const cb = filter ? fancyUpsample(ycc, 1, width, height, [sx, sy]) : undefined;
  const cr = filter ? fancyUpsample(ycc, 2, width, height, [sx, sy]) : undefined;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const y = ycc[i * 3]!;
    const b = cb ? cb[i]! : ycc[i * 3 + 1]!;
    const r = cr ? cr[i]! : ycc[i * 3 + 2]!;
    rgb[i * 3] = clamp8(y + CR_R[r]!);
    rgb[i * 3 + 1] = clamp8(y + ((CB_G[b]! + CR_G[r]!) >> 16));
    rgb[i * 3 + 2] = clamp8(y + CB_B[b]!);
  }
  return rgb;
}

/**
 * Every 8x8 block of luma codes its DC coefficient in at least one bit (a Huffman code), in any
 * JPEG, baseline or progressive: a bound on the size a file can claim.
 */
function checkJpegData(f: JpegFrame, length: number): void {
  const blocks = Math.ceil(f.width / 8) * Math.ceil(f.height / 8);
  if (blocks > length * 8) bad(`corrupt JPEG: ${f.width} x ${f.height} pixels cannot come from ${length} bytes`);
}

const JPEG_MAX_MB = 2048;

function decodeJpegPixels(bytes: Uint8Array, channels: number, fancy = true): Pixels {
  const frame = jpegFrame(bytes);
  checkJpegData(frame, bytes.length);
  // The file's own channel count, as TensorFlow's: 1 for grayscale, else 3 (CMYK is converted).
  const native = frame.components === 1 ? 1 : 3;
  // A YCbCr file is decoded untransformed: gray is its luma (Y), as libjpeg gives it, and RGB is
  // converted here as libjpeg converts. Others are left to jpeg-js (gray then from its RGB).
  const ycc = frame.components === 3 && !frame.adobeTransform && frame.chromaStep[0] > 0;
  const lumaOnly = channels === 1 && ycc;
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      colorTransform: ycc ? false : undefined,
      maxResolutionInMP: Math.ceil(MAX_VALUES / 3 / 1e6),
      maxMemoryUsageInMB: JPEG_MAX_MB,
    });
  } catch (e) {
    return bad(`corrupt JPEG: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (decoded.data.length !== decoded.width * decoded.height * 3) bad('corrupt JPEG: decoded data of the wrong size');
  const data = ycc && !lumaOnly ? yccToRgb(decoded.data, decoded.width, decoded.height, frame, fancy) : decoded.data;
  const p: Pixels = { height: decoded.height, width: decoded.width, channels: 3, data, maxValue: 255 };
  if (native === 1 || lumaOnly) {
    // jpeg-js repeats Y in all three channels of a grayscale file; without the color transform, channel 0 is Y.
    const y = new Uint8Array(p.height * p.width);
    for (let i = 0; i < y.length; i++) y[i] = p.data[i * 3]!;
    return { ...p, channels: 1, data: y };
  }
  return p;
}

registerCpuKernel('DecodeJpeg', ([contents], node, _s, outputs) => {
  const channels = channelsAttr(node);
  const ratio = optional(node, 'ratio', 1);
  if (ratio !== 1) throw new UnimplementedError(`ratio ${ratio} (downscaling while decoding) is not implemented; decode at ratio 1 and resize`);
  const fancy = optional(node, 'fancy_upscaling', true);
  return [toChannels(decodeJpegPixels(scalarBytes(contents!, 'contents'), channels, fancy), channels, 8, outputs)];
});

/**
 * jpeg-js's encoder returns a Node Buffer whenever it is loaded as a CommonJS module, which it is in
 * a browser bundle too, where there is no Buffer: for the synchronous call, a stand-in whose `from`
 * makes a Uint8Array, removed again at once.
 */
function encodeJpegBytes(rgba: Uint8Array, width: number, height: number, quality: number): Uint8Array {
  const g = globalThis as { Buffer?: unknown };
  const shim = g.Buffer === undefined;
  if (shim) g.Buffer = { from: (a: ArrayLike<number>) => Uint8Array.from(a) };
  try {
    const out = jpeg.encode({ data: rgba, width, height }, quality).data;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } finally {
    if (shim) delete g.Buffer;
  }
}

registerCpuKernel('EncodeJpeg', ([image], node, _s, outputs) => {
  const format = optional<string>(node, 'format', '');
  const allowed = format === 'grayscale' ? [1] : format === 'rgb' ? [3] : [1, 3];
  const [h, w, c] = imageDims(image!, allowed);
  if (h === 0 || w === 0) bad(`image has no pixels (${h} x ${w})`);
  if (h > 65535 || w > 65535) bad(`image is too large for JPEG (${h} x ${w}; at most 65535 each way)`);
  const quality = optional(node, 'quality', 95);
  if (!(quality >= 0 && quality <= 100)) bad(`quality must be in [0, 100], got ${quality}`);
  const values = pixelValues(image!, 8);
  const rgba = new Uint8Array(h * w * 4);
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) rgba[i * 4 + k] = values[i * c + (c === 1 ? 0 : k)]!;
    rgba[i * 4 + 3] = 255;
  }
  // jpeg-js takes quality 1..100 (TensorFlow's 0 is its lowest quality too).
  return [stringScalar(outputs, encodeJpegBytes(rgba, w, h, Math.max(1, quality)))];
});

// ---- BMP (uncompressed 24- and 32-bit, TensorFlow's DecodeBmp) ----

function decodeBmpPixels(b: Uint8Array): Pixels {
  if (b.length < 54 || b[0] !== 0x42 || b[1] !== 0x4d) bad('not a BMP file (no BM header)');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const offset = view.getUint32(10, true);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bpp = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  if (bpp !== 24 && bpp !== 32) bad(`${bpp}-bit BMPs are not supported (24 or 32 bits)`);
  if (compression !== 0 && compression !== 3) bad(`compressed BMPs are not supported (compression ${compression})`);
  const height = Math.abs(rawHeight);
  const channels = bpp / 8;
  checkSize(height, width, channels);
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  if (offset + rowBytes * height > b.length) bad(`truncated BMP: ${width} x ${height} pixels need ${offset + rowBytes * height} bytes, got ${b.length}`);
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const row = offset + (rawHeight > 0 ? height - 1 - y : y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const s = row + x * channels;
      const o = (y * width + x) * channels;
      data[o] = b[s + 2]!;
      data[o + 1] = b[s + 1]!;
      data[o + 2] = b[s]!;
      if (channels === 4) data[o + 3] = b[s + 3]!;
    }
  }
  return { height, width, channels, data, maxValue: 255 };
}

registerCpuKernel('DecodeBmp', ([contents], node, _s, outputs) => {
  const channels = channelsAttr(node);
  return [toChannels(decodeBmpPixels(scalarBytes(contents!, 'contents')), channels, 8, outputs)];
});

// ---- DecodeImage: the format from the leading bytes ----

const isJpeg = (b: Uint8Array): boolean => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const isGif = (b: Uint8Array): boolean => b.length >= 4 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38;
const isBmp = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d;

registerCpuKernel('DecodeImage', ([contents], node, _s, outputs) => {
  const channels = channelsAttr(node);
  const bits = optional(node, 'pixel_bits', 8);
  const dtype = attr<'int32' | 'float32'>(node, 'dtype');
  const bytes = scalarBytes(contents!, 'contents');
  let p: Pixels;
  if (isPng(bytes)) p = decodePng(bytes);
  else if (isJpeg(bytes)) {
    if (channels === 4) bad('JPEG images have 1 or 3 channels, not 4');
    p = decodeJpegPixels(bytes, channels);
  } else if (isBmp(bytes)) p = decodeBmpPixels(bytes);
  else if (isGif(bytes)) throw new UnimplementedError(`GIF decoding is not implemented (PNG, JPEG and BMP are)`);
  else return bad('unknown image format: the bytes start like no PNG, JPEG, GIF or BMP file');
  return [toChannels(dtype === 'int32' ? pngOutBits(p, bits) : p, channels, bits, outputs, dtype)];
});

// ---- files ----

/**
 * Node's synchronous file system, taken from the running process (no import, so a browser bundle
 * does not pull in node:fs): CPU kernels return at once, and the FileSystem of src/io/fs.ts is
 * asynchronous.
 */
interface SyncFs {
  readFileSync(path: string): Uint8Array;
  writeFileSync(path: string, data: Uint8Array): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, opts: { force: boolean }): void;
}

function syncFs(): SyncFs {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = proc?.getBuiltinModule?.('node:fs') as SyncFs | undefined;
  if (!fs) throw new UnimplementedError(`reading and writing files in a graph needs Node.js (20.16 or later); elsewhere read the bytes with tf.io.getFileSystem() and feed them`);
  return fs;
}

function fileError(what: string, path: string, e: unknown): never {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') throw new NotFoundError(`${what} ${path}: no such file or directory`);
  throw new UnknownError(`${what} ${path}: ${(e as Error).message}`);
}

const decoder = new TextDecoder();

registerCpuKernel('ReadFile', ([filename], node, _s, outputs) => {
  const path = decoder.decode(scalarBytes(filename!, 'filename'));
  const fs = syncFs();
  try {
    return [stringScalar(outputs, new Uint8Array(fs.readFileSync(path)))];
  } catch (e) {
    return fileError('reading', path, e);
  }
});

registerCpuKernel('WriteFile', ([filename, contents], node) => {
  const path = decoder.decode(scalarBytes(filename!, 'filename'));
  const bytes = scalarBytes(contents!, 'contents');
  const fs = syncFs();
  // Atomically, as the formats write (src/io/fs.ts): a temporary file renamed over the target.
  const tmp = `${path}.tmp${Math.random().toString(16).slice(2, 10)}`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, path);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing was written
    }
    return fileError('writing', path, e);
  }
  return [];
});
