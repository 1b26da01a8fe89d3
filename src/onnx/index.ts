// tf.onnx: weir's graphs and SavedModels as ONNX models, for ONNX Runtime and other ONNX engines.
export { DEFAULT_OPSET, MAX_OPSET, exportGraph, mappedOpTypes, type ExportOptions, type TensorList } from './export.js';
export { decodeModel, type OnnxModel } from './proto.js';
