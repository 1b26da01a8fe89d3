// CPU kernels of the fused recurrent cells: LSTMBlockCell, GRUBlockCell and their gradient ops.
// A step is its matrix products (sgemm, written straight into the outputs that hold the gates'
// pre-activations, which start as the bias: [x, h]·W + b is b + x·W[:input] + h·W[input:], so nothing
// is concatenated) and one pass over the gates: a generated elementwise program (WebAssembly SIMD,
// as the compiler's fused clusters run) computing every output at once, in place. Nothing else is
// allocated.
import { NDArray } from '../../../src/core/ndarray.js';
import { gruBlockDims, lstmBlockDims, lstmBlockParams } from '../../../ops/semantics/rnn.js';
import type { ElementwiseProgram, KernelNode, RuntimeState } from '../../backend.js';
import { sgemm } from '../gemm.js';
import { getCpuKernel, registerCpuKernel, type Outputs } from '../registry.js';

/** out (rows of `n`) ← bias[col .. col + n) (+ extra) + x·W[0:input, col:col+n] + h·W[input:, col:col+n], W having `ld` columns. */
function xhTimes(x: Float32Array, h: Float32Array, w: Float32Array, ld: number, col: number, batch: number, input: number, cell: number, out: Float32Array, n: number, bias: Float32Array, extra = 0): void {
  for (let r = 0; r < batch; r++) for (let j = 0; j < n; j++) out[r * n + j] = bias[col + j]! + extra;
  sgemm(false, false, batch, n, input, 1, x, input, w, ld, 1, out, n, 0, col, 0);
  sgemm(false, false, batch, n, cell, 1, h, cell, w, ld, 1, out, n, 0, input * ld + col, 0);
}

const f32 = (a: NDArray): Float32Array => a.data as Float32Array;

/** Hands a kernel's outputs out in order: the arrays the gate program writes in place. */
class InPlace implements Outputs {
  private k = 0;
  constructor(private readonly arrays: readonly NDArray[]) {}
  alloc(): NDArray {
    return this.arrays[this.k++]!;
  }
  allocOverwritten(): NDArray {
    return this.alloc();
  }
}

/** A gate program being built: inputs are the fused node's inputs in order, ops return their index. */
class Gates {
  readonly inputs: { arg: number; shape: number[]; dtype: 'float32' }[] = [];
  readonly ops: ElementwiseProgram['ops'][number][] = [];
  constructor(
    private readonly shape: readonly number[],
    private readonly name: string,
  ) {}
  /** A full [batch, cell] operand, a [cell] row ('row') or a scalar. */
  input(kind: 'full' | 'row' | 'scalar'): { input: number } {
    const [b, n] = this.shape as [number, number];
    this.inputs.push({ arg: this.inputs.length, shape: kind === 'full' ? [b, n] : kind === 'row' ? [1, n] : [1, 1], dtype: 'float32' });
    return { input: this.inputs.length - 1 };
  }
  op(type: string, ...args: ({ input: number } | { op: number })[]): { op: number } {
    this.ops.push({ type, attrs: { T: 'float32' }, dtype: 'float32', args, name: this.name });
    return { op: this.ops.length - 1 };
  }
  program(outputs: readonly { op: number }[]): ElementwiseProgram {
    return { shape: this.shape, inputs: this.inputs, ops: this.ops, outputs: outputs.map((o) => o.op) };
  }
}

/** A cell node's gate pass as a _FusedElementwise node, for one [batch, cell]; made once per node and shape. */
interface GatePass {
  batch: number;
  node: KernelNode;
  /** Constant operands (the clip bounds). */
  consts: NDArray[];
}
const gatePasses = new WeakMap<KernelNode, GatePass>();

function gatePass(node: KernelNode, batch: number, make: () => { program: ElementwiseProgram; consts: NDArray[] }): GatePass {
  let g = gatePasses.get(node);
  if (g?.batch !== batch) {
    const { program, consts } = make();
    g = { batch, node: { ...node, type: '_FusedElementwise', program }, consts };
    gatePasses.set(node, g);
  }
  return g;
}

