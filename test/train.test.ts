import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// Update kernels, run directly on variables, against the update formulas written out in JS.
// ---------------------------------------------------------------------------------------------

type Vec = number[];
const f32 = (xs: Vec): Vec => Array.from(Float32Array.from(xs));

interface KernelCase {
  type: string;
  attrs?: Record<string, boolean>;
  /** Initial values of the variable and its slots, in input order. */
  refs: Vec[];
  /** All inputs after the refs, scalars as numbers and the gradient as a vector, in TF's order. */
  rest: (number | Vec)[];
  /** Expected [var, ...slots] after one update, from the formula. */
  expected: (refs: Vec[], rest: (number | Vec)[]) => Vec[];
}

const W0 = [0.5, -1.5, 2, 0.25];
const G = [0.3, -0.2, 1.5, -0.05];

const kernelCases: KernelCase[] = [
  {
    type: 'ApplyGradientDescent',
    refs: [W0],
    rest: [0.1, G],
    expected: ([w], [a, g]) => [w!.map((x, i) => x - (a as number) * (g as Vec)[i]!)],
  },
  ...[false, true].map(
    (nesterov): KernelCase => ({
      type: 'ApplyMomentum',
      attrs: { use_nesterov: nesterov },
      refs: [W0, [0.1, 0.2, -0.3, 0]],
      rest: [0.05, G, 0.9],
      expected: ([w, acc], [lr, g, mom]) => {
        const a = acc!.map((x, i) => x * (mom as number) + (g as Vec)[i]!);
        const l = lr as number;
        const m = mom as number;
        const nw = w!.map((x, i) => (nesterov ? x - (g as Vec)[i]! * l - a[i]! * m * l : x - l * a[i]!));
        return [nw, a];
      },
    }),
  ),
  ...[false, true].map(
    (nesterov): KernelCase => ({
      type: 'ApplyAdam',
      attrs: { use_nesterov: nesterov },
      refs: [W0, [0.01, -0.02, 0.3, 0], [0.001, 0.002, 0.05, 0.1]],
      rest: [0.81, 0.998, 0.01, 0.9, 0.999, 1e-7, G],
      expected: ([w, m, v], [b1p, b2p, lr, b1, b2, eps, g]) => {
        const gg = g as Vec;
        const alpha = ((lr as number) * Math.sqrt(1 - (b2p as number))) / (1 - (b1p as number));
        const nm = m!.map((x, i) => (b1 as number) * x + (1 - (b1 as number)) * gg[i]!);
        const nv = v!.map((x, i) => (b2 as number) * x + (1 - (b2 as number)) * gg[i]! * gg[i]!);
        const nw = w!.map((x, i) => {
          const step = nesterov ? (1 - (b1 as number)) * gg[i]! + (b1 as number) * nm[i]! : nm[i]!;
          return x - (alpha * step) / (Math.sqrt(nv[i]!) + (eps as number));
        });
        return [nw, nm, nv];
      },
    }),
  ),
  {
    type: 'ApplyRMSProp',
    refs: [W0, [1, 0.5, 0.2, 2], [0, 0.1, -0.1, 0.05]],
    rest: [0.01, 0.9, 0.5, 1e-6, G],
    expected: ([w, ms, mom], [lr, rho, momentum, eps, g]) => {
      const gg = g as Vec;
      const nms = ms!.map((x, i) => (rho as number) * x + (1 - (rho as number)) * gg[i]! * gg[i]!);
      const nmom = mom!.map((x, i) => (momentum as number) * x + ((lr as number) * gg[i]!) / Math.sqrt(nms[i]! + (eps as number)));
      return [w!.map((x, i) => x - nmom[i]!), nms, nmom];
    },
  },
  {
    type: 'ApplyCenteredRMSProp',
    refs: [W0, [0.1, -0.1, 0.2, 0], [1, 0.5, 0.2, 2], [0, 0.1, -0.1, 0.05]],
    rest: [0.01, 0.9, 0.5, 1e-6, G],
    expected: ([w, mg, ms, mom], [lr, rho, momentum, eps, g]) => {
      const gg = g as Vec;
      const r = rho as number;
      const nms = ms!.map((x, i) => r * x + (1 - r) * gg[i]! * gg[i]!);
      const nmg = mg!.map((x, i) => r * x + (1 - r) * gg[i]!);
      const nmom = mom!.map(
        (x, i) => (momentum as number) * x + ((lr as number) * gg[i]!) / Math.sqrt(nms[i]! - nmg[i]! * nmg[i]! + (eps as number)),
      );
      return [w!.map((x, i) => x - nmom[i]!), nmg, nms, nmom];
    },
  },
  ...[true, false].map(
    (updateSlots): KernelCase => ({
      type: 'ApplyAdagrad',
      attrs: { update_slots: updateSlots },
      refs: [W0, [0.1, 0.2, 0.5, 1]],
      rest: [0.1, G],
      expected: ([w, acc], [lr, g]) => {
        const gg = g as Vec;
        const na = updateSlots ? acc!.map((x, i) => x + gg[i]! * gg[i]!) : acc!;
        return [w!.map((x, i) => x - ((lr as number) * gg[i]!) / Math.sqrt(na[i]!)), na];
      },
    }),
  ),
];

