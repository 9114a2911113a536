/** The agreement view's data: both decoder panels' visible detections and their match (src/ui/agreement.ts). */
import { useMemo } from 'react';
import type { Detection } from '../model/types';
import { useSession } from '../state/session';
import { useSettings } from '../state/settings';
import { matchDetections, type Agreement } from './agreement';
import type { Emphasis } from './draw';
import { filterDetections } from './visibleDetections';

export interface AgreementView {
  vanilla: Detection[];
  lors: Detection[];
  match: Agreement;
  /** Per decoder panel: how each of its visible detections is drawn. */
  emphasis: { vanilla: Map<Detection, Emphasis>; lors: Map<Detection, Emphasis> };
}

/** Null while the toggle is off or either decoder has no result for the current photo. */
export function useAgreement(): AgreementView | null {
  const on = useSettings((s) => s.showAgreement);
  const photo = useSession((s) => s.photo);
  const v = useSession((s) => s.results.vanilla);
  const l = useSession((s) => s.results.lors);
  const threshold = useSettings((s) => s.scoreThreshold);
  const classFilter = useSettings((s) => s.classFilter);
  return useMemo(() => {
    if (!on || !photo || !v || !l || v.imageId !== photo.id || l.imageId !== photo.id) return null;
    const vanilla = filterDetections(v.detections, threshold, classFilter);
    const lors = filterDetections(l.detections, threshold, classFilter);
    const match = matchDetections(vanilla, lors);
    const emphasis = { vanilla: new Map<Detection, Emphasis>(), lors: new Map<Detection, Emphasis>() };
    for (const [i, j] of match.pairs) {
      emphasis.vanilla.set(vanilla[i]!, 'agreed');
      emphasis.lors.set(lors[j]!, 'agreed');
    }
    for (const i of match.onlyA) emphasis.vanilla.set(vanilla[i]!, 'only');
    for (const j of match.onlyB) emphasis.lors.set(lors[j]!, 'only');
    return { vanilla, lors, match, emphasis };
  }, [on, photo, v, l, threshold, classFilter]);
}
