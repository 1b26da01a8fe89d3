// The layers of ARCHITECTURE.md, enforced: a module may import (for its value, not only its types)
// modules of its own layer or of layers below it. Type-only imports are erased when compiled and
// carry no load order, so they are free. The debts below are the imports known to break the rule
// today, each with what pays it off; a debt that is paid must leave the list.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Bottom first. A file belongs to the first layer with a pattern that matches it. */
export const LAYERS: readonly { name: string; files: readonly RegExp[] }[] = [
  { name: 'core', files: [/^src\/core\//] },
  {
    name: 'formats',
    files: [/^src\/io\/(proto|bytes|tensor_proto|crc32c|snappy|table|bundle|fs|text_format)\.ts$/],
  },
  { name: 'graph', files: [/^src\/(graph|func_graph|convert)\.ts$/, /^ops\/registry\.ts$/, /^ops\/semantics\//] },
  { name: 'runtime', files: [/^runtime\//] },
  { name: 'compiler', files: [/^passes\//] },
  { name: 'ops', files: [/^ops\//, /^src\/api\//, /^src\/(gradients|variables|variable_scope|initializers)\.ts$/, /^src\/layers\/regularizers\.ts$/] },
  { name: 'library', files: [/^src\/(session|verification|index)\.ts$/, /^src\/(layers|train|io|onnx)\//] },
  { name: 'tools', files: [/^src\/cli\//] },
];

/** Inside the runtime layer: backends are siblings, and the shared runtime knows neither. */
const RUNTIME_PARTS = [/^runtime\/cpu\//, /^runtime\/webgpu\//];

/** Imports that break the rule today: "from -> to" with the reason and the way out. */
const DEBTS: Record<string, string> = {};

const ROOTS = ['src', 'ops', 'passes', 'runtime'];

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p.split('\\').join('/'));
    }
  };
  ROOTS.forEach(walk);
  return out.sort();
}

function layerOf(file: string): number {
  const i = LAYERS.findIndex((l) => l.files.some((re) => re.test(file)));
  if (i < 0) throw new Error(`${file} belongs to no layer of test/architecture.test.ts: add it to LAYERS and to ARCHITECTURE.md`);
  return i;
}

/** The project files a module imports for their values (import/export ... from, side-effect imports). */
export function valueImports(file: string, text = readFileSync(file, 'utf8')): string[] {
  const out: string[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const re = /^\s*(import|export)\s+(type\s+)?(?:([^;'"]*?)\s+from\s+)?'(\.{1,2}\/[^']+)'/gm;
  for (const m of code.matchAll(re)) {
    if (m[2]) continue;
    if (m[1] === 'export' && !m[3]) continue;
    const clause = m[3] ?? '';
    // `import { type A, type B } from` imports nothing at run time either.
    const braces = /^\{([^}]*)\}$/.exec(clause.trim());
    if (braces && braces[1]!.split(',').every((s) => s.trim() === '' || /^type\s/.test(s.trim()))) continue;
    const target = normalize(join(dirname(file), m[4]!.replace(/\.js$/, '.ts'))).split('\\').join('/');
    out.push(target);
  }
  return out;
}

function violations(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sourceFiles()) {
    const from = layerOf(file);
    for (const target of valueImports(file)) {
      if (!ROOTS.some((r) => target.startsWith(`${r}/`))) continue;
      const to = layerOf(target);
      const key = `${file} -> ${target}`;
      if (to > from) found.set(key, `${LAYERS[from]!.name} imports ${LAYERS[to]!.name}`);
      else if (from === to && LAYERS[from]!.name === 'runtime') {
        const part = (f: string) => RUNTIME_PARTS.findIndex((re) => re.test(f));
        const a = part(file);
        const b = part(target);
        if (b >= 0 && a !== b) found.set(key, a < 0 ? 'the shared runtime imports a backend' : 'one backend imports another');
      }
    }
  }
  return found;
}

describe('architecture: imports follow the layers of ARCHITECTURE.md', () => {
  const found = violations();

  it('every source file belongs to a layer', () => {
    for (const f of sourceFiles()) expect(() => layerOf(f)).not.toThrow();
  });

  it('no module imports against the direction of the layers, except the listed debts', () => {
    const unlisted = [...found].filter(([k]) => !(k in DEBTS)).map(([k, why]) => `${k} (${why})`);
    expect(unlisted).toEqual([]);
  });

  it('every listed debt still exists (a paid debt leaves the list)', () => {
    const paid = Object.keys(DEBTS).filter((k) => !found.has(k));
    expect(paid).toEqual([]);
  });

  it('the check sees value imports and ignores type-only ones', () => {
    const text = [
      "import type { A } from './a.js';",
      "import { type B, type C } from './b.js';",
      "import { D, type E } from './d.js';",
      "import './side.js';",
      "export { F } from './f.js';",
      "export type { G } from './g.js';",
      "// import { H } from './h.js';",
    ].join('\n');
    expect(valueImports('runtime/x.ts', text).map((p) => relative('runtime', p))).toEqual(['d.ts', 'side.ts', 'f.ts']);
  });
});
