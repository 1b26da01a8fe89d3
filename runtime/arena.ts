// Memory planning: liveness over the execution order, then byte offsets in one arena per plan.
import { bytesPerElement, type DType } from '../src/core/dtypes.js';
import { numElements } from '../src/core/ndarray.js';
import type { Shape } from '../src/core/shape.js';

/** Offsets are multiples of this (aligns every typed array view, BigInt64 included). */
export const ARENA_ALIGN = 16;

/**
 * How a step's output gets its memory:
 * - 'fresh': the kernel makes a new value (planned in the arena when its shape is static);
 * - 'alias': the output is its input `aliasOf` (or a view of it): it shares the input's memory;
 * - 'external': the output is storage that outlives the run (constants, variables).
 */
export type OutputKind = { kind: 'fresh' } | { kind: 'alias'; input: number } | { kind: 'external' };

export interface MemStep {
  /** Slot of each input (-1 for a reference input, which reads nothing). */
  inputs: readonly number[];
  outputs: readonly { slot: number; dtype: DType; shape: Shape; how: OutputKind }[];
  /** The kernel reads element i of every full-size input before writing element i of its outputs. */
  inPlace: boolean;
}

export interface MemoryRequest {
  steps: readonly MemStep[];
  /** Slots holding fed values: their memory is the caller's. */
  feeds: readonly number[];
  /** Slots returned by the run: live until the end. */
  fetches: readonly number[];
}

/** One region of the arena and the values that live in it, one after another. */
export interface PlannedBuffer {
  offset: number;
  bytes: number;
  /** First and last step (inclusive) during which the region holds a live value. */
  start: number;
  end: number;
  /** Slots whose value lives here (several when outputs are computed in place). */
  slots: number[];
}

export interface MemoryPlan {
  arenaBytes: number;
  /** Bytes if every planned value had a buffer of its own. */
  naiveBytes: number;
  buffers: PlannedBuffer[];
  /** For planned slots: where their value lives. */
  placement: Map<number, { offset: number; dtype: DType; shape: number[]; buffer: PlannedBuffer }>;
  /** Slots computed in place over an input (output slot -> input slot). */
  inPlace: Map<number, number>;
}

function staticShape(s: Shape): number[] | undefined {
  return s !== null && s.every((d) => d !== null) ? (s as number[]) : undefined;
}

export const alignBytes = (n: number): number => Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;
const align = alignBytes;

interface Group {
  bytes: number;
  start: number;
  end: number;
  slots: number[];
}

export function planMemory(req: MemoryRequest): MemoryPlan {
  const END = req.steps.length;
  // root of each slot: the planned slot whose memory it uses; -1 when not in the arena.
  const root = new Map<number, number>();
  const info = new Map<number, { dtype: DType; shape: number[]; bytes: number; birth: number }>();
  for (const f of req.feeds) root.set(f, -1);
  req.steps.forEach((st, i) => {
    for (const o of st.outputs) {
      if (o.how.kind === 'alias') {
        const src = st.inputs[o.how.input];
        root.set(o.slot, src === undefined || src < 0 ? -1 : root.get(src) ?? -1);
        continue;
      }
      const shape = staticShape(o.shape);
      if (o.how.kind === 'external' || !shape || o.dtype === 'string') {
        root.set(o.slot, -1);
        continue;
      }
      root.set(o.slot, o.slot);
      info.set(o.slot, { dtype: o.dtype, shape, bytes: numElements(shape) * bytesPerElement(o.dtype), birth: i });
    }
  });
  // Liveness of each root: from its birth to the last use of any value sharing its memory.
  const end = new Map<number, number>();
  for (const [slot, v] of info) end.set(slot, v.birth);
  const touch = (slot: number, step: number): void => {
    const r = root.get(slot);
    if (r !== undefined && r >= 0 && end.get(r)! < step) end.set(r, step);
  };
  req.steps.forEach((st, i) => st.inputs.forEach((s) => s >= 0 && touch(s, i)));
  for (const f of req.fetches) touch(f, END);
  // Groups: a value computed in place joins the group of the input whose memory it takes.
  const groupOf = new Map<number, Group>();
  const groups: Group[] = [];
  const inPlace = new Map<number, number>();
  req.steps.forEach((st, i) => {
    const taken = new Set<Group>();
    for (const o of st.outputs) {
      const mine = info.get(o.slot);
      if (!mine || root.get(o.slot) !== o.slot) continue;
      let joined: Group | undefined;
      if (st.inPlace) {
        for (const s of st.inputs) {
          if (s < 0) continue;
          const r = root.get(s)!;
          const g = r >= 0 ? groupOf.get(r) : undefined;
          const src = r >= 0 ? info.get(r) : undefined;
          if (!g || !src || taken.has(g) || g.end !== i || g.bytes !== mine.bytes) continue;
          if (bytesPerElement(src.dtype) !== bytesPerElement(mine.dtype) || slotElements(s, info, root) !== numElements(mine.shape)) continue;
          joined = g;
          inPlace.set(o.slot, s);
          break;
        }
      }
      if (joined) {
        taken.add(joined);
        joined.slots.push(o.slot);
        joined.end = Math.max(joined.end, end.get(o.slot)!);
        groupOf.set(o.slot, joined);
      } else {
        const g: Group = { bytes: mine.bytes, start: i, end: end.get(o.slot)!, slots: [o.slot] };
        groups.push(g);
        groupOf.set(o.slot, g);
      }
    }
  });
  // Offsets: largest first, each at the lowest aligned offset clear of every group it overlaps in time.
  const order = [...groups].sort((a, b) => b.bytes - a.bytes || a.start - b.start);
  const placed: PlannedBuffer[] = [];
  const bufferOf = new Map<Group, PlannedBuffer>();
  let arenaBytes = 0;
  for (const g of order) {
    const busy = placed.filter((p) => p.start <= g.end && g.start <= p.end).sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of busy) {
      if (offset + g.bytes <= p.offset) break;
      offset = Math.max(offset, align(p.offset + p.bytes));
    }
    const buf: PlannedBuffer = { offset, bytes: g.bytes, start: g.start, end: g.end, slots: g.slots };
    placed.push(buf);
    bufferOf.set(g, buf);
    arenaBytes = Math.max(arenaBytes, offset + g.bytes);
  }
  const placement: MemoryPlan['placement'] = new Map();
  for (const [slot, v] of info) {
    const buf = bufferOf.get(groupOf.get(slot)!)!;
    placement.set(slot, { offset: buf.offset, dtype: v.dtype, shape: v.shape, buffer: buf });
  }
  let naiveBytes = 0;
  for (const v of info.values()) naiveBytes += align(v.bytes);
  return { arenaBytes: align(arenaBytes), naiveBytes, buffers: placed.sort((a, b) => a.start - b.start || a.offset - b.offset), placement, inPlace };
}

/** Elements of the value in `slot` (an alias has its root's count). */
function slotElements(slot: number, info: Map<number, { shape: number[] }>, root: Map<number, number>): number {
  const own = info.get(slot);
  if (own) return numElements(own.shape);
  return numElements(info.get(root.get(slot)!)!.shape);
}
