/**
 * tf.savedModel.loader.load: reads a SavedModel written by TensorFlow (saved_model.pb), imports
 * the MetaGraphDef with the requested tags into the session's graph, restores its variables from
 * variables/variables and runs its main (or legacy init) op, as TensorFlow 1's loader does.
 */
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { Operation, Tensor, type Graph } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import type { FeedDict, Session } from '../session.js';
import { fromUtf8 } from './bytes.js';
import { indexFilename } from './bundle.js';
import { getFileSystem, joinPath, type FileSystem } from './fs.js';
import { importCollectionDefs, importGraphDefWithPrefix } from './graph_def.js';
import { decodeMessage, ownValue, setOwn, type MetaGraphDef, type SavedModelProto, type SignatureDef } from './proto.js';
import { Saver, type Saveable } from './saver.js';
import { fromTextFormat } from './text_format.js';

export const tagConstants = {
  SERVING: 'serve',
  TRAINING: 'train',
  EVAL: 'eval',
  GPU: 'gpu',
  TPU: 'tpu',
} as const;

export const signatureConstants = {
  DEFAULT_SERVING_SIGNATURE_DEF_KEY: 'serving_default',
  CLASSIFY_METHOD_NAME: 'tensorflow/serving/classify',
  PREDICT_METHOD_NAME: 'tensorflow/serving/predict',
  REGRESS_METHOD_NAME: 'tensorflow/serving/regress',
  CLASSIFY_INPUTS: 'inputs',
  CLASSIFY_OUTPUT_CLASSES: 'classes',
  CLASSIFY_OUTPUT_SCORES: 'scores',
  PREDICT_INPUTS: 'inputs',
  PREDICT_OUTPUTS: 'outputs',
  REGRESS_INPUTS: 'inputs',
  REGRESS_OUTPUTS: 'outputs',
} as const;

export const SAVED_MODEL_FILENAME_PB = 'saved_model.pb';
export const SAVED_MODEL_FILENAME_PBTXT = 'saved_model.pbtxt';

export interface LoadOptions {
  /** Prefix for the imported names (default: none, the names of the SavedModel). */
  importScope?: string;
  fileSystem?: FileSystem;
}

export interface LoadedSavedModel {
  /** The MetaGraphDef that was loaded. */
  metaGraphDef: MetaGraphDef;
  /** Its signatures: inputs and outputs by key, with the tensor names to feed and fetch. */
  signatureDefs: Record<string, SignatureDef>;
}

/** Reads and parses saved_model.pb (or saved_model.pbtxt) of an export directory. */
export async function readSavedModel(exportDir: string, fs?: FileSystem): Promise<SavedModelProto> {
  const f = fs ?? (await getFileSystem());
  const pb = joinPath(exportDir, SAVED_MODEL_FILENAME_PB);
  if (await f.exists(pb)) return decodeMessage('SavedModel', await f.readFile(pb), pb);
  const txt = joinPath(exportDir, SAVED_MODEL_FILENAME_PBTXT);
  if (await f.exists(txt)) return fromTextFormat('SavedModel', fromUtf8(await f.readFile(txt)), txt);
  throw new NotFoundError(`SavedModel file does not exist at: ${exportDir}/{${SAVED_MODEL_FILENAME_PBTXT}|${SAVED_MODEL_FILENAME_PB}}`);
}

/** Whether `exportDir` holds a SavedModel. */
export async function maybeSavedModelDirectory(exportDir: string, fs?: FileSystem): Promise<boolean> {
  const f = fs ?? (await getFileSystem());
  return (await f.exists(joinPath(exportDir, SAVED_MODEL_FILENAME_PB))) || (await f.exists(joinPath(exportDir, SAVED_MODEL_FILENAME_PBTXT)));
}

/**
 * Loads the MetaGraphDef tagged with exactly `tags` into `sess.graph` and restores its variables.
 * Returns the MetaGraphDef and its signature defs, whose tensor names can be fed and fetched.
 */
