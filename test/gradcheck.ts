import * as tf from '../src/index.js';
import { rng } from './helpers.js';

/** One finite-difference gradient check. */
export interface GradCase {
  /** Op types this case covers (for the registry-wide coverage check). */
  ops: string[];
  name: string;
  /** Input values; float inputs are differentiated, int/bool ones are held fixed. */
  inputs: tf.NDArray[];
  /** Builds the output(s) from placeholders holding the inputs. */
  build: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
  /** Indices of inputs to check (default: every float input). */
  wrt?: number[];
  delta?: number;
  atol?: number;
  rtol?: number;
}

/**
 * Compares tf.gradients against central finite differences of f(x) = sum_k <r_k, y_k(x)>, with fixed
 * random projections r_k (passed as gradYs), element by element. Float32 kernels, float64 sums.
 */
export async function checkGradients(c: GradCase): Promise<void> {
  const g = new tf.Graph();
  const delta = c.delta ?? 1e-3;
  const atol = c.atol ?? 2e-3;
  const rtol = c.rtol ?? 2e-2;
  const { phs, ys, grads, rs } = g.asDefault(() => {
    const phs = c.inputs.map((v, i) => tf.placeholder(v.dtype, v.shape, `x${i}`));
    const out = c.build(...phs);
    const ys = Array.isArray(out) ? out : [out];
    const r = rng(12345);
    const rs = ys.map((y) => {
      const shape = y.shape;
      if (shape === null || shape.some((d) => d === null)) throw new Error(`${c.name}: output ${y.name} needs a static shape`);
      const n = (shape as number[]).reduce((a, b) => a * b, 1);
      return new tf.NDArray(Float32Array.from({ length: n }, () => 0.5 + r()), shape as number[]);
    });
    const wrt = c.wrt ?? c.inputs.map((v, i) => (v.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
    const grads = tf.gradients(ys, wrt.map((i) => phs[i]!), rs.map((r) => tf.constant(r)));
    return { phs, ys, grads, rs };
  });
  const wrt = c.wrt ?? c.inputs.map((v, i) => (v.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
  const sess = new tf.Session({ graph: g });
  try {
    const feeds = (vals: tf.NDArray[]): [tf.Tensor, tf.NDArray][] => phs.map((p, i) => [p, vals[i]!]);
    const f = async (vals: tf.NDArray[]): Promise<number> => {
      const outs = (await sess.run(ys, feeds(vals))) as tf.NDArray[];
      let s = 0;
      outs.forEach((o, k) => {
        const rd = rs[k]!.data as Float32Array;
        const od = o.data as Float32Array;
        for (let i = 0; i < od.length; i++) s += rd[i]! * od[i]!;
      });
      return s;
    };
    const symbolic = grads.map((gr, j) => {
      if (gr === null) throw new Error(`${c.name}: gradient wrt input ${wrt[j]} is null`);
      return gr;
    });
    const sym = (await sess.run(symbolic, feeds(c.inputs))) as tf.NDArray[];
    for (let j = 0; j < wrt.length; j++) {
      const idx = wrt[j]!;
      const base = c.inputs[idx]!;
      const sj = sym[j]!;
      if (sj.shape.join(',') !== base.shape.join(',')) {
        throw new Error(`${c.name}: gradient wrt input ${idx} has shape [${sj.shape}], input has [${base.shape}]`);
      }
      for (let e = 0; e < base.size; e++) {
        const plus = base.clone();
        const minus = base.clone();
        (plus.data as Float32Array)[e]! += delta;
        (minus.data as Float32Array)[e]! -= delta;
        const vp = c.inputs.map((v, i) => (i === idx ? plus : v));
        const vm = c.inputs.map((v, i) => (i === idx ? minus : v));
        const num = ((await f(vp)) - (await f(vm))) / (2 * delta);
        const an = (sj.data as Float32Array)[e]!;
        if (!(Math.abs(num - an) <= atol + rtol * Math.abs(num))) {
          throw new Error(
            `${c.name}: d/dx${idx}[${e}]: symbolic ${an}, numeric ${num} (|diff| ${Math.abs(num - an).toExponential(2)})`,
          );
        }
      }
    }
  } finally {
    sess.close();
  }
}
