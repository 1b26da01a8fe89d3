// CPU kernels: debugging and graph-utility ops (Assert, Print, CheckNumerics, IdentityN, Snapshot,
// ShapeN, EnsureShape, fake quantization), as TensorFlow's kernels compute and word them.
// Registered on import by kernels/index.ts.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape, type Shape } from '../../../src/core/shape.js';
import { fromNumbers, scalarNumber } from '../../array_args.js';
import type { KernelNode } from '../../backend.js';
import { registerCpuKernel } from '../registry.js';
import type { Outputs } from './util.js';

const f = Math.fround;

// ---- TF's Tensor::SummarizeValue (the v1 form Assert and Print use) ----

/** C's %.{p}g. */
function formatG(v: number, p: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v < 0 ? '-inf' : 'inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mant, expStr] = v.toExponential(p - 1).split('e') as [string, string];
  const x = Number(expStr);
  const trim = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (x < -4 || x >= p) return `${trim(mant)}e${x < 0 ? '-' : '+'}${String(Math.abs(x)).padStart(2, '0')}`;
  return trim(v.toFixed(Math.max(0, p - 1 - x)));
}

/** How TF prints one float: the shortest of %.6g and %.9g that reads back as the same float. */
function formatFloat(v: number): string {
  const short = formatG(v, 6);
  return Number.isNaN(v) || f(Number(short.replace(/^(-?)inf$/, '$1Infinity'))) === v ? short : formatG(v, 9);
}

function element(a: NDArray, i: number): string {
  const d = a.data[i]!;
  switch (a.dtype) {
    case 'float32':
      return formatFloat(d as number);
    case 'string':
      return JSON.stringify(new TextDecoder().decode(d as Uint8Array)).slice(1, -1);
    default:
      return String(d);
  }
}

/** A tensor's first `limit` elements with TF's brackets per dimension and "..." where cut short. */
export function summarizeValue(a: NDArray, summarize: number): string {
  const n = a.size;
  const limit = summarize < 0 ? n : Math.min(summarize, n);
  let out = '';
  if (a.rank === 0) {
    for (let i = 0; i < limit; i++) out += (i > 0 ? ' ' : '') + element(a, i);
    return n > limit ? out + '...' : out;
  }
  let k = 0;
  const dim = (d: number): void => {
    if (k >= limit) return;
    const count = a.shape[d]!;
    if (d === a.rank - 1) {
      for (let i = 0; i < count; i++) {
        if (k >= limit) {
          if (d !== 0) out += '...';
          return;
        }
        out += (i > 0 ? ' ' : '') + element(a, k++);
      }
      return;
    }
    for (let i = 0; i < count; i++) {
      const open = k < limit;
      if (open) out += '[';
      dim(d + 1);
      if (k < limit || open) out += ']';
    }
  };
  dim(0);
  return n > limit ? out + '...' : out;
}

function summarizeAttr(node: KernelNode): number {
  return (node.attrs.summarize as number | undefined) ?? 3;
}

// ---- assertions and printing ----

registerCpuKernel('Assert', ([cond, ...data], node) => {
  if (cond!.rank !== 0) throw new InvalidArgumentError(`In[0] should be a scalar: ${formatShape(cond!.shape)}`);
  if (cond!.data[0]) return [];
  const summarize = summarizeAttr(node);
  throw new InvalidArgumentError(`assertion failed: ${data.map((d) => `[${summarizeValue(d, summarize)}]`).join(' ')}`);
});

/** Runs of each Print op in this session: TF's per-kernel call counter behind first_n. */
interface PrintCount {
  calls: number;
}

registerCpuKernel('Print', ([x, ...data], node, state) => {
  const firstN = (node.attrs.first_n as number | undefined) ?? -1;
  if (firstN >= 0) {
    let c = state.opState.get(node.name) as PrintCount | undefined;
    if (!c) state.opState.set(node.name, (c = { calls: 0 }));
    if (c.calls >= firstN) return [x!];
    c.calls++;
  }
  const summarize = summarizeAttr(node);
  const message = (node.attrs.message as string | undefined) ?? '';
  // TF writes the line to standard error (std::cerr): console.error is that in Node.
  console.error(message + data.map((d) => `[${summarizeValue(d, summarize)}]`).join(''));
  return [x!];
});

/** TF's CheckNumerics wording: "<message> : Tensor had NaN values" (Inf, or Inf and NaN). */
export function numericsStatus(nan: boolean, inf: boolean): string | undefined {
  if (nan && inf) return 'Inf and NaN';
  if (inf) return 'Inf';
  if (nan) return 'NaN';
  return undefined;
}

registerCpuKernel('CheckNumerics', ([x], node) => {
  const d = x!.data as Float32Array;
  let nan = false;
  let inf = false;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v !== v) nan = true;
    else if (v === Infinity || v === -Infinity) inf = true;
  }
  const status = numericsStatus(nan, inf);
  if (status) throw new InvalidArgumentError(`${(node.attrs.message as string | undefined) ?? ''} : Tensor had ${status} values`);
  return [x!];
});

// ---- identities and shapes ----

function copyOf(x: NDArray, outputs: Outputs): NDArray {
  if (x.dtype === 'string' || x.dtype === 'variant') return x;
  const out = outputs.alloc(x.dtype, x.shape);
  (out.data as Float32Array).set(x.data as Float32Array);
  return out;
}

