/**
 * The file operations the formats need. Node's file system by default (loaded on first use, so
 * importing weir does not pull in node:fs); an object with these methods can stand in for it (a
 * browser store, or a test that injects failures).
 */
import { NotFoundError, UnknownError } from '../core/errors.js';

export interface FileSystem {
  readFile(path: string): Promise<Uint8Array>;
  /** Writes (creating or truncating) a whole file. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  appendFile(path: string, data: Uint8Array): Promise<void>;
  /** Replaces `to` with `from` (atomically on POSIX file systems). */
  rename(from: string, to: string): Promise<void>;
  /** Deletes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Creates a directory and its parents. */
  mkdirs(path: string): Promise<void>;
  /** Names of the entries of a directory. */
  list(dir: string): Promise<string[]>;
}

let defaultFs: FileSystem | undefined;
let override: FileSystem | undefined;

/** Replaces the file system the formats use (undefined restores Node's). */
export function setFileSystem(fs: FileSystem | undefined): void {
  override = fs;
}

export async function getFileSystem(): Promise<FileSystem> {
  if (override) return override;
  defaultFs ??= await nodeFileSystem();
  return defaultFs;
}

async function nodeFileSystem(): Promise<FileSystem> {
  const fsp = await import('node:fs/promises');
  const wrap = async <T>(op: string, path: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') throw new NotFoundError(`${op} ${path}: no such file or directory`);
      throw new UnknownError(`${op} ${path}: ${(e as Error).message}`);
    }
  };
  return {
    readFile: (p) => wrap('Reading', p, async () => new Uint8Array(await fsp.readFile(p))),
    writeFile: (p, d) => wrap('Writing', p, () => fsp.writeFile(p, d)),
    appendFile: (p, d) => wrap('Appending to', p, () => fsp.appendFile(p, d)),
    rename: (a, b) => wrap('Renaming', a, () => fsp.rename(a, b)),
    remove: (p) => wrap('Deleting', p, () => fsp.rm(p, { force: true })),
    exists: async (p) => {
      try {
        await fsp.stat(p);
        return true;
      } catch {
        return false;
      }
    },
    mkdirs: (p) => wrap('Creating directory', p, async () => void (await fsp.mkdir(p, { recursive: true }))),
    list: (d) => wrap('Listing', d, () => fsp.readdir(d)),
  };
}

// ---- path helpers (POSIX-style, as TensorFlow writes paths in checkpoint state files) ----

export function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return p.slice(0, i);
}
export function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
export function isAbsolute(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p);
}
export function joinPath(...parts: string[]): string {
  let out = '';
  for (const part of parts) {
    if (!part) continue;
    if (isAbsolute(part) || !out) out = part;
    else out = out.endsWith('/') ? out + part : `${out}/${part}`;
  }
  return out;
}
