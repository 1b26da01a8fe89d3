// `weir board`: its reading of event files (runs, incremental reads, a record still being written),
// its JSON endpoints, and the page in headless Chromium on the logs of a real training run (two
// runs of a small regression written by tf.summary.FileWriter): the curves are drawn from the
// values written, the graph is laid out with the graph's names, the images and histograms show, and
// the page follows the files as training goes on. A screenshot is kept in test-artifacts/board.png.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { startBoard, type Board, type GraphResponse } from '../src/cli/board.js';
import { graphView } from '../src/cli/board/graph.js';
import { completeRecords, discoverRuns, EventFileTail, Logdir, SERIES_CAPS, type BoardUpdate } from '../src/cli/board/logdir.js';
import { encodeRecord } from '../src/io/events.js';
import { encodeMessage, type EventProto } from '../src/io/proto.js';
import { tensorToProto } from '../src/io/tensor_proto.js';

const CHROMIUM = '/usr/bin/chromium';
const TSX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCREENSHOT = path.join(ROOT, 'test-artifacts', 'board.png');

let tmp = '';
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'weir-board-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const scalarEvent = (tag: string, step: number, value: number): EventProto => ({ wall_time: 1000 + step, step, summary: { value: [{ tag, simple_value: value }] } });
const record = (e: EventProto): Uint8Array => encodeRecord(encodeMessage('Event', e));
const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** TensorBoard's smoothing as its documentation states it: EMA with weight w, divided by 1 - w^n. */
function referenceSmooth(ys: number[], w: number): number[] {
  let ema = 0;
  return ys.map((y, i) => {
    ema = w * ema + (1 - w) * y;
    return ema / (1 - w ** (i + 1));
  });
}

describe('reading a log directory', () => {
  it('finds the runs: every directory holding event files, LOGDIR itself as "."', async () => {
    const dir = path.join(tmp, 'discover');
    for (const d of ['', 'a', 'b/c', 'empty', 'b/notes']) await mkdir(path.join(dir, d), { recursive: true });
    for (const d of ['', 'a', 'b/c']) await writeFile(path.join(dir, d, 'events.out.tfevents.1.host'), record({ file_version: 'brain.Event:2' }));
    await writeFile(path.join(dir, 'b/notes/readme.txt'), 'not an event file');
    const runs = await discoverRuns(dir);
    expect([...runs.keys()].sort()).toEqual(['.', 'a', 'b/c']);
    expect(runs.get('b/c')).toEqual([path.join(dir, 'b/c/events.out.tfevents.1.host')]);
  });

  it('reads only what a file gained, and a record still being written only once it is whole', async () => {
    const file = path.join(tmp, 'tail', 'events.out.tfevents.2.host');
    await mkdir(path.dirname(file), { recursive: true });
    const first = concat([record({ file_version: 'brain.Event:2' }), record(scalarEvent('loss', 0, 1.5))]);
    await writeFile(file, first);
    const tail = new EventFileTail(file);
    const errors: string[] = [];
    const onError = (m: string): void => void errors.push(m);
    expect((await tail.read(onError)).length).toBe(2);
    expect(tail.offset).toBe(first.length);
    expect(await tail.read(onError)).toEqual([]);

    // The next record arrives in three pieces: a partial header, a partial body, the rest.
    const next = record(scalarEvent('loss', 1, 0.75));
    for (const [from, to] of [
      [0, 5],
      [5, next.length - 3],
    ]) {
      await appendFile(file, next.subarray(from, to));
      expect(await tail.read(onError)).toEqual([]);
      expect(tail.offset).toBe(first.length);
    }
    await appendFile(file, next.subarray(next.length - 3));
    const got = await tail.read(onError);
    expect(got.map((e) => e.summary?.value?.[0]?.simple_value)).toEqual([0.75]);
    expect(tail.offset).toBe(first.length + next.length);
    expect(errors).toEqual([]);
    expect(completeRecords(concat([next, next.subarray(0, 7)]))).toEqual({ end: next.length, next: 12 });
  });

  it('skips a corrupted record, reports it, and goes on', async () => {
    const dir = path.join(tmp, 'corrupt');
    await mkdir(dir, { recursive: true });
    const bad = record(scalarEvent('loss', 1, 2));
    bad[bad.length - 6] ^= 0xff; // inside the data: the data checksum fails
    await writeFile(path.join(dir, 'events.out.tfevents.3.host'), concat([record(scalarEvent('loss', 0, 1)), bad, record(scalarEvent('loss', 2, 3))]));
    const data = new Logdir(dir);
    await data.reload();
    const u = data.since(0);
    expect(u.scalars.loss!['.']!.items.map((p) => p[0])).toEqual([0, 2]);
    expect(u.errors.join('\n')).toMatch(/events\.out\.tfevents\.3\.host: record at offset \d+ skipped: .*checksum/);
  });

  it('answers what is new since a generation; a series that outgrows its cap is sent again whole', async () => {
    const dir = path.join(tmp, 'since');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'events.out.tfevents.4.host');
    await writeFile(file, concat([0, 1, 2].map((s) => record(scalarEvent('acc', s, s / 10)))));
    const data = new Logdir(dir);
    await data.reload();
    const a = data.since(0);
    expect(a.scalars.acc!['.']).toEqual({ reset: false, items: [0, 1, 2].map((s) => [s, 1000 + s, Math.fround(s / 10)]) });
    expect(data.since(a.gen).scalars).toEqual({});
    await appendFile(file, record(scalarEvent('acc', 3, 0.5)));
    await data.reload();
    const b = data.since(a.gen);
    expect(b.scalars.acc!['.']).toEqual({ reset: false, items: [[3, 1003, 0.5]] });

    // Past its cap a series keeps every second item and the newest, and is sent whole again.
    const n = SERIES_CAPS.scalars + 1;
    await appendFile(file, concat(Array.from({ length: n }, (_, s) => record(scalarEvent('big', s, s)))));
    await data.reload();
    const c = data.since(b.gen).scalars.big!['.']!;
    expect(c.reset).toBe(true);
    expect(c.items.map((p) => p[0])).toEqual(Array.from({ length: n }, (_, s) => s).filter((s) => s % 2 === 1 || s === n - 1));
    // Dropped images are gone from /api/image too.
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10]);
    const image = (step: number): EventProto => ({ step, wall_time: 1, summary: { value: [{ tag: 'img', image: { width: 1, height: 1, encoded_image_string: png } }] } });
    await appendFile(file, concat(Array.from({ length: SERIES_CAPS.images + 1 }, (_, s) => record(image(s)))));
    await data.reload();
    const imgs = data.since(0).images.img!['.']!.items;
    expect(imgs.map((i) => i.step)).toEqual(Array.from({ length: SERIES_CAPS.images + 1 }, (_, s) => s).filter((s) => s % 2 === 1 || s === SERIES_CAPS.images));
    expect(data.image(imgs[0]!.id)).toEqual(png);
    expect(data.image(imgs[0]!.id - 1)).toBeUndefined();
  });
});

