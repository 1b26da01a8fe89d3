// Running an exported model in ONNX Runtime (onnxruntime-node: an executor weir did not write)
// beside weir's own session, and comparing what they compute.
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import * as tf from '../src/index.js';
import type { ExportOptions } from '../src/onnx/export.js';

export type Feed = readonly [tf.Tensor, tf.NDArray];

const ORT_TYPE: Record<string, 'float32' | 'int32' | 'int64' | 'bool'> = { float32: 'float32', int32: 'int32', int64: 'int64', bool: 'bool' };

export function toOrt(nd: tf.NDArray): ort.Tensor {
  const type = ORT_TYPE[nd.dtype];
  if (!type) throw new Error(`no ONNX Runtime tensor for ${nd.dtype}`);
  return new ort.Tensor(type, nd.data as Float32Array, nd.shape);
}

export function fromOrt(t: ort.Tensor): tf.NDArray {
  const dims = t.dims.map(Number);
  switch (t.type) {
    case 'float32':
      return new tf.NDArray(t.data as Float32Array, dims, 'float32');
    case 'int32':
      return new tf.NDArray(t.data as Int32Array, dims, 'int32');
    case 'int64':
      return new tf.NDArray(t.data as BigInt64Array, dims, 'int64');
    case 'bool':
      return new tf.NDArray(Uint8Array.from(t.data as Uint8Array), dims, 'bool');
    default:
      throw new Error(`unexpected ONNX Runtime output type ${t.type}`);
  }
}

export async function ortSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
}

/** Runs `bytes` in ONNX Runtime with inputs by ONNX name; the outputs in `names` order. */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, tf.NDArray>, names: readonly string[]): Promise<tf.NDArray[]> {
  const s = await ortSession(bytes);
  try {
    const r = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(v)])));
    return names.map((n) => fromOrt(r[n]!));
  } finally {
    await s.release();
  }
}

/** The largest |a - b| (elements compared as numbers; shapes and dtypes must agree). */
export function maxAbsDiff(a: tf.NDArray, b: tf.NDArray): number {
  expect(a.dtype).toBe(b.dtype);
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  const x = a.data as ArrayLike<number | bigint>;
  const y = b.data as ArrayLike<number | bigint>;
  for (let i = 0; i < x.length; i++) {
    const p = Number(x[i]);
    const q = Number(y[i]);
    if (Number.isNaN(p) && Number.isNaN(q)) continue;
    if (p === q) continue;
    m = Math.max(m, Math.abs(p - q));
  }
  return m;
}

/** |a - b| <= atol + rtol |b| elementwise for floats; equality for integers and booleans. */
export function expectClose(actual: tf.NDArray, expected: tf.NDArray, what: string, atol = 1e-5, rtol = 1e-5): void {
  expect(actual.dtype, what).toBe(expected.dtype);
  expect(actual.shape, what).toEqual(expected.shape);
  const x = actual.data as ArrayLike<number | bigint>;
  const y = expected.data as ArrayLike<number | bigint>;
  for (let i = 0; i < x.length; i++) {
    const p = Number(x[i]);
    const q = Number(y[i]);
    if (expected.dtype !== 'float32') {
      if (p !== q) expect.fail(`${what}: element ${i} is ${p}, weir computes ${q}`);
    } else if (Number.isNaN(q) || !Number.isFinite(q)) {
      if (!Object.is(p, q) && !(Number.isNaN(p) && Number.isNaN(q))) expect.fail(`${what}: element ${i} is ${p}, weir computes ${q}`);
    } else if (!(Math.abs(p - q) <= atol + rtol * Math.abs(q))) {
      expect.fail(`${what}: element ${i} is ${p}, weir computes ${q} (|diff| ${Math.abs(p - q)})`);
    }
  }
}

export interface Compared {
  bytes: Uint8Array;
  weir: tf.NDArray[];
  ort: tf.NDArray[];
  /** The largest |weir - ORT| over all outputs. */
  maxDiff: number;
}

