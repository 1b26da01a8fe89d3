// What `weir board` knows of a log directory: its runs (TensorBoard's rule: every directory under
// LOGDIR holding event files is a run, named by its path relative to LOGDIR, '.' for LOGDIR itself)
// and the scalars, histograms, images and graphs their event files hold. Event files are read as
// they grow, only their new bytes each time, up to the last complete record: a record still being
// written is read on a later reload.
import { open, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { readFixed32 } from '../../io/bytes.js';
import { crc32c, unmaskCrc } from '../../io/crc32c.js';
import { decodeEvents } from '../../io/events.js';
import { decodeMessage, int64ToNumber, type EventProto, type GraphDef, type SummaryValue } from '../../io/proto.js';
import { tensorFromProto } from '../../io/tensor_proto.js';

/** [step, wall time in seconds, value] */
export type ScalarPoint = [number, number, number];

export interface HistogramEntry {
  step: number;
  wall: number;
  min: number;
  max: number;
  num: number;
  /** Upper edges of the buckets; the first bucket starts at `min`. */
  limits: number[];
  counts: number[];
}

export interface ImageEntry {
  step: number;
  wall: number;
  width: number;
  height: number;
  /** Identifies the image for /api/image. */
  id: number;
}

/** What changed in one series since a client's last poll: new items, or all of them (`reset`) when older ones were dropped. */
export interface SeriesUpdate<T> {
  reset: boolean;
  items: T[];
}

/** tag -> run -> update */
export type Updates<T> = Record<string, Record<string, SeriesUpdate<T>>>;

/** The answer to /api/data?since=GEN: everything added after GEN. */
export interface BoardUpdate {
  /** Pass as `since` on the next poll. */
  gen: number;
  logdir: string;
  runs: string[];
  scalars: Updates<ScalarPoint>;
  histograms: Updates<HistogramEntry>;
  images: Updates<ImageEntry>;
  /** run -> the generation of its latest graph (a new number when the graph changes). */
  graphs: Record<string, number>;
  /** Files that could not be read, records that were skipped. */
  errors: string[];
}

/** How many items a series keeps before it drops every other old one (TensorBoard keeps samples too). */
export const SERIES_CAPS = { scalars: 10_000, histograms: 500, images: 100 } as const;

/** Event files: TensorBoard's rule is a file name containing 'tfevents'. */
export const isEventFile = (name: string): boolean => name.includes('tfevents');

const MAX_DEPTH = 32;
/** Bytes read from an event file at a time (a larger record is read whole). */
const CHUNK = 16 << 20;
const HEADER = 12;
const FOOTER = 4;

/** An append-only list of items, each stamped with the generation that added it, thinned when it outgrows its cap. */
class Series<T> {
  readonly items: T[] = [];
  private readonly gens: number[] = [];
  /** The generation at which old items were last dropped. */
  private resetGen = 0;
  constructor(
    private readonly cap: number,
    private readonly onDrop?: (item: T) => void,
  ) {}

  push(item: T, gen: number): void {
    this.items.push(item);
    this.gens.push(gen);
    if (this.items.length <= this.cap) return;
    // Keep every second item and the newest: the series still spans all steps, at half the density.
    const n = this.items.length;
    const keep = (i: number): boolean => i % 2 === 1 || i === n - 1;
    for (let i = 0; i < n; i++) if (!keep(i)) this.onDrop?.(this.items[i]!);
    const items = this.items.filter((_, i) => keep(i));
    const gens = this.gens.filter((_, i) => keep(i));
    this.items.splice(0, n, ...items);
    this.gens.splice(0, n, ...gens);
    this.resetGen = gen;
  }

  since(gen: number): SeriesUpdate<T> | undefined {
    if (this.resetGen > gen) return { reset: true, items: this.items.slice() };
    let lo = 0;
    let hi = this.gens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.gens[mid]! > gen) hi = mid;
      else lo = mid + 1;
    }
    return lo < this.items.length ? { reset: false, items: this.items.slice(lo) } : undefined;
  }
}

