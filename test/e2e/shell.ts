/**
 * The page tells its story (wasm): the first visit (placeholders while loading, then a sample runs by itself; a
 * photo the user dropped first wins), accessible names and 24-px targets, a keyboard-only walk, dark mode, the
 * phone layout with touch, settings in the address bar, and the cpu backend's confirmation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { assert, dropFile, ROOT, setRange, SHOTS, text, tid, waitBoxes, waitReady, type Test } from './page';

const SAMPLE = 'chelsea (sample).jpg';

/** Every visible interactive element smaller than 24 × 24 px (a checkbox or radio: its label, the real target). */
async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const els = document.querySelectorAll<HTMLElement>(
      'button, input, select, summary, textarea, [role="slider"], [tabindex]:not([tabindex="-1"])',
    );
    for (const el of els) {
      const input = el instanceof HTMLInputElement ? el : null;
      const target = input && ['checkbox', 'radio', 'file'].includes(input.type) ? (el.closest('label') ?? el) : el;
      const r = target.getBoundingClientRect();
      const style = getComputedStyle(target);
      if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue; // not shown
      if (r.width < 24 - 0.01 || r.height < 24 - 0.01) {
        const name = el.getAttribute('data-testid') ?? el.getAttribute('aria-label') ?? el.textContent?.slice(0, 30);
        out.push(`${el.tagName.toLowerCase()} "${name}" ${r.width.toFixed(1)}×${r.height.toFixed(1)}`);
      }
    }
    return out;
  });
}

/** Asserts an element lies wholly inside the viewport. */
async function inViewport(page: Page, testid: string) {
  const vp = page.viewportSize()!;
  const b = await page.locator(tid(testid)).boundingBox();
  assert(b, `${testid} is not rendered`);
  assert(
    b.x >= -0.5 && b.y >= -0.5 && b.x + b.width <= vp.width + 0.5 && b.y + b.height <= vp.height + 0.5,
    `${testid} is not wholly in the ${vp.width}×${vp.height} viewport: x ${b.x.toFixed(0)}, y ${b.y.toFixed(0)}, ` +
      `${b.width.toFixed(0)}×${b.height.toFixed(0)}`,
  );
  return b;
}

/** Relative luminance of a CSS rgb() colour, and the contrast ratio of two (WCAG). */
function luminance(c: string): number {
  const [r, g, b] = (c.match(/\d+(\.\d+)?/g) ?? []).map(Number).map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}
function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x! + 0.05) / (y! + 0.05);
}

const headlineFigures = () => {
  const m = JSON.parse(readFileSync(join(ROOT, 'public/models/metrics.json'), 'utf8')) as {
    models: Record<string, { metrics: { AP: number } }>;
  };
  return { vanilla: m.models.vanilla!.metrics.AP.toFixed(1), lors: m.models.lors!.metrics.AP.toFixed(1) };
};

