// tf.norm / tf.linalg.norm (TF 1.15's linalg_ops.norm), composed from math ops so the gradient
// follows from theirs.
import { convertToTensor, type TensorLike, graphOf as graphOfValues } from '../convert.js';
import { type Graph, Tensor } from '../graph.js';
import { ValueError } from '../variable_scope.js';
import { expandDims, squeeze, transpose } from './array.js';
import { svd } from './linalg.js';
import { abs, multiply, pow, reduceMax, reduceSum, sqrt } from './math.js';

/** 'euclidean' (= 2 for vectors, Frobenius for matrices), 'fro' (matrices), 1, 2, Infinity, or any p > 0 for vectors. */
export type NormOrd = 'euclidean' | 'fro' | number;

export interface NormOptions {
  /** Default 'euclidean'. */
  ord?: NormOrd;
  /**
   * null/undefined: the whole tensor as one vector; an integer: vector norms along that axis; two
   * distinct integers: matrix norms over those axes.
   */
  axis?: number | readonly number[] | null;
  /** Keep the reduced dims with size 1 (default false). */
  keepdims?: boolean;
  /** Deprecated name of keepdims. */
  keepDims?: boolean;
  name?: string;
}

function graphOf(v: unknown): Graph {
  return graphOfValues([v]);
}

const AXIS_ERROR = "'axis' must be None, an integer, or a tuple of 2 unique integers";

function ordString(ord: unknown): string {
  if (typeof ord === 'string') return `'${ord}'`;
  if (ord === Infinity) return 'inf';
  return String(ord);
}

/**
 * tf.norm(tensor, {ord, axis, keepdims}): vector norms (ord 'euclidean'/2, 1, Infinity, any p > 0)
 * over the whole tensor or along one axis, and matrix norms ('euclidean'/'fro' Frobenius, 1: the
 * largest column sum of |x|, Infinity: the largest row sum, 2: the largest singular value) over a
 * pair of axes.
 */
export function norm(tensor: TensorLike, opts: NormOptions = {}): Tensor {
  if (opts.keepdims !== undefined && opts.keepDims !== undefined) throw new ValueError("Cannot specify both 'keepdims' and 'keep_dims'");
  const keepdims = opts.keepdims ?? opts.keepDims ?? false;
  const ord: NormOrd = opts.ord ?? 'euclidean';
  const axisIn = opts.axis ?? null;
  const isMatrixNorm = Array.isArray(axisIn) && axisIn.length === 2;
  let axis: number[] | null;
  if (isMatrixNorm) {
    const [a0, a1] = axisIn as readonly number[];
    if (!Number.isInteger(a0) || !Number.isInteger(a1) || a0 === a1) throw new ValueError(AXIS_ERROR);
    axis = [a0!, a1!];
    const supported: NormOrd[] = ['euclidean', 'fro', 1, 2, Infinity];
    if (!supported.includes(ord)) {
      throw new ValueError(`'ord' must be a supported matrix norm in ['euclidean', 'fro', 1, 2, inf], got ${ordString(ord)}`);
    }
  } else {
    if (!(axisIn === null || (typeof axisIn === 'number' && Number.isInteger(axisIn)))) throw new ValueError(AXIS_ERROR);
    const supported: NormOrd[] = ['euclidean', 1, 2, Infinity];
    if ((typeof ord !== 'number' || ord <= 0) && !supported.includes(ord)) {
      throw new ValueError(`'ord' must be a supported vector norm, got ${ordString(ord)}`);
    }
    axis = axisIn === null ? null : [axisIn as number];
  }
  const g = graphOf(tensor);
  return g.asDefault(() =>
    g.nameScope(opts.name ?? 'norm', () => {
      const x = convertToTensor(tensor, undefined, 'tensor', 'tensor');
      const all = axis ?? undefined;
      let result: Tensor;
      if (ord === 'fro' || ord === 'euclidean' || ord === 2) {
        if (isMatrixNorm && ord === 2) {
          // As TF: the two axes moved last, the largest singular value, moved back.
          const rank = x.rank;
          if (rank === null) throw new ValueError('tf.norm: the matrix 2-norm needs a tensor of known rank');
          const [a0, a1] = axis!.map((a) => (a < 0 ? a + rank : a)) as [number, number];
          const before = [...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== a0 && i !== a1), a0, a1];
          const after = before.map((_, i) => before.indexOf(i));
          const s = svd(transpose(x, before), { computeUv: false });
          result = transpose(expandDims(reduceMax(abs(s), -1, true), -1), after);
        } else {
          // x * conj(x): conj is the identity for real dtypes.
          result = sqrt(reduceSum(multiply(x, x), all, true));
        }
      } else {
        result = abs(x);
        if (ord === 1) {
          result = reduceSum(result, axis === null ? undefined : axis[0], true);
          if (isMatrixNorm) result = reduceMax(result, axis![axis!.length - 1], true);
        } else if (ord === Infinity) {
          if (isMatrixNorm) result = reduceSum(result, axis![1], true);
          result = reduceMax(result, axis === null ? undefined : axis[0], true);
        } else {
          // General p-norms (p > 0).
          const p = ord as number;
          result = pow(reduceSum(pow(result, convertToTensor(p, x.dtype)), all, true), convertToTensor(1 / p, x.dtype));
        }
      }
      if (!keepdims) result = squeeze(result, axis);
      return result;
    }),
  );
}
