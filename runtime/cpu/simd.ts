/**
 * WebAssembly SIMD loops for the CPU kernels, assembled with wasm.ts: float32 elementwise binary
 * ops (same shape, scalar, repeated row or repeated column), row reductions, and pooling with its
 * gradients.
 *
 * Kernel inputs live in arbitrary ArrayBuffers, so the loops run on staging buffers in the
 * module's own memory: operands are copied in a chunk at a time (sized to stay in cache) and the
 * results copied back. Elementwise results are bit-identical to the TypeScript loops (f32x4
 * add/sub/mul/div/min/max round exactly as float64 arithmetic rounded to float32 does, and
 * min/max propagate NaN and order -0 < +0 like Math.min/Math.max).
 *
 * WEIR_CPU_FAST=0 (read once, at load) disables all of it.
 */

import {
  F32,
  F32_CONST,
  F32_MAX,
  F32_MIN,
  F32X4_ADD,
  F32X4_DIV,
  F32X4_EXTRACT_LANE,
  F32X4_MAX,
  F32X4_MIN,
  F32X4_MUL,
  F32X4_PMAX,
  F32X4_SPLAT,
  F32X4_SUB,
  f32x4Const,
  F64,
  F64_ADD,
  F64X2_ADD,
  F64X2_EXTRACT_LANE,
  F64X2_PROMOTE_LOW_F32X4,
  get,
  I32,
  I32_ADD,
  I32_CONST,
  I32_LT_U,
  I32_SUB,
  I8X16_SHUFFLE,
  I32X4_ADD,
  I32X4_LT_S,
  I32X4_SHR_U,
  I32X4_SPLAT,
  F32X4_GT,
  F32X4_DEMOTE_F64X2_ZERO,
  F64X2_MUL,
  F64X2_SPLAT,
  V128_BITSELECT,
  i32x4Lanes,
  set,
  simd,
  sleb,
  tee,
  V128,
  V128_LOAD,
  V128_LOAD32_SPLAT,
  V128_STORE,
  wasmModule,
  type WasmFunction,
} from './wasm.js';
import { config } from '../../src/core/config.js';
import type { Geom } from '../window_geometry.js';

// ---- The elementwise / reduction module ----

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';
const BINARY_OPCODES: Record<BinaryOp, number> = { add: F32X4_ADD, sub: F32X4_SUB, mul: F32X4_MUL, div: F32X4_DIV, max: F32X4_MAX, min: F32X4_MIN };
/** How each operand is read: a vector of n floats, or one float splatted to every lane. */
type Mode = 'vv' | 'vs' | 'sv';
const MODES: readonly Mode[] = ['vv', 'vs', 'sv'];

type BinaryFn = (a: number, b: number, o: number, bytes: number) => void;
type ReduceFn = (a: number, bytes: number) => number;
type ColumnFn = (a: number, s: number, o: number, rows: number, rowBytes: number) => void;

/**
 * `<op>_<mode>(a, b, o, bytes)`: o[i] = a[i] op b[i] over `bytes` (a positive multiple of 16) at
 * byte addresses a, b, o (any alignment); a splatted operand is the float at its address.
 */
function binaryFunction(op: BinaryOp, mode: Mode): WasmFunction {
  const [A, B, O, N] = [0, 1, 2, 3];
  const load = (p: number, splat: boolean): number[] => [...get(p), ...(splat ? simd(V128_LOAD32_SPLAT, 2, 0) : simd(V128_LOAD, 0, 0))];
  const bump = (p: number): number[] => [...get(p), I32_CONST, 16, I32_ADD, ...set(p)];
  const code: number[] = [0x03, 0x40]; // loop
  code.push(...get(O), ...load(A, mode === 'sv'), ...load(B, mode === 'vs'), ...simd(BINARY_OPCODES[op]), ...simd(V128_STORE, 0, 0));
  if (mode !== 'sv') code.push(...bump(A));
  if (mode !== 'vs') code.push(...bump(B));
  code.push(...bump(O));
  code.push(...get(N), I32_CONST, 16, I32_SUB, ...tee(N), 0x0d, 0, 0x0b); // n -= 16; br_if loop; end
  return { exportName: `${op}_${mode}`, params: [I32, I32, I32, I32], results: [], locals: [], code };
}

