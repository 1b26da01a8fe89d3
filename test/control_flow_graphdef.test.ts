// Functional control flow in GraphDefs: If/While bodies as FunctionDefs of the library (export and
// import round trips), TF1 frame ops rejected at import, and bodies drawn as DOT clusters.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { UnimplementedError } from '../src/core/errors.js';
import type { FunctionDefProto } from '../src/io/graph_def.js';
import { decodeMessage, encodeMessage, type GraphDef, type NodeDef } from '../src/io/proto.js';
import { fromTextFormat, toTextFormat } from '../src/io/text_format.js';
import { toDot } from '../passes/dot.js';
import { expectClose, fromTfjs, randomArray, tfjs } from './helpers.js';
import { toTfjsArtifacts } from './tfjs_graph_model.js';

type Build = () => { fetches: tf.Tensor[]; feeds?: [tf.Tensor, tf.NDArray][]; targets?: tf.Operation[] };

/** The graph's fetches run in weir, then the same fetches after export and import into a fresh graph. */
async function roundTrip(build: Build, opts: { asText?: boolean; name?: string } = {}) {
  const g = new tf.Graph();
  const { fetches, feeds = [], targets = [] } = g.asDefault(build);
  const gd = g.toGraphDef();
  const copy: GraphDef = opts.asText ? fromTextFormat('GraphDef', toTextFormat('GraphDef', gd)) : decodeMessage('GraphDef', encodeMessage('GraphDef', gd));
  const g2 = new tf.Graph();
  const names = [...fetches.map((t) => t.name), ...feeds.map(([t]) => t.name), ...targets.map((o) => o.name)];
  const els = tf.importGraphDef(copy, { graph: g2, name: opts.name ?? '', returnElements: names });
  const fetches2 = els.slice(0, fetches.length) as tf.Tensor[];
  const feeds2 = els.slice(fetches.length, fetches.length + feeds.length) as tf.Tensor[];
  const targets2 = els.slice(fetches.length + feeds.length) as tf.Operation[];
  const run = async (graph: tf.Graph, f: tf.Tensor[], ph: tf.Tensor[], tg: tf.Operation[]) => {
    const sess = new tf.Session({ graph });
    for (const t of tg) await sess.run(t);
    return (await sess.run(f, new Map(ph.map((p, i) => [p, feeds[i]![1]])))) as tf.NDArray[];
  };
  const want = await run(g, fetches, feeds.map(([t]) => t), targets);
  const got = await run(g2, fetches2, feeds2, targets2);
  expect(got.length).toBe(want.length);
  got.forEach((a, i) => {
    expect(a.dtype).toBe(want[i]!.dtype);
    expectClose(a, want[i]!, { atol: 0, rtol: 0, shape: [...want[i]!.shape] });
  });
  return { gd, g2, want };
}

const functions = (gd: GraphDef): FunctionDefProto[] => (gd.library?.function ?? []) as FunctionDefProto[];
const fn = (gd: GraphDef, name: string): FunctionDefProto => {
  const f = functions(gd).find((x) => x.signature?.name === name);
  if (!f) throw new Error(`no function ${name}`);
  return f;
};

