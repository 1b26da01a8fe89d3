// Summary kernels: build Summary protocol buffers (as TensorFlow's summary kernels do) and output them serialized.
import { encode as encodePng } from 'fast-png';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { NDArray } from '../../../src/core/ndarray.js';
import { fromUtf8 } from '../../../src/io/bytes.js';
import { decodeMessage, encodeMessage, type HistogramProto, type SummaryMetadata, type SummaryValue } from '../../../src/io/proto.js';
import { tensorBytes, tensorToProto, dtypeToTF, shapeToProto } from '../../../src/io/tensor_proto.js';
import { sameShape } from '../../../src/core/shape.js';
import { registerCpuKernel } from '../registry.js';

function summaryOutput(values: SummaryValue[]): NDArray[] {
  return [new NDArray([encodeMessage('Summary', { value: values })], [], 'string')];
}

function stringScalar(a: NDArray, what: string): string {
  if (a.size !== 1) throw new InvalidArgumentError(`${what} must be a scalar, got shape [${a.shape.join(',')}]`);
  return fromUtf8((a.data as Uint8Array[])[0]!);
}

function asNumbers(a: NDArray): ArrayLike<number | bigint> {
  return a.data as ArrayLike<number | bigint>;
}

registerCpuKernel('ScalarSummary', ([tags, values]) => {
  if (!sameShape(tags!.shape, values!.shape)) {
    throw new InvalidArgumentError(`tags and values not the same shape: [${tags!.shape.join(',')}] != [${values!.shape.join(',')}]`);
  }
  const t = tags!.data as Uint8Array[];
  const v = asNumbers(values!);
  const out: SummaryValue[] = [];
  for (let i = 0; i < t.length; i++) out.push({ tag: fromUtf8(t[i]!), simple_value: Number(v[i]) });
  return summaryOutput(out);
});

/** TensorFlow's default histogram buckets: +-1e-12 growing by 10% up to 1e20, 0, and +-DBL_MAX. */
const DEFAULT_BUCKET_LIMITS: Float64Array = (() => {
  const pos: number[] = [];
  for (let v = 1.0e-12; v < 1.0e20; v *= 1.1) pos.push(v);
  pos.push(Number.MAX_VALUE);
  const neg = pos.map((v) => -v).reverse();
  return Float64Array.from([...neg, 0, ...pos]);
})();

