// Linear algebra op definitions (TF 1.15's linalg_ops.cc and the matrix diag ops of array_ops.cc).
// Gradients follow TF's linalg_grad.py and array_grad.py, built from the same ops.
import { makeConst } from '../src/convert.js';
import type { DType } from '../src/core/dtypes.js';
import { UnimplementedError } from '../src/core/errors.js';
import { NDArray } from '../src/core/ndarray.js';
import { type Dim, formatShape } from '../src/core/shape.js';
import type { AttrValue, Operation, Tensor } from '../src/graph.js';
import { concat, expandDims, gather, reshape, shape as shapeOf, size, slice, zerosLike } from '../src/api/array.js';
import { add, matmul, multiply, negative, reciprocal, square, subtract } from '../src/api/math.js';
import { adjoint, diag, diagPart, eigh, inv, setDiag, solve, svd, tensorDiag, tensorDiagPart, triangularSolve, eye } from '../src/api/linalg.js';
import { matrixBandPart } from '../src/api/indexing.js';
import { registerOp, type AttrType, type OutputSpec, type ShapeContext } from './registry.js';
import { ALL, checkDType, FLOAT } from './util.js';

// ---------------------------------------------------------------------------------------------
// Shape helpers

interface MatrixShape {
  /** Leading batch dims; null when the rank is unknown. */
  batch: Dim[] | null;
  rows: Dim;
  cols: Dim;
}

/** Input i as a (batch of) matrices: rank at least 2 when known. */
function matrixShape(ctx: ShapeContext, i: number, what: string): MatrixShape {
  const t = ctx.inputs[i]!;
  if (t.shape === null) return { batch: null, rows: null, cols: null };
  if (t.shape.length < 2) ctx.fail(`${what} (${t.name}) must be at least rank 2, got shape ${formatShape(t.shape)}`);
  return { batch: t.shape.slice(0, -2), rows: t.shape[t.shape.length - 2]!, cols: t.shape[t.shape.length - 1]! };
}

function mergeDim(ctx: ShapeContext, a: Dim, b: Dim, message: () => string): Dim {
  if (a !== null && b !== null && a !== b) ctx.fail(message());
  return a ?? b;
}

function mergeBatch(ctx: ShapeContext, a: Dim[] | null, b: Dim[] | null, message: () => string): Dim[] | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.length !== b.length) ctx.fail(message());
  return a.map((d, k) => mergeDim(ctx, d, b[k]!, message));
}

/** Input i as a (batch of) square matrices: its batch dims and order. */
function squareShape(ctx: ShapeContext, i: number, what: string): { batch: Dim[] | null; n: Dim } {
  const { batch, rows, cols } = matrixShape(ctx, i, what);
  const t = ctx.inputs[i]!;
  const n = mergeDim(ctx, rows, cols, () => `${what} (${t.name}) must be a (batch of) square matrices, got shape ${formatShape(t.shape)}`);
  return { batch, n };
}

const withBatch = (batch: Dim[] | null, ...dims: Dim[]): Dim[] | null => (batch === null ? null : [...batch, ...dims]);
const minDim = (a: Dim, b: Dim): Dim => (a === null || b === null ? null : Math.min(a, b));

/** MatrixSolve / MatrixTriangularSolve: [..., M, M] and [..., M, K] -> [..., M, K] (TF 1.15: equal batch dims). */
function solveShape(ctx: ShapeContext): OutputSpec[] {
  const dt = checkDType(ctx, 0, FLOAT, 'matrix');
  const [a, b] = [ctx.inputs[0]!, ctx.inputs[1]!];
  if (b.dtype !== dt) ctx.fail(`rhs (${b.name}) is ${b.dtype} but matrix (${a.name}) is ${dt}`);
  const lhs = squareShape(ctx, 0, 'matrix');
  const rhs = matrixShape(ctx, 1, 'rhs');
  const mismatch = () => `matrix ${formatShape(a.shape)} (${a.name}) and rhs ${formatShape(b.shape)} (${b.name}) must have equal batch dims and rows`;
  const batch = mergeBatch(ctx, lhs.batch, rhs.batch, mismatch);
  const n = mergeDim(ctx, lhs.n, rhs.rows, mismatch);
  return [{ dtype: dt, shape: withBatch(batch, n, rhs.cols) }];
}

