// CPU kernels: lookup tables. A table lives in the session's RuntimeState.opState under its name
// (see ops/lookup.ts for the design); a handle is a string scalar holding that name. Host kernels
// on every backend (the handle is a string).
import type { DType } from '../../../src/core/dtypes.js';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import type { KernelNode, RuntimeState } from '../../backend.js';
import { registerCpuKernel } from '../registry.js';
import { attr } from './util.js';

type Key = string | number | bigint;
type Value = number | bigint | Uint8Array;

/** A hash table's contents and types: session state, cloned for verification snapshots. */
class HashTableState {
  constructor(
    readonly keyDType: DType,
    readonly valueDType: DType,
    readonly entries = new Map<Key, Value>(),
    public initialized = false,
  ) {}
  clone(): HashTableState {
    return new HashTableState(this.keyDType, this.valueDType, new Map(this.entries), this.initialized);
  }
}

const STATE_PREFIX = 'lookup_table:';
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A map key for element i: strings by their bytes (as a binary string, so no two byte strings collide). */
function keyAt(a: NDArray, i: number): Key {
  if (a.dtype === 'string') {
    let s = '';
    for (const b of (a.data as Uint8Array[])[i]!) s += String.fromCharCode(b);
    return s;
  }
  return (a.data as unknown as ArrayLike<number | bigint>)[i]!;
}
const valueAt = (a: NDArray, i: number): Value => (a.data as unknown as ArrayLike<Value>)[i]!;
const showKey = (k: Key): string => (typeof k === 'string' ? JSON.stringify(decoder.decode(Uint8Array.from(k, (c) => c.charCodeAt(0)))) : String(k));
const sameValue = (a: Value, b: Value): boolean =>
  a instanceof Uint8Array && b instanceof Uint8Array ? a.length === b.length && a.every((x, i) => x === b[i]) : a === b;

function table(node: KernelNode, state: RuntimeState<NDArray>, handle: NDArray): HashTableState {
  const name = decoder.decode((handle.data as Uint8Array[])[0]!);
  const t = state.opState.get(STATE_PREFIX + name);
  if (!(t instanceof HashTableState)) throw new NotFoundError(`${node.type}: no lookup table named '${name}' in this session (the table's HashTable op has not run)`, node.name);
  return t;
}

function checkTypes(node: KernelNode, t: HashTableState, keys: NDArray, values: NDArray): void {
  if (keys.dtype !== t.keyDType || values.dtype !== t.valueDType) {
    throw new InvalidArgumentError(`${node.type}: the table maps ${t.keyDType} to ${t.valueDType}, got ${keys.dtype} keys and ${values.dtype} values`);
  }
  if (keys.size !== values.size) throw new InvalidArgumentError(`${node.type}: ${keys.size} keys but ${values.size} values (one value per key)`);
}

/** The entries of keys -> values; a key given twice must have one value (TF's HashTable). */
function entriesOf(node: KernelNode, keys: NDArray, values: NDArray): Map<Key, Value> {
  const m = new Map<Key, Value>();
  for (let i = 0; i < keys.size; i++) {
    const k = keyAt(keys, i);
    const v = valueAt(values, i);
    const old = m.get(k);
    if (old !== undefined && !sameValue(old, v)) {
      throw new FailedPreconditionError(`${node.type}: HashTable has different value for same key. Key ${showKey(k)} has ${String(old)} and trying to add value ${String(v)}`, node.name);
    }
    m.set(k, v);
  }
  return m;
}

for (const type of ['HashTable', 'HashTableV2']) {
  registerCpuKernel(type, (_in, node, state, outputs) => {
    const shared = attr<string>(node, 'shared_name') ?? '';
    const name = shared !== '' ? shared : node.name;
    const keyDType = attr<DType>(node, 'key_dtype');
    const valueDType = attr<DType>(node, 'value_dtype');
    const existing = state.opState.get(STATE_PREFIX + name);
    if (existing instanceof HashTableState) {
      if (existing.keyDType !== keyDType || existing.valueDType !== valueDType) {
        throw new InvalidArgumentError(`${type}: table '${name}' maps ${existing.keyDType} to ${existing.valueDType}, not ${keyDType} to ${valueDType}`);
      }
    } else {
      state.opState.set(STATE_PREFIX + name, new HashTableState(keyDType, valueDType));
    }
    const handle = outputs.alloc('string', []);
    (handle.data as Uint8Array[])[0] = encoder.encode(name);
    return [handle];
  });
}

for (const type of ['InitializeTable', 'InitializeTableV2']) {
  registerCpuKernel(type, ([handle, keys, values], node, state) => {
    const t = table(node, state, handle!);
    checkTypes(node, t, keys!, values!);
    const entries = entriesOf(node, keys!, values!);
    if (t.initialized) {
      // As TensorFlow: initializing again with the same entries is a no-op, with others an error.
      const same = entries.size === t.entries.size && [...entries].every(([k, v]) => t.entries.has(k) && sameValue(t.entries.get(k)!, v));
      if (!same) throw new FailedPreconditionError(`${type}: Table was already initialized with different data.`, node.name);
      return [];
    }
    for (const [k, v] of entries) t.entries.set(k, v);
    t.initialized = true;
    return [];
  });
}

for (const type of ['LookupTableImport', 'LookupTableImportV2']) {
  registerCpuKernel(type, ([handle, keys, values], node, state) => {
    const t = table(node, state, handle!);
    checkTypes(node, t, keys!, values!);
    const entries = entriesOf(node, keys!, values!);
    t.entries.clear();
    for (const [k, v] of entries) t.entries.set(k, v);
    t.initialized = true;
    return [];
  });
}

for (const type of ['LookupTableFind', 'LookupTableFindV2']) {
  registerCpuKernel(type, ([handle, keys, dflt], node, state, outputs) => {
    const t = table(node, state, handle!);
    if (!t.initialized) throw new FailedPreconditionError(`${type}: Table not initialized.`, node.name);
    if (keys!.dtype !== t.keyDType || dflt!.dtype !== t.valueDType) {
      throw new InvalidArgumentError(`${type}: the table maps ${t.keyDType} to ${t.valueDType}, got ${keys!.dtype} keys and a ${dflt!.dtype} default`);
    }
    if (dflt!.size !== 1) throw new InvalidArgumentError(`${type}: default_value must be a scalar, got ${dflt!.size} elements`);
    const out = outputs.alloc(t.valueDType, keys!.shape);
    const dst = out.data as unknown as Value[];
    const d = valueAt(dflt!, 0);
    for (let i = 0; i < keys!.size; i++) dst[i] = t.entries.get(keyAt(keys!, i)) ?? d;
    return [out];
  });
}

for (const type of ['LookupTableSize', 'LookupTableSizeV2']) {
  registerCpuKernel(type, ([handle], node, state, outputs) => {
    const out = outputs.alloc('int64', []);
    (out.data as BigInt64Array)[0] = BigInt(table(node, state, handle!).entries.size);
    return [out];
  });
}
