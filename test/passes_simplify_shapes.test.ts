import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { buildPlanGraph } from '../passes/build.js';
import { constOf, type PlanGraph } from '../passes/ir.js';
import { specializeShapes } from '../passes/shapes.js';
import { getOpDef, knownOutput, type AbstractValue, type ShapeContext } from '../ops/registry.js';
import { simplify } from '../passes/simplify.js';
import { lowerViews } from '../passes/views.js';
import { randomArray } from './helpers.js';

function planGraph(fetches: tf.Tensor[], feeds: [tf.Tensor, number[]][] = [], targets: tf.Operation[] = []): PlanGraph {
  return buildPlanGraph({ fetches, targets, feeds: feeds.map(([t]) => t), feedShapes: new Map(feeds) }).graph;
}
const types = (g: PlanGraph): string[] => g.nodes.map((n) => n.type);
const inGraph = <T>(fn: () => T): [tf.Graph, T] => {
  const g = new tf.Graph();
  return [g, g.asDefault(fn)];
};

async function runBoth(g: tf.Graph, fetches: tf.Tensor[], feeds: [tf.Tensor, tf.NDArray][] = [], init = false) {
  const a = new tf.Session({ graph: g });
  const b = new tf.Session({ graph: g, optimize: false });
  if (init) {
    const op = g.asDefault(() => tf.globalVariablesInitializer());
    await a.run(op);
    await b.run(op);
  }
  const ra = await a.run(fetches, feeds);
  const rb = await b.run(fetches, feeds);
  a.close();
  b.close();
  return [ra, rb] as const;
}

