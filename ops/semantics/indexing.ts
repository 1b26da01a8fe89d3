// Indexing op semantics that shape functions (ops/indexing.ts) and both backends' kernels share:
// the geometry of N-d gathers and scatters, space/batch/depth moves, mirror padding, and einsum
// equations. Dims may be null (unknown while building the graph); kernels pass numbers.
import { InvalidArgumentError } from '../../src/core/errors.js';
import { formatShape as formatMutable, type Dim } from '../../src/core/shape.js';

const fail = (message: string): never => {
  throw new InvalidArgumentError(message);
};

const known = (d: Dim): d is number => d !== null;
const formatShape = (s: readonly Dim[]): string => formatMutable([...s]);

// ---- N-d gather / scatter ----

/** GatherNd's output shape: indices.shape[:-1] + params.shape[indices.shape[-1]:]. */
export function gatherNdShape(params: readonly Dim[], indices: readonly Dim[], depth: number): Dim[] {
  if (depth > params.length) {
    fail(`index innermost dimension length must be <= params rank; saw: ${depth} vs. ${params.length}`);
  }
  return [...indices.slice(0, -1), ...params.slice(depth)];
}

/** Checks that updates have shape indices.shape[:-1] + shape[indices.shape[-1]:] (ScatterNd, TensorScatter*). */
export function checkScatterNdShapes(indices: readonly Dim[], updates: readonly Dim[], shape: readonly Dim[], what = 'shape'): void {
  if (indices.length < 1) fail(`indices must be at least a vector, got shape ${formatShape(indices)}`);
  const depth = indices[indices.length - 1]!;
  if (depth === null) return;
  if (depth > shape.length) fail(`Index innermost dimension length must be <= ${what} rank; saw: ${depth} vs. ${shape.length}`);
  const expected = [...indices.slice(0, -1), ...shape.slice(depth)];
  const mismatch = expected.length !== updates.length || expected.some((d, i) => known(d) && known(updates[i]!) && d !== updates[i]);
  if (mismatch) {
    fail(`updates has shape ${formatShape(updates)}, expected ${formatShape(expected)} (indices.shape[:-1] + ${what}[${depth}:])`);
  }
}

/** BatchMatMul (v1) has no batch broadcasting: both operands have one rank and the same batch dims. */
export function checkSameBatch(x: readonly number[], y: readonly number[]): void {
  if (x.length !== y.length || x.slice(0, -2).some((d, i) => d !== y[i])) {
    fail(`x ${formatShape(x)} and y ${formatShape(y)} must have the same rank and batch dimensions`);
  }
}

/**
 * The rows of N-d indices (`idx` as numbers, n rows of `depth`) as flat slice numbers of `shape`'s
 * leading dims; throws `message(row, i)` for the first row out of range.
 */
export function ndIndexRows(idx: readonly number[], n: number, depth: number, shape: readonly number[], message: (row: number[], i: number) => string): number[] {
  const rows = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let flat = 0;
    for (let d = 0; d < depth; d++) {
      const v = idx[i * depth + d]!;
      if (!(v >= 0 && v < shape[d]!)) fail(message(idx.slice(i * depth, (i + 1) * depth), i));
      flat = flat * shape[d]! + v;
    }
    rows[i] = flat;
  }
  return rows;
}

/**
 * SparseToDense's indices as flat positions of `shape`, checked as TF's kernel does: in bounds, and
 * when `validate`, strictly increasing in row-major order (sorted, no repeats).
 */
export function sparseToDenseRows(idx: readonly number[], n: number, depth: number, shape: readonly number[], validate: boolean): number[] {
  const rows = ndIndexRows(idx, n, depth, shape, (row, i) => `indices[${i}] = [${row.join(',')}] is out of bounds: need 0 <= index < [${shape.join(',')}]`);
  if (validate) {
    for (let i = 1; i < n; i++) {
      const row = idx.slice(i * depth, (i + 1) * depth).join(',');
      if (rows[i] === rows[i - 1]) fail(`indices[${i}] = [${row}] is repeated`);
      if (rows[i]! < rows[i - 1]!) fail(`indices[${i}] = [${row}] is out of order. Many sparse ops require sorted indices.`);
    }
  }
  return rows;
}

// ---- space / batch / depth ----

