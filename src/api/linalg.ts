// tf.linalg as TF 1.15 has it (linalg_ops, linalg_impl, the matrix diag ops of array_ops): each
// function creates the op TF1 creates, with TF1's default name; the composites (eye, trace,
// logdet, choleskySolve, transpose/adjoint) are built from the ops TF builds them from.
// The names here are tf.linalg's; src/index.ts exports the TF1 top-level aliases (tf.svd,
// tf.matrixInverse, tf.diag = tensorDiag, ...).
import { convertToTensor, graphOf, type TensorLike } from '../convert.js';
import type { DType } from '../core/dtypes.js';
import { type AttrValue, type Graph, Tensor } from '../graph.js';
import { ValueError } from '../variable_scope.js';
import { concat, ones, range, rank, reshape, transpose as transposeOp, zeros } from './array.js';
import { add, log, minimum, multiply, reduceSum } from './math.js';

// The rest of TF 1.15's tf.linalg namespace, defined by other families.
export { matmul } from './math.js';
export { norm } from './norm.js';
export { einsum, matrixBandPart as bandPart } from './indexing.js';

/** Runs `build` in the name scope `name`, in the graph of the inputs; `scope` names the op exactly. */
function inScope<T>(name: string, values: readonly unknown[], build: (g: Graph, scope: string) => T): T {
  const g = graphOf(values);
  return g.asDefault(() => g.nameScope(name, (scope) => build(g, scope)));
}

/** The factorizations take float32 (TF: float, double): JS values become float32 constants. */
function floatInput(v: TensorLike, what: string): Tensor {
  return convertToTensor(v, 'float32', what, what);
}

function createOp(g: Graph, type: string, inputs: Tensor[], attrs: Record<string, AttrValue>, scope: string): Tensor[] {
  return g.createOp(type, inputs, { T: inputs[0]!.dtype, ...attrs }, { name: scope }).outputs;
}

/** One float op on one matrix input named `input`. */
function unaryMatrixOp(type: string, input: TensorLike, name: string, attrs: Record<string, AttrValue> = {}): Tensor[] {
  return inScope(name, [input], (g, scope) => createOp(g, type, [floatInput(input, 'input')], attrs, scope));
}

/** A MatrixSolve-like op: `matrix` and `rhs`. */
function solveOp(type: string, matrix: TensorLike, rhs: TensorLike, name: string, attrs: Record<string, AttrValue>): Tensor {
  return inScope(name, [matrix, rhs], (g, scope) => createOp(g, type, [floatInput(matrix, 'matrix'), floatInput(rhs, 'rhs')], attrs, scope)[0]!);
}

export interface NameOption {
  name?: string;
}

// ---- diagonals (any dtype) ------------------------------------------------------------------------

/** Which side of its row each diagonal of a band is aligned to: superdiagonals first, then subdiagonals. */
export type DiagAlign = 'LEFT_RIGHT' | 'RIGHT_LEFT' | 'LEFT_LEFT' | 'RIGHT_RIGHT';

export interface DiagBandOptions {
  /** A diagonal offset or a band [lower, upper] of them (default 0, the main diagonal). */
  k?: number | readonly [number, number] | Tensor;
  /** Default 'RIGHT_LEFT'. */
  align?: DiagAlign;
  name?: string;
}

/** With any band option given, the V3 op (TF 2's); else the V1 op TF 1.15 emits. */
function bandAttrs(opts: DiagBandOptions & { numRows?: unknown; numCols?: unknown; paddingValue?: unknown }): { align: string } | undefined {
  const banded = opts.k !== undefined || opts.align !== undefined || opts.numRows !== undefined || opts.numCols !== undefined || opts.paddingValue !== undefined;
  return banded ? { align: opts.align ?? 'RIGHT_LEFT' } : undefined;
}

const kInput = (k: DiagBandOptions['k']): Tensor => convertToTensor((k ?? 0) as TensorLike, 'int32', 'k', 'k');

/**
 * tf.linalg.diag (tf.matrix_diag): [..., N] -> [..., N, N] with the vectors on the diagonals
 * (MatrixDiag); with k (a band of diagonals, [..., num_diags, max_diag_len]), numRows, numCols,
 * paddingValue or align, TF 2's MatrixDiagV3.
 */
