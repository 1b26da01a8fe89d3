// TF1 functions building the debug family's ops (issue 18): tf.Assert, tf.Print, tf.print,
// tf.debugging.assert* (TF 1.15's check_ops, with its messages), checkNumerics, identityN,
// ensureShape and the fake-quantization functions.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import { formatShape, type Shape } from '../core/shape.js';
import { Operation, Tensor, type Graph } from '../graph.js';
import { rank as rankOf, shape as shapeOf } from './array.js';
import { identity } from './core.js';
import { abs, add, cast, equal, greater, greaterEqual, less, lessEqual, multiply, notEqual, reduceAll, subtract } from './math.js';

/** TF's name_scope(name): fn gets the scope, which is also the exact name of the op it makes. */
function scoped<T>(name: string, values: readonly unknown[], fn: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => fn(scope, g)));
}

/** A data item of an Assert or Print: a tensor, or a string / number made a constant. */
type DataItem = TensorLike | string;

function dataTensors(data: readonly DataItem[]): Tensor[] {
  return data.map((d, i) => (typeof d === 'string' ? convertToTensor(d, 'string', `Const`, `data[${i}]`) : convertToTensor(d as TensorLike, undefined, 'Const', `data[${i}]`)));
}

// ---- Assert and Print ----

export interface AssertOptions {
  /** How many elements of each data tensor the message shows (TF default 3). */
  summarize?: number;
  name?: string;
}

/**
 * tf.Assert: an op that fails the run with InvalidArgumentError("assertion failed: [d0] [d1] ...")
 * when `condition` (a bool scalar) is false. Run it through tf.controlDependencies (or as a target).
 */
export function Assert(condition: TensorLike, data: readonly DataItem[], opts: AssertOptions = {}): Operation {
  return scoped(opts.name ?? 'Assert', [condition, ...data], (_scope, g) => {
    const c = convertToTensor(condition, 'bool', 'Condition', 'condition');
    const ds = dataTensors(data);
    return g.createOp('Assert', [c, ...ds], { T: ds.map((t) => t.dtype), summarize: opts.summarize ?? 3 }, { name: 'Assert' });
  });
}

export interface PrintOptions {
  /** Printed before the data. */
  message?: string;
  /** Print only the first n runs (per session); -1: every run. */
  firstN?: number;
  summarize?: number;
  name?: string;
}

/**
 * tf.Print (TF1): `input` itself, printing `message` and the data tensors to standard error each
 * time it is computed (message[d0][d1]..., elements as TF's SummarizeValue shows them).
 */
export function Print(input: TensorLike, data: readonly DataItem[], opts: PrintOptions = {}): Tensor {
  return scoped(opts.name ?? 'Print', [input, ...data], (scope, g) => {
    const x = convertToTensor(input, undefined, 'input', 'input_');
    const ds = dataTensors(data);
    const attrs = { T: x.dtype, U: ds.map((t) => t.dtype), message: opts.message ?? '', first_n: opts.firstN ?? -1, summarize: opts.summarize ?? 3 };
    return g.createOp('Print', [x, ...ds], attrs, { name: scope }).outputs[0]!;
  });
}

function isOptions(v: unknown): v is PrintOptions {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tensor) && !(v instanceof NDArray) && !ArrayBuffer.isView(v) && !('dtype' in v);
}

/**
 * tf.print, built on TF1's Print op (weir has no PrintV2): the leading strings become the message,
 * the rest (tensors, later strings) the printed data; an options object may come last. Returns the
 * op: run it through tf.controlDependencies or as a target. It prints "a b[x][y]" for
 * tf.print('a', 'b', x, y).
 */
export function print(...args: (DataItem | PrintOptions)[]): Operation {
  const opts = args.length && isOptions(args[args.length - 1]) ? (args.pop() as PrintOptions) : {};
  const items = args as DataItem[];
  let k = 0;
  const words: string[] = [];
  while (k < items.length && typeof items[k] === 'string') words.push(items[k++] as string);
  const data = items.slice(k);
  const message = (opts.message ?? '') + words.join(' ');
  return scoped(opts.name ?? 'print', data, () => {
    const ds = dataTensors(data);
    const input = ds[0] ?? convertToTensor(message, 'string', 'message');
    return Print(input, ds, { ...opts, message, name: 'Print' }).op;
  });
}

