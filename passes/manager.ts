// The pass manager: runs a named pipeline of graph-to-graph passes over a PlanGraph.
import { InternalError } from '../src/core/errors.js';
import { eliminateCommonSubexpressions } from './cse.js';
import { foldConstants, type HostEvaluator } from './fold.js';
import { fuseElementwise } from './fuse.js';
import { removeDeadNodes, type PlanGraph, type PNode } from './ir.js';
import { remap } from './remap.js';
import { specializeShapes } from './shapes.js';
import { simplify } from './simplify.js';
import { lowerViews } from './views.js';
import { scheduleForMemory } from './schedule.js';

export interface PassContext {
  /** Whether the target backend has a kernel for an op type (fused passes only fire when it does). */
  hasKernel: (type: string) => boolean;
  /** Whether the backend can generate code for this op inside a fused elementwise kernel. */
  canFuse?: (n: PNode) => boolean;
  /** Most buffers one fused kernel may bind (inputs plus outputs); unlimited when absent. */
  maxFusedOperands?: number;
  /** Largest constant folding may create, in bytes. */
  foldMaxBytes?: number;
  /** Evaluates ops on constants for folding (the CPU backend's kernels). */
  evaluate?: HostEvaluator;
}

/** A pure graph-to-graph transform: it returns a new PlanGraph and leaves its input as it was. */
export type Pass = (g: PlanGraph, ctx: PassContext) => PlanGraph;

export const PASSES: Readonly<Record<string, Pass>> = {
  prune: (g) => {
    const c = g.clone();
    removeDeadNodes(c);
    return c;
  },
  specialize: (g) => specializeShapes(g),
  fold: (g, ctx) => foldConstants(g, { maxBytes: ctx.foldMaxBytes, evaluate: ctx.evaluate }),
  cse: (g) => eliminateCommonSubexpressions(g),
  simplify: (g) => simplify(g),
  remap: (g, ctx) => remap(g, { hasKernel: ctx.hasKernel }),
  fuse: (g, ctx) => (ctx.canFuse && ctx.hasKernel('_FusedElementwise') ? fuseElementwise(g, { canFuse: ctx.canFuse, maxOperands: ctx.maxFusedOperands }) : g),
  views: (g, ctx) => (ctx.hasKernel('_View') ? lowerViews(g) : g),
  schedule: (g) => scheduleForMemory(g),
};

/**
 * The default pipeline. Shapes are specialized first (so Shape ops of fed tensors fold), folding
 * and simplification run twice because each exposes work for the other, pattern fusion runs
 * before elementwise fusion claims the bias adds and activations, and the kernels are finally
 * ordered to keep the peak of live memory low.
 */
export const DEFAULT_PIPELINE: readonly string[] = [
  'prune',
  'specialize',
  'fold',
  'simplify',
  'cse',
  'specialize',
  'fold',
  'simplify',
  'cse',
  'remap',
  'fuse',
  'views',
  'schedule',
];

export interface RunPipelineOptions {
  pipeline?: readonly string[];
  /** Called with the graph after each pass (and with 'input' before the first). */
  dump?: (pass: string, g: PlanGraph) => void;
}

export function runPipeline(g: PlanGraph, ctx: PassContext, opts: RunPipelineOptions = {}): PlanGraph {
  const pipeline = opts.pipeline ?? DEFAULT_PIPELINE;
  opts.dump?.('input', g);
  for (const name of pipeline) {
    const pass = PASSES[name];
    if (!pass) throw new Error(`Unknown pass '${name}' (known: ${Object.keys(PASSES).join(', ')})`);
    g = pass(g, ctx);
    try {
      g.validate();
    } catch (e) {
      throw new InternalError(`graph optimization pass '${name}' produced an invalid graph: ${(e as Error).message}`);
    }
    opts.dump?.(name, g);
  }
  return g;
}