function runGates(pass: GatePass, ins: NDArray[], outs: readonly NDArray[], state: RuntimeState<NDArray>): void {
  getCpuKernel('_FusedElementwise')!(ins, pass.node, state, new InPlace(outs));
}

/**
 * LSTMBlockCell's gates over pre-activations i, ci, f (forget bias included), o and cs_prev (then the
 * peepholes wci, wcf, wco, then the clip bounds); outputs i, cs, f, o, ci, co, h.
 */
function lstmGates(batch: number, n: number, usePeephole: boolean, cellClip: number, name: string): { program: ElementwiseProgram; consts: NDArray[] } {
  const g = new Gates([batch, n], name);
  const [iPre, ciPre, fPre, oPre, c0] = [g.input('full'), g.input('full'), g.input('full'), g.input('full'), g.input('full')];
  const peep = usePeephole ? [g.input('row'), g.input('row'), g.input('row')] : [];
  const withPeep = (pre: { input: number }, k: number, c: { input: number } | { op: number }) => (usePeephole ? g.op('AddV2', pre, g.op('Mul', c, peep[k]!)) : pre);
  const i = g.op('Sigmoid', withPeep(iPre, 0, c0));
  const f = g.op('Sigmoid', withPeep(fPre, 1, c0));
  const ci = g.op('Tanh', ciPre);
  let cs = g.op('AddV2', g.op('Mul', ci, i), g.op('Mul', c0, f));
  const consts: NDArray[] = [];
  if (cellClip > 0) {
    cs = g.op('Maximum', g.op('Minimum', cs, g.input('scalar')), g.input('scalar'));
    consts.push(new NDArray(Float32Array.of(cellClip), [1, 1]), new NDArray(Float32Array.of(-cellClip), [1, 1]));
  }
  const o = g.op('Sigmoid', withPeep(oPre, 2, cs));
  const co = g.op('Tanh', cs);
  const h = g.op('Mul', co, o);
  return { program: g.program([i, cs, f, o, ci, co, h]), consts };
}