/** `sum(a, bytes)`: the float64 sum of the floats at a (bytes a positive multiple of 16), in two f64x2 accumulators. */
function sumFunction(): WasmFunction {
  const [A, N, V, LO, HI] = [0, 1, 2, 3, 4];
  const highToLow = simd(I8X16_SHUFFLE, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
  const code: number[] = [0x03, 0x40];
  code.push(...get(A), ...simd(V128_LOAD, 0, 0), ...set(V));
  code.push(...get(LO), ...get(V), ...simd(F64X2_PROMOTE_LOW_F32X4), ...simd(F64X2_ADD), ...set(LO));
  code.push(...get(HI), ...get(V), ...get(V), ...highToLow, ...simd(F64X2_PROMOTE_LOW_F32X4), ...simd(F64X2_ADD), ...set(HI));
  code.push(...get(A), I32_CONST, 16, I32_ADD, ...set(A));
  code.push(...get(N), I32_CONST, 16, I32_SUB, ...tee(N), 0x0d, 0, 0x0b);
  code.push(...get(LO), ...get(HI), ...simd(F64X2_ADD), ...tee(LO), ...simd(F64X2_EXTRACT_LANE, 0), ...get(LO), ...simd(F64X2_EXTRACT_LANE, 1), F64_ADD);
  return { exportName: 'sum', params: [I32, I32], results: [F64], locals: [V128, V128, V128], code };
}

/**
 * `colsum(x, acc, rows, rowBytes, vecBytes)`: for each of `rows` rows (rowBytes apart from x), the
 * float64 sums at acc (two per 16 bytes of row) += the row's floats, over vecBytes (rowBytes
 * rounded up to 16: the lanes past the row read the next one and land in acc's padding).
 */
function columnSumFunction(): WasmFunction {
  const [X, ACC, R, RB, VB] = [0, 1, 2, 3, 4];
  const [Q, V, P] = [5, 6, 7];
  const high = simd(I8X16_SHUFFLE, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
  const code: number[] = [0x03, 0x40]; // loop over rows
  code.push(I32_CONST, 0, ...set(Q));
  code.push(0x03, 0x40); // loop over the row's vectors
  code.push(...get(X), ...get(Q), I32_ADD, ...simd(V128_LOAD, 0, 0), ...set(V));
  // acc + 2q: the two float64 pairs of this vector's four columns.
  code.push(...get(ACC), ...get(Q), ...get(Q), I32_ADD, I32_ADD, ...set(P));
  code.push(...get(P), ...get(P), ...simd(V128_LOAD, 0, 0), ...get(V), ...simd(F64X2_PROMOTE_LOW_F32X4), ...simd(F64X2_ADD), ...simd(V128_STORE, 0, 0));
  code.push(...get(P), ...get(P), ...simd(V128_LOAD, 0, 16), ...get(V), ...get(V), ...high, ...simd(F64X2_PROMOTE_LOW_F32X4), ...simd(F64X2_ADD), ...simd(V128_STORE, 0, 16));
  code.push(...get(Q), I32_CONST, 16, I32_ADD, ...tee(Q), ...get(VB), I32_LT_U, 0x0d, 0, 0x0b);
  code.push(...get(X), ...get(RB), I32_ADD, ...set(X));
  code.push(...get(R), I32_CONST, 1, I32_SUB, ...tee(R), 0x0d, 0, 0x0b);
  return { exportName: 'colsum', params: [I32, I32, I32, I32, I32], results: [], locals: [I32, V128, I32], code };
}

/**
 * `dconv(x, f, y, taps, T, oh, ow, rowBytes, pixBytes, blocks, tapBytes)`: a direct convolution of
 * one padded image. For each of oh x ow output pixels (windows pixBytes apart along a row, rowBytes
 * between rows, from x) and each block of 16 output channels, y (16 floats per block, pixels and
 * blocks in order) = the sum over the T taps of x[window + taps[t]] * f[t] (f: T rows of
 * tapBytes, the block's 16 floats at 64 * block), multiplied and added in float32 tap after tap.
 */
function directConvFunction(): WasmFunction {
  const [X, F, Y, TAPS, T, OH, OW, ROW, PIX, NB, FSTRIDE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [H, W, XR, XP, YP, B, TI, FP, TP, FT] = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const ACC = [21, 22, 23, 24];
  const XV = 25;
  const countdown = (i: number): number[] => [...get(i), I32_CONST, 1, I32_SUB, ...tee(i), 0x0d, 0, 0x0b];
  const code: number[] = [...get(X), ...set(XR), ...get(Y), ...set(YP), ...get(OH), ...set(H)];
  code.push(0x03, 0x40); // loop over output rows
  code.push(...get(XR), ...set(XP), ...get(OW), ...set(W));
  code.push(0x03, 0x40); // loop over the row's pixels
  code.push(...get(F), ...set(FP), ...get(NB), ...set(B));
  code.push(0x03, 0x40); // loop over blocks of 16 channels
  for (const a of ACC) code.push(...f32x4Const(0), ...set(a));
  code.push(...get(TAPS), ...set(TP), ...get(FP), ...set(FT), ...get(T), ...set(TI));
  code.push(0x03, 0x40); // loop over taps
  code.push(...get(XP), ...get(TP), 0x28, 2, 0, I32_ADD, ...simd(V128_LOAD32_SPLAT, 2, 0), ...set(XV)); // 0x28: i32.load
  ACC.forEach((a, i) => code.push(...get(a), ...get(XV), ...get(FT), ...simd(V128_LOAD, 0, 16 * i), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(a)));
  code.push(...get(TP), I32_CONST, 4, I32_ADD, ...set(TP), ...get(FT), ...get(FSTRIDE), I32_ADD, ...set(FT));
  code.push(...countdown(TI));
  ACC.forEach((a, i) => code.push(...get(YP), ...get(a), ...simd(V128_STORE, 0, 16 * i)));
  code.push(...get(YP), I32_CONST, ...sleb(64), I32_ADD, ...set(YP), ...get(FP), I32_CONST, ...sleb(64), I32_ADD, ...set(FP));
  code.push(...countdown(B));
  code.push(...get(XP), ...get(PIX), I32_ADD, ...set(XP));
  code.push(...countdown(W));
  code.push(...get(XR), ...get(ROW), I32_ADD, ...set(XR));
  code.push(...countdown(H));
  return {
    exportName: 'dconv',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128],
    code,
  };
}

/**
 * `dconvdf(x, dy, df, taps, T, oh, ow, rowBytes, pixBytes, blocks, tapBytes)`: the filter gradient
 * of `dconv` for one padded image: for each tap t and block of 16 output channels, df (T rows of
 * tapBytes, the block at 64 * block) += the sum over the oh x ow output pixels, in order, of
 * x[window + taps[t]] * dy[pixel] (dy: 16 floats per block, pixels and blocks in order).
 */
function directConvFilterGradFunction(): WasmFunction {
  const [X, DY, DF, TAPS, T, OH, OW, ROW, PIX, NB, STRIDE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [TP, FP, TI, OFF, B, DB, XR, XP, DYP, RH, PW] = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  const ACC = [22, 23, 24, 25];
  const XV = 26;
  const countdown = (i: number): number[] => [...get(i), I32_CONST, 1, I32_SUB, ...tee(i), 0x0d, 0, 0x0b];
  const code: number[] = [...get(TAPS), ...set(TP), ...get(DF), ...set(FP), ...get(T), ...set(TI)];
  code.push(0x03, 0x40); // loop over taps
  code.push(...get(TP), 0x28, 2, 0, ...set(OFF), ...get(NB), ...set(B), I32_CONST, 0, ...set(DB)); // 0x28: i32.load
  code.push(0x03, 0x40); // loop over blocks of 16 channels
  ACC.forEach((a, i) => code.push(...get(FP), ...get(DB), I32_ADD, ...simd(V128_LOAD, 0, 16 * i), ...set(a)));
  code.push(...get(X), ...get(OFF), I32_ADD, ...set(XR), ...get(DY), ...get(DB), I32_ADD, ...set(DYP), ...get(OH), ...set(RH));
  code.push(0x03, 0x40); // loop over output rows
  code.push(...get(XR), ...set(XP), ...get(OW), ...set(PW));
  code.push(0x03, 0x40); // loop over the row's pixels
  code.push(...get(XP), ...simd(V128_LOAD32_SPLAT, 2, 0), ...set(XV));
  ACC.forEach((a, i) => code.push(...get(a), ...get(XV), ...get(DYP), ...simd(V128_LOAD, 0, 16 * i), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(a)));
  code.push(...get(XP), ...get(PIX), I32_ADD, ...set(XP), ...get(DYP), ...get(STRIDE), I32_ADD, ...set(DYP));
  code.push(...countdown(PW));
  code.push(...get(XR), ...get(ROW), I32_ADD, ...set(XR));
  code.push(...countdown(RH));
  ACC.forEach((a, i) => code.push(...get(FP), ...get(DB), I32_ADD, ...get(a), ...simd(V128_STORE, 0, 16 * i)));
  code.push(...get(DB), I32_CONST, ...sleb(64), I32_ADD, ...set(DB));
  code.push(...countdown(B));
  code.push(...get(TP), I32_CONST, 4, I32_ADD, ...set(TP), ...get(FP), ...get(STRIDE), I32_ADD, ...set(FP));
  code.push(...countdown(TI));
  return {
    exportName: 'dconvdf',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128],
    code,
  };
}

/**
 * `max(a, bytes)` / `min(a, bytes)`: the extreme float at a (bytes a positive multiple of 64); NaN
 * if any is NaN. Four independent accumulators, since f32x4.max/min have a long latency.
 */
function extremeFunction(op: 'max' | 'min'): WasmFunction {
  const [A, N] = [0, 1];
  const acc = (k: number): number => 2 + k;
  const [vop, sop] = op === 'max' ? [F32X4_MAX, F32_MAX] : [F32X4_MIN, F32_MIN];
  const code: number[] = [];
  for (let k = 0; k < 4; k++) code.push(...get(A), ...simd(V128_LOAD, 0, 16 * k), ...set(acc(k)));
  code.push(0x03, 0x40);
  for (let k = 0; k < 4; k++) code.push(...get(acc(k)), ...get(A), ...simd(V128_LOAD, 0, 16 * k), ...simd(vop), ...set(acc(k)));
  code.push(...get(A), I32_CONST, ...sleb(64), I32_ADD, ...set(A));
  code.push(...get(N), I32_CONST, ...sleb(64), I32_SUB, ...tee(N), 0x0d, 0, 0x0b);
  code.push(...get(acc(0)), ...get(acc(1)), ...simd(vop), ...get(acc(2)), ...get(acc(3)), ...simd(vop), ...simd(vop), ...set(acc(0)));
  for (let lane = 0; lane < 4; lane++) {
    code.push(...get(acc(0)), ...simd(F32X4_EXTRACT_LANE, lane));
    if (lane > 0) code.push(sop);
  }
  return { exportName: op, params: [I32, I32], results: [F32], locals: [V128, V128, V128, V128], code };
}

/**
 * `maxpool` / `avgpool(x, y, cBytes, rowBytes, tapBytes, kh, kw, scale)`: for each group of four
 * channels below cBytes (a positive multiple of 16), y = the max (or the sum times `scale`) of the
 * kh x kw window taps starting at x, taps tapBytes apart along a row and rows rowBytes apart.
 * kh, kw >= 1. The max is TypeScript's `if (v > best) best = v` from -Infinity (f32x4.pmax), so NaN
 * inputs are skipped exactly as there.
 */
function poolFunction(kind: 'max' | 'avg'): WasmFunction {
  const [X, Y, CB, ROW, TAP, KH, KW, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [C, PROW, P, H, W, ACC] = [8, 9, 10, 11, 12, 13];
  const countdown = (i: number): number[] => [...get(i), I32_CONST, 1, I32_SUB, ...tee(i), 0x0d, 0, 0x0b];
  const init = kind === 'max' ? [F32_CONST, 0x00, 0x00, 0x80, 0xff] : [F32_CONST, 0, 0, 0, 0];
  const code: number[] = [0x03, 0x40]; // loop over channel groups
  code.push(...init, ...simd(F32X4_SPLAT), ...set(ACC));
  code.push(...get(X), ...get(C), I32_ADD, ...set(PROW), ...get(KH), ...set(H));
  code.push(0x03, 0x40); // loop over window rows
  code.push(...get(PROW), ...set(P), ...get(KW), ...set(W));
  code.push(0x03, 0x40); // loop over taps in a row
  code.push(...get(ACC), ...get(P), ...simd(V128_LOAD, 0, 0), ...simd(kind === 'max' ? F32X4_PMAX : F32X4_ADD), ...set(ACC));
  code.push(...get(P), ...get(TAP), I32_ADD, ...set(P));
  code.push(...countdown(W));
  code.push(...get(PROW), ...get(ROW), I32_ADD, ...set(PROW));
  code.push(...countdown(H));
  code.push(...get(Y), ...get(C), I32_ADD, ...get(ACC));
  if (kind === 'avg') code.push(...get(SCALE), ...simd(F32X4_SPLAT), ...simd(F32X4_MUL));
  code.push(...simd(V128_STORE, 0, 0));
  code.push(...get(C), I32_CONST, 16, I32_ADD, ...tee(C), ...get(CB), I32_LT_U, 0x0d, 0, 0x0b);
  return { exportName: `${kind}pool`, params: [I32, I32, I32, I32, I32, I32, I32, F32], results: [], locals: [I32, I32, I32, I32, I32, V128], code };
}

/**
 * `<op>_col(a, s, o, rows, rowBytes)` / `<op>_colfirst(...)`: for each of `rows` rows of rowBytes
 * bytes (a positive multiple of 4) at a and o, o[j] = a[j] op s[r] (or s[r] op a[j]), s[r] the
 * row's float at s + 4r. A row's rounded-up tail spills into the next row, which then overwrites it.
 */
function columnFunction(op: BinaryOp, colFirst: boolean): WasmFunction {
  const [A, S, O, R, RB] = [0, 1, 2, 3, 4];
  const [Q, SV] = [5, 6];
  const code: number[] = [0x03, 0x40]; // loop over rows
  code.push(...get(S), ...simd(V128_LOAD32_SPLAT, 2, 0), ...set(SV), I32_CONST, 0, ...set(Q));
  code.push(0x03, 0x40); // loop over the row's vectors
  code.push(...get(O), ...get(Q), I32_ADD);
  const a = [...get(A), ...get(Q), I32_ADD, ...simd(V128_LOAD, 0, 0)];
  code.push(...(colFirst ? [...get(SV), ...a] : [...a, ...get(SV)]), ...simd(BINARY_OPCODES[op]), ...simd(V128_STORE, 0, 0));
  code.push(...get(Q), I32_CONST, 16, I32_ADD, ...tee(Q), ...get(RB), I32_LT_U, 0x0d, 0, 0x0b);
  code.push(...get(A), ...get(RB), I32_ADD, ...set(A), ...get(O), ...get(RB), I32_ADD, ...set(O));
  code.push(...get(S), I32_CONST, 4, I32_ADD, ...set(S));
  code.push(...get(R), I32_CONST, 1, I32_SUB, ...tee(R), 0x0d, 0, 0x0b);
  return { exportName: `${op}_${colFirst ? 'colfirst' : 'col'}`, params: [I32, I32, I32, I32, I32], results: [], locals: [I32, V128], code };
}

/**
 * `argmaxpool(x, y, cBytes, rowBytes, tapBytes, kh, kw)`: for each group of four channels below
 * cBytes (a positive multiple of 16), the int32 at y = the float index (byte address / 4) of the
 * window's maximum among the kh x kw taps from x (taps tapBytes apart along a row, rows rowBytes
 * apart): the first in row-major order on ties, found with TypeScript's `if (v > best)` from the
 * first tap, so NaNs are passed over unless the first tap is one.
 */
function argmaxPoolFunction(): WasmFunction {
  const [X, Y, CB, ROW, TAP, KH, KW] = [0, 1, 2, 3, 4, 5, 6];
  const [C, PROW, P, H, W, A, BEST, BI, V, M] = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
  const countdown = (i: number): number[] => [...get(i), I32_CONST, 1, I32_SUB, ...tee(i), 0x0d, 0, 0x0b];
  const code: number[] = [0x03, 0x40]; // loop over channel groups
  code.push(...get(X), ...get(C), I32_ADD, ...tee(A), ...simd(V128_LOAD, 0, 0), ...set(BEST), ...get(A), ...simd(I32X4_SPLAT), ...set(BI));
  code.push(...get(A), ...set(PROW), ...get(KH), ...set(H));
  code.push(0x03, 0x40); // loop over window rows
  code.push(...get(PROW), ...set(P), ...get(KW), ...set(W));
  code.push(0x03, 0x40); // loop over taps in a row
  code.push(...get(P), ...tee(A), ...simd(V128_LOAD, 0, 0), ...tee(V), ...get(BEST), ...simd(F32X4_GT), ...set(M));
  code.push(...get(V), ...get(BEST), ...get(M), ...simd(V128_BITSELECT), ...set(BEST));
  code.push(...get(A), ...simd(I32X4_SPLAT), ...get(BI), ...get(M), ...simd(V128_BITSELECT), ...set(BI));
  code.push(...get(P), ...get(TAP), I32_ADD, ...set(P));
  code.push(...countdown(W));
  code.push(...get(PROW), ...get(ROW), I32_ADD, ...set(PROW));
  code.push(...countdown(H));
  // Lane l's index: (its group's byte address >> 2) + l.
  code.push(...get(Y), ...get(C), I32_ADD, ...get(BI), I32_CONST, 2, ...simd(I32X4_SHR_U), ...i32x4Lanes(0, 1, 2, 3), ...simd(I32X4_ADD), ...simd(V128_STORE, 0, 0));
  code.push(...get(C), I32_CONST, 16, I32_ADD, ...tee(C), ...get(CB), I32_LT_U, 0x0d, 0, 0x0b);
  return { exportName: 'argmaxpool', params: [I32, I32, I32, I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, V128], code };
}

/**
 * `avgpoolgrad(dy, x, cBytes, rowBytes, tapBytes, kh, kw, inv, channels)`: for each group of four
 * channels below cBytes, every tap of the kh x kw window from x gets dy * inv added, in float64
 * rounded to float32 as TypeScript's `dx += dy * inv` does; lanes at or past `channels` keep their
 * value (they belong to the next tap).
 */
function avgPoolGradFunction(): WasmFunction {
  const [DY, X, CB, ROW, TAP, KH, KW, INV, NC] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [C, PROW, P, H, W, G, GLO, GHI, MASK, D] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const countdown = (i: number): number[] => [...get(i), I32_CONST, 1, I32_SUB, ...tee(i), 0x0d, 0, 0x0b];
  const high = simd(I8X16_SHUFFLE, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
  const join = simd(I8X16_SHUFFLE, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const code: number[] = [0x03, 0x40]; // loop over channel groups
  code.push(...get(DY), ...get(C), I32_ADD, ...simd(V128_LOAD, 0, 0), ...set(G));
  code.push(...get(G), ...simd(F64X2_PROMOTE_LOW_F32X4), ...get(INV), ...simd(F64X2_SPLAT), ...simd(F64X2_MUL), ...set(GLO));
  code.push(...get(G), ...get(G), ...high, ...simd(F64X2_PROMOTE_LOW_F32X4), ...get(INV), ...simd(F64X2_SPLAT), ...simd(F64X2_MUL), ...set(GHI));
  code.push(...get(C), I32_CONST, 2, 0x76, ...simd(I32X4_SPLAT), ...i32x4Lanes(0, 1, 2, 3), ...simd(I32X4_ADD), ...get(NC), ...simd(I32X4_SPLAT), ...simd(I32X4_LT_S), ...set(MASK)); // 0x76: i32.shr_u
  code.push(...get(X), ...get(C), I32_ADD, ...set(PROW), ...get(KH), ...set(H));
  code.push(0x03, 0x40); // loop over window rows
  code.push(...get(PROW), ...set(P), ...get(KW), ...set(W));
  code.push(0x03, 0x40); // loop over taps in a row
  code.push(...get(P), ...get(P), ...simd(V128_LOAD, 0, 0), ...tee(D), ...simd(F64X2_PROMOTE_LOW_F32X4), ...get(GLO), ...simd(F64X2_ADD), ...simd(F32X4_DEMOTE_F64X2_ZERO));
  code.push(...get(D), ...get(D), ...high, ...simd(F64X2_PROMOTE_LOW_F32X4), ...get(GHI), ...simd(F64X2_ADD), ...simd(F32X4_DEMOTE_F64X2_ZERO), ...join);
  code.push(...get(D), ...get(MASK), ...simd(V128_BITSELECT), ...simd(V128_STORE, 0, 0));
  code.push(...get(P), ...get(TAP), I32_ADD, ...set(P));
  code.push(...countdown(W));
  code.push(...get(PROW), ...get(ROW), I32_ADD, ...set(PROW));
  code.push(...countdown(H));
  code.push(...get(C), I32_CONST, 16, I32_ADD, ...tee(C), ...get(CB), I32_LT_U, 0x0d, 0, 0x0b);
  return {
    exportName: 'avgpoolgrad',
    params: [I32, I32, I32, I32, I32, I32, I32, F64, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, V128, V128, V128, V128, V128],
    code,
  };
}

/** Floats per staging buffer: three of them (two operands, one result) stay within L2. */
const CHUNK = 16384;
/** Below this many output elements the copies cost more than the SIMD loop saves. */
export const SIMD_MIN_ELEMENTS = 4096;
const PAGE = 65536;

interface Engine {
  memory: WebAssembly.Memory;
  binary: Record<`${BinaryOp}_${Mode}`, BinaryFn>;
  column: Record<`${BinaryOp}_${'col' | 'colfirst'}`, ColumnFn>;
  argmaxpool: (x: number, y: number, cBytes: number, rowBytes: number, tapBytes: number, kh: number, kw: number) => void;
  avgpoolgrad: (dy: number, x: number, cBytes: number, rowBytes: number, tapBytes: number, kh: number, kw: number, inv: number, channels: number) => void;
  sum: ReduceFn;
  colsum: (x: number, acc: number, rows: number, rowBytes: number, vecBytes: number) => void;
  dconv: (x: number, f: number, y: number, taps: number, T: number, oh: number, ow: number, rowBytes: number, pixBytes: number, blocks: number, tapBytes: number) => void;
  dconvdf: (x: number, dy: number, df: number, taps: number, T: number, oh: number, ow: number, rowBytes: number, pixBytes: number, blocks: number, tapBytes: number) => void;
  max: ReduceFn;
  min: ReduceFn;
  maxpool: PoolFn;
  avgpool: PoolFn;
}

type PoolFn = (x: number, y: number, cBytes: number, rowBytes: number, tapBytes: number, kh: number, kw: number, scale: number) => void;

const FAST = config.cpuFast();

function createEngine(): Engine | null {
  // Three chunks plus 16 bytes of slack after each, so rounded-up loops stay in bounds.
  const pages = Math.ceil((3 * (CHUNK + 4) * 4) / PAGE);
  try {
    const memory = new WebAssembly.Memory({ initial: pages });
    const fns: WasmFunction[] = [];
    for (const op of Object.keys(BINARY_OPCODES) as BinaryOp[]) {
      for (const mode of MODES) fns.push(binaryFunction(op, mode));
      fns.push(columnFunction(op, false), columnFunction(op, true));
    }
    fns.push(sumFunction(), columnSumFunction(), directConvFunction(), directConvFilterGradFunction(), extremeFunction('max'), extremeFunction('min'), poolFunction('max'), poolFunction('avg'), argmaxPoolFunction(), avgPoolGradFunction());
    const wasm = wasmModule({ pages, shared: false }, fns);
    const exports = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { mem: memory } }).exports as unknown as Engine['binary'] &
      Engine['column'] &
      Omit<Engine, 'memory' | 'binary' | 'column'>;
    const { sum, colsum, dconv, dconvdf, max, min, maxpool, avgpool, argmaxpool, avgpoolgrad } = exports;
    return { memory, binary: exports, column: exports, sum, colsum, dconv, dconvdf, max, min, maxpool, avgpool, argmaxpool, avgpoolgrad };
  } catch {
    return null;
  }
}

const engine = FAST ? createEngine() : null;
let enabled = engine !== null;
let heap = engine !== null ? new Float32Array(engine.memory.buffer) : new Float32Array(0);
let heapI32 = new Int32Array(heap.buffer);
const A_AT = 0;
const B_AT = CHUNK + 4;
const O_AT = 2 * (CHUNK + 4);

/** Whether the SIMD elementwise/reduction loops can run here. */
export function elementwiseSimdAvailable(): boolean {
  return engine !== null;
}

/** Turns the SIMD elementwise/reduction loops on or off (tests compare both); returns the previous setting. */
export function setElementwiseSimdEnabled(on: boolean): boolean {
  const previous = enabled;
  enabled = on && engine !== null;
  return previous;
}

/** Whether the SIMD loops should handle a float32 problem with `n` output elements. */
export function useSimd(n: number): boolean {
  return enabled && n >= SIMD_MIN_ELEMENTS;
}

const round16 = (floats: number): number => ((floats + 3) >> 2) << 4;

/** out = a op b, all n floats long; a or b of length 1 is broadcast. */
export function binarySimd(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const e = engine!;
  const n = out.length;
  const mode: Mode = a.length === 1 ? 'sv' : b.length === 1 ? 'vs' : 'vv';
  const f = e.binary[`${op}_${mode}`];
  if (mode === 'sv') heap[A_AT] = a[0]!;
  if (mode === 'vs') heap[B_AT] = b[0]!;
  for (let start = 0; start < n; start += CHUNK) {
    const len = Math.min(CHUNK, n - start);
    if (mode !== 'sv') heap.set(a.subarray(start, start + len), A_AT);
    if (mode !== 'vs') heap.set(b.subarray(start, start + len), B_AT);
    f(A_AT * 4, B_AT * 4, O_AT * 4, round16(len));
    out.set(heap.subarray(O_AT, O_AT + len), start);
  }
}

/**
 * out = full op row (or row op full when `rowFirst`), where `row` (cols floats) repeats along
 * every row of `full` (out.length floats).
 */
export function rowBroadcastSimd(op: BinaryOp, full: Float32Array, row: Float32Array, rowFirst: boolean, out: Float32Array): boolean {
  const cols = row.length;
  if (cols + 4 > CHUNK) return false;
  const e = engine!;
  const f = e.binary[`${op}_vv`];
  const n = out.length;
  const [fullAt, rowAt] = rowFirst ? [B_AT, A_AT] : [A_AT, B_AT];
  heap.set(row, rowAt);
  const rowsPerChunk = Math.floor(CHUNK / cols);
  const bytes = round16(cols);
  for (let start = 0; start < n; start += rowsPerChunk * cols) {
    const len = Math.min(rowsPerChunk * cols, n - start);
    heap.set(full.subarray(start, start + len), fullAt);
    // A row's rounded-up tail spills into the next row's output slot, which that row then overwrites.
    for (let r = 0; r < len; r += cols) {
      const at = (fullAt + r) * 4;
      if (rowFirst) f(rowAt * 4, at, (O_AT + r) * 4, bytes);
      else f(at, rowAt * 4, (O_AT + r) * 4, bytes);
    }
    out.set(heap.subarray(O_AT, O_AT + len), start);
  }
  return true;
}

/**
 * Whether `small` (aligned to the right of `full`) is a column of `full`: equal to it on leading
 * dims and 1 on the trailing dims, at least one of which is not 1 in `full`.
 */
export function isLeadingColumn(small: readonly number[], full: readonly number[]): boolean {
  const off = full.length - small.length;
  if (off < 0) return false;
  let d = full.length;
  while (d > 0 && (d <= off || small[d - 1 - off] === 1)) d--;
  if (d === 0 || d === full.length || full.slice(d).every((x) => x === 1)) return false;
  for (let k = 0; k < d; k++) if ((k < off ? 1 : small[k - off]) !== full[k]) return false;
  return true;
}

/**
 * out = full op col (or col op full when `colFirst`), where col holds one float per row of `full`
 * (out.length / col.length floats per row), repeated along the row. False (nothing done) when a
 * row does not fit in a staging buffer.
 */
export function columnBroadcastSimd(op: BinaryOp, full: Float32Array, col: Float32Array, colFirst: boolean, out: Float32Array): boolean {
  const rows = col.length;
  const cols = out.length / rows;
  if (cols + 4 > CHUNK) return false;
  const f = engine!.column[`${op}_${colFirst ? 'colfirst' : 'col'}`];
  const rowsPerChunk = Math.floor(CHUNK / cols);
  for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
    const rh = Math.min(rowsPerChunk, rows - r0);
    heap.set(full.subarray(r0 * cols, (r0 + rh) * cols), A_AT);
    heap.set(col.subarray(r0, r0 + rh), B_AT);
    f(A_AT * 4, B_AT * 4, O_AT * 4, rh, cols * 4);
    out.set(heap.subarray(O_AT, O_AT + rh * cols), r0 * cols);
  }
  return true;
}

export type RowReduction = 'sum' | 'max' | 'min';

/**
 * out[i] = the sum (in float64), max or min of x[i*r .. i*r + r) for i < outer, r >= 1.
 * NaN propagates through max/min; a max/min of equal-valued +0 and -0 may return either.
 */
export function reduceRowsSimd(kind: RowReduction, x: Float32Array, xOff: number, outer: number, r: number, out: Float64Array): void {
  const e = engine!;
  const f = kind === 'sum' ? e.sum : kind === 'max' ? e.max : e.min;
  const vecLen = kind === 'sum' ? r & ~3 : r & ~15;
  const rowsPerChunk = Math.max(1, Math.floor((3 * CHUNK) / r));
  for (let first = 0; first < outer; first += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, outer - first);
    const src = xOff + first * r;
    if (rows * r > 3 * CHUNK) growHeap(rows * r);
    heap.set(x.subarray(src, src + rows * r), 0);
    for (let i = 0; i < rows; i++) {
      const at = i * r;
      let acc = vecLen > 0 ? f(at * 4, vecLen * 4) : kind === 'sum' ? 0 : heap[at]!;
      for (let j = vecLen; j < r; j++) {
        const v = heap[at + j]!;
        if (kind === 'sum') acc += v;
        else if (v !== v || (kind === 'max' ? v > acc : v < acc)) acc = v;
      }
      out[first + i] = acc;
    }
  }
}

/**
 * out[j] = the float64 sum of x[i*cols + j] over rows i < rows, added row after row: the same
 * sums, bit for bit, as a TypeScript loop adding each row to float64 accumulators.
 */
export function sumColumnsSimd(x: Float32Array, rows: number, cols: number, out: Float64Array): void {
  const e = engine!;
  const accFloats = 2 * (((cols + 3) >> 2) << 2);
  // Accumulators (float64, 8-aligned) first, then the rows of a chunk with 16 bytes of slack.
  const xAt = accFloats + 4;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK / cols));
  growHeap(xAt + Math.min(rows, rowsPerChunk) * cols + 4);
  const acc = new Float64Array(heap.buffer, 0, accFloats / 2);
  acc.fill(0);
  for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
    const rh = Math.min(rowsPerChunk, rows - r0);
    heap.set(x.subarray(r0 * cols, (r0 + rh) * cols), xAt);
    e.colsum(xAt * 4, 0, rh, cols * 4, round16(cols));
  }
  out.set(acc.subarray(0, cols));
}

