// A bump allocator for values that outlive their step but not their run: tensor-list elements a
// plan computes in memory of their own (a loop's accumulated activations, unstacked inputs).
// Carving them out of large chunks costs one allocation per chunk instead of one per value (a value
// too large for a chunk gets a buffer of its own), and chunks and buffers are reused by the next
// run: no list element outlives the run that made it (lists are never fetched, fetched values are
// copied out, variables copy what they are assigned). Within a run a piece is never handed out
// twice. On the CPU they come from the WebAssembly memory, where kernels use them in place.
import type { DType } from '../src/core/dtypes.js';
import { allocData, bytesPerElement, type TypedArray } from '../src/core/dtypes.js';
import { InternalError } from '../src/core/errors.js';
import { NDArray, numElements } from '../src/core/ndarray.js';
import type { Backend, HostBuffer } from './backend.js';

const CHUNK_BYTES = 1 << 18;

/**
 * Memory the runtime had to allocate for a session, counted for tests: run after run of the same
 * plan, and iteration after iteration of a loop, these stay put once the first run has made what it
 * needs.
 */
export interface Allocations {
  /** Arenas made for plans (a run's, a function call's: a loop holds two for its body). */
  arenas: number;
  /** Slab chunks, and buffers made for values too large for a chunk (reused by later runs). */
  slabChunks: number;
  slabLarge: number;
  /** Outputs a kernel asked its plan for and got a fresh array instead (no planned view fits). */
  unplanned: number;
  /** Zero elements the runtime made for unset tensor-list elements. */
  zeros: number;
}

/** Where a slab takes its chunks from: the backend's host memory (the CPU's WebAssembly memory), when it has one. */
export type SlabMemory = Pick<Backend<unknown>, 'allocHostBuffer' | 'freeHostBuffer'>;

export class Slab {
  private readonly chunks: HostBuffer[] = [];
  private current = -1;
  private offset = 0;
  /** Buffers of values too large for a chunk, in the order the run took them: the next run's k-th such value reuses the k-th. */
  private readonly large: HostBuffer[] = [];
  private nextLarge = 0;
  private memory: SlabMemory | undefined;

  constructor(readonly made: Allocations = newAllocations()) {}

  /** Chunks made from now on come from this backend's host memory (set by the CPU plans that use the slab). */
  useMemory(memory: SlabMemory): void {
    this.memory = memory;
  }

  /** Gives back the chunks (a closed session's: nothing carved from them may be used again). */
  dispose(): void {
    for (const c of [...this.chunks, ...this.large]) this.memory?.freeHostBuffer?.(c);
    this.chunks.length = 0;
    this.large.length = 0;
    this.reset();
  }

  /** Makes every chunk free again: call only when nothing carved from them is alive. */
  reset(): void {
    this.current = this.chunks.length ? 0 : -1;
    this.offset = 0;
    this.nextLarge = 0;
  }

  /** A zero-filled array carved from the current chunk (values over a quarter chunk get a buffer of their own). */
  take(dtype: DType, shape: readonly number[]): NDArray {
    const n = numElements(shape);
    if (dtype === 'string' || dtype === 'variant') return new NDArray(allocData(dtype, n), shape, dtype);
    const bytes = Math.ceil((n * bytesPerElement(dtype)) / 16) * 16;
    if (bytes === 0) return new NDArray(allocData(dtype, n), shape, dtype);
    if (bytes > CHUNK_BYTES / 4) {
      let b = this.large[this.nextLarge];
      if (b === undefined || b.byteLength < bytes) {
        // The one it replaces served an earlier run, of which nothing is alive (see reset).
        if (b !== undefined) this.memory?.freeHostBuffer?.(b);
        this.large[this.nextLarge] = b = this.buffer(bytes);
        this.made.slabLarge++;
      }
      this.nextLarge++;
      new Uint8Array(b.buffer, b.byteOffset, bytes).fill(0);
      return arrayView(b.buffer, b.byteOffset, dtype, shape);
    }
    if (this.current < 0 || this.offset + bytes > CHUNK_BYTES) {
      this.current++;
      if (this.current === this.chunks.length) {
        this.chunks.push(this.buffer(CHUNK_BYTES));
        this.made.slabChunks++;
      }
      this.offset = 0;
    }
    const chunk = this.chunks[this.current]!;
    const at = chunk.byteOffset + this.offset;
    this.offset += bytes;
    new Uint8Array(chunk.buffer, at, bytes).fill(0);
    return arrayView(chunk.buffer, at, dtype, shape);
  }

