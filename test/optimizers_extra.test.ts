// tf.train's Adadelta, Ftrl, ProximalAdagrad and ProximalGradientDescent optimizers and their update
// ops (Apply* and SparseApply*), against TF's update formulas written out naively here.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { getOpDef } from '../ops/index.js';
import { encodeMessage, type NodeDef } from '../src/io/proto.js';
import { expectClose, randomArray } from './helpers.js';

const ROWS = 5;
const DIM = 2;
// Row 3 twice, rows 2 and 4 never: the sparse step sums repeated rows and leaves the others alone.
const IDS = [3, 1, 3, 0];
const E0 = randomArray([ROWS, DIM], { seed: 11 });
const C = randomArray([IDS.length, DIM], { seed: 12, min: 0.2, max: 1 });
const D = randomArray([IDS.length, DIM], { seed: 13 });

const num = (a: tf.NDArray): number[] => Array.from(a.data as Float32Array);
const sign = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : 0);

/** loss = sum(C * rows^2 + D * rows) over the rows of E that IDS picks, by tf.gather (sparse gradient) or a one-hot matmul (dense). */
function model(sparse: boolean) {
  const g = new tf.Graph();
  return g.asDefault(() => {
    const E = new tf.Variable(E0, { name: 'E' });
    const ids = tf.placeholder('int32', [null], 'ids');
    const rows = sparse ? tf.gather(E.value(), ids) : tf.matmul(tf.oneHot(ids, ROWS), E.value());
    const loss = tf.reduceSum(tf.add(tf.multiply(tf.constant(C), tf.square(rows)), tf.multiply(tf.constant(D), rows)));
    return { g, E, ids, loss };
  });
}

/** The gradient of the loss at E, row by row (rows IDS never names stay zero). */
function gradient(e: number[]): number[] {
  const grad = new Array<number>(ROWS * DIM).fill(0);
  const c = num(C);
  const d = num(D);
  IDS.forEach((r, k) => {
    for (let j = 0; j < DIM; j++) grad[r * DIM + j]! += 2 * c[k * DIM + j]! * e[r * DIM + j]! + d[k * DIM + j]!;
  });
  return grad;
}

/** One element's update from TF's documented formula: the new weight and slots. */
type ElementStep = (w: number, slots: number[], g: number) => [number, number[]];

interface OptimizerCase {
  name: string;
  make: () => tf.train.Optimizer;
  /** TF's op (the sparse form is Sparse + it). */
  op: string;
  /** Slot keys (getSlot) and the slot variables' names, in order. */
  slots: [string, string][];
  slotInit: number[];
  step: ElementStep;
}

function adadelta(lr: number, rho: number, eps: number): ElementStep {
  return (w, [accum, accumUpdate], g) => {
    const a = rho * accum! + (1 - rho) * g * g;
    const update = (Math.sqrt(accumUpdate! + eps) / Math.sqrt(a + eps)) * g;
    const u = rho * accumUpdate! + (1 - rho) * update * update;
    return [w - lr * update, [a, u]];
  };
}

/** FTRL-proximal as TF's ApplyFtrl(V2) documents it. */
function ftrl(lr: number, l1: number, l2: number, power: number, shrinkage = 0): ElementStep {
  return (w, [accum, linear], g) => {
    const gs = g + 2 * shrinkage * w;
    const na = accum! + g * g;
    const lin = linear! + gs - ((na ** -power - accum! ** -power) / lr) * w;
    const quadratic = na ** -power / lr + 2 * l2;
    const nw = Math.abs(lin) > l1 ? (sign(lin) * l1 - lin) / quadratic : 0;
    return [nw, [na, lin]];
  };
}

/** FOBOS: the plain step, then soft thresholding by rate * l1 and scaling by 1 / (1 + rate * l2). */
function fobos(v: number, rate: number, l1: number, l2: number): number {
  return (sign(v) * Math.max(Math.abs(v) - rate * l1, 0)) / (1 + rate * l2);
}

const proximalAdagrad =
  (lr: number, l1: number, l2: number): ElementStep =>
  (w, [accum], g) => {
    const a = accum! + g * g;
    const rate = lr / Math.sqrt(a);
    return [fobos(w - rate * g, rate, l1, l2), [a]];
  };

const proximalSgd =
  (lr: number, l1: number, l2: number): ElementStep =>
  (w, _slots, g) => [fobos(w - lr * g, lr, l1, l2), []];

