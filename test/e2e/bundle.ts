/**
 * The production bundle carries no test helper: the JavaScript reachable from dist/index.html (its chunks, their
 * imports and the worker they start) never contains src/testing's marker, while the self-test page's does (so the
 * check can fail).
 */
import { existsSync, readFileSync } from 'node:fs';
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
