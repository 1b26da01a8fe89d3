/**
 * tf.onnx.exportGraph: a frozen inference graph as an ONNX model.
 *
 * The graph is cut at the chosen inputs and pruned to what the outputs need. Everything that does
 * not depend on an input is a constant of the model: variables (their values in the session),
 * constants, placeholders given a value in `feedDict`, a PlaceholderWithDefault left unfed (its
 * default), and whatever is computed from those alone. Those values are computed by the session
 * itself, so the model holds exactly what weir would compute. A Select whose condition is then
 * known (a dropout or batch-norm `training` flag) keeps the branch it picks and drops the other,
 * which may hold ops with no inference meaning (random draws, batch statistics); this repeats until
 * nothing more is known. What remains is written op by op through the table in ops.ts; control
 * flow (If, While) becomes ONNX If and Loop, their bodies written as subgraphs the same way.
 */
// Every op definition, for what a SavedModel holds (the exporter is also used without src/index.ts: `weir convert`).
import '../../ops/index.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError, NotFoundError, UnimplementedError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import type { Shape } from '../core/shape.js';
import { FuncGraph } from '../func_graph.js';
import { Graph, describeOp, topologicalOrder, type Operation, type Tensor } from '../graph.js';
import { getFileSystem } from '../io/fs.js';
import { writeFileAtomically } from '../io/graph_def.js';
import { load } from '../io/saved_model.js';
import { Session, type FeedStructure } from '../session.js';
import { OnnxBuilder, onnxDType, type Value } from './builder.js';
import { FORWARDED_OPS, forwardedInput, OP_MAPPINGS, SOURCE_OPS, type OpMapping } from './ops.js';
import { encodeModel, type OnnxDim, type OnnxGraph, type OnnxModel, type OnnxTensorType, type OnnxValueInfo } from './proto.js';

export const DEFAULT_OPSET = 17;
/** The newest ONNX opset the exporter writes for (ONNX Runtime 1.2x runs it). */
export const MAX_OPSET = 21;

/** Tensors by object or name; as a record, the keys are the ONNX model's input/output names. */
export type TensorList = readonly (Tensor | string)[] | Readonly<Record<string, Tensor | string>>;

export interface ExportOptions {
  /**
   * The model's inputs. As an array, each ONNX input is named as the tensor is ("x:0"); as a
   * record, by its key. Default for a SavedModel: its signature's inputs (named by their keys).
   */
  inputs?: TensorList;
  /** The model's outputs, as `inputs`. Default for a SavedModel: its signature's outputs. */
  outputs?: TensorList;
  /** ONNX opset (default 17; 17 to 21). */
  opset?: number;
  /** The session holding the variables' values (a graph source with variables needs one). */
  session?: Session;
  /**
   * Values frozen into the model for tensors that are not inputs: a bool `is_training`
   * placeholder set to false, a keep probability set to 1.
   */
  feedDict?: Map<Tensor | string, FeedStructure> | readonly (readonly [Tensor | string, FeedStructure])[];
  /** SavedModel source: the MetaGraphDef's tags (default ['serve']). */
  tags?: readonly string[];
  /** SavedModel source: the signature giving the default inputs and outputs (default 'serving_default'). */
  signature?: string;
  /** Also writes the model to this file (atomically: a temporary file renamed into place). */
  outputPath?: string;
  /** The ONNX graph's name (default 'weir'). */
  name?: string;
}

const PRODUCER = 'weir';

/**
 * Exports `source` (a Graph, with `opts.session` holding its variables, or a SavedModel directory)
 * as a serialized ONNX ModelProto.
 */