describe('control flow round trips through GraphDef', () => {
  it('a while loop', async () => {
    const { want } = await roundTrip(() => ({
      fetches: [tf.whileLoop((i: tf.Tensor) => tf.less(i, 10), (i: tf.Tensor) => tf.add(i, 1), [tf.constant(0, 'int32')]) as unknown as tf.Tensor],
    }));
    expectClose(want[0]!, 10);
  });

  it('a loop over a fed value with a captured tensor and a shape that varies (text format too)', async () => {
    const x = randomArray([3], { seed: 3 });
    const build: Build = () => {
      const p = tf.placeholder('float32', [3], 'p');
      const scale = tf.constant(0.5, 'float32', undefined, 'scale');
      const [, acc, grown] = tf.whileLoop(
        (i: tf.Tensor) => tf.less(i, 4),
        (i: tf.Tensor, a: tf.Tensor, s: tf.Tensor) => [tf.add(i, 1), tf.add(tf.multiply(a, scale), p), tf.concat([s, tf.reshape(tf.cast(i, 'float32'), [1])], 0)],
        [tf.constant(0, 'int32'), tf.zeros([3]), tf.zeros([0])],
        { shapeInvariants: [[], [3], [null]] },
      ) as tf.Tensor[];
      return { fetches: [acc!, grown!], feeds: [[p, x]] };
    };
    await roundTrip(build);
    const { want } = await roundTrip(build, { asText: true, name: 'imported' });
    expectClose(want[1]!, [0, 1, 2, 3]);
  });

  it('nested loops and a cond inside a loop', async () => {
    const { gd, want } = await roundTrip(() => {
      const x = tf.constant([1, 2, 3], 'float32', undefined, 'x');
      const [, total] = tf.whileLoop(
        (i: tf.Tensor) => tf.less(i, 3),
        (i: tf.Tensor, t: tf.Tensor) => {
          const inner = tf.whileLoop(
            (j: tf.Tensor) => tf.less(j, i),
            (j: tf.Tensor, u: tf.Tensor) => [tf.add(j, 1), tf.add(u, tf.cond(tf.equal(tf.floorMod(j, 2), 0), () => x, () => tf.negative(x)))],
            [tf.constant(0, 'int32'), t],
          ) as tf.Tensor[];
          return [tf.add(i, 1), tf.cond(tf.greater(i, 1), () => tf.multiply(inner[1]!, 2), () => inner[1]!)];
        },
        [tf.constant(0, 'int32'), tf.zeros([3])],
      ) as tf.Tensor[];
      return { fetches: [total!] };
    });
    // i=0: no inner iteration; i=1: +x; i=2: (x + x - x) * 2.
    expectClose(want[0]!, [2, 4, 6]);
    // The nested loop and conds are functions of the same library, named by the ops holding them.
    const names = functions(gd).map((f) => f.signature!.name!);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => /_then_branch_\d+$/.test(n)).length).toBe(2);
    expect(names.filter((n) => /^while_body_\d+$/.test(n)).length).toBe(2); // the outer loop's, and the inner one's (op 'while' in the body)
  });

  it('tf.case, tf.cond with several outputs', async () => {
    await roundTrip(() => {
      const k = tf.placeholder('int32', [], 'k');
      const a = tf.constant([[1, 2], [3, 4]], 'float32');
      const r = tf.case(
        [
          [tf.equal(k, 0), () => tf.add(a, 1)],
          [tf.equal(k, 1), () => tf.matmul(a, a)],
        ],
        { default: () => tf.zerosLike(a) },
      );
      const [s, t] = tf.cond(tf.less(k, 1), () => [tf.reduceSum(a), tf.constant(1, 'int32')], () => [tf.reduceMax(a), k]) as tf.Tensor[];
      return { fetches: [r, s!, t!], feeds: [[k, tf.NDArray.from(1, 'int32')]] };
    });
  });

  it('TensorArrays and scan, mapFn and foldl (variant loop variables)', async () => {
    const elems = randomArray([5, 2], { seed: 8 });
    const { gd } = await roundTrip(() => {
      const e = tf.constant(elems, 'float32', undefined, 'elems');
      const sc = tf.scan((acc: tf.Tensor, x: tf.Tensor) => tf.add(tf.multiply(acc, 0.5), x), e);
      const mp = tf.mapFn((x: tf.Tensor) => tf.reduceSum(tf.square(x)), e);
      const fl = tf.foldl((acc: tf.Tensor, x: tf.Tensor) => tf.add(acc, x), e);
      const ta = new tf.TensorArray('float32', { size: 3 });
      const [, filled] = tf.whileLoop((i: tf.Tensor) => tf.less(i, 3), (i: tf.Tensor, a: tf.TensorArray) => [tf.add(i, 1), a.write(i, tf.multiply(tf.cast(i, 'float32'), 2))], [tf.constant(0, 'int32'), ta]) as [tf.Tensor, tf.TensorArray];
      return { fetches: [sc, mp, fl, filled.stack()] };
    });
    const variantArgs = functions(gd).flatMap((f) => f.signature!.input_arg!.filter((a) => a.type === 21));
    expect(variantArgs.length).toBeGreaterThan(0);
  });

  it('loops that assign variables, imported under a prefix', async () => {
    let v!: tf.Variable;
    const { g2 } = await roundTrip(
      () => {
        v = new tf.Variable(tf.constant(1, 'float32'), { name: 'v' });
        const init = tf.globalVariablesInitializer();
        const r = tf.whileLoop((i: tf.Tensor) => tf.less(i, 3), (i: tf.Tensor) => tf.controlDependencies([tf.assignAdd(v, 2)], () => tf.add(i, 1)), [
          tf.constant(0, 'int32'),
        ]) as unknown as tf.Tensor;
        return { fetches: [r], targets: [init] };
      },
      { name: 'imported' },
    );
    // The body's variable names the renamed outer variable.
    const loop = g2.getOperations().find((op) => op.type === 'While')!;
    const body = loop.attrs.body as tf.Graph;
    const proxy = body.getOperations().find((op) => op.type === 'VariableV2')!;
    expect(proxy.attrs.shared_name).toBe('imported/v');
    expect(v).toBeDefined();
  });
});

