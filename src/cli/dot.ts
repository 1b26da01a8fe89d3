// `weir dot PATH`: a GraphDef's (or SavedModel's) graph as Graphviz DOT (tf.io.toDot), and as SVG
// laid out by Graphviz compiled to WebAssembly (npm @hpcc-js/wasm-graphviz, which carries its
// WebAssembly inside: nothing is downloaded when it runs).
import { InvalidArgumentError } from '../errors.js';
import { Graph } from '../graph.js';
import { importGraphDef } from '../io/graph_def.js';
import type { GraphDef, OpDefProto } from '../io/proto.js';
import '../../ops/index.js';
import { toDot } from '../../passes/dot.js';
import { selectMetaGraph, type Model } from './models.js';

/** DOT for the graph of a GraphDef, MetaGraphDef or SavedModel (the MetaGraphDef tagged `tags`, else its first). */
export function modelToDot(model: Model, tags?: readonly string[]): string {
  let gd: GraphDef;
  let opList: readonly OpDefProto[] = [];
  switch (model.kind) {
    case 'checkpoint':
      throw new InvalidArgumentError(`${model.path} is a checkpoint: it holds variables, not a graph (give a GraphDef, .meta or SavedModel)`);
    case 'graph':
      gd = model.graphDef;
      break;
    case 'metagraph':
      gd = model.metaGraph.graph_def ?? {};
      opList = model.metaGraph.meta_info_def?.stripped_op_list?.op ?? [];
      break;
    case 'savedmodel': {
      const mg = selectMetaGraph(model.savedModel, tags, model.path);
      gd = mg.graph_def ?? {};
      opList = mg.meta_info_def?.stripped_op_list?.op ?? [];
      break;
    }
  }
  const graph = new Graph();
  importGraphDef(gd, { graph, name: '', opList });
  return toDot(graph);
}

/** Lays DOT out as SVG with Graphviz's `dot` engine. */
export async function dotToSvg(dot: string): Promise<string> {
  const { Graphviz } = await import('@hpcc-js/wasm-graphviz');
  const graphviz = await Graphviz.load();
  try {
    return graphviz.dot(dot, 'svg');
  } catch (e) {
    throw new InvalidArgumentError(`Graphviz could not lay out the graph: ${(e as Error).message}`);
  }
}
