import { constant } from '../api/core.js';
import { isInteger } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { getDefaultGraph, GraphKeys, Tensor, type Graph } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import type { Session } from '../session.js';
import { Variable } from '../variables.js';

/** The global step: the variable in the GLOBAL_STEP collection, else the tensor 'global_step:0', else null. */
export function getGlobalStep(graph: Graph = getDefaultGraph()): Variable | Tensor | null {
  const inCollection = graph.getCollection<Variable | Tensor>(GraphKeys.GLOBAL_STEP);
  let step: Variable | Tensor;
  if (inCollection.length === 1) {
    step = inCollection[0]!;
  } else if (inCollection.length === 0) {
    if (!graph.hasOperation('global_step')) return null;
    step = graph.getTensorByName('global_step:0');
  } else {
    throw new InvalidArgumentError(`Multiple tensors in the global_step collection: ${inCollection.map((s) => s.name).join(', ')}`);
  }
  assertGlobalStep(step);
  return step;
}

/** Checks that `step` can serve as a global step: an integer scalar. */
export function assertGlobalStep(step: Variable | Tensor): void {
  if (!(step instanceof Variable || step instanceof Tensor)) {
    throw new InvalidArgumentError(`Existing "global_step" must be a Variable or Tensor: ${String(step)}.`);
  }
  if (!isInteger(step.dtype)) {
    throw new InvalidArgumentError(`Existing "global_step" does not have integer type: ${step.dtype}`);
  }
  const s = step.shape;
  if (s !== null && s.length !== 0) {
    throw new InvalidArgumentError(`Existing "global_step" is not scalar: [${s.join(',')}]`);
  }
}

/**
 * Creates the global step: an int64 scalar variable 'global_step' initialized to 0, not trainable,
 * in the GLOBAL_VARIABLES and GLOBAL_STEP collections. Throws if the graph already has one.
 */
export function createGlobalStep(graph: Graph = getDefaultGraph()): Variable {
  if (getGlobalStep(graph) !== null) throw new InvalidArgumentError('"global_step" already exists.');
  return graph.asDefault(() =>
    graph.nameScope(null, () =>
      new Variable(() => constant(NDArray.from(0, 'int64'), 'int64', undefined, 'zeros'), {
        name: GraphKeys.GLOBAL_STEP,
        trainable: false,
        collections: [GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP],
      }),
    ),
  );
}

/** The global step of the graph, created if there is none. */
export function getOrCreateGlobalStep(graph: Graph = getDefaultGraph()): Variable | Tensor {
  return getGlobalStep(graph) ?? createGlobalStep(graph);
}

/** The value of the global step in this session, as a JS number (TF's tf.train.global_step). */
export async function globalStep(sess: Session, step: Variable | Tensor): Promise<number> {
  const v = await sess.run(step instanceof Variable ? step.value() : step);
  return Number(v.scalar());
}
