import './core.js';
import './math.js';
import './reduce.js';
import './matmul.js';
import './nn.js';
import './conv.js';
import './array.js';
import './training.js';
