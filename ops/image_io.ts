// Image codecs (PNG, JPEG, and DecodeImage's sniffing of them) and the file ops ReadFile and
// WriteFile, with TensorFlow's op and attr names (tensorflow/core/ops/image_ops.cc, io_ops.cc).
// Their values are byte strings, so they run on the host on every backend; TensorFlow registers no
// gradient for any of them.
//
// weir has no uint8 or uint16 dtype: pixels travel in int32 tensors (as in TensorFlow.js), holding
// TF's uint8 values (0..255) or uint16 values (0..65535). The attr `pixel_bits` (8 or 16) stands
// for TF's choice of uint8 or uint16 (DecodePng's and DecodeImage's `dtype`, EncodePng's `T`); the
// `dtype` and `T` attrs hold the weir dtype of the pixels.
import type { DType } from '../src/core/dtypes.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { checkDType, checkScalar, optAttr, withRank } from './util.js';

const STRING: readonly DType[] = ['string'];
const PIXELS: readonly DType[] = ['int32'];

/** The op types that decode images, by the pixel bits they give (read by convertImageDtype through `pixelBitsOf`). */
export const IMAGE_DECODERS: readonly string[] = ['DecodePng', 'DecodeJpeg', 'DecodeImage', 'DecodeBmp'];

/** Channel counts each decoder accepts for its `channels` attr (0: the file's own). */
export const DECODER_CHANNELS: Readonly<Record<string, readonly number[]>> = {
  DecodePng: [0, 1, 3, 4],
  DecodeJpeg: [0, 1, 3],
  DecodeImage: [0, 1, 3, 4],
  DecodeBmp: [0, 1, 3, 4],
};

function checkPixelBits(ctx: ShapeContext): number {
  const bits = optAttr(ctx, 'pixel_bits', 8);
  if (bits !== 8 && bits !== 16) ctx.fail(`pixel_bits must be 8 (uint8) or 16 (uint16), got ${bits}`);
  return bits;
}

function checkChannels(ctx: ShapeContext): number {
  const channels = optAttr(ctx, 'channels', 0);
  const allowed = DECODER_CHANNELS[ctx.opType]!;
  if (!allowed.includes(channels)) ctx.fail(`channels must be one of ${allowed.join(', ')}, got ${channels}`);
  return channels;
}

/** TF's DecodeImageShapeFn: a scalar of bytes in, [height, width, channels] out (channels unknown when 0). */
function decodeShape(ctx: ShapeContext, dtype: DType): OutputSpec[] {
  checkDType(ctx, 0, STRING, 'contents');
  checkScalar(ctx, 0, 'contents');
  const channels = checkChannels(ctx);
  return [{ dtype, shape: [null, null, channels === 0 ? null : channels] }];
}

/** TF's EncodeImageShapeFn: a 3-D image in, a scalar of bytes out. */
function encodeShape(ctx: ShapeContext, channels: readonly number[]): OutputSpec[] {
  checkDType(ctx, 0, PIXELS, 'image');
  const [, , c] = withRank(ctx, 0, 3, 'image');
  if (c !== null && !channels.includes(c)) ctx.fail(`image must have ${channels.join(', ')} channels, got ${c}`);
  return [{ dtype: 'string', shape: [] }];
}

registerOp({
  type: 'DecodePng',
  inputs: ['contents'],
  attrs: { channels: 'int', dtype: 'type', pixel_bits: 'int' },
  shape: (ctx) => {
    checkPixelBits(ctx);
    if (optAttr<DType>(ctx, 'dtype', 'int32') !== 'int32') ctx.fail(`dtype must be int32 (weir's carrier of uint8 and uint16 pixels), got ${ctx.attr('dtype')}`);
    return decodeShape(ctx, 'int32');
  },
  grad: null,
});