/**
 * Where a direct convolution stages its operands in the module's memory (float indices): the tap
 * offsets (bytes, from a window's first tap in the padded image), the filter (or its gradient) with
 * rows of OCp floats, one zero-padded image, and one image's outputs (or output gradients) with
 * OCp floats per pixel. OCp is OC rounded up to 16; the padding columns stay zero.
 */
function stageDirectConv(g: Geom, OC: number) {
  const { KH, KW, C, OH, OW, sH, sW, dH, dW } = g;
  const Hp = (OH - 1) * sH + (KH - 1) * dH + 1;
  const Wp = (OW - 1) * sW + (KW - 1) * dW + 1;
  const T = KH * KW * C;
  const OCp = ((OC + 15) >> 4) << 4;
  const fAt = ((T + 3) >> 2) << 2;
  const xAt = fAt + T * OCp;
  const yAt = xAt + (((Hp * Wp * C + 7) >> 2) << 2);
  growHeap(yAt + OH * OW * OCp);
  let t = 0;
  for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) for (let c = 0; c < C; c++) heapI32[t++] = ((kh * dH * Wp + kw * dW) * C + c) * 4;
  heap.fill(0, fAt, xAt);
  return { Hp, Wp, T, OCp, fAt, xAt, yAt };
}

/** Copies image n of NHWC x, zero-padded, to `xAt` (up to `yAt`). */
function stageImage(g: Geom, x: Float32Array, n: number, Hp: number, Wp: number, xAt: number, yAt: number): void {
  const { H, W, C, padT, padL } = g;
  heap.fill(0, xAt, yAt);
  // Padded row r, column s hold input row r - padT, column s - padL.
  const s0 = Math.max(0, padL);
  const s1 = Math.min(Wp, W + padL);
  for (let r = Math.max(0, padT); r < Math.min(Hp, H + padT) && s0 < s1; r++) {
    const src = ((n * H + r - padT) * W + (s0 - padL)) * C;
    heap.set(x.subarray(src, src + (s1 - s0) * C), xAt + (r * Wp + s0) * C);
  }
}

