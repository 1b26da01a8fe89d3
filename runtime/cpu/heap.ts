/**
 * The CPU backend's one WebAssembly memory (shared with the worker threads where the engine allows)
 * and an allocator over it. The WebAssembly kernels (GEMM, SIMD loops, optimizer updates) read and
 * write only this memory, so a value that lives here (a plan's arena, a variable, a kernel's scratch)
 * is used in place; a value elsewhere is copied in and out by the kernel that needs it.
 *
 * Two kinds of allocation:
 * - `heapAlloc` / `heapFree`: raw byte ranges for the kernels' own staging and panels. Their users
 *   re-read `heapBuffer()` after any allocation (the memory may have grown; a memory that is not
 *   shared detaches its old buffer when it grows).
 * - `heapRegion`: a range that JavaScript views may keep (arenas, variables). Only where the memory
 *   is shared, since growing a shared memory never detaches the views made before. A region goes back
 *   to the allocator when `freeHeapRegion` is called or when its owner object is garbage collected.
 *   Regions are an optimization: past HEAP_REGION_CAP live bytes (or with no shared memory) the
 *   answer is null and the caller uses an ordinary ArrayBuffer.
 *
 * WebAssembly memory never shrinks: freed ranges are reused, not returned to the system.
 * WEIR_CPU_FAST=0 (read once, at load) means no WebAssembly memory at all: every call answers null / -1.
 */
import { config } from '../../src/core/config.js';

const PAGE = 65536;
/** The memory's maximum: the whole 32-bit address space where the engine reserves it, else less. */
const MAX_PAGE_CHOICES = [65536, 32768, 16384];
const ALIGN = 64;
/** Live bytes of regions (arenas, variables) beyond which heapRegion answers null. */
const HEAP_REGION_CAP = 2 ** 31;

interface Heap {
  memory: WebAssembly.Memory;
  shared: boolean;
  maxPages: number;
}

function createHeap(): Heap | null {
  if (!config.cpuFast() || typeof WebAssembly === 'undefined') return null;
  for (const shared of [true, false]) {
    for (const maxPages of MAX_PAGE_CHOICES) {
      try {
        return { memory: new WebAssembly.Memory({ initial: 16, maximum: maxPages, shared }), shared, maxPages };
      } catch {
        // a smaller maximum, or a memory that is not shared
      }
    }
  }
  return null;
}

const heap = createHeap();
/** Free ranges, sorted by address, never adjacent (merged on free): [address, bytes] pairs. */
const free: [number, number][] = heap ? [[0, heap.memory.buffer.byteLength]] : [];
const sizes = new Map<number, number>();
let liveBytes = 0;
let regionBytes = 0;
let peakBytes = 0;
/** Every buffer object the memory has answered (a shared memory answers a new one after it grows). */
const buffers = new WeakSet<ArrayBufferLike>();
if (heap) buffers.add(heap.memory.buffer);

/** The memory, its kind and page limit, for modules that import it; null without WebAssembly (or WEIR_CPU_FAST=0). */
export function heapMemory(): { memory: WebAssembly.Memory; shared: boolean; maxPages: number } | null {
  return heap;
}

/** The memory's current buffer (re-read after any allocation: the memory may have grown). */
export function heapBuffer(): ArrayBufferLike {
  if (!heap) return new ArrayBuffer(0);
  const b = heap.memory.buffer;
  buffers.add(b);
  return b;
}

function grow(bytes: number): boolean {
  const m = heap!.memory;
  const end = m.buffer.byteLength;
  // Grow by at least an eighth of the memory, so that many small growths do not each cost a call.
  const pages = Math.max(Math.ceil(bytes / PAGE), Math.ceil(end / PAGE / 8));
  const cap = heap!.maxPages - end / PAGE;
  for (const p of pages <= cap ? [pages, Math.ceil(bytes / PAGE)] : [Math.ceil(bytes / PAGE)]) {
    if (p > cap) return false;
    try {
      m.grow(p);
    } catch {
      continue;
    }
    buffers.add(m.buffer);
    const last = free[free.length - 1];
    if (last !== undefined && last[0] + last[1] === end) last[1] += p * PAGE;
    else free.push([end, p * PAGE]);
    return true;
  }
  return false;
}

