import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { afterAll, beforeAll, expect } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';

/** Deterministic PRNG (mulberry32) for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random NDArray: floats uniform in [min, max); ints in [min, max); bools fair coin. */
export function randomArray(
  shape: number[],
  opts: { seed?: number; min?: number; max?: number; dtype?: DType } = {},
): tf.NDArray {
  const r = rng(opts.seed ?? 1);
  const dtype = opts.dtype ?? 'float32';
  const min = opts.min ?? -1;
  const max = opts.max ?? 1;
  const n = shape.reduce((a, b) => a * b, 1);
  switch (dtype) {
    case 'float32':
      return new tf.NDArray(Float32Array.from({ length: n }, () => min + (max - min) * r()), shape);
    case 'int32':
      return new tf.NDArray(Int32Array.from({ length: n }, () => Math.floor(min + (max - min) * r())), shape);
    case 'int64':
      return new tf.NDArray(BigInt64Array.from({ length: n }, () => BigInt(Math.floor(min + (max - min) * r()))), shape);
    case 'bool':
      return new tf.NDArray(Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0)), shape, 'bool');
    case 'string':
      return tf.NDArray.from(Array.from({ length: n }, () => r().toString(36).slice(2, 7)), 'string', shape);
    case 'complex64':
      return new tf.NDArray(Float32Array.from({ length: 2 * n }, () => min + (max - min) * r()), shape, 'complex64');
    case 'variant':
      throw new Error('no random variant values');
  }
}

/** Random rows (over the last axis) that sum to 1, each entry drawn from [min, 1) before normalizing. */
export function randomDistribution(shape: number[], seed: number, min: number): tf.NDArray {
  const x = randomArray(shape, { seed, min, max: 1 });
  const c = shape[shape.length - 1]!;
  const d = x.data as Float32Array;
  for (let r = 0; r < d.length / c; r++) {
    let s = 0;
    for (let j = 0; j < c; j++) s += d[r * c + j]!;
    for (let j = 0; j < c; j++) d[r * c + j] = d[r * c + j]! / s;
  }
  return x;
}

/** Runs fetches in a fresh session over the fetches' graph (default graph otherwise). */
export async function run<F extends tf.Fetches>(fetches: F, feeds?: tf.FeedDict, graph?: tf.Graph): Promise<tf.FetchResult<F>> {
  const sess = new tf.Session({ graph: graph ?? graphOf(fetches) });
  try {
    return await sess.run(fetches, feeds);
  } finally {
    sess.close();
  }
}

function graphOf(f: unknown): tf.Graph | undefined {
  if (f instanceof tf.Tensor || f instanceof tf.Operation) return f.graph;
  if (f instanceof tf.Variable) return f.graph;
  if (Array.isArray(f)) {
    for (const x of f) {
      const g = graphOf(x);
      if (g) return g;
    }
  } else if (f && typeof f === 'object') {
    for (const x of Object.values(f)) {
      const g = graphOf(x);
      if (g) return g;
    }
  }
  return undefined;
}

/** Elementwise closeness, NaN == NaN, with a helpful message. */
export function expectClose(
  actual: tf.NDArray,
  expected: tf.NDArray | ArrayLike<number> | number,
  opts: { atol?: number; rtol?: number; shape?: number[] } = {},
): void {
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-4;
  let exp: ArrayLike<number>;
  if (expected instanceof tf.NDArray) {
    expect(actual.shape, 'shape').toEqual(expected.shape);
    exp = Array.from(expected.data as ArrayLike<number | bigint>, Number);
  } else if (typeof expected === 'number') {
    exp = [expected];
  } else {
    exp = expected;
  }
  if (opts.shape) expect(actual.shape, 'shape').toEqual(opts.shape);
  const act = Array.from(actual.data as ArrayLike<number | bigint>, Number);
  expect(act.length, 'number of elements').toBe(exp.length);
  for (let i = 0; i < act.length; i++) {
    const a = act[i]!;
    const e = exp[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const ok = Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol}); shape [${actual.shape}]`);
    }
  }
}

let tfjsPromise: Promise<typeof import('@tensorflow/tfjs-core')> | undefined;
/** TensorFlow.js core with its CPU backend: the independent oracle for kernel tests. */
export function tfjs(): Promise<typeof import('@tensorflow/tfjs-core')> {
  tfjsPromise ??= (async () => {
    const core = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await core.setBackend('cpu');
    return core;
  })();
  return tfjsPromise;
}

/** Converts an oracle tensor's values to an NDArray for comparison. */
export async function fromTfjs(t: { shape: number[]; dtype: string; data(): Promise<ArrayLike<number>> }): Promise<tf.NDArray> {
  const d = await t.data();
  if (t.dtype === 'bool') return new tf.NDArray(Uint8Array.from(d), t.shape, 'bool');
  if (t.dtype === 'int32') return new tf.NDArray(Int32Array.from(d), t.shape, 'int32');
  return new tf.NDArray(Float32Array.from(d), t.shape, 'float32');
}

/**
 * Makes the WebGPU backend send small integer ops whose inputs are on the host to their GPU kernels
 * too (WEIR_WEBGPU_PREFER_HOST=0) for the tests of the calling file, so those kernels get tested.
 */
export function useGpuKernelsForSmallOps(): void {
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.WEIR_WEBGPU_PREFER_HOST;
    process.env.WEIR_WEBGPU_PREFER_HOST = '0';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.WEIR_WEBGPU_PREFER_HOST;
    else process.env.WEIR_WEBGPU_PREFER_HOST = saved;
  });
}

/** Per-column mean and population variance of a [n, c] array. */
export function columnStats(x: tf.NDArray): { mean: number[]; variance: number[] } {
  const [n, c] = x.shape as [number, number];
  const d = x.data as Float32Array;
  const mean = Array.from({ length: c }, (_, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[i * c + j]!;
    return s / n;
  });
  const variance = mean.map((m, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += (d[i * c + j]! - m) ** 2;
    return s / n;
  });
  return { mean, variance };
}

/**
 * Runs an ES module script (it may import the project's .ts files) in a child node with relaxed
 * WebAssembly SIMD, passing Node 20's flag unless the engine no longer knows it, and returns the
 * JSON object the script's last line prints. Fails the calling test if the child fails.
 */
export function runWithRelaxedSimd(script: string): Record<string, number | boolean> {
  const spawn = (flags: string[]): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url).pathname,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env },
    });
  let res = spawn(['--experimental-wasm-relaxed-simd']);
  // Engines that ship relaxed SIMD by default may no longer know the flag.
  if (res.status !== 0 && /bad option/.test(res.stderr)) res = spawn([]);
  expect(res.error).toBeUndefined();
  expect(res.status, res.stderr).toBe(0);
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<string, number | boolean>;
}
