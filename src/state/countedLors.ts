/** The LORS config the sliders select: what the LORS panel runs, its counters count and the chart marks. */
import { useMemo } from 'react';
import { makeConfig, type ModelConfig } from '../model/config';
import { sliderConfig } from './sliders';
import { sourceConfigOf, useModels } from './models';
import { useSettings } from './settings';

/** The slice of the selected source (else the loaded LORS config, else the web preset's) the sliders describe. */
export function useCountedLorsConfig(): ModelConfig {
  const lorsSource = useSettings((s) => s.lorsSource);
  const rankA = useSettings((s) => s.rankA),
    rankT = useSettings((s) => s.rankT);
  const groupsMode = useSettings((s) => s.groupsMode),
    groupsK = useSettings((s) => s.groupsK);
  const source = useModels((s) => sourceConfigOf(s, lorsSource));
  return useMemo(() => {
    const base = source ?? makeConfig('web', 'lors');
    try {
      return sliderConfig(base, { rankA, rankT, groupsMode, groupsK });
    } catch {
      return base;
    }
  }, [source, rankA, rankT, groupsMode, groupsK]);
}
