import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose, fromTfjs, randomArray, run, tfjs, randomDistribution } from './helpers.js';

type TfjsTensor = Parameters<typeof fromTfjs>[0];

/** Builds in a fresh graph. */
function build<T>(fn: () => T): T {
  return new tf.Graph().asDefault(fn);
}

function rawOp(type: string, inputs: tf.Tensor[], attrs: Record<string, tf.AttrValue> = {}): tf.Operation {
  return tf.getDefaultGraph().createOp(type, inputs, { T: inputs[0]!.dtype, ...attrs });
}

async function runOne(make: (...xs: tf.Tensor[]) => tf.Tensor, ...values: tf.NDArray[]): Promise<tf.NDArray> {
  const { out, phs } = build(() => {
    const phs = values.map((v, i) => tf.placeholder(v.dtype, v.shape, `x${i}`));
    return { out: make(...phs), phs };
  });
  return run(out, phs.map((p, i) => [p, values[i]!] as const));
}

let gradientsRegistered: Promise<unknown> | undefined;
/** tfjs with its gradient functions registered (tf.grad needs them). */
async function tfjsWithGrads(): Promise<Awaited<ReturnType<typeof tfjs>>> {
  const t = await tfjs();
  gradientsRegistered ??= import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await gradientsRegistered;
  return t;
}

async function oracle(t: TfjsTensor): Promise<tf.NDArray> {
  return fromTfjs(t);
}

/** Values in [-8, 8) away from 0 and 6 (kinks of relu / relu6), plus a few exact ones. */
function activationInput(shape: number[], seed: number): tf.NDArray {
  return randomArray(shape, { seed, min: -8, max: 8 });
}

describe('activations vs tfjs', () => {
  const shapes: number[][] = [[3, 5], [2, 3, 4], [], [0, 3], [1]];
  const cases: [string, (x: tf.Tensor) => tf.Tensor, (t: Awaited<ReturnType<typeof tfjs>>, x: ReturnType<Awaited<ReturnType<typeof tfjs>>['tensor']>) => TfjsTensor][] = [
    ['relu', (x) => tf.nn.relu(x), (t, x) => t.relu(x)],
    ['relu6', (x) => tf.nn.relu6(x), (t, x) => t.relu6(x)],
    ['elu', (x) => tf.nn.elu(x), (t, x) => t.elu(x)],
    ['selu', (x) => tf.nn.selu(x), (t, x) => t.selu(x)],
    ['leakyRelu default alpha', (x) => tf.nn.leakyRelu(x), (t, x) => t.leakyRelu(x, 0.2)],
    ['leakyRelu alpha 0.05', (x) => tf.nn.leakyRelu(x, 0.05), (t, x) => t.leakyRelu(x, 0.05)],
    ['softplus', (x) => tf.nn.softplus(x), (t, x) => t.softplus(x)],
  ];
  for (const [name, mine, theirs] of cases) {
    it(`${name} on float32`, async () => {
      const t = await tfjs();
      for (const [k, shape] of shapes.entries()) {
        const x = activationInput(shape, 10 + k);
        const got = await runOne(mine, x);
        const want = await oracle(theirs(t, t.tensor(x.data as Float32Array, x.shape, 'float32')));
        expectClose(got, want, { atol: 1e-5, rtol: 1e-5 });
      }
    });
  }

  it('relu and relu6 on int32 and int64 keep the dtype', async () => {
    const t = await tfjs();
    const x = randomArray([4, 5], { seed: 3, min: -9, max: 10, dtype: 'int32' });
    const r = await runOne((p) => tf.nn.relu(p), x);
    const r6 = await runOne((p) => tf.nn.relu6(p), x);
    expect(r.dtype).toBe('int32');
    expectClose(r, await oracle(t.relu(t.tensor(x.data as Int32Array, x.shape, 'int32'))));
    expectClose(r6, await oracle(t.relu6(t.tensor(x.data as Int32Array, x.shape, 'int32'))));
    const x64 = new tf.NDArray(BigInt64Array.from([-5n, 0n, 3n, 9n]), [4]);
    const r64 = await runOne((p) => tf.nn.relu(p), x64);
    const r664 = await runOne((p) => tf.nn.relu6(p), x64);
    expect(r64.dtype).toBe('int64');
    expect(Array.from(r64.data as BigInt64Array)).toEqual([0n, 0n, 3n, 9n]);
    expect(Array.from(r664.data as BigInt64Array)).toEqual([0n, 0n, 3n, 6n]);
  });

  it('softsign matches x / (1 + |x|)', async () => {
    const x = activationInput([4, 6], 4);
    const got = await runOne((p) => tf.nn.softsign(p), x);
    const xd = x.data as Float32Array;
    expectClose(got, Array.from(xd, (v) => v / (1 + Math.abs(v))));
  });

  it('softplus is accurate far from 0 and at the float32 thresholds', async () => {
    const xs = [-80, -20, -15, -13.9, 0, 13.9, 15, 20, 100, 1000];
    const got = await runOne((p) => tf.nn.softplus(p), tf.NDArray.from(xs));
    expectClose(got, xs.map((v) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v)))), { rtol: 1e-6, atol: 0 });
  });

  it('NaN passes through relu, relu6, elu', async () => {
    const x = tf.NDArray.from([NaN, 1]);
    for (const f of [tf.nn.relu, tf.nn.relu6, tf.nn.elu]) {
      const got = await runOne((p) => f(p), x);
      expect(Number.isNaN((got.data as Float32Array)[0])).toBe(true);
    }
  });

  it('leakyRelu casts integer features to float32, as TF does', async () => {
    const x = tf.NDArray.from(Int32Array.from([-10, 5]));
    const got = await runOne((p) => tf.nn.leakyRelu(p, 0.1), x);
    expect(got.dtype).toBe('float32');
    expectClose(got, [-1, 5]);
  });

  it('op names and types follow TF1', () => {
    build(() => {
      const x = tf.placeholder('float32', [2]);
      expect(tf.nn.relu(x).op.name).toBe('Relu');
      expect(tf.nn.relu(x).op.name).toBe('Relu_1');
      expect(tf.nn.leakyRelu(x).op.type).toBe('LeakyRelu');
      expect(tf.nn.leakyRelu(x, 0.3).op.attrs.alpha).toBeCloseTo(0.3);
      expect(tf.nn.selu(x, 'act').op.name).toBe('act');
      expect(tf.nn.softplus(x).op.type).toBe('Softplus');
      expect(tf.nn.softsign(x).op.type).toBe('Softsign');
      expect(tf.nn.sigmoid).toBe(tf.sigmoid);
      expect(tf.nn.tanh).toBe(tf.tanh);
    });
  });
});