export function diag(diagonal: TensorLike, opts: DiagBandOptions & { numRows?: number | Tensor; numCols?: number | Tensor; paddingValue?: TensorLike } = {}): Tensor {
  return inScope(opts.name ?? 'diag', [diagonal], (g, scope) => {
    const d = convertToTensor(diagonal, undefined, 'diagonal');
    const band = bandAttrs(opts);
    if (band === undefined) return createOp(g, 'MatrixDiag', [d], {}, scope)[0]!;
    const size = (v: number | Tensor | undefined, what: string): Tensor => convertToTensor(v ?? -1, 'int32', what, what);
    const pad = convertToTensor(opts.paddingValue ?? 0, d.dtype, 'padding_value', 'padding_value');
    return createOp(g, 'MatrixDiagV3', [d, kInput(opts.k), size(opts.numRows, 'num_rows'), size(opts.numCols, 'num_cols'), pad], band, scope)[0]!;
  });
}

/**
 * tf.linalg.diag_part (tf.matrix_diag_part): [..., M, N] -> [..., min(M, N)] (MatrixDiagPart); with
 * k, paddingValue or align, the band [..., num_diags, max_diag_len] (MatrixDiagPartV3).
 */
export function diagPart(input: TensorLike, opts: DiagBandOptions & { paddingValue?: TensorLike } = {}): Tensor {
  return inScope(opts.name ?? 'diag_part', [input], (g, scope) => {
    const x = convertToTensor(input, undefined, 'input');
    const band = bandAttrs(opts);
    if (band === undefined) return createOp(g, 'MatrixDiagPart', [x], {}, scope)[0]!;
    const pad = convertToTensor(opts.paddingValue ?? 0, x.dtype, 'padding_value', 'padding_value');
    return createOp(g, 'MatrixDiagPartV3', [x, kInput(opts.k), pad], band, scope)[0]!;
  });
}

/** tf.linalg.set_diag (tf.matrix_set_diag): input with its main diagonals (MatrixSetDiag), or a band of them (MatrixSetDiagV3), replaced. */
export function setDiag(input: TensorLike, diagonal: TensorLike, opts: DiagBandOptions = {}): Tensor {
  return inScope(opts.name ?? 'set_diag', [input, diagonal], (g, scope) => {
    const x = convertToTensor(input, undefined, 'input');
    const d = convertToTensor(diagonal, x.dtype, 'diagonal');
    const band = bandAttrs(opts);
    if (band === undefined) return createOp(g, 'MatrixSetDiag', [x, d], {}, scope)[0]!;
    return createOp(g, 'MatrixSetDiagV3', [x, d, kInput(opts.k)], band, scope)[0]!;
  });
}

/** tf.linalg.tensor_diag (TF1's tf.diag): a rank-k tensor on the diagonal of a rank-2k one (Diag). */
export function tensorDiag(diagonal: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'Diag', [diagonal], (g, scope) => createOp(g, 'Diag', [convertToTensor(diagonal, undefined, 'diagonal')], {}, scope)[0]!);
}

/** tf.linalg.tensor_diag_part (TF1's tf.diag_part): the inverse of tensorDiag (DiagPart). */
export function tensorDiagPart(input: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'DiagPart', [input], (g, scope) => createOp(g, 'DiagPart', [convertToTensor(input, undefined, 'input')], {}, scope)[0]!);
}

// ---- factorizations and solves ----------------------------------------------------------------------

/** tf.linalg.inv (tf.matrix_inverse): the inverses of [..., M, M] matrices, or of their adjoints. */
export function inv(input: TensorLike, opts: { adjoint?: boolean; name?: string } = {}): Tensor {
  return unaryMatrixOp('MatrixInverse', input, opts.name ?? 'MatrixInverse', { adjoint: opts.adjoint ?? false })[0]!;
}

/** tf.linalg.det (tf.matrix_determinant): [..., M, M] -> [...]. */
export function det(input: TensorLike, opts: NameOption = {}): Tensor {
  return unaryMatrixOp('MatrixDeterminant', input, opts.name ?? 'MatrixDeterminant')[0]!;
}

