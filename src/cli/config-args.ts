/** The model-configuration options shared by the CLIs (params, init-weights): preset, variant, LORS ranks/groups. */
import { makeConfig, parseGroups, PRESETS, type ConfigOverrides, type ModelConfig, type PresetName, type VariantName } from '../model/config';
import { int, str, UsageError, type OptionSpec, type ParsedArgs } from './args';

export function configOptions(defaults: { preset: PresetName; variant: VariantName }): Record<string, OptionSpec> {
  return {
    preset: { type: 'string', help: `decoder size preset (default ${defaults.preset})`, choices: Object.keys(PRESETS) },
    variant: { type: 'string', help: `decoder variant (default ${defaults.variant})`, choices: ['vanilla', 'vanilla4x32', 'lors'] },
    'rank-a': { type: 'string', help: 'LORS^A rank r (lors only)' },
    'rank-t': { type: 'string', help: 'LORS^T rank r (lors only)' },
    groups: { type: 'string', help: 'LORS^A groups K: one number or per stage, e.g. 1,1,2,2,3,3 (lors only)' },
    'groups-t': { type: 'string', help: 'LORS^T groups K, as --groups (lors only)' },
    stages: { type: 'string', help: 'number of decoder stages (default 6)' },
  };
}

/** The config the options describe (UsageError on bad values). */
export function configFromArgs(a: ParsedArgs, defaults: { preset: PresetName; variant: VariantName }): {
  preset: PresetName; variant: VariantName; config: ModelConfig;
} {
  const preset = (str(a, 'preset') ?? defaults.preset) as PresetName;
  const variant = (str(a, 'variant') ?? defaults.variant) as VariantName;
  const lorsOnly = ['rank-a', 'rank-t', 'groups', 'groups-t'].filter((n) => str(a, n) !== undefined);
  if (variant !== 'lors' && lorsOnly.length) throw new UsageError(`--${lorsOnly[0]} only applies to --variant lors`);
  const o: ConfigOverrides = {
    rankA: int(a, 'rank-a', undefined, 1),
    rankT: int(a, 'rank-t', undefined, 1),
    stages: int(a, 'stages', undefined, 1, 64),
  };
  try {
    const g = str(a, 'groups');
    if (g !== undefined) o.groups = parseGroups(g);
    const gt = str(a, 'groups-t');
    if (gt !== undefined) o.groupsT = parseGroups(gt);
    return { preset, variant, config: makeConfig(preset, variant, o) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