describe('activation gradient kernels vs tfjs', () => {
  const cases: [string, string, (t: Awaited<ReturnType<typeof tfjs>>) => (x: never) => never, 'features' | 'outputs', number?][] = [
    ['ReluGrad', 'Relu', (t) => t.relu as never, 'features'],
    ['Relu6Grad', 'Relu6', (t) => t.relu6 as never, 'features'],
    ['EluGrad', 'Elu', (t) => t.elu as never, 'outputs'],
    ['SeluGrad', 'Selu', (t) => t.selu as never, 'outputs'],
    ['SoftplusGrad', 'Softplus', (t) => t.softplus as never, 'features'],
    ['LeakyReluGrad', 'LeakyRelu', (t) => ((x: never) => t.leakyRelu(x, 0.15)) as never, 'features', 0.15],
  ];
  for (const [gradType, fwdType, fwd, second, alpha] of cases) {
    it(`${gradType}(gradients, ${second})`, async () => {
      const t = await tfjsWithGrads();
      const x = activationInput([3, 7], 21);
      const dy = randomArray([3, 7], { seed: 22 });
      const attrs: Record<string, tf.AttrValue> = alpha === undefined ? {} : { alpha };
      const got = await runOne((px, pdy) => {
        const y = rawOp(fwdType, [px!], attrs).outputs[0]!;
        return rawOp(gradType, [pdy!, second === 'features' ? px! : y], attrs).outputs[0]!;
      }, x, dy);
      const tx = t.tensor(x.data as Float32Array, x.shape);
      const want = t.grad(fwd(t) as never)(tx, t.tensor(dy.data as Float32Array, dy.shape));
      expectClose(got, await oracle(want as TfjsTensor), { atol: 1e-5, rtol: 1e-5 });
    });
  }

  it('SoftsignGrad(gradients, features) = gradients / (1 + |x|)^2', async () => {
    const x = activationInput([10], 23);
    const dy = randomArray([10], { seed: 24 });
    const got = await runOne((px, pdy) => rawOp('SoftsignGrad', [pdy!, px!]).outputs[0]!, x, dy);
    const xd = x.data as Float32Array;
    const gd = dy.data as Float32Array;
    expectClose(got, Array.from(xd, (v, i) => gd[i]! / (1 + Math.abs(v)) ** 2));
  });

  it('gradient ops reject mismatched shapes at construction and at run time', async () => {
    build(() => {
      const g = tf.placeholder('float32', [2, 3]);
      const x = tf.placeholder('float32', [3, 2]);
      expect(() => rawOp('ReluGrad', [g, x])).toThrow(/ReluGrad op .*must be equal/);
      expect(() => rawOp('EluGrad', [g, tf.placeholder('int32', [2, 3])])).toThrow(tf.errors.InvalidArgumentError);
    });
    const { out, g, x } = build(() => {
      const g = tf.placeholder('float32', null);
      const x = tf.placeholder('float32', null);
      return { out: rawOp('SoftplusGrad', [g, x]).outputs[0]!, g, x };
    });
    expect(out.shape).toBeNull();
    await expect(run(out, [[g, randomArray([2])], [x, randomArray([3])]])).rejects.toThrow(/same size/);
  });

  it('gradient ops infer partial shapes from both inputs', () => {
    build(() => {
      const g = tf.placeholder('float32', [null, 3]);
      const x = tf.placeholder('float32', [4, null]);
      expect(rawOp('ReluGrad', [g, x]).outputs[0]!.shape).toEqual([4, 3]);
    });
  });
});

