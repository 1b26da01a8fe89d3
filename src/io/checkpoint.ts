/**
 * Reading V2 checkpoints and the `checkpoint` state file: tf.train.latestCheckpoint,
 * getCheckpointState, listVariables, loadVariable and a CheckpointReader.
 */
import { setOwn } from './proto.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { NDArray } from '../core/ndarray.js';
import { fromUtf8, utf8 } from './bytes.js';
import { BundleIndex, dataFilename, indexFilename, readTensor } from './bundle.js';
import { basename, dirname, getFileSystem, isAbsolute, joinPath, type FileSystem } from './fs.js';
import { fromTextFormat, toTextFormat } from './text_format.js';

export interface CheckpointState {
  /** The most recent checkpoint prefix. */
  modelCheckpointPath: string;
  /** Checkpoints not yet deleted, oldest first (the last is modelCheckpointPath). */
  allModelCheckpointPaths: string[];
}

export const CHECKPOINT_STATE_FILENAME = 'checkpoint';

/** Reads a V2 checkpoint: its index up front, data shards when a tensor is asked for. */
export class CheckpointReader {
  private readonly shards = new Map<number, Promise<Uint8Array>>();
  private constructor(
    readonly prefix: string,
    readonly index: BundleIndex,
    private readonly fs: FileSystem,
  ) {}

  static async open(prefix: string, fs?: FileSystem): Promise<CheckpointReader> {
    const f = fs ?? (await getFileSystem());
    const path = indexFilename(prefix);
    if (!(await f.exists(path))) {
      throw new NotFoundError(`Unsuccessful TensorSliceReader constructor: Failed to find any matching files for ${prefix} (no ${path})`);
    }
    const bytes = await f.readFile(path);
    return new CheckpointReader(prefix, new BundleIndex(bytes, path), f);
  }

  hasTensor(name: string): boolean {
    return this.index.has(name);
  }
  /** {name: shape} of every tensor. */
  getVariableToShapeMap(): Record<string, number[]> {
    return Object.fromEntries(this.index.list());
  }
  getVariableToDtypeMap(): Record<string, DType> {
    const out: Record<string, DType> = {};
    for (const n of this.index.names()) {
      const d = safeDType(this.index, n);
      if (d) setOwn(out, n, d);
    }
    return out;
  }
  async getTensor(name: string): Promise<NDArray> {
    const entry = this.index.entry(name);
    const shardName = dataFilename(this.prefix, entry.shard, this.index.numShards);
    return readTensor(entry, await this.shard(entry.shard), shardName);
  }
  private shard(i: number): Promise<Uint8Array> {
    let p = this.shards.get(i);
    if (!p) {
      const name = dataFilename(this.prefix, i, this.index.numShards);
      p = this.fs.readFile(name);
      this.shards.set(i, p);
    }
    return p;
  }
}

function safeDType(index: BundleIndex, name: string): DType | undefined {
  try {
    return index.entry(name).dtype;
  } catch {
    return undefined;
  }
}

// ---- the checkpoint state file ----

export function serializeCheckpointState(state: CheckpointState): string {
  return toTextFormat('CheckpointState', {
    model_checkpoint_path: state.modelCheckpointPath,
    all_model_checkpoint_paths: state.allModelCheckpointPaths,
  });
}

export function parseCheckpointState(text: string, what = 'checkpoint state'): CheckpointState {
  const p = fromTextFormat('CheckpointState', text, what);
  const model = p.model_checkpoint_path ?? '';
  if (!model) throw new InvalidArgumentError(`Invalid checkpoint state loaded from ${what}: model_checkpoint_path is empty`);
  return { modelCheckpointPath: model, allModelCheckpointPaths: [...(p.all_model_checkpoint_paths ?? [])] };
}

/**
 * The state of the checkpoints in `checkpointDir` (TF's get_checkpoint_state), with relative paths
 * resolved against the directory; null when there is no state file.
 */
