/**
 * SavedModel export, as TensorFlow 1's SavedModelBuilder writes it and TensorFlow Serving reads it:
 * EXPORT_DIR/saved_model.pb (a SavedModel of tagged MetaGraphDefs with their signatures),
 * EXPORT_DIR/variables/variables.{index,data-00000-of-00001} (a V2 checkpoint written by a Saver
 * whose ops and SaverDef are in each MetaGraphDef) and EXPORT_DIR/assets/. Also the signature
 * helpers (tf.saved_model.signature_def_utils, tf.saved_model.utils).
 */
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { getDefaultGraph, GraphKeys, Operation, Tensor, type Graph } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import type { Session } from '../session.js';
import { SparseTensor } from '../api/sparse.js';
import { Variable } from '../variables.js';
import { utf8 } from './bytes.js';
import { basename, getFileSystem, joinPath, type FileSystem } from './fs.js';
import { writeFileAtomically } from './graph_def.js';
import { exportMetaGraph } from './meta_graph.js';
import { DT, encodeMessage, type CollectionDef, type MetaGraphDef, type SavedModelProto, type SignatureDef, type TensorInfo } from './proto.js';
import { SAVED_MODEL_FILENAME_PB, SAVED_MODEL_FILENAME_PBTXT, signatureConstants, tagConstants } from './saved_model.js';
import { Saver } from './saver.js';
import { dtypeToTF, shapeToProto } from './tensor_proto.js';
import { toTextFormat } from './text_format.js';

/** Collection keys of TensorFlow 1's SavedModel (saved_model/constants.py). */
const ASSETS_KEY = 'saved_model_assets';
const MAIN_OP_KEY = 'saved_model_main_op';
const ASSET_FILE_DEF_TYPE_URL = 'type.googleapis.com/tensorflow.AssetFileDef';
const SAVED_MODEL_SCHEMA_VERSION = 1;

export interface AddMetaGraphOptions {
  /** Signatures by key ('serving_default', ...): what TF Serving serves. */
  signatureDefMap?: Record<string, SignatureDef>;
  /** String Const tensors holding the paths of files to copy into assets/ (TF's assets_collection). */
  assetsCollection?: readonly Tensor[];
  /** An op the loader runs after restoring the variables (table initializers, ...). */
  mainOp?: Operation;
  /** TensorFlow 1's older name of mainOp, written the same way. */
  legacyInitOp?: Operation;
  /** Leaves the nodes' device placements out (default false). */
  clearDevices?: boolean;
  /** Not supported (weir's op registry records no attr defaults); false by default. */
  stripDefaultAttrs?: boolean;
  /** The Saver whose ops and SaverDef go into the MetaGraphDef (default: a Saver of the global variables). */
  saver?: Saver;
}

export interface BuilderOptions {
  fileSystem?: FileSystem;
}

/**
 * tf.saved_model.Builder (SavedModelBuilder): `addMetaGraphAndVariables` once (it writes the
 * variables and assets), `addMetaGraph` for further tag sets, then `save`. An export directory that
 * exists and is not empty is refused with AlreadyExistsError, as TensorFlow refuses it (checked by
 * addMetaGraphAndVariables, the first call that touches the file system).
 */
export class Builder {
  readonly exportDir: string;
  private readonly fsOption: FileSystem | undefined;
  private readonly savedModel: SavedModelProto & { meta_graphs: MetaGraphDef[] } = { saved_model_schema_version: SAVED_MODEL_SCHEMA_VERSION, meta_graphs: [] };
  private hasSavedVariables = false;
  private readonly savers = new Map<Graph, Saver | null>();
  /** Asset file names in assets/, by the source path they were copied from. */
  private readonly assetNames = new Map<string, string>();

  constructor(exportDir: string, opts: BuilderOptions = {}) {
    if (typeof exportDir !== 'string' || !exportDir) throw new InvalidArgumentError(`Builder: exportDir must be a non-empty path, got ${String(exportDir)}`);
    this.exportDir = exportDir;
    this.fsOption = opts.fileSystem;
  }

  private async fs(): Promise<FileSystem> {
    return this.fsOption ?? (await getFileSystem());
  }

