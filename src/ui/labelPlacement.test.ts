import { describe, expect, it } from 'vitest';
import { placeLabels, rectsOverlap, type Rect } from './labelPlacement';

describe('label placement', () => {
  it('puts a lone label above its box, or inside when the box touches the top', () => {
    expect(placeLabels([{ box: [10, 50, 60, 90], w: 30, h: 12 }], 200, 200)).toEqual([{ x: 10, y: 38, w: 30, h: 12 }]);
    expect(placeLabels([{ box: [10, 0, 60, 90], w: 30, h: 12 }], 200, 200)).toEqual([{ x: 10, y: 0, w: 30, h: 12 }]);
  });

  it('keeps labels inside the canvas horizontally', () => {
    expect(placeLabels([{ box: [190, 50, 200, 90], w: 30, h: 12 }], 200, 200)[0]!.x).toBe(170);
  });

  it('never overlaps two labels: the same box 30 times gives 4 labels, the rest left out', () => {
    const reqs = Array.from({ length: 30 }, () => ({ box: [20, 40, 120, 140] as const, w: 50, h: 12 }));
    const out = placeLabels(reqs, 300, 300);
    const rects = out.filter((r): r is Rect => r !== null);
    expect(rects).toHaveLength(4);
    for (let i = 0; i < rects.length; i++)
      for (let j = i + 1; j < rects.length; j++) expect(rectsOverlap(rects[i]!, rects[j]!)).toBe(false);
  });

  it('random crowded scenes: no two placed labels overlap, each lies on the canvas', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const reqs = Array.from({ length: 100 }, () => {
      const x = rnd() * 380,
        y = rnd() * 280;
      return { box: [x, y, x + 10 + rnd() * 80, y + 10 + rnd() * 60] as const, w: 20 + rnd() * 60, h: 14 };
    });
    const rects = placeLabels(reqs, 400, 300).filter((r): r is Rect => r !== null);
    expect(rects.length).toBeGreaterThan(10);
    for (const r of rects) expect(r.x >= 0 && r.y >= 0 && r.x + r.w <= 400 && r.y + r.h <= 300).toBe(true);
    for (let i = 0; i < rects.length; i++)
      for (let j = i + 1; j < rects.length; j++) expect(rectsOverlap(rects[i]!, rects[j]!)).toBe(false);
  });
});
