/**
 * Where the box labels go so that no two overlap: each label (best box first) takes the first free spot of above the
 * box, inside its top edge, below the box, inside its bottom edge; a label with no free spot is left out (its
 * detection stays in the list, and hovering it there shows it). Pure: rectangles in canvas pixels.
 */

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LabelRequest {
  /** The box, xyxy canvas pixels. */
  box: readonly [number, number, number, number];
  /** The label's size. */
  w: number;
  h: number;
}

export const rectsOverlap = (a: Rect, b: Rect) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** One placement per request (null: no free spot), for a canvas of width W and height H. */
export function placeLabels(reqs: readonly LabelRequest[], W: number, H: number): (Rect | null)[] {
  const placed: Rect[] = [];
  return reqs.map(({ box: [x1, y1, , y2], w, h }) => {
    const x = Math.min(Math.max(0, x1), Math.max(0, W - w));
    const spots = [y1 - h, y1, y2, y2 - h].filter((y) => y >= 0 && y + h <= H);
    for (const y of spots) {
      const r = { x, y, w, h };
      if (!placed.some((p) => rectsOverlap(p, r))) {
        placed.push(r);
        return r;
      }
    }
    return null;
  });
}
