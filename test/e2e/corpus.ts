/**
 * The bad-input corpus (test/badInputs.ts) dropped on the app one file after another: each ends in detections or in
 * a message naming the file, active content (SVG/HTML scripts) never reaches the DOM, and a normal photo detects
 * afterwards with the worker's tensor count where it was.
 */
import type { Page } from 'playwright-core';
import { badInputCorpus, type CorpusFile } from '../badInputs';
import { assert, dropFile, setRange, shot, text, tid, waitBoxes, waitReady, type Test } from './page';

interface Outcome {
  kind: 'detect' | 'message';
  detail: string;
  size?: { width: number; height: number };
}

type LorsWindow = {
  __pwned?: string;
  __lors: {
    stats(): Promise<{ numTensors: number }>;
    session: {
      getState(): {
        photo: { name: string; originalWidth: number; originalHeight: number } | null;
        results: Record<string, { imageId: number }>;
        error: string | null;
      };
    };
  };
};

const numTensors = (page: Page) =>
  page.evaluate(async () => (await (window as unknown as LorsWindow).__lors.stats()).numTensors);

/** Drops one file and waits for its end: both decoders' results for it, or an error message naming it. */
async function dropAndSettle(page: Page, f: CorpusFile): Promise<Outcome> {
  await page.evaluate(() =>
    (window as unknown as { __lors: { session: { getState(): { setError(m: null): void } } } }).__lors.session
      .getState()
      .setError(null),
  );
  await dropFile(page, { bytes: [...f.bytes], name: f.name, type: f.type });
  const handle = await page.waitForFunction(
    (name) => {
      const s = (window as unknown as LorsWindow).__lors.session.getState();
      if (s.error?.includes(name)) return { kind: 'message', detail: s.error };
      const p = s.photo;
      if (p?.name === name && s.results.vanilla && s.results.lors) {
        const boxes = document.querySelector('[data-testid="canvas-lors"]')?.getAttribute('data-boxes');
        return {
          kind: 'detect',
          detail: `${boxes} LORS boxes`,
          size: { width: p.originalWidth, height: p.originalHeight },
        };
      }
      return null;
    },
    f.name,
    { timeout: 120_000, polling: 100 },
  );
  return (await handle.jsonValue()) as Outcome;
}

export const corpus: Test[] = [
  {
    name: 'bad-input corpus on wasm: each file detects or is named in a message; no active content runs; then a photo',
    timeoutMs: 300_000,
    async fn({ url }, page) {
      const files = badInputCorpus();
      await page.goto(`${url}?backend=wasm`);
      await waitReady(page, 180_000);
      await setRange(page, 'score-threshold', 0);
      await dropFile(page, { url: 'samples/coffee.jpg', name: 'coffee.jpg', type: 'image/jpeg' });
      await waitBoxes(page, 'lors', 'coffee.jpg');
      const tensors0 = await numTensors(page);
      const scripts0 = await page.locator('script').count();
      const failures: string[] = [];
      for (const f of files) {
        const t0 = Date.now();
        const o = await dropAndSettle(page, f);
        console.log(
          `    ${f.name} (${f.what}, ${f.bytes.length} B): ${o.kind}: ${o.detail}` +
            `${o.size ? ` (${o.size.width}×${o.size.height})` : ''} [${Date.now() - t0} ms]`,
        );
        if (f.expect !== 'either' && o.kind !== f.expect)
          failures.push(`${f.name}: expected ${f.expect}, got ${o.kind} (${o.detail})`);
        if (o.kind === 'message' && !o.detail.includes(f.name))
          failures.push(`${f.name}: the message does not name the file`);
        if (o.kind === 'detect' && f.size && (o.size?.width !== f.size.width || o.size?.height !== f.size.height)) {
          failures.push(
            `${f.name}: decoded as ${o.size?.width}×${o.size?.height}, expected ${f.size.width}×${f.size.height}`,
          );
        }
      }
      await shot(page, 'e1-corpus-done');
      // Active content stayed inert: no script ran, nothing from the files entered the DOM.
      const pwned = await page.evaluate(() => (window as unknown as LorsWindow).__pwned);
      assert(pwned === undefined, `a dropped file's script ran (${pwned})`);
      assert((await page.locator('script').count()) === scripts0, 'a script element was added to the page');
      assert(
        (await page.locator('svg script, iframe, object, embed, img[src^="blob:"]').count()) === 0,
        'dropped content reached the DOM',
      );
      assert(failures.length === 0, failures.join('; '));
      // A normal photo after the corpus.
      await dropFile(page, { url: 'samples/coffee.jpg', name: 'coffee.jpg', type: 'image/jpeg' });
      await waitBoxes(page, 'lors', 'coffee.jpg');
      await waitBoxes(page, 'vanilla', 'coffee.jpg');
      assert(
        (await page.locator(tid('error')).count()) === 0,
        `error after a good photo: ${await page.locator(tid('error')).allTextContents()}`,
      );
      const tensors1 = await numTensors(page);
      assert(tensors1 === tensors0, `worker tensors ${tensors0} before the corpus, ${tensors1} after`);
      console.log(
        `    ${files.length} files; worker tensors ${tensors0} → ${tensors1}; ` +
          `coffee.jpg detects after (${await text(page, 'count-lors')} LORS boxes)`,
      );
    },
  },
];
