// CPU kernels: linalg family. Matrix diagonals copy elements of any dtype; the factorizations work
// on one matrix of the batch at a time in float64 (partial-pivot LU, Cholesky, Householder QR,
// cyclic Jacobi for symmetric eigenproblems, one-sided Jacobi for the SVD) and round once to float32.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import type { KernelNode } from '../../backend.js';
import { registerCpuKernel } from '../registry.js';
import { attr } from './util.js';

type Elements = { [i: number]: unknown };

const elements = (x: NDArray): Elements => x.data as unknown as Elements;
const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function fail(node: KernelNode, message: string): never {
  throw new InvalidArgumentError(`${node.type}: ${message}`, node.name);
}

/** x as a batch of matrices: batch dims, rows, cols, number of matrices. */
function matrices(node: KernelNode, x: NDArray, what = 'input'): { batch: number[]; rows: number; cols: number; count: number } {
  if (x.rank < 2) fail(node, `${what} must be at least rank 2, got shape ${formatShape(x.shape)}`);
  const batch = x.shape.slice(0, -2);
  return { batch, rows: x.shape[x.rank - 2]!, cols: x.shape[x.rank - 1]!, count: product(batch) };
}

function squareMatrices(node: KernelNode, x: NDArray, what = 'input'): { batch: number[]; n: number; count: number } {
  const { batch, rows, cols, count } = matrices(node, x, what);
  if (rows !== cols) fail(node, `${what} must be a (batch of) square matrices, got shape ${formatShape(x.shape)}`);
  return { batch, n: rows, count };
}

/** Matrix b of x (rows x cols, row-major) as float64; transposed when `transpose`. */
function readMatrix(x: NDArray, b: number, rows: number, cols: number, transpose = false): Float64Array {
  const d = x.data as Float32Array;
  const off = b * rows * cols;
  const out = new Float64Array(rows * cols);
  if (!transpose) for (let i = 0; i < rows * cols; i++) out[i] = d[off + i]!;
  else for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = d[off + i * cols + j]!;
  return out;
}

function writeMatrix(out: NDArray, b: number, m: Float64Array): void {
  (out.data as Float32Array).set(m, b * m.length);
}

// ---- diagonals ---------------------------------------------------------------------------------

registerCpuKernel('MatrixDiag', ([d], node, _state, outputs) => {
  if (d!.rank < 1) fail(node, `diagonal must be at least rank 1, got shape ${formatShape(d!.shape)}`);
  const n = d!.shape[d!.rank - 1]!;
  const out = outputs.alloc(d!.dtype, [...d!.shape, n]);
  const src = elements(d!);
  const dst = elements(out);
  for (let k = 0; k < d!.size; k++) dst[k * n + (k % n)] = src[k];
  return [out];
});

registerCpuKernel('MatrixDiagPart', ([x], node, _state, outputs) => {
  const { batch, rows, cols, count } = matrices(node, x!);
  const p = Math.min(rows, cols);
  const out = outputs.alloc(x!.dtype, [...batch, p]);
  const src = elements(x!);
  const dst = elements(out);
  for (let b = 0; b < count; b++) for (let i = 0; i < p; i++) dst[b * p + i] = src[(b * rows + i) * cols + i];
  return [out];
});

registerCpuKernel('MatrixSetDiag', ([x, d], node, _state, outputs) => {
  const { batch, rows, cols, count } = matrices(node, x!);
  const p = Math.min(rows, cols);
  if (d!.shape.join(',') !== [...batch, p].join(',')) {
    fail(node, `diagonal must have shape ${formatShape([...batch, p])} for input of shape ${formatShape(x!.shape)}, got ${formatShape(d!.shape)}`);
  }
  const out = outputs.alloc(x!.dtype, x!.shape);
  const src = elements(x!);
  const diag = elements(d!);
  const dst = elements(out);
  for (let k = 0; k < x!.size; k++) dst[k] = src[k];
  for (let b = 0; b < count; b++) for (let i = 0; i < p; i++) dst[(b * rows + i) * cols + i] = diag[b * p + i];
  return [out];
});

