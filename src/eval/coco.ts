/**
 * COCO bounding-box detection evaluation, a pure-TypeScript equivalent of pycocotools' `COCOeval(gt, dt, 'bbox')`
 * followed by `evaluate(); accumulate(); summarize()`. No tfjs, no DOM, no Node: it runs anywhere.
 *
 * What is computed, exactly as pycocotools 2.0.x does it:
 * - IoU thresholds .50:.05:.95 (numpy's `linspace(.5, .95, 10)`, float for float), recall thresholds 0:.01:1
 *   (`linspace(0, 1, 101)`), maxDets [1, 10, 100], area ranges all [0, 1e10], small [0, 32²], medium [32², 96²],
 *   large [96², 1e10] (both ends inclusive).
 * - Box IoU without the "+1" pixel convention; against a crowd GT the union is the detection's own area.
 * - Per (image, category): detections sorted by score (stable, so ties keep their input order) and cut to
 *   maxDets = 100. Note: like pycocotools with useCats=1, the 100 cap is per image AND category, not per image;
 *   cap your detector's output per image beforehand if you want that (our detector returns at most 100).
 * - GTs that are crowd (`iscrowd`), or whose area is outside the area range, are "ignored": sorted after the
 *   regular GTs; a detection matched to one is neither TP nor FP. Greedy matching in score order, each detection
 *   taking the unmatched GT of highest IoU ≥ threshold (ties go to the later GT), never leaving a regular GT
 *   for an ignored one; crowd GTs can be matched many times. Unmatched detections whose own area (w·h) is out
 *   of the area range are ignored too.
 * - Precision/recall over all images of a category (detections sorted by score, stable, images in ascending id
 *   order), precision = tp / (tp + fp + eps) made monotone from the right, sampled at the 101 recall thresholds
 *   with `searchsorted(recall, thr, 'left')` (0 past the last recall reached).
 * - A category with no non-ignored GT in a given area range (in particular a category absent from the split's GT)
 *   gets -1 there and is left out of the mean; a summary with no category left is -1.
 *
 * GT area: the annotation's `area` field when present, else bbox w·h. In official COCO the `area` field is the
 * segmentation mask's area (smaller than w·h); the project's coco-subset annotations carry `area` = w·h (rounded
 * to 2 decimals), converted from the YOLO export, so both give the same areas there.
 *
 * Output numbers are percentages (0..100); -1 (not -100) marks "undefined" as in pycocotools, e.g. APs when the
 * split has no small object. `perClass` lists the AP (IoU .50:.95, area all, 100 dets) of each category that has
 * GT, keyed by category name; categories without GT are absent from it.
 */
import type { CocoDetection } from '../model/cocoFormat';

export interface CocoImage {
  id: number;
  file_name?: string;
  width?: number;
  height?: number;
}

export interface CocoAnnotation {
  id?: number;
  image_id: number;
  category_id: number;
  /** [x, y, w, h] in pixels. */
  bbox: readonly number[];
  /** Object area used for the small/medium/large split; bbox w·h when absent. */
  area?: number;
  /** 1/true: a crowd region, matched as "ignore". */
  iscrowd?: number | boolean;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
}

export interface CocoGroundTruth {
  images: readonly CocoImage[];
  annotations: readonly CocoAnnotation[];
  categories: readonly CocoCategory[];
}

export type { CocoDetection } from '../model/cocoFormat';

export interface CocoMetrics {
  /** AP @ IoU .50:.95, all areas, 100 dets (COCO's headline number). */
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARs: number;
  ARm: number;
  ARl: number;
  /** AP (.50:.95, all, 100) by category name, for the categories that have GT. */
  perClass: Record<string, number>;
}

const linspace = (start: number, stop: number, num: number): number[] => {
  // numpy: step = (stop - start) / (num - 1); y = arange(num) * step + start; y[-1] = stop.
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : i * step + start));
};

