/**
 * The ONNX graph being written: nodes in topological order, initializers, unique value names, and
 * the Value an emitter hands to the ops that read one of weir's tensors.
 */
import type { DType } from '../core/dtypes.js';
import { UnimplementedError } from '../core/errors.js';
import { NDArray, numElements } from '../core/ndarray.js';
import type { Shape } from '../core/shape.js';
import { ATTR, ONNX_DT, type OnnxAttribute, type OnnxGraph, type OnnxNode, type OnnxTensor } from './proto.js';

/** One of weir's tensors as the ONNX graph holds it. */
export interface Value {
  readonly dtype: DType;
  /** weir's static shape (TensorFlow's layout). */
  readonly shape: Shape;
  /** Its value, when it is a constant of the exported model (an initializer). */
  readonly known?: NDArray;
  /** The ONNX value holding it in TensorFlow's layout (made on first use). */
  name(): string;
  /**
   * For a rank-4 NHWC tensor made by an NCHW ONNX op (a convolution, a pooling, an elementwise op
   * on such a value): the ONNX value holding it as NCHW, so that the next NCHW op reads it without
   * a Transpose pair.
   */
  readonly nchw?: () => string;
  /** For a convolution's output read only by a BiasAdd: puts the bias into the Conv node itself. */
  readonly addBias?: (bias: string) => void;
  /** For a tensor list (dtype variant, an ONNX sequence): its elements' dtype. */
  readonly elementDType?: DType;
}

/** An attribute value: a number is an INT, a string a STRING, a number[] INTS; floats are tagged. */
export type AttrSpec = number | string | readonly number[] | { float: number } | { floats: readonly number[] } | { tensor: OnnxTensor } | { graph: OnnxGraph };

export const float = (x: number): { float: number } => ({ float: x });

export function onnxDType(dtype: DType, what: string): number {
  switch (dtype) {
    case 'float32':
      return ONNX_DT.FLOAT;
    case 'int32':
      return ONNX_DT.INT32;
    case 'int64':
      return ONNX_DT.INT64;
    case 'bool':
      return ONNX_DT.BOOL;
    case 'string':
      return ONNX_DT.STRING;
    default:
      throw new UnimplementedError(`ONNX export: ${what} has dtype ${dtype}, which ONNX tensors cannot hold`);
  }
}

/** An NDArray as an ONNX TensorProto (numbers as little-endian raw_data, strings as string_data). */
export function tensorProto(nd: NDArray, name: string | undefined, what: string): OnnxTensor {
  const data_type = onnxDType(nd.dtype, what);
  const t: OnnxTensor = { dims: [...nd.shape], data_type };
  if (name !== undefined) t.name = name;
  if (nd.dtype === 'string') {
    t.string_data = nd.data as Uint8Array[];
  } else {
    const d = nd.data as Float32Array | Int32Array | BigInt64Array | Uint8Array;
    t.raw_data = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  return t;
}

function attribute(name: string, v: AttrSpec): OnnxAttribute {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`ONNX attribute ${name}: ${v} is not an integer (tag floats with float())`);
    return { name, type: ATTR.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: ATTR.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: ATTR.INTS, ints: [...(v as number[])] };
  if ('float' in v) return { name, type: ATTR.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: ATTR.FLOATS, floats: [...v.floats] };
  if ('tensor' in v) return { name, type: ATTR.TENSOR, t: v.tensor };
  return { name, type: ATTR.GRAPH, g: (v as { graph: OnnxGraph }).graph };
}

/** What a model's graph and its subgraphs share: value names (unique model-wide) and initializers. */
interface Shared {
  readonly initializers: OnnxTensor[];
  readonly used: Set<string>;
  readonly smallConsts: Map<string, string>;
  readonly constNames: Map<NDArray, string>;
}

export class OnnxBuilder {
  /** The nodes of this (sub)graph. */
  readonly nodes: OnnxNode[] = [];
  private readonly shared: Shared;

  constructor(
    readonly opset: number,
    parent?: OnnxBuilder,
  ) {
    this.shared = parent?.shared ?? { initializers: [], used: new Set(), smallConsts: new Map(), constNames: new Map() };
  }

  /** The model's initializers (subgraphs read those of the main graph as outer-scope values). */
  get initializers(): OnnxTensor[] {
    return this.shared.initializers;
  }

  /** A builder for a subgraph (an If branch, a Loop body): nodes of its own, names and initializers shared. */
  child(): OnnxBuilder {
    return new OnnxBuilder(this.opset, this);
  }

  private get used(): Set<string> {
    return this.shared.used;
  }
  private get smallConsts(): Map<string, string> {
    return this.shared.smallConsts;
  }
  private get constNames(): Map<NDArray, string> {
    return this.shared.constNames;
  }

  /** A value or node name not used before, from `base`. */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Marks names given from outside (graph inputs) as taken. */
  reserve(name: string): void {
    this.used.add(name);
  }

