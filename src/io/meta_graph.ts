/**
 * tf.train.exportMetaGraph / importMetaGraph: a graph with its collections and its Saver's SaverDef
 * as a MetaGraphDef (TensorFlow's .meta file), and back. What `import_meta_graph` + `Saver.restore`
 * does in TensorFlow, importMetaGraph + the Saver it returns does here: training continues where it
 * stopped, with the optimizer's slots.
 */
import { InvalidArgumentError, UnimplementedError } from '../core/errors.js';
import { getDefaultGraph, GraphKeys, type Graph } from '../graph.js';
import { utf8, fromUtf8 } from './bytes.js';
import { dirname, getFileSystem, type FileSystem } from './fs.js';
import {
  clearDevices as clearGraphDefDevices,
  collectionDefsOf,
  graphToGraphDef,
  importCollectionDefs,
  importGraphDefWithPrefix,
  strippedOpList,
  writeFileAtomically,
} from './graph_def.js';
import { decodeMessage, encodeMessage, type GraphDef, type MetaGraphDef, type MetaInfoDef, type SaverDef } from './proto.js';
import { Saver } from './saver.js';
import { fromTextFormat, toTextFormat } from './text_format.js';

export interface ExportMetaGraphOptions {
  /** Where to write the MetaGraphDef (none: only returned). */
  filename?: string;
  /** The graph to export (default: the default graph). */
  graph?: Graph;
  /** A GraphDef to write instead of the graph's own (collections still come from `graph`). */
  graphDef?: GraphDef;
  /** The SaverDef to record (a Saver's `saverDef`); none: the MetaGraphDef has no saver_def. */
  saverDef?: SaverDef;
  /** Fields of meta_info_def to set (tags, any_info, ...); stripped_op_list is always computed. */
  metaInfoDef?: MetaInfoDef;
  /** Collections to write (default: all of the graph's). */
  collectionList?: readonly string[];
  /** Protobuf text format instead of binary (default false). */
  asText?: boolean;
  /** Leaves the nodes' device placements out (default false). */
  clearDevices?: boolean;
  /**
   * Leaves attrs at their op's default value out of the nodes. weir's op registry records no attr
   * defaults, so only false (the default) is supported.
   */
  stripDefaultAttrs?: boolean;
  fileSystem?: FileSystem;
}

/**
 * tf.train.exportMetaGraph: the graph as a MetaGraphDef (graph_def, saver_def, collection_def,
 * meta_info_def.stripped_op_list), written to `filename` when one is given. Returns the MetaGraphDef.
 */
export async function exportMetaGraph(filenameOrOptions?: string | ExportMetaGraphOptions, options: ExportMetaGraphOptions = {}): Promise<MetaGraphDef> {
  const opts = typeof filenameOrOptions === 'string' ? { ...options, filename: filenameOrOptions } : (filenameOrOptions ?? options);
  if (opts.stripDefaultAttrs) {
    throw new UnimplementedError("exportMetaGraph: stripDefaultAttrs is not supported: weir's op registry records no attr defaults to strip");
  }
  const graph = opts.graph ?? getDefaultGraph();
  // A GraphDef given by the caller is copied before devices are cleared from it; the graph's own is fresh.
  const graphDef = opts.graphDef ? (opts.clearDevices ? structuredClone(opts.graphDef) : opts.graphDef) : graphToGraphDef(graph);
  if (opts.clearDevices) clearGraphDefDevices(graphDef);
  const metaInfo: MetaInfoDef = { ...opts.metaInfoDef, stripped_op_list: { op: strippedOpList(graph, graphDef) } };
  const mg: MetaGraphDef = { meta_info_def: metaInfo, graph_def: graphDef };
  if (opts.saverDef) mg.saver_def = { ...opts.saverDef };
  mg.collection_def = collectionDefsOf(graph, opts.collectionList);
  if (opts.filename !== undefined) {
    const fs = opts.fileSystem ?? (await getFileSystem());
    await fs.mkdirs(dirname(opts.filename));
    const bytes = opts.asText ? utf8(toTextFormat('MetaGraphDef', mg)) : encodeMessage('MetaGraphDef', mg);
    await writeFileAtomically(fs, opts.filename, bytes);
  }
  return mg;
}

export interface ImportMetaGraphOptions {
  /** Leaves the nodes' device placements out (default false). */
  clearDevices?: boolean;
  /** Name scope to import under (default: none, the names of the file). */
  importScope?: string;
  /** The graph to import into (default: the default graph). */
  graph?: Graph;
  fileSystem?: FileSystem;
}

/**
 * tf.train.importMetaGraph: adds a MetaGraphDef's graph to the graph, fills its collections
 * (variables as Variables, train_op, summaries, ...), and returns a Saver over the saver ops its
 * saver_def names (a new Saver of its variables when it has none; null when it has no variables
 * either). `metaGraphOrFile` is a MetaGraphDef, its bytes, or the path of a .meta file (binary, or
 * text format).
 */
export async function importMetaGraph(metaGraphOrFile: MetaGraphDef | Uint8Array | string, opts: ImportMetaGraphOptions = {}): Promise<Saver | null> {
  const mg = await readMetaGraph(metaGraphOrFile, opts.fileSystem);
  const graph = opts.graph ?? getDefaultGraph();
  const graphDef = opts.clearDevices ? structuredClone(mg.graph_def ?? {}) : (mg.graph_def ?? {});
  if (opts.clearDevices) clearGraphDefDevices(graphDef);
  const { prefix } = importGraphDefWithPrefix(graphDef, { graph, name: opts.importScope ?? '', opList: mg.meta_info_def?.stripped_op_list?.op ?? [] });
  importCollectionDefs(graph, mg.collection_def, prefix);
  return graph.asDefault(() => {
    const def = mg.saver_def;
    if (def?.restore_op_name) {
      const scoped = (n: string | undefined): string | undefined => (n ? prefix + n : n);
      const saverDef: SaverDef = {
        ...def,
        filename_tensor_name: scoped(def.filename_tensor_name),
        save_tensor_name: scoped(def.save_tensor_name),
        restore_op_name: scoped(def.restore_op_name),
      };
      return new Saver({ saverDef, fileSystem: opts.fileSystem });
    }
    const variables = graph.getCollection(GraphKeys.GLOBAL_VARIABLES);
    return variables.length ? new Saver({ fileSystem: opts.fileSystem }) : null;
  });
}

async function readMetaGraph(source: MetaGraphDef | Uint8Array | string, fileSystem: FileSystem | undefined): Promise<MetaGraphDef> {
  if (source instanceof Uint8Array) return decodeMessage('MetaGraphDef', source, 'MetaGraphDef');
  if (typeof source !== 'string') {
    if (source === null || typeof source !== 'object') throw new InvalidArgumentError(`importMetaGraph: expected a MetaGraphDef, its bytes or a file path, got ${String(source)}`);
    return source;
  }
  const fs = fileSystem ?? (await getFileSystem());
  const bytes = await fs.readFile(source);
  // TF's read_meta_graph_file: binary first, then text format.
  try {
    return decodeMessage('MetaGraphDef', bytes, source);
  } catch (binaryError) {
    try {
      return fromTextFormat('MetaGraphDef', fromUtf8(bytes), source);
    } catch {
      throw binaryError;
    }
  }
}