const CASES: OptimizerCase[] = [
  {
    name: 'Adadelta',
    make: () => new tf.train.AdadeltaOptimizer(0.5, { rho: 0.9, epsilon: 1e-6 }),
    op: 'ApplyAdadelta',
    slots: [
      ['accum', 'E/Adadelta'],
      ['accum_update', 'E/Adadelta_1'],
    ],
    slotInit: [0, 0],
    step: adadelta(0.5, 0.9, 1e-6),
  },
  {
    name: 'Ftrl (defaults)',
    make: () => new tf.train.FtrlOptimizer(0.3),
    op: 'ApplyFtrl',
    slots: [
      ['accum', 'E/Ftrl'],
      ['linear', 'E/Ftrl_1'],
    ],
    slotInit: [0.1, 0],
    step: ftrl(0.3, 0, 0, -0.5),
  },
  {
    name: 'Ftrl (l1, l2, learningRatePower -0.7)',
    make: () =>
      new tf.train.FtrlOptimizer(0.3, { l1RegularizationStrength: 0.3, l2RegularizationStrength: 0.1, learningRatePower: -0.7, initialAccumulatorValue: 0.2 }),
    op: 'ApplyFtrl',
    slots: [
      ['accum', 'E/Ftrl'],
      ['linear', 'E/Ftrl_1'],
    ],
    slotInit: [0.2, 0],
    step: ftrl(0.3, 0.3, 0.1, -0.7),
  },
  {
    name: 'Ftrl (l2 shrinkage: ApplyFtrlV2)',
    make: () => new tf.train.FtrlOptimizer(0.3, { l1RegularizationStrength: 0.01, l2ShrinkageRegularizationStrength: 0.2 }),
    op: 'ApplyFtrlV2',
    slots: [
      ['accum', 'E/Ftrl'],
      ['linear', 'E/Ftrl_1'],
    ],
    slotInit: [0.1, 0],
    step: ftrl(0.3, 0.01, 0, -0.5, 0.2),
  },
  {
    name: 'Ftrl (accumName and linearName name the slot variables)',
    make: () => new tf.train.FtrlOptimizer(0.3, { accumName: 'ftrl_accum', linearName: 'ftrl_linear' }),
    op: 'ApplyFtrl',
    slots: [
      ['accum', 'E/ftrl_accum'],
      ['linear', 'E/ftrl_linear'],
    ],
    slotInit: [0.1, 0],
    step: ftrl(0.3, 0, 0, -0.5),
  },
  {
    name: 'ProximalAdagrad (l1, l2)',
    make: () => new tf.train.ProximalAdagradOptimizer(0.2, { l1RegularizationStrength: 0.05, l2RegularizationStrength: 0.1 }),
    op: 'ApplyProximalAdagrad',
    slots: [['accumulator', 'E/ProximalAdagrad']],
    slotInit: [0.1],
    step: proximalAdagrad(0.2, 0.05, 0.1),
  },
  {
    name: 'ProximalAdagrad (l2 only)',
    make: () => new tf.train.ProximalAdagradOptimizer(0.2, { l2RegularizationStrength: 0.1, initialAccumulatorValue: 0.3 }),
    op: 'ApplyProximalAdagrad',
    slots: [['accumulator', 'E/ProximalAdagrad']],
    slotInit: [0.3],
    step: proximalAdagrad(0.2, 0, 0.1),
  },
  {
    name: 'ProximalGradientDescent (l1, l2)',
    make: () => new tf.train.ProximalGradientDescentOptimizer(0.1, { l1RegularizationStrength: 0.2, l2RegularizationStrength: 0.1 }),
    op: 'ApplyProximalGradientDescent',
    slots: [],
    slotInit: [],
    step: proximalSgd(0.1, 0.2, 0.1),
  },
  {
    name: 'ProximalGradientDescent (no regularization)',
    make: () => new tf.train.ProximalGradientDescentOptimizer(0.1),
    op: 'ApplyProximalGradientDescent',
    slots: [],
    slotInit: [],
    step: proximalSgd(0.1, 0, 0),
  },
];

