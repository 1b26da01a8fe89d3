// TensorFlow formats: protocol buffers, checkpoints (Saver), GraphDef, SavedModel, event files.
export * from './proto.js';
export { crc32c, crc32cExtend, maskCrc, unmaskCrc } from './crc32c.js';
export { snappyUncompress, snappyUncompressedLength } from './snappy.js';
export { readTable, buildTable, type TableEntry, type TableOptions } from './table.js';
export { encodeBundle, BundleIndex, readTensor, indexFilename, dataFilename, type BundleTensorEntry, type EncodedBundle } from './bundle.js';
export {
  dtypeToTF,
  dtypeFromTF,
  tfDataTypeName,
  shapeToProto,
  shapeFromProto,
  tensorToProto,
  tensorFromProto,
  ioLimits,
} from './tensor_proto.js';
export { toTextFormat, fromTextFormat } from './text_format.js';
export { setFileSystem, getFileSystem, type FileSystem } from './fs.js';
export {
  CheckpointReader,
  getCheckpointState,
  latestCheckpoint,
  listVariables,
  loadVariable,
  updateCheckpointState,
  serializeCheckpointState,
  parseCheckpointState,
  type CheckpointState,
} from './checkpoint.js';
export { Saver, type SaverOptions, type SaveOptions, type Saveable } from './saver.js';
export {
  graphToGraphDef,
  opToNodeDef,
  importGraphDef,
  importGraphDefWithPrefix,
  writeGraph,
  readGraph,
  parseGraphDef,
  serializeGraphDef,
  GRAPH_DEF_PRODUCER,
  type ImportGraphDefOptions,
  type WriteGraphOptions,
} from './graph_def.js';
export { load as loadSavedModel, loader, readSavedModel, tagConstants, signatureConstants, type LoadedSavedModel } from './saved_model.js';
export { FileWriter, readEventFile, decodeEvents, encodeRecord, decodeRecords, EVENT_FILE_VERSION, type FileWriterOptions } from './events.js';
export * as summary from './summary.js';
