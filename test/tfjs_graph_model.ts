// TensorFlow.js's converter runtime as an executor weir did not write: a GraphDef weir exported
// (from a .meta file) is frozen with a checkpoint's values and handed to tfjs-converter as graph-model
// artifacts; and the nodes weir writes are checked against the op definitions tfjs-converter
// records for TensorFlow's ops (its op_list: inputs and attrs by TensorFlow's names).
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FunctionDefProto } from '../src/io/graph_def.js';
import { attrFromProto } from '../src/io/graph_def.js';
import type { AttrValueProto, GraphDef, NodeDef } from '../src/io/proto.js';
import { tensorBytes, tensorToProto } from '../src/io/tensor_proto.js';
import * as tf from '../src/index.js';

const functionsOf = (gd: GraphDef): FunctionDefProto[] => (gd.library?.function ?? []) as FunctionDefProto[];
const nodeName = (input: string): string => input.replace(/^\^/, '').replace(/:.*$/, '');

/**
 * The frozen inference graph of `outputs` (node names): the nodes they need, each VariableV2
 * replaced by a Const holding `values(name)` (a checkpoint's value), control inputs dropped (they
 * order updates, which inference does not run); of the function library, the functions those
 * nodes call (and the functions those call), as they are.
 */
export async function freezeGraphDef(gd: GraphDef, outputs: readonly string[], values: (variable: string) => Promise<tf.NDArray>): Promise<GraphDef> {
  const byName = new Map((gd.node ?? []).map((n) => [n.name!, n]));
  const keep = new Set<string>();
  const pending = [...outputs];
  while (pending.length) {
    const name = pending.pop()!;
    if (keep.has(name)) continue;
    const n = byName.get(name);
    if (!n) throw new Error(`freezeGraphDef: no node ${name}`);
    keep.add(name);
    for (const i of n.input ?? []) if (!i.startsWith('^')) pending.push(nodeName(i));
  }
  const node: NodeDef[] = [];
  for (const n of gd.node ?? []) {
    if (!keep.has(n.name!)) continue;
    const input = (n.input ?? []).filter((i) => !i.startsWith('^'));
    if (n.op === 'VariableV2') {
      const v = await values(n.name!);
      node.push({ name: n.name, op: 'Const', input: [], attr: { dtype: n.attr!.dtype!, value: { tensor: tensorToProto(v) } } });
    } else {
      node.push({ ...n, input });
    }
  }
  const frozen: GraphDef = { node, versions: gd.versions };
  const used = functionsCalled(node, functionsOf(gd));
  if (used.length > 0) frozen.library = { ...gd.library, function: used } as GraphDef['library'];
  return frozen;
}

/** The functions `nodes` call (through func attrs, as While's cond and body), and those they call, in `library`'s order. */
function functionsCalled(nodes: readonly NodeDef[], library: readonly FunctionDefProto[]): FunctionDefProto[] {
  const byName = new Map(library.map((f) => [f.signature!.name!, f]));
  const called = new Set<string>();
  const visit = (ns: readonly NodeDef[]): void => {
    for (const n of ns) {
      for (const a of Object.values(n.attr ?? {})) {
        const names = [a.func?.name, ...(a.list?.func ?? []).map((f) => f.name)];
        for (const name of names) {
          if (!name || called.has(name) || !byName.has(name)) continue;
          called.add(name);
          visit(byName.get(name)!.node_def ?? []);
        }
      }
    }
  };
  visit(nodes);
  return library.filter((f) => called.has(f.signature!.name!));
}

type WeightDType = 'float32' | 'int32' | 'bool' | 'string';

/**
 * A GraphDef as TensorFlow.js graph-model artifacts: the topology as tensorflowjs_converter writes
 * it (proto3 JSON: camelCase fields, bytes in base64, 64-bit integers as strings) and every Const's
 * value as a weight (int64 as int32, as tfjs holds it). tfjs keys weights by node name across the
 * graph and its functions, so function-body constants are renamed `function/node`.
 */
