"""Model configurations: the Python mirror of src/model/config.ts.

Attributes are snake_case; `to_json()` / `ModelConfig.from_json()` use the camelCase keys of the TypeScript
`ModelConfig` exactly, so a config written by either side is read by the other:

    {"preset": "web", "variant": "lors",
     "decoder": {"dQuery", "dFeat", "heads", "ffn", "samplingGroups", "pointsIn", "pointsOut", "stages",
                 "queries", "classes", "strides", "featChannels", "neckGroups"},
     "lors": {"rankA", "groupsA", "rankT", "groupsT"}}          # present iff the variant has LORS parts
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields, replace
from typing import List, Optional, Sequence, Union


@dataclass
class DecoderConfig:
    d_query: int  # d_q, query (content) dimension
    d_feat: int  # d_feat, channels the decoder samples from (after the neck)
    heads: int  # attention heads
    ffn: int  # FFN hidden width
    sampling_groups: int  # G; C = d_feat / G
    points_in: int  # P_in
    points_out: int  # P_out
    stages: int  # N
    queries: int  # L
    classes: int
    strides: List[int]
    feat_channels: int  # channels of the backbone feature maps
    neck_groups: int  # GroupNorm groups of the neck

    def to_json(self) -> dict:
        return {js: (list(getattr(self, py)) if py == 'strides' else getattr(self, py)) for py, js in _DECODER_KEYS}

    @staticmethod
    def from_json(d: dict) -> 'DecoderConfig':
        missing = [js for _, js in _DECODER_KEYS if js not in d]
        if missing:
            raise ValueError(f'decoder config is missing {", ".join(missing)}')
        kw = {py: d[js] for py, js in _DECODER_KEYS}
        kw['strides'] = [int(s) for s in kw['strides']]
        for py, js in _DECODER_KEYS:
            if py != 'strides' and (not isinstance(kw[py], int) or isinstance(kw[py], bool) or kw[py] < 1):
                raise ValueError(f'decoder.{js} must be an integer ≥ 1, got {kw[py]!r}')
        return DecoderConfig(**kw)


@dataclass
class LorsConfig:
    rank_a: int  # r of LORS^A
    groups_a: List[int]  # K_i of LORS^A per stage
    rank_t: int  # r of LORS^T
    groups_t: List[int]  # K_i of LORS^T per stage

    def to_json(self) -> dict:
        return {
            js: (list(getattr(self, py)) if py.startswith('groups') else getattr(self, py)) for py, js in _LORS_KEYS
        }

    @staticmethod
    def from_json(d: dict) -> 'LorsConfig':
        missing = [js for _, js in _LORS_KEYS if js not in d]
        if missing:
            raise ValueError(f'lors config is missing {", ".join(missing)}')
        return LorsConfig(
            **{py: ([int(k) for k in d[js]] if py.startswith('groups') else int(d[js])) for py, js in _LORS_KEYS}
        )


def _json_keys(cls) -> list:
    """(attribute, JSON key) of each field of a config dataclass: snake_case → camelCase."""
    return [(f.name, re.sub(r'_([a-z])', lambda m: m.group(1).upper(), f.name)) for f in fields(cls)]


_DECODER_KEYS, _LORS_KEYS = _json_keys(DecoderConfig), _json_keys(LorsConfig)


@dataclass(frozen=True)
class VariantSpec:
    """How a stage gets its two adaptive-mixing weights: each dense (per stage) or LORS (shared + low-rank private)."""

    generator: str  # 'dense' (Linear_gen) | 'lorsA'
    output: str  # 'dense' (L_output) | 'lorsT'

    @property
    def has_lors(self) -> bool:
        """Whether a config of the variant carries `lors` (ranks and groups)."""
        return self.generator != 'dense' or self.output != 'dense'


# The decoder's architecture variants, the one place their names are told apart (mirror of src/model/variants.ts):
# params.py and model.py follow the parts; every model folds to PLAIN_VARIANT, whose parts are all dense.
VARIANTS = {'vanilla': VariantSpec('dense', 'dense'), 'lors': VariantSpec('lorsA', 'lorsT')}
PLAIN_VARIANT = 'vanilla'


QUERY_INITS = ('image', 'nanodet')


DEFAULT_POS_SCALE = 1000.0  # AdaMixer's divisor of x, y in the box encoding


@dataclass
class ModelConfig:
    preset: str
    variant: str  # a key of VARIANTS
    decoder: DecoderConfig
    lors: Optional[LorsConfig] = None
    # Where the queries' initial boxes come from: 'image' (AdaMixer's whole-image boxes) or 'nanodet' (NanoDet-g's
    # head proposals; src/model/config.ts QueryInit). Written to the weights' config only when 'nanodet'.
    query_init: str = 'image'
    # Divisor of the box centre (x, y in input pixels) in the sin/cos box encoding (docs/model.md §3.1): AdaMixer's
    # 1000 suits ~1333-px inputs; 1000·416/1333 ≈ 312 gives the same signal at 416 px. Written only when not 1000,
    # so a config without it (every older weights file) reads as 1000 (src/model/config.ts posScaleOf).
    pos_scale: float = DEFAULT_POS_SCALE

    def to_json(self) -> dict:
        out = {'preset': self.preset, 'variant': self.variant, 'decoder': self.decoder.to_json()}
        if self.lors is not None:
            out['lors'] = self.lors.to_json()
        if self.query_init != 'image':
            out['queryInit'] = self.query_init
        if self.pos_scale != DEFAULT_POS_SCALE:
            out['posScale'] = self.pos_scale
        return out

    @property
    def parts(self) -> VariantSpec:
        return VARIANTS[self.variant]

    def dumps(self) -> str:
        return json.dumps(self.to_json())

    @staticmethod
    def from_json(d: Union[dict, str]) -> 'ModelConfig':
        if isinstance(d, (str, bytes)):
            d = json.loads(d)
        if not isinstance(d, dict):
            raise ValueError(f'model config must be a JSON object, got {type(d).__name__}')
        variant = d.get('variant')
        if variant not in VARIANTS:
            raise ValueError(f'config.variant must be {" or ".join(map(json.dumps, VARIANTS))}, got {variant!r}')
        if 'decoder' not in d:
            raise ValueError('config is missing "decoder"')
        dec = DecoderConfig.from_json(d['decoder'])
        lors = None
        if VARIANTS[variant].has_lors:
            if 'lors' not in d or d['lors'] is None:
                raise ValueError(f'config.variant is "{variant}" but config.lors is missing')
            lors = LorsConfig.from_json(d['lors'])
            for what, ks in (('groupsA', lors.groups_a), ('groupsT', lors.groups_t)):
                if len(ks) != dec.stages:
                    raise ValueError(f'lors.{what}: expected {dec.stages} per-stage values, got {len(ks)}')
        query_init = d.get('queryInit', 'image')
        if query_init not in QUERY_INITS:
            raise ValueError(f'config.queryInit must be one of {QUERY_INITS}, got {query_init!r}')
        pos_scale = d.get('posScale', DEFAULT_POS_SCALE)
        if isinstance(pos_scale, bool) or not isinstance(pos_scale, (int, float)) or not 0 < pos_scale < float('inf'):
            raise ValueError(f'config.posScale must be a positive number, got {pos_scale!r}')
        cfg = ModelConfig(
            preset=str(d.get('preset', 'custom')),
            variant=variant,
            decoder=dec,
            lors=lors,
            query_init=query_init,
            pos_scale=float(pos_scale),
        )
        dims(cfg.decoder)  # validates divisibility
        return cfg


@dataclass(frozen=True)
class Dims:
    C: int  # channels per sampling group
    G: int  # sampling groups
    gen_per_group: int  # C·C + P_out·P_in
    gen_out: int  # G·gen_per_group: output width of Linear_gen / LORS^A shared generator
    out_in: int  # G·P_out·C: input width of L_output
    off_out: int  # G·P_in·3: output width of Linear_off


def dims(d: DecoderConfig) -> Dims:
    if d.d_feat % d.sampling_groups != 0:
        raise ValueError(f'dFeat {d.d_feat} is not divisible by samplingGroups {d.sampling_groups}')
    if d.d_query % d.heads != 0:
        raise ValueError(f'dQuery {d.d_query} is not divisible by heads {d.heads}')
    C = d.d_feat // d.sampling_groups
    G = d.sampling_groups
    gpg = C * C + d.points_in * d.points_out
    return Dims(C=C, G=G, gen_per_group=gpg, gen_out=G * gpg, out_in=G * d.points_out * C, off_out=G * d.points_in * 3)


_NANODET = dict(strides=[8, 16, 32], feat_channels=128, neck_groups=32, classes=80)

# d_query, d_feat, heads, ffn, sampling_groups, points_in, points_out, stages, queries
PAPER_DECODER = DecoderConfig(256, 256, 8, 2048, 2, 64, 128, 6, 100, **_NANODET)
WEB_DECODER = DecoderConfig(128, 128, 8, 512, 2, 32, 64, 6, 100, **_NANODET)
TINY_DECODER = DecoderConfig(32, 32, 4, 64, 2, 4, 8, 6, 10, **_NANODET)

PAPER_GROUPS = [1, 1, 2, 2, 3, 3]

PRESETS = {
    'paper': {'decoder': PAPER_DECODER, 'lors': LorsConfig(16, PAPER_GROUPS, 8, [1] * 6)},
    'web': {'decoder': WEB_DECODER, 'lors': LorsConfig(8, PAPER_GROUPS, 8, [1] * 6)},
    'tiny': {'decoder': TINY_DECODER, 'lors': LorsConfig(2, PAPER_GROUPS, 2, [1] * 6)},
}


def stretch_groups(pattern: Sequence[int], n: int) -> List[int]:
    """Stretches a per-stage K pattern to n stages (Table 8)."""
    if len(pattern) == n:
        return list(pattern)
    return [pattern[(i * len(pattern)) // n] for i in range(n)]


def _per_stage(v, n: int, what: str) -> List[int]:
    arr = [v] * n if isinstance(v, int) else list(v)
    if len(arr) != n:
        raise ValueError(f'{what}: expected {n} per-stage values, got {len(arr)}')
    for k in arr:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f'{what}: every value must be an integer ≥ 1, got {k!r}')
    return arr


def make_config(
    preset: str,
    variant: str,
    rank_a: Optional[int] = None,
    rank_t: Optional[int] = None,
    groups: Union[None, int, Sequence[int]] = None,
    groups_t: Union[None, int, Sequence[int]] = None,
    stages: Optional[int] = None,
) -> ModelConfig:
    """Mirror of makeConfig(preset, variant, {rankA, rankT, groups, groupsT, stages}) in config.ts.

    variant: 'vanilla' | 'vanilla4x32' (stored as 'vanilla' with 2G sampling groups and P_in/2) | 'lors'.
    """
    if preset not in PRESETS:
        raise ValueError(f'unknown preset "{preset}" (expected {", ".join(PRESETS)})')
    p = PRESETS[preset]
    decoder = replace(p['decoder'], strides=list(p['decoder'].strides))
    if stages is not None:
        decoder.stages = stages
    n = decoder.stages
    if variant == 'vanilla4x32':
        pd = p['decoder']
        if pd.points_in % 2 != 0:
            raise ValueError(f'vanilla4x32 needs an even pointsIn, preset {preset} has {pd.points_in}')
        decoder = replace(decoder, sampling_groups=2 * pd.sampling_groups, points_in=pd.points_in // 2)
        return ModelConfig(preset=preset, variant=PLAIN_VARIANT, decoder=decoder)
    if variant not in VARIANTS:
        raise ValueError(f'unknown variant "{variant}" (expected {", ".join([*VARIANTS, "vanilla4x32"])})')
    if not VARIANTS[variant].has_lors:
        return ModelConfig(preset=preset, variant=variant, decoder=decoder)
    pl: LorsConfig = p['lors']
    ra = pl.rank_a if rank_a is None else rank_a
    rt = pl.rank_t if rank_t is None else rank_t
    for k, v in (('rankA', ra), ('rankT', rt)):
        # r = 0: no private low-rank part (the paper's "shared only" ablation)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f'{k} must be an integer ≥ 0, got {v!r}')
    ga = _per_stage(stretch_groups(pl.groups_a, n) if groups is None else groups, n, 'groups')
    gt = _per_stage(stretch_groups(pl.groups_t, n) if groups_t is None else groups_t, n, 'groupsT')
    return ModelConfig(preset=preset, variant=variant, decoder=decoder, lors=LorsConfig(ra, ga, rt, gt))


def parse_groups(s: str) -> Union[int, List[int]]:
    """Parses "3" or "1,1,2,2,3,3"."""
    parts = [x.strip() for x in s.split(',')]
    try:
        nums = [int(x) for x in parts]
    except ValueError:
        nums = []
    if not nums or any(k < 1 for k in nums):
        raise ValueError(f'groups must be an integer ≥ 1 or a comma list like 1,1,2,2,3,3; got "{s}"')
    return nums[0] if len(nums) == 1 else nums
