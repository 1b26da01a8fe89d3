/**
 * The mapping from weir's (TensorFlow's) op types to ONNX: one emitter per op type, writing the
 * ONNX nodes that compute the op's outputs from its inputs' Values. Convolutions and poolings are
 * NHWC in TensorFlow and NCHW in ONNX: their Values carry the NCHW form, elementwise ops on such a
 * Value stay NCHW, and a Transpose back is written only where an op reads the NHWC form, so a
 * conv -> bias -> relu -> pool chain has one Transpose in and one out.
 */
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import type { Shape } from '../core/shape.js';
import type { AttrValue, Operation } from '../graph.js';
import { masksOf } from '../../ops/semantics/array.js';
import { layoutDims, readWindowAttrs, windowedOutputSize, type DataFormat, type WindowAttrs } from '../../ops/semantics/window.js';
import { float, NHWC_TO_NCHW, numbers, onnxDType, scalarArray, tensorProto, transposeArray, type AttrSpec, type OnnxBuilder, type Value } from './builder.js';

export interface EmitContext {
  readonly b: OnnxBuilder;
  readonly op: Operation;
  readonly ins: readonly Value[];
  /** Whether input `i`'s tensor is read by this op alone in the exported graph. */
  readonly soleReader: (i: number) => boolean;
}

export interface OpMapping {
  /** Values of the op's outputs (undefined for an output nothing exported reads). */
  emit(ctx: EmitContext): (Value | undefined)[];
  /** Inputs that must be constants of the exported model (axes, permutations, paddings, filters). */
  knownInputs?: (op: Operation) => readonly number[];
  /** Why this op, with its attrs, cannot be exported; undefined when it can. */
  check?: (op: Operation) => string | undefined;
}

const BIG = Number.MAX_SAFE_INTEGER;

// ---- helpers ----

const attr = <T extends AttrValue>(op: Operation, name: string, dflt: T): T => (op.hasAttr(name) ? (op.attrs[name] as T) : dflt);
const base = (op: Operation, i = 0): string => `${op.name}:${i}`;
const outOf = (op: Operation, i = 0): { dtype: DType; shape: Shape } => ({ dtype: op.outputs[i]!.dtype, shape: op.outputs[i]!.shape });
const plain = (ctx: EmitContext, name: string, i = 0): Value => ctx.b.value(name, ctx.op.outputs[i]!.dtype, ctx.op.outputs[i]!.shape);
const knownOf = (v: Value): NDArray => {
  if (!v.known) throw new InvalidArgumentError('ONNX export: internal: a constant input is not known');
  return v.known;
};
const scalarOf = (v: Value): number => numbers(knownOf(v))[0]!;
const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** The NCHW form of a rank-4 NHWC Value. */
function nchwOf(b: OnnxBuilder, v: Value): string {
  if (v.nchw) return v.nchw();
  if (v.known) return b.constant(transposeArray(v.known, NHWC_TO_NCHW), 'const_nchw');
  return b.transpose(v.name(), NHWC_TO_NCHW);
}

/** An int64 ONNX value from an integer Value (a constant becomes an int64 initializer; else a Cast). */
function int64Of(b: OnnxBuilder, v: Value): string {
  if (v.known) return b.int64(numbers(v.known), v.known.shape);
  if (v.dtype === 'int64') return v.name();
  return b.one('Cast', [v.name()], { to: onnxDType('int64', 'a cast') });
}

function cast(b: OnnxBuilder, name: string, to: DType): string {
  return b.one('Cast', [name], { to: onnxDType(to, 'a cast') });
}

/**
 * A constant that broadcasts against an NHWC tensor along the channel axis only (a scalar, a
 * vector of channels, [1, 1, 1, C]), as it broadcasts against the NCHW form: [C, 1, 1].
 */
function channelConstant(v: Value): NDArray | undefined {
  const k = v.known;
  if (!k || k.rank > 4) return undefined;
  if (k.rank === 0) return k;
  if (!k.shape.slice(0, -1).every((d) => d === 1)) return undefined;
  const c = k.shape[k.rank - 1]!;
  return new NDArray(k.data, [c, 1, 1], k.dtype);
}

/**
 * An elementwise op written by `build` over its inputs' ONNX names: on NCHW forms when an input
 * has one and every other input is one too or a channel constant, else in TensorFlow's layout.
 */
function elementwise(ctx: EmitContext, build: (names: string[], base: string) => string): Value[] {
  const { b, op, ins } = ctx;
  const { dtype, shape } = outOf(op);
  const bname = base(op);
  if (shape?.length === 4 && ins.some((v) => v.nchw) && ins.every((v) => v.nchw || channelConstant(v))) {
    const names = ins.map((v) => (v.nchw ? v.nchw() : b.constant(channelConstant(v)!, 'const_channel')));
    return [b.nchwValue(build(names, bname), dtype, shape, bname)];
  }
  return [b.value(build(ins.map((v) => v.name()), bname), dtype, shape)];
}

const direct = (onnxOp: string, attrs: (op: Operation) => Record<string, AttrSpec> = () => ({})): OpMapping => ({
  emit: (ctx) => elementwise(ctx, (names, bn) => ctx.b.one(onnxOp, names, attrs(ctx.op), bn)),
});

const composite = (build: (b: OnnxBuilder, names: string[], op: Operation, bn: string) => string): OpMapping => ({
  emit: (ctx) => elementwise(ctx, (names, bn) => build(ctx.b, names, ctx.op, bn)),
});

const inputDType = (op: Operation, i = 0): DType => op.inputs[i]!.dtype;

// ---- window ops ----

function windowAttrs(op: Operation, opts: { dilations?: boolean; explicit?: boolean; listName?: string }): WindowAttrs {
  return readWindowAttrs(
    (n) => (op.hasAttr(n) ? op.attrs[n] : undefined),
    (m) => {
      throw new InvalidArgumentError(`ONNX export: ${op.type} op '${op.name}': ${m}`, op.name);
    },
    opts,
  );
}