/**
 * Attr `name` of an op being built (ctx) or built (op), or TF's default for it when the op was
 * made without it (a GraphDef may leave attrs at their default out; ctx.attr throws on a missing attr).
 */
function attrOr<T extends AttrValue>(from: ShapeContext | Operation, name: string, dflt: T): T {
  if ('hasAttr' in from) return from.hasAttr(name) ? from.getAttr<T>(name) : dflt;
  try {
    return from.attr<T>(name);
  } catch {
    return dflt;
  }
}

// ---------------------------------------------------------------------------------------------
// Gradient helpers

/** x with the entries outside one triangle zeroed: TF's matrix_band_part(x, -1, 0) (lower) or (x, 0, -1). */
const triangle = (x: Tensor, lower: boolean): Tensor => (lower ? matrixBandPart(x, -1, 0) : matrixBandPart(x, 0, -1));

/** x[..., :, start:start+count] for x of known rank. */
function columns(x: Tensor, start: number, count: number): Tensor {
  const r = x.rank!;
  return slice(x, [...new Array<number>(r - 1).fill(0), start], [...new Array<number>(r - 1).fill(-1), count]);
}

/** TF's _SafeReciprocal: x / (x^2 + eps), finite where eigenvalues or singular values coincide. */
function safeReciprocal(x: Tensor): Tensor {
  return multiply(x, reciprocal(add(multiply(x, x), 1e-20)));
}

/** f(i, j) = 1 / (e_j - e_i) off the diagonal, 0 on it (TF's eigen/SVD gradient term). */
function reciprocalGaps(e: Tensor): Tensor {
  return setDiag(safeReciprocal(subtract(expandDims(e, -2), expandDims(e, -1))), zerosLike(e));
}

/** Appends two unit dims: a per-matrix scalar that broadcasts against the matrices. */
const perMatrix = (t: Tensor): Tensor => expandDims(expandDims(t, -1), -1);

// ---------------------------------------------------------------------------------------------
// Diagonals (any dtype)

registerOp({
  type: 'MatrixDiag',
  inputs: ['diagonal'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, ALL, 'diagonal');
    const t = ctx.inputs[0]!;
    if (t.shape === null) return [{ dtype: dt, shape: null }];
    if (t.shape.length < 1) ctx.fail(`diagonal (${t.name}) must be at least rank 1, got shape ${formatShape(t.shape)}`);
    const n = t.shape[t.shape.length - 1]!;
    return [{ dtype: dt, shape: [...t.shape, n] }];
  },
  grad: (_op, [g]) => [diagPart(g!)],
});

registerOp({
  type: 'MatrixDiagPart',
  inputs: ['input'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, ALL, 'input');
    const { batch, rows, cols } = matrixShape(ctx, 0, 'input');
    return [{ dtype: dt, shape: withBatch(batch, minDim(rows, cols)) }];
  },
  grad: (op, [g]) => {
    const s = op.inputs[0]!.shape;
    const square = s !== null && s.length >= 2 && s[s.length - 2] !== null && s[s.length - 2] === s[s.length - 1];
    return [square ? diag(g!) : setDiag(zerosLike(op.inputs[0]!), g!)];
  },
});