registerCpuKernel('Diag', ([d], node, _state, outputs) => {
  if (d!.rank < 1) fail(node, `diagonal must be at least rank 1, got shape ${formatShape(d!.shape)}`);
  const n = d!.size;
  const out = outputs.alloc(d!.dtype, [...d!.shape, ...d!.shape]);
  const src = elements(d!);
  const dst = elements(out);
  for (let k = 0; k < n; k++) dst[k * n + k] = src[k];
  return [out];
});

registerCpuKernel('DiagPart', ([x], node, _state, outputs) => {
  const r = x!.rank;
  const half = x!.shape.slice(0, r / 2);
  if (r < 2 || r % 2 !== 0 || half.some((dim, k) => dim !== x!.shape[k + r / 2])) {
    fail(node, `input must have shape [D1, ..., Dk, D1, ..., Dk] (an even rank of at least 2), got ${formatShape(x!.shape)}`);
  }
  const n = product(half);
  const out = outputs.alloc(x!.dtype, half);
  const src = elements(x!);
  const dst = elements(out);
  for (let k = 0; k < n; k++) dst[k] = src[k * n + k];
  return [out];
});

// ---- diagonal bands (MatrixDiagV2/V3, MatrixDiagPartV2/V3, MatrixSetDiagV2/V3) -----------------

/** A band of diagonals k = [lower, upper] and which side each kind of diagonal is aligned to. */
interface Band {
  lower: number;
  upper: number;
  superLeft: boolean;
  subLeft: boolean;
}

function bandOf(node: KernelNode, k: NDArray): Band {
  const ks = Array.from(k.data as ArrayLike<number>, Number);
  if (k.rank > 1 || ks.length < 1 || ks.length > 2) fail(node, `k must be a scalar or a vector of one or two elements, got shape ${formatShape(k.shape)}`);
  const [lower, upper] = [ks[0]!, ks[ks.length - 1]!];
  if (lower > upper) fail(node, `lower_diag_index ${lower} must not be larger than upper_diag_index ${upper}`);
  // V2 has no align attr: it aligns every diagonal left.
  const align = node.type.endsWith('V3') ? (attr<string | undefined>(node, 'align') ?? 'RIGHT_LEFT') : 'LEFT_LEFT';
  return { lower, upper, superLeft: align.startsWith('LEFT'), subLeft: align.endsWith('LEFT') };
}

const diagLength = (d: number, rows: number, cols: number): number => Math.min(rows + Math.min(0, d), cols + Math.min(0, -d));

/** The padding before diagonal d's elements in its row of maxLen. */
function offsetOf(band: Band, d: number, rows: number, cols: number, maxLen: number): number {
  return (band.superLeft && d >= 0) || (band.subLeft && d <= 0) ? 0 : maxLen - diagLength(d, rows, cols);
}

/** Checks that the band lies within rows x cols matrices; returns max_diag_len and the number of diagonals. */
function bandGeometry(node: KernelNode, band: Band, rows: number, cols: number): { maxLen: number; count: number } {
  if (rows > 0 && cols > 0 && !(band.lower > -rows && band.upper < cols)) {
    fail(node, `the band k = [${band.lower}, ${band.upper}] must lie within (-${rows}, ${cols}) for ${rows} x ${cols} matrices`);
  }
  return { maxLen: Math.min(rows + Math.min(band.upper, 0), cols + Math.min(-band.lower, 0)), count: band.upper - band.lower + 1 };
}

function scalarOf(node: KernelNode, x: NDArray, what: string): unknown {
  if (x.size !== 1) fail(node, `${what} must be a scalar, got shape ${formatShape(x.shape)}`);
  return elements(x)[0];
}

