// CPU kernels of the math family: elementwise ops with numpy broadcasting, casts, matmul,
// reductions and arg-reductions.
import type { DType, TypedArray } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray, numElements } from '../../../src/core/ndarray.js';
import { formatShape, sameShape, stridesOf } from '../../../src/core/shape.js';
import type { KernelNode } from '../../backend.js';
import { registerCpuKernel } from '../registry.js';
import { castComplex, complexBinary, complexNeg, hasComplexBinary } from './spectral.js';
import { sgemm } from '../gemm.js';
import { binarySimd, columnBroadcastSimd, isLeadingColumn, reduceRowsSimd, rowBroadcastSimd, sumColumnsSimd, useSimd, type BinaryOp } from '../simd.js';
import { broadcastOrThrow, broadcastStrides, reductionAxes, toNumbers } from '../../shape_helpers.js';
import { attr, forEachRun, FRESH, type Outputs } from './util.js';
import { FORMULAS, formulaRow, runFormula } from '../activations.js';

type NumData = Float32Array | Int32Array | Uint8Array;
/** Loose element access for loops that work on every storage type (select, copies, permutes). */
type AnyData = { [i: number]: unknown; length: number };

// ---------------------------------------------------------------------------------------------
// Broadcasting machinery

/** od[o + k] = f(ad[ia + k*sa], bd[ib + k*sb]) for k < n, with f fixed per row function. */
type Row = (od: NumData, o: number, ad: NumData, ia: number, sa: number, bd: NumData, ib: number, sb: number, n: number) => void;

function runBinaryRow(row: Row, a: NDArray, b: NDArray, out: NDArray): void {
  const n = out.size;
  if (n === 0) return;
  const ad = a.data as NumData;
  const bd = b.data as NumData;
  const od = out.data as NumData;
  if (a.size === n && b.size === n) row(od, 0, ad, 0, 1, bd, 0, 1, n);
  else if (a.size === n && b.size === 1) row(od, 0, ad, 0, 1, bd, 0, 0, n);
  else if (a.size === 1 && b.size === n) row(od, 0, ad, 0, 0, bd, 0, 1, n);
  else forEachRun([a.shape, b.shape], out.shape, (o, offs, inner, len) => row(od, o, ad, offs[0]!, inner[0]!, bd, offs[1]!, inner[1]!, len));
}

function runBinaryBig(f: (x: bigint, y: bigint) => bigint | number, a: NDArray, b: NDArray, out: NDArray): void {
  const ad = a.data as BigInt64Array;
  const bd = b.data as BigInt64Array;
  const od = out.data as unknown as { [i: number]: bigint | number };
  forEachRun([a.shape, b.shape], out.shape, (o, offs, inner, n) => {
    let ia = offs[0]!;
    let ib = offs[1]!;
    const sa = inner[0]!;
    const sb = inner[1]!;
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = f(ad[ia]!, bd[ib]!);
  });
}

interface BinarySpec {
  /** float32, and int32/bool unless `int` is given. */
  num: Row;
  /** int32 when it differs from the float code (wrapping multiply, integer division). */
  int?: Row;
  /** int64; a number result is stored into a bool output as 0/1. */
  big?: (x: bigint, y: bigint) => bigint | number;
  out?: 'bool';
  /** For Equal/NotEqual on strings: the result when the byte strings are equal. */
  stringEqual?: boolean;
  /** The WebAssembly SIMD loop for large float32 operands (bit-identical to `num`). */
  simd?: BinaryOp;
}

/** Runs a float32 binary op with the SIMD loops when its operands are same-shape, scalar, one row or one column repeated; false if not handled. */
function runBinarySimd(op: BinaryOp, a: NDArray, b: NDArray, out: NDArray): boolean {
  const n = out.size;
  if (!useSimd(n)) return false;
  const ad = a.data as Float32Array;
  const bd = b.data as Float32Array;
  const od = out.data as Float32Array;
  if ((a.size === n || a.size === 1) && (b.size === n || b.size === 1)) {
    binarySimd(op, ad, bd, od);
    return true;
  }
  if (a.size === n && isTrailingRow(b.shape, out.shape)) return rowBroadcastSimd(op, ad, bd, false, od);
  if (b.size === n && isTrailingRow(a.shape, out.shape)) return rowBroadcastSimd(op, bd, ad, true, od);
  if (a.size === n && isLeadingColumn(b.shape, out.shape)) return columnBroadcastSimd(op, ad, bd, false, od);
  if (b.size === n && isLeadingColumn(a.shape, out.shape)) return columnBroadcastSimd(op, bd, ad, true, od);
  return false;
}

/** Whether `small`, without its leading 1s, is a suffix of `full` (so it repeats once per leading index). */
function isTrailingRow(small: readonly number[], full: readonly number[]): boolean {
  let lead = 0;
  while (lead < small.length && small[lead] === 1) lead++;
  const tail = small.length - lead;
  if (tail === 0 || tail > full.length) return false;
  for (let d = 0; d < tail; d++) if (small[lead + d] !== full[full.length - tail + d]) return false;
  return true;
}

function registerBinary(type: string, spec: BinarySpec): void {
  registerCpuKernel(type, (inputs, node, _state, outputs) => {
    const [a, b] = inputs as [NDArray, NDArray];
    if (a.dtype === 'string') {
      if (spec.stringEqual === undefined) throw new InvalidArgumentError(`${type} does not support strings`, node.name);
      return [stringCompare(outputs, a, b, spec.stringEqual)];
    }
    if (a.dtype === 'complex64') {
      if (!hasComplexBinary(type)) throw new InvalidArgumentError(`${type} has no complex64 kernel`, node.name);
      return [complexBinary(type, a, b, outputs)];
    }
    const shape = broadcastOrThrow(a.shape, b.shape);
    const out = outputs.alloc(spec.out ?? a.dtype, shape);
    if (a.dtype === 'int64') {
      if (!spec.big) throw new InvalidArgumentError(`${type} has no int64 kernel`, node.name);
      runBinaryBig(spec.big, a, b, out);
    } else if (!(spec.simd && a.dtype === 'float32' && runBinarySimd(spec.simd, a, b, out))) {
      runBinaryRow(a.dtype === 'int32' && spec.int ? spec.int : spec.num, a, b, out);
    }
    return [out];
  });
}

