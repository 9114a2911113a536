/**
 * The Vite plugin that builds the service worker: src/sw/sw.ts becomes sw.js at the root of the build (its scope is
 * the app's folder, wherever dist/ is copied), with this build's manifest (src/sw/manifest.ts) written into it: the
 * SHA-256 of every shell file (bundle and public/) and the weight files the model.json files list.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { Plugin } from 'vite';
import { buildManifest } from './manifest';

const PLACEHOLDER = /(["'`])__LORS_SHELL_MANIFEST__\1/g;
const sha = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

export function serviceWorkerPlugin(): Plugin {
  let publicDir = '';
  return {
    name: 'lors-service-worker',
    apply: 'build',
    enforce: 'post',
    configResolved(config) {
      publicDir = config.publicDir;
    },
    buildStart() {
      this.emitFile({ type: 'chunk', id: resolve(import.meta.dirname, 'sw.ts'), fileName: 'sw.js' });
    },
    async generateBundle(_options, bundle) {
      const files = new Map<string, string>();
      if (publicDir) {
        for (const p of walk(publicDir)) files.set(relative(publicDir, p).split(sep).join('/'), sha(readFileSync(p)));
      }
      for (const [name, out] of Object.entries(bundle)) {
        if (name === 'sw.js') continue;
        files.set(
          name,
          sha(out.type === 'chunk' ? out.code : typeof out.source === 'string' ? out.source : out.source),
        );
      }
      const manifest = await buildManifest(
        [...files].map(([path, sha256]) => ({ path, sha256 })),
        (path) => readFileSync(join(publicDir, path), 'utf8'),
        async (text) => sha(text),
      );
      const sw = bundle['sw.js'];
      if (!sw || sw.type !== 'chunk') throw new Error('service worker: sw.js is missing from the bundle');
      if (sw.imports.length)
        throw new Error(`service worker: sw.js imports ${sw.imports.join(', ')} (must be one file)`);
      const found = sw.code.match(PLACEHOLDER)?.length ?? 0;
      if (found !== 1) throw new Error(`service worker: the manifest placeholder occurs ${found} times in sw.js`);
      sw.code = sw.code.replace(PLACEHOLDER, JSON.stringify(JSON.stringify(manifest)));
    },
  };
}