// ---- tf.debugging assertions (TF 1.15 check_ops) ----

export interface CheckOptions {
  /** Replaces the default data (TF: message, what failed, x's name and value, ...). */
  data?: readonly DataItem[];
  summarize?: number;
  message?: string;
  name?: string;
}

type Compare = (a: number, b: number) => boolean;
const COMPARE: Record<string, Compare> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

const numbers = (a: NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);

/**
 * TF 1.15's _assert_static: when both operands are known while building (same shape or one a
 * scalar), a false condition fails at once, with the data items as the message, one per line.
 */
function assertStatic(x: Tensor, y: Tensor, cmp: Compare, data: readonly DataItem[]): void {
  const [a, b] = [x.knownValue, y.knownValue];
  if (!a || !b || (a.size !== b.size && a.size !== 1 && b.size !== 1)) return;
  const [av, bv] = [numbers(a), numbers(b)];
  const n = Math.max(av.length, bv.length);
  for (let i = 0; i < n; i++) {
    if (cmp(av[av.length === 1 ? 0 : i]!, bv[bv.length === 1 ? 0 : i]!)) continue;
    const text = data.map((d) => {
      if (typeof d === 'string') return d;
      const v = d instanceof Tensor ? d.knownValue : undefined;
      return v ? `[${numbers(v).join(' ')}]` : String(d instanceof Tensor ? d.name : d);
    });
    throw new InvalidArgumentError(text.join('\n'));
  }
}

function binaryAssert(fnName: string, cmp: (x: Tensor, y: Tensor) => Tensor, symbol: string, x: TensorLike, y: TensorLike, opts: CheckOptions): Operation {
  return scoped(opts.name ?? fnName, [x, y], () => {
    const xt = convertToTensor(x, undefined, 'x', 'x');
    const yt = convertToTensor(y, xt.dtype, 'y', 'y');
    const data = opts.data ?? [opts.message ?? '', `Condition x ${symbol} y did not hold element-wise:`, `x (${xt.name}) = `, xt, `y (${yt.name}) = `, yt];
    assertStatic(xt, yt, COMPARE[symbol]!, data);
    return Assert(reduceAll(cmp(xt, yt)), data, { summarize: opts.summarize });
  });
}

/** Fails the run unless x == y everywhere (with broadcasting). */
export const assertEqual = (x: TensorLike, y: TensorLike, opts: CheckOptions = {}): Operation => binaryAssert('assert_equal', equal, '==', x, y, opts);
export const assertNotEqual = (x: TensorLike, y: TensorLike, opts: CheckOptions = {}): Operation => binaryAssert('assert_none_equal', notEqual, '!=', x, y, opts);
export const assertLess = (x: TensorLike, y: TensorLike, opts: CheckOptions = {}): Operation => binaryAssert('assert_less', less, '<', x, y, opts);
export const assertLessEqual = (x: TensorLike, y: TensorLike, opts: CheckOptions = {}): Operation => binaryAssert('assert_less_equal', lessEqual, '<=', x, y, opts);
export const assertGreater = (x: TensorLike, y: TensorLike, opts: CheckOptions = {}): Operation => binaryAssert('assert_greater', greater, '>', x, y, opts);
export const assertGreaterEqual = (x: TensorLike, y: TensorLike, opts: CheckOptions = {}): Operation =>
  binaryAssert('assert_greater_equal', greaterEqual, '>=', x, y, opts);

function signAssert(fnName: string, cmp: (x: Tensor, zero: Tensor) => Tensor, condition: string, x: TensorLike, opts: CheckOptions): Operation {
  return scoped(opts.name ?? fnName, [x], () => {
    const xt = convertToTensor(x, undefined, 'x', 'x');
    const zero = cast(0, xt.dtype);
    const data = opts.data ?? [opts.message ?? '', `Condition x ${condition} did not hold element-wise:`, `x (${xt.name}) = `, xt];
    assertStatic(xt, zero, COMPARE[condition.split(' ')[0]!]!, data);
    return Assert(reduceAll(cmp(xt, zero)), data, { summarize: opts.summarize });
  });
}

