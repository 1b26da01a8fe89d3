// The compiler's IR: a lightweight, mutable copy of the part of a user's Graph that one run needs.
// Passes rewrite it freely; the user's Graph is never touched.
import type { DType } from '../src/core/dtypes.js';
import { describeOp, type AttrValue, type Operation, type Tensor } from '../src/graph.js';
import { NDArray } from '../src/core/ndarray.js';
import type { Shape } from '../src/core/shape.js';
import type { ElementwiseProgram, KernelNode } from '../runtime/backend.js';
import { ARG, hasExternalOutput, isAliasOp } from '../ops/registry.js';
import { variableKey } from '../src/func_graph.js';

export { ARG };

/** One output of a node. */
export class Value {
  constructor(
    readonly node: PNode,
    readonly index: number,
    public dtype: DType,
    public shape: Shape,
  ) {}
  get name(): string {
    return `${this.node.name}:${this.index}`;
  }
}

export type { ElementwiseProgram } from '../runtime/backend.js';

export interface PNode {
  /** Unique within its PlanGraph; stable across passes (clones keep it). */
  readonly id: number;
  name: string;
  type: string;
  attrs: Record<string, AttrValue>;
  /** Data inputs; null for a reference input (see refVars). */
  inputs: (Value | null)[];
  controlInputs: PNode[];
  outputs: Value[];
  /** For each input: the variable it refers to, when it is a reference input (Assign's `ref`). */
  refVars: (string | undefined)[];
  /** For reference inputs: the user graph's tensor (shape functions read it). */
  refTensors: (Tensor | undefined)[];
  /** Position in the original execution order; scheduling follows it. */
  order: number;
  /** Number of variable-mutating ops before this node in the original order (see fusion rules). */
  epoch: number;
  stateful: boolean;
  /** The user's op it stands for (errors name it); fused nodes name their last member. */
  origin?: Operation;
  /** Names of the graph ops folded into this node (fusion), for plan listings and errors. */
  members?: string[];
  program?: ElementwiseProgram;
  /** Set when the op's shape function rejected the specialized input shapes: it will fail at run time. */
  shapeError?: boolean;
}

export class PlanGraph {
  nodes: PNode[] = [];
  /** Fed tensors and the _Arg values that stand for them. */
  feeds = new Map<Tensor, Value>();
  fetches: Value[] = [];
  targets: PNode[] = [];
  /** Set when a rewrite computes a value by a different (more stable) formula, not just regrouped. */
  numericallyRewritten = false;
  private nextId = 0;

  /** Adds a node (outputs given as specs). */
  add(spec: {
    name: string;
    type: string;
    attrs?: Record<string, AttrValue>;
    inputs?: (Value | null)[];
    controlInputs?: PNode[];
    outputs: readonly { dtype: DType; shape: Shape }[];
    refVars?: (string | undefined)[];
    refTensors?: (Tensor | undefined)[];
    order: number;
    epoch?: number;
    stateful?: boolean;
    origin?: Operation;
    members?: string[];
    program?: ElementwiseProgram;
  }): PNode {
    const inputs = spec.inputs ?? [];
    const node: PNode = {
      id: this.nextId++,
      name: spec.name,
      type: spec.type,
      attrs: spec.attrs ?? {},
      inputs,
      controlInputs: spec.controlInputs ?? [],
      outputs: [],
      refVars: spec.refVars ?? inputs.map(() => undefined),
      refTensors: spec.refTensors ?? inputs.map(() => undefined),
      order: spec.order,
      epoch: spec.epoch ?? 0,
      stateful: spec.stateful ?? false,
      origin: spec.origin,
      members: spec.members,
      program: spec.program,
    };
    node.outputs = spec.outputs.map((o, i) => new Value(node, i, o.dtype, o.shape === null ? null : [...o.shape]));
    this.nodes.push(node);
    return node;
  }

  /** A Const node holding `value`, placed at `order`. */
  addConst(name: string, value: NDArray, order: number, epoch = 0, controlInputs: PNode[] = []): PNode {
    return this.add({
      name: this.uniqueName(name),
      type: 'Const',
      attrs: { value, dtype: value.dtype },
      outputs: [{ dtype: value.dtype, shape: value.shape }],
      controlInputs,
      order,
      epoch,
    });
  }

  uniqueName(base: string): string {
    const names = new Set(this.nodes.map((n) => n.name));
    if (!names.has(base)) return base;
    for (let i = 1; ; i++) if (!names.has(`${base}_${i}`)) return `${base}_${i}`;
  }

