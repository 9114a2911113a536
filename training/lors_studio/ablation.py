"""The paper's Table 5 on a trained LORS model: AP with W = W_shared + W_private, with W_shared only and with W_private
only, each made by removing the other term from the trained weights (no retraining; the paper trains each row).

W_private of a stage is Σ_k B_k E_k(q) A_k (LORS^A, Eq. 11) and Σ_k B_k A_k (LORS^T, Eq. 8): zeroing E's generator
(weight and bias) and B removes it exactly. W_shared is the shared generator (weight and bias) and the shared
L_output. The per-stage bias and LayerNorm of L_output stay in every row (vanilla has them too).

    python3 -m training.lors_studio.ablation --weights public/models/lors --features feats/val \\
        --annotations instances_val.json --json out.json
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Dict, List, Tuple

import torch

from . import data as D
from . import dataset as DS
from .config import ModelConfig
from .evaluate import evaluate
from .export import load_weights
from .model import AdaMixerDecoder
from .optim import is_private_factor
from .params import count_parameters

PRIVATE_TERM = re.compile(r'stages\.\d+\.(lorsA\.generator\.(weight|bias)|lorsT\.B)')
SHARED_TERM = re.compile(r'lors[AT]\.shared\.(weight|bias)')

ROWS: List[Tuple[str, bool, bool]] = [('shared only', True, False), ('private only', False, True), ('both', True, True)]


def remove_terms(state: Dict[str, torch.Tensor], shared: bool, private: bool) -> Dict[str, torch.Tensor]:
    """A copy of a LORS state with W_shared (shared=False) and/or W_private (private=False) set to zero."""
    out = {}
    for name, t in state.items():
        drop = (not private and PRIVATE_TERM.fullmatch(name)) or (not shared and SHARED_TERM.fullmatch(name))
        out[name] = torch.zeros_like(t) if drop else t.clone()
    return out


def kept_params(cfg: ModelConfig, state: Dict[str, torch.Tensor], shared: bool, private: bool) -> int:
    """Decoder parameters the row actually uses (the removed term's factors left out)."""
    n = count_parameters(cfg)['decoder']
    for name, t in state.items():
        if (not private and is_private_factor(name)) or (not shared and SHARED_TERM.fullmatch(name)):
            n -= t.numel()
    return n


def table5(cfg: ModelConfig, state: Dict[str, torch.Tensor], dataset, batch_size: int = 8) -> List[dict]:
    rows = []
    for label, shared, private in ROWS:
        model = AdaMixerDecoder(cfg, init=False)
        model.load_state_dict(remove_terms(state, shared, private))
        res = evaluate(model, dataset, batch_size, torch.device('cpu'))
        rows.append(
            {
                'row': label,
                'shared': shared,
                'private': private,
                'decoderParams': kept_params(cfg, state, shared, private),
                'AP': round(res['AP'], 2),
                'AP50': round(res['AP50'], 2),
            }
        )
        print(f'{label}: {rows[-1]["decoderParams"]:,} params, AP {rows[-1]["AP"]:.2f}', flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog='python3 -m training.lors_studio.ablation', description=__doc__.split('\n')[0])
    ap.add_argument('--weights', required=True, help='a trained LORS weights folder')
    ap.add_argument('--features', required=True, help='feature cache (with proposals when queryInit is nanodet)')
    ap.add_argument('--annotations', required=True)
    ap.add_argument('--json', required=True)
    ap.add_argument('--batch-size', type=int, default=8)
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--limit', type=int, default=None, help='only the first N images (a dry run)')
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg, state = load_weights(a.weights)
    if not cfg.parts.has_lors:
        raise SystemExit(f'--weights {a.weights}: a {cfg.variant} model has no shared/private split')
    ds = DS.DetectionDataset(
        D.find_caches(a.features),
        D.CocoAnnotations(a.annotations),
        train=False,
        limit=a.limit,
        proposals=cfg.decoder.queries if cfg.query_init == 'nanodet' else None,
    )
    rows = table5(cfg, state, ds, a.batch_size)
    out = {'weights': a.weights, 'images': len(ds), 'how': 'python3 -m training.lors_studio.ablation', 'rows': rows}
    with open(a.json, 'w', encoding='utf-8') as f:
        json.dump(out, f, indent=1)
    print(f'wrote {a.json}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
