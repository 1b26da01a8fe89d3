// `weir convert PATH -o model.onnx [--inputs A,B] [--outputs Y] [--opset N] [--signature KEY]
// [--tags serve]`: a SavedModel or a frozen GraphDef as an ONNX model (tf.onnx.exportGraph).
import { InvalidArgumentError } from '../core/errors.js';
import { Graph } from '../graph.js';
import { importGraphDef } from '../io/graph_def.js';
import { exportGraph, DEFAULT_OPSET } from '../onnx/export.js';
import { openModel } from './models.js';

export interface ConvertArgs {
  output?: string;
  inputs?: string;
  outputs?: string;
  opset?: string;
  signature?: string;
  tags?: string;
}

const list = (s: string | undefined): string[] | undefined => s?.split(',').map((t) => t.trim()).filter(Boolean);

/** Converts PATH and writes the ONNX file; returns the line to report. */
export async function convertCommand(path: string, args: ConvertArgs): Promise<string> {
  if (args.output === undefined) throw new InvalidArgumentError('convert needs -o FILE (the ONNX file to write)');
  let opset: number | undefined;
  if (args.opset !== undefined) {
    opset = Number(args.opset);
    if (!/^\d+$/.test(args.opset)) throw new InvalidArgumentError(`--opset must be an integer, not '${args.opset}'`);
  }
  const inputs = list(args.inputs);
  const outputs = list(args.outputs);
  const model = await openModel(path);
  let bytes: Uint8Array;
  if (model.kind === 'savedmodel') {
    const dir = model.path.replace(/\/saved_model\.pb(txt)?$/, '');
    bytes = await exportGraph(dir, { inputs, outputs, opset, tags: list(args.tags), signature: args.signature, outputPath: args.output });
  } else if (model.kind === 'graph') {
    const graph = new Graph();
    importGraphDef(model.graphDef, { graph, name: '' });
    if (!outputs) throw new InvalidArgumentError(`${path} is a GraphDef: name its outputs with --outputs`);
    const placeholders = graph.getOperations().filter((op) => op.type === 'Placeholder').map((op) => op.outputs[0]!.name);
    bytes = await exportGraph(graph, { inputs: inputs ?? placeholders, outputs, opset, outputPath: args.output });
  } else {
    throw new InvalidArgumentError(`${path} is a ${model.kind}: convert takes a SavedModel directory or a frozen GraphDef (weights as constants)`);
  }
  return `weir: wrote ${args.output} (ONNX opset ${opset ?? DEFAULT_OPSET}, ${bytes.length} bytes)\n`;
}
