// TF's nest: loop variables, cond results and scan elements are tensors or arrays / plain objects
// nesting them. Leaves are anything that is not an array or a plain object.
import { InvalidArgumentError } from '../core/errors.js';
import { NDArray } from '../core/ndarray.js';
import { Tensor } from '../graph.js';

/** A value or arrays / plain objects nesting values. */
export type Nested<T> = T | readonly Nested<T>[] | { readonly [k: string]: Nested<T> };

function isContainer(x: unknown): x is readonly unknown[] | Record<string, unknown> {
  if (Array.isArray(x)) return true;
  if (typeof x !== 'object' || x === null) return false;
  if (x instanceof Tensor || x instanceof NDArray || ArrayBuffer.isView(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** The leaves of a structure, depth first (object keys in sorted order, as TF sorts dict keys). */
export function flatten(x: unknown): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isContainer(v)) for (const k of Object.keys(v).sort()) walk((v as Record<string, unknown>)[k]);
    else out.push(v);
  };
  walk(x);
  return out;
}

/** Rebuilds `structure`'s shape from flat leaves (in flatten's order). */
export function packSequenceAs<T = unknown>(structure: unknown, flat: readonly unknown[], leaf: (template: unknown, value: unknown) => unknown = (_t, v) => v): T {
  let i = 0;
  const build = (s: unknown): unknown => {
    if (Array.isArray(s)) return s.map(build);
    if (isContainer(s)) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(s).sort()) o[k] = build((s as Record<string, unknown>)[k]);
      // Keep the caller's key order.
      return Object.fromEntries(Object.keys(s).map((k) => [k, o[k]]));
    }
    if (i >= flat.length) throw new InvalidArgumentError(`packSequenceAs: the structure has more leaves than the ${flat.length} values given`);
    return leaf(s, flat[i++]);
  };
  const r = build(structure);
  if (i !== flat.length) throw new InvalidArgumentError(`packSequenceAs: the structure has ${i} leaves but ${flat.length} values were given`);
  return r as T;
}

/** A short description of a structure for error messages: [T, {a: T, b: [T, T]}]. */
export function describeStructure(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(describeStructure).join(', ')}]`;
  if (isContainer(x)) return `{${Object.keys(x).map((k) => `${k}: ${describeStructure((x as Record<string, unknown>)[k])}`).join(', ')}}`;
  return 'T';
}

/** Whether a and b nest the same way (same array lengths, same object keys). */
export function sameStructure(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameStructure(x, b[i]));
  }
  if (isContainer(a) || isContainer(b)) {
    if (!isContainer(a) || !isContainer(b)) return false;
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameStructure((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return true;
}

export { isContainer as isNestedContainer };
