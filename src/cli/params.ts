/**
 * npm run params -- [--preset paper|web|tiny] [--variant vanilla|vanilla4x32|lors] [--rank-a N] [--rank-t N]
 *                   [--groups K|1,1,2,2,3,3] [--groups-t K|list] [--stages N] [--json]
 * npm run params -- --lors-source trained|compressed [--rank-a N] [--rank-t N] [--groups K|list] [--json]
 *
 * Exact parameter counts from countParameters (src/model/params.ts). `decoder` is the paper's count (stages +
 * LORS shared parts; queries and neck left out); `total` adds the queries, the neck and NanoDet-g's backbone.
 */
import { validateConfig, type ModelConfig, type VariantName } from '../model/config';
import { countParameters, type ParamCount } from '../model/params';
import { NANODET_PARAMS } from '../model/backbone/nanodet';
import { configFromArgs, configOptions, LORS_SLICE_OPTIONS, lorsSliceFromArgs } from './config-args';
import { flag, parseArgs, runCli, str, UsageError, usageText, type OptionSpec, type ParsedArgs } from './args';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sliceConfig } from '../model/lors/slice';

const DEFAULTS = { preset: 'paper', variant: 'lors' } as const;
const SPEC: Record<string, OptionSpec> = {
  ...configOptions(DEFAULTS),
  'lors-source': LORS_SLICE_OPTIONS['lors-source']!,
  weights: {
    type: 'string',
    help: "with --lors-source: the source's weights folder (default public/models/<its folder>)",
  },
  json: { type: 'boolean', help: 'print JSON instead of a table' },
};
const USAGE = usageText('npm run params --', '[options]', SPEC);

export interface ParamsReport {
  preset: string;
  variant: VariantName;
  config: ModelConfig;
  /** The paper's decoder count (queries and neck left out). */
  decoder: number;
  /** decoder + queries + neck + NanoDet-g backbone. */
  total: number;
  queries: number;
  neck: number;
  backbone: number;
  shared: number;
  byComponent: ParamCount['byComponent'];
  perStage: ParamCount['perStage'];
}

/**
 * --lors-source trained|compressed [--rank-a] [--rank-t] [--groups]: the config of that slice of the shipped ordered LORS
 * weights (only their model.json is read), i.e. what the app's sliders count.
 */
function sliceConfigFromArgs(a: ParsedArgs): { preset: string; variant: VariantName; config: ModelConfig } {
  const bad = ['preset', 'variant', 'groups-t', 'stages'].find((n) => str(a, n) !== undefined);
  if (bad) throw new UsageError(`--${bad} does not apply with --lors-source (the source's weights fix the model)`);
  const { dir, slice } = lorsSliceFromArgs(a);
  const folder = str(a, 'weights') ?? dir;
  const path = join(folder, 'model.json');
  if (!existsSync(path)) throw new Error(`${path} not found (the ${str(a, 'lors-source')} LORS weights)`);
  const src = validateConfig(
    (JSON.parse(readFileSync(path, 'utf8')) as { config?: unknown }).config,
    `${path}: config`,
  );
  const config = sliceConfig(src, slice ?? {});
  return { preset: config.preset, variant: config.variant, config };
}

/** The report for CLI arguments (throws UsageError on bad ones). */
export function paramsReport(argv: string[]): ParamsReport {
  const a = parseArgs(argv, SPEC, { maxPositionals: 0 });
  const { preset, variant, config } =
    str(a, 'lors-source') !== undefined ? sliceConfigFromArgs(a) : configFromArgs(a, DEFAULTS);
  const c = countParameters(config, NANODET_PARAMS);
  return {
    preset,
    variant,
    config,
    decoder: c.decoder,
    total: c.total,
    queries: c.queries,
    neck: c.neck,
    backbone: c.backbone,
    shared: c.shared,
    byComponent: c.byComponent,
    perStage: c.perStage,
  };
}

const fmt = (n: number) => n.toLocaleString('en-US');

export function formatReport(r: ParamsReport): string {
  const l = r.config.lors;
  const what = l
    ? `AdaMixer+LORS (rank A ${l.rankA}, groups A [${l.groupsA.join(',')}], rank T ${l.rankT}, groups T [${l.groupsT.join(',')}])`
    : r.variant === 'vanilla4x32'
      ? 'vanilla AdaMixer, 4×32 sampling'
      : 'vanilla AdaMixer';
  const d = r.config.decoder;
  const lines = [
    `${what}, preset ${r.preset}: ${d.stages} stages, ${d.queries} queries, d_q ${d.dQuery}, G ${d.samplingGroups}, P_in ${d.pointsIn}, P_out ${d.pointsOut}`,
    '',
    `${'component'.padEnd(28)}${'parameters'.padStart(14)}`,
  ];
  for (const [k, v] of Object.entries(r.byComponent)) lines.push(`  ${k.padEnd(26)}${fmt(v!).padStart(14)}`);
  lines.push(`${'decoder (paper count)'.padEnd(28)}${fmt(r.decoder).padStart(14)}`);
  lines.push(`  ${'of which shared'.padEnd(26)}${fmt(r.shared).padStart(14)}`);
  lines.push(`${'queries'.padEnd(28)}${fmt(r.queries).padStart(14)}`);
  lines.push(`${'neck'.padEnd(28)}${fmt(r.neck).padStart(14)}`);
  lines.push(`${'NanoDet-g backbone (frozen)'.padEnd(28)}${fmt(r.backbone).padStart(14)}`);
  lines.push(`${'total'.padEnd(28)}${fmt(r.total).padStart(14)}`);
  lines.push('', `${'stage'.padEnd(8)}${'private'.padStart(14)}${'other'.padStart(14)}${'total'.padStart(14)}`);
  for (const s of r.perStage)
    lines.push(
      `${String(s.stage).padEnd(8)}${fmt(s.private).padStart(14)}${fmt(s.other).padStart(14)}${fmt(s.total).padStart(14)}`,
    );
  return lines.join('\n');
}

async function main(a: ParsedArgs, argv: string[]) {
  const r = paramsReport(argv);
  console.log(flag(a, 'json') ? JSON.stringify(r, null, 2) : formatReport(r));
}

runCli(import.meta.url, 'params', { spec: SPEC, usage: USAGE }, main);
