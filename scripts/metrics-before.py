"""Keeps the figures of the decoders shipped before a fine-tune in public/models/metrics.json (used by
scripts/ship-decoders.sh): each decoder gets "before" (their metrics and training), keeps cpuRecipe /
withoutQueryInit, and training.stepSeconds (the run's summed step times: a resumed run's wall clock has gaps).

    python3 scripts/metrics-before.py public/models/metrics.json OLD_metrics.json RUNS [NOTE]

NOTE (optional) is appended to metrics.json's notes: how the shipped decoders came from the ones before.
"""

import json
import sys

path, before_path, runs = sys.argv[1:4]
with open(path, encoding='utf-8') as f:
    new = json.load(f)
with open(before_path, encoding='utf-8') as f:
    old = json.load(f)
for k in ('vanilla', 'lors'):
    o, n = old['models'][k], new['models'][k]
    n['before'] = {'metrics': o['metrics'], 'training': o['training']}
    n.update({key: o[key] for key in ('cpuRecipe', 'withoutQueryInit') if key in o})
    with open(f'{runs}/{k}/log.jsonl', encoding='utf-8') as f:
        steps = [r for r in map(json.loads, f) if r.get('type') == 'step']
    every = steps[1]['step'] - steps[0]['step'] if len(steps) > 1 else 1
    n['training']['stepSeconds'] = round(sum(r['s_per_step'] for r in steps) * every, 1)
if len(sys.argv) > 4:
    new['notes'].append(sys.argv[4])
with open(path, 'w', encoding='utf-8') as f:
    f.write(json.dumps(new, indent=1) + '\n')