/** [block_shape] and [M, 2] pads/crops as JS numbers: checks their sizes and signs. */
export function checkBlocks(block: readonly number[], pairs: readonly number[], rank: number, what: 'paddings' | 'crops'): void {
  const m = block.length;
  if (m < 1) fail('block_shape must have at least one element');
  if (pairs.length !== 2 * m) fail(`${what} must have shape [${m}, 2], got ${pairs.length / 2} rows`);
  if (rank < 1 + m) fail(`input rank should be >= ${1 + m} instead of ${rank}`);
  block.forEach((b, i) => {
    if (!Number.isInteger(b) || b < 1) fail(`block_shape[${i}] must be positive, got ${b}`);
  });
  if (pairs.some((p) => p < 0)) fail(`${what} must be non-negative, got [${pairs.join(',')}]`);
}

export function spaceToBatchShape(input: readonly Dim[], block: readonly number[], paddings: readonly number[]): Dim[] {
  checkBlocks(block, paddings, input.length, 'paddings');
  const out = [...input];
  const prod = block.reduce((a, b) => a * b, 1);
  out[0] = known(input[0]!) ? input[0]! * prod : null;
  block.forEach((b, i) => {
    const d = input[i + 1]!;
    if (!known(d)) return void (out[i + 1] = null);
    const padded = d + paddings[2 * i]! + paddings[2 * i + 1]!;
    if (padded % b !== 0) fail(`padded_shape[${i}]=${padded} is not divisible by block_shape[${i}]=${b}`);
    out[i + 1] = padded / b;
  });
  return out;
}

export function batchToSpaceShape(input: readonly Dim[], block: readonly number[], crops: readonly number[]): Dim[] {
  checkBlocks(block, crops, input.length, 'crops');
  const out = [...input];
  const prod = block.reduce((a, b) => a * b, 1);
  const batch = input[0]!;
  if (known(batch)) {
    if (batch % prod !== 0) fail(`Input batch dimension (${batch}) is not divisible by product of block sizes (${prod})`);
    out[0] = batch / prod;
  }
  block.forEach((b, i) => {
    const d = input[i + 1]!;
    if (!known(d)) return void (out[i + 1] = null);
    const size = d * b - crops[2 * i]! - crops[2 * i + 1]!;
    if (size < 0) fail(`Crops must be less than the uncropped size: crops [${crops[2 * i]}, ${crops[2 * i + 1]}] of ${d * b} on dim ${i + 1}`);
    out[i + 1] = size;
  });
  return out;
}

function checkBlockSize(blockSize: number, dataFormat: string): void {
  if (!Number.isInteger(blockSize) || blockSize < 2) fail(`Block size should be > 1, but was: ${blockSize}`);
  if (dataFormat !== 'NHWC') fail(`data_format ${dataFormat} is not supported (only NHWC)`);
}

export function spaceToDepthShape(input: readonly Dim[], blockSize: number, dataFormat = 'NHWC'): Dim[] {
  checkBlockSize(blockSize, dataFormat);
  if (input.length !== 4) fail(`input must be rank 4 (NHWC), got shape ${formatShape(input)}`);
  const [n, h, w, c] = input as [Dim, Dim, Dim, Dim];
  for (const [what, d] of [['height', h], ['width', w]] as const) {
    if (known(d) && d % blockSize !== 0) fail(`Image ${what} ${d} must be divisible by block_size: ${blockSize}`);
  }
  const div = (d: Dim): Dim => (known(d) ? d / blockSize : null);
  return [n, div(h), div(w), known(c) ? c * blockSize * blockSize : null];
}

export function depthToSpaceShape(input: readonly Dim[], blockSize: number, dataFormat = 'NHWC'): Dim[] {
  checkBlockSize(blockSize, dataFormat);
  if (input.length !== 4) fail(`input must be rank 4 (NHWC), got shape ${formatShape(input)}`);
  const [n, h, w, c] = input as [Dim, Dim, Dim, Dim];
  const sq = blockSize * blockSize;
  if (known(c) && c % sq !== 0) fail(`Input depth dimension ${c} should be divisible by: ${sq}`);
  const mul = (d: Dim): Dim => (known(d) ? d * blockSize : null);
  return [n, mul(h), mul(w), known(c) ? c / sq : null];
}

// ---- mirror padding ----

export type MirrorMode = 'REFLECT' | 'SYMMETRIC';

/** 1 for REFLECT (the edge is not repeated), 0 for SYMMETRIC. */
export function mirrorOffset(mode: string): 0 | 1 {
  if (mode === 'REFLECT') return 1;
  if (mode === 'SYMMETRIC') return 0;
  return fail(`mode must be REFLECT or SYMMETRIC, got '${mode}'`);
}

