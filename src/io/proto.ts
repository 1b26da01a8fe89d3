/**
 * TensorFlow's protocol buffer messages, declared here (as protobufjs JSON descriptors) from
 * TensorFlow's documented .proto schemas with the same field names, numbers and types, so that
 * what weir writes is byte-compatible with TensorFlow and nothing is read from disk at import.
 * Field names stay snake_case as in the .proto files (the text format uses them).
 */
import protobuf from 'protobufjs';
import { DataLossError } from '../core/errors.js';

type FieldJSON = { id: number; type: string; rule?: 'repeated'; keyType?: string; options?: Record<string, unknown> };
type TypeJSON = {
  edition?: string;
  fields: Record<string, FieldJSON>;
  oneofs?: Record<string, { oneof: string[] }>;
  nested?: Record<string, TypeJSON | EnumJSON>;
};
type EnumJSON = { edition?: string; values: Record<string, number> };

const f = (id: number, type: string): FieldJSON => ({ id, type });
const rep = (id: number, type: string): FieldJSON => ({ id, type, rule: 'repeated' });
const map = (id: number, keyType: string, type: string): FieldJSON => ({ id, type, keyType });
const msg = (fields: Record<string, FieldJSON>, extra: Partial<TypeJSON> = {}): TypeJSON => ({ edition: 'proto3', fields, ...extra });
const enm = (values: Record<string, number>): EnumJSON => ({ edition: 'proto3', values });

/** DataType values (types.proto). */
export const DT = {
  DT_INVALID: 0,
  DT_FLOAT: 1,
  DT_DOUBLE: 2,
  DT_INT32: 3,
  DT_UINT8: 4,
  DT_INT16: 5,
  DT_INT8: 6,
  DT_STRING: 7,
  DT_COMPLEX64: 8,
  DT_INT64: 9,
  DT_BOOL: 10,
  DT_QINT8: 11,
  DT_QUINT8: 12,
  DT_QINT32: 13,
  DT_BFLOAT16: 14,
  DT_QINT16: 15,
  DT_QUINT16: 16,
  DT_UINT16: 17,
  DT_COMPLEX128: 18,
  DT_HALF: 19,
  DT_RESOURCE: 20,
  DT_VARIANT: 21,
  DT_UINT32: 22,
  DT_UINT64: 23,
} as const;

const dataTypeValues: Record<string, number> = { ...DT };
for (const [k, v] of Object.entries(DT)) if (v > 0) dataTypeValues[`${k}_REF`] = v + 100;