  /**
   * Adds the session graph's MetaGraphDef under `tags` and saves its variables to
   * variables/variables, copying its assets to assets/. Must be the first MetaGraphDef added.
   */
  async addMetaGraphAndVariables(sess: Session, tags: readonly string[], opts: AddMetaGraphOptions = {}): Promise<void> {
    if (this.hasSavedVariables) {
      throw new FailedPreconditionError('Graph state including variables and assets has already been saved. Please invoke addMetaGraph() instead.');
    }
    const fs = await this.fs();
    if ((await fs.exists(this.exportDir)) && (await fs.list(this.exportDir).catch(() => [''])).length) {
      throw new AlreadyExistsError(
        `Export directory already exists, and isn't empty. Please choose a different export directory, or delete all the contents of the specified directory: ${this.exportDir}`,
      );
    }
    const graph = sess.graph;
    const meta = this.checkedOptions(tags, opts);
    const variablesDir = joinPath(this.exportDir, 'variables');
    await fs.mkdirs(variablesDir);
    const saver = this.saverFor(graph, opts.saver);
    if (saver) await saver.save(sess, joinPath(variablesDir, 'variables'), { writeMetaGraph: false, writeStateProto: false });
    this.hasSavedVariables = true;
    await this.addMetaGraphOf(graph, saver, meta, opts);
  }

  /** Adds the MetaGraphDef of `graph` (default: the default graph) under `tags`, sharing the variables already saved. */
  async addMetaGraph(tags: readonly string[], opts: AddMetaGraphOptions & { graph?: Graph } = {}): Promise<void> {
    if (!this.hasSavedVariables) {
      throw new FailedPreconditionError('Graph state including variables and assets has not been saved yet. Please invoke addMetaGraphAndVariables() first.');
    }
    const graph = opts.graph ?? getDefaultGraph();
    const meta = this.checkedOptions(tags, opts);
    await this.addMetaGraphOf(graph, this.saverFor(graph, opts.saver), meta, opts);
  }

  /** Writes saved_model.pb (saved_model.pbtxt with asText) into the export directory; returns its path. */
  async save(opts: { asText?: boolean } = {}): Promise<string> {
    const fs = await this.fs();
    await fs.mkdirs(this.exportDir);
    const path = joinPath(this.exportDir, opts.asText ? SAVED_MODEL_FILENAME_PBTXT : SAVED_MODEL_FILENAME_PB);
    const bytes = opts.asText ? utf8(toTextFormat('SavedModel', this.savedModel)) : encodeMessage('SavedModel', this.savedModel);
    await writeFileAtomically(fs, path, bytes);
    return path;
  }

