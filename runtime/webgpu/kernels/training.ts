// WebGPU kernels: optimizer updates. Each updates the variable and its slots in place, one
// invocation per element, in one dispatch.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray } from '../../../src/core/ndarray.js';
import { formatShape, sameShape } from '../../../src/core/shape.js';
import { APPLY_OPS, SCATTER_OPS, SPARSE_APPLY_OPS, scalarRangeError, type ApplyOpSpec, type SparseApplyOpSpec } from '../../../ops/semantics/training.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, lit, load, loadIndex, MAX_BINDINGS, perElement, store, u } from '../wgsl.js';

/**
 * The variable behind reference input i, in a buffer of its own. A variable last written on the host
 * (its initializer ran there) only has a per-run upload: it moves into an owned buffer first, so the
 * in-place update outlives the run.
 */
function refVar(ctx: KernelCtx, i: number): GpuTensor {
  const name = ctx.node.refVars[i]!;
  const v = ctx.state.variables.get(name);
  if (!v || !v.host) return ctx.ref(i);
  const owned = ctx.owned(v.dtype, v.shape);
  ctx.copy(v, owned);
  ctx.setVariable(name, owned);
  return owned;
}

/**
 * `body` updates one element: `w` names the variable's element, the slots are named by `slots`, `g`
 * is the gradient element, and each hyperparameter is a `let` named after its input. The dense op
 * (one invocation per element) and its sparse form, when TF has one (one invocation per element of
 * each indexed row), share the body.
 */
function registerApply(type: string, slots: readonly string[], body: (node: KernelCtx['node']) => string): void {
  registerGpuKernel(type, applyKernel(APPLY_OPS.find((s) => s.type === type)!, slots, body));
  const sparse = SPARSE_APPLY_OPS.find((s) => s.dense === type);
  if (sparse) registerGpuKernel(sparse.type, applyKernel(sparse, slots, body));
}

function applyKernel(spec: ApplyOpSpec | SparseApplyOpSpec, slots: readonly string[], body: (node: KernelCtx['node']) => string) {
  const names = spec.inputs;
  const sparse = 'indices' in spec ? spec : undefined;
  return (ctx: KernelCtx, inputs: GpuTensor[]): GpuTensor[] => {
    const vars = spec.refs.map((i) => refVar(ctx, i));
    const v = vars[0]!;
    for (let k = 1; k < vars.length; k++) {
      if (!sameShape(v.shape, vars[k]!.shape)) {
        throw new InvalidArgumentError(`${names[0]} and ${names[spec.refs[k]!]} do not have the same shape${formatShape(v.shape)} ${formatShape(vars[k]!.shape)}`, ctx.node.name);
      }
    }
    const g = inputs[spec.grad]!;
    const idx = sparse ? inputs[sparse.indices]! : undefined;
    const gradShape = idx ? [idx.size, ...v.shape.slice(1)] : v.shape;
    if (!idx && !sameShape(v.shape, g.shape)) {
      throw new InvalidArgumentError(`${names[0]} and ${names[spec.grad]} do not have the same shape${formatShape(v.shape)} ${formatShape(g.shape)}`, ctx.node.name);
    }
    if (idx && (!sameShape(gradShape, g.shape) || idx.shape.length !== 1)) {
      throw new InvalidArgumentError(`grad must have shape [${idx.size}, ...var.shape[1:]] with a vector of indices, got grad ${formatShape(g.shape)} and indices ${formatShape(idx.shape)}`, ctx.node.name);
    }
    const scalars = spec.scalars.map((i) => {
      const s = inputs[i]!;
      if (s.shape.length !== 0) throw new InvalidArgumentError(`${names[i]} is not a scalar: ${formatShape(s.shape)}`, ctx.node.name);
      return s;
    });
    for (const [k, s] of scalars.entries()) {
      const i = spec.scalars[k]!;
      const outOfRange = s.host ? scalarRangeError(spec, names[i]!, (s.host.data as Float32Array)[0]!) : undefined;
      if (outOfRange) throw new InvalidArgumentError(outOfRange, ctx.node.name);
    }
    const lead: GpuTensor[] = idx ? [g, idx] : [g];
    const flag = idx ? ctx.check(`indices contains a value that is not in [0, ${v.shape[0]})`) : undefined;
    const outs = flag ? [...vars, flag] : vars;
    // Hyperparameters: packed into one buffer on the host when they are all there (the usual case:
    // constants and host-side schedules), bound one by one when the bindings allow, else packed
    // on the GPU by a small dispatch first.
    let params: GpuTensor[];
    let param: (k: number) => string;
    const first = lead.length;
    if (scalars.every((s) => s.host)) {
      const packed = Float32Array.from(scalars, (s) => (s.host!.data as Float32Array)[0]!);
      params = [ctx.fromHost(new NDArray(packed, [scalars.length]))];
      param = (k) => `in${first}[${k}]`;
    } else if (first + scalars.length + outs.length <= MAX_BINDINGS) {
      params = scalars;
      param = (k) => `in${first + k}[0]`;
    } else {
      const packed = ctx.scratch('float32', [scalars.length], 'params');
      const copy = scalars.map((_, k) => `out0[${k}] = in${k}[0];`).join(' ');
      ctx.dispatch(perElement(1, bindings(scalars.map(() => 'float32'), ['float32']), copy), scalars, [packed]);
      params = [packed];
      param = (k) => `in${first}[${k}]`;
    }
    const lets = spec.scalars.map((i, k) => `let ${names[i]} = ${param(k)};`).join('\n  ');
    const refs = ['w', ...slots].map((n, k) => `var ${n} = out${k}[d];`).join(' ');
    const stores = ['w', ...slots].map((n, k) => `out${k}[d] = ${n};`).join(' ');
    const width = v.size / Math.max(1, v.shape[0] ?? 1);
    const locate = idx
      ? `let r = i / ${u(width)};
  ${loadIndex(idx.dtype, 'in1', 'r', 'row')}
  if (row < 0 || row >= ${lit(v.shape[0]!, 'int32')}) { out${vars.length}[0] = 1; return; }
  let d = u32(row) * ${u(width)} + i % ${u(width)};`
      : 'let d = i;';
    const code = `${lets}\n  ${locate}\n  let g = in0[i];\n  ${refs}\n  ${body(ctx.node)}\n  ${stores}`;
    const inDTypes = [...lead.map((t) => t.dtype), ...params.map(() => 'float32' as const)];
    ctx.dispatch(perElement(g.size, bindings(inDTypes, outs.map((t) => t.dtype)), code), [...lead, ...params], outs);
    return [v];
  };
}