  /**
   * A deep copy of the graph structure (nodes, values, edges); attrs and constant values are shared,
   * since passes replace them rather than mutate them.
   */
  clone(): PlanGraph {
    const g = new PlanGraph();
    g.nextId = this.nextId;
    g.numericallyRewritten = this.numericallyRewritten;
    const map = new Map<PNode, PNode>();
    for (const n of this.nodes) {
      const c: PNode = { ...n, attrs: { ...n.attrs }, inputs: [], controlInputs: [], outputs: [], refVars: [...n.refVars], refTensors: [...n.refTensors] };
      c.outputs = n.outputs.map((v) => new Value(c, v.index, v.dtype, v.shape === null ? null : [...v.shape]));
      map.set(n, c);
      g.nodes.push(c);
    }
    const mv = (v: Value): Value => map.get(v.node)!.outputs[v.index]!;
    for (const n of this.nodes) {
      const c = map.get(n)!;
      c.inputs = n.inputs.map((v) => (v ? mv(v) : null));
      c.controlInputs = n.controlInputs.map((x) => map.get(x)!);
    }
    for (const [t, v] of this.feeds) g.feeds.set(t, mv(v));
    g.fetches = this.fetches.map(mv);
    g.targets = this.targets.map((x) => map.get(x)!);
    return g;
  }

  /** Consumers of every value (data edges), in node order. */
  uses(): Map<Value, PNode[]> {
    const m = new Map<Value, PNode[]>();
    for (const n of this.nodes) {
      for (const v of n.inputs) {
        if (!v) continue;
        const l = m.get(v);
        if (l) {
          if (l[l.length - 1] !== n) l.push(n);
        } else m.set(v, [n]);
      }
    }
    return m;
  }

  /** Nodes that name each node as a control input. */
  controlUses(): Map<PNode, PNode[]> {
    const m = new Map<PNode, PNode[]>();
    for (const n of this.nodes) {
      for (const c of n.controlInputs) {
        const l = m.get(c);
        if (l) l.push(n);
        else m.set(c, [n]);
      }
    }
    return m;
  }

  /** Values whose producer must be kept and whose identity matters: fetched ones. */
  fetchedValues(): Set<Value> {
    return new Set(this.fetches);
  }

  /** Nodes passes must keep (by name and role): producers of fetches, and targets. */
  preserved(): Set<PNode> {
    const s = new Set<PNode>(this.targets);
    for (const v of this.fetches) s.add(v.node);
    return s;
  }

  /** Redirects every data use of `from` (node inputs, fetches, feeds) to `to`. */
  replaceAllUses(from: Value, to: Value): void {
    if (from === to) return;
    for (const n of this.nodes) {
      for (let i = 0; i < n.inputs.length; i++) if (n.inputs[i] === from) n.inputs[i] = to;
    }
    for (let i = 0; i < this.fetches.length; i++) if (this.fetches[i] === from) this.fetches[i] = to;
  }

  /** Redirects control edges on `from` to the nodes in `to` (deduplicated). */
  replaceControlUses(from: PNode, to: readonly PNode[]): void {
    for (const n of this.nodes) {
      const i = n.controlInputs.indexOf(from);
      if (i < 0) continue;
      const rest = n.controlInputs.filter((c) => c !== from);
      for (const t of to) if (t !== n && !rest.includes(t)) rest.push(t);
      n.controlInputs = rest;
    }
    const ti = this.targets.indexOf(from);
    if (ti >= 0) {
      const rest = this.targets.filter((t) => t !== from);
      for (const t of to) if (!rest.includes(t)) rest.push(t);
      this.targets = rest;
    }
  }

  remove(dead: ReadonlySet<PNode>): void {
    if (dead.size) this.nodes = this.nodes.filter((n) => !dead.has(n));
  }

  /**
   * Sorts nodes into an execution order: a topological order over data edges, control edges and
   * the variable orderings (see variableOrdering). Among ready nodes, constants and ops updating a
   * variable go first (so gradients die as soon as they are applied), then the one earliest in the
   * original order.
   */
  schedule(): void {
    const index = new Map<PNode, number>();
    this.nodes.forEach((n, i) => index.set(n, i));
    const deps = dependencies(this.nodes);
    const pending = new Map<PNode, number>();
    const succ = new Map<PNode, PNode[]>();
    for (const [n, d] of deps) {
      pending.set(n, d.size);
      for (const x of d) {
        const l = succ.get(x);
        if (l) l.push(n);
        else succ.set(x, [n]);
      }
    }
    // Constants and variable reads cost nothing and hold no arena memory: they go first, so that
    // nothing waits for one.
    const key = (n: PNode): number => (isFree(n) ? -1e12 : 0) + n.order * 1e6 + index.get(n)!;
    const heap = new MinHeap<PNode>(key);
    for (const n of this.nodes) if (pending.get(n) === 0) heap.push(n);
    const out: PNode[] = [];
    while (heap.size) {
      const n = heap.pop();
      out.push(n);
      for (const s of succ.get(n) ?? []) {
        const k = pending.get(s)! - 1;
        pending.set(s, k);
        if (k === 0) heap.push(s);
      }
    }
    if (out.length !== this.nodes.length) {
      const stuck = this.nodes.filter((n) => pending.get(n)! > 0).map((n) => n.name);
      throw new Error(`PlanGraph has a cycle through ${stuck.slice(0, 5).join(', ')}`);
    }
    this.nodes = out;
  }

