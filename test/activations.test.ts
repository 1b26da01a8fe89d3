// The activation tables (runtime/cpu/activations.ts, runtime/webgpu/kernels/math.ts): every entry is
// a registered op with its arity, every fusable activation has a fused-epilogue form on both
// backends, and on the CPU the plain kernel, the fused JS kernel, the fused SIMD kernel and the
// MatMul/Conv2D epilogue compute the same float32 values.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import type { ElementwiseProgram } from '../passes/ir.js';
import type { KernelNode } from '../runtime/backend.js';
import { getOpDef, listOps } from '../ops/registry.js';
import { fusedEpilogue } from '../runtime/activations.js';
import { ACTIVATIONS } from '../runtime/cpu/activations.js';
import { setFusedWasm } from '../runtime/cpu/fused.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import { FRESH } from '../runtime/cpu/kernels/util.js';
import { activationFn, ELEMENTWISE_TYPES } from '../runtime/webgpu/kernels/math.js';
import { rng } from './helpers.js';

const wasm = process.env.WEIR_CPU_FAST !== '0';

beforeEach(() => void setFusedWasm({ enabled: true, minElements: 1 }));
afterEach(() => void setFusedWasm({ enabled: true, minElements: 1024 }));

const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1, -1, 1e-45, -1e-45, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 5.999999, 6, 6.000001, 9, -9, 20, -20, 88.73, -104, 3.4028235e38, -3.4028235e38];

function inputs(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  x.set(SPECIAL);
  for (let i = SPECIAL.length; i < n; i++) x[i] = (r() - 0.5) * (i % 3 === 0 ? 40 : 4);
  return x;
}

const node = (type: string, attrs: Record<string, unknown>, n: number, arity: number): KernelNode =>
  ({ name: type, type, attrs, outputs: [{ dtype: 'float32', shape: [n] }], inputDTypes: new Array(arity).fill('float32'), inputShapes: new Array(arity).fill([n]) }) as unknown as KernelNode;

function fused(type: string, attrs: Record<string, unknown>, xs: tf.NDArray[], simd: boolean): Float32Array {
  const n = xs[0]!.size;
  const p: ElementwiseProgram = {
    shape: [n],
    inputs: xs.map((_, i) => ({ arg: i, shape: [n], dtype: 'float32' as const })),
    ops: [{ type, attrs: attrs as ElementwiseProgram['ops'][number]['attrs'], dtype: 'float32', args: xs.map((_, i) => ({ input: i })), name: type }],
    outputs: [0],
  };
  const k = { ...node('_FusedElementwise', {}, n, xs.length), program: p };
  const prev = setFusedWasm({ enabled: simd });
  try {
    return getCpuKernel('_FusedElementwise')!(xs, k, {} as never, FRESH)[0]!.data as Float32Array;
  } finally {
    setFusedWasm(prev);
  }
}

/** Same float32 values, NaN matching NaN; `ulp` allows that many float32 steps (SIMD exp/log). */
function expectSame(actual: Float32Array, expected: Float32Array, what: string, ulp = 0): void {
  const ord = (x: number): number => {
    const i = new Int32Array(Float32Array.of(x).buffer)[0]!;
    return i < 0 ? -(i & 0x7fffffff) : i;
  };
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e))) continue;
    if (ulp > 0 && Number.isFinite(a) && Number.isFinite(e) && Math.abs(ord(a) - ord(e)) <= ulp) continue;
    throw new Error(`${what}: element ${i} is ${a}, expected ${e}`);
  }
}

describe('activation tables', () => {
  it('every CPU and WebGPU entry is a registered op; every fusable activation has both backends\' epilogue', () => {
    for (const type of Object.keys(ACTIVATIONS)) {
      const def = getOpDef(type);
      expect(def, type).toBeDefined();
      expect(ELEMENTWISE_TYPES, type).toContain(type);
    }
    for (const type of ELEMENTWISE_TYPES) expect(getOpDef(type), type).toBeDefined();
    const fusable = listOps().filter((d) => d.fusableActivation);
    expect(fusable.length).toBeGreaterThan(0);
    for (const { type } of fusable) {
      expect(ACTIVATIONS[type], type).toBeDefined();
      expect(fusedEpilogue({ fused_ops: ['BiasAdd', type] }).act).toBe(type);
      expect(activationFn(type, 0.2)).toMatch(/fn act\(v: f32\) -> f32/);
    }
    expect(() => fusedEpilogue({ fused_ops: ['BiasAdd', 'Softmax'] })).toThrow(/unsupported fused_ops/);
  });

  for (const [type, act] of Object.entries(ACTIVATIONS)) {
    const arity = getOpDef(type)!.inputs.length;
    const attrs = act.alpha ? { alpha: 0.1 } : {};
    it(`${type}: plain kernel == fused JS == fused SIMD${getOpDef(type)!.fusableActivation ? ' == MatMul epilogue' : ''}`, () => {
      const n = 301;
      const xs = Array.from({ length: arity }, (_, i) => new tf.NDArray(inputs(n, 7 + i), [n], 'float32'));
      const plain = getCpuKernel(type)!(xs, node(type, attrs, n, arity), {} as never, FRESH)[0]!.data as Float32Array;
      expectSame(fused(type, attrs, xs, false), plain, `${type} fused JS`);
      // The SIMD form computes exp/log in float64 lanes: rarely one float32 step away (runtime/cpu/fused.ts).
      if (wasm) expectSame(fused(type, attrs, xs, true), plain, `${type} fused SIMD`, act.simd(0.1).approx ? 1 : 0);
      if (!getOpDef(type)!.fusableActivation) return;
      // act(x @ [[1]] + bias), against the kernels BiasAdd then the activation.
      const bias = new tf.NDArray(Float32Array.of(0.25), [1], 'float32');
      const x = new tf.NDArray(xs[0]!.data, [n, 1], 'float32');
      const one = new tf.NDArray(Float32Array.of(1), [1, 1], 'float32');
      const mm = node('_FusedMatMul', { fused_ops: ['BiasAdd', type], leakyrelu_alpha: 0.1, transpose_a: false, transpose_b: false }, n, 3);
      const viaEpilogue = getCpuKernel('_FusedMatMul')!([x, one, bias], { ...mm, outputs: [{ dtype: 'float32', shape: [n, 1] }] }, {} as never, FRESH)[0]!.data as Float32Array;
      const added = getCpuKernel('BiasAdd')!([x, bias], node('BiasAdd', {}, n, 2), {} as never, FRESH)[0]!;
      const unfused = getCpuKernel(type)!([new tf.NDArray(added.data, [n], 'float32')], node(type, attrs, n, 1), {} as never, FRESH)[0]!.data as Float32Array;
      expectSame(viaEpilogue, unfused, `${type} epilogue`);
    });
  }
});