/** tf.linalg.slogdet (tf.log_matrix_determinant): [sign, log |det|], each [...]. */
export function slogdet(input: TensorLike, opts: NameOption = {}): [Tensor, Tensor] {
  const [sign, logAbsDet] = unaryMatrixOp('LogMatrixDeterminant', input, opts.name ?? 'LogMatrixDeterminant');
  return [sign!, logAbsDet!];
}

/** tf.linalg.cholesky (tf.cholesky): L lower-triangular with L L^T = input; reads input's lower triangle only. */
export function cholesky(input: TensorLike, opts: NameOption = {}): Tensor {
  return unaryMatrixOp('Cholesky', input, opts.name ?? 'Cholesky')[0]!;
}

/** tf.linalg.logdet: log det of Hermitian positive definite matrices, 2 sum(log(diag(cholesky))). */
export function logdet(matrix: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'logdet', [matrix], () => {
    const chol = cholesky(floatInput(matrix, 'matrix'));
    return multiply(2, reduceSum(log(diagPart(chol)), [-1]));
  });
}

/** tf.linalg.cholesky_solve: solves A X = rhs given chol = cholesky(A). */
export function choleskySolve(chol: TensorLike, rhs: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'cholesky_solve', [chol, rhs], () => {
    const y = triangularSolve(chol, rhs, { lower: true, adjoint: false });
    return triangularSolve(chol, y, { lower: true, adjoint: true });
  });
}

export interface TriangularSolveOptions {
  /** Whether matrix is lower (default) or upper triangular; the other triangle is never read. */
  lower?: boolean;
  /** Solve with the adjoint of matrix (default false). */
  adjoint?: boolean;
  name?: string;
}

/** tf.linalg.triangular_solve (tf.matrix_triangular_solve): X with matrix X = rhs for triangular [..., M, M] matrices. */
export function triangularSolve(matrix: TensorLike, rhs: TensorLike, opts: TriangularSolveOptions = {}): Tensor {
  return solveOp('MatrixTriangularSolve', matrix, rhs, opts.name ?? 'MatrixTriangularSolve', { lower: opts.lower ?? true, adjoint: opts.adjoint ?? false });
}

/** tf.linalg.solve (tf.matrix_solve): X with matrix X = rhs (or adjoint(matrix) X = rhs). */
export function solve(matrix: TensorLike, rhs: TensorLike, opts: { adjoint?: boolean; name?: string } = {}): Tensor {
  return solveOp('MatrixSolve', matrix, rhs, opts.name ?? 'MatrixSolve', { adjoint: opts.adjoint ?? false });
}

/** tf.linalg.qr (tf.qr): [q, r] with q orthonormal columns and r upper triangular, q r = input. */
export function qr(input: TensorLike, opts: { fullMatrices?: boolean; name?: string } = {}): [Tensor, Tensor] {
  const [q, r] = unaryMatrixOp('Qr', input, opts.name ?? 'Qr', { full_matrices: opts.fullMatrices ?? false });
  return [q!, r!];
}

/** tf.linalg.eigh (tf.self_adjoint_eig): [e, v], eigenvalues ascending and eigenvectors in v's columns; reads the lower triangle only. */
export function eigh(tensor: TensorLike, opts: NameOption = {}): [Tensor, Tensor] {
  const [e, v] = unaryMatrixOp('SelfAdjointEigV2', tensor, opts.name ?? 'SelfAdjointEigV2', { compute_v: true });
  return [e!, v!];
}

/** tf.linalg.eigvalsh (tf.self_adjoint_eigvals): the eigenvalues, ascending. */
export function eigvalsh(tensor: TensorLike, opts: NameOption = {}): Tensor {
  return unaryMatrixOp('SelfAdjointEigV2', tensor, opts.name ?? 'SelfAdjointEigV2', { compute_v: false })[0]!;
}

export interface SvdOptions {
  /** u is [..., M, M] and v [..., N, N] instead of [..., M, P] and [..., N, P] (default false). */
  fullMatrices?: boolean;
  /** Return [s, u, v] (default) or s alone. */
  computeUv?: boolean;
  name?: string;
}