registerOp({
  type: 'MatrixSetDiag',
  inputs: ['input', 'diagonal'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, ALL, 'input');
    const [x, d] = [ctx.inputs[0]!, ctx.inputs[1]!];
    if (d.dtype !== dt) ctx.fail(`diagonal (${d.name}) is ${d.dtype} but input (${x.name}) is ${dt}`);
    const { batch, rows, cols } = matrixShape(ctx, 0, 'input');
    if (d.shape !== null && d.shape.length < 1) ctx.fail(`diagonal (${d.name}) must be at least rank 1, got shape ${formatShape(d.shape)}`);
    const mismatch = () => `diagonal ${formatShape(d.shape)} (${d.name}) must have input's batch dims and min(rows, cols) of input ${formatShape(x.shape)} (${x.name})`;
    const merged = mergeBatch(ctx, batch, d.shape === null ? null : d.shape.slice(0, -1), mismatch);
    if (d.shape !== null) mergeDim(ctx, minDim(rows, cols), d.shape[d.shape.length - 1]!, mismatch);
    return [{ dtype: dt, shape: withBatch(merged, rows, cols) }];
  },
  grad: (op, [g]) => {
    // TF's _MatrixSetDiagGrad: the diagonal's gradient is g's diagonal; input gets g with it zeroed.
    const gDiag = diagPart(g!);
    return [setDiag(g!, zerosLike(gDiag)), gDiag];
  },
});

registerOp({
  type: 'Diag',
  inputs: ['diagonal'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, ALL, 'diagonal');
    const t = ctx.inputs[0]!;
    if (t.shape === null) return [{ dtype: dt, shape: null }];
    if (t.shape.length < 1) ctx.fail(`diagonal (${t.name}) must be at least rank 1, got shape ${formatShape(t.shape)}`);
    return [{ dtype: dt, shape: [...t.shape, ...t.shape] }];
  },
  grad: (_op, [g]) => [tensorDiagPart(g!)],
});

registerOp({
  type: 'DiagPart',
  inputs: ['input'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, ALL, 'input');
    const t = ctx.inputs[0]!;
    if (t.shape === null) return [{ dtype: dt, shape: null }];
    const r = t.shape.length;
    if (r < 2 || r % 2 !== 0) ctx.fail(`input (${t.name}) must have an even rank of at least 2, got shape ${formatShape(t.shape)}`);
    const half = r / 2;
    const out = t.shape.slice(0, half).map((d, k) =>
      mergeDim(ctx, d, t.shape![k + half]!, () => `input (${t.name}) must have shape [D1, ..., Dk, D1, ..., Dk], got ${formatShape(t.shape)}`),
    );
    return [{ dtype: dt, shape: out }];
  },
  grad: (_op, [g]) => [tensorDiag(g!)],
});

// ---------------------------------------------------------------------------------------------
// Inverse, determinants, Cholesky

registerOp({
  type: 'MatrixInverse',
  inputs: ['input'],
  attrs: { adjoint: 'bool', T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, FLOAT, 'input');
    const { batch, n } = squareShape(ctx, 0, 'input');
    return [{ dtype: dt, shape: withBatch(batch, n, n) }];
  },
  grad: (op, [g]) => {
    const ainv = op.outputs[0]!;
    // TF's _MatrixInverseGrad, -C^H g C^H, holds for adjoint false only: for C = inv(A^H) the
    // gradient is its adjoint, -C g^H C (finite differences agree; TF's formula does not).
    if (attrOr(op, 'adjoint', false)) return [negative(matmul(ainv, matmul(g!, ainv, { adjointA: true })))];
    return [negative(matmul(ainv, matmul(g!, ainv, { adjointB: true }), { adjointA: true }))];
  },
});

function determinantShape(outputs: number) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dt = checkDType(ctx, 0, FLOAT, 'input');
    const { batch } = squareShape(ctx, 0, 'input');
    return Array.from({ length: outputs }, () => ({ dtype: dt, shape: batch }));
  };
}

registerOp({
  type: 'MatrixDeterminant',
  inputs: ['input'],
  attrs: { T: 'type' },
  shape: determinantShape(1),
  grad: (op, [g]) => [multiply(perMatrix(multiply(g!, op.outputs[0]!)), inv(op.inputs[0]!, { adjoint: true }))],
});

registerOp({
  type: 'LogMatrixDeterminant',
  inputs: ['input'],
  attrs: { T: 'type' },
  shape: determinantShape(2),
  // The sign is piecewise constant: only log |det| carries a gradient.
  grad: (op, [, g]) => [multiply(perMatrix(g!), inv(op.inputs[0]!, { adjoint: true }))],
});