/** ONNX's pads for TensorFlow's padding of the input `inShape` (TF layout): from static sizes, else SAME_UPPER. */
function padsFor(inShape: Shape, format: DataFormat, wa: WindowAttrs, kernel: readonly [number, number]): Record<string, AttrSpec> {
  if (wa.padding === 'VALID') return { pads: [0, 0, 0, 0] };
  if (wa.padding === 'EXPLICIT') return { pads: [wa.explicit[0][0], wa.explicit[1][0], wa.explicit[0][1], wa.explicit[1][1]] };
  const d = layoutDims(format);
  const sizes = [inShape?.[d.h], inShape?.[d.w]];
  if (sizes.some((s) => typeof s !== 'number')) return { auto_pad: 'SAME_UPPER' };
  const before: number[] = [];
  const after: number[] = [];
  for (let k = 0; k < 2; k++) {
    const r = windowedOutputSize(sizes[k] as number, kernel[k]!, wa.dilations[k]!, wa.strides[k]!, 'SAME');
    if (typeof r === 'string') throw new InvalidArgumentError(`ONNX export: ${r}`);
    const total = Math.max(0, (r.size - 1) * wa.strides[k]! + (kernel[k]! - 1) * wa.dilations[k]! + 1 - (sizes[k] as number));
    before.push(r.padBefore);
    after.push(total - r.padBefore);
  }
  return { pads: [...before, ...after] };
}

/** The input in ONNX's NCHW layout, and how to hand back a result in the op's layout. */
function layoutIn(ctx: EmitContext, format: DataFormat): { x: string; result: (y: string, addBias?: (bias: string) => void) => Value } {
  const { b, op, ins } = ctx;
  const { dtype, shape } = outOf(op);
  if (format === 'NCHW') return { x: ins[0]!.name(), result: (y) => b.value(y, dtype, shape) };
  return { x: nchwOf(b, ins[0]!), result: (y, addBias) => b.nchwValue(y, dtype, shape, base(op), addBias) };
}

function conv(depthwise: boolean): OpMapping {
  return {
    knownInputs: () => [1],
    emit(ctx) {
      const { b, op, ins } = ctx;
      const wa = windowAttrs(op, { dilations: true, explicit: true });
      const f = knownOf(ins[1]!);
      const [kh, kw, cin, m] = f.shape as [number, number, number, number];
      const weights = depthwise ? new NDArray(transposeArray(f, [2, 3, 0, 1]).data, [cin * m, 1, kh, kw], f.dtype) : transposeArray(f, [3, 2, 0, 1]);
      const { x, result } = layoutIn(ctx, wa.format);
      const attrs = { kernel_shape: [kh, kw], strides: wa.strides, dilations: wa.dilations, group: depthwise ? cin : 1, ...padsFor(ins[0]!.shape, wa.format, wa, [kh, kw]) };
      const y = b.one('Conv', [x, b.constant(weights, `${op.name}/weights`)], attrs, base(op));
      const node = b.lastNode();
      return [result(y, (bias) => node.input.push(bias))];
    },
  };
}

const conv2dBackpropInput: OpMapping = {
  // Only the input's spatial sizes matter, and they are static even when input_sizes is computed
  // from a run-time batch (tf.layers.conv2dTranspose builds it with tf.shape).
  knownInputs: () => [1],
  emit(ctx) {
    const { b, op, ins } = ctx;
    const wa = windowAttrs(op, { dilations: true, explicit: true });
    const f = knownOf(ins[1]!);
    const [kh, kw] = f.shape as [number, number];
    const d = layoutDims(wa.format);
    const sizes = ins[0]!.known ? numbers(ins[0]!.known) : (op.outputs[0]!.shape ?? []).map((n) => n ?? -1);
    if (!(sizes[d.h]! >= 0 && sizes[d.w]! >= 0)) throw new InvalidArgumentError(`ONNX export: ${op.name}: the input's height and width must be known`, op.name);
    const dy = ins[2]!;
    const inSizes = [dy.shape?.[d.h], dy.shape?.[d.w]];
    if (inSizes.some((s) => typeof s !== 'number')) throw new InvalidArgumentError(`ONNX export: ${op.name}: out_backprop needs static spatial dims`, op.name);
    const pads: number[] = [0, 0, 0, 0];
    const outputPadding: number[] = [];
    const kernel = [kh, kw];
    for (let k = 0; k < 2; k++) {
      const size = sizes[k === 0 ? d.h : d.w]!;
      const r = windowedOutputSize(size, kernel[k]!, wa.dilations[k]!, wa.strides[k]!, wa.padding, wa.explicit[k]!);
      if (typeof r === 'string') throw new InvalidArgumentError(`ONNX export: ${op.name}: ${r}`, op.name);
      const eff = (kernel[k]! - 1) * wa.dilations[k]! + 1;
      const total = wa.padding === 'VALID' ? 0 : wa.padding === 'EXPLICIT' ? wa.explicit[k]![0] + wa.explicit[k]![1] : Math.max(0, (r.size - 1) * wa.strides[k]! + eff - size);
      pads[k] = r.padBefore;
      pads[k + 2] = total - r.padBefore;
      outputPadding.push(size - ((inSizes[k] as number) - 1) * wa.strides[k]! - eff + total);
    }
    const ctxDy = { ...ctx, ins: [dy] };
    const { x, result } = layoutIn(ctxDy, wa.format);
    const attrs = { kernel_shape: kernel, strides: wa.strides, dilations: wa.dilations, pads, output_padding: outputPadding };
    return [result(b.one('ConvTranspose', [x, b.constant(transposeArray(f, [3, 2, 0, 1]), `${op.name}/weights`)], attrs, base(op)))];
  },
};

function pool(onnxOp: 'MaxPool' | 'AveragePool'): OpMapping {
  return {
    emit(ctx) {
      const { b, op, ins } = ctx;
      const wa = windowAttrs(op, {});
      const kernel = windowAttrs(op, { listName: 'ksize' }).strides;
      const { x, result } = layoutIn(ctx, wa.format);
      const attrs: Record<string, AttrSpec> = { kernel_shape: kernel, strides: wa.strides, ...padsFor(ins[0]!.shape, wa.format, wa, kernel) };
      if (onnxOp === 'AveragePool') attrs.count_include_pad = 0;
      return [result(b.one(onnxOp, [x], attrs, base(op)))];
    },
  };
}

const fusedBatchNorm: OpMapping = {
  check: (op) => (attr(op, 'is_training', true) ? 'is_training=true (batch statistics): only the inference form exports' : undefined),
  emit(ctx) {
    const { b, op, ins } = ctx;
    const { x, result } = layoutIn(ctx, attr(op, 'data_format', 'NHWC') as DataFormat);
    const y = b.one('BatchNormalization', [x, ...ins.slice(1, 5).map((v) => v.name())], { epsilon: float(attr(op, 'epsilon', 0.0001)) }, base(op));
    return [result(y)];
  },
};

