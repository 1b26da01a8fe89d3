// tf.summary ops and the event files FileWriter writes for TensorBoard.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode as decodePng } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { decodeMessage, int64ToNumber, type EventProto, type SummaryProto } from '../src/io/proto.js';
import { randomArray } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'weir-events-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function runSummary(g: tf.Graph, t: tf.Tensor, feeds?: tf.FeedDict): Promise<SummaryProto> {
  const out = await new tf.Session({ graph: g }).run(t, feeds);
  expect(out.dtype).toBe('string');
  expect(out.shape).toEqual([]);
  return decodeMessage('Summary', (out.data as Uint8Array[])[0]!);
}

/** Bitwise CRC-32C and LevelDB masking, written independently of src/io for checking event files. */
function crcMasked(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  c = (c ^ 0xffffffff) >>> 0;
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** Parses TFRecord framing by hand, checking both checksums of every record. */
function parseRecordsByHand(buf: Buffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < buf.length) {
    const len = Number(buf.readBigUInt64LE(p));
    expect(buf.readUInt32LE(p + 8)).toBe(crcMasked(buf.subarray(p, p + 8)));
    const data = buf.subarray(p + 12, p + 12 + len);
    expect(buf.readUInt32LE(p + 12 + len)).toBe(crcMasked(data));
    out.push(new Uint8Array(data));
    p += 16 + len;
  }
  expect(p).toBe(buf.length);
  return out;
}

/** TensorFlow's default histogram bucket limits, built independently (linear search below). */
function defaultLimits(): number[] {
  const pos: number[] = [];
  let v = 1e-12;
  while (v < 1e20) {
    pos.push(v);
    v *= 1.1;
  }
  pos.push(Number.MAX_VALUE);
  return [...pos.map((x) => -x).reverse(), 0, ...pos];
}

