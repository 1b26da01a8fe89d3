// The conv and pooling kernels on WebGPU against the CPU backend: odd sizes, strides, dilations,
// explicit padding, NCHW, batches, channel counts 1, 3 and 17, tiles that do not divide the sizes,
// filter gradients split over k slices, max-pool ties, and _FusedConv2D epilogues. Every graph is
// built from placeholders, constants and the op under test, so each test also checks that nothing
// ran on the host.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { CpuBackend } from '../runtime/cpu/backend.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import { expectClose, randomArray } from './helpers.js';

type Format = 'NHWC' | 'NCHW';
type Feeds = [tf.Tensor, tf.NDArray][];

/** Runs fetches on a fresh WebGPU backend and on the CPU; returns both results and the GPU backend. */
async function both(g: tf.Graph, fetches: tf.Tensor[], feeds: Feeds) {
  const backend = new WebGpuBackend(new CpuBackend());
  const gpu = new tf.Session({ graph: g, backend });
  const cpu = new tf.Session({ graph: g, backend: 'cpu' });
  try {
    const a = await gpu.run(fetches, feeds);
    const b = await cpu.run(fetches, feeds);
    return { gpu: a, cpu: b, hostOps: backend.stats.hostOps, plan: await gpu.compile(fetches, feeds) };
  } finally {
    gpu.close();
    cpu.close();
  }
}

async function expectSame(g: tf.Graph, fetches: tf.Tensor[], feeds: Feeds, shapes?: number[][]): Promise<void> {
  const r = await both(g, fetches, feeds);
  expect(r.hostOps, 'ops that ran on the host').toBe(0);
  r.gpu.forEach((v, i) => {
    if (shapes) expect(v.shape).toEqual(shapes[i]);
    expectClose(v, r.cpu[i]!, { atol: 1e-4, rtol: 1e-3 });
  });
}

/** NHWC sizes -> the shape in `format`. */
function inFormat(format: Format, [n, h, w, c]: number[]): number[] {
  return format === 'NHWC' ? [n!, h!, w!, c!] : [n!, c!, h!, w!];
}

interface ConvCase {
  x: number[];
  f: number[];
  s: number | [number, number];
  pad: 'SAME' | 'VALID' | [number, number][];
  d?: number | [number, number];
}

