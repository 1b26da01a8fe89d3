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
 * nothing more is known. What remains is written op by op through the table in ops.ts.
 */
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError, NotFoundError, UnimplementedError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import type { Shape } from '../core/shape.js';
import { Graph, describeOp, topologicalOrder, type Operation, type Tensor } from '../graph.js';
import { getFileSystem } from '../io/fs.js';
import { writeFileAtomically } from '../io/graph_def.js';
import { load } from '../io/saved_model.js';
import { Session, type FeedStructure } from '../session.js';
import { OnnxBuilder, onnxDType, type Value } from './builder.js';
import { forwardedInput, OP_MAPPINGS } from './ops.js';
import { encodeModel, type OnnxDim, type OnnxModel, type OnnxValueInfo } from './proto.js';

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
}

const isVariant = (d: DType): boolean => d === 'variant';

/**
 * Splits the pruned graph into constants (computed here, by the session) and the ops the model
 * runs; repeats while computing constants decides more Selects.
 */
async function analyze(outputs: readonly Tensor[], inputs: Set<Tensor>, session: Session, feeds: Map<Tensor, NDArray>, known: Map<Tensor, NDArray>): Promise<Analysis> {
  for (;;) {
    const resolve = resolver(known, inputs);
    // Reachable ops through resolved inputs, stopping at inputs and known tensors.
    // Selects decided here are fed their picked value when the session computes constants, as
    // the session itself would need the branch they dropped.
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
      } else {
        dyn = op.inputs.some((i) => isDynamic(resolve(i)));
      }
      if (dyn && op.outputs.length > 0 && op.outputs.every((o) => o.knownValue !== undefined) && op.type !== 'Placeholder') {
        // Known from static shapes alone (the rank, the shape of a fully defined input).
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
    if (frontier.size === 0) {
      const readers = new Map<Tensor, number>();
      const read = (t: Tensor): void => void readers.set(resolve(t), (readers.get(resolve(t)) ?? 0) + 1);
      for (const op of dynamic) for (const i of op.inputs) read(i);
      for (const o of outputs) read(o);
      return { ops: order.filter((op) => dynamic.has(op)), resolve, readers, unfed: unfed.filter((t) => !inputs.has(t)) };
    }
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

/** Every reason the model cannot be written, all at once: unmapped op types and the ops' needs. */
function checkMappable(a: Analysis, known: Map<Tensor, NDArray>): void {
  if (a.unfed.length) {
    const list = a.unfed.map((t) => `${t.name} (${t.dtype}, shape ${JSON.stringify(t.shape)})`).join(', ');
    throw new InvalidArgumentError(`ONNX export: the outputs depend on placeholders that are neither inputs nor given a value in feedDict: ${list}`);
  }
  const unmapped = new Map<string, string[]>();
  const note = (key: string, op: Operation): void => {
    const l = unmapped.get(key) ?? [];
    l.push(op.name);
    unmapped.set(key, l);
  };
  for (const op of a.ops) {
    const m = OP_MAPPINGS.get(op.type);
    if (!m) {
      note(op.type, op);
      continue;
    }
    const reason = m.check?.(op);
    if (reason) note(`${op.type} with ${reason}`, op);
    for (const i of m.knownInputs?.(op) ?? []) {
      if (!known.has(a.resolve(op.inputs[i]!))) note(`${op.type} whose input ${i} (${op.def?.inputs[i] ?? i}) is not a constant`, op);
    }
  }
  if (unmapped.size) {
    const list = [...unmapped].map(([k, ops]) => `${k} (${ops.length}: ${ops.slice(0, 3).join(', ')}${ops.length > 3 ? ', ...' : ''})`);
    throw new UnimplementedError(`ONNX export: ${unmapped.size} op type${unmapped.size === 1 ? '' : 's'} of the graph cannot be exported: ${list.join('; ')}`);
  }
}

function valueInfo(name: string, dtype: DType, shape: Shape, symbolic: boolean, what: string): OnnxValueInfo {
  const tensor_type: NonNullable<OnnxValueInfo['type']>['tensor_type'] = { elem_type: onnxDType(dtype, what) };
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
  checkMappable(analysis, known);

  const b = new OnnxBuilder(opset);
  for (const n of inputs) b.reserve(n.name);
  for (const n of outputs) b.reserve(n.name);
  const values = new Map<Tensor, Value>();
  for (const n of inputs) values.set(n.tensor, b.value(n.name, n.tensor.dtype, n.tensor.shape));
  const valueOf = (t: Tensor): Value => {
    const r = analysis.resolve(t);
    let v = values.get(r);
    if (!v) {
      const k = known.get(r);
      if (!k) throw new UnimplementedError(`ONNX export: ${r.name} is not computed by any exported op`);
      v = b.constValue(k, r.name);
      values.set(r, v);
    }
    return v;
  };
  for (const op of analysis.ops) {
    const mapping = OP_MAPPINGS.get(op.type)!;
    const ins = op.inputs.map(valueOf);
    let outs: (Value | undefined)[];
    try {
      outs = mapping.emit({ b, op, ins, soleReader: (i) => analysis.readers.get(analysis.resolve(op.inputs[i]!)) === 1 });
    } catch (e) {
      if (e instanceof Error) e.message = `${e.message} (exporting ${describeOp(op)})`;
      throw e;
    }
    op.outputs.forEach((o, i) => {
      const v = outs[i];
      if (v) values.set(o, v);
    });
  }

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
