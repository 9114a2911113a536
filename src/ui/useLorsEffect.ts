/**
 * The sliders' effect on the LORS panel: the slice's boxes against its source's full model on this photo (the whole
 * trained LORS decoder; for the vanilla model compressed into LORS, the vanilla decoder it came from), and the slice's
 * measured val AP (models/compression.json) against the full model and against vanilla.
 */
import { useMemo } from 'react';
import type { LorsConfig } from '../model/config';
import type { LorsSourceName } from '../model/constants';
import type { Detection } from '../model/types';
import { useDeferredLorsSelection } from '../state/lorsSlice';
import { measuredSlice, NEGLIGIBLE_AP, type MeasuredSlice } from '../state/measuredSlice';
import { useModels } from '../state/modelStatus';
import { useSession } from '../state/session';
import { diffDetections, type DetectionDiff } from './detectionDiff';
import { stageDetections, useDisplayFilter, usePanelDetections } from './usePanelDetections';
import { visibleDetections } from './visibleDetections';

export interface LorsEffect {
  source: LorsSourceName;
  /** The sliders select the whole model of the source (nothing cut off). */
  full: boolean;
  /** What the slice is compared with, in words. */
  referenceName: string;
  /** The full model's visible boxes at this stage (null: not run on this photo yet). */
  reference: Detection[] | null;
  /** The slice's boxes against the reference's (null: no reference, or the full model is selected). */
  diff: DetectionDiff | null;
  /** The selected slice's measured AP (null: not on the grid, or no compression.json). */
  measured: MeasuredSlice | null;
  /** A slice of the trained model that changes (nearly) nothing: the page says why. */
  negligible: boolean;
}

const sameLors = (a: LorsConfig, b: LorsConfig) =>
  a.rankA === b.rankA &&
  a.rankT === b.rankT &&
  a.groupsA.every((k, i) => k === b.groupsA[i]) &&
  a.groupsT.every((k, i) => k === b.groupsT[i]);

/** Off the measured grid, a slice that changes at most this many boxes counts as no change. */
const NEGLIGIBLE_BOXES = 2;

export function useLorsEffect(): LorsEffect | null {
  const { source, limits, config } = useDeferredLorsSelection();
  const curves = useModels((s) => s.compression);
  const ref = useSession((s) => s.lorsReference);
  const vanilla = useSession((s) => s.results.vanilla);
  const photo = useSession((s) => s.photo);
  const f = useDisplayFilter();
  const lors = usePanelDetections('lors');
  return useMemo(() => {
    if (!config.lors || !limits.lors || !photo) return null;
    const full = sameLors(config.lors, limits.lors);
    const stage = lors.stage ?? f.stage;
    let reference: Detection[] | null = null;
    if (source === 'trained' && ref && ref.source === 'trained' && ref.imageId === photo.id)
      reference = visibleDetections(stageDetections(ref, stage), f);
    if (source === 'compressed' && vanilla && vanilla.imageId === photo.id)
      reference = visibleDetections(stageDetections(vanilla, stage), f);
    const diff = !full && reference && lors.result ? diffDetections(reference, lors.dets) : null;
    const measured = curves ? measuredSlice(curves, source, config.lors) : null;
    // Negligible: the measured AP moves less than the val set's noise, or (off the grid) at most a marginal box or two.
    const fewBoxes = !!diff && diff.appeared.length + diff.vanished.length <= NEGLIGIBLE_BOXES;
    const smallAp = measured?.vsFull !== undefined ? Math.abs(measured.vsFull) < NEGLIGIBLE_AP : fewBoxes;
    return {
      source,
      full,
      referenceName: source === 'trained' ? 'the full trained LORS model' : 'the vanilla model it was compressed from',
      reference,
      diff,
      measured,
      negligible: source === 'trained' && !full && !!diff && smallAp,
    };
  }, [source, limits, config, curves, ref, vanilla, photo, f, lors]);
}
