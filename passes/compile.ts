// The compiler's last stage: a pruned, optimized plan graph becomes a Plan the runtime executes
// (kernel launches over numbered slots, with an arena layout). The runtime never calls back here.
import { bytesPerElement } from '../src/core/dtypes.js';
import { InternalError, UnimplementedError } from '../src/core/errors.js';
import type { Operation, Tensor } from '../src/graph.js';
import { NDArray } from '../src/core/ndarray.js';
import type { Shape } from '../src/core/shape.js';
import { getOpDef, hasExternalOutput, isAliasOp, isInPlaceOp } from '../ops/registry.js';
import { FuncGraph } from '../src/func_graph.js';
import { isRuntimeOp, runtimeKernel, runtimeOutputsPlanned, type CounterTest, type EntryValue, type FunctionPlan, type TripCount } from '../runtime/control_flow.js';
import '../runtime/tensor_array.js';
import { alignBytes, planMemory, type MemoryPlan, type MemStep, type OutputKind } from '../runtime/arena.js';
import type { Backend } from '../runtime/backend.js';
import { Plan, type PlanStats, type Step } from '../runtime/plan.js';
import { buildPlanGraph } from './build.js';
import { ARG, describeNode, toKernelNode, type PlanGraph, type PNode, type Value } from './ir.js';
import type { HostEvaluator } from './fold.js';
import { runPipeline, type RunPipelineOptions } from './manager.js';
import { specializeShapes } from './shapes.js';

export interface CompileRequest {
  fetches: readonly Tensor[];
  targets: readonly Operation[];
  feeds: readonly Tensor[];
  /** Concrete shapes of the fed values (the plan is specialized to them when optimized). */
  feedShapes?: ReadonlyMap<Tensor, Shape>;
}

/** What to compile for a run fetching `fetches`, running `targets`, feeding these values. */
export function compileRequest(fetches: readonly Tensor[], targets: readonly Operation[], feeds: ReadonlyMap<Tensor, { readonly shape: readonly number[] }>): CompileRequest {
  const feedShapes = new Map<Tensor, Shape>();
  for (const [t, v] of feeds) feedShapes.set(t, [...v.shape]);
  return { fetches, targets, feeds: [...feeds.keys()], feedShapes };
}

export interface CompileOptions extends RunPipelineOptions {
  /** Evaluates ops on constants for folding (the CPU backend's kernels, whatever the target). */
  evaluate?: HostEvaluator;
  /** Run the optimization passes and plan memory (default true); false runs the pruned graph as is. */
  optimize?: boolean;
  foldMaxBytes?: number;
}

function checkKernels(g: PlanGraph, backend: Backend<unknown>): void {
  for (const n of g.nodes) {
    if (n.type === ARG || backend.hasKernel(n.type) || isRuntimeOp(n.type)) continue;
    if (n.inputs.some((v) => v?.dtype === 'variant') && runtimeKernel({ type: n.type, inputDTypes: n.inputs.map((v) => v?.dtype ?? 'float32') })) continue;
    throw new UnimplementedError(
      `${describeNode(n)}: the ${backend.name} backend has no kernel for op type '${n.type}'`,
      n.origin?.name ?? n.name,
    );
  }
}

