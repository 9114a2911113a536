/**
 * The service worker's work, apart from its events (src/sw/sw.ts) so that it runs against fakes in tests.
 *
 * - install: every shell file of this version is fetched, checked against the manifest's SHA-256 and put in this
 *   version's own cache; on an update (an older version is active) the weight files of the model folders in use are
 *   fetched into the models cache the page's worker reads (src/worker/modelCache.ts: same cache, same keys, no
 *   second copy), checked the same way. Any failure fails the install: the old version stays whole.
 * - activate: the other versions' shell caches of this scope go, and so do the models cache's weight files that this
 *   version's model.json files no longer list.
 * - take-over: a waiting version replaces the active one only for a page that started after it was installed and is
 *   the only page of the app (takeOver); the install records when it finished, in the version's own cache.
 * - respond: a shell file is served from this version's cache (model.json files included, so the worker reads the
 *   weights this shell was built with), after its SHA-256 is checked again; a copy that fails is deleted and the
 *   network answers. Weight files are left to the worker, which reads the models cache itself and checks every file
 *   against model.json: the service worker never serves one.
 */
import { CACHE_NAME as MODELS_CACHE, shardCacheKey } from '../worker/modelCache';
import { crossOriginIsolationHeaders } from '../csp';
import type { ShellManifest } from './manifest';

/** What the service worker needs from its global scope. */
export interface ShellEnv {
  caches: CacheStorage;
  fetch: (input: RequestInfo, init?: RequestInit) => Promise<Response>;
  sha256: (data: ArrayBuffer) => Promise<string>;
  /** The registration's scope (the app's folder, ending in '/'). */
  scope: string;
  /** Milliseconds since the epoch (the clock a page's performance.timeOrigin uses). */
  now: () => number;
}

const SHELL_PREFIX = 'lors-studio-shell ';

/** One cache per version and scope: two deployments on one origin keep theirs apart. */
export const shellCacheName = (scope: string, version: string) => `${SHELL_PREFIX}${scope} ${version}`;

/** Where a version's cache records when its install finished (never a shell path: nothing serves it). */
const installedKey = (scope: string) => `${scope}__lors-installed-at`;

/** Headers a cached copy keeps (the CSP a worker script takes from its own response among them). */
function keptHeaders(h: Headers): Headers {
  const out = new Headers(h);
  for (const k of ['content-length', 'content-encoding', 'transfer-encoding', 'date', 'etag', 'last-modified']) {
    out.delete(k);
  }
  return out;
}

/** Fetches `url` (bypassing the HTTP cache) and returns its bytes when they match `sha256`; throws otherwise. */
async function fetchVerified(env: ShellEnv, url: string, sha256: string): Promise<Response> {
  const res = await env.fetch(url, { cache: 'no-cache' });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const buf = await res.arrayBuffer();
  if ((await env.sha256(buf)) !== sha256) throw new Error(`${url}: SHA-256 differs from this version's manifest`);
  return new Response(buf, { status: 200, headers: keptHeaders(res.headers) });
}

async function verifiedHit(env: ShellEnv, cache: Cache, key: string, sha256: string): Promise<Response | null> {
  const hit = await cache.match(key);
  if (!hit) return null;
  const buf = await hit.arrayBuffer();
  if ((await env.sha256(buf)) === sha256) {
    const headers = new Headers(hit.headers);
    headers.set('content-length', String(buf.byteLength));
    return new Response(buf, { status: 200, headers });
  }
  await cache.delete(key);
  return null;
}

/** Model folders ('models/lors/') of which the models cache holds a weight file under `scope`. */
async function foldersInUse(env: ShellEnv, models: Cache): Promise<Set<string>> {
  const inUse = new Set<string>();
  for (const req of await models.keys()) {
    if (!req.url.startsWith(`${env.scope}models/`)) continue;
    const path = new URL(req.url).pathname.slice(new URL(env.scope).pathname.length);
    inUse.add(path.slice(0, path.lastIndexOf('/') + 1));
  }
  return inUse;
}

/** Installs version `m`; `update`: an older version is active (then the weights in use are fetched ahead too). */
export async function install(env: ShellEnv, m: ShellManifest, update: boolean): Promise<void> {
  const cache = await env.caches.open(shellCacheName(env.scope, m.version));
  await Promise.all(
    Object.entries(m.files).map(async ([path, sha]) => {
      const url = new URL(path, env.scope).href;
      if (await verifiedHit(env, cache, url, sha)) return;
      await cache.put(url, await fetchVerified(env, url, sha));
    }),
  );
  if (update) {
    // The first visit's worker is downloading the weights itself; an update fetches those of the folders in use.
    const models = await env.caches.open(MODELS_CACHE);
    const inUse = await foldersInUse(env, models);
    for (const [path, sha] of Object.entries(m.shards)) {
      if (!inUse.has(path.slice(0, path.lastIndexOf('/') + 1))) continue;
      const url = new URL(path, env.scope).href;
      const key = shardCacheKey(url, sha);
      if (await verifiedHit(env, models, key, sha)) continue;
      await models.put(key, await fetchVerified(env, url, sha));
    }
  }
  await cache.put(installedKey(env.scope), new Response(String(env.now())));
}

