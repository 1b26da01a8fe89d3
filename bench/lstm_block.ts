// lstm_block_train_step for bench/run.ts: control_flow.ts's lstm_train_step (a 2-layer, 256-unit
// LSTM language model: embedding, tf.nn.dynamicRnn, softmax, Adam) built twice, with BasicLSTMCell
// (a dozen ops per step and their gradients) and with LSTMBlockCell (one fused op per step, its grad
// op and two matmuls), timed alternately in one process. The block model starts from the basic
// model's weights, so both compute the same losses step after step (checked and printed).
import * as tf from '../src/index.js';
import { LSTMBlockCell, type RNNCell } from '../src/api/rnn.js';
import { buildLstmLm, LSTM_LM, lstmLmIds, type BenchContext, type LineResult } from './control_flow.js';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function lstmBlockTrainStep(ctx: BenchContext): Promise<LineResult> {
  const { B, T, V, E, H } = LSTM_LM;
  const ids = lstmLmIds(ctx);
  const build = (cell: () => RNNCell) => {
    const { g, m, feeds } = buildLstmLm(cell, ids);
    return { g, m, feeds, sess: new tf.Session({ graph: g, backend: ctx.backend }) };
  };
  const basic = build(() => new tf.nn.rnnCell.BasicLSTMCell(H));
  const block = build(() => new LSTMBlockCell(H));
  await basic.sess.run(basic.m.init);
  await block.sess.run(block.m.init);
  // The block cells' variables (lstm_cell/kernel, bias) are the basic cells' (basic_lstm_cell/...), in the same order.
  const names = (vs: tf.Variable[]): string[] => vs.map((v) => v.name.replace('basic_lstm_cell', 'lstm_cell'));
  if (names(basic.m.vars).join() !== names(block.m.vars).join()) throw new Error(`variables differ: ${names(basic.m.vars)} vs ${names(block.m.vars)}`);
  const values = (await basic.sess.run(basic.m.vars.map((v) => v.value()))) as tf.NDArray[];
  await block.sess.run(block.g.asDefault(() => block.m.vars.map((v, k) => tf.assign(v, values[k]!))));

  const loss = async (s: typeof basic): Promise<number> => Number(((await s.sess.run(s.m.loss, s.feeds)) as tf.NDArray).data[0]);
  const loss0 = [await loss(basic), await loss(block)];
  await basic.sess.compile([basic.m.loss, basic.m.train], basic.feeds);
  await block.sess.compile([block.m.loss, block.m.train], block.feeds);
  const step = async (s: typeof basic): Promise<number> => Number((await s.sess.run([s.m.loss, s.m.train], s.feeds))[0].data[0]);
  // Warm-up steps (both models take the same ones, so their weights stay equal), then alternate.
  for (let i = 0; i < 2; i++) {
    await step(basic);
    await step(block);
  }
  // Wall time, and the process's CPU time (all threads): on a machine shared with other work the
  // CPU time moves less; adjacent pairs share the machine's load, so their ratio is reported too.
  const basicMs: number[] = [];
  const blockMs: number[] = [];
  const basicCpu: number[] = [];
  const blockCpu: number[] = [];
  const timed = async (s: typeof basic, wall: number[], cpu: number[]): Promise<number> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const l = await step(s);
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    return l;
  };
  let lastBasic = NaN;
  let lastBlock = NaN;
  for (let r = 0; r < ctx.runs; r++) {
    lastBasic = await timed(basic, basicMs, basicCpu);
    lastBlock = await timed(block, blockMs, blockCpu);
  }
  basic.sess.close();
  block.sess.close();
  const [b, k] = [median(basicMs), median(blockMs)];
  const steps = 2 + ctx.runs;
  return {
    line:
      `B=${B} T=${T} V=${V} E=${E} H=${H} layers=2 rounds=${ctx.runs} basic_lstm_ms=${b.toFixed(1)} lstm_block_ms=${k.toFixed(1)} basic/block=${(b / k).toFixed(2)} ` +
      `paired_basic/block=${median(basicMs.map((x, i) => x / blockMs[i]!)).toFixed(2)} basic_cpu_ms=${median(basicCpu).toFixed(1)} block_cpu_ms=${median(blockCpu).toFixed(1)} cpu_basic/block=${(median(basicCpu) / median(blockCpu)).toFixed(2)} ` +
      `loss0_basic=${loss0[0]!.toFixed(5)} loss0_block=${loss0[1]!.toFixed(5)} loss_after_${steps - 1}_steps_basic=${lastBasic.toFixed(5)} block=${lastBlock.toFixed(5)}`,
  };
}