/** IoU thresholds, float-for-float equal to pycocotools' `np.linspace(.5, .95, 10)`. */
export const IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);
/** Recall thresholds, float-for-float equal to pycocotools' `np.linspace(0, 1, 101)`. */
export const RECALL_THRESHOLDS: readonly number[] = linspace(0, 1, 101);
export const MAX_DETS: readonly number[] = [1, 10, 100];
export const AREA_RANGES: Readonly<Record<'all' | 'small' | 'medium' | 'large', readonly [number, number]>> = {
  all: [0, 1e10],
  small: [0, 32 ** 2],
  medium: [32 ** 2, 96 ** 2],
  large: [96 ** 2, 1e10],
};
const AREA_LIST = [AREA_RANGES.all, AREA_RANGES.small, AREA_RANGES.medium, AREA_RANGES.large] as const;
/** numpy's np.spacing(1). */
const EPS = 2.220446049250313e-16;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Gt extends Box {
  area: number;
  crowd: boolean;
}
interface Dt extends Box {
  area: number;
  score: number;
}

/** Per (image, category, area range) result of pycocotools' evaluateImg (with maxDet 100). */
interface EvalImg {
  /** Scores of the kept detections, sorted descending. */
  scores: number[];
  /** [T × D] matched flags. */
  matched: Uint8Array;
  /** [T × D] ignore flags. */
  ignored: Uint8Array;
  /** Number of non-ignored GTs. */
  numRegularGt: number;
}

const at = <T>(a: ArrayLike<T>, i: number): T => a[i] as T;

function checkBox(bbox: unknown, what: string): Box {
  if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error(`${what}: bbox must be 4 finite numbers [x, y, w, h], got ${JSON.stringify(bbox)}`);
  }
  const [x, y, w, h] = bbox as number[];
  if (w! < 0 || h! < 0) throw new Error(`${what}: bbox width/height must be >= 0, got ${JSON.stringify(bbox)}`);
  return { x: x!, y: y!, w: w!, h: h! };
}

/** IoU of a detection with a GT, as pycocotools' bbIou (no +1; crowd: union = detection area). */
function iou(d: Box, g: Box, crowd: boolean): number {
  const w = Math.min(d.x + d.w, g.x + g.w) - Math.max(d.x, g.x);
  if (w <= 0) return 0;
  const h = Math.min(d.y + d.h, g.y + g.h) - Math.max(d.y, g.y);
  if (h <= 0) return 0;
  const i = w * h;
  const u = crowd ? d.w * d.h : d.w * d.h + g.w * g.h - i;
  return i / u;
}

/** Stable descending-score order of `scores` (numpy argsort(-s, kind='mergesort')). */
function orderByScore(scores: readonly number[]): number[] {
  return Array.from(scores.keys()).sort((a, b) => at(scores, b) - at(scores, a));
}

function evaluateImg(
  gts: readonly Gt[],
  dts: readonly Dt[],
  ious: Float64Array,
  range: readonly [number, number],
): EvalImg {
  const [lo, hi] = range;
  const T = IOU_THRESHOLDS.length;
  const G = gts.length;
  const D = dts.length; // already sorted by score and cut to 100
  // Ignore flags of the GTs, then GTs reordered: regular first (stable).
  const gIgnoreRaw = gts.map((g) => g.crowd || g.area < lo || g.area > hi);
  const gOrder = Array.from(gts.keys()).sort((a, b) => Number(at(gIgnoreRaw, a)) - Number(at(gIgnoreRaw, b)));
  const gIgnore = gOrder.map((j) => at(gIgnoreRaw, j));
  const gCrowd = gOrder.map((j) => at(gts, j).crowd);
  const gtMatched = new Uint8Array(T * G);
  const matched = new Uint8Array(T * D);
  const ignored = new Uint8Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let d = 0; d < D; d++) {
      let best = Math.min(at(IOU_THRESHOLDS, t), 1 - 1e-10);
      let m = -1;
      for (let g = 0; g < G; g++) {
        if (gtMatched[t * G + g] && !at(gCrowd, g)) continue;
        if (m > -1 && !at(gIgnore, m) && at(gIgnore, g)) break;
        const v = at(ious, d * G + at(gOrder, g));
        if (v < best) continue;
        best = v;
        m = g;
      }
      if (m === -1) continue;
      ignored[t * D + d] = at(gIgnore, m) ? 1 : 0;
      matched[t * D + d] = 1;
      gtMatched[t * G + m] = 1;
    }
  }
  // Unmatched detections outside the area range are ignored.
  for (let d = 0; d < D; d++) {
    const a = at(dts, d).area;
    if (a < lo || a > hi) {
      for (let t = 0; t < T; t++) if (!matched[t * D + d]) ignored[t * D + d] = 1;
    }
  }
  return {
    scores: dts.map((d) => d.score),
    matched,
    ignored,
    numRegularGt: gIgnore.filter((v) => !v).length,
  };
}

