// CPU kernels the compiler introduces: generated elementwise kernels (_FusedElementwise: WebAssembly
// SIMD where the program allows, generated JavaScript otherwise),
// contractions with a bias/activation epilogue (_FusedMatMul, _FusedConv2D), and views (_View).
//
// Code generation safety: generated source is assembled only from the fixed snippets in this file,
// identifiers this file makes up (I0, x3, t7, ...) and integers it checks with Number.isSafeInteger.
// Nothing from a graph or a file (op names, attr strings, constant values) is ever pasted in:
// numeric attrs travel as function arguments (K[i]).
import type { DType, TypedArray } from '../../src/core/dtypes.js';
import { InternalError, InvalidArgumentError } from '../../src/core/errors.js';
import { NDArray, numElements } from '../../src/core/ndarray.js';
import { formatShape, stridesOf } from '../../src/core/shape.js';
import type { ElementwiseProgram, KernelNode } from '../backend.js';
import { failsOnData, mayJoinElementwiseCluster, type FusionCandidate } from '../elementwise_fusion.js';
import { collapseDims } from '../shape_helpers.js';
import { getCpuKernel, registerCpuKernel } from './registry.js';
import {
  BR_IF,
  emitExp64,
  emitLog1p64,
  emitLog64,
  END,
  F32X4_DEMOTE_F64X2_ZERO,
  F64X2_DIV,
  F64X2_MUL,
  F64X2_NEG,
  F64X2_PROMOTE_LOW_F32X4,
  F64X2_SQRT,
  F64X2_SUB,
  f64x2Const,
  I8X16_SHUFFLE,
  keep,
  F32X4_ABS,
  F32X4_ADD,
  F32X4_CEIL,
  F32X4_DIV,
  F32X4_EQ,
  F32X4_FLOOR,
  F32X4_GE,
  F32X4_GT,
  F32X4_LE,
  F32X4_LT,
  F32X4_NE,
  F32X4_MAX,
  F32X4_MIN,
  F32X4_MUL,
  F32X4_NEAREST,
  F32X4_NEG,
  F32X4_SQRT,
  F32X4_SUB,
  f32x4Const,
  FunctionBuilder,
  get,
  I32,
  I32_ADD,
  I32_LT_U,
  I32_SHR_U,
  I32_SUB,
  i32Const,
  LOOP,
  select,
  set,
  simd,
  simdMem,
  tee,
  V128,
  V128_AND,
  V128_LOAD,
  V128_LOAD32_SPLAT,
  V128_NOT,
  V128_OR,
  V128_XOR,
  V128_STORE,
  VOID,
  wasmModule,
} from './wasm.js';
import './kernels/index.js';
import { fusedEpilogue } from '../activations.js';
import { ACTIVATIONS, activationAlpha, constantPool, f64, FORMULAS, formulaFor, FUNCTIONS, FUNCTIONS_PRELUDE, runEpilogue, vop, zero, type Emit, type VectorOp } from './activations.js';
import { config } from '../../src/core/config.js';
import { heapAddress, heapAlloc, heapBuffer, heapFree, heapMemory } from './heap.js';
import { PROGRAM_COL, PROGRAM_FULL, PROGRAM_ROW, PROGRAM_SCALAR, PROGRAM_THREAD_MIN, runProgramSplit, sharedModule, type ProgramRun, type SharedModule } from './parallel.js';

// ---------------------------------------------------------------------------------------------
// Templates: one per op type, reproducing the unfused kernel's arithmetic exactly (same formula in
// float64, one rounding to the output type), so that fused results equal unfused ones.

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
  SqrtGrad: same(T(([y, dy]) => `(${dy} * 0.5) / ${y}`)),
  RsqrtGrad: same(T(([y, dy]) => `-0.5 * ${dy} * ${y} * ${y} * ${y}`)),
  ReciprocalGrad: same(T(([y, dy]) => `-${dy} * ${y} * ${y}`)),
  ZerosLike: { f: T(() => '0', true), i: T(() => '0', true), b: T(() => '0', true) },
  OnesLike: { f: T(() => '1', true), i: T(() => '1', true), b: T(() => '1', true) },
};

/** An activation's template, from the activation table (float32; int32 where the expression serves it). */
function activationTemplate(type: string, attrs: Readonly<Record<string, unknown>>, key: Key | undefined): Template | undefined {
  const act = ACTIVATIONS[type];
  const alpha = activationAlpha(type, attrs);
  if (!act || alpha === undefined || !(key === 'f' || (key === 'i' && act.int32))) return undefined;
  return T(act.js(alpha), act.exact);
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
  const key = keyOf(inDTypes[0]!);
  if (op.type in ACTIVATIONS) return activationTemplate(op.type, op.attrs, key);
  const formula = formulaFor(op.type, key);
  if (formula) return failsOnData(op.type, inDTypes[0]) ? undefined : T(formula.emit, formula.exact);
  const t = key ? TEMPLATES[op.type]?.[key] : undefined;
  // Integer division and powers can fail at run time (division by zero): those stay unfused.
  if (failsOnData(op.type, inDTypes[0])) return undefined;
  return t;
}

