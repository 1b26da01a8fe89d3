// tf.TensorArray over tensor lists (TF2's TensorArray in graphs): a value-semantics array of tensors
// whose `flow` (a variant scalar) is what loops carry. write/scatter/unstack return a new
// TensorArray, as in TF, so programs reassign: `ta = ta.write(t, x)`.
import { convertToTensor, graphOf, makeConst, type TensorLike } from '../convert.js';
import { elementShapeConst } from '../../ops/list.js';
import type { DType } from '../core/dtypes.js';
import { NDArray } from '../core/ndarray.js';
import { formatShape, mergeShapes, type Shape } from '../core/shape.js';
import { type AttrValue, type Graph, type Tensor } from '../graph.js';
import { ValueError } from '../variable_scope.js';

export interface TensorArrayOptions {
  /** Number of elements (a scalar int). Required unless dynamicSize. */
  size?: TensorLike;
  /** Writes past the end grow the array (TF's dynamic_size). */
  dynamicSize?: boolean;
  /** Accepted for TF compatibility; reading an element twice is allowed (as TF2's TensorArray allows). */
  clearAfterRead?: boolean;
  /** The shape every element has; null dims are unknown. */
  elementShape?: Shape;
  /** Infer the element shape from writes (default true). */
  inferShape?: boolean;
  name?: string;
}

export class TensorArray {
  readonly dtype: DType;
  /** The variant tensor holding the list: what a loop carries. */
  readonly flow: Tensor;
  readonly dynamicSize: boolean;
  readonly inferShape: boolean;
  /**
   * The element shape, shared by every array derived from this one (writes, a loop's outputs), as
   * TF shares it: a shape learned from a write inside a loop body holds for the loop's result.
   */
  private readonly cell: { shape: Shape; size?: number };

  private get _elementShape(): Shape {
    return this.cell.shape;
  }

  constructor(dtype: DType, opts: TensorArrayOptions = {}, flow?: Tensor, cell?: { shape: Shape; size?: number }) {
    this.dtype = dtype;
    this.dynamicSize = opts.dynamicSize ?? false;
    this.inferShape = opts.inferShape ?? true;
    this.cell = cell ?? { shape: opts.elementShape === undefined ? null : opts.elementShape };
    if (flow) {
      this.flow = flow;
      return;
    }
    const g = graphOf(opts.size === undefined ? [] : [opts.size]);
    this.flow = g.asDefault(() =>
      g.nameScope(opts.name ?? 'TensorArray', () => {
        const es = elementShapeConst(g, this._elementShape);
        if (opts.size === undefined || opts.size === null) {
          if (!this.dynamicSize) throw new ValueError('tf.TensorArray: give a size, or dynamicSize: true');
          return g.createOp('EmptyTensorList', [es, convertToTensor(-1, 'int32')], { element_dtype: dtype, shape_type: 'int32' }).outputs[0]!;
        }
        const n = convertToTensor(opts.size, 'int32', 'size');
        const known = n.knownValue;
        // A fixed, known size gives stacked values a static first dim.
        if (known && !this.dynamicSize) this.cell.size = Number(known.data[0]);
        return g.createOp('TensorListReserve', [es, n], { element_dtype: dtype, shape_type: 'int32' }).outputs[0]!;
      }),
    );
  }

  /** The element shape known so far (null: unknown). */
  get elementShape(): Shape {
    return this._elementShape === null ? null : [...this._elementShape];
  }

  /** The same array carried by another flow tensor (a loop's output). */
  withFlow(flow: Tensor): TensorArray {
    return new TensorArray(this.dtype, { dynamicSize: this.dynamicSize, inferShape: this.inferShape }, flow, this.cell);
  }

  private get graph(): Graph {
    return graphOf([this.flow]);
  }

  private op(type: string, inputs: Tensor[], attrs: Record<string, unknown>, name: string): Tensor[] {
    const g = this.graph;
    return g.asDefault(() => g.createOp(type, inputs, { element_dtype: this.dtype, ...attrs } as Record<string, AttrValue>, { name }).outputs);
  }

  /** Merges a written value's element shape into the shared element shape. */
  private merged(shape: Shape, what: string): Shape {
    if (!this.inferShape) return this._elementShape;
    try {
      return (this.cell.shape = mergeShapes(this._elementShape, shape));
    } catch {
      throw new ValueError(`TensorArray ${what}: shape ${formatShape(shape)} is not compatible with the element shape ${formatShape(this._elementShape)}`);
    }
  }

