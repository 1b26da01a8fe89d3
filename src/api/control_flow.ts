// tf.cond, tf.case and tf.whileLoop: TF1's API over functional If / While ops (ops/control_flow.ts).
// Each branch, cond and body is traced once into a FuncGraph; tensors of outer graphs it uses are
// captured and become extra inputs of the op (for a loop: extra loop variables passed through).
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { formatShape, generalizeShapes, shapesCompatible, type Shape } from '../core/shape.js';
import { FuncGraph } from '../func_graph.js';
import { Tensor, type Graph, type Operation } from '../graph.js';
import { ValueError } from '../variable_scope.js';
import { add, less, logicalAnd } from './math.js';
import { constant, stopGradient } from './core.js';
import { describeStructure, flatten, packSequenceAs, sameStructure } from './nest.js';
import { TensorArray } from './tensor_array.js';

/** Leaves of loop variables and branch results: tensors, TensorArrays, or values tensors are made of. */
export type LoopLeaf = TensorLike | TensorArray;

/** A leaf as the tensor that carries it through the op (a TensorArray by its flow). */
function leafTensor(x: unknown, what: string): Tensor {
  if (x instanceof TensorArray) return x.flow;
  if (x === undefined || x === null) throw new ValueError(`${what} is ${String(x)}; expected a tensor`);
  return convertToTensor(x as TensorLike);
}

/** A leaf rebuilt around the op's output tensor (a TensorArray keeps its element spec). */
function rebuildLeaf(template: unknown, t: unknown): unknown {
  return template instanceof TensorArray ? template.withFlow(t as Tensor) : t;
}

/** The graph a control-flow op goes in, for these inputs. */
function opGraph(values: readonly unknown[]): Graph {
  return graphOf(values.map((v) => (v instanceof TensorArray ? v.flow : v)));
}

/**
 * Orders a body's inputs as its op passes them: its own arguments, then one placeholder per outer
 * tensor in `captured` (capturing any the body did not use yet).
 */
function alignCaptures(f: FuncGraph, numArgs: number, captured: readonly Tensor[]): void {
  const args = f.inputs.slice(0, numArgs);
  const phs = captured.map((t) => f.capture(t));
  f.inputs.length = 0;
  f.inputs.push(...args, ...phs);
}

/** Outer tensors the functions capture by value, each once, in first-capture order. */
function unionCaptures(fs: readonly FuncGraph[]): Tensor[] {
  const out: Tensor[] = [];
  for (const f of fs) for (const t of f.capturedInputs()) if (!out.includes(t)) out.push(t);
  return out;
}

/** A function's results as tensors of the function graph (outer tensors returned as they are get captured). */
function resultTensors(f: FuncGraph, flat: readonly unknown[], what: (i: number) => string): Tensor[] {
  return flat.map((x, i) => {
    const t = f.asDefault(() => leafTensor(x, what(i)));
    return t.graph === f ? t : f.capture(t);
  });
}

// ---------------------------------------------------------------------------------------------
// The ops

/**
 * An If (StatelessIf when neither branch has effects) choosing between two built branches. Each
 * branch's first `args.length` inputs stand for `args`; the outer tensors either branch captured
 * follow, in one order for both, as further inputs of the op.
 */
export function makeIfOp(g: Graph, pred: Tensor, thenGraph: FuncGraph, elseGraph: FuncGraph, args: readonly Tensor[], name: string): Operation {
  const captured = unionCaptures([thenGraph, elseGraph]);
  alignCaptures(thenGraph, args.length, captured);
  alignCaptures(elseGraph, args.length, captured);
  const stateful = thenGraph.statefulOps().length > 0 || elseGraph.statefulOps().length > 0;
  const inputs = [...args, ...captured];
  return g.createOp(
    stateful ? 'If' : 'StatelessIf',
    [pred, ...inputs],
    {
      Tcond: pred.dtype,
      Tin: inputs.map((t) => t.dtype),
      Tout: thenGraph.outputs.map((t) => t.dtype),
      then_branch: thenGraph,
      else_branch: elseGraph,
      output_shapes: thenGraph.outputs.map((t, i) => generalizeShapes(t.shape, elseGraph.outputs[i]!.shape)),
    },
    { name },
  );
}

