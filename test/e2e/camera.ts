/**
 * The live camera on wasm, with Chromium's fake camera (a browser of its own, launched with the fake-device flags):
 * frames flow, both panels update, the sliders stay live, pause holds, stop ends every track; a denied camera and a
 * lost one give a message and photos keep working.
 */
import { chromium, type Page } from 'playwright-core';
import {
  ARGS,
  assert,
  attr,
  CHROMIUM,
  dropFile,
  setRange,
  shot,
  text,
  tid,
  waitBoxes,
  waitReady,
  type Test,
} from './page';

const FAKE_CAMERA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

/** Records every stream getUserMedia hands out (window.__streams), so the test can see their tracks end. */
function recordStreams() {
  const md = navigator.mediaDevices;
  const streams: MediaStream[] = [];
  (window as unknown as { __streams: MediaStream[] }).__streams = streams;
  const original = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    const s = await original(c);
    streams.push(s);
    return s;
  };
}

const trackStates = (page: Page) =>
  page.evaluate(() =>
    (window as unknown as { __streams: MediaStream[] }).__streams.flatMap((s) =>
      s.getTracks().map((t) => t.readyState),
    ),
  );

const num = async (page: Page, id: string) => Number(await text(page, id));

async function framesAbove(page: Page, n: number, timeout = 120_000) {
  await page.waitForFunction(
    (k) => Number(document.querySelector('[data-testid="camera-frames"]')?.textContent) > k,
    n,
    { timeout, polling: 100 },
  );
}

