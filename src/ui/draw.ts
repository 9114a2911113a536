/** Drawing a photo with its detection boxes (class colour, label, score) on a 2D canvas. */
import type { Detection } from '../model/types';

/** A stable, well-spread colour per COCO class (golden-angle hues). */
export function classColour(label: number): string {
  return `hsl(${Math.round((label * 137.508) % 360)} 85% 52%)`;
}

/** How a box is drawn in the agreement view: found by both decoders (quiet) or by this one only (highlighted). */
export type Emphasis = 'agreed' | 'only';

export function drawOverlay(
  ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D,
  bitmap: ImageBitmap,
  dets: readonly Detection[],
  /** canvas pixels per image pixel */
  scale: number,
  /** Agreement view: the emphasis of each detection (absent: every box drawn alike). */
  emphasis?: ReadonlyMap<Detection, Emphasis>,
): void {
  const W = ctx.canvas.width,
    H = ctx.canvas.height;
  ctx.clearRect(0, 0, W, H);
  ctx.drawImage(bitmap, 0, 0, W, H);
  const line = Math.max(2, Math.round(Math.max(W, H) / 320));
  const font = Math.max(12, Math.round(Math.max(W, H) / 48));
  ctx.lineWidth = line;
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  // Lowest scores first so the best boxes end up on top; in the agreement view, the highlighted ones on top of all.
  const rank = (d: Detection) => (emphasis?.get(d) === 'only' ? 1 : 0);
  for (const d of [...dets].sort((a, b) => rank(a) - rank(b) || a.score - b.score)) {
    const [x1, y1, x2, y2] = d.box.map((v) => v * scale) as [number, number, number, number];
    const colour = classColour(d.label);
    const how = emphasis?.get(d);
    const w = Math.max(1, x2 - x1),
      h = Math.max(1, y2 - y1);
    if (how === 'agreed') {
      // Quiet: a thin, faint outline without a label.
      ctx.save();
      ctx.globalAlpha = 0.55;
      ctx.lineWidth = Math.max(1, line / 2);
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, w, h);
      ctx.restore();
      continue;
    }
    if (how === 'only') {
      // Highlighted: a thick dashed outline over a dark halo.
      ctx.save();
      ctx.lineWidth = 3 * line;
      ctx.strokeStyle = 'rgba(0, 0, 0, 0.7)';
      ctx.strokeRect(x1, y1, w, h);
      ctx.setLineDash([3 * line, 2 * line]);
      ctx.lineWidth = 2 * line;
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, w, h);
      ctx.restore();
    } else {
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, w, h);
    }
    const text = `${how === 'only' ? '★ ' : ''}${d.name} ${d.score.toFixed(2)}`;
    const tw = ctx.measureText(text).width + 2 * line;
    const th = font + line;
    const ty = y1 - th >= 0 ? y1 - th : y1;
    const tx = Math.min(Math.max(0, x1 - line / 2), Math.max(0, W - tw));
    ctx.fillStyle = colour;
    ctx.fillRect(tx, ty, tw, th);
    ctx.fillStyle = '#000';
    ctx.fillText(text, tx + line, ty + line / 2);
  }
}

/** A full-resolution PNG of the photo with its boxes. */
export async function overlayPng(bitmap: ImageBitmap, dets: readonly Detection[]): Promise<Blob> {
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas');
  drawOverlay(ctx, bitmap, dets, 1);
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'),
  );
}

/** Saves a blob under a file name (an object URL on a temporary link; nothing leaves the browser). */
export function download(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
