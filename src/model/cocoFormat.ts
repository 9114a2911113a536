import type { Detection } from './types';

/** COCO-80 class names in the usual contiguous order, and the mapping to COCO's own category ids (1..90). */
export const COCO_CLASSES: readonly string[] = [
  'person,bicycle,car,motorcycle,airplane,bus,train,truck,boat,traffic light,fire hydrant,stop sign,parking meter',
  'bench,bird,cat,dog,horse,sheep,cow,elephant,bear,zebra,giraffe,backpack,umbrella,handbag,tie,suitcase,frisbee',
  'skis,snowboard,sports ball,kite,baseball bat,baseball glove,skateboard,surfboard,tennis racket,bottle,wine glass',
  'cup,fork,knife,spoon,bowl,banana,apple,sandwich,orange,broccoli,carrot,hot dog,pizza,donut,cake,chair,couch',
  'potted plant,bed,dining table,toilet,tv,laptop,mouse,remote,keyboard,cell phone,microwave,oven,toaster,sink',
  'refrigerator,book,clock,vase,scissors,teddy bear,hair drier,toothbrush',
].flatMap((line) => line.split(','));

/** COCO category id of each contiguous index. */
export const COCO_CATEGORY_IDS = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36,
  37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67,
  70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
] as const;

/** One detection in COCO's results format (bbox = [x, y, w, h]). */
export interface CocoDetection {
  image_id: number;
  category_id: number;
  /** [x, y, w, h] in pixels. */
  bbox: readonly number[];
  score: number;
}

/**
 * The app's detections of one image in COCO results format: label (0-based COCO-80 index) → COCO category id,
 * [x1, y1, x2, y2] → [x, y, w, h], optionally scaled by (sx, sy) (when the image was decoded at another size than
 * the annotations'). Throws on a label outside 0..79.
 */
export function detectionsToCoco(dets: readonly Detection[], imageId: number, sx = 1, sy = 1): CocoDetection[] {
  return dets.map((d) => {
    const categoryId = COCO_CATEGORY_IDS[d.label];
    if (categoryId === undefined || !Number.isInteger(d.label)) {
      throw new Error(`detection label ${d.label} is not a COCO-80 index (0..${COCO_CATEGORY_IDS.length - 1})`);
    }
    const [x1, y1, x2, y2] = d.box;
    return {
      image_id: imageId,
      category_id: categoryId,
      bbox: [x1 * sx, y1 * sy, Math.max(0, x2 - x1) * sx, Math.max(0, y2 - y1) * sy],
      score: d.score,
    };
  });
}
