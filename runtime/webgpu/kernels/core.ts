// Core and variable kernels on WebGPU.
import { FailedPreconditionError, InvalidArgumentError } from '../../../src/core/errors.js';
import { formatShape, isFullyDefined, sameShape } from '../../../src/core/shape.js';
import { COPY } from '../../../ops/registry.js';
import { registerGpuKernel, type KernelCtx } from '../registry.js';
import type { GpuTensor } from '../tensor.js';
import { bindings, load, perElement, store } from '../wgsl.js';

registerGpuKernel('Const', (ctx) => [ctx.constant()]);
registerGpuKernel('Placeholder', (ctx) => {
  throw new InvalidArgumentError(`You must feed a value for placeholder tensor '${ctx.node.name}'`, ctx.node.name);
});
registerGpuKernel('PlaceholderWithDefault', (_ctx, [x]) => [x!]);
registerGpuKernel('Identity', (_ctx, [x]) => [x!]);
registerGpuKernel('StopGradient', (_ctx, [x]) => [x!]);
registerGpuKernel('NoOp', () => []);
// Values leaving a loop body's buffers (runtime/control_flow.ts): buffer values are copied into the
// step's own outputs; host values are immutable and pass as they are.
registerGpuKernel(COPY, (ctx, inputs) => {
  const skip = (ctx.node.attrs.skip as readonly boolean[] | undefined) ?? [];
  return inputs.map((x, k) => {
    if (skip[k] || x.host || !x.buffer) return x;
    const y = ctx.output(k, x.dtype, x.shape);
    ctx.copy(x, y);
    return y;
  });
});

registerGpuKernel('VariableV2', (ctx) => {
  const v = ctx.state.variables.get(ctx.node.varName!);
  if (!v) throw new FailedPreconditionError(`Attempting to use uninitialized value ${ctx.node.varName}`, ctx.node.name);
  return [v];
});

registerGpuKernel('Assign', (ctx, inputs) => {
  const value = inputs[1]!;
  const name = ctx.node.refVars[0]!;
  if (ctx.node.attrs.validate_shape) {
    const declared = ctx.node.inputShapes[0]!;
    if (isFullyDefined(declared) && !sameShape(declared, value.shape)) {
      throw new InvalidArgumentError(`Assign requires shapes of both tensors to match. lhs shape= ${formatShape(declared)} rhs shape= ${formatShape(value.shape)}`);
    }
  }
  // Variables own their storage (optimizers update it in place): the value is copied in, into the
  // variable's buffer when it has one of the same size.
  const old = ctx.state.variables.get(name);
  const stored =
    old && old.buffer && old.dtype === value.dtype && old.size === value.size && sameShape(old.shape, value.shape)
      ? old
      : ctx.owned(value.dtype, value.shape);
  ctx.copy(value, stored);
  ctx.setVariable(name, stored);
  return [stored];
});

function assignUpdate(sign: '+' | '-') {
  return (ctx: KernelCtx, inputs: GpuTensor[]): GpuTensor[] => {
    const ref = ctx.ref(0);
    const value = inputs[1]!;
    if (!sameShape(ref.shape, value.shape)) {
      throw new InvalidArgumentError(
        `${ctx.node.type} requires shapes of both tensors to match. lhs shape= ${formatShape(ref.shape)} rhs shape= ${formatShape(value.shape)}`,
      );
    }
    const d = ref.dtype;
    const body =
      d === 'int64'
        ? // Two's-complement add with carry over the two 32-bit words.
          `let a = bitcast<vec2<u32>>(out0[i]); var b = bitcast<vec2<u32>>(in0[i]);
           ${sign === '-' ? 'b = ~b; let c0 = select(0u, 1u, b.x == 0xffffffffu); b = vec2<u32>(b.x + 1u, b.y + c0);' : ''}
           let lo = a.x + b.x; let carry = select(0u, 1u, lo < a.x);
           out0[i] = bitcast<vec2<i32>>(vec2<u32>(lo, a.y + b.y + carry));`
        : store(d, 'out0', 'i', `${load(d, 'out0', 'i')} ${sign} ${load(d, 'in0', 'i')}`);
    ctx.dispatch(perElement(ref.size, bindings([d], [d]), body), [value], [ref]);
    return [ref];
  };
}
registerGpuKernel('AssignAdd', assignUpdate('+'));
registerGpuKernel('AssignSub', assignUpdate('-'));
