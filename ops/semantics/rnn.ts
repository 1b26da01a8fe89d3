// What both backends' kernels of the fused recurrent cells (LSTMBlockCell, GRUBlockCell and their
// gradient ops) need: the attrs with TensorFlow's defaults, and the run-time shape checks of TF's
// kernels (tensorflow/core/kernels/rnn/lstm_ops.cc, gru_ops.cc).
import { InvalidArgumentError } from '../../src/core/errors.js';
import { formatShape } from '../../src/core/shape.js';

export interface LstmBlockParams {
  forgetBias: number;
  /** Clips cs to [-cellClip, cellClip] when positive (TF's kernel: cell_clip > 0). */
  cellClip: number;
  usePeephole: boolean;
}

/** LSTMBlockCell's attrs; a GraphDef may leave out those at their defaults (1.0, 3.0, false). */
export function lstmBlockParams(attrs: Readonly<Record<string, unknown>>): LstmBlockParams {
  const num = (v: unknown, d: number): number => (typeof v === 'number' ? v : d);
  return { forgetBias: num(attrs.forget_bias, 1), cellClip: num(attrs.cell_clip, 3), usePeephole: attrs.use_peephole === true };
}

type Shape = readonly number[];

/** The op a kernel runs: its type and node name (errors name both). */
export interface CellOp {
  readonly type: string;
  readonly name: string;
}

function expect(op: CellOp, name: string, s: Shape, want: readonly number[]): void {
  if (s.length !== want.length || s.some((d, k) => d !== want[k])) {
    throw new InvalidArgumentError(`${op.type}: ${name} must have shape ${formatShape(want)}, got ${formatShape(s)}`, op.name);
  }
}

function matrix(op: CellOp, name: string, s: Shape): [number, number] {
  if (s.length !== 2) throw new InvalidArgumentError(`${op.type}: ${name} must be a matrix, got shape ${formatShape(s)}`, op.name);
  return [s[0]!, s[1]!];
}

export interface CellDims {
  batch: number;
  input: number;
  cell: number;
}

/**
 * The sizes of an LSTM step from its inputs' shapes (x, cs_prev, h_prev, w, wci, wcf, wco, b, then
 * for the gradient op i, cs, f, o, ci, co, cs_grad, h_grad, each [batch, cell]); throws
 * InvalidArgumentError naming the op and the input that does not fit.
 */
export function lstmBlockDims(op: CellOp, shapes: readonly Shape[]): CellDims {
  const [batch, input] = matrix(op, 'x', shapes[0]!);
  const cell = matrix(op, 'cs_prev', shapes[1]!)[1];
  const bc = [batch, cell];
  expect(op, 'cs_prev', shapes[1]!, bc);
  expect(op, 'h_prev', shapes[2]!, bc);
  expect(op, 'w', shapes[3]!, [input + cell, 4 * cell]);
  for (const [k, n] of [[4, 'wci'], [5, 'wcf'], [6, 'wco']] as const) expect(op, n, shapes[k]!, [cell]);
  expect(op, 'b', shapes[7]!, [4 * cell]);
  const rest = ['i', 'cs', 'f', 'o', 'ci', 'co', 'cs_grad', 'h_grad'];
  for (let k = 8; k < shapes.length; k++) expect(op, rest[k - 8]!, shapes[k]!, bc);
  return { batch, input, cell };
}

/**
 * The sizes of a GRU step from its inputs' shapes (x, h_prev, w_ru, w_c, b_ru, b_c, then for the
 * gradient op r, u, c, d_h, each [batch, cell]).
 */
export function gruBlockDims(op: CellOp, shapes: readonly Shape[]): CellDims {
  const [batch, input] = matrix(op, 'x', shapes[0]!);
  const cell = matrix(op, 'h_prev', shapes[1]!)[1];
  expect(op, 'h_prev', shapes[1]!, [batch, cell]);
  expect(op, 'w_ru', shapes[2]!, [input + cell, 2 * cell]);
  expect(op, 'w_c', shapes[3]!, [input + cell, cell]);
  expect(op, 'b_ru', shapes[4]!, [2 * cell]);
  expect(op, 'b_c', shapes[5]!, [cell]);
  const rest = ['r', 'u', 'c', 'd_h'];
  for (let k = 6; k < shapes.length; k++) expect(op, rest[k - 6]!, shapes[k]!, [batch, cell]);
  return { batch, input, cell };
}