/**
 * Where the complete records of `bytes` (TFRecord framing) end. `next` is the size of the first
 * incomplete record when one has started; `corrupt` says a length checksum failed at `end`, after
 * which the file cannot be followed.
 */
export function completeRecords(bytes: Uint8Array): { end: number; next?: number; corrupt?: boolean } {
  let p = 0;
  while (bytes.length - p >= HEADER) {
    if (unmaskCrc(readFixed32(bytes, p + 8)) !== crc32c(bytes, p, p + 8)) return { end: p, corrupt: true };
    const len = readFixed32(bytes, p + 4) * 2 ** 32 + readFixed32(bytes, p);
    const size = HEADER + len + FOOTER;
    if (size > bytes.length - p) return { end: p, next: size };
    p += size;
  }
  return { end: p, next: p < bytes.length ? HEADER : undefined };
}

/** One event file followed as it grows: each read returns the events of the bytes written since the last. */
export class EventFileTail {
  /** Bytes consumed so far: the end of the last complete record read. */
  offset = 0;
  /** Set when the file cannot be followed any further. */
  failed: string | undefined;

  constructor(readonly path: string) {}

  /** The complete records written since the last read; records that fail to decode are skipped and reported. */
  async read(onError: (message: string) => void): Promise<EventProto[]> {
    if (this.failed !== undefined) return [];
    const events: EventProto[] = [];
    let fh;
    try {
      fh = await open(this.path, 'r');
    } catch (e) {
      onError(`${this.path}: ${(e as Error).message}`);
      return [];
    }
    try {
      const { size } = await fh.stat();
      if (size < this.offset) {
        this.failed = `${this.path}: the file shrank from ${this.offset} to ${size} bytes; it is no longer followed`;
        onError(this.failed);
        return [];
      }
      let want = Math.min(CHUNK, size - this.offset);
      while (want > 0) {
        const buf = new Uint8Array(want);
        const { bytesRead } = await fh.read(buf, 0, want, this.offset);
        const bytes = buf.subarray(0, bytesRead);
        const { end, next, corrupt } = completeRecords(bytes);
        this.decode(bytes.subarray(0, end), events, onError);
        this.offset += end;
        if (corrupt) {
          this.failed = `${this.path}: corrupted record header at offset ${this.offset} (length checksum mismatch); the rest of the file is skipped`;
          onError(this.failed);
          break;
        }
        const left = size - this.offset;
        // A record larger than a chunk is read whole once the file holds all of it.
        want = end > 0 ? Math.min(CHUNK, left) : next !== undefined && next > bytesRead && next <= left ? next : 0;
      }
    } finally {
      await fh.close();
    }
    return events;
  }

  private decode(bytes: Uint8Array, out: EventProto[], onError: (message: string) => void): void {
    let p = 0;
    while (p < bytes.length) {
      const size = HEADER + readFixed32(bytes, p + 4) * 2 ** 32 + readFixed32(bytes, p) + FOOTER;
      try {
        out.push(...decodeEvents(bytes.subarray(p, p + size), this.path));
      } catch (e) {
        onError(`${this.path}: record at offset ${this.offset + p} skipped: ${(e as Error).message}`);
      }
      p += size;
    }
  }
}

/** The runs under `logdir`: directory (relative, '/'-separated, '.' for logdir) -> its event files, sorted. */
export async function discoverRuns(logdir: string): Promise<Map<string, string[]>> {
  const runs = new Map<string, string[]>();
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // removed while listing, or unreadable: not a run
    }
    const files = entries.filter((e) => e.isFile() && isEventFile(e.name)).map((e) => path.join(dir, e.name));
    if (files.length) runs.set(path.relative(logdir, dir).split(path.sep).join('/') || '.', files.sort());
    // Directories only, not links to them: a link cannot lead the board outside LOGDIR or round in a loop.
    if (depth < MAX_DEPTH) for (const e of entries) if (e.isDirectory()) await walk(path.join(dir, e.name), depth + 1);
  };
  await walk(logdir, 0);
  return runs;
}