registerCpuKernel('LSTMBlockCell', (inputs, node, state, outputs) => {
  const { batch, input, cell } = lstmBlockDims(node, inputs.map((a) => a.shape));
  const { forgetBias, cellClip, usePeephole } = lstmBlockParams(node.attrs);
  const [x, csPrev, hPrev, w, wci, wcf, wco, b] = inputs as NDArray[];
  const outs = [0, 1, 2, 3, 4, 5, 6].map(() => outputs.alloc('float32', [batch, cell]));
  if (batch === 0) return outs;
  const [i, , f, o, ci] = outs as NDArray[];
  const n = cell;
  const [xd, hd, wd, bd] = [f32(x!), f32(hPrev!), f32(w!), f32(b!)];
  // Gate columns of w and b: i, ci, f, o.
  xhTimes(xd, hd, wd, 4 * n, 0, batch, input, n, f32(i!), n, bd);
  xhTimes(xd, hd, wd, 4 * n, n, batch, input, n, f32(ci!), n, bd);
  xhTimes(xd, hd, wd, 4 * n, 2 * n, batch, input, n, f32(f!), n, bd, forgetBias);
  xhTimes(xd, hd, wd, 4 * n, 3 * n, batch, input, n, f32(o!), n, bd);
  const pass = gatePass(node, batch, () => lstmGates(batch, n, usePeephole, cellClip, node.name));
  runGates(pass, [i!, ci!, f!, o!, csPrev!, ...(usePeephole ? [wci!, wcf!, wco!] : []), ...pass.consts], outs, state);
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

/** GRUBlockCell's first pass: r = σ(r̄), u = σ(ū) and h_prev∘r, over r̄, ū (biases included) and h_prev. */
function gruGates(batch: number, n: number, name: string): { program: ElementwiseProgram; consts: NDArray[] } {
  const g = new Gates([batch, n], name);
  const [rPre, uPre, h] = [g.input('full'), g.input('full'), g.input('full')];
  const r = g.op('Sigmoid', rPre);
  return { program: g.program([r, g.op('Sigmoid', uPre), g.op('Mul', h, r)]), consts: [] };
}

/** GRUBlockCell's second pass: c = tanh(c̄), h = c + u∘(h_prev - c), over c̄ (bias included), u and h_prev. */
function gruCandidate(batch: number, n: number, name: string): { program: ElementwiseProgram; consts: NDArray[] } {
  const g = new Gates([batch, n], name);
  const [cPre, u, h] = [g.input('full'), g.input('full'), g.input('full')];
  const c = g.op('Tanh', cPre);
  return { program: g.program([c, g.op('AddV2', c, g.op('Mul', u, g.op('Sub', h, c)))]), consts: [] };
}

/** The second gate pass of a GRU node has a node of its own to be cached under. */
const candidateNodes = new WeakMap<KernelNode, KernelNode>();

registerCpuKernel('GRUBlockCell', (inputs, node, state, outputs) => {
  const { batch, input, cell } = gruBlockDims(node, inputs.map((a) => a.shape));
  const [x, hPrev, wRu, wC, bRu, bC] = inputs as NDArray[];
  const outs = [0, 1, 2, 3].map(() => outputs.alloc('float32', [batch, cell]));
  if (batch === 0) return outs;
  const [r, u, c, h] = outs as NDArray[];
  const n = cell;
  const [xd, hd] = [f32(x!), f32(hPrev!)];
  xhTimes(xd, hd, f32(wRu!), 2 * n, 0, batch, input, n, f32(r!), n, f32(bRu!));
  xhTimes(xd, hd, f32(wRu!), 2 * n, n, batch, input, n, f32(u!), n, f32(bRu!));
  // h holds h_prev∘r until the candidate's product has read it.
  runGates(gatePass(node, batch, () => gruGates(batch, n, node.name)), [r!, u!, hPrev!], [r!, u!, h!], state);
  xhTimes(xd, f32(h!), f32(wC!), n, 0, batch, input, n, f32(c!), n, f32(bC!));
  let second = candidateNodes.get(node);
  if (!second) candidateNodes.set(node, (second = { ...node }));
  runGates(gatePass(second, batch, () => gruCandidate(batch, n, node.name)), [c!, u!, hPrev!], [c!, h!], state);
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
  for (let row = 0; row < batch; row++) {
    for (let j = 0, e = row * n; j < n; j++, e++) {
      const uv = u![e]!, cv = c![e]!, dh = dH![e]!;
      dCBar![e] = dh * (1 - uv) * (1 - cv * cv);
      dRU![row * 2 * n + n + j] = dh * (hPrev![e]! - cv) * uv * (1 - uv);
    }
  }
  // [dx, d(h_prev∘r)] = d_c_bar·w_cᵀ; d(h_prev∘r) waits in d_h_prev.
  sgemm(false, true, batch, input, n, 1, dCBar!, n, wC!, n, 0, dX!, input);
  sgemm(false, true, batch, n, n, 1, dCBar!, n, wC!, n, 0, dHPrev!, n, 0, input * n, 0);
  for (let row = 0; row < batch; row++) {
    for (let j = 0, e = row * n; j < n; j++, e++) {
      const rv = r![e]!, dhr = dHPrev![e]!;
      dRU![row * 2 * n + j] = dhr * hPrev![e]! * rv * (1 - rv);
      dHPrev![e] = dhr * rv + dH![e]! * u![e]!;
    }
  }
  // + [dx, dh_prev] from the gates: d_r_bar_u_bar·w_ruᵀ.
  sgemm(false, true, batch, input, 2 * n, 1, dRU!, 2 * n, wRu!, 2 * n, 1, dX!, input);
  sgemm(false, true, batch, n, 2 * n, 1, dRU!, 2 * n, wRu!, 2 * n, 1, dHPrev!, n, 0, input * 2 * n, 0);
  return outs;
});
