// Names read from files are data: an op type, node, attr, collection or variable called
// '__proto__' or 'constructor' must behave like any other unknown name, never reach
// Object.prototype.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { CheckpointReader } from '../src/io/checkpoint.js';
import { encodeMessage, type GraphDef } from '../src/io/proto.js';

const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
const F32 = { type: 1 };
const SCALAR = { shape: { dim: [] } };
const root = mkdtempSync(join(tmpdir(), 'weir-proto-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function importInto(gd: GraphDef): tf.Graph {
  const g = new tf.Graph();
  tf.importGraphDef(encodeMessage('GraphDef', gd), { graph: g, name: '' });
  return g;
}

describe.each(KEYS)("a GraphDef naming '%s'", (key) => {
  it('as an op type: imported as an unknown op; reading its output or running it names the op type', async () => {
    const g = importInto({ node: [{ name: 'a', op: key }] });
    expect(g.getOperationByName('a').type).toBe(key);
    await expect(new tf.Session({ graph: g }).run('a')).rejects.toThrow(new RegExp(`op type '${key}'`));
    expect(() => importInto({ node: [{ name: 'a', op: key }, { name: 'b', op: 'Identity', input: ['a'], attr: { T: F32 } }] })).toThrow(
      new RegExp(`unknown op type '${key}'`),
    );
    try {
      importInto({ node: [{ name: 'a', op: key }, { name: 'b', op: 'Identity', input: ['a'], attr: { T: F32 } }] });
    } catch (e) {
      expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
    }
  });

  it('as a node name: an ordinary node that runs', async () => {
    const g = importInto({
      node: [
        { name: key, op: 'Placeholder', attr: { dtype: F32, shape: SCALAR } },
        { name: 'b', op: 'Identity', input: [key], attr: { T: F32 } },
      ],
    });
    const out = await new tf.Session({ graph: g }).run('b:0', [[`${key}:0`, 2.5]]);
    expect(out!.toFlat()).toEqual([2.5]);
    expect(() => importInto({ node: [{ name: 'b', op: 'Identity', input: [key], attr: { T: F32 } }] })).toThrow(tf.errors.InvalidArgumentError);
  });

  it('as an attr name: kept as the node\'s own attr and written back on export', () => {
    const g = importInto({ node: [{ name: 'x', op: 'Placeholder', attr: { dtype: F32, shape: SCALAR, [key]: { i: 3 } } as never }] });
    const op = g.getOperationByName('x');
    expect(Object.hasOwn(op.attrs, key)).toBe(true);
    expect(op.attrs[key]).toBe(3);
    const back = g.toGraphDef().node![0]!.attr!;
    expect(Object.hasOwn(back, key)).toBe(true);
    expect(Number(back[key]!.i)).toBe(3);
  });
});

describe('checkpoints and SavedModels with prototype-key names', () => {
  it("a variable named 'constructor' saves, lists and restores as itself", async () => {
    const g = new tf.Graph();
    const { v, saver } = g.asDefault(() => {
      const v = new tf.Variable(tf.constant([1, 2, 3]), { name: 'constructor' });
      return { v, saver: new tf.train.Saver() };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(v.initializer);
    const prefix = await saver.save(sess, join(root, 'ckpt'));
    const reader = await CheckpointReader.open(prefix);
    const dtypes = reader.getVariableToDtypeMap();
    expect(Object.hasOwn(dtypes, 'constructor')).toBe(true);
    expect(dtypes.constructor).toBe('float32');
    const sess2 = new tf.Session({ graph: g });
    await saver.restore(sess2, prefix);
    expect((await sess2.run(v)).toFlat()).toEqual([1, 2, 3]);
  });
});
