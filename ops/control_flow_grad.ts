// Gradients of functional control flow, as TensorFlow 2 builds them (cond_v2, while_v2).
//
// The gradient of a branch or body is built by tf.gradients in a FuncGraph of its own, which reads
// the forward function's tensors through a "foreign capture": a forward input becomes the outer
// value it stands for (loop-invariant values) and a constant is copied; any other intermediate is
// exported from the forward op. A cond exports it as an extra output (the branch not taken returns
// a dummy); a loop pushes it onto an accumulator list, one element per iteration, that the backward
// loop pops in reverse. The forward op gains those outputs (Graph.extendOp), as TF's ops do.
import type { DType } from '../src/core/dtypes.js';
import { elementShapeConst } from './list.js';
import { InternalError } from '../src/core/errors.js';
import { NDArray } from '../src/core/ndarray.js';
import { generalizeShapes, isFullyDefined, type Shape } from '../src/core/shape.js';
import { makeConst } from '../src/convert.js';
import { FuncGraph } from '../src/func_graph.js';
import { carriesGradient, gradients } from '../src/gradients.js';
import { getDefaultGraph, type Graph, type Operation, type Tensor } from '../src/graph.js';
import * as A from '../src/api/array.js';
import { makeIfOp, makeWhileOp } from '../src/api/control_flow.js';
import type { GradFn } from './registry.js';

function copyConst(f: FuncGraph, t: Tensor): Tensor {
  return f.createOp('Const', [], { ...t.op.attrs }, { name: `${t.op.name.replace(/\//g, '_')}_copy` }).outputs[0]!;
}

/** A placeholder of f that is not (yet) among its inputs. */
function placeholder(f: FuncGraph, dtype: DType, shape: Shape, name: string): Tensor {
  return f.createOp('Placeholder', [], { dtype, shape }, { name }).outputs[0]!;
}

/** A value of t's type for the branch that does not compute t: zeros when its shape is static. */
function dummyLike(f: FuncGraph, t: Tensor): Tensor {
  return f.asDefault(() => {
    if (t.dtype === 'variant') {
      return f.createOp('EmptyTensorList', [elementShapeConst(f, null), makeConst(f, NDArray.from(-1, 'int32'), 'max')], { element_dtype: 'float32', shape_type: 'int32' }).outputs[0]!;
    }
    if (t.dtype === 'string') return makeConst(f, NDArray.from('', 'string'), 'dummy');
    return makeConst(f, NDArray.zeros(isFullyDefined(t.shape) ? t.shape : [], t.dtype), 'dummy');
  });
}

/** Zeros shaped like a gradient that does not flow: for a list, a list of unset elements as long. */
function zerosFor(t: Tensor): Tensor {
  if (t.dtype !== 'variant') return A.zerosLike(t);
  const g = getDefaultGraph();
  const n = g.createOp('TensorListLength', [t], {}).outputs[0]!;
  return g.createOp('TensorListReserve', [elementShapeConst(g, null), n], { element_dtype: 'float32', shape_type: 'int32' }).outputs[0]!;
}

/**
 * A tensor of a forward function around the one being differentiated (the body a nested loop or
 * cond sits in): the enclosing gradient graph `g` captures it (exporting it from its own forward
 * function as needed), and this gradient graph captures that in turn.
 */
function throughEnclosing(g: Graph, f: FuncGraph, t: Tensor, op: Operation): Tensor {
  if (!(g instanceof FuncGraph)) throw new InternalError(`${op.name}: its gradient reads ${t.name}, which no enclosing gradient can provide`);
  return f.capture(g.capture(t));
}

// ---------------------------------------------------------------------------------------------
// If

