// TF1's resource TensorArray ops (TensorArrayV3 and friends): values against what TF's kernels
// give (worked out in each test from the ops' documented semantics), TF's error cases, gradients by
// finite differences, a GraphDef written as TensorFlow writes one (DT_RESOURCE handle, float flow)
// imported and run, and the same GraphDef run by TensorFlow.js's converter. Under
// WEIR_BACKEND=webgpu the same tests run the WebGPU backend against the same expectations.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { InvalidArgumentError, UnimplementedError } from '../src/core/errors.js';
import { strippedOpList, type FunctionDefProto } from '../src/io/graph_def.js';
import { DT, decodeMessage, encodeMessage, type AttrValueProto, type GraphDef, type NodeDef } from '../src/io/proto.js';
import { tensorToProto } from '../src/io/tensor_proto.js';
import { checkGradients } from './gradcheck.js';
import { TA, i32, op, tensorArrayV3GradCases } from './gradcases/tensor_array_v3.js';
import { expectClose, fromTfjs, randomArray, tfjs } from './helpers.js';
import { checkAgainstTfjsOpList, toTfjsArtifacts } from './tfjs_graph_model.js';

type T = tf.Tensor;

const f32 = (v: number[], shape: number[]) => new tf.NDArray(Float32Array.from(v), shape);

async function build<R>(fn: () => R): Promise<[tf.Session, R]> {
  const g = new tf.Graph();
  const r = g.asDefault(fn);
  return [new tf.Session({ graph: g }), r];
}

/** Rows of a [n, ...] array as plain arrays. */
function rows(a: tf.NDArray): number[][] {
  const n = a.shape[0]!;
  const w = a.size / n;
  const d = Array.from(a.data as Float32Array);
  return Array.from({ length: n }, (_, i) => d.slice(i * w, (i + 1) * w));
}

