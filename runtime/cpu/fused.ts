// CPU kernels the compiler introduces: generated elementwise kernels (_FusedElementwise),
// contractions with a bias/activation epilogue (_FusedMatMul, _FusedConv2D), and views (_View).
//
// Code generation safety: generated source is assembled only from the fixed snippets in this file,
// identifiers this file makes up (I0, x3, t7, ...) and integers it checks with Number.isSafeInteger.
// Nothing from a graph or a file (op names, attr strings, constant values) is ever pasted in:
// numeric attrs travel as function arguments (K[i]).
import type { DType, TypedArray } from '../../src/dtypes.js';
import { InternalError, InvalidArgumentError } from '../../src/errors.js';
import { NDArray, numElements } from '../../src/ndarray.js';
import { formatShape } from '../../src/shape.js';
import type { ElementwiseProgram } from '../../passes/ir.js';
import type { KernelNode } from '../backend.js';
import { getCpuKernel, registerCpuKernel } from './registry.js';
import { alloc } from './kernels/util.js';
import './kernels/index.js';

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

/** Programs of fused nodes, attached by the plan to the KernelNode it builds. */
export const fusedPrograms = new WeakMap<KernelNode, ElementwiseProgram>();

// ---------------------------------------------------------------------------------------------
// Templates: one per op type, reproducing the unfused kernel's arithmetic exactly (same formula in
// float64, one rounding to the output type), so that fused results equal unfused ones.

/** Emits an expression over operand identifiers; `k` turns a number into a constant argument. */
type Emit = (a: readonly string[], k: (x: number) => string) => string;
interface Template {
  emit: Emit;
  /** The expression is already a value of the output type (no rounding or wrapping needed). */
  exact?: boolean;
}

type Key = 'f' | 'i' | 'b';
const keyOf = (d: DType): Key | undefined => (d === 'float32' ? 'f' : d === 'int32' ? 'i' : d === 'bool' ? 'b' : undefined);

const T = (emit: Emit, exact = false): Template => ({ emit, exact });
const same = (f: Template, i?: Template): Partial<Record<Key, Template>> => (i ? { f, i } : { f });