interface Run {
  files: Map<string, EventFileTail>;
  scalars: Map<string, Series<ScalarPoint>>;
  histograms: Map<string, Series<HistogramEntry>>;
  images: Map<string, Series<ImageEntry>>;
  /** tag -> plugin name, from the tag's first SummaryMetadata. */
  plugins: Map<string, string>;
  graph: { graphDef: GraphDef; gen: number } | undefined;
}

/** The data of a log directory, read incrementally on each reload(). */
export class Logdir {
  private readonly runs = new Map<string, Run>();
  private readonly imageBytes = new Map<number, Uint8Array>();
  private readonly errors: string[] = [];
  private gen = 0;
  private reloading: Promise<void> | undefined;

  constructor(readonly logdir: string) {}

  /** Discovers new runs and files and reads what the files gained. Concurrent calls share one reload. */
  reload(): Promise<void> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(): Promise<void> {
    const onError = (m: string): void => {
      if (!this.errors.includes(m)) this.errors.push(m);
      if (this.errors.length > 100) this.errors.shift();
    };
    for (const [name, files] of await discoverRuns(this.logdir)) {
      let run = this.runs.get(name);
      if (!run) {
        run = { files: new Map(), scalars: new Map(), histograms: new Map(), images: new Map(), plugins: new Map(), graph: undefined };
        this.runs.set(name, run);
      }
      for (const f of files) {
        let tail = run.files.get(f);
        if (!tail) run.files.set(f, (tail = new EventFileTail(f)));
        for (const event of await tail.read(onError)) this.addEvent(run, event, tail.path, onError);
      }
    }
  }

  private addEvent(run: Run, e: EventProto, file: string, onError: (message: string) => void): void {
    const step = int64ToNumber(e.step) ?? Number.NaN;
    const wall = e.wall_time ?? 0;
    try {
      // Decoded messages answer every field (with its default): the oneof says which one was written.
      if (e.what === 'graph_def' && e.graph_def) run.graph = { graphDef: decodeMessage('GraphDef', e.graph_def, `${file}: graph_def`), gen: ++this.gen };
      if (e.what === 'meta_graph_def' && e.meta_graph_def) {
        const mg = decodeMessage('MetaGraphDef', e.meta_graph_def, `${file}: meta_graph_def`);
        // A GraphDef written with the graph itself wins over the one inside a MetaGraphDef.
        if (mg.graph_def && !run.graph) run.graph = { graphDef: mg.graph_def, gen: ++this.gen };
      }
    } catch (err) {
      onError((err as Error).message);
    }
    for (const v of e.summary?.value ?? []) {
      try {
        this.addValue(run, v, step, wall);
      } catch (err) {
        onError(`${file}: summary '${v.tag ?? ''}' at step ${step} skipped: ${(err as Error).message}`);
      }
    }
  }

  private addValue(run: Run, v: SummaryValue, step: number, wall: number): void {
    const tag = v.tag ?? '';
    const plugin = v.metadata?.plugin_data?.plugin_name;
    if (plugin && !run.plugins.has(tag)) run.plugins.set(tag, plugin);
    if (v.value === 'simple_value') {
      this.series(run.scalars, tag, SERIES_CAPS.scalars).push([step, wall, v.simple_value ?? 0], ++this.gen);
    } else if (v.value === 'histo' && v.histo) {
      const h = v.histo;
      this.series(run.histograms, tag, SERIES_CAPS.histograms).push(
        { step, wall, min: h.min ?? 0, max: h.max ?? 0, num: h.num ?? 0, limits: h.bucket_limit ?? [], counts: h.bucket ?? [] },
        ++this.gen,
      );
    } else if (v.value === 'image' && v.image?.encoded_image_string) {
      this.addImage(run, tag, step, wall, v.image.encoded_image_string, v.image.width ?? 0, v.image.height ?? 0);
    } else if (v.value === 'tensor' && v.tensor) {
      this.addTensor(run, tag, v, step, wall);
    }
  }

