// Geometry of 2-D window ops (convolution, pooling) as every backend's kernels compute it, with
// the same errors.
import { InvalidArgumentError } from '../src/core/errors.js';
import { formatShape } from '../src/core/shape.js';
import { layoutDims, readWindowAttrs, windowedOutputSize, type DataFormat, type Padding, type WindowAttrs } from '../ops/semantics/window.js';
import type { KernelNode } from './backend.js';

/** Everything a 2-D window op needs to know, in NHWC terms. */
export interface Geom {
  N: number;
  H: number;
  W: number;
  C: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  sH: number;
  sW: number;
  dH: number;
  dW: number;
  padT: number;
  padL: number;
}

export function fail(message: string): never {
  throw new InvalidArgumentError(message);
}

export function windowAttrs(node: KernelNode, opts: { dilations?: boolean; explicit?: boolean; listName?: string }): WindowAttrs {
  return readWindowAttrs((n) => node.attrs[n], fail, opts);
}

export function geometry(a: WindowAttrs, N: number, H: number, W: number, C: number, KH: number, KW: number): Geom {
  const h = windowedOutputSize(H, KH, a.dilations[0], a.strides[0], a.padding, a.explicit[0]);
  if (typeof h === 'string') fail(h);
  const w = windowedOutputSize(W, KW, a.dilations[1], a.strides[1], a.padding, a.explicit[1]);
  if (typeof w === 'string') fail(w);
  return {
    N, H, W, C, KH, KW,
    OH: h.size,
    OW: w.size,
    sH: a.strides[0],
    sW: a.strides[1],
    dH: a.dilations[0],
    dW: a.dilations[1],
    padT: h.padBefore,
    padL: w.padBefore,
  };
}

/** [N, H, W, C] of a 4-D shape in the given layout. */
export function nhwc(shape: readonly number[], format: DataFormat, what: string): [number, number, number, number] {
  if (shape.length !== 4) fail(`${what} must be 4-dimensional, got shape ${formatShape(shape)}`);
  const d = layoutDims(format);
  return [shape[d.n]!, shape[d.h]!, shape[d.w]!, shape[d.c]!];
}

export function layoutShape(format: DataFormat, n: number, h: number, w: number, c: number): number[] {
  return format === 'NHWC' ? [n, h, w, c] : [n, c, h, w];
}

// ---- 3-D windows (Conv3D, MaxPool3D, AvgPool3D and their gradients) ----

export type Format3D = 'NDHWC' | 'NCDHW';

export interface Window3D {
  format: Format3D;
  padding: Padding;
  strides: number[];
  ksize: number[];
  dilations: number[];
}

export function spatialAxes(format: Format3D): { n: number; c: number; s: [number, number, number] } {
  return format === 'NDHWC' ? { n: 0, c: 4, s: [1, 2, 3] } : { n: 0, c: 1, s: [2, 3, 4] };
}

/** The attrs of a 3-D window op (as ops/conv3d.ts validates them when the op is made). */
export function window3d(node: KernelNode, opts: { ksize?: boolean; dilations?: boolean }): Window3D {
  const format = (node.attrs.data_format ?? 'NDHWC') as string;
  if (format !== 'NDHWC' && format !== 'NCDHW') fail(`data_format must be 'NDHWC' or 'NCDHW', got '${format}'`);
  const ax = spatialAxes(format);
  const list = (name: string, dflt?: number[]): number[] => {
    const v = (node.attrs[name] ?? dflt) as readonly number[] | undefined;
    if (!Array.isArray(v) || v.length !== 5 || v.some((x) => !Number.isInteger(x) || x < 1) || v[ax.n] !== 1 || v[ax.c] !== 1) {
      fail(`${name} must be 5 positive ints, 1 in the batch and channel dimensions (${format}), got ${JSON.stringify(v)}`);
    }
    return ax.s.map((i) => v[i]!);
  };
  const padding = node.attrs.padding as string;
  if (padding !== 'SAME' && padding !== 'VALID') fail(`padding must be 'SAME' or 'VALID', got '${padding}'`);
  return {
    format,
    padding,
    strides: list('strides'),
    ksize: opts.ksize ? list('ksize') : [1, 1, 1],
    dilations: opts.dilations ? list('dilations', [1, 1, 1, 1, 1]) : [1, 1, 1],
  };
}

/** [N, D, H, W, C] of a 5-D shape in the given layout. */
export function ndhwc(shape: readonly number[], format: Format3D, what: string): number[] {
  if (shape.length !== 5) fail(`${what} must be 5-dimensional, got shape ${formatShape(shape)}`);
  const ax = spatialAxes(format);
  return [shape[ax.n]!, ...ax.s.map((i) => shape[i]!), shape[ax.c]!];
}

export function layoutShape3d(format: Format3D, N: number, s: readonly number[], C: number): number[] {
  return format === 'NDHWC' ? [N, s[0]!, s[1]!, s[2]!, C] : [N, C, s[0]!, s[1]!, s[2]!];
}