const biasAdd: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const [x, bias] = ins as [Value, Value];
    const format = attr<string>(op, 'data_format', 'NHWC');
    if (format === 'NCHW') {
      const rank = x.shape?.length;
      if (rank === undefined) throw new InvalidArgumentError(`ONNX export: ${op.name}: BiasAdd NCHW needs the input's rank`, op.name);
      const trailing = Array.from({ length: rank - 2 }, () => 1);
      const c = bias.known ? b.constant(new NDArray(bias.known.data, [bias.known.size, ...trailing], bias.dtype), 'const_bias') : b.one('Reshape', [bias.name(), b.int64([-1, ...trailing])]);
      return [plain(ctx, b.one('Add', [x.name(), c], {}, base(op)))];
    }
    if (x.addBias && bias.shape?.length === 1 && ctx.soleReader(0)) {
      x.addBias(bias.name());
      return [{ dtype: x.dtype, shape: outOf(op).shape, name: x.name, ...(x.nchw ? { nchw: x.nchw } : {}) }];
    }
    return elementwise(ctx, (names, bn) => b.one('Add', names, {}, bn));
  },
};

// ---- matrix products ----

/** `v` with its last two axes swapped. */
function swapLast(b: OnnxBuilder, v: Value, what: string): string {
  const rank = v.shape?.length;
  if (rank === undefined) throw new InvalidArgumentError(`ONNX export: ${what}: a transposed operand needs a known rank`);
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return v.known ? b.constant(transposeArray(v.known, perm), 'const_t') : b.transpose(v.name(), perm);
}

function matmul(ta: string, tb: string): OpMapping {
  return {
    emit(ctx) {
      const { b, op, ins } = ctx;
      const a = attr(op, ta, false) ? swapLast(b, ins[0]!, op.name) : ins[0]!.name();
      const c = attr(op, tb, false) ? swapLast(b, ins[1]!, op.name) : ins[1]!.name();
      return [plain(ctx, b.one('MatMul', [a, c], {}, base(op)))];
    },
  };
}

// ---- shapes and indexing ----

const reshape: OpMapping = {
  emit: (ctx) => [plain(ctx, ctx.b.one('Reshape', [ctx.ins[0]!.name(), int64Of(ctx.b, ctx.ins[1]!)], { allowzero: 1 }, base(ctx.op)))],
};

function unsqueeze(b: OnnxBuilder, x: string, axes: readonly number[], bn?: string): string {
  return b.one('Unsqueeze', [x, b.int64(axes)], {}, bn);
}

function squeeze(b: OnnxBuilder, x: string, axes: readonly number[], bn?: string): string {
  return b.one('Squeeze', axes.length ? [x, b.int64(axes)] : [x], {}, bn);
}

/** ONNX Split of `x` into `n` parts along `axis` (sizes given or equal). */
function split(b: OnnxBuilder, x: string, axis: number, n: number, sizes: readonly number[] | undefined, bn: string): string[] {
  const attrs: Record<string, AttrSpec> = { axis };
  if (sizes) return b.node('Split', [x, b.int64(sizes)], attrs, { base: bn, outputs: n });
  if (b.opset >= 18) attrs.num_outputs = n;
  return b.node('Split', [x], attrs, { base: bn, outputs: n });
}

function concat(axisInput: 'first' | 'last'): OpMapping {
  return {
    knownInputs: (op) => [axisInput === 'first' ? 0 : op.inputs.length - 1],
    emit(ctx) {
      const { b, op, ins } = ctx;
      const axisV = axisInput === 'first' ? ins[0]! : ins[ins.length - 1]!;
      const values = axisInput === 'first' ? ins.slice(1) : ins.slice(0, -1);
      const axis = scalarOf(axisV);
      if (values.length === 1) return [values[0]];
      return [plain(ctx, b.one('Concat', values.map((v) => v.name()), { axis }, base(op)))];
    },
  };
}

const pack: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const axis = attr(op, 'axis', 0);
    const parts = ins.map((v) => unsqueeze(b, v.name(), [axis]));
    return [plain(ctx, parts.length === 1 ? parts[0]! : b.one('Concat', parts, { axis }, base(op)))];
  },
};

const unpack: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const n = attr(op, 'num', op.outputs.length);
    const axis = attr(op, 'axis', 0);
    const parts = n === 1 ? [ins[0]!.name()] : split(b, ins[0]!.name(), axis, n, undefined, `${op.name}/split`);
    return parts.map((p, i) => plain(ctx, squeeze(b, p, [axis], base(op, i)), i));
  },
};

function reduce(onnxOp: string): OpMapping {
  return {
    knownInputs: () => [1],
    emit(ctx) {
      const { b, op, ins } = ctx;
      const axes = numbers(knownOf(ins[1]!));
      if (axes.length === 0) return [ins[0]];
      const keepdims = attr(op, 'keep_dims', false) ? 1 : 0;
      const boolean = ins[0]!.dtype === 'bool';
      let x = ins[0]!.name();
      if (boolean) x = cast(b, x, 'int32');
      const y = onnxOp === 'ReduceSum' || b.opset >= 18 ? b.one(onnxOp, [x, b.int64(axes)], { keepdims }, base(op)) : b.one(onnxOp, [x], { axes, keepdims }, base(op));
      return [plain(ctx, boolean ? cast(b, y, 'bool') : y)];
    },
  };
}

function argReduce(onnxOp: 'ArgMax' | 'ArgMin'): OpMapping {
  return {
    knownInputs: () => [1],
    emit(ctx) {
      const { b, op, ins } = ctx;
      const y = b.one(onnxOp, [ins[0]!.name()], { axis: scalarOf(ins[1]!), keepdims: 0 }, base(op));
      return [plain(ctx, op.outputs[0]!.dtype === 'int64' ? y : cast(b, y, op.outputs[0]!.dtype))];
    },
  };
}

const shapeLike = (onnxOp: 'Shape' | 'Size'): OpMapping => ({
  emit(ctx) {
    const { b, op, ins } = ctx;
    const y = b.one(onnxOp, [ins[0]!.name()], {}, base(op));
    return [plain(ctx, op.outputs[0]!.dtype === 'int64' ? y : cast(b, y, op.outputs[0]!.dtype))];
  },
});

const slice: OpMapping = {
  knownInputs: () => [1, 2],
  emit(ctx) {
    const { b, op, ins } = ctx;
    const begin = numbers(knownOf(ins[1]!));
    const size = numbers(knownOf(ins[2]!));
    const ends = begin.map((s, i) => (size[i] === -1 ? BIG : s + size[i]!));
    const axes = begin.map((_, i) => i);
    return [plain(ctx, b.one('Slice', [ins[0]!.name(), b.int64(begin), b.int64(ends), b.int64(axes)], {}, base(op)))];
  },
};

