// CPU kernels of the candidate sampler ops, as TF's candidate_sampler_ops.cc and range_sampler.cc:
// candidates drawn through a SimplePhilox over the op's Philox stream (uint32s one at a time from
// successive blocks), expected counts from each sampler's probability.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { NDArray } from '../../../src/core/ndarray.js';
import { formatShape } from '../../../src/core/shape.js';
import type { KernelNode, RuntimeState } from '../../backend.js';
import { registerCpuKernel, type CpuKernel } from '../registry.js';
import { PhiloxStream, streamFor } from './random.js';

// ---- the op's generator (TF's GuardedPhiloxRandom), as the random ops keep theirs ----

/**
 * TF's GuardedPhiloxRandom::ReserveSamples32(samples32): this run's generator; the op's stream (in
 * the session's op state) moves past ceil(samples32 / 4) blocks.
 */
function reserveSamples32(node: KernelNode, state: RuntimeState<NDArray>, samples32: number): PhiloxStream {
  const s = streamFor(node, state);
  const gen = s.clone();
  s.skip(Math.floor((samples32 + 3) / 4));
  return gen;
}

/** TF's SimplePhilox: single uint32s from successive Philox blocks, and what it builds from them. */
class SimplePhilox {
  private block: Uint32Array = new Uint32Array(4);
  private used = 4;
  constructor(private readonly gen: PhiloxStream) {}

  rand32(): number {
    if (this.used === 4) {
      this.block = this.gen.next();
      this.used = 0;
    }
    return this.block[this.used++]!;
  }

  /** Uint64ToDouble(x0, x1): a double in [0, 1) from 52 bits, the low 20 of x0 high. */
  randDouble(): number {
    const x0 = this.rand32();
    const x1 = this.rand32();
    return ((x0 & 0xfffff) * 0x100000000 + x1) / 0x10000000000000;
  }

  /** Rand64() % n, Rand64 = lo | hi << 32. */
  uniform64(n: number): number {
    const lo = this.rand32();
    const hi = this.rand32();
    return Number(((BigInt(hi) << 32n) | BigInt(lo)) % BigInt(n));
  }
}

/** A range sampler of TF's range_sampler.h: one draw, and the probability of a value. */
interface RangeSampler {
  sample(rnd: SimplePhilox): number;
  probability(value: number): number;
}

function logUniformSampler(range: number): RangeSampler {
  const logRange = Math.log1p(range);
  return {
    // exp(U * log(range + 1)) - 1, truncated: value k with probability log((k + 2) / (k + 1)) / log(range + 1).
    sample: (rnd) => (Math.trunc(Math.exp(rnd.randDouble() * logRange)) - 1) % range,
    probability: (v) => Math.fround(Math.log((v + 2) / (v + 1)) / logRange),
  };
}

function uniformSampler(range: number): RangeSampler {
  const p = Math.fround(1 / range);
  return { sample: (rnd) => rnd.uniform64(range), probability: () => p };
}

/** TF's ExpectedCountHelper: p * batch when every try was kept, else 1 - (1 - p)^tries (stably). */
function expectedCount(p: number, batchSize: number, numTries: number): number {
  if (numTries === batchSize) return Math.fround(p * batchSize);
  return -Math.expm1(numTries * Math.log1p(-p));
}

function candidateSamplerKernel(makeSampler: (range: number) => RangeSampler): CpuKernel {
  return ([trueClasses], node, state, outputs) => {
    const numTrue = Number(node.attrs.num_true);
    const numSampled = Number(node.attrs.num_sampled);
    const rangeMax = Number(node.attrs.range_max);
    const unique = !!node.attrs.unique;
    const t = trueClasses!;
    if (t.rank !== 2) throw new InvalidArgumentError(`${node.type}: true_classes must be a matrix, got shape ${formatShape(t.shape)}`);
    const batch = t.shape[0]!;
    if (t.shape[1] !== numTrue) throw new InvalidArgumentError(`${node.type}: true_classes must have num_true = ${numTrue} columns, got shape ${formatShape(t.shape)}`);
    if (unique && numSampled > rangeMax) throw new InvalidArgumentError(`${node.type}: Sampler's range is too small (num_sampled ${numSampled} > range_max ${rangeMax})`);
    const sampler = makeSampler(rangeMax);
    const sampled = outputs.alloc('int64', [numSampled]);
    const trueExpected = outputs.alloc('float32', [batch, numTrue]);
    const sampledExpected = outputs.alloc('float32', [numSampled]);
    const s = sampled.data as BigInt64Array;
    // TF reserves 2048 uint32s per candidate: rejection sampling rarely needs more.
    const rnd = new SimplePhilox(reserveSamples32(node, state, 2048 * numSampled));
    let numTries: number;
    if (unique) {
      const used = new Set<number>();
      numTries = 0;
      for (let picked = 0; picked < numSampled; ) {
        numTries++;
        const v = sampler.sample(rnd);
        if (!used.has(v)) {
          used.add(v);
          s[picked++] = BigInt(v);
        }
      }
    } else {
      for (let i = 0; i < numSampled; i++) s[i] = BigInt(sampler.sample(rnd));
      numTries = numSampled;
    }
    const se = sampledExpected.data as Float32Array;
    for (let i = 0; i < numSampled; i++) se[i] = expectedCount(sampler.probability(Number(s[i])), numSampled, numTries);
    const tc = t.data as BigInt64Array;
    const te = trueExpected.data as Float32Array;
    for (let i = 0; i < tc.length; i++) te[i] = expectedCount(sampler.probability(Number(tc[i])), numSampled, numTries);
    return [sampled, trueExpected, sampledExpected];
  };
}

registerCpuKernel('LogUniformCandidateSampler', candidateSamplerKernel(logUniformSampler));
registerCpuKernel('UniformCandidateSampler', candidateSamplerKernel(uniformSampler));

/**
 * For each true class found among the sampled candidates: its row (indices), the candidate's
 * position (ids; the last position of a repeated candidate, as TF's map keeps it) and -FLT_MAX.
 */
registerCpuKernel('ComputeAccidentalHits', ([trueClasses, sampledCandidates], node, _state, outputs) => {
  const numTrue = Number(node.attrs.num_true);
  const t = trueClasses!;
  const c = sampledCandidates!;
  if (t.rank !== 2 || t.shape[1] !== numTrue) {
    throw new InvalidArgumentError(`ComputeAccidentalHits: true_classes must be a matrix with num_true = ${numTrue} columns, got shape ${formatShape(t.shape)}`);
  }
  if (c.rank !== 1) throw new InvalidArgumentError(`ComputeAccidentalHits: sampled_candidates must be a vector, got shape ${formatShape(c.shape)}`);
  const position = new Map<bigint, number>();
  const cd = c.data as BigInt64Array;
  for (let i = 0; i < cd.length; i++) position.set(cd[i]!, i);
  const rows: number[] = [];
  const ids: number[] = [];
  const td = t.data as BigInt64Array;
  for (let i = 0; i < td.length; i++) {
    const p = position.get(td[i]!);
    if (p !== undefined) {
      rows.push(Math.floor(i / numTrue));
      ids.push(p);
    }
  }
  const indices = outputs.alloc('int32', [rows.length]);
  const idsOut = outputs.alloc('int64', [rows.length]);
  const weights = outputs.alloc('float32', [rows.length]);
  (indices.data as Int32Array).set(rows);
  (idsOut.data as BigInt64Array).set(ids.map(BigInt));
  (weights.data as Float32Array).fill(-3.4028234663852886e38);
  return [indices, idsOut, weights];
});