/** The reference: `steps` updates of E and its slots, every row (dense) or only the rows IDS names (sparse). */
function reference(c: OptimizerCase, sparse: boolean, steps: number): number[][][] {
  let e = num(E0);
  let slots = c.slotInit.map((v) => new Array<number>(ROWS * DIM).fill(v));
  const touched = new Set(IDS);
  const history: number[][][] = [];
  for (let s = 0; s < steps; s++) {
    const grad = gradient(e);
    const ne = [...e];
    const ns = slots.map((x) => [...x]);
    for (let i = 0; i < ROWS * DIM; i++) {
      if (sparse && !touched.has(Math.floor(i / DIM))) continue;
      const [w, sl] = c.step(e[i]!, slots.map((x) => x[i]!), grad[i]!);
      ne[i] = Math.fround(w);
      sl.forEach((v, k) => (ns[k]![i] = Math.fround(v)));
    }
    e = ne;
    slots = ns;
    history.push([e, ...slots]);
  }
  return history;
}

describe('Adadelta, Ftrl, ProximalAdagrad, ProximalGradientDescent: three steps against TF formulas', () => {
  for (const c of CASES) {
    for (const sparse of [false, true]) {
      it(`${c.name}, ${sparse ? 'sparse gradient (repeated indices)' : 'dense gradient'}`, async () => {
        const m = model(sparse);
        const opt = c.make();
        const train = m.g.asDefault(() => opt.minimize(m.loss));
        const types = m.g.getOperations().map((o) => o.type);
        expect(types).toContain(sparse ? `Sparse${c.op}` : c.op);
        expect(types).not.toContain(sparse ? c.op : `Sparse${c.op}`);
        const slotVars = c.slots.map(([key]) => opt.getSlot(m.E, key)!);
        expect(slotVars.map((s) => s.op.name)).toEqual(c.slots.map(([, name]) => name));
        expect(opt.getSlotNames()).toEqual(c.slots.map(([key]) => key).sort());
        for (const s of slotVars) {
          expect(s.shape).toEqual([ROWS, DIM]);
          expect(s.trainable).toBe(false);
        }
        const sess = new tf.Session({ graph: m.g });
        await sess.run(m.g.asDefault(() => tf.globalVariablesInitializer()));
        const feeds: tf.FeedDict = [[m.ids, tf.NDArray.from(IDS, 'int32', [IDS.length])]];
        const want = reference(c, sparse, 3);
        for (const expected of want) {
          await sess.run(train, feeds);
          const got = await sess.run([m.E, ...slotVars]);
          got.forEach((v, k) => expectClose(v, expected[k]!, { shape: [ROWS, DIM], rtol: 2e-4, atol: 2e-6 }));
        }
        sess.close();
      });
    }
  }
});

describe('a small regression trained by each optimizer', () => {
  const X = randomArray([16, 3], { seed: 21 });
  const TRUE_W = [0.5, -1, 2];
  const Y = new tf.NDArray(
    Float32Array.from({ length: 16 }, (_, i) => TRUE_W.reduce((s, w, j) => s + w * (X.data as Float32Array)[i * 3 + j]!, 0.3)),
    [16, 1],
  );
  const makers: [string, () => tf.train.Optimizer][] = [
    ['Adadelta', () => new tf.train.AdadeltaOptimizer(1.0, { rho: 0.9, epsilon: 1e-3 })],
    ['Ftrl', () => new tf.train.FtrlOptimizer(0.5)],
    ['Ftrl with shrinkage', () => new tf.train.FtrlOptimizer(0.5, { l2ShrinkageRegularizationStrength: 0.001 })],
    ['ProximalAdagrad', () => new tf.train.ProximalAdagradOptimizer(0.5, { l1RegularizationStrength: 0.001 })],
    ['ProximalGradientDescent', () => new tf.train.ProximalGradientDescentOptimizer(0.1, { l2RegularizationStrength: 0.001 })],
  ];
  for (const [name, make] of makers) {
    it(`${name} reduces the loss`, async () => {
      const g = new tf.Graph();
      const { loss, train } = g.asDefault(() => {
        const x = tf.placeholder('float32', [null, 3], 'x');
        const y = tf.placeholder('float32', [null, 1], 'y');
        const W = new tf.Variable(tf.zeros([3, 1]), { name: 'W' });
        const b = new tf.Variable(tf.zeros([1]), { name: 'b' });
        const loss = tf.reduceMean(tf.square(tf.subtract(tf.add(tf.matmul(x, W), b), y)));
        return { loss, train: make().minimize(loss), x, y };
      });
      const sess = new tf.Session({ graph: g });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      const feeds: tf.FeedDict = [
        ['x:0', X],
        ['y:0', Y],
      ];
      const first = (await sess.run(loss, feeds)).scalar() as number;
      for (let s = 0; s < 60; s++) await sess.run(train, feeds);
      const last = (await sess.run(loss, feeds)).scalar() as number;
      sess.close();
      expect(last).toBeLessThan(0.25 * first);
    });
  }
});

