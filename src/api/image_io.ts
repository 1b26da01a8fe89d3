// TF1 functions building the image codec and file ops (ops/image_io.ts): tf.image.decodePng and
// friends (also under tf.io, as in TF 1.15), tf.io.readFile / writeFile.
//
// weir has no uint8 or uint16 dtype: decoded images are int32 tensors holding uint8 (0..255) or
// uint16 (0..65535) values, as in TensorFlow.js; options take TF's 'uint8' / 'uint16' to choose.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { AttrValue, Graph, Operation, Tensor } from '../graph.js';
import { IMAGE_DECODERS } from '../../ops/image_io.js';

/** TF's pixel types, which weir keeps in int32 tensors. */
export type PixelDType = 'uint8' | 'uint16';

function scoped<T>(name: string, values: readonly unknown[], build: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => build(scope, g)));
}

/** An op of `type` on inputs converted to `dtypes`, named as TF names it. */
function op(type: string, inputs: readonly TensorLike[], inputNames: readonly string[], dtypes: readonly DType[], attrs: Record<string, AttrValue>, name: string | undefined): Operation {
  return scoped(name ?? type, inputs, (scope, g) =>
    g.createOp(
      type,
      inputs.map((x, i) => convertToTensor(x, dtypes[i], inputNames[i], inputNames[i])),
      attrs,
      { name: scope },
    ),
  );
}

function bitsOf(dtype: PixelDType | undefined, what: string): 8 | 16 {
  if (dtype === undefined || dtype === 'uint8') return 8;
  if (dtype === 'uint16') return 16;
  throw new InvalidArgumentError(`${what}: dtype must be 'uint8' or 'uint16', got '${String(dtype)}'`);
}

/**
 * The pixel type an int32 image holds when it comes straight from a decoder (8 or 16 bits), else
 * undefined: how convertImageDtype and encodePng tell a decoded uint8/uint16 image from plain int32.
 */
export function pixelBitsOf(image: Tensor): 8 | 16 | undefined {
  if (image.dtype !== 'int32' || !IMAGE_DECODERS.includes(image.op.type)) return undefined;
  return image.op.attrs.pixel_bits === 16 ? 16 : 8;
}

export interface DecodePngOptions {
  /** 0 (the file's own), 1 (gray), 3 (RGB) or 4 (RGBA). */
  channels?: number;
  /** uint8 (default) or uint16 values, held in an int32 tensor. */
  dtype?: PixelDType;
  name?: string;
}

/** tf.image.decode_png: [height, width, channels] pixels of a PNG file's bytes (a string scalar). */
export function decodePng(contents: TensorLike, opts: DecodePngOptions = {}): Tensor {
  const attrs = { channels: opts.channels ?? 0, dtype: 'int32', pixel_bits: bitsOf(opts.dtype, 'decodePng') };
  return op('DecodePng', [contents], ['contents'], ['string'], attrs, opts.name).outputs[0]!;
}

export interface EncodePngOptions {
  /** zlib level 0..9, -1 for the default. */
  compression?: number;
  /** The pixel type the int32 image holds: uint8 (values 0..255) or uint16; default: as decoded, else uint8. */
  dtype?: PixelDType;
  name?: string;
}

/** tf.image.encode_png: a 3-D image [height, width, 1..4] as the bytes of a PNG file. */
export function encodePng(image: TensorLike, opts: EncodePngOptions = {}): Tensor {
  return scoped(opts.name ?? 'EncodePng', [image], (scope, g) => {
    const x = convertToTensor(image, 'int32', 'image', 'image');
    const bits = opts.dtype !== undefined ? bitsOf(opts.dtype, 'encodePng') : (pixelBitsOf(x) ?? 8);
    return g.createOp('EncodePng', [x], { compression: opts.compression ?? -1, T: 'int32', pixel_bits: bits }, { name: scope }).outputs[0]!;
  });
}

export interface DecodeJpegOptions {
  /** 0 (the file's own), 1 (gray: the luma channel) or 3 (RGB). */
  channels?: number;
  /** Only 1 is implemented (downscaling while decoding is not). */
  ratio?: number;
  fancyUpscaling?: boolean;
  tryRecoverTruncated?: boolean;
  acceptableFraction?: number;
  dctMethod?: string;
  name?: string;
}

