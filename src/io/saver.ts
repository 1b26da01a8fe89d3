/**
 * tf.train.Saver for V2 checkpoints. The constructor builds, under the 'save' name scope, the ops
 * TensorFlow's Saver builds (the filename tensor `save/Const`, `save/SaveV2` and
 * `save/control_dependency`, `save/RestoreV2` feeding one Assign per variable, `save/restore_all`),
 * so the graph and its SaverDef work in TensorFlow (`import_meta_graph` + `Saver.restore`). weir runs
 * no SaveV2/RestoreV2 kernel: saving reads the values in one session run and writes the tensor
 * bundle here; restoring checks every variable against the checkpoint, then runs restore_all with
 * RestoreV2's outputs fed with the checkpoint's values.
 */
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError, NotFoundError, UnimplementedError } from '../core/errors.js';
import { getDefaultGraph, GraphKeys, Operation, Tensor, type Graph } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import type { Session } from '../session.js';
import { formatShape, shapesCompatible, type Shape } from '../core/shape.js';
import { Variable } from '../variables.js';
import { dataFilename, encodeBundle, indexFilename } from './bundle.js';
import { CHECKPOINT_STATE_FILENAME, CheckpointReader, randomSuffix, updateCheckpointState } from './checkpoint.js';
import { basename, dirname, getFileSystem, type FileSystem } from './fs.js';
import type { SaverDef } from './proto.js';
import { exportMetaGraph } from './meta_graph.js';

/** What a Saver saves: a Variable, or the reference output of a VariableV2 op (graphs imported from files). */
export type Saveable = Variable | Tensor;

/** SaverDef.CheckpointFormatVersion.V2. */
const CHECKPOINT_V2 = 2;
/** TensorFlow's default keep_checkpoint_every_n_hours (in effect: never). */
const DEFAULT_KEEP_EVERY_N_HOURS = 10000;

export interface SaverOptions {
  /** Variables to save (TF's var_list keyword), when options come first: `new Saver({ varList, maxToKeep })`. */
  varList?: readonly Saveable[] | Record<string, Saveable>;
  /** Checkpoints to keep; older ones are deleted. 0 or null keeps all. Default 5. */
  maxToKeep?: number | null;
  /** Besides the newest maxToKeep, keeps one checkpoint every this many hours (default 10000). */
  keepCheckpointEveryNHours?: number;
  /** Name scope of the save and restore ops (default 'save'). */
  name?: string;
  /**
   * A SaverDef naming save and restore ops already in the graph (a graph imported from a
   * MetaGraphDef): the Saver uses them instead of building its own.
   */
  saverDef?: SaverDef;
  /** File system to use instead of Node's. */
  fileSystem?: FileSystem;
}

export interface SaveOptions {
  /** Appended to the prefix as '-STEP': a number, or a variable/tensor evaluated in the session. */
  globalStep?: number | bigint | Variable | Tensor;
  /** Name of the state file (default 'checkpoint'). */
  latestFilename?: string;
  /** Whether to update the state file (default true). */
  writeStateProto?: boolean;
  /** Whether to write the graph as a MetaGraphDef to PREFIX.meta (default true, as TensorFlow 1). */
  writeMetaGraph?: boolean;
  /** Suffix of the MetaGraphDef file (default 'meta'). */
  metaGraphSuffix?: string;
  /** Leaves attrs at their op's default out of the MetaGraphDef's nodes (default false). */
  stripDefaultAttrs?: boolean;
}

interface SaveEntry {
  key: string;
  ref: Tensor;
  dtype: DType;
  shape: Shape;
  /** RestoreV2's output for this variable: weir's restore feeds it with the checkpoint's value. */
  restored: Tensor;
}

/** The ops of a Saver in the graph. */
interface SaverOps {
  entries: SaveEntry[];
  restoreOp: Operation;
  filenameTensor: Tensor;
  saveTensor: Tensor;
}