describe('optimizer options', () => {
  it("take TF's defaults", () => {
    const ada = new tf.train.AdadeltaOptimizer();
    expect([ada.learningRate, ada.rho, ada.epsilon, ada.name]).toEqual([0.001, 0.95, 1e-8, 'Adadelta']);
    const f = new tf.train.FtrlOptimizer(0.1);
    expect([f.learningRatePower, f.initialAccumulatorValue, f.l1RegularizationStrength, f.l2RegularizationStrength, f.l2ShrinkageRegularizationStrength, f.name]).toEqual([
      -0.5,
      0.1,
      0,
      0,
      0,
      'Ftrl',
    ]);
    const pa = new tf.train.ProximalAdagradOptimizer(0.1);
    expect([pa.initialAccumulatorValue, pa.l1RegularizationStrength, pa.l2RegularizationStrength, pa.name]).toEqual([0.1, 0, 0, 'ProximalAdagrad']);
    expect(new tf.train.ProximalGradientDescentOptimizer(0.1).name).toBe('ProximalGradientDescent');
  });

  it('are checked as TF checks them', () => {
    expect(() => new tf.train.FtrlOptimizer(0.1, { learningRatePower: 0.5 })).toThrow(/learning_rate_power 0.5 needs to be negative or zero/);
    expect(() => new tf.train.FtrlOptimizer(0.1, { initialAccumulatorValue: -1 })).toThrow(/initial_accumulator_value -1 needs to be positive or zero/);
    expect(() => new tf.train.FtrlOptimizer(0.1, { l1RegularizationStrength: -1 })).toThrow(/l1_regularization_strength -1 needs to be positive or zero/);
    expect(() => new tf.train.FtrlOptimizer(0.1, { l2RegularizationStrength: -1 })).toThrow(/l2_regularization_strength/);
    expect(() => new tf.train.FtrlOptimizer(0.1, { l2ShrinkageRegularizationStrength: -1 })).toThrow(/l2_shrinkage_regularization_strength/);
    expect(() => new tf.train.ProximalAdagradOptimizer(0.1, { initialAccumulatorValue: 0 })).toThrow(tf.errors.InvalidArgumentError);
    expect(() => new tf.train.ProximalAdagradOptimizer(0.1, { initialAccumulatorValue: 0 })).toThrow(/initial_accumulator_value must be positive: 0/);
  });

  it('name, useLocking and a fed learning rate reach the ops', async () => {
    const m = model(false);
    const { train, lr } = m.g.asDefault(() => {
      const lr = tf.placeholder('float32', [], 'lr');
      return { lr, train: new tf.train.FtrlOptimizer(lr, { name: 'MyFtrl', useLocking: true }).minimize(m.loss) };
    });
    const apply = m.g.getOperations().find((o) => o.type === 'ApplyFtrl')!;
    expect(apply.name).toBe('MyFtrl/update_E/ApplyFtrl');
    expect(apply.getAttr('use_locking')).toBe(true);
    expect(apply.getAttr('multiply_linear_by_lr')).toBe(false);
    expect(m.g.getOperationByName('E/MyFtrl')).toBeTruthy();
    const sess = new tf.Session({ graph: m.g });
    await sess.run(m.g.asDefault(() => tf.globalVariablesInitializer()));
    await sess.run(train, [
      [m.ids, tf.NDArray.from(IDS, 'int32', [IDS.length])],
      [lr, 0.3],
    ]);
    const c = CASES[1]!;
    expectClose((await sess.run(m.E))!, reference(c, false, 1)[0]![0]!, { rtol: 2e-4, atol: 2e-6 });
    await expect(
      sess.run(train, [
        [m.ids, tf.NDArray.from(IDS, 'int32', [IDS.length])],
        [lr, -0.3],
      ]),
    ).rejects.toThrow(/lr is not a positive scalar/);
    sess.close();
  });
});

// ---------------------------------------------------------------------------------------------
// The ops themselves.
// ---------------------------------------------------------------------------------------------

