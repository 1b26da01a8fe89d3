// Fused recurrent cells, as TensorFlow registers them (tensorflow/core/ops/rnn_ops.cc):
// LSTMBlockCell and GRUBlockCell compute one time step, matrix product and gate arithmetic, in one
// op; their gradient ops (LSTMBlockCellGrad, GRUBlockCellGrad) give the gradients of the gates, and
// the gradient functions (tensorflow/contrib/rnn/python/ops/lstm_ops.py and gru_ops.py) add the
// matrix products for the inputs, the previous state and the weights, and the bias gradients.
import { graphOf } from '../src/convert.js';
import type { DType } from '../src/core/dtypes.js';
import type { Dim } from '../src/core/shape.js';
import type { Operation, Tensor } from '../src/graph.js';
import { ValueError } from '../src/variable_scope.js';
import { concat, slice, zerosLike } from '../src/api/array.js';
import { matmul, multiply } from '../src/api/math.js';
import { registerOp, type ShapeContext } from './registry.js';
import { checkDType, FLOAT, withRank } from './util.js';

/** Every input of the op has input 0's dtype (TF's single type attr T); returns it. */
function sameFloat(ctx: ShapeContext, names: readonly string[]): DType {
  const dt = checkDType(ctx, 0, FLOAT, names[0]);
  ctx.inputs.forEach((t, k) => {
    if (t.dtype !== dt) ctx.fail(`${names[k]} (${t.name}) is ${t.dtype} but ${names[0]} (${ctx.inputs[0]!.name}) is ${dt}; they must match`);
  });
  return dt;
}

/** Merges a static dim with what another input says it must be. */
function merge(ctx: ShapeContext, a: Dim, b: Dim, what: string): Dim {
  if (a !== null && b !== null && a !== b) ctx.fail(`${what}: ${b} vs ${a}`);
  return a ?? b;
}

/** Checks input k is rank 1 of length `len` (when known). */
function vectorOf(ctx: ShapeContext, k: number, len: Dim, name: string): void {
  const s = withRank(ctx, k, 1, name);
  merge(ctx, len, s[0]!, `${name} (${ctx.inputs[k]!.name}) must have length`);
}

/** A [rows, cols] weight whose rows are input size + cell size and whose columns are `gates` times the cell size. */
function weightOf(ctx: ShapeContext, k: number, name: string, input: Dim, cell: Dim, gates: number): void {
  const [rows, cols] = withRank(ctx, k, 2, name) as [Dim, Dim];
  const w = ctx.inputs[k]!.name;
  if (input !== null && cell !== null) merge(ctx, input + cell, rows, `${name} (${w}) must have input_size + cell_size rows`);
  if (cell !== null) merge(ctx, gates * cell, cols, `${name} (${w}) must have ${gates} * cell_size columns`);
}

export const LSTM_BLOCK_INPUTS = ['x', 'cs_prev', 'h_prev', 'w', 'wci', 'wcf', 'wco', 'b'] as const;
export const LSTM_BLOCK_OUTPUTS = ['i', 'cs', 'f', 'o', 'ci', 'co', 'h'] as const;

/** The [batch, cell] of an LSTM step: x [batch, input], cs_prev and h_prev [batch, cell]; checks w, the peepholes and b against them. */
function lstmDims(ctx: ShapeContext): { batch: Dim; input: Dim; cell: Dim } {
  const [b0, input] = withRank(ctx, 0, 2, 'x') as [Dim, Dim];
  const [b1, cell0] = withRank(ctx, 1, 2, 'cs_prev') as [Dim, Dim];
  const [b2, c2] = withRank(ctx, 2, 2, 'h_prev') as [Dim, Dim];
  let batch = merge(ctx, b0, b1, `cs_prev (${ctx.inputs[1]!.name}) must have x's batch size`);
  batch = merge(ctx, batch, b2, `h_prev (${ctx.inputs[2]!.name}) must have x's batch size`);
  const cell = merge(ctx, cell0, c2, `h_prev (${ctx.inputs[2]!.name}) must have cs_prev's cell size`);
  weightOf(ctx, 3, 'w', input, cell, 4);
  vectorOf(ctx, 4, cell, 'wci');
  vectorOf(ctx, 5, cell, 'wcf');
  vectorOf(ctx, 6, cell, 'wco');
  vectorOf(ctx, 7, cell === null ? null : 4 * cell, 'b');
  return { batch, input, cell };
}

