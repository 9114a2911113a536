/**
 * The LORS sliders (r of LORS^A, r of LORS^T, K of LORS^A as one value or the paper's schedule) and the slice of a
 * LORS source they select, clamped into the source by the slice rule (src/model/lors/slice.ts, 'clamp'); the
 * worker then gets that exact slice.
 */
import { PAPER_GROUPS, type ModelConfig } from '../model/config';
import { sliceConfig } from '../model/lors/slice';

export type GroupsMode = 'uniform' | 'schedule';

export interface LorsSliders {
  rankA: number;
  rankT: number;
  groupsMode: GroupsMode;
  /** K for every stage when groupsMode is 'uniform'. */
  groupsK: number;
}

/** Per-stage K of LORS^A for the sliders: one K everywhere, or the paper's [1,1,2,2,3,3] stretched to N stages. */
export function groupsForStages(s: Pick<LorsSliders, 'groupsMode' | 'groupsK'>, stages: number): number[] {
  if (s.groupsMode === 'uniform') return new Array<number>(stages).fill(s.groupsK);
  return Array.from({ length: stages }, (_, i) => PAPER_GROUPS[Math.floor((i * PAPER_GROUPS.length) / stages)]!);
}

/**
 * The config of the slice of a LORS source the sliders select, each value clamped into what the source holds
 * (K_i ≤ the source's K_i): what the LORS decoder runs, its counters count and the chart marks.
 */
export function sliderConfig(source: ModelConfig, s: LorsSliders): ModelConfig {
  if (!source.lors) throw new Error('the LORS sliders need a LORS config');
  return sliceConfig(
    source,
    { rankA: s.rankA, rankT: s.rankT, groupsA: groupsForStages(s, source.decoder.stages) },
    'clamp',
  );
}

/** Slider values that describe a LORS config (inverse of sliderConfig, for the initial slider positions). */
export function slidersFromConfig(cfg: ModelConfig): LorsSliders {
  const l = cfg.lors;
  if (!l) throw new Error('slidersFromConfig needs a LORS config');
  const sched = groupsForStages({ groupsMode: 'schedule', groupsK: 1 }, cfg.decoder.stages);
  const isSchedule =
    l.groupsA.length === sched.length && l.groupsA.every((k, i) => k === sched[i]) && new Set(l.groupsA).size > 1;
  return {
    rankA: l.rankA,
    rankT: l.rankT,
    groupsMode: isSchedule ? 'schedule' : 'uniform',
    groupsK: isSchedule ? 1 : (l.groupsA[0] ?? 1),
  };
}
