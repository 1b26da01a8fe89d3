// Everything under tf.nn, gathered from the files that implement it.
export * from './nn.js';
export * from './conv.js';
export * from './nn_extra.js';
export { dynamicRnn, staticRnn, type DynamicRnnOptions, type StaticRnnOptions } from './rnn.js';
export * as rnnCell from './rnn.js';