describe('control flow in the exported GraphDef', () => {
  const build = () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2], 'x');
      const r = tf.whileLoop((i: tf.Tensor) => tf.less(i, 5), (i: tf.Tensor, s: tf.Tensor) => [tf.add(i, 1), tf.cond(tf.less(i, 2), () => tf.add(s, x), () => s)], [tf.constant(0, 'int32'), tf.zeros([2])]);
      return r;
    });
    return g;
  };

  it('writes each body once as a FunctionDef, referenced by func attrs, with signatures matching the ops', () => {
    const g = build();
    const gd = g.toGraphDef();
    const lib = functions(gd);
    const names = lib.map((f) => f.signature!.name!);
    expect(new Set(names).size).toBe(names.length);
    const loop = gd.node!.find((n) => n.op === 'StatelessWhile')!;
    expect(loop).toBeDefined();
    const cond = fn(gd, loop.attr!.cond!.func!.name!);
    const body = fn(gd, loop.attr!.body!.func!.name!);
    expect(loop.attr!.cond!.func!.name).toMatch(/^while_cond_\d+$/);
    expect(loop.attr!.body!.func!.name).toMatch(/^while_body_\d+$/);
    const nIn = loop.input!.filter((s) => !s.startsWith('^')).length;
    expect(cond.signature!.input_arg!.length).toBe(nIn);
    expect(body.signature!.input_arg!.length).toBe(nIn);
    expect(cond.signature!.output_arg!.map((a) => a.type)).toEqual([10]); // DT_BOOL
    expect(body.signature!.output_arg!.length).toBe(nIn);
    expect(loop.attr!.T!.list!.type!).toEqual(body.signature!.input_arg!.map((a) => a.type));
    expect(loop.attr!.output_shapes!.list!.shape!.length).toBe(nIn);
    expect(loop.attr!._num_original_outputs!.i).toBe(nIn);
    expect(loop.attr!.parallel_iterations!.i).toBe(10);

    // The cond inside the body: a function of the same library.
    const ifNode = body.node_def!.find((n) => n.op === 'StatelessIf')!;
    const thenFn = fn(gd, ifNode.attr!.then_branch!.func!.name!);
    const elseFn = fn(gd, ifNode.attr!.else_branch!.func!.name!);
    for (const branch of [thenFn, elseFn]) {
      expect(branch.signature!.input_arg!.length).toBe(ifNode.input!.length - 1);
      expect(branch.signature!.output_arg!.length).toBe(ifNode.attr!.Tout!.list!.type!.length);
    }
    expect(ifNode.attr!.Tin!.list!.type!.length).toBe(ifNode.input!.length - 1);
    expect(lib.length).toBe(4);

    // Inputs inside bodies: an argument's name, or node:output_name:index; ret likewise.
    const argNames = new Set(body.signature!.input_arg!.map((a) => a.name));
    const nodeNames = new Set(body.node_def!.map((n) => n.name));
    for (const n of body.node_def!) {
      for (const s of n.input ?? []) {
        if (s.startsWith('^')) expect(nodeNames.has(s.slice(1))).toBe(true);
        else if (!s.includes(':')) expect(argNames.has(s)).toBe(true);
        else expect(s).toMatch(/^[^:]+:[a-z_]+:\d+$/);
      }
    }
    const add = body.node_def!.find((n) => n.op === 'AddV2' && n.input!.some((s) => s === 'loop_counter'))!;
    expect(add.input).toEqual(['loop_counter', `${add.input![1]!.split(':')[0]}:output:0`]);
    expect(Object.values(body.ret!)).toContain(`${add.name}:z:0`);
    expect(Object.keys(body.ret!).sort()).toEqual(body.signature!.output_arg!.map((a) => a.name).sort());
    expect(body.node_def!.some((n) => n.op === 'Placeholder')).toBe(false);
  });

  it('keeps imported function names when written again', () => {
    const gd = build().toGraphDef();
    const g2 = new tf.Graph();
    tf.importGraphDef(gd, { graph: g2, name: '' });
    const again = g2.toGraphDef();
    expect(functions(again).map((f) => f.signature!.name).sort()).toEqual(functions(gd).map((f) => f.signature!.name).sort());
    const loop = (d: GraphDef): NodeDef => d.node!.find((n) => n.op === 'StatelessWhile')!;
    expect(loop(again).attr!.body).toEqual(loop(gd).attr!.body);
  });

  it('rejects a func attr naming a function missing from the library, or one with the wrong signature', () => {
    const gd = build().toGraphDef();
    const missing: GraphDef = { ...gd, library: { function: functions(gd).filter((f) => !/while_body/.test(f.signature!.name!)) } };
    expect(() => tf.importGraphDef(missing, { graph: new tf.Graph() })).toThrow(/not in the GraphDef's library/);
    const lib = structuredClone(functions(gd));
    lib.find((f) => /while_body/.test(f.signature!.name!))!.signature!.input_arg!.push({ name: 'extra', type: 1 });
    expect(() => tf.importGraphDef({ ...gd, library: { function: lib } }, { graph: new tf.Graph() })).toThrow(/takes .* but the op passes/);
  });
});

