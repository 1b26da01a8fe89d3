/**
 * Single-precision general matrix multiply for the CPU backend:
 *
 *   C = alpha * op(A) * op(B) + beta * C,   op(X) = X or X^T,   op(A): M x K, op(B): K x N
 *
 * Row-major storage with leading dimensions (lda, ldb, ldc) and element offsets, as in CBLAS with
 * CblasRowMajor. The structure is the GotoBLAS/BLIS one: the K dimension is cut into KC-deep slices,
 * a KC x NC block of op(B) is packed into NR-wide column panels, an MC x KC block of op(A) into
 * MR-high row panels (with alpha folded in), and a micro-kernel multiplies one A panel by one B panel
 * into an MR x NR block of C held in local variables. Packing makes the micro-kernel's reads
 * sequential and keeps the current panels in cache. The panels live in fixed buffers for the life
 * of the process (the blocking bounds their sizes), so a call allocates nothing.
 *
 * Two micro-kernels share that structure: a WebAssembly SIMD one (4 x 8 floats in eight f32x4
 * locals, about three times the speed of scalar JavaScript), used where the engine supports
 * WebAssembly SIMD, and a plain TypeScript one (32 number locals) used otherwise. The panels live in
 * the WebAssembly memory either way, so both read the same packed data.
 */

const MR = 4;
const NR = 8;
const KC = 512;
const MC = 128;
const NC = 2048;

// Float offsets of the packed A block, the packed B block and the SIMD kernel's C block in `panels`.
const A_AT = 0;
const B_AT = A_AT + MC * KC;
const CB_AT = B_AT + KC * NC;
const PANEL_FLOATS = CB_AT + MC * NC;

type SimdKernel = (kc: number, aByte: number, bByte: number, cByte: number, ldcBytes: number) => void;

const { panels, simdKernel } = createPanels();
const packedA = panels.subarray(A_AT, B_AT);
const packedB = panels.subarray(B_AT, CB_AT);
let simdEnabled = simdKernel !== null;

/** Edge tiles (fewer than MR rows or NR columns left) are computed here, then the valid part is added to C. */
const edgeTile = new Float32Array(MR * NR);

/** Whether the WebAssembly SIMD micro-kernel can run here. */
export function simdAvailable(): boolean {
  return simdKernel !== null;
}

/** Turns the SIMD micro-kernel on or off (tests and benchmarks compare both); returns the previous setting. */
export function setSimdEnabled(on: boolean): boolean {
  const prev = simdEnabled;
  simdEnabled = on && simdKernel !== null;
  return prev;
}

/**
 * C[offC + i*ldc + j] = alpha * sum_k op(A)[i,k] * op(B)[k,j] + beta * C[offC + i*ldc + j]
 * for i < M, j < N. op(A)[i,k] is A[offA + i*lda + k], or A[offA + k*lda + i] when transA;
 * op(B)[k,j] is B[offB + k*ldb + j], or B[offB + j*ldb + k] when transB.
 * beta = 0 overwrites C (NaNs already in C do not leak through), as BLAS does.
 */
export function sgemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
  offA = 0,
  offB = 0,
  offC = 0,
): void {
  if (M <= 0 || N <= 0) return;
  const simd = simdEnabled && M > 1 && N > 1 && K > 0 && alpha !== 0;
  // With beta = 0 the SIMD path copies its first K slice into C instead of zeroing C and adding.
  const overwrite = simd && beta === 0;
  if (beta !== 1 && !overwrite) scaleC(M, N, beta, C, ldc, offC);
  if (K <= 0 || alpha === 0) return;
  if (M === 1 || N === 1) {
    // A matrix-vector product: packing would cost as much as the product and waste most of each tile.
    gemv(transA, transB, M, N, K, alpha, A, lda, B, ldb, C, ldc, offA, offB, offC);
    return;
  }

  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    // K is cut into equal slices of at most KC (800 = 2 x 400 rather than 512 + 288).
    const kSlice = Math.ceil(K / Math.ceil(K / KC));
    for (let pc = 0; pc < K; pc += kSlice) {
      const kc = Math.min(kSlice, K - pc);
      packB(transB, B, offB, ldb, pc, kc, jc, nc, packedB);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        packA(transA, A, offA, lda, ic, mc, pc, kc, alpha, packedA);
        if (simd) macroKernelSimd(mc, nc, kc, C, offC + ic * ldc + jc, ldc, overwrite && pc === 0);
        else macroKernel(mc, nc, kc, packedA, packedB, C, offC + ic * ldc + jc, ldc);
      }
    }
  }
}

