// Graphs TensorFlow exports after Grappler hold fused nodes (_FusedMatMul, _FusedConv2D,
// FusedDepthwiseConv2dNative): the importer expands each into weir's plain ops, which the remap
// pass fuses again. GraphDefs are written here in text format as TensorFlow writes them; each
// imported graph is checked against a plain weir graph of the same math, and against TensorFlow.js's
// converter running the same GraphDef.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { UnimplementedError } from '../src/core/errors.js';
import type { GraphDef } from '../src/io/proto.js';
import { fromTextFormat } from '../src/io/text_format.js';
import { expectClose, fromTfjs, randomArray, tfjs } from './helpers.js';
import { toTfjsArtifacts } from './tfjs_graph_model.js';

// ---- GraphDef text, as TensorFlow writes it ----

const attr = (key: string, value: string): string => `attr { key: "${key}" value { ${value} } }`;
const T = attr('T', 'type: DT_FLOAT');
const ints = (key: string, v: readonly number[]): string => attr(key, `list { ${v.map((i) => `i: ${i}`).join(' ')} }`);
const strs = (key: string, v: readonly string[]): string => attr(key, `list { ${v.map((s) => `s: "${s}"`).join(' ')} }`);
const CPU = 'device: "/job:localhost/replica:0/task:0/device:CPU:0"';

function placeholder(name: string, shape: readonly number[]): string {
  return `node { name: "${name}" op: "Placeholder" ${attr('dtype', 'type: DT_FLOAT')} ${attr('shape', `shape { ${shape.map((d) => `dim { size: ${d} }`).join(' ')} }`)} }`;
}

function constant(name: string, v: tf.NDArray): string {
  const dims = v.shape.map((d) => `dim { size: ${d} }`).join(' ');
  const vals = Array.from(v.data as Float32Array).join(', ');
  return `node { name: "${name}" op: "Const" ${attr('dtype', 'type: DT_FLOAT')} ${attr('value', `tensor { dtype: DT_FLOAT tensor_shape { ${dims} } float_val: [${vals}] }`)} }`;
}

interface FusedSpec {
  op: '_FusedMatMul' | '_FusedConv2D' | 'FusedDepthwiseConv2dNative';
  inputs: readonly string[];
  fusedOps: readonly string[];
  epsilon?: number;
  leakyreluAlpha?: number;
  /** The base op's attrs, as text. */
  base: string;
}

function fused(name: string, s: FusedSpec): string {
  return `node { name: "${name}" op: "${s.op}" ${s.inputs.map((i) => `input: "${i}"`).join(' ')} ${CPU} ${T}
    ${attr('num_args', `i: ${s.inputs.length - 2}`)} ${strs('fused_ops', s.fusedOps)}
    ${attr('epsilon', `f: ${s.epsilon ?? 0}`)} ${attr('leakyrelu_alpha', `f: ${s.leakyreluAlpha ?? 0.2}`)} ${s.base} }`;
}

function identity(name: string, input: string): string {
  return `node { name: "${name}" op: "Identity" input: "${input}" ${T} }`;
}

const matmulAttrs = (ta = false, tb = false): string => `${attr('transpose_a', `b: ${ta}`)} ${attr('transpose_b', `b: ${tb}`)}`;
const convAttrs = (strides: number[], padding: string, cudnn = true, format = 'NHWC'): string =>
  `${ints('strides', strides)} ${attr('padding', `s: "${padding}"`)} ${attr('data_format', `s: "${format}"`)} ${ints('dilations', [1, 1, 1, 1])} ${attr('explicit_paddings', 'list { }')}${cudnn ? ` ${attr('use_cudnn_on_gpu', 'b: true')}` : ''}`;

function graphDef(nodes: readonly string[]): GraphDef {
  return fromTextFormat('GraphDef', `${nodes.join('\n')}\nversions { producer: 1286 min_consumer: 12 }`);
}

// ---- cases ----