export function compilePlan(req: CompileRequest, backend: Backend<unknown>, opts: CompileOptions = {}): Plan {
  const optimize = opts.optimize ?? true;
  const { graph: before, pruned } = buildPlanGraph(req);
  checkKernels(before, backend);
  let after = before;
  if (optimize) {
    after = runPipeline(
      before,
      {
        hasKernel: (t) => backend.hasKernel(t),
        canFuse: backend.canFuse ? (n) => backend.canFuse!(n) : undefined,
        maxFusedOperands: backend.maxFusedOperands,
        foldMaxBytes: opts.foldMaxBytes,
        evaluate: opts.evaluate,
      },
      opts,
    );
    checkKernels(after, backend);
  }

  const slotOf = new Map<Value, number>();
  let numSlots = 0;
  const slot = (v: Value): number => {
    let s = slotOf.get(v);
    if (s === undefined) slotOf.set(v, (s = numSlots++));
    return s;
  };
  const feedSlots = new Map<Tensor, number>();
  for (const [t, v] of after.feeds) feedSlots.set(t, slot(v));
  const nodes = after.nodes.filter((n) => n.type !== ARG);
  const used = new Set<Value>(after.fetches);
  for (const n of nodes) for (const v of n.inputs) if (v) used.add(v);
  const raw = nodes.map((n) => {
    const node = toKernelNode(n);
    return {
      source: n,
      what: describeNode(n),
      opName: n.origin?.name ?? n.name,
      node,
      inputSlots: n.inputs.map((v) => (v ? slot(v) : -1)),
      outputSlots: n.outputs.map(slot),
      runtime: runtimeKernel(node),
      functions: compileFunctions(n, backend, opts, used),
    };
  });
  const fetchSlots = after.fetches.map(slot);
  const keep = new Set(fetchSlots);
  const lastUse = new Map<number, number>();
  raw.forEach((s, i) => s.inputSlots.forEach((x) => x >= 0 && lastUse.set(x, i)));
  // Outputs nobody reads are released right after their producer.
  raw.forEach((s, i) => s.outputSlots.forEach((x) => !lastUse.has(x) && lastUse.set(x, i)));
  const releaseAt = raw.map(() => [] as number[]);
  for (const [s, i] of lastUse) if (!keep.has(s)) releaseAt[i]!.push(s);
  // A list push whose element no other step aliases or updates keeps the element's own memory: the
  // element is computed outside the arena and the list takes it, with no copy (a constant's too).
  const producer = new Map<number, (typeof raw)[number]>();
  for (const s of raw) for (const x of s.outputSlots) producer.set(x, s);
  const taken = new Set<number>();
  const takes = raw.map((s) => {
    const item = getOpDef(s.node.type)?.storesInput;
    if (item === undefined || !optimize || !backend.freshOutputsOwned) return false;
    const slot = s.inputSlots[item]!;
    const p = producer.get(slot);
    // A constant's value is never written: a list keeps it as it is.
    if (p && p.node.type === 'Const') return true;
    if (!p || p.runtime || outputKind(p.source).kind !== 'fresh') return false;
    taken.add(slot);
    return true;
  });
  const steps: Step[] = raw.map((s, i) => ({
    ...s,
    release: releaseAt[i]!,
    takesElement: takes[i],
    keptOutputs: s.outputSlots.some((x) => taken.has(x)) ? s.outputSlots.map((x) => taken.has(x)) : undefined,
  }));

  let memory: MemoryPlan | undefined;
  if (optimize) {
    const memSteps: MemStep[] = steps.map((s) => ({
      inputs: s.inputSlots,
      inPlace: backend.fuseInPlace === true && isInPlaceOp(s.node.type),
      outputs: s.source.outputs.map((o, k) => ({
        slot: s.outputSlots[k]!,
        dtype: o.dtype,
        shape: o.shape,
        how: o.dtype === 'variant' || taken.has(s.outputSlots[k]!) || (s.runtime && !runtimeOutputsPlanned(s.node.type)) ? EXTERNAL : outputKind(s.source),
      })),
    }));
    memory = planMemory({ steps: memSteps, feeds: [...feedSlots.values()], fetches: fetchSlots });
  }
  const fusedKernels = steps.filter((s) => s.node.type.startsWith('_Fused') || (s.source.members?.length ?? 0) > 1).length;
  const graphOps = req.fetches[0]?.graph.numOps ?? req.targets[0]?.graph.numOps ?? 0;
  const stats: PlanStats = {
    graphOps,
    opsBefore: pruned.length,
    opsAfter: nodes.length,
    kernels: steps.length,
    fusedKernels,
    plannedPeakBytes: memory?.arenaBytes ?? 0,
    naivePeakBytes: memory?.naiveBytes ?? 0,
    unoptimizedNaiveBytes: optimize ? intermediateBytes(specializeShapes(before)) : 0,
  };
  return new Plan(steps, numSlots, feedSlots, fetchSlots, stats, { before, after }, memory, optimize);
}

