// Which ops may join a fused elementwise cluster (_FusedElementwise), whatever the backend: the rule
// both backends' canFuse start from. Each backend then adds what its own code generator can express.
import type { DType } from '../src/core/dtypes.js';

/** What canFuse sees of a node (the compiler's PNode, structurally). */
export interface FusionCandidate {
  readonly type: string;
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly inputs: readonly ({ readonly dtype: DType } | null)[];
  readonly outputs: readonly { readonly dtype: DType }[];
}

/** Whether generated elementwise kernels compute in this dtype (float32, int32, bool). */
export function fusableDType(d: DType): boolean {
  return d === 'float32' || d === 'int32' || d === 'bool';
}

/**
 * Ops that can fail on their data with these input dtypes (integer division by zero, integers to
 * negative powers): they keep their own kernel, which checks.
 */
export function failsOnData(type: string, inDType: DType | undefined): boolean {
  return inDType === 'int32' && FAILS_ON_INT32.has(type);
}
const FAILS_ON_INT32: ReadonlySet<string> = new Set(['FloorDiv', 'FloorMod', 'Pow', 'Div', 'Mod', 'TruncateDiv', 'TruncateMod']);

/**
 * Whether a node may be a member of a fused elementwise cluster: one output, every input known, all
 * of fusable dtypes, BiasAdd on float32 only, and nothing that can fail on its data.
 */
export function mayJoinElementwiseCluster(n: FusionCandidate): boolean {
  if (n.outputs.length !== 1 || n.inputs.some((v) => !v)) return false;
  if (!fusableDType(n.outputs[0]!.dtype)) return false;
  const ins = n.inputs.map((v) => v!.dtype);
  if (ins.some((d) => !fusableDType(d))) return false;
  if (n.type === 'BiasAdd' && ins[0] !== 'float32') return false;
  return !failsOnData(n.type, ins[0]);
}
