// CPU kernels of the random ops: TensorFlow's Philox4x32-10 generator and its distributions
// (uniform floats from 23 mantissa bits, Box-Muller normals, truncated normals by rejection).
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import { numbersOf } from '../../../ops/semantics/array.js';
import type { KernelNode, RuntimeState } from '../../backend.js';
import { registerCpuKernel } from '../registry.js';
import { philoxFillSimd, PHILOX_M0 as M0, PHILOX_M1 as M1, PHILOX_W0 as W0, PHILOX_W1 as W1 } from '../philox.js';


/** High 32 bits of the 64-bit product of two uint32s. */
function mulhi(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = ((aL * bL) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** One Philox4x32-10 block: 4 random uint32s for (counter, key), written to out. */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>, out: Uint32Array): void {
  let c0 = counter[0]! >>> 0;
  let c1 = counter[1]! >>> 0;
  let c2 = counter[2]! >>> 0;
  let c3 = counter[3]! >>> 0;
  let k0 = key[0]! >>> 0;
  let k1 = key[1]! >>> 0;
  for (let r = 0; r < 10; r++) {
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi0 = mulhi(M0, c0);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const hi1 = mulhi(M1, c2);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Adds count (< 2^53) to a 128-bit counter held as 4 little-endian uint32 words. */
function skipCounter(c: Uint32Array, count: number): void {
  const lo = count % 0x100000000;
  let hi = Math.floor(count / 0x100000000);
  const c0 = c[0]! + lo;
  c[0] = c0;
  if (c0 > 0xffffffff) hi++;
  const c1 = c[1]! + hi;
  c[1] = c1;
  if (c1 > 0xffffffff) {
    c[2] = c[2]! + 1;
    if (c[2] === 0) c[3] = c[3]! + 1;
  }
}

/** A Philox stream as TF's PhiloxRandom: a 64-bit key and a 128-bit counter (4 uint32 words). */
export class PhiloxStream {
  readonly key = new Uint32Array(2);
  readonly counter = new Uint32Array(4);
  private readonly block = new Uint32Array(4);

  /** TF's PhiloxRandom(seed_lo = seed, seed_hi = seed2). */
  static fromSeeds(seed: number | bigint, seed2: number | bigint): PhiloxStream {
    const s = new PhiloxStream();
    const a = BigInt.asUintN(64, BigInt(seed));
    const b = BigInt.asUintN(64, BigInt(seed2));
    s.key[0] = Number(a & 0xffffffffn);
    s.key[1] = Number(a >> 32n);
    s.counter[2] = Number(b & 0xffffffffn);
    s.counter[3] = Number(b >> 32n);
    return s;
  }

  clone(): PhiloxStream {
    const s = new PhiloxStream();
    s.key.set(this.key);
    s.counter.set(this.counter);
    return s;
  }

  /** Advances the 128-bit counter by count blocks (TF's Skip). */
  skip(count: number): void {
    skipCounter(this.counter, count);
  }

  /** The next block of 4 uint32s (valid until the next call). */
  next(): Uint32Array {
    philox4x32(this.counter, this.key, this.block);
    this.skip(1);
    return this.block;
  }
}

/** TF's Uint32ToFloat: a float in [0, 1) from the low 23 bits. */
const toUnit = (x: number): number => (x & 0x7fffff) / 0x800000;
const EPSILON = Math.fround(1e-7);
const TWO_PI = Math.fround(2 * Math.PI);

/** TF's BoxMullerFloat: two standard normals from two uint32s, written to out[i], out[i + 1]. */
function boxMuller(x0: number, x1: number, out: Float32Array | Float64Array, i: number): void {
  let u1 = toUnit(x0);
  if (u1 < EPSILON) u1 = EPSILON;
  const v1 = Math.fround(TWO_PI * toUnit(x1));
  const u2 = Math.fround(Math.sqrt(-2 * Math.log(u1)));
  out[i] = Math.sin(v1) * u2;
  out[i + 1] = Math.cos(v1) * u2;
}

/** FNV-1a hash of a string (op names), as a uint32. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Random (seed, seed2) for an op without seeds: drawn from the session's entropy and the op's name
 * (one Philox block as the mixer), so each op of each session gets its own stream.
 */
function unseededSeeds(name: string, entropy: number | undefined): [bigint, bigint] {
  const words = new Uint32Array(4);
  if (entropy === undefined) {
    for (let i = 0; i < 4; i++) words[i] = Math.floor(Math.random() * 0x100000000);
  } else {
    philox4x32([hashName(name), name.length, 0x5eed, 0], [entropy, 0x243f6a88], words);
  }
  return [(BigInt(words[0]!) << 32n) | BigInt(words[1]!), (BigInt(words[2]!) << 32n) | BigInt(words[3]!)];
}

/** The op's generator for this session: seeded from (seed, seed2), or randomly when both are 0. */
export function streamFor(node: KernelNode, state: RuntimeState<NDArray>): PhiloxStream {
  let s = state.opState.get(node.name) as PhiloxStream | undefined;
  if (!s) {
    const seed = Number(node.attrs.seed ?? 0);
    const seed2 = Number(node.attrs.seed2 ?? 0);
    if (seed === 0 && seed2 === 0) {
      const [a, b] = unseededSeeds(node.name, state.entropy);
      s = PhiloxStream.fromSeeds(a, b);
    } else {
      s = PhiloxStream.fromSeeds(seed, seed2);
    }
    state.opState.set(node.name, s);
  }
  return s;
}

/**
 * TF's GuardedPhiloxRandom::ReserveRandomOutputs(n, 256): the generator for this run, after which
 * the op's stream moves past every block this run could use.
 */
function reserve(node: KernelNode, state: RuntimeState<NDArray>, n: number): PhiloxStream {
  const s = streamFor(node, state);
  const gen = s.clone();
  s.skip(n * 256);
  return gen;
}

function shapeOf(a: NDArray): number[] {
  if (a.rank !== 1) throw new InvalidArgumentError(`shape must be a vector, got shape ${formatShape(a.shape)}`);
  const dims = numbersOf(a);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new InvalidArgumentError(`shape must have non-negative dims, got [${dims.join(',')}]`);
  return dims;
}

registerCpuKernel('RandomUniform', ([shape], node, state, outputs) => {
  const out = outputs.alloc('float32', shapeOf(shape!));
  const o = out.data as Float32Array;
  const gen = reserve(node, state, o.length);
  // Whole groups of 4 blocks (16 floats) by the SIMD generator where it runs, the rest here.
  const groups = o.length >> 4;
  const block = new Uint32Array(4);
  const scalar = (counter: Uint32Array, dst: Float32Array | Uint32Array, at: number): void => {
    philox4x32(counter, gen.key, block);
    for (let j = 0; j < 4; j++) dst[at + j] = toUnit(block[j]!);
    skipCounter(counter, 1);
  };
  const first = groups > 0 && philoxFillSimd(gen.key, gen.counter, o, groups, true, scalar, skipCounter) ? 16 * groups : 0;
  for (let i = first; i < o.length; i += 4) {
    const b = gen.next();
    for (let j = 0; j < 4 && i + j < o.length; j++) o[i + j] = toUnit(b[j]!);
  }
  return [out];
});

registerCpuKernel('RandomStandardNormal', ([shape], node, state, outputs) => {
  const out = outputs.alloc('float32', shapeOf(shape!));
  const o = out.data as Float32Array;
  const gen = reserve(node, state, o.length);
  const four = new Float32Array(4);
  // The words of whole groups of 4 blocks from the SIMD generator where it runs, a chunk at a time.
  const groups = o.length >> 4;
  const chunkGroups = Math.min(groups, 4096);
  const words = new Uint32Array(16 * chunkGroups);
  const block = new Uint32Array(4);
  const scalar = (counter: Uint32Array, dst: Float32Array | Uint32Array, at: number): void => {
    philox4x32(counter, gen.key, block);
    dst.set(block, at);
    skipCounter(counter, 1);
  };
  let i = 0;
  for (let g = 0; g < groups; g += chunkGroups) {
    const n = Math.min(chunkGroups, groups - g);
    if (!philoxFillSimd(gen.key, gen.counter, words, n, false, scalar, skipCounter)) break;
    for (let w = 0; w < 16 * n; w += 4, i += 4) {
      boxMuller(words[w]!, words[w + 1]!, o, i);
      boxMuller(words[w + 2]!, words[w + 3]!, o, i + 2);
    }
  }
  for (; i < o.length; i += 4) {
    const b = gen.next();
    boxMuller(b[0]!, b[1]!, four, 0);
    boxMuller(b[2]!, b[3]!, four, 2);
    for (let j = 0; j < 4 && i + j < o.length; j++) o[i + j] = four[j]!;
  }
  return [out];
});

registerCpuKernel('TruncatedNormal', ([shape], node, state, outputs) => {
  const out = outputs.alloc('float32', shapeOf(shape!));
  const o = out.data as Float32Array;
  const n = o.length;
  const base = reserve(node, state, n);
  const ctr = new Uint32Array(4);
  const block = new Uint32Array(4);
  const pair = new Float32Array(2);
  // As TF: each group of 2 outputs starts 128 blocks further into the stream and takes the uint32s
  // of successive blocks in order, keeping normals with |x| < 2 (rejection).
  for (let g = 0; 2 * g < n; g++) {
    ctr.set(base.counter);
    skipCounter(ctr, g * 128);
    let used = 4;
    let filled = 0;
    while (filled < 2 && 2 * g + filled < n) {
      if (used === 4) {
        philox4x32(ctr, base.key, block);
        skipCounter(ctr, 1);
        used = 0;
      }
      boxMuller(block[used]!, block[used + 1]!, pair, 0);
      used += 2;
      for (let k = 0; k < 2 && filled < 2; k++) {
        if (Math.abs(pair[k]!) < 2) {
          if (2 * g + filled < n) o[2 * g + filled] = pair[k]!;
          filled++;
        }
      }
    }
  }
  return [out];
});

registerCpuKernel('RandomUniformInt', ([shape, minval, maxval], node, state, outputs) => {
  const dtype = node.outputs[0]!.dtype;
  if (minval!.size !== 1 || maxval!.size !== 1) throw new InvalidArgumentError('minval and maxval must be scalars');
  const dims = shapeOf(shape!);
  const out = outputs.alloc(dtype, dims);
  const n = out.size;
  const gen = reserve(node, state, n);
  if (dtype === 'int64') {
    const lo = (minval!.data as BigInt64Array)[0]!;
    const hi = (maxval!.data as BigInt64Array)[0]!;
    if (n > 0 && lo >= hi) throw new InvalidArgumentError(`Need minval < maxval: ${lo} >= ${hi}`);
    const range = BigInt.asUintN(64, hi - lo);
    const o = out.data as BigInt64Array;
    for (let i = 0; i < n; i += 2) {
      const b = gen.next();
      for (let j = 0; j < 2 && i + j < n; j++) {
        const bits = BigInt(b[2 * j]!) | (BigInt(b[2 * j + 1]!) << 32n);
        o[i + j] = BigInt.asIntN(64, lo + (bits % range));
      }
    }
  } else {
    const lo = (minval!.data as Int32Array)[0]!;
    const hi = (maxval!.data as Int32Array)[0]!;
    if (n > 0 && lo >= hi) throw new InvalidArgumentError(`Need minval < maxval: ${lo} >= ${hi}`);
    const range = hi - lo;
    const o = out.data as Int32Array;
    for (let i = 0; i < n; i += 4) {
      const b = gen.next();
      for (let j = 0; j < 4 && i + j < n; j++) o[i + j] = (lo + (b[j]! % range)) | 0;
    }
  }
  return [out];
});

/** TF's Uint64ToDouble: a double in [0, 1) from 52 bits (the low 20 bits of x0, then x1). */
const toUnitDouble = (x0: number, x1: number): number => ((x0 & 0xfffff) * 0x100000000 + (x1 >>> 0)) / 0x10000000000000;

/**
 * TF's MultinomialFunctor<CPU> (one shard): per row, the unnormalized CDF of exp(logit - max) over
 * the finite logits; each sample is the first class whose CDF exceeds RandDouble() * total, with
 * RandDouble taking two successive uint32s of the stream (SimplePhilox). The run reserves
 * batch * ceil4(numSamples) outputs, as TF does.
 */
registerCpuKernel('Multinomial', ([logits, numSamples], node, state, outputs) => {
  if (logits!.rank !== 2) throw new InvalidArgumentError(`logits should be a matrix, got shape ${formatShape(logits!.shape)}`);
  if (numSamples!.rank !== 0) throw new InvalidArgumentError(`num_samples should be a scalar, got shape ${formatShape(numSamples!.shape)}`);
  const n = numbersOf(numSamples!)[0]!;
  if (n < 0) throw new InvalidArgumentError(`num_samples should be nonnegative, got ${n}`);
  const [batch, classes] = logits!.shape as [number, number];
  if (classes <= 0) throw new InvalidArgumentError(`num_classes should be positive, got ${classes}`);
  const dtype = node.outputs[0]!.dtype;
  const out = outputs.alloc(dtype, [batch, n]);
  if (batch === 0 || n === 0) return [out];
  const gen = reserve(node, state, batch * (Math.floor((n + 3) / 4) * 4));
  const x = logits!.data as Float32Array;
  const cdf = new Float64Array(classes);
  let block: Uint32Array = new Uint32Array(4);
  let used = 4;
  const single = (): number => {
    if (used === 4) {
      block = gen.next();
      used = 0;
    }
    return block[used++]!;
  };
  const o = out.data as Int32Array | BigInt64Array;
  for (let b = 0; b < batch; b++) {
    const row = b * classes;
    let max = -3.4028234663852886e38;
    for (let j = 0; j < classes; j++) {
      const v = x[row + j]!;
      if (Number.isFinite(v) && v > max) max = v;
    }
    let total = 0;
    for (let j = 0; j < classes; j++) {
      const v = x[row + j]!;
      if (Number.isFinite(v)) total += Math.exp(v - max);
      cdf[j] = total;
    }
    for (let s = 0; s < n; s++) {
      const x0 = single();
      const x1 = single();
      const target = toUnitDouble(x0, x1) * total;
      // upper_bound: the first class whose CDF is greater than target.
      let lo = 0;
      let hi = classes;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid]! > target) hi = mid;
        else lo = mid + 1;
      }
      if (dtype === 'int64') (o as BigInt64Array)[b * n + s] = BigInt(lo);
      else (o as Int32Array)[b * n + s] = lo;
    }
  }
  return [out];
});
