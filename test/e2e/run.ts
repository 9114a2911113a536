/**
 * End-to-end tests of the built app (run `vite build` first):
 *   node --import tsx test/e2e/run.ts [name-filter]
 * Serves dist/ on 127.0.0.1, drives Debian's /usr/bin/chromium through playwright-core (fresh temporary profile),
 * runs the tests one after another, prints pass/fail per test, saves screenshots under test-results/e2e/ and exits
 * non-zero on any failure. Headless Chrome has no GPU: WebGPU is SwiftShader's (correct but slow).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { checkBundle, checkServiceWorker } from './bundle';
import { corpus } from './corpus';
import { downloads } from './downloads';
import { flows } from './flows';
import { gpuLoss } from './gpuLoss';
import { layout } from './layout';
import { offline } from './offline';
import { panels } from './panels';
import { camera } from './camera';
import { ARGS, assert, CHROMIUM, DIST, SHOTS, type Test } from './page';
import { serveStatic } from './server';
import { shell } from './shell';
import { soakTests } from './soak';
import { subpath } from './subpath';

/** Every suite, in the order they run. */
const tests: Test[] = [
  ...flows,
  ...layout,
  ...shell,
  ...panels,
  ...camera,
  ...subpath,
  ...downloads,
  ...offline,
  ...corpus,
  ...soakTests,
  ...gpuLoss,
];

async function main() {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error('dist/index.html is missing: run `vite build` first');
  for (const f of [
    'samples/chelsea.jpg',
    'samples/coffee.jpg',
    'samples/rocket.jpg',
    'samples/astronaut.jpg',
    'models/nanodet/model.json',
  ]) {
    if (!existsSync(join(DIST, f))) throw new Error(`dist/${f} is missing (public/${f} must exist before the build)`);
  }
  mkdirSync(SHOTS, { recursive: true });
  checkBundle(DIST);
  console.log('PASS bundle: the app chunks hold no test helper, the self-test page chunks do');
  const sw = checkServiceWorker(DIST);
  console.log(
    `PASS bundle: sw.js (version ${sw.version}) lists ${Object.keys(sw.files).length} shell files and ` +
      `${Object.keys(sw.shards).length} weight files, each with the SHA-256 it has in the build`,
  );
  const filter = process.argv[2];
  const selected = tests.filter((t) => !filter || t.name.includes(filter));
  const server = await serveStatic(DIST);
  // launch() uses a fresh temporary profile (user-data-dir) every time.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  let failed = 0;
  try {
    for (const [i, t] of selected.entries()) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
      });
      // CSP violations in the page become console errors (fatal below); the worker's arrive as reports to the server.
      await context.addInitScript(() =>
        document.addEventListener('securitypolicyviolation', (e) => {
          const where = `${e.sourceFile}:${e.lineNumber}`;
          console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline code'} (${where})`);
        }),
      );
      const cspReports = server.cspReports.length;
      page.setDefaultTimeout(30_000);
      const t0 = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          t.fn({ browser, server, url: server.url }, page),
          new Promise((_, rej) => {
            timer = setTimeout(() => rej(new Error(`timed out after ${t.timeoutMs / 1000} s`)), t.timeoutMs);
          }),
        ]);
        const reports = server.cspReports.slice(cspReports);
        assert(reports.length === 0, `CSP violation reports: ${reports.join(' | ')}`);
        const fatal = pageErrors.filter((e) => !/Failed to load resource.*404/.test(e));
        assert(fatal.length === 0, `errors in the page: ${fatal.join(' | ')}`);
        console.log(`PASS ${i + 1}. ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed++;
        console.log(
          `FAIL ${i + 1}. ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n    ${e instanceof Error ? e.message : String(e)}`,
        );
        if (pageErrors.length) console.log(`    page errors: ${pageErrors.join(' | ')}`);
        await page.screenshot({ path: join(SHOTS, `failed-${i + 1}.png`), fullPage: true }).catch(() => undefined);
      } finally {
        clearTimeout(timer);
        await context.close();
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
  console.log(`${selected.length - failed}/${selected.length} e2e tests passed; screenshots in ${SHOTS}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
