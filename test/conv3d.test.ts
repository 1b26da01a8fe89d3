// 3-D convolution and pooling, dilation2d, max pooling with argmax and conv1d: kernels against
// TensorFlow.js's CPU backend (values and, through tf.grads, the backprop ops), the argmax-gradient
// ops against reference loops, shape-function errors and a GraphDef round trip.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import * as nn3 from '../src/api/conv3d.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { encodeMessage } from '../src/io/proto.js';
import { graphToGraphDef } from '../src/io/graph_def.js';
import { expectClose, fromTfjs, randomArray, rng, run, tfjs } from './helpers.js';

type Tfjs = Awaited<ReturnType<typeof tfjs>>;
type Pad = 'SAME' | 'VALID';

let gradientsRegistered: Promise<unknown> | undefined;
/** tfjs with its gradient functions registered (tf.grads needs them). */
async function oracle(): Promise<Tfjs> {
  const t = await tfjs();
  gradientsRegistered ??= import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await gradientsRegistered;
  return t;
}

/** Runs outputs built from placeholders holding `values`. */
async function runWith(values: tf.NDArray[], make: (...xs: tf.Tensor[]) => tf.Tensor[]): Promise<tf.NDArray[]> {
  const g = new tf.Graph();
  const { outs, phs } = g.asDefault(() => {
    const phs = values.map((v, i) => tf.placeholder(v.dtype, v.shape, `x${i}`));
    return { outs: make(...phs), phs };
  });
  return (await run(outs, phs.map((p, i) => [p, values[i]!] as const), g)) as tf.NDArray[];
}

type Tensor5D = ReturnType<Tfjs['tensor5d']>;
type Tensor4D = ReturnType<Tfjs['tensor4d']>;
type Tensor3D = ReturnType<Tfjs['tensor3d']>;

/** An oracle tensor of a's values, typed for the tfjs function it goes to. */
function tj<T = Tensor5D>(t: Tfjs, a: tf.NDArray): T {
  return t.tensor(a.data as Float32Array, a.shape) as unknown as T;
}

const lower = (p: Pad) => (p === 'SAME' ? 'same' : 'valid');

/** Values pairwise at least 1/n apart in random order: maxima have no ties. */
function distinct(shape: number[], seed: number): tf.NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return new tf.NDArray(Float32Array.from(idx, (v) => v / n - 0.5), shape);
}

/** [N, D, H, W, C] <-> [N, C, D, H, W] for test data. */
function toChannelsFirst(a: tf.NDArray): tf.NDArray {
  const [N, D, H, W, C] = a.shape as number[];
  const S = D! * H! * W!;
  const src = a.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let n = 0; n < N!; n++) for (let p = 0; p < S; p++) for (let c = 0; c < C!; c++) out[(n * C! + c) * S + p] = src[(n * S + p) * C! + c]!;
  return new tf.NDArray(out, [N!, C!, D!, H!, W!]);
}

function toChannelsLast(a: tf.NDArray): tf.NDArray {
  const [N, C, D, H, W] = a.shape as number[];
  const S = D! * H! * W!;
  const src = a.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let n = 0; n < N!; n++) for (let p = 0; p < S; p++) for (let c = 0; c < C!; c++) out[(n * S + p) * C! + c] = src[(n * C! + c) * S + p]!;
  return new tf.NDArray(out, [N!, D!, H!, W!, C!]);
}

