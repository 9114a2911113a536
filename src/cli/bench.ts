/**
 * npm run bench [-- --json OUT] [--runs N] [--warmup N] [--backends wasm,webgpu] [--no-browser] [--image FILE]
 * npm run bench -- --kernels [--json OUT]: kernels per decoder forward on WebGPU and wasm, counted in headless
 * Chromium (test/e2e/kernels-browser.ts; needs a build), no timing.
 * npm run bench -- --profile [--json OUT] [--backends wasm]: where one decoder forward's time goes (tf.profile by part),
 * its FLOPs and GFLOP/s, the mixing variants, and a LORS slider move split into slice / upload / fold / forward, old
 * path and resident path in the same run (bench-profile.ts); Node only.
 * npm run bench -- --bytes [--json OUT]: what the app downloads (model.json + weight files per model folder), no timing.
 * npm run bench -- --soak | --long-soak [--json OUT]: only the browser soak (300 slider moves, 100 drops) or the long
 * one (1,000 mixed moves, 300 drops), judged by src/cli/soakVerdict.ts; --soak-moves etc. for a short dry run.
 *
 * Node (bench-node.ts): wasm, plus webgpu where a real GPU adapter exists (../shared/gpu kit: bench/gpu-bench.ts).
 * Browser (test/e2e/bench-browser.ts): the built app in headless Chromium on wasm — photo → overlay, slider →
 * overlay, cold start. SwiftShader's WebGPU (no GPU) is never timed: it is a software rasteriser.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DECODER_DIRS, LORS_SOURCE_DIRS, NANODET_DIR } from '../model/constants';
import type { BackendName } from '../model/types';
import { flag, int, runCli, str, usageText, type OptionSpec, type ParsedArgs } from './args';
import { benchBackend, machineInfo, summaryLine } from './bench-node';
import { longSoakGoals, SOAK_WARMUP_MOVES } from './soakVerdict';
import type { SoakOptions } from '../../test/e2e/soak';

const SPEC: Record<string, OptionSpec> = {
  json: { type: 'string', help: 'write the results as JSON to this file' },
  runs: { type: 'string', help: 'timed runs per measurement (default 10, at least 10 for reported figures)' },
  warmup: { type: 'string', help: 'untimed runs first (default 2)' },
  backends: {
    type: 'string',
    help: 'comma list of Node backends (default: wasm, plus webgpu when navigator.gpu exists)',
  },
  image: { type: 'string', help: 'photo to time (default public/samples/chelsea.jpg)' },
  'no-browser': { type: 'boolean', help: 'skip the headless-Chromium part' },
  'no-node': { type: 'boolean', help: 'skip the Node part' },
  'before-dist': {
    type: 'string',
    help: 'an older build to time in the same run (served without COOP/COEP), beside this one with and without',
  },
  models: { type: 'string', help: 'folder with nanodet/, vanilla/, lors/ (default public/models)' },
  profile: {
    type: 'boolean',
    help: 'only profile one decoder forward (by part, FLOPs, GFLOP/s) and a slider move, in Node',
  },
  bytes: {
    type: 'boolean',
    help: 'only report the bytes the app downloads per model folder (first load and on demand)',
  },
  kernels: {
    type: 'boolean',
    help: 'only count kernels per decoder forward (WebGPU and wasm, headless Chromium; needs a build)',
  },
  dist: { type: 'string', help: 'build folder for --kernels (default dist, or E2E_DIST)' },
  soak: {
    type: 'boolean',
    help: 'only the browser soak (slider moves and photo drops in one page; E2E_DIST selects the build)',
  },
  'long-soak': {
    type: 'boolean',
    help: 'only the long soak: 1,000 mixed moves (sliders, stage, agreement, threshold, source) and 300 drops',
  },
  'soak-moves': { type: 'string', help: 'moves of the soak (default 300, long 1000; 0 skips the soak)' },
  'soak-drops': { type: 'string', help: 'photo drops of the soak (default 100, long 300)' },
  'soak-warmup': {
    type: 'string',
    help: `moves left out of the soak's verdict as warm-up (default ${SOAK_WARMUP_MOVES})`,
  },
  'soak-read-every': { type: 'string', help: 'moves between heap and tensor readings (default 10)' },
};
const USAGE = usageText('bench', 'npm run bench -- [options]', SPEC);

async function main(p: ParsedArgs) {
  const models = str(p, 'models') ?? 'public/models';
  if (flag(p, 'bytes')) {
    writeJson(str(p, 'json'), { date: new Date().toISOString(), download: downloadBytes(models) });
    return;
  }
  if (flag(p, 'profile')) {
    const { profileBackend, profileSummary } = await import('./bench-profile');
    const backends = (str(p, 'backends')?.split(',') ?? ['wasm']) as BackendName[];
    const runs = int(p, 'runs', 10, 1)!;
    const warmup = int(p, 'warmup', 2, 0)!;
    const image = str(p, 'image') ?? 'public/samples/chelsea.jpg';
    const profile: Record<string, unknown> = {};
    for (const backend of backends) {
      const r = await profileBackend({ backend, runs, warmup, image, models });
      console.log(profileSummary(r));
      profile[backend] = r;
    }
    writeJson(str(p, 'json'), { date: new Date().toISOString(), machine: machineInfo(), profile });
    return;
  }
  if (flag(p, 'kernels')) {
    const { countKernelsInBrowser } = await import('../../test/e2e/kernels-browser');
    const report = await countKernelsInBrowser({ dist: str(p, 'dist') });
    const k = report.kernels;
    console.log(
      `kernels per decoder forward (web preset): webgpu vanilla ${k.webgpu.vanilla}, lors ${k.webgpu.lors} ` +
        `(tfjs-op path: ${report.detail.webgpu.vanilla.ops.programs}, ${report.detail.webgpu.lors.ops.programs}) | ` +
        `wasm vanilla ${k.wasm.vanilla}, lors ${k.wasm.lors}`,
    );
    writeJson(str(p, 'json'), { date: new Date().toISOString(), machine: machineInfo(), ...report });
    return;
  }
  const long = flag(p, 'long-soak');
  const soakOptions: SoakOptions = {
    actions: long ? 'mixed' : 'slider',
    moves: int(p, 'soak-moves', long ? 1000 : 300, 0)!,
    drops: int(p, 'soak-drops', long ? 300 : 100, 0)!,
    readEvery: int(p, 'soak-read-every', 10, 1)!,
    verdict: { warmupMoves: int(p, 'soak-warmup', SOAK_WARMUP_MOVES, 0)! },
  };
  if (flag(p, 'soak') || long) {
    const soak = await runSoak(soakOptions, long);
    writeJson(str(p, 'json'), { date: new Date().toISOString(), machine: machineInfo(), soak });
    return;
  }
  const download = downloadBytes(models);
  const runs = int(p, 'runs', 10, 1)!;
  const warmup = int(p, 'warmup', 2, 0)!;
  const image = str(p, 'image') ?? 'public/samples/chelsea.jpg';
  const hasGpu = typeof (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== 'undefined';
  if (hasGpu) await import('@tensorflow/tfjs-backend-webgpu');
  const backends = (str(p, 'backends')?.split(',') ?? ['wasm', ...(hasGpu ? ['webgpu'] : [])]) as BackendName[];
  const node: Record<string, unknown> = {};
  for (const b of flag(p, 'no-node') ? [] : backends) {
    process.stderr.write(`bench: node/${b} …\n`);
    node[b] = await benchBackend(b, { runs, warmup, image, models });
    console.log(summaryLine(node[b] as Awaited<ReturnType<typeof benchBackend>>));
  }
  let browser: unknown = null;
  if (!flag(p, 'no-browser')) {
    const mod = await import('../../test/e2e/bench-browser');
    // This build cross-origin isolated (N wasm threads) and on a host without COOP/COEP (1 thread), same run.
    const isolated = await mod.benchBrowser({ runs, warmup, isolated: true });
    const oneThread = await mod.benchBrowser({ runs, warmup, isolated: false });
    const beforeDist = str(p, 'before-dist');
    const before = beforeDist ? await mod.benchBrowser({ runs, warmup, dist: beforeDist, isolated: false }) : undefined;
    browser = { isolated, oneThread, ...(before ? { before } : {}) };
    for (const [k, b] of Object.entries(browser as Record<string, unknown>))
      console.log(`browser/${k}: ${JSON.stringify(b)}`);
  }
  const soak = !flag(p, 'no-browser') && soakOptions.moves > 0 ? await runSoak(soakOptions, false) : null;
  const out = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    download,
    node,
    browser,
    soak,
  };
  writeJson(str(p, 'json'), out);
}

/**
 * The browser soak; prints its summary and sets a failing exit code on a failed verdict (tensors moved, the heap
 * leaks or its slope is too uncertain) or, for the long soak, a missed goal (src/cli/soakVerdict.ts).
 */
