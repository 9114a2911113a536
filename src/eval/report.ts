/**
 * Glue between the app's detections and the COCO evaluator, and the text report of `npm run eval`.
 * Pure (no tfjs, no Node).
 */
import type { CocoGroundTruth, CocoMetrics } from './coco';

/** The GT restricted to some images (and their annotations). */
export function subsetGroundTruth(gt: CocoGroundTruth, imageIds: Iterable<number>): CocoGroundTruth {
  const keep = new Set(imageIds);
  return {
    images: gt.images.filter((im) => keep.has(im.id)),
    annotations: gt.annotations.filter((a) => keep.has(a.image_id)),
    categories: gt.categories,
  };
}

const fmt = (v: number) => (v < 0 ? '    -' : v.toFixed(1).padStart(5));

/**
 * The text report: the six AP numbers (and AR), then a per-class table (category, GT boxes, AP) sorted by category
 * id, for the classes with GT boxes in the evaluated images (the others are counted in one closing line).
 */
export function formatCocoReport(m: CocoMetrics, gt: CocoGroundTruth, title = ''): string {
  const lines: string[] = [];
  if (title) lines.push(title);
  lines.push('   AP  AP50  AP75   APs   APm   APl | AR1  AR10 AR100');
  lines.push(
    [m.AP, m.AP50, m.AP75, m.APs, m.APm, m.APl].map(fmt).join(' ') + ' |' + [m.AR1, m.AR10, m.AR100].map(fmt).join(' '),
  );
  const counts = new Map<number, number>();
  for (const a of gt.annotations) counts.set(a.category_id, (counts.get(a.category_id) ?? 0) + 1);
  const cats = [...gt.categories].sort((a, b) => a.id - b.id);
  const shown = cats.filter((c) => (counts.get(c.id) ?? 0) > 0 || m.perClass[c.name] !== undefined);
  const width = Math.max(8, ...shown.map((c) => c.name.length));
  lines.push('');
  lines.push(`${'class'.padEnd(width)}  boxes     AP`);
  for (const c of shown) {
    const ap = m.perClass[c.name];
    lines.push(
      `${c.name.padEnd(width)}  ${String(counts.get(c.id) ?? 0).padStart(5)}  ${ap === undefined ? '    -' : fmt(ap)}`,
    );
  }
  const absent = cats.length - shown.length;
  if (absent > 0)
    lines.push(`(${absent} of ${cats.length} classes have no GT box in these images: left out of the means)`);
  return lines.join('\n');
}