const schema = {
  nested: {
    google: {
      nested: {
        protobuf: { nested: { Any: msg({ type_url: f(1, 'string'), value: f(2, 'bytes') }) } },
      },
    },
    tensorflow: {
      nested: {
        DataType: enm(dataTypeValues),
        TensorShapeProto: msg(
          { dim: rep(2, 'Dim'), unknown_rank: f(3, 'bool') },
          { nested: { Dim: msg({ size: f(1, 'int64'), name: f(2, 'string') }) } },
        ),
        TensorProto: msg({
          dtype: f(1, 'DataType'),
          tensor_shape: f(2, 'TensorShapeProto'),
          version_number: f(3, 'int32'),
          tensor_content: f(4, 'bytes'),
          half_val: rep(13, 'int32'),
          float_val: rep(5, 'float'),
          double_val: rep(6, 'double'),
          int_val: rep(7, 'int32'),
          string_val: rep(8, 'bytes'),
          scomplex_val: rep(9, 'float'),
          int64_val: rep(10, 'int64'),
          bool_val: rep(11, 'bool'),
          dcomplex_val: rep(12, 'double'),
          // ResourceHandleProto / VariantTensorDataProto: kept as opaque bytes.
          resource_handle_val: rep(14, 'bytes'),
          variant_val: rep(15, 'bytes'),
          uint32_val: rep(16, 'uint32'),
          uint64_val: rep(17, 'uint64'),
          float8_val: f(18, 'bytes'),
        }),
        AttrValue: msg(
          {
            s: f(2, 'bytes'),
            i: f(3, 'int64'),
            f: f(4, 'float'),
            b: f(5, 'bool'),
            type: f(6, 'DataType'),
            shape: f(7, 'TensorShapeProto'),
            tensor: f(8, 'TensorProto'),
            list: f(1, 'ListValue'),
            func: f(10, 'NameAttrList'),
            placeholder: f(9, 'string'),
          },
          {
            oneofs: { value: { oneof: ['s', 'i', 'f', 'b', 'type', 'shape', 'tensor', 'list', 'func', 'placeholder'] } },
            nested: {
              ListValue: msg({
                s: rep(2, 'bytes'),
                i: rep(3, 'int64'),
                f: rep(4, 'float'),
                b: rep(5, 'bool'),
                type: rep(6, 'DataType'),
                shape: rep(7, 'TensorShapeProto'),
                tensor: rep(8, 'TensorProto'),
                func: rep(9, 'NameAttrList'),
              }),
            },
          },
        ),
        NameAttrList: msg({ name: f(1, 'string'), attr: map(2, 'string', 'AttrValue') }),
        NodeDef: msg(
          {
            name: f(1, 'string'),
            op: f(2, 'string'),
            input: rep(3, 'string'),
            device: f(4, 'string'),
            attr: map(5, 'string', 'AttrValue'),
            experimental_debug_info: f(6, 'ExperimentalDebugInfo'),
          },
          {
            nested: {
              ExperimentalDebugInfo: msg({ original_node_names: rep(1, 'string'), original_func_names: rep(2, 'string') }),
            },
          },
        ),
        VersionDef: msg({ producer: f(1, 'int32'), min_consumer: f(2, 'int32'), bad_consumers: rep(3, 'int32') }),
        GraphDef: msg({
          node: rep(1, 'NodeDef'),
          versions: f(4, 'VersionDef'),
          version: f(3, 'int32'),
          library: f(2, 'FunctionDefLibrary'),
        }),
        FunctionDefLibrary: msg({ function: rep(1, 'FunctionDef'), gradient: rep(2, 'GradientDef') }),
        FunctionDef: msg({
          signature: f(1, 'OpDef'),
          attr: map(5, 'string', 'AttrValue'),
          node_def: rep(3, 'NodeDef'),
          ret: map(4, 'string', 'string'),
          control_ret: map(6, 'string', 'string'),
        }),
        GradientDef: msg({ function_name: f(1, 'string'), gradient_func: f(2, 'string') }),
        OpDef: msg(
          {
            name: f(1, 'string'),
            input_arg: rep(2, 'ArgDef'),
            output_arg: rep(3, 'ArgDef'),
            control_output: rep(20, 'string'),
            attr: rep(4, 'AttrDef'),
            deprecation: f(8, 'OpDeprecation'),
            summary: f(5, 'string'),
            description: f(6, 'string'),
            is_commutative: f(18, 'bool'),
            is_aggregate: f(16, 'bool'),
            is_stateful: f(17, 'bool'),
            allows_uninitialized_input: f(19, 'bool'),
            is_distributed_communication: f(21, 'bool'),
          },
          {
            nested: {
              ArgDef: msg({
                name: f(1, 'string'),
                description: f(2, 'string'),
                type: f(3, 'DataType'),
                type_attr: f(4, 'string'),
                number_attr: f(5, 'string'),
                type_list_attr: f(6, 'string'),
                is_ref: f(16, 'bool'),
              }),
              AttrDef: msg({
                name: f(1, 'string'),
                type: f(2, 'string'),
                default_value: f(3, 'AttrValue'),
                description: f(4, 'string'),
                has_minimum: f(5, 'bool'),
                minimum: f(6, 'int64'),
                allowed_values: f(7, 'AttrValue'),
              }),
            },
          },
        ),
        OpDeprecation: msg({ version: f(1, 'int32'), explanation: f(2, 'string') }),
        OpList: msg({ op: rep(1, 'OpDef') }),
        SaverDef: msg(
          {
            filename_tensor_name: f(1, 'string'),
            save_tensor_name: f(2, 'string'),
            restore_op_name: f(3, 'string'),
            max_to_keep: f(4, 'int32'),
            sharded: f(5, 'bool'),
            keep_checkpoint_every_n_hours: f(6, 'float'),
            version: f(7, 'CheckpointFormatVersion'),
          },
          { nested: { CheckpointFormatVersion: enm({ LEGACY: 0, V1: 1, V2: 2 }) } },
        ),
        MetaGraphDef: msg(
          {
            meta_info_def: f(1, 'MetaInfoDef'),
            graph_def: f(2, 'GraphDef'),
            saver_def: f(3, 'SaverDef'),
            collection_def: map(4, 'string', 'CollectionDef'),
            signature_def: map(5, 'string', 'SignatureDef'),
            asset_file_def: rep(6, 'AssetFileDef'),
          },
          {
            nested: {
              MetaInfoDef: msg({
                meta_graph_version: f(1, 'string'),
                stripped_op_list: f(2, 'OpList'),
                any_info: f(3, 'google.protobuf.Any'),
                tags: rep(4, 'string'),
                tensorflow_version: f(5, 'string'),
                tensorflow_git_version: f(6, 'string'),
                stripped_default_attrs: f(7, 'bool'),
                function_aliases: map(8, 'string', 'string'),
              }),
            },
          },
        ),
        CollectionDef: msg(
          {
            node_list: f(1, 'NodeList'),
            bytes_list: f(2, 'BytesList'),
            int64_list: f(3, 'Int64List'),
            float_list: f(4, 'FloatList'),
            any_list: f(5, 'AnyList'),
          },
          {
            oneofs: { kind: { oneof: ['node_list', 'bytes_list', 'int64_list', 'float_list', 'any_list'] } },
            nested: {
              NodeList: msg({ value: rep(1, 'string') }),
              BytesList: msg({ value: rep(1, 'bytes') }),
              Int64List: msg({ value: rep(1, 'int64') }),
              FloatList: msg({ value: rep(1, 'float') }),
              AnyList: msg({ value: rep(1, 'google.protobuf.Any') }),
            },
          },
        ),
        TensorInfo: msg(
          {
            name: f(1, 'string'),
            coo_sparse: f(4, 'CooSparse'),
            dtype: f(2, 'DataType'),
            tensor_shape: f(3, 'TensorShapeProto'),
          },
          {
            oneofs: { encoding: { oneof: ['name', 'coo_sparse'] } },
            nested: {
              CooSparse: msg({
                values_tensor_name: f(1, 'string'),
                indices_tensor_name: f(2, 'string'),
                dense_shape_tensor_name: f(3, 'string'),
              }),
            },
          },
        ),
        SignatureDef: msg({
          inputs: map(1, 'string', 'TensorInfo'),
          outputs: map(2, 'string', 'TensorInfo'),
          method_name: f(3, 'string'),
          defaults: map(4, 'string', 'TensorProto'),
        }),
        AssetFileDef: msg({ tensor_info: f(1, 'TensorInfo'), filename: f(2, 'string') }),
        SavedModel: msg({ saved_model_schema_version: f(1, 'int64'), meta_graphs: rep(2, 'MetaGraphDef') }),
        VariableDef: msg({
          variable_name: f(1, 'string'),
          initial_value_name: f(6, 'string'),
          initializer_name: f(2, 'string'),
          snapshot_name: f(3, 'string'),
          is_resource: f(5, 'bool'),
          trainable: f(7, 'bool'),
        }),
        BundleHeaderProto: msg(
          { num_shards: f(1, 'int32'), endianness: f(2, 'Endianness'), version: f(3, 'VersionDef') },
          { nested: { Endianness: enm({ LITTLE: 0, BIG: 1 }) } },
        ),
        BundleEntryProto: msg({
          dtype: f(1, 'DataType'),
          shape: f(2, 'TensorShapeProto'),
          shard_id: f(3, 'int32'),
          offset: f(4, 'int64'),
          size: f(5, 'int64'),
          crc32c: f(6, 'fixed32'),
          slices: rep(7, 'TensorSliceProto'),
        }),
        TensorSliceProto: msg(
          { extent: rep(1, 'Extent') },
          {
            nested: {
              Extent: msg({ start: f(1, 'int64'), length: f(2, 'int64') }, { oneofs: { has_length: { oneof: ['length'] } } }),
            },
          },
        ),
        HistogramProto: msg({
          min: f(1, 'double'),
          max: f(2, 'double'),
          num: f(3, 'double'),
          sum: f(4, 'double'),
          sum_squares: f(5, 'double'),
          bucket_limit: rep(6, 'double'),
          bucket: rep(7, 'double'),
        }),
        DataClass: enm({ DATA_CLASS_UNKNOWN: 0, DATA_CLASS_SCALAR: 1, DATA_CLASS_TENSOR: 2, DATA_CLASS_BLOB_SEQUENCE: 3 }),
        SummaryMetadata: msg(
          {
            plugin_data: f(1, 'PluginData'),
            display_name: f(2, 'string'),
            summary_description: f(3, 'string'),
            data_class: f(4, 'DataClass'),
          },
          { nested: { PluginData: msg({ plugin_name: f(1, 'string'), content: f(2, 'bytes') }) } },
        ),
        Summary: msg(
          { value: rep(1, 'Value') },
          {
            nested: {
              Image: msg({
                height: f(1, 'int32'),
                width: f(2, 'int32'),
                colorspace: f(3, 'int32'),
                encoded_image_string: f(4, 'bytes'),
              }),
              Audio: msg({
                sample_rate: f(1, 'float'),
                num_channels: f(2, 'int64'),
                length_frames: f(3, 'int64'),
                encoded_audio_string: f(4, 'bytes'),
                content_type: f(5, 'string'),
              }),
              Value: msg(
                {
                  node_name: f(7, 'string'),
                  tag: f(1, 'string'),
                  metadata: f(9, 'SummaryMetadata'),
                  simple_value: f(2, 'float'),
                  obsolete_old_style_histogram: f(3, 'bytes'),
                  image: f(4, 'Image'),
                  histo: f(5, 'HistogramProto'),
                  audio: f(6, 'Audio'),
                  tensor: f(8, 'TensorProto'),
                },
                { oneofs: { value: { oneof: ['simple_value', 'obsolete_old_style_histogram', 'image', 'histo', 'audio', 'tensor'] } } },
              ),
            },
          },
        ),
        Event: msg(
          {
            wall_time: f(1, 'double'),
            step: f(2, 'int64'),
            file_version: f(3, 'string'),
            graph_def: f(4, 'bytes'),
            summary: f(5, 'Summary'),
            log_message: f(6, 'LogMessage'),
            session_log: f(7, 'SessionLog'),
            tagged_run_metadata: f(8, 'TaggedRunMetadata'),
            meta_graph_def: f(9, 'bytes'),
            source_metadata: f(10, 'SourceMetadata'),
          },
          {
            oneofs: {
              what: {
                oneof: ['file_version', 'graph_def', 'summary', 'log_message', 'session_log', 'tagged_run_metadata', 'meta_graph_def'],
              },
            },
          },
        ),
        SourceMetadata: msg({ writer: f(1, 'string') }),
        LogMessage: msg(
          { level: f(1, 'Level'), message: f(2, 'string') },
          { nested: { Level: enm({ UNKNOWN: 0, DEBUGGING: 10, INFO: 20, WARN: 30, ERROR: 40, FATAL: 50 }) } },
        ),
        SessionLog: msg(
          { status: f(1, 'SessionStatus'), checkpoint_path: f(2, 'string'), msg: f(3, 'string') },
          { nested: { SessionStatus: enm({ STATUS_UNSPECIFIED: 0, START: 1, STOP: 2, CHECKPOINT: 3 }) } },
        ),
        TaggedRunMetadata: msg({ tag: f(1, 'string'), run_metadata: f(2, 'bytes') }),
        CheckpointState: msg({
          model_checkpoint_path: f(1, 'string'),
          all_model_checkpoint_paths: rep(2, 'string'),
          all_model_checkpoint_timestamps: rep(3, 'double'),
          last_preserved_timestamp: f(4, 'double'),
        }),
      },
    },
  },
};