/**
 * A While (StatelessWhile when cond and body have no effects) over built cond and body graphs
 * whose first `args.length` inputs are the loop variables; outer tensors they captured become
 * further loop variables the body passes through unchanged.
 */
export function makeWhileOp(
  g: Graph,
  condGraph: FuncGraph,
  bodyGraph: FuncGraph,
  args: readonly Tensor[],
  shapes: readonly Shape[],
  opts: { name: string; parallelIterations?: number },
): Operation {
  const captured = unionCaptures([condGraph, bodyGraph]);
  alignCaptures(condGraph, args.length, captured);
  alignCaptures(bodyGraph, args.length, captured);
  bodyGraph.outputs.push(...bodyGraph.inputs.slice(args.length));
  const stateful = condGraph.statefulOps().length > 0 || bodyGraph.statefulOps().length > 0;
  const inputs = [...args, ...captured];
  return g.createOp(
    stateful ? 'While' : 'StatelessWhile',
    inputs,
    {
      T: inputs.map((t) => t.dtype),
      cond: condGraph,
      body: bodyGraph,
      output_shapes: [...shapes, ...captured.map((t) => t.shape)],
      parallel_iterations: opts.parallelIterations ?? 10,
      // TF2's name: loop variables past this many are accumulators a gradient added.
      _num_original_outputs: inputs.length,
    },
    { name: opts.name },
  );
}

// ---------------------------------------------------------------------------------------------
// cond / case

export interface CondOptions {
  name?: string;
}

/**
 * tf.cond(pred, trueFn, falseFn): runs one branch, as the scalar predicate says. The branches
 * return the same structure of tensors (same dtypes); an output's static shape is what both agree
 * on. Both branches are built (traced) here; only one runs.
 */
export function cond<T>(pred: TensorLike, trueFn: () => T, falseFn: () => T, opts: CondOptions = {}): T {
  const g = opGraph([pred]);
  return g.asDefault(() =>
    g.nameScope(opts.name ?? 'cond', (scope) => {
      const name = scope.replace(/\/$/, '');
      const p = convertToTensor(pred, undefined, 'pred');
      if (p.dtype !== 'bool') throw new ValueError(`${name}: pred must be a bool tensor, got ${p.name} of dtype ${p.dtype}`);
      if (p.shape !== null && p.shape.length !== 0) throw new ValueError(`${name}: pred must be a scalar, got ${p.name} of shape ${formatShape(p.shape)}`);
      const branches = [
        { f: new FuncGraph(`${name}/true`, g), fn: trueFn, label: 'trueFn' },
        { f: new FuncGraph(`${name}/false`, g), fn: falseFn, label: 'falseFn' },
      ];
      const results = branches.map((b) => b.f.asDefault(() => b.fn()));
      if (!sameStructure(results[0], results[1])) {
        throw new ValueError(
          `${name}: trueFn and falseFn must return the same structure, but trueFn returned ${describeStructure(results[0])} and falseFn returned ${describeStructure(results[1])}`,
        );
      }
      const flats = results.map((r) => flatten(r === undefined || r === null ? [] : r));
      branches.forEach((b, k) => (b.f.outputs = resultTensors(b.f, flats[k]!, (i) => `output ${i} of ${b.label}`)));
      const [tf, ff] = [branches[0]!.f, branches[1]!.f];
      tf.outputs.forEach((t, i) => {
        const e = ff.outputs[i]!;
        if (t.dtype !== e.dtype) {
          throw new ValueError(`${name}: output ${i} is ${t.dtype} in trueFn (${t.name}) but ${e.dtype} in falseFn (${e.name}); both branches must return the same dtypes`);
        }
      });
      const op = makeIfOp(g, p, tf, ff, [], scope);
      const r = results[0];
      if (r === undefined || r === null) return r as T;
      return packSequenceAs<T>(r, op.outputs, rebuildLeaf);
    }),
  );
}

export interface CaseOptions<T> {
  default?: () => T;
  /** TF checks at run time that at most one predicate holds; weir evaluates them in order (see the note). */
  exclusive?: boolean;
  name?: string;
}

/**
 * tf.case(pairs, {default}): the function of the first pair whose predicate holds, else `default`
 * (without a default, the last pair's function runs when no predicate holds, as TF does).
 */