registerOp({
  type: 'Cholesky',
  inputs: ['input'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, FLOAT, 'input');
    const { batch, n } = squareShape(ctx, 0, 'input');
    return [{ dtype: dt, shape: withBatch(batch, n, n) }];
  },
  grad: (op, [g]) => {
    // TF's _CholeskyGrad: L^-H ((L^H g) as lower triangle with half its diagonal) L^-1, symmetrized.
    const l = op.outputs[0]!;
    const s = l.shape;
    const known = s !== null && s.every((d) => d !== null);
    let lInverse: Tensor;
    if (known) {
      lInverse = triangularSolve(l, eye(s[s.length - 1]!, { batchShape: s.slice(0, -2) as number[] }));
    } else {
      const dims = shapeOf(l);
      const r = size(dims);
      lInverse = triangularSolve(l, eye(gather(dims, add(r, -1)), { batchShape: slice(dims, [0], reshape(add(r, -2), [1])) }));
    }
    let middle = matmul(l, g!, { adjointA: true });
    middle = setDiag(middle, multiply(0.5, diagPart(middle)));
    middle = triangle(middle, true);
    const gradA = matmul(matmul(lInverse, middle, { adjointA: true }), lInverse);
    return [multiply(add(gradA, adjoint(gradA)), 0.5)];
  },
});

// ---------------------------------------------------------------------------------------------
// Solves

registerOp({
  type: 'MatrixSolve',
  inputs: ['matrix', 'rhs'],
  attrs: { adjoint: 'bool', T: 'type' },
  shape: solveShape,
  grad: (op, [g]) => {
    const a = op.inputs[0]!;
    const adj = attrOr(op, 'adjoint', false);
    const c = op.outputs[0]!;
    const gradB = solve(a, g!, { adjoint: !adj });
    const gradA = adj ? negative(matmul(c, gradB, { adjointB: true })) : negative(matmul(gradB, c, { adjointB: true }));
    return [gradA, gradB];
  },
});

registerOp({
  type: 'MatrixTriangularSolve',
  inputs: ['matrix', 'rhs'],
  attrs: { lower: 'bool', adjoint: 'bool', T: 'type' },
  shape: solveShape,
  grad: (op, [g]) => {
    const a = op.inputs[0]!;
    const adj = attrOr(op, 'adjoint', false);
    const lower = attrOr(op, 'lower', true);
    const c = op.outputs[0]!;
    const gradB = triangularSolve(a, g!, { lower, adjoint: !adj });
    const gradA = adj ? negative(matmul(c, gradB, { adjointB: true })) : negative(matmul(gradB, c, { adjointB: true }));
    return [triangle(gradA, lower), gradB];
  },
});

// ---------------------------------------------------------------------------------------------
// QR, symmetric eigendecomposition, SVD

registerOp({
  type: 'Qr',
  inputs: ['input'],
  attrs: { full_matrices: 'bool', T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, FLOAT, 'input');
    const { batch, rows, cols } = matrixShape(ctx, 0, 'input');
    const k = attrOr(ctx, 'full_matrices', false) ? rows : minDim(rows, cols);
    return [
      { dtype: dt, shape: withBatch(batch, rows, k) },
      { dtype: dt, shape: withBatch(batch, k, cols) },
    ];
  },
  grad: (op, [dq, dr]) => {
    const [q, r] = op.outputs as [Tensor, Tensor];
    const qs = q.shape;
    const rs = r.shape;
    if (qs === null || rs === null || rs[rs.length - 2] === null || rs[rs.length - 1] === null || qs[qs.length - 2] === null) {
      throw new UnimplementedError('QrGrad not implemented with dynamic shapes.');
    }
    const rows = qs[qs.length - 2]!;
    const cols = rs[rs.length - 1]!;
    if (rs[rs.length - 2]! > cols && qs[qs.length - 1] === rows) {
      throw new UnimplementedError('QrGrad not implemented when nrows > ncols and full_matrices is true.');
    }
    /** x adjoint(inverse(r)) for upper-triangular r. */
    const rightSolve = (x: Tensor, rr: Tensor): Tensor => adjoint(triangularSolve(rr, adjoint(x), { lower: false, adjoint: false }));
    const squareOrDeep = (qq: Tensor, rr: Tensor, dqq: Tensor, drr: Tensor): Tensor => {
      const qdq = matmul(qq, dqq, { adjointA: true });
      const qdqSkew = subtract(qdq, adjoint(qdq));
      const rdr = matmul(rr, drr, { adjointB: true });
      const rdrSkew = subtract(rdr, adjoint(rdr));
      const tril = triangle(add(qdqSkew, rdrSkew), true);
      const gradA = matmul(qq, add(drr, rightSolve(tril, rr)));
      const gradB = rightSolve(subtract(dqq, matmul(qq, qdq)), rr);
      return add(gradA, gradB);
    };
    if (rows >= cols) return [squareOrDeep(q, r, dq!, dr!)];
    // Wide: a = [x, y], r = [u, v]; reduce to the square case.
    const y = columns(op.inputs[0]!, rows, cols - rows);
    const u = columns(r, 0, rows);
    const dv = columns(dr!, rows, cols - rows);
    const du = columns(dr!, 0, rows);
    const dy = matmul(q, dv);
    const dx = squareOrDeep(q, u, add(dq!, matmul(y, dv, { adjointB: true })), du);
    return [concat([dx, dy], -1)];
  },
});

