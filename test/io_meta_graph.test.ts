// MetaGraphDef export and import: Saver.save's PREFIX.meta, tf.train.exportMetaGraph and
// tf.train.importMetaGraph. The .meta must be what TensorFlow's import_meta_graph needs: a saver_def
// naming real save/restore ops of the graph_def, VariableDefs in the variable collections, and the
// OpDefs of the ops used (checked here against the OpDefs TensorFlow wrote into the committed
// SavedModel fixture).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import * as tf from '../src/index.js';
import { tensorFromProto, tensorToProto } from '../src/io/tensor_proto.js';
import { decodeMessage, encodeMessage, type GraphDef, type MetaGraphDef, type NodeDef, type OpDefProto } from '../src/io/proto.js';

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'weir-meta-'));
  dirs.push(d);
  return d;
}
afterEach(() => vi.restoreAllMocks());
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const nodeOf = (gd: GraphDef, name: string): NodeDef => {
  const n = (gd.node ?? []).find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
};
const opName = (tensorName: string): string => tensorName.replace(/:\d+$/, '');
const variableNames = (mg: MetaGraphDef, key: string): string[] =>
  (mg.collection_def?.[key]?.bytes_list?.value ?? []).map((b) => (decodeMessage('VariableDef', b) as { variable_name?: string }).variable_name!);

/** Regression on fixed data: an MLP with Adam and a global step (minimize puts its op in train_op, as TF1's does) and a summary. */
function buildModel(g: tf.Graph) {
  return g.asDefault(() => {
    const x = tf.placeholder('float32', [null, 3], 'x');
    const y = tf.placeholder('float32', [null, 1], 'y');
    const h = tf.layers.dense(x, 6, { activation: tf.nn.tanh, name: 'hidden' });
    const out = tf.layers.dense(h, 1, { name: 'out' });
    const loss = tf.losses.meanSquaredError(y, out);
    const step = tf.train.getOrCreateGlobalStep();
    const train = new tf.train.AdamOptimizer(0.05).minimize(loss, { globalStep: step });
    tf.summary.scalar('loss', loss);
    return { x, y, loss, train, init: tf.globalVariablesInitializer() };
  });
}
const XS = Array.from({ length: 12 }, (_, i) => [Math.sin(i), Math.cos(0.6 * i), ((i * 5) % 7) / 7 - 0.5]);
const YS = XS.map((r) => [0.7 * r[0]! - 0.4 * r[1]! + r[2]! * r[0]!]);

async function steps(sess: tf.Session, loss: tf.Tensor | string, train: tf.Operation | string, xName: string, yName: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const [l] = await sess.run([loss, train], [[xName, XS], [yName, YS]]);
    out.push((l as tf.NDArray).data[0] as number);
  }
  return out;
}

