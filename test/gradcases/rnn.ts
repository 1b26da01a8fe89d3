import * as tf from '../../src/index.js';
import { gruBlockCell, lstmBlockCell } from '../../src/api/rnn.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

const B = 2;
const IN = 3;
const N = 4;

/** LSTMBlockCell's inputs x, cs_prev, h_prev, w, wci, wcf, wco, b. */
const lstmInputs = (seed: number): tf.NDArray[] => [
  randomArray([B, IN], { seed }),
  randomArray([B, N], { seed: seed + 1 }),
  randomArray([B, N], { seed: seed + 2 }),
  randomArray([IN + N, 4 * N], { seed: seed + 3, min: -0.7, max: 0.7 }),
  randomArray([N], { seed: seed + 4, min: -0.5, max: 0.5 }),
  randomArray([N], { seed: seed + 5, min: -0.5, max: 0.5 }),
  randomArray([N], { seed: seed + 6, min: -0.5, max: 0.5 }),
  randomArray([4 * N], { seed: seed + 7, min: -0.5, max: 0.5 }),
];

/** The fused cells' gradients: cs and h carry them (TF ignores the gate outputs'); clipping off, as TF's gradient does not see it. */
export const rnnCases: GradCase[] = [
  {
    ops: ['LSTMBlockCell'],
    name: 'LSTMBlockCell with peepholes: cs and h wrt every input',
    inputs: lstmInputs(10),
    build: (x, cs, h, w, wci, wcf, wco, b) => {
      const o = lstmBlockCell(x!, cs!, h!, w!, b!, { wci: wci!, wcf: wcf!, wco: wco!, usePeephole: true, forgetBias: 0.5, cellClip: -1 });
      return [o.cs, o.h];
    },
  },
  {
    ops: ['LSTMBlockCell'],
    name: 'LSTMBlockCell without peepholes: h only (cs gets no gradient)',
    inputs: lstmInputs(20).filter((_, k) => k < 4 || k === 7),
    build: (x, cs, h, w, b) => lstmBlockCell(x!, cs!, h!, w!, b!, { cellClip: 0 }).h,
  },
  {
    ops: ['GRUBlockCell'],
    name: 'GRUBlockCell: h wrt x, h_prev, w_ru, w_c, b_ru, b_c',
    inputs: [
      randomArray([B, IN], { seed: 30 }),
      randomArray([B, N], { seed: 31 }),
      randomArray([IN + N, 2 * N], { seed: 32, min: -0.7, max: 0.7 }),
      randomArray([IN + N, N], { seed: 33, min: -0.7, max: 0.7 }),
      randomArray([2 * N], { seed: 34, min: -0.5, max: 0.5 }),
      randomArray([N], { seed: 35, min: -0.5, max: 0.5 }),
    ],
    build: (x, h, wRu, wC, bRu, bC) => gruBlockCell(x!, h!, wRu!, wC!, bRu!, bC!).h,
  },
];