describe('TF1 frame ops', () => {
  it('are rejected at import with UnimplementedError naming them', () => {
    const gd: GraphDef = {
      node: [
        { name: 'c', op: 'Const', attr: { dtype: { type: 3 }, value: { tensor: { dtype: 3, tensor_shape: {}, int_val: [0] } } } },
        { name: 'while/Enter', op: 'Enter', input: ['c'], attr: { T: { type: 3 }, frame_name: { s: new TextEncoder().encode('while') } } },
        { name: 'while/Merge', op: 'Merge', input: ['while/Enter', 'while/NextIteration'], attr: { T: { type: 3 }, N: { i: 2 } } },
        { name: 'while/Switch', op: 'Switch', input: ['while/Merge', 'while/LoopCond'], attr: { T: { type: 3 } } },
        { name: 'while/LoopCond', op: 'LoopCond', input: ['c'] },
        { name: 'while/NextIteration', op: 'NextIteration', input: ['while/Switch:1'], attr: { T: { type: 3 } } },
        { name: 'while/Exit', op: 'Exit', input: ['while/Switch'], attr: { T: { type: 3 } } },
      ],
    };
    let err: unknown;
    try {
      tf.importGraphDef(gd, { graph: new tf.Graph() });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnimplementedError);
    const msg = (err as Error).message;
    for (const op of ['Enter', 'Exit', 'LoopCond', 'Merge', 'NextIteration', 'Switch']) expect(msg).toContain(op);
    expect(msg).toContain('tf.compat.v1.enable_control_flow_v2()');
    expect(msg).toContain("'while/Enter'");
  });

  it('are found inside library functions too', () => {
    const gd: GraphDef = { node: [], library: { function: [{ signature: { name: 'f' }, node_def: [{ name: 'm', op: 'RefMerge' }] }] } };
    expect(() => tf.importGraphDef(gd, { graph: new tf.Graph() })).toThrow(UnimplementedError);
  });
});

