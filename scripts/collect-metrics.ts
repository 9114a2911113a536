/**
 * Assembles public/models/metrics.json (what the README's Results table and the app show) from measured files:
 *   npx tsx scripts/collect-metrics.ts --runs DIR_WITH web-vanilla<suffix>/ web-lors<suffix>/ --evals DIR_WITH eval-{vanilla,lors,nanodet}.json
 *                                     [--suffix -qi] [--baseline-evals DIR_WITH eval-{vanilla,lors}.json] [--baseline-runs DIR]
 *                                     [--models public/models] [--out public/models/metrics.json]
 *                                     [--train-machine TEXT] [--cpu-evals DIR --cpu-runs DIR --cpu-suffix -qi]
 * --baseline-*: the same recipe without NanoDet-initialised queries (reported next to every number).
 * --train-machine: where the shipped runs trained (default: this machine); --cpu-*: the same decoders trained with the
 * CPU recipe (reported next to the shipped ones when these came from a GPU machine).
 * eval-lors-from-vanilla.json (when in --evals): the vanilla model compressed into LORS, whole export.
 * Every number comes from those files: `npm run eval` outputs (the app's own inference on the val split), the
 * training runs' summary.json / log.jsonl, the shipped weights' manifests and the parameter counter.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { NANODET_PARAMS } from '../src/model/backbone/nanodet';
import type { ModelConfig } from '../src/model/config';
import { countParameters } from '../src/model/params';
import { parseArgs, requireStr, str } from '../src/cli/args';
import { DECODER_SLOTS, type DecoderSlot } from '../src/model/types';

const a = parseArgs(process.argv.slice(2), {
  runs: { type: 'string', help: 'folder with the training runs web-vanilla/ and web-lors/' },
  evals: { type: 'string', help: 'folder with eval-vanilla.json, eval-lors.json, eval-nanodet.json' },
  models: { type: 'string', help: 'shipped models folder (default public/models)' },
  out: { type: 'string', help: 'output (default public/models/metrics.json)' },
  suffix: { type: 'string', help: 'run folder suffix (web-vanilla<suffix>)' },
  'baseline-evals': { type: 'string', help: 'evals of the models trained without NanoDet-initialised queries' },
  'baseline-runs': { type: 'string', help: 'their training runs (web-vanilla/, web-lors/)' },
  'train-machine': { type: 'string', help: 'where the shipped runs were trained (default: this machine)' },
  'cpu-evals': { type: 'string', help: 'evals of the decoders trained with the CPU recipe' },
  'cpu-runs': { type: 'string', help: 'their training runs (web-vanilla<cpu-suffix>/, web-lors<cpu-suffix>/)' },
  'cpu-suffix': { type: 'string', help: 'run folder suffix of the CPU runs' },
});
const suffix = str(a, 'suffix') ?? '';
const baselineEvals = str(a, 'baseline-evals');
const baselineRuns = str(a, 'baseline-runs');
const runs = requireStr(a, 'runs');
const evals = requireStr(a, 'evals');
const models = str(a, 'models') ?? 'public/models';
const thisMachine = `${cpus()[0]?.model ?? 'CPU'} × ${cpus().length} vCPU, ${Math.round(totalmem() / 2 ** 30)} GiB, no GPU`;
const trainMachine = str(a, 'train-machine') ?? thisMachine;
const cpuEvals = str(a, 'cpu-evals');
const cpuRuns = str(a, 'cpu-runs');
const out = str(a, 'out') ?? join(models, 'metrics.json');
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const KEYS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'] as const;
const round = (x: number) => Math.round(x * 100) / 100;

function metricsOf(name: string, dir = evals) {
  const e = json(join(dir, `eval-${name}.json`));
  return {
    ...Object.fromEntries(KEYS.map((k) => [k, round(e[k])])),
    perClass: Object.fromEntries(Object.entries(e.perClass as Record<string, number>).map(([k, v]) => [k, round(v)])),
    images: e.images,
    evaluatedAt: e.date,
    backend: e.backend,
  };
}

function folderBytes(dir: string): number {
  const m = json(join(dir, 'model.json'));
  return (
    statSync(join(dir, 'model.json')).size + Object.values(m.bytes as Record<string, number>).reduce((x, y) => x + y, 0)
  );
}

/** What the shipped decoders' own configs say about where their queries start. */
function queryInitNote(): string {
  const inits = DECODER_SLOTS.map((n) => (json(join(models, n, 'model.json')).config as ModelConfig).queryInit);
  if (inits.every((q) => q === 'nanodet')) {
    const without = baselineEvals ? ' `withoutQueryInit` holds the same recipe with whole-image boxes.' : '';
    return `Both decoders' queries start from NanoDet-g's top-100 head proposals (queryInit "nanodet", class-agnostic NMS), not AdaMixer's whole-image boxes.${without}`;
  }
  return "Queries start from AdaMixer's whole-image boxes (no NanoDet-initialised queries).";
}

