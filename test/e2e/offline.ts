/**
 * Offline after a first visit: the service worker (src/sw/) keeps the app shell, the page's worker keeps the verified
 * weights (Cache API), so a reload with the network off (Playwright's context.setOffline) reaches Ready and detects
 * — at the root of a host and under a sub-path. A cached weight file corrupted meanwhile is refused with the usual
 * message (the worker's SHA-256 check), not replaced by seeded weights.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { CACHE_NAME } from '../../src/worker/modelCache';
import { swManifest } from './bundle';
import { assert, DIST, dropFile, setRange, text, tid, waitBoxes, waitReady, type Test } from './page';
import { serveStatic, type StaticServer } from './server';

/** Waits until the service worker of the page's app folder is active (its install cached the whole shell). */
async function swActive(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return reg.scope;
  });
}

/** First visit online, then a reload offline: Ready, a photo detected, and nothing asked of the server. */
async function offlineReload(page: Page, server: StaticServer, appUrl: string): Promise<void> {
  await page.goto(`${appUrl}?backend=wasm`);
  await waitReady(page, 180_000);
  const scope = await swActive(page);
  assert(scope === appUrl, `service worker scope ${scope}, app at ${appUrl}`);
  // A second visit online asks the server for nothing but sw.js (the browser's update check): the shell and the
  // model.json files come from the service worker (the inference worker is controlled by it too), the weights
  // from the Cache API.
  let before = server.requests.length;
  await page.reload();
  await waitReady(page, 180_000);
  const online = server.requests
    .slice(before)
    .map((r) => r.path)
    .filter((p) => !p.endsWith('/sw.js'));
  assert(online.length === 0, `a second visit online fetched ${online.join(', ')}`);
  before = server.requests.length;
  await page.context().setOffline(true);
  try {
    await page.reload();
    await waitReady(page, 180_000);
    assert(
      await page.evaluate(() => navigator.serviceWorker.controller !== null),
      'the reloaded page has no service worker',
    );
    await setRange(page, 'score-threshold', 0);
    await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
    await waitBoxes(page, 'vanilla', 'chelsea.jpg');
    await waitBoxes(page, 'lors', 'chelsea.jpg');
    for (const m of ['vanilla', 'lors']) {
      const badge = await text(page, `badge-${m}`);
      assert(badge === 'trained weights', `${m} badge offline: "${badge}"`);
    }
    // The browser's own update check of sw.js ignores the emulated offline state; nothing else may reach the server.
    const asked = server.requests
      .slice(before)
      .map((r) => r.path)
      .filter((p) => !p.endsWith('/sw.js'));
    assert(asked.length === 0, `requests reached the server while offline: ${asked.join(', ')}`);
  } finally {
    await page.context().setOffline(false);
  }
}

/**
 * A copy of dist/ as the next deployment: index.html carries a marker, and sw.js the manifest a build of it would
 * have (the new index.html's SHA-256, a new version).
 */
function nextBuild(): { dir: string; version: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lors-next-build-'));
  cpSync(DIST, dir, { recursive: true });
  const html = readFileSync(join(dir, 'index.html'), 'utf8').replace(
    '<head>',
    '<head><meta name="lors-build" content="next">',
  );
  writeFileSync(join(dir, 'index.html'), html);
  const m = swManifest(dir);
  m.files['index.html'] = createHash('sha256').update(html).digest('hex');
  m.version = createHash('sha256')
    .update(JSON.stringify({ files: m.files, shards: m.shards }))
    .digest('hex')
    .slice(0, 16);
  const sw = readFileSync(join(dir, 'sw.js'), 'utf8').replace(
    /JSON\.parse\(("(?:[^"\\]|\\.)*")\)/,
    () => `JSON.parse(${JSON.stringify(JSON.stringify(m))})`,
  );
  writeFileSync(join(dir, 'sw.js'), sw);
  return { dir, version: m.version };
}

/**
 * Where a hand-over stands, for a failure message: the page's view of its registration (and its start time), and
 * each running service worker's (its state, the pages it sees, when its install finished). No named function inside
 * evaluate: the test's bundler would wrap it in a helper the page lacks.
 */