/** tf.linalg.svd (tf.svd): [s, u, v] with s descending and input = u diag(s) v^T; s alone when computeUv is false. */
export function svd(tensor: TensorLike, opts: SvdOptions & { computeUv: false }): Tensor;
export function svd(tensor: TensorLike, opts?: SvdOptions): [Tensor, Tensor, Tensor];
export function svd(tensor: TensorLike, opts: SvdOptions = {}): Tensor | [Tensor, Tensor, Tensor] {
  const computeUv = opts.computeUv ?? true;
  const [s, u, v] = unaryMatrixOp('Svd', tensor, opts.name ?? 'Svd', { compute_uv: computeUv, full_matrices: opts.fullMatrices ?? false });
  return computeUv ? [s!, u!, v!] : s!;
}

// ---- composites -----------------------------------------------------------------------------------

export interface EyeOptions {
  /** Default: numRows (a square matrix). */
  numColumns?: number | Tensor;
  /** Leading batch dimensions. */
  batchShape?: readonly number[] | Tensor;
  dtype?: DType;
  name?: string;
}

/**
 * tf.eye (tf.linalg.eye), as TF builds it: MatrixDiag of ones for a square matrix, else MatrixSetDiag
 * of ones into zeros. Sizes may be numbers or int32 scalar tensors.
 */
export function eye(numRows: number | Tensor, opts: EyeOptions = {}): Tensor {
  const dtype = opts.dtype ?? 'float32';
  return inScope(opts.name ?? 'eye', [numRows, opts.numColumns, opts.batchShape], () => {
    const cols = opts.numColumns ?? numRows;
    const dynamic = numRows instanceof Tensor || cols instanceof Tensor;
    if (!dynamic && (!Number.isInteger(numRows) || !Number.isInteger(cols) || (numRows as number) < 0 || (cols as number) < 0)) {
      throw new ValueError('num_rows and num_columns must be positive integer values.');
    }
    const square = dynamic ? opts.numColumns === undefined : numRows === cols;
    const batch = opts.batchShape ?? [];
    const diagSize = dynamic ? minimum(numRows, cols) : Math.min(numRows as number, cols as number);
    const sized = (dims: readonly (number | Tensor)[]): number[] | Tensor => {
      if (!(batch instanceof Tensor) && dims.every((d) => typeof d === 'number')) return [...batch, ...(dims as number[])];
      return concat([batch instanceof Tensor ? batch : [...batch], ...dims.map((d) => (typeof d === 'number' ? [d] : reshape(d, [1])))], 0);
    };
    const diagOnes = ones(sized([diagSize]), dtype);
    if (square) return diag(diagOnes);
    return setDiag(zeros(sized([numRows, cols]), dtype), diagOnes);
  });
}

/** tf.linalg.trace (tf.trace): the sum of each matrix's diagonal, [..., M, N] -> [...]. */
export function trace(x: TensorLike, opts: NameOption = {}): Tensor {
  // The Sum takes the scope's own name, as TF's reduce_sum(..., name=scope) does.
  return inScope(opts.name ?? 'Trace', [x], (_g, scope) => reduceSum(diagPart(convertToTensor(x, undefined, 'x', 'x')), [-1], false, scope));
}

/** tf.linalg.transpose (tf.matrix_transpose): swaps the last two dims of a (batch of) matrices. */
export function transpose(a: TensorLike, opts: { conjugate?: boolean; name?: string } = {}): Tensor {
  return inScope(opts.name ?? 'matrix_transpose', [a], () => {
    const x = convertToTensor(a, undefined, 'a', 'a');
    if (x.rank !== null) {
      if (x.rank < 2) throw new ValueError(`Argument 'a' should be a (batch) matrix, with rank >= 2.  Found: ${x.shape === null ? '<unknown>' : `[${x.shape.join(', ')}]`}`);
      const perm = [...Array.from({ length: x.rank - 2 }, (_, i) => i), x.rank - 1, x.rank - 2];
      return transposeOp(x, perm);
    }
    const r = rank(x);
    const perm = concat([range(0, add(r, -2)), reshape(add(r, -1), [1]), reshape(add(r, -2), [1])], 0);
    return transposeOp(x, perm);
  });
}

/** tf.linalg.adjoint: the conjugate transpose (the transpose, for weir's real dtypes). */
export function adjoint(matrix: TensorLike, opts: NameOption = {}): Tensor {
  return inScope(opts.name ?? 'adjoint', [matrix], () => transpose(convertToTensor(matrix, undefined, 'matrix', 'matrix'), { conjugate: true }));
}
