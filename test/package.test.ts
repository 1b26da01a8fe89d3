// The npm package as a user gets it: `npm pack` (which builds dist/ through prepack), the tarball
// installed into a fresh project in a temporary directory (from the registry: its dependencies;
// not `webgpu`, an optional peer), then
//   (a) a plain .mjs script run by node trains a small regression, saves and restores a checkpoint,
//       runs a threaded product from dist/ and gets a clear error for the missing webgpu package;
//   (b) a .ts consumer type-checks against the shipped declarations;
//   (c) the installed `weir` command inspects the checkpoint and a GraphDef and draws DOT and SVG;
//   (d) dist/weir.browser.js, as installed, trains on the CPU backend in headless Chromium.
// Slow (about a minute): building, packing and installing come first.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const CHROMIUM = '/usr/bin/chromium';
const SETUP_TIMEOUT_MS = 300_000;
const CASE_TIMEOUT_MS = 120_000;

let tmp = '';
/** The consumer project the tarball is installed into. */
let proj = '';
let tarball = '';
let packedFiles: string[] = [];

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

// npm run from inside vitest would see vitest's npm_* variables (npm_config_*, the lifecycle
// event...): the child npm gets a clean environment apart from PATH and HOME.
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return env;
}
function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', args, { cwd, env: npmEnv(), encoding: 'utf8', timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });
  return ok(r, `npm ${args.join(' ')}`);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'weir-package-'));
  // --json lists what went into the tarball; prepack has built dist/ first.
  const packOut = npm(['pack', '--json', '--pack-destination', tmp], ROOT);
  const packed = JSON.parse(packOut.slice(packOut.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(tmp, packed[0]!.filename);
  packedFiles = packed[0]!.files.map((f) => f.path);
  proj = path.join(tmp, 'consumer');
  await mkdir(proj);
  await writeFile(path.join(proj, 'package.json'), JSON.stringify({ name: 'weir-consumer', private: true, type: 'module' }, null, 2));
  npm(['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], proj);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('ships dist/ and the README, not the sources, and installs without webgpu', async () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/weir.browser.js', 'dist/weir.browser.js.map', 'dist/src/cli/board/index.html', 'dist/src/cli/board/style.css', 'dist/src/cli/board/page.js']));
    const outside = packedFiles.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f));
    expect(outside).toEqual([]);
    expect(packedFiles.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(packedFiles.some((f) => /^dist\/(test|examples|bench)\//.test(f))).toBe(false);
    // Nothing native: the Dawn bindings are an optional peer, not installed with weir.
    expect(existsSync(path.join(proj, 'node_modules', 'weir', 'package.json'))).toBe(true);
    expect(existsSync(path.join(proj, 'node_modules', 'webgpu'))).toBe(false);
    const installed = await readdir(path.join(proj, 'node_modules'));
    expect(installed).not.toContain('webgpu');
    // The exports map: Node gets the ES modules, a browser build the bundle.
    const resolve = (conditions: string[]): string =>
      ok(run(process.execPath, [...conditions.map((c) => `--conditions=${c}`), '--input-type=module', '-e', "console.log(import.meta.resolve('weir'))"], { cwd: proj }), 'resolve').trim();
    expect(resolve([])).toMatch(/\/node_modules\/weir\/dist\/src\/index\.js$/);
    expect(resolve(['browser'])).toMatch(/\/node_modules\/weir\/dist\/weir\.browser\.js$/);
  });

  it(
    '(a) a plain .mjs script trains, saves and restores with tf.train.Saver, on worker threads from dist/',
    async () => {
      await writeFile(path.join(proj, 'train.mjs'), TRAIN_MJS);
      const ckdir = path.join(tmp, 'ckpt');
      const r = run(process.execPath, ['train.mjs', ckdir], { cwd: proj, env: { WEIR_CPU_THREADS: '2', WEIR_BACKEND: '', WEIR_CPU_FAST: '' }, timeoutMs: 120_000 });
      const out = JSON.parse(ok(r, 'node train.mjs')) as TrainReport;
      // y = 3x + 2 by gradient descent from zero weights: the loss falls by orders of magnitude.
      expect(out.losses.length).toBe(60);
      expect(out.losses[0]).toBeGreaterThan(1);
      expect(out.losses.at(-1)!).toBeLessThan(1e-3 * out.losses[0]!);
      for (let i = 1; i < out.losses.length; i++) expect(out.losses[i]!).toBeLessThanOrEqual(out.losses[i - 1]! + 1e-6);
      expect(out.trained.W).toBeCloseTo(3, 1);
      expect(out.trained.b).toBeCloseTo(2, 1);
      // The checkpoint came back into a fresh session (whose variables were re-initialized to zero).
      expect(out.savedPath).toBe(path.join(ckdir, 'model.ckpt-60'));
      expect(out.latest).toBe(out.savedPath);
      expect(out.beforeRestore).toEqual({ W: 0, b: 0 });
      expect(out.restored.W).toBe(out.trained.W);
      expect(out.restored.b).toBe(out.trained.b);
      expect(out.restored.step).toBe(60);
      expect(out.variables).toEqual([
        ['dense/W', [1, 1]],
        ['dense/b', [1]],
        ['global_step', []],
      ]);
      // A 512x512 product ran on the worker pool (workers started from eval'd source by dist/).
      expect(out.threadsStarted).toBe(true);
      expect(out.matmulOk).toBe(true);
      expect(out.threadedCalls).toBeGreaterThan(0);
      // Asking for webgpu without the package: a typed error that says what to install.
      expect(out.webgpuError.name).toBe('UnavailableError');
      expect(out.webgpuError.isUnavailable).toBe(true);
      expect(out.webgpuError.message).toMatch(/npm package 'webgpu'.*npm install webgpu/);
      // Creation sites point at the user's script, not at weir's files in node_modules.
      expect(out.createdAt).toMatch(/^train\.mjs:\d+$/);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    '(b) a .ts consumer type-checks against the shipped declarations',
    async () => {
      await writeFile(path.join(proj, 'consumer.ts'), CONSUMER_TS);
      await writeFile(path.join(proj, 'consumer_bad.ts'), CONSUMER_BAD_TS);
      // Strict, and the declarations themselves checked (skipLibCheck off) with no DOM, Node or
      // WebGPU types around: what weir's public types reach must stand on its own.
      const tsconfig = (files: string[]): string =>
        JSON.stringify({
          compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: [], lib: ['ES2022'] },
          files,
        });
      await writeFile(path.join(proj, 'tsconfig.json'), tsconfig(['consumer.ts']));
      await writeFile(path.join(proj, 'tsconfig.bad.json'), tsconfig(['consumer_bad.ts']));
      ok(run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: proj, timeoutMs: 120_000 }), 'tsc --noEmit (consumer.ts)');
      // The declarations carry real types: misuse is caught (so the check above is not vacuous).
      const bad = run(process.execPath, [TSC, '-p', 'tsconfig.bad.json'], { cwd: proj, timeoutMs: 120_000 });
      expect(bad.status).not.toBe(0);
      expect(bad.stdout).toMatch(/consumer_bad\.ts\(\d+,\d+\): error TS2345/);
      expect(bad.stdout).toMatch(/consumer_bad\.ts\(\d+,\d+\): error TS2339: Property 'nonexistent'/);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    '(c) the weir command inspects a checkpoint and a GraphDef and draws them as DOT and SVG',
    async () => {
      const weir = path.join(proj, 'node_modules', '.bin', 'weir');
      const prefix = path.join(tmp, 'ckpt', 'model.ckpt-60');
      expect(existsSync(`${prefix}.index`), 'test (a) saves the checkpoint this test reads').toBe(true);
      const cli = (...args: string[]): SpawnSyncReturns<string> => run(weir, args, { cwd: proj, timeoutMs: 60_000 });

      const help = cli('--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/weir inspect PATH/);
      expect(help.stdout).toMatch(/weir dot PATH/);
      expect(help.stdout).toMatch(/weir convert PATH -o FILE/);
      expect(help.stdout).toMatch(/weir board LOGDIR/);

      const ck = ok(cli('inspect', prefix), 'weir inspect checkpoint');
      expect(ck).toContain(`V2 checkpoint ${prefix}`);
      expect(ck).toMatch(/3 tensors/);
      expect(ck).toMatch(/^\s+dense\/W\s+float32\s+\[1,1\]\s+4 B$/m);
      expect(ck).toMatch(/^\s+dense\/b\s+float32\s+\[1\]\s+4 B$/m);
      expect(ck).toMatch(/^\s+global_step\s+int64\s+\[\]\s+8 B$/m);
      // The directory works too (its `checkpoint` file names the latest).
      expect(ok(cli('inspect', path.join(tmp, 'ckpt')), 'weir inspect dir')).toBe(ck);

      const graph = path.join(tmp, 'ckpt', 'graph.pbtxt');
      const gi = ok(cli('inspect', graph), 'weir inspect graph');
      expect(gi).toMatch(/^GraphDef .*graph\.pbtxt \(text format\)$/m);
      expect(gi).toMatch(/^\s+2\s+VariableV2$/m);
      expect(gi).toMatch(/^\s+1\s+MatMul$/m);
      expect(gi).toMatch(/^\s+x\s+float32\s+\[\?,1\]$/m);
      expect(gi).toMatch(/^\s+y\s+float32\s+\[\?,1\]$/m);

      const dot = ok(cli('dot', graph), 'weir dot');
      expect(dot).toMatch(/^digraph "weir" \{/);
      expect(dot).toContain('label="dense/W\\nVariableV2"');
      expect(dot).toMatch(/-> n\d+ \[label="float32\[\?,1\]"\]/);
      const svgPath = path.join(tmp, 'graph.svg');
      ok(cli('dot', graph, '-o', svgPath), 'weir dot -o graph.svg');
      const svg = await readFile(svgPath, 'utf8');
      expect(svg).toMatch(/<svg [^>]*width="\d+pt"/);
      expect(svg).toContain('Generated by graphviz');
      expect(svg).toContain('>dense/W</text>');
      expect(svg).toContain('>MatMul</text>');
      const dotPath = path.join(tmp, 'graph.dot');
      ok(cli('dot', graph, '-o', dotPath), 'weir dot -o graph.dot');
      expect(await readFile(dotPath, 'utf8')).toBe(dot);

      // TensorFlow Serving's half_plus_three SavedModel (y = x / 2 + 3) as ONNX, run by ONNX Runtime.
      const onnxPath = path.join(tmp, 'half_plus_three.onnx');
      const converted = cli('convert', path.join(ROOT, 'test', 'fixtures', 'tensorflow-serving', 'saved_model_half_plus_three'), '-o', onnxPath);
      expect(converted.status, converted.stderr).toBe(0);
      expect(converted.stderr).toMatch(/wrote .*half_plus_three\.onnx \(ONNX opset 17/);
      const ortSession = await ort.InferenceSession.create(onnxPath);
      const y = await ortSession.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 5]), [3, 1]) });
      expect(Array.from(y.y!.data as Float32Array)).toEqual([3.5, 4, 5.5]);
      expect(cli('convert', path.join(tmp, 'ckpt')).status).toBe(2); // no -o

      // A graph weir cannot import (an op type it does not know) is drawn as written, with a note.
      const odd = path.join(tmp, 'odd.pbtxt');
      await writeFile(odd, 'node { name: "a" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\nnode { name: "b" op: "FancyCustomOp" input: "a" input: "^a" }\n');
      const oddDot = cli('dot', odd);
      expect(oddDot.status).toBe(0);
      expect(oddDot.stdout).toContain('n1 [label="b\\nFancyCustomOp"];');
      expect(oddDot.stdout).toContain('n0 -> n1;');
      expect(oddDot.stdout).toContain('n0 -> n1 [style=dashed, arrowhead=odot];');
      expect(oddDot.stderr).toMatch(/^weir: .*odd\.pbtxt: drawn as written, without dtypes and shapes \(weir cannot import the graph: /);

      // Bad input: one line saying what is wrong, exit status 1, no stack trace.
      const junk = path.join(tmp, 'junk.pb');
      await writeFile(junk, new Uint8Array([0xff, 0xff, 0xff, 0x0f, 0x07, 0x01, 0x02]));
      for (const [args, message] of [
        [['inspect', junk], /^weir: .*junk\.pb.*GraphDef/],
        [['inspect', path.join(tmp, 'nothing-here')], /^weir: .*nothing-here: no such file, directory or checkpoint prefix$/],
        [['dot', prefix], /^weir: .*is a checkpoint: it holds variables, not a graph/],
      ] as const) {
        const r = cli(...args);
        expect(r.status, `weir ${args.join(' ')}`).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr.trim()).toMatch(message);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      const usage = cli('frobnicate');
      expect(usage.status).toBe(2);
      expect(usage.stderr).toMatch(/unknown command 'frobnicate'/);
    },
    CASE_TIMEOUT_MS,
  );

  describe('(d) the browser bundle', () => {
    let server: Server | undefined;
    let browser: Browser | undefined;
    afterAll(async () => {
      await browser?.close();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    });

    it(
      'loads in headless Chromium and trains on the CPU backend',
      async () => {
        if (!existsSync(CHROMIUM)) {
          throw new Error(`${CHROMIUM} not found: this test needs Debian's chromium package; run scripts/setup-webgpu.sh`);
        }
        const dist = path.join(proj, 'node_modules', 'weir', 'dist');
        const bundle = await readFile(path.join(dist, 'weir.browser.js'));
        const files: Record<string, [string, string | Buffer]> = {
          '/': ['text/html; charset=utf-8', PAGE_HTML],
          '/weir.browser.js': ['text/javascript; charset=utf-8', bundle],
          '/weir.browser.js.map': ['application/json', await readFile(path.join(dist, 'weir.browser.js.map'))],
        };
        server = createServer((req, res) => {
          const f = files[new URL(req.url ?? '/', 'http://127.0.0.1').pathname];
          res.writeHead(f ? 200 : 404, { 'content-type': f?.[0] ?? 'text/plain', 'cache-control': 'no-store' });
          res.end(f?.[1] ?? 'not found');
        });
        await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

        browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        page.on('console', (m) => {
          if (m.type() === 'error') problems.push(`console: ${m.text()}`);
        });
        await page.goto(url);
        await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 60_000 });
        const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as BrowserReport;
        expect(result.error).toBeUndefined();
        expect(problems).toEqual([]);
        expect(result.losses.length).toBe(30);
        expect(result.losses[0]).toBeGreaterThan(1);
        expect(result.losses.at(-1)!).toBeLessThan(0.05 * result.losses[0]!);
        // The formats work in the page with a file system given to them, and say so without one.
        expect(result.restored).toEqual(result.trained);
        expect(result.savedFiles).toEqual(['/ckpt/checkpoint', '/ckpt/model.ckpt-30.data-00000-of-00001', '/ckpt/model.ckpt-30.index', '/ckpt/model.ckpt-30.meta']);
        expect(result.noFsError).toMatch(/node:fs\/promises is not available in the browser: give the formats a file system with tf\.io\.setFileSystem\(\)/);
        // Creation sites point at the page's own script, not at the bundle.
        expect(result.createdAt).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/:\d+$/);
        // No Node built-in is imported by the bundle (its only `node:` strings are messages and
        // the source of the Node-only worker threads).
        expect(bundle.toString('utf8')).not.toMatch(/\bfrom\s*["']node:|\bimport\s*\(\s*["']node:/);
      },
      CASE_TIMEOUT_MS,
    );
  });
});

