// Geometry of 2-D window ops (convolution, pooling) as every backend's kernels compute it, with
// the same errors.
import { InvalidArgumentError } from '../src/core/errors.js';
import { formatShape } from '../src/core/shape.js';
import { layoutDims, readWindowAttrs, windowedOutputSize, type DataFormat, type WindowAttrs } from '../ops/semantics/window.js';
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