for (const version of ['V2', 'V3']) {
  registerCpuKernel(`MatrixDiagPart${version}`, ([x, k, padding], node, _state, outputs) => {
    const { batch, rows, cols, count } = matrices(node, x!);
    const band = bandOf(node, k!);
    const { maxLen, count: diags } = bandGeometry(node, band, rows, cols);
    const pad = scalarOf(node, padding!, 'padding_value');
    const out = outputs.alloc(x!.dtype, diags > 1 ? [...batch, diags, maxLen] : [...batch, maxLen]);
    const src = elements(x!);
    const dst = elements(out);
    let o = 0;
    for (let b = 0; b < count; b++) {
      for (let r = 0; r < diags; r++) {
        const d = band.upper - r;
        const len = diagLength(d, rows, cols);
        const off = offsetOf(band, d, rows, cols, maxLen);
        for (let n = 0; n < maxLen; n++, o++) {
          const j = n - off;
          dst[o] = j >= 0 && j < len ? src[(b * rows + j + Math.max(0, -d)) * cols + j + Math.max(0, d)] : pad;
        }
      }
    }
    return [out];
  });

  registerCpuKernel(`MatrixDiag${version}`, ([diagonal, k, numRows, numCols, padding], node, _state, outputs) => {
    const band = bandOf(node, k!);
    const diags = band.upper - band.lower + 1;
    const inner = diags > 1 ? 2 : 1;
    const ds = diagonal!.shape;
    if (ds.length < inner || (diags > 1 && ds[ds.length - 2] !== diags)) {
      fail(node, `diagonal must be [..., ${diags > 1 ? `${diags}, ` : ''}max_diag_len] for k = [${band.lower}, ${band.upper}], got shape ${formatShape(ds)}`);
    }
    const maxLen = ds[ds.length - 1]!;
    const batch = ds.slice(0, -inner);
    // TF's num_rows / num_cols: -1 infers the smallest size that holds the band.
    const minRows = maxLen - Math.min(band.upper, 0);
    const minCols = maxLen + Math.max(band.lower, 0);
    let rows = Number(scalarOf(node, numRows!, 'num_rows'));
    let cols = Number(scalarOf(node, numCols!, 'num_cols'));
    if (rows === -1 && cols === -1) rows = cols = Math.max(minRows, minCols);
    else if (rows === -1) rows = minRows;
    else if (cols === -1) cols = minCols;
    if (rows !== minRows && cols !== minCols) {
      fail(node, `the number of rows or columns (${rows}, ${cols}) is not consistent with k = [${band.lower}, ${band.upper}] and diagonals of length ${maxLen}`);
    }
    const pad = scalarOf(node, padding!, 'padding_value');
    const out = outputs.alloc(diagonal!.dtype, [...batch, rows, cols]);
    const src = elements(diagonal!);
    const dst = elements(out);
    const offsets = new Map<number, number>();
    for (let d = band.lower; d <= band.upper; d++) offsets.set(d, offsetOf(band, d, rows, cols, maxLen));
    let o = 0;
    for (let b = 0; b < product(batch); b++) {
      for (let m = 0; m < rows; m++) {
        for (let c = 0; c < cols; c++, o++) {
          const d = c - m;
          if (d < band.lower || d > band.upper) {
            dst[o] = pad;
            continue;
          }
          const j = (d >= 0 ? m : c) + offsets.get(d)!;
          dst[o] = src[(b * diags + band.upper - d) * maxLen + j];
        }
      }
    }
    return [out];
  });

  registerCpuKernel(`MatrixSetDiag${version}`, ([x, diagonal, k], node, _state, outputs) => {
    const { batch, rows, cols, count } = matrices(node, x!);
    const band = bandOf(node, k!);
    const { maxLen, count: diags } = bandGeometry(node, band, rows, cols);
    const want = diags > 1 ? [...batch, diags, maxLen] : [...batch, maxLen];
    if (diagonal!.shape.join(',') !== want.join(',')) {
      fail(node, `diagonal must have shape ${formatShape(want)} for input of shape ${formatShape(x!.shape)} and k = [${band.lower}, ${band.upper}], got ${formatShape(diagonal!.shape)}`);
    }
    const out = outputs.alloc(x!.dtype, x!.shape);
    const src = elements(x!);
    const diag = elements(diagonal!);
    const dst = elements(out);
    for (let i = 0; i < x!.size; i++) dst[i] = src[i];
    for (let b = 0; b < count; b++) {
      for (let r = 0; r < diags; r++) {
        const d = band.upper - r;
        const off = offsetOf(band, d, rows, cols, maxLen);
        for (let j = 0; j < diagLength(d, rows, cols); j++) {
          dst[(b * rows + j + Math.max(0, -d)) * cols + j + Math.max(0, d)] = diag[(b * diags + r) * maxLen + j + off];
        }
      }
    }
    return [out];
  });
}

// ---- LU: inverse, determinants, solve ----------------------------------------------------------

interface LU {
  /** L (unit, below the diagonal) and U (on and above it), in place of the matrix. */
  lu: Float64Array;
  /** Row i of L U is row perm[i] of the matrix. */
  perm: Int32Array;
  /** The permutation's sign. */
  sign: number;
  /** Some pivot is zero. */
  singular: boolean;
}

