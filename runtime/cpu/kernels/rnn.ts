// CPU kernels of the fused recurrent cells: LSTMBlockCell, GRUBlockCell and their gradient ops.
// A step is its matrix products (sgemm, written straight into the outputs that hold the gates'
// pre-activations: [x, h]·W is x·W[:input] + h·W[input:], so nothing is concatenated) and one pass
// over the gates; nothing else is allocated.
import type { NDArray } from '../../../src/core/ndarray.js';
import { gruBlockDims, lstmBlockDims, lstmBlockParams } from '../../../ops/semantics/rnn.js';
import { sgemm } from '../gemm.js';
import { registerCpuKernel } from '../registry.js';

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** out[:, :] (β·out +) ← x·W[0:input, col:col+n] + h·W[input:, col:col+n], W having `ld` columns. */
function xhTimes(x: Float32Array, h: Float32Array, w: Float32Array, ld: number, col: number, batch: number, input: number, cell: number, out: Float32Array, n: number): void {
  sgemm(false, false, batch, n, input, 1, x, input, w, ld, 0, out, n, 0, col, 0);
  sgemm(false, false, batch, n, cell, 1, h, cell, w, ld, 1, out, n, 0, input * ld + col, 0);
}

const f32 = (a: NDArray): Float32Array => a.data as Float32Array;

registerCpuKernel('LSTMBlockCell', (inputs, node, _state, outputs) => {
  const { batch, input, cell } = lstmBlockDims(node, inputs.map((a) => a.shape));
  const { forgetBias, cellClip, usePeephole } = lstmBlockParams(node.attrs);
  const [x, csPrev, hPrev, w, wci, wcf, wco, b] = inputs.map(f32) as Float32Array[];
  const outs = [0, 1, 2, 3, 4, 5, 6].map(() => outputs.alloc('float32', [batch, cell]));
  const [i, cs, f, o, ci, co, h] = outs.map(f32) as Float32Array[];
  const n = cell;
  // Gate columns of w and b: i, ci, f, o.
  xhTimes(x!, hPrev!, w!, 4 * n, 0, batch, input, n, i!, n);
  xhTimes(x!, hPrev!, w!, 4 * n, n, batch, input, n, ci!, n);
  xhTimes(x!, hPrev!, w!, 4 * n, 2 * n, batch, input, n, f!, n);
  xhTimes(x!, hPrev!, w!, 4 * n, 3 * n, batch, input, n, o!, n);
  const bd = b!;
  for (let r = 0; r < batch; r++) {
    for (let j = 0, e = r * n; j < n; j++, e++) {
      const c0 = csPrev![e]!;
      const iv = sigmoid(i![e]! + bd[j]! + (usePeephole ? c0 * wci![j]! : 0));
      const fv = sigmoid(f![e]! + bd[2 * n + j]! + forgetBias + (usePeephole ? c0 * wcf![j]! : 0));
      const civ = Math.tanh(ci![e]! + bd[n + j]!);
      let c = civ * iv + c0 * fv;
      if (cellClip > 0) c = c > cellClip ? cellClip : c < -cellClip ? -cellClip : c;
      // Rounded to float32 before the output gate reads it, as TF's kernel stores cs first.
      c = Math.fround(c);
      const ov = sigmoid(o![e]! + bd[3 * n + j]! + (usePeephole ? c * wco![j]! : 0));
      const cov = Math.tanh(c);
      i![e] = iv;
      f![e] = fv;
      ci![e] = civ;
      cs![e] = c;
      o![e] = ov;
      co![e] = cov;
      h![e] = cov * ov;
    }
  }
  return outs;
});

registerCpuKernel('LSTMBlockCellGrad', (inputs, node, _state, outputs) => {
  const { batch, cell } = lstmBlockDims(node, inputs.map((a) => a.shape));
  const usePeephole = lstmBlockParams(node.attrs).usePeephole;
  const d = inputs.map(f32);
  const [csPrev, wci, wcf, wco] = [d[1]!, d[4]!, d[5]!, d[6]!];
  const [i, cs, f, o, ci, co, csGrad, hGrad] = d.slice(8) as Float32Array[];
  const n = cell;
  const outs = [
    outputs.alloc('float32', [batch, n]),
    outputs.alloc('float32', [batch, 4 * n]),
    outputs.alloc('float32', [n]),
    outputs.alloc('float32', [n]),
    outputs.alloc('float32', [n]),
  ];
  const [csPrevGrad, dicfo, wciGrad, wcfGrad, wcoGrad] = outs.map(f32) as Float32Array[];
  wciGrad!.fill(0);
  wcfGrad!.fill(0);
  wcoGrad!.fill(0);
  for (let r = 0; r < batch; r++) {
    const g = r * 4 * n;
    for (let j = 0, e = r * n; j < n; j++, e++) {
      const iv = i![e]!, fv = f![e]!, ov = o![e]!, civ = ci![e]!, cov = co![e]!, hg = hGrad![e]!, c0 = csPrev[e]!;
      const dO = ov * (1 - ov) * hg * cov;
      let dcs = (1 - cov * cov) * hg * ov + csGrad![e]!;
      if (usePeephole) dcs += dO * wco[j]!;
      const dci = (1 - civ * civ) * dcs * iv;
      const df = fv * (1 - fv) * dcs * c0;
      const di = iv * (1 - iv) * dcs * civ;
      dicfo![g + j] = di;
      dicfo![g + n + j] = dci;
      dicfo![g + 2 * n + j] = df;
      dicfo![g + 3 * n + j] = dO;
      let dcsPrev = dcs * fv;
      if (usePeephole) {
        dcsPrev += di * wci[j]! + df * wcf[j]!;
        wciGrad![j]! += di * c0;
        wcfGrad![j]! += df * c0;
        wcoGrad![j]! += dO * cs![e]!;
      }
      csPrevGrad![e] = dcsPrev;
    }
  }
  return outs;
});