export async function getCheckpointState(
  checkpointDir: string,
  latestFilename = CHECKPOINT_STATE_FILENAME,
  fs?: FileSystem,
): Promise<CheckpointState | null> {
  const f = fs ?? (await getFileSystem());
  const path = joinPath(checkpointDir, latestFilename);
  if (!(await f.exists(path))) return null;
  const state = parseCheckpointState(fromUtf8(await f.readFile(path)), path);
  const resolve = (p: string): string => (isAbsolute(p) ? p : joinPath(checkpointDir, p));
  return {
    modelCheckpointPath: resolve(state.modelCheckpointPath),
    allModelCheckpointPaths: state.allModelCheckpointPaths.map(resolve),
  };
}

/** Writes the state file atomically (a temporary file renamed over it). Paths inside `dir` are stored relative to it. */
export async function updateCheckpointState(
  dir: string,
  modelCheckpointPath: string,
  allModelCheckpointPaths: readonly string[],
  latestFilename = CHECKPOINT_STATE_FILENAME,
  fs?: FileSystem,
): Promise<void> {
  const f = fs ?? (await getFileSystem());
  const rel = (p: string): string => (dirname(p) === dir ? basename(p) : p);
  const all = allModelCheckpointPaths.filter((p) => p !== modelCheckpointPath).concat([modelCheckpointPath]);
  const text = serializeCheckpointState({ modelCheckpointPath: rel(modelCheckpointPath), allModelCheckpointPaths: all.map(rel) });
  const path = joinPath(dir, latestFilename);
  const tmp = `${path}.tmp${randomSuffix()}`;
  try {
    await f.writeFile(tmp, utf8(text));
    await f.rename(tmp, path);
  } catch (e) {
    await f.remove(tmp).catch(() => undefined);
    throw e;
  }
}

/** The prefix of the newest checkpoint in `checkpointDir`, or null (TF's latest_checkpoint). */
export async function latestCheckpoint(checkpointDir: string, latestFilename = CHECKPOINT_STATE_FILENAME, fs?: FileSystem): Promise<string | null> {
  const f = fs ?? (await getFileSystem());
  const state = await getCheckpointState(checkpointDir, latestFilename, f);
  if (!state) return null;
  return (await f.exists(indexFilename(state.modelCheckpointPath))) ? state.modelCheckpointPath : null;
}

/** A checkpoint prefix, or a directory whose newest checkpoint is wanted. */
async function resolveCheckpoint(ckptDirOrPrefix: string, f: FileSystem): Promise<string> {
  if (await f.exists(indexFilename(ckptDirOrPrefix))) return ckptDirOrPrefix;
  if (await f.exists(joinPath(ckptDirOrPrefix, CHECKPOINT_STATE_FILENAME))) {
    const latest = await latestCheckpoint(ckptDirOrPrefix, CHECKPOINT_STATE_FILENAME, f);
    if (latest) return latest;
  }
  throw new NotFoundError(`Couldn't find a checkpoint at ${ckptDirOrPrefix} (neither ${indexFilename(ckptDirOrPrefix)} nor a directory with a checkpoint state file)`);
}

/** [name, shape] of every tensor in a checkpoint (a prefix or a directory), sorted by name. */
export async function listVariables(ckptDirOrPrefix: string, fs?: FileSystem): Promise<[string, number[]][]> {
  const f = fs ?? (await getFileSystem());
  const reader = await CheckpointReader.open(await resolveCheckpoint(ckptDirOrPrefix, f), f);
  return reader.index.list().sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The value of one tensor of a checkpoint (a prefix or a directory). */
export async function loadVariable(ckptDirOrPrefix: string, name: string, fs?: FileSystem): Promise<NDArray> {
  const f = fs ?? (await getFileSystem());
  const reader = await CheckpointReader.open(await resolveCheckpoint(ckptDirOrPrefix, f), f);
  return reader.getTensor(name);
}

export function randomSuffix(): string {
  return Math.floor(Math.random() * 2 ** 52).toString(16);
}
