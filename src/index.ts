// weir: a TensorFlow-1-style dataflow graph compiler. `import * as tf from 'weir'`.
import '../ops/index.js';

export type { DType, TypedArray } from './core/dtypes.js';
export { NDArray, type NestedArray } from './core/ndarray.js';
export type { Dim, Shape } from './core/shape.js';
export { TensorShape, type ShapeLike } from './core/tensor_shape.js';
export { getDefaultSession, type DefaultSession } from './core/default_session.js';
export * as errors from './core/errors.js';
export {
  Graph,
  Operation,
  Tensor,
  GraphKeys,
  getDefaultGraph,
  resetDefaultGraph,
  nameScope,
  controlDependencies,
  addToCollection,
  getCollection,
  getCollectionRef,
  setRandomSeed,
  type AttrValue,
  type EvalFeedDict,
  type EvalFeedValue,
} from './graph.js';
export { convertToTensor, type TensorLike } from './convert.js';
export { Session, InteractiveSession, type SessionOptions, type FeedDict, type FeedKey, type FeedStructure, type Fetches, type FetchResult } from './session.js';
export type { KernelProfile, ProfileRow } from '../runtime/profile.js';
export {
  Variable,
  type VariableOptions,
  assign,
  assignAdd,
  assignSub,
  scatterUpdate,
  scatterAdd,
  scatterSub,
  scatterMul,
  scatterDiv,
  scatterMin,
  scatterMax,
  type ScatterOptions,
  globalVariables,
  allVariables,
  trainableVariables,
  localVariables,
  globalVariablesInitializer,
  localVariablesInitializer,
  variablesInitializer,
} from './variables.js';
export { gradients, type GradientsOptions, type Gradient } from './gradients.js';
export { IndexedSlices } from './api/indexed_slices.js';
export * from './api/core.js';
export * from './api/math.js';
export * from './api/array.js';
export * from './api/random.js';
export * from './api/clip.js';
export { cond, caseOf as case, whileLoop, type CondOptions, type CaseOptions, type WhileLoopOptions } from './api/control_flow.js';
export { TensorArray, type TensorArrayOptions } from './api/tensor_array.js';
export { BasicRNNCell, BasicLSTMCell, LSTMCell, GRUCell, MultiRNNCell, RNNCell, LSTMStateTuple, DropoutWrapper, OutputProjectionWrapper, ResidualWrapper, type RNNState, type StateSize, type RNNActivation, type LSTMCellOptions, type DropoutWrapperOptions, type KeepProb } from './api/rnn.js';
export { sequenceLoss, type SequenceLossOptions } from './api/seq2seq.js';
export { mapFn, scan, foldl, foldr, type MapFnOptions, type ScanOptions, type HigherOrderOptions } from './api/functional.js';
export { FuncGraph } from './func_graph.js';
export * as nn from './api/nn_namespace.js';
export * as math from './api/math_namespace.js';
export * as bitwise from './api/bitwise_namespace.js';
// ---- the op families of issue 18 (top-level TF1 names; explicit exports override `export *` above: where, pad) ----
export {
  cumsum,
  cumprod,
  sort,
  argsort,
  searchsorted,
  unique,
  uniqueWithCounts,
  setdiff1d,
  where,
  type ScanOptions as CumulativeOptions,
  type SortOptions,
  type SortDirection,
  type SearchsortedOptions,
  type TopKResult,
  type UniqueResult,
  type UniqueWithCountsResult,
  type SetDiffResult,
  type BincountOptions,
} from './api/sort.js';
export {
  gatherNd,
  scatterNd,
  tensorScatterUpdate,
  tensorScatterAdd,
  tensorScatterSub,
  tensorScatterNdUpdate,
  tensorScatterNdAdd,
  tensorScatterNdSub,
  sparseToDense,
  reverse,
  reverseV2,
  reverseSequence,
  pad,
  mirrorPad,
  spaceToBatchNd,
  batchToSpaceNd,
  spaceToDepth,
  depthToSpace,
  matrixBandPart,
  linspace,
  linSpace,
  einsum,
  broadcastDynamicShape,
  type SparseToDenseOptions,
  type ReverseSequenceOptions,
  type PadMode,
  type MirrorPadMode,
} from './api/indexing.js';
export {
  segmentSum,
  segmentMean,
  segmentMax,
  segmentMin,
  segmentProd,
  unsortedSegmentMax,
  unsortedSegmentMin,
  unsortedSegmentProd,
  unsortedSegmentMean,
  unsortedSegmentSqrtN,
  sparseSegmentSum,
  sparseSegmentMean,
  sparseSegmentSqrtN,
  sparseReshape,
  sparseFillEmptyRows,
  SparseTensor,
  sparse,
  type SparseSegmentOptions,
  type SparseToDenseOptions as SparseTensorToDenseOptions,
} from './api/sparse.js';
export { stringSplit, stringToHashBucketFast } from './api/strings.js';
export * as strings from './api/strings.js';
export { ragged } from './api/ragged.js';
export { lookup, tablesInitializer } from './api/lookup.js';
export * as image from './api/image_namespace.js';
// TF1's top-level tf.read_file, tf.write_file and tf.random_crop.
export { readFile, writeFile } from './api/image_io.js';
export { randomCrop } from './api/image_ops.js';
export {
  Assert,
  Print,
  print,
  checkNumerics,
  verifyTensorAllFinite,
  identityN,
  ensureShape,
  shapeN,
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
  fakeQuantWithMinMaxArgs,
  fakeQuantWithMinMaxVars,
} from './api/debug.js';
export * as debugging from './api/debugging_namespace.js';
export * as quantization from './api/quantization_namespace.js';
export * as losses from './api/losses.js';
export * as metrics from './api/metrics.js';
export { norm, type NormOptions, type NormOrd } from './api/norm.js';
// tf.linalg: TF 1.15's namespace (norm, matmul, bandPart and einsum included).
export * as linalg from './api/linalg.js';
// tf.signal and TF 1.x's older name for it, tf.spectral: FFTs over complex64.
export * as signal from './api/signal_namespace.js';
export * as spectral from './api/signal_namespace.js';
// TF1's complex-number functions and its top-level FFTs (tf.fft = tf.signal.fft, ...); tf.abs of a complex tensor builds ComplexAbs.
export { angle, complex, conj, fft, fft2d, fft3d, ifft, ifft2d, ifft3d, imag, real } from './api/spectral.js';
// TF1's top-level linear algebra names.
export {
  cholesky,
  choleskySolve,
  eye,
  qr,
  svd,
  trace,
  inv as matrixInverse,
  det as matrixDeterminant,
  solve as matrixSolve,
  triangularSolve as matrixTriangularSolve,
  eigh as selfAdjointEig,
  eigvalsh as selfAdjointEigvals,
  tensorDiag as diag,
  tensorDiagPart as diagPart,
  diag as matrixDiag,
  diagPart as matrixDiagPart,
  setDiag as matrixSetDiag,
  transpose as matrixTranspose,
  type DiagAlign,
  type DiagBandOptions,
  type EyeOptions,
  type SvdOptions,
  type TriangularSolveOptions,
} from './api/linalg.js';
export * as train from './train/index.js';