export class Saver {
  readonly graph: Graph;
  readonly maxToKeep: number;
  readonly keepCheckpointEveryNHours: number;
  private readonly entries: SaveEntry[];
  private readonly restoreOp: Operation;
  private readonly filenameTensor: Tensor;
  private readonly saveTensor: Tensor;
  private readonly fsOption: FileSystem | undefined;
  private last: { path: string; time: number }[] = [];
  private nextKeepTime: number;

  /**
   * @param varList Variables to save: an array (keyed by their op names, 'dense/kernel') or a
   *   {checkpointKey: variable} map. Default: all global variables of the default graph. An object
   *   whose keys are all SaverOptions names and that holds no variable is read as the options
   *   (`new Saver({ maxToKeep: 3 })`, TF's keyword style).
   */
  constructor(opts: SaverOptions);
  constructor(varList?: readonly Saveable[] | Record<string, Saveable> | null, opts?: SaverOptions);
  constructor(varListOrOpts?: readonly Saveable[] | Record<string, Saveable> | SaverOptions | null, options?: SaverOptions) {
    const { varList, opts } = saverArgs(varListOrOpts, options);
    const def = opts.saverDef;
    this.maxToKeep = opts.maxToKeep ?? (opts.maxToKeep === null ? 0 : (def?.max_to_keep ?? 5));
    this.keepCheckpointEveryNHours = opts.keepCheckpointEveryNHours ?? (def?.keep_checkpoint_every_n_hours || DEFAULT_KEEP_EVERY_N_HOURS);
    if (!(this.keepCheckpointEveryNHours > 0)) {
      throw new InvalidArgumentError(`Saver: keepCheckpointEveryNHours must be positive, got ${this.keepCheckpointEveryNHours}`);
    }
    this.nextKeepTime = Date.now() + this.keepCheckpointEveryNHours * 3_600_000;
    this.fsOption = opts.fileSystem;
    let built: SaverOps;
    if (def) {
      if (varList !== undefined) throw new InvalidArgumentError('Saver: give either varList or saverDef, not both');
      this.graph = getDefaultGraph();
      built = adoptSaverOps(this.graph, def);
    } else {
      const pairs = keyed(varList ?? getDefaultGraph().getCollection<Variable>(GraphKeys.GLOBAL_VARIABLES));
      if (pairs.length === 0) throw new InvalidArgumentError('No variables to save');
      this.graph = refOf(pairs[0]![1]).graph;
      built = buildSaverOps(this.graph, pairs, opts.name ?? 'save');
    }
    this.entries = built.entries;
    this.restoreOp = built.restoreOp;
    this.filenameTensor = built.filenameTensor;
    this.saveTensor = built.saveTensor;
  }

  /** TF's saver_def: the names of this Saver's filename tensor, save tensor and restore op, and its settings. */
  get saverDef(): SaverDef {
    return {
      filename_tensor_name: this.filenameTensor.name,
      save_tensor_name: this.saveTensor.name,
      restore_op_name: this.restoreOp.name,
      max_to_keep: this.maxToKeep,
      sharded: false,
      keep_checkpoint_every_n_hours: this.keepCheckpointEveryNHours,
      version: CHECKPOINT_V2,
    };
  }
  /** TF's Saver.as_saver_def. */
  asSaverDef(): SaverDef {
    return this.saverDef;
  }

  /** Checkpoint prefixes this Saver has written and not deleted, oldest first. */
  get lastCheckpoints(): string[] {
    return this.last.map((c) => c.path);
  }
  /** Adopts checkpoints written earlier (e.g. by another process) so that maxToKeep applies to them. */
  recoverLastCheckpoints(paths: readonly string[]): void {
    const now = Date.now();
    this.last = paths.map((path) => ({ path, time: now }));
  }

