// Fused elementwise kernels on the CPU backend's heap (runtime/cpu/fused.ts, runtime/cpu/parallel.ts):
// operands in the heap are used in place, the others staged, the last cols % 4 elements of each row
// run through staging slots, and large programs split over the worker threads. Every path must give
// the generated JS kernel's results bit for bit (the programs here use exact ops only), write
// nothing past an output (sentinels), keep outputs that are inputs working, and survive a worker
// that dies mid-task. Under WEIR_CPU_FAST=0 the same programs run in JS and must still match.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { DType } from '../src/core/dtypes.js';
import { InternalError } from '../src/core/errors.js';
import type { ElementwiseProgram } from '../passes/ir.js';
import type { KernelNode } from '../runtime/backend.js';
import { fusedWasmCovers, fusedWasmRuns, setFusedWasm } from '../runtime/cpu/fused.js';
import { heapAddress, heapArray } from '../runtime/cpu/heap.js';
import {
  injectParallelFault,
  parallelThreadedTasks,
  parallelThreadsAvailable,
  setParallelBackoff,
  startParallelThreads,
} from '../runtime/cpu/parallel.js';
import { sharedPoolReplacements } from '../runtime/cpu/threads.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import { FRESH, type Outputs } from '../runtime/cpu/kernels/util.js';
import { rng } from './helpers.js';

const wasm = process.env.WEIR_CPU_FAST !== '0';
/** Floats of sentinels before and after each heap operand (3: operands start unaligned to 16 bytes). */
const PAD = 3;
const SENTINEL = -12345.5;

let backoff = true;
beforeAll(async () => {
  backoff = setParallelBackoff(false);
  await startParallelThreads();
});
afterAll(() => {
  setParallelBackoff(backoff);
});
beforeEach(() => {
  setFusedWasm({ enabled: true, minElements: 1, inPlace: true, split: false });
});
afterEach(() => {
  setFusedWasm({ enabled: true, minElements: 1024, inPlace: true, split: true, splitMinElements: 1 << 17 });
});

type Op = ElementwiseProgram['ops'][number];
type Arg = Op['args'][number];

function program(shape: number[], inputs: number[][], ops: { type: string; args: Arg[]; dtype?: DType }[], outputs: number[], dtypes?: DType[]): ElementwiseProgram {
  return {
    shape,
    inputs: inputs.map((s, i) => ({ arg: i, shape: s, dtype: dtypes?.[i] ?? 'float32' })),
    ops: ops.map((o, i) => ({ type: o.type, attrs: {}, dtype: o.dtype ?? 'float32', args: o.args, name: `op${i}` })),
    outputs,
  };
}

/** Exact ops over a whole, a row, a column and a scalar operand (their shapes given), with three outputs. */
const layoutProgram = (shape: number[], full: number[], row: number[], col: number[], scalar: number[]): ElementwiseProgram =>
  program(shape, [full, row, col, scalar], [
    { type: 'Mul', args: [{ input: 3 }, { input: 3 }] },
    { type: 'AddV2', args: [{ input: 2 }, { op: 0 }] },
    { type: 'Sub', args: [{ input: 0 }, { input: 1 }] },
    { type: 'Mul', args: [{ op: 2 }, { op: 1 }] },
    { type: 'Maximum', args: [{ op: 3 }, { input: 1 }] },
    { type: 'Relu', args: [{ op: 4 }] },
  ], [5, 1, 3]);