/**
 * How long a waiting version keeps looking, for a page that asked, for the app's other pages to be gone: the document
 * the asking page replaced in its tab is still listed while the browser tears it down, which takes seconds when the
 * machine is busy.
 */
export const TAKE_OVER_WAIT_MS = 15_000;
const TAKE_OVER_POLL_MS = 250;

/**
 * takeOver for the asking page, asked again every TAKE_OVER_POLL_MS while other pages of the app are listed, for up to
 * `waitMs`: true as soon as it holds; false when it fails with the asking page alone, when the others stay, or when
 * the asking page is gone (`otherPages` gives null: never hand over a page that did not ask).
 */
export async function takeOverWhenAlone(
  env: ShellEnv,
  m: ShellManifest,
  pageStart: number,
  otherPages: () => Promise<number | null>,
  sleep: (ms: number) => Promise<void>,
  waitMs = TAKE_OVER_WAIT_MS,
): Promise<boolean> {
  for (let waited = 0; ; waited += TAKE_OVER_POLL_MS) {
    const others = await otherPages();
    if (others === null) return false;
    if (await takeOver(env, m, pageStart, others + 1)) return true;
    if (others === 0 || waited >= waitMs) return false;
    await sleep(TAKE_OVER_POLL_MS);
  }
}

/**
 * Whether waiting version `m` takes over when a page asks: only for a page that started (its performance.timeOrigin,
 * `pageStart`) after the install finished — a version found and installed during a visit never reloads that visit,
 * however the install's end and the page's question are ordered — and is the only page of the app (`pages`).
 */
export async function takeOver(env: ShellEnv, m: ShellManifest, pageStart: number, pages: number): Promise<boolean> {
  if (pages > 1 || !Number.isFinite(pageStart)) return false;
  const cache = await env.caches.open(shellCacheName(env.scope, m.version));
  const at = Number(await (await cache.match(installedKey(env.scope)))?.text());
  return Number.isFinite(at) && at > 0 && at < pageStart;
}

/** Makes version `m` the only one of this scope: other shell caches and unlisted weight files are deleted. */
export async function activate(env: ShellEnv, m: ShellManifest): Promise<void> {
  const current = shellCacheName(env.scope, m.version);
  for (const name of await env.caches.keys()) {
    if (name.startsWith(`${SHELL_PREFIX}${env.scope} `) && name !== current) await env.caches.delete(name);
  }
  const models = await env.caches.open(MODELS_CACHE);
  const listed = new Set(Object.entries(m.shards).map(([p, sha]) => shardCacheKey(new URL(p, env.scope).href, sha)));
  for (const req of await models.keys()) {
    const weights = req.url.startsWith(`${env.scope}models/`) && new URL(req.url).searchParams.has('sha256');
    if (weights && !listed.has(req.url)) await models.delete(req);
  }
}

/** The shell path a GET of `url` asks for ('index.html' for a navigation to the folder), or null. */
export function shellPath(env: ShellEnv, m: ShellManifest, url: string, navigate: boolean): string | null {
  if (!url.startsWith(env.scope)) return null;
  const u = new URL(url);
  let path = decodeURIComponent(u.pathname.slice(new URL(env.scope).pathname.length));
  if (navigate && path === '') path = 'index.html';
  else if (u.search && !navigate) return null;
  return path in m.files ? path : null;
}

/**
 * The answer to a request for shell file `path`: this version's checked copy, else the network's, with the
 * cross-origin isolation headers added (withIsolation).
 */
export async function respond(env: ShellEnv, m: ShellManifest, path: string, request: Request): Promise<Response> {
  const cache = await env.caches.open(shellCacheName(env.scope, m.version));
  const hit = await verifiedHit(env, cache, new URL(path, env.scope).href, m.files[path]!);
  return withIsolation(hit ?? (await env.fetch(request)));
}

/**
 * `res` with COOP/COEP (src/csp.ts): on a static host that cannot send them, the pages this service worker serves
 * (every visit after the first) are still cross-origin isolated, so tfjs-wasm runs threaded. Everything the app loads
 * is same-origin, which require-corp allows. Opaque and error answers pass unchanged.
 */
export function withIsolation(res: Response): Response {
  if (res.type === 'opaque' || res.type === 'opaqueredirect' || res.status === 0) return res;
  const headers = new Headers(res.headers);
  for (const [k, v] of Object.entries(crossOriginIsolationHeaders())) headers.set(k, v);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}