registerOp({
  type: 'SelfAdjointEigV2',
  inputs: ['input'],
  attrs: { compute_v: 'bool', T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, FLOAT, 'input');
    const { batch, n } = squareShape(ctx, 0, 'input');
    const computeV = attrOr(ctx, 'compute_v', true);
    return [
      { dtype: dt, shape: withBatch(batch, n) },
      { dtype: dt, shape: computeV ? withBatch(batch, n, n) : [0] },
    ];
  },
  grad: (op, [gradE, gradV]) => {
    const e = op.outputs[0]!;
    const computeV = attrOr(op, 'compute_v', true);
    let gradA: Tensor;
    if (computeV) {
      const v = op.outputs[1]!;
      const f = reciprocalGaps(e);
      const inner = add(diag(gradE!), multiply(f, matmul(v, gradV!, { adjointA: true })));
      gradA = matmul(v, matmul(inner, v, { adjointB: true }));
    } else {
      const [, v] = eigh(op.inputs[0]!);
      gradA = matmul(v, matmul(diag(gradE!), v, { adjointB: true }));
    }
    // The op reads only the lower triangle: symmetrize into it, halving the diagonal.
    gradA = triangle(add(gradA, adjoint(gradA)), true);
    return [setDiag(gradA, multiply(0.5, diagPart(gradA)))];
  },
});

registerOp({
  type: 'Svd',
  inputs: ['input'],
  attrs: { compute_uv: 'bool', full_matrices: 'bool', T: 'type' },
  shape: (ctx) => {
    const dt = checkDType(ctx, 0, FLOAT, 'input');
    const { batch, rows, cols } = matrixShape(ctx, 0, 'input');
    const p = minDim(rows, cols);
    if (!attrOr(ctx, 'compute_uv', true)) {
      return [
        { dtype: dt, shape: withBatch(batch, p) },
        { dtype: dt, shape: [0] },
        { dtype: dt, shape: [0] },
      ];
    }
    const full = attrOr(ctx, 'full_matrices', false);
    return [
      { dtype: dt, shape: withBatch(batch, p) },
      { dtype: dt, shape: withBatch(batch, rows, full ? rows : p) },
      { dtype: dt, shape: withBatch(batch, cols, full ? cols : p) },
    ];
  },
  grad: (op, [gradS, gradUIn, gradVIn]) => svdGrad(op, gradS!, gradUIn!, gradVIn!),
});