function divByZero(): never {
  throw new InvalidArgumentError('Integer division by zero');
}

/** x ** y for integers, wrapping at 32 bits like TF's int32 kernels. */
function ipow32(x: number, y: number): number {
  if (y < 0) throw new InvalidArgumentError('Integers to negative integer powers are not allowed');
  let r = 1;
  let base = x | 0;
  while (y > 0) {
    if (y & 1) r = Math.imul(r, base);
    base = Math.imul(base, base);
    y >>>= 1;
  }
  return r;
}

function ipow64(x: bigint, y: bigint): bigint {
  if (y < 0n) throw new InvalidArgumentError('Integers to negative integer powers are not allowed');
  let r = 1n;
  let base = x;
  while (y > 0n) {
    if (y & 1n) r = BigInt.asIntN(64, r * base);
    base = BigInt.asIntN(64, base * base);
    y >>= 1n;
  }
  return r;
}

function floorMod(x: number, y: number): number {
  const r = x % y;
  return r !== 0 && r < 0 !== y < 0 ? r + y : r;
}

function floorDiv64(x: bigint, y: bigint): bigint {
  if (y === 0n) divByZero();
  const q = x / y;
  return (x % y !== 0n) && (x < 0n) !== (y < 0n) ? q - 1n : q;
}

function floorMod64(x: bigint, y: bigint): bigint {
  if (y === 0n) divByZero();
  const r = x % y;
  return r !== 0n && (r < 0n) !== (y < 0n) ? r + y : r;
}

// The row functions below are written out one by one (rather than as a generic loop over a
// callback) so each inner loop is monomorphic and V8 compiles it to straight-line arithmetic.
registerBinary('AddV2', {
  simd: 'add',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! + bd[ib]!;
  },
  big: (x, y) => x + y,
});
registerBinary('Sub', {
  simd: 'sub',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! - bd[ib]!;
  },
  big: (x, y) => x - y,
});
registerBinary('Mul', {
  simd: 'mul',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! * bd[ib]!;
  },
  int: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = Math.imul(ad[ia]!, bd[ib]!);
  },
  big: (x, y) => x * y,
});
registerBinary('RealDiv', {
  simd: 'div',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! / bd[ib]!;
  },
});
registerBinary('FloorDiv', {
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = Math.floor(ad[ia]! / bd[ib]!);
  },
  int: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) {
      const y = bd[ib]!;
      if (y === 0) divByZero();
      od[o + k] = Math.floor(ad[ia]! / y);
    }
  },
  big: floorDiv64,
});
registerBinary('FloorMod', {
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = floorMod(ad[ia]!, bd[ib]!);
  },
  int: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) {
      const y = bd[ib]!;
      if (y === 0) divByZero();
      od[o + k] = floorMod(ad[ia]!, y);
    }
  },
  big: floorMod64,
});
registerBinary('Pow', {
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = Math.pow(ad[ia]!, bd[ib]!);
  },
  int: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ipow32(ad[ia]!, bd[ib]!);
  },
  big: ipow64,
});
registerBinary('Maximum', {
  simd: 'max',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = Math.max(ad[ia]!, bd[ib]!);
  },
  big: (x, y) => (x > y ? x : y),
});
registerBinary('Minimum', {
  simd: 'min',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = Math.min(ad[ia]!, bd[ib]!);
  },
  big: (x, y) => (x < y ? x : y),
});
registerBinary('SquaredDifference', {
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) {
      const d = ad[ia]! - bd[ib]!;
      od[o + k] = d * d;
    }
  },
  int: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) {
      const d = (ad[ia]! - bd[ib]!) | 0;
      od[o + k] = Math.imul(d, d);
    }
  },
  big: (x, y) => (x - y) * (x - y),
});
registerBinary('Equal', {
  out: 'bool',
  stringEqual: true,
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! === bd[ib]! ? 1 : 0;
  },
  big: (x, y) => (x === y ? 1 : 0),
});
registerBinary('NotEqual', {
  out: 'bool',
  stringEqual: false,
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! !== bd[ib]! ? 1 : 0;
  },
  big: (x, y) => (x !== y ? 1 : 0),
});
registerBinary('Less', {
  out: 'bool',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! < bd[ib]! ? 1 : 0;
  },
  big: (x, y) => (x < y ? 1 : 0),
});
registerBinary('LessEqual', {
  out: 'bool',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! <= bd[ib]! ? 1 : 0;
  },
  big: (x, y) => (x <= y ? 1 : 0),
});
registerBinary('Greater', {
  out: 'bool',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! > bd[ib]! ? 1 : 0;
  },
  big: (x, y) => (x > y ? 1 : 0),
});
registerBinary('GreaterEqual', {
  out: 'bool',
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! >= bd[ib]! ? 1 : 0;
  },
  big: (x, y) => (x >= y ? 1 : 0),
});
registerBinary('LogicalAnd', {
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! & bd[ib]!;
  },
});
registerBinary('LogicalOr', {
  num: (od, o, ad, ia, sa, bd, ib, sb, n) => {
    for (let k = 0; k < n; k++, ia += sa, ib += sb) od[o + k] = ad[ia]! | bd[ib]!;
  },
});

