// TF1 lookup tables: tf.contrib.lookup.HashTable / tf.lookup.StaticHashTable with
// KeyValueTensorInitializer, index_table_from_tensor, and tf.tables_initializer(). Tables are session
// state (ops/lookup.ts); initializers go to the TABLE_INITIALIZERS collection.
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { InvalidArgumentError } from '../core/errors.js';
import { getDefaultGraph, GraphKeys, type Graph, type Operation, type Tensor } from '../graph.js';
import { add, equal, where } from './math.js';
import { group } from './core.js';
import { toHashBucketFast } from './strings.js';

function scoped<T>(name: string, values: readonly unknown[], build: (scope: string, g: Graph) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => build(scope, g)));
}

const literal = (v: unknown): boolean => typeof v === 'number' || typeof v === 'string' || Array.isArray(v);

export interface KeyValueTensorInitializerOptions {
  keyDtype?: DType;
  valueDtype?: DType;
  name?: string;
}

/** A table's initial contents: keys[i] maps to values[i]. */
export class KeyValueTensorInitializer {
  readonly keys: Tensor;
  readonly values: Tensor;
  private readonly name: string;

  constructor(keys: TensorLike, values: TensorLike, opts: KeyValueTensorInitializerOptions = {}) {
    this.name = opts.name ?? 'key_value_init';
    const g = graphOf([keys, values]);
    [this.keys, this.values] = g.asDefault(() =>
      g.nameScope(this.name, () => [
        convertToTensor(keys, opts.keyDtype ?? (literal(keys) && typeof (keys as unknown[])[0] === 'number' ? 'int64' : undefined), 'keys', 'keys'),
        convertToTensor(values, opts.valueDtype ?? (literal(values) && typeof (values as unknown[])[0] === 'number' && Number.isInteger((values as number[])[0]) ? 'int64' : undefined), 'values', 'values'),
      ]),
    );
  }

  get keyDtype(): DType {
    return this.keys.dtype;
  }
  get valueDtype(): DType {
    return this.values.dtype;
  }

  /** Builds the op filling `table` (InitializeTableV2) and adds it to the TABLE_INITIALIZERS collection. */
  initialize(table: StaticHashTable): Operation {
    return scoped(this.name, [table.resourceHandle, this.keys, this.values], (scope, g) => {
      const op = g.createOp('InitializeTableV2', [table.resourceHandle, this.keys, this.values], { Tkey: this.keyDtype, Tval: this.valueDtype }, { name: scope });
      g.addToCollection(GraphKeys.TABLE_INITIALIZERS, op);
      return op;
    });
  }
}

export interface HashTableOptions {
  /** Tables with one shared_name share their contents in a session. */
  sharedName?: string;
  name?: string;
}

/** An immutable hash table filled by its initializer (TF's StaticHashTable; tf.contrib.lookup.HashTable in TF1). */
export class StaticHashTable {
  readonly resourceHandle: Tensor;
  readonly defaultValue: Tensor;
  /** The op filling the table (also in the TABLE_INITIALIZERS collection). */
  readonly initializer: Operation;
  readonly name: string;

  constructor(initializer: KeyValueTensorInitializer, defaultValue: TensorLike, opts: HashTableOptions = {}) {
    const { handle, dflt, name } = scoped(opts.name ?? 'hash_table', [initializer.keys, initializer.values, defaultValue], (scope, g) => {
      const dflt = convertToTensor(defaultValue, initializer.valueDtype, 'Const', 'default_value');
      const attrs = { container: '', shared_name: opts.sharedName ?? '', use_node_name_sharing: false, key_dtype: initializer.keyDtype, value_dtype: initializer.valueDtype };
      const handle = g.createOp('HashTableV2', [], attrs, { name: scope }).outputs[0]!;
      return { handle, dflt, name: scope.slice(0, -1) };
    });
    this.resourceHandle = handle;
    this.defaultValue = dflt;
    this.name = name;
    this.initializer = initializer.initialize(this);
  }

  get keyDtype(): DType {
    return this.resourceHandle.op.attrs.key_dtype as DType;
  }
  get valueDtype(): DType {
    return this.resourceHandle.op.attrs.value_dtype as DType;
  }

