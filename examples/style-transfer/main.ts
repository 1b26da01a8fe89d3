// Neural style transfer (Gatys et al. 2016) in TF1 style: the image is the only trainable variable,
// and Adam moves its pixels down the gradient of a loss measured through a fixed convolutional
// network. No pretrained VGG weights can be downloaded here, so the network is a small VGG-like
// stack with random (He-scaled, seeded) filters; random shallow networks still carry the texture
// statistics that style losses need (Ustyuzhaninov et al. 2016, "Texture synthesis using shallow
// convolutional networks with random filters"). Both inputs are drawn procedurally: the content a
// little scene (sky, sun, hill, house), the style a texture of wavy colour stripes with blobs.
//   network:  conv3x3 32 relu (conv1_1) -> conv3x3 32 relu -> avgpool /2
//             -> conv3x3 64 relu (conv2_1) -> avgpool /2 -> conv3x3 64 relu (conv3_1) -> conv3x3 64 relu (conv3_2)
//   loss:     style: sum over conv1_1, conv2_1, conv3_1 of ||G - G_style||^2 / ||G_style||^2 (G the Gram
//             matrix of a layer's features); content: ||F - F_content||^2 / ||F_content||^2 at conv3_2;
//             total variation: the mean absolute difference of neighbouring pixels
//   npx tsx examples/style-transfer/main.ts [--steps 400] [--size 96] [--lr 0.02] [--seed 0]
//        [--content-weight 0.5] [--style-weight 1] [--tv-weight 0.1] [--out examples/style-transfer/result.png]
// --content-weight 0 gives texture synthesis (the image then starts from noise).
// Writes content | style | result (texture synthesis: style | result) side by side as one PNG.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { encode } from 'fast-png';
import * as tf from '../../src/index.js';
import { numberOption } from '../mnist-common/cli.js';
import { seededRandom } from '../mnist-common/data.js';

export const STYLE_LAYERS = ['conv1_1', 'conv2_1', 'conv3_1'] as const;
export const CONTENT_LAYER = 'conv3_2';
// [name, output channels, average-pool after it]
const LAYERS: readonly (readonly [string, number, boolean])[] = [
  ['conv1_1', 32, false],
  ['conv1_2', 32, true],
  ['conv2_1', 64, true],
  ['conv3_1', 64, false],
  ['conv3_2', 64, false],
];

export interface StyleOptions {
  steps?: number;
  /** Image side in pixels (the images are square RGB). */
  size?: number;
  lr?: number;
  seed?: number;
  contentWeight?: number;
  styleWeight?: number;
  tvWeight?: number;
  /** Report losses every this many steps (and after the last). */
  logEvery?: number;
  onLog?: (s: StepStats) => void;
}

export interface StepStats {
  step: number;
  total: number;
  style: number;
  content: number;
  tv: number;
  seconds: number;
}

export interface StyleResult {
  log: StepStats[];
  size: number;
  /** [size, size, 3] RGB in [0, 1], row-major. */
  content: Float32Array;
  style: Float32Array;
  result: Float32Array;
}

/** An RGB image, [size, size, 3] in [0, 1], from a function of (x, y) in [0, 1)^2. */
function paint(size: number, colour: (x: number, y: number) => readonly [number, number, number]): Float32Array {
  const img = new Float32Array(size * size * 3);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) img.set(colour(c / size, r / size), (r * size + c) * 3);
  }
  return img;
}

const mix = (a: readonly number[], b: readonly number[], t: number): [number, number, number] => [
  a[0]! + (b[0]! - a[0]!) * t,
  a[1]! + (b[1]! - a[1]!) * t,
  a[2]! + (b[2]! - a[2]!) * t,
];

