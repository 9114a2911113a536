/**
 * npm run bench [-- --json OUT] [--runs N] [--warmup N] [--backends wasm,webgpu] [--no-browser] [--image FILE]
 *
 * Node (bench-node.ts): wasm, plus webgpu where a real GPU adapter exists (../shared/gpu kit: bench/gpu-bench.ts).
 * Browser (test/e2e/bench-browser.ts): the built app in headless Chromium on wasm — photo → overlay, slider →
 * overlay, cold start. SwiftShader's WebGPU (no GPU) is never timed: it is a software rasteriser.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BackendName } from '../model/types';
import { flag, int, parseArgs, runCli, str, usageText, type OptionSpec } from './args';
import { benchBackend, machineInfo, summaryLine } from './bench-node';

const SPEC: Record<string, OptionSpec> = {
  json: { type: 'string', help: 'write the results as JSON to this file' },
  runs: { type: 'string', help: 'timed runs per measurement (default 10, at least 10 for reported figures)' },
  warmup: { type: 'string', help: 'untimed runs first (default 2)' },
  backends: { type: 'string', help: 'comma list of Node backends (default: wasm, plus webgpu when navigator.gpu exists)' },
  image: { type: 'string', help: 'photo to time (default public/samples/chelsea.jpg)' },
  'no-browser': { type: 'boolean', help: 'skip the headless-Chromium part' },
  models: { type: 'string', help: 'folder with nanodet/, vanilla/, lors/ (default public/models)' },
};
const USAGE = usageText('bench', 'npm run bench -- [options]', SPEC);

async function main() {
  const p = parseArgs(process.argv.slice(2), SPEC, { maxPositionals: 0 });
  if (p.help) { console.log(USAGE); return; }
  const runs = int(p, 'runs', 10, 1)!;
  const warmup = int(p, 'warmup', 2, 0)!;
  const models = str(p, 'models') ?? 'public/models';
  const image = str(p, 'image') ?? 'public/samples/chelsea.jpg';
  const hasGpu = typeof (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== 'undefined';
  if (hasGpu) await import('@tensorflow/tfjs-backend-webgpu');
  const backends = (str(p, 'backends')?.split(',') ?? ['wasm', ...(hasGpu ? ['webgpu'] : [])]) as BackendName[];
  const node: Record<string, unknown> = {};
  for (const b of backends) {
    process.stderr.write(`bench: node/${b} …\n`);
    node[b] = await benchBackend(b, { runs, warmup, image, models });
    console.log(summaryLine(node[b] as Awaited<ReturnType<typeof benchBackend>>));
  }
  let browser: unknown = null;
  if (!flag(p, 'no-browser')) {
    const mod = await import('../../test/e2e/bench-browser');
    browser = await mod.benchBrowser({ runs, warmup });
  }
  const out = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    node,
    browser,
  };
  const json = str(p, 'json');
  if (json) {
    mkdirSync(dirname(json), { recursive: true });
    writeFileSync(json, JSON.stringify(out, null, 2) + '\n');
    console.log(`bench: wrote ${json}`);
  }
}

if (process.argv[1]?.endsWith('bench.ts')) runCli('bench', USAGE, main);