async function handOverState(page: Page): Promise<string> {
  const seen = await page
    .evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      const build = document.querySelector('meta[name="lors-build"]') ? 'next' : 'first';
      return (
        `page on the ${build} build, started at ${performance.timeOrigin.toFixed(0)}: controller ` +
        `${navigator.serviceWorker.controller?.state ?? 'none'}, active ${reg?.active?.state ?? 'none'}, waiting ` +
        `${reg?.waiting?.state ?? 'none'}, installing ${reg?.installing?.state ?? 'none'}`
      );
    })
    .catch((e: unknown) => `page unreadable (${String(e)})`);
  const workers = await Promise.all(
    page
      .context()
      .serviceWorkers()
      .map((w) =>
        w
          .evaluate(async () => {
            const g = self as unknown as ServiceWorkerGlobalScope & { serviceWorker?: ServiceWorker };
            const pages = await g.clients.matchAll({ type: 'window', includeUncontrolled: true });
            const installed: string[] = [];
            for (const name of await caches.keys()) {
              const hit = await (await caches.open(name)).match(`${g.registration.scope}__lors-installed-at`);
              if (hit) installed.push(`${name.slice(-16)} at ${await hit.text()}`);
            }
            return `${g.serviceWorker?.state ?? '?'} (sees ${pages.length} page(s); installs: ${installed.join(', ')})`;
          })
          .catch((e: unknown) => `unreadable (${String(e)})`),
      ),
  );
  return `${seen}; service workers: ${workers.join(', ') || 'none running'}`;
}

const buildOf = (page: Page) =>
  page.evaluate(() => document.querySelector('meta[name="lors-build"]')?.getAttribute('content') ?? 'first');