describe('Conv3D and its backprops against tfjs', () => {
  const cases: { x: number[]; f: number[]; strides: [number, number, number]; pad: Pad; dil?: [number, number, number] }[] = [
    { x: [1, 4, 5, 4, 2], f: [2, 3, 2, 2, 3], strides: [1, 1, 1], pad: 'SAME' },
    { x: [2, 5, 4, 6, 3], f: [3, 2, 2, 3, 2], strides: [2, 1, 2], pad: 'VALID' },
    // (tfjs lets SAME padding go negative where a stride exceeds the window, TensorFlow clamps it to 0: such shapes are left out.)
    { x: [1, 5, 5, 5, 1], f: [2, 3, 2, 1, 2], strides: [2, 2, 3], pad: 'SAME' },
    // More output voxels than one im2col chunk of the CPU kernels holds.
    { x: [1, 8, 16, 16, 8], f: [3, 3, 3, 8, 4], strides: [1, 1, 1], pad: 'SAME' },
    { x: [1, 6, 5, 5, 2], f: [2, 2, 2, 2, 2], strides: [1, 1, 1], pad: 'SAME', dil: [2, 1, 2] },
    { x: [1, 6, 6, 4, 1], f: [2, 2, 2, 1, 1], strides: [1, 1, 1], pad: 'VALID', dil: [2, 2, 1] },
  ];
  for (const [k, c] of cases.entries()) {
    it(`forward ${JSON.stringify(c)}`, async () => {
      const t = await oracle();
      const x = randomArray(c.x, { seed: 10 + k });
      const f = randomArray(c.f, { seed: 20 + k });
      const want = await fromTfjs(t.conv3d(tj(t, x), tj(t, f), c.strides, lower(c.pad), 'NDHWC', c.dil ?? [1, 1, 1]));
      const [got] = await runWith([x, f], (xp, fp) => [nn3.conv3d(xp!, fp!, c.strides, c.pad, { dilations: c.dil })]);
      expectClose(got!, want, { atol: 1e-4 });
      // The same in NCDHW.
      const [gotCF] = await runWith([toChannelsFirst(x), f], (xp, fp) => [nn3.conv3d(xp!, fp!, c.strides, c.pad, { dilations: c.dil, dataFormat: 'NCDHW' })]);
      expectClose(toChannelsLast(gotCF!), want, { atol: 1e-4 });
    });
  }

  for (const [k, c] of cases.filter((c) => !c.dil).entries()) {
    for (const format of ['NDHWC', 'NCDHW'] as const) {
      it(`input and filter gradients (Conv3DBackpropInputV2, Conv3DBackpropFilterV2), ${format} ${JSON.stringify(c)}`, async () => {
        const t = await oracle();
        const x = randomArray(c.x, { seed: 30 + k });
        const f = randomArray(c.f, { seed: 40 + k });
        const yShape = t.conv3d(tj(t, x), tj(t, f), c.strides, lower(c.pad)).shape;
        const dy = randomArray(yShape, { seed: 50 + k });
        const [wdx, wdf] = t.grads((a, b) => t.conv3d(a as Tensor5D, b as Tensor5D, c.strides, lower(c.pad)))([tj(t, x), tj(t, f)], tj(t, dy));
        const cf = format === 'NCDHW';
        const [dx, df, tr] = await runWith([cf ? toChannelsFirst(x) : x, f, cf ? toChannelsFirst(dy) : dy], (xp, fp, dyp) => {
          const y = nn3.conv3d(xp!, fp!, c.strides, c.pad, { dataFormat: format });
          const [gx, gf] = tf.gradients(y, [xp!, fp!], dyp!) as tf.Tensor[];
          const transposed = nn3.conv3dTranspose(dyp!, fp!, xp!.shape as number[], c.strides, c.pad, { dataFormat: format });
          return [gx!, gf!, transposed];
        });
        expect(dx!.shape).toEqual(cf ? toChannelsFirst(x).shape : x.shape);
        expectClose(cf ? toChannelsLast(dx!) : dx!, await fromTfjs(wdx!), { atol: 1e-4 });
        expectClose(df!, await fromTfjs(wdf!), { atol: 1e-4 });
        expectClose(cf ? toChannelsLast(tr!) : tr!, await fromTfjs(wdx!), { atol: 1e-4 });
      });
    }
  }

  it('conv3dTranspose matches tfjs conv3dTranspose', async () => {
    const t = await oracle();
    const v = randomArray([1, 2, 3, 2, 3], { seed: 60 });
    const f = randomArray([3, 2, 2, 2, 3], { seed: 61 });
    const out: [number, number, number, number, number] = [1, 4, 6, 4, 2];
    const want = await fromTfjs(t.conv3dTranspose(tj(t, v), tj(t, f), out, 2, 'same'));
    const [got] = await runWith([v, f], (vp, fp) => [nn3.conv3dTranspose(vp!, fp!, out, 2, 'SAME')]);
    expectClose(got!, want, { atol: 1e-4 });
  });
});

