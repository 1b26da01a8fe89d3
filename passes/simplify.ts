import { NDArray } from '../src/core/ndarray.js';
import { broadcastStatic, type Shape } from '../src/core/shape.js';
import { getOpDef } from '../ops/registry.js';
import { ARG, constOf, isBarrier, removeDeadNodes, type PlanGraph, type PNode, type Value } from './ir.js';

/** A NoOp is bypassed when (control inputs) x (control users) is at most this. */
const MAX_NOOP_EDGES = 16;

/**
 * Algebraic simplification: x*1, x+0, x-0, x/1 -> x; Neg(Neg(x)) -> x; Transpose of Transpose
 * composes (and vanishes when the result is the identity); Reshape of Reshape reshapes once;
 * Identity, StopGradient, same-dtype Cast, and Reshape/Tile/Slice/Pad/BroadcastTo/reductions that
 * keep the shape are removed; NoOps that only group control dependencies are bypassed. Removal keeps every
 * fetched tensor, every target and every control dependency: an op that is fetched, is a target,
 * has control inputs or is a control input itself stays.
 */
export function simplify(input: PlanGraph): PlanGraph {
  const g = input.clone();
  const preserved = g.preserved();
  const ctlUses = g.controlUses();
  const forward = new Map<Value, Value>();
  const dead = new Set<PNode>();
  const resolve = (v: Value): Value => {
    let r = v;
    while (forward.has(r)) r = forward.get(r)!;
    return r;
  };
  const removable = (n: PNode): boolean =>
    !preserved.has(n) && n.controlInputs.length === 0 && !(ctlUses.get(n)?.length) && n.outputs.length === 1 && !isBarrier(n);
  const nodes = [...g.nodes];
  for (const n of nodes) {
    n.inputs = n.inputs.map((v) => (v ? resolve(v) : v));
    if (n.type === ARG || isBarrier(n) || n.shapeError) continue;
    rewrite(g, n);
    if (!removable(n)) continue;
    const to = forwardTarget(n);
    if (to && to.dtype === n.outputs[0]!.dtype) {
      forward.set(n.outputs[0]!, to);
      dead.add(n);
    }
  }
  g.fetches = g.fetches.map(resolve);
  bypassNoOps(g);
  g.remove(dead);
  removeDeadNodes(g);
  g.schedule();
  return g;
}

/** The value n's output equals, when n computes nothing. */
function forwardTarget(n: PNode): Value | undefined {
  const x = n.inputs[0];
  if (!x) return undefined;
  const out = n.outputs[0]!;
  const def = getOpDef(n.type);
  if (def?.forwardsInput) return x;
  if (n.type === 'Cast' && x.dtype === out.dtype) return x;
  if (n.type === 'Transpose') {
    const perm = constOf(n.inputs[1]);
    if (perm && numbers(perm).every((p, i) => p === i)) return x;
    return undefined;
  }
  if (def?.identityWhenSameShape) return sameStatic(x.shape, out.shape) ? x : undefined;
  if ((n.type === 'ConcatV2' && n.inputs.length === 2) || (n.type === 'AddN' && n.inputs.length === 1)) {
    return sameStatic(x.shape, out.shape) ? x : undefined;
  }
  if (n.type === 'Select' || n.type === 'SelectV2') return selectedBranch(n);
  if (def?.involution && x.node.type === n.type && x.node.controlInputs.length === 0) return x.node.inputs[0] ?? undefined;
  const y = n.inputs[1];
  if (!y) return undefined;
  const rid = def?.rightIdentity;
  if (rid !== undefined && isAll(constOf(y), rid) && keepsShape(x, y, out.shape)) return x;
  const lid = def?.commutative ? rid : undefined;
  if (lid !== undefined && isAll(constOf(x), lid) && keepsShape(y, x, out.shape)) return y;
  return undefined;
}

/**
 * The branch a Select picks everywhere when its condition is a constant that is all true or all
 * false (a `training` switch left at its default), if that branch already has the output's shape.
 */
function selectedBranch(n: PNode): Value | undefined {
  const cond = constOf(n.inputs[0]);
  if (!cond || cond.size === 0) return undefined;
  const first = cond.data[0];
  for (let i = 1; i < cond.size; i++) if (cond.data[i] !== first) return undefined;
  const branch = n.inputs[first ? 1 : 2];
  return branch && sameStatic(branch.shape, n.outputs[0]!.shape) ? branch : undefined;
}

/** Rewrites that change an op's inputs in place: Transpose∘Transpose, Reshape∘Reshape. */
function rewrite(g: PlanGraph, n: PNode): void {
  const x = n.inputs[0];
  if (!x) return;
  const inner = x.node;
  if (inner.controlInputs.length || inner.outputs.length !== 1) return;
  if (n.type === 'Transpose' && inner.type === 'Transpose') {
    const p2 = constOf(n.inputs[1]);
    const p1 = constOf(inner.inputs[1]);
    const src = inner.inputs[0];
    if (!p1 || !p2 || !src || p1.size !== p2.size) return;
    const a = numbers(p1);
    const b = numbers(p2);
    const composed = b.map((k) => a[k]!);
    const perm = g.addConst(`${n.name}/perm`, NDArray.from(composed, p2.dtype as 'int32' | 'int64', [composed.length]), n.order, n.epoch);
    n.inputs = [src, perm.outputs[0]!];
    return;
  }
  if (n.type === 'Reshape' && getOpDef(inner.type)?.reshapes) {
    const src = inner.inputs[0];
    if (src) n.inputs[0] = src;
  }
}

/**
 * Bypasses NoOps: a control edge on a NoOp becomes control edges on what the NoOp waits for, and a
 * NoOp target is replaced by its control inputs. The NoOp is then dead.
 */
function bypassNoOps(g: PlanGraph): void {
  for (const n of [...g.nodes]) {
    if (n.type !== 'NoOp' || n.inputs.length) continue;
    const users = g.nodes.filter((u) => u.controlInputs.includes(n));
    if (users.length * n.controlInputs.length > MAX_NOOP_EDGES && !(users.length === 0 && g.targets.includes(n))) continue;
    g.replaceControlUses(n, n.controlInputs);
  }
}

function numbers(a: NDArray): number[] {
  return Array.from(a.data as ArrayLike<number | bigint>, Number);
}

function isAll(c: NDArray | undefined, k: 0 | 1): boolean {
  if (!c || c.dtype === 'string' || c.dtype === 'bool') return false;
  const d = c.data as ArrayLike<number | bigint>;
  for (let i = 0; i < d.length; i++) if (Number(d[i]) !== k) return false;
  return true;
}

/** True when broadcasting x against c gives x's own (static) shape, which is also the output's. */
function keepsShape(x: Value, c: Value, out: Shape): boolean {
  if (x.dtype !== c.dtype) return false;
  const b = broadcastStatic(x.shape, c.shape);
  return !!b && sameStatic(b, x.shape) && sameStatic(x.shape, out);
}

function sameStatic(a: Shape | undefined, b: Shape | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  return a.every((d, i) => d !== null && d === b[i]);
}