async function runSoak(o: SoakOptions, long: boolean) {
  const { soakBrowser } = await import('../../test/e2e/bench-browser');
  const { soakSummary } = await import('../../test/e2e/soak');
  const r = await soakBrowser(o);
  if (!r) return null;
  console.log(soakSummary(r));
  const goals = long ? longSoakGoals(r.verdict, r.latencyDrift.move, r.latencyDrift.drop) : null;
  if (goals) console.log(`long soak goals: ${JSON.stringify(goals)}`);
  if (!r.verdict.ok || (goals && !goals.ok)) {
    console.error(
      `bench: soak failed${r.verdict.ok ? ' (a long-soak goal missed)' : `: ${r.verdict.reasons.join('; ')}`}`,
    );
    process.exitCode = 1;
  }
  return { ...r, ...(goals ? { goals } : {}) };
}

/**
 * Bytes of each model folder the app fetches (every file: model.json and its weight files): the first load is the
 * backbone and both decoders; the compressed LORS source is fetched when chosen. Printed and returned.
 */
function downloadBytes(models: string) {
  const folder = (dir: string) => {
    const path = join(models, dir);
    if (!existsSync(path)) return null;
    return readdirSync(path).reduce((a, f) => a + statSync(join(path, f)).size, 0);
  };
  const perFolder = {
    nanodet: folder(NANODET_DIR),
    vanilla: folder(DECODER_DIRS.vanilla),
    lors: folder(LORS_SOURCE_DIRS.trained),
    compressed: folder(LORS_SOURCE_DIRS.compressed),
  };
  const parts = [perFolder.nanodet, perFolder.vanilla, perFolder.lors];
  const firstLoad = parts.every((b) => b !== null) ? parts.reduce((a, b) => a! + b!, 0) : null;
  const mib = (b: number | null) => (b === null ? 'missing' : `${(b / 2 ** 20).toFixed(2)} MiB`);
  console.log(
    `download: first load ${mib(firstLoad)} (nanodet ${mib(perFolder.nanodet)}, vanilla ${mib(perFolder.vanilla)}, ` +
      `lors ${mib(perFolder.lors)}); compressed LORS on demand ${mib(perFolder.compressed)}`,
  );
  return { firstLoad, perFolder };
}

function writeJson(path: string | undefined, data: unknown) {
  if (!path) return;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  console.log(`bench: wrote ${path}`);
}

runCli(import.meta.url, 'bench', { spec: SPEC, usage: USAGE }, main);
