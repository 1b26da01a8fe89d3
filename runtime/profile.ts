// Per-kernel profiling: a Backend that forwards to another one and times each `execute`. The
// session hands it to the plan instead of its backend when profiling is on (WEIR_PROFILE=1 or
// `new Session({ profile: true })`), so the runtime is unchanged and a session that does not
// profile pays nothing. CPU kernels return at once, so the wall time of an `execute` is the
// kernel's; a backend whose kernels only record work (WebGPU) gets the recording time.
import type { Backend, KernelNode, PlannedOutputs, RuntimeState, StepContext } from './backend.js';

/** One row of a profile: a kernel (one plan step's op) or, summed, an op type. */
export interface ProfileRow {
  /** The op's name (per-kernel rows) or its type (per-type rows). */
  readonly name: string;
  readonly type: string;
  /** Executions counted (a kernel in a loop body counts once per iteration). */
  readonly calls: number;
  /** Wall time over all calls, in milliseconds. */
  readonly ms: number;
  /** Floating-point operations over all calls (multiply-adds count two), for contractions; 0 otherwise. */
  readonly flops: number;
}

interface MutableRow {
  name: string;
  type: string;
  calls: number;
  ms: number;
  flops: number;
}

function product(dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}

const CONV_FAMILY: Readonly<Record<string, (inShapes: readonly number[][], outShape: readonly number[]) => number>> = {
  // Each output (or output-gradient) element of a convolution costs one multiply-add per filter tap
  // and input channel: 2 * |y| * KH * KW * C. The filter's shape is input 1 of Conv2D and
  // Conv2DBackpropInput, the output of Conv2DBackpropFilter; y or dy is the output or input 2.
  Conv2D: (i, o) => 2 * product(o) * product((i[1] ?? []).slice(0, 3)),
  _FusedConv2D: (i, o) => 2 * product(o) * product((i[1] ?? []).slice(0, 3)),
  Conv2DBackpropInput: (i) => 2 * product(i[2] ?? []) * product((i[1] ?? []).slice(0, 3)),
  Conv2DBackpropFilter: (i, o) => 2 * product(i[2] ?? []) * product(o.slice(0, 3)),
  // Depthwise: one multiply-add per filter tap for each output element.
  DepthwiseConv2dNative: (i, o) => 2 * product(o) * product((i[1] ?? []).slice(0, 2)),
  DepthwiseConv2dNativeBackpropInput: (i) => 2 * product(i[2] ?? []) * product((i[1] ?? []).slice(0, 2)),
  DepthwiseConv2dNativeBackpropFilter: (i, o) => 2 * product(i[2] ?? []) * product(o.slice(0, 2)),
};

const MATMULS: Readonly<Record<string, 'transpose_a' | 'adj_x'>> = {
  MatMul: 'transpose_a',
  _FusedMatMul: 'transpose_a',
  BatchMatMul: 'adj_x',
  BatchMatMulV2: 'adj_x',
  BatchMatMulV3: 'adj_x',
};

/** Whether `kernelFlops` counts this op type (a contraction). */
export function countsFlops(type: string): boolean {
  return type in CONV_FAMILY || type in MATMULS;
}

/**
 * Floating-point operations of one execution of a contraction (MatMul, BatchMatMul, the
 * convolutions and their gradients, their fused forms), from its runtime shapes; 0 for other ops.
 */
export function kernelFlops(node: KernelNode, inShapes: readonly number[][], outShapes: readonly number[][]): number {
  const conv = CONV_FAMILY[node.type];
  if (conv) return conv(inShapes, outShapes[0] ?? []);
  const transAttr = MATMULS[node.type];
  const a = inShapes[0];
  const c = outShapes[0];
  if (!transAttr || !a || !c || a.length < 2 || c.length < 2) return 0;
  const K = node.attrs[transAttr] ? a[a.length - 2]! : a[a.length - 1]!;
  // C holds every (batch, i, j) once; each costs K multiply-adds.
  return 2 * product(c) * K;
}

const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

/** Kernel times a profiling backend has collected: per kernel and per op type. */
export class KernelProfile {
  private readonly rows = new Map<string, MutableRow>();
  /** Plan runs seen (top-level runs; nested plans of control flow are part of them). */
  runs = 0;

  /** Adds one execution of a kernel. */
  record(node: KernelNode, ms: number, flops: number): void {
    let r = this.rows.get(node.name);
    if (r === undefined) {
      r = { name: node.name, type: node.type, calls: 0, ms: 0, flops: 0 };
      this.rows.set(node.name, r);
    }
    r.calls++;
    r.ms += ms;
    r.flops += flops;
  }

  /** Per kernel, slowest first. */
  get kernels(): ProfileRow[] {
    return [...this.rows.values()].map((r) => ({ ...r })).sort((a, b) => b.ms - a.ms);
  }

