import { InvalidArgumentError } from './errors.js';

/** A static dimension: a size, or null when unknown until run time. */
export type Dim = number | null;
/** A static shape: dims, or null when even the rank is unknown. */
export type Shape = Dim[] | null;

export function formatShape(s: Shape | readonly number[]): string {
  if (s === null) return '<unknown>';
  return `[${s.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

export function isFullyDefined(s: Shape): s is number[] {
  return s !== null && s.every((d) => d !== null);
}

export function dimsCompatible(a: Dim, b: Dim): boolean {
  return a === null || b === null || a === b;
}

export function shapesCompatible(a: Shape, b: Shape): boolean {
  if (a === null || b === null) return true;
  return a.length === b.length && a.every((d, i) => dimsCompatible(d, b[i]!));
}

/** Most specific shape compatible with both, or throws. */
export function mergeShapes(a: Shape, b: Shape, what = 'shapes'): Shape {
  if (a === null) return b === null ? null : [...b];
  if (b === null) return [...a];
  if (!shapesCompatible(a, b)) {
    throw new InvalidArgumentError(`${what} ${formatShape(a)} and ${formatShape(b)} are incompatible`);
  }
  return a.map((d, i) => (d === null ? b[i]! : d));
}

/** numpy broadcasting of two static shapes; null when incompatible. */
export function broadcastStatic(a: Shape, b: Shape): Shape | undefined {
  if (a === null || b === null) return null;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (da === null) out.push(db);
    else if (db === null) out.push(da);
    else if (da === db) out.push(da);
    else return undefined;
  }
  return out;
}

/** numpy broadcasting of two concrete shapes; undefined when incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else return undefined;
  }
  return out;
}

export function normAxis(axis: number, rank: number, opName = ''): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new InvalidArgumentError(
      `${opName ? opName + ': ' : ''}axis ${axis} is out of range for a tensor of rank ${rank} (expected [${-rank}, ${rank}))`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * The most specific shape both a and b are instances of (TF's most_specific_compatible_shape):
 * dims that agree are kept, others become unknown; shapes of different ranks give unknown rank.
 */
export function generalizeShapes(a: Shape, b: Shape): Shape {
  if (a === null || b === null || a.length !== b.length) return null;
  return a.map((d, i) => (d === b[i] ? d : null));
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
