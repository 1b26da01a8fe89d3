/**
 * Event files for TensorBoard: `events.out.tfevents.{timestamp}.{hostname}` holding Event protos
 * in TFRecord framing (uint64 length, masked CRC32C of the length bytes, data, masked CRC32C of the
 * data). tf.summary.FileWriter writes them; readEventFile reads them back.
 */
import { DataLossError, FailedPreconditionError, InvalidArgumentError } from '../core/errors.js';
import { Graph } from '../graph.js';
import { NDArray } from '../core/ndarray.js';
import { ByteWriter, concatBytes, readFixed32 } from './bytes.js';
import { crc32c, maskCrc, unmaskCrc } from './crc32c.js';
import { getFileSystem, joinPath, type FileSystem } from './fs.js';
import { graphToGraphDef } from './graph_def.js';
import { bigIntToInt64, decodeMessage, encodeMessage, type EventProto, type GraphDef, type SummaryProto } from './proto.js';

export const EVENT_FILE_VERSION = 'brain.Event:2';

/** One TFRecord: the framing around `data`. */
export function encodeRecord(data: Uint8Array): Uint8Array {
  const w = new ByteWriter(data.length + 16);
  w.fixed64(BigInt(data.length));
  const header = w.finish().slice(0, 8);
  w.fixed32(maskCrc(crc32c(header)));
  w.bytes(data);
  w.fixed32(maskCrc(crc32c(data)));
  return w.finish().slice();
}

/** The records of a TFRecord file, every checksum verified. Truncation or corruption is a DataLossError. */
export function decodeRecords(bytes: Uint8Array, what = 'TFRecord file'): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < bytes.length) {
    if (bytes.length - p < 12) throw new DataLossError(`${what}: truncated record header at offset ${p}`);
    const lenLo = readFixed32(bytes, p);
    const lenHi = readFixed32(bytes, p + 4);
    if (unmaskCrc(readFixed32(bytes, p + 8)) !== crc32c(bytes, p, p + 8)) {
      throw new DataLossError(`${what}: corrupted record at offset ${p} (length checksum mismatch)`);
    }
    const len = lenHi * 2 ** 32 + lenLo;
    const start = p + 12;
    if (len > bytes.length - start - 4) throw new DataLossError(`${what}: truncated record at offset ${p} (claims ${len} bytes)`);
    const end = start + len;
    if (unmaskCrc(readFixed32(bytes, end)) !== crc32c(bytes, start, end)) {
      throw new DataLossError(`${what}: corrupted record at offset ${p} (data checksum mismatch)`);
    }
    out.push(bytes.subarray(start, end));
    p = end + 4;
  }
  return out;
}

/** The Events of an event file's bytes. */
export function decodeEvents(bytes: Uint8Array, what = 'event file'): EventProto[] {
  return decodeRecords(bytes, what).map((r, i) => decodeMessage('Event', r, `${what} record ${i}`));
}

export async function readEventFile(path: string, fs?: FileSystem): Promise<EventProto[]> {
  const f = fs ?? (await getFileSystem());
  return decodeEvents(await f.readFile(path), path);
}

export interface FileWriterOptions {
  /** Events queued before they are written (default 10). */
  maxQueue?: number;
  /** Seconds between automatic flushes (default 120). */
  flushSecs?: number;
  /** Appended to the event file name. */
  filenameSuffix?: string;
  fileSystem?: FileSystem;
}

/**
 * tf.summary.FileWriter: writes Events to a new event file in `logdir`. Writes happen in the
 * background; flush() and close() wait for them (and report their errors).
 */
export class FileWriter {
  readonly logdir: string;
  private readonly maxQueue: number;
  private queue: Uint8Array[] = [];
  private chain: Promise<void>;
  private pathPromise: Promise<string>;
  private error: unknown;
  private closed = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly seenTags = new Set<string>();
  private readonly fs: Promise<FileSystem>;