/** TF's _SvdGrad (real dtypes). */
function svdGrad(op: Operation, gradS: Tensor, gradUIn: Tensor, gradVIn: Tensor): Tensor[] {
  const a = op.inputs[0]!;
  const gradSMat = diag(gradS);
  if (!attrOr(op, 'compute_uv', true)) {
    const [, u, v] = svd(a, { computeUv: true });
    return [matmul(u, matmul(gradSMat, v, { adjointB: true }))];
  }
  const full = attrOr(op, 'full_matrices', false);
  const as = a.shape;
  const mIn = as === null ? null : as[as.length - 2]!;
  const nIn = as === null ? null : as[as.length - 1]!;
  if (mIn === null || nIn === null) throw new UnimplementedError('SVD gradient has not been implemented for input with unknown inner matrix shape.');
  let [m, n] = [mIn, nIn];
  let [s, u, v] = op.outputs as [Tensor, Tensor, Tensor];
  let [gradU, gradV] = [gradUIn, gradVIn];
  // For m > n, the gradient of A^T = V S U^T, transposed at the end.
  const useAdjoint = m > n;
  if (useAdjoint) {
    [m, n] = [n, m];
    [u, v] = [v, u];
    [gradU, gradV] = [gradV, gradU];
  }
  if (full && Math.abs(m - n) > 1) throw new UnimplementedError('svd gradient is not implemented for abs(m - n) > 1 when full_matrices is True');
  const sMat = diag(s);
  const f = reciprocalGaps(square(s));
  const sInvMat = diag(safeReciprocal(s));
  const v1 = columns(v, 0, m);
  const gradV1 = columns(gradV, 0, m);
  const uGu = matmul(u, gradU, { adjointA: true });
  const vGv = matmul(v1, gradV1, { adjointA: true });
  const fU = multiply(f, uGu);
  const fV = multiply(f, vGv);
  const term1NoUV = add(add(gradSMat, matmul(add(fU, adjoint(fU)), sMat)), matmul(sMat, add(fV, adjoint(fV))));
  const term1 = matmul(u, matmul(term1NoUV, v1, { adjointB: true }));
  let gradA = term1;
  if (m !== n) {
    const gv1t = adjoint(gradV1);
    const gv1tV1 = matmul(gv1t, v1);
    let term2NoUS = subtract(gv1t, matmul(gv1tV1, v1, { adjointB: true }));
    if (full) {
      const v2 = columns(v, m, n - m);
      const gradV2 = columns(gradV, m, n - m);
      const v1tGv2 = matmul(v1, gradV2, { adjointA: true });
      term2NoUS = subtract(term2NoUS, matmul(v1tGv2, v2, { adjointB: true }));
    }
    gradA = add(term1, matmul(matmul(u, sInvMat), term2NoUS));
  }
  return [useAdjoint ? adjoint(gradA) : gradA];
}

// ---------------------------------------------------------------------------------------------
// Diagonal bands: MatrixDiagV2/V3, MatrixDiagPartV2/V3, MatrixSetDiagV2/V3 (TF 2's tf.linalg.diag
// with k, num_rows, num_cols, padding_value and align). V2 is V3 with align LEFT_LEFT.
// Diagonal d of an M x N matrix holds min(M + min(0, d), N + min(0, -d)) elements; a band k =
// [lower, upper] is stored as rows d = upper..lower of max_diag_len elements, each padded on the
// side `align` says (for superdiagonals, then subdiagonals).

const ALIGNS = ['LEFT_RIGHT', 'RIGHT_LEFT', 'LEFT_LEFT', 'RIGHT_RIGHT'];

/** The band [lower, upper] from input i (k: a scalar or a vector of 1 or 2), when known. */
function knownBand(ctx: ShapeContext, i: number): [number, number] | undefined {
  const t = ctx.inputs[i]!;
  if (t.shape !== null && t.shape.length > 1) ctx.fail(`k (${t.name}) must be a scalar or a vector, got shape ${formatShape(t.shape)}`);
  const v = ctx.constValue(i);
  if (v === undefined) return undefined;
  const ks = Array.from(v.data as ArrayLike<number>, Number);
  if (ks.length < 1 || ks.length > 2) ctx.fail(`k must have one or two elements, got ${ks.length}`);
  const band: [number, number] = [ks[0]!, ks[ks.length - 1]!];
  if (band[0] > band[1]) ctx.fail(`lower_diag_index ${band[0]} must not be larger than upper_diag_index ${band[1]}`);
  return band;
}