/** Templates by op type and input dtype (of the first value operand). */
const TEMPLATES: Record<string, Partial<Record<Key, Template>>> = {
  AddV2: same(T(([a, b]) => `${a} + ${b}`), T(([a, b]) => `${a} + ${b}`)),
  Add: same(T(([a, b]) => `${a} + ${b}`), T(([a, b]) => `${a} + ${b}`)),
  BiasAdd: same(T(([a, b]) => `${a} + ${b}`), T(([a, b]) => `${a} + ${b}`)),
  Sub: same(T(([a, b]) => `${a} - ${b}`), T(([a, b]) => `${a} - ${b}`)),
  Mul: same(T(([a, b]) => `${a} * ${b}`), T(([a, b]) => `Math.imul(${a}, ${b})`, true)),
  RealDiv: same(T(([a, b]) => `${a} / ${b}`)),
  Maximum: same(T(([a, b]) => `Math.max(${a}, ${b})`, true), T(([a, b]) => `Math.max(${a}, ${b})`, true)),
  Minimum: same(T(([a, b]) => `Math.min(${a}, ${b})`, true), T(([a, b]) => `Math.min(${a}, ${b})`, true)),
  Pow: same(T(([a, b]) => `Math.pow(${a}, ${b})`)),
  FloorDiv: same(T(([a, b]) => `Math.floor(${a} / ${b})`)),
  FloorMod: same(T(([a, b]) => `fmod(${a}, ${b})`)),
  SquaredDifference: same(T(([a, b]) => `sqd(${a}, ${b})`), T(([a, b]) => `isqd(${a}, ${b})`, true)),
  Equal: { f: T(([a, b]) => `(${a} === ${b} ? 1 : 0)`, true), i: T(([a, b]) => `(${a} === ${b} ? 1 : 0)`, true), b: T(([a, b]) => `(${a} === ${b} ? 1 : 0)`, true) },
  NotEqual: { f: T(([a, b]) => `(${a} !== ${b} ? 1 : 0)`, true), i: T(([a, b]) => `(${a} !== ${b} ? 1 : 0)`, true), b: T(([a, b]) => `(${a} !== ${b} ? 1 : 0)`, true) },
  Less: same(T(([a, b]) => `(${a} < ${b} ? 1 : 0)`, true), T(([a, b]) => `(${a} < ${b} ? 1 : 0)`, true)),
  LessEqual: same(T(([a, b]) => `(${a} <= ${b} ? 1 : 0)`, true), T(([a, b]) => `(${a} <= ${b} ? 1 : 0)`, true)),
  Greater: same(T(([a, b]) => `(${a} > ${b} ? 1 : 0)`, true), T(([a, b]) => `(${a} > ${b} ? 1 : 0)`, true)),
  GreaterEqual: same(T(([a, b]) => `(${a} >= ${b} ? 1 : 0)`, true), T(([a, b]) => `(${a} >= ${b} ? 1 : 0)`, true)),
  LogicalAnd: { b: T(([a, b]) => `(${a} & ${b})`, true) },
  LogicalOr: { b: T(([a, b]) => `(${a} | ${b})`, true) },
  LogicalNot: { b: T(([a]) => `(${a} ^ 1)`, true) },
  Neg: same(T(([a]) => `-${a}`, true), T(([a]) => `-${a}`)),
  Square: same(T(([a]) => `${a} * ${a}`), T(([a]) => `Math.imul(${a}, ${a})`, true)),
  Abs: same(T(([a]) => `Math.abs(${a})`, true), T(([a]) => `Math.abs(${a})`)),
  Sign: same(T(([a]) => `(${a} > 0 ? 1 : ${a} < 0 ? -1 : 0)`, true), T(([a]) => `(${a} > 0 ? 1 : ${a} < 0 ? -1 : 0)`, true)),
  Round: same(T(([a]) => `rhe(${a})`), T(([a]) => a, true)),
  Sqrt: same(T(([a]) => `Math.sqrt(${a})`)),
  Rsqrt: same(T(([a]) => `1 / Math.sqrt(${a})`)),
  Exp: same(T(([a]) => `Math.exp(${a})`)),
  Log: same(T(([a]) => `Math.log(${a})`)),
  Log1p: same(T(([a]) => `Math.log1p(${a})`)),
  Reciprocal: same(T(([a]) => `1 / ${a}`)),
  Floor: same(T(([a]) => `Math.floor(${a})`, true)),
  Ceil: same(T(([a]) => `Math.ceil(${a})`, true)),
  Sigmoid: same(T(([a]) => `1 / (1 + Math.exp(-${a}))`)),
  Tanh: same(T(([a]) => `Math.tanh(${a})`)),
  SigmoidGrad: same(T(([y, dy]) => `${dy} * ${y} * (1 - ${y})`)),
  TanhGrad: same(T(([y, dy]) => `${dy} * (1 - ${y} * ${y})`)),
  SqrtGrad: same(T(([y, dy]) => `(${dy} * 0.5) / ${y}`)),
  RsqrtGrad: same(T(([y, dy]) => `-0.5 * ${dy} * ${y} * ${y} * ${y}`)),
  ReciprocalGrad: same(T(([y, dy]) => `-${dy} * ${y} * ${y}`)),
  Relu: same(T(([a]) => `(${a} < 0 ? 0 : ${a})`, true), T(([a]) => `(${a} < 0 ? 0 : ${a})`, true)),
  Relu6: same(T(([a]) => `(${a} < 0 ? 0 : ${a} > 6 ? 6 : ${a})`, true), T(([a]) => `(${a} < 0 ? 0 : ${a} > 6 ? 6 : ${a})`, true)),
  Elu: same(T(([a]) => `(${a} < 0 ? Math.expm1(${a}) : ${a})`)),
  Selu: same(T(([a], k) => `(${a} < 0 ? ${k(SELU_SCALE * SELU_ALPHA)} * Math.expm1(${a}) : ${k(SELU_SCALE)} * ${a})`)),
  Softplus: same(T(([a]) => `(${a} > 0 ? ${a} + Math.log1p(Math.exp(-${a})) : Math.log1p(Math.exp(${a})))`)),
  Softsign: same(T(([a]) => `${a} / (1 + Math.abs(${a}))`)),
  ReluGrad: same(T(([g, x]) => `(${x} > 0 ? ${g} : 0)`, true)),
  Relu6Grad: same(T(([g, x]) => `(${x} > 0 && ${x} < 6 ? ${g} : 0)`, true)),
  EluGrad: same(T(([g, y]) => `(${y} < 0 ? ${g} * (${y} + 1) : ${g})`)),
  SeluGrad: same(T(([g, y], k) => `(${y} < 0 ? ${g} * (${y} + ${k(SELU_SCALE * SELU_ALPHA)}) : ${g} * ${k(SELU_SCALE)})`)),
  SoftplusGrad: same(T(([g, x]) => `${g} / (1 + Math.exp(-${x}))`)),
  SoftsignGrad: same(T(([g, x]) => `${g} / ((1 + Math.abs(${x})) * (1 + Math.abs(${x})))`)),
  ZerosLike: { f: T(() => '0', true), i: T(() => '0', true), b: T(() => '0', true) },
  OnesLike: { f: T(() => '1', true), i: T(() => '1', true), b: T(() => '1', true) },
};

