// tf.onnx: weir's graphs and SavedModels as ONNX models, for ONNX Runtime and other ONNX engines.
export { DEFAULT_OPSET, MAX_OPSET, exportGraph, type ExportOptions, type TensorList } from './export.js';
export { mappedOpTypes } from './ops.js';
export { decodeModel, type OnnxModel } from './proto.js';
