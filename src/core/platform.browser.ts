/**
 * The browser's stand-in for ./platform.ts, swapped in by the browser bundle
 * (scripts/build-browser.ts): no Node built-ins, one thread for the CPU backend.
 */

/** One core: runtime/cpu/gemm.ts never starts a worker pool, every product runs on the page's thread. */
export function availableParallelism(): number {
  return 1;
}

/** Never constructed (one core means no pool); fails clearly if it is. */
export class Worker {
  constructor() {
    throw new Error('weir: worker threads are not available in the browser build');
  }
}

/** The URL of this bundle, without query or fragment: its frames are weir's own. */
const SELF = String(import.meta.url).replace(/[?#].*$/, '');

/** The file of a stack frame as shown for a creation site: the frame's URL, or undefined for weir's bundle itself. */
export function userSourceFile(frameFile: string): string | undefined {
  return frameFile.replace(/[?#].*$/, '') === SELF ? undefined : frameFile;
}
