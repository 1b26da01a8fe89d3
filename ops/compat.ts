// TensorFlow 1 op types that graphs written by older TensorFlow use under names weir's ops have
// since taken over (TF1's 'Add' is today's AddV2, which also concatenates strings).
import { getOpDef, registerOp } from './registry.js';
import { binaryShape, NUMERIC } from './util.js';

registerOp({
  type: 'Add',
  inputs: ['x', 'y'],
  commutative: true,
  rightIdentity: 0,
  attrs: { T: 'type' },
  elementwise: true,
  shape: binaryShape([...NUMERIC, 'string']),
  grad: (op, grads) => getOpDef('AddV2')!.grad!(op, grads),
});