/** Partial-pivot LU of the n x n matrix a (overwritten). */
function luDecompose(a: Float64Array, n: number): LU {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  let sign = 1;
  let singular = false;
  for (let k = 0; k < n; k++) {
    let p = k;
    let max = Math.abs(a[k * n + k]!);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(a[i * n + k]!);
      if (v > max) [max, p] = [v, i];
    }
    if (max === 0 || !Number.isFinite(max)) {
      singular = true;
      continue;
    }
    if (p !== k) {
      for (let j = 0; j < n; j++) [a[k * n + j], a[p * n + j]] = [a[p * n + j]!, a[k * n + j]!];
      [perm[k], perm[p]] = [perm[p]!, perm[k]!];
      sign = -sign;
    }
    const pivot = a[k * n + k]!;
    for (let i = k + 1; i < n; i++) {
      const f = (a[i * n + k]! /= pivot);
      if (f !== 0) for (let j = k + 1; j < n; j++) a[i * n + j]! -= f * a[k * n + j]!;
    }
  }
  return { lu: a, perm, sign, singular };
}

/** Solves (L U) X = P B for the n x k right-hand side b (row-major). */
function luSolve({ lu, perm }: LU, n: number, b: Float64Array, k: number): Float64Array {
  const x = new Float64Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) x[i * k + j] = b[perm[i]! * k + j]!;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < i; c++) {
      const f = lu[i * n + c]!;
      if (f !== 0) for (let j = 0; j < k; j++) x[i * k + j]! -= f * x[c * k + j]!;
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let c = i + 1; c < n; c++) {
      const f = lu[i * n + c]!;
      if (f !== 0) for (let j = 0; j < k; j++) x[i * k + j]! -= f * x[c * k + j]!;
    }
    const d = lu[i * n + i]!;
    for (let j = 0; j < k; j++) x[i * k + j]! /= d;
  }
  return x;
}

function identity(n: number): Float64Array {
  const e = new Float64Array(n * n);
  for (let i = 0; i < n; i++) e[i * n + i] = 1;
  return e;
}

registerCpuKernel('MatrixInverse', ([x], node, _state, outputs) => {
  const { n, count } = squareMatrices(node, x!);
  const out = outputs.alloc('float32', x!.shape);
  const adjoint = !!attr<boolean>(node, 'adjoint');
  for (let b = 0; b < count; b++) {
    const lu = luDecompose(readMatrix(x!, b, n, n, adjoint), n);
    if (lu.singular) fail(node, 'Input is not invertible.');
    writeMatrix(out, b, luSolve(lu, n, identity(n), n));
  }
  return [out];
});

/** Per matrix: the sign of the determinant (0 when singular) and log |det|. */
function signAndLogDet(node: KernelNode, x: NDArray, each: (b: number, sign: number, logAbs: number) => void): number[] {
  const { batch, n, count } = squareMatrices(node, x);
  for (let b = 0; b < count; b++) {
    const { lu, sign, singular } = luDecompose(readMatrix(x, b, n, n), n);
    if (singular) {
      each(b, 0, -Infinity);
      continue;
    }
    let s = sign;
    let logAbs = 0;
    for (let i = 0; i < n; i++) {
      const d = lu[i * n + i]!;
      if (d < 0) s = -s;
      logAbs += Math.log(Math.abs(d));
    }
    each(b, s, logAbs);
  }
  return batch;
}

registerCpuKernel('MatrixDeterminant', ([x], node, _state, outputs) => {
  const out = outputs.alloc('float32', x!.shape.slice(0, -2));
  const d = out.data as Float32Array;
  signAndLogDet(node, x!, (b, sign, logAbs) => (d[b] = sign * Math.exp(logAbs)));
  return [out];
});

registerCpuKernel('LogMatrixDeterminant', ([x], node, _state, outputs) => {
  const sign = outputs.alloc('float32', x!.shape.slice(0, -2));
  const logAbsDet = outputs.alloc('float32', x!.shape.slice(0, -2));
  const s = sign.data as Float32Array;
  const l = logAbsDet.data as Float32Array;
  signAndLogDet(node, x!, (b, sg, logAbs) => {
    s[b] = sg;
    l[b] = logAbs;
  });
  return [sign, logAbsDet];
});

