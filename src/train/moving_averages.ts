/**
 * tf.train.ExponentialMovingAverage and tf.train.assignMovingAverage (TF 1.15's
 * training/moving_averages.py): shadow variables named as TF names them, so checkpoints
 * interchange and a Saver can restore the averages into the plain variables.
 */
import { group } from '../api/core.js';
import { add, cast, divide, minimum, multiply, pow, subtract } from '../api/math.js';
import { convertToTensor, type TensorLike } from '../convert.js';
import { isFloat, type DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import { isFullyDefined } from '../core/shape.js';
import { getDefaultGraph, GraphKeys, Operation, Tensor, type Graph } from '../graph.js';
import { getVariableScope } from '../variable_scope.js';
import { assign, assignAdd, assignSub, Variable } from '../variables.js';
import { createSlotVariable } from './optimizer.js';

export interface AssignMovingAverageOptions {
  /**
   * The variable starts at zero: keep the biased average in '<variable>/biased', count updates in
   * '<variable>/local_step', and assign the average divided by 1 - decay^steps (default true, as TF).
   */
  zeroDebias?: boolean;
  /** Name scope of the update ops and name of the returned tensor (default 'AssignMovingAvg'). */
  name?: string;
}

/**
 * TF's assign_moving_average: `variable -= (1 - decay) * (variable - value)`, as one AssignSub named
 * after the scope; returns the new value. With zeroDebias (TF's default) the zero-initialized
 * average is debiased as Adam's moments are (see AssignMovingAverageOptions).
 */
export function assignMovingAverage(variable: Variable, value: TensorLike, decay: TensorLike, opts: AssignMovingAverageOptions = {}): Tensor {
  if (!(variable instanceof Variable)) throw new InvalidArgumentError(`assignMovingAverage: ${String(variable)} is not a tf.Variable`);
  const g = variable.graph;
  return g.asDefault(() =>
    g.nameScope(opts.name ?? 'AssignMovingAvg', (scope) => {
      // 1 - decay, in the variable's dtype (a number becomes a float32 constant first, as in TF).
      let oneMinusDecay = typeof decay === 'number' ? convertToTensor(1 - decay, 'float32', 'decay') : subtract(1, decay, 'sub');
      if (oneMinusDecay.dtype !== variable.dtype) oneMinusDecay = cast(oneMinusDecay, variable.dtype);
      if (opts.zeroDebias ?? true) return zeroDebiasedUpdate(variable, value, oneMinusDecay, scope);
      return assignSub(variable, multiply(subtract(variable, value, 'sub'), oneMinusDecay, 'mul'), { name: scope });
    }),
  );
}

/** The debiased update of `unbiased` (TF's _zero_debias); `oneMinusDecay` is 1 - decay. */
function zeroDebiasedUpdate(unbiased: Variable, value: TensorLike, oneMinusDecay: Tensor, scope: string): Tensor {
  const shape = unbiased.shape;
  if (!isFullyDefined(shape)) {
    throw new InvalidArgumentError(`assignMovingAverage: zeroDebias needs a fully defined shape, but ${unbiased.name} has shape [${(shape ?? []).map((d) => d ?? '?').join(',')}]`);
  }
  const dtype = unbiased.dtype;
  // TF makes them with get_variable under the current variable scope and the average's name.
  const outer = getVariableScope().name;
  const prefix = `${outer ? `${outer}/` : ''}${unbiased.op.name}`;
  const biased = debiasVariable(unbiased.graph, prefix, 'biased', dtype, shape);
  const localStep = debiasVariable(unbiased.graph, prefix, 'local_step', dtype, []);
  const updateBiased = assignSub(biased, multiply(subtract(biased, value, 'sub'), oneMinusDecay, 'mul'));
  const updateLocalStep = assignAdd(localStep, 1);
  const biasFactor = subtract(1, pow(subtract(1, oneMinusDecay, 'sub'), updateLocalStep), 'sub');
  return assign(unbiased, divide(updateBiased, biasFactor), { name: scope });
}

function debiasVariable(g: Graph, prefix: string, name: string, dtype: DType, shape: number[]): Variable {
  return g.controlDependencies(null, () =>
    g.nameScope(`${prefix}/`, () =>
      new Variable(() => convertToTensor(NDArray.from(0, dtype, shape), undefined, 'zeros'), { name, trainable: false }),
    ),
  );
}

export interface ExponentialMovingAverageOptions {
  /**
   * The number of updates so far (usually the global step): the decay used is then
   * min(decay, (1 + numUpdates) / (10 + numUpdates)), so averages move faster early on.
   */
  numUpdates?: TensorLike;
  /** Debias the averages of tensors (not variables), which start at zero (default false). */
  zeroDebias?: boolean;
  /** Name of the shadow variables and of the update ops' scope (default 'ExponentialMovingAverage'). */
  name?: string;
}

/**
 * TF1's tf.train.ExponentialMovingAverage: `apply(varList)` keeps, for each variable or tensor, a
 * non-trainable shadow variable '<var>/ExponentialMovingAverage' and returns the op that moves the
 * shadows toward the current values: `shadow -= (1 - decay) * (shadow - var)`. A variable's shadow
 * starts at the variable's initial value; a tensor's starts at zero.
 *
 * To evaluate with the averages, build the model normally and restore it with
 * `new tf.train.Saver(ema.variablesToRestore())`: each averaged variable is read from its shadow's
 * checkpoint key.
 */
export class ExponentialMovingAverage {
  readonly name: string;
  readonly decay: TensorLike;
  readonly numUpdates: TensorLike | undefined;
  readonly zeroDebias: boolean;
  private readonly averages = new Map<Variable | Tensor, Variable>();

  constructor(decay: TensorLike, opts: ExponentialMovingAverageOptions = {}) {
    this.decay = decay;
    this.numUpdates = opts.numUpdates;
    this.zeroDebias = opts.zeroDebias ?? false;
    this.name = opts.name ?? 'ExponentialMovingAverage';
  }

  /**
   * Creates the shadow variables of `varList` (default: the trainable variables) that do not have
   * one yet and returns an op updating all of them. Variables are added to the
   * MOVING_AVERAGE_VARIABLES collection; shadows are global, non-trainable variables.
   */
  apply(varList?: readonly (Variable | Tensor)[]): Operation {
    const graph = varList && varList.length > 0 ? varList[0]!.graph : getDefaultGraph();
    const items = varList ?? graph.getCollection<Variable>(GraphKeys.TRAINABLE_VARIABLES);
    const debiased = new Set<Variable>();
    for (const v of items) {
      if (!(v instanceof Variable || v instanceof Tensor)) {
        throw new InvalidArgumentError(`ExponentialMovingAverage.apply: ${String(v)} is not a Variable or a Tensor`);
      }
      if (v.graph !== graph) throw new InvalidArgumentError(`ExponentialMovingAverage.apply: ${v.name} is not in the graph of ${items[0]!.name}`);
      if (!isFloat(v.dtype)) {
        throw new InvalidArgumentError(`The variables must be half, float, or double: ${v.name} is ${v.dtype}`);
      }
      if (this.averages.has(v)) continue;
      let avg: Variable;
      if (v instanceof Variable) {
        // In one run of the initializers, the shadow and the variable read the same initial value.
        avg = createSlotVariable(v, this.name, () => v.initialValue);
        graph.addToCollection(GraphKeys.MOVING_AVERAGE_VARIABLES, v);
      } else {
        const shape = v.shape;
        if (!isFullyDefined(shape)) {
          throw new InvalidArgumentError(`ExponentialMovingAverage.apply: tensor ${v.name} has no fully defined shape, so its average cannot be created`);
        }
        avg = createSlotVariable(v, this.name, () => convertToTensor(NDArray.from(0, v.dtype, shape), undefined, 'zeros'));
        if (this.zeroDebias) debiased.add(avg);
      }
      this.averages.set(v, avg);
    }
    return graph.asDefault(() =>
      graph.nameScope(this.name, (scope) => {
        let decay = convertToTensor(this.decay, typeof this.decay === 'number' ? 'float32' : undefined, 'decay');
        if (this.numUpdates !== undefined) {
          const n = cast(this.numUpdates, 'float32', 'num_updates');
          decay = minimum(decay, divide(add(1, n, 'add'), add(10, n, 'add')));
        }
        const updates = items.map((v) => {
          const avg = this.averages.get(v)!;
          return assignMovingAverage(avg, v, decay, { zeroDebias: debiased.has(avg) });
        });
        return group(updates, scope);
      }),
    );
  }

  /** The shadow variable of `v`, or null when apply() has not averaged it. */
  average(v: Variable | Tensor): Variable | null {
    return this.averages.get(v) ?? null;
  }

  /**
   * The name of the shadow variable of `v`: the one apply() made, or the one it would make
   * ('<v>/ExponentialMovingAverage' unless that name is taken), so that an evaluation graph without
   * apply() can restore averages by name.
   */
  averageName(v: Variable | Tensor): string {
    const avg = this.averages.get(v);
    if (avg) return avg.op.name;
    const g = v.graph;
    return g.nameScope(null, () => g.uniqueName(`${v.op.name}/${this.name}`, false));
  }

  /**
   * A {checkpoint key: variable} map for tf.train.Saver: each of `movingAvgVariables` (default: the
   * trainable variables and the MOVING_AVERAGE_VARIABLES collection) under its average's name, every
   * other global variable under its own name.
   */
  variablesToRestore(movingAvgVariables?: readonly Variable[], graph: Graph = getDefaultGraph()): Record<string, Variable> {
    const averaged = new Set(
      movingAvgVariables ?? [
        ...graph.getCollection<Variable>(GraphKeys.TRAINABLE_VARIABLES),
        ...graph.getCollection<Variable>(GraphKeys.MOVING_AVERAGE_VARIABLES),
      ],
    );
    const map: Record<string, Variable> = {};
    for (const v of averaged) map[this.averageName(v)] = v;
    const averagedNames = new Set([...averaged].map((v) => v.name));
    for (const v of graph.getCollection<Variable>(GraphKeys.GLOBAL_VARIABLES)) {
      if (!averagedNames.has(v.name) && !Object.hasOwn(map, v.op.name)) map[v.op.name] = v;
    }
    return map;
  }
}