interface OpCase {
  type: string;
  /** Slot values after the variable, in TF's input order. */
  slots: number[][];
  /** The scalars in TF's input order. */
  scalars: number[];
  attrs?: Record<string, boolean>;
  /** One element's update. */
  step: ElementStep;
}

/** FTRL with multiply_linear_by_lr, as TF's kernels compute it: linear is kept scaled by lr. */
function ftrlByLr(lr: number, l1: number, l2: number, power: number, shrinkage = 0): ElementStep {
  return (w, [accum, linear], g) => {
    const gs = g + 2 * shrinkage * w;
    const na = accum! + g * g;
    const lin = linear! + gs * lr - (na ** -power - accum! ** -power) * w;
    const quadratic = na ** -power + 2 * l2 * lr;
    const nw = Math.abs(lin) > l1 * lr ? (sign(lin) * l1 * lr - lin) / quadratic : 0;
    return [nw, [na, lin]];
  };
}

const W_OP = [0.5, -1.5, 2, 0.25, -0.1, 0.8];
const G_OP = [0.3, -0.2, 1.5, -0.05, 0.7, -0.9];
const ACC = [0.1, 0.2, 0.5, 1, 0.3, 0.05];
const LIN = [0.2, -0.5, 0.05, 1, -0.02, 0.4];

const OP_CASES: OpCase[] = [
  { type: 'ApplyAdadelta', slots: [ACC, [0.01, 0.02, 0, 0.3, 0.1, 0.2]], scalars: [0.7, 0.9, 1e-6], step: adadelta(0.7, 0.9, 1e-6) },
  { type: 'ApplyProximalGradientDescent', slots: [], scalars: [0.2, 0.15, 0.3], step: proximalSgd(0.2, 0.15, 0.3) },
  { type: 'ApplyProximalAdagrad', slots: [ACC], scalars: [0.2, 0.1, 0.3], step: proximalAdagrad(0.2, 0.1, 0.3) },
  { type: 'ApplyFtrl', slots: [ACC, LIN], scalars: [0.4, 0.1, 0.2, -0.5], step: ftrl(0.4, 0.1, 0.2, -0.5) },
  { type: 'ApplyFtrl', slots: [ACC, LIN], scalars: [0.4, 0.1, 0.2, 0], step: ftrl(0.4, 0.1, 0.2, 0) },
  { type: 'ApplyFtrlV2', slots: [ACC, LIN], scalars: [0.4, 0.1, 0.2, 0.3, -0.6], step: ftrl(0.4, 0.1, 0.2, -0.6, 0.3) },
  { type: 'ApplyFtrl', slots: [ACC, LIN], scalars: [0.4, 0.1, 0.2, -0.5], attrs: { multiply_linear_by_lr: true }, step: ftrlByLr(0.4, 0.1, 0.2, -0.5) },
  {
    type: 'ApplyFtrlV2',
    slots: [ACC, LIN],
    scalars: [0.4, 0.05, 0.2, 0.3, -0.7],
    attrs: { multiply_linear_by_lr: true },
    step: ftrlByLr(0.4, 0.05, 0.2, -0.7, 0.3),
  },
];

/** Where the gradient goes among the inputs after the refs: Ftrl's right after them, the others' last. */
const gradFirst = (type: string): boolean => type.includes('Ftrl');

/** The op on variables shaped [3, 2], fed its gradient (and, sparse, its indices) through placeholders. */
function buildOp(c: OpCase, sparse: boolean, g: tf.Graph) {
  return g.asDefault(() => {
    const vars = [W_OP, ...c.slots].map((v, i) => new tf.Variable(tf.constant(v, 'float32', [3, 2]), { name: i === 0 ? 'var' : `slot${i}` }));
    const grad = tf.placeholder('float32', sparse ? [null, 2] : [3, 2], 'grad');
    const indices = tf.placeholder('int64', [null], 'indices');
    const scalars = c.scalars.map((s, k) => tf.constant(s, 'float32', [], `s${k}`));
    const g2 = sparse ? [grad, indices] : [grad];
    const rest = gradFirst(c.type) ? [...g2, ...scalars] : [...scalars, ...g2];
    const type = sparse ? `Sparse${c.type}` : c.type;
    const attrs = { T: 'float32' as const, use_locking: false, ...(sparse ? { Tindices: 'int64' as const } : {}), ...c.attrs };
    const op = g.createOp(type, [...vars.map((v) => v.ref), ...rest], attrs, { name: type });
    return { vars, op, grad, indices };
  });
}

