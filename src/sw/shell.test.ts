/**
 * The service worker's install / activate / respond against a fake network and a fake Cache API: an install is all or
 * nothing, an update fetches the new weights of the folders in use into the models cache (same keys as the page's
 * worker), activation leaves one version per scope, and a cached copy is served only while it matches its SHA-256.
 */
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { CACHE_NAME, shardCacheKey } from '../worker/modelCache';
import { buildManifest, isShellFile, type ShellManifest } from './manifest';
import {
  activate,
  install,
  respond,
  shellCacheName,
  shellPath,
  takeOver,
  takeOverWhenAlone,
  withIsolation,
  type ShellEnv,
} from './shell';

const SCOPE = 'https://example.org/some/sub/';
const hex = (b: ArrayBuffer | Uint8Array | string) =>
  createHash('sha256')
    .update(typeof b === 'string' ? b : new Uint8Array(b))
    .digest('hex');
const bytes = (s: string) => new TextEncoder().encode(s);

/** A Cache API in memory: keys are URLs (a Request's url). */
class FakeCache {
  readonly entries = new Map<string, { body: ArrayBuffer; headers: [string, string][] }>();
  private key = (k: RequestInfo | URL) => (typeof k === 'string' ? k : k instanceof URL ? k.href : k.url);
  async match(k: RequestInfo | URL) {
    const e = this.entries.get(this.key(k));
    return e ? new Response(e.body.slice(0), { headers: e.headers }) : undefined;
  }
  async put(k: RequestInfo | URL, res: Response) {
    this.entries.set(this.key(k), { body: await res.arrayBuffer(), headers: [...res.headers] });
  }
  async delete(k: RequestInfo | URL) {
    return this.entries.delete(this.key(k));
  }
  async keys() {
    return [...this.entries.keys()].map((url) => new Request(url));
  }
}

class FakeCaches {
  readonly named = new Map<string, FakeCache>();
  async open(name: string) {
    if (!this.named.has(name)) this.named.set(name, new FakeCache());
    return this.named.get(name)!;
  }
  async keys() {
    return [...this.named.keys()];
  }
  async delete(name: string) {
    return this.named.delete(name);
  }
}

let server: Record<string, Uint8Array>;
let fetched: string[];
let stores: FakeCaches;
let env: ShellEnv;
let clock: number;

beforeEach(() => {
  clock = 1_000_000;
  server = {};
  fetched = [];
  stores = new FakeCaches();
  env = {
    caches: stores as unknown as CacheStorage,
    fetch: async (input) => {
      const url = typeof input === 'string' ? input : (input as Request).url;
      fetched.push(url.slice(SCOPE.length));
      const body = server[url.slice(SCOPE.length)];
      if (!body) return new Response('not found', { status: 404 });
      return new Response(body.slice(), {
        headers: { 'content-type': 'text/javascript', 'content-security-policy': "default-src 'self'" },
      });
    },
    sha256: async (b) => hex(b),
    scope: SCOPE,
    now: () => clock,
  };
});

/** A build: two shell files, a model.json listing one weight file, the weight file. */
async function build(tag: string): Promise<ShellManifest> {
  const weights = bytes(`weights ${tag}`);
  const files: Record<string, Uint8Array> = {
    'index.html': bytes(`<html>${tag}</html>`),
    [`assets/main-${tag}.js`]: bytes(`main ${tag}`),
    'models/lors/model.json': bytes(JSON.stringify({ sha256: { 'w.bin': hex(weights) } })),
    'models/lors/w.bin': weights,
  };
  server = { ...files };
  return buildManifest(
    Object.entries(files).map(([path, b]) => ({ path, sha256: hex(b) })),
    (p) => new TextDecoder().decode(files[p]),
    async (t) => hex(t),
  );
}

describe('buildManifest', () => {
  it('lists shell files and the weight files of each model.json, and names the version by their hashes', async () => {
    const m = await build('a');
    expect(Object.keys(m.files)).toEqual(['assets/main-a.js', 'index.html', 'models/lors/model.json']);
    expect(Object.keys(m.shards)).toEqual(['models/lors/w.bin']);
    expect(m.version).toMatch(/^[0-9a-f]{16}$/);
    expect((await build('b')).version).not.toBe(m.version);
  });

  it('leaves the self-test page, weight files, notes and sw.js out of the shell', () => {
    for (const p of ['selftest.html', 'assets/selftest-x.js', 'assets/selftest.worker-x.js', 'models/a/w.bin'])
      expect(isShellFile(p), p).toBe(false);
    for (const p of ['samples/README.md', 'sw.js']) expect(isShellFile(p), p).toBe(false);
    for (const p of ['index.html', 'assets/styles-x.js', 'models/metrics.json', 'samples/chelsea.jpg'])
      expect(isShellFile(p), p).toBe(true);
  });
});