describe('algebraic simplification', () => {
  it('removes x*1, 1*x, x+0, x-0 and x/1, but not when the constant broadcasts x to a bigger shape', async () => {
    const [g, { x, ys }] = inGraph(() => {
      const x = tf.placeholder('float32', [2, 3], 'x');
      const one = tf.ones([3]);
      const zero = tf.zeros([1, 3]);
      const widen = tf.ones([4, 2, 3]);
      return { x, ys: [tf.exp(tf.divide(tf.subtract(tf.add(tf.multiply(tf.multiply(x, one), 1), zero), 0), one)), tf.multiply(x, widen)] };
    });
    const s = simplify(planGraph(ys, [[x, [2, 3]]]));
    expect(s.fetches[0]!.node.type).toBe('Exp');
    expect(s.fetches[0]!.node.inputs[0]!.node.type).toBe('_Arg');
    expect(s.fetches[1]!.node.type).toBe('Mul');
    const [a, b] = await runBoth(g, ys, [[x, randomArray([2, 3])]]);
    expect(Array.from(a[0]!.data as Float32Array)).toEqual(Array.from(b[0]!.data as Float32Array));
    expect(a[1]!.shape).toEqual([4, 2, 3]);
  });

  it('cancels double negation and composes transposes (dropping identity permutations)', async () => {
    const [g, { x, ys }] = inGraph(() => {
      const x = tf.placeholder('float32', [2, 3, 4], 'x');
      const back = tf.transpose(tf.transpose(x, [2, 0, 1]), [1, 2, 0]);
      const twice = tf.transpose(tf.transpose(x, [1, 0, 2]), [0, 2, 1]);
      return { x, ys: [tf.exp(tf.negative(tf.negative(x))), tf.exp(back), tf.exp(twice)] };
    });
    const s = simplify(planGraph(ys, [[x, [2, 3, 4]]]));
    expect(s.fetches[0]!.node.inputs[0]!.node.type).toBe('_Arg');
    expect(s.fetches[1]!.node.inputs[0]!.node.type).toBe('_Arg');
    const t = s.fetches[2]!.node.inputs[0]!.node;
    expect(t.type).toBe('Transpose');
    expect(t.inputs[0]!.node.type).toBe('_Arg');
    expect(Array.from(constOf(t.inputs[1])!.data as Int32Array)).toEqual([1, 2, 0]);
    const [a, b] = await runBoth(g, ys, [[x, randomArray([2, 3, 4])]]);
    a.forEach((v, i) => expect(Array.from(v.data as Float32Array)).toEqual(Array.from(b[i]!.data as Float32Array)));
  });

  it('reshapes once for a reshape of a reshape, and drops shape-preserving Reshape, Tile, Slice, Pad, Cast', () => {
    const [, { x, ys }] = inGraph(() => {
      const x = tf.placeholder('float32', [2, 6], 'x');
      return {
        x,
        ys: [
          tf.exp(tf.reshape(tf.reshape(x, [3, 4]), [4, 3])),
          tf.exp(tf.reshape(x, [2, 6])),
          tf.exp(tf.tile(x, [1, 1])),
          tf.exp(tf.slice(x, [0, 0], [2, 6])),
          tf.exp(tf.pad(x, [[0, 0], [0, 0]])),
          tf.exp(tf.cast(x, 'float32')),
        ],
      };
    });
    const s = simplify(planGraph(ys, [[x, [2, 6]]]));
    const r = s.fetches[0]!.node.inputs[0]!.node;
    expect(r.type).toBe('Reshape');
    expect(r.inputs[0]!.node.type).toBe('_Arg');
    for (const f of s.fetches.slice(1)) expect(f.node.inputs[0]!.node.type).toBe('_Arg');
  });

  it('removes Identity and StopGradient, but keeps fetched ones and those carrying control dependencies', async () => {
    const [g, { x, v, kept, ctl, y }] = inGraph(() => {
      const x = tf.placeholder('float32', [2], 'x');
      const v = new tf.Variable(tf.constant([1, 1]), { name: 'v' });
      const upd = tf.assignAdd(v, tf.constant([1, 1]));
      const kept = tf.identity(x, 'kept');
      const ctl = tf.controlDependencies([upd], () => tf.identity(v.value(), 'after_update'));
      const y = tf.exp(tf.stopGradient(tf.identity(x)));
      return { x, v, kept, ctl, y };
    });
    const s = simplify(planGraph([kept, ctl, y], [[x, [2]]]));
    expect(s.fetches[0]!.node.name).toBe('kept');
    expect(s.fetches[1]!.node.name).toBe('after_update');
    expect(s.fetches[2]!.node.inputs[0]!.node.type).toBe('_Arg');
    const [a, b] = await runBoth(g, [kept, ctl, y], [[x, randomArray([2])]], true);
    expect(a[1]!.toArray()).toEqual([2, 2]);
    expect(b[1]!.toArray()).toEqual([2, 2]);
    void v;
  });

  it('forwards the branch a Select picks everywhere when its condition is constant (a training switch at its default)', async () => {
    const [g, { x, training, ys }] = inGraph(() => {
      const x = tf.placeholder('float32', [4, 8], 'x');
      const training = tf.placeholderWithDefault(false, [], 'training');
      const dropped = tf.layers.dropout(x, { rate: 0.5, training });
      const mixed = tf.where(tf.constant([true, false, true, true, true, true, true, true], 'bool'), x, tf.negative(x));
      const broadcast = tf.where(tf.constant(true, 'bool'), tf.ones([8]), x);
      return { x, training, ys: [tf.exp(dropped), mixed, broadcast] };
    });
    const s = simplify(planGraph(ys, [[x, [4, 8]]]));
    expect(s.fetches[0]!.node.type).toBe('Exp');
    expect(s.fetches[0]!.node.inputs[0]!.node.type).toBe('_Arg');
    // The unread draw still runs, so its stream advances as in the unoptimized plan.
    expect(types(s)).toContain('RandomUniform');
    // Mixed conditions and a picked branch smaller than the output keep their Select.
    expect(s.fetches[1]!.node.type).toBe('SelectV2');
    expect(s.fetches[2]!.node.type).toBe('SelectV2');
    const xv = randomArray([4, 8]);
    const [a, b] = await runBoth(g, ys, [[x, xv]]);
    for (let k = 0; k < 3; k++) expect(Array.from(a[k]!.data as Float32Array)).toEqual(Array.from(b[k]!.data as Float32Array));
    // Fed as true, the dropout runs: about half the elements are zero.
    const sess = new tf.Session({ graph: g });
    const [t] = await sess.run([ys[0]!], [[x, xv], [training, new tf.NDArray(Uint8Array.of(1), [], 'bool')]]);
    expect(Array.from(t!.data as Float32Array).filter((v) => v === 1).length).toBeGreaterThan(4);
    sess.close();
  });

  it('bypasses NoOps that group control dependencies, and a grouped target still runs everything', async () => {
    const [g, { v, w, train }] = inGraph(() => {
      const v = new tf.Variable(tf.constant(1), { name: 'v' });
      const w = new tf.Variable(tf.constant(5), { name: 'w' });
      const train = tf.group([tf.group([tf.assignAdd(v, tf.constant(1))]), tf.assignSub(w, tf.constant(2))], 'train');
      return { v, w, train };
    });
    const s = simplify(planGraph([], [], [train]));
    expect(types(s)).not.toContain('NoOp');
    expect(s.targets.map((t) => t.type).sort()).toEqual(['AssignAdd', 'AssignSub']);
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    await sess.run(train);
    await sess.run(train);
    expect((await sess.run(v)).scalar()).toBe(3);
    expect((await sess.run(w)).scalar()).toBe(1);
  });
});

