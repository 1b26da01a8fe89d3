/// <reference types="@webgpu/types" />
// The browser demo: trains the MNIST MLP of model.ts on digits fetched from serve.ts and shows its
// progress, a loss curve and some test predictions. Its state is kept on window.weirDemo (the
// end-to-end test reads it). Query parameters: backend=cpu|webgpu (default webgpu where the browser
// has navigator.gpu), epochs, batch, lr, hidden, train, test, seed.
import { IMAGE_SIZE, NUM_CLASSES, type Dataset } from '../mnist-common/data.js';
import { createTrainer, type BackendName } from './model.js';

export interface DemoState {
  status: 'loading' | 'training' | 'done' | 'error';
  done: boolean;
  backend: BackendName;
  /** The WebGPU adapter, as the browser describes it ('' on the CPU backend). */
  adapter: string;
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
  /** The loss of every training step so far. */
  losses: number[];
  /** The test accuracy after each epoch. */
  accuracies: number[];
  /** The latest test accuracy (null before the first epoch ends). */
  accuracy: number | null;
  seconds: number;
  error: string | null;
}

declare global {
  interface Window {
    weirDemo: DemoState;
  }
}

const params = new URLSearchParams(location.search);

function numberParam(name: string, fallback: number, isValid: (n: number) => boolean): number {
  const v = params.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (v === '' || !isValid(n)) throw new Error(`Bad query parameter ${name}=${v}`);
  return n;
}
const positiveInt = (n: number): boolean => Number.isInteger(n) && n > 0;

function backendParam(): BackendName {
  const b = params.get('backend') ?? ('gpu' in navigator ? 'webgpu' : 'cpu');
  if (b !== 'cpu' && b !== 'webgpu') throw new Error(`Bad query parameter backend=${b} (cpu or webgpu)`);
  return b;
}

const state: DemoState = {
  status: 'loading',
  done: false,
  backend: 'cpu',
  adapter: '',
  step: 0,
  totalSteps: 0,
  epoch: 0,
  epochs: 0,
  losses: [],
  accuracies: [],
  accuracy: null,
  seconds: 0,
  error: null,
};
window.weirDemo = state;

const $ = (id: string): HTMLElement => document.getElementById(id)!;
const chart = $('chart') as HTMLCanvasElement;
const digitsCanvas = $('digits') as HTMLCanvasElement;

// ---- data ----