interface Case {
  name: string;
  nodes: string[];
  /** Placeholder name and value. */
  feed: [string, tf.NDArray];
  /** The same math with weir's functions, given the feed and the constants. */
  plain: (x: tf.Tensor) => tf.Tensor;
  /** The fused op weir's plan should use again, if any. */
  refused?: string;
  /** Op types the expansion makes, in order. */
  expanded: string[];
}

const xm = randomArray([3, 4], { seed: 1 });
const wm = randomArray([4, 5], { seed: 2 });
const wmT = randomArray([5, 4], { seed: 3 });
const bm = randomArray([5], { seed: 4 });
const xc = randomArray([2, 5, 5, 3], { seed: 5 });
const xcNchw = randomArray([2, 3, 5, 5], { seed: 15 });
const wc = randomArray([3, 3, 3, 4], { seed: 6 });
const bc = randomArray([4], { seed: 7 });
const addend = randomArray([2, 3, 3, 4], { seed: 8 });
const scale = randomArray([4], { seed: 9, min: 0.5, max: 1.5 });
const offset = randomArray([4], { seed: 10 });
const mean = randomArray([4], { seed: 11 });
const variance = randomArray([4], { seed: 12, min: 0.5, max: 2 });
const wd = randomArray([3, 3, 3, 2], { seed: 13 });
const bd = randomArray([6], { seed: 14 });

const c = tf.constant;