describe('shape specialization', () => {
  it('gives every tensor a concrete shape from the fed shapes', () => {
    const [, { x, y }] = inGraph(() => {
      const x = tf.placeholder('float32', [null, null], 'x');
      const h = tf.matmul(x, tf.ones([3, 4]));
      return { x, y: tf.reduceSum(tf.concat([h, tf.exp(h)], 1), 1) };
    });
    const before = planGraph([y], [[x, [5, 3]]]);
    expect(before.fetches[0]!.shape).toEqual([null]);
    const after = specializeShapes(before);
    for (const n of after.nodes) for (const o of n.outputs) expect(o.shape!.every((d) => d !== null), `${n.name}`).toBe(true);
    expect(after.fetches[0]!.shape).toEqual([5]);
    expect(after.fetches[0]!.node.inputs[0]!.shape).toEqual([5, 8]);
    // The pass returned a new graph: its input still has the graph's shapes.
    expect(before.fetches[0]!.shape).toEqual([null]);
  });

  it('leaves an op whose shape function rejects the fed shapes for its kernel to report, as unoptimized', async () => {
    const [g, { x, y }] = inGraph(() => {
      const x = tf.placeholder('float32', [null, 2], 'x');
      return { x, y: tf.exp(tf.reshape(x, [4])) };
    });
    const s = specializeShapes(planGraph([y], [[x, [3, 2]]]));
    const r = s.nodes.find((n) => n.type === 'Reshape')!;
    expect(r.shapeError).toBe(true);
    expect(types(lowerViews(s))).toContain('Reshape');
    const feeds: [tf.Tensor, tf.NDArray][] = [[x, randomArray([3, 2])]];
    const msg = /Input to reshape is a tensor with 6 values, but the requested shape has 4/;
    await expect(new tf.Session({ graph: g }).run(y, feeds)).rejects.toThrow(msg);
    await expect(new tf.Session({ graph: g, optimize: false }).run(y, feeds)).rejects.toThrow(msg);
  });
});

describe('views', () => {
  it('turns static Reshape, Squeeze and ExpandDims into views of their input', async () => {
    const [g, { x, y }] = inGraph(() => {
      const x = tf.placeholder('float32', [null, 6], 'x');
      return { x, y: tf.exp(tf.squeeze(tf.expandDims(tf.reshape(tf.exp(x), [3, 4]), 0), [0])) };
    });
    const v = lowerViews(specializeShapes(planGraph([y], [[x, [2, 6]]])));
    expect(types(v).filter((t) => t === '_View')).toHaveLength(3);
    const [a, b] = await runBoth(g, [y], [[x, randomArray([2, 6])]]);
    expect(Array.from(a[0]!.data as Float32Array)).toEqual(Array.from(b[0]!.data as Float32Array));
    expect(a[0]!.shape).toEqual([3, 4]);
  });
});