  private checkedOptions(tags: readonly string[], opts: AddMetaGraphOptions): { tags: string[]; signatures: Record<string, SignatureDef>; init: Operation | undefined } {
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
      throw new InvalidArgumentError(`SavedModel tags must be an array of strings, got ${String(tags)}`);
    }
    const want = new Set(tags);
    for (const m of this.savedModel.meta_graphs) {
      const have = new Set(m.meta_info_def?.tags ?? []);
      if (have.size === want.size && [...want].every((t) => have.has(t))) {
        throw new AlreadyExistsError(`A MetaGraphDef with tags [${tags.join(', ')}] was already added to the SavedModel at ${this.exportDir}`);
      }
    }
    const signatures = opts.signatureDefMap ?? {};
    for (const [key, sig] of Object.entries(signatures)) {
      for (const [side, infos] of [['inputs', sig.inputs], ['outputs', sig.outputs]] as const) {
        for (const [k, info] of Object.entries(infos ?? {})) {
          if (!(info.name || info.coo_sparse) || !info.dtype) {
            throw new InvalidArgumentError(
              `SignatureDef '${key}' ${side} '${k}': all TensorInfo protos used in the SignatureDefs must have the name and dtype fields set`,
            );
          }
        }
      }
    }
    const init = opts.mainOp ?? opts.legacyInitOp;
    if (init !== undefined && !(init instanceof Operation)) {
      throw new InvalidArgumentError(`mainOp must be an Operation, got ${String(init)}`);
    }
    return { tags: [...tags], signatures, init };
  }

  /** One Saver per graph: the one given, else a Saver of its global variables (none when it has none). */
  private saverFor(graph: Graph, given: Saver | undefined): Saver | null {
    if (given) {
      if (given.graph !== graph) throw new InvalidArgumentError("SavedModel: the Saver's variables are not in the graph being exported");
      return given;
    }
    if (!this.savers.has(graph)) {
      const variables = graph.getCollection<Variable>(GraphKeys.GLOBAL_VARIABLES);
      this.savers.set(graph, variables.length ? new Saver(variables, { fileSystem: this.fsOption }) : null);
    }
    return this.savers.get(graph)!;
  }

  private async addMetaGraphOf(
    graph: Graph,
    saver: Saver | null,
    meta: { tags: string[]; signatures: Record<string, SignatureDef>; init: Operation | undefined },
    opts: AddMetaGraphOptions,
  ): Promise<void> {
    if (meta.init && meta.init.graph !== graph) throw new InvalidArgumentError(`mainOp ${meta.init.name} is not in the graph being exported`);
    const mg = await exportMetaGraph({
      graph,
      saverDef: saver?.saverDef,
      clearDevices: opts.clearDevices,
      stripDefaultAttrs: opts.stripDefaultAttrs,
      fileSystem: this.fsOption,
    });
    mg.meta_info_def = { ...mg.meta_info_def, tags: meta.tags };
    mg.signature_def = meta.signatures;
    const collections: Record<string, CollectionDef> = mg.collection_def ?? {};
    const assets = await this.copyAssets(opts.assetsCollection ?? []);
    if (assets.length) {
      collections[ASSETS_KEY] = {
        any_list: {
          value: assets.map((a) => ({ type_url: ASSET_FILE_DEF_TYPE_URL, value: encodeMessage('AssetFileDef', { tensor_info: { name: a.tensor.name }, filename: a.filename }) })),
        },
      };
    }
    if (meta.init) collections[MAIN_OP_KEY] = { node_list: { value: [meta.init.name] } };
    mg.collection_def = collections;
    this.savedModel.meta_graphs.push(mg);
  }

  /** Copies each asset file into assets/ under its base name (made unique when two differ), once per source. */
  private async copyAssets(tensors: readonly Tensor[]): Promise<{ tensor: Tensor; filename: string }[]> {
    const fs = await this.fs();
    const out: { tensor: Tensor; filename: string }[] = [];
    for (const t of tensors) {
      const source = assetPath(t);
      let filename = this.assetNames.get(source);
      if (filename === undefined) {
        const taken = new Set(this.assetNames.values());
        const base = basename(source);
        const dot = base.lastIndexOf('.');
        const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
        filename = base;
        for (let i = 1; taken.has(filename); i++) filename = `${stem}_${i}${ext}`;
        let bytes: Uint8Array;
        try {
          bytes = await fs.readFile(source);
        } catch (e) {
          throw new NotFoundError(`SavedModel asset ${t.name}: cannot read ${source}: ${(e as Error).message}`);
        }
        const dir = joinPath(this.exportDir, 'assets');
        await fs.mkdirs(dir);
        await writeFileAtomically(fs, joinPath(dir, filename), bytes);
        this.assetNames.set(source, filename);
      }
      out.push({ tensor: t, filename });
    }
    return out;
  }
}

/** The file path an asset tensor holds: a scalar string Const, as TensorFlow requires. */
function assetPath(t: Tensor): string {
  if (!(t instanceof Tensor)) throw new InvalidArgumentError(`Asset path tensor must be a Tensor, got ${String(t)}`);
  const value = t.op.type === 'Const' ? t.op.attrs.value : undefined;
  if (!(value instanceof NDArray)) throw new InvalidArgumentError(`Asset path tensor ${t.name} must be a Const, got a ${t.op.type}`);
  if (value.dtype !== 'string' || value.size !== 1 || value.rank !== 0) {
    throw new InvalidArgumentError(`Asset path tensor ${t.name} must be a scalar string, got ${value.dtype} of shape [${value.shape.join(',')}]`);
  }
  return value.scalar() as string;
}

