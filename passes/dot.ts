// Graphviz DOT pictures of a user's graph, or of a plan's graph before and after the passes.
import { Graph, type Operation } from '../src/graph.js';
import { FuncGraph } from '../src/func_graph.js';
import { formatShape, type Shape } from '../src/core/shape.js';
import type { Plan } from '../runtime/plan.js';
import { ARG, PlanGraph, type PNode } from './ir.js';

/**
 * A DOT string literal: backslashes and quotes escaped, line breaks as DOT's centered `\n`, other
 * control characters dropped. Every label and tooltip taken from a graph goes through this.
 */
export function dotString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '\n') out += '\\n';
    else if (c < 0x20 || c === 0x7f) out += ' ';
    else out += ch;
  }
  return out + '"';
}

interface DotNode {
  label: string;
  style: string;
}
interface DotEdge {
  from: number;
  to: number;
  label?: string;
  control?: boolean;
}

function render(lines: string[], prefix: string, nodes: DotNode[], edges: DotEdge[], indent: string): void {
  nodes.forEach((n, i) => lines.push(`${indent}${prefix}${i} [label=${dotString(n.label)}${n.style}];`));
  for (const e of edges) {
    const attrs = [e.label !== undefined ? `label=${dotString(e.label)}` : '', e.control ? 'style=dashed, arrowhead=odot' : ''].filter(Boolean);
    lines.push(`${indent}${prefix}${e.from} -> ${prefix}${e.to}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
  }
}

const tensorLabel = (dtype: string, shape: Shape): string => `${dtype}${formatShape(shape)}`;

function styleFor(type: string, fused: boolean): string {
  if (fused) return ', shape=box, style="rounded,filled", fillcolor="#ffe3a3"';
  if (type === 'Const') return ', shape=box, style="rounded,filled", fillcolor="#eeeeee"';
  if (type === 'VariableV2') return ', shape=box, style="rounded,filled", fillcolor="#cde8ff"';
  if (type === 'Placeholder' || type === ARG) return ', shape=box, style="rounded,filled", fillcolor="#d5f5d5"';
  return ', shape=box, style=rounded';
}

function fromOps(ops: readonly Operation[]): { nodes: DotNode[]; edges: DotEdge[] } {
  const id = new Map<Operation, number>();
  const nodes = ops.map((op, i) => {
    id.set(op, i);
    return { label: `${op.name}\n${op.type}`, style: styleFor(op.type, false) };
  });
  const edges: DotEdge[] = [];
  for (const op of ops) {
    for (const t of op.inputs) {
      const from = id.get(t.op);
      if (from !== undefined) edges.push({ from, to: id.get(op)!, label: tensorLabel(t.dtype, t.shape) });
    }
    for (const c of op.controlInputs) {
      const from = id.get(c);
      if (from !== undefined) edges.push({ from, to: id.get(op)!, control: true });
    }
  }
  return { nodes, edges };
}

function fromPlanGraph(g: PlanGraph): { nodes: DotNode[]; edges: DotEdge[] } {
  const id = new Map<PNode, number>();
  const nodes = g.nodes.map((n, i) => {
    id.set(n, i);
    const fused = (n.members?.length ?? 0) > 1 || n.type.startsWith('_Fused');
    const members = n.members && n.members.length > 1 ? `\n[${n.members.join(', ')}]` : '';
    const type = n.type === ARG ? 'fed' : n.type;
    return { label: `${n.name}\n${type}${members}`, style: styleFor(n.type, fused) };
  });
  const edges: DotEdge[] = [];
  for (const n of g.nodes) {
    for (const v of n.inputs) {
      if (!v) continue;
      const from = id.get(v.node);
      if (from !== undefined) edges.push({ from, to: id.get(n)!, label: tensorLabel(v.dtype, v.shape) });
    }
    for (const c of n.controlInputs) {
      const from = id.get(c);
      if (from !== undefined) edges.push({ from, to: id.get(n)!, control: true });
    }
  }
  return { nodes, edges };
}

/** A name DOT takes unquoted (an ID): letters, digits and underscores. */
const dotId = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, '_');

/**
 * A graph's ops, then each function body an op holds (a loop's cond and body, a cond's branches)
 * as a cluster of its own next to it, recursively, tied to the op by a dotted edge.
 */
function renderGraph(lines: string[], g: Graph, prefix: string, indent: string, counter: { count: number }): void {
  const ops = g.getOperations();
  const { nodes, edges } = fromOps(ops);
  render(lines, prefix, nodes, edges, indent);
  ops.forEach((op, i) => {
    for (const [attr, value] of Object.entries(op.attrs)) {
      if (!(value instanceof FuncGraph)) continue;
      const k = counter.count++;
      const cluster = `cluster_${dotId(`${op.name}_${attr}`)}_${k}`;
      const inner = `f${k}_`;
      lines.push(`${indent}subgraph ${cluster} {`, `${indent}  label=${dotString(`${op.name} (${op.type}): ${attr}`)};`, `${indent}  style="rounded,dashed";`);
      renderGraph(lines, value, inner, `${indent}  `, counter);
      lines.push(`${indent}}`);
      if (value.getOperations().length) {
        lines.push(`${indent}${prefix}${i} -> ${inner}0 [lhead=${cluster}, style=dotted, arrowhead=none, label=${dotString(attr)}];`);
      }
    }
  });
}

/**
 * Graphviz DOT for a Graph (every op; function bodies of control flow as clusters), a PlanGraph, or a Plan: the plan's graph before the passes
 * (pruned to the run) and after them, side by side as two clusters.
 */
export function toDot(what: Graph | Plan | PlanGraph, opts: { name?: string } = {}): string {
  const lines = [`digraph ${dotString(opts.name ?? 'weir')} {`, '  rankdir=TB;', '  compound=true;', '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=8];'];
  if (what instanceof Graph) {
    renderGraph(lines, what, 'n', '  ', { count: 0 });
  } else if (what instanceof PlanGraph) {
    const { nodes, edges } = fromPlanGraph(what);
    render(lines, 'n', nodes, edges, '  ');
  } else {
    const parts: [string, string, PlanGraph][] = [
      ['before', 'before passes', what.graphs.before],
      ['after', 'after passes', what.graphs.after],
    ];
    for (const [key, title, g] of parts) {
      lines.push(`  subgraph cluster_${key} {`, `    label=${dotString(title)};`);
      const { nodes, edges } = fromPlanGraph(g);
      render(lines, `${key}_`, nodes, edges, '    ');
      lines.push('  }');
    }
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