/**
 * Exports `outputs` of `graph` with `feeds`' tensors as inputs (named in0, in1, ...), runs the model
 * in ONNX Runtime and weir's session on the same values, and checks every output.
 */
export async function compareWithOrt(
  graph: tf.Graph,
  feeds: readonly Feed[],
  outputs: readonly tf.Tensor[],
  opts: ExportOptions & { atol?: number; rtol?: number; runFeeds?: readonly Feed[] } = {},
): Promise<Compared> {
  const inputNames = feeds.map((_, i) => `in${i}`);
  const outputNames = outputs.map((_, i) => `out${i}`);
  const bytes = await tf.onnx.exportGraph(graph, {
    ...opts,
    inputs: Object.fromEntries(feeds.map(([t], i) => [inputNames[i]!, t])),
    outputs: Object.fromEntries(outputs.map((t, i) => [outputNames[i]!, t])),
  });
  const run = opts.runFeeds ?? feeds;
  const sess = opts.session ?? new tf.Session({ graph });
  let weir: tf.NDArray[];
  try {
    const extra = [...(opts.feedDict ?? [])] as [tf.Tensor, tf.NDArray][];
    weir = (await sess.run([...outputs], [...run.map(([t, v]) => [t, v] as [tf.Tensor, tf.NDArray]), ...extra])) as tf.NDArray[];
  } finally {
    if (!opts.session) sess.close();
  }
  const got = await runOrt(bytes, Object.fromEntries(run.map(([, v], i) => [inputNames[i]!, v])), outputNames);
  let maxDiff = 0;
  got.forEach((g, i) => {
    expectClose(g, weir[i]!, `${outputs[i]!.name}`, opts.atol, opts.rtol);
    maxDiff = Math.max(maxDiff, maxAbsDiff(g, weir[i]!));
  });
  return { bytes, weir, ort: got, maxDiff };
}

/** A seeded uniform generator on [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform float32 values in [lo, hi). */
export function uniform(shape: readonly number[], lo = -1, hi = 1, seed = 1): tf.NDArray {
  const r = seeded(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return new tf.NDArray(Float32Array.from({ length: n }, () => lo + (hi - lo) * r()), shape, 'float32');
}

/** Integers in [lo, hi). */
export function ints(shape: readonly number[], lo: number, hi: number, seed = 1, dtype: 'int32' | 'int64' = 'int32'): tf.NDArray {
  const r = seeded(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, () => lo + Math.floor((hi - lo) * r()));
  return dtype === 'int32' ? new tf.NDArray(Int32Array.from(vals), shape, 'int32') : new tf.NDArray(BigInt64Array.from(vals, BigInt), shape, 'int64');
}

export function bools(shape: readonly number[], seed = 1): tf.NDArray {
  const r = seeded(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return new tf.NDArray(Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0)), shape, 'bool');
}

/**
 * ONNX's structural rules, checked on the decoded model: values are assigned once (SSA), nodes
 * come in topological order, every node input is a graph input, an initializer or an earlier
 * node's output, and every graph output is produced.
 */
export function expectWellFormed(model: tf.onnx.OnnxModel): void {
  const defined = new Set<string>();
  const define = (name: string, what: string): void => {
    if (defined.has(name)) expect.fail(`${what} assigns '${name}' a second time`);
    defined.add(name);
  };
  for (const i of model.graph.input ?? []) define(i.name, 'graph input');
  for (const t of model.graph.initializer ?? []) define(t.name!, 'initializer');
  for (const n of model.graph.node) {
    for (const i of n.input ?? []) if (i !== '' && !defined.has(i)) expect.fail(`node ${n.name} (${n.op_type}) reads '${i}' before anything assigns it`);
    for (const o of n.output) define(o, `node ${n.name}`);
  }
  for (const o of model.graph.output ?? []) if (!defined.has(o.name)) expect.fail(`graph output '${o.name}' is never assigned`);
}