describe("TensorFlow 2's summaries (tensors with a plugin's metadata)", () => {
  it('reads scalars, histograms ([k, 3] buckets) and images ([width, height, png...]) as TensorBoard does', async () => {
    const dir = path.join(tmp, 'tf2');
    await mkdir(dir, { recursive: true });
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10]);
    const utf8 = (t: string): Uint8Array => new TextEncoder().encode(t);
    const value = (tag: string, plugin: string, t: tf.NDArray, first: boolean): EventProto['summary'] => ({
      value: [{ tag, tensor: tensorToProto(t), ...(first ? { metadata: { plugin_data: { plugin_name: plugin } } } : {}) }],
    });
    const events: EventProto[] = [];
    for (let step = 0; step < 2; step++) {
      const first = step === 0;
      events.push({ step, wall_time: 5, summary: value('acc', 'scalars', new tf.NDArray(new Float32Array([0.25 * step]), [], 'float32'), first) });
      const buckets = new Float32Array([-1, 0, 3 + step, 0, 2, 5]);
      events.push({ step, wall_time: 5, summary: value('w', 'histograms', new tf.NDArray(buckets, [2, 3], 'float32'), first) });
      events.push({ step, wall_time: 5, summary: value('pics', 'images', new tf.NDArray([utf8('3'), utf8('2'), png, png], [4], 'string'), first) });
      // A tensor of no plugin the board draws (text) is left alone.
      events.push({ step, wall_time: 5, summary: value('note', 'text', new tf.NDArray([utf8('hi')], [], 'string'), first) });
    }
    await writeFile(path.join(dir, 'events.out.tfevents.5.host'), concat(events.map(record)));
    const data = new Logdir(dir);
    await data.reload();
    const u = data.since(0);
    expect(u.errors).toEqual([]);
    expect(u.scalars.acc!['.']!.items).toEqual([
      [0, 5, 0],
      [1, 5, 0.25],
    ]);
    expect(u.histograms.w!['.']!.items.map((h) => [h.min, h.max, h.num, h.limits, h.counts])).toEqual([
      [-1, 2, 8, [0, 2], [3, 5]],
      [-1, 2, 9, [0, 2], [4, 5]],
    ]);
    expect(Object.keys(u.images).sort()).toEqual(['pics/image/0', 'pics/image/1']);
    expect(u.images['pics/image/1']!['.']!.items.map((i) => [i.step, i.width, i.height])).toEqual([
      [0, 3, 2],
      [1, 3, 2],
    ]);
    expect(Object.keys(u.scalars)).toEqual(['acc']);
  });
});

