/**
 * Fetching model files with byte progress and stall detection, cached with the Cache API for the next visit. Where
 * `caches` is missing or fails (insecure context, private mode, quota), it silently falls back to plain fetch.
 *
 * model.json files are fetched network-first (so new weights are picked up), with the cached copy as the offline
 * fallback; shards are cache-first, keyed by their SHA-256 when the folder's model.json lists one (a retrained model
 * with the same shard names never reads a stale shard). A listed shard is verified before it is cached and again
 * when read from the cache: a copy that fails its hash is never kept (a bad cached copy is deleted and re-fetched;
 * when that download fails too, the error says the cached copy was bad).
 */
import { concatBytes } from '../model/bytes';
import { sha256HexAsync } from '../model/weights/sha256';
import { FileNotFoundError, type FileReader } from '../model/types';
import { CACHE_NAME, shardCacheKey } from './modelCache';

export { CACHE_NAME };

/** A download that gets no bytes for this long (headers or body) is abandoned as stalled. */
export const STALL_TIMEOUT_MS = 20_000;

export type DownloadFailureKind = 'missing' | 'http' | 'stalled' | 'network' | 'truncated' | 'corrupt';

/** A model file that could not be downloaded intact; `message` is the reason alone, `url` names the file. */
export class DownloadError extends Error {
  constructor(
    readonly url: string,
    readonly kind: DownloadFailureKind,
    reason: string,
  ) {
    super(reason);
    this.name = 'DownloadError';
  }
}

export class HttpError extends DownloadError {
  constructor(
    url: string,
    readonly status: number,
  ) {
    super(url, 'http', `HTTP ${status}`);
  }
}

/** HTTP 404: the FileReader contract's FileNotFoundError (src/model/types.ts), with the URL. */
export class MissingFileError extends FileNotFoundError {
  readonly kind = 'missing';
  constructor(readonly url: string) {
    super(url);
    this.message = 'HTTP 404 (file not found)';
  }
}

let cachePromise: Promise<Cache | null> | null = null;
function openCache(): Promise<Cache | null> {
  if (!cachePromise) {
    cachePromise = (async () => {
      try {
        if (typeof caches === 'undefined') return null;
        return await caches.open(CACHE_NAME);
      } catch {
        return null;
      }
    })();
  }
  return cachePromise;
}

async function fromCache(key: string): Promise<ArrayBuffer | null> {
  const cache = await openCache();
  if (!cache) return null;
  try {
    const hit = await cache.match(key);
    return hit ? await hit.arrayBuffer() : null;
  } catch {
    return null;
  }
}

async function dropFromCache(key: string): Promise<void> {
  try {
    await (await openCache())?.delete(key);
  } catch {
    /* nothing to drop */
  }
}

async function toCache(key: string, buf: ArrayBuffer): Promise<void> {
  const cache = await openCache();
  if (!cache) return;
  try {
    await cache.put(key, new Response(buf.slice(0), { headers: { 'content-type': 'application/octet-stream' } }));
  } catch {
    /* quota or unsupported: not cached */
  }
}

/**
 * GETs `url`, abandoning it when no bytes (headers included) arrive for `stallMs`; checks the length against
 * content-length (an interrupted download is refused, not returned short).
 */