export async function exportGraph(source: Graph | string, opts: ExportOptions = {}): Promise<Uint8Array> {
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < DEFAULT_OPSET || opset > MAX_OPSET) {
    throw new InvalidArgumentError(`ONNX export: opset must be an integer from ${DEFAULT_OPSET} to ${MAX_OPSET}, got ${opset}`);
  }
  let graph: Graph;
  let session = opts.session;
  let owned: Session | undefined;
  let inputs = opts.inputs;
  let outputs = opts.outputs;
  if (typeof source === 'string') {
    graph = new Graph();
    owned = session = new Session({ graph });
    const loaded = await load(session, opts.tags ?? ['serve'], source);
    const key = opts.signature ?? 'serving_default';
    const sig = Object.hasOwn(loaded.signatureDefs, key) ? loaded.signatureDefs[key] : undefined;
    if ((!inputs || !outputs) && !sig) {
      const have = Object.keys(loaded.signatureDefs).join(', ') || 'none';
      throw new NotFoundError(`ONNX export: SavedModel ${source} has no signature '${key}' (signatures: ${have}); give inputs and outputs`);
    }
    const byKey = (m: Record<string, { name?: string }> | undefined): Record<string, string> => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, v.name ?? '']));
    inputs ??= byKey(sig!.inputs);
    outputs ??= byKey(sig!.outputs);
  } else {
    graph = source;
    if (session && session.graph !== graph) throw new InvalidArgumentError('ONNX export: the session runs another graph than the one exported');
    if (!session) owned = session = new Session({ graph });
  }
  try {
    if (!inputs || !outputs) throw new InvalidArgumentError('ONNX export: inputs and outputs must be given for a graph');
    const model = await buildModel(graph, session!, resolveList(graph, inputs, 'input'), resolveList(graph, outputs, 'output'), opts, opset);
    const bytes = encodeModel(model);
    if (opts.outputPath !== undefined) await writeFileAtomically(await getFileSystem(), opts.outputPath, bytes);
    return bytes;
  } finally {
    owned?.close();
  }
}

interface Named {
  name: string;
  tensor: Tensor;
}

function resolveList(graph: Graph, list: TensorList, what: string): Named[] {
  const entries: [string | undefined, Tensor | string][] = Array.isArray(list)
    ? (list as readonly (Tensor | string)[]).map((t) => [undefined, t])
    : Object.entries(list as Record<string, Tensor | string>);
  if (entries.length === 0) throw new InvalidArgumentError(`ONNX export: no ${what}s given`);
  const out = entries.map(([key, t]) => {
    const tensor = typeof t === 'string' ? graph.getTensorByName(t.includes(':') ? t : `${t}:0`) : t;
    if (tensor.graph !== graph) throw new InvalidArgumentError(`ONNX export: ${what} ${tensor.name} is not a tensor of the exported graph`);
    return { name: key ?? tensor.name, tensor };
  });
  const seen = new Set<string>();
  for (const n of out) {
    if (seen.has(n.name)) throw new InvalidArgumentError(`ONNX export: two ${what}s named '${n.name}'`);
    seen.add(n.name);
  }
  return out;
}

/** The tensor that `t` is in the exported model, through identities and decided Selects. */
function resolver(known: Map<Tensor, NDArray>, inputs: Set<Tensor>): (t: Tensor) => Tensor {
  const resolve = (t: Tensor): Tensor => {
    for (;;) {
      if (inputs.has(t) || known.has(t)) return t;
      const op = t.op;
      const fwd = forwardedInput(op, t.valueIndex);
      if (fwd !== undefined) {
        t = op.inputs[fwd]!;
        continue;
      }
      if (op.type === 'PlaceholderWithDefault') {
        t = op.inputs[0]!;
        continue;
      }
      const cond = op.type === 'Select' || op.type === 'SelectV2' ? known.get(resolve(op.inputs[0]!)) : undefined;
      if (cond) {
        const c = uniformBool(cond);
        const picked = c === undefined ? undefined : op.inputs[c ? 1 : 2]!;
        if (picked && sameStaticShape(picked.shape, t.shape) && picked.dtype === t.dtype) {
          t = picked;
          continue;
        }
      }
      return t;
    }
  };
  return resolve;
}

function uniformBool(nd: NDArray): boolean | undefined {
  const d = nd.data as Uint8Array;
  if (d.length === 0) return undefined;
  const first = d[0] !== 0;
  for (let i = 1; i < d.length; i++) if ((d[i] !== 0) !== first) return undefined;
  return first;
}