/**
 * y (NHWC, [N, OH, OW, OC]) = the convolution of NHWC x with filter f ([KH, KW, C, OC]) computed
 * directly, one image at a time: the image is copied zero-padded into the module's memory, and
 * each output pixel's channels, 16 at a time, are summed over the KH * KW * C taps in order, in
 * float32. For few input channels, where im2col's patch rows are short and the GEMM's inner
 * dimension small.
 */
export function directConvSimd(g: Geom, OC: number, x: Float32Array, f: Float32Array, y: Float32Array): void {
  const e = engine!;
  const { Hp, Wp, T, OCp, fAt, xAt, yAt } = stageDirectConv(g, OC);
  for (let k = 0; k < T; k++) heap.set(f.subarray(k * OC, (k + 1) * OC), fAt + k * OCp);
  const pixels = g.OH * g.OW;
  for (let n = 0; n < g.N; n++) {
    stageImage(g, x, n, Hp, Wp, xAt, yAt);
    e.dconv(xAt * 4, fAt * 4, yAt * 4, 0, T, g.OH, g.OW, g.sH * Wp * g.C * 4, g.sW * g.C * 4, OCp >> 4, OCp * 4);
    const out = n * pixels * OC;
    if (OCp === OC) y.set(heap.subarray(yAt, yAt + pixels * OC), out);
    else for (let p = 0; p < pixels; p++) y.set(heap.subarray(yAt + p * OCp, yAt + p * OCp + OC), out + p * OC);
  }
}

