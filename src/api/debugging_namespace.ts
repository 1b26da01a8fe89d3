// Everything under tf.debugging.
export {
  Assert,
  assertEqual,
  assertNotEqual,
  assertLess,
  assertLessEqual,
  assertGreater,
  assertGreaterEqual,
  assertPositive,
  assertNegative,
  assertNonNegative,
  assertNonPositive,
  assertNear,
  assertRank,
  assertType,
  checkNumerics,
} from './debug.js';
