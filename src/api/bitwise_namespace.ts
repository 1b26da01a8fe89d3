// tf.bitwise.
export { bitwiseAnd, bitwiseOr, bitwiseXor } from './math.js';