export const shell: Test[] = [
  {
    name: 'shell on wasm: first visit (placeholders, headline, a sample runs by itself), names, targets, keyboard, dark',
    timeoutMs: 300_000,
    async fn({ url }, page) {
      await page.setViewportSize({ width: 1366, height: 768 });
      await page.goto(`${url}?backend=wasm`);
      // While loading: no number that is not known yet.
      await page.waitForSelector(tid('lors-readout'));
      if ((await page.locator(`${tid('status')}[data-phase="ready"]`).count()) === 0) {
        assert(
          (await text(page, 'rank-a-value')) === '…',
          `r_A shown while loading: ${await text(page, 'rank-a-value')}`,
        );
        assert((await page.locator(tid('params-total-vanilla')).count()) === 0, 'total params shown while loading');
        assert((await page.locator(tid('lors-note')).count()) === 0, 'the LORS note is shown while loading');
        assert(/loading/.test(await text(page, 'lors-readout')), 'the LORS readout shows a number while loading');
      } else console.log('    (the models were ready before the first look: loading placeholders not seen)');
      // The headline, from metrics.json, on the first screen.
      const fig = headlineFigures();
      await page.waitForSelector(`${tid('headline')}[data-state="known"]`, { timeout: 30_000 });
      const headline = await text(page, 'headline');
      assert(
        headline.includes(`${fig.lors} AP`) && headline.includes(`${fig.vanilla} AP`),
        `headline "${headline}" lacks ${fig.lors} / ${fig.vanilla} AP`,
      );
      await inViewport(page, 'headline');
      // The first sample runs by itself.
      await waitReady(page, 180_000);
      await waitBoxes(page, 'lors', SAMPLE);
      await waitBoxes(page, 'vanilla', SAMPLE);
      // The backend notice is a badge with details, not a banner.
      const badge = await page.locator('.backend-info > summary').boundingBox();
      assert(badge && badge.height < 40, `backend badge is ${badge?.height} px tall`);
      if ((await page.locator(tid('backend-notice')).count()) > 0)
        assert(!(await page.locator(tid('backend-notice')).isVisible()), 'the backend notice shows as a banner');

      // Accessible names: every slider, checkbox, radio and button by its name.
      const named: [string, RegExp][] = [
        ['slider', /^score threshold$/i],
        ['slider', /^decoder stage$/i],
        ['slider', /^rank rA of LORSA$/i],
        ['slider', /^rank rT of LORST$/i],
        ['slider', /^groups K of LORSA$/i],
        ['checkbox', /agreement view/i],
        ['checkbox', /NanoDet's own head/i],
        ['radio', /^trained LORS$/i],
        ['radio', /^vanilla compressed to LORS$/i],
        ['radio', /^one K for all stages$/i],
        ['radio', /^paper's schedule/i],
        ['button', /^Chelsea the cat$/],
        ['button', /^A cup of coffee$/],
        ['combobox', /^use backend$/i],
        ['combobox', /^class$/i],
        ['slider', /^boxes per panel at most$/i],
      ];
      for (const [role, name] of named) {
        const n = await page.getByRole(role as 'slider', { name }).count();
        assert(n === 1, `${n} ${role}s named ${name}`);
      }
      const sliders = await page.getByRole('slider').all();
      assert(sliders.length === 6, `${sliders.length} sliders`);
      for (const s of sliders) {
        const desc = await s.evaluate((el) =>
          (el.getAttribute('aria-describedby') ?? '')
            .split(' ')
            .map((id) => document.getElementById(id)?.textContent ?? '')
            .join(' ')
            .trim(),
        );
        assert(desc.length > 10, `slider ${await s.getAttribute('data-testid')} has no description`);
      }
      const buttons = await page.getByRole('button').all();
      for (const b of buttons) {
        if (!(await b.isVisible())) continue;
        const name = await b.evaluate((el) =>
          (
            el.getAttribute('aria-label') ??
            ((el as HTMLInputElement).labels?.[0]?.textContent || el.textContent) ??
            ''
          ).trim(),
        );
        const alt = await b.evaluate((el) => el.querySelector('img')?.alt ?? '');
        assert(name || alt, `a button without a name: ${await b.evaluate((el) => el.outerHTML.slice(0, 80))}`);
      }
      const small = await smallTargets(page);
      assert(small.length === 0, `targets under 24×24 px: ${small.join('; ')}`);

      // Keyboard only: Tab to r_A, move it with the arrow keys; Tab to a sample and drop it with Enter.
      await page.locator('body').focus();
      const seen: string[] = [];
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press('Tab');
        const id = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');
        seen.push(id);
        if (id === 'slider-rank-a') break;
      }
      assert(seen.at(-1) === 'slider-rank-a', `Tab never reached r_A: ${seen.join(', ')}`);
      for (const id of ['backend-select', 'sample-coffee', 'score-threshold', 'stage-scrubber', 'toggle-agreement'])
        assert(seen.includes(id), `Tab skipped ${id}: ${seen.join(', ')}`);
      const params0 = await page.locator(tid('lors-readout')).getAttribute('data-value');
      const rank0 = Number(await text(page, 'rank-a-value'));
      await page.keyboard.press('ArrowLeft');
      await page.waitForFunction(
        (r) => Number(document.querySelector('[data-testid="rank-a-value"]')?.textContent) === r - 1,
        rank0,
        { timeout: 5_000 },
      );
      const params1 = await page.locator(tid('lors-readout')).getAttribute('data-value');
      assert(Number(params1) < Number(params0), `r_A ${rank0} → ${rank0 - 1}: readout ${params0} → ${params1}`);
      await page.keyboard.press('Shift+Tab');
      for (let i = 0; i < 60; i++) {
        const id = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');
        if (id === 'sample-coffee') break;
        await page.keyboard.press('Shift+Tab');
      }
      await page.keyboard.press('Enter');
      await waitBoxes(page, 'lors', 'coffee.jpg');
      console.log(`    Tab order to r_A: ${seen.filter(Boolean).join(' → ')}`);
      await page.screenshot({ path: join(SHOTS, 'shell-1366x768.png') });

      // Dark mode: the page follows the system; text stays readable.
      await page.emulateMedia({ colorScheme: 'dark' });
      const raw = await page.evaluate(() => {
        const root = getComputedStyle(document.documentElement);
        const panel = getComputedStyle(document.querySelector('.panel')!);
        return {
          bg: root.backgroundColor,
          legend: getComputedStyle(document.querySelector('legend')!).color,
          panelFg: panel.color,
          panelBg: panel.backgroundColor,
        };
      });
      const colours = {
        bg: luminance(raw.bg),
        text: contrast(raw.legend, raw.bg),
        panel: contrast(raw.panelFg, raw.panelBg),
      };
      assert(colours.bg < 0.05, `dark mode: background luminance ${colours.bg.toFixed(3)}`);
      assert(colours.text >= 4.5 && colours.panel >= 4.5, `dark mode contrast ${JSON.stringify(colours)}`);
      // "What is LORS?" opens by keyboard: two sentences and the diagram of the shared and private parts.
      await page.locator('.explainer > summary').focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('.explainer-diagram', { state: 'visible', timeout: 5_000 });
      const explainer = await text(page, 'explainer');
      assert(/share one set of weights/.test(explainer) && /private/.test(explainer), `explainer: "${explainer}"`);
      await page.screenshot({ path: join(SHOTS, 'shell-dark-1366x768.png') });
      await page.keyboard.press('Enter');
      await page.waitForSelector('.explainer-diagram', { state: 'hidden', timeout: 5_000 });
    },
  },
  {
    name: 'shell on wasm: phone 390×844 with touch: one decoder at a time, sliders at hand while the photo shows',
    timeoutMs: 300_000,
    async fn({ browser, url }) {
      const context = await browser.newContext({
        viewport: { width: 390, height: 844 },
        hasTouch: true,
        isMobile: true,
        deviceScaleFactor: 1,
      });
      try {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(`${url}?backend=wasm`);
        await waitReady(page, 180_000);
        await waitBoxes(page, 'lors', SAMPLE);
        // The comparison: one decoder in one place, switched by a tap.
        assert(await page.locator(tid('panel-lors')).isVisible(), 'the LORS panel is hidden');
        assert(!(await page.locator(tid('panel-vanilla')).isVisible()), 'both panels show (stacked)');
        const lorsBox = await page.locator(tid('canvas-lors')).boundingBox();
        await page.locator('.view-option', { hasText: 'Vanilla' }).tap();
        await page.waitForSelector(tid('canvas-vanilla'), { state: 'visible', timeout: 5_000 });
        const vanillaBox = await page.locator(tid('canvas-vanilla')).boundingBox();
        assert(
          lorsBox && vanillaBox && Math.abs(lorsBox.y - vanillaBox.y) < 2 && Math.abs(lorsBox.x - vanillaBox.x) < 2,
          'the two decoders are not shown in the same place',
        );
        await page.locator('.view-option', { hasText: 'LORS' }).tap();
        await page.waitForSelector(tid('canvas-lors'), { state: 'visible', timeout: 5_000 });

        // Scroll the switch to the top: it, the photo and the sliders' strip below the photo are all on screen.
        await page.locator('.view-switch').evaluate((el) => el.scrollIntoView({ block: 'start' }));
        const canvas = await inViewport(page, 'canvas-lors');
        const strip = (await page.locator('.lors-controls').boundingBox())!;
        assert(
          canvas.y + canvas.height <= strip.y + 1,
          `the slider strip (y ${strip.y.toFixed(0)}) covers the photo (bottom ${(canvas.y + canvas.height).toFixed(0)})`,
        );
        await inViewport(page, 'slider-rank-a');
        const params0 = Number(await page.locator(tid('lors-readout')).getAttribute('data-value'));
        const run0 = Number(await text(page, 'run-lors'));
        // A tap on the r_A track at a quarter of its width.
        const s = (await page.locator(tid('slider-rank-a')).boundingBox())!;
        await page.touchscreen.tap(s.x + s.width * 0.25, s.y + s.height / 2);
        await page.waitForFunction(
          (p0) => Number(document.querySelector('[data-testid="lors-readout"]')?.getAttribute('data-value')) !== p0,
          params0,
          { timeout: 5_000 },
        );
        await page.waitForFunction(
          (r0) => Number(document.querySelector('[data-testid="run-lors"]')?.textContent) > r0,
          run0,
          { timeout: 60_000 },
        );
        await inViewport(page, 'canvas-lors');
        await inViewport(page, 'lors-readout');
        const params1 = Number(await page.locator(tid('lors-readout')).getAttribute('data-value'));
        console.log(
          `    r_A tapped to ${await text(page, 'rank-a-value')}: LORS decoder params ${params0} → ${params1}; ` +
            `photo at y ${canvas.y.toFixed(0)}–${(canvas.y + canvas.height).toFixed(0)}, strip from y ${strip.y.toFixed(0)}`,
        );
        const small = await smallTargets(page);
        assert(small.length === 0, `targets under 24×24 px on the phone: ${small.join('; ')}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(overflow <= 0, `the page is ${overflow}px wider than the phone`);
        await page.screenshot({ path: join(SHOTS, 'shell-phone-390x844.png') });
        assert(errors.length === 0, `errors in the page: ${errors.join(' | ')}`);
      } finally {
        await context.close();
      }
    },
  },
  {
    name: 'shell on wasm: settings in the address bar (round trip, clamped with a notice), cpu asks first, a drop beats the first sample',
    timeoutMs: 360_000,
    async fn({ url }, page) {
      // A dropped photo before the models are ready wins over the first sample.
      await page.goto(`${url}?backend=wasm`);
      await page.waitForSelector(tid('dropzone'));
      await dropFile(page, { url: 'samples/rocket.jpg', name: 'rocket.jpg', type: 'image/jpeg' });
      await waitReady(page, 180_000);
      await waitBoxes(page, 'lors', 'rocket.jpg');
      await page.waitForTimeout(1_500);
      assert((await text(page, 'photo-name')) === 'rocket.jpg', `the first sample replaced the dropped photo`);

      // Settings from the address, the ranks clamped into the shipped model with a notice.
      await page.goto(`${url}?backend=wasm&threshold=0.3&rA=3&rT=999&K=2&stage=4&agreement=1`);
      await waitReady(page, 180_000);
      assert((await text(page, 'score-threshold-value')) === '0.30', 'threshold not restored');
      assert((await text(page, 'stage-value')) === '4', 'stage not restored');
      assert((await text(page, 'rank-a-value')) === '3', `r_A shown: ${await text(page, 'rank-a-value')}`);
      assert(await page.locator(tid('toggle-agreement')).isChecked(), 'agreement not restored');
      assert(await page.locator(tid('groups-uniform')).isChecked(), 'K=2 did not select one K for all stages');
      const notice = await text(page, 'url-notice');
      assert(/rT=999 is more than the trained LORS model stores: set to \d+/.test(notice), `notice "${notice}"`);
      const rankT = await text(page, 'rank-t-value');
      assert(Number(rankT) < 999, `r_T shown: ${rankT}`);
      let search = await page.evaluate(() => location.search);
      assert(!search.includes('rT=999') && search.includes('rA=3'), `address after the clamp: ${search}`);
      // A change is written back; a reload restores it.
      await setRange(page, 'score-threshold', 0.55);
      await page.waitForFunction(() => location.search.includes('threshold=0.55'));
      await page.reload();
      await waitReady(page, 180_000);
      assert((await text(page, 'score-threshold-value')) === '0.55', 'threshold lost on reload');
      assert((await text(page, 'rank-a-value')) === '3', 'r_A lost on reload');
      search = await page.evaluate(() => location.search);
      console.log(`    restored from ${search}; notice was: ${notice}`);

      // Malformed values: clamped or ignored with a notice, never an error.
      await page.goto(`${url}?backend=wasm&threshold=abc&stage=99&source=nope`);
      await page.waitForSelector(tid('url-notice'));
      const bad = await text(page, 'url-notice');
      assert(/threshold=abc ignored/.test(bad) && /stage=99 is outside 1–6: set to 6/.test(bad), `notice "${bad}"`);
      await waitReady(page, 180_000);
      assert((await text(page, 'stage-value')) === '6', 'stage not clamped');
      const cleaned = await page.evaluate(() => location.search);
      assert(cleaned === '?backend=wasm', `address not cleaned: ${cleaned}`);

      // cpu asks first; Cancel keeps wasm, Switch starts cpu.
      await page.locator(tid('backend-select')).selectOption('cpu');
      await page.waitForSelector(tid('cpu-confirm'));
      assert(/40× slower/.test(await text(page, 'cpu-confirm')), 'the confirmation does not say how much slower');
      await page.locator(tid('cpu-confirm-no')).click();
      await page.waitForSelector(tid('cpu-confirm'), { state: 'detached' });
      assert((await page.locator(tid('backend-select')).inputValue()) === 'wasm', 'the choice moved on Cancel');
      assert((await text(page, 'backend')) === 'wasm', 'the backend changed on Cancel');
      assert((await page.evaluate(() => location.search)).includes('backend=wasm'), 'the address changed on Cancel');
      await page.locator(tid('backend-select')).selectOption('cpu');
      await page.locator(tid('cpu-confirm-yes')).click();
      await page.waitForFunction(() => location.search.includes('backend=cpu'), undefined, { timeout: 5_000 });
      await page.waitForFunction(
        () => document.querySelector('[data-testid="status"]')?.getAttribute('data-phase') !== 'ready',
        undefined,
        { timeout: 5_000 },
      );
    },
  },
];
