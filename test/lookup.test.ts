import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as L from '../src/api/lookup.js';
import { tfjs } from './helpers.js';

type TFJS = Awaited<ReturnType<typeof tfjs>>;
let T: TFJS;
beforeAll(async () => {
  T = await tfjs();
});

const nums = (a: tf.NDArray): number[] => Array.from(a.data as ArrayLike<number | bigint>, Number);
const strings = (values: string[], shape = [values.length]): tf.NDArray => tf.NDArray.from(values, 'string', shape);

/** Builds in a fresh graph and runs with one session, closed afterwards. */
async function withSession<R>(build: () => R, body: (sess: tf.Session, built: R) => Promise<void>): Promise<void> {
  const g = new tf.Graph();
  const built = g.asDefault(build);
  const sess = new tf.Session({ graph: g });
  try {
    await body(sess, built);
  } finally {
    sess.close();
  }
}

describe('HashTableV2 through tf.lookup.StaticHashTable', () => {
  it('maps string keys to int64 ids after tables_initializer, the default for missing keys', async () => {
    await withSession(
      () => {
        const table = new L.StaticHashTable(new L.KeyValueTensorInitializer(['a', 'b', 'c'], [5, 6, 7]), -1);
        const keys = tf.placeholder('string', [null, 2], 'keys');
        return { table, keys, out: table.lookup(keys), size: table.size(), init: L.tablesInitializer() };
      },
      async (sess, { table, keys, out, size, init }) => {
        expect(table.resourceHandle.op.type).toBe('HashTableV2');
        expect(table.initializer.type).toBe('InitializeTableV2');
        expect(out.op.type).toBe('LookupTableFindV2');
        expect(out.dtype).toBe('int64');
        expect(out.shape).toEqual([null, 2]);
        await expect(sess.run(out, [[keys, strings(['a', 'x'], [1, 2])]])).rejects.toThrow(/not initialized/);
        await sess.run(init);
        const r = (await sess.run(out, [[keys, strings(['a', 'zz', 'c', 'b', '', 'c'], [3, 2])]])) as tf.NDArray;
        expect(r.shape).toEqual([3, 2]);
        expect(nums(r)).toEqual([5, -1, 7, 6, -1, 7]);
        expect(nums((await sess.run(size)) as tf.NDArray)).toEqual([3]);
        // Initializing again with the same entries changes nothing.
        await sess.run(init);
        expect(nums((await sess.run(size)) as tf.NDArray)).toEqual([3]);
      },
    );
  });

  it('keeps tables per session: another session on the graph has its own, uninitialized', async () => {
    const g = new tf.Graph();
    const { out, init } = g.asDefault(() => {
      const table = new L.StaticHashTable(new L.KeyValueTensorInitializer(tf.constant([1, 2], 'int32'), tf.constant([0.5, 1.5], 'float32')), 9);
      return { out: table.lookup(tf.constant([2, 3], 'int32')), init: L.tablesInitializer() };
    });
    const s1 = new tf.Session({ graph: g });
    const s2 = new tf.Session({ graph: g });
    try {
      await s1.run(init);
      expect(nums((await s1.run(out)) as tf.NDArray)).toEqual([1.5, 9]);
      await expect(s2.run(out)).rejects.toThrow(/not initialized/);
    } finally {
      s1.close();
      s2.close();
    }
  });

  it('tables with one shared_name share contents; different data for an initialized table is an error', async () => {
    await withSession(
      () => {
        const a = new L.StaticHashTable(new L.KeyValueTensorInitializer(tf.constant([1, 2], 'int64'), strings(['one', 'two'])), '?', { sharedName: 'vocab' });
        const b = new L.StaticHashTable(new L.KeyValueTensorInitializer(tf.constant([1], 'int64'), strings(['uno'])), '?', { sharedName: 'vocab' });
        return { a, b, viaB: b.lookup(tf.constant([2, 1, 4], 'int64')) };
      },
      async (sess, { a, b, viaB }) => {
        await sess.run(a.initializer);
        expect(((await sess.run(viaB)) as tf.NDArray).toFlat()).toEqual(['two', 'one', '?']);
        await expect(sess.run(b.initializer)).rejects.toThrow(/already initialized with different data/);
      },
    );
  });

  it('a key given twice with two values is an error; with one value it is fine', async () => {
    await withSession(
      () => [
        new L.StaticHashTable(new L.KeyValueTensorInitializer(['k', 'k'], tf.constant([1, 2], 'int64')), -1),
        new L.StaticHashTable(new L.KeyValueTensorInitializer(['k', 'k'], tf.constant([1, 1], 'int64')), -1),
      ],
      async (sess, [bad, ok]) => {
        await expect(sess.run(bad!.initializer)).rejects.toThrow(/different value for same key/);
        await sess.run(ok!.initializer);
        expect(nums((await sess.run(ok!.size())) as tf.NDArray)).toEqual([1]);
      },
    );
  });

  it('shape functions reject wrong key dtypes, non-scalar defaults and non-handles', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const t = new L.StaticHashTable(new L.KeyValueTensorInitializer(['a'], tf.constant([1], 'int64')), -1);
      expect(() => t.lookup(tf.constant([1], 'int32'))).toThrow(/keys are int32/);
      expect(() => g.createOp('LookupTableFindV2', [t.resourceHandle, tf.constant(strings(['a'])), tf.constant([1, 2], 'int64')], { Tin: 'string', Tout: 'int64' })).toThrow(/rank 0/);
      expect(() => g.createOp('LookupTableSizeV2', [tf.constant(1, 'int32')], {})).toThrow(/table handle/);
      expect(() => g.createOp('HashTableV2', [], { key_dtype: 'bool', value_dtype: 'int64', shared_name: '', container: '', use_node_name_sharing: false })).toThrow(/not supported/);
    });
  });
});