/** The same with a bool mask (a whole operand, read as bytes) choosing between two results. */
const maskProgram = (shape: number[], full: number[], row: number[], col: number[]): ElementwiseProgram =>
  program(shape, [full, row, col, full], [
    { type: 'Sub', args: [{ input: 0 }, { input: 1 }] },
    { type: 'Mul', args: [{ op: 0 }, { input: 2 }] },
    { type: 'SelectV2', args: [{ input: 3 }, { op: 1 }, { op: 0 }] },
  ], [2, 1], ['float32', 'float32', 'float32', 'bool']);

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Data of shape s: a plain array, or (heap) a view in the heap between sentinels. */
function feed(s: readonly number[], seed: number, dtype: DType, heap: boolean): tf.NDArray {
  const n = size(s);
  const r = rng(seed);
  if (dtype === 'bool') {
    const bools = Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
    if (!heap) return new tf.NDArray(bools, [...s], 'bool');
    // In the heap at an odd byte address.
    const words = heapArray('int32', Math.ceil(n / 4) + 2);
    const x = words ? new Uint8Array(words.buffer, words.byteOffset + 3, n) : new Uint8Array(n);
    x.set(bools);
    return new tf.NDArray(x, [...s], 'bool');
  }
  const values = Float32Array.from({ length: n }, () => 4 * r() - 2);
  if (!heap) return new tf.NDArray(values, [...s]);
  const x = inHeap(n);
  x.set(values);
  return new tf.NDArray(x, [...s]);
}

/** n floats in the heap with PAD sentinels on each side (a plain array where the heap cannot hold views). */
function inHeap(n: number): Float32Array {
  const whole = heapArray('float32', n + 2 * PAD) ?? new Float32Array(n + 2 * PAD);
  whole.fill(SENTINEL);
  return whole.subarray(PAD, PAD + n);
}

function expectSentinels(x: Float32Array, what: string): void {
  const whole = new Float32Array(x.buffer, x.byteOffset - PAD * 4, x.length + 2 * PAD);
  for (let i = 0; i < PAD; i++) {
    if (whole[i] !== SENTINEL || whole[PAD + x.length + i] !== SENTINEL) expect.fail(`${what}: a sentinel next to the array was overwritten`);
  }
}

/** Outputs handed out from the given arrays, in order. */
function outputsFrom(arrays: Float32Array[]): Outputs {
  let next = 0;
  const alloc = (dtype: DType, shape: readonly number[]): tf.NDArray => new tf.NDArray(arrays[next++]!, [...shape], dtype);
  return { alloc, allocOverwritten: alloc } as Outputs;
}

const node = (p: ElementwiseProgram): KernelNode =>
  ({ name: 'fused', type: '_FusedElementwise', attrs: {}, outputs: [], inputDTypes: [], inputShapes: [], program: p }) as unknown as KernelNode;

/** staged: no operand in the heap (a private staging memory); mixed: every other input in the heap, outputs too (the heap's staging slots). */
type Mode = 'js' | 'staged' | 'mixed' | 'inPlace' | 'split';

/** Runs a program's kernel in a mode; heap modes take inputs and outputs in the heap between sentinels. */
function run(p: ElementwiseProgram, mode: Mode, seed = 30): Float32Array[] {
  const heap = mode === 'inPlace' || mode === 'split' || mode === 'mixed';
  const inputs = p.inputs.map((inp, i) => feed(inp.shape, seed + i, inp.dtype, heap && (mode !== 'mixed' || i % 2 === 0)));
  const outs = heap ? p.outputs.map(() => inHeap(size(p.shape))) : undefined;
  const prev = setFusedWasm({ enabled: mode !== 'js', split: mode === 'split', splitMinElements: mode === 'split' ? 1 : 1 << 30 });
  try {
    const y = getCpuKernel('_FusedElementwise')!(inputs, node(p), {} as never, outs ? outputsFrom(outs) : FRESH);
    if (outs) {
      outs.forEach((o, i) => {
        expect(y[i]!.data).toBe(o);
        expectSentinels(o, `${mode} output ${i}`);
      });
      inputs.forEach((x, i) => x.dtype === 'float32' && heapAddress(x.data as Float32Array) >= 0 && expectSentinels(x.data as Float32Array, `${mode} input ${i}`));
    }
    return y.map((t) => t.data as Float32Array);
  } finally {
    setFusedWasm(prev);
  }
}

function expectSame(a: Float32Array[], b: Float32Array[], what: string): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, o) => {
    const y = b[o]!;
    expect(x.length).toBe(y.length);
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) expect.fail(`${what}: output ${o}, element ${i}: ${x[i]} vs ${y[i]}`);
  });
}

