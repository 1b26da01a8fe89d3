// Issue 18's acceptance set: every TensorFlow op type TensorFlow.js's converter can execute (its op
// lists, read from node_modules) is registered in weir, handled by the GraphDef importer, or listed
// here with the reason it is not.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../src/index.js';
import { getOpDef } from '../ops/registry.js';
import { FRAME_OPS, GRAPPLER_FUSED } from '../src/io/graph_def.js';

function converterOpTypes(): string[] {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('@tensorflow/tfjs-converter/package.json'));
  const dir = join(pkg, 'dist', 'operations', 'op_list');
  const names = new Set<string>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.js'))) {
    for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/['"]tfOpName['"]\s*:\s*['"]([^'"]+)['"]/g)) names.add(m[1]!);
  }
  return [...names].sort();
}

/** Names in the converter's lists that are not TensorFlow op types (TensorFlow.js's own graph rewrites). */
const NOT_TENSORFLOW_OPS: Record<string, string> = {
  Prelu: 'made by tfjs-converter from Keras PReLU; TensorFlow builds prelu from Relu, Neg and Mul',
  Conv1D: 'TensorFlow builds tf.nn.conv1d as ExpandDims + Conv2D (so does weir)',
  DepthwiseConv2d: "tfjs's spelling; TensorFlow's op is DepthwiseConv2dNative (registered)",
  Ones: 'no such TensorFlow op (tf.ones is Fill or a Const)',
  Zeros: 'no such TensorFlow op (tf.zeros is Fill or a Const)',
  SimpleMLCreateModelResource: 'TensorFlow Decision Forests custom op, not core TensorFlow',
  SimpleMLLoadModelFromPathWithHandle: 'TensorFlow Decision Forests custom op, not core TensorFlow',
  SimpleMLInferenceOpWithHandle: 'TensorFlow Decision Forests custom op, not core TensorFlow',
};

/** Not built yet, each for a stated reason; the test fails when one of these gets registered, so the list stays true. */
const NOT_YET: Record<string, string> = {
};

describe("coverage of TensorFlow.js's converter op lists", () => {
  const all = converterOpTypes();
  const registered = all.filter((t) => getOpDef(t));
  const expanded = all.filter((t) => Object.hasOwn(GRAPPLER_FUSED, t));
  const refused = all.filter((t) => FRAME_OPS.has(t));

  it('every op type is registered, expanded by the importer, or listed with its reason', () => {
    const accounted = new Set([...registered, ...expanded, ...refused, ...Object.keys(NOT_TENSORFLOW_OPS), ...Object.keys(NOT_YET)]);
    expect(all.filter((t) => !accounted.has(t))).toEqual([]);
    console.log(
      `converter op types: ${all.length}; registered: ${registered.length}; expanded on import: ${expanded.length}; ` +
        `TF1 frame ops refused: ${refused.length}; not TensorFlow ops: ${Object.keys(NOT_TENSORFLOW_OPS).length}; not yet: ${Object.keys(NOT_YET).length}`,
    );
  });

  it('the exception lists hold only names that are in the converter lists and not registered', () => {
    for (const t of [...Object.keys(NOT_TENSORFLOW_OPS), ...Object.keys(NOT_YET)]) {
      expect(all, t).toContain(t);
      expect(getOpDef(t), `${t} is registered now: take it off the list`).toBeUndefined();
    }
  });
});
