/**
 * Class colours and the text drawn on them: one colour per COCO class (golden-angle hues), and a label text colour
 * (black or white) with at least 4.5:1 contrast on it (WCAG 2 relative luminance). Pure: no DOM.
 */

const SATURATION = 0.85;
const LIGHTNESS = 0.52;

const hue = (label: number) => Math.round((label * 137.508) % 360);

/** A stable, well-spread colour per COCO class, as CSS. */
export function classColour(label: number): string {
  return `hsl(${hue(label)} ${SATURATION * 100}% ${LIGHTNESS * 100}%)`;
}

/** The class colour as sRGB 0..255 (the same colour classColour names). */
export function classRgb(label: number): [number, number, number] {
  return hslToRgb(hue(label), SATURATION, LIGHTNESS);
}

/** CSS hsl() → sRGB 0..255 (h in degrees, s and l in 0..1). */
export function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return [f(0), f(8), f(4)].map((v) => Math.round(v * 255)) as [number, number, number];
}

/** WCAG 2 relative luminance of an sRGB colour (0..255 per channel). */
export function relativeLuminance([r, g, b]: readonly [number, number, number]): number {
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG 2 contrast ratio of two relative luminances (1..21). */
export function contrastRatio(l1: number, l2: number): number {
  const [hi, lo] = l1 >= l2 ? [l1, l2] : [l2, l1];
  return (hi + 0.05) / (lo + 0.05);
}

export const LABEL_DARK = '#000000';
export const LABEL_LIGHT = '#ffffff';

/** The label text colour (black or white) with the higher contrast on this background. */
export function textColourOn(rgb: readonly [number, number, number]): string {
  const l = relativeLuminance(rgb);
  return contrastRatio(l, 0) >= contrastRatio(l, 1) ? LABEL_DARK : LABEL_LIGHT;
}

/**
 * A label's box colour and text colour for a class: the class colour, darkened until white text reaches 4.5:1 where
 * neither black nor white does on the class colour itself (mid-luminance hues).
 */
export function labelColours(label: number): { background: string; text: string; rgb: [number, number, number] } {
  let rgb = classRgb(label);
  const ok = (c: [number, number, number]) => {
    const l = relativeLuminance(c);
    return Math.max(contrastRatio(l, 0), contrastRatio(l, 1)) >= 4.5;
  };
  while (!ok(rgb)) rgb = rgb.map((v) => Math.round(v * 0.9)) as [number, number, number];
  return { background: `rgb(${rgb.join(' ')})`, text: textColourOn(rgb), rgb };
}
