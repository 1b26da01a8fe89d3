// WebGPU kernels: matmul family. MatMul, BatchMatMulV2 and _FusedMatMul are one tiled kernel: a
// workgroup of 16x16 threads computes a 64x64 tile of C, each thread 4x4 outputs, stepping through K
// 16 at a time with A and B tiles staged in shared memory (vec4 loads where rows are aligned).
// Transposes are folded into the tile loads; batch broadcasting into per-batch base offsets; the
// fused bias and activation into the store.
import type { DType } from '../../../src/core/dtypes.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape, stridesOf } from '../../../src/core/shape.js';
import { broadcastOrThrow, broadcastStrides } from '../../shape_helpers.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { u, type Program } from '../wgsl.js';
import { fusedEpilogue, type Epilogue } from '../../activations.js';
import { activationFn } from './math.js';

const TM = 64;
const TN = 64;
const TK = 16;

interface MatmulShape {
  M: number;
  N: number;
  K: number;
  ta: boolean;
  tb: boolean;
  dtype: DType;
  /** Batch dims of the output, and A's and B's batch strides in matrices (0 where broadcast). */
  batch: number[];
  aStr: number[];
  bStr: number[];
  epilogue?: Epilogue;
}

/** Expression for the offset (in matrices) of batch `b` with per-dim strides `st`. */
function batchOffset(batch: readonly number[], st: readonly number[], b: string): string {
  const os = stridesOf(batch);
  const terms: string[] = [];
  for (let d = 0; d < batch.length; d++) {
    if (st[d] === 0 || batch[d] === 1) continue;
    const coord = d === 0 ? `(${b} / ${u(os[d]!)})` : `((${b} / ${u(os[d]!)}) % ${u(batch[d]!)})`;
    terms.push(`${coord} * ${u(st[d]!)}`);
  }
  return terms.length ? terms.join(' + ') : '0u';
}

