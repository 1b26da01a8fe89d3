import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { buildPlanGraph } from '../passes/build.js';
import { dotString, toDot } from '../passes/dot.js';
import { DEFAULT_PIPELINE, PASSES, runPipeline, type PassContext } from '../passes/manager.js';
import { variableOrdering, type PlanGraph } from '../passes/ir.js';
import { registerOp } from '../ops/registry.js';
import { registerCpuKernel } from '../runtime/cpu/registry.js';
import { getCpuKernel } from '../runtime/cpu/registry.js';
import { cpuCanFuse } from '../runtime/cpu/fused.js';
import { evaluateOnCpu } from '../runtime/cpu/backend.js';
import { randomArray } from './helpers.js';

const ctx: PassContext = { hasKernel: (t) => getCpuKernel(t) !== undefined, canFuse: cpuCanFuse, evaluate: evaluateOnCpu };
const inGraph = <T>(fn: () => T): [tf.Graph, T] => {
  const g = new tf.Graph();
  return [g, g.asDefault(fn)];
};

/** A small training graph with a bit of everything the passes touch. */
function model() {
  return inGraph(() => {
    const x = tf.placeholder('float32', [null, 4], 'x');
    const y = tf.placeholder('int32', [null], 'y');
    const h = tf.layers.dense(tf.multiply(tf.identity(x), 1), 6, { activation: tf.nn.relu });
    const logits = tf.layers.dense(tf.add(tf.tanh(h), tf.reduceMean(h)), 3);
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
    const train = new tf.train.AdamOptimizer(0.01).minimize(loss);
    return { x, y, loss, train, init: tf.globalVariablesInitializer() };
  });
}

function planGraphOf(fetches: (tf.Tensor | tf.Operation)[], feeds: [tf.Tensor, number[]][]): PlanGraph {
  return buildPlanGraph({
    fetches: fetches.filter((f): f is tf.Tensor => f instanceof tf.Tensor),
    targets: fetches.filter((f): f is tf.Operation => f instanceof tf.Operation),
    feeds: feeds.map(([t]) => t),
    feedShapes: new Map(feeds),
  }).graph;
}

describe('pass manager', () => {
  it('runs a named pipeline, dumping the graph after each pass', () => {
    const [, m] = model();
    const g = planGraphOf([m.loss, m.train], [[m.x, [2, 4]], [m.y, [2]]]);
    const seen: string[] = [];
    const out = runPipeline(g, ctx, { dump: (pass, graph) => seen.push(`${pass}:${graph.nodes.length}`) });
    expect(seen.map((s) => s.split(':')[0])).toEqual(['input', ...DEFAULT_PIPELINE]);
    expect(out.nodes.length).toBeLessThan(g.nodes.length);
    expect(() => runPipeline(g, ctx, { pipeline: ['fold', 'nope'] })).toThrow(/Unknown pass 'nope'/);
  });

  it('every pass is pure: its input graph is left exactly as it was', () => {
    const [, m] = model();
    let g = planGraphOf([m.loss, m.train], [[m.x, [2, 4]], [m.y, [2]]]);
    for (const name of DEFAULT_PIPELINE) {
      const before = g.toString();
      const out = PASSES[name]!(g, ctx);
      expect(g.toString(), `pass ${name}`).toBe(before);
      out.validate();
      g = out;
    }
  });
});

describe('prune', () => {
  it('drops what no fetch or target needs, but keeps ops with effects the run would execute', () => {
    const [, m] = inGraph(() => {
      const x = tf.placeholder('float32', [3], 'x');
      const used = tf.exp(x);
      const unused = tf.tanh(used);
      const r = tf.randomUniform([3], { seed: 4 });
      // A random op whose only consumer goes away stays: its stream must advance as before.
      const gone = tf.multiply(r, 0);
      return { x, used, unused, gone };
    });
    const g = planGraphOf([m.used, m.gone], [[m.x, [3]]]);
    g.fetches = [g.fetches[0]!];
    const pruned = PASSES.prune!(g, ctx);
    expect(pruned.nodes.map((n) => n.type).sort()).toEqual(['Exp', 'RandomUniform', '_Arg', 'Const'].sort());
    expect(g.nodes.some((n) => n.type === 'Mul')).toBe(true);
  });
});