describe('summary ops', () => {
  it('scalar: ScalarSummary named and tagged by its scope, in the SUMMARIES collection', async () => {
    const g = new tf.Graph();
    const { s1, s2, s3 } = g.asDefault(() => {
      const loss = tf.constant(0.25, 'float32');
      const s1 = tf.summary.scalar('loss', loss);
      const s2 = tf.summary.scalar('loss', tf.constant(7, 'int32'));
      const s3 = tf.summary.scalar('acc uracy', loss, { family: 'train' });
      return { s1, s2, s3 };
    });
    expect(s1.op.type).toBe('ScalarSummary');
    expect([s1.op.name, s2.op.name, s3.op.name]).toEqual(['loss', 'loss_1', 'train/acc_uracy']);
    expect(s1.op.inputs[0]!.op.name).toBe('loss/tags');
    expect(g.getCollection(tf.GraphKeys.SUMMARIES)).toEqual([s1, s2, s3]);
    expect((await runSummary(g, s1)).value).toMatchObject([{ tag: 'loss', simple_value: 0.25 }]);
    expect((await runSummary(g, s2)).value).toMatchObject([{ tag: 'loss_1', simple_value: 7 }]);
    expect((await runSummary(g, s3)).value![0]!.tag).toBe('train/train/acc_uracy');
    expect(() => g.asDefault(() => tf.summary.scalar('v', tf.constant([1, 2], 'float32')))).toThrow(/must be a scalar/);
  });

  it('histogram: TensorFlow default buckets, empty runs collapsed, and its statistics', async () => {
    const g = new tf.Graph();
    const values = randomArray([500], { seed: 2, min: -3, max: 10 });
    const d = values.data as Float32Array;
    d[0] = 0;
    d[1] = 1e-13;
    const h = g.asDefault(() => tf.summary.histogram('weights', tf.constant(values)));
    const s = await runSummary(g, h);
    expect(s.value![0]!.tag).toBe('weights');
    const histo = s.value![0]!.histo!;
    const xs = Array.from(d);
    expect(histo.num).toBe(500);
    expect(histo.min).toBe(Math.min(...xs));
    expect(histo.max).toBe(Math.max(...xs));
    expect(histo.sum).toBeCloseTo(xs.reduce((a, b) => a + b, 0), 6);
    expect(histo.sum_squares).toBeCloseTo(xs.reduce((a, b) => a + b * b, 0), 4);
    // Oracle: linear search for each value's bucket, then TF's collapsing of empty buckets.
    const limits = defaultLimits();
    const counts = new Array<number>(limits.length).fill(0);
    for (const x of xs) counts[limits.findIndex((l) => l > x)]!++;
    const wantLimits: number[] = [];
    const wantCounts: number[] = [];
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0 && i + 1 < counts.length && counts[i + 1] === 0) continue;
      wantLimits.push(limits[i]!);
      wantCounts.push(counts[i]!);
    }
    expect(histo.bucket_limit).toEqual(wantLimits);
    expect(histo.bucket).toEqual(wantCounts);
    // Non-finite values are an error when it runs.
    const bad = g.asDefault(() => tf.summary.histogram('bad', tf.constant([1, NaN], 'float32')));
    await expect(new tf.Session({ graph: g }).run(bad)).rejects.toThrow(/Nan in summary histogram for: bad/);
  });

  it('image: PNGs of the batch, scaled as TensorFlow does, non-finite pixels in bad color', async () => {
    const g = new tf.Graph();
    // Image 0: values 0..255 (max 255 -> scale 1); image 1: -127..127 (scale 1, offset 128) with a NaN pixel.
    const h = 4;
    const w = 8;
    const batch = new Float32Array(3 * h * w * 3);
    for (let i = 0; i < h * w * 3; i++) batch[i] = (i * 7) % 256;
    batch[0] = 255;
    for (let i = 0; i < h * w * 3; i++) batch[h * w * 3 + i] = ((i * 5) % 255) - 127;
    batch[h * w * 3 + 6] = -127;
    batch[h * w * 3 + 9] = NaN;
    const images = new tf.NDArray(batch, [3, h, w, 3]);
    const s = g.asDefault(() => tf.summary.image('input', tf.constant(images), { maxOutputs: 2 }));
    expect(s.op.attrs.max_images).toBe(2);
    const sum = await runSummary(g, s);
    expect(sum.value!.map((v) => v.tag)).toEqual(['input/image/0', 'input/image/1']);
    const px = sum.value!.map((v) => {
      expect(v.image).toMatchObject({ height: h, width: w, colorspace: 3 });
      const png = decodePng(v.image!.encoded_image_string!);
      expect([png.width, png.height, png.channels, png.depth]).toEqual([w, h, 3, 8]);
      return Array.from(png.data);
    });
    expect(px[0]).toEqual(Array.from(batch.subarray(0, h * w * 3)));
    const second = Array.from(batch.subarray(h * w * 3, 2 * h * w * 3), (v) => v + 128);
    second.splice(9, 3, 255, 0, 0); // pixel 3 holds the NaN: opaque red's RGB
    expect(px[1]).toEqual(second);
    const one = g.asDefault(() => tf.summary.image('single', tf.constant(images), { maxOutputs: 1 }));
    expect((await runSummary(g, one)).value!.map((v) => v.tag)).toEqual(['single/image']);
    expect(() => g.asDefault(() => tf.summary.image('bad', tf.constant(randomArray([2, 2, 2]))))).toThrow(/4-D/);
  });

  it('text: TensorSummaryV2 with the text plugin metadata and the strings in string_val', async () => {
    const g = new tf.Graph();
    const t = g.asDefault(() => tf.summary.text('notes', tf.constant(['hello', 'wörld'], 'string')));
    expect(t.op.type).toBe('TensorSummaryV2');
    const v = (await runSummary(g, t)).value![0]!;
    expect(v.tag).toBe('notes');
    expect(v.metadata!.plugin_data!.plugin_name).toBe('text');
    expect(v.tensor!.dtype).toBe(7);
    expect(v.tensor!.string_val!.map((b) => new TextDecoder().decode(b))).toEqual(['hello', 'wörld']);
    expect(() => g.asDefault(() => tf.summary.text('n', tf.constant(1, 'float32')))).toThrow(/string tensor/);
    // Numeric tensors go to tensor_content, little-endian.
    const num = g.asDefault(() => tf.summary.tensorSummary('raw', tf.constant([1, 2], 'int32')));
    const nv = (await runSummary(g, num)).value![0]!;
    expect(Array.from(nv.tensor!.tensor_content!)).toEqual([1, 0, 0, 0, 2, 0, 0, 0]);
  });

  it('merge and mergeAll combine summaries; duplicate tags are an error', async () => {
    const g = new tf.Graph();
    const { merged, all, dup } = g.asDefault(() => {
      const x = tf.placeholder('float32', [], 'x');
      const a = tf.summary.scalar('a', x);
      const b = tf.summary.histogram('b', tf.constant([1, 2, 3], 'float32'));
      tf.summary.scalar('other', x, { collections: ['mine'] });
      return { merged: tf.summary.merge([a, b]), all: tf.summary.mergeAll(), dup: tf.summary.merge([a, a]) };
    });
    expect(merged.op.name).toBe('Merge/MergeSummary');
    expect(all!.op.inputs.length).toBe(2);
    const s = await runSummary(g, all!, [['x:0', 1.5]]);
    expect(s.value!.map((v) => v.tag)).toEqual(['a', 'b']);
    expect(s.value![0]!.simple_value).toBe(1.5);
    expect((await runSummary(g, merged, [['x:0', 2]])).value!.length).toBe(2);
    await expect(new tf.Session({ graph: g }).run(dup, [['x:0', 1]])).rejects.toThrow(/Duplicate tag a found in summary inputs/);
    expect(tf.summary.mergeAll('nothing-here', { graph: g })).toBeNull();
    expect(g.asDefault(() => tf.summary.mergeAll('mine'))!.op.inputs.length).toBe(1);
  });
});

