/**
 * What each panel shows of its result: the scrubber's stage (from the result's stages when it holds them all, so a
 * scrubber move redraws without the worker), through the display filter (threshold, class, NMS, top-k); and the
 * previous stage's boxes for the stage trails.
 */
import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { Detection, ModelName } from '../model/types';
import { useSession, type PanelResult } from '../state/session';
import { DECODER_STAGES, useSettings, type SettingsState } from '../state/settings';
import { visibleDetections, type DisplayFilter } from './visibleDetections';

const filterOf = (s: SettingsState): DisplayFilter & { stage: number } => ({
  threshold: s.scoreThreshold,
  classFilter: s.classFilter,
  maxResults: s.maxResults,
  nms: s.displayNms,
  stage: s.decoderStage,
});

/** The display filter and the scrubber's stage (one shallow pick). */
export const useDisplayFilter = () => useSettings(useShallow(filterOf));

/** The detections of `stage` in a result: its stored stages, else what it was run at. */
export function stageDetections(r: Pick<PanelResult, 'detections' | 'stages'>, stage: number): Detection[] {
  return r.stages?.[stage - 1] ?? r.detections;
}

export interface PanelDetections {
  /** The panel's result, when it belongs to the photo on screen. */
  result: PanelResult | undefined;
  /** What the panel draws and lists. */
  dets: Detection[];
  /** The stage shown (null: NanoDet). */
  stage: number | null;
  /** The previous stage's visible boxes (null: stage 1, NanoDet, or no stored stages). */
  previous: Detection[] | null;
}

export function usePanelDetections(model: ModelName): PanelDetections {
  const photo = useSession((s) => s.photo);
  const result = useSession((s) => s.results[model]);
  const f = useDisplayFilter();
  return useMemo(() => {
    const current = !!result && !!photo && result.imageId === photo.id;
    const stage = model === 'nanodet' ? null : result?.stages ? f.stage : (result?.stage ?? DECODER_STAGES);
    if (!current || !result) return { result: undefined, dets: [], stage, previous: null };
    const dets = visibleDetections(stage === null ? result.detections : stageDetections(result, stage), f);
    const previous =
      stage !== null && stage > 1 && result.stages ? visibleDetections(stageDetections(result, stage - 1), f) : null;
    return { result, dets, stage, previous };
  }, [result, photo, f, model]);
}
