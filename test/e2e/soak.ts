/**
 * Long use: many control moves and photo drops in one page, each waited for. Every `readEvery` moves, in the same
 * app state each time, a reading after a forced GC: the worker's live tensors (its `stats` request), the page's
 * JS heap (Chromium's performance.memory; precise and collectable with --enable-precise-memory-info
 * --js-flags=--expose-gc, which the e2e and the bench pass; Chromium gives workers no performance.memory, so the
 * worker is watched through its tensors) and the compiled code in it (a heap snapshot). The verdict (src/cli/soakVerdict.ts) leaves the warm-up out and judges
 * the heap by the slope of the other readings, never by one start/end pair.
 *
 * Two kinds of moves: 'slider' moves the LORS r_A slider between its maximum and half of it (the LORS decoder is
 * cut and re-run); 'mixed' cycles through the controls a user touches (sliders, stage scrubber, agreement view,
 * score threshold, LORS source), ten moves per cycle, back where the cycle started.
 * The e2e runs a short slider soak; `npm run bench` a longer one and, with --long-soak, a long mixed one.
 */
import type { CDPSession, Page } from 'playwright-core';
import {
  latencyDrift,
  soakVerdict,
  type SoakReading,
  type SoakVerdict,
  type SoakVerdictOptions,
} from '../../src/cli/soakVerdict';
import { codeBytes, takeHeapSnapshot } from './heapSnapshot';
import { assert, dropFile, setRange, tid, waitReady, type Test } from './page';

export type SoakActions = 'slider' | 'mixed';

export interface SoakOptions {
  moves: number;
  drops: number;
  actions?: SoakActions;
  /** Moves between readings (default 10; a multiple of the mixed cycle's 10 moves for 'mixed'). */
  readEvery?: number;
  /** Measure the compiled code at each reading (a heap snapshot; default true), so the verdict can leave it out. */
  code?: boolean;
  verdict?: SoakVerdictOptions;
  log?: (s: string) => void;
}

export interface SoakReport {
  actions: SoakActions;
  moves: number;
  drops: number;
  readEvery: number;
  /** After the first photo (moves 0), then every readEvery moves, in the same app state. */
  readings: SoakReading[];
  /** Ms from each move to its result, and from each drop to both decoders' results, in order. */
  moveMs: number[];
  dropMs: number[];
  /** Moves done before each drop. */
  dropAtMove: number[];
  /** Least-squares drift after the warm-up, as a fraction of the fitted first value (null: too few). */
  latencyDrift: { move: number | null; drop: number | null };
  verdict: SoakVerdict;
  wallS: number;
}

type W = {
  gc?: () => void;
  __lors: {
    stats(): Promise<{ numTensors: number }>;
    session: {
      getState(): {
        photo: { id: number } | null;
        results: Record<string, { run: number; imageId: number; stage?: number }>;
      };
    };
  };
};

const PHOTOS = ['chelsea.jpg', 'coffee.jpg'];
/** Moves per cycle of the mixed actions; a reading is taken between cycles. */
export const MIXED_CYCLE = 10;

/**
 * The worker's tensors and the page's heap, after a full GC where Chromium exposes one, and the compiled code in that
 * heap (a heap snapshot through `cdp`, when given).
 */