  constructor(logdir: string, graph?: Graph | GraphDef, opts: FileWriterOptions = {}) {
    this.logdir = logdir;
    this.maxQueue = opts.maxQueue ?? 10;
    const fsPromise = opts.fileSystem ? Promise.resolve(opts.fileSystem) : getFileSystem();
    const wallTime = Date.now() / 1000;
    this.pathPromise = (async () => {
      const fs = await fsPromise;
      await fs.mkdirs(logdir);
      const name = `events.out.tfevents.${String(Math.floor(wallTime)).padStart(10, '0')}.${await hostname()}${opts.filenameSuffix ?? ''}`;
      const path = joinPath(logdir, name);
      const first: EventProto = { wall_time: wallTime, file_version: EVENT_FILE_VERSION };
      await fs.writeFile(path, encodeRecord(encodeMessage('Event', first)));
      return path;
    })();
    this.chain = this.pathPromise.then(
      () => undefined,
      (e) => {
        this.error = e;
      },
    );
    this.fs = fsPromise;
    if (graph) this.addGraph(graph);
    const secs = opts.flushSecs ?? 120;
    if (secs > 0) {
      this.timer = setInterval(() => void this.flush().catch(() => undefined), secs * 1000);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  /** Path of the event file (once it has been created). */
  getFilename(): Promise<string> {
    return this.pathPromise;
  }
  getLogdir(): string {
    return this.logdir;
  }

  /** Queues an Event (wall_time defaults to now). */
  addEvent(event: EventProto): void {
    if (this.closed) throw new FailedPreconditionError('FileWriter is closed');
    const e: EventProto = { ...event, wall_time: event.wall_time ?? Date.now() / 1000 };
    this.queue.push(encodeRecord(encodeMessage('Event', e)));
    if (this.queue.length >= this.maxQueue) void this.flush().catch(() => undefined);
  }

  /**
   * Adds a Summary: serialized bytes, a string NDArray of them (what running a summary op
   * returns), or a Summary message. As in TensorFlow, a tag's metadata is written only the first
   * time the tag appears.
   */
  addSummary(summary: Uint8Array | NDArray | SummaryProto, globalStep?: number | bigint): void {
    let parsed: SummaryProto;
    if (summary instanceof NDArray) {
      if (summary.dtype !== 'string' || summary.size !== 1) {
        throw new InvalidArgumentError(`addSummary: expected a string scalar holding a serialized Summary, got ${summary.dtype} [${summary.shape.join(',')}]`);
      }
      parsed = decodeMessage('Summary', (summary.data as Uint8Array[])[0]!);
    } else if (summary instanceof Uint8Array) {
      parsed = decodeMessage('Summary', summary);
    } else {
      parsed = summary;
    }
    const values = (parsed.value ?? []).map((v) => {
      const tag = v.tag ?? '';
      if (v.metadata && this.seenTags.has(tag)) {
        const copy = { ...v };
        delete copy.metadata;
        return copy;
      }
      if (v.metadata) this.seenTags.add(tag);
      return v;
    });
    this.addEvent({ summary: { value: values }, ...stepField(globalStep) });
  }

  /** Adds the graph (its GraphDef) for TensorBoard's graph view. */
  addGraph(graph: Graph | GraphDef, globalStep?: number | bigint): void {
    const gd = graph instanceof Graph ? graphToGraphDef(graph) : graph;
    this.addEvent({ graph_def: encodeMessage('GraphDef', gd), ...stepField(globalStep) });
  }

  /** Writes every queued event to the file. */
  flush(): Promise<void> {
    const records = this.queue;
    this.queue = [];
    this.chain = this.chain.then(async () => {
      if (this.error !== undefined || records.length === 0) return;
      try {
        const fs = await this.fs;
        await fs.appendFile(await this.pathPromise, concatBytes(records));
      } catch (e) {
        this.error = e;
      }
    });
    return this.chain.then(() => {
      if (this.error !== undefined) throw this.error;
    });
  }

  /** Flushes and closes the writer. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.closed) return this.flush();
    const done = this.flush();
    this.closed = true;
    return done;
  }
}

function stepField(step: number | bigint | undefined): { step?: EventProto['step'] } {
  if (step === undefined) return {};
  if (typeof step === 'number' && !Number.isInteger(step)) throw new InvalidArgumentError(`global step must be an integer, got ${step}`);
  return { step: bigIntToInt64(BigInt(step)) };
}

async function hostname(): Promise<string> {
  try {
    const os = await import('node:os');
    return os.hostname();
  } catch {
    return 'localhost';
  }
}

/**
 * One FileWriter per directory, shared by the hooks writing there (TF's FileWriterCache): two writers
 * created in the same second would get the same event file name.
 */
export class FileWriterCache {
  private static readonly writers = new Map<string, FileWriter>();
  static get(logdir: string): FileWriter {
    let w = FileWriterCache.writers.get(logdir);
    if (!w) FileWriterCache.writers.set(logdir, (w = new FileWriter(logdir)));
    return w;
  }
  /** Closes (flushing) and forgets every cached writer. */
  static async clear(): Promise<void> {
    const all = [...FileWriterCache.writers.values()];
    FileWriterCache.writers.clear();
    await Promise.all(all.map((w) => w.close()));
  }
}