function buildApply(c: KernelCase, g: tf.Graph) {
  return g.asDefault(() => {
    const vars = c.refs.map((r, i) => new tf.Variable(tf.constant(r, 'float32', [2, 2]), { name: i === 0 ? 'var' : `slot${i}` }));
    const rest = c.rest.map((x) => (typeof x === 'number' ? tf.constant(x, 'float32') : tf.constant(x, 'float32', [2, 2])));
    const op = g.createOp(c.type, [...vars.map((v) => v.ref), ...rest], { T: 'float32', use_locking: false, ...c.attrs }, { name: c.type });
    return { vars, op };
  });
}

describe('optimizer update kernels', () => {
  for (const c of kernelCases) {
    const label = `${c.type}${c.attrs ? ' ' + JSON.stringify(c.attrs) : ''}`;
    it(`${label} updates the variable and slots in place, twice`, async () => {
      const g = new tf.Graph();
      const { vars, op } = buildApply(c, g);
      const sess = new tf.Session({ graph: g });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      let state = c.refs.map(f32);
      for (let step = 0; step < 2; step++) {
        const out = await sess.run(op.outputs[0]!);
        state = c.expected(state, c.rest).map(f32);
        expectClose(out, state[0]!, { shape: [2, 2] });
        const values = await sess.run(vars);
        values.forEach((v, i) => expectClose(v, state[i]!, { shape: [2, 2] }));
      }
      sess.close();
    });
  }

  it('fail on an uninitialized variable or slot with FailedPreconditionError', async () => {
    const g = new tf.Graph();
    const c = kernelCases.find((k) => k.type === 'ApplyMomentum')!;
    const { vars, op } = buildApply(c, g);
    const sess = new tf.Session({ graph: g });
    await expect(sess.run(op)).rejects.toThrow(tf.errors.FailedPreconditionError);
    await sess.run(vars[0]!.initializer);
    await expect(sess.run(op)).rejects.toThrow(/uninitialized value slot1/);
    sess.close();
  });

  it('check shapes at run time when the static shapes are unknown', async () => {
    const g = new tf.Graph();
    const { op, grad, lr, v } = g.asDefault(() => {
      const v = new tf.Variable(tf.constant([1, 2, 3]), { name: 'v' });
      const grad = tf.placeholder('float32', null, 'grad');
      const lr = tf.placeholder('float32', null, 'lr');
      const op = g.createOp('ApplyGradientDescent', [v.ref, lr, grad], { T: 'float32', use_locking: false });
      return { op, grad, lr, v };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(v.initializer);
    await expect(sess.run(op, [[grad, [1, 2]], [lr, 0.1]])).rejects.toThrow(/var and delta do not have the same shape/);
    await expect(sess.run(op, [[grad, [1, 2, 3]], [lr, [0.1]]])).rejects.toThrow(/alpha is not a scalar/);
    expectClose((await sess.run(op.outputs[0]!, [[grad, [1, 2, 3]], [lr, 0.5]]))!, [0.5, 1, 1.5]);
    sess.close();
  });
});

describe('optimizer op shape functions', () => {
  const make = (build: () => void) => () => new tf.Graph().asDefault(build);

  it('infer the variable shape, merging partial shapes', () => {
    new tf.Graph().asDefault(() => {
      const v = new tf.Variable(tf.constant(0, 'float32', [2, 3]), { name: 'v' });
      const acc = new tf.Variable(tf.constant(0, 'float32', [2, 3]), { name: 'acc' });
      const grad = tf.placeholder('float32', [null, 3]);
      const op = tf.getDefaultGraph().createOp('ApplyAdagrad', [v.ref, acc.ref, tf.constant(0.1), grad], {
        T: 'float32',
        use_locking: false,
        update_slots: true,
      });
      expect(op.outputs[0]!.shape).toEqual([2, 3]);
      expect(op.outputs[0]!.dtype).toBe('float32');
      const u = new tf.Variable(tf.placeholderWithDefault(tf.constant(0, 'float32', [2, 3]), [null, 3]), { name: 'u' });
      const op2 = tf.getDefaultGraph().createOp('ApplyGradientDescent', [u.ref, tf.constant(0.1), tf.placeholder('float32', [2, null])], {
        T: 'float32',
        use_locking: false,
      });
      expect(op2.outputs[0]!.shape).toEqual([2, 3]);
    });
  });

  it('reject a gradient of another shape', () => {
    expect(
      make(() => {
        const v = new tf.Variable(tf.constant(0, 'float32', [2, 3]), { name: 'v' });
        tf.getDefaultGraph().createOp('ApplyGradientDescent', [v.ref, tf.constant(0.1), tf.constant(0, 'float32', [3, 2])], {
          T: 'float32',
          use_locking: false,
        });
      }),
    ).toThrow(/ApplyGradientDescent op 'ApplyGradientDescent': var and delta do not have the same shape: \[2,3\]/);
  });

  it('reject a slot of another shape', () => {
    expect(
      make(() => {
        const v = new tf.Variable(tf.constant(0, 'float32', [2]), { name: 'v' });
        const acc = new tf.Variable(tf.constant(0, 'float32', [3]), { name: 'acc' });
        tf.getDefaultGraph().createOp('ApplyMomentum', [v.ref, acc.ref, tf.constant(0.1), tf.constant(0, 'float32', [2]), tf.constant(0.9)], {
          T: 'float32',
          use_locking: false,
          use_nesterov: false,
        });
      }),
    ).toThrow(/var and accum do not have the same shape/);
  });

  it('reject a non-scalar hyperparameter', () => {
    expect(
      make(() => {
        const v = new tf.Variable(tf.constant(0, 'float32', [2]), { name: 'v' });
        tf.getDefaultGraph().createOp('ApplyGradientDescent', [v.ref, tf.constant([0.1, 0.2]), tf.constant(0, 'float32', [2])], {
          T: 'float32',
          use_locking: false,
        });
      }),
    ).toThrow(/alpha is not a scalar: \[2\]/);
  });

  it('reject a ref input that is not a variable, and mixed dtypes', () => {
    expect(
      make(() => {
        const x = tf.constant(0, 'float32', [2]);
        tf.getDefaultGraph().createOp('ApplyGradientDescent', [x, tf.constant(0.1), x], { T: 'float32', use_locking: false });
      }),
    ).toThrow(/var must be a variable, got Const:0 \(Const\)/);
    expect(
      make(() => {
        const v = new tf.Variable(tf.constant(0, 'float32', [2]), { name: 'v' });
        tf.getDefaultGraph().createOp('ApplyGradientDescent', [v.ref, tf.constant(1, 'int32'), tf.constant(0, 'float32', [2])], {
          T: 'float32',
          use_locking: false,
        });
      }),
    ).toThrow(/alpha \(Const_1:0\) has dtype int32, expected float32 like var/);
    expect(
      make(() => {
        const v = new tf.Variable(tf.constant(0, 'int32', [2]), { name: 'v' });
        tf.getDefaultGraph().createOp('ApplyGradientDescent', [v.ref, tf.constant(1, 'int32'), tf.constant(0, 'int32', [2])], {
          T: 'int32',
          use_locking: false,
        });
      }),
    ).toThrow(/var \(v:0\) has dtype int32, expected one of float32/);
  });

  it('are stateful ref ops without gradients', async () => {
    const { getOpDef } = await import('../ops/index.js');
    for (const t of ['ApplyGradientDescent', 'ApplyMomentum', 'ApplyAdam', 'ApplyRMSProp', 'ApplyCenteredRMSProp', 'ApplyAdagrad']) {
      const d = getOpDef(t)!;
      expect(d.stateful, t).toBe(true);
      expect(d.grad, t).toBeNull();
      expect(d.refInputs![0], t).toBe(0);
    }
    expect(getOpDef('ApplyAdam')!.refInputs).toEqual([0, 1, 2]);
    expect(getOpDef('ApplyCenteredRMSProp')!.refInputs).toEqual([0, 1, 2, 3]);
  });
});

// ---------------------------------------------------------------------------------------------
// Optimizers on a tiny linear regression, against the optimizers' formulas in plain JS.
// ---------------------------------------------------------------------------------------------

const X = [
  [1, 2, -1],
  [0.5, -1, 2],
  [-1, 0.5, 1],
  [2, 1, 0],
];
const Y = [1, -2, 0.5, 3];
const W_INIT = [0.1, -0.2, 0.3];
const B_INIT = [0.05];
const LRS = [0.1, 0.05, 0.02];

/** Gradients of mean((X W + b - Y)^2) with respect to W ([3]) and b ([1]). */
function linregGrads(w: Vec, b: Vec): [Vec, Vec] {
  const n = X.length;
  const gw = [0, 0, 0];
  let gb = 0;
  for (let i = 0; i < n; i++) {
    const r = X[i]!.reduce((s, x, j) => s + x * w[j]!, b[0]!) - Y[i]!;
    for (let j = 0; j < 3; j++) gw[j]! += (2 / n) * r * X[i]![j]!;
    gb += (2 / n) * r;
  }
  return [gw, [gb]];
}

interface Problem {
  g: tf.Graph;
  W: tf.Variable;
  b: tf.Variable;
  lr: tf.Tensor;
  loss: tf.Tensor;
}

function linreg(): Problem {
  const g = new tf.Graph();
  return g.asDefault(() => {
    const W = new tf.Variable(tf.constant(W_INIT, 'float32', [3, 1]), { name: 'W' });
    const b = new tf.Variable(tf.constant(B_INIT, 'float32', [1]), { name: 'b' });
    const lr = tf.placeholder('float32', [], 'lr');
    const pred = tf.add(tf.matmul(tf.constant(X), W), b);
    const loss = tf.reduceMean(tf.square(tf.subtract(pred, tf.constant(Y, 'float32', [4, 1]))));
    return { g, W, b, lr, loss };
  });
}

interface OptimizerCase {
  name: string;
  make: (lr: tf.Tensor) => tf.train.Optimizer;
  /** Slot names (TF's) of W, in the order fetched. */
  slotVars: string[];
  /** Slot keys for getSlot, in the same order. */
  slotKeys: string[];
  /** Initial slot values for a variable of n elements. */
  initSlots: (n: number) => Vec[];
  /** One update in JS: returns the new variable and slots; t is the 1-based step. */
  step: (w: Vec, slots: Vec[], g: Vec, lr: number, t: number) => [Vec, Vec[]];
}

const fill = (n: number, v: number): Vec => new Array<number>(n).fill(v);

const optimizerCases: OptimizerCase[] = [
  {
    name: 'GradientDescent',
    make: (lr) => new tf.train.GradientDescentOptimizer(lr),
    slotVars: [],
    slotKeys: [],
    initSlots: () => [],
    step: (w, _s, g, lr) => [w.map((x, i) => x - lr * g[i]!), []],
  },
  ...[false, true].map(
    (nesterov): OptimizerCase => ({
      name: `Momentum${nesterov ? ' (Nesterov)' : ''}`,
      make: (lr) => new tf.train.MomentumOptimizer(lr, 0.9, { useNesterov: nesterov }),
      slotVars: ['W/Momentum'],
      slotKeys: ['momentum'],
      initSlots: (n) => [fill(n, 0)],
      step: (w, [acc], g, lr) => {
        const a = acc!.map((x, i) => 0.9 * x + g[i]!);
        const nw = w.map((x, i) => (nesterov ? x - lr * (g[i]! + 0.9 * a[i]!) : x - lr * a[i]!));
        return [nw, [a]];
      },
    }),
  ),
  {
    name: 'Adam',
    make: (lr) => new tf.train.AdamOptimizer(lr),
    slotVars: ['W/Adam', 'W/Adam_1'],
    slotKeys: ['m', 'v'],
    initSlots: (n) => [fill(n, 0), fill(n, 0)],
    step: (w, [m, v], g, lr, t) => {
      const [b1, b2, eps] = [0.9, 0.999, 1e-8];
      const lrT = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
      const nm = m!.map((x, i) => x + (g[i]! - x) * (1 - b1));
      const nv = v!.map((x, i) => x + (g[i]! * g[i]! - x) * (1 - b2));
      return [w.map((x, i) => x - (lrT * nm[i]!) / (Math.sqrt(nv[i]!) + eps)), [nm, nv]];
    },
  },
  {
    name: 'RMSProp',
    make: (lr) => new tf.train.RMSPropOptimizer(lr, { momentum: 0.5 }),
    slotVars: ['W/RMSProp', 'W/RMSProp_1'],
    slotKeys: ['rms', 'momentum'],
    initSlots: (n) => [fill(n, 1), fill(n, 0)],
    step: (w, [ms, mom], g, lr) => {
      const nms = ms!.map((x, i) => 0.9 * x + 0.1 * g[i]! * g[i]!);
      const nmom = mom!.map((x, i) => 0.5 * x + (lr * g[i]!) / Math.sqrt(nms[i]! + 1e-10));
      return [w.map((x, i) => x - nmom[i]!), [nms, nmom]];
    },
  },
  {
    name: 'RMSProp (centered)',
    make: (lr) => new tf.train.RMSPropOptimizer(lr, { decay: 0.8, momentum: 0.3, epsilon: 1e-6, centered: true }),
    slotVars: ['W/RMSProp', 'W/RMSProp_1', 'W/RMSProp_2'],
    slotKeys: ['rms', 'mg', 'momentum'],
    initSlots: (n) => [fill(n, 1), fill(n, 0), fill(n, 0)],
    step: (w, [ms, mg, mom], g, lr) => {
      const nms = ms!.map((x, i) => 0.8 * x + 0.2 * g[i]! * g[i]!);
      const nmg = mg!.map((x, i) => 0.8 * x + 0.2 * g[i]!);
      const nmom = mom!.map((x, i) => 0.3 * x + (lr * g[i]!) / Math.sqrt(nms[i]! - nmg[i]! ** 2 + 1e-6));
      return [w.map((x, i) => x - nmom[i]!), [nms, nmg, nmom]];
    },
  },
  {
    name: 'Adagrad',
    make: (lr) => new tf.train.AdagradOptimizer(lr, { initialAccumulatorValue: 0.2 }),
    slotVars: ['W/Adagrad'],
    slotKeys: ['accumulator'],
    initSlots: (n) => [fill(n, 0.2)],
    step: (w, [acc], g, lr) => {
      const na = acc!.map((x, i) => x + g[i]! * g[i]!);
      return [w.map((x, i) => x - (lr * g[i]!) / Math.sqrt(na[i]!)), [na]];
    },
  },
];

describe('optimizers', () => {
  for (const c of optimizerCases) {
    it(`${c.name}: three steps with a fed learning rate match the formula`, async () => {
      const { g, W, b, lr, loss } = linreg();
      const opt = c.make(lr);
      const train = g.asDefault(() => opt.minimize(loss));
      const slotsW = c.slotKeys.map((k) => opt.getSlot(W, k)!);
      const slotsB = c.slotKeys.map((k) => opt.getSlot(b, k)!);
      expect(slotsW.map((s) => s.op.name)).toEqual(c.slotVars);
      expect(slotsB.map((s) => s.op.name)).toEqual(c.slotVars.map((n) => n.replace(/^W/, 'b')));

      const sess = new tf.Session({ graph: g });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      let w = W_INIT;
      let bb = B_INIT;
      let sw = c.initSlots(3);
      let sb = c.initSlots(1);
      for (let t = 1; t <= LRS.length; t++) {
        const l = LRS[t - 1]!;
        const [gw, gb] = linregGrads(w, bb);
        [w, sw] = c.step(w, sw, gw, l, t);
        [bb, sb] = c.step(bb, sb, gb, l, t);
        await sess.run(train, [[lr, l]]);
        const [wv, bv, swv, sbv] = await sess.run([W, b, slotsW, slotsB]);
        expectClose(wv, w, { shape: [3, 1], rtol: 1e-4, atol: 1e-6 });
        expectClose(bv, bb, { shape: [1], rtol: 1e-4, atol: 1e-6 });
        swv.forEach((s, i) => expectClose(s, sw[i]!, { shape: [3, 1], rtol: 1e-4, atol: 1e-6 }));
        sbv.forEach((s, i) => expectClose(s, sb[i]!, { shape: [1], rtol: 1e-4, atol: 1e-6 }));
      }
      sess.close();
    });
  }

  it('Adam keeps beta1_power and beta2_power as non-trainable variables updated after the apply ops', async () => {
    const { g, W, b, lr, loss } = linreg();
    const opt = new tf.train.AdamOptimizer(lr, { beta1: 0.8, beta2: 0.99 });
    const train = g.asDefault(() => opt.minimize(loss));
    const names = (vs: tf.Variable[]) => vs.map((v) => v.op.name);
    expect(names(g.asDefault(() => tf.globalVariables()))).toEqual(['W', 'b', 'beta1_power', 'beta2_power', 'W/Adam', 'W/Adam_1', 'b/Adam', 'b/Adam_1']);
    expect(names(g.asDefault(() => tf.trainableVariables()))).toEqual(['W', 'b']);
    expect(names(opt.variables(g))).toEqual(['W/Adam', 'W/Adam_1', 'b/Adam', 'b/Adam_1', 'beta1_power', 'beta2_power']);
    expect(opt.getSlotNames()).toEqual(['m', 'v']);
    expect(train.name).toBe('Adam');
    expect(train.type).toBe('NoOp');
    expect(g.getOperationByName('Adam/update_W/ApplyAdam').type).toBe('ApplyAdam');
    expect(g.getOperationByName('Adam/update_b/ApplyAdam').type).toBe('ApplyAdam');
    const assignB1 = g.getOperationByName('Adam/Assign');
    expect(assignB1.type).toBe('Assign');
    expect(assignB1.inputs[0]!.op.name).toBe('beta1_power');
    expect(assignB1.inputs[1]!.op.controlInputs.map((o) => o.name).sort()).toEqual(['Adam/update_W/ApplyAdam', 'Adam/update_b/ApplyAdam']);
    expect(g.getOperationByName('Adam/Assign_1').inputs[0]!.op.name).toBe('beta2_power');
    expect(g.getCollection(tf.GraphKeys.TRAIN_OP)).toEqual([train]);

    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const [b1p, b2p] = [g.getTensorByName('beta1_power:0'), g.getTensorByName('beta2_power:0')];
    expectClose((await sess.run(b1p))!, 0.8);
    for (let t = 1; t <= 2; t++) {
      await sess.run(train, [[lr, 0.1]]);
      const [p1, p2] = await sess.run([b1p, b2p]);
      expectClose(p1, 0.8 ** (t + 1));
      expectClose(p2, 0.99 ** (t + 1));
    }
    void W;
    void b;
    sess.close();
  });

  it('a second minimize with the same optimizer reuses its slots and beta powers', () => {
    const { g, W, loss } = linreg();
    const opt = new tf.train.AdamOptimizer(0.01);
    const [t1, t2] = g.asDefault(() => [opt.minimize(loss), opt.minimize(loss, { varList: [W] })]);
    expect(t1.name).toBe('Adam');
    expect(t2.name).toBe('Adam_1');
    expect(g.getOperationByName('Adam_1/update_W/ApplyAdam').inputs[1]!.op.name).toBe('W/Adam');
    expect(g.hasOperation('beta1_power_1')).toBe(false);
    expect(g.hasOperation('W/Adam_2')).toBe(false);
  });

  it('slot variables are named after the variable, whatever the name scope, and use the optimizer name', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const W = tf.nameScope('layer', () => new tf.Variable(tf.constant([1, 2]), { name: 'W' }));
      const loss = tf.reduceSum(tf.square(W));
      const opt = new tf.train.MomentumOptimizer(0.1, 0.9, { name: 'Mom' });
      const train = tf.nameScope('training', () => opt.minimize(loss, { name: 'step' }));
      expect(opt.getSlot(W, 'momentum')!.name).toBe('layer/W/Mom:0');
      expect(train.name).toBe('training/step');
      expect(g.getOperationByName('training/step/update_layer/W/ApplyMomentum').type).toBe('ApplyMomentum');
      expect(g.getOperationByName('training/step/learning_rate').type).toBe('Const');
      const slot = opt.getSlot(W, 'momentum')!;
      expect(slot.trainable).toBe(false);
      expect(tf.globalVariables()).toContain(slot);
      expect(tf.trainableVariables()).not.toContain(slot);
      expect(slot.initialValue.op.name).toBe('layer/W/Mom/Initializer/zeros');
    });
  });

  it('a variable with no gradient is skipped; computeGradients reports it as null', async () => {
    const { g, W, b, loss } = linreg();
    const { unused, gv, train } = g.asDefault(() => {
      const unused = new tf.Variable(tf.constant([7, 8]), { name: 'unused' });
      const opt = new tf.train.GradientDescentOptimizer(0.1);
      const gv = opt.computeGradients(loss);
      const train = opt.minimize(loss);
      return { unused, gv, train };
    });
    expect(gv.map(([gr, v]) => [gr === null, v.op.name])).toEqual([
      [false, 'W'],
      [false, 'b'],
      [true, 'unused'],
    ]);
    expect(g.hasOperation('GradientDescent/update_W/ApplyGradientDescent')).toBe(true);
    expect(g.getOperations().some((o) => o.name.includes('update_unused'))).toBe(false);
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    await sess.run(train);
    expectClose((await sess.run(unused))!, [7, 8]);
    const [gw] = linregGrads(W_INIT, B_INIT);
    expectClose((await sess.run(W))!, W_INIT.map((x, i) => x - 0.1 * gw[i]!), { rtol: 1e-5 });
    void b;
    sess.close();
  });

  it('minimize throws when no variable has a gradient', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const W = new tf.Variable(tf.constant([1, 2]), { name: 'W' });
      const x = tf.placeholder('float32', [2], 'x');
      const loss = tf.reduceSum(tf.square(x));
      expect(() => new tf.train.AdamOptimizer().minimize(loss)).toThrow(/No gradients provided for any variable.*'W:0'/);
      expect(() => new tf.train.AdamOptimizer().minimize(loss, { varList: [] })).toThrow(/No variables to optimize/);
      expect(() => new tf.train.GradientDescentOptimizer(0.1).applyGradients([[null, W]])).toThrow(/No gradients provided for any variable/);
      expect(g.hasOperation('W/Adam')).toBe(false);
    });
  });

  it('minimize rejects a non-float loss', () => {
    new tf.Graph().asDefault(() => {
      new tf.Variable(tf.constant([1, 2]), { name: 'W' });
      expect(() => new tf.train.GradientDescentOptimizer(0.1).minimize(tf.constant(1, 'int32'))).toThrow(/Invalid type int32/);
    });
  });

  it('applyGradients takes gradients computed elsewhere (here clipped by hand)', async () => {
    const { g, W, b, loss } = linreg();
    const opt = new tf.train.GradientDescentOptimizer(0.5);
    const train = g.asDefault(() => {
      const gv = opt.computeGradients(loss, [W, b]);
      return opt.applyGradients(gv.map(([gr, v]) => [tf.multiply(gr!, 0.5), v] as tf.train.GradAndVar));
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    await sess.run(train);
    const [gw, gb] = linregGrads(W_INIT, B_INIT);
    expectClose((await sess.run(W))!, W_INIT.map((x, i) => x - 0.25 * gw[i]!), { rtol: 1e-5 });
    expectClose((await sess.run(b))!, B_INIT.map((x, i) => x - 0.25 * gb[i]!), { rtol: 1e-5 });
    sess.close();
  });

  it('Adagrad rejects a non-positive initial accumulator value', () => {
    expect(() => new tf.train.AdagradOptimizer(0.1, { initialAccumulatorValue: 0 })).toThrow(/initial_accumulator_value must be positive/);
  });
});