const stridedSlice: OpMapping = {
  knownInputs: () => [1, 2, 3],
  check: (op) => (op.inputs[0]!.shape === null ? 'an input of unknown rank' : undefined),
  emit(ctx) {
    const { b, op, ins } = ctx;
    const begin = numbers(knownOf(ins[1]!));
    const end = numbers(knownOf(ins[2]!));
    const strides = numbers(knownOf(ins[3]!));
    const m = masksOf(op.attrs);
    const rank = ins[0]!.shape!.length;
    const bit = (mask: number, i: number): boolean => (mask & (1 << i)) !== 0;
    const regular = strides.filter((_, i) => !bit(m.ellipsisMask, i) && !bit(m.newAxisMask, i)).length;
    const starts: number[] = [];
    const ends: number[] = [];
    const axes: number[] = [];
    const steps: number[] = [];
    const shrink: number[] = [];
    const newAxes: number[] = [];
    let dim = 0;
    let out = 0;
    for (let i = 0; i < strides.length; i++) {
      if (bit(m.ellipsisMask, i)) {
        const whole = rank - regular;
        dim += whole;
        out += whole;
      } else if (bit(m.newAxisMask, i)) {
        newAxes.push(out++);
      } else if (bit(m.shrinkAxisMask, i)) {
        starts.push(begin[i]!);
        ends.push(begin[i] === -1 ? BIG : begin[i]! + 1);
        axes.push(dim);
        steps.push(1);
        shrink.push(dim++);
      } else {
        const s = strides[i]!;
        starts.push(bit(m.beginMask, i) ? (s > 0 ? 0 : BIG) : begin[i]!);
        ends.push(bit(m.endMask, i) ? (s > 0 ? BIG : -BIG) : end[i]!);
        axes.push(dim++);
        steps.push(s);
        out++;
      }
    }
    let y = ins[0]!.name();
    if (axes.length) y = b.one('Slice', [y, b.int64(starts), b.int64(ends), b.int64(axes), b.int64(steps)], {}, `${op.name}/slice`);
    if (shrink.length) y = squeeze(b, y, shrink);
    if (newAxes.length) y = unsqueeze(b, y, newAxes);
    if (y === ins[0]!.name()) y = b.one('Identity', [y], {}, base(op));
    return [plain(ctx, y)];
  },
};

const gather = (axisInput: number | undefined): OpMapping => ({
  knownInputs: () => (axisInput === undefined ? [] : [axisInput]),
  check: (op) => (attr(op, 'batch_dims', 0) !== 0 ? 'batch_dims other than 0' : undefined),
  emit(ctx) {
    const { b, op, ins } = ctx;
    const axis = axisInput === undefined ? 0 : scalarOf(ins[axisInput]!);
    return [plain(ctx, b.one('Gather', [ins[0]!.name(), ins[1]!.name()], { axis }, base(op)))];
  },
});

const gatherNd: OpMapping = {
  emit: (ctx) => [plain(ctx, ctx.b.one('GatherND', [ctx.ins[0]!.name(), int64Of(ctx.b, ctx.ins[1]!)], {}, base(ctx.op)))],
};

function pad(mode: 'constant' | 'mirror'): OpMapping {
  return {
    knownInputs: () => [1],
    check: (op) => (mode === 'mirror' && attr(op, 'mode', 'REFLECT') !== 'REFLECT' ? `mode ${String(attr(op, 'mode', ''))} (ONNX pads by reflection or edge, not symmetrically)` : undefined),
    emit(ctx) {
      const { b, op, ins } = ctx;
      const p = numbers(knownOf(ins[1]!));
      const n = p.length / 2;
      const pads = [...Array.from({ length: n }, (_, i) => p[2 * i]!), ...Array.from({ length: n }, (_, i) => p[2 * i + 1]!)];
      const inputs = [ins[0]!.name(), b.int64(pads)];
      if (mode === 'constant' && ins[2]) inputs.push(ins[2].name());
      return [plain(ctx, b.one('Pad', inputs, { mode: mode === 'mirror' ? 'reflect' : 'constant' }, base(op)))];
    },
  };
}

const transpose: OpMapping = {
  knownInputs: () => [1],
  emit(ctx) {
    const { b, op, ins } = ctx;
    const perm = numbers(knownOf(ins[1]!));
    const x = ins[0]!;
    if (x.nchw && perm.join() === '0,3,1,2') return [plain(ctx, b.one('Identity', [x.nchw()], {}, base(op)))];
    return [plain(ctx, b.transpose(x.name(), perm, base(op)))];
  },
};

const expandDims: OpMapping = {
  knownInputs: () => [1],
  emit: (ctx) => [plain(ctx, unsqueeze(ctx.b, ctx.ins[0]!.name(), [scalarOf(ctx.ins[1]!)], base(ctx.op)))],
};

const squeezeOp: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const dims = attr(op, 'squeeze_dims', [] as readonly number[]) as readonly number[];
    return [plain(ctx, squeeze(b, ins[0]!.name(), dims, base(op)))];
  },
};

const splitOp = (kind: 'Split' | 'SplitV'): OpMapping => ({
  knownInputs: () => (kind === 'Split' ? [0] : [1, 2]),
  emit(ctx) {
    const { b, op, ins } = ctx;
    const n = op.outputs.length;
    const value = kind === 'Split' ? ins[1]! : ins[0]!;
    const rank = value.shape?.length ?? 0;
    const axis = normAxis(scalarOf(kind === 'Split' ? ins[0]! : ins[2]!), rank);
    let sizes: number[] | undefined;
    if (kind === 'SplitV') {
      sizes = numbers(knownOf(ins[1]!));
      const unknown = sizes.indexOf(-1);
      if (unknown >= 0) {
        const dim = value.shape?.[axis];
        if (typeof dim !== 'number') throw new InvalidArgumentError(`ONNX export: ${op.name}: a size of -1 needs a static dim ${axis}`, op.name);
        sizes[unknown] = dim - sizes.reduce((s, x, i) => (i === unknown ? s : s + x), 0);
      }
    }
    if (n === 1) return [plain(ctx, b.one('Identity', [value.name()], {}, base(op)))];
    return split(b, value.name(), axis, n, sizes, op.name).map((name, i) => plain(ctx, name, i));
  },
});

