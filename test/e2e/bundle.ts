/**
 * The production bundle carries no test helper: the JavaScript reachable from dist/index.html (its chunks, their
 * imports and the worker they start) never contains src/testing's marker, while the self-test page's does (so the
 * check can fail). The service worker's manifest (sw.js) lists every shell file with the SHA-256 it has in dist/.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { ShellManifest } from '../../src/sw/manifest';
import { basename, join } from 'node:path';

const MARKER = 'lors-studio:test-only-reference';

/** Asset files reachable from an HTML page: every `*.js` name one file mentions that exists in dist/assets. */
export function reachableAssets(dist: string, html: string): Set<string> {
  const assets = join(dist, 'assets');
  const seen = new Set<string>();
  const todo = [readFileSync(join(dist, html), 'utf8')];
  while (todo.length) {
    for (const m of todo.pop()!.matchAll(/[\w.@-]+\.js\b/g)) {
      const name = basename(m[0]);
      if (seen.has(name) || !existsSync(join(assets, name))) continue;
      seen.add(name);
      todo.push(readFileSync(join(assets, name), 'utf8'));
    }
  }
  return seen;
}

export function checkBundle(dist: string): void {
  const contains = (names: Set<string>) =>
    [...names].filter((n) => readFileSync(join(dist, 'assets', n), 'utf8').includes(MARKER));
  const app = reachableAssets(dist, 'index.html');
  if (![...app].some((n) => n.includes('worker')))
    throw new Error(`bundle check: no worker chunk reachable from index.html (${[...app].join(', ')})`);
  const leaked = contains(app);
  if (leaked.length) throw new Error(`bundle check: test helpers in the app's chunks: ${leaked.join(', ')}`);
  if (contains(reachableAssets(dist, 'selftest.html')).length === 0)
    throw new Error('bundle check: the marker is missing from the self-test page (the check is blind)');
}

/** The manifest the build wrote into dist/sw.js. */
export function swManifest(dist: string): ShellManifest {
  const code = readFileSync(join(dist, 'sw.js'), 'utf8');
  const m = code.match(/JSON\.parse\(("(?:[^"\\]|\\.)*")\)/);
  if (!m) throw new Error('bundle check: no manifest in sw.js');
  return JSON.parse(JSON.parse(m[1]!) as string) as ShellManifest;
}

/** Every file the service worker precaches is in dist/ with the SHA-256 the manifest gives; index.html is one. */
export function checkServiceWorker(dist: string): ShellManifest {
  const m = swManifest(dist);
  const sha = (p: string) =>
    createHash('sha256')
      .update(readFileSync(join(dist, p)))
      .digest('hex');
  const bad = Object.entries(m.files).filter(([p, h]) => !existsSync(join(dist, p)) || sha(p) !== h);
  if (bad.length)
    throw new Error(`bundle check: sw.js manifest differs from dist/ for ${bad.map(([p]) => p).join(', ')}`);
  const badShards = Object.entries(m.shards).filter(([p, h]) => !existsSync(join(dist, p)) || sha(p) !== h);
  if (badShards.length)
    throw new Error(`bundle check: weight files differ from sw.js: ${badShards.map(([p]) => p).join(', ')}`);
  for (const need of ['index.html', 'models/nanodet/model.json']) {
    if (!(need in m.files)) throw new Error(`bundle check: sw.js does not precache ${need}`);
  }
  const app = reachableAssets(dist, 'index.html');
  const missing = [...app].filter((n) => !(`assets/${n}` in m.files));
  if (missing.length) throw new Error(`bundle check: sw.js does not precache ${missing.join(', ')}`);
  return m;
}