  /** TensorFlow 2's summaries: tensors whose plugin says what they hold. */
  private addTensor(run: Run, tag: string, v: SummaryValue, step: number, wall: number): void {
    const plugin = run.plugins.get(tag);
    if (plugin !== 'scalars' && plugin !== 'histograms' && plugin !== 'images') return;
    const t = tensorFromProto(v.tensor!, `summary '${tag}'`);
    if (plugin === 'scalars') {
      if (t.size !== 1 || t.dtype === 'string') return;
      this.series(run.scalars, tag, SERIES_CAPS.scalars).push([step, wall, Number((t.data as ArrayLike<number | bigint>)[0])], ++this.gen);
    } else if (plugin === 'histograms') {
      // [k, 3]: left edge, right edge, count of each bucket.
      if (t.shape.length !== 2 || t.shape[1] !== 3 || t.dtype === 'string') return;
      const d = Array.from(t.data as ArrayLike<number | bigint>, Number);
      const k = t.shape[0]!;
      const limits: number[] = [];
      const counts: number[] = [];
      for (let i = 0; i < k; i++) {
        limits.push(d[3 * i + 1]!);
        counts.push(d[3 * i + 2]!);
      }
      const min = k ? d[0]! : 0;
      const max = k ? d[3 * k - 2]! : 0;
      this.series(run.histograms, tag, SERIES_CAPS.histograms).push({ step, wall, min, max, num: counts.reduce((a, b) => a + b, 0), limits, counts }, ++this.gen);
    } else {
      // [2 + n] strings: width, height, then the encoded images.
      if (t.dtype !== 'string' || t.shape.length !== 1 || t.size < 3) return;
      const s = t.data as Uint8Array[];
      const dec = new TextDecoder();
      const width = Number(dec.decode(s[0]));
      const height = Number(dec.decode(s[1]));
      for (let i = 2; i < s.length; i++) this.addImage(run, s.length > 3 ? `${tag}/image/${i - 2}` : tag, step, wall, s[i]!, width, height);
    }
  }

  private addImage(run: Run, tag: string, step: number, wall: number, bytes: Uint8Array, width: number, height: number): void {
    const id = ++this.gen;
    this.imageBytes.set(id, bytes.slice());
    let s = run.images.get(tag);
    if (!s) run.images.set(tag, (s = new Series<ImageEntry>(SERIES_CAPS.images, (img) => this.imageBytes.delete(img.id))));
    s.push({ step, wall, width, height, id }, id);
  }

  private series<T>(map: Map<string, Series<T>>, tag: string, cap: number): Series<T> {
    let s = map.get(tag);
    if (!s) map.set(tag, (s = new Series<T>(cap)));
    return s;
  }

  /** Everything added after generation `since` (0: everything). */
  since(since: number): BoardUpdate {
    const out: BoardUpdate = { gen: this.gen, logdir: this.logdir, runs: [...this.runs.keys()].sort(), scalars: {}, histograms: {}, images: {}, graphs: {}, errors: this.errors.slice() };
    for (const [name, run] of this.runs) {
      collect(out.scalars, name, run.scalars, since);
      collect(out.histograms, name, run.histograms, since);
      collect(out.images, name, run.images, since);
      if (run.graph) out.graphs[name] = run.graph.gen;
    }
    return out;
  }

  /** The bytes of an image (its encoding as written: PNG from weir and TensorFlow). */
  image(id: number): Uint8Array | undefined {
    return this.imageBytes.get(id);
  }

  /** The run's latest graph, and the generation that read it. */
  graph(run: string): { graphDef: GraphDef; gen: number } | undefined {
    return this.runs.get(run)?.graph;
  }
}

function collect<T>(out: Updates<T>, run: string, series: Map<string, Series<T>>, since: number): void {
  for (const [tag, s] of series) {
    const u = s.since(since);
    if (u) (out[tag] ??= {})[run] = u;
  }
}
