import { Root, type Type } from 'protobufjs';
import { ONNX_INPUT, ONNX_OUTPUT } from './contract';

/** ONNX IR version of the exported models (ONNX 1.7+ readers accept it). */
export const ONNX_IR_VERSION = 7;
/** Default-domain opset the exported graphs use (Gemm and Softmax with axis -1 as of opset 13). */
export const ONNX_OPSET = 13;

// TensorProto.DataType.FLOAT and AttributeProto.AttributeType.INT in onnx.proto3.
const ONNX_FLOAT = 1;
const ATTRIBUTE_INT = 2;

/**
 * The subset of onnx.proto3 the exporter writes, with ONNX's own field numbers (proto3 repeated scalars are packed,
 * as ONNX readers expect).
 */
const onnxRoot = Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: {
          fields: { tensorType: { type: 'TypeProtoTensor', id: 1 } },
        },
        TypeProtoTensor: {
          fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
        },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: {
          oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
          fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } },
        },
      },
    },
  },
});
const ModelProto: Type = onnxRoot.lookupType('onnx.ModelProto');

/** The weights of a linear softmax classifier, as the trainset-logreg-v1 artifact holds them. */
export interface LogregWeights {
  /** classes x features, row-major. */
  weights: ArrayLike<number>;
  /** One bias per class. */
  bias: ArrayLike<number>;
  features: number;
  classes: number;
}

function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const f = Float32Array.from(values as ArrayLike<number>);
  return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
}

function tensorValueInfo(name: string, dims: Array<number | string>): object {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * Export a linear softmax classifier as ONNX bytes: `probabilities = Softmax(Gemm(features, W, b, transB=1))`, input
 * `features` float32 [N, features], output `probabilities` float32 [N, classes].
 */
export function exportLogregOnnx(m: LogregWeights): Uint8Array {
  const { features, classes } = m;
  if (!Number.isInteger(features) || features < 1)
    throw new Error(`exportLogregOnnx: features must be a positive integer, got ${features}`);
  if (!Number.isInteger(classes) || classes < 2) throw new Error(`exportLogregOnnx: classes must be an integer >= 2, got ${classes}`);
  if (m.weights.length !== features * classes)
    throw new Error(`exportLogregOnnx: weights hold ${m.weights.length} values, expected classes x features = ${classes * features}`);
  if (m.bias.length !== classes) throw new Error(`exportLogregOnnx: bias holds ${m.bias.length} values, expected ${classes}`);
  const model = {
    irVersion: ONNX_IR_VERSION,
    producerName: 'trainset',
    producerVersion: '1',
    docString: 'trainset hashed logistic regression',
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name: 'logreg',
      node: [
        {
          name: 'gemm',
          opType: 'Gemm',
          input: [ONNX_INPUT, 'W', 'b'],
          output: ['logits'],
          attribute: [{ name: 'transB', type: ATTRIBUTE_INT, i: 1 }],
        },
        {
          name: 'softmax',
          opType: 'Softmax',
          input: ['logits'],
          output: [ONNX_OUTPUT],
          attribute: [{ name: 'axis', type: ATTRIBUTE_INT, i: -1 }],
        },
      ],
      initializer: [
        { name: 'W', dims: [classes, features], dataType: ONNX_FLOAT, rawData: float32Bytes(m.weights) },
        { name: 'b', dims: [classes], dataType: ONNX_FLOAT, rawData: float32Bytes(m.bias) },
      ],
      input: [tensorValueInfo(ONNX_INPUT, ['N', features])],
      output: [tensorValueInfo(ONNX_OUTPUT, ['N', classes])],
    },
  };
  return encodeOnnxModel(model);
}

/**
 * Decode ONNX bytes into a plain object of the onnx.proto3 subset this module defines (fields outside it are
 * dropped; int64 as numbers). For inspecting and editing models in tests and tools.
 */
export function decodeOnnxModel(bytes: Uint8Array): Record<string, unknown> {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false, arrays: true });
}

/** Encode a plain object of the onnx.proto3 subset this module defines (as decodeOnnxModel returns) into ONNX bytes. */
export function encodeOnnxModel(model: Record<string, unknown>): Uint8Array {
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}