function checkMirrorPads(shape: readonly Dim[], pads: readonly number[], offset: 0 | 1, dims: readonly Dim[]): void {
  if (pads.length !== 2 * shape.length) fail(`paddings must have shape [${shape.length}, 2], got ${pads.length / 2} rows`);
  dims.forEach((d, i) => {
    const [a, b] = [pads[2 * i]!, pads[2 * i + 1]!];
    if (a < 0 || b < 0) fail(`paddings must be non-negative: ${a} ${b}`);
    if (known(d) && (a > d - offset || b > d - offset)) {
      fail(`paddings must be no greater than the dimension size${offset ? ' minus 1' : ''}: ${a}, ${b} greater than ${d - offset}`);
    }
  });
}

/** MirrorPad's output shape; checks paddings against the mode's limit. */
export function mirrorPadShape(shape: readonly Dim[], pads: readonly number[], mode: string): Dim[] {
  checkMirrorPads(shape, pads, mirrorOffset(mode), shape);
  return shape.map((d, i) => (known(d) ? d + pads[2 * i]! + pads[2 * i + 1]! : null));
}

/** MirrorPadGrad's output shape (the unpadded input's). */
export function mirrorPadGradShape(shape: readonly Dim[], pads: readonly number[], mode: string): Dim[] {
  const offset = mirrorOffset(mode);
  if (pads.length !== 2 * shape.length) fail(`paddings must have shape [${shape.length}, 2], got ${pads.length / 2} rows`);
  const out = shape.map((d, i) => (known(d) ? d - pads[2 * i]! - pads[2 * i + 1]! : null));
  out.forEach((d, i) => {
    if (known(d) && d < 0) fail(`paddings [${pads[2 * i]}, ${pads[2 * i + 1]}] are larger than dimension ${i} (${shape[i]})`);
  });
  checkMirrorPads(shape, pads, offset, out);
  return out;
}

// ---- einsum ----

/** One operand's subscript: its labels, and where '...' stands among them (-1: nowhere). */
export interface EinsumSubscript {
  labels: string[];
  ellipsisAt: number;
}

export interface EinsumEquation {
  inputs: EinsumSubscript[];
  output: EinsumSubscript;
}

function parseSubscript(s: string, where: string): EinsumSubscript {
  const at = s.indexOf('...');
  if (at >= 0 && s.indexOf('...', at + 1) >= 0) fail(`einsum: ${where} '${s}' has more than one ellipsis`);
  const plain = at >= 0 ? s.slice(0, at) + s.slice(at + 3) : s;
  for (const ch of plain) if (!/[a-zA-Z]/.test(ch)) fail(`einsum: invalid character '${ch}' in ${where} '${s}'`);
  return { labels: [...plain], ellipsisAt: at };
}

/** Parses an explicit equation ('ij,jk->ik') for n operands (TF's kernel takes one or two). */
export function parseEinsum(equation: string, n: number): EinsumEquation {
  const eq = equation.replace(/\s+/g, '');
  const parts = eq.split('->');
  if (parts.length !== 2) fail(`einsum equation '${equation}' must have exactly one '->'`);
  const ins = parts[0]!.split(',');
  if (ins.length !== n) fail(`einsum equation '${equation}' has ${ins.length} input subscripts but ${n} operands were given`);
  if (n < 1 || n > 2) fail(`einsum takes 1 or 2 operands, got ${n}`);
  const inputs = ins.map((s, k) => parseSubscript(s, `input subscript ${k}`));
  const output = parseSubscript(parts[1]!, 'output subscript');
  for (const l of output.labels) {
    if (!inputs.some((s) => s.labels.includes(l))) fail(`einsum: output label '${l}' does not appear in any input subscript of '${equation}'`);
  }
  return { inputs, output };
}

/**
 * Each axis's label, '...' expanded: the broadcast dims get labels '0', '1', ... counted so that
 * they align from the right, as numpy broadcasts. `bcastRank` is the rank of the broadcast dims.
 */
function expand(sub: EinsumSubscript, rank: number, bcastRank: number, what: string): string[] {
  if (sub.ellipsisAt < 0) {
    if (rank !== sub.labels.length) fail(`einsum: ${what} has rank ${rank} but its subscript has ${sub.labels.length} labels`);
    return sub.labels;
  }
  const n = rank - sub.labels.length;
  if (n < 0) fail(`einsum: ${what} has rank ${rank}, fewer than the ${sub.labels.length} labels of its subscript`);
  const bc = Array.from({ length: n }, (_, j) => String(bcastRank - n + j));
  return [...sub.labels.slice(0, sub.ellipsisAt), ...bc, ...sub.labels.slice(sub.ellipsisAt)];
}