describe('TensorArrayV3 values', () => {
  const X = f32([1, 2, 3, 4, 5, 6], [3, 2]);

  it('write then read, gather, concat and size (clear_after_read false: reads repeat)', async () => {
    const [sess, r] = await build(() => {
      const x = tf.placeholder('float32', [3, 2], 'x');
      const rowsOf = tf.unstack(x);
      const ta = TA.make(3, { clear_after_read: false })
        .write(2, rowsOf[0]!)
        .write(0, rowsOf[1]!)
        .write(1, tf.multiply(rowsOf[2]!, tf.constant(10)));
      const [c, lengths] = ta.concat();
      return { x, r2: ta.read(2), r2again: ta.read(2), g: ta.gather([1, 2, 1], [2]), c, lengths, n: ta.size() };
    });
    const [r2, again, g, c, lengths, n] = (await sess.run([r.r2, r.r2again, r.g, r.c, r.lengths, r.n], [[r.x, X]]));
    const [a, b, cc] = rows(X) as [number[], number[], number[]];
    // TF: the array holds [b, 10c, a]; gather picks indices in order; concat joins along axis 0.
    const held = [b, cc.map((v) => v * 10), a];
    expectClose(r2!, a, { shape: [2] });
    expectClose(again!, a, { shape: [2] });
    expectClose(g!, [...held[1]!, ...held[2]!, ...held[1]!], { shape: [3, 2] });
    expectClose(c!, held.flat(), { shape: [6] });
    expect(Array.from(lengths!.data as BigInt64Array, Number)).toEqual([2, 2, 2]);
    expect(lengths!.dtype).toBe('int64');
    expect(n!.data[0]).toBe(3);
    sess.close();
  });

  it('scatter then gather; split (uneven lengths) then concat with its lengths and reads of parts', async () => {
    const [sess, r] = await build(() => {
      const x = tf.placeholder('float32', [3, 2], 'x');
      const s = TA.make(4, { element_shape: [2] }).scatter([3, 0, 1], x);
      const y = tf.placeholder('float32', [5, 2], 'y');
      const sp = TA.make(3, { clear_after_read: false }).split(y, [2, 0, 3]);
      const [c, lengths] = sp.concat([2]);
      // Index 2 of the scattered array was never written; its element shape is known: zeros.
      return { x, y, g: s.gather([0, 2, 3]), c, lengths, part: sp.read(2), n: sp.size() };
    });
    const Y = f32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [5, 2]);
    const [g, c, lengths, part, n] = (await sess.run([r.g, r.c, r.lengths, r.part, r.n], [[r.x, X], [r.y, Y]]));
    const [a, b] = rows(X) as [number[], number[], number[]];
    expectClose(g!, [...b, 0, 0, ...a], { shape: [3, 2] });
    expectClose(c!, Y, { shape: [5, 2] });
    expect(Array.from(lengths!.data as BigInt64Array, Number)).toEqual([2, 0, 3]);
    expectClose(part!, [5, 6, 7, 8, 9, 10], { shape: [3, 2] });
    expect(n!.data[0]).toBe(3);
    sess.close();
  });

  it('dynamic_size grows on a write past the end; size is the current size; a new run starts a new array', async () => {
    const [sess, r] = await build(() => {
      const v = tf.placeholder('float32', [2], 'v');
      const ta = TA.make(0, { dynamic_size: true, element_shape: [2] });
      const before = ta.size();
      const w = ta.write(4, v);
      return { v, before, after: w.size(), all: w.gather([0, 1, 2, 3, 4], [2]) };
    });
    for (const k of [1, 2]) {
      const [before, after, all] = (await sess.run([r.before, r.after, r.all], [[r.v, f32([k, -k], [2])]]));
      expect(before!.data[0]).toBe(0);
      expect(after!.data[0]).toBe(5);
      expectClose(all!, [0, 0, 0, 0, 0, 0, 0, 0, k, -k], { shape: [5, 2] });
    }
    sess.close();
  });

  it('an empty gather or concat takes its shape from a full element shape', async () => {
    const [sess, r] = await build(() => {
      const ta = TA.make(0, { element_shape: [3] });
      return { g: ta.gather([], [3]), c: ta.concat([3])[0]!, n: ta.size() };
    });
    const [g, c] = (await sess.run([r.g, r.c]));
    expect(g!.shape).toEqual([0, 3]);
    expect(c!.shape).toEqual([0, 3]);
    sess.close();
  });

  it('identical_element_shapes fixes the element shape at the first write', async () => {
    const [sess, r] = await build(() => {
      const a = tf.placeholder('float32', null, 'a');
      const b = tf.placeholder('float32', null, 'b');
      const ta = TA.make(3, { identical_element_shapes: true }).write(0, a).write(1, b);
      return { a, b, g: ta.gather([0, 1, 2]) };
    });
    const [g] = (await sess.run([r.g], [[r.a, f32([1, 2], [2])], [r.b, f32([3, 4], [2])]]));
    expectClose(g!, [1, 2, 3, 4, 0, 0], { shape: [3, 2] });
    await expect(sess.run(r.g, [[r.a, f32([1, 2], [2])], [r.b, f32([3, 4, 5], [3])]])).rejects.toThrow(/value shape is \[3\] which is incompatible with the TensorArray's element shape: \[2\]/);
    sess.close();
  });
});