export function matmulProgram(s: MatmulShape, label: string): Program {
  const { M, N, K, ta, tb, dtype, batch } = s;
  const T = dtype === 'int32' ? 'i32' : 'f32';
  const V = `vec4<${T}>`;
  const nb = batch.reduce((p, d) => p * d, 1);
  // vec4 loads where the tile rows read from memory are 4-aligned.
  const aVec = ta ? M % 4 === 0 : K % 4 === 0;
  const bVec = tb ? K % 4 === 0 : N % 4 === 0;
  const cVec = N % 4 === 0;
  const mChk = M % TM !== 0;
  const nChk = N % TN !== 0;
  const kChk = K % TK !== 0;
  const cond = (parts: (string | false)[]): string => {
    const c = parts.filter(Boolean);
    return c.length ? c.join(' && ') : 'true';
  };
  const zero = `${V}(${T}(0))`;

  // A tile: As[k * 16 + mi] holds rows m0 + 4 mi .. +3 at column k0 + k.
  let loadA: string;
  if (!ta) {
    // A is [M, K]: thread loads row m = li / 4, columns 4 (li % 4) .. +3.
    const read = aVec
      ? `let v = ${V}(aV[(aBase + gm * ${u(K)} + gk) / 4u]);`
      : `let v = ${V}(${[0, 1, 2, 3].map((c) => `select(${T}(0), inA[aBase + gm * ${u(K)} + min(gk + ${c}u, ${u(Math.max(K - 1, 0))})], ${kChk ? `gk + ${c}u < ${u(K)}` : 'true'})`).join(', ')});`;
    loadA = `{
      let mm = li / 4u; let kq = (li % 4u) * 4u;
      let gm = m0 + mm; let gk = k0 + kq;
      var w = ${zero};
      if (${cond([mChk && `gm < ${u(M)}`, kChk && (aVec ? `gk < ${u(K)}` : `gk < ${u(K)}`)])}) { ${read} w = v; }
      As[(kq + 0u) * 16u + mm / 4u][mm % 4u] = w.x;
      As[(kq + 1u) * 16u + mm / 4u][mm % 4u] = w.y;
      As[(kq + 2u) * 16u + mm / 4u][mm % 4u] = w.z;
      As[(kq + 3u) * 16u + mm / 4u][mm % 4u] = w.w;
    }`;
  } else {
    // A is [K, M]: thread loads row k = li / 16, columns 4 (li % 16) .. +3.
    const read = aVec
      ? `let v = ${V}(aV[(aBase + gk * ${u(M)} + gm) / 4u]);`
      : `let v = ${V}(${[0, 1, 2, 3].map((c) => `select(${T}(0), inA[aBase + gk * ${u(M)} + min(gm + ${c}u, ${u(Math.max(M - 1, 0))})], ${mChk ? `gm + ${c}u < ${u(M)}` : 'true'})`).join(', ')});`;
    loadA = `{
      let kk = li / 16u; let mq = li % 16u;
      let gk = k0 + kk; let gm = m0 + mq * 4u;
      var w = ${zero};
      if (${cond([kChk && `gk < ${u(K)}`, mChk && `gm < ${u(M)}`])}) { ${read} w = v; }
      As[kk * 16u + mq] = w;
    }`;
  }
  // B tile: Bs[k * 16 + ni] holds columns n0 + 4 ni .. +3 at row k0 + k.
  let loadB: string;
  if (!tb) {
    // B is [K, N]: thread loads row k = li / 16, columns 4 (li % 16) .. +3.
    const read = bVec
      ? `let v = ${V}(bV[(bBase + gk * ${u(N)} + gn) / 4u]);`
      : `let v = ${V}(${[0, 1, 2, 3].map((c) => `select(${T}(0), inB[bBase + gk * ${u(N)} + min(gn + ${c}u, ${u(Math.max(N - 1, 0))})], ${nChk ? `gn + ${c}u < ${u(N)}` : 'true'})`).join(', ')});`;
    loadB = `{
      let kk = li / 16u; let nq = li % 16u;
      let gk = k0 + kk; let gn = n0 + nq * 4u;
      var w = ${zero};
      if (${cond([kChk && `gk < ${u(K)}`, nChk && `gn < ${u(N)}`])}) { ${read} w = v; }
      Bs[kk * 16u + nq] = w;
    }`;
  } else {
    // B is [N, K]: thread loads row n = li / 4, columns 4 (li % 4) .. +3.
    const read = bVec
      ? `let v = ${V}(bV[(bBase + gn * ${u(K)} + gk) / 4u]);`
      : `let v = ${V}(${[0, 1, 2, 3].map((c) => `select(${T}(0), inB[bBase + gn * ${u(K)} + min(gk + ${c}u, ${u(Math.max(K - 1, 0))})], ${kChk ? `gk + ${c}u < ${u(K)}` : 'true'})`).join(', ')});`;
    loadB = `{
      let nn = li / 4u; let kq = (li % 4u) * 4u;
      let gn = n0 + nn; let gk = k0 + kq;
      var w = ${zero};
      if (${cond([nChk && `gn < ${u(N)}`, kChk && `gk < ${u(K)}`])}) { ${read} w = v; }
      Bs[(kq + 0u) * 16u + nn / 4u][nn % 4u] = w.x;
      Bs[(kq + 1u) * 16u + nn / 4u][nn % 4u] = w.y;
      Bs[(kq + 2u) * 16u + nn / 4u][nn % 4u] = w.z;
      Bs[(kq + 3u) * 16u + nn / 4u][nn % 4u] = w.w;
    }`;
  }

  const epi = s.epilogue;
  const fin = (v: string, n: string) => (epi ? `act(${v} + bias[${n}])` : v);
  let storeRow: string;
  if (cVec) {
    const val = epi ? `vec4<f32>(${[0, 1, 2, 3].map((c) => fin(`ACC.${'xyzw'[c]}`, `gn + ${c}u`)).join(', ')})` : 'ACC';
    storeRow = `if (${cond([nChk && `gn < ${u(N)}`])}) { cV[(cBase + gm * ${u(N)} + gn) / 4u] = ${val}; }`;
  } else {
    storeRow = [0, 1, 2, 3]
      .map((c) => `if (${cond([nChk && `gn + ${c}u < ${u(N)}`])}) { outC[cBase + gm * ${u(N)} + gn + ${c}u] = ${fin(`ACC.${'xyzw'[c]}`, `gn + ${c}u`)}; }`)
      .join('\n        ');
  }

  const decls = [
    `@group(0) @binding(0) var<storage, read> ${aVec ? 'aV' : 'inA'}: array<${aVec ? V : T}>;`,
    `@group(0) @binding(1) var<storage, read> ${bVec ? 'bV' : 'inB'}: array<${bVec ? V : T}>;`,
    ...(epi ? ['@group(0) @binding(2) var<storage, read> bias: array<f32>;'] : []),
    `@group(0) @binding(${epi ? 3 : 2}) var<storage, read_write> ${cVec ? 'cV' : 'outC'}: array<${cVec ? V : T}>;`,
  ].join('\n');

  const code = `${decls}
${epi ? activationFn(epi.act, epi.alpha) : ''}
var<workgroup> As: array<${V}, ${TK * 16}>;
var<workgroup> Bs: array<${V}, ${TK * 16}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let b = wid.z;
  let aBase = (${batchOffset(batch, s.aStr, 'b')}) * ${u(M * K)};
  let bBase = (${batchOffset(batch, s.bStr, 'b')}) * ${u(K * N)};
  let cBase = b * ${u(M * N)};
  let m0 = wid.y * ${u(TM)};
  let n0 = wid.x * ${u(TN)};
  var acc0 = ${zero};
  var acc1 = ${zero};
  var acc2 = ${zero};
  var acc3 = ${zero};
  for (var k0 = 0u; k0 < ${u(K)}; k0 += ${u(TK)}) {
    ${loadA}
    ${loadB}
    workgroupBarrier();
    for (var k = 0u; k < ${u(TK)}; k++) {
      let a = As[k * 16u + lid.y];
      let bv = Bs[k * 16u + lid.x];
      acc0 += a.x * bv;
      acc1 += a.y * bv;
      acc2 += a.z * bv;
      acc3 += a.w * bv;
    }
    workgroupBarrier();
  }
  let gn = n0 + lid.x * 4u;
  ${[0, 1, 2, 3]
    .map(
      (i) => `{
    let gm = m0 + lid.y * 4u + ${i}u;
    if (${cond([mChk && `gm < ${u(M)}`])}) {
      ${storeRow.replaceAll('ACC', `acc${i}`)}
    }
  }`,
    )
    .join('\n  ')}
}`;
  void nb;
  return { code, workgroups: [Math.ceil(N / TN), Math.ceil(M / TM), nb], label };
}