describe('shape functions over plain abstract values', () => {
  const plain = (name: string, dtype: tf.DType, shape: (number | null)[] | null, known: Partial<AbstractValue> = {}): AbstractValue => ({
    name,
    dtype,
    shape,
    rank: shape === null ? null : shape.length,
    knownValue: undefined,
    knownElements: undefined,
    ...known,
  });
  const ctxOf = (type: string, inputs: AbstractValue[], attrs: Record<string, unknown>): ShapeContext => ({
    opType: type,
    opName: type,
    inputs,
    attr: <T>(a: string) => attrs[a] as T,
    constValue: (i) => inputs[i]?.knownValue,
    fail: (m) => {
      throw new Error(m);
    },
  });

  it('Reshape reads a partially known shape vector from a value, with no graph behind it', () => {
    const x = plain('x', 'float32', [null, 28, 28]);
    const shape = plain('s', 'int32', [2], { knownElements: [null, 784] });
    const out = getOpDef('Reshape')!.shape(ctxOf('Reshape', [x, shape], { T: 'float32', Tshape: 'int32' }));
    expect(out).toEqual([{ dtype: 'float32', shape: [null, 784] }]);
  });

  it('the known rules compose: StridedSlice of Shape, packed with a constant, cast, gives the elements', () => {
    const x = plain('x', 'float32', [null, 28, 28]);
    const shapeCtx = ctxOf('Shape', [x], { T: 'float32', out_type: 'int32' });
    const s = knownOutput(shapeCtx, 0, { dtype: 'int32', shape: [3] });
    expect(s).toEqual({ value: undefined, elements: [null, 28, 28] });
    const c = (v: number[]) => plain('c', 'int32', [v.length], { knownValue: tf.NDArray.from(v, 'int32', [v.length]) });
    const sliceCtx = ctxOf('StridedSlice', [plain('s', 'int32', [3], { knownElements: s.elements }), c([1]), c([2]), c([1])], { shrink_axis_mask: 1 });
    const d1 = knownOutput(sliceCtx, 0, { dtype: 'int32', shape: [] });
    expect(d1.elements).toEqual([28]);
    expect(Array.from(d1.value!.data as Int32Array)).toEqual([28]);
    const packed = knownOutput(
      ctxOf('Pack', [plain('b', 'int32', [], { knownElements: [null] }), plain('d', 'int32', [], { knownElements: d1.elements, knownValue: d1.value })], { N: 2, axis: 0 }),
      0,
      { dtype: 'int32', shape: [2] },
    );
    expect(packed).toEqual({ value: undefined, elements: [null, 28] });
    const cast = knownOutput(ctxOf('Cast', [plain('p', 'int32', [2], { knownElements: packed.elements })], { SrcT: 'int32', DstT: 'int64' }), 0, { dtype: 'int64', shape: [2] });
    expect(cast.elements).toEqual([null, 28]);
  });

  it('a graph tensor is an abstract value: tf.shape(x)[1:] of a partly known x', () => {
    const [, t] = inGraph(() => {
      const x = tf.placeholder('float32', [null, 5, 7]);
      return tf.stridedSlice(tf.shape(x), [1], [3], [1]);
    });
    expect(t.knownElements).toEqual([5, 7]);
    expect(Array.from(t.knownValue!.data as Int32Array)).toEqual([5, 7]);
  });

  it('a placeholder with a default is not known: it may be fed', () => {
    const [, t] = inGraph(() => tf.placeholderWithDefault(tf.constant(1, 'float32'), []));
    expect(t.knownValue).toBeUndefined();
  });
});
