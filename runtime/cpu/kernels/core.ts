import { NDArray } from '../../../src/core/ndarray.js';
import { COPY } from '../../../ops/registry.js';
import { registerCpuKernel } from '../registry.js';
import { FRESH } from './util.js';

registerCpuKernel('Const', (_in, node) => [node.attrs.value as NDArray]);
registerCpuKernel('Placeholder', (_in, node) => {
  throw new Error(`placeholder ${node.name} must be fed`);
});
registerCpuKernel('PlaceholderWithDefault', (inputs) => [inputs[0]!]);
registerCpuKernel('Identity', (inputs) => [inputs[0]!]);
registerCpuKernel('StopGradient', (inputs) => [inputs[0]!]);
registerCpuKernel('NoOp', () => []);

// Values leaving a loop body's arena (runtime/control_flow.ts): each input copied into its own memory.
registerCpuKernel(COPY, (inputs, node, _state, out) => {
  const skip = (node.attrs.skip as readonly boolean[] | undefined) ?? [];
  return inputs.map((x, k) => {
    if (skip[k] || !(x instanceof NDArray)) return x;
    if (x.dtype === 'string' || out === FRESH) return x.clone();
    const y = out.alloc(x.dtype, x.shape);
    (y.data as Float32Array).set(x.data as Float32Array);
    return y;
  });
});