// Ops whose float32/int32 formulas live in the CPU's formula table (activations.ts): the rows are
// generated from it; int64 is written here.
function registerFormulaBinary(type: string, big?: (x: bigint, y: bigint) => bigint): void {
  const formula = FORMULAS[type]!;
  const f = formula.f ? (formulaRow(type, 'f') as unknown as Row) : undefined;
  const i = formula.i ? (formulaRow(type, 'i') as unknown as Row) : undefined;
  registerBinary(type, { num: (f ?? i)!, int: i, big });
}
function checkedDiv64(x: bigint, y: bigint): bigint {
  if (y === 0n) divByZero();
  return BigInt.asIntN(64, x / y);
}
function checkedMod64(x: bigint, y: bigint): bigint {
  if (y === 0n) divByZero();
  return x % y;
}
registerFormulaBinary('Atan2');
registerFormulaBinary('Polygamma');
registerFormulaBinary('Zeta');
registerFormulaBinary('Div', checkedDiv64);
registerFormulaBinary('DivNoNan');
registerFormulaBinary('Mod', checkedMod64);
registerFormulaBinary('TruncateMod', checkedMod64);
registerFormulaBinary('TruncateDiv', checkedDiv64);
registerFormulaBinary('BitwiseAnd', (x, y) => x & y);
registerFormulaBinary('BitwiseOr', (x, y) => x | y);
registerFormulaBinary('BitwiseXor', (x, y) => x ^ y);

// Equal / NotEqual also compare strings, byte by byte.
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function stringCompare(outputs: Outputs, a: NDArray, b: NDArray, want: boolean): NDArray {
  const out = outputs.alloc('bool', broadcastOrThrow(a.shape, b.shape));
  const ad = a.data as Uint8Array[];
  const bd = b.data as Uint8Array[];
  const od = out.data as Uint8Array;
  forEachRun([a.shape, b.shape], out.shape, (o, offs, inner, n) => {
    for (let k = 0; k < n; k++) od[o + k] = bytesEqual(ad[offs[0]! + k * inner[0]!]!, bd[offs[1]! + k * inner[1]!]!) === want ? 1 : 0;
  });
  return out;
}
// ---------------------------------------------------------------------------------------------
// Unary elementwise ops

type URow = (od: NumData, ad: NumData, n: number) => void;
interface UnarySpec {
  num: URow;
  int?: URow;
  big?: (x: bigint) => bigint;
}

function registerUnary(type: string, spec: UnarySpec): void {
  registerCpuKernel(type, (inputs, node, _state, outputs) => {
    const a = inputs[0]!;
    if (a.dtype === 'complex64') {
      if (type !== 'Neg') throw new InvalidArgumentError(`${type} has no complex64 kernel`, node.name);
      return [complexNeg(a, outputs)];
    }
    const out = outputs.alloc(a.dtype, a.shape);
    if (a.dtype === 'int64') {
      if (!spec.big) throw new InvalidArgumentError(`${type} has no int64 kernel`, node.name);
      const ad = a.data as BigInt64Array;
      const od = out.data as BigInt64Array;
      for (let i = 0; i < ad.length; i++) od[i] = spec.big(ad[i]!);
    } else {
      (a.dtype === 'int32' && spec.int ? spec.int : spec.num)(out.data as NumData, a.data as NumData, a.size);
    }
    return [out];
  });
}

const copyRow: URow = (od, ad, n) => od.set(ad.subarray(0, n) as Float32Array);

