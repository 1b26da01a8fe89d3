// WebGPU kernels: linalg family. The matrix diagonal ops are one invocation per output element,
// copying storage elements as they are (any dtype). The factorizations and solves (MatrixInverse,
// MatrixDeterminant, LogMatrixDeterminant, Cholesky, MatrixTriangularSolve, MatrixSolve, Qr,
// SelfAdjointEigV2, Svd) have no GPU kernel: they are sequential algorithms on small matrices and
// run on the host backend.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape } from '../../../src/core/shape.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, perElement, storageType, u } from '../wgsl.js';

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