/** C += alpha * op(A) * op(B) when M or N is 1, reading each operand once along its rows. */
function gemv(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  C: Float32Array,
  ldc: number,
  offA: number,
  offB: number,
  offC: number,
): void {
  if (M === 1) {
    // c[j] += alpha * sum_k a[k] * op(B)[k, j]; a[k] is A[offA + k] (or A[offA + k*lda] when transposed).
    const aStride = transA ? lda : 1;
    if (!transB) {
      for (let k = 0; k < K; k++) {
        const a = alpha * A[offA + k * aStride]!;
        const row = offB + k * ldb;
        for (let j = 0; j < N; j++) C[offC + j]! += a * B[row + j]!;
      }
    } else {
      for (let j = 0; j < N; j++) {
        const row = offB + j * ldb;
        let s = 0;
        for (let k = 0; k < K; k++) s += A[offA + k * aStride]! * B[row + k]!;
        C[offC + j]! += alpha * s;
      }
    }
    return;
  }
  // N === 1: c[i] += alpha * sum_k op(A)[i, k] * b[k]; b[k] is B[offB + k*ldb] (or B[offB + k] when transposed).
  const bStride = transB ? 1 : ldb;
  if (!transA) {
    for (let i = 0; i < M; i++) {
      const row = offA + i * lda;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[row + k]! * B[offB + k * bStride]!;
      C[offC + i * ldc]! += alpha * s;
    }
  } else {
    for (let k = 0; k < K; k++) {
      const b = alpha * B[offB + k * bStride]!;
      const row = offA + k * lda;
      for (let i = 0; i < M; i++) C[offC + i * ldc]! += b * A[row + i]!;
    }
  }
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

function scaleC(M: number, N: number, beta: number, C: Float32Array, ldc: number, offC: number): void {
  for (let i = 0; i < M; i++) {
    const row = offC + i * ldc;
    if (beta === 0) C.fill(0, row, row + N);
    else for (let j = row; j < row + N; j++) C[j]! *= beta;
  }
}

/** Packs op(B)[pc:pc+kc, jc:jc+nc] as panels of NR columns, each stored k-major; short panels are zero-filled. */
function packB(
  transB: boolean,
  B: Float32Array,
  offB: number,
  ldb: number,
  pc: number,
  kc: number,
  jc: number,
  nc: number,
  out: Float32Array,
): void {
  let dst = 0;
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const nr = Math.min(NR, nc - j0);
    if (!transB) {
      let src = offB + pc * ldb + jc + j0;
      if (nr === NR) {
        for (let k = 0; k < kc; k++) {
          out[dst] = B[src]!;
          out[dst + 1] = B[src + 1]!;
          out[dst + 2] = B[src + 2]!;
          out[dst + 3] = B[src + 3]!;
          out[dst + 4] = B[src + 4]!;
          out[dst + 5] = B[src + 5]!;
          out[dst + 6] = B[src + 6]!;
          out[dst + 7] = B[src + 7]!;
          dst += NR;
          src += ldb;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          let jj = 0;
          for (; jj < nr; jj++) out[dst + jj] = B[src + jj]!;
          for (; jj < NR; jj++) out[dst + jj] = 0;
          dst += NR;
          src += ldb;
        }
      }
    } else {
      for (let jj = 0; jj < NR; jj++) {
        let d = dst + jj;
        if (jj < nr) {
          let src = offB + (jc + j0 + jj) * ldb + pc;
          for (let k = 0; k < kc; k++, d += NR) out[d] = B[src++]!;
        } else {
          for (let k = 0; k < kc; k++, d += NR) out[d] = 0;
        }
      }
      dst += kc * NR;
    }
  }
}

/** Packs alpha * op(A)[ic:ic+mc, pc:pc+kc] as panels of MR rows, each stored k-major; short panels are zero-filled. */
function packA(
  transA: boolean,
  A: Float32Array,
  offA: number,
  lda: number,
  ic: number,
  mc: number,
  pc: number,
  kc: number,
  alpha: number,
  out: Float32Array,
): void {
  let dst = 0;
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const mr = Math.min(MR, mc - i0);
    if (transA) {
      let src = offA + pc * lda + ic + i0;
      if (mr === MR) {
        for (let k = 0; k < kc; k++) {
          out[dst] = alpha * A[src]!;
          out[dst + 1] = alpha * A[src + 1]!;
          out[dst + 2] = alpha * A[src + 2]!;
          out[dst + 3] = alpha * A[src + 3]!;
          dst += MR;
          src += lda;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          let ii = 0;
          for (; ii < mr; ii++) out[dst + ii] = alpha * A[src + ii]!;
          for (; ii < MR; ii++) out[dst + ii] = 0;
          dst += MR;
          src += lda;
        }
      }
    } else {
      for (let ii = 0; ii < MR; ii++) {
        let d = dst + ii;
        if (ii < mr) {
          let src = offA + (ic + i0 + ii) * lda + pc;
          for (let k = 0; k < kc; k++, d += MR) out[d] = alpha * A[src++]!;
        } else {
          for (let k = 0; k < kc; k++, d += MR) out[d] = 0;
        }
      }
      dst += kc * MR;
    }
  }
}