/** Templates that read a numeric attr (passed as a constant argument). */
function attrTemplate(type: string, attrs: Readonly<Record<string, unknown>>): Template | undefined {
  const alpha = attrs.alpha;
  if (typeof alpha !== 'number') return undefined;
  if (type === 'LeakyRelu') return T(([a], k) => `(${a} > 0 ? ${a} : ${a} * ${k(alpha)})`);
  if (type === 'LeakyReluGrad') return T(([g, x], k) => `(${x} > 0 ? ${g} : ${g} * ${k(alpha)})`);
  return undefined;
}

/** Cast between float32, int32 and bool, as the Cast kernel does it. */
function castTemplate(from: DType, to: DType): Template | undefined {
  const f = keyOf(from);
  const t = keyOf(to);
  if (!f || !t) return undefined;
  if (f === t) return T(([a]) => a, true);
  if (t === 'b') return T(([a]) => `(${a} !== 0 ? 1 : 0)`, true);
  if (t === 'i') return f === 'f' ? T(([a]) => `cvi(${a})`, true) : T(([a]) => a, true);
  return f === 'i' ? T(([a]) => a) : T(([a]) => a, true);
}

function templateFor(op: { type: string; attrs: Readonly<Record<string, unknown>>; dtype: DType }, inDTypes: readonly DType[]): Template | undefined {
  if (op.type === 'Cast') return castTemplate(inDTypes[0]!, op.dtype);
  if (op.type === 'SelectV2' || op.type === 'Select') {
    if (inDTypes[0] !== 'bool' || !keyOf(op.dtype)) return undefined;
    return T(([c, x, y]) => `(${c} ? ${x} : ${y})`, true);
  }
  if (op.type === 'AddN') {
    const key = keyOf(op.dtype);
    if (key !== 'f' && key !== 'i') return undefined;
    // The kernel accumulates into its output, rounding after every addition.
    const wrap = key === 'f' ? (e: string) => `fr(${e})` : (e: string) => `((${e}) | 0)`;
    return T((a) => a.slice(1).reduce((acc, x) => wrap(`${acc} + ${x}`), a[0]!), true);
  }
  const byAttr = attrTemplate(op.type, op.attrs);
  if (byAttr) return inDTypes[0] === 'float32' ? byAttr : undefined;
  const key = keyOf(inDTypes[0]!);
  const t = key ? TEMPLATES[op.type]?.[key] : undefined;
  // Integer division and powers can fail at run time (division by zero): those stay unfused.
  if (key === 'i' && (op.type === 'FloorDiv' || op.type === 'FloorMod' || op.type === 'Pow')) return undefined;
  return t;
}

