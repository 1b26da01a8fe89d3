// Window arithmetic of convolution and pooling ops (TensorFlow's), shared by their shape functions
// (ops/conv.ts) and both backends' kernels.
import type { AttrValue } from '../../src/graph.js';

export type DataFormat = 'NHWC' | 'NCHW';
export type Padding = 'SAME' | 'VALID' | 'EXPLICIT';

/** Positions of the batch, height, width and channel dims of a 4-D tensor in this layout. */
export function layoutDims(format: DataFormat): { n: number; h: number; w: number; c: number } {
  return format === 'NHWC' ? { n: 0, h: 1, w: 2, c: 3 } : { n: 0, c: 1, h: 2, w: 3 };
}

/**
 * One spatial dimension of a window op, as TensorFlow's GetWindowedOutputSizeVerbose computes it:
 * the output size and the padding before the first element. SAME pads (out-1)*stride + effective
 * filter - in in total, floor(total/2) of it before. Returns an error message instead when the
 * output size would be negative.
 */
export function windowedOutputSize(
  inSize: number,
  filterSize: number,
  dilation: number,
  stride: number,
  padding: Padding,
  explicit: readonly [number, number] = [0, 0],
): { size: number; padBefore: number } | string {
  const effective = (filterSize - 1) * dilation + 1;
  let size: number;
  let padBefore = 0;
  switch (padding) {
    case 'VALID':
      size = Math.trunc((inSize - effective + stride) / stride);
      break;
    case 'SAME': {
      size = Math.trunc((inSize + stride - 1) / stride);
      const total = Math.max(0, (size - 1) * stride + effective - inSize);
      padBefore = Math.floor(total / 2);
      break;
    }
    case 'EXPLICIT':
      size = Math.trunc((inSize + explicit[0] + explicit[1] - effective + stride) / stride);
      padBefore = explicit[0];
      break;
  }
  if (size < 0) {
    return `computed output size would be negative: ${size} [input size: ${inSize}, effective filter size: ${effective}, stride: ${stride}]`;
  }
  return { size, padBefore };
}

/** The attrs every window op reads, resolved to numbers: per spatial dim [height, width]. */
export interface WindowAttrs {
  format: DataFormat;
  padding: Padding;
  strides: [number, number];
  dilations: [number, number];
  /** [before, after] for height and width (EXPLICIT padding only). */
  explicit: [[number, number], [number, number]];
}

/**
 * Reads and validates strides, dilations, padding, explicit_paddings and data_format from an attr
 * lookup, failing through `fail` with TensorFlow's kind of message.
 */
export function readWindowAttrs(
  get: (name: string) => AttrValue | undefined,
  fail: (message: string) => never,
  opts: { dilations?: boolean; explicit?: boolean; listName?: string } = {},
): WindowAttrs {
  const format = (get('data_format') ?? 'NHWC') as string;
  if (format !== 'NHWC' && format !== 'NCHW') fail(`data_format must be 'NHWC' or 'NCHW', got '${format}'`);
  const dims = layoutDims(format);
  const spatialList = (name: string, dflt: number[] | undefined): [number, number] => {
    const v = (get(name) ?? dflt) as readonly number[] | undefined;
    if (!Array.isArray(v) || v.length !== 4) fail(`${name} must be a list of 4 ints, got ${JSON.stringify(v)}`);
    for (const x of v) if (!Number.isInteger(x) || x < 1) fail(`${name} must be positive integers, got [${v.join(', ')}]`);
    if (v[dims.n] !== 1 || v[dims.c] !== 1) {
      fail(`${name} [${v.join(', ')}] must be 1 in the batch and depth dimensions (${format}); only spatial ${name} are supported`);
    }
    return [v[dims.h]!, v[dims.w]!];
  };
  const strides = spatialList(opts.listName ?? 'strides', undefined);
  const dilations = opts.dilations ? spatialList('dilations', [1, 1, 1, 1]) : ([1, 1] as [number, number]);
  const padding = get('padding') as string;
  const allowed = opts.explicit ? ['SAME', 'VALID', 'EXPLICIT'] : ['SAME', 'VALID'];
  if (!allowed.includes(padding)) fail(`padding must be one of ${allowed.map((p) => `'${p}'`).join(', ')}, got '${padding}'`);
  const ep = (get('explicit_paddings') ?? []) as readonly number[];
  const explicit: [[number, number], [number, number]] = [
    [0, 0],
    [0, 0],
  ];
  if (padding === 'EXPLICIT') {
    if (ep.length !== 8) fail(`explicit_paddings must have 8 entries (a [before, after] pair per dimension), got ${ep.length}`);
    for (const x of ep) if (!Number.isInteger(x) || x < 0) fail(`explicit_paddings must be non-negative integers, got [${ep.join(', ')}]`);
    if (ep[2 * dims.n] || ep[2 * dims.n + 1] || ep[2 * dims.c] || ep[2 * dims.c + 1]) {
      fail(`explicit_paddings [${ep.join(', ')}] must be 0 in the batch and depth dimensions`);
    }
    explicit[0] = [ep[2 * dims.h]!, ep[2 * dims.h + 1]!];
    explicit[1] = [ep[2 * dims.w]!, ep[2 * dims.w + 1]!];
  } else if (ep.length !== 0) {
    fail(`explicit_paddings must be empty unless padding is 'EXPLICIT'`);
  }
  return { format, padding: padding as Padding, strides, dilations, explicit };
}
