// Elementwise fusion: clusters of elementwise ops over one shape become one generated kernel.
import { FUSED_ELEMENTWISE } from '../ops/registry.js';
import { ARG, isBarrier, isFullyStatic, removeDeadNodes, type ElementwiseProgram, type PlanGraph, type PNode, type Value } from './ir.js';

export { FUSED_ELEMENTWISE };

export interface FuseOptions {
  /** Whether the backend can generate code for this op (type, dtypes, attrs). */
  canFuse: (n: PNode) => boolean;
  /**
   * Most buffers a fused kernel may bind (inputs read from outside plus outputs); clusters are not
   * merged past it. WebGPU devices bind at most maxStorageBuffersPerShaderStage per dispatch.
   */
  maxOperands?: number;
}

/**
 * How input i of elementwise op n lines up with n's output shape `out`: its shape padded to out's
 * rank with 1s where it is broadcast; undefined when it does not broadcast to `out`.
 */
export function alignedShape(n: PNode, i: number, out: readonly number[]): number[] | undefined {
  const v = n.inputs[i];
  if (!v || !isFullyStatic(v)) return undefined;
  const s = v.shape;
  const r = out.length;
  let aligned: number[];
  if (n.type === 'BiasAdd' && i === 1 && n.attrs.data_format === 'NCHW' && r >= 3) {
    if (s.length !== 1) return undefined;
    aligned = out.map((_, d) => (d === 1 ? s[0]! : 1));
  } else if (n.type === 'Select' && i === 0 && s.length === 1 && r > 1) {
    aligned = out.map((_, d) => (d === 0 ? s[0]! : 1));
  } else {
    if (s.length > r) return undefined;
    aligned = [...new Array<number>(r - s.length).fill(1), ...s];
  }
  return aligned.every((d, k) => d === out[k] || d === 1) ? aligned : undefined;
}

function candidate(n: PNode, opts: FuseOptions): boolean {
  if (isBarrier(n) || n.type === ARG || n.program || n.shapeError || n.outputs.length !== 1) return false;
  const out = n.outputs[0]!;
  if (!isFullyStatic(out) || n.inputs.length === 0) return false;
  for (let i = 0; i < n.inputs.length; i++) if (!alignedShape(n, i, out.shape)) return false;
  return opts.canFuse(n);
}

interface Cluster {
  members: Set<PNode>;
  shape: string;
  epoch: number;
}

/**
 * Groups elementwise ops that compute the same shape into clusters (chains and DAGs, siblings
 * reading a common value, several outputs allowed) and replaces each cluster by one
 * _FusedElementwise node carrying its program.
 * A cluster never spans an update of a variable, and merging never creates a cycle (no path may
 * leave a cluster and come back into it). Single ops become generated kernels too.
 */
