/** Page helpers shared by the end-to-end tests (run.ts and the suites it runs) and the browser benchmark. */
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { StaticServer } from './server';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The built app under test (E2E_DIST: another build folder, e.g. to test two builds side by side). */
export const DIST = process.env.E2E_DIST ?? join(ROOT, 'dist');
export const SHOTS = process.env.E2E_SHOTS ?? join(ROOT, 'test-results/e2e');

/** What each e2e test gets: the browser, the static server of dist/ and its URL. */
export interface Ctx {
  browser: Browser;
  server: StaticServer;
  url: string;
}
/** One e2e test: a name (filterable from the command line), a time limit, and a function of a fresh page. */
export interface Test {
  name: string;
  timeoutMs: number;
  fn: (ctx: Ctx, page: Page) => Promise<void>;
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
  // Precise page heap figures and window.gc() for the soak's readings.
  '--enable-precise-memory-info',
  '--js-flags=--expose-gc',
];

export const tid = (id: string) => `[data-testid="${id}"]`;

/** Sets a range input the way a user does (value + input event, which React's onChange listens to). */
export async function setRange(page: Page, testid: string, value: number) {
  await page.locator(tid(testid)).evaluate((el, v) => {
    const input = el as HTMLInputElement;
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    setter.call(input, String(v));
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

/** Drops a file on the dropzone: a synthetic drop event with a DataTransfer built in the page. */
export async function dropFile(page: Page, file: { url?: string; bytes?: number[]; name: string; type: string }) {
  await page.locator(tid('dropzone')).evaluate(async (el, f) => {
    const data = f.url ? new Uint8Array(await (await fetch(f.url)).arrayBuffer()) : new Uint8Array(f.bytes ?? []);
    const dt = new DataTransfer();
    dt.items.add(new File([data], f.name, { type: f.type }));
    for (const type of ['dragenter', 'dragover', 'drop']) {
      el.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  }, file);
}

/**
 * Waits until the models are loaded and no photo job runs (on a first visit a sample runs by itself as soon as the
 * models are ready: its job is queued in the same turn, so "ready and idle" means it has finished). `idle: false`:
 * only until the models are loaded ("Ready", the sample may still run); `polling`: ms between checks.
 */
export async function waitReady(page: Page, timeout: number, o: { idle?: boolean; polling?: number } = {}) {
  await page.waitForFunction(
    (idle) => {
      const s = document.querySelector('[data-testid="status"]');
      const phase = s?.getAttribute('data-phase');
      if (phase === 'error') throw new Error(`app failed to load: ${s?.textContent}`);
      return phase === 'ready' && (!idle || s?.getAttribute('data-busy') !== 'true');
    },
    o.idle ?? true,
    { timeout, polling: o.polling ?? 250 },
  );
}

export class AssertionError extends Error {}
export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export const attr = async (page: Page, testid: string, name: string) => page.locator(tid(testid)).getAttribute(name);
export const text = async (page: Page, testid: string) => (await page.locator(tid(testid)).textContent()) ?? '';

export async function waitBoxes(page: Page, model: string, photoName: string, timeout = 120_000) {
  await page.waitForFunction(
    ({ model, photoName }) => {
      const c = document.querySelector(`[data-testid="canvas-${model}"]`);
      const name = document.querySelector('[data-testid="photo-name"]')?.textContent;
      return name === photoName && c !== null && Number(c.getAttribute('data-boxes')) > 0;
    },
    { model, photoName },
    { timeout, polling: 200 },
  );
}

/** Is anything but the black/grey placeholder drawn? (a cheap check that the canvas shows the photo + boxes) */
export async function canvasHasContent(page: Page, model: string): Promise<boolean> {
  return page.locator(tid(`canvas-${model}`)).evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const ctx = c.getContext('2d');
    if (!ctx || c.width < 8 || c.height < 8) return false;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let min = 255,
      max = 0;
    for (let i = 0; i < d.length; i += 4 * 97) {
      min = Math.min(min, d[i]!);
      max = Math.max(max, d[i]!);
    }
    return max - min > 20;
  });
}

/**
 * Whether the page is cross-origin isolated, the cores it sees, its inference workers, the wasm threads of each and
 * whether the wasm kernels run (from the app's stats; an older build without `workers` has one).
 */
export async function workerThreads(page: Page) {
  return page.evaluate(async () => {
    type Stats = { wasmThreads?: number | null; workers?: number; wasmKernels?: boolean | null };
    const s = await (window as unknown as { __lors: { stats(): Promise<Stats> } }).__lors.stats();
    return {
      crossOriginIsolated: self.crossOriginIsolated,
      hardwareConcurrency: navigator.hardwareConcurrency,
      wasmThreads: s.wasmThreads ?? null,
      workers: s.workers ?? 1,
      wasmKernels: s.wasmKernels ?? null,
    };
  });
}
