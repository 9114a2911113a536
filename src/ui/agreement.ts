/**
 * Where two decoders agree: their detections matched one to one (same class, IoU ≥ a threshold), greedily by
 * score — the best remaining detection of either side takes its best-overlapping unmatched partner, as COCO's
 * evaluator matches detections to ground truth. Pure: no DOM, no tfjs.
 */
import type { Detection } from '../model/types';

/** Two boxes overlap enough to count as the same object at this IoU (the COCO AP50 criterion). */
export const AGREEMENT_IOU = 0.5;

export interface Agreement {
  /** Index pairs [a, b] into the two lists: the same object found by both. */
  pairs: [number, number][];
  /** Indices of `a` that `b` has no match for, and of `b` that `a` has none for. */
  onlyA: number[];
  onlyB: number[];
}

type Box = readonly [number, number, number, number];

/** Intersection over union of two xyxy boxes (0 when either is empty). */
export function boxIou(p: Box, q: Box): number {
  const iw = Math.min(p[2], q[2]) - Math.max(p[0], q[0]);
  const ih = Math.min(p[3], q[3]) - Math.max(p[1], q[1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const area = (b: Box) => Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
  const union = area(p) + area(q) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Matches `a` against `b`. All detections of both lists are visited in descending score order (ties: `a` first, then
 * list order); each unmatched one takes the unmatched detection of the other list with the same label and the highest
 * IoU ≥ `minIou` (ties: the higher score, then the lower index).
 */
export function matchDetections(a: readonly Detection[], b: readonly Detection[], minIou = AGREEMENT_IOU): Agreement {
  const usedA = new Array<boolean>(a.length).fill(false);
  const usedB = new Array<boolean>(b.length).fill(false);
  const order = [
    ...a.map((d, i) => ({ side: 0 as const, i, score: d.score })),
    ...b.map((d, i) => ({ side: 1 as const, i, score: d.score })),
  ].sort((x, y) => y.score - x.score || x.side - y.side || x.i - y.i);
  const pairs: [number, number][] = [];
  for (const { side, i } of order) {
    const [mine, used, other, otherUsed] = side === 0 ? [a, usedA, b, usedB] : [b, usedB, a, usedA];
    if (used[i]) continue;
    const d = mine[i]!;
    let best = -1,
      bestIou = minIou;
    for (let j = 0; j < other.length; j++) {
      const o = other[j]!;
      if (otherUsed[j] || o.label !== d.label) continue;
      const v = boxIou(d.box, o.box);
      if (v > bestIou || (v === bestIou && (best < 0 || o.score > other[best]!.score))) {
        best = j;
        bestIou = v;
      }
    }
    if (best < 0) continue;
    used[i] = true;
    otherUsed[best] = true;
    pairs.push(side === 0 ? [i, best] : [best, i]);
  }
  const unused = (u: boolean[]) => u.flatMap((x, i) => (x ? [] : [i]));
  return { pairs, onlyA: unused(usedA), onlyB: unused(usedB) };
}

/** "agree on 7 of 9": objects both found, of all objects either found (pairs + each side's unmatched). */
export function agreementSummary(m: Agreement, nameA: string, nameB: string): string {
  const total = m.pairs.length + m.onlyA.length + m.onlyB.length;
  if (total === 0) return `${nameA} and ${nameB}: no detections above the threshold`;
  return (
    `${nameA} and ${nameB} agree on ${m.pairs.length} of ${total}` +
    ` (only ${nameA}: ${m.onlyA.length}, only ${nameB}: ${m.onlyB.length})`
  );
}