export function fuseElementwise(input: PlanGraph, opts: FuseOptions): PlanGraph {
  const g = input.clone();
  const index = new Map<PNode, number>();
  g.nodes.forEach((n, i) => index.set(n, i));
  const succ = new Map<PNode, PNode[]>();
  const addSucc = (from: PNode, to: PNode): void => {
    const l = succ.get(from);
    if (l) {
      if (!l.includes(to)) l.push(to);
    } else succ.set(from, [to]);
  };
  for (const n of g.nodes) {
    for (const v of n.inputs) if (v) addSucc(v.node, n);
    for (const c of n.controlInputs) addSucc(c, n);
  }
  const clusterOf = new Map<PNode, Cluster>();
  /**
   * Merging a and b creates a cycle when a path leaves a ∪ b and comes back, counting paths through
   * other clusters, which will be single nodes too (entering one reaches all its members' edges).
   */
  const createsCycle = (a: Cluster, b: Cluster): boolean => {
    const inU = (x: PNode): boolean => a.members.has(x) || b.members.has(x);
    // No index bound on the search: through a cluster, a path can come back to earlier nodes.
    const seen = new Set<PNode>();
    const stack: PNode[] = [];
    const visit = (x: PNode): void => {
      if (seen.has(x)) return;
      seen.add(x);
      stack.push(x);
      const c = clusterOf.get(x);
      if (c) for (const m of c.members) visit(m);
    };
    for (const m of [...a.members, ...b.members]) for (const s of succ.get(m) ?? []) if (!inU(s)) visit(s);
    while (stack.length) {
      const x = stack.pop()!;
      for (const s of succ.get(x) ?? []) {
        if (inU(s)) return true;
        visit(s);
      }
    }
    return false;
  };
  const uses = g.uses();
  const fetched = g.fetchedValues();
  /** Buffers the fused kernel of a ∪ b would bind: distinct values read from outside, plus outputs. */
  const operands = (a: Cluster, b: Cluster): number => {
    const inU = (x: PNode): boolean => a.members.has(x) || b.members.has(x);
    const reads = new Set<Value>();
    let outs = 0;
    for (const m of [...a.members, ...b.members]) {
      for (const v of m.inputs) if (v && !inU(v.node)) reads.add(v);
      const o = m.outputs[0]!;
      if (fetched.has(o) || (uses.get(o) ?? []).some((u) => !inU(u))) outs++;
    }
    return reads.size + outs;
  };
  /** Merges b into a when that is allowed; returns the cluster holding both (or b). */
  const tryMerge = (a: Cluster, b: Cluster): Cluster => {
    if (a === b || a.shape !== b.shape || a.epoch !== b.epoch) return b;
    if (opts.maxOperands !== undefined && operands(a, b) > opts.maxOperands) return b;
    if (createsCycle(a, b)) return b;
    for (const m of b.members) {
      a.members.add(m);
      clusterOf.set(m, a);
    }
    return a;
  };
  // Producer-consumer chains and DAGs.
  for (const n of g.nodes) {
    if (!candidate(n, opts)) continue;
    let c: Cluster = { members: new Set([n]), shape: n.outputs[0]!.shape!.join(','), epoch: n.epoch };
    clusterOf.set(n, c);
    for (const v of n.inputs) {
      const cp = v ? clusterOf.get(v.node) : undefined;
      if (cp) c = tryMerge(cp, c);
    }
  }
  // Siblings: clusters reading a common value merge, so that the value is read once.
  for (const n of g.nodes) {
    for (const v of n.outputs) {
      const readers = (uses.get(v) ?? []).filter((u) => clusterOf.has(u));
      for (let i = 1; i < readers.length; i++) tryMerge(clusterOf.get(readers[0]!)!, clusterOf.get(readers[i]!)!);
    }
  }
  const clusters = new Set(clusterOf.values());
  const dead = new Set<PNode>();
  const replaced = new Map<Value, Value>();
  for (const c of clusters) {
    const members = [...c.members].sort((x, y) => index.get(x)! - index.get(y)!);
    buildFusedNode(g, members, uses, fetched, replaced);
    for (const m of members) dead.add(m);
  }
  for (const n of g.nodes) n.inputs = n.inputs.map((v) => (v ? replaced.get(v) ?? v : v));
  g.fetches = g.fetches.map((v) => replaced.get(v) ?? v);
  g.remove(dead);
  removeDeadNodes(g);
  g.schedule();
  return g;
}

function buildFusedNode(g: PlanGraph, members: PNode[], uses: Map<Value, PNode[]>, fetched: Set<Value>, replaced: Map<Value, Value>): PNode {
  const inCluster = new Set(members);
  const shape = members[0]!.outputs[0]!.shape as number[];
  const args: Value[] = [];
  const progInputs: { arg: number; shape: number[]; dtype: Value['dtype'] }[] = [];
  const inputKey = new Map<string, number>();
  const opIndex = new Map<PNode, number>();
  const ops: ElementwiseProgram['ops'][number][] = [];
  for (const m of members) {
    const operands = m.inputs.map((v, i) => {
      if (inCluster.has(v!.node)) return { op: opIndex.get(v!.node)! };
      let a = args.indexOf(v!);
      if (a < 0) {
        a = args.length;
        args.push(v!);
      }
      const aligned = alignedShape(m, i, shape)!;
      const k = `${a}|${aligned.join(',')}`;
      let p = inputKey.get(k);
      if (p === undefined) {
        p = progInputs.length;
        progInputs.push({ arg: a, shape: aligned, dtype: v!.dtype });
        inputKey.set(k, p);
      }
      return { input: p };
    });
    opIndex.set(m, ops.length);
    ops.push({ type: m.type, attrs: m.attrs, dtype: m.outputs[0]!.dtype, args: operands, name: m.name });
  }
  const outMembers = members.filter((m) => {
    const v = m.outputs[0]!;
    return fetched.has(v) || (uses.get(v) ?? []).some((u) => !inCluster.has(u));
  });
  const last = members[members.length - 1]!;
  const controlInputs: PNode[] = [];
  for (const m of members) for (const c of m.controlInputs) if (!inCluster.has(c) && !controlInputs.includes(c)) controlInputs.push(c);
  const program: ElementwiseProgram = {
    shape,
    inputs: progInputs,
    ops,
    outputs: outMembers.map((m) => opIndex.get(m)!),
  };
  const fused = g.add({
    name: members.length === 1 ? last.name : `${last.name}/fused`,
    type: FUSED_ELEMENTWISE,
    inputs: args,
    controlInputs,
    outputs: outMembers.map((m) => ({ dtype: m.outputs[0]!.dtype, shape })),
    order: Math.max(...members.map((m) => m.order)),
    epoch: last.epoch,
    origin: last.origin,
    members: members.map((m) => m.name),
    program,
  });
  outMembers.forEach((m, k) => replaced.set(m.outputs[0]!, fused.outputs[k]!));
  for (const m of members) g.replaceControlUses(m, [fused]);
  return fused;
}