  /** The values of keys (any shape), the default value for missing keys (op LookupTableFindV2). */
  lookup(keys: TensorLike, name?: string): Tensor {
    return scoped(name ?? `${this.name}_Lookup`, [this.resourceHandle, keys], (scope, g) => {
      const k = convertToTensor(keys, literal(keys) ? this.keyDtype : undefined, 'keys', 'keys');
      if (k.dtype !== this.keyDtype) throw new InvalidArgumentError(`${this.name}.lookup: keys are ${k.dtype}, the table's are ${this.keyDtype}`);
      return g.createOp('LookupTableFindV2', [this.resourceHandle, k, this.defaultValue], { Tin: k.dtype, Tout: this.valueDtype }, { name: scope }).outputs[0]!;
    });
  }

  /** The number of entries, an int64 scalar (op LookupTableSizeV2). */
  size(name?: string): Tensor {
    return scoped(name ?? `${this.name}_Size`, [this.resourceHandle], (scope, g) => g.createOp('LookupTableSizeV2', [this.resourceHandle], {}, { name: scope }).outputs[0]!);
  }
}

/** TF1's tf.contrib.lookup.HashTable: StaticHashTable under its TF1 name. */
export const HashTable = StaticHashTable;

/** tf.tables_initializer(): one op running every table initializer of the graph. */
export function tablesInitializer(name = 'init_all_tables'): Operation {
  return group(getDefaultGraph().getCollection(GraphKeys.TABLE_INITIALIZERS) as Operation[], name);
}

export interface IndexTableOptions {
  /** Out-of-vocabulary keys go to one of this many buckets after the vocabulary (by FarmHash), default 0. */
  numOovBuckets?: number;
  /** The id of out-of-vocabulary keys when there are no OOV buckets (default -1). */
  defaultValue?: number;
  dtype?: DType;
  name?: string;
}

/** What index_table_from_tensor returns: lookup gives int64 ids, size counts the OOV buckets too. */
export interface IdTable {
  readonly table: StaticHashTable;
  lookup(keys: TensorLike, name?: string): Tensor;
  size(name?: string): Tensor;
}

/** tf.contrib.lookup.index_table_from_tensor: vocabulary[i] maps to i (int64); others to defaultValue or an OOV bucket. */
export function indexTableFromTensor(vocabularyList: TensorLike, opts: IndexTableOptions = {}): IdTable {
  const oov = opts.numOovBuckets ?? 0;
  if (!(Number.isInteger(oov) && oov >= 0)) throw new InvalidArgumentError(`numOovBuckets must be a non-negative integer, got ${oov}`);
  return scoped(opts.name ?? 'string_to_index', [vocabularyList], () => {
    const keys = convertToTensor(vocabularyList, opts.dtype ?? (literal(vocabularyList) ? 'string' : undefined), 'vocabulary_list', 'vocabulary_list');
    if (keys.rank !== 1 || keys.shape![0] === null) throw new InvalidArgumentError('indexTableFromTensor needs a vocabulary vector of known length');
    const n = keys.shape![0]!;
    const ids = convertToTensor(Array.from({ length: n }, (_, i) => i), 'int64', 'values');
    const table = new StaticHashTable(new KeyValueTensorInitializer(keys, ids), opts.defaultValue ?? -1, { name: 'hash_table' });
    const lookup = (k: TensorLike, name?: string): Tensor => {
      const found = table.lookup(k, name);
      if (oov === 0) return found;
      // TF's IdTableWithHashBuckets: a missing key's id is vocabulary size + its FarmHash bucket.
      const keysT = convertToTensor(k, literal(k) ? table.keyDtype : undefined, 'keys', 'keys');
      const asString = keysT.dtype === 'string' ? keysT : undefined;
      if (!asString) throw new InvalidArgumentError('indexTableFromTensor: OOV buckets hash string keys only');
      const bucket = add(toHashBucketFast(asString, oov), table.size());
      return where(equal(found, table.defaultValue), bucket, found);
    };
    return { table, lookup, size: (name?: string) => add(table.size(name), convertToTensor(oov, 'int64', 'num_oov_buckets')) };
  });
}

/** tf.lookup.* (TF1.15 has these names too). */
export const lookup = { StaticHashTable, KeyValueTensorInitializer, tablesInitializer };
/** tf.contrib.lookup.* */
export const contribLookup = { HashTable, KeyValueTensorInitializer, indexTableFromTensor };