describe('activation shape functions', () => {
  it('keep partial shapes and reject bad dtypes', () => {
    build(() => {
      const x = tf.placeholder('float32', [null, 4]);
      for (const f of [tf.nn.relu, tf.nn.relu6, tf.nn.elu, tf.nn.selu, tf.nn.softplus, tf.nn.softsign, tf.nn.leakyRelu]) {
        expect(f(x).shape).toEqual([null, 4]);
      }
      expect(tf.nn.relu(tf.placeholder('float32', null)).shape).toBeNull();
      const b = tf.placeholder('bool', [2]);
      expect(() => tf.nn.relu(b)).toThrow(/Relu op 'Relu(_\d+)?': features .* has dtype bool/);
      const i = tf.placeholder('int32', [2]);
      expect(() => tf.nn.elu(i)).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.nn.softplus(i)).toThrow(/Softplus/);
    });
  });
});

/** Naive softmax along an axis, in float64. */
function naiveSoftmax(x: tf.NDArray, axis: number, log = false): number[] {
  const shape = x.shape;
  const d = axis < 0 ? axis + shape.length : axis;
  const xd = x.data as Float32Array;
  const out = new Array<number>(xd.length);
  const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
  const n = shape[d]!;
  const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const idx = (k: number) => (o * n + k) * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, xd[idx(k)]!);
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(xd[idx(k)]! - m);
      for (let k = 0; k < n; k++) out[idx(k)] = log ? xd[idx(k)]! - m - Math.log(s) : Math.exp(xd[idx(k)]! - m) / s;
    }
  }
  return out;
}

describe('softmax and logSoftmax', () => {
  it('match tfjs on the last axis', async () => {
    const t = await tfjs();
    for (const [k, shape] of ([[5], [3, 4], [2, 3, 5], [4, 1]] as number[][]).entries()) {
      const x = randomArray(shape, { seed: 30 + k, min: -5, max: 5 });
      const tx = t.tensor(x.data as Float32Array, x.shape);
      expectClose(await runOne((p) => tf.nn.softmax(p), x), await oracle(t.softmax(tx)));
      expectClose(await runOne((p) => tf.nn.logSoftmax(p), x), await oracle(t.logSoftmax(tx)));
    }
  });

  it('work along other axes (negative too) by transposing, as TF does', async () => {
    const x = randomArray([2, 3, 4], { seed: 40, min: -3, max: 3 });
    for (const axis of [0, 1, -2, -3, 2]) {
      expectClose(await runOne((p) => tf.nn.softmax(p, axis), x), naiveSoftmax(x, axis));
      expectClose(await runOne((p) => tf.nn.logSoftmax(p, axis), x), naiveSoftmax(x, axis, true));
    }
    build(() => {
      const p = tf.placeholder('float32', [2, null, 4]);
      const y = tf.nn.softmax(p, 0, 'sm');
      expect(y.shape).toEqual([2, null, 4]);
      expect(y.op.type).toBe('Transpose');
      expect(y.op.name).toBe('sm');
      expect(() => tf.nn.softmax(p, 3)).toThrow(/Dimension \(3\) must be in the range \[-3, 3\)/);
      expect(() => tf.nn.softmax(tf.placeholder('float32', null), 0)).toThrow(/known rank/);
      expect(tf.nn.softmax(tf.placeholder('float32', null)).shape).toBeNull();
    });
  });

  it('are stable for huge logits', async () => {
    const x = tf.NDArray.from([[1000, 1001, 1002], [-1000, -1001, -1002], [3e38, 0, -3e38]]);
    const sm = await runOne((p) => tf.nn.softmax(p), x);
    const lsm = await runOne((p) => tf.nn.logSoftmax(p), x);
    const ref = naiveSoftmax(tf.NDArray.from([[0, 1, 2]]), -1);
    const refLog = naiveSoftmax(tf.NDArray.from([[0, 1, 2]]), -1, true);
    expectClose(sm, [...ref, ...ref.slice().reverse(), 1, 0, 0]);
    // The last row's smallest entry underflows float32 to -inf, as it does in TF.
    expectClose(lsm, [...refLog, ...refLog.slice().reverse(), 0, Math.fround(-3e38), -Infinity]);
  });

  it('handle size-0 dims and reject scalars', async () => {
    expect((await runOne((p) => tf.nn.softmax(p), randomArray([0, 3]))).shape).toEqual([0, 3]);
    expect((await runOne((p) => tf.nn.logSoftmax(p), randomArray([2, 0]))).shape).toEqual([2, 0]);
    build(() => {
      expect(() => tf.nn.softmax(tf.placeholder('float32', []))).toThrow(/Softmax op 'Softmax'.*rank >= 1/);
      expect(() => tf.nn.logSoftmax(tf.placeholder('int32', [3]))).toThrow(/LogSoftmax/);
    });
  });
});