/** TensorFlow's Histogram::Add + EncodeToProto(preserve_zero_buckets=false). */
export function histogramProto(values: ArrayLike<number | bigint>, tag: string): HistogramProto {
  const limits = DEFAULT_BUCKET_LIMITS;
  const counts = new Float64Array(limits.length);
  let min = limits[limits.length - 1]!;
  let max = -min;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < values.length; i++) {
    const x = Number(values[i]);
    if (!Number.isFinite(x)) throw new InvalidArgumentError(`Nan in summary histogram for: ${tag}`);
    // upper_bound: the first limit greater than x.
    let lo = 0;
    let hi = limits.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (limits[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    counts[Math.min(lo, limits.length - 1)]! += 1;
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    sumSq += x * x;
  }
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  for (let i = 0; i < counts.length; ) {
    let end = limits[i]!;
    let count = counts[i]!;
    i++;
    if (count <= 0) {
      while (i < counts.length && counts[i]! <= 0) {
        end = limits[i]!;
        count = counts[i]!;
        i++;
      }
    }
    bucketLimit.push(end);
    bucket.push(count);
  }
  if (bucket.length === 0) {
    bucketLimit.push(Number.MAX_VALUE);
    bucket.push(0);
  }
  return { min, max, num: values.length, sum, sum_squares: sumSq, bucket_limit: bucketLimit, bucket };
}

registerCpuKernel('HistogramSummary', ([tagT, values]) => {
  const tag = stringScalar(tagT!, 'tag');
  return summaryOutput([{ tag, histo: histogramProto(asNumbers(values!), tag) }]);
});

const DEFAULT_BAD_COLOR = [255, 0, 0, 255];

/** TensorFlow's NormalizeFloatImage: scale to [0, 255] (or centre on 128 with negatives), bad_color for non-finite pixels. */
export function normalizeImage(data: Float32Array, start: number, hw: number, depth: number, badColor: readonly number[]): Uint8Array {
  const out = new Uint8Array(hw * depth);
  let lo = Infinity;
  let hi = -Infinity;
  const finitePixel = (p: number): boolean => {
    for (let j = 0; j < depth; j++) if (!Number.isFinite(data[start + p * depth + j]!)) return false;
    return true;
  };
  for (let p = 0; p < hw; p++) {
    if (!finitePixel(p)) continue;
    for (let j = 0; j < depth; j++) {
      const v = data[start + p * depth + j]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const kZero = 1e-6;
  let scale: number;
  let offset: number;
  if (lo < 0) {
    const maxVal = Math.fround(Math.max(Math.abs(lo), Math.abs(hi)));
    scale = maxVal < kZero ? 0 : Math.fround(127 / maxVal);
    offset = 128;
  } else {
    scale = hi < kZero ? 0 : Math.fround(255 / hi);
    offset = 0;
  }
  for (let p = 0; p < hw; p++) {
    if (!finitePixel(p)) {
      for (let j = 0; j < depth; j++) out[p * depth + j] = badColor[j]!;
      continue;
    }
    for (let j = 0; j < depth; j++) {
      // float arithmetic, then a truncating cast to uint8, as Eigen's cast<uint8> does.
      const v = Math.fround(Math.fround(data[start + p * depth + j]! * scale) + offset);
      out[p * depth + j] = Math.trunc(v) & 0xff;
    }
  }
  return out;
}

registerCpuKernel('ImageSummary', ([tagT, tensor], node) => {
  const tag = stringScalar(tagT!, 'tag');
  const s = tensor!.shape;
  if (s.length !== 4 || ![1, 3, 4].includes(s[3]!)) {
    throw new InvalidArgumentError(`Tensor must be 4-D with last dim 1, 3, or 4, not [${s.join(',')}]`);
  }
  const [batch, h, w, depth] = s as [number, number, number, number];
  if (h * w >= 2 ** 29) throw new InvalidArgumentError(`Tensor too large for summary [${s.join(',')}]`);
  const maxImages = node.attrs.max_images as number;
  const badAttr = node.attrs.bad_color;
  const badColor = badAttr instanceof NDArray ? Array.from(badAttr.data as ArrayLike<number>, Number) : DEFAULT_BAD_COLOR;
  if (badColor.length < depth) {
    throw new InvalidArgumentError(`expected depth <= bad_color.size, got depth = ${depth}, bad_color.size = ${badColor.length}`);
  }
  const data = tensor!.data as Float32Array;
  const values: SummaryValue[] = [];
  const n = Math.min(maxImages, batch);
  for (let i = 0; i < n; i++) {
    const pixels = normalizeImage(data, i * h * w * depth, h * w, depth, badColor);
    const png = encodePng({ width: w, height: h, data: pixels, channels: depth, depth: 8 });
    values.push({
      tag: maxImages > 1 ? `${tag}/image/${i}` : `${tag}/image`,
      image: { height: h, width: w, colorspace: depth, encoded_image_string: png },
    });
  }
  return summaryOutput(values);
});

registerCpuKernel('TensorSummaryV2', ([tagT, tensor, meta]) => {
  const tag = stringScalar(tagT!, 'tag');
  const metaBytes = (meta!.data as Uint8Array[])[0]!;
  let metadata: SummaryMetadata;
  try {
    metadata = decodeMessage('SummaryMetadata', metaBytes, 'serialized_summary_metadata');
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  const t = tensor!;
  // As TensorFlow: strings in string_val, everything else in tensor_content.
  const proto =
    t.dtype === 'string'
      ? tensorToProto(t)
      : { dtype: dtypeToTF(t.dtype), tensor_shape: shapeToProto(t.shape), tensor_content: tensorBytes(t) };
  return summaryOutput([{ tag, metadata, tensor: proto }]);
});

registerCpuKernel('MergeSummary', (inputs) => {
  const seen = new Set<string>();
  const values: SummaryValue[] = [];
  for (const input of inputs) {
    for (const bytes of input.data as Uint8Array[]) {
      let s;
      try {
        s = decodeMessage('Summary', bytes);
      } catch {
        throw new InvalidArgumentError('Could not parse one of the summary inputs');
      }
      for (const v of s.value ?? []) {
        const tag = v.tag ?? '';
        if (seen.has(tag)) throw new InvalidArgumentError(`Duplicate tag ${tag} found in summary inputs`);
        seen.add(tag);
        values.push(v);
      }
    }
  }
  return summaryOutput(values);
});