  /** `bytes` of the backend's host memory where it has some for the slab, else an ArrayBuffer. */
  private buffer(bytes: number): HostBuffer {
    return this.memory?.allocHostBuffer?.(bytes, this) ?? { buffer: new ArrayBuffer(bytes), byteOffset: 0, byteLength: bytes };
  }
}

/** An NDArray over `buffer` from byte `offset` (an arena's or a slab's piece). */
export function arrayView(buffer: ArrayBufferLike, offset: number, dtype: DType, shape: readonly number[]): NDArray {
  const n = numElements(shape);
  let data: TypedArray;
  switch (dtype) {
    case 'float32':
      data = new Float32Array(buffer, offset, n);
      break;
    case 'int32':
      data = new Int32Array(buffer, offset, n);
      break;
    case 'int64':
      data = new BigInt64Array(buffer, offset, n);
      break;
    case 'bool':
      data = new Uint8Array(buffer, offset, n);
      break;
    case 'complex64':
      data = new Float32Array(buffer, offset, 2 * n);
      break;
    default:
      throw new InternalError(`no view of memory for dtype ${dtype}`);
  }
  return new NDArray(data, shape, dtype);
}

/** What the runtime keeps per session beside its op state (which verification snapshots and copies). */
export interface RunScratch {
  readonly slab: Slab;
  /** Values tensor lists hold: memory of their own that nothing writes (no copy when listed again). */
  readonly listElements: WeakSet<object>;
  /**
   * Backends with per-step buffers (WebGPU) give list elements buffers keyed by what is made (dtype
   * and shape) and how many such the run has made: the k-th one reuses the previous run's k-th.
   */
  readonly elementKeys: Map<string, { count: number }>;
  /**
   * Variable storage a run replaced (an Assign of another size): ops of the run may still read it,
   * so its memory goes back to the backend (Backend.freeValue) only once the run is over.
   */
  readonly retired: unknown[];
}

/** What of a backend gives a retired value's memory back. */
type FreesValues = { freeValue?(handle: never): void };

export function newAllocations(): Allocations {
  return { arenas: 0, slabChunks: 0, slabLarge: 0, unplanned: 0, zeros: 0 };
}

/** Gives back the memory of a session's scratch (a closed session's). */
export function disposeRunScratch(state: object, backend: FreesValues): void {
  const s = scratchOf.get(state);
  if (!s) return;
  s.slab.dispose();
  freeRetired(s, backend);
  scratchOf.delete(state);
}

/** Frees what a finished run left in the scratch: call when nothing of the run is alive any more. */
export function resetRunScratch(state: object, backend: FreesValues): void {
  const s = scratchOf.get(state);
  if (!s) return;
  s.slab.reset();
  for (const k of s.elementKeys.values()) k.count = 0;
  if (s.retired.length) freeRetired(s, backend);
}

function freeRetired(s: RunScratch, backend: FreesValues): void {
  for (const v of s.retired) backend.freeValue?.(v as never);
  s.retired.length = 0;
}

// Keyed by the session's state object, so it lives and dies with the session.
const scratchOf = new WeakMap<object, RunScratch>();

export function runScratch(state: object): RunScratch {
  let s = scratchOf.get(state);
  if (!s) scratchOf.set(state, (s = { slab: new Slab(), listElements: new WeakSet(), elementKeys: new Map(), retired: [] }));
  return s;
}

/** The session's slab. */
export function slabOf(state: object): Slab {
  return runScratch(state).slab;
}

/** What the runtime has allocated for this session's runs so far (a copy; for tests). */
export function allocationsOf(state: object): Allocations {
  return { ...runScratch(state).slab.made };
}
