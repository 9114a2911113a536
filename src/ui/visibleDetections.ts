import type { Detection } from '../model/types';

/** Detections at or above the threshold, optionally of one class (label index), best first: what a panel draws. */
export function filterDetections(
  dets: readonly Detection[],
  threshold: number,
  classFilter: number | null,
): Detection[] {
  return dets
    .filter((d) => d.score >= threshold && (classFilter === null || d.label === classFilter))
    .sort((a, b) => b.score - a.score);
}