/**
 * df ([KH, KW, C, OC]) = the filter gradient of `directConvSimd` for output gradient dy, directly:
 * each filter value sums x * dy over the images and their output pixels in order, in float32.
 */
export function directConvFilterGradSimd(g: Geom, OC: number, x: Float32Array, dy: Float32Array, df: Float32Array): void {
  const e = engine!;
  const { Hp, Wp, T, OCp, fAt, xAt, yAt } = stageDirectConv(g, OC);
  const pixels = g.OH * g.OW;
  if (OCp !== OC) heap.fill(0, yAt, yAt + pixels * OCp);
  for (let n = 0; n < g.N; n++) {
    stageImage(g, x, n, Hp, Wp, xAt, yAt);
    const src = n * pixels * OC;
    if (OCp === OC) heap.set(dy.subarray(src, src + pixels * OC), yAt);
    else for (let p = 0; p < pixels; p++) heap.set(dy.subarray(src + p * OC, src + (p + 1) * OC), yAt + p * OCp);
    e.dconvdf(xAt * 4, yAt * 4, fAt * 4, 0, T, g.OH, g.OW, g.sH * Wp * g.C * 4, g.sW * g.C * 4, OCp >> 4, OCp * 4);
  }
  for (let k = 0; k < T; k++) df.set(heap.subarray(fAt + k * OCp, fAt + k * OCp + OC), k * OC);
}