export function toTfjsArtifacts(gd: GraphDef) {
  const camel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const json = (v: unknown, dataKeys = false): unknown => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    if (Array.isArray(v)) return v.map((x) => json(x));
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
      const l = v as { low: number; high: number };
      return String(l.high * 2 ** 32 + (l.low >>> 0));
    }
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) o[dataKeys ? k : camel(k)] = json(x, k === 'attr' || k === 'ret');
      return o;
    }
    return v;
  };
  const weightSpecs: { name: string; shape: number[]; dtype: WeightDType }[] = [];
  const chunks: Uint8Array[] = [];
  const takeConst = (n: NodeDef): void => {
    let a = attrFromProto(n.attr!.value!, n.name!, true) as tf.NDArray;
    if (a.dtype === 'int64') a = tf.NDArray.from(Array.from(a.data as BigInt64Array, Number), 'int32', a.shape);
    if (a.dtype === 'string') {
      const parts = (a.toFlat() as string[]).flatMap((s) => {
        const b = Buffer.from(s, 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32LE(b.length);
        return [len, b];
      });
      chunks.push(new Uint8Array(Buffer.concat(parts)));
    } else if (a.dtype === 'float32' || a.dtype === 'int32' || a.dtype === 'bool') {
      chunks.push(tensorBytes(a));
    } else {
      throw new Error(`toTfjsArtifacts: no tfjs weight of dtype ${a.dtype} (${n.name})`);
    }
    weightSpecs.push({ name: n.name!, shape: [...a.shape], dtype: a.dtype });
    delete n.attr!.value;
  };
  const g = structuredClone(gd);
  for (const n of g.node ?? []) if (n.op === 'Const') takeConst(n);
  for (const f of functionsOf(g)) {
    const renamed = new Map<string, string>();
    for (const n of f.node_def ?? []) {
      if (n.op !== 'Const') continue;
      renamed.set(n.name!, `${f.signature!.name}/${n.name}`);
      n.name = `${f.signature!.name}/${n.name}`;
      takeConst(n);
    }
    const fix = (s: string): string => {
      const m = /^(\^?)([^:]+)(.*)$/.exec(s)!;
      return `${m[1]}${renamed.get(m[2]!) ?? m[2]}${m[3]}`;
    };
    for (const n of f.node_def ?? []) n.input = (n.input ?? []).map(fix);
    for (const k of Object.keys(f.ret ?? {})) f.ret![k] = fix(f.ret![k]!);
  }
  const weightData = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    weightData.set(c, off);
    off += c.length;
  }
  return { modelTopology: json(g) as object, weightSpecs, weightData: weightData.buffer, format: 'graph-model' };
}

// ---- the op definitions tfjs-converter records ----

interface TfjsParam {
  start: number;
  end?: number;
  name: string;
  type: string;
}
interface TfjsAttr {
  tfName: string;
  name: string;
  type: string;
  defaultValue?: unknown;
  notSupported?: boolean;
  tfDeprecatedName?: string;
}
export interface TfjsOpMapper {
  tfOpName: string;
  category: string;
  inputs?: TfjsParam[];
  attrs?: TfjsAttr[];
}

let opList: Map<string, TfjsOpMapper> | undefined;
/** tfjs-converter's op mappers by TensorFlow op name, read from its op_list modules (plain data). */
export function tfjsOpList(): Map<string, TfjsOpMapper> {
  if (opList) return opList;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@tensorflow/tfjs-converter/package.json')), 'dist', 'operations', 'op_list');
  opList = new Map();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.js'))) {
    const text = readFileSync(join(dir, f), 'utf8').replace(/\/\/# sourceMappingURL=.*$/m, '');
    const m = /export const json\s*=\s*([\s\S]*?);\s*$/.exec(text.trim());
    if (!m) throw new Error(`tfjsOpList: ${f} has no 'export const json'`);
    const mappers = new Function(`return ${m[1]}`)() as TfjsOpMapper[];
    for (const op of mappers) opList.set(op.tfOpName, op);
  }
  return opList;
}

/** Whether an AttrValue holds a value of the kind a tfjs attr param reads. */
function attrKindMatches(v: AttrValueProto, type: string): boolean {
  const has = (k: string): boolean => Object.hasOwn(v, k) && (v as Record<string, unknown>)[k] !== undefined && (v as Record<string, unknown>)[k] !== null;
  const list = v.list as Record<string, unknown[] | undefined> | undefined;
  const listHas = (k: string): boolean => has('list') && (list?.[k]?.length ?? 0) >= 0;
  switch (type) {
    case 'number':
      return has('i') || has('f');
    case 'string':
      return has('s');
    case 'bool':
      return has('b');
    case 'dtype':
      return has('type');
    case 'shape':
      return has('shape');
    case 'func':
      return has('func');
    case 'number[]':
      return listHas('i') || listHas('f');
    case 'string[]':
      return listHas('s');
    case 'dtype[]':
      return listHas('type');
    case 'shape[]':
      return listHas('shape');
    case 'bool[]':
      return listHas('b');
    default:
      return true; // 'tensor' / 'tensors': read from inputs or weights, not checked here
  }
}

/**
 * Attrs tfjs-converter records wrongly ('Op.attr': TensorFlow's definition): with a kind TensorFlow's
 * op definition does not give them, or that TensorFlow's op does not have. They are not checked;
 * the check lists those it met.
 */