export async function load(sess: Session, tags: readonly string[], exportDir: string, opts: LoadOptions = {}): Promise<LoadedSavedModel> {
  const fs = opts.fileSystem ?? (await getFileSystem());
  const sm = await readSavedModel(exportDir, fs);
  const want = new Set(tags);
  const metaGraphs = sm.meta_graphs ?? [];
  const mg = metaGraphs.find((m) => {
    const have = new Set(m.meta_info_def?.tags ?? []);
    return have.size === want.size && [...want].every((t) => have.has(t));
  });
  if (!mg) {
    const available = metaGraphs.map((m) => `[${(m.meta_info_def?.tags ?? []).map((t) => `'${t}'`).join(', ')}]`).join(', ');
    throw new NotFoundError(
      `MetaGraphDef associated with tags [${[...want].map((t) => `'${t}'`).join(', ')}] could not be found in SavedModel at ${exportDir}. ` +
        `Available tag sets: ${available || 'none'}`,
    );
  }
  const graph = sess.graph;
  const scope = opts.importScope ?? '';
  const { prefix } = importGraphDefWithPrefix(mg.graph_def ?? {}, { graph, name: scope, opList: mg.meta_info_def?.stripped_op_list?.op ?? [] });
  importCollectionDefs(graph, mg.collection_def, prefix);

  const variablesPrefix = joinPath(exportDir, 'variables', 'variables');
  if (await fs.exists(indexFilename(variablesPrefix))) {
    const vars = checkpointVariables(graph, mg, prefix);
    if (Object.keys(vars).length) {
      const saver = new Saver(vars, { fileSystem: fs, name: 'saved_model_restore' });
      await saver.restore(sess, variablesPrefix);
    }
  }

  const initName = collectionNodes(mg, 'saved_model_main_op')[0] ?? collectionNodes(mg, 'legacy_init_op')[0];
  if (initName) {
    await sess.run(graph.getOperationByName(prefix + initName.replace(/:\d+$/, '')), assetFeeds(graph, mg, prefix, exportDir));
  }
  return { metaGraphDef: mg, signatureDefs: mg.signature_def ?? {} };
}

export const loader = { load, maybeSavedModelDirectory };

function collectionNodes(mg: MetaGraphDef, key: string): string[] {
  return [...(ownValue(mg.collection_def, key)?.node_list?.value ?? [])];
}

/**
 * Which checkpoint key restores which variable: read off the SavedModel's own restore ops
 * (RestoreV2 tensor_names feeding Assign ops), else the variables collection keyed by op name.
 */
function checkpointVariables(graph: Graph, mg: MetaGraphDef, prefix: string): Record<string, Saveable> {
  const out: Record<string, Saveable> = {};
  for (const op of graph.getOperations()) {
    if (op.type !== 'RestoreV2' || !op.name.startsWith(prefix)) continue;
    const namesOp = op.inputs[1]?.op;
    const names = namesOp?.type === 'Const' ? (namesOp.attrs.value as NDArray | undefined) : undefined;
    if (!(names instanceof NDArray) || names.dtype !== 'string') continue;
    const keys = names.toFlat() as string[];
    op.outputs.forEach((t, i) => {
      const key = keys[i];
      if (key === undefined) return;
      for (const consumer of followIdentities(t)) {
        if (consumer.type !== 'Assign') continue;
        const ref = consumer.inputs[0]!;
        if (ref.op.type === 'VariableV2') setOwn(out, key, ref);
      }
    });
  }
  if (Object.keys(out).length) return out;
  const defs = ownValue(mg.collection_def, 'variables')?.bytes_list?.value ?? [];
  for (const bytes of defs) {
    const vd = decodeMessage('VariableDef', bytes, 'VariableDef in the variables collection') as { variable_name?: string };
    const name = (vd.variable_name ?? '').replace(/:\d+$/, '');
    if (name && graph.hasOperation(prefix + name)) {
      const op = graph.getOperationByName(prefix + name);
      if (op.type === 'VariableV2') setOwn(out, name, op.outputs[0]!);
    }
  }
  return out;
}

function followIdentities(t: Tensor): Operation[] {
  const out: Operation[] = [];
  for (const c of t.consumers()) {
    if (c.type === 'Identity') out.push(...followIdentities(c.outputs[0]!));
    else out.push(c);
  }
  return out;
}

/** Asset tensors fed with the assets' paths when the init op runs, as TensorFlow's loader does. */
function assetFeeds(graph: Graph, mg: MetaGraphDef, prefix: string, exportDir: string): FeedDict {
  const assets: { tensor: string; filename: string }[] = [];
  for (const a of mg.asset_file_def ?? []) if (a.tensor_info?.name && a.filename) assets.push({ tensor: a.tensor_info.name, filename: a.filename });
  for (const any of mg.collection_def?.saved_model_assets?.any_list?.value ?? []) {
    try {
      const a = decodeMessage('AssetFileDef', any.value ?? new Uint8Array(0));
      if (a.tensor_info?.name && a.filename) assets.push({ tensor: a.tensor_info.name, filename: a.filename });
    } catch {
      // not an AssetFileDef: ignored
    }
  }
  const feeds: [Tensor, NDArray][] = [];
  for (const a of assets) {
    let t: Tensor;
    try {
      t = graph.getTensorByName(prefix + a.tensor);
    } catch {
      continue;
    }
    if (t.dtype !== 'string') throw new InvalidArgumentError(`Asset tensor ${t.name} is not a string tensor`);
    feeds.push([t, NDArray.from(joinPath(exportDir, 'assets', a.filename), 'string')]);
  }
  return feeds;
}

export {
  Builder,
  SavedModelBuilder,
  builder,
  simpleSave,
  buildTensorInfo,
  getTensorFromTensorInfo,
  buildSignatureDef,
  predictSignatureDef,
  classificationSignatureDef,
  regressionSignatureDef,
  isValidSignature,
  signatureDefUtils,
  utils,
  type AddMetaGraphOptions,
  type BuilderOptions,
} from './saved_model_builder.js';