export const camera: Test[] = [
  {
    name: 'camera on wasm (fake device): frames flow, both panels update, sliders live, pause, stop ends the tracks',
    timeoutMs: 300_000,
    async fn({ url, server }) {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [...ARGS, ...FAKE_CAMERA],
      });
      try {
        const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
        await context.addInitScript(recordStreams);
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        page.setDefaultTimeout(30_000);
        await page.goto(`${url}?backend=wasm`);
        await waitReady(page, 180_000);
        await setRange(page, 'score-threshold', 0);
        const before = server.requests.length;

        await page.locator(tid('camera-start')).click();
        await page.waitForSelector(tid('camera-bar'), { timeout: 30_000 });
        await framesAbove(page, 0);
        const runs0 = { vanilla: await num(page, 'run-vanilla'), lors: await num(page, 'run-lors') };
        await framesAbove(page, 3);
        const runs1 = { vanilla: await num(page, 'run-vanilla'), lors: await num(page, 'run-lors') };
        assert(
          runs1.vanilla > runs0.vanilla && runs1.lors > runs0.lors,
          `panels did not update: ${JSON.stringify({ runs0, runs1 })}`,
        );
        assert((await text(page, 'photo-name')) === 'camera', `photo name "${await text(page, 'photo-name')}"`);
        const fps = Number(await text(page, 'camera-fps'));
        const lv = Number(await text(page, 'camera-latency-vanilla')),
          ll = Number(await text(page, 'camera-latency-lors'));
        assert(fps > 0 && lv > 0 && ll > 0, `frame rate ${fps}, latencies ${lv} / ${ll} ms`);
        const streams = await trackStates(page);
        assert(streams.length === 1 && streams[0] === 'live', `tracks while running: ${streams.join(', ')}`);
        console.log(
          `    ${await text(page, 'camera-frames')} frames, ${fps.toFixed(2)} frames/s; ` +
            `decoder vanilla ${lv} ms, LORS ${ll} ms`,
        );
        await shot(page, 'k1-camera-running');

        // The r_A slider while frames flow: the next frames run the new slice.
        const rankA = Number(await page.locator(tid('slider-rank-a')).inputValue());
        const rankA2 = rankA > 2 ? Math.floor(rankA / 2) : rankA + 1;
        await setRange(page, 'slider-rank-a', rankA2);
        await page
          .waitForFunction(
            (r) =>
              document
                .querySelector('[data-testid="lors-note"]')
                ?.getAttribute('data-config')
                ?.startsWith(`r_A=${r},`) ?? false,
            rankA2,
            { timeout: 60_000 },
          )
          .catch(async (e: unknown) => {
            // What the page shows then, for whoever reads the failure.
            const note = await page
              .locator(tid('lors-note'))
              .getAttribute('data-config', { timeout: 1_000 })
              .catch(() => null);
            const status = await page
              .locator(tid('status'))
              .textContent({ timeout: 1_000 })
              .catch(() => null);
            throw new Error(
              `the LORS panel did not switch to r_A=${rankA2} while frames flowed: note ${note}, status "${status}", ` +
                `${await num(page, 'camera-frames').catch(() => NaN)} frames (${e instanceof Error ? e.message : String(e)})`,
            );
          });
        const f1 = await num(page, 'camera-frames');
        await framesAbove(page, f1 + 1);

        // Pause holds the frames; resume continues.
        await page.locator(tid('camera-pause')).click();
        await page.waitForFunction(
          () => document.querySelector('[data-testid="camera-bar"]')?.getAttribute('data-status') === 'paused',
        );
        // (paused shows once the frame in flight has landed)
        const paused = await num(page, 'camera-frames');
        await page.waitForTimeout(3_000);
        assert((await num(page, 'camera-frames')) === paused, 'frames kept coming while paused');
        await page.locator(tid('camera-pause')).click();
        await framesAbove(page, paused);

        // Stop: the camera is released (every track ended), the last frame stays.
        await page.locator(tid('camera-stop')).click();
        await page.waitForSelector(tid('camera-bar'), { state: 'detached', timeout: 30_000 });
        const ended = await trackStates(page);
        assert(ended.length === 1 && ended.every((s) => s === 'ended'), `tracks after stop: ${ended.join(', ')}`);
        assert(await page.locator(tid('camera-start')).isEnabled(), 'the camera button stays disabled after stop');

        // Photo mode afterwards.
        await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
        await waitBoxes(page, 'vanilla', 'chelsea.jpg');
        await waitBoxes(page, 'lors', 'chelsea.jpg');

        // A photo dropped while the camera runs stops it; no late frame replaces the photo.
        await page.locator(tid('camera-start')).click();
        await page.waitForSelector(tid('camera-bar'), { timeout: 30_000 });
        await framesAbove(page, 0);
        await page.waitForFunction(
          () => document.querySelector('[data-testid="photo-name"]')?.textContent === 'camera',
          undefined,
          { timeout: 60_000 },
        );
        await dropFile(page, { url: 'samples/coffee.jpg', name: 'coffee.jpg', type: 'image/jpeg' });
        await page.waitForSelector(tid('camera-bar'), { state: 'detached', timeout: 30_000 });
        await waitBoxes(page, 'vanilla', 'coffee.jpg');
        await waitBoxes(page, 'lors', 'coffee.jpg');
        await page.waitForTimeout(2_000);
        assert(
          (await text(page, 'photo-name')) === 'coffee.jpg',
          `a camera frame replaced the photo: "${await text(page, 'photo-name')}"`,
        );
        const all = await trackStates(page);
        assert(
          all.length === 2 && all.every((s) => s === 'ended'),
          `tracks after a drop during the camera: ${all.join(', ')}`,
        );

        const mine = server.requests.slice(before);
        assert(
          mine.every((r) => r.method === 'GET' && r.bytes === 0),
          `unexpected upload: ${JSON.stringify(mine.filter((r) => r.method !== 'GET' || r.bytes))}`,
        );
        assert(errors.length === 0, `errors in the page: ${errors.join(' | ')}`);
        await context.close();
      } finally {
        await browser.close();
      }
    },
  },
  {
    name: 'camera on wasm: denied, then lost (track ended) → a message, and photos still work',
    timeoutMs: 300_000,
    async fn({ url }, page) {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [...ARGS, ...FAKE_CAMERA],
      });
      try {
        // Denied: getUserMedia rejects as when the user blocks the camera.
        await page.addInitScript(() => {
          navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
        });
        await page.goto(`${url}?backend=wasm`);
        await waitReady(page, 180_000);
        await page.locator(tid('camera-start')).click();
        await page.waitForSelector(tid('camera-error'), { timeout: 10_000 });
        const denied = await text(page, 'camera-error');
        assert(/denied/i.test(denied) && /Photos still work/.test(denied), `denied message: "${denied}"`);
        assert((await page.locator(tid('camera-bar')).count()) === 0, 'camera bar shown although denied');
        await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
        await waitBoxes(page, 'vanilla', 'chelsea.jpg');
        console.log(`    denied: ${denied}`);
        await shot(page, 'k2-camera-denied');

        // Lost: the fake camera's track ends while frames flow (as when it is unplugged).
        const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
        await context.addInitScript(recordStreams);
        const p2 = await context.newPage();
        await p2.goto(`${url}?backend=wasm`);
        await waitReady(p2, 180_000);
        await p2.locator(tid('camera-start')).click();
        await framesAbove(p2, 0);
        await p2.evaluate(() => {
          for (const s of (window as unknown as { __streams: MediaStream[] }).__streams) {
            for (const t of s.getTracks()) {
              t.stop();
              t.dispatchEvent(new Event('ended'));
            }
          }
        });
        await p2.waitForSelector(tid('camera-error'), { timeout: 30_000 });
        const lost = await text(p2, 'camera-error');
        assert(/stopped/i.test(lost), `lost message: "${lost}"`);
        await p2.waitForSelector(tid('camera-bar'), { state: 'detached', timeout: 30_000 });
        await p2.locator(tid('file-input')).setInputFiles({
          name: 'x.jpg',
          mimeType: 'image/jpeg',
          buffer: await fetchBytes(url, 'samples/coffee.jpg'),
        });
        await waitBoxes(p2, 'lors', 'x.jpg');
        console.log(`    lost: ${lost}; a photo afterwards: ${await attr(p2, 'canvas-lors', 'data-boxes')} LORS boxes`);
        await context.close();
      } finally {
        await browser.close();
      }
    },
  },
];

async function fetchBytes(base: string, path: string): Promise<Buffer> {
  return Buffer.from(await (await fetch(new URL(path, base))).arrayBuffer());
}
