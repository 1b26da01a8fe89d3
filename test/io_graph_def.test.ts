// GraphDef export (graph.toGraphDef, tf.io.writeGraph) and import (tf.importGraphDef).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { decodeMessage, encodeMessage, type GraphDef, type NodeDef } from '../src/io/proto.js';
import { graphToGraphDef, GRAPH_DEF_PRODUCER, readGraph } from '../src/io/graph_def.js';
import { fromTextFormat } from '../src/io/text_format.js';
import { randomArray, rng } from './helpers.js';

const FIXTURE = 'test/fixtures/tensorflow-serving/saved_model_half_plus_three';
const root = mkdtempSync(join(tmpdir(), 'weir-graph-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function node(gd: GraphDef, name: string): NodeDef {
  const n = gd.node!.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

/** A small model exercising many attr kinds: dtypes, shapes (unknown dims and rank), tensors, bools, lists. */
function buildModel(g: tf.Graph) {
  return g.asDefault(() => {
    const x = tf.placeholder('float32', [null, 3], 'x');
    const any = tf.placeholder('int32', undefined, 'any');
    const w = tf.constant(randomArray([3, 2], { seed: 4 }), 'float32', undefined, 'w');
    const b = tf.constant(tf.NDArray.from([0.5, -1], 'float32'), 'float32', undefined, 'b');
    const y = tf.add(tf.matmul(x, w, { transposeB: false }), b, 'y');
    const z = tf.reduceSum(tf.nn.relu(y), 1, true, 'z');
    const c = tf.cast(z, 'int32');
    const t = tf.transpose(y, [1, 0]);
    return { x, any, y, z, c, t };
  });
}

describe('graph.toGraphDef', () => {
  it('writes nodes, inputs, attrs, dtypes, shapes and constants as TensorFlow does', () => {
    const g = new tf.Graph();
    buildModel(g);
    const gd = g.toGraphDef();
    expect(gd.versions).toEqual({ producer: GRAPH_DEF_PRODUCER });
    expect(gd.node!.map((n) => n.name)).toEqual(g.getOperations().map((o) => o.name));
    // Placeholder: dtype enum and shape with -1 for unknown dims; unknown rank as unknown_rank.
    expect(node(gd, 'x').attr).toEqual({ dtype: { type: 1 }, shape: { shape: { dim: [{ size: -1 }, { size: 3 }] } } });
    expect(node(gd, 'any').attr!.shape).toEqual({ shape: { unknown_rank: true } });
    expect(node(gd, 'any').attr!.dtype).toEqual({ type: 3 });
    // Const: tensor_content little-endian for several distinct values, float_val for one.
    const w = node(gd, 'w').attr!.value!.tensor!;
    expect(w.dtype).toBe(1);
    expect(w.tensor_shape).toEqual({ dim: [{ size: 3 }, { size: 2 }] });
    expect(Buffer.from(w.tensor_content!).toString('hex')).toBe(
      Buffer.from(new Uint8Array((randomArray([3, 2], { seed: 4 }).data as Float32Array).buffer)).toString('hex'),
    );
    // Inputs: 'name' for output 0; the add is AddV2 named 'y'; MatMul has its bool attrs.
    const y = node(gd, 'y');
    expect(y.op).toBe('AddV2');
    expect(y.input).toEqual(['MatMul', 'b']);
    expect(node(gd, 'MatMul').attr).toMatchObject({ T: { type: 1 }, transpose_a: { b: false }, transpose_b: { b: false } });
    expect(node(gd, 'z').attr).toMatchObject({ keep_dims: { b: true }, T: { type: 1 }, Tidx: { type: 3 } });
    expect(node(gd, 'Cast').attr).toMatchObject({ SrcT: { type: 1 }, DstT: { type: 3 } });
    // The serialized bytes parse back to the same message.
    const bytes = encodeMessage('GraphDef', gd);
    expect(encodeMessage('GraphDef', decodeMessage('GraphDef', bytes))).toEqual(bytes);
  });

  it('writes control inputs as ^name and non-zero outputs as name:i', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = tf.constant([1, 2, 3, 4], 'float32', undefined, 'a');
      const parts = tf.split(a, 2, 0, 'split');
      const n = tf.noOp('n');
      tf.controlDependencies([n], () => tf.identity(parts[1]!, 'second'));
    });
    const gd = graphToGraphDef(g);
    expect(node(gd, 'second').input).toEqual(['split:1', '^n']);
  });

  it('writes binary and text files that read back equal (tf.io.writeGraph)', async () => {
    const g = new tf.Graph();
    buildModel(g);
    const pb = await tf.io.writeGraph(g, root, 'model.pb', { asText: false });
    const txt = await tf.io.writeGraph(g, root, 'model.pbtxt');
    const fromPb = await readGraph(pb);
    const fromTxt = await readGraph(txt);
    const want = encodeMessage('GraphDef', g.toGraphDef());
    expect(Buffer.from(readFileSync(pb)).equals(Buffer.from(want))).toBe(true);
    expect(encodeMessage('GraphDef', fromPb)).toEqual(want);
    // Text format sorts map keys, so compare the messages rather than the bytes.
    const norm = (gd: GraphDef): unknown => JSON.parse(JSON.stringify(decodeMessage('GraphDef', encodeMessage('GraphDef', gd)).node!.map((n) => ({ ...n, attr: Object.fromEntries(Object.entries(n.attr ?? {}).sort()) }))));
    expect(norm(fromTxt)).toEqual(norm(fromPb));
    const text = readFileSync(txt, 'utf8');
    expect(text).toContain('node {\n  name: "x"\n  op: "Placeholder"\n');
    expect(text).toContain('      type: DT_FLOAT\n');
    expect(text).toContain('versions {\n  producer: 27\n}');
  });
});