// ---------------------------------------------------------------------------------------------
// Global step and learning-rate decay.
// ---------------------------------------------------------------------------------------------

describe('global step', () => {
  it('getOrCreateGlobalStep makes one int64 scalar variable in GLOBAL_STEP and GLOBAL_VARIABLES', async () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(tf.train.getGlobalStep()).toBeNull();
      const step = tf.nameScope('somewhere', () => tf.train.getOrCreateGlobalStep()) as tf.Variable;
      expect(step).toBeInstanceOf(tf.Variable);
      expect(step.name).toBe('global_step:0');
      expect(step.dtype).toBe('int64');
      expect(step.shape).toEqual([]);
      expect(step.trainable).toBe(false);
      expect(tf.getCollection(tf.GraphKeys.GLOBAL_STEP)).toEqual([step]);
      expect(tf.globalVariables()).toEqual([step]);
      expect(tf.trainableVariables()).toEqual([]);
      expect(tf.train.getOrCreateGlobalStep()).toBe(step);
      expect(tf.train.getGlobalStep()).toBe(step);
      expect(() => tf.train.createGlobalStep()).toThrow(/"global_step" already exists/);
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const v = await sess.run(tf.train.getGlobalStep(g)!);
    expect(v.dtype).toBe('int64');
    expect(v.scalar()).toBe(0n);
    sess.close();
  });

  it('applyGradients increments the global step after the updates', async () => {
    const { g, W, lr, loss } = linreg();
    const { step, train } = g.asDefault(() => {
      const step = tf.train.getOrCreateGlobalStep() as tf.Variable;
      const train = new tf.train.MomentumOptimizer(lr, 0.9).minimize(loss, { globalStep: step });
      return { step, train };
    });
    expect(train.name).toBe('Momentum');
    expect(train.type).toBe('AssignAdd');
    expect(train.inputs[0]!.op.name).toBe('global_step');
    const update = g.getOperationByName('Momentum/update');
    expect(update.type).toBe('NoOp');
    expect(train.controlInputs).toContain(update);
    expect(update.controlInputs.map((o) => o.name).sort()).toEqual(['Momentum/update_W/ApplyMomentum', 'Momentum/update_b/ApplyMomentum']);
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    for (let i = 1; i <= 3; i++) {
      await sess.run(train, [[lr, 0.01]]);
      const s = await sess.run(step);
      expect(s.dtype).toBe('int64');
      expect(s.scalar()).toBe(BigInt(i));
      expect(await tf.train.globalStep(sess, step)).toBe(i);
    }
    void W;
    sess.close();
  });

  it('getGlobalStep finds an imported-style global_step tensor and rejects a non-integer one', () => {
    new tf.Graph().asDefault(() => {
      const v = new tf.Variable(tf.constant(0, 'int32'), { name: 'global_step', trainable: false });
      expect((tf.train.getGlobalStep() as tf.Tensor).name).toBe(v.name);
    });
    new tf.Graph().asDefault(() => {
      new tf.Variable(tf.constant(0, 'float32'), { name: 'global_step', trainable: false });
      expect(() => tf.train.getGlobalStep()).toThrow(/does not have integer type/);
    });
  });
});

