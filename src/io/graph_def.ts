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
import { InvalidArgumentError, OpError, UnimplementedError } from '../core/errors.js';
import { getDefaultGraph, Graph, Operation, Tensor, type AttrValue } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import type { Shape } from '../core/shape.js';
import type { AttrType, OutputSpec } from '../../ops/registry.js';
import { getOpDef } from '../../ops/registry.js';
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

/** The GraphDef of a graph: its ops in creation order (a topological order). */
export function graphToGraphDef(graph: Graph): GraphDef {
  return {
    node: graph.getOperations().map(opToNodeDef),
    versions: { producer: GRAPH_DEF_PRODUCER },
  };
}

export function opToNodeDef(op: Operation): NodeDef {
  const input = op.inputs.map(tensorRef);
  for (const c of op.controlInputs) input.push(`^${c.name}`);
  const raw = importedAttrs.get(op);
  const kinds = op.def?.attrs ?? {};
  const attr: Record<string, AttrValueProto> = {};
  for (const [name, value] of Object.entries(op.attrs)) {
    if (value === undefined) continue;
    setOwn(attr, name, ownValue(raw, name) ?? attrToProto(value, ownValue(kinds, name), `${op.type} op '${op.name}' attr '${name}'`));
  }
  const node: NodeDef = { name: op.name, op: op.type, input, attr };
  const device = importedDevices.get(op);
  if (device) node.device = device;
  return node;
}

function tensorRef(t: Tensor): string {
  return t.valueIndex === 0 ? t.op.name : `${t.op.name}:${t.valueIndex}`;
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
      throw new UnimplementedError(`${what}: function-valued attrs cannot be exported yet`);
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
  const tmp = `${path}.tmp${randomSuffix()}`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.remove(tmp).catch(() => undefined);
    throw e;
  }
  return path;
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
  const byName = new Map<string, NodeDef>();
  for (const n of nodes) {
    if (!n.name) throw new InvalidArgumentError('GraphDef has a node with an empty name');
    if (!n.op) throw new InvalidArgumentError(`Node '${n.name}' has no op type`);
    if (byName.has(n.name)) throw new InvalidArgumentError(`Duplicate node name in GraphDef: '${n.name}'`);
    byName.set(n.name, n);
  }
  const inputMap = new Map<string, Tensor>();
  for (const [k, t] of opts.inputMap instanceof Map ? opts.inputMap : Object.entries(opts.inputMap ?? {})) {
    if (!(t instanceof Tensor)) throw new InvalidArgumentError(`inputMap['${k}'] is not a Tensor`);
    if (t.graph !== graph) throw new InvalidArgumentError(`inputMap['${k}'] (${t.name}) is not in the graph being imported into`);
    const key = k.includes(':') ? k : `${k}:0`;
    const src = parseInput(key, 'inputMap');
    if (!byName.has(src.node)) throw new InvalidArgumentError(`Attempted to map inputs that were not found in graph_def: [${k}]`);
    inputMap.set(key, t);
  }

  // Inputs, references to each node's outputs, and the dependency graph.
  const dag = new DiGraph();
  const parsed = new Map<string, ParsedInput[]>();
  const maxRef = new Map<string, number>();
  const key = (name: string): string => `#${name}`;
  for (const n of nodes) dag.setNode(key(n.name!));
  for (const n of nodes) {
    const ins = (n.input ?? []).map((s) => parseInput(s, `Node '${n.name}'`));
    parsed.set(n.name!, ins);
    for (const i of ins) {
      if (!byName.has(i.node)) throw new InvalidArgumentError(`Node '${n.name}': Unknown input node '${i.node}'`);
      if (!i.control) maxRef.set(i.node, Math.max(maxRef.get(i.node) ?? -1, i.index));
      if (!i.control && inputMap.has(`${i.node}:${i.index}`)) continue;
      dag.setEdge(key(i.node), key(n.name!));
    }
  }
  for (const r of opts.returnElements ?? []) {
    if (r.includes(':')) {
      const p = parseInput(r, 'returnElements');
      maxRef.set(p.node, Math.max(maxRef.get(p.node) ?? -1, p.index));
    }
  }
  // Files written in dependency order (as TensorFlow writes them) keep their order; others are sorted.
  const order = inDependencyOrder(nodes, parsed) ? nodes : topologicalOrder(dag).map((k) => byName.get(k.slice(1))!);

  const producer = gd.versions?.producer ?? 0;
  const opDefs = new Map<string, OpDefProto>();
  for (const d of opts.opList ?? []) if (d.name) opDefs.set(d.name, d);

  const prefix = opts.name === '' ? '' : graph.nameScope(opts.name ?? 'import', (s) => s);
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
        const mapped = inputMap.get(`${i.node}:${i.index}`);
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
      created.set(n.name!, createNode(graph, n, name, inputs, control, opDefs.get(n.op!), maxRef.get(n.name!) ?? -1, producer));
    }
  });

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

function inDependencyOrder(nodes: readonly NodeDef[], parsed: Map<string, ParsedInput[]>): boolean {
  const seen = new Set<string>();
  for (const n of nodes) {
    for (const i of parsed.get(n.name!)!) if (!seen.has(i.node)) return false;
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
  producerDef: OpDefProto | undefined,
  maxRef: number,
  producer: number,
): Operation {
  const type = n.op!;
  const def = getOpDef(type);
  const rawAttrs: Record<string, AttrValueProto> = { ...(n.attr ?? {}) };
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