describe('summary op shape functions', () => {
  const op = (g: tf.Graph, type: string, inputs: tf.Tensor[], attrs: Record<string, tf.AttrValue>) => g.createOp(type, inputs, attrs).outputs[0]!;
  it('output a string scalar and check their inputs, with partial shapes', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const tag = tf.constant('t', 'string');
      const tags2 = tf.placeholder('string', [2], 'tags2');
      const vals = tf.placeholder('float32', [null], 'vals');
      const s = op(g, 'ScalarSummary', [tags2, vals], { T: 'float32' });
      expect([s.dtype, s.shape]).toEqual(['string', []]);
      expect(() => op(g, 'ScalarSummary', [tags2, tf.placeholder('float32', [3])], { T: 'float32' })).toThrow(/same shape: \[2\] vs. \[3\]/);
      expect(() => op(g, 'ScalarSummary', [tags2, tf.placeholder('bool', [2])], { T: 'bool' })).toThrow(/values/);
      expect(op(g, 'HistogramSummary', [tag, tf.placeholder('int32', null)], { T: 'int32' }).shape).toEqual([]);
      expect(() => op(g, 'HistogramSummary', [tags2, vals], { T: 'float32' })).toThrow(/tag .* must be a scalar/);
      expect(op(g, 'ImageSummary', [tag, tf.placeholder('float32', [null, null, null, 3])], { T: 'float32', max_images: 3 }).shape).toEqual([]);
      expect(op(g, 'ImageSummary', [tag, tf.placeholder('float32', [2, 5, 5, null])], { T: 'float32', max_images: 1 }).shape).toEqual([]);
      expect(() => op(g, 'ImageSummary', [tag, tf.placeholder('float32', [null, 4, 4, 2])], { T: 'float32', max_images: 3 })).toThrow(/1, 3 or 4 channels/);
      expect(() => op(g, 'ImageSummary', [tag, tf.placeholder('float32', [4, 4, 3])], { T: 'float32', max_images: 3 })).toThrow(/4-D/);
      expect(() => op(g, 'ImageSummary', [tag, tf.placeholder('float32', null)], { T: 'float32', max_images: 0 })).toThrow(/max_images/);
      const meta = tf.constant('', 'string');
      expect(op(g, 'TensorSummaryV2', [tag, vals, meta], { T: 'float32' }).shape).toEqual([]);
      expect(() => op(g, 'TensorSummaryV2', [tag, vals, tags2], { T: 'float32' })).toThrow(/serialized_summary_metadata/);
      expect(op(g, 'MergeSummary', [s, tags2], { N: 2 }).shape).toEqual([]);
      expect(() => op(g, 'MergeSummary', [s, vals], { N: 2 })).toThrow(/inputs\[1\]/);
      expect(() => op(g, 'MergeSummary', [s], { N: 2 })).toThrow(/attr N is 2/);
    });
  });
});