/** A static dim a gradient function needs to cut a product apart (TF raises ValueError without it too). */
function staticDim(t: Tensor, axis: number, what: string, op: Operation): number {
  const d = t.shape?.[axis];
  if (typeof d !== 'number') throw new ValueError(`${op.type} gradient (${op.name}): ${what} from \`${t.name}\` should not be None.`);
  return d;
}

registerOp({
  type: 'LSTMBlockCell',
  inputs: LSTM_BLOCK_INPUTS,
  attrs: { forget_bias: 'float', cell_clip: 'float', use_peephole: 'bool', T: 'type' },
  shape: (ctx) => {
    const dtype = sameFloat(ctx, LSTM_BLOCK_INPUTS);
    const { batch, cell } = lstmDims(ctx);
    return LSTM_BLOCK_OUTPUTS.map(() => ({ dtype, shape: [batch, cell] }));
  },
  // TF's _LSTMBlockCellGrad: the cell grad op gives the gates' gradient dicfo [batch, 4 * cell];
  // [x, h_prev]'s gradient is dicfo·wᵀ (cut at the input size), w's is [x, h_prev]ᵀ·dicfo, b's the
  // batch sum of dicfo. Only cs and h carry gradients (the gate outputs are intermediates).
  grad: (op, grads) => {
    const [x, csPrev, hPrev, w, wci, wcf, wco, b] = op.inputs as Tensor[];
    const [i, cs, f, o, ci, co, h] = op.outputs as Tensor[];
    const inputSize = staticDim(x!, 1, 'input_size', op);
    const cellSize = staticDim(csPrev!, 1, 'cell_size', op);
    const g = graphOf(op.inputs);
    const csGrad = grads[1] ?? zerosLike(cs!);
    const hGrad = grads[6] ?? zerosLike(h!);
    const cellGrad = g.createOp(
      'LSTMBlockCellGrad',
      [x!, csPrev!, hPrev!, w!, wci!, wcf!, wco!, b!, i!, cs!, f!, o!, ci!, co!, csGrad, hGrad],
      { use_peephole: op.hasAttr('use_peephole') ? op.getAttr('use_peephole') : false, T: x!.dtype },
    );
    const [csPrevGrad, dicfo, wciGrad, wcfGrad, wcoGrad] = cellGrad.outputs as Tensor[];
    const xhGrad = matmul(dicfo!, w!, { transposeB: true });
    const xGrad = slice(xhGrad, [0, 0], [-1, inputSize]);
    const hPrevGrad = slice(xhGrad, [0, inputSize], [-1, cellSize]);
    const wGrad = matmul(concat([x!, hPrev!], 1), dicfo!, { transposeA: true });
    const bGrad = biasAddGrad(dicfo!);
    xGrad.setShape(x!.shape);
    hPrevGrad.setShape(hPrev!.shape);
    return [xGrad, csPrevGrad!, hPrevGrad, wGrad, wciGrad!, wcfGrad!, wcoGrad!, bGrad];
  },
});

registerOp({
  type: 'LSTMBlockCellGrad',
  inputs: [...LSTM_BLOCK_INPUTS, ...LSTM_BLOCK_OUTPUTS.slice(0, 6), 'cs_grad', 'h_grad'],
  attrs: { use_peephole: 'bool', T: 'type' },
  shape: (ctx) => {
    const names = [...LSTM_BLOCK_INPUTS, ...LSTM_BLOCK_OUTPUTS.slice(0, 6), 'cs_grad', 'h_grad'];
    const dtype = sameFloat(ctx, names);
    let { batch, cell } = lstmDims(ctx);
    for (let k = 8; k < 16; k++) {
      const [bk, ck] = withRank(ctx, k, 2, names[k]) as [Dim, Dim];
      batch = merge(ctx, batch, bk, `${names[k]} (${ctx.inputs[k]!.name}) must have x's batch size`);
      cell = merge(ctx, cell, ck, `${names[k]} (${ctx.inputs[k]!.name}) must have cs_prev's cell size`);
    }
    const vec = { dtype, shape: [cell] };
    return [{ dtype, shape: [batch, cell] }, { dtype, shape: [batch, cell === null ? null : 4 * cell] }, vec, vec, vec];
  },
  // TensorFlow registers no gradient for the cell gradient op.
  grad: null,
});

