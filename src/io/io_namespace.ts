// tf.io: reading and writing graphs and the file system the formats use.
export { writeGraph, readGraph, graphToGraphDef, parseGraphDef, serializeGraphDef, type WriteGraphOptions } from './graph_def.js';
export { setFileSystem, getFileSystem, type FileSystem } from './fs.js';
export { encodeRecord as encodeTFRecord, decodeRecords as decodeTFRecords } from './events.js';
export { toDot } from '../../passes/dot.js';