/** matrix [..., M, M] and rhs [..., M, K] with equal batch dims (TF 1.15 does not broadcast them). */
function solveOperands(node: KernelNode, a: NDArray, rhs: NDArray): { n: number; k: number; count: number } {
  const { batch, n, count } = squareMatrices(node, a, 'matrix');
  const r = matrices(node, rhs, 'rhs');
  if (r.batch.join(',') !== batch.join(',') || r.rows !== n) {
    fail(node, `matrix ${formatShape(a.shape)} and rhs ${formatShape(rhs.shape)} must have equal batch dims and rows`);
  }
  return { n, k: r.cols, count };
}

registerCpuKernel('MatrixSolve', ([a, rhs], node, _state, outputs) => {
  const { n, k, count } = solveOperands(node, a!, rhs!);
  const out = outputs.alloc('float32', rhs!.shape);
  const adjoint = !!attr<boolean>(node, 'adjoint');
  for (let b = 0; b < count; b++) {
    const lu = luDecompose(readMatrix(a!, b, n, n, adjoint), n);
    if (lu.singular) fail(node, 'Input matrix is not invertible.');
    writeMatrix(out, b, luSolve(lu, n, readMatrix(rhs!, b, n, k), k));
  }
  return [out];
});

// ---- triangular: Cholesky, triangular solve ----------------------------------------------------

registerCpuKernel('Cholesky', ([x], node, _state, outputs) => {
  const { n, count } = squareMatrices(node, x!);
  const out = outputs.alloc('float32', x!.shape);
  for (let b = 0; b < count; b++) {
    const a = readMatrix(x!, b, n, n);
    const l = new Float64Array(n * n);
    for (let j = 0; j < n; j++) {
      let s = a[j * n + j]!;
      for (let c = 0; c < j; c++) s -= l[j * n + c]! * l[j * n + c]!;
      if (!(s > 0)) fail(node, 'Cholesky decomposition was not successful. The input might not be valid.');
      const d = Math.sqrt(s);
      l[j * n + j] = d;
      for (let i = j + 1; i < n; i++) {
        let t = a[i * n + j]!;
        for (let c = 0; c < j; c++) t -= l[i * n + c]! * l[j * n + c]!;
        l[i * n + j] = t / d;
      }
    }
    writeMatrix(out, b, l);
  }
  return [out];
});

registerCpuKernel('MatrixTriangularSolve', ([a, rhs], node, _state, outputs) => {
  const { n, k, count } = solveOperands(node, a!, rhs!);
  const out = outputs.alloc('float32', rhs!.shape);
  const lower = attr<boolean | undefined>(node, 'lower') ?? true;
  const adjoint = !!attr<boolean>(node, 'adjoint');
  // The system's matrix (the triangle, transposed when adjoint) is lower triangular, and solved
  // by forward substitution, when lower and adjoint differ.
  const forward = lower !== adjoint;
  for (let b = 0; b < count; b++) {
    const t = readMatrix(a!, b, n, n);
    const m = (i: number, j: number): number => (adjoint ? t[j * n + i]! : t[i * n + j]!);
    const x = readMatrix(rhs!, b, n, k);
    for (let step = 0; step < n; step++) {
      const i = forward ? step : n - 1 - step;
      const d = m(i, i);
      if (d === 0) fail(node, 'Input matrix is not invertible.');
      const [from, to] = forward ? [0, i] : [i + 1, n];
      for (let c = from; c < to; c++) {
        const f = m(i, c);
        if (f !== 0) for (let j = 0; j < k; j++) x[i * k + j]! -= f * x[c * k + j]!;
      }
      for (let j = 0; j < k; j++) x[i * k + j]! /= d;
    }
    writeMatrix(out, b, x);
  }
  return [out];
});

// ---- QR ----------------------------------------------------------------------------------------

