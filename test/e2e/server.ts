/** A tiny static file server for dist/ (correct MIME types, application/wasm included; 404 for missing files). */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { crossOriginIsolationHeaders, cspHeader } from '../../src/csp';
import { extname, join, normalize, resolve, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Faults a test can inject on a path: a flipped byte, a 404, or a download that stops after its first bytes. */
export type Fault = 'corrupt' | '404' | 'stall';

/** Where browsers POST the CSP violation reports of the policy this server sends (src/csp.ts). */
export const CSP_REPORT_PATH = '/__csp-report';

export interface StaticServer {
  url: string;
  /** Paths requested so far (to check that no photo is uploaded). */
  requests: { method: string; path: string; bytes: number }[];
  /** CSP violation reports received (bodies as sent). */
  cspReports: string[];
  /** Injects `fault` on `path` (relative to the served root: 'models/lors/weights-shard2of3.bin') until cleared. */
  fault(path: string, fault: Fault): void;
  /** Clears every fault; stalled responses still open are cut. */
  clearFaults(): void;
  /** Serves another folder from now on, at the same URL (a new deployment). */
  setRoot(root: string): void;
  close(): Promise<void>;
}

/** Bytes a stalled response sends before it stops. */
const STALL_AFTER_BYTES = 64 * 1024;

/**
 * Serves `root` at http://127.0.0.1:PORT/ — or, with `prefix` ('/some/sub/'), only under that path (everything else
 * 404), as a static host serving a copy of dist/ in a sub-folder does. `url` is the server's root either way. Every
 * response carries the app's CSP and, unless `isolated: false` (a host that sends no such headers), COOP/COEP.
 */
export async function serveStatic(
  root: string,
  options: { prefix?: string; isolated?: boolean } = {},
): Promise<StaticServer> {
  const isolation = options.isolated === false ? {} : crossOriginIsolationHeaders();
  let base = resolve(root);
  const prefix = options.prefix ?? '/';
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) {
    throw new Error(`serveStatic: prefix "${prefix}" must start and end with /`);
  }
  const requests: StaticServer['requests'] = [];
  const cspReports: string[] = [];
  const faults = new Map<string, Fault>();
  const stalled = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    let bytes = 0;
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      body.push(c);
    });
    req.on('end', () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      if (req.method === 'POST' && path === CSP_REPORT_PATH) {
        cspReports.push(Buffer.concat(body).toString('utf8'));
        res.writeHead(204).end();
        return;
      }
      requests.push({ method: req.method ?? 'GET', path, bytes });
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      if (!path.startsWith(prefix)) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      let file = normalize(join(base, path.slice(prefix.length - 1)));
      if (file !== base && !file.startsWith(base + sep)) {
        res.writeHead(403).end();
        return;
      }
      try {
        if (statSync(file).isDirectory()) file = join(file, 'index.html');
        const st = statSync(file);
        const fault = faults.get(path.slice(prefix.length));
        if (fault === '404') {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
          return;
        }
        res.writeHead(200, {
          'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
          'content-length': st.size,
          'cache-control': 'no-cache',
          'content-security-policy': cspHeader(CSP_REPORT_PATH),
          ...isolation,
        });
        if (req.method === 'HEAD') res.end();
        else if (fault === 'corrupt') {
          const data = readFileSync(file);
          data[data.length >> 1]! ^= 0xff;
          res.end(data);
        } else if (fault === 'stall') {
          res.write(readFileSync(file).subarray(0, Math.min(STALL_AFTER_BYTES, st.size - 1)));
          stalled.add(res);
          res.on('close', () => stalled.delete(res));
        } else createReadStream(file).pipe(res);
      } catch {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('server has no port');
  return {
    url: `http://127.0.0.1:${addr.port}/`,
    requests,
    cspReports,
    fault: (path, fault) => {
      faults.set(path.replace(/^\//, ''), fault);
    },
    setRoot: (root) => {
      base = resolve(root);
    },
    clearFaults: () => {
      faults.clear();
      for (const r of stalled) r.destroy();
      stalled.clear();
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
