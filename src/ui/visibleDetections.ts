import type { Detection } from '../model/types';
import { boxIou } from './agreement';

/** Detections at or above the threshold, optionally of one class (label index), best first. */
export function filterDetections(
  dets: readonly Detection[],
  threshold: number,
  classFilter: number | null,
): Detection[] {
  return dets
    .filter((d) => d.score >= threshold && (classFilter === null || d.label === classFilter))
    .sort((a, b) => b.score - a.score);
}

/** Two boxes of one class overlapping at least this much are one object for the display's NMS. */
export const DISPLAY_NMS_IOU = 0.5;

/**
 * Class-wise greedy NMS for display: best first, a detection is dropped when a kept one of its class overlaps it by
 * IoU ≥ `iou`. The decoders themselves keep their set prediction (no NMS); this only declutters the picture.
 */
export function classwiseNms(dets: readonly Detection[], iou = DISPLAY_NMS_IOU): Detection[] {
  const kept: Detection[] = [];
  for (const d of [...dets].sort((a, b) => b.score - a.score)) {
    if (!kept.some((k) => k.label === d.label && boxIou(k.box, d.box) >= iou)) kept.push(d);
  }
  return kept;
}

export interface DisplayFilter {
  threshold: number;
  classFilter: number | null;
  /** At most this many boxes (the best). */
  maxResults: number;
  /** Class-wise NMS before the top-k (off: the raw decoder output). */
  nms: boolean;
}

/** What a panel draws and lists: threshold and class, then NMS (when on), then the best `maxResults`. */
export function visibleDetections(dets: readonly Detection[], f: DisplayFilter): Detection[] {
  const passed = filterDetections(dets, f.threshold, f.classFilter);
  return (f.nms ? classwiseNms(passed) : passed).slice(0, Math.max(0, f.maxResults));
}
