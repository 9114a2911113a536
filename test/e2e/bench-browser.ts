/**
 * The browser half of `npm run bench`: the built app (dist/) in headless Debian Chromium on the wasm backend
 * (SwiftShader's WebGPU is software: far too slow to time). Measures, as a user meets them:
 *   - page open → "Ready" and → the sample's overlays (the app runs a sample by itself), on a first visit (cold:
 *     nothing cached) and on a reload (warm: models from the Cache API, the service worker's shell), and the first
 *     dropped photo;
 *   - photo → overlay: drop a photo → both panels drawn (backbone + both decoders, in the worker);
 *   - slider change → overlay: move the LORS^A rank → the LORS panel redrawn (LORS decoder on cached features);
 *   - the per-panel decoder latencies the app itself reports;
 *   - a soak (soakBrowser): hundreds of moves and photo drops, the worker's tensors and the page's heap read at fixed
 *     intervals, judged by the heap's slope after a warm-up, and the latency drift (test/e2e/soak.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { median } from '../../src/cli/stats';
import { ARGS, CHROMIUM, DIST, dropFile, setRange, waitReady, workerThreads } from './page';
import { serveStatic } from './server';
import { soak, type SoakOptions, type SoakReport } from './soak';

interface Snapshot {
  photoId: number;
  runs: Record<string, number>;
  latency: Record<string, number>;
  backboneMs: number | null;
}

async function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(() => {
    type R = { run: number; latencyMs: number; imageId: number };
    const s = (
      window as unknown as {
        __lors: {
          session: {
            getState(): { photo: { id: number } | null; results: Record<string, R>; backboneMs: number | null };
          };
        };
      }
    ).__lors.session.getState();
    const runs: Record<string, number> = {},
      latency: Record<string, number> = {};
    for (const [k, r] of Object.entries(s.results))
      if (r.imageId === s.photo?.id) {
        runs[k] = r.run;
        latency[k] = r.latencyMs;
      }
    return { photoId: s.photo?.id ?? -1, runs, latency, backboneMs: s.backboneMs };
  });
}

async function waitFor(page: Page, pred: (s: Snapshot) => boolean, timeout = 300_000): Promise<Snapshot> {
  const t0 = Date.now();
  for (;;) {
    const s = await snapshot(page);
    if (pred(s)) return s;
    if (Date.now() - t0 > timeout) throw new Error('bench-browser: timed out waiting for the app');
    await page.waitForTimeout(5);
  }
}

/**
 * One browser run. `dist`: the build (default E2E_DIST or dist/); `isolated`: serve it with COOP/COEP (the page is
 * cross-origin isolated and tfjs-wasm runs threaded) or without (a host that sends no such headers: one thread).
 */
export async function benchBrowser(o: { runs: number; warmup: number; dist?: string; isolated?: boolean }) {
  const dist = o.dist ?? DIST;
  if (!existsSync(join(dist, 'index.html'))) {
    process.stderr.write(`bench: ${dist} is missing (npm run build): skipping the browser part\n`);
    return null;
  }
  const server = await serveStatic(dist, { isolated: o.isolated ?? true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const photos = ['chelsea.jpg', 'coffee.jpg'];
    const drop = (i: number) =>
      dropFile(page, { url: `samples/${photos[i % 2]}`, name: photos[i % 2]!, type: 'image/jpeg' });

    const open = async (visit: () => Promise<unknown>) => {
      const t0 = performance.now();
      await visit();
      await waitReady(page, 300_000, { idle: false, polling: 10 });
      const ready = performance.now() - t0;
      await waitFor(page, (s) => s.runs.vanilla !== undefined && s.runs.lors !== undefined);
      await waitReady(page, 300_000);
      return { ready, sampleOverlays: performance.now() - t0 };
    };
    const cold = await open(() => page.goto(`${server.url}?backend=wasm`));
    const threads = await workerThreads(page);
    let before = await snapshot(page);
    const t1 = performance.now();
    await drop(0);
    before = await waitFor(
      page,
      (s) => s.photoId !== before.photoId && s.runs.vanilla !== undefined && s.runs.lors !== undefined,
    );
    const firstPhotoMs = performance.now() - t1;

    const photoMs: number[] = [],
      sliderMs: number[] = [],
      sliderDecoderMs: number[] = [],
      vanillaMs: number[] = [],
      lorsMs: number[] = [],
      backboneMs: number[] = [];
    for (let i = 1; i <= o.warmup + o.runs; i++) {
      const prev = before;
      const t = performance.now();
      await drop(i);
      before = await waitFor(
        page,
        (s) => s.photoId !== prev.photoId && s.runs.vanilla !== undefined && s.runs.lors !== undefined,
      );
      if (i > o.warmup) {
        photoMs.push(performance.now() - t);
        vanillaMs.push(before.latency.vanilla!);
        lorsMs.push(before.latency.lors!);
        if (before.backboneMs !== null) backboneMs.push(before.backboneMs);
      }
    }
    for (let i = 0; i < o.warmup + o.runs; i++) {
      const prev = before;
      const t = performance.now();
      await setRange(page, 'slider-rank-a', i % 2 ? 8 : 4);
      before = await waitFor(page, (s) => (s.runs.lors ?? 0) > (prev.runs.lors ?? 0));
      if (i >= o.warmup) {
        sliderMs.push(performance.now() - t);
        sliderDecoderMs.push(before.latency.lors!);
      }
    }
    // Last: a reload is a second visit, which the service worker makes cross-origin isolated where the server is not.
    const warm = await open(() => page.reload());
    const r = (x: number) => Number(x.toFixed(1));
    const vanilla = median(vanillaMs),
      lors = median(lorsMs);
    return {
      backend: 'wasm',
      browser: browser.version(),
      dist,
      ...threads,
      coldStartMs: {
        pageToReady: r(cold.ready),
        pageToSampleOverlays: r(cold.sampleOverlays),
        firstPhotoToOverlay: r(firstPhotoMs),
      },
      warmStartMs: { pageToReady: r(warm.ready), pageToSampleOverlays: r(warm.sampleOverlays) },
      photoToOverlayMs: r(median(photoMs)),
      sliderToOverlayMs: r(median(sliderMs)),
      /** Of a slider move: the LORS decoder's run as the worker timed it (the rest: the fold, messages, drawing). */
      sliderDecoderMs: r(median(sliderDecoderMs)),
      backboneMs: backboneMs.length ? r(median(backboneMs)) : null,
      decoderMs: { vanilla: r(vanilla), lors: r(lors) },
      ratio: { lorsOverVanilla: Number((lors / vanilla).toFixed(3)) },
      runs: o.runs,
    };
  } finally {
    await browser.close();
    await server.close();
  }
}

/**
 * A soak of the built app on wasm in a page of its own (Chromium with precise heap figures and an exposed GC, see
 * ARGS): its report and verdict (test/e2e/soak.ts, src/cli/soakVerdict.ts).
 */
export async function soakBrowser(o: SoakOptions): Promise<(SoakReport & { backend: string; browser: string }) | null> {
  if (!existsSync(join(DIST, 'index.html'))) {
    process.stderr.write(`bench: ${DIST} is missing (npm run build): skipping the soak\n`);
    return null;
  }
  const server = await serveStatic(DIST);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}?backend=wasm`);
    await waitReady(page, 300_000);
    const r = await soak(page, { ...o, log: o.log ?? ((s) => process.stderr.write(`bench: ${s}\n`)) });
    return { backend: 'wasm', browser: browser.version(), ...r };
  } finally {
    await browser.close();
    await server.close();
  }
}