const CASES: Case[] = [
  {
    name: '_FusedMatMul [BiasAdd, Relu]',
    nodes: [placeholder('x', [3, 4]), constant('w', wm), constant('b', bm), fused('dense/Relu', { op: '_FusedMatMul', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'Relu'], base: matmulAttrs() }), identity('out', 'dense/Relu')],
    feed: ['x', xm],
    plain: (x) => tf.nn.relu(tf.nn.biasAdd(tf.matmul(x, c(wm)), c(bm))),
    refused: '_FusedMatMul',
    expanded: ['MatMul', 'BiasAdd', 'Relu'],
  },
  {
    name: '_FusedMatMul [BiasAdd] with transpose_b',
    nodes: [placeholder('x', [3, 4]), constant('w', wmT), constant('b', bm), fused('dense/BiasAdd', { op: '_FusedMatMul', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd'], base: matmulAttrs(false, true) }), identity('out', 'dense/BiasAdd')],
    feed: ['x', xm],
    plain: (x) => tf.nn.biasAdd(tf.matmul(x, c(wmT), { transposeB: true }), c(bm)),
    refused: '_FusedMatMul',
    expanded: ['MatMul', 'BiasAdd'],
  },
  {
    name: '_FusedMatMul [BiasAdd, LeakyRelu] with leakyrelu_alpha 0.1',
    nodes: [placeholder('x', [3, 4]), constant('w', wm), constant('b', bm), fused('f', { op: '_FusedMatMul', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'LeakyRelu'], leakyreluAlpha: 0.1, base: matmulAttrs() }), identity('out', 'f')],
    feed: ['x', xm],
    plain: (x) => tf.nn.leakyRelu(tf.nn.biasAdd(tf.matmul(x, c(wm)), c(bm)), 0.1),
    refused: '_FusedMatMul',
    expanded: ['MatMul', 'BiasAdd', 'LeakyRelu'],
  },
  {
    name: '_FusedMatMul [BiasAdd, Tanh]',
    nodes: [placeholder('x', [3, 4]), constant('w', wm), constant('b', bm), fused('f', { op: '_FusedMatMul', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'Tanh'], base: matmulAttrs() }), identity('out', 'f')],
    feed: ['x', xm],
    plain: (x) => tf.tanh(tf.nn.biasAdd(tf.matmul(x, c(wm)), c(bm))),
    expanded: ['MatMul', 'BiasAdd', 'Tanh'],
  },
  {
    name: '_FusedConv2D [BiasAdd, Relu6], stride 2, SAME',
    nodes: [placeholder('x', [2, 5, 5, 3]), constant('w', wc), constant('b', bc), fused('conv/Relu6', { op: '_FusedConv2D', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'Relu6'], base: convAttrs([1, 2, 2, 1], 'SAME') }), identity('out', 'conv/Relu6')],
    feed: ['x', xc],
    plain: (x) => tf.nn.relu6(tf.nn.biasAdd(tf.nn.conv2d(x, c(wc), [1, 2, 2, 1], 'SAME'), c(bc))),
    refused: '_FusedConv2D',
    expanded: ['Conv2D', 'BiasAdd', 'Relu6'],
  },
  {
    name: '_FusedConv2D [BiasAdd, Elu] in NCHW',
    nodes: [placeholder('x', [2, 3, 5, 5]), constant('w', wc), constant('b', bc), fused('conv/Elu', { op: '_FusedConv2D', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'Elu'], base: convAttrs([1, 1, 1, 1], 'SAME', true, 'NCHW') }), identity('out', 'conv/Elu')],
    feed: ['x', xcNchw],
    plain: (x) => tf.nn.elu(tf.nn.biasAdd(tf.nn.conv2d(x, c(wc), 1, 'SAME', { dataFormat: 'NCHW' }), c(bc), { dataFormat: 'NCHW' })),
    expanded: ['Conv2D', 'BiasAdd', 'Elu'],
  },
  {
    name: '_FusedConv2D [BiasAdd, Add, Relu] (a residual connection, num_args 2)',
    nodes: [
      placeholder('x', [2, 5, 5, 3]),
      constant('w', wc),
      constant('b', bc),
      constant('skip', addend),
      fused('res/Relu', { op: '_FusedConv2D', inputs: ['x', 'w', 'b', 'skip'], fusedOps: ['BiasAdd', 'Add', 'Relu'], base: convAttrs([1, 1, 1, 1], 'VALID') }),
      identity('out', 'res/Relu'),
    ],
    feed: ['x', xc],
    plain: (x) => tf.nn.relu(tf.add(tf.nn.biasAdd(tf.nn.conv2d(x, c(wc), 1, 'VALID'), c(bc)), c(addend))),
    expanded: ['Conv2D', 'BiasAdd', 'AddV2', 'Relu'],
  },
  {
    name: '_FusedConv2D [FusedBatchNorm, Relu] (num_args 4, epsilon)',
    nodes: [
      placeholder('x', [2, 5, 5, 3]),
      constant('w', wc),
      constant('scale', scale),
      constant('offset', offset),
      constant('mean', mean),
      constant('variance', variance),
      fused('bn/Relu', { op: '_FusedConv2D', inputs: ['x', 'w', 'scale', 'offset', 'mean', 'variance'], fusedOps: ['FusedBatchNorm', 'Relu'], epsilon: 0.001, base: convAttrs([1, 1, 1, 1], 'SAME') }),
      identity('out', 'bn/Relu'),
    ],
    feed: ['x', xc],
    plain: (x) => tf.nn.relu(tf.nn.batchNormalization(tf.nn.conv2d(x, c(wc), 1, 'SAME'), c(mean), c(variance), c(offset), c(scale), 0.001)),
    expanded: ['Conv2D', 'FusedBatchNormV3', 'Relu'],
  },
  {
    name: 'FusedDepthwiseConv2dNative [BiasAdd, Elu]',
    nodes: [
      placeholder('x', [2, 5, 5, 3]),
      constant('w', wd),
      constant('b', bd),
      fused('dw/Elu', { op: 'FusedDepthwiseConv2dNative', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'Elu'], base: convAttrs([1, 1, 1, 1], 'SAME', false) }),
      identity('out', 'dw/Elu'),
    ],
    feed: ['x', xc],
    plain: (x) => tf.nn.elu(tf.nn.biasAdd(tf.nn.depthwiseConv2dNative(x, c(wd), 1, 'SAME'), c(bd))),
    expanded: ['DepthwiseConv2dNative', 'BiasAdd', 'Elu'],
  },
];

/** The ops the expansion of node `name` made: its inner ops, then the node itself. */
function expansionOf(g: tf.Graph, name: string): tf.Operation[] {
  return g.getOperations().filter((o) => o.name === name || o.name.startsWith(`${name}/`));
}

