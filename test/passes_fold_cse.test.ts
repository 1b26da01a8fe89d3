import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { buildPlanGraph } from '../passes/build.js';
import { eliminateCommonSubexpressions } from '../passes/cse.js';
import { foldConstants } from '../passes/fold.js';
import { evaluateOnCpu as evaluate } from '../runtime/cpu/backend.js';
import { constOf, type PlanGraph } from '../passes/ir.js';
import { specializeShapes } from '../passes/shapes.js';
import { randomArray } from './helpers.js';

/** The PlanGraph a run of `fetches` starts from (pruned, fed tensors as _Arg with their shapes). */
function planGraph(fetches: tf.Tensor[], feeds: [tf.Tensor, number[]][] = [], targets: tf.Operation[] = []): PlanGraph {
  return buildPlanGraph({ fetches, targets, feeds: feeds.map(([t]) => t), feedShapes: new Map(feeds) }).graph;
}
const types = (g: PlanGraph): string[] => g.nodes.map((n) => n.type);
const inGraph = <T>(fn: () => T): [tf.Graph, T] => {
  const g = new tf.Graph();
  return [g, g.asDefault(fn)];
};

async function runBoth(g: tf.Graph, fetches: (tf.Tensor | tf.Operation)[], feeds: [tf.Tensor, tf.NDArray][] = []) {
  const a = new tf.Session({ graph: g });
  const b = new tf.Session({ graph: g, optimize: false });
  const init = g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES).length ? g.asDefault(() => tf.globalVariablesInitializer()) : undefined;
  if (init) {
    await a.run(init);
    await b.run(init);
  }
  const ra = await a.run(fetches, feeds);
  const rb = await b.run(fetches, feeds);
  a.close();
  b.close();
  return [ra, rb] as const;
}

describe('constant folding', () => {
  it('evaluates constant subgraphs with the CPU kernels, leaving the user graph as it was', () => {
    const [g, { x, y }] = inGraph(() => {
      const x = tf.placeholder('float32', [2], 'x');
      const c = tf.multiply(tf.add(tf.constant([1, 2]), tf.constant([3, 4])), tf.constant(2));
      return { x, y: tf.add(x, c) };
    });
    const before = g.getOperations().map((o) => `${o.name}:${o.inputs.map((t) => t.name).join(',')}`);
    const pg = planGraph([y], [[x, [2]]]);
    const folded = foldConstants(pg, { evaluate });
    expect(types(pg)).toEqual(['_Arg', 'Const', 'Const', 'AddV2', 'Const', 'Mul', 'AddV2']);
    expect(types(folded).sort()).toEqual(['AddV2', 'Const', '_Arg']);
    const c = folded.nodes.find((n) => n.type === 'Const')!;
    expect(Array.from(constOf(c.outputs[0])!.data as Float32Array)).toEqual([8, 12]);
    expect(g.getOperations().map((o) => `${o.name}:${o.inputs.map((t) => t.name).join(',')}`)).toEqual(before);
  });

  it('respects the size cap', () => {
    const [, { y }] = inGraph(() => ({ y: tf.exp(tf.fill([64, 64], 1)) }));
    expect(types(foldConstants(planGraph([y]), { maxBytes: 1024, evaluate }))).toContain('Exp');
    expect(types(foldConstants(planGraph([y]), { maxBytes: 1 << 20, evaluate }))).toEqual(['Const']);
  });

  it('never folds random or stateful ops, nor what depends on them', async () => {
    const [g, { r, v, ys }] = inGraph(() => {
      const r = tf.randomUniform([3], { seed: 7 });
      const v = new tf.Variable(tf.constant([1, 2, 3]), { name: 'v' });
      return { r, v, ys: [tf.multiply(r, 2), tf.add(v.value(), 1)] };
    });
    const folded = foldConstants(planGraph(ys), { evaluate });
    expect(types(folded)).toEqual(expect.arrayContaining(['RandomUniform', 'Mul', 'VariableV2', 'AddV2']));
    const [a, b] = await runBoth(g, ys);
    expect(Array.from(a[0]!.data as Float32Array)).toEqual(Array.from(b[0]!.data as Float32Array));
    void r;
    void v;
  });

  it('materializes Shape, Size and Rank of tensors whose shape the feeds fix, keeping ops with effects', () => {
    const [, { x, outs }] = inGraph(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      const r = tf.randomNormal(tf.shape(x), { seed: 1 });
      return { x, outs: [tf.shape(x), tf.size(x), tf.rank(x), tf.shape(r)] };
    });
    const g = foldConstants(specializeShapes(planGraph(outs, [[x, [5, 3]]])), { evaluate });
    for (const f of g.fetches) expect(f.node.type).toBe('Const');
    expect(Array.from(constOf(g.fetches[0])!.data as Int32Array)).toEqual([5, 3]);
    expect(constOf(g.fetches[1])!.scalar()).toBe(15);
    expect(constOf(g.fetches[2])!.scalar()).toBe(2);
    // The random op no longer feeds anything, but it still runs (its stream advances as unoptimized).
    expect(types(g)).toContain('RandomStandardNormal');
  });

  it('keeps control dependencies: the constant waits for what the folded op waited for', async () => {
    const [g, { v, upd, y }] = inGraph(() => {
      const v = new tf.Variable(tf.constant(1), { name: 'v' });
      const upd = tf.assignAdd(v, tf.constant(10));
      const y = tf.controlDependencies([upd], () => tf.add(tf.constant(2), tf.constant(3)));
      return { v, upd, y };
    });
    const folded = foldConstants(planGraph([y]), { evaluate });
    const c = folded.fetches[0]!.node;
    expect(c.type).toBe('Const');
    expect(c.controlInputs.map((n) => n.type)).toEqual(['AssignAdd']);
    const [a, b] = await runBoth(g, [y, v.value()]);
    expect(a[0]!.scalar()).toBe(5);
    expect(a[1]!.scalar()).toBe(11);
    expect(b[1]!.scalar()).toBe(11);
    void upd;
  });

  it('leaves an op whose kernel rejects its constant inputs to fail at run time, as unoptimized', async () => {
    const [g, { y }] = inGraph(() => ({ y: tf.gather(tf.constant([1, 2, 3]), tf.constant([0, 5], 'int32')) }));
    expect(types(foldConstants(planGraph([y]), { evaluate }))).toContain('GatherV2');
    await expect(new tf.Session({ graph: g }).run(y)).rejects.toThrow(tf.errors.InvalidArgumentError);
    await expect(new tf.Session({ graph: g, optimize: false }).run(y)).rejects.toThrow(tf.errors.InvalidArgumentError);
  });
});

