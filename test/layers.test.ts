import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { columnStats, expectClose, fromTfjs, randomArray, tfjs } from './helpers.js';

// Graph objects are compared by identity or name: formatting one in a failure message would walk the whole graph.
function expectSame(a: unknown, b: unknown): void {
  expect(a === b, 'same object').toBe(true);
}
const names = (vs: { name: string }[]): string[] => vs.map((v) => v.name);

/** A session over g with the global variables initialized. */
async function initSession(g: tf.Graph): Promise<tf.Session> {
  const sess = new tf.Session({ graph: g });
  await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
  return sess;
}

function matmulBias(x: tf.NDArray, w: tf.NDArray, b: tf.NDArray | null, relu: boolean): number[] {
  const [n, k] = x.shape as [number, number];
  const m = w.shape[1]!;
  const xd = x.data as Float32Array;
  const wd = w.data as Float32Array;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = b ? (b.data as Float32Array)[j]! : 0;
      for (let t = 0; t < k; t++) s += xd[i * k + t]! * wd[t * m + j]!;
      out.push(relu ? Math.max(0, s) : s);
    }
  }
  return out;
}

describe('tf.layers.dense', () => {
  it('creates dense/kernel and dense/bias, names ops under dense/, and computes relu(x W + b)', async () => {
    const g = new tf.Graph();
    const x = randomArray([5, 4], { seed: 1 });
    const { y, xp } = g.asDefault(() => {
      const xp = tf.placeholder('float32', [null, 4], 'x');
      return { xp, y: tf.layers.dense(xp, 3, { activation: tf.nn.relu, biasInitializer: tf.constantInitializer(0.3) }) };
    });
    expect(y.shape).toEqual([null, 3]);
    expect(y.op.name).toBe('dense/Relu');
    for (const n of ['dense/MatMul', 'dense/BiasAdd', 'dense/kernel', 'dense/bias', 'dense/kernel/Initializer/random_uniform']) {
      expect(g.hasOperation(n), n).toBe(true);
    }
    const vars = g.asDefault(() => tf.globalVariables());
    expect(names(vars)).toEqual(['dense/kernel:0', 'dense/bias:0']);
    expect(names(g.asDefault(() => tf.trainableVariables()))).toEqual(['dense/kernel:0', 'dense/bias:0']);
    expect(vars[0]!.shape).toEqual([4, 3]);
    expect(vars[1]!.shape).toEqual([3]);
    const sess = await initSession(g);
    const [yv, w, b] = await sess.run([y, vars[0]!, vars[1]!], [[xp, x]]);
    expectClose(b!, [0.3, 0.3, 0.3]);
    // Glorot uniform limit for a [4, 3] kernel.
    for (const v of w!.data as Float32Array) expect(Math.abs(v)).toBeLessThanOrEqual(Math.sqrt(6 / 7));
    expectClose(yv!, matmulBias(x, w!, b!, true));
    sess.close();
  });

  it('counts layer names per graph: dense, dense_1, ...; a second graph starts over', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 3]);
      const h = tf.layers.dense(x, 4);
      const y = tf.layers.dense(h, 2, { useBias: false });
      expect(h.op.name).toBe('dense/BiasAdd');
      expect(y.op.name).toBe('dense_1/MatMul');
      expect(names(tf.globalVariables())).toEqual(['dense/kernel:0', 'dense/bias:0', 'dense_1/kernel:0']);
    });
    const g2 = new tf.Graph();
    g2.asDefault(() => {
      tf.layers.dense(tf.placeholder('float32', [2, 3]), 1);
      expect(names(tf.globalVariables())).toEqual(['dense/kernel:0', 'dense/bias:0']);
    });
  });

  it('name + reuse shares the variables; without reuse TF\'s ValueError; ops get a fresh name scope', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 3]);
      const a = tf.layers.dense(x, 4, { name: 'fc' });
      const b = tf.layers.dense(x, 4, { name: 'fc', reuse: true });
      expect(a.op.name).toBe('fc/BiasAdd');
      expect(b.op.name).toBe('fc_1/BiasAdd');
      expect(names(tf.globalVariables())).toEqual(['fc/kernel:0', 'fc/bias:0']);
      // Both read the same kernel.
      expectSame(b.op.inputs[0]!.op.inputs[1], a.op.inputs[0]!.op.inputs[1]);
      expect(() => tf.layers.dense(x, 4, { name: 'fc' })).toThrow(
        'Variable fc/kernel already exists, disallowed. Did you mean to set reuse=True or reuse=tf.AUTO_REUSE in VarScope?',
      );
      expect(() => tf.layers.dense(x, 5, { name: 'fc', reuse: true })).toThrow(
        'Trying to share variable fc/kernel, but specified shape (3, 5) and found shape (3, 4).',
      );
      expect(() => tf.layers.dense(x, 4, { name: 'nope', reuse: true })).toThrow('Variable nope/kernel does not exist');
    });
  });

  it('lives inside variable scopes; re-entering a scope with reuse shares unnamed layers (TF1 model functions)', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 3], { seed: 2 });
    const { y1, y2, xp } = g.asDefault(() => {
      const xp = tf.placeholder('float32', [null, 3]);
      const net = (reuse: boolean) =>
        tf.variableScope('disc', { reuse }, () => tf.layers.dense(tf.layers.dense(xp, 4, { activation: tf.nn.tanh }), 1));
      return { xp, y1: net(false), y2: net(true) };
    });
    expect(names(g.asDefault(() => tf.globalVariables()))).toEqual([
      'disc/dense/kernel:0',
      'disc/dense/bias:0',
      'disc/dense_1/kernel:0',
      'disc/dense_1/bias:0',
    ]);
    expect(y1.op.name).toBe('disc/dense_1/BiasAdd');
    expect(y2.op.name).toBe('disc_1/dense_1/BiasAdd');
    const sess = await initSession(g);
    const [a, b] = await sess.run([y1, y2], [[xp, x]]);
    expectClose(a!, b!, { atol: 0, rtol: 0 });
    sess.close();
    // AUTO_REUSE scopes work the same way.
    const g2 = new tf.Graph();
    g2.asDefault(() => {
      const xp = tf.placeholder('float32', [null, 3]);
      for (let i = 0; i < 3; i++) tf.variableScope('m', { reuse: tf.AUTO_REUSE }, () => tf.layers.dense(xp, 2));
      expect(names(tf.globalVariables())).toEqual(['m/dense/kernel:0', 'm/dense/bias:0']);
    });
  });

  it('name scopes prefix the ops but not the variables; an unnamed layer with reuse reuses "dense"', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder('float32', [2, 3]);
      const a = tf.nameScope('tower', () => tf.layers.dense(x, 2));
      const b = tf.nameScope('tower', () => tf.layers.dense(x, 2, { reuse: true }));
      expect(a.op.name).toBe('tower/dense/BiasAdd');
      expect(b.op.name).toBe('tower_1/dense/BiasAdd');
      expect(names(tf.globalVariables())).toEqual(['dense/kernel:0', 'dense/bias:0']);
    });
  });

  it('a Layer object applied twice shares its weights', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const layer = new tf.layers.Dense(2, { name: 'shared' });
      const x1 = tf.placeholder('float32', [1, 3]);
      const x2 = tf.placeholder('float32', [4, 3]);
      const a = layer.apply(x1);
      const b = layer.apply(x2);
      expect(a.shape).toEqual([1, 2]);
      expect(b.shape).toEqual([4, 2]);
      expect(layer.scopeName).toBe('shared');
      expect(names(layer.trainableVariables)).toEqual(['shared/kernel:0', 'shared/bias:0']);
      expect(names(tf.globalVariables())).toEqual(['shared/kernel:0', 'shared/bias:0']);
      const unnamed = new tf.layers.Dense(2);
      expect(() => unnamed.scopeName).toThrow('has not been used yet');
      unnamed.apply(x1);
      expect(unnamed.scopeName).toBe('dense');
    });
  });

  it('trainable=false, kernelInitializer, the scope initializer and regularizers', async () => {
    const g = new tf.Graph();
    const { y, frozen } = g.asDefault(() => {
      const x = tf.constant([[1, 2]]);
      const frozen = tf.layers.dense(x, 2, { trainable: false, name: 'frozen' });
      const y = tf.variableScope('s', { initializer: tf.constantInitializer(0.5) }, () =>
        tf.layers.dense(x, 1, { kernelRegularizer: tf.contrib.layers.l2Regularizer(0.1), biasInitializer: tf.onesInitializer() }),
      );
      return { y, frozen };
    });
    g.asDefault(() => {
      expect(names(tf.trainableVariables())).toEqual(['s/dense/kernel:0', 's/dense/bias:0']);
      expect(names(tf.globalVariables())).toEqual(['frozen/kernel:0', 'frozen/bias:0', 's/dense/kernel:0', 's/dense/bias:0']);
    });
    const losses = g.getCollection<tf.Tensor>(tf.GraphKeys.REGULARIZATION_LOSSES);
    expect(losses.length).toBe(1);
    expect(losses[0]!.op.name.startsWith('s/dense/kernel/Regularizer/')).toBe(true);
    const sess = await initSession(g);
    const [yv, lv] = await sess.run([y, losses[0]!]);
    expectClose(yv!, [0.5 * 1 + 0.5 * 2 + 1]);
    expectClose(lv!, [0.1 * (0.25 + 0.25) / 2]);
    expect(frozen.shape).toEqual([1, 2]);
    sess.close();
  });

  it('contracts the last axis of higher-rank inputs (tensordot)', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 3, 4], { seed: 3 });
    const { y, k, b, xp } = g.asDefault(() => {
      const xp = tf.placeholder('float32', [null, 3, 4]);
      const y = tf.layers.dense(xp, 5);
      const [k, b] = tf.globalVariables();
      return { y, k: k!, b: b!, xp };
    });
    expect(y.shape).toEqual([null, 3, 5]);
    const sess = await initSession(g);
    const [yv, kv, bv] = await sess.run([y, k, b], [[xp, x]]);
    expect(yv!.shape).toEqual([2, 3, 5]);
    expectClose(yv!, matmulBias(new tf.NDArray(x.data, [6, 4]), kv!, bv!, false));
    sess.close();
  });

  it('rejects inputs whose last dimension is unknown', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => tf.layers.dense(tf.placeholder('float32', [2, null]), 3)).toThrow(
        'The last dimension of the inputs to `Dense` should be defined. Found `None`.',
      );
    });
  });
});