interface TrainReport {
  losses: number[];
  trained: { W: number; b: number };
  beforeRestore: { W: number; b: number };
  restored: { W: number; b: number; step: number };
  savedPath: string;
  latest: string;
  variables: [string, number[]][];
  matmulOk: boolean;
  threadsStarted: boolean;
  threadedCalls: number;
  webgpuError: { name: string; isUnavailable: boolean; message: string };
  createdAt: string;
}

interface BrowserReport {
  error?: string;
  losses: number[];
  trained: number[];
  restored: number[];
  savedFiles: string[];
  noFsError: string;
  createdAt: string;
}

// Written into the consumer project and run by `node` (no tsx): weir's compiled JavaScript only.
const TRAIN_MJS = `import * as tf from 'weir';
import * as path from 'node:path';

const dir = process.argv[2];
const X = Array.from({ length: 16 }, (_, i) => [i / 7.5 - 1]);
const Y = X.map(([v]) => [3 * v + 2]);

const x = tf.placeholder('float32', [null, 1], 'x');
const y = tf.placeholder('float32', [null, 1], 'y');
const W = new tf.Variable(tf.zeros([1, 1]), { name: 'dense/W' });
const b = new tf.Variable(tf.zeros([1]), { name: 'dense/b' });
const pred = tf.add(tf.matmul(x, W), b);
const loss = tf.reduceMean(tf.square(tf.subtract(pred, y)));
// The model's graph (before the optimizer and the saver add theirs), for test (c).
await tf.io.writeGraph(tf.getDefaultGraph(), dir, 'graph.pbtxt');
const globalStep = tf.train.getOrCreateGlobalStep();
const train = new tf.train.GradientDescentOptimizer(0.3).minimize(loss, { globalStep });
const saver = new tf.train.Saver();

const read = async (sess) => {
  const [w, bb] = await sess.run([W, b]);
  return { W: w.data[0], b: bb.data[0] };
};

const sess = new tf.Session();
await sess.run(tf.globalVariablesInitializer());
const losses = [];
for (let i = 0; i < 60; i++) {
  const [l] = await sess.run([loss, train], [[x, X], [y, Y]]);
  losses.push(l.scalar());
}
const trained = await read(sess);
const savedPath = await saver.save(sess, path.join(dir, 'model.ckpt'), { globalStep });
sess.close();

const fresh = new tf.Session();
await fresh.run(tf.globalVariablesInitializer());
const beforeRestore = await read(fresh);
const latest = await tf.train.latestCheckpoint(dir);
await saver.restore(fresh, latest);
const restored = { ...(await read(fresh)), step: Number((await fresh.run(globalStep)).scalar()) };
const variables = await tf.train.listVariables(dir);

// A product big enough for the worker threads (runtime/cpu/threads.ts, started from dist/).
const gemm = await import(new URL('./node_modules/weir/dist/runtime/cpu/gemm.js', import.meta.url).href);
const threadsStarted = await gemm.startThreads();
const n = 512;
const a = Float32Array.from({ length: n * n }, (_, i) => ((i * 7) % 13) / 13);
const id = Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
const [prod] = await fresh.run([tf.matmul(tf.constant(new tf.NDArray(a, [n, n])), tf.constant(new tf.NDArray(id, [n, n])))]);
const matmulOk = prod.data.every((v, i) => v === a[i]);
fresh.close();

let webgpuError;
try {
  const g = new tf.Session({ backend: 'webgpu' });
  await g.run(tf.constant(1));
  webgpuError = { name: 'none', isUnavailable: false, message: 'the webgpu session ran' };
} catch (e) {
  webgpuError = { name: e.name, isUnavailable: e instanceof tf.errors.UnavailableError, message: e.message };
}

console.log(JSON.stringify({
  losses, trained, beforeRestore, restored, savedPath, latest, variables, matmulOk, threadsStarted,
  threadedCalls: gemm.threadedCalls(), webgpuError, createdAt: x.op.createdAt,
}));
`;

