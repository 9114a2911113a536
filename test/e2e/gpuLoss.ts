/**
 * WebGPU device loss (driver reset, GPU process crash, …), simulated by destroying the worker's device from the test
 * through tfjs's engine global (`_tfengine` on the worker's global scope): no hook ships in the app. The app must
 * reload the models on wasm without a page reload, say so, and re-run the current photo.
 *
 * SwiftShader's WebGPU is slow, so the flow is tiny: the device is destroyed as soon as the worker runs on WebGPU
 * (models loaded, warm-up under way) with a photo waiting. Through the recovery the page records its animation frames
 * and the ticks of a timer (its event loop); the recovered panels must show what a fresh page on wasm finds.
 */
import type { Page } from 'playwright-core';
import type { Detection } from '../../src/model/types';
import { assert, dropFile, setRange, text, tid, waitBoxes, waitReady, type Test } from './page';

type W = {
  __marker?: number;
  __lors: {
    stats(): Promise<{ backend: string; numTensors: number }>;
    session: { getState(): { results: Record<string, { detections: Detection[] } | undefined> } };
  };
};

/**
 * Longest gap of the page's event loop (a 50 ms timer) through a GPU loss and the switch to wasm: input and state
 * updates must keep being handled. The goal is 1 s; seen on this shared 2-core VM: 0.09–0.82 s (the longest near the
 * end, when the recovered results are drawn), so the limit leaves room for a busier machine.
 */
const MAX_EVENT_LOOP_GAP_MS = 2_000;
/**
 * Longest gap between animation frames on a real GPU: the 1 s. Not asserted on SwiftShader (headless
 * Chromium's software WebGPU, detected from the adapter's info): it runs the lost device's queued work on the CPU in
 * the GPU process, which composites the page too; seen on this VM: gaps of 1.75 s, 15.2 s, 63.6 s and over 120 s,
 * while the page's event loop never stalled for more than 0.82 s. There the gap is measured and logged.
 */
const MAX_FRAME_GAP_MS = 1_000;

/** The decoders' detections of the shown photo (all of them: the threshold is applied when drawing). */
const detectionsOf = (page: Page) =>
  page.evaluate(() => {
    const r = (window as unknown as W).__lors.session.getState().results;
    return { vanilla: r.vanilla?.detections ?? [], lors: r.lors?.detections ?? [] };
  });

/** Same boxes, labels and scores, in the same order (within float noise of two runs of one backend). */
function sameDetections(a: Detection[], b: Detection[]): string | null {
  if (a.length !== b.length) return `${a.length} vs ${b.length} detections`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!,
      y = b[i]!;
    if (
      x.label !== y.label ||
      Math.abs(x.score - y.score) > 1e-4 ||
      x.box.some((v, k) => Math.abs(v - y.box[k]!) > 0.01)
    )
      return `detection ${i}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`;
  }
  return null;
}