const tile: OpMapping = {
  emit: (ctx) => [plain(ctx, ctx.b.one('Tile', [ctx.ins[0]!.name(), int64Of(ctx.b, ctx.ins[1]!)], {}, base(ctx.op)))],
};

const fill: OpMapping = {
  emit: (ctx) => [plain(ctx, ctx.b.one('Expand', [ctx.ins[1]!.name(), int64Of(ctx.b, ctx.ins[0]!)], {}, base(ctx.op)))],
};

const broadcastTo: OpMapping = {
  emit: (ctx) => [plain(ctx, ctx.b.one('Expand', [ctx.ins[0]!.name(), int64Of(ctx.b, ctx.ins[1]!)], {}, base(ctx.op)))],
};

function likeConstant(value: number): OpMapping {
  return {
    emit(ctx) {
      const { b, op, ins } = ctx;
      const shape = b.one('Shape', [ins[0]!.name()]);
      const t = scalarArray(value, op.outputs[0]!.dtype);
      const tensor = tensorProto(new NDArray(t.data, [1], t.dtype), undefined, op.name);
      return [plain(ctx, b.one('ConstantOfShape', [shape], { value: { tensor } }, base(op)))];
    },
  };
}

const range: OpMapping = {
  emit: (ctx) => [plain(ctx, ctx.b.one('Range', ctx.ins.map((v) => v.name()), {}, base(ctx.op)))],
};

function select(v1: boolean): OpMapping {
  return {
    emit(ctx) {
      const { b, op, ins } = ctx;
      let cond = ins[0]!.name();
      const rank = ins[1]!.shape?.length;
      if (v1 && ins[0]!.shape?.length === 1 && rank !== undefined && rank > 1) {
        cond = unsqueeze(b, cond, Array.from({ length: rank - 1 }, (_, i) => i + 1));
      }
      return [plain(ctx, b.one('Where', [cond, ins[1]!.name(), ins[2]!.name()], {}, base(op)))];
    },
  };
}

const castOp: OpMapping = {
  emit: (ctx) => elementwise(ctx, ([x], bn) => ctx.b.one('Cast', [x!], { to: onnxDType(ctx.op.outputs[0]!.dtype, ctx.op.name) }, bn)),
};

function softmax(onnxOp: 'Softmax' | 'LogSoftmax'): OpMapping {
  return { emit: (ctx) => [plain(ctx, ctx.b.one(onnxOp, [ctx.ins[0]!.name()], { axis: -1 }, base(ctx.op)))] };
}

const einsum: OpMapping = {
  emit: (ctx) => [plain(ctx, ctx.b.one('Einsum', ctx.ins.map((v) => v.name()), { equation: String(attr(ctx.op, 'equation', '')) }, base(ctx.op)))],
};

const topK: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    // TopKV2 takes k as an input, TopK as an attr.
    const kv = op.type === 'TopK' ? undefined : ins[1]!;
    const k = !kv ? b.int64([attr(op, 'k', 1)]) : kv.known ? b.int64([scalarOf(kv)]) : unsqueeze(b, int64Of(b, kv), [0]);
    const [values, indices] = b.node('TopK', [ins[0]!.name(), k], { axis: -1, largest: 1, sorted: 1 }, { base: op.name, outputs: 2 });
    const idx = op.outputs[1]!.dtype === 'int64' ? indices! : cast(b, indices!, op.outputs[1]!.dtype);
    return [plain(ctx, values!, 0), plain(ctx, idx, 1)];
  },
};

const cumsum: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const attrs = { exclusive: attr(op, 'exclusive', false) ? 1 : 0, reverse: attr(op, 'reverse', false) ? 1 : 0 };
    return [plain(ctx, b.one('CumSum', [ins[0]!.name(), ins[1]!.name()], attrs, base(op)))];
  },
};

const oneHot: OpMapping = {
  knownInputs: () => [1],
  emit(ctx) {
    const { b, op, ins } = ctx;
    const depth = scalarOf(ins[1]!);
    const idx = int64Of(b, ins[0]!);
    // TensorFlow gives a row of off values for a negative index, ONNX counts it from the end.
    const inRange = b.one('Where', [b.one('Less', [idx, b.scalar(0, 'int64')]), b.scalar(depth, 'int64'), idx]);
    // ONNX Runtime has OneHot for int64 indices and depth with float32 or int64 values.
    const { dtype } = outOf(op);
    const valueType = dtype === 'float32' ? dtype : 'int64';
    const as = (v: Value): string => (v.dtype === valueType ? v.name() : cast(b, v.name(), valueType));
    const values = b.one('Concat', [unsqueeze(b, as(ins[3]!), [0]), unsqueeze(b, as(ins[2]!), [0])], { axis: 0 });
    const y = b.one('OneHot', [inRange, b.int64([depth], []), values], { axis: attr(op, 'axis', -1) }, base(op));
    return [plain(ctx, dtype === valueType ? y : cast(b, y, dtype))];
  },
};

const addN: OpMapping = { emit: (ctx) => elementwise(ctx, (names, bn) => (names.length === 1 ? ctx.b.one('Identity', names, {}, bn) : ctx.b.one('Sum', names, {}, bn))) };

const lrn: OpMapping = {
  emit(ctx) {
    const { b, op } = ctx;
    const size = 2 * attr(op, 'depth_radius', 5) + 1;
    const { x, result } = layoutIn(ctx, 'NHWC');
    const attrs = { size, alpha: float(attr(op, 'alpha', 1) * size), beta: float(attr(op, 'beta', 0.5)), bias: float(attr(op, 'bias', 1)) };
    return [result(b.one('LRN', [x], attrs, base(op)))];
  },
};

const reverse: OpMapping = {
  knownInputs: () => [1],
  check: (op) => (op.inputs[0]!.shape === null ? 'an input of unknown rank' : undefined),
  emit(ctx) {
    const { b, op, ins } = ctx;
    const rank = ins[0]!.shape!.length;
    const axes = [...new Set(numbers(knownOf(ins[1]!)).map((a) => normAxis(a, rank)))];
    if (!axes.length) return [ins[0]];
    const y = b.one('Slice', [ins[0]!.name(), b.int64(axes.map(() => -1)), b.int64(axes.map(() => -BIG)), b.int64(axes), b.int64(axes.map(() => -1))], {}, base(op));
    return [plain(ctx, y)];
  },
};

/** tf.where(condition) with one input: the coordinates of the true (non-zero) elements, one per row. */
const whereIndices: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    return [plain(ctx, b.transpose(b.one('NonZero', [ins[0]!.name()]), [1, 0], base(op)))];
  },
};

