// Function bodies: the graphs a loop's cond and body, or a cond's branches, are built in.
//
// weir's control flow is functional, as TensorFlow 2's: an If or While op holds its branches and
// body as FuncGraphs (attrs), each compiled once into a plan of its own. Building one runs the
// user's function with the FuncGraph as the default graph; a tensor of an outer graph used there is
// captured: it becomes an input of the body (a Placeholder inside, the outer tensor an extra input
// of the op), so a body never reaches across graphs at run time.
import { InvalidArgumentError } from './core/errors.js';
import type { Shape } from './core/shape.js';
import type { DType } from './core/dtypes.js';
import { Graph, Operation, Tensor } from './graph.js';

/** A FuncGraph's inputs: TF2's `_Arg`s, built as Placeholders (the body's plan feeds them). */
export interface FuncArg {
  dtype: DType;
  shape: Shape;
  name?: string;
}

export class FuncGraph extends Graph {
  /** The explicit arguments (loop variables, branch inputs), then captured values, in order. */
  readonly inputs: Tensor[] = [];
  /** What the function returns. */
  outputs: Tensor[] = [];
  /** Outer tensor → the placeholder standing for it here, in capture order. */
  readonly captures = new Map<Tensor, Tensor>();
  /**
   * Captures of tensors from graphs that are not around this one (a gradient body reading its
   * forward body's intermediates): the hook gives the tensor of this graph that stands for them.
   */
  foreignCapture?: (t: Tensor) => Tensor;
  /**
   * Intermediates a gradient made this function return (for a cond branch: the output index; for a
   * loop body: the index of the accumulator loop variable), so a second gradient reuses them.
   */
  readonly exports = new Map<Tensor, number>();

  constructor(
    readonly name: string,
    readonly outerGraph: Graph,
  ) {
    super({ extras: outerGraph.extras });
    this.seed = outerGraph.seed;
  }

  override get buildingFunction(): boolean {
    return true;
  }

  /** Adds an explicit argument (before any capture is made). */
  addArg(arg: FuncArg): Tensor {
    const t = this.createOp('Placeholder', [], { dtype: arg.dtype, shape: arg.shape }, { name: arg.name ?? 'arg' }).outputs[0]!;
    this.inputs.push(t);
    return t;
  }

  /** Whether g is this graph or one it is nested in. */
  encloses(g: Graph): boolean {
    for (let cur: Graph | undefined = this; cur; cur = cur instanceof FuncGraph ? cur.outerGraph : undefined) {
      if (cur === g) return true;
    }
    return false;
  }

  /** Ops with effects in this body (and its nested bodies): the function runs them every call. */
  statefulOps(): Operation[] {
    return this.getOperations().filter((op) => isStatefulOp(op));
  }

  protected override resolveInput(t: Tensor, opType: string): Tensor {
    return this.capture(t, opType);
  }

  /** The tensor of this graph standing for t (t itself when it is this graph's). */
  capture(t: Tensor, opType = 'capture'): Tensor {
    if (t.graph === this) return t;
    const known = this.captures.get(t);
    if (known) return known;
    if (!this.outerGraphsInclude(t.graph)) {
      if (this.foreignCapture) return this.foreignCapture(t);
      throw new InvalidArgumentError(`${opType}: input ${t.name} is from a graph that is not around this function body ('${this.name}')`);
    }
    const outer = this.outerGraph instanceof FuncGraph ? this.outerGraph.capture(t, opType) : t;
    if (outer.op.type === 'VariableV2') {
      // A variable's reference (an assignment in the body): a proxy of the same variable, by its
      // shared name. Reads through snapshots are captured as values, so gradients flow through them.
      const key = variableKey(outer.op);
      const proxy = this.createOp(
        'VariableV2',
        [],
        { shape: outer.shape, dtype: outer.dtype, container: '', shared_name: key },
        { name: `${outer.op.name.replace(/\//g, '_')}_ref` },
      ).outputs[0]!;
      this.captures.set(t, proxy);
      return proxy;
    }
    const ph = this.createOp('Placeholder', [], { dtype: outer.dtype, shape: outer.shape }, { name: `${outer.op.name.replace(/\//g, '_')}_capture` }).outputs[0]!;
    this.captures.set(t, ph);
    this.inputs.push(ph);
    return ph;
  }

  /**
   * Variable proxies among the captures do not become inputs (they name session state); values do.
   * The outer tensors that the function's value captures stand for, in `inputs` order.
   */
  capturedInputs(): Tensor[] {
    const out: Tensor[] = [];
    for (const [outer, inner] of this.captures) if (inner.op.type === 'Placeholder') out.push(outer);
    return out;
  }

  private outerGraphsInclude(g: Graph): boolean {
    return this.outerGraph instanceof FuncGraph ? this.outerGraph.encloses(g) : this.outerGraph === g;
  }
}

/** The session-state key of a VariableV2: its shared name when it has one (TF's rule), else its name. */
export function variableKey(op: { name: string; attrs: Readonly<Record<string, unknown>> }): string {
  const shared = op.attrs.shared_name;
  return typeof shared === 'string' && shared !== '' ? shared : op.name;
}

function isStatefulOp(op: Operation): boolean {
  return !!op.def?.stateful && op.type !== 'VariableV2' && op.type !== 'Placeholder';
}

/** The graph variables are created in: the outermost graph around `g` (TF's init_scope). */
export function initScopeGraph(g: Graph): Graph {
  let cur = g;
  while (cur instanceof FuncGraph) cur = cur.outerGraph;
  return cur;
}
