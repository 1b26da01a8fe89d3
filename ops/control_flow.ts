// Functional control flow: If / StatelessIf and While / StatelessWhile, TensorFlow 2's ops, with
// their branches and bodies as FuncGraph attrs (src/func_graph.ts). The compiler plans each body
// once (passes/compile.ts); the runtime runs the plans (runtime/control_flow.ts).
import type { DType } from '../src/core/dtypes.js';
import { generalizeShapes, shapesEqual, type Shape } from '../src/core/shape.js';
import { FuncGraph } from '../src/func_graph.js';
import type { Tensor } from '../src/graph.js';
import { buildPlanGraph } from '../passes/build.js';
import { specializeShapes } from '../passes/shapes.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { ifGrad, whileGrad } from './control_flow_grad.js';

/**
 * The shapes a function's outputs take for inputs of these shapes: its graph is shape-specialized
 * as a plan would be. Undefined when the body's shape functions reject them.
 */
export function inferFunctionShapes(fg: FuncGraph, inputShapes: readonly Shape[]): Shape[] | undefined {
  const feedShapes = new Map<Tensor, Shape>();
  fg.inputs.forEach((t, i) => feedShapes.set(t, inputShapes[i] ?? t.shape));
  try {
    const { graph } = buildPlanGraph({ fetches: fg.outputs, targets: [], feeds: fg.inputs, feedShapes });
    return specializeShapes(graph).fetches.map((v) => v.shape);
  } catch {
    return undefined;
  }
}

function funcAttr(ctx: ShapeContext, name: string): FuncGraph {
  const f = ctx.attr<unknown>(name);
  if (!(f instanceof FuncGraph)) ctx.fail(`attr '${name}' must be a function body`);
  return f;
}

/**
 * A loop's output shapes for inputs of these shapes: a fixpoint, as TensorFlow's shape inference
 * of loops. Starting from the inputs, each round runs the body's shape inference and keeps what
 * stays the same; the loop's declared shape invariants bound it.
 */
function whileShapes(ctx: ShapeContext): OutputSpec[] {
  const body = funcAttr(ctx, 'body');
  const invariants = ctx.attr<Shape[]>('output_shapes');
  const dtypes = ctx.inputs.map((t) => t.dtype);
  let shapes: Shape[] = ctx.inputs.map((t) => t.shape);
  for (let round = 0; round < 8; round++) {
    const next = inferFunctionShapes(body, shapes);
    if (!next) {
      shapes = invariants;
      break;
    }
    if (next.every((s, i) => shapesEqual(s, shapes[i]!))) break;
    shapes = shapes.map((s, i) => generalizeShapes(s, next[i]!));
    if (round === 7) shapes = invariants;
  }
  return dtypes.map((dtype, i) => ({ dtype, shape: shapes[i] ?? invariants[i] ?? null }));
}

function ifShapes(ctx: ShapeContext): OutputSpec[] {
  const thenFn = funcAttr(ctx, 'then_branch');
  const elseFn = funcAttr(ctx, 'else_branch');
  const declared = ctx.attr<Shape[]>('output_shapes');
  const dtypes = ctx.attr<DType[]>('Tout');
  const inputs = ctx.inputs.slice(1).map((t) => t.shape);
  const a = inferFunctionShapes(thenFn, inputs);
  const b = inferFunctionShapes(elseFn, inputs);
  return dtypes.map((dtype, i) => ({ dtype, shape: a && b ? generalizeShapes(a[i]!, b[i]!) : (declared[i] ?? null) }));
}

function checkPred(ctx: ShapeContext): void {
  const p = ctx.inputs[0]!;
  if (p.dtype !== 'bool' && p.dtype !== 'int32' && p.dtype !== 'float32') ctx.fail(`the predicate ${p.name} must be bool, got ${p.dtype}`);
  if (p.shape !== null && p.shape.length !== 0) ctx.fail(`the predicate ${p.name} must be a scalar, got shape [${p.shape.join(',')}]`);
}

for (const [type, stateful] of [
  ['If', true],
  ['StatelessIf', false],
] as const) {
  registerOp({
    type,
    inputs: ['cond', 'input[]'],
    attrs: { Tcond: 'type', Tin: 'list(type)', Tout: 'list(type)', then_branch: 'func', else_branch: 'func', output_shapes: 'list(shape)' },
    stateful,
    functions: ['then_branch', 'else_branch'],
    shape: (ctx) => {
      checkPred(ctx);
      return ifShapes(ctx);
    },
    grad: ifGrad,
  });
}

for (const [type, stateful] of [
  ['While', true],
  ['StatelessWhile', false],
] as const) {
  registerOp({
    type,
    // A While with no loop variables has nothing to compute; every loop has its counter.
    inputs: ['input*'],
    attrs: { T: 'list(type)', cond: 'func', body: 'func', output_shapes: 'list(shape)', parallel_iterations: 'int', _num_original_outputs: 'int' },
    stateful,
    functions: ['cond', 'body'],
    shape: whileShapes,
    grad: whileGrad,
  });
}