/**
 * Precision at the 101 recall thresholds (mean over them is the AP of one IoU threshold) and final recall for one
 * (category, area, maxDet), as pycocotools' accumulate; null when there is no non-ignored GT (pycocotools: -1).
 */
function accumulateOne(
  entries: readonly EvalImg[],
  maxDet: number,
): { precision: Float64Array; recall: Float64Array } | null {
  const T = IOU_THRESHOLDS.length;
  const R = RECALL_THRESHOLDS.length;
  let npig = 0;
  for (const e of entries) npig += e.numRegularGt;
  if (npig === 0) return null;
  // Concatenate the first maxDet detections of every image (images in ascending id order).
  const scores: number[] = [];
  const src: { e: EvalImg; d: number; D: number }[] = [];
  for (const e of entries) {
    const n = Math.min(maxDet, e.scores.length);
    for (let d = 0; d < n; d++) {
      scores.push(at(e.scores, d));
      src.push({ e, d, D: e.scores.length });
    }
  }
  const order = orderByScore(scores);
  const nd = order.length;
  const precision = new Float64Array(T * R);
  const recall = new Float64Array(T);
  const pr = new Float64Array(nd);
  const rc = new Float64Array(nd);
  for (let t = 0; t < T; t++) {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < nd; i++) {
      const { e, d, D } = at(src, at(order, i));
      const k = t * D + d;
      if (!e.ignored[k]) {
        if (e.matched[k]) tp++;
        else fp++;
      }
      rc[i] = tp / npig;
      pr[i] = tp / (fp + tp + EPS);
    }
    recall[t] = nd ? at(rc, nd - 1) : 0;
    for (let i = nd - 1; i > 0; i--) if (at(pr, i) > at(pr, i - 1)) pr[i - 1] = at(pr, i);
    // searchsorted(rc, thr, side='left'): first i with rc[i] >= thr; thresholds past the end stay 0.
    let i = 0;
    for (let r = 0; r < R; r++) {
      const thr = at(RECALL_THRESHOLDS, r);
      while (i < nd && at(rc, i) < thr) i++;
      if (i >= nd) break;
      precision[t * R + r] = at(pr, i);
    }
  }
  return { precision, recall };
}

const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;

/**
 * Evaluates COCO-format bbox detections against COCO-format ground truth; see the file comment for the exact
 * rules (those of pycocotools COCOeval). Numbers in 0..100, -1 where undefined.
 * Throws on detections of an image or category that the GT does not list, and on malformed boxes/scores.
 */
