import type { Operation, Tensor } from '../src/graph.js';
import { mergeShapes, type Shape } from '../src/core/shape.js';
import { variableKey } from '../src/func_graph.js';
import { ARG, PlanGraph, type PNode, type Value } from './ir.js';
import { pruneToFetches } from './prune.js';

export interface BuildRequest {
  fetches: readonly Tensor[];
  targets: readonly Operation[];
  feeds: readonly Tensor[];
  /** Concrete shapes of the fed values: the _Arg values get them (shape specialization starts there). */
  feedShapes?: ReadonlyMap<Tensor, Shape>;
}

/** Ops that update a variable through a reference input: the points reads must not move across. */
export function mutatesVariables(op: { def?: { refInputs?: readonly number[] } | undefined }): boolean {
  return (op.def?.refInputs?.length ?? 0) > 0;
}

/**
 * Prunes the user's graph to what the run needs and copies it into a PlanGraph. Fed tensors become
 * _Arg nodes; an op whose output is fed still runs when something else needs it, and its fed
 * output goes unused.
 */
export function buildPlanGraph(req: BuildRequest): { graph: PlanGraph; pruned: Operation[] } {
  const feedSet = new Set(req.feeds);
  const ops = pruneToFetches({ fetches: req.fetches, targets: req.targets, feeds: feedSet });
  const g = new PlanGraph();
  const valueOf = new Map<Tensor, Value>();
  for (const t of req.feeds) {
    const fed = req.feedShapes?.get(t);
    const name = g.uniqueName(`${t.op.name}_${t.valueIndex}_fed`);
    const arg = g.add({ name, type: ARG, outputs: [{ dtype: t.dtype, shape: fed ? mergeShapes(t.shape, fed, `fed ${t.name}`) : t.shape }], order: -1 });
    g.feeds.set(t, arg.outputs[0]!);
    valueOf.set(t, arg.outputs[0]!);
  }
  const nodeOf = new Map<Operation, PNode>();
  let epoch = 0;
  ops.forEach((op, order) => {
    const def = op.def;
    const refs = def?.refInputs ?? [];
    const inputs: (Value | null)[] = [];
    const refVars: (string | undefined)[] = [];
    const refTensors: (Tensor | undefined)[] = [];
    op.inputs.forEach((t, i) => {
      if (refs.includes(i)) {
        inputs.push(null);
        refVars.push(variableKey(t.op));
        refTensors.push(t);
      } else {
        const v = valueOf.get(t);
        if (!v) throw new Error(`buildPlanGraph: ${t.name} is used before it is computed`);
        inputs.push(v);
        refVars.push(undefined);
        refTensors.push(undefined);
      }
    });
    const node = g.add({
      name: op.name,
      type: op.type,
      attrs: { ...op.attrs },
      inputs,
      controlInputs: op.controlInputs.filter((c) => nodeOf.has(c)).map((c) => nodeOf.get(c)!),
      outputs: op.outputs.map((t) => ({ dtype: t.dtype, shape: t.shape })),
      refVars,
      refTensors,
      order,
      epoch,
      // Ops weir has no definition for (imported from a GraphDef) are treated as having effects.
      stateful: def ? !!def.stateful : true,
      origin: op,
    });
    nodeOf.set(op, node);
    op.outputs.forEach((t, i) => {
      if (!feedSet.has(t)) valueOf.set(t, node.outputs[i]!);
    });
    if (mutatesVariables(op)) epoch++;
  });
  g.fetches = req.fetches.map((t) => valueOf.get(t)!);
  g.targets = req.targets.map((op) => nodeOf.get(op)!);
  return { graph: g, pruned: ops };
}