export interface EinsumAxes {
  /** Labels of each operand's axes and of the output's, ellipses expanded. */
  inputs: string[][];
  output: string[];
  /** Each label's size (broadcast labels: the broadcast size). */
  dims: Map<string, Dim>;
}

const isBroadcastLabel = (l: string): boolean => /^\d+$/.test(l);

/** Labels every axis and sizes every label; checks that sizes agree (broadcast dims: or are 1). */
export function einsumAxes(eq: EinsumEquation, shapes: readonly (readonly Dim[])[]): EinsumAxes {
  const bcastRank = Math.max(0, ...eq.inputs.map((s, k) => (s.ellipsisAt >= 0 ? shapes[k]!.length - s.labels.length : 0)));
  const inputs = eq.inputs.map((s, k) => expand(s, shapes[k]!.length, bcastRank, `operand ${k}`));
  const dims = new Map<string, Dim>();
  inputs.forEach((labels, k) => {
    labels.forEach((l, a) => {
      const d = shapes[k]![a]!;
      if (!dims.has(l)) return void dims.set(l, d);
      const prev = dims.get(l)!;
      if (isBroadcastLabel(l)) {
        // 1 broadcasts against any size; an unknown size may be either.
        if (prev === 1 || (prev === null && d !== 1)) dims.set(l, d);
        else if (known(d) && d !== 1 && d !== prev) {
          fail(`einsum: broadcast dims of the operands (${formatShape(shapes[0]!)} and ${formatShape(shapes[1] ?? [])}) are incompatible`);
        }
      } else if (known(prev) && known(d) && prev !== d) {
        fail(`einsum: label '${l}' has size ${prev} and size ${d} (operand ${k}, axis ${a})`);
      } else if (prev === null) {
        dims.set(l, d);
      }
    });
  });
  const output = eq.output.ellipsisAt < 0 ? eq.output.labels : expand(eq.output, eq.output.labels.length + bcastRank, bcastRank, 'output');
  return { inputs, output, dims };
}

/** Strides per label of an array whose axes carry `labels` (a repeated label: the diagonal's stride). */
function labelStrides(labels: readonly string[], shape: readonly number[], dims: Map<string, Dim>): Map<string, number> {
  const strides = new Map<string, number>();
  let s = 1;
  for (let a = labels.length - 1; a >= 0; a--) {
    const l = labels[a]!;
    // A size-1 axis broadcast against a larger one is read with stride 0.
    const st = shape[a] === 1 && dims.get(l) !== 1 ? 0 : s;
    strides.set(l, (strides.get(l) ?? 0) + st);
    s *= shape[a]!;
  }
  return strides;
}

/**
 * How a kernel runs an einsum: out[free] = sum over `summed` of prod_k in_k[free, summed]. Offsets
 * into operand k are sum_l value_l * stride_l over the free labels (freeStrides[k]) and the summed
 * ones (sumStrides[k]). The output's axes carry `outAxes` (indices into `free`); an output element
 * whose axes of one label differ (off a repeated label's diagonal) is zero.
 */
export interface EinsumPlan {
  outShape: number[];
  free: string[];
  freeDims: number[];
  summed: string[];
  sumDims: number[];
  outAxes: number[];
  freeStrides: number[][];
  sumStrides: number[][];
}

export function einsumPlan(equation: string, shapes: readonly (readonly number[])[]): EinsumPlan {
  const ax = einsumAxes(parseEinsum(equation, shapes.length), shapes);
  const free = [...new Set(ax.output)];
  const summed = [...new Set(ax.inputs.flat())].filter((l) => !free.includes(l));
  const size = (l: string): number => ax.dims.get(l) as number;
  const strides = ax.inputs.map((labels, k) => labelStrides(labels, shapes[k]!, ax.dims));
  return {
    outShape: ax.output.map(size),
    free,
    freeDims: free.map(size),
    summed,
    sumDims: summed.map(size),
    outAxes: ax.output.map((l) => free.indexOf(l)),
    freeStrides: strides.map((s) => free.map((l) => s.get(l) ?? 0)),
    sumStrides: strides.map((s) => summed.map((l) => s.get(l) ?? 0)),
  };
}
