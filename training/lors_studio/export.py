"""Weights export / import in the LORS Studio format (src/model/weights/FORMAT.md, version 1).

Python API
    export(model_or_state_dict, cfg, out_dir, float16=False, meta=None) -> dict   # returns the model.json object
    load_weights(dir) -> (ModelConfig, OrderedDict[str, torch.Tensor float32])      # verifies sizes and SHA-256
    load_checkpoint(path) -> the checkpoint dict, with 'model' the decoder's state_dict and 'cfg' its ModelConfig

Training checkpoint format (written by training/lors_studio/train.py with torch.save, read here):
    {'model': state_dict of AdaMixerDecoder, 'config': ModelConfig JSON (a dict in ModelConfig.to_json() form,
     or the same as a JSON string), 'optimizer': ..., 'epoch': int, 'step': int, ...}
A bare state_dict is refused (it has no config).

CLI
    python3 -m training.lors_studio.export --checkpoint CKPT --out DIR [--float16] [--meta KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import re
import sys
import zlib
from collections import OrderedDict
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from .config import ModelConfig
from .int8 import decode_int8, int8_bytes
from .params import parameter_spec

FORMAT = 'lors-studio-weights'
VERSION = 1
SHARD_BYTES = 4 * 1024 * 1024
_SHARD_RE = re.compile(r'^weights-shard\d+of\d+\.bin$')


def dump_json(obj, indent: int = 0) -> str:
    """JSON with containers spread over lines, except leaves kept on one line: lists of scalars, and dicts (≤ 200
    characters) of scalars / scalar lists / such dicts (e.g. one weight entry). Readable and small."""
    pad = ' ' * indent

    def scalar_list(v):
        return isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v)

    def leaf_dict(v):
        return isinstance(v, dict) and all(
            not isinstance(x, (dict, list)) or scalar_list(x) or leaf_dict(x) for x in v.values()
        )

    if isinstance(obj, dict) and obj and not (indent > 0 and leaf_dict(obj) and len(json.dumps(obj)) <= 200):
        items = [f'{pad} {json.dumps(k)}: {dump_json(v, indent + 1).lstrip()}' for k, v in obj.items()]
        return pad + '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(obj, list) and obj and not scalar_list(obj):
        return pad + '[\n' + ',\n'.join(dump_json(v, indent + 1) for v in obj) + '\n' + pad + ']'
    return pad + json.dumps(obj)


def _as_config(cfg: Union[ModelConfig, dict, str]) -> ModelConfig:
    return cfg if isinstance(cfg, ModelConfig) else ModelConfig.from_json(cfg)


def _state_dict(model_or_state_dict) -> Dict[str, torch.Tensor]:
    if isinstance(model_or_state_dict, torch.nn.Module):
        return model_or_state_dict.state_dict()
    if isinstance(model_or_state_dict, dict):
        return model_or_state_dict
    raise TypeError(f'expected an nn.Module or a state_dict, got {type(model_or_state_dict).__name__}')


def check_state_dict(sd: Dict[str, torch.Tensor], cfg: ModelConfig) -> None:
    """Raises ValueError naming every missing, extra or mis-shaped tensor against parameter_spec(cfg)."""
    spec = parameter_spec(cfg)
    names = {t['name'] for t in spec}
    problems = []
    for t in spec:
        if t['name'] not in sd:
            problems.append(f'missing {t["name"]} {t["shape"]}')
        elif list(sd[t['name']].shape) != t['shape']:
            problems.append(f'{t["name"]}: shape {list(sd[t["name"]].shape)}, expected {t["shape"]}')
    problems += [f'extra tensor {k}' for k in sd if k not in names]
    if problems:
        more = f' (and {len(problems) - 20} more)' if len(problems) > 20 else ''
        raise ValueError(
            f'state_dict does not match the {cfg.preset}/{cfg.variant} parameter spec: '
            + '; '.join(problems[:20])
            + more
        )


def export(
    model_or_state_dict,
    cfg: Union[ModelConfig, dict, str],
    out_dir: str,
    float16: bool = False,
    meta: Optional[dict] = None,
) -> dict:
    """Writes out_dir/model.json + weights-shard{i}of{n}.bin (4 MiB shards, tensors in parameter_spec order).

    float16=True stores every tensor as IEEE half (manifest entries keep dtype float32 and get
    quantization {dtype: float16, original_dtype: float32}); values outside the half range are refused.
    Stale weights-shard*.bin files in out_dir are removed. Returns the model.json object."""
    cfg = _as_config(cfg)
    sd = _state_dict(model_or_state_dict)
    check_state_dict(sd, cfg)
    spec = parameter_spec(cfg)
    np_dtype = np.dtype('<f2') if float16 else np.dtype('<f4')
    chunks = []
    entries = []
    for t in spec:
        a = sd[t['name']].detach().to('cpu', torch.float32).contiguous().numpy()
        if not np.all(np.isfinite(a)):
            raise ValueError(f'{t["name"]}: contains NaN or Inf')
        with np.errstate(over='ignore'):
            b = a.astype(np_dtype)
        if float16 and not np.all(np.isfinite(b)):
            raise ValueError(
                f'{t["name"]}: values beyond the float16 range (max |x| = {np.abs(a).max():.6g}); export as float32'
            )
        chunks.append(b.tobytes(order='C'))
        e = {'name': t['name'], 'shape': list(t['shape']), 'dtype': 'float32'}
        if float16:
            e['quantization'] = {'dtype': 'float16', 'original_dtype': 'float32'}
        entries.append(e)
    data = b''.join(chunks)
    n = max(1, -(-len(data) // SHARD_BYTES))
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if _SHARD_RE.match(f):
            os.remove(os.path.join(out_dir, f))
    paths, sha, nbytes = [], {}, {}
    for i in range(n):
        name = f'weights-shard{i + 1}of{n}.bin'
        part = data[i * SHARD_BYTES : (i + 1) * SHARD_BYTES]
        with open(os.path.join(out_dir, name), 'wb') as fh:
            fh.write(part)
        paths.append(name)
        sha[name] = hashlib.sha256(part).hexdigest()
        nbytes[name] = len(part)
    m = {
        'createdBy': 'training/lors_studio/export.py',
        'createdAt': _dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds').replace('+00:00', 'Z'),
    }
    m.update(meta or {})
    manifest = {
        'format': FORMAT,
        'version': VERSION,
        'config': cfg.to_json(),
        'weightsManifest': [{'paths': paths, 'weights': entries}],
        'sha256': sha,
        'bytes': nbytes,
        'meta': m,
    }
    tmp = os.path.join(out_dir, 'model.json.tmp')
    with open(tmp, 'w') as fh:
        fh.write(dump_json(manifest) + '\n')
    os.replace(tmp, os.path.join(out_dir, 'model.json'))
    return manifest


def load_weights(directory: str) -> Tuple[ModelConfig, 'OrderedDict[str, torch.Tensor]']:
    """Reads a weights folder: checks format/version, each shard's byte length and SHA-256, and the tensors
    against parameter_spec(config). Returns (config, state_dict of float32 tensors in spec order)."""
    path = os.path.join(directory, 'model.json')
    with open(path) as fh:
        m = json.load(fh)
    if m.get('format') != FORMAT:
        raise ValueError(f'{path}: format is {m.get("format")!r}, expected {FORMAT!r}')
    if m.get('version') != VERSION:
        raise ValueError(f'{path}: version {m.get("version")!r} is not supported (expected {VERSION})')
    cfg = ModelConfig.from_json(m['config'])
    groups = m.get('weightsManifest')
    if not isinstance(groups, list) or not groups:
        raise ValueError(f'{path}: weightsManifest is missing or empty')
    spec = parameter_spec(cfg)
    expected = {t['name']: t['shape'] for t in spec}
    deflated = m.get('shardEncoding') is not None
    if deflated and m['shardEncoding'] != 'deflate-raw':
        raise ValueError(f'{path}: shardEncoding {m["shardEncoding"]!r} is not supported (only "deflate-raw")')
    sd: Dict[str, torch.Tensor] = {}
    for g in groups:
        blobs = []
        for p in g['paths']:
            fp = os.path.join(directory, p)
            if not os.path.exists(fp):
                raise ValueError(f'{p}: missing shard file')
            with open(fp, 'rb') as fh:
                blob = fh.read()
            want_bytes = m.get('bytes', {}).get(p)
            if want_bytes is not None and len(blob) != want_bytes:
                raise ValueError(f'{p}: {len(blob)} bytes, expected {want_bytes} (corrupted or truncated download)')
            want_sha = m.get('sha256', {}).get(p)
            if want_sha is None:
                raise ValueError(f'{p}: no SHA-256 in model.json')
            if hashlib.sha256(blob).hexdigest() != want_sha.lower():
                raise ValueError(f'{p}: SHA-256 mismatch (corrupted or truncated download)')
            if deflated:  # each stored shard is the raw DEFLATE of its tensor bytes
                blob = zlib.decompress(blob, -15)
                if len(blob) != m['rawBytes'][p]:
                    raise ValueError(f'{p}: inflates to {len(blob)} bytes, expected {m["rawBytes"][p]}')
            blobs.append(blob)
        data = b''.join(blobs)
        off = 0
        for e in g['weights']:
            name, shape = e['name'], list(e['shape'])
            if e.get('dtype', 'float32') != 'float32':
                raise ValueError(f'{name}: dtype {e.get("dtype")!r} is not supported (float32 only)')
            q = e.get('quantization')
            count = int(np.prod(shape)) if shape else 1
            if q is not None and q.get('dtype') == 'int8':
                nb = int8_bytes(shape, q.get('axes', []))
                if off + nb > len(data):
                    raise ValueError(f'{name}: the shards end before this tensor (truncated weights)')
                a = decode_int8(data, off, shape, q.get('axes', []))
            else:
                if q is None:
                    dt = np.dtype('<f4')
                elif q.get('dtype') == 'float16':
                    dt = np.dtype('<f2')
                else:
                    raise ValueError(f'{name}: quantization {q!r} is not supported (float16 or int8)')
                nb = count * dt.itemsize
                if off + nb > len(data):
                    raise ValueError(f'{name}: the shards end before this tensor (truncated weights)')
                a = np.frombuffer(data, dtype=dt, count=count, offset=off).astype(np.float32).reshape(shape)
            off += nb
            if name in sd:
                raise ValueError(f'{name}: appears twice in the manifest')
            sd[name] = torch.from_numpy(a.copy())
        if off != len(data):
            raise ValueError(f'{path}: {len(data) - off} bytes in the shards are not described by the manifest')
    problems = [f'missing {n}' for n in expected if n not in sd]
    problems += [f'extra tensor {n}' for n in sd if n not in expected]
    problems += [
        f'{n}: shape {list(sd[n].shape)}, expected {expected[n]}'
        for n in sd
        if n in expected and list(sd[n].shape) != expected[n]
    ]
    if problems:
        raise ValueError(f'{path}: weights do not match the parameter spec of its config: ' + '; '.join(problems[:20]))
    return cfg, OrderedDict((t['name'], sd[t['name']]) for t in spec)


def torch_load(path: str, map_location='cpu') -> dict:
    """torch.load of a file this project wrote (checkpoints hold config dicts and optimiser state besides tensors,
    which torch ≥ 2.6's default weights_only=True refuses)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except TypeError:  # torch < 1.13.1 has no weights_only
        return torch.load(path, map_location=map_location)


def load_checkpoint(path: str, map_location='cpu') -> dict:
    """The one reader of training checkpoints {'model': state_dict, 'config': cfg JSON, 'optimizer', 'epoch',
    'step', ...} (train.py writes them): returns that dict with 'model' the decoder's state_dict (a wrapper's
    "decoder." / "module." prefix stripped) and 'cfg' the ModelConfig."""
    ck = torch_load(path, map_location)
    if not isinstance(ck, dict) or 'model' not in ck or 'config' not in ck:
        raise ValueError(f'{path}: not a LORS Studio checkpoint (expected a dict with "model" and "config")')
    cfg = _as_config(ck['config'])
    sd = ck['model']
    first = parameter_spec(cfg)[0]['name']
    if first not in sd:
        for prefix in ('decoder.', 'module.', 'module.decoder.'):
            if prefix + first in sd:
                sd = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
                break
    return {**ck, 'model': sd, 'cfg': cfg}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog='python3 -m training.lors_studio.export',
        description='Export a training checkpoint to the LORS Studio weights format.',
    )
    ap.add_argument('--checkpoint', required=True, help="torch.save'd dict with 'model' (state_dict) and 'config'")
    ap.add_argument('--out', required=True, help='output folder (model.json + weights-shard*.bin)')
    ap.add_argument('--float16', action='store_true', help='store tensors as float16 (half the size)')
    ap.add_argument('--meta', action='append', default=[], metavar='KEY=VALUE', help='extra meta entries')
    a = ap.parse_args(argv)
    ck = load_checkpoint(a.checkpoint)
    cfg, sd = ck['cfg'], ck['model']
    ck_meta = {'source': 'trained', 'checkpoint': os.path.basename(a.checkpoint)}
    for kv in a.meta:
        if '=' not in kv:
            ap.error(f'--meta expects KEY=VALUE, got {kv!r}')
        k, v = kv.split('=', 1)
        ck_meta[k] = v
    for k in ('epoch', 'step'):
        if isinstance(ck.get(k), (int, float)):
            ck_meta[k] = ck[k]
    m = export(sd, cfg, a.out, float16=a.float16, meta=ck_meta)
    total = sum(m['bytes'].values())
    print(
        f'wrote {a.out}/model.json and {len(m["bytes"])} shard(s), {total} bytes '
        f'({cfg.preset}/{cfg.variant}, {"float16" if a.float16 else "float32"})'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
