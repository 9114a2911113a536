/**
 * npm run init-weights -- --out DIR [--preset paper|web|tiny] [--variant vanilla|vanilla4x32|lors]
 *                         [--rank-a N] [--rank-t N] [--groups K|1,1,2,2,3,3] [--groups-t K|list] [--stages N]
 *                         [--seed 0] [--encoding float32|float16|int8] [--force]
 *
 * Writes a seeded-init weights folder (model.json + 4 MiB shards, src/model/weights/FORMAT.md): every tensor of
 * parameterSpec(config) initialised by its rule (src/model/weights/init.ts). The same seed gives the same bytes
 * (apart from meta.createdAt).
 */
import { resolve } from 'node:path';
import type { ModelConfig, PresetName, VariantName } from '../model/config';
import { countParameters } from '../model/params';
import { WEIGHTS_ENCODINGS, type WeightsEncoding } from '../model/weights/encoding';
import { initArrays } from '../model/weights/init';
import { saveWeights, shardFileBytes } from '../model/weights/io';
import { configFromArgs, configOptions } from './config-args';
import { flag, int, parseArgs, requireStr, runCli, str, usageText, type OptionSpec, type ParsedArgs } from './args';
import { writeWeightsFolder } from './node-io';

const DEFAULTS = { preset: 'web', variant: 'lors' } as const;
const SPEC: Record<string, OptionSpec> = {
  out: { type: 'string', help: 'output folder (created if missing) — required' },
  ...configOptions(DEFAULTS),
  seed: { type: 'string', help: 'PRNG seed, an integer ≥ 0 (default 0)' },
  encoding: {
    type: 'string',
    help: 'float32 (default), float16 (half the size) or int8 (per-channel int8 matrices, a quarter)',
    choices: WEIGHTS_ENCODINGS,
  },
  force: { type: 'boolean', help: 'overwrite a folder that already holds a model.json' },
};
const USAGE = usageText('npm run init-weights --', '--out DIR [options]', SPEC);

export interface InitWeightsPlan {
  out: string;
  preset: PresetName;
  variant: VariantName;
  config: ModelConfig;
  seed: number;
  encoding: WeightsEncoding;
  force: boolean;
}

/** Parses the arguments into what to write (throws UsageError on bad ones). */
export function planInitWeights(argv: string[]): InitWeightsPlan {
  const a = parseArgs(argv, SPEC, { maxPositionals: 0 });
  const out = requireStr(a, 'out');
  const { preset, variant, config } = configFromArgs(a, DEFAULTS);
  const seed = int(a, 'seed', 0, 0, Number.MAX_SAFE_INTEGER)!;
  return {
    out,
    preset,
    variant,
    config,
    seed,
    encoding: (str(a, 'encoding') ?? 'float32') as WeightsEncoding,
    force: flag(a, 'force'),
  };
}

/** Builds the files of a plan (name → bytes). */
export async function buildInitWeights(plan: InitWeightsPlan): Promise<Map<string, Uint8Array>> {
  return saveWeights(plan.config, initArrays(plan.config, plan.seed), {
    encoding: plan.encoding,
    meta: {
      createdBy: 'src/cli/init-weights.ts',
      source: 'init',
      seed: plan.seed,
      preset: plan.preset,
      variant: plan.variant,
    },
  });
}

async function main(_a: ParsedArgs, argv: string[]) {
  const plan = planInitWeights(argv);
  const files = await buildInitWeights(plan);
  writeWeightsFolder(plan.out, files, plan.force);
  const shards = files.size - 1;
  const bytes = shardFileBytes(files);
  const n = countParameters(plan.config);
  console.log(
    `wrote ${resolve(plan.out)}: model.json + ${shards} shard${shards > 1 ? 's' : ''} ` +
      `(${(bytes / 2 ** 20).toFixed(2)} MiB, ${plan.encoding}); ` +
      `${plan.variant} ${plan.preset}, ${(n.total - n.backbone).toLocaleString('en-US')} learnable parameters, seed ${plan.seed}`,
  );
}

runCli(import.meta.url, 'init-weights', { spec: SPEC, usage: USAGE }, main);
