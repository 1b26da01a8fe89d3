// tf.io: reading and writing graphs and the file system the formats use.
export { writeGraph, readGraph, graphToGraphDef, parseGraphDef, serializeGraphDef, type WriteGraphOptions } from './graph_def.js';
export { setFileSystem, getFileSystem, type FileSystem } from './fs.js';
export { encodeRecord as encodeTFRecord, decodeRecords as decodeTFRecords } from './events.js';
export { toDot } from '../../passes/dot.js';
// The image codecs and file ops, under tf.io as in TF 1.15.
export { decodePng, encodePng, decodeJpeg, encodeJpeg, decodeImage, decodeBmp, readFile, writeFile } from '../api/image_io.js';
