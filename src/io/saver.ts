/**
 * tf.train.Saver for V2 checkpoints. Values are read with one session run and written as a tensor
 * bundle; restoring checks every variable against the checkpoint before assigning them all in one
 * run of Assign ops fed from placeholders (built once per Saver, under the 'save' name scope).
 */
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { getDefaultGraph, GraphKeys, Operation, Tensor, type Graph } from '../graph.js';
import type { NDArray } from '../core/ndarray.js';
import type { Session } from '../session.js';
import { formatShape, shapesCompatible, type Shape } from '../core/shape.js';
import { Variable } from '../variables.js';
import { dataFilename, encodeBundle, indexFilename } from './bundle.js';
import { CHECKPOINT_STATE_FILENAME, CheckpointReader, randomSuffix, updateCheckpointState } from './checkpoint.js';
import { basename, dirname, getFileSystem, type FileSystem } from './fs.js';

/** What a Saver saves: a Variable, or the reference output of a VariableV2 op (graphs imported from files). */
export type Saveable = Variable | Tensor;

export interface SaverOptions {
  /** Variables to save (TF's var_list keyword), when options come first: `new Saver({ varList, maxToKeep })`. */
  varList?: readonly Saveable[] | Record<string, Saveable>;
  /** Checkpoints to keep; older ones are deleted. 0 or null keeps all. Default 5. */
  maxToKeep?: number | null;
  /** Name scope of the restore ops (default 'save'). */
  name?: string;
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
}

interface SaveEntry {
  key: string;
  ref: Tensor;
  value: Tensor;
  dtype: DType;
  shape: Shape;
  placeholder: Tensor;
}

export class Saver {
  readonly graph: Graph;
  readonly maxToKeep: number;
  private readonly entries: SaveEntry[];
  private readonly restoreOp: Operation;
  private readonly fsOption: FileSystem | undefined;
  private last: string[] = [];

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
    this.maxToKeep = opts.maxToKeep ?? (opts.maxToKeep === null ? 0 : 5);
    this.fsOption = opts.fileSystem;
    const pairs = keyed(varList ?? getDefaultGraph().getCollection<Variable>(GraphKeys.GLOBAL_VARIABLES));
    if (pairs.length === 0) throw new InvalidArgumentError('No variables to save');
    const graph = refOf(pairs[0]![1]).graph;
    this.graph = graph;
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const built = graph.asDefault(() =>
      graph.controlDependencies(null, () =>
        graph.nameScope(opts.name ?? 'save', () => {
          const entries: SaveEntry[] = pairs.map(([key, v]) => {
            const ref = refOf(v);
            if (ref.graph !== graph) throw new InvalidArgumentError(`Saver: variable ${key} is from a different graph than ${pairs[0]![0]}`);
            const placeholder = graph.createOp('Placeholder', [], { dtype: ref.dtype, shape: ref.shape }, { name: 'Placeholder' }).outputs[0]!;
            return { key, ref, value: v instanceof Variable ? v.value() : ref, dtype: ref.dtype, shape: ref.shape, placeholder };
          });
          const assigns = entries.map(
            (e) =>
              graph.createOp('Assign', [e.ref, e.placeholder], { T: e.dtype, validate_shape: e.shape !== null, use_locking: true }, { name: 'Assign' }),
          );
          const restoreOp = graph.controlDependencies(assigns, () => graph.createOp('NoOp', [], {}, { name: 'restore_all' }));
          return { entries, restoreOp };
        }),
      ),
    );
    this.entries = built.entries;
    this.restoreOp = built.restoreOp;
  }

  /** Checkpoint prefixes this Saver has written and not deleted, oldest first. */
  get lastCheckpoints(): string[] {
    return [...this.last];
  }
  /** Adopts checkpoints written earlier (e.g. by another process) so that maxToKeep applies to them. */
  recoverLastCheckpoints(paths: readonly string[]): void {
    this.last = [...paths];
  }

  /**
   * Saves the variables to `savePath` (+ '-STEP' with a global step): PREFIX.index and
   * PREFIX.data-00000-of-00001, written to temporary files and renamed into place, then the state
   * file. A failure leaves the previous checkpoint and state file as they were. Returns the prefix.
   */
  async save(sess: Session, savePath: string, opts: SaveOptions = {}): Promise<string> {
    this.checkSession(sess);
    const fs = this.fsOption ?? (await getFileSystem());
    let prefix = savePath;
    if (opts.globalStep !== undefined) prefix = `${savePath}-${await stepValue(sess, opts.globalStep)}`;
    const values = await sess.run(this.entries.map((e) => e.value));
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

    const kept = this.last.filter((p) => p !== prefix).concat([prefix]);
    const dropped = this.maxToKeep > 0 && kept.length > this.maxToKeep ? kept.splice(0, kept.length - this.maxToKeep) : [];
    if (opts.writeStateProto ?? true) {
      await updateCheckpointState(dir, prefix, kept, opts.latestFilename ?? CHECKPOINT_STATE_FILENAME, fs);
    }
    this.last = kept;
    for (const old of dropped) await deleteCheckpoint(old, fs);
    return prefix;
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
    await sess.run(this.restoreOp, this.entries.map((e, i) => [e.placeholder, values[i]!] as const));
  }

  private checkSession(sess: Session): void {
    if (sess.graph !== this.graph) throw new InvalidArgumentError("The Saver's variables are not in the session's graph");
  }
}

const SAVER_OPTION_NAMES: readonly string[] = ['varList', 'maxToKeep', 'name', 'fileSystem'] satisfies (keyof SaverOptions)[];
/** TF's Saver keywords weir does not take, in TS spelling: named in the error instead of read as checkpoint keys. */
const UNSUPPORTED_OPTION_NAMES: readonly string[] = [
  'reshape', 'sharded', 'keepCheckpointEveryNHours', 'restoreSequentially', 'saverDef', 'builder', 'deferBuild',
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