export const TFJS_RECORD_ERRORS: Readonly<Record<string, string>> = {
  'TensorListStack.num_elements': "TensorFlow's list_ops.cc: num_elements: int = -1 (tfjs records a dtype)",
  'OnesLike.dtype': "TensorFlow's array_ops.cc: OnesLike has the attr T only (tfjs records a dtype, which its executor does not read)",
};

export interface OpDefCheck {
  /** Nodes that disagree with tfjs's record of their op: what and where. */
  problems: string[];
  /** Op types tfjs-converter records, of those checked. */
  checked: string[];
  /** Op types tfjs-converter has no record of (not checkable here). */
  unrecorded: string[];
  /** Attrs tfjs records under a name that is not TensorFlow's ('Op.name'): skipped. */
  notTensorFlowNames: string[];
  /** Entries of TFJS_RECORD_ERRORS met (their kind not checked). */
  recordErrors: string[];
}

/**
 * Checks every node of a GraphDef and of its functions against tfjs-converter's record of its op:
 * the number of (non-control) inputs against the input params (exact without a variadic param, at
 * least the fixed ones with one), every attr tfjs reads without a default present, and every attr
 * it reads of the kind it reads. Attrs tfjs marks notSupported (it does not read them) are not
 * checked, nor those it records under a camelCase name no TensorFlow graph uses (listed).
 */
export function checkAgainstTfjsOpList(gd: GraphDef): OpDefCheck {
  const ops = tfjsOpList();
  const problems: string[] = [];
  const checked = new Set<string>();
  const unrecorded = new Set<string>();
  const notTensorFlowNames = new Set<string>();
  const recordErrors = new Set<string>();
  const visit = (n: NodeDef, where: string): void => {
    const mapper = ops.get(n.op!);
    if (!mapper) {
      unrecorded.add(n.op!);
      return;
    }
    checked.add(n.op!);
    const what = `${where}${n.name} (${n.op})`;
    const inputs = (n.input ?? []).filter((i) => !i.startsWith('^')).length;
    const params = mapper.inputs ?? [];
    const variadic = params.find((p) => p.end !== undefined);
    const fixed = params.filter((p) => p.end === undefined);
    if (!variadic && params.length && inputs !== fixed.length) problems.push(`${what}: ${inputs} inputs, tfjs records ${fixed.length} (${fixed.map((p) => p.name).join(', ')})`);
    if (variadic && inputs < fixed.length) problems.push(`${what}: ${inputs} inputs, tfjs records at least ${fixed.length}`);
    for (const a of mapper.attrs ?? []) {
      // An attr tfjs does not read records no kind to check; a camelCase tfName is tfjs's spelling,
      // not TensorFlow's (no TensorFlow graph has it), so there is nothing to match.
      if (a.notSupported) continue;
      if (/^[a-z]+[A-Z]/.test(a.tfName)) {
        notTensorFlowNames.add(`${n.op}.${a.tfName}`);
        continue;
      }
      const names = [a.tfName, a.tfDeprecatedName].filter((x): x is string => !!x);
      const present = names.find((k) => Object.hasOwn(n.attr ?? {}, k));
      if (Object.hasOwn(TFJS_RECORD_ERRORS, `${n.op}.${a.tfName}`)) {
        recordErrors.add(`${n.op}.${a.tfName}`);
        continue;
      }
      if (present === undefined) {
        if (a.defaultValue === undefined && !a.notSupported) problems.push(`${what}: no attr '${a.tfName}', which tfjs reads and has no default for`);
        continue;
      }
      if (!attrKindMatches(n.attr![present]!, a.type)) problems.push(`${what}: attr '${present}' is not a ${a.type} (${JSON.stringify(n.attr![present])})`);
    }
  };
  for (const n of gd.node ?? []) visit(n, '');
  for (const f of functionsOf(gd)) for (const n of f.node_def ?? []) visit(n, `function ${f.signature?.name}: `);
  return { problems, checked: [...checked].sort(), unrecorded: [...unrecorded].sort(), notTensorFlowNames: [...notTensorFlowNames].sort(), recordErrors: [...recordErrors].sort() };
}

/** The op types of a GraphDef (its functions' included) that tfjs-converter has no op for, sorted. */
export function opsTfjsLacks(gd: GraphDef): string[] {
  const ops = tfjsOpList();
  const types = [...(gd.node ?? []), ...functionsOf(gd).flatMap((f) => f.node_def ?? [])].map((n) => n.op!);
  return [...new Set(types.filter((t) => !ops.has(t)))].sort();
}
