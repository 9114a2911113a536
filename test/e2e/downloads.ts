/**
 * Model downloads that fail: a corrupted shard, a 404, a stalled download. The panel names the file and the reason,
 * offers Retry (which fetches only what failed) and an explicit seeded choice; the other panels keep working; a file
 * that failed its hash is never in the Cache API.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { CACHE_NAME } from '../../src/worker/cachedFetch';
import { assert, dropFile, setRange, shot, text, tid, waitBoxes, waitReady, type Test } from './page';
import type { StaticServer } from './server';

/** A shipped weights folder's shard paths, as the app requests them (models/<dir>/weights-shard…). */
const shardsOf = (dir: string): string[] =>
  (
    JSON.parse(readFileSync(`public/models/${dir}/model.json`, 'utf8')) as { weightsManifest: { paths: string[] }[] }
  ).weightsManifest.flatMap((g) => g.paths.map((p) => `models/${dir}/${p}`));
const LORS_SHARDS = shardsOf('lors');
const LORS_SHARD = LORS_SHARDS[LORS_SHARDS.length - 1]!; // the one corrupted; the others stay good
const VANILLA_SHARD = shardsOf('vanilla')[1]!;

async function failureOf(page: Page, model: string): Promise<{ file: string; reason: string }> {
  await page.waitForSelector(tid(`weights-failure-${model}`), { timeout: 10_000 });
  return { file: await text(page, `failure-file-${model}`), reason: await text(page, `failure-reason-${model}`) };
}

/** The Retry button of a panel, found by role and accessible name (what assistive technology announces). */
const retryButton = (page: Page, model: string) =>
  page.locator(tid(`panel-${model}`)).getByRole('button', { name: /^Retry/ });

const cachedPaths = (page: Page) =>
  page.evaluate(
    async (name) => (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname),
    CACHE_NAME,
  );

/** GET requests for each of `paths` made since request index `from`. */
const fetchedSince = (server: StaticServer, from: number, paths: string[]) =>
  Object.fromEntries(paths.map((p) => [p, server.requests.slice(from).filter((r) => r.path.endsWith(`/${p}`)).length]));

async function trainedBadge(page: Page, model: string) {
  await page.waitForFunction(
    (m) => document.querySelector(`[data-testid="badge-${m}"]`)?.textContent === 'trained weights',
    model,
    { timeout: 60_000 },
  );
}

