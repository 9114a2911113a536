"""Mirror of src/model/params.ts: every learnable tensor of a model (name, shape, component, stage, role, init).

The names are the PyTorch state_dict keys of model.AdaMixerDecoder, in the same order, and the order of the
tensors in the weights file (src/model/weights/FORMAT.md). Layouts follow PyTorch: a Linear weight is [out, in].

Init rules (dicts, as in params.ts):
    {'kind': 'zeros'} | {'kind': 'ones'} | {'kind': 'normal'}                  N(0, 1)
    {'kind': 'uniform', 'low', 'high'} | {'kind': 'xavier'}                  xavier_uniform over [out, in]
    {'kind': 'linearBias', 'fanIn'}                                           U(±1/√fan_in)
    {'kind': 'kaimingUniform', 'fanIn', 'a'}                                  bound = √(2/(1+a²))·√(3/fan_in)
    {'kind': 'constant', 'value'} | {'kind': 'offsetBias'}                    docs/model.md §3.5
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional

import torch

from .config import ModelConfig, dims


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _p(out, name, shape, component, stage, role, init):
    out.append({'name': name, 'shape': list(shape), 'component': component, 'stage': stage, 'role': role, 'init': init})


def _linear(out, name, in_dim, out_dim, component, stage, role, weight_init=None, bias_init='default'):
    _p(out, f'{name}.weight', [out_dim, in_dim], component, stage, role, weight_init or {'kind': 'xavier'})
    if bias_init == 'default':
        bias_init = {'kind': 'linearBias', 'fanIn': in_dim}
    if bias_init is not None:
        _p(out, f'{name}.bias', [out_dim], component, stage, role, bias_init)


def _layer_norm(out, name, dim, component, stage, role):
    _p(out, f'{name}.weight', [dim], component, stage, role, {'kind': 'ones'})
    _p(out, f'{name}.bias', [dim], component, stage, role, {'kind': 'zeros'})


def parameter_spec(cfg: ModelConfig) -> List[dict]:
    """Every learnable tensor of the model, in the fixed order of params.ts."""
    d = cfg.decoder
    dm = dims(d)
    C, G = dm.C, dm.G
    dq = d.d_query
    p: List[dict] = []
    zeros = {'kind': 'zeros'}

    _p(p, 'queries.content', [d.queries, dq], 'queries', None, 'input', {'kind': 'normal'})
    for l in range(len(d.strides)):
        _p(p, f'neck.convs.{l}.weight', [d.d_feat, d.feat_channels], 'neck', None, 'input', {'kind': 'xavier'})
        _p(p, f'neck.convs.{l}.bias', [d.d_feat], 'neck', None, 'input', zeros)
    _layer_norm(p, 'neck.norm', d.d_feat, 'neck', None, 'input')

    parts = cfg.parts
    if parts.generator == 'lorsA':
        _linear(p, 'lorsA.shared', dq, dm.gen_out, 'lorsA', None, 'shared', zeros)
    if parts.output == 'lorsT':
        kaiming = {'kind': 'kaimingUniform', 'fanIn': dm.out_in, 'a': math.sqrt(5)}
        _linear(p, 'lorsT.shared', dm.out_in, dq, 'lorsT', None, 'shared', kaiming, None)

    for i in range(d.stages):
        s = f'stages.{i}'
        _p(p, f'{s}.iofTau', [d.heads], 'attention', i, 'stage', {'kind': 'uniform', 'low': 0, 'high': 4})
        _linear(p, f'{s}.attn.inProj', dq, 3 * dq, 'attention', i, 'stage', {'kind': 'xavier'}, zeros)
        _linear(p, f'{s}.attn.outProj', dq, dq, 'attention', i, 'stage', {'kind': 'xavier'}, zeros)
        _layer_norm(p, f'{s}.attnNorm', dq, 'attention', i, 'stage')
        _linear(p, f'{s}.sampling.offset', dq, dm.off_out, 'sampling', i, 'stage', zeros, {'kind': 'offsetBias'})
        lo = cfg.lors
        if parts.generator == 'dense':
            _linear(p, f'{s}.mixing.generator', dq, dm.gen_out, 'generator', i, 'stage', zeros)
        else:
            r, gk = lo.rank_a, G * lo.groups_a[i]
            _linear(p, f'{s}.lorsA.generator', dq, 2 * gk * r * r, 'lorsA', i, 'private', zeros, zeros)
            for n, shape in (
                ('ml', [gk, C, r]),
                ('mr', [gk, r, C]),
                ('sl', [gk, d.points_out, r]),
                ('sr', [gk, r, d.points_in]),
            ):
                init = {'kind': 'kaimingUniform', 'fanIn': shape[1] * shape[2], 'a': 0}
                _p(p, f'{s}.lorsA.{n}', shape, 'lorsA', i, 'private', init)
        if parts.output == 'dense':
            _linear(p, f'{s}.mixing.output', dm.out_in, dq, 'output', i, 'stage')
            _layer_norm(p, f'{s}.mixNorm', dq, 'output', i, 'stage')
        else:
            rt, kt = lo.rank_t, lo.groups_t[i]
            _p(p, f'{s}.lorsT.B', [kt, dq, rt], 'lorsT', i, 'private', zeros)
            init = {'kind': 'kaimingUniform', 'fanIn': dm.out_in, 'a': 0}
            _p(p, f'{s}.lorsT.A', [kt, rt, dm.out_in], 'lorsT', i, 'private', init)
            _p(p, f'{s}.lorsT.bias', [dq], 'lorsT', i, 'private', zeros)
            _layer_norm(p, f'{s}.lorsT.norm', dq, 'lorsT', i, 'private')
        _linear(p, f'{s}.ffn.fc1', dq, d.ffn, 'ffn', i, 'stage')
        _linear(p, f'{s}.ffn.fc2', d.ffn, dq, 'ffn', i, 'stage')
        _layer_norm(p, f'{s}.ffnNorm', dq, 'ffn', i, 'stage')
        for head in ('cls', 'reg'):
            _linear(p, f'{s}.{head}.fc', dq, dq, 'heads', i, 'stage')
            _layer_norm(p, f'{s}.{head}.norm', dq, 'heads', i, 'stage')
        _linear(
            p,
            f'{s}.cls.out',
            dq,
            d.classes,
            'heads',
            i,
            'stage',
            {'kind': 'xavier'},
            {'kind': 'constant', 'value': -math.log(99)},
        )
        _linear(p, f'{s}.reg.out', dq, 4, 'heads', i, 'stage', zeros, zeros)
    return p


def count_parameters(cfg: ModelConfig, backbone: int = 0) -> Dict[str, object]:
    """Exact count as countParameters in params.ts: decoder (queries and neck left out), queries, neck, total,
    byComponent, shared, perStage [{stage, private, other, total}]."""
    spec = parameter_spec(cfg)
    by: Dict[str, int] = {}
    per = [{'stage': i, 'private': 0, 'other': 0, 'total': 0} for i in range(cfg.decoder.stages)]
    decoder = queries = neck = shared = 0
    for t in spec:
        n = _size(t['shape'])
        if t['component'] == 'queries':
            queries += n
            continue
        if t['component'] == 'neck':
            neck += n
            continue
        decoder += n
        by[t['component']] = by.get(t['component'], 0) + n
        if t['stage'] is None:
            shared += n
        else:
            ps = per[t['stage']]
            ps['private' if t['role'] == 'private' else 'other'] += n
            ps['total'] += n
    return {
        'decoder': decoder,
        'queries': queries,
        'neck': neck,
        'backbone': backbone,
        'total': decoder + queries + neck + backbone,
        'byComponent': by,
        'shared': shared,
        'perStage': per,
    }


def offset_bias(groups: int, points: int):
    """AdaMixer's Linear_off bias (docs/model.md §3.5) as a [G·P_in·3] tensor: xy on a √P×√P grid (component 0 = row
    value, component 1 = column value, t = linspace(−0.5, 0.5, h+1)[:-1] + 0.5/h) when P_in is a perfect square, else
    U(−0.5, 0.5); z = −1."""
    b = torch.empty(groups, points, 3)
    h = int(round(math.sqrt(points)))
    if h * h == points:
        t = torch.linspace(-0.5, 0.5, h + 1)[:-1] + 0.5 / h
        b[:, :, 0] = t.view(h, 1).expand(h, h).reshape(-1)
        b[:, :, 1] = t.view(1, h).expand(h, h).reshape(-1)
    else:
        b[:, :, :2].uniform_(-0.5, 0.5)
    b[:, :, 2] = -1.0
    return b.reshape(-1)


def init_tensor_(t, init: dict, spec_entry: Optional[dict] = None, cfg: Optional[ModelConfig] = None):
    """Fills tensor t in place by an init rule of parameter_spec (uses torch's global RNG)."""
    kind = init['kind']
    if t.numel() == 0:  # an empty factor (rank 0): nothing to fill, and its fan-in may be 0
        return t
    with torch.no_grad():
        if kind == 'zeros':
            t.zero_()
        elif kind == 'ones':
            t.fill_(1.0)
        elif kind == 'normal':
            t.normal_(0.0, 1.0)
        elif kind == 'uniform':
            t.uniform_(init['low'], init['high'])
        elif kind == 'xavier':
            out_dim, in_dim = t.shape[0], _size(t.shape[1:])
            bound = math.sqrt(6.0 / (in_dim + out_dim))
            t.uniform_(-bound, bound)
        elif kind == 'linearBias':
            bound = 1.0 / math.sqrt(init['fanIn'])
            t.uniform_(-bound, bound)
        elif kind == 'kaimingUniform':
            gain = math.sqrt(2.0 / (1.0 + init['a'] ** 2))
            bound = gain * math.sqrt(3.0 / init['fanIn'])
            t.uniform_(-bound, bound)
        elif kind == 'constant':
            t.fill_(init['value'])
        elif kind == 'offsetBias':
            if cfg is None:
                raise ValueError('offsetBias init needs the model config')
            t.copy_(offset_bias(cfg.decoder.sampling_groups, cfg.decoder.points_in).to(t.dtype))
        else:
            raise ValueError(f'unknown init kind {kind!r}')
    return t
