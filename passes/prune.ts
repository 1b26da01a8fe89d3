import { InvalidArgumentError } from '../src/core/errors.js';
import { describeOp, topologicalOrder, type Operation, type Tensor } from '../src/graph.js';
import { formatShape } from '../src/core/shape.js';
import { tfDTypeName } from '../src/core/dtypes.js';

export interface PruneRequest {
  fetches: readonly Tensor[];
  targets: readonly Operation[];
  feeds: ReadonlySet<Tensor>;
}

/**
 * The ops a run needs, in execution order. Walks back from the fetches and targets through data and
 * control inputs, stopping at fed tensors and at reference inputs (Assign's `ref` names a variable,
 * it does not read it). The order is creation order wherever that is topological (everywhere but
 * around a loop that a gradient gave more inputs: Graph.extendOp).
 */
export function pruneToFetches(req: PruneRequest): Operation[] {
  const needed = new Set<Operation>();
  const stack: Operation[] = [];
  const needTensor = (t: Tensor): void => {
    if (!req.feeds.has(t)) needOp(t.op);
  };
  const needOp = (op: Operation): void => {
    if (needed.has(op)) return;
    needed.add(op);
    stack.push(op);
  };
  for (const t of req.fetches) needTensor(t);
  for (const op of req.targets) needOp(op);
  while (stack.length) {
    const op = stack.pop()!;
    const refs = op.def?.refInputs ?? [];
    op.inputs.forEach((t, i) => {
      if (refs.includes(i)) {
        if (t.op.type !== 'VariableV2') {
          throw new InvalidArgumentError(`${describeOp(op)}: input ${i} must be a variable, got ${t.name} (${t.op.type})`, op.name);
        }
        return;
      }
      needTensor(t);
    });
    for (const c of op.controlInputs) {
      // As TensorFlow does: a control edge from a fed Placeholder is satisfied by the feed.
      if (c.type === 'Placeholder' && req.feeds.has(c.outputs[0]!)) continue;
      needOp(c);
    }
  }
  const ordered = topologicalOrder(needed);
  for (const op of ordered) {
    if (op.type === 'Placeholder') {
      const t = op.outputs[0]!;
      throw new InvalidArgumentError(
        `You must feed a value for placeholder tensor '${op.name}' with dtype ${tfDTypeName(t.dtype)} and shape ${formatShape(t.shape)}` +
          (op.createdAt ? ` (created at ${op.createdAt})` : ''),
        op.name,
      );
    }
  }
  return ordered;
}