/** Whether an op (with these input dtypes) can be part of a generated kernel. */
export function cpuCanFuse(n: { type: string; attrs: Readonly<Record<string, unknown>>; inputs: readonly ({ dtype: DType } | null)[]; outputs: readonly { dtype: DType }[] }): boolean {
  if (n.outputs.length !== 1 || n.inputs.some((v) => !v)) return false;
  const out = n.outputs[0]!.dtype;
  if (!keyOf(out)) return false;
  const ins = n.inputs.map((v) => v!.dtype);
  if (ins.some((d) => !keyOf(d))) return false;
  if (n.type === 'BiasAdd' && ins[0] !== 'float32') return false;
  return templateFor({ type: n.type, attrs: n.attrs, dtype: out }, ins) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Code generation

const PRELUDE = `"use strict";
const fr = Math.fround;
function rhe(x) { const f = Math.floor(x); const d = x - f; return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1; }
function cvi(x) { const v = Math.trunc(x); return v >= -2147483648 && v <= 2147483647 ? v | 0 : -2147483648; }
function fmod(x, y) { const r = x % y; return r !== 0 && r < 0 !== y < 0 ? r + y : r; }
function sqd(x, y) { const d = x - y; return d * d; }
function isqd(x, y) { const d = (x - y) | 0; return Math.imul(d, d); }
`;

function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new InternalError(`fused kernel codegen: ${n} is not an integer`);
  return String(n);
}

interface Compiled {
  fn: (I: readonly TypedArray[], O: readonly TypedArray[], K: readonly number[]) => void;
  consts: number[];
  source: string;
}

const compiledBySource = new Map<string, Compiled['fn']>();
const compiledByProgram = new WeakMap<ElementwiseProgram, Compiled>();

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Generates (or finds) the JS function computing a program. */
export function compileProgram(p: ElementwiseProgram): Compiled {
  const hit = compiledByProgram.get(p);
  if (hit) return hit;
  const consts: number[] = [];
  const k = (x: number): string => {
    let i = consts.indexOf(x);
    if (i < 0) {
      i = consts.length;
      consts.push(x);
    }
    return `K${int(i)}`;
  };
  // Strides of each operand over the output shape (0 where broadcast); the output is operand -1.
  const outStrides = contiguousStrides(p.shape);
  const inStrides = p.inputs.map((inp) => {
    const st = contiguousStrides(inp.shape);
    return inp.shape.map((d, i) => (d === 1 ? 0 : st[i]!));
  });
  // Collapse dims: drop size-1 dims, merge neighbours every operand walks contiguously.
  const dims: number[] = [];
  const strides: number[][] = [outStrides, ...inStrides].map(() => []);
  const all = [outStrides, ...inStrides];
  for (let d = 0; d < p.shape.length; d++) {
    const n = p.shape[d]!;
    if (n === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && all.every((s, j) => strides[j]![last] === s[d]! * n)) {
      dims[last] = dims[last]! * n;
      all.forEach((s, j) => (strides[j]![last] = s[d]!));
    } else {
      dims.push(n);
      all.forEach((s, j) => strides[j]!.push(s[d]!));
    }
  }
  const r = dims.length;
  // Operands with equal stride vectors share their index variables.
  const classes: string[] = [];
  const classOf = strides.map((s) => {
    const key = s.join(',');
    let c = classes.indexOf(key);
    if (c < 0) {
      c = classes.length;
      classes.push(key);
    }
    return c;
  });
  const classStrides = classes.map((key) => (key === '' ? [] : key.split(',').map(Number)));
  /** Innermost loop level at which an index class changes (-1: constant). */
  const classLevel = classStrides.map((s) => {
    let l = -1;
    s.forEach((x, d) => x !== 0 && (l = d));
    return l;
  });
  const lines: string[][] = Array.from({ length: r + 1 }, () => []);
  const at = (level: number, line: string): void => void lines[level + 1]!.push(line);
  const idx = (c: number, level: number): string => (level < 0 ? '0' : `p${int(c)}_${int(level)}`);
  // Index variables: p{c}_{d} = p{c}_{d-1} + d{d} * stride.
  classStrides.forEach((s, c) => {
    for (let d = 0; d <= classLevel[c]!; d++) {
      const prev = d === 0 ? '' : `${idx(c, d - 1)} + `;
      const term = s[d] === 0 ? '0' : s[d] === 1 ? `d${int(d)}` : `d${int(d)} * ${int(s[d]!)}`;
      at(d, `const ${idx(c, d)} = ${prev}${term};`);
    }
  });
  // Loads, at the level where their index last changes.
  const valueLevel: number[] = [];
  p.inputs.forEach((_, i) => {
    const c = classOf[i + 1]!;
    const level = classLevel[c]!;
    at(level, `const x${int(i)} = I${int(i)}[${idx(c, level)}];`);
    valueLevel.push(level);
  });
  // Ops, each at the level of its deepest operand (loop-invariant ones are hoisted).
  const opLevel: number[] = [];
  p.ops.forEach((op, j) => {
    const names = op.args.map((a) => ('input' in a ? `x${int(a.input)}` : `t${int(a.op)}`));
    const levels = op.args.map((a) => ('input' in a ? valueLevel[a.input]! : opLevel[a.op]!));
    const inDTypes = op.args.map((a) => ('input' in a ? p.inputs[a.input]!.dtype : p.ops[a.op]!.dtype));
    const t = templateFor(op, inDTypes);
    if (!t) throw new InternalError(`fused kernel codegen: no template for ${op.type}`);
    let e = t.emit(names, k);
    if (!t.exact) e = op.dtype === 'float32' ? `fr(${e})` : op.dtype === 'int32' ? `((${e}) | 0)` : e;
    const level = Math.max(-1, ...levels);
    at(level, `const t${int(j)} = ${e};`);
    opLevel.push(level);
  });
  const outC = classOf[0]!;
  p.outputs.forEach((j, o) => at(r - 1, `O${int(o)}[${idx(outC, classLevel[outC]!)}] = t${int(j)};`));
  // Assemble the loop nest.
  const body: string[] = [];
  p.inputs.forEach((_, i) => body.push(`const I${int(i)} = I[${int(i)}];`));
  p.outputs.forEach((_, o) => body.push(`const O${int(o)} = O[${int(o)}];`));
  consts.forEach((_, i) => body.push(`const K${int(i)} = K[${int(i)}];`));
  body.push(...lines[0]!);
  for (let d = 0; d < r; d++) body.push(`for (let d${int(d)} = 0; d${int(d)} < ${int(dims[d]!)}; d${int(d)}++) {`, ...lines[d + 1]!);
  for (let d = 0; d < r; d++) body.push('}');
  const source = `${PRELUDE}return function fused(I, O, K) {\n${body.join('\n')}\n};`;
  let fn = compiledBySource.get(source);
  if (!fn) {
    fn = new Function(source)() as Compiled['fn'];
    compiledBySource.set(source, fn);
  }
  const compiled = { fn, consts, source };
  compiledByProgram.set(p, compiled);
  return compiled;
}

