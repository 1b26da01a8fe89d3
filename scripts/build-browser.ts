// Browser builds of weir with esbuild: the library bundle dist/weir.browser.js (scripts/build.ts)
// and the browser example (examples/browser/build.ts) share the plugin here.
//
// In a browser build, src/core/platform.ts (Node's os, path, url, worker_threads) is replaced by
// src/core/platform.browser.ts: the CPU backend runs single-threaded, creation sites are told from the
// bundle's URL. Any other `node:` module is replaced by a stand-in that throws when it is loaded;
// weir loads those (node:fs/promises for the formats, node:os for event file names) only lazily,
// and the library build fails if one of them would be loaded up front.
import * as esbuild from 'esbuild';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LIBRARY_ENTRY = path.join(ROOT, 'src', 'index.ts');
const PLATFORM = path.join(ROOT, 'src', 'core', 'platform');
const BROWSER_PLATFORM = path.join(ROOT, 'src', 'core', 'platform.browser.ts');
const STUB_NAMESPACE = 'weir-node-stub';

const HINTS: Record<string, string> = {
  'fs/promises': ': give the formats a file system with tf.io.setFileSystem()',
};

function failingStub(name: string): string {
  return `throw new Error(${JSON.stringify(`weir: node:${name} is not available in the browser${HINTS[name] ?? ''}`)});`;
}

export interface BrowserPlatformOptions {
  /** Module source standing in for `node:NAME` (by NAME), instead of one that throws when loaded. */
  stubs?: Record<string, string>;
}

/** The esbuild plugin that makes a browser build of weir (see the top of this file). */
export function browserPlatform(opts: BrowserPlatformOptions = {}): esbuild.Plugin {
  const stubs = opts.stubs ?? {};
  return {
    name: 'weir-browser-platform',
    setup(build) {
      build.onResolve({ filter: /(^|\/)platform(\.js|\.ts)?$/ }, (args) => {
        const target = path.resolve(args.resolveDir, args.path).replace(/\.(js|ts)$/, '');
        return target === PLATFORM ? { path: BROWSER_PLATFORM } : undefined;
      });
      build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path.slice('node:'.length), namespace: STUB_NAMESPACE }));
      build.onLoad({ filter: /.*/, namespace: STUB_NAMESPACE }, (args) => ({
        contents: stubs[args.path] ?? failingStub(args.path),
        loader: 'js',
      }));
    },
  };
}

/**
 * The `node:` modules a build would load as soon as the bundle is (imported other than by a dynamic
 * import() somewhere), from its metafile: a browser bundle of the library must have none.
 */
export function eagerNodeModules(metafile: esbuild.Metafile): string[] {
  const eager = new Set<string>();
  for (const input of Object.values(metafile.inputs)) {
    for (const imp of input.imports) {
      if (imp.path.startsWith(`${STUB_NAMESPACE}:`) && imp.kind !== 'dynamic-import') eager.add(`node:${imp.path.slice(STUB_NAMESPACE.length + 1)}`);
    }
  }
  return [...eager].sort();
}

export interface LibraryBundle {
  /** Where the bundle was written (its source map beside it, with `.map` appended). */
  outfile: string;
  bytes: number;
  warnings: esbuild.Message[];
}

/**
 * Bundles the library (src/index.ts and everything it imports, its npm dependencies included) into
 * one minified ES module for browsers, with a source map beside it.
 */
export async function bundleLibrary(outfile: string): Promise<LibraryBundle> {
  const result = await esbuild.build({
    entryPoints: [LIBRARY_ENTRY],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    // Error classes name themselves after their constructor (tf.errors.*): keep the names.
    keepNames: true,
    sourcemap: 'linked',
    metafile: true,
    plugins: [browserPlatform()],
    logLevel: 'silent',
  });
  const eager = eagerNodeModules(result.metafile);
  if (eager.length) throw new Error(`the browser bundle would load ${eager.join(', ')} up front; only dynamic import() of Node built-ins is allowed in weir`);
  const out = Object.entries(result.metafile.outputs).find(([f]) => f.endsWith('.js'));
  return { outfile, bytes: out?.[1].bytes ?? 0, warnings: result.warnings };
}
