// The page of `weir board` (runs in the browser; served as page.js). It polls /api/data for what
// the event files gained since its last poll and draws it by hand: scalar curves and histograms as
// SVG, images as <img>, the graph as the SVG that the server laid out with Graphviz.
import type { GraphResponse } from '../board.js';
import type { BoardUpdate, HistogramEntry, ImageEntry, ScalarPoint, Updates } from './logdir.js';

type XAxis = 'step' | 'relative' | 'wall';
/** tag -> run -> items */
type Store<T> = Map<string, Map<string, T[]>>;

const COLORS = ['#e8710a', '#1a73e8', '#12a4b8', '#d01884', '#7cb342', '#9334e6', '#f9ab00', '#425066', '#b31412', '#0d652d'];
const SVG_NS = 'http://www.w3.org/2000/svg';
/** Bins of a histogram's ridge: up to 30, fewer for few values (2 sqrt(n), as a rule of thumb). */
const histogramBins = (num: number): number => Math.min(30, Math.max(8, Math.ceil(2 * Math.sqrt(num))));
const MAX_RIDGES = 40;

/**
 * TensorBoard's smoothing: an exponential moving average debiased like Adam's moments (the first
 * points are not pulled toward zero). Non-finite values pass through; a constant series stays put.
 */
export function smooth(values: readonly number[], weight: number): number[] {
  const constant = values.every((v) => v === values[0]);
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (constant || !Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    n++;
    return weight === 1 ? last : last / (1 - weight ** n);
  });
}

const state = {
  gen: 0,
  polls: 0,
  runs: [] as string[],
  colors: new Map<string, string>(),
  hidden: new Set<string>(),
  scalars: new Map() as Store<ScalarPoint>,
  histograms: new Map() as Store<HistogramEntry>,
  images: new Map() as Store<ImageEntry>,
  graphs: {} as Record<string, number>,
  smoothing: 0.6,
  xAxis: 'step' as XAxis,
  /** `${tag}\n${run}` -> the image index shown; absent: the latest. */
  imageIndex: new Map<string, number>(),
  graphRun: '',
  graphExpanded: new Set<string>(),
  graphShown: '',
  graphsRendered: 0,
  errors: [] as string[],
};

/** What the page shows, for tests and the curious (window.weirBoard). */
const exposed = {
  get polls() {
    return state.polls;
  },
  get gen() {
    return state.gen;
  },
  get graphsRendered() {
    return state.graphsRendered;
  },
  get errors() {
    return state.errors;
  },
  smooth,
};
(window as unknown as { weirBoard: typeof exposed }).weirBoard = exposed;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const colorOf = (run: string): string => state.colors.get(run) ?? '#888';

function merge<T>(store: Store<T>, updates: Updates<T>): boolean {
  let changed = false;
  for (const [tag, runs] of Object.entries(updates)) {
    let byRun = store.get(tag);
    if (!byRun) store.set(tag, (byRun = new Map()));
    for (const [run, u] of Object.entries(runs)) {
      if (u.reset) byRun.set(run, u.items.slice());
      else byRun.set(run, (byRun.get(run) ?? []).concat(u.items));
      changed = true;
    }
  }
  return changed;
}

// ---------------------------------------------------------------- numbers and axes

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

function formatDuration(seconds: number): string {
  const a = Math.abs(seconds);
  if (a < 90) return `${Number(seconds.toPrecision(3))}s`;
  if (a < 5400) return `${Number((seconds / 60).toPrecision(3))}m`;
  return `${Number((seconds / 3600).toPrecision(3))}h`;
}