describe('v1 table ops (HashTable, InitializeTable, LookupTableFind/Size/Import)', () => {
  it('run like their V2 forms; LookupTableImport replaces the contents', async () => {
    await withSession(
      () => {
        const g = tf.getDefaultGraph();
        const h = g.createOp('HashTable', [], { container: '', shared_name: '', use_node_name_sharing: false, key_dtype: 'int64', value_dtype: 'float32' }, { name: 'table' }).outputs[0]!;
        const init = g.createOp('InitializeTable', [h, tf.constant([3, 4], 'int64'), tf.constant([0.5, 0.25], 'float32')], { Tkey: 'int64', Tval: 'float32' });
        const imp = g.createOp('LookupTableImport', [h, tf.constant([7], 'int64'), tf.constant([2], 'float32')], { Tin: 'int64', Tout: 'float32' });
        const find = g.createOp('LookupTableFind', [h, tf.constant([3, 7], 'int64'), tf.constant(-1, 'float32')], { Tin: 'int64', Tout: 'float32' }).outputs[0]!;
        const size = g.createOp('LookupTableSize', [h], {}).outputs[0]!;
        return { init, imp, find, size };
      },
      async (sess, { init, imp, find, size }) => {
        await sess.run(init);
        expect(nums((await sess.run(find)) as tf.NDArray)).toEqual([0.5, -1]);
        await sess.run(imp);
        expect(nums((await sess.run(find)) as tf.NDArray)).toEqual([-1, 2]);
        expect(nums((await sess.run(size)) as tf.NDArray)).toEqual([1]);
      },
    );
  });
});

describe('tf.contrib.lookup.index_table_from_tensor', () => {
  it('maps the vocabulary to its positions and other strings to FarmHash OOV buckets after it', async () => {
    const vocab = ['emerson', 'lake', 'palmer'];
    const keys = ['lake', 'tarkus', 'palmer', 'emerson', 'trilogy'];
    await withSession(
      () => {
        const t = L.indexTableFromTensor(vocab, { numOovBuckets: 4 });
        const plain = L.indexTableFromTensor(vocab);
        return { ids: t.lookup(keys), size: t.size(), plainIds: plain.lookup(keys), init: L.tablesInitializer() };
      },
      async (sess, { ids, size, plainIds, init }) => {
        await sess.run(init);
        const [r, s, p] = await sess.run([ids, size, plainIds]);
        const buckets = Array.from(await T.string.stringToHashBucketFast(keys, 4).data());
        expect(nums(r!)).toEqual(keys.map((k, i) => (vocab.includes(k) ? vocab.indexOf(k) : 3 + buckets[i]!)));
        expect(nums(s!)).toEqual([7]);
        expect(nums(p!)).toEqual([1, -1, 2, 0, -1]);
      },
    );
  });
});

describe('GraphDef round trip', () => {
  it('a table graph exports, imports and runs (init by name, then lookup)', async () => {
    const g1 = new tf.Graph();
    g1.asDefault(() => {
      const t = new L.StaticHashTable(new L.KeyValueTensorInitializer(['x', 'y'], tf.constant([10, 20], 'int64')), -7, { name: 'words' });
      tf.identity(t.lookup(tf.placeholder('string', [null], 'k')), 'ids');
      tf.identity(t.size(), 'n');
      L.tablesInitializer();
    });
    const g2 = new tf.Graph();
    const [k, ids, n, init] = g2.asDefault(() => tf.importGraphDef(g1.toGraphDef(), { returnElements: ['k:0', 'ids:0', 'n:0', 'init_all_tables'] })) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Operation];
    const sess = new tf.Session({ graph: g2 });
    try {
      await sess.run(init);
      const [r, s] = await sess.run([ids, n], [[k, strings(['y', 'q', 'x'])]]);
      expect(nums(r!)).toEqual([20, -7, 10]);
      expect(nums(s!)).toEqual([2]);
    } finally {
      sess.close();
    }
  });
});
