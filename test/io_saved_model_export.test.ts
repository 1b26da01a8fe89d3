// SavedModel export (tf.savedModel.Builder, simpleSave, the signature helpers): the layout TF
// Serving reads, read back by weir's loader, and compared field by field with the SavedModel
// TensorFlow wrote (test/fixtures/tensorflow-serving/saved_model_half_plus_three).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { decodeMessage, DT, type CollectionDef, type MetaGraphDef, type SavedModelProto } from '../src/io/proto.js';

const FIXTURE = 'test/fixtures/tensorflow-serving/saved_model_half_plus_three';
const dirs: string[] = [];
const freshDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'weir-sm-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const readSavedModel = (dir: string): SavedModelProto => decodeMessage('SavedModel', readFileSync(join(dir, 'saved_model.pb')));

/** Which member of a CollectionDef's oneof is set. */
const kindOf = (c: CollectionDef): string | undefined => ['node_list', 'bytes_list', 'int64_list', 'float_list', 'any_list'].find((k) => Object.hasOwn(c, k));

/** y = a*x + b over a [null, 1] input, and a second head y2 = a*x2 + c, like TF Serving's half_plus_three. */
function halfPlusThree(g: tf.Graph) {
  return g.asDefault(() => {
    const a = new tf.Variable(0.5, { name: 'a' });
    const b = new tf.Variable(2.0, { name: 'b' });
    const c = new tf.Variable(3.0, { name: 'c' });
    const x = tf.placeholder('float32', [null, 1], 'x');
    const y = tf.add(tf.multiply(a, x), b, 'y');
    const x2 = tf.placeholder('float32', [null, 1], 'x2');
    const y2 = tf.add(tf.multiply(a, x2), c, 'y2');
    return { a, b, c, x, y, x2, y2, init: tf.globalVariablesInitializer() };
  });
}