describe('TensorArrayV3 errors, as TF raises them', () => {
  const v2 = () => tf.constant(Float32Array.from([1, 2]), 'float32', [2]);
  const fails = async (fn: () => T | tf.Operation | (T | tf.Operation)[], message: RegExp) => {
    const [sess, fetch] = await build(fn);
    const err = await sess.run(fetch as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(message);
    sess.close();
  };

  it('reading an index never written, when the element shape is not fully known', () =>
    fails(() => TA.make(2).write(0, v2()).read(1), /Could not read from TensorArray index 1 because it has not yet been written to/));

  it('writing an index twice', () => fails(() => TA.make(2).write(0, v2()).write(0, v2()).flow, /Could not write to TensorArray index 0 because it has already been written to/));

  it('reading an index twice with clear_after_read (the default)', () =>
    fails(() => {
      const ta = TA.make(1).write(0, v2());
      return [ta.read(0), ta.read(0)];
    }, /Could not read index 0 twice because it was cleared after a previous read/));

  it('writing an index already read', () =>
    fails(() => {
      const ta = TA.make(2, { clear_after_read: false, element_shape: [2] });
      const r = ta.read(0);
      const afterRead = tf.getDefaultGraph().createOp('Identity', [ta.flow], { T: 'float32' }, { controlInputs: [r.op] }).outputs[0]!;
      return new TA(ta.handle, afterRead).write(0, v2()).flow;
    }, /Could not write to TensorArray index 0 because it has already been read/));

  it('writing past the end of a fixed-size array', () => fails(() => TA.make(2).write(2, v2()).flow, /Tried to write to index 2 but array is not resizeable and size is: 2/));

  it('reading past the end', () => fails(() => TA.make(2).write(0, v2()).read(5), /Tried to read from index 5 but array size is: 2/));

  it('any op on a closed array', () =>
    fails(() => {
      const ta = TA.make(2).write(0, v2());
      const closed = ta.close();
      const g = tf.getDefaultGraph();
      const flow = g.createOp('Identity', [ta.flow], { T: 'float32' }, { controlInputs: [closed] }).outputs[0]!;
      return new TA(ta.handle, flow).size();
    }, /has already been closed/));

  it('a scatter whose indices and rows disagree, or past a fixed size; a split whose lengths do not add up', async () => {
    const x = () => tf.constant(Float32Array.from([1, 2, 3, 4]), 'float32', [2, 2]);
    await fails(() => TA.make(5).scatter([0, 7], x()).flow, /Max index must be < array size \(7  vs. 5\)/);
    await fails(() => TA.make(2).split(x(), [1, 2]).flow, /sum of lengths is 3 and value's shape is: \[2,2\]/);
    await fails(() => TA.make(3).split(x(), [1, 1]).flow, /TensorArray's size is not equal to the size of lengths \(3 vs. 2\)/);
    const [sess, r] = await build(() => {
      const i = tf.placeholder('int32', [null], 'idx');
      return { i, s: TA.make(4).scatterAt(i, x()).flow };
    });
    await expect(sess.run(r.s, [[r.i, new tf.NDArray(Int32Array.from([0, 1, 2]), [3])]])).rejects.toThrow(/Expected len\(indices\) == values.shape\[0\], but saw: 3 vs. 2/);
    sess.close();
  });

  it('an empty gather without a full element shape; inconsistent element shapes', async () => {
    await fails(() => TA.make(0).gather([]), /has size zero, but element shape .* is not fully defined/);
    await fails(() => {
      const a = tf.constant(Float32Array.from([1, 2]), 'float32', [2]);
      const b = tf.constant(Float32Array.from([1, 2, 3]), 'float32', [3]);
      return TA.make(2).write(0, a).write(1, b).gather([0, 1]);
    }, /inconsistent shapes.*Index 0 has shape: \[2\] but index 1 has shape: \[3\]/);
  });

  it('dtype mismatches are caught while building', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const ta = TA.make(2);
      expect(() => op('TensorArrayWriteV3', [ta.handle, i32(0), i32(1), ta.flow], { T: 'float32' })).toThrow(/value .* is int32, but T is float32/);
      expect(() => op('TensorArrayReadV3', [ta.flow, i32(0), ta.flow], { dtype: 'float32' })).toThrow(/must be a TensorArray handle/);
      expect(() => op('TensorArrayReadV3', [ta.handle, i32(0), i32(0)], { dtype: 'float32' })).toThrow(/flow_in .* must be float32/);
      expect(() => op('TensorArrayV3', [i32(2)], {})).toThrow(/missing attr 'dtype'/);
      expect(() => op('TensorArrayV3', [i32([2])], { dtype: 'float32' })).toThrow(/size .* must be a scalar/);
    });
  });
});

describe('TensorArrayV3 gradients (finite differences)', () => {
  for (const c of tensorArrayV3GradCases) {
    it(`${c.ops.join('+')}: ${c.name}`, () => checkGradients(c));
  }

  it('each tf.gradients call gets a gradient array of its own (TensorArrayGradV3 by source)', async () => {
    const [sess, r] = await build(() => {
      const x = tf.placeholder('float32', [3], 'x');
      const y = TA.make(1).write(0, x).read(0, [3]);
      const [d1] = tf.gradients(tf.reduceSum(tf.multiply(y, tf.constant(2))), [x]);
      const [d2] = tf.gradients(tf.reduceSum(tf.multiply(y, tf.constant(3))), [x]);
      const sources = tf
        .getDefaultGraph()
        .getOperations()
        .filter((o) => o.type === 'TensorArrayGradV3')
        .map((o) => o.attrs.source);
      return { x, d1: d1!, d2: d2!, sources: [...new Set(sources)].sort() };
    });
    expect(r.sources).toEqual(['gradients', 'gradients_1']);
    const [d1, d2] = (await sess.run([r.d1, r.d2], [[r.x, f32([1, 2, 3], [3])]]));
    expectClose(d1!, [2, 2, 2]);
    expectClose(d2!, [3, 3, 3]);
    sess.close();
  });
});

