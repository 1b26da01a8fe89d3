// The WebGPU backend's own behaviour: kernel coverage, buffers made once per plan, one submission
// per run, host fallback, typed errors, clean exit. Runs on whatever adapter Dawn finds (SwiftShader
// in CI, see scripts/setup-webgpu.sh).
import { isRuntimeOp } from '../runtime/control_flow.js';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { listOps } from '../ops/registry.js';
import { CpuBackend } from '../runtime/cpu/backend.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import type { Backend } from '../runtime/backend.js';
import { listGpuKernels } from '../runtime/webgpu/registry.js';
import { HOST_PLACED } from '../runtime/webgpu/host_ops.js';
import { getDevice } from '../runtime/webgpu/device.js';
import { randomArray } from './helpers.js';


function mlp() {
  const g = new tf.Graph();
  return g.asDefault(() => {
    const x = tf.placeholder('float32', [null, 20], 'x');
    const y = tf.placeholder('int32', [null], 'y');
    const w1 = new tf.Variable(randomArray([20, 32], { seed: 1, min: -0.3, max: 0.3 }), { name: 'w1' });
    const b1 = new tf.Variable(tf.zeros([32]), { name: 'b1' });
    const w2 = new tf.Variable(randomArray([32, 5], { seed: 2, min: -0.3, max: 0.3 }), { name: 'w2' });
    const h = tf.nn.relu(tf.nn.biasAdd(tf.matmul(x, w1), b1));
    const logits = tf.matmul(h, w2);
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
    const train = new tf.train.AdamOptimizer(0.01).minimize(loss);
    return { g, x, y, loss, train, init: tf.globalVariablesInitializer() };
  });
}

/**
 * Runs fn without the suite's verification mode, which reads every variable back and reruns each
 * step on the CPU: counting submissions needs it off, and so does a tensor the CPU could allocate
 * only at great cost.
 */
async function withoutVerify<T>(fn: () => Promise<T>): Promise<T> {
  const saved = process.env.WEIR_VERIFY_OPT;
  process.env.WEIR_VERIFY_OPT = '0';
  try {
    return await fn();
  } finally {
    process.env.WEIR_VERIFY_OPT = saved;
  }
}