  /**
   * Saves the variables to `savePath` (+ '-STEP' with a global step): PREFIX.index and
   * PREFIX.data-00000-of-00001, written to temporary files and renamed into place, then the graph
   * as PREFIX.meta, then the state file. A failure leaves the previous checkpoint and state file as
   * they were. Returns the prefix.
   */
  async save(sess: Session, savePath: string, opts: SaveOptions = {}): Promise<string> {
    this.checkSession(sess);
    const fs = this.fsOption ?? (await getFileSystem());
    let prefix = savePath;
    if (opts.globalStep !== undefined) prefix = `${savePath}-${await stepValue(sess, opts.globalStep)}`;
    const values = await sess.run(this.entries.map((e) => e.ref));
    const bundle = encodeBundle(this.entries.map((e, i) => [e.key, values[i]!] as const));

    const dir = dirname(prefix);
    await fs.mkdirs(dir);
    const dataPath = dataFilename(prefix, 0, 1);
    const indexPath = indexFilename(prefix);
    const suffix = `.tempstate${randomSuffix()}`;
    const temps = [dataPath + suffix, indexPath + suffix];
    try {
      await fs.writeFile(temps[0]!, bundle.data);
      await fs.writeFile(temps[1]!, bundle.index);
      await fs.rename(temps[0]!, dataPath);
      await fs.rename(temps[1]!, indexPath);
    } catch (e) {
      for (const t of temps) await fs.remove(t).catch(() => undefined);
      throw e;
    }
    if (opts.writeMetaGraph ?? true) {
      await this.exportMetaGraph(`${prefix}.${opts.metaGraphSuffix ?? 'meta'}`, { stripDefaultAttrs: opts.stripDefaultAttrs });
    }

    const kept = this.last.filter((c) => c.path !== prefix).concat([{ path: prefix, time: Date.now() }]);
    const over = this.maxToKeep > 0 && kept.length > this.maxToKeep ? kept.splice(0, kept.length - this.maxToKeep) : [];
    const dropped: string[] = [];
    for (const c of over) {
      // TF's keep_checkpoint_every_n_hours: one checkpoint per period survives maxToKeep.
      if (c.time > this.nextKeepTime) this.nextKeepTime += this.keepCheckpointEveryNHours * 3_600_000;
      else dropped.push(c.path);
    }
    if (opts.writeStateProto ?? true) {
      await updateCheckpointState(dir, prefix, kept.map((c) => c.path), opts.latestFilename ?? CHECKPOINT_STATE_FILENAME, fs);
    }
    this.last = kept;
    for (const old of dropped) await deleteCheckpoint(old, fs);
    return prefix;
  }

  /**
   * TF's Saver.export_meta_graph: writes this Saver's graph as a MetaGraphDef, with this Saver's
   * SaverDef, to `filename` (binary, or text with asText). Returns the MetaGraphDef.
   */
  exportMetaGraph(
    filename: string | undefined,
    opts: { collectionList?: readonly string[]; asText?: boolean; clearDevices?: boolean; stripDefaultAttrs?: boolean } = {},
  ) {
    return exportMetaGraph({ ...opts, filename, graph: this.graph, saverDef: this.saverDef, fileSystem: this.fsOption });
  }

  /**
   * Restores every variable from the checkpoint at `savePath`. A missing variable, or one stored
   * with another dtype or shape, is an error naming it, raised before any variable is assigned.
   */
  async restore(sess: Session, savePath: string | null): Promise<void> {
    if (savePath === null || savePath === undefined) throw new InvalidArgumentError("Can't load save_path when it is None.");
    this.checkSession(sess);
    const fs = this.fsOption ?? (await getFileSystem());
    const reader = await CheckpointReader.open(savePath, fs);
    const problems: string[] = [];
    let missing = false;
    for (const e of this.entries) {
      if (!reader.hasTensor(e.key)) {
        missing = true;
        problems.push(`variable '${e.key}' is not in the checkpoint`);
        continue;
      }
      let stored: { dtype: DType; shape: number[] };
      try {
        stored = reader.index.entry(e.key);
      } catch (err) {
        problems.push(`variable '${e.key}': ${(err as Error).message}`);
        continue;
      }
      if (stored.dtype !== e.dtype) {
        problems.push(`variable '${e.key}' is ${e.dtype} in the graph but ${stored.dtype} in the checkpoint`);
      } else if (!shapesCompatible(e.shape, stored.shape)) {
        problems.push(`variable '${e.key}' has shape ${formatShape(e.shape)} in the graph but ${formatShape(stored.shape)} in the checkpoint`);
      }
    }
    if (problems.length) {
      const msg = `Restoring from checkpoint ${savePath} failed (nothing was restored): ${problems.join('; ')}`;
      throw missing ? new NotFoundError(msg) : new InvalidArgumentError(msg);
    }
    const values: NDArray[] = [];
    for (const e of this.entries) values.push(await reader.getTensor(e.key));
    await sess.run(this.restoreOp, this.entries.map((e, i) => [e.restored, values[i]!] as const));
  }