const COMBINE: Record<string, (a: string, b: string) => string> = {
  update: (_a, b) => b,
  add: (a, b) => `${a} + ${b}`,
  sub: (a, b) => `${a} - ${b}`,
  mul: (a, b) => `${a} * ${b}`,
  div: (a, b) => `${a} / ${b}`,
  min: (a, b) => `min(${a}, ${b})`,
  max: (a, b) => `max(${a}, ${b})`,
};

// One invocation per element of a row, walking the indices in order: repeated indices combine in
// the CPU's order, so results are deterministic and match it (WGSL has no float atomics).
for (const [type, how] of Object.entries(SCATTER_OPS)) {
  registerGpuKernel(type, (ctx, [, indices, updates]) => {
    const ref = refVar(ctx, 0);
    const d = ref.dtype;
    if (d !== 'float32' && d !== 'int32') throw new InvalidArgumentError(`${type} supports float32 and int32 variables, got ${d}`, ctx.node.name);
    const rows = ref.shape[0]!;
    const width = ref.size / Math.max(1, rows);
    const scalar = updates!.shape.length === 0;
    const want = [...indices!.shape, ...ref.shape.slice(1)];
    if (!scalar && !sameShape(updates!.shape, want)) {
      throw new InvalidArgumentError(`updates must have shape indices.shape + ref.shape[1:] = ${formatShape(want)}, got ${formatShape(updates!.shape)}`, ctx.node.name);
    }
    const flag = ctx.check(`indices contains a value that is not in [0, ${rows})`);
    const n = indices!.size;
    const body = `for (var r = 0u; r < ${u(n)}; r++) {
    ${loadIndex(indices!.dtype, 'in0', 'r', 'row')}
    if (row < 0 || row >= ${lit(rows, 'int32')}) { out1[0] = 1; continue; }
    let o = u32(row) * ${u(width)} + i;
    ${store(d, 'out0', 'o', COMBINE[how]!(load(d, 'out0', 'o'), load(d, 'in1', scalar ? '0u' : `r * ${u(width)} + i`)))};
  }`;
    if (n > 0) ctx.dispatch(perElement(width, bindings([indices!.dtype, d], [d, 'int32']), body), [indices!, updates!], [ref, flag]);
    return [ref];
  });
}