/** Makes the memory hold at least `floats` floats (a single row longer than the staging area). */
function growHeap(floats: number): void {
  const e = engine!;
  const need = Math.ceil(((floats + 4) * 4) / PAGE) - e.memory.buffer.byteLength / PAGE;
  if (need > 0) {
    e.memory.grow(need);
    heap = new Float32Array(e.memory.buffer);
    heapI32 = new Int32Array(e.memory.buffer);
  }
}

/** Pooling geometry in NHWC: input [N, H, W, C], output [N, OH, OW, C]. */
export interface PoolGeometry {
  N: number;
  H: number;
  W: number;
  C: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  sH: number;
  sW: number;
  padT: number;
  padL: number;
}

/**
 * Max or average pooling of NHWC x into y over the channels, four at a time, one image at a time
 * through the staging memory. The average counts only the window taps inside the input, like
 * TensorFlow; it sums the taps before scaling, so it may differ from the TypeScript loop in the
 * last bits. A window with no tap inside the input gives -Infinity (max) or 0 (average).
 */
export function poolSimd(kind: 'max' | 'avg', g: PoolGeometry, x: Float32Array, y: Float32Array): void {
  const e = engine!;
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, padT, padL } = g;
  const f = kind === 'max' ? e.maxpool : e.avgpool;
  const inFloats = H * W * C;
  const outFloats = OH * OW * C;
  const yAt = inFloats + 4;
  growHeap(yAt + outFloats + 4);
  const cBytes = round16(C);
  const empty = kind === 'max' ? -Infinity : 0;
  for (let n = 0; n < N; n++) {
    heap.set(x.subarray(n * inFloats, (n + 1) * inFloats), 0);
    // Outputs go in order: a pixel's rounded-up channel tail spills into the next pixel's slot,
    // which that pixel then overwrites.
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * sH - padT;
      const h0 = Math.max(hs, 0);
      const h1 = Math.min(hs + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * sW - padL;
        const w0 = Math.max(ws, 0);
        const w1 = Math.min(ws + KW, W);
        const yi = yAt + (oh * OW + ow) * C;
        if (h0 >= h1 || w0 >= w1) heap.fill(empty, yi, yi + C);
        else f((h0 * W + w0) * C * 4, yi * 4, cBytes, W * C * 4, C * 4, h1 - h0, w1 - w0, 1 / ((h1 - h0) * (w1 - w0)));
      }
    }
    y.set(heap.subarray(yAt, yAt + outFloats), n * outFloats);
  }
}