/** Records C = op(A) op(B) over broadcast batch dims, checking shapes as the CPU kernel does. */
function batchMatmul(ctx: KernelCtx, a: GpuTensor, b: GpuTensor, ta: boolean, tb: boolean, what: string, bias?: GpuTensor, epilogue?: Epilogue): GpuTensor {
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new InvalidArgumentError(`${what}: inputs must be at least rank 2, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  if (a.dtype !== b.dtype) throw new InvalidArgumentError(`${what}: dtypes ${a.dtype} and ${b.dtype} differ`);
  if (a.dtype !== 'float32' && a.dtype !== 'int32') throw new InvalidArgumentError(`${what} does not support ${a.dtype}`);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const M = ta ? ac : ar;
  const K = ta ? ar : ac;
  const K2 = tb ? bc : br;
  const N = tb ? br : bc;
  if (K !== K2) {
    throw new InvalidArgumentError(
      `${what}: In[0] and In[1] have incompatible inner dimensions: ${formatShape(a.shape)}${ta ? ' (transposed)' : ''} vs. ${formatShape(b.shape)}${tb ? ' (transposed)' : ''}`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcastOrThrow(aBatch, bBatch);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== N)) {
    throw new InvalidArgumentError(`Must provide as many biases as the channel dimension of the input tensor: ${formatShape(bias.shape)} vs. ${formatShape([...batch, M, N])}`);
  }
  const out = ctx.output(0, a.dtype, [...batch, M, N]);
  if (out.size === 0) return out;
  const p = matmulProgram(
    { M, N, K, ta, tb, dtype: a.dtype, batch, aStr: broadcastStrides(aBatch, batch), bStr: broadcastStrides(bBatch, batch), epilogue },
    `${ctx.node.type} ${ctx.node.name}`,
  );
  ctx.dispatch(p, bias ? [a, b, bias] : [a, b], [out]);
  return out;
}

registerGpuKernel('MatMul', (ctx, [a, b]) => {
  if (a!.shape.length !== 2 || b!.shape.length !== 2) {
    throw new InvalidArgumentError(`In[0] and In[1] must be matrices, got ${formatShape(a!.shape)} and ${formatShape(b!.shape)}`);
  }
  return [batchMatmul(ctx, a!, b!, !!ctx.node.attrs.transpose_a, !!ctx.node.attrs.transpose_b, 'MatMul')];
});

registerGpuKernel('BatchMatMulV2', (ctx, [a, b]) => [batchMatmul(ctx, a!, b!, !!ctx.node.attrs.adj_x, !!ctx.node.attrs.adj_y, 'BatchMatMulV2')]);

registerGpuKernel('_FusedMatMul', (ctx, [a, b, bias]) => {
  if (a!.shape.length !== 2 || b!.shape.length !== 2) {
    throw new InvalidArgumentError(`In[0] and In[1] must be matrices, got ${formatShape(a!.shape)} and ${formatShape(b!.shape)}`);
  }
  if (a!.dtype !== 'float32') throw new InvalidArgumentError(`_FusedMatMul does not support ${a!.dtype}`);
  const epi = fusedEpilogue(ctx.node.attrs);
  return [batchMatmul(ctx, a!, b!, !!ctx.node.attrs.transpose_a, !!ctx.node.attrs.transpose_b, 'MatMul', bias!, epi)];
});
