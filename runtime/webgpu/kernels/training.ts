// WebGPU kernels: optimizer updates. Each updates the variable and its slots in place, one
// invocation per element, in one dispatch.
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray } from '../../../src/core/ndarray.js';
import { formatShape, sameShape } from '../../../src/core/shape.js';
import { APPLY_OPS } from '../../../ops/semantics/training.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, MAX_BINDINGS, perElement } from '../wgsl.js';

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
 * `body` updates element i: `w` names the variable's storage, the slots are named by `slots`, `g`
 * is the gradient element, and each hyperparameter is a `let` named after its input.
 */
function registerApply(type: string, slots: readonly string[], body: (node: KernelCtx['node']) => string): void {
  const spec = APPLY_OPS.find((s) => s.type === type)!;
  const names = spec.inputs;
  registerGpuKernel(type, (ctx, inputs) => {
    const vars = spec.refs.map((i) => refVar(ctx, i));
    const v = vars[0]!;
    for (let k = 1; k < vars.length; k++) {
      if (!sameShape(v.shape, vars[k]!.shape)) {
        throw new InvalidArgumentError(`${names[0]} and ${names[spec.refs[k]!]} do not have the same shape${formatShape(v.shape)} ${formatShape(vars[k]!.shape)}`, ctx.node.name);
      }
    }
    const g = inputs[spec.grad]!;
    if (!sameShape(v.shape, g.shape)) {
      throw new InvalidArgumentError(`${names[0]} and ${names[spec.grad]} do not have the same shape${formatShape(v.shape)} ${formatShape(g.shape)}`, ctx.node.name);
    }
    const scalars = spec.scalars.map((i) => {
      const s = inputs[i]!;
      if (s.shape.length !== 0) throw new InvalidArgumentError(`${names[i]} is not a scalar: ${formatShape(s.shape)}`, ctx.node.name);
      return s;
    });
    // Hyperparameters: packed into one buffer on the host when they are all there (the usual case:
    // constants and host-side schedules), bound one by one when the bindings allow, else packed
    // on the GPU by a small dispatch first.
    let params: GpuTensor[];
    let param: (k: number) => string;
    if (scalars.every((s) => s.host)) {
      const packed = Float32Array.from(scalars, (s) => (s.host!.data as Float32Array)[0]!);
      params = [ctx.fromHost(new NDArray(packed, [scalars.length]))];
      param = (k) => `in1[${k}]`;
    } else if (1 + scalars.length + vars.length <= MAX_BINDINGS) {
      params = scalars;
      param = (k) => `in${1 + k}[0]`;
    } else {
      const packed = ctx.scratch('float32', [scalars.length], 'params');
      const copy = scalars.map((_, k) => `out0[${k}] = in${k}[0];`).join(' ');
      ctx.dispatch(perElement(1, bindings(scalars.map(() => 'float32'), ['float32']), copy), scalars, [packed]);
      params = [packed];
      param = (k) => `in1[${k}]`;
    }
    const lets = spec.scalars.map((i, k) => `let ${names[i]} = ${param(k)};`).join('\n  ');
    const refs = ['w', ...slots].map((n, k) => `var ${n} = out${k}[i];`).join(' ');
    const stores = ['w', ...slots].map((n, k) => `out${k}[i] = ${n};`).join(' ');
    const code = `${lets}\n  let g = in0[i];\n  ${refs}\n  ${body(ctx.node)}\n  ${stores}`;
    ctx.dispatch(
      perElement(v.size, bindings(['float32', ...params.map(() => 'float32' as const)], vars.map(() => 'float32')), code),
      [g, ...params],
      vars,
    );
    return [v];
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