/** Round half to even, as TF's Round (and numpy's) does. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

registerUnary('Neg', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = -ad[i]!;
  },
  big: (x) => -x,
});
registerUnary('Square', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = ad[i]! * ad[i]!;
  },
  int: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = Math.imul(ad[i]!, ad[i]!);
  },
  big: (x) => x * x,
});
registerUnary('Abs', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = Math.abs(ad[i]!);
  },
  big: (x) => (x < 0n ? -x : x),
});
registerUnary('Sign', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) {
      const x = ad[i]!;
      // 0 for 0 and NaN, as Eigen's scalar_sign_op.
      od[i] = x > 0 ? 1 : x < 0 ? -1 : 0;
    }
  },
  big: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n),
});
registerUnary('Round', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = roundHalfEven(ad[i]!);
  },
  int: copyRow,
  big: (x) => x,
});
registerUnary('Sqrt', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = Math.sqrt(ad[i]!);
  },
});
registerUnary('Rsqrt', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = 1 / Math.sqrt(ad[i]!);
  },
});
registerUnary('Exp', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = Math.exp(ad[i]!);
  },
});
registerUnary('Log', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = Math.log(ad[i]!);
  },
});
registerUnary('Log1p', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = Math.log1p(ad[i]!);
  },
});
registerUnary('Reciprocal', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = 1 / ad[i]!;
  },
});
registerUnary('Floor', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = Math.floor(ad[i]!);
  },
});
registerUnary('Ceil', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = Math.ceil(ad[i]!);
  },
});
registerUnary('LogicalNot', {
  num: (od, ad, n) => {
    for (let i = 0; i < n; i++) od[i] = ad[i]! ^ 1;
  },
});

// Unary float ops of the formula table (activations.ts); IsNan/IsInf/IsFinite output bools.
for (const type of ['Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Expm1', 'Erf', 'Erfc', 'Lgamma', 'Digamma', 'IsNan', 'IsInf', 'IsFinite']) {
  registerCpuKernel(type, (inputs, node, _state, outputs) => {
    const x = inputs[0]!;
    if (x.dtype !== 'float32') throw new InvalidArgumentError(`${type} does not support ${x.dtype}`, node.name);
    const out = outputs.alloc(node.outputs[0]?.dtype ?? x.dtype, x.shape);
    runFormula(type, 'f', [x.data], [false], out.data);
    return [out];
  });
}

// ClipByValue(t, min, max): each bound a scalar or of t's shape, as TF's kernel requires.
registerCpuKernel('ClipByValue', (inputs, node, _state, outputs) => {
  const [t, lo, hi] = inputs as [NDArray, NDArray, NDArray];
  for (const [b, what] of [[lo, 'clip_value_min'], [hi, 'clip_value_max']] as const) {
    if (b.rank !== 0 && !sameShape(b.shape, t.shape)) {
      throw new InvalidArgumentError(`ClipByValue: ${what} must be a scalar or have the shape of t ${formatShape(t.shape)}, got ${formatShape(b.shape)}`, node.name);
    }
  }
  const out = outputs.alloc(t.dtype, t.shape);
  if (t.dtype === 'int64') {
    const [td, ld, hd, od] = [t, lo, hi, out].map((a) => a.data as BigInt64Array) as [BigInt64Array, BigInt64Array, BigInt64Array, BigInt64Array];
    const [sl, sh] = [lo.rank === 0 ? 0 : 1, hi.rank === 0 ? 0 : 1];
    for (let i = 0; i < td.length; i++) {
      const v = td[i]! < hd[i * sh]! ? td[i]! : hd[i * sh]!;
      od[i] = v > ld[i * sl]! ? v : ld[i * sl]!;
    }
  } else if (t.dtype === 'float32' || t.dtype === 'int32') {
    runFormula('ClipByValue', t.dtype === 'float32' ? 'f' : 'i', [t.data, lo.data, hi.data], [false, lo.rank === 0, hi.rank === 0], out.data);
  } else {
    throw new InvalidArgumentError(`ClipByValue does not support ${t.dtype}`, node.name);
  }
  return [out];
});

/** Gradient helper ops: f(y, dy) elementwise over two tensors of one shape (TF's cwise_grad ops). */
function registerGradHelper(type: string, f: (od: Float32Array, y: Float32Array, dy: Float32Array) => void): void {
  registerCpuKernel(type, (inputs, _node, _state, outputs) => {
    const [y, dy] = inputs as [NDArray, NDArray];
    if (!sameShape(y.shape, dy.shape)) {
      throw new InvalidArgumentError(`y and dy must have the same shape, got ${formatShape(y.shape)} and ${formatShape(dy.shape)}`);
    }
    const out = outputs.alloc(y.dtype, y.shape);
    f(out.data as Float32Array, y.data as Float32Array, dy.data as Float32Array);
    return [out];
  });
}
registerGradHelper('SqrtGrad', (od, y, dy) => {
  for (let i = 0; i < od.length; i++) od[i] = (dy[i]! * 0.5) / y[i]!;
});
registerGradHelper('RsqrtGrad', (od, y, dy) => {
  for (let i = 0; i < od.length; i++) od[i] = -0.5 * dy[i]! * y[i]! * y[i]! * y[i]!;
});
registerGradHelper('ReciprocalGrad', (od, y, dy) => {
  for (let i = 0; i < od.length; i++) od[i] = -dy[i]! * y[i]! * y[i]!;
});

// ---------------------------------------------------------------------------------------------
// Select, Cast, AddN, BroadcastGradientArgs

function selectInto(outputs: Outputs, c: NDArray, x: NDArray, y: NDArray, outShape: readonly number[]): NDArray {
  const out = outputs.alloc(x.dtype, outShape);
  const cd = c.data as Uint8Array;
  const xd = x.data as unknown as AnyData;
  const yd = y.data as unknown as AnyData;
  const od = out.data as unknown as AnyData;
  forEachRun([c.shape, x.shape, y.shape], outShape, (o, offs, inner, n) => {
    let ic = offs[0]!;
    let ix = offs[1]!;
    let iy = offs[2]!;
    const [sc, sx, sy] = inner as [number, number, number];
    for (let k = 0; k < n; k++, ic += sc, ix += sx, iy += sy) od[o + k] = cd[ic] ? xd[ix] : yd[iy];
  });
  return out;
}

registerCpuKernel('SelectV2', (inputs, _node, _state, outputs) => {
  const [c, x, y] = inputs as [NDArray, NDArray, NDArray];
  const shape = broadcastOrThrow(broadcastOrThrow(c.shape, x.shape), y.shape);
  return [selectInto(outputs, c, x, y, shape)];
});

registerCpuKernel('Select', (inputs, _node, _state, outputs) => {
  const [c, x, y] = inputs as [NDArray, NDArray, NDArray];
  if (!sameShape(x.shape, y.shape)) {
    throw new InvalidArgumentError(`'then' and 'else' must have the same size. but received: ${formatShape(x.shape)} vs. ${formatShape(y.shape)}`);
  }
  let cShape = c.shape;
  if (c.rank === 1 && x.rank > 1) {
    if (c.shape[0] !== x.shape[0]) {
      throw new InvalidArgumentError(`Number of batches of 'then' must match size of 'cond', but saw: ${x.shape[0]} vs. ${c.shape[0]}`);
    }
    // A vector condition picks whole rows: view it as [n, 1, ..., 1] and broadcast.
    cShape = [c.shape[0]!, ...new Array<number>(x.rank - 1).fill(1)];
  } else if (c.rank !== 0 && !sameShape(c.shape, x.shape)) {
    throw new InvalidArgumentError(`'cond' and 'then' must have the same shape (or cond a vector or scalar), got ${formatShape(c.shape)} and ${formatShape(x.shape)}`);
  }
  return [selectInto(outputs, new NDArray(c.data, cShape, 'bool'), x, y, x.shape)];
});

const INT32_MIN = -2147483648;
const INT64_MIN = -(2n ** 63n);

