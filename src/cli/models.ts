// What a path given to the `weir` command holds: a V2 checkpoint, a GraphDef or a SavedModel.
// Read with weir's own readers (src/io/).
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { CheckpointReader, CHECKPOINT_STATE_FILENAME, latestCheckpoint } from '../io/checkpoint.js';
import { indexFilename } from '../io/bundle.js';
import { getFileSystem, joinPath } from '../io/fs.js';
import { readGraph } from '../io/graph_def.js';
import { decodeMessage, type GraphDef, type MetaGraphDef, type SavedModelProto } from '../io/proto.js';
import { maybeSavedModelDirectory, readSavedModel } from '../io/saved_model.js';

export type Model =
  | { kind: 'checkpoint'; path: string; prefix: string; reader: CheckpointReader }
  | { kind: 'graph'; path: string; graphDef: GraphDef; format: 'binary' | 'text' }
  | { kind: 'metagraph'; path: string; metaGraph: MetaGraphDef }
  | { kind: 'savedmodel'; path: string; savedModel: SavedModelProto; variablesPrefix: string | undefined };

const DATA_FILE = /\.data-\d{5}-of-\d{5}$/;

/**
 * Opens PATH as what it holds: a checkpoint prefix (or its .index or .data file, or a directory with
 * a `checkpoint` state file: its latest checkpoint), a SavedModel directory (or its saved_model.pb),
 * a MetaGraphDef (.meta) or a GraphDef (binary .pb, text .pbtxt/.txt).
 */
export async function openModel(path: string): Promise<Model> {
  const fs = await getFileSystem();
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (await fs.exists(indexFilename(p))) return openCheckpoint(path, p);
  if (p.endsWith('.index') && (await fs.exists(p))) return openCheckpoint(path, p.slice(0, -'.index'.length));
  if (DATA_FILE.test(p) && (await fs.exists(p))) return openCheckpoint(path, p.replace(DATA_FILE, ''));
  if (!(await fs.exists(p))) throw new NotFoundError(`${path}: no such file, directory or checkpoint prefix`);

  if (await isDirectory(p)) {
    if (await maybeSavedModelDirectory(p)) return openSavedModel(path, p);
    if (await fs.exists(joinPath(p, CHECKPOINT_STATE_FILENAME))) {
      const latest = await latestCheckpoint(p);
      if (latest === null) throw new NotFoundError(`${path}: its checkpoint state file names no checkpoint that exists`);
      return openCheckpoint(path, latest);
    }
    throw new InvalidArgumentError(`${path} is a directory with neither a SavedModel (saved_model.pb) nor a checkpoint state file (checkpoint)`);
  }
  const base = p.slice(p.lastIndexOf('/') + 1);
  if (base === 'saved_model.pb' || base === 'saved_model.pbtxt') return openSavedModel(path, p.slice(0, -base.length - 1) || '.');
  if (base.endsWith('.meta')) {
    return { kind: 'metagraph', path, metaGraph: decodeMessage('MetaGraphDef', await fs.readFile(p), p) };
  }
  const text = /\.(pbtxt|txt)$/.test(base);
  return { kind: 'graph', path, graphDef: await readGraph(p, { asText: text }), format: text ? 'text' : 'binary' };
}

async function openCheckpoint(path: string, prefix: string): Promise<Model> {
  return { kind: 'checkpoint', path, prefix, reader: await CheckpointReader.open(prefix) };
}

async function openSavedModel(path: string, dir: string): Promise<Model> {
  const fs = await getFileSystem();
  const variablesPrefix = joinPath(dir, 'variables', 'variables');
  return {
    kind: 'savedmodel',
    path,
    savedModel: await readSavedModel(dir),
    variablesPrefix: (await fs.exists(indexFilename(variablesPrefix))) ? variablesPrefix : undefined,
  };
}

/** Whether p is a directory (listing it works). */
async function isDirectory(p: string): Promise<boolean> {
  const fs = await getFileSystem();
  try {
    await fs.list(p);
    return true;
  } catch {
    return false;
  }
}

/** The MetaGraphDef of a SavedModel tagged with exactly `tags` (any order), or its only/first one when no tags are given. */
export function selectMetaGraph(sm: SavedModelProto, tags: readonly string[] | undefined, what: string): MetaGraphDef {
  const metaGraphs = sm.meta_graphs ?? [];
  if (!metaGraphs.length) throw new InvalidArgumentError(`${what}: the SavedModel has no MetaGraphDef`);
  if (!tags?.length) return metaGraphs[0]!;
  const want = new Set(tags);
  const mg = metaGraphs.find((m) => {
    const have = new Set(m.meta_info_def?.tags ?? []);
    return have.size === want.size && [...want].every((t) => have.has(t));
  });
  if (!mg) {
    const available = metaGraphs.map((m) => (m.meta_info_def?.tags ?? []).join(',') || '(none)').join('; ');
    throw new NotFoundError(`${what}: no MetaGraphDef tagged ${[...want].join(',')} (tag sets: ${available})`);
  }
  return mg;
}