export const GRU_BLOCK_INPUTS = ['x', 'h_prev', 'w_ru', 'w_c', 'b_ru', 'b_c'] as const;

/** The [batch, input, cell] of a GRU step, checking the weights and biases against them. */
function gruDims(ctx: ShapeContext): { batch: Dim; input: Dim; cell: Dim } {
  const [b0, input] = withRank(ctx, 0, 2, 'x') as [Dim, Dim];
  const [b1, cell] = withRank(ctx, 1, 2, 'h_prev') as [Dim, Dim];
  const batch = merge(ctx, b0, b1, `h_prev (${ctx.inputs[1]!.name}) must have x's batch size`);
  weightOf(ctx, 2, 'w_ru', input, cell, 2);
  weightOf(ctx, 3, 'w_c', input, cell, 1);
  vectorOf(ctx, 4, cell === null ? null : 2 * cell, 'b_ru');
  vectorOf(ctx, 5, cell, 'b_c');
  return { batch, input, cell };
}

registerOp({
  type: 'GRUBlockCell',
  inputs: GRU_BLOCK_INPUTS,
  attrs: { T: 'type' },
  shape: (ctx) => {
    const dtype = sameFloat(ctx, GRU_BLOCK_INPUTS);
    const { batch, cell } = gruDims(ctx);
    return ['r', 'u', 'c', 'h'].map(() => ({ dtype, shape: [batch, cell] }));
  },
  // TF's _GRUBlockCellGrad: the cell grad op gives x's and h_prev's gradients and those of the
  // pre-activations (d_c_bar, d_r_bar_u_bar); the weights' gradients are [x, h_prev]ᵀ·d_r_bar_u_bar
  // and [x, h_prev∘r]ᵀ·d_c_bar, the biases' their batch sums. Only h carries a gradient.
  grad: (op, grads) => {
    const [x, hPrev, wRu, wC, bRu, bC] = op.inputs as Tensor[];
    const [r, u, c, h] = op.outputs as Tensor[];
    const dH = grads[3] ?? zerosLike(h!);
    const cellGrad = graphOf(op.inputs).createOp('GRUBlockCellGrad', [x!, hPrev!, wRu!, wC!, bRu!, bC!, r!, u!, c!, dH], { T: x!.dtype });
    const [dX, dHPrev, dCBar, dRBarUBar] = cellGrad.outputs as Tensor[];
    const dWRu = matmul(concat([x!, hPrev!], 1), dRBarUBar!, { transposeA: true });
    const dWC = matmul(concat([x!, multiply(hPrev!, r!)], 1), dCBar!, { transposeA: true });
    return [dX!, dHPrev!, dWRu, dWC, biasAddGrad(dRBarUBar!), biasAddGrad(dCBar!)];
  },
});

registerOp({
  type: 'GRUBlockCellGrad',
  inputs: [...GRU_BLOCK_INPUTS, 'r', 'u', 'c', 'd_h'],
  attrs: { T: 'type' },
  shape: (ctx) => {
    const names = [...GRU_BLOCK_INPUTS, 'r', 'u', 'c', 'd_h'];
    const dtype = sameFloat(ctx, names);
    let { batch, input, cell } = gruDims(ctx);
    for (let k = 6; k < 10; k++) {
      const [bk, ck] = withRank(ctx, k, 2, names[k]) as [Dim, Dim];
      batch = merge(ctx, batch, bk, `${names[k]} (${ctx.inputs[k]!.name}) must have x's batch size`);
      cell = merge(ctx, cell, ck, `${names[k]} (${ctx.inputs[k]!.name}) must have h_prev's cell size`);
    }
    const bc = { dtype, shape: [batch, cell] };
    return [{ dtype, shape: [batch, input] }, bc, bc, { dtype, shape: [batch, cell === null ? null : 2 * cell] }];
  },
  // TensorFlow registers no gradient for the cell gradient op.
  grad: null,
});

/** TF's bias_add_grad: the batch sum of a [batch, n] gradient. */
function biasAddGrad(d: Tensor): Tensor {
  return graphOf([d]).createOp('BiasAddGrad', [d], { T: d.dtype, data_format: 'NHWC' }).outputs[0]!;
}