describe('tf.layers.conv2d', () => {
  const cases: { shape: number[]; filters: number; k: number | number[]; opts: tf.layers.Conv2DOptions }[] = [
    { shape: [2, 7, 7, 3], filters: 4, k: 3, opts: {} },
    { shape: [1, 8, 8, 2], filters: 3, k: [5, 3], opts: { padding: 'same', strides: [2, 1], activation: tf.nn.relu } },
    { shape: [2, 9, 9, 1], filters: 2, k: 3, opts: { padding: 'same', dilationRate: 2, useBias: false } },
  ];
  for (const c of cases) {
    it(`input [${c.shape}] ${c.filters} filters k=${JSON.stringify(c.k)} ${JSON.stringify({ ...c.opts, activation: c.opts.activation ? 'relu' : undefined })} matches tfjs`, async () => {
      const tj = await tfjs();
      const g = new tf.Graph();
      const x = randomArray(c.shape, { seed: 4 });
      const { y, vars } = g.asDefault(() => {
        const y = tf.layers.conv2d(tf.constant(x), c.filters, c.k, { ...c.opts, biasInitializer: tf.randomUniformInitializer({ seed: 1 }) });
        return { y, vars: tf.globalVariables() };
      });
      const kh = typeof c.k === 'number' ? c.k : c.k[0]!;
      const kw = typeof c.k === 'number' ? c.k : c.k[1]!;
      expect(vars[0]!.name).toBe('conv2d/kernel:0');
      expect(vars[0]!.shape).toEqual([kh, kw, c.shape[3]!, c.filters]);
      expect(g.hasOperation('conv2d/Conv2D')).toBe(true);
      const sess = await initSession(g);
      const [yv, kv, bv] = await sess.run([y, vars[0]!, (vars[1] ?? vars[0])!]);
      sess.close();
      const t = (a: tf.NDArray) => tj.tensor(a.data as Float32Array, a.shape);
      const s = c.opts.strides ?? 1;
      const x4 = tj.tensor4d(x.data as Float32Array, c.shape as [number, number, number, number]);
      const k4 = tj.tensor4d(kv!.data as Float32Array, kv!.shape as [number, number, number, number]);
      let ref: ReturnType<typeof tj.add> = tj.conv2d(x4, k4, s as [number, number], c.opts.padding ?? 'valid', 'NHWC', (c.opts.dilationRate ?? 1) as number);
      if (c.opts.useBias !== false) {
        expect(vars[1]!.name).toBe('conv2d/bias:0');
        ref = tj.add(ref, t(bv!));
      }
      if (c.opts.activation) ref = tj.relu(ref);
      expect(y.shape).toEqual(ref.shape);
      expectClose(yv!, await fromTfjs(ref), { atol: 1e-4 });
    });
  }

  it('channels_first gives the channels_last result transposed; kernel shape and names', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 6, 6, 3], { seed: 5 });
    const { last, first } = g.asDefault(() => {
      const xl = tf.constant(x);
      const last = tf.layers.conv2d(xl, 4, 3, { name: 'c', padding: 'same', biasInitializer: tf.constantInitializer([1, 2, 3, 4]) });
      const xf = tf.transpose(xl, [0, 3, 1, 2]);
      const first = tf.layers.conv2d(xf, 4, 3, { name: 'c', reuse: true, padding: 'same', dataFormat: 'channels_first' });
      return { last, first };
    });
    expect(first.shape).toEqual([2, 4, 6, 6]);
    const sess = await initSession(g);
    const [lv, fv] = await sess.run([last, g.asDefault(() => tf.transpose(first, [0, 2, 3, 1]))]);
    expectClose(fv!, lv!, { atol: 1e-5 });
    sess.close();
  });

  it('checks the input rank and channel dimension', () => {
    new tf.Graph().asDefault(() => {
      expect(() => tf.layers.conv2d(tf.placeholder('float32', [null, 28, 28]), 2, 3)).toThrow('expected ndim=4, found ndim=3');
      expect(() => tf.layers.conv2d(tf.placeholder('float32', [null, 28, 28, null]), 2, 3)).toThrow(
        'The channel dimension of the inputs should be defined',
      );
      expect(() => tf.layers.conv2d(tf.placeholder('float32', [1, 8, 8, 1]), 2, [3, 3, 3])).toThrow('kernel_size');
    });
  });
});

