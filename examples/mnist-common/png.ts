// PNG pictures for the MNIST examples: grids of digits and scatter plots coloured by digit label.
import { encode } from 'fast-png';
import { IMAGE_SIZE, NUM_CLASSES } from './data.js';

export const SIDE = 28;

/** Width and height, in pixels, of a grid of `count` digits with `cols` per row and `gap`-pixel gutters. */
export function gridSize(count: number, cols: number, gap = 2): { width: number; height: number } {
  const rows = Math.ceil(count / cols);
  return { width: cols * (SIDE + gap) + gap, height: rows * (SIDE + gap) + gap };
}

/**
 * Tiles 28x28 grey images (`images`: IMAGE_SIZE values each, row-major, 0 black to 1 white;
 * values outside are clipped) row by row, `cols` per row, into one 8-bit greyscale PNG.
 */
export function digitGridPng(images: Float32Array, cols: number, gap = 2): Uint8Array {
  if (images.length === 0 || images.length % IMAGE_SIZE !== 0) {
    throw new Error(`digitGridPng: expected a whole number of ${IMAGE_SIZE}-value images, got ${images.length} values`);
  }
  const count = images.length / IMAGE_SIZE;
  const { width, height } = gridSize(count, cols, gap);
  const data = new Uint8Array(width * height);
  for (let k = 0; k < count; k++) {
    const ox = gap + (k % cols) * (SIDE + gap);
    const oy = gap + Math.floor(k / cols) * (SIDE + gap);
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE; c++) {
        const v = images[k * IMAGE_SIZE + r * SIDE + c]!;
        data[(oy + r) * width + ox + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
    }
  }
  return encode({ width, height, data, channels: 1, depth: 8 });
}

/** One colour per digit label (matplotlib's tab10, as the classic scatter of a VAE's latent means). */
export const LABEL_COLOURS: readonly (readonly [number, number, number])[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

// The digits 0-9 as 3x5 bitmaps (each row's three bits, left pixel first), for the legend.
const DIGIT_GLYPHS = [
  [7, 5, 5, 5, 7],
  [2, 6, 2, 2, 7],
  [7, 1, 7, 4, 7],
  [7, 1, 7, 1, 7],
  [5, 5, 7, 1, 1],
  [7, 4, 7, 1, 7],
  [7, 4, 7, 5, 7],
  [7, 1, 1, 1, 1],
  [7, 5, 7, 5, 7],
  [7, 5, 7, 1, 7],
];

/**
 * An RGB PNG, `size` pixels square, of points (`xy`: x0, y0, x1, y1, ...) coloured by `labels`
 * (0-9), scaled to fit the box with y pointing up, and a legend of the ten colours down the right edge.
 */
export function labelScatterPng(xy: Float32Array, labels: Int32Array, size = 600): Uint8Array {
  const n = labels.length;
  if (xy.length !== 2 * n) throw new Error(`labelScatterPng: ${n} labels need ${2 * n} coordinates, got ${xy.length}`);
  const data = new Uint8Array(size * size * 3).fill(255);
  const put = (x: number, y: number, rgb: readonly [number, number, number]): void => {
    if (x >= 0 && y >= 0 && x < size && y < size) data.set(rgb, (y * size + x) * 3);
  };
  let [minX, maxX, minY, maxY] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, xy[2 * i]!);
    maxX = Math.max(maxX, xy[2 * i]!);
    minY = Math.min(minY, xy[2 * i + 1]!);
    maxY = Math.max(maxY, xy[2 * i + 1]!);
  }
  const margin = 12;
  const legend = 40;
  const plot = size - 2 * margin;
  const px = (v: number) => Math.round(margin + ((v - minX) / (maxX - minX || 1)) * (plot - legend));
  const py = (v: number) => Math.round(size - margin - ((v - minY) / (maxY - minY || 1)) * plot);
  for (let i = 0; i < n; i++) {
    const label = labels[i]!;
    if (!(label >= 0 && label < NUM_CLASSES)) throw new Error(`labelScatterPng: label ${label} at ${i} is not a digit`);
    const x = px(xy[2 * i]!);
    const y = py(xy[2 * i + 1]!);
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) put(x + dx, y + dy, LABEL_COLOURS[label]!);
  }
  const scale = 3;
  for (let d = 0; d < NUM_CLASSES; d++) {
    const x0 = size - legend + 4;
    const y0 = margin + d * 6 * scale;
    for (let dy = 0; dy < 5 * scale; dy++) for (let dx = 0; dx < 4 * scale; dx++) put(x0 + dx, y0 + dy, LABEL_COLOURS[d]!);
    DIGIT_GLYPHS[d]!.forEach((bits, r) => {
      for (let c = 0; c < 3; c++) {
        if (!(bits & (4 >> c))) continue;
        for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) put(x0 + 5 * scale + c * scale + sx, y0 + r * scale + sy, [0, 0, 0]);
      }
    });
  }
  return encode({ width: size, height: size, data, channels: 3, depth: 8 });
}