export const root = protobuf.Root.fromJSON(schema as protobuf.INamespace);

export type MessageName =
  | 'TensorShapeProto'
  | 'TensorProto'
  | 'AttrValue'
  | 'NameAttrList'
  | 'NodeDef'
  | 'VersionDef'
  | 'GraphDef'
  | 'FunctionDefLibrary'
  | 'OpDef'
  | 'OpList'
  | 'SaverDef'
  | 'MetaGraphDef'
  | 'CollectionDef'
  | 'TensorInfo'
  | 'SignatureDef'
  | 'SavedModel'
  | 'AssetFileDef'
  | 'VariableDef'
  | 'BundleHeaderProto'
  | 'BundleEntryProto'
  | 'TensorSliceProto'
  | 'HistogramProto'
  | 'SummaryMetadata'
  | 'Summary'
  | 'Event'
  | 'CheckpointState';

export function messageType(name: MessageName): protobuf.Type {
  return root.lookupType(`tensorflow.${name}`);
}

// ---- message shapes (as decoded; int64 fields are Long, number or string) ----

export type Int64 = number | string | protobuf.Long;

export interface TensorShapeProto {
  dim?: { size?: Int64; name?: string }[];
  unknown_rank?: boolean;
}
export interface TensorProto {
  dtype?: number;
  tensor_shape?: TensorShapeProto;
  version_number?: number;
  tensor_content?: Uint8Array;
  half_val?: number[];
  float_val?: number[];
  double_val?: number[];
  int_val?: number[];
  string_val?: Uint8Array[];
  int64_val?: Int64[];
  bool_val?: boolean[];
  uint32_val?: number[];
  uint64_val?: Int64[];
}
export interface NameAttrList {
  name?: string;
  attr?: Record<string, AttrValueProto>;
}
export interface ListValue {
  s?: Uint8Array[];
  i?: Int64[];
  f?: number[];
  b?: boolean[];
  type?: number[];
  shape?: TensorShapeProto[];
  tensor?: TensorProto[];
  func?: NameAttrList[];
}
export interface AttrValueProto {
  s?: Uint8Array;
  i?: Int64;
  f?: number;
  b?: boolean;
  type?: number;
  shape?: TensorShapeProto;
  tensor?: TensorProto;
  list?: ListValue;
  func?: NameAttrList;
  placeholder?: string;
  /** Set on decoded messages: which member of the oneof is present. */
  value?: string;
}
export interface NodeDef {
  name?: string;
  op?: string;
  input?: string[];
  device?: string;
  attr?: Record<string, AttrValueProto>;
}
export interface VersionDef {
  producer?: number;
  min_consumer?: number;
  bad_consumers?: number[];
}
export interface GraphDef {
  node?: NodeDef[];
  versions?: VersionDef;
  version?: number;
  library?: { function?: unknown[]; gradient?: unknown[] };
}
export interface ArgDef {
  name?: string;
  type?: number;
  type_attr?: string;
  number_attr?: string;
  type_list_attr?: string;
  is_ref?: boolean;
}
export interface OpDefProto {
  name?: string;
  input_arg?: ArgDef[];
  output_arg?: ArgDef[];
  attr?: { name?: string; type?: string; default_value?: AttrValueProto }[];
  is_stateful?: boolean;
}
export interface OpList {
  op?: OpDefProto[];
}
export interface SaverDef {
  filename_tensor_name?: string;
  save_tensor_name?: string;
  restore_op_name?: string;
  max_to_keep?: number;
  sharded?: boolean;
  keep_checkpoint_every_n_hours?: number;
  version?: number;
}
export interface TensorInfo {
  name?: string;
  coo_sparse?: { values_tensor_name?: string; indices_tensor_name?: string; dense_shape_tensor_name?: string };
  dtype?: number;
  tensor_shape?: TensorShapeProto;
}
export interface SignatureDef {
  inputs?: Record<string, TensorInfo>;
  outputs?: Record<string, TensorInfo>;
  method_name?: string;
}
export interface CollectionDef {
  node_list?: { value?: string[] };
  bytes_list?: { value?: Uint8Array[] };
  int64_list?: { value?: Int64[] };
  float_list?: { value?: number[] };
  any_list?: { value?: { type_url?: string; value?: Uint8Array }[] };
}
export interface MetaInfoDef {
  meta_graph_version?: string;
  stripped_op_list?: OpList;
  tags?: string[];
  tensorflow_version?: string;
  tensorflow_git_version?: string;
  stripped_default_attrs?: boolean;
}
export interface AssetFileDef {
  tensor_info?: TensorInfo;
  filename?: string;
}
export interface MetaGraphDef {
  meta_info_def?: MetaInfoDef;
  graph_def?: GraphDef;
  saver_def?: SaverDef;
  collection_def?: Record<string, CollectionDef>;
  signature_def?: Record<string, SignatureDef>;
  asset_file_def?: AssetFileDef[];
}
export interface SavedModelProto {
  saved_model_schema_version?: Int64;
  meta_graphs?: MetaGraphDef[];
}
export interface BundleHeaderProto {
  num_shards?: number;
  endianness?: number;
  version?: VersionDef;
}
export interface TensorSliceProto {
  extent?: { start?: Int64; length?: Int64 }[];
}
export interface BundleEntryProto {
  dtype?: number;
  shape?: TensorShapeProto;
  shard_id?: number;
  offset?: Int64;
  size?: Int64;
  crc32c?: number;
  slices?: TensorSliceProto[];
}
export interface HistogramProto {
  min?: number;
  max?: number;
  num?: number;
  sum?: number;
  sum_squares?: number;
  bucket_limit?: number[];
  bucket?: number[];
}
export interface SummaryMetadata {
  plugin_data?: { plugin_name?: string; content?: Uint8Array };
  display_name?: string;
  summary_description?: string;
  data_class?: number;
}
export interface SummaryValue {
  node_name?: string;
  tag?: string;
  metadata?: SummaryMetadata;
  simple_value?: number;
  image?: { height?: number; width?: number; colorspace?: number; encoded_image_string?: Uint8Array };
  histo?: HistogramProto;
  tensor?: TensorProto;
  value?: string;
}
export interface SummaryProto {
  value?: SummaryValue[];
}
export interface EventProto {
  wall_time?: number;
  step?: Int64;
  file_version?: string;
  graph_def?: Uint8Array;
  summary?: SummaryProto;
  meta_graph_def?: Uint8Array;
  session_log?: { status?: number; checkpoint_path?: string; msg?: string };
  what?: string;
}
export interface CheckpointStateProto {
  model_checkpoint_path?: string;
  all_model_checkpoint_paths?: string[];
  all_model_checkpoint_timestamps?: number[];
  last_preserved_timestamp?: number;
}