/**
 * Reference 3-D pooling of NDHWC x and its gradients for upstream dy, in plain loops: each output's
 * window is clipped to the input, max takes the first maximum, avg divides by the clipped count.
 * (tfjs's own 3-D pool gradients go wrong with front padding and non-cubic windows, so they are no oracle here.)
 */
function poolReference(x: tf.NDArray, k: number[], s: number[], pad: Pad, dy: tf.NDArray) {
  const [N, D, H, W, C] = x.shape as number[];
  const ins = [D!, H!, W!];
  const outs = ins.map((n, j) => (pad === 'SAME' ? Math.ceil(n / s[j]!) : Math.ceil((n - k[j]! + 1) / s[j]!)));
  const before = ins.map((n, j) => (pad === 'SAME' ? Math.floor(Math.max((outs[j]! - 1) * s[j]! + k[j]! - n, 0) / 2) : 0));
  const xd = x.data as Float32Array;
  const dyd = dy.data as Float32Array;
  const max: number[] = [];
  const avg: number[] = [];
  const dMax = new Float32Array(x.size);
  const dAvg = new Float32Array(x.size);
  let o = 0;
  for (let n = 0; n < N!; n++)
    for (let od = 0; od < outs[0]!; od++)
      for (let oh = 0; oh < outs[1]!; oh++)
        for (let ow = 0; ow < outs[2]!; ow++)
          for (let c = 0; c < C!; c++, o++) {
            const inside: number[] = [];
            for (let a = 0; a < k[0]!; a++)
              for (let b = 0; b < k[1]!; b++)
                for (let e = 0; e < k[2]!; e++) {
                  const p = [od * s[0]! - before[0]! + a, oh * s[1]! - before[1]! + b, ow * s[2]! - before[2]! + e];
                  if (p.every((v, j) => v >= 0 && v < ins[j]!)) inside.push((((n * D! + p[0]!) * H! + p[1]!) * W! + p[2]!) * C! + c);
                }
            const best = inside.reduce((m, i) => (xd[i]! > xd[m]! ? i : m), inside[0]!);
            max.push(xd[best]!);
            dMax[best]! += dyd[o]!;
            avg.push(inside.reduce((acc, i) => acc + xd[i]!, 0) / inside.length);
            for (const i of inside) dAvg[i]! += dyd[o]! / inside.length;
          }
  return { max, avg, dMax, dAvg, outShape: [N!, ...outs, C!] };
}