function outSize(inSize: number, k: number, s: number, d: number, pad: ConvCase['pad'], dim: number): number {
  const eff = (k - 1) * d + 1;
  if (pad === 'SAME') return Math.ceil(inSize / s);
  if (pad === 'VALID') return Math.floor((inSize - eff) / s) + 1;
  const p = pad[dim + 1]!;
  return Math.floor((inSize + p[0]! + p[1]! - eff) / s) + 1;
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

const CONV_CASES: ConvCase[] = [
  { x: [1, 5, 5, 1], f: [3, 3, 1, 2], s: 1, pad: 'SAME' },
  { x: [2, 7, 9, 3], f: [3, 2, 3, 17], s: 2, pad: 'VALID' },
  { x: [3, 11, 8, 17], f: [5, 5, 17, 3], s: [2, 1], pad: 'SAME', d: [1, 2] },
  { x: [2, 9, 10, 3], f: [3, 3, 3, 5], s: 1, pad: 'SAME', d: 2 },
  { x: [1, 6, 7, 2], f: [2, 3, 2, 4], s: [1, 2], pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
  { x: [2, 5, 5, 17], f: [1, 1, 17, 33], s: 1, pad: 'VALID' },
  // Several output-channel and pixel tiles, k not a multiple of the tile depth.
  { x: [2, 19, 21, 33], f: [3, 3, 33, 70], s: 1, pad: 'SAME' },
];

describe('Conv2D and its backprops on WebGPU', () => {
  for (const format of ['NHWC', 'NCHW'] as const) {
    for (const c of CONV_CASES) {
      const [sH, sW] = pair(c.s);
      const [dH, dW] = pair(c.d ?? 1);
      it(`x[${c.x}] f[${c.f}] s${sH},${sW} d${dH},${dW} ${Array.isArray(c.pad) ? 'explicit' : c.pad} ${format}`, async () => {
        const g = new tf.Graph();
        const [N, H, W] = c.x as [number, number, number, number];
        const [KH, KW, C, OC] = c.f as [number, number, number, number];
        const OH = outSize(H, KH, sH, dH, c.pad, 0);
        const OW = outSize(W, KW, sW, dW, c.pad, 1);
        const xShape = inFormat(format, c.x);
        const yShape = inFormat(format, [N, OH, OW, OC]);
        const pad = Array.isArray(c.pad) && format === 'NCHW' ? [c.pad[0]!, c.pad[3]!, c.pad[1]!, c.pad[2]!] : c.pad;
        const fetches = g.asDefault(() => {
          const x = tf.placeholder('float32', xShape, 'x');
          const f = tf.placeholder('float32', c.f, 'f');
          const dy = tf.placeholder('float32', yShape, 'dy');
          const opts = { dataFormat: format, dilations: [dH, dW] as [number, number] };
          const strides: [number, number] = [sH, sW];
          return {
            feeds: [
              [x, randomArray(xShape, { seed: 1 })],
              [f, randomArray(c.f, { seed: 2 })],
              [dy, randomArray(yShape, { seed: 3 })],
            ] as Feeds,
            ts: [
              tf.nn.conv2d(x, f, strides, pad as ConvCase['pad'], opts),
              tf.nn.conv2dBackpropInput(xShape, f, dy, strides, pad as ConvCase['pad'], opts),
              tf.nn.conv2dBackpropFilter(x, c.f, dy, strides, pad as ConvCase['pad'], opts),
            ],
          };
        });
        expect(C).toBe(c.x[3]);
        await expectSame(g, fetches.ts, fetches.feeds, [yShape, xShape, c.f]);
      });
    }
  }

  it('MNIST CNN layer shapes (filter gradients split over k slices)', async () => {
    const g = new tf.Graph();
    const { ts, feeds } = g.asDefault(() => {
      const x1 = tf.placeholder('float32', [2, 28, 28, 1]);
      const f1 = tf.placeholder('float32', [5, 5, 1, 32]);
      const dy1 = tf.placeholder('float32', [2, 28, 28, 32]);
      const x2 = tf.placeholder('float32', [2, 14, 14, 32]);
      const f2 = tf.placeholder('float32', [5, 5, 32, 64]);
      const dy2 = tf.placeholder('float32', [2, 14, 14, 64]);
      return {
        feeds: [
          [x1, randomArray([2, 28, 28, 1], { seed: 4 })],
          [f1, randomArray([5, 5, 1, 32], { seed: 5 })],
          [dy1, randomArray([2, 28, 28, 32], { seed: 6 })],
          [x2, randomArray([2, 14, 14, 32], { seed: 7 })],
          [f2, randomArray([5, 5, 32, 64], { seed: 8 })],
          [dy2, randomArray([2, 14, 14, 64], { seed: 9 })],
        ] as Feeds,
        ts: [
          tf.nn.conv2d(x1, f1, 1, 'SAME'),
          tf.nn.conv2dBackpropFilter(x1, [5, 5, 1, 32], dy1, 1, 'SAME'),
          tf.nn.conv2d(x2, f2, 1, 'SAME'),
          tf.nn.conv2dBackpropInput([2, 14, 14, 32], f2, dy2, 1, 'SAME'),
          tf.nn.conv2dBackpropFilter(x2, [5, 5, 32, 64], dy2, 1, 'SAME'),
        ],
      };
    });
    await expectSame(g, ts, feeds);
  });

  it('handles empty batches and zero channels', async () => {
    const g = new tf.Graph();
    const { ts, feeds } = g.asDefault(() => {
      const x = tf.placeholder('float32', [0, 5, 5, 3]);
      const f = tf.placeholder('float32', [3, 3, 3, 4]);
      const x0 = tf.placeholder('float32', [2, 4, 4, 0]);
      const f0 = tf.placeholder('float32', [2, 2, 0, 3]);
      return {
        feeds: [
          [x, randomArray([0, 5, 5, 3])],
          [f, randomArray([3, 3, 3, 4])],
          [x0, randomArray([2, 4, 4, 0])],
          [f0, randomArray([2, 2, 0, 3])],
        ] as Feeds,
        ts: [
          tf.nn.conv2d(x, f, 1, 'SAME'),
          tf.nn.conv2dBackpropFilter(x, [3, 3, 3, 4], tf.nn.conv2d(x, f, 1, 'SAME'), 1, 'SAME'),
          tf.nn.conv2d(x0, f0, 1, 'VALID'),
        ],
      };
    });
    await expectSame(g, ts, feeds, [
      [0, 5, 5, 4],
      [3, 3, 3, 4],
      [2, 3, 3, 3],
    ]);
  });

  it('reports a depth mismatch known only at run time, as the CPU kernel does', async () => {
    const g = new tf.Graph();
    const { y, x, f } = g.asDefault(() => {
      const x = tf.placeholder('float32', [1, 4, 4, null]);
      const f = tf.placeholder('float32', [2, 2, 3, 2]);
      return { x, f, y: tf.nn.conv2d(x, f, 1, 'VALID') };
    });
    const sess = new tf.Session({ graph: g, backend: 'webgpu' });
    try {
      await expect(
        sess.run(y, [
          [x, randomArray([1, 4, 4, 2])],
          [f, randomArray([2, 2, 3, 2])],
        ]),
      ).rejects.toThrow(/input depth 2 must equal the filter's in_channels 3/);
    } finally {
      sess.close();
    }
  });
});

describe('_FusedConv2D on WebGPU', () => {
  const ACTS = [undefined, 'Relu', 'Relu6', 'Elu', 'LeakyRelu', 'Tanh', 'Sigmoid'] as const;
  for (const format of ['NHWC', 'NCHW'] as const) {
    it(`Conv2D + BiasAdd [+ ${ACTS.slice(1).join(' | ')}] ${format}`, async () => {
      const g = new tf.Graph();
      const xShape = inFormat(format, [2, 9, 7, 3]);
      const { ys, feeds } = g.asDefault(() => {
        const x = tf.placeholder('float32', xShape);
        // A filter and a bias per activation, so that no two convolutions are common subexpressions.
        const fs = ACTS.map(() => tf.placeholder('float32', [3, 3, 3, 17]));
        const bs = ACTS.map(() => tf.placeholder('float32', [17]));
        const ys = ACTS.map((act, i) => {
          const h = tf.nn.biasAdd(tf.nn.conv2d(x, fs[i]!, 2, 'SAME', { dataFormat: format }), bs[i]!, { dataFormat: format });
          if (act === 'LeakyRelu') return tf.nn.leakyRelu(h, 0.3);
          if (act === 'Tanh') return tf.nn.tanh(h);
          if (act === 'Sigmoid') return tf.nn.sigmoid(h);
          if (act) return tf.nn[act === 'Relu' ? 'relu' : act === 'Relu6' ? 'relu6' : 'elu'](h);
          return h;
        });
        return {
          ys,
          feeds: [
            [x, randomArray(xShape, { seed: 11, min: -3, max: 3 })],
            ...fs.map((f, i) => [f, randomArray([3, 3, 3, 17], { seed: 12 + i })]),
            ...bs.map((b, i) => [b, randomArray([17], { seed: 22 + i })]),
          ] as Feeds,
        };
      });
      const r = await both(g, ys, feeds);
      expect(r.plan.stats.fusedKernels).toBe(ACTS.length);
      expect(r.plan.stats.kernels).toBe(ACTS.length);
      expect(r.hostOps).toBe(0);
      r.gpu.forEach((v, i) => expectClose(v, r.cpu[i]!, { atol: 1e-4, rtol: 1e-3 }));
    });
  }
});

describe('DepthwiseConv2dNative and its backprops on WebGPU', () => {
  const cases: ConvCase[] = [
    { x: [1, 5, 5, 1], f: [3, 3, 1, 1], s: 1, pad: 'SAME' },
    { x: [2, 9, 8, 3], f: [3, 3, 3, 2], s: 2, pad: 'VALID' },
    { x: [2, 7, 10, 17], f: [3, 2, 17, 1], s: [1, 2], pad: 'SAME', d: 2 },
    { x: [1, 6, 6, 4], f: [2, 2, 4, 3], s: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  ];
  for (const format of ['NHWC', 'NCHW'] as const) {
    for (const c of cases) {
      const [sH, sW] = pair(c.s);
      const [dH, dW] = pair(c.d ?? 1);
      it(`x[${c.x}] f[${c.f}] s${sH},${sW} d${dH},${dW} ${Array.isArray(c.pad) ? 'explicit' : c.pad} ${format}`, async () => {
        const g = new tf.Graph();
        const [N, H, W, C] = c.x as [number, number, number, number];
        const [KH, KW, , M] = c.f as [number, number, number, number];
        const OH = outSize(H, KH, sH, dH, c.pad, 0);
        const OW = outSize(W, KW, sW, dW, c.pad, 1);
        const xShape = inFormat(format, c.x);
        const yShape = inFormat(format, [N, OH, OW, C * M]);
        const pad = Array.isArray(c.pad) && format === 'NCHW' ? [c.pad[0]!, c.pad[3]!, c.pad[1]!, c.pad[2]!] : c.pad;
        const { ts, feeds } = g.asDefault(() => {
          const x = tf.placeholder('float32', xShape);
          const f = tf.placeholder('float32', c.f);
          const dy = tf.placeholder('float32', yShape);
          const opts = { dataFormat: format, dilations: [dH, dW] as [number, number] };
          const strides: [number, number] = [sH, sW];
          const p = pad as ConvCase['pad'];
          return {
            feeds: [
              [x, randomArray(xShape, { seed: 21 })],
              [f, randomArray(c.f, { seed: 22 })],
              [dy, randomArray(yShape, { seed: 23 })],
            ] as Feeds,
            ts: [
              tf.nn.depthwiseConv2dNative(x, f, strides, p, opts),
              tf.nn.depthwiseConv2dNativeBackpropInput(xShape, f, dy, strides, p, opts),
              tf.nn.depthwiseConv2dNativeBackpropFilter(x, c.f, dy, strides, p, opts),
            ],
          };
        });
        await expectSame(g, ts, feeds, [yShape, xShape, c.f]);
      });
    }
  }
});

/** Values on a coarse grid so that windows hold ties. */
function withTies(shape: number[], seed: number): tf.NDArray {
  const a = randomArray(shape, { seed, min: 0, max: 3, dtype: 'int32' });
  return new tf.NDArray(Float32Array.from(a.data as Int32Array), shape);
}

describe('pooling and its gradients on WebGPU', () => {
  const cases = [
    { x: [1, 4, 4, 1], k: 2, s: 2, pad: 'VALID' as const },
    { x: [2, 7, 9, 3], k: 3, s: 2, pad: 'SAME' as const },
    { x: [3, 5, 6, 17], k: [2, 3] as [number, number], s: [1, 2] as [number, number], pad: 'SAME' as const },
    { x: [2, 8, 7, 4], k: 3, s: 1, pad: 'VALID' as const },
    { x: [1, 3, 3, 2], k: 4, s: 3, pad: 'SAME' as const },
  ];
  for (const format of ['NHWC', 'NCHW'] as const) {
    for (const c of cases) {
      for (const ties of [false, true]) {
        it(`x[${c.x}] k${c.k} s${c.s} ${c.pad} ${format}${ties ? ' with ties' : ''}`, async () => {
          const g = new tf.Graph();
          const xShape = inFormat(format, c.x);
          const { ts, feeds } = g.asDefault(() => {
            const x = tf.placeholder('float32', xShape);
            const opts = { dataFormat: format };
            const ym = tf.nn.maxPool(x, c.k, c.s, c.pad, opts);
            const ya = tf.nn.avgPool(x, c.k, c.s, c.pad, opts);
            const yShape = ym.shape as number[];
            const dy = tf.placeholder('float32', yShape);
            const ddx = tf.placeholder('float32', xShape);
            const op = ym.op;
            const attrs = { T: 'float32', ksize: op.getAttr('ksize'), strides: op.getAttr('strides'), padding: c.pad, data_format: format };
            const grad = g.createOp('MaxPoolGrad', [x, ym, dy], attrs).outputs[0]!;
            const gradGrad = g.createOp('MaxPoolGradGrad', [x, ym, ddx], attrs).outputs[0]!;
            const avgGrad = g.createOp('AvgPoolGrad', [tf.constant(Int32Array.from(xShape), 'int32'), dy], attrs).outputs[0]!;
            return {
              feeds: [
                [x, ties ? withTies(xShape, 31) : randomArray(xShape, { seed: 31 })],
                [dy, randomArray(yShape, { seed: 32 })],
                [ddx, randomArray(xShape, { seed: 33 })],
              ] as Feeds,
              ts: [ym, ya, grad, gradGrad, avgGrad],
            };
          });
          await expectSame(g, ts, feeds);
        });
      }
    }
  }
});