  /** Appends a node; its outputs are `outputs` (names reserved by the caller), or that many fresh names after `base`. */
  node(opType: string, inputs: readonly string[], attrs: Record<string, AttrSpec> = {}, opts: { base?: string; outputs?: number | readonly string[] } = {}): string[] {
    const base = opts.base ?? opType;
    const want = opts.outputs ?? 1;
    const outputs = typeof want === 'number' ? Array.from({ length: want }, (_, i) => this.unique(want === 1 ? base : `${base}:${i}`)) : [...want];
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    const node: OnnxNode = { input: [...inputs], output: outputs, name: this.unique(`${base}/${opType}`), op_type: opType };
    if (attribute_.length) node.attribute = attribute_;
    this.nodes.push(node);
    return outputs;
  }

  /** A node with one output; returns its name. */
  one(opType: string, inputs: readonly string[], attrs: Record<string, AttrSpec> = {}, base?: string): string {
    return this.node(opType, inputs, attrs, { base })[0]!;
  }

  /** The last node written (an emitter may still add an optional input to it). */
  lastNode(): OnnxNode {
    return this.nodes[this.nodes.length - 1]!;
  }

  /** An initializer holding `nd` (the same NDArray is stored once; small ones are shared by value). */
  constant(nd: NDArray, base: string): string {
    const seen = this.constNames.get(nd);
    if (seen !== undefined) return seen;
    let key: string | undefined;
    if (nd.size <= 16 && nd.dtype !== 'string') {
      key = `${nd.dtype}[${nd.shape.join(',')}]${Array.from(nd.data as ArrayLike<number | bigint>, String).join(',')}`;
      const shared = this.smallConsts.get(key);
      if (shared !== undefined) return shared;
    }
    const name = this.unique(base);
    this.initializers.push(tensorProto(nd, name, `constant ${base}`));
    this.constNames.set(nd, name);
    if (key !== undefined) this.smallConsts.set(key, name);
    return name;
  }

  /** An int64 initializer (ONNX's type for shapes, axes, pads and indices). */
  int64(values: readonly number[], shape: readonly number[] = [values.length]): string {
    return this.constant(new NDArray(BigInt64Array.from(values, (v) => BigInt(v)), shape, 'int64'), 'const_i64');
  }

  /** A scalar initializer of `dtype`. */
  scalar(value: number, dtype: DType): string {
    return this.constant(scalarArray(value, dtype), `const_${dtype}`);
  }

  transpose(input: string, perm: readonly number[], base?: string): string {
    return this.one('Transpose', [input], { perm }, base);
  }

  /** A Value for an ONNX value that exists. */
  value(name: string, dtype: DType, shape: Shape, extra: Partial<Pick<Value, 'nchw' | 'addBias' | 'elementDType'>> = {}): Value {
    return { dtype, shape, name: () => name, ...extra };
  }

  /** A Value for a constant: an initializer written when first read. */
  constValue(nd: NDArray, base: string): Value {
    const name = lazy(() => this.constant(nd, base));
    return { dtype: nd.dtype, shape: [...nd.shape], known: nd, name };
  }

  /**
   * A rank-4 NHWC Value computed as NCHW by `nchwName`: NCHW readers take it as it is; the NHWC
   * value is one Transpose, written only if something reads it in TensorFlow's layout.
   */
  nchwValue(nchwName: string, dtype: DType, shape: Shape, base: string, addBias?: (bias: string) => void): Value {
    return {
      dtype,
      shape,
      nchw: () => nchwName,
      name: lazy(() => this.transpose(nchwName, NCHW_TO_NHWC, base)),
      ...(addBias ? { addBias } : {}),
    };
  }
}

export const NHWC_TO_NCHW = [0, 3, 1, 2] as const;
export const NCHW_TO_NHWC = [0, 2, 3, 1] as const;

export function lazy<T>(fn: () => T): () => T {
  let done = false;
  let v: T;
  return () => {
    if (!done) {
      v = fn();
      done = true;
    }
    return v;
  };
}

export function scalarArray(value: number, dtype: DType): NDArray {
  switch (dtype) {
    case 'float32':
      return new NDArray(Float32Array.of(value), [], 'float32');
    case 'int32':
      return new NDArray(Int32Array.of(value), [], 'int32');
    case 'int64':
      return new NDArray(BigInt64Array.of(BigInt(value)), [], 'int64');
    case 'bool':
      return new NDArray(Uint8Array.of(value ? 1 : 0), [], 'bool');
    default:
      throw new UnimplementedError(`ONNX export: no ${dtype} scalar constant`);
  }
}

/** The elements of a numeric NDArray as JS numbers. */
export function numbers(nd: NDArray): number[] {
  return Array.from(nd.data as ArrayLike<number | bigint>, Number);
}

/** `nd` with its axes permuted (for constant filters and weights, transposed here rather than in the model). */
export function transposeArray(nd: NDArray, perm: readonly number[]): NDArray {
  const shape = nd.shape;
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i]!;
  }
  const n = numElements(shape);
  const src = nd.data as unknown as { length: number; [i: number]: unknown };
  const out = (nd.dtype === 'string' ? new Array<Uint8Array>(n) : new (nd.data.constructor as new (n: number) => typeof src)(n)) as typeof src;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let at = 0;
    for (let i = 0; i < rank; i++) at += idx[i]! * inStrides[perm[i]!]!;
    out[o] = src[at];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return new NDArray(out as unknown as NDArray['data'], outShape, nd.dtype);
}
