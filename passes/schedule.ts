// Memory-aware ordering of a plan's kernels.
import { bytesPerElement } from '../src/core/dtypes.js';
import { isAliasOp } from '../ops/registry.js';
import { dependencies, isFree as free, type PlanGraph, type PNode, type Value } from './ir.js';

function bytesOf(v: Value): number {
  if (v.dtype === 'string' || v.dtype === 'variant' || v.shape === null || v.shape.some((d) => d === null)) return 0;
  return (v.shape as number[]).reduce((a, b) => a * b, 1) * bytesPerElement(v.dtype);
}

/**
 * Orders the nodes to keep the peak of live memory low. A topological order (data, control and
 * variable-ordering edges, as PlanGraph.schedule) built greedily: among ready nodes, those that
 * cost nothing (constants, variable reads and updates: an update frees its gradient) go first,
 * then the one that allocates the least net of what it frees (memory of inputs it is the last
 * reader of), then the earliest in the original order. On a training step this computes a large
 * weight gradient late, once the activations the rest of the backward pass needs are gone, and
 * applies each gradient as soon as it can.
 */
export function scheduleForMemory(input: PlanGraph): PlanGraph {
  const g = input.clone();
  const index = new Map<PNode, number>();
  g.nodes.forEach((n, i) => index.set(n, i));
  const deps = dependencies(g.nodes);

  // Memory groups: a value and the aliases of it share memory; it is freed when all their readers ran.
  const root = new Map<Value, Value | null>();
  for (const n of g.nodes) {
    n.outputs.forEach((o) => {
      if (free(n)) root.set(o, null);
      else if (isAliasOp(n.type) && n.inputs[0]) root.set(o, root.get(n.inputs[0]) ?? null);
      else root.set(o, o);
    });
  }
  const fetched = new Set<Value | null>(g.fetches.map((v) => root.get(v) ?? null));
  const readersLeft = new Map<Value, number>();
  const rootsRead = new Map<PNode, Value[]>();
  for (const n of g.nodes) {
    const rs = [...new Set(n.inputs.map((v) => (v ? root.get(v) ?? null : null)).filter((r): r is Value => r !== null))];
    rootsRead.set(n, rs);
    for (const r of rs) readersLeft.set(r, (readersLeft.get(r) ?? 0) + 1);
  }
  const net = (n: PNode): number => {
    let alloc = 0;
    for (const o of n.outputs) if (root.get(o) === o) alloc += bytesOf(o);
    let freed = 0;
    for (const r of rootsRead.get(n)!) if (readersLeft.get(r) === 1 && !fetched.has(r)) freed += bytesOf(r);
    return alloc - freed;
  };

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
  const ready: PNode[] = g.nodes.filter((n) => pending.get(n) === 0);
  const out: PNode[] = [];
  while (ready.length) {
    let best = 0;
    let bestKey: [number, number, number] | undefined;
    for (let i = 0; i < ready.length; i++) {
      const n = ready[i]!;
      const key: [number, number, number] = [free(n) ? 0 : 1, free(n) ? 0 : net(n), n.order * 1e6 + index.get(n)!];
      if (!bestKey || key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))) {
        best = i;
        bestKey = key;
      }
    }
    const n = ready.splice(best, 1)[0]!;
    out.push(n);
    for (const r of rootsRead.get(n)!) readersLeft.set(r, readersLeft.get(r)! - 1);
    for (const s of succ.get(n) ?? []) {
      const k = pending.get(s)! - 1;
      pending.set(s, k);
      if (k === 0) ready.push(s);
    }
  }
  if (out.length !== g.nodes.length) throw new Error('scheduleForMemory: the graph has a cycle');
  g.nodes = out;
  return g;
}