export { Builder as SavedModelBuilder };
/** tf.saved_model.builder. */
export const builder = { SavedModelBuilder: Builder };

/**
 * tf.saved_model.simple_save: a SavedModel tagged 'serve' with the graph of `sess`, its variables,
 * and one 'serving_default' predict signature of `inputs` and `outputs` (device placements cleared).
 */
export async function simpleSave(
  sess: Session,
  exportDir: string,
  inputs: Record<string, Tensor | SparseTensor>,
  outputs: Record<string, Tensor | SparseTensor>,
  opts: { legacyInitOp?: Operation; fileSystem?: FileSystem } = {},
): Promise<string> {
  const b = new Builder(exportDir, { fileSystem: opts.fileSystem });
  await b.addMetaGraphAndVariables(sess, [tagConstants.SERVING], {
    signatureDefMap: { [signatureConstants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]: predictSignatureDef(inputs, outputs) },
    assetsCollection: sess.graph.getCollection<Tensor>(GraphKeys.ASSET_FILEPATHS),
    mainOp: opts.legacyInitOp,
    clearDevices: true,
  });
  return b.save();
}

// ---- signatures ----

/** tf.saved_model.utils.build_tensor_info: a tensor's name, dtype and static shape (a SparseTensor's three names). */
export function buildTensorInfo(tensor: Tensor | SparseTensor): TensorInfo {
  if (tensor instanceof SparseTensor) {
    return {
      coo_sparse: { values_tensor_name: tensor.values.name, indices_tensor_name: tensor.indices.name, dense_shape_tensor_name: tensor.denseShape.name },
      dtype: dtypeToTF(tensor.dtype),
      tensor_shape: shapeToProto(tensor.shape),
    };
  }
  if (!(tensor instanceof Tensor)) throw new InvalidArgumentError(`buildTensorInfo: expected a Tensor or SparseTensor, got ${String(tensor)}`);
  return { name: tensor.name, dtype: dtypeToTF(tensor.dtype), tensor_shape: shapeToProto(tensor.shape) };
}

/** tf.saved_model.utils.get_tensor_from_tensor_info: the tensor (or SparseTensor) of `graph` a TensorInfo names. */
export function getTensorFromTensorInfo(info: TensorInfo, graph: Graph = getDefaultGraph(), importScope?: string): Tensor | SparseTensor {
  const scoped = (n: string): Tensor => graph.getTensorByName(importScope ? `${importScope}/${n}` : n);
  if (info.name) return scoped(info.name);
  const c = info.coo_sparse;
  if (c?.values_tensor_name && c.indices_tensor_name && c.dense_shape_tensor_name) {
    return graph.asDefault(() => new SparseTensor(scoped(c.indices_tensor_name!), scoped(c.values_tensor_name!), scoped(c.dense_shape_tensor_name!)));
  }
  throw new InvalidArgumentError('Invalid TensorInfo: it names no tensor (neither name nor coo_sparse is set)');
}

/** tf.saved_model.build_signature_def. */
export function buildSignatureDef(inputs?: Record<string, TensorInfo>, outputs?: Record<string, TensorInfo>, methodName?: string): SignatureDef {
  const sig: SignatureDef = { inputs: { ...inputs }, outputs: { ...outputs } };
  if (methodName !== undefined) sig.method_name = methodName;
  return sig;
}

const infos = (m: Record<string, Tensor | SparseTensor>): Record<string, TensorInfo> => Object.fromEntries(Object.entries(m).map(([k, t]) => [k, buildTensorInfo(t)]));

/** tf.saved_model.predict_signature_def: 'tensorflow/serving/predict' over named inputs and outputs. */
export function predictSignatureDef(inputs: Record<string, Tensor | SparseTensor>, outputs: Record<string, Tensor | SparseTensor>): SignatureDef {
  if (!inputs || !Object.keys(inputs).length) throw new InvalidArgumentError('Prediction inputs cannot be None or empty.');
  if (!outputs || !Object.keys(outputs).length) throw new InvalidArgumentError('Prediction outputs cannot be None or empty.');
  return buildSignatureDef(infos(inputs), infos(outputs), signatureConstants.PREDICT_METHOD_NAME);
}