async function fetchDigits(trainCount: number, testCount: number, seed: number): Promise<{ train: Dataset; test: Dataset }> {
  const res = await fetch(`/data/mnist.bin?train=${trainCount}&test=${testCount}&seed=${seed}`);
  if (!res.ok) throw new Error(`Fetching the digits failed: ${res.status} ${await res.text()}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const view = new DataView(bytes.buffer);
  const nTrain = view.getUint32(0, true);
  const nTest = view.getUint32(4, true);
  const n = nTrain + nTest;
  if (bytes.length !== 8 + n * (IMAGE_SIZE + 1)) throw new Error(`The digits have ${bytes.length} bytes, expected ${8 + n * (IMAGE_SIZE + 1)}`);
  const pixels = bytes.subarray(8, 8 + n * IMAGE_SIZE);
  const labels = bytes.subarray(8 + n * IMAGE_SIZE);
  const slice = (from: number, count: number): Dataset => ({
    images: Float32Array.from(pixels.subarray(from * IMAGE_SIZE, (from + count) * IMAGE_SIZE), (v) => v / 255),
    labels: Int32Array.from(labels.subarray(from, from + count)),
    count,
  });
  return { train: slice(0, nTrain), test: slice(nTrain, nTest) };
}

async function describeAdapter(): Promise<string> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return 'no adapter';
  // GPUAdapter.info is recent: older @webgpu/types (pulled in by TensorFlow.js) lack it.
  const info = (adapter as { info?: Partial<Record<'vendor' | 'architecture' | 'device' | 'description', string>> }).info ?? {};
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
}

// ---- drawing ----

/** Sizes a canvas's backing store to its CSS size times the device pixel ratio; returns the CSS size. */
function fitCanvas(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; w: number; h: number } {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

/** A round tick spacing (1, 2 or 5 times a power of ten) giving at most about `ticks` ticks up to `max`. */
function tickStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const INK = '#1d2433';
const MUTED = '#667085';
const GRID = '#eaecf0';
const LOSS_RAW = '#c7c4f7';
const LOSS = '#4f46e5';
const ACCURACY = '#12805c';
const FONT = '12px system-ui, "DejaVu Sans", sans-serif';

function drawChart(): void {
  const { ctx, w, h } = fitCanvas(chart);
  const left = 46;
  const right = 52;
  const bottom = 30;
  const pw = w - left - right;
  ctx.font = FONT;
  const legend: [string, string][] = [
    ['loss per step', LOSS_RAW],
    ['smoothed loss', LOSS],
    ['test accuracy', ACCURACY],
  ];
  const itemWidth = (label: string): number => ctx.measureText(label).width + 34;
  const legendRows: [string, string][][] = [[]];
  let rowWidth = 0;
  for (const item of legend) {
    if (rowWidth + itemWidth(item[0]) > pw && rowWidth > 0) {
      legendRows.push([]);
      rowWidth = 0;
    }
    legendRows[legendRows.length - 1]!.push(item);
    rowWidth += itemWidth(item[0]);
  }
  const top = 6 + 18 * legendRows.length;
  const ph = h - top - bottom;
  const total = Math.max(state.totalSteps, 1);
  const losses = state.losses;
  const yStep = tickStep(Math.max(0.1, ...losses.slice(0, 50)), 5);
  const yMax = Math.ceil(Math.max(0.1, ...losses.slice(0, 50)) / yStep) * yStep;
  const x = (step: number): number => left + (step / total) * pw;
  const y = (loss: number): number => top + ph - (Math.min(loss, yMax) / yMax) * ph;
  const yAcc = (a: number): number => top + ph - a * ph;

  ctx.lineWidth = 1;
  ctx.textBaseline = 'middle';
  const digits = Math.max(0, -Math.floor(Math.log10(yStep) + 1e-9));
  for (let i = 0; i * yStep <= yMax + 1e-9; i++) {
    const v = i * yStep;
    ctx.strokeStyle = GRID;
    ctx.beginPath();
    ctx.moveTo(left, Math.round(y(v)) + 0.5);
    ctx.lineTo(left + pw, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.fillStyle = MUTED;
    ctx.textAlign = 'right';
    ctx.fillText(v.toFixed(digits), left - 8, y(v));
  }
  ctx.textAlign = 'left';
  ctx.fillStyle = ACCURACY;
  for (let a = 0; a <= 100; a += 25) ctx.fillText(`${a}%`, left + pw + 8, yAcc(a / 100));
  ctx.fillStyle = MUTED;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const tick = tickStep(total, 8);
  for (let s = 0; s <= total; s += tick) ctx.fillText(String(s), x(s), top + ph + 8);
  ctx.strokeStyle = INK;
  ctx.beginPath();
  ctx.moveTo(left + 0.5, top);
  ctx.lineTo(left + 0.5, top + ph + 0.5);
  ctx.lineTo(left + pw, top + ph + 0.5);
  ctx.stroke();

  const line = (values: number[], at: (i: number) => number, color: string, width: number): void => {
    if (values.length === 0) return;
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    values.forEach((v, i) => (i === 0 ? ctx.moveTo(at(i), y(v)) : ctx.lineTo(at(i), y(v))));
    ctx.stroke();
  };
  line(losses, (i) => x(i + 1), LOSS_RAW, 1);
  // An exponential moving average, bias-corrected so it starts at the first losses.
  const smooth: number[] = [];
  let avg = 0;
  losses.forEach((l, i) => {
    avg = 0.9 * avg + 0.1 * l;
    smooth.push(avg / (1 - 0.9 ** (i + 1)));
  });
  line(smooth, (i) => x(i + 1), LOSS, 2.5);

  const perEpoch = state.totalSteps / Math.max(state.epochs, 1);
  ctx.fillStyle = ACCURACY;
  ctx.strokeStyle = ACCURACY;
  ctx.lineWidth = 1.5;
  ctx.setLineDash([4, 3]);
  ctx.beginPath();
  state.accuracies.forEach((a, i) => (i === 0 ? ctx.moveTo(x((i + 1) * perEpoch), yAcc(a)) : ctx.lineTo(x((i + 1) * perEpoch), yAcc(a))));
  ctx.stroke();
  ctx.setLineDash([]);
  for (const [i, a] of state.accuracies.entries()) {
    ctx.beginPath();
    ctx.arc(x((i + 1) * perEpoch), yAcc(a), 3.5, 0, 2 * Math.PI);
    ctx.fill();
  }

  // The legend above the plot, right-aligned, wrapped onto as many rows as the width needs.
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  legendRows.forEach((row, r) => {
    let lx = left + pw - row.reduce((sum, [label]) => sum + itemWidth(label), 0) + 12;
    for (const [label, color] of row) {
      ctx.fillStyle = color;
      ctx.fillRect(lx, 8 + 18 * r - 2, 16, 4);
      ctx.fillStyle = INK;
      ctx.fillText(label, lx + 22, 8 + 18 * r);
      lx += itemWidth(label);
    }
  });
}

const PREVIEW = 14;
/** What drawDigits last drew, for redrawing on resize. */
let shownDigits: [Dataset, Int32Array | null] | undefined;

function drawDigits(test: Dataset, predictions: Int32Array | null): void {
  shownDigits = [test, predictions];
  const n = Math.min(PREVIEW * 2, test.count);
  const cols = Math.max(1, Math.min(PREVIEW, n, Math.floor(digitsCanvas.clientWidth / 46)));
  const rows = Math.ceil(n / cols);
  const cell = Math.min(Math.floor(digitsCanvas.clientWidth / cols), 64);
  const size = cell - 10;
  const rowHeight = size + 26;
  digitsCanvas.style.height = `${rows * rowHeight}px`;
  const { ctx, w } = fitCanvas(digitsCanvas);
  const offsetX = Math.floor((w - cols * cell) / 2);
  const img = ctx.createImageData(28, 28);
  const scratch = document.createElement('canvas');
  scratch.width = scratch.height = 28;
  const sctx = scratch.getContext('2d')!;
  ctx.font = `600 13px system-ui, "DejaVu Sans", sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let i = 0; i < n; i++) {
    const cx = offsetX + (i % cols) * cell + 5;
    const cy = Math.floor(i / cols) * rowHeight + 4;
    for (let p = 0; p < IMAGE_SIZE; p++) {
      const v = 255 - Math.round(test.images[i * IMAGE_SIZE + p]! * 255);
      img.data.set([v, v, v, 255], p * 4);
    }
    sctx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(scratch, cx, cy, size, size);
    ctx.strokeStyle = GRID;
    ctx.strokeRect(cx + 0.5, cy + 0.5, size - 1, size - 1);
    const label = test.labels[i]!;
    if (predictions) {
      const p = predictions[i]!;
      ctx.fillStyle = p === label ? ACCURACY : '#c4320a';
      ctx.fillText(p === label ? `${p}` : `${p} (${label})`, cx + size / 2, cy + size + 4);
    } else {
      ctx.fillStyle = MUTED;
      ctx.fillText('?', cx + size / 2, cy + size + 4);
    }
  }
}