async function fetchBytes(url: string, stallMs: number, onProgress?: (loaded: number) => void): Promise<ArrayBuffer> {
  const abort = new AbortController();
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      abort.abort();
    }, stallMs);
  };
  const stallError = () =>
    new DownloadError(url, 'stalled', `no data for ${Math.round(stallMs / 1000)} s (download stalled)`);
  arm();
  try {
    let res: Response;
    try {
      res = await fetch(url, { cache: 'no-cache', signal: abort.signal });
    } catch (e) {
      if (stalled) throw stallError();
      throw new DownloadError(url, 'network', `network error (${e instanceof Error ? e.message : String(e)})`);
    }
    if (res.status === 404) throw new MissingFileError(url);
    if (!res.ok) throw new HttpError(url, res.status);
    const type = res.headers.get('content-type') ?? '';
    // A dev server answering a missing file with its index.html is "missing" too.
    if (/\.json$/.test(new URL(url).pathname) && type.includes('text/html')) throw new MissingFileError(url);
    const declared = res.headers.get('content-encoding') ? null : Number(res.headers.get('content-length') ?? NaN);
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          if (stalled) throw stallError();
          throw new DownloadError(
            url,
            'network',
            `download interrupted after ${loaded} bytes (${e instanceof Error ? e.message : String(e)})`,
          );
        }
        if (r.done) break;
        arm();
        chunks.push(r.value);
        loaded += r.value.byteLength;
        onProgress?.(loaded);
      }
    }
    if (declared !== null && Number.isFinite(declared) && loaded !== declared) {
      throw new DownloadError(url, 'truncated', `${loaded} of ${declared} bytes arrived (interrupted download)`);
    }
    return concatBytes(chunks).buffer;
  } finally {
    clearTimeout(timer);
  }
}

async function hashMatches(buf: ArrayBuffer, sha: string): Promise<boolean> {
  return (await sha256HexAsync(buf)) === sha;
}

export interface CachedReaderOptions {
  /** Stall limit per file (default STALL_TIMEOUT_MS). */
  stallMs?: number;
}

export interface CachedReader {
  read: FileReader;
  /** Bytes returned so far (all files of this folder). */
  bytesRead(): number;
}

/** A FileReader for the folder at `folderUrl` (ending in '/'). */
export function cachedReader(folderUrl: string, options: CachedReaderOptions = {}): CachedReader {
  const stallMs = options.stallMs ?? STALL_TIMEOUT_MS;
  const shaOf = new Map<string, string>();
  let total = 0;
  const read: FileReader = async (path, onProgress) => {
    const url = new URL(path, folderUrl).href;
    let buf: ArrayBuffer;
    if (path.endsWith('.json')) {
      try {
        buf = await fetchBytes(url, stallMs, onProgress);
        void toCache(url, buf);
      } catch (e) {
        // A real 404 or HTTP error is not hidden by an old cached copy; offline, the cached copy serves.
        if (e instanceof MissingFileError || e instanceof HttpError) throw e;
        const cached = await fromCache(url);
        if (!cached) throw e;
        buf = cached;
      }
      try {
        const j = JSON.parse(new TextDecoder().decode(buf)) as { sha256?: Record<string, string> };
        for (const [p, h] of Object.entries(j.sha256 ?? {})) shaOf.set(new URL(p, folderUrl).href, h);
      } catch {
        /* not ours to validate: the loader reports bad JSON */
      }
    } else {
      const sha = shaOf.get(url);
      const key = sha ? shardCacheKey(url, sha) : url;
      let cached = await fromCache(key);
      let cachedBad = false;
      if (cached && sha && !(await hashMatches(cached, sha))) {
        await dropFromCache(key);
        cached = null;
        cachedBad = true;
      }
      if (cached) {
        onProgress?.(cached.byteLength);
        buf = cached;
      } else {
        try {
          buf = await fetchBytes(url, stallMs, onProgress);
        } catch (e) {
          // Offline, say why the cache did not serve: its copy was corrupted (and is gone), not merely missing.
          if (!cachedBad || !(e instanceof DownloadError)) throw e;
          throw new DownloadError(url, e.kind, `cached copy failed its SHA-256 check (deleted); ${e.message}`);
        }
        if (sha && !(await hashMatches(buf, sha))) {
          throw new DownloadError(url, 'corrupt', 'SHA-256 mismatch with model.json (corrupted download); not cached');
        }
        // Awaited: a retry after another file failed finds this one in the cache.
        await toCache(key, buf);
      }
    }
    total += buf.byteLength;
    return buf;
  };
  return { read, bytesRead: () => total };
}