export interface MessageTypes {
  TensorShapeProto: TensorShapeProto;
  TensorProto: TensorProto;
  AttrValue: AttrValueProto;
  NameAttrList: NameAttrList;
  NodeDef: NodeDef;
  VersionDef: VersionDef;
  GraphDef: GraphDef;
  FunctionDefLibrary: NonNullable<GraphDef['library']>;
  OpDef: OpDefProto;
  OpList: OpList;
  SaverDef: SaverDef;
  MetaGraphDef: MetaGraphDef;
  CollectionDef: CollectionDef;
  TensorInfo: TensorInfo;
  SignatureDef: SignatureDef;
  SavedModel: SavedModelProto;
  AssetFileDef: AssetFileDef;
  VariableDef: Record<string, unknown>;
  BundleHeaderProto: BundleHeaderProto;
  BundleEntryProto: BundleEntryProto;
  TensorSliceProto: TensorSliceProto;
  HistogramProto: HistogramProto;
  SummaryMetadata: SummaryMetadata;
  Summary: SummaryProto;
  Event: EventProto;
  CheckpointState: CheckpointStateProto;
}

/**
 * Serializes a message given as a plain object (snake_case fields). proto3 fields equal to their
 * default are left out, as TensorFlow's C++ serializer does; oneof members and sub-messages that are
 * present are written even when empty.
 */