describe('tf.layers.conv2dTranspose', () => {
  for (const padding of ['same', 'valid'] as const) {
    it(`${padding} padding, stride 2: output size and values match tfjs conv2dTranspose`, async () => {
      const tj = await tfjs();
      const g = new tf.Graph();
      const x = randomArray([3, 4, 4, 2], { seed: 6 });
      const { y, k, b, xp } = g.asDefault(() => {
        const xp = tf.placeholder('float32', [null, 4, 4, 2]);
        const y = tf.layers.conv2dTranspose(xp, 5, 3, { strides: 2, padding, biasInitializer: tf.constantInitializer(0.1) });
        const [k, b] = tf.globalVariables();
        return { y, k: k!, b: b!, xp };
      });
      const side = padding === 'same' ? 8 : 9;
      expect(y.shape).toEqual([null, side, side, 5]);
      expect(k.name).toBe('conv2d_transpose/kernel:0');
      expect(k.shape).toEqual([3, 3, 5, 2]);
      expect(b.shape).toEqual([5]);
      const sess = await initSession(g);
      const [yv, kv] = await sess.run([y, k], [[xp, x]]);
      sess.close();
      const ref = tj.add(
        tj.conv2dTranspose(tj.tensor4d(x.data as Float32Array, [3, 4, 4, 2]), tj.tensor4d(kv!.data as Float32Array, [3, 3, 5, 2]), [3, side, side, 5], 2, padding),
        0.1,
      );
      expectClose(yv!, await fromTfjs(ref), { atol: 1e-4 });
    });
  }

  it('computes the output size at run time when the spatial dims are unknown', async () => {
    const g = new tf.Graph();
    const { y, xp } = g.asDefault(() => {
      const xp = tf.placeholder('float32', [null, null, null, 1]);
      return { xp, y: tf.layers.conv2dTranspose(xp, 2, 4, { strides: 2 }) };
    });
    expect(y.shape).toEqual([null, null, null, 2]);
    const sess = await initSession(g);
    const yv = await sess.run(y, [[xp, randomArray([2, 3, 5, 1], { seed: 7 })]]);
    expect(yv.shape).toEqual([2, 8, 12, 2]);
    sess.close();
  });
});