/** Every mode against the JS kernel, bit for bit. */
function checkModes(p: ElementwiseProgram, modes: Mode[] = ['staged', 'mixed', 'inPlace', 'split']): void {
  expect(fusedWasmCovers(p)).toBe(wasm);
  const want = run(p, 'js');
  for (const mode of modes) expectSame(run(p, mode), want, `${JSON.stringify(p.shape)} ${mode}`);
}

describe('in place, staged and JS give the same bits, and nothing is written past an output', () => {
  const shapes: [number, number][] = [[1, 1], [1, 2], [1, 3], [1, 5], [1, 6], [1, 7], [1, 8], [3, 1], [3, 5], [3, 6], [3, 7], [3, 8], [17, 4], [17, 9], [5, 1027]];
  for (const [rows, cols] of shapes) {
    it(`[${rows}, ${cols}]: whole, row, column and scalar operands`, () => {
      const before = fusedWasmRuns();
      checkModes(layoutProgram([rows, cols], [rows, cols], [1, cols], [rows, 1], [1, 1]));
      const after = fusedWasmRuns();
      if (wasm && (cols & ~3) > 0) expect(after.inPlace).toBeGreaterThan(before.inPlace);
      if (wasm && cols % 4 !== 0) expect(after.tails).toBeGreaterThan(before.tails);
    });
    it(`[${rows}, ${cols}]: a bool mask read as bytes, and bool rows and columns as lane masks`, () => {
      const before = fusedWasmRuns();
      checkModes(maskProgram([rows, cols], [rows, cols], [1, cols], [rows, 1]));
      if (wasm && (cols & ~3) > 0) expect(fusedWasmRuns().inPlace).toBeGreaterThan(before.inPlace);
      const p = program([rows, cols], [[rows, cols], [1, cols], [rows, 1], [rows, cols]], [
        { type: 'LogicalAnd', args: [{ input: 1 }, { input: 2 }], dtype: 'bool' },
        { type: 'SelectV2', args: [{ op: 0 }, { input: 0 }, { input: 3 }] },
      ], [1], ['float32', 'bool', 'bool', 'float32']);
      checkModes(p);
    });
  }
  it('one-dimensional programs (n % 4 = 0, 1, 2, 3) with a scalar, and rows longer than a staging chunk', () => {
    for (const n of [4, 4097, 8194, 20003]) checkModes(program([n], [[n], [1]], [{ type: 'Mul', args: [{ input: 0 }, { input: 1 }] }, { type: 'Relu', args: [{ op: 0 }] }], [1]));
    checkModes(layoutProgram([3, 20001], [3, 20001], [1, 20001], [3, 1], [1, 1]));
  });
  it('a column of one float per row (one column) and a single row', () => {
    checkModes(program([9, 1], [[9, 1], [1, 1]], [{ type: 'AddV2', args: [{ input: 0 }, { input: 1 }] }], [0]));
    checkModes(program([1, 10], [[1, 10], [1, 10]], [{ type: 'SquaredDifference', args: [{ input: 0 }, { input: 1 }] }], [0]));
  });
});

describe('approximated ops (exp, log and tanh in float64 lanes)', () => {
  it('give the same bits in place, staged and split, and the JS kernel within 1 ulp', () => {
    const [rows, cols] = [37, 203];
    const p = program([rows, cols], [[rows, cols], [1, cols], [rows, 1]], [
      { type: 'AddV2', args: [{ input: 0 }, { input: 1 }] },
      { type: 'Tanh', args: [{ op: 0 }] },
      { type: 'Sigmoid', args: [{ input: 0 }] },
      { type: 'Mul', args: [{ op: 1 }, { input: 2 }] },
      { type: 'Exp', args: [{ op: 3 }] },
      { type: 'Log1p', args: [{ op: 2 }] },
    ], [4, 5, 1]);
    expect(fusedWasmCovers(p)).toBe(wasm);
    const staged = run(p, 'staged');
    for (const mode of ['inPlace', 'split'] as Mode[]) expectSame(run(p, mode), staged, mode);
    const js = run(p, 'js');
    staged.forEach((y, o) => {
      for (let i = 0; i < y.length; i++) {
        const a = new Int32Array(Float32Array.of(y[i]!).buffer)[0]!;
        const b = new Int32Array(Float32Array.of(js[o]![i]!).buffer)[0]!;
        if (Math.abs(a - b) > 1) expect.fail(`output ${o}, element ${i}: ${y[i]} vs ${js[o]![i]}`);
      }
    });
  });
});