// A TypeScript user of the package: compiled with strict settings against dist/'s .d.ts.
const CONSUMER_TS = `import * as tf from 'weir';

const x: tf.Tensor = tf.placeholder('float32', [null, 3], 'x');
const W = new tf.Variable(tf.truncatedNormal([3, 2], { stddev: 0.1 }), { name: 'W' });
const logits: tf.Tensor = tf.add(tf.matmul(x, W), tf.zeros([2]));
const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.constant([0, 1], 'int32'), logits }));
const train: tf.Operation = new tf.train.AdamOptimizer(1e-3).minimize(loss);
const opts: tf.SessionOptions = { backend: 'cpu' };
const sess = new tf.Session(opts);
const shape: tf.Shape = x.shape;
const dtype: tf.DType = x.dtype;

export async function step(batch: number[][]): Promise<number> {
  await sess.run(tf.globalVariablesInitializer());
  const [l] = await sess.run([loss, train], [[x, batch]]);
  const value: tf.NDArray = l;
  const saver = new tf.train.Saver();
  const prefix: string = await saver.save(sess, '/tmp/never-run/model.ckpt');
  const dot: string = tf.io.toDot(tf.getDefaultGraph());
  const err: tf.errors.OpError = new tf.errors.InvalidArgumentError('m');
  return Number(value.scalar()) + prefix.length + dot.length + err.code.length + shape!.length + dtype.length;
}
`;