describe('pooling layers', () => {
  for (const [padding, pool, strides] of [
    ['valid', 2, 2],
    ['same', 3, 2],
    ['valid', [3, 2], [1, 2]],
  ] as const) {
    it(`max and average pooling (${padding}, pool ${JSON.stringify(pool)}, strides ${JSON.stringify(strides)}) match tfjs`, async () => {
      const tj = await tfjs();
      const g = new tf.Graph();
      const x = randomArray([2, 7, 6, 3], { seed: 8 });
      const [mx, av] = g.asDefault(() => [
        tf.layers.maxPooling2d(tf.constant(x), pool as number, strides as number, { padding }),
        tf.layers.averagePooling2d(tf.constant(x), pool as number, strides as number, { padding }),
      ]);
      expect(mx!.op.name).toBe('max_pooling2d/MaxPool');
      expect(av!.op.name).toBe('average_pooling2d/AvgPool');
      const sess = new tf.Session({ graph: g });
      const [mv, avv] = await sess.run([mx!, av!]);
      sess.close();
      const xt = tj.tensor4d(x.data as Float32Array, [2, 7, 6, 3]);
      const ps = (typeof pool === 'number' ? [pool, pool] : pool) as [number, number];
      const ss = (typeof strides === 'number' ? [strides, strides] : strides) as [number, number];
      expectClose(mv!, await fromTfjs(tj.maxPool(xt, ps, ss, padding)), { atol: 1e-6 });
      expectClose(avv!, await fromTfjs(tj.avgPool(xt, ps, ss, padding)), { atol: 1e-5 });
    });
  }
});