describe('importing Grappler fused nodes', () => {
  for (const k of CASES) {
    it(`${k.name}: expands into plain ops that compute what a plain weir graph does`, async () => {
      const gd = graphDef(k.nodes);
      const fusedNode = gd.node!.find((n) => n.input && n.input.length > 1 && n.op !== 'Identity')!;
      const g = new tf.Graph();
      const [out, x] = tf.importGraphDef(gd, { graph: g, name: '', returnElements: ['out:0', `${k.feed[0]}:0`] }) as tf.Tensor[];
      const ops = expansionOf(g, fusedNode.name!);
      expect(ops.map((o) => o.type)).toEqual(k.expanded);
      // The last op carries the node's name, so the GraphDef's consumers read it.
      expect(ops[ops.length - 1]!.name).toBe(fusedNode.name);
      expect(out!.op.inputs[0]!.op.name).toBe(fusedNode.name);
      const sess = new tf.Session({ graph: g });
      const got = (await sess.run(out!, new Map([[x!, k.feed[1]]]))) as tf.NDArray;
      const plan = await sess.compile([out!], [[x!, k.feed[1]]]);
      if (k.refused) expect(plan.steps.map((s) => s.node.type)).toContain(k.refused);
      sess.close();

      const g2 = new tf.Graph();
      const [want, x2] = g2.asDefault(() => {
        const ph = tf.placeholder('float32', [...k.feed[1].shape]);
        return [k.plain(ph), ph];
      });
      const sess2 = new tf.Session({ graph: g2 });
      const ref = (await sess2.run(want, new Map([[x2, k.feed[1]]]))) as tf.NDArray;
      sess2.close();
      expectClose(got, ref, { atol: 1e-5, rtol: 1e-5 });
    });
  }

  it('imported under a name prefix, the expansion is named under it', async () => {
    const gd = graphDef([placeholder('x', [3, 4]), constant('w', wm), constant('b', bm), fused('f', { op: '_FusedMatMul', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'Relu'], base: matmulAttrs() })]);
    const g = new tf.Graph();
    const [f] = tf.importGraphDef(gd, { graph: g, name: 'm', returnElements: ['f:0'] }) as tf.Tensor[];
    expect(f!.name).toBe('m/f:0');
    expect(g.getOperationByName('m/f/MatMul').type).toBe('MatMul');
  });

  it('fused_ops weir cannot express are an UnimplementedError naming the node and the list', () => {
    const cases: [FusedSpec, RegExp][] = [
      [{ op: '_FusedMatMul', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'GeluExact'], base: matmulAttrs() }, /Node 'bad' \(_FusedMatMul\).*fused_ops \[BiasAdd, GeluExact\]/],
      [{ op: '_FusedMatMul', inputs: ['x', 'w', 'b', 'b', 'b', 'b'], fusedOps: ['FusedBatchNorm'], base: matmulAttrs() }, /Node 'bad' \(_FusedMatMul\).*fused_ops \[FusedBatchNorm\]/],
      [{ op: '_FusedConv2D', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'Relu', 'Relu'], base: convAttrs([1, 1, 1, 1], 'SAME') }, /Node 'bad' \(_FusedConv2D\).*fused_ops \[BiasAdd, Relu, Relu\]/],
      [{ op: '_FusedConv2D', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd', 'Add'], base: convAttrs([1, 1, 1, 1], 'SAME') }, /fused_ops \[BiasAdd, Add\] with 1 argument/],
      [{ op: 'FusedDepthwiseConv2dNative', inputs: ['x', 'w', 'b'], fusedOps: [], base: convAttrs([1, 1, 1, 1], 'SAME', false) }, /Node 'bad' \(FusedDepthwiseConv2dNative\).*fused_ops \[\]/],
    ];
    for (const [spec, message] of cases) {
      const gd = graphDef([placeholder('x', [2, 4, 4, 4]), constant('w', randomArray([4, 4], { seed: 1 })), constant('b', randomArray([4], { seed: 2 })), fused('bad', spec)]);
      const g = new tf.Graph();
      let err: unknown;
      try {
        tf.importGraphDef(gd, { graph: g });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnimplementedError);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('num_args must count the argument inputs', () => {
    const text = fused('bad', { op: '_FusedMatMul', inputs: ['x', 'w', 'b'], fusedOps: ['BiasAdd'], base: matmulAttrs() }).replace('i: 1', 'i: 2');
    const gd = graphDef([placeholder('x', [3, 4]), constant('w', wm), constant('b', bm), text]);
    expect(() => tf.importGraphDef(gd, { graph: new tf.Graph() })).toThrow(/Node 'bad' \(_FusedMatMul\): num_args is 2 but the node has 1 argument inputs/);
  });
});

// ---- TensorFlow.js as an independent executor ----


describe('TensorFlow.js runs the same GraphDefs', () => {
  it('FusedBatchNormV3 in inference (as TensorFlow writes it after folding a batch norm layer)', async () => {
    const nodes = [
      placeholder('x', [2, 5, 5, 4]),
      constant('scale', scale),
      constant('offset', offset),
      constant('mean', mean),
      constant('variance', variance),
      `node { name: "bn" op: "FusedBatchNormV3" input: "x" input: "scale" input: "offset" input: "mean" input: "variance" ${CPU} ${T} ${attr('U', 'type: DT_FLOAT')}
        ${attr('epsilon', 'f: 0.001')} ${attr('exponential_avg_factor', 'f: 1')} ${attr('data_format', 's: "NHWC"')} ${attr('is_training', 'b: false')} }`,
      identity('out', 'bn'),
    ];
    const gd = graphDef(nodes);
    const xv = randomArray([2, 5, 5, 4], { seed: 21, min: -2, max: 2 });
    const g = new tf.Graph();
    const [out, x] = tf.importGraphDef(gd, { graph: g, name: '', returnElements: ['out:0', 'x:0'] }) as tf.Tensor[];
    const sess = new tf.Session({ graph: g });
    const got = (await sess.run(out!, new Map([[x!, xv]]))) as tf.NDArray;
    sess.close();
    const core = await tfjs();
    const { loadGraphModelSync } = await import('@tensorflow/tfjs-converter');
    const model = loadGraphModelSync(toTfjsArtifacts(gd) as Parameters<typeof loadGraphModelSync>[0]);
    const feed = core.tensor(Array.from(xv.data as Float32Array), [2, 5, 5, 4], 'float32');
    const want = model.execute({ x: feed }, 'out') as import('@tensorflow/tfjs-core').Tensor;
    expectClose(got, await fromTfjs(want), { atol: 1e-5, rtol: 1e-5 });
    want.dispose();
    feed.dispose();
    model.dispose();
  });

  // TensorFlow.js fuses BiasAdd with an activation only (no Add, no FusedBatchNorm, no Tanh), and convolves NHWC only.
  for (const k of CASES.filter((x) => !/BiasAdd, Add|FusedBatchNorm|Tanh|NCHW/.test(x.name))) {
    it(`${k.name}: weir's import matches TensorFlow.js's converter`, async () => {
      const gd = graphDef(k.nodes);
      const g = new tf.Graph();
      const [out, x] = tf.importGraphDef(gd, { graph: g, name: '', returnElements: ['out:0', `${k.feed[0]}:0`] }) as tf.Tensor[];
      const sess = new tf.Session({ graph: g });
      const got = (await sess.run(out!, new Map([[x!, k.feed[1]]]))) as tf.NDArray;
      sess.close();

      const core = await tfjs();
      const { loadGraphModelSync } = await import('@tensorflow/tfjs-converter');
      const model = loadGraphModelSync(toTfjsArtifacts(gd) as Parameters<typeof loadGraphModelSync>[0]);
      const feed = core.tensor(Array.from(k.feed[1].data as Float32Array), [...k.feed[1].shape], 'float32');
      const want = model.execute({ [k.feed[0]]: feed }, 'out') as import('@tensorflow/tfjs-core').Tensor;
      expectClose(got, await fromTfjs(want), { atol: 1e-5, rtol: 1e-5 });
      want.dispose();
      feed.dispose();
      model.dispose();
    });
  }
});
