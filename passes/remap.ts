// Pattern fusion, as TensorFlow's remapper does it: a few known op patterns become one kernel.
import { FUSED_CONV2D, FUSED_MATMUL, getOpDef } from '../ops/registry.js';
import { constOf, isBarrier, isFullyStatic, removeDeadNodes, type PlanGraph, type PNode, type Value } from './ir.js';

export interface RemapOptions {
  /** Which fused op types the backend has kernels for. */
  hasKernel: (type: string) => boolean;
}

/**
 * - MatMul + BiasAdd (or Add/AddV2 of a vector over the last dim) [+ activation] -> _FusedMatMul
 * - Conv2D + BiasAdd [+ activation] -> _FusedConv2D
 * - -Sum(labels * Log(Softmax(logits)), last axis) (or with LogSoftmax) ->
 *   SoftmaxCrossEntropyWithLogits(logits, labels), one kernel computing the loss by log-sum-exp.
 * An op is absorbed only when the fused op is its sole consumer, it is not fetched, has no control
 * edges and is not separated from the others by a variable update.
 */
export function remap(input: PlanGraph, opts: RemapOptions): PlanGraph {
  const g = input.clone();
  const ctx = new MatchContext(g);
  for (const n of [...g.nodes]) {
    if (ctx.dead.has(n)) continue;
    if (opts.hasKernel(FUSED_MATMUL) && fuseContraction(g, ctx, n, 'MatMul', FUSED_MATMUL)) continue;
    if (opts.hasKernel(FUSED_CONV2D) && fuseContraction(g, ctx, n, 'Conv2D', FUSED_CONV2D)) continue;
    if (opts.hasKernel('SoftmaxCrossEntropyWithLogits')) fuseSoftmaxCrossEntropy(g, ctx, n);
  }
  g.remove(ctx.dead);
  removeDeadNodes(g);
  g.schedule();
  return g;
}

class MatchContext {
  readonly uses: Map<Value, PNode[]>;
  readonly ctlUses: Map<PNode, PNode[]>;
  readonly preserved: Set<PNode>;
  readonly dead = new Set<PNode>();
  constructor(readonly g: PlanGraph) {
    this.uses = g.uses();
    this.ctlUses = g.controlUses();
    this.preserved = g.preserved();
  }
  /** v's producer can be absorbed into `into`: only `into` reads it, and nothing else depends on it. */
  absorbable(v: Value | null | undefined, into: PNode): v is Value {
    if (!v) return false;
    const p = v.node;
    if (this.dead.has(p) || p.shapeError || isBarrier(p) || this.preserved.has(p) || p.outputs.length !== 1) return false;
    if (p.controlInputs.length || this.ctlUses.get(p)?.length) return false;
    if (p.epoch !== into.epoch) return false;
    const users = this.uses.get(v) ?? [];
    return users.length === 1 && users[0] === into && into.inputs.filter((x) => x === v).length === 1;
  }
  /** The single consumer of n's only output, when there is exactly one. */
  soleConsumer(n: PNode): PNode | undefined {
    if (n.outputs.length !== 1) return undefined;
    const users = this.uses.get(n.outputs[0]!) ?? [];
    return users.length === 1 ? users[0] : undefined;
  }
}

/** Bias: the [C] vector a BiasAdd/Add adds over the channel dim; undefined if n is not such an add of `x`. */
function biasOf(n: PNode, x: Value): { bias: Value; format: string } | undefined {
  if (n.outputs[0]!.dtype !== 'float32') return undefined;
  if (n.type === 'BiasAdd' && n.inputs[0] === x && n.inputs[1]) {
    return { bias: n.inputs[1], format: (n.attrs.data_format as string | undefined) ?? 'NHWC' };
  }
  if ((n.type === 'AddV2' || n.type === 'Add') && n.inputs.length === 2) {
    const other = n.inputs[0] === x ? n.inputs[1] : n.inputs[1] === x ? n.inputs[0] : undefined;
    if (!other || other === x || !isFullyStatic(other) || !isFullyStatic(x) || other.shape.length !== 1) return undefined;
    const c = x.shape[x.shape.length - 1];
    if (other.shape[0] !== c || x.shape.length < 1) return undefined;
    // The add's output must be x's shape (the vector only broadcasts).
    const out = n.outputs[0]!;
    if (!isFullyStatic(out) || out.shape.join(',') !== x.shape.join(',')) return undefined;
    return { bias: other, format: 'NHWC' };
  }
  return undefined;
}