describe('the graph view', () => {
  it('collapses name scopes into one node each, and draws an expanded scope as a cluster', () => {
    const gd = {
      node: [
        { name: 'x', op: 'Placeholder' },
        { name: 'dense/kernel', op: 'VariableV2' },
        { name: 'dense/MatMul', op: 'MatMul', input: ['x', 'dense/kernel'] },
        { name: 'dense/inner/Relu', op: 'Relu', input: ['dense/MatMul'] },
        { name: 'loss', op: 'ScalarSummary', input: ['loss/tags', 'dense/inner/Relu'] },
        { name: 'loss/tags', op: 'Const' },
      ],
    };
    const top = graphView(gd, new Set());
    expect(Object.values(top.groups).sort()).toEqual(['dense', 'loss']);
    expect(top.visible).toBe(3);
    expect(Object.keys(top.clusters)).toEqual([]);
    const open = graphView(gd, new Set(['dense', 'dense/inner']));
    expect(Object.values(open.clusters)).toEqual(['dense', 'dense/inner']);
    expect(Object.values(open.groups)).toEqual(['loss']);
    expect(open.visible).toBe(5);
    // 'dense/inner' is expanded only inside an expanded 'dense'.
    expect(graphView(gd, new Set(['dense/inner'])).visible).toBe(3);
  });
});