describe('biasAdd and BiasAddGrad', () => {
  it('NHWC matches tfjs add with a broadcast bias (float32 and int32)', async () => {
    const t = await tfjs();
    for (const [k, shape] of ([[3, 4], [2, 3, 2, 5], [0, 4], [1, 1]] as number[][]).entries()) {
      const c = shape[shape.length - 1]!;
      const v = randomArray(shape, { seed: 50 + k });
      const b = randomArray([c], { seed: 60 + k });
      const got = await runOne((pv, pb) => tf.nn.biasAdd(pv!, pb!), v, b);
      expectClose(got, await oracle(t.add(t.tensor(v.data as Float32Array, shape), t.tensor(b.data as Float32Array, [c]))));
    }
    const vi = randomArray([2, 3], { seed: 70, dtype: 'int32', min: -50, max: 50 });
    const bi = randomArray([3], { seed: 71, dtype: 'int32', min: -50, max: 50 });
    const got = await runOne((pv, pb) => tf.nn.biasAdd(pv!, pb!), vi, bi);
    expect(got.dtype).toBe('int32');
    expectClose(got, await oracle(t.add(t.tensor(vi.data as Int32Array, [2, 3], 'int32'), t.tensor(bi.data as Int32Array, [3], 'int32'))));
  });

  it('NCHW adds along dim 1', async () => {
    const t = await tfjs();
    for (const [k, shape] of ([[2, 3, 4, 5], [2, 3, 4], [1, 2, 1, 1, 3]] as number[][]).entries()) {
      const v = randomArray(shape, { seed: 80 + k });
      const b = randomArray([shape[1]!], { seed: 90 + k });
      const got = await runOne((pv, pb) => tf.nn.biasAdd(pv!, pb!, { dataFormat: 'NCHW' }), v, b);
      const bshape = [shape[1]!, ...shape.slice(2).map(() => 1)];
      expectClose(got, await oracle(t.add(t.tensor(v.data as Float32Array, shape), t.tensor(b.data as Float32Array, bshape))));
    }
  });

  it('BiasAddGrad sums all but the channel dim (NHWC and NCHW)', async () => {
    const t = await tfjs();
    const g = randomArray([2, 3, 4, 5], { seed: 100 });
    const tg = t.tensor(g.data as Float32Array, g.shape);
    const nhwc = await runOne((p) => rawOp('BiasAddGrad', [p!], { data_format: 'NHWC' }).outputs[0]!, g);
    const nchw = await runOne((p) => rawOp('BiasAddGrad', [p!], { data_format: 'NCHW' }).outputs[0]!, g);
    expectClose(nhwc, await oracle(t.sum(tg, [0, 1, 2])));
    expectClose(nchw, await oracle(t.sum(tg, [0, 2, 3])));
    const empty = await runOne((p) => rawOp('BiasAddGrad', [p!], { data_format: 'NHWC' }).outputs[0]!, randomArray([0, 3]));
    expectClose(empty, [0, 0, 0]);
    const gi = randomArray([4, 2], { seed: 101, dtype: 'int32', min: -9, max: 9 });
    const sumInt = await runOne((p) => rawOp('BiasAddGrad', [p!], { data_format: 'NHWC' }).outputs[0]!, gi);
    expectClose(sumInt, await oracle(t.sum(t.tensor(gi.data as Int32Array, [4, 2], 'int32'), 0)));
  });

  it('shape functions: partial shapes and errors at construction', () => {
    build(() => {
      const v = tf.placeholder('float32', [null, 3]);
      expect(tf.nn.biasAdd(v, tf.placeholder('float32', [null])).shape).toEqual([null, 3]);
      expect(tf.nn.biasAdd(tf.placeholder('float32', [2, null]), tf.placeholder('float32', [5])).shape).toEqual([2, 5]);
      expect(tf.nn.biasAdd(tf.placeholder('float32', null), [1, 2]).shape).toBeNull();
      expect(
        tf.nn.biasAdd(tf.placeholder('float32', [2, null, 4, 4]), tf.placeholder('float32', [7]), { dataFormat: 'NCHW' }).shape,
      ).toEqual([2, 7, 4, 4]);
      expect(() => tf.nn.biasAdd(v, [1, 2])).toThrow(/BiasAdd op 'BiasAdd.*': bias .* must have the length of dimension 1 .*: 3 vs 2/);
      expect(() => tf.nn.biasAdd(v, [1, 2])).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.nn.biasAdd(v, [[1, 2, 3]])).toThrow(/must be 1-D/);
      expect(() => tf.nn.biasAdd(tf.placeholder('float32', [3]), [1, 2, 3])).toThrow(/rank >= 2/);
      expect(() => tf.nn.biasAdd(tf.placeholder('float32', [2, 3]), [1, 2, 3], { dataFormat: 'NCHW' })).toThrow(/rank >= 3/);
      expect(() => tf.nn.biasAdd(v, tf.placeholder('int32', [3]))).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.nn.biasAdd(v, [1, 2, 3], { dataFormat: 'HWC' })).toThrow(/dataFormat/);
      const y = build(() => tf.nn.biasAdd(tf.placeholder('float32', [2, 3]), [1, 2, 3]));
      expect(y.op.type).toBe('BiasAdd');
      expect(y.op.name).toBe('BiasAdd');
      expect(y.op.attrs.data_format).toBe('NHWC');
      expect(tf.nn.biasAdd(v, [1, 2, 3], { dataFormat: 'N...C' }).op.attrs.data_format).toBe('NHWC');
      const gOp = rawOp('BiasAddGrad', [tf.placeholder('float32', [null, 4, 5])], { data_format: 'NCHW' });
      expect(gOp.outputs[0]!.shape).toEqual([4]);
      expect(rawOp('BiasAddGrad', [tf.placeholder('float32', null)], { data_format: 'NHWC' }).outputs[0]!.shape).toEqual([null]);
      expect(() => rawOp('BiasAddGrad', [tf.placeholder('float32', [4])], { data_format: 'NHWC' })).toThrow(/rank >= 2/);
    });
  });

  it('a bias of the wrong length fed at run time is an InvalidArgumentError', async () => {
    const { y, v, b } = build(() => {
      const v = tf.placeholder('float32', null);
      const b = tf.placeholder('float32', null);
      return { y: tf.nn.biasAdd(v, b), v, b };
    });
    await expect(run(y, [[v, randomArray([2, 3])], [b, randomArray([2])]])).rejects.toThrow(
      /BiasAdd op 'BiasAdd'.*as many biases as the channel dimension/,
    );
    await expect(run(y, [[v, randomArray([2, 3])], [b, randomArray([2])]])).rejects.toBeInstanceOf(tf.errors.InvalidArgumentError);
  });
});

