/**
 * ONNX's protocol buffer messages (onnx.proto, package `onnx`), declared as protobufjs JSON
 * descriptors with onnx.proto's field names, numbers and types, as src/io/proto.ts does for
 * TensorFlow's. onnx.proto is proto2: set fields are written even when zero, and the numeric
 * repeated fields it marks packed are packed here too. Only what an exporter writes is declared.
 */
import protobuf from 'protobufjs';

type FieldJSON = { id: number; type: string; rule?: 'repeated'; options?: Record<string, unknown> };
type TypeJSON = { edition: string; fields: Record<string, FieldJSON>; oneofs?: Record<string, { oneof: string[] }>; nested?: Record<string, TypeJSON> };

const f = (id: number, type: string): FieldJSON => ({ id, type });
const rep = (id: number, type: string): FieldJSON => ({ id, type, rule: 'repeated' });
const packed = (id: number, type: string): FieldJSON => ({ id, type, rule: 'repeated', options: { packed: true } });
const msg = (fields: Record<string, FieldJSON>, extra: Partial<TypeJSON> = {}): TypeJSON => ({ edition: 'proto2', fields, ...extra });

/** TensorProto.DataType. */
export const ONNX_DT = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  DOUBLE: 11,
} as const;

/** AttributeProto.AttributeType. */
export const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

const schema = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: msg({
          name: f(1, 'string'),
          type: f(20, 'int32'),
          f: f(2, 'float'),
          i: f(3, 'int64'),
          s: f(4, 'bytes'),
          t: f(5, 'TensorProto'),
          g: f(6, 'GraphProto'),
          floats: rep(7, 'float'),
          ints: rep(8, 'int64'),
          strings: rep(9, 'bytes'),
          tensors: rep(10, 'TensorProto'),
          graphs: rep(11, 'GraphProto'),
          doc_string: f(13, 'string'),
        }),
        ValueInfoProto: msg({ name: f(1, 'string'), type: f(2, 'TypeProto'), doc_string: f(3, 'string') }),
        NodeProto: msg({
          input: rep(1, 'string'),
          output: rep(2, 'string'),
          name: f(3, 'string'),
          op_type: f(4, 'string'),
          domain: f(7, 'string'),
          attribute: rep(5, 'AttributeProto'),
          doc_string: f(6, 'string'),
        }),
        StringStringEntryProto: msg({ key: f(1, 'string'), value: f(2, 'string') }),
        ModelProto: msg({
          ir_version: f(1, 'int64'),
          opset_import: rep(8, 'OperatorSetIdProto'),
          producer_name: f(2, 'string'),
          producer_version: f(3, 'string'),
          domain: f(4, 'string'),
          model_version: f(5, 'int64'),
          doc_string: f(6, 'string'),
          graph: f(7, 'GraphProto'),
          metadata_props: rep(14, 'StringStringEntryProto'),
        }),
        GraphProto: msg({
          node: rep(1, 'NodeProto'),
          name: f(2, 'string'),
          initializer: rep(5, 'TensorProto'),
          doc_string: f(10, 'string'),
          input: rep(11, 'ValueInfoProto'),
          output: rep(12, 'ValueInfoProto'),
          value_info: rep(13, 'ValueInfoProto'),
        }),
        TensorProto: msg({
          dims: packed(1, 'int64'),
          data_type: f(2, 'int32'),
          float_data: packed(4, 'float'),
          int32_data: packed(5, 'int32'),
          string_data: rep(6, 'bytes'),
          int64_data: packed(7, 'int64'),
          name: f(8, 'string'),
          doc_string: f(12, 'string'),
          raw_data: f(9, 'bytes'),
          double_data: packed(10, 'double'),
          uint64_data: packed(11, 'uint64'),
        }),
        TensorShapeProto: msg(
          { dim: rep(1, 'Dimension') },
          {
            nested: {
              Dimension: msg(
                { dim_value: f(1, 'int64'), dim_param: f(2, 'string'), denotation: f(3, 'string') },
                { oneofs: { value: { oneof: ['dim_value', 'dim_param'] } } },
              ),
            },
          },
        ),
        TypeProto: msg(
          { tensor_type: f(1, 'Tensor'), sequence_type: f(4, 'Sequence'), denotation: f(6, 'string') },
          {
            oneofs: { value: { oneof: ['tensor_type', 'sequence_type'] } },
            nested: {
              Tensor: msg({ elem_type: f(1, 'int32'), shape: f(2, 'TensorShapeProto') }),
              Sequence: msg({ elem_type: f(1, 'TypeProto') }),
            },
          },
        ),
        OperatorSetIdProto: msg({ domain: f(1, 'string'), version: f(2, 'int64') }),
      },
    },
  },
};

const root = protobuf.Root.fromJSON(schema as protobuf.INamespace);

// ---- message shapes (as written) ----

export interface OnnxTensor {
  name?: string;
  dims?: number[];
  data_type: number;
  raw_data?: Uint8Array;
  string_data?: Uint8Array[];
}
export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}
export interface OnnxNode {
  input: string[];
  output: string[];
  name?: string;
  op_type: string;
  domain?: string;
  attribute?: OnnxAttribute[];
}
export interface OnnxDim {
  dim_value?: number;
  dim_param?: string;
}
export interface OnnxTensorType {
  elem_type: number;
  shape?: { dim: OnnxDim[] };
}
export type OnnxType = { tensor_type: OnnxTensorType } | { sequence_type: { elem_type: OnnxType } };
export interface OnnxValueInfo {
  name: string;
  type?: OnnxType;
}
export interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer?: OnnxTensor[];
  input?: OnnxValueInfo[];
  output?: OnnxValueInfo[];
  value_info?: OnnxValueInfo[];
  doc_string?: string;
}
export interface OnnxModel {
  ir_version: number;
  opset_import: { domain?: string; version: number }[];
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  graph: OnnxGraph;
  metadata_props?: { key: string; value: string }[];
}

export function encodeModel(model: OnnxModel): Uint8Array {
  return root.lookupType('onnx.ModelProto').encode(model as unknown as Record<string, unknown>).finish();
}

/** Parses a ModelProto (for tests and tools that look into an exported file). */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const type = root.lookupType('onnx.ModelProto');
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Uint8Array as unknown as typeof Array, defaults: false }) as unknown as OnnxModel;
}
