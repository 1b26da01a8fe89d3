// tf.nn.rnnCell: what TF 1.15's tf.nn.rnn_cell holds (the fused block cells and
// OutputProjectionWrapper are tf.contrib.rnn's only; dynamicRnn and friends are tf.nn's).
export {
  BasicRNNCell,
  BasicLSTMCell,
  LSTMCell,
  GRUCell,
  MultiRNNCell,
  RNNCell,
  LSTMStateTuple,
  DropoutWrapper,
  ResidualWrapper,
  type RNNState,
  type StateSize,
  type RNNActivation,
  type BatchSize,
  type BasicRNNCellOptions,
  type BasicLSTMCellOptions,
  type LSTMCellOptions,
  type GRUCellOptions,
  type DropoutWrapperOptions,
  type KeepProb,
} from './rnn.js';
