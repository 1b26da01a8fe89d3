import type { DType } from '../src/core/dtypes.js';
import { broadcastStatic, formatShape } from '../src/core/shape.js';
import type { OutputSpec, ShapeContext } from './registry.js';

export const FLOAT: readonly DType[] = ['float32'];
export const NUMERIC: readonly DType[] = ['float32', 'int32', 'int64'];
export const ALL: readonly DType[] = ['float32', 'int32', 'int64', 'bool'];

export function checkDType(ctx: ShapeContext, i: number, allowed: readonly DType[], what = `input ${i}`): DType {
  const t = ctx.inputs[i];
  if (!t) ctx.fail(`missing ${what}`);
  if (!allowed.includes(t.dtype)) {
    ctx.fail(`${what} (${t.name}) has dtype ${t.dtype}, expected one of ${allowed.join(', ')}`);
  }
  return t.dtype;
}

/** Checks that the input has this rank (when known); returns its shape with that rank. */
export function withRank(ctx: ShapeContext, i: number, rank: number, what = `input ${i}`): (number | null)[] {
  const s = ctx.inputs[i]!.shape;
  if (s === null) return new Array<number | null>(rank).fill(null);
  if (s.length !== rank) ctx.fail(`${what} (${ctx.inputs[i]!.name}) must be rank ${rank}, got shape ${formatShape(s)}`);
  return s;
}

/** Shape function of unary elementwise ops. */
export function unaryShape(allowed: readonly DType[], outDType?: DType) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const dt = checkDType(ctx, 0, allowed, 'x');
    return [{ dtype: outDType ?? dt, shape: ctx.inputs[0]!.shape }];
  };
}

/** Shape function of binary elementwise ops with numpy broadcasting; inputs must share a dtype. */
export function binaryShape(allowed: readonly DType[], outDType?: DType) {
  return (ctx: ShapeContext): OutputSpec[] => {
    const [x, y] = ctx.inputs as [ShapeContext['inputs'][0], ShapeContext['inputs'][0]];
    checkDType(ctx, 0, allowed, 'x');
    if (y.dtype !== x.dtype) ctx.fail(`x (${x.name}) is ${x.dtype} but y (${y.name}) is ${y.dtype}; both must have one dtype`);
    const shape = broadcastStatic(x.shape, y.shape);
    if (shape === undefined) {
      ctx.fail(`shapes ${formatShape(x.shape)} (x: ${x.name}) and ${formatShape(y.shape)} (y: ${y.name}) cannot be broadcast together`);
    }
    return [{ dtype: outDType ?? x.dtype, shape }];
  };
}

/** An attr a GraphDef may leave out (TF strips attrs that have their default value), or its default. */
export function optAttr<T>(ctx: ShapeContext, name: string, dflt: T): T {
  try {
    return ctx.attr<T>(name) ?? dflt;
  } catch {
    return dflt;
  }
}

/** Fails unless input i is a scalar (or of unknown rank). */
export function checkScalar(ctx: ShapeContext, i: number, what: string): void {
  const t = ctx.inputs[i]!;
  if (t.rank !== null && t.rank !== 0) ctx.fail(`${what} (${t.name}) must be a scalar, got shape ${formatShape(t.shape)}`);
}