function fuseContraction(g: PlanGraph, ctx: MatchContext, n: PNode, base: string, fusedType: string): boolean {
  if (n.type !== base || n.outputs[0]!.dtype !== 'float32' || n.shapeError || isBarrier(n) || ctx.preserved.has(n)) return false;
  const y = n.outputs[0]!;
  const add = ctx.soleConsumer(n);
  if (!add || add.shapeError || ctx.dead.has(add) || !ctx.absorbable(y, add)) return false;
  const b = biasOf(add, y);
  if (!b) return false;
  if (base === 'Conv2D' && b.format !== ((n.attrs.data_format as string | undefined) ?? 'NHWC')) return false;
  if (base === 'MatMul' && b.format !== 'NHWC') return false;
  const members = [n, add];
  let last = add;
  const act = ctx.soleConsumer(add);
  if (act && getOpDef(act.type)?.fusableActivation && !act.shapeError && !ctx.dead.has(act) && act.outputs[0]!.dtype === 'float32' && ctx.absorbable(add.outputs[0], act)) {
    members.push(act);
    last = act;
  }
  const fusedOps = ['BiasAdd', ...(last === act ? [act.type] : [])];
  const attrs = {
    ...n.attrs,
    num_args: 1,
    fused_ops: fusedOps,
    epsilon: 0,
    leakyrelu_alpha: last.type === 'LeakyRelu' ? ((last.attrs.alpha as number | undefined) ?? 0.2) : 0.2,
  };
  const fused = g.add({
    name: last.name,
    type: fusedType,
    attrs,
    inputs: [n.inputs[0]!, n.inputs[1]!, b.bias],
    controlInputs: [...n.controlInputs],
    outputs: [{ dtype: 'float32', shape: last.outputs[0]!.shape }],
    order: last.order,
    epoch: last.epoch,
    origin: last.origin,
    members: members.map((m) => m.name),
  });
  replaceNode(g, ctx, last, fused);
  for (const m of members) ctx.dead.add(m);
  return true;
}

/** Points every use of `old`'s outputs (data, fetches) at `to`, and its control uses at `by`. */
function replaceNode(g: PlanGraph, ctx: MatchContext, old: PNode, by: PNode, to: readonly Value[] = by.outputs): void {
  old.outputs.forEach((o, i) => {
    const v = to[i]!;
    for (const u of ctx.uses.get(o) ?? []) {
      for (let k = 0; k < u.inputs.length; k++) if (u.inputs[k] === o) u.inputs[k] = v;
    }
    ctx.uses.set(v, ctx.uses.get(o) ?? []);
    ctx.uses.delete(o);
    for (let k = 0; k < g.fetches.length; k++) if (g.fetches[k] === o) g.fetches[k] = v;
  });
  g.replaceControlUses(old, [by]);
}

/** Reduction over the last axis of a rank-2 value, without keep_dims. */
function sumsLastAxis(n: PNode): Value | undefined {
  if (n.type !== 'Sum' || n.attrs.keep_dims) return undefined;
  const x = n.inputs[0];
  const axes = constOf(n.inputs[1]);
  if (!x || !axes || !isFullyStatic(x) || x.shape.length !== 2) return undefined;
  const a = Array.from(axes.data as ArrayLike<number | bigint>, Number);
  return a.length === 1 && (a[0] === 1 || a[0] === -1) ? x : undefined;
}

function fuseSoftmaxCrossEntropy(g: PlanGraph, ctx: MatchContext, n: PNode): boolean {
  // Neg(Sum(Mul(labels, logp))) or Sum(Neg(Mul(labels, logp))), Sum over the last axis.
  let sum: PNode | undefined;
  let neg: PNode | undefined;
  if (n.type === 'Neg' && n.inputs[0]?.node.type === 'Sum') {
    neg = n;
    sum = n.inputs[0].node;
    if (!ctx.absorbable(n.inputs[0], n)) return false;
  } else if (n.type === 'Sum' && n.inputs[0]?.node.type === 'Neg') {
    sum = n;
    neg = n.inputs[0].node;
    if (!ctx.absorbable(n.inputs[0], n)) return false;
  } else {
    return false;
  }
  const summed = sumsLastAxis(sum);
  if (!summed || summed.dtype !== 'float32') return false;
  const prodValue = neg === n ? summed : neg.inputs[0];
  const into = neg === n ? sum : neg;
  if (!ctx.absorbable(prodValue, into) || prodValue.node.type !== 'Mul') return false;
  const mul = prodValue.node;
  for (const [li, pi] of [
    [0, 1],
    [1, 0],
  ] as const) {
    const labels = mul.inputs[li];
    const logp = mul.inputs[pi];
    if (!labels || !logp || !ctx.absorbable(logp, mul)) continue;
    let logits: Value | null | undefined;
    const lp = logp.node;
    if (lp.type === 'LogSoftmax') logits = lp.inputs[0];
    else if (lp.type === 'Log' && lp.inputs[0]?.node.type === 'Softmax' && lp.inputs[0].node.epoch === lp.epoch) logits = lp.inputs[0].node.inputs[0];
    if (!logits || !isFullyStatic(logits) || !isFullyStatic(labels) || logits.dtype !== 'float32' || labels.dtype !== 'float32') continue;
    if (logits.shape.length !== 2 || labels.shape.join(',') !== logits.shape.join(',') || summed.shape!.join(',') !== logits.shape.join(',')) continue;
    const [b, c] = logits.shape as [number, number];
    const out = n.outputs[0]!;
    if (!isFullyStatic(out) || out.shape.length !== 1 || out.shape[0] !== b) return false;
    const fused = g.add({
      name: n.name,
      type: 'SoftmaxCrossEntropyWithLogits',
      attrs: { T: 'float32' },
      inputs: [logits, labels],
      outputs: [
        { dtype: 'float32', shape: [b] },
        { dtype: 'float32', shape: [b, c] },
      ],
      controlInputs: [...new Set([...sum.controlInputs, ...neg.controlInputs])],
      order: n.order,
      epoch: n.epoch,
      origin: n.origin,
      members: [lp.name, mul.name, into.name, n.name],
    });
    // Only the loss output replaces n's value; the second output (backprop) goes unused.
    replaceNode(g, ctx, n, fused, [fused.outputs[0]!]);
    for (const m of [lp, mul, into, n]) ctx.dead.add(m);
    g.numericallyRewritten = true;
    return true;
  }
  return false;
}
