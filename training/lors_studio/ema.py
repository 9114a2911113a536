"""Exponential moving average of a model's weights (`--ema D`): after each optimiser step
w̄ ← D·w̄ + (1 − D)·w for floating-point tensors (others are copied). The run evaluates, chooses and exports w̄; w keeps
training. A warm-started run begins with w̄ = w (the initial weights)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Iterator, Optional

import torch


class Ema:
    def __init__(self, model: torch.nn.Module, decay: float, state: Optional[Dict[str, torch.Tensor]] = None):
        if not 0.0 < decay < 1.0:
            raise ValueError(f'--ema: the decay must be in (0, 1), not {decay}')
        self.decay = decay
        own = model.state_dict()
        src = own if state is None else state
        if set(src) != set(own):
            raise ValueError('--ema: the saved average does not match the model')
        self.shadow = {k: src[k].detach().clone().to(v.device) for k, v in own.items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if v.is_floating_point():
                s.mul_(self.decay).add_(v.detach(), alpha=1.0 - self.decay)
            else:
                s.copy_(v)

    @contextmanager
    def applied(self, model: torch.nn.Module) -> Iterator[None]:
        """The model holds the averaged weights inside the block, its own afterwards."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield
        finally:
            model.load_state_dict(own)
