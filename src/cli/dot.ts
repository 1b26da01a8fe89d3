// `weir dot PATH`: a GraphDef's (or SavedModel's) graph as Graphviz DOT (tf.io.toDot), and as SVG
// laid out by Graphviz compiled to WebAssembly (npm @hpcc-js/wasm-graphviz, which carries its
// WebAssembly inside: nothing is downloaded when it runs).
import { InvalidArgumentError } from '../core/errors.js';
import { Graph } from '../graph.js';
import { importGraphDef } from '../io/graph_def.js';
import type { GraphDef, OpDefProto } from '../io/proto.js';
import '../../ops/index.js';
import { dotString, toDot } from '../../passes/dot.js';
import { selectMetaGraph, type Model } from './models.js';

/**
 * DOT for the graph of a GraphDef, MetaGraphDef or SavedModel (the MetaGraphDef tagged `tags`, else
 * its first), by tf.io.toDot on the imported graph; `note` says when it could not be imported.
 */
export function modelToDot(model: Model, tags?: readonly string[]): { dot: string; note?: string } {
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
  try {
    importGraphDef(gd, { graph, name: '', opList });
  } catch (e) {
    // Op types weir does not know (without the producer's op list), attrs it requires: the graph
    // cannot be built, so it is drawn as written, without dtypes and shapes on the edges.
    return { dot: graphDefToDot(gd), note: `drawn as written, without dtypes and shapes (weir cannot import the graph: ${(e as Error).message})` };
  }
  return { dot: toDot(graph) };
}

/** DOT of a GraphDef's nodes and inputs as written (data edges solid, control edges dashed). */
function graphDefToDot(gd: GraphDef): string {
  const nodes = gd.node ?? [];
  const id = new Map(nodes.map((n, i) => [n.name ?? '', i]));
  const lines = ['digraph "weir" {', '  rankdir=TB;', '  node [fontname="Helvetica", fontsize=10, shape=box, style=rounded];', '  edge [fontname="Helvetica", fontsize=8];'];
  nodes.forEach((n, i) => lines.push(`  n${i} [label=${dotString(`${n.name ?? '?'}\n${n.op ?? '?'}`)}];`));
  nodes.forEach((n, i) => {
    for (const input of n.input ?? []) {
      const control = input.startsWith('^');
      const from = id.get((control ? input.slice(1) : input).replace(/:\d+$/, ''));
      if (from !== undefined) lines.push(`  n${from} -> n${i}${control ? ' [style=dashed, arrowhead=odot]' : ''};`);
    }
  });
  lines.push('}');
  return lines.join('\n') + '\n';
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
