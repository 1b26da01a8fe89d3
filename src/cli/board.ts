// `weir board LOGDIR`: TensorBoard's core views without Python. A local web server (node:http)
// reads the event files under LOGDIR as they grow (./board/logdir.ts) and serves one page
// (./board/index.html, style.css, page.ts compiled to page.js) that polls it for what is new:
//   GET /api/data?since=GEN     scalars, histograms and image entries added after GEN, as JSON
//   GET /api/image?id=N         an image's bytes, as written (PNG)
//   GET /api/graph?run=R&expand=SCOPE...   the run's graph as SVG (Graphviz in WebAssembly), with its
//                               name scopes collapsed except those expanded, and which SVG ids
//                               stand for which scope
// Nothing else is served: the page's three files are named here, never looked up from a URL.
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { DEFAULT_HOST, DEFAULT_PORT } from './board/defaults.js';
import { graphView } from './board/graph.js';
import { Logdir } from './board/logdir.js';

/** A graph with more nodes than this on screen is not laid out (Graphviz would take minutes): collapse scopes. */
export const MAX_GRAPH_NODES = 1500;

const ASSETS = fileURLToPath(new URL('./board/', import.meta.url));
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
};
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export interface BoardOptions {
  logdir: string;
  /** 0 picks a free port (default 6006). */
  port?: number;
  /** Default 'localhost': only this machine can see the board. */
  host?: string;
}

export interface Board {
  /** The page's address. */
  url: string;
  port: number;
  data: Logdir;
  close(): Promise<void>;
}

/** The JSON of /api/graph. */
export interface GraphResponse {
  svg: string;
  groups: Record<string, string>;
  clusters: Record<string, string>;
  visible: number;
}

/** Starts the board's server on LOGDIR (which must be a directory). */
export async function startBoard(opts: BoardOptions): Promise<Board> {
  const logdir = path.resolve(opts.logdir);
  let isDir = false;
  try {
    isDir = (await stat(logdir)).isDirectory();
  } catch {
    throw new NotFoundError(`${opts.logdir}: no such directory`);
  }
  if (!isDir) throw new InvalidArgumentError(`${opts.logdir} is not a directory: give the directory the FileWriter wrote into (each run a subdirectory)`);
  const host = opts.host ?? DEFAULT_HOST;
  const port = opts.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`port must be an integer in [0, 65535], got ${port}`);

  const data = new Logdir(logdir);
  await data.reload();
  const handler = new Handler(data, LOOPBACK.has(host));
  const server = createServer((req, res) => {
    handler.handle(req, res).catch((e: unknown) => send(res, 500, 'text/plain; charset=utf-8', `internal error: ${(e as Error).message}`));
  });
  await listen(server, port, host);
  const actual = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${actual}/`,
    port: actual,
    data,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new InvalidArgumentError(`port ${port} on ${host} is in use: pass another with --port (0 picks a free one)`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') reject(new InvalidArgumentError(`cannot listen on host '${host}': ${e.message}`));
      else reject(e);
    });
    server.listen(port, host, () => resolve());
  });
}

class Handler {
  private page: Promise<string> | undefined;
  private readonly graphs = new Map<string, GraphResponse>();

  constructor(
    private readonly data: Logdir,
    private readonly loopbackOnly: boolean,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A page on another site must not reach a board bound to this machine through a name that
    // resolves here (DNS rebinding): only this machine's names are answered.
    const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (this.loopbackOnly && !LOOPBACK.has(hostHeader)) return send(res, 403, 'text/plain; charset=utf-8', `host '${hostHeader}' is not served`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'only GET');
    const url = new URL(req.url ?? '/', 'http://board');
    const q = url.searchParams;
    switch (url.pathname) {
      case '/api/data': {
        const since = Number(q.get('since') ?? '0');
        if (!Number.isSafeInteger(since) || since < 0) return send(res, 400, 'text/plain; charset=utf-8', `since must be a generation number, got '${q.get('since')}'`);
        await this.data.reload();
        return send(res, 200, 'application/json', JSON.stringify(this.data.since(since)));
      }
      case '/api/image': {
        const bytes = this.data.image(Number(q.get('id')));
        if (!bytes) return send(res, 404, 'text/plain; charset=utf-8', 'no such image (older images are dropped as more arrive)');
        res.setHeader('Cache-Control', 'max-age=31536000, immutable');
        return send(res, 200, imageType(bytes), bytes);
      }
      case '/api/graph':
        return this.graph(res, q.get('run') ?? '', q.getAll('expand'));
      case '/favicon.ico':
        return send(res, 204, 'text/plain', '');
    }
    const asset = STATIC[url.pathname];
    if (!asset) return send(res, 404, 'text/plain; charset=utf-8', `not found: ${url.pathname}`);
    const body = asset.file === 'page.js' ? await this.pageScript() : await readFile(path.join(ASSETS, asset.file));
    return send(res, 200, asset.type, body);
  }

  private async graph(res: ServerResponse, run: string, expand: string[]): Promise<void> {
    const graph = this.data.graph(run);
    if (!graph) return send(res, 404, 'text/plain; charset=utf-8', `run '${run}' has no graph`);
    const expanded = new Set(expand);
    const key = JSON.stringify([run, graph.gen, [...expanded].sort()]);
    let out = this.graphs.get(key);
    if (!out) {
      const view = graphView(graph.graphDef, expanded);
      if (view.visible > MAX_GRAPH_NODES) {
        return send(res, 422, 'text/plain; charset=utf-8', `${view.visible} nodes are too many to lay out: collapse some name scopes`);
      }
      // Graphviz and the op registry that ./dot.js loads are needed only once a graph is shown.
      const { dotToSvg } = await import('./dot.js');
      const svg = await dotToSvg(view.dot);
      out = { svg: svg.slice(Math.max(0, svg.indexOf('<svg'))), groups: view.groups, clusters: view.clusters, visible: view.visible };
      if (this.graphs.size >= 32) this.graphs.delete(this.graphs.keys().next().value!);
      this.graphs.set(key, out);
    }
    return send(res, 200, 'application/json', JSON.stringify(out));
  }

  /** page.js: compiled by tsc in the package; from a checkout, page.ts compiled here by TypeScript (a dev dependency). */
  private pageScript(): Promise<string> {
    this.page ??= (async () => {
      try {
        return await readFile(path.join(ASSETS, 'page.js'), 'utf8');
      } catch {
        const source = await readFile(path.join(ASSETS, 'page.ts'), 'utf8');
        const ts = (await import('typescript')).default;
        return ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 } }).outputText;
      }
    })();
    this.page.catch(() => {
      this.page = undefined;
    });
    return this.page;
  }
}

function imageType(b: Uint8Array): string {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
  return 'application/octet-stream';
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'");
  if (!res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', 'no-store');
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** `weir board LOGDIR`: serves until interrupted. */
export async function runBoard(opts: BoardOptions, log: (line: string) => void): Promise<void> {
  const board = await startBoard(opts);
  const runs = board.data.since(0).runs;
  log(`weir board: ${path.resolve(opts.logdir)} (${runs.length} run${runs.length === 1 ? '' : 's'} so far) at ${board.url}  (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await board.close();
}