describe('an output that is an input', () => {
  /** y = Relu(y + bias) in place, as the contractions' epilogue runs it. */
  function inPlaceEpilogue(rows: number, cols: number, mode: Mode): { y: Float32Array; want: Float32Array } {
    const p = program([rows, cols], [[rows, cols], [1, cols]], [{ type: 'BiasAdd', args: [{ input: 0 }, { input: 1 }] }, { type: 'Relu', args: [{ op: 0 }] }], [1]);
    const heap = mode !== 'staged';
    const x = feed([rows, cols], 7, 'float32', heap);
    const bias = feed([1, cols], 8, 'float32', heap);
    // The JS kernel on a copy, then the WebAssembly kernel writing over its own input.
    setFusedWasm({ enabled: false });
    const want = getCpuKernel('_FusedElementwise')!([new tf.NDArray((x.data as Float32Array).slice(), x.shape), bias], node(p), {} as never, FRESH)[0]!.data as Float32Array;
    setFusedWasm({ enabled: true, split: mode === 'split', splitMinElements: 1 });
    const y = getCpuKernel('_FusedElementwise')!([x, bias], node(p), {} as never, outputsFrom([x.data as Float32Array]))[0]!.data as Float32Array;
    expect(y).toBe(x.data);
    if (heap && heapAddress(y) >= 0) expectSentinels(y, 'aliased output');
    return { y, want };
  }
  for (const mode of ['staged', 'inPlace', 'split'] as Mode[]) {
    it(`${mode}: [33, 7], [300, 64] and [1, 70001]`, () => {
      for (const [rows, cols] of [[33, 7], [300, 64], [1, 70001]] as [number, number][]) {
        const { y, want } = inPlaceEpilogue(rows, cols, mode);
        expectSame([y], [want], `[${rows}, ${cols}] ${mode}`);
      }
    });
  }
});

/** Starts the workers, waiting for a pool replaced after a fault to finish closing first. */
async function threadsReady(): Promise<void> {
  for (let i = 0; i < 100 && !(await startParallelThreads()); i++) await new Promise((r) => setTimeout(r, 20));
}