describe('FileWriter', () => {
  it('writes events.out.tfevents.* in TFRecord framing: file_version first, then summaries and the graph', async () => {
    const logdir = join(root, 'run1');
    const g = new tf.Graph();
    const { x, merged } = g.asDefault(() => {
      const x = tf.placeholder('float32', [], 'x');
      tf.summary.scalar('loss', x);
      tf.summary.text('note', tf.constant('hi', 'string'));
      return { x, merged: tf.summary.mergeAll()! };
    });
    const sess = new tf.Session({ graph: g });
    const before = Date.now() / 1000;
    const writer = new tf.summary.FileWriter(logdir, g);
    for (let step = 0; step < 3; step++) writer.addSummary(await sess.run(merged, [[x, step * 0.5]]), step);
    await writer.close();
    const files = readdirSync(logdir);
    expect(files.length).toBe(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d{10}\.[^/]+$/);
    expect(await writer.getFilename()).toBe(join(logdir, files[0]!));
    const records = parseRecordsByHand(readFileSync(join(logdir, files[0]!)));
    const events = records.map((r) => decodeMessage('Event', r)) as EventProto[];
    expect(events.length).toBe(5);
    expect(events[0]!.file_version).toBe('brain.Event:2');
    expect(events[0]!.wall_time!).toBeGreaterThanOrEqual(Math.floor(before) - 1);
    // The graph: a GraphDef that parses back to the graph's nodes.
    const gd = decodeMessage('GraphDef', events[1]!.graph_def!);
    expect(gd.node!.map((n) => n.name)).toEqual(g.getOperations().map((o) => o.name));
    events.slice(2).forEach((e, step) => {
      expect(int64ToNumber(e.step)).toBe(step);
      expect(e.summary!.value![0]).toMatchObject({ tag: 'loss', simple_value: step * 0.5 });
      // The text plugin's metadata goes with the first value of the tag only.
      expect(Boolean(e.summary!.value![1]!.metadata)).toBe(step === 0);
    });
    // The reader in src/io agrees with the hand parse.
    const viaReader = await tf.summary.readEventFile(join(logdir, files[0]!));
    expect(viaReader.length).toBe(5);
    expect(() => writer.addSummary(new Uint8Array(0), 1)).toThrow(/closed/);
  });

  it('flushes when the queue fills and on flush(); events arrive in order', async () => {
    const logdir = join(root, 'run2');
    const writer = new tf.summary.FileWriter(logdir, undefined, { maxQueue: 3, filenameSuffix: '.v2' });
    const path = await writer.getFilename();
    expect(path.endsWith('.v2')).toBe(true);
    for (let i = 0; i < 7; i++) writer.addSummary({ value: [{ tag: 't', simple_value: i }] }, i);
    await writer.flush();
    const events = await tf.summary.readEventFile(path);
    expect(events.slice(1).map((e) => e.summary!.value![0]!.simple_value)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await writer.close();
  });

  it('reports corrupted event files as DataLossError', async () => {
    const logdir = join(root, 'run3');
    const writer = new tf.summary.FileWriter(logdir);
    writer.addSummary({ value: [{ tag: 'x', simple_value: 1 }] }, 1);
    await writer.close();
    const bytes = new Uint8Array(readFileSync(await writer.getFilename()));
    expect(tf.summary.decodeEvents(bytes).length).toBe(2);
    for (const at of [0, 9, 14, bytes.length - 1]) {
      const bad = bytes.slice();
      bad[at]! ^= 0x20;
      expect(() => tf.summary.decodeEvents(bad)).toThrow(tf.errors.DataLossError);
    }
    expect(() => tf.summary.decodeEvents(bytes.subarray(0, bytes.length - 2))).toThrow(/truncated/);
  });
});
