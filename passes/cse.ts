import type { AttrValue } from '../src/graph.js';
import { Graph } from '../src/graph.js';
import { NDArray } from '../src/core/ndarray.js';
import { getOpDef } from '../ops/registry.js';
import { ARG, isBarrier, removeDeadNodes, stateDependent, type PlanGraph, type PNode, type Value } from './ir.js';

/** Constants up to this many elements are compared by value. */
const MAX_CONST_ELEMENTS = 4096;

/**
 * Common-subexpression elimination: two ops of the same type with equal attrs, the same inputs and
 * the same control inputs compute the same value, so the later one is replaced by the earlier.
 * Constants are merged by value. Never merges ops with effects or randomness, and never merges
 * values computed from a variable across an update of it (a read before an Assign and one after
 * differ); the merged op runs where the earlier one did.
 */
export function eliminateCommonSubexpressions(input: PlanGraph): PlanGraph {
  const g = input.clone();
  const dependent = stateDependent(g);
  const canonValue = new Map<Value, Value>();
  const canonNode = new Map<PNode, PNode>();
  const seen = new Map<string, PNode>();
  const dead = new Set<PNode>();
  for (const n of g.nodes) {
    n.inputs = n.inputs.map((v) => (v ? canonValue.get(v) ?? v : v));
    n.controlInputs = dedupe(n.controlInputs.map((c) => canonNode.get(c) ?? c));
    if (isBarrier(n) || n.type === ARG || n.type === 'NoOp' || n.program) continue;
    const k = key(n, dependent.has(n));
    if (k === undefined) continue;
    const rep = seen.get(k);
    if (!rep) {
      seen.set(k, n);
      continue;
    }
    n.outputs.forEach((o, i) => canonValue.set(o, rep.outputs[i]!));
    canonNode.set(n, rep);
    dead.add(n);
  }
  g.fetches = g.fetches.map((v) => canonValue.get(v) ?? v);
  g.targets = dedupe(g.targets.map((t) => canonNode.get(t) ?? t));
  g.remove(dead);
  removeDeadNodes(g);
  return g;
}

function dedupe<T>(xs: T[]): T[] {
  return xs.filter((x, i) => xs.indexOf(x) === i);
}

function key(n: PNode, dependsOnState: boolean): string | undefined {
  const attrs = attrsKey(n.attrs);
  if (attrs === undefined) return undefined;
  let ins = n.inputs.map((v) => (v ? `${v.node.id}:${v.index}` : 'ref'));
  if (getOpDef(n.type)?.commutative && ins.length === 2) ins = [...ins].sort();
  const ctl = n.controlInputs.map((c) => c.id).sort((a, b) => a - b);
  const outs = n.outputs.map((o) => o.dtype).join(',');
  return `${n.type}|${dependsOnState ? n.epoch : ''}|${ins.join(',')}|^${ctl.join(',')}|${outs}|${attrs}`;
}

function attrsKey(attrs: Readonly<Record<string, AttrValue>>): string | undefined {
  const parts: string[] = [];
  for (const k of Object.keys(attrs).sort()) {
    const v = valueKey(attrs[k]!);
    if (v === undefined) return undefined;
    parts.push(`${JSON.stringify(k)}=${v}`);
  }
  return parts.join(';');
}

function valueKey(v: AttrValue): string | undefined {
  if (v instanceof Graph) return undefined;
  if (v instanceof NDArray) {
    if (v.size > MAX_CONST_ELEMENTS) return undefined;
    const data =
      v.dtype === 'string'
        ? (v.data as Uint8Array[]).map((b) => Array.from(b).join('.')).join('|')
        : v.dtype === 'float32'
          ? // Bit patterns, so that 0 and -0 (and NaNs) stay distinct.
            Array.from(new Int32Array((v.data as Float32Array).slice().buffer)).join(',')
          : Array.from(v.data as ArrayLike<number | bigint>, String).join(',');
    return `nd<${v.dtype}>[${v.shape.join(',')}](${data})`;
  }
  return JSON.stringify(v);
}