registerApply('ApplyGradientDescent', [], () => 'w = w - alpha * g;');

registerApply('ApplyMomentum', ['accum'], (node) =>
  node.attrs.use_nesterov
    ? 'accum = accum * momentum + g; w = w - (g * lr + accum * momentum * lr);'
    : 'accum = accum * momentum + g; w = w - lr * accum;',
);

registerApply(
  'ApplyAdam',
  ['m', 'v'],
  (node) => `let alpha = (lr * sqrt(1.0 - beta2_power)) / (1.0 - beta1_power);
  m = m + (g - m) * (1.0 - beta1);
  v = v + (g * g - v) * (1.0 - beta2);
  let step = ${node.attrs.use_nesterov === true ? 'g * (1.0 - beta1) + beta1 * m' : 'm'};
  w = w - (step * alpha) / (sqrt(v) + epsilon);`,
);

registerApply(
  'ApplyRMSProp',
  ['ms', 'mom'],
  () => `ms = ms + (g * g - ms) * (1.0 - rho);
  mom = mom * momentum + (g * lr) / sqrt(ms + epsilon);
  w = w - mom;`,
);

registerApply(
  'ApplyCenteredRMSProp',
  ['mg', 'ms', 'mom'],
  () => `ms = ms + (g * g - ms) * (1.0 - rho);
  mg = mg + (g - mg) * (1.0 - rho);
  mom = mom * momentum + (g * lr) / sqrt(ms - mg * mg + epsilon);
  w = w - mom;`,
);

registerApply(
  'ApplyAdagrad',
  ['accum'],
  (node) => `${node.attrs.update_slots !== false ? 'accum = accum + g * g;' : ''}
  w = w - (lr * g) / sqrt(accum);`,
);

registerApply(
  'ApplyAdadelta',
  ['accum', 'accum_upd'],
  () => `accum = accum * rho + g * g * (1.0 - rho);
  let upd = sqrt(accum_upd + epsilon) / sqrt(accum + epsilon) * g;
  accum_upd = accum_upd * rho + upd * upd * (1.0 - rho);
  w = w - upd * lr;`,
);

/** FOBOS's proximal step of `v` (the plain step) with learning rate `rate`: soft threshold by rate * l1, then scale by 1 / (1 + rate * l2). */
const proximalStep = (v: string, rate: string): string =>
  `if (l1 > 0.0) { w = sign(${v}) * max(abs(${v}) - ${rate} * l1, 0.0) / (1.0 + ${rate} * l2); } else { w = ${v} / (1.0 + ${rate} * l2); }`;

registerApply('ApplyProximalGradientDescent', [], () => `let prox = w - alpha * g;\n  ${proximalStep('prox', 'alpha')}`);

registerApply(
  'ApplyProximalAdagrad',
  ['accum'],
  () => `accum = accum + g * g;
  let rate = lr / sqrt(accum);
  let prox = w - rate * g;
  ${proximalStep('prox', 'rate')}`,
);

/** FTRL-proximal; `shrinkage` is ApplyFtrlV2's l2_shrinkage term of the gradient ('' for ApplyFtrl). */
const ftrl =
  (shrinkage: string) =>
  (node: KernelCtx['node']): string => {
    const byLr = node.attrs.multiply_linear_by_lr === true;
    return `let gs = g${shrinkage};
  let na = accum + g * g;
  var rootNew: f32; var rootOld: f32;
  if (lr_power == -0.5) { rootNew = sqrt(na); rootOld = sqrt(accum); }
  else if (lr_power == 0.0) { rootNew = 1.0; rootOld = 1.0; }
  else { rootNew = pow(na, -lr_power); rootOld = pow(accum, -lr_power); }
  ${byLr ? 'lin = lin + gs * lr - (rootNew - rootOld) * w;' : 'lin = lin + gs - (rootNew - rootOld) / lr * w;'}
  let l1e = ${byLr ? 'l1 * lr' : 'l1'};
  let quadratic = ${byLr ? 'rootNew + 2.0 * l2 * lr' : 'rootNew / lr + 2.0 * l2'};
  w = (clamp(lin, -l1e, l1e) - lin) / quadratic;
  accum = na;`;
  };

registerApply('ApplyFtrl', ['accum', 'lin'], ftrl(''));
registerApply('ApplyFtrlV2', ['accum', 'lin'], ftrl(' + 2.0 * l2_shrinkage * w'));