const l2Loss: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const x = ins[0]!.name();
    const sum = b.one('ReduceSum', [b.one('Mul', [x, x])], { keepdims: 0 });
    return [plain(ctx, b.one('Mul', [sum, k(b, op, 0.5)], {}, base(op)))];
  },
};

const shapeN: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    return ins.map((v, i) => {
      const y = b.one('Shape', [v.name()], {}, base(op, i));
      return plain(ctx, op.outputs[i]!.dtype === 'int64' ? y : cast(b, y, op.outputs[i]!.dtype), i);
    });
  },
};

const rank: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    return [plain(ctx, cast(b, b.one('Size', [b.one('Shape', [ins[0]!.name()])], {}, base(op)), op.outputs[0]!.dtype))];
  },
};

/** DepthToSpace / SpaceToDepth: TensorFlow's NHWC order of the block is ONNX's DCR order on NCHW. */
function blockRearrange(onnxOp: 'DepthToSpace' | 'SpaceToDepth'): OpMapping {
  return {
    check: (op) => (attr(op, 'data_format', 'NHWC') !== 'NHWC' ? `data_format ${String(attr(op, 'data_format', ''))}` : undefined),
    emit(ctx) {
      const { b, op } = ctx;
      const { x, result } = layoutIn(ctx, 'NHWC');
      const attrs: Record<string, AttrSpec> = { blocksize: attr(op, 'block_size', 2) };
      if (onnxOp === 'DepthToSpace') attrs.mode = 'DCR';
      return [result(b.one(onnxOp, [x], attrs, base(op)))];
    },
  };
}

/**
 * ResizeBilinear / ResizeNearestNeighbor as ONNX Resize to the given size, with TensorFlow's
 * coordinate rule: align_corners, half pixel centers, or TF1's default (asymmetric).
 */
function resize(mode: 'linear' | 'nearest'): OpMapping {
  return {
    emit(ctx) {
      const { b, op, ins } = ctx;
      const align = attr(op, 'align_corners', false);
      const half = attr(op, 'half_pixel_centers', false);
      const attrs: Record<string, AttrSpec> = { mode };
      if (mode === 'linear') {
        attrs.coordinate_transformation_mode = align ? 'align_corners' : half ? 'half_pixel' : 'asymmetric';
      } else {
        attrs.coordinate_transformation_mode = align ? 'align_corners' : half ? 'tf_half_pixel_for_nn' : 'asymmetric';
        attrs.nearest_mode = align ? 'round_prefer_ceil' : 'floor';
      }
      const { x, result } = layoutIn(ctx, 'NHWC');
      // sizes for N, C, H, W: the batch and channels as the input has them.
      const nc = b.one('Slice', [b.one('Shape', [x]), b.int64([0]), b.int64([2])]);
      const sizes = b.one('Concat', [nc, int64Of(b, ins[1]!)], { axis: 0 });
      return [result(b.one('Resize', [x, '', '', sizes], attrs, base(op)))];
    },
  };
}

/** MatrixBandPart as ONNX Trilu: keep j - i <= num_upper, then j - i >= -num_lower (a negative count keeps that side whole). */
const matrixBandPart: OpMapping = {
  knownInputs: () => [1, 2],
  emit(ctx) {
    const { b, op, ins } = ctx;
    const lower = scalarOf(ins[1]!);
    const upper = scalarOf(ins[2]!);
    let y = ins[0]!.name();
    if (upper >= 0) y = b.one('Trilu', [y, b.int64([upper], [])], { upper: 0 });
    if (lower >= 0) y = b.one('Trilu', [y, b.int64([-lower], [])], { upper: 1 });
    return [plain(ctx, b.one('Identity', [y], {}, base(op)))];
  },
};

// ---- tensor lists (TensorArrays, dynamic_rnn's inputs and outputs) as ONNX sequences ----

const elementDType = (op: Operation): DType => attr(op, 'element_dtype', 'float32' as string) as DType;
const list = (ctx: EmitContext, name: string, i = 0): Value => ctx.b.value(name, 'variant', ctx.op.outputs[i]!.shape, { elementDType: elementDType(ctx.op) });

const listFromTensor: OpMapping = {
  emit: (ctx) => [list(ctx, ctx.b.one('SplitToSequence', [ctx.ins[0]!.name()], { axis: 0, keepdims: 0 }, base(ctx.op)))],
};

const emptyList: OpMapping = {
  emit: (ctx) => [list(ctx, ctx.b.one('SequenceEmpty', [], { dtype: onnxDType(elementDType(ctx.op), ctx.op.name) }, base(ctx.op)))],
};

/** n elements to be set: empty tensors of the element dtype, replaced by TensorListSetItem. */
const listReserve: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const shape = b.one('Concat', [unsqueeze(b, int64Of(b, ins[1]!), [0]), b.int64([0])], { axis: 0 });
    const value = { tensor: tensorProto(new NDArray(scalarArray(0, elementDType(op)).data, [1], elementDType(op)), undefined, op.name) };
    const empty = b.one('ConstantOfShape', [shape], { value });
    return [list(ctx, b.one('SplitToSequence', [empty], { axis: 0, keepdims: 0 }, base(op)))];
  },
};

const listSetItem: OpMapping = {
  check: (op) => (attr(op, 'resize_if_index_out_of_bounds', false) ? 'resize_if_index_out_of_bounds' : undefined),
  emit(ctx) {
    const { b, op, ins } = ctx;
    const [l, i, item] = ins as [Value, Value, Value];
    return [list(ctx, b.one('SequenceInsert', [b.one('SequenceErase', [l.name(), i.name()]), item.name(), i.name()], {}, base(op)))];
  },
};

const listGetItem: OpMapping = {
  emit: (ctx) => [plain(ctx, ctx.b.one('SequenceAt', [ctx.ins[0]!.name(), ctx.ins[1]!.name()], {}, base(ctx.op)))],
};

const listStack: OpMapping = {
  emit: (ctx) => [plain(ctx, ctx.b.one('ConcatFromSequence', [ctx.ins[0]!.name()], { axis: 0, new_axis: 1 }, base(ctx.op)))],
};

const listLength: OpMapping = {
  emit: (ctx) => [plain(ctx, cast(ctx.b, ctx.b.one('SequenceLength', [ctx.ins[0]!.name()], {}, base(ctx.op)), ctx.op.outputs[0]!.dtype))],
};

