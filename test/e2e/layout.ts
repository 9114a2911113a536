/**
 * The comparison at a glance (wasm): at 1366×768 both overlays and the sliders are on the first screen after a drop;
 * the agreement view; the stage scrubber (stage 6 is the default view).
 */
import type { Page } from 'playwright-core';
import { assert, attr, dropFile, setRange, shot, SHOTS, text, tid, waitBoxes, waitReady, type Test } from './page';
import { join } from 'node:path';

type Det = { box: number[]; label: number; score: number };
type Results = Record<string, { detections: Det[]; stages?: Det[][]; stage?: number; run: number } | undefined>;

const results = (page: Page) =>
  page.evaluate(
    () =>
      (window as unknown as { __lors: { session: { getState(): { results: unknown } } } }).__lors.session.getState()
        .results as Results,
  );

/** Asserts that an element lies wholly inside the viewport (no scrolling needed to see it). */
async function inViewport(page: Page, testid: string) {
  const vp = page.viewportSize()!;
  const b = await page.locator(tid(testid)).boundingBox();
  assert(b, `${testid} is not rendered`);
  const ok = b.x >= 0 && b.y >= 0 && b.x + b.width <= vp.width + 0.5 && b.y + b.height <= vp.height + 0.5;
  assert(
    ok,
    `${testid} is not wholly on the first screen: x ${b.x.toFixed(0)}, y ${b.y.toFixed(0)}, ` +
      `${b.width.toFixed(0)}×${b.height.toFixed(0)} in ${vp.width}×${vp.height}`,
  );
  return b;
}

const pixels = (page: Page, model: string) =>
  page.locator(tid(`canvas-${model}`)).evaluate((c) => (c as HTMLCanvasElement).toDataURL());

async function waitStage(page: Page, stage: number) {
  await page.waitForFunction(
    (s) =>
      ['vanilla', 'lors'].every(
        (m) => document.querySelector(`[data-testid="canvas-${m}"]`)?.getAttribute('data-stage') === String(s),
      ),
    stage,
    { timeout: 60_000 },
  );
}

