/**
 * GraphDef export (graph.toGraphDef(), tf.io.writeGraph) and import (tf.importGraphDef).
 *
 * Attrs are written with the kinds the op definitions declare (ops/registry.ts), dtypes as
 * DataType values, shapes as TensorShapeProto (-1 for unknown dims, unknown_rank for unknown
 * rank) and constants as TensorProto. Imported ops keep their attrs exactly as read, so a graph
 * written by TensorFlow goes back out unchanged. Op types weir does not implement are imported as
 * nodes all the same (their outputs taken from the producer's OpDef when there is one, from a
 * small table of common TensorFlow ops, or from the node itself); running a fetch that needs one is
 * an UnimplementedError naming the op type.
 */
import { alg, Graph as DiGraph } from '@dagrejs/graphlib';
import { isDType, type DType } from '../core/dtypes.js';
import { InvalidArgumentError, NotFoundError, OpError, UnimplementedError } from '../core/errors.js';
import { getDefaultGraph, Graph, GraphKeys, Operation, Tensor, type AttrValue } from '../graph.js';
import { Variable } from '../variables.js';
import { FuncGraph } from '../func_graph.js';
import { NDArray } from '../core/ndarray.js';
import type { Shape } from '../core/shape.js';
import type { AttrType, OutputSpec } from '../../ops/registry.js';
import { getOpDef } from '../../ops/registry.js';
import { TENSOR_ARRAY_OPS } from '../../ops/tensor_array.js';
import { fromUtf8, utf8 } from './bytes.js';
import { getFileSystem, joinPath, type FileSystem } from './fs.js';
import {
  DT,
  decodeMessage,
  encodeMessage,
  int64ToNumber,
  ownValue,
  setOwn,
  type AttrValueProto,
  type CollectionDef,
  type GraphDef,
  type NodeDef,
  type OpDefProto,
  type TensorShapeProto,
} from './proto.js';
import { randomSuffix } from './checkpoint.js';
import { dtypeFromTF, dtypeToTF, shapeFromProto, shapeToProto, tensorFromProto, tensorToProto, tfDataTypeName } from './tensor_proto.js';
import { fromTextFormat, toTextFormat } from './text_format.js';

/** GraphDef version weir writes (TF_GRAPH_DEF_VERSION of the TensorFlow releases whose op set weir follows). */
export const GRAPH_DEF_PRODUCER = 27;

/** Attrs of imported ops exactly as they were read, written back out unchanged. */
const importedAttrs = new WeakMap<Operation, Record<string, AttrValueProto>>();
/** Devices of imported nodes (weir ignores placement but keeps it for export). */
const importedDevices = new WeakMap<Operation, string>();
/** The producer's OpDefs (a MetaGraphDef's stripped_op_list) read by imports into a graph: written back in its stripped_op_list. */
const importedOpDefs = new WeakMap<Graph, Map<string, OpDefProto>>();

// ------------------------------------------------------------------ export

declare module '../graph.js' {
  interface Graph {
    /** This graph as a TensorFlow GraphDef message. */
    toGraphDef(): GraphDef;
  }
}

Graph.prototype.toGraphDef = function toGraphDef(this: Graph): GraphDef {
  return graphToGraphDef(this);
};

/** The GraphDef of a graph: its ops in creation order (a topological order), and the functions its control flow runs. */
export function graphToGraphDef(graph: Graph): GraphDef {
  const lib = new FunctionLibraryWriter(graph);
  const node = graph.getOperations().map((op) => opToNodeDef(op, lib));
  const gd: GraphDef = { node, versions: { producer: GRAPH_DEF_PRODUCER } };
  const functions = lib.finish(node);
  if (functions.length) gd.library = { function: functions };
  return gd;
}

/**
 * A node of the GraphDef. Function-body attrs (If's branches, While's cond and body) are written
 * as `func { name }` naming a FunctionDef that `lib` adds to the library; without `lib` they are
 * an UnimplementedError (a lone NodeDef has no library to put them in). `ref` names an input
 * tensor (inside a function body: an argument, or TensorFlow's `node:output_name:index`).
 */
export function opToNodeDef(op: Operation, lib?: FunctionLibraryWriter, ref: (t: Tensor) => string = tensorRef): NodeDef {
  const input = op.inputs.map(ref);
  for (const c of op.controlInputs) input.push(`^${c.name}`);
  const raw = importedAttrs.get(op);
  const kinds = op.def?.attrs ?? {};
  const attr: Record<string, AttrValueProto> = {};
  for (const [name, value] of Object.entries(op.attrs)) {
    if (value === undefined) continue;
    const what = `${op.type} op '${op.name}' attr '${name}'`;
    if (value instanceof FuncGraph) {
      if (!lib) throw new UnimplementedError(`${what}: a function body can only be exported with its graph (graph.toGraphDef())`);
      setOwn(attr, name, { func: { name: lib.functionName(value, op, name) } });
      continue;
    }
    setOwn(attr, name, ownValue(raw, name) ?? attrToProto(value, ownValue(kinds, name), what));
  }
  const node: NodeDef = { name: op.name, op: op.type, input, attr };
  const device = importedDevices.get(op);
  if (device) node.device = device;
  return node;
}

function tensorRef(t: Tensor): string {
  return t.valueIndex === 0 ? t.op.name : `${t.op.name}:${t.valueIndex}`;
}

// ---- functions (FunctionDef) ----

/** FunctionDef, as protobufjs reads and writes it (src/io/proto.ts's schema). */
export interface FunctionDefProto {
  signature?: OpDefProto;
  attr?: Record<string, AttrValueProto>;
  node_def?: NodeDef[];
  ret?: Record<string, string>;
  control_ret?: Record<string, string>;
}

/** FunctionDefs of the graphs an import read, by name: written back when an op weir does not run names one. */
const importedLibraries = new WeakMap<Graph, Map<string, FunctionDefProto>>();
/** Names of the FunctionDefs imported FuncGraphs were built from (kept on export when free). */
const importedFunctionNames = new WeakMap<FuncGraph, string>();

/**
 * TensorFlow's names of op outputs (OpDef output_arg), which function bodies use to name the tensors
 * they read (`node:output_name:index`). An op with one name has one output arg, which may be a list
 * (`Split:output:1`); one with several has one tensor per name. Ops not listed have one arg, `output`.
 */
