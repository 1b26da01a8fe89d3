// Lookup table op definitions (issue 18): HashTable(V2), InitializeTable(V2), LookupTableImport(V2),
// LookupTableFind(V2), LookupTableSize(V2).
//
// Design: a table is session state, as a variable is. Its handle (TF's resource, or Ref(string) for
// the v1 ops) is a scalar string tensor holding the table's name: `shared_name`, or the node name of
// the HashTable op when that is empty (so one graph's tables are one per op, and ops naming one
// shared_name share a table). The contents live in the session's RuntimeState.opState under that
// name (runtime/cpu/kernels/lookup.ts): nothing lives in a module, each session has its own tables,
// Session.close drops them, and verification snapshots clone them. The ops that create, fill or
// read a table are stateful, so the compiler never folds, merges or reorders them away; strings
// place them on the host on every backend.
import type { DType } from '../src/core/dtypes.js';
import { formatShape } from '../src/core/shape.js';
import { registerOp, type OutputSpec, type ShapeContext } from './registry.js';
import { rankOf } from './sparse.js';
import { optAttr } from './util.js';

/** Key and value dtypes a table may have. */
export const TABLE_DTYPES: readonly DType[] = ['string', 'int32', 'int64', 'float32'];

const TABLE_ATTRS = { container: 'string', shared_name: 'string', use_node_name_sharing: 'bool', key_dtype: 'type', value_dtype: 'type' } as const;

for (const type of ['HashTable', 'HashTableV2']) {
  registerOp({
    type,
    inputs: [],
    attrs: TABLE_ATTRS,
    stateful: true,
    shape: (ctx) => {
      for (const a of ['key_dtype', 'value_dtype']) {
        const dt = ctx.attr<DType>(a);
        if (!TABLE_DTYPES.includes(dt)) ctx.fail(`${a} ${dt} is not supported (expected one of ${TABLE_DTYPES.join(', ')})`);
      }
      return [{ dtype: 'string', shape: [] }];
    },
    grad: null,
  });
}

function checkHandle(ctx: ShapeContext): void {
  const h = ctx.inputs[0]!;
  if (h.dtype !== 'string') ctx.fail(`table_handle (${h.name}) must be a table handle (a string scalar), got ${h.dtype}`);
  rankOf(ctx, 0, 0, 'table_handle');
}

/** keys and values of an import or initialization: one value per key. */
function entriesShape(ctx: ShapeContext, keyAttr: string, valueAttr: string): OutputSpec[] {
  checkHandle(ctx);
  const [, keys, values] = ctx.inputs as [unknown, ShapeContext['inputs'][0], ShapeContext['inputs'][0]];
  const kt = optAttr<DType>(ctx, keyAttr, keys.dtype);
  const vt = optAttr<DType>(ctx, valueAttr, values.dtype);
  if (keys.dtype !== kt || values.dtype !== vt) ctx.fail(`keys and values are ${keys.dtype} and ${values.dtype}, expected ${kt} and ${vt}`);
  if (keys.shape !== null && values.shape !== null && (keys.shape.length !== values.shape.length || keys.shape.some((d, i) => d !== null && values.shape![i] !== null && d !== values.shape![i]))) {
    ctx.fail(`keys ${formatShape(keys.shape)} and values ${formatShape(values.shape)} must have one shape (a value per key)`);
  }
  return [];
}

for (const type of ['InitializeTable', 'InitializeTableV2']) {
  registerOp({
    type,
    inputs: ['table_handle', 'keys', 'values'],
    attrs: { Tkey: 'type', Tval: 'type' },
    stateful: true,
    shape: (ctx) => {
      rankOf(ctx, 1, 1, 'keys');
      return entriesShape(ctx, 'Tkey', 'Tval');
    },
    grad: null,
  });
}

for (const type of ['LookupTableImport', 'LookupTableImportV2']) {
  registerOp({
    type,
    inputs: ['table_handle', 'keys', 'values'],
    attrs: { Tin: 'type', Tout: 'type' },
    stateful: true,
    shape: (ctx) => entriesShape(ctx, 'Tin', 'Tout'),
    grad: null,
  });
}

for (const type of ['LookupTableFind', 'LookupTableFindV2']) {
  registerOp({
    type,
    inputs: ['table_handle', 'keys', 'default_value'],
    attrs: { Tin: 'type', Tout: 'type' },
    // It reads state another op changes: never folded or merged with another lookup.
    stateful: true,
    shape: (ctx) => {
      checkHandle(ctx);
      const [, keys, dflt] = ctx.inputs as [unknown, ShapeContext['inputs'][0], ShapeContext['inputs'][0]];
      const tin = optAttr<DType>(ctx, 'Tin', keys.dtype);
      const tout = optAttr<DType>(ctx, 'Tout', dflt.dtype);
      if (keys.dtype !== tin) ctx.fail(`keys are ${keys.dtype}, expected ${tin}`);
      if (dflt.dtype !== tout) ctx.fail(`default_value is ${dflt.dtype}, expected ${tout}`);
      // A hash table maps a key to a scalar: default_value is a scalar (TF's check for scalar-valued tables).
      rankOf(ctx, 2, 0, 'default_value');
      return [{ dtype: tout, shape: keys.shape }];
    },
    // TensorFlow registers none: lookups are not differentiable.
    grad: null,
  });
}

for (const type of ['LookupTableSize', 'LookupTableSizeV2']) {
  registerOp({
    type,
    inputs: ['table_handle'],
    stateful: true,
    shape: (ctx) => {
      checkHandle(ctx);
      return [{ dtype: 'int64', shape: [] }];
    },
    grad: null,
  });
}
