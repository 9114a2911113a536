"""PyTorch mirror of the tfjs AdaMixer / AdaMixer+LORS decoder (docs/model.md).

`AdaMixerDecoder(cfg)` has state_dict keys, shapes and order exactly equal to `parameter_spec(cfg)` (params.ts),
so its state_dict is what training/lors_studio/export.py writes and src/model/weights reads.

forward(levels, image_size, proposals=None):
    levels      list over cfg.decoder.strides of NHWC tensors [B, H_l, W_l, featChannels] (raw backbone features
                of the padded input; H_l·stride_l, W_l·stride_l = padded input size)
    image_size  [B, 2] tensor (or nested list) of (w, h) of the resized UNPADDED image
    returns     list over stages of {'logits': [B, L, classes], 'boxes': [B, L, 4] xyxy input pixels,
                'xyzr': [B, L, 4]} (the refined xyzr; the next stage receives it detached)
    proposals   optional [B, L, 4] xyxy input pixels: the queries' initial boxes (cfg.query_init 'nanodet')
    valid       optional [B, n_levels, 2] int (rows, cols) of each sample's own maps inside zero-padded levels
                (dataset.collate of crops): the neck then normalises each sample over its own window only
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .boxes import decode_xyzr, initial_xyzr, iof_matrix, position_embedding
from .config import VARIANTS, ModelConfig, dims
from .params import init_tensor_, parameter_spec

LN_EPS = 1e-5


class _Queries(nn.Module):
    def __init__(self, queries: int, d_query: int, **kw):
        super().__init__()
        self.content = nn.Parameter(torch.empty(queries, d_query, **kw))


class _Neck(nn.Module):
    """Channel mapping: per level y = x·W_lᵀ + b_l (a 1×1 conv over NHWC channels), then ONE shared GroupNorm.

    valid [B, n_levels, 2] (rows, cols per sample and level), for a batch of maps zero-padded bottom/right to a
    common size (feature-space crops): the GroupNorm statistics then come from each sample's valid window only
    and the padding is zeroed afterwards, so every sample gets exactly the neck output of its window alone (what
    inference computes) and sampling outside it reads zeros, as grid_sample's zero padding does there."""

    def __init__(self, n_levels: int, feat_channels: int, d_feat: int, groups: int, **kw):
        super().__init__()
        self.convs = nn.ModuleList([nn.Linear(feat_channels, d_feat, **kw) for _ in range(n_levels)])
        self.norm = nn.GroupNorm(groups, d_feat, eps=LN_EPS, **kw)

    def forward(self, levels: Sequence[torch.Tensor], valid: Optional[torch.Tensor] = None) -> List[torch.Tensor]:
        out = []
        for l, (conv, x) in enumerate(zip(self.convs, levels)):
            y = conv(x).permute(0, 3, 1, 2)  # NHWC → NCHW
            y = self.norm(y) if valid is None else self._masked_norm(y, valid[:, l])
            out.append(y.contiguous())  # [B, d_feat, H, W]
        return out

    def _masked_norm(self, y: torch.Tensor, hw: torch.Tensor) -> torch.Tensor:
        """GroupNorm of y [B, C, H, W] over each sample's top-left hw[b] = (rows, cols) window; zeros elsewhere."""
        B, C, H, W = y.shape
        G = self.norm.num_groups
        hw = hw.to(y.device)
        rows = torch.arange(H, device=y.device)[None, :, None] < hw[:, 0, None, None]
        cols = torch.arange(W, device=y.device)[None, None, :] < hw[:, 1, None, None]
        m = (rows & cols).to(y.dtype)[:, None, None]  # [B, 1, 1, H, W]
        yg = y.reshape(B, G, C // G, H, W)
        n = (m.sum((2, 3, 4)) * (C // G)).clamp(min=1)[..., None, None, None]  # [B, 1, 1, 1, 1]
        mean = (yg * m).sum((2, 3, 4), keepdim=True) / n
        var = (((yg - mean) * m) ** 2).sum((2, 3, 4), keepdim=True) / n
        z = ((yg - mean) * torch.rsqrt(var + self.norm.eps) * m).reshape(B, C, H, W)
        return (z * self.norm.weight[:, None, None] + self.norm.bias[:, None, None]) * m[:, 0]


class _Attn(nn.Module):
    def __init__(self, d: int, **kw):
        super().__init__()
        self.inProj = nn.Linear(d, 3 * d, **kw)
        self.outProj = nn.Linear(d, d, **kw)


class _Sampling(nn.Module):
    def __init__(self, d: int, off_out: int, **kw):
        super().__init__()
        self.offset = nn.Linear(d, off_out, **kw)


class _Mixing(nn.Module):
    """A stage's dense mixing weights: the generator and L_output, each when the variant has it dense."""

    def __init__(self, d: int, gen_out: Optional[int], out_in: Optional[int], **kw):
        super().__init__()
        if gen_out:
            self.generator = nn.Linear(d, gen_out, **kw)
        if out_in:
            self.output = nn.Linear(out_in, d, **kw)


class _FFN(nn.Module):
    def __init__(self, d: int, hidden: int, **kw):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden, **kw)
        self.fc2 = nn.Linear(hidden, d, **kw)


class _Head(nn.Module):
    def __init__(self, d: int, out: int, **kw):
        super().__init__()
        self.fc = nn.Linear(d, d, **kw)
        self.norm = nn.LayerNorm(d, eps=LN_EPS, **kw)
        self.out = nn.Linear(d, out, **kw)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.norm(self.fc(q))))