registerOp({
  type: 'EncodePng',
  inputs: ['image'],
  attrs: { compression: 'int', T: 'type', pixel_bits: 'int' },
  shape: (ctx) => {
    checkPixelBits(ctx);
    const c = optAttr(ctx, 'compression', -1);
    if (!(Number.isInteger(c) && c >= -1 && c <= 9)) ctx.fail(`compression must be in [-1, 9], got ${c}`);
    return encodeShape(ctx, [1, 2, 3, 4]);
  },
  grad: null,
});

registerOp({
  type: 'DecodeJpeg',
  inputs: ['contents'],
  attrs: { channels: 'int', ratio: 'int', fancy_upscaling: 'bool', try_recover_truncated: 'bool', acceptable_fraction: 'float', dct_method: 'string' },
  shape: (ctx) => {
    const ratio = optAttr(ctx, 'ratio', 1);
    if (ratio !== 1 && ratio !== 2 && ratio !== 4 && ratio !== 8) ctx.fail(`ratio must be 1, 2, 4 or 8, got ${ratio}`);
    return decodeShape(ctx, 'int32');
  },
  grad: null,
});

registerOp({
  type: 'EncodeJpeg',
  inputs: ['image'],
  attrs: {
    format: 'string',
    quality: 'int',
    progressive: 'bool',
    optimize_size: 'bool',
    chroma_downsampling: 'bool',
    density_unit: 'string',
    x_density: 'int',
    y_density: 'int',
    xmp_metadata: 'string',
  },
  shape: (ctx) => {
    const format = optAttr<string>(ctx, 'format', '');
    if (format !== '' && format !== 'grayscale' && format !== 'rgb') ctx.fail(`format must be '', 'grayscale' or 'rgb', got '${format}'`);
    const quality = optAttr(ctx, 'quality', 95);
    if (!(Number.isInteger(quality) && quality >= 0 && quality <= 100)) ctx.fail(`quality must be in [0, 100], got ${quality}`);
    const unit = optAttr(ctx, 'density_unit', 'in');
    if (unit !== 'in' && unit !== 'cm') ctx.fail(`density_unit must be 'in' or 'cm', got '${unit}'`);
    return encodeShape(ctx, format === 'grayscale' ? [1] : format === 'rgb' ? [3] : [1, 3]);
  },
  grad: null,
});

registerOp({
  type: 'DecodeImage',
  inputs: ['contents'],
  attrs: { channels: 'int', dtype: 'type', pixel_bits: 'int', expand_animations: 'bool' },
  shape: (ctx) => {
    checkPixelBits(ctx);
    const dtype = optAttr<DType>(ctx, 'dtype', 'int32');
    if (dtype !== 'int32' && dtype !== 'float32') ctx.fail(`dtype must be int32 (uint8/uint16 pixels) or float32, got ${dtype}`);
    const [spec] = decodeShape(ctx, dtype);
    // As TensorFlow's: with expand_animations a GIF gives [frames, h, w, c], so the rank is unknown.
    return [optAttr(ctx, 'expand_animations', true) ? { dtype, shape: null } : spec!];
  },
  grad: null,
});

registerOp({
  type: 'DecodeBmp',
  inputs: ['contents'],
  attrs: { channels: 'int' },
  shape: (ctx) => decodeShape(ctx, 'int32'),
  grad: null,
});

registerOp({
  type: 'ReadFile',
  inputs: ['filename'],
  // Not folded, reordered or deduplicated: the file may change between runs.
  stateful: true,
  shape: (ctx) => {
    checkDType(ctx, 0, STRING, 'filename');
    checkScalar(ctx, 0, 'filename');
    return [{ dtype: 'string', shape: [] }];
  },
  grad: null,
});

registerOp({
  type: 'WriteFile',
  inputs: ['filename', 'contents'],
  stateful: true,
  shape: (ctx) => {
    checkDType(ctx, 0, STRING, 'filename');
    checkScalar(ctx, 0, 'filename');
    checkDType(ctx, 1, STRING, 'contents');
    checkScalar(ctx, 1, 'contents');
    return [];
  },
  grad: null,
});
