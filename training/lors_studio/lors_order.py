"""Live LORS compression: LORS weights whose private factors are stored in importance order, so that any
rank r' ≤ r and group count K' ≤ K_i is a slice of the stored tensors (`slice_lors`; src/model/lors/slice.ts is the
same slicing for the browser).

Two sources:

- `order_lors(cfg, state)`: a trained LORS model re-expressed exactly (same function, up to float rounding).
  LORS^T (Eq. 7-8): per stage the SVD of Σ_k B_k A_k; component j goes to group j // r, column j % r.
  LORS^A (Eq. 9-12): per stage, sampling group g and group index k, the triplet B̂ Ê(q) Â with Ê(q) = W q + b (affine)
  becomes Q_B (R_B Ê(q) R_Aᵀ) Q_Aᵀ (QR of B̂ and Âᵀ); the core generator tensor [r, r, d_q + 1] is then rotated by its
  HOSVD mode-1 / mode-2 bases U1, U2 (B̂ ← Q_B U1, Â ← U2ᵀ Q_Aᵀ, core ← U1ᵀ core U2), so truncating to r' keeps the
  leading components; the K triplets of a group are sorted by core energy (‖core_M‖² + ‖core_S‖²), so K' keeps the
  strongest.
- `lorsify(cfg, state, rank_a, groups_a, rank_t, groups_t)`: a trained vanilla model compressed into LORS: shared =
  mean over the stages (Linear_gen → lorsA.shared, L_output → lorsT.shared); private = ordered low-rank factors of
  each stage's residual: SVD for L_output (K_T groups = consecutive chunks of r_T components); for the generators, per
  stage, sampling group and part (M_c, M_s) a greedy fit over K groups: group k is the HOSVD (Tucker, rank r × r,
  the d_q + 1 input mode kept) of what groups < k left. mixNorm → lorsT.norm, output.bias → lorsT.bias; everything
  else is copied. At r = C (and r_T = d_q) it reproduces the vanilla model.

All maths in float64 (numpy); the results are float32 tensors in parameter_spec order.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .config import PLAIN_VARIANT, LorsConfig, ModelConfig, dims
from .params import parameter_spec

State = Dict[str, torch.Tensor]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _to_state(cfg: ModelConfig, arrays: Dict[str, np.ndarray]) -> State:
    out: State = {}
    for s in parameter_spec(cfg):
        a = arrays.get(s['name'])
        if a is None:
            raise KeyError(f'compress: {s["name"]} was not produced')
        if list(a.shape) != list(s['shape']):
            raise ValueError(f'compress: {s["name"]} has shape {list(a.shape)}, expected {s["shape"]}')
        out[s['name']] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return out


def _pad(a: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    out = np.zeros(shape, dtype=a.dtype)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def _hosvd(core: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mode-1 and mode-2 bases of a tensor [m, n, p], columns by descending singular value (square unless the
    tensor has fewer independent fibres; the missing directions carry nothing)."""
    m, n, p = core.shape
    u1 = np.linalg.svd(core.reshape(m, n * p), full_matrices=False)[0]
    u2 = np.linalg.svd(core.transpose(1, 0, 2).reshape(n, m * p), full_matrices=False)[0]
    return u1, u2


