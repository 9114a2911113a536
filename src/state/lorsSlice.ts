/**
 * The LORS slice the sliders select, from one selector: what the worker runs (the controller), what the counters
 * count, the chart marks and the controls show. The sliders' ranges are the selected source's own config.
 */
import { useDeferredValue, useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { makeConfig, type ModelConfig } from '../model/config';
import type { LorsSourceName } from '../model/constants';
import { modelsStore, useModels, type ModelsState } from './modelStatus';
import { settingsStore, useSettings, type SettingsState } from './settings';
import { sliderConfig } from './sliders';

export interface LorsSelection {
  source: LorsSourceName;
  /** The config the sliders cut (the selected source's, else the loaded LORS decoder's, else the web preset's). */
  limits: ModelConfig;
  /** The slice of `limits` the sliders select, clamped into it: what runs, is counted and is charted. */
  config: ModelConfig;
}

type SliderFields = Pick<SettingsState, 'lorsSource' | 'rankA' | 'rankT' | 'groupsMode' | 'groupsK'>;
type SourceFields = Pick<ModelsState, 'lorsSources' | 'decoders'>;

const WEB_LORS = makeConfig('web', 'lors');

export function selectLors(m: SourceFields, s: SliderFields): LorsSelection {
  const limits =
    m.lorsSources[s.lorsSource]?.config ?? m.lorsSources.trained?.config ?? m.decoders.lors?.config ?? WEB_LORS;
  return { source: s.lorsSource, limits, config: sliderConfig(limits, s) };
}

const sliderFields = (s: SettingsState): SliderFields => ({
  lorsSource: s.lorsSource,
  rankA: s.rankA,
  rankT: s.rankT,
  groupsMode: s.groupsMode,
  groupsK: s.groupsK,
});
const sourceFields = (m: ModelsState): SourceFields => ({ lorsSources: m.lorsSources, decoders: m.decoders });

/** selectLors for components (recomputed when a slider or the loaded sources change). */
export function useLorsSelection(): LorsSelection {
  const s = useSettings(useShallow(sliderFields));
  const m = useModels(useShallow(sourceFields));
  return useMemo(() => selectLors(m, s), [m, s]);
}

/**
 * useLorsSelection for what may follow a slider a moment later (counts, charts, the effect readout): React renders
 * the slider and the panels' busy marks first, then these.
 */
export const useDeferredLorsSelection = (): LorsSelection => useDeferredValue(useLorsSelection());

/** selectLors of the stores as they are now. */
export const currentLors = (settings: SettingsState = settingsStore.getState()) =>
  selectLors(modelsStore.getState(), settings);