/** C[mc x nc block at offC] += packed A block * packed B block. */
function macroKernel(
  mc: number,
  nc: number,
  kc: number,
  pA: Float32Array,
  pB: Float32Array,
  C: Float32Array,
  offC: number,
  ldc: number,
): void {
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const nr = Math.min(NR, nc - j0);
    const pb = j0 * kc;
    for (let i0 = 0; i0 < mc; i0 += MR) {
      const mr = Math.min(MR, mc - i0);
      const pa = i0 * kc;
      const c = offC + i0 * ldc + j0;
      if (mr === MR && nr === NR) {
        microKernel(kc, pA, pa, pB, pb, C, c, ldc);
      } else {
        edgeTile.fill(0);
        microKernel(kc, pA, pa, pB, pb, edgeTile, 0, NR);
        for (let i = 0; i < mr; i++) {
          for (let j = 0; j < nr; j++) C[c + i * ldc + j]! += edgeTile[i * NR + j]!;
        }
      }
    }
  }
}

/** C[4 x 8 at c] += (4 x kc panel at pa) * (kc x 8 panel at pb); the 32 sums stay in locals. */
function microKernel(kc: number, A: Float32Array, pa: number, B: Float32Array, pb: number, C: Float32Array, c: number, ldc: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
  for (let k = 0; k < kc; k++) {
    const b0 = B[pb]!, b1 = B[pb + 1]!, b2 = B[pb + 2]!, b3 = B[pb + 3]!;
    const b4 = B[pb + 4]!, b5 = B[pb + 5]!, b6 = B[pb + 6]!, b7 = B[pb + 7]!;
    let a = A[pa]!;
    c00 += a * b0; c01 += a * b1; c02 += a * b2; c03 += a * b3; c04 += a * b4; c05 += a * b5; c06 += a * b6; c07 += a * b7;
    a = A[pa + 1]!;
    c10 += a * b0; c11 += a * b1; c12 += a * b2; c13 += a * b3; c14 += a * b4; c15 += a * b5; c16 += a * b6; c17 += a * b7;
    a = A[pa + 2]!;
    c20 += a * b0; c21 += a * b1; c22 += a * b2; c23 += a * b3; c24 += a * b4; c25 += a * b5; c26 += a * b6; c27 += a * b7;
    a = A[pa + 3]!;
    c30 += a * b0; c31 += a * b1; c32 += a * b2; c33 += a * b3; c34 += a * b4; c35 += a * b5; c36 += a * b6; c37 += a * b7;
    pa += MR;
    pb += NR;
  }
  let p = c;
  C[p]! += c00; C[p + 1]! += c01; C[p + 2]! += c02; C[p + 3]! += c03; C[p + 4]! += c04; C[p + 5]! += c05; C[p + 6]! += c06; C[p + 7]! += c07;
  p += ldc;
  C[p]! += c10; C[p + 1]! += c11; C[p + 2]! += c12; C[p + 3]! += c13; C[p + 4]! += c14; C[p + 5]! += c15; C[p + 6]! += c16; C[p + 7]! += c17;
  p += ldc;
  C[p]! += c20; C[p + 1]! += c21; C[p + 2]! += c22; C[p + 3]! += c23; C[p + 4]! += c24; C[p + 5]! += c25; C[p + 6]! += c26; C[p + 7]! += c27;
  p += ldc;
  C[p]! += c30; C[p + 1]! += c31; C[p + 2]! += c32; C[p + 3]! += c33; C[p + 4]! += c34; C[p + 5]! += c35; C[p + 6]! += c36; C[p + 7]! += c37;
}

// ---- WebAssembly SIMD micro-kernel ----

/**
 * The packed-panel macro-kernel on the SIMD micro-kernel: each MR x NR tile of the packed product
 * is written to the C block in WebAssembly memory (row stride ncr), which is then added to C (or
 * copied over it, for the first K slice when beta = 0).
 */