// ---- GraphDefs as TensorFlow writes them ----

const attrType = (t: number): AttrValueProto => ({ type: t });
const bool = (b: boolean): AttrValueProto => ({ b });
const shape = (dims: number[] | null): AttrValueProto => ({ shape: dims === null ? { unknown_rank: true } : { dim: dims.map((size) => ({ size })) } });
const constNode = (name: string, v: tf.NDArray): NodeDef => ({ name, op: 'Const', attr: { dtype: attrType(v.dtype === 'int32' ? DT.DT_INT32 : v.dtype === 'int64' ? DT.DT_INT64 : DT.DT_FLOAT), value: { tensor: tensorToProto(v) } } });

/**
 * The GraphDef TF1's Python TensorArray writes for: ta = TensorArray(float32, size=3,
 * element_shape=[2]).scatter([2, 0, 1], x); r = ta.read(1); g = ta.gather([0, 2]); n = ta.size();
 * with its close. Attrs as TF writes them, handles untyped in NodeDefs (DT_RESOURCE in the OpDefs).
 */
function tfGraphDef(): GraphDef {
  return {
    versions: { producer: 27 },
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: attrType(DT.DT_FLOAT), shape: shape([3, 2]) } },
      constNode('TensorArray/size', tf.NDArray.from(3, 'int32')),
      {
        name: 'TensorArray',
        op: 'TensorArrayV3',
        input: ['TensorArray/size'],
        attr: {
          dtype: attrType(DT.DT_FLOAT),
          element_shape: shape([2]),
          dynamic_size: bool(false),
          clear_after_read: bool(true),
          identical_element_shapes: bool(true),
          tensor_array_name: { s: new Uint8Array(0) },
        },
      },
      constNode('TensorArrayScatter/indices', tf.NDArray.from(Int32Array.from([2, 0, 1]), 'int32', [3])),
      {
        name: 'TensorArrayScatter/TensorArrayScatterV3',
        op: 'TensorArrayScatterV3',
        input: ['TensorArray', 'TensorArrayScatter/indices', 'x', 'TensorArray:1'],
        attr: { T: attrType(DT.DT_FLOAT), _class: { list: { s: [new TextEncoder().encode('loc:@x')] } } },
      },
      constNode('TensorArrayReadV3/index', tf.NDArray.from(1, 'int32')),
      { name: 'TensorArrayReadV3', op: 'TensorArrayReadV3', input: ['TensorArray', 'TensorArrayReadV3/index', 'TensorArrayScatter/TensorArrayScatterV3'], attr: { dtype: attrType(DT.DT_FLOAT) } },
      constNode('TensorArrayGatherV3/indices', tf.NDArray.from(Int32Array.from([0, 2]), 'int32', [2])),
      {
        name: 'TensorArrayGatherV3',
        op: 'TensorArrayGatherV3',
        input: ['TensorArray', 'TensorArrayGatherV3/indices', 'TensorArrayScatter/TensorArrayScatterV3'],
        attr: { dtype: attrType(DT.DT_FLOAT), element_shape: shape([2]) },
      },
      { name: 'TensorArraySizeV3', op: 'TensorArraySizeV3', input: ['TensorArray', 'TensorArrayScatter/TensorArrayScatterV3'] },
      { name: 'TensorArrayCloseV3', op: 'TensorArrayCloseV3', input: ['TensorArray', '^TensorArrayReadV3', '^TensorArrayGatherV3', '^TensorArraySizeV3'] },
    ],
  };
}

