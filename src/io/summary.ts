/**
 * tf.summary: summary ops (TensorFlow 1's tf.summary.scalar, histogram, image, text, merge,
 * mergeAll) and the FileWriter that writes their output for TensorBoard.
 */
import { convertToTensor, type TensorLike, graphOf as graphOfValues } from '../convert.js';
import { InvalidArgumentError } from '../core/errors.js';
import { getDefaultGraph, GraphKeys, Tensor, type Graph } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import { encodeMessage, type SummaryMetadata } from './proto.js';

export { FileWriter, FileWriterCache, type FileWriterOptions, readEventFile, decodeEvents, encodeRecord, decodeRecords } from './events.js';

export interface SummaryOptions {
  /** Collections to add the summary to (default [SUMMARIES]). */
  collections?: string[];
  /** Prefix of the tag and the name scope (shown as a tab in TensorBoard). */
  family?: string;
}

const INVALID_TAG_CHARACTERS = /[^-/\w.]/g;

/** TensorFlow's clean_tag: illegal characters become '_', leading slashes go. */
function cleanTag(name: string): string {
  let n = name.replace(INVALID_TAG_CHARACTERS, '_');
  n = n.replace(/^\/+/, '');
  return n;
}

/**
 * TensorFlow's summary_scope: a name scope `family/name` (made unique) and the tag, which is the
 * scope name (prefixed by the family again, so it shows in the family's tab).
 */
function summaryScope<T>(graph: Graph, name: string, family: string | undefined, fn: (tag: string, scope: string) => T): T {
  const n = cleanTag(name);
  const fam = family === undefined ? undefined : cleanTag(family);
  const base = fam === undefined ? n : `${fam}/${n}`;
  return graph.nameScope(base, (scope) => {
    const bare = scope.replace(/\/$/, '');
    return fn(fam === undefined ? bare : `${fam}/${bare}`, scope);
  });
}

function stringConst(graph: Graph, value: string | Uint8Array, name: string): Tensor {
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  const nd = new NDArray([bytes], [], 'string');
  return graph.createOp('Const', [], { value: nd, dtype: 'string' }, { name }).outputs[0]!;
}

function collect(graph: Graph, t: Tensor, collections: string[] | undefined): Tensor {
  for (const c of collections ?? [GraphKeys.SUMMARIES]) graph.addToCollection(c, t);
  return t;
}

function graphOf(v: unknown): Graph {
  return graphOfValues([v]);
}

/** A summary of a real scalar (ScalarSummary): simple_value = float(tensor). */
export function scalar(name: string, tensor: TensorLike, opts: SummaryOptions = {}): Tensor {
  const graph = graphOf(tensor);
  return graph.asDefault(() =>
    summaryScope(graph, name, opts.family, (tag, scope) => {
      const t = convertToTensor(tensor);
      if (t.shape !== null && t.shape.length !== 0) {
        throw new InvalidArgumentError(`tf.summary.scalar '${name}': tensor ${t.name} must be a scalar, got shape [${t.shape.join(',')}]`);
      }
      const tags = stringConst(graph, tag, 'tags');
      const op = graph.createOp('ScalarSummary', [tags, t], { T: t.dtype }, { name: scope });
      return collect(graph, op.outputs[0]!, opts.collections);
    }),
  );
}

/** A histogram of the values of a tensor (HistogramSummary), with TensorFlow's default buckets. */
export function histogram(name: string, values: TensorLike, opts: SummaryOptions = {}): Tensor {
  const graph = graphOf(values);
  return graph.asDefault(() =>
    summaryScope(graph, name, opts.family, (tag, scope) => {
      const t = convertToTensor(values);
      const tagT = stringConst(graph, tag, 'tag');
      const op = graph.createOp('HistogramSummary', [tagT, t], { T: t.dtype }, { name: scope });
      return collect(graph, op.outputs[0]!, opts.collections);
    }),
  );
}

/**
 * Images of a [batch, height, width, channels] float tensor (ImageSummary): up to `maxOutputs`
 * PNGs, scaled to [0, 255] (or centred on 128 when there are negative values).
 */
export function image(name: string, tensor: TensorLike, opts: SummaryOptions & { maxOutputs?: number } = {}): Tensor {
  const graph = graphOf(tensor);
  return graph.asDefault(() =>
    summaryScope(graph, name, opts.family, (tag, scope) => {
      const t = convertToTensor(tensor);
      const tagT = stringConst(graph, tag, 'tag');
      const op = graph.createOp('ImageSummary', [tagT, t], { T: t.dtype, max_images: opts.maxOutputs ?? 3 }, { name: scope });
      return collect(graph, op.outputs[0]!, opts.collections);
    }),
  );
}

export interface TensorSummaryOptions extends SummaryOptions {
  summaryMetadata?: SummaryMetadata;
  summaryDescription?: string;
  displayName?: string;
}

/** A summary holding a whole tensor (TensorSummaryV2). */
export function tensorSummary(name: string, tensor: TensorLike, opts: TensorSummaryOptions = {}): Tensor {
  const graph = graphOf(tensor);
  const meta: SummaryMetadata = { ...(opts.summaryMetadata ?? {}) };
  if (opts.summaryDescription !== undefined) meta.summary_description = opts.summaryDescription;
  if (opts.displayName !== undefined) meta.display_name = opts.displayName;
  const serialized = encodeMessage('SummaryMetadata', meta);
  return graph.asDefault(() =>
    summaryScope(graph, name, opts.family, (tag, scope) => {
      const t = convertToTensor(tensor);
      const tagT = stringConst(graph, tag, 'tag');
      const metaT = stringConst(graph, serialized, 'serialized_summary_metadata');
      const op = graph.createOp('TensorSummaryV2', [tagT, t, metaT], { T: t.dtype }, { name: scope });
      return collect(graph, op.outputs[0]!, opts.collections);
    }),
  );
}

/** A string tensor shown by TensorBoard's text plugin. */
export function text(name: string, tensor: TensorLike, opts: SummaryOptions = {}): Tensor {
  const t = tensor instanceof Tensor ? tensor : convertToTensor(tensor);
  if (t.dtype !== 'string') throw new InvalidArgumentError(`tf.summary.text '${name}': expected a string tensor, got ${t.dtype}`);
  return tensorSummary(name, t, { ...opts, summaryMetadata: { plugin_data: { plugin_name: 'text' } } });
}

/** Merges serialized summaries into one (MergeSummary); duplicate tags are an error when it runs. */
export function merge(inputs: readonly Tensor[], opts: { collections?: string[]; name?: string } = {}): Tensor {
  if (inputs.length === 0) throw new InvalidArgumentError('tf.summary.merge needs at least one summary');
  const graph = inputs[0]!.graph;
  return graph.asDefault(() =>
    graph.nameScope(opts.name ?? 'Merge', () => {
      const op = graph.createOp('MergeSummary', [...inputs], { N: inputs.length }, { name: 'MergeSummary' });
      for (const c of opts.collections ?? []) graph.addToCollection(c, op.outputs[0]!);
      return op.outputs[0]!;
    }),
  );
}

/** Merges every summary in a collection (SUMMARIES by default); null when there is none. */
export function mergeAll(key: string = GraphKeys.SUMMARIES, opts: { scope?: string; name?: string; graph?: Graph } = {}): Tensor | null {
  const graph = opts.graph ?? getDefaultGraph();
  const summaries = graph.getCollection<Tensor>(key, opts.scope).filter((t) => t instanceof Tensor);
  if (summaries.length === 0) return null;
  return merge(summaries, { name: opts.name });
}