registerCpuKernel('_FusedElementwise', (inputs, node) => {
  const p = fusedPrograms.get(node);
  if (!p) throw new InternalError(`_FusedElementwise '${node.name}' has no program`, node.name);
  const c = compileProgram(p);
  const size = numElements(p.shape);
  const ins = p.inputs.map((inp) => {
    const x = inputs[inp.arg]!;
    if (x.dtype !== inp.dtype || x.size !== numElements(inp.shape)) {
      throw new InvalidArgumentError(`fused kernel input ${inp.arg} is ${x.dtype} ${formatShape(x.shape)}, expected ${inp.dtype} ${formatShape(inp.shape)}`);
    }
    return x.data;
  });
  const outs = p.outputs.map((j) => alloc(p.ops[j]!.dtype, p.shape));
  if (size > 0) c.fn(ins, outs.map((o) => o.data), c.consts);
  return outs;
});

// ---------------------------------------------------------------------------------------------
// Contractions with an epilogue: the base kernel computes into the planned output, then bias and
// activation are applied in place, with the unfused kernels' arithmetic.

function activation(type: string | undefined, alpha: number): (v: number) => number {
  switch (type) {
    case undefined:
      return (v) => v;
    case 'Relu':
      return (v) => (v < 0 ? 0 : v);
    case 'Relu6':
      return (v) => (v < 0 ? 0 : v > 6 ? 6 : v);
    case 'Elu':
      return (v) => (v < 0 ? Math.expm1(v) : v);
    case 'LeakyRelu':
      return (v) => (v > 0 ? v : v * alpha);
    case 'Tanh':
      return Math.tanh;
    case 'Sigmoid':
      return (v) => 1 / (1 + Math.exp(-v));
    default:
      throw new InvalidArgumentError(`unsupported fused activation ${type}`);
  }
}