describe('tf.layers.flatten', () => {
  it('flattens all but the batch dimension, with a static or run-time batch size', async () => {
    const g = new tf.Graph();
    const x = randomArray([3, 2, 3, 4], { seed: 9 });
    const { a, b, c, xp } = g.asDefault(() => {
      const xp = tf.placeholder('float32', [null, 2, 3, 4]);
      return {
        xp,
        a: tf.layers.flatten(xp),
        b: tf.layers.flatten(tf.constant(x)),
        c: tf.layers.flatten(xp, { dataFormat: 'channels_first' }),
      };
    });
    expect(a.shape).toEqual([null, 24]);
    expect(b.shape).toEqual([3, 24]);
    expect(a.op.name.startsWith('flatten/')).toBe(true);
    expect(b.op.name.startsWith('flatten_1/')).toBe(true);
    const sess = new tf.Session({ graph: g });
    const [av, bv, cv] = await sess.run([a, b, c], [[xp, x]]);
    sess.close();
    expectClose(av!, x.data as Float32Array, { shape: [3, 24] });
    expectClose(bv!, x.data as Float32Array, { shape: [3, 24] });
    // channels_first: channels (dim 1) move last before flattening.
    const xd = x.data as Float32Array;
    const expected: number[] = [];
    for (let n = 0; n < 3; n++) for (let h = 0; h < 3; h++) for (let w = 0; w < 4; w++) for (let ch = 0; ch < 2; ch++) expected.push(xd[((n * 2 + ch) * 3 + h) * 4 + w]!);
    expectClose(cv!, expected, { shape: [3, 24] });
  });
});

