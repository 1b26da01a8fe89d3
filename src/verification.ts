/**
 * Verification runs (WEIR_VERIFY_OPT=1): every run of an optimized CPU session also runs the
 * unoptimized plan, and every run on another backend also runs the unoptimized plan on the CPU,
 * from a snapshot of the session's state taken before the run (variables and random streams
 * cloned). Fetches and variables must agree; the first that differs is an InternalError naming it.
 * A run that fails must fail in the reference too.
 */
import { CpuBackend } from '../runtime/cpu/backend.js';
import type { Backend, RuntimeState } from '../runtime/backend.js';
import type { Plan } from '../runtime/plan.js';
import { compilePlan, compileRequest } from '../passes/compile.js';
import { InternalError } from './core/errors.js';
import type { Operation, Tensor } from './graph.js';
import type { NDArray } from './core/ndarray.js';
import { formatShape } from './core/shape.js';

/** One checked run: its plan, what it fetched and fed, and the state before it. */
export interface CheckedRun {
  /** The session's key for the plan (fetches, targets, fed tensors and shapes). */
  key: string;
  plan: Plan;
  tensors: readonly Tensor[];
  targets: readonly Operation[];
  feeds: ReadonlyMap<Tensor, NDArray>;
  snapshot: RuntimeState<NDArray>;
}

export class Verifier {
  /** The reference runs on a CPU backend of its own, with unoptimized plans. */
  private readonly cpu = new CpuBackend();
  private readonly plans = new Map<string, Plan>();
  private readonly onCpu: boolean;

  constructor(
    private readonly backend: Backend<unknown>,
    private readonly state: RuntimeState<unknown>,
  ) {
    this.onCpu = backend instanceof CpuBackend;
  }

  private get checked(): string {
    return this.onCpu ? 'Optimized plan' : `The ${this.backend.name} backend`;
  }

  private get reference(): string {
    return this.onCpu ? 'the unoptimized plan' : 'the CPU backend';
  }

  /** The session's variables and random streams, copied to the host. */
  async snapshot(): Promise<RuntimeState<NDArray>> {
    if (this.onCpu) return snapshotState(this.state as RuntimeState<NDArray>);
    const variables = new Map<string, NDArray>();
    for (const [k, h] of this.state.variables) variables.set(k, await this.backend.download(h));
    return snapshotState({ variables, opState: this.state.opState, entropy: this.state.entropy });
  }

  /** Runs the reference from the snapshot and compares its fetches and variables with the checked run's. */
  async check(got: readonly NDArray[], run: CheckedRun): Promise<void> {
    let want: NDArray[];
    try {
      want = await this.runReference(run);
    } catch (e) {
      throw new InternalError(`${this.checked} succeeded where ${this.reference} failed with: ${(e as Error).message}`);
    }
    const tol: Tolerance = { lenient: run.plan.graphs.after.numericallyRewritten, crossDevice: !this.onCpu };
    run.tensors.forEach((t, i) => {
      const diff = compareValues(got[i]!, want[i]!, tol);
      if (diff) throw new InternalError(`${this.checked} differs from ${this.reference} for fetched tensor '${t.name}': ${diff}`, t.op.name);
    });
    const vars = new Map<string, NDArray>();
    for (const [k, h] of this.state.variables) vars.set(k, this.onCpu ? (h as NDArray) : await this.backend.download(h));
    const names = new Set([...vars.keys(), ...run.snapshot.variables.keys()]);
    for (const name of names) {
      const a = vars.get(name);
      const b = run.snapshot.variables.get(name);
      const diff = !a || !b ? `${a ? 'only the checked' : 'only the reference'} run initialized it` : compareValues(a, b, tol);
      if (diff) throw new InternalError(`${this.checked} differs from ${this.reference} for variable '${name}' after the run: ${diff}`, name);
    }
  }

  /** The checked run failed with `e`: the reference must fail too. */
  async checkFailure(e: unknown, run: CheckedRun): Promise<void> {
    try {
      await this.runReference(run);
    } catch {
      return;
    }
    throw new InternalError(`${this.checked} failed (${(e as Error).message}) where ${this.reference} succeeded`);
  }

  dispose(): void {
    this.plans.clear();
    this.cpu.dispose();
  }

  private runReference(run: CheckedRun): Promise<NDArray[]> {
    let plan = this.plans.get(run.key);
    if (!plan) {
      plan = compilePlan(compileRequest(run.tensors, run.targets, run.feeds), this.cpu, { optimize: false });
      this.plans.set(run.key, plan);
    }
    return plan.run(this.cpu, run.snapshot, run.feeds);
  }
}

/** A copy of the session state that runs can change without touching the original. */
function snapshotState(state: RuntimeState<NDArray>): RuntimeState<NDArray> {
  const variables = new Map<string, NDArray>();
  for (const [k, v] of state.variables) variables.set(k, v.clone());
  const opState = new Map<string, unknown>();
  for (const [k, v] of state.opState) {
    const c = v as { clone?: () => unknown };
    opState.set(k, typeof c?.clone === 'function' ? c.clone() : structuredClone(v));
  }
  return { variables, opState, entropy: state.entropy };
}

/**
 * Why two values differ, or undefined when they agree: same dtype and shape; ints, bools and
 * strings exactly; floats within a tolerance for regrouped arithmetic (NaN equals NaN). `lenient`
 * also accepts a finite value where the reference overflowed (a rewrite to a stabler formula).
 */
interface Tolerance {
  lenient: boolean;
  /** Another device's arithmetic (its own exp, log, summation order): a wider float tolerance. */
  crossDevice: boolean;
}

function compareValues(a: NDArray, b: NDArray, tol: Tolerance): string | undefined {
  const { lenient } = tol;
  const [abs, rel] = tol.crossDevice ? [1e-4, 1e-3] : [1e-5, 1e-4];
  if (a.dtype !== b.dtype) return `dtype ${a.dtype} vs ${b.dtype}`;
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    return `shape ${formatShape(a.shape)} vs ${formatShape(b.shape)}`;
  }
  const n = a.data.length;
  if (a.dtype === 'float32' || a.dtype === 'complex64') {
    const x = a.data as Float32Array;
    const y = b.data as Float32Array;
    for (let i = 0; i < n; i++) {
      const p = x[i]!;
      const q = y[i]!;
      if (p === q || (p !== p && q !== q)) continue;
      if (lenient && !Number.isFinite(q)) continue;
      if (Math.abs(p - q) <= abs + rel * Math.max(Math.abs(p), Math.abs(q))) continue;
      return `element ${i}: ${p} (checked) vs ${q} (reference)`;
    }
    return undefined;
  }
  const x = a.data as ArrayLike<unknown>;
  const y = b.data as ArrayLike<unknown>;
  for (let i = 0; i < n; i++) {
    const p = x[i];
    const q = y[i];
    if (p instanceof Uint8Array && q instanceof Uint8Array) {
      if (p.length === q.length && p.every((c, j) => c === q[j])) continue;
    } else if (p === q) continue;
    return `element ${i}: ${String(p)} (checked) vs ${String(q)} (reference)`;
  }
  return undefined;
}
