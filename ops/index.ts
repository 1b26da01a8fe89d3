// Importing this module registers every op definition.
import './core.js';
import './state.js';
import './math.js';
import './array.js';
import './nn.js';
import './random.js';
import './training.js';
import './conv.js';
import './summary.js';
import './compat.js';
export { getOpDef, listOps, registerOp, type OpDef, type GradFn, type ShapeContext, type OutputSpec } from './registry.js';
import './control_flow.js';
import './list.js';