  private next(flow: Tensor): TensorArray {
    return this.withFlow(flow);
  }

  private esTensor(s: Shape = this._elementShape): Tensor {
    return elementShapeConst(this.graph, s);
  }

  private value(x: TensorLike, what: string): Tensor {
    const g = this.graph;
    const t = g.asDefault(() => convertToTensor(x, this.dtype, what));
    if (t.dtype !== this.dtype) throw new ValueError(`TensorArray ${what}: got a ${t.dtype} value for a TensorArray of ${this.dtype}`);
    return t;
  }

  read(index: TensorLike, name = 'TensorArrayReadV3'): Tensor {
    const idx = this.graph.asDefault(() => convertToTensor(index, 'int32', 'index'));
    const t = this.op('TensorListGetItem', [this.flow, idx, this.esTensor()], {}, name)[0]!;
    return t;
  }

  write(index: TensorLike, value: TensorLike, name = 'TensorArrayWrite'): TensorArray {
    const idx = this.graph.asDefault(() => convertToTensor(index, 'int32', 'index'));
    const v = this.value(value, 'write');
    this.merged(v.shape, 'write');
    const flow = this.op('TensorListSetItem', [this.flow, idx, v], { resize_if_index_out_of_bounds: this.dynamicSize }, name)[0]!;
    return this.next(flow);
  }

  /** All elements stacked along a new first axis. */
  stack(name = 'TensorArrayStack'): Tensor {
    return this.op('TensorListStack', [this.flow, this.esTensor()], { num_elements: this.cell.size ?? -1 }, name)[0]!;
  }

  /** The elements at `indices`, stacked. */
  gather(indices: TensorLike, name = 'TensorArrayGather'): Tensor {
    const idx = this.graph.asDefault(() => convertToTensor(indices, 'int32', 'indices'));
    return this.op('TensorListGather', [this.flow, idx, this.esTensor()], {}, name)[0]!;
  }

  /** The rows of `value` as the elements. */
  unstack(value: TensorLike, name = 'TensorArrayUnstack'): TensorArray {
    const v = this.value(value, 'unstack');
    const es = this.merged(v.shape === null ? null : v.shape.slice(1), 'unstack');
    const flow = this.op('TensorListFromTensor', [v, this.esTensor(es)], { shape_type: 'int32' }, name)[0]!;
    return this.next(flow);
  }

  /** Row i of `value` becomes element indices[i]. */
  scatter(indices: TensorLike, value: TensorLike, name = 'TensorArrayScatter'): TensorArray {
    const idx = this.graph.asDefault(() => convertToTensor(indices, 'int32', 'indices'));
    const v = this.value(value, 'scatter');
    this.merged(v.shape === null ? null : v.shape.slice(1), 'scatter');
    const flow = this.op('TensorListScatterIntoExistingList', [this.flow, v, idx], {}, name)[0]!;
    return this.next(flow);
  }

  /** The elements concatenated along their first axis. */
  concat(name = 'TensorArrayConcat'): Tensor {
    const es = this._elementShape === null ? null : [null, ...this._elementShape.slice(1)];
    const leading = makeConst(this.graph, NDArray.from(new BigInt64Array(0), 'int64', [0]), 'leading_dims');
    return this.op('TensorListConcatV2', [this.flow, this.esTensor(es), leading], { shape_type: 'int32' }, name)[0]!;
  }

  /** `value` split along its first axis into pieces of these lengths, one element each. */
  split(value: TensorLike, lengths: TensorLike, name = 'TensorArraySplit'): TensorArray {
    const v = this.value(value, 'split');
    const g = this.graph;
    const lens = g.asDefault(() => {
      const l = convertToTensor(lengths, undefined, 'lengths');
      return l.dtype === 'int64' ? l : g.createOp('Cast', [l], { SrcT: l.dtype, DstT: 'int64', Truncate: false }).outputs[0]!;
    });
    const es = this.merged(v.shape === null ? null : [null, ...v.shape.slice(1)], 'split');
    const flow = this.op('TensorListSplit', [v, this.esTensor(es), lens], { shape_type: 'int32' }, name)[0]!;
    return this.next(flow);
  }

  size(name = 'TensorArraySize'): Tensor {
    const g = this.graph;
    return g.asDefault(() => g.createOp('TensorListLength', [this.flow], {}, { name }).outputs[0]!);
  }

  /** TF's identity(): the same array (its flow is a value already). */
  identity(): TensorArray {
    return this;
  }

  close(): void {}
}