/** Byte address of `bytes` fresh bytes (64-byte aligned, contents undefined), or -1 when the memory cannot hold them. */
export function heapAlloc(bytes: number): number {
  if (!heap || !(bytes >= 0)) return -1;
  const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  for (let attempt = 0; attempt < 2; attempt++) {
    for (let i = 0; i < free.length; i++) {
      const f = free[i]!;
      if (f[1] < size) continue;
      const at = f[0];
      if (f[1] === size) free.splice(i, 1);
      else {
        f[0] += size;
        f[1] -= size;
      }
      sizes.set(at, size);
      liveBytes += size;
      peakBytes = Math.max(peakBytes, liveBytes);
      return at;
    }
    // Grow by what the last free range (if it ends the memory) lacks.
    const last = free[free.length - 1];
    const tail = last !== undefined && last[0] + last[1] === heap.memory.buffer.byteLength ? last[1] : 0;
    if (attempt > 0 || !grow(size - tail)) return -1;
  }
  return -1;
}

/** Returns a range heapAlloc gave; an address it did not give (or gave and took back) is ignored. */
export function heapFree(at: number): void {
  const size = sizes.get(at);
  if (size === undefined) return;
  sizes.delete(at);
  liveBytes -= size;
  // Insert [at, size) keeping the list sorted, merging with the neighbours it touches.
  let lo = 0;
  let hi = free.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (free[mid]![0] < at) lo = mid + 1;
    else hi = mid;
  }
  const prev = free[lo - 1];
  const next = free[lo];
  if (prev !== undefined && prev[0] + prev[1] === at) {
    prev[1] += size;
    if (next !== undefined && prev[0] + prev[1] === next[0]) {
      prev[1] += next[1];
      free.splice(lo, 1);
    }
  } else if (next !== undefined && at + size === next[0]) {
    next[0] = at;
    next[1] += size;
  } else {
    free.splice(lo, 0, [at, size]);
  }
}

/** A range of the memory that views may keep: they stay valid as the memory grows. */
export interface HeapRegion {
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly byteLength: number;
}

const regionOf = new WeakMap<HeapRegion, number>();
const collected = new FinalizationRegistry<{ at: number; bytes: number }>((r) => release(r.at, r.bytes));

function release(at: number, bytes: number): void {
  regionBytes -= bytes;
  heapFree(at);
}

/**
 * `bytes` zeroed bytes that views may keep, freed by freeHeapRegion or once `owner` (default: the
 * region itself) is garbage collected. Null where the memory is not shared, over HEAP_REGION_CAP,
 * or when the memory cannot grow: use an ordinary ArrayBuffer then.
 */
export function heapRegion(bytes: number, owner?: object): HeapRegion | null {
  if (!heap || !heap.shared || regionBytes + bytes > HEAP_REGION_CAP) return null;
  const at = heapAlloc(bytes);
  if (at < 0) return null;
  const size = sizes.get(at)!;
  regionBytes += size;
  const buffer = heapBuffer();
  new Uint8Array(buffer, at, bytes).fill(0);
  const region: HeapRegion = { buffer, byteOffset: at, byteLength: bytes };
  regionOf.set(region, at);
  collected.register(owner ?? region, { at, bytes: size }, region);
  return region;
}

/** Gives a region back now (its views must not be used again). Freeing twice is harmless. */
export function freeHeapRegion(region: HeapRegion): void {
  const at = regionOf.get(region);
  if (at === undefined) return;
  regionOf.delete(region);
  collected.unregister(region);
  release(at, sizes.get(at) ?? 0);
}

/** Byte address of a view's first element in the memory, or -1 when the view is not in it. */
export function heapAddress(view: ArrayBufferView): number {
  return buffers.has(view.buffer) ? view.byteOffset : -1;
}

/** What the memory holds now, for tests and the profiler. */
export function heapStats(): { memoryBytes: number; liveBytes: number; regionBytes: number; peakBytes: number; ranges: number; freeRanges: number } {
  return {
    memoryBytes: heap ? heap.memory.buffer.byteLength : 0,
    liveBytes,
    regionBytes,
    peakBytes,
    ranges: sizes.size,
    freeRanges: free.length,
  };
}