describe('l2Loss', () => {
  it('matches tfjs sum(x^2) / 2', async () => {
    const t = await tfjs();
    for (const shape of [[3, 4], [], [0]] as number[][]) {
      const x = randomArray(shape, { seed: 110 });
      const got = await runOne((p) => tf.nn.l2Loss(p), x);
      expect(got.shape).toEqual([]);
      expectClose(got, await oracle(t.div(t.sum(t.square(t.tensor(x.data as Float32Array, shape))), 2)));
    }
    build(() => {
      expect(tf.nn.l2Loss(tf.placeholder('float32', null)).shape).toEqual([]);
      expect(build(() => tf.nn.l2Loss([1, 2])).op.name).toBe('L2Loss');
      expect(() => tf.nn.l2Loss(tf.placeholder('int32', [2]))).toThrow(/L2Loss/);
    });
  });
});

function oneHotArray(labels: number[], depth: number): tf.NDArray {
  const d = new Float32Array(labels.length * depth);
  labels.forEach((l, i) => (d[i * depth + l] = 1));
  return new tf.NDArray(d, [labels.length, depth]);
}

const distribution = (shape: number[], seed: number): tf.NDArray => randomDistribution(shape, seed, 0.05);

describe('softmaxCrossEntropyWithLogits', () => {
  it('matches tfjs losses.softmaxCrossEntropy per example (rank 2 and rank 3)', async () => {
    const t = await tfjs();
    for (const [k, shape] of ([[4, 5], [2, 3, 4], [1, 1]] as number[][]).entries()) {
      const logits = randomArray(shape, { seed: 120 + k, min: -4, max: 4 });
      const labels = distribution(shape, 130 + k);
      const got = await runOne((pl, px) => tf.nn.softmaxCrossEntropyWithLogits({ labels: pl!, logits: px! }), labels, logits);
      const want = t.losses.softmaxCrossEntropy(
        t.tensor(labels.data as Float32Array, shape),
        t.tensor(logits.data as Float32Array, shape),
        undefined,
        0,
        t.Reduction.NONE,
      );
      expectClose(got, await oracle(want), { atol: 1e-5 });
    }
  });

  it('along axis 0 equals the last-axis loss of the transposed inputs', async () => {
    const logits = randomArray([4, 3], { seed: 140, min: -3, max: 3 });
    const labels = distribution([4, 3], 141);
    const got = await runOne((pl, px) => tf.nn.softmaxCrossEntropyWithLogits({ labels: pl!, logits: px!, axis: 0 }), labels, logits);
    const lsm = naiveSoftmax(logits, 0, true);
    const ld = labels.data as Float32Array;
    const want = [0, 1, 2].map((j) => -[0, 1, 2, 3].reduce((s, i) => s + ld[i * 3 + j]! * lsm[i * 3 + j]!, 0));
    expect(got.shape).toEqual([3]);
    expectClose(got, want);
  });

  it('is stable for logits of 1000', async () => {
    const logits = tf.NDArray.from([[1000, 1001, 1002], [-1000, 0, 1000]]);
    const labels = tf.NDArray.from([[0, 0.5, 0.5], [1, 0, 0]]);
    const got = await runOne((pl, px) => tf.nn.softmaxCrossEntropyWithLogits({ labels: pl!, logits: px! }), labels, logits);
    const lsm = naiveSoftmax(tf.NDArray.from([[0, 1, 2]]), -1, true);
    expectClose(got, [-(0.5 * lsm[1]! + 0.5 * lsm[2]!), 2000], { rtol: 1e-6 });
  });

  it('the op computes the loss and backprop = softmax - labels', async () => {
    const logits = randomArray([3, 4], { seed: 150, min: -5, max: 5 });
    const labels = distribution([3, 4], 151);
    const { op, pl, px } = build(() => {
      const pl = tf.placeholder('float32', [3, 4]);
      const px = tf.placeholder('float32', [3, 4]);
      return { op: rawOp('SoftmaxCrossEntropyWithLogits', [px, pl]), pl, px };
    });
    const [loss, backprop] = await run(op.outputs, [[pl, labels], [px, logits]]);
    const sm = naiveSoftmax(logits, -1);
    const lsm = naiveSoftmax(logits, -1, true);
    const ld = labels.data as Float32Array;
    expectClose(backprop!, sm.map((s, i) => s - ld[i]!));
    expectClose(loss!, [0, 1, 2].map((r) => -[0, 1, 2, 3].reduce((s, j) => s + ld[r * 4 + j]! * lsm[r * 4 + j]!, 0)));
  });

  it('v1 stops the gradient into labels; v2 lets it flow', () => {
    build(() => {
      const labels = tf.placeholder('float32', [2, 3]);
      const logits = tf.placeholder('float32', [2, 3]);
      const v1 = tf.nn.softmaxCrossEntropyWithLogits({ labels, logits });
      const v2 = tf.nn.softmaxCrossEntropyWithLogitsV2({ labels, logits });
      const [g1l, g1x] = tf.gradients(v1, [labels, logits]);
      expect(g1l).toBeNull();
      expect(g1x).not.toBeNull();
      const [g2l] = tf.gradients(v2, [labels]);
      expect(g2l).not.toBeNull();
      expect(v1.op.type).toBe('SoftmaxCrossEntropyWithLogits');
      expect(v1.op.name).toBe('softmax_cross_entropy_with_logits_sg');
      expect(v1.op.inputs[1]!.op.name).toBe('softmax_cross_entropy_with_logits_sg/labels_stop_gradient');
      expect(v2.op.name).toBe('softmax_cross_entropy_with_logits');
    });
  });

  it('shape checks: mismatch throws at construction; partial shapes merge', () => {
    build(() => {
      const a = tf.placeholder('float32', [2, 3]);
      const b = tf.placeholder('float32', [2, 4]);
      expect(() => tf.nn.softmaxCrossEntropyWithLogits({ labels: b, logits: a })).toThrow(/must have the same shape, got \[2,3\] and \[2,4\]/);
      expect(() => tf.nn.softmaxCrossEntropyWithLogits({ labels: b, logits: a })).toThrow(tf.errors.InvalidArgumentError);
      const p = tf.placeholder('float32', [null, 10]);
      const q = tf.placeholder('float32', [32, null]);
      expect(tf.nn.softmaxCrossEntropyWithLogits({ labels: q, logits: p }).shape).toEqual([32]);
      expect(tf.nn.softmaxCrossEntropyWithLogits({ labels: tf.placeholder('float32', [null, 3, 5]), logits: tf.placeholder('float32', [2, null, 5]) }).shape).toEqual([2, 3]);
      expect(tf.nn.softmaxCrossEntropyWithLogits({ labels: tf.placeholder('float32', null), logits: tf.placeholder('float32', null) }).shape).toBeNull();
      expect(() => tf.nn.softmaxCrossEntropyWithLogits({ labels: tf.placeholder('float32', []), logits: tf.placeholder('float32', []) })).toThrow(/scalar/);
      expect(() => tf.nn.softmaxCrossEntropyWithLogits({ labels: a, logits: a, axis: 2 })).toThrow(/out of range/);
      // The op itself: rank 2 only, same shapes.
      expect(() => rawOp('SoftmaxCrossEntropyWithLogits', [a, b])).toThrow(/SoftmaxCrossEntropyWithLogits op .*must be equal/);
      expect(() => rawOp('SoftmaxCrossEntropyWithLogits', [tf.placeholder('float32', [3]), tf.placeholder('float32', [3])])).toThrow(/2-D/);
      const op = rawOp('SoftmaxCrossEntropyWithLogits', [p, q]);
      expect(op.outputs.map((o) => o.shape)).toEqual([[32], [32, 10]]);
    });
  });

  it('labels of another dtype are cast; shapes mismatched at run time are an error', async () => {
    const { loss, pl, px } = build(() => {
      const pl = tf.placeholder('float32', [null, null]);
      const px = tf.placeholder('float32', [null, null]);
      return { loss: tf.nn.softmaxCrossEntropyWithLogits({ labels: pl, logits: px }), pl, px };
    });
    await expect(run(loss, [[pl, randomArray([2, 3])], [px, randomArray([2, 4])]])).rejects.toThrow(tf.errors.InvalidArgumentError);
    const got = await runOne(
      (pl2, px2) => tf.nn.softmaxCrossEntropyWithLogits({ labels: tf.cast(pl2!, 'int32'), logits: px2! }),
      oneHotArray([1, 0], 2),
      tf.NDArray.from([[0, 0], [3, 3]]),
    );
    expectClose(got, [Math.log(2), Math.log(2)]);
  });
});