// ---- text ----

const fmtAccuracy = (a: number | null): string => (a === null ? '–' : `${(100 * a).toFixed(1)}%`);

function showStats(): void {
  $('step').textContent = state.totalSteps ? `${state.step} / ${state.totalSteps}` : '–';
  $('epoch').textContent = state.epochs ? `${state.epoch} / ${state.epochs}` : '–';
  const last = state.losses.slice(-10);
  $('loss').textContent = last.length ? (last.reduce((a, b) => a + b, 0) / last.length).toFixed(3) : '–';
  $('accuracy').textContent = fmtAccuracy(state.accuracy);
  $('time').textContent = `${state.seconds.toFixed(1)} s`;
  ($('bar') as HTMLElement).style.width = `${state.totalSteps ? (100 * state.step) / state.totalSteps : 0}%`;
}

function setStatus(text: string, done = false): void {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('done', done);
}

function fail(e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  state.error = `${err.name}: ${err.message}`;
  state.status = 'error';
  const box = $('error');
  box.style.display = 'block';
  box.textContent = `${state.error}\n\n${err.stack ?? ''}`;
  setStatus('Failed.');
}

/** Lets the browser handle input and paint. */
const yieldToBrowser = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

// ---- the run ----

async function run(): Promise<void> {
  const backend = backendParam();
  const epochs = numberParam('epochs', 5, positiveInt);
  const batchSize = numberParam('batch', 50, positiveInt);
  const learningRate = numberParam('lr', 2e-3, (n) => n > 0 && Number.isFinite(n));
  const hidden = numberParam('hidden', 128, positiveInt);
  const trainCount = numberParam('train', 2000, positiveInt);
  const testCount = numberParam('test', 500, positiveInt);
  const seed = numberParam('seed', 0, (n) => Number.isInteger(n) && n >= 0);
  state.backend = backend;
  state.epochs = epochs;

  const badge = $('backend');
  badge.textContent = backend === 'webgpu' ? 'WebGPU backend' : 'CPU backend';
  badge.classList.toggle('cpu', backend === 'cpu');
  $('model').textContent =
    `A 784-${hidden}-${NUM_CLASSES} ReLU network trained with Adam (learning rate ${learningRate}, batches of ${batchSize}) ` +
    `on ${trainCount} MNIST digits, tested on ${testCount}; compiled and run by weir on its ${backend === 'webgpu' ? 'WebGPU' : 'CPU'} backend.`;
  if (backend === 'webgpu') {
    state.adapter = await describeAdapter();
    $('adapter').textContent = `WebGPU adapter: ${state.adapter}`;
  } else {
    $('adapter').textContent = 'CPU backend, single-threaded in the browser.';
  }

  setStatus('Loading digits…');
  const { train, test } = await fetchDigits(trainCount, testCount, seed);
  const preview: Dataset = {
    images: test.images.subarray(0, PREVIEW * 2 * IMAGE_SIZE),
    labels: test.labels.subarray(0, PREVIEW * 2),
    count: Math.min(PREVIEW * 2, test.count),
  };
  drawDigits(preview, null);

  setStatus('Compiling…');
  const start = performance.now();
  const trainer = await createTrainer(train, { backend, hidden, learningRate, batchSize, seed: seed + 1 });
  try {
    state.totalSteps = epochs * trainer.stepsPerEpoch;
    state.status = 'training';
    let lastPaint = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      state.epoch = epoch;
      setStatus(`Training epoch ${epoch} of ${epochs}…`);
      for (let s = 0; s < trainer.stepsPerEpoch; s++) {
        const loss = await trainer.step();
        if (!Number.isFinite(loss)) throw new Error(`The loss is ${loss} at step ${state.step + 1}`);
        state.losses.push(loss);
        state.step++;
        state.seconds = (performance.now() - start) / 1000;
        if (performance.now() - lastPaint > 50) {
          showStats();
          drawChart();
          await yieldToBrowser();
          lastPaint = performance.now();
        }
      }
      state.accuracy = await trainer.accuracy(test);
      state.accuracies.push(state.accuracy);
      drawDigits(preview, await trainer.predict(preview));
      state.seconds = (performance.now() - start) / 1000;
      showStats();
      drawChart();
      await yieldToBrowser();
    }
  } finally {
    trainer.close();
  }
  const steps = state.step / state.seconds;
  setStatus(`Done: ${state.step} steps in ${state.seconds.toFixed(1)} s (${steps.toFixed(1)} steps/s), test accuracy ${fmtAccuracy(state.accuracy)}.`, true);
  state.status = 'done';
  state.done = true;
}

window.addEventListener('resize', () => {
  drawChart();
  if (shownDigits) drawDigits(...shownDigits);
});
window.addEventListener('unhandledrejection', (e) => {
  if (state.error === null) fail(e.reason);
});
drawChart();
run().catch(fail);
