/**
 * `npm run bench -- --kernels`: kernels per decoder forward, counted in headless Chromium (WebGPU is SwiftShader's
 * there: fine for counting, never for timing) by the self-test page in its kernel mode (src/selftest/kernelCount.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { KernelReport } from '../../src/selftest/kernelCount';
import { ARGS, CHROMIUM, DIST } from './page';
import { serveStatic } from './server';

export async function countKernelsInBrowser(
  o: { dist?: string; timeoutMs?: number } = {},
): Promise<KernelReport & { browser: string }> {
  const dist = o.dist ?? DIST;
  if (!existsSync(join(dist, 'selftest.html')))
    throw new Error(`${join(dist, 'selftest.html')} is missing: run \`npm run build\` first`);
  const server = await serveStatic(dist);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') process.stderr.write(`kernels page: ${m.text()}\n`);
    });
    await page.goto(`${server.url}selftest.html?kernels`);
    let last = '';
    const t0 = Date.now();
    for (;;) {
      const s = await page.evaluate(() => ({
        status: document.querySelector('[data-testid="selftest-status"]')?.getAttribute('data-status') ?? '',
        message: document.querySelector('[data-testid="status"]')?.textContent ?? '',
        error: document.querySelector('[data-testid="error"]')?.textContent ?? '',
      }));
      if (s.message !== last) {
        process.stderr.write(`kernels: ${s.message}\n`);
        last = s.message;
      }
      if (s.status === 'error') throw new Error(`kernel count failed: ${s.error}`);
      if (s.status === 'done') break;
      if (Date.now() - t0 > (o.timeoutMs ?? 900_000)) throw new Error('kernel count: timed out');
      await page.waitForTimeout(1000);
    }
    const report = JSON.parse(await page.locator('[data-testid="kernels"]').innerText()) as KernelReport;
    return { ...report, browser: browser.version() };
  } finally {
    await browser.close();
    await server.close();
  }
}