function castArray(outputs: Outputs, x: NDArray, to: DType): NDArray {
  const from = x.dtype;
  if (from === 'complex64' || to === 'complex64') return castComplex(x, to, outputs);
  const out = outputs.alloc(to, x.shape);
  const n = x.size;
  if (from === 'string' || to === 'string') {
    if (from !== to) throw new InvalidArgumentError(`Cast string to/from ${from === 'string' ? to : from} is not supported`);
    const od = out.data as Uint8Array[];
    const xd = x.data as Uint8Array[];
    for (let i = 0; i < n; i++) od[i] = xd[i]!;
    return out;
  }
  if (from === to) {
    (out.data as Float32Array).set(x.data as Float32Array);
    return out;
  }
  if (to === 'bool') {
    const od = out.data as Uint8Array;
    if (from === 'int64') {
      const xd = x.data as BigInt64Array;
      for (let i = 0; i < n; i++) od[i] = xd[i] !== 0n ? 1 : 0;
    } else {
      const xd = x.data as NumData;
      for (let i = 0; i < n; i++) od[i] = xd[i] !== 0 ? 1 : 0;
    }
    return out;
  }
  if (from === 'int64') {
    const xd = x.data as BigInt64Array;
    if (to === 'int32') {
      const od = out.data as Int32Array;
      for (let i = 0; i < n; i++) od[i] = Number(BigInt.asIntN(32, xd[i]!));
    } else {
      const od = out.data as Float32Array;
      for (let i = 0; i < n; i++) od[i] = Number(xd[i]!);
    }
    return out;
  }
  const xd = x.data as NumData;
  if (to === 'int64') {
    const od = out.data as BigInt64Array;
    for (let i = 0; i < n; i++) {
      // Truncation toward zero; NaN and out-of-range values give INT64_MIN, as the x86 conversion TF uses does.
      const v = Math.trunc(xd[i]!);
      od[i] = v >= -9223372036854775808 && v < 9223372036854775808 ? BigInt(v) : INT64_MIN;
    }
  } else if (to === 'int32') {
    const od = out.data as Int32Array;
    for (let i = 0; i < n; i++) {
      const v = Math.trunc(xd[i]!);
      od[i] = v >= INT32_MIN && v <= 2147483647 ? v : INT32_MIN;
    }
  } else {
    (out.data as Float32Array).set(xd);
  }
  return out;
}

registerCpuKernel('Cast', (inputs, node, _state, outputs) => [castArray(outputs, inputs[0]!, attr<DType>(node, 'DstT'))]);

registerCpuKernel('AddN', (inputs, _node, _state, outputs) => {
  const first = inputs[0]!;
  for (const x of inputs) {
    if (!sameShape(x.shape, first.shape)) {
      throw new InvalidArgumentError(`Inputs to operation AddN must have the same size and shape. Input 0: ${formatShape(first.shape)} != input: ${formatShape(x.shape)}`);
    }
  }
  const out = outputs.alloc(first.dtype, first.shape);
  if (first.dtype === 'int64') {
    const od = out.data as BigInt64Array;
    for (const x of inputs) {
      const xd = x.data as BigInt64Array;
      for (let i = 0; i < od.length; i++) od[i] = od[i]! + xd[i]!;
    }
  } else {
    const od = out.data as Float32Array | Int32Array;
    od.set(first.data as Float32Array);
    for (let j = 1; j < inputs.length; j++) {
      const xd = inputs[j]!.data as Float32Array | Int32Array;
      for (let i = 0; i < od.length; i++) od[i] = od[i]! + xd[i]!;
    }
  }
  return [out];
});

/**
 * TF's BroadcastGradientArgs: the axes (of the broadcast shape) each input was broadcast along,
 * i.e. where its right-aligned dim is 1 or missing; both empty when the shapes are equal.
 */
function broadcastGradientArgs(s0: readonly number[], s1: readonly number[]): [number[], number[]] {
  broadcastOrThrow(s0, s1);
  if (sameShape(s0, s1)) return [[], []];
  const rank = Math.max(s0.length, s1.length);
  const axes = (s: readonly number[]): number[] => {
    const r: number[] = [];
    for (let i = 0; i < rank; i++) {
      const j = i - (rank - s.length);
      if (j < 0 || s[j] === 1) r.push(i);
    }
    return r;
  };
  return [axes(s0), axes(s1)];
}

registerCpuKernel('BroadcastGradientArgs', (inputs, node) => {
  const [s0, s1] = inputs as [NDArray, NDArray];
  if (s0.rank !== 1 || s1.rank !== 1) throw new InvalidArgumentError('BroadcastGradientArgs: inputs must be vectors');
  const [r0, r1] = broadcastGradientArgs(toNumbers(s0), toNumbers(s1));
  const dtype = attr<DType>(node, 'T') ?? s0.dtype;
  return [NDArray.from(r0, dtype, [r0.length]), NDArray.from(r1, dtype, [r1.length])];
});

// ---------------------------------------------------------------------------------------------
// Matrix multiplication

/** A [rows, cols] row-major block of `src` at `off`, transposed into a fresh [cols, rows] array. */
function transpose2d(src: Float32Array | Int32Array, off: number, rows: number, cols: number): Float32Array | Int32Array {
  const out = src instanceof Int32Array ? new Int32Array(rows * cols) : new Float32Array(rows * cols);
  const B = 32;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        const s = off + i * cols;
        for (let j = j0; j < j1; j++) out[j * rows + i] = src[s + j]!;
      }
    }
  }
  return out;
}

/** Integer matmul (A read with strides, B row-major [k,n]), wrapping at 32 bits as TF's int32 kernel does. */
function gemmI32(A: Int32Array, aOff: number, aRow: number, aCol: number, B: Int32Array, bOff: number, C: Int32Array, cOff: number, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const c0 = cOff + i * n;
    for (let p = 0; p < k; p++) {
      const x = A[aOff + i * aRow + p * aCol]!;
      const b0 = bOff + p * n;
      for (let j = 0; j < n; j++) C[c0 + j] = (C[c0 + j]! + Math.imul(x, B[b0 + j]!)) | 0;
    }
  }
}

