/** Page helpers shared by the end-to-end tests (run.ts) and the browser benchmark (bench-browser.ts). */
import type { Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];

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

export async function waitReady(page: Page, timeout: number) {
  await page.waitForFunction(() => {
    const s = document.querySelector('[data-testid="status"]');
    const phase = s?.getAttribute('data-phase');
    if (phase === 'error') throw new Error(`app failed to load: ${s?.textContent}`);
    return phase === 'ready';
  }, undefined, { timeout, polling: 250 });
}