registerCpuKernel('IdentityN', (inputs, _node, _state, outputs) => inputs.map((x) => copyOf(x, outputs)));
registerCpuKernel('Snapshot', ([x], _node, _state, outputs) => [copyOf(x!, outputs)]);

registerCpuKernel('ShapeN', (inputs, node) => {
  const dtype = (node.attrs.out_type as 'int32' | 'int64' | undefined) ?? 'int32';
  return inputs.map((x) => fromNumbers(x.shape, dtype, [x.rank]));
});

registerCpuKernel('EnsureShape', ([x], node) => {
  const want = node.attrs.shape as Shape;
  const ok = want === null || (want.length === x!.rank && want.every((d, i) => d === null || d === x!.shape[i]));
  if (!ok) throw new InvalidArgumentError(`Shape of tensor ${node.name} ${formatShape(x!.shape)} is not compatible with expected shape ${formatShape(want)}.`);
  return [x!];
});

// ---- fake quantization (TF's fake_quant_ops_functor.h, float32 arithmetic) ----

export interface Nudged {
  min: number;
  max: number;
  scale: number;
}

/** TF's Nudge: the range moved so that zero is exactly representable. */
export function nudge(min: number, max: number, numBits: number, narrowRange: boolean): Nudged {
  const qmin = narrowRange ? 1 : 0;
  const qmax = 2 ** numBits - 1;
  const scale = f(f(max - min) / (qmax - qmin));
  const zeroFromMin = f(qmin - f(min / scale));
  const zero = zeroFromMin < qmin ? qmin : zeroFromMin > qmax ? qmax : Math.round(zeroFromMin);
  return { min: f((qmin - zero) * scale), max: f((qmax - zero) * scale), scale };
}

function quantBits(node: KernelNode): [number, boolean] {
  const bits = (node.attrs.num_bits as number | undefined) ?? 8;
  if (!(bits >= 2 && bits <= 16)) throw new InvalidArgumentError(`num_bits must be between 2 and 16, inclusive, got ${bits}`);
  return [bits, node.attrs.narrow_range === true];
}

function argsRange(node: KernelNode): Nudged {
  const [min, max] = [(node.attrs.min as number | undefined) ?? -6, (node.attrs.max as number | undefined) ?? 6];
  if (!(min < max)) throw new InvalidArgumentError(`min has to be smaller than max, was: ${min} >= ${max}`);
  return nudge(min, max, ...quantBits(node));
}

function varsRange(min: NDArray, max: NDArray, node: KernelNode): Nudged {
  return nudge(scalarNumber(min, 'min'), scalarNumber(max, 'max'), ...quantBits(node));
}

function fakeQuant(x: NDArray, r: Nudged, outputs: Outputs): NDArray {
  const out = outputs.alloc('float32', x.shape);
  const xd = x.data as Float32Array;
  const od = out.data as Float32Array;
  const inv = f(1 / r.scale);
  for (let i = 0; i < xd.length; i++) {
    const clamped = Math.max(Math.min(xd[i]!, r.max), r.min);
    od[i] = f(Math.floor(f(f(f(clamped - r.min) * inv) + 0.5)) * r.scale) + r.min;
  }
  return out;
}

/** The straight-through gradient: gradients where the input lies in the nudged range, else 0. */
function quantGrad(g: NDArray, x: NDArray, r: Nudged, outputs: Outputs): NDArray {
  if (g.size !== x.size) throw new InvalidArgumentError(`gradients and inputs must be the same size: ${formatShape(g.shape)} vs. ${formatShape(x.shape)}`);
  const out = outputs.alloc('float32', x.shape);
  const [gd, xd, od] = [g.data as Float32Array, x.data as Float32Array, out.data as Float32Array];
  for (let i = 0; i < xd.length; i++) od[i] = xd[i]! >= r.min && xd[i]! <= r.max ? gd[i]! : 0;
  return out;
}

registerCpuKernel('FakeQuantWithMinMaxArgs', ([x], node, _state, outputs) => [fakeQuant(x!, argsRange(node), outputs)]);
registerCpuKernel('FakeQuantWithMinMaxArgsGradient', ([g, x], node, _state, outputs) => [quantGrad(g!, x!, argsRange(node), outputs)]);
registerCpuKernel('FakeQuantWithMinMaxVars', ([x, min, max], node, _state, outputs) => [fakeQuant(x!, varsRange(min!, max!, node), outputs)]);
registerCpuKernel('FakeQuantWithMinMaxVarsGradient', ([g, x, min, max], node, _state, outputs) => {
  const r = varsRange(min!, max!, node);
  const dx = quantGrad(g!, x!, r, outputs);
  const [gd, xd] = [g!.data as Float32Array, x!.data as Float32Array];
  let below = 0;
  let above = 0;
  for (let i = 0; i < xd.length; i++) {
    if (xd[i]! < r.min) below += gd[i]!;
    else if (xd[i]! > r.max) above += gd[i]!;
  }
  const dmin = outputs.alloc('float32', []);
  const dmax = outputs.alloc('float32', []);
  (dmin.data as Float32Array)[0] = below;
  (dmax.data as Float32Array)[0] = above;
  return [dx, dmin, dmax];
});

