// `weir inspect PATH`: what a checkpoint, GraphDef, MetaGraphDef or SavedModel holds, as text.
import { CheckpointReader } from '../io/checkpoint.js';
import type { GraphDef, MetaGraphDef, NodeDef, TensorInfo } from '../io/proto.js';
import { dtypeFromTF, shapeFromProto, tfDataTypeName } from '../io/tensor_proto.js';
import { formatShape } from '../core/shape.js';
import type { Model } from './models.js';


/** Rows of cells as left-aligned columns, each line indented by `indent`. */
export function table(rows: string[][], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A TensorFlow DataType enum as weir's dtype name where weir has it ('float32'), else TensorFlow's ('DT_HALF'). */
function dtypeName(v: number | undefined): string {
  if (v === undefined) return '?';
  try {
    return dtypeFromTF(v, 'dtype');
  } catch {
    return tfDataTypeName(v);
  }
}

function shapeName(p: Parameters<typeof shapeFromProto>[0]): string {
  try {
    return formatShape(shapeFromProto(p, 'shape'));
  } catch {
    return '<invalid>';
  }
}

export function describeCheckpoint(prefix: string, reader: CheckpointReader): string[] {
  const index = reader.index;
  const rows: string[][] = [['name', 'dtype', 'shape', 'size']];
  let values = 0;
  let bytes = 0;
  for (const name of index.names()) {
    try {
      const e = index.entry(name);
      const n = e.shape.reduce((a, b) => a * b, 1);
      values += n;
      bytes += e.size;
      rows.push([name, e.dtype, formatShape(e.shape), formatBytes(e.size)]);
    } catch (err) {
      rows.push([name, '?', '?', `(weir cannot read it: ${(err as Error).message})`]);
    }
  }
  const count = index.names().length;
  return [
    `V2 checkpoint ${prefix} (${plural(index.numShards, 'data shard')})`,
    `${plural(count, 'tensor')}, ${plural(values, 'value')}, ${formatBytes(bytes)}`,
    ...(count ? table(rows) : []),
  ];
}

function attrType(n: NodeDef, name: string): string {
  const a = n.attr?.[name];
  return a?.type !== undefined ? dtypeName(a.type) : '?';
}

function describeGraphDef(gd: GraphDef, indent: string): string[] {
  const nodes = gd.node ?? [];
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.op ?? '?', (counts.get(n.op ?? '?') ?? 0) + 1);
  const byCount = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const producer = gd.versions?.producer;
  const out = [`${indent}${plural(nodes.length, 'node')} of ${plural(counts.size, 'op type')}${producer !== undefined ? ` (GraphDef producer version ${producer})` : ''}`];
  if (byCount.length) {
    out.push(`${indent}ops by type:`);
    const w = String(byCount[0]![1]).length;
    out.push(...table(byCount.map(([op, c]) => [String(c).padStart(w), op]), `${indent}  `));
  }
  const placeholders = nodes.filter((n) => n.op === 'Placeholder' || n.op === 'PlaceholderWithDefault');
  if (placeholders.length) {
    out.push(`${indent}placeholders:`);
    out.push(
      ...table(
        placeholders.map((n) => [n.name ?? '?', attrType(n, 'dtype'), shapeName(n.attr?.shape?.shape)]),
        `${indent}  `,
      ),
    );
  }
  return out;
}

function tensorInfoRow(key: string, t: TensorInfo): string[] {
  return [`${key}:`, t.name ?? (t.coo_sparse ? `sparse ${t.coo_sparse.values_tensor_name ?? '?'}` : '?'), dtypeName(t.dtype), shapeName(t.tensor_shape)];
}

function describeMetaGraph(mg: MetaGraphDef, indent: string): string[] {
  const info = mg.meta_info_def ?? {};
  const tags = info.tags ?? [];
  const version = info.tensorflow_version ? `, written by TensorFlow ${info.tensorflow_version}` : '';
  const out = [`${indent}MetaGraphDef tagged [${tags.join(', ')}]${version}`];
  out.push(...describeGraphDef(mg.graph_def ?? {}, `${indent}  `));
  const sigs = Object.entries(mg.signature_def ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  out.push(`${indent}  ${plural(sigs.length, 'signature')}${sigs.length ? ':' : ''}`);
  for (const [key, sig] of sigs) {
    out.push(`${indent}    '${key}'${sig.method_name ? ` (${sig.method_name})` : ''}`);
    for (const part of ['inputs', 'outputs'] as const) {
      const entries = Object.entries(sig[part] ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      out.push(`${indent}      ${part}:${entries.length ? '' : ' none'}`);
      out.push(...table(entries.map(([k, t]) => tensorInfoRow(k, t)), `${indent}        `));
    }
  }
  return out;
}

/** The text `weir inspect` prints for an opened model. */
export async function inspectModel(model: Model): Promise<string> {
  const lines: string[] = [];
  switch (model.kind) {
    case 'checkpoint':
      lines.push(...describeCheckpoint(model.prefix, model.reader));
      break;
    case 'graph':
      lines.push(`GraphDef ${model.path} (${model.format === 'text' ? 'text format' : 'binary'})`);
      lines.push(...describeGraphDef(model.graphDef, ''));
      break;
    case 'metagraph':
      lines.push(`MetaGraphDef ${model.path}`);
      lines.push(...describeMetaGraph(model.metaGraph, '  '));
      break;
    case 'savedmodel': {
      const mgs = model.savedModel.meta_graphs ?? [];
      lines.push(`SavedModel ${model.path} (${plural(mgs.length, 'MetaGraphDef')})`);
      for (const mg of mgs) lines.push(...describeMetaGraph(mg, '  '));
      if (model.variablesPrefix) {
        const reader = await CheckpointReader.open(model.variablesPrefix);
        lines.push(...describeCheckpoint(model.variablesPrefix, reader).map((l) => `  ${l}`));
      } else {
        lines.push('  no variables');
      }
      break;
    }
  }
  return lines.join('\n') + '\n';
}
