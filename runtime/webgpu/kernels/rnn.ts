// WebGPU kernels of the fused recurrent cells: LSTMBlockCell, GRUBlockCell and their gradient ops.
// A step's matrix products are the tiled MatMul kernel (bias added in its epilogue); the gate
// arithmetic around them is generated per shape. A dispatch may bind 8 buffers (MAX_BINDINGS), and
// LSTMBlockCell has 7 outputs: its gate pass reads one buffer, the product's output with cs_prev and
// the peepholes packed after it (by the pass that lays out [x, h] for the product).
import { gruBlockDims, lstmBlockDims, lstmBlockParams } from '../../../ops/semantics/rnn.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, f32, perElement, u } from '../wgsl.js';
import { matmulProgram } from './matmul.js';
import { activationFn } from './math.js';

/** WGSL `act` (the backend's tanh) and `sigm`, σ(v) = (1 + tanh(v/2)) / 2: one set of helpers for both. */
const ACTIVATIONS = `${activationFn('Tanh', 0)}
fn sigm(v: f32) -> f32 { return 0.5 + 0.5 * act(0.5 * v); }`;

const F = (k: number): 'float32'[] => new Array<'float32'>(k).fill('float32');

/** out (β = 0) ← a·b (+ bias), a [M, K], b [K, N] (or [N, K] with tb). */
function product(ctx: KernelCtx, a: GpuTensor, b: GpuTensor, out: GpuTensor, M: number, N: number, K: number, tb: boolean, bias: GpuTensor | undefined, what: string): void {
  const p = matmulProgram(
    { M, N, K, ta: false, tb, dtype: 'float32', batch: [], aStr: [], bStr: [], epilogue: bias ? { act: undefined, alpha: 0 } : undefined },
    `${ctx.node.type} ${ctx.node.name} (${what})`,
  );
  ctx.dispatch(p, bias ? [a, b, bias] : [a, b], [out]);
}

/** WGSL writing [x, h] (row `row`, column `col` of [batch, input + cell]) to out0 at i. */
function concatRow(input: number, cell: number, hExpr: (e: string) => string): string {
  const width = input + cell;
  return `let row = i / ${u(width)};
  let col = i % ${u(width)};
  if (col < ${u(input)}) { out0[i] = in0[row * ${u(input)} + col]; } else { let e = row * ${u(cell)} + col - ${u(input)}; out0[i] = ${hExpr('e')}; }`;
}

