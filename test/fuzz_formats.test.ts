// Mutation fuzzing of every reader: whatever the bytes, the result is a successful parse or a typed
// tf.errors.* error -- never another exception, a hang or a huge allocation.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { OpError } from '../src/core/errors.js';
import { BundleIndex, encodeBundle, readTensor } from '../src/io/bundle.js';
import { parseCheckpointState, serializeCheckpointState } from '../src/io/checkpoint.js';
import { decodeEvents, encodeRecord } from '../src/io/events.js';
import { decodeMessage, encodeMessage } from '../src/io/proto.js';
import { readTable, buildTable } from '../src/io/table.js';
import { snappyUncompress } from '../src/io/snappy.js';
import { ioLimits } from '../src/io/tensor_proto.js';
import { randomArray, rng } from './helpers.js';

const snappy = createRequire(import.meta.url)('snappyjs') as { compress(b: Uint8Array): Uint8Array };
const FIXTURE = 'test/fixtures/tensorflow-serving/saved_model_half_plus_three';
const bytesOf = (p: string): Uint8Array => new Uint8Array(readFileSync(p));

/** One random mutation: bit flips, byte overwrites, 0x00/0xff runs, truncation, insertion, deletion, splices. */
function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(r() * n);
  let b = src.slice();
  const rounds = 1 + pick(3);
  for (let k = 0; k < rounds; k++) {
    const at = b.length ? pick(b.length) : 0;
    switch (pick(8)) {
      case 0:
        if (b.length) b[at]! ^= 1 << pick(8);
        break;
      case 1:
        if (b.length) b[at] = pick(256);
        break;
      case 2: {
        const n = 1 + pick(9);
        b.fill(r() < 0.5 ? 0xff : 0, at, Math.min(b.length, at + n));
        break;
      }
      case 3:
        b = b.slice(0, at);
        break;
      case 4: {
        const ins = Uint8Array.from({ length: 1 + pick(8) }, () => pick(256));
        const out = new Uint8Array(b.length + ins.length);
        out.set(b.subarray(0, at));
        out.set(ins, at);
        out.set(b.subarray(at), at + ins.length);
        b = out;
        break;
      }
      case 5: {
        const end = Math.min(b.length, at + 1 + pick(8));
        const out = new Uint8Array(b.length - (end - at));
        out.set(b.subarray(0, at));
        out.set(b.subarray(end), at);
        b = out;
        break;
      }
      case 6: {
        // Copy a chunk of the file over another place (keeps plausible structure).
        const from = pick(b.length || 1);
        const n = 1 + pick(16);
        b.copyWithin(at, from, from + n);
        break;
      }
      default:
        // A varint-looking large number.
        if (b.length > 5) b.set([0xff, 0xff, 0xff, 0xff, 0x0f], Math.min(at, b.length - 5));
    }
  }
  return b;
}

interface Tally {
  ok: number;
  errors: Map<string, number>;
}

/** Runs `parse` on many mutations of `src`; anything thrown must be a tf.errors.* error. */
async function fuzz(name: string, src: Uint8Array, n: number, seed: number, parse: (b: Uint8Array) => unknown | Promise<unknown>): Promise<Tally> {
  const r = rng(seed);
  const tally: Tally = { ok: 0, errors: new Map() };
  for (let i = 0; i < n; i++) {
    const b = mutate(src, r);
    try {
      await parse(b);
      tally.ok++;
    } catch (e) {
      if (!(e instanceof OpError)) {
        throw new Error(`${name}: mutation ${i} (seed ${seed}) threw a non-typed ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? String(e)}`);
      }
      tally.errors.set(e.constructor.name, (tally.errors.get(e.constructor.name) ?? 0) + 1);
    }
  }
  return tally;
}

function readBundle(index: Uint8Array, data: Uint8Array): string {
  const bi = new BundleIndex(index);
  return bi.names().map((name) => `${name}=${readTensor(bi.entry(name), data, 'data').toString()}`).join(';');
}

/** Reads with a mutated data file: a read that succeeds must give the original values (the change was past every tensor). */
function sameValues(index: Uint8Array, data: Uint8Array): (b: Uint8Array) => void {
  const want = readBundle(index, data);
  return (b) => {
    if (readBundle(index, b) !== want) throw new Error('a corrupted data file was read without an error');
  };
}

const savedLimit = ioLimits.maxBroadcastElements;
beforeAll(() => {
  // Mutated shapes may ask for big broadcast constants: keep each allocation small while fuzzing.
  ioLimits.maxBroadcastElements = 1 << 16;
});
afterAll(() => {
  ioLimits.maxBroadcastElements = savedLimit;
});