function knownScalar(ctx: ShapeContext, i: number): number | undefined {
  const v = ctx.constValue(i);
  return v === undefined || v.size !== 1 ? undefined : Number(v.data[0]);
}

function checkAlign(ctx: ShapeContext): void {
  if (!ctx.opType.endsWith('V3')) return;
  const align = attrOr(ctx, 'align', 'RIGHT_LEFT');
  if (!ALIGNS.includes(align)) ctx.fail(`align must be one of ${ALIGNS.join(', ')}, got '${align}'`);
}

const maxDiagLen = (rows: Dim, cols: Dim, [lower, upper]: [number, number]): Dim =>
  rows === null || cols === null ? null : Math.min(rows + Math.min(upper, 0), cols + Math.min(-lower, 0));

function checkBandFits(ctx: ShapeContext, rows: Dim, cols: Dim, [lower, upper]: [number, number]): void {
  if (rows === null || cols === null || rows === 0 || cols === 0) return;
  if (!(lower > -rows && upper < cols)) ctx.fail(`the band k = [${lower}, ${upper}] must lie within (-${rows}, ${cols}) for ${rows} x ${cols} matrices`);
}

function diagPartBandShape(ctx: ShapeContext): OutputSpec[] {
  const dt = checkDType(ctx, 0, ALL, 'input');
  checkAlign(ctx);
  const { batch, rows, cols } = matrixShape(ctx, 0, 'input');
  const band = knownBand(ctx, 1);
  if (band === undefined || batch === null) return [{ dtype: dt, shape: null }];
  checkBandFits(ctx, rows, cols, band);
  const len = maxDiagLen(rows, cols, band);
  const n = band[1] - band[0] + 1;
  return [{ dtype: dt, shape: n > 1 ? [...batch, n, len] : [...batch, len] }];
}

function diagBandShape(ctx: ShapeContext): OutputSpec[] {
  const dt = checkDType(ctx, 0, ALL, 'diagonal');
  checkAlign(ctx);
  const d = ctx.inputs[0]!;
  const band = knownBand(ctx, 1);
  if (band === undefined || d.shape === null) return [{ dtype: dt, shape: null }];
  const n = band[1] - band[0] + 1;
  const inner = n > 1 ? 2 : 1;
  if (d.shape.length < inner) ctx.fail(`diagonal (${d.name}) must be at least rank ${inner} for k = [${band[0]}, ${band[1]}], got shape ${formatShape(d.shape)}`);
  if (n > 1) mergeDim(ctx, d.shape[d.shape.length - 2]!, n, () => `diagonal (${d.name}) must have ${n} rows, one per diagonal of k = [${band[0]}, ${band[1]}], got shape ${formatShape(d.shape)}`);
  const len = d.shape[d.shape.length - 1]!;
  let rows: Dim = knownScalar(ctx, 2) ?? null;
  let cols: Dim = knownScalar(ctx, 3) ?? null;
  if (len !== null && rows !== null && cols !== null) [rows, cols] = inferMatrixSize(ctx, len, rows, cols, band);
  else [rows, cols] = [rows === -1 ? null : rows, cols === -1 ? null : cols];
  return [{ dtype: dt, shape: [...d.shape.slice(0, -inner), rows, cols] }];
}

/** TF's num_rows / num_cols of MatrixDiagV2/V3: -1 infers the smallest size that holds the band. */
function inferMatrixSize(ctx: ShapeContext, len: number, rows: number, cols: number, [lower, upper]: [number, number]): [number, number] {
  const minRows = len - Math.min(upper, 0);
  const minCols = len + Math.max(lower, 0);
  if (rows === -1 && cols === -1) rows = cols = Math.max(minRows, minCols);
  else if (rows === -1) rows = minRows;
  else if (cols === -1) cols = minCols;
  if (rows !== minRows && cols !== minCols) {
    ctx.fail(`the number of rows or columns (${rows}, ${cols}) is not consistent with k = [${lower}, ${upper}] and diagonals of length ${len}`);
  }
  return [rows, cols];
}