describe('tf.layers.dropout', () => {
  it('passes inputs through unless training; in training drops a `rate` fraction and scales by 1 / (1 - rate)', async () => {
    const g = new tf.Graph();
    const { off, on, onDefault, flag, dyn } = g.asDefault(() => {
      const x = tf.ones([100, 100]);
      const flag = tf.placeholder('bool', [], 'training');
      return {
        flag,
        off: tf.layers.dropout(x, { rate: 0.3 }),
        on: tf.layers.dropout(x, { rate: 0.3, training: true, seed: 1 }),
        onDefault: tf.layers.dropout(x, { training: tf.constant(true), seed: 2 }),
        dyn: tf.layers.dropout(x, { rate: 0.3, training: flag, seed: 3 }),
      };
    });
    expect(off.op.name).toBe('dropout/Identity');
    const sess = new tf.Session({ graph: g });
    const frac = (a: tf.NDArray, scale: number): number => {
      const d = a.data as Float32Array;
      let kept = 0;
      for (const v of d) {
        if (v !== 0) {
          kept++;
          expect(v).toBeCloseTo(scale, 5);
        }
      }
      return kept / d.length;
    };
    const [offv, onv, defv] = await sess.run([off, on, onDefault]);
    expect(frac(offv!, 1)).toBe(1);
    expect(Math.abs(frac(onv!, 1 / 0.7) - 0.7)).toBeLessThan(0.02);
    expect(Math.abs(frac(defv!, 2) - 0.5)).toBeLessThan(0.02);
    const t = new tf.NDArray(Uint8Array.of(1), [], 'bool');
    const f = new tf.NDArray(Uint8Array.of(0), [], 'bool');
    expect(Math.abs(frac(await sess.run(dyn, [[flag, t]]), 1 / 0.7) - 0.7)).toBeLessThan(0.02);
    expect(frac(await sess.run(dyn, [[flag, f]]), 1)).toBe(1);
    sess.close();
    expect(() => new tf.Graph().asDefault(() => tf.layers.dropout(tf.ones([2]), { rate: 1 }))).toThrow('range [0, 1)');
  });
});