describe('MaxPool3D and AvgPool3D', () => {
  const cases: { x: number[]; k: [number, number, number]; s: [number, number, number]; pad: Pad }[] = [
    { x: [1, 4, 4, 4, 2], k: [2, 2, 2], s: [2, 2, 2], pad: 'VALID' },
    { x: [2, 5, 3, 4, 3], k: [3, 2, 3], s: [2, 1, 2], pad: 'SAME' },
    { x: [1, 3, 5, 5, 1], k: [1, 3, 3], s: [1, 2, 2], pad: 'SAME' },
  ];
  for (const [k, c] of cases.entries()) {
    for (const format of ['NDHWC', 'NCDHW'] as const) {
      it(`values (against tfjs) and gradients (against reference loops), ${format} ${JSON.stringify(c)}`, async () => {
        const t = await oracle();
        const x = distinct(c.x, 70 + k);
        const cf = format === 'NCDHW';
        const wMax = await fromTfjs(t.maxPool3d(tj(t, x), c.k, c.s, lower(c.pad)));
        const wAvg = await fromTfjs(t.avgPool3d(tj(t, x), c.k, c.s, lower(c.pad)));
        const dy = randomArray(wMax.shape, { seed: 80 + k });
        const ref = poolReference(x, c.k, c.s, c.pad, dy);
        expect(ref.outShape).toEqual(wMax.shape);
        expectClose(new tf.NDArray(Float32Array.from(ref.max), wMax.shape), wMax);
        expectClose(new tf.NDArray(Float32Array.from(ref.avg), wAvg.shape), wAvg, { atol: 1e-5 });
        const outs = await runWith([cf ? toChannelsFirst(x) : x, cf ? toChannelsFirst(dy) : dy], (xp, dyp) => {
          const mx = nn3.maxPool3d(xp!, c.k, c.s, c.pad, { dataFormat: format });
          const av = nn3.avgPool3d(xp!, c.k, c.s, c.pad, { dataFormat: format });
          return [mx, av, tf.gradients(mx, xp!, dyp!)[0]!, tf.gradients(av, xp!, dyp!)[0]!];
        });
        const last = (a: tf.NDArray) => (cf ? toChannelsLast(a) : a);
        expectClose(last(outs[0]!), wMax);
        expectClose(last(outs[1]!), wAvg, { atol: 1e-5 });
        expectClose(last(outs[2]!), ref.dMax);
        expectClose(last(outs[3]!), ref.dAvg, { atol: 1e-5 });
      });
    }
  }

  it('MaxPool3DGradGrad gathers an input-shaped gradient at each window maximum', async () => {
    const x = distinct([1, 3, 4, 3, 2], 90);
    const h = randomArray([1, 3, 4, 3, 2], { seed: 91 });
    const g = randomArray([1, 2, 2, 2, 2], { seed: 92 });
    const [got, pooled] = await runWith([x, g, h], (xp, gp, hp) => {
      const y = nn3.maxPool3d(xp!, 2, 2, 'SAME');
      const dx = tf.gradients(y, xp!, gp!)[0]!;
      return [tf.gradients(dx, gp!, hp!)[0]!, y];
    });
    // Reference: h at the position of each window's maximum (x's values are distinct).
    const xd = x.data as Float32Array;
    const hd = h.data as Float32Array;
    const want = Array.from(pooled!.data as Float32Array, (v) => hd[xd.indexOf(v)]!);
    expectClose(got!, want);
  });
});

describe('Dilation2D against tfjs', () => {
  const cases: { x: number[]; f: number[]; s: [number, number]; r: [number, number]; pad: Pad }[] = [
    { x: [1, 5, 5, 2], f: [2, 2, 2], s: [1, 1], r: [1, 1], pad: 'SAME' },
    { x: [2, 6, 5, 3], f: [3, 2, 3], s: [2, 1], r: [1, 2], pad: 'VALID' },
    { x: [1, 7, 6, 1], f: [2, 3, 1], s: [2, 2], r: [2, 1], pad: 'SAME' },
  ];
  for (const [k, c] of cases.entries()) {
    it(`values and gradients (Dilation2DBackpropInput, Dilation2DBackpropFilter) ${JSON.stringify(c)}`, async () => {
      const t = await oracle();
      const x = distinct(c.x, 100 + k);
      const f = new tf.NDArray(Float32Array.from(distinct(c.f, 110 + k).data as Float32Array, (v) => v * 0.01), c.f);
      const want = t.dilation2d(tj<Tensor4D>(t, x), tj<Tensor3D>(t, f), c.s, lower(c.pad), c.r);
      const dy = randomArray(want.shape, { seed: 120 + k });
      const [wdx, wdf] = t.grads((a, b) => t.dilation2d(a as Tensor4D, b as Tensor3D, c.s, lower(c.pad), c.r))([tj(t, x), tj(t, f)], tj(t, dy));
      const [y, dx, df] = await runWith([x, f, dy], (xp, fp, dyp) => {
        const out = nn3.dilation2d(xp!, fp!, c.s, c.r, c.pad);
        return [out, ...(tf.gradients(out, [xp!, fp!], dyp!) as tf.Tensor[])];
      });
      expectClose(y!, await fromTfjs(want));
      expectClose(dx!, await fromTfjs(wdx!));
      expectClose(df!, await fromTfjs(wdf!), { atol: 1e-5 });
    });
  }

  it('a window lying wholly in the padding gives the lowest float32, as TensorFlow', async () => {
    // Height 1, filter height 2 at rate 3 (effective 4), SAME: both taps fall outside the input.
    const x = randomArray([1, 1, 2, 1], { seed: 130 });
    const f = randomArray([2, 1, 1], { seed: 131 });
    const [y] = await runWith([x, f], (xp, fp) => [nn3.dilation2d(xp!, fp!, 1, [3, 1], 'SAME')]);
    expect(Array.from(y!.data as Float32Array)).toEqual([-3.4028234663852886e38, -3.4028234663852886e38]);
  });
});