describe('Saver.save writes PREFIX.meta', () => {
  it('with a saver_def naming the graph_def save and restore ops, as TensorFlow builds them', async () => {
    const dir = freshDir();
    const g = new tf.Graph();
    const m = buildModel(g);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const saver = g.asDefault(() => new tf.train.Saver({ maxToKeep: 3, keepCheckpointEveryNHours: 2 }));
    const prefix = await saver.save(sess, `${dir}/model.ckpt`, { globalStep: 7 });
    expect(readdirSync(dir).sort()).toEqual(['checkpoint', 'model.ckpt-7.data-00000-of-00001', 'model.ckpt-7.index', 'model.ckpt-7.meta']);
    const mg = decodeMessage('MetaGraphDef', readFileSync(`${prefix}.meta`));
    const gd = mg.graph_def!;
    const sd = mg.saver_def!;
    expect({ ...sd, sharded: sd.sharded ?? false, version: Number(sd.version) }).toEqual({
      filename_tensor_name: 'save/Const:0',
      save_tensor_name: 'save/control_dependency:0',
      restore_op_name: 'save/restore_all',
      max_to_keep: 3,
      sharded: false,
      keep_checkpoint_every_n_hours: 2,
      version: 2,
    });
    // The filename tensor: PlaceholderWithDefault of PlaceholderWithDefault of the 'model' constant.
    expect(nodeOf(gd, 'save/Const').op).toBe('PlaceholderWithDefault');
    expect(nodeOf(gd, 'save/Const').input).toEqual(['save/filename']);
    expect(nodeOf(gd, 'save/filename').input).toEqual(['save/filename/input']);
    // The save tensor: the filename, after SaveV2 of every variable under its key.
    const keys = (await tf.train.listVariables(prefix)).map(([k]) => k);
    const save = nodeOf(gd, 'save/SaveV2');
    expect(save.input).toEqual(['save/Const', 'save/SaveV2/tensor_names', 'save/SaveV2/shape_and_slices', ...keys]);
    expect(nodeOf(gd, opName(sd.save_tensor_name!))).toMatchObject({ op: 'Identity', input: ['save/Const', '^save/SaveV2'] });
    // The restore op: one Assign per variable, of RestoreV2's output for its key.
    const restoreAll = nodeOf(gd, sd.restore_op_name!);
    expect(restoreAll.op).toBe('NoOp');
    const assigns = restoreAll.input!.map((s) => nodeOf(gd, s.slice(1)));
    expect(assigns.map((a) => a.op)).toEqual(keys.map(() => 'Assign'));
    expect(assigns.map((a) => a.input)).toEqual(keys.map((k, i) => [k, i ? `save/RestoreV2:${i}` : 'save/RestoreV2']));
    expect(nodeOf(gd, 'save/RestoreV2').input).toEqual(['save/Const', 'save/RestoreV2/tensor_names', 'save/RestoreV2/shape_and_slices']);
    const names = tensorFromProto(nodeOf(gd, 'save/RestoreV2/tensor_names').attr!.value!.tensor!);
    expect(names.toArray()).toEqual(keys);
    // Adam's slots and powers are among the saved variables.
    expect(keys).toEqual(expect.arrayContaining(['hidden/kernel/Adam', 'hidden/kernel/Adam_1', 'beta1_power', 'beta2_power', 'global_step']));

    // Collections as TensorFlow writes them.
    const c = mg.collection_def!;
    expect(variableNames(mg, 'variables').sort()).toEqual(keys.map((k) => `${k}:0`).sort());
    expect(variableNames(mg, 'trainable_variables').sort()).toEqual(['hidden/bias:0', 'hidden/kernel:0', 'out/bias:0', 'out/kernel:0']);
    expect(variableNames(mg, 'global_step')).toEqual(['global_step:0']);
    const vd = decodeMessage('VariableDef', c.trainable_variables!.bytes_list!.value![0]!) as Record<string, unknown>;
    expect(vd).toMatchObject({ variable_name: 'hidden/kernel:0', initializer_name: 'hidden/kernel/Assign', snapshot_name: 'hidden/kernel/read:0', trainable: true });
    expect(c.train_op!.node_list!.value).toEqual([m.train.name]);
    expect(c.summaries!.node_list!.value).toEqual(['loss:0']);
    // Every name a collection gives is a node of the graph_def.
    for (const name of [...c.train_op!.node_list!.value!, ...c.summaries!.node_list!.value!, sd.filename_tensor_name!]) nodeOf(gd, opName(name));

    // The stripped op list: one OpDef per op type used, sorted.
    const types = [...new Set((gd.node ?? []).map((n) => n.op!))].sort();
    expect(mg.meta_info_def!.stripped_op_list!.op!.map((o) => o.name)).toEqual(types);
  });

  it('writes OpDefs that agree with the ones TensorFlow wrote into its SavedModel', async () => {
    // test/fixtures/tensorflow-serving was written by TensorFlow: its stripped_op_list holds
    // TensorFlow's own OpDefs of Add, Assign, Const, Identity, Mul, NoOp, Placeholder, RestoreV2,
    // SaveV2 and VariableV2, which a weir graph writes too.
    const tfOps = decodeMessage('SavedModel', readFileSync('test/fixtures/tensorflow-serving/saved_model_half_plus_three/saved_model.pb')).meta_graphs![0]!
      .meta_info_def!.stripped_op_list!.op!;
    const g = new tf.Graph();
    const { saver } = g.asDefault(() => {
      const a = new tf.Variable(0.5, { name: 'a' });
      const x = tf.placeholder('float32', [null], 'x');
      // Add, as TensorFlow 1.0 wrote it (tf.add makes AddV2 today).
      g.createOp('Add', [tf.multiply(a, x), tf.constant(3)], { T: 'float32' }, { name: 'y' });
      return { saver: new tf.train.Saver() };
    });
    const mg = await saver.exportMetaGraph(undefined);
    const ours = new Map(mg.meta_info_def!.stripped_op_list!.op!.map((o) => [o.name!, o]));
    const shape = (o: OpDefProto) => ({
      input_arg: (o.input_arg ?? []).map((a) => ({ name: a.name, type: a.type || 0, type_attr: a.type_attr || '', number_attr: a.number_attr || '', type_list_attr: a.type_list_attr || '', is_ref: !!a.is_ref })),
      output_arg: (o.output_arg ?? []).map((a) => ({ name: a.name, type: a.type || 0, type_attr: a.type_attr || '', type_list_attr: a.type_list_attr || '', is_ref: !!a.is_ref })),
      attr: (o.attr ?? []).map((a) => `${a.name}:${a.type}`).sort(),
    });
    const compared: string[] = [];
    for (const tfOp of tfOps) {
      const mine = ours.get(tfOp.name!);
      if (!mine) continue;
      compared.push(tfOp.name!);
      // TensorFlow 1.0's Const has no 'dtype' attr constraint difference; its attrs are value and dtype like ours.
      expect({ op: tfOp.name, ...shape(mine) }).toEqual({ op: tfOp.name, ...shape(tfOp) });
    }
    expect(compared.sort()).toEqual(['Add', 'Assign', 'Const', 'Identity', 'Mul', 'NoOp', 'Placeholder', 'RestoreV2', 'SaveV2', 'VariableV2']);
  });

  it('keeps the .meta with its checkpoint: deleted with it past maxToKeep, not written when writeMetaGraph is false', async () => {
    const dir = freshDir();
    const g = new tf.Graph();
    const v = g.asDefault(() => new tf.Variable([1, 2], { name: 'v' }));
    const sess = new tf.Session({ graph: g });
    await sess.run(v.initializer);
    const saver = g.asDefault(() => new tf.train.Saver({ maxToKeep: 1 }));
    await saver.save(sess, `${dir}/m`, { globalStep: 1 });
    await saver.save(sess, `${dir}/m`, { globalStep: 2 });
    expect(readdirSync(dir).sort()).toEqual(['checkpoint', 'm-2.data-00000-of-00001', 'm-2.index', 'm-2.meta']);
    await saver.save(sess, `${dir}/n`, { writeMetaGraph: false, writeStateProto: false });
    expect(readdirSync(dir).filter((f) => f.startsWith('n'))).toEqual(['n.data-00000-of-00001', 'n.index'].sort());
  });

  it('keeps one checkpoint per keepCheckpointEveryNHours beyond maxToKeep, as TensorFlow does', async () => {
    const dir = freshDir();
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const g = new tf.Graph();
    const v = g.asDefault(() => new tf.Variable(1, { name: 'v' }));
    const sess = new tf.Session({ graph: g });
    await sess.run(v.initializer);
    const saver = g.asDefault(() => new tf.train.Saver({ maxToKeep: 1, keepCheckpointEveryNHours: 1 }));
    const saveAt = async (hours: number, step: number) => {
      now = 1_000_000 + hours * 3_600_000;
      await saver.save(sess, `${dir}/m`, { globalStep: step, writeMetaGraph: false });
    };
    await saveAt(0.5, 1); // before the first hour: deleted when pushed out
    await saveAt(1.5, 2); // past it: kept when pushed out
    await saveAt(1.7, 3); // within the next hour: deleted
    await saveAt(2.6, 4); // past 2 hours: kept
    await saveAt(2.7, 5);
    const left = readdirSync(dir).filter((f) => f.endsWith('.index')).sort();
    expect(left).toEqual(['m-2.index', 'm-4.index', 'm-5.index']);
    expect(saver.lastCheckpoints).toEqual([`${dir}/m-5`]);
  });
});

