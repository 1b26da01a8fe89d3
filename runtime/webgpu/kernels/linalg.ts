// WebGPU kernels: linalg family. The matrix diagonal ops (V1 and the V2/V3 bands) are one
// invocation per output element, copying storage elements as they are (any dtype); k, num_rows and
// num_cols are host inputs baked into the shader. The factorizations and solves (MatrixInverse,
// MatrixDeterminant, LogMatrixDeterminant, Cholesky, MatrixTriangularSolve, MatrixSolve, Qr,
// SelfAdjointEigV2, Svd) have no GPU kernel: they are sequential algorithms on small matrices and
// run on the host backend.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape } from '../../../src/core/shape.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, lit, perElement, storageType, u } from '../wgsl.js';

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function fail(ctx: KernelCtx, message: string): never {
  throw new InvalidArgumentError(`${ctx.node.type}: ${message}`, ctx.node.name);
}

/** Records `body` once per element of `out` (inputs in0.., output out0), unless out is empty. */
function perOutput(ctx: KernelCtx, inputs: GpuTensor[], out: GpuTensor, body: string): GpuTensor[] {
  if (out.size > 0) ctx.dispatch(perElement(out.size, bindings(inputs.map((t) => t.dtype), [out.dtype]), body, ctx.node.type), inputs, [out]);
  return [out];
}

function matrices(ctx: KernelCtx, x: GpuTensor): { batch: number[]; rows: number; cols: number } {
  if (x.shape.length < 2) fail(ctx, `input must be at least rank 2, got shape ${formatShape(x.shape)}`);
  return { batch: x.shape.slice(0, -2), rows: x.shape[x.shape.length - 2]!, cols: x.shape[x.shape.length - 1]! };
}

const zero = (x: GpuTensor): string => `${storageType(x.dtype)}()`;

registerGpuKernel('MatrixDiag', (ctx, [d]) => {
  if (d!.shape.length < 1) fail(ctx, `diagonal must be at least rank 1, got shape ${formatShape(d!.shape)}`);
  const n = d!.shape[d!.shape.length - 1]!;
  const out = ctx.output(0, d!.dtype, [...d!.shape, n]);
  return perOutput(
    ctx,
    [d!],
    out,
    `let col = i % ${u(n)};
  let rest = i / ${u(n)};
  out0[i] = select(${zero(d!)}, in0[rest], rest % ${u(n)} == col);`,
  );
});

registerGpuKernel('MatrixDiagPart', (ctx, [x]) => {
  const { batch, rows, cols } = matrices(ctx, x!);
  const p = Math.min(rows, cols);
  const out = ctx.output(0, x!.dtype, [...batch, p]);
  return perOutput(ctx, [x!], out, `let k = i % ${u(p)};\n  out0[i] = in0[((i / ${u(p)}) * ${u(rows)} + k) * ${u(cols)} + k];`);
});

registerGpuKernel('MatrixSetDiag', (ctx, [x, d]) => {
  const { batch, rows, cols } = matrices(ctx, x!);
  const p = Math.min(rows, cols);
  if (d!.shape.join(',') !== [...batch, p].join(',')) {
    fail(ctx, `diagonal must have shape ${formatShape([...batch, p])} for input of shape ${formatShape(x!.shape)}, got ${formatShape(d!.shape)}`);
  }
  const out = ctx.output(0, x!.dtype, x!.shape);
  if (p === 0) {
    if (out.size > 0) ctx.copy(x!, out);
    return [out];
  }
  return perOutput(
    ctx,
    [x!, d!],
    out,
    `let col = i % ${u(cols)};
  let row = (i / ${u(cols)}) % ${u(rows)};
  let b = i / ${u(rows * cols)};
  if (row == col) { out0[i] = in1[b * ${u(p)} + row]; } else { out0[i] = in0[i]; }`,
  );
});

registerGpuKernel('Diag', (ctx, [d]) => {
  if (d!.shape.length < 1) fail(ctx, `diagonal must be at least rank 1, got shape ${formatShape(d!.shape)}`);
  const n = d!.size;
  const out = ctx.output(0, d!.dtype, [...d!.shape, ...d!.shape]);
  return perOutput(ctx, [d!], out, `let r = i / ${u(n)};\n  out0[i] = select(${zero(d!)}, in0[r], r == i % ${u(n)});`);
});

