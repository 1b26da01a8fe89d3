import fs from 'node:fs';
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// test/setup/outside_reads.ts (a setup file of every test worker) makes reads beside the
// repository throw; these cases prove the guard is in force, and that no test names such a path.
describe('tests read nothing outside the repository', () => {
  const sibling = path.resolve('..', 'shared', 'DESIGN.md');

  it('a synchronous read beside the repository throws, naming the path', () => {
    expect(() => fs.readFileSync(sibling)).toThrow(/outside the repository: .*shared/);
    expect(() => fs.existsSync(path.join('..', 'shared'))).toThrow(/outside the repository/);
    expect(() => fs.statSync(new URL(`file://${sibling}`))).toThrow(/outside the repository/);
  });

  it('an asynchronous read beside the repository throws too', async () => {
    await expect(async () => readFile(sibling)).rejects.toThrow(/outside the repository/);
  });

  it('reads inside the repository and in temporary folders still work', () => {
    expect(fs.existsSync('test/fixtures/tensorflow-serving/saved_model_half_plus_three/saved_model.pb')).toBe(true);
    expect(fs.existsSync(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weir-')), 'x'))).toBe(false);
  });

  it('no test source names a folder beside the repository', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name !== 'fixtures') walk(p);
        } else if (/\.(ts|mjs|js)$/.test(e.name) && p !== path.join('test', 'no_outside_reads.test.ts')) {
          if (/['"`](\.\.\/)+shared\b/.test(fs.readFileSync(p, 'utf8'))) offenders.push(p);
        }
      }
    };
    walk('test');
    expect(offenders).toEqual([]);
  });
});
