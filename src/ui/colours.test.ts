import { describe, expect, it } from 'vitest';
import { COCO_CLASSES } from '../model/cocoFormat';
import { classColour, classRgb, contrastRatio, hslToRgb, labelColours, LABEL_DARK, relativeLuminance } from './colours';

const lum = (hex: string) =>
  relativeLuminance([1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number]);

describe('colours', () => {
  it('hslToRgb matches known CSS colours', () => {
    expect(hslToRgb(0, 1, 0.5)).toEqual([255, 0, 0]);
    expect(hslToRgb(120, 1, 0.25)).toEqual([0, 128, 0]);
    expect(hslToRgb(240, 1, 0.5)).toEqual([0, 0, 255]);
    expect(hslToRgb(0, 0, 1)).toEqual([255, 255, 255]);
  });

  it('WCAG luminance and contrast: black on white is 21:1, #767676 on white about 4.54:1', () => {
    expect(contrastRatio(lum('#000000'), lum('#ffffff'))).toBeCloseTo(21, 5);
    expect(contrastRatio(lum('#767676'), lum('#ffffff'))).toBeCloseTo(4.54, 2);
  });

  it('classColour and classRgb name the same colour', () => {
    expect(classColour(0)).toBe('hsl(0 85% 52%)');
    expect(classRgb(0)).toEqual(hslToRgb(0, 0.85, 0.52));
  });

  it('every one of the 80 classes gets label text with at least 4.5:1 contrast on its label colour', () => {
    expect(COCO_CLASSES).toHaveLength(80);
    let changed = 0;
    for (let c = 0; c < COCO_CLASSES.length; c++) {
      const { rgb, text, background } = labelColours(c);
      const ratio = contrastRatio(relativeLuminance(rgb), lum(text));
      expect(ratio, `class ${c} ${COCO_CLASSES[c]} (${background} / ${text})`).toBeGreaterThanOrEqual(4.5);
      if (text !== LABEL_DARK) changed++;
    }
    // Black text everywhere (the old rule) fails on some class colours: the rule does pick white for them.
    expect(changed).toBeGreaterThan(0);
  });
});