/**
 * arg[o] = the NHWC index into x of output element o's window maximum (the first in row-major
 * window order on ties; NaNs passed over unless first), or -1 for a window with no tap inside the
 * input: the same indices as the TypeScript loop. Four channels at a time, one image at a time
 * through the staging memory.
 */
export function maxPoolArgmaxSimd(g: PoolGeometry, x: Float32Array, arg: Int32Array): void {
  const e = engine!;
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, padT, padL } = g;
  const inFloats = H * W * C;
  const outFloats = OH * OW * C;
  const yAt = inFloats + 4;
  growHeap(yAt + outFloats + 4);
  const cBytes = round16(C);
  for (let n = 0; n < N; n++) {
    heap.set(x.subarray(n * inFloats, (n + 1) * inFloats), 0);
    // Pixels go in order: a pixel's rounded-up channel tail spills into the next pixel's slots,
    // which that pixel then overwrites.
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * sH - padT;
      const h0 = Math.max(hs, 0);
      const h1 = Math.min(hs + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * sW - padL;
        const w0 = Math.max(ws, 0);
        const w1 = Math.min(ws + KW, W);
        const yi = yAt + (oh * OW + ow) * C;
        if (h0 >= h1 || w0 >= w1) heapI32.fill(-1, yi, yi + C);
        else e.argmaxpool((h0 * W + w0) * C * 4, yi * 4, cBytes, W * C * 4, C * 4, h1 - h0, w1 - w0);
      }
    }
    const base = n * inFloats;
    const o0 = n * outFloats;
    for (let i = 0; i < outFloats; i++) {
      const a = heapI32[yAt + i]!;
      arg[o0 + i] = a < 0 ? -1 : a + base;
    }
  }
}

