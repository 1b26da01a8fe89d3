// The compiler's last stage: a pruned, optimized plan graph becomes a Plan the runtime executes
// (kernel launches over numbered slots, with an arena layout). The runtime never calls back here.
import { bytesPerElement } from '../src/core/dtypes.js';
import { UnimplementedError } from '../src/core/errors.js';
import type { Operation, Tensor } from '../src/graph.js';
import type { Shape } from '../src/core/shape.js';
import { getOpDef, hasExternalOutput, isAliasOp, isInPlaceOp } from '../ops/registry.js';
import { InternalError } from '../src/core/errors.js';
import { FuncGraph } from '../src/func_graph.js';
import { isRuntimeOp, runtimeKernel, runtimeOutputsPlanned, type FunctionPlan } from '../runtime/control_flow.js';
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
      functions: compileFunctions(n, backend, opts),
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
  const steps: Step[] = raw.map((s, i) => ({ ...s, release: releaseAt[i]! }));

  let memory: MemoryPlan | undefined;
  if (optimize) {
    const memSteps: MemStep[] = steps.map((s) => ({
      inputs: s.inputSlots,
      inPlace: backend.fuseInPlace === true && isInPlaceOp(s.node.type),
      outputs: s.source.outputs.map((o, k) => ({
        slot: s.outputSlots[k]!,
        dtype: o.dtype,
        shape: o.shape,
        how: o.dtype === 'variant' || (s.runtime && !runtimeOutputsPlanned(s.node.type)) ? EXTERNAL : outputKind(s.source),
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
function compileFunctions(n: PNode, backend: Backend<unknown>, opts: CompileOptions): Record<string, FunctionPlan> | undefined {
  const names = getOpDef(n.type)?.functions;
  if (!names) return undefined;
  const isLoop = names.includes('body');
  const shapes = isLoop ? n.outputs.map((o) => o.shape) : n.inputs.slice(1).map((v) => v?.shape ?? null);
  const out: Record<string, FunctionPlan> = {};
  for (const name of names) {
    const fg = n.attrs[name];
    if (!(fg instanceof FuncGraph)) throw new InternalError(`${describeNode(n)}: attr '${name}' is not a function body`, n.name);
    out[name] = compileFunction(fg, shapes, backend, opts);
  }
  return out;
}

export function compileFunction(fg: FuncGraph, shapes: readonly Shape[], backend: Backend<unknown>, opts: CompileOptions): FunctionPlan {
  const feedShapes = new Map<Tensor, Shape>();
  fg.inputs.forEach((t, i) => feedShapes.set(t, shapes[i] ?? t.shape));
  const plan = compilePlan({ fetches: fg.outputs, targets: fg.statefulOps(), feeds: fg.inputs, feedShapes }, backend, opts);
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
  return { plan, args, outputRoots };
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