function formatX(v: number, axis: XAxis): string {
  if (axis === 'relative') return formatDuration(v);
  if (axis === 'wall') return new Date(v * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return Math.abs(v) >= 1e4 ? `${Number((v / 1000).toPrecision(3))}k` : formatNumber(v);
}

interface Frame {
  w: number;
  h: number;
  l: number;
  r: number;
  t: number;
  b: number;
}

/** A linear map from [d0, d1] to [r0, r1], widened when the domain is a single value. */
function scale(d0: number, d1: number, r0: number, r1: number): { f: (v: number) => number; d: [number, number] } {
  if (!(d1 > d0)) {
    const pad = Math.abs(d0) * 0.1 || 1;
    d0 -= pad;
    d1 += pad;
  }
  return { f: (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0), d: [d0, d1] };
}

function drawAxes(g: SVGElement, fr: Frame, x: ReturnType<typeof scale>, y: ReturnType<typeof scale> | undefined, fmtX: (v: number) => string): void {
  const bottom = fr.h - fr.b;
  if (y) {
    for (const v of niceTicks(y.d[0], y.d[1], 5)) {
      const py = y.f(v);
      g.append(svg('line', { class: 'grid-line', x1: fr.l, x2: fr.w - fr.r, y1: py, y2: py }));
      g.append(svg('text', { x: fr.l - 6, y: py + 3, 'text-anchor': 'end' }, formatNumber(v)));
    }
  }
  g.append(svg('line', { class: 'axis', x1: fr.l, x2: fr.w - fr.r, y1: bottom, y2: bottom }));
  for (const v of niceTicks(x.d[0], x.d[1], 5)) {
    const px = x.f(v);
    if (y) g.append(svg('line', { class: 'grid-line', x1: px, x2: px, y1: fr.t, y2: bottom }));
    g.append(svg('line', { class: 'axis', x1: px, x2: px, y1: bottom, y2: bottom + 4 }));
    g.append(svg('text', { x: px, y: bottom + 15, 'text-anchor': 'middle' }, fmtX(v)));
  }
}

/** [min, max] of the finite values ([0, 1] when there is none); a loop, as spreading 100,000 arguments can overflow the stack. */
function extent(values: Iterable<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

function pathOf(xs: readonly number[], ys: readonly number[]): { d: string; points: number } {
  let d = '';
  let points = 0;
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${x.toFixed(2)},${y.toFixed(2)}`;
    pen = true;
    points++;
  }
  return { d, points };
}

function legend(runs: readonly string[]): HTMLElement {
  const div = el('div', { class: 'legend' });
  for (const run of runs) {
    const s = el('span');
    const i = el('i');
    i.style.background = colorOf(run);
    s.append(i, document.createTextNode(run));
    div.append(s);
  }
  return div;
}

function cardTitle(tag: string, run?: string): HTMLElement {
  const h = el('h3', {}, tag);
  if (run !== undefined) h.append(' ', el('span', { class: 'run' }, `· ${run}`));
  return h;
}

// ---------------------------------------------------------------- scalars

function scalarCard(tag: string, byRun: Map<string, ScalarPoint[]>): HTMLElement {
  const card = el('div', { class: 'card scalar', 'data-tag': tag });
  card.append(cardTitle(tag));
  const runs = state.runs.filter((r) => !state.hidden.has(r) && (byRun.get(r)?.length ?? 0) > 0);
  const fr: Frame = { w: 440, h: 240, l: 52, r: 14, t: 8, b: 24 };
  const series = runs.map((run) => {
    const pts = byRun.get(run)!;
    const start = extent(pts.map((p) => p[1]))[0];
    const xs = pts.map((p) => (state.xAxis === 'step' ? p[0] : state.xAxis === 'wall' ? p[1] : p[1] - start));
    const raw = pts.map((p) => p[2]);
    return { run, pts, xs, raw, smoothed: smooth(raw, state.smoothing) };
  });
  const [x0, x1] = extent(series.flatMap((s) => s.xs));
  const [y0, y1] = extent(series.flatMap((s) => s.raw));
  const x = scale(x0, x1, fr.l, fr.w - fr.r);
  const y = scale(y0 - (y1 - y0) * 0.05, y1 + (y1 - y0) * 0.05, fr.h - fr.b, fr.t);
  const root = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${fr.w} ${fr.h}`,
    'data-x-domain': x.d.join(' '),
    'data-y-domain': y.d.join(' '),
    'data-x-range': `${fr.l} ${fr.w - fr.r}`,
    'data-y-range': `${fr.h - fr.b} ${fr.t}`,
  });
  drawAxes(root, fr, x, y, (v) => formatX(v, state.xAxis));
  for (const s of series) {
    const px = s.xs.map(x.f);
    for (const [cls, ys] of [
      ['raw', s.raw],
      ['smoothed', s.smoothed],
    ] as const) {
      const p = pathOf(px, ys.map(y.f));
      root.append(svg('path', { class: cls, d: p.d, stroke: colorOf(s.run), 'data-run': s.run, 'data-points': p.points }));
    }
  }
  const cursor = svg('line', { class: 'cursor', y1: fr.t, y2: fr.h - fr.b, visibility: 'hidden' });
  const dots = svg('g');
  root.append(cursor, dots);
  const tip = el('div', { class: 'tooltip' });
  tip.style.display = 'none';
  root.addEventListener('mousemove', (ev) => {
    const box = root.getBoundingClientRect();
    const sx = ((ev.clientX - box.left) / box.width) * fr.w;
    const at = x.d[0] + ((sx - fr.l) / (fr.w - fr.l - fr.r)) * (x.d[1] - x.d[0]);
    dots.replaceChildren();
    const rows: HTMLTableRowElement[] = [];
    for (const s of series) {
      let best = 0;
      for (let i = 1; i < s.xs.length; i++) if (Math.abs(s.xs[i]! - at) < Math.abs(s.xs[best]! - at)) best = i;
      const p = s.pts[best]!;
      dots.append(svg('circle', { cx: x.f(s.xs[best]!), cy: y.f(s.smoothed[best]!), r: 3.5, fill: colorOf(s.run), stroke: '#fff', 'stroke-width': 1.5 }));
      const tr = el('tr');
      const sw = el('i', { class: 'swatch' });
      sw.style.background = colorOf(s.run);
      sw.style.display = 'inline-block';
      const first = el('td');
      first.append(sw);
      tr.append(first, el('td', {}, s.run), el('td', {}, formatNumber(s.smoothed[best]!)), el('td', {}, `(${formatNumber(p[2])})`), el('td', {}, `step ${p[0]}`));
      rows.push(tr);
    }
    cursor.setAttribute('x1', String(sx));
    cursor.setAttribute('x2', String(sx));
    cursor.setAttribute('visibility', 'visible');
    const table = el('table');
    table.append(...rows);
    tip.replaceChildren(table);
    tip.style.display = 'block';
    tip.style.left = `${Math.min(ev.clientX - card.getBoundingClientRect().left + 12, card.clientWidth - tip.offsetWidth - 4)}px`;
    tip.style.top = `${ev.clientY - card.getBoundingClientRect().top + 12}px`;
  });
  root.addEventListener('mouseleave', () => {
    tip.style.display = 'none';
    cursor.setAttribute('visibility', 'hidden');
    dots.replaceChildren();
  });
  card.append(runs.length ? root : el('p', { class: 'empty' }, 'no visible run'), legend(runs), tip);
  return card;
}