describe('tf.importGraphDef', () => {
  it('round-trips a model: export -> import -> run gives identical values', async () => {
    const g1 = new tf.Graph();
    const m = buildModel(g1);
    const input = randomArray([4, 3], { seed: 9 });
    const s1 = new tf.Session({ graph: g1 });
    const want = await s1.run([m.y, m.z, m.c, m.t], [[m.x, input]]);
    const bytes = encodeMessage('GraphDef', g1.toGraphDef());

    const g2 = new tf.Graph();
    const [x, y, z, c, t] = g2.asDefault(() => tf.importGraphDef(bytes, { returnElements: ['x:0', 'y:0', 'z:0', 'Cast:0', 'transpose:0'] })) as tf.Tensor[];
    expect(x!.name).toBe('import/x:0');
    expect(y!.shape).toEqual([null, 2]);
    const got = await new tf.Session({ graph: g2 }).run([y!, z!, c!, t!], [[x!, input]]);
    got.forEach((v, i) => {
      expect(v.dtype).toBe(want[i]!.dtype);
      expect(v.shape).toEqual(want[i]!.shape);
      expect(Array.from(v.data as ArrayLike<number>)).toEqual(Array.from(want[i]!.data as ArrayLike<number>));
    });
    // Exported again, the imported graph is the same GraphDef under the prefix.
    const again = g2.toGraphDef();
    const strip = (gd: GraphDef): NodeDef[] =>
      gd.node!.map((n) => ({ ...n, name: n.name!.replace(/^import\//, ''), input: (n.input ?? []).map((s) => s.replace(/^(\^?)import\//, '$1')) }));
    expect(encodeMessage('GraphDef', { node: strip(again) })).toEqual(encodeMessage('GraphDef', { node: g1.toGraphDef().node }));
  });

  it('round-trips a training graph (conv, dense, Adam, summaries): same losses step by step', async () => {
    const g1 = new tf.Graph();
    const names = g1.asDefault(() => {
      tf.setRandomSeed(7);
      const x = tf.placeholder('float32', [null, 6, 6, 1], 'x');
      const y = tf.placeholder('int32', [null], 'y');
      const c = tf.layers.conv2d(x, 3, 3, { activation: tf.nn.relu });
      const f = tf.reshape(tf.layers.maxPooling2d(c, 2, 2), [-1, 2 * 2 * 3]);
      const logits = tf.layers.dense(f, 4);
      const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }), undefined, false, 'loss');
      const train = new tf.train.AdamOptimizer(0.05).minimize(loss, { name: 'train' });
      tf.summary.scalar('loss', loss);
      return { init: tf.globalVariablesInitializer().name, train: train.name, loss: loss.name };
    });
    const g2 = new tf.Graph();
    tf.importGraphDef(encodeMessage('GraphDef', g1.toGraphDef()), { graph: g2, name: '' });
    expect(g2.numOps).toBe(g1.numOps);
    const xs = randomArray([5, 6, 6, 1], { seed: 1 });
    const ys = new tf.NDArray(Int32Array.from([0, 1, 2, 3, 1]), [5]);
    const losses: number[][] = [];
    for (const g of [g1, g2]) {
      const sess = new tf.Session({ graph: g });
      await sess.run(names.init);
      const ls: number[] = [];
      for (let step = 0; step < 4; step++) {
        const [l] = await sess.run([names.loss, names.train], [['x:0', xs], ['y:0', ys]]);
        ls.push(l!.scalar() as number);
      }
      losses.push(ls);
    }
    expect(losses[1]).toEqual(losses[0]);
    expect(losses[0]![3]!).toBeLessThan(losses[0]![0]!);
  });

  it('accepts nodes in any order (topological sort) and reports cycles', async () => {
    const g1 = new tf.Graph();
    const m = buildModel(g1);
    const gd = g1.toGraphDef();
    const r = rng(5);
    const shuffled = [...gd.node!];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const g2 = new tf.Graph();
    const [y] = tf.importGraphDef({ node: shuffled }, { graph: g2, name: '', returnElements: ['y:0'] }) as tf.Tensor[];
    const input = randomArray([2, 3], { seed: 1 });
    const want = await new tf.Session({ graph: g1 }).run(m.y, [[m.x, input]]);
    const got = await new tf.Session({ graph: g2 }).run(y!, [['x:0', input]]);
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));

    const cyclic: GraphDef = {
      node: [
        { name: 'c', op: 'Const', attr: { dtype: { type: 1 }, value: { tensor: { dtype: 1, tensor_shape: {}, float_val: [1] } } } },
        { name: 'a', op: 'Identity', input: ['b'], attr: { T: { type: 1 } } },
        { name: 'b', op: 'Identity', input: ['a', '^c'], attr: { T: { type: 1 } } },
      ],
    };
    expect(() => tf.importGraphDef(cyclic, { graph: new tf.Graph() })).toThrow(/not a DAG: nodes '(a|b)', '(a|b)' form a cycle/);
    expect(() => tf.importGraphDef({ node: [{ name: 'a', op: 'Identity', input: ['zz'], attr: { T: { type: 1 } } }] }, { graph: new tf.Graph() })).toThrow(
      /Unknown input node 'zz'/,
    );
    expect(() =>
      tf.importGraphDef({ node: [cyclic.node![0]!, { name: 'i', op: 'Identity', input: ['c:3'], attr: { T: { type: 1 } } }] }, { graph: new tf.Graph() }),
    ).toThrow(/invalid output 3 of source node c/);
    expect(() => tf.importGraphDef({ node: [cyclic.node![0]!, cyclic.node![0]!] }, { graph: new tf.Graph() })).toThrow(/Duplicate node name/);
  });

  it('imports a very long chain without running out of stack', () => {
    const nodes: NodeDef[] = [{ name: 'n0', op: 'Const', attr: { dtype: { type: 1 }, value: { tensor: { dtype: 1, tensor_shape: {}, float_val: [1] } } } }];
    // graphlib's recursive topsort overflows the stack beyond ~5000 levels; the import falls back to Kahn's algorithm.
    for (let i = 1; i < 8000; i++) nodes.push({ name: `n${i}`, op: 'Identity', input: [`n${i - 1}`], attr: { T: { type: 1 } } });
    const g = new tf.Graph();
    const [last] = tf.importGraphDef({ node: nodes.reverse() }, { graph: g, returnElements: ['n7999:0'] }) as tf.Tensor[];
    expect(last!.name).toBe('import/n7999:0');
    expect(g.numOps).toBe(8000);
    expect(g.getOperations()[0]!.name).toBe('import/n0');
  });

  it('maps inputs, returns elements, and prefixes names uniquely', async () => {
    const g1 = new tf.Graph();
    buildModel(g1);
    const gd = g1.toGraphDef();
    const g2 = new tf.Graph();
    const feed = g2.asDefault(() => tf.constant(randomArray([2, 3], { seed: 3 }), 'float32', undefined, 'feed'));
    const [y1, op] = tf.importGraphDef(gd, { graph: g2, inputMap: { x: feed }, returnElements: ['y:0', 'MatMul'] });
    expect(op).toBeInstanceOf(tf.Operation);
    expect((op as tf.Operation).name).toBe('import/MatMul');
    expect((op as tf.Operation).inputs[0]).toBe(feed);
    const [y2] = tf.importGraphDef(gd, { graph: g2, inputMap: { 'x:0': feed }, returnElements: ['y:0'] });
    expect((y2 as tf.Tensor).name).toBe('import_1/y:0');
    const [y3] = tf.importGraphDef(gd, { graph: g2, name: 'net', returnElements: ['y:0'] });
    expect((y3 as tf.Tensor).name).toBe('net/y:0');
    const sess = new tf.Session({ graph: g2 });
    const [a, b] = await sess.run([y1 as tf.Tensor, y2 as tf.Tensor]);
    expect(a!.toArray()).toEqual(b!.toArray());
    expect(() => tf.importGraphDef(gd, { graph: g2, inputMap: { nope: feed } })).toThrow(/not found in graph_def/);
    expect(() => tf.importGraphDef(gd, { graph: g2, name: '' })).not.toThrow();
    expect(() => tf.importGraphDef(gd, { graph: g2, name: '' })).toThrow(/already exists/);
    expect(() => tf.importGraphDef(gd, { graph: g2, returnElements: ['y:7'] })).toThrow(/output 7/);
  });

  it('imports op types weir does not implement; running them is an UnimplementedError, the rest runs', async () => {
    const gd: GraphDef = {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 1 }, shape: { shape: { dim: [{ size: 2 }] } } } },
        // An op weir has no definition for: outputs from its attrs and the references to it.
        { name: 'weird', op: 'FancyTransform', input: ['x'], attr: { T: { type: 1 }, mode: { s: new TextEncoder().encode('fast') } } },
        { name: 'uses', op: 'Identity', input: ['weird:1'], attr: { T: { type: 1 } } },
        { name: 'ok', op: 'Neg', input: ['x'], attr: { T: { type: 1 } } },
        // Known TF ops from the built-in table (RestoreV2 outputs follow its dtypes list).
        { name: 'names', op: 'Const', attr: { dtype: { type: 7 }, value: { tensor: { dtype: 7, tensor_shape: { dim: [{ size: 2 }] }, string_val: [new Uint8Array([97]), new Uint8Array([98])] } } } },
        { name: 'restore', op: 'RestoreV2', input: ['names', 'names', 'names'], attr: { dtypes: { list: { type: [1, 9] } } } },
      ],
    };
    const g = new tf.Graph();
    tf.importGraphDef(gd, { graph: g, name: '' });
    expect(g.getOperationByName('weird').outputs.map((t) => t.dtype)).toEqual(['float32', 'float32']);
    expect(g.getOperationByName('restore').outputs.map((t) => t.dtype)).toEqual(['float32', 'int64']);
    const sess = new tf.Session({ graph: g });
    expect((await sess.run('ok:0', [['x:0', [1, -2]]]))!.toArray()).toEqual([-1, 2]);
    await expect(sess.run('uses:0', [['x:0', [1, -2]]])).rejects.toThrow(tf.errors.UnimplementedError);
    await expect(sess.run('uses:0', [['x:0', [1, -2]]])).rejects.toThrow(/op type 'FancyTransform'/);
    // Exported again, the unknown node keeps its attrs exactly.
    expect(encodeMessage('NodeDef', node(g.toGraphDef(), 'weird'))).toEqual(encodeMessage('NodeDef', gd.node![1]!));
    // An unknown op whose output dtype cannot be told.
    expect(() =>
      tf.importGraphDef({ node: [gd.node![0]!, { name: 'm', op: 'Mystery', input: ['x'] }, { name: 'u', op: 'Identity', input: ['m'], attr: { T: { type: 1 } } }] }, { graph: new tf.Graph() }),
    ).toThrow(/cannot tell the dtype of its output 0/);
    // Types weir lacks are an error naming the node where the op would run on them.
    expect(() => tf.importGraphDef({ node: [{ name: 'd', op: 'Placeholder', attr: { dtype: { type: 2 }, shape: { shape: {} } } }] }, { graph: new tf.Graph() })).toThrow(
      /Node 'd' \(Placeholder\) attr 'dtype' has dtype DT_DOUBLE/,
    );
  });

  it("imports the fixture's GraphDef and writes it back out unchanged", () => {
    const sm = decodeMessage('SavedModel', new Uint8Array(readFileSync(`${FIXTURE}/saved_model.pb`)));
    const mg = sm.meta_graphs![0]!;
    const g = new tf.Graph();
    tf.importGraphDef(mg.graph_def!, { graph: g, name: '', opList: mg.meta_info_def!.stripped_op_list!.op });
    const out = g.toGraphDef();
    const byName = new Map(out.node!.map((n) => [n.name!, n]));
    expect(byName.size).toBe(mg.graph_def!.node!.length);
    for (const n of mg.graph_def!.node!) {
      expect(encodeMessage('NodeDef', byName.get(n.name!)!), n.name).toEqual(encodeMessage('NodeDef', n));
    }
    // ParseExample (not implemented by weir) got its four outputs from the producer's OpDef.
    const pe = g.getOperationByName('ParseExample/ParseExample');
    expect(pe.outputs.map((t) => t.dtype)).toEqual(['float32']);
    expect(pe.outputs[0]!.shape).toEqual([null, 1]);
  });

  it('reads GraphDefs in text format', () => {
    const gd = fromTextFormat(
      'GraphDef',
      `node { name: "a" op: "Const" attr { key: "dtype" value { type: DT_INT32 } }
              attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 3 } } int_val: [1, 2, 3] } } } }
       node { name: "b" op: "Neg" input: "a" attr { key: "T" value { type: DT_INT32 } } }
       versions { producer: 27 }`,
    );
    const g = new tf.Graph();
    const [b] = tf.importGraphDef(gd, { graph: g, returnElements: ['b:0'] }) as tf.Tensor[];
    return new tf.Session({ graph: g }).run(b!).then((v) => expect(v.toArray()).toEqual([-1, -2, -3]));
  });
});

describe("TF1 op types (ops/compat.ts)", () => {
  it("'Add' adds numbers like AddV2 and concatenates strings, with broadcasting", async () => {
    const g = new tf.Graph();
    const { num, ref, str } = g.asDefault(() => {
      const a = tf.constant(randomArray([2, 3], { seed: 1 }));
      const b = tf.constant(randomArray([3], { seed: 2 }));
      const add = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => g.createOp('Add', [x, y], { T: x.dtype }).outputs[0]!;
      return {
        num: add(a, b),
        ref: tf.add(a, b),
        str: add(tf.constant([['a', 'b'], ['c', 'd']], 'string'), tf.constant(['1', '22'], 'string')),
      };
    });
    const sess = new tf.Session({ graph: g });
    const [n, r, s] = await sess.run([num, ref, str]);
    expect(Array.from(n!.data as Float32Array)).toEqual(Array.from(r!.data as Float32Array));
    // Oracle: JS string concatenation.
    expect(s!.toArray()).toEqual([['a1', 'b22'], ['c1', 'd22']]);
    expect(() => g.asDefault(() => g.createOp('Add', [num, tf.constant([1, 2], 'float32')], { T: 'float32' }))).toThrow(/cannot be broadcast/);
  });
});