  private checkSession(sess: Session): void {
    if (sess.graph !== this.graph) throw new InvalidArgumentError("The Saver's variables are not in the session's graph");
  }
}

/** A string Const (scalar or vector). */
function stringConst(graph: Graph, values: string | string[], name: string): Tensor {
  const value = typeof values === 'string' ? NDArray.from(values, 'string') : NDArray.from(values, 'string', [values.length]);
  return graph.createOp('Const', [], { value, dtype: 'string' }, { name }).outputs[0]!;
}

/** The save and restore ops TensorFlow's Saver builds (saver.py's BaseSaverBuilder, V2, not sharded). */
function buildSaverOps(graph: Graph, pairs: [string, Saveable][], scopeName: string): SaverOps {
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const refs = pairs.map(([key, v]) => {
    const ref = refOf(v);
    if (ref.graph !== graph) throw new InvalidArgumentError(`Saver: variable ${key} is from a different graph than ${pairs[0]![0]}`);
    return ref;
  });
  const keys = pairs.map(([k]) => k);
  const dtypes = refs.map((r) => r.dtype);
  return graph.asDefault(() =>
    graph.controlDependencies(null, () =>
      graph.nameScope(scopeName, () => {
        const withDefault = (input: Tensor, name: string): Tensor =>
          graph.createOp('PlaceholderWithDefault', [input], { dtype: 'string', shape: [] }, { name }).outputs[0]!;
        // placeholder_with_default('model', name='filename'): its default made inside its own scope.
        const filename = graph.nameScope('filename', (scope) => withDefault(stringConst(graph, 'model', 'input'), scope));
        // TensorFlow keeps the name 'Const' for the filename tensor, for compatibility.
        const filenameTensor = withDefault(filename, 'Const');
        // SaveV2 and RestoreV2, each with its constant inputs made in its own scope, as TF's op wrappers do.
        const ioOp = (type: 'SaveV2' | 'RestoreV2', extra: Tensor[], outputs: { dtype: DType; shape: Shape }[]): Operation =>
          graph.nameScope(type, (scope) => {
            const names = stringConst(graph, keys, 'tensor_names');
            const slices = stringConst(graph, keys.map(() => ''), 'shape_and_slices');
            return graph.createOp(type, [filenameTensor, names, slices, ...extra], { dtypes }, { name: scope, outputs });
          });
        const save = ioOp('SaveV2', refs, []);
        const saveTensor = graph.createOp('Identity', [filenameTensor], { T: 'string' }, { name: 'control_dependency', controlInputs: [save] }).outputs[0]!;
        const restore = ioOp('RestoreV2', [], dtypes.map((dtype) => ({ dtype, shape: null })));
        const entries: SaveEntry[] = [];
        const assigns = refs.map((ref, i) => {
          entries.push({ key: keys[i]!, ref, dtype: ref.dtype, shape: ref.shape, restored: restore.outputs[i]! });
          const attrs = { T: ref.dtype, validate_shape: ref.shape !== null && ref.shape.every((d) => d !== null), use_locking: true };
          return graph.createOp('Assign', [ref, restore.outputs[i]!], attrs, { name: 'Assign' });
        });
        const restoreOp = graph.createOp('NoOp', [], {}, { name: 'restore_all', controlInputs: assigns });
        return { entries, restoreOp, filenameTensor, saveTensor };
      }),
    ),
  );
}