describe('TensorArrayV3 in GraphDefs', () => {
  const X = f32([1, 2, 3, 4, 5, 6], [3, 2]);
  // TF: scatter puts x's rows at 2, 0, 1: the array is [row1, row2, row0].
  const want = { read: [5, 6], gather: [3, 4, 1, 2], size: 3 };

  it('a GraphDef as TensorFlow writes it imports and runs; it exports unchanged, its OpDefs with DT_RESOURCE handles', async () => {
    const gd = decodeMessage('GraphDef', encodeMessage('GraphDef', tfGraphDef()));
    const g = new tf.Graph();
    const [x, read, gather, size, close] = tf.importGraphDef(gd, {
      graph: g,
      name: '',
      returnElements: ['x:0', 'TensorArrayReadV3:0', 'TensorArrayGatherV3:0', 'TensorArraySizeV3:0', 'TensorArrayCloseV3'],
    }) as [T, T, T, T, tf.Operation];
    expect(gather.shape).toEqual([2, 2]);
    const sess = new tf.Session({ graph: g });
    const [r, ga, n] = (await sess.run([read, gather, size], [[x, X]]));
    expectClose(r!, want.read, { shape: [2] });
    expectClose(ga!, want.gather, { shape: [2, 2] });
    expect(n!.data[0]).toBe(want.size);
    await sess.run(close, [[x, X]]);
    sess.close();

    const out = g.toGraphDef();
    const byName = new Map((out.node ?? []).map((n) => [n.name!, n]));
    for (const n of tfGraphDef().node!) {
      if (n.op === 'Const') continue;
      const o = byName.get(n.name!)!;
      expect(o.op).toBe(n.op);
      expect(o.input).toEqual(n.input ?? []);
      expect(Object.keys(o.attr ?? {}).sort()).toEqual(Object.keys(n.attr ?? {}).sort());
    }
    const defs = new Map(strippedOpList(g, out).map((d) => [d.name, d]));
    const v3 = defs.get('TensorArrayV3')!;
    expect(v3.output_arg).toEqual([
      { name: 'handle', type: DT.DT_RESOURCE },
      { name: 'flow', type: DT.DT_FLOAT },
    ]);
    expect(v3.is_stateful).toBe(true);
    expect(defs.get('TensorArrayScatterV3')!.input_arg).toEqual([
      { name: 'handle', type: DT.DT_RESOURCE },
      { name: 'indices', type: DT.DT_INT32 },
      { name: 'value', type_attr: 'T' },
      { name: 'flow_in', type: DT.DT_FLOAT },
    ]);
    expect(defs.get('TensorArrayReadV3')!.is_stateful).toBeUndefined();
    expect(defs.get('TensorArrayCloseV3')!.output_arg).toEqual([]);
    expect(v3.attr!.find((a) => a.name === 'clear_after_read')!.default_value).toEqual({ b: true });
  });

  it('attrs left at their defaults (stripped by the producer) read as TF defines them', async () => {
    const gd = tfGraphDef();
    const ta = gd.node!.find((n) => n.op === 'TensorArrayV3')!;
    for (const k of ['dynamic_size', 'clear_after_read', 'identical_element_shapes', 'tensor_array_name']) delete ta.attr![k];
    // Without its element shape, the gather's result is shaped by the elements it finds.
    delete gd.node!.find((n) => n.op === 'TensorArrayGatherV3')!.attr!.element_shape;
    const g = new tf.Graph();
    const [x, read, gather] = tf.importGraphDef(gd, { graph: g, name: '', returnElements: ['x:0', 'TensorArrayReadV3:0', 'TensorArrayGatherV3:0'] }) as T[];
    const sess = new tf.Session({ graph: g });
    const [r, ga] = await sess.run([read!, gather!], [[x!, X]]);
    expectClose(r, want.read, { shape: [2] });
    expectClose(ga, want.gather, { shape: [2, 2] });
    // clear_after_read defaults to true: index 1, read by TensorArrayReadV3, cannot be gathered too.
    const after = g.asDefault(() => {
      const again = g.createOp('TensorArrayGatherV3', [gather!.op.inputs[0]!, i32([1]), gather!.op.inputs[2]!], { dtype: 'float32', element_shape: [2] }, { controlInputs: [read!.op] });
      return again.outputs[0]!;
    });
    await expect(sess.run([read!, after], [[x!, X]])).rejects.toThrow(/TensorArrayGatherV3.*Could not read index 1 twice/);
    sess.close();
  });

  it("TensorFlow.js's converter runs the same GraphDef to the same values", async () => {
    const gd = tfGraphDef();
    expect(checkAgainstTfjsOpList(gd).problems).toEqual([]);
    const core = await tfjs();
    const { loadGraphModelSync } = await import('@tensorflow/tfjs-converter');
    const model = loadGraphModelSync(toTfjsArtifacts(gd) as Parameters<typeof loadGraphModelSync>[0]);
    const xs = core.tensor(Array.from(X.data as Float32Array), [3, 2]);
    const outs = (await model.executeAsync({ x: xs }, ['TensorArrayReadV3', 'TensorArrayGatherV3', 'TensorArraySizeV3'])) as import('@tensorflow/tfjs-core').Tensor[];
    const results = await Promise.all(outs.map((t) => fromTfjs(t)));
    for (const t of outs) t.dispose();
    xs.dispose();
    model.dispose();

    const g = new tf.Graph();
    const [x, read, gather, size] = tf.importGraphDef(gd, { graph: g, name: '', returnElements: ['x:0', 'TensorArrayReadV3:0', 'TensorArrayGatherV3:0', 'TensorArraySizeV3:0'] }) as T[];
    const sess = new tf.Session({ graph: g });
    const mine = (await sess.run([read!, gather!, size!], [[x!, X]]));
    sess.close();
    expectClose(mine[0]!, results[0]!);
    expectClose(mine[1]!, results[1]!);
    expect(Number(mine[2]!.data[0])).toBe(Number(results[2]!.data[0]));
    expectClose(mine[1]!, want.gather);
  });

  it('a GraphDef that passes a TensorArray through TF1 loop frames is refused, saying why', () => {
    const gd = tfGraphDef();
    gd.node!.push({ name: 'while/Enter', op: 'Enter', input: ['TensorArray:1'], attr: { T: attrType(DT.DT_FLOAT), frame_name: { s: new TextEncoder().encode('while') } } });
    let err: unknown;
    try {
      tf.importGraphDef(gd, { graph: new tf.Graph() });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnimplementedError);
    expect((err as Error).message).toMatch(/TensorArray\*V3 ops run in weir outside loops only.*enable_control_flow_v2/);
  });

  it('a graph built in weir round-trips through GraphDef export and import', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder('float32', [4, 3], 'x');
      const ta = TA.make(2, { element_shape: [null, 3], clear_after_read: false }).split(x, [1, 3]);
      const [c, lengths] = ta.concat([3]);
      return { x, c, lengths, part: ta.read(1) };
    });
    const Xv = randomArray([4, 3], { seed: 9 });
    const gd = decodeMessage('GraphDef', encodeMessage('GraphDef', g.toGraphDef()));
    const g2 = new tf.Graph();
    const [x2, c2, l2, p2] = tf.importGraphDef(gd, { graph: g2, name: '', returnElements: [r.x.name, r.c.name, r.lengths.name, r.part.name] }) as T[];
    const s1 = new tf.Session({ graph: g });
    const s2 = new tf.Session({ graph: g2 });
    const a = (await s1.run([r.c, r.lengths, r.part], [[r.x, Xv]]));
    const b = (await s2.run([c2!, l2!, p2!], [[x2!, Xv]]));
    expectClose(a[0]!, Xv);
    expectClose(b[0]!, Xv);
    expect(Array.from(b[1]!.data as BigInt64Array, Number)).toEqual([1, 3]);
    expectClose(b[2]!, Array.from(Xv.data as Float32Array).slice(3), { shape: [3, 3] });
    s1.close();
    s2.close();
  });
});