describe('tf.layers.batchNormalization', () => {
  function normalize(x: tf.NDArray, mean: number[], variance: number[], gamma: number[], beta: number[], eps: number): number[] {
    const c = x.shape[1]!;
    return Array.from(x.data as Float32Array, (v, i) => ((v - mean[i % c]!) / Math.sqrt(variance[i % c]! + eps)) * gamma[i % c]! + beta[i % c]!);
  }

  it('creates gamma, beta (trainable) and moving_mean, moving_variance (not trainable)', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      tf.layers.batchNormalization(tf.placeholder('float32', [null, 3]));
      expect(names(tf.globalVariables())).toEqual([
        'batch_normalization/gamma:0',
        'batch_normalization/beta:0',
        'batch_normalization/moving_mean:0',
        'batch_normalization/moving_variance:0',
      ]);
      expect(names(tf.trainableVariables())).toEqual(['batch_normalization/gamma:0', 'batch_normalization/beta:0']);
      // Inference mode (training false, the default) adds no update ops.
      expect(tf.getCollection(tf.GraphKeys.UPDATE_OPS).length).toBe(0);
      tf.layers.batchNormalization(tf.placeholder('float32', [null, 3]), { center: false, scale: false, training: true });
      expect(names(tf.globalVariables()).slice(4)).toEqual(['batch_normalization_1/moving_mean:0', 'batch_normalization_1/moving_variance:0']);
      expect(names(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS))).toEqual([
        'batch_normalization_1/AssignMovingAvg:0',
        'batch_normalization_1/AssignMovingAvg_1:0',
      ]);
      expect(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS)[0]!.op.type).toBe('AssignSub');
    });
  });

  it('training: normalizes with batch statistics; the update ops move the moving statistics by (1 - momentum)', async () => {
    const g = new tf.Graph();
    const x = randomArray([8, 3], { seed: 10, min: -1, max: 3 });
    const gamma = [1.5, 0.5, 2];
    const beta = [0.1, -0.2, 0.3];
    const { y, updates, mm, mv } = g.asDefault(() => {
      const y = tf.layers.batchNormalization(tf.constant(x), {
        training: true,
        momentum: 0.9,
        epsilon: 0.01,
        gammaInitializer: tf.constantInitializer(gamma),
        betaInitializer: tf.constantInitializer(beta),
      });
      const [, , mm, mv] = tf.globalVariables();
      return { y, updates: tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), mm: mm!, mv: mv! };
    });
    const { mean, variance } = columnStats(x);
    const sess = await initSession(g);
    expectClose(await sess.run(y), normalize(x, mean, variance, gamma, beta, 0.01), { atol: 1e-4 });
    // Nothing moves until the updates run.
    expectClose(await sess.run(mm), [0, 0, 0]);
    let m = [0, 0, 0];
    let v = [1, 1, 1];
    for (let step = 0; step < 2; step++) {
      await sess.run(updates);
      m = m.map((mi, j) => mi - (mi - mean[j]!) * 0.1);
      v = v.map((vi, j) => vi - (vi - variance[j]!) * 0.1);
      const [mmv, mvv] = await sess.run([mm, mv]);
      expectClose(mmv!, m, { atol: 1e-5 });
      expectClose(mvv!, v, { atol: 1e-5 });
    }
    sess.close();
  });

  it('inference uses the moving statistics; a bool tensor chooses at run time', async () => {
    const g = new tf.Graph();
    const x = randomArray([6, 2], { seed: 11, min: 0, max: 4 });
    const { inf, dyn, flag, updates, mm } = g.asDefault(() => {
      const xt = tf.constant(x);
      const flag = tf.placeholder('bool', [], 'is_training');
      const opts = { name: 'bn', movingMeanInitializer: tf.constantInitializer([1, 2]), movingVarianceInitializer: tf.constantInitializer([4, 0.25]) };
      const dyn = tf.layers.batchNormalization(xt, { ...opts, training: flag });
      const inf = tf.layers.batchNormalization(xt, { name: 'bn', reuse: true, training: false });
      return { inf, dyn, flag, updates: tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), mm: tf.globalVariables()[2]! };
    });
    expect(names(g.asDefault(() => tf.globalVariables()))).toEqual(['bn/gamma:0', 'bn/beta:0', 'bn/moving_mean:0', 'bn/moving_variance:0']);
    expect(updates.length).toBe(2);
    const sess = await initSession(g);
    const byMoving = normalize(x, [1, 2], [4, 0.25], [1, 1], [0, 0], 1e-3);
    expectClose(await sess.run(inf), byMoving, { atol: 1e-5 });
    const T = new tf.NDArray(Uint8Array.of(1), [], 'bool');
    const F = new tf.NDArray(Uint8Array.of(0), [], 'bool');
    // training=false at run time: moving statistics, and the updates leave them as they are.
    const [yf] = await sess.run([dyn, ...updates], [[flag, F]]);
    expectClose(yf!, byMoving, { atol: 1e-5 });
    expectClose(await sess.run(mm), [1, 2]);
    // training=true at run time: batch statistics, and the moving mean moves toward the batch mean.
    const { mean, variance } = columnStats(x);
    const [yt] = await sess.run([dyn, ...updates], [[flag, T]]);
    expectClose(yt!, normalize(x, mean, variance, [1, 1], [0, 0], 1e-3), { atol: 1e-4 });
    expectClose(await sess.run(mm), [1 - (1 - mean[0]!) * 0.01, 2 - (2 - mean[1]!) * 0.01], { atol: 1e-6 });
    sess.close();
  });

  it('normalizes per channel of NCHW inputs with axis=1, and of NHWC images over N, H, W', async () => {
    const g = new tf.Graph();
    const x = randomArray([2, 3, 4, 5], { seed: 12 });
    const { nchw, nhwc } = g.asDefault(() => {
      const xt = tf.constant(x);
      return {
        nchw: tf.layers.batchNormalization(xt, { axis: 1, training: true }),
        nhwc: tf.layers.batchNormalization(tf.transpose(xt, [0, 2, 3, 1]), { training: true }),
      };
    });
    g.asDefault(() => {
      for (const v of tf.globalVariables()) expect(v.shape).toEqual([3]);
    });
    const sess = await initSession(g);
    const [a, b] = await sess.run([nchw, g.asDefault(() => tf.transpose(nhwc, [0, 3, 1, 2]))]);
    expectClose(a!, b!, { atol: 1e-4 });
    // Each channel of the output has mean 0 and variance v / (v + eps).
    const d = a!.data as Float32Array;
    for (let ch = 0; ch < 3; ch++) {
      let s = 0;
      for (let n = 0; n < 2; n++) for (let i = 0; i < 20; i++) s += d[(n * 3 + ch) * 20 + i]!;
      expect(Math.abs(s / 40)).toBeLessThan(1e-5);
    }
    sess.close();
  });

  it('trains with the updates run alongside the train op (tf.controlDependencies)', async () => {
    const g = new tf.Graph();
    const x = randomArray([16, 2], { seed: 13, min: 2, max: 6 });
    const { train, mm, loss } = g.asDefault(() => {
      const h = tf.layers.batchNormalization(tf.constant(x), { training: true, momentum: 0.5 });
      const loss = tf.reduceMean(tf.square(tf.subtract(tf.layers.dense(h, 1, { kernelInitializer: tf.onesInitializer() }), 1)));
      const updates = tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS);
      const train = tf.controlDependencies(updates, () => new tf.train.GradientDescentOptimizer(0.1).minimize(loss));
      return { train, mm: tf.globalVariables()[2]!, loss };
    });
    const sess = await initSession(g);
    const l0 = (await sess.run(loss)).scalar() as number;
    for (let i = 0; i < 5; i++) await sess.run(train);
    const l1 = (await sess.run(loss)).scalar() as number;
    expect(l1).toBeLessThan(l0);
    // Five updates with momentum 0.5 bring the moving mean within 1/32 of the batch mean.
    const { mean } = columnStats(x);
    const mmv = Array.from((await sess.run(mm)).data as Float32Array);
    mmv.forEach((v, j) => expect(Math.abs(v - mean[j]!)).toBeLessThan(mean[j]! / 31));
    sess.close();
  });

  it('rejects inputs of unknown rank or with an unknown feature dimension', () => {
    new tf.Graph().asDefault(() => {
      expect(() => tf.layers.batchNormalization(tf.placeholder('float32'))).toThrow('Input has undefined rank');
      expect(() => tf.layers.batchNormalization(tf.placeholder('float32', [2, null]))).toThrow('Input has undefined `axis` dimension');
      expect(() => tf.layers.batchNormalization(tf.placeholder('float32', [2, 3]), { axis: 2 })).toThrow('Invalid axis: 2');
    });
  });
});
