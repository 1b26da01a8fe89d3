// `npm run build` (also run by `npm pack` and `npm publish`, through prepack): the package's dist/.
//   dist/{src,ops,passes,runtime}/  the library as ES modules with .d.ts and source maps (tsc, tsconfig.build.json)
//   dist/src/cli/main.js            the `weir` command (and dist/src/cli/board/: `weir board`'s page)
//   dist/weir.browser.js            one ES module for browsers, with its source map (esbuild, scripts/build-browser.ts)
import { spawnSync } from 'node:child_process';
import { chmod, cp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { bundleLibrary, ROOT } from './build-browser.js';

const DIST = path.join(ROOT, 'dist');
const started = performance.now();
const seconds = (): string => ((performance.now() - started) / 1000).toFixed(1);

await rm(DIST, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
if (compiled.status !== 0) {
  console.error(`build: tsc -p tsconfig.build.json failed (exit ${compiled.status ?? compiled.signal})`);
  process.exit(1);
}
await chmod(path.join(DIST, 'src', 'cli', 'main.js'), 0o755);
// `weir board`'s page: tsc compiled page.ts to dist/src/cli/board/page.js; its HTML and CSS go beside it.
await cp(path.join(ROOT, 'src', 'cli', 'board'), path.join(DIST, 'src', 'cli', 'board'), { recursive: true, filter: (f) => !f.endsWith('.ts') });
console.log(`build: dist/ compiled by tsc in ${seconds()} s`);

const bundle = await bundleLibrary(path.join(DIST, 'weir.browser.js'));
for (const w of bundle.warnings) console.warn(`build: warning: ${w.text}`);
console.log(`build: ${path.relative(ROOT, bundle.outfile)} (${(bundle.bytes / 1024).toFixed(0)} KiB) in ${seconds()} s`);