export function encodeMessage<N extends MessageName>(name: N, value: MessageTypes[N]): Uint8Array {
  const type = messageType(name);
  return type.encode(value as Record<string, unknown>).finish();
}

/**
 * Parses a message. Malformed bytes are a DataLossError naming `what` (a file, an entry), never a
 * crash: protobufjs bounds-checks every length against the buffer, so nothing huge is allocated.
 */
export function decodeMessage<N extends MessageName>(name: N, bytes: Uint8Array, what: string = name): MessageTypes[N] {
  try {
    return messageType(name).decode(bytes) as unknown as MessageTypes[N];
  } catch (e) {
    throw new DataLossError(`Could not parse ${what} as a ${name} protocol buffer: ${(e as Error).message}`);
  }
}

// ---- int64 helpers ----

export function isLong(v: unknown): v is protobuf.Long {
  return typeof v === 'object' && v !== null && typeof (v as { low?: unknown }).low === 'number' && typeof (v as { high?: unknown }).high === 'number';
}

function longToBigInt(v: protobuf.Long): bigint {
  const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? bits : BigInt.asIntN(64, bits);
}

/** An int64 field as a JS number; undefined when it does not fit exactly. */
export function int64ToNumber(v: Int64 | undefined | null): number | undefined {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number(longToBigInt(v));
  return Number.isSafeInteger(n) ? n : undefined;
}

export function int64ToBigInt(v: Int64 | undefined | null): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  return longToBigInt(v);
}

/** A bigint as an int64 field value (low/high words when it does not fit a double exactly). */
export function bigIntToInt64(v: bigint): Int64 {
  const n = Number(v);
  if (Number.isSafeInteger(n)) return n;
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: false } as protobuf.Long;
}

/**
 * Map fields of decoded messages are plain objects whose keys come from the file: look them up
 * (and fill them) by own property only, so a key such as '__proto__' or 'constructor' is data,
 * never Object.prototype.
 */
export function ownValue<V>(rec: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return rec !== undefined && Object.hasOwn(rec, key) ? rec[key] : undefined;
}

export function setOwn<V>(rec: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(rec, key, { value, writable: true, enumerable: true, configurable: true });
}