describe('MaxPoolWithArgmax and its gradients', () => {
  const cases: { x: number[]; k: number; s: number; pad: Pad }[] = [
    { x: [2, 5, 4, 3], k: 2, s: 2, pad: 'SAME' },
    { x: [3, 6, 7, 2], k: 3, s: 2, pad: 'VALID' },
  ];
  for (const [k, c] of cases.entries()) {
    for (const includeBatchInIndex of [false, true]) {
      for (const Targmax of ['int64', 'int32'] as const) {
        it(`values and argmax against tfjs, ${Targmax}, includeBatchInIndex ${includeBatchInIndex}, ${JSON.stringify(c)}`, async () => {
          const t = await oracle();
          const x = distinct(c.x, 140 + k);
          const want = t.maxPoolWithArgmax(tj<Tensor4D>(t, x), c.k, c.s, lower(c.pad) as 'same', includeBatchInIndex);
          const [y, arg] = await runWith([x], (xp) => nn3.maxPoolWithArgmax(xp!, c.k, c.s, c.pad, { includeBatchInIndex, Targmax }));
          expectClose(y!, await fromTfjs(want.result));
          expect(arg!.dtype).toBe(Targmax);
          expect(arg!.shape).toEqual(want.indexes.shape);
          expect(Array.from(arg!.data as ArrayLike<number | bigint>, Number)).toEqual(Array.from(await want.indexes.data()));
        });
      }
    }
  }

  /** Reference: the flattened argmax index of each output back in the whole input. */
  function targets(arg: tf.NDArray, x: number[], withBatch: boolean): number[] {
    const per = arg.size / x[0]!;
    const inPer = x[1]! * x[2]! * x[3]!;
    return Array.from(arg.data as ArrayLike<number | bigint>, (v, o) => Number(v) + (withBatch ? 0 : Math.floor(o / per) * inPer));
  }

  for (const includeBatchInIndex of [false, true]) {
    it(`MaxPoolGradWithArgmax scatters, MaxPoolGradGradWithArgmax gathers (includeBatchInIndex ${includeBatchInIndex})`, async () => {
      const shape = [2, 5, 6, 2];
      const x = distinct(shape, 150);
      const dy = randomArray([2, 3, 3, 2], { seed: 151 });
      const h = randomArray(shape, { seed: 152 });
      const [dx, ddy, arg] = await runWith([x, dy, h], (xp, dyp, hp) => {
        const [y, a] = nn3.maxPoolWithArgmax(xp!, 3, 2, 'SAME', { includeBatchInIndex });
        const gx = tf.gradients(y, xp!, dyp!)[0]!;
        return [gx, tf.gradients(gx, dyp!, hp!)[0]!, a];
      });
      const tg = targets(arg!, shape, includeBatchInIndex);
      const want = new Float32Array(x.size);
      tg.forEach((i, o) => (want[i]! += (dy.data as Float32Array)[o]!));
      expectClose(dx!, want);
      expectClose(ddy!, tg.map((i) => (h.data as Float32Array)[i]!));
    });
  }

  it('an argmax outside its batch is an InvalidArgumentError naming the op', async () => {
    const g = new tf.Graph();
    const out = g.asDefault(() => {
      const x = tf.placeholder('float32', [1, 2, 2, 1], 'x');
      const grad = tf.placeholder('float32', [1, 1, 1, 1], 'grad');
      const argmax = tf.placeholder('int64', [1, 1, 1, 1], 'argmax');
      return g.createOp('MaxPoolGradWithArgmax', [x, grad, argmax], { T: 'float32', ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: 'VALID', include_batch_in_index: false, Targmax: 'int64' }, { name: 'bad' }).outputs[0]!;
    });
    const feeds = (v: bigint) =>
      [
        [g.getTensorByName('x:0'), randomArray([1, 2, 2, 1], { seed: 1 })],
        [g.getTensorByName('grad:0'), randomArray([1, 1, 1, 1], { seed: 2 })],
        [g.getTensorByName('argmax:0'), new tf.NDArray(BigInt64Array.from([v]), [1, 1, 1, 1])],
      ] as [tf.Tensor, tf.NDArray][];
    await expect(run(out, feeds(4n), g)).rejects.toThrow(InvalidArgumentError);
    await expect(run(out, feeds(4n), g)).rejects.toThrow(/MaxPoolGradWithArgmax|bad/);
    const [ok] = (await run([out], feeds(3n), g)) as tf.NDArray[];
    expect((ok!.data as Float32Array)[3]).not.toBe(0);
  });
});

