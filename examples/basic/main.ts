// Builds a small graph, runs it in a Session and prints the results.
import { pathToFileURL } from 'node:url';
import * as tf from '../../src/index.js';

/** The graph in the default graph: y = relu(x W + b) for x [n, 3], and the sums of y's rows. */
export function buildBasic() {
  const x = tf.placeholder('float32', [null, 3], 'x');
  const w = new tf.Variable(tf.constant([[1, 0], [0, 1], [1, 1]]), { name: 'W' });
  const b = new tf.Variable(tf.constant([0.5, -0.5]), { name: 'b' });
  const y = tf.nn.relu(tf.add(tf.matmul(x, w), b));
  const total = tf.reduceSum(y, 1);
  return { x, y, total };
}

async function main(): Promise<void> {
  const { x, y, total } = buildBasic();
  const sess = new tf.Session();
  await sess.run(tf.globalVariablesInitializer());
  const { yv, tv } = await sess.run({ yv: y, tv: total }, [[x, [[1, 2, 3], [-4, 0, 1]]]]);
  console.log('graph ops:', tf.getDefaultGraph().getOperations().length);
  console.log('y =', yv.toArray());
  console.log('row sums =', tv.toArray());
  sess.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