/** The content: a sky fading to the horizon, a sun, a rolling hill and a red house with a dark roof. */
export function contentImage(size: number): Float32Array {
  return paint(size, (x, y) => {
    const hill = 0.62 + 0.06 * Math.sin(2 * Math.PI * (x * 1.3 + 0.1));
    const inWall = x > 0.2 && x < 0.45 && y > 0.5 && y < 0.72;
    const inRoof = y <= 0.5 && y > 0.34 && Math.abs(x - 0.325) < (y - 0.34) * (0.16 / 0.16);
    const inDoor = x > 0.29 && x < 0.35 && y > 0.6 && y < 0.72;
    if (inDoor) return [0.25, 0.15, 0.08];
    if (inWall) return [0.8, 0.15, 0.12];
    if (inRoof) return [0.2, 0.18, 0.22];
    if ((x - 0.75) ** 2 + (y - 0.2) ** 2 < 0.01) return [1, 0.85, 0.2];
    if (y > hill) return mix([0.3, 0.65, 0.25], [0.12, 0.35, 0.1], (y - hill) / (1 - hill));
    return mix([0.25, 0.45, 0.85], [0.8, 0.9, 1], y / hill);
  });
}

/** The style: wavy diagonal stripes in three colours, with soft coloured blobs (seeded). */
export function styleImage(size: number, seed = 0): Float32Array {
  const random = seededRandom(seed + 7);
  const palette = [
    [0.1, 0.15, 0.45],
    [0.95, 0.55, 0.1],
    [0.98, 0.92, 0.75],
  ];
  const blobs = Array.from({ length: 12 }, () => ({
    x: random(),
    y: random(),
    r: 0.03 + 0.05 * random(),
    colour: [[0.85, 0.1, 0.35], [0.1, 0.6, 0.55], [0.55, 0.2, 0.7]][Math.floor(random() * 3)]!,
  }));
  return paint(size, (x, y) => {
    const phase = 6 * (x + y) + 0.6 * Math.sin(2 * Math.PI * 3 * y);
    const band = ((phase % 3) + 3) % 3;
    const k = Math.floor(band);
    let rgb = mix(palette[k]!, palette[(k + 1) % 3]!, Math.max(0, (band - k - 0.8) / 0.2));
    for (const b of blobs) {
      const d = Math.hypot(x - b.x, y - b.y) / b.r;
      if (d < 1) rgb = mix(rgb, b.colour, 1 - d * d);
    }
    return rgb;
  });
}

/** He-scaled random 3x3 filters, [3, 3, in, out], from a seeded generator (Box-Muller). */
function randomFilter(inC: number, outC: number, random: () => number): tf.NDArray {
  const d = new Float32Array(9 * inC * outC);
  const std = Math.sqrt(2 / (9 * inC));
  for (let i = 0; i < d.length; i++) {
    d[i] = std * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  }
  return new tf.NDArray(d, [3, 3, inC, outC]);
}

/** The fixed network's filters: constants, so the optimizer sees only the image. */
export function buildFilters(seed: number): tf.Tensor[] {
  const random = seededRandom(seed + 11);
  let inC = 3;
  return LAYERS.map(([name, outC]) => {
    const f = tf.constant(randomFilter(inC, outC, random), undefined, undefined, `${name}/filter`);
    inC = outC;
    return f;
  });
}

/** The named layers' activations for images [batch, h, w, 3] in [0, 1]. */
export function features(images: tf.Tensor, filters: tf.Tensor[]): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  let h = tf.subtract(images, 0.5);
  LAYERS.forEach(([name, , pool], i) => {
    h = tf.nn.relu(tf.nn.conv2d(h, filters[i]!, 1, 'SAME'), name);
    out.set(name, h);
    if (pool) h = tf.nn.avgPool(h, 2, 2, 'SAME');
  });
  return out;
}

/** The Gram matrix of one image's features [1, h, w, c]: F^T F / (h w), [c, c]. */
export function gram(f: tf.Tensor): tf.Tensor {
  const [, h, w, c] = f.shape as number[];
  const flat = tf.reshape(f, [h! * w!, c!]);
  return tf.divide(tf.matmul(flat, flat, { transposeA: true }), h! * w!);
}

