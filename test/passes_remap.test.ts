import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { buildPlanGraph } from '../passes/build.js';
import type { PlanGraph } from '../passes/ir.js';
import { remap } from '../passes/remap.js';
import { specializeShapes } from '../passes/shapes.js';
import { randomArray } from './helpers.js';

const hasKernel = (): boolean => true;
function planGraph(fetches: tf.Tensor[], feeds: [tf.Tensor, number[]][] = []): PlanGraph {
  return specializeShapes(buildPlanGraph({ fetches, targets: [], feeds: feeds.map(([t]) => t), feedShapes: new Map(feeds) }).graph);
}
const types = (g: PlanGraph): string[] => g.nodes.map((n) => n.type);
const inGraph = <T>(fn: () => T): [tf.Graph, T] => {
  const g = new tf.Graph();
  return [g, g.asDefault(fn)];
};

async function runBoth(g: tf.Graph, fetches: (tf.Tensor | tf.Operation)[], feeds: [tf.Tensor, tf.NDArray][]) {
  const a = new tf.Session({ graph: g });
  const b = new tf.Session({ graph: g, optimize: false });
  const ra = await a.run(fetches, feeds);
  const rb = await b.run(fetches, feeds);
  const plan = await a.compile(fetches, feeds);
  a.close();
  b.close();
  return { a: ra, b: rb, plan };
}

const same = (x: tf.NDArray, y: tf.NDArray): void => expect(Array.from(x.data as Float32Array)).toEqual(Array.from(y.data as Float32Array));

