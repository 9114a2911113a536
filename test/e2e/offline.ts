/**
 * Offline after a first visit: the service worker (src/sw/) keeps the app shell, the page's worker keeps the verified
 * weights (Cache API), so a reload with the network off (Playwright's context.setOffline) reaches Ready and detects
 * — at the root of a host and under a sub-path. A cached weight file corrupted meanwhile is refused with the usual
 * message (the worker's SHA-256 check), not replaced by seeded weights.
 */
import type { Page } from 'playwright-core';
import { CACHE_NAME } from '../../src/worker/modelCache';
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
  const before = server.requests.length;
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
];