const CONSUMER_BAD_TS = `import * as tf from 'weir';

const x = tf.placeholder('float32', [null, 3]);
tf.matmul(x, 'not a tensor' as unknown as Map<string, number>);
x.nonexistent;
`;

// The page of test (d): imports the installed bundle, trains y = 3x + 2 for a few steps on the
// CPU backend, saves and restores through a file system kept in a Map, and reports to window.result.
const PAGE_HTML = `<!doctype html>
<meta charset="utf-8">
<title>weir bundle</title>
<link rel="icon" href="data:,">
<script type="module">
import * as tf from '/weir.browser.js';
try {
  const X = Array.from({ length: 16 }, (_, i) => [i / 7.5 - 1]);
  const Y = X.map(([v]) => [3 * v + 2]);
  const x = tf.placeholder('float32', [null, 1], 'x');
  const y = tf.placeholder('float32', [null, 1], 'y');
  const W = new tf.Variable(tf.zeros([1, 1]), { name: 'W' });
  const b = new tf.Variable(tf.zeros([1]), { name: 'b' });
  const pred = tf.add(tf.matmul(x, W), b);
  const loss = tf.reduceMean(tf.square(tf.subtract(pred, y)));
  const globalStep = tf.train.getOrCreateGlobalStep();
  const train = new tf.train.GradientDescentOptimizer(0.3).minimize(loss, { globalStep });
  const sess = new tf.Session({ backend: 'cpu' });
  await sess.run(tf.globalVariablesInitializer());
  const losses = [];
  for (let i = 0; i < 30; i++) losses.push((await sess.run([loss, train], [[x, X], [y, Y]]))[0].scalar());
  const trained = (await sess.run([W, b])).map((v) => v.data[0]);

  const saver = new tf.train.Saver();
  let noFsError = 'saved without a file system';
  try { await saver.save(sess, '/ckpt/model.ckpt'); } catch (e) { noFsError = e.message; }

  const files = new Map();
  const fs = {
    readFile: async (p) => { if (!files.has(p)) throw new tf.errors.NotFoundError(p + ': no such file'); return files.get(p); },
    writeFile: async (p, d) => void files.set(p, new Uint8Array(d)),
    appendFile: async (p, d) => void files.set(p, new Uint8Array([...(files.get(p) ?? []), ...d])),
    rename: async (a, c) => { files.set(c, files.get(a)); files.delete(a); },
    remove: async (p) => void files.delete(p),
    exists: async (p) => files.has(p) || [...files.keys()].some((k) => k.startsWith(p + '/')),
    mkdirs: async () => {},
    list: async (d) => [...files.keys()].filter((k) => k.startsWith(d + '/')).map((k) => k.slice(d.length + 1)),
  };
  tf.io.setFileSystem(fs);
  await saver.save(sess, '/ckpt/model.ckpt', { globalStep });
  const fresh = new tf.Session({ backend: 'cpu' });
  await fresh.run(tf.globalVariablesInitializer());
  await saver.restore(fresh, await tf.train.latestCheckpoint('/ckpt'));
  const restored = (await fresh.run([W, b])).map((v) => v.data[0]);
  window.result = { losses, trained, restored, savedFiles: [...files.keys()].sort(), noFsError, createdAt: x.op.createdAt };
} catch (e) {
  window.result = { error: String((e && e.stack) || e) };
}
</script>
`;