export function evaluateCoco(gt: CocoGroundTruth, dets: readonly CocoDetection[]): CocoMetrics {
  if (!gt || !Array.isArray(gt.images) || !Array.isArray(gt.annotations) || !Array.isArray(gt.categories)) {
    throw new Error('evaluateCoco: ground truth must have arrays "images", "annotations" and "categories"');
  }
  if (!Array.isArray(dets)) throw new Error('evaluateCoco: detections must be an array');
  const imgIds = [...new Set(gt.images.map((im) => im.id))].sort((a, b) => a - b);
  const categories = [...new Map(gt.categories.map((c) => [c.id, c] as const)).values()].sort((a, b) => a.id - b.id);
  const imgIndex = new Map(imgIds.map((id, i) => [id, i]));
  const catIndex = new Map(categories.map((c, k) => [c.id, k]));
  const I = imgIds.length;
  const K = categories.length;

  const gtsByPair = new Map<number, Gt[]>();
  const dtsByPair = new Map<number, Dt[]>();
  const push = <V>(map: Map<number, V[]>, key: number, v: V) => {
    const list = map.get(key);
    if (list) list.push(v);
    else map.set(key, [v]);
  };
  gt.annotations.forEach((a, n) => {
    const what = `evaluateCoco: GT annotation #${n} (id ${a.id ?? '?'})`;
    const i = imgIndex.get(a.image_id);
    if (i === undefined) throw new Error(`${what}: image_id ${a.image_id} is not in gt.images`);
    const k = catIndex.get(a.category_id);
    if (k === undefined) throw new Error(`${what}: category_id ${a.category_id} is not in gt.categories`);
    const box = checkBox(a.bbox, what);
    if (a.area !== undefined && !Number.isFinite(a.area)) throw new Error(`${what}: area must be a finite number`);
    push(gtsByPair, k * I + i, { ...box, area: a.area ?? box.w * box.h, crowd: Boolean(a.iscrowd) });
  });
  dets.forEach((d, n) => {
    const what = `evaluateCoco: detection #${n}`;
    const i = imgIndex.get(d.image_id);
    if (i === undefined) throw new Error(`${what}: image_id ${d.image_id} is not in gt.images`);
    const k = catIndex.get(d.category_id);
    if (k === undefined) throw new Error(`${what}: category_id ${d.category_id} is not in gt.categories`);
    if (typeof d.score !== 'number' || !Number.isFinite(d.score))
      throw new Error(`${what}: score must be a finite number`);
    const box = checkBox(d.bbox, what);
    push(dtsByPair, k * I + i, { ...box, area: box.w * box.h, score: d.score });
  });

  const maxDetTop = at(MAX_DETS, MAX_DETS.length - 1);
  const R = RECALL_THRESHOLDS.length;
  const A = AREA_LIST.length;
  const M = MAX_DETS.length;
  // precision[k][a][m] -> Float64Array(T*R) or null (-1); recall likewise (T).
  const precision: (Float64Array | null)[] = new Array(K * A * M).fill(null);
  const recall: (Float64Array | null)[] = new Array(K * A * M).fill(null);

  for (let k = 0; k < K; k++) {
    const perArea: EvalImg[][] = Array.from({ length: A }, () => []);
    for (let i = 0; i < I; i++) {
      const gts = gtsByPair.get(k * I + i) ?? [];
      const allDts = dtsByPair.get(k * I + i) ?? [];
      if (gts.length === 0 && allDts.length === 0) continue;
      const dts = orderByScore(allDts.map((d) => d.score))
        .slice(0, maxDetTop)
        .map((j) => at(allDts, j));
      const ious = new Float64Array(dts.length * gts.length);
      dts.forEach((d, di) => gts.forEach((g, gi) => (ious[di * gts.length + gi] = iou(d, g, g.crowd))));
      for (let a = 0; a < A; a++) at(perArea, a).push(evaluateImg(gts, dts, ious, at(AREA_LIST, a)));
    }
    for (let a = 0; a < A; a++) {
      const entries = at(perArea, a);
      if (entries.length === 0) continue;
      for (let m = 0; m < M; m++) {
        const res = accumulateOne(entries, at(MAX_DETS, m));
        if (!res) continue;
        precision[(k * A + a) * M + m] = res.precision;
        recall[(k * A + a) * M + m] = res.recall;
      }
    }
  }

  const pct = (v: number | null) => (v === null ? -1 : 100 * v);
  /** Mean precision over the valid categories (and all IoU thresholds, or one), like summarize(ap=1). */
  const ap = (a: number, m: number, t?: number): number | null => {
    const vals: number[] = [];
    for (let k = 0; k < K; k++) {
      const p = precision[(k * A + a) * M + m];
      if (!p) continue;
      if (t === undefined) vals.push(...p);
      else vals.push(...p.subarray(t * R, (t + 1) * R));
    }
    return vals.length ? mean(vals) : null;
  };
  const ar = (a: number, m: number): number | null => {
    const vals: number[] = [];
    for (let k = 0; k < K; k++) {
      const r = recall[(k * A + a) * M + m];
      if (r) vals.push(...r);
    }
    return vals.length ? mean(vals) : null;
  };
  const m100 = M - 1;
  const t75 = IOU_THRESHOLDS.indexOf(0.75);
  const perClass: Record<string, number> = {};
  categories.forEach((c, k) => {
    const p = precision[(k * A + 0) * M + m100];
    if (p) perClass[c.name] = 100 * mean([...p]);
  });
  return {
    AP: pct(ap(0, m100)),
    AP50: pct(ap(0, m100, 0)),
    AP75: pct(ap(0, m100, t75)),
    APs: pct(ap(1, m100)),
    APm: pct(ap(2, m100)),
    APl: pct(ap(3, m100)),
    AR1: pct(ar(0, 0)),
    AR10: pct(ar(0, 1)),
    AR100: pct(ar(0, m100)),
    ARs: pct(ar(1, m100)),
    ARm: pct(ar(2, m100)),
    ARl: pct(ar(3, m100)),
    perClass,
  };
}