describe.runIf(wasm)('split over the threads', () => {
  const big = (): ElementwiseProgram => layoutProgram([600, 1001], [600, 1001], [1, 1001], [600, 1], [1, 1]);
  it('threads on and off give the same bits, rows split and a single row split by vectors', () => {
    const before = parallelThreadedTasks().tasks;
    const split = fusedWasmRuns().split;
    const programs = [
      big(),
      program([1, 300003], [[1, 300003], [1, 1]], [{ type: 'Mul', args: [{ input: 0 }, { input: 1 }] }, { type: 'Abs', args: [{ op: 0 }] }], [1, 0]),
      // Bool masks read as bytes: blocks of rows, and blocks of one row's vectors.
      maskProgram([600, 1001], [600, 1001], [1, 1001], [600, 1]),
      maskProgram([1, 300003], [1, 300003], [1, 300003], [1, 1]),
    ];
    for (const p of programs) {
      const one = run(p, 'inPlace');
      expectSame(run(p, 'split'), one, `${JSON.stringify(p.shape)} split`);
      expectSame(one, run(p, 'js'), `${JSON.stringify(p.shape)} js`);
    }
    expect(fusedWasmRuns().split - split).toBe(programs.length);
    if (parallelThreadsAvailable()) expect(parallelThreadedTasks().tasks).toBeGreaterThan(before);
  });
  it.runIf(parallelThreadsAvailable())('a worker that dies mid-task: its block is run again here, same bits', async () => {
    const p = big();
    const want = run(p, 'inPlace');
    await threadsReady();
    const replaced = sharedPoolReplacements();
    injectParallelFault();
    expectSame(run(p, 'split'), want, 'after a fault');
    expect(sharedPoolReplacements()).toBe(replaced + 1);
    // The replacement pool runs the program too.
    await threadsReady();
    expectSame(run(p, 'split'), want, 'on the new pool');
  });
  it.runIf(parallelThreadsAvailable())('an output that is an input: a block a dead worker took is not run twice', async () => {
    await threadsReady();
    const [rows, cols] = [1500, 1000];
    const p = program([rows, cols], [[rows, cols], [1, cols]], [{ type: 'BiasAdd', args: [{ input: 0 }, { input: 1 }] }], [0]);
    const x = feed([rows, cols], 3, 'float32', true);
    const bias = feed([1, cols], 4, 'float32', true);
    const want = (x.data as Float32Array).map((v, i) => Math.fround(v + (bias.data as Float32Array)[i % cols]!));
    setFusedWasm({ split: true, splitMinElements: 1 });
    const replaced = sharedPoolReplacements();
    injectParallelFault();
    let threw: unknown;
    try {
      getCpuKernel('_FusedElementwise')!([x, bias], node(p), {} as never, outputsFrom([x.data as Float32Array]));
    } catch (e) {
      threw = e;
    }
    expect(sharedPoolReplacements()).toBe(replaced + 1);
    // The dead worker took a block (then the run fails) or, where this thread had claimed them all first, none.
    if (threw !== undefined) expect(threw).toBeInstanceOf(InternalError);
    else expectSame([x.data as Float32Array], [want], 'no block lost');
    await threadsReady();
  });
});

describe('a session with fused clusters against the unoptimized plan', () => {
  it('forward and gradient clusters and a MatMul epilogue on arena operands, in place and split', async () => {
    setFusedWasm({ minElements: 1024, split: true, splitMinElements: 1 << 14 });
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [128, 515], 'x');
      const w = tf.placeholder('float32', [515, 258], 'w');
      // Operands the plan computes (in its arena, in the heap), not fed ones.
      const bias = tf.reduceMean(w, 0);
      const h = tf.matmul(x, w);
      const y = tf.nn.relu(tf.multiply(tf.add(h, bias), tf.constant(0.5)));
      // A bias and activation epilogue of the product (_FusedMatMul), computed in place on its output.
      const e = tf.nn.relu(tf.nn.biasAdd(tf.matmul(x, w), bias));
      const z = tf.add(tf.subtract(tf.square(y), tf.multiply(h, tf.constant(0.25))), e);
      const loss = tf.reduceSum(z);
      const grads = tf.gradients(loss, [x, w]) as tf.Tensor[];
      return { x, w, fetches: [z, loss, ...grads] };
    });
    const r = rng(11);
    const f = (s: number[]): tf.NDArray => new tf.NDArray(Float32Array.from({ length: size(s) }, () => 2 * r() - 1), s);
    const feeds: [tf.Tensor, tf.NDArray][] = [
      [m.x, f([128, 515])],
      [m.w, f([515, 258])],
    ];
    const opt = new tf.Session({ graph: g });
    const ref = new tf.Session({ graph: g, optimize: false });
    try {
      const before = fusedWasmRuns();
      const a = await opt.run(m.fetches, feeds);
      const b = await ref.run(m.fetches, feeds);
      if (wasm) expect(fusedWasmRuns().inPlace).toBeGreaterThan(before.inPlace);
      a.forEach((t, i) => {
        const x = t.data as Float32Array;
        const y = b[i]!.data as Float32Array;
        for (let j = 0; j < x.length; j++) {
          if (!(Object.is(x[j], y[j]) || Math.abs(x[j]! - y[j]!) <= 1e-5 * (1 + Math.abs(y[j]!)))) expect.fail(`fetch ${i}, element ${j}: ${x[j]} vs ${y[j]}`);
        }
      });
    } finally {
      opt.close();
      ref.close();
    }
  });
});