describe('exponentialDecay', () => {
  it('computes lr * rate^(step / decaySteps), floored with staircase', async () => {
    const g = new tf.Graph();
    const { step, smooth, stairs, setStep } = g.asDefault(() => {
      const step = tf.train.getOrCreateGlobalStep() as tf.Variable;
      const smooth = tf.train.exponentialDecay(0.1, step, 100, 0.96);
      const stairs = tf.train.exponentialDecay(0.1, step, 100, 0.5, true);
      const value = tf.placeholder('int64', [], 'value');
      return { step, smooth, stairs, setStep: [tf.assign(step, value), value] as const };
    });
    expect(smooth.op.name).toBe('ExponentialDecay');
    expect(smooth.dtype).toBe('float32');
    expect(stairs.op.name).toBe('ExponentialDecay_1');
    const sess = new tf.Session({ graph: g });
    await sess.run(step.initializer);
    for (const s of [0, 1, 50, 99, 100, 150, 250, 1000]) {
      await sess.run(setStep[0], [[setStep[1], tf.NDArray.from(BigInt(s))]]);
      const [a, b] = await sess.run([smooth, stairs]);
      expectClose(a, 0.1 * 0.96 ** (s / 100), { rtol: 1e-5 });
      expectClose(b, 0.1 * 0.5 ** Math.floor(s / 100), { rtol: 1e-5 });
    }
    sess.close();
  });

  it('drives an optimizer as its learning rate, decaying as the global step advances', async () => {
    const { g, b, loss } = linreg();
    const { train, lr } = g.asDefault(() => {
      const step = tf.train.getOrCreateGlobalStep();
      const lr = tf.train.exponentialDecay(0.1, step, 1, 0.5);
      const train = new tf.train.GradientDescentOptimizer(lr).minimize(loss, { globalStep: step });
      return { train, lr };
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    let w = W_INIT;
    let bb = B_INIT;
    for (let t = 0; t < 3; t++) {
      const rate = 0.1 * 0.5 ** t;
      expectClose((await sess.run(lr))!, rate);
      const [gw, gb] = linregGrads(w, bb);
      w = w.map((x, i) => x - rate * gw[i]!);
      bb = bb.map((x, i) => x - rate * gb[i]!);
      await sess.run(train);
    }
    expectClose((await sess.run(b))!, bb, { rtol: 1e-4, atol: 1e-6 });
    sess.close();
  });
});