registerGpuKernel('DiagPart', (ctx, [x]) => {
  const r = x!.shape.length;
  const half = x!.shape.slice(0, r / 2);
  if (r < 2 || r % 2 !== 0 || half.some((dim, k) => dim !== x!.shape[k + r / 2])) {
    fail(ctx, `input must have shape [D1, ..., Dk, D1, ..., Dk] (an even rank of at least 2), got ${formatShape(x!.shape)}`);
  }
  const out = ctx.output(0, x!.dtype, half);
  return perOutput(ctx, [x!], out, `out0[i] = in0[i * ${u(product(half) + 1)}];`);
});

// ---- diagonal bands (MatrixDiagV2/V3, MatrixDiagPartV2/V3, MatrixSetDiagV2/V3) -----------------
// The band geometry is TF's (see the CPU kernels): diagonal d of an M x N matrix has
// min(M + min(0, d), N + min(0, -d)) elements, stored in row upper - d of max_diag_len, padded
// before its elements unless align puts it on the left.

interface Band {
  lower: number;
  upper: number;
  superLeft: boolean;
  subLeft: boolean;
}

function bandOf(ctx: KernelCtx, i: number): Band {
  const k = ctx.host(i);
  const ks = Array.from(k.data as ArrayLike<number>, Number);
  if (k.rank > 1 || ks.length < 1 || ks.length > 2) fail(ctx, `k must be a scalar or a vector of one or two elements, got shape ${formatShape(k.shape)}`);
  const [lower, upper] = [ks[0]!, ks[ks.length - 1]!];
  if (lower > upper) fail(ctx, `lower_diag_index ${lower} must not be larger than upper_diag_index ${upper}`);
  const align = ctx.node.type.endsWith('V3') ? ((ctx.node.attrs.align as string | undefined) ?? 'RIGHT_LEFT') : 'LEFT_LEFT';
  return { lower, upper, superLeft: align.startsWith('LEFT'), subLeft: align.endsWith('LEFT') };
}

function bandGeometry(ctx: KernelCtx, band: Band, rows: number, cols: number): { maxLen: number; diags: number } {
  if (rows > 0 && cols > 0 && !(band.lower > -rows && band.upper < cols)) {
    fail(ctx, `the band k = [${band.lower}, ${band.upper}] must lie within (-${rows}, ${cols}) for ${rows} x ${cols} matrices`);
  }
  return { maxLen: Math.min(rows + Math.min(band.upper, 0), cols + Math.min(-band.lower, 0)), diags: band.upper - band.lower + 1 };
}

function checkScalar(ctx: KernelCtx, t: GpuTensor, what: string): void {
  if (t.size !== 1) fail(ctx, `${what} must be a scalar, got shape ${formatShape(t.shape)}`);
}

const i32 = (v: number): string => lit(v, 'int32');

/**
 * WGSL: for output element i of [batch, rows, cols] matrices, b, m, c and the diagonal d = c - m;
 * and a function giving the position j of element (m, c) in its diagonal's padded row.
 */
function matrixElement(band: Band, rows: number, cols: number, maxLen: number): string {
  const right = `!((${band.superLeft} && d >= 0) || (${band.subLeft} && d <= 0))`;
  return `let c = i32(i % ${u(cols)});
  let rest = i / ${u(cols)};
  let m = i32(rest % ${u(rows)});
  let b = rest / ${u(rows)};
  let d = c - m;
  let len = min(${i32(rows)} + min(0, d), ${i32(cols)} + min(0, -d));
  let off = select(0, ${i32(maxLen)} - len, ${right});
  let j = select(c, m, d >= 0) + off;
  let inBand = d >= ${i32(band.lower)} && d <= ${i32(band.upper)};
  let src = (b * ${u(band.upper - band.lower + 1)} + u32(${i32(band.upper)} - d)) * ${u(maxLen)} + u32(max(j, 0));`;
}