export const gpuLoss: Test[] = [
  {
    name: "webgpu device loss: the worker's device is destroyed; fallback to wasm with a notice, the photo re-runs",
    timeoutMs: 300_000,
    async fn({ url }, page) {
      await page.goto(`${url}?backend=webgpu`);
      await page.evaluate(() => {
        (window as unknown as W).__marker = 1;
      });
      await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
      await page.waitForFunction(
        () => document.querySelector('[data-testid="backend"]')?.textContent === 'WebGPU',
        undefined,
        { timeout: 240_000, polling: 100 },
      );
      const worker = page.workers().find((w) => w.url().includes('detector.worker'));
      assert(
        worker,
        `no detector worker among ${page
          .workers()
          .map((w) => w.url())
          .join(', ')}`,
      );
      // Which WebGPU this is (asked before the loss: a stalled GPU process could keep the answer waiting).
      const adapter = await page.evaluate(async () => {
        type Info = { vendor: string; architecture: string; description: string };
        const adapter = (await navigator.gpu?.requestAdapter()) as unknown as { info?: Info } | null;
        const info = adapter?.info;
        return info ? `${info.vendor} ${info.architecture} ${info.description}` : 'none';
      });
      // From the loss on: every animation frame, every tick of a 50 ms timer (the page's event loop: what controls
      // need to respond) and every status line, with page timestamps. (A string: the bundler would wrap a named
      // function in a helper the page lacks.)
      await page.evaluate(`(() => {
        const rec = (window.__recovery = { t0: performance.now(), frames: [], ticks: [], statuses: [] });
        requestAnimationFrame(function tick(t) {
          rec.frames.push(t);
          if (!window.__recoveryStop) requestAnimationFrame(tick);
        });
        rec.timer = setInterval(() => rec.ticks.push(performance.now()), 50);
        const status = document.querySelector('[data-testid="status"]');
        new MutationObserver(() => rec.statuses.push([performance.now(), status.textContent])).observe(status, {
          subtree: true, childList: true, characterData: true,
        });
      })()`);
      const destroyed = await worker.evaluate(() => {
        type Engine = { backendName: string; registry: Record<string, { device?: { destroy(): void } }> };
        const engine = (self as unknown as { _tfengine?: Engine })._tfengine;
        const device = engine?.registry.webgpu?.device;
        if (!engine || engine.backendName !== 'webgpu' || !device)
          return `no webgpu device (backend ${engine?.backendName})`;
        device.destroy();
        return 'destroyed';
      });
      assert(destroyed === 'destroyed', destroyed);
      // Every status the page shows from now on: the loss must lead to the recovery, not to an error.
      await page.evaluate(() => {
        const seen: string[] = ((window as unknown as { __statuses: string[] }).__statuses = []);
        const status = document.querySelector('[data-testid="status"]')!;
        new MutationObserver(() => seen.push(status.textContent ?? '')).observe(status, {
          subtree: true,
          childList: true,
          characterData: true,
        });
      });
      await page
        .waitForFunction(
          () => /GPU device was lost/.test(document.querySelector('[data-testid="backend-notice"]')?.textContent ?? ''),
          undefined,
          { timeout: 180_000, polling: 250 },
        )
        .catch(async (e: Error) => {
          throw new Error(
            `${e.message}; status "${await text(page, 'status')}", backend "${await text(page, 'backend')}", notice ` +
              `"${await page.locator(tid('backend-notice')).allTextContents()}"`,
          );
        });
      const notice = await text(page, 'backend-notice');
      await setRange(page, 'score-threshold', 0);
      await waitBoxes(page, 'vanilla', 'chelsea.jpg', 120_000);
      await waitBoxes(page, 'lors', 'chelsea.jpg', 120_000);
      assert((await text(page, 'backend')) === 'wasm', `backend after the loss: ${await text(page, 'backend')}`);
      const stats = await page.evaluate(() => (window as unknown as W).__lors.stats());
      assert(stats.backend === 'wasm', `worker backend after the loss: ${stats.backend}`);
      assert((await page.evaluate(() => (window as unknown as W).__marker)) === 1, 'the page was reloaded');
      assert(
        (await page.locator(tid('error')).count()) === 0,
        `error shown: ${await page.locator(tid('error')).allTextContents()}`,
      );
      const statuses = await page.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses);
      assert(
        !statuses.some((s) => /Could not load/.test(s)),
        `an error status was shown: ${statuses.filter((s) => /Could not/.test(s)).join(' | ')}`,
      );
      console.log(
        `    notice: ${notice}\n    chelsea.jpg re-ran on ${stats.backend}: ` +
          `${await text(page, 'count-vanilla')} / ${await text(page, 'count-lors')} boxes`,
      );
      // Frames and timer ticks through the recovery: the longest gaps from the loss until 1 s after the panels were
      // back, and when they began (ms after the loss).
      await page.waitForTimeout(1_000);
      const raw = await page.evaluate(() => {
        type Rec = { t0: number; frames: number[]; ticks: number[]; statuses: [number, string][]; timer: number };
        const w = window as unknown as { __recovery: Rec; __recoveryStop: boolean };
        w.__recoveryStop = true;
        clearInterval(w.__recovery.timer);
        return { ...w.__recovery, now: performance.now() };
      });
      const longest = (ts: number[]) => {
        const t = [raw.t0, ...ts, raw.now];
        let gap = 0,
          at = 0;
        for (let i = 1; i < t.length; i++)
          if (t[i]! - t[i - 1]! > gap) [gap, at] = [t[i]! - t[i - 1]!, t[i - 1]! - raw.t0];
        return { gap: Math.round(gap), at: Math.round(at) };
      };
      const rec = {
        spanMs: Math.round(raw.now - raw.t0),
        frames: { count: raw.frames.length, ...longest(raw.frames) },
        ticks: { count: raw.ticks.length, ...longest(raw.ticks) },
        statuses: raw.statuses.map(([t, s]) => `${Math.round(t - raw.t0)} ms: ${s.slice(0, 60)}`),
      };
      console.log(
        `    over ${rec.spanMs} ms from the loss: ${rec.frames.count} animation frames, longest gap ${rec.frames.gap} ms ` +
          `(from ${rec.frames.at} ms); ${rec.ticks.count} timer ticks, longest gap ${rec.ticks.gap} ms (from ${rec.ticks.at} ms)`,
      );
      console.log(`    statuses: ${rec.statuses.join(' | ')}`);
      assert(
        rec.ticks.gap <= MAX_EVENT_LOOP_GAP_MS,
        `the page's event loop stalled for ${rec.ticks.gap} ms during the recovery (limit ${MAX_EVENT_LOOP_GAP_MS} ms)`,
      );
      if (/swiftshader/i.test(adapter)) {
        console.log(`    frame gap not held to ${MAX_FRAME_GAP_MS} ms: WebGPU is SwiftShader here (${adapter.trim()})`);
      } else {
        assert(
          rec.frames.gap <= MAX_FRAME_GAP_MS,
          `no animation frame for ${rec.frames.gap} ms during the recovery (limit ${MAX_FRAME_GAP_MS} ms)`,
        );
      }
      // The recovered panels show what a fresh page on wasm finds on the same photo.
      const recovered = await detectionsOf(page);
      const fresh = await page.context().newPage();
      try {
        await fresh.goto(`${url}?backend=wasm`);
        await waitReady(fresh, 180_000);
        await setRange(fresh, 'score-threshold', 0);
        await dropFile(fresh, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
        await waitBoxes(fresh, 'vanilla', 'chelsea.jpg', 120_000);
        await waitBoxes(fresh, 'lors', 'chelsea.jpg', 120_000);
        const want = await detectionsOf(fresh);
        for (const m of ['vanilla', 'lors'] as const) {
          const diff = sameDetections(recovered[m], want[m]);
          assert(diff === null, `${m} after the recovery differs from a fresh wasm run: ${diff}`);
        }
        console.log(
          `    recovered panels = a fresh wasm run: ${want.vanilla.length} vanilla, ${want.lors.length} LORS detections`,
        );
      } finally {
        await fresh.close();
      }
    },
  },
];
