"""What a run reports as it goes: log.jsonl lines (JSON, with the wall clock) and a progress bar on stderr; a run
trained in stretches (each a new run started with --init from the previous one's end) joined into one.

    python3 -m training.lors_studio.runlog join OUT_DIR RUN_DIR [RUN_DIR ...]   # OUT_DIR/log.jsonl + summary.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import List, Optional, Tuple


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


def join_stretches(logs: List[List[dict]], summaries: List[dict]) -> Tuple[List[dict], dict]:
    """One log and summary from runs that continue each other: steps and epochs of stretch i count on from the end of
    stretch i - 1, every record gets 'stretch': i, and a later stretch's epoch 0 (its --init weights evaluated, i.e.
    the previous stretch's end again) is dropped. The summary's best is the best of the stretches' bests (the later one
    on a tie), with its epoch counted on and its stretch ('best_stretch': whose export holds it)."""
    rows, step0, epoch0 = [], 0, 0
    summary = {'steps': 0, 'wall_s': 0.0, 'stretches': len(logs)}
    for i, (log, s) in enumerate(zip(logs, summaries)):
        for r in log:
            if i > 0 and r.get('type') == 'epoch' and r.get('epoch') == 0:
                continue
            r = {**r, 'stretch': i}
            if 'step' in r:
                r['step'] += step0
            if 'epoch' in r:
                r['epoch'] += epoch0
            rows.append(r)
        if s.get('best_epoch') is not None and s.get('best', -1.0) >= summary.get('best', -1.0):
            summary.update({k: v for k, v in s.items() if k not in ('steps', 'wall_s')})
            summary.update(best_epoch=s['best_epoch'] + epoch0, best_stretch=i)
        summary['steps'] += s['steps']
        summary['wall_s'] = round(summary['wall_s'] + s['wall_s'], 1)
        step0 += s['steps']
        epoch0 = max((r['epoch'] for r in rows if r.get('type') == 'epoch'), default=epoch0)
    return rows, summary


def _read(path: str):
    with open(path, encoding='utf-8') as f:
        return json.load(f) if path.endswith('.json') else [json.loads(x) for x in f if x.strip()]


if __name__ == '__main__':
    if len(sys.argv) < 4 or sys.argv[1] != 'join':
        sys.exit('usage: python3 -m training.lors_studio.runlog join OUT_DIR RUN_DIR [RUN_DIR ...]')
    out, runs = sys.argv[2], sys.argv[3:]
    rows, summary = join_stretches(
        [_read(os.path.join(r, 'log.jsonl')) for r in runs], [_read(os.path.join(r, 'summary.json')) for r in runs]
    )
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'log.jsonl'), 'w', encoding='utf-8') as f:
        f.writelines(json.dumps(r) + '\n' for r in rows)
    with open(os.path.join(out, 'summary.json'), 'w', encoding='utf-8') as f:
        f.write(json.dumps({**summary, 'joined': runs}, indent=1) + '\n')
    print(f'{out}: {len(runs)} stretches, {summary["steps"]} steps, best epoch {summary.get("best_epoch")}')