function decoder(name: DecoderSlot) {
  const dir = join(models, name);
  const manifest = json(join(dir, 'model.json'));
  const cfg = manifest.config as ModelConfig;
  const c = countParameters(cfg, NANODET_PARAMS);
  return {
    config: cfg,
    params: { decoder: c.decoder, total: c.total, shared: c.shared },
    weightBytes: folderBytes(dir),
    metrics: metricsOf(name),
    training: { ...training(join(runs, `web-${name}${suffix}`), `docs/curves-${name}.png`), machine: trainMachine },
    ...(cpuEvals
      ? {
          cpuRecipe: {
            metrics: metricsOf(name, cpuEvals),
            ...(cpuRuns
              ? {
                  training: {
                    ...training(join(cpuRuns, `web-${name}${str(a, 'cpu-suffix') ?? ''}`)),
                    machine: thisMachine,
                  },
                }
              : {}),
          },
        }
      : {}),
    ...(baselineEvals
      ? {
          withoutQueryInit: {
            metrics: metricsOf(name, baselineEvals),
            ...(baselineRuns ? { training: training(join(baselineRuns, `web-${name}`)) } : {}),
          },
        }
      : {}),
  };
}

function training(run: string, curves?: string) {
  const summary = json(join(run, 'summary.json'));
  const log = readFileSync(join(run, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  // Epoch 0 (a run started from --init) is the starting point, not a trained epoch.
  const epochs = log
    .filter((r) => r.type === 'epoch')
    .map((r) => ({ epoch: r.epoch, step: r.step, val: r.val, ...(r.holdout ? { holdout: r.holdout } : {}) }));
  const start = log.find((r) => r.type === 'start');
  return {
    epochs: epochs.filter((e) => e.epoch > 0).length,
    steps: summary.steps,
    bestEpoch: summary.best_epoch,
    bestValAPTrainer: summary.best,
    wallSeconds: summary.wall_s,
    perEpoch: epochs,
    trainImages: start?.train_images,
    threads: start?.threads,
    args: start?.args,
    ...(curves ? { curves } : {}),
  };
}

/** The vanilla model compressed into LORS, as shipped (all its ranks), when evaluated. */
function fromVanilla() {
  const dir = join(models, 'lors-from-vanilla');
  if (!existsSync(join(dir, 'model.json')) || !existsSync(join(evals, 'eval-lors-from-vanilla.json'))) return undefined;
  const cfg = json(join(dir, 'model.json')).config as ModelConfig;
  const c = countParameters(cfg, NANODET_PARAMS);
  return {
    config: cfg,
    params: { decoder: c.decoder, total: c.total, shared: c.shared },
    weightBytes: folderBytes(dir),
    metrics: metricsOf('lors-from-vanilla'),
  };
}

const lorsFromVanilla = fromVanilla();
const result = {
  date: new Date().toISOString().slice(0, 10),
  machine: thisMachine,
  trainMachine,
  split: 'coco-subset val: 250 COCO-2017 photos, 2,198 boxes (../shared/data/coco-subset); wasm backend, input 416',
  notes: [
    'vanilla and LORS decoders: trained by this project on coco-subset train photos only (the 3,465, less the holdout a run keeps out to choose its checkpoint; same data, schedule, augmentation, seed).',
    ...(cpuEvals
      ? [
          `The shipped decoders were trained on ${trainMachine}; \`cpuRecipe\` holds the same decoders trained with the CPU recipe on ${thisMachine}.`,
        ]
      : []),
    "NanoDet-g head: trained by its authors on all of COCO 2017 train (118k photos). By provenance.tsv, 133 of the 250 val photos come from COCO train2017 folders (73 from val2017, 44 unknown), so NanoDet has likely seen many of them: its AP here reads high and is not comparable to the decoders' on equal terms.",
    queryInitNote(),
  ],
  models: {
    vanilla: decoder('vanilla'),
    lors: decoder('lors'),
    ...(lorsFromVanilla ? { lorsFromVanilla } : {}),
    nanodet: {
      params: { total: NANODET_PARAMS },
      weightBytes:
        statSync(join(models, 'nanodet', 'nanodet.bin')).size + statSync(join(models, 'nanodet', 'model.json')).size,
      metrics: metricsOf('nanodet'),
    },
  },
};
if (!existsSync(models)) throw new Error(`${models} missing`);
writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
console.log(`wrote ${out}`);

// The README's Results table, printed from the same numbers.
const M = (n: number) => `${(n / 1e6).toFixed(2)}M`;
const MB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const row = (
  name: string,
  p: { decoder?: number; total: number },
  bytes: number,
  m: Record<string, unknown>,
  train: string,
) =>
  `| ${name} | ${p.decoder !== undefined ? M(p.decoder) : '–'} | ${M(p.total)} | ${MB(bytes)} | ${KEYS.map((k) => (m[k] as number).toFixed(1)).join(' | ')} | ${train} |`;
const hm = (s: number) =>
  s < 3600 ? `${Math.round(s / 60)} min` : `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
const v = result.models.vanilla,
  l = result.models.lors,
  n = result.models.nanodet;
console.log(
  [
    '| model | decoder params | total params | weights | AP | AP50 | AP75 | APs | APm | APl | training |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    row(
      'Vanilla AdaMixer (web)',
      v.params,
      v.weightBytes,
      v.metrics,
      `${v.training.epochs} epochs, ${hm(v.training.wallSeconds)}`,
    ),
    row(
      'AdaMixer + LORS (web)',
      l.params,
      l.weightBytes,
      l.metrics,
      `${l.training.epochs} epochs, ${hm(l.training.wallSeconds)}`,
    ),
    ...(v.withoutQueryInit && l.withoutQueryInit
      ? [
          row(
            'Vanilla, whole-image queries',
            v.params,
            v.weightBytes,
            v.withoutQueryInit.metrics,
            v.withoutQueryInit.training
              ? `${v.withoutQueryInit.training.epochs} epochs, ${hm(v.withoutQueryInit.training.wallSeconds)}`
              : '',
          ),
          row(
            'LORS, whole-image queries',
            l.params,
            l.weightBytes,
            l.withoutQueryInit.metrics,
            l.withoutQueryInit.training
              ? `${l.withoutQueryInit.training.epochs} epochs, ${hm(l.withoutQueryInit.training.wallSeconds)}`
              : '',
          ),
        ]
      : []),
    ...(v.cpuRecipe && l.cpuRecipe
      ? [
          row(
            'Vanilla, CPU recipe',
            v.params,
            v.weightBytes,
            v.cpuRecipe.metrics,
            v.cpuRecipe.training
              ? `${v.cpuRecipe.training.epochs} epochs, ${hm(v.cpuRecipe.training.wallSeconds)}`
              : '',
          ),
          row(
            'LORS, CPU recipe',
            l.params,
            l.weightBytes,
            l.cpuRecipe.metrics,
            l.cpuRecipe.training
              ? `${l.cpuRecipe.training.epochs} epochs, ${hm(l.cpuRecipe.training.wallSeconds)}`
              : '',
          ),
        ]
      : []),
    ...(result.models.lorsFromVanilla
      ? [
          row(
            'Vanilla compressed to LORS (all ranks shipped)',
            result.models.lorsFromVanilla.params,
            result.models.lorsFromVanilla.weightBytes,
            result.models.lorsFromVanilla.metrics,
            'no training (compress.py lorsify)',
          ),
        ]
      : []),
    row('NanoDet-g own head', n.params, n.weightBytes, n.metrics, 'by its authors, all of COCO'),
  ].join('\n'),
);
