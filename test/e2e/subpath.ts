/** The built app deployed in a sub-folder of a static host (dist/ served under /some/sub/): it loads and detects. */
import { assert, DIST, dropFile, shot, text, waitBoxes, waitReady, workerThreads, type Test } from './page';
import { serveStatic } from './server';

const PREFIX = '/some/sub/';

export const subpath: Test[] = [
  {
    name: 'sub-path deployment on wasm: dist/ served under /some/sub/ (no COOP/COEP: one thread) loads, detects, asks for nothing outside it',
    timeoutMs: 240_000,
    async fn(_ctx, page) {
      // A plain static host: no COOP/COEP, so tfjs-wasm falls back to its single-threaded build by itself.
      const server = await serveStatic(DIST, { prefix: PREFIX, isolated: false });
      try {
        const root = await fetch(server.url);
        assert(root.status === 404, `the server answers ${root.status} at / (the prefix is not in force)`);
        await page.goto(`${server.url}${PREFIX.slice(1)}?backend=wasm`);
        await waitReady(page, 180_000);
        assert((await text(page, 'backend')) === 'wasm', `backend shown is "${await text(page, 'backend')}"`);
        const threads = (await workerThreads(page)).wasmThreads;
        assert(threads === 1, `wasm runs ${threads} threads on a host without COOP/COEP (expected the 1-thread build)`);
        await dropFile(page, { url: 'samples/chelsea.jpg', name: 'chelsea.jpg', type: 'image/jpeg' });
        await waitBoxes(page, 'vanilla', 'chelsea.jpg');
        await waitBoxes(page, 'lors', 'chelsea.jpg');
        const outside = server.requests.filter((r) => !r.path.startsWith(PREFIX) && r.path !== '/');
        assert(outside.length === 0, `requests outside ${PREFIX}: ${outside.map((r) => r.path).join(', ')}`);
        const models = server.requests.filter((r) => r.path.startsWith(`${PREFIX}models/`)).length;
        console.log(`    ${server.requests.length} requests, all under ${PREFIX} (${models} of them model files)`);
        await shot(page, 's1-subpath');
      } finally {
        await server.close();
      }
    },
  },
];
