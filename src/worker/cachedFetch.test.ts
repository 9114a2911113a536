/**
 * cachedReader against a fake network (fetch) and a fake Cache API: a shard that fails its SHA-256 is refused and never
 * cached, a bad cached copy is dropped and fetched again, stalls and short bodies are refused, a 404 is the FileReader
 * contract's FileNotFoundError.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileNotFoundError } from '../model/types';
import { sha256Hex } from '../model/weights/sha256';
import { cachedReader, CACHE_NAME, DownloadError } from './cachedFetch';

const BASE = 'http://test.invalid/models/x/';
const GOOD = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
const manifest = (sha: string) => new TextEncoder().encode(JSON.stringify({ sha256: { 'w.bin': sha } }));

/** What the fake server answers per file name: bytes, a status, or a body that stops after its first chunk. */
let routes: Record<string, { bytes?: Uint8Array; status?: number; stall?: boolean; declared?: number }> = {};
let fetched: string[] = [];
const cache = new Map<string, ArrayBuffer>();

function fakeFetch(url: string, init?: { signal?: AbortSignal }): Promise<Response> {
  const name = url.slice(BASE.length);
  fetched.push(name);
  const r = routes[name];
  if (!r || r.status) return Promise.resolve(new Response('nope', { status: r?.status ?? 404 }));
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(r.bytes!.slice(0, r.stall ? 2 : undefined));
      if (r.stall) init?.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
      else c.close();
    },
  });
  return Promise.resolve(new Response(body, { headers: { 'content-length': String(r.declared ?? r.bytes!.length) } }));
}

beforeAll(() => {
  vi.stubGlobal('fetch', fakeFetch);
  vi.stubGlobal('caches', {
    open: async (name: string) => {
      expect(name).toBe(CACHE_NAME);
      return {
        match: async (k: string) => (cache.has(k) ? new Response(cache.get(k)!.slice(0)) : undefined),
        put: async (k: string, res: Response) => {
          cache.set(k, await res.arrayBuffer());
        },
        delete: async (k: string) => cache.delete(k),
      };
    },
  });
});
afterAll(() => vi.unstubAllGlobals());
beforeEach(() => {
  routes = {};
  fetched = [];
  cache.clear();
});

describe('cachedReader', () => {
  it('verifies a listed shard before caching it; the next read comes from the cache', async () => {
    routes = { 'model.json': { bytes: manifest(sha256Hex(GOOD)) }, 'w.bin': { bytes: GOOD } };
    const r = cachedReader(BASE).read;
    await r('model.json');
    expect(new Uint8Array(await r('w.bin'))).toEqual(GOOD);
    expect(await r('w.bin')).toBeDefined();
    expect(fetched.filter((f) => f === 'w.bin')).toHaveLength(1);
    expect([...cache.keys()].some((k) => k.includes('w.bin?sha256='))).toBe(true);
  });

  it('refuses a shard that fails its hash and never caches it', async () => {
    const bad = GOOD.slice();
    bad[3] = 0xff - bad[3]!;
    routes = { 'model.json': { bytes: manifest(sha256Hex(GOOD)) }, 'w.bin': { bytes: bad } };
    const r = cachedReader(BASE).read;
    await r('model.json');
    await expect(r('w.bin')).rejects.toMatchObject({ kind: 'corrupt', url: `${BASE}w.bin` });
    expect([...cache.keys()].some((k) => k.includes('w.bin'))).toBe(false);
  });

  it('drops a cached copy that fails its hash and fetches the file again', async () => {
    const sha = sha256Hex(GOOD);
    cache.set(`${BASE}w.bin?sha256=${sha}`, new Uint8Array([9, 9, 9]).buffer);
    routes = { 'model.json': { bytes: manifest(sha) }, 'w.bin': { bytes: GOOD } };
    const r = cachedReader(BASE).read;
    await r('model.json');
    expect(new Uint8Array(await r('w.bin'))).toEqual(GOOD);
    expect(fetched).toContain('w.bin');
    expect(new Uint8Array(cache.get(`${BASE}w.bin?sha256=${sha}`)!)).toEqual(GOOD);
  });

  it('says the cached copy was bad when fetching it again fails too (offline)', async () => {
    const sha = sha256Hex(GOOD);
    cache.set(`${BASE}w.bin?sha256=${sha}`, new Uint8Array([9, 9, 9]).buffer);
    routes = { 'model.json': { bytes: manifest(sha) }, 'w.bin': { status: 503 } };
    const r = cachedReader(BASE).read;
    await r('model.json');
    const e = await r('w.bin').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DownloadError);
    expect((e as DownloadError).message).toBe('cached copy failed its SHA-256 check (deleted); HTTP 503');
    expect(cache.has(`${BASE}w.bin?sha256=${sha}`)).toBe(false);
  });

  it('abandons a download that gets no data for stallMs', async () => {
    routes = { 'w.bin': { bytes: GOOD, stall: true } };
    const t0 = Date.now();
    const e = await cachedReader(BASE, { stallMs: 50 })
      .read('w.bin')
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DownloadError);
    expect((e as DownloadError).kind).toBe('stalled');
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('refuses a body shorter than its content-length; a 404 is a FileNotFoundError', async () => {
    routes = { 'w.bin': { bytes: GOOD, declared: 20 } };
    await expect(cachedReader(BASE).read('w.bin')).rejects.toMatchObject({ kind: 'truncated' });
    const e = await cachedReader(BASE)
      .read('gone.bin')
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileNotFoundError);
    expect((e as Error).message).toMatch(/404/);
  });
});
