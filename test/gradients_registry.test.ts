import { describe, expect, it } from 'vitest';
import { listOps } from '../ops/index.js';
import '../src/index.js';
import { checkGradients } from './gradcheck.js';
import { allGradCases } from './gradcases/index.js';

describe('registry-wide gradient check', () => {
  it('every registered op declares its gradient (a function, or null for none)', () => {
    const undeclared = listOps().filter((d) => d.grad === undefined).map((d) => d.type);
    expect(undeclared).toEqual([]);
  });

  it('every op with a gradient function has a finite-difference case', () => {
    const covered = new Set(allGradCases.flatMap((c) => c.ops));
    const missing = listOps()
      .filter((d) => typeof d.grad === 'function')
      .map((d) => d.type)
      .filter((t) => !covered.has(t));
    expect(missing).toEqual([]);
  });

  for (const c of allGradCases) {
    it(`${c.ops.join('+')}: ${c.name}`, async () => {
      await checkGradients(c);
    });
  }
});