function macroKernelSimd(mc: number, nc: number, kc: number, C: Float32Array, offC: number, ldc: number, overwrite: boolean): void {
  const kernel = simdKernel!;
  const ncr = roundUp(nc, NR);
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const bByte = (B_AT + j0 * kc) * 4;
    for (let i0 = 0; i0 < mc; i0 += MR) {
      kernel(kc, (A_AT + i0 * kc) * 4, bByte, (CB_AT + i0 * ncr + j0) * 4, ncr * 4);
    }
  }
  for (let i = 0; i < mc; i++) {
    const row = offC + i * ldc;
    const src = CB_AT + i * ncr;
    if (overwrite) C.set(panels.subarray(src, src + nc), row);
    else for (let j = 0; j < nc; j++) C[row + j]! += panels[src + j]!;
  }
}

/** The panel buffers, in WebAssembly memory with the SIMD kernel when it compiles, else plain. */
function createPanels(): { panels: Float32Array; simdKernel: SimdKernel | null } {
  try {
    const pages = Math.ceil((PANEL_FLOATS * 4) / 65536);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const module = new WebAssembly.Module(simdKernelModule(pages));
    const instance = new WebAssembly.Instance(module, { env: { mem: memory } });
    return { panels: new Float32Array(memory.buffer, 0, PANEL_FLOATS), simdKernel: instance.exports.k as SimdKernel };
  } catch {
    return { panels: new Float32Array(PANEL_FLOATS), simdKernel: null };
  }
}

/**
 * The binary of a WebAssembly module importing memory env.mem (`pages` pages) and exporting
 * k(kc, a, b, c, ldc): for kc >= 1 and byte addresses a (MR x kc panel, k-major), b (kc x NR panel,
 * k-major), c (MR rows of NR floats, ldc bytes apart), c = a-panel * b-panel. Assembled here from
 * opcodes so no binary blob or build step is needed.
 */
function simdKernelModule(pages: number): Uint8Array<ArrayBuffer> {
  const uleb = (n: number): number[] => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return out;
  };
  const sleb = (n: number): number[] => {
    const out: number[] = [];
    for (;;) {
      const b = n & 0x7f;
      n >>= 7;
      if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
      out.push(b | 0x80);
    }
  };
  const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
  const name = (str: string): number[] => vec([...str].map((ch) => [ch.charCodeAt(0)]));
  const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
  const simd = (op: number, ...memarg: number[]): number[] => [0xfd, ...uleb(op), ...memarg];
  const get = (i: number): number[] => [0x20, i];
  const set = (i: number): number[] => [0x21, i];
  const i32 = 0x7f;
  const v128 = 0x7b;
  const [LOAD, LOAD32_SPLAT, STORE, F32X4_ADD, F32X4_MUL] = [0x00, 0x09, 0x0b, 0xe4, 0xe6];
  const [I32_CONST, I32_ADD, I32_SUB] = [0x41, 0x6a, 0x6b];
  // Params 0..4: kc, a, b, c, ldc. Locals: acc[r][h] = 5 + 2r + h (v128), b0 = 13, b1 = 14, av = 15.
  const [KC_, A_, B_, C_, LDC_] = [0, 1, 2, 3, 4];
  const acc = (r: number, h: number): number => 5 + 2 * r + h;
  const [B0, B1, AV] = [13, 14, 15];
  const code: number[] = [0x03, 0x40]; // loop
  code.push(...get(B_), ...simd(LOAD, 4, 0), ...set(B0));
  code.push(...get(B_), ...simd(LOAD, 4, 16), ...set(B1));
  for (let r = 0; r < MR; r++) {
    code.push(...get(A_), ...simd(LOAD32_SPLAT, 2, 4 * r), ...set(AV));
    for (let h = 0; h < 2; h++) {
      code.push(...get(acc(r, h)), ...get(AV), ...get(h === 0 ? B0 : B1), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(acc(r, h)));
    }
  }
  code.push(...get(A_), I32_CONST, ...sleb(4 * MR), I32_ADD, ...set(A_));
  code.push(...get(B_), I32_CONST, ...sleb(4 * NR), I32_ADD, ...set(B_));
  code.push(...get(KC_), I32_CONST, ...sleb(1), I32_SUB, 0x22, KC_, 0x0d, 0); // kc = kc - 1; br_if loop (kc != 0)
  code.push(0x0b); // end loop
  for (let r = 0; r < MR; r++) {
    for (let h = 0; h < 2; h++) code.push(...get(C_), ...get(acc(r, h)), ...simd(STORE, 4, 16 * h));
    code.push(...get(C_), ...get(LDC_), I32_ADD, ...set(C_));
  }
  code.push(0x0b); // end function
  const body = [...vec([[...uleb(2 * MR + 3), v128]]), ...code];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[i32], [i32], [i32], [i32], [i32]]), 0x00]])),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x01, ...uleb(pages), ...uleb(pages)]])),
    ...section(3, vec([[0x00]])),
    ...section(7, vec([[...name('k'), 0x00, 0x00]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}