// ---- nn library: variable scopes, initializers, tf.layers (exports added by their owner) ----
export {
  variableScope,
  getVariable,
  getVariableScope,
  VariableScope,
  AUTO_REUSE,
  ValueError,
  type Reuse,
  type Regularizer,
  type GetVariableOptions,
  type VariableScopeOptions,
} from './variable_scope.js';
export {
  initializers,
  computeFans,
  zerosInitializer,
  onesInitializer,
  constantInitializer,
  randomNormalInitializer,
  truncatedNormalInitializer,
  randomUniformInitializer,
  glorotUniformInitializer,
  glorotNormalInitializer,
  varianceScalingInitializer,
  heNormalInitializer,
  heUniformInitializer,
  lecunNormalInitializer,
  lecunUniformInitializer,
  type Initializer,
} from './initializers.js';
export * as layers from './layers/index.js';
// tf.contrib.layers: the contrib layers (src/layers/contrib.ts) with contrib's initializers and regularizers.
export { contrib } from './layers/contrib.js';

// ---- formats: tf.io, tf.summary, tf.savedModel, importGraphDef, Saver (exports added by their owner) ----
export * as io from './io/io_namespace.js';
export * as summary from './io/summary.js';
export * as savedModel from './io/saved_model.js';
export * as onnx from './onnx/index.js';
export { importGraphDef, type ImportGraphDefOptions } from './io/graph_def.js';
