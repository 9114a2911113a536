/**
 * Long use: many LORS slider moves and photo drops in one page. Measures, after a warm-up and at the end, the
 * worker's live tensors (its `stats` request) and the page's JS heap (Chromium's performance.memory; precise and
 * after a full GC when Chromium runs with --enable-precise-memory-info --js-flags=--expose-gc, as the bench does;
 * Chromium gives workers no performance.memory), the heap every 50 moves, and the time per slider move and per drop.
 * The e2e runs a short soak (tensor count must not move); `npm run bench` a long one (test/e2e/bench-browser.ts).
 */
import type { Page } from 'playwright-core';
import { assert, dropFile, setRange, waitReady, type Test } from './page';

export interface SoakPoint {
  tensors: number;
  pageHeapBytes: number | null;
}

export interface SoakReport {
  moves: number;
  drops: number;
  start: SoakPoint;
  end: SoakPoint;
  /** Mean ms from a slider move to the LORS panel's new run, over the first and the last `window` moves. */
  moveMs: { start: number; end: number; window: number };
  /** Mean ms from a drop to both decoders' results, over the first and the last `window` drops. */
  dropMs: { start: number; end: number; window: number };
  /** Page heap (after GC) at the start, every 50 moves, and at the end. */
  heapSamples: { moves: number; pageHeapBytes: number | null }[];
  wallS: number;
}

type W = {
  gc?: () => void;
  __lors: {
    stats(): Promise<{ numTensors: number }>;
    session: {
      getState(): { photo: { id: number } | null; results: Record<string, { run: number; imageId: number }> };
    };
  };
};

const PHOTOS = ['chelsea.jpg', 'coffee.jpg'];

async function lorsRun(page: Page): Promise<number> {
  return page.evaluate(() => {
    const s = (window as unknown as W).__lors.session.getState();
    const r = s.results.lors;
    return r && r.imageId === s.photo?.id ? r.run : 0;
  });
}

/** The worker's tensors and the page's heap, after a GC where Chromium exposes one. */
async function measure(page: Page): Promise<SoakPoint> {
  return page.evaluate(async () => {
    const w = window as unknown as W;
    w.gc?.();
    const s = await w.__lors.stats();
    const heap = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize;
    return { tensors: s.numTensors, pageHeapBytes: heap ?? null };
  });
}

async function drop(page: Page, i: number): Promise<number> {
  const name = PHOTOS[i % PHOTOS.length]!;
  const before = await page.evaluate(() => (window as unknown as W).__lors.session.getState().photo?.id ?? -1);
  const t0 = Date.now();
  await dropFile(page, { url: `samples/${name}`, name, type: 'image/jpeg' });
  await page.waitForFunction(
    (prev) => {
      const s = (window as unknown as W).__lors.session.getState();
      return (
        s.photo !== null &&
        s.photo.id !== prev &&
        s.results.vanilla?.imageId === s.photo.id &&
        s.results.lors?.imageId === s.photo.id
      );
    },
    before,
    { timeout: 120_000, polling: 20 },
  );
  return Date.now() - t0;
}

async function move(page: Page, rankA: number): Promise<number> {
  const run = await lorsRun(page);
  const t0 = Date.now();
  await setRange(page, 'slider-rank-a', rankA);
  await page.waitForFunction(
    (r) => {
      const s = (window as unknown as W).__lors.session.getState();
      const l = s.results.lors;
      return !!l && l.imageId === s.photo?.id && l.run > r;
    },
    run,
    { timeout: 120_000, polling: 20 },
  );
  return Date.now() - t0;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Untimed moves and drops before the start point: one-time allocations (lazily compiled code, caches) settle. */
export const SOAK_WARMUP = { moves: 20, drops: 6 };

/**
 * `moves` slider moves (r_A between its maximum and half of it, each waited for) with a photo drop every
 * moves/drops moves, after SOAK_WARMUP (`warmup: false`: a first photo and two moves only). Starts and ends on the
 * same photo and the same slider value, so the live tensors must match.
 */
export async function soak(
  page: Page,
  o: { moves: number; drops: number; warmup?: boolean; window?: number; log?: (s: string) => void },
): Promise<SoakReport> {
  const t0 = Date.now();
  const max = Number(await page.locator('[data-testid="slider-rank-a"]').getAttribute('max'));
  const ranks = [Math.max(1, Math.floor(max / 2)), max];
  const warm = o.warmup === false ? { moves: 2, drops: 0 } : SOAK_WARMUP;
  for (let d = 0; d < warm.drops; d++) await drop(page, d + 1);
  await drop(page, 0);
  for (let i = 0; i < warm.moves; i++) await move(page, ranks[i % 2]!);
  if (warm.moves % 2 === 1) await move(page, ranks[1]!);
  const start = await measure(page);
  const heapSamples: SoakReport['heapSamples'] = [{ moves: 0, pageHeapBytes: start.pageHeapBytes }];
  const moveMs: number[] = [],
    dropMs: number[] = [];
  const every = Math.max(1, Math.floor(o.moves / Math.max(1, o.drops)));
  let drops = 0;
  for (let i = 0; i < o.moves; i++) {
    moveMs.push(await move(page, ranks[i % 2]!));
    if ((i + 1) % every === 0 && drops < o.drops) dropMs.push(await drop(page, ++drops));
    if ((i + 1) % 50 === 0 && i + 1 < o.moves) {
      heapSamples.push({ moves: i + 1, pageHeapBytes: (await measure(page)).pageHeapBytes });
      o.log?.(`soak: ${i + 1}/${o.moves} moves, ${drops} drops, page heap ${heapSamples.at(-1)!.pageHeapBytes} B`);
    }
  }
  while (drops < o.drops) dropMs.push(await drop(page, ++drops));
  // Back to where the start was measured: photo 0, r_A at its maximum.
  if (drops % PHOTOS.length !== 0) await drop(page, 0);
  if (o.moves % 2 === 1) await move(page, ranks[1]!);
  const end = await measure(page);
  heapSamples.push({ moves: o.moves, pageHeapBytes: end.pageHeapBytes });
  const win = o.window ?? Math.min(10, Math.floor(o.moves / 2));
  const dwin = Math.min(10, Math.floor(dropMs.length / 2));
  const r1 = (x: number) => Number(x.toFixed(1));
  return {
    moves: o.moves,
    drops: o.drops,
    start,
    end,
    moveMs: { start: r1(mean(moveMs.slice(0, win))), end: r1(mean(moveMs.slice(-win))), window: win },
    dropMs: { start: r1(mean(dropMs.slice(0, dwin))), end: r1(mean(dropMs.slice(-dwin))), window: dwin },
    heapSamples,
    wallS: r1((Date.now() - t0) / 1000),
  };
}

export const soakTests: Test[] = [
  {
    name: "soak on wasm: 30 slider moves and 10 photo drops leave the worker's tensor count unchanged",
    timeoutMs: 240_000,
    async fn({ url }, page) {
      await page.goto(`${url}?backend=wasm`);
      await waitReady(page, 180_000);
      const r = await soak(page, { moves: 30, drops: 10, warmup: false });
      console.log(
        `    tensors ${r.start.tensors} → ${r.end.tensors}; move ${r.moveMs.start} → ${r.moveMs.end} ms, ` +
          `drop ${r.dropMs.start} → ${r.dropMs.end} ms; ${r.wallS} s`,
      );
      assert(
        r.end.tensors === r.start.tensors,
        `worker tensors ${r.start.tensors} at the start, ${r.end.tensors} at the end`,
      );
    },
  },
];
