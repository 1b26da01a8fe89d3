// tf.savedModel.loader.load on the SavedModel written by TensorFlow (half_plus_three).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { listVariables, loadVariable } from '../src/io/index.js';

const EXPORT_DIR = 'test/fixtures/tensorflow-serving/saved_model_half_plus_three';
const VARS = `${EXPORT_DIR}/variables/variables`;

/** The checkpoint's values, read straight from the data file's little-endian float32s by the entries' offsets. */
function rawCheckpointValues(): Record<string, number> {
  const data = readFileSync(`${VARS}.data-00000-of-00001`);
  // Offsets recorded in the fixture's index entries (a: 0, b: 4, c: 8), each 4 bytes.
  return { a: data.readFloatLE(0), b: data.readFloatLE(4), c: data.readFloatLE(8) };
}

describe('tf.savedModel.loader.load', () => {
  it('loads the serving graph, restores its variables and runs serving_default: y = a*x + b', async () => {
    const g = new tf.Graph();
    const sess = new tf.Session({ graph: g });
    const { signatureDefs, metaGraphDef } = await tf.savedModel.loader.load(sess, [tf.savedModel.tagConstants.SERVING], EXPORT_DIR);
    expect(metaGraphDef.meta_info_def!.tags).toEqual(['serve']);
    expect(Object.keys(signatureDefs).sort()).toEqual(['serving_default', 'tensorflow/serving/regress']);
    const sig = signatureDefs[tf.savedModel.signatureConstants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]!;
    expect(sig.method_name).toBe(tf.savedModel.signatureConstants.PREDICT_METHOD_NAME);

    const { a, b, c } = rawCheckpointValues();
    // The loader's reader agrees with the raw bytes.
    expect((await loadVariable(VARS, 'a')).toArray()).toBe(a);
    expect(await listVariables(VARS)).toEqual([['a', []], ['b', []], ['c', []]]);
    const [va, vb, vc] = await sess.run(['a:0', 'b:0', 'c:0']);
    expect([va!.toArray(), vb!.toArray(), vc!.toArray()]).toEqual([a, b, c]);

    const xs = [[0], [1], [2], [-4.5], [1e3]];
    const y = await sess.run(sig.outputs!.y!.name!, [[sig.inputs!.x!.name!, xs]]);
    expect(y!.shape).toEqual([5, 1]);
    const want = xs.map(([x]) => Math.fround(Math.fround(a * x!) + b));
    expect(Array.from(y!.data as Float32Array)).toEqual(want);
    // 'half plus three': a = 0.5, b = 3 as TensorFlow Serving documents it (read from the checkpoint above).
    expect([a, b]).toEqual([0.5, 3]);
    // The second head, y2 = a*x2 + c, runs too.
    const y2 = await sess.run('y2:0', [['x2:0', [[4]]]]);
    expect(Array.from(y2!.data as Float32Array)).toEqual([Math.fround(a * 4 + c)]);
    // The legacy init op ran (it assigns the asset file name to a string variable).
    expect((await sess.run('filename_tensor:0'))!.toArray()).toBe('foo.txt');
  });

  it('runs what it can: the regress signature needs ParseExample, which weir does not implement', async () => {
    const g = new tf.Graph();
    const sess = new tf.Session({ graph: g });
    const { signatureDefs } = await tf.savedModel.loader.load(sess, ['serve'], EXPORT_DIR);
    const sig = signatureDefs['tensorflow/serving/regress']!;
    const err = await sess.run(sig.outputs!.outputs!.name!, [[sig.inputs!.inputs!.name!, tf.NDArray.from('', 'string')]]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(tf.errors.UnimplementedError);
    expect((err as Error).message).toMatch(/op type 'ParseExample'/);
    // The save/restore subgraph TensorFlow wrote is there as nodes weir does not run.
    expect(g.getOperationByName('save/SaveV2').type).toBe('SaveV2');
    expect(g.getOperationByName('save/RestoreV2').outputs.map((t) => t.dtype)).toEqual(['float32']);
  });

  it('names the available tag sets when the requested one is missing', async () => {
    const sess = new tf.Session({ graph: new tf.Graph() });
    await expect(tf.savedModel.loader.load(sess, ['train'], EXPORT_DIR)).rejects.toThrow(/tags \['train'\] could not be found.*Available tag sets: \['serve'\]/);
    await expect(tf.savedModel.loader.load(sess, ['serve', 'gpu'], EXPORT_DIR)).rejects.toThrow(tf.errors.NotFoundError);
    await expect(tf.savedModel.loader.load(sess, ['serve'], `${EXPORT_DIR}/nope`)).rejects.toThrow(/SavedModel file does not exist/);
    expect(await tf.savedModel.loader.maybeSavedModelDirectory(EXPORT_DIR)).toBe(true);
  });

  it('imports under a scope when asked', async () => {
    const g = new tf.Graph();
    const sess = new tf.Session({ graph: g });
    await tf.savedModel.loader.load(sess, ['serve'], EXPORT_DIR, { importScope: 'hp3' });
    const y = await sess.run('hp3/y:0', [['hp3/x:0', [[2]]]]);
    expect(y!.toArray()).toEqual([[4]]);
  });
});