describe('function bodies name the outputs of the TensorList ops added last (OUTPUT_ARG_NAMES)', () => {
  it('TensorListScatter, TensorListScatterV2, TensorListResize and TensorListConcat inside a cond branch round-trip', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder('float32', [3, 2], 'x');
      const p = tf.placeholder('bool', [], 'p');
      const es = tf.constant(Int32Array.from([2]), 'int32', [1]);
      const body = (sign: number) => () => {
        const xs = tf.multiply(x, tf.constant(sign));
        const l1 = op('TensorListScatter', [xs, i32([2, 0, 1]), es], { element_dtype: 'float32', shape_type: 'int32' })[0]!;
        const l2 = op('TensorListScatterV2', [xs, i32([0, 1, 2]), es, i32(4)], { element_dtype: 'float32', shape_type: 'int32' })[0]!;
        const l3 = op('TensorListResize', [l2, i32(2)], {})[0]!;
        const [c1, n1] = op('TensorListConcat', [l1], { element_dtype: 'float32', element_shape: [null] }) as [T, T];
        const [c3] = op('TensorListConcat', [l3], { element_dtype: 'float32', element_shape: [null] }) as [T, T];
        return [c1, tf.cast(n1, 'int32'), c3] as [T, T, T];
      };
      const [c1, n1, c3] = tf.cond(p, body(1), body(-1));
      return { x, p, c1: c1!, n1: n1!, c3: c3! };
    });
    const gd = g.toGraphDef();
    const fns = (gd.library?.function ?? []) as FunctionDefProto[];
    expect(fns.length).toBe(2);
    const refs = fns.flatMap((f) => [...(f.node_def ?? []).flatMap((n) => n.input ?? []), ...Object.values(f.ret ?? {})]);
    for (const [type, name] of [
      ['TensorListScatter', 'output_handle'],
      ['TensorListScatterV2', 'output_handle'],
      ['TensorListResize', 'output_handle'],
      ['TensorListConcat', 'tensor'],
      ['TensorListConcat', 'lengths'],
    ] as const) {
      expect(
        refs.some((s) => new RegExp(`^${type}(_\\d+)?:${name}:0$`).test(s)),
        `${type}:${name}`,
      ).toBe(true);
    }
    const copy = decodeMessage('GraphDef', encodeMessage('GraphDef', gd));
    const g2 = new tf.Graph();
    const names = [r.x.name, r.p.name, r.c1.name, r.n1.name, r.c3.name];
    const [x2, p2, c12, n12, c32] = tf.importGraphDef(copy, { graph: g2, name: '', returnElements: names }) as T[];
    const Xv = f32([1, 2, 3, 4, 5, 6], [3, 2]);
    for (const pv of [true, false]) {
      const s = pv ? 1 : -1;
      const s2 = new tf.Session({ graph: g2 });
      const [c1, n1, c3] = (await s2.run([c12!, n12!, c32!], [
        [x2!, Xv],
        [p2!, tf.NDArray.from(pv, 'bool')],
      ]));
      s2.close();
      // Scatter puts rows at 2, 0, 1: the list is [row1, row2, row0]; V2 keeps order with a 4th
      // element unset, and Resize(2) keeps the first two.
      expectClose(c1!, [3, 4, 5, 6, 1, 2].map((v) => v * s), { shape: [6] });
      expect(Array.from(n1!.data as Int32Array)).toEqual([2, 2, 2]);
      expectClose(c3!, [1, 2, 3, 4].map((v) => v * s), { shape: [4] });
    }
  });
});