describe('toDot', () => {
  it('draws control-flow bodies as clusters next to their ops, recursively', () => {
    const g = new tf.Graph();
    g.asDefault(() =>
      tf.whileLoop((i: tf.Tensor) => tf.less(i, 3), (i: tf.Tensor) => tf.cond(tf.less(i, 1), () => tf.add(i, 1), () => tf.add(i, 2)), [tf.constant(0, 'int32')]),
    );
    const dot = toDot(g);
    expect(dot).toMatch(/subgraph cluster_while_cond_\d+ \{/);
    expect(dot).toMatch(/subgraph cluster_while_body_\d+ \{/);
    expect(dot).toMatch(/subgraph cluster_cond_then_branch_\d+ \{/);
    expect(dot).toMatch(/subgraph cluster_cond_else_branch_\d+ \{/);
    expect(dot).toContain('label="while (StatelessWhile): body"');
    // The branches' clusters sit inside the body's.
    const body = dot.indexOf('subgraph cluster_while_body');
    const branch = dot.indexOf('subgraph cluster_cond_then_branch');
    expect(branch).toBeGreaterThan(body);
    expect(dot).toMatch(/lhead=cluster_while_body_\d+/);
    expect(dot.split('{').length).toBe(dot.split('}').length);
    // And the same after a round trip through a GraphDef (what `weir dot` draws).
    const g2 = new tf.Graph();
    tf.importGraphDef(g.toGraphDef(), { graph: g2, name: '' });
    expect(toDot(g2)).toMatch(/subgraph cluster_cond_else_branch_\d+ \{/);
  });
});


describe('TensorFlow.js runs the exported StatelessWhile / StatelessIf', () => {
  it('a loop with a cond in its body, and a scan over TensorLists, as weir does', async () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => {
      const x = tf.placeholder('float32', [3], 'x');
      const sc = tf.scan((a: tf.Tensor, e: tf.Tensor) => tf.add(tf.multiply(a, 0.5), e), tf.reshape(x, [3, 1]));
      tf.identity(sc, 'scan_out');
      const [, s] = tf.whileLoop(
        (i: tf.Tensor) => tf.less(i, 4),
        (i: tf.Tensor, s: tf.Tensor) => [tf.add(i, 1), tf.cond(tf.less(i, 2), () => tf.add(s, x), () => tf.multiply(s, 2))],
        [tf.constant(0, 'int32'), tf.zeros([3])],
      ) as tf.Tensor[];
      tf.identity(s!, 'loop_out');
      return x;
    });
    const xv = randomArray([3], { seed: 11 });
    const sess = new tf.Session({ graph: g });
    const want = (await sess.run([g.getTensorByName('loop_out:0'), g.getTensorByName('scan_out:0')], new Map([[x, xv]]))) as unknown as tf.NDArray[];

    const core = await tfjs();
    const { loadGraphModelSync } = await import('@tensorflow/tfjs-converter');
    const model = loadGraphModelSync(toTfjsArtifacts(g.toGraphDef()) as Parameters<typeof loadGraphModelSync>[0]);
    const feed = core.tensor(Array.from(xv.data as Float32Array), [3], 'float32');
    for (const [k, name] of ['loop_out', 'scan_out'].entries()) {
      const out = (await model.executeAsync({ x: feed }, name)) as import('@tensorflow/tfjs-core').Tensor;
      expectClose(await fromTfjs(out), want[k]!, { atol: 1e-6, shape: [...want[k]!.shape] });
      out.dispose();
    }
    feed.dispose();
    model.dispose();
  });
});