describe('cross-entropy with logits of unknown rank (dynamic reshapes)', () => {
  it('dense and sparse losses take the batch shape from the fed values', async () => {
    const logits = randomArray([2, 2, 3], { seed: 195, min: -3, max: 3 });
    const labels = distribution([2, 2, 3], 196);
    const sparse = tf.NDArray.from([[0, 2], [1, 1]], 'int32');
    const { dense, sp, px, pl, ps } = build(() => {
      const px = tf.placeholder('float32', null);
      const pl = tf.placeholder('float32', null);
      const ps = tf.placeholder('int32', null);
      return {
        dense: tf.nn.softmaxCrossEntropyWithLogits({ labels: pl, logits: px }),
        sp: tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: ps, logits: px }),
        px,
        pl,
        ps,
      };
    });
    expect(dense.shape).toBeNull();
    const [d, s] = await run([dense, sp], [[px, logits], [pl, labels], [ps, sparse]]);
    const lsm = naiveSoftmax(logits, -1, true);
    const ld = labels.data as Float32Array;
    expect(d!.shape).toEqual([2, 2]);
    expectClose(d!, [0, 1, 2, 3].map((r) => -[0, 1, 2].reduce((acc, j) => acc + ld[r * 3 + j]! * lsm[r * 3 + j]!, 0)));
    expect(s!.shape).toEqual([2, 2]);
    expectClose(s!, [0, 2, 1, 1].map((l, r) => -lsm[r * 3 + l]!));
  });
});