  /**
   * Checks the graph is well formed: every edge, fetch and target names a node of the graph, and
   * the node order is a topological order. Throws describing the first problem.
   */
  validate(): void {
    const pos = new Map<PNode, number>();
    this.nodes.forEach((n, i) => pos.set(n, i));
    const where = (n: PNode): string => `'${n.name}' (${n.type})`;
    this.nodes.forEach((n, i) => {
      n.inputs.forEach((v, k) => {
        if (!v) return;
        const p = pos.get(v.node);
        if (p === undefined) throw new Error(`input ${k} of ${where(n)} comes from ${where(v.node)}, which is not in the graph`);
        if (v.node.outputs[v.index] !== v) throw new Error(`input ${k} of ${where(n)} is a stale value of ${where(v.node)}`);
        if (p >= i) throw new Error(`${where(n)} runs before its input ${where(v.node)}`);
      });
      for (const c of n.controlInputs) {
        const p = pos.get(c);
        if (p === undefined) throw new Error(`control input ${where(c)} of ${where(n)} is not in the graph`);
        if (p >= i) throw new Error(`${where(n)} runs before its control input ${where(c)}`);
      }
    });
    for (const v of this.fetches) if (!pos.has(v.node)) throw new Error(`fetched ${v.name} is not in the graph`);
    for (const t of this.targets) if (!pos.has(t)) throw new Error(`target ${where(t)} is not in the graph`);
    for (const v of this.feeds.values()) if (!pos.has(v.node)) throw new Error(`fed ${v.name} is not in the graph`);
  }

  /** Human-readable listing, one node per line (pass dumps, tests). */
  toString(): string {
    const vname = (v: Value | null): string => (v ? (v.node.type === ARG ? `${v.node.name}(fed)` : v.name) : '<ref>');
    return this.nodes
      .map((n) => {
        const ctl = n.controlInputs.length ? ` ^(${n.controlInputs.map((c) => c.name).join(', ')})` : '';
        const shapes = n.outputs.map((o) => `${o.dtype}${o.shape === null ? '<?>' : `[${o.shape.map((d) => d ?? '?').join(',')}]`}`).join(', ');
        return `${n.name} = ${n.type}(${n.inputs.map(vname).join(', ')})${ctl} -> ${shapes}`;
      })
      .join('\n');
  }
}

/** describeOp for plan nodes: names the user's op (and where it was created) when there is one. */
export function describeNode(n: PNode): string {
  if (n.members && n.members.length > 1) {
    return `${n.type} op '${n.name}' (fusing ${n.members.map((m) => `'${m}'`).join(', ')})`;
  }
  return describeOp({ type: n.origin?.type ?? n.type, name: n.origin?.name ?? n.name, createdAt: n.origin?.createdAt });
}

export function isFullyStatic(v: Value): v is Value & { shape: number[] } {
  return v.shape !== null && v.shape.every((d) => d !== null);
}

/** The constant value of v when its producer is a Const node. */
export function constOf(v: Value | null | undefined): NDArray | undefined {
  if (!v || v.node.type !== 'Const') return undefined;
  const val = v.node.attrs.value;
  return val instanceof NDArray ? val : undefined;
}

class MinHeap<T> {
  private a: T[] = [];
  constructor(private readonly key: (x: T) => number) {}
  get size(): number {
    return this.a.length;
  }
  push(x: T): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    const k = this.key(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.key(a[p]!) <= k) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): T {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      let i = 0;
      const k = this.key(last);
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && this.key(a[r]!) < this.key(a[l]!) ? r : l;
        if (this.key(a[c]!) >= k) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/** Nodes no pass may fold, merge, fuse or drop: effects and randomness (stateful), variable updates, unknown ops, fed values. */
export function isBarrier(n: PNode): boolean {
  return n.stateful || n.refVars.some((r) => r !== undefined) || n.type === ARG;
}

/** Nodes that cost nothing and hold no planned memory: constants, variables, fed values, variable updates. */
export function isFree(n: PNode): boolean {
  return hasExternalOutput(n.type) || n.refVars.some((r) => r !== undefined);
}

/** The kernel's view of a node. */
export function toKernelNode(n: PNode): KernelNode {
  return {
    name: n.name,
    type: n.type,
    attrs: n.attrs,
    outputs: n.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape })),
    inputDTypes: n.inputs.map((v, i) => (v ? v.dtype : n.refTensors[i]!.dtype)),
    inputShapes: n.inputs.map((v, i) => (v ? v.shape : n.refTensors[i]!.shape)),
    refVars: n.refVars,
    varName: n.type === 'VariableV2' ? variableKey(n) : undefined,
    program: n.program,
  };
}