registerGpuKernel('LSTMBlockCell', (ctx, inputs) => {
  const { batch, input, cell: n } = lstmBlockDims(ctx.node, inputs.map((t) => t.shape));
  const { forgetBias, cellClip, usePeephole } = lstmBlockParams(ctx.node.attrs);
  const outs = [0, 1, 2, 3, 4, 5, 6].map((k) => ctx.output(k, 'float32', [batch, n]));
  if (batch === 0) return outs;
  const [x, csPrev, hPrev, w, wci, wcf, wco, b] = inputs as GpuTensor[];
  const bn = batch * n;
  // gates: the product [batch, 4n], then cs_prev [batch, n], then wci, wcf, wco [n] each.
  const gates = ctx.scratch('float32', [4 * bn + bn + (usePeephole ? 3 * n : 0)], 'gates');
  const xh = ctx.scratch('float32', [batch, input + n], 'xh');
  const peeps = usePeephole ? [wci!, wcf!, wco!] : [];
  const pack = `${concatRow(input, n, (e) => `in1[${e}]`)}
  if (i < ${u(bn)}) { out1[${u(4 * bn)} + i] = in2[i]; }
  ${usePeephole ? `if (i < ${u(n)}) { out1[${u(5 * bn)} + i] = in3[i]; out1[${u(5 * bn + n)} + i] = in4[i]; out1[${u(5 * bn + 2 * n)} + i] = in5[i]; }` : ''}`;
  ctx.dispatch(perElement(batch * (input + n), bindings(F(3 + peeps.length), F(2)), pack, `LSTMBlockCell ${ctx.node.name} (pack)`), [x!, hPrev!, csPrev!, ...peeps], [xh, gates]);
  product(ctx, xh, w!, gates, batch, 4 * n, input + n, false, b, '[x, h]·w + b');
  const P = 5 * bn;
  const peep = (k: number, c: string): string => (usePeephole ? ` + ${c} * in0[${u(P + k * n)} + j]` : '');
  const body = `let r = i / ${u(n)};
  let j = i % ${u(n)};
  let g = r * ${u(4 * n)} + j;
  let c0 = in0[${u(4 * bn)} + i];
  let ig = sigm(in0[g]${peep(0, 'c0')});
  let fg = sigm(in0[g + ${u(2 * n)}] + ${f32(forgetBias)}${peep(1, 'c0')});
  let ci = act(in0[g + ${u(n)}]);
  var cs = ci * ig + c0 * fg;
  ${cellClip > 0 ? `cs = clamp(cs, ${f32(-cellClip)}, ${f32(cellClip)});` : ''}
  let og = sigm(in0[g + ${u(3 * n)}]${peep(2, 'cs')});
  let co = act(cs);
  out0[i] = ig; out1[i] = cs; out2[i] = fg; out3[i] = og; out4[i] = ci; out5[i] = co; out6[i] = co * og;`;
  ctx.dispatch(perElement(bn, `${bindings(F(1), F(7))}\n${ACTIVATIONS}`, body, `LSTMBlockCell ${ctx.node.name} (gates)`), [gates], outs);
  return outs;
});

registerGpuKernel('LSTMBlockCellGrad', (ctx, inputs) => {
  const { batch, cell: n } = lstmBlockDims(ctx.node, inputs.map((t) => t.shape));
  const usePeephole = lstmBlockParams(ctx.node.attrs).usePeephole;
  const outs = [
    ctx.output(0, 'float32', [batch, n]),
    ctx.output(1, 'float32', [batch, 4 * n]),
    ctx.output(2, 'float32', [n]),
    ctx.output(3, 'float32', [n]),
    ctx.output(4, 'float32', [n]),
  ];
  const [csPrevGrad, dicfo, wciGrad, wcfGrad, wcoGrad] = outs as GpuTensor[];
  const [, csPrev, , , wci, wcf, wco, , i, cs, f, o, ci, co, csGrad, hGrad] = inputs as GpuTensor[];
  const bn = batch * n;
  const name = `LSTMBlockCellGrad ${ctx.node.name}`;
  if (bn > 0) {
    // The peepholes wci, wcf, wco as one buffer, so the passes below fit in 8 bindings.
    let ph: GpuTensor[] = [];
    if (usePeephole) {
      const packed = ctx.scratch('float32', [3 * n], 'peepholes');
      ctx.dispatch(perElement(n, bindings(F(3), F(1)), `out0[i] = in0[i]; out0[${u(n)} + i] = in1[i]; out0[${u(2 * n)} + i] = in2[i];`, `${name} (peepholes)`), [wci!, wcf!, wco!], [packed]);
      ph = [packed];
    }
    const rowJ = `let r = i / ${u(n)};\n  let j = i % ${u(n)};\n  let g = r * ${u(4 * n)} + j;`;
    // do = o(1-o)·dh·co; dcs = (1-co²)·dh·o + cs_grad (+ do·wco).
    const dcs = ctx.scratch('float32', [batch, n], 'dcs');
    const first = `${rowJ}
  let ov = in0[i]; let cov = in1[i]; let hg = in2[i];
  let d_o = ov * (1.0 - ov) * hg * cov;
  out0[g + ${u(3 * n)}] = d_o;
  out1[i] = (1.0 - cov * cov) * hg * ov + in3[i]${usePeephole ? ` + d_o * in4[${u(2 * n)} + j]` : ''};`;
    ctx.dispatch(perElement(bn, bindings(F(4 + ph.length), F(2)), first, `${name} (output gate)`), [o!, co!, hGrad!, csGrad!, ...ph], [dicfo!, dcs]);
    // di, dci, df into dicfo; cs_prev's gradient dcs·f (+ di·wci + df·wcf).
    const second = `${rowJ}
  let d = in0[i]; let iv = in1[i]; let civ = in2[i]; let fv = in3[i]; let c0 = in4[i];
  let di = iv * (1.0 - iv) * d * civ;
  let df = fv * (1.0 - fv) * d * c0;
  out0[g] = di;
  out0[g + ${u(n)}] = (1.0 - civ * civ) * d * iv;
  out0[g + ${u(2 * n)}] = df;
  out1[i] = d * fv${usePeephole ? ` + di * in5[j] + df * in5[${u(n)} + j]` : ''};`;
    ctx.dispatch(perElement(bn, bindings(F(5 + ph.length), F(2)), second, `${name} (gates)`), [dcs, i!, ci!, f!, csPrev!, ...ph], [dicfo!, csPrevGrad!]);
  }
  // The peepholes' gradients: batch sums of di·cs_prev, df·cs_prev, do·cs (zeros without peepholes).
  if (n > 0) {
    const sums = usePeephole
      ? `var a = 0.0; var b = 0.0; var c = 0.0;
  for (var r = 0u; r < ${u(batch)}; r++) {
    let g = r * ${u(4 * n)} + i;
    let e = r * ${u(n)} + i;
    a += in0[g] * in1[e];
    b += in0[g + ${u(2 * n)}] * in1[e];
    c += in0[g + ${u(3 * n)}] * in2[e];
  }
  out0[i] = a; out1[i] = b; out2[i] = c;`
      : 'out0[i] = 0.0; out1[i] = 0.0; out2[i] = 0.0;';
    ctx.dispatch(perElement(n, bindings(usePeephole ? F(3) : [], F(3)), sums, `${name} (peepholes' gradients)`), usePeephole ? [dicfo!, csPrev!, cs!] : [], [wciGrad!, wcfGrad!, wcoGrad!]);
  }
  return outs;
});