/**
 * The Saver ops a SaverDef names in `graph` (written by TensorFlow or weir): the restore op's
 * Assigns (reached through its control inputs, as a sharded Saver groups them) and the RestoreV2
 * outputs they assign, keyed by RestoreV2's tensor_names.
 */
function adoptSaverOps(graph: Graph, def: SaverDef): SaverOps {
  const what = 'Saver from a SaverDef';
  if (def.version !== undefined && def.version !== CHECKPOINT_V2) {
    throw new UnimplementedError(`${what}: checkpoint format version ${def.version} is not supported (weir reads and writes V2)`);
  }
  const find = <T>(kind: string, name: string | undefined, get: (n: string) => T): T => {
    if (!name) throw new InvalidArgumentError(`${what}: the SaverDef has no ${kind}`);
    try {
      return get(name);
    } catch {
      throw new NotFoundError(`${what}: the graph has no ${kind} '${name}'`);
    }
  };
  const restoreOp = find('restore op', def.restore_op_name, (n) => graph.getOperationByName(n));
  const filenameTensor = find('filename tensor', def.filename_tensor_name, (n) => graph.getTensorByName(n));
  const saveTensor = find('save tensor', def.save_tensor_name, (n) => graph.getTensorByName(n));
  const entries: SaveEntry[] = [];
  const seen = new Set<Operation>();
  const visit = (op: Operation): void => {
    if (seen.has(op)) return;
    seen.add(op);
    if (op.type === 'NoOp' || op.type === 'Identity') {
      for (const c of op.controlInputs) visit(c);
      return;
    }
    if (op.type !== 'Assign') {
      throw new UnimplementedError(`${what}: restore op ${restoreOp.name} runs ${op.name} (${op.type}); weir restores ref variables through Assign only`);
    }
    const ref = op.inputs[0]!;
    let restored = op.inputs[1]!;
    while (restored.op.type === 'Identity') restored = restored.op.inputs[0]!;
    const source = restored.op;
    const names = source.type === 'RestoreV2' ? source.inputs[1]?.op : undefined;
    const keys = names?.type === 'Const' ? names.attrs.value : undefined;
    if (!(keys instanceof NDArray) || keys.dtype !== 'string') {
      throw new UnimplementedError(`${what}: ${op.name} assigns ${restored.name}, not an output of a RestoreV2 with constant tensor_names`);
    }
    const key = (keys.toFlat() as string[])[restored.valueIndex];
    if (key === undefined) throw new InvalidArgumentError(`${what}: ${restored.name} has no tensor name in ${names!.name}`);
    entries.push({ key, ref, dtype: ref.dtype, shape: ref.shape, restored });
  };
  for (const c of restoreOp.controlInputs) visit(c);
  if (restoreOp.type === 'Assign') visit(restoreOp);
  if (!entries.length) throw new InvalidArgumentError(`${what}: restore op ${restoreOp.name} restores no variable`);
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { entries, restoreOp, filenameTensor, saveTensor };
}

const SAVER_OPTION_NAMES: readonly string[] = ['varList', 'maxToKeep', 'keepCheckpointEveryNHours', 'name', 'saverDef', 'fileSystem'] satisfies (keyof SaverOptions)[];
/** TF's Saver keywords weir does not take, in TS spelling: named in the error instead of read as checkpoint keys. */
const UNSUPPORTED_OPTION_NAMES: readonly string[] = [
  'reshape', 'sharded', 'restoreSequentially', 'builder', 'deferBuild',
  'allowEmpty', 'writeVersion', 'padStepNumber', 'saveRelativePaths', 'filename',
];

function isSaveable(v: unknown): boolean {
  return v instanceof Variable || (v instanceof Tensor && v.op.type === 'VariableV2');
}