describe('the update ops against TF kernel formulas', () => {
  for (const c of OP_CASES) {
    const label = `${c.type} ${JSON.stringify(c.scalars)}${c.attrs ? ' ' + JSON.stringify(c.attrs) : ''}`;
    it(`${label}: dense, twice`, async () => {
      const g = new tf.Graph();
      const { vars, op, grad } = buildOp(c, false, g);
      const sess = new tf.Session({ graph: g });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      let state = [W_OP, ...c.slots];
      for (let s = 0; s < 2; s++) {
        const out = await sess.run(op.outputs[0]!, [[grad, tf.NDArray.from(G_OP, 'float32', [3, 2])]]);
        state = state.map((x) => [...x]);
        for (let i = 0; i < W_OP.length; i++) {
          const [w, sl] = c.step(state[0]![i]!, state.slice(1).map((x) => x[i]!), G_OP[i]!);
          state[0]![i] = Math.fround(w);
          sl.forEach((v, k) => (state[k + 1]![i] = Math.fround(v)));
        }
        expectClose(out, state[0]!, { shape: [3, 2], rtol: 2e-4, atol: 2e-6 });
        (await sess.run(vars)).forEach((v, k) => expectClose(v, state[k]!, { rtol: 2e-4, atol: 2e-6 }));
      }
      sess.close();
    });

    it(`${label}: sparse rows [2, 0] (int64 indices), row 1 untouched`, async () => {
      const g = new tf.Graph();
      const { vars, op, grad, indices } = buildOp(c, true, g);
      const sess = new tf.Session({ graph: g });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      const rowsGrad = [0.4, -0.6, 1.1, 0.2];
      await sess.run(op, [
        [grad, tf.NDArray.from(rowsGrad, 'float32', [2, 2])],
        [indices, tf.NDArray.from([2n, 0n], 'int64', [2])],
      ]);
      const state = [W_OP, ...c.slots].map((x) => [...x]);
      [2, 0].forEach((row, k) => {
        for (let j = 0; j < 2; j++) {
          const i = row * 2 + j;
          const [w, sl] = c.step(state[0]![i]!, state.slice(1).map((x) => x[i]!), rowsGrad[k * 2 + j]!);
          state[0]![i] = w;
          sl.forEach((v, n) => (state[n + 1]![i] = v));
        }
      });
      (await sess.run(vars)).forEach((v, k) => expectClose(v, state[k]!, { rtol: 2e-4, atol: 2e-6 }));
      await expect(
        sess.run(op, [
          [grad, tf.NDArray.from(rowsGrad, 'float32', [2, 2])],
          [indices, tf.NDArray.from([3n, 0n], 'int64', [2])],
        ]),
      ).rejects.toThrow(tf.errors.InvalidArgumentError);
      sess.close();
    });
  }

  it('Ftrl ops reject hyperparameters out of range at run time, as TF', async () => {
    const bad: [number, RegExp][] = [
      [0, /lr is not a positive scalar/],
      [1, /l1 regularization strength is not a non-negative scalar/],
      [2, /l2 regularization strength is not a non-negative scalar/],
      [3, /l2 shrinkage regularization strength is not a non-negative scalar/],
      [4, /lr_power is not a non-positive scalar/],
    ];
    for (const sparse of [false, true]) {
      for (const [k, message] of bad) {
        const scalars = [0.4, 0.1, 0.2, 0.3, -0.5];
        scalars[k] = k === 4 ? 0.5 : k === 0 ? 0 : -0.1;
        const g = new tf.Graph();
        const { op, grad, indices } = buildOp({ type: 'ApplyFtrlV2', slots: [ACC, LIN], scalars, step: ftrl(0, 0, 0, 0) }, sparse, g);
        const sess = new tf.Session({ graph: g });
        await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
        const feeds: tf.FeedDict = sparse
          ? [
              [grad, tf.NDArray.from([1, 2], 'float32', [1, 2])],
              [indices, tf.NDArray.from([1n], 'int64', [1])],
            ]
          : [[grad, tf.NDArray.from(G_OP, 'float32', [3, 2])]];
        await expect(sess.run(op, feeds)).rejects.toThrow(message);
        sess.close();
      }
    }
  });
});