describe('tf.savedModel.simpleSave', () => {
  it("writes TF Serving's layout, which the loader reads back into a fresh graph with the same outputs", async () => {
    const g = new tf.Graph();
    const m = halfPlusThree(g);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    await m.b.load(3, sess); // a value the initializer does not give: the export carries it
    const dir = join(freshDir(), 'export', '1');
    const path = await tf.savedModel.simpleSave(sess, dir, { x: m.x }, { y: m.y });
    expect(path).toBe(join(dir, 'saved_model.pb'));
    expect(readdirSync(dir).sort()).toEqual(['saved_model.pb', 'variables']);
    expect(readdirSync(join(dir, 'variables')).sort()).toEqual(['variables.data-00000-of-00001', 'variables.index']);
    expect(await tf.train.listVariables(join(dir, 'variables', 'variables'))).toEqual([['a', []], ['b', []], ['c', []]]);

    const g2 = new tf.Graph();
    const s2 = new tf.Session({ graph: g2 });
    const { signatureDefs } = await tf.savedModel.loader.load(s2, [tf.savedModel.tagConstants.SERVING], dir);
    const sig = signatureDefs.serving_default!;
    expect(sig.method_name).toBe('tensorflow/serving/predict');
    const xs = [[0], [1], [-2.5], [1e3]];
    const [want] = await sess.run([m.y], [[m.x, xs]]);
    const got = await s2.run(sig.outputs!.y!.name!, [[sig.inputs!.x!.name!, xs]]);
    expect(got!.toArray()).toEqual(want!.toArray());
    expect(got!.toArray()).toEqual([[3], [3.5], [1.75], [503]]);
    // The loaded graph's variables are Variables again.
    expect(g2.asDefault(() => tf.globalVariables()).map((v) => v.name)).toEqual(['a:0', 'b:0', 'c:0']);
  });

  it('has the structure of the SavedModel TensorFlow wrote, field by field', async () => {
    const g = new tf.Graph();
    const m = halfPlusThree(g);
    const assetDir = freshDir();
    const assetPath = join(assetDir, 'foo.txt');
    writeFileSync(assetPath, 'asset contents\n');
    const legacyInitOp = g.asDefault(() => {
      const asset = tf.constant(assetPath, 'string', undefined, 'Const');
      tf.addToCollection(tf.GraphKeys.ASSET_FILEPATHS, asset);
      const filename = new tf.Variable('', { name: 'filename_tensor', trainable: false, collections: [] });
      return tf.group([tf.assign(filename, asset).op], 'group_deps');
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const dir = join(freshDir(), 'model');
    await tf.savedModel.simpleSave(sess, dir, { x: m.x }, { y: m.y }, { legacyInitOp });
    expect(readdirSync(dir).sort()).toEqual(['assets', 'saved_model.pb', 'variables']);
    expect(readFileSync(join(dir, 'assets', 'foo.txt'), 'utf8')).toBe('asset contents\n');

    const ours = readSavedModel(dir);
    const theirs = readSavedModel(FIXTURE);
    expect(Number(ours.saved_model_schema_version)).toBe(Number(theirs.saved_model_schema_version));
    expect(ours.meta_graphs!.length).toBe(theirs.meta_graphs!.length);
    const [a, b] = [ours.meta_graphs![0]!, theirs.meta_graphs![0]!] as [MetaGraphDef, MetaGraphDef];
    expect(a.meta_info_def!.tags).toEqual(b.meta_info_def!.tags);
    expect(a.signature_def!.serving_default!.method_name).toBe(b.signature_def!.serving_default!.method_name);
    const io = (mg: MetaGraphDef) => {
      const s = mg.signature_def!.serving_default!;
      return { inputs: Object.keys(s.inputs!), outputs: Object.keys(s.outputs!), dtype: s.inputs!.x!.dtype, names: [s.inputs!.x!.name, s.outputs!.y!.name] };
    };
    expect(io(a)).toEqual(io(b));
    // The saver_def: the same filename tensor, a restore op and save tensor that exist, format V2.
    expect(a.saver_def!.filename_tensor_name).toBe(b.saver_def!.filename_tensor_name);
    expect(a.saver_def!.restore_op_name).toBe(b.saver_def!.restore_op_name);
    expect(Number(a.saver_def!.version)).toBe(Number(b.saver_def!.version));
    const nodes = new Set(a.graph_def!.node!.map((n) => n.name));
    for (const n of [a.saver_def!.filename_tensor_name!, a.saver_def!.save_tensor_name!, a.saver_def!.restore_op_name!]) expect(nodes.has(n.replace(/:0$/, ''))).toBe(true);
    // Collections: TF's wrote variables, trainable_variables, asset_filepaths, saved_model_assets
    // and legacy_init_op (TF 1.0's name of the init op; TF 1.15 writes saved_model_main_op, as weir does).
    const kinds = (mg: MetaGraphDef, keys: string[]) => Object.fromEntries(keys.map((k) => [k, kindOf(mg.collection_def![k]!)]));
    const shared = ['variables', 'trainable_variables', 'asset_filepaths', 'saved_model_assets'];
    expect(kinds(a, shared)).toEqual(kinds(b, shared));
    expect(kindOf(a.collection_def!.saved_model_main_op!)).toBe(kindOf(b.collection_def!.legacy_init_op!));
    expect(a.collection_def!.saved_model_main_op!.node_list!.value).toEqual(b.collection_def!.legacy_init_op!.node_list!.value);
    const vdef = (mg: MetaGraphDef) => decodeMessage('VariableDef', mg.collection_def!.variables!.bytes_list!.value![0]!) as Record<string, unknown>;
    for (const f of ['variable_name', 'initializer_name', 'snapshot_name']) expect(vdef(a)[f]).toBe(vdef(b)[f]);
    const asset = (mg: MetaGraphDef) => {
      const any = mg.collection_def!.saved_model_assets!.any_list!.value![0]!;
      return { type_url: any.type_url, ...decodeMessage('AssetFileDef', any.value!) };
    };
    expect(asset(a)).toEqual(asset(b));
    expect(a.collection_def!.asset_filepaths!.node_list!.value).toEqual(b.collection_def!.asset_filepaths!.node_list!.value);
    // Device placements are cleared by simpleSave, and every op type used has an OpDef.
    expect(a.graph_def!.node!.every((n) => !n.device)).toBe(true);
    const types = [...new Set(a.graph_def!.node!.map((n) => n.op!))].sort();
    expect(a.meta_info_def!.stripped_op_list!.op!.map((o) => o.name)).toEqual(types);

    // Loading runs the init op with the asset's path in the export directory fed, as TF's loader does.
    const s2 = new tf.Session({ graph: new tf.Graph() });
    await tf.savedModel.loader.load(s2, ['serve'], dir);
    expect((await s2.run('filename_tensor:0'))!.toArray()).toBe(join(dir, 'assets', 'foo.txt'));
  });
});

describe('tf.savedModel.Builder', () => {
  it('adds several tagged MetaGraphDefs sharing one set of variables, in binary or text format', async () => {
    const g = new tf.Graph();
    const m = halfPlusThree(g);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const dir = join(freshDir(), 'sm');
    const builder = new tf.savedModel.Builder(dir);
    const { predictSignatureDef, buildSignatureDef } = tf.savedModel.signatureDefUtils;
    await builder.addMetaGraphAndVariables(sess, ['serve'], {
      signatureDefMap: {
        serving_default: predictSignatureDef({ x: m.x }, { y: m.y }),
        second: buildSignatureDef({ x2: tf.savedModel.utils.buildTensorInfo(m.x2) }, { y2: tf.savedModel.buildTensorInfo(m.y2) }, 'tensorflow/serving/predict'),
      },
    });
    await g.asDefault(() => builder.addMetaGraph(['serve', 'gpu'], { signatureDefMap: { serving_default: predictSignatureDef({ x: m.x2 }, { y: m.y2 }) } }));
    await expect(builder.addMetaGraph(['gpu', 'serve'], { graph: g })).rejects.toThrow(tf.errors.AlreadyExistsError);
    const path = await builder.save({ asText: true });
    expect(path).toBe(join(dir, 'saved_model.pbtxt'));
    expect(existsSync(join(dir, 'saved_model.pb'))).toBe(false);
    // One Saver serves both MetaGraphDefs (no second set of save ops in the graph).
    expect(g.hasOperation('save_1/restore_all')).toBe(false);

    const s2 = new tf.Session({ graph: new tf.Graph() });
    const { signatureDefs } = await tf.savedModel.loader.load(s2, ['gpu', 'serve'], dir);
    const sig = signatureDefs.serving_default!;
    expect(sig.inputs!.x!.name).toBe('x2:0');
    expect((await s2.run(sig.outputs!.y!.name!, [[sig.inputs!.x!.name!, [[2]]]]))!.toArray()).toEqual([[4]]);
    const s3 = new tf.Session({ graph: new tf.Graph() });
    const loaded = await tf.savedModel.loader.load(s3, ['serve'], dir);
    expect(Object.keys(loaded.signatureDefs).sort()).toEqual(['second', 'serving_default']);
    expect((await s3.run('y2:0', [['x2:0', [[2]]]]))!.toArray()).toEqual([[4]]);
  });

  it('refuses an export directory that exists and is not empty, and calls out of order', async () => {
    const g = new tf.Graph();
    const m = halfPlusThree(g);
    const sess = new tf.Session({ graph: g });
    await sess.run(m.init);
    const dir = freshDir();
    writeFileSync(join(dir, 'saved_model.pb'), 'not mine');
    const err = await new tf.savedModel.Builder(dir).addMetaGraphAndVariables(sess, ['serve']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(tf.errors.AlreadyExistsError);
    expect((err as Error).message).toContain(dir);
    expect(readFileSync(join(dir, 'saved_model.pb'), 'utf8')).toBe('not mine');
    await expect(tf.savedModel.simpleSave(sess, dir, { x: m.x }, { y: m.y })).rejects.toThrow(tf.errors.AlreadyExistsError);

    // An empty existing directory is fine, as in TensorFlow.
    const empty = join(freshDir(), 'empty');
    mkdirSync(empty);
    const b = new tf.savedModel.Builder(empty);
    await expect(b.addMetaGraph(['serve'], { graph: g })).rejects.toThrow(tf.errors.FailedPreconditionError);
    await b.addMetaGraphAndVariables(sess, ['serve']);
    await expect(b.addMetaGraphAndVariables(sess, ['train'])).rejects.toThrow(/addMetaGraph\(\) instead/);
    await expect(b.addMetaGraph(['x'], { graph: g, signatureDefMap: { bad: { inputs: { x: { name: 'x:0' } }, outputs: {}, method_name: 'm' } } })).rejects.toThrow(
      /SignatureDef 'bad' inputs 'x'.*name and dtype/,
    );
    await b.save();
    expect(existsSync(join(empty, 'saved_model.pb'))).toBe(true);
  });

  it('exports a graph without variables (no checkpoint, an empty variables directory)', async () => {
    const g = new tf.Graph();
    const { x, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [null], 'x');
      return { x, y: tf.multiply(x, 2, 'y') };
    });
    const dir = join(freshDir(), 'novars');
    await tf.savedModel.simpleSave(new tf.Session({ graph: g }), dir, { x }, { y });
    expect(readdirSync(join(dir, 'variables'))).toEqual([]);
    // (a message field left unset decodes as null)
    expect(readSavedModel(dir).meta_graphs![0]!.saver_def ?? null).toBeNull();
    const s2 = new tf.Session({ graph: new tf.Graph() });
    await tf.savedModel.loader.load(s2, ['serve'], dir);
    expect((await s2.run('y:0', [['x:0', [1, 2]]]))!.toArray()).toEqual([2, 4]);
  });
});

describe('signature helpers', () => {
  it('build TensorInfos and predict, regress and classify signatures as TensorFlow does, and validate them', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const examples = tf.placeholder('string', [null], 'tf_example');
      const scores = tf.placeholder('float32', [null, 3], 'scores');
      const classes = tf.placeholder('string', [null, 3], 'classes');
      const anyRank = tf.placeholder('int32', null, 'any');
      expect(tf.savedModel.buildTensorInfo(scores)).toEqual({ name: 'scores:0', dtype: DT.DT_FLOAT, tensor_shape: { dim: [{ size: -1 }, { size: 3 }] } });
      expect(tf.savedModel.buildTensorInfo(anyRank)).toEqual({ name: 'any:0', dtype: DT.DT_INT32, tensor_shape: { unknown_rank: true } });
      const sp = new tf.SparseTensor([[0, 1]], [1.5], [2, 2]);
      const spInfo = tf.savedModel.buildTensorInfo(sp);
      expect(spInfo.coo_sparse).toEqual({ values_tensor_name: sp.values.name, indices_tensor_name: sp.indices.name, dense_shape_tensor_name: sp.denseShape.name });
      expect(tf.savedModel.utils.getTensorFromTensorInfo(tf.savedModel.buildTensorInfo(scores), g)).toBe(scores);
      const back = tf.savedModel.utils.getTensorFromTensorInfo(spInfo, g) as tf.SparseTensor;
      expect([back.indices, back.values, back.denseShape]).toEqual([sp.indices, sp.values, sp.denseShape]);

      const u = tf.savedModel.signatureDefUtils;
      const regress = u.regressionSignatureDef(examples, tf.reshape(scores, [-1]));
      expect(regress.method_name).toBe('tensorflow/serving/regress');
      expect(Object.keys(regress.inputs!)).toEqual(['inputs']);
      expect(Object.keys(regress.outputs!)).toEqual(['outputs']);
      const classify = u.classificationSignatureDef(examples, classes, scores);
      expect(classify.method_name).toBe('tensorflow/serving/classify');
      expect(Object.keys(classify.outputs!).sort()).toEqual(['classes', 'scores']);
      const predict = u.predictSignatureDef({ a: scores }, { b: classes });
      expect([regress, classify, predict, u.classificationSignatureDef(examples, null, scores)].map(u.isValidSignature)).toEqual([true, true, true, true]);
      // What TF Serving's APIs could not serve is not valid.
      expect(u.isValidSignature(u.buildSignatureDef({ inputs: tf.savedModel.buildTensorInfo(scores) }, regress.outputs, 'tensorflow/serving/regress'))).toBe(false);
      expect(u.isValidSignature(u.buildSignatureDef(classify.inputs, { other: tf.savedModel.buildTensorInfo(scores) }, 'tensorflow/serving/classify'))).toBe(false);
      expect(u.isValidSignature(u.buildSignatureDef({}, predict.outputs, 'tensorflow/serving/predict'))).toBe(false);
      expect(u.isValidSignature(u.buildSignatureDef(predict.inputs, predict.outputs, 'my/method'))).toBe(false);
      expect(u.isValidSignature(null)).toBe(false);
      // Wrong dtypes and empty maps are errors naming the tensor.
      expect(() => u.regressionSignatureDef(scores, scores)).toThrow(/Regression examples \(scores:0\) must be a string Tensor/);
      expect(() => u.regressionSignatureDef(examples, classes)).toThrow(/Regression predictions \(classes:0\) must be a float Tensor/);
      expect(() => u.classificationSignatureDef(examples, scores, null)).toThrow(/Classification classes \(scores:0\) must be a string Tensor/);
      expect(() => u.classificationSignatureDef(examples, null, null)).toThrow(tf.errors.InvalidArgumentError);
      expect(() => u.predictSignatureDef({}, { b: classes })).toThrow(/Prediction inputs cannot be None or empty/);
    });
  });
});
