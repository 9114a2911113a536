/**
 * Fetching model files with byte progress, cached with the Cache API for the next visit. Where `caches` is
 * missing or fails (insecure context, private mode, quota), it silently falls back to plain fetch.
 *
 * model.json files are fetched network-first (so new weights are picked up), with the cached copy as the offline
 * fallback; shards are cache-first, keyed by their SHA-256 when the manifest lists one (a retrained model with
 * the same shard names never reads a stale shard).
 */
import type { FileReader } from '../model/types';

export const CACHE_NAME = 'lors-studio-models-v1';

export class HttpError extends Error {
  constructor(readonly url: string, readonly status: number) {
    super(`${url}: HTTP ${status}`);
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

async function readBody(res: Response, onProgress?: (loaded: number) => void): Promise<ArrayBuffer> {
  if (!res.body || !onProgress) return res.arrayBuffer();
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress(loaded);
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  return out.buffer;
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

async function toCache(key: string, buf: ArrayBuffer): Promise<void> {
  const cache = await openCache();
  if (!cache) return;
  try {
    await cache.put(key, new Response(buf.slice(0), { headers: { 'content-type': 'application/octet-stream' } }));
  } catch {
    /* quota or unsupported: not cached */
  }
}

async function fetchBytes(url: string, onProgress?: (loaded: number) => void): Promise<ArrayBuffer> {
  const res = await fetch(url, { cache: 'no-cache' });
  if (!res.ok) throw new HttpError(url, res.status);
  const type = res.headers.get('content-type') ?? '';
  // A dev server answering a missing file with its index.html is "missing" too.
  if (/\.json$/.test(new URL(url).pathname) && type.includes('text/html')) throw new HttpError(url, 404);
  return readBody(res, onProgress);
}

export interface CachedReader {
  read: FileReader;
  /** Bytes returned so far (all files of this folder). */
  bytesRead(): number;
}

/** A FileReader for the folder at `folderUrl` (ending in '/'). */
export function cachedReader(folderUrl: string): CachedReader {
  const shaOf = new Map<string, string>();
  let total = 0;
  const read: FileReader = async (path, onProgress) => {
    const url = new URL(path, folderUrl).href;
    let buf: ArrayBuffer;
    if (path.endsWith('.json')) {
      try {
        buf = await fetchBytes(url, onProgress);
        void toCache(url, buf);
      } catch (e) {
        if (e instanceof HttpError) throw e; // a real 404 is not hidden by an old cached copy
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
      const key = sha ? `${url}?sha256=${sha}` : url;
      const cached = await fromCache(key);
      if (cached) {
        onProgress?.(cached.byteLength);
        buf = cached;
      } else {
        buf = await fetchBytes(url, onProgress);
        void toCache(key, buf);
      }
    }
    total += buf.byteLength;
    return buf;
  };
  return { read, bytesRead: () => total };
}

/** True when `url` answers (used to see whether trained weights exist). */
export async function exists(url: string): Promise<boolean> {
  try {
    await fetchBytes(url);
    return true;
  } catch (e) {
    if (e instanceof HttpError) return false;
    return (await fromCache(url)) !== null; // offline: a cached copy counts
  }
}