async function read(page: Page, moves: number, cdp: CDPSession | null): Promise<SoakReading> {
  const r = await page.evaluate(async (moves) => {
    const w = window as unknown as W;
    w.gc?.();
    w.gc?.();
    const s = await w.__lors.stats();
    const heap = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize;
    return { moves, tensors: s.numTensors, heapBytes: heap ?? null };
  }, moves);
  return cdp ? { ...r, codeBytes: codeBytes(await takeHeapSnapshot(cdp)) } : r;
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

/** The LORS panel's run count for the current photo (0: none yet). */
async function lorsRun(page: Page): Promise<number> {
  return page.evaluate(() => {
    const s = (window as unknown as W).__lors.session.getState();
    const r = s.results.lors;
    return r && r.imageId === s.photo?.id ? r.run : 0;
  });
}

/** Does `act`, then waits until the LORS panel has a newer run of the current photo. */
async function lorsRerun(page: Page, act: () => Promise<void>): Promise<void> {
  const run = await lorsRun(page);
  await act();
  await page.waitForFunction(
    (r) => {
      const s = (window as unknown as W).__lors.session.getState();
      const l = s.results.lors;
      return !!l && l.imageId === s.photo?.id && l.run > r;
    },
    run,
    { timeout: 120_000, polling: 20 },
  );
}

async function toStage(page: Page, stage: number): Promise<void> {
  await setRange(page, 'stage-scrubber', stage);
  await page.waitForFunction(
    (s) =>
      ['vanilla', 'lors'].every(
        (m) => document.querySelector(`[data-testid="canvas-${m}"]`)?.getAttribute('data-stage') === String(s),
      ),
    stage,
    { timeout: 120_000, polling: 20 },
  );
}

async function toThreshold(page: Page, t: number): Promise<void> {
  await setRange(page, 'score-threshold', t);
  await page.waitForFunction(
    (v) => document.querySelector('[data-testid="score-threshold-value"]')?.textContent === v,
    t.toFixed(2),
    { timeout: 30_000, polling: 20 },
  );
}

async function toAgreement(page: Page, on: boolean): Promise<void> {
  const box = page.locator(tid('toggle-agreement'));
  if (on) await box.check();
  else await box.uncheck();
  // A locator's wait holds no handle (page.waitForSelector returns an ElementHandle that would keep the summary's
  // DOM alive through DevTools for the whole soak).
  await page.locator(tid('agreement-summary')).waitFor({ state: on ? 'attached' : 'detached', timeout: 30_000 });
}

interface Ranges {
  maxA: number;
  maxT: number;
  stages: number;
  threshold: number;
  compressed: boolean;
}

async function ranges(page: Page): Promise<Ranges> {
  const num = async (id: string, a: string) => Number(await page.locator(tid(id)).getAttribute(a));
  return {
    maxA: await num('slider-rank-a', 'max'),
    maxT: await num('slider-rank-t', 'max'),
    stages: await num('stage-scrubber', 'max'),
    threshold: Number(await page.locator(tid('score-threshold')).inputValue()),
    compressed: await page.locator(tid('lors-source-vanilla')).isEnabled(),
  };
}

const half = (max: number) => Math.max(1, Math.floor(max / 2));

/**
 * Move `i` (0-based). 'slider': r_A to half on even moves, back to its maximum on odd ones. 'mixed': move i % 10 of
 * a cycle that ends where it started; every fifth cycle switches the LORS source instead of moving r_T.
 */
async function move(page: Page, actions: SoakActions, i: number, r: Ranges): Promise<void> {
  const slider = (id: string, v: number) => lorsRerun(page, () => setRange(page, id, v));
  if (actions === 'slider') return slider('slider-rank-a', i % 2 ? r.maxA : half(r.maxA));
  const cycle = Math.floor(i / MIXED_CYCLE);
  const source = r.compressed && cycle % 5 === 4;
  switch (i % MIXED_CYCLE) {
    case 0:
      return slider('slider-rank-a', half(r.maxA));
    case 1:
      return slider('slider-rank-a', r.maxA);
    case 2:
      return toStage(page, Math.ceil(r.stages / 2));
    case 3:
      return toStage(page, r.stages);
    case 4:
      return toAgreement(page, true);
    case 5:
      return toAgreement(page, false);
    case 6:
      return toThreshold(page, 0.5);
    case 7:
      return toThreshold(page, r.threshold);
    case 8:
      return source
        ? lorsRerun(page, () => page.locator(tid('lors-source-vanilla')).check())
        : slider('slider-rank-t', half(r.maxT));
    default:
      return source
        ? lorsRerun(page, () => page.locator(tid('lors-source-trained')).check())
        : slider('slider-rank-t', r.maxT);
  }
}

/**
 * `moves` moves with a photo drop every moves/drops moves and a reading every `readEvery` moves (an even count for
 * 'slider', whole cycles for 'mixed': each reading sees r_A at its maximum and the cycle's starting state).
 */
export async function soak(page: Page, o: SoakOptions): Promise<SoakReport> {
  const t0 = Date.now();
  const actions = o.actions ?? 'slider';
  const readEvery = o.readEvery ?? 10;
  const step = actions === 'mixed' ? MIXED_CYCLE : 2;
  if (readEvery % step !== 0 || o.moves % readEvery !== 0) {
    throw new Error(`soak: readEvery ${readEvery} must divide the ${o.moves} moves and be a multiple of ${step}`);
  }
  await drop(page, 0);
  const r = await ranges(page);
  // Every reading sees r_A at its maximum: start there.
  if (Number(await page.locator(tid('slider-rank-a')).inputValue()) !== r.maxA) {
    await lorsRerun(page, () => setRange(page, 'slider-rank-a', r.maxA));
  }
  const cdp = o.code === false ? null : await page.context().newCDPSession(page);
  await cdp?.send('HeapProfiler.enable');
  const readings: SoakReading[] = [await read(page, 0, cdp)];
  const moveMs: number[] = [],
    dropMs: number[] = [],
    dropAtMove: number[] = [];
  const dropAt = async (moves: number) => {
    dropAtMove.push(moves);
    dropMs.push(await drop(page, ++drops));
  };
  const every = Math.max(1, Math.floor(o.moves / Math.max(1, o.drops)));
  let drops = 0;
  for (let i = 0; i < o.moves; i++) {
    const t = Date.now();
    await move(page, actions, i, r);
    moveMs.push(Date.now() - t);
    if ((i + 1) % every === 0 && drops < o.drops) await dropAt(i + 1);
    if ((i + 1) % readEvery === 0) {
      readings.push(await read(page, i + 1, cdp));
      const last = readings.at(-1)!;
      if ((i + 1) % 50 === 0 || i + 1 === o.moves) {
        o.log?.(`soak: ${i + 1}/${o.moves} moves, ${drops} drops, tensors ${last.tensors}, heap ${last.heapBytes} B`);
      }
    }
  }
  while (drops < o.drops) await dropAt(o.moves);
  await cdp?.detach();
  const round = (x: number | null | undefined) => (x === null || x === undefined ? null : Number(x.toFixed(4)));
  const verdict = soakVerdict(readings, o.verdict);
  const warm = verdict.warmupMoves;
  return {
    actions,
    moves: o.moves,
    drops: o.drops,
    readEvery,
    readings,
    moveMs,
    dropMs,
    dropAtMove,
    latencyDrift: {
      move: round(latencyDrift(moveMs.slice(warm))?.drift),
      drop: round(latencyDrift(dropMs.filter((_, j) => dropAtMove[j]! > warm))?.drift),
    },
    verdict,
    wallS: Number(((Date.now() - t0) / 1000).toFixed(1)),
  };
}

/** One line: tensors, the heap slope with its interval, the verdict. */
export function soakSummary(r: SoakReport): string {
  const v = r.verdict;
  const h = v.heap;
  const kb = (b: number) => (b / 1024).toFixed(2);
  const heap =
    h.slopeBytesPerMove === null
      ? 'page heap unmeasured'
      : `page heap${h.measure === 'js-heap-less-code' ? ' less compiled code' : ''} ` +
        `${(h.fittedStartBytes! / 2 ** 20).toFixed(2)} → ${(h.fittedEndBytes! / 2 ** 20).toFixed(2)} MiB ` +
        `(fit), slope ${kb(h.slopeBytesPerMove)} KiB/move ± ${kb(h.slopeStdErr!)} (95%: ${kb(h.slopeCi95![0])}…` +
        `${kb(h.slopeCi95![1])}), growth ${(100 * h.growth!).toFixed(1)}% (95% up to ${(100 * h.growthCi95![1]).toFixed(1)}%): ${h.status}` +
        (h.codeSlopeBytesPerMove === null ? '' : `; compiled code ${kb(h.codeSlopeBytesPerMove)} KiB/move`);
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  return (
    `soak (${r.actions}, ${r.moves} moves, ${r.drops} drops, ${r.wallS} s; warm-up ${v.warmupMoves} moves left out): ` +
    `worker tensors ${v.tensors.min}–${v.tensors.max}; ${heap}; latency drift move ${pct(r.latencyDrift.move)}, ` +
    `drop ${pct(r.latencyDrift.drop)}: ${v.ok ? 'ok' : `FAIL (${v.reasons.join('; ')})`}`
  );
}

export const soakTests: Test[] = [
  {
    name: "soak on wasm: 30 slider moves and 10 photo drops leave the worker's tensor count unchanged",
    timeoutMs: 300_000,
    async fn({ url }, page) {
      await page.goto(`${url}?backend=wasm`);
      await waitReady(page, 180_000);
      // 30 moves lie inside the page's warm-up (V8 still compiles the moves' code: a few kB per move, see
      // SOAK_WARMUP_MOVES), so only a gross leak fails it: a certain rise of 10% in 20 moves (about 25 kB per move,
      // e.g. a photo's pixels kept per drop). The bench's soak judges the heap closely.
      // No code figures (a heap snapshot per reading): at this threshold compiled code (1–2 kB per move) cannot
      // matter, and the test stays within its time on a slow machine.
      const r = await soak(page, {
        moves: 30,
        drops: 10,
        readEvery: 2,
        code: false,
        verdict: { warmupMoves: 10, minGrowth: 0.1, requireConclusive: false },
      });
      console.log(`    ${soakSummary(r)}`);
      assert(r.verdict.ok, r.verdict.reasons.join('; '));
      // No warm-up for tensors: the count must not move from the first photo on.
      const counts = [...new Set(r.readings.map((x) => x.tensors))];
      assert(counts.length === 1, `worker tensors over the soak: ${r.readings.map((x) => x.tensors).join(', ')}`);
      assert(r.readings.length === 16, `${r.readings.length} readings`);
    },
  },
];