describe('install', () => {
  it("caches every shell file of the version, checked, and no weight file on a first visit (the page's worker does)", async () => {
    const m = await build('a');
    await install(env, m, false);
    const shell = stores.named.get(shellCacheName(SCOPE, m.version))!;
    const cached = [...shell.entries.keys()].filter((k) => !k.endsWith('__lors-installed-at'));
    expect(cached.sort()).toEqual(Object.keys(m.files).map((p) => SCOPE + p));
    expect(fetched).not.toContain('models/lors/w.bin');
    // The CSP header of a file's response is kept (a worker script takes its policy from it).
    const hit = await shell.match(`${SCOPE}index.html`);
    expect(hit!.headers.get('content-security-policy')).toBe("default-src 'self'");
  });

  it('fails whole when a file differs from the manifest, leaving the active version as it was', async () => {
    const a = await build('a');
    await install(env, a, false);
    const b = await build('b');
    server['assets/main-b.js'] = bytes('tampered');
    await expect(install(env, b, true)).rejects.toThrow(/main-b\.js: SHA-256 differs/);
    const old = stores.named.get(shellCacheName(SCOPE, a.version))!;
    expect(old.entries.size).toBe(4); // three files and the install's time
    expect(await takeOver(env, b, clock + 1, 1)).toBe(false);
  });

  it('on an update, fetches the new weight files of folders in use into the models cache, checked', async () => {
    const a = await build('a');
    await install(env, a, false);
    const models = await stores.open(CACHE_NAME);
    // The first visit's worker cached LORS (its model.json by URL, its weights by URL + SHA-256).
    await models.put(`${SCOPE}models/lors/model.json`, new Response('{}'));
    await models.put(shardCacheKey(`${SCOPE}models/lors/w.bin`, a.shards['models/lors/w.bin']!), new Response('x'));
    const b = await build('b');
    await install(env, b, true);
    const key = shardCacheKey(`${SCOPE}models/lors/w.bin`, b.shards['models/lors/w.bin']!);
    expect(await (await models.match(key))!.text()).toBe('weights b');
    // A weight file that arrives corrupted fails the update.
    const c = await build('c');
    server['models/lors/w.bin'] = bytes('corrupted');
    await expect(install(env, c, true)).rejects.toThrow(/w\.bin: SHA-256 differs/);
  });

  it('fetches no weights for a folder the page never used', async () => {
    await install(env, await build('a'), false);
    await install(env, await build('b'), true);
    expect(fetched).not.toContain('models/lors/w.bin');
  });
});

describe('takeOver', () => {
  it('hands over to a page that started after the install finished and is the only page of the app', async () => {
    const a = await build('a');
    await install(env, a, false);
    clock += 5_000;
    const b = await build('b');
    // A page that started while b was installing (its visit found the update): no take-over, whatever the order
    // of the install's end and the page's question.
    expect(await takeOver(env, b, clock - 1, 1)).toBe(false);
    await install(env, b, true);
    expect(await takeOver(env, b, clock - 1, 1)).toBe(false);
    expect(await takeOver(env, b, clock, 1)).toBe(false);
    // The next page to start, alone: take-over; with another page of the app open: none.
    expect(await takeOver(env, b, clock + 1, 1)).toBe(true);
    expect(await takeOver(env, b, clock + 1, 2)).toBe(false);
    expect(await takeOver(env, b, Number.NaN, 1)).toBe(false);
  });
});

