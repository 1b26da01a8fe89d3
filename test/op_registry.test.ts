// The op registry as the one source of per-op facts: declared inputs (arity checked where ops are
// made and imported) and the flags the passes read.
import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import type { GraphDef } from '../src/io/proto.js';
import { getInternalOpDef, getOpDef, hasExternalOutput, isAliasOp, isInPlaceOp, listInternalOps, listOps } from '../ops/registry.js';

const float = { type: 1 };
const scalar = (v: number) => ({ tensor: { dtype: 1, tensor_shape: {}, float_val: [v] } });

describe('op registry', () => {
  it('every op names its inputs, at most one of them variadic, and no internal op shares a registered name', () => {
    for (const def of listOps()) {
      expect(def.inputs.every((n) => /^[a-z_0-9]+(\*|\[\])?$/.test(n)), def.type).toBe(true);
      expect(def.inputs.filter((n) => n.endsWith('*') || n.endsWith('[]')).length, def.type).toBeLessThanOrEqual(1);
    }
    for (const def of listInternalOps()) {
      expect(def.type.startsWith('_'), def.type).toBe(true);
      expect(getOpDef(def.type)).toBeUndefined();
    }
  });

  it('gradient ops name their second input as the kernels word their errors', () => {
    expect(getOpDef('ReluGrad')!.inputs).toEqual(['gradients', 'features']);
    expect(getOpDef('EluGrad')!.inputs).toEqual(['gradients', 'outputs']);
  });

  it('rejects a wrong number of inputs when an op is made, naming the op', () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.constant([1, -2]);
      expect(() => g.createOp('Relu', [x, x], { T: 'float32' }, { name: 'r' })).toThrow(InvalidArgumentError);
      expect(() => g.createOp('Relu', [x, x], { T: 'float32' }, { name: 'r2' })).toThrow(/'r2'.*expected 1 input \(features\), got 2/s);
      expect(() => g.createOp('AddN', [], { N: 0, T: 'float32' }, { name: 'n' })).toThrow(/expected at least 1 inputs \(inputs\.\.\.\), got 0/);
      expect(() => g.createOp('Const', [x], { value: new tf.NDArray(Float32Array.of(1), []), dtype: 'float32' })).toThrow(/expected 0 inputs/);
      // Variadic inputs take any number from one up.
      expect(g.createOp('AddN', [x, x, x], { N: 3, T: 'float32' }).outputs[0]!.shape).toEqual([2]);
    });
  });

  it('rejects a wrong number of inputs in an imported GraphDef, naming the node', () => {
    const gd: GraphDef = {
      node: [
        { name: 'c', op: 'Const', attr: { dtype: float, value: scalar(1) } },
        { name: 'bad', op: 'Sigmoid', input: ['c', 'c'], attr: { T: float } },
      ],
    };
    expect(() => tf.importGraphDef(gd, { graph: new tf.Graph() })).toThrow(InvalidArgumentError);
    expect(() => tf.importGraphDef(gd, { graph: new tf.Graph() })).toThrow(/bad.*expected 1 input \(x\), got 2/s);
  });

  it('answers the planner\'s questions from the definitions', () => {
    for (const t of ['Identity', 'StopGradient', 'PlaceholderWithDefault', '_View']) expect(isAliasOp(t), t).toBe(true);
    for (const t of ['Reshape', 'Relu', '_FusedElementwise', 'Snapshot']) expect(isAliasOp(t), t).toBe(false);
    for (const t of ['Const', 'VariableV2', '_Arg']) expect(hasExternalOutput(t), t).toBe(true);
    expect(hasExternalOutput('Placeholder')).toBe(false);
    expect(isInPlaceOp('_FusedElementwise')).toBe(true);
    expect(isInPlaceOp('AddV2')).toBe(false);
    expect(getInternalOpDef('_View')?.view).toBe(true);
  });

  it('flags what the passes used to list by name', () => {
    const flagged = (f: (d: ReturnType<typeof listOps>[number]) => unknown) =>
      listOps()
        .filter(f)
        .map((d) => d.type)
        .sort();
    expect(flagged((d) => d.commutative)).toEqual(['Add', 'AddV2', 'Equal', 'LogicalAnd', 'LogicalOr', 'Maximum', 'Minimum', 'Mul', 'NotEqual', 'SquaredDifference']);
    expect(flagged((d) => d.involution)).toEqual(['Conj', 'LogicalNot', 'Neg']);
    expect(flagged((d) => d.rightIdentity === 0)).toEqual(['Add', 'AddV2', 'Sub']);
    expect(flagged((d) => d.rightIdentity === 1)).toEqual(['Mul', 'RealDiv']);
    expect(flagged((d) => d.reshapes)).toEqual(['ExpandDims', 'Reshape', 'Squeeze']);
    expect(flagged((d) => d.fusableActivation)).toEqual(['Elu', 'LeakyRelu', 'Relu', 'Relu6', 'Sigmoid', 'Tanh']);
    expect(flagged((d) => d.valueOfShape)).toEqual(['Rank', 'Shape', 'Size']);
    expect(flagged((d) => d.forwardsInput)).toEqual(['CheckNumerics', 'Identity', 'PlaceholderWithDefault', 'Print', 'StopGradient']);
    expect(getOpDef('Shape')!.valueOfShape!([2, 3])).toEqual({ value: [2, 3], shape: [2] });
    expect(getOpDef('Size')!.valueOfShape!([2, 3])).toEqual({ value: [6], shape: [] });
    // Random draws are stateful: no pass folds, merges or fuses them.
    for (const t of ['RandomUniform', 'RandomUniformInt', 'RandomStandardNormal', 'TruncatedNormal']) expect(getOpDef(t)!.stateful, t).toBe(true);
  });
});