describe('pattern fusion (remapper)', () => {
  const activations: [string, ((t: tf.Tensor) => tf.Tensor) | undefined][] = [
    ['none', undefined],
    ['Relu', tf.nn.relu],
    ['Relu6', tf.nn.relu6],
    ['Elu', tf.nn.elu],
    ['LeakyRelu', (t) => tf.nn.leakyRelu(t, 0.3)],
    ['Tanh', tf.tanh],
    ['Sigmoid', tf.sigmoid],
  ];
  for (const [name, act] of activations) {
    it(`MatMul + BiasAdd + ${name} -> _FusedMatMul, equal to the unfused ops`, async () => {
      const [g, { x, y }] = inGraph(() => {
        const x = tf.placeholder('float32', [null, 5], 'x');
        const z = tf.nn.biasAdd(tf.matmul(x, tf.constant(randomArray([5, 3], { seed: 2 }))), tf.constant(randomArray([3], { seed: 3 })));
        return { x, y: act ? act(z) : z };
      });
      const r = remap(planGraph([y], [[x, [4, 5]]]), { hasKernel });
      const fused = r.fetches[0]!.node;
      expect(fused.type).toBe('_FusedMatMul');
      expect(fused.attrs.fused_ops).toEqual(act ? ['BiasAdd', name] : ['BiasAdd']);
      expect(fused.name).toBe(y.op.name);
      // 4 rows: the TypeScript epilogue; 700 rows (2,100 outputs): the WebAssembly one where the activation's vector form is exact.
      for (const rows of [4, 700]) {
        const { a, b } = await runBoth(g, [y], [[x, randomArray([rows, 5], { seed: 4, min: -3, max: 3 })]]);
        same(a[0]!, b[0]!);
      }
    });
  }

  it('takes Add/AddV2 of a vector over the last dim as the bias, with transposed operands', async () => {
    const [g, { x, y }] = inGraph(() => {
      const x = tf.placeholder('float32', [6, 4], 'x');
      const w = tf.constant(randomArray([3, 6], { seed: 5 }));
      return { x, y: tf.nn.relu(tf.add(tf.constant(randomArray([3], { seed: 6 })), tf.matmul(x, w, { transposeA: true, transposeB: true }))) };
    });
    const { a, b, plan } = await runBoth(g, [y], [[x, randomArray([6, 4], { seed: 7 })]]);
    const step = plan.steps.find((s) => s.node.type === '_FusedMatMul')!;
    expect(step.node.attrs.transpose_a).toBe(true);
    expect(step.node.attrs.transpose_b).toBe(true);
    same(a[0]!, b[0]!);
  });

  it('does not absorb an op whose value is fetched or used elsewhere', () => {
    const [, { x, mm, y, z }] = inGraph(() => {
      const x = tf.placeholder('float32', [2, 3], 'x');
      const mm = tf.matmul(x, tf.ones([3, 4]));
      const b = tf.nn.biasAdd(mm, tf.ones([4]));
      return { x, mm, y: tf.nn.relu(b), z: tf.exp(b) };
    });
    const fetchedMatMul = remap(planGraph([mm, y], [[x, [2, 3]]]), { hasKernel });
    expect(types(fetchedMatMul)).not.toContain('_FusedMatMul');
    // BiasAdd feeds Relu and Exp: MatMul+BiasAdd fuse, the activations stay.
    const shared = remap(planGraph([y, z], [[x, [2, 3]]]), { hasKernel });
    const fused = shared.nodes.find((n) => n.type === '_FusedMatMul')!;
    expect(fused.attrs.fused_ops).toEqual(['BiasAdd']);
    expect(types(shared)).toEqual(expect.arrayContaining(['Relu', 'Exp']));
  });

  it('Conv2D + BiasAdd + Relu -> _FusedConv2D, NHWC and NCHW', async () => {
    for (const format of ['NHWC', 'NCHW'] as const) {
      const [g, { x, y }] = inGraph(() => {
        const x = tf.placeholder('float32', format === 'NHWC' ? [20, 5, 5, 3] : [20, 3, 5, 5], 'x');
        const conv = tf.nn.conv2d(x, tf.constant(randomArray([3, 3, 3, 4], { seed: 8 })), 1, 'SAME', { dataFormat: format });
        return { x, y: tf.nn.relu(tf.nn.biasAdd(conv, tf.constant(randomArray([4], { seed: 9 })), { dataFormat: format })) };
      });
      const feed = randomArray(format === 'NHWC' ? [20, 5, 5, 3] : [20, 3, 5, 5], { seed: 10 });
      const { a, b, plan } = await runBoth(g, [y], [[x, feed]]);
      expect(plan.steps.map((s) => s.node.type)).toContain('_FusedConv2D');
      same(a[0]!, b[0]!);
    }
  });

  it('-sum(labels * log(softmax(logits))) -> one SoftmaxCrossEntropyWithLogits kernel', async () => {
    const [g, { logits, labels, losses }] = inGraph(() => {
      const logits = tf.placeholder('float32', [4, 5], 'logits');
      const labels = tf.placeholder('float32', [4, 5], 'labels');
      return {
        logits,
        labels,
        losses: [
          tf.negative(tf.reduceSum(tf.multiply(labels, tf.log(tf.nn.softmax(logits))), 1)),
          tf.reduceSum(tf.negative(tf.multiply(tf.nn.logSoftmax(logits), labels)), -1),
        ],
      };
    });
    const r = remap(planGraph(losses, [[logits, [4, 5]], [labels, [4, 5]]]), { hasKernel });
    for (const f of r.fetches) expect(f.node.type).toBe('SoftmaxCrossEntropyWithLogits');
    expect(types(r)).not.toContain('Log');
    expect(r.numericallyRewritten).toBe(true);
    const lab = randomArray([4, 5], { seed: 11, min: 0, max: 1 });
    const { a, b } = await runBoth(g, losses, [
      [logits, randomArray([4, 5], { seed: 12, min: -4, max: 4 })],
      [labels, lab],
    ]);
    for (let i = 0; i < 2; i++) {
      const x = Array.from(a[i]!.data as Float32Array);
      const y = Array.from(b[i]!.data as Float32Array);
      x.forEach((v, k) => expect(v).toBeCloseTo(y[k]!, 5));
    }
  });

  it('keeps the softmax when something else needs it', () => {
    const [, { logits, labels, loss, p }] = inGraph(() => {
      const logits = tf.placeholder('float32', [2, 3], 'logits');
      const labels = tf.placeholder('float32', [2, 3], 'labels');
      const p = tf.nn.softmax(logits);
      return { logits, labels, loss: tf.negative(tf.reduceSum(tf.multiply(labels, tf.log(p)), 1)), p };
    });
    const r = remap(planGraph([loss, p], [[logits, [2, 3]], [labels, [2, 3]]]), { hasKernel });
    expect(r.fetches[0]!.node.type).toBe('SoftmaxCrossEntropyWithLogits');
    expect(r.fetches[1]!.node.type).toBe('Softmax');
  });

  it('a dense training step with fused forward ops trains exactly like the unfused graph', async () => {
    const g = new tf.Graph();
    const m = g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 6], 'x');
      const y = tf.placeholder('int32', [null], 'y');
      const h = tf.layers.dense(x, 8, { activation: tf.nn.tanh });
      const logits = tf.layers.dense(h, 3);
      const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
      return { x, y, loss, train: new tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss), init: tf.globalVariablesInitializer() };
    });
    const feeds: [tf.Tensor, tf.NDArray][] = [
      [m.x, randomArray([5, 6], { seed: 13 })],
      [m.y, new tf.NDArray(Int32Array.of(0, 1, 2, 1, 0), [5])],
    ];
    const opt = new tf.Session({ graph: g });
    const ref = new tf.Session({ graph: g, optimize: false });
    await opt.run(m.init);
    // Same initial values in both sessions.
    for (const v of g.getCollection<tf.Variable>(tf.GraphKeys.GLOBAL_VARIABLES)) {
      const val = await opt.run(v);
      await ref.run(g.asDefault(() => tf.assign(v, tf.constant(val))));
    }
    for (let step = 0; step < 4; step++) {
      const [la] = await opt.run([m.loss, m.train], feeds);
      const [lb] = await ref.run([m.loss, m.train], feeds);
      expect(la.scalar()).toBe(lb.scalar());
    }
    const plan = await opt.compile([m.loss, m.train], feeds);
    expect(plan.steps.map((s) => s.node.type)).toContain('_FusedMatMul');
  });
});