export const ifGrad: GradFn = (op, grads) => {
  const g = getDefaultGraph();
  const branches = [op.attrs.then_branch, op.attrs.else_branch] as FuncGraph[];
  if (!branches.every((b) => b instanceof FuncGraph)) throw new InternalError(`${op.name}: If without function bodies`);
  const ins = op.inputs.slice(1);
  const outIdx = op.outputs.map((_, i) => i).filter((i) => grads[i] && carriesGradient(op.outputs[i]!.dtype));
  const wrt = ins.map((_, k) => k).filter((k) => carriesGradient(ins[k]!.dtype));
  if (outIdx.length === 0 || wrt.length === 0) return op.inputs.map(() => null);
  const dys = outIdx.map((i) => grads[i]!);

  // Build each branch's gradient; collect the intermediates each reads.
  const needs: Tensor[][] = [[], []];
  const built = branches.map((B, b) => {
    const GB = new FuncGraph(`${op.name}_grad/${b ? 'else' : 'then'}`, g);
    const dyArgs = dys.map((d, j) => GB.addArg({ dtype: d.dtype, shape: d.shape, name: `dy_${j}` }));
    const phOf = new Map<Tensor, Tensor>();
    GB.foreignCapture = (t) => {
      if (t.graph !== B) return throughEnclosing(g, GB, t, op);
      const k = B.inputs.indexOf(t);
      if (k >= 0) return GB.capture(ins[k]!);
      let ph = phOf.get(t);
      if (!ph) {
        ph = t.op.type === 'Const' ? copyConst(GB, t) : placeholder(GB, t.dtype, t.shape, 'intermediate');
        phOf.set(t, ph);
        if (t.op.type !== 'Const') needs[b]!.push(t);
      }
      return ph;
    };
    GB.asDefault(() => {
      const gx = gradients(
        outIdx.map((i) => B.outputs[i]!),
        wrt.map((k) => B.inputs[k]!),
        dyArgs,
        { buildIn: GB },
      );
      GB.outputs = gx.map((d, j) => d ?? zerosFor(GB.capture(ins[wrt[j]!]!)));
    });
    return { GB, dyArgs, phOf };
  });

  // The forward If returns what the gradients read (each once, across gradient calls).
  const [T, E] = branches as [FuncGraph, FuncGraph];
  const fresh = [...needs[0]!, ...needs[1]!].filter((t, i, all) => all.indexOf(t) === i && !T.exports.has(t) && !E.exports.has(t));
  if (fresh.length) {
    const base = op.outputs.length;
    const mine = (B: FuncGraph, t: Tensor): Tensor => (t.graph === B ? t : dummyLike(B, t));
    for (const B of [T, E]) B.outputs.push(...fresh.map((t) => mine(B, t)));
    fresh.forEach((t, j) => (t.graph as FuncGraph).exports.set(t, base + j));
    const specs = fresh.map((_, j) => ({ dtype: T.outputs[base + j]!.dtype, shape: generalizeShapes(T.outputs[base + j]!.shape, E.outputs[base + j]!.shape) }));
    op.graph.extendOp(op, {
      outputs: specs,
      attrs: { Tout: T.outputs.map((t) => t.dtype), output_shapes: T.outputs.map((t, i) => generalizeShapes(t.shape, E.outputs[i]!.shape)) },
    });
  }
  const exported = [...needs[0]!, ...needs[1]!].filter((t, i, all) => all.indexOf(t) === i);
  const exportOutputs = exported.map((t) => op.outputs[(t.graph as FuncGraph).exports.get(t)!]!);

  // Each gradient branch takes the dys, then every exported intermediate, then its captures.
  for (const { GB, dyArgs, phOf } of built) {
    const inter = exported.map((t) => phOf.get(t) ?? placeholder(GB, t.dtype, t.shape, 'unused_intermediate'));
    const captured = GB.inputs.filter((t) => !dyArgs.includes(t));
    GB.inputs.length = 0;
    GB.inputs.push(...dyArgs, ...inter, ...captured);
  }
  const gradOp = makeIfOp(g, op.inputs[0]!, built[0]!.GB, built[1]!.GB, [...dys, ...exportOutputs], `${op.name.split('/').pop()}_grad`);
  return [null, ...ins.map((_, k) => (wrt.includes(k) ? gradOp.outputs[wrt.indexOf(k)]! : null))];
};

// ---------------------------------------------------------------------------------------------
// While