const OUTPUT_ARG_NAMES: Record<string, readonly string[]> = (() => {
  const table: Record<string, readonly string[]> = {};
  const set = (names: readonly string[], ...types: string[]): void => {
    for (const t of types) table[t] = names;
  };
  set(['z'], 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Div', 'DivNoNan', 'FloorDiv', 'FloorMod', 'TruncateDiv', 'Mod', 'Pow', 'Maximum', 'Minimum');
  set(['z'], 'SquaredDifference', 'Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'LogicalAnd', 'LogicalOr', 'Atan2');
  set(['z'], 'SigmoidGrad', 'TanhGrad', 'SqrtGrad', 'RsqrtGrad', 'ReciprocalGrad');
  set(['y'], 'Neg', 'Square', 'Sqrt', 'Rsqrt', 'Exp', 'Expm1', 'Log', 'Log1p', 'Abs', 'Sign', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Rint');
  set(['y'], 'Sigmoid', 'Tanh', 'LogicalNot', 'Cast', 'ZerosLike', 'OnesLike', 'Transpose', 'InvertPermutation', 'Sin', 'Cos', 'Erf', 'IsNan');
  set(['activations'], 'Relu', 'Relu6', 'LeakyRelu', 'Elu', 'Selu', 'Softplus', 'Softsign');
  set(['backprops'], 'ReluGrad', 'Relu6Grad', 'LeakyReluGrad', 'EluGrad', 'SeluGrad', 'SoftplusGrad', 'SoftsignGrad');
  set(['softmax'], 'Softmax');
  set(['logsoftmax'], 'LogSoftmax');
  set(['product'], 'MatMul');
  set(['y'], 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Erfc', 'Lgamma', 'Digamma', 'IsInf', 'IsFinite');
  set(['z'], 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'TruncateMod', 'Polygamma', 'Zeta');
  set(['out'], 'Cumsum', 'Cumprod');
  set(['y', 'idx'], 'UniqueV2');
  set(['y', 'idx', 'count'], 'UniqueWithCounts', 'UniqueWithCountsV2');
  set(['out', 'idx'], 'ListDiff');
  set(['index'], 'Where');
  set(['bins'], 'Bincount');
  set(['precision'], 'InTopK', 'InTopKV2');
  set(['values', 'indices'], 'TopK');
  set(['dense'], 'SparseToDense');
  set(['band'], 'MatrixBandPart');
  set(['r0'], 'BroadcastArgs');
  set(['output', 'argmax'], 'MaxPoolWithArgmax');
  set(['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'], 'FusedBatchNorm', 'FusedBatchNormV2');
  set(['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2', 'reserve_space_3'], 'FusedBatchNormV3');
  set(['x_backprop', 'scale_backprop', 'offset_backprop', 'reserve_space_3', 'reserve_space_4'], 'FusedBatchNormGrad', 'FusedBatchNormGradV2');
  set(['x_backprop', 'scale_backprop', 'offset_backprop', 'reserve_space_4', 'reserve_space_5'], 'FusedBatchNormGradV3');
  set(['resized_images'], 'ResizeBilinear', 'ResizeNearestNeighbor');
  set(['crops'], 'CropAndResize');
  set(['transformed_images'], 'ImageProjectiveTransformV2', 'ImageProjectiveTransformV3');
  set(['selected_indices'], 'NonMaxSuppressionV2', 'NonMaxSuppressionV3');
  set(['selected_indices', 'valid_outputs'], 'NonMaxSuppressionV4');
  set(['selected_indices', 'selected_scores', 'valid_outputs'], 'NonMaxSuppressionV5');
  set(['sign', 'log_abs_determinant'], 'LogMatrixDeterminant');
  set(['q', 'r'], 'Qr');
  set(['s', 'u', 'v'], 'Svd');
  set(['e', 'v'], 'SelfAdjointEigV2');
  set(['indices', 'values', 'shape'], 'StringSplit', 'StringSplitV2');
  set(['ngrams', 'ngrams_splits'], 'StringNGrams');
  set(['output_indices', 'output_shape'], 'SparseReshape');
  set(['output_indices', 'output_values', 'empty_row_indicator', 'reverse_index_map'], 'SparseFillEmptyRows');
  set(['d_values', 'd_default_value'], 'SparseFillEmptyRowsGrad');
  set(['table_handle'], 'HashTable', 'HashTableV2');
  set(['values'], 'LookupTableFind', 'LookupTableFindV2');
  set(['size'], 'LookupTableSize', 'LookupTableSizeV2');
  set(['output_ref'], 'ScatterUpdate', 'ScatterAdd', 'ScatterSub', 'ScatterMul', 'ScatterDiv', 'ScatterMin', 'ScatterMax');
  set(['out'], 'SparseApplyMomentum', 'SparseApplyRMSProp', 'SparseApplyCenteredRMSProp', 'SparseApplyAdagrad');
  set(['sum'], 'AddN');
  set(['r0', 'r1'], 'BroadcastGradientArgs');
  set(['offset'], 'ConcatOffset');
  set(['loss', 'backprop'], 'SoftmaxCrossEntropyWithLogits', 'SparseSoftmaxCrossEntropyWithLogits');
  set(['out'], 'ApplyGradientDescent', 'ApplyMomentum', 'ApplyAdam', 'ApplyRMSProp', 'ApplyCenteredRMSProp', 'ApplyAdagrad');
  set(['summary'], 'ScalarSummary', 'HistogramSummary', 'ImageSummary', 'TensorSummaryV2', 'MergeSummary');
  set(['ref'], 'VariableV2');
  set(['output_ref'], 'Assign', 'AssignAdd', 'AssignSub');
  set(['value'], 'ReadVariableOp');
  set(['y', 'idx'], 'Unique');
  set(['values', 'indices'], 'TopKV2');
  set(['handle'], 'EmptyTensorList', 'TensorListReserve');
  set(['length'], 'TensorListLength');
  set(['output_handle'], 'TensorListPushBack', 'TensorListSetItem', 'TensorListFromTensor', 'TensorListScatterIntoExistingList', 'TensorListSplit');
  set(['output_handle', 'tensor'], 'TensorListPopBack');
  set(['item'], 'TensorListGetItem');
  set(['tensor'], 'TensorListStack');
  set(['values'], 'TensorListGather');
  set(['tensor', 'lengths'], 'TensorListConcatV2', 'TensorListConcat');
  set(['output_handle'], 'TensorListScatter', 'TensorListScatterV2', 'TensorListResize');
  set(['handle', 'flow'], 'TensorArrayV3');
  set(['grad_handle', 'flow_out'], 'TensorArrayGradV3');
  set(['flow_out'], 'TensorArrayWriteV3', 'TensorArrayScatterV3', 'TensorArraySplitV3');
  set(['value'], 'TensorArrayReadV3', 'TensorArrayGatherV3');
  set(['value', 'lengths'], 'TensorArrayConcatV3');
  set(['size'], 'TensorArraySizeV3');
  set([], 'TensorArrayCloseV3');
  return table;
})();

function outputArgNames(type: string): readonly string[] {
  return ownValue(OUTPUT_ARG_NAMES, type) ?? ['output'];
}

/** Output `index` of an op as a function body names it: `node:output_name:index_in_that_arg`. */
function functionTensorRef(t: Tensor): string {
  const names = outputArgNames(t.op.type);
  if (names.length > 1 && names.length === t.op.outputs.length) return `${t.op.name}:${names[t.valueIndex]}:0`;
  return `${t.op.name}:${names[0]}:${t.valueIndex}`;
}

/** A name TensorFlow accepts for a function argument: lower case, digits and underscores, a letter first. */
function argName(s: string): string {
  const n = s.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return /^[a-z]/.test(n) ? n : `arg_${n}`;
}

/** Writes the FuncGraphs a graph's ops hold as the FunctionDefs of its GraphDef's library. */
export class FunctionLibraryWriter {
  private readonly names = new Map<FuncGraph, string>();
  private readonly used = new Set<string>();
  private readonly functions: FunctionDefProto[] = [];
  private count = 0;

  constructor(private readonly graph?: Graph) {}

  /** The name of fg's FunctionDef, which is written (with the functions it calls) on first use. */
  functionName(fg: FuncGraph, op: Operation, attr: string): string {
    const known = this.names.get(fg);
    if (known !== undefined) return known;
    let name = importedFunctionNames.get(fg);
    if (name === undefined || this.used.has(name)) {
      const base = `${op.name.replace(/[^A-Za-z0-9_]/g, '_')}_${attr}`;
      do name = `${base}_${this.count++}`;
      while (this.used.has(name));
    }
    this.used.add(name);
    this.names.set(fg, name);
    this.functions.push(this.functionDef(fg, name));
    return name;
  }

  /**
   * The library: the functions written, and those of an imported library that nodes (ops weir does
   * not run, such as PartitionedCall) still name, with the functions they call in turn.
   */
  finish(nodes: readonly NodeDef[]): FunctionDefProto[] {
    const imported = this.graph ? importedLibraries.get(this.graph) : undefined;
    if (imported) {
      const pending = [...nodes, ...this.functions.flatMap((f) => f.node_def ?? [])];
      while (pending.length) {
        const n = pending.pop()!;
        for (const v of Object.values(n.attr ?? {})) {
          for (const f of [v.func, ...(v.list?.func ?? [])]) {
            const fname = f?.name;
            if (!fname || this.used.has(fname)) continue;
            const def = imported.get(fname);
            if (!def) continue;
            this.used.add(fname);
            this.functions.push(def);
            pending.push(...(def.node_def ?? []));
          }
        }
      }
    }
    return this.functions;
  }

  private functionDef(fg: FuncGraph, name: string): FunctionDefProto {
    const argOps = new Set(fg.inputs.map((t) => t.op));
    const argOpNames = new Set([...argOps].map((op) => op.name));
    const ops = fg.getOperations().filter((op) => !argOps.has(op));
    const taken = new Set(ops.map((op) => op.name));
    const unique = (base: string): string => {
      let n = base;
      for (let i = 1; taken.has(n); i++) n = `${base}_${i}`;
      taken.add(n);
      return n;
    };
    const args = new Map<Tensor, string>();
    const input_arg = fg.inputs.map((t) => {
      const n = unique(argName(t.op.name));
      args.set(t, n);
      return { name: n, type: dtypeToTF(t.dtype) };
    });
    const ref = (t: Tensor): string => args.get(t) ?? functionTensorRef(t);
    const node_def = ops.map((op) => {
      const nd = opToNodeDef(op, this, ref);
      // An argument is no node: an order on it has nothing to wait for.
      nd.input = nd.input!.filter((s) => !(s.startsWith('^') && argOpNames.has(s.slice(1))));
      return nd;
    });
    const ret: Record<string, string> = {};
    const output_arg = fg.outputs.map((t, i) => {
      const n = unique(i === 0 ? 'output' : `output_${i}`);
      setOwn(ret, n, ref(t));
      return { name: n, type: dtypeToTF(t.dtype) };
    });
    const signature: OpDefProto = { name, input_arg, output_arg };
    if (fg.statefulOps().length) signature.is_stateful = true;
    return { signature, node_def, ret };
  }
}

/** A weir attr value as an AttrValue of the given kind (inferred from the value when undeclared). */
export function attrToProto(value: AttrValue, kind: AttrType | undefined, what: string): AttrValueProto {
  const k = kind ?? inferKind(value, what);
  const bad = (): never => {
    throw new InvalidArgumentError(`${what}: value ${describe(value)} is not a valid ${k}`);
  };
  switch (k) {
    case 'type':
      if (!isDType(value)) bad();
      return { type: dtypeToTF(value as DType) };
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) bad();
      return { i: value as number };
    case 'float':
      if (typeof value !== 'number') bad();
      return { f: value as number };
    case 'bool':
      if (typeof value !== 'boolean') bad();
      return { b: value as boolean };
    case 'string':
      if (typeof value !== 'string') bad();
      return { s: utf8(value as string) };
    case 'shape':
      if (value !== null && !Array.isArray(value)) bad();
      return { shape: shapeToProto(value as Shape) };
    case 'tensor':
      if (!(value instanceof NDArray)) bad();
      return { tensor: tensorToProto(value as NDArray) };
    case 'func':
      if (typeof value === 'string') return { func: { name: value } };
      throw new UnimplementedError(`${what}: a function body can only be exported with its graph (graph.toGraphDef())`);
    default: {
      if (!Array.isArray(value)) bad();
      const list = value as readonly unknown[];
      switch (k) {
        case 'list(int)':
          if (!list.every((x) => typeof x === 'number' && Number.isInteger(x))) bad();
          return { list: { i: list as number[] } };
        case 'list(float)':
          if (!list.every((x) => typeof x === 'number')) bad();
          return { list: { f: list as number[] } };
        case 'list(type)':
          if (!list.every(isDType)) bad();
          return { list: { type: (list as DType[]).map(dtypeToTF) } };
        case 'list(shape)':
          if (!list.every((x) => x === null || Array.isArray(x))) bad();
          return { list: { shape: (list as Shape[]).map(shapeToProto) } };
        case 'list(string)':
          if (!list.every((x) => typeof x === 'string')) bad();
          return { list: { s: (list as string[]).map(utf8) } };
        default:
          if (list.every((x) => typeof x === 'boolean')) return { list: { b: list as boolean[] } };
          return bad();
      }
    }
  }
}

function inferKind(value: AttrValue, what: string): AttrType | 'list(bool)' {
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return isDType(value) ? 'type' : 'string';
  if (value instanceof NDArray) return 'tensor';
  if (value === null) return 'shape';
  if (Array.isArray(value)) {
    const first = value.find((x) => x !== null);
    if (first === undefined) return value.length ? 'list(shape)' : 'list(int)';
    if (Array.isArray(first)) return 'list(shape)';
    if (typeof first === 'boolean') return 'list(bool)';
    if (typeof first === 'string') return value.every(isDType) ? 'list(type)' : 'list(string)';
    return value.every((x) => Number.isInteger(x)) ? 'list(int)' : 'list(float)';
  }
  throw new UnimplementedError(`${what}: cannot export attr value ${describe(value)}`);
}

function describe(v: unknown): string {
  if (v instanceof NDArray) return v.toString();
  if (v instanceof Graph) return '<Graph>';
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export interface WriteGraphOptions {
  /** Protobuf text format (.pbtxt) instead of binary (default true, as tf.io.write_graph). */
  asText?: boolean;
  fileSystem?: FileSystem;
}

/** tf.io.writeGraph: writes a graph (or GraphDef) to logdir/name; returns the path. */
export async function writeGraph(graphOrGraphDef: Graph | GraphDef, logdir: string, name: string, opts: WriteGraphOptions = {}): Promise<string> {
  const fs = opts.fileSystem ?? (await getFileSystem());
  const gd = graphOrGraphDef instanceof Graph ? graphOrGraphDef.toGraphDef() : graphOrGraphDef;
  const bytes = (opts.asText ?? true) ? utf8(toTextFormat('GraphDef', gd)) : encodeMessage('GraphDef', gd);
  await fs.mkdirs(logdir);
  const path = joinPath(logdir, name);
  await writeFileAtomically(fs, path, bytes);
  return path;
}

/** Writes a whole file through a temporary file renamed into place: readers see the old file or the new one. */
export async function writeFileAtomically(fs: FileSystem, path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp${randomSuffix()}`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.remove(tmp).catch(() => undefined);
    throw e;
  }
}

/** Reads a GraphDef written in binary or text format (text when the name ends in .pbtxt or .txt). */
export async function readGraph(path: string, opts: { fileSystem?: FileSystem; asText?: boolean } = {}): Promise<GraphDef> {
  const fs = opts.fileSystem ?? (await getFileSystem());
  const bytes = await fs.readFile(path);
  const asText = opts.asText ?? /\.(pbtxt|txt)$/.test(path);
  return asText ? fromTextFormat('GraphDef', fromUtf8(bytes), path) : decodeMessage('GraphDef', bytes, path);
}

export function serializeGraphDef(gd: GraphDef): Uint8Array {
  return encodeMessage('GraphDef', gd);
}
export function parseGraphDef(bytes: Uint8Array): GraphDef {
  return decodeMessage('GraphDef', bytes);
}

// ------------------------------------------------------------------ import

export interface ImportGraphDefOptions {
  /** Tensors of the target graph to use in place of tensors of the GraphDef ('x:0' or 'x' keys). */
  inputMap?: Record<string, Tensor> | Map<string, Tensor>;
  /** Names in the GraphDef to return: 'op:i' gives a Tensor, 'op' an Operation. */
  returnElements?: readonly string[];
  /** Prefix of the imported names (default 'import', made unique; '' imports the names unchanged). */
  name?: string;
  /** The graph to import into (default: the default graph). */
  graph?: Graph;
  /** OpDefs of the producer (MetaGraphDef.meta_info_def.stripped_op_list): outputs and default attrs of op types weir lacks. */
  opList?: readonly OpDefProto[];
}

interface ParsedInput {
  node: string;
  index: number;
  control: boolean;
}

/**
 * tf.importGraphDef: adds the nodes of a GraphDef to a graph (in topological order, whatever
 * their order in the file) and returns the requested elements.
 */
export function importGraphDef(graphDef: GraphDef | Uint8Array, opts: ImportGraphDefOptions = {}): (Tensor | Operation)[] {
  return importGraphDefWithPrefix(graphDef, opts).elements;
}

/** importGraphDef, also returning the name prefix the nodes were given ('import/', or '' without one). */
export function importGraphDefWithPrefix(
  graphDef: GraphDef | Uint8Array,
  opts: ImportGraphDefOptions = {},
): { elements: (Tensor | Operation)[]; prefix: string } {
  const gd = graphDef instanceof Uint8Array ? decodeMessage('GraphDef', graphDef) : graphDef;
  const graph = opts.graph ?? getDefaultGraph();
  const nodes = gd.node ?? [];
  const library = readLibrary(gd);
  rejectFrameOps(nodes, library);
  const byName = indexNodes(nodes, 'GraphDef');
  const inputMap = new Map<string, Tensor>();
  for (const [k, t] of opts.inputMap instanceof Map ? opts.inputMap : Object.entries(opts.inputMap ?? {})) {
    if (!(t instanceof Tensor)) throw new InvalidArgumentError(`inputMap['${k}'] is not a Tensor`);
    if (t.graph !== graph) throw new InvalidArgumentError(`inputMap['${k}'] (${t.name}) is not in the graph being imported into`);
    const key = k.includes(':') ? k : `${k}:0`;
    const src = parseInput(key, 'inputMap');
    if (!byName.has(src.node)) throw new InvalidArgumentError(`Attempted to map inputs that were not found in graph_def: [${k}]`);
    inputMap.set(key, t);
  }
  const parsed = new Map<string, ParsedInput[]>();
  for (const n of nodes) parsed.set(n.name!, (n.input ?? []).map((s) => parseInput(s, `Node '${n.name}'`)));
  const extraRefs = new Map<string, number>();
  for (const r of opts.returnElements ?? []) {
    if (r.includes(':')) {
      const p = parseInput(r, 'returnElements');
      extraRefs.set(p.node, Math.max(extraRefs.get(p.node) ?? -1, p.index));
    }
  }

  const opDefs = new Map<string, OpDefProto>();
  for (const d of opts.opList ?? []) if (d.name) opDefs.set(d.name, d);
  if (opDefs.size) {
    const known = importedOpDefs.get(graph) ?? new Map<string, OpDefProto>();
    for (const [k, v] of opDefs) if (!known.has(k)) known.set(k, v);
    importedOpDefs.set(graph, known);
  }
  const prefix = opts.name === '' ? '' : graph.nameScope(opts.name ?? 'import', (s) => s);
  const ctx: ImportContext = { library, opDefs, producer: gd.versions?.producer ?? 0, variableKeys: new Map(), active: [] };
  // Function bodies reach the graph's variables by their shared name, the variable's node name:
  // under a prefix the variable is renamed, and the bodies follow.
  if (prefix) {
    for (const n of nodes) {
      const shared = ownValue(n.attr, 'shared_name');
      if (n.op === 'VariableV2' && (!shared?.s || shared.s.length === 0)) ctx.variableKeys.set(n.name!, prefix + n.name!);
    }
  }
  const created = importNodes(graph, nodes, byName, parsed, inputMap, prefix, extraRefs, ctx);
  if (library.size) {
    const known = importedLibraries.get(graph) ?? new Map<string, FunctionDefProto>();
    for (const [k, v] of library) known.set(k, v);
    importedLibraries.set(graph, known);
  }

  const elements = (opts.returnElements ?? []).map((r): Tensor | Operation => {
    if (r.includes(':')) {
      const p = parseInput(r, 'returnElements');
      const op = created.get(p.node);
      if (!op) throw new InvalidArgumentError(`Requested return tensor '${r}' not found in graph def`);
      const t = op.outputs[p.index];
      if (!t) throw new InvalidArgumentError(`Invalid return output ${p.index} of node '${p.node}', which has ${op.outputs.length} output(s)`);
      return t;
    }
    const op = created.get(r);
    if (!op) throw new InvalidArgumentError(`Requested return node '${r}' not found in graph def`);
    return op;
  });
  return { elements, prefix };
}

interface ImportContext {
  /** The GraphDef's functions, by name. */
  library: Map<string, FunctionDefProto>;
  /** OpDefs of the producer (opList). */
  opDefs: Map<string, OpDefProto>;
  producer: number;
  /** A variable's shared name in function bodies → its session key here (the prefixed node name). */
  variableKeys: Map<string, string>;
  /** Functions being imported, outermost first (a function that calls itself is an error). */
  active: string[];
}

function indexNodes(nodes: readonly NodeDef[], what: string): Map<string, NodeDef> {
  const byName = new Map<string, NodeDef>();
  for (const n of nodes) {
    if (!n.name) throw new InvalidArgumentError(`${what} has a node with an empty name`);
    if (!n.op) throw new InvalidArgumentError(`Node '${n.name}' has no op type`);
    if (byName.has(n.name)) throw new InvalidArgumentError(`Duplicate node name in ${what}: '${n.name}'`);
    byName.set(n.name, n);
  }
  return byName;
}

/**
 * Adds nodes to a graph in dependency order. `bound` gives tensors standing for inputs ('node:i'
 * keys): inputMap's, or a function's arguments. Returns the operations by node name.
 */
function importNodes(
  graph: Graph,
  nodes: readonly NodeDef[],
  byName: Map<string, NodeDef>,
  parsed: Map<string, ParsedInput[]>,
  bound: Map<string, Tensor>,
  prefix: string,
  extraRefs: Map<string, number>,
  ctx: ImportContext,
): Map<string, Operation> {
  // References to each node's outputs, and the dependency graph.
  const dag = new DiGraph();
  const maxRef = new Map(extraRefs);
  const key = (name: string): string => `#${name}`;
  for (const n of nodes) dag.setNode(key(n.name!));
  for (const n of nodes) {
    for (const i of parsed.get(n.name!)!) {
      if (!i.control && bound.has(`${i.node}:${i.index}`)) continue;
      if (!byName.has(i.node)) throw new InvalidArgumentError(`Node '${n.name}': Unknown input node '${i.node}'`);
      if (!i.control) maxRef.set(i.node, Math.max(maxRef.get(i.node) ?? -1, i.index));
      dag.setEdge(key(i.node), key(n.name!));
    }
  }
  // Files written in dependency order (as TensorFlow writes them) keep their order; others are sorted.
  const order = inDependencyOrder(nodes, parsed, bound) ? nodes : topologicalOrder(dag).map((k) => byName.get(k.slice(1))!);

  const created = new Map<string, Operation>();
  graph.controlDependencies(null, () => {
    for (const n of order) {
      const name = prefix + n.name!;
      if (graph.hasOperation(name)) {
        throw new InvalidArgumentError(`Node '${n.name}': an operation named '${name}' already exists in the graph (import with a name prefix)`);
      }
      graph.nameScope(null, () => graph.uniqueName(name));
      const inputs: Tensor[] = [];
      const control: Operation[] = [];
      for (const i of parsed.get(n.name!)!) {
        if (i.control) {
          control.push(created.get(i.node)!);
          continue;
        }
        const mapped = bound.get(`${i.node}:${i.index}`);
        if (mapped) {
          inputs.push(mapped);
          continue;
        }
        const src = created.get(i.node)!;
        const t = src.outputs[i.index];
        if (!t) {
          throw new InvalidArgumentError(
            `Node '${n.name}': Connecting to invalid output ${i.index} of source node ${i.node} which has ${src.outputs.length} outputs`,
          );
        }
        inputs.push(t);
      }
      created.set(n.name!, createNode(graph, n, name, inputs, control, maxRef.get(n.name!) ?? -1, ctx));
    }
  });
  return created;
}

// ---- functions ----

/** TensorFlow 1's control-flow ops: loops as frames of a dataflow graph, with a cycle through NextIteration. */
/** TF1's control-flow frame ops: refused on import (weir's control flow is functional, TF2's). */
export const FRAME_OPS: ReadonlySet<string> = new Set(['Enter', 'Exit', 'Switch', 'Merge', 'NextIteration', 'LoopCond', 'RefEnter', 'RefSwitch', 'RefMerge', 'RefExit', 'RefNextIteration']);

/** A GraphDef with TF1 loops and conds is an UnimplementedError saying how to get one weir runs. */
function rejectFrameOps(nodes: readonly NodeDef[], library: Map<string, FunctionDefProto>): void {
  const ops = new Set<string>();
  const names: string[] = [];
  const scan = (ns: readonly NodeDef[], where: string): void => {
    for (const n of ns) {
      if (n.op && FRAME_OPS.has(n.op)) {
        ops.add(n.op);
        names.push(`'${where}${n.name}'`);
      }
    }
  };
  scan(nodes, '');
  for (const [fname, f] of library) scan(f.node_def ?? [], `${fname}/`);
  if (ops.size === 0) return;
  // A TF1 loop's TensorArray reaches the loop through Enter: weir runs TensorArray*V3 ops outside
  // loops only; control flow v2 turns a loop's TensorArray into a TensorList, which loops carry.
  const arrays = nodes.some((n) => n.op && (TENSOR_ARRAY_OPS as readonly string[]).includes(n.op));
  throw new UnimplementedError(
    (arrays ? 'TensorArray*V3 ops run in weir outside loops only, and this graph passes TensorArrays through TF1 loop frames. ' : '') +
    `The GraphDef uses TensorFlow 1 control-flow frame ops (${[...ops].sort().join(', ')}; nodes ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}). ` +
      'weir runs functional control flow only (While/If ops whose bodies are functions of the graph\'s library): ' +
      're-export the graph with TF2 control flow (call tf.compat.v1.enable_control_flow_v2() before building it, or build it with TensorFlow 2).',
  );
}

function readLibrary(gd: GraphDef): Map<string, FunctionDefProto> {
  const out = new Map<string, FunctionDefProto>();
  for (const f of (gd.library?.function ?? []) as FunctionDefProto[]) {
    const name = f.signature?.name;
    if (!name) throw new InvalidArgumentError("GraphDef's library has a function without a name");
    if (out.has(name)) throw new InvalidArgumentError(`GraphDef's library defines function '${name}' twice`);
    out.set(name, f);
  }
  return out;
}

/** A function's arguments (and a loop body's results) have the dtypes of the operands the op passes it. */
function checkFunctionArgs(fg: FuncGraph, type: string, attr: string, inputs: readonly Tensor[], attrs: Record<string, AttrValue>, what: string): void {
  const isIf = type === 'If' || type === 'StatelessIf';
  const operands = (isIf ? inputs.slice(1) : inputs).map((t) => t.dtype);
  const fail = (m: string): never => {
    throw new InvalidArgumentError(`${what}: function '${importedFunctionNames.get(fg)}' (attr '${attr}') ${m}`);
  };
  const argTypes = fg.inputs.map((t) => t.dtype);
  if (argTypes.length !== operands.length || argTypes.some((d, i) => d !== operands[i])) {
    fail(`takes (${argTypes.join(', ')}) but the op passes (${operands.join(', ')})`);
  }
  const outTypes = fg.outputs.map((t) => t.dtype);
  const expected = isIf ? attrs.Tout : attr === 'body' ? operands : attr === 'cond' ? undefined : null;
  if (attr === 'cond' && (outTypes.length !== 1 || outTypes[0] !== 'bool')) fail(`must return one bool, returns (${outTypes.join(', ')})`);
  if (Array.isArray(expected) && (outTypes.length !== expected.length || outTypes.some((d, i) => d !== expected[i]))) {
    fail(`returns (${outTypes.join(', ')}) but the op's outputs are (${expected.join(', ')})`);
  }
}

/** Shapes of the arguments of the functions an op holds: a loop's shape invariants, a cond's operands. */
function functionArgShapes(type: string, inputs: readonly Tensor[], attrs: Record<string, AttrValue>): Shape[] {
  if (type === 'While' || type === 'StatelessWhile') {
    const declared = attrs.output_shapes;
    if (Array.isArray(declared) && declared.length === inputs.length && declared.every(isShape)) return declared as Shape[];
    return inputs.map(() => null);
  }
  if (type === 'If' || type === 'StatelessIf') return inputs.slice(1).map((t) => t.shape);
  return [];
}

/**
 * The FuncGraph of a FunctionDef of the library: its arguments become placeholders (fg.addArg, in
 * signature order), its nodes are imported into it (nested control flow recursively), and `ret`
 * names its outputs.
 */
function importFunction(ctx: ImportContext, fname: string, outer: Graph, argShapes: readonly Shape[], what: string): FuncGraph {
  const fdef = ctx.library.get(fname);
  if (!fdef) throw new InvalidArgumentError(`${what}: function '${fname}' is not in the GraphDef's library`);
  if (ctx.active.includes(fname)) throw new InvalidArgumentError(`${what}: function '${fname}' calls itself (${[...ctx.active, fname].join(' -> ')})`);
  ctx.active.push(fname);
  try {
    const fwhat = `Function '${fname}'`;
    const sig = fdef.signature ?? {};
    const nodes = fdef.node_def ?? [];
    const byName = indexNodes(nodes, fwhat);
    const fg = new FuncGraph(fname, outer);
    importedFunctionNames.set(fg, fname);
    const bound = new Map<string, Tensor>();
    const argKey = (a: string): string => `:${a}:0`;
    (sig.input_arg ?? []).forEach((a, i) => {
      if (!a.name) throw new InvalidArgumentError(`${fwhat}: argument ${i} has no name`);
      if (bound.has(argKey(a.name))) throw new InvalidArgumentError(`${fwhat}: two arguments are named '${a.name}'`);
      if (!a.type) throw new InvalidArgumentError(`${fwhat}: argument '${a.name}' has no concrete type (polymorphic functions are not supported)`);
      let phName = a.name;
      while (byName.has(phName) || fg.hasOperation(phName)) phName += '_arg';
      bound.set(argKey(a.name), fg.addArg({ dtype: dtypeFromTF(a.type, `${fwhat} argument '${a.name}'`), shape: argShapes[i] ?? null, name: phName }));
    });
    const parse = (s: string, where: string): ParsedInput => {
      if (s.startsWith('^')) return { node: s.slice(1), index: 0, control: true };
      const parts = s.split(':');
      if (parts.length === 1) {
        if (!bound.has(argKey(s))) throw new InvalidArgumentError(`${where}: input '${s}' is neither an argument of the function nor a node output ('node:output:index')`);
        return { node: `:${s}`, index: 0, control: false };
      }
      const index = Number(parts[parts.length - 1]);
      if (parts.length > 3 || !parts[0] || !Number.isSafeInteger(index) || index < 0) throw new InvalidArgumentError(`${where}: malformed input '${s}'`);
      if (parts.length === 2) return bound.has(argKey(parts[0])) && index === 0 ? { node: `:${parts[0]}`, index: 0, control: false } : { node: parts[0], index, control: false };
      const src = byName.get(parts[0]);
      if (!src) throw new InvalidArgumentError(`${where}: Unknown input node '${parts[0]}'`);
      return { node: parts[0], index: flatOutputIndex(src, parts[1]!, index, ctx, where), control: false };
    };
    const parsed = new Map<string, ParsedInput[]>();
    for (const n of nodes) parsed.set(n.name!, (n.input ?? []).map((s) => parse(s, `${fwhat}: node '${n.name}'`)));
    const rets: [string, ParsedInput][] = (sig.output_arg ?? []).map((o, i) => {
      const r = o.name ? ownValue(fdef.ret, o.name) : undefined;
      if (r === undefined) throw new InvalidArgumentError(`${fwhat}: output '${o.name ?? i}' has no ret value`);
      return [r, parse(r, `${fwhat}: ret '${o.name}'`)];
    });
    const extraRefs = new Map<string, number>();
    for (const [, p] of rets) if (!p.node.startsWith(':')) extraRefs.set(p.node, Math.max(extraRefs.get(p.node) ?? -1, p.index));
    const created = importNodes(fg, nodes, byName, parsed, bound, '', extraRefs, ctx);
    fg.outputs = rets.map(([r, p]) => {
      const t = bound.get(`${p.node}:${p.index}`) ?? created.get(p.node)?.outputs[p.index];
      if (!t) throw new InvalidArgumentError(`${fwhat}: ret value '${r}' names no tensor`);
      return t;
    });
    (sig.output_arg ?? []).forEach((o, i) => {
      if (o.type && dtypeFromTF(o.type, `${fwhat} output '${o.name}'`) !== fg.outputs[i]!.dtype) {
        throw new InvalidArgumentError(`${fwhat}: output '${o.name}' is declared ${tfDataTypeName(o.type)} but returns ${fg.outputs[i]!.name} of dtype ${fg.outputs[i]!.dtype}`);
      }
    });
    return fg;
  } finally {
    ctx.active.pop();
  }
}

/**
 * The index among all of a node's outputs of `node:name:index` (TensorFlow's function-body naming):
 * from the producer's OpDef when opList gives it, else from TensorFlow's output names of the op.
 */
function flatOutputIndex(src: NodeDef, outName: string, index: number, ctx: ImportContext, where: string): number {
  const producerDef = ctx.opDefs.get(src.op!);
  if (producerDef?.output_arg?.length) {
    let flat = 0;
    for (const a of producerDef.output_arg) {
      let size = 1;
      if (a.number_attr) size = int64ToNumber(ownValue(src.attr, a.number_attr)?.i) ?? 0;
      else if (a.type_list_attr) size = ownValue(src.attr, a.type_list_attr)?.list?.type?.length ?? 0;
      if (a.name === outName) {
        if (index >= size) throw new InvalidArgumentError(`${where}: output '${outName}' of '${src.name}' has ${size} tensor(s), index ${index} asked for`);
        return flat + index;
      }
      flat += size;
    }
    throw new InvalidArgumentError(`${where}: op ${src.op} ('${src.name}') has no output named '${outName}'`);
  }
  const names = ownValue(OUTPUT_ARG_NAMES, src.op!);
  if (!names || names.length === 1) return index;
  const k = names.indexOf(outName);
  if (k < 0) throw new InvalidArgumentError(`${where}: op ${src.op} ('${src.name}') has no output named '${outName}' (it has ${names.join(', ')})`);
  if (index !== 0) throw new InvalidArgumentError(`${where}: output '${outName}' of '${src.name}' is one tensor, index ${index} asked for`);
  return k;
}

function inDependencyOrder(nodes: readonly NodeDef[], parsed: Map<string, ParsedInput[]>, bound: Map<string, Tensor>): boolean {
  const seen = new Set<string>();
  for (const n of nodes) {
    for (const i of parsed.get(n.name!)!) if (!seen.has(i.node) && (i.control || !bound.has(`${i.node}:${i.index}`))) return false;
    seen.add(n.name!);
  }
  return true;
}

function parseInput(s: string, what: string): ParsedInput {
  const m = /^(\^)?([^:^]+)(?::(\d+))?$/.exec(s);
  if (!m || (m[1] && m[3] !== undefined)) throw new InvalidArgumentError(`${what}: malformed input '${s}'`);
  const index = m[3] === undefined ? 0 : Number(m[3]);
  if (!Number.isSafeInteger(index)) throw new InvalidArgumentError(`${what}: malformed input '${s}'`);
  return { node: m[2]!, index, control: Boolean(m[1]) };
}

/** Node keys in dependency order; cycles are an InvalidArgumentError naming the nodes involved. */
function topologicalOrder(dag: DiGraph): string[] {
  try {
    return alg.topsort(dag);
  } catch (e) {
    if (e instanceof RangeError) return kahnOrder(dag); // recursion too deep for a very long chain
    if (!(e instanceof alg.CycleException)) throw e;
  }
  const cycles = kahnCycleNodes(dag);
  const names = cycles.slice(0, 10).map((k) => k.slice(1));
  throw new InvalidArgumentError(
    `GraphDef is not a DAG: nodes ${names.map((n) => `'${n}'`).join(', ')}${cycles.length > 10 ? ', ...' : ''} form a cycle ` +
      '(graphs with TF1 while loops, whose NextIteration nodes feed back into Merge nodes, cannot be imported)',
  );
}

/** Kahn's algorithm, iterative (no recursion depth limit). */
function kahnOrder(dag: DiGraph): string[] {
  const indeg = new Map<string, number>();
  for (const v of dag.nodes()) indeg.set(v, dag.predecessors(v)?.length ?? 0);
  const ready = dag.nodes().filter((v) => indeg.get(v) === 0);
  const out: string[] = [];
  while (ready.length) {
    const v = ready.pop()!;
    out.push(v);
    for (const w of dag.successors(v) ?? []) {
      const d = indeg.get(w)! - 1;
      indeg.set(w, d);
      if (d === 0) ready.push(w);
    }
  }
  if (out.length !== dag.nodeCount()) {
    const done = new Set(out);
    const left = dag.nodes().filter((v) => !done.has(v));
    throw new InvalidArgumentError(`GraphDef is not a DAG: nodes ${left.slice(0, 10).map((k) => `'${k.slice(1)}'`).join(', ')} are on or behind a cycle`);
  }
  return out;
}

/** Nodes on a cycle: what remains after repeatedly removing nodes with no predecessors and no successors left. */
function kahnCycleNodes(dag: DiGraph): string[] {
  const alive = new Set(dag.nodes());
  let changed = true;
  while (changed) {
    changed = false;
    for (const v of [...alive]) {
      const preds = (dag.predecessors(v) ?? []).filter((p) => alive.has(p));
      const succs = (dag.successors(v) ?? []).filter((s) => alive.has(s));
      if (preds.length === 0 || succs.length === 0) {
        alive.delete(v);
        changed = true;
      }
    }
  }
  return [...alive];
}

function createNode(
  graph: Graph,
  n: NodeDef,
  name: string,
  inputs: Tensor[],
  control: Operation[],
  maxRef: number,
  ctx: ImportContext,
): Operation {
  const type = n.op!;
  const def = getOpDef(type);
  // TensorFlow's own OpDef, for the ops weir knows it of, gives the defaults a producer without one stripped.
  const producerDef = ctx.opDefs.get(type) ?? tensorArrayOpDef(type);
  const producer = ctx.producer;
  const rawAttrs: Record<string, AttrValueProto> = { ...(n.attr ?? {}) };
  if (type === 'VariableV2' && graph instanceof FuncGraph) {
    const shared = ownValue(rawAttrs, 'shared_name')?.s;
    const renamed = shared ? ctx.variableKeys.get(fromUtf8(shared)) : undefined;
    if (renamed !== undefined) setOwn(rawAttrs, 'shared_name', { s: utf8(renamed) });
  }
  // Attrs the producer left at their default (stripped_default_attrs) are filled in from its OpDef.
  for (const a of producerDef?.attr ?? []) {
    if (a.name && !Object.hasOwn(rawAttrs, a.name) && a.default_value) setOwn(rawAttrs, a.name, a.default_value);
  }
  const what = `Node '${n.name}' (${type})`;
  const attrs: Record<string, AttrValue> = {};
  // Attrs the op definition declares must convert (its kernel reads them); others (TensorFlow's
  // '_class', '_output_shapes', attrs of ops weir does not run) are kept as well as they convert.
  for (const [k, v] of Object.entries(rawAttrs)) {
    const kind = ownValue(def?.attrs, k);
    const value = attrFromProto(v, `${what} attr '${k}'`, kind !== undefined);
    if (kind) checkAttrKind(value, kind, `${what} attr '${k}'`);
    setOwn(attrs, k, value);
  }
  // GraphDefs up to version 21 could not tell a scalar Placeholder shape from an unknown one, and
  // TensorFlow reads it as unknown.
  if (type === 'Placeholder' && producer <= 21 && Array.isArray(attrs.shape) && attrs.shape.length === 0) attrs.shape = null;
  let op: Operation;
  try {
    if (Object.hasOwn(GRAPPLER_FUSED, type)) return expandGrapplerFusedNode(graph, type, name, inputs, control, attrs, what);
    // Function-body attrs name FunctionDefs of the library: each becomes the FuncGraph the op runs.
    const argShapes = functionArgShapes(type, inputs, attrs);
    for (const fa of def?.functions ?? []) {
      const fname = attrs[fa];
      if (typeof fname !== 'string') continue; // missing: the shape function says so
      const fg = importFunction(ctx, fname, graph, argShapes, `${what} attr '${fa}'`);
      checkFunctionArgs(fg, type, fa, inputs, attrs, what);
      setOwn(attrs, fa, fg);
    }
    if (def) {
      op = graph.createOp(type, inputs, attrs, { name: name + '/', controlInputs: control });
    } else {
      const outputs = unknownOpOutputs(n, type, attrs, producerDef, maxRef, what);
      op = graph.createOp(type, inputs, attrs, { name: name + '/', controlInputs: control, outputs });
    }
  } catch (e) {
    if (e instanceof OpError) {
      if (e.message.includes(`'${n.name}'`)) throw e;
      const Ctor = e.constructor as new (m: string, op?: string) => OpError;
      throw new Ctor(`${what}: ${e.message}`, name);
    }
    // Whatever a shape function trips over in a node read from a file is bad content, not a crash.
    const err = new InvalidArgumentError(`${what}: ${(e as Error)?.message ?? String(e)}`, name);
    if (e instanceof Error) err.stack = `${err.stack}\nCaused by: ${e.stack}`;
    throw err;
  }
  importedAttrs.set(op, rawAttrs);
  if (n.device) importedDevices.set(op, n.device);
  return op;
}

// ---- Grappler's fused ops ----

/** The ops TensorFlow's Grappler fuses into one node (in graphs exported after optimizing), by the op each one extends. */
/** Grappler's fused ops: expanded on import into the plain ops they stand for (the remap pass fuses them again). */
export const GRAPPLER_FUSED: Readonly<Record<string, string>> = { _FusedMatMul: 'MatMul', _FusedConv2D: 'Conv2D', FusedDepthwiseConv2dNative: 'DepthwiseConv2dNative' };
const GRAPPLER_ACTIVATIONS: readonly string[] = ['Relu', 'Relu6', 'Elu', 'LeakyRelu', 'Tanh', 'Sigmoid'];

/**
 * A Grappler fused node as the plain ops it stands for: the contraction, then BiasAdd (and an Add
 * of a second argument) or an inference-mode FusedBatchNormV3 (conv only), then an activation.
 * The last op takes the node's name, the others names under it; weir's remap pass fuses the
 * BiasAdd forms again. A fused_ops list weir cannot express is an UnimplementedError.
 */
function expandGrapplerFusedNode(
  graph: Graph,
  type: string,
  name: string,
  inputs: readonly Tensor[],
  control: Operation[],
  attrs: Record<string, AttrValue>,
  what: string,
): Operation {
  const base = GRAPPLER_FUSED[type]!;
  const fusedOps = Array.isArray(attrs.fused_ops) ? (attrs.fused_ops as unknown[]).map(String) : [];
  const args = inputs.slice(2);
  const numArgs = attrs.num_args ?? args.length;
  if (inputs.length < 2) throw new InvalidArgumentError(`${what}: expected at least 2 inputs, got ${inputs.length}`, name);
  if (numArgs !== args.length) throw new InvalidArgumentError(`${what}: num_args is ${String(numArgs)} but the node has ${args.length} argument inputs`, name);
  const [head, ...rest] = fusedOps;
  const add = head === 'BiasAdd' && rest[0] === 'Add';
  const activations = add ? rest.slice(1) : rest;
  const argsWanted = head === 'BiasAdd' ? (add ? 2 : 1) : head === 'FusedBatchNorm' && base !== 'MatMul' ? 4 : -1;
  if (argsWanted !== args.length || activations.length > 1 || (activations.length === 1 && !GRAPPLER_ACTIVATIONS.includes(activations[0]!))) {
    throw new UnimplementedError(`${what}: weir cannot run fused_ops [${fusedOps.join(', ')}] with ${args.length} argument(s) (it expands BiasAdd, BiasAdd+Add or FusedBatchNorm, then at most one of ${GRAPPLER_ACTIVATIONS.join(', ')})`, name);
  }
  const T = attrs.T ?? inputs[0]!.dtype;
  const steps: { type: string; inputs: (y: Tensor) => Tensor[]; attrs: Record<string, AttrValue> }[] = [];
  const format = base === 'MatMul' ? 'NHWC' : ((attrs.data_format as string | undefined) ?? 'NHWC');
  if (head === 'BiasAdd') {
    steps.push({ type: 'BiasAdd', inputs: (y) => [y, args[0]!], attrs: { T, data_format: format } });
    if (add) steps.push({ type: 'AddV2', inputs: (y) => [y, args[1]!], attrs: { T } });
  } else {
    const epsilon = attrs.epsilon ?? 1e-4;
    steps.push({ type: 'FusedBatchNormV3', inputs: (y) => [y, ...args], attrs: { T, U: T, epsilon, exponential_avg_factor: 1, data_format: format, is_training: false } });
  }
  for (const a of activations) steps.push({ type: a, inputs: (y) => [y], attrs: a === 'LeakyRelu' ? { T, alpha: attrs.leakyrelu_alpha ?? 0.2 } : { T } });
  const baseAttrs: Record<string, AttrValue> = {};
  for (const k of Object.keys(getOpDef(base)?.attrs ?? {})) if (Object.hasOwn(attrs, k)) baseAttrs[k] = attrs[k]!;
  const inner = (opType: string): string => graph.nameScope(null, () => graph.uniqueName(`${name}/${opType}`)) + '/';
  let y = graph.createOp(base, [inputs[0]!, inputs[1]!], baseAttrs, { name: inner(base), controlInputs: control }).outputs[0]!;
  let last: Operation | undefined;
  steps.forEach((s, k) => {
    last = graph.createOp(s.type, s.inputs(y), s.attrs, { name: k === steps.length - 1 ? name + '/' : inner(s.type) });
    y = last.outputs[0]!;
  });
  return last!;
}

/**
 * An AttrValue as a weir attr value. With `strict`, a dtype weir lacks is an error (the op would
 * run on it); otherwise (op types weir does not run) it is kept as TensorFlow's name.
 */
export function attrFromProto(v: AttrValueProto, what: string, strict: boolean): AttrValue {
  const type = (t: number): string => {
    if (strict) return dtypeFromTF(t, what);
    try {
      return dtypeFromTF(t, what);
    } catch {
      return tfDataTypeName(t);
    }
  };
  const shape = (s: TensorShapeProto): Shape => shapeFromProto(s, what);
  const which = v.value ?? presentCase(v);
  switch (which) {
    case 's':
      return fromUtf8(v.s ?? new Uint8Array(0));
    case 'i': {
      const n = int64ToNumber(v.i);
      if (n === undefined) throw new InvalidArgumentError(`${what}: int attr ${String(v.i)} is out of range`);
      return n;
    }
    case 'f':
      return v.f ?? 0;
    case 'b':
      return v.b ?? false;
    case 'type':
      return type(v.type ?? 0);
    case 'shape':
      return shape(v.shape ?? {});
    case 'tensor':
      if (strict) return tensorFromProto(v.tensor ?? {}, what);
      try {
        return tensorFromProto(v.tensor ?? {}, what);
      } catch {
        return null;
      }
    case 'func':
      return v.func?.name ?? '';
    case 'placeholder':
      return v.placeholder ?? '';
    case 'list': {
      const l = v.list ?? {};
      if (l.s?.length) return l.s.map(fromUtf8);
      if (l.i?.length) {
        return l.i.map((x) => {
          const n = int64ToNumber(x);
          if (n === undefined) throw new InvalidArgumentError(`${what}: int attr ${String(x)} is out of range`);
          return n;
        });
      }
      if (l.f?.length) return [...l.f];
      if (l.b?.length) return [...l.b];
      if (l.type?.length) return l.type.map(type);
      if (l.shape?.length) return l.shape.map(shape);
      if (l.func?.length) return l.func.map((x) => x.name ?? '');
      if (l.tensor?.length) throw new UnimplementedError(`${what}: list(tensor) attrs are not supported`);
      return [];
    }
    default:
      throw new InvalidArgumentError(`${what}: AttrValue has no value`);
  }
}

const isShape = (x: unknown): boolean => x === null || (Array.isArray(x) && x.every((d) => d === null || (Number.isInteger(d) && d >= 0)));

/** An attr of the kind the op definition declares, or an InvalidArgumentError (TensorFlow's NodeDef validation). */
function checkAttrKind(value: AttrValue, kind: AttrType, what: string): void {
  const list = Array.isArray(value) ? (value as readonly unknown[]) : undefined;
  const ok = ((): boolean => {
    switch (kind) {
      case 'type':
        return isDType(value);
      case 'int':
        return typeof value === 'number' && Number.isInteger(value);
      case 'float':
        return typeof value === 'number';
      case 'bool':
        return typeof value === 'boolean';
      case 'string':
      case 'func':
        return typeof value === 'string';
      case 'shape':
        return isShape(value);
      case 'tensor':
        return value instanceof NDArray;
      case 'list(int)':
        return !!list && list.every((x) => typeof x === 'number' && Number.isInteger(x));
      case 'list(float)':
        return !!list && list.every((x) => typeof x === 'number');
      case 'list(type)':
        return !!list && list.every(isDType);
      case 'list(shape)':
        return !!list && list.every(isShape);
      case 'list(string)':
        return !!list && list.every((x) => typeof x === 'string');
    }
  })();
  if (!ok) throw new InvalidArgumentError(`${what}: expected a value of kind ${kind}, got ${describe(value)}`);
}

function presentCase(v: AttrValueProto): string | undefined {
  for (const k of ['s', 'i', 'f', 'b', 'type', 'shape', 'tensor', 'list', 'func', 'placeholder'] as const) {
    // Own properties only: decoded messages carry defaults ([] for bytes) on their prototype.
    if (Object.prototype.hasOwnProperty.call(v, k) && v[k] !== undefined && v[k] !== null) return k;
  }
  return undefined;
}

// ---- outputs of op types weir has no definition for ----

type ArgSpec = { type?: number; type_attr?: string; number_attr?: string; type_list_attr?: string };
const S: ArgSpec = { type: DT.DT_STRING };
const I64: ArgSpec = { type: DT.DT_INT64 };

/** Outputs of TensorFlow ops that graphs written by TensorFlow commonly hold (SavedModel savers, input parsing). */
const KNOWN_OUTPUTS: Record<string, ArgSpec[]> = {
  SaveV2: [],
  Save: [],
  SaveSlices: [],
  MergeV2Checkpoints: [],
  RestoreV2: [{ type_list_attr: 'dtypes' }],
  Restore: [{ type_attr: 'dt' }],
  RestoreSlice: [{ type_attr: 'dt' }],
  ShardedFilename: [S],
  ShardedFilespec: [S],
  StringJoin: [S],
  ReadFile: [S],
  WriteFile: [],
  AsString: [S],
  StringFormat: [S],
  Print: [{ type_attr: 'T' }],
  PrintV2: [],
  Assert: [],
  IsVariableInitialized: [{ type: DT.DT_BOOL }],
  ParseExample: [
    { ...I64, number_attr: 'Nsparse' },
    { type_list_attr: 'sparse_types' },
    { ...I64, number_attr: 'Nsparse' },
    { type_list_attr: 'Tdense' },
  ],
  ParseSingleExample: [
    { ...I64, number_attr: 'num_sparse' },
    { type_list_attr: 'sparse_types' },
    { ...I64, number_attr: 'num_sparse' },
    { type_list_attr: 'Tdense' },
  ],
};

function unknownOpOutputs(
  n: NodeDef,
  type: string,
  attrs: Record<string, AttrValue>,
  producerDef: OpDefProto | undefined,
  maxRef: number,
  what: string,
): OutputSpec[] {
  const args: ArgSpec[] | undefined = producerDef?.output_arg ?? ownValue(KNOWN_OUTPUTS, type);
  const declared = attrs._output_shapes;
  const shapes =
    Array.isArray(declared) && declared.every((s: unknown) => s === null || (Array.isArray(s) && s.every((d: unknown) => d === null || typeof d === 'number')))
      ? (declared as Shape[])
      : undefined;
  let dtypes: string[];
  if (args) {
    dtypes = [];
    for (const a of args) {
      let one: string[];
      if (a.type_list_attr) {
        const l = attrs[a.type_list_attr];
        if (!Array.isArray(l)) throw new InvalidArgumentError(`${what}: missing list(type) attr '${a.type_list_attr}'`);
        one = l as string[];
      } else {
        const t = a.type ? tfOrWeir(a.type) : attrs[a.type_attr ?? ''];
        if (typeof t !== 'string') throw new InvalidArgumentError(`${what}: missing type attr '${a.type_attr}'`);
        const count = a.number_attr ? attrs[a.number_attr] : 1;
        if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 1_000_000) {
          throw new InvalidArgumentError(`${what}: missing or invalid int attr '${a.number_attr}'`);
        }
        one = new Array<string>(count).fill(t);
      }
      dtypes.push(...one);
    }
  } else {
    const count = Math.max(maxRef + 1, shapes?.length ?? 0);
    const list = attrs.dtypes ?? attrs.Tout ?? attrs.out_types;
    const single = ['T', 'dtype', 'out_type', 'output_type', 'DstT', 'Tout'].map((k) => attrs[k]).find((x) => typeof x === 'string');
    dtypes = [];
    for (let i = 0; i < count; i++) {
      const d = Array.isArray(list) && typeof list[i] === 'string' ? (list[i] as string) : single;
      if (typeof d !== 'string') {
        throw new InvalidArgumentError(
          `${what}: unknown op type '${type}': weir has no definition of it and cannot tell the dtype of its output ${i} (pass the producer's OpDefs as opList)`,
        );
      }
      dtypes.push(d);
    }
  }
  if (maxRef >= dtypes.length) {
    throw new InvalidArgumentError(`${what}: output ${maxRef} is used but the op has ${dtypes.length} output(s)`);
  }
  return dtypes.map((d, i) => {
    if (!isDType(d)) throw new UnimplementedError(`${what}: output ${i} has dtype ${d}, which weir does not support`);
    const s = shapes?.[i];
    return { dtype: d, shape: s === undefined ? null : s };
  });
}

function tfOrWeir(t: number): string {
  try {
    return dtypeFromTF(t, 'output');
  } catch {
    return tfDataTypeName(t);
  }
}

// ------------------------------------------------------------------ MetaGraphDef parts

/** ArgDef and AttrDef as an OpDef declares them (src/io/proto.ts's OpDef schema). */
type ArgDefProto = NonNullable<OpDefProto['input_arg']>[number];
type AttrDefProto = { name?: string; type?: string; has_minimum?: boolean; minimum?: number };

/**
 * TensorFlow's definitions of the ops weir's Saver writes and does not run (tensorflow/core/ops/io_ops.cc).
 */
const SAVER_OP_DEFS: Readonly<Record<string, OpDefProto & { attr: AttrDefProto[] }>> = {
  SaveV2: {
    name: 'SaveV2',
    input_arg: [
      { name: 'prefix', type: DT.DT_STRING },
      { name: 'tensor_names', type: DT.DT_STRING },
      { name: 'shape_and_slices', type: DT.DT_STRING },
      { name: 'tensors', type_list_attr: 'dtypes' },
    ],
    output_arg: [],
    attr: [{ name: 'dtypes', type: 'list(type)', has_minimum: true, minimum: 1 }],
    is_stateful: true,
  },
  RestoreV2: {
    name: 'RestoreV2',
    input_arg: [
      { name: 'prefix', type: DT.DT_STRING },
      { name: 'tensor_names', type: DT.DT_STRING },
      { name: 'shape_and_slices', type: DT.DT_STRING },
    ],
    output_arg: [{ name: 'tensors', type_list_attr: 'dtypes' }],
    attr: [{ name: 'dtypes', type: 'list(type)', has_minimum: true, minimum: 1 }],
    is_stateful: true,
  },
};

/**
 * TF's types of the TensorArray ops' arguments, by name (tensorflow/core/ops/data_flow_ops.cc): the
 * handle weir holds as a variant scalar is TF's DT_RESOURCE, the flow a float; an argument not
 * listed (the value) has the op's type attr.
 */
const TENSOR_ARRAY_ARG_TYPES: Readonly<Record<string, number>> = {
  handle: DT.DT_RESOURCE,
  grad_handle: DT.DT_RESOURCE,
  flow: DT.DT_FLOAT,
  flow_in: DT.DT_FLOAT,
  flow_out: DT.DT_FLOAT,
  size: DT.DT_INT32,
  index: DT.DT_INT32,
  indices: DT.DT_INT32,
  lengths: DT.DT_INT64,
};
const UNKNOWN_SHAPE: AttrValueProto = { shape: { unknown_rank: true } };
/** TF's defaults of the TensorArray ops' attrs. */
const TENSOR_ARRAY_ATTR_DEFAULTS: Readonly<Record<string, AttrValueProto>> = {
  element_shape: UNKNOWN_SHAPE,
  element_shape_except0: UNKNOWN_SHAPE,
  dynamic_size: { b: false },
  clear_after_read: { b: true },
  identical_element_shapes: { b: false },
  tensor_array_name: { s: new Uint8Array(0) },
};

/** TF's OpDef of a TensorArray op: weir's inputs and attrs with TF's argument types and defaults. */
function tensorArrayOpDef(type: string): OpDefProto | undefined {
  const def = getOpDef(type);
  if (!def || !(TENSOR_ARRAY_OPS as readonly string[]).includes(type)) return undefined;
  const typeAttr = def.attrs?.T ? 'T' : 'dtype';
  const arg = (name: string): ArgDefProto => {
    const t = ownValue(TENSOR_ARRAY_ARG_TYPES, name);
    return t === undefined ? { name, type_attr: typeAttr } : { name, type: t };
  };
  const attr = Object.entries(def.attrs ?? {}).map(([name, kind]) => {
    const d = ownValue(TENSOR_ARRAY_ATTR_DEFAULTS, name);
    return d ? { name, type: kind, default_value: d } : { name, type: kind };
  });
  const out: OpDefProto = { name: type, input_arg: def.inputs.map(arg), output_arg: outputArgNames(type).map(arg), attr };
  // TF marks only the ops that make an array stateful (weir marks them all, so no pass touches one).
  if (type === 'TensorArrayV3' || type === 'TensorArrayGradV3') out.is_stateful = true;
  return out;
}

/** Every op of a graph and of the function bodies its ops hold. */
function opsWithFunctions(graph: Graph): Operation[] {
  const out: Operation[] = [];
  const seen = new Set<Graph>();
  const walk = (g: Graph): void => {
    if (seen.has(g)) return;
    seen.add(g);
    for (const op of g.getOperations()) {
      out.push(op);
      for (const v of Object.values(op.attrs)) if (v instanceof FuncGraph) walk(v);
    }
  };
  walk(graph);
  return out;
}

/**
 * TF's stripped_op_list_for_graph: the OpDef of every op type the GraphDef's nodes and functions
 * use, sorted by name. An op imported with its producer's OpDef keeps it; the Saver's ops have
 * TensorFlow's; the others are written from weir's registry (inputs, attrs and their kinds, the
 * output names TensorFlow gives them), each argument's type read off an op of that type in the graph.
 */
export function strippedOpList(graph: Graph, gd: GraphDef): OpDefProto[] {
  const types = new Set<string>();
  for (const n of gd.node ?? []) if (n.op) types.add(n.op);
  for (const f of (gd.library?.function ?? []) as FunctionDefProto[]) for (const n of f.node_def ?? []) if (n.op) types.add(n.op);
  const examples = new Map<string, Operation>();
  for (const op of opsWithFunctions(graph)) if (!examples.has(op.type)) examples.set(op.type, op);
  const producer = importedOpDefs.get(graph);
  return [...types].sort().map((type) => producer?.get(type) ?? ownValue(SAVER_OP_DEFS, type) ?? tensorArrayOpDef(type) ?? opDefFromRegistry(type, examples.get(type)));
}

function opDefFromRegistry(type: string, example: Operation | undefined): OpDefProto {
  const def = getOpDef(type);
  if (!def) {
    // An op type weir neither defines nor was given a definition of: its name, as TF's importer needs no more.
    return { name: type };
  }
  const attrs = Object.entries(def.attrs ?? {});
  const typeAttrs = attrs.filter(([, k]) => k === 'type').map(([n]) => n);
  const listTypeAttr = attrs.find(([, k]) => k === 'list(type)')?.[0];
  const countAttr = attrs.find(([n, k]) => k === 'int' && ['N', 'num_split', 'num', 'num_outputs'].includes(n))?.[0];
  // Where several type attrs hold the same dtype, an output is more likely typed by its op's output
  // attr (Cast's DstT, ArgMax's output_type) and an input by the others.
  const OUTPUT_TYPE_ATTRS = ['DstT', 'out_type', 'output_type', 'Tout', 'dtype'];
  const argOf = (name: string, dtype: DType | undefined, list: boolean, output = false): ArgDefProto => {
    const arg: ArgDefProto = { name };
    if (list && !countAttr && listTypeAttr) {
      arg.type_list_attr = listTypeAttr;
      return arg;
    }
    if (list && countAttr) arg.number_attr = countAttr;
    const rank = (a: string): number => (OUTPUT_TYPE_ATTRS.includes(a) === output ? 0 : 1);
    const candidates = [...typeAttrs].sort((a, b) => rank(a) - rank(b));
    const byAttr = candidates.find((a) => example?.attrs[a] === dtype) ?? (dtype === undefined ? candidates[0] : undefined);
    if (byAttr) arg.type_attr = byAttr;
    else if (dtype) arg.type = dtypeToTF(dtype);
    else if (listTypeAttr) arg.type_list_attr = listTypeAttr;
    return arg;
  };
  const variadicAt = def.inputs.findIndex((n) => n.endsWith('*') || n.endsWith('[]'));
  const input_arg = def.inputs.map((n, i) => {
    const list = i === variadicAt;
    const base = n.replace(/\*$|\[\]$/, '');
    // The inputs of an example op: those before a list, then the list, then those after it.
    const at = variadicAt >= 0 && i > variadicAt && example ? example.inputs.length - (def.inputs.length - i) : i;
    const arg = argOf(base, example?.inputs[at]?.dtype, list);
    if ((def.refInputs ?? []).includes(i)) arg.is_ref = true;
    return arg;
  });
  const names = outputArgNames(type);
  const outputs = example?.outputs ?? [];
  // A variable's output, and the output of ops that update one through a ref input (Assign*,
  // Scatter*, Apply*), is a reference, as TensorFlow declares it.
  const refOutput = (name: string): boolean => name === 'ref' || ((def.refInputs ?? []).includes(0) && (name === 'output_ref' || name === 'out'));
  const output_arg: ArgDefProto[] =
    example && outputs.length === 0
      ? []
      : names.length === outputs.length || !example
        ? names.map((n, i) => argOf(n, outputs[i]?.dtype, false, true))
        : [argOf(names[0]!, outputs[0]?.dtype, true, true)];
  for (const a of output_arg) if (refOutput(a.name ?? '')) a.is_ref = true;
  const attr: AttrDefProto[] = attrs.map(([name, kind]) => ({ name, type: kind }));
  const out: OpDefProto & { attr: AttrDefProto[]; is_commutative?: boolean } = { name: type, input_arg, output_arg, attr };
  if (def.stateful) out.is_stateful = true;
  if (def.commutative) out.is_commutative = true;
  return out;
}

/** Drops the device of every node (and of every function body's node): MetaGraph export's clear_devices. */
export function clearDevices(gd: GraphDef): void {
  for (const n of gd.node ?? []) delete n.device;
  for (const f of (gd.library?.function ?? []) as FunctionDefProto[]) for (const n of f.node_def ?? []) delete n.device;
}

/** The collections TensorFlow writes as VariableDef protos (its register_proto_function calls for variables). */
export const VARIABLE_COLLECTIONS: readonly string[] = [
  GraphKeys.GLOBAL_VARIABLES,
  GraphKeys.LOCAL_VARIABLES,
  GraphKeys.MODEL_VARIABLES,
  GraphKeys.TRAINABLE_VARIABLES,
  GraphKeys.MOVING_AVERAGE_VARIABLES,
  GraphKeys.METRIC_VARIABLES,
  GraphKeys.GLOBAL_STEP,
];

/** VariableDef (tensorflow/core/framework/variable.proto), the fields ref variables use. */
export type VariableDefProto = {
  variable_name?: string;
  initial_value_name?: string;
  initializer_name?: string;
  snapshot_name?: string;
  is_resource?: boolean;
  trainable?: boolean;
};

/** A ref variable as TF's Variable.to_proto writes it. */
export function variableToProto(v: Variable): VariableDefProto {
  return {
    variable_name: v.name,
    initial_value_name: v.initialValue.name,
    initializer_name: v.initializer.name,
    snapshot_name: v.value().name,
    trainable: v.trainable,
  };
}

/**
 * A graph's collections as TF's export_meta_graph writes them: variables as VariableDef bytes in the
 * variable collections, operations and tensors as a node_list of names (a Variable elsewhere by its
 * name, 'w:0'), strings as bytes, integers and floats as their lists. A collection holding anything
 * else (a Python object in TensorFlow) is left out, as TensorFlow leaves it out with a warning.
 */
export function collectionDefsOf(graph: Graph, keys: readonly string[] = graph.getAllCollectionKeys()): Record<string, CollectionDef> {
  const out: Record<string, CollectionDef> = {};
  for (const key of [...keys].sort()) {
    const items = graph.getCollection<unknown>(key);
    if (!items.length) continue;
    let def: CollectionDef | undefined;
    if (VARIABLE_COLLECTIONS.includes(key) && items.every((x) => x instanceof Variable)) {
      def = { bytes_list: { value: (items as Variable[]).map((v) => encodeMessage('VariableDef', variableToProto(v))) } };
    } else if (items.every((x) => x instanceof Operation || x instanceof Tensor || x instanceof Variable)) {
      def = { node_list: { value: (items as (Operation | Tensor | Variable)[]).map((x) => x.name) } };
    } else if (items.every((x) => typeof x === 'string')) {
      def = { bytes_list: { value: (items as string[]).map(utf8) } };
    } else if (items.every((x) => typeof x === 'bigint' || (typeof x === 'number' && Number.isInteger(x)))) {
      def = { int64_list: { value: (items as (number | bigint)[]).map((x) => (typeof x === 'bigint' ? x.toString() : x)) } };
    } else if (items.every((x) => typeof x === 'number')) {
      def = { float_list: { value: items as number[] } };
    }
    if (def) setOwn(out, key, def);
  }
  return out;
}

/**
 * Fills the graph's collections from a MetaGraphDef's collection_def, as TF's
 * import_scoped_meta_graph does: VariableDefs become Variables of the imported ops (one object per
 * variable, shared by its collections; a resource variable, which weir does not have, is left out),
 * node lists the graph's elements (a name the graph does not hold is skipped, as TensorFlow skips
 * it), and bytes, int64 and float lists their values. `prefix` is the import's name prefix ('' or
 * 'scope/').
 */
export function importCollectionDefs(graph: Graph, collections: Record<string, CollectionDef> | undefined, prefix: string): void {
  const variables = new Map<string, Variable>();
  const trainable = new Set<string>();
  for (const bytes of ownValue(collections, GraphKeys.TRAINABLE_VARIABLES)?.bytes_list?.value ?? []) {
    const vd = decodeMessage('VariableDef', bytes, 'VariableDef in the trainable_variables collection') as VariableDefProto;
    if (vd.variable_name) trainable.add(vd.variable_name);
  }
  for (const [key, c] of Object.entries(collections ?? {})) {
    if (c.node_list) {
      for (const name of c.node_list.value ?? []) {
        let element: Tensor | Operation;
        try {
          element = graph.asGraphElement(prefix + name);
        } catch {
          continue;
        }
        graph.addToCollection(key, element);
      }
    } else if (c.bytes_list && VARIABLE_COLLECTIONS.includes(key)) {
      for (const bytes of c.bytes_list.value ?? []) {
        const vd = decodeMessage('VariableDef', bytes, `VariableDef in the ${key} collection`) as VariableDefProto;
        const name = vd.variable_name ?? '';
        let v = variables.get(name);
        if (!v) {
          try {
            v = variableFromProto(graph, vd, prefix, trainable.has(name));
          } catch (e) {
            // A variable weir cannot represent (a resource variable) or whose ops are missing is
            // left out of the collection; its ops are in the graph all the same.
            if (e instanceof UnimplementedError || e instanceof NotFoundError) continue;
            throw e;
          }
          variables.set(name, v);
        }
        graph.addToCollection(key, v);
      }
    } else if (c.bytes_list) {
      for (const b of c.bytes_list.value ?? []) graph.addToCollection(key, fromUtf8(b));
    } else if (c.int64_list) {
      for (const x of c.int64_list.value ?? []) graph.addToCollection(key, int64ToNumber(x) ?? BigInt(String(x)));
    } else if (c.float_list) {
      for (const x of c.float_list.value ?? []) graph.addToCollection(key, x);
    }
  }
}

/**
 * TF's Variable(variable_def=...): a Variable over the imported ops the VariableDef names (its
 * VariableV2, initializer, snapshot and initial value), creating none.
 */
export function variableFromProto(graph: Graph, vd: VariableDefProto, prefix: string, inTrainableCollection: boolean): Variable {
  const what = `VariableDef '${vd.variable_name ?? ''}'`;
  if (vd.is_resource) throw new UnimplementedError(`${what}: resource variables are not supported (weir's variables are ref variables, VariableV2)`);
  const get = <T>(field: string, name: string | undefined, find: (n: string) => T): T => {
    if (!name) throw new InvalidArgumentError(`${what}: no ${field}`);
    try {
      return find(prefix + name);
    } catch {
      throw new NotFoundError(`${what}: its ${field} '${prefix + name}' is not in the graph`);
    }
  };
  const ref = get('variable_name', vd.variable_name, (n) => graph.getTensorByName(n));
  if (ref.op.type !== 'VariableV2') throw new UnimplementedError(`${what}: ${ref.op.name} is a ${ref.op.type}, not a VariableV2`);
  const initializer = get('initializer_name', vd.initializer_name, (n) => graph.getOperationByName(n));
  const snapshot = get('snapshot_name', vd.snapshot_name, (n) => graph.getTensorByName(n));
  const initialValue = vd.initial_value_name ? get('initial_value_name', vd.initial_value_name, (n) => graph.getTensorByName(n)) : initializer.inputs[1];
  if (!initialValue) throw new InvalidArgumentError(`${what}: no initial value (initializer ${initializer.name} has no value input)`);
  return variableOverOps({ op: ref.op, initializer, snapshot, initialValue, trainable: vd.trainable ?? inTrainableCollection });
}

/**
 * A Variable object over ops that already exist. Variable's constructor always builds new ops, so
 * the object is made from its prototype with the fields the constructor would set.
 */
function variableOverOps(parts: { op: Operation; initializer: Operation; snapshot: Tensor; initialValue: Tensor; trainable: boolean }): Variable {
  return Object.assign(Object.create(Variable.prototype) as Variable, { isVariable: true, ...parts });
}