/** Whether an op (with these input dtypes) may join a cluster and has a template for the generated kernel. */
export function cpuCanFuse(n: FusionCandidate): boolean {
  if (!mayJoinElementwiseCluster(n)) return false;
  return templateFor({ type: n.type, attrs: n.attrs, dtype: n.outputs[0]!.dtype }, n.inputs.map((v) => v!.dtype)) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Code generation

const PRELUDE = `"use strict";
${FUNCTIONS_PRELUDE}
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

/**
 * The program's iteration space with size-1 dims dropped and neighbours every operand walks
 * contiguously merged (at least one dim): dims, and for the output (first) and each input the
 * stride of every dim (0 where the operand is broadcast).
 */
function collapse(p: ElementwiseProgram): { dims: number[]; strides: number[][] } {
  const outStrides = stridesOf(p.shape);
  const inStrides = p.inputs.map((inp) => {
    const st = stridesOf(inp.shape);
    return inp.shape.map((d, i) => (d === 1 ? 0 : st[i]!));
  });
  const { shape: dims, strides } = collapseDims(p.shape, [outStrides, ...inStrides]);
  return { dims, strides };
}

/** Generates (or finds) the JS function computing a program. */
export function compileProgram(p: ElementwiseProgram): Compiled {
  const hit = compiledByProgram.get(p);
  if (hit) return hit;
  const { k, consts } = constantPool();
  const { dims, strides } = collapse(p);
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
    fn = new Function('H', source)(FUNCTIONS) as Compiled['fn'];
    compiledBySource.set(source, fn);
  }
  const compiled = { fn, consts, source };
  compiledByProgram.set(p, compiled);
  return compiled;
}

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD kernels: programs over float32 values (bools as lane masks) with float32
// outputs, over a [rows, cols] iteration space (after collapsing) whose operands are each the whole
// block, one row repeated down the rows, one column repeated across them, or one scalar. Four
// elements per step, over the whole vectors of each row; the last cols % 4 elements of the rows
// run separately through staging slots (one vector per row), so nothing is written past an output.
// Anything else (int32 values, bool outputs, Pow, FloorDiv/FloorMod, other broadcasts) stays with
// the JS kernels above.
//
// The kernels run on the CPU backend's heap memory (runtime/cpu/heap.ts) and take their operands'
// byte addresses as arguments: operands that lie there (arenas, variables) are used in place, and
// large programs split over parallel.ts's worker threads, which load the same module. Whole bool
// inputs are read as bytes and widened to lane masks in the kernel. Operands elsewhere are staged
// through heap slots a block at a time (small broadcast ones whole, once; bool ones as masks), or,
// where no operand lies in the heap, through a private memory with its own instance of the module
// (V8 copies into shared memory at half the speed). Every element is computed by the same
// instructions on every path and thread, so results do not depend on where the operands live or
// on the thread count.
// Modules embed only numbers (float constants as their bits) and opcodes.
//
// Exactness: ops that are one IEEE float32 operation (or selects, min/max) run as f32x4 and round
// as the JS template does. The others run the template's float64 expression on f64x2 halves and
// round once, as the template does: identical results, except that exp/log-based ops (wasm.ts's
// float64 math against Math.*) may, for values within a few float64 ulp of a float32 rounding
// boundary, land one float32 ulp away. Even that must not reach a discontinuous choice (floor,
// sign, the x > 0 of ReluGrad, ...), where it could become a large difference: such programs stay
// in JS. (Ill-conditioned graphs, batch norm over two samples for one, amplify any difference, so
// float32-accurate approximations would not do.)

type OperandKind = 'full' | 'row' | 'col' | 'scalar';

const binaryOp = (op: number): VectorOp => ({ emit: (b, [x, y]) => b.emit(get(x!), get(y!), vop(op)) });
const unaryOp = (op: number): VectorOp => ({ emit: (b, [x]) => b.emit(get(x!), vop(op)) });
const VECTOR_OPS: Record<string, VectorOp> = {
  AddV2: binaryOp(F32X4_ADD),
  Add: binaryOp(F32X4_ADD),
  BiasAdd: binaryOp(F32X4_ADD),
  Sub: binaryOp(F32X4_SUB),
  Mul: binaryOp(F32X4_MUL),
  RealDiv: binaryOp(F32X4_DIV),
  Maximum: binaryOp(F32X4_MAX),
  Minimum: binaryOp(F32X4_MIN),
  Neg: unaryOp(F32X4_NEG),
  Abs: unaryOp(F32X4_ABS),
  Square: { emit: (b, [x]) => b.emit(get(x!), get(x!), vop(F32X4_MUL)) },
  Sqrt: unaryOp(F32X4_SQRT),
  Reciprocal: { emit: (b, [x]) => b.emit(f32x4Const(1), get(x!), vop(F32X4_DIV)) },
  Floor: { ...unaryOp(F32X4_FLOOR), selectors: [0] },
  Ceil: { ...unaryOp(F32X4_CEIL), selectors: [0] },
  // Ties to even; a negative input that rounds to zero gives +0 as the JS template does.
  Round: {
    emit: (b, [x]) => select(b, get(x!), [...get(x!), ...vop(F32X4_NEAREST), ...zero(), ...vop(F32X4_ADD)], [...get(x!), ...zero(), ...vop(F32X4_EQ)]),
    selectors: [0],
  },
  // 1 above zero, -1 below, +0 for zeros and NaN.
  Sign: {
    emit: (b, [x]) =>
      b.emit(get(x!), zero(), vop(F32X4_GT), f32x4Const(1), vop(V128_AND), get(x!), zero(), vop(F32X4_LT), f32x4Const(-1), vop(V128_AND), vop(V128_OR)),
    selectors: [0],
  },
  ZerosLike: { emit: (b) => b.emit(zero()) },
  OnesLike: { emit: (b) => b.emit(f32x4Const(1)) },
  // The AddN kernel rounds after every addition, as f32x4.add does.
  AddN: { emit: (b, a) => b.emit(get(a[0]!), ...a.slice(1).map((x) => [...get(x), ...vop(F32X4_ADD)])) },

  // The JS templates' float64 expressions, operation for operation.
  SquaredDifference: f64((b, [x, y]) => {
    b.emit(get(x!), get(y!), vop(F64X2_SUB));
    const d = keep(b);
    b.emit(get(d), get(d), vop(F64X2_MUL));
  }),
  Rsqrt: f64((b, [x]) => b.emit(f64x2Const(1), get(x!), vop(F64X2_SQRT), vop(F64X2_DIV))),
  SqrtGrad: f64((b, [y, dy]) => b.emit(get(dy!), f64x2Const(0.5), vop(F64X2_MUL), get(y!), vop(F64X2_DIV))),
  RsqrtGrad: f64((b, [y, dy]) => b.emit(f64x2Const(-0.5), get(dy!), vop(F64X2_MUL), get(y!), vop(F64X2_MUL), get(y!), vop(F64X2_MUL), get(y!), vop(F64X2_MUL))),
  ReciprocalGrad: f64((b, [y, dy]) => b.emit(get(dy!), vop(F64X2_NEG), get(y!), vop(F64X2_MUL), get(y!), vop(F64X2_MUL))),
  Exp: f64((b, [x]) => emitExp64(b, x!), true),
  Log: f64((b, [x]) => emitLog64(b, x!), true),
  Log1p: f64((b, [x]) => emitLog1p64(b, x!), true),
};

/** Comparisons of float32 lanes, as all-ones/zero lane masks (NaN compares unequal, -0 equals +0, as in JS). */
const COMPARISONS: Record<string, number> = { Less: F32X4_LT, LessEqual: F32X4_LE, Greater: F32X4_GT, GreaterEqual: F32X4_GE, Equal: F32X4_EQ, NotEqual: F32X4_NE };

/** Ops on bool values, which live in the kernel as lane masks (all ones for true). */
function maskOp(op: ElementwiseProgram['ops'][number], inDTypes: readonly DType[]): VectorOp | undefined {
  const cmp = COMPARISONS[op.type];
  if (cmp !== undefined) {
    if (inDTypes[0] === 'float32') return { ...binaryOp(cmp), selectors: [0, 1] };
    if (inDTypes[0] !== 'bool') return undefined;
    if (op.type === 'Equal') return { emit: (b, [x, y]) => b.emit(get(x!), get(y!), vop(V128_XOR), vop(V128_NOT)) };
    if (op.type === 'NotEqual') return { emit: (b, [x, y]) => b.emit(get(x!), get(y!), vop(V128_XOR)) };
    return undefined;
  }
  if (op.type === 'LogicalAnd') return binaryOp(V128_AND);
  if (op.type === 'LogicalOr') return binaryOp(V128_OR);
  if (op.type === 'LogicalNot') return unaryOp(V128_NOT);
  if (op.type === 'Cast' && inDTypes[0] === 'float32') return { emit: (b, [x]) => b.emit(get(x!), zero(), vop(F32X4_NE)), selectors: [0] };
  if (op.type === 'Cast' && inDTypes[0] === 'bool') return { emit: (b, [x]) => b.emit(get(x!)) };
  return undefined;
}

/** The vector form of a program op over float32 and bool values (bool results as lane masks), or undefined. */
function vectorOp(op: ElementwiseProgram['ops'][number], inDTypes: readonly DType[]): VectorOp | undefined {
  if (inDTypes.some((d) => d !== 'float32' && d !== 'bool')) return undefined;
  if (op.type === 'Select' || op.type === 'SelectV2') {
    if (inDTypes[0] !== 'bool' || inDTypes[1] !== op.dtype || inDTypes[2] !== op.dtype) return undefined;
    return { emit: (b, [c, x, y]) => select(b, get(x!), get(y!), get(c!)) };
  }
  const formula = FORMULAS[op.type];
  if (formula) return inDTypes.every((d) => d === 'float32') ? formula.simd : undefined;
  if (op.dtype === 'bool') return maskOp(op, inDTypes);
  if (op.dtype !== 'float32') return undefined;
  if (op.type === 'Cast') return inDTypes[0] === 'bool' ? { emit: (b, [x]) => b.emit(get(x!), f32x4Const(1), vop(V128_AND)) } : { emit: (b, [x]) => b.emit(get(x!)) };
  if (inDTypes.some((d) => d !== 'float32')) return undefined;
  const act = ACTIVATIONS[op.type];
  if (act) {
    const alpha = activationAlpha(op.type, op.attrs);
    return alpha === undefined ? undefined : act.simd(alpha);
  }
  return VECTOR_OPS[op.type];
}

/** Pushes an op's f32x4 result: directly, or from its float64 form on each half of the lanes, rounded. */
function emitVectorOp(b: FunctionBuilder, op: VectorOp, args: readonly number[]): void {
  if (op.emit) {
    op.emit(b, args);
    return;
  }
  const halves = [false, true].map((high) => {
    const wide = args.map((x) => {
      const t = b.local(V128);
      b.emit(get(x));
      if (high) b.emit(get(x), simd(I8X16_SHUFFLE, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
      b.emit(vop(F64X2_PROMOTE_LOW_F32X4), set(t));
      return t;
    });
    op.emit64!(b, wide);
    b.emit(vop(F32X4_DEMOTE_F64X2_ZERO));
    return keep(b);
  });
  b.emit(get(halves[0]!), get(halves[1]!), simd(I8X16_SHUFFLE, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
}

/** Elements per staging slot (a multiple of four); a slot is followed by SLACK floats. */
const CHUNK = 8192;
const SLACK = 16;
const SLOT_BYTES = (CHUNK + SLACK) * 4;
const PAGE = 65536;

interface WasmKernel {
  /** run(rows, vecBytes, strideBytes, input addresses..., output addresses...): see wasmProgramModule. */
  run: ProgramRun;
  rows: number;
  cols: number;
  /** How each program input is read, and which (the whole bool inputs) are read as bytes. */
  kinds: OperandKind[];
  bytes: boolean[];
  /** The module as parallel.ts's workers load it (at < 0: its bytes are not in the heap, so it never splits). */
  module: SharedModule;
  /** Operand kinds two bits each (KIND_CODE), inputs then outputs (full), and a bit for each input read as bytes, for the first 16 operands (parallel.ts splits no more). */
  kindBits: number;
  byteBits: number;
  /** Reusable argument list of run, and each operand's byte address in the heap (-1: staged). */
  args: number[];
  at: number[];
  /** The module's bytes for a private memory, and its run there once instantiated (null: not available). */
  privateBytes: Uint8Array<ArrayBuffer>;
  privateRun: ProgramRun | null | undefined;
}

const V128_LOAD32_ZERO = 0x5c;
const I16X8_EXTEND_LOW_I8X16_U = 0x89;
const I32X4_EXTEND_LOW_I16X8_U = 0xa9;
const I32X4_NEG = 0xa1;
const KIND_CODE: Record<OperandKind, number> = { full: PROGRAM_FULL, row: PROGRAM_ROW, col: PROGRAM_COL, scalar: PROGRAM_SCALAR };

const FAST = config.cpuFast();
let wasmOk = FAST && typeof WebAssembly === 'object' && heapMemory() !== null;
let wasmEnabled = wasmOk;
/** Below this many elements a fused kernel stays in JS (copies and the call cost more than they save). */
let wasmMinElements = 1024;
/** Test and benchmark switches: operands used in place where they lie in the heap, and blocks split over parallel.ts's threads. */
let inPlaceEnabled = true;
let splitEnabled = true;
/** Elements (of the in-place vector part) from which a program is split over the threads. */
let splitMinElements = PROGRAM_THREAD_MIN;
const wasmByProgram = new WeakMap<ElementwiseProgram, WasmKernel | null>();
const modulesByBytes = new Map<string, SharedModule>();
/** Programs' runs on the private staging memory, by module bytes. */
const privateRunsByBytes = new Map<string, ProgramRun>();

/**
 * Where staged operands go (slot i at base + i * SLOT_BYTES, f32/i32 the memory's views) and the
 * program's run on that memory: the heap's staging slots, or, for a run with no operand in the heap,
 * a private memory (V8 copies into and out of shared memory at about half the speed).
 */
interface Staging {
  base: number;
  slots: number;
  f32: Float32Array<ArrayBufferLike>;
  i32: Int32Array<ArrayBufferLike>;
  u8: Uint8Array<ArrayBufferLike>;
  run: ProgramRun;
}
const noRun: ProgramRun = () => {
  throw new InternalError('fused kernel: no staging memory');
};
const heapStaging: Staging = { base: -1, slots: 0, f32: new Float32Array(0), i32: new Int32Array(0), u8: new Uint8Array(0), run: noRun };
const privateStaging: Staging = { base: 0, slots: 0, f32: new Float32Array(0), i32: new Int32Array(0), u8: new Uint8Array(0), run: noRun };
let privateMemory: WebAssembly.Memory | null = null;

/** Whether fused elementwise kernels can run as WebAssembly SIMD here. */
export function fusedWasmAvailable(): boolean {
  return wasmOk;
}

/**
 * Turns the WebAssembly fused kernels on or off, sets the smallest program size they take, whether
 * operands in the heap are used in place (else every operand is staged), and whether (and from how
 * many elements) large programs split over the worker threads (tests and benchmarks use these);
 * returns the previous settings.
 */
export function setFusedWasm(opts: { enabled?: boolean; minElements?: number; inPlace?: boolean; split?: boolean; splitMinElements?: number }): {
  enabled: boolean;
  minElements: number;
  inPlace: boolean;
  split: boolean;
  splitMinElements: number;
} {
  const prev = { enabled: wasmEnabled, minElements: wasmMinElements, inPlace: inPlaceEnabled, split: splitEnabled, splitMinElements };
  if (opts.enabled !== undefined) wasmEnabled = opts.enabled && wasmOk;
  if (opts.minElements !== undefined) wasmMinElements = opts.minElements;
  if (opts.inPlace !== undefined) inPlaceEnabled = opts.inPlace;
  if (opts.split !== undefined) splitEnabled = opts.split;
  if (opts.splitMinElements !== undefined) splitMinElements = opts.splitMinElements;
  return prev;
}

/** Whether a program of at least the minimum size runs as WebAssembly (else as generated JS). */
export function fusedWasmCovers(p: ElementwiseProgram): boolean {
  return wasmEnabled && wasmKernel(p) !== null;
}

/** How many kernel runs took each path since the process started (tests): in place (split over the threads), staged, and row tails. */
export function fusedWasmRuns(): { inPlace: number; split: number; staged: number; tails: number } {
  return { ...runs };
}
const runs = { inPlace: 0, split: 0, staged: 0, tails: 0 };

/** How many distinct WebAssembly modules the fused kernels have compiled. */
export function fusedWasmModules(): number {
  return modulesByBytes.size;
}

/** How the program's operands map onto a [rows, cols] block, or undefined for other broadcasts. */
function wasmLayout(p: ElementwiseProgram): { rows: number; cols: number; kinds: OperandKind[] } | undefined {
  const { dims, strides } = collapse(p);
  if (dims.length > 2) return undefined;
  const [rows, cols] = dims.length === 2 ? dims : [1, dims[0] ?? 1];
  const kinds = strides.slice(1).map((s): OperandKind => {
    if (dims.length < 2) return s[0] === 0 ? 'scalar' : 'full';
    return s[0] !== 0 ? (s[1] !== 0 ? 'full' : 'col') : s[1] !== 0 ? 'row' : 'scalar';
  });
  return { rows: rows!, cols: cols!, kinds };
}

/** Whether every value is float32 and every op has an f32x4 form whose inexactness stays continuous. */
function wasmSupports(p: ElementwiseProgram): boolean {
  if (p.inputs.some((i) => i.dtype !== 'float32' && i.dtype !== 'bool')) return false;
  if (p.outputs.some((j) => p.ops[j]!.dtype !== 'float32')) return false;
  const inexact: boolean[] = [];
  for (const op of p.ops) {
    const v = vectorOp(op, argDTypes(p, op));
    if (!v) return false;
    const argInexact = op.args.map((a) => ('input' in a ? false : inexact[a.op]!));
    if ((v.selectors ?? []).some((i) => argInexact[i])) return false;
    inexact.push(v.approx === true || argInexact.some((x) => x));
  }
  return true;
}

const argDTypes = (p: ElementwiseProgram, op: ElementwiseProgram['ops'][number]): DType[] =>
  op.args.map((a) => ('input' in a ? p.inputs[a.input]!.dtype : p.ops[a.op]!.dtype));

/** Fresh views of a staging memory (any allocation may have grown it). */
function refreshViews(st: Staging, buffer: ArrayBufferLike): void {
  if (st.f32.buffer !== buffer) {
    st.f32 = new Float32Array(buffer);
    st.i32 = new Int32Array(buffer);
    st.u8 = new Uint8Array(buffer);
  }
}

/** Makes the heap's staging area hold `slots` slots; false when the heap cannot. */
function ensureScratch(slots: number): boolean {
  const st = heapStaging;
  if (st.slots < slots) {
    const at = heapAlloc(slots * SLOT_BYTES);
    if (at < 0) return false;
    heapFree(st.base);
    st.base = at;
    st.slots = slots;
  }
  refreshViews(st, heapBuffer());
  return true;
}

/** The private staging memory with `slots` slots, and the kernel's run on it; null where it cannot be had. */
function privateStagingFor(k: WasmKernel, slots: number): Staging | null {
  const st = privateStaging;
  try {
    if (privateMemory === null) privateMemory = new WebAssembly.Memory({ initial: Math.ceil((slots * SLOT_BYTES) / PAGE) });
    else if (slots * SLOT_BYTES > privateMemory.buffer.byteLength) privateMemory.grow(Math.ceil((slots * SLOT_BYTES - privateMemory.buffer.byteLength) / PAGE));
    if (k.privateRun === undefined) {
      const key = String.fromCharCode(...k.privateBytes);
      let run = privateRunsByBytes.get(key);
      if (!run) {
        run = new WebAssembly.Instance(new WebAssembly.Module(k.privateBytes), { env: { mem: privateMemory } }).exports.run as ProgramRun;
        privateRunsByBytes.set(key, run);
      }
      k.privateRun = run;
    }
  } catch {
    k.privateRun = null;
  }
  if (k.privateRun === null || privateMemory === null) return null;
  st.slots = slots;
  st.run = k.privateRun;
  refreshViews(st, privateMemory.buffer);
  return st;
}

/**
 * The module computing a program on an imported memory with the given limits (the heap's, or a
 * private staging memory's): run(rows, vecBytes, strideBytes, a_0, ..., a_{n-1}, o_0, ...), rows >= 1,
 * vecBytes a positive multiple of 16: for each of `rows` rows, the vectors at byte offsets
 * q < vecBytes of the row, four elements each. A full input or output at
 * a_i reads (writes) a_i + q and moves on by strideBytes per row, a row input reads a_i + q in every
 * row, a column input the float at a_i + 4 * row, a scalar the float at a_i. A full bool input read
 * as bytes (bytes[i]) reads the four bytes at a_i + q / 4 and moves on by strideBytes / 4.
 */
function wasmProgramModule(p: ElementwiseProgram, kinds: readonly OperandKind[], bytes: readonly boolean[], memory: { pages: number; maxPages?: number; shared: boolean }): Uint8Array<ArrayBuffer> {
  const nIn = p.inputs.length;
  const b = new FunctionBuilder('run', [I32, I32, I32, ...p.inputs.map(() => I32), ...p.outputs.map(() => I32)]);
  const [ROWS, VEC, STRIDE] = [0, 1, 2];
  const addr = (i: number): number => 3 + i;
  const q = b.local(I32); // byte offset of the current vector within the row
  // Code by loop level: before the loops, per row, per vector.
  const levels: number[][] = [[], [], []];
  const valueLevel: number[] = [];
  const inputLocal = p.inputs.map((_, i) => {
    const kind = kinds[i]!;
    const level = kind === 'scalar' ? 0 : kind === 'col' ? 1 : 2;
    const local = b.local(V128);
    b.into(levels[level]);
    if (kind === 'scalar' || kind === 'col') b.emit(get(addr(i)), simdMem(V128_LOAD32_SPLAT, 2, 0));
    else if (bytes[i]) {
      // Four bools (0 or 1) widened to int32 lanes and negated: the lane masks.
      b.emit(get(addr(i)), get(q), i32Const(2), [I32_SHR_U, I32_ADD], simdMem(V128_LOAD32_ZERO, 0, 0));
      b.emit(simd(I16X8_EXTEND_LOW_I8X16_U), simd(I32X4_EXTEND_LOW_I16X8_U), simd(I32X4_NEG));
    } else b.emit(get(addr(i)), get(q), [I32_ADD], simdMem(V128_LOAD, 2, 0));
    b.emit(set(local));
    valueLevel.push(level);
    return local;
  });
  const opLocal: number[] = [];
  const opLevel: number[] = [];
  p.ops.forEach((op) => {
    const locals = op.args.map((a) => ('input' in a ? inputLocal[a.input]! : opLocal[a.op]!));
    const level = Math.max(0, ...op.args.map((a) => ('input' in a ? valueLevel[a.input]! : opLevel[a.op]!)));
    b.into(levels[level]);
    emitVectorOp(b, vectorOp(op, argDTypes(p, op))!, locals);
    opLocal.push(keep(b));
    opLevel.push(level);
  });
  b.into(levels[2]);
  p.outputs.forEach((j, o) => b.emit(get(addr(nIn + o)), get(q), [I32_ADD], get(opLocal[j]!), simdMem(V128_STORE, 2, 0)));
  // After each row: full operands move on by a row, columns by a float.
  const advance: number[] = [];
  b.into(advance);
  kinds.forEach((kind, i) => {
    if (kind === 'full' && bytes[i]) b.emit(get(addr(i)), get(STRIDE), i32Const(2), [I32_SHR_U, I32_ADD], set(addr(i)));
    else if (kind === 'full') b.emit(get(addr(i)), get(STRIDE), [I32_ADD], set(addr(i)));
    else if (kind === 'col') b.emit(get(addr(i)), i32Const(4), [I32_ADD], set(addr(i)));
  });
  p.outputs.forEach((_, o) => b.emit(get(addr(nIn + o)), get(STRIDE), [I32_ADD], set(addr(nIn + o))));
  b.into();
  b.emit(levels[0]!);
  b.emit([LOOP, VOID], levels[1]!, i32Const(0), set(q));
  b.emit([LOOP, VOID], levels[2]!);
  b.emit(get(q), i32Const(16), [I32_ADD], tee(q), get(VEC), [I32_LT_U, BR_IF, 0, END]);
  b.emit(advance);
  b.emit(get(ROWS), i32Const(1), [I32_SUB], tee(ROWS), [BR_IF, 0, END]);
  return wasmModule(memory, [b.build()]);
}

/** The WebAssembly kernel of a program (compiled once per program and per distinct module), or null. */
function wasmKernel(p: ElementwiseProgram): WasmKernel | null {
  const hit = wasmByProgram.get(p);
  if (hit !== undefined) return hit;
  let kernel: WasmKernel | null = null;
  const layout = wasmSupports(p) ? wasmLayout(p) : undefined;
  const n = p.inputs.length + p.outputs.length;
  if (layout && ensureScratch(n)) {
    try {
      const heap = heapMemory()!;
      const byteInputs = p.inputs.map((inp, i) => inp.dtype === 'bool' && layout.kinds[i] === 'full');
      const bytes = wasmProgramModule(p, layout.kinds, byteInputs, { pages: 1, maxPages: heap.maxPages, shared: heap.shared });
      const privateBytes = wasmProgramModule(p, layout.kinds, byteInputs, { pages: 1, shared: false });
      const key = String.fromCharCode(...bytes);
      let module = modulesByBytes.get(key);
      if (!module) {
        const mod = new WebAssembly.Module(bytes);
        module = sharedModule(bytes, mod, new WebAssembly.Instance(mod, { env: { mem: heap.memory } }));
        modulesByBytes.set(key, module);
      }
      let kindBits = 0;
      [...layout.kinds, ...p.outputs.map((): OperandKind => 'full')].forEach((kind, i) => i < 16 && (kindBits |= KIND_CODE[kind] << (2 * i)));
      let byteBits = 0;
      byteInputs.forEach((b, i) => b && i < 16 && (byteBits |= 1 << i));
      kernel = { run: module.fns[0]!, ...layout, bytes: byteInputs, module, kindBits, byteBits, args: new Array<number>(3 + n).fill(0), at: new Array<number>(n).fill(-1), privateBytes, privateRun: undefined };
    } catch {
      // No WebAssembly SIMD here: every program stays in JS.
      wasmOk = wasmEnabled = false;
    }
  }
  wasmByProgram.set(p, kernel);
  return kernel;
}

/** Copies bools src[from, from + n) into a staging memory at byte address `at`, as bytes. */
function stageBytes(st: Staging, src: Float32Array | Uint8Array, from: number, n: number, at: number): void {
  st.u8.set(src.subarray(from, from + n) as Uint8Array, at);
}

/** Copies src[from, from + n) into a staging memory at float index `at`; bools become lane masks. */
function stage(st: Staging, src: Float32Array | Uint8Array, from: number, n: number, at: number): void {
  if (src instanceof Float32Array) {
    st.f32.set(src.subarray(from, from + n), at);
    return;
  }
  const masks = st.i32;
  for (let i = 0; i < n; i++) masks[at + i] = -src[from + i]!;
}

/** Calls `run` with the kernel's argument list as set. */
function call(k: WasmKernel, run: ProgramRun, rows: number, vecBytes: number, strideBytes: number): void {
  const a = k.args;
  a[0] = rows;
  a[1] = vecBytes;
  a[2] = strideBytes;
  run.apply(null, a);
}

/**
 * Runs a WebAssembly kernel over the operands' data. The whole vectors of each row (cols rounded
 * down to a multiple of four) run in place where every whole operand and output lies in the heap
 * (split over the threads when large; broadcast operands elsewhere are staged whole first), else a
 * block of rows (or of one row) at a time with the operands that are not in the heap staged. The
 * last cols % 4 elements of every row then run through staging slots, so nothing is written past
 * an output's end. An output may be an input (the same elements). False (nothing run) when the
 * heap has no room for the staging slots.
 */
function runWasm(k: WasmKernel, ins: readonly (Float32Array | Uint8Array)[], outs: readonly Float32Array[], what: string): boolean {
  const { rows, cols, kinds, at } = k;
  const nIn = ins.length;
  const n = nIn + outs.length;
  let anyInHeap = false;
  let aliased = false;
  for (let i = 0; i < nIn; i++) {
    const x = ins[i]!;
    at[i] = inPlaceEnabled && (x instanceof Float32Array || k.bytes[i]) ? heapAddress(x) : -1;
    if (at[i]! >= 0) anyInHeap = true;
  }
  for (let o = 0; o < outs.length; o++) {
    const y = outs[o]!;
    let a = inPlaceEnabled ? heapAddress(y) : -1;
    // An output that overlaps an input other than as the same elements is staged (in place, a later
    // vector could read what an earlier one wrote).
    for (let i = 0; i < nIn && a >= 0; i++) {
      const b = at[i]!;
      if (b < 0 || b >= a + y.byteLength || a >= b + ins[i]!.byteLength) continue;
      if (b === a && kinds[i] === 'full' && !k.bytes[i]) aliased = true;
      else a = -1;
    }
    at[nIn + o] = a;
    if (a >= 0) anyInHeap = true;
  }
  const st = anyInHeap ? null : privateStagingFor(k, n);
  if (st === null && !ensureScratch(n)) return false;
  const staging = st ?? heapStaging;
  if (st === null) heapStaging.run = k.run;
  let allInHeap = anyInHeap;
  for (let i = 0; i < nIn && allInHeap; i++) {
    if (at[i]! >= 0) continue;
    const kind = kinds[i]!;
    // A broadcast operand elsewhere (a constant, a fed bias, a bool mask) is small: staged whole, once.
    if (kind === 'scalar' || (kind === 'row' && cols <= CHUNK) || (kind === 'col' && rows <= CHUNK)) {
      at[i] = heapStaging.base + i * SLOT_BYTES;
      stage(heapStaging, ins[i]!, 0, ins[i]!.length, at[i]! >>> 2);
    } else allInHeap = false;
  }
  for (let o = 0; o < outs.length; o++) if (at[nIn + o]! < 0) allInHeap = false;
  const cols4 = cols & ~3;
  if (cols4 > 0 && allInHeap) runInPlace(k, n, cols4, aliased, what);
  else if (cols4 > 0) runStaged(k, staging, ins, outs, cols4);
  if (cols4 < cols) runTail(k, staging, ins, outs, cols4);
  return true;
}

function runInPlace(k: WasmKernel, n: number, cols4: number, aliased: boolean, what: string): void {
  const { rows, cols, at } = k;
  runs.inPlace++;
  if (splitEnabled && rows * cols4 >= splitMinElements && k.module.at >= 0) {
    // A block whose output is one of its inputs cannot be run again after a worker died in it.
    if (runProgramSplit(k.module, rows, cols4 * 4, cols * 4, at, k.kindBits, k.byteBits, !aliased, what)) {
      runs.split++;
      return;
    }
  }
  for (let i = 0; i < n; i++) k.args[3 + i] = at[i]!;
  call(k, k.run, rows, cols4 * 4, cols * 4);
}

/** The whole vectors of every row, operands not in the heap staged a block at a time. */
function runStaged(k: WasmKernel, st: Staging, ins: readonly (Float32Array | Uint8Array)[], outs: readonly Float32Array[], cols4: number): void {
  const { rows, cols, kinds, bytes, at, args } = k;
  const nIn = ins.length;
  const base = st.base;
  const slot = (i: number): number => base + i * SLOT_BYTES;
  runs.staged++;
  for (let i = 0; i < nIn; i++) if (at[i]! < 0 && kinds[i] === 'scalar') stage(st, ins[i]!, 0, 1, slot(i) >>> 2);
  // Rows up to a chunk long run a block of whole rows at a time; longer ones a chunk of one row.
  const width = cols <= CHUNK ? cols4 : CHUNK;
  const height = cols <= CHUNK ? Math.max(1, Math.floor(CHUNK / cols)) : 1;
  for (let c0 = 0; c0 < cols4; c0 += width) {
    const cw = Math.min(width, cols4 - c0);
    for (let i = 0; i < nIn; i++) if (at[i]! < 0 && kinds[i] === 'row') stage(st, ins[i]!, c0, cw, slot(i) >>> 2);
    for (let r0 = 0; r0 < rows; r0 += height) {
      const rh = Math.min(height, rows - r0);
      for (let i = 0; i < nIn; i++) {
        const kind = kinds[i]!;
        const a = at[i]!;
        if (a >= 0) args[3 + i] = kind === 'full' ? a + (r0 * cols + c0) * (bytes[i] ? 1 : 4) : kind === 'row' ? a + c0 * 4 : kind === 'col' ? a + r0 * 4 : a;
        else {
          args[3 + i] = slot(i);
          // Whole rows (the stride stays cols), or one row's chunk.
          if (kind === 'full' && bytes[i]) stageBytes(st, ins[i]!, r0 * cols + c0, cols <= CHUNK ? rh * cols : cw, slot(i));
          else if (kind === 'full') stage(st, ins[i]!, r0 * cols + c0, cols <= CHUNK ? rh * cols : cw, slot(i) >>> 2);
          else if (kind === 'col') stage(st, ins[i]!, r0, rh, slot(i) >>> 2);
        }
      }
      for (let o = 0; o < outs.length; o++) {
        const a = at[nIn + o]!;
        args[3 + nIn + o] = a >= 0 ? a + (r0 * cols + c0) * 4 : slot(nIn + o);
      }
      call(k, st.run, rh, cw * 4, cols * 4);
      for (let o = 0; o < outs.length; o++) {
        if (at[nIn + o]! >= 0) continue;
        const s = slot(nIn + o) >>> 2;
        const y = outs[o]!;
        if (cw === cols) y.set(st.f32.subarray(s, s + rh * cols), r0 * cols);
        else for (let r = 0; r < rh; r++) y.set(st.f32.subarray(s + r * cols, s + r * cols + cw), (r0 + r) * cols + c0);
      }
    }
  }
}

/** The last cols - cols4 (1 to 3) elements of every row, through the staging slots: one vector per row. */
function runTail(k: WasmKernel, st: Staging, ins: readonly (Float32Array | Uint8Array)[], outs: readonly Float32Array[], cols4: number): void {
  const { rows, cols, kinds, bytes, at, args } = k;
  const nIn = ins.length;
  const t = cols - cols4;
  const base = st.base;
  const slot = (i: number): number => base + i * SLOT_BYTES;
  runs.tails++;
  for (let i = 0; i < nIn; i++) {
    const kind = kinds[i]!;
    if (at[i]! >= 0 && (kind === 'scalar' || kind === 'col')) {
      args[3 + i] = at[i]!;
      continue;
    }
    if (kind === 'scalar') stage(st, ins[i]!, 0, 1, slot(i) >>> 2);
    else if (kind === 'row') stage(st, ins[i]!, cols4, t, slot(i) >>> 2);
    args[3 + i] = slot(i);
  }
  const height = CHUNK / 4;
  for (let r0 = 0; r0 < rows; r0 += height) {
    const rh = Math.min(height, rows - r0);
    for (let i = 0; i < nIn; i++) {
      const kind = kinds[i]!;
      // One vector per row: 16 bytes apart, or for bools read as bytes, 4.
      if (kind === 'full' && bytes[i]) for (let r = 0; r < rh; r++) stageBytes(st, ins[i]!, (r0 + r) * cols + cols4, t, slot(i) + 4 * r);
      else if (kind === 'full') for (let r = 0; r < rh; r++) stage(st, ins[i]!, (r0 + r) * cols + cols4, t, (slot(i) >>> 2) + 4 * r);
      else if (kind === 'col') {
        if (at[i]! >= 0) args[3 + i] = at[i]! + r0 * 4;
        else stage(st, ins[i]!, r0, rh, slot(i) >>> 2);
      }
    }
    for (let o = 0; o < outs.length; o++) args[3 + nIn + o] = slot(nIn + o);
    call(k, st.run, rh, 16, 16);
    const f32 = st.f32;
    for (let o = 0; o < outs.length; o++) {
      const s = slot(nIn + o) >>> 2;
      const y = outs[o]!;
      for (let r = 0; r < rh; r++) for (let j = 0; j < t; j++) y[(r0 + r) * cols + cols4 + j] = f32[s + 4 * r + j]!;
    }
  }
}

registerCpuKernel('_FusedElementwise', (inputs, node, _state, outputs) => {
  const p = node.program;
  if (!p) throw new InternalError(`_FusedElementwise '${node.name}' has no program`, node.name);
  const size = numElements(p.shape);
  const ins = p.inputs.map((inp) => {
    const x = inputs[inp.arg]!;
    if (x.dtype !== inp.dtype || x.size !== numElements(inp.shape)) {
      throw new InvalidArgumentError(`fused kernel input ${inp.arg} is ${x.dtype} ${formatShape(x.shape)}, expected ${inp.dtype} ${formatShape(inp.shape)}`);
    }
    return x.data;
  });
  const outs = p.outputs.map((j) => outputs.alloc(p.ops[j]!.dtype, p.shape));
  if (size === 0) return outs;
  const k = wasmEnabled && size >= wasmMinElements ? wasmKernel(p) : null;
  if (k === null || !runWasm(k, ins as (Float32Array | Uint8Array)[], outs.map((o) => o.data as Float32Array), node.name)) {
    const c = compileProgram(p);
    c.fn(ins, outs.map((o) => o.data), c.consts);
  }
  return outs;
});

// ---------------------------------------------------------------------------------------------
// Contractions with an epilogue: the base kernel computes into the planned output, then bias and
// activation are applied in place, with the unfused kernels' arithmetic.

function registerContraction(type: string, base: string, channelAxis: (node: KernelNode, rank: number) => number): void {
  registerCpuKernel(type, (inputs, node, state, outputs) => {
    const kernel = getCpuKernel(base);
    if (!kernel) throw new InternalError(`${type} needs the ${base} kernel`);
    const [x, w, bias] = inputs as [NDArray, NDArray, NDArray];
    const { act, alpha } = fusedEpilogue(node.attrs);
    const baseNode: KernelNode = { ...node, type: base, inputDTypes: [x.dtype, w.dtype], inputShapes: node.inputShapes.slice(0, 2) };
    // The base kernel's output is fresh (the planned buffer, when the plan has one: `outputs` is passed on).
    const y = kernel([x, w], baseNode, state, outputs)[0]!;
    const axis = channelAxis(node, y.rank);
    const c = y.shape[axis]!;
    if (bias.rank !== 1 || bias.shape[0] !== c) {
      throw new InvalidArgumentError(`Must provide as many biases as the channel dimension of the input tensor: ${formatShape(bias.shape)} vs. ${formatShape(y.shape)}`);
    }
    const inner = numElements(y.shape.slice(axis + 1));
    const k = inner === 1 && y.size >= wasmMinElements ? epilogueKernel(node, act, alpha, y.size / c, c) : null;
    if (k === null || !runWasm(k, [y.data as Float32Array, bias.data as Float32Array], [y.data as Float32Array], node.name)) runEpilogue(act, alpha, y.data as Float32Array, bias.data as Float32Array, c, inner);
    return [y];
  });
}

/**
 * The epilogue over channels-last outputs as a program for the WebAssembly kernels: BiasAdd of a
 * repeated row, then the activation, over [rows, c]. Only activations whose vector form rounds as
 * the activation's own kernel does (an approximated exp or log could land one ulp away from the
 * unfused graph's result); null where the WebAssembly kernels do not apply.
 */
function epilogueKernel(node: KernelNode, act: string | undefined, alpha: number, rows: number, c: number): WasmKernel | null {
  if (!wasmEnabled) return null;
  const hit = epilogueByNode.get(node);
  if (hit !== undefined && hit.rows === rows) return hit.kernel;
  let kernel: WasmKernel | null = null;
  type Op = ElementwiseProgram['ops'][number];
  const attrs: Record<string, number> = act !== undefined && ACTIVATIONS[act]?.alpha ? { alpha } : {};
  const actOp: Op | undefined = act === undefined ? undefined : { type: act, attrs, dtype: 'float32', args: [{ op: 0 }], name: node.name };
  const vector = actOp === undefined ? undefined : vectorOp(actOp, ['float32']);
  if (actOp === undefined || (vector !== undefined && vector.approx !== true)) {
    const program: ElementwiseProgram = {
      shape: [rows, c],
      inputs: [
        { arg: 0, shape: [rows, c], dtype: 'float32' },
        { arg: 1, shape: [1, c], dtype: 'float32' },
      ],
      ops: [{ type: 'BiasAdd', attrs: {}, dtype: 'float32', args: [{ input: 0 }, { input: 1 }], name: node.name }, ...(actOp ? [actOp] : [])],
      outputs: [actOp ? 1 : 0],
    };
    kernel = wasmKernel(program);
  }
  epilogueByNode.set(node, { rows, kernel });
  return kernel;
}
const epilogueByNode = new WeakMap<KernelNode, { rows: number; kernel: WasmKernel | null }>();

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