const ALL_OPS = ['ApplyAdadelta', 'ApplyProximalGradientDescent', 'ApplyProximalAdagrad', 'ApplyFtrl', 'ApplyFtrlV2'];

describe('op registrations', () => {
  it("have TF's inputs and attrs, and are stateful ref ops without gradients", () => {
    const inputs: Record<string, string[]> = {
      ApplyAdadelta: ['var', 'accum', 'accum_update', 'lr', 'rho', 'epsilon', 'grad'],
      SparseApplyAdadelta: ['var', 'accum', 'accum_update', 'lr', 'rho', 'epsilon', 'grad', 'indices'],
      ApplyProximalGradientDescent: ['var', 'alpha', 'l1', 'l2', 'delta'],
      SparseApplyProximalGradientDescent: ['var', 'alpha', 'l1', 'l2', 'grad', 'indices'],
      ApplyProximalAdagrad: ['var', 'accum', 'lr', 'l1', 'l2', 'grad'],
      SparseApplyProximalAdagrad: ['var', 'accum', 'lr', 'l1', 'l2', 'grad', 'indices'],
      ApplyFtrl: ['var', 'accum', 'linear', 'grad', 'lr', 'l1', 'l2', 'lr_power'],
      SparseApplyFtrl: ['var', 'accum', 'linear', 'grad', 'indices', 'lr', 'l1', 'l2', 'lr_power'],
      ApplyFtrlV2: ['var', 'accum', 'linear', 'grad', 'lr', 'l1', 'l2', 'l2_shrinkage', 'lr_power'],
      SparseApplyFtrlV2: ['var', 'accum', 'linear', 'grad', 'indices', 'lr', 'l1', 'l2', 'l2_shrinkage', 'lr_power'],
    };
    for (const [type, names] of Object.entries(inputs)) {
      const def = getOpDef(type)!;
      expect(def.inputs, type).toEqual(names);
      expect(def.stateful, type).toBe(true);
      expect(def.grad, type).toBeNull();
      const attrs = Object.keys(def.attrs ?? {}).sort();
      const want = ['T', 'use_locking', ...(type.startsWith('Sparse') ? ['Tindices'] : []), ...(type.includes('Ftrl') ? ['multiply_linear_by_lr'] : [])].sort();
      expect(attrs, type).toEqual(want);
    }
  });

  it('round-trip through a GraphDef with their attrs; a TF 1.15 graph without multiply_linear_by_lr runs as false', async () => {
    const g1 = new tf.Graph();
    const built = [...OP_CASES.slice(0, 3), OP_CASES[6]!, OP_CASES[7]!].flatMap((c) => [false, true].map((sparse) => ({ c, sparse })));
    const names: string[] = [];
    g1.asDefault(() => {
      for (const { c, sparse } of built) {
        g1.nameScope(`${c.type}_${sparse}`, () => {
          const { op } = buildOp({ ...c, attrs: { ...c.attrs, use_locking: true } }, sparse, g1);
          names.push(op.name);
        });
      }
    });
    const bytes = encodeMessage('GraphDef', g1.toGraphDef());
    const g2 = new tf.Graph();
    tf.importGraphDef(bytes, { graph: g2, name: '' });
    for (const name of names) {
      const a = g1.getOperationByName(name)!;
      const b = g2.getOperationByName(name)!;
      expect(b.type).toBe(a.type);
      expect(b.attrs).toEqual(a.attrs);
      expect(b.getAttr('use_locking')).toBe(true);
      if (a.type.includes('Ftrl')) expect(b.getAttr('multiply_linear_by_lr')).toBe(true);
      if (a.type.startsWith('Sparse')) expect(b.getAttr('Tindices')).toBe('int64');
      expect(b.inputs.map((t) => t.name)).toEqual(a.inputs.map((t) => t.name));
    }

    // ApplyFtrl as TF 1.15 writes it: no multiply_linear_by_lr attr.
    const g3 = new tf.Graph();
    const plain = OP_CASES[3]!;
    const { op } = buildOp(plain, false, g3);
    const gd = g3.toGraphDef();
    const node = gd.node!.find((n: NodeDef) => n.name === op.name)!;
    delete node.attr!.multiply_linear_by_lr;
    const g4 = new tf.Graph();
    tf.importGraphDef(gd, { graph: g4, name: '' });
    const sess = new tf.Session({ graph: g4 });
    await sess.run(['var/Assign', 'slot1/Assign', 'slot2/Assign']);
    const [out] = await sess.run([`${op.name}:0`], [['grad:0', tf.NDArray.from(G_OP, 'float32', [3, 2])]]);
    sess.close();
    const want = W_OP.map((w, i) => plain.step(w, [ACC[i]!, LIN[i]!], G_OP[i]!)[0]);
    expectClose(out!, want, { rtol: 2e-4, atol: 2e-6 });
  });

  it('check shapes while building: gradient, slots, scalars, indices', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const v = new tf.Variable(tf.zeros([3, 2]), { name: 'v' });
      const acc = new tf.Variable(tf.zeros([3, 2]), { name: 'acc' });
      const lin = new tf.Variable(tf.zeros([3, 2]), { name: 'lin' });
      const odd = new tf.Variable(tf.zeros([2, 2]), { name: 'odd' });
      const s = tf.constant(0.1);
      const make = (type: string, inputs: tf.Tensor[], sparse = false) =>
        g.createOp(type, inputs, { T: 'float32', use_locking: false, ...(sparse ? { Tindices: 'int32' as const } : {}) });
      expect(() => make('ApplyFtrl', [v.ref, acc.ref, lin.ref, tf.zeros([3, 3]), s, s, s, s])).toThrow(/var and grad do not have the same shape: \[3,2\]/);
      expect(() => make('ApplyProximalGradientDescent', [v.ref, s, s, s, tf.zeros([2])])).toThrow(/var and delta do not have the same shape/);
      expect(() => make('ApplyAdadelta', [v.ref, odd.ref, acc.ref, s, s, s, tf.zeros([3, 2])])).toThrow(/var and accum do not have the same shape/);
      expect(() => make('ApplyProximalAdagrad', [v.ref, acc.ref, s, tf.zeros([2]), s, tf.zeros([3, 2])])).toThrow(/l1 is not a scalar/);
      expect(() => make('ApplyFtrlV2', [v.ref, acc.ref, lin.ref, tf.zeros([3, 2]), s, s, s, tf.zeros([1]), s])).toThrow(/l2_shrinkage is not a scalar/);
      expect(() => make('SparseApplyFtrl', [v.ref, acc.ref, lin.ref, tf.zeros([2, 2]), tf.constant([[0, 1]], 'int32'), s, s, s, s], true)).toThrow(
        /indices .* must be a vector/,
      );
      expect(() => make('SparseApplyProximalAdagrad', [v.ref, acc.ref, s, s, s, tf.zeros([2, 3]), tf.constant([0, 1], 'int32')], true)).toThrow(
        /grad .* must have shape \[2,2\]/,
      );
      expect(() => make('SparseApplyAdadelta', [v.ref, acc.ref, lin.ref, s, s, s, tf.zeros([2, 2]), tf.constant([0, 1], 'float32')], true)).toThrow(
        tf.errors.InvalidArgumentError,
      );
      for (const type of ALL_OPS) expect(getOpDef(type)!.refInputs).toBeTruthy();
    });
  });

  it('check shapes at run time when the static shapes are unknown', async () => {
    const g = new tf.Graph();
    const { op, grad, indices, v } = g.asDefault(() => {
      const v = new tf.Variable(tf.zeros([3, 2]), { name: 'v' });
      const acc = new tf.Variable(tf.fill([3, 2], 0.1), { name: 'acc' });
      const grad = tf.placeholder('float32', null, 'grad');
      const indices = tf.placeholder('int32', null, 'indices');
      const s = tf.constant(0.1);
      const op = g.createOp('SparseApplyProximalAdagrad', [v.ref, acc.ref, s, s, s, grad, indices], { T: 'float32', Tindices: 'int32', use_locking: false });
      return { op, grad, indices, v };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    await expect(
      sess.run(op, [
        [grad, tf.NDArray.from([1, 2, 3], 'float32', [1, 3])],
        [indices, tf.NDArray.from([0], 'int32', [1])],
      ]),
    ).rejects.toThrow(/grad must have shape \[1, \.\.\.var\.shape\[1:\]\]/);
    await sess.run(op, [
      [grad, tf.NDArray.from([1, 2], 'float32', [1, 2])],
      [indices, tf.NDArray.from([1], 'int32', [1])],
    ]);
    const after = num((await sess.run(v))!);
    expect(after[0]).toBe(0);
    expect(after[2]).toBeLessThan(0);
    sess.close();
  });
});