function setDiagBandShape(ctx: ShapeContext): OutputSpec[] {
  const dt = checkDType(ctx, 0, ALL, 'input');
  checkAlign(ctx);
  const [x, d] = [ctx.inputs[0]!, ctx.inputs[1]!];
  if (d.dtype !== dt) ctx.fail(`diagonal (${d.name}) is ${d.dtype} but input (${x.name}) is ${dt}`);
  const { batch, rows, cols } = matrixShape(ctx, 0, 'input');
  const band = knownBand(ctx, 2);
  if (band === undefined || d.shape === null) return [{ dtype: dt, shape: x.shape }];
  checkBandFits(ctx, rows, cols, band);
  const n = band[1] - band[0] + 1;
  const want = n > 1 ? [n, maxDiagLen(rows, cols, band)] : [maxDiagLen(rows, cols, band)];
  const mismatch = () => `diagonal ${formatShape(d.shape)} (${d.name}) must be the band k = [${band[0]}, ${band[1]}] of input ${formatShape(x.shape)} (${x.name}): [..., ${want.map(String).join(', ')}]`;
  if (d.shape.length < want.length) ctx.fail(mismatch());
  want.forEach((w, j) => mergeDim(ctx, w, d.shape![d.shape!.length - want.length + j]!, mismatch));
  const merged = mergeBatch(ctx, batch, d.shape.slice(0, -want.length), mismatch);
  return [{ dtype: dt, shape: withBatch(merged, rows, cols) }];
}

/** The V2 or V3 op of a band family, with op's k and align. */
function bandOp(op: Operation, type: string, inputs: Tensor[]): Tensor {
  const v3 = op.type.endsWith('V3');
  const attrs: Record<string, string> = { T: inputs[0]!.dtype };
  if (v3) attrs.align = attrOr(op, 'align', 'RIGHT_LEFT');
  return op.graph.createOp(`${type}${v3 ? 'V3' : 'V2'}`, inputs, attrs).outputs[0]!;
}

const scalarOf = (op: Operation, v: number, dtype: DType): Tensor => makeConst(op.graph, NDArray.from(v, dtype));

for (const version of ['V2', 'V3']) {
  const attrs: Record<string, AttrType> = version === 'V3' ? { T: 'type', align: 'string' } : { T: 'type' };
  registerOp({
    type: `MatrixDiag${version}`,
    inputs: ['diagonal', 'k', 'num_rows', 'num_cols', 'padding_value'],
    attrs,
    shape: diagBandShape,
    // The diagonals' gradient is the band of g; k, sizes and padding get none.
    grad: (op, [g]) => [bandOp(op, 'MatrixDiagPart', [g!, op.inputs[1]!, zerosLike(op.inputs[4]!)]), null, null, null, null],
  });
  registerOp({
    type: `MatrixDiagPart${version}`,
    inputs: ['input', 'k', 'padding_value'],
    attrs,
    shape: diagPartBandShape,
    grad: (op, [g]) => {
      const x = op.inputs[0]!;
      const s = x.shape;
      const known = s !== null && s[s.length - 2] !== null && s[s.length - 1] !== null;
      const gx = known
        ? bandOp(op, 'MatrixDiag', [g!, op.inputs[1]!, scalarOf(op, s[s.length - 2]!, 'int32'), scalarOf(op, s[s.length - 1]!, 'int32'), zerosLike(op.inputs[2]!)])
        : bandOp(op, 'MatrixSetDiag', [zerosLike(x), g!, op.inputs[1]!]);
      return [gx, null, null];
    },
  });
  registerOp({
    type: `MatrixSetDiag${version}`,
    inputs: ['input', 'diagonal', 'k'],
    attrs,
    shape: setDiagBandShape,
    grad: (op, [g]) => {
      const gDiag = bandOp(op, 'MatrixDiagPart', [g!, op.inputs[2]!, scalarOf(op, 0, g!.dtype)]);
      return [bandOp(op, 'MatrixSetDiag', [g!, zerosLike(gDiag), op.inputs[2]!]), gDiag, null];
    },
  });
}