describe('webgpu backend', () => {
  it('has a WGSL kernel for every op in the registry but those placed on the host on purpose and those the runtime runs itself', () => {
    const gpu = new Set(listGpuKernels());
    const missing = listOps()
      .map((d) => d.type)
      .filter((t) => !gpu.has(t) && !Object.hasOwn(HOST_PLACED, t) && !isRuntimeOp(t));
    expect(missing).toEqual([]);
    for (const t of ['_FusedElementwise', '_FusedMatMul', '_FusedConv2D', '_Copy']) expect(gpu.has(t), t).toBe(true);
    // The host list holds registered ops without a GPU kernel, nothing else.
    const registered = new Set(listOps().map((d) => d.type));
    expect(Object.keys(HOST_PLACED).filter((t) => gpu.has(t) || !registered.has(t))).toEqual([]);
  });

  it('trains with one submission per step, no host work and no new GPU objects after the first run', () => withoutVerify(async () => {
    const m = mlp();
    const backend = new WebGpuBackend(new CpuBackend());
    const sess = new tf.Session({ graph: m.g, backend });
    await sess.run(m.init);
    const feeds: [tf.Tensor, tf.NDArray][] = [
      [m.x, randomArray([16, 20], { seed: 3 })],
      [m.y, randomArray([16], { seed: 4, min: 0, max: 5, dtype: 'int32' })],
    ];
    const first = (await sess.run([m.loss, m.train], feeds))[0].data[0] as number;
    const before = { ...backend.stats };
    let last = first;
    for (let i = 0; i < 5; i++) last = (await sess.run([m.loss, m.train], feeds))[0].data[0] as number;
    const s = backend.stats;
    expect(s.submissions - before.submissions).toBe(5);
    expect(s.buffers - before.buffers).toBe(0);
    expect(s.pipelines - before.pipelines).toBe(0);
    expect(s.bindGroups - before.bindGroups).toBe(0);
    expect(s.readbacks - before.readbacks).toBe(0);
    expect(s.hostOps - before.hostOps).toBe(0);
    expect(last).toBeLessThan(first);
    sess.close();
  }));

  it('gives the CPU backend results for the same training steps', async () => {
    const m = mlp();
    const feeds: [tf.Tensor, tf.NDArray][] = [
      [m.x, randomArray([8, 20], { seed: 5 })],
      [m.y, randomArray([8], { seed: 6, min: 0, max: 5, dtype: 'int32' })],
    ];
    const losses: number[][] = [];
    for (const backend of ['cpu', 'webgpu'] as const) {
      const sess = new tf.Session({ graph: m.g, backend });
      await sess.run(m.init);
      const l: number[] = [];
      for (let i = 0; i < 4; i++) l.push((await sess.run([m.loss, m.train], feeds))[0].data[0] as number);
      losses.push(l);
      sess.close();
    }
    losses[1]!.forEach((v, i) => expect(v).toBeCloseTo(losses[0]![i]!, 4));
  });

  it('runs a host-only op on GPU values by reading them back mid-run', async () => {
    const g = new tf.Graph();
    const { s, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [64]);
      const y = tf.reduceSum(tf.square(x));
      return { x, y, s: tf.summary.scalar('sq', y) };
    });
    const backend = new WebGpuBackend(new CpuBackend());
    const sess = new tf.Session({ graph: g, backend });
    const x = g.getTensorByName('Placeholder:0');
    const [summary, value] = await sess.run([s, y], [[x, randomArray([64], { seed: 7 })]]);
    expect(summary.dtype).toBe('string');
    expect(value.data[0]).toBeGreaterThan(0);
    expect(backend.stats.readbacks).toBeGreaterThan(0);
    sess.close();
  });

  it('runs host ops on the host backend it is given, with the session\'s random streams', async () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => tf.add(tf.randomUniform([6], { seed: 7 }), 1));
    // A host that answers asynchronously and records what it ran.
    const cpu = new CpuBackend();
    const ran: string[] = [];
    const host: Backend<tf.NDArray> = {
      name: 'recording-host',
      hasKernel: (t) => cpu.hasKernel(t),
      execute: async (node, inputs, state) => {
        ran.push(node.type);
        return cpu.execute(node, inputs, state);
      },
      upload: (v) => v,
      download: async (h) => h.clone(),
      shapeOf: (h) => h.shape,
      dtypeOf: (h) => h.dtype,
      dispose: () => undefined,
    };
    const values = async (backend: WebGpuBackend | 'cpu'): Promise<number[][]> => {
      const sess = new tf.Session({ graph: g, backend });
      try {
        return [Array.from((await sess.run(y)).data as Float32Array), Array.from((await sess.run(y)).data as Float32Array)];
      } finally {
        sess.close();
      }
    };
    const [first, second] = await values(new WebGpuBackend(host));
    expect(ran).toContain('RandomUniform');
    // The stream advances from run to run as it does on the CPU.
    expect(second).not.toEqual(first);
    expect([first, second]).toEqual(await values('cpu'));
  });

  it('reports a tensor too large for the device as ResourceExhaustedError naming the op', () => withoutVerify(async () => {
    const g = new tf.Graph();
    const big = g.asDefault(() => tf.fill([2 ** 21, 1024], 1.5, 'huge'));
    const sess = new tf.Session({ graph: g, backend: 'webgpu' });
    const err = await sess.run(big).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(tf.errors.ResourceExhaustedError);
    expect((err as Error).message).toContain('huge');
    sess.close();
  }));

  it('lets a Node process exit on its own after a webgpu session', () => {
    const script = `
      import * as tf from './src/index.js';
      const x = tf.constant([1, 2, 3]);
      const sess = new tf.Session({ backend: 'webgpu' });
      const r = await sess.run(tf.multiply(x, x));
      sess.close();
      console.log('result', Array.from(r.data).join(','));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, WEIR_VERIFY_OPT: '0' },
    });
    expect(out).toContain('result 1,4,9');
  });

  // Last: it loses the process-wide device (the next session acquires a new one).
  it('turns a lost device into UnavailableError, and a new session gets a new device', async () => {
    const g = new tf.Graph();
    const { x, y } = g.asDefault(() => {
      const x = tf.placeholder('float32', [4096]);
      return { x, y: tf.exp(x) };
    });
    const feeds: [tf.Tensor, tf.NDArray][] = [[x, randomArray([4096], { seed: 8 })]];
    const sess = new tf.Session({ graph: g, backend: 'webgpu' });
    await sess.run(y, feeds);
    (await getDevice()).device.destroy();
    await new Promise((r) => setTimeout(r, 50));
    await expect(sess.run(y, feeds)).rejects.toBeInstanceOf(tf.errors.UnavailableError);
    sess.close();
    const again = new tf.Session({ graph: g, backend: 'webgpu' });
    const r = await again.run(y, feeds);
    expect(r.data[0]).toBeCloseTo(Math.exp(feeds[0]![1].data[0] as number), 4);
    again.close();
  });
});