registerCpuKernel('GRUBlockCell', (inputs, node, _state, outputs) => {
  const { batch, input, cell } = gruBlockDims(node, inputs.map((a) => a.shape));
  const [x, hPrev, wRu, wC, bRu, bC] = inputs.map(f32) as Float32Array[];
  const outs = [0, 1, 2, 3].map(() => outputs.alloc('float32', [batch, cell]));
  const [r, u, c, h] = outs.map(f32) as Float32Array[];
  const n = cell;
  xhTimes(x!, hPrev!, wRu!, 2 * n, 0, batch, input, n, r!, n);
  xhTimes(x!, hPrev!, wRu!, 2 * n, n, batch, input, n, u!, n);
  // h holds h_prev∘r until the candidate's product has read it.
  for (let e = 0; e < batch * n; e++) {
    const j = e % n;
    const rv = sigmoid(r![e]! + bRu![j]!);
    r![e] = rv;
    u![e] = sigmoid(u![e]! + bRu![n + j]!);
    h![e] = hPrev![e]! * rv;
  }
  xhTimes(x!, h!, wC!, n, 0, batch, input, n, c!, n);
  for (let e = 0; e < batch * n; e++) {
    const cv = Math.tanh(c![e]! + bC![e % n]!);
    const uv = u![e]!;
    c![e] = cv;
    h![e] = (1 - uv) * cv + uv * hPrev![e]!;
  }
  return outs;
});

registerCpuKernel('GRUBlockCellGrad', (inputs, node, _state, outputs) => {
  const { batch, input, cell } = gruBlockDims(node, inputs.map((a) => a.shape));
  const [, hPrev, wRu, wC, , , r, u, c, dH] = inputs.map(f32) as Float32Array[];
  const n = cell;
  const outs = [
    outputs.alloc('float32', [batch, input]),
    outputs.alloc('float32', [batch, n]),
    outputs.alloc('float32', [batch, n]),
    outputs.alloc('float32', [batch, 2 * n]),
  ];
  const [dX, dHPrev, dCBar, dRU] = outs.map(f32) as Float32Array[];
  for (let e = 0; e < batch * n; e++) {
    const uv = u![e]!, cv = c![e]!, dh = dH![e]!;
    dCBar![e] = dh * (1 - uv) * (1 - cv * cv);
    dRU![Math.floor(e / n) * 2 * n + n + (e % n)] = dh * (hPrev![e]! - cv) * uv * (1 - uv);
  }
  // [dx, d(h_prev∘r)] = d_c_bar·w_cᵀ; d(h_prev∘r) waits in d_h_prev.
  sgemm(false, true, batch, input, n, 1, dCBar!, n, wC!, n, 0, dX!, input);
  sgemm(false, true, batch, n, n, 1, dCBar!, n, wC!, n, 0, dHPrev!, n, 0, input * n, 0);
  for (let e = 0; e < batch * n; e++) {
    const rv = r![e]!, dhr = dHPrev![e]!;
    dRU![Math.floor(e / n) * 2 * n + (e % n)] = dhr * hPrev![e]! * rv * (1 - rv);
    dHPrev![e] = dhr * rv + dH![e]! * u![e]!;
  }
  // + [dx, dh_prev] from the gates: d_r_bar_u_bar·w_ruᵀ.
  sgemm(false, true, batch, input, 2 * n, 1, dRU!, 2 * n, wRu!, 2 * n, 1, dX!, input);
  sgemm(false, true, batch, n, 2 * n, 1, dRU!, 2 * n, wRu!, 2 * n, 1, dHPrev!, n, 0, input * 2 * n, 0);
  return outs;
});
