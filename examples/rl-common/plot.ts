// A small line plot drawn straight into pixels and written as a PNG (fast-png): the return of
// each training episode, its 100-episode moving average and the solved threshold.
import { encode } from 'fast-png';
import { MovingAverage, SOLVE_EPISODES } from './training.js';

export type Rgb = readonly [number, number, number];

export interface Series {
  values: readonly number[];
  color: Rgb;
  /** Line width in pixels (default 1). */
  width?: number;
}

export interface PlotOptions {
  width?: number;
  height?: number;
  /** Horizontal reference lines, dashed. */
  references?: { y: number; color: Rgb }[];
  /** Points drawn as small squares, at x (1-based, as the series) and y. */
  markers?: { x: number; y: number; color: Rgb }[];
}

// 3x5 digits, a row of three bits per line, top first.
const DIGITS = ['111101101101111', '010110010010111', '111001111100111', '111001111001111', '101101111001001', '111100111001111', '111100111101111', '111001001001001', '111101111101111', '111101111001111'];
const GLYPH_SCALE = 2;

/** A round tick spacing (1, 2 or 5 times a power of ten) giving at most `maxTicks` ticks over `span`. */
export function tickStep(span: number, maxTicks: number): number {
  const raw = span / Math.max(1, maxTicks);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

class Canvas {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data.set(c, (y * this.width + x) * 3);
  }

  /** A straight line by Bresenham's algorithm, `thickness` pixels thick (a square brush). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1, dash = 0): void {
    [x0, y0, x1, y1] = [x0, y0, x1, y1].map(Math.round) as [number, number, number, number];
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    const lo = -Math.floor((thickness - 1) / 2);
    for (let n = 0; ; n++) {
      if (dash === 0 || Math.floor(n / dash) % 2 === 0) {
        for (let i = lo; i < lo + thickness; i++) for (let j = lo; j < lo + thickness; j++) this.set(x0 + i, y0 + j, c);
      }
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** A non-negative number in the digit font; `anchor` says which end of the text sits at x. */
  text(value: number, x: number, y: number, c: Rgb, anchor: 'left' | 'right' | 'center'): void {
    const s = String(value);
    const advance = 4 * GLYPH_SCALE;
    const w = s.length * advance - GLYPH_SCALE;
    let left = anchor === 'left' ? x : anchor === 'right' ? x - w : x - w / 2;
    for (const ch of s) {
      const glyph = DIGITS[ch.charCodeAt(0) - 48];
      if (glyph !== undefined) {
        for (let r = 0; r < 5; r++) {
          for (let col = 0; col < 3; col++) {
            if (glyph[r * 3 + col] !== '1') continue;
            for (let i = 0; i < GLYPH_SCALE; i++) for (let j = 0; j < GLYPH_SCALE; j++) this.set(left + col * GLYPH_SCALE + i, y + r * GLYPH_SCALE + j, c);
          }
        }
      } else if (ch === '.') {
        for (let i = 0; i < GLYPH_SCALE; i++) for (let j = 0; j < GLYPH_SCALE; j++) this.set(left + GLYPH_SCALE + i, y + 4 * GLYPH_SCALE + j, c);
      }
      left += advance;
    }
  }
}

const AXIS: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];

/** Series over x = 1..n (n the longest series), on axes with round ticks, as PNG bytes. */
export function linePlotPng(series: readonly Series[], opts: PlotOptions = {}): Uint8Array {
  const width = opts.width ?? 640;
  const height = opts.height ?? 320;
  const canvas = new Canvas(width, height);
  const [left, right, top, bottom] = [48, width - 12, 10, height - 24];
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const ys = [...series.flatMap((s) => s.values), ...(opts.references ?? []).map((r) => r.y), ...(opts.markers ?? []).map((p) => p.y)].filter(Number.isFinite);
  let yMin = Math.min(0, ...ys);
  let yMax = Math.max(...ys, yMin + 1e-9);
  const yStep = tickStep(yMax - yMin, 5);
  yMin = Math.floor(yMin / yStep) * yStep;
  yMax = Math.ceil(yMax / yStep) * yStep;
  const px = (i: number): number => left + ((i - 1) / (n - 1)) * (right - left);
  const py = (v: number): number => bottom - ((v - yMin) / (yMax - yMin)) * (bottom - top);
  const decimals = Math.max(0, -Math.floor(Math.log10(yStep)));

  for (let v = yMin; v <= yMax + yStep / 2; v += yStep) {
    canvas.line(left, py(v), right, py(v), GRID);
    canvas.text(Number(v.toFixed(decimals)), left - 6, py(v) - 5, AXIS, 'right');
  }
  const xStep = tickStep(n, 8);
  for (let x = xStep; x <= n; x += xStep) {
    canvas.line(px(x), top, px(x), bottom, GRID);
    canvas.text(x, px(x), bottom + 6, AXIS, 'center');
  }
  canvas.line(left, top, left, bottom, AXIS);
  canvas.line(left, bottom, right, bottom, AXIS);
  for (const r of opts.references ?? []) canvas.line(left, py(r.y), right, py(r.y), r.color, 1, 6);
  for (const s of series) {
    for (let i = 1; i < s.values.length; i++) {
      canvas.line(px(i), py(s.values[i - 1]!), px(i + 1), py(s.values[i]!), s.color, s.width ?? 1);
    }
  }
  for (const p of opts.markers ?? []) {
    for (let i = -2; i <= 2; i++) for (let j = -2; j <= 2; j++) canvas.set(px(p.x) + i, py(p.y) + j, p.color);
  }
  return encode({ width, height, data: canvas.data, channels: 3, depth: 8 });
}

/**
 * The returns of the training episodes (light blue), their 100-episode moving average (dark blue),
 * the threshold (red, dashed) and the average return of each evaluation (orange squares).
 */
export function returnCurvePng(returns: readonly number[], threshold: number, evaluations: readonly { episode: number; mean: number }[] = []): Uint8Array {
  const average = new MovingAverage(SOLVE_EPISODES);
  const averages = returns.map((r) => average.push(r));
  return linePlotPng(
    [
      { values: returns, color: [160, 190, 230] },
      { values: averages, color: [20, 60, 160], width: 2 },
    ],
    {
      references: [{ y: threshold, color: [210, 40, 40] }],
      markers: evaluations.map((e) => ({ x: e.episode, y: e.mean, color: [240, 140, 20] as Rgb })),
    },
  );
}