describe('tf.train.importMetaGraph', () => {
  it('continues Adam training from .meta + checkpoint exactly as an uninterrupted run', async () => {
    const dir = freshDir();
    // Uninterrupted: 12 steps.
    const g0 = new tf.Graph();
    const m0 = buildModel(g0);
    const s0 = new tf.Session({ graph: g0 });
    await s0.run(m0.init);
    // Seeded initializers differ between graphs; the interrupted run starts from these values.
    const initial = g0.asDefault(() => new tf.train.Saver());
    const start = await initial.save(s0, `${dir}/start`, { writeMetaGraph: false });
    const uninterrupted = await steps(s0, m0.loss, m0.train, 'x', 'y', 12);

    // Interrupted: 6 steps, save, then a fresh graph built only from the .meta file.
    const g1 = new tf.Graph();
    const m1 = buildModel(g1);
    const s1 = new tf.Session({ graph: g1 });
    const saver1 = g1.asDefault(() => new tf.train.Saver());
    await saver1.restore(s1, start);
    const first = await steps(s1, m1.loss, m1.train, 'x', 'y', 6);
    const ckpt = await saver1.save(s1, `${dir}/model.ckpt`, { globalStep: tf.train.getGlobalStep(g1)! });
    expect(ckpt).toBe(`${dir}/model.ckpt-6`);

    const g2 = new tf.Graph();
    const saver2 = (await g2.asDefault(() => tf.train.importMetaGraph(`${ckpt}.meta`)))!;
    expect(saver2).toBeInstanceOf(tf.train.Saver);
    // It uses the save and restore ops of the file (no new ones).
    expect(saver2.saverDef.restore_op_name).toBe('save/restore_all');
    expect(g2.hasOperation('save_1/restore_all')).toBe(false);
    const s2 = new tf.Session({ graph: g2 });
    await saver2.restore(s2, ckpt);
    const train = g2.getCollection<tf.Operation>(tf.GraphKeys.TRAIN_OP)[0]!;
    expect(train).toBeInstanceOf(tf.Operation);
    const loss = g2.getTensorByName(m1.loss.name);
    const rest = await steps(s2, loss, train, 'x', 'y', 6);
    expect([...first, ...rest]).toEqual(uninterrupted);
    expect(Number((await s2.run(tf.train.getGlobalStep(g2)!))!.toArray())).toBe(12);
    // Adam's slots came back as Variables of the imported graph.
    const globals = g2.asDefault(() => tf.globalVariables()).map((v) => v.op.name);
    expect(globals).toEqual(expect.arrayContaining(['hidden/kernel/Adam', 'hidden/kernel/Adam_1', 'beta1_power', 'global_step']));
  });

  it('gives Variables over the imported ops that optimizers and initializers use like any other', async () => {
    const g1 = new tf.Graph();
    const m1 = buildModel(g1);
    const mg = await tf.train.exportMetaGraph({ graph: g1 });
    const g2 = new tf.Graph();
    const saver = await tf.train.importMetaGraph(mg, { graph: g2 });
    expect(saver).toBeInstanceOf(tf.train.Saver);
    const trainable = g2.asDefault(() => tf.trainableVariables());
    expect(trainable.map((v) => v.name)).toEqual(['hidden/kernel:0', 'hidden/bias:0', 'out/kernel:0', 'out/bias:0']);
    expect(trainable.every((v) => v instanceof tf.Variable && v.graph === g2 && v.trainable)).toBe(true);
    // The same object in each collection it is in.
    expect(g2.asDefault(() => tf.globalVariables())).toEqual(expect.arrayContaining(trainable));
    const s2 = new tf.Session({ graph: g2 });
    await s2.run(g2.asDefault(() => tf.globalVariablesInitializer()));
    const loss = g2.getTensorByName(m1.loss.name);
    const sgd = g2.asDefault(() => new tf.train.GradientDescentOptimizer(0.1).minimize(loss, { varList: trainable }));
    const [before] = await s2.run([loss], [['x:0', XS], ['y:0', YS]]);
    for (let i = 0; i < 5; i++) await s2.run(sgd, [['x:0', XS], ['y:0', YS]]);
    const [after] = await s2.run([loss], [['x:0', XS], ['y:0', YS]]);
    expect(after!.data[0]).toBeLessThan(before!.data[0] as number);
    await trainable[0]!.load(Array.from({ length: 3 }, () => new Array(6).fill(0)), s2);
    expect((await trainable[0]!.eval(s2)).toArray()).toEqual(Array.from({ length: 3 }, () => new Array(6).fill(0)));
  });

  it('imports under a scope, and its Saver restores the scoped variables', async () => {
    const dir = freshDir();
    const g1 = new tf.Graph();
    const v = g1.asDefault(() => new tf.Variable([[1, 2], [3, 4]], { name: 'w' }));
    const s1 = new tf.Session({ graph: g1 });
    await s1.run(v.initializer);
    const saver1 = g1.asDefault(() => new tf.train.Saver());
    const prefix = await saver1.save(s1, `${dir}/m`);
    const g2 = new tf.Graph();
    const saver2 = (await tf.train.importMetaGraph(`${prefix}.meta`, { graph: g2, importScope: 'copy' }))!;
    expect(saver2.saverDef).toMatchObject({ filename_tensor_name: 'copy/save/Const:0', restore_op_name: 'copy/save/restore_all' });
    const s2 = new tf.Session({ graph: g2 });
    await saver2.restore(s2, prefix);
    expect((await s2.run('copy/w:0'))!.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(g2.asDefault(() => tf.globalVariables()).map((x) => x.name)).toEqual(['copy/w:0']);
    // The imported Saver saves under the checkpoint's keys (unscoped), as TensorFlow's does.
    const again = await saver2.save(s2, `${dir}/again`);
    expect(await tf.train.listVariables(again)).toEqual([['w', [2, 2]]]);
  });

  it('writes text format, clears devices and restricts collections on request', async () => {
    const dir = freshDir();
    const g = new tf.Graph();
    g.asDefault(() => {
      tf.importGraphDef({ node: [{ name: 'c', op: 'Const', device: '/job:worker/task:0', attr: { dtype: { type: 1 }, value: { tensor: tensorToProto(tf.NDArray.from([1, 2], 'float32', [2])) } } }] }, { name: '' });
      new tf.Variable(1, { name: 'v' });
      tf.addToCollection('my_strings', 'hello');
      tf.addToCollection('my_ints', 3);
      tf.addToCollection('my_floats', 0.5);
    });
    const full = await tf.train.exportMetaGraph({ graph: g });
    expect(full.graph_def!.node!.find((n) => n.name === 'c')!.device).toBe('/job:worker/task:0');
    expect(Object.keys(full.collection_def!).sort()).toEqual(['my_floats', 'my_ints', 'my_strings', 'trainable_variables', 'variables']);
    const path = `${dir}/g.meta.pbtxt`;
    const mg = await tf.train.exportMetaGraph(path, { graph: g, asText: true, clearDevices: true, collectionList: ['variables', 'my_strings', 'my_ints', 'my_floats'] });
    expect(mg.graph_def!.node!.find((n) => n.name === 'c')!.device ?? '').toBe('');
    expect(Object.keys(mg.collection_def!).sort()).toEqual(['my_floats', 'my_ints', 'my_strings', 'variables']);
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(/^meta_info_def \{/);
    expect(text).toMatch(/restore_op_name|collection_def/);
    // Read back (text format) into a fresh graph.
    const g2 = new tf.Graph();
    expect(await tf.train.importMetaGraph(path, { graph: g2 })).toBeInstanceOf(tf.train.Saver);
    expect(g2.getCollection('my_strings')).toEqual(['hello']);
    expect(g2.getCollection('my_ints')).toEqual([3]);
    expect(g2.getCollection('my_floats')).toEqual([0.5]);
    expect(g2.getOperationByName('v').type).toBe('VariableV2');
    // An importer clearing devices drops them too.
    const g3 = new tf.Graph();
    await tf.train.importMetaGraph(full, { graph: g3, clearDevices: true });
    const back = await tf.train.exportMetaGraph({ graph: g3 });
    expect(back.graph_def!.node!.find((n) => n.name === 'c')!.device ?? '').toBe('');
  });

  it('carries update_ops, local variables and model variables through export and import', async () => {
    const g1 = new tf.Graph();
    g1.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      const labels = tf.placeholder('int32', [null], 'labels');
      const h = tf.layers.batchNormalization(x, { training: true, name: 'bn' });
      tf.metrics.accuracy(labels, tf.argmax(h, 1, 'int32'), { name: 'acc' });
      tf.addToCollection(tf.GraphKeys.MODEL_VARIABLES, tf.globalVariables()[0]!);
    });
    const updates = g1.getCollection<tf.Tensor | tf.Operation>(tf.GraphKeys.UPDATE_OPS).map((u) => u.name);
    const locals = g1.getCollection<tf.Variable>(tf.GraphKeys.LOCAL_VARIABLES).map((v) => v.name);
    expect(updates.length).toBe(2);
    expect(locals.length).toBe(2);
    const mg = await tf.train.exportMetaGraph({ graph: g1 });
    expect(mg.collection_def!.update_ops!.node_list!.value).toEqual(updates);
    expect(variableNames(mg, 'local_variables')).toEqual(locals);
    expect(variableNames(mg, 'model_variables')).toEqual(['bn/gamma:0']);

    const g2 = new tf.Graph();
    await tf.train.importMetaGraph(decodeMessage('MetaGraphDef', encodeMessage('MetaGraphDef', mg)), { graph: g2 });
    expect(g2.getCollection<tf.Tensor | tf.Operation>(tf.GraphKeys.UPDATE_OPS).map((u) => u.name)).toEqual(updates);
    const localVars = g2.getCollection<tf.Variable>(tf.GraphKeys.LOCAL_VARIABLES);
    expect(localVars.map((v) => [v.name, v instanceof tf.Variable, v.trainable])).toEqual(locals.map((n) => [n, true, false]));
    // The imported local variables initialize like any others.
    const s2 = new tf.Session({ graph: g2 });
    await s2.run(g2.asDefault(() => tf.localVariablesInitializer()));
    expect((await s2.run(localVars.map((v) => v.value()))).map((a) => a.toArray())).toEqual([0, 0]);
  });

  it('returns null for a graph with neither saver nor variables; errors are typed and name the problem', async () => {
    const g = new tf.Graph();
    g.asDefault(() => tf.placeholder('float32', [2], 'p'));
    const mg = await tf.train.exportMetaGraph({ graph: g });
    expect(mg.saver_def).toBeUndefined();
    expect(await tf.train.importMetaGraph(mg, { graph: new tf.Graph() })).toBeNull();

    await expect(tf.train.exportMetaGraph({ graph: g, stripDefaultAttrs: true })).rejects.toThrow(tf.errors.UnimplementedError);
    const dir = freshDir();
    writeFileSync(`${dir}/bad.meta`, new Uint8Array([0xff, 0xff, 0xff, 0x07, 0x01]));
    await expect(tf.train.importMetaGraph(`${dir}/bad.meta`, { graph: new tf.Graph() })).rejects.toThrow(/bad\.meta/);
    await expect(tf.train.importMetaGraph(`${dir}/missing.meta`, { graph: new tf.Graph() })).rejects.toThrow(tf.errors.NotFoundError);
    const withSaver = { ...mg, saver_def: { filename_tensor_name: 'save/Const:0', save_tensor_name: 'save/Identity:0', restore_op_name: 'save/restore_all', version: 2 } };
    await expect(tf.train.importMetaGraph(withSaver, { graph: new tf.Graph() })).rejects.toThrow(/no restore op 'save\/restore_all'/);
  });
});