def _tucker_fit(t: np.ndarray, r: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-(r, r) Tucker fit of t [rows, cols, p] by truncated HOSVD: (left [rows, r], core [r, r, p], right [r,
    cols]), zero-padded where rows or cols < r."""
    rows, cols, p = t.shape
    u1, u2 = _hosvd(t)
    u1, u2 = u1[:, :r], u2[:, :r]
    core = np.einsum('ia,ijp,jb->abp', u1, t, u2, optimize=True)
    return _pad(u1, (rows, r)), _pad(core, (r, r, p)), _pad(u2.T, (r, cols))


def _gen_blocks(G: int, K: int, r: int):
    """Row index of the E generator for (part, g, k, a, b): ((part·G·K + g·K + k)·r + a)·r + b."""

    def rows(part: int, g: int, k: int) -> np.ndarray:
        j = part * G * K + g * K + k
        return np.arange(j * r * r, (j + 1) * r * r)

    return rows


# ---------------------------------------------------------------------------------------------------------------
# Trained LORS → ordered factors (exact)


def order_lors(cfg: ModelConfig, state: State) -> State:
    if cfg.lors is None:
        raise ValueError('order_lors needs a LORS model')
    d, lo = cfg.decoder, cfg.lors
    dm = dims(d)
    G, r, rt = dm.G, lo.rank_a, lo.rank_t
    arrays = {k: _np(v) for k, v in state.items()}
    for i in range(d.stages):
        K = lo.groups_a[i]
        s = f'stages.{i}.lorsA'
        W, b = arrays[f'{s}.generator.weight'], arrays[f'{s}.generator.bias']
        gen = np.concatenate([W, b[:, None]], axis=1)  # [2·G·K·r², d_q + 1]
        rows = _gen_blocks(G, K, r)
        new_gen = gen.copy()
        facs = {n: arrays[f'{s}.{n}'].copy() for n in ('ml', 'mr', 'sl', 'sr')}
        for g in range(G):
            energy, parts = [], []
            for k in range(K):
                j = g * K + k
                out = {}
                e_tot = 0.0
                for part, (ln, rn) in enumerate((('ml', 'mr'), ('sl', 'sr'))):
                    left, right = arrays[f'{s}.{ln}'][j], arrays[f'{s}.{rn}'][j]  # [rows, r], [r, cols]
                    core = gen[rows(part, g, k)].reshape(r, r, -1)
                    ql, rl = np.linalg.qr(left)  # left = ql rl; ql [rows, m]
                    qr_, rr = np.linalg.qr(right.T)  # rightᵀ = qr_ rr; right = rrᵀ qr_ᵀ
                    c = np.einsum('ab,bcp,dc->adp', rl, core, rr, optimize=True)  # [m_l, m_r, p]
                    u1, u2 = _hosvd(c)
                    c = np.einsum('ia,ijp,jb->abp', u1, c, u2, optimize=True)
                    out[part] = (
                        _pad(ql @ u1, (left.shape[0], r)),
                        _pad(c, (r, r, c.shape[2])),
                        _pad(u2.T @ qr_.T, (r, right.shape[1])),
                    )
                    e_tot += float((c**2).sum())
                energy.append(e_tot)
                parts.append(out)
            for new_k, k in enumerate(sorted(range(K), key=lambda k: -energy[k])):
                j = g * K + new_k
                for part, (ln, rn) in enumerate((('ml', 'mr'), ('sl', 'sr'))):
                    left, core, right = parts[k][part]
                    facs[ln][j], facs[rn][j] = left, right
                    new_gen[rows(part, g, new_k)] = core.reshape(r * r, -1)
        arrays[f'{s}.generator.weight'], arrays[f'{s}.generator.bias'] = new_gen[:, :-1], new_gen[:, -1]
        for n, a in facs.items():
            arrays[f'{s}.{n}'] = a
        # LORS^T: SVD of the stage's private weight
        KT = lo.groups_t[i]
        B, A = arrays[f'stages.{i}.lorsT.B'], arrays[f'stages.{i}.lorsT.A']  # [K, d, r], [K, r, in]
        P = np.einsum('kdr,kro->do', B, A, optimize=True)
        arrays[f'stages.{i}.lorsT.B'], arrays[f'stages.{i}.lorsT.A'] = _svd_groups(P, KT, rt)
    return _to_state(cfg, arrays)


def _svd_groups(P: np.ndarray, K: int, r: int) -> Tuple[np.ndarray, np.ndarray]:
    """Top K·r SVD components of P [d, in] as K groups: B [K, d, r], A [K, r, in] (√S on both sides)."""
    u, s, vt = np.linalg.svd(P, full_matrices=False)
    n = min(K * r, s.shape[0])
    sq = np.sqrt(s[:n])
    Bf = _pad(u[:, :n] * sq, (P.shape[0], K * r))
    Af = _pad(sq[:, None] * vt[:n], (K * r, P.shape[1]))
    B = Bf.reshape(P.shape[0], K, r).transpose(1, 0, 2)
    A = Af.reshape(K, r, P.shape[1])
    return B, A


# ---------------------------------------------------------------------------------------------------------------
# Vanilla → LORS


def lorsify(
    cfg: ModelConfig, state: State, rank_a: int, groups_a: int, rank_t: int, groups_t: int = 1
) -> Tuple[ModelConfig, State]:
    if cfg.variant != PLAIN_VARIANT:
        raise ValueError('lorsify needs a vanilla model')
    d = cfg.decoder
    dm = dims(d)
    G, C, P_in, P_out, N = dm.G, dm.C, d.points_in, d.points_out, d.stages
    out_cfg = replace(cfg, variant='lors', lors=LorsConfig(rank_a, [groups_a] * N, rank_t, [groups_t] * N))
    src = {k: _np(v) for k, v in state.items()}
    arrays: Dict[str, np.ndarray] = {}
    gens = np.stack(
        [
            np.concatenate(
                [src[f'stages.{i}.mixing.generator.weight'], src[f'stages.{i}.mixing.generator.bias'][:, None]], 1
            )
            for i in range(N)
        ]
    )
    outs = np.stack([src[f'stages.{i}.mixing.output.weight'] for i in range(N)])
    gen_sh, out_sh = gens.mean(0), outs.mean(0)
    arrays['lorsA.shared.weight'], arrays['lorsA.shared.bias'] = gen_sh[:, :-1], gen_sh[:, -1]
    arrays['lorsT.shared.weight'] = out_sh
    per_group = C * C + P_out * P_in
    r, K = rank_a, groups_a
    rows = _gen_blocks(G, K, r)
    for i in range(N):
        res = gens[i] - gen_sh  # [G·per_group, d_q + 1]
        gen = np.zeros((2 * G * K * r * r, d.d_query + 1))
        ml, mr = np.zeros((G * K, C, r)), np.zeros((G * K, r, C))
        sl, sr = np.zeros((G * K, P_out, r)), np.zeros((G * K, r, P_in))
        for g in range(G):
            blk = res[g * per_group : (g + 1) * per_group]
            for part, (t, L, R) in enumerate(
                ((blk[: C * C].reshape(C, C, -1), ml, mr), (blk[C * C :].reshape(P_out, P_in, -1), sl, sr))
            ):
                t = t.copy()
                for k in range(K):  # greedy: group k fits what groups < k left
                    left, core, right = _tucker_fit(t, r)
                    L[g * K + k], R[g * K + k] = left, right
                    gen[rows(part, g, k)] = core.reshape(r * r, -1)
                    t = t - np.einsum('ia,abp,bj->ijp', left, core, right, optimize=True)
        s = f'stages.{i}.lorsA'
        arrays[f'{s}.generator.weight'], arrays[f'{s}.generator.bias'] = gen[:, :-1], gen[:, -1]
        arrays[f'{s}.ml'], arrays[f'{s}.mr'], arrays[f'{s}.sl'], arrays[f'{s}.sr'] = ml, mr, sl, sr
        B, A = _svd_groups(outs[i] - out_sh, groups_t, rank_t)
        arrays[f'stages.{i}.lorsT.B'], arrays[f'stages.{i}.lorsT.A'] = B, A
        arrays[f'stages.{i}.lorsT.bias'] = src[f'stages.{i}.mixing.output.bias']
        arrays[f'stages.{i}.lorsT.norm.weight'] = src[f'stages.{i}.mixNorm.weight']
        arrays[f'stages.{i}.lorsT.norm.bias'] = src[f'stages.{i}.mixNorm.bias']
    for name in (s['name'] for s in parameter_spec(out_cfg)):
        if name not in arrays:
            arrays[name] = src[name]  # queries, neck, attention, sampling, FFN, heads: as trained
    return out_cfg, _to_state(out_cfg, arrays)


# ---------------------------------------------------------------------------------------------------------------
# Slicing (mirror of src/model/lors/slice.ts)


def _per_stage(v: Union[int, Sequence[int]], n: int) -> List[int]:
    return [int(v)] * n if isinstance(v, int) else [int(x) for x in v]


def slice_lors(
    cfg: ModelConfig,
    state: State,
    rank_a: int,
    groups_a: Union[int, Sequence[int]],
    rank_t: int,
    groups_t: Optional[Union[int, Sequence[int]]] = None,
) -> Tuple[ModelConfig, State]:
    """The LORS model with the leading r' ≤ r components and K' ≤ K_i groups of an ordered LORS model (r' = 0:
    no private part, the shared weights alone)."""
    if cfg.lors is None:
        raise ValueError('slice_lors needs a LORS model')
    d, lo = cfg.decoder, cfg.lors
    N, G = d.stages, dims(d).G
    ka = _per_stage(groups_a, N)
    kt = lo.groups_t if groups_t is None else _per_stage(groups_t, N)
    if not (0 <= rank_a <= lo.rank_a and 0 <= rank_t <= lo.rank_t):
        raise ValueError(f'ranks must be 0..{lo.rank_a} (LORS^A) and 0..{lo.rank_t} (LORS^T), got {rank_a}, {rank_t}')
    for i in range(N):
        if not (1 <= ka[i] <= lo.groups_a[i] and 1 <= kt[i] <= lo.groups_t[i]):
            raise ValueError(
                f'stage {i}: K must be 1..{lo.groups_a[i]} (LORS^A) and 1..{lo.groups_t[i]} (LORS^T), '
                f'got {ka[i]}, {kt[i]}'
            )
    out_cfg = replace(cfg, lors=LorsConfig(rank_a, ka, rank_t, kt))
    out = dict(state)
    r, r2 = lo.rank_a, rank_a
    for i in range(N):
        K, K2 = lo.groups_a[i], ka[i]
        s = f'stages.{i}.lorsA'
        rows = _gen_blocks(G, K, r)
        sel = np.concatenate(
            [rows(part, g, k).reshape(r, r)[:r2, :r2].ravel() for part in range(2) for g in range(G) for k in range(K2)]
        )
        idx = torch.from_numpy(sel).long()
        out[f'{s}.generator.weight'] = state[f'{s}.generator.weight'][idx].contiguous()
        out[f'{s}.generator.bias'] = state[f'{s}.generator.bias'][idx].contiguous()
        trip = torch.tensor([g * K + k for g in range(G) for k in range(K2)], dtype=torch.long)
        out[f'{s}.ml'] = state[f'{s}.ml'][trip][:, :, :r2].contiguous()
        out[f'{s}.sl'] = state[f'{s}.sl'][trip][:, :, :r2].contiguous()
        out[f'{s}.mr'] = state[f'{s}.mr'][trip][:, :r2, :].contiguous()
        out[f'{s}.sr'] = state[f'{s}.sr'][trip][:, :r2, :].contiguous()
        out[f'stages.{i}.lorsT.B'] = state[f'stages.{i}.lorsT.B'][: kt[i], :, :rank_t].contiguous()
        out[f'stages.{i}.lorsT.A'] = state[f'stages.{i}.lorsT.A'][: kt[i], :rank_t, :].contiguous()
    return out_cfg, {s['name']: out[s['name']] for s in parameter_spec(out_cfg)}


# ---------------------------------------------------------------------------------------------------------------
# Dense equivalents (for tests and error curves)


def dense_stage_weights(cfg: ModelConfig, state: State) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Per stage: (generator [genOut, d_q + 1] incl. bias, L_output [d_q, outIn]) as dense matrices: a dense part's
    own, a LORS part folded (Eqs. 7-12 are affine in q)."""
    d, lo, parts = cfg.decoder, cfg.lors, cfg.parts
    dm = dims(d)
    G, C, per_group = dm.G, dm.C, dm.gen_per_group
    st = {k: _np(v) for k, v in state.items()}

    def with_bias(name: str) -> np.ndarray:
        return np.concatenate([st[f'{name}.weight'], st[f'{name}.bias'][:, None]], 1)

    res = []
    for i in range(d.stages):
        s = f'stages.{i}'
        if parts.generator == 'dense':
            gen = with_bias(f'{s}.mixing.generator')
        else:
            K, r = lo.groups_a[i], lo.rank_a
            gen = with_bias('lorsA.shared')
            # r = 0: shared only (and an empty generator cannot be reshaped with -1)
            E = with_bias(f'{s}.lorsA.generator').reshape(2, G, K, r, r, -1) if r else None
            for g in range(G if r else 0):
                ks, at = slice(g * K, (g + 1) * K), g * per_group
                for m, (left, right, start, end) in enumerate((('ml', 'mr', 0, C * C), ('sl', 'sr', C * C, per_group))):
                    L, R = st[f'{s}.lorsA.{left}'][ks], st[f'{s}.lorsA.{right}'][ks]
                    part = np.einsum('kia,kabp,kbj->ijp', L, E[m, g], R, optimize=True)
                    gen[at + start : at + end] += part.reshape(end - start, -1)
        if parts.output == 'dense':
            out = st[f'{s}.mixing.output.weight']
        else:
            out = st['lorsT.shared.weight'] + np.einsum(
                'kdr,kro->do', st[f'{s}.lorsT.B'], st[f'{s}.lorsT.A'], optimize=True
            )
        res.append((gen, out))
    return res


def reconstruction_error(
    ref: List[Tuple[np.ndarray, np.ndarray]], approx: List[Tuple[np.ndarray, np.ndarray]]
) -> Dict[str, float]:
    """Relative Frobenius errors of the generators and L_output summed over stages."""

    def rel(pairs):
        num = sum(float(((a - b) ** 2).sum()) for a, b in pairs)
        den = sum(float((a**2).sum()) for a, _ in pairs)
        return (num / den) ** 0.5

    return {
        'generator': rel([(a[0], b[0]) for a, b in zip(ref, approx)]),
        'output': rel([(a[1], b[1]) for a, b in zip(ref, approx)]),
    }


__all__ = ['order_lors', 'lorsify', 'slice_lors', 'dense_stage_weights', 'reconstruction_error']