const listPushBack: OpMapping = {
  emit: (ctx) => [list(ctx, ctx.b.one('SequenceInsert', [ctx.ins[0]!.name(), ctx.ins[1]!.name()], {}, base(ctx.op)))],
};

const listPopBack: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const last = b.int64([-1], []);
    return [list(ctx, b.one('SequenceErase', [ins[0]!.name()], {}, base(op, 0))), plain(ctx, b.one('SequenceAt', [ins[0]!.name(), last], {}, base(op, 1)), 1)];
  },
};

/** A constant of input `i`'s dtype, for composite elementwise ops. */
const k = (b: OnnxBuilder, op: Operation, v: number, i = 0): string => b.scalar(v, inputDType(op, i));

// ---- fused recurrent cells ----

/**
 * LSTMBlockCell as primitive ONNX ops: [i, ci, f, o] = Split([x, h_prev]·w + b); the peephole terms
 * only with use_peephole, the clip only with cell_clip > 0 (TF's kernel).
 */
const lstmBlockCell: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const [x, csPrev, hPrev, w, wci, wcf, wco, bias] = ins.map((v) => v.name());
    const peephole = attr(op, 'use_peephole', false);
    const clip = attr(op, 'cell_clip', 3);
    const bn = base(op);
    const gates = b.one('Add', [b.one('MatMul', [b.one('Concat', [x!, hPrev!], { axis: 1 }), w!]), bias!]);
    const [iPre, ciPre, fPre, oPre] = split(b, gates, 1, 4, undefined, `${bn}/gates`);
    const peep = (pre: string, c: string, wd: string): string => (peephole ? b.one('Add', [pre, b.one('Mul', [c, wd])]) : pre);
    const i = b.one('Sigmoid', [peep(iPre!, csPrev!, wci!)]);
    const f = b.one('Sigmoid', [peep(b.one('Add', [fPre!, k(b, op, attr(op, 'forget_bias', 1))]), csPrev!, wcf!)]);
    const ci = b.one('Tanh', [ciPre!]);
    let cs = b.one('Add', [b.one('Mul', [ci, i]), b.one('Mul', [csPrev!, f])]);
    if (clip > 0) cs = b.one('Clip', [cs, k(b, op, -clip), k(b, op, clip)]);
    const o = b.one('Sigmoid', [peep(oPre!, cs, wco!)]);
    const co = b.one('Tanh', [cs]);
    const h = b.one('Mul', [co, o], {}, bn);
    return [i, cs, f, o, ci, co, h].map((name, n) => plain(ctx, name, n));
  },
};

/** GRUBlockCell as primitive ONNX ops. */
const gruBlockCell: OpMapping = {
  emit(ctx) {
    const { b, op, ins } = ctx;
    const [x, hPrev, wRu, wC, bRu, bC] = ins.map((v) => v.name());
    const bn = base(op);
    const ru = b.one('Sigmoid', [b.one('Add', [b.one('MatMul', [b.one('Concat', [x!, hPrev!], { axis: 1 }), wRu!]), bRu!])]);
    const [r, u] = split(b, ru, 1, 2, undefined, `${bn}/ru`);
    const xhr = b.one('Concat', [x!, b.one('Mul', [hPrev!, r!])], { axis: 1 });
    const c = b.one('Tanh', [b.one('Add', [b.one('MatMul', [xhr, wC!]), bC!])]);
    const h = b.one('Add', [b.one('Mul', [b.one('Sub', [k(b, op, 1), u!]), c]), b.one('Mul', [u!, hPrev!])], {}, bn);
    return [r!, u!, c, h].map((name, n) => plain(ctx, name, n));
  },
};

// ---- the table ----

const UNARY: Record<string, string> = {
  Abs: 'Abs',
  Neg: 'Neg',
  Exp: 'Exp',
  Log: 'Log',
  Sqrt: 'Sqrt',
  Floor: 'Floor',
  Ceil: 'Ceil',
  Round: 'Round',
  Sign: 'Sign',
  Reciprocal: 'Reciprocal',
  Sigmoid: 'Sigmoid',
  Tanh: 'Tanh',
  Relu: 'Relu',
  Elu: 'Elu',
  Selu: 'Selu',
  Softplus: 'Softplus',
  Softsign: 'Softsign',
  Sin: 'Sin',
  Cos: 'Cos',
  Tan: 'Tan',
  Asin: 'Asin',
  Acos: 'Acos',
  Atan: 'Atan',
  Sinh: 'Sinh',
  Cosh: 'Cosh',
  Asinh: 'Asinh',
  Acosh: 'Acosh',
  Atanh: 'Atanh',
  Erf: 'Erf',
  IsNan: 'IsNaN',
  IsInf: 'IsInf',
  LogicalNot: 'Not',
};

const BINARY: Record<string, string> = {
  Add: 'Add',
  AddV2: 'Add',
  Sub: 'Sub',
  Mul: 'Mul',
  RealDiv: 'Div',
  Div: 'Div',
  TruncateDiv: 'Div',
  Maximum: 'Max',
  Minimum: 'Min',
  Pow: 'Pow',
  Equal: 'Equal',
  Less: 'Less',
  LessEqual: 'LessOrEqual',
  Greater: 'Greater',
  GreaterEqual: 'GreaterOrEqual',
  LogicalAnd: 'And',
  LogicalOr: 'Or',
};