export const downloads: Test[] = [
  {
    name: 'downloads: the backbone missing (404) stops every panel with a message and a Retry that loads the models',
    timeoutMs: 120_000,
    async fn({ url, server }, page) {
      server.fault('models/nanodet/nanodet.bin', '404');
      try {
        await page.goto(`${url}?backend=wasm`);
        await page.waitForFunction(
          () => document.querySelector('[data-testid="status"]')?.getAttribute('data-phase') === 'error',
          undefined,
          { timeout: 120_000, polling: 250 },
        );
        const status = await text(page, 'status');
        assert(/nanodet\.bin/.test(status) && /404/.test(status), `status: "${status}"`);
        assert((await page.getByRole('button', { name: /^Retry/ }).count()) === 1, 'no Retry button for the models');
        console.log(`    status: ${status}`);
      } finally {
        server.clearFaults();
      }
      await page.getByRole('button', { name: /^Retry/ }).click();
      await waitReady(page, 120_000);
      await setRange(page, 'score-threshold', 0);
      await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
      await waitBoxes(page, 'vanilla', 'chelsea.jpg');
      await waitBoxes(page, 'lors', 'chelsea.jpg');
    },
  },
  {
    name: 'downloads: a corrupted LORS shard is refused, not cached, shown with Retry; the retry re-fetches only it',
    timeoutMs: 180_000,
    async fn({ url, server }, page) {
      server.fault(LORS_SHARD, 'corrupt');
      try {
        await page.goto(`${url}?backend=wasm`);
        await waitReady(page, 180_000);
        const f = await failureOf(page, 'lors');
        assert(f.file === LORS_SHARD && /SHA-256/.test(f.reason), `LORS failure: ${f.file}: ${f.reason}`);
        assert(
          /untrained|not loaded/.test(await text(page, 'badge-lors')) &&
            !/trained weights/.test(await text(page, 'badge-lors')),
          `LORS badge: ${await text(page, 'badge-lors')}`,
        );
        assert(
          /lors decoder could not load/i.test(await text(page, 'status')),
          `status line: "${await text(page, 'status')}"`,
        );
        assert((await retryButton(page, 'lors').count()) === 1, 'no button named "Retry…" in the LORS panel');
        console.log(`    LORS panel: ${f.file}: ${f.reason}; status: ${await text(page, 'status')}`);
        // The vanilla panel keeps working; the failed one runs nothing.
        await setRange(page, 'score-threshold', 0);
        await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
        await waitBoxes(page, 'vanilla', 'chelsea.jpg');
        assert((await text(page, 'run-lors')) === '0', 'the LORS panel ran without weights');
        const cached = await cachedPaths(page);
        assert(
          !cached.some((p) => p.endsWith(LORS_SHARD)),
          `the corrupted shard is in the Cache API: ${cached.join(', ')}`,
        );
        assert(
          cached.some((p) => p.endsWith(LORS_SHARDS[0]!)),
          `the good shards were not cached: ${cached.join(', ')}`,
        );
        await shot(page, 'd1-corrupt-shard');
      } finally {
        server.clearFaults();
      }
      const from = server.requests.length;
      await retryButton(page, 'lors').click();
      await waitBoxes(page, 'lors', 'chelsea.jpg');
      await trainedBadge(page, 'lors');
      const fetched = fetchedSince(server, from, LORS_SHARDS);
      assert(
        LORS_SHARDS.every((p) => fetched[p] === (p === LORS_SHARD ? 1 : 0)),
        `the retry should fetch only the failed shard: ${JSON.stringify(fetched)}`,
      );
      assert(
        (await page.locator(tid('weights-failure-lors')).count()) === 0,
        'the failure box stayed after a good retry',
      );
      assert((await page.locator(tid('status-failed')).count()) === 0, 'the status line still reports a failure');
      // The sliders cut the trained weights again.
      const run = Number(await text(page, 'run-lors'));
      await setRange(page, 'slider-rank-a', 4);
      await page.waitForFunction(
        (r) => Number(document.querySelector('[data-testid="run-lors"]')?.textContent) > r,
        run,
        { timeout: 60_000 },
      );
      console.log(
        `    retry fetched ${JSON.stringify(fetched)}; ` +
          `LORS detects with trained weights (${await text(page, 'count-lors')} boxes)`,
      );
      await shot(page, 'd2-corrupt-shard-retried');
    },
  },
  {
    name: 'downloads: a 404 (vanilla) and a stall (LORS) fail per panel; seeded only when asked; retries load them',
    timeoutMs: 180_000,
    async fn({ url, server }, page) {
      server.fault(VANILLA_SHARD, '404');
      server.fault(LORS_SHARDS[0]!, 'stall');
      try {
        await page.goto(`${url}?backend=wasm&stallSeconds=2`);
        await waitReady(page, 180_000);
        const v = await failureOf(page, 'vanilla');
        const l = await failureOf(page, 'lors');
        assert(v.file === VANILLA_SHARD && /404/.test(v.reason), `vanilla failure: ${v.file}: ${v.reason}`);
        assert(l.file === LORS_SHARDS[0] && /stalled/.test(l.reason), `LORS failure: ${l.file}: ${l.reason}`);
        console.log(`    vanilla: ${v.file}: ${v.reason}\n    LORS: ${l.file}: ${l.reason}`);
        // NanoDet's panel works while both decoders are down.
        await setRange(page, 'score-threshold', 0);
        await page.locator(tid('toggle-nanodet')).check();
        await dropFile(page, { url: 'samples/rocket.jpg', name: 'rocket.jpg', type: 'image/jpeg' });
        await waitBoxes(page, 'nanodet', 'rocket.jpg', 60_000);
        // Seeded weights only by explicit choice, labelled as such.
        await page.locator(tid('seeded-lors')).click();
        await waitBoxes(page, 'lors', 'rocket.jpg', 60_000);
        const badge = await text(page, 'badge-lors');
        assert(/untrained/.test(badge), `LORS badge with seeded weights: "${badge}"`);
        assert(
          (await page.locator(tid('weights-seeded-lors')).count()) === 1,
          'the seeded choice is not labelled in the panel',
        );
        await shot(page, 'd3-404-and-stall');
      } finally {
        server.clearFaults();
      }
      await retryButton(page, 'vanilla').click();
      await waitBoxes(page, 'vanilla', 'rocket.jpg', 60_000);
      await trainedBadge(page, 'vanilla');
      const lorsRun = Number(await text(page, 'run-lors'));
      await retryButton(page, 'lors').click();
      await trainedBadge(page, 'lors');
      await page.waitForFunction(
        (r) => Number(document.querySelector('[data-testid="run-lors"]')?.textContent) > r,
        lorsRun,
        { timeout: 60_000 },
      );
      assert(
        (await page.locator(tid('error')).count()) === 0,
        `error after the retries: ${await page.locator(tid('error')).allTextContents()}`,
      );
      console.log('    after the retries: both decoders run trained weights');
      await shot(page, 'd4-404-and-stall-retried');
    },
  },
];