describe('Session and plans', () => {
  it('compile returns the plan run uses; optimize:false runs the pruned graph as written', async () => {
    const [g, m] = model();
    const feeds: [tf.Tensor, tf.NDArray][] = [
      [m.x, randomArray([3, 4])],
      [m.y, new tf.NDArray(Int32Array.of(0, 1, 2), [3])],
    ];
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const plan = await sess.compile([m.loss, m.train], feeds);
    await sess.run([m.loss, m.train], feeds);
    expect(await sess.compile([m.loss, m.train], feeds)).toBe(plan);
    expect(plan.optimized).toBe(true);
    expect(plan.stats.fusedKernels).toBeGreaterThan(0);
    expect(plan.stats.opsAfter).toBeLessThan(plan.stats.opsBefore);
    expect(plan.stats.kernels).toBe(plan.steps.length);
    expect(plan.stats.plannedPeakBytes).toBeLessThan(plan.stats.naivePeakBytes);
    expect(plan.stats.naivePeakBytes).toBeLessThan(plan.stats.unoptimizedNaiveBytes);

    const plain = new tf.Session({ graph: g, optimize: false });
    await plain.run(m.init);
    const p2 = await plain.compile([m.loss, m.train], feeds);
    expect(p2.optimized).toBe(false);
    expect(p2.memory).toBeUndefined();
    expect(p2.stats.kernels).toBe(p2.stats.opsBefore);
    expect(p2.steps.some((s) => s.node.type.startsWith('_'))).toBe(false);
    sess.close();
    plain.close();
  });

  it('verification mode is on for the test suite and catches an optimized plan that disagrees', async () => {
    expect(process.env.WEIR_VERIFY_OPT).toBe('1');
    // An op that (wrongly) claims to be pure while returning a new value on every call: the
    // optimized run and the reference run then disagree, and the session says where.
    let calls = 0;
    registerOp({ type: 'TestImpureCounter', inputs: [], shape: () => [{ dtype: 'float32', shape: [] }], grad: null });
    registerCpuKernel('TestImpureCounter', () => [new tf.NDArray(Float32Array.of(++calls), [])]);
    const [g, y] = inGraph(() => tf.exp(g2op()));
    function g2op(): tf.Tensor {
      return tf.getDefaultGraph().createOp('TestImpureCounter', [], {}, { name: 'counter' }).outputs[0]!;
    }
    const sess = new tf.Session({ graph: g });
    await expect(sess.run(y)).rejects.toThrow(tf.errors.InternalError);
    await expect(sess.run(y)).rejects.toThrow(/Optimized plan differs from the unoptimized plan for fetched tensor 'Exp:0'/);
  });

  it('keeps reads and updates of a variable in their order, and applies gradients as early as that allows', async () => {
    const [g, m] = inGraph(() => {
      const v = new tf.Variable(tf.constant([1, 2]), { name: 'v' });
      const before = tf.multiply(v.value(), 2);
      const upd = tf.assignAdd(v, tf.constant([10, 10]));
      const after = tf.add(tf.multiply(v.value(), 3), before);
      return { v, before, upd, after };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const [b, , a] = await sess.run([m.before, m.upd, m.after]);
    expect(b.toArray()).toEqual([2, 4]);
    expect(a.toArray()).toEqual([35, 40]);

    const [g2, mm] = model();
    const plan = await new tf.Session({ graph: g2 }).compile([mm.loss, mm.train], [
      [mm.x, randomArray([2, 4])],
      [mm.y, new tf.NDArray(Int32Array.of(0, 1), [2])],
    ]);
    const order = plan.steps.map((s) => s.node.type);
    // The last layer's update runs before the first layer's weight gradient is computed.
    const firstApply = order.indexOf('ApplyAdam');
    const lastMatMul = order.lastIndexOf('MatMul');
    expect(firstApply).toBeGreaterThan(-1);
    expect(firstApply).toBeLessThan(lastMatMul);
    const pairs = variableOrdering(plan.graphs.after.nodes);
    const pos = new Map(plan.graphs.after.nodes.map((n, i) => [n, i]));
    for (const [x, y] of pairs) expect(pos.get(x)!).toBeLessThan(pos.get(y)!);
    void g2;
  });
});

describe('DOT export', () => {
  it('escapes labels: quotes, backslashes, newlines and control characters', () => {
    expect(dotString('a"b\\c\nd\u0001e')).toBe('"a\\"b\\\\c\\nd e"');
  });

  it('draws a graph, and a plan before and after the passes', async () => {
    const [g, m] = inGraph(() => {
      const x = tf.placeholder('float32', [2, 3], 'x"]; evil [label="');
      const y = tf.nn.relu(tf.add(tf.exp(x), 1), 'out\\put');
      return { x, y, c: tf.controlDependencies([y], () => tf.noOp('after')) };
    });
    const dot = toDot(g);
    expect(dot.startsWith('digraph "weir" {')).toBe(true);
    expect(dot).toContain('x\\"]; evil [label=\\"');
    expect(dot).toContain('out\\\\put');
    expect(dot).toMatch(/style=dashed/);
    // Every quote inside a label is escaped: the quotes that delimit strings pair up on each line.
    for (const line of dot.split('\n')) {
      const unescaped = line.replace(/\\\\/g, '').replace(/\\"/g, '').match(/"/g)?.length ?? 0;
      expect(unescaped % 2, line).toBe(0);
    }
    const sess = new tf.Session({ graph: g });
    const plan = await sess.compile([m.y, m.c], [[m.x, randomArray([2, 3])]]);
    const pd = toDot(plan);
    expect(pd).toContain('subgraph cluster_before');
    expect(pd).toContain('subgraph cluster_after');
    expect(pd).toContain('_FusedElementwise');
    expect(pd).toMatch(/float32\[2,3\]/);
  });
});
