/** The app's main flows: WebGPU + self-test, the full wasm flow with sliders and exports, bad inputs and narrow screens. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  assert,
  attr,
  canvasHasContent,
  DIST,
  dropFile,
  setRange,
  shot,
  text,
  tid,
  waitBoxes,
  waitReady,
  workerThreads,
  type Test,
} from './page';

export const flows: Test[] = [
  {
    name: 'webgpu: default backend is WebGPU, and webgpu matches wasm on the building blocks',
    timeoutMs: 420_000,
    async fn({ url }, page) {
      await page.goto(url);
      await page.waitForFunction(
        () => document.querySelector('[data-testid="backend"]')?.textContent !== '…',
        undefined,
        { timeout: 180_000 },
      );
      const shown = await text(page, 'backend');
      const notice = (await page.locator(tid('backend-notice')).count()) ? await text(page, 'backend-notice') : 'none';
      assert(shown === 'WebGPU', `backend shown is "${shown}", expected WebGPU (notice: ${notice})`);
      const stats = await page.evaluate(() =>
        (window as unknown as { __lors: { stats(): Promise<{ backend: string }> } }).__lors.stats(),
      );
      assert(stats.backend === 'webgpu', `tf.getBackend() in the worker is "${stats.backend}"`);
      assert(
        (await page.locator(tid('backend-notice')).count()) === 0,
        'a fallback notice is shown although WebGPU is in use',
      );
      await shot(page, 'a1-webgpu-header');

      await page.goto(`${url}selftest.html`);
      await page.waitForFunction(
        () => {
          const s = document.querySelector('[data-testid="selftest-status"]')?.getAttribute('data-status');
          if (s === 'error')
            throw new Error(`self-test failed: ${document.querySelector('[data-testid="error"]')?.textContent}`);
          return s === 'done';
        },
        undefined,
        { timeout: 360_000, polling: 500 },
      ); // the fused-kernel checks add ~30–90 s on SwiftShader
      type Check = {
        name: string;
        maxAbsDiff: number | string;
        tolerance: number | string;
        passed: boolean;
        maxAbs: number;
        size: number;
        webgpuMs: number;
        wasmMs: number;
        nonFiniteWebgpu: number;
        nonFiniteWasm: number;
        mismatches?: string[];
      };
      const result = JSON.parse(await text(page, 'selftest')) as { checks: Check[] };
      await shot(page, 'a2-selftest');
      assert(result.checks.length >= 10, `expected ≥ 10 checks, got ${result.checks.length}`);
      const failures: string[] = [];
      for (const c of result.checks) {
        const diff = Number(c.maxAbsDiff); // "Infinity"/"NaN" arrive as strings
        console.log(
          `    ${c.passed ? 'ok  ' : 'BAD '}${c.name}: max |webgpu − wasm| = ${diff.toExponential(2)} (${c.size} values, max |x| ${c.maxAbs.toFixed(2)}, non-finite ${c.nonFiniteWebgpu}/${c.nonFiniteWasm}; webgpu ${c.webgpuMs.toFixed(0)} ms, wasm ${c.wasmMs.toFixed(0)} ms)${c.mismatches ? `\n      first mismatches: ${c.mismatches.join('; ')}` : ''}`,
        );
        const tol = Number(c.tolerance);
        // 1e-3 absolute (1e-3 relative to max |x| for random-weight decoders); "Infinity": reported only.
        assert(
          tol === Infinity || tol <= 1e-3 * Math.max(1, c.maxAbs),
          `${c.name}: tolerance ${tol} is looser than 1e-3`,
        );
        if (!(c.size > 0)) failures.push(`${c.name}: nothing compared`);
        else if (!(diff <= tol)) failures.push(`${c.name}: max abs diff ${diff} > ${tol}`);
      }
      assert(failures.length === 0, `webgpu differs from wasm: ${failures.join('; ')}`);
    },
  },
  {
    name: 'full flow on wasm: drop a sample, both panels draw, LORS slider re-runs LORS, bad drop, next drop',
    timeoutMs: 300_000,
    async fn({ url, server }, page) {
      await page.goto(`${url}?backend=wasm`);
      await waitReady(page, 180_000);
      const shown = await text(page, 'backend');
      assert(shown === 'wasm', `backend shown is "${shown}"`);
      // The e2e server sends COOP/COEP: the page is cross-origin isolated; from 2 cores two workers (the decoders
      // at once) share the cores' threads (workerPlan.ts; 4 cores: the threaded-wasm test below).
      const t = await workerThreads(page);
      assert(t.crossOriginIsolated, 'the page is not cross-origin isolated');
      assert(
        t.hardwareConcurrency < 2
          ? t.workers === 1 && t.wasmThreads === 1
          : t.workers === 2 && t.wasmThreads === Math.floor(t.hardwareConcurrency / 2),
        `${t.workers} worker(s) on ${t.wasmThreads} wasm thread(s) each, ${t.hardwareConcurrency} cores`,
      );
      assert(
        t.wasmKernels === true,
        `the wasm kernels (model/adamixer/wasm) do not run in every worker (${t.wasmKernels})`,
      );
      console.log(
        `    cross-origin isolated, ${t.workers} workers on ${t.wasmThreads} wasm thread(s) each, wasm kernels on`,
      );
      assert((await text(page, 'credits')).includes('Apache-2.0'), 'footer credits missing');
      // Seeded-init decoders score about sigmoid(−log 99) ≈ 0.01: show everything.
      await setRange(page, 'score-threshold', 0);
      await page.waitForFunction(
        () => document.querySelector('[data-testid="score-threshold-value"]')?.textContent === '0.00',
      );

      const before = server.requests.length;
      await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
      await waitBoxes(page, 'vanilla', 'chelsea.jpg');
      await waitBoxes(page, 'lors', 'chelsea.jpg');
      assert(
        (await canvasHasContent(page, 'vanilla')) && (await canvasHasContent(page, 'lors')),
        'a panel canvas is blank',
      );
      const badge = await text(page, 'badge-lors');
      console.log(
        `    LORS panel badge: ${badge}; vanilla ${await attr(page, 'canvas-vanilla', 'data-boxes')} boxes, LORS ${await attr(page, 'canvas-lors', 'data-boxes')} boxes`,
      );
      await shot(page, 'b1-photo-both-panels');

      const params0 = Number(await attr(page, 'params-lors', 'data-value'));
      const vanillaParams = Number(await attr(page, 'params-vanilla', 'data-value'));
      const run0 = Number(await text(page, 'run-lors'));
      const vanillaRun0 = Number(await text(page, 'run-vanilla'));
      assert(params0 > 0 && vanillaParams > params0, `LORS params ${params0} should be below vanilla ${vanillaParams}`);
      // Live compression: the r_A slider cuts the LORS model (a smaller slice really runs), the vanilla panel stays.
      const rankA = Number(await page.locator(tid('slider-rank-a')).inputValue());
      const rankA2 = rankA > 2 ? Math.floor(rankA / 2) : rankA + 1;
      await setRange(page, 'slider-rank-a', rankA2);
      await page.waitForFunction(
        (p0) => Number(document.querySelector('[data-testid="params-lors"]')?.getAttribute('data-value')) !== p0,
        params0,
        { timeout: 2_000 },
      );
      const params1 = Number(await attr(page, 'params-lors', 'data-value'));
      await page.waitForFunction(
        (r0) => Number(document.querySelector('[data-testid="run-lors"]')?.textContent) > r0,
        run0,
        { timeout: 60_000 },
      );
      await page.waitForFunction(
        (r) =>
          document.querySelector('[data-testid="lors-note"]')?.getAttribute('data-config')?.startsWith(`r_A=${r},`) ??
          false,
        rankA2,
        { timeout: 60_000 },
      );
      const vanillaRun1 = Number(await text(page, 'run-vanilla'));
      assert(
        vanillaRun1 === vanillaRun0,
        `the vanilla decoder re-ran (${vanillaRun0} → ${vanillaRun1}); only LORS should`,
      );
      assert(
        Number(await attr(page, 'params-vanilla', 'data-value')) === vanillaParams,
        'vanilla params changed with a LORS slider',
      );
      console.log(
        `    r_A ${rankA} → ${rankA2}: LORS decoder params ${params0} → ${params1}; running ${await attr(page, 'lors-note', 'data-config')}; LORS runs ${run0} → ${await text(page, 'run-lors')} (latency ${await text(page, 'latency-lors')} ms)`,
      );
      await shot(page, 'b2-rank-a-moved');

      // The other source: the trained vanilla model compressed into LORS (when shipped), then back.
      if (existsSync(join(DIST, 'models/lors-from-vanilla/model.json'))) {
        const run1 = Number(await text(page, 'run-lors'));
        await page.locator(tid('lors-source-vanilla')).check();
        await page.waitForFunction(
          (r0) => Number(document.querySelector('[data-testid="run-lors"]')?.textContent) > r0,
          run1,
          { timeout: 120_000 },
        );
        const maxA = Number(await page.locator(tid('slider-rank-a')).getAttribute('max'));
        const params2 = Number(await attr(page, 'params-lors', 'data-value'));
        assert(maxA > 0 && params2 > 0, `compressed-vanilla source: slider max ${maxA}, params ${params2}`);
        const badge2 = await text(page, 'badge-lors');
        assert(/compressed from trained vanilla/.test(badge2), `LORS badge after the source switch: "${badge2}"`);
        assert(
          Number(await text(page, 'run-vanilla')) === vanillaRun0,
          'the vanilla decoder re-ran on a LORS source switch',
        );
        console.log(
          `    source → vanilla compressed: r_A max ${maxA}, LORS decoder params ${params2}, running ${await attr(page, 'lors-note', 'data-config')}`,
        );
        await shot(page, 'b2b-vanilla-compressed');
        const run2 = Number(await text(page, 'run-lors'));
        await page.locator(tid('lors-source-trained')).check();
        await page.waitForFunction(
          (r0) => Number(document.querySelector('[data-testid="run-lors"]')?.textContent) > r0,
          run2,
          { timeout: 60_000 },
        );
      }
      if (existsSync(join(DIST, 'models/compression.json'))) {
        await page.waitForSelector(tid('compression-chart'), { timeout: 10_000 });
        console.log(
          `    AP chart: current slice ${await attr(page, 'compression-current', 'data-params')} params, AP ${(await page.locator(tid('compression-current-ap')).count()) ? await text(page, 'compression-current-ap') : 'off grid'}`,
        );
      }

      // Exports: COCO-format JSON and the overlay PNG of the LORS panel.
      const [json] = await Promise.all([page.waitForEvent('download'), page.locator(tid('export-json-lors')).click()]);
      const coco = JSON.parse(readFileSync(await json.path(), 'utf8')) as {
        image_id: number;
        category_id: number;
        category_name: string;
        bbox: number[];
        score: number;
      }[];
      const shownLors = Number(await attr(page, 'canvas-lors', 'data-boxes'));
      assert(
        Array.isArray(coco) && coco.length === shownLors,
        `COCO export has ${coco.length} entries, the panel shows ${shownLors}`,
      );
      assert(
        coco.every(
          (d) =>
            Number.isInteger(d.image_id) &&
            d.category_id >= 1 &&
            d.category_id <= 90 &&
            typeof d.category_name === 'string' &&
            d.category_name.length > 0 &&
            d.bbox.length === 4 &&
            d.bbox[2]! >= 0 &&
            d.bbox[3]! >= 0 &&
            d.score >= 0 &&
            d.score <= 1,
        ),
        `malformed COCO entries: ${JSON.stringify(coco.slice(0, 2))}`,
      );
      const [png] = await Promise.all([page.waitForEvent('download'), page.locator(tid('export-png-lors')).click()]);
      const pngBytes = readFileSync(await png.path());
      assert(
        pngBytes.subarray(1, 4).toString() === 'PNG' &&
          pngBytes.readUInt32BE(16) === 451 &&
          pngBytes.readUInt32BE(20) === 300,
        `overlay PNG is not a 451×300 PNG (${json.suggestedFilename()}, ${png.suggestedFilename()})`,
      );

      // Weights were put in the Cache API for the next visit.
      const cached = await page.evaluate(async () =>
        (await (await caches.open('lors-studio-models-v1')).keys()).map((r) => new URL(r.url).pathname),
      );
      assert(
        cached.some((p) => p.endsWith('/models/nanodet/nanodet.bin')),
        `NanoDet weights not cached: ${cached.join(', ')}`,
      );

      await dropFile(page, {
        bytes: [...Buffer.from('this is a text file, not a photo\n')],
        name: 'notes.txt',
        type: 'text/plain',
      });
      await page.waitForSelector(tid('error'), { timeout: 10_000 });
      const err = await text(page, 'error');
      assert(/not an image/i.test(err), `error message: "${err}"`);
      assert((await text(page, 'photo-name')) === 'chelsea.jpg', 'the previous photo was dropped after a bad file');
      await shot(page, 'b3-non-image-error');

      await page.locator(tid('file-input')).setInputFiles(join(DIST, 'samples/coffee.jpg'));
      await waitBoxes(page, 'vanilla', 'coffee.jpg');
      await waitBoxes(page, 'lors', 'coffee.jpg');
      assert((await page.locator(tid('error')).count()) === 0, 'the error message stayed after a good photo');
      await shot(page, 'b4-next-photo');

      // Images never leave the browser: the only requests are GETs of the app's own files.
      const mine = server.requests.slice(before);
      assert(
        mine.every((r) => r.method === 'GET' && r.bytes === 0),
        `unexpected upload: ${JSON.stringify(mine.filter((r) => r.method !== 'GET' || r.bytes))}`,
      );
    },
  },
  {
    name: 'threaded wasm: a page that reports 4 cores runs two workers on 2 wasm threads each; both panels detect',
    timeoutMs: 240_000,
    async fn({ url }, page) {
      // The cores the page sees decide the plan; each worker's tfjs-wasm pool then starts the threads it is given.
      await page.addInitScript({
        content:
          "Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => 4, configurable: true });",
      });
      await page.goto(`${url}?backend=wasm`);
      await waitReady(page, 180_000);
      const t = await workerThreads(page);
      assert(
        t.crossOriginIsolated && t.hardwareConcurrency === 4,
        `isolated ${t.crossOriginIsolated}, ${t.hardwareConcurrency} cores`,
      );
      assert(t.workers === 2 && t.wasmThreads === 2, `${t.workers} workers on ${t.wasmThreads} threads each`);
      assert(t.wasmKernels === true, `wasm kernels: ${t.wasmKernels}`);
      await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
      await waitBoxes(page, 'vanilla', 'chelsea.jpg');
      await waitBoxes(page, 'lors', 'chelsea.jpg');
      console.log('    2 workers × 2 wasm threads: both panels drew chelsea.jpg');
    },
  },
  {
    name: 'bad input and narrow screens: empty, corrupt, unsupported, huge, queued drops; 375 px layout',
    timeoutMs: 240_000,
    async fn({ url }, page) {
      await page.setViewportSize({ width: 375, height: 800 });
      await page.goto(`${url}?backend=wasm`);
      await waitReady(page, 180_000);
      const expectError = async (file: Parameters<typeof dropFile>[1], re: RegExp, label: string) => {
        await dropFile(page, file);
        await page.waitForFunction(
          (n) => document.querySelector('[data-testid="error"]')?.textContent?.includes(n) ?? false,
          file.name,
          { timeout: 10_000 },
        );
        const e = await text(page, 'error');
        assert(re.test(e), `${label}: error "${e}"`);
        console.log(`    ${label}: ${e}`);
      };
      await expectError({ bytes: [], name: 'empty.jpg', type: 'image/jpeg' }, /empty/, '0-byte file');
      const jpeg = [...readFileSync(join(DIST, 'samples/rocket.jpg'))];
      await expectError(
        { bytes: jpeg.slice(0, 600), name: 'truncated.jpg', type: 'image/jpeg' },
        /corrupt|truncated/,
        'corrupt JPEG',
      );
      await expectError(
        { bytes: [0x49, 0x49, 0x2a, 0, 8, 0, 0, 0, 0, 0, 0, 0], name: 'scan.tif', type: 'image/tiff' },
        /TIFF format.*not supported/,
        'TIFF',
      );
      await expectError(
        {
          bytes: [...Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')],
          name: 'logo.svg',
          type: 'image/svg+xml',
        },
        /SVG/,
        'SVG',
      );
      await shot(page, 'c1-errors-375px');

      // A 5000×3000 PNG made in the page: downscaled to 4096 on the long side, still detected.
      await page.evaluate(async () => {
        const c = new OffscreenCanvas(5000, 3000);
        const ctx = c.getContext('2d')!;
        const g = ctx.createLinearGradient(0, 0, 5000, 3000);
        g.addColorStop(0, '#335');
        g.addColorStop(1, '#fc6');
        ctx.fillStyle = g;
        ctx.fillRect(0, 0, 5000, 3000);
        ctx.fillStyle = '#c22';
        ctx.fillRect(1500, 800, 1800, 1500);
        const blob = await c.convertToBlob({ type: 'image/png' });
        const dt = new DataTransfer();
        dt.items.add(new File([blob], 'huge.png', { type: 'image/png' }));
        window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      });
      await page.waitForFunction(
        () => document.querySelector('[data-testid="notice"]')?.textContent?.includes('downscaled') ?? false,
        undefined,
        { timeout: 60_000 },
      );
      const notice = await text(page, 'notice');
      assert(/5000×3000.*4096×2458/.test(notice), `downscale notice: "${notice}"`);
      const errors = await page.locator(tid('error')).allTextContents();
      assert(errors.length === 0, `error after a huge photo: ${errors.join(' ')}`);
      await page.waitForFunction(
        () => document.querySelector('[data-testid="run-vanilla"]')?.textContent !== '0',
        undefined,
        { timeout: 60_000 },
      );

      // Two drops in a row: the second waits for the first and then runs.
      await dropFile(page, { url: 'samples/astronaut.jpg', name: 'astronaut.jpg', type: 'image/jpeg' });
      await dropFile(page, { url: 'samples/rocket.jpg', name: 'rocket.jpg', type: 'image/jpeg' });
      await setRange(page, 'score-threshold', 0);
      await waitBoxes(page, 'lors', 'rocket.jpg');
      assert((await page.locator(tid('error')).count()) === 0, 'error after two quick drops');

      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 0, `the page is ${overflow}px wider than a 375px screen`);
      // One decoder at a time in one place, switched by the view switch (not stacked: the comparison stays in view).
      const box = async (id: string) => {
        const b = await page.locator(tid(id)).boundingBox();
        return b && { ...b, y: b.y + (await page.evaluate(() => window.scrollY)) }; // page, not viewport, position
      };
      const l = await box('panel-lors');
      assert(l && (await box('panel-vanilla')) === null, 'both decoder panels show at 375px');
      await page.locator('.view-option', { hasText: 'Vanilla' }).click();
      await page.waitForSelector(tid('panel-vanilla'), { state: 'visible', timeout: 5_000 });
      const v = await box('panel-vanilla');
      assert(v && (await box('panel-lors')) === null && Math.abs(v.y - l.y) < 2, 'the switch does not swap the panels');
      await page.locator('.view-option', { hasText: 'LORS' }).click();
      await shot(page, 'c2-narrow-375px');

      // NanoDet baseline panel on demand.
      await page.locator(tid('toggle-nanodet')).check();
      await waitBoxes(page, 'nanodet', 'rocket.jpg', 60_000);
      await shot(page, 'c3-nanodet-panel');
    },
  },
];
