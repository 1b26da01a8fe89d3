// Tests read nothing outside the repository: a user's clone has no folders beside it. This setup
// file, loaded into every test worker, makes any file-system access to a path beside the
// repository (under its parent folder but not inside it) throw, naming the path.
// Paths elsewhere (temporary folders, system libraries, the browser binary) and installed
// packages are not the hazard.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
const PARENT = path.dirname(ROOT);
const GUARDED = Symbol.for('weir.outsideReadGuard');

export function outsideRepository(p: unknown): string | undefined {
  let s: string;
  if (typeof p === 'string') s = p;
  else if (p instanceof URL && p.protocol === 'file:') s = fileURLToPath(p);
  else if (p instanceof Uint8Array) s = Buffer.from(p).toString();
  else return undefined;
  const abs = path.resolve(s);
  const inside = (dir: string) => abs === dir || abs.startsWith(dir + path.sep);
  // Installed packages may live outside (npm link, pnpm's store, a linked node_modules).
  const installed = abs.split(path.sep).includes('node_modules');
  return inside(PARENT) && !inside(ROOT) && !installed ? abs : undefined;
}

function guard<T extends object>(obj: T, names: readonly string[]): void {
  for (const name of names) {
    const original = (obj as Record<string, unknown>)[name];
    if (typeof original !== 'function') continue;
    (obj as Record<string, unknown>)[name] = function (this: unknown, p: unknown, ...rest: unknown[]) {
      const bad = outsideRepository(p);
      if (bad) throw new Error(`test read outside the repository: ${bad} (fs.${name}); keep fixtures under test/fixtures`);
      return (original as (...a: unknown[]) => unknown).call(this, p, ...rest);
    };
  }
}

const g = globalThis as Record<symbol, unknown>;
if (!g[GUARDED]) {
  g[GUARDED] = true;
  const names = ['readFileSync', 'readFile', 'openSync', 'open', 'existsSync', 'statSync', 'stat', 'lstatSync', 'readdirSync', 'readdir', 'createReadStream', 'accessSync', 'access', 'opendirSync'];
  guard(fs, names);
  guard(fs.promises, ['readFile', 'open', 'stat', 'lstat', 'readdir', 'access', 'opendir']);
  syncBuiltinESMExports();
}