describe('the default backend against the CPU (WebGPU under WEIR_BACKEND=webgpu)', () => {
  it('scatter, gather, split, concat, reads and their gradients agree', async () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder('float32', [4, 3], 'x');
      const s = TA.make(5, { element_shape: [3], clear_after_read: false }).scatter([4, 1, 0, 2], tf.tanh(x));
      const gathered = s.gather([2, 4, 3], [3]);
      const [c, lengths] = TA.make(2).split(x, [3, 1]).concat([3]);
      c.setShape([4, 3]);
      const y = tf.add(tf.reduceSum(tf.square(gathered)), tf.reduceSum(tf.multiply(c, s.read(1, [3]))));
      const [dx] = tf.gradients(y, [x]);
      return { x, fetches: [gathered, c, lengths, y, dx!] };
    });
    const X = randomArray([4, 3], { seed: 11 });
    const cpu = new tf.Session({ graph: g, backend: 'cpu' });
    const dflt = new tf.Session({ graph: g });
    expect(dflt.backend.name).toBe(process.env.WEIR_BACKEND || 'cpu');
    const want = await cpu.run(r.fetches, [[r.x, X]]);
    const got = await dflt.run(r.fetches, [[r.x, X]]);
    want.forEach((w, i) => {
      expect(got[i]!.dtype).toBe(w.dtype);
      expectClose(got[i]!, w, { atol: 1e-5, rtol: 1e-4 });
    });
    cpu.close();
    dflt.close();
  });
});