const EXTERNAL: OutputKind = { kind: 'external' };

/**
 * Compiles the function bodies a control-flow node holds, each into a plan of its own, specialized
 * to the shapes its inputs have here: a loop's are its outputs' (the loop's shape fixpoint), a
 * cond's its inputs'. Each body is compiled once per enclosing plan, never per iteration.
 */
function compileFunctions(n: PNode, backend: Backend<unknown>, opts: CompileOptions, used: ReadonlySet<Value>): Record<string, FunctionPlan> | undefined {
  const names = getOpDef(n.type)?.functions;
  if (!names) return undefined;
  const fgs = names.map((name) => {
    const fg = n.attrs[name];
    if (!(fg instanceof FuncGraph)) throw new InternalError(`${describeNode(n)}: attr '${name}' is not a function body`, n.name);
    return fg;
  });
  const isLoop = names.includes('body');
  const shapes = isLoop ? n.outputs.map((o) => o.shape) : n.inputs.slice(1).map((v) => v?.shape ?? null);
  const body = isLoop ? fgs[names.indexOf('body')]! : undefined;
  const live = body ? liveLoopVariables(n, used, fgs[names.indexOf('cond')]!, body) : undefined;
  // Loop variables the body passes through unchanged: what depends only on them is loop-invariant.
  const invariant = body ? new Set(body.inputs.map((_, k) => k).filter((k) => body.outputs[k] === body.inputs[k])) : undefined;
  const out: Record<string, FunctionPlan> = {};
  names.forEach((name, i) => (out[name] = compileFunction(fgs[i]!, shapes, backend, opts, name === 'body' ? live : undefined, invariant)));
  // Only optimized plans count their loops: an unoptimized plan (what WEIR_VERIFY_OPT compares
  // with) reads every predicate, so verification runs check each trip count.
  if (body && (opts.optimize ?? true)) {
    const trips = countedLoop(fgs[names.indexOf('cond')]!, body);
    if (trips) out.cond = { ...out.cond!, trips };
  }
  return out;
}

const COMPARISONS: Readonly<Record<string, CounterTest['cmp']>> = { Less: 'lt', LessEqual: 'le', Greater: 'gt', GreaterEqual: 'ge' };
const MIRRORED: Readonly<Record<CounterTest['cmp'], CounterTest['cmp']>> = { lt: 'gt', le: 'ge', gt: 'lt', ge: 'le' };

/** The tensor an Identity chain forwards. */
function peel(t: Tensor): Tensor {
  while (t.op.type === 'Identity' && t.op.inputs.length === 1) t = t.op.inputs[0]!;
  return t;
}

/**
 * A loop whose trip count is known on entry: cond is a logical and of comparisons, each of an int32
 * scalar counter (a loop variable the body adds a loop-invariant scalar to) with a loop-invariant
 * scalar (a constant, or a variable the body passes through). The counter against
 * maximum_iterations, `i < n` in dynamic_rnn, scan and map_fn, and a gradient loop's counter are of
 * this kind. Anything else (a predicate reading data, an increment that changes, a cond with
 * effects) gives undefined: the loop reads its predicate each iteration.
 */