registerGpuKernel('GRUBlockCell', (ctx, inputs) => {
  const { batch, input, cell: n } = gruBlockDims(ctx.node, inputs.map((t) => t.shape));
  const outs = [0, 1, 2, 3].map((k) => ctx.output(k, 'float32', [batch, n]));
  if (batch === 0) return outs;
  const [x, hPrev, wRu, wC, bRu, bC] = inputs as GpuTensor[];
  const [r, uGate, c, h] = outs as GpuTensor[];
  const width = input + n;
  const name = `GRUBlockCell ${ctx.node.name}`;
  const xh = ctx.scratch('float32', [batch, width], 'xh');
  ctx.dispatch(perElement(batch * width, bindings(F(2), F(1)), concatRow(input, n, (e) => `in1[${e}]`), `${name} (x, h)`), [x!, hPrev!], [xh]);
  const ru = ctx.scratch('float32', [batch, 2 * n], 'ru');
  product(ctx, xh, wRu!, ru, batch, 2 * n, width, false, bRu, '[x, h]·w_ru + b_ru');
  // r, u, and [x, h∘r] for the candidate's product.
  const xhr = ctx.scratch('float32', [batch, width], 'xhr');
  const gates = `let row = i / ${u(width)};
  let col = i % ${u(width)};
  if (col < ${u(input)}) { out2[i] = in1[row * ${u(input)} + col]; } else {
    let j = col - ${u(input)};
    let e = row * ${u(n)} + j;
    let rv = sigm(in0[row * ${u(2 * n)} + j]);
    out0[e] = rv;
    out1[e] = sigm(in0[row * ${u(2 * n)} + ${u(n)} + j]);
    out2[i] = in2[e] * rv;
  }`;
  ctx.dispatch(perElement(batch * width, `${bindings(F(3), F(3))}\n${ACTIVATIONS}`, gates, `${name} (r, u)`), [ru, x!, hPrev!], [r!, uGate!, xhr]);
  const cBar = ctx.scratch('float32', [batch, n], 'c_bar');
  product(ctx, xhr, wC!, cBar, batch, n, width, false, bC, '[x, h∘r]·w_c + b_c');
  const cand = `let cv = act(in0[i]); let uv = in1[i];
  out0[i] = cv;
  out1[i] = (1.0 - uv) * cv + uv * in2[i];`;
  ctx.dispatch(perElement(batch * n, `${bindings(F(3), F(2))}\n${ACTIVATIONS}`, cand, `${name} (c, h)`), [cBar, uGate!, hPrev!], [c!, h!]);
  return outs;
});

