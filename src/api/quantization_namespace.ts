// Everything under tf.quantization.
export { fakeQuantWithMinMaxArgs, fakeQuantWithMinMaxVars } from './debug.js';