export function caseOf<T>(pairs: readonly (readonly [TensorLike, () => T])[], opts: CaseOptions<T> = {}): T {
  if (pairs.length === 0) {
    if (!opts.default) throw new ValueError('tf.case: give at least one (pred, fn) pair or a default');
    return opts.default();
  }
  const g = opGraph(pairs.map((p) => p[0]));
  return g.asDefault(() =>
    g.nameScope(opts.name ?? 'case', () => {
      const last = pairs.length - 1;
      const fallback = opts.default ?? pairs[last]![1];
      const chain = opts.default ? pairs : pairs.slice(0, last);
      const build = (i: number): T => (i >= chain.length ? fallback() : cond(chain[i]![0], chain[i]![1], () => build(i + 1), { name: `If_${i}` }));
      return build(0);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// whileLoop

export interface WhileLoopOptions {
  /** Per loop variable (same structure), the shape it may take across iterations: null dims vary. */
  shapeInvariants?: unknown;
  /** Stops the loop after this many iterations even if cond still holds. */
  maximumIterations?: TensorLike;
  /** Accepted for TF compatibility; iterations of one loop run in order. */
  parallelIterations?: number;
  /** Whether gradients may flow through the loop (default true). */
  backProp?: boolean;
  /** Accepted for TF compatibility (no separate host memory to swap to). */
  swapMemory?: boolean;
  /** Return a one-variable list as a list too (TF's default unpacks it). */
  returnSameStructure?: boolean;
  name?: string;
}

/** What whileLoop returns: the loop variables' structure, a one-variable list unpacked (unless returnSameStructure). */
export type WhileResult<T> = T extends readonly [infer U] ? U : T;

/**
 * tf.whileLoop(cond, body, loopVars): repeats `loopVars = body(...loopVars)` while
 * `cond(...loopVars)` holds. loopVars is an array (cond and body get its elements as arguments, as
 * TF's `cond(*loop_vars)`), or any other structure (passed as one argument). Variables keep their
 * dtype and, unless shapeInvariants loosens it, their shape.
 */
export function whileLoop<T>(
  condFn: (...vars: any[]) => TensorLike,
  bodyFn: (...vars: any[]) => unknown,
  loopVars: T,
  opts: WhileLoopOptions = {},
): WhileResult<T> {
  const flatInit = flatten(loopVars);
  if (flatInit.length === 0) throw new ValueError('tf.whileLoop: no loop variables');
  const g = opGraph(flatInit);
  return g.asDefault((): WhileResult<T> =>
    g.nameScope(opts.name ?? 'while', (scope) => {
      const name = scope.replace(/\/$/, '');
      const init = flatInit.map((x, i) => leafTensor(x, `loop variable ${i}`));
      const invariants = loopShapeInvariants(name, loopVars, init, opts.shapeInvariants);
      const spread = Array.isArray(loopVars);
      const call = <R>(f: (...a: any[]) => R, vars: unknown): R => (spread ? f(...(vars as unknown[])) : f(vars));
      const counter = constant(0, 'int32', undefined, 'loop_counter');
      const hasMax = opts.maximumIterations !== undefined && opts.maximumIterations !== null;
      const maxIter = hasMax ? convertToTensor(opts.maximumIterations!, 'int32', 'maximum_iterations') : constant(-1, 'int32', undefined, 'maximum_iterations');
      if (maxIter.shape !== null && maxIter.shape.length !== 0) throw new ValueError(`${name}: maximumIterations must be a scalar, got shape ${formatShape(maxIter.shape)}`);
      const dtypes: DType[] = ['int32', 'int32', ...init.map((t) => t.dtype)];
      const argShapes: Shape[] = [[], [], ...invariants];
      const makeArgs = (f: FuncGraph): { i: Tensor; m: Tensor; vars: unknown } => {
        const ts = dtypes.map((dtype, k) => f.addArg({ dtype, shape: argShapes[k]!, name: k === 0 ? 'loop_counter' : k === 1 ? 'maximum_iterations' : `loop_var_${k - 2}` }));
        return { i: ts[0]!, m: ts[1]!, vars: packSequenceAs(loopVars, ts.slice(2), rebuildLeaf) };
      };

      const condGraph = new FuncGraph(`${name}/cond`, g);
      condGraph.asDefault(() => {
        const { i, m, vars } = makeArgs(condGraph);
        let p = leafTensor(call(condFn, vars), 'the result of cond');
        if (p.graph !== condGraph) p = condGraph.capture(p);
        if (p.dtype !== 'bool' || (p.shape !== null && p.shape.length !== 0)) {
          throw new ValueError(`${name}: cond must return a scalar bool tensor, got ${p.name} of dtype ${p.dtype} and shape ${formatShape(p.shape)}`);
        }
        condGraph.outputs = [hasMax ? logicalAnd(less(i, m), p) : p];
      });

      const bodyGraph = new FuncGraph(`${name}/body`, g);
      bodyGraph.asDefault(() => {
        const { i, m, vars } = makeArgs(bodyGraph);
        let result = call(bodyFn, vars);
        if (spread && (loopVars as unknown[]).length === 1 && !Array.isArray(result)) result = [result];
        if (!sameStructure(loopVars, result)) {
          throw new ValueError(
            `${name}: body must return the structure of the loop variables, ${describeStructure(loopVars)}, but returned ${describeStructure(result)}`,
          );
        }
        const outs = resultTensors(bodyGraph, flatten(result), (k) => `loop variable ${k} returned by body`);
        outs.forEach((t, k) => {
          const v = init[k]!;
          if (t.dtype !== v.dtype) {
            throw new ValueError(`${name}: loop variable ${k} (${v.name}) enters the loop with dtype ${v.dtype}, but has dtype ${t.dtype} after one iteration`);
          }
          if (!subsumes(invariants[k]!, t.shape)) {
            throw new ValueError(
              `${name}: loop variable ${k} (${v.name}) enters the loop with shape ${formatShape(invariants[k]!)}, but has shape ${formatShape(t.shape)} after one iteration. ` +
                'To allow the shape to vary across iterations, use the `shapeInvariants` option of tf.whileLoop to specify a less-specific shape.',
            );
          }
        });
        bodyGraph.outputs = [add(i, 1), m, ...outs];
      });

      const op = makeWhileOp(g, condGraph, bodyGraph, [counter, maxIter, ...init], argShapes, { name: scope, parallelIterations: opts.parallelIterations });
      // backProp: false stops gradients at the loop's results (TF2's while_v2 does the same).
      const outs = op.outputs.slice(2, 2 + init.length).map((t) => (opts.backProp === false && t.dtype !== 'variant' ? stopGradient(t) : t));
      const packed = packSequenceAs<T>(loopVars, outs, rebuildLeaf);
      if (spread && (loopVars as unknown[]).length === 1 && !opts.returnSameStructure) return (packed as unknown[])[0] as WhileResult<T>;
      return packed as WhileResult<T>;
    }),
  );
}

/** Whether every shape `s` can take is one `inv` allows (inv is at most as specific). */
function subsumes(inv: Shape, s: Shape): boolean {
  if (inv === null) return true;
  if (s === null) return false;
  return inv.length === s.length && inv.every((d, i) => d === null || d === s[i]);
}

function loopShapeInvariants(name: string, loopVars: unknown, init: readonly Tensor[], given: unknown): Shape[] {
  if (given === undefined || given === null) return init.map((t) => t.shape);
  // Each invariant is a shape (an array of dims, or null for unknown rank); TensorArrays' are scalars.
  const flat: Shape[] = [];
  const walk = (v: unknown, s: unknown): void => {
    if (v instanceof TensorArray) {
      flat.push([]);
      return;
    }
    if (Array.isArray(v)) {
      if (!Array.isArray(s) || s.length !== v.length) throw new ValueError(`${name}: shapeInvariants must have the structure of the loop variables`);
      v.forEach((x, i) => walk(x, s[i]));
      return;
    }
    if (typeof v === 'object' && v !== null && !(v instanceof Tensor) && Object.getPrototypeOf(v) === Object.prototype) {
      for (const k of Object.keys(v).sort()) walk((v as Record<string, unknown>)[k], (s as Record<string, unknown>)?.[k]);
      return;
    }
    flat.push(s === null || s === undefined ? null : ((s as { asList?: () => Shape }).asList?.() ?? (s as Shape)));
  };
  walk(loopVars, given);
  flat.forEach((inv, i) => {
    if (!shapesCompatible(inv, init[i]!.shape)) {
      throw new ValueError(`${name}: the shape invariant ${formatShape(inv)} of loop variable ${i} is not compatible with its initial shape ${formatShape(init[i]!.shape)}`);
    }
  });
  return flat;
}