registerGpuKernel('GRUBlockCellGrad', (ctx, inputs) => {
  const { batch, input, cell: n } = gruBlockDims(ctx.node, inputs.map((t) => t.shape));
  const outs = [
    ctx.output(0, 'float32', [batch, input]),
    ctx.output(1, 'float32', [batch, n]),
    ctx.output(2, 'float32', [batch, n]),
    ctx.output(3, 'float32', [batch, 2 * n]),
  ];
  if (batch === 0) return outs;
  const [dX, dHPrev, dCBar, dRU] = outs as GpuTensor[];
  const [, hPrev, wRu, wC, , , r, uGate, c, dH] = inputs as GpuTensor[];
  const width = input + n;
  const name = `GRUBlockCellGrad ${ctx.node.name}`;
  const rowJ = `let row = i / ${u(n)};\n  let j = i % ${u(n)};`;
  // d_c_bar = dh(1-u)(1-c²); d_u_bar = dh(h_prev - c)u(1-u).
  const first = `${rowJ}
  let dh = in0[i]; let uv = in1[i]; let cv = in2[i];
  out0[i] = dh * (1.0 - uv) * (1.0 - cv * cv);
  out1[row * ${u(2 * n)} + ${u(n)} + j] = dh * (in3[i] - cv) * uv * (1.0 - uv);`;
  ctx.dispatch(perElement(batch * n, bindings(F(4), F(2)), first, `${name} (c, u)`), [dH!, uGate!, c!, hPrev!], [dCBar!, dRU!]);
  // [dx, d(h_prev∘r)] from the candidate = d_c_bar·w_cᵀ; d_r_bar = d(h_prev∘r)·h_prev·r(1-r).
  const fromC = ctx.scratch('float32', [batch, width], 'from_c');
  product(ctx, dCBar!, wC!, fromC, batch, width, n, true, undefined, 'd_c_bar·w_cᵀ');
  const second = `${rowJ}
  let rv = in2[i];
  out0[row * ${u(2 * n)} + j] = in0[row * ${u(width)} + ${u(input)} + j] * in1[i] * rv * (1.0 - rv);`;
  ctx.dispatch(perElement(batch * n, bindings(F(3), F(1)), second, `${name} (r)`), [fromC, hPrev!, r!], [dRU!]);
  const fromRu = ctx.scratch('float32', [batch, width], 'from_ru');
  product(ctx, dRU!, wRu!, fromRu, batch, width, 2 * n, true, undefined, 'd_r_bar_u_bar·w_ruᵀ');
  const last = `let row = i / ${u(width)};
  let col = i % ${u(width)};
  if (col < ${u(input)}) { out0[row * ${u(input)} + col] = in0[i] + in1[i]; } else {
    let e = row * ${u(n)} + col - ${u(input)};
    out1[e] = in0[i] * in2[e] + in3[e] * in4[e] + in1[i];
  }`;
  ctx.dispatch(perElement(batch * width, bindings(F(5), F(2)), last, `${name} (x, h_prev)`), [fromC, fromRu, r!, dH!, uGate!], [dX!, dHPrev!]);
  return outs;
});