export const layout: Test[] = [
  {
    name:
      'layout on wasm: at 1366×768 both overlays and the sliders are on the first screen; ' +
      'agreement view; stage scrubber',
    timeoutMs: 300_000,
    async fn({ url }, page) {
      await page.setViewportSize({ width: 1366, height: 768 });
      await page.goto(`${url}?backend=wasm`);
      await waitReady(page, 180_000);
      await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
      await waitBoxes(page, 'vanilla', 'chelsea.jpg');
      await waitBoxes(page, 'lors', 'chelsea.jpg');
      assert((await page.evaluate(() => window.scrollY)) === 0, 'the page scrolled');
      const v = await inViewport(page, 'canvas-vanilla');
      const l = await inViewport(page, 'canvas-lors');
      assert(Math.abs(v.y - l.y) < 2 && l.x > v.x + v.width - 1, 'the two overlays are not side by side');
      for (const id of ['score-threshold', 'stage-scrubber', 'toggle-agreement', 'slider-rank-a'])
        await inViewport(page, id);
      console.log(
        `    overlays at y ${v.y.toFixed(0)}–${(v.y + v.height).toFixed(0)} of 768, ` +
          `${v.width.toFixed(0)} px wide each`,
      );
      await page.screenshot({ path: join(SHOTS, 'layout-1366x768.png') });

      // Agreement view: a summary, and the boxes drawn differently.
      const before = { vanilla: await pixels(page, 'vanilla'), lors: await pixels(page, 'lors') };
      // (by keyboard, as the stage scrubber below: the controls are plain focusable inputs)
      await page.locator(tid('toggle-agreement')).focus();
      await page.keyboard.press('Space');
      await page.waitForSelector(tid('agreement-summary'), { timeout: 5_000 });
      assert(
        (await page.locator(`${tid('agreement-summary')}[role="status"]`).count()) === 1,
        'the summary is not announced (role=status)',
      );
      const summary = await text(page, 'agreement-summary');
      const agree = Number(await attr(page, 'agreement-summary', 'data-agree'));
      const total = Number(await attr(page, 'agreement-summary', 'data-total'));
      const nv = Number(await attr(page, 'canvas-vanilla', 'data-boxes')),
        nl = Number(await attr(page, 'canvas-lors', 'data-boxes'));
      const ov = Number(await attr(page, 'canvas-vanilla', 'data-only')),
        ol = Number(await attr(page, 'canvas-lors', 'data-only'));
      assert(
        summary.includes(`agree on ${agree} of ${total}`),
        `summary "${summary}" (agree ${agree}, total ${total})`,
      );
      assert(
        agree + ov === nv && agree + ol === nl && total === agree + ov + ol,
        `agreement counts do not add up: agree ${agree}, only vanilla ${ov} of ${nv}, ` +
          `only LORS ${ol} of ${nl}, total ${total}`,
      );
      const after = { vanilla: await pixels(page, 'vanilla'), lors: await pixels(page, 'lors') };
      assert(
        after.vanilla !== before.vanilla || after.lors !== before.lors,
        'the agreement view draws the same pixels',
      );
      await inViewport(page, 'canvas-vanilla');
      console.log(`    ${summary}`);
      await page.screenshot({ path: join(SHOTS, 'layout-agreement-1366x768.png') });
      await page.locator(tid('toggle-agreement')).uncheck();
      await page.waitForSelector(tid('agreement-summary'), { state: 'detached', timeout: 5_000 });
      assert(
        (await pixels(page, 'vanilla')) === before.vanilla,
        'the plain view did not come back after the agreement toggle',
      );

      // Stage scrubber: stage 1 shows other predictions, without re-running the backbone; stage 6 is the default.
      await setRange(page, 'score-threshold', 0);
      await page.waitForFunction(
        () => document.querySelector('[data-testid="score-threshold-value"]')?.textContent === '0.00',
      );
      const dflt = await results(page);
      const dfltPixels = { vanilla: await pixels(page, 'vanilla'), lors: await pixels(page, 'lors') };
      const backbone = await text(page, 'latency-backbone');
      assert((await attr(page, 'canvas-vanilla', 'data-stage')) === '6', 'default stage is not 6');
      await page.locator(tid('stage-scrubber')).focus();
      await page.keyboard.press('Home');
      await waitStage(page, 1);
      assert((await text(page, 'stage-value')) === '1', `stage shown: ${await text(page, 'stage-value')}`);
      const label = await attr(page, 'canvas-lors', 'aria-label');
      assert(/at stage 1 of 6/.test(label ?? ''), `the LORS canvas's label does not say the stage: "${label}"`);
      // One decoder run holds every stage: the scrubber redraws from it (no new run).
      const s1 = await results(page);
      assert(
        s1.vanilla?.stages?.length === 6 && s1.lors?.stages?.length === 6,
        'the results do not hold the six stages',
      );
      assert(s1.vanilla.run === dflt.vanilla?.run && s1.lors.run === dflt.lors?.run, 'a decoder re-ran for a stage');
      const same = (a: Det[] | undefined, b: Det[] | undefined) => JSON.stringify(a) === JSON.stringify(b);
      assert(
        same(s1.vanilla.stages[5], s1.vanilla.detections) && same(s1.lors.stages[5], s1.lors.detections),
        "the last stored stage is not the decoders' output",
      );
      assert(
        !same(s1.vanilla.stages[0], dflt.vanilla?.detections) && !same(s1.lors.stages[0], dflt.lors?.detections),
        "stage 1 holds the same detections as the decoders' output",
      );
      assert((await text(page, 'latency-backbone')) === backbone, 'the backbone re-ran for a stage change');
      assert(
        (await pixels(page, 'vanilla')) !== dfltPixels.vanilla && (await pixels(page, 'lors')) !== dfltPixels.lors,
        'stage 1 draws the same boxes as the default view',
      );
      assert(
        (await page.locator(tid('stage-badge-lors')).count()) === 1,
        'no stage badge on the LORS panel at stage 1',
      );
      await shot(page, 'l2-stage-1');
      await page.keyboard.press('End');
      await waitStage(page, 6);
      const s6 = await results(page);
      assert(
        same(s6.vanilla?.detections, dflt.vanilla?.detections) && same(s6.lors?.detections, dflt.lors?.detections),
        'stage 6 differs from the default view',
      );
      assert(
        (await pixels(page, 'vanilla')) === dfltPixels.vanilla && (await pixels(page, 'lors')) === dfltPixels.lors,
        'stage 6 draws other boxes than the default view',
      );
      console.log(
        `    stage 1: vanilla top ${s1.vanilla.stages[0]?.[0]?.score.toFixed(3)}, ` +
          `LORS top ${s1.lors.stages[0]?.[0]?.score.toFixed(3)}; stage 6 = default ` +
          `(${s6.vanilla?.detections.length} + ${s6.lors?.detections.length} detections)`,
      );

      // A square photo (taller on screen than chelsea's 3:2) still fits: it is shown whole, not cut or pushed down.
      await setRange(page, 'score-threshold', 0.15);
      await dropFile(page, { url: 'samples/astronaut.jpg', name: 'astronaut.jpg', type: 'image/jpeg' });
      await waitBoxes(page, 'vanilla', 'astronaut.jpg');
      await waitBoxes(page, 'lors', 'astronaut.jpg');
      for (const m of ['vanilla', 'lors']) await inViewport(page, `canvas-${m}`);

      // With NanoDet's panel, all three overlays still fit.
      await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
      await waitBoxes(page, 'lors', 'chelsea.jpg');
      await page.locator(tid('toggle-nanodet')).check();
      await waitBoxes(page, 'nanodet', 'chelsea.jpg', 60_000);
      for (const m of ['vanilla', 'lors', 'nanodet']) await inViewport(page, `canvas-${m}`);
      await page.screenshot({ path: join(SHOTS, 'layout-3-panels-1366x768.png') });
    },
  },
];