export const assertPositive = (x: TensorLike, opts: CheckOptions = {}): Operation => signAssert('assert_positive', greater, '> 0', x, opts);
export const assertNegative = (x: TensorLike, opts: CheckOptions = {}): Operation => signAssert('assert_negative', less, '< 0', x, opts);
export const assertNonNegative = (x: TensorLike, opts: CheckOptions = {}): Operation => signAssert('assert_non_negative', greaterEqual, '>= 0', x, opts);
export const assertNonPositive = (x: TensorLike, opts: CheckOptions = {}): Operation => signAssert('assert_non_positive', lessEqual, '<= 0', x, opts);

export interface NearOptions extends CheckOptions {
  /** Default 10 * float32 epsilon, as TF. */
  rtol?: number;
  atol?: number;
}

const FLOAT32_EPS = 2 ** -23;

/** Fails the run unless |x - y| <= atol + rtol * |y| everywhere. */
export function assertNear(x: TensorLike, y: TensorLike, opts: NearOptions = {}): Operation {
  return scoped(opts.name ?? 'assert_near', [x, y], () => {
    const xt = convertToTensor(x, undefined, 'x', 'x');
    const yt = convertToTensor(y, xt.dtype, 'y', 'y');
    const rtol = opts.rtol ?? 10 * FLOAT32_EPS;
    const atol = opts.atol ?? 10 * FLOAT32_EPS;
    const data = opts.data ?? [opts.message ?? '', `x and y not equal to tolerance rtol = ${rtol}, atol = ${atol}`, `x (${xt.name}) = `, xt, `y (${yt.name}) = `, yt];
    const ok = lessEqual(abs(subtract(xt, yt)), add(atol, multiply(rtol, abs(yt))));
    return Assert(reduceAll(ok), data, { summarize: opts.summarize });
  });
}

/**
 * Checks x's rank: at graph construction when it is static (a ValueError-like
 * InvalidArgumentError, and a NoOp is returned), else an Assert on tf.rank(x) at run time.
 */
export function assertRank(x: TensorLike, rank: number, opts: CheckOptions = {}): Operation {
  return scoped(opts.name ?? 'assert_rank', [x], (_scope, g) => {
    const xt = convertToTensor(x, undefined, 'x', 'x');
    if (xt.rank !== null) {
      if (xt.rank !== rank) {
        throw new InvalidArgumentError(`${opts.message ?? ''}.  Tensor ${xt.name} must have rank ${rank}.  Received rank ${xt.rank}, shape ${formatShape(xt.shape)}`);
      }
      return g.createOp('NoOp', [], {}, { name: 'static_checks_determined_all_ok' });
    }
    const data = opts.data ?? [opts.message ?? '', `Tensor ${xt.name} must have rank`, rank, 'Received shape: ', shapeOf(xt)];
    return Assert(equal(rankOf(xt), rank), data, { summarize: opts.summarize });
  });
}

/** Checks a tensor's dtype when the graph is built (TF raises TypeError); returns a NoOp. */
export function assertType(tensor: Tensor, tfType: DType, opts: { message?: string; name?: string } = {}): Operation {
  if (tensor.dtype !== tfType) {
    throw new InvalidArgumentError(`${opts.message ? `${opts.message} ` : ''}${tensor.name} must be of type ${tfType}; got ${tensor.dtype}`);
  }
  return scoped(opts.name ?? 'assert_type', [tensor], (_scope, g) => g.createOp('NoOp', [], {}, { name: 'statically_determined_correct_type' }));
}

// ---- numerics ----

/** tf.checkNumerics: `tensor`, failing the run with "<message> : Tensor had NaN values" (Inf, Inf and NaN). */
export function checkNumerics(tensor: TensorLike, message: string, name = 'CheckNumerics'): Tensor {
  return scoped(name, [tensor], (scope, g) => {
    const t = convertToTensor(tensor, undefined, 'tensor', 'tensor');
    return g.createOp('CheckNumerics', [t], { T: t.dtype, message }, { name: scope }).outputs[0]!;
  });
}

