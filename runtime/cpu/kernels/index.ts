// Importing this module registers every CPU kernel.
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