export function countedLoop(cond: FuncGraph, body: FuncGraph): TripCount | undefined {
  const n = cond.inputs.length;
  if (cond.outputs.length !== 1 || body.inputs.length !== n || body.outputs.length !== n || cond.statefulOps().length > 0) return undefined;
  const invariant = (k: number): boolean => peel(body.outputs[k]!) === body.inputs[k];
  const scalarInt = (t: Tensor): boolean => t.dtype === 'int32' && t.shape !== null && t.shape.length === 0;
  // A constant, or a loop variable the body passes through, in function graph fg.
  const entryValue = (fg: FuncGraph, x: Tensor): EntryValue | undefined => {
    const t = peel(x);
    if (!scalarInt(t)) return undefined;
    if (t.op.type === 'Const') {
      const v = t.op.attrs.value;
      return v instanceof NDArray && v.dtype === 'int32' && v.size === 1 ? { value: Number(v.data[0]) } : undefined;
    }
    const k = fg.inputs.indexOf(t);
    return k >= 0 && invariant(k) ? { input: k } : undefined;
  };
  // The loop variable a cond tensor is, and what the body adds to it each iteration.
  const counterOf = (x: Tensor): { counter: number; step: EntryValue; negate: boolean } | undefined => {
    const t = peel(x);
    const k = cond.inputs.indexOf(t);
    if (k < 0 || !scalarInt(t) || invariant(k)) return undefined;
    const next = peel(body.outputs[k]!);
    const [a, b] = next.op.inputs.map(peel);
    const self = body.inputs[k]!;
    if (!scalarInt(next) || !a || !b || next.op.inputs.length !== 2) return undefined;
    if (next.op.type === 'AddV2' || next.op.type === 'Add') {
      const step = a === self ? entryValue(body, b) : b === self ? entryValue(body, a) : undefined;
      return step && { counter: k, step, negate: false };
    }
    if (next.op.type === 'Sub' && a === self) {
      const step = entryValue(body, b);
      return step && { counter: k, step, negate: true };
    }
    return undefined;
  };
  const tests: CounterTest[] = [];
  const conjuncts = (x: Tensor): boolean => {
    const t = peel(x);
    const op = t.op;
    if (op.type === 'LogicalAnd') return conjuncts(op.inputs[0]!) && conjuncts(op.inputs[1]!);
    const cmp = COMPARISONS[op.type];
    if (!cmp || op.inputs.length !== 2) return false;
    const [a, b] = op.inputs as [Tensor, Tensor];
    const left = counterOf(a);
    const right = counterOf(b);
    if (left && !right) {
      const bound = entryValue(cond, b);
      return !!bound && !!tests.push({ ...left, cmp, bound });
    }
    if (right && !left) {
      const bound = entryValue(cond, a);
      return !!bound && !!tests.push({ ...right, cmp: MIRRORED[cmp], bound });
    }
    return false;
  };
  if (!conjuncts(cond.outputs[0]!) || tests.length === 0) return undefined;
  return { tests, counters: [...new Set(tests.map((t) => t.counter))] };
}

/**
 * The loop variables a run of this loop needs: those whose results are used after it, those cond
 * or the body's effects read, and, through the body, every variable those depend on. The others
 * (accumulators for a gradient this run does not compute, a TensorArray's unused gradient) are
 * dropped from the body's plan: they keep their initial values and cost nothing per iteration.
 */
function liveLoopVariables(n: PNode, used: ReadonlySet<Value>, cond: FuncGraph, body: FuncGraph): number[] {
  const live = new Set<number>();
  n.outputs.forEach((v, k) => used.has(v) && live.add(k));
  const reads = (fg: FuncGraph, from: readonly Tensor[]): number[] => {
    const seen = new Set<Operation>();
    const stack = from.map((t) => t.op);
    const found: number[] = [];
    while (stack.length) {
      const op = stack.pop()!;
      if (seen.has(op)) continue;
      seen.add(op);
      if (op.type === 'Placeholder') {
        const k = fg.inputs.indexOf(op.outputs[0]!);
        if (k >= 0) found.push(k);
      }
      for (const t of op.inputs) stack.push(t.op);
      for (const c of op.controlInputs) stack.push(c);
    }
    return found;
  };
  const effects = body.statefulOps();
  const queue = [...live, ...reads(cond, cond.outputs), ...reads(body, effects.flatMap((op) => [...op.inputs, ...op.controlInputs.flatMap((c) => c.outputs)]))];
  for (const k of queue) live.add(k);
  while (queue.length) {
    const k = queue.pop()!;
    for (const m of reads(body, [body.outputs[k]!])) {
      if (!live.has(m)) {
        live.add(m);
        queue.push(m);
      }
    }
  }
  return [...live].sort((a, b) => a - b);
}