/**
 * Batched C = op(A) op(B) over broadcast batch dims, op(X) being X or X^T. Float32 goes through the
 * packed sgemm (which takes the transposes itself). For int32 a transposed A is read with swapped
 * strides and a transposed B is first copied into row-major [k,n] (once per distinct batch matrix).
 */
function batchMatmul(outputs: Outputs, a: NDArray, b: NDArray, ta: boolean, tb: boolean, what: string): NDArray {
  if (a.rank < 2 || b.rank < 2) {
    throw new InvalidArgumentError(`${what}: inputs must be at least rank 2, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  if (a.dtype !== b.dtype) throw new InvalidArgumentError(`${what}: dtypes ${a.dtype} and ${b.dtype} differ`);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const m = ta ? ac : ar;
  const k = ta ? ar : ac;
  const k2 = tb ? bc : br;
  const n = tb ? br : bc;
  if (k !== k2) {
    throw new InvalidArgumentError(
      `${what}: In[0] and In[1] have incompatible inner dimensions: ${formatShape(a.shape)}${ta ? ' (transposed)' : ''} vs. ${formatShape(b.shape)}${tb ? ' (transposed)' : ''}`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcastOrThrow(aBatch, bBatch);
  // sgemm with beta = 0 writes every element of its C.
  const out = a.dtype === 'float32' ? outputs.allocOverwritten(a.dtype, [...batch, m, n]) : outputs.alloc(a.dtype, [...batch, m, n]);
  if (out.size === 0) return out;
  const nb = numElements(batch);
  const aStr = broadcastStrides(aBatch, batch);
  const bStr = broadcastStrides(bBatch, batch);
  const outStr = stridesOf(batch);
  const aRow = ta ? 1 : ac;
  const aCol = ta ? ac : 1;
  const ad = a.data as Float32Array | Int32Array;
  const bd = b.data as Float32Array | Int32Array;
  if (a.dtype === 'float32') {
    for (let t = 0; t < nb; t++) {
      const { ia, ib } = batchOffsets(t, batch, outStr, aStr, bStr);
      sgemm(ta, tb, m, n, k, 1, ad as Float32Array, ac, bd as Float32Array, bc, 0, out.data as Float32Array, n, ia * ar * ac, ib * br * bc, t * m * n);
    }
    return out;
  }
  let lastB = -1;
  let bMat: Float32Array | Int32Array = bd;
  let bOff = 0;
  for (let t = 0; t < nb; t++) {
    const { ia, ib } = batchOffsets(t, batch, outStr, aStr, bStr);
    if (ib !== lastB) {
      lastB = ib;
      if (tb) {
        bMat = transpose2d(bd, ib * br * bc, br, bc);
        bOff = 0;
      } else {
        bOff = ib * br * bc;
      }
    }
    const aOff = ia * ar * ac;
    gemmI32(ad as Int32Array, aOff, aRow, aCol, bMat as Int32Array, bOff, out.data as Int32Array, t * m * n, m, n, k);
  }
  return out;
}

/** Matrix offsets (in matrices) of batch element t in A and B under broadcasting. */
function batchOffsets(t: number, batch: readonly number[], outStr: readonly number[], aStr: readonly number[], bStr: readonly number[]): { ia: number; ib: number } {
  let ia = 0;
  let ib = 0;
  let rem = t;
  for (let d = 0; d < batch.length; d++) {
    const q = Math.floor(rem / outStr[d]!);
    rem -= q * outStr[d]!;
    ia += q * aStr[d]!;
    ib += q * bStr[d]!;
  }
  return { ia, ib };
}

registerCpuKernel('MatMul', (inputs, node, _state, outputs) => {
  const [a, b] = inputs as [NDArray, NDArray];
  if (a.rank !== 2 || b.rank !== 2) {
    throw new InvalidArgumentError(`In[0] and In[1] must be matrices, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  return [batchMatmul(outputs, a, b, !!attr<boolean>(node, 'transpose_a'), !!attr<boolean>(node, 'transpose_b'), 'MatMul')];
});

registerCpuKernel('BatchMatMulV2', (inputs, node, _state, outputs) => {
  const [a, b] = inputs as [NDArray, NDArray];
  return [batchMatmul(outputs, a, b, !!attr<boolean>(node, 'adj_x'), !!attr<boolean>(node, 'adj_y'), 'BatchMatMulV2')];
});

// ---------------------------------------------------------------------------------------------
// Reductions

/** Copies x with its axes permuted (out dim i = x dim perm[i]) into fresh scratch memory (never a planned output). */
function permute(x: NDArray, perm: readonly number[]): NDArray {
  const shape = perm.map((p) => x.shape[p]!);
  const out = FRESH.alloc(x.dtype, shape);
  const xs = stridesOf(x.shape);
  const src = perm.map((p) => xs[p]!);
  const xd = x.data as unknown as AnyData;
  const od = out.data as unknown as AnyData;
  const r = shape.length;
  const total = out.size;
  if (total === 0) return out;
  const inner = shape[r - 1]!;
  const innerStride = src[r - 1]!;
  const idx = new Array<number>(r).fill(0);
  let off = 0;
  for (let o = 0; o < total; o += inner) {
    for (let k = 0; k < inner; k++) od[o + k] = xd[off + k * innerStride];
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      off += src[d]!;
      if (idx[d]! < shape[d]!) break;
      off -= src[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Views a reduction of x over `axes` as one over the middle dim of [outer, r, inner]: directly
 * when the reduced axes are adjacent (ignoring size-1 dims), otherwise after moving them last.
 */
function canonicalReduce(x: NDArray, axes: readonly number[]): { data: TypedArray; outer: number; r: number; inner: number } {
  const red = new Set(axes);
  const dims = x.shape.map((n, d) => ({ n, reduced: red.has(d) })).filter((e) => e.n !== 1);
  let first = dims.findIndex((e) => e.reduced);
  if (first < 0) first = dims.length;
  let last = first;
  while (last < dims.length && dims[last]!.reduced) last++;
  const prod = (es: { n: number }[]): number => es.reduce((p, e) => p * e.n, 1);
  if (!dims.slice(last).some((e) => e.reduced)) {
    return { data: x.data, outer: prod(dims.slice(0, first)), r: prod(dims.slice(first, last)), inner: prod(dims.slice(last)) };
  }
  const kept = x.shape.map((_, d) => d).filter((d) => !red.has(d));
  const moved = permute(x, [...kept, ...axes]);
  return { data: moved.data, outer: numElements(kept.map((d) => x.shape[d]!)), r: numElements(axes.map((d) => x.shape[d]!)), inner: 1 };
}

/** Shorter rows spend more on calls into WebAssembly than the SIMD loop saves. */
const SIMD_MIN_ROW = 64;
/** Column sums of fewer columns than a vector are left to the loop. */
const SIMD_MIN_COLUMNS = 4;

/** 'norm': the Euclidean norm, sqrt of the sum of squares. */
type ReduceKind = 'sum' | 'mean' | 'prod' | 'max' | 'min' | 'norm';

function reduceInit(kind: ReduceKind, dtype: DType): number {
  switch (kind) {
    case 'sum':
    case 'mean':
    case 'norm':
      return 0;
    case 'prod':
      return 1;
    case 'max':
      return dtype === 'int32' ? INT32_MIN : -Infinity;
    case 'min':
      return dtype === 'int32' ? 2147483647 : Infinity;
  }
}

/**
 * Reduces float32/int32 data laid out as [outer, r, inner] over r into out ([outer, inner]).
 * Sums accumulate in float64 (int32 results wrap on the store, exact below 2^53).
 */
function reduceNumber(kind: ReduceKind, xd: Float32Array | Int32Array, out: Float32Array | Int32Array, outer: number, r: number, inner: number): void {
  const isInt = out instanceof Int32Array;
  // Nothing to reduce (no axes, or only axes of size 1): the gradients of broadcasting ops whose
  // shapes are known only at run time emit these, once per op per loop iteration.
  if (r === 1 && kind !== 'norm') {
    out.set(xd.subarray(0, outer * inner));
    return;
  }
  if (!isInt && inner === 1 && kind !== 'prod' && kind !== 'norm' && r >= SIMD_MIN_ROW && useSimd(outer * r)) {
    const acc = new Float64Array(outer);
    reduceRowsSimd(kind === 'mean' ? 'sum' : kind, xd as Float32Array, 0, outer, r, acc);
    for (let o = 0; o < outer; o++) out[o] = kind === 'mean' ? acc[o]! / r : acc[o]!;
    return;
  }
  const acc = new Float64Array(inner);
  if (!isInt && (kind === 'sum' || kind === 'mean') && inner >= SIMD_MIN_COLUMNS && useSimd(outer * r * inner)) {
    // Sums over leading axes (batch-norm moments, the gradients of broadcasting ops): column sums,
    // each accumulated row after row as in the loop below, in WebAssembly over the threads.
    for (let o = 0; o < outer; o++) {
      sumColumnsSimd((xd as Float32Array).subarray(o * r * inner, (o + 1) * r * inner), r, inner, acc, kind === 'mean' ? 'Mean' : 'Sum');
      for (let i = 0; i < inner; i++) out[o * inner + i] = kind === 'mean' ? acc[i]! / r : acc[i]!;
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    acc.fill(reduceInit(kind, isInt ? 'int32' : 'float32'));
    const base = o * r * inner;
    switch (kind) {
      case 'sum':
      case 'mean':
        if (inner === 1) {
          let s = 0;
          for (let j = 0; j < r; j++) s += xd[base + j]!;
          acc[0] = s;
        } else {
          for (let j = 0; j < r; j++) {
            const row = base + j * inner;
            for (let i = 0; i < inner; i++) acc[i] += xd[row + i]!;
          }
        }
        break;
      case 'norm':
        for (let j = 0; j < r; j++) {
          const row = base + j * inner;
          for (let i = 0; i < inner; i++) acc[i] += xd[row + i]! * xd[row + i]!;
        }
        break;
      case 'prod':
        for (let j = 0; j < r; j++) {
          const row = base + j * inner;
          if (isInt) for (let i = 0; i < inner; i++) acc[i] = Math.imul(acc[i]!, xd[row + i]!);
          else for (let i = 0; i < inner; i++) acc[i] *= xd[row + i]!;
        }
        break;
      case 'max':
        for (let j = 0; j < r; j++) {
          const row = base + j * inner;
          for (let i = 0; i < inner; i++) {
            const v = xd[row + i]!;
            // NaN propagates, as in TF.
            if (v > acc[i]! || v !== v) acc[i] = v;
          }
        }
        break;
      case 'min':
        for (let j = 0; j < r; j++) {
          const row = base + j * inner;
          for (let i = 0; i < inner; i++) {
            const v = xd[row + i]!;
            if (v < acc[i]! || v !== v) acc[i] = v;
          }
        }
        break;
    }
    const ob = o * inner;
    if (kind === 'mean') {
      if (isInt) for (let i = 0; i < inner; i++) out[ob + i] = r === 0 ? 0 : Math.trunc((acc[i]! | 0) / r);
      else for (let i = 0; i < inner; i++) out[ob + i] = acc[i]! / r;
    } else if (kind === 'norm') {
      // An int32 store truncates the root, as TF's integer kernel does.
      for (let i = 0; i < inner; i++) out[ob + i] = Math.sqrt(acc[i]!);
    } else {
      for (let i = 0; i < inner; i++) out[ob + i] = acc[i]!;
    }
  }
}

function reduceBig(kind: ReduceKind, xd: BigInt64Array, out: BigInt64Array, outer: number, r: number, inner: number): void {
  const init = kind === 'prod' ? 1n : kind === 'max' ? INT64_MIN : kind === 'min' ? 2n ** 63n - 1n : 0n;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = init;
      for (let j = 0; j < r; j++) {
        const v = xd[(o * r + j) * inner + i]!;
        if (kind === 'sum' || kind === 'mean') acc = BigInt.asIntN(64, acc + v);
        else if (kind === 'norm') acc += v * v;
        else if (kind === 'prod') acc = BigInt.asIntN(64, acc * v);
        else if (kind === 'max' ? v > acc : v < acc) acc = v;
      }
      out[o * inner + i] = kind === 'mean' ? (r === 0 ? 0n : acc / BigInt(r)) : kind === 'norm' ? BigInt(Math.trunc(Math.sqrt(Number(acc)))) : acc;
    }
  }
}

function registerReduction(type: string, kind: ReduceKind): void {
  registerCpuKernel(type, (inputs, node, _state, outputs) => {
    const [x, axesArr] = inputs as [NDArray, NDArray];
    if (axesArr.rank > 1) throw new InvalidArgumentError(`reduction indices must be a scalar or vector, got ${formatShape(axesArr.shape)}`);
    const axes = reductionAxes(axesArr, x.rank);
    const keep = !!attr<boolean>(node, 'keep_dims');
    const red = new Set(axes);
    const outShape = keep ? x.shape.map((n, d) => (red.has(d) ? 1 : n)) : x.shape.filter((_, d) => !red.has(d));
    const out = outputs.alloc(x.dtype, outShape);
    if (out.size === 0) return [out];
    const { data, outer, r, inner } = canonicalReduce(x, axes);
    if (x.dtype === 'int64') reduceBig(kind, data as BigInt64Array, out.data as BigInt64Array, outer, r, inner);
    else if (x.dtype === 'float32' || x.dtype === 'int32') reduceNumber(kind, data as Float32Array, out.data as Float32Array, outer, r, inner);
    else throw new InvalidArgumentError(`${type} does not support ${x.dtype}`);
    return [out];
  });
}
registerReduction('Sum', 'sum');
registerReduction('Mean', 'mean');
registerReduction('Prod', 'prod');
registerReduction('Max', 'max');
registerReduction('Min', 'min');
registerReduction('EuclideanNorm', 'norm');

/** Logical AND (All) or OR (Any) over [outer, r, inner] bools into out ([outer, inner]). */
function reduceBool(all: boolean, xd: Uint8Array, out: Uint8Array, outer: number, r: number, inner: number): void {
  out.fill(all ? 1 : 0);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < r; j++) {
      const row = (o * r + j) * inner;
      for (let i = 0; i < inner; i++) {
        if (all) out[o * inner + i]! &= xd[row + i]!;
        else out[o * inner + i]! |= xd[row + i]!;
      }
    }
  }
}

for (const [type, all] of [['All', true], ['Any', false]] as const) {
  registerCpuKernel(type, (inputs, node, _state, outputs) => {
    const [x, axesArr] = inputs as [NDArray, NDArray];
    if (x.dtype !== 'bool') throw new InvalidArgumentError(`${type} takes bool input, got ${x.dtype}`, node.name);
    if (axesArr.rank > 1) throw new InvalidArgumentError(`reduction indices must be a scalar or vector, got ${formatShape(axesArr.shape)}`, node.name);
    const axes = reductionAxes(axesArr, x.rank);
    const red = new Set(axes);
    const outShape = attr<boolean>(node, 'keep_dims') ? x.shape.map((n, d) => (red.has(d) ? 1 : n)) : x.shape.filter((_, d) => !red.has(d));
    const out = outputs.alloc('bool', outShape);
    if (out.size === 0) return [out];
    const { data, outer, r, inner } = canonicalReduce(x, axes);
    reduceBool(all, data as Uint8Array, out.data as Uint8Array, outer, r, inner);
    return [out];
  });
}

function registerArgReduction(type: string, max: boolean): void {
  registerCpuKernel(type, (inputs, node: KernelNode, _state, outputs) => {
    const [x, dim] = inputs as [NDArray, NDArray];
    if (dim.size !== 1) throw new InvalidArgumentError(`dimension must be a scalar, got ${formatShape(dim.shape)}`);
    const rank = x.rank;
    const a = toNumbers(dim)[0]!;
    if (a < -rank || a >= rank) {
      throw new InvalidArgumentError(`Expected dimension in the range [${-rank}, ${rank}), but got ${a}`);
    }
    const axis = a < 0 ? a + rank : a;
    const r = x.shape[axis]!;
    const outType = attr<DType>(node, 'output_type') ?? 'int64';
    const out = outputs.alloc(outType, x.shape.filter((_, d) => d !== axis));
    if (out.size === 0) return [out];
    if (r === 0) throw new InvalidArgumentError(`Reduction axis ${axis} is empty in shape ${formatShape(x.shape)}`);
    const outer = numElements(x.shape.slice(0, axis));
    const inner = numElements(x.shape.slice(axis + 1));
    const xd = x.data as unknown as ArrayLike<number>;
    const best = new Int32Array(out.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * r * inner + i;
        let bi = 0;
        let bv = xd[base]!;
        for (let j = 1; j < r; j++) {
          const v = xd[base + j * inner]!;
          if (max ? v > bv : v < bv) {
            bv = v;
            bi = j;
          }
        }
        best[o * inner + i] = bi;
      }
    }
    if (outType === 'int64') {
      const od = out.data as BigInt64Array;
      for (let i = 0; i < best.length; i++) od[i] = BigInt(best[i]!);
    } else {
      (out.data as Int32Array).set(best);
    }
    return [out];
  });
}
registerArgReduction('ArgMax', true);
registerArgReduction('ArgMin', false);
