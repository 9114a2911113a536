/**
 * What grows in the page heap over a soak: the built app (E2E_DIST) on wasm in headless Chromium, phases of moves,
 * a heap snapshot (DevTools protocol, after forced GCs) after each phase, and the objects that are new in one
 * snapshot and still alive in the next, by class, with the nearest older object holding them (test/e2e/heapSnapshot.ts).
 *
 * --actions slider|mixed: the soak's own moves (test/e2e/soak.ts: decoder re-runs and photo drops, slow on a loaded
 * machine); --actions view: page-only moves (score threshold and stage scrubber in turn on one photo, no decoder
 * run), so that many moves fit: what the page keeps per render, apart from the worker's results.
 *
 *   npx tsx scripts/heap-trace.ts [--actions view] [--phases 3] [--moves 100] [--drops 33] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { ARGS, CHROMIUM, DIST, dropFile, setRange, tid, waitReady } from '../test/e2e/page';
import { serveStatic } from '../test/e2e/server';
import { soak, type SoakActions } from '../test/e2e/soak';
import { diffSnapshots, formatDiff, parseSnapshot, takeHeapSnapshot } from '../test/e2e/heapSnapshot';

const { values } = parseArgs({
  options: {
    phases: { type: 'string', default: '3' },
    moves: { type: 'string', default: '100' },
    drops: { type: 'string', default: '33' },
    actions: { type: 'string', default: 'slider' },
    out: { type: 'string', default: '/tmp/heap-trace' },
  },
});
const phases = Number(values.phases),
  moves = Number(values.moves),
  drops = Number(values.drops);
mkdirSync(values.out!, { recursive: true });

/** A snapshot after two forced GCs, through a DevTools session of its own (detached afterwards). */
async function takeSnapshot(page: Page): Promise<string> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const text = await takeHeapSnapshot(cdp);
  await cdp.send('HeapProfiler.disable');
  await cdp.detach();
  return text;
}

async function heapAfterGc(page: Page): Promise<number> {
  return page.evaluate(() => {
    const w = window as unknown as { gc?: () => void };
    w.gc?.();
    w.gc?.();
    return (performance as unknown as { memory: { usedJSHeapSize: number } }).memory.usedJSHeapSize;
  });
}

/** Page-only moves: threshold to 0.5, stage to the middle, threshold back, stage back to the last; each drawn. */
async function viewMoves(page: Page, n: number, base: { threshold: number; stages: number }): Promise<number[]> {
  const heap: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 4;
    if (k === 0 || k === 2) {
      const t = k === 0 ? 0.5 : base.threshold;
      await setRange(page, 'score-threshold', t);
      await page.waitForFunction(
        (v) => document.querySelector('[data-testid="score-threshold-value"]')?.textContent === v,
        t.toFixed(2),
        { timeout: 120_000, polling: 20 },
      );
    } else {
      const s = k === 1 ? Math.ceil(base.stages / 2) : base.stages;
      await setRange(page, 'stage-scrubber', s);
      await page.waitForFunction(
        (st) =>
          ['vanilla', 'lors'].every(
            (m) => document.querySelector(`[data-testid="canvas-${m}"]`)?.getAttribute('data-stage') === String(st),
          ),
        s,
        { timeout: 120_000, polling: 20 },
      );
    }
    if ((i + 1) % 20 === 0) heap.push(await heapAfterGc(page));
  }
  return heap;
}

const server = await serveStatic(DIST);
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${server.url}?backend=wasm`);
  await waitReady(page, 600_000);
  let base = { threshold: 0, stages: 0 };
  if (values.actions === 'view') {
    await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
    await page.waitForFunction(
      () => {
        const s = (
          window as unknown as {
            __lors: {
              session: { getState(): { photo: { id: number } | null; results: Record<string, { imageId: number }> } };
            };
          }
        ).__lors.session.getState();
        return !!s.photo && s.results.lors?.imageId === s.photo.id && s.results.vanilla?.imageId === s.photo.id;
      },
      undefined,
      { timeout: 600_000, polling: 100 },
    );
    base = {
      threshold: Number(await page.locator(tid('score-threshold')).inputValue()),
      stages: Number(await page.locator(tid('stage-scrubber')).getAttribute('max')),
    };
  }
  const snaps = [];
  for (let p = 0; p < phases; p++) {
    const t0 = Date.now();
    let heap: string;
    if (values.actions === 'view') heap = (await viewMoves(page, moves, base)).join(' ');
    else {
      const r = await soak(page, {
        moves,
        drops,
        actions: values.actions as SoakActions,
        readEvery: 10,
        code: false,
        log: (l) => console.log(`  ${l}`),
      });
      heap = r.readings.map((x) => x.heapBytes).join(' ');
    }
    console.log(`phase ${p + 1} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${moves} moves; heap after GC ${heap}`);
    const text = await takeSnapshot(page);
    writeFileSync(join(values.out!, `phase${p + 1}.heapsnapshot`), text);
    snaps.push(parseSnapshot(text));
    const s = snaps.at(-1)!;
    console.log(`  snapshot: ${s.count} nodes, ${(s.totalSize / 2 ** 20).toFixed(3)} MiB self size`);
    if (snaps.length >= 2) console.log(formatDiff(diffSnapshots(snaps.at(-2)!, s), moves));
  }
} finally {
  await browser.close();
  await server.close();
}