describe('common-subexpression elimination', () => {
  it('merges ops with the same type, attrs and inputs, commutative ones in either order, constants by value', async () => {
    const [g, { x, ys }] = inGraph(() => {
      const x = tf.placeholder('float32', [3], 'x');
      const a = tf.add(x, tf.constant(1));
      const b = tf.add(tf.constant(1), x);
      const e1 = tf.exp(a);
      const e2 = tf.exp(b);
      return { x, ys: [tf.subtract(e1, e2), tf.multiply(e1, e2)] };
    });
    const cse = eliminateCommonSubexpressions(planGraph(ys, [[x, [3]]]));
    expect(types(cse).filter((t) => t === 'Const')).toHaveLength(1);
    expect(types(cse).filter((t) => t === 'AddV2')).toHaveLength(1);
    expect(types(cse).filter((t) => t === 'Exp')).toHaveLength(1);
    const sub = cse.fetches[0]!.node;
    expect(sub.inputs[0]).toBe(sub.inputs[1]);
    const [a, b] = await runBoth(g, ys, [[x, randomArray([3])]]);
    expect(Array.from(a[0]!.data as Float32Array)).toEqual([0, 0, 0]);
    expect(Array.from(a[1]!.data as Float32Array)).toEqual(Array.from(b[1]!.data as Float32Array));
  });

  it('does not merge ops that differ in attrs, control inputs, or randomness', () => {
    const [, { ys }] = inGraph(() => {
      const m = tf.constant([[1, 2], [3, 4]]);
      const n = tf.noOp('n');
      const r1 = tf.randomUniform([2], { seed: 3 });
      const r2 = tf.randomUniform([2], { seed: 3 });
      return {
        ys: [
          tf.matmul(m, m),
          tf.matmul(m, m, { transposeA: true }),
          tf.exp(m),
          tf.controlDependencies([n], () => tf.exp(m)),
          r1,
          r2,
        ],
      };
    });
    const cse = eliminateCommonSubexpressions(planGraph(ys));
    expect(types(cse).filter((t) => t === 'MatMul')).toHaveLength(2);
    expect(types(cse).filter((t) => t === 'Exp')).toHaveLength(2);
    expect(types(cse).filter((t) => t === 'RandomUniform')).toHaveLength(2);
  });

  it('does not merge reads of a variable across an update of it', async () => {
    const [g, { r1, upd, r2 }] = inGraph(() => {
      const v = new tf.Variable(tf.constant([1, 2]), { name: 'v' });
      const r1 = tf.multiply(v.value(), 2);
      const upd = tf.assignAdd(v, tf.constant([10, 10]));
      const r2 = tf.multiply(v.value(), 2);
      return { r1, upd, r2 };
    });
    const cse = eliminateCommonSubexpressions(planGraph([r1, upd, r2]));
    expect(types(cse).filter((t) => t === 'Mul')).toHaveLength(2);
    const [a, b] = await runBoth(g, [r1, upd, r2]);
    expect(a[0]!.toArray()).toEqual([2, 4]);
    expect(a[2]!.toArray()).toEqual([22, 24]);
    expect(b[2]!.toArray()).toEqual([22, 24]);
  });
});