describe('tf.nn.conv1d', () => {
  it('matches tfjs conv1d (NWC and NCW, stride, dilation) and is ExpandDims + Conv2D + Squeeze', async () => {
    const t = await oracle();
    const x = randomArray([2, 9, 3], { seed: 160 });
    const f = randomArray([3, 3, 4], { seed: 161 });
    for (const [stride, pad, dil] of [[2, 'SAME', 1], [1, 'VALID', 2]] as const) {
      const want = await fromTfjs(t.conv1d(tj<Tensor3D>(t, x), tj<Tensor3D>(t, f), stride, lower(pad), 'NWC', dil));
      const g = new tf.Graph();
      const { y, yT, xp, xT, fp } = g.asDefault(() => {
        const xp = tf.placeholder('float32', [2, 9, 3], 'x');
        const xT = tf.placeholder('float32', [2, 3, 9], 'xT');
        const fp = tf.placeholder('float32', [3, 3, 4], 'f');
        return { xp, xT, fp, y: nn3.conv1d(xp, fp, stride, pad, { dilations: dil }), yT: nn3.conv1d(xT, fp, stride, pad, { dilations: dil, dataFormat: 'NCW' }) };
      });
      expect(y.op.type).toBe('Squeeze');
      expect(y.op.inputs[0]!.op.type).toBe('Conv2D');
      expect(y.shape).toEqual(want.shape);
      const xTd = new tf.NDArray(new Float32Array(x.size), [2, 3, 9]);
      for (let n = 0; n < 2; n++) for (let w = 0; w < 9; w++) for (let c = 0; c < 3; c++) (xTd.data as Float32Array)[(n * 3 + c) * 9 + w] = (x.data as Float32Array)[(n * 9 + w) * 3 + c]!;
      const [got, gotT] = (await run([y, yT], [[xp, x], [xT, xTd], [fp, f]], g)) as tf.NDArray[];
      expectClose(got!, want, { atol: 1e-5 });
      const [N, W, C] = want.shape as number[];
      const back = new Float32Array(want.size);
      for (let n = 0; n < N!; n++) for (let w = 0; w < W!; w++) for (let c = 0; c < C!; c++) back[(n * W! + w) * C! + c] = (gotT!.data as Float32Array)[(n * C! + c) * W! + w]!;
      expectClose(new tf.NDArray(back, want.shape), want, { atol: 1e-5 });
    }
  });
});

