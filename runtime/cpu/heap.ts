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
 * - `heapRegion`: a range that JavaScript views may keep (plan arenas, slab chunks). Only where the
 *   memory is shared, since growing a shared memory never detaches the views made before. A region
 *   goes back to the allocator when `freeHeapRegion` is called or when its owner object is garbage
 *   collected. `heapArray` is the same for one typed array that owns its range (a variable's
 *   storage; `freeHeapArray`). Regions are an optimization: past HEAP_REGION_CAP live bytes (or with
 *   no shared memory, or turned off by `setHeapRegionsEnabled(false)`) the answer is null and the
 *   caller uses an ordinary ArrayBuffer. The collector does not see this memory, so its users free
 *   explicitly where they can (a closed session, a dropped plan, replaced variable storage) and
 *   leave only the rest to the collector.
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

/**
 * One live region: what the finalization registry holds (never the region or its owner, so that
 * they can be collected) and what freeHeapRegion finds. `at` < 0 once given back, so that neither
 * path frees the range twice (it may belong to another allocation by then).
 */
interface RegionRecord {
  at: number;
  size: number;
}

const regionOf = new WeakMap<object, RegionRecord>();
const collected = new FinalizationRegistry<RegionRecord>(release);
/** Test switches: regions off (every caller takes its ArrayBuffer fallback), and the cap on their live bytes. */
let regionsEnabled = true;
let regionCap = HEAP_REGION_CAP;

function release(r: RegionRecord): void {
  if (r.at < 0) return;
  regionBytes -= r.size;
  heapFree(r.at);
  r.at = -1;
}

/** `bytes` zeroed bytes of the memory for a region, or null (see heapRegion). */
function allocRegion(bytes: number): RegionRecord | null {
  if (!heap || !heap.shared || !regionsEnabled || !(bytes >= 0) || regionBytes + bytes > regionCap) return null;
  const at = heapAlloc(bytes);
  if (at < 0) return null;
  const size = sizes.get(at)!;
  regionBytes += size;
  new Uint8Array(heapBuffer(), at, bytes).fill(0);
  return { at, size };
}

/**
 * `bytes` zeroed bytes that views may keep, freed by freeHeapRegion or once `owner` (default: the
 * region itself) is garbage collected. Null where the memory is not shared, over the cap on live
 * region bytes, or when the memory cannot grow: use an ordinary ArrayBuffer then.
 */
export function heapRegion(bytes: number, owner?: object): HeapRegion | null {
  const r = allocRegion(bytes);
  if (!r) return null;
  const region: HeapRegion = { buffer: heapBuffer(), byteOffset: r.at, byteLength: bytes };
  regionOf.set(region, r);
  collected.register(owner ?? region, r, r);
  return region;
}

/** Gives a region back now (its views must not be used again). Freeing twice is harmless. */
export function freeHeapRegion(region: HeapRegion): void {
  const r = regionOf.get(region);
  if (!r) return;
  regionOf.delete(region);
  collected.unregister(r);
  release(r);
}

/** The dtypes a heap array holds: what the WebAssembly kernels read. */
export type HeapDType = 'float32' | 'int32';

/**
 * `length` zeroed elements in the memory, freed when the array is garbage collected (or by
 * freeHeapArray); null where heapRegion would be. A view made from the array's buffer (a subarray)
 * does not keep the range alive: such views must not outlive the array.
 */
export function heapArray(dtype: 'float32', length: number): Float32Array | null;
export function heapArray(dtype: 'int32', length: number): Int32Array | null;
export function heapArray(dtype: HeapDType, length: number): Float32Array | Int32Array | null;
export function heapArray(dtype: HeapDType, length: number): Float32Array | Int32Array | null {
  const r = allocRegion(length * 4);
  if (!r) return null;
  const a = dtype === 'float32' ? new Float32Array(heapBuffer(), r.at, length) : new Int32Array(heapBuffer(), r.at, length);
  regionOf.set(a, r);
  collected.register(a, r, r);
  return a;
}

/** Gives back a heapArray's range now (the array must not be used again); any other array is ignored. */
export function freeHeapArray(a: ArrayBufferView): void {
  freeHeapRegion(a as unknown as HeapRegion);
}

/** Turns regions (heapRegion, heapArray) off or on, for tests comparing both; answers the previous setting. */
export function setHeapRegionsEnabled(on: boolean): boolean {
  const was = regionsEnabled;
  regionsEnabled = on;
  return was;
}

/** Sets the cap on live region bytes (tests); answers the previous cap. */
export function setHeapRegionCap(bytes: number): number {
  const was = regionCap;
  regionCap = bytes;
  return was;
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