describe('sparseSoftmaxCrossEntropyWithLogits', () => {
  it('matches tfjs softmaxCrossEntropy with one-hot labels (int32 and int64 labels)', async () => {
    const t = await tfjs();
    const logits = randomArray([5, 4], { seed: 160, min: -4, max: 4 });
    const labels = [3, 0, 1, 1, 2];
    const want = await oracle(
      t.losses.softmaxCrossEntropy(t.tensor(oneHotArray(labels, 4).data as Float32Array, [5, 4]), t.tensor(logits.data as Float32Array, [5, 4]), undefined, 0, t.Reduction.NONE),
    );
    const i32 = await runOne((pl, px) => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: pl!, logits: px! }), tf.NDArray.from(Int32Array.from(labels)), logits);
    const i64 = await runOne(
      (pl, px) => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: pl!, logits: px! }),
      new tf.NDArray(BigInt64Array.from(labels.map(BigInt)), [5]),
      logits,
    );
    expectClose(i32, want);
    expectClose(i64, want);
  });

  it('flattens higher-rank logits and restores the label shape', async () => {
    const logits = randomArray([2, 3, 4], { seed: 170, min: -3, max: 3 });
    const labels = [[0, 3, 2], [1, 1, 0]];
    const got = await runOne(
      (pl, px) => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: pl!, logits: px! }),
      tf.NDArray.from(labels, 'int32'),
      logits,
    );
    const lsm = naiveSoftmax(logits, -1, true);
    expect(got.shape).toEqual([2, 3]);
    expectClose(got, labels.flat().map((l, r) => -lsm[r * 4 + l]!));
    // JS numbers as labels become int32.
    const lit = await runOne((px) => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: labels, logits: px! }), logits);
    expectClose(lit, got);
  });

  it('backprop output is softmax - onehot', async () => {
    const logits = randomArray([3, 4], { seed: 175, min: -3, max: 3 });
    const { op, px } = build(() => {
      const px = tf.placeholder('float32', [3, 4]);
      return { op: tf.getDefaultGraph().createOp('SparseSoftmaxCrossEntropyWithLogits', [px, tf.constant([2, 0, 3], 'int32')], { T: 'float32', Tlabels: 'int32' }), px };
    });
    const [, bp] = await run(op.outputs, [[px, logits]]);
    const oh = oneHotArray([2, 0, 3], 4).data as Float32Array;
    expectClose(bp!, naiveSoftmax(logits, -1).map((s, i) => s - oh[i]!));
  });

  it('is stable for logits of 1000', async () => {
    const got = await runOne(
      (px) => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: [2, 0], logits: px! }),
      tf.NDArray.from([[1000, 1001, 1002], [1000, -1000, 0]]),
    );
    const lsm = naiveSoftmax(tf.NDArray.from([[0, 1, 2]]), -1, true);
    expectClose(got, [-lsm[2]!, 0], { rtol: 1e-6 });
  });

  it('an out-of-range label is an InvalidArgumentError naming the label and the number of classes', async () => {
    const { loss, pl } = build(() => {
      const pl = tf.placeholder('int32', [3]);
      return { loss: tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: pl, logits: tf.zeros([3, 3]) }), pl };
    });
    const bad = run(loss, [[pl, Int32Array.from([0, 5, 1])]]);
    await expect(bad).rejects.toBeInstanceOf(tf.errors.InvalidArgumentError);
    await expect(run(loss, [[pl, Int32Array.from([0, 5, 1])]])).rejects.toThrow(/label value of 5 which is outside the valid range of \[0, 3\)/);
    await expect(run(loss, [[pl, Int32Array.from([-1, 0, 1])]])).rejects.toThrow(/label value of -1 .*\[0, 3\)/);
  });

  it('shape checks at construction', () => {
    build(() => {
      const logits = tf.placeholder('float32', [4, 3]);
      expect(() => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder('int32', [4, 1]), logits })).toThrow(/Rank mismatch/);
      expect(() => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder('int32', [5]), logits })).toThrow(/Shape mismatch/);
      expect(() => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder('int32', []), logits: tf.placeholder('float32', []) })).toThrow(/scalars/);
      expect(() => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder('float32', [4]), logits })).toThrow(/labels .* float32/);
      const p = build(() =>
        tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder('int64', [null]), logits: tf.placeholder('float32', [8, null]) }),
      );
      expect(p.shape).toEqual([8]);
      expect(p.op.name).toBe('SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits');
      expect(p.op.attrs.Tlabels).toBe('int64');
      const named = tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder('int32', [8]), logits: tf.placeholder('float32', [8, 2]), name: 'xent' });
      expect(named.op.name).toBe('xent/xent');
      const bad = () =>
        tf.getDefaultGraph().createOp('SparseSoftmaxCrossEntropyWithLogits', [logits, tf.placeholder('int32', [5])], { T: 'float32', Tlabels: 'int32' });
      expect(bad).toThrow(/SparseSoftmaxCrossEntropyWithLogits op .*same first dimension: 4 vs 5/);
      const r3 = tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder('int32', [null, 3]), logits: tf.placeholder('float32', [2, null, 7]) });
      expect(r3.shape).toEqual([null, 3]);
    });
  });
});