function sameStaticShape(a: Shape, b: Shape): boolean {
  return a !== null && b !== null && a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The ops whose outputs the model computes (not constants), in topological order. */
interface Analysis {
  ops: Operation[];
  resolve: (t: Tensor) => Tensor;
  /** How many exported ops (and model outputs) read each tensor. */
  readers: Map<Tensor, number>;
  /** Placeholders the outputs need that are neither inputs nor given a value. */
  unfed: Tensor[];
  /** Values of the constants the model reads. */
  known: Map<Tensor, NDArray>;
}

const isVariant = (d: DType): boolean => d === 'variant';

type Round = { done: Analysis } | { frontier: Set<Tensor>; decided: Map<Tensor, Tensor>; isDynamic: (t: Tensor) => boolean };

/**
 * One pass over the graph pruned to `outputs`: which ops the model runs, and which constants they
 * read that are not computed yet. `frozen`: a graph whose constants the session computes; else a
 * function body, where only constants and what static shapes determine are known.
 */
function analysisRound(outputs: readonly Tensor[], inputs: Set<Tensor>, known: Map<Tensor, NDArray>, frozen: boolean): Round {
  const resolve = resolver(known, inputs);
  // Selects decided here are fed their picked value when the session computes constants, as the
  // session itself would need the branch they dropped.
  const decided = new Map<Tensor, Tensor>();
  const reached = new Set<Operation>();
  const stack = outputs.map(resolve);
  while (stack.length) {
    const t = stack.pop()!;
    if (inputs.has(t) || known.has(t) || reached.has(t.op)) continue;
    reached.add(t.op);
    for (const i of t.op.inputs) {
      const r = resolve(i);
      if (r !== i && (i.op.type === 'Select' || i.op.type === 'SelectV2')) decided.set(i, r);
      stack.push(r);
    }
  }
  const order = topologicalOrder(reached);
  const dynamic = new Set<Operation>();
  const unfed: Tensor[] = [];
  const isDynamic = (t: Tensor): boolean => inputs.has(t) || (!known.has(t) && dynamic.has(t.op));
  for (const op of order) {
    const def = op.def;
    let dyn: boolean;
    if (op.type === 'Placeholder') {
      dyn = true;
      unfed.push(op.outputs[0]!);
    } else if ((def?.stateful && !def.variable) || def?.functions?.length || op.outputs.some((o) => isVariant(o.dtype))) {
      dyn = true;
    } else if (!frozen) {
      dyn = op.type !== 'Const';
    } else {
      dyn = op.inputs.some((i) => isDynamic(resolve(i)));
    }
    if (op.type !== 'Placeholder' && op.outputs.length > 0 && op.outputs.every((o) => o.knownValue !== undefined) && (dyn || !frozen)) {
      // Known from static shapes alone (the rank, the shape of a fully defined input), or a
      // constant of a function body.
      for (const o of op.outputs) known.set(o, o.knownValue!);
      continue;
    }
    if (dyn) dynamic.add(op);
  }
  // Constants the model reads: inputs of dynamic ops, and outputs, not computed yet.
  const frontier = new Set<Tensor>();
  const want = (t: Tensor): void => {
    const r = resolve(t);
    if (!isDynamic(r) && !known.has(r) && !isVariant(r.dtype)) frontier.add(r);
  };
  for (const op of dynamic) for (const i of op.inputs) want(i);
  for (const o of outputs) want(o);
  if (frontier.size) return { frontier, decided, isDynamic };
  const readers = new Map<Tensor, number>();
  const read = (t: Tensor): void => void readers.set(resolve(t), (readers.get(resolve(t)) ?? 0) + 1);
  for (const op of dynamic) for (const i of op.inputs) read(i);
  for (const o of outputs) read(o);
  return { done: { ops: order.filter((op) => dynamic.has(op)), resolve, readers, unfed: unfed.filter((t) => !inputs.has(t)), known } };
}

/**
 * Splits the pruned graph into constants (computed by the session) and the ops the model runs;
 * repeats while computing constants decides more Selects.
 */
async function analyze(outputs: readonly Tensor[], inputs: Set<Tensor>, session: Session, feeds: Map<Tensor, NDArray>, known: Map<Tensor, NDArray>): Promise<Analysis> {
  for (;;) {
    const round = analysisRound(outputs, inputs, known, true);
    if ('done' in round) return round.done;
    const { frontier, decided, isDynamic } = round;
    const runFeeds = (): Map<Tensor, NDArray> => {
      const m = new Map(feeds);
      for (const [t, r] of decided) {
        const v = known.get(r);
        if (v) m.set(t, v);
      }
      return m;
    };
    // The picked branches first, one at a time in graph order: one may need another's value fed.
    const picked = new Set([...decided.values()].filter((r) => !isDynamic(r) && !known.has(r)));
    for (const op of topologicalOrder([...picked].map((r) => r.op))) {
      for (const r of op.outputs.filter((o) => picked.has(o))) {
        known.set(r, (await session.run(r, runFeeds())) as NDArray);
        frontier.delete(r);
      }
    }
    const tensors = [...frontier];
    const values = (await session.run(tensors, runFeeds())) as NDArray[];
    tensors.forEach((t, i) => known.set(t, values[i]!));
  }
}

/** A function body (a branch, a loop's cond or body): its inputs are given, its constants are its Consts. */
function analyzeBody(fg: FuncGraph): Analysis {
  const round = analysisRound(fg.outputs, new Set(fg.inputs), new Map(), false);
  if (!('done' in round)) throw new UnimplementedError(`ONNX export: internal: constants of function ${fg.name} left to compute`);
  return round.done;
}

function functionsOf(op: Operation): FuncGraph[] {
  return (op.def?.functions ?? []).map((name) => op.attrs[name]).filter((f): f is FuncGraph => f instanceof FuncGraph);
}

type Unmapped = Map<string, string[]>;

/** Why ops of this graph (and of the bodies of its control flow) cannot be written, into `unmapped`. */
function collectUnmapped(a: Analysis, unmapped: Unmapped): void {
  const note = (key: string, op: Operation): void => {
    const l = unmapped.get(key) ?? [];
    l.push(op.name);
    unmapped.set(key, l);
  };
  for (const op of a.ops) {
    const m = mappingFor(op.type);
    if (!m) {
      note(op.type === 'VariableV2' ? 'VariableV2 (a variable assigned in a control-flow body)' : op.type, op);
      continue;
    }
    const reason = m.check?.(op);
    if (reason) note(`${op.type} with ${reason}`, op);
    for (const i of m.knownInputs?.(op) ?? []) {
      if (!a.known.has(a.resolve(op.inputs[i]!))) note(`${op.type} whose input ${i} (${op.def?.inputs[i] ?? i}) is not a constant`, op);
    }
    for (const f of functionsOf(op)) collectUnmapped(analyzeBody(f), unmapped);
  }
}

/** Every reason the model cannot be written, all at once: unmapped op types and the ops' needs. */
function checkMappable(a: Analysis): void {
  if (a.unfed.length) {
    const list = a.unfed.map((t) => `${t.name} (${t.dtype}, shape ${JSON.stringify(t.shape)})`).join(', ');
    throw new InvalidArgumentError(`ONNX export: the outputs depend on placeholders that are neither inputs nor given a value in feedDict: ${list}`);
  }
  const unmapped: Unmapped = new Map();
  collectUnmapped(a, unmapped);
  if (unmapped.size) {
    const list = [...unmapped].map(([k, ops]) => `${k} (${ops.length}: ${ops.slice(0, 3).join(', ')}${ops.length > 3 ? ', ...' : ''})`);
    throw new UnimplementedError(`ONNX export: ${unmapped.size} op type${unmapped.size === 1 ? '' : 's'} of the graph cannot be exported: ${list.join('; ')}`);
  }
}

/** Writes the analysed ops into `b`; `values` holds the Values of the inputs. Returns each tensor's Value. */
function emitAnalysis(b: OnnxBuilder, a: Analysis, values: Map<Tensor, Value>): (t: Tensor) => Value {
  const valueOf = (t: Tensor): Value => {
    const r = a.resolve(t);
    let v = values.get(r);
    if (!v) {
      const k = a.known.get(r);
      if (!k) throw new UnimplementedError(`ONNX export: ${r.name} is not computed by any exported op`);
      v = b.constValue(k, r.name);
      values.set(r, v);
    }
    return v;
  };
  for (const op of a.ops) {
    const mapping = mappingFor(op.type)!;
    const ins = op.inputs.map(valueOf);
    let outs: (Value | undefined)[];
    try {
      outs = mapping.emit({ b, op, ins, soleReader: (i) => a.readers.get(a.resolve(op.inputs[i]!)) === 1 });
    } catch (e) {
      if (e instanceof Error && !e.message.includes('(exporting ')) e.message = `${e.message} (exporting ${describeOp(op)})`;
      throw e;
    }
    op.outputs.forEach((o, i) => {
      const v = outs[i];
      if (v) values.set(o, v);
    });
  }
  return valueOf;
}

/** A function body written into `b` with its inputs bound to `args`: the Values of its outputs. */
function emitFunction(b: OnnxBuilder, fg: FuncGraph, args: readonly Value[]): Value[] {
  const values = new Map<Tensor, Value>();
  fg.inputs.forEach((t, i) => values.set(t, args[i]!));
  const valueOf = emitAnalysis(b, analyzeBody(fg), values);
  return fg.outputs.map(valueOf);
}

/** Subgraph outputs, each made by a node of the subgraph (a body may return an outer value as it is). */
function subgraphOutputs(b: OnnxBuilder, values: readonly Value[], base: string): OnnxValueInfo[] {
  return values.map((v) => valueInfo(b.one('Identity', [v.name()], {}, base), v.dtype, null, false, base, v.elementDType));
}

/** Outer values a subgraph reads get their names in the outer graph first (a lazy Transpose stays outside). */
const materialize = (vs: readonly Value[]): void => vs.forEach((v) => void v.name());

const ifMapping: OpMapping = {
  check: (op) => (op.inputs[0]!.dtype !== 'bool' ? `a ${op.inputs[0]!.dtype} condition` : undefined),
  emit({ b, op, ins }) {
    materialize(ins);
    let results: Value[] = [];
    const branch = (attr: string): { graph: OnnxGraph } => {
      const fg = op.attrs[attr] as FuncGraph;
      const child = b.child();
      results = emitFunction(child, fg, ins.slice(1));
      const output = subgraphOutputs(child, results, `${op.name}/${attr}/output`);
      return { graph: { name: `${op.name}/${attr}`, node: child.nodes, output } };
    };
    const attrs = { then_branch: branch('then_branch'), else_branch: branch('else_branch') };
    const outs = b.node('If', [ins[0]!.name()], attrs, { base: op.name, outputs: op.outputs.length });
    return outs.map((n, i) => b.value(n, op.outputs[i]!.dtype, op.outputs[i]!.shape, { elementDType: results[i]?.elementDType }));
  },
};

/**
 * TensorFlow's While as ONNX's Loop without a trip count: the condition is computed once before
 * the loop on the initial values, and again at the end of each iteration on the new ones.
 */
const whileMapping: OpMapping = {
  emit({ b, op, ins }) {
    materialize(ins);
    const cond = op.attrs.cond as FuncGraph;
    const body = op.attrs.body as FuncGraph;
    const first = emitFunction(b, cond, ins)[0]!;
    const child = b.child();
    const iter = child.unique(`${op.name}/iteration`);
    const condIn = child.unique(`${op.name}/cond_in`);
    const carried = ins.map((v, i) => child.value(child.unique(`${op.name}/var${i}`), v.dtype, body.inputs[i]!.shape, { elementDType: v.elementDType }));
    const next = emitFunction(child, body, carried);
    const again = emitFunction(child, cond, next)[0]!;
    const graph: OnnxGraph = {
      name: `${op.name}/body`,
      node: child.nodes,
      input: [valueInfo(iter, 'int64', [], false, 'iteration'), valueInfo(condIn, 'bool', [], false, 'condition'), ...carried.map((v) => valueInfo(v.name(), v.dtype, null, false, op.name, v.elementDType))],
      output: subgraphOutputs(child, [again, ...next], `${op.name}/body/output`),
    };
    const outs = b.node('Loop', ['', first.name(), ...ins.map((v) => v.name())], { body: { graph } }, { base: op.name, outputs: op.outputs.length });
    return outs.map((n, i) => b.value(n, op.outputs[i]!.dtype, op.outputs[i]!.shape, { elementDType: ins[i]!.elementDType }));
  },
};

const CONTROL_FLOW: ReadonlyMap<string, OpMapping> = new Map([
  ['If', ifMapping],
  ['StatelessIf', ifMapping],
  ['While', whileMapping],
  ['StatelessWhile', whileMapping],
]);

function mappingFor(type: string): OpMapping | undefined {
  return OP_MAPPINGS.get(type) ?? CONTROL_FLOW.get(type);
}

/** Every op type the exporter maps, sorted. */
export function mappedOpTypes(): string[] {
  return [...OP_MAPPINGS.keys(), ...CONTROL_FLOW.keys(), ...SOURCE_OPS, ...FORWARDED_OPS].sort();
}

function valueInfo(name: string, dtype: DType, shape: Shape, symbolic: boolean, what: string, elementDType?: DType): OnnxValueInfo {
  if (dtype === 'variant' && elementDType) {
    return { name, type: { sequence_type: { elem_type: { tensor_type: { elem_type: onnxDType(elementDType, what) } } } } };
  }
  const tensor_type: OnnxTensorType = { elem_type: onnxDType(dtype, what) };
  if (shape !== null) {
    tensor_type.shape = {
      dim: shape.map((d, i): OnnxDim => (d !== null ? { dim_value: d } : symbolic ? { dim_param: `${name}_dim${i}` } : {})),
    };
  }
  return { name, type: { tensor_type } };
}

async function buildModel(graph: Graph, session: Session, inputs: Named[], outputs: Named[], opts: ExportOptions, opset: number): Promise<OnnxModel> {
  const feeds = new Map<Tensor, NDArray>();
  for (const [key, value] of opts.feedDict ?? []) {
    const t = typeof key === 'string' ? graph.getTensorByName(key.includes(':') ? key : `${key}:0`) : key;
    feeds.set(t, value instanceof NDArray ? value : NDArray.from(value as never, t.dtype));
  }
  const inputSet = new Set(inputs.map((n) => n.tensor));
  for (const t of inputSet) if (feeds.has(t)) throw new InvalidArgumentError(`ONNX export: ${t.name} is both an input and given a value in feedDict`);
  const known = new Map(feeds);
  const analysis = await analyze(
    outputs.map((n) => n.tensor),
    inputSet,
    session,
    feeds,
    known,
  );
  checkMappable(analysis);

  const b = new OnnxBuilder(opset);
  for (const n of inputs) b.reserve(n.name);
  for (const n of outputs) b.reserve(n.name);
  const values = new Map<Tensor, Value>();
  for (const n of inputs) values.set(n.tensor, b.value(n.name, n.tensor.dtype, n.tensor.shape));
  const valueOf = emitAnalysis(b, analysis, values);

  const graphOutputs = outputs.map((n) => {
    const v = valueOf(n.tensor);
    if (v.name() !== n.name) b.node('Identity', [v.name()], {}, { base: n.name, outputs: [n.name] });
    return valueInfo(n.name, n.tensor.dtype, n.tensor.shape, false, `output ${n.name}`);
  });
  return {
    ir_version: opset <= 18 ? 8 : opset <= 20 ? 9 : 10,
    opset_import: [{ domain: '', version: opset }],
    producer_name: PRODUCER,
    graph: {
      name: opts.name ?? 'weir',
      node: b.nodes,
      initializer: b.initializers,
      input: inputs.map((n) => valueInfo(n.name, n.tensor.dtype, n.tensor.shape, true, `input ${n.name}`)),
      output: graphOutputs,
    },
  };
}