function renderScalars(): void {
  const cards = [...state.scalars.keys()].sort().map((tag) => scalarCard(tag, state.scalars.get(tag)!));
  $('scalar-cards').replaceChildren(...(cards.length ? cards : [el('p', { class: 'empty' }, 'No scalars yet.')]));
}

// ---------------------------------------------------------------- images

function renderImages(): void {
  const cards: HTMLElement[] = [];
  for (const tag of [...state.images.keys()].sort()) {
    for (const run of state.runs) {
      const entries = state.images.get(tag)!.get(run);
      if (!entries?.length || state.hidden.has(run)) continue;
      const key = `${tag}\n${run}`;
      const card = el('div', { class: 'card image', 'data-tag': tag, 'data-run': run });
      card.append(cardTitle(tag, run));
      const frame = el('div', { class: 'image-frame' });
      const img = el('img', { class: 'board-image', alt: `${tag} (${run})` });
      frame.append(img);
      const label = el('span');
      const show = (i: number): void => {
        const e = entries[i]!;
        const zoom = Math.max(1, Math.floor(220 / Math.max(e.width, e.height, 1)));
        img.src = `api/image?id=${e.id}`;
        if (e.width) img.width = e.width * zoom;
        img.setAttribute('data-step', String(e.step));
        label.textContent = `step ${e.step}`;
      };
      const stored = state.imageIndex.get(key);
      const index = stored === undefined ? entries.length - 1 : Math.min(stored, entries.length - 1);
      show(index);
      card.append(frame);
      const row = el('div', { class: 'slider' });
      const slider = el('input', { type: 'range', min: '0', max: String(entries.length - 1), value: String(index) });
      slider.disabled = entries.length < 2;
      slider.addEventListener('input', () => {
        const i = Number(slider.value);
        // At the right end the slider follows new images.
        if (i === entries.length - 1) state.imageIndex.delete(key);
        else state.imageIndex.set(key, i);
        show(i);
      });
      row.append(slider, label);
      card.append(row);
      cards.push(card);
    }
  }
  $('image-cards').replaceChildren(...(cards.length ? cards : [el('p', { class: 'empty' }, 'No images yet.')]));
}

// ---------------------------------------------------------------- histograms

