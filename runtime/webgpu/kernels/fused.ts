// WebGPU kernel for fused elementwise clusters: one generated WGSL kernel computes every member per
// element (the templates and the generator live in kernels/math.ts, shared with single-op kernels).
import { InternalError, InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape } from '../../../src/core/shape.js';
import { mayJoinElementwiseCluster, type FusionCandidate } from '../../elementwise_fusion.js';
import { registerGpuKernel } from '../registry.js';
import { opExpr, runProgram } from './math.js';

/**
 * Whether elementwise fusion may generate a WGSL kernel for this node: it may join a cluster (the
 * rule both backends share) and has a WGSL expression. The backend's canFuse also asks its host
 * backend, which runs small integer clusters whose inputs are on the host.
 */
export function gpuCanFuse(n: FusionCandidate): boolean {
  if (n.inputs.length === 0 || !mayJoinElementwiseCluster(n)) return false;
  const ins = n.inputs.map((v) => v!.dtype);
  const r = opExpr(n.type, n.attrs, ins.map((_, i) => `x${i}`), ins, n.outputs[0]!.dtype);
  // Ops that can fail on their data (integer division by zero) keep their own kernel and check.
  return r !== undefined && r.check === undefined;
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