/**
 * Removes nodes nothing needs. Roots: the producers of fetches, the targets, and every node with
 * effects (a stateful op the unoptimized run would execute still executes, so random streams and
 * errors stay the same). Fed values (_Arg) are kept.
 */
export function removeDeadNodes(g: PlanGraph): void {
  const live = new Set<PNode>();
  const stack: PNode[] = [];
  const need = (n: PNode): void => {
    if (!live.has(n)) {
      live.add(n);
      stack.push(n);
    }
  };
  for (const v of g.fetches) need(v.node);
  for (const n of g.targets) need(n);
  for (const n of g.nodes) if (n.type === ARG || n.stateful || n.refVars.some((r) => r !== undefined)) need(n);
  while (stack.length) {
    const n = stack.pop()!;
    for (const v of n.inputs) if (v) need(v.node);
    for (const c of n.controlInputs) need(c);
  }
  if (live.size !== g.nodes.length) g.nodes = g.nodes.filter((n) => live.has(n));
}

/**
 * Nodes whose value can depend on when they run: variable reads (VariableV2 returns the variable's
 * storage), ops updating variables, and everything computed from them.
 */
export function stateDependent(g: PlanGraph): Set<PNode> {
  const s = new Set<PNode>();
  for (const n of g.nodes) {
    if (n.type === 'VariableV2' || n.refVars.some((r) => r !== undefined) || n.inputs.some((v) => v && s.has(v.node))) s.add(n);
  }
  return s;
}

/**
 * The orderings between variable reads and updates that the original order implies, as
 * (before, after) pairs. VariableV2 hands out the variable's storage and optimizer kernels update
 * it in place, so an op reading a variable sees it as of when it runs: each op updating variable V
 * must stay after the ops that read V before it (in the original order) and before those that
 * read V after it, and updates of one variable keep their order. "Reading" means taking as input
 * a reference to V: the output of VariableV2 V, of an op updating V (they output the variable),
 * or of Identity-like ops passing such a reference on; VariableV2 V itself reads V too (Assign
 * writes the storage it hands out in place, or replaces it when the value's size changes).
 */
/**
 * What each node must wait for: its data and control inputs among `nodes`, plus the variable
 * orderings (see variableOrdering).
 */
export function dependencies(nodes: readonly PNode[]): Map<PNode, Set<PNode>> {
  const present = new Set(nodes);
  const deps = new Map<PNode, Set<PNode>>();
  for (const n of nodes) {
    const d = new Set<PNode>();
    for (const v of n.inputs) if (v && present.has(v.node)) d.add(v.node);
    for (const c of n.controlInputs) if (present.has(c)) d.add(c);
    deps.set(n, d);
  }
  for (const [before, after] of variableOrdering(nodes)) if (before !== after) deps.get(after)!.add(before);
  return deps;
}

export function variableOrdering(nodes: readonly PNode[]): [PNode, PNode][] {
  const refOf = new Map<Value, string>();
  const readers = new Map<string, PNode[]>();
  const writers = new Map<string, PNode[]>();
  const push = (m: Map<string, PNode[]>, k: string, n: PNode): void => {
    const l = m.get(k);
    if (l) {
      if (!l.includes(n)) l.push(n);
    } else m.set(k, [n]);
  };
  for (const n of nodes) {
    const written = n.refVars.filter((r): r is string => r !== undefined);
    for (const v of written) push(writers, v, n);
    // An op whose output is its input's memory passes a reference to a variable on.
    const passes = isAliasOp(n.type);
    for (const v of n.inputs) {
      const r = v ? refOf.get(v) : undefined;
      if (r === undefined) continue;
      if (passes) n.outputs.forEach((o) => refOf.set(o, r));
      else push(readers, r, n);
    }
    if (n.type === 'VariableV2') {
      // VariableV2 hands out the variable's current storage object, which Assign overwrites (or replaces, for another size).
      push(readers, variableKey(n), n);
      refOf.set(n.outputs[0]!, variableKey(n));
    }
    else if (written.length) n.outputs.forEach((o) => refOf.set(o, written[0]!));
  }
  const pairs: [PNode, PNode][] = [];
  for (const [v, ws] of writers) {
    const sorted = [...ws].sort((a, b) => a.order - b.order);
    for (let i = 1; i < sorted.length; i++) pairs.push([sorted[i - 1]!, sorted[i]!]);
    for (const r of readers.get(v) ?? []) {
      for (const w of sorted) {
        if (r === w) continue;
        if (r.order < w.order) pairs.push([r, w]);
        else pairs.push([w, r]);
      }
    }
  }
  return pairs;
}
