"""The processes of a run (torchrun's environment; one process without it): rank, device, barrier, mean."""

from __future__ import annotations

import datetime
import os
from typing import List

import torch


class Dist:
    def __init__(self, device_arg: str):
        self.world = int(os.environ.get('WORLD_SIZE', '1'))
        self.rank = int(os.environ.get('RANK', '0'))
        self.local_rank = int(os.environ.get('LOCAL_RANK', '0'))
        self.local_world = int(os.environ.get('LOCAL_WORLD_SIZE', str(self.world)))
        want_cuda = device_arg.startswith('cuda') or (device_arg == 'auto' and torch.cuda.is_available())
        if want_cuda and not torch.cuda.is_available():
            raise SystemExit(f'--device {device_arg}: CUDA is not available')
        if want_cuda:
            idx = self.local_rank if device_arg in ('auto', 'cuda') else int(device_arg.split(':')[1])
            self.device = torch.device('cuda', idx)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device('cpu')
        self.enabled = self.world > 1
        if self.enabled and not torch.distributed.is_initialized():
            backend = 'nccl' if self.device.type == 'cuda' else 'gloo'
            torch.distributed.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=60))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self):
        if self.enabled:
            if self.device.type == 'cuda':
                torch.distributed.barrier(device_ids=[self.device.index])
            else:
                torch.distributed.barrier()

    def mean(self, values: List[float]) -> List[float]:
        if not self.enabled:
            return values
        t = torch.tensor(
            values, dtype=torch.float64 if self.device.type == 'cpu' else torch.float32, device=self.device
        )
        torch.distributed.all_reduce(t)
        return (t / self.world).tolist()

    def close(self):
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