/** ||a - target||^2 / ||target||^2: each term starts near 1 whatever the layer's scale. */
function relativeSquaredError(a: tf.Tensor, target: tf.Tensor): tf.Tensor {
  return tf.divide(tf.reduceSum(tf.square(tf.subtract(a, target))), tf.add(tf.reduceSum(tf.square(target)), 1e-8));
}

/** The mean absolute difference of vertically and horizontally neighbouring pixels of [1, h, w, c]. */
export function meanTotalVariation(img: tf.Tensor): tf.Tensor {
  const [, h, w, c] = img.shape as number[];
  const down = tf.subtract(tf.slice(img, [0, 1, 0, 0], [-1, -1, -1, -1]), tf.slice(img, [0, 0, 0, 0], [-1, h! - 1, -1, -1]));
  const across = tf.subtract(tf.slice(img, [0, 0, 1, 0], [-1, -1, -1, -1]), tf.slice(img, [0, 0, 0, 0], [-1, -1, w! - 1, -1]));
  return tf.divide(tf.add(tf.reduceSum(tf.abs(down)), tf.reduceSum(tf.abs(across))), h! * w! * c!);
}

export async function transferStyle(opts: StyleOptions = {}): Promise<StyleResult> {
  const steps = opts.steps ?? 400;
  const size = opts.size ?? 96;
  const lr = opts.lr ?? 0.02;
  const seed = opts.seed ?? 0;
  const contentWeight = opts.contentWeight ?? 0.5;
  const styleWeight = opts.styleWeight ?? 1;
  const tvWeight = opts.tvWeight ?? 0.1;
  const logEvery = opts.logEvery ?? 50;
  const content = contentImage(size);
  const style = styleImage(size, seed);
  const random = seededRandom(seed + 3);
  // Texture synthesis starts from noise; style transfer from the content image.
  const start = contentWeight > 0 ? content : Float32Array.from(content, () => 0.4 + 0.2 * random());

  const g = new tf.Graph();
  g.seed = seed;
  const m = g.asDefault(() => {
    const filters = buildFilters(seed);
    const probe = tf.placeholder('float32', [1, size, size, 3], 'probe');
    const probeFeatures = features(probe, filters);
    const targets = {
      grams: STYLE_LAYERS.map((l) => gram(probeFeatures.get(l)!)),
      content: probeFeatures.get(CONTENT_LAYER)!,
    };
    const styleGrams = targets.grams.map((t, i) => tf.placeholder('float32', t.shape, `style_gram_${i}`));
    const contentTarget = tf.placeholder('float32', targets.content.shape, 'content_target');

    const image = new tf.Variable(new tf.NDArray(start, [1, size, size, 3]), { name: 'image' });
    const f = features(image.value(), filters);
    const styleLoss = tf.addN(STYLE_LAYERS.map((l, i) => relativeSquaredError(gram(f.get(l)!), styleGrams[i]!)));
    const contentLoss = relativeSquaredError(f.get(CONTENT_LAYER)!, contentTarget);
    const tvLoss = meanTotalVariation(image.value());
    const total = tf.addN([tf.multiply(styleWeight, styleLoss), tf.multiply(contentWeight, contentLoss), tf.multiply(tvWeight, tvLoss)]);
    const train = new tf.train.AdamOptimizer(lr).minimize(total);
    const step = tf.controlDependencies([train], () => tf.assign(image, tf.clipByValue(image.value(), 0, 1)));
    return { probe, targets, styleGrams, contentTarget, image, styleLoss, contentLoss, tvLoss, total, step, init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g });
  try {
    await sess.run(m.init);
    const asBatch = (img: Float32Array) => new tf.NDArray(img, [1, size, size, 3]);
    const styleGrams = (await sess.run(m.targets.grams, [[m.probe, asBatch(style)]])) as tf.NDArray[];
    const contentTarget = await sess.run(m.targets.content, [[m.probe, asBatch(content)]]);
    const feeds: [tf.Tensor, tf.NDArray][] = [...m.styleGrams.map((p, i): [tf.Tensor, tf.NDArray] => [p, styleGrams[i]!]), [m.contentTarget, contentTarget]];
    const log: StepStats[] = [];
    const t0 = performance.now();
    const measure = async (step: number) => {
      const [total, s, c, tv] = await sess.run([m.total, m.styleLoss, m.contentLoss, m.tvLoss], feeds);
      const stats: StepStats = {
        step,
        total: total!.scalar() as number,
        style: s!.scalar() as number,
        content: c!.scalar() as number,
        tv: tv!.scalar() as number,
        seconds: (performance.now() - t0) / 1000,
      };
      log.push(stats);
      opts.onLog?.(stats);
    };
    await measure(0);
    for (let i = 1; i <= steps; i++) {
      await sess.run(m.step, feeds);
      if (i % logEvery === 0 || i === steps) await measure(i);
    }
    const result = (await sess.run(m.image.value())).data as Float32Array;
    return { log, size, content, style, result: Float32Array.from(result) };
  } finally {
    sess.close();
  }
}

/** RGB images [size, size, 3] in [0, 1] side by side, each scaled up `scale` times, as one 8-bit PNG. */
export function sideBySidePng(images: readonly Float32Array[], size: number, scale = 2, gap = 4): Uint8Array {
  const side = size * scale;
  const width = images.length * (side + gap) + gap;
  const height = side + 2 * gap;
  const data = new Uint8Array(width * height * 3).fill(255);
  images.forEach((img, k) => {
    if (img.length !== size * size * 3) throw new Error(`sideBySidePng: image ${k} has ${img.length} values, expected ${size * size * 3}`);
    const ox = gap + k * (side + gap);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const src = (Math.floor(y / scale) * size + Math.floor(x / scale)) * 3;
        const dst = ((gap + y) * width + ox + x) * 3;
        for (let ch = 0; ch < 3; ch++) data[dst + ch] = Math.round(255 * Math.min(1, Math.max(0, img[src + ch]!)));
      }
    }
  });
  return encode({ width, height, data, channels: 3, depth: 8 });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string' },
      size: { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      'content-weight': { type: 'string' },
      'style-weight': { type: 'string' },
      'tv-weight': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const steps = numberOption(values.steps, 400, 'steps', 'positive integer');
  const size = numberOption(values.size, 96, 'size', 'positive integer');
  const out = values.out ?? join(dirname(fileURLToPath(import.meta.url)), 'result.png');
  const contentWeight = numberOption(values['content-weight'], 0.5, 'content-weight', 'non-negative number');
  console.log(`style transfer: ${size}x${size} image, ${steps} Adam steps, random-filter VGG-like network${contentWeight === 0 ? ' (texture synthesis)' : ''}`);
  const r = await transferStyle({
    steps,
    size,
    lr: numberOption(values.lr, 0.02, 'lr', 'non-negative number'),
    seed: numberOption(values.seed, 0, 'seed', 'non-negative integer'),
    contentWeight,
    styleWeight: numberOption(values['style-weight'], 1, 'style-weight', 'non-negative number'),
    tvWeight: numberOption(values['tv-weight'], 0.1, 'tv-weight', 'non-negative number'),
    onLog: (s) =>
      console.log(
        `step ${s.step}: total ${s.total.toFixed(4)}, style ${s.style.toFixed(4)}, content ${s.content.toFixed(4)}, tv ${s.tv.toFixed(4)}, ${s.seconds.toFixed(1)} s`,
      ),
  });
  const texture = contentWeight === 0;
  writeFileSync(out, sideBySidePng(texture ? [r.style, r.result] : [r.content, r.style, r.result], r.size));
  console.log(`wrote ${texture ? 'style | synthesized texture' : 'content | style | result'} to ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
