/** The model-configuration options shared by the CLIs (params, init-weights): preset, variant, LORS ranks/groups. */
import {
  makeConfig,
  parseGroups,
  PRESETS,
  type ConfigOverrides,
  type ModelConfig,
  type PresetName,
  type VariantName,
} from '../model/config';
import { LORS_SOURCE_DIRS, LORS_SOURCE_NAMES, SLICED_SLOT, type LorsSourceName } from '../model/constants';
import { hasLorsParts, isVariant, VARIANT_NAMES } from '../model/variants';
import type { LorsSlice } from '../model/lors/slice';
import { int, str, UsageError, type OptionSpec, type ParsedArgs } from './args';

export function configOptions(defaults: { preset: PresetName; variant: VariantName }): Record<string, OptionSpec> {
  return {
    preset: { type: 'string', help: `decoder size preset (default ${defaults.preset})`, choices: Object.keys(PRESETS) },
    variant: {
      type: 'string',
      help: `decoder variant (default ${defaults.variant})`,
      choices: [...VARIANT_NAMES, 'vanilla4x32'],
    },
    'rank-a': { type: 'string', help: 'LORS^A rank r (lors only)' },
    'rank-t': { type: 'string', help: 'LORS^T rank r (lors only)' },
    groups: { type: 'string', help: 'LORS^A groups K: one number or per stage, e.g. 1,1,2,2,3,3 (lors only)' },
    'groups-t': { type: 'string', help: 'LORS^T groups K, as --groups (lors only)' },
    stages: { type: 'string', help: 'number of decoder stages (default 6)' },
  };
}

/** The config the options describe (UsageError on bad values). */
export function configFromArgs(
  a: ParsedArgs,
  defaults: { preset: PresetName; variant: VariantName },
): {
  preset: PresetName;
  variant: VariantName;
  config: ModelConfig;
} {
  const preset = (str(a, 'preset') ?? defaults.preset) as PresetName;
  const variant = (str(a, 'variant') ?? defaults.variant) as VariantName;
  const lorsOnly = ['rank-a', 'rank-t', 'groups', 'groups-t'].filter((n) => str(a, n) !== undefined);
  if (lorsOnly.length && !(isVariant(variant) && hasLorsParts(variant)))
    throw new UsageError(
      `--${lorsOnly[0]} only applies to --variant ${VARIANT_NAMES.filter(hasLorsParts).join(' or ')}`,
    );
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

/**
 * Live-compression options of detect / eval / params (the app's LORS mode switch and sliders): which ordered LORS
 * weights (the trained LORS model, or the vanilla model compressed into LORS) and the slice of them.
 */
export const LORS_SLICE_OPTIONS: Record<string, OptionSpec> = {
  'lors-source': {
    type: 'string',
    choices: [...LORS_SOURCE_NAMES],
    help: `LORS weights: trained (public/models/${LORS_SOURCE_DIRS.trained}) or compressed (the vanilla model compressed into LORS, public/models/${LORS_SOURCE_DIRS.compressed}); default trained`,
  },
  'rank-a': { type: 'string', help: 'LORS^A rank r of the slice (default: all the source has)' },
  'rank-t': { type: 'string', help: 'LORS^T rank r of the slice (default: all the source has)' },
  groups: {
    type: 'string',
    help: 'LORS^A groups K of the slice: one number or per stage, e.g. 1,1,2,2,3,3 (default: all)',
  },
};

/**
 * The source folder and slice of those options (`slice` undefined when none is given). With `model`, they are
 * refused unless it is the sliced slot ('lors').
 */
export function lorsSliceFromArgs(
  a: ParsedArgs,
  model?: string,
): { source: LorsSourceName; dir: string; slice?: LorsSlice } {
  const given = Object.keys(LORS_SLICE_OPTIONS).filter((n) => str(a, n) !== undefined);
  if (model !== undefined && model !== SLICED_SLOT && given.length)
    throw new UsageError(`--${given[0]} applies to --model ${SLICED_SLOT}`);
  const source = (str(a, 'lors-source') ?? 'trained') as LorsSourceName;
  const dir = `public/models/${LORS_SOURCE_DIRS[source]}`;
  if (!given.length) return { source, dir };
  try {
    const g = str(a, 'groups');
    return {
      source,
      dir,
      slice: {
        rankA: int(a, 'rank-a', undefined, 1),
        rankT: int(a, 'rank-t', undefined, 1),
        groupsA: g === undefined ? undefined : parseGroups(g),
      },
    };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