class _SharedLinear(nn.Module):
    """Holder of a LORS shared tensor, so that its name is `lorsA.shared.*` / `lorsT.shared.weight`."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool, **kw):
        super().__init__()
        self.shared = nn.Linear(in_dim, out_dim, bias=bias, **kw)


class _LorsAStage(nn.Module):
    """Per-stage private part of LORS^A: the E generator (Linear_E,i) and the static factors ml, mr, sl, sr
    (leading dim G·K_i, triplet index g·K_i + k)."""

    def __init__(self, d: int, G: int, K: int, r: int, C: int, p_in: int, p_out: int, **kw):
        super().__init__()
        self.G, self.K, self.r, self.C, self.p_in, self.p_out = G, K, r, C, p_in, p_out
        gk = G * K
        self.generator = nn.Linear(d, 2 * gk * r * r, **kw)
        self.ml = nn.Parameter(torch.empty(gk, C, r, **kw))
        self.mr = nn.Parameter(torch.empty(gk, r, C, **kw))
        self.sl = nn.Parameter(torch.empty(gk, p_out, r, **kw))
        self.sr = nn.Parameter(torch.empty(gk, r, p_in, **kw))

    def private_matrices(self, q: torch.Tensor):
        """q [B, L, d] → (Mc_private [BL, G, C, C], Ms_private [BL, G, P_out, P_in]) with
        Mc_p,g = Σ_k ml_gk·E^M_gk·mr_gk and Ms_p,g = Σ_k sl_gk·E^S_gk·sr_gk.

        Computed without per-triplet tiny matmuls: (E·right) as one bmm over the G·K triplets with all queries
        stacked, then left·(…) per group with the K triplets concatenated along r (which performs the Σ_k); the
        result comes out directly in the [BL, G, rows, cols] layout of the shared part."""
        G, K, r, C, p_in, p_out = self.G, self.K, self.r, self.C, self.p_in, self.p_out
        BL = q.shape[0] * q.shape[1]
        E = self.generator(q).reshape(BL, 2, G * K, r, r)

        def chain(Ei: torch.Tensor, left: torch.Tensor, right: torch.Tensor, rows: int, cols: int):
            # Ei [BL, GK, r, r]; left [GK, rows, r]; right [GK, r, cols]
            t = torch.bmm(Ei.transpose(0, 1).reshape(G * K, BL * r, r), right)  # [GK, BL·r, cols]
            t = t.reshape(G, K, BL, r, cols).permute(2, 0, 1, 3, 4).reshape(BL, G, K * r, cols)
            lc = left.reshape(G, K, rows, r).permute(0, 2, 1, 3).reshape(1, G, rows, K * r)
            return torch.matmul(lc, t)  # [BL, G, rows, cols]

        mc = chain(E[:, 0], self.ml, self.mr, C, C)
        ms = chain(E[:, 1], self.sl, self.sr, p_out, p_in)
        return mc, ms


class _LorsTStage(nn.Module):
    """Per-stage private part of LORS^T: W_i = W_sh + Σ_k B_k·A_k (B [K, d_q, r], A [K, r, outIn]), bias b_i and the
    per-stage LayerNorm that replaces mixNorm."""

    def __init__(self, d: int, K: int, r: int, out_in: int, **kw):
        super().__init__()
        self.B = nn.Parameter(torch.empty(K, d, r, **kw))
        self.A = nn.Parameter(torch.empty(K, r, out_in, **kw))
        self.bias = nn.Parameter(torch.empty(d, **kw))
        self.norm = nn.LayerNorm(d, eps=LN_EPS, **kw)

    def private(self, o: torch.Tensor) -> torch.Tensor:
        """Σ_k (o·A_kᵀ)·B_kᵀ, the K triplets concatenated along r."""
        K, d, r = self.B.shape
        a = self.A.reshape(K * r, self.A.shape[2])  # [K·r, outIn] (explicit: r may be 0)
        b = self.B.permute(1, 0, 2).reshape(d, K * r)  # [d, K·r]
        return F.linear(F.linear(o, a), b)


class _Stage(nn.Module):
    def __init__(self, cfg: ModelConfig, i: int, **kw):
        super().__init__()
        d = cfg.decoder
        dm = dims(d)
        self.pos_scale = cfg.pos_scale
        self.dense_generator, self.dense_output = cfg.parts.generator == 'dense', cfg.parts.output == 'dense'
        self.H, self.G, self.C = d.heads, dm.G, dm.C
        self.p_in, self.p_out = d.points_in, d.points_out
        self.strides = list(d.strides)
        dq = d.d_query
        self.iofTau = nn.Parameter(torch.empty(d.heads, **kw))
        self.attn = _Attn(dq, **kw)
        self.attnNorm = nn.LayerNorm(dq, eps=LN_EPS, **kw)
        self.sampling = _Sampling(dq, dm.off_out, **kw)
        lo = cfg.lors
        if not self.dense_generator:
            self.lorsA = _LorsAStage(dq, dm.G, lo.groups_a[i], lo.rank_a, dm.C, d.points_in, d.points_out, **kw)
        if not self.dense_output:
            self.lorsT = _LorsTStage(dq, lo.groups_t[i], lo.rank_t, dm.out_in, **kw)
        if self.dense_generator or self.dense_output:
            gen_out, out_in = dm.gen_out if self.dense_generator else None, dm.out_in if self.dense_output else None
            self.mixing = _Mixing(dq, gen_out, out_in, **kw)
        if self.dense_output:
            self.mixNorm = nn.LayerNorm(dq, eps=LN_EPS, **kw)
        self.ffn = _FFN(dq, d.ffn, **kw)
        self.ffnNorm = nn.LayerNorm(dq, eps=LN_EPS, **kw)
        self.cls = _Head(dq, d.classes, **kw)
        self.reg = _Head(dq, 4, **kw)

    # --- 2.1 box-aware self-attention -------------------------------------------------------------------------
    def attention(self, q: torch.Tensor, xyzr: torch.Tensor) -> torch.Tensor:
        B, L, dq = q.shape
        H = self.H
        hd = dq // H
        with torch.no_grad():
            logiof = torch.log(iof_matrix(decode_xyzr(xyzr)) + 1e-7)  # [B, L, L]
            pe = position_embedding(xyzr, dq, self.pos_scale)
        bias = logiof[:, None] * self.iofTau.view(1, H, 1, 1)  # [B, H, L, L]
        x = q + pe
        qkv = self.attn.inProj(x).reshape(B, L, 3, H, hd).permute(2, 0, 3, 1, 4)  # [3, B, H, L, hd]
        logits = torch.matmul(qkv[0] * (hd**-0.5), qkv[1].transpose(-1, -2)) + bias
        a = torch.matmul(torch.softmax(logits, dim=-1), qkv[2])  # [B, H, L, hd]
        a = a.permute(0, 2, 1, 3).reshape(B, L, dq)
        return self.attnNorm(x + self.attn.outProj(a))

    # --- 2.2 adaptive 3D sampling -----------------------------------------------------------------------------
    def sample(self, q: torch.Tensor, xyzr: torch.Tensor, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """→ x_s [B, L, G, P_in, C]."""
        B, L, _ = q.shape
        G, P, C = self.G, self.p_in, self.C
        off = self.sampling.offset(q).reshape(B, L, G, P, 3)
        x, y, z, r = (t[..., None, None] for t in xyzr.unbind(-1))  # [B, L, 1, 1]
        w = torch.pow(2.0, z - 0.5 * r)
        h = torch.pow(2.0, z + 0.5 * r)
        sx = x + off[..., 0] * w  # [B, L, G, P]
        sy = y + off[..., 1] * h
        sz = z + off[..., 2]
        log2s = torch.tensor([math.log2(s) for s in self.strides], dtype=q.dtype, device=q.device)
        lw = torch.softmax(-((sz[..., None] - log2s) ** 2) * 0.5, dim=-1)  # [B, L, G, P, nl]
        lw = lw.permute(0, 2, 1, 3, 4).reshape(B * G, 1, L, P, len(self.strides))
        sxg = sx.permute(0, 2, 1, 3).reshape(B * G, L, P)
        syg = sy.permute(0, 2, 1, 3).reshape(B * G, L, P)
        acc = None
        for l, (feat, stride) in enumerate(zip(feats, self.strides)):
            Hl, Wl = feat.shape[-2], feat.shape[-1]
            grid = torch.stack([sxg / (Wl * stride) * 2.0 - 1.0, syg / (Hl * stride) * 2.0 - 1.0], dim=-1)
            v = F.grid_sample(
                feat.reshape(B * G, C, Hl, Wl), grid, mode='bilinear', padding_mode='zeros', align_corners=False
            )  # [B·G, C, L, P]
            v = v * lw[..., l]
            acc = v if acc is None else acc + v
        return acc.reshape(B, G, C, L, P).permute(0, 3, 1, 4, 2)  # [B, L, G, P, C]

    # --- 2.3 adaptive mixing ----------------------------------------------------------------------------------
    def mix(self, xs: torch.Tensor, mc: torch.Tensor, ms: torch.Tensor) -> torch.Tensor:
        """xs [B, L, G, P_in, C]; mc [BL, G, C, C] (C_in × C_out); ms [BL, G, P_out, P_in] → o [B, L, G·P_out·C]."""
        B, L = xs.shape[:2]
        G, C, P_in, P_out = self.G, self.C, self.p_in, self.p_out
        o = torch.bmm(xs.reshape(B * L * G, P_in, C), mc.reshape(B * L * G, C, C))
        o = F.relu(F.layer_norm(o, (P_in, C), eps=LN_EPS))
        o = torch.bmm(ms.reshape(B * L * G, P_out, P_in), o)
        o = F.relu(F.layer_norm(o, (P_out, C), eps=LN_EPS))
        return o.reshape(B, L, G * P_out * C)

    def forward(
        self,
        q: torch.Tensor,
        xyzr: torch.Tensor,
        feats: Sequence[torch.Tensor],
        lors_a_shared: Optional[nn.Linear] = None,
        lors_t_shared: Optional[nn.Linear] = None,
    ):
        B, L, _ = q.shape
        G, C, P_in, P_out = self.G, self.C, self.p_in, self.p_out
        q = self.attention(q, xyzr)
        xs = self.sample(q, xyzr, feats)
        cc = C * C
        params = (self.mixing.generator if self.dense_generator else lors_a_shared)(q)
        params = params.reshape(B * L, G, cc + P_out * P_in)
        mc = params[..., :cc].reshape(B * L, G, C, C)
        ms = params[..., cc:].reshape(B * L, G, P_out, P_in)
        if not self.dense_generator:
            mc_p, ms_p = self.lorsA.private_matrices(q)
            mc, ms = mc + mc_p, ms + ms_p
        o = self.mix(xs, mc, ms)
        if self.dense_output:
            q = self.mixNorm(q + self.mixing.output(o))
        else:
            q = self.lorsT.norm(q + lors_t_shared(o) + self.lorsT.private(o) + self.lorsT.bias)
        q = self.ffnNorm(q + self.ffn.fc2(F.relu(self.ffn.fc1(q))))
        logits = self.cls(q)
        delta = self.reg(q)
        x, y, z, r = xyzr.unbind(-1)
        s = torch.pow(2.0, z)
        dx, dy, dz, dr = delta.unbind(-1)
        new_xyzr = torch.stack([x + dx * s, y + dy * s, z + dz, r + dr], dim=-1)
        return q, new_xyzr, logits


class AdaMixerDecoder(nn.Module):
    """The AdaMixer decoder of any variant (config.VARIANTS: vanilla, AdaMixer+LORS), with its neck and query content.

    AdaMixerDecoder(cfg, init=True, device=None, dtype=None): init=True fills every tensor by its parameter_spec
    init rule from torch's global RNG (seed with torch.manual_seed first). device='meta' builds a shape-only model.
    """

    def __init__(self, cfg: ModelConfig, init: bool = True, device=None, dtype=None):
        super().__init__()
        self.cfg = cfg
        d = cfg.decoder
        dm = dims(d)
        kw = {'device': device, 'dtype': dtype}
        if cfg.variant not in VARIANTS:
            raise ValueError(f'unknown variant {cfg.variant!r}')
        parts = cfg.parts
        if parts.has_lors and cfg.lors is None:
            raise ValueError(f'variant "{cfg.variant}" needs cfg.lors')
        self.queries = _Queries(d.queries, d.d_query, **kw)
        self.neck = _Neck(len(d.strides), d.feat_channels, d.d_feat, d.neck_groups, **kw)
        if parts.generator == 'lorsA':
            self.lorsA = _SharedLinear(d.d_query, dm.gen_out, bias=True, **kw)
        if parts.output == 'lorsT':
            self.lorsT = _SharedLinear(dm.out_in, d.d_query, bias=False, **kw)
        self.stages = nn.ModuleList([_Stage(cfg, i, **kw) for i in range(d.stages)])
        self._spec = parameter_spec(cfg)
        self._spec_names = [t['name'] for t in self._spec]
        if init:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialises every tensor by its parameter_spec rule (docs/model.md §3.5 and §5), in spec order."""
        params = dict(self.named_parameters())
        for t in self._spec:
            p = params[t['name']]
            if p.device.type == 'meta':
                continue
            init_tensor_(p.data, t['init'], t, self.cfg)

    def state_dict(self, *args, destination=None, prefix='', keep_vars=False):
        """The usual state_dict, with this module's keys in parameter_spec order (the weights-file order)."""
        sd = super().state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)
        for name in self._spec_names:  # re-insert in spec order (the keys were just added, so they are last)
            key = prefix + name
            if key in sd:
                sd[key] = sd.pop(key)
        return sd

    def necked(self, levels: Sequence[torch.Tensor], valid: Optional[torch.Tensor] = None) -> List[torch.Tensor]:
        """Validated neck output: list of NCHW [B, d_feat, H_l, W_l] (valid: see _Neck)."""
        d = self.cfg.decoder
        if len(levels) != len(d.strides):
            raise ValueError(f'expected {len(d.strides)} feature levels (strides {d.strides}), got {len(levels)}')
        B = levels[0].shape[0]
        for l, x in enumerate(levels):
            if x.dim() != 4 or x.shape[0] != B or x.shape[3] != d.feat_channels:
                raise ValueError(f'level {l}: expected NHWC [{B}, H, W, {d.feat_channels}], got {list(x.shape)}')
        return self.neck(levels, valid)

    def initial_state(self, batch: int, image_size: torch.Tensor, proposals: Optional[torch.Tensor] = None):
        """(content [B, L, d_q], xyzr [B, L, 4]): layer_norm(queries.content) (no affine) and whole-image boxes
        (or the given proposals, see boxes.initial_xyzr)."""
        d = self.cfg.decoder
        c = self.queries.content
        q = F.layer_norm(c, (d.d_query,), eps=LN_EPS)[None].expand(batch, -1, -1)
        return q, initial_xyzr(image_size.to(c.dtype), d.queries, proposals)

    def forward(
        self,
        levels: Sequence[torch.Tensor],
        image_size: Union[torch.Tensor, Sequence[Sequence[float]]],
        proposals: Optional[torch.Tensor] = None,
        valid: Optional[torch.Tensor] = None,
    ) -> List[Dict[str, torch.Tensor]]:
        feats = self.necked(levels, valid)
        B = feats[0].shape[0]
        p0 = self.queries.content
        image_size = torch.as_tensor(image_size, dtype=p0.dtype, device=p0.device)
        if image_size.shape != (B, 2):
            raise ValueError(f'image_size must be [B, 2] = (w, h) per image with B = {B}, got {list(image_size.shape)}')
        q, xyzr = self.initial_state(B, image_size, proposals)
        shared_a = self.lorsA.shared if self.cfg.parts.generator == 'lorsA' else None
        shared_t = self.lorsT.shared if self.cfg.parts.output == 'lorsT' else None
        outs: List[Dict[str, torch.Tensor]] = []
        for stage in self.stages:
            q, new_xyzr, logits = stage(q, xyzr, feats, shared_a, shared_t)
            outs.append({'logits': logits, 'boxes': decode_xyzr(new_xyzr), 'xyzr': new_xyzr})
            xyzr = new_xyzr.detach()  # docs/model.md §3.4: box gradients reach only the stage's own Δ
        return outs

    def decoder_parameter_count(self) -> int:
        """Decoder parameters as the paper counts them (queries and neck left out)."""
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith(('queries.', 'neck.')))


__all__ = ['AdaMixerDecoder', 'LN_EPS']