export const OP_MAPPINGS: ReadonlyMap<string, OpMapping> = new Map<string, OpMapping>([
  ...Object.entries(UNARY).map(([tf, onnx]) => [tf, direct(onnx)] as const),
  ...Object.entries(BINARY).map(([tf, onnx]) => [tf, direct(onnx)] as const),
  ['LeakyRelu', direct('LeakyRelu', (op) => ({ alpha: float(attr(op, 'alpha', 0.2)) }))],
  ['Relu6', composite((b, [x], op, bn) => b.one('Clip', [x!, k(b, op, 0), k(b, op, 6)], {}, bn))],
  ['Rsqrt', composite((b, [x], _op, bn) => b.one('Reciprocal', [b.one('Sqrt', [x!])], {}, bn))],
  ['Square', composite((b, [x], _op, bn) => b.one('Mul', [x!, x!], {}, bn))],
  ['Log1p', composite((b, [x], op, bn) => b.one('Log', [b.one('Add', [x!, k(b, op, 1)])], {}, bn))],
  ['Expm1', composite((b, [x], op, bn) => b.one('Sub', [b.one('Exp', [x!]), k(b, op, 1)], {}, bn))],
  ['Erfc', composite((b, [x], op, bn) => b.one('Sub', [k(b, op, 1), b.one('Erf', [x!])], {}, bn))],
  ['SquaredDifference', composite((b, [x, y], _op, bn) => {
    const d = b.one('Sub', [x!, y!]);
    return b.one('Mul', [d, d], {}, bn);
  })],
  ['NotEqual', composite((b, names, _op, bn) => b.one('Not', [b.one('Equal', names)], {}, bn))],
  ['FloorDiv', composite((b, [x, y], op, bn) => (inputDType(op) === 'float32' ? b.one('Floor', [b.one('Div', [x!, y!])], {}, bn) : b.one('Div', [b.one('Sub', [x!, b.one('Mod', [x!, y!], { fmod: 0 })]), y!], {}, bn)))],
  ['FloorMod', composite((b, [x, y], op, bn) => (inputDType(op) === 'float32' ? b.one('Sub', [x!, b.one('Mul', [b.one('Floor', [b.one('Div', [x!, y!])]), y!])], {}, bn) : b.one('Mod', [x!, y!], { fmod: 0 }, bn)))],
  ['ClipByValue', composite((b, [x, lo, hi], _op, bn) => b.one('Min', [b.one('Max', [x!, lo!]), hi!], {}, bn))],
  ['Cast', castOp],
  ['BiasAdd', biasAdd],
  ['AddN', addN],
  ['MatMul', matmul('transpose_a', 'transpose_b')],
  ['BatchMatMul', matmul('adj_x', 'adj_y')],
  ['BatchMatMulV2', matmul('adj_x', 'adj_y')],
  ['Einsum', einsum],
  ['Softmax', softmax('Softmax')],
  ['LogSoftmax', softmax('LogSoftmax')],
  ['Conv2D', conv(false)],
  ['DepthwiseConv2dNative', conv(true)],
  ['Conv2DBackpropInput', conv2dBackpropInput],
  ['MaxPool', pool('MaxPool')],
  ['AvgPool', pool('AveragePool')],
  ['FusedBatchNorm', fusedBatchNorm],
  ['FusedBatchNormV2', fusedBatchNorm],
  ['FusedBatchNormV3', fusedBatchNorm],
  ['LRN', lrn],
  ['Reshape', reshape],
  ['Squeeze', squeezeOp],
  ['ExpandDims', expandDims],
  ['ConcatV2', concat('last')],
  ['Concat', concat('first')],
  ['Pack', pack],
  ['Unpack', unpack],
  ['Split', splitOp('Split')],
  ['SplitV', splitOp('SplitV')],
  ['Transpose', transpose],
  ['Sum', reduce('ReduceSum')],
  ['Mean', reduce('ReduceMean')],
  ['Max', reduce('ReduceMax')],
  ['Min', reduce('ReduceMin')],
  ['Prod', reduce('ReduceProd')],
  ['All', reduce('ReduceMin')],
  ['Any', reduce('ReduceMax')],
  ['ArgMax', argReduce('ArgMax')],
  ['ArgMin', argReduce('ArgMin')],
  ['Shape', shapeLike('Shape')],
  ['Size', shapeLike('Size')],
  ['Slice', slice],
  ['StridedSlice', stridedSlice],
  ['GatherV2', gather(2)],
  ['Gather', gather(undefined)],
  ['GatherNd', gatherNd],
  ['Pad', pad('constant')],
  ['PadV2', pad('constant')],
  ['MirrorPad', pad('mirror')],
  ['Tile', tile],
  ['Fill', fill],
  ['BroadcastTo', broadcastTo],
  ['ZerosLike', likeConstant(0)],
  ['OnesLike', likeConstant(1)],
  ['Range', range],
  ['Select', select(true)],
  ['SelectV2', select(false)],
  ['TopKV2', topK],
  ['TopK', topK],
  ['MatrixBandPart', matrixBandPart],
  ['TensorListFromTensor', listFromTensor],
  ['EmptyTensorList', emptyList],
  ['TensorListReserve', listReserve],
  ['TensorListSetItem', listSetItem],
  ['TensorListGetItem', listGetItem],
  ['TensorListStack', listStack],
  ['TensorListLength', listLength],
  ['TensorListPushBack', listPushBack],
  ['TensorListPopBack', listPopBack],
  ['Cumsum', cumsum],
  ['OneHot', oneHot],
  ['ReverseV2', reverse],
  ['Where', whereIndices],
  ['L2Loss', l2Loss],
  ['ShapeN', shapeN],
  ['Rank', rank],
  ['DepthToSpace', blockRearrange('DepthToSpace')],
  ['SpaceToDepth', blockRearrange('SpaceToDepth')],
  ['ResizeBilinear', resize('linear')],
  ['ResizeNearestNeighbor', resize('nearest')],
  ['IsFinite', composite((b, [x], _op, bn) => b.one('Not', [b.one('Or', [b.one('IsNaN', [x!]), b.one('IsInf', [x!])])], {}, bn))],
  ['DivNoNan', composite((b, [x, y], op, bn) => b.one('Where', [b.one('Equal', [y!, k(b, op, 0, 1)]), k(b, op, 0), b.one('Div', [x!, y!])], {}, bn))],
  // TensorFlow's Mod truncates as C does, as ONNX's Mod with fmod=1.
  ['Mod', composite((b, names, _op, bn) => b.one('Mod', names, { fmod: 1 }, bn))],
  ['TruncateMod', composite((b, names, _op, bn) => b.one('Mod', names, { fmod: 1 }, bn))],
  ['LSTMBlockCell', lstmBlockCell],
  ['GRUBlockCell', gruBlockCell],
]);

/**
 * Ops whose outputs are their inputs in the exported model: output i is input FORWARDING(op)[i].
 * (Identity-like ops, and the checks that pass their input through at inference.)
 */
export function forwardedInput(op: Operation, output: number): number | undefined {
  switch (op.type) {
    case 'Identity':
    case 'StopGradient':
    case 'Snapshot':
    case 'CheckNumerics':
    case 'EnsureShape':
    case 'Print':
      return output === 0 ? 0 : undefined;
    case 'IdentityN':
      return output;
    default:
      return undefined;
  }
}

/** Op types exported as the graph's own values: inputs, constants, variables frozen to their values. */
export const SOURCE_OPS = ['Placeholder', 'PlaceholderWithDefault', 'Const', 'VariableV2'] as const;
export const FORWARDED_OPS = ['Identity', 'StopGradient', 'Snapshot', 'CheckNumerics', 'EnsureShape', 'Print', 'IdentityN'] as const;
