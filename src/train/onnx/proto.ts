/**
 * ONNX protobuf encoding: a hand-written subset of onnx.proto3 (only the messages and fields Agora
 * emits), loaded with `protobuf.parse` from protobufjs. IR version 8, opset 18 (+ com.microsoft).
 * Field numbers follow https://github.com/onnx/onnx/blob/main/onnx/onnx.proto3.
 */
import protobuf from 'protobufjs';

const ONNX_SUBSET = `
syntax = "proto3";
package onnx;
message AttributeProto {
  string name = 1;
  int32 type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
}
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  repeated AttributeProto attribute = 5;
  string domain = 7;
}
message ModelProto {
  int64 ir_version = 1;
  string producer_name = 2;
  string producer_version = 3;
  GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}
message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}
message TensorProto {
  repeated int64 dims = 1;
  int32 data_type = 2;
  string name = 8;
  bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
}
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
`;

const root = protobuf.parse(ONNX_SUBSET, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 } as const;
/** AttributeProto.AttributeType codes. */
export const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export type OnnxDim = number | string;
export type OnnxValueInfo = { name: string; elemType: number; dims: readonly OnnxDim[] };
export type OnnxTensor = { name: string; dataType: number; dims: readonly number[]; raw: Uint8Array };
export type OnnxAttribute = {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  floats?: number[];
  ints?: number[];
};
export type OnnxNode = {
  opType: string;
  domain?: string;
  name?: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: readonly OnnxAttribute[];
};
export type OnnxModel = {
  graphName: string;
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  initializers: readonly OnnxTensor[];
  /** Extra opset imports besides the default domain (e.g. `{ domain: 'com.microsoft', version: 1 }`). */
  extraOpsets?: readonly { domain: string; version: number }[];
};

export const IR_VERSION = 8;
export const OPSET = 18;

function tensorObj(t: OnnxTensor) {
  return { name: t.name, data_type: t.dataType, dims: [...t.dims], raw_data: t.raw };
}

function valueInfoObj(v: OnnxValueInfo) {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

/** Serializes a model to ONNX protobuf bytes. */
export function encodeModel(m: OnnxModel): Uint8Array {
  const obj = {
    ir_version: IR_VERSION,
    producer_name: 'agora',
    producer_version: '0.1',
    opset_import: [{ domain: '', version: OPSET }, ...(m.extraOpsets ?? [])],
    graph: {
      name: m.graphName,
      node: m.nodes.map((n, k) => ({
        input: [...n.inputs],
        output: [...n.outputs],
        name: n.name ?? `n${k}`,
        op_type: n.opType,
        domain: n.domain ?? '',
        attribute: n.attributes.map((a) => ({ ...a, t: a.t ? tensorObj(a.t) : undefined })),
      })),
      initializer: m.initializers.map(tensorObj),
      input: m.inputs.map(valueInfoObj),
      output: m.outputs.map(valueInfoObj),
    },
  };
  const err = ModelProto.verify(obj);
  if (err) throw new Error(`internal: bad ONNX model object: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(obj)).finish();
}

/** Decodes ONNX bytes back to a plain object (tests and debugging only). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array }) as Record<
    string,
    unknown
  >;
}