/** out[i] = act(fround(out[i] + bias[channel(i)])), channel over [outer, c, inner]. */
function epilogue(out: Float32Array, bias: Float32Array, c: number, inner: number, act: string | undefined, alpha: number): void {
  const n = out.length;
  if (act === undefined || act === 'Relu') {
    const relu = act === 'Relu';
    if (inner === 1) {
      for (let i = 0; i < n; i += c) {
        for (let j = 0; j < c; j++) {
          const v = Math.fround(out[i + j]! + bias[j]!);
          out[i + j] = relu && v < 0 ? 0 : v;
        }
      }
    } else {
      for (let i = 0, ch = 0; i < n; i += inner, ch = ch + 1 === c ? 0 : ch + 1) {
        const b = bias[ch]!;
        for (let j = i; j < i + inner; j++) {
          const v = Math.fround(out[j]! + b);
          out[j] = relu && v < 0 ? 0 : v;
        }
      }
    }
    return;
  }
  const f = activation(act, alpha);
  for (let i = 0, ch = 0, q = 0; i < n; i++) {
    out[i] = f(Math.fround(out[i]! + bias[ch]!));
    if (++q === inner) {
      q = 0;
      ch = ch + 1 === c ? 0 : ch + 1;
    }
  }
}

function fusedOps(node: KernelNode): { act: string | undefined; alpha: number } {
  const ops = (node.attrs.fused_ops as readonly string[] | undefined) ?? [];
  if (ops[0] !== 'BiasAdd' || ops.length > 2) throw new InvalidArgumentError(`unsupported fused_ops [${ops.join(', ')}]`);
  return { act: ops[1], alpha: Number(node.attrs.leakyrelu_alpha ?? 0.2) };
}

function registerContraction(type: string, base: string, channelAxis: (node: KernelNode, rank: number) => number): void {
  registerCpuKernel(type, (inputs, node, state) => {
    const kernel = getCpuKernel(base);
    if (!kernel) throw new InternalError(`${type} needs the ${base} kernel`);
    const [x, w, bias] = inputs as [NDArray, NDArray, NDArray];
    const { act, alpha } = fusedOps(node);
    const baseNode: KernelNode = { ...node, type: base, inputDTypes: [x.dtype, w.dtype], inputShapes: node.inputShapes.slice(0, 2) };
    // The base kernel's output is fresh (its planned buffer, when it allocates through alloc()).
    const y = kernel([x, w], baseNode, state)[0]!;
    const axis = channelAxis(node, y.rank);
    const c = y.shape[axis]!;
    if (bias.rank !== 1 || bias.shape[0] !== c) {
      throw new InvalidArgumentError(`Must provide as many biases as the channel dimension of the input tensor: ${formatShape(bias.shape)} vs. ${formatShape(y.shape)}`);
    }
    epilogue(y.data as Float32Array, bias.data as Float32Array, c, numElements(y.shape.slice(axis + 1)), act, alpha);
    return [y];
  });
}

registerContraction('_FusedMatMul', 'MatMul', (_n, rank) => rank - 1);
registerContraction('_FusedConv2D', 'Conv2D', (node, rank) => (node.attrs.data_format === 'NCHW' ? 1 : rank - 1));

/** A view of its input with the (static) shape the plan gives it: Reshape, Squeeze, ExpandDims. */
registerCpuKernel('_View', ([x], node) => {
  const shape = node.outputs[0]!.shape as number[];
  if (numElements(shape) !== x!.size) {
    throw new InvalidArgumentError(`Input to reshape is a tensor with ${x!.size} values, but the requested shape has ${numElements(shape)}`);
  }
  return [new NDArray(x!.data, shape, x!.dtype)];
});
