// The board's graph view: a GraphDef as DOT with its name scopes collapsed into one node each (as
// TensorBoard draws them) except the scopes the user expanded, which become clusters holding their
// contents. Graphviz (src/cli/dot.ts) lays it out as SVG on the server.
import type { GraphDef, NodeDef } from '../../io/proto.js';
import { dotString } from '../../../passes/dot.js';

export interface GraphView {
  dot: string;
  /** SVG element id -> the name scope that a collapsed node stands for (click: expand it). */
  groups: Record<string, string>;
  /** SVG element id -> the name scope that a cluster shows (click: collapse it). */
  clusters: Record<string, string>;
  /** Nodes drawn (collapsed scopes counting one). */
  visible: number;
}

interface Item {
  key: string;
  /** A collapsed scope, or an op. */
  scope?: string;
  node?: NodeDef;
  ops: number;
  /** The expanded scope it is drawn inside ('' for the top level). */
  parent: string;
}

const STYLE: Record<string, string> = {
  Const: 'fillcolor="#eeeeee"',
  VariableV2: 'fillcolor="#cde8ff"',
  VarHandleOp: 'fillcolor="#cde8ff"',
  Placeholder: 'fillcolor="#d5f5d5"',
  PlaceholderWithDefault: 'fillcolor="#d5f5d5"',
};

/** The node a GraphDef input ('name', 'name:1', '^name') comes from. */
const sourceOf = (input: string): string => (input.startsWith('^') ? input.slice(1) : input).replace(/:\d+$/, '');

/** DOT of `gd` with every name scope collapsed except those in `expanded` (whose parents count as expanded too). */
export function graphView(gd: GraphDef, expanded: ReadonlySet<string>): GraphView {
  const nodes = gd.node ?? [];
  const scopes = new Set<string>();
  for (const n of nodes) {
    const parts = (n.name ?? '').split('/');
    for (let k = 1; k < parts.length; k++) scopes.add(parts.slice(0, k).join('/'));
  }
  const isOpen = (scope: string): boolean => {
    if (!expanded.has(scope)) return false;
    const i = scope.lastIndexOf('/');
    return i < 0 || isOpen(scope.slice(0, i));
  };
  const items = new Map<string, Item>();
  const itemOf = new Map<string, Item>();
  for (const n of nodes) {
    const name = n.name ?? '';
    const parts = name.split('/');
    let parent = '';
    let item: Item | undefined;
    for (let d = 1; d <= parts.length && !item; d++) {
      const prefix = parts.slice(0, d).join('/');
      // An op named like a scope (a summary op and its 'loss/tags' const) goes inside the scope.
      if (scopes.has(prefix) && !isOpen(prefix)) {
        const key = `g:${prefix}`;
        item = items.get(key) ?? { key, scope: prefix, ops: 0, parent };
        item.ops++;
      } else if (d === parts.length) {
        item = { key: `o:${name}`, node: n, ops: 1, parent };
      } else {
        parent = prefix;
      }
    }
    items.set(item!.key, item!);
    itemOf.set(name, item!);
  }

  const ids = new Map<string, string>();
  [...items.keys()].forEach((k, i) => ids.set(k, `n${i}`));
  const view: GraphView = { dot: '', groups: {}, clusters: {}, visible: items.size };
  const lines = [
    'digraph "weir" {',
    '  rankdir=TB; nodesep=0.25; ranksep=0.35; bgcolor="transparent";',
    '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="#ffffff", color="#8a94a6", penwidth=1];',
    '  edge [color="#9aa3b2", arrowsize=0.6];',
  ];
  const nodeLine = (item: Item, indent: string): string => {
    const id = ids.get(item.key)!;
    if (item.scope !== undefined) {
      const gid = `group-${id}`;
      view.groups[gid] = item.scope;
      const label = `${item.scope.slice(item.scope.lastIndexOf('/') + 1)}\n${item.ops} op${item.ops === 1 ? '' : 's'}`;
      return `${indent}${id} [id=${dotString(gid)}, label=${dotString(label)}, tooltip=${dotString(`${item.scope} (click to expand)`)}, shape=box, style="rounded,filled,bold", fillcolor="#fde9c9", color="#d08a2b"];`;
    }
    const n = item.node!;
    const name = n.name ?? '';
    const style = STYLE[n.op ?? ''];
    const short = name.slice(name.lastIndexOf('/') + 1);
    // 'MatMul' of type MatMul is said once.
    const label = short === n.op ? short : `${short}\n${n.op ?? '?'}`;
    return `${indent}${id} [label=${dotString(label)}, tooltip=${dotString(`${name} (${n.op ?? '?'})`)}${style ? `, ${style}` : ''}];`;
  };

  // Expanded scopes as nested clusters, each with the items drawn directly inside it.
  const children = new Map<string, Item[]>();
  for (const item of items.values()) {
    const list = children.get(item.parent) ?? [];
    list.push(item);
    children.set(item.parent, list);
  }
  const parentScope = (s: string): string => s.slice(0, Math.max(0, s.lastIndexOf('/')));
  const openScopes = new Set<string>();
  for (const p of children.keys()) for (let s = p; s !== ''; s = parentScope(s)) openScopes.add(s);
  const sortedOpen = [...openScopes].sort();
  let clusterIndex = 0;
  const emit = (scope: string, indent: string): void => {
    for (const item of children.get(scope) ?? []) lines.push(nodeLine(item, indent));
    for (const inner of sortedOpen.filter((s) => parentScope(s) === scope)) {
      const cid = `cluster-${clusterIndex++}`;
      view.clusters[cid] = inner;
      lines.push(`${indent}subgraph "cluster_${cid}" {`);
      lines.push(
        `${indent}  id=${dotString(cid)}; label=${dotString(inner.slice(inner.lastIndexOf('/') + 1))}; tooltip=${dotString(`${inner} (click to collapse)`)}; labeljust=l; fontname="Helvetica"; fontsize=11; style="rounded,filled"; fillcolor="#fff7ec"; color="#d08a2b";`,
      );
      emit(inner, `${indent}  `);
      lines.push(`${indent}}`);
    }
  };
  emit('', '  ');

  const edges = new Map<string, { control: boolean }>();
  for (const n of nodes) {
    const to = itemOf.get(n.name ?? '')!;
    for (const input of n.input ?? []) {
      const from = itemOf.get(sourceOf(input));
      if (!from || from === to) continue;
      const key = `${ids.get(from.key)} -> ${ids.get(to.key)}`;
      const control = input.startsWith('^');
      const e = edges.get(key);
      if (!e) edges.set(key, { control });
      else e.control &&= control;
    }
  }
  for (const [key, e] of edges) lines.push(`  ${key}${e.control ? ' [style=dashed, arrowhead=odot]' : ''};`);
  lines.push('}');
  view.dot = lines.join('\n') + '\n';
  return view;
}
