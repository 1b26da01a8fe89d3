/**
 * What weir needs from its host platform at load time, in one place: Node's version here. The
 * browser bundle (scripts/build-browser.ts) swaps in ./platform.browser.ts, so nothing else that
 * is loaded up front imports a Node built-in. (The file system, src/io/fs.ts, is loaded lazily.)
 */
import { availableParallelism as nodeParallelism } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export { Worker } from 'node:worker_threads';

/** The number of cores worker threads can use. */
export function availableParallelism(): number {
  return nodeParallelism();
}

// This file is src/core/platform.ts (or dist/src/core/platform.js): weir's own sources are the
// sibling directories of src/.
const LIB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LIB_DIRS = ['src', 'ops', 'runtime', 'passes'].map((d) => path.join(LIB_ROOT, d) + path.sep);

/**
 * The file of a stack frame (a path or a file: URL) as it is shown for a creation site: relative
 * to the working directory; undefined for weir's own files, Node's and those of node_modules.
 */
export function userSourceFile(frameFile: string): string | undefined {
  const file = frameFile.startsWith('file://') ? fileURLToPath(frameFile) : frameFile;
  if (file.startsWith('node:') || file.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
  if (LIB_DIRS.some((d) => file.startsWith(d))) return undefined;
  return path.relative(process.cwd(), file) || file;
}
