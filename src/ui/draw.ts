/** Drawing a photo with its detection boxes (class colour, label, score) on a 2D canvas. */
import type { Detection } from '../model/types';
import { classColour, labelColours } from './colours';
import { placeLabels, type Rect } from './labelPlacement';

export { classColour } from './colours';

/** How a box is drawn in the agreement view: found by both decoders (quiet) or by this one only (highlighted). */
export type Emphasis = 'agreed' | 'only';

type Box = readonly [number, number, number, number];

/** What is drawn besides the boxes: the agreement view, a comparison (stage trails, the sliders' effect), a hover. */
export interface OverlayMarks {
  /** Agreement view: the emphasis of each detection (absent: every box drawn alike). */
  emphasis?: ReadonlyMap<Detection, Emphasis>;
  /** Boxes of the compared set (previous stage, full model) with no match here: drawn as grey dashed ghosts. */
  vanished?: readonly Detection[];
  /** Boxes with no match in the compared set: their label starts with "+". */
  appeared?: ReadonlySet<Detection>;
  /** Matched boxes that moved: a trail from the old box to the new one. */
  trails?: readonly { from: Box; to: Box }[];
  /** A detection to highlight (its list row is hovered or focused): drawn on top, its label always shown. */
  highlight?: Detection | null;
  /** A legend drawn in the bottom-left corner, one line per entry (the PNG export). */
  legend?: readonly string[];
}

/** Where each drawn label went (canvas pixels), in the order of the detections given. */
export interface OverlayLabels {
  labels: (Rect | null)[];
}

export function drawOverlay(
  ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D,
  bitmap: ImageBitmap,
  dets: readonly Detection[],
  /** canvas pixels per image pixel */
  scale: number,
  marks: OverlayMarks = {},
): OverlayLabels {
  const W = ctx.canvas.width,
    H = ctx.canvas.height;
  ctx.clearRect(0, 0, W, H);
  ctx.drawImage(bitmap, 0, 0, W, H);
  const line = Math.max(2, Math.round(Math.max(W, H) / 320));
  const font = Math.max(12, Math.round(Math.max(W, H) / 48));
  const sc = (b: Box) => b.map((v) => v * scale) as unknown as [number, number, number, number];
  ctx.lineWidth = line;
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  const { emphasis, highlight } = marks;

  // Ghosts of vanished boxes and trails of moved ones, under everything else.
  ctx.save();
  ctx.setLineDash([2 * line, 2 * line]);
  ctx.lineWidth = Math.max(1, line / 2);
  for (const d of marks.vanished ?? []) {
    const [x1, y1, x2, y2] = sc(d.box);
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.6)';
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.85)';
    ctx.lineDashOffset = 2 * line;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.lineDashOffset = 0;
  }
  for (const t of marks.trails ?? []) {
    const [a1, b1, a2, b2] = sc(t.from);
    const [c1, d1, c2, d2] = sc(t.to);
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.8)';
    ctx.strokeRect(a1, b1, a2 - a1, b2 - b1);
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.moveTo((a1 + a2) / 2, (b1 + b2) / 2);
    ctx.lineTo((c1 + c2) / 2, (d1 + d2) / 2);
    ctx.stroke();
    ctx.setLineDash([2 * line, 2 * line]);
  }
  ctx.restore();

  // Lowest scores first so the best boxes end up on top; in the agreement view, the highlighted ones on top of all.
  const rank = (d: Detection) => (d === highlight ? 2 : emphasis?.get(d) === 'only' ? 1 : 0);
  for (const d of [...dets].sort((a, b) => rank(a) - rank(b) || a.score - b.score)) {
    const [x1, y1, x2, y2] = sc(d.box);
    const colour = classColour(d.label);
    const how = emphasis?.get(d);
    const w = Math.max(1, x2 - x1),
      h = Math.max(1, y2 - y1);
    ctx.save();
    if (d === highlight) {
      ctx.lineWidth = 4 * line;
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.9)';
      ctx.strokeRect(x1, y1, w, h);
      ctx.lineWidth = 2 * line;
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, w, h);
    } else if (how === 'agreed') {
      // Quiet: a thin, faint outline without a label.
      ctx.globalAlpha = 0.55;
      ctx.lineWidth = Math.max(1, line / 2);
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, w, h);
    } else if (how === 'only') {
      // Highlighted: a thick dashed outline over a dark halo.
      ctx.lineWidth = 3 * line;
      ctx.strokeStyle = 'rgba(0, 0, 0, 0.7)';
      ctx.strokeRect(x1, y1, w, h);
      ctx.setLineDash([3 * line, 2 * line]);
      ctx.lineWidth = 2 * line;
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, w, h);
    } else {
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, w, h);
    }
    ctx.restore();
  }

  // Labels: best (and highlighted) first, each where it overlaps no other; the rest are left out.
  const text = (d: Detection) =>
    `${emphasis?.get(d) === 'only' ? '★ ' : ''}${marks.appeared?.has(d) ? '+ ' : ''}${d.name} ${d.score.toFixed(2)}`;
  const order = dets
    .map((d, i) => ({ d, i }))
    .filter(({ d }) => d === highlight || emphasis?.get(d) !== 'agreed')
    .sort((a, b) => rank(b.d) - rank(a.d) || b.d.score - a.d.score);
  const th = font + line;
  const placed = placeLabels(
    order.map(({ d }) => ({ box: sc(d.box), w: ctx.measureText(text(d)).width + 2 * line, h: th })),
    W,
    H,
  );
  const labels: (Rect | null)[] = dets.map(() => null);
  order.forEach(({ d, i }, k) => {
    const r = placed[k];
    if (!r) return;
    labels[i] = r;
    const c = labelColours(d.label);
    ctx.fillStyle = c.background;
    ctx.fillRect(r.x, r.y, r.w, r.h);
    ctx.fillStyle = c.text;
    ctx.fillText(text(d), r.x + line, r.y + line / 2);
  });

  if (marks.legend?.length) drawLegend(ctx, marks.legend, font, line);
  return { labels };
}

/** Lines of text on a dark box in the bottom-left corner. */
function drawLegend(
  ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D,
  lines: readonly string[],
  font: number,
  pad: number,
) {
  const size = Math.max(11, Math.round(font * 0.75));
  ctx.save();
  ctx.font = `500 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  const w = Math.max(...lines.map((l) => ctx.measureText(l).width)) + 2 * pad;
  const h = lines.length * (size + pad) + pad;
  const y0 = ctx.canvas.height - h;
  ctx.fillStyle = 'rgba(0, 0, 0, 0.72)';
  ctx.fillRect(0, y0, w, h);
  ctx.fillStyle = '#ffffff';
  lines.forEach((l, i) => ctx.fillText(l, pad, y0 + pad + i * (size + pad)));
  ctx.restore();
}

/** A full-resolution PNG of the photo with its boxes and a legend (model, slice, threshold). */
export async function overlayPng(bitmap: ImageBitmap, dets: readonly Detection[], legend: string[]): Promise<Blob> {
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas');
  drawOverlay(ctx, bitmap, dets, 1, { legend });
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
