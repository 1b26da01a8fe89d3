// WebGPU kernel for fused elementwise clusters: one generated WGSL kernel computes every member per
// element (the templates and the generator live in kernels/math.ts, shared with single-op kernels).
import type { DType } from '../../../src/dtypes.js';
import { InternalError, InvalidArgumentError } from '../../../src/errors.js';
import { formatShape } from '../../../src/shape.js';
import { cpuCanFuse } from '../../cpu/fused.js';
import { registerGpuKernel } from '../registry.js';
import { opExpr, runProgram } from './math.js';

/** Whether elementwise fusion may generate a WGSL kernel for this node. */
export function gpuCanFuse(n: { type: string; attrs: Readonly<Record<string, unknown>>; inputs: readonly ({ dtype: string } | null)[]; outputs: readonly { dtype: string }[] }): boolean {
  if (n.outputs.length !== 1 || n.inputs.length === 0 || n.inputs.some((v) => !v)) return false;
  const ins = n.inputs.map((v) => v!.dtype as DType);
  const r = opExpr(n.type, n.attrs, ins.map((_, i) => `x${i}`), ins, n.outputs[0]!.dtype as DType);
  // Ops that can fail on their data (integer division by zero) keep their own kernel and check.
  // Small integer clusters whose inputs are on the host run the CPU's generated kernel there, so
  // only what the CPU can generate too is offered.
  return r !== undefined && r.check === undefined && cpuCanFuse(n as Parameters<typeof cpuCanFuse>[0]);
}

registerGpuKernel('_FusedElementwise', (ctx, inputs) => {
  const p = ctx.node.program;
  if (!p) throw new InternalError(`_FusedElementwise '${ctx.node.name}' has no program`, ctx.node.name);
  for (const inp of p.inputs) {
    const x = inputs[inp.arg]!;
    if (x.dtype !== inp.dtype || x.size !== inp.shape.reduce((a, b) => a * b, 1)) {
      throw new InvalidArgumentError(`fused kernel input ${inp.arg} is ${x.dtype} ${formatShape(x.shape)}, expected ${inp.dtype} ${formatShape(inp.shape)}`);
    }
  }
  return runProgram(ctx, p, inputs);
});
