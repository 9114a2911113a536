/** The agreement view's data: both decoder panels' visible detections and their match (src/ui/agreement.ts). */
import { useMemo } from 'react';
import type { Detection } from '../model/types';
import { useSettings } from '../state/settings';
import { matchDetections, type Agreement } from './agreement';
import type { Emphasis } from './draw';
import { usePanelDetections } from './usePanelDetections';

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
  const view = useAgreementMatch();
  return on ? view : null;
}

/** The match of both decoder panels' visible detections, toggle or not (the detection lists say agreed or not). */
export function useAgreementMatch(): AgreementView | null {
  const v = usePanelDetections('vanilla');
  const l = usePanelDetections('lors');
  return useMemo(() => {
    if (!v.result || !l.result) return null;
    const [vanilla, lors] = [v.dets, l.dets];
    const match = matchDetections(vanilla, lors);
    const emphasis = { vanilla: new Map<Detection, Emphasis>(), lors: new Map<Detection, Emphasis>() };
    for (const [i, j] of match.pairs) {
      emphasis.vanilla.set(vanilla[i]!, 'agreed');
      emphasis.lors.set(lors[j]!, 'agreed');
    }
    for (const i of match.onlyA) emphasis.vanilla.set(vanilla[i]!, 'only');
    for (const j of match.onlyB) emphasis.lors.set(lors[j]!, 'only');
    return { vanilla, lors, match, emphasis };
  }, [v, l]);
}