/** A histogram's buckets spread over `bins` equal bins of [lo, hi] (each bucket's count split by overlap). */
export function rebin(e: HistogramEntry, lo: number, hi: number, bins: number): number[] {
  const out = new Array<number>(bins).fill(0);
  const width = (hi - lo) / bins;
  const binOf = (v: number): number => Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)));
  for (let i = 0; i < e.counts.length; i++) {
    const c = e.counts[i]!;
    if (!(c > 0)) continue;
    const left = Math.max(i === 0 ? e.min : e.limits[i - 1]!, e.min);
    const right = Math.min(e.limits[i]!, e.max);
    if (!(right > left)) {
      out[binOf(Math.min(Math.max(left, e.min), e.max))]! += c;
      continue;
    }
    for (let b = binOf(left); b <= binOf(right); b++) {
      const overlap = Math.min(right, lo + (b + 1) * width) - Math.max(left, lo + b * width);
      if (overlap > 0) out[b]! += (c * overlap) / (right - left);
    }
  }
  return out;
}

function histogramCard(tag: string, run: string, all: readonly HistogramEntry[]): HTMLElement {
  const card = el('div', { class: 'card histogram', 'data-tag': tag, 'data-run': run });
  card.append(cardTitle(tag, run));
  const sorted = [...all].sort((a, b) => a.step - b.step);
  const entries = sorted.length <= MAX_RIDGES ? sorted : Array.from({ length: MAX_RIDGES }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (MAX_RIDGES - 1))]!);
  const fr: Frame = { w: 440, h: 250, l: 14, r: 58, t: 8, b: 24 };
  let [lo, hi] = extent(entries.flatMap((e) => [e.min, e.max]));
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const x = scale(lo, hi, fr.l, fr.w - fr.r);
  const bins = histogramBins(extent(entries.map((e) => e.num))[1]);
  const binned = entries.map((e) => rebin(e, lo, hi, bins));
  const peak = Math.max(1e-12, extent(binned.flat())[1]);
  const plotH = fr.h - fr.t - fr.b;
  const ridge = Math.min(70, plotH * 0.4);
  const n = entries.length;
  const root = svg('svg', { class: 'chart', viewBox: `0 0 ${fr.w} ${fr.h}`, 'data-ridges': n });
  drawAxes(root, fr, x, undefined, formatNumber);
  const color = colorOf(run);
  const width = (hi - lo) / bins;
  const labelEvery = Math.max(1, Math.ceil(n / 6));
  entries.forEach((e, i) => {
    const base = n === 1 ? fr.h - fr.b : fr.t + ridge + ((plotH - ridge) * i) / (n - 1);
    let d = `M${x.f(lo).toFixed(2)},${base.toFixed(2)}`;
    binned[i]!.forEach((c, b) => (d += `L${x.f(lo + (b + 0.5) * width).toFixed(2)},${(base - (c / peak) * ridge).toFixed(2)}`));
    d += `L${x.f(hi).toFixed(2)},${base.toFixed(2)}Z`;
    const age = n === 1 ? 1 : i / (n - 1);
    root.append(svg('path', { class: 'ridge', d, fill: '#ffffff', 'fill-opacity': 0.85, stroke: color, 'stroke-opacity': (0.25 + 0.75 * age).toFixed(2), 'stroke-width': 1.1, 'data-step': e.step }));
    if (i % labelEvery === 0 || i === n - 1) root.append(svg('text', { x: fr.w - fr.r + 6, y: base + 3 }, `step ${e.step}`));
  });
  card.append(root);
  return card;
}

function renderHistograms(): void {
  const cards: HTMLElement[] = [];
  for (const tag of [...state.histograms.keys()].sort()) {
    for (const run of state.runs) {
      const entries = state.histograms.get(tag)!.get(run);
      if (entries?.length && !state.hidden.has(run)) cards.push(histogramCard(tag, run, entries));
    }
  }
  $('histogram-cards').replaceChildren(...(cards.length ? cards : [el('p', { class: 'empty' }, 'No histograms yet.')]));
}

// ---------------------------------------------------------------- graph