/** Householder QR of the m x n matrix a: q (m x qCols, qCols = m or min(m, n)) and r (qCols x n). */
function householderQr(a: Float64Array, m: number, n: number, qCols: number): { q: Float64Array; r: Float64Array } {
  const p = Math.min(m, n);
  const vs: Float64Array[] = [];
  const taus: number[] = [];
  for (let k = 0; k < p; k++) {
    const alpha = a[k * n + k]!;
    let tail = 0;
    for (let i = k + 1; i < m; i++) tail += a[i * n + k]! ** 2;
    const v = new Float64Array(m - k);
    v[0] = 1;
    if (tail === 0) {
      // Already zero below the diagonal: the reflection is the identity.
      vs.push(v);
      taus.push(0);
      continue;
    }
    const beta = -(alpha >= 0 ? 1 : -1) * Math.sqrt(alpha * alpha + tail);
    for (let i = k + 1; i < m; i++) v[i - k] = a[i * n + k]! / (alpha - beta);
    const tau = (beta - alpha) / beta;
    // a[k:, k:] -= tau v (v^T a[k:, k:])
    for (let j = k; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k]! * a[i * n + j]!;
      const f = tau * dot;
      for (let i = k; i < m; i++) a[i * n + j]! -= f * v[i - k]!;
    }
    vs.push(v);
    taus.push(tau);
  }
  const r = new Float64Array(qCols * n);
  for (let i = 0; i < Math.min(qCols, m); i++) for (let j = i; j < n; j++) r[i * n + j] = a[i * n + j]!;
  // Q = H_0 H_1 ... H_{p-1} applied to the first qCols columns of the identity.
  const q = new Float64Array(m * qCols);
  for (let i = 0; i < Math.min(m, qCols); i++) q[i * qCols + i] = 1;
  for (let k = p - 1; k >= 0; k--) {
    const v = vs[k]!;
    const tau = taus[k]!;
    if (tau === 0) continue;
    for (let j = 0; j < qCols; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k]! * q[i * qCols + j]!;
      const f = tau * dot;
      for (let i = k; i < m; i++) q[i * qCols + j]! -= f * v[i - k]!;
    }
  }
  return { q, r };
}

registerCpuKernel('Qr', ([x], node, _state, outputs) => {
  const { batch, rows: m, cols: n, count } = matrices(node, x!);
  const qCols = attr<boolean>(node, 'full_matrices') ? m : Math.min(m, n);
  const q = outputs.alloc('float32', [...batch, m, qCols]);
  const r = outputs.alloc('float32', [...batch, qCols, n]);
  for (let b = 0; b < count; b++) {
    const f = householderQr(readMatrix(x!, b, m, n), m, n, qCols);
    writeMatrix(q, b, f.q);
    writeMatrix(r, b, f.r);
  }
  return [q, r];
});

// ---- symmetric eigendecomposition --------------------------------------------------------------

const MAX_SWEEPS = 100;

/**
 * Cyclic Jacobi on the symmetric n x n matrix a (overwritten): eigenvalues ascending, and the
 * eigenvectors as the columns of v (row-major n x n) in the same order.
 */
function symmetricEigen(a: Float64Array, n: number): { e: Float64Array; v: Float64Array } {
  const v = identity(n);
  let total = 0;
  for (let i = 0; i < n * n; i++) total += a[i]! ** 2;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i * n + j]! ** 2;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A <- J^T A J with J the rotation in the (p, q) plane.
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i]! - a[j * n + j]!);
  const e = Float64Array.from(order, (i) => a[i * n + i]!);
  const sorted = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let c = 0; c < n; c++) sorted[k * n + c] = v[k * n + order[c]!]!;
  return { e, v: sorted };
}

registerCpuKernel('SelfAdjointEigV2', ([x], node, _state, outputs) => {
  const { batch, n, count } = squareMatrices(node, x!);
  const computeV = attr<boolean | undefined>(node, 'compute_v') ?? true;
  const e = outputs.alloc('float32', [...batch, n]);
  const v = outputs.alloc('float32', computeV ? [...batch, n, n] : [0]);
  for (let b = 0; b < count; b++) {
    // Only the lower triangle is read, as TF's kernel does.
    const a = readMatrix(x!, b, n, n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[i * n + j] = a[j * n + i]!;
    const r = symmetricEigen(a, n);
    writeMatrix(e, b, r.e);
    if (computeV) writeMatrix(v, b, r.v);
  }
  return [e, v];
});

// ---- SVD ---------------------------------------------------------------------------------------

/**
 * Replaces the columns of q (rows x cols, row-major) not flagged in `keep` by unit vectors
 * orthogonal to all others, chosen from the standard basis (Gram-Schmidt, twice for accuracy).
 */
function completeBasis(q: Float64Array, rows: number, cols: number, keep: readonly boolean[]): void {
  const basis: number[] = [];
  for (let c = 0; c < cols; c++) if (keep[c]) basis.push(c);
  for (let c = 0; c < cols; c++) {
    if (keep[c]) continue;
    let best: Float64Array | undefined;
    let bestNorm = -1;
    for (let e = 0; e < rows; e++) {
      const r = new Float64Array(rows);
      r[e] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (const bc of basis) {
          let dot = 0;
          for (let i = 0; i < rows; i++) dot += q[i * cols + bc]! * r[i]!;
          for (let i = 0; i < rows; i++) r[i]! -= dot * q[i * cols + bc]!;
        }
      }
      let norm = 0;
      for (let i = 0; i < rows; i++) norm += r[i]! ** 2;
      if (norm > bestNorm) [best, bestNorm] = [r, norm];
      if (norm > 0.5) break;
    }
    const s = Math.sqrt(bestNorm);
    for (let i = 0; i < rows; i++) q[i * cols + c] = best![i]! / s;
    basis.push(c);
  }
}