describe('takeOverWhenAlone', () => {
  it('waits, within a limit, for the other pages listed to go (the document the asking page replaced)', async () => {
    await install(env, await build('a'), false);
    clock += 5_000;
    const b = await build('b');
    await install(env, b, true);
    const start = clock + 1;
    let slept = 0;
    const sleep = async (ms: number) => {
      slept += ms;
    };
    // Another page listed for the first second, then none: take-over.
    expect(await takeOverWhenAlone(env, b, start, async () => (slept < 1_000 ? 1 : 0), sleep)).toBe(true);
    expect(slept).toBe(1_000);
    // A page that stays open: no take-over, after the limit.
    slept = 0;
    expect(await takeOverWhenAlone(env, b, start, async () => 1, sleep, 3_000)).toBe(false);
    expect(slept).toBe(3_000);
    // The asking page closed meanwhile (another stays): no take-over of a page that did not ask.
    slept = 0;
    expect(await takeOverWhenAlone(env, b, start, async () => (slept < 500 ? 1 : null), sleep)).toBe(false);
    // Alone but started before the install finished: no take-over, and no waiting.
    slept = 0;
    expect(await takeOverWhenAlone(env, b, clock - 1, async () => 0, sleep)).toBe(false);
    expect(slept).toBe(0);
  });
});

describe('activate', () => {
  it('keeps one shell version per scope and drops weight files the version no longer lists, in its scope only', async () => {
    const a = await build('a');
    await install(env, a, false);
    const b = await build('b');
    await install(env, b, false);
    const otherScope = shellCacheName('https://example.org/', 'ffff');
    await stores.open(otherScope);
    const models = await stores.open(CACHE_NAME);
    const keyA = shardCacheKey(`${SCOPE}models/lors/w.bin`, a.shards['models/lors/w.bin']!);
    const keyB = shardCacheKey(`${SCOPE}models/lors/w.bin`, b.shards['models/lors/w.bin']!);
    const elsewhere = shardCacheKey('https://example.org/models/lors/w.bin', 'abc');
    for (const k of [keyA, keyB, elsewhere, `${SCOPE}models/lors/model.json`]) await models.put(k, new Response('x'));
    await activate(env, b);
    expect(await stores.keys()).toEqual(
      expect.arrayContaining([shellCacheName(SCOPE, b.version), otherScope, CACHE_NAME]),
    );
    expect(await stores.keys()).not.toContain(shellCacheName(SCOPE, a.version));
    expect([...models.entries.keys()].sort()).toEqual([elsewhere, `${SCOPE}models/lors/model.json`, keyB].sort());
  });
});

describe('respond', () => {
  it("serves the version's checked copy; a corrupted copy is deleted and the network answers", async () => {
    const m = await build('a');
    await install(env, m, false);
    fetched = [];
    const req = new Request(`${SCOPE}assets/main-a.js`);
    expect(await (await respond(env, m, 'assets/main-a.js', req)).text()).toBe('main a');
    expect(fetched).toEqual([]);
    const shell = stores.named.get(shellCacheName(SCOPE, m.version))!;
    await shell.put(`${SCOPE}assets/main-a.js`, new Response('main A'));
    expect(await (await respond(env, m, 'assets/main-a.js', req)).text()).toBe('main a');
    expect(fetched).toEqual(['assets/main-a.js']);
    expect(shell.entries.has(`${SCOPE}assets/main-a.js`)).toBe(false);
  });

  it('adds COOP/COEP to what it serves, from the cache or the network, keeping the other headers', async () => {
    const m = await build('a');
    await install(env, m, false);
    const req = new Request(`${SCOPE}assets/main-a.js`);
    const hit = await respond(env, m, 'assets/main-a.js', req);
    expect(hit.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(hit.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await hit.text()).toBe('main a');
    const plain = new Response('x', { status: 404, headers: { 'content-type': 'text/plain' } });
    const wrapped = withIsolation(plain);
    expect([wrapped.status, wrapped.headers.get('content-type')]).toEqual([404, 'text/plain']);
    expect(wrapped.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });

  it('answers for shell files only: a navigation to the folder is index.html, weight files are left alone', async () => {
    const m = await build('a');
    expect(shellPath(env, m, `${SCOPE}?backend=wasm`, true)).toBe('index.html');
    expect(shellPath(env, m, `${SCOPE}index.html`, true)).toBe('index.html');
    expect(shellPath(env, m, `${SCOPE}models/lors/model.json`, false)).toBe('models/lors/model.json');
    expect(shellPath(env, m, `${SCOPE}models/lors/w.bin`, false)).toBeNull();
    expect(shellPath(env, m, `${SCOPE}assets/main-a.js?x=1`, false)).toBeNull();
    expect(shellPath(env, m, 'https://example.org/index.html', true)).toBeNull();
    expect(shellPath(env, m, `${SCOPE}selftest.html`, true)).toBeNull();
  });
});
