import { zerosLike } from '../api/array.js';
import { group } from '../api/core.js';
import { cast, multiply } from '../api/math.js';
import { convertToTensor, type TensorLike } from '../convert.js';
import { isFloat, type DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { gradients, type Gradient } from '../gradients.js';
import { IndexedSlices } from '../api/indexed_slices.js';
import { size, unsortedSegmentSum } from '../api/array.js';
import { unique } from '../api/sort.js';
import { getDefaultGraph, GraphKeys, Operation, Tensor, type Graph } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import { isFullyDefined } from '../core/shape.js';
import { assign, assignAdd, Variable } from '../variables.js';
import { warnUnrunBatchNormUpdates } from '../layers/normalization.js';

/** A hyperparameter: a JS number, or a tensor (a placeholder, a decayed learning rate, ...). */
export type Hyperparameter = number | Tensor | Variable;

/**
 * A gradient and the variable it is for; the gradient is null when the loss does not depend on it,
 * and IndexedSlices when it touches only some rows (an embedding looked up with tf.gather).
 */
export type GradAndVar = [Gradient | null, Variable];

export interface OptimizerOptions {
  /** TF's use_locking attr of the update ops (weir runs ops one at a time, so it changes nothing). */
  useLocking?: boolean;
  /** Name of the optimizer's name scope and slot variables (default: the class's TF name). */
  name?: string;
}

export interface ComputeGradientsOptions {
  /** Gradient of the loss to start from (TF's grad_loss); default ones. */
  gradLoss?: TensorLike;
}

export interface ApplyGradientsOptions {
  /** Incremented by one (AssignAdd) after the updates. */
  globalStep?: Variable | Tensor | null;
  /** Name of the returned op and of the name scope of the update ops (default: the optimizer's name). */
  name?: string;
}

export interface MinimizeOptions extends ApplyGradientsOptions, ComputeGradientsOptions {
  /** Variables to update (default: the graph's trainable variables). */
  varList?: readonly Variable[];
}

/** A slot initializer: the slot's initial value, built under the slot's 'Initializer' scope. */
type SlotInit = () => Tensor;

/**
 * TF1's tf.train.Optimizer: computes gradients of a loss with tf.gradients and applies them to
 * variables with per-variable update ops, keeping per-variable state in slot variables
 * ('W/Adam', 'W/Adam_1') and optimizer-wide state in non-slot variables ('beta1_power').
 */
export abstract class Optimizer {
  readonly name: string;
  protected readonly useLocking: boolean;
  private readonly slots = new Map<string, Map<Variable, Variable>>();
  private readonly nonSlots = new WeakMap<Graph, Map<string, Variable>>();

  constructor(defaultName: string, opts: OptimizerOptions = {}) {
    this.name = opts.name ?? defaultName;
    if (!this.name) throw new InvalidArgumentError('Must specify the optimizer name');
    this.useLocking = opts.useLocking ?? false;
  }

  /**
   * Adds ops to update `varList` (default: trainable variables) to minimize `loss`; returns the train
   * op. A Variable loss is minimized through its value, as TF1 converts it.
   */
  minimize(loss: Tensor | Variable, opts: MinimizeOptions = {}): Operation {
    loss = lossTensor(loss, 'minimize');
    const gradsAndVars = this.computeGradients(loss, opts.varList, { gradLoss: opts.gradLoss });
    const varsWithGrad = gradsAndVars.filter(([g]) => g !== null).map(([, v]) => v);
    if (varsWithGrad.length === 0) {
      throw new InvalidArgumentError(
        `No gradients provided for any variable, check your graph for ops that do not support gradients, between variables [${gradsAndVars
          .map(([, v]) => `'${v.name}'`)
          .join(', ')}] and loss ${loss.name}.`,
      );
    }
    const trainOp = this.applyGradients(gradsAndVars, { globalStep: opts.globalStep, name: opts.name });
    // applyGradients checked from the gradients; the loss reaches every layer it depends on.
    warnUnrunBatchNormUpdates([loss], trainOp, varsWithGrad);
    return trainOp;
  }

  /** [gradient, variable] pairs for `loss`; the gradient is null for a variable the loss does not depend on. */
  computeGradients(loss: Tensor | Variable, varList?: readonly Variable[], opts: ComputeGradientsOptions = {}): GradAndVar[] {
    loss = lossTensor(loss, 'computeGradients');
    assertFloat([loss]);
    const g = loss.graph;
    const vars = varList ?? g.getCollection<Variable>(GraphKeys.TRAINABLE_VARIABLES);
    if (vars.length === 0) throw new InvalidArgumentError('No variables to optimize.');
    for (const v of vars) {
      if (!(v instanceof Variable)) throw new InvalidArgumentError(`computeGradients: varList holds ${String(v)}, which is not a tf.Variable`);
      if (v.graph !== g) throw new InvalidArgumentError(`computeGradients: variable ${v.name} is not in the graph of loss ${loss.name}`);
    }
    const grads = gradients(loss, [...vars], opts.gradLoss === undefined ? undefined : [opts.gradLoss], { sparse: true });
    const pairs = vars.map((v, i): GradAndVar => [grads[i] ?? null, v]);
    assertFloat(pairs.filter(([gr]) => gr !== null).map(([, v]) => v));
    return pairs;
  }

  /**
   * Adds the update ops for the pairs whose gradient is not null, under the name scope `name`
   * ('Adam/update_W/ApplyAdam'), and returns one op that runs them all (then increments globalStep).
   */
  applyGradients(gradsAndVars: readonly GradAndVar[], opts: ApplyGradientsOptions = {}): Operation {
    if (gradsAndVars.length === 0) throw new InvalidArgumentError('No variables provided.');
    const pairs = gradsAndVars.map(([grad, v]): GradAndVar => {
      if (!(v instanceof Variable)) throw new InvalidArgumentError(`applyGradients: ${String(v)} is not a tf.Variable`);
      if (grad === null) return [null, v];
      const g = grad instanceof IndexedSlices ? grad : convertToTensor(grad, undefined, 'gradient');
      if (g.graph !== v.graph) throw new InvalidArgumentError(`applyGradients: gradient ${g.name} and variable ${v.name} are in different graphs`);
      return [g, v];
    });
    const varList = pairs.filter(([g]) => g !== null).map(([, v]) => v);
    if (varList.length === 0) {
      throw new InvalidArgumentError(`No gradients provided for any variable: [${pairs.map(([, v]) => `'${v.name}'`).join(', ')}].`);
    }
    const graph = varList[0]!.graph;
    const trainOp = graph.asDefault(() => {
      graph.controlDependencies(null, () => this.createSlots(varList));
      const trainOp = graph.nameScope(opts.name ?? this.name, (scope) => {
        this.prepare();
        const updates: Operation[] = [];
        for (const [grad, v] of pairs) {
          if (grad === null) continue;
          updates.push(
            graph.nameScope(`update_${v.op.name}`, () => (grad instanceof IndexedSlices ? this.applySparseDuplicateIndices(grad, v) : this.applyDense(grad, v))),
          );
        }
        if (!opts.globalStep) return this.finish(updates, scope);
        const finished = this.finish(updates, 'update');
        return graph.controlDependencies([finished], () => assignAdd(opts.globalStep!, 1, { name: scope }).op);
      });
      const trainOps = graph.getCollectionRef<Operation>(GraphKeys.TRAIN_OP);
      if (!trainOps.includes(trainOp)) trainOps.push(trainOp);
      return trainOp;
    });
    const gradTensors = pairs.flatMap(([g]) => (g === null ? [] : g instanceof IndexedSlices ? [g.values, g.indices] : [g]));
    warnUnrunBatchNormUpdates(gradTensors, trainOp, varList);
    return trainOp;
  }

  /** The slot variable `name` ('m', 'momentum', ...) of `v`, or null. */
  getSlot(v: Variable, name: string): Variable | null {
    return this.slots.get(name)?.get(v) ?? null;
  }

  getSlotNames(): string[] {
    return [...this.slots.keys()].sort();
  }

  /** The optimizer's own variables (slots and non-slots) in `graph` (default: the default graph), by name. */
  variables(graph: Graph = getDefaultGraph()): Variable[] {
    const out: Variable[] = [];
    for (const m of this.slots.values()) for (const s of m.values()) if (s.graph === graph) out.push(s);
    out.push(...(this.nonSlots.get(graph)?.values() ?? []));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // ---- for subclasses ----

  /** Creates the slot variables of the variables about to be updated (runs outside any control dependencies). */
  protected createSlots(_varList: Variable[]): void {}

  /** Converts the hyperparameters to tensors, inside the optimizer's name scope. */
  protected abstract prepare(): void;

  /** Builds the update op of one variable. */
  protected abstract applyDense(grad: Tensor, v: Variable): Operation;

  /**
   * Builds the update of the rows of `v` a sparse gradient touches. As TF, repeated indices are
   * summed first (an optimizer whose update is linear in the gradient overrides this and skips it).
   */
  protected applySparseDuplicateIndices(grad: IndexedSlices, v: Variable): Operation {
    const { y, idx } = unique(grad.indices);
    const summed = unsortedSegmentSum(grad.values, idx, size(y));
    return this.applySparse(new IndexedSlices(summed, y, grad.denseShape), v);
  }

  /** The sparse update, given distinct indices. By default the slices are summed into place and applied densely. */
  protected applySparse(grad: IndexedSlices, v: Variable): Operation {
    return this.applyDense(grad.toDense(), v);
  }

  /** Groups the update ops into the op named by `nameScope` (a scope string 'Adam/' names the op 'Adam'). */
  protected finish(updates: Operation[], nameScope: string): Operation {
    return group(updates, nameScope);
  }

  /** The hyperparameter as a tensor named `name` (a number becomes a float32 constant). */
  protected hyperTensor(value: Hyperparameter, name: string): Tensor {
    if (typeof value === 'number') return convertToTensor(value, 'float32', name);
    return convertToTensor(value, undefined, name);
  }

  /** `t` in the dtype of `v` (TF casts every hyperparameter to the variable's dtype). */
  protected asDType(t: Tensor, dtype: DType): Tensor {
    return t.dtype === dtype ? t : cast(t, dtype);
  }

  /**
   * The slot `slotName` of `v`, created on first use as the variable '<v>/<varName>' (made unique);
   * varName is the optimizer's name unless the optimizer names its slots (Ftrl's accumName).
   */
  protected getOrMakeSlot(v: Variable, slotName: string, init: SlotInit, varName = this.name): Variable {
    let named = this.slots.get(slotName);
    if (!named) this.slots.set(slotName, (named = new Map()));
    const existing = named.get(v);
    if (existing) return existing;
    const slot = createSlotVariable(v, varName, init);
    named.set(v, slot);
    return slot;
  }

  /** A slot filled with `value`, with the shape and dtype of v. */
  protected filledSlot(v: Variable, slotName: string, value: number, initName: string, fill: (like: Tensor) => Tensor, varName = this.name): Variable {
    const init = (): Tensor => (isFullyDefined(v.shape) ? convertToTensor(NDArray.from(value, v.dtype, v.shape), undefined, initName) : fill(v.initialValue));
    return this.getOrMakeSlot(v, slotName, init, varName);
  }

  /** A slot of zeros with the shape and dtype of v. */
  protected zerosSlot(v: Variable, slotName: string, varName = this.name): Variable {
    return this.filledSlot(v, slotName, 0, 'zeros', (x) => zerosLike(x), varName);
  }

  /** An optimizer-wide variable (Adam's beta1_power), created once per graph in the current name scope. */
  protected getOrMakeNonSlot(graph: Graph, name: string, initialValue: Hyperparameter): Variable {
    let m = this.nonSlots.get(graph);
    if (!m) this.nonSlots.set(graph, (m = new Map()));
    let v = m.get(name);
    if (!v) {
      v = graph.asDefault(() => new Variable(initialValue, { name, trainable: false }));
      m.set(name, v);
    }
    return v;
  }

  protected getNonSlot(graph: Graph, name: string): Variable {
    const v = this.nonSlots.get(graph)?.get(name);
    if (!v) throw new InvalidArgumentError(`${this.name}: no variable '${name}' in this graph (applyGradients creates it)`);
    return v;
  }

  /** Assign of `v * factor`, for updates of non-slot variables in finish(). */
  protected scaleVariable(v: Variable, factor: Tensor): Tensor {
    return assign(v, multiply(v.value(), factor, 'mul'));
  }
}

/**
 * A slot of `primary` (TF's slot_creator, shared by optimizers and moving averages): the non-trainable
 * variable '<primary op name>/<name>' (made unique), named after the primary whatever name scope the
 * caller is in, and created outside any control dependencies with `init()` as its initial value.
 */
export function createSlotVariable(primary: Variable | Tensor, name: string, init: SlotInit): Variable {
  const g = primary.graph;
  return g.asDefault(() =>
    g.controlDependencies(null, () =>
      g.nameScope(`${primary.op.name}/`, () => new Variable(init, { name, trainable: false, validateShape: isFullyDefined(primary.shape) })),
    ),
  );
}

/** The loss as a tensor: a Variable's value (TF1 converts a Variable loss), else it must be a Tensor. */
function lossTensor(loss: Tensor | Variable, fn: string): Tensor {
  if (loss instanceof Variable) return loss.value();
  if (!(loss instanceof Tensor)) throw new InvalidArgumentError(`${fn}: loss must be a Tensor or a Variable, got ${String(loss)}`);
  return loss;
}

function assertFloat(xs: readonly (Tensor | Variable)[]): void {
  for (const x of xs) {
    if (!isFloat(x.dtype)) {
      throw new InvalidArgumentError(`Invalid type ${x.dtype} for ${x.name}, expected: [float32].`);
    }
  }
}
