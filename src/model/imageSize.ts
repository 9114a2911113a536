/** The one image-size rule of the page and the CLIs (no tfjs here: the page imports it). */

/** Largest photo side the app uploads as is; larger photos are downscaled first (letterbox.ts `fitWithin`). */
export const MAX_IMAGE_SIDE = 4096;

/** Longest side at most `maxSide`, aspect kept, at least 1 px. */
export function fittedSize(
  width: number,
  height: number,
  maxSide = MAX_IMAGE_SIDE,
): { width: number; height: number; scaled: boolean } {
  if (width <= maxSide && height <= maxSide) return { width, height, scaled: false };
  const s = maxSide / Math.max(width, height);
  const side = (v: number) => Math.max(1, Math.min(maxSide, Math.round(v * s)));
  return { width: side(width), height: side(height), scaled: true };
}
