// The WebAssembly SIMD Philox4x32-10 (runtime/cpu/philox.ts) against the TypeScript generator
// (philox4x32, itself checked against Random123's known answers in random.test.ts): the same words
// and floats bit for bit, across the counter's low word wrapping, in place in the heap and staged;
// and RandomUniform through a session with the SIMD generator on and off. Under WEIR_CPU_FAST=0
// the generator is unavailable and only the session check runs (both sides TypeScript).
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { philox4x32 } from '../runtime/cpu/kernels/random.js';
import { philoxFillSimd, philoxSimdAvailable, setPhiloxSimdEnabled } from '../runtime/cpu/philox.js';
import { heapRegion } from '../runtime/cpu/heap.js';

const simd = philoxSimdAvailable();

afterEach(() => {
  setPhiloxSimdEnabled(true);
});

/** Adds n to a 128-bit little-endian counter (written out here, not borrowed from the kernels). */
function add(c: Uint32Array, n: number): void {
  let carry = n;
  for (let i = 0; i < 4 && carry > 0; i++) {
    const v = c[i]! + carry;
    c[i] = v % 0x100000000;
    carry = Math.floor(v / 0x100000000);
  }
}

/** The reference: `blocks` blocks from `counter`, one at a time, as words or TF's uniform floats. */
function reference(key: number[], counter: number[], blocks: number, floats: boolean): number[] {
  const c = Uint32Array.from(counter);
  const block = new Uint32Array(4);
  const out: number[] = [];
  for (let b = 0; b < blocks; b++) {
    philox4x32(c, key, block);
    for (const w of block) out.push(floats ? Math.fround((w & 0x7fffff) / 0x800000) : w);
    add(c, 1);
  }
  return out;
}

describe.runIf(simd)('SIMD Philox4x32-10', () => {
  const key = Uint32Array.of(0xa4093822, 0x299f31d0);
  const cases: [string, number[], number][] = [
    ['from zero', [0, 0, 0, 0], 37],
    ['seeded high words', [12345, 0, 9, 77], 5],
    ['the low word wrapping mid-way (and the carry into the next)', [0xffffffff - 21, 0xffffffff, 3, 0], 40],
    ['the low word wrapping one block in', [0xfffffffe, 1, 2, 3], 4],
    ['every counter word wrapping', [0xfffffff7, 0xffffffff, 0xffffffff, 0xffffffff], 9],
  ];
  const fills = (counter: Uint32Array, out: Float32Array | Uint32Array, groups: number, floats: boolean): boolean => {
    const block = new Uint32Array(4);
    const scalar = (c: Uint32Array, dst: Float32Array | Uint32Array, at: number): void => {
      philox4x32(c, key, block);
      for (let j = 0; j < 4; j++) dst[at + j] = floats ? (block[j]! & 0x7fffff) / 0x800000 : block[j]!;
      add(c, 1);
    };
    return philoxFillSimd(key, counter, out, groups, floats, scalar, add);
  };
  for (const [label, start, groups] of cases) {
    for (const floats of [false, true]) {
      it(`${floats ? 'uniform floats' : 'words'}: ${label}, staged and in place`, () => {
        const expected = reference(Array.from(key), start, 4 * groups, floats);
        const endCounter = Uint32Array.from(start);
        add(endCounter, 4 * groups);
        // Staged (an ordinary array), then in place in the heap with sentinels after it.
        const plain = floats ? new Float32Array(16 * groups) : new Uint32Array(16 * groups);
        const c1 = Uint32Array.from(start);
        expect(fills(c1, plain, groups, floats)).toBe(true);
        expect(Array.from(plain)).toEqual(expected);
        expect(Array.from(c1)).toEqual(Array.from(endCounter));
        const region = heapRegion(4 * (16 * groups + 8))!;
        const whole = floats ? new Float32Array(region.buffer, region.byteOffset, 16 * groups + 8) : new Uint32Array(region.buffer, region.byteOffset, 16 * groups + 8);
        whole.fill(7);
        const c2 = Uint32Array.from(start);
        expect(fills(c2, whole.subarray(0, 16 * groups), groups, floats)).toBe(true);
        expect(Array.from(whole.subarray(0, 16 * groups))).toEqual(expected);
        expect(Array.from(whole.subarray(16 * groups))).toEqual(new Array(8).fill(7));
        expect(Array.from(c2)).toEqual(Array.from(endCounter));
      });
    }
  }

  it('reports itself off when turned off', () => {
    setPhiloxSimdEnabled(false);
    expect(fills(new Uint32Array(4), new Uint32Array(16), 1, false)).toBe(false);
  });
});

describe('RandomUniform and RandomStandardNormal with and without the SIMD generator', () => {
  it('draw the same floats, run after run, for sizes around the 16-float groups and the 4096-group chunks', async () => {
    for (const [type, n] of [['RandomUniform', 1], ['RandomUniform', 15], ['RandomUniform', 16], ['RandomUniform', 17], ['RandomUniform', 4099], ['RandomStandardNormal', 3], ['RandomStandardNormal', 33], ['RandomStandardNormal', 16 * 4096 + 21]] as const) {
      const g = new tf.Graph();
      const u = g.asDefault(() => tf.getDefaultGraph().createOp(type, [tf.constant([n], 'int32')], { seed: 3, seed2: 11, dtype: 'float32', T: 'int32' }).outputs[0]!);
      const draws: Record<string, number[][]> = {};
      for (const on of [true, false]) {
        setPhiloxSimdEnabled(on);
        const sess = new tf.Session({ graph: g });
        draws[String(on)] = [Array.from((await sess.run(u)).data as Float32Array), Array.from((await sess.run(u)).data as Float32Array)];
        sess.close();
      }
      expect(draws.true).toEqual(draws.false);
      // The first run's first block is the stream's block 0 (key = seed, counter = [0, 0, seed2, 0]).
      if (type === 'RandomUniform') expect(draws.true![0]!.slice(0, Math.min(n, 4))).toEqual(reference([3, 0], [0, 0, 11, 0], 1, true).slice(0, Math.min(n, 4)));
    }
  });
});
