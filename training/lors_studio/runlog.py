"""What a run reports as it goes: log.jsonl lines (JSON, with the wall clock) and a progress bar on stderr."""

from __future__ import annotations

import json
import sys
import time
from typing import Optional


class RunLog:
    """Appends JSON lines to a file (none: a no-op, e.g. on the ranks other than 0); each gets 'time', the wall clock
    in unix seconds (run time = last − first)."""

    def __init__(self, path: Optional[str], mode: str = 'a'):
        self.f = open(path, mode, encoding='utf-8') if path else None

    def __call__(self, rec: dict) -> None:
        if self.f is not None:
            self.f.write(json.dumps({**rec, 'time': round(time.time(), 3)}) + '\n')
            self.f.flush()

    def close(self) -> None:
        if self.f is not None:
            self.f.close()


class Progress:
    """A bar with ETA on stderr: redrawn in place on a tty, else one line per 30 s (and at the end)."""

    def __init__(self, total: int, desc: str = '', enabled: bool = True, stream=None):
        self.total, self.desc, self.enabled = max(total, 1), desc, enabled
        self.stream = stream or sys.stderr
        self.n, self.t0, self.last = 0, time.time(), 0.0
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()

    def update(self, n: int = 1, **info):
        self.n += n
        now = time.time()
        if not self.enabled or (self.n < self.total and now - self.last < (0.5 if self.tty else 30.0)):
            return
        self.last, rate = now, (now - self.t0) / self.n
        eta = int(rate * max(0, self.total - self.n))
        fill = 24 * min(self.n, self.total) // self.total
        extra = ' '.join(f'{k} {v:.4g}' if isinstance(v, float) else f'{k} {v}' for k, v in info.items())
        line = (
            f'{self.desc} [{"#" * fill}{"-" * (24 - fill)}] {self.n}/{self.total} {rate:.2f}s/it '
            f'ETA {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d} {extra}'
        )
        self.stream.write(
            ('\r' + line + '\x1b[K' + ('\n' if self.n >= self.total else '')) if self.tty else line + '\n'
        )
        self.stream.flush()

    def close(self):
        if self.enabled and self.tty and self.n < self.total:
            self.stream.write('\n')