describe('fuzzing the readers', () => {
  it('checkpoint index and data written by TensorFlow', async () => {
    const index = bytesOf(`${FIXTURE}/variables/variables.index`);
    const data = bytesOf(`${FIXTURE}/variables/variables.data-00000-of-00001`);
    const t1 = await fuzz('fixture index', index, 1500, 1, (b) => readBundle(b, data));
    const t2 = await fuzz('fixture data', data, 300, 2, sameValues(index, data));
    // Checksums catch essentially every mutation of the index, and every mutation of the bytes of a tensor.
    expect(t1.errors.get('DataLossError')).toBeGreaterThan(1000);
    expect(t2.errors.get('DataLossError')).toBeGreaterThan(250);
  });

  it('checkpoints written by weir (every dtype, several blocks, Snappy-compressed blocks)', async () => {
    const tensors: [string, tf.NDArray][] = [];
    for (let i = 0; i < 40; i++) tensors.push([`layer_${i % 7}/var_${i}`, randomArray([3, 1 + (i % 4)], { seed: i })]);
    tensors.push(['ints', randomArray([5], { dtype: 'int32', seed: 1, min: -100, max: 100 })]);
    tensors.push(['longs', randomArray([4], { dtype: 'int64', seed: 2, min: -100, max: 100 })]);
    tensors.push(['flags', randomArray([6], { dtype: 'bool', seed: 3 })]);
    tensors.push(['words', tf.NDArray.from(['a', 'bc', '', 'def'], 'string')]);
    const plain = encodeBundle(tensors, { blockSize: 256 });
    const packed = encodeBundle(tensors, { blockSize: 256, compress: (raw) => snappy.compress(raw) });
    await fuzz('weir index', plain.index, 800, 3, (b) => readBundle(b, plain.data));
    await fuzz('weir compressed index', packed.index, 800, 4, (b) => readBundle(b, packed.data));
    const t = await fuzz('weir data', plain.data, 400, 5, sameValues(plain.index, plain.data));
    expect(t.errors.get('DataLossError')).toBe(400 - t.ok);
  });

  it('Snappy blocks and tables', async () => {
    const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog; '.repeat(40));
    await fuzz('snappy', snappy.compress(text), 1000, 6, (b) => snappyUncompress(b));
    const table = buildTable(
      Array.from({ length: 100 }, (_, i) => ({ key: new TextEncoder().encode(`key${String(i).padStart(4, '0')}`), value: Uint8Array.of(i) })),
      { blockSize: 128 },
    );
    await fuzz('table', table, 800, 7, (b) => readTable(b));
  });

  it("the fixture's saved_model.pb: parse and import into a graph", async () => {
    const pb = bytesOf(`${FIXTURE}/saved_model.pb`);
    const t = await fuzz('saved_model.pb', pb, 600, 8, (b) => {
      const sm = decodeMessage('SavedModel', b);
      for (const mg of sm.meta_graphs ?? []) {
        tf.importGraphDef(mg.graph_def ?? {}, { graph: new tf.Graph(), opList: mg.meta_info_def?.stripped_op_list?.op ?? [] });
      }
    });
    expect(t.ok + [...t.errors.values()].reduce((a, b) => a + b, 0)).toBe(600);
  });

  it('GraphDefs written by weir: parse, import and run', async () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [null, 3], 'x');
      const w = tf.constant(randomArray([3, 2], { seed: 1 }), 'float32', undefined, 'w');
      const y = tf.nn.relu(tf.add(tf.matmul(x, w), tf.constant([0.5, -0.5], 'float32')), 'y');
      tf.reduceMean(tf.transpose(y, [1, 0]), [1], false, 'out');
    });
    const bytes = encodeMessage('GraphDef', g.toGraphDef());
    const feed = randomArray([2, 3], { seed: 2 });
    await fuzz('graphdef', bytes, 500, 9, async (b) => {
      const g2 = new tf.Graph();
      tf.importGraphDef(b, { graph: g2, name: '' });
      if (g2.hasOperation('out') && g2.hasOperation('x')) {
        await new tf.Session({ graph: g2 }).run('out:0', [['x:0', feed]]);
      }
    });
  });

  it('event files and checkpoint state files', async () => {
    const events = [
      encodeRecord(encodeMessage('Event', { wall_time: 1, file_version: 'brain.Event:2' })),
      encodeRecord(encodeMessage('Event', { wall_time: 2, step: 3, summary: { value: [{ tag: 'a', simple_value: 1 }] } })),
    ];
    const file = new Uint8Array(events[0]!.length + events[1]!.length);
    file.set(events[0]!);
    file.set(events[1]!, events[0]!.length);
    const t = await fuzz('events', file, 800, 10, (b) => decodeEvents(b));
    expect(t.errors.get('DataLossError')).toBeGreaterThan(700);
    const state = new TextEncoder().encode(serializeCheckpointState({ modelCheckpointPath: 'm-2', allModelCheckpointPaths: ['m-1', 'm-2'] }));
    await fuzz('checkpoint state', state, 500, 11, (b) => parseCheckpointState(new TextDecoder().decode(b)));
  });
});
