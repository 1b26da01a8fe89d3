// Kernels of TF1 op types that alias weir ops (see ops/compat.ts): they reuse the existing kernels.
import { NDArray } from '../../../src/core/ndarray.js';
import { concatBytes } from '../../../src/io/bytes.js';
import { getCpuKernel, registerCpuKernel } from '../registry.js';
import { broadcastOrThrow, forEachBroadcast } from './util.js';

registerCpuKernel('Add', (inputs, node, state, outputs) => {
  const [a, b] = inputs as [NDArray, NDArray];
  if (a.dtype !== 'string') return getCpuKernel('AddV2')!(inputs, node, state, outputs);
  const shape = broadcastOrThrow(a.shape, b.shape);
  const out = outputs.alloc('string', shape);
  const ad = a.data as Uint8Array[];
  const bd = b.data as Uint8Array[];
  const od = out.data as Uint8Array[];
  forEachBroadcast(a.shape, b.shape, shape, (o, i, j) => (od[o] = concatBytes([ad[i]!, bd[j]!])));
  return [out];
});