describe('shape functions', () => {
  const build = (fn: () => unknown) => () => new tf.Graph().asDefault(fn);

  it('infer static shapes, and partial ones with an unknown batch', () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder('float32', [null, 5, 6, 7, 2]);
      const f = tf.placeholder('float32', [2, 3, 3, 2, 4]);
      expect(nn3.conv3d(x, f, [1, 2, 3], 'SAME').shape).toEqual([null, 5, 3, 3, 4]);
      expect(nn3.conv3d(x, f, 1, 'VALID', { dilations: [1, 2, 1] }).shape).toEqual([null, 4, 2, 5, 4]);
      expect(nn3.maxPool3d(x, 2, 2, 'VALID').shape).toEqual([null, 2, 3, 3, 2]);
      expect(nn3.avgPool3d(x, [1, 2, 3], [1, 1, 2], 'SAME').shape).toEqual([null, 5, 6, 4, 2]);
      const y = nn3.conv3d(x, f, 2, 'SAME');
      const [gx, gf] = tf.gradients(y, [x, f]) as tf.Tensor[];
      expect(gx!.shape).toEqual([null, 5, 6, 7, 2]);
      expect(gf!.shape).toEqual([2, 3, 3, 2, 4]);
      const img = tf.placeholder('float32', [null, 7, 6, 3]);
      expect(nn3.dilation2d(img, tf.placeholder('float32', [2, 2, 3]), [1, 2], [2, 1], 'VALID').shape).toEqual([null, 5, 3, 3]);
      const [p, a] = nn3.maxPoolWithArgmax(img, 3, 2, 'SAME');
      expect(p.shape).toEqual([null, 4, 3, 3]);
      expect(a.dtype).toBe('int64');
    });
  });

  it('rejects bad ranks, depths, attrs and mismatched gradients naming the op', () => {
    const x = () => tf.placeholder('float32', [1, 4, 4, 4, 2]);
    expect(build(() => nn3.conv3d(x(), tf.placeholder('float32', [2, 2, 2, 3, 1]), 1, 'SAME'))).toThrow(/Conv3D.*in_channels/s);
    expect(build(() => nn3.conv3d(tf.placeholder('float32', [1, 4, 4, 2]), tf.placeholder('float32', [2, 2, 2, 2, 1]), 1, 'SAME'))).toThrow(/rank 5/);
    expect(build(() => nn3.conv3d(x(), tf.placeholder('float32', [2, 2, 2, 2, 1]), [2, 1, 1, 1, 1], 'SAME'))).toThrow(/strides.*batch and channel/);
    expect(build(() => nn3.maxPool3d(x(), [1, 6, 1, 1, 1], 1, 'VALID'))).toThrow(/negative/);
    expect(build(() => nn3.maxPool3d(x(), [2, 2, 2, 2], 1, 'VALID'))).toThrow(/ksize/);
    expect(build(() => nn3.conv3dTranspose(tf.placeholder('float32', [1, 2, 2, 2, 3]), tf.placeholder('float32', [2, 2, 2, 1, 3]), [1, 4, 4, 4, 1], 1, 'SAME'))).toThrow(
      /out_backprop/,
    );
    expect(build(() => nn3.dilation2d(tf.placeholder('float32', [1, 4, 4, 2]), tf.placeholder('float32', [2, 2, 3]), 1, 1, 'SAME'))).toThrow(/Dilation2D.*depth/s);
    expect(build(() => nn3.dilation2d(tf.placeholder('float32', [1, 4, 4, 2]), tf.placeholder('float32', [2, 2, 2]), 1, [1, 2, 1, 2], 'SAME'))).toThrow(/rates/);
    expect(
      build(() => {
        const g = tf.getDefaultGraph();
        const inp = tf.placeholder('float32', [1, 4, 4, 1]);
        const grad = tf.placeholder('float32', [1, 2, 2, 1]);
        const arg = tf.placeholder('int32', [1, 2, 2, 1]);
        g.createOp('MaxPoolGradWithArgmax', [inp, grad, arg], { T: 'float32', ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: 'VALID', include_batch_in_index: false });
      }),
    ).toThrow(/MaxPoolGradWithArgmax.*argmax/s);
    expect(build(() => nn3.maxPool3d(tf.placeholder('int32', [1, 2, 2, 2, 1]), 1, 1, 'SAME'))).toThrow(/MaxPool3D.*dtype/s);
  });
});