export const offline: Test[] = [
  {
    name: 'offline: after a first visit, a reload with the network off reaches Ready and detects a photo',
    timeoutMs: 420_000,
    async fn({ url, server }, page) {
      await offlineReload(page, server, url);
      console.log(
        `    offline reload at ${url}: ready, both decoders detect with trained weights, nothing from the server`,
      );
    },
  },
  {
    name: 'offline under a sub-path: dist/ served under /some/sub/ works offline after a first visit',
    timeoutMs: 420_000,
    async fn(_ctx, page) {
      const server = await serveStatic(DIST, { prefix: '/some/sub/' });
      try {
        await offlineReload(page, server, `${server.url}some/sub/`);
      } finally {
        await server.close();
      }
    },
  },
  {
    name: 'offline with a corrupted cached LORS shard: the panel names the file and the SHA-256 failure, no seeded model',
    timeoutMs: 420_000,
    async fn({ url }, page) {
      await page.goto(`${url}?backend=wasm`);
      await waitReady(page, 180_000);
      await swActive(page);
      const file = await page.evaluate(async (name) => {
        const cache = await caches.open(name);
        const key = (await cache.keys()).find((r) => /\/models\/lors\/weights-shard[^/]*\?sha256=/.test(r.url));
        if (!key) return null;
        const bytes = new Uint8Array(await (await cache.match(key))!.arrayBuffer());
        bytes[bytes.length >> 1]! ^= 0xff;
        await cache.put(key, new Response(bytes));
        return new URL(key.url).pathname.slice(1);
      }, CACHE_NAME);
      assert(file, 'no LORS weight file in the models cache after the first visit');
      await page.context().setOffline(true);
      try {
        await page.reload();
        await waitReady(page, 180_000);
        await page.waitForSelector(tid('weights-failure-lors'), { timeout: 30_000 });
        const shown = await text(page, 'failure-file-lors');
        const reason = await text(page, 'failure-reason-lors');
        assert(file.endsWith(shown), `failure names "${shown}", the corrupted file is ${file}`);
        assert(/SHA-256/.test(reason), `failure reason: "${reason}"`);
        assert(!/trained weights/.test(await text(page, 'badge-lors')), 'the LORS panel claims trained weights');
        assert(
          /lors decoder could not load/i.test(await text(page, 'status')),
          `status: ${await text(page, 'status')}`,
        );
        await setRange(page, 'score-threshold', 0);
        await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
        await waitBoxes(page, 'vanilla', 'chelsea.jpg');
        assert((await text(page, 'run-lors')) === '0', 'the LORS panel ran without its weights');
        console.log(`    LORS panel offline: ${shown}: ${reason}`);
      } finally {
        await page.context().setOffline(false);
      }
    },
  },
  {
    name: 'offline: a new deployment installs whole in the background and takes over only when no old page is open',
    timeoutMs: 480_000,
    async fn(_ctx, page) {
      const server = await serveStatic(DIST);
      const next = nextBuild();
      try {
        const app = `${server.url}?backend=wasm`;
        await page.goto(app);
        await waitReady(page, 180_000);
        await swActive(page);
        server.setRoot(next.dir);
        // This visit still runs the first build; the browser finds the new sw.js and installs it meanwhile.
        await page.reload();
        await waitReady(page, 180_000);
        assert((await buildOf(page)) === 'first', 'the new build took over a visit of the old one');
        for (let t0 = Date.now(); ;) {
          const waiting = await page.evaluate(
            async () => (await navigator.serviceWorker.getRegistration())?.waiting?.state ?? null,
          );
          if (waiting === 'installed') break;
          assert(Date.now() - t0 < 120_000, `the new service worker is not waiting (state ${waiting})`);
          await page.waitForTimeout(500);
        }
        // A second page of the app: the first is still open, so both stay on the first build.
        const other = await page.context().newPage();
        await other.goto(app);
        await waitReady(other, 180_000);
        assert((await buildOf(other)) === 'first', 'a second page switched while a page of the old build was open');
        await other.close();
        // Alone now: the reload starts on the old build, hands over, and reloads once on the new one.
        await page.reload();
        await page
          .waitForFunction(() => document.querySelector('meta[name="lors-build"]') !== null, undefined, {
            timeout: 120_000,
            polling: 250,
          })
          .catch(async (e: unknown) => {
            const state = await handOverState(page);
            // Probe (the test has failed already): does the waiting worker take over when the page asks again now,
            // or when it calls skipWaiting itself?
            type G = { __probe?: string[] };
            for (const w of page.context().serviceWorkers())
              await w
                .evaluate(() => {
                  const g = self as unknown as ServiceWorkerGlobalScope & G;
                  g.__probe = [];
                  g.addEventListener('message', (e) => g.__probe!.push(JSON.stringify(e.data)));
                  g.addEventListener('error', (e) => g.__probe!.push(`error ${e.message}`));
                  g.addEventListener('unhandledrejection', (e) => g.__probe!.push(`rejection ${String(e.reason)}`));
                })
                .catch(() => undefined);
            const sent = await page
              .evaluate(async () => {
                const reg = await navigator.serviceWorker.getRegistration();
                reg?.waiting?.postMessage({ type: 'activate-if-alone', pageStart: performance.timeOrigin });
                return reg?.waiting ? 'posted' : 'no waiting worker';
              })
              .catch((x: unknown) => String(x));
            await page.waitForTimeout(10_000);
            const got = await Promise.all(
              page
                .context()
                .serviceWorkers()
                .map((w) =>
                  w
                    .evaluate(() => (self as unknown as G).__probe?.join(' | ') ?? 'no probe')
                    .catch((x: unknown) => String(x)),
                ),
            );
            const asked = `${sent}; received: ${got.join(' / ')}; ${await handOverState(page)}`;
            for (const w of page.context().serviceWorkers())
              await w
                .evaluate(() => (self as unknown as ServiceWorkerGlobalScope).skipWaiting())
                .catch(() => undefined);
            await page.waitForTimeout(10_000);
            const skipped = await handOverState(page);
            throw new Error(
              `no hand-over to the new build: ${state} (${String(e)}); asked again 10 s later: ${asked}; ` +
                `after skipWaiting: ${skipped}`,
            );
          });
        await waitReady(page, 180_000);
        const shells = await page.evaluate(async () =>
          (await caches.keys()).filter((k) => k.startsWith('lors-studio-shell')),
        );
        assert(
          shells.length === 1 && shells[0]!.endsWith(next.version),
          `shell caches after the update: ${shells.join(', ')} (new version ${next.version})`,
        );
        await setRange(page, 'score-threshold', 0);
        await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
        await waitBoxes(page, 'lors', 'chelsea.jpg');
        console.log(`    updated to ${next.version}: one shell cache left, detections on the new build`);
      } finally {
        await server.close();
        rmSync(next.dir, { recursive: true, force: true });
      }
    },
  },
];
