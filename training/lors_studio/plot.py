"""Loss and val-AP curves from a run's JSONL log → PNG (matplotlib, Agg; a run joined from stretches, runlog.py,
gets a dotted line where each stretch starts); the AP-vs-parameters curves of the live-compression grid
(compress.py grid) → PNG.

    python3 -m training.lors_studio.plot RUN_DIR/log.jsonl [OUT.png]
    python3 -m training.lors_studio.plot --compression public/models/compression.json OUT.png

matplotlib is imported inside the plotting functions only: an optional, heavy dependency that training runs with
--no-plot (and the GPU machine) never load.
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional


def read_log(path: str) -> List[dict]:
    rows = []
    with open(path, 'r', encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def _smooth(v: List[float], n: int) -> List[float]:
    out, acc, q = [], 0.0, []
    for x in v:
        q.append(x)
        acc += x
        if len(q) > n:
            acc -= q.pop(0)
        out.append(acc / len(q))
    return out


def plot_curves(log_path: str, out_png: str, title: Optional[str] = None) -> str:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = read_log(log_path)
    steps = [r for r in rows if r.get('type') == 'step']
    epochs = [r for r in rows if r.get('type') == 'epoch']
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    if steps:
        xs = [r['step'] for r in steps]
        n = max(1, len(steps) // 50)
        for key, style in (
            ('loss', '-'),
            ('loss_cls', '--'),
            ('loss_l1', ':'),
            ('loss_giou', '-.'),
            ('loss_distill', (0, (1, 3))),
        ):
            if key in steps[0]:
                ax1.plot(xs, _smooth([r[key] for r in steps], n), linestyle=style, label=key)
        ax1.set_yscale('log')
    ax1.set_xlabel('step')
    ax1.set_ylabel('training loss (sum over stages)')
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    split_style = (('holdout', '-'), ('val', '--'))  # the checkpoint is chosen on holdout when there is one
    plotted = False
    for split, line in split_style:
        pts = [r for r in epochs if isinstance(r.get(split), dict) and r[split].get('AP', -1) >= 0]
        if not pts:
            continue
        xs = [r['epoch'] for r in pts]
        keys = ('AP',) if any(isinstance(r.get('holdout'), dict) for r in epochs) else ('AP', 'AP50', 'AP75')
        for key in keys:
            ax2.plot(xs, [r[split][key] for r in pts], 'o' + line, label=f'{split} {key}')
        plotted = True
    for i in range(1, 1 + max((r.get('stretch', 0) for r in rows), default=0)):  # runlog.join_stretches
        for ax, kind in ((ax1, 'step'), (ax2, 'epoch')):
            ends = [r[kind] for r in (steps if kind == 'step' else epochs) if r.get('stretch') == i - 1]
            if ends:
                ax.axvline(max(ends), color='#888', ls=':', lw=1, label='next stretch' if i == 1 else None)
    if plotted:
        ax2.legend(fontsize=8)
    else:
        ax2.text(0.5, 0.5, 'no validation', ha='center', va='center', transform=ax2.transAxes)
    ax2.set_xlabel('epoch')
    ax2.set_ylabel('AP (%)')
    ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def plot_compression(json_path: str, out_png: str) -> str:
    """Val AP against decoder parameters (log x) for the slices of both sources; offline-only points hollow."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    with open(json_path, 'r', encoding='utf-8') as f:
        d = json.load(f)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for key, colour, label in (
        ('trained', '#c2410c', 'trained LORS, sliced'),
        ('compressed', '#2563eb', 'vanilla compressed to LORS, sliced'),
    ):
        pts = sorted(d.get(key, []), key=lambda p: p['decoderParams'])
        if not pts:
            continue
        ax.plot([p['decoderParams'] / 1e6 for p in pts], [p['AP'] for p in pts], '-', color=colour, alpha=0.6)
        for p in pts:
            ax.plot(
                p['decoderParams'] / 1e6,
                p['AP'],
                'o',
                color=colour,
                markerfacecolor=colour if p.get('shipped', True) else 'white',
            )
        ax.plot([], [], 'o-', color=colour, label=label)
    ref = d.get('reference', {})
    if 'vanilla' in ref:
        ax.axhline(ref['vanilla']['AP'], color='#555', ls='--', lw=1)
        ax.axhline(ref['vanilla']['AP'] - 1, color='#555', ls=':', lw=1)
        ax.plot(
            ref['vanilla']['decoderParams'] / 1e6,
            ref['vanilla']['AP'],
            's',
            color='#111',
            label=f'vanilla ({ref["vanilla"]["AP"]:.1f} AP; dotted: -1 AP)',
        )
    ax.set_xscale('log')
    from matplotlib.ticker import FormatStrFormatter

    ax.xaxis.set_major_formatter(FormatStrFormatter('%.1f'))
    ax.xaxis.set_minor_formatter(FormatStrFormatter('%.1f'))
    ax.tick_params(axis='x', which='minor', labelsize=7)
    ax.set_xlabel('decoder parameters (M, log scale)')
    ax.set_ylabel('val AP (%)')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=8)
    ax.set_title(f'{d.get("images", "?")} val images; hollow: offline only (beyond the shipped export)', fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == '--compression':
        print(plot_compression(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else 'compression.png'))
        sys.exit(0)
    if len(sys.argv) < 2:
        sys.exit('usage: python3 -m training.lors_studio.plot LOG.jsonl [OUT.png]')
    print(plot_curves(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else sys.argv[1].rsplit('.', 1)[0] + '.png'))