function typedInfo(t: Tensor | undefined, dtype: number, what: string): TensorInfo {
  if (!(t instanceof Tensor)) throw new InvalidArgumentError(`${what} must be a Tensor, got ${String(t)}`);
  const info = buildTensorInfo(t);
  if (info.dtype !== dtype) throw new InvalidArgumentError(`${what} (${t.name}) must be a ${dtype === DT.DT_STRING ? 'string' : 'float'} Tensor, got ${t.dtype}`);
  return info;
}

/** tf.saved_model.regression_signature_def: serialized tf.Examples (string) in, float predictions out. */
export function regressionSignatureDef(examples: Tensor, predictions: Tensor): SignatureDef {
  return buildSignatureDef(
    { [signatureConstants.REGRESS_INPUTS]: typedInfo(examples, DT.DT_STRING, 'Regression examples') },
    { [signatureConstants.REGRESS_OUTPUTS]: typedInfo(predictions, DT.DT_FLOAT, 'Regression predictions') },
    signatureConstants.REGRESS_METHOD_NAME,
  );
}

/** tf.saved_model.classification_signature_def: serialized tf.Examples in, class names (string) and/or scores (float) out. */
export function classificationSignatureDef(examples: Tensor, classes: Tensor | null | undefined, scores: Tensor | null | undefined): SignatureDef {
  if (!classes && !scores) throw new InvalidArgumentError('Classification classes and scores cannot both be None.');
  const outputs: Record<string, TensorInfo> = {};
  if (classes) outputs[signatureConstants.CLASSIFY_OUTPUT_CLASSES] = typedInfo(classes, DT.DT_STRING, 'Classification classes');
  if (scores) outputs[signatureConstants.CLASSIFY_OUTPUT_SCORES] = typedInfo(scores, DT.DT_FLOAT, 'Classification scores');
  return buildSignatureDef(
    { [signatureConstants.CLASSIFY_INPUTS]: typedInfo(examples, DT.DT_STRING, 'Classification examples') },
    outputs,
    signatureConstants.CLASSIFY_METHOD_NAME,
  );
}

/** tf.saved_model.is_valid_signature: a predict, classify or regress signature of the shape TF Serving's APIs need. */
export function isValidSignature(sig: SignatureDef | null | undefined): boolean {
  if (!sig) return false;
  const inputs = sig.inputs ?? {};
  const outputs = sig.outputs ?? {};
  const dtypeOf = (m: Record<string, TensorInfo>, k: string): number | undefined => (Object.hasOwn(m, k) ? m[k]!.dtype : undefined);
  const nIn = Object.keys(inputs).length;
  const nOut = Object.keys(outputs).length;
  switch (sig.method_name) {
    case signatureConstants.PREDICT_METHOD_NAME:
      return nIn > 0 && nOut > 0;
    case signatureConstants.REGRESS_METHOD_NAME:
      return (
        nIn === 1 &&
        nOut === 1 &&
        dtypeOf(inputs, signatureConstants.REGRESS_INPUTS) === DT.DT_STRING &&
        dtypeOf(outputs, signatureConstants.REGRESS_OUTPUTS) === DT.DT_FLOAT
      );
    case signatureConstants.CLASSIFY_METHOD_NAME:
      return (
        nIn === 1 &&
        dtypeOf(inputs, signatureConstants.CLASSIFY_INPUTS) === DT.DT_STRING &&
        nOut >= 1 &&
        Object.keys(outputs).every((k) =>
          k === signatureConstants.CLASSIFY_OUTPUT_CLASSES
            ? outputs[k]!.dtype === DT.DT_STRING
            : k === signatureConstants.CLASSIFY_OUTPUT_SCORES && outputs[k]!.dtype === DT.DT_FLOAT,
        )
      );
    default:
      return false;
  }
}

/** tf.saved_model.signature_def_utils. */
export const signatureDefUtils = {
  buildSignatureDef,
  predictSignatureDef,
  classificationSignatureDef,
  regressionSignatureDef,
  isValidSignature,
};

/** tf.saved_model.utils. */
export const utils = { buildTensorInfo, getTensorFromTensorInfo };