export const whileGrad: GradFn = (op, grads) => {
  const g = getDefaultGraph();
  const C = op.attrs.cond as FuncGraph;
  const B = op.attrs.body as FuncGraph;
  if (!(C instanceof FuncGraph) || !(B instanceof FuncGraph)) throw new InternalError(`${op.name}: While without function bodies`);
  const nOrig = (op.attrs._num_original_outputs as number | undefined) ?? op.outputs.length;
  // The loop's own variables, and accumulators a later gradient differentiates (second order: the
  // first gradient's backward loop read the values they hold).
  const vars: number[] = [];
  for (let k = 2; k < op.inputs.length; k++) if (carriesGradient(op.inputs[k]!.dtype) && (k < nOrig || grads[k])) vars.push(k);
  if (!vars.some((k) => grads[k])) return op.inputs.map(() => null);
  const invariant = (k: number): boolean => k < nOrig && B.outputs[k] === B.inputs[k];

  const GB = new FuncGraph(`${op.name}_grad/body`, g);
  const gi = placeholder(GB, 'int32', [], 'counter');
  const gn = placeholder(GB, 'int32', [], 'iterations');
  const dyArgs = vars.map((k) => placeholder(GB, op.outputs[k]!.dtype, op.outputs[k]!.shape, `dy_${k}`));
  const acc: { arg: Tensor; rest: Tensor; init: Tensor }[] = [];
  const valueOf = new Map<Tensor, Tensor>();
  GB.foreignCapture = (t) => {
    if (t.graph !== B) return throughEnclosing(g, GB, t, op);
    const known = valueOf.get(t);
    if (known) return known;
    const k = B.inputs.indexOf(t);
    let v: Tensor;
    if (k >= 0 && invariant(k)) v = GB.capture(op.inputs[k]!);
    else if (t.op.type === 'Const') v = copyConst(GB, t);
    else {
      const index = accumulator(op, C, B, t);
      const arg = placeholder(GB, 'variant', [], 'accumulator');
      const [rest, value] = GB.createOp('TensorListPopBack', [arg, elementShapeConst(GB, t.shape)], { element_dtype: t.dtype }, { name: 'pop' }).outputs as [Tensor, Tensor];
      value.setShape(t.shape);
      acc.push({ arg, rest, init: op.outputs[index]! });
      v = value;
    }
    valueOf.set(t, v);
    return v;
  };
  const newDys = GB.asDefault(() => {
    const gx = gradients(
      vars.map((k) => B.outputs[k]!),
      vars.map((k) => B.inputs[k]!),
      dyArgs,
      { buildIn: GB },
    );
    return gx.map((d, j) => d ?? zerosFor(dyArgs[j]!));
  });
  const next = GB.createOp('AddV2', [gi, makeConst(GB, NDArray.from(1, 'int32'), 'one')], { T: 'int32' }).outputs[0]!;
  GB.outputs = [next, gn, ...newDys, ...acc.map((a) => a.rest)];
  const args = [gi, gn, ...dyArgs, ...acc.map((a) => a.arg)];
  const captured = GB.inputs.filter((t) => !args.includes(t));
  GB.inputs.length = 0;
  GB.inputs.push(...args, ...captured);

  const GC = new FuncGraph(`${op.name}_grad/cond`, g);
  const cargs = args.map((t, i) => GC.addArg({ dtype: t.dtype, shape: t.shape, name: `arg_${i}` }));
  GC.outputs = [GC.createOp('Less', [cargs[0]!, cargs[1]!], { T: 'int32' }).outputs[0]!];

  const zero = makeConst(g, NDArray.from(0, 'int32'), 'grad_counter');
  const init = vars.map((k) => grads[k] ?? g.asDefault(() => zerosFor(op.outputs[k]!)));
  const shapes: Shape[] = [[], [], ...vars.map((k) => op.outputs[k]!.shape), ...acc.map(() => [] as Shape)];
  const gradOp = makeWhileOp(g, GC, GB, [zero, op.outputs[0]!, ...init, ...acc.map((a) => a.init)], shapes, {
    name: `${op.name.split('/').pop()}_grad`,
    parallelIterations: op.attrs.parallel_iterations as number,
  });
  return op.inputs.map((_, k) => {
    const j = vars.indexOf(k);
    return j >= 0 ? gradOp.outputs[2 + j]! : null;
  });
};

/**
 * The loop variable of `op` accumulating forward tensor t of body B (one element per iteration),
 * made on first use: a new input (an empty list) and output of the While, a placeholder of cond
 * and body, and a push in the body.
 */
function accumulator(op: Operation, C: FuncGraph, B: FuncGraph, t: Tensor): number {
  const known = B.exports.get(t);
  if (known !== undefined) return known;
  const og = op.graph;
  const init = og.createOp('EmptyTensorList', [elementShapeConst(og, t.shape), makeConst(og, NDArray.from(-1, 'int32'), 'max_num_elements')], {
    element_dtype: t.dtype,
    shape_type: 'int32',
  }).outputs[0]!;
  const inB = placeholder(B, 'variant', [], 'accumulator');
  const pushed = B.createOp('TensorListPushBack', [inB, t], { element_dtype: t.dtype }, { name: 'accumulate' }).outputs[0]!;
  B.inputs.push(inB);
  B.outputs.push(pushed);
  C.inputs.push(placeholder(C, 'variant', [], 'accumulator'));
  const T = op.attrs.T as DType[];
  const shapes = op.attrs.output_shapes as Shape[];
  op.graph.extendOp(op, { inputs: [init], outputs: [{ dtype: 'variant', shape: [] }], attrs: { T: [...T, 'variant'], output_shapes: [...shapes, []] } });
  const index = op.outputs.length - 1;
  B.exports.set(t, index);
  return index;
}
