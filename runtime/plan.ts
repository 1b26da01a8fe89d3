import { InternalError, InvalidArgumentError, OpError, UnimplementedError } from '../src/errors.js';
import { describeOp, type Operation, type Tensor } from '../src/graph.js';
import { formatShape, shapesCompatible } from '../src/shape.js';
import { pruneToFetches } from '../passes/prune.js';
import type { Backend, KernelNode, RuntimeState } from './backend.js';

export interface Step {
  readonly op: Operation;
  readonly node: KernelNode;
  /** Slot of each input; -1 for a reference input. */
  readonly inputSlots: readonly number[];
  readonly outputSlots: readonly number[];
  /** Slots whose last reader is this step: released after it runs. */
  readonly release: readonly number[];
}

export interface PlanStats {
  opsBefore: number;
  opsAfter: number;
  kernels: number;
}

/**
 * A compiled run: kernel launches in order over numbered value slots. Built once per
 * (fetches, targets, fed tensors, fed shapes) and reused.
 */
export class Plan {
  constructor(
    readonly steps: readonly Step[],
    readonly numSlots: number,
    readonly feedSlots: ReadonlyMap<Tensor, number>,
    readonly fetchSlots: readonly number[],
    readonly stats: PlanStats,
  ) {}

  toString(): string {
    const lines = this.steps.map(
      (s, i) => `${String(i).padStart(4)}  ${s.node.type.padEnd(22)} ${s.node.name}  (${s.inputSlots.map((x) => '%' + x).join(', ')}) -> ${s.outputSlots.map((x) => '%' + x).join(', ')}`,
    );
    return lines.join('\n');
  }

  /** Executes the plan. `feeds` are backend handles, in feedSlots order. */
  execute<H>(backend: Backend<H>, state: RuntimeState<H>, feeds: ReadonlyMap<Tensor, H>): H[] {
    const slots = new Array<H | undefined>(this.numSlots);
    for (const [t, slot] of this.feedSlots) slots[slot] = feeds.get(t);
    for (const step of this.steps) {
      // Reference inputs (slot -1) carry no value: the kernel finds the variable through node.refVars.
      const inputs = step.inputSlots.map((s) => (s >= 0 ? slots[s]! : (undefined as H)));
      let outputs: H[];
      try {
        outputs = backend.execute(step.node, inputs, state);
      } catch (e) {
        throw wrapKernelError(e, step.op);
      }
      checkOutputs(backend, step, outputs);
      step.outputSlots.forEach((s, i) => (slots[s] = outputs[i]));
      for (const s of step.release) slots[s] = undefined;
    }
    return this.fetchSlots.map((s) => slots[s]!);
  }
}

function checkOutputs<H>(backend: Backend<H>, step: Step, outputs: H[]): void {
  const op = step.op;
  if (outputs.length !== op.outputs.length) {
    throw new InternalError(`${describeOp(op)}: kernel produced ${outputs.length} outputs, expected ${op.outputs.length}`, op.name);
  }
  outputs.forEach((h, i) => {
    const t = op.outputs[i]!;
    const dt = backend.dtypeOf(h);
    const shape = backend.shapeOf(h);
    if (dt !== t.dtype || !shapesCompatible(t.shape, shape)) {
      throw new InvalidArgumentError(
        `${describeOp(op)}: output ${i} has dtype ${dt} and shape ${formatShape(shape)} at run time, but the graph says ${t.dtype} ${formatShape(t.shape)}`,
        op.name,
      );
    }
  });
}

function wrapKernelError(e: unknown, op: Operation): Error {
  if (e instanceof OpError) {
    if (e.opName === op.name && e.message.includes(`'${op.name}'`)) return e;
    const Ctor = e.constructor as new (m: string, op?: string) => OpError;
    return new Ctor(`${describeOp(op)}: ${e.message}`, op.name);
  }
  const msg = e instanceof Error ? e.message : String(e);
  const err = new InternalError(`${describeOp(op)}: ${msg}`, op.name);
  if (e instanceof Error) err.stack = `${err.stack}\nCaused by: ${e.stack}`;
  return err;
}

export interface CompileRequest {
  fetches: readonly Tensor[];
  targets: readonly Operation[];
  feeds: readonly Tensor[];
}

export function compilePlan(req: CompileRequest, backend: Backend<unknown>): Plan {
  const feedSet = new Set(req.feeds);
  const ops = pruneToFetches({ fetches: req.fetches, targets: req.targets, feeds: feedSet });
  const slotOf = new Map<Tensor, number>();
  let numSlots = 0;
  const slot = (t: Tensor): number => {
    let s = slotOf.get(t);
    if (s === undefined) slotOf.set(t, (s = numSlots++));
    return s;
  };
  const feedSlots = new Map<Tensor, number>();
  for (const t of req.feeds) feedSlots.set(t, slot(t));

  const raw: { op: Operation; node: KernelNode; inputSlots: number[]; outputSlots: number[] }[] = [];
  for (const op of ops) {
    if (!backend.hasKernel(op.type)) {
      throw new UnimplementedError(
        `${describeOp(op)}: the ${backend.name} backend has no kernel for op type '${op.type}'`,
        op.name,
      );
    }
    const refs = op.def?.refInputs ?? [];
    const inputSlots: number[] = [];
    const refVars: (string | undefined)[] = [];
    op.inputs.forEach((t, i) => {
      if (refs.includes(i)) {
        refVars.push(t.op.name);
        inputSlots.push(-1);
      } else {
        refVars.push(undefined);
        inputSlots.push(slot(t));
      }
    });
    const node: KernelNode = {
      name: op.name,
      type: op.type,
      attrs: op.attrs,
      outputs: op.outputs.map((t) => ({ dtype: t.dtype, shape: t.shape })),
      inputDTypes: op.inputs.map((t) => t.dtype),
      inputShapes: op.inputs.map((t) => t.shape),
      refVars,
      varName: op.type === 'VariableV2' ? op.name : undefined,
    };
    // Outputs that are fed keep the fed value: the op still runs (for its other outputs or effects)
    // but writes those to a scratch slot.
    const outputSlots = op.outputs.map((t) => (feedSet.has(t) ? numSlots++ : slot(t)));
    raw.push({ op, node, inputSlots, outputSlots });
  }
  const fetchSlots = req.fetches.map((t) => slot(t));
  const keep = new Set(fetchSlots);
  const lastUse = new Map<number, number>();
  raw.forEach((s, i) => s.inputSlots.forEach((x) => x >= 0 && lastUse.set(x, i)));
  // Outputs nobody reads are released right after their producer.
  raw.forEach((s, i) => s.outputSlots.forEach((x) => !lastUse.has(x) && lastUse.set(x, i)));
  const releaseAt = raw.map(() => [] as number[]);
  for (const [s, i] of lastUse) if (!keep.has(s)) releaseAt[i]!.push(s);
  const steps: Step[] = raw.map((s, i) => ({
    ...s,
    release: releaseAt[i]!,
  }));
  const graphOps = req.fetches[0]?.graph.numOps ?? req.targets[0]?.graph.numOps ?? 0;
  return new Plan(steps, numSlots, feedSlots, fetchSlots, { opsBefore: graphOps, opsAfter: steps.length, kernels: steps.length });
}