/** Trains y = x·w on a small MLP for `steps` steps, writing what TensorBoard users write. */
async function train(logdir: string, lr: number, steps: number): Promise<{ losses: number[]; names: string[]; more: (n: number) => Promise<number[]>; close: () => Promise<void> }> {
  const g = new tf.Graph();
  const m = g.asDefault(() => {
    const x = tf.placeholder('float32', [null, 4], 'x');
    const y = tf.placeholder('float32', [null, 1], 'y');
    const hidden = tf.layers.dense(x, 8, { activation: tf.nn.relu, name: 'hidden' });
    const out = tf.layers.dense(hidden, 1, { name: 'out' });
    const loss = tf.losses.meanSquaredError(y, out);
    const train = new tf.train.GradientDescentOptimizer(lr).minimize(loss);
    const kernel = g.getOperationByName('hidden/kernel').outputs[0]!;
    tf.summary.scalar('loss', loss);
    tf.summary.scalar('abs_error', tf.losses.absoluteDifference(y, out, { lossCollection: null }));
    tf.summary.histogram('weights', kernel);
    tf.summary.image('kernel', tf.reshape(kernel, [1, 4, 8, 1]));
    return { x, y, loss, train, merged: tf.summary.mergeAll()!, init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g });
  await sess.run(m.init);
  const xs = Array.from({ length: 16 }, (_, i) => [Math.sin(i), Math.cos(i * 0.7), (i % 5) / 5 - 0.4, ((i * 7) % 11) / 11 - 0.5]);
  const ys = xs.map((r) => [0.5 * r[0]! - r[1]! + 0.8 * r[2]! + 0.3 * r[3]!]);
  const writer = new tf.summary.FileWriter(logdir, g);
  let step = 0;
  const more = async (n: number): Promise<number[]> => {
    const losses: number[] = [];
    for (let i = 0; i < n; i++, step++) {
      const [loss, summary] = await sess.run([m.loss, m.merged, m.train], [[m.x, xs], [m.y, ys]]);
      losses.push((loss as tf.NDArray).data[0] as number);
      writer.addSummary(summary as tf.NDArray, step);
    }
    await writer.flush();
    return losses;
  };
  return { losses: await more(steps), names: g.getOperations().map((o) => o.name), more, close: () => writer.close() };
}

function get(board: { url: string }, url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(url, board.url), { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The y values a chart's path draws, read back through the chart's axis (its domain and pixel range). */
async function plotted(page: Page, tag: string, run: string, cls: 'raw' | 'smoothed'): Promise<number[]> {
  return page.evaluate(
    ([tag, run, cls]) => {
      const chart = document.querySelector(`.card.scalar[data-tag="${tag}"] svg.chart`)!;
      const [d0, d1] = chart.getAttribute('data-y-domain')!.split(' ').map(Number) as [number, number];
      const [r0, r1] = chart.getAttribute('data-y-range')!.split(' ').map(Number) as [number, number];
      const p = chart.querySelector(`path.${cls}[data-run="${run}"]`)!;
      return [...p.getAttribute('d')!.matchAll(/[ML]([-\d.]+),([-\d.]+)/g)].map((m) => d0 + ((Number(m[2]) - r0) / (r1 - r0)) * (d1 - d0));
    },
    [tag, run, cls] as const,
  );
}

/** `weir board` as a user starts it (through tsx, as `npm run board` does): its exit code and standard error. */
function cli(args: string[]): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [TSX, path.join(ROOT, 'src', 'cli', 'main.ts'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return { child, stderr: () => err, exit: new Promise((resolve) => child.on('exit', resolve)) };
}

describe('weir board on a real training run', () => {
  let board: Board | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let logdir = '';
  let fast: Awaited<ReturnType<typeof train>>;
  let slow: Awaited<ReturnType<typeof train>>;
  // The command line's runs start first: their start-up (compiling TypeScript) overlaps the training.
  let usage: ReturnType<typeof cli>;
  let served: ReturnType<typeof cli>;
  beforeAll(async () => {
    logdir = path.join(tmp, 'logs');
    await mkdir(logdir, { recursive: true });
    usage = cli(['board', logdir, '--port', 'http']);
    served = cli(['board', logdir, '--port', '0']);
    fast = await train(path.join(logdir, 'lr_0.1'), 0.1, 30);
    slow = await train(path.join(logdir, 'lr_0.02'), 0.02, 24);
    await slow.close();
  }, 60_000);
  afterAll(async () => {
    served?.child.kill('SIGINT');
    usage?.child.kill();
    await context?.close();
    await board?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('runs as `weir board LOGDIR --port 0`, and says what is wrong with its arguments', async () => {
    expect(await usage.exit).toBe(2);
    expect(usage.stderr()).toContain("--port must be a port number (0 to 65535), not 'http'");
    const url = await new Promise<string>((resolve, reject) => {
      const found = (): boolean => {
        const m = /at (http:\/\/localhost:\d+\/)/.exec(served.stderr());
        if (m) resolve(m[1]!);
        return m !== null;
      };
      if (found()) return;
      served.child.stderr!.on('data', found);
      void served.exit.then((code) => reject(new Error(`weir board exited with ${code}: ${served.stderr()}`)));
    });
    const u = JSON.parse((await get({ url }, 'api/data')).body.toString()) as BoardUpdate;
    expect(u.runs).toEqual(['lr_0.02', 'lr_0.1']);
    expect(u.scalars.loss!['lr_0.02']!.items).toHaveLength(24);
    served.child.kill('SIGINT');
    expect(await served.exit).toBe(0);
  });

  it('serves the runs as JSON, the images and the graph, and nothing else', async () => {
    board = await startBoard({ logdir, port: 0 });
    expect(board.url).toMatch(/^http:\/\/localhost:\d+\/$/);
    const data = await get(board, 'api/data?since=0');
    expect(data.type).toBe('application/json');
    const u = JSON.parse(data.body.toString()) as BoardUpdate;
    expect(u.runs).toEqual(['lr_0.02', 'lr_0.1']);
    for (const [run, losses] of [
      ['lr_0.1', fast.losses],
      ['lr_0.02', slow.losses],
    ] as const) {
      const steps = losses.map((_, i) => i);
      expect(u.scalars.loss![run]!.items.map((p) => p[0])).toEqual(steps);
      expect(u.scalars.loss![run]!.items.map((p) => p[2])).toEqual(losses.map(Math.fround));
      expect(u.histograms.weights![run]!.items.map((h) => [h.step, h.num])).toEqual(steps.map((s) => [s, 32]));
      expect(u.images['kernel/image/0']![run]!.items.map((i) => [i.step, i.width, i.height])).toEqual(steps.map((s) => [s, 8, 4]));
      expect(u.graphs[run]).toBeGreaterThan(0);
    }
    const png = await get(board, `api/image?id=${u.images['kernel/image/0']!['lr_0.1']!.items[0]!.id}`);
    expect(png.type).toBe('image/png');
    expect([...png.body.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    // Nothing new: nothing sent.
    const again = JSON.parse((await get(board, `api/data?since=${u.gen}`)).body.toString()) as BoardUpdate;
    expect([again.scalars, again.histograms, again.images]).toEqual([{}, {}, {}]);

    const graph = JSON.parse((await get(board, 'api/graph?run=lr_0.1&expand=hidden')).body.toString()) as GraphResponse;
    expect(graph.svg.startsWith('<svg')).toBe(true);
    expect(Object.values(graph.clusters)).toEqual(['hidden']);
    for (const name of ['x', 'y', 'out', 'gradients', 'kernel', 'MatMul']) expect(graph.svg).toContain(`>${name}</text>`);

    expect((await get(board, 'api/graph?run=nope')).status).toBe(404);
    expect((await get(board, 'api/data?since=-1')).status).toBe(400);
    expect((await get(board, 'api/image?id=999999')).status).toBe(404);
    for (const p of ['../../../etc/passwd', '%2e%2e/%2e%2e/package.json', 'board.ts', 'page.ts', 'logdir.ts', 'lr_0.1/']) {
      expect((await get(board, p)).status, p).toBe(404);
    }
    expect((await get(board, 'style.css')).type).toMatch(/^text\/css/);
    const script = await get(board, 'page.js');
    expect(script.body.toString()).toContain('function smooth(');
    // A page elsewhere reaching this port through its own host name (DNS rebinding) is refused.
    expect((await get(board, '/', { Host: 'attacker.example:80' })).status).toBe(403);
  });

  it('draws curves, images, histograms and the graph, and follows the files as training goes on', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found: this test needs Debian's chromium package; run scripts/setup-webgpu.sh`);
    }
    board ??= await startBoard({ logdir, port: 0 });

    profile = await mkdtemp(path.join(tmpdir(), 'weir-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1400, height: 1000 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${board.url}?poll=250`);
    await page.waitForFunction(() => {
      const b = (window as unknown as { weirBoard?: { polls: number; graphsRendered: number } }).weirBoard;
      return b !== undefined && b.polls >= 1 && b.graphsRendered >= 1;
    });

    // The curves: one raw and one smoothed path per run, a point per step written, at the values written.
    const runs = { 'lr_0.1': fast.losses, 'lr_0.02': slow.losses };
    const weight = Number(await page.inputValue('#smoothing'));
    expect(weight).toBe(0.6);
    for (const [run, losses] of Object.entries(runs)) {
      expect(await page.getAttribute(`.card.scalar[data-tag="loss"] path.raw[data-run="${run}"]`, 'data-points')).toBe(String(losses.length));
      const raw = await plotted(page, 'loss', run, 'raw');
      expect(raw).toHaveLength(losses.length);
      const span = Math.max(...Object.values(runs).flat()) - Math.min(...Object.values(runs).flat());
      raw.forEach((v, i) => expect(Math.abs(v - losses[i]!)).toBeLessThan(span * 1e-3));
      const smoothed = await plotted(page, 'loss', run, 'smoothed');
      const want = referenceSmooth(losses.map(Math.fround), weight);
      smoothed.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(span * 1e-3));
    }
    // The smoothing slider re-smooths the curves; the horizontal axis can be time since each run began.
    await page.locator('#smoothing').fill('0.9');
    const resmoothed = await plotted(page, 'loss', 'lr_0.1', 'smoothed');
    const span = Math.max(...Object.values(runs).flat()) - Math.min(...Object.values(runs).flat());
    referenceSmooth(fast.losses.map(Math.fround), 0.9).forEach((v, i) => expect(Math.abs(resmoothed[i]! - v)).toBeLessThan(span * 1e-3));
    await page.check('input[name="x-axis"][value="relative"]');
    const walls = (JSON.parse((await get(board, 'api/data')).body.toString()) as BoardUpdate).scalars.loss!;
    const longest = Math.max(...Object.values(walls).map((u) => u.items.at(-1)![1] - u.items[0]![1]));
    const domain = (await page.getAttribute('.card.scalar[data-tag="loss"] svg', 'data-x-domain'))!.split(' ').map(Number);
    if (longest > 0) expect(domain).toEqual([0, longest]);
    await page.check('input[name="x-axis"][value="step"]');
    expect(await page.getAttribute('.card.scalar[data-tag="loss"] svg', 'data-x-domain')).toBe('0 29');
    // A run unticked leaves the charts.
    await page.uncheck('#runs li:has-text("lr_0.02") input');
    expect(await page.locator('.card.scalar[data-tag="loss"] path[data-run="lr_0.02"]').count()).toBe(0);
    await page.check('#runs li:has-text("lr_0.02") input');
    expect(await page.locator('.card.scalar[data-tag="loss"] path[data-run="lr_0.02"]').count()).toBe(2);
    await page.locator('#smoothing').fill('0.6');

    // Training lowered the loss, and the faster run lower.
    expect(fast.losses.at(-1)!).toBeLessThan(fast.losses[0]! * 0.5);
    expect(await page.textContent('#runs')).toContain('lr_0.02');

    // The graph: laid out with the graph's top-level names; expanding a scope shows its ops.
    const topLevel = [...new Set(fast.names.map((n) => n.split('/')[0]!))];
    const texts = async (): Promise<string[]> => page.$$eval('#graph-view svg text', (ts) => ts.map((t) => t.textContent ?? ''));
    const shown = await texts();
    for (const name of topLevel) expect(shown, name).toContain(name);
    const before = await page.evaluate(() => (window as unknown as { weirBoard: { graphsRendered: number } }).weirBoard.graphsRendered);
    await page.click('#graph-view g.node:has(text:text-is("hidden"))');
    await page.waitForFunction((n) => (window as unknown as { weirBoard: { graphsRendered: number } }).weirBoard.graphsRendered > n, before);
    expect(await texts()).toEqual(expect.arrayContaining(['kernel', 'bias', 'MatMul', 'BiasAdd', 'Relu']));
    await page.click('#graph-view g.cluster text');
    await page.waitForFunction((n) => (window as unknown as { weirBoard: { graphsRendered: number } }).weirBoard.graphsRendered > n + 1, before);
    expect(await texts()).not.toContain('MatMul');

    // Images: the latest of each run, decoded by the browser at the size written.
    await page.waitForFunction(() => Array.from(document.querySelectorAll('img.board-image')).every((i) => (i as HTMLImageElement).complete));
    const images = await page.$$eval('.card.image', (cards) =>
      cards.map((c) => {
        const i = c.querySelector('img')!;
        return { run: c.getAttribute('data-run'), w: i.naturalWidth, h: i.naturalHeight, step: i.getAttribute('data-step') };
      }),
    );
    expect(images).toEqual([
      { run: 'lr_0.02', w: 8, h: 4, step: '23' },
      { run: 'lr_0.1', w: 8, h: 4, step: '29' },
    ]);
    // Histograms: a ridge per step written.
    expect(await page.getAttribute('.card.histogram[data-run="lr_0.1"] svg', 'data-ridges')).toBe('30');

    // Training goes on: the page follows.
    const later = await fast.more(10);
    await fast.close();
    await page.waitForFunction(() => document.querySelector('.card.scalar[data-tag="loss"] path.raw[data-run="lr_0.1"]')?.getAttribute('data-points') === '40');
    const raw = await plotted(page, 'loss', 'lr_0.1', 'raw');
    const all = [...fast.losses, ...later];
    raw.forEach((v, i) => expect(Math.abs(v - all[i]!)).toBeLessThan(1e-3 * (Math.max(...all, ...slow.losses) - Math.min(...all, ...slow.losses))));
    expect(await page.getAttribute('.card.image[data-run="lr_0.1"] img', 'data-step')).toBe('39');
    expect(await page.getAttribute('.card.scalar[data-tag="loss"] path.raw[data-run="lr_0.02"]', 'data-points')).toBe('24');

    // The smoothing the page applies is TensorBoard's.
    const probe = [3, 1, 4, 1, 5, 9, 2, 6];
    for (const w of [0, 0.6, 0.95]) {
      const got = await page.evaluate(([p, w]) => (window as unknown as { weirBoard: { smooth: (v: number[], w: number) => number[] } }).weirBoard.smooth(p, w), [probe, w] as const);
      referenceSmooth(probe, w).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 12));
    }

    expect(pageErrors).toEqual([]);
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect((await readFile(SCREENSHOT)).length).toBeGreaterThan(10_000);
  });
});