for (const version of ['V2', 'V3']) {
  registerGpuKernel(
    `MatrixDiagPart${version}`,
    (ctx, [x, , padding]) => {
      const { batch, rows, cols } = matrices(ctx, x!);
      const band = bandOf(ctx, 1);
      const { maxLen, diags } = bandGeometry(ctx, band, rows, cols);
      checkScalar(ctx, padding!, 'padding_value');
      const out = ctx.output(0, x!.dtype, diags > 1 ? [...batch, diags, maxLen] : [...batch, maxLen]);
      const right = `!((${band.superLeft} && d >= 0) || (${band.subLeft} && d <= 0))`;
      return perOutput(
        ctx,
        [x!, padding!],
        out,
        `let n = i32(i % ${u(maxLen)});
  let rest = i / ${u(maxLen)};
  let d = ${i32(band.upper)} - i32(rest % ${u(diags)});
  let b = rest / ${u(diags)};
  let len = min(${i32(rows)} + min(0, d), ${i32(cols)} + min(0, -d));
  let j = n - select(0, ${i32(maxLen)} - len, ${right});
  if (j >= 0 && j < len) {
    out0[i] = in0[(b * ${u(rows)} + u32(j + max(0, -d))) * ${u(cols)} + u32(j + max(0, d))];
  } else {
    out0[i] = in1[0];
  }`,
      );
    },
    { hostInputs: [1] },
  );

  registerGpuKernel(
    `MatrixDiag${version}`,
    (ctx, [diagonal, , , , padding]) => {
      const band = bandOf(ctx, 1);
      const diags = band.upper - band.lower + 1;
      const inner = diags > 1 ? 2 : 1;
      const ds = diagonal!.shape;
      if (ds.length < inner || (diags > 1 && ds[ds.length - 2] !== diags)) {
        fail(ctx, `diagonal must be [..., ${diags > 1 ? `${diags}, ` : ''}max_diag_len] for k = [${band.lower}, ${band.upper}], got shape ${formatShape(ds)}`);
      }
      const maxLen = ds[ds.length - 1]!;
      const minRows = maxLen - Math.min(band.upper, 0);
      const minCols = maxLen + Math.max(band.lower, 0);
      let rows = Number(ctx.host(2).data[0]);
      let cols = Number(ctx.host(3).data[0]);
      if (rows === -1 && cols === -1) rows = cols = Math.max(minRows, minCols);
      else if (rows === -1) rows = minRows;
      else if (cols === -1) cols = minCols;
      if (rows !== minRows && cols !== minCols) {
        fail(ctx, `the number of rows or columns (${rows}, ${cols}) is not consistent with k = [${band.lower}, ${band.upper}] and diagonals of length ${maxLen}`);
      }
      checkScalar(ctx, padding!, 'padding_value');
      const out = ctx.output(0, diagonal!.dtype, [...ds.slice(0, -inner), rows, cols]);
      return perOutput(ctx, [diagonal!, padding!], out, `${matrixElement(band, rows, cols, maxLen)}
  if (inBand) { out0[i] = in0[src]; } else { out0[i] = in1[0]; }`);
    },
    { hostInputs: [1, 2, 3] },
  );

  registerGpuKernel(
    `MatrixSetDiag${version}`,
    (ctx, [x, diagonal]) => {
      const { batch, rows, cols } = matrices(ctx, x!);
      const band = bandOf(ctx, 2);
      const { maxLen, diags } = bandGeometry(ctx, band, rows, cols);
      const want = diags > 1 ? [...batch, diags, maxLen] : [...batch, maxLen];
      if (diagonal!.shape.join(',') !== want.join(',')) {
        fail(ctx, `diagonal must have shape ${formatShape(want)} for input of shape ${formatShape(x!.shape)} and k = [${band.lower}, ${band.upper}], got ${formatShape(diagonal!.shape)}`);
      }
      const out = ctx.output(0, x!.dtype, x!.shape);
      if (maxLen <= 0) {
        if (out.size > 0) ctx.copy(x!, out);
        return [out];
      }
      return perOutput(ctx, [x!, diagonal!], out, `${matrixElement(band, rows, cols, maxLen)}
  if (inBand) { out0[i] = in1[src]; } else { out0[i] = in0[i]; }`);
    },
    { hostInputs: [2] },
  );
}