describe('GraphDef round trip', () => {
  it('exports and re-imports every op of the family with its attrs, giving the same values', async () => {
    const g1 = new tf.Graph();
    const x5 = randomArray([1, 3, 4, 4, 2], { seed: 170 });
    const f5 = randomArray([2, 2, 2, 2, 3], { seed: 171 });
    const x4 = distinct([2, 5, 4, 2], 172);
    const f3 = randomArray([2, 2, 2], { seed: 173 });
    const names = g1.asDefault(() => {
      const a = tf.placeholder('float32', [1, 3, 4, 4, 2], 'a');
      const b = tf.placeholder('float32', [2, 2, 2, 2, 3], 'b');
      const c = tf.placeholder('float32', [2, 5, 4, 2], 'c');
      const d = tf.placeholder('float32', [2, 2, 2], 'd');
      const y = nn3.conv3d(a, b, [1, 2, 1], 'SAME', { dilations: [1, 1, 2] });
      const gs = tf.gradients(tf.reduceSum(tf.square(y)), [a, b]) as tf.Tensor[];
      const mp = nn3.maxPool3d(a, [2, 2, 1], 2, 'SAME');
      const ap = nn3.avgPool3d(a, 2, 1, 'VALID');
      const pg = tf.gradients(tf.add(tf.reduceSum(tf.square(mp)), tf.reduceSum(tf.square(ap))), a)[0]!;
      const dil = nn3.dilation2d(c, d, [1, 2], 1, 'SAME');
      const dg = tf.gradients(tf.reduceSum(tf.square(dil)), [c, d]) as tf.Tensor[];
      const [pool, arg] = nn3.maxPoolWithArgmax(c, 2, 2, 'VALID', { includeBatchInIndex: true, Targmax: 'int32' });
      const ag = tf.gradients(tf.reduceSum(tf.square(pool)), c)[0]!;
      // Second order: through MaxPool3DGradGrad and MaxPoolGradGradWithArgmax.
      const pgg = tf.gradients(tf.reduceSum(tf.square(pg)), a)[0]!;
      const agg = tf.gradients(tf.reduceSum(tf.square(ag)), c)[0]!;
      return [y, ...gs, mp, ap, pg, dil, ...dg, pool, arg, ag, pgg, agg].map((t) => t.name);
    });
    const feeds1 = (g: tf.Graph, prefix: string) =>
      (['a', 'b', 'c', 'd'] as const).map((n, i) => [g.getTensorByName(`${prefix}${n}:0`), [x5, f5, x4, f3][i]!] as [tf.Tensor, tf.NDArray]);
    const want = (await run(names.map((n) => g1.getTensorByName(n)), feeds1(g1, ''), g1)) as tf.NDArray[];
    const gd = graphToGraphDef(g1);
    const types = new Set(gd.node!.map((n) => n.op));
    for (const op of ['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2', 'MaxPool3D', 'MaxPool3DGrad', 'AvgPool3D', 'AvgPool3DGrad', 'Dilation2D', 'Dilation2DBackpropInput', 'Dilation2DBackpropFilter', 'MaxPoolWithArgmax', 'MaxPoolGradWithArgmax', 'MaxPool3DGradGrad', 'MaxPoolGradGradWithArgmax']) {
      expect(types.has(op), op).toBe(true);
    }
    const g2 = new tf.Graph();
    g2.asDefault(() => tf.importGraphDef(encodeMessage('GraphDef', gd)));
    const got = (await run(names.map((n) => g2.getTensorByName(`import/${n}`)), feeds1(g2, 'import/'), g2)) as tf.NDArray[];
    got.forEach((v, i) => {
      expect(v.dtype).toBe(want[i]!.dtype);
      expectClose(v, want[i]!, { atol: 1e-5 });
    });
  });
});
