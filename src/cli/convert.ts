// `weir convert SRC -o model.onnx`: a SavedModel or a frozen GraphDef as an ONNX model
// (tf.onnx.exportGraph).
import { InvalidArgumentError } from '../core/errors.js';
import { Graph } from '../graph.js';
import { importGraphDef } from '../io/graph_def.js';
import { exportGraph, DEFAULT_OPSET, MAX_OPSET } from '../onnx/export.js';
import { openModel } from './models.js';

/** The line of the command's usage. */
export const CONVERT_USAGE = `  weir convert PATH -o FILE     a SavedModel directory or a frozen GraphDef as an ONNX model
`;

export const CONVERT_OPTIONS_HELP = `Options of convert:
  -o, --output FILE             the ONNX file to write (required)
  --inputs NAME[,NAME...]       input tensors (default: the signature's inputs; for a GraphDef,
                                its placeholders)
  --outputs NAME[,NAME...]      output tensors (default: the signature's outputs; required for a
                                GraphDef)
  --opset N                     ONNX opset, ${DEFAULT_OPSET} to ${MAX_OPSET} (default ${DEFAULT_OPSET})
  --signature KEY               the SavedModel signature (default serving_default)
  --tags TAG[,TAG...]           the SavedModel's MetaGraphDef (default serve)
`;

/** The options convert adds to the command's parseArgs table. */
export const CONVERT_OPTIONS = {
  inputs: { type: 'string' },
  outputs: { type: 'string' },
  opset: { type: 'string' },
  signature: { type: 'string' },
} as const;

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
