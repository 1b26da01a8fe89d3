// tf.train: optimizers, learning-rate schedules and the global step.
export {
  Optimizer,
  type Hyperparameter,
  type GradAndVar,
  type OptimizerOptions,
  type ComputeGradientsOptions,
  type ApplyGradientsOptions,
  type MinimizeOptions,
} from './optimizer.js';
export {
  GradientDescentOptimizer,
  MomentumOptimizer,
  AdamOptimizer,
  RMSPropOptimizer,
  AdagradOptimizer,
  AdadeltaOptimizer,
  FtrlOptimizer,
  ProximalAdagradOptimizer,
  ProximalGradientDescentOptimizer,
  type MomentumOptions,
  type AdamOptions,
  type RMSPropOptions,
  type AdagradOptions,
  type AdadeltaOptions,
  type FtrlOptions,
  type ProximalOptions,
  type ProximalAdagradOptions,
} from './optimizers.js';
export {
  exponentialDecay,
  piecewiseConstant,
  piecewiseConstantDecay,
  polynomialDecay,
  naturalExpDecay,
  inverseTimeDecay,
  cosineDecay,
  cosineDecayRestarts,
  linearCosineDecay,
  noisyLinearCosineDecay,
  type PolynomialDecayOptions,
  type CosineDecayOptions,
  type CosineDecayRestartsOptions,
  type LinearCosineDecayOptions,
  type NoisyLinearCosineDecayOptions,
} from './learning_rate_decay.js';
export { getGlobalStep, createGlobalStep, getOrCreateGlobalStep, assertGlobalStep, globalStep } from './training_util.js';
export {
  Saver,
  latestCheckpoint,
  getCheckpointState,
  listVariables,
  loadVariable,
  CheckpointReader,
  updateCheckpointState,
  type SaverOptions,
  type SaveOptions,
  type CheckpointState,
} from '../io/index.js';
export * from './moving_averages.js';
export * from './monitored_session.js';
export * from '../io/meta_graph.js';
