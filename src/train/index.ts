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
  type MomentumOptions,
  type AdamOptions,
  type RMSPropOptions,
  type AdagradOptions,
} from './optimizers.js';
export { exponentialDecay } from './learning_rate_decay.js';
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