/** tf.image.decode_jpeg: [height, width, channels] uint8 pixels (in int32) of a JPEG file's bytes. */
export function decodeJpeg(contents: TensorLike, opts: DecodeJpegOptions = {}): Tensor {
  const attrs = {
    channels: opts.channels ?? 0,
    ratio: opts.ratio ?? 1,
    fancy_upscaling: opts.fancyUpscaling ?? true,
    try_recover_truncated: opts.tryRecoverTruncated ?? false,
    acceptable_fraction: opts.acceptableFraction ?? 1,
    dct_method: opts.dctMethod ?? '',
  };
  return op('DecodeJpeg', [contents], ['contents'], ['string'], attrs, opts.name).outputs[0]!;
}

export interface EncodeJpegOptions {
  /** '' (from the channels), 'grayscale' (1 channel) or 'rgb' (3). */
  format?: '' | 'grayscale' | 'rgb';
  /** 0..100, default 95. */
  quality?: number;
  progressive?: boolean;
  optimizeSize?: boolean;
  chromaDownsampling?: boolean;
  densityUnit?: 'in' | 'cm';
  xDensity?: number;
  yDensity?: number;
  xmpMetadata?: string;
  name?: string;
}

/**
 * tf.image.encode_jpeg: a 3-D uint8 image (in int32) [height, width, 1 or 3] as a baseline JPEG
 * (jpeg-js: 4:4:4, always three components; progressive, optimizeSize, chromaDownsampling, the
 * density and XMP metadata are accepted and do not change the pixels).
 */
export function encodeJpeg(image: TensorLike, opts: EncodeJpegOptions = {}): Tensor {
  const attrs = {
    format: opts.format ?? '',
    quality: opts.quality ?? 95,
    progressive: opts.progressive ?? false,
    optimize_size: opts.optimizeSize ?? false,
    chroma_downsampling: opts.chromaDownsampling ?? true,
    density_unit: opts.densityUnit ?? 'in',
    x_density: opts.xDensity ?? 300,
    y_density: opts.yDensity ?? 300,
    xmp_metadata: opts.xmpMetadata ?? '',
  };
  return op('EncodeJpeg', [image], ['image'], ['int32'], attrs, opts.name).outputs[0]!;
}

export interface DecodeImageOptions {
  /** 0 (the file's own), 1, 3 or 4. */
  channels?: number;
  /** uint8 (default) or uint16 values in int32, or float32 in [0, 1]. */
  dtype?: PixelDType | 'float32';
  /** As TensorFlow's: true leaves the rank unknown (a GIF would be 4-D); false gives [h, w, c]. */
  expandAnimations?: boolean;
  name?: string;
}

/** tf.image.decode_image: a PNG, JPEG or BMP file's pixels, the format told by its first bytes. */
export function decodeImage(contents: TensorLike, opts: DecodeImageOptions = {}): Tensor {
  const float = opts.dtype === 'float32';
  const attrs = {
    channels: opts.channels ?? 0,
    dtype: float ? 'float32' : 'int32',
    pixel_bits: float ? 8 : bitsOf(opts.dtype as PixelDType | undefined, 'decodeImage'),
    expand_animations: opts.expandAnimations ?? true,
  };
  return op('DecodeImage', [contents], ['contents'], ['string'], attrs, opts.name ?? 'decode_image').outputs[0]!;
}

export interface DecodeBmpOptions {
  channels?: number;
  name?: string;
}

/** tf.image.decode_bmp: the pixels of an uncompressed 24- or 32-bit BMP file. */
export function decodeBmp(contents: TensorLike, opts: DecodeBmpOptions = {}): Tensor {
  return op('DecodeBmp', [contents], ['contents'], ['string'], { channels: opts.channels ?? 0 }, opts.name).outputs[0]!;
}

/**
 * tf.io.read_file (tf.read_file): the bytes of a file as a string scalar, read when the graph runs
 * (Node's file system; see the ReadFile kernel).
 */
export function readFile(filename: TensorLike, name?: string): Tensor {
  return op('ReadFile', [filename], ['filename'], ['string'], {}, name).outputs[0]!;
}

/** tf.io.write_file (tf.write_file): an op writing `contents` to the file, atomically, when it runs. */
export function writeFile(filename: TensorLike, contents: TensorLike, name?: string): Operation {
  return op('WriteFile', [filename, contents], ['filename', 'contents'], ['string', 'string'], {}, name);
}