/**
 * Compiles a function body into a plan of its own, fetching its outputs (those `outputs` selects,
 * by index) with its inputs fed in order.
 */
export function compileFunction(
  fg: FuncGraph,
  shapes: readonly Shape[],
  backend: Backend<unknown>,
  opts: CompileOptions,
  outputs?: readonly number[],
  invariant?: ReadonlySet<number>,
): FunctionPlan {
  const feedShapes = new Map<Tensor, Shape>();
  fg.inputs.forEach((t, i) => feedShapes.set(t, shapes[i] ?? t.shape));
  const selected = outputs ?? fg.outputs.map((_, i) => i);
  const plan = compilePlan({ fetches: selected.map((i) => fg.outputs[i]!), targets: fg.statefulOps(), feeds: fg.inputs, feedShapes }, backend, opts);
  const args = fg.inputs.map((t) => plan.feedSlots.get(t)!);
  const producer = new Map<number, Step>();
  for (const st of plan.steps) for (const x of st.outputSlots) producer.set(x, st);
  const outputRoots = plan.fetchSlots.map((slot) => {
    for (let s = slot; ; ) {
      const a = args.indexOf(s);
      if (a >= 0) return a;
      const st = producer.get(s);
      if (!st || !isAliasOp(st.node.type)) return -1;
      s = st.inputSlots[0]!;
    }
  });
  return { plan, args, outputs: selected, outputRoots, hoisted: invariant && (opts.optimize ?? true) ? hoistable(plan, args, invariant) : undefined };
}

/**
 * Loop-invariant code motion: the steps of a loop's cond or body whose inputs are all invariant
 * (loop variables passed through unchanged, constants, other invariant steps) and that have no
 * effects. Undefined when there are none.
 */
function hoistable(plan: Plan, args: readonly number[], invariant: ReadonlySet<number>): boolean[] | undefined {
  const known = new Set<number>();
  args.forEach((slot, k) => invariant.has(k) && known.add(slot));
  const fetched = new Set(plan.fetchSlots);
  const marks = plan.steps.map((s) => {
    const n = s.source;
    const pure = !s.runtime && !n.stateful && n.refVars.every((r) => r === undefined) && !s.keptOutputs;
    const ok = pure && s.inputSlots.every((x) => x >= 0 && known.has(x)) && !s.outputSlots.some((x) => fetched.has(x));
    if (ok) for (const x of s.outputSlots) known.add(x);
    return ok;
  });
  return marks.some((m) => m) ? marks : undefined;
}

/** Bytes of every intermediate a graph computes (static shapes only), one buffer each. */
function intermediateBytes(g: PlanGraph): number {
  let total = 0;
  for (const n of g.nodes) {
    if (n.type === ARG || outputKind(n).kind !== 'fresh') continue;
    for (const o of n.outputs) {
      if (o.dtype === 'string' || o.dtype === 'variant' || o.shape === null || o.shape.some((d) => d === null)) continue;
      total += alignBytes((o.shape as number[]).reduce((a, b) => a * b, 1) * bytesPerElement(o.dtype));
    }
  }
  return total;
}

function outputKind(n: PNode): OutputKind {
  if (isAliasOp(n.type)) return { kind: 'alias', input: 0 };
  if (hasExternalOutput(n.type) || n.refVars.some((r) => r !== undefined)) return { kind: 'external' };
  return { kind: 'fresh' };
}