describe('sigmoidCrossEntropyWithLogits', () => {
  it('matches tfjs losses.sigmoidCrossEntropy elementwise and is stable', async () => {
    const t = await tfjs();
    const logits = randomArray([3, 4], { seed: 180, min: -6, max: 6 });
    const labels = randomArray([3, 4], { seed: 181, min: 0, max: 1 });
    const got = await runOne((pl, px) => tf.nn.sigmoidCrossEntropyWithLogits({ labels: pl!, logits: px! }), labels, logits);
    const want = t.losses.sigmoidCrossEntropy(t.tensor(labels.data as Float32Array, [3, 4]), t.tensor(logits.data as Float32Array, [3, 4]), undefined, 0, t.Reduction.NONE);
    expectClose(got, await oracle(want));
    const huge = await runOne((px) => tf.nn.sigmoidCrossEntropyWithLogits({ labels: [1, 0, 1, 0], logits: px! }), tf.NDArray.from([1000, 1000, -1000, -1000]));
    expectClose(huge, [0, 1000, 1000, 0]);
  });

  it('is composed of ops as TF composes it, and checks shapes', () => {
    build(() => {
      const x = tf.placeholder('float32', [null]);
      const y = tf.nn.sigmoidCrossEntropyWithLogits({ labels: [0, 1], logits: x });
      expect(y.op.name).toBe('logistic_loss');
      const types = new Set(tf.getDefaultGraph().getOperations().map((o) => o.type));
      for (const t of ['ZerosLike', 'GreaterEqual', 'Neg', 'Mul', 'Sub', 'Exp', 'Log1p', 'AddV2']) expect(types).toContain(t);
      expect(() => tf.nn.sigmoidCrossEntropyWithLogits({ labels: [0, 1, 1], logits: tf.placeholder('float32', [2]) })).toThrow(/same shape \(\[2\] vs \[3\]\)/);
    });
  });
});

describe('second-order gradients through nn ops run', () => {
  it('Hessian-vector product of softmax cross-entropy is symmetric in practice', async () => {
    const logits = randomArray([2, 3], { seed: 190, min: -2, max: 2 });
    const labels = distribution([2, 3], 191);
    const { h, px, pl } = build(() => {
      const px = tf.placeholder('float32', [2, 3]);
      const pl = tf.placeholder('float32', [2, 3]);
      const loss = tf.reduceSum(tf.nn.softmaxCrossEntropyWithLogits({ labels: pl, logits: px }));
      const [g] = tf.gradients(loss, px);
      // Row i of the Hessian of sum(loss) is diag(s) - s s^T per example.
      const rows = [0, 1, 2].map((j) => tf.gradients(tf.slice(g!, [0, j], [2, 1]), px)[0]!);
      return { h: rows, px, pl };
    });
    const rows = await run(h, [[px, logits], [pl, labels]]);
    const s = naiveSoftmax(logits, -1);
    for (let j = 0; j < 3; j++) {
      const want = [0, 1].flatMap((b) => [0, 1, 2].map((k) => (k === j ? s[b * 3 + j]! : 0) - s[b * 3 + j]! * s[b * 3 + k]!));
      expectClose(rows[j]!, want);
    }
  });
});
