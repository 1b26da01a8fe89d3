// What the convolution tests check the CPU kernels against: TensorFlow's Conv2D and its gradients
// summed in float64 straight from the definition, tap by tap, and the inputs they feed them.
import type { Geom } from '../runtime/window_geometry.js';
import { heapRegion } from '../runtime/cpu/heap.js';
import { rng } from './helpers.js';

/** n floats in a heap region (where a plan's arena puts an operand), else an ordinary array. */
export function inHeap(n: number): Float32Array {
  const region = heapRegion(n * 4 + 64);
  return region === null ? new Float32Array(n) : new Float32Array(region.buffer, region.byteOffset, n);
}

/** n floats uniform in [-1, 1) from `seed`, written into `into` when given (a heap region). */
export function randFloats(n: number, seed: number, into?: Float32Array): Float32Array {
  const r = rng(seed);
  const a = into ?? new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

/** A geometry with explicit padding [top, bottom, left, right] (bottom and right may differ from top and left). */
export function convGeom(N: number, H: number, W: number, C: number, KH: number, KW: number, s: readonly [number, number], d: readonly [number, number], pad: readonly number[]): Geom {
  const [padT, padB, padL, padR] = pad as [number, number, number, number];
  const OH = Math.floor((H + padT + padB - d[0] * (KH - 1) - 1) / s[0]) + 1;
  const OW = Math.floor((W + padL + padR - d[1] * (KW - 1) - 1) / s[1]) + 1;
  return { N, H, W, C, KH, KW, OH, OW, sH: s[0], sW: s[1], dH: d[0], dW: d[1], padT, padL };
}

/**
 * y = Conv2D(x, f), dx and df its gradients for output gradient dy, in float64: y[n, oh, ow, oc] is
 * the sum of x[n, oh*sH - padT + kh*dH, ow*sW - padL + kw*dW, c] * f[kh, kw, c, oc] over the taps
 * inside x (NHWC data, HWIO filter).
 */
export function naiveConv(g: Geom, OC: number, x: Float32Array, f: Float32Array, dy: Float32Array): { y: Float64Array; dx: Float64Array; df: Float64Array } {
  const y = new Float64Array(g.N * g.OH * g.OW * OC);
  const dx = new Float64Array(x.length);
  const df = new Float64Array(f.length);
  for (let n = 0; n < g.N; n++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++)
        for (let kh = 0; kh < g.KH; kh++)
          for (let kw = 0; kw < g.KW; kw++) {
            const ih = oh * g.sH - g.padT + kh * g.dH;
            const iw = ow * g.sW - g.padL + kw * g.dW;
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
            for (let c = 0; c < g.C; c++) {
              const xi = ((n * g.H + ih) * g.W + iw) * g.C + c;
              for (let oc = 0; oc < OC; oc++) {
                const fi = ((kh * g.KW + kw) * g.C + c) * OC + oc;
                const yi = ((n * g.OH + oh) * g.OW + ow) * OC + oc;
                y[yi]! += x[xi]! * f[fi]!;
                dx[xi]! += dy[yi]! * f[fi]!;
                df[fi]! += x[xi]! * dy[yi]!;
              }
            }
          }
  return { y, dx, df };
}