async function renderGraph(): Promise<void> {
  const runs = state.runs.filter((r) => state.graphs[r] !== undefined);
  const select = $<HTMLSelectElement>('graph-run');
  if (select.options.length !== runs.length || runs.some((r, i) => select.options[i]!.value !== r)) {
    select.replaceChildren(...runs.map((r) => el('option', { value: r }, r)));
  }
  const view = $('graph-view');
  if (!runs.length) {
    view.replaceChildren(el('p', { class: 'empty' }, 'No graph in the event files.'));
    return;
  }
  if (!runs.includes(state.graphRun)) state.graphRun = runs[0]!;
  select.value = state.graphRun;
  const expand = [...state.graphExpanded].sort();
  const key = JSON.stringify([state.graphRun, state.graphs[state.graphRun], expand]);
  if (key === state.graphShown) return;
  state.graphShown = key;
  const q = new URLSearchParams({ run: state.graphRun });
  for (const s of expand) q.append('expand', s);
  const res = await fetch(`api/graph?${q}`);
  if (key !== state.graphShown) return;
  if (!res.ok) {
    view.replaceChildren(el('p', { class: 'empty' }, await res.text()));
    return;
  }
  const g = (await res.json()) as GraphResponse;
  view.innerHTML = g.svg;
  for (const [id, scope] of Object.entries(g.groups)) {
    document.getElementById(id)?.addEventListener('click', () => {
      state.graphExpanded.add(scope);
      void renderGraph();
    });
  }
  for (const [id, scope] of Object.entries(g.clusters)) {
    // The frame's label and border collapse it; clicks on the nodes inside do their own thing.
    document.getElementById(id)?.addEventListener('click', (ev) => {
      if ((ev.target as Element).closest('g.node')) return;
      for (const s of [...state.graphExpanded]) if (s === scope || s.startsWith(`${scope}/`)) state.graphExpanded.delete(s);
      void renderGraph();
    });
  }
  state.graphsRendered++;
}

// ---------------------------------------------------------------- sidebar and polling

function renderRuns(): void {
  const items = state.runs.map((run) => {
    const li = el('li');
    const label = el('label');
    const box = el('input', { type: 'checkbox' });
    box.checked = !state.hidden.has(run);
    box.addEventListener('change', () => {
      if (box.checked) state.hidden.delete(run);
      else state.hidden.add(run);
      renderScalars();
      renderImages();
      renderHistograms();
    });
    const sw = el('span', { class: 'swatch' });
    sw.style.background = colorOf(run);
    label.append(box, sw, document.createTextNode(run));
    li.append(label);
    return li;
  });
  $('runs').replaceChildren(...(items.length ? items : [el('li', { class: 'muted' }, 'No event files yet.')]));
}

function apply(u: BoardUpdate): void {
  const newRuns = u.runs.join('\n') !== state.runs.join('\n');
  state.runs = u.runs;
  for (const run of u.runs) if (!state.colors.has(run)) state.colors.set(run, COLORS[state.colors.size % COLORS.length]!);
  $('logdir').textContent = u.logdir;
  if (newRuns) renderRuns();
  const scalars = merge(state.scalars, u.scalars);
  const images = merge(state.images, u.images);
  const histograms = merge(state.histograms, u.histograms);
  if (scalars || newRuns || state.polls === 0) renderScalars();
  if (images || newRuns || state.polls === 0) renderImages();
  if (histograms || newRuns || state.polls === 0) renderHistograms();
  state.graphs = u.graphs;
  state.gen = u.gen;
  state.errors = u.errors;
  $('errors').replaceChildren(...u.errors.map((e) => el('li', {}, e)));
}

const pollMs = Math.max(100, Number(new URLSearchParams(location.search).get('poll')) || 5000);

async function poll(): Promise<void> {
  try {
    const res = await fetch(`api/data?since=${state.gen}`);
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    apply((await res.json()) as BoardUpdate);
    await renderGraph();
    state.polls++;
    $('status').textContent = `Updated ${new Date().toLocaleTimeString()} · every ${pollMs / 1000} s`;
  } catch (e) {
    $('status').textContent = `Cannot reach the board: ${(e as Error).message}`;
  } finally {
    setTimeout(() => void poll(), pollMs);
  }
}

function init(): void {
  const slider = $<HTMLInputElement>('smoothing');
  const shown = $<HTMLOutputElement>('smoothing-value');
  slider.addEventListener('input', () => {
    state.smoothing = Number(slider.value);
    shown.value = state.smoothing.toFixed(2);
    renderScalars();
  });
  state.smoothing = Number(slider.value);
  for (const radio of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="x-axis"]'))) {
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      state.xAxis = radio.value as XAxis;
      renderScalars();
    });
  }
  $<HTMLSelectElement>('graph-run').addEventListener('change', (ev) => {
    state.graphRun = (ev.target as HTMLSelectElement).value;
    state.graphExpanded.clear();
    void renderGraph();
  });
  $('graph-collapse').addEventListener('click', () => {
    state.graphExpanded.clear();
    void renderGraph();
  });
  void poll();
}

init();
