// tf.train.Saver and checkpoint reading (V2 format), against the files TensorFlow wrote and our own.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import {
  CheckpointReader,
  getCheckpointState,
  getFileSystem,
  latestCheckpoint,
  listVariables,
  loadVariable,
  parseCheckpointState,
  Saver,
  type FileSystem,
} from '../src/io/index.js';
import { randomArray } from './helpers.js';

const FIXTURE_VARS = 'test/fixtures/tensorflow-serving/saved_model_half_plus_three/variables/variables';
const root = mkdtempSync(join(tmpdir(), 'weir-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (): string => join(root, `d${dirCount++}`);

function model(g: tf.Graph) {
  return g.asDefault(() => {
    const w = new tf.Variable(randomArray([3, 4], { seed: 1 }), { name: 'w' });
    const b = new tf.Variable(tf.NDArray.from([1, 2, 3, 4], 'float32'), { name: 'layer/b' });
    const step = new tf.Variable(tf.NDArray.from(0n, 'int64'), { name: 'global_step', trainable: false });
    const count = new tf.Variable(tf.NDArray.from([7, -8], 'int32'), { name: 'count' });
    const flag = new tf.Variable(tf.NDArray.from([true, false, true]), { name: 'flag' });
    const words = new tf.Variable(tf.NDArray.from(['alpha', '', 'γ'], 'string'), { name: 'words' });
    return { w, b, step, count, flag, words, all: [w, b, step, count, flag, words] };
  });
}

async function values(sess: tf.Session, vars: tf.Variable[]): Promise<unknown[]> {
  const vs = await sess.run(vars.map((v) => v.value()));
  return vs.map((v) => v.toArray());
}

describe('Saver', () => {
  it('saves and restores every variable exactly (all dtypes), into a fresh graph built the same way', async () => {
    const dir = freshDir();
    const g1 = new tf.Graph();
    const m1 = model(g1);
    const s1 = new tf.Session({ graph: g1 });
    await s1.run(g1.asDefault(() => tf.globalVariablesInitializer()));
    const before = await values(s1, m1.all);
    const saver = g1.asDefault(() => new Saver());
    const path = await saver.save(s1, `${dir}/model.ckpt`, { globalStep: 42 });
    expect(path).toBe(`${dir}/model.ckpt-42`);
    expect(readdirSync(dir).sort()).toEqual(['checkpoint', 'model.ckpt-42.data-00000-of-00001', 'model.ckpt-42.index', 'model.ckpt-42.meta']);

    const g2 = new tf.Graph();
    const m2 = model(g2);
    const s2 = new tf.Session({ graph: g2 });
    // Different initial values, overwritten by the restore (no initializer run needed).
    await g2.asDefault(() => new Saver()).restore(s2, path);
    expect(await values(s2, m2.all)).toEqual(before);
    // The restore ops are built once, by the constructor, under 'save/'.
    const saver2 = g2.asDefault(() => new Saver());
    const n = g2.numOps;
    expect(g2.getOperationByName('save_1/restore_all').type).toBe('NoOp');
    await saver2.restore(s2, path);
    await saver2.restore(s2, path);
    expect(g2.numOps).toBe(n);
  });

  it('is keyed by op names, or by the keys of a map', async () => {
    const dir = freshDir();
    const g = new tf.Graph();
    const m = model(g);
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    await new Saver([m.w, m.b]).save(sess, `${dir}/a`);
    expect((await listVariables(`${dir}/a`)).map(([n]) => n)).toEqual(['layer/b', 'w']);
    await new Saver({ 'renamed/kernel': m.w }).save(sess, `${dir}/b`);
    expect(await listVariables(`${dir}/b`)).toEqual([['renamed/kernel', [3, 4]]]);
    const v = await loadVariable(`${dir}/b`, 'renamed/kernel');
    expect(v.toArray()).toEqual((await sess.run(m.w.value())).toArray());
    expect(() => new Saver([])).toThrow(/No variables to save/);
  });

  it('writes the checkpoint state file in text format and keeps maxToKeep checkpoints', async () => {
    const dir = freshDir();
    const g = new tf.Graph();
    const m = model(g);
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const saver = new Saver(m.all, { maxToKeep: 2 });
    for (const step of [1, 2, 3]) await saver.save(sess, `${dir}/model`, { globalStep: step });
    const text = readFileSync(`${dir}/checkpoint`, 'utf8');
    expect(text).toBe(
      'model_checkpoint_path: "model-3"\n' + 'all_model_checkpoint_paths: "model-2"\n' + 'all_model_checkpoint_paths: "model-3"\n',
    );
    expect(existsSync(`${dir}/model-1.index`)).toBe(false);
    expect(existsSync(`${dir}/model-1.data-00000-of-00001`)).toBe(false);
    expect(existsSync(`${dir}/model-2.index`)).toBe(true);
    expect(await latestCheckpoint(dir)).toBe(`${dir}/model-3`);
    expect(await getCheckpointState(dir)).toEqual({
      modelCheckpointPath: `${dir}/model-3`,
      allModelCheckpointPaths: [`${dir}/model-2`, `${dir}/model-3`],
    });
    expect(saver.lastCheckpoints).toEqual([`${dir}/model-2`, `${dir}/model-3`]);
    // A directory works where a prefix is expected.
    expect((await listVariables(dir)).length).toBe(6);
    // The global step as a variable.
    await sess.run(g.asDefault(() => m.step.assign(tf.NDArray.from(9n, 'int64'))));
    expect(await saver.save(sess, `${dir}/model`, { globalStep: m.step })).toBe(`${dir}/model-9`);
    expect(await latestCheckpoint(freshDir())).toBeNull();
  });

  it('parses state files with absolute paths and rejects malformed ones', () => {
    const s = parseCheckpointState('model_checkpoint_path: "/abs/m-1"\nall_model_checkpoint_paths: "/abs/m-1"\n');
    expect(s).toEqual({ modelCheckpointPath: '/abs/m-1', allModelCheckpointPaths: ['/abs/m-1'] });
    expect(() => parseCheckpointState('model_checkpoint_path: ')).toThrow(tf.errors.InvalidArgumentError);
    expect(() => parseCheckpointState('bogus_field: "x"')).toThrow(tf.errors.InvalidArgumentError);
    expect(() => parseCheckpointState('')).toThrow(/model_checkpoint_path is empty/);
  });

  it('names a missing variable, or one of another shape or dtype, and restores nothing', async () => {
    const dir = freshDir();
    const g1 = new tf.Graph();
    const s1 = new tf.Session({ graph: g1 });
    const [a1] = g1.asDefault(() => [new tf.Variable(tf.NDArray.from([1, 2], 'float32'), { name: 'a' }), new tf.Variable(tf.NDArray.from(5, 'int32'), { name: 'n' })]);
    await s1.run(g1.asDefault(() => tf.globalVariablesInitializer()));
    const path = await g1.asDefault(() => new Saver()).save(s1, `${dir}/ck`);
    void a1;

    const build = (shape: number[], dtype: tf.DType, extra: boolean) => {
      const g = new tf.Graph();
      const vars = g.asDefault(() => {
        const vs = [
          new tf.Variable(tf.NDArray.zeros(shape, dtype), { name: 'a' }),
          new tf.Variable(tf.NDArray.from(0, 'int32'), { name: 'n' }),
        ];
        if (extra) vs.push(new tf.Variable(tf.NDArray.from(0, 'float32'), { name: 'missing' }));
        return vs;
      });
      return { g, vars, sess: new tf.Session({ graph: g }) };
    };
    const cases: [number[], tf.DType, boolean, RegExp, new (...a: never[]) => Error][] = [
      [[2], 'float32', true, /variable 'missing' is not in the checkpoint/, tf.errors.NotFoundError],
      [[3], 'float32', false, /variable 'a' has shape \[3\] in the graph but \[2\] in the checkpoint/, tf.errors.InvalidArgumentError],
      [[2], 'int32', false, /variable 'a' is int32 in the graph but float32 in the checkpoint/, tf.errors.InvalidArgumentError],
    ];
    for (const [shape, dtype, extra, msg, cls] of cases) {
      const { g, vars, sess } = build(shape, dtype, extra);
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      const saver = g.asDefault(() => new Saver());
      const err = await saver.restore(sess, path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(cls);
      expect((err as Error).message).toMatch(msg);
      // 'n' is fine in the checkpoint (5) but was not restored: still 0.
      expect((await sess.run(vars[1]!.value())).toArray()).toBe(0);
    }
    const g = new tf.Graph();
    const sess = new tf.Session({ graph: g });
    g.asDefault(() => new tf.Variable(tf.NDArray.from([0, 0], 'float32'), { name: 'a' }));
    await expect(g.asDefault(() => new Saver()).restore(sess, `${dir}/nothing-here`)).rejects.toThrow(tf.errors.NotFoundError);
  });

  it('is atomic: a failure during save leaves the previous checkpoint and state file intact', async () => {
    const dir = freshDir();
    const g = new tf.Graph();
    const v = g.asDefault(() => new tf.Variable(tf.NDArray.from([1, 2, 3], 'float32'), { name: 'v' }));
    const sess = new tf.Session({ graph: g });
    await sess.run(v.initializer);
    const node = await getFileSystem();
    for (const failOn of ['writeFile:index', 'rename:index', 'rename:data', 'writeFile:checkpoint', 'rename:checkpoint'] as const) {
      let armed = false;
      const [method, which] = failOn.split(':') as ['writeFile' | 'rename', string];
      const failing: FileSystem = {
        ...node,
        async writeFile(p, d) {
          if (armed && method === 'writeFile' && p.includes(which === 'checkpoint' ? '/checkpoint' : `.${which}`)) throw new tf.errors.UnknownError(`injected failure writing ${p}`);
          return node.writeFile(p, d);
        },
        async rename(a, b) {
          if (armed && method === 'rename' && b.includes(which === 'checkpoint' ? '/checkpoint' : `.${which}`)) throw new tf.errors.UnknownError(`injected failure renaming ${a}`);
          return node.rename(a, b);
        },
      };
      const saver = new Saver([v], { fileSystem: failing });
      const sub = `${dir}/${method}-${which}`;
      await saver.save(sess, `${sub}/m`, { globalStep: 1 });
      const stateBefore = readFileSync(`${sub}/checkpoint`, 'utf8');
      await sess.run(g.asDefault(() => v.assign(tf.NDArray.from([9, 9, 9], 'float32'))));
      armed = true;
      await expect(saver.save(sess, `${sub}/m`, { globalStep: 2 })).rejects.toThrow(/injected failure/);
      armed = false;
      // The state file still names step 1, which restores the old values; no temporary files remain.
      expect(readFileSync(`${sub}/checkpoint`, 'utf8')).toBe(stateBefore);
      expect(await latestCheckpoint(sub)).toBe(`${sub}/m-1`);
      expect(readdirSync(sub).filter((n) => n.includes('tempstate') || n.includes('.tmp'))).toEqual([]);
      await sess.run(g.asDefault(() => v.assign(tf.NDArray.from([0, 0, 0], 'float32'))));
      await saver.restore(sess, `${sub}/m-1`);
      expect((await sess.run(v.value())).toArray()).toEqual([1, 2, 3]);
    }
  });

  it('restores a tf.layers model by name into a fresh graph built the same way', async () => {
    const dir = freshDir();
    const build = () => {
      const g = new tf.Graph();
      const out = g.asDefault(() => {
        const x = tf.placeholder('float32', [null, 4], 'x');
        const h = tf.layers.dense(x, 8, { activation: tf.nn.relu });
        return { x, y: tf.layers.dense(h, 2) };
      });
      return { g, ...out, sess: new tf.Session({ graph: g }) };
    };
    const a = build();
    await a.sess.run(a.g.asDefault(() => tf.globalVariablesInitializer()));
    const input = randomArray([5, 4], { seed: 3 });
    const ya = await a.sess.run(a.y, [[a.x, input]]);
    const path = await a.g.asDefault(() => new Saver()).save(a.sess, `${dir}/mlp`);
    expect((await listVariables(path)).map(([n, s]) => `${n}${JSON.stringify(s)}`)).toEqual([
      'dense/bias[8]',
      'dense/kernel[4,8]',
      'dense_1/bias[2]',
      'dense_1/kernel[8,2]',
    ]);
    const b = build();
    await b.g.asDefault(() => new Saver()).restore(b.sess, path);
    const yb = await b.sess.run(b.y, [[b.x, input]]);
    expect(Array.from(yb.data as Float32Array)).toEqual(Array.from(ya.data as Float32Array));
  });
});

describe('reading TensorFlow checkpoints', () => {
  it('lists and loads the fixture variables', async () => {
    expect(await listVariables(FIXTURE_VARS)).toEqual([
      ['a', []],
      ['b', []],
      ['c', []],
    ]);
    const reader = await CheckpointReader.open(FIXTURE_VARS);
    expect(reader.getVariableToDtypeMap()).toEqual({ a: 'float32', b: 'float32', c: 'float32' });
    // The values are the float32s stored little-endian in the data file.
    const raw = readFileSync(`${FIXTURE_VARS}.data-00000-of-00001`);
    const expected = [0, 1, 2].map((i) => raw.readFloatLE(4 * i));
    for (const [i, n] of ['a', 'b', 'c'].entries()) expect((await loadVariable(FIXTURE_VARS, n)).toArray()).toBe(expected[i]);
    await expect(loadVariable(FIXTURE_VARS, 'zzz')).rejects.toThrow(/Key zzz not found in checkpoint/);
  });

  it('restores the fixture checkpoint into variables built by weir', async () => {
    const g = new tf.Graph();
    const [a, b, c] = g.asDefault(() => ['a', 'b', 'c'].map((n) => new tf.Variable(tf.NDArray.from(0, 'float32'), { name: n })));
    const sess = new tf.Session({ graph: g });
    await g.asDefault(() => new Saver()).restore(sess, FIXTURE_VARS);
    const vals = (await sess.run([a!.value(), b!.value(), c!.value()])).map((v) => v.toArray());
    expect(vals).toEqual(await Promise.all(['a', 'b', 'c'].map(async (n) => (await loadVariable(FIXTURE_VARS, n)).toArray())));
  });

  it('turns a corrupted checkpoint into a DataLossError before restoring anything', async () => {
    const dir = freshDir();
    const g = new tf.Graph();
    const v = g.asDefault(() => new tf.Variable(tf.NDArray.from([1, 2, 3, 4], 'float32'), { name: 'v' }));
    const sess = new tf.Session({ graph: g });
    await sess.run(v.initializer);
    const saver = new Saver([v]);
    const path = await saver.save(sess, `${dir}/m`);
    const data = readFileSync(`${path}.data-00000-of-00001`);
    data[5]! ^= 0x40;
    writeFileSync(`${path}.data-00000-of-00001`, data);
    await sess.run(g.asDefault(() => v.assign(tf.NDArray.from([0, 0, 0, 0], 'float32'))));
    await expect(saver.restore(sess, path)).rejects.toThrow(tf.errors.DataLossError);
    expect((await sess.run(v.value())).toArray()).toEqual([0, 0, 0, 0]);
    const index = readFileSync(`${path}.index`);
    writeFileSync(`${path}.index`, index.subarray(0, index.length - 3));
    await expect(saver.restore(sess, path)).rejects.toThrow(tf.errors.DataLossError);
  });
});