/** tf.verify_tensor_all_finite (TF1): t, after a CheckNumerics of it has run. */
export function verifyTensorAllFinite(t: TensorLike, msg: string, name = 'VerifyFinite'): Tensor {
  return scoped(name, [t], (_scope, g) => {
    const x = convertToTensor(t, undefined, 't', 't');
    const check = checkNumerics(x, msg);
    return g.controlDependencies([check], () => identity(x));
  });
}

// ---- identities and shapes ----

/** tf.identity_n: the tensors themselves, as one op (IdentityN). */
export function identityN(inputs: readonly TensorLike[], name = 'IdentityN'): Tensor[] {
  return scoped(name, inputs, (scope, g) => {
    const ts = inputs.map((x, i) => convertToTensor(x, undefined, 'input', `input[${i}]`));
    return g.createOp('IdentityN', ts, { T: ts.map((t) => t.dtype) }, { name: scope }).outputs;
  });
}

/** tf.shape_n: the shapes of several tensors, as one op (ShapeN). */
export function shapeN(inputs: readonly TensorLike[], outType: 'int32' | 'int64' = 'int32', name = 'ShapeN'): Tensor[] {
  return scoped(name, inputs, (scope, g) => {
    const ts = inputs.map((x, i) => convertToTensor(x, undefined, 'input', `input[${i}]`));
    const dtype = ts[0]?.dtype ?? 'float32';
    if (ts.some((t) => t.dtype !== dtype)) throw new InvalidArgumentError(`tf.shapeN: the inputs must share a dtype, got ${ts.map((t) => t.dtype).join(', ')}`);
    return g.createOp('ShapeN', ts, { N: ts.length, T: dtype, out_type: outType }, { name: scope }).outputs;
  });
}

/** tf.ensure_shape: x, whose shape is checked against `shape` (null dims match anything) at build and run time. */
export function ensureShape(x: TensorLike, shape: Shape, name = 'EnsureShape'): Tensor {
  return scoped(name, [x], (scope, g) => {
    const t = convertToTensor(x, undefined, 'x', 'x');
    return g.createOp('EnsureShape', [t], { T: t.dtype, shape }, { name: scope }).outputs[0]!;
  });
}

// ---- fake quantization (tf.quantization) ----

export interface FakeQuantOptions {
  numBits?: number;
  narrowRange?: boolean;
  name?: string;
}

/**
 * tf.quantization.fake_quant_with_min_max_args: inputs clamped to [min, max] (nudged so 0 is
 * representable) and rounded to 2^numBits levels; the gradient passes through inside the range.
 */
export function fakeQuantWithMinMaxArgs(inputs: TensorLike, opts: FakeQuantOptions & { min?: number; max?: number } = {}): Tensor {
  return scoped(opts.name ?? 'FakeQuantWithMinMaxArgs', [inputs], (scope, g) => {
    const x = convertToTensor(inputs, 'float32', 'inputs', 'inputs');
    const attrs = { min: opts.min ?? -6, max: opts.max ?? 6, num_bits: opts.numBits ?? 8, narrow_range: opts.narrowRange ?? false };
    return g.createOp('FakeQuantWithMinMaxArgs', [x], attrs, { name: scope }).outputs[0]!;
  });
}

/** tf.quantization.fake_quant_with_min_max_vars: as the Args form, with min and max scalar tensors (trainable). */
export function fakeQuantWithMinMaxVars(inputs: TensorLike, min: TensorLike, max: TensorLike, opts: FakeQuantOptions = {}): Tensor {
  return scoped(opts.name ?? 'FakeQuantWithMinMaxVars', [inputs, min, max], (scope, g) => {
    const x = convertToTensor(inputs, 'float32', 'inputs', 'inputs');
    const lo = convertToTensor(min, 'float32', 'min', 'min');
    const hi = convertToTensor(max, 'float32', 'max', 'max');
    return g.createOp('FakeQuantWithMinMaxVars', [x, lo, hi], { num_bits: opts.numBits ?? 8, narrow_range: opts.narrowRange ?? false }, { name: scope }).outputs[0]!;
  });
}
