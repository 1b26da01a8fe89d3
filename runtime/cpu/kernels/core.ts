import type { NDArray } from '../../../src/core/ndarray.js';
import { registerCpuKernel } from '../registry.js';

registerCpuKernel('Const', (_in, node) => [node.attrs.value as NDArray]);
registerCpuKernel('Placeholder', (_in, node) => {
  throw new Error(`placeholder ${node.name} must be fed`);
});
registerCpuKernel('PlaceholderWithDefault', (inputs) => [inputs[0]!]);
registerCpuKernel('Identity', (inputs) => [inputs[0]!]);
registerCpuKernel('StopGradient', (inputs) => [inputs[0]!]);
registerCpuKernel('NoOp', () => []);
