// tf.norm / tf.linalg.norm (TF 1.15's linalg_ops.norm), composed from math ops so the gradient
// follows from theirs.
import { convertToTensor, type TensorLike, graphOf as graphOfValues } from '../convert.js';
import { UnimplementedError } from '../core/errors.js';
import { type Graph, Tensor } from '../graph.js';
import { ValueError } from '../variable_scope.js';
import { squeeze } from './array.js';
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
 * largest column sum of |x|, Infinity: the largest row sum) over a pair of axes. The matrix 2-norm
 * (largest singular value) needs an SVD, which weir does not have: UnimplementedError.
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
          throw new UnimplementedError('tf.norm: the matrix 2-norm (ord 2 with a pair of axes) needs the singular values (Svd), which weir does not have');
        }
        // x * conj(x): conj is the identity for real dtypes.
        result = sqrt(reduceSum(multiply(x, x), all, true));
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
