/**
 * What changed between two sets of detections of one photo: consecutive decoder stages (the stage scrubber's trails)
 * or a LORS slice against the full model (the sliders' effect). Detections are matched one to one by class and
 * overlap (agreement.ts); the rest appeared or vanished. Pure: no DOM.
 */
import type { Detection } from '../model/types';
import { boxIou, matchDetections } from './agreement';

export interface DetectionDiff {
  /** [before, after] pairs of the same object; `iou` of their boxes (1: did not move). */
  kept: { before: Detection; after: Detection; iou: number }[];
  /** In `after` only. */
  appeared: Detection[];
  /** In `before` only. */
  vanished: Detection[];
}

/** Boxes overlapping less than this after a step count as moved (drawn with a trail). */
export const MOVED_IOU = 0.95;

/** Matches `before` and `after` (same class, IoU ≥ minIou) and lists what appeared and vanished. */
export function diffDetections(before: readonly Detection[], after: readonly Detection[], minIou = 0.5): DetectionDiff {
  const m = matchDetections(before, after, minIou);
  return {
    kept: m.pairs.map(([i, j]) => ({
      before: before[i]!,
      after: after[j]!,
      iou: boxIou(before[i]!.box, after[j]!.box),
    })),
    appeared: m.onlyB.map((j) => after[j]!),
    vanished: m.onlyA.map((i) => before[i]!),
  };
}

/** "+2 / −1 boxes", or "the same boxes" (a kept box that moved counts as the same box). */
export function diffSummary(d: DetectionDiff): string {
  if (d.appeared.length === 0 && d.vanished.length === 0) return 'the same boxes';
  return `+${d.appeared.length} / −${d.vanished.length} boxes`;
}

/** Kept boxes that moved noticeably (IoU below MOVED_IOU). */
export const movedBoxes = (d: DetectionDiff) => d.kept.filter((k) => k.iou < MOVED_IOU);