/** Sorts out the constructor's arguments: (varList?, opts?) or (opts) alone. */
function saverArgs(
  first: readonly Saveable[] | Record<string, Saveable> | SaverOptions | null | undefined,
  second: SaverOptions | undefined,
): { varList: readonly Saveable[] | Record<string, Saveable> | undefined; opts: SaverOptions } {
  const how = 'pass options as `new tf.train.Saver({ maxToKeep: 3 })` (options only) or `new tf.train.Saver(varList, { maxToKeep: 3 })`';
  if (first === null || first === undefined || Array.isArray(first)) {
    const opts = second ?? {};
    if (opts.varList !== undefined && first) throw new InvalidArgumentError(`Saver: varList given twice (first argument and options.varList)`);
    return { varList: (first as readonly Saveable[] | null | undefined) ?? opts.varList, opts };
  }
  if (typeof first !== 'object' || isSaveable(first)) {
    throw new InvalidArgumentError(`Saver: the first argument must be an array or a {name: variable} map of variables, or options, got ${String(first)}; ${how}`);
  }
  const entries = Object.entries(first);
  const optionLike = entries.length > 0 && entries.every(([k, v]) => SAVER_OPTION_NAMES.includes(k) && !isSaveable(v));
  if (optionLike) {
    if (second !== undefined) throw new InvalidArgumentError(`Saver: options given twice (first and second argument); ${how}`);
    const opts = first as SaverOptions;
    return { varList: opts.varList, opts };
  }
  for (const [k, v] of entries) {
    if (isSaveable(v)) continue;
    const hint = SAVER_OPTION_NAMES.includes(k)
      ? `'${k}' is a Saver option, but the object also holds variables; ${how}`
      : UNSUPPORTED_OPTION_NAMES.includes(k)
        ? `'${k}' is a TF Saver option weir does not support (supported: ${SAVER_OPTION_NAMES.join(', ')})`
        : `a {name: variable} map must hold only variables; ${how}`;
    throw new InvalidArgumentError(`Saver: ${String(v)} (under key '${k}') is not a variable: ${hint}`);
  }
  if (second?.varList !== undefined) throw new InvalidArgumentError('Saver: varList given twice (first argument and options.varList)');
  return { varList: first as Record<string, Saveable>, opts: second ?? {} };
}

function refOf(v: Saveable): Tensor {
  if (v instanceof Variable) return v.ref;
  if (v instanceof Tensor && v.op.type === 'VariableV2') return v;
  throw new InvalidArgumentError(`Saver: ${String(v)} is not a variable`);
}

function keyed(varList: readonly Saveable[] | Record<string, Saveable>): [string, Saveable][] {
  if (Array.isArray(varList)) {
    const seen = new Map<string, Saveable>();
    for (const v of varList as readonly Saveable[]) {
      const key = refOf(v).op.name;
      const prev = seen.get(key);
      if (prev && prev !== v) throw new InvalidArgumentError(`At least two variables have the same name: ${key}`);
      seen.set(key, v);
    }
    return [...seen];
  }
  return Object.entries(varList as Record<string, Saveable>);
}

async function stepValue(sess: Session, step: NonNullable<SaveOptions['globalStep']>): Promise<string> {
  if (typeof step === 'number') {
    if (!Number.isInteger(step)) throw new InvalidArgumentError(`globalStep must be an integer, got ${step}`);
    return String(step);
  }
  if (typeof step === 'bigint') return step.toString();
  const v = await sess.run(step instanceof Variable ? step.value() : step);
  if (v.size !== 1 || (v.dtype !== 'int32' && v.dtype !== 'int64')) {
    throw new InvalidArgumentError(`globalStep must be an integer scalar, got ${v.dtype} of shape [${v.shape.join(',')}]`);
  }
  return String(v.scalar());
}

async function deleteCheckpoint(prefix: string, fs: FileSystem): Promise<void> {
  await fs.remove(indexFilename(prefix));
  await fs.remove(`${prefix}.meta`);
  const dir = dirname(prefix);
  const base = basename(prefix);
  let names: string[];
  try {
    names = await fs.list(dir);
  } catch {
    return;
  }
  const data = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.data-\\d{5}-of-\\d{5}$`);
  for (const n of names) if (data.test(n)) await fs.remove(dir === '.' ? n : `${dir}/${n}`);
}