/**
 * The gradient of average pooling: dx (NHWC, zero on entry) gets, for every output element in
 * order, dy / (the number of its window's taps inside the input) added at each of those taps,
 * rounded as TypeScript's `dx += dy * inv` rounds it, so the result is bit for bit the
 * TypeScript loop's. Four channels at a time, one image at a time through the staging memory.
 */
export function avgPoolGradSimd(g: PoolGeometry, dy: Float32Array, dx: Float32Array): void {
  const e = engine!;
  const { N, H, W, C, KH, KW, OH, OW, sH, sW, padT, padL } = g;
  const inFloats = H * W * C;
  const outFloats = OH * OW * C;
  const yAt = inFloats + 4;
  growHeap(yAt + outFloats + 4);
  const cBytes = round16(C);
  for (let n = 0; n < N; n++) {
    heap.fill(0, 0, yAt);
    heap.set(dy.subarray(n * outFloats, (n + 1) * outFloats), yAt);
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * sH - padT;
      const h0 = Math.max(hs, 0);
      const h1 = Math.min(hs + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * sW - padL;
        const w0 = Math.max(ws, 0);
        const w1 = Math.min(ws + KW, W);
        if (h0 >= h1 || w0 >= w1) continue;
        const yi = yAt + (oh * OW + ow) * C;
        e.avgpoolgrad(yi * 4, (h0 * W + w0) * C * 4, cBytes, W * C * 4, C * 4, h1 - h0, w1 - w0, 1 / ((h1 - h0) * (w1 - w0)), C);
      }
    }
    dx.set(heap.subarray(0, inFloats), n * inFloats);
  }
}