/**
 * One-sided Jacobi SVD of the m x n matrix a (m >= n, overwritten): s descending, u (m x uCols,
 * uCols = n or m) and v (n x n), a = u[:, :n] diag(s) v^T.
 */
function jacobiSvd(a: Float64Array, m: number, n: number, uCols: number): { s: Float64Array; u: Float64Array; v: Float64Array } {
  const v = identity(n);
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          const x = a[i * n + p]!;
          const y = a[i * n + q]!;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const x = a[i * n + p]!;
          const y = a[i * n + q]!;
          a[i * n + p] = c * x - s * y;
          a[i * n + q] = s * x + c * y;
        }
        for (let i = 0; i < n; i++) {
          const x = v[i * n + p]!;
          const y = v[i * n + q]!;
          v[i * n + p] = c * x - s * y;
          v[i * n + q] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const norms = Array.from({ length: n }, (_, j) => {
    let s = 0;
    for (let i = 0; i < m; i++) s += a[i * n + j]! ** 2;
    return Math.sqrt(s);
  });
  const order = Array.from({ length: n }, (_, j) => j).sort((i, j) => norms[j]! - norms[i]!);
  const largest = norms[order[0] ?? 0] ?? 0;
  const s = Float64Array.from(order, (j) => norms[j]!);
  const u = new Float64Array(m * uCols);
  const sortedV = new Float64Array(n * n);
  // A column whose norm vanishes next to the largest has no direction of its own: completeBasis gives it one.
  const keep = Array.from({ length: uCols }, (_, c) => c < n && s[c]! > 1e-13 * largest && s[c]! > 0);
  order.forEach((j, c) => {
    for (let i = 0; i < n; i++) sortedV[i * n + c] = v[i * n + j]!;
    if (keep[c]) for (let i = 0; i < m; i++) u[i * uCols + c] = a[i * n + j]! / s[c]!;
  });
  completeBasis(u, m, uCols, keep);
  return { s, u, v: sortedV };
}

registerCpuKernel('Svd', ([x], node, _state, outputs) => {
  const { batch, rows: m, cols: n, count } = matrices(node, x!);
  const p = Math.min(m, n);
  const computeUv = attr<boolean | undefined>(node, 'compute_uv') ?? true;
  const full = !!attr<boolean>(node, 'full_matrices');
  const s = outputs.alloc('float32', [...batch, p]);
  const u = outputs.alloc('float32', computeUv ? [...batch, m, full ? m : p] : [0]);
  const v = outputs.alloc('float32', computeUv ? [...batch, n, full ? n : p] : [0]);
  // Jacobi on the tall orientation: A = U S V^T, or A^T = V S U^T when A is wide.
  const wide = m < n;
  const [tall, short] = wide ? [n, m] : [m, n];
  for (let b = 0; b < count; b++) {
    const r = jacobiSvd(readMatrix(x!, b, m, n, wide), tall, short, full ? tall : short);
    writeMatrix(s, b, r.s);
    if (!computeUv) continue;
    // r.u is tall x (full ? tall : p) and r.v is p x p: already the shapes u and v take.
    writeMatrix(u, b, wide ? r.v : r.u);
    writeMatrix(v, b, wide ? r.u : r.v);
  }
  return [s, u, v];
});
