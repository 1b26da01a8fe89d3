// Builds a small graph, runs it in a Session and prints the results.
import * as tf from '../../src/index.js';

const x = tf.placeholder('float32', [null, 3], 'x');
const w = new tf.Variable(tf.constant([[1, 0], [0, 1], [1, 1]]), { name: 'W' });
const b = new tf.Variable(tf.constant([0.5, -0.5]), { name: 'b' });
const y = tf.nn.relu(tf.add(tf.matmul(x, w), b));
const total = tf.reduceSum(y, 1);

const sess = new tf.Session();
await sess.run(tf.globalVariablesInitializer());
const { yv, tv } = await sess.run({ yv: y, tv: total }, [[x, [[1, 2, 3], [-4, 0, 1]]]]);
console.log('graph ops:', tf.getDefaultGraph().getOperations().length);
console.log('y =', yv.toArray());
console.log('row sums =', tv.toArray());
sess.close();