  /** Per op type (kernels of one type summed; `name` is the type), slowest first. */
  get opTypes(): ProfileRow[] {
    const byType = new Map<string, MutableRow>();
    for (const r of this.rows.values()) {
      const t = byType.get(r.type);
      if (t === undefined) byType.set(r.type, { ...r, name: r.type });
      else {
        t.calls += r.calls;
        t.ms += r.ms;
        t.flops += r.flops;
      }
    }
    return [...byType.values()].sort((a, b) => b.ms - a.ms);
  }

  /** Total kernel time, in milliseconds. */
  get totalMs(): number {
    let s = 0;
    for (const r of this.rows.values()) s += r.ms;
    return s;
  }

  reset(): void {
    this.rows.clear();
    this.runs = 0;
  }

  /**
   * The table: op types, then the `top` slowest kernels, with milliseconds per run, share of the
   * total and GFLOP/s where the op is a contraction.
   */
  format(top = 25): string {
    const runs = Math.max(this.runs, 1);
    const total = this.totalMs || 1;
    const line = (r: ProfileRow, label: string): string =>
      `${lpad(((100 * r.ms) / total).toFixed(1), 6)} ${lpad((r.ms / runs).toFixed(3), 10)} ${lpad((r.calls / runs).toFixed(r.calls % runs ? 1 : 0), 6)} ` +
      `${lpad(r.flops > 0 ? (r.flops / (r.ms * 1e6)).toFixed(1) : '', 8)}  ${label}`;
    const head = (what: string): string => `${lpad('%', 6)} ${lpad('ms/run', 10)} ${lpad('n/run', 6)} ${lpad('GFLOP/s', 8)}  ${what}`;
    const out = [`weir kernel profile: ${this.runs} run(s), ${(this.totalMs / runs).toFixed(3)} ms of kernels per run`, head('op type')];
    for (const r of this.opTypes) out.push(line(r, r.name));
    out.push('', head('kernel (op type)'));
    for (const r of this.kernels.slice(0, top)) out.push(line(r, `${r.name} (${r.type})`));
    return out.join('\n');
  }

  toString(): string {
    return this.format();
  }
}

/**
 * A backend that runs `inner`'s kernels and records each one's time and FLOPs in `profile`. Every
 * other member is `inner`'s own, called on `inner` (a proxy, so members added to the contract later
 * are forwarded too): the runtime treats it as `inner` (the CPU's heap arenas, read-back, run
 * queueing).
 */
export function profilingBackend<H>(inner: Backend<H>, profile: KernelProfile): Backend<H> {
  const shapeOf = (h: H): number[] => inner.shapeOf(h);
  const recordAfter = (node: KernelNode, inputs: H[], t0: number, outputs: H[]): H[] => {
    const ms = performance.now() - t0;
    profile.record(node, ms, countsFlops(node.type) ? kernelFlops(node, inputs.map(shapeOf), outputs.map(shapeOf)) : 0);
    return outputs;
  };
  const execute = (node: KernelNode, inputs: H[], state: RuntimeState<H>, ctx?: StepContext, planned?: PlannedOutputs): H[] | Promise<H[]> => {
    const t0 = performance.now();
    const r = inner.execute(node, inputs, state, ctx, planned);
    if (r instanceof Promise) return r.then((o) => recordAfter(node, inputs, t0, o));
    return recordAfter(node, inputs, t0, r);
  };
  const bound = new Map<PropertyKey, unknown>([['execute', execute]]);
  return new Proxy(inner, {
    get(target, key) {
      if (bound.has(key)) return bound.get(key);
      const v: unknown = Reflect.get(target, key, target);
      if (typeof v !== 'function') return v;
      const f = (v as (...a: unknown[]) => unknown).bind(target);
      bound.set(key, f);
      return f;
    },
  });
}

/** Profiles to print when the process exits (WEIR_PROFILE=1 sessions never closed). */
const unprinted = new Set<{ profile: KernelProfile; title: string }>();
let exitHooked = false;

function print(entry: { profile: KernelProfile; title: string }): void {
  unprinted.delete(entry);
  if (entry.profile.runs > 0) console.error(`${entry.title}\n${entry.profile.format()}`);
}

/**
 * Prints `profile` to stderr under `title` when the returned function is called (a session's
 * close) or, failing that, when the process exits.
 */
export function printWhenDone(profile: KernelProfile, title: string): () => void {
  const entry = { profile, title };
  unprinted.add(entry);
  if (!exitHooked && typeof process !== 'undefined' && typeof process.once === 'function') {
    exitHooked = true;
    process.once('exit', () => {
      for (const e of [...unprinted]) print(e);
    });
  }
  return () => {
    if (unprinted.has(entry)) print(entry);
  };
}
